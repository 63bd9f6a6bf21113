// The shared state behind a heartbeat_session: the stream, the one timer, the waiting
// operations, and the parts that own their state: the reader's logic (detail/frame_reader.hpp:
// the read buffer, the frames held), the writer (detail/frame_writer.hpp: the send queue, the
// heartbeats to send, the batch in flight), liveness and the PING tracker, the completion queue.
// The session handle owns it; while any internal operation (read, write, timer wait, posted
// drain) is pending, the state also owns itself, so destroying the handle cancels everything and
// the last completing operation frees it.
//
// Everything here runs on the stream's executor (use a strand for multi-threaded contexts);
// only close() may be called from elsewhere, and it posts. The member functions of each
// operation live in impl/, one file per operation; they wire the parts together and do the I/O
// (impl/write_op.hpp writes what the writer gathered). The application's handlers run only from
// the completion queue, at the end of a turn (detail/completion_queue.hpp).
#ifndef HEARTBEAT_DETAIL_SESSION_STATE_HPP
#define HEARTBEAT_DETAIL_SESSION_STATE_HPP

#include <heartbeat/detail/close_stream.hpp>
#include <heartbeat/detail/completion.hpp>
#include <heartbeat/detail/completion_queue.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/context_cache.hpp>
#include <heartbeat/detail/frame_reader.hpp>
#include <heartbeat/detail/frame_writer.hpp>
#include <heartbeat/detail/liveness.hpp>
#include <heartbeat/detail/ping_tracker.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>
#include <heartbeat/health.hpp>
#include <heartbeat/options.hpp>
#include <heartbeat/statistics.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// The application's claim on the state: held by the session handle, and by a close() on its
/// way to the session's executor. Copying it is safe from any thread (close() copies); it is
/// given back on the session's executor (or where its io_context is destroyed). The state is
/// freed when the last of these claims and of the operations' claims (op_ref) is given back.
template <class State>
class state_owner {
public:
    state_owner() noexcept = default;
    /// Adopts a state just made, which starts with one owner.
    explicit state_owner(State* fresh) noexcept
        : state_(fresh) {}
    state_owner(const state_owner& other) noexcept
        : state_(other.state_) {
        if (state_)
            state_->owners_.fetch_add(1, std::memory_order_relaxed);
    }
    state_owner(state_owner&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)) {}
    state_owner& operator=(const state_owner&) = delete;
    state_owner& operator=(state_owner&& other) noexcept {
        if (this != &other) {
            reset();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    ~state_owner() { reset(); }

    void reset() noexcept {
        if (State* s = std::exchange(state_, nullptr))
            s->owner_released();
    }
    State* operator->() const noexcept { return state_; }
    State& operator*() const noexcept { return *state_; }
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    State* state_ = nullptr;
};

/// One pending internal operation's claim on the state, held by its handler. Moving it moves the
/// claim. When the handler runs, it takes the claim and gives it back after the turn; a claim
/// destroyed still held means the handler never ran: its io_context is going away. Either way
/// the state is freed exactly when nothing refers to it. The count is not atomic: everything
/// happens on the session's executor.
template <class State>
class op_ref {
public:
    explicit op_ref(State* state) noexcept
        : state_(state) {
        state_->hold();
    }
    op_ref(op_ref&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)) {}
    op_ref(const op_ref&) = delete;
    op_ref& operator=(const op_ref&) = delete;
    op_ref& operator=(op_ref&&) = delete;
    /// Destroyed holding its claim: the handler never ran (see internal_handler).
    ~op_ref() {
        if (state_)
            state_->release(false);
    }
    /// The handler runs: the claim goes to the caller, who gives it back once the turn is over.
    State* take() noexcept { return std::exchange(state_, nullptr); }
    /// The state claimed; null once taken or moved from.
    State* get() const noexcept { return state_; }

private:
    State* state_; // one word, so that each of the session's Asio operations is small
};

/// The completion handler of one of the session's own Asio operations: it holds a claim on the
/// state and runs one turn of the session with the state's member `Step` (see
/// detail/completion_queue.hpp). The claim is given back after the turn. The operation's memory
/// comes from the io_context's small blocks, found through the state (cache_allocator).
template <class State, auto Step>
struct internal_handler {
    op_ref<State> self;
    explicit internal_handler(op_ref<State> claim) noexcept
        : self(std::move(claim)) {}

