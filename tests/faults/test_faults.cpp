// Fault injection against a real peer process (hbt_fault_peer): frozen, killed, cut off by the
// network, deaf, slow, half-closed, reset; our own event loop stalled; and hostile input over
// loopback. Each timed scenario runs HBT_FAULT_RUNS times (default 3) and prints one
// "HBT_TIMING" line with min / median / max, which tests/faults/RESULTS.md reports.
//
// Tags: [process] needs only fork/exec; [netns] needs root (CAP_NET_ADMIN) and prints
// "HBT_SKIP:" and returns where namespaces cannot be made; [hostile] is loopback only.
//
// Timing windows are wide on purpose (a loaded two-core machine): a deadline is never met early
// (5 ms for clock rounding) and never much later than it plus one interval plus 150 ms.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include "../fuzz/reference_framing.hpp"
#include "fault_support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using hbf::clock;
using hbf::ms;
using tcp = asio::ip::tcp;
using error_code = std::error_code;
using line_session = heartbeat::heartbeat_session<tcp::socket>;
using lp_session = heartbeat::heartbeat_session<tcp::socket, heartbeat::length_prefixed_framing>;

constexpr double early_ms = 5;    // a deadline may look this early (clock rounding)
constexpr double late_ms = 150;   // and this much later than due, plus an interval
constexpr double sampled_ms = 20; // write progress is sampled by a 1 ms timer, late under load

/// Marks a test as skipped for CTest (SKIP_REGULAR_EXPRESSION) and for a reader of the log.
void skip(const std::string& why) {
    std::printf("HBT_SKIP: %s\n", why.c_str());
    std::fflush(stdout);
    WARN("skipped: " << why);
}

std::string describe(const error_code& ec) {
    return std::string(ec.category().name()) + ":" + std::to_string(ec.value()) + " (" +
           ec.message() + ")";
}

bool is_eof_or_reset(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::connection_aborted || ec == asio::error::broken_pipe;
}

/// How a session's async_run ended, with its statistics at that moment.
struct ending {
    bool done = false;
    int calls = 0;
    error_code ec;
    clock::time_point when{};
    heartbeat::statistics stats{};
};

/// Starts async_run; the returned record fills in when it completes.
template <class Session>
std::shared_ptr<ending> run(const std::shared_ptr<Session>& s) {
    auto e = std::make_shared<ending>();
    std::weak_ptr<Session> weak = s;
    s->async_run([e, weak](error_code ec) {
        e->done = true;
        ++e->calls;
        e->ec = ec;
        e->when = clock::now();
        if (auto p = weak.lock())
            e->stats = p->statistics();
    });
    return e;
}

/// Receives and keeps every frame until the session ends.
template <class Session>
struct collector {
    struct data {
        std::vector<std::string> frames;
        bool ended = false;
        error_code ec;
    };
    std::shared_ptr<data> d = std::make_shared<data>();

    explicit collector(const std::shared_ptr<Session>& s) { next(s, d); }
    static void next(const std::weak_ptr<Session>& weak, const std::shared_ptr<data>& d) {
        if (auto s = weak.lock())
            s->async_receive([weak, d](error_code ec, std::string f) {
                if (ec) {
                    d->ended = true;
                    d->ec = ec;
                    return;
                }
                d->frames.push_back(std::move(f));
                next(weak, d);
            });
    }
};

/// Listens on `address`, starts the peer helper (behind `prefix`, e.g. "ip netns exec NS") and
/// accepts its connection.
std::optional<tcp::socket> start_peer(asio::io_context& ioc, const std::string& address,
                                      const std::vector<std::string>& prefix,
                                      const std::string& mode, int interval_ms,
                                      hbf::child_process& peer, int max_ms = 20000) {
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address(address), 0));
    std::vector<std::string> args = prefix;
    args.insert(args.end(),
                {hbf::peer_path(), mode, address, std::to_string(acceptor.local_endpoint().port()),
                 std::to_string(interval_ms), std::to_string(max_ms)});
    peer = hbf::child_process(args);
    if (!peer.started())
        return std::nullopt;
    tcp::socket socket(ioc);
    bool accepted = false;
    error_code ec;
    acceptor.async_accept(socket, [&](error_code e) {
        ec = e;
        accepted = true;
    });
    if (!hbf::run_until(
            ioc, [&] { return accepted; }, 10s)) {
        acceptor.close();
        hbf::run_until(
            ioc, [&] { return accepted; }, 2s);
        return std::nullopt;
    }
    if (ec)
        return std::nullopt;
    socket.set_option(tcp::no_delay(true));
    return socket;
}

