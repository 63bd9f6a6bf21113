// Closing any stream: a socket's close(), or the lowest layer of a layered stream such as
// ssl::stream. Closing (not shutting down) is what cancels every pending operation at once.
// Streams with a protocol-level goodbye (ssl::stream's async_shutdown) are detected here too.
//
// On Windows (IOCP) a stream that can cancel() is cancelled first. Windows' closesocket() ends
// the overlapped operations pending on the socket, as Asio's close() relies on, but wine's does
// not (wine 8.0, measured: a pending send and a pending wait for bytes stay pending after
// close() until the peer closes its end), so a session whose write had stalled never completed
// async_run there. cancel() (CancelIoEx) ends them at once under both; on Windows it only comes
// a moment before what close() does anyway.
#ifndef HEARTBEAT_DETAIL_CLOSE_STREAM_HPP
#define HEARTBEAT_DETAIL_CLOSE_STREAM_HPP

#include <heartbeat/detail/config.hpp>

#include <type_traits>
#include <utility>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class T, class = void>
struct has_close_ec : std::false_type {};
template <class T>
struct has_close_ec<T, std::void_t<decltype(std::declval<T&>().close(std::declval<error_code&>()))>>
    : std::true_type {};

template <class T, class = void>
struct has_cancel_ec : std::false_type {};
template <class T>
struct has_cancel_ec<T,
                     std::void_t<decltype(std::declval<T&>().cancel(std::declval<error_code&>()))>>
    : std::true_type {};

template <class T, class = void>
struct has_close : std::false_type {};
template <class T>
struct has_close<T, std::void_t<decltype(std::declval<T&>().close())>> : std::true_type {};

template <class T, class = void>
struct has_lowest_layer : std::false_type {};
template <class T>
struct has_lowest_layer<T, std::void_t<decltype(std::declval<T&>().lowest_layer())>>
    : std::true_type {};

template <class T, class = void>
struct has_next_layer : std::false_type {};
template <class T>
struct has_next_layer<T, std::void_t<decltype(std::declval<T&>().next_layer())>> : std::true_type {
};

template <class T, class = void>
struct has_async_shutdown : std::false_type {};
template <class T>
struct has_async_shutdown<
    T, std::void_t<decltype(std::declval<T&>().async_shutdown(std::declval<probe_handler>()))>>
    : std::true_type {};

template <class Stream>
void close_stream(Stream& stream) noexcept {
    if constexpr (has_close_ec<Stream>::value) {
        error_code ignored;
#if HEARTBEAT_DETAIL_IOCP
        if constexpr (has_cancel_ec<Stream>::value)
            stream.cancel(ignored);
#endif
        stream.close(ignored);
    } else if constexpr (has_lowest_layer<Stream>::value) {
        close_stream(stream.lowest_layer());
    } else if constexpr (has_next_layer<Stream>::value) {
        close_stream(stream.next_layer());
    } else if constexpr (has_close<Stream>::value) {
#if HEARTBEAT_HAS_EXCEPTIONS
        try {
            stream.close();
        } catch (...) {
        }
#else
        stream.close();
#endif
    } else {
        static_assert(has_close<Stream>::value,
                      "heartbeat_session needs a stream with close(error_code&), close(), "
                      "lowest_layer() or next_layer()");
    }
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
