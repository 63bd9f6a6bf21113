// async_send: validates and frames the payload and queues it behind what is already queued. Below
// the high-water mark it is accepted at once (copied into try_send's shared buffer when small and
// behind unsent frames, else kept in a node of its own; see accept()) and the sender completes
// through the completion queue: no write per frame, so a receive-then-send loop pipelines. Above
// it, the sender waits for the write. async_flush: completes once everything queued before it is
// written. try_send: a frame with no completion; consecutive frames share one buffer.
#ifndef HEARTBEAT_IMPL_SEND_OP_HPP
#define HEARTBEAT_IMPL_SEND_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_send(std::string&& payload, Handler&& handler) {
    send_node* node = new_send_completion(std::forward<Handler>(handler));
    if (error_code ec = refusal(payload.data(), payload.size())) {
        complete(node, ec);
        return;
    }
    if (writer_.accepts_at_once(opts_.send_high_water_mark)) {
        if (!accept(std::move(payload))) {
            complete(node, error::send_queue_full);
            return;
        }
        complete_in_place(node); // success, as made; in order, after the sending handler
        start_write();
        return;
    }
    if (!writer_.push(framing_, node, std::move(payload))) {
        complete(node, error::send_queue_full);
        return;
    }
    node->on_cancel(&session_state::cancel_send, this);
    start_write();
}

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::send_at_once(std::string& payload) {
    if (!ready_.empty() || !writer_.accepts_at_once(opts_.send_high_water_mark) ||
        refusal(payload.data(), payload.size()))
        return false;
    if (!accept(std::move(payload)))
        return false;
    start_write();
    return true;
}

/// Queues an accepted async_send frame that nobody waits for. A small one queued behind frames
/// not yet being written is copied into the shared buffer try_send uses (one iovec for many
/// frames, no node per frame); any other keeps its own storage in a node of its own, which
/// costs no copy. So a lone reply (request-response) costs its node, and a burst of echoes a
/// node for its first frame and one shared buffer for the rest. False: the queue is full, and
/// `payload` is as it was.
template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::accept(std::string&& payload) {
    if (payload.size() <= copied_frame_size && writer_.has_unsent())
        return append_frame(payload.data(), payload.size());
    auto* node = detached_completion<send_data<Framing>, error_code>::create(*cache_);
    node->data.detached = true;
    if (!writer_.push(framing_, node, std::move(payload))) {
        payload = std::move(node->data.payload);
        node->destroy(*cache_);
        return false;
    }
    return true;
}

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_flush(Handler&& handler) {
    send_node* node = new_send_completion(std::forward<Handler>(handler));
    if (ended()) {
        complete(node, reason_);
        return;
    }
    writer_.push_flush(node);
    node->on_cancel(&session_state::cancel_send, this);
    retire_flushes(); // nothing queued before it, no write in flight: done (never inline)
}

/// Flushes first in the queue with no write in flight: what was queued before them is written.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::retire_flushes() {
    writer_.retire_flushes([this](send_node* node) { complete_in_place(node); }); // success
}

template <class Stream, class Framing, class Clock>
template <class Handler>
auto session_state<Stream, Framing, Clock>::new_send_completion(Handler&& handler) -> send_node* {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, send_data<Framing>, error_code>;
    return node_type::create(std::forward<Handler>(handler), io_executor(), *cache_, false,
                             run_keeps_work());
}

template <class Stream, class Framing, class Clock>
error_code session_state<Stream, Framing, Clock>::try_send(const char* payload, std::size_t size) {
    if (error_code ec = refusal(payload, size))
        return ec;
    const bool queued = writer_.append(
        framing_, payload, size, [this](std::size_t bytes) { return new_shared_buffer(bytes); });
    if (!queued)
        return error::send_queue_full;
    start_write();
    return {};
}

/// Why a frame is refused whatever room the queue has: the session's end reason once it ended,
/// frame_too_large, or the framing's verdict (invalid_frame). Success: it may be queued.
template <class Stream, class Framing, class Clock>
error_code session_state<Stream, Framing, Clock>::refusal(const char* payload, std::size_t size) {
    if (ended())
        return reason_;
    if (size > opts_.max_frame_size)
        return error::frame_too_large;
    return framing_.validate(payload, size);
}

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::append_frame(const char* payload, std::size_t size) {
    return writer_.append(framing_, payload, size,
                          [this](std::size_t bytes) { return new_shared_buffer(bytes); });
}

template <class Stream, class Framing, class Clock>
auto session_state<Stream, Framing, Clock>::new_shared_buffer(std::size_t bytes) -> send_node* {
    std::string buffer = cache_->take_payload(); // a written buffer's capacity, again
    buffer.reserve(bytes);
    auto* node = detached_completion<send_data<Framing>, error_code>::create(*cache_);
    node->data.payload = std::move(buffer);
    return node;
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_send(void* self, send_node* node,
                                                        net::cancellation_type) {
    auto* s = static_cast<session_state*>(self);
    if (s->writer_.cancel(node)) { // too late once part of a write (a flush never is)
        s->complete(node, net::error::operation_aborted);
        s->retire_flushes(); // a flush behind it may now be first
    }
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
