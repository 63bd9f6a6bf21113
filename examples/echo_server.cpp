// echo_server: a TCP echo server with a heartbeat on every connection. It pings quiet clients,
// drops those that stop talking (a crashed or hung peer, a vanished host), and prints one line
// per session end saying why. A client that half-closes (`nc -N`) still gets the echoes of what
// it sent. An echo the session refuses ends its connection, with a line saying which and why,
// rather than leave a client whose lines go unanswered.
//
//   echo_server [--bind 0.0.0.0] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//               [--idle-timeout-ms 0] [--crlf]
//
// --port 0 picks a free port; the "listening on" line names it. Lines may arrive ending in "\n"
// or "\r\n"; --crlf ends those it sends, echoes and PINGs, in "\r\n" (telnet, CRLF protocols).
// Try it with `nc localhost 7000`: type lines and see them echoed, see the server's PINGs, answer
// PONG (or type nothing and see it time out). Stop it with Ctrl-C or SIGTERM.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

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
    std::cerr << "echo_server: " << e.what() << std::endl;
    std::abort();
}
#endif

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

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
// session's end, which async_run's handler reports. (An echo is never larger than the frame
// received, so frame_too_large is the end: the peer sent one too large.)
bool refused(std::error_code ec) {
    return ec == heartbeat::error::send_queue_full || ec == heartbeat::error::invalid_frame;
}

// One accepted connection: who it is and its session. The server owns it until the session's
// run completes; the handlers of its pending receive and send hold it too.
struct connection {
    connection(std::string peer_name, tcp::socket socket, const heartbeat::options& opts,
               const heartbeat::line_framing& framing)
        : peer(std::move(peer_name))
        , session(std::move(socket), opts, framing) {}

    std::string peer;
    session_type session;
};

class server {
public:
    server(tcp::acceptor acceptor, const heartbeat::options& opts,
           const heartbeat::line_framing& framing)
        : acceptor_(std::move(acceptor))
        , retry_timer_(acceptor_.get_executor())
        , opts_(opts)
        , framing_(framing) {}

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
                                              opts_, framing_);
        connections_.insert(c);
        std::cout << c->peer << " connected" << std::endl;
        c->session.async_run([this, c](std::error_code ec) {
            std::cout << c->peer << " ended: " << ec.message() << std::endl;
            connections_.erase(c);
        });
        echo(c);
    }

    // Receive a frame, send it back, repeat. Each send completes as soon as the session queued
    // the echo (below options::send_high_water_mark), so a burst of lines read at once is
    // answered with one write; a client that does not read its echoes stalls the loop at the
    // mark, then fills the receive queue, and TCP pushes back on it. The loop ends only with the
    // session: an echo it refuses closes it, or the client would see its lines vanish while
    // PINGs still came.
    static void echo(std::shared_ptr<connection> c) {
        c->session.async_receive([c](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run's handler says why
            // Its start, for the message should the echo be refused.
            std::string head = frame.substr(0, quote_limit + 1);
            c->session.async_send(std::move(frame),
                                  [c, head = std::move(head)](std::error_code ec) {
                                      if (!ec) {
                                          echo(c);
                                      } else if (refused(ec)) {
                                          std::cout << c->peer << ": not echoed " << quoted(head)
                                                    << ": " << ec.message() << std::endl;
                                          c->session.close();
                                      } // else the session ended; async_run's handler says why
                                  });
        });
    }

    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    heartbeat::options opts_;
    heartbeat::line_framing framing_; // its copies share one configuration
    std::set<std::shared_ptr<connection>> connections_;
};

struct arguments {
    std::string bind = "0.0.0.0";
    unsigned short port = 7000;
    long interval_ms = 5000;
    long timeout_ms = 15000;
    long idle_timeout_ms = 0;
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
        else if (flag == "--idle-timeout-ms")
            ok = parse_number(value, args.idle_timeout_ms);
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
    std::cerr << "echo_server: " << why << "\n";
    return 1;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: echo_server [--bind ADDR] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--idle-timeout-ms J] [--crlf]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    opts.idle_timeout = std::chrono::milliseconds(args.idle_timeout_ms);
    heartbeat::line_framing::config framing_config;
    if (args.crlf)
        framing_config.line_ending = "\r\n";

    if (const heartbeat::invalid_setting bad = opts.first_invalid())
        return fail(std::string("heartbeat::options::") + bad.field + ": " + bad.reason);
    const heartbeat::line_framing framing(framing_config);

    std::error_code ec;
    const asio::ip::address address = asio::ip::make_address(args.bind, ec);
    if (ec)
        return fail(ec.message());
    asio::io_context io;
    tcp::acceptor acceptor(io);
    if (const char* step = open_acceptor(acceptor, {address, args.port}, ec))
        return fail(std::string(step) + ": " + ec.message());
    server srv(std::move(acceptor), opts, framing);
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