/// Runs until the peer proved alive (it sent a PING of its own and, with `need_pong`, answered
/// one of ours), then `then` more; false when it did not within 5 s or the session ended.
template <class Session>
bool healthy(asio::io_context& ioc, Session& s, const ending& end, clock::duration then,
             bool need_pong = true) {
    const bool alive = hbf::run_until(
        ioc,
        [&] {
            const auto st = s.statistics();
            return end.done || ((st.pongs_received > 0 || !need_pong) && st.pings_received > 0);
        },
        5s);
    if (!alive || end.done)
        return false;
    hbf::run_for(ioc, then);
    return !end.done;
}

heartbeat::options fault_options(std::chrono::milliseconds ping, std::chrono::milliseconds read,
                                 std::chrono::milliseconds write) {
    heartbeat::options o;
    o.ping_interval = ping;
    o.read_timeout = read;
    o.write_timeout = write;
    return o;
}

/// Runs `cmd` as a child while `ioc` keeps running (a blocking system() would stall the very
/// loop under test); returns when it exited, the time it did in `applied`.
bool apply_while_running(asio::io_context& ioc, const std::vector<std::string>& cmd,
                         clock::time_point& applied) {
    hbf::child_process c(cmd);
    if (!c.started())
        return false;
    bool exited = false;
    hbf::run_until(
        ioc, [&] { return exited = c.exited(); }, 10s);
    applied = clock::now();
    return exited && c.exited_ok();
}

/// Calls `tick` every millisecond while the object lives.
class every_ms {
public:
    every_ms(asio::io_context& ioc, std::function<void()> tick)
        : d_(std::make_shared<data>(ioc, std::move(tick))) {
        arm(d_);
    }
    ~every_ms() {
        d_->stopped = true;
        d_->timer.cancel();
    }
    every_ms(const every_ms&) = delete;
    every_ms& operator=(const every_ms&) = delete;

private:
    struct data {
        data(asio::io_context& ioc, std::function<void()> t)
            : timer(ioc)
            , tick(std::move(t)) {}
        asio::steady_timer timer;
        std::function<void()> tick;
        bool stopped = false;
    };
    static void arm(const std::shared_ptr<data>& d) {
        d->timer.expires_after(1ms);
        d->timer.async_wait([d](error_code ec) {
            if (ec || d->stopped)
                return;
            d->tick();
            arm(d);
        });
    }
    std::shared_ptr<data> d_;
};

/// Remembers when a session last made write progress (its bytes_sent counter moved).
template <class Session>
struct progress_watch {
    std::uint64_t bytes = 0;
    clock::time_point last = clock::now();
    void sample(Session& s, bool running) {
        if (!running)
            return;
        const auto b = s.statistics().bytes_sent;
        if (b != bytes) {
            bytes = b;
            last = clock::now();
        }
    }
};

/// Keeps `depth` frames of `size` bytes queued; counts send_queue_full refusals.
template <class Session>
struct pump {
    struct data {
        std::weak_ptr<Session> session;
        std::string frame;
        std::size_t in_flight = 0;
        std::size_t sent = 0;
        std::size_t refused = 0;
        bool stopped = false;
        std::optional<clock::time_point> first_refusal;
    };
    std::shared_ptr<data> d = std::make_shared<data>();

    pump(const std::shared_ptr<Session>& s, std::size_t size) {
        d->session = s;
        d->frame.assign(size, 'x');
    }
    /// Tries to add `n` more frames now.
    void push(std::size_t n) const { fill(d, n); }

    static void fill(const std::shared_ptr<data>& d, std::size_t n) {
        auto s = d->session.lock();
        for (std::size_t i = 0; s && !d->stopped && i < n; ++i) {
            ++d->in_flight;
            s->async_send(d->frame, [d](error_code ec) {
                --d->in_flight;
                if (ec == heartbeat::error::send_queue_full) {
                    ++d->refused;
                    if (!d->first_refusal)
                        d->first_refusal = clock::now();
                } else if (!ec) {
                    ++d->sent;
                    fill(d, 1);
                } else {
                    d->stopped = true;
                }
            });
        }
    }
};

} // namespace

