// tls_echo_server: echo_server over TLS. Each connection completes its TLS handshake (within a
// time limit), then runs a heartbeat session on the asio::ssl::stream. A session that ends while
// its client is alive says goodbye with a TLS close_notify, waiting at most shutdown_timeout for
// the answer; one whose client went silent is closed at once, since a dead peer never answers.
//
//   tls_echo_server --cert server.pem --key server.key [--bind 0.0.0.0] [--port 7443]
//                   [--interval-ms 5000] [--timeout-ms 15000] [--shutdown-timeout-ms 1000]
//   tls_echo_server --self-signed cert.pem [...]
//
// --self-signed makes a throwaway certificate for localhost in memory and writes its public half
// to cert.pem, for clients to trust: `tls_echo_client --ca cert.pem`, or
// `openssl s_client -connect localhost:7443 -CAfile cert.pem`. --port 0 picks a free port; the
// "listening on" line names it. Stop it with Ctrl-C or SIGTERM.
#include <heartbeat/heartbeat.hpp>

#include "self_signed.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
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
    std::cerr << "tls_echo_server: " << e.what() << std::endl;
    std::abort();
}
#endif

using asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;
using session_type = heartbeat::heartbeat_session<tls_stream>;

// The heartbeat starts after the handshake; until then this bounds a client that connects and
// says nothing.
constexpr std::chrono::seconds handshake_timeout(10);

struct connection {
    connection(std::string peer_name, tls_stream stream, const heartbeat::options& opts)
        : peer(std::move(peer_name))
        , session(std::move(stream), opts) {}

    std::string peer;
    session_type session;
};

class server {
public:
    server(asio::io_context& io, asio::ssl::context& tls, tcp::acceptor acceptor,
           const heartbeat::options& opts)
        : io_(io)
        , tls_(tls)
        , acceptor_(std::move(acceptor))
        , retry_timer_(io)
        , opts_(opts) {}

    tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

    void start() { accept(); }

    // Stops accepting, abandons handshakes and closes every session (each says goodbye first);
    // io_context::run() returns once they ended.
    void stop() {
        std::error_code ignored;
        acceptor_.close(ignored);
        retry_timer_.cancel();
        for (const auto& s : handshaking_)
            s->lowest_layer().close(ignored);
        for (const auto& c : connections_)
            c->session.close();
    }

private:
    void accept() {
        acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
            if (!acceptor_.is_open())
                return; // stop() was called
            if (ec) {
                // EMFILE and its kind would fail again at once: pause instead of spinning.
                std::cerr << "accept failed: " << ec.message() << "; retrying in 100 ms"
                          << std::endl;
                retry_timer_.expires_after(std::chrono::milliseconds(100));
                retry_timer_.async_wait([this](std::error_code ec) {
                    if (!ec)
                        accept();
                });
                return;
            }
            handshake(std::move(socket));
            accept();
        });
    }

    void handshake(tcp::socket socket) {
        // The peer's address is read now: the session closes the socket when it ends.
        std::error_code endpoint_ec;
        std::ostringstream peer;
        peer << socket.remote_endpoint(endpoint_ec);
        std::string name = endpoint_ec ? "unknown peer" : peer.str();
        auto stream = std::make_shared<tls_stream>(std::move(socket), tls_);
        auto timer = std::make_shared<asio::steady_timer>(io_, handshake_timeout);
        handshaking_.insert(stream);
        timer->async_wait([stream](std::error_code ec) {
            std::error_code ignored;
            if (!ec) // too slow: closing fails the handshake below
                stream->lowest_layer().close(ignored);
        });
        auto done = [this, stream, timer, name = std::move(name)](std::error_code ec) {
            timer->cancel();
            handshaking_.erase(stream);
            if (ec) {
                std::cout << name << " handshake failed: " << ec.message() << std::endl;
                return;
            }
            if (!acceptor_.is_open()) // stopping
                return;
            start_session(name, std::move(*stream));
        };
        stream->async_handshake(asio::ssl::stream_base::server, std::move(done));
    }

    void start_session(const std::string& name, tls_stream stream) {
        auto c = std::make_shared<connection>(name, std::move(stream), opts_);
        connections_.insert(c);
        std::cout << c->peer << " connected" << std::endl;
        c->session.async_run([this, c](std::error_code ec) {
            // eof: the client said goodbye (close_notify); stream_truncated: it vanished
            // without one.
            std::cout << c->peer << " ended: " << ec.message() << std::endl;
            connections_.erase(c);
        });
        echo(c);
    }

    // Receive a frame, send it back, repeat: one echo at a time keeps memory bounded.
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

    asio::io_context& io_;
    asio::ssl::context& tls_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    heartbeat::options opts_;
    std::set<std::shared_ptr<tls_stream>> handshaking_;
    std::set<std::shared_ptr<connection>> connections_;
};

