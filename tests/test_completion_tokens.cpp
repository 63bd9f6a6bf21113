// The same operations through different completion tokens: callbacks (move-only too),
// asio::use_future with the io_context on another thread, deferred, asio::use_awaitable
// (C++20 coroutines, when available); and the handler's associated executor and allocator.
#include "support.hpp"

#if defined(HEARTBEAT_USE_BOOST_ASIO) // see net.hpp

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/use_future.hpp>

#if __has_include(<boost/asio/deferred.hpp>)
#include <boost/asio/deferred.hpp>
#define HBT_DEFERRED asio::deferred
#else
#include <boost/asio/experimental/deferred.hpp>
#define HBT_DEFERRED asio::experimental::deferred
#endif

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#if BOOST_ASIO_VERSION >= 102400
#include <boost/asio/as_tuple.hpp>
#define HBT_AS_TUPLE asio::as_tuple
#else
#include <boost/asio/experimental/as_tuple.hpp>
#define HBT_AS_TUPLE asio::experimental::as_tuple
#endif
#endif

#else

#include <asio/bind_allocator.hpp>
#include <asio/bind_executor.hpp>
#include <asio/use_future.hpp>

#if __has_include(<asio/deferred.hpp>)
#include <asio/deferred.hpp>
#define HBT_DEFERRED asio::deferred
#else
#include <asio/experimental/deferred.hpp>
#define HBT_DEFERRED asio::experimental::deferred
#endif

#if defined(ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#if ASIO_VERSION >= 102400
#include <asio/as_tuple.hpp>
#define HBT_AS_TUPLE asio::as_tuple
#else
#include <asio/experimental/as_tuple.hpp>
#define HBT_AS_TUPLE asio::experimental::as_tuple
#endif
#endif

#endif

// cancel_after and cancel_at: Asio 1.31 (Boost 1.86) and later.
#if defined(HEARTBEAT_USE_BOOST_ASIO)
#if BOOST_ASIO_VERSION >= 103100
#define HBT_HAS_CANCEL_AFTER 1
#include <boost/asio/cancel_after.hpp>
#include <boost/asio/cancel_at.hpp>
#endif
#elif ASIO_VERSION >= 103100
#define HBT_HAS_CANCEL_AFTER 1
#include <asio/cancel_after.hpp>
#include <asio/cancel_at.hpp>
#endif

#include <atomic>
#include <future>
#include <type_traits>
#include <variant>

using namespace hbt;

TEST_CASE("callbacks, including move-only ones, complete every operation", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), test_options());
    line_session b(std::move(pair.b), test_options());
    int run_calls = 0;
    error_code run_ec;
    std::string received;
    bool sent = false;
    auto token = std::make_unique<int>(42); // makes the handler move-only
    a.async_run([&, t = std::move(token)](error_code ec) {
        CHECK(*t == 42);
        ++run_calls;
        run_ec = ec;
    });
    b.async_run([](error_code) {});
    a.async_send("callback", [&, t = std::make_unique<int>(1)](error_code ec) {
        CHECK(*t == 1);
        CHECK_FALSE(ec);
        sent = true;
    });
    b.async_receive([&, t = std::make_unique<int>(2)](error_code ec, std::string frame) {
        CHECK(*t == 2);
        CHECK_FALSE(ec);
        received = std::move(frame);
    });
    REQUIRE(run_until(ioc, [&] { return sent && !received.empty(); }));
    CHECK(received == "callback");
    a.close();
    REQUIRE(run_until(ioc, [&] { return run_calls == 1; }));
    CHECK(run_ec == asio::error::operation_aborted);
}

