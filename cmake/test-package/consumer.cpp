// A consumer of heartbeat: two sessions over loopback exchange one frame. Exits 0 when it
// arrived and the headers are the expected version. Built for standalone Asio, or for
// Boost.Asio when linked to heartbeat::heartbeat_boost.
#include <heartbeat/heartbeat.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio.hpp>
namespace asio = boost::asio;
const char* const backend = "Boost.Asio";
#else
#include <asio.hpp>
const char* const backend = "standalone Asio";
#endif

#if defined(HEARTBEAT_EXPECT_BOOST_ASIO) && !defined(HEARTBEAT_USE_BOOST_ASIO)
#error "heartbeat::heartbeat_boost did not define HEARTBEAT_USE_BOOST_ASIO"
#endif

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
    a.async_run([](heartbeat::error_code) {});
    b.async_run([](heartbeat::error_code) {});
    b.async_send("hello", [](heartbeat::error_code) {});
    a.async_receive([&](heartbeat::error_code, std::string frame) {
        received = std::move(frame);
        a.close();
        b.close();
    });
    io.run_for(std::chrono::seconds(5));

    std::cout << "heartbeat " << HEARTBEAT_VERSION << " over " << backend << ": received '"
              << received << "'\n";
    return received == "hello" ? 0 : 1;
}
