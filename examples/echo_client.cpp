// echo_client: sends each line of standard input to an echo server over a heartbeat session and
// prints what comes back; the session pings the server meanwhile. Exits when the input ended and
// every echo arrived (or no echo came for 2 s), or as soon as the session ends, saying why.
// The exit status is 0 only when every line was sent and echoed: a line the session refuses (the
// heartbeat words PING and PONG, a line over 64 KiB) is named on stderr and fails the run.
//
//   printf 'hello\nworld\n' | echo_client --port 7000
//   echo_client [--host 127.0.0.1] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//               [--crlf] [--silent] [--reconnect]
//
// Input lines may end in "\n" or "\r\n". --crlf ends the lines it sends, heartbeats included, in
// "\r\n" (for servers that want it); echoes are understood either way. --silent sends no
// heartbeat at all (no PING, no PONG): a hung peer, for watching a server drop it. --timeout-ms 0
// never times the server out, for servers that do not ping. Ctrl-C or SIGTERM closes the session.
//
// --reconnect runs the sessions under a heartbeat::reconnecting_client: when the server goes
// away (or falls silent), the client reconnects with backoff and says so on stderr; lines read
// while no session is up are held and sent once it is back. Only the input's end or Ctrl-C
// stops it.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
#include <fcntl.h>
#include <unistd.h>
#else
#include <atomic>
#include <thread>
#endif

#if defined(ASIO_NO_EXCEPTIONS)
// Without exceptions, Asio calls this instead of throwing (Boost.Asio: boost::throw_exception).
template <class Exception>
void asio::detail::throw_exception(const Exception& e) {
    std::cerr << "echo_client: " << e.what() << std::endl;
    std::abort();
}
#endif

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;
using reconnecting_type = heartbeat::reconnecting_client<tcp::socket>;

// How much of a line an error message shows.
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

#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
// Standard input, read on the io_context like the socket, so that the program exits as soon as
// the session ends. A thread waiting in std::getline would keep it alive while the input stays
// open: that thread holds the lock of stdin's FILE, and exit() takes every FILE's lock to flush
// it (musl, recent glibc), so the program would hang until the input sent a line or ended.
// Regular files and /dev/null, which epoll refuses to watch, work too: Asio tries a read before
// it would wait for one, and theirs never wait.
class standard_input {
public:
    explicit standard_input(asio::io_context& io)
        : descriptor_(io)
        , saved_flags_(::fcntl(STDIN_FILENO, F_GETFL)) {
        // A duplicate, so that closing ours leaves descriptor 0 alone. Without one, reads fail
        // with bad_descriptor.
        std::error_code ec;
        const int fd = ::dup(STDIN_FILENO);
        if (fd == -1)
            return;
        descriptor_.assign(fd, ec);
        if (ec)
            ::close(fd);
    }

    // Asio made the descriptor non-blocking, a flag that a terminal shares with the shell.
    ~standard_input() {
        if (saved_flags_ != -1)
            ::fcntl(STDIN_FILENO, F_SETFL, saved_flags_);
    }

    standard_input(const standard_input&) = delete;
    standard_input& operator=(const standard_input&) = delete;

    // handler(error_code, std::string_view): the next bytes; eof when the input ended.
    template <class Handler>
    void async_read(Handler handler) {
        descriptor_.async_read_some(
            asio::buffer(buffer_),
            [this, handler = std::move(handler)](std::error_code ec, std::size_t n) mutable {
                handler(ec, std::string_view(buffer_.data(), n));
            });
    }

    void close() {
        std::error_code ignored;
        descriptor_.close(ignored);
    }

private:
    asio::posix::stream_descriptor descriptor_;
    int saved_flags_;
    std::array<char, 16384> buffer_{};
};
#endif

// Connection: one session_type, or a reconnecting_type running sessions one after another.
// Both have async_run, async_send, async_receive and close().
template <class Connection>
class client {
    static constexpr bool reconnecting = std::is_same_v<Connection, reconnecting_type>;

public:
    client(asio::io_context& io, Connection connection)
        : session_(std::move(connection))
        , grace_timer_(io)
        , signals_(io, SIGINT, SIGTERM)
#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
        , input_(io)
#endif
    {
    }

