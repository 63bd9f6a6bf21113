// reconnecting_client: the backoff as pure logic, then whole clients in virtual time over
// in-memory streams (tests/memory_stream.hpp, tests/virtual_time.hpp): attempts, waits, giving
// up, the queue of frames sent while disconnected, receives across sessions, cancellation,
// close() and destruction at every stage, and make-before-break. Nothing sleeps; every time is
// checked exactly or to the session's documented tick.
#include "memory_stream.hpp"
#include "support.hpp"
#include "virtual_time.hpp"

#include <heartbeat/detail/backoff.hpp>
#include <heartbeat/detail/liveness.hpp> // tick_for

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/use_future.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif
#else
#include <asio/use_future.hpp>
#if defined(ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#endif
#endif

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hbt {
namespace {

using vclock = manual_clock;
using vtime = manual_clock::time_point;
using client_type = heartbeat::reconnecting_client<memory_stream, heartbeat::line_framing, vclock>;
using event = heartbeat::reconnect_event;
using kind = heartbeat::reconnect_event::kind;

// ---------------------------------------------------------------------------------------------
// A scripted server: each connect attempt is accepted, refused, or left hanging (until its
// cancellation slot fires, or `delay` of virtual time passes).

struct fake_server {
    enum class mode { accept, refuse, hang };

    explicit fake_server(asio::io_context& io)
        : io(io) {}

    asio::io_context& io;
    mode m = mode::accept;
    vclock::duration delay = vclock::duration::zero(); // for accept: connect time
    std::vector<vtime> attempts;                       // when each attempt started
    std::vector<std::shared_ptr<memory_peer>> peers;   // one per accepted connection
    std::size_t cancelled = 0;                         // attempts ended by their slot
    bool honour_slot = true;
    bool close_at_once = false; // accept, then reset the connection at once (a bad balancer)
    std::string greeting;       // what each accepted peer sends first (nothing: a frozen peer)

    heartbeat::connect_handler<memory_stream>::executor_type ex() { return io.get_executor(); }

    memory_stream dead_stream() { return memory_stream(ex(), std::make_shared<memory_peer>(ex())); }

    void connect(heartbeat::connect_handler<memory_stream> done) {
        attempts.push_back(vclock::now());
        if (m == mode::refuse) {
            done(asio::error::connection_refused, dead_stream()); // inline: allowed
            return;
        }
        if (m == mode::accept && delay == vclock::duration::zero()) {
            accept(std::move(done));
            return;
        }
        // Pending until the delay passes (accept) or forever (hang), or cancelled.
        auto timer = std::make_shared<asio::basic_waitable_timer<vclock>>(io);
        if (m == mode::hang)
            timer->expires_after(std::chrono::hours(24));
        else
            timer->expires_after(delay);
        auto slot = done.get_cancellation_slot();
        auto on_wait = [this, timer, done = std::move(done)](error_code ec) mutable {
            if (ec) {
                ++cancelled;
                done(asio::error::operation_aborted, dead_stream());
                return;
            }
            accept(std::move(done));
        };
        if (honour_slot)
            timer->async_wait(asio::bind_cancellation_slot(slot, std::move(on_wait)));
        else
            timer->async_wait(std::move(on_wait));
    }

    void accept(heartbeat::connect_handler<memory_stream> done) {
        auto p = std::make_shared<memory_peer>(ex());
        peers.push_back(p);
        if (close_at_once)
            p->fail_reads(asio::error::connection_reset);
        else if (!greeting.empty())
            p->give(greeting);
        done({}, memory_stream(ex(), p));
    }

    client_type::connect_function function() {
        return [this](heartbeat::connect_handler<memory_stream> done) {
            connect(std::move(done));
        };
    }
};

struct seen_event {
    event e;
    vtime at;
    bool inline_call;
};

/// The rig: virtual time, an io_context, a fake server, a client and its recorded events.
class rig {
public:
    explicit rig(heartbeat::reconnect_options ro = quiet_reconnect(),
                 heartbeat::options so = still_session())
        : server(io) {
        client.emplace(io.get_executor(), server.function(), ro, so);
        client->set_observer([this](const event& e) {
            events.push_back({e, vclock::now(), initiating()});
        });
    }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;
    ~rig() {
        client.reset();
#if HEARTBEAT_HAS_EXCEPTIONS
        try {
            run_ready(io);
        } catch (...) {
        }
#else
        run_ready(io);
#endif
    }

    /// Reconnect options for tests: no jitter (exact waits), 1 s initial, x2, 8 s cap.
    static heartbeat::reconnect_options quiet_reconnect() {
        heartbeat::reconnect_options o;
        o.initial_backoff = std::chrono::seconds(1);
        o.backoff_multiplier = 2.0;
        o.max_backoff = std::chrono::seconds(8);
        o.jitter = false;
        o.connect_timeout = std::chrono::seconds(5);
        return o;
    }
    /// Sessions with every clock off: they end only when the test says so.
    static heartbeat::options still_session() {
        heartbeat::options o;
        o.ping_interval = 0ms;
        o.read_timeout = 0ms;
        o.write_timeout = 0ms;
        return o;
    }

    /// Replaces the client with one that connects through `connect`.
    void use_connect(client_type::connect_function connect,
                     heartbeat::reconnect_options ro = quiet_reconnect(),
                     heartbeat::options so = still_session()) {
        client.reset();
        run_ready(io);
        events.clear();
        client.emplace(io.get_executor(), std::move(connect), ro, so);
        client->set_observer([this](const event& e) {
            events.push_back({e, vclock::now(), initiating()});
        });
    }

    void run() {
        run_ready(io);
    }
    void advance(vclock::duration d, vclock::duration step = 1ms) {
        advance_and_run(io, d, step);
    }
    template <class Pred>
    bool advance_until(Pred p, vclock::duration limit, vclock::duration step = 1ms) {
        return hbt::advance_until(io, p, limit, step);
    }

    std::vector<kind> kinds() const {
        std::vector<kind> v;
        for (const auto& s : events)
            v.push_back(s.e.what);
        return v;
    }
    std::size_t count(kind k) const {
        std::size_t n = 0;
        for (const auto& s : events)
            n += s.e.what == k;
        return n;
    }
    const seen_event* last(kind k) const {
        for (auto it = events.rbegin(); it != events.rend(); ++it)
            if (it->e.what == k)
                return &*it;
        return nullptr;
    }

    /// Lines the session over `peer` wrote, heartbeats left out.
    static std::vector<std::string> lines(memory_peer& peer) {
        std::vector<std::string> v;
        std::string cur;
        for (char c : peer.outbound) {
            if (c == '\n') {
                if (cur != "PING" && cur != "PONG")
                    v.push_back(cur);
                cur.clear();
            } else {
                cur += c;
            }
        }
        return v;
    }

private:
    virtual_time_scope vt_;

public:
    asio::io_context io;
    fake_server server;
    std::optional<client_type> client;
    std::vector<seen_event> events;
};

struct done_rec {
    std::shared_ptr<std::vector<error_code>> calls = std::make_shared<std::vector<error_code>>();
    std::shared_ptr<bool> inline_call = std::make_shared<bool>(false);
    auto handler() const {
        return [c = calls, i = inline_call](error_code ec) {
            c->push_back(ec);
            *i = *i || initiating();
        };
    }
    bool done() const { return !calls->empty(); }
    error_code ec() const { return calls->empty() ? error_code() : calls->back(); }
};

struct frame_rec {
    struct result {
        error_code ec;
        std::string frame;
    };
    std::shared_ptr<std::vector<result>> calls = std::make_shared<std::vector<result>>();
    std::shared_ptr<bool> inline_call = std::make_shared<bool>(false);
    auto handler() const {
        return [c = calls, i = inline_call](error_code ec, std::string f) {
            c->push_back({ec, std::move(f)});
            *i = *i || initiating();
        };
    }
    bool done() const { return !calls->empty(); }
    error_code ec() const { return calls->empty() ? error_code() : calls->back().ec; }
    std::string frame() const { return calls->empty() ? std::string() : calls->back().frame; }
};

} // namespace

// =============================================================================================
// The backoff, as pure logic.

TEST_CASE("backoff: the bound grows by the multiplier from the initial wait up to the cap",
          "[reconnect][backoff]") {
    using ms = std::chrono::milliseconds;
    heartbeat::detail::backoff b(ms(1000), 1.6, ms(120000), true, 42);
    CHECK(b.ceiling(0) == ms(1000));
    CHECK(b.ceiling(1) == ms(1600));
    CHECK(b.ceiling(2) == ms(2560));
    CHECK(b.ceiling(3) == ms(4096));
    // 1000 x 1.6^10 = 109,951 ms; 1.6^11 passes the cap.
    CHECK(b.ceiling(10) == ms(109951));
    CHECK(b.ceiling(11) == ms(120000));
    CHECK(b.ceiling(1000) == ms(120000)); // no overflow however long the outage
    CHECK(b.ceiling(static_cast<std::size_t>(-1)) == ms(120000));
    heartbeat::detail::backoff flat(ms(500), 1.0, ms(500), true, 1);
    CHECK(flat.ceiling(7) == ms(500));
}

TEST_CASE("backoff: full jitter draws every wait from [0, bound], spread over the whole window",
          "[reconnect][backoff]") {
    using ms = std::chrono::milliseconds;
    heartbeat::detail::backoff b(ms(1000), 1.6, ms(120000), true, 7);
    for (std::size_t n = 0; n < 14; ++n) {
        for (int i = 0; i < 200; ++i) {
            const ms d = b.delay(n);
            CHECK(d >= ms(0));
            CHECK(d <= b.ceiling(n));
        }
    }
    // 10,000 draws of the first wait: each tenth of [0, 1 s] gets its share (1,000 +- 20 %).
    std::array<int, 10> deciles{};
    double sum = 0;
    for (int i = 0; i < 10000; ++i) {
        const auto d = b.delay(0).count();
        ++deciles[static_cast<std::size_t>(std::min<long long>(d / 100, 9))];
        sum += static_cast<double>(d);
    }
    for (int count : deciles) {
        CHECK(count > 800);
        CHECK(count < 1200);
    }
    CHECK(sum / 10000 > 450);
    CHECK(sum / 10000 < 550);
}

TEST_CASE("backoff: without jitter every wait is its bound, and a seed reproduces a sequence",
          "[reconnect][backoff]") {
    using ms = std::chrono::milliseconds;
    heartbeat::detail::backoff exact(ms(1000), 2.0, ms(8000), false, 3);
    CHECK(exact.delay(0) == ms(1000));
    CHECK(exact.delay(1) == ms(2000));
    CHECK(exact.delay(3) == ms(8000));
    CHECK(exact.delay(9) == ms(8000));
    heartbeat::detail::backoff a(ms(1000), 1.6, ms(120000), true, 99);
    heartbeat::detail::backoff b(ms(1000), 1.6, ms(120000), true, 99);
    heartbeat::detail::backoff c(ms(1000), 1.6, ms(120000), true, 100);
    bool differs = false;
    for (std::size_t n = 0; n < 20; ++n) {
        const ms x = a.delay(n);
        CHECK(x == b.delay(n));
        differs = differs || x != c.delay(n);
    }
    CHECK(differs);
}

TEST_CASE("reconnect_options: defaults, and first_invalid names each bad field",
          "[reconnect][options]") {
    const heartbeat::reconnect_options d;
    CHECK(d.initial_backoff == std::chrono::seconds(1));
    CHECK(d.backoff_multiplier == 1.6);
    CHECK(d.max_backoff == std::chrono::seconds(120));
    CHECK(d.jitter);
    CHECK(d.jitter_seed == 0u);
    CHECK(d.max_attempts == 0u);
    CHECK(d.connect_timeout == std::chrono::seconds(20));
    CHECK(d.queue_limit == 1024u * 1024u);
    CHECK_FALSE(d.make_before_break);
    CHECK_FALSE(d.keep_spare);
    CHECK_FALSE(d.first_invalid());

    const auto field = [](auto change) {
        heartbeat::reconnect_options o;
        change(o);
        const heartbeat::invalid_setting bad = o.first_invalid();
        return std::string(bad ? bad.field : "");
    };
    using o_t = heartbeat::reconnect_options;
    CHECK(field([](o_t& o) { o.initial_backoff = 0ms; }) == "initial_backoff");
    CHECK(field([](o_t& o) { o.initial_backoff = -1ms; }) == "initial_backoff");
    CHECK(field([](o_t& o) { o.backoff_multiplier = 0.5; }) == "backoff_multiplier");
    CHECK(field([](o_t& o) { o.backoff_multiplier = std::numeric_limits<double>::infinity(); }) ==
          "backoff_multiplier");
    CHECK(field([](o_t& o) { o.backoff_multiplier = std::numeric_limits<double>::quiet_NaN(); }) ==
          "backoff_multiplier");
    CHECK(field([](o_t& o) { o.max_backoff = 500ms; }) == "max_backoff");
    CHECK(field([](o_t& o) { o.connect_timeout = -1ms; }) == "connect_timeout");
    CHECK(field([](o_t& o) { o.keep_spare = true; }) == "keep_spare");
    CHECK(field([](o_t& o) {
              o.keep_spare = true;
              o.make_before_break = true;
          }) == "");
    CHECK(field([](o_t& o) { o.backoff_multiplier = 1.0; }) == "");
#if HEARTBEAT_HAS_EXCEPTIONS
    heartbeat::reconnect_options bad;
    bad.max_backoff = 1ms;
    CHECK_THROWS_WITH(bad.validate(), "heartbeat::reconnect_options::max_backoff: must be at "
                                      "least initial_backoff");
#endif
}

TEST_CASE("reconnect errors: their messages, in the library's category", "[reconnect][error]") {
    const error_code full = heartbeat::error::reconnect_queue_full;
    const error_code gave_up = heartbeat::error::gave_up;
    CHECK(full.category() == heartbeat::error_category());
    CHECK(gave_up.category() == heartbeat::error_category());
    CHECK(full.message() == "reconnect queue full: too much sent while disconnected");
    CHECK(gave_up.message() ==
          "gave up reconnecting: max_attempts connection attempts in a row failed");
    CHECK(std::string(heartbeat::to_string(kind::switched)) == "switched");
    CHECK(std::string(heartbeat::to_string(kind::backing_off)) == "backing_off");
}

// =============================================================================================
// Attempts and waits.

TEST_CASE("reconnect: connects at once, and after a session ends waits its backoff and connects "
          "again",
          "[reconnect][virtual]") {
    rig t;
    done_rec run;
    initiate([&] { t.client->async_run(run.handler()); });
    CHECK(t.server.attempts.empty()); // nothing from inside async_run
    t.run();
    REQUIRE(t.server.attempts.size() == 1u);
    CHECK(t.server.attempts[0] == vclock::origin());
    CHECK(t.client->connected());
    REQUIRE(t.client->session() != nullptr);
    CHECK(t.kinds() == std::vector<kind>{kind::connecting, kind::connected});
    for (const auto& e : t.events)
        CHECK_FALSE(e.inline_call);

    t.advance(3s);
    const vtime lost = vclock::now();
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    t.run();
    CHECK_FALSE(t.client->connected());
    REQUIRE(t.last(kind::disconnected));
    CHECK(t.last(kind::disconnected)->e.error == asio::error::connection_reset);
    REQUIRE(t.last(kind::backing_off));
    CHECK(t.last(kind::backing_off)->e.delay == 1s); // no jitter: the bound, 1 s
    CHECK(t.last(kind::backing_off)->e.attempt == 1u);
    t.advance(1s - 1ms);
    CHECK(t.server.attempts.size() == 1u); // not before the wait is over
    t.advance(1ms);
    REQUIRE(t.server.attempts.size() == 2u);
    CHECK(t.server.attempts[1] - lost == 1s);
    CHECK(t.client->connected());
    CHECK_FALSE(run.done());
    t.client->close();
    t.run();
    REQUIRE(run.done());
    CHECK(run.calls->size() == 1u);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK_FALSE(*run.inline_call);
    CHECK(t.server.peers[1]->closed);
}

TEST_CASE("reconnect: refused attempts wait min(cap, initial x multiplier^n), reported each",
          "[reconnect][virtual]") {
    rig t;
    t.server.m = fake_server::mode::refuse;
    done_rec run;
    t.client->async_run(run.handler());
    REQUIRE(t.advance_until([&] { return t.server.attempts.size() == 7; }, 60s));
    // Waits 1, 2, 4, 8, 8, 8 s (no jitter, x2, 8 s cap).
    const std::vector<vclock::duration> expected{1s, 2s, 4s, 8s, 8s, 8s};
    for (std::size_t i = 1; i < t.server.attempts.size(); ++i) {
        INFO("wait " << i);
        CHECK(t.server.attempts[i] - t.server.attempts[i - 1] == expected[i - 1]);
    }
    // Each attempt: connecting, connect_failed, backing_off, numbered 1, 2, ...
    std::size_t n = 0;
    for (const auto& e : t.events) {
        if (e.e.what == kind::connecting)
            CHECK(e.e.attempt == ++n);
        if (e.e.what == kind::connect_failed) {
            CHECK(e.e.attempt == n);
            CHECK(e.e.error == asio::error::connection_refused);
        }
        if (e.e.what == kind::backing_off)
            CHECK(e.e.attempt == n + 1);
    }
    CHECK(n == 7u);
    // It connects when the server is back, and a later loss (once the session stayed up
    // initial_backoff) starts again from the initial wait.
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 10s));
    t.advance(1s);
    t.server.peers.back()->fail_reads(asio::error::connection_reset);
    t.run();
    REQUIRE(t.last(kind::backing_off));
    CHECK(t.last(kind::backing_off)->e.delay == 1s);
    CHECK(t.last(kind::backing_off)->e.attempt == 1u);
    CHECK_FALSE(run.done());
}

