// A consumer of heartbeat: two sessions over loopback exchange one frame. Exits 0 when it
// arrived and the headers are the expected version.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>

int main() {
    using socket_type = asio::ip::tcp::socket;
    if (std::strcmp(HEARTBEAT_VERSION, HEARTBEAT_EXPECTED_VERSION) != 0) {
        std::cerr << "headers are heartbeat " << HEARTBEAT_VERSION << ", expected "
                  << HEARTBEAT_EXPECTED_VERSION << "\n";
        return 1;
    }

    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    socket_type client(io);
    client.connect(acceptor.local_endpoint());

    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(100);
    opts.read_timeout = std::chrono::seconds(2);
    heartbeat::heartbeat_session<socket_type> a(acceptor.accept(), opts);
    heartbeat::heartbeat_session<socket_type> b(std::move(client), opts);

    std::string received;
    a.async_run([](std::error_code) {});
    b.async_run([](std::error_code) {});
    b.async_send("hello", [](std::error_code) {});
    a.async_receive([&](std::error_code, std::string frame) {
        received = std::move(frame);
        a.close();
        b.close();
    });
    io.run_for(std::chrono::seconds(5));

    std::cout << "heartbeat " << HEARTBEAT_VERSION << ": received '" << received << "'\n";
    return received == "hello" ? 0 : 1;
}