    using allocator_type = cache_allocator<void>;
    allocator_type get_allocator() const noexcept {
        const State* s = self.get();
        return allocator_type(s ? s->cache_.get() : nullptr);
    }

    template <class... Results>
    void operator()(Results... results) {
        const invoked_claim claim(self.take());
        claim.state->template run_turn<Step>(results...);
    }

private:
    /// The claim of a handler that runs, given back once its turn is over (or left by a throw).
    struct invoked_claim {
        explicit invoked_claim(State* s) noexcept
            : state(s) {}
        ~invoked_claim() { state->release(true); }
        invoked_claim(const invoked_claim&) = delete;
        invoked_claim& operator=(const invoked_claim&) = delete;
        invoked_claim(invoked_claim&&) = delete;
        invoked_claim& operator=(invoked_claim&&) = delete;
        State* state;
    };
};

/// `Clock` serves now() and the timer (net::basic_waitable_timer<Clock>); the liveness rules
/// work on steady_clock's time_point, so Clock must share it (a test's manual clock does).
template <class Stream, class Framing, class Clock>
class session_state {
public:
    using executor_type = typename Stream::executor_type;
    using clock = Clock;
    using time_point = typename clock::time_point;
    static_assert(std::is_same_v<time_point, std::chrono::steady_clock::time_point>,
                  "heartbeat_session's Clock must use std::chrono::steady_clock::time_point");
    using run_node = completion<unlisted, error_code>;
    using send_node = completion<send_data<Framing>, error_code>;
    using receive_node = completion<no_data, error_code, std::string>;

    session_state(Stream&& stream, const options& opts, Framing framing)
        : stream_(std::move(stream))
        , framing_(std::move(framing))
        , opts_((opts.validate(), opts))
        , timer_(stream_.get_executor())
        , cache_(context_cache::of(stream_.get_executor()))
        , writer_(opts_.send_queue_limit)
        , pings_(Framing::heartbeat_ids, opts_.min_peer_ping_interval)
        , clocks_(opts_, pings_,
                  reinterpret_cast<std::uintptr_t>(this) ^
                      static_cast<std::uint64_t>(clock::now().time_since_epoch().count())) {
        clocks_.started(clock::now());
    }

    ~session_state() {
        HEARTBEAT_ASSERT(pending_ == 0, "session state freed with one of its operations pending");
        HEARTBEAT_ASSERT(ready_.empty(), "session state freed with completions not run");
        // Only reached once nothing is pending; nodes left here were never completed.
        while (auto* n = receivers_.pop_front())
            n->destroy(*cache_);
        auto sends = writer_.take_all();
        while (auto* n = sends.pop_front())
            n->destroy(*cache_);
        if (run_)
            run_->destroy(*cache_);
    }

    session_state(const session_state&) = delete;
    session_state& operator=(const session_state&) = delete;

    executor_type get_executor() noexcept { return stream_.get_executor(); }
    Stream& stream() noexcept { return stream_; }
    const Stream& stream() const noexcept { return stream_; }
    const options& get_options() const noexcept { return opts_; }

    heartbeat::statistics get_statistics() const {
        const time_point now = clock::now();
        heartbeat::statistics s;
        s.pings_sent = counts_.pings_sent;
        s.pings_received = counts_.pings_received;
        s.frames_received = counts_.frames_received;
        s.frames_sent = counts_.frames_sent;
        s.bytes_received = counts_.bytes_received;
        s.bytes_sent = counts_.bytes_sent;
        s.pongs_sent = writer_.pongs_sent();
        s.pongs_received = pings_.pongs();
        s.last_rtt = pings_.last_rtt();
        s.smoothed_rtt = pings_.smoothed_rtt();
        s.rtt_variance = pings_.rtt_variance();
        s.stalls = clocks_.stalls();
        s.since_last_receive = now - clocks_.last_read();
        s.suspect = live() && clocks_.suspect(now);
        return s;
    }

