// heartbeat_session lifetime: close() from any thread, cancellation through slots, destruction
// with operations pending, handlers never invoked inline, and no session left behind.
#include "support.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <future>
#include <optional>

#if !defined(_WIN32)
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace hbt;

namespace {

/// A stream that counts its live instances, to tell whether a session's state was freed.
class counted_socket {
public:
    using executor_type = tcp::socket::executor_type;
    static std::atomic<int>& live() {
        static std::atomic<int> n{0};
        return n;
    }

    explicit counted_socket(tcp::socket s)
        : s_(std::move(s)) {
        ++live();
    }
    counted_socket(counted_socket&& o) noexcept
        : s_(std::move(o.s_)) {
        ++live();
    }
    counted_socket& operator=(counted_socket&&) = delete;
    ~counted_socket() { --live(); }

    executor_type get_executor() { return s_.get_executor(); }
    template <class Buffers, class Token>
    auto async_read_some(const Buffers& b, Token&& t) {
        return s_.async_read_some(b, std::forward<Token>(t));
    }
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& b, Token&& t) {
        return s_.async_write_some(b, std::forward<Token>(t));
    }
    void close(error_code& ec) { s_.close(ec); }
    // Forwarded for wine, whose close() leaves a socket's pending operations pending: on
    // Windows the session cancels a stream that can be cancelled before closing it
    // (detail/close_stream.hpp).
    void cancel(error_code& ec) { s_.cancel(ec); }
    bool is_open() const { return s_.is_open(); }

private:
    tcp::socket s_;
};

using counted_session = heartbeat::heartbeat_session<counted_socket>;

} // namespace

TEST_CASE("close() from another thread ends the run with operation_aborted",
          "[session][lifetime][threads]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    line_session peer(std::move(pair.b), test_options());
    std::promise<error_code> run_result, peer_result;
    s.async_run([&](error_code ec) { run_result.set_value(ec); });
    peer.async_run([&](error_code ec) { peer_result.set_value(ec); });
    auto run_future = run_result.get_future();
    auto peer_future = peer_result.get_future();

    std::thread worker([&] { ioc.run(); });
    std::this_thread::sleep_for(100ms);
    const auto t0 = clock::now();
    s.close(); // this thread is not running the io_context
    const bool ended = run_future.wait_for(hard_cap()) == std::future_status::ready;
    const bool peer_ended = peer_future.wait_for(hard_cap()) == std::future_status::ready;
    if (!ended || !peer_ended)
        ioc.stop();
    worker.join();
    REQUIRE(ended);
    CHECK(ms_since(t0) < ms(hard_cap()));
    CHECK(run_future.get() == asio::error::operation_aborted);
    REQUIRE(peer_ended);
    CHECK(closed_by_peer(peer_future.get()));
    CHECK_FALSE(s.next_layer().is_open());
}

