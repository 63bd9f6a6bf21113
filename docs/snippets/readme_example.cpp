// The README's example: a client that sends one line to a line-echo server on 127.0.0.1:7000,
// prints the echo and ends the session. Kept exactly as the README shows it, so clang-format
// leaves it alone.
// clang-format off
// begin-snippet: example
#include <heartbeat/heartbeat.hpp>
#include <asio.hpp>
#include <iostream>

int main() {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    asio::connect(socket, asio::ip::tcp::resolver(io).resolve("127.0.0.1", "7000"));

    heartbeat::options opts; // PING after 20 s without writing; dead after 30 s without a byte
    heartbeat::heartbeat_session<asio::ip::tcp::socket> session(std::move(socket), opts);
    session.async_run([](std::error_code ec) { std::cout << "ended: " << ec.message() << "\n"; });
    session.async_send("hello", [](std::error_code) {});
    session.async_receive([&](std::error_code ec, std::string frame) {
        if (!ec)
            std::cout << "echo: " << frame << "\n";
        session.close();
    });
    io.run();
}
// end-snippet: example
// clang-format on
