// hbt_faults_soak: a bounded soak of thousands of sessions with connection churn, as two
// processes (tests/faults/soak.sh starts both). Loopback only.
//
//   hbt_faults_soak server --port-file FILE [--warm N] [--ping-ms 1000] [--read-ms 3000]
//       Accepts, runs a heartbeat_session per connection, echoes data frames. A client that
//       sends "hello" first must end with eof or a reset; one that sends nothing (a silent
//       peer) must be dropped with error::timeout. On SIGTERM it stops accepting, waits for
//       every session to end, and reports: reasons, sessions left, heap in use and RSS against
//       their baseline (taken after opening N sockets once: see run_server). Exit status 0
//       when all is as expected.
//
//   hbt_faults_soak client --port PORT [--sessions 5000] [--seconds 60] [--silent-percent 10]
//                          [--ping-ms 1000] [--read-ms 3000] [--data-ms 1000]
//       Keeps SESSIONS sessions connected for SECONDS. Each normal session sends "hello" and a
//       data frame every DATA_MS, lives 2 to 10 s, then closes and is replaced; a silent
//       one (answer_pings off, never writes) waits for the server to drop it, then is
//       replaced. At the end every session must have ended as expected.
#include "fault_support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>
#include <utility>

namespace {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using error_code = std::error_code;
using hbf::clock;
using session = heartbeat::heartbeat_session<tcp::socket>;
using std::chrono::milliseconds;

struct args {
    std::string mode;
    std::string port_file;
    int port = 0;
    int sessions = 5000;
    double seconds = 60;
    int silent_percent = 10;
    int ping_ms = 1000;
    int read_ms = 3000;
    int data_ms = 1000;
    int warm = 0;
};

args parse(int argc, char** argv) {
    args a;
    if (argc > 1)
        a.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--port-file")
            a.port_file = v;
        else if (k == "--port")
            a.port = std::atoi(v);
        else if (k == "--sessions")
            a.sessions = std::atoi(v);
        else if (k == "--seconds")
            a.seconds = std::atof(v);
        else if (k == "--silent-percent")
            a.silent_percent = std::atoi(v);
        else if (k == "--ping-ms")
            a.ping_ms = std::atoi(v);
        else if (k == "--read-ms")
            a.read_ms = std::atoi(v);
        else if (k == "--data-ms")
            a.data_ms = std::atoi(v);
        else if (k == "--warm")
            a.warm = std::atoi(v);
    }
    return a;
}

/// Up to 20000 descriptors, as the soak needs.
void raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        const rlim_t want = 20000;
        r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max >= want ? want : r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/// Heap bytes in use (not RSS: freed memory that the allocator keeps is not counted).
long heap_kib() {
    return static_cast<long>(mallinfo2().uordblks / 1024);
}

/// A timer that measures how late the event loop runs handlers (its lag), every 100 ms.
class lag_meter {
public:
    explicit lag_meter(asio::io_context& ioc)
        : timer_(ioc) {}
    void start() { arm(); }
    void stop() { timer_.cancel(); }
    /// The largest lag since the last call, in ms.
    double take_max() { return std::exchange(max_, 0.0); }
    double overall_max() const { return overall_; }

private:
    void arm() {
        due_ = clock::now() + 100ms;
        timer_.expires_at(due_);
        timer_.async_wait([this](error_code ec) {
            if (ec)
                return;
            const double lag = hbf::ms(clock::now() - due_);
            max_ = std::max(max_, lag);
            overall_ = std::max(overall_, lag);
            arm();
        });
    }
    asio::steady_timer timer_;
    clock::time_point due_{};
    double max_ = 0;
    double overall_ = 0;
};

