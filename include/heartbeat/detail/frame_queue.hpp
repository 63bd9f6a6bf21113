// Received frames waiting for the application, in order: their bytes back to back in one buffer
// and their sizes beside them. A frame taken into the application's string (try_receive) costs
// one copy into that string's existing capacity, so draining a burst allocates nothing; an idle
// session holds no storage, and a burst's storage is given back once it is drained.
#ifndef HEARTBEAT_DETAIL_FRAME_QUEUE_HPP
#define HEARTBEAT_DETAIL_FRAME_QUEUE_HPP

#include <heartbeat/detail/config.hpp>

#include <cstddef>
#include <string>
#include <vector>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class frame_queue {
public:
    /// Storage kept once the queue empties, for the next burst; more is given back.
    static constexpr std::size_t kept_bytes = std::size_t{16} * 1024;
    static constexpr std::size_t kept_frames = 256;

    bool empty() const noexcept { return first_ == sizes_.size(); }

    void push(const char* data, std::size_t size) {
        sizes_.push_back(size);
        try {
            bytes_.append(data, size);
        } catch (...) {
            sizes_.pop_back();
            throw;
        }
    }

    /// Replaces `frame`'s contents with the oldest frame's (reusing its capacity).
    void pop(std::string& frame) {
        const std::size_t size = sizes_[first_++];
        frame.assign(bytes_, offset_, size);
        offset_ += size;
        if (empty()) {
            reset();
        } else if (offset_ >= kept_bytes && offset_ * 2 >= bytes_.size()) {
            // A consumer that never quite catches up: drop what it took, so the buffer stays
            // within twice what is held.
            bytes_.erase(0, offset_);
            sizes_.erase(sizes_.begin(), sizes_.begin() + static_cast<std::ptrdiff_t>(first_));
            offset_ = first_ = 0;
        }
    }

private:
    void reset() noexcept {
        first_ = offset_ = 0;
        if (bytes_.capacity() > kept_bytes)
            std::string().swap(bytes_);
        else
            bytes_.clear();
        if (sizes_.capacity() > kept_frames)
            std::vector<std::size_t>().swap(sizes_);
        else
            sizes_.clear();
    }

    std::string bytes_;
    std::size_t offset_ = 0; // of the oldest frame in bytes_
    std::vector<std::size_t> sizes_;
    std::size_t first_ = 0; // the oldest frame's index in sizes_
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
