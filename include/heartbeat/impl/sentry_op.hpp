// The sentry: one steady_timer per session serves the PING writer and every deadline (read,
// idle, write, half-close). Reads and writes only tell liveness (detail/liveness.hpp) the time;
// when the timer fires, liveness says what is due, the sentry acts on it and sleeps until the
// next thing could be. The timer is moved earlier only when a write starts and its deadline
// precedes the current wake-up.
#ifndef HEARTBEAT_IMPL_SENTRY_OP_HPP
#define HEARTBEAT_IMPL_SENTRY_OP_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::schedule(time_point when) {
    if (timer_waiting_ && when >= timer_expiry_)
        return; // the common case, a write deadline after the current wake-up
    when = clocks_.on_tick(when);
    if (timer_waiting_) {
        if (when < timer_expiry_) {
            // Cancels the wait; its handler sees operation_aborted and waits again, so exactly
            // one wait is ever outstanding.
            timer_expiry_ = when;
            timer_.expires_at(when);
        }
        return;
    }
    timer_expiry_ = when;
    timer_.expires_at(when);
    timer_waiting_ = true; // exactly one wait outstanding: see on_timer
    timer_.async_wait(timer_handler{ref(this)});
}

/// Makes sure the timer will wake for whatever is due next (only ever moves it earlier).
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::rearm() {
    if (!live())
        return;
    const time_point wake = clocks_.next_wakeup();
    if (wake != time_point::max())
        schedule(wake);
}

/// After a write: only the PING can have become due earlier (see liveness::next_ping), unless
/// no wait is pending at all (nothing was due, or the run has only begun and its timer is not
/// armed yet): then everything is asked for.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::rearm_ping() {
    if (!timer_waiting_) {
        rearm();
        return;
    }
    if (!live())
        return;
    const time_point ping = clocks_.next_ping();
    if (ping != time_point::max())
        schedule(ping);
}

/// The peer's health may have changed: the observer hears of it from the completion queue.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::update_health(time_point now) {
    if (!clocks_.health_changed(now) || !observer_ || !observer_->function || observer_->queued)
        return;
    ready_.push(observer_.get());
    request_drain();
}

/// Tells the observer the health as it is now, if that is news to it.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::notify_observer() {
    const health now = clocks_.reported_suspect() ? health::suspect : health::healthy;
    health_observer& o = *observer_; // queued only once made, and kept until the state goes
    if (!live() || !o.function || now == o.told)
        return;
    o.told = now;
    // The observer may replace or remove itself: it must not be destroyed while it runs.
    auto running = std::move(o.function);
    o.function = nullptr; // a moved-from std::function is not guaranteed empty
    o.replaced = false;
    running(now);
    if (!o.replaced)
        o.function = std::move(running);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_timer(error_code ec) {
    HEARTBEAT_ASSERT(timer_waiting_ || !live(), "a timer wait completed that was never started");
    timer_waiting_ = false;
    if (!live())
        return;
    if (ec == net::error::operation_aborted) {
        // Moved earlier by schedule(): wait again for the new expiry.
        timer_waiting_ = true;
        timer_.async_wait(timer_handler{ref(this)});
        return;
    }
    const time_point now = clock::now();
    switch (clocks_.wake(now, timer_expiry_)) {
    case liveness::due::nothing:
        break;
    case liveness::due::ping:
        send_ping(now);
        break;
    case liveness::due::write_timeout:
        stop(error::write_timeout);
        break;
    case liveness::due::half_close_ended:
        stop(net::error::eof); // the application never took the EOF
        break;
    case liveness::due::timeout:
        stop(error::timeout);
        break;
    case liveness::due::idle_timeout:
        stop(error::idle_timeout);
        break;
    case liveness::due::unanswered_pings:
        stop(error::unanswered_pings);
        break;
    }
    if (live())
        update_health(now);
    rearm(); // the observer may have closed the session: rearm() checks
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::send_ping(time_point now) {
    writer_.queue_ping(pings_.ping_sent(now));
    clocks_.ping_sent();
    // Written at the turn's end, after on_timer has re-armed the timer: liveness must count the
    // write as started now, or it would find the PING still due and wake again at once.
    clocks_.write_started(now);
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
