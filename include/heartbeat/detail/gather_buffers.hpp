// The buffers of one gathered write. A heartbeat or a single frame fits inline; a session that
// batches many queued frames gets room for a whole batch once, on its first such write, so
// idle sessions do not carry a large array.
#ifndef HEARTBEAT_DETAIL_GATHER_BUFFERS_HPP
#define HEARTBEAT_DETAIL_GATHER_BUFFERS_HPP

#include <heartbeat/detail/config.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class gather_buffers {
public:
    static constexpr std::size_t inline_capacity = 4;
    static constexpr std::size_t max_capacity = 64; // what Asio passes to one writev

    std::size_t size() const noexcept { return size_; }
    bool has_room(std::size_t n) const noexcept { return size_ + n <= max_capacity; }
    void clear() noexcept { size_ = 0; }

    net::const_buffer* data() noexcept { return spill_ ? spill_.get() : inline_; }
    net::const_buffer& operator[](std::size_t i) noexcept { return data()[i]; }

    void push(net::const_buffer b) {
        if (size_ == inline_capacity && !spill_) {
            spill_ = std::make_unique<net::const_buffer[]>(max_capacity);
            std::copy(inline_, inline_ + size_, spill_.get());
        }
        data()[size_++] = b;
    }

private:
    net::const_buffer inline_[inline_capacity];
    std::unique_ptr<net::const_buffer[]> spill_;
    std::size_t size_ = 0;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
