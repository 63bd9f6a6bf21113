// heartbeat_session data flow: frames in and out, refusals (oversized, invalid, queue full),
// receive backpressure, write_timeout, end of stream and resets, other stream types.
#include "support.hpp"

#include <atomic>
#include <functional>
#include <future>
#include <stdexcept>
#include <vector>

using namespace hbt;

TEST_CASE("frames flow both ways in order between two sessions", "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto a = std::make_shared<line_session>(std::move(pair.a), test_options());
    auto b = std::make_shared<line_session>(std::move(pair.b), test_options());
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b->async_run(run_b.handler());
    collector<line_session> at_a(a), at_b(b);
    std::vector<std::string> to_b, to_a;
    for (int i = 0; i < 200; ++i) {
        to_b.push_back("a->b " + std::to_string(i) + " " + pattern(static_cast<std::size_t>(i), 2));
        to_a.push_back("b->a " + std::to_string(i));
        a->async_send(to_b.back(), [](error_code) {});
        b->async_send(to_a.back(), [](error_code) {});
    }
    REQUIRE(
        run_until(ioc, [&] { return (at_a.size() == 200 && at_b.size() == 200) || run_a.done(); }));
    CHECK(at_b.frames() == to_b);
    CHECK(at_a.frames() == to_a);
    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_a.ec() == asio::error::operation_aborted);
    CHECK(closed_by_peer(run_b.ec()));
    CHECK(at_b.ended());
    CHECK(at_b.ec() == run_b.ec());
}

TEST_CASE("frames cross the switches between idle and busy reading intact", "[session][flow]") {
    // A socket session reads idle and busy sockets differently (waiting for readiness, or
    // reading into its own buffer while bytes keep coming): bursts, pauses longer than a tick
    // and lines split across both kinds of read must all arrive whole and in order.
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto s = std::make_shared<line_session>(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    std::vector<std::string> frames;
    auto burst = [&](int from, int count) {
        std::string bytes;
        for (int i = from; i < from + count; ++i) {
            frames.push_back("frame " + std::to_string(i) + " " +
                             pattern(static_cast<std::size_t>(i % 40), 3));
            bytes += frames.back() + "\n";
        }
        return bytes;
    };
    for (int round = 0; round < 3; ++round) {
        const std::string bytes = burst(round * 300, 300);
        const std::size_t cut = bytes.size() - 7; // the burst's last line arrives later
        peer.trickle(bytes.substr(0, cut), 512, 0ms)
            .wait(25ms)
            .write(bytes.substr(cut, 3))
            .wait(25ms)
            .write(bytes.substr(cut + 3));
    }
    peer.start();
    outcome run;
    s->async_run(run.handler());
    collector<line_session> got(s);
    REQUIRE(run_until(ioc, [&] { return got.size() == frames.size() || got.ended(); }));
    CHECK(got.frames() == frames);
    CHECK_FALSE(run.done());
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("frames queued before async_run are sent once it starts", "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome sent, flushed;
    s.async_send("early", sent.handler());
    s.async_flush(flushed.handler());
    run_for(ioc, 50ms);
    CHECK(sent.ec() == error_code()); // accepted below the high-water mark
    CHECK_FALSE(flushed.done());      // but not written
    CHECK(peer.received().empty());
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return flushed.done(); }));
    CHECK(flushed.ec() == error_code());
    REQUIRE(run_until(ioc, [&] { return peer.received() == "early\n"; }));
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("an oversized frame from the peer ends the session with frame_too_large",
          "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.max_frame_size = 64;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    SECTION("a long line") {
        peer.write("fine\n" + std::string(65, 'x') + "\n").start();
    }
    SECTION("a line that never ends") {
        peer.write("fine\n").wait(10ms).write(std::string(100, 'x')).start();
    }
    outcome run;
    s->async_run(run.handler());
    collector<line_session> got(s);
    REQUIRE(run_until(ioc, [&] { return run.done() && got.ended(); }));
    CHECK(run.ec() == heartbeat::error::frame_too_large);
    CHECK(got.frames() == std::vector<std::string>{"fine"});
    CHECK(got.ec() == heartbeat::error::frame_too_large);
}