bool is_eof_or_reset(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

heartbeat::options live_options(const args& a) {
    heartbeat::options o;
    o.ping_interval = milliseconds(a.ping_ms);
    o.read_timeout = milliseconds(a.read_ms);
    o.write_timeout = milliseconds(2 * a.read_ms);
    o.max_frame_size = 4096;
    o.send_queue_limit = o.receive_queue_limit = 64 * 1024;
    return o;
}

// =============================================================================================
// Server.

class server {
public:
    server(asio::io_context& ioc, const args& a)
        : args_(a)
        , acceptor_(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0))
        , signals_(ioc, SIGTERM, SIGINT)
        , report_(ioc)
        , lag_(ioc) {
        acceptor_.listen(asio::socket_base::max_listen_connections);
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void start(long baseline_kib) {
        baseline_kib_ = peak_kib_ = baseline_kib;
        heap_baseline_kib_ = heap_peak_kib_ = heap_kib();
        started_ = clock::now();
        accept();
        report();
        lag_.start();
        signals_.async_wait([this](error_code ec, int) {
            if (!ec)
                begin_shutdown();
        });
    }

    int finish() {
        const long end_kib = hbf::rss_kib();
        const long heap_end_kib = heap_kib();
        malloc_trim(0);
        const long trimmed_kib = hbf::rss_kib();
        // glibc keeps freed chunks for reuse; malloc_trim gives whole free pages back. What
        // counts is the heap in use (nothing of ours left) and the RSS once trimmed.
        const long growth = trimmed_kib - baseline_kib_;
        const long allowed = std::max<long>(10 * 1024, baseline_kib_ / 5);
        const long heap_growth = heap_end_kib - heap_baseline_kib_;
        const long heap_allowed = 2 * 1024;
        std::printf("server: %lu sessions accepted, peak %zu at once; ended: %lu after hello "
                    "with eof/reset, %lu silent dropped with timeout, %lu unexpected; %zu "
                    "left\n",
                    accepted_, peak_live_, ok_normal_, ok_silent_, unexpected_, left_);
        for (const auto& [reason, n] : unexpected_reasons_)
            std::printf("server:   unexpected: %lu x %s\n", n, reason.c_str());
        if (silent_detect_.size() > 0)
            std::printf("server: silent peers dropped %.0f / %.0f / %.0f ms (min / median / max) "
                        "after their last byte, read_timeout %d ms\n",
                        silent_detect_.min(), silent_detect_.median(), silent_detect_.max(),
                        args_.read_ms);
        std::printf("server: RSS baseline %.1f MiB, peak %.1f MiB, after churn %.1f MiB, after "
                    "malloc_trim %.1f MiB (%+.1f MiB, allowed %.1f MiB)\n",
                    baseline_kib_ / 1024.0, peak_kib_ / 1024.0, end_kib / 1024.0,
                    trimmed_kib / 1024.0, growth / 1024.0, allowed / 1024.0);
        std::printf("server: heap in use baseline %.1f MiB, peak %.1f MiB, after churn %.1f MiB "
                    "(%+.1f MiB, allowed %.1f MiB); event loop lag at most %.0f ms\n",
                    heap_baseline_kib_ / 1024.0, heap_peak_kib_ / 1024.0, heap_end_kib / 1024.0,
                    heap_growth / 1024.0, heap_allowed / 1024.0, lag_.overall_max());
        std::fflush(stdout);
        bool ok = true;
        if (unexpected_ > 0 || left_ > 0 || accepted_ == 0) {
            std::printf("server: FAILED: sessions ended unexpectedly or were left\n");
            ok = false;
        }
        if (growth > allowed || heap_growth > heap_allowed) {
            std::printf("server: FAILED: memory did not return near its baseline\n");
            ok = false;
        }
        return ok ? 0 : 1;
    }

private:
    struct conn {
        std::optional<session> s;
        bool hello = false;
    };

    void accept() {
        acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping_)
                    return;
                ++accept_errors_;
                accept(); // EMFILE and the like: keep going, it is counted
                return;
            }
            start_session(std::move(socket));
            accept();
        });
    }

    void start_session(tcp::socket socket) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const std::uint64_t id = ++accepted_;
        auto& c = live_[id];
        c = std::make_unique<conn>();
        c->s.emplace(std::move(socket), live_options(args_));
        peak_live_ = std::max(peak_live_, live_.size());
        c->s->async_run([this, id](error_code ec) { ended(id, ec); });
        receive(id);
    }

    void receive(std::uint64_t id) {
        auto it = live_.find(id);
        if (it == live_.end() || !it->second->s)
            return;
        it->second->s->async_receive([this, id](error_code ec, std::string frame) {
            if (ec)
                return;
            auto it = live_.find(id);
            if (it == live_.end())
                return;
            if (frame == "hello")
                it->second->hello = true;
            else // echo; a full queue only drops the echo
                it->second->s->async_send(std::move(frame), [](error_code) {});
            receive(id);
        });
    }

    void ended(std::uint64_t id, error_code ec) {
        auto it = live_.find(id);
        if (it == live_.end())
            return;
        const bool hello = it->second->hello;
        const auto stats = it->second->s->statistics();
        if (hello && is_eof_or_reset(ec)) {
            ++ok_normal_;
        } else if (!hello && ec == heartbeat::error::timeout) {
            ++ok_silent_;
            silent_detect_.add(hbf::ms(stats.since_last_receive));
        } else if (stopping_ && ec == asio::error::operation_aborted) {
            ++left_; // closed by us at the very end: it never ended by itself
        } else {
            ++unexpected_;
            ++unexpected_reasons_[(hello ? "after hello: " : "silent: ") + ec.message()];
        }
        live_.erase(it); // destroys the session inside its own run handler
        if (stopping_ && live_.empty())
            done();
    }

    void report() {
        report_.expires_after(5s);
        report_.async_wait([this](error_code ec) {
            if (ec)
                return;
            const long kib = hbf::rss_kib();
            peak_kib_ = std::max(peak_kib_, kib);
            heap_peak_kib_ = std::max(heap_peak_kib_, heap_kib());
            std::printf("server: t=%3.0f s live=%5zu accepted=%7lu rss=%6.1f MiB heap=%6.1f MiB "
                        "lag<=%4.0f ms\n",
                        hbf::ms(clock::now() - started_) / 1000, live_.size(), accepted_,
                        kib / 1024.0, heap_kib() / 1024.0, lag_.take_max());
            std::fflush(stdout);
            report();
        });
    }

    void begin_shutdown() {
        stopping_ = true;
        error_code ignored;
        acceptor_.close(ignored);
        peak_kib_ = std::max(peak_kib_, hbf::rss_kib());
        heap_peak_kib_ = std::max(heap_peak_kib_, heap_kib());
        if (live_.empty()) {
            done();
            return;
        }
        // Every client is gone by now; silent ones need at most a read_timeout more.
        report_.cancel();
        report_.expires_after(milliseconds(args_.read_ms) + 5s);
        report_.async_wait([this](error_code ec) {
            if (ec)
                return;
            for (auto& [id, c] : live_)
                c->s->close();
        });
    }

    void done() {
        report_.cancel();
        signals_.cancel();
        lag_.stop();
    }

    args args_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    asio::steady_timer report_;
    lag_meter lag_;
    std::unordered_map<std::uint64_t, std::unique_ptr<conn>> live_;
    clock::time_point started_{};
    bool stopping_ = false;
    unsigned long accepted_ = 0;
    unsigned long accept_errors_ = 0;
    std::size_t peak_live_ = 0;
    unsigned long ok_normal_ = 0;
    unsigned long ok_silent_ = 0;
    unsigned long unexpected_ = 0;
    std::size_t left_ = 0;
    std::map<std::string, unsigned long> unexpected_reasons_;
    hbf::timing silent_detect_{"silent peer dropped"};
    long baseline_kib_ = 0;
    long peak_kib_ = 0;
    long heap_baseline_kib_ = 0;
    long heap_peak_kib_ = 0;
};

