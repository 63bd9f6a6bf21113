// reconnecting_client over real loopback sockets: a server that goes away and comes back on the
// same port. The client reconnects within its backoff bounds, and the lines sent while it was
// disconnected reach the new server, in order, none lost.
#include "support.hpp"

#include <heartbeat/detail/liveness.hpp> // tick_for

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <sys/resource.h>
#endif

namespace hbt {
namespace {

using client_type = heartbeat::reconnecting_client<tcp::socket>;
using kind = heartbeat::reconnect_event::kind;

/// A line server on a fixed port that can be stopped (acceptor and every connection closed)
/// and started again. Each connection is a heartbeat session recording what it received.
class restartable_server {
public:
    restartable_server(asio::io_context& io, const heartbeat::options& o)
        : io_(io)
        , opts_(o) {}

    unsigned short start(unsigned short port = 0) {
        acceptor_.emplace(io_);
        const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
        acceptor_->open(ep.protocol());
        acceptor_->set_option(tcp::acceptor::reuse_address(true));
        acceptor_->bind(ep);
        acceptor_->listen();
        accept();
        return acceptor_->local_endpoint().port();
    }

    void stop() {
        error_code ignored;
        acceptor_->close(ignored);
        for (auto& s : sessions_)
            s->close();
        sessions_.clear();
    }

    std::size_t accepted = 0;
    std::vector<std::string> lines; // every line received, on any connection

private:
    void accept() {
        acceptor_->async_accept([this](error_code ec, tcp::socket socket) {
            if (ec)
                return;
            ++accepted;
            auto s = std::make_shared<line_session>(std::move(socket), opts_);
            sessions_.push_back(s);
            s->async_run([s](error_code) {});
            receive(s);
            accept();
        });
    }

    void receive(const std::shared_ptr<line_session>& s) {
        s->async_receive([this, s](error_code ec, std::string line) {
            if (ec)
                return;
            lines.push_back(line);
            receive(s);
        });
    }

    asio::io_context& io_;
    heartbeat::options opts_;
    std::optional<tcp::acceptor> acceptor_;
    std::vector<std::shared_ptr<line_session>> sessions_;
};

struct timed_event {
    heartbeat::reconnect_event e;
    clock::time_point at;
};

/// A connect function: one async_connect to `ep` with a socket on `ex`, bound to the attempt's
/// cancellation slot.
template <class Executor>
client_type::connect_function connect_to(Executor ex, tcp::endpoint ep) {
    return [ex, ep](heartbeat::connect_handler<tcp::socket> done) {
        auto socket = std::make_unique<tcp::socket>(ex);
        tcp::socket& s = *socket;
        auto slot = done.get_cancellation_slot();
        s.async_connect(ep,
                        asio::bind_cancellation_slot(
                            slot, [socket = std::move(socket), done = std::move(done)](
                                      error_code ec) mutable { done(ec, std::move(*socket)); }));
    };
}

} // namespace

TEST_CASE("reconnect over loopback: a server restarted on the same port gets the client back "
          "within the backoff bounds, and every line queued meanwhile",
          "[reconnect][socket]") {
    asio::io_context io;
    drain_on_exit drain(io);
    heartbeat::options so;
    so.ping_interval = 100ms;
    so.read_timeout = 1s;
    so.shutdown_timeout = 50ms;
    restartable_server server(io, so);
    const unsigned short port = server.start();
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);

    heartbeat::reconnect_options ro;
    ro.initial_backoff = 100ms;
    ro.backoff_multiplier = 2.0;
    ro.max_backoff = 400ms;
    ro.jitter_seed = 2026;
    ro.connect_timeout = 1s;
    auto connect = connect_to(io.get_executor(), ep);
    client_type client(io.get_executor(), connect, ro, so);
    std::vector<timed_event> events;
    client.set_observer([&](const heartbeat::reconnect_event& e) {
        events.push_back({e, clock::now()});
    });
    const auto count = [&](kind k) {
        std::size_t n = 0;
        for (const auto& e : events)
            n += e.e.what == k;
        return n;
    };
    outcome run;
    client.async_run(run.handler());
    // A receive always waits, as in an application: the server's EOF is noticed at once.
    frame_outcome received;
    client.async_receive(received.handler());
    REQUIRE(run_until(io, [&] { return client.connected(); }));
    client.async_send("before", [](error_code) {});
    REQUIRE(run_until(io, [&] { return server.lines.size() == 1; }));

