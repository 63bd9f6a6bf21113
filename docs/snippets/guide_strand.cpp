// docs/guide.md, "Threads and strands": an echo server on a two-thread io_context, each session
// on a strand of its own. Run as a test: a client's 200 lines come back in order, and close()
// from the main thread ends it.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "snippet_support.hpp"

using tcp = asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;

void echo(std::shared_ptr<session_type> session) {
    session->async_receive([session](std::error_code ec, std::string frame) {
        if (ec)
            return;
        session->async_send(std::move(frame), [session](std::error_code ec) {
            if (!ec)
                echo(session);
        });
    });
}

// begin-snippet: accept
void accept(tcp::acceptor& acceptor) {
    // The socket, and so the session, gets a strand of its own: the session's handlers, and
    // yours (they run on the session's executor unless you bind them elsewhere), never run
    // concurrently, while different sessions spread over the threads.
    auto strand = asio::make_strand(acceptor.get_executor());
    acceptor.async_accept(strand, [&acceptor](std::error_code ec, tcp::socket socket) {
        if (ec)
            return;
        auto session = std::make_shared<session_type>(std::move(socket));
        // This handler runs on the acceptor's executor, not on the new strand: enter the
        // strand before touching the session.
        asio::dispatch(session->get_executor(), [session] {
            session->async_run([session](std::error_code) {});
            echo(session);
        });
        accept(acceptor);
    });
}
// end-snippet: accept

int main() {
    asio::io_context io(2);
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    accept(acceptor);

    auto strand = asio::make_strand(io);
    tcp::socket socket(strand);
    socket.connect(acceptor.local_endpoint());
    auto client = std::make_shared<session_type>(std::move(socket));
    constexpr int count = 200;
    std::promise<bool> in_order;
    std::promise<std::error_code> ended;
    auto next = std::make_shared<int>(0);
    std::function<void()> receive = [&, client, next] {
        client->async_receive([&, next](std::error_code ec, std::string frame) {
            if (ec)
                return;
            if (frame != "line " + std::to_string(*next)) {
                in_order.set_value(false);
                return;
            }
            if (++*next == count) {
                in_order.set_value(true);
                return;
            }
            receive();
        });
    };
    asio::post(strand, [&] {
        client->async_run([&](std::error_code ec) { ended.set_value(ec); });
        for (int i = 0; i < count; ++i)
            client->async_send("line " + std::to_string(i), [](std::error_code) {});
        receive();
    });
    std::thread t1([&] { io.run(); }), t2([&] { io.run(); });
    auto order = in_order.get_future();
    auto end = ended.get_future();
    const bool ok = order.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    snippet::expect(ok && order.get(), "200 echoes, in order");
    client->close(); // the one member that is safe from any thread
    snippet::expect(end.wait_for(std::chrono::seconds(10)) == std::future_status::ready &&
                        end.get() == asio::error::operation_aborted,
                    "close() from another thread ends the run");
    asio::post(io, [&] { acceptor.close(); });
    t1.join();
    t2.join();
    return snippet::exit_code("guide_strand");
}
