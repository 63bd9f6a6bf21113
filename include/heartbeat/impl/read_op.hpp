// The reader: one read in flight at a time, frames decoded in place, heartbeats answered or
// matched, data frames handed to a waiting async_receive or held for the next one (or for
// try_receive). No user code runs while it works: receive completions go to the completion
// queue, which runs them once the read's turn has decoded it all. Idle sockets wait for readiness
// and then read into the thread's scratch buffer (detail/read_scratch.hpp); busy sockets and other
// streams (TLS) read into the session's own buffer (see note_flow). Each read only stores a
// timestamp for the deadline; the timer checks it when it fires (no timer cancel per read).
#ifndef HEARTBEAT_IMPL_READ_OP_HPP
#define HEARTBEAT_IMPL_READ_OP_HPP

#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::start_read() {
    // Frames left undecoded in the buffer keep it still until the turn's end (settle_reads).
    if (!live() || reading_ || read_paused_ || peer_finished_ || undecoded_)
        return;
    if constexpr (waits_for_readiness<Stream>::value) {
        if (readiness_ && !flowing_) {
            // Idle, the session holds no read buffer: the bytes will go to the thread's scratch.
            if (read_buffer_.size() == 0)
                read_buffer_.release();
            reading_ = true;
            stream_.async_wait(Stream::wait_read, ready_handler{ref(this)});
            return;
        }
    }
    const auto space = prepare_read();
    if (space.size() == 0) { // a Framing that asked for more than its max_overhead allows
        stop(error::frame_too_large);
        return;
    }
    reading_ = true;
    stream_.async_read_some(space, read_handler{ref(this)});
}

template <class Stream, class Framing, class Clock>
net::mutable_buffer session_state<Stream, Framing, Clock>::prepare_read() {
    return read_buffer_.prepare(read_limit());
}

template <class Stream, class Framing, class Clock>
std::size_t session_state<Stream, Framing, Clock>::read_limit() const noexcept {
    // Room for one maximal frame, and always for a heartbeat, whatever max_frame_size says.
    return std::max(opts_.max_frame_size + Framing::max_overhead, Framing::max_heartbeat_size);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_read(error_code ec, std::size_t n) {
    HEARTBEAT_ASSERT(reading_, "a read completed that the reader never started");
    reading_ = false;
    if (!live())
        return;
    if (ec) {
        read_failed(ec);
        return;
    }
    read_buffer_.commit(n);
    const time_point previous_read = clocks_.last_read();
    take(read_buffer_, n);
    note_flow(previous_read);
    after_reads(previous_read);
    // The next read starts at the turn's end, once the replies are written (finish_turn).
}

/// The reader's state is whole again: the health observer (user code) may run.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::after_reads(time_point previous_read) {
    // Only a suspect session has anything to re-check.
    if (clocks_.reported_suspect() && clocks_.last_read() != previous_read)
        update_health(clocks_.last_read());
}

