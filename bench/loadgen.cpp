// loadgen: the load generator for the echo servers (bare_server, go_server, lib_server). One
// process, one io_context per thread (default one thread); every run is bounded by --seconds and
// ends with one line of key=value results on stdout.
//
//   loadgen --port P --mode MODE [--connections N] [--seconds D] [--warmup W]
//           [--interval-ms I] [--window BYTES] [--count K] [--server-pid PID]
//           [--ports-file F] [--freeze-after S] [--concurrency C] [--threads T]
//
// Modes (all connect N connections first, at most C connects in flight):
//   idle      each connection sends "PING\n" every I ms (first one at a random point of the
//             first interval), answers the server's PINGs, counts PONGs and their round trip.
//             With --server-pid: samples the server's VmRSS before connecting and after the
//             warm-up, and its CPU time over the --seconds window (per PING sent).
//             With --count K: each connection sends K PINGs (0: none); the run ends when all
//             are answered (for callgrind).
//   freeze    idle, then after --freeze-after S seconds prints "frozen" and stops itself with
//             SIGSTOP: its peers look alive to the kernel (TCP still ACKs) but send nothing.
//   silent    connections never send; reports how many the server closed and when.
//   pipeline  each connection keeps --window bytes of 16-byte lines in flight; lines/s echoed
//             over the --seconds window after the warm-up.
//   rr        each connection keeps one line in flight; round trips/s. --count K: each
//             connection makes K round trips (0: none); the run ends when all are done.
// --ports-file writes the local port of every connection, one a line, once all are connected.
#include "bench_common.hpp"

#include <asio.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

enum class mode_type { idle, freeze, silent, pipeline, rr };

struct settings {
    mode_type mode = mode_type::idle;
    std::string mode_name;
    tcp::endpoint server;
    std::size_t connections = 100;
    double seconds = 5;
    double warmup = -1;
    std::chrono::milliseconds interval{1000};
    std::size_t window = 1024;
    std::int64_t count = -1; // per connection; -1: no limit
    long server_pid = 0;
    std::string ports_file;
    double freeze_after = 2;
    std::size_t concurrency = 128;
    std::size_t threads = 1;
};

constexpr char data_line[] = "0123456789abcde\n"; // 16 bytes
constexpr std::size_t line_size = 16;
std::string pattern; // 64 KiB of data_line

std::atomic<bool> stopping{false};

/// A counter written by one worker thread and read by the main thread while running.
struct alignas(64) counter {
    std::atomic<std::uint64_t> v{0};
    void add(std::uint64_t n = 1) {
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_release);
    }
    std::uint64_t get() const { return v.load(std::memory_order_acquire); }
};

struct worker_stats {
    counter connected, failed, done, pings, pongs, server_pings, lines, bad, closed;
    // Touched only by the worker thread (ports: only until it counted all its connections).
    std::vector<std::uint32_t> rtt_us;
    std::vector<double> close_ms;
    std::vector<unsigned short> ports;
};

class worker;

class connection {
public:
    connection(worker& w, std::size_t index);
    void connect();

private:
    void begin();
    void read();
    void on_read(std::error_code ec, std::size_t n);
    void on_line(const char* line, std::size_t len, clock_type::time_point now);
    void fail();
    void arm_ping();
    void flush_small();
    void fill();
    void send_one();

    worker& w_;
    const settings& s_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    std::unique_ptr<char[]> buf_;
    std::size_t cap_;
    std::size_t len_ = 0;
    std::size_t index_;
    int attempts_ = 0;
    bool closed_ = false;
    bool writing_ = false;
    bool ping_owed_ = false;
    bool pong_owed_ = false;
    bool send_after_write_ = false;
    std::array<char, 10> small_{};
    std::uint64_t pings_ = 0, pongs_ = 0, round_trips_ = 0;
    std::uint64_t sent_ = 0, echoed_ = 0;
    clock_type::time_point connected_at_, next_ping_, rr_sent_;
    clock_type::time_point ping_sent_{}; // the oldest PING not answered yet
    std::size_t ping_count_ = 0;         // PINGs not answered yet
};

class worker {
public:
    explicit worker(const settings& s)
        : s(s)
        , io(1)
        , rng(static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(this))) {}

    void add(std::size_t index) { conns.push_back(std::make_unique<connection>(*this, index)); }

    void start(std::size_t concurrency) {
        for (std::size_t i = 0; i < concurrency; ++i)
            connect_next();
        thread = std::thread([this] {
            auto guard = asio::make_work_guard(io);
            io.run();
        });
    }

    void connect_next() {
        if (next < conns.size())
            conns[next++]->connect();
    }

    const settings& s;
    asio::io_context io;
    std::vector<std::unique_ptr<connection>> conns;
    std::size_t next = 0;
    worker_stats st;
    std::mt19937 rng;
    std::thread thread;
};

