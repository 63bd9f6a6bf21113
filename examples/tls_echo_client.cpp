// tls_echo_client: echo_client over TLS. Verifies the server's certificate against a CA file and
// the host name, sends each line of standard input over a heartbeat session and prints what comes
// back. When the input ended and every echo arrived (or 2 s later), it closes the session, which
// says goodbye with a TLS close_notify; it exits when the session ends, saying why.
//
//   printf 'hello\nworld\n' | tls_echo_client --ca cert.pem --port 7443
//   tls_echo_client --ca FILE [--host localhost] [--port 7443] [--interval-ms 5000]
//                   [--timeout-ms 15000]
//
// --host is both where to connect and the name the certificate must carry.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

using asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;
using session_type = heartbeat::heartbeat_session<tls_stream>;

class client {
public:
    client(asio::io_context& io, tls_stream stream, const heartbeat::options& opts)
        : session_(std::move(stream), opts)
        , grace_timer_(io) {}

    void start() {
        session_.async_run([this](std::error_code ec) {
            ended_ = true;
            grace_timer_.cancel();
            if (closing_)
                std::cerr << "session ended: input finished" << std::endl;
            else
                std::cerr << "session ended: " << ec.message() << std::endl;
        });
        receive();
    }

    // The next line of input.
    void send(std::string line) {
        if (ended_)
            return;
        ++awaiting_;
        session_.async_send(std::move(line), [this](std::error_code ec) {
            if (!ec || ended_)
                return;
            std::cerr << "not sent: " << ec.message() << std::endl;
            --awaiting_;
            close_when_done();
        });
    }

    // The input ended: wait for the echoes still due, but not forever.
    void input_ended() {
        input_ended_ = true;
        close_when_done();
        if (closing_ || ended_)
            return;
        grace_timer_.expires_after(std::chrono::seconds(2));
        grace_timer_.async_wait([this](std::error_code ec) {
            if (ec)
                return;
            std::cerr << awaiting_ << " echo(es) missing after 2 s" << std::endl;
            close();
        });
    }

    // 0 when every line came back and we closed the session ourselves.
    int exit_code() const { return closing_ && awaiting_ == 0 ? 0 : 1; }

private:
    void receive() {
        session_.async_receive([this](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run's handler says why
            std::cout << frame << std::endl;
            if (awaiting_ > 0)
                --awaiting_;
            close_when_done();
            receive();
        });
    }

    void close_when_done() {
        if (input_ended_ && awaiting_ == 0)
            close();
    }

    void close() {
        if (closing_ || ended_)
            return;
        closing_ = true;
        session_.close(); // close_notify, then at most shutdown_timeout for the server's
    }

    session_type session_;
    asio::steady_timer grace_timer_;
    std::size_t awaiting_ = 0;
    bool input_ended_ = false;
    bool closing_ = false;
    bool ended_ = false;
};

struct arguments {
    std::string ca;
    std::string host = "localhost";
    std::string port = "7443";
    long interval_ms = 5000;
    long timeout_ms = 15000;
};

// "--flag value" pairs; false on --help, an unknown flag or a bad value.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[i + 1];
        try {
            if (flag == "--ca")
                args.ca = value;
            else if (flag == "--host")
                args.host = value;
            else if (flag == "--port")
                args.port = value;
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
    return !args.ca.empty();
}

// Connects and handshakes, verifying the certificate chain against `ca` and the name against
// `host`. Before the handshake, the session's heartbeat does not run: the connect and the
// handshake are synchronous here and bounded only by the kernel (a real client bounds them too).
tls_stream connect(asio::io_context& io, asio::ssl::context& tls, const arguments& args) {
    tls_stream stream(io, tls);
    asio::connect(stream.lowest_layer(), tcp::resolver(io).resolve(args.host, args.port));
    stream.lowest_layer().set_option(tcp::no_delay(true)); // heartbeats are tiny writes
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(args.host));
    // SNI, for servers that host several names.
    if (!SSL_set_tlsext_host_name(stream.native_handle(), args.host.c_str()))
        throw std::runtime_error("cannot set the TLS server name");
    stream.handshake(asio::ssl::stream_base::client);
    return stream;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: tls_echo_client --ca FILE [--host H] [--port P] [--interval-ms I] "
                     "[--timeout-ms T]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);

    // Shared with the input thread, which may outlive main's scope (see the end).
    auto io = std::make_shared<asio::io_context>();
    asio::ssl::context tls(asio::ssl::context::tls_client);
    std::unique_ptr<client> c;
    try {
        opts.validate();
        tls.load_verify_file(args.ca);
        c = std::make_unique<client>(*io, connect(*io, tls, args), opts);
    } catch (const std::exception& e) {
        std::cerr << "tls_echo_client: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "connected" << std::endl;
    c->start();

    // Standard input is read by a plain thread that posts each line to the io_context.
    std::thread input([io, target = c.get()] {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            asio::post(*io, [target, line] { target->send(line); });
        }
        asio::post(*io, [target] { target->input_ended(); });
    });

    io->run();
    const int code = c->exit_code();
    // The input thread may still wait in getline; it only posts to the io_context, which its
    // own shared_ptr keeps alive and which never runs again (see echo_client.cpp).
    input.detach();
    return code;
}
