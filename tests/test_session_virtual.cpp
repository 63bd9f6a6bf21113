// Whole sessions in virtual time over an in-memory stream: ordering, cancellation and liveness
// tested deterministically. The session reads the time from manual_clock (virtual_time.hpp) and
// talks to a memory_peer (memory_stream.hpp) that the test scripts; nothing sleeps, no socket is
// opened, and every deadline is checked to the tick: "not before" exactly, "at most one tick
// after" (options: wake-ups are rounded up to a tick of 1/64 of the shortest clock, 1-16 ms)
// plus the step the test moves time by.
#include "memory_stream.hpp"
#include "support.hpp"
#include "virtual_time.hpp"

#include <heartbeat/detail/liveness.hpp> // tick_for: how late the documented rounding may be

// An awaited loop written with coroutines, where Asio has them; not without exceptions, which
// Asio 1.22's co_spawn needs (it catches them unconditionally).
#if defined(HEARTBEAT_USE_BOOST_ASIO)
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif
#elif defined(ASIO_HAS_CO_AWAIT) && !defined(ASIO_NO_EXCEPTIONS)
#define HBT_HAS_CO_AWAIT 1
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#endif

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hbt {
namespace {

using vclock = manual_clock;
using vtime = manual_clock::time_point;
using vsession = heartbeat::heartbeat_session<memory_stream, heartbeat::line_framing, vclock>;
using io_strand = asio::strand<asio::io_context::executor_type>;

static_assert(std::is_same_v<vsession::clock_type, vclock>);
static_assert(std::is_same_v<heartbeat::heartbeat_session<memory_stream>::clock_type,
                             std::chrono::steady_clock>);

/// How late the session may act on a deadline, by its documented rounding.
vclock::duration tick(const heartbeat::options& o) {
    return heartbeat::detail::liveness::tick_for(o);
}

/// Milliseconds of virtual time since the origin, for readable failures.
double vms(vtime t) {
    return std::chrono::duration<double, std::milli>(t - vclock::origin()).count();
}

// ---------------------------------------------------------------------------------------------
// Recorders: every completion notes when (virtual) it ran, how often, whether from inside an
// initiating function (support.hpp's initiating()), and its place in a shared log.

struct record {
    int calls = 0;
    bool inline_call = false;
    error_code ec;
    std::string frame;
    vtime when{};
};

using event_log = std::shared_ptr<std::vector<std::string>>;

struct recorder {
    std::shared_ptr<record> r = std::make_shared<record>();
    event_log log;
    std::string name;

    recorder() = default;
    recorder(event_log l, std::string n)
        : log(std::move(l))
        , name(std::move(n)) {}

    auto done_handler() const {
        return [r = r, log = log, name = name](error_code ec) {
            note(*r, ec);
            if (log)
                log->push_back(name + (ec ? ":" + ec.message() : ":ok"));
        };
    }
    auto frame_handler() const {
        return [r = r, log = log, name = name](error_code ec, std::string frame) {
            note(*r, ec);
            r->frame = frame;
            if (log)
                log->push_back(name + (ec ? ":" + ec.message() : "=" + frame));
        };
    }
    bool done() const { return r->calls > 0; }
    int calls() const { return r->calls; }
    bool was_inline() const { return r->inline_call; }
    error_code ec() const { return r->ec; }
    const std::string& frame() const { return r->frame; }
    vtime when() const { return r->when; }

private:
    static void note(record& r, error_code ec) {
        ++r.calls;
        r.inline_call = r.inline_call || initiating();
        r.ec = ec;
        r.when = vclock::now();
    }
};

// ---------------------------------------------------------------------------------------------
// The rig: virtual time at its origin, an io_context, a memory peer and a session over it.

struct written_line {
    vtime at; // when the far end found it written
    std::string text;
};

class rig {
public:
    /// With `on_strand`, the stream's (so the session's) executor is a strand of the context.
    explicit rig(const heartbeat::options& o, bool on_strand = false) {
        asio::any_io_executor ex = io_.get_executor();
        if (on_strand) {
            strand.emplace(asio::make_strand(io_));
            ex = *strand;
        }
        peer = std::make_shared<memory_peer>(ex);
        session.emplace(memory_stream(ex, peer), o);
    }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;
    ~rig() {
        session.reset();
#if HEARTBEAT_HAS_EXCEPTIONS
        try {
            run_ready(io_);
        } catch (...) {
        }
#else
        run_ready(io_);
#endif
    }

    asio::io_context& io() {
        return io_;
    }

    /// Runs what is ready, then plays the far end: notes what the session wrote and, with
    /// auto_pong, answers each PING at once; until nothing more happens.
    void run() {
        for (;;) {
            run_ready(io_);
            if (!collect())
                return;
        }
    }
    /// Moves virtual time by `d` in steps of `step`, running after each.
    void advance(vclock::duration d, vclock::duration step = std::chrono::milliseconds(1)) {
        run();
        while (d > vclock::duration::zero()) {
            const auto s = std::min(d, step);
            vclock::advance(s);
            d -= s;
            run();
        }
    }
    /// Moves time until `done()` holds; false if `limit` passed first.
    template <class Pred>
    bool advance_until(Pred done, vclock::duration limit,
                       vclock::duration step = std::chrono::milliseconds(1)) {
        run();
        const vtime end = vclock::now() + limit;
        while (!done()) {
            if (vclock::now() >= end)
                return false;
            vclock::advance(std::min<vclock::duration>(step, end - vclock::now()));
            run();
        }
        return true;
    }

    std::vector<vtime> times_of(const std::string& text) const {
        std::vector<vtime> v;
        for (const auto& l : lines)
            if (l.text == text)
                v.push_back(l.at);
        return v;
    }
    /// What the session wrote, heartbeats left out.
    std::vector<std::string> data_lines() const {
        std::vector<std::string> v;
        for (const auto& l : lines)
            if (l.text != "PING" && l.text != "PONG")
                v.push_back(l.text);
        return v;
    }

private:
    bool collect() {
        const std::string bytes = peer->take_written();
        bool acted = false;
        for (char c : bytes) {
            if (c != '\n') {
                partial_ += c;
                continue;
            }
            lines.push_back({vclock::now(), partial_});
            if (auto_pong && partial_ == "PING") {
                peer->give("PONG\n");
                acted = true;
            }
            partial_.clear();
        }
        return acted;
    }

    virtual_time_scope vt_;
    asio::io_context io_;

public:
    std::optional<io_strand> strand;
    std::shared_ptr<memory_peer> peer;
    std::optional<vsession> session;
    bool auto_pong = false;
    std::vector<written_line> lines;

private:
    std::string partial_;
};

/// The run must end with `ec` no earlier than `deadline` after `from`, and at most a tick (the
/// documented rounding) plus `step` later: time moves to just before it, then on in steps.
void expect_verdict(rig& t, const recorder& run, const heartbeat::options& o, vtime from,
                    vclock::duration deadline, error_code ec,
                    vclock::duration step = std::chrono::microseconds(100)) {
    t.advance(from + deadline - step - vclock::now(), step);
    CHECK_FALSE(run.done()); // not before the deadline
    REQUIRE(t.advance_until([&] { return run.done(); }, 50ms, step));
    CHECK(run.ec() == ec);
    INFO("verdict at " << vms(run.when()) << " ms, tick " << vms(vclock::origin() + tick(o)));
    CHECK(run.when() - from >= deadline);
    CHECK(run.when() - from <= deadline + tick(o) + step); // within one tick after
}

/// Options with every clock off, for tests of ordering alone.
heartbeat::options still_options() {
    heartbeat::options o;
    o.ping_interval = 0ms;
    o.read_timeout = 0ms;
    o.idle_timeout = 0ms;
    o.write_timeout = 0ms;
    return o;
}

/// still_options(), with every async_send completing once its frame is written: for tests of
/// sends that are still pending.
heartbeat::options written_options() {
    heartbeat::options o = still_options();
    o.send_high_water_mark = 0;
    return o;
}

} // namespace

// =============================================================================================
// The test doubles themselves.

TEST_CASE("virtual: a manual_clock timer fires when virtual time reaches it, not in real time",
          "[virtual][clock]") {
    virtual_time_scope vt;
    asio::io_context io;
    asio::basic_waitable_timer<vclock> timer(io);
    recorder fired;
    timer.expires_after(10s);
    timer.async_wait(fired.done_handler());
    const auto real_start = std::chrono::steady_clock::now();
    advance_and_run(io, 10s - 1ms, 100ms);
    CHECK_FALSE(fired.done());
    advance_and_run(io, 1ms);
    REQUIRE(fired.done());
    CHECK_FALSE(fired.ec());
    CHECK(fired.when() == vclock::origin() + 10s);
    CHECK(std::chrono::steady_clock::now() - real_start < 2s);
}

TEST_CASE("virtual: memory_stream posts every completion and honours slots and close()",
          "[virtual][memory_stream]") {
    virtual_time_scope vt;
    asio::io_context io;
    auto peer = std::make_shared<memory_peer>(io.get_executor());
    memory_stream stream(io.get_executor(), peer);
    char buf[16];

    // A read waits for the far end's bytes, completes posted, and counts as work meanwhile.
    std::size_t got = 0;
    error_code got_ec;
    bool done = false;
    auto on_read = [&](error_code ec, std::size_t n) {
        CHECK_FALSE(initiating());
        got_ec = ec;
        got = n;
        done = true;
    };
    initiate([&] { stream.async_read_some(asio::buffer(buf), on_read); });
    CHECK(io.poll() == 0);
    CHECK_FALSE(io.stopped()); // the pending read is work
    peer->give("hello");
    CHECK_FALSE(done); // posted, not inline
    run_ready(io);
    REQUIRE(done);
    CHECK(got == 5u);
    CHECK(std::string(buf, got) == "hello");

    // A cancellation slot aborts a pending read; nothing was consumed.
    asio::cancellation_signal signal;
    done = false;
    initiate([&] {
        stream.async_read_some(asio::buffer(buf),
                               asio::bind_cancellation_slot(signal.slot(), on_read));
    });
    signal.emit(asio::cancellation_type::terminal);
    CHECK_FALSE(done);
    run_ready(io);
    REQUIRE(done);
    CHECK(got_ec == asio::error::operation_aborted);
    CHECK_FALSE(peer->read_pending());

    // A far end that stops reading leaves a write pending; accept() takes part of it.
    std::size_t wrote = 0;
    bool write_done = false;
    auto on_write = [&](error_code ec, std::size_t n) {
        CHECK_FALSE(initiating());
        CHECK_FALSE(ec);
        wrote = n;
        write_done = true;
    };
    peer->block_writes(true);
    initiate([&] { stream.async_write_some(asio::buffer("abcdef", 6), on_write); });
    run_ready(io);
    CHECK_FALSE(write_done);
    CHECK(peer->accept(2) == 2u);
    run_ready(io);
    REQUIRE(write_done);
    CHECK(wrote == 2u);
    CHECK(peer->take_written() == "ab");

    // close() aborts what is pending; later operations fail at once (posted).
    done = write_done = false;
    bool write_aborted = false;
    stream.async_read_some(asio::buffer(buf), on_read);
    stream.async_write_some(asio::buffer("x", 1), [&](error_code ec, std::size_t) {
        write_aborted = ec == asio::error::operation_aborted;
    });
    error_code ignored;
    stream.close(ignored);
    run_ready(io);
    CHECK(done);
    CHECK(got_ec == asio::error::operation_aborted);
    CHECK(write_aborted);
    done = false;
    initiate([&] { stream.async_read_some(asio::buffer(buf), on_read); });
    run_ready(io);
    CHECK(done);
    CHECK(got_ec == asio::error::bad_descriptor);

#if HEARTBEAT_HAS_EXCEPTIONS
    // A second read while one is in flight breaks the session's promise: the stream says so.
    auto peer2 = std::make_shared<memory_peer>(io.get_executor());
    memory_stream stream2(io.get_executor(), peer2);
    const memory_violation_hook saved = memory_violation();
    memory_violation() = [](const char* what, const char*, int) {
        throw std::logic_error(what);
    };
    stream2.async_read_some(asio::buffer(buf), [](error_code, std::size_t) {});
    CHECK_THROWS_AS(stream2.async_read_some(asio::buffer(buf), [](error_code, std::size_t) {}),
                    std::logic_error);
    memory_violation() = saved;
    stream2.close(ignored);
    run_ready(io);
#endif
}

// =============================================================================================
// Liveness, to the tick.

TEST_CASE("virtual: PINGs go out every ping_interval, never faster", "[virtual][liveness]") {
    heartbeat::options o;
    o.ping_interval = 100ms;
    o.read_timeout = 1000ms;
    o.write_timeout = 500ms;
    rig t(o);
    t.auto_pong = true;
    recorder run;
    const vtime start = vclock::now();
    t.session->async_run(run.done_handler());
    t.advance(3s);
    CHECK_FALSE(run.done());
    const auto pings = t.times_of("PING");
    REQUIRE(pings.size() >= 29u);
    // The first after a random 50-100 % of the interval, then every 95-100 % of it (jitter),
    // each at most a tick (plus our 1 ms step) late.
    const auto late = tick(o) + 1ms;
    INFO("first PING at " << vms(pings.front()) << " ms");
    CHECK(pings.front() - start >= 50ms);
    CHECK(pings.front() - start <= 100ms + late);
    for (std::size_t i = 1; i < pings.size(); ++i) {
        INFO("PING " << i << " at " << vms(pings[i]) << " ms, previous at " << vms(pings[i - 1]));
        CHECK(pings[i] - pings[i - 1] >= 95ms);
        CHECK(pings[i] - pings[i - 1] <= 100ms + late);
    }
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: a silent peer ends the run with timeout at the read deadline, not before",
          "[virtual][liveness]") {
    heartbeat::options o = still_options();
    o.read_timeout = 300ms;
    rig t(o);
    vclock::advance(337us); // off the tick grid: a deadline rounded down would show
    recorder run;
    const vtime start = vclock::now();
    t.session->async_run(run.done_handler());
    expect_verdict(t, run, o, start, 300ms, heartbeat::error::timeout);
    CHECK(t.peer->closed);
    CHECK(t.lines.empty()); // PINGs off: nothing written
}

TEST_CASE("virtual: every byte from the peer pushes the read deadline", "[virtual][liveness]") {
    heartbeat::options o = still_options();
    o.read_timeout = 300ms;
    rig t(o);
    vclock::advance(337us); // off the tick grid: a deadline rounded down would show
    recorder run;
    const vtime start = vclock::now();
    t.session->async_run(run.done_handler());
    t.advance(200ms);
    t.peer->give("x"); // one byte, not even a whole frame
    expect_verdict(t, run, o, start, 500ms, heartbeat::error::timeout);
}

TEST_CASE("virtual: heartbeats do not count for idle_timeout, a data frame postpones it",
          "[virtual][liveness]") {
    heartbeat::options o = still_options();
    o.ping_interval = 50ms;
    o.read_timeout = 400ms;
    o.idle_timeout = 300ms;
    rig t(o);
    t.auto_pong = true; // the peer is alive, only idle
    recorder run;
    const vtime start = vclock::now();
    t.session->async_run(run.done_handler());
    t.advance(200ms);
    t.peer->give("data\n");
    t.advance(299ms);
    CHECK_FALSE(run.done());
    REQUIRE(t.advance_until([&] { return run.done(); }, 100ms));
    CHECK(run.ec() == heartbeat::error::idle_timeout);
    CHECK(run.when() - start >= 500ms);
    CHECK(run.when() - start <= 500ms + tick(o) + 1ms);
    CHECK(t.times_of("PING").size() >= 8u); // heartbeats flowed all along
}

/// Line framing whose data frames take no bytes on the wire: the Framing concept allows it (a
/// write of nothing completes at once), so a frame queued before the run is written inside
/// async_run itself, before the run has armed its timer.
struct silent_line_framing : heartbeat::line_framing {
    std::size_t encode_trailer(char*) const noexcept { return 0; }
};

TEST_CASE("virtual: a write that completes inside async_run leaves every deadline in force",
          "[virtual][liveness][write]") {
    virtual_time_scope vt;
    asio::io_context io;
    auto peer = std::make_shared<memory_peer>(io.get_executor());
    heartbeat::options o = still_options();
    o.ping_interval = 10s;  // the PING is far away...
    o.idle_timeout = 300ms; // ...the idle deadline is not
    heartbeat::heartbeat_session<memory_stream, silent_line_framing, vclock> session(
        memory_stream(io.get_executor(), peer), o);
    recorder sent, run;
    const vtime start = vclock::now();
    session.async_send("", sent.done_handler());
    session.async_run(run.done_handler());
    REQUIRE(advance_until(
        io, [&] { return run.done(); }, 1s));
    CHECK(sent.calls() == 1);
    CHECK_FALSE(sent.ec());
    CHECK(run.ec() == heartbeat::error::idle_timeout);
    CHECK(run.when() - start >= 300ms);
    CHECK(run.when() - start <= 300ms + tick(o) + 1ms);
}

TEST_CASE("virtual: a peer that stops reading ends the run with write_timeout at the deadline",
          "[virtual][liveness][write]") {
    heartbeat::options o = still_options();
    o.ping_interval = 50ms;
    o.write_timeout = 200ms;
    rig t(o);
    t.peer->block_writes(true);
    vclock::advance(337us); // off the tick grid: a deadline rounded down would show
    recorder run;
    t.session->async_run(run.done_handler());
    const auto step = 100us;
    // The first PING's write starts and never progresses.
    REQUIRE(t.advance_until([&] { return t.peer->write_pending(); }, 100ms, step));
    expect_verdict(t, run, o, vclock::now(), 200ms, heartbeat::error::write_timeout, step);
}

TEST_CASE("virtual: a slow reader that keeps taking bytes never triggers write_timeout",
          "[virtual][liveness][write]") {
    heartbeat::options o = still_options();
    o.ping_interval = 50ms;
    o.write_timeout = 200ms;
    rig t(o);
    t.peer->block_writes(true);
    recorder run;
    recorder sent;
    t.session->async_run(run.done_handler());
    const std::string big(20000, 'b');
    t.session->async_send(big, [](error_code ec) { CHECK_FALSE(ec); }); // accepted at once
    t.session->async_flush(sent.done_handler());                        // ...and written
    // 500 bytes every 150 ms: slower than the session would like, but never stuck for 200 ms.
    for (int i = 0; i < 100 && !sent.done(); ++i) {
        t.advance(150ms);
        REQUIRE_FALSE(run.done());
        t.peer->accept(500);
    }
    t.run();
    REQUIRE(sent.done());
    CHECK_FALSE(sent.ec());
    CHECK(vclock::elapsed() > 5s); // it really was slow
    t.peer->block_writes(false);
    t.advance(500ms);
    CHECK_FALSE(run.done());
    const auto data = t.data_lines();
    REQUIRE(data.size() == 1u);
    CHECK(data[0] == big);
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: after a stall of the event loop a live peer gets a PING, not a verdict",
          "[virtual][liveness][stall]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    o.read_timeout = 400ms;
    rig t(o);
    t.auto_pong = true;
    recorder run;
    t.session->async_run(run.done_handler());
    t.advance(1s);
    REQUIRE_FALSE(run.done());
    CHECK(t.session->statistics().stalls == 0u);
    // The loop was blocked for 3 s: every deadline looks long past when it resumes.
    vclock::advance(3s);
    const vtime resumed = vclock::now();
    t.run();
    CHECK_FALSE(run.done());
    CHECK(t.session->statistics().stalls == 1u);
    const auto pings = t.times_of("PING");
    REQUIRE_FALSE(pings.empty());
    CHECK(pings.back() == resumed); // a PING at once, to show the peer's life
    t.advance(1s);
    CHECK_FALSE(run.done());
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: after a stall a really silent peer still ends with timeout after a grace",
          "[virtual][liveness][stall]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    o.read_timeout = 400ms;
    rig t(o);
    t.auto_pong = true;
    recorder run;
    t.session->async_run(run.done_handler());
    t.advance(1s);
    REQUIRE_FALSE(run.done());
    t.auto_pong = false; // from now on the peer is silent
    vclock::advance(3s);
    const vtime resumed = vclock::now();
    t.run();
    CHECK_FALSE(run.done()); // no verdict on a wake-up that came 3 s late
    REQUIRE(t.advance_until([&] { return run.done(); }, 1s));
    CHECK(run.ec() == heartbeat::error::timeout);
    CHECK(t.session->statistics().stalls >= 1u);
    // The grace: at least a quarter of read_timeout, at most read_timeout (plus the rounding).
    INFO("verdict " << vms(run.when()) - vms(resumed) << " ms after the loop resumed");
    CHECK(run.when() - resumed >= 100ms);
    CHECK(run.when() - resumed <= 400ms + tick(o) + 1ms);
}

TEST_CASE("virtual: max_unanswered_pings ends the run with unanswered_pings",
          "[virtual][liveness]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    o.max_unanswered_pings = 3;
    rig t(o);
    recorder run;
    t.session->async_run(run.done_handler());

    SECTION("a peer that never answers") {
        REQUIRE(t.advance_until([&] { return run.done(); }, 2s));
        CHECK(run.ec() == heartbeat::error::unanswered_pings);
        const auto pings = t.times_of("PING");
        REQUIRE(pings.size() == 3u);
        // Instead of the fourth PING, about an interval after the third.
        CHECK(run.when() - pings.back() >= 95ms);
        CHECK(run.when() - pings.back() <= 100ms + tick(o) + 1ms);
    }
    SECTION("a peer that answers keeps it running") {
        t.auto_pong = true;
        t.advance(2s);
        CHECK_FALSE(run.done());
        CHECK(t.times_of("PING").size() >= 19u);
        t.session->close();
        t.run();
        CHECK(run.ec() == asio::error::operation_aborted);
    }
}

TEST_CASE("virtual: the health observer sees suspect, healthy, suspect, then the run ends",
          "[virtual][health]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    o.read_timeout = 400ms;
    struct observed {
        heartbeat::health h;
        vtime at;
        bool on_strand;
        bool in_initiation;
    };
    auto seen = std::make_shared<std::vector<observed>>();
    rig t(o, /*on_strand=*/true);
    const io_strand strand = *t.strand;
    recorder run;
    const vtime start = vclock::now();
    initiate([&] {
        t.session->set_health_observer([seen, strand](heartbeat::health h) {
            seen->push_back({h, vclock::now(), strand.running_in_this_thread(), initiating()});
        });
        t.session->async_run(run.done_handler());
    });
    // Silent: suspect at half the read deadline.
    REQUIRE(t.advance_until([&] { return !seen->empty(); }, 300ms));
    CHECK((*seen)[0].h == heartbeat::health::suspect);
    CHECK((*seen)[0].at - start >= 200ms);
    CHECK((*seen)[0].at - start <= 200ms + tick(o) + 1ms);
    // A byte from the peer: healthy again, at once.
    t.advance(50ms);
    REQUIRE(seen->size() == 1u);
    t.peer->give("PONG\n");
    const vtime heard = vclock::now();
    t.run();
    REQUIRE(seen->size() == 2u);
    CHECK((*seen)[1].h == heartbeat::health::healthy);
    CHECK((*seen)[1].at == heard);
    // Silent again: suspect, then the verdict, and nothing after it.
    REQUIRE(t.advance_until([&] { return run.done(); }, 1s));
    CHECK(run.ec() == heartbeat::error::timeout);
    CHECK(run.when() - heard >= 400ms);
    CHECK(run.when() - heard <= 400ms + tick(o) + 1ms);
    t.advance(200ms);
    REQUIRE(seen->size() == 3u);
    CHECK((*seen)[2].h == heartbeat::health::suspect);
    CHECK((*seen)[2].at > heard);
    CHECK((*seen)[2].at < run.when());
    for (const auto& e : *seen) {
        CHECK(e.on_strand);
        CHECK_FALSE(e.in_initiation);
    }
    CHECK_FALSE(run.was_inline());
}

// =============================================================================================
// Ordering and cancellation.

TEST_CASE("virtual: receives complete in frame order when receives in the middle are cancelled",
          "[virtual][order]") {
    auto log = std::make_shared<std::vector<std::string>>();
    std::array<asio::cancellation_signal, 8> signals;
    std::vector<recorder> r;
    rig t(still_options());
    recorder run;
    t.session->async_run(run.done_handler());
    auto receive = [&](std::size_t i) {
        REQUIRE(r.size() == i);
        r.emplace_back(log, "r" + std::to_string(i));
        initiate([&] {
            t.session->async_receive(
                asio::bind_cancellation_slot(signals[i].slot(), r.back().frame_handler()));
        });
    };
    for (std::size_t i = 0; i < 5; ++i)
        receive(i);
    t.run();
    CHECK(log->empty());

    signals[1].emit(asio::cancellation_type::terminal); // waiting: aborted
    t.run();
    REQUIRE(r[1].done());
    CHECK(r[1].ec() == asio::error::operation_aborted);

    t.peer->give("a\n");
    t.run();
    CHECK(r[0].frame() == "a");

    // Bytes read but not yet delivered, then a cancellation: the frames go to the next in line.
    t.peer->give("b\nc\n");
    signals[3].emit(asio::cancellation_type::partial);
    t.run();
    CHECK(r[2].frame() == "b");
    CHECK(r[3].ec() == asio::error::operation_aborted);
    CHECK(r[4].frame() == "c");

    // A frame held with nobody waiting, and another read but not yet decoded. The next receive
    // takes the held one at once and is cancelled too late to lose it; the frame read next
    // must not overtake it.
    t.peer->give("d\n");
    t.run();
    t.peer->give("e\n");
    receive(5);
    signals[5].emit(asio::cancellation_type::terminal);
    receive(6);
    receive(7);
    t.run();

    std::vector<std::string> frames;
    std::size_t last_receiver = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        INFO("receive " << i);
        CHECK(r[i].calls() <= 1);
        CHECK_FALSE(r[i].was_inline());
        if (r[i].done() && !r[i].ec()) {
            frames.push_back(r[i].frame());
            last_receiver = i;
        }
    }
    CHECK(frames == std::vector<std::string>{"a", "b", "c", "d", "e"});
    CHECK(last_receiver >= 6u);
    // The completions themselves ran in frame order.
    std::vector<std::string> delivered;
    for (const auto& e : *log)
        if (e.find('=') != std::string::npos)
            delivered.push_back(e.substr(e.find('=') + 1));
    CHECK(delivered == frames);

    t.session->close();
    t.run();
    for (auto& x : r)
        CHECK(x.calls() == 1);
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: a read or write interrupted by a signal (EINTR) is tried again, not fatal",
          "[virtual][faults]") {
    // io_uring completes an operation a signal interrupted with error::interrupted (a reactor
    // retries it itself): the stream is fine, and so is the session.
    rig t(still_options());
    recorder run, got, sent;
    t.session->async_run(run.done_handler());
    t.session->async_receive(got.frame_handler());
    t.run();
    REQUIRE(t.peer->read_pending());
    t.peer->interrupt_read();
    t.run();
    CHECK_FALSE(run.done());
    t.peer->give("a\n");
    t.run();
    REQUIRE(got.done());
    CHECK(got.frame() == "a");

    t.peer->interrupt_write(); // the next write
    t.session->async_send(std::string("b"), sent.done_handler());
    t.run();
    CHECK_FALSE(run.done());
    REQUIRE(sent.done());
    CHECK_FALSE(sent.ec());
    CHECK(t.data_lines() == std::vector<std::string>{"b"});

    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: a handler that starts its next operation on the same cancellation slot "
          "can cancel that one",
          "[virtual][order]") {
    // A coroutine's operations all use its one slot, and its next operation starts from inside
    // the completion of the last. Whatever the session does with a completed operation after
    // its handler ran must leave that slot to the next.
    asio::cancellation_signal signal;
    rig t(still_options());
    recorder run;
    t.session->async_run(run.done_handler());
    t.peer->give("a\nb\n");
    recorder last;
    std::vector<std::string> steps;
    auto wait_next = [&] {
        t.session->async_receive(asio::bind_cancellation_slot(signal.slot(), last.frame_handler()));
    };
    auto after_send = [&](error_code ec) {
        steps.push_back(ec ? "send:" + ec.message() : "send:ok");
        wait_next(); // "b" is held: this completes at once
    };
    auto after_receive = [&](error_code ec, std::string frame) {
        steps.push_back(ec ? "receive:" + ec.message() : "receive=" + frame);
        t.session->async_send(frame, asio::bind_cancellation_slot(signal.slot(), after_send));
    };
    initiate([&] {
        t.session->async_receive(asio::bind_cancellation_slot(signal.slot(), after_receive));
    });
    t.run();
    CHECK(steps == std::vector<std::string>{"receive=a", "send:ok"});
    REQUIRE(last.done());
    CHECK(last.frame() == "b");

    // A receive that waits, started from the completion of one that did not.
    recorder waiting;
    auto receive_again = [&](error_code ec, std::string frame) {
        CHECK_FALSE(ec);
        CHECK(frame == "c");
        t.session->async_receive(
            asio::bind_cancellation_slot(signal.slot(), waiting.frame_handler()));
    };
    t.session->async_receive(asio::bind_cancellation_slot(signal.slot(), receive_again));
    t.peer->give("c\n");
    t.run();
    CHECK_FALSE(waiting.done());
    signal.emit(asio::cancellation_type::terminal);
    t.run();
    REQUIRE(waiting.done());
    CHECK(waiting.ec() == asio::error::operation_aborted);
    CHECK_FALSE(run.done()); // the session runs on
    CHECK(t.data_lines() == std::vector<std::string>{"a"});

    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE(
    "virtual: sends complete in order, a queued send is cancelled but one being written is not",
    "[virtual][order]") {
    auto log = std::make_shared<std::vector<std::string>>();
    std::array<asio::cancellation_signal, 4> signals;
    std::vector<recorder> s;
    rig t(written_options());
    t.peer->block_writes(true);
    recorder run;
    t.session->async_run(run.done_handler());
    for (std::size_t i = 0; i < 4; ++i) {
        s.emplace_back(log, "s" + std::to_string(i));
        initiate([&] {
            t.session->async_send(
                "s" + std::to_string(i),
                asio::bind_cancellation_slot(signals[i].slot(), s.back().done_handler()));
        });
    }
    t.run();
    REQUIRE(t.peer->write_pending()); // s0 is being written; s1..s3 wait behind it
    CHECK(log->empty());
    signals[0].emit(asio::cancellation_type::terminal); // too late: its bytes are on the way
    signals[2].emit(asio::cancellation_type::terminal); // queued: removed
    t.run();
    CHECK(*log == std::vector<std::string>{"s2:" + s[2].ec().message()});
    CHECK(s[2].ec() == asio::error::operation_aborted);
    CHECK_FALSE(s[0].done());
    t.peer->block_writes(false);
    t.run();
    CHECK(*log == std::vector<std::string>{"s2:" + s[2].ec().message(), "s0:ok", "s1:ok", "s3:ok"});
    CHECK(t.data_lines() == std::vector<std::string>{"s0", "s1", "s3"});
    for (auto& x : s) {
        CHECK(x.calls() == 1);
        CHECK_FALSE(x.was_inline());
    }
    CHECK_FALSE(run.done());
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: close() from inside a handler ends the run with operation_aborted",
          "[virtual][lifetime]") {
    recorder run, sent, late, second;
    bool closed_inside = false;
    rig t(written_options());

    SECTION("from a receive handler, with a write stuck in flight") {
        t.peer->block_writes(true);
        t.session->async_run(run.done_handler());
        t.session->async_send("stuck", sent.done_handler());
        t.session->async_receive([&](error_code ec, std::string frame) {
            CHECK_FALSE(ec);
            CHECK(frame == "x");
            t.session->close();
            closed_inside = true;
        });
        t.peer->give("x\n");
        t.run();
        CHECK(closed_inside);
        REQUIRE(run.done());
        CHECK(run.ec() == asio::error::operation_aborted);
        REQUIRE(sent.done());
        CHECK(sent.ec() == asio::error::operation_aborted);
        initiate([&] { t.session->async_receive(late.frame_handler()); });
        t.run();
        CHECK(late.ec() == asio::error::operation_aborted);
        CHECK_FALSE(late.was_inline());
    }
    SECTION("from a send handler") {
        t.session->async_run(run.done_handler());
        t.session->async_send("one", [&](error_code ec) {
            CHECK_FALSE(ec);
            t.session->close();
            closed_inside = true;
        });
        t.session->async_send("two", second.done_handler());
        t.run();
        CHECK(closed_inside);
        REQUIRE(run.done());
        CHECK(run.ec() == asio::error::operation_aborted);
        CHECK(second.calls() == 1); // written or aborted, but completed once
        REQUIRE_FALSE(t.data_lines().empty());
        CHECK(t.data_lines().front() == "one");
    }
    CHECK(run.calls() == 1);
    CHECK(t.peer->closed);
    t.advance(1s); // nothing else happens
    CHECK(run.calls() == 1);
}

TEST_CASE("virtual: frames read in one burst are taken in order, by try_receive or later "
          "receives, and the PINGs among them are answered in that turn",
          "[virtual][order]") {
    rig t(still_options());
    recorder run;
    t.session->async_run(run.done_handler());
    std::vector<std::string> got;
    std::size_t frames_counted = 0;
    std::size_t pongs_in_handler = 0;
    const bool drain = GENERATE(false, true);
    INFO((drain ? "the handler drains the burst with try_receive"
                : "the handler takes one frame; later receives take the rest"));
    t.session->async_receive([&](error_code ec, std::string frame) {
        REQUIRE_FALSE(ec);
        got.push_back(frame);
        while (drain && t.session->try_receive(frame))
            got.push_back(frame);
        frames_counted = t.session->statistics().frames_received;
        pongs_in_handler = t.times_of("PONG").size();
    });
    t.peer->give("a\nPING\nb\nc\nPING\nd\n");
    run_ready(t.io()); // the session's turns alone: the far end does not act in between
    CHECK(got ==
          (drain ? std::vector<std::string>{"a", "b", "c", "d"} : std::vector<std::string>{"a"}));
    CHECK(frames_counted == got.size());
    CHECK(pongs_in_handler == 0);
    t.run();
    // The PINGs were decoded in the read's turn, and answered by its write.
    CHECK(t.times_of("PONG").size() >= 1);
    CHECK(t.session->statistics().pings_received == 2u);
    // What the handler left is held, in order, ahead of what the peer sends next; the reader
    // reads on.
    t.peer->give("e\n");
    t.run();
    while (got.size() < 5) {
        recorder r;
        initiate([&] { t.session->async_receive(r.frame_handler()); });
        t.run();
        REQUIRE(r.done());
        REQUIRE_FALSE(r.ec());
        CHECK_FALSE(r.was_inline());
        got.push_back(r.frame());
    }
    CHECK(got == std::vector<std::string>{"a", "b", "c", "d", "e"});
    CHECK(t.session->statistics().frames_received == 5u);
    CHECK_FALSE(run.done());
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: frames read with the one a handler was given survive what the handler does",
          "[virtual][order]") {
    heartbeat::options o = still_options();
    o.max_frame_size = 8;
    rig t(o);
    recorder run;
    asio::cancellation_signal cancel_run;
    t.session->async_run(asio::bind_cancellation_slot(cancel_run.slot(), run.done_handler()));
    std::vector<std::string> rest;
    std::vector<error_code> ends;
    std::function<void()> receive_rest = [&] {
        t.session->async_receive([&](error_code ec, std::string frame) {
            if (ec) {
                ends.push_back(ec);
                return;
            }
            rest.push_back(frame);
            receive_rest();
        });
    };

    // The handler ends the session; the frames read with its own are still delivered, then
    // the reason.
    auto ended_by_handler = [&](const std::function<void()>& end) {
        t.session->async_receive([&](error_code ec, std::string frame) {
            REQUIRE_FALSE(ec);
            CHECK(frame == "a");
            end();
        });
        t.peer->give("a\nb\nc\n");
        t.run();
        REQUIRE(run.done());
        CHECK(run.ec() == asio::error::operation_aborted);
        receive_rest();
        t.run();
        CHECK(rest == std::vector<std::string>{"b", "c"});
        CHECK(ends == std::vector<error_code>{asio::error::operation_aborted});
    };
    SECTION("it calls close()") {
        ended_by_handler([&] { t.session->close(); });
    }
    SECTION("it cancels the run, which ends the session within that turn") {
        ended_by_handler([&] { cancel_run.emit(asio::cancellation_type::terminal); });
    }
    SECTION("the bytes after them are invalid: the frames come first, then the error") {
        t.session->async_receive([&](error_code ec, std::string frame) {
            REQUIRE_FALSE(ec);
            CHECK(frame == "a");
        });
        t.peer->give("a\nb\nc\n" + std::string(20, 'x') + "\n");
        t.run();
        REQUIRE(run.done());
        CHECK(run.ec() == heartbeat::error::frame_too_large);
        receive_rest();
        t.run();
        CHECK(rest == std::vector<std::string>{"b", "c"});
        CHECK(ends == std::vector<error_code>{heartbeat::error::frame_too_large});
    }
#if HEARTBEAT_HAS_EXCEPTIONS
    SECTION("it throws: the frames wait for the next receive, and the reader reads on") {
        struct thrown_by_handler {};
        t.session->async_receive([&](error_code, std::string) { throw thrown_by_handler(); });
        t.peer->give("a\nb\nPING\nc\n");
        int thrown = 0;
        for (int i = 0; i < 3; ++i) {
            try {
                t.run();
                break;
            } catch (const thrown_by_handler&) {
                ++thrown;
            }
        }
        CHECK(thrown == 1);
        CHECK(t.times_of("PONG").size() == 1);
        t.peer->give("d\n");
        receive_rest();
        t.run();
        CHECK(rest == std::vector<std::string>{"b", "c", "d"});
        CHECK_FALSE(run.done());
        t.session->close();
        t.run();
        CHECK(run.ec() == asio::error::operation_aborted);
    }
#endif
}

TEST_CASE("virtual: no completion is ever invoked from inside its initiating function",
          "[virtual][lifetime]") {
    heartbeat::options o = still_options();
    o.max_frame_size = 16;
    rig t(o);
    std::vector<recorder> all;
    auto rec = [&] {
        all.emplace_back();
        return all.back();
    };
    recorder run = rec(), second_run = rec(), too_large = rec(), invalid = rec(), fine = rec(),
             r0 = rec(), r1 = rec(), r2 = rec(), late_send = rec(), third_run = rec(),
             never_ran = rec();
    initiate([&] {
        t.session->async_run(run.done_handler());
        t.session->async_run(second_run.done_handler());
        t.session->async_send(std::string(17, 'x'), too_large.done_handler());
        t.session->async_send("a\nb", invalid.done_handler());
        t.session->async_send("fine", fine.done_handler());
        t.session->async_receive(r0.frame_handler());
    });
    t.peer->give("one\ntwo\n");
    t.run();
    initiate([&] { t.session->async_receive(r1.frame_handler()); }); // "two" is held
    initiate([&] { t.session->close(); });
    t.run();
    initiate([&] {
        t.session->async_receive(r2.frame_handler());
        t.session->async_send("late", late_send.done_handler());
        t.session->async_run(third_run.done_handler());
    });
    // A session closed before it ran.
    auto peer2 = std::make_shared<memory_peer>(t.io().get_executor());
    vsession unran(memory_stream(t.io().get_executor(), peer2), o);
    unran.close();
    t.run();
    initiate([&] { unran.async_run(never_ran.done_handler()); });
    t.run();

    for (std::size_t i = 0; i < all.size(); ++i) {
        INFO("completion " << i);
        CHECK(all[i].calls() == 1);
        CHECK_FALSE(all[i].was_inline());
    }
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(second_run.ec() == heartbeat::error::already_running);
    CHECK(too_large.ec() == heartbeat::error::frame_too_large);
    CHECK(invalid.ec() == heartbeat::error::invalid_frame);
    CHECK_FALSE(fine.ec());
    CHECK(r0.frame() == "one");
    CHECK(r1.frame() == "two");
    CHECK(r2.ec() == asio::error::operation_aborted);
    CHECK(late_send.ec() == asio::error::operation_aborted);
    CHECK(third_run.ec() == heartbeat::error::already_running);
    CHECK(never_ran.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: after the peer's EOF the replies still go out, then the run ends with eof",
          "[virtual][half_close]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    o.read_timeout = 400ms;
    o.shutdown_timeout = 1000ms;
    // The application: replies to each request until its receive reports the EOF.
    std::vector<std::string> got;
    error_code end;
    std::function<void()> receive;
    rig t(o);
    t.auto_pong = true;
    receive = [&] {
        t.session->async_receive([&](error_code ec, std::string frame) {
            if (ec) {
                end = ec;
                return;
            }
            got.push_back(frame);
            t.session->async_send("re:" + frame, [](error_code) {});
            receive();
        });
    };
    recorder run;
    t.session->async_run(run.done_handler());
    receive();
    t.advance(150ms);
    t.peer->block_writes(true); // the replies will wait
    t.peer->give("q1\nq2\n");
    t.peer->end_of_stream();
    t.run();
    CHECK(got == std::vector<std::string>{"q1", "q2"});
    CHECK(end == asio::error::eof);
    // Longer than read_timeout and shutdown_timeout: the read deadline no longer applies, and
    // the application took the EOF; only the replies are awaited.
    t.advance(1500ms);
    CHECK_FALSE(run.done());
    t.peer->block_writes(false);
    t.run();
    REQUIRE(run.done());
    CHECK(run.ec() == asio::error::eof);
    CHECK(t.data_lines() == std::vector<std::string>{"re:q1", "re:q2"});
    CHECK(t.peer->closed);
}

// =============================================================================================
// Sends: accepted below the high-water mark, else completed once written; async_flush.

namespace {
/// `count` lines "line0".."line<count-1>", each ending in '\n'.
std::string numbered_lines(int count) {
    std::string s;
    for (int i = 0; i < count; ++i)
        s += "line" + std::to_string(i) + "\n";
    return s;
}
std::vector<std::string> numbered(int count) {
    std::vector<std::string> v;
    for (int i = 0; i < count; ++i)
        v.push_back("line" + std::to_string(i));
    return v;
}
} // namespace

TEST_CASE("virtual: an awaited receive-then-send loop answers a burst with one write",
          "[virtual][send]") {
    rig t(still_options());
    recorder run;
    t.session->async_run(run.done_handler());
    int echoed = 0;
    bool inline_send = false;
    std::function<void()> echo = [&] {
        t.session->async_receive([&](error_code ec, std::string frame) {
            if (ec)
                return;
            initiate([&] {
                t.session->async_send(std::move(frame), [&](error_code ec) {
                    CHECK_FALSE(ec);
                    inline_send = inline_send || initiating();
                    ++echoed;
                    echo();
                });
            });
        });
    };
    echo();
    t.run();
    const std::size_t writes_before = t.peer->writes;
    t.peer->give(numbered_lines(60)); // 410 bytes: one read
    t.run();
    CHECK(echoed == 60);
    CHECK_FALSE(inline_send);
    CHECK(t.data_lines() == numbered(60));
    // Every send was accepted at once, so the turn's end wrote all sixty echoes together.
    CHECK(t.peer->writes - writes_before == 1u);
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

#if defined(HBT_HAS_CO_AWAIT)
TEST_CASE("virtual: a co_await receive-then-send loop answers a burst with one write",
          "[virtual][send][coroutines]") {
    rig t(still_options());
    recorder run;
    t.session->async_run(run.done_handler());
    int echoed = 0;
    error_code ended;
    asio::co_spawn(
        t.io(),
        [&]() -> asio::awaitable<void> {
            for (;;) {
                error_code ec;
                std::string frame = co_await t.session->async_receive(
                    asio::redirect_error(asio::use_awaitable, ec));
                if (!ec)
                    co_await t.session->async_send(std::move(frame),
                                                   asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    ended = ec;
                    co_return;
                }
                ++echoed;
            }
        },
        asio::detached);
    t.run();
    const std::size_t writes_before = t.peer->writes;
    t.peer->give(numbered_lines(60));
    t.run();
    CHECK(echoed == 60);
    CHECK(t.data_lines() == numbered(60));
    CHECK(t.peer->writes - writes_before == 1u);
    t.session->close();
    t.run();
    CHECK(ended == asio::error::operation_aborted);
    CHECK(run.ec() == asio::error::operation_aborted);
}
#endif

TEST_CASE("virtual: sends are accepted below the high-water mark, then wait for their write, "
          "completing in call order",
          "[virtual][send][order]") {
    heartbeat::options o = still_options();
    // A frame of 60 bytes counts 61 with its '\n', and 64 more for the buffer it starts: the
    // first two sends find fewer than 200 bytes queued, the third 250.
    o.send_high_water_mark = 200;
    rig t(o);
    t.peer->block_writes(true);
    auto log = std::make_shared<std::vector<std::string>>();
    recorder run;
    t.session->async_run(run.done_handler());
    std::vector<recorder> s;
    s.reserve(6);
    for (int i = 0; i < 5; ++i) {
        s.emplace_back(log, "s" + std::to_string(i));
        initiate([&] {
            t.session->async_send(std::string(60, static_cast<char>('a' + i)),
                                  s.back().done_handler());
        });
    }
    t.run();
    REQUIRE(t.peer->write_pending());
    CHECK(*log == std::vector<std::string>{"s0:ok", "s1:ok"});
    // Nothing is written yet: the writes are stuck, the rest wait behind them.
    t.advance(1s);
    CHECK(log->size() == 2u);
    t.peer->block_writes(false);
    t.run();
    CHECK(*log == std::vector<std::string>{"s0:ok", "s1:ok", "s2:ok", "s3:ok", "s4:ok"});
    REQUIRE(t.data_lines().size() == 5u);
    for (int i = 0; i < 5; ++i)
        CHECK(t.data_lines()[i] == std::string(60, static_cast<char>('a' + i)));
    // Drained: the next send is accepted at once again, even with the writes stuck.
    t.peer->block_writes(true);
    s.emplace_back(log, "s5");
    initiate([&] { t.session->async_send("again", s.back().done_handler()); });
    t.run();
    CHECK(log->back() == "s5:ok");
    for (auto& x : s) {
        CHECK(x.calls() == 1);
        CHECK_FALSE(x.was_inline());
    }
    CHECK(t.session->statistics().frames_sent == 5u);
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: a peer that stops reading stalls an awaited send loop at the high-water "
          "mark, and write_timeout ends it",
          "[virtual][send][liveness][write]") {
    heartbeat::options o = still_options();
    o.write_timeout = 200ms;
    o.send_high_water_mark = 4096;
    rig t(o);
    t.peer->block_writes(true);
    recorder run;
    t.session->async_run(run.done_handler());
    int accepted = 0;
    error_code last;
    const std::string frame(1000, 'p');
    std::function<void()> produce = [&] {
        t.session->async_send(frame, [&](error_code ec) {
            if (ec) {
                last = ec;
                return;
            }
            ++accepted;
            produce();
        });
    };
    produce();
    t.run();
    // It ran ahead of the stuck socket by the mark (and one frame), then waited.
    CHECK(accepted >= 3);
    CHECK(static_cast<std::size_t>(accepted) * (frame.size() + 1) <=
          o.send_high_water_mark + frame.size() + 1);
    const int stalled_at = accepted;
    t.advance(100ms);
    CHECK(accepted == stalled_at);
    CHECK_FALSE(run.done());
    REQUIRE(t.advance_until([&] { return run.done(); }, 200ms));
    CHECK(run.ec() == heartbeat::error::write_timeout);
    t.run();
    CHECK(last == heartbeat::error::write_timeout); // the waiting send learns why
    CHECK(accepted == stalled_at);
}

TEST_CASE("virtual: async_flush completes once everything queued before it is written",
          "[virtual][send][flush]") {
    auto log = std::make_shared<std::vector<std::string>>();
    recorder run, sent(log, "sent"), flushed(log, "flushed"), after(log, "after");
    rig t(still_options());
    t.session->async_run(run.done_handler());

    SECTION("behind async_send and try_send frames; a later send waits behind it") {
        t.peer->block_writes(true);
        initiate([&] {
            t.session->async_send("a", sent.done_handler());
            CHECK_FALSE(t.session->try_send("b"));
            t.session->async_flush(flushed.done_handler());
            t.session->async_send("c", after.done_handler());
        });
        t.run();
        CHECK(*log == std::vector<std::string>{"sent:ok"});
        t.advance(1s);
        CHECK(log->size() == 1u);
        t.peer->block_writes(false);
        t.run();
        CHECK(*log == std::vector<std::string>{"sent:ok", "flushed:ok", "after:ok"});
        CHECK(t.data_lines() == std::vector<std::string>{"a", "b", "c"});
        CHECK(t.session->statistics().frames_sent == 3u); // the flush is no frame
    }
    SECTION("with nothing queued: at once, never inline") {
        initiate([&] { t.session->async_flush(flushed.done_handler()); });
        CHECK_FALSE(flushed.done());
        t.run();
        CHECK(flushed.ec() == error_code());
        CHECK(t.data_lines().empty());
    }
    SECTION("cancelled while it waits; the session runs on") {
        t.peer->block_writes(true);
        asio::cancellation_signal signal;
        initiate([&] {
            t.session->async_send("a", sent.done_handler());
            t.session->async_flush(
                asio::bind_cancellation_slot(signal.slot(), flushed.done_handler()));
        });
        t.run();
        CHECK_FALSE(flushed.done());
        signal.emit(asio::cancellation_type::terminal);
        t.run();
        CHECK(flushed.ec() == asio::error::operation_aborted);
        t.peer->block_writes(false);
        t.run();
        CHECK(t.data_lines() == std::vector<std::string>{"a"});
        CHECK_FALSE(run.done());
    }
    SECTION("queued before a write that then sticks: it never joins the write, so it can be "
            "cancelled") {
        asio::cancellation_signal signal;
        rig u(still_options());
        u.peer->block_writes(true);
        recorder run2, flushed2;
        u.session->async_send("a", [](error_code ec) { CHECK_FALSE(ec); });
        u.session->async_flush(
            asio::bind_cancellation_slot(signal.slot(), flushed2.done_handler()));
        u.session->async_run(run2.done_handler()); // writes "a" and sticks
        u.run();
        REQUIRE(u.peer->write_pending());
        signal.emit(asio::cancellation_type::terminal);
        u.run();
        CHECK(flushed2.ec() == asio::error::operation_aborted);
        u.peer->block_writes(false);
        u.run();
        CHECK(u.data_lines() == std::vector<std::string>{"a"});
        u.session->close();
        u.run();
        CHECK(run2.ec() == asio::error::operation_aborted);
    }
    SECTION("the session ends first, or had ended: the end reason") {
        t.peer->block_writes(true);
        initiate([&] {
            t.session->async_send("a", sent.done_handler());
            t.session->async_flush(flushed.done_handler());
        });
        t.run();
        t.session->close();
        t.run();
        CHECK(flushed.ec() == asio::error::operation_aborted);
        initiate([&] { t.session->async_flush(after.done_handler()); });
        t.run();
        CHECK(after.ec() == asio::error::operation_aborted);
        CHECK_FALSE(after.was_inline());
    }
    for (const recorder* x : {&sent, &flushed, &after})
        CHECK(x->calls() <= 1);
    t.session->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("virtual: async_flush with nothing to write does not postpone the PING",
          "[virtual][send][flush][liveness]") {
    heartbeat::options o = still_options();
    o.ping_interval = 100ms;
    rig t(o);
    recorder run;
    t.session->async_run(run.done_handler());
    // A flush every 10 ms writes nothing: the peer hears only the PINGs, which must keep their
    // interval (the first comes after 50-100 % of it, later ones up to 5 % early).
    int flushes = 0;
    for (int i = 0; i < 40; ++i) {
        t.session->async_flush([&](error_code ec) {
            CHECK_FALSE(ec);
            ++flushes;
        });
        t.advance(10ms);
    }
    CHECK(flushes == 40);
    const auto pings = t.times_of("PING");
    REQUIRE(pings.size() >= 3u);
    for (std::size_t i = 1; i < pings.size(); ++i)
        CHECK(pings[i] - pings[i - 1] <= o.ping_interval + tick(o) + 10ms);
    CHECK(t.data_lines().empty());
    t.session->close();
    t.run();
}

// =============================================================================================
// Lifetime.

TEST_CASE("virtual: a pending operation keeps its handler's io_context running until it ran",
          "[virtual][lifetime]") {
    rig t(written_options());
    recorder run, received, sent;
    SECTION("before the run, on the session's own io_context") {
        // Nothing of the session is pending yet but the two operations: they are the work.
        t.session->async_receive(received.frame_handler());
        t.session->async_send("early", sent.done_handler());
        t.run();
        CHECK_FALSE(t.io().stopped());
        t.session->close();
        t.run();
        CHECK(received.ec() == asio::error::operation_aborted);
        CHECK(sent.ec() == asio::error::operation_aborted);
        CHECK(t.io().stopped()); // and nothing is left
    }
    SECTION("during the run, a handler bound to another io_context") {
        asio::io_context other;
        t.session->async_run(run.done_handler());
        t.session->async_receive(asio::bind_executor(other, received.frame_handler()));
        t.run();
        CHECK(other.poll() == 0);
        CHECK_FALSE(other.stopped()); // the receive waits: work on its handler's context
        t.peer->give("hello\n");
        t.run();
        CHECK_FALSE(received.done()); // dispatched to the other context
        CHECK(other.poll() == 1);
        CHECK(received.frame() == "hello");
        CHECK(other.stopped()); // its work ended with it
        t.session->close();
        t.run();
        CHECK(run.ec() == asio::error::operation_aborted);
    }
}

TEST_CASE("virtual: destroying the session with operations pending completes each once, then "
          "frees it",
          "[virtual][lifetime]") {
    rig t(written_options());
    t.peer->block_writes(true);
    recorder run, received, first, second;
    t.session->async_run(run.done_handler());
    t.session->async_receive(received.frame_handler());
    t.session->async_send("first", first.done_handler());   // being written
    t.session->async_send("second", second.done_handler()); // queued
    t.run();
    REQUIRE(t.peer->write_pending());
    REQUIRE(t.peer->read_pending());
    CHECK(t.peer.use_count() == 2); // the test's and the session's stream
    initiate([&] { t.session.reset(); });
    // Nothing ran from inside the destructor.
    CHECK_FALSE(run.done());
    CHECK_FALSE(received.done());
    CHECK_FALSE(first.done());
    CHECK_FALSE(second.done());
    t.run();
    for (const recorder* x : {&run, &received, &first, &second}) {
        CHECK(x->calls() == 1);
        CHECK_FALSE(x->was_inline());
        CHECK(x->ec() == asio::error::operation_aborted);
    }
    CHECK(t.peer->closed);
    CHECK(t.peer.use_count() == 1); // the state, and the stream it owned, are gone
}

TEST_CASE("virtual: destroying the io_context with operations pending frees everything",
          "[virtual][lifetime]") {
    virtual_time_scope vt;
    std::weak_ptr<vsession> session_alive;
    std::weak_ptr<int> token_alive;
    std::weak_ptr<memory_peer> peer_alive;
    const bool self_owned = GENERATE(false, true);
    INFO((self_owned ? "a session owned by its own run handler" : "the handle destroyed first"));
    {
        std::optional<asio::io_context> io(std::in_place);
        auto peer = std::make_shared<memory_peer>(io->get_executor());
        peer->block_writes(true);
        heartbeat::options o;
        o.ping_interval = 100ms;
        o.read_timeout = 400ms;
        auto session = std::make_shared<vsession>(memory_stream(io->get_executor(), peer), o);
        auto token = std::make_shared<int>(0);
        if (self_owned)
            session->async_run([session, token](error_code) {});
        else
            session->async_run([token](error_code) {});
        session->async_receive([token](error_code, std::string) {});
        session->async_send("never written", [token](error_code) {});
        advance_and_run(*io, 150ms); // a PING joins the stuck write's queue, timers wait
        REQUIRE(peer->read_pending());
        REQUIRE(peer->write_pending());
        session_alive = session;
        token_alive = token;
        peer_alive = peer;
        token.reset();
        session.reset(); // posts its end when it was the last handle; never run
        CHECK(self_owned != session_alive.expired());
        io.reset(); // destroyed without running again
        CHECK(session_alive.expired());
        CHECK(token_alive.expired()); // every handler, and what it held, destroyed
        CHECK(peer.use_count() == 1); // the session's stream is gone
    }
    CHECK(peer_alive.expired());
}

} // namespace hbt
