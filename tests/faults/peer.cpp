// hbt_fault_peer: the far end of the fault tests, run as a separate process (and, for the
// network namespace tests, inside another namespace) so that the tests can freeze it, kill it
// or cut its host off. Line framing on the wire.
//
//   hbt_fault_peer MODE HOST PORT [INTERVAL_MS [MAX_MS]]
//
//   heartbeat  a healthy heartbeat_session: PINGs every INTERVAL_MS, answers PINGs, reads and
//              drops every frame; ends when the connection does
//   deaf       sends "PING\n" every INTERVAL_MS and never reads (a 4 KiB receive buffer), so
//              it looks alive while the other side's writes pile up
//   slowloris  sends one byte of a line that never ends every INTERVAL_MS; reads and drops
//   halfclose  sends "hello\n", shuts down its sending side, reads until EOF
//   reset      sends half a line, waits INTERVAL_MS, closes with SO_LINGER 0 (an RST)
//   flood      writes "PING\n" as fast as the socket takes it, never reads
//   echo-server  listens on HOST:PORT (SO_REUSEADDR: a restarted server takes the port back)
//              and runs a heartbeat_session per connection that PINGs every INTERVAL_MS,
//              judges nobody and echoes every line: the server of the reconnect tests
//
// Every mode exits by itself after MAX_MS (default 20000) at the latest.
#include <heartbeat/heartbeat.hpp>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct config {
    std::string mode;
    std::string host;
    int port = 0;
    int interval_ms = 50;
    int max_ms = 20000;
};

int connect_raw(const config& c, int rcvbuf) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<unsigned short>(c.port));
    if (::inet_pton(AF_INET, c.host.c_str(), &addr.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

/// Waits up to `ms` for input and reads what is there; false on EOF or error.
bool drain_for(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, ms);
    if (r <= 0)
        return r == 0;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0;
}

int run_heartbeat(const config& c) {
    using namespace std::chrono_literals;
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    asio::error_code ec;
    socket.connect({asio::ip::make_address(c.host), static_cast<unsigned short>(c.port)}, ec);
    if (ec) {
        std::fprintf(stderr, "peer: connect: %s\n", ec.message().c_str());
        return 2;
    }
    socket.set_option(asio::ip::tcp::no_delay(true));
    heartbeat::options o;
    o.ping_interval = milliseconds(c.interval_ms);
    o.read_timeout = milliseconds(0); // the tests judge us, we judge nobody
    o.write_timeout = milliseconds(0);
    o.max_frame_size = 1024 * 1024;
    o.send_queue_limit = o.receive_queue_limit = 4 * o.max_frame_size;
    auto session =
        std::make_shared<heartbeat::heartbeat_session<asio::ip::tcp::socket>>(std::move(socket), o);
    asio::steady_timer lifetime(ioc, milliseconds(c.max_ms));
    lifetime.async_wait([session](std::error_code e) {
        if (!e)
            session->close();
    });
    struct receiver {
        std::weak_ptr<heartbeat::heartbeat_session<asio::ip::tcp::socket>> s;
        void operator()(std::error_code e, std::string) const {
            if (auto p = s.lock(); p && !e)
                p->async_receive(*this);
        }
    };
    session->async_receive(receiver{session});
    session->async_run([&](std::error_code) { lifetime.cancel(); });
    ioc.run();
    return 0;
}

/// One echo session of run_echo_server: receive a line, send it back, until the session ends.
class echo_session : public std::enable_shared_from_this<echo_session> {
public:
    echo_session(asio::ip::tcp::socket socket, const heartbeat::options& o)
        : session_(std::move(socket), o) {}
    void start() {
        receive();
        session_.async_run([self = shared_from_this()](std::error_code) {});
    }
    void close() { session_.close(); }

private:
    void receive() {
        session_.async_receive([self = shared_from_this()](std::error_code ec, std::string f) {
            if (ec)
                return;
            self->session_.async_send(std::move(f), [self](std::error_code e) {
                if (!e)
                    self->receive();
            });
        });
    }
    heartbeat::heartbeat_session<asio::ip::tcp::socket> session_;
};

int run_echo_server(const config& c) {
    asio::io_context ioc;
    asio::error_code ec;
    asio::ip::tcp::acceptor acceptor(ioc);
    const asio::ip::tcp::endpoint ep{asio::ip::make_address(c.host, ec),
                                     static_cast<unsigned short>(c.port)};
    if (!ec)
        acceptor.open(ep.protocol(), ec);
    if (!ec)
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor.bind(ep, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "peer: listen on %s:%d: %s\n", c.host.c_str(), c.port,
                     ec.message().c_str());
        return 2;
    }
    heartbeat::options o;
    o.ping_interval = milliseconds(c.interval_ms);
    o.read_timeout = milliseconds(0); // the tests judge us, we judge nobody
    std::vector<std::weak_ptr<echo_session>> sessions;
    std::function<void()> accept = [&] {
        acceptor.async_accept([&](std::error_code e, asio::ip::tcp::socket socket) {
            if (e)
                return;
            socket.set_option(asio::ip::tcp::no_delay(true), e);
            auto s = std::make_shared<echo_session>(std::move(socket), o);
            s->start();
            sessions.push_back(s);
            accept();
        });
    };
    accept();
    asio::steady_timer lifetime(ioc, milliseconds(c.max_ms));
    lifetime.async_wait([&](std::error_code) {
        acceptor.close();
        for (auto& w : sessions)
            if (auto s = w.lock())
                s->close();
    });
    ioc.run();
    return 0;
}