TEST_CASE("reconnect: with jitter every wait is within [0, bound]", "[reconnect][virtual]") {
    auto ro = rig::quiet_reconnect();
    ro.jitter = true;
    ro.jitter_seed = 12345;
    rig t(ro);
    t.server.m = fake_server::mode::refuse;
    t.client->async_run([](error_code) {});
    REQUIRE(t.advance_until([&] { return t.server.attempts.size() == 12; }, 120s));
    std::vector<vclock::duration> waits;
    for (std::size_t i = 1; i < t.server.attempts.size(); ++i)
        waits.push_back(t.server.attempts[i] - t.server.attempts[i - 1]);
    const std::vector<vclock::duration> bound{1s, 2s, 4s, 8s, 8s, 8s, 8s, 8s, 8s, 8s, 8s};
    bool some_below = false;
    for (std::size_t i = 0; i < waits.size(); ++i) {
        INFO("wait " << i << ": " << std::chrono::duration<double>(waits[i]).count() << " s");
        CHECK(waits[i] >= 0ms);
        CHECK(waits[i] <= bound[i]);
        some_below = some_below || waits[i] < bound[i] * 9 / 10;
    }
    CHECK(some_below); // jitter did draw: not every wait sits at its bound
    // The waits reported are the waits taken.
    std::size_t i = 0;
    for (const auto& e : t.events)
        if (e.e.what == kind::backing_off && i < waits.size())
            CHECK(e.e.delay == waits[i++]);
}