TEST_CASE("close() before async_run makes the run complete with operation_aborted",
          "[session][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    s.close();
    run_for(ioc, 10ms);
    outcome run;
    initiate([&] { s.async_run(run.handler()); });
    CHECK_FALSE(run.done());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK_FALSE(run.was_inline());
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("terminal cancellation of async_run's slot ends it with operation_aborted",
          "[session][lifetime][cancellation]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    raw_peer peer(std::move(pair.b));
    peer.repeat("PING\n", 10ms, 100).start();
    peer.start_reading();
    asio::cancellation_signal signal;
    outcome run;
    frame_outcome pending_receive;
    s.async_run(asio::bind_cancellation_slot(signal.slot(), run.handler()));
    s.async_receive(pending_receive.handler());

    run_for(ioc, 60ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());
    const auto t0 = clock::now();
    signal.emit(asio::cancellation_type::terminal);
    CHECK_FALSE(run.done()); // completes through the executor, not from inside emit()
    REQUIRE(run_until(ioc, [&] { return run.done() && pending_receive.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(run.calls() == 1);
    CHECK(ms_between(t0, run.when()) <= ms(late_slack()));
    CHECK(pending_receive.ec() == asio::error::operation_aborted);
    CHECK_FALSE(s.next_layer().is_open());
    // A later emit finds nothing to cancel.
    signal.emit(asio::cancellation_type::terminal);
    run_for(ioc, 10ms);
    CHECK(run.calls() == 1);
}

TEST_CASE("cancelling a pending async_receive through its slot leaves the session running",
          "[session][lifetime][cancellation]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    raw_peer peer(std::move(pair.b));
    peer.repeat("PING\n", 20ms, 10).write("after\n").start();
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());

    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                               asio::cancellation_type::total);
    INFO("cancellation type " << static_cast<unsigned>(type));
    asio::cancellation_signal signal;
    frame_outcome cancelled;
    s.async_receive(asio::bind_cancellation_slot(signal.slot(), cancelled.handler()));
    run_for(ioc, 30ms);
    REQUIRE_FALSE(cancelled.done());
    signal.emit(type);
    CHECK_FALSE(cancelled.done());
    REQUIRE(run_until(ioc, [&] { return cancelled.done(); }));
    CHECK(cancelled.ec() == asio::error::operation_aborted);
    CHECK(cancelled.frame().empty());

    // The frame that arrives later goes to the next receive, not to the cancelled one.
    frame_outcome next;
    s.async_receive(next.handler());
    REQUIRE(run_until(ioc, [&] { return next.done(); }));
    CHECK(next.ec() == error_code());
    CHECK(next.frame() == "after");
    CHECK(cancelled.calls() == 1);
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("cancelling a queued async_send removes its frame: one being written completes",
          "[session][lifetime][cancellation]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 8 * 1024);
    heartbeat::options o = quiet_options();
    o.max_frame_size = 512 * 1024;
    o.send_queue_limit = 2 * 1024 * 1024;
    o.send_high_water_mark = 0; // every send waits for its write
    // Declared before the session, which clears their slots when it goes.
    asio::cancellation_signal big_signal, queued_signal;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b)); // not reading yet: the big frame stays in flight
    outcome run;
    s.async_run(run.handler());

    const std::string big = pattern(o.max_frame_size, 5);
    outcome big_sent, cancelled, kept;
    s.async_send(big, asio::bind_cancellation_slot(big_signal.slot(), big_sent.handler()));
    run_for(ioc, 30ms);
    s.async_send("cancel me",
                 asio::bind_cancellation_slot(queued_signal.slot(), cancelled.handler()));
    s.async_send("keep me", kept.handler());
    run_for(ioc, 10ms);
    REQUIRE_FALSE(big_sent.done());

    queued_signal.emit(asio::cancellation_type::terminal);
    big_signal.emit(asio::cancellation_type::terminal); // too late: part of it is on the wire
    REQUIRE(run_until(ioc, [&] { return cancelled.done(); }));
    CHECK(cancelled.ec() == asio::error::operation_aborted);
    run_for(ioc, 20ms);
    CHECK_FALSE(big_sent.done());
    CHECK_FALSE(kept.done());

    peer.start_reading();
    const std::string expected = big + "\nkeep me\n";
    REQUIRE(run_until(ioc, [&] { return peer.received().size() >= expected.size(); }));
    CHECK(peer.received().size() == expected.size());
    CHECK((peer.received() == expected));
    REQUIRE(run_until(ioc, [&] { return big_sent.done() && kept.done(); }));
    CHECK(big_sent.ec() == error_code());
    CHECK(kept.ec() == error_code());
    CHECK(cancelled.calls() == 1);
    CHECK(s.statistics().frames_sent == 2u);
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("destroying a session with run, receive and sends pending completes each handler once",
          "[session][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 8 * 1024);
    heartbeat::options o = test_options();
    o.max_frame_size = 512 * 1024;
    o.send_queue_limit = 2 * 1024 * 1024;
    o.send_high_water_mark = 0; // each send waits for its write
    const int live_before = counted_socket::live();
    std::optional<counted_session> s;
    s.emplace(counted_socket(std::move(pair.a)), o);
    raw_peer peer(std::move(pair.b)); // never reads
    peer.repeat("PING\n", 10ms, 100).start();
    outcome run, in_flight, queued;
    frame_outcome receive;
    s->async_run(run.handler());
    s->async_receive(receive.handler());
    s->async_send(pattern(o.max_frame_size, 6), in_flight.handler());
    s->async_send("queued", queued.handler());
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());
    REQUIRE_FALSE(in_flight.done());
    CHECK(counted_socket::live() == live_before + 1);

    s.reset();
    CHECK_FALSE(run.done()); // not from inside the destructor either
    CHECK_FALSE(receive.done());
    REQUIRE(run_to_completion(ioc)); // and nothing is left pending afterwards
    CHECK(run.calls() == 1);
    CHECK(receive.calls() == 1);
    CHECK(in_flight.calls() == 1);
    CHECK(queued.calls() == 1);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(receive.ec() == asio::error::operation_aborted);
    CHECK(in_flight.ec() == asio::error::operation_aborted);
    CHECK(queued.ec() == asio::error::operation_aborted);
    // The state, and the stream it owns, are gone.
    CHECK(counted_socket::live() == live_before);
}

TEST_CASE("destroying a session that never ran completes its pending handlers",
          "[session][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    const int live_before = counted_socket::live();
    std::optional<counted_session> s;
    s.emplace(counted_socket(std::move(pair.a)), test_options());
    outcome sent, flushed;
    frame_outcome receive;
    s->async_send("never", sent.handler()); // accepted into the queue...
    s->async_flush(flushed.handler());      // ...never written
    s->async_receive(receive.handler());
    s.reset();
    REQUIRE(run_to_completion(ioc));
    CHECK(sent.calls() == 1);
    CHECK(flushed.calls() == 1);
    CHECK(receive.calls() == 1);
    CHECK(sent.ec() == error_code());
    CHECK(flushed.ec() == asio::error::operation_aborted);
    CHECK(receive.ec() == asio::error::operation_aborted);
    CHECK(counted_socket::live() == live_before);
}

TEST_CASE("destroying the session from inside its own receive handler is safe",
          "[session][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    const int live_before = counted_socket::live();
    std::optional<counted_session> s;
    s.emplace(counted_socket(std::move(pair.a)), test_options());
    raw_peer peer(std::move(pair.b));
    peer.write("bye\n").repeat("PING\n", 5ms, 50).start();
    outcome run, sent;
    std::string got;
    int receive_calls = 0;
    s->async_run(run.handler());
    s->async_send("pending", sent.handler());
    s->async_receive([&](error_code ec, std::string frame) {
        ++receive_calls;
        if (!ec)
            got = frame;
        s.reset();
    });
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    REQUIRE(run_to_completion(ioc));
    CHECK(receive_calls == 1);
    CHECK(got == "bye");
    CHECK(run.calls() == 1);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(sent.calls() == 1);
    CHECK(counted_socket::live() == live_before);
}

TEST_CASE("a second async_run while running fails with already_running, not inline",
          "[session][lifetime][inline]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    line_session peer(std::move(pair.b), test_options());
    outcome first, second, peer_run;
    s.async_run(first.handler());
    peer.async_run(peer_run.handler());
    initiate([&] { s.async_run(second.handler()); });
    CHECK_FALSE(second.done());
    REQUIRE(run_until(ioc, [&] { return second.done(); }));
    CHECK_FALSE(second.was_inline());
    CHECK(second.ec() == heartbeat::error::already_running);
    CHECK_FALSE(first.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return first.done() && peer_run.done(); }));
    CHECK(first.ec() == asio::error::operation_aborted);
    CHECK(first.calls() == 1);
}