TEST_CASE("asio::use_future works with the io_context running on another thread", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), test_options());
    line_session b(std::move(pair.b), test_options());
    // Operations are started before the io_context thread exists: a session is used from its
    // executor, and the futures are how this thread waits.
    std::future<void> run_a = a.async_run(asio::use_future);
    std::future<void> run_b = b.async_run(asio::use_future);
    std::future<void> sent = a.async_send("future", asio::use_future);
    std::future<std::string> got = b.async_receive(asio::use_future);
    std::future<void> refused = a.async_send("no\nway", asio::use_future);
    std::thread worker([&] { ioc.run(); });

    const bool ready = got.wait_for(hard_cap()) == std::future_status::ready &&
                       sent.wait_for(hard_cap()) == std::future_status::ready &&
                       refused.wait_for(hard_cap()) == std::future_status::ready;
    a.close(); // from this thread: close() is the one call allowed from anywhere
    const bool ended = run_a.wait_for(hard_cap()) == std::future_status::ready &&
                       run_b.wait_for(hard_cap()) == std::future_status::ready;
    if (!ended)
        ioc.stop();
    worker.join();
    REQUIRE(ready);
    REQUIRE(ended);
    CHECK(got.get() == "future");
    CHECK_NOTHROW(sent.get());
    try {
        refused.get();
        FAIL("an invalid frame must fail");
    } catch (const system_error& e) {
        CHECK(e.code() == heartbeat::error::invalid_frame);
    }
    try {
        run_a.get();
        FAIL("a closed run ends with an error");
    } catch (const system_error& e) {
        CHECK(e.code() == asio::error::operation_aborted);
    }
    try {
        run_b.get();
        FAIL("the peer's run ends with an error");
    } catch (const system_error& e) {
        CHECK(closed_by_peer(e.code()));
    }
}

TEST_CASE("deferred operations start when invoked", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), quiet_options());
    line_session b(std::move(pair.b), quiet_options());
    outcome run_a, run_b, sent;
    frame_outcome got;
#if defined(HBT_HAS_CANCEL_AFTER)
    // From Asio 1.31 deferred is the executor's default token: no token gives the same.
    auto run_op = a.async_run();
    auto send_op = a.async_send("deferred");
    auto receive_op = b.async_receive();
    static_assert(std::is_same_v<decltype(a.async_flush()), decltype(a.async_flush(HBT_DEFERRED))>);
#else
    auto run_op = a.async_run(HBT_DEFERRED);
    auto send_op = a.async_send("deferred", HBT_DEFERRED);
    auto receive_op = b.async_receive(HBT_DEFERRED);
#endif
    run_for(ioc, 20ms);
    CHECK(b.statistics().bytes_received == 0u); // nothing started yet
    std::move(run_op)(run_a.handler());
    b.async_run(run_b.handler());
    std::move(send_op)(sent.handler());
    std::move(receive_op)(got.handler());
    REQUIRE(run_until(ioc, [&] { return sent.done() && got.done(); }));
    CHECK(sent.ec() == error_code());
    CHECK(got.frame() == "deferred");
    a.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_a.ec() == asio::error::operation_aborted);
}

TEST_CASE("completions go to the handler's associated executor", "[tokens]") {
    asio::io_context ioc;
    asio::io_context other; // runs only when this test says so
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), quiet_options());
    line_session b(std::move(pair.b), quiet_options());
    outcome run_a, run_b;
    a.async_run(run_a.handler());
    b.async_run(run_b.handler());
    std::string got;
    bool on_other = false;
    b.async_receive(asio::bind_executor(other, [&](error_code ec, std::string frame) {
        CHECK_FALSE(ec);
        on_other = other.get_executor().running_in_this_thread();
        got = std::move(frame);
    }));
    a.async_send("elsewhere", [](error_code) {});
    REQUIRE(run_until(ioc, [&] { return b.statistics().frames_received == 1; }));
    run_for(ioc, 20ms);
    CHECK(got.empty()); // posted to `other`, which did not run
    CHECK(other.poll() >= 1u);
    CHECK(got == "elsewhere");
    CHECK(on_other);
    a.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
}

