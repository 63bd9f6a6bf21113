// hbt_faults_concurrency: 50 session pairs over loopback on a 4-thread io_context, each session
// on its own strand (the acceptor's sockets and the client sockets alike), with traffic both
// ways while two other threads close sessions (close() is thread-safe), post async_send and
// cancellations to the sessions' strands (the contract: only close() may come from anywhere),
// and read statistics there. Pairs that end reconnect until the end. Built with
// ThreadSanitizer; TSAN_OPTIONS=halt_on_error=1 turns any report into a failure.
//
//   hbt_faults_concurrency [SECONDS [PAIRS]]     (defaults 3 and 50)
#include "fault_support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using error_code = std::error_code;
using hbf::clock;
using session = heartbeat::heartbeat_session<tcp::socket>;

struct counters {
    std::atomic<long> sessions{0};
    std::atomic<long> runs_done{0};
    std::atomic<long> runs_twice{0};
    std::atomic<long> sends_started{0};
    std::atomic<long> sends_done{0};
    std::atomic<long> receives_started{0};
    std::atomic<long> receives_done{0};
    std::atomic<long> frames_received{0};
    std::atomic<long> closes{0};
    std::atomic<long> cancels{0};
    std::atomic<long> destroyed_in_handler{0};
    std::atomic<long> unexpected_end{0};
};
counters g;

/// One session and what only its strand touches. Created on that strand.
struct side : std::enable_shared_from_this<side> {
    explicit side(tcp::socket socket, bool private_pair)
        : strand(socket.get_executor())
        , pacing(socket.get_executor())
        , owned_privately(private_pair) {
        heartbeat::options o;
        o.ping_interval = 20ms;
        o.read_timeout = 2000ms; // generous: TSan slows everything down several times
        o.write_timeout = 2000ms;
        o.max_frame_size = 4096;
        o.send_queue_limit = 64 * 1024;
        s.emplace(std::move(socket), o);
        ++g.sessions;
    }

    asio::any_io_executor strand;
    asio::steady_timer pacing;
    std::optional<session> s; // strand only (private pairs destroy it in their run handler)
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals; // strand only
    std::atomic<int> run_calls{0};
    std::atomic<bool> ended{false};
    bool owned_privately; // never touched by the chaos threads, destroyed inside its handler
    std::uint64_t seq = 0;

    void start() {
        auto self = shared_from_this();
        asio::cancellation_signal& sig = new_signal();
        s->async_run(asio::bind_cancellation_slot(sig.slot(), [self](error_code ec) {
            if (self->run_calls.fetch_add(1) != 0)
                ++g.runs_twice;
            ++g.runs_done;
            if (ec != asio::error::operation_aborted && ec != asio::error::eof &&
                ec != asio::error::connection_reset && ec != asio::error::broken_pipe) {
                ++g.unexpected_end;
                std::fprintf(stderr, "unexpected end: %s\n", ec.message().c_str());
            }
            self->ended = true;
            self->pacing.cancel();
            if (self->owned_privately) {
                self->s.reset(); // inside its own run handler, on its strand
                ++g.destroyed_in_handler;
            }
        }));
        receive();
        send_next();
    }

    asio::cancellation_signal& new_signal() {
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        return *signals.back();
    }

    void receive() {
        if (!s)
            return;
        ++g.receives_started;
        s->async_receive([self = shared_from_this()](error_code ec, std::string) {
            ++g.receives_done;
            if (ec)
                return;
            ++g.frames_received;
            self->receive();
        });
    }

    void send_next() {
        if (!s || ended)
            return;
        ++g.sends_started;
        s->async_send("frame " + std::to_string(++seq), [self = shared_from_this()](error_code ec) {
            ++g.sends_done;
            if (ec || self->ended)
                return;
            self->pacing.expires_after(std::chrono::milliseconds(1 + self->seq % 4));
            self->pacing.async_wait([self](error_code e) {
                if (!e)
                    self->send_next();
            });
        });
    }

    // Chaos, each posted to the strand by another thread.
    void extra_send() {
        if (!s)
            return;
        ++g.sends_started;
        asio::cancellation_signal& sig = new_signal();
        s->async_send(std::string(1 + seq % 3000, 'c'),
                      asio::bind_cancellation_slot(sig.slot(), [](error_code) { ++g.sends_done; }));
    }
    void extra_receive() {
        if (!s)
            return;
        ++g.receives_started;
        asio::cancellation_signal& sig = new_signal();
        s->async_receive(asio::bind_cancellation_slot(sig.slot(), [](error_code ec, std::string) {
            ++g.receives_done;
            if (!ec)
                ++g.frames_received;
        }));
    }
    void cancel_one(unsigned pick, bool include_run) {
        // signals[0] belongs to async_run: only terminal cancellation of it ends the session.
        const std::size_t first = include_run ? 0 : 1;
        if (signals.size() <= first)
            return;
        const std::size_t i = first + pick % (signals.size() - first);
        const asio::cancellation_type types[] = {asio::cancellation_type::terminal,
                                                 asio::cancellation_type::partial,
                                                 asio::cancellation_type::total};
        signals[i]->emit(types[pick % 3]);
        ++g.cancels;
    }
};

class world {
public:
    world(asio::io_context& ioc, int pairs, clock::time_point until)
        : ioc_(ioc)
        , acceptor_(asio::make_strand(ioc), tcp::endpoint(asio::ip::address_v4::loopback(), 0))
        , pairs_(pairs)
        , until_(until) {}

    void start() {
        accept();
        for (int i = 0; i < pairs_; ++i)
            connect(i % 5 == 4);
    }