TEST_CASE("reconnect: gives up after max_attempts failures in a row", "[reconnect][virtual]") {
    auto ro = rig::quiet_reconnect();
    ro.max_attempts = 3;
    rig t(ro);
    t.server.m = fake_server::mode::refuse;
    done_rec run, sent;
    frame_rec received;
    t.client->async_run(run.handler());
    t.client->async_send("never", sent.handler());
    t.client->async_receive(received.handler());
    REQUIRE(t.advance_until([&] { return run.done(); }, 60s));
    CHECK(run.ec() == heartbeat::error::gave_up);
    CHECK(t.server.attempts.size() == 3u);
    CHECK(vclock::now() - vclock::origin() == 3s); // waits 1 s and 2 s, then no third
    REQUIRE(t.last(kind::gave_up));
    CHECK(t.last(kind::gave_up)->e.attempt == 3u);
    CHECK(t.last(kind::gave_up)->e.error == asio::error::connection_refused);
    CHECK(t.kinds().back() == kind::gave_up);
    CHECK(sent.ec() == heartbeat::error::gave_up);
    CHECK(received.ec() == heartbeat::error::gave_up);
    // Afterwards everything reports the end.
    done_rec later;
    t.client->async_send("later", later.handler());
    t.run();
    CHECK(later.ec() == heartbeat::error::gave_up);
    CHECK(t.client->try_send("x") == heartbeat::error::gave_up);
    t.advance(60s);
    CHECK(t.server.attempts.size() == 3u);
    CHECK(run.calls->size() == 1u);
}

TEST_CASE("reconnect: a success resets the count towards max_attempts", "[reconnect][virtual]") {
    auto ro = rig::quiet_reconnect();
    ro.max_attempts = 2;
    rig t(ro);
    t.server.m = fake_server::mode::refuse;
    done_rec run;
    t.client->async_run(run.handler());
    t.run(); // attempt 1 fails
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s)); // attempt 2 connects
    t.advance(1s); // and stays up initial_backoff: a success
    t.server.m = fake_server::mode::refuse;
    t.server.peers.back()->fail_reads(asio::error::connection_reset);
    REQUIRE(t.advance_until([&] { return run.done(); }, 20s));
    CHECK(run.ec() == heartbeat::error::gave_up);
    CHECK(t.server.attempts.size() == 4u); // two more failures after the success
}

TEST_CASE("reconnect: an attempt that hangs is cancelled after connect_timeout, and backs off",
          "[reconnect][virtual]") {
    rig t;
    t.server.m = fake_server::mode::hang;
    t.client->async_run([](error_code) {});
    t.advance(5s - 1ms);
    CHECK(t.count(kind::connect_failed) == 0u);
    t.advance(1ms);
    CHECK(t.server.cancelled == 1u);
    REQUIRE(t.last(kind::connect_failed));
    CHECK(t.last(kind::connect_failed)->e.error == asio::error::timed_out);
    CHECK(t.last(kind::connect_failed)->at - vclock::origin() == 5s);
    CHECK(t.kinds().back() == kind::backing_off);
}

TEST_CASE("reconnect: async_run twice, and async_run after close()", "[reconnect][virtual]") {
    rig t;
    done_rec first, second;
    t.client->async_run(first.handler());
    initiate([&] { t.client->async_run(second.handler()); });
    CHECK_FALSE(second.done());
    t.run();
    CHECK(second.ec() == heartbeat::error::already_running);
    CHECK_FALSE(first.done());
    CHECK_FALSE(*second.inline_call);

    rig u;
    done_rec late;
    u.client->close();
    u.run();
    u.client->async_run(late.handler());
    u.run();
    CHECK(late.ec() == asio::error::operation_aborted);
    CHECK(u.server.attempts.empty());
}

