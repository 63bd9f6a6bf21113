// Shared fixtures for the heartbeat tests: Catch2 (2.x or 3.x), loopback socket pairs, an
// io_context runner with a hard wall-clock cap (a hung test fails, it does not hang), clock
// tolerances, handler recorders and a scripted raw peer that writes and reads plain bytes.
//
// Timing rule for every test here: a deadline is asserted as "not before" with a 1 ms epsilon
// and "not much after" with a generous slack, never as a window of a few milliseconds. Set
// HEARTBEAT_TEST_TIME_SCALE (e.g. 3 under valgrind) to widen every slack and cap.
#ifndef HEARTBEAT_TESTS_SUPPORT_HPP
#define HEARTBEAT_TESTS_SUPPORT_HPP

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <heartbeat/heartbeat.hpp>

#include "net.hpp" // asio:: and hbt::error_code, over standalone Asio or Boost.Asio
#include "no_exceptions.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// Readable assertion messages for error codes and the library's enums.
namespace Catch {
template <>
struct StringMaker<heartbeat::error_code> {
    static std::string convert(const heartbeat::error_code& ec) {
        return std::string(ec.category().name()) + ":" + std::to_string(ec.value()) + " (" +
               ec.message() + ")";
    }
};
template <>
struct StringMaker<heartbeat::error> {
    static std::string convert(heartbeat::error e) {
        return StringMaker<heartbeat::error_code>::convert(make_error_code(e));
    }
};
} // namespace Catch

namespace hbt {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using local_socket = asio::local::stream_protocol::socket;
using heartbeat::frame_kind;

using line_session = heartbeat::heartbeat_session<tcp::socket>;
using lp_session = heartbeat::heartbeat_session<tcp::socket, heartbeat::length_prefixed_framing>;

// ---------------------------------------------------------------------------------------------
// Clock tolerances.

/// Multiplier for every slack and cap, from HEARTBEAT_TEST_TIME_SCALE (never below 1).
inline double time_scale() {
    static const double scale = [] {
        const char* v = std::getenv("HEARTBEAT_TEST_TIME_SCALE");
        const double d = v ? std::atof(v) : 1.0;
        return d > 1.0 ? d : 1.0;
    }();
    return scale;
}

inline clock::duration scaled(clock::duration d) {
    return std::chrono::duration_cast<clock::duration>(d * time_scale());
}

/// How late a timed event (a deadline, a PING) may be on a loaded two-core machine.
inline clock::duration late_slack() {
    return scaled(300ms);
}

/// The hard wall-clock cap for one wait in a test.
inline clock::duration hard_cap() {
    return scaled(5s);
}

/// Whole milliseconds, as a plain integer so that Catch prints it.
template <class Rep, class Period>
long long ms(std::chrono::duration<Rep, Period> d) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

inline long long ms_between(clock::time_point from, clock::time_point to) {
    return ms(to - from);
}
inline long long ms_since(clock::time_point from) {
    return ms_between(from, clock::now());
}

/// The lower bound of a deadline check: never before the deadline (1 ms for clock rounding).
template <class Rep, class Period>
long long not_before(std::chrono::duration<Rep, Period> d) {
    return ms(d) - 1;
}
/// The upper bound of a deadline check: the deadline plus the slack.
template <class Rep, class Period>
long long not_much_after(std::chrono::duration<Rep, Period> d) {
    return ms(d) + ms(late_slack());
}

// ---------------------------------------------------------------------------------------------
// Running an io_context with a cap.

/// Runs `ioc` until `done()` holds. False when the cap passed first, or when the context ran out
/// of work before `done()` held (it never would).
template <class Pred>
bool run_until(asio::io_context& ioc, Pred done, clock::duration cap = hard_cap()) {
    const auto deadline = clock::now() + cap;
    while (!done()) {
        if (clock::now() >= deadline)
            return false;
        if (ioc.stopped())
            ioc.restart();
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped() && !done())
            return false;
    }
    return true;
}

/// Runs `ioc` for `d` of wall-clock time (or until `stop()` holds), whatever happens in it.
template <class Pred>
void run_for(asio::io_context& ioc, clock::duration d, Pred stop) {
    const auto deadline = clock::now() + d;
    while (!stop() && clock::now() < deadline) {
        if (ioc.stopped())
            ioc.restart();
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped())
            std::this_thread::sleep_for(1ms); // out of work: let the time pass
    }
}
inline void run_for(asio::io_context& ioc, clock::duration d) {
    run_for(ioc, d, [] { return false; });
}

