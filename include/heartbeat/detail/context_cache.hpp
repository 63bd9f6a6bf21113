// Recycled memory for the hot path, owned by the io_context (an execution_context service), not
// by a thread. Why: per-thread caches held in thread_local objects with destructors broke in
// three ways. A static io_context destroyed at exit freed blocks into caches the exit had
// already destroyed; MinGW-w64 crashes running thread_local destructors at thread exit; and
// their lifetime had nothing to do with the io_context whose operations used them. Asio ties
// its own recycling to the thread inside io_context::run(); we tie ours to the context:
//
// - context_cache belongs to a service of the stream's execution_context (use_service) and to
//   every session state that uses it: the last of them frees it and everything it holds. Not
//   the service alone, because a service destroyed before ours may still hold a session's
//   pending operation, whose memory and session come back here: services are destroyed in the
//   reverse order of their making, ours is made with the first session, and Asio's io_uring
//   service (1.22) destroys its pending operations in its destructor, not in shutdown().
// - Several threads may run one context (sessions on strands), so the small blocks and spare
//   buffers are kept per thread within the context: a slot each, found through a trivially
//   destructible thread_local pair (context id, slot), so the hot path takes no lock and a
//   thread's exit runs nothing. Ids are never reused, so a thread never takes a new context for
//   a destroyed one. A thread's first use of a context takes a lock to find or make its slot; a
//   slot outlives its thread (there is no hook at thread exit without a thread_local
//   destructor) and goes to the next thread with the same std::thread::id, and a context makes
//   at most max_slots of them (threads beyond use plain new and delete, and take the lock).
// - What a slot holds: small blocks by size class, for the completion nodes of the
//   application's operations and try_send's frame nodes (a receive and a send per echoed frame:
//   Asio's recycling allocator, measured, costs about 40 instructions more per allocation than
//   this inline pop), and spare byte buffers for try_send's frames. Its size classes are malloc's,
//   so a node takes no more memory than from malloc.
// - The 64 KiB read buffers idle sessions read into (read_scratch) are not kept per thread, so
//   that no exited thread keeps one: a reader claims any free one with an atomic exchange and
//   gives it back after decoding what it read; there are as many as readers at once.
//
// The session's own Asio operations (its reads, writes and timer waits) take their memory from
// here too, through cache_allocator: their handler's claim on the session's state leads to the
// cache, so the operation keeps no word more for it (Asio asks a handler for its allocator only
// while the handler is alive, and moved into a local before the memory is freed).
#ifndef HEARTBEAT_DETAIL_CONTEXT_CACHE_HPP
#define HEARTBEAT_DETAIL_CONTEXT_CACHE_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/never_destroyed.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#else
#include <asio/execution/context.hpp>
#include <asio/execution_context.hpp>
#include <asio/query.hpp>
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

// The slow paths stay out of line, and the hot ones inline where they are used: they run a few
// times per frame.
#if defined(_MSC_VER)
#define HEARTBEAT_DETAIL_NOINLINE __declspec(noinline)
#define HEARTBEAT_DETAIL_ALWAYS_INLINE __forceinline
#else
#define HEARTBEAT_DETAIL_NOINLINE __attribute__((noinline))
#define HEARTBEAT_DETAIL_ALWAYS_INLINE __attribute__((always_inline)) inline
#endif

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// Up to N objects of type T, made on demand, each used by one thread at a time. T has a member
/// `std::atomic<bool> busy`.
template <class T, unsigned N>
class claim_pool {
    static_assert((N & (N - 1)) == 0, "N is a power of two");

public:
    claim_pool() = default;
    claim_pool(const claim_pool&) = delete;
    claim_pool& operator=(const claim_pool&) = delete;
    ~claim_pool() {
        for (auto& item : items_)
            delete item.load(std::memory_order_acquire);
    }

    /// An item nobody else uses until release(), or null when all N are busy (or memory ran
    /// out making one). Tries the one at `hint` first, then any other made before, and only
    /// then makes one.
    T* claim(unsigned& hint) noexcept {
        for (unsigned i = 0; i < N; ++i) {
            const unsigned k = (hint + i) & (N - 1);
            T* t = items_[k].load(std::memory_order_acquire);
            if (t && !t->busy.exchange(true, std::memory_order_acquire)) {
                hint = k;
                return t;
            }
        }
        for (unsigned k = 0; k < N; ++k) {
            if (items_[k].load(std::memory_order_acquire))
                continue;
            T* t = make(k);
            if (!t)
                return nullptr;
            if (!t->busy.exchange(true, std::memory_order_acquire)) {
                hint = k;
                return t;
            }
        }
        return nullptr;
    }
    static void release(T* t) noexcept { t->busy.store(false, std::memory_order_release); }

