// What decides a timeout (detail/liveness.hpp) and the PING/RTT tracker (detail/ping_tracker.hpp),
// as pure logic in virtual time: every liveness rule, and the property that the wake-up the
// sentry asks for and what a wake-up finds due never disagree. No sockets, no sleeping.
#include "support.hpp"

#include <heartbeat/detail/liveness.hpp>
#include <heartbeat/detail/ping_tracker.hpp>

#include <random>

namespace {

using heartbeat::detail::liveness;
using heartbeat::detail::ping_tracker;
using due = liveness::due;
using tp = liveness::time_point;
using namespace std::chrono_literals;

/// A fixed origin on the tick grid, far from the clock's epoch.
const tp t0 = tp(std::chrono::hours(1000));

heartbeat::options base_options() {
    heartbeat::options o;
    o.ping_interval = 100ms;
    o.read_timeout = 300ms;
    o.idle_timeout = 0ms;
    o.write_timeout = 200ms;
    o.shutdown_timeout = 500ms;
    return o;
}

/// A liveness with its tracker and options, started at t0.
struct clocks {
    explicit clocks(heartbeat::options o = base_options(), bool ids = false)
        : opts(o)
        , pings(ids, o.min_peer_ping_interval)
        , live(opts, pings, 42) {
        live.started(t0);
    }
    heartbeat::options opts;
    ping_tracker pings;
    liveness live;

    /// What a wake-up exactly on time at `t` finds, without changing this object.
    due probe(tp t) const {
        liveness copy = live;
        return copy.wake(t, t);
    }
    /// A PING sent at `t`, written at once.
    void ping(tp t) {
        pings.ping_sent(t);
        live.ping_sent();
        live.write_started(t);
        live.write_done(t);
    }
};

} // namespace

TEST_CASE("liveness: the tick is 1/64 of the shortest clock, 1 to 16 ms, and wake-ups are on it",
          "[liveness]") {
    heartbeat::options o = base_options(); // shortest: 100 ms
    CHECK(liveness::tick_for(o) == std::chrono::nanoseconds(1562500));
    o.ping_interval = 0ms;
    o.write_timeout = 0ms;
    o.read_timeout = 0ms;
    CHECK(liveness::tick_for(o) == 16ms); // nothing set: 1024 ms / 64
    o.read_timeout = 10ms;
    CHECK(liveness::tick_for(o) == 1ms);
    const clocks c;
    const tp wake = c.live.next_wakeup();
    CHECK(wake.time_since_epoch() % c.live.tick() == liveness::duration::zero());
    CHECK(c.live.on_tick(wake) == wake);
}

TEST_CASE("liveness: the first PING comes after half to a whole interval, then every interval",
          "[liveness]") {
    clocks c;
    const tp first = c.live.next_wakeup();
    CHECK(first >= t0 + 50ms);
    CHECK(first <= t0 + 100ms + c.live.tick());
    CHECK(c.probe(first - 1ms) == due::nothing);
    REQUIRE(c.probe(first) == due::ping);
    c.ping(first);
    const tp second = c.live.next_wakeup();
    CHECK(second >= first + 95ms); // at most 5 % early
    CHECK(second <= first + 100ms + c.live.tick());
    // Any write of ours postpones the PING: the peer just heard from us.
    c.live.write_started(first + 50ms);
    c.live.write_done(first + 60ms);
    CHECK(c.live.next_wakeup() >= first + 60ms + 95ms);
}

TEST_CASE("liveness: a write in flight postpones PINGs and runs under write_timeout",
          "[liveness]") {
    clocks c;
    c.live.write_started(t0 + 10ms);
    CHECK(c.live.write_deadline() == t0 + 210ms);
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 210ms));
    CHECK(c.probe(t0 + 150ms) == due::nothing); // no PING while writing
    c.live.write_progressed(t0 + 150ms);        // progress pushes it back
    CHECK(c.probe(t0 + 300ms) == due::timeout); // (the read deadline, meanwhile)
    c.live.bytes_received(t0 + 300ms);
    CHECK(c.probe(t0 + 349ms) == due::nothing);
    CHECK(c.probe(t0 + 350ms) == due::write_timeout);
}

