// heartbeat::connect_handler<Stream>: what a reconnecting_client gives the application's connect
// function, to be called once with the ready stream (or why there is none).
#ifndef HEARTBEAT_CONNECT_HANDLER_HPP
#define HEARTBEAT_CONNECT_HANDLER_HPP

#include <heartbeat/detail/config.hpp>

#include <memory>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// One connection attempt: the signal that cancels it, and what the client knows of it.
struct connect_attempt {
    net::cancellation_signal signal;
    std::size_t number = 0; // in the current run of attempts, from 1
    bool spare = false;     // make-before-break's attempt
    bool abandoned = false; // no longer wanted: its stream, if any, is closed
    bool cancelled = false; // `signal` was emitted: connect_handler::cancelled()
    bool settled = false;   // the client is done with it: a result that comes later is dropped
    bool emitting = false;  // `signal` is being emitted: its slot's handler is running

    /// The attempt's result is on its way: the operation whose cancellation handler the slot
    /// may still hold has completed (Asio leaves that handler installed), and its I/O object
    /// may be gone, so the handler is removed before anything could emit the signal. Not while
    /// that handler runs (a slot handler may call the connect handler inline).
    void forget_slot_handler() noexcept {
        if (!emitting)
            signal.slot().clear();
    }
};

/// Where a connect_handler delivers: the client's state.
template <class Stream>
class connect_sink {
public:
    virtual void connect_done(const std::shared_ptr<connect_attempt>& attempt, error_code ec,
                              Stream&& stream) = 0;
    /// The handler was destroyed uncalled (the connect function dropped it, or threw).
    virtual void connect_dropped(const std::shared_ptr<connect_attempt>& attempt) = 0;

protected:
    connect_sink() = default;
    connect_sink(const connect_sink&) = default;
    connect_sink& operator=(const connect_sink&) = default;
    connect_sink(connect_sink&&) noexcept = default;
    connect_sink& operator=(connect_sink&&) noexcept = default;
    ~connect_sink() = default;
};

} // namespace detail

/// The completion handler of one connection attempt, signature void(error_code, Stream): call
/// it exactly once, with a stream ready for a session (connected, TLS handshake done) and no
/// error, or with the error and any stream (it is discarded). It may be called from anywhere on
/// the client's executor, inline too: the client takes the result in a turn of its own.
///
/// Its associated executor is the client's, and its associated cancellation slot is emitted
/// (terminal) when the attempt is no longer wanted: close(), connect_timeout, a spare the client
/// no longer needs. Bind the slot to each step of the attempt so that they end at once:
///
///     auto slot = done.get_cancellation_slot();
///     asio::async_connect(socket, endpoints, asio::bind_cancellation_slot(slot, ...));
///
/// Steps: an attempt in several steps (resolve, connect, TLS handshake) must check cancelled()
/// before it starts each step after the first, and complete with operation_aborted if it is
/// set. A cancellation that comes between two steps finds the slot empty (the step before has
/// completed, the next is not started): it is not delivered again to the next step, and only
/// cancelled() remembers it. Call cancelled() on the client's executor.
///
/// The client does not wait for an attempt it no longer wants: when the signal is emitted, the
/// attempt is over for the client (close() completes async_run without it; connect_timeout
/// reports connect_failed with net::error::timed_out at once and backs off). A stream delivered
/// later is closed (destroyed) unused. An attempt that ignores the slot and cancelled() still
/// works, but keeps its own resources (a socket, a resolver) until it completes.
///
/// Asio leaves a completed operation's cancellation handler in the slot: before a step's I/O
/// object is destroyed while the attempt goes on (a resolver, once resolved), clear the slot
/// (`done.get_cancellation_slot().clear()`) or bind the next step to it first, or a later
/// cancellation would call into the destroyed object. Calling the handler clears it.
///
/// Destroying the handler uncalled (the connect function dropped it, or threw) ends the attempt
/// with operation_aborted, through a posted turn, never inline; an exception thrown by the
/// connect function leaves io_context::run(), as from any handler. The handler must not outlive
/// the client's io_context (as any handler).
template <class Stream>
class connect_handler {
public:
    using executor_type = typename Stream::executor_type;
    using cancellation_slot_type = net::cancellation_slot;

    connect_handler(std::shared_ptr<detail::connect_sink<Stream>> sink,
                    std::shared_ptr<detail::connect_attempt> attempt, const executor_type& ex)
        : sink_(std::move(sink))
        , attempt_(std::move(attempt))
        , ex_(ex) {}

    // Move-only: one attempt, one result. A moved-from handler keeps its slot and executor,
    // so `done.get_cancellation_slot()` may be evaluated after `std::move(done)`.
    connect_handler(connect_handler&& other) noexcept
        : sink_(std::move(other.sink_))
        , attempt_(other.attempt_)
        , ex_(other.ex_) {}
    connect_handler& operator=(connect_handler&&) = delete;
    connect_handler(const connect_handler&) = delete;
    connect_handler& operator=(const connect_handler&) = delete;
    /// Uncalled: ends the attempt with operation_aborted, in a posted turn.
    ~connect_handler() {
        if (!sink_)
            return;
        attempt_->forget_slot_handler();
#if HEARTBEAT_HAS_EXCEPTIONS
        try {
#endif
            net::post(ex_, [sink = std::move(sink_), attempt = attempt_] {
                sink->connect_dropped(attempt);
            });
#if HEARTBEAT_HAS_EXCEPTIONS
        } catch (...) { // out of memory: the attempt stays pending, as before this was added
        }
#endif
    }

    executor_type get_executor() const noexcept {
        return ex_;
    }
    cancellation_slot_type get_cancellation_slot() const noexcept {
        return attempt_ ? attempt_->signal.slot() : cancellation_slot_type();
    }
    /// Whether the attempt was cancelled (close(), connect_timeout, a spare no longer needed),
    /// also when the slot was empty then: check it before each step after the first.
    bool cancelled() const noexcept {
        return attempt_ && attempt_->cancelled;
    }

    /// Delivers the result; the client takes it in a posted turn.
    void operator()(error_code ec, Stream stream) {
        HEARTBEAT_ASSERT(sink_, "connect_handler called twice, or after it was moved from");
        if (!sink_)
            return;
        attempt_->forget_slot_handler();
        net::post(ex_, [sink = std::move(sink_), attempt = attempt_, ec,
                        stream = std::move(stream)]() mutable {
            sink->connect_done(attempt, ec, std::move(stream));
        });
    }

private:
    std::shared_ptr<detail::connect_sink<Stream>> sink_;
    std::shared_ptr<detail::connect_attempt> attempt_;
    executor_type ex_;
};

HEARTBEAT_NAMESPACE_END

#endif