// =============================================================================================
// A real peer process.

TEST_CASE("a peer frozen with SIGSTOP ends the session with timeout after read_timeout",
          "[faults][process]") {
    const auto ping = 50ms;
    const auto read = 300ms;
    hbf::timing from_fault("SIGSTOP, from the freeze");
    hbf::timing from_byte("SIGSTOP, from the last byte received");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "heartbeat", 50, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(ping, read, 1000ms));
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(healthy(ioc, *s, *end, 3 * ping)); // the peer is alive, answering and pinging

        const auto fault = clock::now();
        REQUIRE(peer.signal(SIGSTOP));
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, read + 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::timeout);
        const double detect = ms(end->when - fault);
        const double silent = ms(end->stats.since_last_receive);
        CHECK(silent >= ms(read) - early_ms);
        CHECK(silent <= ms(read) + late_ms);
        CHECK(detect >= ms(read - ping) - early_ms);
        CHECK(detect <= ms(read + ping) + late_ms);
        from_fault.add(detect);
        from_byte.add(silent);

        // Resumed, it finds our close and leaves by itself.
        peer.signal(SIGCONT);
        CHECK(peer.wait(5s));
        s.reset();
        hbf::drain(ioc);
    }
    from_fault.print();
    from_byte.print();
}

TEST_CASE("a peer killed with SIGKILL ends the session with eof or reset at once",
          "[faults][process]") {
    hbf::timing detect_time("SIGKILL, from the kill");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "heartbeat", 50, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(50ms, 300ms, 1000ms));
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(healthy(ioc, *s, *end, 100ms));

        const auto fault = clock::now();
        REQUIRE(peer.signal(SIGKILL));
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(is_eof_or_reset(end->ec));
        const double detect = ms(end->when - fault);
        CHECK(detect < 100);
        detect_time.add(detect);
        s.reset();
        hbf::drain(ioc);
    }
    detect_time.print();
}

TEST_CASE("a peer that stops reading ends the session with write_timeout and memory stays bounded",
          "[faults][process]") {
    const auto write = 300ms;
    hbf::timing from_progress("deaf peer, from the last write progress");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "deaf", 50, peer);
        REQUIRE(socket);
        socket->set_option(asio::socket_base::send_buffer_size(32 * 1024));
        auto o = fault_options(50ms, 2000ms, write);
        o.max_frame_size = 16 * 1024;
        o.send_queue_limit = 256 * 1024;
        auto s = std::make_shared<line_session>(std::move(*socket), o);
        const long rss_before = hbf::rss_kib();
        auto end = run(s);
        pump<line_session> sender(s, 16 * 1024);
        progress_watch<line_session> progress;
        std::size_t attempts = 0;
        // 64 frames (1 MiB) offered every millisecond: far more than the limit takes.
        every_ms offer(ioc, [&] {
            progress.sample(*s, !end->done);
            sender.push(64);
            attempts += 64;
        });
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 10s));
        const long rss_after = hbf::rss_kib();
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::write_timeout);
        CHECK(sender.d->refused > 0); // send_queue_full once the limit was reached
        const double stalled = ms(end->when - progress.last);
        CHECK(stalled >= ms(write) - sampled_ms);
        CHECK(stalled <= ms(write) + late_ms);
        from_progress.add(stalled);
        const double offered_mib = attempts * 16.0 / 1024;
        const double growth_mib = (rss_after - rss_before) / 1024.0;
        std::printf("HBT_MEMORY deaf peer: offered %.0f MiB, refused %zu sends, sent %.1f MiB, "
                    "RSS growth %.1f MiB\n",
                    offered_mib, sender.d->refused, sender.d->sent * 16.0 / 1024, growth_mib);
        CHECK(growth_mib < 16);
        s.reset();
        hbf::drain(ioc);
    }
    from_progress.print();
}