TEST_CASE("liveness: no byte for read_timeout is a timeout: any byte pushes it back",
          "[liveness]") {
    heartbeat::options o = base_options();
    o.ping_interval = 0ms;
    clocks c(o);
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 300ms));
    CHECK(c.probe(t0 + 299ms) == due::nothing);
    CHECK(c.probe(t0 + 300ms) == due::timeout);
    c.live.bytes_received(t0 + 250ms);
    CHECK(c.probe(t0 + 549ms) == due::nothing);
    CHECK(c.probe(t0 + 550ms) == due::timeout);
}

TEST_CASE("liveness: idle_timeout counts data frames only", "[liveness]") {
    heartbeat::options o = base_options();
    o.ping_interval = 0ms;
    o.idle_timeout = 400ms;
    clocks c(o);
    for (int i = 1; i <= 5; ++i) // heartbeats keep the read deadline, not the idle one
        c.live.bytes_received(t0 + i * 100ms);
    CHECK(c.probe(t0 + 399ms) == due::nothing);
    CHECK(c.probe(t0 + 400ms) == due::idle_timeout);
    c.live.frame_received(t0 + 300ms);
    CHECK(c.probe(t0 + 600ms) == due::nothing);
    CHECK(c.probe(t0 + 700ms) == due::idle_timeout);
}

TEST_CASE("liveness: the worst verdict comes first", "[liveness]") {
    heartbeat::options o = base_options();
    o.idle_timeout = 300ms;
    clocks c(o);
    c.live.write_started(t0);
    // At t0 + 400ms the write, read and idle deadlines have all passed.
    CHECK(c.probe(t0 + 400ms) == due::write_timeout);
    c.live.write_done(t0 + 1ms);
    CHECK(c.probe(t0 + 400ms) == due::timeout);
    c.live.bytes_received(t0 + 399ms);
    CHECK(c.probe(t0 + 400ms) == due::idle_timeout);
}

TEST_CASE("liveness: after a stall of our own loop, verdicts wait for a grace: PINGs do not",
          "[liveness]") {
    clocks c;
    c.live.bytes_received(t0 + 10ms);
    // The timer was set for t0 + 80ms and fires 500 ms late: the peer's bytes may sit unread.
    const tp late = t0 + 580ms;
    CHECK(c.live.wake(late, t0 + 80ms) == due::ping);
    c.ping(late);
    CHECK(c.live.stalls() == 1u);
    // Grace: max(50 ms, read_timeout / 4) = 75 ms, no RTT known yet.
    CHECK(c.probe(late + 74ms) == due::nothing);
    CHECK(c.probe(late + 75ms) == due::timeout);
    CHECK(c.live.next_wakeup() >= late + 75ms);
    // PINGs keep their interval during the grace.
    heartbeat::options o = base_options();
    o.read_timeout = 2000ms; // grace 500 ms, several PINGs long
    clocks d(o);
    CHECK(d.live.wake(t0 + 1000ms, t0 + 60ms) == due::ping);
    d.ping(t0 + 1000ms);
    const tp next = d.live.next_wakeup();
    CHECK(next <= t0 + 1100ms + d.live.tick());
    CHECK(d.probe(next) == due::ping);
}

TEST_CASE("liveness: while reading is paused the peer is not judged: after, from the resumption",
          "[liveness]") {
    heartbeat::options o = base_options();
    o.ping_interval = 0ms;
    o.idle_timeout = 300ms;
    clocks c(o);
    c.live.reading_paused();
    CHECK(c.live.next_wakeup() == tp::max()); // nothing to wait for
    CHECK(c.probe(t0 + 10s) == due::nothing);
    c.live.reading_resumed(t0 + 10s);
    // tests/BUGS.md #1: the deadlines apply again, counted from the resumption.
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 10s + 300ms));
    CHECK(c.probe(t0 + 10s + 299ms) == due::nothing);
    CHECK(c.probe(t0 + 10s + 300ms) == due::timeout);
}