TEST_CASE("async_run on a session that already ran fails with already_running",
          "[session][lifetime][inline]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options()); // writes nothing: the peer's FIN is clean
    raw_peer peer(std::move(pair.b));
    peer.close().start();
    outcome first, again;
    s.async_run(first.handler());
    REQUIRE(run_until(ioc, [&] { return first.done(); }));
    CHECK(first.ec() == asio::error::eof);
    initiate([&] { s.async_run(again.handler()); });
    CHECK_FALSE(again.done());
    REQUIRE(run_until(ioc, [&] { return again.done(); }));
    CHECK_FALSE(again.was_inline());
    // error.hpp: "already_running: async_run was called on a session that already ran."
    CHECK(again.ec() == heartbeat::error::already_running);
}

TEST_CASE("handlers are never invoked from inside the initiating call",
          "[session][lifetime][inline]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.max_frame_size = 16;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.write("queued\n").start();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return s.statistics().frames_received == 1; }));

    // A frame is already held: the receive completes later, through the executor.
    frame_outcome held;
    initiate([&] { s.async_receive(held.handler()); });
    CHECK_FALSE(held.done());
    // Refusals are decided at once, but reported later.
    outcome too_large, invalid;
    initiate([&] {
        s.async_send(std::string(17, 'x'), too_large.handler());
        s.async_send("a\nb", invalid.handler());
    });
    CHECK_FALSE(too_large.done());
    CHECK_FALSE(invalid.done());
    REQUIRE(run_until(ioc, [&] { return held.done() && too_large.done() && invalid.done(); }));
    CHECK(held.frame() == "queued");
    CHECK(too_large.ec() == heartbeat::error::frame_too_large);
    CHECK(invalid.ec() == heartbeat::error::invalid_frame);
    CHECK_FALSE(held.was_inline());
    CHECK_FALSE(too_large.was_inline());
    CHECK_FALSE(invalid.was_inline());

    // After the session ended: sends and receives fail with the end reason, later.
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    outcome late_send;
    frame_outcome late_receive;
    initiate([&] {
        s.async_send("late", late_send.handler());
        s.async_receive(late_receive.handler());
    });
    CHECK_FALSE(late_send.done());
    CHECK_FALSE(late_receive.done());
    REQUIRE(run_until(ioc, [&] { return late_send.done() && late_receive.done(); }));
    CHECK(late_send.ec() == asio::error::operation_aborted);
    CHECK(late_receive.ec() == asio::error::operation_aborted);
    CHECK_FALSE(late_send.was_inline());
    CHECK_FALSE(late_receive.was_inline());
}

