// async_send: validates and frames the payload, queues it behind what is already queued, and
// completes once the frame is written (or the session ends first). try_send: the same without
// a completion; consecutive frames share one buffer.
#ifndef HEARTBEAT_IMPL_SEND_OP_HPP
#define HEARTBEAT_IMPL_SEND_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_send(std::string&& payload, Handler&& handler) {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, send_data<Framing>, error_code>;
    auto* node = node_type::create(std::forward<Handler>(handler), io_executor(), *cache_, false,
                                   run_keeps_work());
    if (phase_ == phase::stopping || phase_ == phase::stopped) {
        complete(node, reason_);
        return;
    }
    if (payload.size() > opts_.max_frame_size) {
        complete(node, error::frame_too_large);
        return;
    }
    if (error_code ec = framing_.validate(payload.data(), payload.size())) {
        complete(node, ec);
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
error_code session_state<Stream, Framing, Clock>::try_send(const char* payload, std::size_t size) {
    if (phase_ == phase::stopping || phase_ == phase::stopped)
        return reason_;
    if (size > opts_.max_frame_size)
        return error::frame_too_large;
    if (error_code ec = framing_.validate(payload, size))
        return ec;
    const bool queued = writer_.append(framing_, payload, size, [this](std::size_t bytes) {
        std::string buffer = cache_->take_payload(); // a written buffer's capacity, again
        buffer.reserve(bytes);
        auto* node = detached_completion<send_data<Framing>, error_code>::create(*cache_);
        node->data.payload = std::move(buffer);
        return node;
    });
    if (!queued)
        return error::send_queue_full;
    start_write();
    return {};
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_send(void* self, send_node* node,
                                                        net::cancellation_type) {
    auto* s = static_cast<session_state*>(self);
    if (s->writer_.cancel(node)) // too late once part of a write
        s->complete(node, net::error::operation_aborted);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