TEST_CASE("async_send refuses oversized and invalid frames and the session continues",
          "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.max_frame_size = 64;
    line_session s(std::move(pair.a), o);
    auto peer = std::make_shared<line_session>(std::move(pair.b), o);
    outcome run, peer_run;
    s.async_run(run.handler());
    peer->async_run(peer_run.handler());
    collector<line_session> got(peer);

    struct refusal {
        std::string frame;
        heartbeat::error expected;
    };
    const refusal refusals[] = {
        {std::string(65, 'x'), heartbeat::error::frame_too_large},
        {std::string(1000, 'x'), heartbeat::error::frame_too_large},
        {"a\nb", heartbeat::error::invalid_frame},
        {"\n", heartbeat::error::invalid_frame},
        {"PING", heartbeat::error::invalid_frame},
        {"PONG", heartbeat::error::invalid_frame},
        {"carriage\r", heartbeat::error::invalid_frame},
    };
    std::vector<outcome> refused(sizeof(refusals) / sizeof(refusals[0]));
    outcome ok_max, ok_ping_word;
    initiate([&] {
        for (std::size_t i = 0; i < refused.size(); ++i)
            s.async_send(refusals[i].frame, refused[i].handler());
        s.async_send(std::string(64, 'm'), ok_max.handler());
        s.async_send("PING?", ok_ping_word.handler());
    });
    for (const auto& r : refused)
        CHECK_FALSE(r.done()); // not inline, even when refused at once
    // The peer may read both frames before our write's completion runs.
    REQUIRE(run_until(ioc, [&] { return (got.size() == 2 && ok_ping_word.done()) || run.done(); }));
    for (std::size_t i = 0; i < refused.size(); ++i) {
        INFO("refusal " << i);
        CHECK(refused[i].calls() == 1);
        CHECK_FALSE(refused[i].was_inline());
        CHECK(refused[i].ec() == refusals[i].expected);
    }
    CHECK(ok_max.ec() == error_code());
    CHECK(ok_ping_word.ec() == error_code());
    CHECK(got.frames() == std::vector<std::string>{std::string(64, 'm'), "PING?"});
    CHECK(peer->statistics().pings_received == s.statistics().pings_sent);
    CHECK_FALSE(run.done());
    CHECK(s.statistics().frames_sent == 2u);
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done() && peer_run.done(); }));
}

TEST_CASE("a full send queue refuses at once with send_queue_full and the session continues",
          "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 8 * 1024); // small kernel buffers: a peer that does not read
    heartbeat::options o = quiet_options();
    o.max_frame_size = 64 * 1024;
    o.send_queue_limit = 256 * 1024;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b)); // not reading, for now
    outcome run;
    s.async_run(run.handler());

    // Fill the kernel buffers and the queue, one frame at a time with the context running in
    // between, until a send is refused.
    std::vector<outcome> sends;
    std::vector<std::string> frames;
    int refused_at = -1;
    for (int i = 0; i < 12 && refused_at < 0; ++i) {
        frames.push_back(pattern(o.max_frame_size, static_cast<unsigned>(i)));
        sends.emplace_back();
        outcome& r = sends.back();
        initiate([&] { s.async_send(frames.back(), r.handler()); });
        run_for(ioc, 20ms);
        if (r.done()) {
            CHECK_FALSE(r.was_inline());
            if (r.ec() == heartbeat::error::send_queue_full)
                refused_at = i;
        }
    }
    INFO("refused at frame " << refused_at);
    REQUIRE(refused_at >= 1);
    // The queue holds at most send_queue_limit: about 4 frames, plus what the kernel took.
    CHECK(refused_at <= 8);
    const std::size_t accepted = static_cast<std::size_t>(refused_at);
    for (std::size_t i = 0; i < accepted; ++i)
        CHECK(sends[i].ec() != heartbeat::error::send_queue_full);

    // Refused again right away: the queue did not drain, and nothing failed the session. The
    // limit counts bytes: a small frame still fits where a large one does not.
    outcome again, small;
    initiate([&] {
        s.async_send(pattern(o.max_frame_size, 99), again.handler());
        s.async_send("small", small.handler());
    });
    REQUIRE(run_until(
        ioc, [&] { return again.done(); }, 1s));
    CHECK(again.ec() == heartbeat::error::send_queue_full);
    CHECK_FALSE(again.was_inline());
    CHECK_FALSE(small.done());
    CHECK_FALSE(run.done());

    // Once the peer reads, every accepted frame arrives, in order, and none of the refused.
    peer.start_reading();
    std::string expected;
    for (std::size_t i = 0; i < accepted; ++i)
        expected += frames[i] + "\n";
    expected += "small\n";
    REQUIRE(run_until(ioc, [&] { return peer.received().size() >= expected.size(); }));
    CHECK(peer.received().size() == expected.size());
    CHECK((peer.received() == expected));
    REQUIRE(run_until(ioc, [&] { return small.done(); }));
    CHECK(small.ec() == error_code());
    for (std::size_t i = 0; i < accepted; ++i) {
        REQUIRE(run_until(ioc, [&] { return sends[i].done(); }));
        CHECK(sends[i].ec() == error_code());
    }
    outcome later;
    s.async_send("later", later.handler());
    REQUIRE(run_until(ioc, [&] { return later.done(); }));
    CHECK(later.ec() == error_code());
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("a peer that stops reading ends the session with write_timeout", "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 8 * 1024);
    heartbeat::options o = test_options();
    o.ping_interval = 50ms;
    o.read_timeout = 400ms;
    o.write_timeout = 150ms;
    o.max_frame_size = 256 * 1024;
    o.send_queue_limit = 2 * 1024 * 1024;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    // The peer keeps talking, so the read deadline stays satisfied: only writing is stuck.
    peer.repeat("PING\n", 20ms, 100).start();
    outcome run;
    std::vector<outcome> sends(4);
    const auto t0 = clock::now();
    s.async_run(run.handler());
    for (auto& r : sends)
        s.async_send(pattern(o.max_frame_size, 3), r.handler());

    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == heartbeat::error::write_timeout);
    const long long elapsed = ms_between(t0, run.when());
    CHECK(elapsed >= not_before(o.write_timeout));
    CHECK(elapsed <= not_much_after(o.write_timeout));
    CHECK(s.statistics().pings_received >= 3u);
    CHECK(s.statistics().bytes_sent < 4 * o.max_frame_size);
    REQUIRE(run_until(ioc, [&] {
        return sends[0].done() && sends[1].done() && sends[2].done() && sends[3].done();
    }));
    // The first was accepted into the empty queue; the others waited for their write, which
    // never came.
    CHECK(sends[0].ec() == error_code());
    for (const auto& r : sends) {
        CHECK(r.calls() == 1);
        if (&r != &sends[0])
            CHECK(r.ec() == heartbeat::error::write_timeout);
    }
}

