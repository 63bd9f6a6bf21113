// coro_echo_server: echo_server written with C++20 coroutines (asio::co_spawn, use_awaitable).
// An acceptor coroutine spawns one coroutine per connection, which runs the heartbeat session and
// an echo loop side by side and prints why the session ended. As in echo_server, an echo the
// session refuses ends its connection with a line saying why. The library itself stays C++17:
// only this program needs C++20.
//
//   coro_echo_server [--bind 0.0.0.0] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//                    [--crlf]
//
// --port 0 picks a free port; the "listening on" line names it. --crlf ends the lines it sends
// in "\r\n" (it understands either ending). Try it with `nc localhost 7000` or echo_client.
// Stop it with Ctrl-C or SIGTERM.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#if !defined(ASIO_HAS_CO_AWAIT)
#error "coro_echo_server needs C++20 coroutines that Asio supports (e.g. g++ -std=c++20)"
#endif

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#if defined(ASIO_NO_EXCEPTIONS)
// Without exceptions, Asio calls this instead of throwing (Boost.Asio: boost::throw_exception).
template <class Exception>
void asio::detail::throw_exception(const Exception& e) {
    std::cerr << "coro_echo_server: " << e.what() << std::endl;
    std::abort();
}
#endif

using asio::awaitable;
using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

// Every running session, for SIGTERM to close them.
using registry = std::set<std::shared_ptr<session_type>>;

// How much of a frame an error message shows.
constexpr std::size_t quote_limit = 60;

// `text` in double quotes, control characters escaped, cut after quote_limit bytes ("...").
std::string quoted(std::string_view text) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char ch : text.substr(0, quote_limit)) {
        const auto byte = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\r') {
            out += "\\r";
        } else if (ch == '\t') {
            out += "\\t";
        } else if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
    if (text.size() > quote_limit)
        out += "...";
    return out;
}

// Whether async_send refused this frame alone, the session running on: any other error is the
// session's end, which async_run reports. (An echo is never larger than the frame received, so
// frame_too_large is the end: the peer sent one too large.)
bool refused(std::error_code ec) {
    return ec == heartbeat::error::send_queue_full || ec == heartbeat::error::invalid_frame;
}

// Receive a frame, send it back, repeat, until the session ends: its receive then fails with
// the end reason (errors are redirected, not thrown, since an end is no exception here). A
// co_await of a receive whose frame is already held, or of a send queued at once (below
// send_high_water_mark), goes on without a trip through the executor, so a burst is answered
// with one write at little cost per frame, and a peer that stops reading stalls the loop at the
// mark.
// An echo the session refuses closes it, or the peer would see its lines vanish while PINGs
// still came.
awaitable<void> echo(std::shared_ptr<session_type> session, std::string peer) {
    for (;;) {
        std::error_code ec;
        std::string frame =
            co_await session->async_receive(asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return;                                             // the run's coroutine says why
        const std::string head = frame.substr(0, quote_limit + 1); // for the message below
        co_await session->async_send(std::move(frame),
                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (refused(ec)) {
                std::cout << peer << ": not echoed " << quoted(head) << ": " << ec.message()
                          << std::endl;
                session->close();
            }
            co_return; // else the session ended: the run's coroutine says why
        }
    }
}

// One connection. The echo loop is spawned beside the run rather than awaited with it: it ends
// by itself when the session does, while this coroutine waits for async_run, which completes
// last (after a goodbye, on a stream that has one) and carries the reason. The shared_ptr keeps
// the session alive for whichever finishes last.
awaitable<void> serve(tcp::socket socket, heartbeat::options opts, heartbeat::line_framing framing,
                      registry& sessions) {
    // The peer's address is read now: the session closes the socket when it ends.
    std::error_code ec;
    std::ostringstream peer;
    peer << socket.remote_endpoint(ec);
    const std::string name = ec ? "unknown peer" : peer.str();

    auto session = std::make_shared<session_type>(std::move(socket), opts, framing);
    sessions.insert(session);
    std::cout << name << " connected" << std::endl;
    asio::co_spawn(co_await asio::this_coro::executor, echo(session, name), asio::detached);
    co_await session->async_run(asio::redirect_error(asio::use_awaitable, ec));
    sessions.erase(session);
    std::cout << name << " ended: " << ec.message() << std::endl;
}

// Parameters are copied into the coroutine frame; `acceptor` and `sessions` live in main().
awaitable<void> listen(tcp::acceptor& acceptor, heartbeat::options opts,
                       heartbeat::line_framing framing, registry& sessions) {
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
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), opts, framing, sessions),
                       asio::detached);
    }
}

struct arguments {
    std::string bind = "0.0.0.0";
    unsigned short port = 7000;
    long interval_ms = 5000;
    long timeout_ms = 15000;
    bool crlf = false;
};

// `text` as a whole number that fits in `out`; false otherwise.
template <class Number>
bool parse_number(std::string_view text, Number& out) {
    const char* end = text.data() + text.size();
    const auto [last, error] = std::from_chars(text.data(), end, out);
    return error == std::errc() && last == end;
}

// "--flag value" pairs and --crlf; false on --help, an unknown flag, a missing value or a bad
// number.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--crlf") {
            args.crlf = true;
            continue;
        }
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[++i];
        bool ok = true;
        if (flag == "--bind")
            args.bind = value;
        else if (flag == "--port")
            ok = parse_number(value, args.port);
        else if (flag == "--interval-ms")
            ok = parse_number(value, args.interval_ms);
        else if (flag == "--timeout-ms")
            ok = parse_number(value, args.timeout_ms);
        else
            ok = false;
        if (!ok)
            return false;
    }
    return true;
}

// What tcp::acceptor's constructor does (open, reuse the address, bind, listen), with error
// codes instead of exceptions: returns the step that failed, named as Asio names it, or nullptr.
const char* open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                          std::error_code& ec) {
    acceptor.open(endpoint.protocol(), ec);
    if (ec)
        return "open";
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec)
        return "set_option";
    acceptor.bind(endpoint, ec);
    if (ec)
        return "bind";
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    return ec ? "listen" : nullptr;
}

// Says why the server cannot start; returns main's exit status.
int fail(const std::string& why) {
    std::cerr << "coro_echo_server: " << why << "\n";
    return 1;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: coro_echo_server [--bind ADDR] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--crlf]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    heartbeat::line_framing::config framing_config;
    if (args.crlf)
        framing_config.line_ending = "\r\n";

    if (const heartbeat::invalid_setting bad = opts.first_invalid())
        return fail(std::string("heartbeat::options::") + bad.field + ": " + bad.reason);
    const heartbeat::line_framing framing(framing_config); // its copies share the config

    std::error_code ec;
    const asio::ip::address address = asio::ip::make_address(args.bind, ec);
    if (ec)
        return fail(ec.message());
    asio::io_context io;
    tcp::acceptor acceptor(io);
    if (const char* step = open_acceptor(acceptor, {address, args.port}, ec))
        return fail(std::string(step) + ": " + ec.message());
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

    asio::co_spawn(io, listen(acceptor, opts, framing, sessions), asio::detached);
    io.run();
}
