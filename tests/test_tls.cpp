// heartbeat_session over asio::ssl::stream<tcp::socket> (OpenSSL, a self-signed certificate made
// at run time): frames and heartbeats through TLS, and the end of a TLS session. Ending a live
// session says goodbye with a close_notify and waits for the peer's, at most shutdown_timeout;
// a dead or stuck peer (timeout, write_timeout) or a broken transport gets no goodbye at all, so
// the end is never held up by a peer that cannot answer.
//
// How a peer tells a goodbye from a dropped connection: its read ends with asio::error::eof after
// a close_notify, with asio::ssl::error::stream_truncated when the TCP connection ended without
// one. Sessions here are the TLS server and their scripted peers the client, which writes
// nothing after its handshake: the session never closes a socket with unread bytes (that would
// be an RST), so each peer sees exactly one of the two.
#include "tls_support.hpp"

#if defined(HEARTBEAT_USE_BOOST_ASIO) // see net.hpp
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif
#else
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#if defined(ASIO_HAS_CO_AWAIT)
#define HBT_HAS_CO_AWAIT 1
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#endif
#endif

#include <optional>

using namespace hbt;

namespace {

/// Options for the end-of-session tests: heartbeats on, no deadline that could end the session
/// by itself before the test does, and a shutdown_timeout far above any slack, so that waiting
/// for it shows.
heartbeat::options tls_end_options() {
    heartbeat::options o = test_options();
    o.ping_interval = 30ms;
    o.read_timeout = 0ms;
    o.write_timeout = 0ms;
    o.shutdown_timeout = 3s;
    return o;
}

/// How long a close answered at once by a live peer may take: a few loopback round trips.
long long prompt() {
    return ms(late_slack());
}

/// Echoes every frame `s` receives, until the session ends.
template <class Session>
void echo(const std::shared_ptr<Session>& s) {
    s->async_receive([s](error_code ec, std::string frame) {
        if (ec)
            return;
        s->async_send(std::move(frame), [s](error_code send_ec) {
            if (!send_ec)
                echo(s);
        });
    });
}

} // namespace

TEST_CASE("the test certificate verifies as localhost and as nothing else", "[tls][support]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    {
        auto good = tls_pair(ioc); // REQUIREs both handshakes to succeed
        CHECK(SSL_get_verify_result(good.client.native_handle()) == X509_V_OK);
        CHECK(SSL_version(good.client.native_handle()) >= TLS1_2_VERSION);
    }
    auto tcp = tcp_pair(ioc);
    tls_streams bad{tls_client_stream(std::move(tcp.a), "example.com"),
                    tls_stream(std::move(tcp.b), tls().server)};
    const handshake_result r = handshake(ioc, bad);
    REQUIRE(r.done);
    CHECK(r.client); // certificate verify failed: wrong host
    CHECK(r.client.category() == asio::error::get_ssl_category());
}

