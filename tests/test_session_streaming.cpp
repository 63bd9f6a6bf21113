// try_send and try_receive: frames queued and taken without an operation per frame, in order
// with async_send and async_receive, bounded by the same limits.
#include "support.hpp"

#include <functional>
#include <string_view>
#include <vector>

using namespace hbt;

TEST_CASE("try_send frames go out in order with async_send frames, sharing writes",
          "[session][streaming]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome run, middle;
    s.async_run(run.handler());

    std::string expected = "\n";
    REQUIRE(s.try_send(std::string_view()) == error_code()); // an empty line is a frame
    for (int i = 1; i < 100; ++i) {
        const std::string frame = "frame " + std::to_string(i);
        expected += frame + "\n";
        if (i == 50) {
            s.async_send(frame, middle.handler());
            continue;
        }
        REQUIRE(s.try_send(frame) == error_code());
    }
    // Our write completions may run after the peer has read the bytes.
    REQUIRE(run_until(ioc, [&] {
        return (peer.received().size() >= expected.size() && s.statistics().frames_sent == 100u) ||
               run.done();
    }));
    CHECK(peer.received() == expected);
    CHECK(middle.ec() == error_code());
    CHECK_FALSE(run.done());
    CHECK(s.statistics().frames_sent == 100u);
    CHECK(s.statistics().bytes_sent == expected.size());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("try_send refuses what async_send refuses, at once, and the session continues",
          "[session][streaming]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = quiet_options();
    o.max_frame_size = 64;
    o.send_queue_limit = 1024;
    line_session s(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    outcome run;
    s.async_run(run.handler());

    CHECK(s.try_send(std::string(65, 'x')) == heartbeat::error::frame_too_large);
    CHECK(s.try_send("a\nb") == heartbeat::error::invalid_frame);
    CHECK(s.try_send("PING") == heartbeat::error::invalid_frame);
    CHECK(s.try_send("carriage\r") == heartbeat::error::invalid_frame);

    // The queue bound counts try_send's bytes: the peer does not read yet, the socket buffer
    // takes some, then the queue fills and refuses, without ending the session.
    std::size_t accepted = 0;
    error_code refused;
    const std::string frame(63, 'q');
    for (int i = 0; i < 100000 && !refused; ++i) {
        refused = s.try_send(frame);
        if (!refused)
            ++accepted;
        if (i % 64 == 0)
            ioc.poll(); // let writes drain into the socket buffer
    }
    CHECK(refused == heartbeat::error::send_queue_full);
    CHECK(accepted > 0u);
    CHECK_FALSE(run.done());

    // Everything accepted arrives once the peer reads, and nothing refused does.
    peer.start_reading();
    REQUIRE(run_until(ioc, [&] { return peer.received().size() >= accepted * 64 || run.done(); }));
    CHECK(peer.received().size() == accepted * 64);
    CHECK(count_of(peer.received(), "\n") == accepted);
    CHECK(s.try_send("after") == error_code());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    // Once ended, try_send says why.
    CHECK(s.try_send("late") == asio::error::operation_aborted);
}

TEST_CASE("try_receive drains held frames in order, after those owed to async_receive",
          "[session][streaming]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    auto s = std::make_shared<line_session>(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    std::string burst;
    for (int i = 0; i < 50; ++i)
        burst += "line " + std::to_string(i) + "\n";
    peer.write(burst).start();
    outcome run;
    s->async_run(run.handler());

    std::string frame;
    CHECK_FALSE(s->try_receive(frame)); // nothing yet
    REQUIRE(run_until(ioc, [&] { return s->statistics().frames_received == 50u || run.done(); }));

    // One async_receive takes the first frame; until its completion runs, try_receive must not
    // hand out a later one.
    frame_outcome first;
    s->async_receive(first.handler());
    CHECK_FALSE(s->try_receive(frame));
    REQUIRE(run_until(ioc, [&] { return first.done(); }));
    CHECK(first.frame() == "line 0");

    std::vector<std::string> rest;
    while (s->try_receive(frame))
        rest.push_back(frame);
    REQUIRE(rest.size() == 49u);
    for (std::size_t i = 0; i < rest.size(); ++i)
        CHECK(rest[i] == "line " + std::to_string(i + 1));
    CHECK_FALSE(s->try_receive(frame));
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("a receiver draining with try_receive resumes a paused reader",
          "[session][streaming][backpressure]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = quiet_options();
    o.max_frame_size = 64;
    o.receive_queue_limit = 512;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    std::string sent;
    std::vector<std::string> frames;
    for (int i = 0; i < 2000; ++i) {
        frames.push_back(pattern(20, static_cast<unsigned>(i)));
        sent += frames.back() + "\n";
    }
    peer.write(sent).start();
    outcome run;
    s->async_run(run.handler());
    REQUIRE(run_until(ioc, [&] { return peer.script_done() || run.done(); }));
    run_for(ioc, 50ms);
    // Paused at the bound: far fewer than all frames were read.
    CHECK(s->statistics().frames_received < 100u);

    std::vector<std::string> got;
    std::string frame;
    REQUIRE(run_until(ioc, [&] {
        while (s->try_receive(frame))
            got.push_back(frame);
        return got.size() == frames.size() || run.done();
    }));
    CHECK(got == frames);
    CHECK_FALSE(run.done());
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("a receiver run by the reader drains the rest of each read with try_receive",
          "[session][streaming]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    line_session s(std::move(pair.a), quiet_options());
    raw_peer peer(std::move(pair.b));
    peer.start_reading();
    outcome run;
    s.async_run(run.handler());

    // Two writes, the first ending inside a line (its tail waits in the session's own buffer),
    // PINGs among the lines.
    std::vector<std::string> frames;
    std::string burst;
    for (int i = 0; i < 100; ++i) {
        frames.push_back("line " + std::to_string(i));
        burst += frames.back() + "\n";
        if (i % 25 == 0)
            burst += "PING\n";
    }
    const std::size_t split = burst.find("line", burst.size() / 2) + 3; // inside "line"
    REQUIRE(burst[split - 1] != '\n');

    std::vector<std::string> got;
    std::size_t completions = 0;
    std::function<void()> receive = [&] {
        s.async_receive([&](error_code ec, std::string frame) {
            if (ec)
                return;
            ++completions;
            got.push_back(std::move(frame));
            while (s.try_receive(frame))
                got.push_back(frame);
            receive();
        });
    };
    receive();
    run_for(ioc, 20ms); // the receive waits before any byte arrives
    peer.write(burst.substr(0, split)).wait(30ms).write(burst.substr(split)).start();
    REQUIRE(run_until(ioc, [&] { return got.size() == frames.size() || run.done(); }));
    CHECK(got == frames);
    // One completion per read, not one per frame (there are two reads, maybe a few more if
    // the kernel split one).
    CHECK(completions <= 4u);
    CHECK(s.statistics().frames_received == frames.size());
    CHECK(s.statistics().pings_received == 4u);
    REQUIRE(run_until(ioc, [&] { return count_of(peer.received(), "PONG\n") >= 1u; }));
    CHECK_FALSE(run.done());
    s.close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}
