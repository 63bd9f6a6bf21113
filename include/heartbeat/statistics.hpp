// heartbeat::statistics: a snapshot of a session's counters and round-trip times.
#ifndef HEARTBEAT_STATISTICS_HPP
#define HEARTBEAT_STATISTICS_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN

struct statistics {
    using duration = std::chrono::steady_clock::duration;

    std::uint64_t pings_sent = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t pings_received = 0;
    std::uint64_t pongs_sent = 0;
    /// Application (data) frames and their payload bytes; heartbeats are counted above.
    std::uint64_t frames_received = 0;
    std::uint64_t frames_sent = 0;
    /// Every byte read from / written to the stream, framing and heartbeats included.
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    /// Round trip of the latest PING answered by a PONG; zero until one was.
    duration last_rtt = duration::zero();
    /// RFC 6298 style smoothed round trip and its variance; zero until a PONG arrived.
    duration smoothed_rtt = duration::zero();
    duration rtt_variance = duration::zero();
    /// Times the session's timer woke far later than scheduled (a blocked event loop) and gave
    /// the peer a fresh deadline instead of declaring it dead.
    std::uint64_t stalls = 0;
    /// Whether the peer is suspect now (see heartbeat::health).
    bool suspect = false;
    /// Time since the last byte arrived (since the session started when none did, or since a
    /// paused reader resumed: the peer is not blamed for our pause).
    duration since_last_receive = duration::zero();
};

HEARTBEAT_NAMESPACE_END

#endif