TEST_CASE("frames echo both ways over TLS while heartbeats flow, and close says goodbye",
          "[tls][session]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 20ms;
    // Fifteen intervals: both sessions share one loop, and a late timer delays one side's PING
    // while the other's read deadline is due.
    o.read_timeout = 300ms;
    o.shutdown_timeout = 3s;
    // The client side's session sends; the server side's echoes.
    auto a = std::make_shared<tls_session>(std::move(tls.client), o);
    auto b = std::make_shared<tls_session>(std::move(tls.server), o);
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b->async_run(run_b.handler());
    echo(b);
    collector<tls_session> got(a);

    // Sizes around one TLS record (16 KiB) and several, so frames span records both ways.
    std::vector<std::string> sent;
    for (std::size_t size : {1u, 100u, 16383u, 16384u, 16385u, 50000u, 0u, 7u})
        sent.push_back(pattern(size, static_cast<unsigned>(sent.size())));
    for (const auto& f : sent)
        a->async_send(f, [](error_code) {});
    REQUIRE(run_until(ioc, [&] { return got.size() == sent.size() || run_a.done(); }));
    CHECK(got.frames() == sent);

    // Then quiet for several intervals: heartbeats alone keep both alive, through TLS.
    run_for(ioc, 300ms, [&] { return run_a.done() || run_b.done(); });
    CHECK_FALSE(run_a.done());
    CHECK_FALSE(run_b.done());
    const auto sa = a->statistics();
    const auto sb = b->statistics();
    CHECK(sa.pings_received + sa.pongs_received >= 3u);
    CHECK(sb.pings_received + sb.pongs_received >= 3u);

    const auto t0 = clock::now();
    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_a.ec() == asio::error::operation_aborted);
    // eof, not stream_truncated: a's close_notify reached b, and b answered with its own.
    CHECK(run_b.ec() == asio::error::eof);
    INFO("close with a live peer session took " << ms_between(t0, run_a.when()) << " ms");
    CHECK(ms_between(t0, run_a.when()) <= prompt());
    CHECK_FALSE(a->next_layer().lowest_layer().is_open());
    CHECK_FALSE(b->next_layer().lowest_layer().is_open());
}

TEST_CASE("a frozen TLS peer is timed out at read_timeout and dropped without a goodbye",
          "[tls][session][liveness]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 30ms;
    o.read_timeout = 150ms;
    o.shutdown_timeout = 3s;              // waiting for it would show: 3 s instead of ~150 ms
    tls_peer peer(std::move(tls.client)); // handshake done, then nothing at all
    tls_session s(std::move(tls.server), o);
    outcome run;
    const auto t0 = clock::now();
    s.async_run(run.handler());

    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::timeout);
    const long long elapsed = ms_between(t0, run.when());
    INFO("timed out and closed after " << elapsed << " ms");
    CHECK(elapsed >= not_before(o.read_timeout));
    CHECK(elapsed <= not_much_after(o.read_timeout));
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());

    // The peer wakes up: it finds the session's PINGs, then a TCP end without a close_notify.
    peer.start_reading(false);
    REQUIRE(run_until(ioc, [&] { return peer.read_ended(); }));
    CHECK(peer.read_error() == asio::ssl::error::stream_truncated);
    CHECK(s.statistics().pings_sent >= 2u);
    CHECK(count_of(peer.received(), "PING\n") == s.statistics().pings_sent);
}

TEST_CASE("close() with a live TLS peer sends close_notify and ends when the peer answers",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    const heartbeat::options o = tls_end_options();
    tls_peer peer(std::move(tls.client));
    peer.start_reading(true); // answers a close_notify with its own
    tls_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    s.async_send("bye soon", [](error_code) {});
    run_for(ioc, 100ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    s.close();
    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending"));
    REQUIRE(ended);
    CHECK(run.ec() == asio::error::operation_aborted);
    const long long elapsed = ms_between(t0, run.when());
    INFO("close with a live peer took " << elapsed << " ms (shutdown_timeout "
                                        << ms(o.shutdown_timeout) << " ms)");
    CHECK(elapsed <= prompt());                   // the answer ended it, not shutdown_timeout
    CHECK(peer.read_error() == asio::error::eof); // a close_notify came
    CHECK(peer.shutdown_error() == error_code()); // and the session received the answer
    CHECK(peer.received().rfind("bye soon\n", 0) == 0);
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());
}

TEST_CASE("close() with a dead TLS peer gives up waiting for its close_notify after "
          "shutdown_timeout",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = tls_end_options();
    o.shutdown_timeout = 100ms;
    // Frozen after its handshake, its socket open: our close_notify goes into its kernel buffer
    // and nothing ever comes back, not even an error.
    tls_peer peer(std::move(tls.client));
    tls_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    run_for(ioc, 100ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    const long long elapsed = ms_between(t0, run.when());
    INFO("close with a dead peer took " << elapsed << " ms (shutdown_timeout "
                                        << ms(o.shutdown_timeout) << " ms)");
    CHECK(elapsed >= not_before(o.shutdown_timeout));
    CHECK(elapsed <= not_much_after(o.shutdown_timeout));
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());

    // The close_notify was sent before the session gave up on the answer.
    peer.start_reading(false);
    REQUIRE(run_until(ioc, [&] { return peer.read_ended(); }));
    CHECK(peer.read_error() == asio::error::eof);
}