/// Runs `ioc` until it has no work left; false when the cap passed first.
inline bool run_to_completion(asio::io_context& ioc, clock::duration cap = hard_cap()) {
    ioc.restart();
    ioc.run_for(cap);
    return ioc.stopped();
}

/// Declared right after the io_context: on scope exit (including a failed REQUIRE), after the
/// sessions and peers declared later are gone, runs what they left behind (aborted handlers,
/// the sessions' final clean-up) so nothing leaks into the sanitizer's report.
class drain_on_exit {
public:
    explicit drain_on_exit(asio::io_context& ioc)
        : ioc_(ioc) {}
    drain_on_exit(const drain_on_exit&) = delete;
    drain_on_exit& operator=(const drain_on_exit&) = delete;
    ~drain_on_exit() { run_to_completion(ioc_, scaled(2s)); }

private:
    asio::io_context& ioc_;
};

// ---------------------------------------------------------------------------------------------
// Socket pairs.

template <class Socket>
struct socket_pair {
    Socket a;
    Socket b;
};

/// A connected loopback TCP pair with TCP_NODELAY. A non-zero `buffer_size` sets SO_SNDBUF and
/// SO_RCVBUF on both ends before connecting, so that a peer that stops reading stalls the
/// writer after a few kilobytes instead of megabytes.
inline socket_pair<tcp::socket> tcp_pair(asio::io_context& ioc, int buffer_size = 0) {
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    tcp::acceptor acceptor(ioc);
    acceptor.open(loopback.protocol());
    tcp::socket client(ioc);
    client.open(loopback.protocol());
    if (buffer_size > 0) {
        acceptor.set_option(asio::socket_base::send_buffer_size(buffer_size));
        acceptor.set_option(asio::socket_base::receive_buffer_size(buffer_size));
        client.set_option(asio::socket_base::send_buffer_size(buffer_size));
        client.set_option(asio::socket_base::receive_buffer_size(buffer_size));
    }
    acceptor.bind(loopback);
    acceptor.listen();
    client.connect(acceptor.local_endpoint());
    tcp::socket server(ioc);
    acceptor.accept(server);
    client.set_option(tcp::no_delay(true));
    server.set_option(tcp::no_delay(true));
    return {std::move(client), std::move(server)};
}

/// A connected AF_UNIX stream pair (socketpair(2)).
inline socket_pair<local_socket> local_pair(asio::io_context& ioc) {
    local_socket a(ioc);
    local_socket b(ioc);
    asio::local::connect_pair(a, b);
    return {std::move(a), std::move(b)};
}

/// The same, or `ec` set: operation_not_supported where the platform has no socketpair()
/// (Windows: Asio compiles local sockets there, but cannot pair them).
inline socket_pair<local_socket> local_pair(asio::io_context& ioc, error_code& ec) {
    local_socket a(ioc);
    local_socket b(ioc);
    asio::local::connect_pair(a, b, ec);
    return {std::move(a), std::move(b)};
}

// ---------------------------------------------------------------------------------------------
// Skipping.

/// Ends a test case that cannot run on this platform, saying why, in its output. Catch2 2 has no
/// SKIP: CTest finds the marker "skipped on this platform" (SKIP_REGULAR_EXPRESSION, set in
/// tests/CMakeLists.txt) and reports the test as skipped, not passed.
#define HBT_SKIP_ON_THIS_PLATFORM(reason)                                                          \
    do {                                                                                           \
        WARN("skipped on this platform: " << reason);                                              \
        return;                                                                                    \
    } while (false)

// ---------------------------------------------------------------------------------------------
// Options.

/// Options scaled down for tests: tens of milliseconds instead of tens of seconds.
inline heartbeat::options test_options() {
    heartbeat::options o;
    o.ping_interval = 30ms;
    o.read_timeout = 300ms;
    o.idle_timeout = 0ms;
    o.write_timeout = 1000ms;
    return o;
}

/// Options for a session that only moves data: no PINGs and no deadlines.
inline heartbeat::options quiet_options() {
    heartbeat::options o = test_options();
    o.ping_interval = 0ms;
    o.read_timeout = 0ms;
    o.write_timeout = 0ms;
    return o;
}

