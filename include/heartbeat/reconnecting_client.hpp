// heartbeat::reconnecting_client: one logical connection over successive heartbeat sessions. It
// connects through a function the application supplies, reconnects with capped exponential
// backoff and full jitter when a session ends, queues what is sent meanwhile, and can connect a
// spare ahead of a failure when the current session turns suspect (make-before-break).
#ifndef HEARTBEAT_RECONNECTING_CLIENT_HPP
#define HEARTBEAT_RECONNECTING_CLIENT_HPP

#include <heartbeat/connect_handler.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/reconnect_state.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/line_framing.hpp>
#include <heartbeat/options.hpp>
#include <heartbeat/reconnect_options.hpp>
#include <heartbeat/session.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN

/// Owns successive heartbeat_sessions over one logical connection.
///
/// async_run connects (at once), runs a session on the stream, and when that session ends with
/// anything but the client's own close(), waits a backoff and connects again, until close(),
/// cancellation of async_run, or reconnect_options::max_attempts failures in a row
/// (error::gave_up). Every attempt, success and failure reaches the observer.
///
/// Sending: while a session is up, async_send and try_send go straight to it (its semantics,
/// completions and errors). While none is up, or the current one is ending (its verdict is
/// given, its end not yet reported), they are queued, up to reconnect_options::
/// queue_limit bytes, and handed to the next session in order before anything sent later; past
/// the limit they fail with error::reconnect_queue_full. A queued async_send completes once the
/// session it was handed to completes it (so an awaited send waits across the gap), or with the
/// client's end reason. A frame handed to a session shares that session's fate: if the session
/// ends before writing it, it is not sent again (no frame is ever sent twice).
///
/// Receiving: async_receive gets the next frame of whichever session has one, the older first,
/// so frames of one session never overtake those of the one before; a session's end is not
/// reported (the client reconnects), only the client's own end, once every frame received
/// before it was taken. Frames that sessions held when they ended wait for the application up
/// to the sessions' options::receive_queue_limit bytes in all; past it, an ending session's
/// remaining (newest) frames are dropped, as if its connection had died before they came.
///
/// Like a session, the client is used from its executor (a strand when several threads run
/// the context); close() alone is safe from any thread. The streams the connect function yields
/// must run their sessions on that executor too (a socket made on the client's executor, or on
/// its io_context when one thread runs it). Destroying the client ends everything, before its
/// io_context is destroyed: every waiting handler still runs once, with operation_aborted.
template <class Stream, class Framing = line_framing, class Clock = std::chrono::steady_clock>
class reconnecting_client {
    using state_type = detail::reconnect_state<Stream, Framing, Clock>;

public:
    using session_type = heartbeat_session<Stream, Framing, Clock>;
    using executor_type = typename Stream::executor_type;
    using stream_type = Stream;
    /// Starts one attempt: connect (and handshake) a Stream, then call the handler once.
    using connect_function = std::function<void(connect_handler<Stream>)>;
    using observer_type = std::function<void(const reconnect_event&)>;

    /// Validates both options (std::invalid_argument, or abort without exceptions: check
    /// first_invalid() first). Each session gets `session_options` and a copy of `framing`.
    /// Connects nothing until async_run.
    reconnecting_client(const executor_type& ex, connect_function connect,
                        const reconnect_options& opts = reconnect_options(),
                        const heartbeat::options& session_options = heartbeat::options(),
                        Framing framing = Framing())
        : state_(std::make_shared<state_type>(ex, std::move(connect), opts, session_options,
                                              std::move(framing))) {}

