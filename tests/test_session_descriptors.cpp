// Sessions over POSIX descriptors other than TCP sockets: a pseudo-terminal (a serial line's
// stand-in: posix::stream_descriptor on both ends, raw mode) and a local socket pair. Each runs
// two sessions against each other: data both ways, PINGs answered, then a clean end. With
// ASIO_HAS_IO_URING (CI's io_uring stage) every read, write and wait here goes through io_uring.
#include "support.hpp"

#if defined(__unix__)
#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/posix/stream_descriptor.hpp>
#else
#include <asio/posix/stream_descriptor.hpp>
#endif

#include <pty.h>
#include <termios.h>
#include <unistd.h>
#endif

#include <functional>
#include <string>
#include <utility>
#include <vector>

using namespace hbt;

#if defined(__unix__)

namespace {

template <class Stream>
using session_over = heartbeat::heartbeat_session<Stream>;

/// Two sessions, `a` and `b`, over the two ends: `a` sends `count` frames, `b` echoes each;
/// both PING every 20 ms. Checks every echo came back in order and PINGs were answered both
/// ways, then closes both.
template <class Stream>
void talk(asio::io_context& ioc, Stream end_a, Stream end_b, int count) {
    heartbeat::options o = test_options();
    o.ping_interval = 20ms;
    session_over<Stream> a(std::move(end_a), o), b(std::move(end_b), o);
    outcome run_a, run_b;
    a.async_run(run_a.handler());
    b.async_run(run_b.handler());

    std::function<void()> echo = [&] {
        b.async_receive([&](error_code ec, std::string frame) {
            if (ec)
                return;
            b.async_send(std::move(frame), [&](error_code send_ec) {
                if (!send_ec)
                    echo();
            });
        });
    };
    echo();
    std::vector<std::string> back;
    std::function<void()> collect = [&] {
        a.async_receive([&](error_code ec, std::string frame) {
            if (ec)
                return;
            back.push_back(std::move(frame));
            collect();
        });
    };
    collect();
    for (int i = 0; i < count; ++i)
        a.async_send("frame " + std::to_string(i), [](error_code) {});

    REQUIRE(run_until(ioc, [&] {
        return static_cast<int>(back.size()) == count && a.statistics().pongs_received >= 3 &&
               b.statistics().pongs_received >= 3;
    }));
    CHECK_FALSE(run_a.done());
    CHECK_FALSE(run_b.done());
    for (int i = 0; i < count; ++i)
        CHECK(back[static_cast<std::size_t>(i)] == "frame " + std::to_string(i));

    a.close();
    b.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_a.ec() == asio::error::operation_aborted);
    CHECK(run_b.ec() == asio::error::operation_aborted);
}

} // namespace

TEST_CASE("two sessions talk over a pseudo-terminal (a serial line's stand-in)",
          "[session][descriptors]") {
    int master = -1, slave = -1;
    REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
    // Raw on both sides: no echo, no line editing, every byte passed as it is.
    for (int fd : {master, slave}) {
        termios t{};
        REQUIRE(::tcgetattr(fd, &t) == 0);
        ::cfmakeraw(&t);
        REQUIRE(::tcsetattr(fd, TCSANOW, &t) == 0);
    }
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    talk(ioc, asio::posix::stream_descriptor(ioc, master),
         asio::posix::stream_descriptor(ioc, slave), 200);
}

TEST_CASE("two sessions talk over a local socket pair", "[session][descriptors]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    asio::local::stream_protocol::socket x(ioc), y(ioc);
    asio::local::connect_pair(x, y);
    talk(ioc, std::move(x), std::move(y), 200);
}

#endif
