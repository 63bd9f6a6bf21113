// docs/guide.md, "A session's life": an echo server whose connections own their sessions and
// live as long as one of their handlers is pending. Run as a test: one client, one echo.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "snippet_support.hpp"

// begin-snippet: server
using tcp = asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

// One connection. Each pending handler holds a shared_ptr to it, so it lives exactly as long as
// its session has something in flight, and it is freed after the session ended.
struct connection : std::enable_shared_from_this<connection> {
    connection(tcp::socket socket, const heartbeat::options& opts)
        : session(std::move(socket), opts) {}

    void start() {
        session.async_run([self = shared_from_this()](std::error_code ec) {
            std::cout << "session ended: " << ec.message() << "\n";
        });
        receive();
    }

    // One frame at a time: while a client does not read its echoes, our send waits, what it
    // sends meanwhile is held up to receive_queue_limit, and then TCP pushes back on it.
    void receive() {
        session.async_receive([self = shared_from_this()](std::error_code ec, std::string frame) {
            if (ec)
                return; // the session ended: async_run's handler has the reason
            self->session.async_send(std::move(frame), [self](std::error_code ec) {
                if (!ec)
                    self->receive();
            });
        });
    }

    session_type session;
};

void accept(tcp::acceptor& acceptor, const heartbeat::options& opts) {
    acceptor.async_accept([&acceptor, opts](std::error_code ec, tcp::socket socket) {
        if (ec)
            return; // the acceptor was closed
        std::make_shared<connection>(std::move(socket), opts)->start();
        accept(acceptor, opts);
    });
}
// end-snippet: server

int main() {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    accept(acceptor, heartbeat::options());

    tcp::socket socket(io);
    socket.connect(acceptor.local_endpoint());
    session_type client(std::move(socket));
    std::error_code client_end;
    bool ended = false;
    std::string echo;
    client.async_run([&](std::error_code ec) {
        client_end = ec;
        ended = true;
        acceptor.close(); // no more connections: io.run() returns once the server session ends
    });
    client.async_send("hello", [](std::error_code) {});
    client.async_receive([&](std::error_code ec, std::string frame) {
        snippet::expect(!ec, "the echo arrives");
        echo = std::move(frame);
        client.close();
    });
    io.run_for(std::chrono::seconds(10));
    snippet::expect(ended && client_end == asio::error::operation_aborted, "the client closed");
    snippet::expect(echo == "hello", "the echo is the frame");
    snippet::expect(io.stopped(), "nothing is left pending");
    return snippet::exit_code("guide_lifecycle");
}
