// The peer-judging extras of heartbeat_session: the health observer (suspect before dead), the
// PING-flood guard (min_peer_ping_interval) and the RTT-adaptive read deadline.
#include "support.hpp"

using namespace hbt;

namespace {

struct health_event {
    heartbeat::health state;
    clock::time_point when;
};

} // namespace

TEST_CASE("the health observer reports suspect before dead and healthy on recovery",
          "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 30ms;
    o.read_timeout = 400ms; // suspect after 200 ms of silence, dead after 400 ms
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    std::vector<health_event> events;
    clock::time_point first_silence{}, second_silence{};
    // The peer speaks again once the session reported it suspect, not after a guessed time:
    // a late timer cannot turn "suspect" into "dead" (200 ms stand between the two). PINGs
    // 20 ms apart are ten times closer than the suspect moment.
    // Each silence is timed just before the last PING is written: the session reads it after
    // that, so the time is a true lower bound (the write's completion may run late).
    peer.repeat("PING\n", 20ms, 4)
        .wait(20ms)
        .call([&] { first_silence = clock::now(); })
        .write("PING\n")
        .wait_until([&] { return !events.empty(); }) // suspect, not dead
        .repeat("PING\n", 20ms, 4)
        .wait(20ms)
        .call([&] { second_silence = clock::now(); })
        .write("PING\n") // then silent for good
        .start();
    peer.start_reading();
    s.set_health_observer([&events](heartbeat::health h) { events.push_back({h, clock::now()}); });
    outcome run;
    s.async_run(run.handler());
    bool suspect_seen_in_statistics = false;
    REQUIRE(run_until(ioc, [&] {
        suspect_seen_in_statistics = suspect_seen_in_statistics || s.statistics().suspect;
        return run.done();
    }));
    CHECK(run.ec() == heartbeat::error::timeout);
    REQUIRE(events.size() == 3u);
    CHECK(events[0].state == heartbeat::health::suspect);
    CHECK(events[1].state == heartbeat::health::healthy);
    CHECK(events[2].state == heartbeat::health::suspect);
    const long long first = ms_between(first_silence, events[0].when);
    const long long second = ms_between(second_silence, events[2].when);
    CHECK(first >= not_before(o.read_timeout / 2));
    CHECK(first <= not_much_after(o.read_timeout / 2));
    CHECK(second >= not_before(o.read_timeout / 2));
    CHECK(events[2].when < run.when());
    CHECK(suspect_seen_in_statistics);
    CHECK(std::string(heartbeat::to_string(heartbeat::health::suspect)) == "suspect");
    CHECK(std::string(heartbeat::to_string(heartbeat::health::healthy)) == "healthy");
}

TEST_CASE("a health observer may close the session", "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.read_timeout = 400ms; // suspect after 200 ms of silence
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b)); // silent
    int calls = 0;
    s.set_health_observer([&](heartbeat::health h) {
        ++calls;
        if (h == heartbeat::health::suspect)
            s.close(); // make-before-break, done: drop the old one
    });
    outcome run;
    const auto t0 = clock::now();
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(calls == 1);
    // Closed at the suspect moment: not before it, and before the read deadline (200 ms later,
    // room for a late timer), which would have ended the run with timeout anyway.
    CHECK(ms_between(t0, run.when()) >= not_before(o.read_timeout / 2));
    CHECK(ms_between(t0, run.when()) < ms(o.read_timeout));
}

TEST_CASE("a health observer may send, and the send completes after it returns",
          "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 0ms;
    o.read_timeout = 400ms; // suspect after 200 ms of silence, dead after 400 ms
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    bool suspect = false;
    // Suspect, then healthy again from a read: the peer waits for the suspect report itself,
    // so a late timer cannot make it miss the 200 ms before the read deadline.
    peer.wait_until([&] { return suspect; }).write("PING\n").start();
    peer.start_reading();
    outcome sent;
    s.set_health_observer([&](heartbeat::health h) {
        suspect = suspect || h == heartbeat::health::suspect;
        // Observed from inside the session's read handler: the written bytes of this send
        // must still complete it later, never from inside this initiating function.
        if (h == heartbeat::health::healthy)
            initiate([&] { s.async_send("recovered", sent.handler()); });
    });
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return sent.done() || run.done(); }));
    CHECK(sent.ec() == error_code());
    CHECK_FALSE(sent.was_inline());
    REQUIRE(run_until(ioc, [&] { return count_of(peer.received(), "recovered\n") == 1u; }));
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("a PING flood ends the session with ping_flood when min_peer_ping_interval is set",
          "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.min_peer_ping_interval = 20ms;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    std::string flood;
    for (int i = 0; i < 50; ++i)
        flood += "PING\n";
    peer.write(flood).start();
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::ping_flood);
    // A few early PINGs are forgiven; a run of them is not.
    CHECK(s.statistics().pings_received >= 2u);
    CHECK(s.statistics().pings_received < 50u);
}