TEST_CASE("a slow reader that keeps making progress does not trigger write_timeout",
          "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc, 8 * 1024);
    heartbeat::options o = quiet_options();
    // Twenty of the reader's 15 ms pauses: a late timer of the reader (on the session's loop)
    // cannot open a gap that long without our loop stalling.
    o.write_timeout = 300ms;
    o.max_frame_size = 384 * 1024; // ~48 reads of 8 KiB, 15 ms apart: about twice write_timeout
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.start_reading(8 * 1024, 15ms); // ~0.5 MB/s
    outcome run, sent;
    const std::string frame = pattern(o.max_frame_size, 4);
    const auto t0 = clock::now();
    s.async_run(run.handler());
    s.async_send(frame, [](error_code ec) { CHECK_FALSE(ec); });
    s.async_flush(sent.handler()); // completes once the frame is written

    REQUIRE(run_until(ioc, [&] { return sent.done() || run.done(); }));
    CHECK(sent.ec() == error_code());
    CHECK_FALSE(run.done());
    // It did take longer than the write timeout as a whole: progress is what counts.
    CHECK(ms_between(t0, sent.when()) > ms(o.write_timeout));
    REQUIRE(run_until(ioc, [&] { return peer.received().size() == frame.size() + 1; }));
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
}

namespace {

/// The backpressure scenario: the peer writes `count` lines at once and then stays connected
/// and silent (draining what the session writes). Nobody receives for `hold`.
struct backpressure {
    static constexpr int count = 2000;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    socket_pair<tcp::socket> pair = tcp_pair(ioc);
    std::shared_ptr<line_session> s;
    raw_peer peer{std::move(pair.b)};
    outcome run;
    std::string sent;
    std::vector<std::string> frames;

    explicit backpressure(const heartbeat::options& o)
        : s(std::make_shared<line_session>(std::move(pair.a), o)) {
        for (int i = 0; i < count; ++i) {
            frames.push_back("frame-" + std::to_string(10000 + i));
            sent += frames.back() + "\n";
        }
        peer.write(sent).start();
        peer.start_reading();
        s->async_run(run.handler());
    }
};

heartbeat::options backpressure_options() {
    heartbeat::options o = test_options();
    o.read_timeout = 100ms;
    o.max_frame_size = 64;
    o.receive_queue_limit = 512;
    return o;
}

} // namespace

