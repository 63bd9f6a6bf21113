// The sentry: one steady_timer per session serves the PING writer and every deadline (read,
// idle, write). Reads and writes only store timestamps; when the timer fires it compares them
// with the clock, acts on what is due and sleeps until the next thing could be. It is moved
// earlier only when a write starts and its deadline precedes the current wake-up.
#ifndef HEARTBEAT_IMPL_SENTRY_OP_HPP
#define HEARTBEAT_IMPL_SENTRY_OP_HPP

#include <heartbeat/detail/session_state.hpp>

#include <algorithm>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing>
void session_state<Stream, Framing>::schedule(time_point when) {
    if (timer_waiting_ && when >= timer_expiry_)
        return; // the common case, a write deadline after the current wake-up
    when = on_tick(when);
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
    timer_waiting_ = true;
    timer_.async_wait(timer_handler{ref(this)});
}

/// Rounds `when` up to the session's tick (see tick_for).
template <class Stream, class Framing>
auto session_state<Stream, Framing>::on_tick(time_point when) const noexcept -> time_point {
    const clock::duration past = when.time_since_epoch() % tick_;
    return past == clock::duration::zero() ? when : when + (tick_ - past);
}

/// Makes sure the timer will wake for whatever is due next (only ever moves it earlier).
template <class Stream, class Framing>
void session_state<Stream, Framing>::rearm() {
    if (!live())
        return;
    const time_point wake = next_wakeup();
    if (wake != time_point::max())
        schedule(wake);
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::next_wakeup() const -> time_point {
    time_point wake = time_point::max();
    if (writing_ && opts_.write_timeout.count() > 0)
        wake = std::min(wake, last_write_progress_ + opts_.write_timeout);
    if (peer_finished_) { // no reads, no PINGs, no health: see impl/half_close.hpp
        wake = std::min(wake, half_close_deadline());
        return wake == time_point::max() ? wake : std::max(wake, judge_after_);
    }
    if (!read_paused_) {
        if (opts_.read_timeout.count() > 0)
            wake = std::min(wake, last_read_ + read_deadline());
        if (opts_.idle_timeout.count() > 0)
            wake = std::min(wake, last_frame_ + opts_.idle_timeout);
    }
    if (health_observer_ && !suspect_)
        wake = std::min(wake, suspect_at());
    if (wake != time_point::max()) // verdicts wait for the grace after a stall; PINGs do not
        wake = std::max(wake, judge_after_);
    if (opts_.ping_interval.count() > 0 && !writing_)
        wake = std::min(wake, last_write_ + ping_delay_);
    return wake;
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::pong_patience() const noexcept -> clock::duration {
    return opts_.read_timeout.count() > 0 ? clock::duration(opts_.read_timeout) / 2
                                          : clock::duration(opts_.ping_interval);
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::read_deadline() const noexcept -> clock::duration {
    const clock::duration configured = opts_.read_timeout;
    // Adapt only with enough evidence: a few round trips and a whole window of gaps.
    if (opts_.adaptive_read_timeout_floor.count() == 0 || stats_.pongs_received < 3 ||
        !gap_window_full_)
        return configured;
    const clock::duration rtt = stats_.smoothed_rtt + 4 * stats_.rtt_variance;
    const clock::duration gap = std::max(gap_max_previous_, gap_max_current_);
    const clock::duration adaptive =
        std::max<clock::duration>(opts_.adaptive_read_timeout_floor, gap + 4 * rtt);
    return std::min(adaptive, configured);
}

template <class Stream, class Framing>
void session_state<Stream, Framing>::note_gap(time_point now) noexcept {
    // The longest gap over the last one to two read_timeouts, kept in two windows.
    const clock::duration window = opts_.read_timeout;
    if (now - gap_window_start_ >= window) {
        gap_window_full_ = gap_window_start_ != time_point{};
        gap_max_previous_ =
            now - gap_window_start_ >= 2 * window ? now - last_read_ : gap_max_current_;
        gap_max_current_ = clock::duration::zero();
        gap_window_start_ = now;
    }
    gap_max_current_ = std::max(gap_max_current_, now - last_read_);
}

template <class Stream, class Framing>
bool session_state<Stream, Framing>::is_suspect(time_point now) const noexcept {
    return now >= suspect_at();
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::suspect_at() const noexcept -> time_point {
    time_point at = time_point::max();
    if (peer_finished_) // its goodbye said all there is to say about its health
        return at;
    if (!read_paused_ && opts_.read_timeout.count() > 0)
        at = last_read_ + read_deadline() / 2;
    // A PONG is only expected from a peer that has answered one before.
    if (stats_.pongs_received > 0 && pings_count_ > 0)
        at = std::min(at, pings_[pings_head_].sent + pong_patience());
    return at;
}

template <class Stream, class Framing>
void session_state<Stream, Framing>::update_health(time_point now) {
    const bool suspect = is_suspect(now);
    if (suspect == suspect_)
        return;
    suspect_ = suspect;
    if (!health_observer_)
        return;
    // The observer may replace or remove itself: it must not be destroyed while it runs.
    auto running = std::move(health_observer_);
    observer_replaced_ = false;
    {
        // User code: what it sends is not written from inside it (see write_some).
        const scoped_value<bool> user_code(in_own_handler_, false);
        (*running)(suspect ? health::suspect : health::healthy);
    }
    if (!observer_replaced_)
        health_observer_ = std::move(running);
}

template <class Stream, class Framing>
void session_state<Stream, Framing>::on_timer(error_code ec) {
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
    if (woke_late(now)) {
        // Our own event loop was blocked (a slow handler, a suspended VM): bytes the peer sent
        // may be waiting unread, and our PINGs went out late. Judging the peer now would blame
        // it for our stall, so it gets one PING and a round trip (at least a quarter of
        // read_timeout) to show life before any verdict.
        ++stats_.stalls;
        judge_after_ = now + stall_grace();
        if (opts_.ping_interval.count() > 0 && !writing_ && !peer_finished_)
            send_ping(now);
    } else {
        // After a stall only the verdicts wait for the grace; PINGs keep their interval.
        const bool judge = now >= judge_after_;
        if (judge && writing_ && opts_.write_timeout.count() > 0 &&
            now - last_write_progress_ >= opts_.write_timeout)
            stop(error::write_timeout);
        else if (peer_finished_) {
            if (judge && now >= half_close_deadline())
                stop(net::error::eof); // the application never took the EOF
        } else if (judge && !read_paused_ && opts_.read_timeout.count() > 0 &&
                   now - last_read_ >= read_deadline())
            stop(error::timeout);
        else if (judge && !read_paused_ && opts_.idle_timeout.count() > 0 &&
                 now - last_frame_ >= opts_.idle_timeout)
            stop(error::idle_timeout);
        else if (opts_.ping_interval.count() > 0 && !writing_ && now - last_write_ >= ping_delay_)
            send_ping(now);
    }
    if (live())
        update_health(now);
    rearm(); // the observer may have closed the session: rearm() checks
}

template <class Stream, class Framing>
bool session_state<Stream, Framing>::woke_late(time_point now) const noexcept {
    return now - timer_expiry_ > stall_tolerance();
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::stall_tolerance() const noexcept -> clock::duration {
    // Timers on a healthy loop fire within a millisecond or two of their expiry.
    return std::max<clock::duration>(std::chrono::milliseconds(50), opts_.read_timeout / 4);
}

template <class Stream, class Framing>
auto session_state<Stream, Framing>::stall_grace() const noexcept -> clock::duration {
    const clock::duration round_trip = 2 * (stats_.smoothed_rtt + 4 * stats_.rtt_variance);
    const clock::duration grace = std::max(stall_tolerance(), round_trip);
    return opts_.read_timeout.count() > 0 ? std::min<clock::duration>(grace, opts_.read_timeout)
                                          : grace;
}

template <class Stream, class Framing>
void session_state<Stream, Framing>::send_ping(time_point now) {
    if (opts_.max_unanswered_pings > 0 && unanswered_pings_ >= opts_.max_unanswered_pings) {
        stop(error::unanswered_pings);
        return;
    }
    ++unanswered_pings_;
    ++next_ping_id_;
    if (pings_count_ == max_tracked_pings) { // forget the oldest; memory stays fixed
        pings_head_ = (pings_head_ + 1) % max_tracked_pings;
        --pings_count_;
    }
    pings_[(pings_head_ + pings_count_) % max_tracked_pings] = ping_record{next_ping_id_, now};
    ++pings_count_;
    ping_delay_ = jitter_.shorten(opts_.ping_interval, 50); // up to 5 % early
    ping_in_batch_ = true;
    in_sentry_ = true; // the caller reschedules the timer, including the write deadline
    start_write();
    in_sentry_ = false;
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
