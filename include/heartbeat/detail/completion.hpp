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

/// What an operation keeps beside its handler: a send keeps its payload and its place in the
/// send queue, a receive its place among the waiting receivers; the run keeps nothing, and
/// takes no room for it (one is held per idle session).
struct no_data {};
struct unlisted {};
template <class Node, class Data>
struct completion_data {
    Data data{};
    Node* next = nullptr; // the operation's list (send queue, waiting receivers)
    Node* prev = nullptr;
};
template <class Node>
struct completion_data<Node, no_data> {
    Node* next = nullptr;
    Node* prev = nullptr;
};
template <class Node>
struct completion_data<Node, unlisted> {};

/// `Data` is what the operation keeps beside its handler (see completion_data). Once its
/// result is decided (set_result), the node waits in the session's completion queue
/// (detail/completion_queue.hpp), which runs it when the session's state is whole.
///
/// Its one function pointer (ready_entry::fn) serves the queue and the session alike.
template <class Data, class... Args>
class completion : public ready_entry, public completion_data<completion<Data, Args...>, Data> {
public:
    using cancel_fn = void (*)(void* context, completion* node, net::cancellation_type type);

    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;

    /// Decides the result; the handler runs when the queue gets to it. A cancellation from
    /// now on finds nothing to cancel.
    template <class... A>
    void set_result(A&&... args) {
        result_ = std::forward_as_tuple(std::forward<A>(args)...); // assigned in place
        clear_cancel();
    }
    /// The result's values, to build in place (a received frame is copied straight into its
    /// string); then decided().
    std::tuple<Args...>& result() noexcept { return result_; }
    void decided() { clear_cancel(); }
    /// Posts the handler with the result set: only for the run's completion, which comes after
    /// the session's state is gone. `memory`: the session's context cache.
    void post_result(context_cache& memory) { fn(this, action::post, &memory); }
    /// Frees this node without running the handler (its work is released).
    void destroy(context_cache& memory) { fn(this, action::discard, &memory); }
    /// Makes cancellation through the handler's slot call `f(context, this, type)`, until the
    /// result is decided. Does nothing when the handler has no connected slot.
    void on_cancel(cancel_fn f, void* context) {
        cancel_target target{f, context};
        fn(this, action::connect_cancel, &target);
    }
    /// Disconnects the session from the handler's slot, if on_cancel connected it: a slot the
    /// session never used may meanwhile serve another operation of the same handler's owner.
    void clear_cancel() {
        if (this->cancel_connected)
            fn(this, action::clear_cancel, nullptr);
    }

protected:
    struct cancel_target {
        cancel_fn fn;
        void* context;
    };
    completion(function f, bool is_receive, bool here) noexcept
        : ready_entry(f, is_receive, here) {}
    ~completion() = default;

    std::tuple<Args...> result_{};
};

/// Stands for "no executor" when asking a handler for its associated executor: a handler that
/// has none gives back this type.
struct no_executor {};

/// Nodes use the handler's allocator; a handler without one (or with std::allocator) gets the
/// io_context's small blocks (detail/context_cache.hpp), which the session passes wherever a
/// node is freed: the node keeps no pointer to them.
template <class Allocator>
inline constexpr bool is_std_allocator = false;
template <class T>
inline constexpr bool is_std_allocator<std::allocator<T>> = true;