struct arguments {
    std::string cert, key, self_signed_out;
    std::string bind = "0.0.0.0";
    unsigned short port = 7443;
    long interval_ms = 5000;
    long timeout_ms = 15000;
    long shutdown_timeout_ms = 1000;
};

// `text` as a whole number that fits in `out`; false otherwise.
template <class Number>
bool parse_number(std::string_view text, Number& out) {
    const char* end = text.data() + text.size();
    const auto [last, error] = std::from_chars(text.data(), end, out);
    return error == std::errc() && last == end;
}

// "--flag value" pairs; false on --help, an unknown flag, a missing value or a bad number.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[i + 1];
        bool ok = true;
        if (flag == "--cert")
            args.cert = value;
        else if (flag == "--key")
            args.key = value;
        else if (flag == "--self-signed")
            args.self_signed_out = value;
        else if (flag == "--bind")
            args.bind = value;
        else if (flag == "--port")
            ok = parse_number(value, args.port);
        else if (flag == "--interval-ms")
            ok = parse_number(value, args.interval_ms);
        else if (flag == "--timeout-ms")
            ok = parse_number(value, args.timeout_ms);
        else if (flag == "--shutdown-timeout-ms")
            ok = parse_number(value, args.shutdown_timeout_ms);
        else
            ok = false;
        if (!ok)
            return false;
    }
    const bool files = !args.cert.empty() && !args.key.empty();
    return files != !args.self_signed_out.empty();
}

// TLS 1.2 and 1.3 only, with the server's certificate and key. Returns what failed, in the words
// of the exception Asio would throw ("use_private_key_file: ..."), or "" when nothing did.
std::string configure(asio::ssl::context& tls, const arguments& args) {
    using context = asio::ssl::context;
    const auto tls_1_2_and_up = context::default_workarounds | context::no_sslv2 |
                                context::no_sslv3 | context::no_tlsv1 | context::no_tlsv1_1;
    std::error_code ec;
    tls.set_options(tls_1_2_and_up, ec);
    if (ec)
        return "set_options: " + ec.message();
    if (args.self_signed_out.empty()) {
        tls.use_certificate_chain_file(args.cert, ec);
        if (ec)
            return "use_certificate_chain_file: " + ec.message();
        tls.use_private_key_file(args.key, context::pem, ec);
        if (ec)
            return "use_private_key_file: " + ec.message();
        return {};
    }
    std::string error;
    const auto cert = self_signed::make_localhost_certificate(error);
    if (!error.empty())
        return error;
    tls.use_certificate_chain(asio::buffer(cert.certificate_pem), ec);
    if (ec)
        return "use_certificate_chain: " + ec.message();
    tls.use_private_key(asio::buffer(cert.private_key_pem), context::pem, ec);
    if (ec)
        return "use_private_key: " + ec.message();
    std::ofstream out(args.self_signed_out, std::ios::binary | std::ios::trunc);
    out << cert.certificate_pem; // the public half only: the key never leaves the process
    if (!out.flush())
        return "cannot write " + args.self_signed_out;
    return {};
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
    std::cerr << "tls_echo_server: " << why << "\n";
    return 1;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: tls_echo_server (--cert FILE --key FILE | --self-signed CERT_OUT)\n"
                     "                       [--bind ADDR] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--shutdown-timeout-ms S]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    opts.shutdown_timeout = std::chrono::milliseconds(args.shutdown_timeout_ms);

    if (const heartbeat::invalid_setting bad = opts.first_invalid())
        return fail(std::string("heartbeat::options::") + bad.field + ": " + bad.reason);
    asio::ssl::context tls(asio::ssl::context::tls_server);
    if (const std::string error = configure(tls, args); !error.empty())
        return fail(error);

    std::error_code ec;
    const asio::ip::address address = asio::ip::make_address(args.bind, ec);
    if (ec)
        return fail(ec.message());
    asio::io_context io;
    tcp::acceptor acceptor(io);
    if (const char* step = open_acceptor(acceptor, {address, args.port}, ec))
        return fail(std::string(step) + ": " + ec.message());
    server srv(io, tls, std::move(acceptor), opts);
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
}