TEST_CASE("a full receive queue stops reading without timing out and delivers all in order",
          "[session][flow][backpressure]") {
    const heartbeat::options o = backpressure_options();
    backpressure t(o);
    REQUIRE(run_until(t.ioc, [&] { return t.peer.script_done(); }));
    // Three read timeouts without anyone receiving: paused, so not timed out.
    run_for(t.ioc, 3 * o.read_timeout, [&] { return t.run.done(); });
    CHECK_FALSE(t.run.done());
    // It stopped reading: TCP holds the rest (the queue bound plus one read buffer at most).
    const auto held = t.s->statistics().bytes_received;
    INFO(held << " of " << t.sent.size() << " bytes read while paused");
    CHECK(held < 4096u);
    CHECK(t.s->statistics().frames_received < 100u);

    collector<line_session> got(t.s);
    REQUIRE(run_until(t.ioc, [&] { return got.size() == t.frames.size() || got.ended(); }));
    CHECK(got.frames() == t.frames);
    CHECK(t.s->statistics().bytes_received == t.sent.size());

    // Reading resumed: the peer is silent from here, so the read deadline applies again.
    const auto resumed = clock::now();
    REQUIRE(run_until(t.ioc, [&] { return t.run.done(); }));
    CHECK(t.run.ec() == heartbeat::error::timeout);
    CHECK(ms_between(resumed, t.run.when()) <= not_much_after(o.read_timeout));
}

TEST_CASE("after a receive-queue pause the read deadline applies again without PINGs",
          "[session][flow][backpressure]") {
    heartbeat::options o = backpressure_options();
    o.ping_interval = 0ms; // only deadlines keep the timer busy
    backpressure t(o);
    run_for(t.ioc, 3 * o.read_timeout, [&] { return t.run.done(); });
    CHECK_FALSE(t.run.done());

    collector<line_session> got(t.s);
    REQUIRE(run_until(t.ioc, [&] { return got.size() == t.frames.size() || got.ended(); }));
    CHECK(got.frames() == t.frames);
    const auto resumed = clock::now();
    // The peer is silent: the session must end with timeout within about read_timeout.
    const bool ended = run_until(
        t.ioc, [&] { return t.run.done(); }, 2s);
    CHECK(ended);
    if (ended) {
        CHECK(t.run.ec() == heartbeat::error::timeout);
        CHECK(ms_between(resumed, t.run.when()) <= not_much_after(o.read_timeout));
    }
    t.s->close();
    REQUIRE(run_until(t.ioc, [&] { return t.run.done(); }));
}

TEST_CASE("EOF from the peer ends the run with eof and held frames are still delivered",
          "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    // The session writes nothing, so the peer closes with nothing unread: a clean FIN.
    heartbeat::options o = test_options();
    o.ping_interval = 0ms;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.write("one\ntwo\nthree\n").wait(20ms).close().start();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::eof);
    CHECK_FALSE(s.next_layer().is_open());

    frame_outcome r1, r2, r3, r4;
    s.async_receive(r1.handler());
    s.async_receive(r2.handler());
    s.async_receive(r3.handler());
    s.async_receive(r4.handler());
    REQUIRE(run_until(ioc, [&] { return r4.done(); }));
    CHECK(r1.frame() == "one");
    CHECK(r2.frame() == "two");
    CHECK(r3.frame() == "three");
    CHECK(r1.ec() == error_code());
    CHECK(r3.ec() == error_code());
    CHECK(r4.ec() == asio::error::eof);
    CHECK(r4.frame().empty());
}

TEST_CASE("a reset from the peer ends the run with connection_reset or eof", "[session][flow]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 20ms;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.wait(50ms).reset().start();
    outcome run;
    s.async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    INFO(run.ec().message());
    const bool expected = run.ec() == asio::error::connection_reset ||
                          run.ec() == asio::error::eof || run.ec() == asio::error::broken_pipe;
    CHECK(expected);
    CHECK_FALSE(s.next_layer().is_open());
}