int run_server(const args& a) {
    raise_fd_limit();
    asio::io_context ioc(1);
    server srv(ioc, a);
    {
        // Asio keeps one record per socket it ever had open at once, for the life of the
        // io_context (its reactor's object pool never shrinks). Open that many sockets once
        // before the baseline, so that the pool is part of it and not scattered among the
        // sessions' memory, where it would pin heap pages that nothing of ours still uses.
        std::vector<tcp::socket> warm;
        for (int i = 0; i < a.warm; ++i) {
            warm.emplace_back(ioc);
            warm.back().open(tcp::v4());
        }
    }
    malloc_trim(0);
    const long baseline = hbf::rss_kib();
    {
        const std::string tmp = a.port_file + ".tmp";
        std::ofstream(tmp) << srv.port() << "\n";
        std::rename(tmp.c_str(), a.port_file.c_str());
    }
    srv.start(baseline);
    ioc.run();
    return srv.finish();
}

// =============================================================================================
// Client.

class client {
public:
    client(asio::io_context& ioc, const args& a)
        : ioc_(ioc)
        , args_(a)
        , target_(asio::ip::address_v4::loopback(), static_cast<unsigned short>(a.port))
        , rng_(12345)
        , tick_(ioc)
        , lag_(ioc)
        , report_(ioc) {}

