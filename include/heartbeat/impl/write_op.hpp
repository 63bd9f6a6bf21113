// The writer's I/O: one write in flight at a time, of the batch the frame writer gathered
// (detail/frame_writer.hpp: the queue, the heartbeats and the write progress). On a socket, the
// first write of a turn is tried as a plain non-blocking write (see write_some).
// Every byte of progress feeds write_timeout; a completed write postpones the next PING, since
// the peer just heard from us. The nodes of a finished batch are completed here, in order.
//
// Windows (IOCP): an overlapped send completes only once the socket has taken all of its bytes,
// never in part, and says nothing before. A batch written whole (a large frame: the batch limit
// is 64 KiB of frames, but one frame is never split between batches) thus showed no progress
// until its last byte left: a peer reading slowly but steadily ended in write_timeout, which
// only a peer that stops reading deserves. So there each asynchronous write holds at most
// iocp_write_bytes: its completion is the progress write_timeout waits for, and a peer that
// stops reading leaves it pending (measured under wine 8.0: a 256 KiB async_write_some to a
// peer reading 8 KiB every 15 ms completed after 1.5 s, in one piece).
#ifndef HEARTBEAT_IMPL_WRITE_OP_HPP
#define HEARTBEAT_IMPL_WRITE_OP_HPP

#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::write_batch(bool direct) {
    retire_flushes(); // (a batch never holds one; none is left first in the queue anyway)
    if (!writer_.begin_batch(framing_))
        return;
    if (writer_.batch_empty()) { // only empty frames
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
            const std::size_t n = stream_.write_some(writer_.buffers(), ec);
            if (!must_wait(ec)) {
                on_write(ec, n);
                return;
            }
        }
    } else {
        (void)direct;
    }
#if HEARTBEAT_DETAIL_IOCP
    stream_.async_write_some(writer_.buffers(iocp_write_bytes), write_handler{ref(this)});
#else
    stream_.async_write_some(writer_.buffers(), write_handler{ref(this)});
#endif
}

/// The write failed, or the session ended while it was in flight.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::end_write(error_code ec) {
    writer_.end_batch(false);
    if (live())
        stop(ec);
    // The batch in flight shares the session's fate.
    writer_.retire_batch([this](send_node* node) { drop_send(node); });
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
    HEARTBEAT_ASSERT(writer_.writing(), "a write completed that the writer never started");
    if (!live() || ec) {
        if (ec == net::error::interrupted && live()) { // io_uring: a signal came; nothing lost
            write_some(false);
            return;
        }
        end_write(ec);
        return;
    }
    const time_point now = clock::now();
    counts_.bytes_sent += n;
    clocks_.write_progressed(now);
    if (!writer_.consume(n)) {
        write_some(false); // partial write: the rest waits for the socket to drain
        return;
    }

    const bool ping = writer_.end_batch();
    // A batch of frames a Framing encodes as nothing wrote nothing: the peer heard nothing, so
    // the next PING stays due when it was.
    const bool wrote = !writer_.batch_empty();
    if (wrote)
        clocks_.write_done(now);
    if (ping)
        ++counts_.pings_sent;
    // The senders' handlers run at the turn's end; what they send then joins the next batch.
    writer_.retire_batch([this](send_node* node) {
        counts_.frames_sent += node->data.frames;
        if (node->data.detached) {
            // Only a shared buffer's memory is worth keeping: an accepted frame's is the
            // application's string, as small as that frame (and often with no heap memory).
            if (node->data.shared)
                cache_->give_payload(std::move(node->data.payload));
            node->destroy(*cache_);
        } else {
            complete_in_place(node); // success: the result as made
        }
    });
    retire_flushes(); // those the batch ended at
    start_write();    // (in a turn, the turn's end writes)
    // The next PING is now due an interval from here; this only touches the timer when that
    // is earlier than its current wake-up (it rarely is).
    if (wrote)
        rearm_ping();
}

/// A frame that will never be written: its sender learns why the session ended.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::drop_send(send_node* node) {
    if (node->data.detached)
        node->destroy(*cache_);
    else
        complete(node, reason_);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::queue_pong(std::uint64_t id) {
    if (writer_.queue_pong(id))
        start_write(); // (a PONG already pending has a write coming)
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