namespace {

struct allocation_counts {
    std::size_t allocations = 0;
    std::size_t deallocations = 0;
};

template <class T>
struct counting_allocator {
    using value_type = T;
    allocation_counts* counts;
    explicit counting_allocator(allocation_counts* c) noexcept
        : counts(c) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& o) noexcept
        : counts(o.counts) {}
    T* allocate(std::size_t n) {
        ++counts->allocations;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        ++counts->deallocations;
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const counting_allocator<U>& o) const noexcept {
        return counts == o.counts;
    }
    template <class U>
    bool operator!=(const counting_allocator<U>& o) const noexcept {
        return counts != o.counts;
    }
};

} // namespace

TEST_CASE("operations allocate with the handler's associated allocator", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), quiet_options());
    line_session b(std::move(pair.b), quiet_options());
    allocation_counts counts;
    outcome run_a, run_b;
    a.async_run(run_a.handler());
    b.async_run(run_b.handler());
    bool sent = false, received = false;
    a.async_send("allocated", asio::bind_allocator(counting_allocator<int>(&counts),
                                                   [&](error_code ec) { sent = !ec; }));
    b.async_receive(asio::bind_allocator(
        counting_allocator<int>(&counts),
        [&](error_code ec, std::string frame) { received = !ec && frame == "allocated"; }));
    REQUIRE(run_until(ioc, [&] { return sent && received; }));
    CHECK(counts.allocations >= 2u);
    CHECK(counts.deallocations == counts.allocations);
    a.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
}

#if defined(HBT_HAS_CO_AWAIT)

TEST_CASE("asio::use_awaitable works from coroutines", "[tokens][coroutines]") {
    using asio::use_awaitable;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), test_options());
    line_session b(std::move(pair.b), test_options());
    error_code run_a_ec, run_b_ec;
    bool run_a_done = false, run_b_done = false;
    std::vector<std::string> replies;
    error_code refused_ec;
    bool client_done = false;

    auto run = [](line_session& s, error_code& ec, bool& done) -> asio::awaitable<void> {
        co_await s.async_run(asio::redirect_error(use_awaitable, ec));
        done = true;
    };
    asio::co_spawn(ioc, run(a, run_a_ec, run_a_done), asio::detached);
    asio::co_spawn(ioc, run(b, run_b_ec, run_b_done), asio::detached);
    // b answers every frame until its session ends.
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                error_code ec;
                std::string frame =
                    co_await b.async_receive(asio::redirect_error(use_awaitable, ec));
                if (ec)
                    co_return;
                co_await b.async_send("re: " + frame, use_awaitable);
            }
        },
        asio::detached);
    // a sends, reads the answers, sees a refusal as an exception, then closes.
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                co_await a.async_send("question " + std::to_string(i), use_awaitable);
                replies.push_back(co_await a.async_receive(use_awaitable));
            }
            try {
                co_await a.async_send("PING", use_awaitable);
            } catch (const system_error& e) {
                refused_ec = e.code();
            }
            a.close();
            client_done = true;
        },
        asio::detached);
    REQUIRE(run_until(ioc, [&] { return client_done && run_a_done && run_b_done; }));
    CHECK(replies ==
          std::vector<std::string>{"re: question 0", "re: question 1", "re: question 2"});
    CHECK(refused_ec == heartbeat::error::invalid_frame);
    CHECK(run_a_ec == asio::error::operation_aborted);
    CHECK(closed_by_peer(run_b_ec));
}

