// heartbeat::heartbeat_session: an application-level heartbeat over any Asio stream.
#ifndef HEARTBEAT_SESSION_HPP
#define HEARTBEAT_SESSION_HPP

#include <heartbeat/detail/awaitable_token.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/session_state.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/health.hpp>
#include <heartbeat/line_framing.hpp>
#include <heartbeat/options.hpp>
#include <heartbeat/statistics.hpp>

#include <heartbeat/impl/half_close.hpp>
#include <heartbeat/impl/read_op.hpp>
#include <heartbeat/impl/receive_op.hpp>
#include <heartbeat/impl/run_op.hpp>
#include <heartbeat/impl/send_op.hpp>
#include <heartbeat/impl/sentry_op.hpp>
#include <heartbeat/impl/shutdown_op.hpp>
#include <heartbeat/impl/turn.hpp>
#include <heartbeat/impl/write_op.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN

/// Owns a stream and keeps it honest: a timer-driven PING writer, a read deadline pushed forward
/// by every byte received, and one shared cancellation that ends both together.
///
/// Like any Asio I/O object, a session is used from its executor (a strand when the context runs
/// on several threads); close() alone may be called from any thread. Destroying a session
/// cancels what it has in flight: every pending handler still runs, with an error, and none
/// touches freed memory.
///
/// `Clock` (std::chrono::steady_clock by default) is what the session reads the time from and
/// what its timer waits on (net::basic_waitable_timer<Clock>): a test can drive a session in
/// virtual time with a clock it sets. It must have steady_clock's time_point (a static_assert
/// says so); net::wait_traits<Clock> decides how long the reactor may sleep for it.
template <class Stream, class Framing = line_framing, class Clock = std::chrono::steady_clock>
class heartbeat_session {
    using state_type = detail::session_state<Stream, Framing, Clock>;

public:
    using executor_type = typename Stream::executor_type;
    using next_layer_type = Stream;
    using framing_type = Framing;
    using clock_type = Clock;

    /// Takes ownership of `stream`. Throws std::invalid_argument when `opts` is invalid.
    explicit heartbeat_session(Stream stream, const heartbeat::options& opts = heartbeat::options(),
                               Framing framing = Framing())
        : state_(new state_type(std::move(stream), opts, std::move(framing))) {}

    heartbeat_session(heartbeat_session&&) noexcept = default;
    // NOLINTNEXTLINE(bugprone-exception-escape): see abandon()
    heartbeat_session& operator=(heartbeat_session&& other) noexcept {
        if (this != &other) {
            abandon();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    heartbeat_session(const heartbeat_session&) = delete;
    heartbeat_session& operator=(const heartbeat_session&) = delete;

    ~heartbeat_session() { abandon(); } // NOLINT(bugprone-exception-escape): see abandon()

    executor_type get_executor() const noexcept { return state().get_executor(); }
    Stream& next_layer() noexcept { return state().stream(); }
    const Stream& next_layer() const noexcept { return state().stream(); }
    const heartbeat::options& options() const noexcept { return state().get_options(); }

    /// A snapshot of the counters and round-trip times.
    heartbeat::statistics statistics() const { return state().get_statistics(); }

    /// Runs the PING writer and the reader until the session ends, then completes once with the
    /// reason: error::timeout, idle_timeout, write_timeout, frame_too_large, protocol or
    /// ping_flood; asio::error::eof, a reset or another error of the stream (e.g. broken_pipe,
    /// ssl::error::stream_truncated); operation_aborted after close() or terminal or partial
    /// cancellation of the handler's slot. By then nothing of the session is pending and the
    /// stream is closed (after a bounded TLS goodbye where options::shutdown_timeout allows).
    ///
    /// Half-close: when the peer shuts down its sending side (eof) on a stream without a
    /// protocol-level shutdown, the session stops reading and pinging but keeps writing: the
    /// frames already received are still delivered, and what the application sends in reply is
    /// written. It ends with eof once the application knows of the EOF (an async_receive
    /// completed with eof, or close() was called, or it never called async_receive) and nothing
    /// is left to write; at the latest options::shutdown_timeout after the EOF while the
    /// application has not reacted, and write_timeout still ends a peer that stopped reading.
    ///
    /// Signature: void(error_code).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_run(CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return net::async_initiate<CompletionToken, void(error_code)>(initiate_run{{&state()}},
                                                                      token);
    }