// =============================================================================================
// Sending while disconnected.

TEST_CASE("reconnect: frames sent while disconnected go out in order once connected, before "
          "later ones",
          "[reconnect][virtual][queue]") {
    rig t;
    t.server.m = fake_server::mode::refuse;
    done_rec run;
    std::vector<done_rec> sends(4);
    t.client->async_run(run.handler());
    t.run(); // refused: backing off
    REQUIRE_FALSE(t.client->connected());
    initiate([&] {
        t.client->async_send("one", sends[0].handler());
        CHECK_FALSE(t.client->try_send("two"));
        t.client->async_send(std::string("three"), sends[1].handler());
    });
    t.run();
    CHECK_FALSE(sends[0].done()); // they wait for a session
    CHECK_FALSE(sends[1].done());
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.client->async_send("four", sends[2].handler());
    CHECK_FALSE(t.client->try_send("five"));
    t.run();
    REQUIRE(t.server.peers.size() == 1u);
    CHECK(rig::lines(*t.server.peers[0]) ==
          std::vector<std::string>{"one", "two", "three", "four", "five"});
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(sends[i].calls->size() == 1u);
        CHECK_FALSE(sends[i].ec());
        CHECK_FALSE(*sends[i].inline_call);
    }
}

TEST_CASE("reconnect: past queue_limit a send fails with reconnect_queue_full, the rest goes out",
          "[reconnect][virtual][queue]") {
    auto ro = rig::quiet_reconnect();
    // Three 10-byte lines, each counted as payload, line_framing's longest ending (2) and 64.
    ro.queue_limit = 3 * (10 + 2 + 64);
    rig t(ro);
    t.server.m = fake_server::mode::refuse;
    t.client->async_run([](error_code) {});
    t.run();
    std::vector<done_rec> sends(4);
    for (std::size_t i = 0; i < 3; ++i)
        t.client->async_send("line-" + std::to_string(i) + "abcd", sends[i].handler());
    initiate([&] { t.client->async_send("line-3abcd", sends[3].handler()); });
    CHECK(t.client->try_send("line-4abcd") == heartbeat::error::reconnect_queue_full);
    CHECK_FALSE(sends[3].done());
    t.run();
    CHECK(sends[3].ec() == heartbeat::error::reconnect_queue_full);
    CHECK_FALSE(*sends[3].inline_call);
    // Invalid frames are refused as a session would, queue or no queue.
    done_rec bad;
    t.client->async_send("a\nb", bad.handler());
    CHECK(t.client->try_send(std::string(70000, 'x')) == heartbeat::error::frame_too_large);
    t.run();
    CHECK(bad.ec() == heartbeat::error::invalid_frame);
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.run();
    CHECK(rig::lines(*t.server.peers[0]) ==
          std::vector<std::string>{"line-0abcd", "line-1abcd", "line-2abcd"});
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(sends[i].calls->size() == 1u);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK_FALSE(sends[i].ec());
    // With the queue empty again, it takes frames again.
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    t.run();
    CHECK_FALSE(t.client->try_send("after"));

    auto none = rig::quiet_reconnect();
    none.queue_limit = 0;
    rig u(none);
    CHECK(u.client->try_send("x") == heartbeat::error::reconnect_queue_full);
}

TEST_CASE("reconnect: a queued send cancelled through its slot is removed, the others go out",
          "[reconnect][virtual][queue]") {
    rig t;
    t.server.m = fake_server::mode::refuse;
    t.client->async_run([](error_code) {});
    t.run();
    asio::cancellation_signal sig;
    done_rec a, b, c;
    t.client->async_send("a", a.handler());
    t.client->async_send("b", asio::bind_cancellation_slot(sig.slot(), b.handler()));
    t.client->async_send("c", c.handler());
    t.run();
    sig.emit(asio::cancellation_type::terminal);
    CHECK_FALSE(b.done()); // posted, not inline
    t.run();
    CHECK(b.ec() == asio::error::operation_aborted);
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.run();
    CHECK(rig::lines(*t.server.peers[0]) == std::vector<std::string>{"a", "c"});
    CHECK(b.calls->size() == 1u);
}

// =============================================================================================
// Receiving across sessions.

TEST_CASE("reconnect: receives take each session's frames in order, across a reconnect",
          "[reconnect][virtual][receive]") {
    rig t;
    t.client->async_run([](error_code) {});
    t.run();
    REQUIRE(t.server.peers.size() == 1u);
    t.server.peers[0]->give("a1\na2\n");
    t.run();
    frame_rec r1;
    initiate([&] { t.client->async_receive(r1.handler()); });
    CHECK_FALSE(r1.done());
    t.run();
    CHECK(r1.frame() == "a1");
    CHECK_FALSE(*r1.inline_call);
    // The first session ends with a2 still held; the second one's frames come after it.
    t.server.peers[0]->give("a3\n");
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    t.run();
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.server.peers[1]->give("b1\n");
    t.run();
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
        frame_rec r;
        t.client->async_receive(r.handler());
        t.run();
        REQUIRE(r.done());
        CHECK_FALSE(r.ec());
        got.push_back(r.frame());
    }
    CHECK(got == std::vector<std::string>{"a2", "a3", "b1"});
    // A receive waits across a gap, and gets the next session's frame.
    frame_rec waiting;
    t.client->async_receive(waiting.handler());
    t.server.peers[1]->fail_reads(asio::error::connection_reset);
    t.run();
    CHECK_FALSE(waiting.done()); // a session's end is not the client's
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.server.peers[2]->give("c1\n");
    t.run();
    CHECK(waiting.frame() == "c1");
    // After close(), frames already received are still taken, then the end.
    t.server.peers[2]->give("c2\n");
    t.run();
    t.client->close();
    t.run();
    frame_rec r2, r3;
    t.client->async_receive(r2.handler());
    t.client->async_receive(r3.handler());
    t.run();
    CHECK(r2.frame() == "c2");
    CHECK(r3.ec() == asio::error::operation_aborted);
}

TEST_CASE("reconnect: an ended session is freed at once, its unread frames kept for receives",
          "[reconnect][virtual][receive]") {
    rig t;
    t.client->async_run([](error_code) {});
    t.run();
    // Five sessions end, the application never receiving; the second held a frame.
    for (std::size_t i = 0; i < 5; ++i) {
        REQUIRE(t.advance_until([&] { return t.server.peers.size() == i + 1; }, 2s));
        t.advance(1s); // up initial_backoff: each wait is the first, 1 s
        if (i == 1) {
            t.server.peers[i]->give("unread\n");
            t.run();
        }
        t.server.peers[i]->fail_reads(asio::error::connection_reset);
        t.run();
        CHECK(t.server.peers[i].use_count() == 1); // its session and stream are gone
    }
    frame_rec r;
    t.client->async_receive(r.handler());
    t.run();
    CHECK(r.frame() == "unread");
}

TEST_CASE("reconnect: a cancelled receive loses no frame", "[reconnect][virtual][receive]") {
    rig t;
    t.client->async_run([](error_code) {});
    t.run();
    asio::cancellation_signal sig;
    frame_rec cancelled;
    t.client->async_receive(asio::bind_cancellation_slot(sig.slot(), cancelled.handler()));
    t.run();
    REQUIRE(t.server.peers[0]->read_pending());
    sig.emit(asio::cancellation_type::terminal);
    t.run();
    CHECK(cancelled.ec() == asio::error::operation_aborted);
    t.server.peers[0]->give("kept\n");
    t.run();
    frame_rec next;
    t.client->async_receive(next.handler());
    t.run();
    CHECK(next.frame() == "kept");
    CHECK(cancelled.calls->size() == 1u);
}

