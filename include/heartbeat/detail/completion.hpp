// A type-erased, intrusively linked completion handler: what a queued async_send or a waiting
// async_receive leaves behind. Allocated once per operation with the handler's associated
// allocator (Asio's per-thread recycling allocator by default, so the steady state does not hit
// malloc); holds outstanding work on the handler's executor while pending; completes by posting
// the handler to that executor, never inline.
#ifndef HEARTBEAT_DETAIL_COMPLETION_HPP
#define HEARTBEAT_DETAIL_COMPLETION_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/context_cache.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// `Data` is what the operation keeps beside its handler (a send keeps its payload).
template <class Data, class... Args>
class completion {
public:
    using cancel_fn = void (*)(void* context, completion* node, net::cancellation_type type);

    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;

    Data data{};
    completion* next = nullptr;
    completion* prev = nullptr;

    /// Posts the handler with `args` and frees this node. For initiating functions, and any
    /// place the caller's own code may be on the stack.
    template <class... A>
    void complete(A&&... args) {
        vtable_->complete(this, false, Args(std::forward<A>(args))...);
    }
    /// Runs the handler here when the caller is already on its executor (else posts it), and
    /// frees this node. Only from the session's own completion handlers, once its state is
    /// consistent: this is what lets one read deliver many frames and gather their replies
    /// into one write, as a hand-written loop would.
    template <class... A>
    void complete_here(A&&... args) {
        vtable_->complete(this, true, Args(std::forward<A>(args))...);
    }
    /// Frees this node without running the handler (its work is released).
    void destroy() { vtable_->destroy(this); }
    /// Makes cancellation through the handler's slot call `fn(context, this, type)`, until the
    /// node completes. Does nothing when the handler has no connected slot.
    void on_cancel(cancel_fn fn, void* context) { vtable_->on_cancel(this, fn, context); }
    /// Disconnects the cancellation handler: the result is decided, though not delivered yet.
    void clear_cancel() { vtable_->clear_cancel(this); }

protected:
    struct vtable_type {
        void (*complete)(completion*, bool, Args&&...);
        void (*destroy)(completion*);
        void (*on_cancel)(completion*, cancel_fn, void*);
        void (*clear_cancel)(completion*);
    };
    explicit completion(const vtable_type* vt) noexcept
        : vtable_(vt) {}
    ~completion() = default;

private:
    const vtable_type* vtable_;
};

/// Nodes use the handler's allocator; a handler without one (or with std::allocator) gets Asio's
/// recycling allocator, as Asio's own operations do.
template <class Allocator>
struct node_allocator_for {
    using type = Allocator;
    static type get(const Allocator& a) noexcept { return a; }
};
template <class T>
struct node_allocator_for<std::allocator<T>> {
    using type = net::recycling_allocator<T>;
    static type get(const std::allocator<T>&) noexcept { return type(); }
};

template <class Handler, class IoExecutor, class Data, class... Args>
class completion_impl final : public completion<Data, Args...> {
    using base = completion<Data, Args...>;
    using slot_type = net::associated_cancellation_slot_t<Handler>;
    using handler_executor = typename net::associated_executor<Handler, IoExecutor>::type;
    using work_executor = std::decay_t<decltype(net::prefer(
        std::declval<handler_executor>(), net::execution::outstanding_work.tracked))>;
    using allocator_traits = node_allocator_for<
        typename net::associated_allocator<Handler, net::recycling_allocator<void>>::type>;
    using allocator_type = typename allocator_traits::type;
    using node_allocator =
        typename std::allocator_traits<allocator_type>::template rebind_alloc<completion_impl>;

public:
    template <class H>
    completion_impl(H&& handler, const IoExecutor& io_ex)
        : base(&vtable_instance)
        , work_(net::prefer(net::get_associated_executor(handler, io_ex),
                            net::execution::outstanding_work.tracked))
        , handler_(std::forward<H>(handler))
        , slot_(net::get_associated_cancellation_slot(handler_))
        , same_executor_(same_executor(handler_, io_ex)) {}

    static allocator_type node_alloc(const Handler& handler) noexcept {
        return allocator_traits::get(
            net::get_associated_allocator(handler, net::recycling_allocator<void>()));
    }

    template <class H>
    static completion_impl* create(H&& handler, const IoExecutor& io_ex) {
        node_allocator alloc(node_alloc(handler));
        completion_impl* p = std::allocator_traits<node_allocator>::allocate(alloc, 1);
        try {
            std::allocator_traits<node_allocator>::construct(alloc, p, std::forward<H>(handler),
                                                             io_ex);
        } catch (...) {
            std::allocator_traits<node_allocator>::deallocate(alloc, p, 1);
            throw;
        }
        return p;
    }

private:
    struct cancel_handler {
        typename base::cancel_fn fn;
        void* context;
        base* node;
        void operator()(net::cancellation_type type) const { fn(context, node, type); }
    };