    /// Calls f(T&) on every item made. Only when no other thread uses the pool.
    template <class F>
    void for_each(F f) {
        for (auto& item : items_)
            if (T* t = item.load(std::memory_order_acquire))
                f(*t);
    }

private:
    T* make(unsigned k) noexcept {
        T* fresh = new (std::nothrow) T();
        if (!fresh)
            return nullptr;
        T* expected = nullptr;
        if (items_[k].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                              std::memory_order_acquire))
            return fresh;
        delete fresh; // another thread made one first: take that one
        return expected;
    }

    std::atomic<T*> items_[N] = {};
};

/// Small blocks by size class: 16-byte granules (malloc's own), up to 512 bytes, a few of each.
class block_pool {
public:
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t classes = 32; // blocks up to 512 bytes
    static constexpr std::size_t depth = 8;    // cached blocks per size class

    static bool fits(std::size_t size) noexcept { return size > 0 && size <= granule * classes; }
    static std::size_t class_of(std::size_t size) noexcept { return (size - 1) / granule; }

    void* take(std::size_t k) noexcept { return count_[k] > 0 ? blocks_[k][--count_[k]] : nullptr; }
    bool give(std::size_t k, void* p) noexcept {
        if (count_[k] == depth)
            return false;
        blocks_[k][count_[k]++] = p;
        return true;
    }

    block_pool() = default;
    block_pool(const block_pool&) = delete;
    block_pool& operator=(const block_pool&) = delete;
    ~block_pool() {
        for (std::size_t k = 0; k < classes; ++k)
            while (count_[k] > 0)
                ::operator delete(blocks_[k][--count_[k]]);
    }

private:
    void* blocks_[classes][depth] = {};
    unsigned char count_[classes] = {};
};

/// The 64 KiB buffer idle sessions read into (detail/read_scratch.hpp).
class read_scratch { // NOLINT(cppcoreguidelines-pro-type-member-init): see the constructor
public:
    static constexpr std::size_t capacity = std::size_t{64} * 1024;

    // User-provided, so that even `new read_scratch()` leaves the buffer uninitialized: no page
    // of it is touched before use (a defaulted constructor would zero it there).
    // NOLINTNEXTLINE(modernize-use-equals-default,cppcoreguidelines-pro-type-member-init)
    read_scratch() noexcept {}

    char* data() noexcept { return data_; }
    /// Gives the buffer back to its context.
    void release() noexcept { busy.store(false, std::memory_order_release); }

    std::atomic<bool> busy{false};

private:
    alignas(64) char data_[capacity];
};

/// Shared by its execution context's service and the session states that use it (share() and
/// unshare()); the last of them frees it.
class context_cache {
    /// One thread's blocks and spare buffers; only that thread touches them.
    struct slot {
        block_pool blocks;
        std::thread::id owner;
        std::size_t spare_count = 0;
        std::string spare[8];
    };
    /// The slot of the context this thread used last.
    struct local {
        std::uint64_t context = 0;
        slot* mine = nullptr; // set whenever `context` is
    };
    static constexpr std::size_t max_slots = 64;

public:
    /// Spare payload buffers kept per slot, and the largest capacity worth keeping.
    static constexpr std::size_t payload_depth = 8;
    static constexpr std::size_t payload_max_capacity = std::size_t{16} * 1024;

    context_cache()
        : id_(next_id()) {}
    context_cache(const context_cache&) = delete;
    context_cache& operator=(const context_cache&) = delete;

    ~context_cache() {
        local& l = here();
        if (l.context == id_)
            l = local();
#if !defined(NDEBUG)
        HEARTBEAT_ASSERT(outstanding_.load() == 0,
                         "a block of an io_context's cache outlived every user of the cache");
#endif
        for (std::size_t i = 0; i < slot_count_; ++i)
            delete slots_[i];
    }

    /// The cache of the execution context `ex` belongs to, while that context lives.
    template <class Executor>
    static context_cache& of(const Executor& ex);

