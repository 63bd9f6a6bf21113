// Reconnect backoff: exponential, capped, with full jitter. The n-th wait in a row (n = 0, 1, ...)
// is drawn uniformly from [0, min(cap, initial x multiplier^n)] ("full jitter": clients that lost
// their server together come back spread over the whole window, not in waves). Pure logic, tested
// without a clock (tests/test_reconnect.cpp).
#ifndef HEARTBEAT_DETAIL_BACKOFF_HPP
#define HEARTBEAT_DETAIL_BACKOFF_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class backoff {
public:
    using duration = std::chrono::milliseconds;

    /// `seed` 0 picks the fixed default seed; callers that want a different sequence per client
    /// pass their own (reconnecting_client mixes its address and the time into it).
    backoff(duration initial, double multiplier, duration cap, bool jitter,
            std::uint64_t seed) noexcept
        : initial_(initial)
        , multiplier_(multiplier)
        , cap_(cap)
        , jitter_(jitter)
        , state_(seed ? seed : 0x9e3779b97f4a7c15ull) {}

    /// The upper bound of the n-th wait: min(cap, initial x multiplier^n). Never overflows:
    /// the product is taken in floating point and compared with the cap first.
    duration ceiling(std::size_t n) const noexcept {
        const double bound =
            static_cast<double>(initial_.count()) * std::pow(multiplier_, static_cast<double>(n));
        if (!(bound < static_cast<double>(cap_.count()))) // also catches inf and NaN
            return cap_;
        return duration(static_cast<duration::rep>(bound));
    }

    /// The n-th wait: uniform in [0, ceiling(n)] with jitter, ceiling(n) without.
    duration delay(std::size_t n) noexcept {
        const duration bound = ceiling(n);
        if (!jitter_ || bound.count() <= 0)
            return bound;
        return duration(
            static_cast<duration::rep>(next() % (static_cast<std::uint64_t>(bound.count()) + 1)));
    }

private:
    std::uint64_t next() noexcept { // xorshift64*, as detail::jitter
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }

    duration initial_;
    double multiplier_;
    duration cap_;
    bool jitter_;
    std::uint64_t state_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