TEST_CASE("a session over a local stream socket pair works", "[session][flow][local]") {
    using local_session = heartbeat::heartbeat_session<local_socket>;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    error_code pair_ec;
    auto pair = local_pair(ioc, pair_ec);
    if (pair_ec == asio::error::operation_not_supported)
        HBT_SKIP_ON_THIS_PLATFORM("no socketpair() to make a local socket pair with ("
                                  << pair_ec.message() << ")");
    REQUIRE_FALSE(pair_ec);
    heartbeat::options o = test_options();
    o.ping_interval = 20ms;
    o.read_timeout = 300ms; // fifteen intervals: room for a late PING on the shared loop
    auto a = std::make_shared<local_session>(std::move(pair.a), o);
    auto b = std::make_shared<local_session>(std::move(pair.b), o);
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b->async_run(run_b.handler());
    collector<local_session> got(b);
    for (int i = 0; i < 10; ++i)
        a->async_send("local " + std::to_string(i), [](error_code) {});
    run_for(ioc, 300ms, [&] { return run_a.done() || run_b.done(); });
    CHECK_FALSE(run_a.done());
    CHECK_FALSE(run_b.done());
    REQUIRE(got.size() == 10u);
    CHECK(got.frames().front() == "local 0");
    CHECK(got.frames().back() == "local 9");
    CHECK(a->statistics().pings_sent + b->statistics().pings_sent >= 3u);
    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    INFO(run_b.ec().message());
    CHECK(closed_by_peer(run_b.ec()));

    // And a silent local peer times out like a TCP one.
    auto silent = local_pair(ioc);
    local_session lonely(std::move(silent.a), o);
    outcome lonely_run;
    const auto t0 = clock::now();
    lonely.async_run(lonely_run.handler());
    REQUIRE(run_until(ioc, [&] { return lonely_run.done(); }));
    CHECK(lonely_run.ec() == heartbeat::error::timeout);
    CHECK(ms_between(t0, lonely_run.when()) >= not_before(o.read_timeout));
}

TEST_CASE("sessions on strands work with a multi-threaded io_context", "[session][flow][threads]") {
    asio::io_context ioc(2);
    drain_on_exit drain{ioc};
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    tcp::acceptor acceptor(ioc, loopback);
    auto strand_a = asio::make_strand(ioc);
    auto strand_b = asio::make_strand(ioc);
    tcp::socket sa(strand_a), sb(strand_b);
    sa.connect(acceptor.local_endpoint());
    acceptor.accept(sb);
    heartbeat::options o = test_options();
    o.ping_interval = 10ms;
    o.read_timeout = 500ms;
    auto a = std::make_shared<line_session>(std::move(sa), o);
    auto b = std::make_shared<line_session>(std::move(sb), o);

    constexpr int count = 2000;
    std::promise<std::vector<std::string>> received;
    std::atomic<int> runs_done{0};
    std::promise<void> all_runs_done;
    auto on_run = [&](error_code) {
        if (++runs_done == 2)
            all_runs_done.set_value();
    };
    // b echoes; a checks what comes back. Every call happens on the session's strand.
    struct echo {
        std::weak_ptr<line_session> s;
        void operator()(error_code ec, std::string f) const {
            auto session = s.lock();
            if (ec || !session)
                return;
            session->async_send(std::move(f), [](error_code) {});
            session->async_receive(*this);
        }
    };
    struct gather {
        std::weak_ptr<line_session> s;
        std::shared_ptr<std::vector<std::string>> got;
        std::promise<std::vector<std::string>>* done;
        void operator()(error_code ec, std::string f) const {
            auto session = s.lock();
            if (ec || !session)
                return;
            got->push_back(std::move(f));
            if (got->size() == count)
                done->set_value(*got);
            else
                session->async_receive(*this);
        }
    };
    asio::post(strand_b, [&] {
        b->async_run(on_run);
        b->async_receive(echo{b});
    });
    asio::post(strand_a, [&] {
        a->async_run(on_run);
        a->async_receive(gather{a, std::make_shared<std::vector<std::string>>(), &received});
        for (int i = 0; i < count; ++i)
            a->async_send("echo " + std::to_string(i), [](error_code) {});
    });
    std::thread t1([&] { ioc.run(); });
    std::thread t2([&] { ioc.run(); });
    auto future = received.get_future();
    const bool got_all = future.wait_for(hard_cap()) == std::future_status::ready;
    a->close();
    const bool ended = all_runs_done.get_future().wait_for(hard_cap()) == std::future_status::ready;
    if (!ended)
        ioc.stop();
    t1.join();
    t2.join();
    REQUIRE(got_all);
    CHECK(ended);
    const auto frames = future.get();
    REQUIRE(frames.size() == static_cast<std::size_t>(count));
    bool in_order = true;
    for (int i = 0; i < count; ++i)
        in_order = in_order && frames[static_cast<std::size_t>(i)] == "echo " + std::to_string(i);
    CHECK(in_order);
}

