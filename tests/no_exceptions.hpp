// What a program built without exceptions (-fno-exceptions, ASIO_NO_EXCEPTIONS) must define for
// Asio: its throw_exception, a template, so it is defined in every test's translation unit
// (support.hpp includes this). No test expects it to be called: it reports and aborts. (Catch2
// brings its own, which terminates.)
#ifndef HEARTBEAT_TESTS_NO_EXCEPTIONS_HPP
#define HEARTBEAT_TESTS_NO_EXCEPTIONS_HPP

#if defined(ASIO_NO_EXCEPTIONS) && !defined(HEARTBEAT_USE_BOOST_ASIO)
#include <asio/detail/throw_exception.hpp>

#include <cstdio>
#include <cstdlib>

namespace asio {
namespace detail {
template <typename Exception>
#if defined(ASIO_SOURCE_LOCATION_PARAM)
void throw_exception(const Exception& e ASIO_SOURCE_LOCATION_PARAM) {
#else
void throw_exception(const Exception& e) {
#endif
    std::fprintf(stderr, "Asio would throw: %s\n", e.what());
    std::abort();
}
} // namespace detail
} // namespace asio
#endif

#endif