TEST_CASE("a session's state is freed once its run completed and the handle is gone",
          "[session][lifetime]") {
    const int live_before = counted_socket::live();
    {
        asio::io_context ioc;
        auto pair = tcp_pair(ioc);
        {
            counted_session s(counted_socket(std::move(pair.a)), test_options());
            raw_peer peer(std::move(pair.b));
            outcome run;
            s.async_run(run.handler());
            s.close();
            REQUIRE(run_until(ioc, [&] { return run.done(); }));
            CHECK(counted_socket::live() == live_before + 1); // the handle still owns it
        }
        REQUIRE(run_to_completion(ioc));
        CHECK(counted_socket::live() == live_before);
    }
    CHECK(counted_socket::live() == live_before);
}

TEST_CASE("a close() on its way keeps the state until it ran, then frees it",
          "[session][lifetime]") {
    // close() posts, holding the application's claim on the state: the handle may go before
    // the posted call runs (the state then outlives it, and the call finds it whole), and the
    // state is freed with the last of the claims, whichever it is.
    const int live_before = counted_socket::live();
    asio::io_context ioc;
    auto pair = tcp_pair(ioc);
    raw_peer peer(std::move(pair.b));
    outcome run;
    std::optional<counted_session> s;
    s.emplace(counted_socket(std::move(pair.a)), test_options());
    s->async_run(run.handler());
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    REQUIRE(run_to_completion(ioc)); // nothing of the session is pending now
    s->close();                      // twice: two claims on their way
    s->close();
    s.reset(); // the handle is gone first
    CHECK(counted_socket::live() == live_before + 1);
    REQUIRE(run_to_completion(ioc)); // the posted calls find the state whole (ASan)
    CHECK(counted_socket::live() == live_before);

    // And with the io_context destroyed before the posted close ran: freed with it.
    {
        asio::io_context other;
        auto second = tcp_pair(other);
        raw_peer other_peer(std::move(second.b));
        {
            counted_session s(counted_socket(std::move(second.a)), test_options());
            s.close();
        }
        CHECK(counted_socket::live() == live_before + 1);
    }
    CHECK(counted_socket::live() == live_before);
}