// =============================================================================================
// close(), cancellation and destruction at every stage.

namespace {

enum class stage { connecting, backing_off, connected, spare_connecting };

const char* name(stage s) {
    switch (s) {
    case stage::connecting:
        return "connecting";
    case stage::backing_off:
        return "backing off";
    case stage::connected:
        return "connected";
    case stage::spare_connecting:
        return "spare connecting";
    }
    return "";
}

heartbeat::options suspect_session() {
    heartbeat::options o;
    o.ping_interval = 100ms;
    o.read_timeout = 400ms;
    o.write_timeout = 0ms;
    return o;
}

/// Brings `t` to stage `s` with a send and a receive waiting.
void reach(rig& t, stage s, done_rec& run, done_rec& sent, frame_rec& received) {
    if (s == stage::connecting)
        t.server.m = fake_server::mode::hang;
    if (s == stage::backing_off)
        t.server.m = fake_server::mode::refuse;
    if (s == stage::spare_connecting)
        t.server.delay = 0ms;
    t.client->async_run(run.handler());
    t.run();
    if (s == stage::spare_connecting) {
        t.server.m = fake_server::mode::hang;
        // Silent peer: suspect at 200 ms, the spare's attempt hangs.
        REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 1; }, 300ms));
    }
    if (s == stage::connected || s == stage::spare_connecting)
        REQUIRE(t.client->connected());
    else
        REQUIRE_FALSE(t.client->connected());
    t.client->async_send("x", sent.handler());
    t.client->async_receive(received.handler());
    t.run();
}

} // namespace

TEST_CASE("reconnect: close() at every stage ends the run once, with everything it waited for",
          "[reconnect][virtual][lifetime]") {
    const stage s =
        GENERATE(stage::connecting, stage::backing_off, stage::connected, stage::spare_connecting);
    INFO("stage: " << name(s));
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = s == stage::spare_connecting;
    rig t(ro, s == stage::spare_connecting ? suspect_session() : rig::still_session());
    done_rec run, sent;
    frame_rec received;
    reach(t, s, run, sent, received);
    initiate([&] { t.client->close(); });
    CHECK_FALSE(run.done());
    t.run();
    REQUIRE(run.done());
    CHECK(run.calls->size() == 1u);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK_FALSE(*run.inline_call);
    CHECK(received.ec() == asio::error::operation_aborted);
    CHECK(sent.done());
    if (s == stage::connecting || s == stage::spare_connecting)
        CHECK(t.server.cancelled == 1u); // the attempt's slot fired
    for (auto& p : t.server.peers)
        CHECK(p->closed);
    const std::size_t attempts = t.server.attempts.size();
    t.advance(30s);
    CHECK(t.server.attempts.size() == attempts); // nothing after the end
    CHECK(run.calls->size() == 1u);
}

TEST_CASE("reconnect: cancelling async_run at every stage is close()",
          "[reconnect][virtual][lifetime]") {
    const stage s = GENERATE(stage::connecting, stage::backing_off, stage::connected);
    INFO("stage: " << name(s));
    rig t;
    asio::cancellation_signal sig;
    if (s == stage::connecting)
        t.server.m = fake_server::mode::hang;
    if (s == stage::backing_off)
        t.server.m = fake_server::mode::refuse;
    done_rec run;
    t.client->async_run(asio::bind_cancellation_slot(sig.slot(), run.handler()));
    t.run();
    sig.emit(asio::cancellation_type::total); // ignored
    t.run();
    CHECK_FALSE(run.done());
    sig.emit(asio::cancellation_type::terminal);
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(run.calls->size() == 1u);
}

TEST_CASE("reconnect: destroying the client at every stage completes each handler once",
          "[reconnect][virtual][lifetime]") {
    const stage s =
        GENERATE(stage::connecting, stage::backing_off, stage::connected, stage::spare_connecting);
    INFO("stage: " << name(s));
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = s == stage::spare_connecting;
    rig t(ro, s == stage::spare_connecting ? suspect_session() : rig::still_session());
    done_rec run, sent;
    frame_rec received;
    reach(t, s, run, sent, received);
    initiate([&] { t.client.reset(); });
    CHECK_FALSE(run.done());
    CHECK_FALSE(received.done());
    t.run();
    for (const done_rec* d : {&run, &sent}) {
        CHECK(d->calls->size() == 1u);
        CHECK_FALSE(*d->inline_call);
    }
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(received.calls->size() == 1u);
    CHECK(received.ec() == asio::error::operation_aborted);
    for (auto& p : t.server.peers) {
        CHECK(p->closed);
        CHECK(p.use_count() == 1); // the session's stream is gone
    }
    CHECK(t.events.size() == t.events.size()); // no observer call after destruction (below)
    const std::size_t seen = t.events.size();
    t.advance(30s);
    CHECK(t.events.size() == seen);
}

TEST_CASE("reconnect: destroying the io_context at every stage frees everything",
          "[reconnect][virtual][lifetime]") {
    const stage s = GENERATE(stage::connecting, stage::backing_off, stage::connected);
    INFO("stage: " << name(s));
    virtual_time_scope vt;
    std::weak_ptr<int> token_alive;
    std::weak_ptr<memory_peer> peer_alive;
    {
        std::optional<asio::io_context> io(std::in_place);
        fake_server server(*io);
        if (s == stage::connecting)
            server.m = fake_server::mode::hang;
        if (s == stage::backing_off)
            server.m = fake_server::mode::refuse;
        auto token = std::make_shared<int>(0);
        {
            client_type client(io->get_executor(), server.function(), rig::quiet_reconnect(),
                               rig::still_session());
            client.async_run([token](error_code) {});
            client.async_receive([token](error_code, std::string) {});
            run_ready(*io);
            client.async_send("x", [token](error_code) {});
            run_ready(*io);
            if (!server.peers.empty())
                peer_alive = server.peers[0];
        }
        token_alive = token;
        token.reset();
        server.peers.clear();
        io.reset(); // what the client left in flight is destroyed unrun
        CHECK(token_alive.expired());
    }
    CHECK(peer_alive.expired());
}

TEST_CASE("reconnect: the observer may close or destroy the client",
          "[reconnect][virtual][lifetime]") {
    const bool destroy = GENERATE(false, true);
    INFO((destroy ? "destroy" : "close"));
    rig t;
    done_rec run;
    std::vector<kind> heard;
    t.client->set_observer([&](const event& e) {
        heard.push_back(e.what);
        if (e.what != kind::disconnected)
            return;
        if (destroy)
            t.client.reset();
        else
            t.client->close();
    });
    t.client->async_run(run.handler());
    t.run();
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    t.run();
    REQUIRE(run.done());
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(run.calls->size() == 1u);
    // Events already queued in that turn (backing_off) are dropped once the client is
    // destroyed; after close() they are still heard.
    CHECK(heard.back() == (destroy ? kind::disconnected : kind::backing_off));
    t.advance(10s);
    CHECK(t.server.attempts.size() == 1u);
}

// =============================================================================================
// Make-before-break.

