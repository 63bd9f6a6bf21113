// docs/guide.md, "Health and statistics": a health observer that prepares a standby connection
// when the peer turns suspect, and statistics logged when the session ends. Run as a test: a
// raw peer talks for 300 ms, then falls silent; the observer hears "suspect" before the end.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <iostream>

#include "snippet_support.hpp"

using session_type = heartbeat::heartbeat_session<asio::ip::tcp::socket>;

bool standby_started = false;
void start_standby_connection() {
    standby_started = true;
}

void watch(session_type& session) {
    // begin-snippet: observer
    // Make before break: the peer is silent for half of read_timeout (or a PONG is late), so
    // open a second connection now, while there is still time to move over without a gap.
    session.set_health_observer([](heartbeat::health h) {
        // Called from inside the session's handlers: start work, never block.
        std::cout << "peer " << heartbeat::to_string(h) << "\n";
        if (h == heartbeat::health::suspect)
            start_standby_connection();
    });
    // end-snippet: observer
}

// begin-snippet: statistics
// From async_run's handler: statistics() still answers after the end.
void log_end(const session_type& session, std::error_code ec) {
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    using std::chrono::milliseconds;
    const heartbeat::statistics s = session.statistics();
    std::cout << "ended: " << ec.message() << "\n"
              << "  PINGs sent " << s.pings_sent << ", PONGs received " << s.pongs_received
              << ", smoothed RTT " << duration_cast<microseconds>(s.smoothed_rtt).count()
              << " us (variance " << duration_cast<microseconds>(s.rtt_variance).count() << " us)\n"
              << "  frames in/out " << s.frames_received << "/" << s.frames_sent
              << ", bytes in/out " << s.bytes_received << "/" << s.bytes_sent << "\n"
              << "  last byte " << duration_cast<milliseconds>(s.since_last_receive).count()
              << " ms ago, stalls of our own loop " << s.stalls << "\n";
}
// end-snippet: statistics

int main() {
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(100);
    opts.read_timeout = std::chrono::milliseconds(400);
    session_type session(std::move(pair.a), opts);
    watch(session);
    bool ended = false;
    std::error_code reason;
    session.async_run([&](std::error_code ec) {
        log_end(session, ec);
        ended = true;
        reason = ec;
    });

    // The peer: a data line every 50 ms for 300 ms, then silence (it stays connected).
    asio::ip::tcp::socket& peer = pair.b;
    asio::steady_timer ticker(io);
    int lines = 0;
    std::function<void()> tick = [&] {
        if (++lines > 6)
            return;
        asio::write(peer, asio::buffer("data\n", 5));
        ticker.expires_after(std::chrono::milliseconds(50));
        ticker.async_wait([&](std::error_code ec) {
            if (!ec)
                tick();
        });
    };
    tick();
    snippet::run_until(io, [&] { return ended; });
    snippet::expect(standby_started, "suspect was reported before the end");
    snippet::expect(reason == heartbeat::error::timeout, "the silent peer timed out");
    return snippet::exit_code("guide_health");
}