TEST_CASE("PINGs at a sane rate, or any rate when unguarded, are not a flood",
          "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto paced_pair = tcp_pair(ioc);
    auto unguarded_pair = tcp_pair(ioc);
    heartbeat::options guarded = test_options();
    // The flooding peer is silent after ~100 ms: a read deadline far past the 350 ms below, so
    // that only a (wrong) ping_flood could end either run, not a late end of run_for.
    guarded.read_timeout = 1000ms;
    guarded.min_peer_ping_interval = 10ms;
    heartbeat::options unguarded = guarded;
    unguarded.min_peer_ping_interval = 0ms;
    line_session paced(std::move(paced_pair.a), guarded);
    line_session open(std::move(unguarded_pair.a), unguarded);
    raw_peer paced_peer(std::move(paced_pair.b));
    raw_peer flooding_peer(std::move(unguarded_pair.b));
    paced_peer.repeat("PING\n", 40ms, 8).start();
    std::string flood;
    for (int i = 0; i < 200; ++i)
        flood += "PING\n";
    flooding_peer.write(flood).wait(100ms).write(flood).start();
    paced_peer.start_reading();
    flooding_peer.start_reading();
    outcome paced_run, open_run;
    paced.async_run(paced_run.handler());
    open.async_run(open_run.handler());
    run_for(ioc, 350ms, [&] { return paced_run.done() || open_run.done(); });
    CHECK_FALSE(paced_run.done());
    CHECK_FALSE(open_run.done());
    CHECK(paced.statistics().pings_received >= 4u);
    CHECK(open.statistics().pings_received == 400u);
    // PONGs are coalesced: far fewer than the PINGs of the flood.
    CHECK(open.statistics().pongs_sent >= 1u);
    CHECK(open.statistics().pongs_sent < 400u);
    paced.close();
    open.close();
    REQUIRE(run_until(ioc, [&] { return paced_run.done() && open_run.done(); }));
}

TEST_CASE("the RTT-adaptive read deadline detects a silent peer well before read_timeout",
          "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto adaptive_pair = tcp_pair(ioc);
    auto fixed_pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 50ms;
    o.read_timeout = 1000ms;
    heartbeat::options adaptive_options = o;
    // The peers below run on the session's own loop: a late timer there delays their PONGs
    // (gaps of 20 ms become 100 ms and more on a loaded machine) without our loop stalling long
    // enough to be noticed. A floor of 250 ms, over ten of the peer's intervals, keeps such a
    // gap from being judged a dead peer while it talks; it is still a quarter of read_timeout.
    adaptive_options.adaptive_read_timeout_floor = 250ms;
    line_session adaptive(std::move(adaptive_pair.a), adaptive_options);
    line_session fixed(std::move(fixed_pair.a), o); // the control
    // Each peer talks steadily (a PONG every 20 ms answers the session's PINGs) for a bit more
    // than one read_timeout, which the adaptive deadline needs as evidence; then goes silent.
    raw_peer adaptive_peer(std::move(adaptive_pair.b));
    raw_peer fixed_peer(std::move(fixed_pair.b));
    adaptive_peer.repeat("PONG\n", 20ms, 60).start();
    fixed_peer.repeat("PONG\n", 20ms, 60).start();
    adaptive_peer.start_reading();
    fixed_peer.start_reading();
    outcome adaptive_run, fixed_run;
    adaptive.async_run(adaptive_run.handler());
    fixed.async_run(fixed_run.handler());

    REQUIRE(run_until(
        ioc, [&] { return adaptive_run.done(); }, scaled(4s)));
    CHECK(adaptive_run.ec() == heartbeat::error::timeout);
    REQUIRE(adaptive_peer.script_done());
    const long long after_silence = ms_between(adaptive_peer.last_write(), adaptive_run.when());
    INFO("adaptive deadline hit " << after_silence << " ms after the peer's last byte; srtt "
                                  << ms(adaptive.statistics().smoothed_rtt) << " ms");
    CHECK(after_silence >= ms(adaptive_options.adaptive_read_timeout_floor) - 1);
    // Well before read_timeout: without the adaptive deadline the run would end 1000 ms after
    // the silence; 750 ms leaves the expected ~300 ms (floor plus a few round trips) the usual
    // late slack and more.
    CHECK(after_silence < ms(o.read_timeout) * 3 / 4);
    // The control, with the fixed deadline, is still waiting for its read_timeout.
    CHECK_FALSE(fixed_run.done());
    CHECK(ms_since(fixed_peer.last_write()) < ms(o.read_timeout));
    fixed.close();
    REQUIRE(run_until(ioc, [&] { return fixed_run.done(); }));
    CHECK(fixed_run.ec() == asio::error::operation_aborted);
}

TEST_CASE("a health observer may replace or remove itself while it runs", "[session][health]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.read_timeout = 400ms; // suspect after 200 ms of silence, dead after 400 ms
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    std::vector<std::string> calls;
    // The peer speaks again once the first observer ran (the suspect report), not after a
    // guessed time that a late timer could stretch past the read deadline.
    peer.repeat("PING\n", 20ms, 3)
        .wait_until([&] { return !calls.empty(); })
        .repeat("PING\n", 20ms, 3)
        .start();
    peer.start_reading();
    // Each observer uses its captures after replacing itself: under AddressSanitizer a
    // destroyed std::function would show here.
    const std::string first_name(64, 'a'); // heap-allocated capture
    s.set_health_observer([&s, &calls, first_name](heartbeat::health) {
        s.set_health_observer([&s, &calls](heartbeat::health h) {
            s.set_health_observer(nullptr);
            calls.push_back(std::string("second:") + heartbeat::to_string(h));
        });
        calls.push_back(first_name.substr(0, 1) + ":first");
    });
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::timeout);
    // suspect (first), healthy (second, which removes itself), then nothing more.
    CHECK(calls == std::vector<std::string>{"a:first", "second:healthy"});
}