connection::connection(worker& w, std::size_t index)
    : w_(w)
    , s_(w.s)
    , socket_(w.io)
    , timer_(w.io)
    , cap_(s_.mode == mode_type::pipeline || s_.mode == mode_type::rr ? 16384 : 256)
    , index_(index) {
    buf_.reset(new char[cap_]);
}

void connection::connect() {
    socket_.async_connect(s_.server, [this](std::error_code ec) {
        if (ec) {
            std::error_code ignored;
            socket_.close(ignored);
            if (++attempts_ < 5) {
                timer_.expires_after(std::chrono::milliseconds(50 * attempts_));
                timer_.async_wait([this](std::error_code) { connect(); });
                return;
            }
            std::fprintf(stderr, "loadgen: connect: %s\n", ec.message().c_str());
            w_.st.failed.add();
            w_.connect_next();
            return;
        }
        socket_.set_option(tcp::no_delay(true), ec);
        w_.st.ports.push_back(socket_.local_endpoint(ec).port());
        connected_at_ = clock_type::now();
        w_.st.connected.add();
        w_.connect_next();
        begin();
    });
}

void connection::begin() {
    read();
    switch (s_.mode) {
    case mode_type::idle:
    case mode_type::freeze: {
        std::uniform_int_distribution<long> jitter(0, s_.interval.count() * 1000 - 1);
        next_ping_ = connected_at_ + std::chrono::microseconds(jitter(w_.rng));
        if (s_.count < 0 || pings_ < static_cast<std::uint64_t>(s_.count))
            arm_ping();
        else
            w_.st.done.add();
        break;
    }
    case mode_type::silent:
        break;
    case mode_type::pipeline:
        fill();
        break;
    case mode_type::rr:
        if (s_.count < 0 || round_trips_ < static_cast<std::uint64_t>(s_.count))
            send_one();
        else
            w_.st.done.add();
        break;
    }
}

void connection::read() {
    socket_.async_read_some(asio::buffer(buf_.get() + len_, cap_ - len_),
                            [this](std::error_code ec, std::size_t n) { on_read(ec, n); });
}

void connection::on_read(std::error_code ec, std::size_t n) {
    if (ec)
        return fail();
    const auto now = clock_type::now();
    len_ += n;
    char* const begin = buf_.get();
    char* const end = begin + len_;
    char* line = begin;
    while (auto* nl = static_cast<char*>(std::memchr(line, '\n', end - line))) {
        on_line(line, static_cast<std::size_t>(nl - line), now);
        line = nl + 1;
    }
    len_ = static_cast<std::size_t>(end - line);
    if (len_ == cap_) { // no newline in a whole buffer: garbage
        w_.st.bad.add();
        len_ = 0;
    } else if (len_ > 0) {
        std::memmove(begin, line, len_);
    }
    if (s_.mode == mode_type::pipeline)
        fill();
    else if (pong_owed_)
        flush_small();
    read();
}

void connection::on_line(const char* line, std::size_t len, clock_type::time_point now) {
    if (len == 4 && std::memcmp(line, "PONG", 4) == 0) {
        // A PONG answers every PING in flight: a server may coalesce them (the library does
        // when it reads several PINGs at once); the round trip counts from the oldest.
        w_.st.pongs.add();
        if (ping_count_ > 0) {
            const auto rtt = now - ping_sent_;
            ping_count_ = 0;
            w_.st.rtt_us.push_back(static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(rtt).count()));
        }
        // Done once every PING got its own PONG; with coalesced PONGs the run ends instead
        // when all PINGs are out and no PONG came for a while (see main).
        if (s_.count >= 0 && ++pongs_ == static_cast<std::uint64_t>(s_.count))
            w_.st.done.add();
    } else if (len == 4 && std::memcmp(line, "PING", 4) == 0) {
        w_.st.server_pings.add();
        if (s_.mode == mode_type::idle || s_.mode == mode_type::freeze)
            pong_owed_ = true;
    } else if (len == line_size - 1 && std::memcmp(line, data_line, len) == 0) {
        w_.st.lines.add();
        echoed_ += line_size;
        if (s_.mode == mode_type::rr) {
            w_.st.rtt_us.push_back(static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now - rr_sent_).count()));
            ++round_trips_;
            if (s_.count >= 0 && round_trips_ == static_cast<std::uint64_t>(s_.count))
                w_.st.done.add();
            else if (writing_)
                send_after_write_ = true;
            else
                send_one();
        }
    } else {
        w_.st.bad.add();
    }
}