TEST_CASE("liveness: after the peer's EOF, only the half-close bound and writes count",
          "[liveness]") {
    clocks c;
    c.live.peer_finished(t0 + 100ms);
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 600ms)); // shutdown_timeout; no PING
    CHECK(c.probe(t0 + 599ms) == due::nothing);                // no read verdict either
    CHECK(c.probe(t0 + 600ms) == due::half_close_ended);
    CHECK_FALSE(c.live.suspect(t0 + 10s));
    c.live.eof_taken();
    CHECK(c.live.next_wakeup() == tp::max());
    c.live.write_started(t0 + 700ms);
    CHECK(c.probe(t0 + 900ms) == due::write_timeout);
}

TEST_CASE("liveness: max_unanswered_pings ends it when the next PING is due", "[liveness]") {
    heartbeat::options o = base_options();
    o.read_timeout = 0ms;
    o.max_unanswered_pings = 2;
    clocks c(o);
    tp t = c.live.next_wakeup();
    REQUIRE(c.probe(t) == due::ping);
    c.ping(t);
    t = c.live.next_wakeup();
    REQUIRE(c.probe(t) == due::ping);
    c.ping(t);
    t = c.live.next_wakeup();
    CHECK(c.probe(t) == due::unanswered_pings);
    c.pings.pong_received(0, t); // a PONG answers every PING in flight
    CHECK(c.probe(t) == due::ping);
}

TEST_CASE("liveness: suspect at half the read deadline, or a PONG overdue: healthy again",
          "[liveness]") {
    heartbeat::options o = base_options();
    o.ping_interval = 0ms;
    clocks c(o);
    c.live.watch_health(true, t0);
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 150ms)); // woken to report it
    CHECK_FALSE(c.live.health_changed(t0 + 149ms));
    CHECK(c.live.health_changed(t0 + 150ms));
    CHECK(c.live.reported_suspect());
    CHECK_FALSE(c.live.health_changed(t0 + 160ms)); // reported once
    CHECK(c.live.next_wakeup() == c.live.on_tick(t0 + 300ms));
    c.live.bytes_received(t0 + 200ms);
    CHECK(c.live.health_changed(t0 + 200ms));
    CHECK_FALSE(c.live.reported_suspect());
    // A PONG overdue, from a peer that answered before, is suspect too.
    clocks p(o);
    p.pings.ping_sent(t0);
    p.pings.pong_received(0, t0 + 1ms);
    p.pings.ping_sent(t0 + 10ms);
    p.live.bytes_received(t0 + 100ms);
    CHECK_FALSE(p.live.suspect(t0 + 159ms));
    CHECK(p.live.suspect(t0 + 160ms)); // 10 ms + read_timeout / 2
}

TEST_CASE("liveness: the adaptive read deadline tightens only with evidence", "[liveness]") {
    heartbeat::options o = base_options();
    o.ping_interval = 0ms;
    o.read_timeout = 1000ms;
    o.adaptive_read_timeout_floor = 50ms;
    clocks c(o);
    tp t = t0;
    for (int i = 0; i < 3; ++i) { // three round trips of 2 ms
        c.pings.ping_sent(t);
        c.pings.pong_received(0, t + 2ms);
    }
    CHECK(c.live.read_deadline() == 1000ms); // no whole window of gaps yet
    for (int i = 0; i < 40; ++i) {           // the peer's bytes every 20 ms for 800 ms...
        t += 20ms;
        c.live.bytes_received(t);
    }
    CHECK(c.live.read_deadline() == 1000ms);
    for (int i = 0; i < 40; ++i) { // ...and past a whole window
        t += 20ms;
        c.live.bytes_received(t);
    }
    const auto rtt = c.pings.rtt_bound();
    CHECK(c.live.read_deadline() == std::max<liveness::duration>(50ms, 20ms + 4 * rtt));
    CHECK(c.probe(t + c.live.read_deadline()) == due::timeout);
}