TEST_CASE("shutdown_timeout 0 closes a TLS session at once", "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = tls_end_options();
    o.shutdown_timeout = 0ms;
    tls_peer peer(std::move(tls.client)); // would never answer
    tls_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
    const long long elapsed = ms_between(t0, run.when());
    INFO("closed after " << elapsed << " ms");
    CHECK(elapsed <= prompt());
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());
    // No goodbye is waited for; whether one was sent, the peer sees the end.
    peer.start_reading(false);
    REQUIRE(run_until(ioc, [&] { return peer.read_ended(); }));
    CHECK((peer.read_error() == asio::error::eof ||
           peer.read_error() == asio::ssl::error::stream_truncated));
}

TEST_CASE("the peer's close_notify ends a TLS session with eof, and the session answers it",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = tls_end_options();
    // Nothing in flight towards the peer when it says goodbye: OpenSSL's SSL_shutdown fails
    // with "application data after close notify" on data that crossed its close_notify, and
    // asio's async_shutdown is SSL_shutdown until it returns 1.
    o.ping_interval = 0ms;
    tls_peer peer(std::move(tls.client));
    tls_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    peer.shutdown(); // close_notify, then waits for the session's
    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending"));
    REQUIRE(ended);
    CHECK(run.ec() == asio::error::eof);
    INFO("session ended after " << ms_between(t0, run.when()) << " ms, the peer's shutdown after "
                                << ms_between(t0, peer.shutdown_end()) << " ms");
    CHECK(ms_between(t0, run.when()) <= prompt());
    // Without the session's answer the peer would see stream_truncated (or wait forever).
    CHECK(peer.shutdown_error() == error_code());
    CHECK(ms_between(t0, peer.shutdown_end()) <= prompt());
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());
}

TEST_CASE("a TCP end without close_notify ends a TLS session at once with stream_truncated",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = tls_end_options();
    o.ping_interval = 0ms; // nothing unread at the peer when it closes: FIN, not RST
    tls_peer peer(std::move(tls.client));
    peer.start_reading(false); // takes the server's session tickets (TLS 1.3) off the socket
    tls_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    SECTION("FIN") {
        const auto t0 = clock::now();
        peer.drop(false);
        REQUIRE(run_until(ioc, [&] { return run.done(); }));
        CHECK(run.ec() == asio::ssl::error::stream_truncated);
        CHECK(ms_between(t0, run.when()) <= prompt());
    }
    SECTION("RST") {
        const auto t0 = clock::now();
        peer.drop(true);
        REQUIRE(run_until(ioc, [&] { return run.done(); }));
        CHECK(run.ec() == asio::error::connection_reset);
        CHECK(ms_between(t0, run.when()) <= prompt());
    }
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());
}

TEST_CASE("a TLS peer that stops reading ends the session with write_timeout, without a goodbye",
          "[tls][session][liveness]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc, 4096); // small kernel buffers: the writer stalls after a few KiB
    heartbeat::options o = tls_end_options();
    o.write_timeout = 150ms;
    tls_peer peer(std::move(tls.client)); // never reads
    tls_session s(std::move(tls.server), o);
    outcome run;
    const auto t0 = clock::now();
    s.async_run(run.handler());
    for (int i = 0; i < 8; ++i)
        s.async_send(pattern(60000, static_cast<unsigned>(i)), [](error_code) {});

    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::write_timeout);
    const long long elapsed = ms_between(t0, run.when());
    INFO("write_timeout and close after " << elapsed << " ms (write_timeout " << ms(o.write_timeout)
                                          << " ms, shutdown_timeout " << ms(o.shutdown_timeout)
                                          << " ms)");
    CHECK(elapsed >= not_before(o.write_timeout));
    // The stall starts within a few ms; a goodbye would wait for shutdown_timeout (3 s) on top.
    CHECK(elapsed <= not_much_after(o.write_timeout) + 200);
    CHECK_FALSE(s.next_layer().lowest_layer().is_open());
}

