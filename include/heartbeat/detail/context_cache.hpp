// Recycled memory for the hot path, owned by the io_context (an execution_context service), not
// by a thread. Why: per-thread caches held in thread_local objects with destructors broke in
// three ways. A static io_context destroyed at exit freed blocks into caches the exit had
// already destroyed; MinGW-w64 crashes running thread_local destructors at thread exit; and
// their lifetime had nothing to do with the io_context whose operations used them. Asio ties
// its own recycling to the thread inside io_context::run(); we tie ours to the context:
//
// - context_cache is a service of the stream's execution_context (use_service). Its destructor,
//   run when the context is destroyed, frees everything it holds. That comes after the shutdown
//   of every service, when every pending operation of the context (and so every session state,
//   which owns a timer of the context) is gone.
// - Several threads may run one context (sessions on strands), so try_send's spare payload
//   buffers are kept per thread within the context: a slot each, found through a trivially
//   destructible thread_local pair (context id, slot), so the hot path takes no lock and a
//   thread's exit runs nothing. Ids are never reused, so a thread never takes a new context for
//   a destroyed one. A thread's first use of a context takes a lock to find or make its slot; a
//   slot outlives its thread (there is no hook at thread exit without a thread_local
//   destructor) and goes to the next thread with the same std::thread::id, and a context makes
//   at most max_slots of them (threads beyond keep no spares).
// - The 64 KiB read buffers idle sessions read into (read_scratch) are not kept per thread, so
//   that no exited thread keeps one: a reader claims any free one with an atomic exchange and
//   gives it back after decoding what it read; there are as many as readers at once.
//
// Small blocks (the session's own Asio operations, completion nodes, try_send's frame nodes) are
// not kept here: they use Asio's recycling allocator, which recycles them through the thread
// inside run() and has no thread_local destructor either. A cache of our own by size class was
// measured against it: no fewer allocations per echoed frame nor instructions, and its size
// classes rounded each operation up (32 B more per idle session for most of them).
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

// A thread's first use of a context stays out of line: the hot path is one thread_local read.
#if defined(_MSC_VER)
#define HEARTBEAT_DETAIL_NOINLINE __declspec(noinline)
#else
#define HEARTBEAT_DETAIL_NOINLINE __attribute__((noinline))
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

class context_cache final : public net::execution_context::service {
    /// One thread's spare buffers; only that thread touches them.
    struct slot {
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

    // Asio finds the service by its type (typeid); without RTTI, by the address of `id`, which
    // is never destroyed.
    using key_type = context_cache;
#if defined(ASIO_NO_TYPEID) || defined(BOOST_ASIO_NO_TYPEID)
    static inline net::execution_context::id& id =
        never_destroyed<net::execution_context::id, context_cache>();
    static_assert(std::is_trivially_destructible_v<decltype(id)>); // a reference
#endif

    explicit context_cache(net::execution_context& context)
        : net::execution_context::service(context)
        , id_(next_id()) {}

    context_cache(const context_cache&) = delete;
    context_cache& operator=(const context_cache&) = delete;

    ~context_cache() override {
        local& l = here();
        if (l.context == id_)
            l = local();
        for (std::size_t i = 0; i < slot_count_; ++i)
            delete slots_[i];
    }

    /// The cache of the execution context `ex` belongs to.
    template <class Executor>
    static context_cache& of(const Executor& ex) {
        net::execution_context& context = net::query(ex, net::execution::context);
        return net::use_service<context_cache>(context);
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
        if (buffer.capacity() > payload_max_capacity)
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
        if (found) // else every use comes back here, with a lock, and keeps no spare
            l = local{id_, found};
        return found;
    }

    // Buffers may still come back while the other services destroy their operations; the
    // destructor frees them all.
    void shutdown() override {}

    const std::uint64_t id_;
    std::mutex mutex_; // guards slots_ and slot_count_ (each slot is its owner's alone)
    slot* slots_[max_slots] = {};
    std::size_t slot_count_ = 0;
    claim_pool<read_scratch, max_slots> scratches_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
