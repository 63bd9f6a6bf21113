// What decides a timeout. The session's clocks as pure logic: told when the peer was last heard
// (a byte, a data frame), when we last wrote and whether a write is in flight, whether reading
// is paused or the peer sent its EOF, it answers when the next wake-up is due and what is due
// then: a PING, a verdict (timeout, idle_timeout, write_timeout, unanswered_pings, the end of a
// half-close), or a change of health. No I/O, no Asio: the session feeds it events and acts on
// its answers, and tests drive it with times of their own.
//
// One list of deadlines (for_each_deadline) serves both questions, "when to wake" and "what is
// due now", so the two cannot drift apart.
#ifndef HEARTBEAT_DETAIL_LIVENESS_HPP
#define HEARTBEAT_DETAIL_LIVENESS_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/jitter.hpp>
#include <heartbeat/detail/ping_tracker.hpp>
#include <heartbeat/options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class liveness {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using duration = clock::duration;

    /// What a wake-up found due. Verdicts end the session.
    enum class due : std::uint8_t {
        nothing,
        ping,             // send a PING now
        write_timeout,    // a write made no progress for write_timeout
        half_close_ended, // the application never took the peer's EOF (eof)
        timeout,          // no byte for the read deadline
        idle_timeout,     // no data frame for idle_timeout
        unanswered_pings, // max_unanswered_pings PINGs went without a PONG
    };

    liveness(const options& o, const ping_tracker& pings, std::uint64_t seed) noexcept
        : opts_(o)
        , pings_(pings)
        , jitter_(seed)
        , tick_(tick_for(o)) {}

    // ---- Events --------------------------------------------------------------------------

    /// The run starts: every clock counts from now. The first PING comes after a random half to
    /// whole interval, so sessions started together spread out at once.
    void started(time_point now) noexcept {
        last_read_ = last_frame_ = last_write_ = last_write_progress_ = now;
        ping_delay_ = jitter_.shorten(opts_.ping_interval, 500);
    }
    /// Bytes arrived: any byte proves the peer alive, even inside a large frame.
    void bytes_received(time_point now) noexcept {
        if (opts_.adaptive_read_timeout_floor.count() > 0)
            note_gap(now);
        last_read_ = now;
    }
    /// A whole data frame arrived (heartbeats do not count for idle_timeout).
    void frame_received(time_point now) noexcept { last_frame_ = now; }
    /// A write started; a write in flight postpones PINGs and runs under write_timeout.
    void write_started(time_point now) noexcept {
        writing_ = true;
        last_write_progress_ = now;
    }
    void write_progressed(time_point now) noexcept { last_write_progress_ = now; }
    /// The write completed: the peer just heard from us.
    void write_done(time_point now) noexcept {
        writing_ = false;
        last_write_ = now;
    }
    /// A PING went out (or joined the write about to start): the next one is an interval away,
    /// up to 5 % early so that sessions do not ping in lockstep.
    void ping_sent() noexcept { ping_delay_ = jitter_.shorten(opts_.ping_interval, 50); }
    /// Reading paused (receive queue full): the peer is not judged while we do not listen.
    void reading_paused() noexcept { read_paused_ = true; }
    /// Reading resumed: the peer is judged from now on, not blamed for our pause.
    void reading_resumed(time_point now) noexcept {
        read_paused_ = false;
        last_read_ = last_frame_ = now;
    }
    /// The peer sent its EOF (a half-close): no more reads, no PING, no health; the session
    /// waits at most shutdown_timeout for the application to take the EOF.
    void peer_finished(time_point now) noexcept {
        peer_finished_ = true;
        last_read_ = now; // the EOF is the peer's last word
    }
    /// The application knows of the EOF: only write_timeout bounds the rest.
    void eof_taken() noexcept { eof_taken_ = true; }
    /// Whether anything watches health (the session's observer): only then is the suspect
    /// moment a reason to wake up. Takes the health at `now` as known, without a change.
    void watch_health(bool on, time_point now) noexcept {
        watch_health_ = on;
        reported_suspect_ = suspect(now);
    }
    /// Takes the health at `now`; returns true when it changed since last taken. After the
    /// peer's EOF it no longer changes: a goodbye says nothing new about the peer's health.
    bool health_changed(time_point now) noexcept {
        if (peer_finished_)
            return false;
        const bool s = suspect(now);
        if (s == reported_suspect_)
            return false;
        reported_suspect_ = s;
        return true;
    }
    bool reported_suspect() const noexcept { return reported_suspect_; }

    // ---- Questions -----------------------------------------------------------------------

    /// When the timer must wake next (rounded up to the tick), or time_point::max() for never.
    time_point next_wakeup() const noexcept {
        time_point wake = time_point::max();
        time_point ping = time_point::max();
        for_each_deadline([&](due what, time_point at) {
            if (what == due::ping)
                ping = at;
            else
                wake = std::min(wake, at);
        });
        // Verdicts (and the suspect moment) wait for the grace after a stall; PINGs do not.
        if (wake != time_point::max())
            wake = std::max(wake, judge_after_);
        wake = std::min(wake, ping);
        return wake == time_point::max() ? wake : on_tick(wake);
    }

    /// When the next PING is due (rounded up to the tick), or time_point::max() for none. All a
    /// completed write changes: it moves the PING, and ends the write deadline, which can only
    /// make the wake-up later (the timer learns that when it fires).
    time_point next_ping() const noexcept {
        return pinging() ? on_tick(last_write_ + ping_delay_) : time_point::max();
    }

    /// The timer woke at `now`, having been set for `expiry`. Returns what is due, worst first.
    /// A wake-up far later than asked means our own event loop was blocked (a slow handler, a
    /// suspended VM): bytes from the peer may be waiting unread, so instead of a verdict the
    /// peer gets a round trip (at least a quarter of read_timeout) and a PING to show life.
    due wake(time_point now, time_point expiry) noexcept {
        if (now - expiry > stall_tolerance()) {
            ++stalls_;
            judge_after_ = now + stall_grace();
            return pinging() ? ping_or_give_up() : due::nothing;
        }
        const bool judge = now >= judge_after_;
        due found = due::nothing;
        for_each_deadline([&](due what, time_point at) {
            if (found != due::nothing || now < at)
                return;
            if (what == due::ping)
                found = ping_or_give_up();
            else if (judge && what != due::nothing)
                found = what;
        });
        return found;
    }

    /// Whether the peer is suspect at `now`: silent for half the read deadline, or a PONG
    /// overdue from a peer that answers them.
    bool suspect(time_point now) const noexcept { return now >= suspect_at(); }

    /// The read deadline in force: read_timeout, or tighter once the RTT-adaptive deadline has
    /// evidence (options::adaptive_read_timeout_floor).
    duration read_deadline() const noexcept {
        const duration configured = opts_.read_timeout;
        if (opts_.adaptive_read_timeout_floor.count() == 0 || pings_.pongs() < 3 ||
            !gap_window_full_)
            return configured;
        const duration gap = std::max(gap_max_previous_, gap_max_current_);
        const duration adaptive =
            std::max<duration>(opts_.adaptive_read_timeout_floor, gap + 4 * pings_.rtt_bound());
        return std::min(adaptive, configured);
    }

    /// When the write in flight times out (write_timeout set): the writer arms the timer for it
    /// as a write starts, without asking for the whole list.
    time_point write_deadline() const noexcept {
        return last_write_progress_ + opts_.write_timeout;
    }
    time_point last_read() const noexcept { return last_read_; }
    std::uint64_t stalls() const noexcept { return stalls_; }
    duration tick() const noexcept { return tick_; }

    /// Rounds `when` up to the tick, a fixed grid shared by every session with the same clocks:
    /// sessions due around the same moment then expire together, and the reactor re-arms its
    /// kernel timer once per tick rather than once per session.
    time_point on_tick(time_point when) const noexcept {
        const duration past = when.time_since_epoch() % tick_;
        return past == duration::zero() ? when : when + (tick_ - past);
    }

    /// 1/64 of the shortest clock, between 1 and 16 ms: a verdict comes at most that late.
    static duration tick_for(const options& o) noexcept {
        duration shortest = std::chrono::milliseconds(1024);
        for (const options::duration d :
             {o.ping_interval, o.read_timeout, o.idle_timeout, o.write_timeout})
            if (d.count() > 0)
                shortest = std::min<duration>(shortest, d);
        return std::clamp<duration>(shortest / 64, std::chrono::milliseconds(1),
                                    std::chrono::milliseconds(16));
    }