TEST_CASE("reconnect: make-before-break connects a spare when the session turns suspect and "
          "switches to it at the verdict with no connect",
          "[reconnect][virtual][mbb]") {
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = true;
    const heartbeat::options so = suspect_session();
    rig t(ro, so);
    t.server.delay = 30ms; // every connect takes 30 ms
    done_rec run;
    frame_rec received;
    t.client->async_run(run.handler());
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 100ms));
    const vtime up = vclock::now();
    t.client->async_receive(received.handler());
    // The first server falls silent: suspect at half of read_timeout, a spare starts at once.
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_ready) == 1; }, 1s));
    const auto* spare_start = t.last(kind::spare_connecting);
    REQUIRE(spare_start);
    const auto tick = heartbeat::detail::liveness::tick_for(so);
    CHECK(spare_start->at - up >= 200ms);
    CHECK(spare_start->at - up <= 200ms + tick + 1ms);
    CHECK(t.last(kind::spare_ready)->at - spare_start->at == 30ms);
    REQUIRE(t.server.peers.size() == 2u);
    CHECK_FALSE(received.done());
    // The verdict: the spare takes over in the same instant; no attempt is made.
    REQUIRE(t.advance_until([&] { return t.count(kind::disconnected) == 1; }, 1s));
    const auto* lost = t.last(kind::disconnected);
    CHECK(lost->e.error == heartbeat::error::timeout);
    REQUIRE(t.last(kind::switched));
    CHECK(t.last(kind::switched)->at == lost->at); // no connect time: under a tick
    CHECK(t.server.attempts.size() == 2u);
    CHECK(t.count(kind::backing_off) == 0u);
    CHECK(t.client->connected());
    // Sending and receiving go to the spare now.
    t.client->async_send("hello", [](error_code) {});
    t.server.peers[1]->give("from spare\n");
    t.run();
    CHECK(received.frame() == "from spare");
    CHECK(rig::lines(*t.server.peers[1]) == std::vector<std::string>{"hello"});
    CHECK(t.server.peers[0]->closed);
    CHECK_FALSE(run.done());
}

TEST_CASE("reconnect: make-before-break closes the spare when the session recovers, or keeps it "
          "with keep_spare",
          "[reconnect][virtual][mbb]") {
    const bool keep = GENERATE(false, true);
    INFO((keep ? "keep_spare" : "close the spare"));
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = true;
    ro.keep_spare = keep;
    rig t(ro, suspect_session());
    t.client->async_run([](error_code) {});
    t.run();
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_ready) == 1; }, 1s));
    REQUIRE(t.server.peers.size() == 2u);
    t.server.peers[0]->give("PONG\n"); // the first server talks again: healthy
    t.run();
    if (keep) {
        CHECK(t.count(kind::spare_discarded) == 0u);
        CHECK_FALSE(t.server.peers[1]->closed);
        // The next failure switches at once; no new spare is needed meanwhile.
        t.server.peers[0]->fail_reads(asio::error::connection_reset);
        t.run();
        CHECK(t.count(kind::switched) == 1u);
        CHECK(t.server.attempts.size() == 2u);
    } else {
        CHECK(t.count(kind::spare_discarded) == 1u);
        CHECK(t.server.peers[1]->closed);
        // Failing now means a normal reconnect, with a wait.
        t.server.peers[0]->fail_reads(asio::error::connection_reset);
        t.run();
        CHECK(t.count(kind::switched) == 0u);
        CHECK(t.count(kind::backing_off) == 1u);
    }
}

TEST_CASE("reconnect: make-before-break abandons a spare still connecting when the session "
          "recovers, and a spare's attempt under way becomes the reconnect",
          "[reconnect][virtual][mbb]") {
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = true;
    rig t(ro, suspect_session());
    t.client->async_run([](error_code) {});
    t.run();
    t.server.m = fake_server::mode::hang;
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 1; }, 1s));
    t.server.peers[0]->give("PONG\n");
    t.run();
    CHECK(t.server.cancelled == 1u); // its slot fired
    CHECK(t.count(kind::spare_ready) == 0u);
    // Suspect again; this time the spare's connect takes 100 ms and the session dies meanwhile.
    t.server.m = fake_server::mode::accept;
    t.server.delay = 100ms;
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 2; }, 1s));
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    t.run();
    CHECK(t.count(kind::backing_off) == 0u); // the spare's attempt is the reconnect
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 200ms));
    CHECK(t.count(kind::connected) == 2u);
    CHECK(t.server.attempts.size() == 3u);
}

// =============================================================================================
// Completion tokens.

TEST_CASE("reconnect: works with use_future", "[reconnect][virtual][tokens]") {
#if HEARTBEAT_HAS_EXCEPTIONS
    rig t;
    auto run = t.client->async_run(asio::use_future);
    auto sent = t.client->async_send("f", asio::use_future);
    auto got = t.client->async_receive(asio::use_future);
    t.run();
    t.server.peers[0]->give("back\n");
    t.run();
    sent.get();
    CHECK(got.get() == "back");
    t.client->close();
    t.run();
    CHECK_THROWS_AS(run.get(), system_error);
#endif
}

#if defined(HBT_HAS_CO_AWAIT) && HEARTBEAT_HAS_EXCEPTIONS
TEST_CASE("reconnect: works with C++20 coroutines, across a reconnect",
          "[reconnect][virtual][tokens]") {
    rig t;
    t.client->async_run([](error_code) {});
    std::vector<std::string> got;
    bool finished = false;
    asio::co_spawn(
        t.io,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                co_await t.client->async_send("ask " + std::to_string(i), asio::use_awaitable);
                got.push_back(co_await t.client->async_receive(asio::use_awaitable));
            }
            finished = true;
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    t.run();
    REQUIRE(t.server.peers.size() == 1u);
    CHECK(rig::lines(*t.server.peers[0]) == std::vector<std::string>{"ask 0"});
    // The first server dies before answering: the awaited receive waits across the gap.
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    REQUIRE(t.advance_until([&] { return t.server.peers.size() == 2; }, 2s));
    t.server.peers[1]->give("one\n");
    t.run();
    CHECK(rig::lines(*t.server.peers[1]) == std::vector<std::string>{"ask 1"});
    t.server.peers[1]->give("two\n");
    t.run();
    CHECK(finished);
    CHECK(got == std::vector<std::string>{"one", "two"});
}
#endif

// =============================================================================================
// Attempts the client no longer wants, and sessions that end at once.

namespace {

/// A connect function in two steps: a 1 s "resolve", then a "connect" that starts only when
/// the test says so (start_second()), so that a cancellation can land between the two, while
/// the cancellation slot holds nothing.
struct two_step_connect {
    explicit two_step_connect(rig& r)
        : t(r) {}
    rig& t;
    std::size_t attempts = 0;
    std::optional<heartbeat::connect_handler<memory_stream>> between;
    bool saw_cancelled = false;

    client_type::connect_function function() {
        return [this](heartbeat::connect_handler<memory_stream> done) {
            ++attempts;
            auto timer = std::make_shared<asio::basic_waitable_timer<vclock>>(t.io);
            timer->expires_after(1s);
            auto slot = done.get_cancellation_slot();
            timer->async_wait(asio::bind_cancellation_slot(
                slot, [this, timer, done = std::move(done)](error_code ec) mutable {
                    if (ec) {
                        done(ec, t.server.dead_stream());
                        return;
                    }
                    // The timer goes with this handler: its cancellation handler must not
                    // stay in the slot (connect_handler's contract).
                    done.get_cancellation_slot().clear();
                    between.emplace(std::move(done));
                }));
        };
    }

    /// The second step: refuses at once when the attempt was cancelled before it started,
    /// else hangs (until its slot fires).
    void start_second() {
        heartbeat::connect_handler<memory_stream> done = std::move(*between);
        between.reset();
        if (done.cancelled()) {
            saw_cancelled = true;
            done(asio::error::operation_aborted, t.server.dead_stream());
            return;
        }
        auto timer = std::make_shared<asio::basic_waitable_timer<vclock>>(t.io);
        timer->expires_after(24h);
        auto slot = done.get_cancellation_slot();
        timer->async_wait(asio::bind_cancellation_slot(
            slot, [this, timer, done = std::move(done)](error_code ec) mutable {
                done(ec ? ec : asio::error::timed_out, t.server.dead_stream());
            }));
    }
};

} // namespace

