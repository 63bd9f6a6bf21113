// bare_server: the hand-written reference the library is measured against. A line echo server
// in plain Asio, written the way a competent Asio programmer writes it by hand: a read loop on a
// fixed buffer with a manual newline scan, one steady_timer deadline per connection re-armed
// before every read (`expires_after(timeout)`, which cancels the pending wait), "PING" lines
// answered with "PONG", other lines echoed, one write in flight with the next batch gathering
// behind it. Single-threaded.
//
//   bare_server --port P --timeout-ms T [--log-ends FILE]
//
// With --port 0 it prints the chosen port on stdout once it accepts. --log-ends writes one line
// per closed connection: "<peer-port> <ms since its last byte> <reason>".
#include "bench_common.hpp"

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct config {
    std::chrono::milliseconds timeout{3000};
    std::FILE* log = nullptr;
};

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(tcp::socket socket, const config& cfg)
        : socket_(std::move(socket))
        , deadline_(socket_.get_executor())
        , cfg_(cfg) {
        std::error_code ec;
        peer_port_ = socket_.remote_endpoint(ec).port();
    }

    void start() {
        last_byte_ = clock_type::now();
        read();
        watch();
    }

private:
    void read() {
        deadline_.expires_after(cfg_.timeout); // re-armed per read
        socket_.async_read_some(asio::buffer(in_.data() + in_size_, in_.size() - in_size_),
                                [self = shared_from_this()](std::error_code ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(std::error_code ec, std::size_t n) {
        if (ec)
            return finish(ec == asio::error::eof ? "eof" : "error");
        last_byte_ = clock_type::now();
        in_size_ += n;
        char* const begin = in_.data();
        char* const end = begin + in_size_;
        char* line = begin;
        while (auto* nl = static_cast<char*>(std::memchr(line, '\n', end - line))) {
            std::size_t len = nl - line;
            if (len > 0 && line[len - 1] == '\r')
                --len;
            if (len == 4 && std::memcmp(line, "PING", 4) == 0)
                pending_ += "PONG\n";
            else if (!(len == 4 && std::memcmp(line, "PONG", 4) == 0))
                pending_.append(line, nl + 1);
            line = nl + 1;
        }
        in_size_ = end - line;
        if (in_size_ == in_.size())
            return finish("too_long");
        std::memmove(begin, line, in_size_);
        flush();
        read();
    }

    void flush() {
        if (writing_ || pending_.empty())
            return;
        writing_ = true;
        out_.swap(pending_);
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this()](std::error_code ec, std::size_t) {
                              self->writing_ = false;
                              self->out_.clear();
                              if (ec)
                                  return self->finish("write_error");
                              self->flush();
                          });
    }

    // Asio's own timeout idiom: the wait completes when the deadline passes or when read()
    // moves it (operation_aborted); only a deadline in the past ends the connection.
    void watch() {
        deadline_.async_wait([self = shared_from_this()](std::error_code) {
            if (!self->socket_.is_open())
                return;
            if (self->deadline_.expiry() <= clock_type::now())
                self->finish("timeout");
            else
                self->watch();
        });
    }

    void finish(const char* reason) {
        if (!socket_.is_open())
            return;
        if (cfg_.log) {
            const double ms =
                std::chrono::duration<double, std::milli>(clock_type::now() - last_byte_).count();
            std::fprintf(cfg_.log, "%u %.3f %s\n", peer_port_, ms, reason);
        }
        std::error_code ignored;
        socket_.close(ignored);
        deadline_.cancel();
    }

    tcp::socket socket_;
    asio::steady_timer deadline_;
    const config& cfg_;
    std::array<char, 1024> in_;
    std::size_t in_size_ = 0;
    std::string out_;     // being written
    std::string pending_; // gathers while a write is in flight
    bool writing_ = false;
    clock_type::time_point last_byte_;
    unsigned peer_port_ = 0;
};

void accept(tcp::acceptor& acceptor, const config& cfg) {
    acceptor.async_accept([&acceptor, &cfg](std::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted)
            return;
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<connection>(std::move(socket), cfg)->start();
        }
        accept(acceptor, cfg);
    });
}

} // namespace

int main(int argc, char** argv) {
    bench::flags f(argc, argv, "bare_server --port P --timeout-ms T [--log-ends FILE]");
    const auto port = static_cast<unsigned short>(f.num("port", 0));
    config cfg;
    cfg.timeout = std::chrono::milliseconds(static_cast<long>(f.num("timeout-ms", 3000)));
    const std::string log = f.str("log-ends");
    f.done();
    if (!log.empty()) {
        cfg.log = std::fopen(log.c_str(), "w");
        if (!cfg.log) {
            std::perror(log.c_str());
            return 1;
        }
        std::setvbuf(cfg.log, nullptr, _IOLBF, 0);
    }

    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { io.stop(); });
    accept(acceptor, cfg);
    if (port == 0)
        std::printf("%u\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    io.run();
    if (cfg.log)
        std::fclose(cfg.log);
    return 0;
}