    // The server goes away; the client notices and starts backing off.
    server.stop();
    REQUIRE(run_until(io, [&] { return count(kind::disconnected) == 1; }));
    CHECK_FALSE(client.connected());
    std::vector<outcome> queued(3);
    for (std::size_t i = 0; i < queued.size(); ++i)
        client.async_send("queued " + std::to_string(i), queued[i].handler());
    CHECK_FALSE(client.try_send("queued 3"));

    // Down for 600 ms: a few refused attempts, with waits growing towards the 400 ms cap.
    run_for(io, 600ms);
    CHECK(count(kind::connect_failed) >= 2u);
    CHECK_FALSE(queued[0].done()); // waiting for a session
    server.start(port);
    const auto back = clock::now();
    REQUIRE(run_until(io, [&] { return client.connected(); }));
    const auto reconnected = clock::now();
    REQUIRE(run_until(io, [&] { return server.lines.size() == 5; }));
    CHECK(server.lines ==
          std::vector<std::string>{"before", "queued 0", "queued 1", "queued 2", "queued 3"});
    for (const auto& q : queued)
        CHECK_FALSE(q.ec());
    CHECK(server.accepted == 2u);

    // Every wait stayed within its bound, and the client came back within the wait it was in
    // when the server returned (at most max_backoff), plus the slack for a loaded machine.
    std::size_t n = 0;
    for (const auto& e : events) {
        if (e.e.what == kind::disconnected || e.e.what == kind::connected)
            n = 0;
        if (e.e.what != kind::backing_off)
            continue;
        const auto bound = std::min<std::chrono::milliseconds>(
            400ms, std::chrono::milliseconds(100 << std::min<std::size_t>(n, 4)));
        INFO("wait " << n << ": " << e.e.delay.count() << " ms, bound " << bound.count());
        CHECK(e.e.delay <= bound);
        ++n;
    }
    INFO("reconnected " << ms_between(back, reconnected) << " ms after the server came back");
    CHECK(ms_between(back, reconnected) <= ms(400ms) + ms(late_slack()));
    CHECK_FALSE(received.done()); // the server sent nothing: still waiting, across the gap