    /// The next data frame; heartbeats never reach it. Frames received earlier are held (up to
    /// options::receive_queue_limit) and delivered in order, even after the session ended; then
    /// it completes with the session's end reason. Any cancellation type is honoured.
    ///
    /// A coroutine awaiting it with asio::use_awaitable (also inside redirect_error or
    /// as_tuple) goes on at once, without a trip through the executor, when a frame is held and
    /// no other completion of the session waits to run: as if it had called try_receive.
    ///
    /// Signature: void(error_code, std::string).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_receive(CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        using token_type = std::decay_t<CompletionToken>;
        if constexpr (detail::awaitable_token<token_type>::value) {
            if (state().may_receive_at_once())
                return receive_awaited(&state(), token_type(std::forward<CompletionToken>(token)));
        }
        return net::async_initiate<CompletionToken, void(error_code, std::string)>(
            initiate_receive{{&state()}}, token);
    }

    /// Queues `frame` behind what is already queued. Completes (never inline; successful sends
    /// in the order of the calls) as soon as the frame is queued while the queue is below
    /// options::send_high_water_mark and no earlier async_send or async_flush waits; otherwise
    /// once the frame is written. A frame accepted early that cannot be written ends the session
    /// (async_run says why), as for try_send; async_flush waits until written. Fails at once
    /// with error::send_queue_full past options::send_queue_limit (the session continues),
    /// frame_too_large past max_frame_size, invalid_frame when the framing cannot carry it.
    /// Cancellation removes a frame still waiting and not yet being written.
    ///
    /// A coroutine awaiting it with asio::use_awaitable (also inside redirect_error or
    /// as_tuple) goes on at once, without a trip through the executor, when the frame is
    /// accepted at once and no other completion of the session waits to run: as if it had
    /// called try_send.
    ///
    /// Signature: void(error_code).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_send(std::string&& frame,
                    CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        using token_type = std::decay_t<CompletionToken>;
        if constexpr (detail::awaitable_token<token_type>::value)
            return send_awaited(&state(), std::move(frame),
                                token_type(std::forward<CompletionToken>(token)));
        return net::async_initiate<CompletionToken, void(error_code)>(initiate_send{{&state()}},
                                                                      token, std::move(frame));
    }
    /// The same with a copy of `frame` (a string moved in above is not copied, nor moved
    /// twice, as a parameter by value would be).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_send(const std::string& frame,
                    CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return async_send(std::string(frame), std::forward<CompletionToken>(token));
    }

    /// Completes once every frame queued before it (by async_send or try_send) is written to the
    /// stream, or with the session's end reason if it ends first: for a sender that must know
    /// its frames left, e.g. before close(), which drops what is still queued. Carries no bytes
    /// and is never refused; it never becomes part of a write, so any cancellation ends it
    /// (with operation_aborted) until it completed.
    ///
    /// Signature: void(error_code).
    template <class CompletionToken = net::default_completion_token_t<executor_type>>
    auto async_flush(CompletionToken&& token = net::default_completion_token_t<executor_type>()) {
        return net::async_initiate<CompletionToken, void(error_code)>(initiate_flush{{&state()}},
                                                                      token);
    }

    /// Queues `frame` like async_send, with no completion to wait for: for senders that stream
    /// many frames. Consecutive frames share one buffer, so this costs a copy and no allocation
    /// per frame. Returns at once: frame_too_large, invalid_frame or send_queue_full (nothing
    /// queued, the session continues), the session's end reason once it ended, or success: the
    /// frame goes out in order with every other frame, and if it cannot be written the session
    /// ends (async_run says why). Call it on the session's executor.
    error_code try_send(std::string_view frame) {
        return state().try_send(frame.data(), frame.size());
    }

    /// Copies the next received frame into `frame` (reusing its storage) if one is already
    /// held, without waiting; returns false when none is (or when a completed async_receive is
    /// still owed an earlier one). Lets a receiver drain a burst without an operation per frame:
    /// a read is decoded whole before any handler runs, so a receive handler finds the rest of
    /// that read here. Call it on the session's executor.
    bool try_receive(std::string& frame) { return state().try_receive(frame); }

    /// Whether the session ended or is ending: its verdict is given (or close() ran), so a send
    /// now fails with its end reason, though its async_run may not have completed yet. Call it
    /// on the session's executor.
    bool ending() const noexcept { return state().is_ending(); }

    /// Calls `observer(health::suspect)` when the peer turns suspect (silent for half of
    /// read_timeout, or a PONG overdue) and `observer(health::healthy)` when it recovers, so the
    /// application can prepare a replacement connection before this one is declared dead. Runs
    /// on the session's executor, from its completion queue like a handler: it must not block.
    /// An empty function removes it. Without an observer the session schedules nothing for it.
    void set_health_observer(std::function<void(heartbeat::health)> observer) {
        state().set_health_observer(std::move(observer));
    }

    /// Ends the session: async_run completes with operation_aborted. After the peer's EOF (see
    /// async_run) it ends it with eof once what is queued is written. Safe from any thread.
    void close() {
        if (state_)
            net::post(state_->get_executor(), [state = state_] { state->close_requested(); });
    }

