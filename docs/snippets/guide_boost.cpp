// docs/guide.md, "Boost.Asio": the same library over Boost.Asio, through the CMake target
// heartbeat::heartbeat_boost (which defines HEARTBEAT_USE_BOOST_ASIO). Run as a test: one frame
// over loopback.
// begin-snippet: boost
#include <heartbeat/heartbeat.hpp> // HEARTBEAT_USE_BOOST_ASIO: error_code is boost::system's

#include <boost/asio.hpp>

#include <iostream>

namespace net = boost::asio;
using session_type = heartbeat::heartbeat_session<net::ip::tcp::socket>;

void start(session_type& session) {
    session.async_run([](boost::system::error_code ec) {
        // heartbeat::error compares with boost::system::error_code as with std::error_code.
        std::cout << (ec == heartbeat::error::timeout ? "peer timed out" : ec.message()) << "\n";
    });
}
// end-snippet: boost

#include <string>

int main() {
    net::io_context io;
    net::ip::tcp::acceptor acceptor(io, {net::ip::address_v4::loopback(), 0});
    net::ip::tcp::socket socket(io);
    socket.connect(acceptor.local_endpoint());
    session_type a(std::move(socket)), b(acceptor.accept());
    start(a);
    start(b);
    std::string got;
    a.async_send("boost", [](heartbeat::error_code) {});
    b.async_receive([&](heartbeat::error_code, std::string frame) {
        got = std::move(frame);
        a.close();
        b.close();
    });
    io.run_for(std::chrono::seconds(10));
    if (got != "boost")
        return 1;
    return 0;
}
