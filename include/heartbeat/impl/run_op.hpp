// async_run: starts the reader, the writer and the timer; ends them together on the first
// failure, close() or cancellation; completes once nothing of the session is pending.
#ifndef HEARTBEAT_IMPL_RUN_OP_HPP
#define HEARTBEAT_IMPL_RUN_OP_HPP

#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
template <class Handler>
void session_state<Stream, Framing, Clock>::start_run(Handler&& handler) {
    using node_type = completion_impl<std::decay_t<Handler>, executor_type, unlisted, error_code>;
    auto* node = node_type::create(std::forward<Handler>(handler), io_executor(), *cache_);
    if (ran_) { // a session runs once
        complete(node, error::already_running);
        return;
    }
    ran_ = true;
    if (phase_ != phase::idle) { // closed before it ran
        complete(node, reason_);
        return;
    }
    run_ = node;
    node->on_cancel(&session_state::cancel_run, this);
    phase_ = phase::running;

    clocks_.started(clock::now());
    if constexpr (waits_for_readiness<Stream>::value) {
        // read_some after async_wait must return would_block, never block the thread.
        error_code ec;
        stream_.non_blocking(true, ec);
        readiness_ = !ec;
    }
    start_read();
    start_write(); // frames queued before the run
    rearm();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::stop(error_code reason) {
    if (ended())
        return;
    settle_reads(); // frames already read are still delivered...
    if (ended())
        return; // ...unless the bytes after them ended the session first

    const bool graceful = phase_ == phase::running && shutdown_gracefully(reason);
    phase_ = phase::stopping;
    reason_ = reason;
    if (graceful) {
        start_shutdown(); // closes the stream when done or out of time
    } else {
        timer_.cancel();
        close_stream(stream_);
    }
    // Waiting receivers learn why the session ended; queued frames are still delivered first.
    while (auto* n = receivers_.pop_front())
        complete(n, reason_, std::string());
    // Sends not yet on the wire fail now; the batch in flight fails when its write completes.
    writer_.drop_unsent([this](send_node* node) { drop_send(node); });
    // The run completes (and the state may be freed) once a turn has run what is queued: never
    // from inside close(), a cancellation slot or a destructor.
    request_drain();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::release(bool invoked) {
    HEARTBEAT_ASSERT(pending_ > 0, "an operation's claim on the session released twice");
    if (!invoked)
        abandon_completions();
    if (--pending_ != 0)
        return;
    HEARTBEAT_ASSERT(ready_.empty(), "completions left with no turn to run them");
    if (phase_ == phase::stopping) {
        phase_ = phase::stopped;
        if (run_) {
            // The last completion, once nothing else of the session is left: posted, since
            // the state goes away right after.
            auto* node = std::exchange(run_, nullptr);
            node->set_result(reason_);
            node->post_result(*cache_);
        }
    }
    // Nothing is pending: freed unless the application still holds it. Last, for that.
    if (owners_.load(std::memory_order_acquire) == 0)
        delete this;
}

/// One of our handlers was destroyed without running: Asio destroys pending handlers when their
/// io_context is destroyed, so nothing of this session can run again. Like Asio's own
/// operations, the application's pending handlers are then destroyed unrun. That also frees a
/// session owned by its own run handler (a shared_ptr captured in it), which would otherwise
/// keep itself, its handlers and its socket alive forever.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::abandon_completions() noexcept {
    phase_ = phase::stopped; // a handle destroyed from here on finds nothing to stop
    // Unlinked first: a destroyed handler may destroy the handle, or other sessions.
    auto* run = std::exchange(run_, nullptr);
    completion_list<receive_node> receivers = std::exchange(receivers_, {});
    completion_list<send_node> sends = writer_.take_all();
    auto observer = std::move(observer_); // its queued call is discarded first
    ready_.discard_all(cache_.get());
    while (auto* n = receivers.pop_front())
        n->destroy(*cache_);
    while (auto* n = sends.pop_front())
        n->destroy(*cache_);
    if (run)
        run->destroy(*cache_);
    observer.reset();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::cancel_run(void* self, run_node*,
                                                       net::cancellation_type type) {
    if ((type & (net::cancellation_type::terminal | net::cancellation_type::partial)) !=
        net::cancellation_type::none)
        static_cast<session_state*>(self)->stop(net::error::operation_aborted);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
