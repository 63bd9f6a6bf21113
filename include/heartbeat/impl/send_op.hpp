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
void session_state<Stream, Framing, Clock>::start_send(std::string payload, Handler&& handler) {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, send_data<Framing>, error_code>;
    auto* node = node_type::create(std::forward<Handler>(handler), get_executor());
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
    auto& d = node->data;
    d.header_size =
        static_cast<std::uint8_t>(framing_.encode_header(payload.size(), d.header.data()));
    d.trailer_size = static_cast<std::uint8_t>(framing_.encode_trailer(d.trailer.data()));
    HEARTBEAT_ASSERT(d.header_size <= Framing::max_header_size &&
                         d.trailer_size <= Framing::max_trailer_size,
                     "the Framing wrote more than its max_header_size or max_trailer_size");
    d.payload = std::move(payload);
    // An empty queue always takes one frame (bounded by max_frame_size), so the limit never
    // has to leave room for framing bytes and bookkeeping.
    if (!send_queue_.empty() && send_queue_cost_ + d.cost() > opts_.send_queue_limit) {
        complete(node, error::send_queue_full);
        return;
    }
    send_queue_cost_ += d.cost();
    send_queue_.push_back(node);
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
    std::array<char, Framing::max_header_size + 1> header;
    std::array<char, Framing::max_trailer_size + 1> trailer;
    const std::size_t header_size = framing_.encode_header(size, header.data());
    const std::size_t trailer_size = framing_.encode_trailer(trailer.data());
    const std::size_t bytes = header_size + size + trailer_size;

    // Consecutive frames share one node and one contiguous buffer until it is written: one
    // iovec for many frames, and no allocation per frame once the buffer has grown.
    constexpr std::size_t shared_bytes = std::size_t{64} * 1024;
    send_node* node = send_queue_.back();
    const bool join = node && node->data.detached && !node->data.writing &&
                      node->data.payload.size() + bytes <= shared_bytes;
    const std::size_t cost = join ? bytes : bytes + send_data<Framing>().cost();
    if (!send_queue_.empty() && send_queue_cost_ + cost > opts_.send_queue_limit)
        return error::send_queue_full;
    if (join) {
        ++node->data.frames;
    } else {
        node = detached_completion<send_data<Framing>, error_code>::create(*cache_);
        node->data.detached = true;
        node->data.payload = cache_->take_payload();
        node->data.payload.reserve(bytes);
        send_queue_.push_back(node);
    }
    // One out-of-line call per frame: the framing bytes are few (none, or one '\n').
    std::string& buffer = node->data.payload;
    if (header_size)
        buffer.append(header.data(), header_size);
    buffer.append(payload, size);
    for (std::size_t i = 0; i < trailer_size; ++i)
        buffer.push_back(trailer[i]);
    send_queue_cost_ += cost;
    start_write();
    return {};
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_send(void* self, send_node* node,
                                                        net::cancellation_type) {
    // Once its bytes are part of a write, pulling the frame out would corrupt the stream.
    if (node->data.writing)
        return;
    auto* s = static_cast<session_state*>(self);
    s->send_queue_.erase(node);
    s->send_queue_cost_ -= node->data.cost();
    s->complete(node, net::error::operation_aborted);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