    void set_health_observer(std::function<void(health)> observer) {
        const bool watching = observer != nullptr;
        if (!observer_) {
            if (!watching)
                return;
            observer_ = std::make_unique<health_observer>(this);
        }
        observer_->replaced = true; // an observer running now is not put back (notify_observer)
        observer_->function.swap(observer); // the one replaced goes when this returns
        clocks_.watch_health(watching, clock::now());
        if (watching)
            rearm();
    }

    /// The session ended or is ending (see ended()): heartbeat_session::ending().
    bool is_ending() const noexcept { return ended(); }

    // impl/run_op.hpp
    template <class Handler>
    void start_run(Handler&& handler);
    void stop(error_code reason);
    /// close(): ends the session, except after the peer's EOF, where it lets what is queued go
    /// out first (see impl/half_close.hpp).
    void close_requested();

    // impl/send_op.hpp
    template <class Handler>
    void start_send(std::string&& payload, Handler&& handler);

    error_code try_send(const char* payload, std::size_t size);
    /// An awaiting coroutine's async_send, decided at once when start_send would complete it
    /// with success at once and nothing waits in the completion queue (so completions keep
    /// their order): true when `payload` was accepted. False leaves `payload` as it was, for
    /// start_send, which reaches the same verdict.
    bool send_at_once(std::string& payload);
    template <class Handler>
    void start_flush(Handler&& handler);

    // impl/receive_op.hpp
    template <class Handler>
    void start_receive(Handler&& handler);
    bool try_receive(std::string& frame);
    /// An awaiting coroutine's async_receive, decided at once: the next held frame, when nothing
    /// waits in the completion queue (completions, receives above all, keep their order).
    bool receive_at_once(std::string& frame);
    /// receive_at_once() may succeed (frames are held or left undecoded): asked when an awaited
    /// async_receive is made, so that one that must wait takes the ordinary path without the
    /// shortcut's coroutine around it.
    bool may_receive_at_once() const noexcept { return ready_.empty() && reader_.holds(); }

private:
    enum class phase : std::uint8_t { idle, running, stopping, stopped };

    template <class, auto>
    friend struct internal_handler;
    friend class op_ref<session_state>;
    friend class state_owner<session_state>;
    using ref = op_ref<session_state>;

    // The state is freed once neither the application (state_owner) nor a pending internal
    // operation (op_ref) holds it. Two counts, so that only the application's, which close()
    // changes from any thread, is atomic: the operations' changes a few times per frame.
    void hold() noexcept { ++pending_; }
    void release(bool invoked);
    void owner_released() noexcept {
        if (owners_.fetch_sub(1, std::memory_order_acq_rel) == 1 && pending_ == 0)
            delete this;
    }
    void abandon_completions() noexcept;

    // Turns and the completion queue (detail/completion_queue.hpp).
    template <auto Step, class... Results>
    void run_turn(Results... results);
    void finish_turn();
    void on_drain() noexcept { ready_.posted_drain_started(); }
    /// Makes sure a turn will drain the queue: the one under way, or a posted one.
    void request_drain();
    /// Decides `node`'s result; its handler runs when the queue gets to it.
    template <class Node, class... A>
    void complete(Node* node, A&&... args) {
        node->set_result(std::forward<A>(args)...);
        queue_decided(node);
    }
    /// complete() for a node whose result was built in place (Node::result()), or is the one
    /// it was made with (success, and empty values).
    template <class Node>
    void complete_in_place(Node* node) {
        node->decided();
        queue_decided(node);
    }
    void queue_decided(ready_entry* node) {
        ready_.push(node);
        request_drain();
    }
    /// The session's I/O executor, for a new completion to ask for only if it needs it (a copy
    /// of an any_io_executor is not free).
    auto io_executor() noexcept {
        return [this] {
            return get_executor();
        };
    }
    /// While the run is pending, its node holds work on its handler's executor, and it completes
    /// only after every other completion has run (release()). A completion whose handler runs on
    /// that same executor, the session's, then needs no work of its own: Asio's own operations
    /// hold none for a handler on their I/O object's io_context, for the same reason.
    bool run_keeps_work() const noexcept {
        HEARTBEAT_ASSERT(!run_ || run_->owns_work, "the run's completion holds no work");
        return run_ != nullptr && run_->here;
    }

