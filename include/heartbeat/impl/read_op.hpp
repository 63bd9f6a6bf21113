// The reader's I/O: one read in flight at a time, into the buffer of the reader's logic
// (detail/frame_reader.hpp), which decodes it: heartbeats are answered or matched here, data
// frames handed to a waiting async_receive or held for the next one (or for try_receive). No
// user code runs while it works: receive completions go to the completion queue, which runs them
// once the read's turn has decoded it all; the next read starts at the turn's end, after the
// replies are written. Idle sockets wait for readiness and then read into the thread's scratch
// buffer (detail/read_scratch.hpp); busy sockets and other streams (TLS) read into the reader's
// buffer (see note_flow). Each read only stores a timestamp for the deadline; the timer checks it
// when it fires (no timer cancel per read).
#ifndef HEARTBEAT_IMPL_READ_OP_HPP
#define HEARTBEAT_IMPL_READ_OP_HPP

#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::start_read() {
    // Frames left undecoded in the buffer keep it still until the turn's end (settle_reads).
    if (!live() || reading_ || reader_.paused() || reader_.undecoded() || peer_finished_)
        return;
    if constexpr (waits_for_readiness<Stream>::value) {
        if (readiness_ && !flowing_) {
            // Idle, the session holds no read buffer: the bytes will go to the thread's scratch.
            reader_.release_buffer();
            reading_ = true;
            stream_.async_wait(Stream::wait_read, ready_handler{ref(this)});
            return;
        }
    }
    const auto space = reader_.prepare();
    if (space.size() == 0) { // a Framing that asked for more than its max_overhead allows
        stop(error::frame_too_large);
        return;
    }
    reading_ = true;
    stream_.async_read_some(space, read_handler{ref(this)});
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::on_read(error_code ec, std::size_t n) {
    HEARTBEAT_ASSERT(reading_, "a read completed that the reader never started");
    reading_ = false;
    if (!live())
        return;
    if (ec) {
        if (ec != net::error::interrupted) // (io_uring: a signal came) else the turn reads on
            read_failed(ec);
        return;
    }
    reader_.commit(n);
    const time_point previous_read = clocks_.last_read();
    reader_events events{*this, bytes_read(n)};
    reader_.decode_buffer(framing_, events, true);
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
            if (ec && live() && ec != net::error::interrupted) // (then the turn waits again)
                stop(ec);
            return;
        }
        read_ready();
    } else {
        (void)ec;
    }
}

/// The socket is readable: reads what it holds without blocking; the turn's end waits again.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::read_ready() {
    // reading_ stays set while we read here, so nothing we call starts another read.
    constexpr int max_reads = 16; // then back to the reactor, so other sessions get a turn
    const time_point previous_read = clocks_.last_read();
    for (int i = 0; i < max_reads && live() && !reader_.paused(); ++i) {
        error_code read_ec;
        std::size_t requested = 0;
        std::size_t n = 0;
        if (!reader_.buffered())
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
        if (!ready_.empty() || reader_.holds())
            break;
    }
    reading_ = false;
    note_flow(previous_read);
    after_reads(previous_read);
}

/// One non-blocking read into this thread's scratch buffer, when it is free; `requested` stays 0
/// when it is not. What is decoded from it is taken at once; the start of a frame still
/// incomplete moves to the reader's own buffer.
template <class Stream, class Framing, class Clock>
std::size_t session_state<Stream, Framing, Clock>::read_into_scratch(error_code& ec,
                                                                     std::size_t& requested) {
    read_scratch* scratch = cache_->acquire_scratch();
    if (!scratch)
        return 0;
    const scratch_lease lease{scratch};
    // No more than the reader's own buffer would take, so a paused session holds at most one
    // maximal frame beyond its receive queue.
    requested = std::min(read_scratch::capacity, reader_.read_limit());
    const std::size_t n = stream_.read_some(net::buffer(scratch->data(), requested), ec);
    if (!ec) {
        scratch_view view{scratch->data(), scratch->data() + n};
        reader_events events{*this, bytes_read(n)};
        reader_.decode_scratch(view, framing_, events);
        if (view.size() > 0 && live())
            reader_.keep(view.data(), view.size());
    }
    return n;
}

/// One non-blocking read into the reader's own buffer; `requested` stays 0 when it has no room.
template <class Stream, class Framing, class Clock>
std::size_t session_state<Stream, Framing, Clock>::read_into_buffer(error_code& ec,
                                                                    std::size_t& requested) {
    const auto space = reader_.prepare();
    requested = space.size();
    if (requested == 0)
        return 0;
    const std::size_t n = stream_.read_some(space, ec);
    if (!ec) {
        reader_.commit(n);
        reader_events events{*this, bytes_read(n)};
        reader_.decode_buffer(framing_, events, true);
    }
    return n;
}

/// Bookkeeping for `n` bytes just read; returns their time.
template <class Stream, class Framing, class Clock>
auto session_state<Stream, Framing, Clock>::bytes_read(std::size_t n) -> time_point {
    const time_point now = clock::now();
    clocks_.bytes_received(now);
    counts_.bytes_received += n;
    return now;
}

/// A PING or PONG decoded: answered or matched. False when it ended the session.
template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::heartbeat_received(const decode_result& r,
                                                               time_point now) {
    if (r.kind == frame_kind::ping) {
        ++counts_.pings_received;
        if (pings_.peer_pinged(now)) {
            stop(error::ping_flood);
            return false;
        }
        if (opts_.answer_pings)
            queue_pong(r.heartbeat_id);
    } else {
        pings_.pong_received(r.heartbeat_id, now);
    }
    return true;
}

/// A data frame for the receive waiting for it; false when none waits (the reader holds it).
template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::deliver(const char* payload, std::size_t size) {
    auto* n = receivers_.front(); // (only waits while nothing is held)
    if (!n)
        return false;
    std::get<1>(n->result()).assign(payload, size); // the one copy (the error stays success)
    receivers_.pop_front();                         // once the copy could not throw
    complete_in_place(n);
    return true;
}

/// The oldest frame held for the application, into `frame`; false when none is.
template <class Stream, class Framing, class Clock>
bool session_state<Stream, Framing, Clock>::take_held(std::string& frame) {
    reader_events events{*this, clocks_.last_read()}; // (when these bytes came)
    return reader_.take(frame, framing_, events);
}

/// The turn's end, or the session's: frames left in the read buffer are decoded and held
/// (heartbeats among them answered), and the buffer is free for the next read.
template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::settle_reads() {
    if (!reader_.undecoded())
        return;
    reader_events events{*this, clocks_.last_read()};
    reader_.settle(framing_, events);
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::resume_reading() {
    if (!reader_.resume())
        return;
    // The peer was not heard while we stopped listening; judge it from now on.
    const time_point now = clock::now();
    clocks_.reading_resumed(now);
    reader_events events{*this, now};
    reader_.decode_buffer(framing_, events, ready_.in_turn());
    start_read();
    rearm(); // the deadlines left out while paused apply again
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
