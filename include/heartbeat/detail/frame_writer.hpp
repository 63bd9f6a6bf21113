// The writer's state: frames queued in order, the PING and PONG to send, and the batch of
// gathered buffers in flight with how far it got. Heartbeats and data share this one ordered
// path. Each batch gathers the pending PING or PONG and as many queued frames as fit, with no
// copy of any payload; a partial write continues where it stopped.
//
// Pure bookkeeping: no I/O, no clock, no handler. The session (impl/write_op.hpp) writes what
// buffers() holds, reports progress with consume(), and decides the fate of each node handed
// back (completed, failed, or destroyed when nobody waits for it), so this part never completes
// anything and never frees a node. Everything is inline and allocates nothing per frame: it is
// the hot path.
#ifndef HEARTBEAT_DETAIL_FRAME_WRITER_HPP
#define HEARTBEAT_DETAIL_FRAME_WRITER_HPP

#include <heartbeat/detail/completion.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/gather_buffers.hpp>
#include <heartbeat/framing.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// What a queued frame keeps: its payload and the framing bytes around it.
template <class Framing>
struct send_data {
    /// What a node counts for against send_queue_limit besides its bytes.
    static constexpr std::size_t node_cost = 64;

    std::string payload;
    std::array<char, Framing::max_header_size + 1> header;
    std::array<char, Framing::max_trailer_size + 1> trailer;
    std::uint8_t header_size = 0;
    std::uint8_t trailer_size = 0;
    bool writing = false;  // part of the write in flight: too late to cancel
    bool detached = false; // nobody to complete: try_send's, or an accepted async_send's
    bool shared = false;   // try_send's buffer, frames framed inside: its memory is reused
    bool flush = false;    // async_flush's: no frame, only a place in the queue
    std::uint32_t frames = 1;
    std::size_t cost() const noexcept {
        return flush ? 0 : payload.size() + header_size + trailer_size + node_cost;
    }
};

/// A ConstBufferSequence over part of an array, without copying it.
struct buffer_range {
    const net::const_buffer* first;
    const net::const_buffer* last;
    const net::const_buffer* begin() const noexcept { return first; }
    const net::const_buffer* end() const noexcept { return last; }
};

/// `Node` is an intrusively linked node (`next`, `prev`) holding `send_data<Framing> data`; the
/// session's are completions (detail/completion.hpp). The writer links them but owns none.
template <class Framing, class Node>
class frame_writer {
public:
    using node_type = Node;
    using data_type = send_data<Framing>;

    /// A batch stops at a few dozen buffers or this many bytes, so one slow write holds back
    /// little.
    static constexpr std::size_t batch_bytes = std::size_t{64} * 1024;
    /// try_send's frames share one buffer up to this size.
    static constexpr std::size_t shared_bytes = std::size_t{64} * 1024;

    /// `send_queue_limit` bounds the cost of the queued frames (options::send_queue_limit).
    explicit frame_writer(std::size_t send_queue_limit) noexcept
        : limit_(send_queue_limit) {}

    /// A batch is in flight (begin_batch() to end_batch()).
    bool writing() const noexcept { return writing_; }
    /// No sender waits for a write (async_send past the high-water mark, async_flush) and the
    /// queue holds fewer than `mark` bytes (as send_queue_limit counts them): a new frame is
    /// accepted at once (options::send_high_water_mark).
    bool accepts_at_once(std::size_t mark) const noexcept { return waiting_ == 0 && cost_ < mark; }
    /// Something waits for a batch: a PING, a PONG or a frame.
    bool has_output() const noexcept { return ping_queued_ || pong_pending_ || !queue_.empty(); }
    /// PONGs written so far, each counted when its batch was (statistics::pongs_sent, like
    /// pings_sent).
    std::uint64_t pongs_sent() const noexcept { return pongs_sent_; }
    /// Every frame and PONG is written. A PING waiting does not count: a peer that sent its EOF
    /// is owed replies, not PINGs.
    bool flushed() const noexcept { return !writing_ && !pong_pending_ && queue_.empty(); }

    // Admitting frames.

