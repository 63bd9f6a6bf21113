// Which Asio the library is built on: standalone Asio by default, Boost.Asio when
// HEARTBEAT_USE_BOOST_ASIO is defined (the CMake target heartbeat::heartbeat_boost defines it).
// Every other header reaches Asio through `heartbeat::net` and `heartbeat::error_code`, and
// includes the Asio headers it needs only from here.
#ifndef HEARTBEAT_DETAIL_CONFIG_HPP
#define HEARTBEAT_DETAIL_CONFIG_HPP

// Each flavour lives in an inline namespace of its own (heartbeat::asio_boost or
// heartbeat::asio_standalone), so that one program may hold both: their types differ
// (error_code above all), and sharing names would break the one-definition rule. Users write
// heartbeat::... either way.
#if defined(HEARTBEAT_USE_BOOST_ASIO)
#define HEARTBEAT_BACKEND_NAMESPACE asio_boost
#else
#define HEARTBEAT_BACKEND_NAMESPACE asio_standalone
#endif
#define HEARTBEAT_NAMESPACE_BEGIN                                                                  \
    namespace heartbeat {                                                                          \
    inline namespace HEARTBEAT_BACKEND_NAMESPACE {
#define HEARTBEAT_NAMESPACE_END                                                                    \
    }                                                                                              \
    }

#if defined(HEARTBEAT_USE_BOOST_ASIO)

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/version.hpp>
#include <boost/system/error_code.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace net = ::boost::asio;
using error_code = ::boost::system::error_code;
namespace detail {
using error_category_base = ::boost::system::error_category;
} // namespace detail
HEARTBEAT_NAMESPACE_END

#else

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/steady_timer.hpp>
#include <asio/version.hpp>

#include <system_error>

HEARTBEAT_NAMESPACE_BEGIN
namespace net = ::asio;
using error_code = std::error_code;
namespace detail {
using error_category_base = std::error_category;
} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif

// HEARTBEAT_ASSERT(condition, message): checks an invariant or a precondition in debug builds
// (like assert, off with NDEBUG). Define it before including heartbeat to route it elsewhere.
#ifndef HEARTBEAT_ASSERT
#include <cassert>
#define HEARTBEAT_ASSERT(condition, message) assert((condition) && (message))
#endif

// HEARTBEAT_ALWAYS_INLINE: for the few hot functions with two callers that the compiler would
// otherwise call out of line (measured with callgrind in bench/run.sh).
#ifndef HEARTBEAT_ALWAYS_INLINE
#if defined(__GNUC__) || defined(__clang__)
#define HEARTBEAT_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define HEARTBEAT_ALWAYS_INLINE __forceinline
#else
#define HEARTBEAT_ALWAYS_INLINE inline
#endif
#endif

// Exceptions: on unless the compiler has them off (-fno-exceptions, MSVC without /EH). Off, the
// library neither throws nor catches: see options::first_invalid().
#ifndef HEARTBEAT_HAS_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define HEARTBEAT_HAS_EXCEPTIONS 1
#else
#define HEARTBEAT_HAS_EXCEPTIONS 0
#endif
#endif

// HEARTBEAT_DETAIL_IOCP: Asio runs on Windows' I/O completion ports, where a write in flight
// tells nothing of its progress until it completes (impl/write_op.hpp) and closing a socket is
// not always enough to end what is pending on it (detail/close_stream.hpp).
#if defined(ASIO_HAS_IOCP) || defined(BOOST_ASIO_HAS_IOCP)
#define HEARTBEAT_DETAIL_IOCP 1
#else
#define HEARTBEAT_DETAIL_IOCP 0
#endif

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {
/// A void(error_code) handler type, only for asking which operations a stream has.
struct probe_handler {
    void operator()(error_code) const {}
};
} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
