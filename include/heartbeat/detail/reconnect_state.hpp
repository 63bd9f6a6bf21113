// The state of a reconnecting_client: its connection attempts, the sessions it owns, the backoff,
// the queue of frames sent while disconnected, the receive pump, and the events for the
// observer. Shared by the handle (reconnecting_client) and by every operation the client has in
// flight (attempts, timer waits, session runs, the pump's receive), so it lives until the last
// of them returned.
//
// Turns: every entry point (a timer, an attempt's result, a session's end, the pump's receive,
// a health change, a cancellation, an initiating function) runs as one turn. Events are queued
// during the turn and handed to the observer at its end, once the state is whole; an initiating
// function posts a turn for them instead, so the observer never runs inside a call of the
// application. Completions are always posted through the handler's executor.
//
// Where a frame goes:
//   async_send / try_send --(a session is up, not ending, and nothing is queued)--> that session
//                         --(none is)--> queue_ (bounded) --(a session comes up)--> it, in order
//   each session --(async_receive, one at a time, only while the application waits)--> receivers_
//   sessions that ended stay in sources_ until their held frames are taken, oldest first.
#ifndef HEARTBEAT_DETAIL_RECONNECT_STATE_HPP
#define HEARTBEAT_DETAIL_RECONNECT_STATE_HPP