// ---------------------------------------------------------------------------------------------
// Handler recorders. Their state is shared with the handlers they make, so a handler that runs
// after the test body left (while a failed test unwinds) writes into live memory.

/// Is the calling thread inside an initiating function? Tests set it around async_* calls to
/// prove that no handler runs inline.
inline bool& initiating() {
    static thread_local bool flag = false;
    return flag;
}

/// Calls `f` (which starts an operation) with initiating() set.
template <class F>
void initiate(F&& f) {
    initiating() = true;
    std::forward<F>(f)();
    initiating() = false;
}

/// Records a void(error_code) completion.
class outcome {
    struct data {
        int calls = 0;
        bool inline_call = false;
        error_code ec;
        clock::time_point when{};
    };

public:
    auto handler() const {
        return [d = d_](error_code ec) {
            ++d->calls;
            d->inline_call = d->inline_call || initiating();
            d->ec = ec;
            d->when = clock::now();
        };
    }
    bool done() const { return d_->calls > 0; }
    int calls() const { return d_->calls; }
    bool was_inline() const { return d_->inline_call; }
    error_code ec() const { return d_->ec; }
    clock::time_point when() const { return d_->when; }

private:
    std::shared_ptr<data> d_ = std::make_shared<data>();
};

/// Records a void(error_code, std::string) completion (async_receive).
class frame_outcome {
    struct data {
        int calls = 0;
        bool inline_call = false;
        error_code ec;
        std::string frame;
        clock::time_point when{};
    };

public:
    auto handler() const {
        return [d = d_](error_code ec, std::string frame) {
            ++d->calls;
            d->inline_call = d->inline_call || initiating();
            d->ec = ec;
            d->frame = std::move(frame);
            d->when = clock::now();
        };
    }
    bool done() const { return d_->calls > 0; }
    int calls() const { return d_->calls; }
    bool was_inline() const { return d_->inline_call; }
    error_code ec() const { return d_->ec; }
    const std::string& frame() const { return d_->frame; }
    clock::time_point when() const { return d_->when; }

private:
    std::shared_ptr<data> d_ = std::make_shared<data>();
};

/// Calls async_receive again and again, collecting frames until the first error. It refers to
/// the session through a weak_ptr, so it stops by itself once the session is gone.
template <class Session>
class collector {
    struct data {
        std::vector<std::string> frames;
        bool ended = false;
        error_code ec;
        std::size_t limit = static_cast<std::size_t>(-1);
    };

public:
    /// Starts receiving; stops after `limit` frames (the session then holds the rest).
    explicit collector(const std::shared_ptr<Session>& session,
                       std::size_t limit = static_cast<std::size_t>(-1))
        : session_(session) {
        d_->limit = limit;
        receive(session_, d_);
    }

    const std::vector<std::string>& frames() const { return d_->frames; }
    std::size_t size() const { return d_->frames.size(); }
    bool ended() const { return d_->ended; }
    error_code ec() const { return d_->ec; }

private:
    static void receive(const std::weak_ptr<Session>& weak, const std::shared_ptr<data>& d) {
        auto session = weak.lock();
        if (!session || d->frames.size() >= d->limit)
            return;
        session->async_receive([weak, d](error_code ec, std::string frame) {
            if (ec) {
                d->ended = true;
                d->ec = ec;
                return;
            }
            d->frames.push_back(std::move(frame));
            receive(weak, d);
        });
    }

    std::weak_ptr<Session> session_;
    std::shared_ptr<data> d_ = std::make_shared<data>();
};

/// Calls `tick()` every `period` until `total` has passed or the ticker is destroyed.
class ticker {
    struct data {
        explicit data(const asio::any_io_executor& ex)
            : timer(ex) {}
        asio::steady_timer timer;
        std::function<void()> tick;
        clock::time_point end;
        clock::duration period;
        std::size_t ticks = 0;
        bool stopped = false;
    };

public:
    template <class Executor, class F>
    ticker(const Executor& ex, clock::duration period, clock::duration total, F tick)
        : d_(std::make_shared<data>(ex)) {
        d_->tick = std::move(tick);
        d_->period = period;
        d_->end = clock::now() + total;
        arm(d_);
    }
    ticker(const ticker&) = delete;
    ticker& operator=(const ticker&) = delete;
    ~ticker() { stop(); }