TEST_CASE("a slowloris peer trickling an unfinished frame ends the session with idle_timeout",
          "[faults][process]") {
    const auto idle = 400ms;
    hbf::timing detect_time("slowloris, from the start");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "slowloris", 50, peer);
        REQUIRE(socket);
        auto o = fault_options(50ms, 300ms, 1000ms);
        o.idle_timeout = idle;
        auto s = std::make_shared<line_session>(std::move(*socket), o);
        const auto start = clock::now();
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 5s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::idle_timeout);
        CHECK(end->stats.bytes_received > 0); // its bytes kept read_timeout away
        CHECK(end->stats.frames_received == 0);
        const double detect = ms(end->when - start);
        CHECK(detect >= ms(idle) - early_ms);
        CHECK(detect <= ms(idle) + late_ms);
        detect_time.add(detect);
        s.reset();
        hbf::drain(ioc);
    }
    detect_time.print();
}

TEST_CASE("a peer that half-closes ends the session with eof after its last frame",
          "[faults][process]") {
    hbf::timing detect_time("half-close, from the last frame");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "halfclose", 50, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(50ms, 300ms, 1000ms));
        clock::time_point frame_at{};
        error_code next_ec;
        auto end = run(s);
        // The natural receive loop: the frame, then the next receive learns of the EOF, which
        // lets the session end at once (it waits for an application that does not ask).
        s->async_receive([&](error_code ec, std::string f) {
            CHECK_FALSE(ec);
            CHECK(f == "hello");
            frame_at = clock::now();
            s->async_receive([&](error_code ec2, std::string) { next_ec = ec2; });
        });
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == asio::error::eof);
        CHECK(end->stats.frames_received == 1);
        CHECK(next_ec == asio::error::eof);
        hbf::drain(ioc);
        detect_time.add(ms(end->when - frame_at));
        CHECK(peer.wait(3s)); // it saw our close and left
        s.reset();
        hbf::drain(ioc);
    }
    detect_time.print();
}

TEST_CASE("a peer that resets mid-frame ends the session with reset or eof", "[faults][process]") {
    hbf::timing detect_time("reset mid-frame, from the RST");
    const int wait_ms = 100; // the peer waits this long after half a line, then resets
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "reset", wait_ms, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(50ms, 1000ms, 1000ms));
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(is_eof_or_reset(end->ec));
        CHECK(end->stats.bytes_received == 9); // the half line, and no frame out of it
        CHECK(frames.d->frames.empty());
        detect_time.add(ms(end->stats.since_last_receive) - wait_ms);
        s.reset();
        hbf::drain(ioc);
    }
    detect_time.print();
}

TEST_CASE("our own event loop blocked for 3x read_timeout does not kill a healthy peer",
          "[faults][process]") {
    const auto read = 200ms;
    hbf::timing recovered("loop stall of 3x read_timeout: stalls counted", "stalls");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer; // its own process, its own io_context: it stays healthy
        auto socket = start_peer(ioc, "127.0.0.1", {}, "heartbeat", 50, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(50ms, read, 1000ms));
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(healthy(ioc, *s, *end, 200ms));

        asio::post(ioc, [&] { std::this_thread::sleep_for(3 * read); });
        hbf::run_for(ioc, 3 * read + 600ms);
        INFO("ended with " << describe(end->ec));
        CHECK_FALSE(end->done);
        const auto stats = s->statistics();
        CHECK(stats.stalls >= 1);
        recovered.add(static_cast<double>(stats.stalls));

        s->close();
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 3s));
        CHECK(end->ec == asio::error::operation_aborted);
        CHECK(end->calls == 1);
        s.reset();
        hbf::drain(ioc);
    }
    recovered.print();
}

// =============================================================================================
// The peer's host vanishes: a network namespace joined by a veth pair, packets dropped.

namespace {

enum class vanish { iptables_drop, link_down };

void host_vanishes(vanish how) {
    const auto ping = 50ms;
    const auto read = 300ms;
    const char* name = how == vanish::iptables_drop ? "host vanishes (iptables DROP)"
                                                    : "host vanishes (link down)";
    hbf::timing from_fault(std::string(name) + ", from the fault");
    hbf::timing from_byte(std::string(name) + ", from the last byte received");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        hbf::netns ns;
        std::string why;
        if (!ns.create(why)) {
            skip(why);
            return;
        }
        if (how == vanish::iptables_drop && !hbf::netns::have_iptables()) {
            skip("iptables is not installed (tests/faults/run.sh installs it)");
            return;
        }
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket =
            start_peer(ioc, hbf::netns::host_address, ns.exec_prefix(), "heartbeat", 50, peer);
        REQUIRE(socket);
        auto s =
            std::make_shared<line_session>(std::move(*socket), fault_options(ping, read, 1000ms));
        auto end = run(s);
        collector<line_session> frames(s);
        REQUIRE(healthy(ioc, *s, *end, 200ms));

        clock::time_point applied{};
        REQUIRE(apply_while_running(
            ioc, how == vanish::iptables_drop ? ns.drop_command() : ns.link_down_command(),
            applied));
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, read + 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::timeout);
        const double silent = ms(end->stats.since_last_receive);
        const double detect = ms(end->when - applied);
        CHECK(silent >= ms(read) - early_ms);
        CHECK(silent <= ms(read) + late_ms);
        CHECK(detect <= ms(read + ping) + late_ms);
        from_fault.add(detect);
        from_byte.add(silent);
        s.reset();
        hbf::drain(ioc);
    }
    from_fault.print();
    from_byte.print();
}

} // namespace