TEST_CASE("destroying the io_context with a session still running frees the session",
          "[session][lifetime]") {
    // The usual end of a program: the session handle goes, then the io_context, without
    // running it again. Asio destroys the pending handlers; nothing of the session may leak.
    const int live_before = counted_socket::live();
    std::weak_ptr<int> handler_state;
    {
        asio::io_context ioc;
        auto pair = tcp_pair(ioc);
        counted_session s(counted_socket(std::move(pair.a)), test_options());
        raw_peer peer(std::move(pair.b));
        peer.repeat("PING\n", 10ms, 100).start();
        auto token = std::make_shared<int>(0);
        handler_state = token;
        s.async_run([token](error_code) {});
        run_for(ioc, 50ms);
        CHECK(counted_socket::live() == live_before + 1);
    }
    CHECK(counted_socket::live() == live_before);
    CHECK(handler_state.expired()); // the run handler (and what it owns) was destroyed
}

TEST_CASE("a moved session keeps running: assigning over a session ends the old one",
          "[session][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto first = tcp_pair(ioc);
    auto second = tcp_pair(ioc);
    line_session s1(std::move(first.a), test_options());
    line_session s2(std::move(second.a), test_options());
    line_session peer1(std::move(first.b), test_options());
    line_session peer2(std::move(second.b), test_options());
    outcome run1, run2, peer_run1, peer_run2;
    s1.async_run(run1.handler());
    s2.async_run(run2.handler());
    peer1.async_run(peer_run1.handler());
    peer2.async_run(peer_run2.handler());

    line_session moved(std::move(s1)); // the run goes with it
    run_for(ioc, 50ms);
    CHECK_FALSE(run1.done());
    frame_outcome got;
    moved.async_receive(got.handler());
    peer1.async_send("to the moved one", [](error_code) {});
    REQUIRE(run_until(ioc, [&] { return got.done(); }));
    CHECK(got.frame() == "to the moved one");

    moved = std::move(s2); // the first session's state is abandoned: its run ends
    REQUIRE(run_until(ioc, [&] { return run1.done() && peer_run1.done(); }));
    CHECK(run1.ec() == asio::error::operation_aborted);
    CHECK(closed_by_peer(peer_run1.ec()));
    CHECK_FALSE(run2.done());
    moved.close();
    REQUIRE(run_until(ioc, [&] { return run2.done() && peer_run2.done(); }));
    CHECK(run2.ec() == asio::error::operation_aborted);
}

namespace {

/// Open file descriptors of this process (Linux), or -1 where that cannot be told.
int open_descriptors() {
#if defined(__linux__)
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d))
            ++n;
        ::closedir(d);
        return n;
    }
#endif
    return -1;
}

} // namespace

