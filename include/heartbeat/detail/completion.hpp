// A type-erased, intrusively linked completion handler: what a queued async_send or a waiting
// async_receive leaves behind. Allocated once per operation with the handler's associated
// allocator (Asio's per-thread recycling allocator by default, so the steady state does not hit
// malloc); holds outstanding work on the handler's executor while pending; keeps its result once
// decided, until the session's completion queue runs it (never inline from an initiation).
//
// Why not asio::any_completion_handler: it first shipped with Asio 1.24 (Boost 1.80), after the
// supported minimum (1.22), and a queued operation needs more in the same allocation anyway:
// links for the send queue and the waiting receivers, the result while it waits in the
// completion queue, and the payload of a send. What Asio 1.22 has is used: associated
// executors, allocators (recycling_allocator by default) and cancellation slots, and
// outstanding-work tracking through execution::outstanding_work.
#ifndef HEARTBEAT_DETAIL_COMPLETION_HPP
#define HEARTBEAT_DETAIL_COMPLETION_HPP

#include <heartbeat/detail/completion_queue.hpp>
#include <heartbeat/detail/config.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// A per-thread cache of the small blocks that completion nodes and the session's own Asio
/// operations live in, so the steady state of reading, writing, sending and receiving allocates
/// nothing. (Asio's recycling allocator keeps two blocks per thread: too few for a read, a
/// write, a timer wait and their completions of different sizes.)
class node_cache {
public:
    static constexpr std::size_t granule = 32;
    static constexpr std::size_t classes = 16; // blocks up to 512 bytes
    static constexpr std::size_t depth = 8;    // cached blocks per size class

    static void* allocate(std::size_t size) {
        if (size == 0 || size > granule * classes)
            return ::operator new(size);
        node_cache& c = local();
        const std::size_t k = (size - 1) / granule;
        if (c.count_[k] > 0)
            return c.blocks_[k][--c.count_[k]];
        return ::operator new((k + 1) * granule);
    }

    static void deallocate(void* p, std::size_t size) noexcept {
        if (size > 0 && size <= granule * classes) {
            node_cache& c = local();
            const std::size_t k = (size - 1) / granule;
            if (c.count_[k] < depth) {
                c.blocks_[k][c.count_[k]++] = p;
                return;
            }
        }
        ::operator delete(p);
    }

    node_cache() = default;
    node_cache(const node_cache&) = delete;
    node_cache& operator=(const node_cache&) = delete;
    ~node_cache() {
        for (std::size_t k = 0; k < classes; ++k)
            while (count_[k] > 0)
                ::operator delete(blocks_[k][--count_[k]]);
    }

private:
    static node_cache& local() noexcept {
        static thread_local node_cache cache;
        return cache;
    }

    void* blocks_[classes][depth] = {};
    std::size_t count_[classes] = {};
};