    static void do_on_cancel(base* b, typename base::cancel_fn fn, void* context) {
        auto* self = static_cast<completion_impl*>(b);
        if (self->slot_.is_connected())
            self->slot_.template emplace<cancel_handler>(cancel_handler{fn, context, b});
    }

    static void do_clear_cancel(base* b) {
        auto* self = static_cast<completion_impl*>(b);
        if (self->slot_.is_connected())
            self->slot_.clear();
    }

    static void do_complete(base* b, bool here, Args&&... args) {
        auto* self = static_cast<completion_impl*>(b);
        // Move everything out and free the node first, so the handler may start another
        // operation that reuses this memory.
        const bool direct = here && self->same_executor_;
        work_executor ex(std::move(self->work_));
        Handler handler(std::move(self->handler_));
        free(self, node_alloc(handler));
        if (direct) {
            // We run in a handler of the session's executor, which is the handler's too.
            std::move(handler)(std::move(args)...);
            return;
        }
        auto call = [handler = std::move(handler),
                     args = std::make_tuple(std::move(args)...)]() mutable {
            std::apply(std::move(handler), std::move(args));
        };
        if (here)
            net::dispatch(ex, std::move(call));
        else
            net::post(ex, std::move(call));
    }

    static bool same_executor(const Handler& handler, const IoExecutor& io_ex) noexcept {
        if constexpr (std::is_same_v<handler_executor, IoExecutor>)
            return net::get_associated_executor(handler, io_ex) == io_ex;
        else
            return false;
    }

    static void do_destroy(base* b) {
        auto* self = static_cast<completion_impl*>(b);
        free(self, node_alloc(self->handler_));
    }

    static void free(completion_impl* p, const allocator_type& handler_alloc) {
        if (p->slot_.is_connected())
            p->slot_.clear();
        node_allocator alloc(handler_alloc);
        std::allocator_traits<node_allocator>::destroy(alloc, p);
        std::allocator_traits<node_allocator>::deallocate(alloc, p, 1);
    }

    static constexpr typename base::vtable_type vtable_instance{&do_complete, &do_destroy,
                                                                &do_on_cancel, &do_clear_cancel};

    work_executor work_;
    Handler handler_;
    slot_type slot_;
    bool same_executor_;
};

/// A node nobody waits for (frames queued by try_send): completing it only frees it, so it
/// holds no executor, no work and no handler.
template <class Data, class... Args>
class detached_completion final : public completion<Data, Args...> {
    using base = completion<Data, Args...>;

public:
    static detached_completion* create(context_cache& cache) {
        void* p = cache.allocate(sizeof(detached_completion));
        return ::new (p) detached_completion(cache);
    }

private:
    explicit detached_completion(context_cache& cache) noexcept
        : base(&vtable_instance)
        , cache_(cache) {}

    static void do_complete(base* b, bool, Args&&...) { do_destroy(b); }
    static void do_destroy(base* b) {
        auto* self = static_cast<detached_completion*>(b);
        context_cache& cache = self->cache_;
        self->~detached_completion();
        cache.deallocate(self, sizeof(detached_completion));
    }
    static void do_on_cancel(base*, typename base::cancel_fn, void*) {}
    static void do_clear_cancel(base*) {}

    static constexpr typename base::vtable_type vtable_instance{&do_complete, &do_destroy,
                                                                &do_on_cancel, &do_clear_cancel};

    context_cache& cache_;
};

/// An intrusive FIFO of completions; it owns none of them.
template <class Node>
class completion_list {
public:
    using node = Node;

    bool empty() const noexcept { return head_ == nullptr; }
    node* front() const noexcept { return head_; }
    node* back() const noexcept { return tail_; }

    void push_back(node* n) noexcept {
        n->next = nullptr;
        n->prev = tail_;
        if (tail_)
            tail_->next = n;
        else
            head_ = n;
        tail_ = n;
    }

    void erase(node* n) noexcept {
        if (n->prev)
            n->prev->next = n->next;
        else
            head_ = n->next;
        if (n->next)
            n->next->prev = n->prev;
        else
            tail_ = n->prev;
        n->next = n->prev = nullptr;
    }

    node* pop_front() noexcept {
        node* n = head_;
        if (n)
            erase(n);
        return n;
    }

private:
    node* head_ = nullptr;
    node* tail_ = nullptr;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
