// lib_server: the same line echo server as bare_server, built on heartbeat_session the way a
// user would write it: run the session, receive frames in a loop, send each one back. The
// library answers PINGs, sends its own and enforces the read deadline. Single-threaded.
//
//   lib_server --port P --interval-ms I --timeout-ms T [--log-ends FILE] [--async-send]
//
// --interval-ms is options::ping_interval (0: never PING), --timeout-ms options::read_timeout.
// With --port 0 it prints the chosen port on stdout once it accepts. --log-ends writes one line
// per ended session: "<peer-port> <ms since its last byte> <reason>". Frames are echoed with
// try_send (and a burst drained with try_receive); --async-send echoes each with async_send and
// its own completion instead.
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
bool async_send = false; // --async-send: a completion per echoed frame instead of try_send

const char* reason_name(std::error_code ec) {
    if (ec == heartbeat::error::timeout)
        return "timeout";
    if (ec == asio::error::eof)
        return "eof";
    if (ec == asio::error::operation_aborted)
        return "aborted";
    return "error";
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
        receive();
    }

    void receive() {
        session.async_receive([self = shared_from_this()](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run reports why
            if (async_send) {
                // One completion per frame: the plain way, measured with --async-send.
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
                   "lib_server --port P --interval-ms I --timeout-ms T [--log-ends FILE] "
                   "[--async-send]");
    const auto port = static_cast<unsigned short>(f.num("port", 0));
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(static_cast<long>(f.num("interval-ms", 2000)));
    opts.read_timeout = std::chrono::milliseconds(static_cast<long>(f.num("timeout-ms", 3000)));
    const std::string log = f.str("log-ends");
    async_send = f.num("async-send", 0) != 0;
    f.done();
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
