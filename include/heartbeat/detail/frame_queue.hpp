// Received frames waiting for async_receive, in order. A vector with a moving head: unlike
// std::deque it allocates nothing until a frame is held, so idle sessions pay nothing for it.
#ifndef HEARTBEAT_DETAIL_FRAME_QUEUE_HPP
#define HEARTBEAT_DETAIL_FRAME_QUEUE_HPP

#include <heartbeat/detail/config.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class frame_queue {
public:
    bool empty() const noexcept { return head_ == frames_.size(); }

    void push(std::string frame) { frames_.push_back(std::move(frame)); }

    std::string pop() {
        std::string frame = std::move(frames_[head_++]);
        if (head_ == frames_.size()) {
            frames_.clear();
            head_ = 0;
        } else if (head_ >= 64 && head_ * 2 >= frames_.size()) {
            frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        return frame;
    }

private:
    std::vector<std::string> frames_;
    std::size_t head_ = 0;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