TEST_CASE("ping_tracker: PONGs matched by id or in order, round trips RFC 6298 style",
          "[liveness]") {
    SECTION("with ids, a PONG answers its PING and every older one") {
        ping_tracker p(true, 0ms);
        CHECK(p.ping_sent(t0) == 1u);
        CHECK(p.ping_sent(t0 + 10ms) == 2u);
        CHECK(p.ping_sent(t0 + 20ms) == 3u);
        CHECK(p.unanswered() == 3u);
        CHECK(p.pong_received(2, t0 + 30ms));
        CHECK(p.last_rtt() == 20ms); // from PING 2
        CHECK(p.outstanding());
        CHECK(p.oldest_sent() == t0 + 20ms);
        CHECK(p.unanswered() == 0u);
        CHECK_FALSE(p.pong_received(2, t0 + 31ms)); // already answered
        CHECK(p.pongs() == 2u);
    }
    SECTION("without ids, a PONG answers every PING in flight, timed from the oldest") {
        ping_tracker p(false, 0ms);
        p.ping_sent(t0);
        p.ping_sent(t0 + 10ms);
        CHECK(p.pong_received(0, t0 + 40ms));
        CHECK(p.last_rtt() == 40ms);
        CHECK_FALSE(p.outstanding());
        CHECK_FALSE(p.pong_received(0, t0 + 50ms)); // unsolicited
    }
    SECTION("only the last few PINGs are remembered") {
        ping_tracker p(true, 0ms);
        for (int i = 0; i < 10; ++i)
            p.ping_sent(t0 + i * 1ms);
        CHECK(p.unanswered() == 10u);
        CHECK(p.oldest_sent() == t0 + 6ms);
        CHECK_FALSE(p.pong_received(3, t0 + 20ms)); // forgotten
        CHECK(p.pong_received(10, t0 + 20ms));
    }
    SECTION("smoothing") {
        ping_tracker p(true, 0ms);
        p.pong_received(p.ping_sent(t0), t0 + 8ms);
        CHECK(p.smoothed_rtt() == 8ms);
        CHECK(p.rtt_variance() == 4ms);
        p.pong_received(p.ping_sent(t0), t0 + 16ms);
        CHECK(p.smoothed_rtt() == 9ms); // (7 x 8 + 16) / 8
        CHECK(p.rtt_variance() == 5ms); // (3 x 4 + 8) / 4
    }
    SECTION("a peer that PINGs too often, repeatedly, floods") {
        ping_tracker p(false, 25ms);
        tp t = t0;
        CHECK_FALSE(p.peer_pinged(t));
        for (int i = 0; i < 3; ++i) // a few early ones are forgiven
            CHECK_FALSE(p.peer_pinged(t += 5ms));
        CHECK(p.peer_pinged(t += 5ms));
        CHECK_FALSE(p.peer_pinged(t += 30ms));                // a calm one resets
        CHECK_FALSE(ping_tracker(false, 0ms).peer_pinged(t)); // off
    }
}