    void stop() {
        d_->stopped = true;
        d_->timer.cancel();
    }
    std::size_t ticks() const { return d_->ticks; }

private:
    static void arm(const std::shared_ptr<data>& d) {
        d->timer.expires_after(d->period);
        d->timer.async_wait([d](error_code ec) {
            if (ec || d->stopped)
                return;
            ++d->ticks;
            d->tick();
            if (clock::now() < d->end && !d->stopped)
                arm(d);
        });
    }

    std::shared_ptr<data> d_;
};

// ---------------------------------------------------------------------------------------------
// The scripted raw peer: a plain socket on the other end of the session, driven step by step.

template <class Socket>
class basic_raw_peer {
    struct step {
        enum kind_type { write, wait, wait_until, shutdown_send, close, reset, call } kind;
        std::string bytes;
        clock::duration delay{};
        std::function<void()> fn;
        std::function<bool()> until;
    };

    struct data {
        explicit data(Socket s)
            : socket(std::move(s))
            , timer(socket.get_executor())
            , read_timer(socket.get_executor()) {}
        Socket socket;
        asio::steady_timer timer;
        asio::steady_timer read_timer;
        std::vector<step> script;
        std::size_t next = 0;
        bool script_done = false;
        bool stopped = false;
        error_code write_error;
        clock::time_point last_write{};

        bool reading = false;
        bool read_ended = false;
        error_code read_error;
        std::string received;
        std::array<char, 16 * 1024> buffer{};
        std::size_t read_chunk = 16 * 1024;
        clock::duration read_pause{};
    };

public:
    explicit basic_raw_peer(Socket socket)
        : d_(std::make_shared<data>(std::move(socket))) {}
    basic_raw_peer(const basic_raw_peer&) = delete;
    basic_raw_peer& operator=(const basic_raw_peer&) = delete;
    ~basic_raw_peer() {
        d_->stopped = true;
        d_->timer.cancel();
        d_->read_timer.cancel();
        error_code ignored;
        d_->socket.close(ignored);
    }

    Socket& socket() { return d_->socket; }

    // Script steps, run in order once start() is called. Add them all before start().
    basic_raw_peer& write(std::string bytes) {
        d_->script.push_back({step::write, std::move(bytes), {}, {}, {}});
        return *this;
    }
    basic_raw_peer& wait(clock::duration d) {
        d_->script.push_back({step::wait, {}, d, {}, {}});
        return *this;
    }
    /// Waits until `done()` holds (checked every millisecond): a step that follows an event
    /// instead of guessing its time, so a late timer on a loaded machine cannot reorder them.
    basic_raw_peer& wait_until(std::function<bool()> done) {
        d_->script.push_back({step::wait_until, {}, {}, {}, std::move(done)});
        return *this;
    }
    /// Writes `bytes` in pieces of `chunk` bytes, waiting `every` before each piece.
    basic_raw_peer& trickle(const std::string& bytes, std::size_t chunk, clock::duration every) {
        for (std::size_t i = 0; i < bytes.size(); i += chunk)
            wait(every).write(bytes.substr(i, chunk));
        return *this;
    }
    /// Writes `bytes` `count` times, waiting `every` before each.
    basic_raw_peer& repeat(const std::string& bytes, clock::duration every, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i)
            wait(every).write(bytes);
        return *this;
    }
    /// Half-close: the session reads EOF, the peer can still read.
    basic_raw_peer& shutdown_send() {
        d_->script.push_back({step::shutdown_send, {}, {}, {}, {}});
        return *this;
    }
    basic_raw_peer& close() {
        d_->script.push_back({step::close, {}, {}, {}, {}});
        return *this;
    }
    /// SO_LINGER 0 then close: the session sees a reset.
    basic_raw_peer& reset() {
        d_->script.push_back({step::reset, {}, {}, {}, {}});
        return *this;
    }
    basic_raw_peer& call(std::function<void()> fn) {
        d_->script.push_back({step::call, {}, {}, std::move(fn), {}});
        return *this;
    }

    void start() { run_next(d_); }
    bool script_done() const { return d_->script_done; }
    error_code write_error() const { return d_->write_error; }
    /// When the latest write step completed.
    clock::time_point last_write() const { return d_->last_write; }

    /// Reads everything the session writes into received(), in the background, until an error
    /// (EOF included). With `chunk`/`pause`, reads at most `chunk` bytes then waits `pause`: a
    /// slow reader.
    void start_reading(std::size_t chunk = 16 * 1024, clock::duration pause = {}) {
        d_->read_chunk = chunk < d_->buffer.size() ? chunk : d_->buffer.size();
        d_->read_pause = pause;
        if (!d_->reading) {
            d_->reading = true;
            read(d_);
        }
    }
    const std::string& received() const { return d_->received; }
    bool read_ended() const { return d_->read_ended; }
    error_code read_error() const { return d_->read_error; }

