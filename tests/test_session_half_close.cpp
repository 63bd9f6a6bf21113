// Half-close: a peer that shuts down its sending side after its requests still gets every reply,
// and the session ends with eof once the application knows and nothing is left to write; an
// application that never reacts, and a peer that never reads, still end it in bounded time.
#include "support.hpp"

#include <vector>

using namespace hbt;

namespace {

/// The awaited echo loop the examples use: receive a frame, send it back, wait, repeat. Stops at
/// the first error; `learned` records the receive error (eof once the peer finished).
struct echo_loop {
    struct data {
        std::size_t echoed = 0;
        error_code receive_ec;
        error_code send_ec;
        bool receive_ended = false;
    };

    explicit echo_loop(const std::shared_ptr<line_session>& s) { next(s, d); }

    static void next(const std::shared_ptr<line_session>& s, const std::shared_ptr<data>& d) {
        s->async_receive([s, d](error_code ec, std::string frame) {
            if (ec) {
                d->receive_ended = true;
                d->receive_ec = ec;
                return;
            }
            s->async_send(std::move(frame), [s, d](error_code ec) {
                if (ec) {
                    d->send_ec = ec;
                    return;
                }
                ++d->echoed;
                next(s, d);
            });
        });
    }

    std::shared_ptr<data> d = std::make_shared<data>();
};

std::string numbered_lines(std::size_t n) {
    std::string lines;
    for (std::size_t i = 0; i < n; ++i)
        lines +=
            "line " + std::to_string(i) + " " + pattern(i % 50, static_cast<unsigned>(i)) + "\n";
    return lines;
}

/// What the peer read, PINGs taken out.
std::string without_pings(const std::string& received) {
    std::string out;
    std::size_t pos = 0;
    while (pos < received.size()) {
        const std::size_t nl = received.find('\n', pos);
        const std::size_t end = nl == std::string::npos ? received.size() : nl + 1;
        const std::string line = received.substr(pos, end - pos);
        if (line != "PING\n")
            out += line;
        pos = end;
    }
    return out;
}

} // namespace

TEST_CASE("after the peer's half-close every request gets its reply, then the run ends with eof",
          "[session][half_close]") {
    for (const std::size_t lines : {std::size_t{3}, std::size_t{1000}}) {
        INFO(lines << " lines then SHUT_WR");
        asio::io_context ioc;
        drain_on_exit drain{ioc};
        auto pair = tcp_pair(ioc);
        auto s = std::make_shared<line_session>(std::move(pair.a), test_options());
        raw_peer peer(std::move(pair.b));
        const std::string requests = lines == 3 ? std::string("a\nb\nc\n") : numbered_lines(lines);
        peer.write(requests).shutdown_send().start();
        peer.start_reading();
        outcome run;
        s->async_run(run.handler());
        const echo_loop echo(s);

        REQUIRE(run_until(ioc, [&] { return run.done() && peer.read_ended(); }));
        CHECK(run.ec() == asio::error::eof);
        CHECK(echo.d->receive_ec == asio::error::eof);
        CHECK_FALSE(echo.d->send_ec);
        CHECK(echo.d->echoed == lines);
        CHECK(without_pings(peer.received()) == requests);
        // Closed cleanly after the last reply: the peer reads EOF, not a reset.
        CHECK(peer.read_error() == asio::error::eof);
    }
}

TEST_CASE("a reply sent after the frame was taken, before the EOF is known, still goes out",
          "[session][half_close]") {
    // The race the half-close exists for: the application holds the last request while the EOF
    // arrives, and answers it later.
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto s = std::make_shared<line_session>(std::move(pair.a), test_options());
    raw_peer peer(std::move(pair.b));
    peer.write("question\n").shutdown_send().start();
    peer.start_reading();
    outcome run;
    s->async_run(run.handler());
    asio::steady_timer think(ioc);
    outcome sent;
    frame_outcome after;
    s->async_receive([&](error_code ec, std::string frame) {
        REQUIRE_FALSE(ec);
        think.expires_after(100ms); // the EOF arrives meanwhile
        think.async_wait([&, frame](error_code) {
            s->async_send("answer to " + frame, sent.handler());
            s->async_receive(after.handler());
        });
    });

    REQUIRE(run_until(ioc, [&] { return run.done() && peer.read_ended(); }));
    CHECK(run.ec() == asio::error::eof);
    CHECK_FALSE(sent.ec());
    CHECK(after.ec() == asio::error::eof);
    CHECK(without_pings(peer.received()) == "answer to question\n");
    CHECK(sent.when() <= run.when());
}

