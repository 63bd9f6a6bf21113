// The reconnecting client against a real server process (hbt_fault_peer echo-server) that is
// killed, frozen and restarted on the same port: what tests/test_reconnect.cpp checks in
// virtual time over in-memory streams, here with the kernel's own behaviour (a refused connect,
// a listen backlog that accepts for a stopped process, a reset from a killed one).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include "fault_support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using hbf::clock;
using hbf::ms;
using tcp = asio::ip::tcp;
using error_code = std::error_code;
using client_type = heartbeat::reconnecting_client<tcp::socket>;
using kind = heartbeat::reconnect_event::kind;

/// A port nobody listens on now (the server binds it with SO_REUSEADDR).
unsigned short free_port(asio::io_context& ioc) {
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

hbf::child_process start_server(unsigned short port) {
    return hbf::child_process(
        {hbf::peer_path(), "echo-server", "127.0.0.1", std::to_string(port), "50", "60000"});
}

struct event_record {
    heartbeat::reconnect_event event;
    clock::time_point when;
};

/// A client on 127.0.0.1:port with the events, frames and end it saw.
struct client_fixture {
    client_fixture(asio::io_context& ioc, unsigned short port,
                   const heartbeat::reconnect_options& ro, const heartbeat::options& so)
        : client(
              ioc.get_executor(),
              [&ioc, port](heartbeat::connect_handler<tcp::socket> done) {
                  auto socket = std::make_shared<tcp::socket>(ioc);
                  auto slot = done.get_cancellation_slot();
                  socket->async_connect(
                      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                      asio::bind_cancellation_slot(
                          slot, [socket, done = std::move(done)](error_code ec) mutable {
                              std::move(done)(ec, std::move(*socket));
                          }));
              },
              ro, so) {
        client.set_observer([this](const heartbeat::reconnect_event& e) {
            events.push_back({e, clock::now()});
        });
        client.async_run([this](error_code ec) {
            ended = true;
            end_reason = ec;
        });
        receive();
    }

    void receive() {
        client.async_receive([this](error_code ec, std::string frame) {
            if (ec)
                return;
            frames.push_back(std::move(frame));
            receive();
        });
    }

    std::size_t count(kind k) const {
        std::size_t n = 0;
        for (const auto& r : events)
            n += r.event.what == k;
        return n;
    }
    const event_record* last(kind k) const {
        for (auto it = events.rbegin(); it != events.rend(); ++it)
            if (it->event.what == k)
                return &*it;
        return nullptr;
    }

    client_type client;
    std::vector<event_record> events;
    std::vector<std::string> frames;
    bool ended = false;
    error_code end_reason;
};

heartbeat::reconnect_options fast_backoff() {
    heartbeat::reconnect_options ro;
    ro.initial_backoff = 100ms;
    ro.backoff_multiplier = 2;
    ro.max_backoff = 400ms;
    ro.connect_timeout = 2s;
    return ro;
}

heartbeat::options session_options() {
    heartbeat::options o;
    o.ping_interval = 50ms;
    o.read_timeout = 300ms;
    return o;
}

} // namespace

TEST_CASE("a reconnecting client rides out its server killed and restarted on the same port, "
          "losing no queued line",
          "[faults][process]") {
    hbf::timing back("reconnect, from the server's restart to connected");
    for (int run = 0; run < hbf::fault_runs(); ++run) {
        asio::io_context ioc;
        const unsigned short port = free_port(ioc);
        hbf::child_process server = start_server(port);
        REQUIRE(server.started());
        const auto ro = fast_backoff();
        client_fixture c(ioc, port, ro, session_options());

        // Up (the first attempts may find the server not listening yet: it backs off).
        REQUIRE(hbf::run_until(
            ioc, [&] { return c.client.connected(); }, 5s));
        for (const char* line : {"a1", "a2", "a3"})
            REQUIRE_FALSE(c.client.try_send(line));
        REQUIRE(hbf::run_until(
            ioc, [&] { return c.frames.size() == 3; }, 5s));
        hbf::run_for(ioc, 2 * ro.initial_backoff); // up long enough to count as a success

        // Killed: the kernel closes its sockets, the session ends at once.
        const auto kill_time = clock::now();
        REQUIRE(server.signal(SIGKILL));
        REQUIRE(server.wait(5s));
        REQUIRE(hbf::run_until(
            ioc, [&] { return c.count(kind::disconnected) == 1; }, 5s));
        CHECK(ms(c.last(kind::disconnected)->when - kill_time) <
              ms(session_options().read_timeout));

        // Down: what is sent waits in the client's queue, in order, and every send completes
        // once its session has it written.
        std::vector<error_code> sent;
        for (int i = 1; i <= 5; ++i)
            c.client.async_send("b" + std::to_string(i),
                                [&sent](error_code ec) { sent.push_back(ec); });
        hbf::run_for(ioc, 600ms); // refused attempts, each followed by a longer wait
        CHECK_FALSE(c.client.connected());
        CHECK(c.count(kind::connect_failed) >= 2);
        CHECK(c.last(kind::connect_failed)->event.error == asio::error::connection_refused);
        CHECK(sent.empty());

        // Back on the same port: the client connects within the longest wait, then delivers.
        const auto restart = clock::now();
        server = start_server(port);
        REQUIRE(server.started());
        REQUIRE(hbf::run_until(
            ioc, [&] { return c.frames.size() == 8; }, 5s));
        const auto* connected = c.last(kind::connected);
        REQUIRE(connected);
        const double back_ms = ms(connected->when - restart);
        back.add(back_ms);
        CHECK(back_ms <= ms(ro.max_backoff) + 250);
        CHECK(c.frames == std::vector<std::string>{"a1", "a2", "a3", "b1", "b2", "b3", "b4", "b5"});
        REQUIRE(hbf::run_until(
            ioc, [&] { return sent.size() == 5; }, 5s));
        CHECK(sent == std::vector<error_code>(5));

        // Every wait stayed within its bound, min(max, initial x 2^n), n counting from the
        // start and again from the end of the session that was a success.
        std::size_t n = 0;
        for (const auto& r : c.events) {
            if (r.event.what == kind::disconnected)
                n = 0;
            if (r.event.what != kind::backing_off)
                continue;
            const auto bound = std::min<std::chrono::milliseconds>(
                ro.max_backoff, ro.initial_backoff * (1 << std::min<std::size_t>(n, 10)));
            CHECK(r.event.delay <= bound);
            ++n;
        }
        CHECK(c.count(kind::disconnected) == 1);

        c.client.close();
        REQUIRE(hbf::run_until(
            ioc, [&] { return c.ended; }, 5s));
        CHECK(c.end_reason == asio::error::operation_aborted);
        CHECK(hbf::drain(ioc));
    }
    back.print();
}