TEST_CASE("reconnect: a cancellation between two steps of the connect function is not lost",
          "[reconnect][virtual][cancel]") {
    const bool by_close = GENERATE(false, true);
    INFO((by_close ? "close()" : "connect_timeout"));
    rig t;
    two_step_connect c(t);
    t.use_connect(c.function());
    done_rec run;
    t.client->async_run(run.handler());
    t.advance(1s); // the first step is done; the second has not started
    REQUIRE(c.between);
    if (by_close) {
        t.client->close();
        t.run();
        // async_run does not wait for an attempt it no longer wants.
        REQUIRE(run.done());
        CHECK(run.ec() == asio::error::operation_aborted);
    } else {
        t.advance(4s);
        REQUIRE(t.last(kind::connect_failed));
        CHECK(t.last(kind::connect_failed)->e.error == asio::error::timed_out);
        CHECK(t.last(kind::connect_failed)->at - vclock::origin() == 5s);
        CHECK(t.kinds().back() == kind::backing_off);
    }
    // The second step starts after the signal: it sees it, and fails at once.
    c.start_second();
    t.run();
    CHECK(c.saw_cancelled);
    CHECK(t.count(kind::connect_failed) == (by_close ? 0u : 1u)); // its late result: nothing
    if (by_close) {
        CHECK(run.calls->size() == 1u);
    } else {
        t.advance(1s); // the wait after the timeout
        CHECK(c.attempts == 2u);
    }
}

TEST_CASE("reconnect: an attempt that ignores its cancellation fails at connect_timeout, and its "
          "late stream is closed",
          "[reconnect][virtual][cancel]") {
    rig t;
    t.server.honour_slot = false;
    t.server.delay = 8s; // every connect takes 8 s, and nothing stops it
    done_rec run;
    t.client->async_run(run.handler());
    t.advance(5s);
    REQUIRE(t.last(kind::connect_failed));
    CHECK(t.last(kind::connect_failed)->e.error == asio::error::timed_out);
    CHECK(t.last(kind::connect_failed)->at - vclock::origin() == 5s);
    CHECK(t.kinds().back() == kind::backing_off);
    t.advance(1s);
    CHECK(t.server.attempts.size() == 2u); // the next attempt did not wait for the first
    t.advance(2s);                         // 8 s: the first attempt's stream arrives, late
    REQUIRE(t.server.peers.size() == 1u);
    CHECK(t.server.peers[0].use_count() == 1); // dropped: nobody but the server holds it
    CHECK_FALSE(t.client->connected());
    CHECK(t.count(kind::connect_failed) == 1u);
    t.client->close(); // the second attempt too is not waited for
    t.run();
    REQUIRE(run.done());
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("reconnect: sessions that end at once count as failed attempts: the backoff grows and "
          "max_attempts gives up",
          "[reconnect][virtual][backoff]") {
    auto ro = rig::quiet_reconnect();
    ro.max_attempts = 4;
    rig t(ro);
    t.server.close_at_once = true; // accepts, then resets at once: a balancer with no backend
    done_rec run;
    t.client->async_run(run.handler());
    REQUIRE(t.advance_until([&] { return run.done(); }, 60s));
    CHECK(run.ec() == heartbeat::error::gave_up);
    REQUIRE(t.server.attempts.size() == 4u);
    // Waits 1, 2, 4 s: each short session was a failure, none reset the backoff.
    CHECK(t.server.attempts[1] - t.server.attempts[0] == 1s);
    CHECK(t.server.attempts[2] - t.server.attempts[1] == 2s);
    CHECK(t.server.attempts[3] - t.server.attempts[2] == 4s);
    CHECK(t.count(kind::connected) == 4u);
    CHECK(t.count(kind::disconnected) == 4u);
    REQUIRE(t.last(kind::gave_up));
    CHECK(t.last(kind::gave_up)->e.attempt == 4u);
    CHECK(t.last(kind::gave_up)->e.error == asio::error::connection_reset);
}

TEST_CASE("reconnect: a session that stayed up initial_backoff resets the backoff and the count, "
          "a shorter one is a failure",
          "[reconnect][virtual][backoff]") {
    const bool long_enough = GENERATE(false, true);
    INFO((long_enough ? "up 1 s" : "up 999 ms"));
    auto ro = rig::quiet_reconnect();
    ro.max_attempts = 3;
    rig t(ro);
    t.server.close_at_once = true;
    done_rec run;
    t.client->async_run(run.handler());
    // Two short sessions (at 0 and 1 s): two failures in a row, then the third attempt stays up.
    REQUIRE(t.advance_until([&] { return t.server.attempts.size() == 2; }, 10s));
    t.server.close_at_once = false;
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 10s));
    CHECK(vclock::now() - vclock::origin() == 3s);
    t.advance(long_enough ? 1s : 1s - 1ms);
    t.server.peers.back()->fail_reads(asio::error::connection_reset);
    t.run();
    if (long_enough) {
        CHECK_FALSE(run.done());
        REQUIRE(t.last(kind::backing_off));
        CHECK(t.last(kind::backing_off)->e.delay == 1s);
        CHECK(t.last(kind::backing_off)->e.attempt == 1u);
    } else {
        REQUIRE(run.done()); // the third failure in a row
        CHECK(run.ec() == heartbeat::error::gave_up);
        REQUIRE(t.last(kind::gave_up));
        CHECK(t.last(kind::gave_up)->e.attempt == 3u);
    }
}

TEST_CASE("reconnect: a session whose peer never sent a byte is a failed attempt, however long "
          "read_timeout kept it up",
          "[reconnect][virtual][backoff]") {
    // A frozen server process: its kernel's backlog completes every connect, and nothing ever
    // answers. Each session lasts read_timeout (3 s, longer than initial_backoff) and ends
    // with timeout; only a peer that said something makes it a success.
    const bool peer_speaks = GENERATE(false, true);
    INFO((peer_speaks ? "the peer sends a PING first" : "the peer is silent"));
    auto ro = rig::quiet_reconnect();
    ro.max_attempts = 3;
    auto so = rig::still_session();
    so.ping_interval = 1s;
    so.read_timeout = 3s;
    rig t(ro, so);
    if (peer_speaks)
        t.server.greeting = "PING\n";
    done_rec run;
    t.client->async_run(run.handler());
    REQUIRE(t.advance_until([&] { return run.done() || t.count(kind::disconnected) == 3; }, 60s));
    t.run();
    for (const auto& e : t.events)
        if (e.e.what == kind::disconnected)
            CHECK(e.e.error == heartbeat::error::timeout);
    std::vector<std::chrono::milliseconds> delays;
    for (const auto& e : t.events)
        if (e.e.what == kind::backing_off)
            delays.push_back(e.e.delay);
    if (peer_speaks) {
        CHECK_FALSE(run.done());
        CHECK(delays == std::vector<std::chrono::milliseconds>{1s, 1s, 1s});
        CHECK(t.last(kind::backing_off)->e.attempt == 1u);
    } else {
        REQUIRE(run.done());
        CHECK(run.ec() == heartbeat::error::gave_up);
        CHECK(delays == std::vector<std::chrono::milliseconds>{1s, 2s});
        REQUIRE(t.last(kind::gave_up));
        CHECK(t.last(kind::gave_up)->e.attempt == 3u);
        CHECK(t.last(kind::gave_up)->e.error == heartbeat::error::timeout);
    }
    t.client->close();
    t.run();
}

