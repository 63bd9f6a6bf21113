// docs/guide.md, "Streaming": try_send and try_receive, frames queued and taken without an
// operation per frame. Run as a test: a client streams 2,000 lines, an echo server drains each
// burst and answers it the same way, and every line comes back in order.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "snippet_support.hpp"

using session_type = heartbeat::heartbeat_session<asio::ip::tcp::socket>;

// begin-snippet: drain
// Echo: wait for one frame, then answer it and every frame already held, with no operation
// per frame. A refusal (send_queue_full: the client does not read its echoes) ends the session.
void echo(std::shared_ptr<session_type> session) {
    session->async_receive([session](std::error_code ec, std::string frame) {
        if (ec)
            return; // the session ended: async_run's handler has the reason
        do {
            if (session->try_send(frame)) {
                session->close();
                return;
            }
        } while (session->try_receive(frame));
        echo(session);
    });
}
// end-snippet: drain

int main() {
    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    auto server = std::make_shared<session_type>(std::move(pair.b));
    server->async_run([server](std::error_code) {});
    echo(server);

    session_type client(std::move(pair.a));
    bool ended = false;
    client.async_run([&](std::error_code) { ended = true; });
    constexpr int count = 2000;
    // begin-snippet: burst
    // 2,000 frames queued at once: each is checked and framed now, and they go out in as few
    // writes as fit, in order with any async_send. No completion says when each is written;
    // an error would end the session, and async_run would say why.
    for (int i = 0; i < count; ++i) {
        if (const std::error_code ec = client.try_send("line " + std::to_string(i))) {
            std::cerr << "not queued: " << ec.message() << "\n"; // e.g. send_queue_full
            break;
        }
    }
    // end-snippet: burst
    int next = 0;
    bool in_order = true;
    std::function<void()> receive = [&] {
        client.async_receive([&](std::error_code ec, std::string frame) {
            if (ec)
                return;
            do
                in_order = in_order && frame == "line " + std::to_string(next++);
            while (client.try_receive(frame));
            if (next < count)
                receive();
            else
                client.close();
        });
    };
    receive();
    snippet::run_until(io, [&] { return ended; });
    io.restart();
    io.run_for(std::chrono::seconds(2));
    snippet::expect(next == count && in_order, "2,000 echoes, in order");
    snippet::expect(client.statistics().frames_sent == count, "frames_sent counts try_send");
    return snippet::exit_code("guide_streaming");
}
