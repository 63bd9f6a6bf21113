// Half-close: the peer shut down its sending side (EOF) but may still read. A request-response
// client does this after its last request (HTTP/1.0 style, `nc -N`), so the session must not
// close at once: replies to frames already received are still to come. After the EOF the reader
// stops for good, no PING is sent (nothing could answer it) and the read deadlines no longer
// apply. Frames already received are still delivered; the session ends with eof once
//   - the application knows of the EOF: an async_receive completed with eof, it called close(),
//     or it never called async_receive at all (it cannot be replying to anything), and
//   - nothing is left to write.
// Bounded: options::shutdown_timeout for an application that never reacts (zero: end at once,
// as the EOF arrives), write_timeout for a peer that stops reading our replies.
//
// Streams with a protocol-level shutdown (TLS) end at the EOF as before: after the peer's
// close_notify there is nothing to write on.
#ifndef HEARTBEAT_IMPL_HALF_CLOSE_HPP
#define HEARTBEAT_IMPL_HALF_CLOSE_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::read_failed(error_code ec) {
    if constexpr (!has_async_shutdown<Stream>::value) {
        if (ec == net::error::eof && opts_.shutdown_timeout.count() > 0) {
            peer_finished();
            return;
        }
    }
    stop(ec);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::peer_finished() {
    peer_finished_ = true;
    clocks_.peer_finished(clock::now());
    reader_.release_buffer(); // the start of a frame that can never complete
    if (!receive_started_)
        eof_taken();
    // Waiting receivers have taken every frame there was: they learn of the EOF now.
    while (auto* n = receivers_.pop_front()) {
        eof_taken();
        complete(n, net::error::eof, std::string());
    }
    finish_half_close();
    rearm(); // the read deadlines give way to the half-close bound
}

/// Ends the session once the application knows of the EOF and everything is written.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::finish_half_close() {
    if (live() && peer_finished_ && eof_learned_ && writer_.flushed())
        stop(net::error::eof);
}

/// The application knows of the EOF (liveness stops counting its patience).
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::eof_taken() {
    eof_learned_ = true;
    clocks_.eof_taken();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::close_requested() {
    if (live() && peer_finished_) {
        eof_taken();
        finish_half_close();
        return;
    }
    stop(net::error::operation_aborted);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
