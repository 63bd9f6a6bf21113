// echo_client: sends each line of standard input to an echo server over a heartbeat session and
// prints what comes back; the session pings the server meanwhile. Exits when the input ended and
// every echo arrived (or 2 s after the input ended), or when the session ends, saying why.
//
//   printf 'hello\nworld\n' | echo_client --port 7000
//   echo_client [--host 127.0.0.1] [--port 7000] [--interval-ms 5000] [--timeout-ms 15000]
//               [--silent]
//
// --silent sends no heartbeat at all (no PING, no PONG): a hung peer, for watching a server drop
// it. --timeout-ms 0 never times the server out, for servers that do not ping.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

class client {
public:
    client(asio::io_context& io, tcp::socket socket, const heartbeat::options& opts)
        : session_(std::move(socket), opts)
        , grace_timer_(io) {}

    void start() {
        session_.async_run([this](std::error_code ec) {
            ended_ = true;
            grace_timer_.cancel();
            const auto stats = session_.statistics();
            if (closing_)
                std::cerr << "session ended: input finished";
            else
                std::cerr << "session ended: " << ec.message();
            std::cerr
                << " (pings sent " << stats.pings_sent << ", pongs received "
                << stats.pongs_received << ", smoothed rtt "
                << std::chrono::duration_cast<std::chrono::microseconds>(stats.smoothed_rtt).count()
                << " us)" << std::endl;
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
            std::cerr << "not sent: " << ec.message() << std::endl; // e.g. the line "PING"
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
        session_.close();
    }

    session_type session_;
    asio::steady_timer grace_timer_;
    std::size_t awaiting_ = 0; // lines sent whose echo has not arrived
    bool input_ended_ = false;
    bool closing_ = false;
    bool ended_ = false;
};

struct arguments {
    std::string host = "127.0.0.1";
    std::string port = "7000";
    long interval_ms = 5000;
    long timeout_ms = 15000;
    bool silent = false;
};

// "--flag value" pairs and --silent; false on --help, an unknown flag or a bad value.
bool parse(int argc, char** argv, arguments& args) {
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--silent") {
            args.silent = true;
            continue;
        }
        if (i + 1 >= argc)
            return false;
        const std::string value = argv[++i];
        try {
            if (flag == "--host")
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
    return true;
}

int main(int argc, char** argv) {
    arguments args;
    if (!parse(argc, argv, args)) {
        std::cerr << "usage: echo_client [--host H] [--port P] [--interval-ms I] "
                     "[--timeout-ms T] [--silent]\n";
        return 2;
    }
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(args.silent ? 0 : args.interval_ms);
    opts.read_timeout = std::chrono::milliseconds(args.timeout_ms);
    opts.answer_pings = !args.silent;

    // Shared with the input thread, which may outlive main's scope (see the end).
    auto io = std::make_shared<asio::io_context>();
    std::unique_ptr<client> c;
    try {
        opts.validate();
        tcp::socket socket(*io);
        asio::connect(socket, tcp::resolver(*io).resolve(args.host, args.port));
        c = std::make_unique<client>(*io, std::move(socket), opts);
    } catch (const std::exception& e) {
        std::cerr << "echo_client: " << e.what() << "\n";
        return 1;
    }
    c->start();

    // Standard input is read by a plain thread that posts each line to the io_context: portable,
    // and it works for terminals, pipes and files alike.
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
    // The session is over, but the input thread may still wait in getline (a terminal, a pipe
    // that stays open). It is not joined: it only posts to the io_context, which its own
    // shared_ptr keeps alive and which never runs again, so the handlers it posts never run.
    input.detach();
    return code;
}