    /// Makes the caller one more owner of this cache, until its unshare().
    context_cache& share() noexcept {
        users_.fetch_add(1, std::memory_order_relaxed);
        return *this;
    }
    /// Gives up the caller's share; the last one frees the cache. Every block the caller took
    /// must be back.
    void unshare() noexcept {
        if (users_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    HEARTBEAT_DETAIL_ALWAYS_INLINE void* allocate(std::size_t size) {
#if !defined(NDEBUG)
        if (block_pool::fits(size))
            outstanding_.fetch_add(1, std::memory_order_relaxed);
#endif
        if (block_pool::fits(size)) { // the hot path, inline: one thread_local read and a pop
            const local& l = here();
            if (l.context == id_) // then l.mine is set
                if (void* p = l.mine->blocks.take(block_pool::class_of(size)))
                    return p;
        }
        return allocate_slow(size);
    }

    HEARTBEAT_DETAIL_ALWAYS_INLINE void deallocate(void* p, std::size_t size) noexcept {
        if (block_pool::fits(size)) {
#if !defined(NDEBUG)
            outstanding_.fetch_sub(1, std::memory_order_relaxed);
#endif
            const local& l = here();
            if (l.context == id_ && l.mine->blocks.give(block_pool::class_of(size), p))
                return;
        }
        deallocate_slow(p, size);
    }

    /// A block from plain new, as large as the cache's own for `size`: it may be freed into
    /// a cache (cache_allocator without a cache, for a handler moved from).
    static void* block(std::size_t size) {
        return ::operator new(
            block_pool::fits(size) ? (block_pool::class_of(size) + 1) * block_pool::granule : size);
    }

    /// An empty string, with the capacity of a buffer written out before when there is one.
    std::string take_payload() noexcept {
        slot* s = mine();
        if (s && s->spare_count > 0)
            return std::move(s->spare[--s->spare_count]);
        return {};
    }
    /// Keeps `buffer`'s memory for a later take_payload(), unless enough are kept or it is
    /// large.
    void give_payload(std::string&& buffer) noexcept {
        // Not a large one, nor one with no memory of its own (a short string's inline storage):
        // it would only push a useful one out.
        if (buffer.capacity() > payload_max_capacity || buffer.capacity() <= inline_capacity())
            return;
        slot* s = mine();
        if (s && s->spare_count < payload_depth) {
            buffer.clear();
            s->spare[s->spare_count++] = std::move(buffer);
        }
    }

    /// A read buffer that is the caller's until its release(), or null when none is free.
    read_scratch* acquire_scratch() noexcept {
        return scratches_.claim(scratch_hint());
    }

private:
    static std::size_t inline_capacity() noexcept {
        return std::string().capacity();
    }

    HEARTBEAT_DETAIL_NOINLINE void* allocate_slow(std::size_t size) {
        if (block_pool::fits(size)) {
            const std::size_t k = block_pool::class_of(size);
            slot* s = mine();
            void* p = s ? s->blocks.take(k) : nullptr;
            return p ? p : block(size);
        }
        return block(size);
    }

    HEARTBEAT_DETAIL_NOINLINE void deallocate_slow(void* p, std::size_t size) noexcept {
        if (block_pool::fits(size)) {
            slot* s = mine();
            if (s && s->blocks.give(block_pool::class_of(size), p))
                return;
        }
        ::operator delete(p);
    }

    static local& here() noexcept {
        static thread_local local l;
        static_assert(std::is_trivially_destructible_v<decltype(l)>);
        return l;
    }
    static unsigned& scratch_hint() noexcept {
        static thread_local unsigned hint = 0;
        static_assert(std::is_trivially_destructible_v<decltype(hint)>);
        return hint;
    }
    /// Ids are never reused, so a thread that last used a context now destroyed never mistakes
    /// a new context for it.
    static std::uint64_t next_id() noexcept {
        static std::atomic<std::uint64_t> last{0};
        static_assert(std::is_trivially_destructible_v<decltype(last)>);
        return last.fetch_add(1, std::memory_order_relaxed) + 1;
    }

    slot* mine() noexcept {
        local& l = here();
        if (l.context == id_)
            return l.mine;
        return enter(l);
    }

    /// This thread's first use of the context (or its first since it used another): finds its
    /// slot, one left by an exited thread whose id it got, or makes one.
    HEARTBEAT_DETAIL_NOINLINE slot* enter(local& l) noexcept {
        const std::thread::id me = std::this_thread::get_id();
        slot* found = nullptr;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            for (std::size_t i = 0; i < slot_count_ && !found; ++i)
                if (slots_[i]->owner == me)
                    found = slots_[i];
            if (!found && slot_count_ < max_slots) {
                found = new (std::nothrow) slot();
                if (found) {
                    found->owner = me;
                    slots_[slot_count_++] = found;
                }
            }
        }
        if (found) // else every use comes back here: plain new and delete, with a lock
            l = local{id_, found};
        return found;
    }

    const std::uint64_t id_;
    std::atomic<std::size_t> users_{0}; // the service, and each session state using the cache
    std::mutex mutex_; // guards slots_ and slot_count_ (each slot is its owner's alone)
    slot* slots_[max_slots] = {};
    std::size_t slot_count_ = 0;
    claim_pool<read_scratch, max_slots> scratches_;
#if !defined(NDEBUG)
    std::atomic<std::ptrdiff_t> outstanding_{0}; // small blocks allocated and not freed
#endif
};

/// A share of a context's cache: its service's, or a session state's.
class shared_cache {
public:
    explicit shared_cache(context_cache& cache) noexcept
        : cache_(&cache.share()) {}
    shared_cache(const shared_cache&) = delete;
    shared_cache& operator=(const shared_cache&) = delete;
    ~shared_cache() { cache_->unshare(); }