template <class Handler, class IoExecutor, class Data, class... Args>
class completion_impl final : public completion<Data, Args...> {
    using base = completion<Data, Args...>;
    using slot_type = net::associated_cancellation_slot_t<Handler>;
    using handler_executor = typename net::associated_executor<Handler, IoExecutor>::type;
    using work_executor = std::decay_t<decltype(net::prefer(
        std::declval<handler_executor>(), net::execution::outstanding_work.tracked))>;
    using allocator_type = typename net::associated_allocator<Handler>::type;
    using node_allocator =
        typename std::allocator_traits<allocator_type>::template rebind_alloc<completion_impl>;
    static constexpr bool cached = is_std_allocator<allocator_type>;
    // A handler with no executor of its own runs on the I/O executor: known without asking.
    static constexpr bool on_io_executor =
        std::is_same_v<typename net::associated_executor<Handler, no_executor>::type, no_executor>;

public:
    /// `io_executor()`: the session's I/O executor, asked for only when the handler has an
    /// executor of its own to compare it with, or needs work on it. `work_covered`: the session
    /// keeps work on that executor while this node is pending (see owns_work).
    template <class H, class GetIoExecutor>
    completion_impl(H&& handler, const GetIoExecutor& io_executor, bool is_receive,
                    bool work_covered)
        : base(&act, is_receive, false)
        , handler_(std::forward<H>(handler))
        , slot_(net::get_associated_cancellation_slot(handler_)) {
        if constexpr (on_io_executor) {
            this->here = true;
            if (!work_covered)
                start_work(io_executor());
        } else {
            const IoExecutor io_ex = io_executor();
            handler_executor ex = net::get_associated_executor(handler_, io_ex);
            if constexpr (std::is_same_v<handler_executor, IoExecutor>)
                this->here = ex == io_ex;
            if (!(this->here && work_covered))
                start_work(std::move(ex));
        }
    }
    completion_impl(const completion_impl&) = delete;
    completion_impl& operator=(const completion_impl&) = delete;
    completion_impl(completion_impl&&) = delete;
    completion_impl& operator=(completion_impl&&) = delete;
    ~completion_impl() {
        if (this->owns_work)
            work().~work_executor();
    }

    /// `is_receive`: a receive's completion, which try_receive must not overtake. `memory`:
    /// the session's context cache, which it passes again wherever the node is freed.
    template <class H, class GetIoExecutor>
    static completion_impl* create(H&& handler, const GetIoExecutor& io_executor,
                                   context_cache& memory, bool is_receive = false,
                                   bool work_covered = false) {
        const allocator_type handler_alloc = net::get_associated_allocator(handler);
        // Should the handler's move throw, the memory goes back (no try: exceptions may be off).
        class memory_guard {
        public:
            memory_guard(const allocator_type& a, context_cache& m)
                : p(allocate(a, m))
                , alloc(a)
                , memory(m) {}
            memory_guard(const memory_guard&) = delete;
            memory_guard& operator=(const memory_guard&) = delete;
            ~memory_guard() {
                if (p)
                    deallocate(static_cast<completion_impl*>(p), alloc, memory);
            }
            void* get() const noexcept { return p; }
            void release() noexcept { p = nullptr; }

        private:
            void* p;
            const allocator_type& alloc;
            context_cache& memory;
        } guard(handler_alloc, memory);
        auto* node = ::new (guard.get())
            completion_impl(std::forward<H>(handler), io_executor, is_receive, work_covered);
        guard.release();
        return node;
    }

private:
    struct cancel_handler {
        typename base::cancel_fn fn;
        void* context;
        base* node;
        void operator()(net::cancellation_type type) const { fn(context, node, type); }
    };

    static void act(ready_entry* e, ready_entry::action a, void* arg) {
        auto* self = static_cast<completion_impl*>(e);
        if constexpr (cached) {
            // The common case, kept apart from the rest so that it costs little: the drain
            // runs a handler that belongs on the session's executor.
            if (a == ready_entry::action::run && self->here) {
                run_here(self, *static_cast<context_cache*>(arg));
                return;
            }
        }
        act_otherwise(self, a, arg);
    }

    /// The node is the session's memory, not the handler allocator's, so it need not be given
    /// back before the upcall: the handler runs from the node, which saves moving it and its
    /// result out, and the node is freed once the handler returns (or throws). Its slot was
    /// released when the result was decided, so the next operation may take the slot meanwhile.
    static void run_here(completion_impl* self, context_cache& memory) {
        const free_on_exit done{self, memory};
        std::apply(std::move(self->handler_), std::move(self->result_));
    }

    HEARTBEAT_DETAIL_NOINLINE static void act_otherwise(completion_impl* self,
                                                        ready_entry::action a, void* arg) {
        switch (a) {
        case ready_entry::action::run:
            invoke(self, true, *static_cast<context_cache*>(arg));
            break;
        case ready_entry::action::post:
            invoke(self, false, *static_cast<context_cache*>(arg));
            break;
        case ready_entry::action::discard:
            free(self, net::get_associated_allocator(self->handler_),
                 *static_cast<context_cache*>(arg));
            break;
        case ready_entry::action::connect_cancel:
            if (self->slot_.is_connected()) {
                const auto& target = *static_cast<typename base::cancel_target*>(arg);
                self->slot_.template emplace<cancel_handler>(
                    cancel_handler{target.fn, target.context, self});
                self->cancel_connected = true;
            }
            break;
        case ready_entry::action::clear_cancel:
            self->slot_.clear();
            self->cancel_connected = false;
            break;
        }
    }

