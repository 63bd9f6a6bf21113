// docs/guide.md, "Completion tokens": futures from a thread that does not run the io_context,
// as_tuple in its Asio 1.22 and 1.24+ spellings, and per-operation cancellation through a
// cancellation slot. Run as a test against an echoing peer session.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <tuple>

#include "snippet_support.hpp"

// begin-snippet: as_tuple_spelling
#if ASIO_VERSION >= 102400 // Asio 1.24 (Boost 1.80) moved as_tuple out of experimental
#include <asio/as_tuple.hpp>
using asio::as_tuple;
#else
#include <asio/experimental/as_tuple.hpp>
using asio::experimental::as_tuple;
#endif
// end-snippet: as_tuple_spelling

using session_type = heartbeat::heartbeat_session<asio::ip::tcp::socket>;

void with_futures(asio::io_context& io, session_type& session) {
    // begin-snippet: future
    // Started before the io_context's thread exists, so nothing else touches the session yet.
    std::future<void> run = session.async_run(asio::use_future);
    std::future<void> sent = session.async_send("hello", asio::use_future);
    std::future<std::string> reply = session.async_receive(asio::use_future);
    std::thread thread([&io] { io.run(); });

    sent.get(); // each get() throws std::system_error if its operation failed
    std::cout << "reply: " << reply.get() << "\n";
    session.close(); // the one member safe from any thread
    try {
        run.get(); // a run always ends with a reason, so this throws
    } catch (const std::system_error& e) {
        std::cout << "ended: " << e.code().message() << "\n"; // operation_aborted, after close()
    }
    thread.join();
    // end-snippet: future
}

void with_tuples(session_type& session, std::string& got) {
    // begin-snippet: as_tuple
    // The handler takes one std::tuple of the completion's arguments.
    session.async_receive(as_tuple([&](std::tuple<std::error_code, std::string> result) {
        auto& [ec, frame] = result;
        if (ec)
            std::cout << "no frame: " << ec.message() << "\n";
        else
            got = std::move(frame);
    }));
    // end-snippet: as_tuple
}

void with_cancellation(asio::io_context& io, session_type& session, bool& cancelled) {
    // begin-snippet: cancel
    // Give up waiting for a frame after 100 ms; the session itself runs on.
    asio::cancellation_signal stop_waiting;
    asio::steady_timer timer(io, std::chrono::milliseconds(100));
    timer.async_wait([&](std::error_code ec) {
        if (!ec)
            stop_waiting.emit(asio::cancellation_type::terminal);
    });
    session.async_receive(asio::bind_cancellation_slot(
        stop_waiting.slot(), [&](std::error_code ec, std::string frame) {
            timer.cancel();
            if (ec == asio::error::operation_aborted)
                cancelled = true; // nothing arrived in time
            else if (!ec)
                std::cout << "frame: " << frame << "\n";
        }));
    // end-snippet: cancel
    io.restart();
    io.run_for(std::chrono::milliseconds(500));
}

int main() {
    {
        asio::io_context io;
        auto pair = snippet::loopback_pair(io);
        session_type session(std::move(pair.a));
        session_type peer(std::move(pair.b));
        peer.async_run([](std::error_code) {});
        peer.async_receive([&](std::error_code ec, std::string frame) {
            if (!ec)
                peer.async_send(std::move(frame), [](std::error_code) {});
        });
        with_futures(io, session);
    }
    {
        asio::io_context io;
        auto pair = snippet::loopback_pair(io);
        session_type session(std::move(pair.a));
        session_type peer(std::move(pair.b));
        peer.async_run([](std::error_code) {});
        peer.async_receive([&](std::error_code ec, std::string frame) {
            if (!ec)
                peer.async_send(std::move(frame), [](std::error_code) {});
        });
        session.async_run([](std::error_code) {});
        session.async_send("hello", [](std::error_code) {});
        std::string got;
        with_tuples(session, got);
        snippet::run_until(io, [&] { return !got.empty(); });
        snippet::expect(got == "hello", "as_tuple: the reply");
        session.close();
        peer.close();
        io.restart();
        io.run_for(std::chrono::seconds(2));
    }
    {
        asio::io_context io;
        auto pair = snippet::loopback_pair(io);
        session_type session(std::move(pair.a));
        session_type peer(std::move(pair.b));
        bool run_ended = false;
        session.async_run([&](std::error_code) { run_ended = true; });
        peer.async_run([](std::error_code) {});
        bool cancelled = false;
        with_cancellation(io, session, cancelled);
        snippet::expect(cancelled, "the receive was cancelled");
        snippet::expect(!run_ended, "the session runs on after a cancelled receive");
        std::string late;
        session.async_receive([&](std::error_code, std::string frame) { late = frame; });
        peer.async_send("late", [](std::error_code) {});
        snippet::run_until(io, [&] { return !late.empty(); });
        snippet::expect(late == "late", "a later receive gets the next frame");
        session.close();
        peer.close();
        io.restart();
        io.run_for(std::chrono::seconds(2));
    }
    return snippet::exit_code("guide_tokens");
}
