// Exits 0 when Asio's io_uring backend works here: a timer and a loopback connection complete.
// scripts/test.sh --io-uring runs it first, and skips (saying why) where the kernel refuses
// io_uring (too old, or io_uring_disabled, or a seccomp filter).
#include <asio.hpp>

#include <chrono>
#include <cstdio>

int main() {
    asio::error_code failed;
    int done = 0;
    try {
        asio::io_context io;
        asio::steady_timer timer(io, std::chrono::milliseconds(1));
        timer.async_wait([&](asio::error_code ec) { ec ? void(failed = ec) : void(++done); });
        asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
        asio::ip::tcp::socket server(io), client(io);
        acceptor.async_accept(server,
                              [&](asio::error_code ec) { ec ? void(failed = ec) : void(++done); });
        client.async_connect(acceptor.local_endpoint(),
                             [&](asio::error_code ec) { ec ? void(failed = ec) : void(++done); });
        io.run_for(std::chrono::seconds(5));
    } catch (const std::exception& e) {
        std::printf("io_uring unusable: %s\n", e.what());
        return 1;
    }
    if (done != 3) {
        std::printf("io_uring unusable: %s\n", failed ? failed.message().c_str() : "timed out");
        return 1;
    }
    return 0;
}
