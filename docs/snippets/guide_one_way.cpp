// docs/guide.md, "One-directional setups": only one side PINGs. Run as a test: each pair of
// option sets, 100 times faster, keeps an idle connection alive with PINGs from one side only.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <utility>

#include "snippet_support.hpp"

std::pair<heartbeat::options, heartbeat::options> server_pings() {
    // begin-snippet: server_pings
    // The server PINGs; clients only answer. Their PONGs feed the server's read deadline, and
    // the server's PINGs feed the clients'.
    heartbeat::options server;
    server.ping_interval = std::chrono::seconds(20);
    server.read_timeout = std::chrono::seconds(30);
    server.max_unanswered_pings = 2; // also drop a client that talks but no longer reads

    heartbeat::options client;
    client.ping_interval = std::chrono::seconds(0); // never PING
    client.read_timeout = std::chrono::seconds(45); // > the server's ping_interval + a round trip
    // end-snippet: server_pings
    return {server, client};
}

std::pair<heartbeat::options, heartbeat::options> client_pings() {
    // begin-snippet: client_pings
    // The client PINGs (a mobile client decides when its radio wakes up); the server only
    // answers. The PONGs come a round trip after each PING, so both deadlines are fed.
    heartbeat::options client;
    client.ping_interval = std::chrono::seconds(60);
    client.read_timeout = std::chrono::seconds(150);

    heartbeat::options server;
    server.ping_interval = std::chrono::seconds(0);
    server.read_timeout = std::chrono::seconds(150); // > the client's ping_interval + a round trip
    // end-snippet: client_pings
    return {client, server};
}

heartbeat::options faster(heartbeat::options o, int by) {
    o.ping_interval /= by;
    o.read_timeout /= by;
    return o;
}

// Runs an idle pair for `span`; the pinging side must have PINGed, the other must not have,
// and neither may have ended.
void idle_pair(std::pair<heartbeat::options, heartbeat::options> opts, int by,
               std::chrono::milliseconds span) {
    using session_type = heartbeat::heartbeat_session<asio::ip::tcp::socket>;
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    session_type pinger(std::move(pair.a), faster(opts.first, by));
    session_type answerer(std::move(pair.b), faster(opts.second, by));
    int ended = 0;
    pinger.async_run([&](std::error_code) { ++ended; });
    answerer.async_run([&](std::error_code) { ++ended; });
    io.run_for(span);
    snippet::expect(ended == 0, "an idle one-way pair stays up");
    snippet::expect(pinger.statistics().pings_sent >= 2, "the pinging side pings");
    snippet::expect(answerer.statistics().pings_sent == 0, "the other side never pings");
    snippet::expect(answerer.statistics().pongs_sent >= 2, "the other side answers");
    pinger.close();
    answerer.close();
    io.restart();
    io.run_for(std::chrono::seconds(5));
}

int main() {
    server_pings().first.validate();
    server_pings().second.validate();
    client_pings().first.validate();
    client_pings().second.validate();
    idle_pair(server_pings(), 100, std::chrono::milliseconds(1200));
    idle_pair(client_pings(), 100, std::chrono::milliseconds(2500));
    return snippet::exit_code("guide_one_way");
}