    /// A random public session (never a private one), or null.
    std::shared_ptr<side> pick(std::mt19937& rng) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (shared_.empty())
            return nullptr;
        return shared_[rng() % shared_.size()];
    }
    std::vector<std::shared_ptr<side>> all() {
        std::lock_guard<std::mutex> lock(mutex_);
        return all_;
    }
    void stop_accepting() {
        asio::post(acceptor_.get_executor(), [this] {
            error_code ignored;
            acceptor_.close(ignored);
        });
    }
    bool churning() const { return clock::now() < until_; }

private:
    void add(const std::shared_ptr<side>& p) {
        std::lock_guard<std::mutex> lock(mutex_);
        all_.push_back(p);
        if (!p->owned_privately)
            shared_.push_back(p);
    }

    void accept() {
        acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
            if (ec)
                return;
            socket.set_option(tcp::no_delay(true));
            // Each side is private or not on its own; here one accepted socket in seven.
            const bool priv = socket.remote_endpoint().port() % 7 == 0;
            auto p = std::make_shared<side>(std::move(socket), priv);
            add(p);
            asio::post(p->strand, [p] { p->start(); });
            accept();
        });
    }

    void connect(bool priv) {
        auto socket = std::make_shared<tcp::socket>(asio::make_strand(ioc_));
        socket->async_connect(acceptor_.local_endpoint(), [this, socket, priv](error_code ec) {
            if (ec)
                return;
            socket->set_option(tcp::no_delay(true));
            auto p = std::make_shared<side>(std::move(*socket), priv);
            add(p);
            p->start();
            watch_for_reconnect(p);
        });
    }

    /// When a client session ends before the deadline, a new pair replaces it.
    void watch_for_reconnect(const std::shared_ptr<side>& p) {
        auto timer = std::make_shared<asio::steady_timer>(p->strand, 10ms);
        timer->async_wait([this, p, timer](error_code ec) {
            if (ec)
                return;
            if (!churning())
                return;
            if (p->ended)
                connect(p->owned_privately);
            else
                watch_for_reconnect(p);
        });
    }

    asio::io_context& ioc_;
    tcp::acceptor acceptor_;
    int pairs_;
    clock::time_point until_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<side>> all_;
    std::vector<std::shared_ptr<side>> shared_;
};

void chaos(world& w, unsigned seed, clock::time_point until) {
    std::mt19937 rng(seed);
    while (clock::now() < until) {
        auto p = w.pick(rng);
        if (!p) {
            std::this_thread::sleep_for(1ms);
            continue;
        }
        const unsigned what = rng() % 100;
        if (what < 2) {
            // close() straight from this thread: the one thread-safe member.
            p->s->close();
            ++g.closes;
        } else if (what < 40) {
            asio::post(p->strand, [p] { p->extra_send(); });
        } else if (what < 60) {
            asio::post(p->strand, [p] { p->extra_receive(); });
        } else if (what < 85) {
            const unsigned r = static_cast<unsigned>(rng());
            asio::post(p->strand, [p, r] { p->cancel_one(r, r % 50 == 0); });
        } else {
            asio::post(p->strand, [p] {
                if (p->s)
                    (void)p->s->statistics();
            });
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 300));
    }
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    const int pairs = argc > 2 ? std::atoi(argv[2]) : 50;
    const auto start = clock::now();
    const auto until = start + std::chrono::milliseconds(static_cast<long>(seconds * 1000));

    asio::io_context ioc(4);
    auto guard = asio::make_work_guard(ioc);
    world w(ioc, pairs, until);
    w.start();
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&ioc] { ioc.run(); });
    std::thread chaos1([&] { chaos(w, 1, until); });
    std::thread chaos2([&] { chaos(w, 2, until); });
    chaos1.join();
    chaos2.join();

    // The end: no more reconnects; close every session from this thread and wait.
    while (clock::now() < until)
        std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(20ms); // reconnect watchers see the deadline
    w.stop_accepting();
    const auto close_all = [&] {
        for (auto& p : w.all())
            asio::post(p->strand, [p] {
                if (p->s)
                    p->s->close();
            });
    };
    close_all();
    const auto cap = clock::now() + 20s;
    while (g.runs_done.load() < g.sessions.load() && clock::now() < cap) {
        std::this_thread::sleep_for(20ms);
        close_all(); // sessions accepted after the first round
    }
    guard.reset();
    for (auto& t : threads)
        t.join();

    const auto all = w.all();
    long never_ended = 0;
    for (const auto& p : all)
        if (p->run_calls.load() != 1)
            ++never_ended;
    std::printf("concurrency: %ld sessions on 4 threads in %.1f s, %ld frames received, %ld "
                "close() from other threads, %ld cancellations, %ld destroyed inside their run "
                "handler\n",
                g.sessions.load(), hbf::ms(clock::now() - start) / 1000, g.frames_received.load(),
                g.closes.load(), g.cancels.load(), g.destroyed_in_handler.load());
    HBF_CHECK_MSG(never_ended == 0, "%ld sessions whose run did not complete exactly once",
                  never_ended);
    HBF_CHECK(g.runs_twice.load() == 0);
    HBF_CHECK(g.runs_done.load() == g.sessions.load());
    HBF_CHECK_MSG(g.sends_started.load() == g.sends_done.load(), "sends %ld started, %ld done",
                  g.sends_started.load(), g.sends_done.load());
    HBF_CHECK_MSG(g.receives_started.load() == g.receives_done.load(),
                  "receives %ld started, %ld done", g.receives_started.load(),
                  g.receives_done.load());
    HBF_CHECK(g.unexpected_end.load() == 0);
    HBF_CHECK(g.sessions.load() >= 2 * pairs);
    HBF_CHECK(g.frames_received.load() > 0);
    return hbf::check_failures() == 0 ? 0 : 1;
}