TEST_CASE("a peer whose host silently drops every packet ends the session with timeout",
          "[faults][netns]") {
    host_vanishes(vanish::iptables_drop);
}

TEST_CASE("a peer whose link goes down ends the session with timeout", "[faults][netns]") {
    host_vanishes(vanish::link_down);
}

TEST_CASE("sending into a vanished host ends the session with write_timeout before timeout",
          "[faults][netns]") {
    const auto ping = 50ms;
    const auto write = 300ms;
    const auto read = 1000ms;
    hbf::timing from_fault("host vanishes with data queued, from the fault");
    hbf::timing from_progress("host vanishes with data queued, from the last write progress");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        hbf::netns ns;
        std::string why;
        if (!ns.create(why)) {
            skip(why);
            return;
        }
        const bool iptables = hbf::netns::have_iptables();
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket =
            start_peer(ioc, hbf::netns::host_address, ns.exec_prefix(), "heartbeat", 50, peer);
        REQUIRE(socket);
        socket->set_option(asio::socket_base::send_buffer_size(64 * 1024));
        auto o = fault_options(ping, read, write);
        o.max_frame_size = 64 * 1024;
        auto s = std::make_shared<line_session>(std::move(*socket), o);
        auto end = run(s);
        collector<line_session> frames(s);
        pump<line_session> sender(s, 32 * 1024);
        sender.push(8);
        progress_watch<line_session> progress;
        every_ms watch(ioc, [&] { progress.sample(*s, !end->done); });
        // Our data postpones our PINGs: no PONG to wait for, only the peer's PINGs.
        REQUIRE(healthy(ioc, *s, *end, 200ms, false));
        REQUIRE(sender.d->sent > 0); // data flows while the host is there

        clock::time_point applied{};
        REQUIRE(apply_while_running(ioc, iptables ? ns.drop_command() : ns.link_down_command(),
                                    applied));
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, read + 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::write_timeout);
        const double stalled = ms(end->when - progress.last);
        const double detect = ms(end->when - applied);
        CHECK(stalled >= ms(write) - sampled_ms);
        CHECK(stalled <= ms(write) + late_ms);
        CHECK(detect <= ms(write + ping) + late_ms);
        from_fault.add(detect);
        from_progress.add(stalled);
        s.reset();
        hbf::drain(ioc);
    }
    from_fault.print();
    from_progress.print();
}

// =============================================================================================
// Hostile input.

TEST_CASE("a PING flood from a peer that never reads: PONGs coalesce, memory stays bounded",
          "[faults][hostile]") {
    asio::io_context ioc;
    hbf::child_process peer;
    auto socket = start_peer(ioc, "127.0.0.1", {}, "flood", 0, peer, 10000);
    REQUIRE(socket);
    socket->set_option(asio::socket_base::send_buffer_size(16 * 1024));
    auto o = fault_options(50ms, 2000ms, 0ms); // no write_timeout: survive the whole flood
    auto s = std::make_shared<line_session>(std::move(*socket), o);
    auto end = run(s);
    hbf::run_for(ioc, 200ms);
    const long rss_start = hbf::rss_kib();
    const auto mid = s->statistics();
    hbf::run_for(ioc, 1500ms);
    const long rss_end = hbf::rss_kib();
    REQUIRE_FALSE(end->done);
    const auto st = s->statistics();
    const double growth_mib = (rss_end - rss_start) / 1024.0;
    std::printf("HBT_MEMORY PING flood: %llu PINGs received (%.1f MiB), %llu PONGs sent, "
                "%llu bytes sent, RSS growth over the last 1.5 s %.2f MiB\n",
                static_cast<unsigned long long>(st.pings_received), st.bytes_received / 1048576.0,
                static_cast<unsigned long long>(st.pongs_sent),
                static_cast<unsigned long long>(st.bytes_sent), growth_mib);
    CHECK(st.pings_received > 100000);
    // Coalesced: far fewer PONGs than PINGs, and they stopped when the peer's window closed.
    CHECK(st.pongs_sent * 100 < st.pings_received);
    CHECK(st.bytes_sent - mid.bytes_sent < 64 * 1024);
    CHECK(growth_mib < 4);
    s->close();
    REQUIRE(hbf::run_until(
        ioc, [&] { return end->done; }, 3s));
    CHECK(end->ec == asio::error::operation_aborted);
    s.reset();
    hbf::drain(ioc);
}