template <class T>
struct cached_allocator {
    using value_type = T;
    cached_allocator() noexcept = default;
    template <class U>
    cached_allocator(const cached_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(node_cache::allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { node_cache::deallocate(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const cached_allocator<U>&) const noexcept {
        return true;
    }
    template <class U>
    bool operator!=(const cached_allocator<U>&) const noexcept {
        return false;
    }
};

/// `Data` is what the operation keeps beside its handler (a send keeps its payload). Once its
/// result is decided (set_result), the node waits in the session's completion queue
/// (detail/completion_queue.hpp), which runs it when the session's state is whole.
template <class Data, class... Args>
class completion : public ready_entry {
public:
    using cancel_fn = void (*)(void* context, completion* node, net::cancellation_type type);

    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;

    Data data{};
    completion* next = nullptr; // the operation's list (send queue, waiting receivers)
    completion* prev = nullptr;

    /// Decides the result; the handler runs when the queue gets to it. A cancellation from
    /// now on finds nothing to cancel.
    template <class... A>
    void set_result(A&&... args) {
        result_ = std::tuple<Args...>(Args(std::forward<A>(args))...);
        clear_cancel();
    }
    /// Posts the handler with the result set: only for the run's completion, which comes after
    /// the session's state is gone.
    void post_result() { vtable_->invoke(this, false); }
    /// Frees this node without running the handler (its work is released).
    void destroy() { vtable_->destroy(this); }
    /// Makes cancellation through the handler's slot call `fn(context, this, type)`, until the
    /// result is decided. Does nothing when the handler has no connected slot.
    void on_cancel(cancel_fn fn, void* context) { vtable_->on_cancel(this, fn, context); }
    void clear_cancel() { vtable_->clear_cancel(this); }

protected:
    struct vtable_type {
        void (*invoke)(completion*, bool here);
        void (*destroy)(completion*);
        void (*on_cancel)(completion*, cancel_fn, void*);
        void (*clear_cancel)(completion*);
    };
    completion(const vtable_type* vt, bool is_receive) noexcept
        : ready_entry(&queued_action, is_receive)
        , vtable_(vt) {}
    ~completion() = default;

    std::tuple<Args...> result_{};

private:
    static void queued_action(ready_entry* e, ready_entry::action a) {
        auto* self = static_cast<completion*>(e);
        if (a == ready_entry::action::run)
            self->vtable_->invoke(self, true);
        else
            self->vtable_->destroy(self);
    }

    const vtable_type* vtable_;
};

/// Nodes use the handler's allocator; a handler without one gets the per-thread node cache.
template <class Allocator>
struct node_allocator_for {
    using type = Allocator;
    static type get(const Allocator& a) noexcept { return a; }
};
template <class T>
struct node_allocator_for<std::allocator<T>> {
    using type = cached_allocator<T>;
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
    completion_impl(H&& handler, const IoExecutor& io_ex, bool is_receive)
        : base(&vtable_instance, is_receive)
        , work_(net::prefer(net::get_associated_executor(handler, io_ex),
                            net::execution::outstanding_work.tracked))
        , handler_(std::forward<H>(handler))
        , slot_(net::get_associated_cancellation_slot(handler_))
        , same_executor_(same_executor(handler_, io_ex)) {}

    static allocator_type node_alloc(const Handler& handler) noexcept {
        return allocator_traits::get(
            net::get_associated_allocator(handler, net::recycling_allocator<void>()));
    }

    /// `is_receive`: a receive's completion, which try_receive must not overtake.
    template <class H>
    static completion_impl* create(H&& handler, const IoExecutor& io_ex, bool is_receive = false) {
        node_allocator alloc(node_alloc(handler));
        completion_impl* p = std::allocator_traits<node_allocator>::allocate(alloc, 1);
        try {
            std::allocator_traits<node_allocator>::construct(alloc, p, std::forward<H>(handler),
                                                             io_ex, is_receive);
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

    /// `here`: from the session's completion queue, in a handler running on the session's
    /// executor; a handler on that same executor then runs right here.
    static void do_invoke(base* b, bool here) {
        auto* self = static_cast<completion_impl*>(b);
        // Move everything out and free the node first, so the handler may start another
        // operation that reuses this memory.
        const bool direct = here && self->same_executor_;
        work_executor ex(std::move(self->work_));
        Handler handler(std::move(self->handler_));
        std::tuple<Args...> result(std::move(self->result_));
        free(self, node_alloc(handler));
        if (direct) {
            std::apply(std::move(handler), std::move(result));
            return;
        }
        auto call = [handler = std::move(handler), result = std::move(result)]() mutable {
            std::apply(std::move(handler), std::move(result));
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

    static constexpr typename base::vtable_type vtable_instance{&do_invoke, &do_destroy,
                                                                &do_on_cancel, &do_clear_cancel};

    work_executor work_;
    Handler handler_;
    slot_type slot_;
    bool same_executor_;
};

/// Spare byte buffers for try_send's shared frames, per thread: a buffer written out is reused
/// by the next, so streaming allocates nothing once warm.
class payload_cache {
public:
    static constexpr std::size_t depth = 8;
    static constexpr std::size_t max_capacity = std::size_t{16} * 1024;

    static std::string take() {
        payload_cache& c = local();
        return c.count_ > 0 ? std::move(c.spare_[--c.count_]) : std::string();
    }
    static void give(std::string&& buffer) noexcept {
        payload_cache& c = local();
        if (c.count_ < depth && buffer.capacity() <= max_capacity) {
            buffer.clear();
            c.spare_[c.count_++] = std::move(buffer);
        }
    }

private:
    static payload_cache& local() noexcept {
        static thread_local payload_cache cache;
        return cache;
    }
    std::string spare_[depth];
    std::size_t count_ = 0;
};

/// A node nobody waits for (frames queued by try_send): never queued for completion, only
/// destroyed once written, so it holds no executor, no work and no handler.
template <class Data, class... Args>
class detached_completion final : public completion<Data, Args...> {
    using base = completion<Data, Args...>;

public:
    static detached_completion* create() {
        void* p = node_cache::allocate(sizeof(detached_completion));
        return ::new (p) detached_completion();
    }

private:
    detached_completion() noexcept
        : base(&vtable_instance, false) {}

    static void do_invoke(base* b, bool) { do_destroy(b); }
    static void do_destroy(base* b) {
        auto* self = static_cast<detached_completion*>(b);
        self->~detached_completion();
        node_cache::deallocate(self, sizeof(detached_completion));
    }
    static void do_on_cancel(base*, typename base::cancel_fn, void*) {}
    static void do_clear_cancel(base*) {}

    static constexpr typename base::vtable_type vtable_instance{&do_invoke, &do_destroy,
                                                                &do_on_cancel, &do_clear_cancel};
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
