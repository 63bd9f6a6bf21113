// Virtual time for session tests: manual_clock, a clock only the test moves, for
// heartbeat_session<Stream, Framing, manual_clock>, and helpers that move it and run what
// became due.
//
// How a timer on manual_clock fires: Asio's timer queue compares each timer's expiry with
// Clock::now() on every turn of the reactor, and asks wait_traits<Clock>::to_wait_duration how
// long the reactor may sleep. For manual_clock that is always zero, so the reactor never sleeps
// in real time on a virtual duration: advance(d) then io.poll() runs exactly the timers that
// are due at the new now(). Never call io.run() while a manual_clock timer is pending: it
// would spin, since virtual time does not pass by itself.
//
// One process-wide now(): a test sets it (virtual_time_scope) and nothing else moves it.
#ifndef HEARTBEAT_TESTS_VIRTUAL_TIME_HPP
#define HEARTBEAT_TESTS_VIRTUAL_TIME_HPP

#include "net.hpp" // asio:: and hbt::error_code, over standalone Asio or Boost.Asio

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/wait_traits.hpp>
#else
#include <asio/wait_traits.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace hbt {

/// A broken test rig: thrown, or where exceptions are off reported and aborted.
[[noreturn]] inline void test_failure(const char* what) {
#if HEARTBEAT_HAS_EXCEPTIONS
    throw std::logic_error(what);
#else
    std::fprintf(stderr, "test rig: %s\n", what);
    std::abort();
#endif
}

/// A steady clock that stands still until the test moves it. Its time_point is steady_clock's,
/// as heartbeat_session requires of its Clock.
struct manual_clock {
    using duration = std::chrono::steady_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr bool is_steady = true;

    /// Where every test starts: an hour past the epoch (any value works; a round one reads well).
    static constexpr time_point origin() noexcept { return time_point(std::chrono::hours(1)); }

    static time_point now() noexcept { return current(); }
    static void set(time_point t) {
        if (t < current())
            test_failure("manual_clock is steady: it never goes back");
        current() = t;
    }
    static void advance(duration d) { set(current() + d); }
    /// Back to origin(), for the next test (the only way back).
    static void reset() noexcept { current() = origin(); }
    /// Virtual time since origin().
    static duration elapsed() noexcept { return current() - origin(); }

private:
    static time_point& current() noexcept {
        static time_point t = origin();
        return t;
    }
};

/// Puts manual_clock at its origin for one test, and there again afterwards.
struct virtual_time_scope {
    virtual_time_scope() noexcept { manual_clock::reset(); }
    ~virtual_time_scope() { manual_clock::reset(); }
    virtual_time_scope(const virtual_time_scope&) = delete;
    virtual_time_scope& operator=(const virtual_time_scope&) = delete;
};

/// Runs every handler that is ready now, including those that become ready while running them
/// (posted completions, timers already due), without moving the clock. Returns how many ran.
/// Throws when it never quiesces: something keeps rescheduling itself at the same instant (a
/// timer re-armed in the past forever). One handler at a time, since io.poll() itself would
/// never return then.
inline std::size_t run_ready(asio::io_context& io, std::size_t limit = 100000) {
    std::size_t total = 0;
    for (;;) {
        if (io.stopped())
            io.restart();
        if (io.poll_one() == 0)
            return total;
        if (++total > limit)
            test_failure("run_ready: the io_context never quiesces");
    }
}

/// Moves virtual time forward by `d` in steps of at most `step`, running what is due after
/// each step: a timer due at t fires once now() reaches t, at most `step` late.
inline void advance_and_run(asio::io_context& io, manual_clock::duration d,
                            manual_clock::duration step = std::chrono::milliseconds(1)) {
    run_ready(io);
    while (d > manual_clock::duration::zero()) {
        const auto s = std::min(d, step);
        manual_clock::advance(s);
        d -= s;
        run_ready(io);
    }
}

/// Like advance_and_run, but stops as soon as `done()` holds (checked after each step). Returns
/// whether it did, within `limit` of virtual time.
template <class Pred>
bool advance_until(asio::io_context& io, Pred done, manual_clock::duration limit,
                   manual_clock::duration step = std::chrono::milliseconds(1)) {
    run_ready(io);
    const auto end = manual_clock::now() + limit;
    while (!done()) {
        if (manual_clock::now() >= end)
            return false;
        manual_clock::advance(std::min<manual_clock::duration>(step, end - manual_clock::now()));
        run_ready(io);
    }
    return true;
}

} // namespace hbt

// The reactor may never sleep on a virtual duration: it re-checks the timers on every turn.
#if defined(HEARTBEAT_USE_BOOST_ASIO)
namespace boost {
namespace asio {
#else
namespace asio {
#endif
template <>
struct wait_traits<hbt::manual_clock> {
    static hbt::manual_clock::duration to_wait_duration(const hbt::manual_clock::duration&) {
        return hbt::manual_clock::duration::zero();
    }
    static hbt::manual_clock::duration to_wait_duration(const hbt::manual_clock::time_point&) {
        return hbt::manual_clock::duration::zero();
    }
};
#if defined(HEARTBEAT_USE_BOOST_ASIO)
} // namespace asio
} // namespace boost
#else
} // namespace asio
#endif

#endif