    client.close();
    REQUIRE(run_until(io, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(received.ec() == asio::error::operation_aborted);
    server.stop();
}

TEST_CASE("reconnect over loopback: with make-before-break a frozen server's replacement is "
          "connected before the verdict, and the switch costs no connect",
          "[reconnect][socket][mbb]") {
    asio::io_context io;
    drain_on_exit drain(io);
    heartbeat::options so;
    so.ping_interval = 50ms;
    so.read_timeout = 400ms;
    // The first connection is frozen: accepted, then never read nor written (its kernel still
    // ACKs, as for a SIGSTOPped process). Later ones are live heartbeat sessions.
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    std::optional<tcp::socket> frozen;
    std::vector<std::shared_ptr<line_session>> live;
    std::vector<std::string> lines;
    std::function<void()> accept = [&] {
        acceptor.async_accept([&](error_code ec, tcp::socket socket) {
            if (ec)
                return;
            if (!frozen) {
                frozen.emplace(std::move(socket));
            } else {
                auto s = std::make_shared<line_session>(std::move(socket), so);
                live.push_back(s);
                s->async_run([s](error_code) {});
                s->async_receive([&lines](error_code ec, std::string line) {
                    if (!ec)
                        lines.push_back(line);
                });
            }
            accept();
        });
    };
    accept();
    const tcp::endpoint ep = acceptor.local_endpoint();
    heartbeat::reconnect_options ro;
    ro.make_before_break = true;
    auto connect = connect_to(io.get_executor(), ep);
    client_type client(io.get_executor(), connect, ro, so);
    std::vector<timed_event> events;
    client.set_observer([&](const heartbeat::reconnect_event& e) {
        events.push_back({e, clock::now()});
    });
    const auto find = [&](kind k) -> const timed_event* {
        for (const auto& e : events)
            if (e.e.what == k)
                return &e;
        return nullptr;
    };
    outcome run;
    client.async_run(run.handler());
    REQUIRE(run_until(
        io, [&] { return find(kind::switched) != nullptr; }, scaled(5s)));
    const timed_event* ready = find(kind::spare_ready);
    const timed_event* lost = find(kind::disconnected);
    const timed_event* switched = find(kind::switched);
    REQUIRE(ready);
    REQUIRE(lost);
    CHECK(lost->e.error == heartbeat::error::timeout);
    CHECK(ready->at < lost->at); // the spare was up before the verdict
    const auto tick = heartbeat::detail::liveness::tick_for(so);
    const auto switch_us =
        std::chrono::duration_cast<std::chrono::microseconds>(switched->at - lost->at);
    INFO("switch took " << switch_us.count() << " us; tick " << ms(tick) << " ms");
    CHECK(switched->at - lost->at < tick); // in the same handler: no connect, no wait
    CHECK(find(kind::backing_off) == nullptr);
    client.async_send("after the switch", [](error_code) {});
    REQUIRE(run_until(io, [&] { return lines.size() == 1; }));
    CHECK(lines[0] == "after the switch");
    client.close();
    REQUIRE(run_until(io, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    for (auto& s : live)
        s->close();
    error_code ignored;
    acceptor.close(ignored);
}

namespace {

struct spread {
    std::size_t reconnected = 0;
    long long first_ms = 0, median_ms = 0, p90_ms = 0, last_ms = 0;
    std::size_t busiest = 0; // most reconnects within one 50 ms bucket
};

/// `clients` reconnecting clients on one server; the server drops them all at once (and is
/// listening again at that moment); when each comes back, measured from the drop.
spread measure_spread(std::size_t clients, bool jitter) {
    asio::io_context io;
    drain_on_exit drain(io);
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::shared_ptr<tcp::socket>> accepted;
    const auto listen = [&](unsigned short port) {
        acceptor.emplace(io);
        const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
        acceptor->open(ep.protocol());
        acceptor->set_option(tcp::acceptor::reuse_address(true));
        acceptor->bind(ep);
        acceptor->listen(4096);
        return acceptor->local_endpoint();
    };
    std::function<void()> accept = [&] {
        acceptor->async_accept([&](error_code ec, tcp::socket socket) {
            if (ec)
                return;
            accepted.push_back(std::make_shared<tcp::socket>(std::move(socket)));
            accept();
        });
    };
    const tcp::endpoint ep = listen(0);
    accept();

    heartbeat::options so; // no heartbeat: the measurement is about the connects alone
    so.ping_interval = 0ms;
    so.read_timeout = 0ms;
    heartbeat::reconnect_options ro; // the defaults: 1 s initial wait
    ro.jitter = jitter;
    auto connect = connect_to(io.get_executor(), ep);
    std::optional<clock::time_point> dropped;
    std::vector<long long> back_ms;
    std::size_t connected = 0;
    std::vector<std::unique_ptr<client_type>> fleet;
    for (std::size_t i = 0; i < clients; ++i) {
        fleet.push_back(std::make_unique<client_type>(io.get_executor(), connect, ro, so));
        fleet.back()->set_observer([&](const heartbeat::reconnect_event& e) {
            if (e.what != kind::connected)
                return;
            ++connected;
            if (dropped)
                back_ms.push_back(ms_since(*dropped));
        });
        fleet.back()->async_run([](error_code) {});
    }
    REQUIRE(run_until(
        io, [&] { return connected == clients && accepted.size() == clients; }, scaled(20s)));
    // The server restarts: it listens again at once, and drops every connection.
    acceptor->close();
    listen(ep.port());
    accept();
    dropped = clock::now();
    for (auto& s : accepted)
        s->close();
    accepted.clear();
    run_until(
        io, [&] { return back_ms.size() == clients; }, scaled(10s));
    for (auto& c : fleet)
        c->close();
    run_until(
        io, [&] { return false; }, 200ms);
    fleet.clear();

    spread r;
    r.reconnected = back_ms.size();
    if (back_ms.empty())
        return r;
    std::sort(back_ms.begin(), back_ms.end());
    r.first_ms = back_ms.front();
    r.median_ms = back_ms[back_ms.size() / 2];
    r.p90_ms = back_ms[back_ms.size() * 9 / 10];
    r.last_ms = back_ms.back();
    std::vector<std::size_t> buckets(static_cast<std::size_t>(r.last_ms / 50 + 1));
    for (long long t : back_ms)
        ++buckets[static_cast<std::size_t>(t / 50)];
    r.busiest = *std::max_element(buckets.begin(), buckets.end());
    return r;
}

} // namespace

TEST_CASE("reconnect over loopback: a client on a strand of an io_context run by two threads, "
          "closed from a third, across a reconnect",
          "[reconnect][socket][threads]") {
    // The documented multi-threaded use: the client, its connect function's sockets and every
    // call on one strand; close() from another thread. Built with -fsanitize=thread by
    // scripts/test.sh --sanitize thread.
    heartbeat::options so;
    so.ping_interval = 50ms;
    so.read_timeout = 2s;
    so.shutdown_timeout = 50ms;

    // The server: an echo server on an io_context of its own, run by one thread. "drop"
    // closes the connection instead of echoing.
    asio::io_context sio;
    auto server_guard = asio::make_work_guard(sio);
    tcp::acceptor acceptor(sio, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const tcp::endpoint ep = acceptor.local_endpoint();
    std::vector<std::shared_ptr<line_session>> server_sessions; // on sio's thread only
    std::function<void(std::shared_ptr<line_session>)> echo =
        [&echo](const std::shared_ptr<line_session>& s) {
            s->async_receive([&echo, s](error_code ec, std::string f) {
                if (ec)
                    return;
                if (f == "drop") {
                    s->close();
                    return;
                }
                s->async_send(std::move(f), [](error_code) {});
                echo(s);
            });
        };
    std::function<void()> accept = [&] {
        acceptor.async_accept([&](error_code ec, tcp::socket socket) {
            if (ec)
                return;
            auto s = std::make_shared<line_session>(std::move(socket), so);
            server_sessions.push_back(s);
            s->async_run([s](error_code) {});
            echo(s);
            accept();
        });
    };
    accept();

    asio::io_context ioc(2);
    auto guard = asio::make_work_guard(ioc);
    auto strand = asio::make_strand(ioc);
    heartbeat::reconnect_options ro;
    ro.initial_backoff = 50ms;
    ro.max_backoff = 200ms;
    ro.connect_timeout = 2s;
    auto connect = connect_to(strand, ep);
    std::optional<client_type> client;
    client.emplace(strand, connect, ro, so);

    // On the strand: send 0..9, each after the echo of the one before; then "drop", and once
    // the client saw the session end, 10..19 the same way over the next session.
    struct driver {
        client_type* client;
        int next = 0;
        bool dropped = false;
        std::vector<std::string> got;
        std::promise<void> finished;
        void step() {
            if (next == 10 && !dropped) {
                dropped = true;
                client->async_send("drop", [](error_code) {});
                return; // resumed by the observer, at `disconnected`
            }
            if (next == 20) {
                finished.set_value();
                return;
            }
            client->async_send(std::to_string(next), [](error_code) {});
            client->async_receive([this](error_code ec, std::string f) {
                if (ec)
                    return;
                got.push_back(std::move(f));
                ++next;
                step();
            });
        }
    } d;
    d.client = &*client;
    std::size_t connected = 0;
    client->set_observer([&](const heartbeat::reconnect_event& e) {
        if (e.what == kind::connected)
            ++connected;
        if (e.what == kind::disconnected && d.dropped && d.next == 10)
            d.step();
    });
    std::promise<error_code> run_done;
    asio::post(strand, [&] {
        client->async_run([&](error_code ec) { run_done.set_value(ec); });
        d.step();
    });
    std::thread server_thread([&] { sio.run(); });
    std::thread t1([&] { ioc.run(); });
    std::thread t2([&] { ioc.run(); });

    const bool finished = d.finished.get_future().wait_for(hard_cap()) == std::future_status::ready;
    client->close(); // from this thread: safe from any
    auto run_future = run_done.get_future();
    const bool ended = run_future.wait_for(hard_cap()) == std::future_status::ready;
    // The client is destroyed on its strand, then both contexts run out of work.
    std::promise<void> destroyed;
    asio::post(strand, [&] {
        client.reset();
        destroyed.set_value();
    });
    const bool gone = destroyed.get_future().wait_for(hard_cap()) == std::future_status::ready;
    asio::post(sio, [&] {
        error_code ignored;
        acceptor.close(ignored);
        for (auto& s : server_sessions)
            s->close();
        server_sessions.clear();
    });
    guard.reset();
    server_guard.reset();
    if (!(finished && ended && gone)) {
        ioc.stop();
        sio.stop();
    }
    t1.join();
    t2.join();
    server_thread.join();
    REQUIRE(finished);
    REQUIRE(ended);
    CHECK(gone);
    CHECK(run_future.get() == asio::error::operation_aborted);
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i)
        expected.push_back(std::to_string(i));
    CHECK(d.got == expected);
    CHECK(connected == 2u);
}

TEST_CASE("reconnect spread: 1,000 clients whose server restarts come back spread over the "
          "first wait with full jitter, in one wave without",
          "[reconnect][socket][spread]") {
    constexpr std::size_t clients = 1000;
#if defined(_WIN32)
    // Not investigated yet: under wine 8.0 the program dies with an unhandled exception
    // (0xc0000024) while 2,000 sockets are open.
    HBT_SKIP_ON_THIS_PLATFORM("under wine, 2,000 open sockets end in an unhandled exception");
#endif
#if defined(__unix__)
    // Two descriptors per client (its socket and the server's), and a few more in passing.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 3 * clients)
        HBT_SKIP_ON_THIS_PLATFORM("ulimit -n is " << files.rlim_cur << ", the test needs "
                                                  << 3 * clients);
#endif
    const spread jittered = measure_spread(clients, true);
    const spread exact = measure_spread(clients, false);
    for (const auto& [name, r] :
         {std::pair<const char*, const spread&>{"full jitter", jittered}, {"no jitter", exact}}) {
        std::printf("reconnect spread, %zu clients, initial_backoff 1 s, %s: %zu back; first %lld "
                    "ms, median %lld, p90 %lld, last %lld; busiest 50 ms: %zu\n",
                    clients, name, r.reconnected, r.first_ms, r.median_ms, r.p90_ms, r.last_ms,
                    r.busiest);
    }
    CHECK(jittered.reconnected == clients);
    CHECK(exact.reconnected == clients);
    // Full jitter: uniform over [0, 1 s]. Expected 50 per 50 ms bucket; a wave would be 1,000.
    CHECK(jittered.last_ms <= 1000 + ms(late_slack()));
    CHECK(jittered.median_ms >= 300);
    CHECK(jittered.median_ms <= 700 + ms(late_slack()));
    CHECK(jittered.busiest <= 200u);
    // No jitter: every client waits exactly 1 s, and they arrive together.
    CHECK(exact.first_ms >= 999);
    CHECK(exact.busiest >= 3 * jittered.busiest);
}

} // namespace hbt