#include <heartbeat/connect_handler.hpp>
#include <heartbeat/detail/backoff.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/reconnect_ops.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/health.hpp>
#include <heartbeat/options.hpp>
#include <heartbeat/reconnect_options.hpp>
#include <heartbeat/session.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
class reconnect_state final
    : public connect_sink<Stream>,
      public std::enable_shared_from_this<reconnect_state<Stream, Framing, Clock>> {
public:
    using session_type = heartbeat_session<Stream, Framing, Clock>;
    using executor_type = typename Stream::executor_type;
    using timer_type = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type>;
    using connect_function = std::function<void(connect_handler<Stream>)>;
    using observer_type = std::function<void(const reconnect_event&)>;
    using run_op = client_op<error_code>;
    using receive_op = client_op<error_code, std::string>;
    using send_op = client_send_op<session_type>;
    using event_kind = reconnect_event::kind;

    reconnect_state(const executor_type& ex, connect_function connect,
                    const reconnect_options& ropts, const options& sopts, Framing framing)
        : ex_(ex)
        , connect_(std::move(connect))
        , ropts_((ropts.validate(), ropts))
        , sopts_((sopts.validate(), sopts))
        , framing_(std::move(framing))
        , backoff_(ropts_.initial_backoff, ropts_.backoff_multiplier, ropts_.max_backoff,
                   ropts_.jitter,
                   ropts_.jitter_seed
                       ? ropts_.jitter_seed
                       : (reinterpret_cast<std::uintptr_t>(this) ^
                          static_cast<std::uint64_t>(
                              std::chrono::steady_clock::now().time_since_epoch().count())))
        , backoff_timer_(ex)
        , connect_timer_(ex)
        , spare_timer_(ex)
        , spare_backoff_timer_(ex)
        , queue_limit_(std::min(ropts_.queue_limit, sopts_.send_queue_limit)) {}

    ~reconnect_state() {
        // Reached when the handle and every operation in flight are gone. Whatever still waits
        // here was abandoned with its io_context (whose destruction destroyed the operations
        // that held this state): its handler is destroyed unrun, as Asio does.
        for (auto* op : receivers_)
            op->destroy();
        for (auto& q : queue_)
            if (q.op)
                q.op->destroy();
        if (run_)
            run_->destroy();
    }

    reconnect_state(const reconnect_state&) = delete;
    reconnect_state& operator=(const reconnect_state&) = delete;

    const executor_type& get_executor() const noexcept { return ex_; }
    const reconnect_options& get_options() const noexcept { return ropts_; }
    const options& get_session_options() const noexcept { return sopts_; }
    session_type* session() noexcept { return current_ ? &*current_->session : nullptr; }
    bool connected() const noexcept { return current_ != nullptr; }

    void set_observer(observer_type observer) { observer_ = std::move(observer); }

    // ---- Initiations ----------------------------------------------------------------------

    template <class Handler>
    void start_run(Handler&& handler) {
        run_op* op = make_client_op<run_op, error_code>(std::forward<Handler>(handler), ex_,
                                                        &cancel_run, this);
        if (run_started_) {
            op->complete(error::already_running);
            return;
        }
        run_started_ = true;
        if (stopped_) { // close() before the run
            op->complete(reason_);
            return;
        }
        run_ = op;
        post_turn([](reconnect_state& s) { s.start_attempt(false); });
    }

    template <class Handler>
    void start_send(std::string&& frame, Handler&& handler) {
        if (const error_code ec = refuse(frame)) {
            make_client_send_op<session_type>(std::forward<Handler>(handler), ex_, &cancel_send,
                                              this)
                ->complete(ec);
            return;
        }
        if (current_ && queue_.empty() && !current_->session->ending()) {
            current_->session->async_send(std::move(frame), std::forward<Handler>(handler));
            return;
        }
        // None is up, or the current one is ending (its verdict is given; its end not yet
        // known here): queued for the next, as it would fail there.
        send_op* op = make_client_send_op<session_type>(std::forward<Handler>(handler), ex_,
                                                        &cancel_send, this);
        if (const error_code ec = enqueue(std::move(frame), op))
            op->complete(ec);
    }

    error_code try_send(std::string_view frame) {
        if (const error_code ec = refuse(frame))
            return ec;
        if (current_ && queue_.empty()) {
            const error_code ec = current_->session->try_send(frame);
            // Refused for the frame's own sake: say so. Refused because that session is
            // ending: nothing of it was written, so it waits for the next one instead.
            if (!ec || ec == error::send_queue_full)
                return ec;
        }
        return enqueue(std::string(frame), nullptr);
    }

    template <class Handler>
    void start_receive(Handler&& handler) {
        receive_op* op = make_client_op<receive_op, error_code, std::string>(
            std::forward<Handler>(handler), ex_, &cancel_receive, this);
        receivers_.push_back(op);
        turn t(*this, true);
        serve_receivers();
    }

    /// close(): ends the client; frames already received stay receivable.
    void close_requested() {
        turn t(*this);
        stop(net::error::operation_aborted);
    }

    /// The handle is gone: ends everything now, and waiting receives too.
    void abandon() noexcept {
        observer_ = nullptr;
        turn t(*this);
        stop(net::error::operation_aborted);
        // Sessions end now rather than by a posted close(): the handle's owner may be tearing
        // down. Ending them completes the pump's receive, the last thing that reads them.
        if (pump_busy_)
            cancel_pump();
        for (auto& c : sources_)
            c->abandon();
        if (spare_)
            spare_->abandon();
        sources_.clear();
        leftover_bytes_ = 0;
        held_.clear();
        while (!receivers_.empty()) {
            receive_op* op = receivers_.front();
            receivers_.pop_front();
            op->complete(net::error::operation_aborted, std::string());
        }
    }

    // ---- connect_sink ---------------------------------------------------------------------

    void connect_done(const std::shared_ptr<connect_attempt>& attempt, error_code ec,
                      Stream&& stream) override {
        turn t(*this);
        attempt_result(attempt, ec, &stream);
    }

    void connect_dropped(const std::shared_ptr<connect_attempt>& attempt) override {
        turn t(*this);
        attempt_result(attempt, net::error::operation_aborted, nullptr);
    }

private:
    // ---- Connections ----------------------------------------------------------------------

    /// A session the client owns, from its connect until its held frames are taken.
    struct connection {
        connection(Stream&& stream, const options& o, const Framing& f)
            : session(std::in_place, std::move(stream), o, f)
            , up_since(Clock::now()) {}
        /// Ends the session now (its destructor): when the client is abandoned, or once it
        /// ended and its held frames were moved to `leftover`.
        void abandon() noexcept { session.reset(); }

        std::optional<session_type> session; // empty once abandoned or drained
        bool ended = false;                  // its async_run completed
        typename Clock::time_point up_since; // when it connected
        std::deque<std::string> leftover;    // frames it held at its end, not yet taken
    };
    using conn_ptr = std::shared_ptr<connection>;

    /// One turn: events are delivered at its end (or, from an initiating function, in a
    /// posted turn), once the state is whole.
    class turn {
    public:
        explicit turn(reconnect_state& s, bool initiation = false) noexcept
            : s_(s)
            , outer_(!s.in_turn_)
            , initiation_(initiation) {
            s_.in_turn_ = true;
        }
        turn(const turn&) = delete;
        turn& operator=(const turn&) = delete;
        ~turn() {
            if (!outer_)
                return;
            if (initiation_) {
                s_.in_turn_ = false;
                if (!s_.events_.empty())
                    s_.post_turn([](reconnect_state&) {});
                return;
            }
            // The observer may destroy the handle: the state outlives the turn.
            const auto keep_alive = s_.shared_from_this();
            s_.deliver_events();
            s_.in_turn_ = false;
            s_.maybe_finish();
        }

    private:
        reconnect_state& s_;
        bool outer_;
        bool initiation_;
    };

    /// Runs `f(*this)` as a turn of its own, posted to the client's executor.
    template <class F>
    void post_turn(F f) {
        ++pending_;
        net::post(ex_, [self = this->shared_from_this(), f]() mutable {
            turn t(*self);
            --self->pending_;
            f(*self);
        });
    }

    void emit(const reconnect_event& e) {
        if (observer_)
            events_.push_back(e);
    }

    void deliver_events() {
        while (!events_.empty()) {
            const reconnect_event e = events_.front();
            events_.pop_front();
            if (observer_) {
                observer_type observer = observer_; // it may replace itself
                observer(e);
            }
        }
    }

    // ---- Attempts and backoff -------------------------------------------------------------

    /// An attempt's outcome: its result (`stream` null when there is none), or its timeout.
    /// The first outcome settles it; a result that comes after is dropped (its stream closed).
    void attempt_result(const std::shared_ptr<connect_attempt>& attempt, error_code ec,
                        Stream* stream) {
        if (attempt->settled) {
            if (attempt->abandoned && attempt->spare && !ec && stream && !stopped_)
                emit({event_kind::spare_discarded, attempt->number, {}, {}});
            return; // the stream, if any, is closed as it goes out of scope
        }
        settle(attempt);
        if (stopped_)
            return;
        if (ec || !stream) {
            if (!ec)
                ec = net::error::operation_aborted;
            if (attempt->spare) {
                emit({event_kind::spare_failed, attempt->number, ec, {}});
                retry_spare();
                return;
            }
            ++failures_;
            emit({event_kind::connect_failed, attempt->number, ec, {}});
            back_off(ec);
            return;
        }
        auto c = std::make_shared<connection>(std::move(*stream), sopts_, framing_);
        if (attempt->spare) {
            spare_ = c;
            spare_waits_ = 0;
            run_session(c);
            emit({event_kind::spare_ready, attempt->number, {}, {}});
            return;
        }
        // The backoff and the count towards max_attempts are reset only once this session has
        // stayed up initial_backoff and heard from its peer (session_ended): neither a server
        // that accepts and closes at once nor a frozen one counts as a success.
        emit({event_kind::connected, attempt->number, {}, {}});
        promote(c, true);
    }

    /// The client is done with `attempt`: it no longer counts as pending, and its timer stops.
    void settle(const std::shared_ptr<connect_attempt>& attempt) {
        attempt->settled = true;
        --pending_;
        if (attempt == attempt_) {
            attempt_ = nullptr;
            cancel_timer(connect_timer_);
            if (!spare_attempt_) // a spare's attempt that became the reconnect kept its timer
                cancel_timer(spare_timer_);
        } else if (attempt == spare_attempt_) {
            spare_attempt_ = nullptr;
            cancel_timer(spare_timer_);
        }
    }

    /// Emits the attempt's cancellation, and remembers it for a step the connect function has
    /// yet to start (connect_handler::cancelled()).
    static void cancel_attempt(const std::shared_ptr<connect_attempt>& attempt) {
        attempt->cancelled = true;
        attempt->emitting = true;
        attempt->signal.emit(net::cancellation_type::terminal);
        attempt->emitting = false;
    }

    /// No longer wanted: settled now, not waited for; its stream, if one comes, is closed.
    /// Takes a copy: settle() nulls the member it may have been given.
    void abandon_attempt(std::shared_ptr<connect_attempt> attempt) {
        attempt->abandoned = true;
        settle(attempt);
        cancel_attempt(attempt);
    }

    void start_attempt(bool spare) {
        if (stopped_)
            return;
        auto attempt = std::make_shared<connect_attempt>();
        attempt->spare = spare;
        attempt->number = spare ? spare_waits_ + 1 : failures_ + 1;
        (spare ? spare_attempt_ : attempt_) = attempt;
        emit({spare ? event_kind::spare_connecting : event_kind::connecting,
              attempt->number,
              {},
              {}});
        if (ropts_.connect_timeout > reconnect_options::duration::zero()) {
            timer_type& timer = spare ? spare_timer_ : connect_timer_;
            timer.expires_after(ropts_.connect_timeout);
            ++pending_;
            timer.async_wait([self = this->shared_from_this(), attempt](error_code ec) {
                turn t(*self);
                --self->pending_;
                if (ec || attempt->settled)
                    return;
                // Failed now, whether or not the connect function honours the cancellation.
                cancel_attempt(attempt);
                self->attempt_result(attempt, net::error::timed_out, nullptr);
            });
        }
        ++pending_;
        // An aliasing pointer: the sink is this state, kept alive by the handler.
        std::shared_ptr<connect_sink<Stream>> sink(this->shared_from_this(),
                                                   static_cast<connect_sink<Stream>*>(this));
        connect_(connect_handler<Stream>(std::move(sink), attempt, ex_));
    }

    /// Make-before-break: a spare that failed (its attempt, or its session while held) is
    /// tried again after a wait of the same backoff, while the current session is suspect, or
    /// with keep_spare.
    void retry_spare() {
        if (stopped_ || !ropts_.make_before_break || !current_ || spare_ || spare_attempt_ ||
            !(suspect_ || ropts_.keep_spare))
            return;
        spare_backoff_timer_.expires_after(backoff_.delay(spare_waits_++));
        ++pending_;
        spare_backoff_timer_.async_wait(
            [self = this->shared_from_this(), generation = ++spare_generation_](error_code ec) {
                turn t(*self);
                --self->pending_;
                if (ec || generation != self->spare_generation_ || self->stopped_ ||
                    !self->current_ || self->spare_ || self->spare_attempt_ ||
                    !(self->suspect_ || self->ropts_.keep_spare))
                    return;
                self->start_attempt(true);
            });
    }

    void cancel_spare_retry() {
        ++spare_generation_;
        spare_waits_ = 0;
        cancel_timer(spare_backoff_timer_);
    }

    void back_off(error_code last) {
        if (ropts_.max_attempts != 0 && failures_ >= ropts_.max_attempts) {
            emit({event_kind::gave_up, failures_, last, {}});
            stop(error::gave_up);
            return;
        }
        const auto delay = backoff_.delay(waits_++);
        emit({event_kind::backing_off, failures_ + 1, {}, delay});
        backoff_timer_.expires_after(delay);
        ++pending_;
        backoff_timer_.async_wait(
            [self = this->shared_from_this(), generation = ++backoff_generation_](error_code ec) {
                turn t(*self);
                --self->pending_;
                if (ec || generation != self->backoff_generation_ || self->stopped_)
                    return;
                self->start_attempt(false);
            });
    }

    // ---- Sessions ---------------------------------------------------------------------------

    void run_session(const conn_ptr& c) {
        ++pending_;
        c->session->async_run([self = this->shared_from_this(), c](error_code ec) {
            turn t(*self);
            --self->pending_;
            self->session_ended(c, ec);
        });
    }

    /// `c` becomes the current session: it receives what was queued, and the pump may read it.
    void promote(const conn_ptr& c, bool start) {
        current_ = c;
        suspect_ = false;
        sources_.push_back(c);
        if (ropts_.make_before_break) {
            // The observer runs only while the session runs, and its run's handler holds the
            // state: `this` is alive whenever it is called.
            c->session->set_health_observer([this](health h) {
                turn t(*this);
                health_changed(h);
            });
        }
        if (start)
            run_session(c);
        flush_queue();
        serve_receivers();
    }

    void session_ended(const conn_ptr& c, error_code ec) {
        c->ended = true;
        const bool heard = c->session && c->session->statistics().bytes_received > 0;
        release(c);
        if (c == spare_) {
            spare_ = nullptr;
            if (!stopped_) {
                emit({event_kind::spare_failed, 0, ec, {}});
                retry_spare();
            }
            return;
        }
        if (c != current_)
            return;
        current_ = nullptr;
        cancel_spare_retry(); // a spare for the session that ended is no longer due
        if (stopped_)
            return;
        // A session counts as a success only once it stayed up initial_backoff, and its peer
        // sent something: by then the attempt that made it was at least one first wait ago, so
        // resetting cannot make the client reconnect faster than its first wait allows; and a
        // peer frozen behind a live kernel (whose backlog completes the connect) is no success
        // however long read_timeout lets it last. With read_timeout off nothing ends a silent
        // session, so uptime alone counts. Otherwise it was a failed attempt: the backoff keeps
        // growing and max_attempts counts it.
        const bool proved = heard || sopts_.read_timeout == options::duration::zero();
        if (proved && Clock::now() - c->up_since >= ropts_.initial_backoff) {
            failures_ = 0;
            waits_ = 0;
        } else {
            ++failures_;
        }
        emit({event_kind::disconnected, 0, ec, {}});
        if (spare_) { // make-before-break: no connect needed
            conn_ptr spare = std::exchange(spare_, nullptr);
            emit({event_kind::switched, 0, ec, {}});
            promote(spare, false);
            return;
        }
        if (spare_attempt_) { // the spare's attempt, already under way, is the reconnect
            attempt_ = std::exchange(spare_attempt_, nullptr);
            attempt_->spare = false;
            attempt_->number = failures_ + 1;
            return; // its connect timeout stays on spare_timer_
        }
        back_off(ec);
    }

    void health_changed(health h) {
        if (stopped_)
            return;
        suspect_ = h == health::suspect;
        if (suspect_) {
            if (!spare_ && !spare_attempt_)
                start_attempt(true);
            return;
        }
        if (ropts_.keep_spare)
            return;
        cancel_spare_retry();
        if (spare_attempt_) {
            // Reported as spare_discarded if it still returns a stream. Forgotten now, so that
            // the next suspect starts a spare of its own.
            abandon_attempt(spare_attempt_);
        }
        if (spare_) {
            spare_->session->close();
            spare_ = nullptr; // its run's handler still holds it until it ended
            emit({event_kind::spare_discarded, 0, {}, {}});
        }
    }

    // ---- Sending ----------------------------------------------------------------------------

    /// What async_send would refuse of this frame in any session.
    error_code refuse(std::string_view frame) const {
        if (stopped_)
            return reason_;
        if (frame.size() > sopts_.max_frame_size)
            return error::frame_too_large;
        return framing_.validate(frame.data(), frame.size());
    }

    static std::size_t cost(std::size_t size) noexcept {
        // At least what a session counts for it: payload, framing, bookkeeping.
        return size + Framing::max_header_size + Framing::max_trailer_size + 64;
    }

    error_code enqueue(std::string&& frame, send_op* op) {
        const std::size_t c = cost(frame.size());
        if (c > queue_limit_ - std::min(queue_limit_, queued_bytes_))
            return error::reconnect_queue_full;
        queued_bytes_ += c;
        queue_.push_back(queued{std::move(frame), op, c});
        return {};
    }

    /// Hands the queue to the current session, in order; not to one that is ending.
    void flush_queue() {
        while (current_ && !queue_.empty() && !current_->session->ending()) {
            queued& q = queue_.front();
            if (q.op) {
                send_op* op = std::exchange(q.op, nullptr);
                std::string frame = std::move(q.frame);
                queued_bytes_ -= q.cost;
                queue_.pop_front();
                op->forward(*current_->session, std::move(frame));
                continue;
            }
            if (current_->session->try_send(q.frame))
                return; // that session is ending: the rest waits for the next one
            queued_bytes_ -= q.cost;
            queue_.pop_front();
        }
    }

    static void cancel_send(void* context, client_op<error_code>* op, net::cancellation_type) {
        auto& s = *static_cast<reconnect_state*>(context);
        turn t(s);
        const auto it = std::find_if(s.queue_.begin(), s.queue_.end(),
                                     [op](const queued& q) { return q.op == op; });
        if (it == s.queue_.end())
            return;
        s.queued_bytes_ -= it->cost;
        send_op* found = it->op;
        s.queue_.erase(it);
        found->complete(net::error::operation_aborted);
    }

    // ---- Receiving --------------------------------------------------------------------------

    /// Gives waiting receivers the held frames, then frames from the oldest session that may
    /// still have some; reads a session only while a receiver waits (so a full receive queue
    /// still pushes back on the peer). Once every source is drained after the end, receivers
    /// get the end reason.
    void serve_receivers() {
        while (!receivers_.empty()) {
            if (!held_.empty()) {
                deliver_frame(std::move(held_.front()));
                held_.pop_front();
                continue;
            }
            if (pump_busy_)
                return;
            if (sources_.empty()) {
                if (!stopped_)
                    return; // the next session will have frames
                receive_op* op = receivers_.front();
                receivers_.pop_front();
                op->complete(reason_, std::string());
                continue;
            }
            const conn_ptr& source = sources_.front();
            if (!source->leftover.empty()) {
                leftover_bytes_ -= held_cost(source->leftover.front());
                deliver_frame(std::move(source->leftover.front()));
                source->leftover.pop_front();
                continue;
            }
            std::string frame;
            if (source->session && source->session->try_receive(frame)) {
                deliver_frame(std::move(frame));
                continue;
            }
            if (source->ended) { // nothing held, and nothing will come: next source
                sources_.pop_front();
                continue;
            }
            pump_busy_ = true;
            pump_cancelled_ = false;
            pump_source_ = source;
            source->session->async_receive(
                pump_handler{this->shared_from_this(), source, pump_signal_.slot()});
            return;
        }
    }

    /// The pump's receive: cancellable through pump_signal_ (net::bind_cancellation_slot is
    /// not among the Asio headers detail/config.hpp includes).
    struct pump_handler {
        using cancellation_slot_type = net::cancellation_slot;
        cancellation_slot_type get_cancellation_slot() const noexcept { return slot; }
        void operator()(error_code ec, std::string frame) {
            turn t(*self);
            self->pumped(source, ec, std::move(frame));
        }
        std::shared_ptr<reconnect_state> self;
        conn_ptr source;
        net::cancellation_slot slot;
    };

    void pumped(const conn_ptr& source, error_code ec, std::string&& frame) {
        pump_busy_ = false;
        pump_source_ = nullptr;
        const bool cancelled = std::exchange(pump_cancelled_, false);
        if (!ec) {
            if (!receivers_.empty())
                deliver_frame(std::move(frame));
            else
                held_.push_back(std::move(frame));
        } else if (!cancelled && !sources_.empty() && sources_.front() == source) {
            sources_.pop_front(); // the session's end: every frame it held was taken
        }
        if (source->ended)
            release(source);
        serve_receivers();
    }

    /// A session that ended: its held frames move to `leftover` and the session (its state, its
    /// stream) is freed at once; without frames it leaves the sources. So a client whose
    /// application never receives does not keep its old sessions. Not while the pump's receive
    /// on it is still to run (try_receive would refuse: that receive is owed a frame first).
    void release(const conn_ptr& c) {
        if (!c->session || (pump_busy_ && pump_source_ == c))
            return;
        const auto it = std::find(sources_.begin(), sources_.end(), c);
        if (it == sources_.end())
            return; // a spare, or a session whose frames were all taken: freed with `c`
        // Bounded in all by receive_queue_limit (counted as a session counts its held frames),
        // since no session's limit pushes back on these any more: past it, the rest of this
        // session's frames are dropped, the newest, as if its connection had died before they
        // came.
        for (std::string frame; c->session->try_receive(frame); frame = std::string()) {
            const std::size_t cost = held_cost(frame);
            if (cost >
                sopts_.receive_queue_limit - std::min(sopts_.receive_queue_limit, leftover_bytes_))
                break;
            leftover_bytes_ += cost;
            c->leftover.push_back(std::move(frame));
        }
        c->abandon(); // safe from its own run's handler: nothing of it is pending
        if (c->leftover.empty())
            sources_.erase(it);
    }

    static std::size_t held_cost(const std::string& frame) noexcept {
        return frame.size() + sizeof(std::string);
    }

    void deliver_frame(std::string&& frame) {
        receive_op* op = receivers_.front();
        receivers_.pop_front();
        op->complete(error_code(), std::move(frame));
    }

    void cancel_pump() {
        pump_cancelled_ = true;
        pump_signal_.emit(net::cancellation_type::terminal);
    }

    static void cancel_receive(void* context, client_op<error_code, std::string>* op,
                               net::cancellation_type) {
        auto& s = *static_cast<reconnect_state*>(context);
        turn t(s);
        const auto it = std::find(s.receivers_.begin(), s.receivers_.end(), op);
        if (it == s.receivers_.end())
            return;
        s.receivers_.erase(it);
        op->complete(net::error::operation_aborted, std::string());
        if (s.receivers_.empty() && s.pump_busy_)
            s.cancel_pump(); // nothing is lost: the session keeps the frame
    }

    // ---- The end ----------------------------------------------------------------------------

    static void cancel_run(void* context, client_op<error_code>*, net::cancellation_type type) {
        if ((type & (net::cancellation_type::terminal | net::cancellation_type::partial)) ==
            net::cancellation_type::none)
            return;
        auto& s = *static_cast<reconnect_state*>(context);
        turn t(s);
        s.stop(net::error::operation_aborted);
    }

    void stop(error_code reason) {
        if (stopped_)
            return;
        stopped_ = true;
        reason_ = reason;
        ++backoff_generation_;
        cancel_timer(backoff_timer_);
        cancel_timer(connect_timer_);
        cancel_timer(spare_timer_);
        cancel_timer(spare_backoff_timer_);
        // Not waited for: async_run completes without them (connect_handler's contract).
        for (auto* a : {&attempt_, &spare_attempt_}) {
            if (const std::shared_ptr<connect_attempt> attempt = *a)
                abandon_attempt(attempt);
        }
        if (current_ && current_->session)
            current_->session->close();
        if (spare_ && spare_->session)
            spare_->session->close();
        while (!queue_.empty()) {
            send_op* op = queue_.front().op;
            queue_.pop_front();
            if (op)
                op->complete(reason_);
        }
        queued_bytes_ = 0;
        serve_receivers();
    }

    /// async_run completes once the client stopped and nothing of it is pending.
    void maybe_finish() {
        if (!stopped_ || pending_ != 0 || !run_)
            return;
        std::exchange(run_, nullptr)->complete(reason_);
    }

    static void cancel_timer(timer_type& timer) noexcept {
        // A timer's cancel() cannot fail; the error_code overload is deprecated.
        timer.cancel();
    }

    struct queued {
        std::string frame;
        send_op* op; // null for try_send's frames
        std::size_t cost = 0;
    };

    executor_type ex_;
    connect_function connect_;
    reconnect_options ropts_;
    options sopts_;
    Framing framing_;
    backoff backoff_;
    timer_type backoff_timer_;
    timer_type connect_timer_;
    timer_type spare_timer_;
    timer_type spare_backoff_timer_; // make-before-break: the wait before a spare's retry
    std::size_t queue_limit_;

    std::shared_ptr<connect_attempt> attempt_;
    std::shared_ptr<connect_attempt> spare_attempt_;
    conn_ptr current_;
    conn_ptr spare_;
    std::deque<conn_ptr> sources_;
    std::size_t failures_ = 0; // attempts in a row that failed
    std::size_t waits_ = 0;    // waits in the current run of waits
    std::uint64_t backoff_generation_ = 0;
    std::size_t spare_waits_ = 0; // waits before a spare's retry, since the last spare_ready
    std::uint64_t spare_generation_ = 0;
    bool suspect_ = false;

    std::deque<queued> queue_;
    std::size_t queued_bytes_ = 0;
    std::deque<receive_op*> receivers_;
    std::deque<std::string> held_;
    std::size_t leftover_bytes_ = 0; // of the sources' leftover frames: receive_queue_limit
    net::cancellation_signal pump_signal_;
    conn_ptr pump_source_; // the session the pump's receive waits on
    bool pump_busy_ = false;
    bool pump_cancelled_ = false;

    observer_type observer_;
    std::deque<reconnect_event> events_;
    run_op* run_ = nullptr;
    std::size_t pending_ = 0;
    bool in_turn_ = false;
    bool run_started_ = false;
    bool stopped_ = false;
    error_code reason_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
