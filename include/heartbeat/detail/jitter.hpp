// Ping jitter: thousands of sessions started together must not ping in lockstep. Jitter only
// shortens the interval, so the peer's deadline is never put at risk by it.
#ifndef HEARTBEAT_DETAIL_JITTER_HPP
#define HEARTBEAT_DETAIL_JITTER_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class jitter {
public:
    explicit jitter(std::uint64_t seed) noexcept
        : state_(seed ? seed : 0x9e3779b97f4a7c15ull) {}

    /// A duration drawn uniformly from [d * (1 - spread), d], spread in per mille.
    template <class Duration>
    Duration shorten(Duration d, unsigned spread_per_mille) noexcept {
        const auto span = d.count() * static_cast<std::int64_t>(spread_per_mille) / 1000;
        if (span <= 0)
            return d;
        return d -
               Duration(static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(span + 1)));
    }

private:
    std::uint64_t next() noexcept { // xorshift64*
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }

    std::uint64_t state_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