    /// `here`: from the session's completion queue, in a handler running on the session's
    /// executor; a handler on that same executor then runs right here.
    static void invoke(completion_impl* self, bool here, context_cache& memory) {
        // Move everything out and free the node first, so the handler may start another
        // operation that reuses this memory (a node from the handler's allocator must be
        // given back before the upcall).
        const bool direct = here && self->here;
        HEARTBEAT_ASSERT(direct || self->owns_work, "a completion without work left the drain");
        if constexpr (cached) {
            if (direct) {
                run_here(self, memory);
                return;
            }
        }
        Handler handler(std::move(self->handler_));
        std::tuple<Args...> result(std::move(self->result_));
        if (!self->owns_work) {
            free(self, net::get_associated_allocator(handler), memory);
            std::apply(std::move(handler), std::move(result));
            return;
        }
        work_executor ex(std::move(self->work()));
        free(self, net::get_associated_allocator(handler), memory);
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

    class free_on_exit {
    public:
        free_on_exit(completion_impl* n, context_cache& m) noexcept
            : node(n)
            , memory(m) {}
        free_on_exit(const free_on_exit&) = delete;
        free_on_exit& operator=(const free_on_exit&) = delete;
        ~free_on_exit() { free(node, net::get_associated_allocator(node->handler_), memory); }

    private:
        completion_impl* node;
        context_cache& memory;
    };

    template <class Executor>
    void start_work(Executor&& ex) {
        ::new (static_cast<void*>(&work())) work_executor(
            net::prefer(std::forward<Executor>(ex), net::execution::outstanding_work.tracked));
        this->owns_work = true;
    }

    static void* allocate(const allocator_type& handler_alloc, context_cache& memory) {
        if constexpr (cached) {
            return memory.allocate(sizeof(completion_impl));
        } else {
            node_allocator alloc(handler_alloc);
            return std::allocator_traits<node_allocator>::allocate(alloc, 1);
        }
    }
    static void deallocate(completion_impl* p, const allocator_type& handler_alloc,
                           context_cache& memory) noexcept {
        if constexpr (cached) {
            memory.deallocate(p, sizeof(completion_impl));
        } else {
            node_allocator alloc(handler_alloc);
            std::allocator_traits<node_allocator>::deallocate(alloc, p, 1);
        }
    }
    static void free(completion_impl* p, const allocator_type& handler_alloc,
                     context_cache& memory) {
        if (p->cancel_connected)
            p->slot_.clear();
        p->~completion_impl();
        deallocate(p, handler_alloc, memory);
    }

    Handler handler_;
    slot_type slot_;
    union {
        work_executor work_; // while owns_work (its flag fills padding in ready_entry)
    };
    // The one access to the union, so that it is plain which member is meant.
    work_executor& work() noexcept {
        return work_; // NOLINT(cppcoreguidelines-pro-type-union-access): see owns_work
    }
};

/// A node nobody waits for (frames queued by try_send): never queued for completion, only
/// destroyed once written, so it holds no executor, no work and no handler. From the
/// io_context's small blocks, like the nodes of handlers without an allocator.
template <class Data, class... Args>
class detached_completion final : public completion<Data, Args...> {
    using base = completion<Data, Args...>;

public:
    static detached_completion* create(context_cache& memory) {
        return ::new (memory.allocate(sizeof(detached_completion))) detached_completion();
    }

private:
    detached_completion() noexcept
        : base(&act, false, false) {}

    static void act(ready_entry* e, ready_entry::action a, void* arg) {
        // Written, or dropped: either way freed. It has no handler, so nothing to cancel.
        if (a == ready_entry::action::run || a == ready_entry::action::discard) {
            auto* self = static_cast<detached_completion*>(e);
            self->~detached_completion();
            static_cast<context_cache*>(arg)->deallocate(self, sizeof(detached_completion));
        }
    }
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
