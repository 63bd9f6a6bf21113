// heartbeat::statistics: heartbeat and round-trip figures, frame and byte counters.
#include "support.hpp"

using namespace hbt;

namespace {

/// Runs two sessions of type Session on a loopback pair: `a` pings, `b` only answers.
template <class Session>
void check_round_trips() {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options pinging = test_options();
    pinging.ping_interval = 20ms;
    pinging.read_timeout = 0ms;
    Session a(std::move(pair.a), pinging);
    Session b(std::move(pair.b), quiet_options());
    outcome run_a, run_b;
    a.async_run(run_a.handler());
    b.async_run(run_b.handler());
    REQUIRE(run_until(ioc, [&] { return a.statistics().pongs_received >= 5 || run_a.done(); }));
    CHECK_FALSE(run_a.done());

    const heartbeat::statistics sa = a.statistics();
    const heartbeat::statistics sb = b.statistics();
    CHECK(sa.pings_sent >= 5u);
    CHECK(sa.pongs_received >= 5u);
    CHECK(sa.pongs_received <= sa.pings_sent);
    CHECK(sa.last_rtt > heartbeat::statistics::duration::zero());
    CHECK(sa.smoothed_rtt > heartbeat::statistics::duration::zero());
    CHECK(sa.rtt_variance >= heartbeat::statistics::duration::zero());
    // Loopback: well under a millisecond normally; the bound only catches nonsense.
    CHECK(ms(sa.last_rtt) < ms(late_slack()));
    CHECK(ms(sa.smoothed_rtt) < ms(late_slack()));
    CHECK(sa.pings_received == 0u);
    CHECK(sa.pongs_sent == 0u);
    CHECK(sb.pings_sent == 0u);
    CHECK(sb.pongs_received == 0u);
    CHECK(sb.pings_received + 1 >= sa.pings_sent);
    CHECK(sb.pongs_sent <= sb.pings_received);
    CHECK(sb.pongs_sent >= sa.pongs_received);
    CHECK(sb.last_rtt == heartbeat::statistics::duration::zero());
    CHECK(sb.smoothed_rtt == heartbeat::statistics::duration::zero());
    // Heartbeats are not application frames.
    CHECK(sa.frames_sent == 0u);
    CHECK(sa.frames_received == 0u);
    CHECK(sb.frames_received == 0u);
    CHECK(sa.bytes_sent > 0u);
    CHECK(sb.bytes_received > 0u);

    a.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    // Every byte a counted as written, b read before the end of stream (one more may have
    // gone out as the session stopped).
    const auto fa = a.statistics();
    const auto fb = b.statistics();
    CHECK(fb.bytes_received >= fa.bytes_sent);
    CHECK(fb.bytes_received <= fa.bytes_sent + 2 * Session::framing_type::max_heartbeat_size);
    CHECK(fb.pings_received >= fa.pings_sent);
    CHECK(fb.pings_received <= fa.pings_sent + 1);
}

} // namespace

TEST_CASE("PING and PONG fill the statistics with line framing", "[statistics]") {
    check_round_trips<line_session>();
}

TEST_CASE("PING and PONG fill the statistics with length-prefixed ids", "[statistics]") {
    check_round_trips<lp_session>();
}

namespace {

/// A slow peer: answers each line (the session's PINGs) with "PONG" 40 ms later.
struct slow_peer {
    static constexpr std::chrono::milliseconds delay{40};
    explicit slow_peer(tcp::socket s)
        : socket(std::move(s))
        , timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer timer;
    std::string in;
};

void answer(const std::shared_ptr<slow_peer>& p) {
    asio::async_read_until(p->socket, asio::dynamic_buffer(p->in), '\n',
                           [p](error_code ec, std::size_t n) {
                               if (ec)
                                   return;
                               p->in.erase(0, n);
                               p->timer.expires_after(slow_peer::delay);
                               p->timer.async_wait([p](error_code wait_ec) {
                                   if (wait_ec)
                                       return;
                                   asio::async_write(p->socket, asio::buffer("PONG\n", 5),
                                                     [p](error_code write_ec, std::size_t) {
                                                         if (!write_ec)
                                                             answer(p);
                                                     });
                               });
                           });
}

} // namespace

