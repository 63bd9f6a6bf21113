// heartbeat::options: the three clocks (ping_interval, read_timeout, idle_timeout), the write
// watchdog and the memory bounds of a session.
#ifndef HEARTBEAT_OPTIONS_HPP
#define HEARTBEAT_OPTIONS_HPP

#include <heartbeat/detail/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

HEARTBEAT_NAMESPACE_BEGIN

/// What is wrong with a setting: the field and why, as static strings. False when nothing is.
struct invalid_setting {
    const char* field = nullptr;
    const char* reason = nullptr;
    explicit operator bool() const noexcept { return field != nullptr; }
};

namespace detail {
/// validate()'s failure: std::invalid_argument("<prefix><field>: <reason>"). Built without
/// exceptions, it writes that to stderr and aborts instead (call first_invalid() first).
[[noreturn]] inline void refuse(const char* prefix, invalid_setting bad) {
#if HEARTBEAT_HAS_EXCEPTIONS
    throw std::invalid_argument(std::string(prefix) + bad.field + ": " + bad.reason);
#else
    std::fprintf(stderr, "%s%s: %s\n", prefix, bad.field, bad.reason);
    std::abort();
#endif
}
} // namespace detail

struct options {
    using duration = std::chrono::milliseconds;

    /// How often to PING when we wrote nothing else; zero never pings. Counts our writes, since
    /// any write satisfies the peer's deadline. Jittered up to 5 % downwards; the first PING
    /// comes after a random 50-100 % of it, so sessions started together spread out. Timer
    /// wake-ups are rounded up to a tick of 1/64 of the shortest clock (1-16 ms), so PINGs and
    /// verdicts may come up to one tick late.
    duration ping_interval = std::chrono::seconds(20);
    /// Peer liveness: the session ends with `error::timeout` when no byte arrived for this long.
    /// Zero disables it. Must exceed `ping_interval` when both are set.
    duration read_timeout = std::chrono::seconds(30);
    /// Application idleness: `error::idle_timeout` when no complete data frame arrived for this
    /// long; heartbeats do not count. Zero (the default) disables it.
    duration idle_timeout = duration::zero();
    /// A write that makes no progress for this long ends the session with `error::write_timeout`.
    /// Zero disables it.
    duration write_timeout = std::chrono::seconds(10);
    /// How long the end of a session may wait for a goodbye. On a stream with a protocol-level
    /// shutdown (`async_shutdown`, as `ssl::stream` has): for that exchange (TLS close_notify)
    /// before closing the socket anyway; only when the peer is believed alive: after close(),
    /// cancellation or destruction of the session, the peer's own shutdown, idle_timeout,
    /// protocol, invalid_frame, frame_too_large or ping_flood; never after timeout,
    /// write_timeout or an error of the stream. On other streams, after the peer's EOF (a
    /// half-close): for the application to take the EOF (its async_receive completing with eof,
    /// or close()) while replies may still be sent; see async_run. Zero closes at once.
    duration shutdown_timeout = std::chrono::seconds(1);

    /// Largest payload accepted or sent.
    std::size_t max_frame_size = std::size_t{64} * 1024;
    /// Bytes of data frames queued for writing before `async_send` or `try_send` fails with
    /// `send_queue_full`: payloads and framing bytes, plus 64 per buffer of its own (an
    /// async_send frame that waits or keeps its storage, or a buffer try_send frames share).
    std::size_t send_queue_limit = std::size_t{1024} * 1024;
    /// `async_send` completes as soon as its frame is queued while the send queue holds fewer
    /// than this many bytes (counted as for send_queue_limit) and no earlier async_send or
    /// async_flush waits; otherwise it completes once its frame is written. So a sender that
    /// awaits each send runs ahead of the socket by at most this much (plus one frame), and one
    /// whose peer stops reading waits, until write_timeout ends the session. Zero: every
    /// async_send completes once written. send_queue_limit still refuses what exceeds it.
    std::size_t send_high_water_mark = std::size_t{64} * 1024;
    /// Bytes of received frames held while no `async_receive` waits (payloads plus
    /// sizeof(std::string) each); at the bound the session stops reading the stream, so TCP
    /// pushes back on the peer.
    std::size_t receive_queue_limit = std::size_t{1024} * 1024;