TEST_CASE("idle_timeout ends a TLS session with a goodbye the peer's session answers",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    heartbeat::options o = tls_end_options();
    o.read_timeout = 300ms;
    heartbeat::options idle = o;
    idle.idle_timeout = 150ms;
    tls_session peer(std::move(tls.client), o); // heartbeats only, no data
    tls_session s(std::move(tls.server), idle);
    outcome run, peer_run;
    const auto t0 = clock::now();
    s.async_run(run.handler());
    peer.async_run(peer_run.handler());

    REQUIRE(run_until(ioc, [&] { return run.done() && peer_run.done(); }));
    CHECK(run.ec() == heartbeat::error::idle_timeout);
    CHECK(peer_run.ec() == asio::error::eof); // a close_notify, not a truncation
    const long long elapsed = ms_between(t0, run.when());
    INFO("idle_timeout and goodbye after " << elapsed << " ms");
    CHECK(elapsed >= not_before(idle.idle_timeout));
    CHECK(elapsed <= not_much_after(idle.idle_timeout));
}

TEST_CASE("a protocol error ends a TLS session with a goodbye", "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    const heartbeat::options o = tls_end_options();
    tls_peer peer(std::move(tls.client));
    peer.start_reading(true);
    tls_lp_session s(std::move(tls.server), o);
    outcome run;
    s.async_run(run.handler());
    const auto t0 = clock::now();
    peer.write(lp_frame(0, 9, "")); // type 9: no such frame

    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending"));
    REQUIRE(ended);
    CHECK(run.ec() == heartbeat::error::protocol);
    CHECK(ms_between(t0, run.when()) <= prompt());
    CHECK(peer.read_error() == asio::error::eof);
    CHECK(peer.shutdown_error() == error_code());
}

TEST_CASE("destroying a TLS session still says goodbye", "[tls][session][close][lifetime]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    const heartbeat::options o = tls_end_options();
    tls_peer peer(std::move(tls.client));
    peer.start_reading(true);
    auto s = std::make_unique<tls_session>(std::move(tls.server), o);
    outcome run;
    s->async_run(run.handler());
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    s.reset();
    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending"));
    REQUIRE(ended);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(ms_between(t0, run.when()) <= prompt());
    CHECK(peer.read_error() == asio::error::eof);
    CHECK(peer.shutdown_error() == error_code());
}

TEST_CASE("a goodbye started while a frame is being written still reaches the peer",
          "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc, 4096); // small kernel buffers: the frame takes many writes
    heartbeat::options o = tls_end_options();
    o.ping_interval = 0ms; // only the frame below is ever written
    tls_peer peer(std::move(tls.client));
    auto s = std::make_unique<tls_session>(std::move(tls.server), o);
    outcome run, sent;
    s->async_run(run.handler());
    run_for(ioc, 20ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    // The session ends while ssl::stream holds the frame's transport write: the TLS shutdown
    // must wait for it, not be lost behind it. The frame itself may be cut short (the session
    // stops writing at its end), but the goodbye must follow whatever went out.
    const std::string frame = pattern(60000, 3);
    std::chrono::steady_clock::time_point t0;
    s->async_send(frame, [](error_code) {});
    s->async_flush(sent.handler()); // done once the frame is written
    SECTION("destroyed right after the send, outside any handler") {
        peer.start_reading(true);
        t0 = clock::now();
        s.reset();
    }
    SECTION("closed while the write waits for the peer to read") {
        run_for(ioc, 30ms, [&] { return sent.done(); }); // the kernel buffers fill up
        REQUIRE_FALSE(sent.done());
        t0 = clock::now();
        s->close();
        run_for(ioc, 10ms, [&] { return run.done(); });
        peer.start_reading(true);
    }
    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending") << " after "
                         << ms_since(t0) << " ms");
    REQUIRE(ended);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(ms_between(t0, run.when()) <= prompt());
    CHECK(frame.compare(0, peer.received().size(), peer.received()) == 0); // a prefix
    CHECK(peer.read_error() == asio::error::eof);
    CHECK(peer.shutdown_error() == error_code());
}

