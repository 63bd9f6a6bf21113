// lib_server: the same line echo server as bare_server, built on heartbeat_session the way a
// user would write it: run the session, receive frames in a loop, send each one back. The
// library answers PINGs, sends its own and enforces the read deadline. Single-threaded.
//
//   lib_server --port P --interval-ms I --timeout-ms T [--log-ends FILE]
//              [--loop stream|send|await|coro] [--list-loops]
//
// --interval-ms is options::ping_interval (0: never PING), --timeout-ms options::read_timeout.
// With --port 0 it prints the chosen port on stdout once it accepts. --log-ends writes one line
// per ended session: "<peer-port> <ms since its last byte> <reason>". --loop is how each
// session echoes, i.e. which user loop is measured:
//   stream  (default) try_send each frame, draining a burst with try_receive: no operation per
//           frame, the fastest way the API offers
//   send    async_send each frame and receive the next at once, not waiting for the send
//           (--async-send is the same)
//   await   the natural callback loop, shaped like examples/echo_server.cpp's echo(): receive,
//           async_send, and only in the send's handler receive again
//   coro    the same loop as a C++20 coroutine (co_spawn beside async_run, as in
//           examples/coro_echo_server.cpp); only when Asio has coroutines (ASIO_HAS_CO_AWAIT)
// --list-loops prints the loops this build has and exits (run.sh asks before using coro).
#include "bench_common.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace {

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

std::FILE* log_ends = nullptr;

enum class loop_kind { stream, send, await, coro };
loop_kind loop = loop_kind::stream;

#if defined(ASIO_HAS_CO_AWAIT)
constexpr const char* loops_built = "stream send await coro";
#else
constexpr const char* loops_built = "stream send await";
#endif

const char* reason_name(std::error_code ec) {
    if (ec == heartbeat::error::timeout)
        return "timeout";
    if (ec == asio::error::eof)
        return "eof";
    if (ec == asio::error::operation_aborted)
        return "aborted";
    return "error";
}

// As in the examples: async_send refused this frame alone and the session runs on, so close it
// rather than leave a peer whose lines go unanswered. Any other error is the session's end.
bool refused(std::error_code ec) {
    return ec == heartbeat::error::send_queue_full || ec == heartbeat::error::invalid_frame;
}

struct echo_session : std::enable_shared_from_this<echo_session> {
    echo_session(tcp::socket socket, unsigned port, const heartbeat::options& opts)
        : peer_port(port)
        , session(std::move(socket), opts) {}

    void start() {
        session.async_run([self = shared_from_this()](std::error_code ec) {
            if (log_ends) {
                const double ms = std::chrono::duration<double, std::milli>(
                                      self->session.statistics().since_last_receive)
                                      .count();
                std::fprintf(log_ends, "%u %.3f %s\n", self->peer_port, ms, reason_name(ec));
            }
        });
        switch (loop) {
        case loop_kind::stream:
        case loop_kind::send:
            receive();
            break;
        case loop_kind::await:
            receive_await();
            break;
        case loop_kind::coro:
#if defined(ASIO_HAS_CO_AWAIT)
            asio::co_spawn(session.get_executor(), echo_coro(shared_from_this()), asio::detached);
#endif
            break;
        }
    }

    // --loop stream and --loop send: the next receive is started before the echo is written.
    void receive() {
        session.async_receive([self = shared_from_this()](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run reports why
            if (loop == loop_kind::send) {
                // One completion per frame, not waited for.
                self->session.async_send(std::move(frame), [s = self.get()](std::error_code ec) {
                    if (ec && ec != asio::error::operation_aborted)
                        s->session.close(); // e.g. send_queue_full: the peer does not read
                });
            } else {
                // Streaming: echo this frame and every one already held, no operation per frame.
                do {
                    if (self->session.try_send(frame)) {
                        self->session.close(); // e.g. send_queue_full: the peer does not read
                        return;
                    }
                } while (self->session.try_receive(frame));
            }
            self->receive();
        });
    }

    // --loop await: examples/echo_server.cpp's echo() without its printing. One frame in flight
    // per session: the next receive waits for the send's completion.
    void receive_await() {
        session.async_receive([self = shared_from_this()](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run reports why
            self->session.async_send(std::move(frame), [self](std::error_code ec) {
                if (!ec)
                    self->receive_await();
                else if (refused(ec))
                    self->session.close();
            });
        });
    }

#if defined(ASIO_HAS_CO_AWAIT)
    // --loop coro: examples/coro_echo_server.cpp's echo() without its printing. Errors are
    // redirected, not thrown: the session's end is no exception here.
    static asio::awaitable<void> echo_coro(std::shared_ptr<echo_session> self) {
        for (;;) {
            std::error_code ec;
            std::string frame =
                co_await self->session.async_receive(asio::redirect_error(asio::use_awaitable, ec));
            if (ec)
                break; // the session ended; async_run reports why
            co_await self->session.async_send(std::move(frame),
                                              asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (refused(ec))
                    self->session.close();
                break;
            }
        }
    }
#endif

    unsigned peer_port;
    session_type session;
};

void accept(tcp::acceptor& acceptor, const heartbeat::options& opts) {
    acceptor.async_accept([&acceptor, &opts](std::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted)
            return;
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            const unsigned port = socket.remote_endpoint(ec).port();
            if (!ec)
                std::make_shared<echo_session>(std::move(socket), port, opts)->start();
        }
        accept(acceptor, opts);
    });
}

} // namespace

int main(int argc, char** argv) {
    bench::flags f(argc, argv,
                   "lib_server --port P --interval-ms I --timeout-ms T [--log-ends FILE]\n"
                   "           [--loop stream|send|await|coro] [--list-loops]\n"
                   "loops in this build: " +
                       std::string(loops_built));
    const auto port = static_cast<unsigned short>(f.num("port", 0));
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(static_cast<long>(f.num("interval-ms", 2000)));
    opts.read_timeout = std::chrono::milliseconds(static_cast<long>(f.num("timeout-ms", 3000)));
    const std::string log = f.str("log-ends");
    const std::string loop_name = f.str("loop", f.num("async-send", 0) != 0 ? "send" : "stream");
    const bool list_loops = f.num("list-loops", 0) != 0;
    f.done();
    if (list_loops) {
        std::printf("%s\n", loops_built);
        return 0;
    }
    if (loop_name == "stream") {
        loop = loop_kind::stream;
    } else if (loop_name == "send") {
        loop = loop_kind::send;
    } else if (loop_name == "await") {
        loop = loop_kind::await;
    } else if (loop_name == "coro") {
#if defined(ASIO_HAS_CO_AWAIT)
        loop = loop_kind::coro;
#else
        std::fprintf(stderr, "lib_server: --loop coro: this build has no C++20 coroutines for "
                             "Asio (ASIO_HAS_CO_AWAIT); build with a compiler that has them\n");
        return 2;
#endif
    } else {
        std::fprintf(stderr, "lib_server: --loop %s: want stream, send, await or coro\n",
                     loop_name.c_str());
        return 2;
    }
    opts.validate();
    if (!log.empty()) {
        log_ends = std::fopen(log.c_str(), "w");
        if (!log_ends) {
            std::perror(log.c_str());
            return 1;
        }
        std::setvbuf(log_ends, nullptr, _IOLBF, 0);
    }

    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { io.stop(); });
    accept(acceptor, opts);
    if (port == 0)
        std::printf("%u\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    io.run();
    if (log_ends)
        std::fclose(log_ends);
    return 0;
}
