// echo_server: a TCP echo server with a heartbeat on every connection. It pings quiet clients,
// drops those that stop talking (a crashed or hung peer, a vanished host), and prints one line
// per session end saying why.
//
//   echo_server [--bind 0.0.0.0] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//               [--idle-timeout-ms 0]
//
// --port 0 picks a free port; the "listening on" line names it. Try it with `nc localhost 7000`:
// type lines and see them echoed, see the server's PINGs, answer PONG (or type nothing and see
// it time out). Stop it with Ctrl-C or SIGTERM.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

// One accepted connection: who it is and its session. The server owns it until the session's
// run completes; the handlers of its pending receive and send hold it too.
struct connection {
    connection(std::string peer_name, tcp::socket socket, const heartbeat::options& opts)
        : peer(std::move(peer_name))
        , session(std::move(socket), opts) {}

    std::string peer;
    session_type session;
};

class server {
public:
    server(asio::io_context& io, const tcp::endpoint& endpoint, const heartbeat::options& opts)
        : acceptor_(io, endpoint)
        , retry_timer_(io)
        , opts_(opts) {}

    tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

    void start() { accept(); }

    // Stops accepting and closes every session; io_context::run() returns once they ended.
    void stop() {
        std::error_code ignored;
        acceptor_.close(ignored);
        retry_timer_.cancel();
        for (const auto& c : connections_)
            c->session.close();
    }

private:
    void accept() {
        acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
            if (!acceptor_.is_open())
                return; // stop() was called
            if (ec) {
                // EMFILE (out of file descriptors) and its kind would fail again at once:
                // pause instead of spinning, and let closing sessions free some.
                std::cerr << "accept failed: " << ec.message() << "; retrying in 100 ms"
                          << std::endl;
                retry_timer_.expires_after(std::chrono::milliseconds(100));
                retry_timer_.async_wait([this](std::error_code ec) {
                    if (!ec)
                        accept();
                });
                return;
            }
            start_session(std::move(socket));
            accept();
        });
    }

    void start_session(tcp::socket socket) {
        // The peer's address is read now: the session closes the socket when it ends.
        std::error_code ec;
        std::ostringstream peer;
        peer << socket.remote_endpoint(ec);
        auto c = std::make_shared<connection>(ec ? "unknown peer" : peer.str(), std::move(socket),
                                              opts_);
        connections_.insert(c);
        std::cout << c->peer << " connected" << std::endl;
        c->session.async_run([this, c](std::error_code ec) {
            std::cout << c->peer << " ended: " << ec.message() << std::endl;
            connections_.erase(c);
        });
        echo(c);
    }

    // Receive a frame, send it back, repeat. One echo at a time keeps memory bounded: a client
    // that does not read its echoes fills the receive queue and TCP pushes back on it.
    static void echo(std::shared_ptr<connection> c) {
        c->session.async_receive([c](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run's handler says why
            c->session.async_send(std::move(frame), [c](std::error_code ec) {
                if (!ec)
                    echo(c);
            });
        });
    }

    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    heartbeat::options opts_;
    std::set<std::shared_ptr<connection>> connections_;
};

struct arguments {
    std::string bind = "0.0.0.0";
    unsigned long port = 7000;
    long interval_ms = 5000;
    long timeout_ms = 15000;
    long idle_timeout_ms = 0;
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
            else if (flag == "--idle-timeout-ms")
                args.idle_timeout_ms = std::stol(value);
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
        std::cerr << "usage: echo_server [--bind ADDR] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--idle-timeout-ms J]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    opts.idle_timeout = std::chrono::milliseconds(args.idle_timeout_ms);

    try {
        opts.validate();
        asio::io_context io;
        server srv(io, {asio::ip::make_address(args.bind), static_cast<unsigned short>(args.port)},
                   opts);
        std::cout << "listening on " << srv.local_endpoint() << std::endl;

        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](std::error_code ec, int) {
            if (ec)
                return;
            std::cout << "stopping" << std::endl;
            srv.stop();
        });

        srv.start();
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "echo_server: " << e.what() << "\n";
        return 1;
    }
}