/// A socket reads in one of two ways. Idle, it waits for readiness and reads into the thread's
/// scratch buffer, holding no buffer of its own. While bytes keep coming (the previous read
/// less than a tick ago), it reads with async_read_some into its own buffer instead: Asio then
/// tries the read at once and leaves the descriptor's registration alone, where every wait for
/// readiness costs an epoll_ctl. The first read after a pause of a tick or more goes back to
/// waiting; a session silent since holds its buffer only until the peer's next byte (at most
/// a heartbeat interval, or read_timeout ends it).
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::note_flow(time_point previous_read) noexcept {
    if (readiness_ && clocks_.last_read() != previous_read) // (a wake-up may find nothing)
        flowing_ = clocks_.last_read() - previous_read < clocks_.tick();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_ready(error_code ec) {
    if constexpr (waits_for_readiness<Stream>::value) {
        if (!live() || ec) {
            reading_ = false;
            if (ec && live())
                stop(ec);
            return;
        }
        read_ready();
    } else {
        (void)ec;
    }
}

/// The socket is readable: reads what it holds without blocking, then waits for readiness again.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::read_ready() {
    // reading_ stays set while we read here, so nothing we call starts another read.
    constexpr int max_reads = 16; // then back to the reactor, so other sessions get a turn
    const time_point previous_read = clocks_.last_read();
    for (int i = 0; i < max_reads && live() && !read_paused_; ++i) {
        error_code read_ec;
        std::size_t requested = 0;
        std::size_t n = 0;
        if (read_buffer_.size() == 0)
            n = read_into_scratch(read_ec, requested);
        if (requested == 0) { // a split frame, or the scratch is in use on this thread
            n = read_into_buffer(read_ec, requested);
            if (requested == 0) {
                reading_ = false;
                stop(error::frame_too_large);
                return;
            }
        }
        if (must_wait(read_ec))
            break;
        if (read_ec) {
            reading_ = false;
            if (live())
                read_failed(read_ec);
            return;
        }
        if (n < requested) // a short read emptied the socket's receive queue
            break;
        // Frames wait for the application, which takes them at the turn's end: never more
        // than one read's worth is decoded ahead of it.
        if (!ready_.empty() || !received_.empty() || undecoded_)
            break;
    }
    reading_ = false;
    note_flow(previous_read);
    after_reads(previous_read);
}

/// One non-blocking read into this thread's scratch buffer, when it is free; `requested` stays 0
/// when it is not. What is decoded from it is taken at once; the start of a frame still
/// incomplete moves to the session's own buffer.
template <class Stream, class Framing, class Clock>
std::size_t session_state<Stream, Framing, Clock>::read_into_scratch(error_code& ec,
                                                                     std::size_t& requested) {
    read_scratch* scratch = cache_->acquire_scratch();
    if (!scratch)
        return 0;
    const scratch_lease lease{scratch};
    // No more than the session's own buffer would take, so a paused session holds at most one
    // maximal frame beyond its receive queue.
    requested = std::min(read_scratch::capacity, read_limit());
    const std::size_t n = stream_.read_some(net::buffer(scratch->data(), requested), ec);
    if (!ec) {
        scratch_view view{scratch->data(), scratch->data() + n};
        take(view, n);
        if (view.size() > 0 && live())
            read_buffer_.append(view.data(), view.size());
    }
    return n;
}

/// One non-blocking read into the session's own buffer; `requested` stays 0 when it has no room.
template <class Stream, class Framing, class Clock>
std::size_t session_state<Stream, Framing, Clock>::read_into_buffer(error_code& ec,
                                                                    std::size_t& requested) {
    const auto space = prepare_read();
    requested = space.size();
    if (requested == 0)
        return 0;
    const std::size_t n = stream_.read_some(space, ec);
    if (!ec) {
        read_buffer_.commit(n);
        take(read_buffer_, n);
    }
    return n;
}

