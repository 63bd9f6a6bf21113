// The PING/RTT tracker: our PINGs in flight (to match PONGs and measure round trips, RFC 6298
// style), how many went unanswered in a row, and the pace of the peer's own PINGs (a flood).
// Pure logic over time points: no I/O, no Asio.
#ifndef HEARTBEAT_DETAIL_PING_TRACKER_HPP
#define HEARTBEAT_DETAIL_PING_TRACKER_HPP

#include <heartbeat/detail/config.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class ping_tracker {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using duration = clock::duration;

    /// Our PINGs remembered at once; older ones are forgotten, so memory stays fixed.
    static constexpr std::size_t max_tracked = 4;

    /// `ids`: whether PONGs carry the id of the PING they answer (Framing::heartbeat_ids).
    /// `min_peer_interval`: see options::min_peer_ping_interval (zero: any pace).
    ping_tracker(bool ids, duration min_peer_interval) noexcept
        : min_peer_interval_(min_peer_interval)
        , ids_(ids) {}

    /// A PING goes out now; returns its id (1, 2, 3, ...).
    std::uint64_t ping_sent(time_point now) noexcept {
        ++unanswered_;
        ++next_id_;
        if (count_ == max_tracked) { // forget the oldest
            head_ = static_cast<std::uint8_t>((head_ + 1) % max_tracked);
            --count_;
        }
        pings_[(head_ + count_) % max_tracked] = record{next_id_, now};
        ++count_;
        return next_id_;
    }

    /// The id the next PING will carry.
    std::uint64_t next_id() const noexcept { return next_id_ + 1; }

    /// A PONG arrived. With ids, it answers its PING and every older one (the peer coalesces);
    /// without, every PING in flight, and the round trip counts from the oldest of them.
    /// Returns whether it answered anything (not unsolicited, not for a forgotten PING).
    bool pong_received(std::uint64_t id, time_point now) noexcept {
        ++pongs_;
        std::uint8_t answered = 0;
        time_point sent{};
        while (answered < count_) {
            const record& r = pings_[(head_ + answered) % max_tracked];
            if (ids_ && r.id > id)
                break;
            if (ids_ || answered == 0)
                sent = r.sent;
            ++answered;
            if (ids_ && r.id == id)
                break;
        }
        if (answered == 0)
            return false;
        head_ = static_cast<std::uint8_t>((head_ + answered) % max_tracked);
        count_ = static_cast<std::uint8_t>(count_ - answered);
        unanswered_ = 0;
        add_sample(now - sent);
        return true;
    }

    /// The peer PINGed us now. Returns true once it floods: more than a few PINGs in a row
    /// closer together than min_peer_interval (a few early ones are forgiven: a peer's timer
    /// can fire early after a write).
    bool peer_pinged(time_point now) noexcept {
        if (min_peer_interval_ == duration::zero())
            return false;
        constexpr unsigned forgiven = 3;
        if (now - last_peer_ping_ < min_peer_interval_)
            ++strikes_;
        else
            strikes_ = 0;
        last_peer_ping_ = now;
        return strikes_ > forgiven;
    }

    /// PINGs sent in a row with no PONG since.
    std::size_t unanswered() const noexcept { return unanswered_; }
    /// Whether a PING we remember is still waiting for its PONG.
    bool outstanding() const noexcept { return count_ > 0; }
    /// When the oldest remembered PING still waiting went out (outstanding() only).
    time_point oldest_sent() const noexcept { return pings_[head_].sent; }
    /// Every PONG received, matched or not.
    std::uint64_t pongs() const noexcept { return pongs_; }

    duration last_rtt() const noexcept { return last_rtt_; }
    duration smoothed_rtt() const noexcept { return srtt_; }
    duration rtt_variance() const noexcept { return rttvar_; }
    /// A round trip with margin: smoothed RTT + 4 x variance (RFC 6298's RTO before its floor).
    duration rtt_bound() const noexcept { return srtt_ + 4 * rttvar_; }

private:
    struct record {
        std::uint64_t id = 0;
        time_point sent;
    };

    void add_sample(duration rtt) noexcept {
        last_rtt_ = rtt;
        if (srtt_ == duration::zero()) {
            srtt_ = rtt;
            rttvar_ = rtt / 2;
            return;
        }
        // RFC 6298: alpha 1/8, beta 1/4.
        const duration diff = rtt > srtt_ ? rtt - srtt_ : srtt_ - rtt;
        rttvar_ = (3 * rttvar_ + diff) / 4;
        srtt_ = (7 * srtt_ + rtt) / 8;
    }

    std::array<record, max_tracked> pings_{};
    std::uint64_t next_id_ = 0;
    std::uint64_t pongs_ = 0;
    duration last_rtt_{};
    duration srtt_{};
    duration rttvar_{};
    duration min_peer_interval_;
    time_point last_peer_ping_{};
    std::uint32_t unanswered_ = 0; // beyond 4 billion PINGs a session has long been dead
    std::uint8_t head_ = 0;
    std::uint8_t count_ = 0;
    std::uint8_t strikes_ = 0;
    bool ids_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