    // impl/read_op.hpp
    void start_read();
    void on_read(error_code ec, std::size_t n);
    void on_ready(error_code ec);
    void read_ready();
    void note_flow(time_point previous_read) noexcept;
    void after_reads(time_point previous_read);
    std::size_t read_into_scratch(error_code& ec, std::size_t& requested);
    std::size_t read_into_buffer(error_code& ec, std::size_t& requested);
    time_point bytes_read(std::size_t n);
    bool heartbeat_received(const decode_result& r, time_point now);
    bool deliver(const char* payload, std::size_t size);
    bool take_held(std::string& frame);
    void settle_reads();
    void resume_reading();
    void read_failed(error_code ec);

    // impl/half_close.hpp
    void peer_finished();
    void finish_half_close();
    void eof_taken();

    // impl/write_op.hpp
    /// Starts a write of what is pending unless one is in flight; inside a turn, the turn's
    /// end writes. Inline: it runs after every queued frame, and mostly finds nothing to do.
    void start_write() {
        if (live() && !writer_.writing() && !ready_.in_turn())
            write_batch(false);
    }
    void write_batch(bool direct);
    void write_some(bool direct);
    /// Windows (IOCP): the most one asynchronous write holds, as much as a batch of small
    /// frames does; its completion is the only news of its progress (see impl/write_op.hpp).
    static constexpr std::size_t iocp_write_bytes = std::size_t{64} * 1024;
    void on_write(error_code ec, std::size_t n);
    void end_write(error_code ec);
    void drop_send(send_node* node);
    void retire_flushes();
    /// The completion of an async_send or async_flush, holding `handler`.
    template <class Handler>
    send_node* new_send_completion(Handler&& handler);
    /// An accepted async_send frame up to this size may be copied into try_send's shared
    /// buffer (see accept()); a larger one keeps its own storage (a node beats copying it).
    static constexpr std::size_t copied_frame_size = 1024;
    bool accept(std::string&& payload);
    /// What async_send, try_send and the coroutine shortcut refuse before the queue's room.
    error_code refusal(const char* payload, std::size_t size);
    /// accept()'s copy into the shared buffer, out of line: try_send has the same inline (its
    /// hot path), and a second inline copy in accept() made its other path slower.
    bool append_frame(const char* payload, std::size_t size);
    /// A detached node with an empty payload of capacity `bytes`, for a new shared buffer.
    send_node* new_shared_buffer(std::size_t bytes);
    void queue_pong(std::uint64_t id);

    // impl/sentry_op.hpp
    void schedule(time_point when);
    void rearm();
    void rearm_ping();
    void on_timer(error_code ec);
    void send_ping(time_point now);
    void update_health(time_point now);
    void notify_observer();

    // impl/shutdown_op.hpp
    bool shutdown_gracefully(error_code reason) const noexcept;
    void start_shutdown();
    void on_shutdown(error_code ec);
    void on_shutdown_timer(error_code ec);

    using read_handler = internal_handler<session_state, &session_state::on_read>;
    using ready_handler = internal_handler<session_state, &session_state::on_ready>;
    using write_handler = internal_handler<session_state, &session_state::on_write>;
    using timer_handler = internal_handler<session_state, &session_state::on_timer>;
    using drain_handler = internal_handler<session_state, &session_state::on_drain>;
    using shutdown_handler = internal_handler<session_state, &session_state::on_shutdown>;
    using shutdown_timer_handler =
        internal_handler<session_state, &session_state::on_shutdown_timer>;

    static void cancel_send(void* self, send_node* node, net::cancellation_type);
    static void cancel_receive(void* self, receive_node* node, net::cancellation_type);
    static void cancel_run(void* self, run_node* node, net::cancellation_type);

    bool live() const noexcept { return phase_ == phase::running; }
    /// The session ended or is ending: new operations complete with reason_.
    bool ended() const noexcept { return phase_ == phase::stopping || phase_ == phase::stopped; }

