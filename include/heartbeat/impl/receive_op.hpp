// async_receive: the next data frame, from the queue when one is held, else when one arrives.
#ifndef HEARTBEAT_IMPL_RECEIVE_OP_HPP
#define HEARTBEAT_IMPL_RECEIVE_OP_HPP

#include <heartbeat/detail/session_state.hpp>

namespace heartbeat::detail {

template <class Stream, class Framing>
template <class Handler>
void session_state<Stream, Framing>::start_receive(Handler&& handler) {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, no_data, error_code, std::string>;
    auto* node = node_type::create(std::forward<Handler>(handler), get_executor());
    if (!received_.empty()) {
        std::string frame = received_.pop();
        received_cost_ -= frame.size() + sizeof(std::string);
        node->complete(error_code(), std::move(frame));
        resume_reading();
        return;
    }
    if (phase_ == phase::stopping || phase_ == phase::stopped) {
        node->complete(reason_, std::string());
        return;
    }
    receivers_.push_back(node);
    node->on_cancel(&session_state::cancel_receive, this);
}

template <class Stream, class Framing>
void session_state<Stream, Framing>::cancel_receive(void* self, receive_node* node,
                                                    net::cancellation_type) {
    // Nothing was consumed for a waiting receive, so every cancellation type is honoured.
    static_cast<session_state*>(self)->receivers_.erase(node);
    node->complete(net::error::operation_aborted, std::string());
}

} // namespace heartbeat::detail

#endif