    void start() {
        lag_.start();
        report();
        started_ = clock::now();
        until_ = started_ + milliseconds(static_cast<long>(args_.seconds * 1000));
        tick();
    }

    int finish() const {
        std::printf("client: event loop lag at most %.0f ms\n", lag_.overall_max());
        std::printf("client: %lu sessions over %.0f s (%lu silent), peak %zu at once; ended: "
                    "%lu closed by us, %lu silent dropped by the server, %lu unexpected; %zu "
                    "left; %lu connect errors\n",
                    made_, hbf::ms(clock::now() - started_) / 1000, made_silent_, peak_live_,
                    ok_normal_, ok_silent_, unexpected_, live_.size() + connecting_,
                    connect_errors_);
        for (const auto& [reason, n] : unexpected_reasons_)
            std::printf("client:   unexpected: %lu x %s\n", n, reason.c_str());
        if (silent_drop_.size() > 0)
            std::printf("client: silent sessions dropped %.0f / %.0f / %.0f ms (min / median / "
                        "max) after connecting, read_timeout %d ms\n",
                        silent_drop_.min(), silent_drop_.median(), silent_drop_.max(),
                        args_.read_ms);
        std::fflush(stdout);
        const bool ok =
            unexpected_ == 0 && live_.empty() && connecting_ == 0 && made_ > 0 && ok_silent_ > 0;
        if (!ok)
            std::printf("client: FAILED\n");
        return ok ? 0 : 1;
    }

private:
    struct conn {
        explicit conn(asio::io_context& ioc)
            : timer(ioc) {}
        std::optional<session> s;
        asio::steady_timer timer;
        bool silent = false;
        bool hello_sent = false;
        bool close_when_hello_sent = false;
        clock::time_point start{};
        clock::time_point close_at{};
        unsigned frames = 0;
    };

    bool churning() const { return clock::now() < until_; }

    /// Every 10 ms: open connections up to the target (at most 200 connecting at once).
    void tick() {
        if (!churning()) {
            end_phase();
            return;
        }
        while (live_.size() + connecting_ < static_cast<std::size_t>(args_.sessions) &&
               connecting_ < 200)
            connect();
        tick_.expires_after(10ms);
        tick_.async_wait([this](error_code ec) {
            if (!ec)
                tick();
        });
    }

    void connect() {
        ++connecting_;
        auto socket = std::make_shared<tcp::socket>(ioc_);
        socket->async_connect(target_, [this, socket](error_code ec) {
            --connecting_;
            if (ec) {
                ++connect_errors_;
                return; // the next tick tries again
            }
            start_session(std::move(*socket));
        });
    }

