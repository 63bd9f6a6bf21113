// What a reconnecting_client keeps of the application's operations while they wait: a run, a
// receive waiting for a frame from whichever session comes next, a send queued while no session
// is up. Each holds its handler, outstanding work on the handler's executor, and a canceller in
// the handler's cancellation slot; it completes by posting the handler through its executor (so
// never inline from an initiating function), or, for a send, by handing handler and frame to a
// session's async_send, which takes over its executor, slot and work.
//
// Not detail/completion.hpp: that is the session's hot-path machinery (intrusive, cached
// allocation, tied to its completion queue); these wait for connections, not for bytes.
#ifndef HEARTBEAT_DETAIL_RECONNECT_OPS_HPP
#define HEARTBEAT_DETAIL_RECONNECT_OPS_HPP

#include <heartbeat/detail/config.hpp>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// A waiting operation with completion signature void(Args...).
template <class... Args>
class client_op {
public:
    using cancel_fn = void (*)(void* context, client_op* op, net::cancellation_type type);

    client_op(const client_op&) = delete;
    client_op& operator=(const client_op&) = delete;

    /// Posts the handler with `args` through its associated executor; frees this.
    virtual void complete(Args... args) = 0;
    /// Frees this without running the handler: only when its io_context is gone.
    virtual void destroy() noexcept = 0;

protected:
    client_op() = default;
    virtual ~client_op() = default;
};

/// A send queued while no session is up: completes with an error, or goes to a session.
template <class Session>
class client_send_op : public client_op<error_code> {
public:
    /// Hands the handler and `frame` to `session.async_send`; frees this.
    virtual void forward(Session& session, std::string&& frame) = 0;
};

template <class Base, class Handler, class IoExecutor, class... Args>
class client_op_impl : public Base {
    using handler_executor = typename net::associated_executor<Handler, IoExecutor>::type;
    using work_executor = std::decay_t<decltype(net::prefer(
        std::declval<handler_executor>(), net::execution::outstanding_work.tracked))>;
    using slot_type = net::associated_cancellation_slot_t<Handler>;

public:
    using cancel_fn = typename client_op<Args...>::cancel_fn;

    /// Installs `cancel(context, this, type)` in the handler's slot, when it has one.
    template <class H>
    client_op_impl(H&& handler, const IoExecutor& io, cancel_fn cancel, void* context)
        : handler_(std::forward<H>(handler))
        , work_(net::prefer(net::get_associated_executor(handler_, io),
                            net::execution::outstanding_work.tracked))
        , slot_(net::get_associated_cancellation_slot(handler_)) {
        if (slot_.is_connected())
            slot_.template emplace<canceller>(canceller{cancel, context, this});
    }

    void complete(Args... args) override {
        clear_slot();
        auto handler = std::move(handler_);
        auto work = std::move(work_);
        delete this;
        net::post(work, [handler = std::move(handler),
                         result = std::make_tuple(std::move(args)...)]() mutable {
            std::apply(std::move(handler), std::move(result));
        });
    }

    void destroy() noexcept override {
        clear_slot();
        delete this;
    }

    client_op_impl(const client_op_impl&) = delete;
    client_op_impl& operator=(const client_op_impl&) = delete;
    client_op_impl(client_op_impl&&) = delete;
    client_op_impl& operator=(client_op_impl&&) = delete;

protected:
    ~client_op_impl() override = default;

    void clear_slot() noexcept {
        if (slot_.is_connected())
            slot_.clear();
    }

    Handler handler_;

private:
    struct canceller {
        cancel_fn cancel;
        void* context;
        client_op<Args...>* op;
        void operator()(net::cancellation_type type) const { cancel(context, op, type); }
    };

    work_executor work_;
    slot_type slot_;
};

template <class Session, class Handler, class IoExecutor>
class client_send_op_impl final
    : public client_op_impl<client_send_op<Session>, Handler, IoExecutor, error_code> {
    using base = client_op_impl<client_send_op<Session>, Handler, IoExecutor, error_code>;

public:
    using base::base;

    void forward(Session& session, std::string&& frame) override {
        this->clear_slot();
        auto handler = std::move(this->handler_);
        delete this;
        session.async_send(std::move(frame), std::move(handler));
    }
};

/// Allocates the op for `handler` (a plain new: one per operation that waits for a connection).
template <class Base, class... Args, class Handler, class IoExecutor>
Base* make_client_op(Handler&& handler, const IoExecutor& io,
                     typename client_op<Args...>::cancel_fn cancel, void* context) {
    return new client_op_impl<Base, std::decay_t<Handler>, IoExecutor, Args...>(
        std::forward<Handler>(handler), io, cancel, context);
}

template <class Session, class Handler, class IoExecutor>
client_send_op<Session>* make_client_send_op(Handler&& handler, const IoExecutor& io,
                                             client_op<error_code>::cancel_fn cancel,
                                             void* context) {
    return new client_send_op_impl<Session, std::decay_t<Handler>, IoExecutor>(
        std::forward<Handler>(handler), io, cancel, context);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
