// async_receive: the next data frame, from the queue when one is held, else when one arrives.
// try_receive: the next held frame, at once, unless a receive completion still waits to run.
#ifndef HEARTBEAT_IMPL_RECEIVE_OP_HPP
#define HEARTBEAT_IMPL_RECEIVE_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_receive(Handler&& handler) {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, no_data, error_code, std::string>;
    auto* node = node_type::create(std::forward<Handler>(handler), io_executor(), *cache_, true,
                                   run_keeps_work());
    receive_started_ = true;
    if (take_held(std::get<1>(node->result()))) { // the frame straight into the result
        complete_in_place(node);
        resume_reading();
        return;
    }
    if (ended()) {
        complete(node, reason_, std::string());
        return;
    }
    if (peer_finished_) { // every frame there was has been taken
        eof_taken();
        complete(node, net::error::eof, std::string());
        finish_half_close();
        return;
    }
    receivers_.push_back(node);
    node->on_cancel(&session_state::cancel_receive, this);
}

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::try_receive(std::string& frame) {
    // Frames already handed to receive completions come first.
    if (ready_.receives() > 0 || !take_held(frame))
        return false;
    resume_reading();
    return true;
}

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::receive_at_once(std::string& frame) {
    if (!ready_.empty() || !take_held(frame))
        return false;
    receive_started_ = true;
    resume_reading();
    return true;
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_receive(void* self, receive_node* node,
                                                           net::cancellation_type) {
    // Nothing was consumed for a waiting receive, so every cancellation type is honoured.
    auto* s = static_cast<session_state*>(self);
    s->receivers_.erase(node);
    s->complete(node, net::error::operation_aborted, std::string());
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