TEST_CASE("a PING flood ends the session with ping_flood when min_peer_ping_interval is set",
          "[faults][hostile]") {
    hbf::timing detect_time("PING flood with min_peer_ping_interval, from the connection");
    for (int i = 0; i < hbf::fault_runs(); ++i) {
        asio::io_context ioc;
        hbf::child_process peer;
        auto socket = start_peer(ioc, "127.0.0.1", {}, "flood", 0, peer, 10000);
        REQUIRE(socket);
        auto o = fault_options(50ms, 2000ms, 0ms);
        o.min_peer_ping_interval = 25ms;
        auto s = std::make_shared<line_session>(std::move(*socket), o);
        const auto start = clock::now();
        auto end = run(s);
        REQUIRE(hbf::run_until(
            ioc, [&] { return end->done; }, 3s));
        INFO("ended with " << describe(end->ec));
        CHECK(end->ec == heartbeat::error::ping_flood);
        const double detect = ms(end->when - start);
        CHECK(detect < 100);
        detect_time.add(detect);
        s.reset();
        hbf::drain(ioc);
    }
    detect_time.print();
}

namespace {

/// A session over loopback whose peer is a raw socket in the same io_context, writing whatever
/// bytes a test gives it.
template <class Session>
struct raw_peer {
    asio::io_context ioc;
    tcp::socket peer{ioc};
    std::shared_ptr<Session> session;
    std::shared_ptr<ending> end;
    std::unique_ptr<collector<Session>> frames;

    explicit raw_peer(heartbeat::options o, bool collect = true) {
        tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        peer.connect(acceptor.local_endpoint());
        tcp::socket server(ioc);
        acceptor.accept(server);
        session = std::make_shared<Session>(std::move(server), o);
        end = run(session);
        if (collect)
            frames = std::make_unique<collector<Session>>(session);
    }
    ~raw_peer() {
        error_code ignored;
        peer.close(ignored);
        if (session)
            session->close();
        session.reset();
        hbf::drain(ioc);
    }

    /// Writes `bytes` (asynchronously: the session reads them in the same loop), then shuts
    /// down the sending side when `then_eof`; runs until the session ends.
    bool feed(std::string bytes, bool then_eof, clock::duration cap = 5s) {
        auto data = std::make_shared<std::string>(std::move(bytes));
        asio::async_write(peer, asio::buffer(*data),
                          [this, data, then_eof](error_code ec, std::size_t) {
                              error_code ignored;
                              if (!ec && then_eof)
                                  peer.shutdown(tcp::socket::shutdown_send, ignored);
                          });
        return hbf::run_until(
            ioc, [&] { return end->done && frames->d->ended; }, cap);
    }
    std::vector<std::string> received() const { return frames->d->frames; }
};

heartbeat::options hostile_options(std::size_t max_frame_size) {
    heartbeat::options o;
    o.ping_interval = 0ms; // nothing but the input under test on the wire
    o.read_timeout = 2000ms;
    o.write_timeout = 0ms;
    o.max_frame_size = max_frame_size;
    return o;
}

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string lp_frame(std::uint32_t len, unsigned char type, const std::string& body = {}) {
    return be32(len) + std::string(1, static_cast<char>(type)) + body;
}

} // namespace