private:
    /// Every deadline in force, in the order wake() acts on them: verdicts first, the most
    /// telling first; then the suspect moment (reported, never acted on here: `nothing`); the
    /// PING last.
    template <class F>
    void for_each_deadline(F&& f) const {
        if (writing_ && opts_.write_timeout.count() > 0)
            f(due::write_timeout, last_write_progress_ + opts_.write_timeout);
        if (peer_finished_) {
            if (!eof_taken_)
                f(due::half_close_ended, last_read_ + opts_.shutdown_timeout);
            return; // nothing to read, nobody to ping
        }
        if (!read_paused_) {
            if (opts_.read_timeout.count() > 0)
                f(due::timeout, last_read_ + read_deadline());
            if (opts_.idle_timeout.count() > 0)
                f(due::idle_timeout, last_frame_ + opts_.idle_timeout);
        }
        if (watch_health_ && !reported_suspect_)
            f(due::nothing, suspect_at());
        if (pinging())
            f(due::ping, last_write_ + ping_delay_);
    }

    bool pinging() const noexcept {
        return opts_.ping_interval.count() > 0 && !writing_ && !peer_finished_;
    }

    /// A PING is due: unless max_unanswered_pings of them already went unanswered.
    due ping_or_give_up() const noexcept {
        if (opts_.max_unanswered_pings > 0 && pings_.unanswered() >= opts_.max_unanswered_pings)
            return due::unanswered_pings;
        return due::ping;
    }

    time_point suspect_at() const noexcept {
        time_point at = time_point::max();
        if (peer_finished_) // its goodbye said all there is to say about its health
            return at;
        if (!read_paused_ && opts_.read_timeout.count() > 0)
            at = last_read_ + read_deadline() / 2;
        // A PONG is only expected from a peer that has answered one before.
        if (pings_.pongs() > 0 && pings_.outstanding())
            at = std::min(at, pings_.oldest_sent() + pong_patience());
        return at;
    }

    duration pong_patience() const noexcept {
        return opts_.read_timeout.count() > 0 ? duration(opts_.read_timeout) / 2
                                              : duration(opts_.ping_interval);
    }

    duration stall_tolerance() const noexcept {
        // Timers on a healthy loop fire within a millisecond or two of their expiry.
        return std::max<duration>(std::chrono::milliseconds(50), opts_.read_timeout / 4);
    }

    duration stall_grace() const noexcept {
        const duration grace = std::max(stall_tolerance(), 2 * pings_.rtt_bound());
        return opts_.read_timeout.count() > 0 ? std::min<duration>(grace, opts_.read_timeout)
                                              : grace;
    }

    void note_gap(time_point now) noexcept {
        // The longest gap over the last one to two read_timeouts, kept in two windows.
        const duration window = opts_.read_timeout;
        if (now - gap_window_start_ >= window) {
            gap_window_full_ = gap_window_start_ != time_point{};
            gap_max_previous_ =
                now - gap_window_start_ >= 2 * window ? now - last_read_ : gap_max_current_;
            gap_max_current_ = duration::zero();
            gap_window_start_ = now;
        }
        gap_max_current_ = std::max(gap_max_current_, now - last_read_);
    }

    const options& opts_;
    const ping_tracker& pings_;
    jitter jitter_;
    const duration tick_;

    time_point last_read_{};           // any byte from the peer
    time_point last_frame_{};          // a data frame from the peer
    time_point last_write_{};          // a write of ours completed
    time_point last_write_progress_{}; // a write of ours moved a byte
    time_point judge_after_{};         // no verdict before this: set after a stall of our loop
    duration ping_delay_{};
    std::uint64_t stalls_ = 0;

    // The RTT-adaptive deadline's view of the peer's longest gap between bytes.
    time_point gap_window_start_{};
    duration gap_max_current_{};
    duration gap_max_previous_{};

    bool writing_ = false;
    bool read_paused_ = false;
    bool peer_finished_ = false;
    bool eof_taken_ = false;
    bool watch_health_ = false;
    bool reported_suspect_ = false;
    bool gap_window_full_ = false;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
