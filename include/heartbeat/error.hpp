// heartbeat::error: why a session ended, or why an operation was refused.
#ifndef HEARTBEAT_ERROR_HPP
#define HEARTBEAT_ERROR_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/never_destroyed.hpp>

#include <string>
#include <system_error>

HEARTBEAT_NAMESPACE_BEGIN

enum class error {
    /// The peer sent nothing for `read_timeout`.
    timeout = 1,
    /// No complete application frame arrived for `idle_timeout` (heartbeats do not count).
    idle_timeout,
    /// A write made no progress for `write_timeout`: the peer stopped reading.
    write_timeout,
    /// A frame (received or sent) is larger than `max_frame_size`.
    frame_too_large,
    /// `async_send` would take the queued bytes past `send_queue_limit`; the session continues.
    send_queue_full,
    /// The peer sent bytes that the framing cannot decode.
    protocol,
    /// `async_send` was given a payload the framing cannot carry (e.g. a newline in a line frame).
    invalid_frame,
    /// `async_run` was called again on a session that is running or ran (a session runs once).
    already_running,
    /// The peer sent PINGs faster than `min_peer_ping_interval`, repeatedly.
    ping_flood,
    /// `max_unanswered_pings` PINGs in a row went without a PONG, although the peer may have
    /// sent other bytes: it talks, but does not read (or does not answer).
    unanswered_pings,
    /// reconnecting_client: a frame sent while no session is up would take the reconnect queue
    /// past `reconnect_options::queue_limit`; the client continues.
    reconnect_queue_full,
    /// reconnecting_client: `reconnect_options::max_attempts` connection attempts in a row
    /// failed, and the client stopped trying.
    gave_up,
};

namespace detail {

class error_category_impl final : public error_category_base {
public:
    const char* name() const noexcept override { return "heartbeat"; }

    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::timeout:
            return "peer timed out: nothing received within the read timeout";
        case error::idle_timeout:
            return "peer idle: no application frame received within the idle timeout";
        case error::write_timeout:
            return "write timed out: the peer stopped reading";
        case error::frame_too_large:
            return "frame larger than max_frame_size";
        case error::send_queue_full:
            return "send queue full";
        case error::protocol:
            return "protocol error: malformed frame";
        case error::invalid_frame:
            return "frame cannot be encoded by this framing";
        case error::already_running:
            return "session already running or ran: a session runs once";
        case error::ping_flood:
            return "peer pings too often";
        case error::unanswered_pings:
            return "peer timed out: max_unanswered_pings PINGs in a row went unanswered";
        case error::reconnect_queue_full:
            return "reconnect queue full: too much sent while disconnected";
        case error::gave_up:
            return "gave up reconnecting: max_attempts connection attempts in a row failed";
        }
        return "unknown heartbeat error";
    }
};

} // namespace detail

/// The category of `heartbeat::error` codes. Never destroyed: an error_code may be read during
/// exit, e.g. by a static io_context that is destroyed then.
inline const detail::error_category_base& error_category() noexcept {
    return detail::never_destroyed<detail::error_category_impl>();
}

inline error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

HEARTBEAT_NAMESPACE_END

#if defined(HEARTBEAT_USE_BOOST_ASIO)
namespace boost::system {
template <>
struct is_error_code_enum<heartbeat::error> : std::true_type {};
} // namespace boost::system
#else
namespace std {
template <>
struct is_error_code_enum<heartbeat::error> : true_type {};
} // namespace std
#endif

#endif
