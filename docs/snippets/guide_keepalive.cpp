// docs/guide.md, "TCP keepalive": the kernel's half of the picture, beside the heartbeat. Run as
// a test on a loopback socket.
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/tcp_keepalive.hpp>

#include <asio.hpp>

#include <chrono>
#include <iostream>

#include "snippet_support.hpp"

void configure(asio::ip::tcp::socket& socket) {
    // begin-snippet: keepalive
    // Probes after 60 s of silence, every 10 s, 3 unanswered ones drop the connection; data
    // unacknowledged for 30 s drops it too (Linux). The heartbeat still watches the peer.
    heartbeat::tcp_keepalive_options keepalive;
    keepalive.idle = std::chrono::seconds(60);
    keepalive.interval = std::chrono::seconds(10);
    keepalive.probes = 3;
    keepalive.user_timeout = std::chrono::seconds(30);
    std::error_code ec;
    const heartbeat::tcp_keepalive_result applied =
        heartbeat::set_tcp_keepalive(socket, keepalive, ec);
    if (ec)
        std::cerr << "keepalive: " << ec.message() << "\n";
    else if (!applied.user_timeout)
        std::cerr << "keepalive: no TCP_USER_TIMEOUT on this platform\n";
    // end-snippet: keepalive
    snippet::expect(!ec && applied.keepalive, "keepalive applied");
}

int main() {
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    configure(pair.a);
    asio::socket_base::keep_alive on;
    pair.a.get_option(on);
    snippet::expect(on.value(), "SO_KEEPALIVE is set");
    return snippet::exit_code("guide_keepalive");
}