    void start() {
        if constexpr (reconnecting) {
            session_.set_observer([](const heartbeat::reconnect_event& e) {
                using kind = heartbeat::reconnect_event::kind;
                std::cerr << "reconnect: " << heartbeat::to_string(e.what);
                if (e.what == kind::connecting || e.what == kind::connected)
                    std::cerr << " (attempt " << e.attempt << ")";
                if (e.what == kind::backing_off)
                    std::cerr << " " << e.delay.count() << " ms";
                if (e.error)
                    std::cerr << ": " << e.error.message();
                std::cerr << std::endl;
            });
        }
        session_.async_run([this](std::error_code ec) {
            ended_ = true;
            // Nothing may keep io_context::run() going now: the program exits at once.
            grace_timer_.cancel();
            std::error_code ignored;
            signals_.cancel(ignored);
#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
            input_.close();
#endif
            std::cerr << "session ended: "
                      << (interrupted_ ? "interrupted"
                          : closing_   ? "input finished"
                                       : ec.message());
            if constexpr (!reconnecting) {
                const auto stats = session_.statistics();
                std::cerr << " (pings sent " << stats.pings_sent << ", pongs received "
                          << stats.pongs_received << ", smoothed rtt "
                          << std::chrono::duration_cast<std::chrono::microseconds>(
                                 stats.smoothed_rtt)
                                 .count()
                          << " us)";
            }
            std::cerr << std::endl;
        });
        signals_.async_wait([this](std::error_code ec, int) {
            if (ec)
                return;
            interrupted_ = true;
            close();
        });
        receive();
        read_input();
    }

    // A chunk of standard input: sends each line it completes.
    void input(std::string_view data) {
        if (ended_)
            return;
        partial_.append(data);
        std::size_t start = 0;
        for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
            send(std::string_view(partial_).substr(start, nl - start));
        partial_.erase(0, start);
    }

    // The input ended: wait for the echoes still due, but not forever.
    void input_ended() {
        if (ended_ || input_ended_)
            return;
        if (!partial_.empty()) { // a last line without a newline
            send(partial_);
            partial_.clear();
        }
        input_ended_ = true;
        close_when_done();
        wait_for_echoes();
    }

    // 0 when every line was sent and came back, and we closed the session ourselves.
    int exit_code() const {
        return closing_ && !interrupted_ && awaiting_ == 0 && refused_ == 0 ? 0 : 1;
    }

private:
    // The next chunk, once the lines of the last one are written: the send queue holds at most
    // one chunk's worth, so input faster than the network never overflows it.
    void read_input() {
#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
        input_.async_read([this](std::error_code ec, std::string_view data) {
            if (ended_)
                return; // the run's handler closed the input
            input(data);
            if (ec) {
                if (ec != asio::error::eof)
                    std::cerr << "echo_client: standard input: " << ec.message() << std::endl;
                input_ended();
            } else if (in_flight_ == 0) {
                read_input();
            } // else the completion of the last send reads on
        });
#endif // else the input thread reads ahead (see main)
    }

    // One line, without its line ending: "\n" and any '\r' before it, as the framing does with
    // the lines it receives.
    void send(std::string_view line) {
        while (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        ++awaiting_;
        ++in_flight_;
        session_.async_send(std::string(line), [this,
                                                head = std::string(line.substr(0, quote_limit + 1)),
                                                size = line.size()](std::error_code ec) {
            --in_flight_;
            if (ec && !refused(ec, size))
                return; // the session ended; async_run's handler says why
            if (ec) {
                std::cerr << "not sent: " << quoted(head) << ": " << ec.message() << std::endl;
                ++refused_;
                --awaiting_;
                close_when_done();
            }
            if (in_flight_ == 0 && !input_ended_)
                read_input();
        });
    }

    // Whether async_send refused this line alone, the session running on. Any other error is the
    // session's end, which async_run's handler reports; frame_too_large is also an end reason (a
    // frame received that was too large), so it is a refusal only for a line over the limit.
    bool refused(std::error_code ec, std::size_t size) const {
        return ec == heartbeat::error::invalid_frame || ec == heartbeat::error::send_queue_full ||
               ec == heartbeat::error::reconnect_queue_full ||
               (ec == heartbeat::error::frame_too_large && size > max_frame_size());
    }

    std::size_t max_frame_size() const {
        if constexpr (reconnecting)
            return session_.session_options().max_frame_size;
        else
            return session_.options().max_frame_size;
    }

    void receive() {
        session_.async_receive([this](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended; async_run's handler says why
            std::cout << frame << std::endl;
            if (awaiting_ > 0)
                --awaiting_;
            close_when_done();
            if (input_ended_)
                wait_for_echoes();
            receive();
        });
    }

    // After the input ended: gives up when no echo came for 2 s. Restarted by each echo, so
    // that a long input whose echoes still stream in is not cut short.
    void wait_for_echoes() {
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

    void close_when_done() {
        if (input_ended_ && awaiting_ == 0)
            close();
    }

    void close() {
        if (closing_ || ended_)
            return;
        closing_ = true;
        session_.close();
    }

    Connection session_;
    asio::steady_timer grace_timer_;
    // Ctrl-C and SIGTERM close the session: killed, the program would leave a terminal input
    // non-blocking (see ~standard_input).
    asio::signal_set signals_;
#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
    standard_input input_;
#endif
    std::string partial_;       // input after the last newline
    std::size_t awaiting_ = 0;  // lines sent (or being sent) whose echo has not arrived
    std::size_t in_flight_ = 0; // lines whose async_send has not completed
    std::size_t refused_ = 0;   // lines the session refused
    bool input_ended_ = false;
    bool closing_ = false;
    bool interrupted_ = false;
    bool ended_ = false;
};

struct arguments {
    std::string host = "127.0.0.1";
    std::string port = "7000";
    long interval_ms = 5000;
    long timeout_ms = 15000;
    bool crlf = false;
    bool silent = false;
    bool reconnect = false;
};

// `text` as a whole number that fits in `out`; false otherwise.
template <class Number>
bool parse_number(std::string_view text, Number& out) {
    const char* end = text.data() + text.size();
    const auto [last, error] = std::from_chars(text.data(), end, out);
    return error == std::errc() && last == end;
}

// "--flag value" pairs, --crlf and --silent; false on --help, an unknown flag or a bad value.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--crlf") {
            args.crlf = true;
            continue;
        }
        if (flag == "--silent") {
            args.silent = true;
            continue;
        }
        if (flag == "--reconnect") {
            args.reconnect = true;
            continue;
        }
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[++i];
        bool ok = true;
        if (flag == "--host")
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
    return true;
}

