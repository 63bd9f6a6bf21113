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
    bool timed_out = false; // connect_timeout passed: cancelled, reported as timed_out
    bool abandoned = false; // no longer wanted: its stream, if any, is closed
};

/// Where a connect_handler delivers: the client's state.
template <class Stream>
class connect_sink {
public:
    virtual void connect_done(const std::shared_ptr<connect_attempt>& attempt, error_code ec,
                              Stream&& stream) = 0;

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
/// no longer needs. Bind the slot to the operations of the attempt so that they end at once:
///
///     auto slot = done.get_cancellation_slot();
///     asio::async_connect(socket, endpoints, asio::bind_cancellation_slot(slot, ...));
///
/// An attempt that ignores the slot still works, but close() and the client's async_run then
/// wait for it to complete.
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
    ~connect_handler() = default;

    executor_type get_executor() const noexcept { return ex_; }
    cancellation_slot_type get_cancellation_slot() const noexcept {
        return attempt_ ? attempt_->signal.slot() : cancellation_slot_type();
    }

    /// Delivers the result; the client takes it in a posted turn.
    void operator()(error_code ec, Stream stream) {
        HEARTBEAT_ASSERT(sink_, "connect_handler called twice, or after it was moved from");
        if (!sink_)
            return;
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
