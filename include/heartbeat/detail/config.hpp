// Maps the Asio flavour the library is built against. Standalone Asio is the default; the
// namespace alias keeps every other header independent of that choice.
#ifndef HEARTBEAT_DETAIL_CONFIG_HPP
#define HEARTBEAT_DETAIL_CONFIG_HPP

#include <asio/version.hpp>

#include <system_error>

namespace asio {}

namespace heartbeat {
namespace net = ::asio;
using error_code = std::error_code;
} // namespace heartbeat

#endif