TEST_CASE("a send handler that receives again resumes a paused reader with no frame left behind",
          "[session][flow][backpressure]") {
    // One read brings more frames than the receive queue holds; the first frame's reply is
    // written at once and its handler receives again, resuming the reader. Every byte of that
    // read must still be decoded, not only what the queue took.
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = quiet_options();
    o.max_frame_size = 16 * 1024;
    o.receive_queue_limit = 16 * 1024;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());

    std::vector<std::string> got;
    std::function<void()> receive_loop = [&] {
        s.async_receive([&](error_code ec, std::string frame) {
            if (ec)
                return;
            got.push_back(std::move(frame));
            receive_loop();
        });
    };
    s.async_receive([&](error_code ec, std::string frame) {
        if (ec)
            return;
        got.push_back(std::move(frame));
        s.async_send("reply", [&](error_code) { receive_loop(); });
    });
    run_for(ioc, 20ms); // the receive waits before any byte arrives
    const std::size_t count = 1000;
    std::string burst;
    for (std::size_t i = 0; i < count; ++i)
        burst += "x\n";
    peer.write(burst).start();
    REQUIRE(run_until(ioc, [&] { return got.size() == count || run.done(); }));
    CHECK(got == std::vector<std::string>(count, "x"));
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

/// Runs `ioc` until `done()` or 2 s, running it again after each exception a handler throws, as
/// Asio allows; returns how many there were.
template <class Done>
int run_counting_exceptions(asio::io_context& ioc, Done done) {
    int exceptions = 0;
    const auto deadline = clock::now() + 2s;
    while (clock::now() < deadline && !done()) {
        try {
            ioc.run_for(10ms);
        } catch (const std::runtime_error&) {
            ++exceptions;
        }
        ioc.restart();
    }
    return exceptions;
}

TEST_CASE("a send handler that throws leaves the session reading", "[session][flow]") {
    // The exception leaves io_context::run(); the application runs it again, as Asio allows.
    asio::io_context ioc;
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    std::vector<std::string> got;
    bool thrown = false;
    s.async_receive([&](error_code ec, std::string frame) {
        if (ec)
            return;
        got.push_back(frame);
        s.async_send("reply", [&](error_code) {
            thrown = true;
            throw std::runtime_error("boom");
        });
        s.async_receive([&](error_code ec2, std::string frame2) {
            if (!ec2)
                got.push_back(frame2);
        });
    });
    run_for(ioc, 20ms);
    peer.write("one\n").wait(50ms).write("two\n").start();
    const int exceptions = run_counting_exceptions(ioc, [&] { return got.size() == 2; });
    CHECK(thrown);
    CHECK(exceptions == 1);
    CHECK(got == std::vector<std::string>{"one", "two"});
    s.close();
    for (int i = 0; i < 100 && !run.done(); ++i) {
        ioc.run_for(10ms);
        ioc.restart();
    }
    CHECK(run.done());
}

TEST_CASE("a receive handler that throws in the middle of a burst leaves the session whole",
          "[session][flow]") {
    // User code runs only between the session's own steps, so an exception from it leaves the
    // reader reading and the rest of the burst queued for the next turn, in order.
    asio::io_context ioc;
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());
    std::vector<std::string> got;
    for (int i = 0; i < 4; ++i) {
        s.async_receive([&, i](error_code ec, std::string frame) {
            if (ec)
                return;
            got.push_back(std::move(frame));
            if (i == 1)
                throw std::runtime_error("boom");
        });
    }
    run_for(ioc, 20ms);
    peer.write("a\nb\nc\n").wait(50ms).write("d\n").start();
    const int exceptions = run_counting_exceptions(ioc, [&] { return got.size() == 4; });
    CHECK(exceptions == 1);
    CHECK(got == std::vector<std::string>{"a", "b", "c", "d"});
    CHECK_FALSE(run.done());
    s.close();
    for (int i = 0; i < 100 && !run.done(); ++i) {
        ioc.run_for(10ms);
        ioc.restart();
    }
    CHECK(run.done());
}