    /// Reply PONG to the peer's PINGs. PONGs are coalesced: at most one is queued at a time.
    bool answer_pings = true;
    /// When non-zero, this many PINGs in a row without a PONG end the session with
    /// `error::unanswered_pings`. Zero does not require PONGs (the peer may not answer them).
    std::size_t max_unanswered_pings = 0;
    /// RTT-adaptive deadline, off when zero. When set, the read deadline tightens to
    /// max(floor, G + 4 x (smoothed RTT + 4 x RTT variance)), G being the longest gap between
    /// the peer's bytes over the last read_timeout, and never exceeds read_timeout. It detects a
    /// dead peer in about one of its intervals plus a few round trips. Use it where round trips
    /// are stable (LAN, data centre); leave it off where latency comes in bursts (mobile, satellite
    /// links) or the peer's traffic is irregular. Needs read_timeout.
    duration adaptive_read_timeout_floor = duration::zero();
    /// When non-zero, a peer whose PINGs come closer together than this more than three times
    /// in a row ends the session with `error::ping_flood` (gRPC's too_many_pings). Zero accepts
    /// any rate; PONGs stay coalesced either way.
    duration min_peer_ping_interval = duration::zero();

    /// The first field with a bad value, and why; false when the options are valid. Never
    /// throws: check with it where exceptions are off, or to report bad settings yourself.
    invalid_setting first_invalid() const noexcept {
        const auto bad = [](const char* field, const char* why) {
            return invalid_setting{field, why};
        };
        if (ping_interval < duration::zero())
            return bad("ping_interval", "must not be negative");
        if (read_timeout < duration::zero())
            return bad("read_timeout", "must not be negative");
        if (idle_timeout < duration::zero())
            return bad("idle_timeout", "must not be negative");
        if (write_timeout < duration::zero())
            return bad("write_timeout", "must not be negative");
        if (shutdown_timeout < duration::zero())
            return bad("shutdown_timeout", "must not be negative");
        if (min_peer_ping_interval < duration::zero())
            return bad("min_peer_ping_interval", "must not be negative");
        if (adaptive_read_timeout_floor < duration::zero())
            return bad("adaptive_read_timeout_floor", "must not be negative");
        if (adaptive_read_timeout_floor > duration::zero() &&
            (read_timeout == duration::zero() || adaptive_read_timeout_floor > read_timeout))
            return bad("adaptive_read_timeout_floor", "needs read_timeout, and must not exceed it");
        if (ping_interval > duration::zero() && read_timeout > duration::zero() &&
            read_timeout <= ping_interval)
            return bad("read_timeout", "must exceed ping_interval, or the peer is declared dead "
                                       "between two of its own pings");
        if (max_frame_size == 0)
            return bad("max_frame_size", "must be positive");
        if (max_frame_size > 0x7fffffffu)
            return bad("max_frame_size", "must be below 2 GiB");
        if (send_queue_limit < max_frame_size)
            return bad("send_queue_limit", "must be at least max_frame_size");
        if (receive_queue_limit < max_frame_size)
            return bad("receive_queue_limit", "must be at least max_frame_size");
        return {};
    }

    /// Throws `std::invalid_argument` naming first_invalid()'s field and why. Built without
    /// exceptions (-fno-exceptions), it writes that to stderr and calls std::abort() instead.
    void validate() const {
        if (const invalid_setting bad = first_invalid())
            detail::refuse("heartbeat::options::", bad);
    }
};

HEARTBEAT_NAMESPACE_END

#endif