    /// A turn under way (nested when a handler of ours runs the io_context re-entrantly). If
    /// user code throws out of it, what is left to run or write gets a posted drain.
    struct turn_scope {
        explicit turn_scope(session_state& s) noexcept
            : state(s) {
            state.ready_.enter_turn();
        }
        // Posts only while unwinding from a handler's exception: the posted turn finishes what
        // this one could not (the queue, the write, the next read). Should that post fail to
        // allocate, the program terminates, as for any exception thrown during unwinding.
        ~turn_scope() { // NOLINT(bugprone-exception-escape)
            state.ready_.leave_turn();
            if (!finished && (!state.ready_.empty() || state.live()))
                state.request_drain();
        }
        turn_scope(const turn_scope&) = delete;
        turn_scope& operator=(const turn_scope&) = delete;
        session_state& state;
        bool finished = false;
    };

    /// The health observer, made when the first is set and kept until the state goes (its
    /// call may be queued while the application replaces or removes the function). Its place in
    /// the completion queue: at most one call queued, which reports the health as it is when the
    /// call runs.
    struct health_observer : ready_entry {
        explicit health_observer(session_state* s) noexcept
            : ready_entry(&act)
            , state(s) {}
        static void act(ready_entry* e, action a, void*) {
            if (a == action::run)
                static_cast<health_observer*>(e)->state->notify_observer();
        }
        session_state* state;
        std::function<void(health)> function;
        health told = health::healthy; // what the function was last told
        bool replaced = false;         // set_health_observer ran while the function ran
    };

    /// What the reader reports while it decodes (detail/frame_reader.hpp), with the time of the
    /// bytes decoded.
    struct reader_events {
        session_state& s;
        time_point now;
        bool live() const noexcept { return s.live(); }
        bool waiting() const noexcept { return !s.receivers_.empty(); }
        bool heartbeat(const decode_result& r) { return s.heartbeat_received(r, now); }
        void failed(error_code ec) { s.stop(ec); }
        void data_frame() noexcept {
            s.clocks_.frame_received(now);
            ++s.counts_.frames_received;
        }
        bool deliver(const char* payload, std::size_t size) { return s.deliver(payload, size); }
        void paused() noexcept { s.clocks_.reading_paused(); }
    };

    Stream stream_;
    Framing framing_;
    const options opts_;
    net::basic_waitable_timer<Clock> timer_;
    // The io_context's recycled memory (detail/context_cache.hpp), kept until the state's last
    // block is back, even if the context is destroyed first.
    shared_cache cache_;

    // Lifetime.
    run_node* run_ = nullptr;
    error_code reason_;
    std::atomic<std::uint32_t> owners_{1}; // state_owner claims (the handle, close()s posted)
    std::uint32_t pending_ = 0;            // op_ref claims (internal operations pending)
    phase phase_ = phase::idle;
    bool ran_ = false;
    bool shutting_down_ = false;        // the stream's goodbye is due or in flight
    bool shutdown_after_write_ = false; // ...and waits for the write in flight

    // Read side: the reads (impl/read_op.hpp).
    bool reading_ = false;
    bool readiness_ = false;       // wait for readiness, then read into a shared scratch buffer
    bool flowing_ = false;         // ...except while bytes keep coming: see note_flow()
    bool receive_started_ = false; // the application has called async_receive
    // Half-close (impl/half_close.hpp): the peer's EOF arrived, the reader stopped for good.
    bool peer_finished_ = false;
    bool eof_learned_ = false; // ...and the application knows: nothing more will be sent to it

    // The timer, shared by the PING writer and every deadline; what is due is liveness's to say.
    bool timer_waiting_ = false;
    time_point timer_expiry_{};

    // The bytes-to-frames logic and the frames held (detail/frame_reader.hpp).
    frame_reader<Framing> reader_{opts_};
    completion_list<receive_node> receivers_;

    // What waits for the application: completions with their results, the observer's call.
    completion_queue ready_;

    // Write side: what to write and how far it got (detail/frame_writer.hpp).
    frame_writer<Framing, send_node> writer_;

    // Suspect before dead; the observer costs one pointer when unused.
    std::unique_ptr<health_observer> observer_;

    ping_tracker pings_;
    liveness clocks_;

    // The counters of statistics that no part keeps.
    struct counters {
        std::uint64_t pings_sent = 0;
        std::uint64_t pings_received = 0;
        std::uint64_t frames_received = 0;
        std::uint64_t frames_sent = 0;
        std::uint64_t bytes_received = 0;
        std::uint64_t bytes_sent = 0;
    } counts_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