TEST_CASE("after the peer's EOF no PING goes out and the read deadline no longer applies",
          "[session][half_close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options(); // PING every 30 ms, read_timeout 300 ms
    o.shutdown_timeout = 600ms;            // longer than read_timeout
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    std::size_t pings_before_eof = 0;
    clock::time_point eof_sent{};
    peer.write("x\n")
        .wait(100ms)
        .call([&] { pings_before_eof = count_of(peer.received(), "PING\n"); })
        .call([&] { eof_sent = clock::now(); })
        .shutdown_send()
        .start();
    peer.start_reading();
    outcome run;
    s->async_run(run.handler());
    frame_outcome first; // takes the frame, then never asks again
    s->async_receive(first.handler());

    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    REQUIRE(first.done());
    CHECK(pings_before_eof >= 1u);
    // Ended by the half-close bound (shutdown_timeout after the EOF), not by read_timeout.
    CHECK(run.ec() == asio::error::eof);
    // Measured from the moment the peer sent its EOF (the session reads it a little later, so
    // the lower bound is exact), not from the frame's arrival and a guessed 100 ms.
    REQUIRE(eof_sent != clock::time_point{});
    const long long since_eof = ms_between(eof_sent, run.when());
    // When the session read the EOF: since_last_receive counts from it once the peer finished.
    const auto st = s->statistics();
    const auto eof_read = clock::now() - st.since_last_receive;
    INFO("EOF sent " << ms_between(first.when(), eof_sent) << " ms after the frame arrived, read "
                     << ms_between(eof_sent, eof_read) << " ms after it was sent; run ended "
                     << since_eof << " ms after it was sent; " << st.stalls << " stalls, "
                     << st.pings_sent << " PINGs sent");
    CHECK(since_eof >= not_before(o.shutdown_timeout));
    CHECK(since_eof <= not_much_after(o.shutdown_timeout));
    REQUIRE(run_until(ioc, [&] { return peer.read_ended(); }));
    // At most one PING that was already in flight as the EOF arrived.
    CHECK(count_of(peer.received(), "PING\n") <= pings_before_eof + 1);
    CHECK_FALSE(s->statistics().suspect);
}

TEST_CASE("an application that never receives is not waited for after the peer's EOF",
          "[session][half_close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.shutdown_timeout = 3s; // far above the slack: waiting for it would show
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.write("unread\n").shutdown_send().start();
    peer.start_reading();
    outcome run;
    const auto t0 = clock::now();
    s->async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::eof);
    CHECK(ms_between(t0, run.when()) <= ms(late_slack())); // not shutdown_timeout
    // The frame is still there for a receive made after the end.
    frame_outcome late;
    s->async_receive(late.handler());
    REQUIRE(run_until(ioc, [&] { return late.done(); }));
    CHECK(late.frame() == "unread");
}

TEST_CASE("close() after the peer's EOF writes what is queued, then ends with eof",
          "[session][half_close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto s = std::make_shared<line_session>(std::move(pair.a), test_options());
    raw_peer peer(std::move(pair.b));
    peer.write("go\n").shutdown_send().start();
    peer.start_reading();
    outcome run;
    s->async_run(run.handler());
    frame_outcome first; // then no receive: the application has not learned of the EOF
    s->async_receive(first.handler());
    REQUIRE(run_until(ioc, [&] { return first.done() && peer.script_done(); }));
    // The EOF is in the kernel since shutdown(): one reactor turn reads it. Nothing shows when
    // it did, so give the loop 200 ms (on a loaded machine 50 ms could pass without one turn).
    run_for(ioc, 200ms);
    std::vector<outcome> sends(20);
    for (std::size_t i = 0; i < sends.size(); ++i)
        s->async_send("reply " + std::to_string(i) + " " + pattern(20000, 3), sends[i].handler());
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done() && peer.read_ended(); }));
    CHECK(run.ec() == asio::error::eof);
    for (const auto& o : sends)
        CHECK_FALSE(o.ec());
    CHECK(count_of(without_pings(peer.received()), "\n") == sends.size());
}

TEST_CASE("a half-closed peer that never reads our replies ends in write_timeout",
          "[session][half_close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 16 * 1024);
    heartbeat::options o = test_options();
    o.write_timeout = 200ms;
    o.shutdown_timeout = 5000ms;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b)); // never reads
    peer.write("flood me\n").shutdown_send().start();
    outcome run;
    s->async_run(run.handler());
    // The application replies without end and keeps receiving, so it knows of the EOF.
    std::function<void()> pump = [&] {
        s->async_send(pattern(30000, 1), [&](error_code ec) {
            if (!ec)
                pump();
        });
    };
    s->async_receive([&](error_code ec, std::string) {
        REQUIRE_FALSE(ec);
        pump();
        s->async_receive([](error_code, std::string) {});
    });
    const auto t0 = clock::now();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::write_timeout);
    CHECK(ms_between(t0, run.when()) < 3000);
}

TEST_CASE("shutdown_timeout zero ends the session as the peer's EOF arrives",
          "[session][half_close]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.shutdown_timeout = 0ms;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.write("a\nb\n").shutdown_send().start();
    peer.start_reading();
    outcome run;
    s->async_run(run.handler());
    frame_outcome first;
    s->async_receive(first.handler()); // one receive, then silence: no waiting for it
    const auto t0 = clock::now();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::eof);
    // At once: the default shutdown_timeout (1 s) is far above the slack.
    CHECK(ms_between(t0, run.when()) <= ms(late_slack()));
    CHECK(first.frame() == "a");
}