TEST_CASE("destroying the io_context frees a session owned by its own handlers",
          "[session][lifetime]") {
    // The guide's ownership pattern: the handlers hold the session. Asio destroys pending
    // handlers with their io_context; the session must then go too, with its socket.
    const int live_before = counted_socket::live();
    const int fds_before = open_descriptors();
    std::weak_ptr<counted_session> weak;
    auto run_called = std::make_shared<bool>(false);
    {
        asio::io_context ioc;
        auto pair = tcp_pair(ioc);
        auto s =
            std::make_shared<counted_session>(counted_socket(std::move(pair.a)), test_options());
        weak = s;
        s->async_run([s, run_called](error_code) { *run_called = true; });
        s->async_receive([s](error_code, std::string) {});
        s->set_health_observer([s](heartbeat::health) {});
        s.reset();
        run_for(ioc, 50ms);
        CHECK(counted_socket::live() == live_before + 1);
        CHECK_FALSE(weak.expired());
    }
    CHECK(weak.expired());
    CHECK_FALSE(*run_called); // destroyed unrun, as Asio does with its own handlers
    CHECK(counted_socket::live() == live_before);
    CHECK(open_descriptors() == fds_before);
}

TEST_CASE("destroying the io_context with a stopped session's completion queued frees it",
          "[session][lifetime]") {
    const int live_before = counted_socket::live();
    std::weak_ptr<counted_session> weak;
    {
        asio::io_context ioc;
        auto pair = tcp_pair(ioc);
        auto s =
            std::make_shared<counted_session>(counted_socket(std::move(pair.a)), test_options());
        weak = s;
        s->async_run([s](error_code) {});
        run_for(ioc, 20ms);
        s->close(); // posted; the io_context never runs again
        s->async_send("queued", [s](error_code) {});
        s.reset();
    }
    CHECK(weak.expired());
    CHECK(counted_socket::live() == live_before);
}

#if !defined(NDEBUG) && !defined(_WIN32)
namespace {

/// Runs `misuse` in a child process with its standard error captured; returns how the child
/// ended and what it printed.
template <class F>
std::pair<int, std::string> in_child(F misuse) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The abort must end the child as it is: Catch's handler for it would report a failure
        // (and allocate inside a signal handler, which ThreadSanitizer reports, exiting 66).
        std::signal(SIGABRT, SIG_DFL);
        ::dup2(out[1], 2);
        ::close(out[0]);
        misuse();
        std::_Exit(0);
    }
    ::close(out[1]);
    std::string printed;
    char buffer[512];
    for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;)
        printed.append(buffer, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return {status, printed};
}

} // namespace

TEST_CASE("using a moved-from session stops at an assertion that names the misuse",
          "[session][lifetime]") {
    auto check = [](auto misuse) {
        const auto [status, printed] = in_child([&misuse] {
            asio::io_context ioc;
            auto pair = tcp_pair(ioc);
            line_session s(std::move(pair.a), test_options());
            line_session moved_to(std::move(s));
            misuse(s); // NOLINT(bugprone-use-after-move): the misuse under test
        });
        INFO("child printed: " << printed);
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGABRT);
        CHECK(printed.find("heartbeat_session used after it was moved from") != std::string::npos);
    };
    check([](line_session& s) { s.async_run([](error_code) {}); });
    check([](line_session& s) { s.async_send("x", [](error_code) {}); });
    check([](line_session& s) { s.async_receive([](error_code, std::string) {}); });
    check([](line_session& s) { (void)s.try_send("x"); });
    check([](line_session& s) { (void)s.get_executor(); });
    check([](line_session& s) { (void)s.statistics(); });
    // close() and destruction stay harmless, as for a closed socket.
    const auto [status, printed] = in_child([] {
        asio::io_context ioc;
        auto pair = tcp_pair(ioc);
        line_session s(std::move(pair.a), test_options());
        line_session moved_to(std::move(s));
        s.close(); // NOLINT(bugprone-use-after-move)
    });
    CHECK(WIFEXITED(status));
    CHECK(printed.empty());
}
#elif !defined(NDEBUG)
TEST_CASE("using a moved-from session stops at an assertion that names the misuse",
          "[session][lifetime]") {
    HBT_SKIP_ON_THIS_PLATFORM("no fork(): each misuse aborts the process it runs in, so it runs "
                              "in a child process");
}
#endif