private:
    /// The script goes on after `delay`, or ends if the timer is cancelled.
    static void resume_after(const std::shared_ptr<data>& d, clock::duration delay) {
        d->timer.expires_after(delay);
        d->timer.async_wait([d](error_code ec) {
            if (ec) {
                d->script_done = true;
                return;
            }
            run_next(d);
        });
    }

    static void run_next(const std::shared_ptr<data>& d) {
        if (d->stopped || d->next == d->script.size()) {
            d->script_done = true;
            return;
        }
        step& s = d->script[d->next++];
        switch (s.kind) {
        case step::write:
            asio::async_write(d->socket, asio::buffer(s.bytes), [d](error_code ec, std::size_t) {
                if (ec) {
                    d->write_error = ec;
                    d->script_done = true;
                    return;
                }
                d->last_write = clock::now();
                run_next(d);
            });
            return;
        case step::wait:
            resume_after(d, s.delay);
            return;
        case step::wait_until:
            if (s.until()) {
                asio::post(d->socket.get_executor(), [d] { run_next(d); });
                return;
            }
            --d->next; // this step again, a millisecond later
            resume_after(d, 1ms);
            return;
        case step::shutdown_send: {
            error_code ignored;
            d->socket.shutdown(asio::socket_base::shutdown_send, ignored);
            break;
        }
        case step::close: {
            error_code ignored;
            d->socket.close(ignored);
            break;
        }
        case step::reset: {
            error_code ignored;
            d->socket.set_option(asio::socket_base::linger(true, 0), ignored);
            d->socket.close(ignored);
            break;
        }
        case step::call:
            s.fn();
            break;
        }
        // Synchronous steps continue through the executor, so a script never recurses deeply.
        asio::post(d->socket.get_executor(), [d] { run_next(d); });
    }

    static void read(const std::shared_ptr<data>& d) {
        d->socket.async_read_some(asio::buffer(d->buffer.data(), d->read_chunk),
                                  [d](error_code ec, std::size_t n) {
                                      d->received.append(d->buffer.data(), n);
                                      if (ec) {
                                          d->read_ended = true;
                                          d->read_error = ec;
                                          return;
                                      }
                                      if (d->read_pause == clock::duration::zero()) {
                                          read(d);
                                          return;
                                      }
                                      d->read_timer.expires_after(d->read_pause);
                                      d->read_timer.async_wait([d](error_code wait_ec) {
                                          if (!wait_ec && !d->stopped)
                                              read(d);
                                      });
                                  });
    }

    std::shared_ptr<data> d_;
};

using raw_peer = basic_raw_peer<tcp::socket>;

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// How the peer of a closed session sees the end. Closing a socket that still has unread bytes
/// (a PING that arrived a moment before) makes the kernel send RST instead of FIN, so a peer
/// that was talking may read connection_reset rather than eof. And a peer whose PING timer fires
/// in the same loop turn as the close, before its read sees the EOF, writes into a closed socket:
/// broken_pipe (at once over a local socket, after the RST over TCP). All three mean "the other
/// side closed". Where the closing side provably had nothing unread, tests check for eof exactly.
inline bool closed_by_peer(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

/// How many times `needle` occurs in `hay` (non-overlapping).
inline std::size_t count_of(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = hay.find(needle); pos != std::string::npos;
         pos = hay.find(needle, pos + needle.size()))
        ++n;
    return n;
}

/// `n` bytes of a pattern that differs per `seed`, so misordered or mixed frames show.
inline std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (i * 7 + seed * 13) % 26);
    return s;
}