TEST_CASE("liveness: nothing is due before the wake-up it asks for, and something is at it",
          "[liveness]") {
    // The property behind tests/BUGS.md #1 and #3: "when to wake" and "what is due" agree in
    // every state. Random events in virtual time; at each step, a wake-up anywhere up to a
    // tick before next_wakeup() finds nothing, and one at next_wakeup() finds something (an
    // action, or a turn to suspect that an observer must hear of), or next_wakeup() is never
    // and nothing ever comes due.
    std::mt19937_64 rng(20261202);
    auto pick = [&](unsigned n) {
        return static_cast<unsigned>(rng() % n);
    };
    int checked = 0;
    for (int round = 0; round < 300; ++round) {
        heartbeat::options o;
        o.ping_interval = std::chrono::milliseconds(pick(2) ? 0 : 20 + pick(200));
        o.read_timeout = std::chrono::milliseconds(pick(4) == 0 ? 0 : 300 + pick(500));
        o.idle_timeout = std::chrono::milliseconds(pick(2) ? 0 : 100 + pick(900));
        o.write_timeout = std::chrono::milliseconds(pick(3) == 0 ? 0 : 50 + pick(300));
        o.shutdown_timeout = std::chrono::milliseconds(1 + pick(500));
        o.max_unanswered_pings = pick(3);
        o.adaptive_read_timeout_floor =
            o.read_timeout.count() > 0 && pick(2) ? std::chrono::milliseconds(10) : 0ms;
        clocks c(o, pick(2) == 0);
        tp now = t0;
        bool writing = false;
        bool watched = false;
        for (int step = 0; step < 60; ++step) {
            const tp wake = c.live.next_wakeup();
            INFO("round " << round << " step " << step);
            if (wake == tp::max()) {
                CHECK(c.probe(now + std::chrono::hours(1)) == due::nothing);
            } else {
                REQUIRE(wake >= c.live.on_tick(now) - c.live.tick());
                // Before it: nothing (probed at a few points, and a tick before: the wake-up is
                // the earliest deadline rounded up to the tick).
                const tp before = wake - c.live.tick();
                for (const tp t : {now, now + (before - now) / 2, before})
                    if (t >= now && t <= before) {
                        CHECK(c.probe(t) == due::nothing);
                        liveness copy = c.live;
                        CHECK_FALSE((watched && copy.health_changed(t)));
                    }
                // At it: something.
                liveness copy = c.live;
                const bool health = copy.health_changed(wake);
                CHECK((c.probe(wake) != due::nothing || (watched && health)));
                ++checked;
            }
            // Then an event, as the session would produce it.
            const tp limit = wake == tp::max() ? now + 1s : wake;
            const tp at = now + (limit - now) * pick(101) / 100;
            now = std::max(now, at);
            switch (pick(12)) {
            case 0:
                c.live.bytes_received(now);
                break;
            case 1:
                c.live.bytes_received(now);
                c.live.frame_received(now);
                break;
            case 2:
                if (!writing) {
                    c.live.write_started(now);
                    writing = true;
                }
                break;
            case 3:
                if (writing)
                    c.live.write_progressed(now);
                break;
            case 4:
                if (writing) {
                    c.live.write_done(now);
                    writing = false;
                }
                break;
            case 5:
                c.pings.pong_received(c.pings.next_id() - 1, now);
                break;
            case 6:
                c.live.reading_paused();
                break;
            case 7:
                c.live.reading_resumed(now);
                break;
            case 8:
                if (pick(4) == 0)
                    c.live.peer_finished(now);
                break;
            case 9:
                c.live.eof_taken();
                break;
            case 10:
                watched = pick(2) == 0;
                c.live.watch_health(watched, now);
                break;
            default: { // the timer fires at its wake-up; the session acts on what is due
                if (wake == tp::max())
                    break;
                now = wake;
                const due d = c.live.wake(now, wake);
                (void)c.live.health_changed(now);
                if (d == due::ping) {
                    c.pings.ping_sent(now);
                    c.live.ping_sent();
                    c.live.write_started(now);
                    writing = true;
                } else if (d != due::nothing) {
                    step = 60; // a verdict ends the session
                }
            }
            }
            // Health changes that events cause (bytes, a PONG) are taken after them, as the
            // session does after a read; what is left to check is what time alone causes.
            (void)c.live.health_changed(now);
        }
    }
    CHECK(checked > 4000);
}
