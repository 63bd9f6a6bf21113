// coro_echo_server: echo_server written with C++20 coroutines (asio::co_spawn, use_awaitable).
// An acceptor coroutine spawns one coroutine per connection, which runs the heartbeat session and
// an echo loop side by side and prints why the session ended. The library itself stays C++17:
// only this program needs C++20.
//
//   coro_echo_server [--bind 0.0.0.0] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//
// --port 0 picks a free port; the "listening on" line names it. Try it with `nc localhost 7000`
// or echo_client. Stop it with Ctrl-C or SIGTERM.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#if !defined(ASIO_HAS_CO_AWAIT)
#error "coro_echo_server needs C++20 coroutines that Asio supports (e.g. g++ -std=c++20)"
#endif

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

using asio::awaitable;
using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

// Every running session, for SIGTERM to close them.
using registry = std::set<std::shared_ptr<session_type>>;

// Receive a frame, send it back, repeat, until the session ends: its receive then fails with
// the end reason (errors are redirected, not thrown, since an end is no exception here).
awaitable<void> echo(std::shared_ptr<session_type> session) {
    for (;;) {
        std::error_code ec;
        std::string frame =
            co_await session->async_receive(asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return; // the run's coroutine says why
        co_await session->async_send(std::move(frame),
                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return;
    }
}

// One connection. The echo loop is spawned beside the run rather than awaited with it: it ends
// by itself when the session does, while this coroutine waits for async_run, which completes
// last (after a goodbye, on a stream that has one) and carries the reason. The shared_ptr keeps
// the session alive for whichever finishes last.
awaitable<void> serve(tcp::socket socket, heartbeat::options opts, registry& sessions) {
    // The peer's address is read now: the session closes the socket when it ends.
    std::error_code ec;
    std::ostringstream peer;
    peer << socket.remote_endpoint(ec);
    const std::string name = ec ? "unknown peer" : peer.str();

    auto session = std::make_shared<session_type>(std::move(socket), opts);
    sessions.insert(session);
    std::cout << name << " connected" << std::endl;
    asio::co_spawn(co_await asio::this_coro::executor, echo(session), asio::detached);
    co_await session->async_run(asio::redirect_error(asio::use_awaitable, ec));
    sessions.erase(session);
    std::cout << name << " ended: " << ec.message() << std::endl;
}

// Parameters are copied into the coroutine frame; `acceptor` and `sessions` live in main().
awaitable<void> listen(tcp::acceptor& acceptor, heartbeat::options opts, registry& sessions) {
    asio::steady_timer retry(acceptor.get_executor());
    for (;;) {
        std::error_code ec;
        tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (!acceptor.is_open())
            co_return; // SIGTERM
        if (ec) {
            // EMFILE and its kind would fail again at once: pause instead of spinning.
            std::cerr << "accept failed: " << ec.message() << "; retrying in 100 ms" << std::endl;
            retry.expires_after(std::chrono::milliseconds(100));
            co_await retry.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), opts, sessions),
                       asio::detached);
    }
}

struct arguments {
    std::string bind = "0.0.0.0";
    unsigned long port = 7000;
    long interval_ms = 5000;
    long timeout_ms = 15000;
};

// "--flag value" pairs; false on --help, an unknown flag, a missing value or a bad number.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[i + 1];
        try {
            if (flag == "--bind")
                args.bind = value;
            else if (flag == "--port")
                args.port = std::stoul(value);
            else if (flag == "--interval-ms")
                args.interval_ms = std::stol(value);
            else if (flag == "--timeout-ms")
                args.timeout_ms = std::stol(value);
            else
                return false;
        } catch (const std::exception&) {
            return false;
        }
    }
    return args.port <= 65535;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: coro_echo_server [--bind ADDR] [--port P] [--interval-ms I] "
                     "[--timeout-ms T]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);

    try {
        opts.validate();
        asio::io_context io;
        tcp::acceptor acceptor(
            io, {asio::ip::make_address(args.bind), static_cast<unsigned short>(args.port)});
        std::cout << "listening on " << acceptor.local_endpoint() << std::endl;
        registry sessions;

        // Stop accepting and close every session: each coroutine then finishes by itself, and
        // run() returns when none is left.
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](std::error_code ec, int) {
            if (ec)
                return;
            std::cout << "stopping" << std::endl;
            acceptor.close(ec);
            for (const auto& session : sessions)
                session->close();
        });

        asio::co_spawn(io, listen(acceptor, opts, sessions), asio::detached);
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "coro_echo_server: " << e.what() << "\n";
        return 1;
    }
}