    reconnecting_client(reconnecting_client&&) noexcept = default;
    reconnecting_client& operator=(reconnecting_client&& other) noexcept {
        if (this != &other) {
            abandon();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    reconnecting_client(const reconnecting_client&) = delete;
    reconnecting_client& operator=(const reconnecting_client&) = delete;
    ~reconnecting_client() { abandon(); }

    executor_type get_executor() const noexcept { return state().get_executor(); }
    const reconnect_options& options() const noexcept { return state().get_options(); }
    const heartbeat::options& session_options() const noexcept {
        return state().get_session_options();
    }

    /// Whether a session is up (it may be ending: its end is known when its run completes).
    bool connected() const noexcept { return state().connected(); }
    /// The current session, or null: for statistics() and next_layer(). Closing it makes the
    /// client reconnect, as any other end does. Do not keep the pointer across handlers.
    session_type* session() noexcept { return state().session(); }

    /// Calls `observer(event)` for every attempt, success, failure, wait and switch (see
    /// reconnect_event), on the client's executor, once the client's state is whole, never
    /// from inside a call of the application. It may call any member, close() included. An
    /// empty function removes it. It must not throw: it runs from the end of a turn, in a
    /// noexcept destructor, so an exception from it calls std::terminate().
    void set_observer(observer_type observer) { state().set_observer(std::move(observer)); }

    /// Connects, runs sessions and reconnects until close(), cancellation (terminal or partial)
    /// or giving up; completes once with operation_aborted or error::gave_up, when no attempt,
    /// wait or session of the client is pending. A second call completes with
    /// error::already_running.
    ///
    /// Signature: void(error_code).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_run(CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return net::async_initiate<CompletionToken, void(error_code)>(initiate_run{{&state()}},
                                                                      token);
    }

    /// Sends `frame` through the current session, or queues it for the next (see the class
    /// comment). Fails at once with frame_too_large or invalid_frame as a session would,
    /// reconnect_queue_full past the queue's limit, or the client's end reason once it ended.
    /// Cancellation: a queued send is removed (operation_aborted); once handed to a session, as
    /// that session's async_send.
    ///
    /// Signature: void(error_code).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_send(std::string&& frame,
                    CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return net::async_initiate<CompletionToken, void(error_code)>(initiate_send{{&state()}},
                                                                      token, std::move(frame));
    }
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_send(const std::string& frame,
                    CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return async_send(std::string(frame), std::forward<CompletionToken>(token));
    }

    /// try_send of the current session, or queues a copy of `frame` for the next; returns
    /// frame_too_large, invalid_frame, send_queue_full (the session's), reconnect_queue_full
    /// or the client's end reason when it did neither.
    error_code try_send(std::string_view frame) { return state().try_send(frame); }

    /// The next data frame from the sessions, in order; completes with the client's end reason
    /// once it ended and every frame received before was taken. Any cancellation type: nothing
    /// is lost.
    ///
    /// Signature: void(error_code, std::string).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_receive(CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return net::async_initiate<CompletionToken, void(error_code, std::string)>(
            initiate_receive{{&state()}}, token);
    }

    /// Ends the client: cancels the attempt or the wait, closes the sessions, fails queued
    /// sends; async_run completes with operation_aborted once they returned. Safe from any
    /// thread.
    void close() {
        if (state_)
            net::post(state_->get_executor(), [state = state_] { state->close_requested(); });
    }

private:
    struct initiation {
        using executor_type = typename reconnecting_client::executor_type;
        executor_type get_executor() const noexcept { return state->get_executor(); }
        state_type* state;
    };
    struct initiate_run : initiation {
        template <class Handler>
        void operator()(Handler&& handler) const {
            this->state->start_run(std::forward<Handler>(handler));
        }
    };
    struct initiate_send : initiation {
        template <class Handler>
        void operator()(Handler&& handler, std::string&& frame) const {
            this->state->start_send(std::move(frame), std::forward<Handler>(handler));
        }
    };
    struct initiate_receive : initiation {
        template <class Handler>
        void operator()(Handler&& handler) const {
            this->state->start_receive(std::forward<Handler>(handler));
        }
    };

    state_type& state() const noexcept {
        HEARTBEAT_ASSERT(state_, "reconnecting_client used after it was moved from");
        return *state_;
    }

    void abandon() noexcept {
        if (state_)
            state_->abandon();
    }

    std::shared_ptr<state_type> state_;
};

HEARTBEAT_NAMESPACE_END

#endif