void connection::fail() {
    if (closed_)
        return;
    closed_ = true;
    if (!stopping.load(std::memory_order_relaxed)) {
        w_.st.closed.add();
        w_.st.close_ms.push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - connected_at_).count());
    }
    std::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
}

void connection::arm_ping() {
    timer_.expires_at(next_ping_);
    timer_.async_wait([this](std::error_code ec) {
        if (ec || closed_)
            return;
        ping_owed_ = true;
        ++pings_;
        flush_small();
        next_ping_ += s_.interval;
        if (s_.count < 0 || pings_ < static_cast<std::uint64_t>(s_.count))
            arm_ping();
    });
}

// PINGs and PONGs of the idle modes; one write in flight, what comes meanwhile waits for it.
void connection::flush_small() {
    if (writing_ || closed_ || !(ping_owed_ || pong_owed_))
        return;
    std::size_t n = 0;
    if (ping_owed_) {
        std::memcpy(small_.data(), "PING\n", 5);
        n += 5;
        ping_owed_ = false;
        if (ping_count_ == 0) // the round trip counts from the oldest unanswered PING
            ping_sent_ = clock_type::now();
        ++ping_count_;
        w_.st.pings.add();
    }
    if (pong_owed_) {
        std::memcpy(small_.data() + n, "PONG\n", 5);
        n += 5;
        pong_owed_ = false;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(small_.data(), n),
                      [this](std::error_code ec, std::size_t) {
                          writing_ = false;
                          if (ec)
                              return fail();
                          flush_small();
                      });
}

// Pipeline: top the bytes in flight up to the window, in whole lines.
void connection::fill() {
    if (writing_ || closed_)
        return;
    const std::uint64_t in_flight = sent_ - echoed_;
    if (in_flight + line_size > s_.window)
        return;
    std::size_t n = static_cast<std::size_t>(s_.window - in_flight) / line_size * line_size;
    n = std::min(n, pattern.size());
    writing_ = true;
    sent_ += n;
    asio::async_write(socket_, asio::buffer(pattern.data(), n),
                      [this](std::error_code ec, std::size_t) {
                          writing_ = false;
                          if (ec)
                              return fail();
                          fill();
                      });
}

// Request-response: one line, then nothing until its echo is back.
void connection::send_one() {
    if (closed_ || stopping.load(std::memory_order_relaxed))
        return;
    writing_ = true;
    rr_sent_ = clock_type::now();
    asio::async_write(socket_, asio::buffer(data_line, line_size),
                      [this](std::error_code ec, std::size_t) {
                          writing_ = false;
                          if (ec)
                              return fail();
                          if (send_after_write_) {
                              send_after_write_ = false;
                              send_one();
                          }
                      });
}

template <class F>
std::uint64_t total(const std::vector<std::unique_ptr<worker>>& ws, F f) {
    std::uint64_t sum = 0;
    for (const auto& w : ws)
        sum += f(w->st).get();
    return sum;
}

