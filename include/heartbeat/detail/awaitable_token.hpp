// The tokens of a coroutine awaiting an operation: asio::use_awaitable, and wrapped in
// redirect_error (as the examples do) or as_tuple. For them, an
// async_receive that finds a frame held, or an async_send accepted below the high-water mark,
// lets the coroutine go on at once (see heartbeat_session::async_receive): the result is known
// when the operation starts, so a completion node, the completion queue and a handler
// invocation would only carry it around. That is most of the cost of an awaited
// receive-then-send loop, on top of Asio's own per co_await.
//
// Asio 1.22 has all three (as_tuple in experimental); they are here only when it has C++20
// coroutines, and exceptions, through which use_awaitable reports errors.
#ifndef HEARTBEAT_DETAIL_AWAITABLE_TOKEN_HPP
#define HEARTBEAT_DETAIL_AWAITABLE_TOKEN_HPP

#include <heartbeat/detail/config.hpp>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#if HEARTBEAT_HAS_EXCEPTIONS &&                                                                    \
    ((defined(HEARTBEAT_USE_BOOST_ASIO) && defined(BOOST_ASIO_HAS_CO_AWAIT)) ||                    \
     (!defined(HEARTBEAT_USE_BOOST_ASIO) && defined(ASIO_HAS_CO_AWAIT)))
#define HEARTBEAT_DETAIL_AWAIT_AT_ONCE 1
#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#if BOOST_ASIO_VERSION >= 102400
#include <boost/asio/as_tuple.hpp>
#else
#include <boost/asio/experimental/as_tuple.hpp>
#endif
#else
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#if ASIO_VERSION >= 102400
#include <asio/as_tuple.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#endif
#endif
#else
#define HEARTBEAT_DETAIL_AWAIT_AT_ONCE 0
#endif

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// `value`: Token makes an operation a net::awaitable whose success may be given at once:
/// async_receive's as `received` (a std::string, the frame itself, or a tuple), after calling
/// `succeeded(token)`; async_send's as what `sent(token)` returns.
template <class Token>
struct awaitable_token : std::false_type {};

#if HEARTBEAT_DETAIL_AWAIT_AT_ONCE
// as_tuple left asio::experimental in Asio 1.24 (Boost 1.80).
#if (defined(HEARTBEAT_USE_BOOST_ASIO) ? BOOST_ASIO_VERSION : ASIO_VERSION) >= 102400
template <class Token>
using as_tuple_token = net::as_tuple_t<Token>;
#else
template <class Token>
using as_tuple_token = net::experimental::as_tuple_t<Token>;
#endif

template <class Executor>
struct awaitable_token<net::use_awaitable_t<Executor>> : std::true_type {
    using token = net::use_awaitable_t<Executor>;
    using received = std::string;
    static void succeeded(const token&) noexcept {}
    static void sent(const token&) noexcept {}
};
template <class Executor>
struct awaitable_token<net::redirect_error_t<net::use_awaitable_t<Executor>>> : std::true_type {
    using token = net::redirect_error_t<net::use_awaitable_t<Executor>>;
    using received = std::string;
    // ec_ is public in every Asio from 1.22 to 1.38 (its "private:" is commented out), and
    // Asio's own handler for this token writes it the same way, success included.
    static void succeeded(const token& t) noexcept { t.ec_ = {}; }
    static void sent(const token& t) noexcept { t.ec_ = {}; }
};
template <class Executor>
struct awaitable_token<as_tuple_token<net::use_awaitable_t<Executor>>> : std::true_type {
    using token = as_tuple_token<net::use_awaitable_t<Executor>>;
    using received = std::tuple<error_code, std::string>;
    static void succeeded(const token&) noexcept {}
    static std::tuple<error_code> sent(const token&) { return {error_code()}; }
};
#endif

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
