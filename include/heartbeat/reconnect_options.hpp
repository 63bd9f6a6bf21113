// heartbeat::reconnect_options and heartbeat::reconnect_event: how a reconnecting_client backs
// off, when it gives up, how much it queues while disconnected, and whether it connects ahead of
// a failure (make-before-break); and what it tells the application about each step.
#ifndef HEARTBEAT_RECONNECT_OPTIONS_HPP
#define HEARTBEAT_RECONNECT_OPTIONS_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/options.hpp> // invalid_setting, detail::refuse

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN

struct reconnect_options {
    using duration = std::chrono::milliseconds;
    /// The longest max_backoff and connect_timeout: a year. Longer (milliseconds::max() among
    /// them) would overflow the clock's duration when a timer is set, so it is refused.
    static constexpr duration max_duration = std::chrono::hours(24 * 365);

    /// Backoff: the n-th wait in a row (n = 0, 1, 2, ...) before an attempt is drawn uniformly
    /// from [0, min(max_backoff, initial_backoff x backoff_multiplier^n)] ("full jitter"). A run
    /// of waits starts when a session ends or the first attempt of async_run fails, and is over
    /// once a session stayed up initial_backoff and heard from its peer (a byte of any frame;
    /// with read_timeout off, uptime alone). Any other session counts as a failed attempt
    /// (towards max_attempts too): one that ends sooner, as behind a balancer that accepts and
    /// closes at once, or whose peer never sent a byte, as behind a frozen server process.
    /// The defaults are gRPC's connection backoff (1 s, x1.6, 120 s), with full jitter in place
    /// of gRPC's +-20 %, so that clients that lost one server together spread over the whole
    /// window.
    duration initial_backoff = std::chrono::seconds(1);
    double backoff_multiplier = 1.6;
    duration max_backoff = std::chrono::seconds(120);
    /// Draw each wait at random (full jitter). False waits the upper bound exactly: for tests,
    /// and for comparing spreads; never in a fleet of clients.
    bool jitter = true;
    /// Seed of the jitter's generator; 0 seeds it from the client's address and the time. Set
    /// it to reproduce a sequence of waits.
    std::uint64_t jitter_seed = 0;
    /// Give up after this many connection attempts in a row failed (a session that was no
    /// success, see above, counts as a failed attempt): async_run then completes with
    /// error::gave_up. 0 (the default): never give up.
    std::size_t max_attempts = 0;
    /// An attempt that has not completed after this long is cancelled (through the connect
    /// handler's cancellation slot) and counts as failed with net::error::timed_out. 0: no limit.
    duration connect_timeout = std::chrono::seconds(20);
    /// Bytes of frames sent while no session is up (each counted as its payload, its framing
    /// and 64 bytes), held for the next session; a send past it fails with
    /// error::reconnect_queue_full. Never more than the sessions' options::send_queue_limit,
    /// whichever is smaller. 0: nothing is queued, every send while disconnected fails.
    std::size_t queue_limit = std::size_t{1024} * 1024;
    /// Make-before-break: when the current session turns suspect (see health), connect a spare
    /// at once and run a session on it, held ready: if the current session ends, the spare
    /// takes over without a connect; if it recovers, the spare is closed (or kept, below). A
    /// spare that fails (its attempt, or its session while held) is tried again after a wait
    /// drawn like the reconnect's (initial_backoff, x backoff_multiplier, up to max_backoff),
    /// while the current session is still suspect (or with keep_spare).
    bool make_before_break = false;
    /// With make_before_break: keep a ready spare when the current session recovers, so that
    /// the next failure switches at once too. It costs a second connection, heartbeats included.
    bool keep_spare = false;

    /// The first field with a bad value, and why; false when the options are valid. Never
    /// throws.
    invalid_setting first_invalid() const noexcept {
        const auto bad = [](const char* field, const char* why) {
            return invalid_setting{field, why};
        };
        if (initial_backoff <= duration::zero())
            return bad("initial_backoff", "must be positive");
        if (!(backoff_multiplier >= 1.0) || !std::isfinite(backoff_multiplier))
            return bad("backoff_multiplier", "must be at least 1, and finite");
        if (max_backoff < initial_backoff)
            return bad("max_backoff", "must be at least initial_backoff");
        if (max_backoff > max_duration)
            return bad("max_backoff", "must be at most a year (reconnect_options::max_duration)");
        if (connect_timeout < duration::zero())
            return bad("connect_timeout", "must not be negative");
        if (connect_timeout > max_duration)
            return bad("connect_timeout",
                       "must be at most a year (reconnect_options::max_duration)");
        if (keep_spare && !make_before_break)
            return bad("keep_spare", "needs make_before_break");
        return {};
    }

    /// Throws std::invalid_argument naming first_invalid()'s field and why; without exceptions,
    /// writes that to stderr and aborts.
    void validate() const {
        if (const invalid_setting bad = first_invalid())
            detail::refuse("heartbeat::reconnect_options::", bad);
    }
};

/// One step of a reconnecting_client, as its observer hears it.
struct reconnect_event {
    enum class kind : unsigned char {
        connecting,       ///< An attempt starts (`attempt`: its number in the current run, from 1)
        connected,        ///< It connected: a session runs on it
        connect_failed,   ///< It failed (`error`), or timed out (net::error::timed_out)
        disconnected,     ///< The current session ended (`error`: why)
        backing_off,      ///< Waiting `delay` before the next attempt (`attempt`)
        gave_up,          ///< max_attempts failed in a row (`error`: the last failure)
        spare_connecting, ///< make-before-break: the current session is suspect; a spare starts
        spare_ready,      ///< The spare connected; its session runs, held ready
        spare_failed,     ///< The spare's attempt failed, or its session ended while held
        spare_discarded,  ///< The current session recovered: the spare is closed (or abandoned)
        switched,         ///< The current session ended and the spare took over, no connect needed
    };

    kind what = kind::connecting;
    /// The attempt's number in the current run of attempts (1 for the first after a session
    /// ended or at the start), for connecting, connected, connect_failed, backing_off, gave_up
    /// and the spare's events.
    std::size_t attempt = 0;
    /// Why: for connect_failed, disconnected, gave_up, spare_failed and switched (the old
    /// session's end reason).
    error_code error{};
    /// For backing_off: how long the client waits before the attempt.
    std::chrono::milliseconds delay{0};
};

inline const char* to_string(reconnect_event::kind k) noexcept {
    switch (k) {
    case reconnect_event::kind::connecting:
        return "connecting";
    case reconnect_event::kind::connected:
        return "connected";
    case reconnect_event::kind::connect_failed:
        return "connect_failed";
    case reconnect_event::kind::disconnected:
        return "disconnected";
    case reconnect_event::kind::backing_off:
        return "backing_off";
    case reconnect_event::kind::gave_up:
        return "gave_up";
    case reconnect_event::kind::spare_connecting:
        return "spare_connecting";
    case reconnect_event::kind::spare_ready:
        return "spare_ready";
    case reconnect_event::kind::spare_failed:
        return "spare_failed";
    case reconnect_event::kind::spare_discarded:
        return "spare_discarded";
    case reconnect_event::kind::switched:
        return "switched";
    }
    return "unknown";
}

HEARTBEAT_NAMESPACE_END

#endif
