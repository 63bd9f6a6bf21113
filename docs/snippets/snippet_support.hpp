// What the runnable snippets share outside their shown regions: a connected loopback socket
// pair, a bounded io_context run, and checks that make the program exit non-zero.
#ifndef HEARTBEAT_DOCS_SNIPPET_SUPPORT_HPP
#define HEARTBEAT_DOCS_SNIPPET_SUPPORT_HPP

#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <utility>

namespace snippet {

struct socket_pair {
    asio::ip::tcp::socket a;
    asio::ip::tcp::socket b;
};

/// Two connected TCP sockets over 127.0.0.1; `b` may take its own executor (a strand).
template <class Executor>
inline socket_pair loopback_pair(asio::io_context& io, const Executor& b_executor) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket a(io);
    a.connect(acceptor.local_endpoint());
    return {std::move(a), acceptor.accept(b_executor)};
}

inline socket_pair loopback_pair(asio::io_context& io) {
    return loopback_pair(io, io.get_executor());
}

inline int failures = 0;

/// Records a failed expectation; the program's exit code reports it.
inline void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "snippet check failed: %s\n", what);
        ++failures;
    }
}

/// Runs `io` until `done()` or `limit` passes; false on the timeout.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end)
            return false;
        io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
}

inline int exit_code(const char* name) {
    if (failures == 0)
        std::printf("%s: ok\n", name);
    return failures == 0 ? 0 : 1;
}

} // namespace snippet

#endif
