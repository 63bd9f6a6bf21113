// docs/guide.md, "Completion tokens": C++20 coroutines with asio::use_awaitable, an echo loop
// and a receive with a time limit. Built where Asio sees coroutines. Run as a test.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <variant>

#include "snippet_support.hpp"

using tcp = asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

// begin-snippet: echo
asio::awaitable<void> serve(tcp::socket socket) {
    session_type session(std::move(socket), heartbeat::options());
    session.async_run([](std::error_code ec) { std::cout << "ended: " << ec.message() << "\n"; });
    try {
        for (;;) {
            std::string frame = co_await session.async_receive(asio::use_awaitable);
            co_await session.async_send(std::move(frame), asio::use_awaitable);
        }
    } catch (const std::system_error&) {
        // The session ended; async_run's handler has the reason. Leaving destroys the
        // session, which is safe: its handlers still run, none touches freed memory.
    }
}
// end-snippet: echo

// begin-snippet: timeout
// The next frame, or nothing when none came within `limit`; the session runs on either way.
asio::awaitable<std::optional<std::string>> receive_within(session_type& session,
                                                           std::chrono::milliseconds limit) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    auto first = co_await (session.async_receive(asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
    if (first.index() == 1)
        co_return std::nullopt; // the timer won: the receive was cancelled, nothing was lost
    co_return std::get<0>(std::move(first));
}
// end-snippet: timeout

int main() {
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    asio::co_spawn(io, serve(std::move(pair.b)), asio::detached);

    session_type client(std::move(pair.a));
    bool ended = false;
    client.async_run([&](std::error_code) { ended = true; });
    std::optional<std::string> nothing, echo;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            nothing = co_await receive_within(client, std::chrono::milliseconds(50));
            co_await client.async_send("hello", asio::use_awaitable);
            echo = co_await receive_within(client, std::chrono::seconds(5));
            client.close();
            done = true;
        },
        asio::detached);
    snippet::run_until(io, [&] { return done && ended; });
    io.restart();
    io.run_for(std::chrono::seconds(2));
    snippet::expect(!nothing, "no frame within 50 ms");
    snippet::expect(echo && *echo == "hello", "the echo within 5 s");
    return snippet::exit_code("guide_coroutines");
}
