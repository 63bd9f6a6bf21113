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

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#if defined(ASIO_NO_EXCEPTIONS)
// Without exceptions, Asio calls this instead of throwing (Boost.Asio: boost::throw_exception).
template <class Exception>
void asio::detail::throw_exception(const Exception& e) {
    std::cerr << "tls_echo_client: " << e.what() << std::endl;
    std::abort();
}
#endif

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

// `text` as a whole number that fits in `out`; false otherwise.
template <class Number>
bool parse_number(std::string_view text, Number& out) {
    const char* end = text.data() + text.size();
    const auto [last, error] = std::from_chars(text.data(), end, out);
    return error == std::errc() && last == end;
}

// "--flag value" pairs; false on --help, an unknown flag or a bad value.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[i + 1];
        bool ok = true;
        if (flag == "--ca")
            args.ca = value;
        else if (flag == "--host")
            args.host = value;
        else if (flag == "--port")
            args.port = value;
        else if (flag == "--interval-ms")
            ok = parse_number(value, args.interval_ms);
        else if (flag == "--timeout-ms")
            ok = parse_number(value, args.timeout_ms);
        else
            ok = false;
        if (!ok)
            return false;
    }
    return !args.ca.empty();
}

// Connects and handshakes, verifying the certificate chain against the context's CA and the name
// against `host`. Before the handshake, the session's heartbeat does not run: the connect and the
// handshake are synchronous here and bounded only by the kernel (a real client bounds them too).
// Returns what failed, in the words of the exception Asio would throw ("connect: ..."), or "".
std::string connect(tls_stream& stream, const arguments& args) {
    std::error_code ec;
    const auto endpoints = tcp::resolver(stream.get_executor()).resolve(args.host, args.port, ec);
    if (ec)
        return "resolve: " + ec.message();
    asio::connect(stream.lowest_layer(), endpoints, ec);
    if (ec)
        return "connect: " + ec.message();
    stream.lowest_layer().set_option(tcp::no_delay(true), ec); // heartbeats are tiny writes
    if (ec)
        return "set_option: " + ec.message();
    stream.set_verify_mode(asio::ssl::verify_peer); // these two cannot fail
    stream.set_verify_callback(asio::ssl::host_name_verification(args.host));
    // SNI, for servers that host several names.
    if (!SSL_set_tlsext_host_name(stream.native_handle(), args.host.c_str()))
        return "cannot set the TLS server name";
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec)
        return "handshake: " + ec.message();
    return {};
}

// Says why the client cannot start; returns main's exit status.
int fail(const std::string& why) {
    std::cerr << "tls_echo_client: " << why << "\n";
    return 1;
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

    if (const heartbeat::invalid_setting bad = opts.first_invalid())
        return fail(std::string("heartbeat::options::") + bad.field + ": " + bad.reason);

    // Shared with the input thread, which may outlive main's scope (see the end).
    auto io = std::make_shared<asio::io_context>();
    asio::ssl::context tls(asio::ssl::context::tls_client);
    std::error_code ec;
    tls.load_verify_file(args.ca, ec);
    if (ec)
        return fail("load_verify_file: " + ec.message());
    tls_stream stream(*io, tls);
    if (const std::string error = connect(stream, args); !error.empty())
        return fail(error);
    auto c = std::make_unique<client>(*io, std::move(stream), opts);
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