// A result known when the operation starts (a frame held, a frame queued below the high-water
// mark) lets the awaiting coroutine go on at once: a handler posted before the co_await has not
// run when the coroutine resumes. Through the completion queue, it would have run first.
TEST_CASE("a coroutine's receive of a held frame and its accepted send go on at once",
          "[tokens][coroutines]") {
    using asio::use_awaitable;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.write("one\ntwo\nthree\n").start();
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return s.statistics().frames_received == 3u || run.done(); }));

    std::vector<std::string> got;
    std::vector<bool> overtaken; // the posted handler ran before the coroutine went on
    error_code redirected = asio::error::fault;
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                bool posted_ran = false;
                asio::post(ioc, [&posted_ran] { posted_ran = true; });
                // Each token the coroutine shortcut knows: use_awaitable, and inside
                // redirect_error and as_tuple.
                std::string frame;
                if (i == 0) {
                    frame = co_await s.async_receive(use_awaitable);
                } else if (i == 1) {
                    frame =
                        co_await s.async_receive(asio::redirect_error(use_awaitable, redirected));
                } else {
                    auto [ec, f] = co_await s.async_receive(HBT_AS_TUPLE(use_awaitable));
                    frame = ec ? "error: " + ec.message() : f;
                }
                overtaken.push_back(posted_ran);
                posted_ran = false;
                asio::post(ioc, [&posted_ran] { posted_ran = true; });
                if (i == 2) {
                    auto [ec] = co_await s.async_send("echo " + frame, HBT_AS_TUPLE(use_awaitable));
                    CHECK(ec == error_code());
                } else {
                    co_await s.async_send("echo " + frame, use_awaitable);
                }
                overtaken.push_back(posted_ran);
                got.push_back(std::move(frame));
                // Let the posted handler run before its flag goes out of scope.
                co_await asio::post(ioc, use_awaitable);
            }
            done = true;
        },
        asio::detached);
    REQUIRE(run_until(ioc, [&] { return done || run.done(); }));
    CHECK(got == std::vector<std::string>{"one", "two", "three"});
    CHECK(overtaken == std::vector<bool>(6, false));
    CHECK(redirected == error_code()); // cleared, as a completion with success would
    REQUIRE(run_until(
        ioc, [&] { return peer.received() == "echo one\necho two\necho three\n" || run.done(); }));
    CHECK(peer.received() == "echo one\necho two\necho three\n");
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

// What is not decided at once goes the ordinary way: a completion already waiting in the
// session's queue runs first (frames keep their order across receivers), refusals reach the
// coroutine as errors, and a receive with nothing held waits for the next frame.
TEST_CASE("a coroutine's operation waits its turn behind a completion already queued",
          "[tokens][coroutines]") {
    using asio::use_awaitable;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = quiet_options();
    o.max_frame_size = 64;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    bool want_e = false;
    peer.write("a\nb\nc\nd\n").wait_until([&] { return want_e; }).write("e\n").start();
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return s.statistics().frames_received == 4u || run.done(); }));

    std::vector<std::string> order;
    error_code too_large, invalid;
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // Decided at once with "a" but queued: it runs before the coroutine may go on.
            s.async_receive([&](error_code ec, std::string f) {
                order.push_back("callback " + f + (ec ? " " + ec.message() : ""));
            });
            order.push_back("coroutine " + co_await s.async_receive(use_awaitable));
            // Made while "c" is held and nothing is queued, awaited once a completion is: it
            // still waits its turn.
            auto later = s.async_receive(use_awaitable);
            s.async_receive([&](error_code ec, std::string f) {
                order.push_back("callback " + f + (ec ? " " + ec.message() : ""));
            });
            order.push_back("coroutine " + co_await std::move(later));
            // The same for a send behind a queued send completion.
            s.async_send("first", [&](error_code) { order.push_back("first sent"); });
            co_await s.async_send("second", use_awaitable);
            order.push_back("second sent");
            co_await s.async_send(std::string(65, 'x'),
                                  asio::redirect_error(use_awaitable, too_large));
            try {
                co_await s.async_send("PING", use_awaitable);
            } catch (const system_error& e) {
                invalid = e.code();
            }
            // Nothing held: this one waits for the peer.
            want_e = true;
            order.push_back("coroutine " + co_await s.async_receive(use_awaitable));
            done = true;
        },
        asio::detached);
    REQUIRE(run_until(ioc, [&] { return done || run.done(); }));
    CHECK(order == std::vector<std::string>{"callback a", "coroutine b", "callback c",
                                            "coroutine d", "first sent", "second sent",
                                            "coroutine e"});
    CHECK(too_large == heartbeat::error::frame_too_large);
    CHECK(invalid == heartbeat::error::invalid_frame);
    REQUIRE(run_until(ioc, [&] { return peer.received() == "first\nsecond\n" || run.done(); }));
    CHECK(peer.received() == "first\nsecond\n");
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("a coroutine's receive with a timeout cancels cleanly and the session continues",
          "[tokens][coroutines][cancellation]") {
    using namespace asio::experimental::awaitable_operators;
    using asio::use_awaitable;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), test_options());
    raw_peer peer(std::move(pair.b));
    peer.repeat("PING\n", 20ms, 6).write("late\n").start();
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    int timeouts = 0;
    std::string got;
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timer(ioc);
            timer.expires_after(30ms);
            auto first =
                co_await (s.async_receive(use_awaitable) || timer.async_wait(use_awaitable));
            if (first.index() == 1)
                ++timeouts;
            got = co_await s.async_receive(use_awaitable);
            done = true;
        },
        asio::detached);
    REQUIRE(run_until(ioc, [&] { return done || run.done(); }));
    CHECK(timeouts == 1);
    CHECK(got == "late");
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