TEST_CASE("a reconnecting client against a frozen server: each session the kernel accepts for it "
          "ends with timeout, and the client is back once the server resumes",
          "[faults][process]") {
    asio::io_context ioc;
    const unsigned short port = free_port(ioc);
    hbf::child_process server = start_server(port);
    REQUIRE(server.started());
    const auto ro = fast_backoff();
    const auto so = session_options();
    client_fixture c(ioc, port, ro, so);
    REQUIRE(hbf::run_until(
        ioc, [&] { return c.client.connected(); }, 5s));
    REQUIRE_FALSE(c.client.try_send("before"));
    REQUIRE(hbf::run_until(
        ioc, [&] { return c.frames.size() == 1; }, 5s));

    // Frozen: its listen backlog still completes our connects, but nobody ever answers.
    const auto freeze = clock::now();
    REQUIRE(server.signal(SIGSTOP));
    hbf::run_for(ioc, 2500ms);
    const auto* first_end = c.last(kind::disconnected);
    REQUIRE(first_end);
    std::size_t ends = 0;
    for (const auto& r : c.events) {
        if (r.event.what != kind::disconnected)
            continue;
        INFO("session end " << ends << ": " << r.event.error.message());
        CHECK(r.event.error == heartbeat::error::timeout);
        if (ends++ == 0) { // the first one detected the freeze within read_timeout
            CHECK(ms(r.when - freeze) >= ms(so.read_timeout - so.ping_interval) - 5);
            CHECK(ms(r.when - freeze) <= ms(so.read_timeout + so.ping_interval) + 150);
        }
    }
    // Each later session lasted read_timeout plus a wait: a handful, not a busy loop. None of
    // them heard from the peer, so none was a success: the waits' run never starts over.
    std::size_t previous = 0;
    for (const auto& r : c.events) {
        if (r.event.what != kind::backing_off || r.when < freeze)
            continue;
        CHECK(r.event.attempt == previous + 1);
        previous = r.event.attempt;
    }
    CHECK(previous >= 2);
    CHECK(ends >= 2);
    CHECK(ends <= static_cast<std::size_t>(2500 / so.read_timeout.count()) + 1);
    CHECK(c.frames.size() == 1);

    // Resumed: the session of the moment (or the next) hears from it; lines go through again.
    const auto resume = clock::now();
    REQUIRE(server.signal(SIGCONT));
    std::vector<error_code> sent;
    c.client.async_send("after", [&sent](error_code ec) { sent.push_back(ec); });
    // A line handed to a session that dies before it is written is not sent again (at most
    // once): resend until one echo comes back, as an application would after a reconnect.
    bool echoed = hbf::run_until(
        ioc, [&] { return c.frames.size() == 2; }, so.read_timeout + ro.max_backoff + 1s);
    if (!echoed) {
        REQUIRE_FALSE(c.client.try_send("after"));
        echoed = hbf::run_until(
            ioc, [&] { return c.frames.size() == 2; }, 2s);
    }
    REQUIRE(echoed);
    CHECK(c.frames.back() == "after");
    CHECK(ms(clock::now() - resume) <= ms(so.read_timeout + ro.max_backoff) + 1000);

    c.client.close();
    REQUIRE(hbf::run_until(
        ioc, [&] { return c.ended; }, 5s));
    CHECK(c.end_reason == asio::error::operation_aborted);
}