void sleep_for(double s) {
    if (s > 0)
        std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

/// Sleeps up to `limit` seconds, returning early once `pred()` holds.
template <class Pred>
void wait_until(double limit, Pred pred) {
    const auto start = clock_type::now();
    while (!pred() && bench::seconds_since(start) < limit)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

} // namespace

int main(int argc, char** argv) {
    bench::flags f(argc, argv,
                   "loadgen --port P --mode idle|freeze|silent|pipeline|rr [--host 127.0.0.1]\n"
                   "  [--connections N] [--seconds D] [--warmup W] [--interval-ms I]\n"
                   "  [--window BYTES] [--count K] [--server-pid PID] [--ports-file F]\n"
                   "  [--freeze-after S] [--concurrency C] [--threads T]");
    settings s;
    s.mode_name = f.str("mode", "idle");
    if (s.mode_name == "idle")
        s.mode = mode_type::idle;
    else if (s.mode_name == "freeze")
        s.mode = mode_type::freeze;
    else if (s.mode_name == "silent")
        s.mode = mode_type::silent;
    else if (s.mode_name == "pipeline")
        s.mode = mode_type::pipeline;
    else if (s.mode_name == "rr")
        s.mode = mode_type::rr;
    else {
        std::fprintf(stderr, "loadgen: unknown mode %s\n", s.mode_name.c_str());
        return 2;
    }
    s.server = tcp::endpoint(asio::ip::make_address(f.str("host", "127.0.0.1")),
                             static_cast<unsigned short>(f.num("port", 0)));
    s.connections = static_cast<std::size_t>(f.num("connections", 100));
    s.seconds = f.num("seconds", 5);
    s.interval = std::chrono::milliseconds(static_cast<long>(f.num("interval-ms", 1000)));
    s.window = static_cast<std::size_t>(f.num("window", 1024));
    s.count = static_cast<std::int64_t>(f.num("count", -1));
    s.server_pid = static_cast<long>(f.num("server-pid", 0));
    s.ports_file = f.str("ports-file");
    s.freeze_after = f.num("freeze-after", 2);
    s.concurrency = static_cast<std::size_t>(f.num("concurrency", 128));
    s.threads = std::max<std::size_t>(1, static_cast<std::size_t>(f.num("threads", 1)));
    const bool idle_like = s.mode == mode_type::idle || s.mode == mode_type::freeze;
    // Idle: let every connection send (and the server answer) at least one PING first.
    s.warmup = f.num("warmup", idle_like ? 1.5 * s.interval.count() / 1000.0 + 0.5 : 0.5);
    f.done();
    if (s.server.port() == 0 || s.connections == 0 || s.interval.count() <= 0) {
        std::fprintf(stderr, "loadgen: --port, --connections and --interval-ms must be > 0\n");
        return 2;
    }
    while (pattern.size() < 64 * 1024)
        pattern += data_line;
    s.window = std::max(s.window, line_size);
    std::signal(SIGPIPE, SIG_IGN);

    const long pid = s.server_pid;
    const long rss_before = pid ? bench::rss_kib(pid) : -1;

    std::vector<std::unique_ptr<worker>> workers;
    for (std::size_t t = 0; t < s.threads; ++t)
        workers.push_back(std::make_unique<worker>(s));
    for (std::size_t i = 0; i < s.connections; ++i)
        workers[i % s.threads]->add(i);
    const auto t_start = clock_type::now();
    for (auto& w : workers)
        w->start(std::max<std::size_t>(1, s.concurrency / s.threads));

    auto connected = [&] {
        return total(
            workers, [](auto& st) -> auto& { return st.connected; });
    };
    auto failed = [&] {
        return total(
            workers, [](auto& st) -> auto& { return st.failed; });
    };
    auto sum = [&](counter worker_stats::*c) {
        return total(
            workers, [c](auto& st) -> auto& { return st.*c; });
    };
    wait_until(60, [&] { return connected() + failed() >= s.connections; });
    const double connect_s = bench::seconds_since(t_start);
    const std::uint64_t n_connected = connected();
    std::fprintf(stderr, "loadgen: %s connected=%llu failed=%llu in %.2f s\n", s.mode_name.c_str(),
                 static_cast<unsigned long long>(n_connected),
                 static_cast<unsigned long long>(failed()), connect_s);
    if (!s.ports_file.empty()) {
        if (std::FILE* pf = std::fopen(s.ports_file.c_str(), "w")) {
            for (auto& w : workers)
                for (auto p : w->st.ports)
                    std::fprintf(pf, "%u\n", p);
            std::fclose(pf);
        }
    }

    // The measurement window.
    long rss_after = -1;
    double cpu0 = 0, cpu1 = 0, window_s = 0;
    std::uint64_t hb0 = 0, hb1 = 0, lines0 = 0, lines1 = 0;
    auto all_done = [&] {
        return sum(&worker_stats::done) >= n_connected;
    };
    switch (s.mode) {
    case mode_type::idle:
        if (s.count >= 0) {
            // All PINGs answered one by one, or all sent and the PONGs stopped coming (a
            // server that coalesces PONGs answers several PINGs with one).
            const std::uint64_t all_pings = n_connected * static_cast<std::uint64_t>(s.count);
            std::uint64_t last_pongs = 0;
            auto last_change = clock_type::now();
            wait_until(s.seconds, [&] {
                const std::uint64_t p = sum(&worker_stats::pongs);
                if (p != last_pongs) {
                    last_pongs = p;
                    last_change = clock_type::now();
                }
                return all_done() || (sum(&worker_stats::pings) >= all_pings &&
                                      bench::seconds_since(last_change) > 0.5);
            });
            break;
        }
        sleep_for(s.warmup);
        if (pid)
            rss_after = bench::rss_kib(pid);
        {
            const auto t0 = clock_type::now();
            if (pid)
                cpu0 = bench::cpu_seconds(pid);
            hb0 = sum(&worker_stats::pings);
            sleep_for(s.seconds);
            if (pid)
                cpu1 = bench::cpu_seconds(pid);
            hb1 = sum(&worker_stats::pings);
            window_s = bench::seconds_since(t0);
        }
        break;
    case mode_type::freeze:
        sleep_for(s.freeze_after);
        std::printf("frozen connections=%llu\n", static_cast<unsigned long long>(n_connected));
        std::fflush(stdout);
        std::raise(SIGSTOP);
        break;
    case mode_type::silent:
        wait_until(s.seconds, [&] { return sum(&worker_stats::closed) >= n_connected; });
        break;
    case mode_type::pipeline:
    case mode_type::rr: {
        if (s.count >= 0) {
            const auto t0 = clock_type::now();
            wait_until(s.seconds, all_done);
            window_s = bench::seconds_since(t0);
            lines1 = sum(&worker_stats::lines);
            break;
        }
        sleep_for(s.warmup);
        const auto t0 = clock_type::now();
        if (pid)
            cpu0 = bench::cpu_seconds(pid);
        lines0 = sum(&worker_stats::lines);
        sleep_for(s.seconds);
        if (pid)
            cpu1 = bench::cpu_seconds(pid);
        lines1 = sum(&worker_stats::lines);
        window_s = bench::seconds_since(t0);
        break;
    }
    }

    stopping = true;
    for (auto& w : workers)
        w->io.stop();
    for (auto& w : workers)
        w->thread.join();

    std::vector<std::uint32_t> rtt;
    std::vector<double> closes;
    for (auto& w : workers) {
        rtt.insert(rtt.end(), w->st.rtt_us.begin(), w->st.rtt_us.end());
        closes.insert(closes.end(), w->st.close_ms.begin(), w->st.close_ms.end());
    }
    auto out = [](const char* key, double v) {
        std::printf(" %s=%.6g", key, v);
    };
    std::printf("mode=%s", s.mode_name.c_str());
    out("connections", static_cast<double>(s.connections));
    out("connected", static_cast<double>(n_connected));
    out("failed", static_cast<double>(failed()));
    out("connect_s", connect_s);
    out("pings", static_cast<double>(sum(&worker_stats::pings)));
    out("pongs", static_cast<double>(sum(&worker_stats::pongs)));
    out("server_pings", static_cast<double>(sum(&worker_stats::server_pings)));
    out("lines", static_cast<double>(sum(&worker_stats::lines)));
    out("bad", static_cast<double>(sum(&worker_stats::bad)));
    out("closed_by_server", static_cast<double>(closes.size()));
    if (!closes.empty()) {
        out("close_ms_min", bench::percentile(closes, 0));
        out("close_ms_p50", bench::percentile(closes, 50));
        out("close_ms_p99", bench::percentile(closes, 99));
        out("close_ms_max", bench::percentile(closes, 100));
    }
    if (!rtt.empty()) {
        out("rtt_us_p50", bench::percentile(rtt, 50));
        out("rtt_us_p99", bench::percentile(rtt, 99));
        out("rtt_us_max", bench::percentile(rtt, 100));
    }
    if (window_s > 0) {
        out("window_s", window_s);
        if (s.mode == mode_type::idle) {
            out("heartbeats", static_cast<double>(hb1 - hb0));
            out("heartbeats_per_s", static_cast<double>(hb1 - hb0) / window_s);
        } else {
            out("lines_per_s", static_cast<double>(lines1 - lines0) / window_s);
        }
    }
    if (pid) {
        out("rss_before_kib", static_cast<double>(rss_before));
        if (rss_after >= 0) {
            out("rss_after_kib", static_cast<double>(rss_after));
            out("rss_per_session_b",
                static_cast<double>(rss_after - rss_before) * 1024.0 /
                    static_cast<double>(std::max<std::uint64_t>(1, n_connected)));
        }
        if (window_s > 0) {
            const double cpu = cpu1 - cpu0;
            out("server_cpu_s", cpu);
            out("server_cpu_pct", 100.0 * cpu / window_s);
            if (s.mode == mode_type::idle && hb1 > hb0)
                out("cpu_us_per_heartbeat", 1e6 * cpu / static_cast<double>(hb1 - hb0));
            if ((s.mode == mode_type::pipeline || s.mode == mode_type::rr) && cpu > 0)
                out("lines_per_cpu_s", static_cast<double>(lines1 - lines0) / cpu);
        }
    }
    std::printf("\n");
    std::fflush(stdout);
    // The sockets close with the process: skip destroying 10,000 connections one by one.
    std::_Exit(0);
}
