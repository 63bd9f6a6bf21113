// The read buffer: starts small, grows on demand (a frame that does not fit, or reads that fill
// it, as in a flood) up to one maximal frame, and gives the memory back once a frame larger than
// retain_capacity has been consumed, so an idle session holds little and small frames never
// make it reallocate.
#ifndef HEARTBEAT_DETAIL_FRAME_BUFFER_HPP
#define HEARTBEAT_DETAIL_FRAME_BUFFER_HPP

#include <heartbeat/detail/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

class frame_buffer {
public:
    static constexpr std::size_t initial_capacity = 512;
    static constexpr std::size_t retain_capacity = std::size_t{16} * 1024;

    const char* data() const noexcept { return storage_.get() + begin_; }
    std::size_t size() const noexcept { return end_ - begin_; }

    /// Free space to read into; `limit` bounds the whole buffer (one maximal frame).
    net::mutable_buffer prepare(std::size_t limit) {
        if (begin_ > 0 && capacity_ - end_ < capacity_ / 2) {
            std::memmove(storage_.get(), storage_.get() + begin_, size());
            end_ -= begin_;
            begin_ = 0;
        }
        const bool full = end_ == capacity_;
        const bool busy = filled_ && capacity_ < retain_capacity;
        if ((full || busy) && capacity_ < limit)
            reallocate(std::min(capacity_ == 0 ? initial_capacity : capacity_ * 2, limit));
        prepared_ = capacity_ - end_;
        return net::buffer(storage_.get() + end_, prepared_);
    }

    void commit(std::size_t n) noexcept {
        end_ += n;
        filled_ = n == prepared_; // the stream had more: read more at once next time
    }

    /// Appends `n` bytes, growing to fit them exactly (at least initial_capacity).
    void append(const char* bytes, std::size_t n) {
        if (capacity_ - end_ < n) {
            if (begin_ > 0 && capacity_ - size() >= n) {
                std::memmove(storage_.get(), data(), size());
                end_ -= begin_;
                begin_ = 0;
            } else {
                reallocate(std::max(initial_capacity, size() + n));
            }
        }
        std::memcpy(storage_.get() + end_, bytes, n);
        end_ += n;
    }

    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) {
            begin_ = end_ = 0;
            // A large frame is gone: return to the small footprint of an idle session.
            if (capacity_ > retain_capacity)
                release();
        }
    }

    void release() noexcept {
        if (size() == 0) {
            storage_.reset();
            capacity_ = begin_ = end_ = 0;
        }
    }

private:
    void reallocate(std::size_t capacity) {
        std::unique_ptr<char[]> next(new char[capacity]);
        if (size() > 0)
            std::memcpy(next.get(), data(), size());
        end_ = size();
        begin_ = 0;
        storage_ = std::move(next);
        capacity_ = capacity;
    }

    std::unique_ptr<char[]> storage_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t prepared_ = 0;
    bool filled_ = false;
};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