    /// async_send: frames `payload` into `node` and queues it last; `node` waits for its
    /// write unless it is `detached` (an accepted frame of its own). False: the queue is full;
    /// the node keeps the payload and stays the caller's.
    bool push(Framing& framing, Node* node, std::string&& payload) {
        auto& d = node->data;
        d.header_size =
            static_cast<std::uint8_t>(framing.encode_header(payload.size(), d.header.data()));
        d.trailer_size = static_cast<std::uint8_t>(framing.encode_trailer(d.trailer.data()));
        HEARTBEAT_ASSERT(d.header_size <= Framing::max_header_size &&
                             d.trailer_size <= Framing::max_trailer_size,
                         "the Framing wrote more than its max_header_size or max_trailer_size");
        d.payload = std::move(payload);
        // An empty queue (flushes cost nothing) always takes one frame (bounded by
        // max_frame_size), so the limit never has to leave room for framing bytes and
        // bookkeeping.
        if (cost_ != 0 && cost_ + d.cost() > limit_)
            return false;
        cost_ += d.cost();
        link(node);
        return true;
    }

    /// async_flush: `node` completes once every frame queued before it is written. It carries
    /// no bytes and costs nothing against the limit, so it is always accepted. It never joins
    /// a batch (a batch stops before it), so it can always be cancelled; retire_flushes() hands
    /// it back once it is first in the queue with no write in flight.
    void push_flush(Node* node) noexcept {
        node->data.flush = true;
        node->data.frames = 0;
        link(node);
    }

    /// Hands the flushes at the front of the queue to `f(node)`, each unlinked first, when no
    /// write is in flight: everything queued before them is written.
    template <class F>
    void retire_flushes(F&& f) {
        while (!writing_ && queue_.front() && queue_.front()->data.flush) {
            Node* node = queue_.front();
            unlink(node);
            f(node);
        }
    }