int run_raw(const config& c) {
    const int fd = connect_raw(c, c.mode == "deaf" || c.mode == "flood" ? 4096 : 0);
    if (fd < 0) {
        std::perror("peer: connect");
        return 2;
    }
    const auto end = clock_type::now() + milliseconds(c.max_ms);
    const auto left_ms = [&] {
        const auto d = std::chrono::duration_cast<milliseconds>(end - clock_type::now()).count();
        return d > 0 ? static_cast<int>(d) : 0;
    };
    if (c.mode == "deaf") {
        while (left_ms() > 0 && send_all(fd, "PING\n", 5))
            std::this_thread::sleep_for(milliseconds(c.interval_ms));
    } else if (c.mode == "slowloris") {
        auto next = clock_type::now();
        while (left_ms() > 0) {
            if (clock_type::now() >= next) {
                if (!send_all(fd, "x", 1))
                    break;
                next += milliseconds(c.interval_ms);
            }
            const auto wait = std::chrono::duration_cast<milliseconds>(next - clock_type::now());
            if (!drain_for(fd, wait.count() > 0 ? static_cast<int>(wait.count()) : 0))
                break;
        }
    } else if (c.mode == "halfclose") {
        send_all(fd, "hello\n", 6);
        ::shutdown(fd, SHUT_WR);
        while (left_ms() > 0 && drain_for(fd, left_ms()))
            ;
    } else if (c.mode == "reset") {
        send_all(fd, "half-a-li", 9);
        std::this_thread::sleep_for(milliseconds(c.interval_ms));
        const linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (c.mode == "flood") {
        std::string pings;
        for (int i = 0; i < 4096; ++i)
            pings += "PING\n";
        while (left_ms() > 0 && send_all(fd, pings.data(), pings.size()))
            ;
    } else {
        std::fprintf(stderr, "peer: unknown mode %s\n", c.mode.c_str());
        ::close(fd);
        return 2;
    }
    ::close(fd);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s MODE HOST PORT [INTERVAL_MS [MAX_MS]]\n", argv[0]);
        return 2;
    }
    config c;
    c.mode = argv[1];
    c.host = argv[2];
    c.port = std::atoi(argv[3]);
    if (argc > 4)
        c.interval_ms = std::atoi(argv[4]);
    if (argc > 5)
        c.max_ms = std::atoi(argv[5]);
    if (c.mode == "heartbeat")
        return run_heartbeat(c);
    if (c.mode == "echo-server")
        return run_echo_server(c);
    return run_raw(c);
}