TEST_CASE("oversized lines end the session with frame_too_large before buffering them",
          "[faults][hostile]") {
    SECTION("a line without newline past max_frame_size") {
        raw_peer<line_session> t(hostile_options(1024));
        // Far more than the bound; the session must refuse after about max_frame_size bytes.
        REQUIRE(t.feed(std::string(1 << 20, 'a'), false));
        CHECK(t.end->ec == heartbeat::error::frame_too_large);
        CHECK(t.end->stats.bytes_received <= 1024 + 2); // never more than one frame's bound
        CHECK(t.received().empty());
    }
    SECTION("one byte over, with its newline") {
        raw_peer<line_session> t(hostile_options(1024));
        REQUIRE(t.feed(std::string(1025, 'a') + "\n", false));
        CHECK(t.end->ec == heartbeat::error::frame_too_large);
    }
    SECTION("exactly max_frame_size with CRLF is delivered") {
        raw_peer<line_session> t(hostile_options(1024));
        REQUIRE(t.feed(std::string(1024, 'a') + "\r\n", true));
        CHECK(t.end->ec == asio::error::eof);
        REQUIRE(t.received().size() == 1);
        CHECK(t.received()[0] == std::string(1024, 'a'));
    }
}

TEST_CASE("NUL bytes, lone CRs and empty lines decode exactly", "[faults][hostile]") {
    raw_peer<line_session> t(hostile_options(1024));
    const std::string nul("a\0b\0\0c", 6);
    REQUIRE(t.feed(nul + "\n" + "a\rb\n" + "\r\n" + "\n" + "\r\r\n" + "PING\r\n" + "x\r", true));
    CHECK(t.end->ec == asio::error::eof);
    // Every CR right before the LF is line ending: "\r\r\n" is an empty line.
    const std::vector<std::string> expected = {nul, "a\rb", "", "", ""};
    CHECK(t.received() == expected);
    CHECK(t.end->stats.pings_received == 1);
}

TEST_CASE("hostile length prefixes: 0, 0xFFFFFFFF, max+1, bad types and heartbeat lengths",
          "[faults][hostile]") {
    const std::size_t max = 4096;
    SECTION("length 0 is an empty frame") {
        raw_peer<lp_session> t(hostile_options(max));
        REQUIRE(t.feed(lp_frame(0, 0) + lp_frame(3, 0, "abc"), true));
        CHECK(t.end->ec == asio::error::eof);
        CHECK(t.received() == std::vector<std::string>{"", "abc"});
    }
    SECTION("length 0xFFFFFFFF is refused from the header alone") {
        raw_peer<lp_session> t(hostile_options(max));
        REQUIRE(t.feed(lp_frame(0xFFFFFFFFu, 0), false));
        CHECK(t.end->ec == heartbeat::error::frame_too_large);
        CHECK(t.end->stats.bytes_received == 5);
    }
    SECTION("length max_frame_size + 1 is refused before its payload") {
        raw_peer<lp_session> t(hostile_options(max));
        REQUIRE(t.feed(lp_frame(max + 1, 0), false));
        CHECK(t.end->ec == heartbeat::error::frame_too_large);
    }
    SECTION("length max_frame_size is delivered") {
        raw_peer<lp_session> t(hostile_options(max));
        REQUIRE(t.feed(lp_frame(max, 0, std::string(max, '\0')), true));
        CHECK(t.end->ec == asio::error::eof);
        CHECK(t.received() == std::vector<std::string>{std::string(max, '\0')});
    }
    SECTION("an unknown type byte is a protocol error") {
        for (unsigned type : {3u, 7u, 0x80u, 0xFFu}) {
            raw_peer<lp_session> t(hostile_options(max));
            REQUIRE(t.feed(lp_frame(1, static_cast<unsigned char>(type), "x"), false));
            CHECK(t.end->ec == heartbeat::error::protocol);
        }
    }
    SECTION("a heartbeat whose length is not 8 is a protocol error") {
        for (std::uint32_t len : {0u, 4u, 9u, 0xFFFFFFFFu}) {
            raw_peer<lp_session> t(hostile_options(max));
            REQUIRE(t.feed(lp_frame(len, 1, std::string(len < 16 ? len : 16, 'i')), false));
            CHECK(t.end->ec == heartbeat::error::protocol);
        }
    }
    SECTION("a well-formed PING is answered and counted") {
        raw_peer<lp_session> t(hostile_options(max));
        REQUIRE(t.feed(lp_frame(8, 1, std::string(8, '\x01')), true));
        CHECK(t.end->ec == asio::error::eof);
        CHECK(t.end->stats.pings_received == 1);
    }
}