    /// try_send (and a small accepted async_send frame): appends the framed payload to the last
    /// node when that is a shared buffer not being written (see joinable()), or else to a node
    /// from `make_node(bytes)`, whose `data.payload` has room for `bytes`. False: the queue is
    /// full.
    template <class MakeNode>
    HEARTBEAT_ALWAYS_INLINE bool append(Framing& framing, const char* payload, std::size_t size,
                                        MakeNode&& make_node) {
        // Left unset: the Framing writes what is used (see the trailer loop below).
        std::array<char, Framing::max_header_size + 1> header;   // NOLINT(*-member-init)
        std::array<char, Framing::max_trailer_size + 1> trailer; // NOLINT(*-member-init)
        const std::size_t header_size = framing.encode_header(size, header.data());
        const std::size_t trailer_size = framing.encode_trailer(trailer.data());
        const std::size_t bytes = header_size + size + trailer_size;

        // Consecutive frames share one node and one contiguous buffer until it is written: one
        // iovec for many frames, and no allocation per frame once the buffer has grown.
        Node* node = queue_.back();
        const bool join = joinable(node, bytes);
        const std::size_t cost = join ? bytes : bytes + data_type::node_cost;
        if (cost_ != 0 && cost_ + cost > limit_)
            return false;
        // Room first: should it fail to allocate, nothing has changed (no partial frame in the
        // buffer, no node lost).
        if (join) {
            std::string& buffer = node->data.payload;
            if (buffer.capacity() - buffer.size() < bytes)
                buffer.reserve(buffer.size() + bytes); // grows geometrically
            ++node->data.frames;
        } else {
            node = make_node(bytes);
            node->data.detached = true;
            node->data.shared = true;
            link(node);
        }
        // One out-of-line call per frame: the framing bytes are few (none, or one '\n').
        std::string& buffer = node->data.payload;
        if (header_size)
            buffer.append(header.data(), header_size);
        buffer.append(payload, size);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
        // The Framing set these bytes; GCC at -O3 cannot tell (zeroing them first would cost
        // a store per frame).
        for (std::size_t i = 0; i < trailer_size; ++i)
            buffer.push_back(trailer[i]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
        cost_ += cost;
        return true;
    }

    /// The last queued node is not yet being written: a frame queued now goes out in one
    /// batch with it.
    bool has_unsent() const noexcept {
        const Node* last = queue_.back();
        return last && !last->data.writing;
    }

    /// Unlinks a node not yet written. False when its bytes are part of the write in flight:
    /// pulling the frame out then would corrupt the stream.
    bool cancel(Node* node) noexcept {
        if (node->data.writing)
            return false;
        unlink(node);
        return true;
    }

    // Heartbeats: they go before the frames of the next batch.

    /// A PING with this id is part of the next batch. Only while no write is in flight: the
    /// end of that batch would take it for written.
    void queue_ping(std::uint64_t id) noexcept {
        HEARTBEAT_ASSERT(!writing_, "a PING queued while a write is in flight");
        ping_id_ = id;
        ping_queued_ = true;
    }
    /// Coalesced: a peer flooding PINGs without reading gets one PONG per write, never a
    /// backlog. True when no PONG was pending yet.
    bool queue_pong(std::uint64_t id) noexcept {
        pong_id_ = id;
        return !std::exchange(pong_pending_, true);
    }

    // One batch at a time.

    /// Gathers the heartbeats, then as many queued frames as fit, into a batch. False when
    /// there was nothing to write.
    bool begin_batch(Framing& framing) {
        HEARTBEAT_ASSERT(!writing_, "a second write started while one is in flight");
        buffers_.clear();
        std::size_t heartbeat_size = 0;
        if (ping_queued_)
            heartbeat_size +=
                framing.encode_heartbeat(frame_kind::ping, ping_id_, heartbeat_bytes_.data());
        if (pong_pending_) {
            pong_pending_ = false;
            pong_in_batch_ = true;
            heartbeat_size += framing.encode_heartbeat(frame_kind::pong, pong_id_,
                                                       heartbeat_bytes_.data() + heartbeat_size);
        }
        if (heartbeat_size)
            buffers_.push(net::buffer(heartbeat_bytes_.data(), heartbeat_size));

        std::size_t bytes = heartbeat_size;
        batch_frames_ = 0;
        for (auto* n = queue_.front(); n && !n->data.flush && buffers_.has_room(3); n = n->next) {
            if (batch_frames_ > 0 && bytes >= batch_bytes)
                break;
            auto& d = n->data;
            d.writing = true;
            ++batch_frames_;
            if (d.header_size)
                buffers_.push(net::buffer(d.header.data(), d.header_size));
            if (!d.payload.empty())
                buffers_.push(net::buffer(d.payload));
            if (d.trailer_size)
                buffers_.push(net::buffer(d.trailer.data(), d.trailer_size));
            bytes += d.payload.size() + d.header_size + d.trailer_size;
        }
        if (buffers_.size() == 0 && batch_frames_ == 0)
            return false;
        first_ = 0;
        writing_ = true;
        return true;
    }

    /// The batch has no bytes: only frames that a Framing encoded as nothing.
    bool batch_empty() const noexcept {
        return buffers_.size() == 0;
    }

    /// What is left of the batch to write.
    buffer_range buffers() noexcept {
        uncut();
        return buffer_range{buffers_.data() + first_, buffers_.data() + buffers_.size()};
    }

    /// The first `max_bytes` (at least one) of what is left of the batch, for a write whose
    /// completion is the only news of its progress (impl/write_op.hpp). The buffer where the
    /// cap falls is shortened in place until consume() (no copy, no allocation); by at most
    /// 4 GiB, so a larger frame's first write may hold more.
    buffer_range buffers(std::size_t max_bytes) noexcept {
        HEARTBEAT_ASSERT(max_bytes > 0, "a write of nothing");
        uncut(); // a write tried again without progress (interrupted)
        const std::size_t last = buffers_.size();
        for (std::size_t i = first_; i < last; ++i) {
            net::const_buffer& b = buffers_[i];
            if (b.size() > max_bytes) {
                cut_ = static_cast<std::uint32_t>(
                    std::min<std::size_t>(b.size() - max_bytes, UINT32_MAX));
                cut_at_ = static_cast<std::uint32_t>(i);
                b = net::const_buffer(b.data(), b.size() - cut_);
                return buffer_range{buffers_.data() + first_, buffers_.data() + i + 1};
            }
            max_bytes -= b.size();
            if (max_bytes == 0)
                return buffer_range{buffers_.data() + first_, buffers_.data() + i + 1};
        }
        return buffer_range{buffers_.data() + first_, buffers_.data() + last};
    }

    /// `n` more bytes of the batch are written. True when it is all written.
    bool consume(std::size_t n) noexcept {
        HEARTBEAT_ASSERT(writing_, "write progress with no batch in flight");
        uncut();
        const std::size_t last = buffers_.size();
        while (n > 0) {
            HEARTBEAT_ASSERT(first_ < last, "more bytes written than the batch holds");
            auto& b = buffers_[first_];
            if (n < b.size()) {
                b += n;
                break;
            }
            n -= b.size();
            ++first_;
        }
        // begin_batch() never gathers an empty buffer, so none is left to skip here.
        HEARTBEAT_ASSERT(first_ >= last || buffers_[first_].size() > 0, "an empty buffer gathered");
        return first_ >= last;
    }

    /// The batch in flight is over, written or failed; its frames are still queued, for
    /// retire_batch(). `written`: all of it was. True when a PING was queued: written, if the
    /// batch was.
    bool end_batch(bool written = true) noexcept {
        writing_ = false;
        if (std::exchange(pong_in_batch_, false) && written)
            ++pongs_sent_;
        cut_ = 0; // (a batch that failed: its buffers are never written again)
        if (!ping_queued_)
            return false;
        ping_queued_ = false;
        return true;
    }

    /// Hands the ended batch's nodes to `f(node)`, in order, each unlinked first.
    template <class F>
    void retire_batch(F&& f) {
        for (; batch_frames_ > 0; --batch_frames_) {
            Node* node = queue_.front();
            unlink(node);
            f(node);
        }
    }

    /// Hands every node not part of a write to `f(node)`, in order, each unlinked first: the
    /// session is ending. The batch in flight stays, to be retired when its write completes.
    template <class F>
    void drop_unsent(F&& f) {
        for (Node* n = queue_.front(); n;) {
            Node* next = n->next;
            if (!n->data.writing) {
                unlink(n);
                f(n);
            }
            n = next;
        }
    }

    /// Unlinks every node, the batch's too, and gives them to the caller: nothing of the
    /// session can run again.
    completion_list<Node> take_all() noexcept {
        cost_ = 0;
        waiting_ = 0;
        batch_frames_ = 0;
        return std::exchange(queue_, {});
    }

private:
    /// Gives the buffer buffers(max_bytes) shortened its rest back.
    void uncut() noexcept {
        if (cut_ == 0)
            return;
        net::const_buffer& b = buffers_[cut_at_];
        b = net::const_buffer(b.data(), b.size() + cut_);
        cut_ = 0;
    }

    /// `node` is a shared buffer (try_send's, framing inside the payload; not an accepted frame
    /// of its own, whose framing bytes stay apart) not yet being written, with room for `bytes`.
    static bool joinable(const Node* node, std::size_t bytes) noexcept {
        return node && node->data.detached && !node->data.writing && node->data.header_size == 0 &&
               node->data.trailer_size == 0 && node->data.payload.size() + bytes <= shared_bytes;
    }
    void link(Node* node) noexcept {
        waiting_ += node->data.detached ? 0 : 1;
        queue_.push_back(node);
    }
    void unlink(Node* node) noexcept {
        queue_.erase(node);
        cost_ -= node->data.cost();
        waiting_ -= node->data.detached ? 0 : 1;
    }

    completion_list<Node> queue_;
    const std::size_t limit_;
    std::size_t cost_ = 0;    // what send_queue_limit bounds: data_type::cost() of each
    std::size_t waiting_ = 0; // nodes whose sender waits for their write
    std::uint64_t ping_id_ = 0;
    std::uint64_t pong_id_ = 0;
    std::uint64_t pongs_sent_ = 0;
    gather_buffers buffers_; // the batch
    std::array<char, 2 * Framing::max_heartbeat_size> heartbeat_bytes_{};
    bool writing_ = false;
    bool ping_queued_ = false; // a PING is part of the next (or current) batch
    bool pong_pending_ = false;
    bool pong_in_batch_ = false; // the batch in flight holds a PONG
    // Both bounded by gather_buffers::max_capacity.
    std::uint32_t batch_frames_ = 0; // nodes of the batch: the front of queue_
    std::uint32_t first_ = 0;        // the first buffer not yet wholly written
    std::uint32_t cut_at_ = 0;       // the buffer buffers(max_bytes) shortened...
    std::uint32_t cut_ = 0;          // ...by this many bytes, given back by uncut()
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
