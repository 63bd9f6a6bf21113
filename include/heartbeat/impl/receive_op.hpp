// async_receive: the next data frame, from the queue when one is held, else when one arrives.
#ifndef HEARTBEAT_IMPL_RECEIVE_OP_HPP
#define HEARTBEAT_IMPL_RECEIVE_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// A receive completion that could not run inline, queued on the session's executor. Receive
/// completions must reach their handlers in frame order; while one of these is queued, the
/// reader posts too instead of running a later receive ahead of it.
template <class Stream, class Framing, class Clock>
struct receive_delivery {
    using state_type = session_state<Stream, Framing, Clock>;
    using allocator_type = cached_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }

    op_ref<state_type> self;
    typename state_type::receive_node* node;
    error_code ec;
    std::string frame;

    receive_delivery(state_type* s, typename state_type::receive_node* n, error_code e,
                     std::string f)
        : self(s)
        , node(n)
        , ec(e)
        , frame(std::move(f)) {}
    receive_delivery(receive_delivery&& other) noexcept
        : self(std::move(other.self))
        , node(std::exchange(other.node, nullptr))
        , ec(other.ec)
        , frame(std::move(other.frame)) {}
    receive_delivery(const receive_delivery&) = delete;
    receive_delivery& operator=(const receive_delivery&) = delete;
    receive_delivery& operator=(receive_delivery&&) = delete;
    ~receive_delivery() {
        if (node) // never ran: the io_context was destroyed first
            node->destroy();
    }

    void operator()() {
        auto claim = std::move(self);
        claim.invoked();
        --claim->posted_receives_;
        std::exchange(node, nullptr)->complete_here(ec, std::move(frame));
    }
};

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::post_receive(receive_node* node, error_code ec,
                                                         std::string frame) {
    node->clear_cancel(); // decided: a cancellation from now on finds nothing to cancel
    ++posted_receives_;
    net::post(get_executor(),
              receive_delivery<Stream, Framing, Clock>(this, node, ec, std::move(frame)));
}

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_receive(Handler&& handler) {
    using node_type =
        completion_impl<std::decay_t<Handler>, executor_type, no_data, error_code, std::string>;
    auto* node = node_type::create(std::forward<Handler>(handler), get_executor());
    receive_started_ = true;
    if (!received_.empty()) {
        std::string frame = received_.pop();
        received_cost_ -= frame.size() + sizeof(std::string);
        post_receive(node, error_code(), std::move(frame));
        resume_reading();
        return;
    }
    if (phase_ == phase::stopping || phase_ == phase::stopped) {
        post_receive(node, reason_, std::string());
        return;
    }
    if (peer_finished_) { // every frame there was has been taken
        eof_taken();
        post_receive(node, net::error::eof, std::string());
        finish_half_close();
        return;
    }
    receivers_.push_back(node);
    node->on_cancel(&session_state::cancel_receive, this);
}

template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::try_receive(std::string& frame) {
    // Frames already handed to posted completions come first.
    if (posted_receives_ > 0)
        return false;
    if (received_.empty()) // then bytes read and not decoded yet, when called from the decoder
        return cursor_ && cursor_->next(*this, cursor_->input, cursor_->now, frame);
    frame = received_.pop();
    received_cost_ -= frame.size() + sizeof(std::string);
    resume_reading();
    return true;
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_receive(void* self, receive_node* node,
                                                           net::cancellation_type) {
    // Nothing was consumed for a waiting receive, so every cancellation type is honoured.
    auto* s = static_cast<session_state*>(self);
    s->receivers_.erase(node);
    s->post_receive(node, net::error::operation_aborted, std::string());
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