namespace {

/// 64 KiB of noise. For the line framing, random bytes already hold newlines; for the
/// length-prefixed one, mostly plausible frames with a few bytes corrupted, or pure noise.
std::string make_garbage(unsigned seed, bool length_prefixed) {
    std::mt19937 rng(seed);
    std::string out;
    if (!length_prefixed || seed % 5 == 0) {
        out.resize(64 * 1024);
        for (auto& c : out)
            c = static_cast<char>(rng());
        if (seed % 3 == 0) // biased towards the framings' special bytes
            for (auto& c : out)
                if (rng() % 4 == 0)
                    c = "\n\r\0\1\2P"[rng() % 6];
        return out;
    }
    while (out.size() < 64 * 1024) {
        const unsigned type = "\0\0\0\1\2"[rng() % 5];
        const std::uint32_t len = type == 0 ? rng() % 1500 : 8;
        out += be32(len) + std::string(1, static_cast<char>(type));
        for (std::uint32_t i = 0; i < len; ++i)
            out += static_cast<char>(rng());
    }
    const unsigned flips = rng() % 4; // 0 flips: a clean stream of ~90 frames
    for (unsigned i = 0; i < flips; ++i)
        out[rng() % out.size()] = static_cast<char>(rng());
    return out;
}

template <class Session>
void random_garbage(hbref::result (*reference)(std::string_view, std::size_t), const char* name,
                    bool length_prefixed) {
    const std::size_t max = 1024;
    std::size_t errors = 0;
    std::size_t frames = 0;
    long rss_start = 0;
    for (unsigned seed = 1; seed <= 30; ++seed) {
        const std::string garbage = make_garbage(seed, length_prefixed);
        const auto expected = reference(garbage, max);
        raw_peer<Session> t(hostile_options(max));
        INFO(name << " seed " << seed);
        REQUIRE(t.feed(garbage, true)); // no hang
        // Exactly the reference's frames, and its error or the EOF after them.
        CHECK(t.received() == hbref::payloads(expected.frames));
        if (expected.error)
            CHECK(t.end->ec == expected.error);
        else
            CHECK(t.end->ec == asio::error::eof);
        errors += expected.error ? 1 : 0;
        frames += t.received().size();
        if (seed == 5)
            rss_start = hbf::rss_kib();
    }
    const double growth_mib = (hbf::rss_kib() - rss_start) / 1024.0;
    std::printf("HBT_MEMORY random garbage (%s): 30 x 64 KiB, %zu frames decoded, %zu malformed "
                "streams refused, RSS growth %.2f MiB\n",
                name, frames, errors, growth_mib);
    CHECK(growth_mib < 4);
}

} // namespace

TEST_CASE("random garbage decodes exactly as the reference says, or fails cleanly",
          "[faults][hostile]") {
    random_garbage<line_session>(&hbref::decode_line, "line", false);
    random_garbage<lp_session>(&hbref::decode_length_prefixed, "length-prefixed", true);
}

TEST_CASE("frames reach several outstanding receives in order after a receive-queue pause",
          "[faults][hostile]") {
    // BUGS.md, bug 2: a frame decoded by a read that resuming started is handed inline to a
    // waiting receive, ahead of an earlier frame whose completion is still queued.
    heartbeat::options o = hostile_options(64);
    o.receive_queue_limit = 128;        // two 40-byte frames (plus bookkeeping) fill it
    raw_peer<line_session> t(o, false); // this test receives by itself
    const std::string a(40, 'A'), b(40, 'B'), c(40, 'C');
    asio::write(t.peer, asio::buffer(a + "\n" + b + "\n"));
    hbf::run_for(t.ioc, 100ms);                  // A and B held; reading paused
    asio::write(t.peer, asio::buffer(c + "\n")); // C waits in the socket
    std::string order;
    for (int i = 0; i < 3; ++i)
        t.session->async_receive([&order](error_code ec, std::string f) {
            if (!ec)
                order += f[0];
        });
    hbf::run_until(
        t.ioc, [&] { return order.size() == 3; }, 2s);
    CHECK(order == "ABC");
}
