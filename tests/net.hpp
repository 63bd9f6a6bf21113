// The Asio the tests run against: standalone Asio by default, Boost.Asio when
// HEARTBEAT_USE_BOOST_ASIO is defined (CMake: -DHEARTBEAT_TEST_BOOST_ASIO=ON links the tests to
// heartbeat::heartbeat_boost, which defines it). Either way a test writes `asio::...`, and in
// namespace hbt `error_code` (heartbeat::error_code: std::error_code or boost::system::error_code),
// `system_error` (what use_future and use_awaitable throw), `generic_category()` and
// `is_error_code_enum`. The Asio headers the tests share are included here; a test file that
// needs more includes them with the same #if.
#ifndef HEARTBEAT_TESTS_NET_HPP
#define HEARTBEAT_TESTS_NET_HPP

#include <heartbeat/detail/config.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

namespace asio = ::boost::asio;

namespace hbt {
using system_error = ::boost::system::system_error;
using ::boost::system::generic_category;
template <class E>
using is_error_code_enum = ::boost::system::is_error_code_enum<E>;
} // namespace hbt

#else

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include <system_error>

namespace hbt {
using system_error = std::system_error;
using std::generic_category;
template <class E>
using is_error_code_enum = std::is_error_code_enum<E>;
} // namespace hbt

#endif

namespace hbt {
/// What every completion handler of the library receives.
using error_code = heartbeat::error_code;
} // namespace hbt

#endif