private:
    // The initiation objects name the session's executor, for tokens that need one before the
    // operation starts (cancel_after and cancel_at make their timer on it).
    struct initiation {
        using executor_type = typename heartbeat_session::executor_type;
        executor_type get_executor() const noexcept { return state->get_executor(); }
        state_type* state;
    };
    struct initiate_run : initiation {
        template <class Handler>
        void operator()(Handler&& handler) const {
            this->state->start_run(std::forward<Handler>(handler));
        }
    };
    struct initiate_receive : initiation {
        template <class Handler>
        void operator()(Handler&& handler) const {
            this->state->start_receive(std::forward<Handler>(handler));
        }
    };
    struct initiate_send : initiation {
        template <class Handler>
        void operator()(Handler&& handler, std::string&& frame) const {
            this->state->start_send(std::move(frame), std::forward<Handler>(handler));
        }
    };
    struct initiate_flush : initiation {
        template <class Handler>
        void operator()(Handler&& handler) const {
            this->state->start_flush(std::forward<Handler>(handler));
        }
    };

#if HEARTBEAT_DETAIL_AWAIT_AT_ONCE
    // Coroutines, so lazy like Asio's own awaitable operations: nothing happens until the
    // caller co_awaits, which is when the shortcut is decided. async_receive returns one only
    // when a frame is held as it is called (a co_await follows at once, as a rule), so that a
    // receive that waits (request-response) has no coroutine around its ordinary operation;
    // should the state have changed by the co_await, the coroutine takes the ordinary path
    // itself. A send mostly succeeds at once, so async_send does not ask (asking cost more
    // per echoed line than it saved: callgrind, lib_server --loop coro). Each result is named
    // before co_return: with GCC 12, a std::string co_returned as a prvalue arrived pointing
    // at the small buffer of a temporary already gone.
    template <class Token>
    static auto receive_awaited(state_type* state, Token token)
        -> decltype(net::async_initiate<Token, void(error_code, std::string)>(
            std::declval<initiate_receive>(), token)) {
        using received = typename detail::awaitable_token<Token>::received;
        std::string frame;
        if (state->receive_at_once(frame)) {
            detail::awaitable_token<Token>::succeeded(token);
            if constexpr (std::is_same_v<received, std::string>) {
                co_return frame;
            } else {
                received result(error_code(), std::move(frame));
                co_return result;
            }
        }
        auto result = co_await net::async_initiate<Token, void(error_code, std::string)>(
            initiate_receive{{state}}, token);
        co_return result;
    }
    template <class Token>
    static auto send_awaited(state_type* state, std::string frame, Token token)
        -> decltype(net::async_initiate<Token, void(error_code)>(std::declval<initiate_send>(),
                                                                 token, std::move(frame))) {
        using result_type = decltype(detail::awaitable_token<Token>::sent(token));
        if constexpr (std::is_void_v<result_type>) {
            if (!state->send_at_once(frame))
                co_await net::async_initiate<Token, void(error_code)>(initiate_send{{state}}, token,
                                                                      std::move(frame));
            else
                detail::awaitable_token<Token>::sent(token);
        } else {
            if (state->send_at_once(frame)) {
                result_type result = detail::awaitable_token<Token>::sent(token);
                co_return result;
            }
            result_type result = co_await net::async_initiate<Token, void(error_code)>(
                initiate_send{{state}}, token, std::move(frame));
            co_return result;
        }
    }
#endif

    /// The state, which a moved-from session no longer has: using one is a bug of the caller.
    state_type& state() const noexcept {
        HEARTBEAT_ASSERT(state_, "heartbeat_session used after it was moved from");
        return *state_;
    }

    // The one throw clang-tidy sees is the timer's cancel(), whose error_code overload Asio
    // deprecates and which cannot fail for Asio's timers.
    void abandon() noexcept { // NOLINT(bugprone-exception-escape)
        if (state_)
            state_->stop(net::error::operation_aborted);
    }

    detail::state_owner<state_type> state_;
};

HEARTBEAT_NAMESPACE_END

#endif
