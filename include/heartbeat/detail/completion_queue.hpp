// The one way user code runs: completions whose results are decided wait in this per-session
// queue, in the order they were decided, and run only when the session's state is whole.
//
// The session works in turns: each of its own Asio handlers (a read, a write, the timer, a
// posted drain) is one turn. A turn first lets the reader, the writer and the sentry do their
// work, which may decide completions; only then does it drain this queue, running the
// application's handlers one after another, and start the write that gathers what they sent.
// A completion decided outside a turn (in an initiating function, close(), a cancellation slot)
// schedules one posted drain, which is a turn of its own. So the rule does not depend on the call
// site: user code never runs inside the session's own code, never from an initiating function,
// and always in order.
#ifndef HEARTBEAT_DETAIL_COMPLETION_QUEUE_HPP
#define HEARTBEAT_DETAIL_COMPLETION_QUEUE_HPP

#include <heartbeat/detail/config.hpp>

#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// Something the queue can run or, when its io_context is gone, discard without running. A
/// completion's function also serves the session's other requests (detail/completion.hpp).
struct ready_entry {
    enum class action : std::uint8_t { run, discard, post, connect_cancel, clear_cancel };
    using function = void (*)(ready_entry*, action, void* arg);

    explicit ready_entry(function f, bool is_receive = false, bool runs_here = true) noexcept
        : fn(f)
        , receive(is_receive)
        , here(runs_here) {}

    ready_entry* next_ready = nullptr;
    function fn;
    bool receive; // a receive completion: try_receive must not overtake it
    bool here;    // runs right in the drain; else its handler is dispatched to its executor
    bool queued = false;
    bool owns_work = false;        // a completion's: it holds work on its executor itself
    bool cancel_connected = false; // a completion's: its handler's slot calls the session
};

class completion_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    /// Receive completions waiting: frames they carry come before any try_receive.
    std::uint32_t receives() const noexcept { return receives_; }

    void push(ready_entry* e) noexcept {
        HEARTBEAT_ASSERT(!e->queued, "a completion queued twice");
        e->queued = true;
        e->next_ready = nullptr;
        if (tail_)
            tail_->next_ready = e;
        else
            head_ = e;
        tail_ = e;
        receives_ += e->receive ? 1 : 0;
    }

    ready_entry* pop() noexcept {
        ready_entry* e = head_;
        if (!e)
            return nullptr;
        head_ = e->next_ready;
        if (!head_)
            tail_ = nullptr;
        e->queued = false;
        receives_ -= e->receive ? 1 : 0;
        return e;
    }

    /// Runs the next entry; false when there is none. The entry is unlinked first, so its
    /// handler may queue more (they run after it) or destroy the session's handle. `memory`:
    /// what the entries were allocated from, for them to free themselves into.
    bool run_one(void* memory) {
        ready_entry* e = pop();
        if (!e)
            return false;
        e->fn(e, ready_entry::action::run, memory);
        return true;
    }

    /// Drops every entry unrun (their io_context is being destroyed).
    void discard_all(void* memory) noexcept {
        while (ready_entry* e = pop())
            e->fn(e, ready_entry::action::discard, memory);
    }

    // Turns. A turn is under way while one of the session's own handlers runs; a drain is posted
    // when a completion is decided outside any turn.
    bool in_turn() const noexcept { return turns_ > 0; }
    void enter_turn() noexcept { ++turns_; }
    void leave_turn() noexcept { --turns_; }
    /// True when the caller, outside any turn, must post a drain (once: later callers find it
    /// posted). Inside a turn, the turn's end drains.
    bool needs_posted_drain() noexcept {
        if (in_turn() || drain_posted_)
            return false;
        drain_posted_ = true;
        return true;
    }
    /// The posted drain runs: a later completion decided outside a turn posts another.
    void posted_drain_started() noexcept { drain_posted_ = false; }
    bool drain_posted() const noexcept { return drain_posted_; }

private:
    ready_entry* head_ = nullptr;
    ready_entry* tail_ = nullptr;
    std::uint32_t receives_ = 0;
    std::uint16_t turns_ = 0; // nested when a handler of ours runs the io_context re-entrantly
    bool drain_posted_ = false;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