#endif // HBT_HAS_CO_AWAIT

// The initiation objects name the session's executor, so tokens that need it before the
// operation starts work on every operation.
namespace {
template <class Initiation>
using initiation_executor = typename Initiation::executor_type;
struct initiation_probe {};
} // namespace

template <class Signature>
struct asio::async_result<initiation_probe, Signature> {
    template <class Initiation, class... Args>
    static bool initiate(Initiation&& initiation, initiation_probe, Args&&...) {
        using executor = initiation_executor<std::decay_t<Initiation>>;
        static_assert(std::is_same_v<executor, line_session::executor_type>);
        return initiation.get_executor() == executor(initiation.get_executor());
    }
};

TEST_CASE("every initiation object names the session's executor", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    CHECK(s.async_run(initiation_probe{}));
    CHECK(s.async_receive(initiation_probe{}));
    CHECK(s.async_send("x", initiation_probe{}));
    CHECK(s.async_flush(initiation_probe{}));
}

#if defined(HBT_HAS_CANCEL_AFTER)
TEST_CASE("cancel_after and cancel_at bound an operation: the session runs on", "[tokens]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session a(std::move(pair.a), quiet_options());
    line_session b(std::move(pair.b), quiet_options());
    outcome run_a, run_b, sent, flushed;
    frame_outcome timed_out, got;
    a.async_run(run_a.handler());
    b.async_run(run_b.handler());
    const auto t0 = clock::now();
    b.async_receive(asio::cancel_after(50ms, timed_out.handler()));
    REQUIRE(run_until(ioc, [&] { return timed_out.done(); }));
    CHECK(timed_out.ec() == asio::error::operation_aborted);
    CHECK(ms_between(t0, timed_out.when()) >= not_before(50ms));
    CHECK_FALSE(run_b.done());
    a.async_send("after", asio::cancel_at(clock::now() + 5s, sent.handler()));
    a.async_flush(asio::cancel_after(5s, flushed.handler()));
    b.async_receive(asio::cancel_after(5s, got.handler()));
    REQUIRE(run_until(ioc, [&] { return sent.done() && flushed.done() && got.done(); }));
    CHECK(sent.ec() == error_code());
    CHECK(flushed.ec() == error_code());
    CHECK(got.frame() == "after");
    a.close();
    b.close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_b.ec() == asio::error::operation_aborted);

    // The run honours the terminal cancellation cancel_after emits: the session ends.
    auto pair2 = tcp_pair(ioc);
    line_session c(std::move(pair2.a), quiet_options());
    raw_peer peer(std::move(pair2.b));
    outcome run_c;
    const auto t1 = clock::now();
    c.async_run(asio::cancel_after(30ms, run_c.handler()));
    REQUIRE(run_until(ioc, [&] { return run_c.done(); }));
    CHECK(run_c.ec() == asio::error::operation_aborted);
    CHECK(ms_between(t1, run_c.when()) >= not_before(30ms));
}

#endif
