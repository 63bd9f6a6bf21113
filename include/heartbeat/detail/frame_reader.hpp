// The reader's logic, bytes to frames: the read buffer, the decoding, and the frames held for
// the application. No I/O, no clock, no handler: the session (impl/read_op.hpp) reads into
// prepare(), says what happens to each decoded frame through an Events object, and runs the
// application's code only from its completion queue.
//
// A data frame goes to a receive that waits for it (Events::deliver) or is held here, in order,
// for the next async_receive or try_receive. Within one of the session's turns, a frame nobody
// waits for may instead stay undecoded in the read buffer (decode_buffer's `may_leave`):
// try_receive then takes it with one copy, straight into the application's string, and the
// turn's end decodes whatever is left (settle), so its heartbeats are still answered in that
// turn. Held frames count against options::receive_queue_limit; past it the reader is paused
// until frames are taken, which leaves the peer to TCP's backpressure.
//
// Events, the session's side, with the time of the bytes decoded:
//   bool live()                           decode on (false once the session ended)
//   bool waiting()                        a receive waits for the next data frame
//   bool heartbeat(const decode_result&)  a PING or PONG; false when it ended the session
//   void failed(error_code)               the bytes cannot be decoded: the session ends
//   void data_frame()                     a data frame was decoded (statistics, clocks)
//   bool deliver(const char*, size_t)     hand it to a waiting receive; false when none waits
//   void paused()                         held frames reached the limit
#ifndef HEARTBEAT_DETAIL_FRAME_READER_HPP
#define HEARTBEAT_DETAIL_FRAME_READER_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/frame_buffer.hpp>
#include <heartbeat/detail/frame_queue.hpp>
#include <heartbeat/detail/read_scratch.hpp>
#include <heartbeat/framing.hpp>
#include <heartbeat/options.hpp>

#include <algorithm>
#include <cstddef>
#include <string>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Framing>
class frame_reader {
public:
    /// `opts` outlives the reader (the session owns both).
    explicit frame_reader(const options& opts) noexcept
        : opts_(opts) {}

    // The read buffer.

    /// Room for one maximal frame, and always for a heartbeat, whatever max_frame_size says.
    std::size_t read_limit() const noexcept {
        return std::max(opts_.max_frame_size + Framing::max_overhead, Framing::max_heartbeat_size);
    }
    /// Where the next read goes; empty when a Framing asked for more than max_overhead allows.
    net::mutable_buffer prepare() { return buffer_.prepare(read_limit()); }
    void commit(std::size_t n) noexcept { buffer_.commit(n); }
    /// Bytes are buffered: the start of a frame, or frames left undecoded.
    bool buffered() const noexcept { return buffer_.size() > 0; }
    /// The start of a frame still incomplete, read elsewhere (the thread's scratch).
    void keep(const char* data, std::size_t size) { buffer_.append(data, size); }
    /// Gives the buffer's memory back when it holds nothing (an idle session holds none).
    void release_buffer() noexcept { buffer_.release(); }

    // Decoding. Both stop early once Events::live() is false.

    /// Decodes the read buffer; see the header comment for `may_leave`.
    template <class Events>
    void decode_buffer(Framing& framing, Events& events, bool may_leave) {
        decode(buffer_, framing, events, may_leave);
    }
    /// Decodes bytes read elsewhere; what is left is the start of a frame, for keep().
    template <class Events>
    void decode_scratch(scratch_view& input, Framing& framing, Events& events) {
        decode(input, framing, events, false);
    }
    /// Decodes the frames left in the read buffer, holding them: the turn is over.
    template <class Events>
    void settle(Framing& framing, Events& events) {
        if (!undecoded_)
            return;
        undecoded_ = false;
        decode(buffer_, framing, events, false);
    }

    // Frames held for the application.

    /// Frames are held, or left undecoded within this turn.
    bool holds() const noexcept { return !held_.empty() || undecoded_; }
    /// Frames are left undecoded: the read buffer must not be read into before settle().
    bool undecoded() const noexcept { return undecoded_; }
    bool paused() const noexcept { return paused_; }

    /// The oldest frame held, into `frame` (reusing its capacity); false when none is.
    template <class Events>
    bool take(std::string& frame, Framing& framing, Events& events) {
        if (!held_.empty()) { // (held frames come before the bytes read after them)
            held_.pop(frame);
            held_cost_ -= frame.size() + sizeof(std::string);
            return true;
        }
        if (!undecoded_)
            return false;
        decode_result r;
        if (!next_data_frame(buffer_, framing, events, r)) {
            undecoded_ = false; // the turn's end reads on
            return false;
        }
        events.data_frame();
        frame.clear(); // then append: cheaper than assign, which must allow for aliasing
        frame.append(buffer_.data() + r.payload_offset, r.payload_size);
        buffer_.consume(r.consumed);
        return true;
    }

    /// After frames were taken: true when the reader was paused and is under the limit again,
    /// so the caller reads on (and decodes what the buffer holds first).
    bool resume() noexcept {
        if (!paused_ || held_cost_ >= opts_.receive_queue_limit)
            return false;
        paused_ = false;
        return true;
    }

private:
    template <class Input, class Events>
    void decode(Input& input, Framing& framing, Events& events, bool may_leave) {
        while (events.live()) {
            if (held_cost_ >= opts_.receive_queue_limit) {
                paused_ = true;
                events.paused();
                return;
            }
            decode_result r;
            if (!next_data_frame(input, framing, events, r))
                return;
            if (may_leave && !events.waiting()) {
                undecoded_ = true;
                return;
            }
            events.data_frame();
            const char* payload = input.data() + r.payload_offset;
            if (!events.deliver(payload, r.payload_size)) {
                held_.push(payload, r.payload_size);
                held_cost_ += r.payload_size + sizeof(std::string);
            }
            input.consume(r.consumed);
        }
    }

    /// Decodes from `input` until a data frame is next, describes it in `frame` (not consumed)
    /// and returns true; false once `input` holds no whole frame or the session ends.
    /// Heartbeats met on the way go to Events and are consumed.
    template <class Input, class Events>
    HEARTBEAT_ALWAYS_INLINE bool next_data_frame(Input& input, Framing& framing, Events& events,
                                                 decode_result& frame) {
        while (events.live()) {
            if (input.size() == 0) // (an emptied buffer may have no storage at all)
                return false;
            const decode_result r =
                framing.decode(input.data(), input.size(), opts_.max_frame_size);
            HEARTBEAT_ASSERT(
                r.status != decode_result::frame ||
                    (r.consumed > 0 && r.consumed <= input.size() &&
                     r.payload_offset + r.payload_size <= r.consumed),
                "the Framing's decode returned a frame outside the bytes it was given");
            if (r.status == decode_result::need_more)
                return false;
            if (r.status == decode_result::failed) {
                events.failed(r.error);
                return false;
            }
            if (r.kind == frame_kind::data) {
                frame = r;
                return true;
            }
            if (!events.heartbeat(r))
                return false;
            input.consume(r.consumed);
        }
        return false;
    }

    const options& opts_;
    frame_buffer buffer_;
    frame_queue held_;
    std::size_t held_cost_ = 0;
    bool undecoded_ = false;
    bool paused_ = false;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
