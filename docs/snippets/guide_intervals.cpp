// docs/guide.md, "Choosing intervals and timeouts": options for a connection through NATs and
// load balancers, and for a data-centre link with the RTT-adaptive deadline. Run as a test: the
// options validate, and the second set, scaled down, detects a frozen peer well within
// read_timeout.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <string_view>

#include "snippet_support.hpp"

heartbeat::options through_nat() {
    // begin-snippet: nat
    // Keep NAT and load-balancer entries alive: PING well inside the shortest idle timeout on
    // the path (Azure's 4 min default is a common floor; home routers may be shorter), and
    // allow the peer's PING interval, a round trip and a retransmission or two before a verdict.
    heartbeat::options opts;
    opts.ping_interval = std::chrono::seconds(25);
    opts.read_timeout = std::chrono::seconds(60);  // the peer's ping_interval is 25 s too
    opts.write_timeout = std::chrono::seconds(30); // mobile uplinks stall for seconds
    // end-snippet: nat
    return opts;
}

heartbeat::options data_centre() {
    // begin-snippet: lan
    // Stable sub-millisecond round trips: the deadline may tighten to the peer's actual rhythm
    // (its longest recent gap + 4 x (smoothed RTT + 4 x RTT variance)), never below the floor
    // and never beyond read_timeout, which stays the bound while the RTT is unknown.
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(500);
    opts.read_timeout = std::chrono::seconds(5);
    opts.adaptive_read_timeout_floor = std::chrono::milliseconds(750);
    // end-snippet: lan
    return opts;
}

int main() {
    through_nat().validate();
    data_centre().validate();

    // Both sides use data_centre(), ten times faster. One side then freezes (stops answering
    // and pinging): the other must notice well before read_timeout (500 ms).
    auto fast = [](heartbeat::options o) {
        o.ping_interval /= 10;
        o.read_timeout /= 10;
        o.adaptive_read_timeout_floor /= 10;
        return o;
    };
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    heartbeat::heartbeat_session<asio::ip::tcp::socket> watcher(std::move(pair.a),
                                                                fast(data_centre()));
    std::error_code reason;
    bool ended = false;
    watcher.async_run([&](std::error_code ec) {
        reason = ec;
        ended = true;
    });
    // The peer: a raw socket that answers PINGs and PINGs every 200 ms itself, for 1.5 s.
    asio::ip::tcp::socket& peer = pair.b;
    asio::steady_timer ticker(io);
    const auto freeze_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    std::function<void()> tick = [&] {
        if (std::chrono::steady_clock::now() >= freeze_at)
            return;
        asio::write(peer, asio::buffer("PING\n", 5));
        ticker.expires_after(std::chrono::milliseconds(200));
        ticker.async_wait([&](std::error_code ec) {
            if (!ec)
                tick();
        });
    };
    std::array<char, 256> in{};
    std::function<void()> answer = [&] {
        peer.async_read_some(asio::buffer(in), [&](std::error_code ec, std::size_t n) {
            if (ec || std::chrono::steady_clock::now() >= freeze_at)
                return;
            for (std::size_t i = 0; i + 4 <= n; ++i)
                if (std::string_view(in.data() + i, 4) == "PING")
                    asio::write(peer, asio::buffer("PONG\n", 5));
            answer();
        });
    };
    tick();
    answer();
    snippet::run_until(io, [&] { return ended; });
    const auto silent = watcher.statistics().since_last_receive;
    snippet::expect(reason == heartbeat::error::timeout, "the frozen peer timed out");
    snippet::expect(silent < std::chrono::milliseconds(400),
                    "the adaptive deadline fired before read_timeout (500 ms)");
    return snippet::exit_code("guide_intervals");
}