    context_cache* get() const noexcept { return cache_; }
    context_cache& operator*() const noexcept { return *cache_; }
    context_cache* operator->() const noexcept { return cache_; }

private:
    context_cache* const cache_;
};

/// The execution context's share of its cache.
class context_cache_service final : public net::execution_context::service {
public:
    // Asio finds the service by its type (typeid); without RTTI, by the address of `id`, which
    // is never destroyed.
    using key_type = context_cache_service;
#if defined(ASIO_NO_TYPEID) || defined(BOOST_ASIO_NO_TYPEID)
    static inline net::execution_context::id& id =
        never_destroyed<net::execution_context::id, context_cache_service>();
    static_assert(std::is_trivially_destructible_v<decltype(id)>); // a reference
#endif

    explicit context_cache_service(net::execution_context& context)
        : net::execution_context::service(context)
        , cache_(*new context_cache()) {}
    context_cache_service(const context_cache_service&) = delete;
    context_cache_service& operator=(const context_cache_service&) = delete;
    ~context_cache_service() override = default;

    context_cache& cache() noexcept {
        return *cache_;
    }

private:
    // Blocks may still come back while the other services destroy their operations.
    void shutdown() override {}

    shared_cache cache_;
};

template <class Executor>
context_cache& context_cache::of(const Executor& ex) {
    net::execution_context& context = net::query(ex, net::execution::context);
    return net::use_service<context_cache_service>(context).cache();
}

/// An allocator over a context's cache, for the handlers of the session's own Asio operations.
/// Without a cache (the handler was moved from: Asio frees through one only when an operation
/// failed to start), blocks go to plain new and delete, where a block would go anyway.
template <class T>
class cache_allocator {
public:
    using value_type = T;

    explicit cache_allocator(context_cache* cache) noexcept
        : cache_(cache) {}
    template <class U>
    cache_allocator(const cache_allocator<U>& other) noexcept // NOLINT(google-explicit-constructor)
        : cache_(other.cache_) {}

    T* allocate(std::size_t n) {
        const std::size_t size = n * sizeof(T);
        if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
            return static_cast<T*>(::operator new(size, std::align_val_t(alignof(T))));
        else
            return static_cast<T*>(cache_ ? cache_->allocate(size) : context_cache::block(size));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
            ::operator delete(p, std::align_val_t(alignof(T)));
        } else if (cache_) {
            cache_->deallocate(p, n * sizeof(T));
        } else {
            ::operator delete(p);
        }
    }

    friend bool operator==(const cache_allocator& a, const cache_allocator& b) noexcept {
        return a.cache_ == b.cache_;
    }
    friend bool operator!=(const cache_allocator& a, const cache_allocator& b) noexcept {
        return a.cache_ != b.cache_;
    }

private:
    template <class>
    friend class cache_allocator;
    context_cache* cache_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