// Says why the client cannot start; returns main's exit status.
int fail(const std::string& why) {
    std::cerr << "echo_client: " << why << "\n";
    return 1;
}

// Runs a client over `connection` until it is done; returns its exit status.
template <class Connection>
int run(asio::io_context& io, Connection connection) {
    client<Connection> c(io, std::move(connection));
    c.start();

#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
    io.run();
    return c.exit_code();
#else
    // Without POSIX descriptors (Windows), a thread reads standard input and posts each line.
    std::atomic<bool> input_done{false};
    std::thread input([&io, &input_done, target = &c] {
        std::string line;
        while (std::getline(std::cin, line))
            asio::post(io, [target, line] { target->input(line + '\n'); });
        asio::post(io, [target] { target->input_ended(); });
        input_done = true;
    });
    io.run();
    const int code = c.exit_code();
    if (input_done) {
        input.join();
        return code;
    }
    // The thread still waits in getline, holding the lock of stdin's stream, and exit() would
    // take that lock to flush every stream: flush ours and end without it (no destructor runs,
    // so the thread's references stay valid).
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
#endif
}

// --reconnect: each attempt resolves the server and connects to it. Binding the handler's
// cancellation slot to the connect lets the client cancel an attempt (close(), connect_timeout);
// done.cancelled() catches a cancellation that came before the connect started.
reconnecting_type::connect_function connector(asio::io_context& io, const arguments& args) {
    return [&io, host = args.host, port = args.port](heartbeat::connect_handler<tcp::socket> done) {
        auto resolver = std::make_shared<tcp::resolver>(io);
        resolver->async_resolve(
            host, port,
            [&io, resolver, done = std::move(done)](std::error_code ec, auto endpoints) mutable {
                auto socket = std::make_unique<tcp::socket>(io);
                if (!ec && done.cancelled()) // cancelled while resolving: the slot was not bound
                    ec = asio::error::operation_aborted;
                if (ec)
                    return done(ec, std::move(*socket));
                tcp::socket& s = *socket;
                const auto slot = done.get_cancellation_slot();
                asio::async_connect(
                    s, endpoints,
                    asio::bind_cancellation_slot(
                        slot, [socket = std::move(socket), done = std::move(done)](
                                  std::error_code ec, const tcp::endpoint&) mutable {
                            done(ec, std::move(*socket));
                        }));
            });
    };
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: echo_client [--host H] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--crlf] [--silent] [--reconnect]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.silent ? 0 : args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    opts.answer_pings = !args.silent;
    heartbeat::line_framing::config framing_config;
    if (args.crlf)
        framing_config.line_ending = "\r\n";

#if defined(ASIO_HAS_POSIX_STREAM_DESCRIPTOR)
    // A closed standard input reads as an empty one. Left closed, the next descriptor opened
    // (the io_context's) would take its number and be read as input.
    if (::fcntl(STDIN_FILENO, F_GETFD) == -1)
        ::open("/dev/null", O_RDONLY);
#endif
    if (const heartbeat::invalid_setting bad = opts.first_invalid())
        return fail(std::string("heartbeat::options::") + bad.field + ": " + bad.reason);
    const heartbeat::line_framing framing(framing_config);

    asio::io_context io;
    if (args.reconnect) {
        // Backoff defaults: 1 s, x1.6, up to 120 s, full jitter; never gives up.
        return run(io, reconnecting_type(io.get_executor(), connector(io, args),
                                         heartbeat::reconnect_options(), opts, framing));
    }
    std::error_code ec;
    const auto endpoints = tcp::resolver(io).resolve(args.host, args.port, ec);
    if (ec)
        return fail("resolve: " + ec.message());
    tcp::socket socket(io);
    asio::connect(socket, endpoints, ec);
    if (ec)
        return fail("connect: " + ec.message());
    return run(io, session_type(std::move(socket), opts, framing));
}
