// Reading a fuzz input as a sequence of small decisions. Past its end every read returns zeros,
// so any input, however short, is a complete script.
#ifndef HEARTBEAT_TESTS_FUZZ_FUZZ_INPUT_HPP
#define HEARTBEAT_TESTS_FUZZ_FUZZ_INPUT_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace hbfuzz {

class input {
public:
    input(const std::uint8_t* data, std::size_t size)
        : data_(data)
        , size_(size) {}

    bool more() const { return pos_ < size_; }
    std::size_t left() const { return size_ - pos_; }

    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::uint16_t u16() {
        const std::uint16_t hi = byte();
        return static_cast<std::uint16_t>((hi << 8) | byte());
    }
    /// Up to `n` bytes (fewer at the end).
    std::string bytes(std::size_t n) {
        if (n > left())
            n = left();
        std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return s;
    }
    /// Everything not read yet.
    std::string rest() { return bytes(left()); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

/// A fuzz target found a violated invariant: say which, then crash so the fuzzer keeps the input.
[[noreturn]] inline void violated(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

#define HBFUZZ_ASSERT(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::hbfuzz::violated(#cond, __FILE__, __LINE__);                                         \
    } while (0)

} // namespace hbfuzz

#endif
