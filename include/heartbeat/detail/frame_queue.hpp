// Received frames waiting for the application, in order: their bytes back to back in one buffer
// and their sizes beside them. A frame taken into the application's string (try_receive) costs
// one copy into that string's existing capacity, so draining a burst allocates nothing. A
// session that never held a frame pays one pointer for the queue, and a burst's storage is
// given back once it is drained.
#ifndef HEARTBEAT_DETAIL_FRAME_QUEUE_HPP
#define HEARTBEAT_DETAIL_FRAME_QUEUE_HPP

#include <heartbeat/detail/config.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class frame_queue {
public:
    /// Storage kept once the queue empties, for the next burst; more is given back.
    static constexpr std::size_t kept_bytes = std::size_t{16} * 1024;
    static constexpr std::size_t kept_frames = 256;

    bool empty() const noexcept { return !held_ || held_->first == held_->sizes.size(); }

    void push(const char* data, std::size_t size) {
        if (!held_)
            held_ = std::make_unique<storage>();
        storage& h = *held_;
        // Room for the size first, so that nothing changes when either allocation fails (and
        // no try is needed: exceptions may be off).
        if (h.sizes.size() == h.sizes.capacity())
            h.sizes.reserve(h.sizes.empty() ? 16 : 2 * h.sizes.capacity());
        h.bytes.append(data, size);
        h.sizes.push_back(size);
    }

    /// Replaces `frame`'s contents with the oldest frame's (reusing its capacity).
    void pop(std::string& frame) {
        storage& h = *held_;
        const std::size_t size = h.sizes[h.first++];
        frame.clear(); // then append: cheaper than assign, which must allow for aliasing
        frame.append(h.bytes, h.offset, size);
        h.offset += size;
        if (empty()) {
            reset();
        } else if (h.offset >= kept_bytes && h.offset * 2 >= h.bytes.size()) {
            // A consumer that never quite catches up: drop what it took, so the buffer stays
            // within twice what is held.
            h.bytes.erase(0, h.offset);
            h.sizes.erase(h.sizes.begin(), h.sizes.begin() + static_cast<std::ptrdiff_t>(h.first));
            h.offset = h.first = 0;
        }
    }

private:
    struct storage {
        std::string bytes;
        std::size_t offset = 0; // of the oldest frame in bytes
        std::vector<std::size_t> sizes;
        std::size_t first = 0; // the oldest frame's index in sizes
    };

    void reset() noexcept {
        if (held_->bytes.capacity() > kept_bytes || held_->sizes.capacity() > kept_frames) {
            held_.reset();
            return;
        }
        held_->bytes.clear();
        held_->sizes.clear();
        held_->offset = held_->first = 0;
    }

    std::unique_ptr<storage> held_;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
