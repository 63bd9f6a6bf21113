// The goodbye of a stream that has one (ssl::stream's async_shutdown: the TLS close_notify
// exchange), bounded by options::shutdown_timeout. A TLS shutdown waits for the peer's answer, so
// it is only tried when the peer is believed alive, and the socket is closed when it ends or
// the time is up, whichever comes first.
#ifndef HEARTBEAT_IMPL_SHUTDOWN_OP_HPP
#define HEARTBEAT_IMPL_SHUTDOWN_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::shutdown_gracefully(error_code reason) const noexcept {
    if constexpr (!has_async_shutdown<Stream>::value) {
        (void)reason;
        return false;
    } else {
        if (opts_.shutdown_timeout.count() == 0)
            return false;
        // A dead or stuck peer would never answer; a transport error leaves nothing to say it on.
        return reason == net::error::operation_aborted || reason == net::error::eof ||
               reason == error::idle_timeout || reason == error::protocol ||
               reason == error::invalid_frame || reason == error::frame_too_large ||
               reason == error::ping_flood;
    }
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::start_shutdown() {
    if constexpr (has_async_shutdown<Stream>::value) {
        shutting_down_ = true;
        // Re-aiming the timer cancels the sentry's wait, which then sees the session stopping.
        timer_.expires_after(opts_.shutdown_timeout);
        timer_.async_wait(shutdown_timer_handler{ref(this)});
        // A write in flight owns ssl::stream's output buffer: a close_notify put there now
        // would never be sent. The write's completion starts the shutdown instead.
        if (writer_.writing()) {
            shutdown_after_write_ = true;
            return;
        }
        // A read may still be pending: ssl::stream serialises it with the shutdown's own reads,
        // and it ends with eof when the peer's close_notify arrives.
        stream_.async_shutdown(shutdown_handler{ref(this)});
    }
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_shutdown(error_code) {
    // Success or not, the goodbye is over; closing ends whatever is still pending.
    shutting_down_ = false;
    timer_.cancel();
    close_stream(stream_);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_shutdown_timer(error_code ec) {
    if (ec || !shutting_down_)
        return;
    // The peer did not answer in time: closing aborts the shutdown, whose handler runs next.
    close_stream(stream_);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