TEST_CASE("reconnect: a connect function that drops its handler, or throws, fails the attempt",
          "[reconnect][virtual][cancel]") {
#if HEARTBEAT_HAS_EXCEPTIONS
    const bool throws = GENERATE(false, true);
#else
    const bool throws = false;
#endif
    INFO((throws ? "throws" : "drops its handler"));
    rig t;
    std::size_t calls = 0;
    t.use_connect([&](heartbeat::connect_handler<memory_stream> done) {
        if (++calls == 1) {
#if HEARTBEAT_HAS_EXCEPTIONS
            if (throws)
                throw std::runtime_error("no route");
#endif
            return; // `done` is dropped uncalled
        }
        t.server.accept(std::move(done));
    });
    done_rec run;
    t.client->async_run(run.handler());
#if HEARTBEAT_HAS_EXCEPTIONS
    if (throws)
        CHECK_THROWS_AS(t.run(), std::runtime_error); // out of io_context::run, as Asio does
#endif
    t.run();
    REQUIRE(t.last(kind::connect_failed));
    CHECK(t.last(kind::connect_failed)->e.error == asio::error::operation_aborted);
    CHECK(t.last(kind::connect_failed)->at == vclock::origin());
    CHECK(t.kinds().back() == kind::backing_off);
    t.advance(1s);
    CHECK(calls == 2u);
    CHECK(t.client->connected());
    t.client->close();
    t.run();
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("reconnect_options: durations the clock cannot hold are refused",
          "[reconnect][options]") {
    using o_t = heartbeat::reconnect_options;
    const auto field = [](auto change) {
        heartbeat::reconnect_options o;
        change(o);
        const heartbeat::invalid_setting bad = o.first_invalid();
        return std::string(bad ? bad.field : "");
    };
    constexpr auto huge = std::chrono::milliseconds::max();
    CHECK(field([&](o_t& o) { o.max_backoff = huge; }) == "max_backoff");
    CHECK(field([&](o_t& o) { o.connect_timeout = huge; }) == "connect_timeout");
    CHECK(field([&](o_t& o) {
              o.initial_backoff = huge;
              o.max_backoff = huge;
          }) != "");
    CHECK(field([](o_t& o) { o.max_backoff = o_t::max_duration; }) == "");
    CHECK(field([](o_t& o) { o.connect_timeout = o_t::max_duration; }) == "");
    CHECK(field([](o_t& o) { o.connect_timeout = o_t::max_duration + 1ms; }) == "connect_timeout");
}

TEST_CASE("reconnect: sends while the current session is ending wait for the next one",
          "[reconnect][virtual][send]") {
    rig t;
    done_rec run, sent;
    t.client->async_run(run.handler());
    t.run();
    REQUIRE(t.client->connected());
    t.advance(1s);
    // The session's verdict: it stops and closes its stream; its async_run's completion is
    // posted, so the client still holds it as current. One handler at a time up to there.
    t.server.peers[0]->fail_reads(asio::error::connection_reset);
    while (!t.server.peers[0]->closed)
        REQUIRE(t.io.poll_one() == 1u);
    REQUIRE(t.client->connected()); // the window: the session is ending, the client not told
    t.client->async_send("queued", sent.handler());
    CHECK_FALSE(t.client->try_send("also"));
    t.run();
    CHECK_FALSE(t.client->connected());
    CHECK_FALSE(sent.done()); // it waits for the next session instead of failing
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.run();
    REQUIRE(sent.done());
    CHECK_FALSE(sent.ec());
    REQUIRE(t.server.peers.size() == 2u);
    CHECK(rig::lines(*t.server.peers[1]) == std::vector<std::string>{"queued", "also"});
    CHECK(rig::lines(*t.server.peers[0]).empty());
}

TEST_CASE("reconnect: frames held by ended sessions are bounded by receive_queue_limit in all",
          "[reconnect][virtual][receive]") {
    heartbeat::options so = rig::still_session();
    so.max_frame_size = 64;
    so.receive_queue_limit = 3 * (8 + sizeof(std::string)); // three 8-byte frames
    rig t(rig::quiet_reconnect(), so);
    t.client->async_run([](error_code) {});
    t.run();
    // Four sessions end with two frames each (below the limit: they keep reading), the
    // application never receiving.
    for (std::size_t i = 0; i < 4; ++i) {
        REQUIRE(t.advance_until([&] { return t.server.peers.size() == i + 1; }, 2s));
        t.advance(1s);
        for (int j = 0; j < 2; ++j)
            t.server.peers[i]->give("s" + std::to_string(i) + "-f" + std::to_string(j) + "---\n");
        t.run();
        t.server.peers[i]->fail_reads(asio::error::connection_reset);
        t.run();
    }
    REQUIRE(t.advance_until([&] { return t.client->connected(); }, 2s));
    t.server.peers.back()->give("live-001\n");
    t.run();
    // The first session's two frames and the second's first fill the bound; the rest of the
    // ended sessions' are dropped, as if their connections had died before those frames came.
    // The live session's follow.
    std::vector<std::string> got;
    for (int k = 0; k < 4; ++k) {
        frame_rec r;
        t.client->async_receive(r.handler());
        t.run();
        REQUIRE(r.done());
        got.push_back(r.frame());
    }
    CHECK(got == std::vector<std::string>{"s0-f0---", "s0-f1---", "s1-f0---", "live-001"});
}

TEST_CASE("reconnect: make-before-break retries a failed spare after a backoff while the "
          "session is suspect, or with keep_spare",
          "[reconnect][virtual][mbb]") {
    const bool keep = GENERATE(false, true);
    INFO((keep ? "keep_spare, healthy" : "suspect"));
    auto ro = rig::quiet_reconnect();
    ro.make_before_break = true;
    ro.keep_spare = keep;
    heartbeat::options so;
    so.ping_interval = 100ms;
    so.read_timeout = 8s; // suspect after 4 s of silence, dead after 8 s
    so.write_timeout = 0ms;
    rig t(ro, so);
    t.client->async_run([](error_code) {});
    t.run();
    REQUIRE(t.client->connected());
    if (keep) {
        // A spare comes up, the session recovers, the spare is kept; then its session ends.
        REQUIRE(t.advance_until([&] { return t.count(kind::spare_ready) == 1; }, 5s));
        t.server.peers[0]->give("PONG\n");
        t.run();
        REQUIRE(t.server.peers.size() == 2u);
        t.server.m = fake_server::mode::refuse;
        t.server.peers[1]->fail_reads(asio::error::connection_reset);
        t.run();
    } else {
        t.server.m = fake_server::mode::refuse;
        REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 1; }, 5s));
    }
    REQUIRE(t.count(kind::spare_failed) == 1u);
    const vtime failed = t.last(kind::spare_failed)->at;
    // Retried after the backoff's first wait (1 s), then its second (2 s), while wanted.
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 2; }, 1500ms));
    CHECK(t.last(kind::spare_connecting)->at - failed == 1s);
    CHECK(t.last(kind::spare_connecting)->e.attempt == 2u);
    if (keep) {
        t.server.peers[0]->give("PONG\n"); // keep the session healthy meanwhile
        t.run();
    }
    t.server.m = fake_server::mode::accept;
    REQUIRE(t.advance_until([&] { return t.count(kind::spare_connecting) == 3; }, 2500ms));
    CHECK(t.last(kind::spare_connecting)->at - failed == 3s);
    t.run();
    CHECK(t.count(kind::spare_ready) == (keep ? 2u : 1u));
    CHECK(t.count(kind::connecting) == 1u); // none of these was a reconnect
}

} // namespace hbt