/// Bookkeeping for `n` bytes just read into `input`, then decodes what is complete.
template <class Stream, class Framing, class Clock>
template <class Input>
void session_state<Stream, Framing, Clock>::take(Input& input, std::size_t n) {
    const time_point now = clock::now();
    clocks_.bytes_received(now);
    stats_.bytes_received += n;
    // Only the session's own buffer outlives the read: the thread's scratch is decoded whole.
    decode_loop(input, now, std::is_same_v<Input, frame_buffer>);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::decode_available(time_point now) {
    decode_loop(read_buffer_, now, true);
}

/// Decodes what `input` holds: heartbeats are answered or matched, data frames go to a waiting
/// async_receive or are held. Within a turn, with `may_leave`, a data frame that nobody waits
/// for stops the decoding instead: it and what follows stay in the read buffer, where
/// try_receive takes them with a single copy into the application's string; the turn's end
/// decodes whatever is left (settle_reads), so heartbeats are still answered in this turn.
template <class Stream, class Framing, class Clock>
template <class Input>
void session_state<Stream, Framing, Clock>::decode_loop(Input& input, time_point now,
                                                        bool may_leave) {
    while (live()) {
        if (received_cost_ >= opts_.receive_queue_limit) {
            read_paused_ = true; // resumed by async_receive or try_receive
            clocks_.reading_paused();
            return;
        }
        decode_result r;
        if (!next_data_frame(input, now, r))
            return;
        if (may_leave && receivers_.empty() && ready_.in_turn()) {
            undecoded_ = true;
            return;
        }
        clocks_.frame_received(now);
        ++stats_.frames_received;
        deliver(input.data() + r.payload_offset, r.payload_size);
        input.consume(r.consumed);
    }
}

/// Decodes from `input` until a data frame is next, describes it in `frame` (not consumed) and
/// returns true; returns false once `input` holds no whole frame or the session ends.
/// Heartbeats met on the way are answered or matched.
template <class Stream, class Framing, class Clock>
template <class Input>
HEARTBEAT_ALWAYS_INLINE bool
session_state<Stream, Framing, Clock>::next_data_frame(Input& input, time_point now,
                                                       decode_result& frame) {
    while (live()) {
        if (input.size() == 0) // (an emptied buffer may have no storage at all)
            return false;
        const decode_result r = framing_.decode(input.data(), input.size(), opts_.max_frame_size);
        HEARTBEAT_ASSERT(r.status != decode_result::frame ||
                             (r.consumed > 0 && r.consumed <= input.size() &&
                              r.payload_offset + r.payload_size <= r.consumed),
                         "the Framing's decode returned a frame outside the bytes it was given");
        if (r.status == decode_result::need_more)
            return false;
        if (r.status == decode_result::failed) {
            stop(r.error);
            return false;
        }
        switch (r.kind) {
        case frame_kind::data:
            frame = r;
            return true;
        case frame_kind::ping:
            ++stats_.pings_received;
            if (pings_.peer_pinged(now)) {
                stop(error::ping_flood);
                return false;
            }
            if (opts_.answer_pings)
                queue_pong(r.heartbeat_id);
            break;
        case frame_kind::pong:
            pings_.pong_received(r.heartbeat_id, now);
            break;
        }
        input.consume(r.consumed);
    }
    return false;
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::deliver(const char* payload, std::size_t size) {
    if (auto* n = receivers_.pop_front()) { // (only waits while nothing is held)
        complete(n, error_code(), std::string(payload, size));
        return;
    }
    received_.push(payload, size);
    received_cost_ += size + sizeof(std::string);
}

/// The oldest frame held for the application, into `frame`: from the receive queue, else
/// decoded straight from the read buffer. False when none is held.
template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::take_held(std::string& frame) {
    if (!received_.empty()) { // (held frames come before the bytes read after them)
        received_.pop(frame);
        received_cost_ -= frame.size() + sizeof(std::string);
        return true;
    }
    if (!undecoded_)
        return false;
    const time_point now = clocks_.last_read(); // when these bytes came
    decode_result r;
    if (!next_data_frame(read_buffer_, now, r)) {
        undecoded_ = false; // the turn's end starts the next read
        return false;
    }
    clocks_.frame_received(now);
    ++stats_.frames_received;
    frame.clear(); // then append: cheaper than assign, which must allow for aliasing
    frame.append(read_buffer_.data() + r.payload_offset, r.payload_size);
    read_buffer_.consume(r.consumed);
    return true;
}

/// The turn's end, or the session's: frames left in the read buffer are decoded into the
/// receive queue (heartbeats among them answered), and the buffer is free for the next read.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::settle_reads() {
    if (!undecoded_)
        return;
    undecoded_ = false;
    decode_loop(read_buffer_, clocks_.last_read(), false);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::resume_reading() {
    if (!read_paused_ || received_cost_ >= opts_.receive_queue_limit)
        return;
    read_paused_ = false;
    // The peer was not heard while we stopped listening; judge it from now on.
    const time_point now = clock::now();
    clocks_.reading_resumed(now);
    decode_available(now);
    start_read();
    rearm(); // the deadlines left out while paused apply again
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