TEST_CASE("the round trip time measures how long the peer takes to answer", "[statistics]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 100ms; // one PING outstanding at a time
    o.read_timeout = 0ms;
    line_session s(std::move(pair.a), o);
    auto peer = std::make_shared<slow_peer>(std::move(pair.b));
    const auto delay = slow_peer::delay;
    answer(peer);
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return s.statistics().pongs_received >= 2 || run.done(); }));
    CHECK_FALSE(run.done());
    const auto st = s.statistics();
    INFO("last_rtt " << ms(st.last_rtt) << " ms, smoothed " << ms(st.smoothed_rtt) << " ms");
    CHECK(ms(st.last_rtt) >= ms(delay) - 1);
    CHECK(ms(st.last_rtt) <= ms(delay) + ms(late_slack()));
    CHECK(ms(st.smoothed_rtt) >= ms(delay) - 1);
    CHECK(ms(st.smoothed_rtt) <= ms(delay) + ms(late_slack()));
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

namespace {

template <class Session>
void check_frame_counters(std::size_t overhead) {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto a = std::make_shared<Session>(std::move(pair.a), quiet_options());
    auto b = std::make_shared<Session>(std::move(pair.b), quiet_options());
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b->async_run(run_b.handler());
    collector<Session> got(b);
    std::uint64_t payload_bytes = 0;
    constexpr std::size_t count = 25;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string frame = pattern(i * 37, static_cast<unsigned>(i));
        payload_bytes += frame.size();
        a->async_send(frame, [](error_code) {});
    }
    REQUIRE(run_until(ioc, [&] { return got.size() == count || run_b.done(); }));
    REQUIRE(run_until(ioc, [&] { return a->statistics().frames_sent == count; }));
    const auto sa = a->statistics();
    const auto sb = b->statistics();
    CHECK(sa.frames_sent == count);
    CHECK(sa.bytes_sent == payload_bytes + count * overhead);
    CHECK(sb.frames_received == count);
    CHECK(sb.bytes_received == sa.bytes_sent);
    CHECK(sa.frames_received == 0u);
    CHECK(sa.bytes_received == 0u);
    CHECK(sb.frames_sent == 0u);
    CHECK(sb.bytes_sent == 0u);
    CHECK(sa.pings_sent + sa.pongs_sent + sb.pings_sent + sb.pongs_sent == 0u);
    CHECK(sa.last_rtt == heartbeat::statistics::duration::zero());
    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
}

} // namespace

TEST_CASE("frame and byte counters match what was sent, line framing", "[statistics]") {
    check_frame_counters<line_session>(1); // '\n'
}

TEST_CASE("frame and byte counters match what was sent, length-prefixed framing", "[statistics]") {
    check_frame_counters<lp_session>(5); // length and type
}

TEST_CASE("since_last_receive grows while the peer is silent and resets when it speaks",
          "[statistics]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    outcome run;
    s.async_run(run.handler());
    run_for(ioc, 100ms);
    CHECK(ms(s.statistics().since_last_receive) >= 99);
    const auto spoke = clock::now();
    peer.write("hi\n").start();
    REQUIRE(run_until(ioc, [&] { return s.statistics().frames_received == 1; }));
    // Counted from a byte read after `spoke`, however late the loop got to it: never more than
    // the time since then (without the reset it would be over 100 ms more).
    const auto since = s.statistics().since_last_receive;
    CHECK(ms(since) <= ms_since(spoke));
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("a fresh session reports zeroed statistics", "[statistics]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    const line_session s(std::move(pair.a), test_options());
    const auto st = s.statistics();
    CHECK(st.pings_sent == 0u);
    CHECK(st.pongs_received == 0u);
    CHECK(st.pings_received == 0u);
    CHECK(st.pongs_sent == 0u);
    CHECK(st.frames_received == 0u);
    CHECK(st.frames_sent == 0u);
    CHECK(st.bytes_received == 0u);
    CHECK(st.bytes_sent == 0u);
    CHECK(st.last_rtt == heartbeat::statistics::duration::zero());
    CHECK(st.smoothed_rtt == heartbeat::statistics::duration::zero());
    CHECK(st.stalls == 0u);
    CHECK(st.since_last_receive >= heartbeat::statistics::duration::zero());
    CHECK(ms(st.since_last_receive) < 1000);
}
