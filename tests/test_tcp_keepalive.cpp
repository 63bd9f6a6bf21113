// heartbeat/tcp_keepalive.hpp: kernel keepalive and TCP_USER_TIMEOUT on a real socket.
#include "support.hpp"

#include <heartbeat/tcp_keepalive.hpp>

#if !defined(_WIN32)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

using namespace hbt;

namespace {

#if !defined(_WIN32)
int read_option(tcp::socket& s, int level, int name) {
    int value = -1;
    socklen_t size = sizeof value;
    REQUIRE(::getsockopt(s.native_handle(), level, name, &value, &size) == 0);
    return value;
}
#endif

} // namespace

TEST_CASE("set_tcp_keepalive applies every option the platform has", "[tcp_keepalive][socket]") {
    asio::io_context ioc;
    auto pair = tcp_pair(ioc);
    heartbeat::tcp_keepalive_options opts;
    opts.idle = std::chrono::seconds(7);
    opts.interval = std::chrono::seconds(3);
    opts.probes = 4;
    opts.user_timeout = std::chrono::milliseconds(12000);
    error_code ec;
    const auto applied = heartbeat::set_tcp_keepalive(pair.a, opts, ec);
    REQUIRE_FALSE(ec);
    CHECK(applied.keepalive);
    asio::socket_base::keep_alive keep_alive;
    pair.a.get_option(keep_alive);
    CHECK(keep_alive.value());
#if defined(__linux__)
    CHECK(applied.idle);
    CHECK(applied.interval);
    CHECK(applied.probes);
    CHECK(applied.user_timeout);
    CHECK(read_option(pair.a, IPPROTO_TCP, TCP_KEEPIDLE) == 7);
    CHECK(read_option(pair.a, IPPROTO_TCP, TCP_KEEPINTVL) == 3);
    CHECK(read_option(pair.a, IPPROTO_TCP, TCP_KEEPCNT) == 4);
    CHECK(read_option(pair.a, IPPROTO_TCP, TCP_USER_TIMEOUT) == 12000);
#endif
    // The other end was left alone.
    asio::socket_base::keep_alive other;
    pair.b.get_option(other);
    CHECK_FALSE(other.value());
}

TEST_CASE("set_tcp_keepalive with zero idle leaves keepalive off", "[tcp_keepalive][socket]") {
    asio::io_context ioc;
    auto pair = tcp_pair(ioc);
    heartbeat::tcp_keepalive_options opts;
    opts.interval = std::chrono::seconds(3); // ignored without idle
    opts.user_timeout = std::chrono::milliseconds(5000);
    error_code ec;
    const auto applied = heartbeat::set_tcp_keepalive(pair.a, opts, ec);
    REQUIRE_FALSE(ec);
    CHECK_FALSE(applied.keepalive);
    CHECK_FALSE(applied.idle);
    CHECK_FALSE(applied.interval);
    asio::socket_base::keep_alive keep_alive;
    pair.a.get_option(keep_alive);
    CHECK_FALSE(keep_alive.value());
#if defined(__linux__)
    CHECK(applied.user_timeout);
    CHECK(read_option(pair.a, IPPROTO_TCP, TCP_USER_TIMEOUT) == 5000);
#endif
    // Nothing at all: nothing applied, no error.
    const auto none = heartbeat::set_tcp_keepalive(pair.b, heartbeat::tcp_keepalive_options{}, ec);
    CHECK_FALSE(ec);
    CHECK_FALSE(none.keepalive);
    CHECK_FALSE(none.user_timeout);
}

TEST_CASE("set_tcp_keepalive reports the error on a closed socket", "[tcp_keepalive][socket]") {
    asio::io_context ioc;
    tcp::socket closed(ioc);
    heartbeat::tcp_keepalive_options opts;
    opts.idle = std::chrono::seconds(5);
    error_code ec;
    const auto applied = heartbeat::set_tcp_keepalive(closed, opts, ec);
    CHECK(ec);
    CHECK_FALSE(applied.keepalive);
    CHECK_FALSE(applied.idle);
}

TEST_CASE("a session still runs over a socket with keepalive set", "[tcp_keepalive][socket]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::tcp_keepalive_options opts;
    opts.idle = std::chrono::seconds(10);
    opts.interval = std::chrono::seconds(2);
    opts.probes = 3;
    error_code ec;
    heartbeat::set_tcp_keepalive(pair.a, opts, ec);
    REQUIRE_FALSE(ec);
    auto a = std::make_shared<line_session>(std::move(pair.a), test_options());
    line_session b(std::move(pair.b), test_options());
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b.async_run(run_b.handler());
    collector<line_session> got(a);
    b.async_send("over keepalive", [](error_code) {});
    REQUIRE(run_until(ioc, [&] { return got.size() == 1 || run_a.done(); }));
    CHECK(got.frames() == std::vector<std::string>{"over keepalive"});
    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
}
