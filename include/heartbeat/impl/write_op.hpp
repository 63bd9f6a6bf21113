// The writer: one write in flight at a time. Each batch gathers the pending PING or PONG and as
// many queued data frames as fit, with no copy of any payload; partial writes continue where
// they stopped. On a socket, the first write of a turn is tried as a plain non-blocking write
// (see write_some).
// Every byte of progress feeds write_timeout; a completed write postpones the next PING, since
// the peer just heard from us.
#ifndef HEARTBEAT_IMPL_WRITE_OP_HPP
#define HEARTBEAT_IMPL_WRITE_OP_HPP

#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::write_batch(bool direct) {
    HEARTBEAT_ASSERT(!writing_, "a second write started while one is in flight");
    write_buffers_.clear();
    std::size_t heartbeat_size = 0;
    if (ping_in_batch_) {
        heartbeat_size +=
            framing_.encode_heartbeat(frame_kind::ping, ping_id_, heartbeat_bytes_.data());
    }
    if (pong_pending_) {
        pong_pending_ = false;
        heartbeat_size += framing_.encode_heartbeat(frame_kind::pong, pong_id_,
                                                    heartbeat_bytes_.data() + heartbeat_size);
        ++stats_.pongs_sent;
    }
    if (heartbeat_size)
        write_buffers_.push(net::buffer(heartbeat_bytes_.data(), heartbeat_size));

    // A batch stops at a few dozen buffers or 64 KiB, so one slow write holds back little.
    constexpr std::size_t batch_bytes = std::size_t{64} * 1024;
    std::size_t bytes = heartbeat_size;
    batch_frames_ = 0;
    for (auto* n = send_queue_.front(); n && write_buffers_.has_room(3); n = n->next) {
        if (batch_frames_ > 0 && bytes >= batch_bytes)
            break;
        auto& d = n->data;
        d.writing = true;
        ++batch_frames_;
        if (d.header_size)
            write_buffers_.push(net::buffer(d.header.data(), d.header_size));
        if (!d.payload.empty())
            write_buffers_.push(net::buffer(d.payload));
        if (d.trailer_size)
            write_buffers_.push(net::buffer(d.trailer.data(), d.trailer_size));
        bytes += d.payload.size() + d.header_size + d.trailer_size;
    }
    if (write_buffers_.size() == 0 && batch_frames_ == 0)
        return;
    write_first_ = 0;
    write_last_ = write_buffers_.size();
    writing_ = true;
    if (write_last_ == 0) { // only empty frames (a Framing may encode one as nothing)
        on_write(error_code(), 0);
        return;
    }
    clocks_.write_started(clock::now());
    // The timer must wake by the write deadline (it rarely moves: see schedule()).
    if (opts_.write_timeout.count() > 0)
        schedule(clocks_.write_deadline());
    write_some(direct);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::write_some(bool direct) {
    if constexpr (waits_for_readiness<Stream>::value) {
        // A socket in non-blocking mode: try the write right here. It usually goes out whole,
        // and then costs no operation and no trip through the scheduler. Only for the first
        // write at a turn's end (finish_turn), where writes are batched anyway: a user's burst
        // of try_send outside our turns must gather behind one write in flight, not make a
        // system call each, and a chain of sends completing each other must go back through the
        // scheduler, so other work gets a turn.
        if (direct && readiness_) {
            error_code ec;
            const std::size_t n =
                stream_.write_some(buffer_range{write_buffers_.data() + write_first_,
                                                write_buffers_.data() + write_last_},
                                   ec);
            if (!must_wait(ec)) {
                on_write(ec, n);
                return;
            }
        }
    } else {
        (void)direct;
    }
    stream_.async_write_some(
        buffer_range{write_buffers_.data() + write_first_, write_buffers_.data() + write_last_},
        write_handler{ref(this)});
}

/// The write failed, or the session ended while it was in flight.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::end_write(error_code ec) {
    writing_ = false;
    ping_in_batch_ = false;
    if (live())
        stop(ec);
    // The batch in flight shares the session's fate.
    for (; batch_frames_ > 0; --batch_frames_) {
        auto* node = send_queue_.pop_front();
        send_queue_cost_ -= node->data.cost();
        if (node->data.detached)
            node->destroy();
        else
            complete(node, reason_);
    }
    if constexpr (has_async_shutdown<Stream>::value) {
        if (shutdown_after_write_) { // see start_shutdown()
            shutdown_after_write_ = false;
            if (ec)
                close_stream(stream_);
            else
                stream_.async_shutdown(shutdown_handler{ref(this)});
        }
    }
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_write(error_code ec, std::size_t n) {
    HEARTBEAT_ASSERT(writing_, "a write completed that the writer never started");
    if (!live() || ec) {
        end_write(ec);
        return;
    }
    const time_point now = clock::now();
    stats_.bytes_sent += n;
    clocks_.write_progressed(now);
    while (n > 0) {
        auto& b = write_buffers_[write_first_];
        if (n < b.size()) {
            b += n;
            break;
        }
        n -= b.size();
        ++write_first_;
    }
    while (write_first_ < write_last_ && write_buffers_[write_first_].size() == 0)
        ++write_first_;
    if (write_first_ < write_last_) {
        write_some(false); // partial write: the rest waits for the socket to drain
        return;
    }

    writing_ = false;
    clocks_.write_done(now);
    if (ping_in_batch_) {
        ping_in_batch_ = false;
        ++stats_.pings_sent;
    }
    // The senders' handlers run at the turn's end; what they send then joins the next batch.
    for (; batch_frames_ > 0; --batch_frames_) {
        auto* node = send_queue_.pop_front();
        send_queue_cost_ -= node->data.cost();
        stats_.frames_sent += node->data.frames;
        if (node->data.detached) {
            cache_->give_payload(std::move(node->data.payload));
            node->destroy();
        } else {
            complete(node, error_code());
        }
    }
    start_write(); // (in a turn, the turn's end writes)
    // The next PING is now due an interval from here; this only touches the timer when that
    // is earlier than its current wake-up (it rarely is).
    rearm();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::queue_pong(std::uint64_t id) {
    // Coalesced: a peer flooding PINGs without reading gets one PONG per write, never a backlog.
    pong_id_ = id;
    if (!pong_pending_) {
        pong_pending_ = true;
        start_write();
    }
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