    void start_session(tcp::socket socket) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const std::uint64_t id = ++made_;
        auto& c = live_[id];
        c = std::make_unique<conn>(ioc_);
        c->start = clock::now();
        c->silent = static_cast<int>(rng_() % 100) < args_.silent_percent;
        heartbeat::options o = live_options(args_);
        if (c->silent) {
            ++made_silent_;
            o.ping_interval = o.read_timeout = o.write_timeout = milliseconds(0);
            o.answer_pings = false; // not a byte from us: the server must drop it
        }
        c->s.emplace(std::move(socket), o);
        peak_live_ = std::max(peak_live_, live_.size());
        c->s->async_run([this, id](error_code ec) { ended(id, ec); });
        if (c->silent)
            return;
        c->s->async_send("hello", [this, id](error_code ec) {
            auto it = live_.find(id);
            if (ec || it == live_.end())
                return;
            it->second->hello_sent = true;
            if (it->second->close_when_hello_sent || !churning())
                it->second->s->close();
        });
        receive(id);
        c->close_at = c->start + milliseconds(2000 + rng_() % 8000);
        pace(id);
    }

    /// A data frame every half second until the session's time is up, then close().
    void pace(std::uint64_t id) {
        auto it = live_.find(id);
        if (it == live_.end())
            return;
        it->second->timer.expires_after(milliseconds(args_.data_ms));
        it->second->timer.async_wait([this, id](error_code ec) {
            auto it = live_.find(id);
            if (ec || it == live_.end())
                return;
            conn& c = *it->second;
            if (clock::now() >= c.close_at) {
                close(c);
                return;
            }
            c.s->async_send("data " + std::to_string(++c.frames), [](error_code) {});
            pace(id);
        });
    }

    void close(conn& c) {
        // The server tells normal sessions by their hello: never close before it is out.
        if (c.hello_sent)
            c.s->close();
        else
            c.close_when_hello_sent = true;
    }

    void receive(std::uint64_t id) {
        auto it = live_.find(id);
        if (it == live_.end())
            return;
        it->second->s->async_receive([this, id](error_code ec, std::string) {
            if (!ec)
                receive(id);
        });
    }

    void ended(std::uint64_t id, error_code ec) {
        auto it = live_.find(id);
        if (it == live_.end())
            return;
        conn& c = *it->second;
        if (!c.silent && ec == asio::error::operation_aborted) {
            ++ok_normal_;
        } else if (c.silent && is_eof_or_reset(ec)) {
            ++ok_silent_;
            silent_drop_.add(hbf::ms(clock::now() - c.start));
        } else {
            ++unexpected_;
            ++unexpected_reasons_[(c.silent ? "silent: " : "normal: ") + ec.message()];
        }
        c.timer.cancel();
        live_.erase(it);
        if (!churning() && live_.empty() && connecting_ == 0) {
            tick_.cancel();
            lag_.stop();
            report_.cancel();
        }
    }

    void report() {
        report_.expires_after(5s);
        report_.async_wait([this](error_code ec) {
            if (ec)
                return;
            std::printf("client: t=%3.0f s live=%5zu made=%7lu unexpected=%lu lag<=%4.0f ms\n",
                        hbf::ms(clock::now() - started_) / 1000, live_.size(), made_, unexpected_,
                        lag_.take_max());
            std::fflush(stdout);
            report();
        });
    }

    /// No more new sessions; close the normal ones, let the server drop the silent ones.
    void end_phase() {
        for (auto& [id, c] : live_)
            if (!c->silent)
                close(*c);
        if (live_.empty() && connecting_ == 0)
            return;
        // Connections still completing get closed as they come (start_session sees the end).
        tick_.expires_after(10ms);
        tick_.async_wait([this](error_code ec) {
            if (ec)
                return;
            if (clock::now() > until_ + milliseconds(args_.read_ms) + 10s) {
                for (auto& [id, c] : live_)
                    c->s->close(); // counted as unexpected: they should have ended already
                return;
            }
            end_phase();
        });
    }

    asio::io_context& ioc_;
    args args_;
    tcp::endpoint target_;
    std::mt19937 rng_;
    asio::steady_timer tick_;
    lag_meter lag_;
    asio::steady_timer report_;
    clock::time_point started_{};
    clock::time_point until_{};
    std::unordered_map<std::uint64_t, std::unique_ptr<conn>> live_;
    std::size_t connecting_ = 0;
    std::size_t peak_live_ = 0;
    unsigned long made_ = 0;
    unsigned long made_silent_ = 0;
    unsigned long ok_normal_ = 0;
    unsigned long ok_silent_ = 0;
    unsigned long unexpected_ = 0;
    unsigned long connect_errors_ = 0;
    std::map<std::string, unsigned long> unexpected_reasons_;
    hbf::timing silent_drop_{"silent session dropped"};
};

int run_client(const args& a) {
    raise_fd_limit();
    asio::io_context ioc(1);
    client c(ioc, a);
    c.start();
    ioc.run();
    return c.finish();
}

} // namespace

int main(int argc, char** argv) {
    const args a = parse(argc, argv);
    if (a.mode == "server" && !a.port_file.empty())
        return run_server(a);
    if (a.mode == "client" && a.port > 0)
        return run_client(a);
    std::fprintf(stderr,
                 "usage: %s server --port-file FILE [--warm N] [--ping-ms N] [--read-ms N]\n"
                 "       %s client --port PORT [--sessions N] [--seconds S] "
                 "[--silent-percent P] [--ping-ms N] [--read-ms N] [--data-ms N]\n",
                 argv[0], argv[0]);
    return 2;
}
