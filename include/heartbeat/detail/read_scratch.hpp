// A read buffer shared by the sessions of an io_context, one per thread reading at that moment
// (detail/context_cache.hpp owns them). A session whose stream can report readiness (a socket:
// async_wait(wait_read), then a non-blocking read_some) reads into it only once bytes are there,
// so an idle session holds no read buffer at all; only the tail of a frame split across reads is
// copied into the session's own buffer.
#ifndef HEARTBEAT_DETAIL_READ_SCRATCH_HPP
#define HEARTBEAT_DETAIL_READ_SCRATCH_HPP

#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/context_cache.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// Gives the scratch buffer back, even if a handler run from the decoder throws.
struct scratch_lease {
    read_scratch* scratch;
    explicit scratch_lease(read_scratch* s) noexcept
        : scratch(s) {}
    scratch_lease(const scratch_lease&) = delete;
    scratch_lease& operator=(const scratch_lease&) = delete;
    ~scratch_lease() { scratch->release(); }
};

/// Bytes of the scratch buffer being decoded, with the frame_buffer interface decode_loop uses.
struct scratch_view {
    const char* data() const noexcept { return begin_; }
    std::size_t size() const noexcept { return static_cast<std::size_t>(end_ - begin_); }
    void consume(std::size_t n) noexcept { begin_ += n; }

    const char* begin_;
    const char* end_;
};

/// A non-blocking read or write found nothing to do now: wait for readiness and try again.
inline bool must_wait(const error_code& ec) noexcept {
    if (!ec) // the common case, decided without making an error_code to compare with
        return false;
    return ec == net::error::would_block || ec == net::error::try_again ||
           ec == net::error::interrupted;
}

/// Sockets: async_wait(wait_read), read_some(buffer, ec), write_some(buffers, ec) and
/// non_blocking(bool, ec).
template <class T, class = void>
struct waits_for_readiness : std::false_type {};
template <class T>
struct waits_for_readiness<
    T, std::void_t<decltype(std::declval<T&>().async_wait(T::wait_read, probe_handler())),
                   decltype(std::declval<T&>().read_some(std::declval<net::mutable_buffer>(),
                                                         std::declval<error_code&>())),
                   decltype(std::declval<T&>().write_some(std::declval<net::const_buffer>(),
                                                          std::declval<error_code&>())),
                   decltype(std::declval<T&>().non_blocking(true, std::declval<error_code&>()))>>
    : std::true_type {};

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