TEST_CASE("cancelling a TLS session's async_run says goodbye", "[tls][session][close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tls = tls_pair(ioc);
    const heartbeat::options o = tls_end_options();
    tls_peer peer(std::move(tls.client));
    peer.start_reading(true);
    tls_session s(std::move(tls.server), o);
    asio::cancellation_signal cancel;
    outcome run;
    s.async_run(asio::bind_cancellation_slot(cancel.slot(), run.handler()));
    run_for(ioc, 50ms, [&] { return run.done(); });
    REQUIRE_FALSE(run.done());

    const auto t0 = clock::now();
    cancel.emit(asio::cancellation_type::terminal);
    const bool ended = run_until(ioc, [&] { return run.done() && peer.shutdown_done(); });
    INFO(peer.describe() << "; run " << (run.done() ? "done" : "pending"));
    REQUIRE(ended);
    CHECK(run.ec() == asio::error::operation_aborted);
    CHECK(ms_between(t0, run.when()) <= prompt());
    CHECK(peer.read_error() == asio::error::eof);
    CHECK(peer.shutdown_error() == error_code());
}

#if defined(HBT_HAS_CO_AWAIT)

TEST_CASE("a coroutine handshakes, runs a TLS session and echoes with use_awaitable",
          "[tls][session][coroutines]") {
    using asio::use_awaitable;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto tcp = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.shutdown_timeout = 3s;
    std::optional<tls_session> server, client;
    error_code server_ec, client_ec;
    bool server_done = false, client_done = false;
    std::vector<std::string> replies;

    // The server: handshake, then the session's run beside an echo loop.
    asio::co_spawn(
        ioc,
        [&, socket = std::move(tcp.b)]() mutable -> asio::awaitable<void> {
            tls_stream stream(std::move(socket), tls().server);
            co_await stream.async_handshake(asio::ssl::stream_base::server, use_awaitable);
            server.emplace(std::move(stream), o);
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    for (;;) {
                        error_code ec;
                        std::string frame =
                            co_await server->async_receive(asio::redirect_error(use_awaitable, ec));
                        if (ec)
                            co_return;
                        co_await server->async_send("re: " + frame, use_awaitable);
                    }
                },
                asio::detached);
            co_await server->async_run(asio::redirect_error(use_awaitable, server_ec));
            server_done = true;
        },
        asio::detached);
    // The client: handshake, three questions, then close.
    asio::co_spawn(
        ioc,
        [&, socket = std::move(tcp.a)]() mutable -> asio::awaitable<void> {
            tls_stream stream = tls_client_stream(std::move(socket));
            co_await stream.async_handshake(asio::ssl::stream_base::client, use_awaitable);
            client.emplace(std::move(stream), o);
            client->async_run([&](error_code ec) {
                client_ec = ec;
                client_done = true;
            });
            for (int i = 0; i < 3; ++i) {
                co_await client->async_send("question " + std::to_string(i), use_awaitable);
                replies.push_back(co_await client->async_receive(use_awaitable));
            }
            client->close();
        },
        asio::detached);

    REQUIRE(run_until(ioc, [&] { return server_done && client_done; }));
    CHECK(replies ==
          std::vector<std::string>{"re: question 0", "re: question 1", "re: question 2"});
    CHECK(client_ec == asio::error::operation_aborted);
    CHECK(server_ec == asio::error::eof); // the client's close_notify
}

#endif // HBT_HAS_CO_AWAIT
