// docs/guide.md and README.md, "Reconnecting": a resilient client with reconnecting_client. Run as
// a test: an in-process server takes the first connection, reads one line and drops the
// connection (a restart, as the client sees it); the client reconnects after its backoff and the
// line sent meanwhile arrives over the second connection.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "snippet_support.hpp"

// begin-snippet: connector
using tcp = asio::ip::tcp;
using client_type = heartbeat::reconnecting_client<tcp::socket>;

// One attempt: resolve, connect, hand the socket over. Binding the handler's cancellation slot
// to the connect lets the client cancel an attempt (close(), connect_timeout).
client_type::connect_function tcp_connector(asio::io_context& io, std::string host,
                                            std::string port) {
    return [&io, host, port](heartbeat::connect_handler<tcp::socket> done) {
        auto socket = std::make_unique<tcp::socket>(io);
        std::error_code ec;
        const auto endpoints = tcp::resolver(io).resolve(host, port, ec);
        if (ec)
            return done(ec, std::move(*socket));
        tcp::socket& s = *socket;
        const auto slot = done.get_cancellation_slot();
        asio::async_connect(s, endpoints,
                            asio::bind_cancellation_slot(
                                slot, [socket = std::move(socket), done = std::move(done)](
                                          std::error_code ec, const tcp::endpoint&) mutable {
                                    done(ec, std::move(*socket));
                                }));
    };
}
// end-snippet: connector

// A server that drops its first connection after one line, then keeps the second.
struct dropping_server {
    explicit dropping_server(asio::io_context& io)
        : acceptor(io, {asio::ip::address_v4::loopback(), 0}) {
        accept();
    }
    void accept() {
        acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
            if (ec)
                return;
            auto s = std::make_shared<tcp::socket>(std::move(socket));
            auto buffer = std::make_shared<std::string>();
            const bool drop = ++accepted == 1;
            read(s, buffer, drop);
            if (drop)
                accept();
        });
    }
    void read(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::string> buffer, bool drop) {
        asio::async_read_until(*s, asio::dynamic_buffer(*buffer), '\n',
                               [this, s, buffer, drop](std::error_code ec, std::size_t n) {
                                   if (ec)
                                       return;
                                   lines.push_back(buffer->substr(0, n - 1));
                                   buffer->erase(0, n);
                                   if (drop)
                                       s->close(); // the "restart"
                                   else
                                       read(s, buffer, drop);
                               });
    }
    tcp::acceptor acceptor;
    int accepted = 0;
    std::vector<std::string> lines;
};

int main() {
    asio::io_context io;
    dropping_server server(io);
    const std::string port = std::to_string(server.acceptor.local_endpoint().port());
    bool stopped = false;
    // begin-snippet: client
    heartbeat::reconnect_options ro; // waits of up to 1 s, x1.6, up to 120 s; never gives up
    client_type client(io.get_executor(), tcp_connector(io, "127.0.0.1", port), ro);
    client.set_observer([](const heartbeat::reconnect_event& e) {
        std::cout << heartbeat::to_string(e.what);
        if (e.what == heartbeat::reconnect_event::kind::backing_off)
            std::cout << " " << e.delay.count() << " ms";
        std::cout << (e.error ? ": " + e.error.message() : "") << "\n";
    });
    client.async_run([&](std::error_code ec) {
        std::cout << "stopped: " << ec.message() << "\n";
        stopped = true;
    });
    client.async_send("hello", [](std::error_code) {}); // queued until connected
    // end-snippet: client
    snippet::expect(snippet::run_until(io, [&] { return server.lines.size() == 1; }),
                    "the first line arrived");
    snippet::expect(snippet::run_until(io, [&] { return !client.connected(); }),
                    "the client saw the connection drop");
    client.async_send("sent while disconnected",
                      [](std::error_code ec) { snippet::expect(!ec, "the queued line was sent"); });
    snippet::expect(snippet::run_until(io, [&] { return server.lines.size() == 2; }),
                    "the queued line arrived after the reconnect");
    snippet::expect(server.accepted == 2, "two connections");
    snippet::expect(server.lines.size() == 2 && server.lines[1] == "sent while disconnected",
                    "the lines, in order");
    client.close();
    snippet::expect(snippet::run_until(io, [&] { return stopped; }), "the client stopped");
    return snippet::exit_code("guide_reconnect");
}