/// A length-prefixed frame as raw bytes: 4-byte big-endian length, the type byte, the payload.
inline std::string lp_frame(std::uint32_t length, unsigned char type, const std::string& payload) {
    std::string s;
    s.push_back(static_cast<char>((length >> 24) & 0xff));
    s.push_back(static_cast<char>((length >> 16) & 0xff));
    s.push_back(static_cast<char>((length >> 8) & 0xff));
    s.push_back(static_cast<char>(length & 0xff));
    s.push_back(static_cast<char>(type));
    return s + payload;
}
inline std::string lp_data(const std::string& payload) {
    return lp_frame(static_cast<std::uint32_t>(payload.size()), 0, payload);
}

// ---------------------------------------------------------------------------------------------
// Driving a Framing by hand, as the session does: a buffer of unconsumed bytes that grows as
// chunks arrive, decode() until it needs more, the consumed prefix dropped after each frame.

struct decoded {
    frame_kind kind;
    std::string payload;
    std::uint64_t id;
    bool operator==(const decoded& o) const {
        return kind == o.kind && payload == o.payload && id == o.id;
    }
};

inline std::ostream& operator<<(std::ostream& os, const decoded& d) {
    const char* k = d.kind == frame_kind::data   ? "data"
                    : d.kind == frame_kind::ping ? "ping"
                                                 : "pong";
    os << k << "(" << d.payload.size() << " bytes";
    if (d.payload.size() <= 40) {
        os << " \"";
        for (char c : d.payload) {
            if (c >= 32 && c < 127)
                os << c;
            else
                os << "\\x"
                   << "0123456789abcdef"[(c >> 4) & 0xf] << "0123456789abcdef"[c & 0xf];
        }
        os << "\"";
    }
    return os << ", id " << d.id << ")";
}

struct decode_log {
    std::vector<decoded> frames;
    bool failed = false;
    error_code error;
    std::size_t leftover = 0; // bytes buffered when the input ended
};

/// Feeds `stream` to a fresh copy of `proto` in pieces ending at each of `cuts` (ascending), then
/// the rest. Checks the decode_result invariants on the way.
template <class Framing>
decode_log decode_pieces(const std::string& stream, const std::vector<std::size_t>& cuts,
                         std::size_t max_frame_size, const Framing& proto = Framing()) {
    Framing framing = proto;
    decode_log log;
    std::string buffer;
    std::size_t pos = 0;
    auto feed = [&](std::size_t end) {
        buffer.append(stream, pos, end - pos);
        pos = end;
        for (;;) {
            const heartbeat::decode_result r =
                framing.decode(buffer.data(), buffer.size(), max_frame_size);
            if (r.status == heartbeat::decode_result::need_more) {
                // The contract: never ask for more past one maximal frame and its framing.
                CHECK(buffer.size() <= std::max(max_frame_size + Framing::max_overhead,
                                                Framing::max_heartbeat_size));
                return true;
            }
            if (r.status == heartbeat::decode_result::failed) {
                CHECK(r.error);
                log.failed = true;
                log.error = r.error;
                return false;
            }
            REQUIRE(r.consumed > 0);
            REQUIRE(r.consumed <= buffer.size());
            REQUIRE(r.payload_offset + r.payload_size <= r.consumed);
            log.frames.push_back(
                {r.kind, buffer.substr(r.payload_offset, r.payload_size), r.heartbeat_id});
            buffer.erase(0, r.consumed);
        }
    };
    for (std::size_t cut : cuts)
        if (!feed(cut))
            return log;
    if (feed(stream.size()))
        log.leftover = buffer.size();
    return log;
}

template <class Framing>
decode_log decode_whole(const std::string& stream, std::size_t max_frame_size,
                        const Framing& proto = Framing()) {
    return decode_pieces<Framing>(stream, {}, max_frame_size, proto);
}

template <class Framing>
decode_log decode_bytewise(const std::string& stream, std::size_t max_frame_size,
                           const Framing& proto = Framing()) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < stream.size(); ++i)
        cuts.push_back(i);
    return decode_pieces<Framing>(stream, cuts, max_frame_size, proto);
}

inline decoded data_frame(std::string payload) {
    return {frame_kind::data, std::move(payload), 0};
}
inline decoded ping_frame(std::uint64_t id = 0) {
    return {frame_kind::ping, {}, id};
}
inline decoded pong_frame(std::uint64_t id = 0) {
    return {frame_kind::pong, {}, id};
}

} // namespace hbt

#endif
