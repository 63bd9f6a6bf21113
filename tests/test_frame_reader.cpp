// The reader's bytes-to-frames logic (detail/frame_reader.hpp) alone: no session, no socket.
// Bytes go in through prepare()/commit() or a scratch view, and a recording Events object plays
// the session: it says whether a receive waits, records every event, and can end the "session".
#include "support.hpp"

#include <heartbeat/detail/frame_reader.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace {

using reader_type = heartbeat::detail::frame_reader<heartbeat::line_framing>;
using heartbeat::decode_result;
using heartbeat::frame_kind;

/// The session's side, recorded.
struct recording_events {
    bool alive = true;
    int waiting_receives = 0;      // each takes one delivered frame
    bool end_on_heartbeat = false; // a heartbeat ends the session (a PING flood, say)
    std::vector<std::string> log;  // "ping", "pong", "frame", "deliver:x", "failed", "paused"
    std::vector<std::string> delivered;

    bool live() const { return alive; }
    bool waiting() const { return waiting_receives > 0; }
    bool heartbeat(const decode_result& r) {
        log.push_back(r.kind == frame_kind::ping ? "ping" : "pong");
        if (end_on_heartbeat)
            alive = false;
        return alive;
    }
    void failed(std::error_code) {
        log.emplace_back("failed");
        alive = false;
    }
    void data_frame() { log.emplace_back("frame"); }
    bool deliver(const char* p, std::size_t n) {
        if (waiting_receives == 0)
            return false;
        --waiting_receives;
        delivered.emplace_back(p, n);
        log.push_back("deliver:" + std::string(p, n));
        return true;
    }
    void paused() { log.emplace_back("paused"); }
};

struct rig {
    explicit rig(heartbeat::options o = {})
        : opts(o)
        , reader(opts) {}

    /// As a read into the reader's own buffer.
    void read(const std::string& bytes) {
        const auto space = reader.prepare();
        REQUIRE(space.size() >= bytes.size());
        std::memcpy(space.data(), bytes.data(), bytes.size());
        reader.commit(bytes.size());
    }
    std::vector<std::string> take_all() {
        std::vector<std::string> v;
        std::string f;
        while (reader.take(f, framing, events))
            v.push_back(f);
        return v;
    }

    heartbeat::options opts;
    heartbeat::line_framing framing;
    reader_type reader;
    recording_events events;
};

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("frame_reader: a waiting receive gets the frame, the rest is held in order",
          "[frame_reader]") {
    rig t;
    t.events.waiting_receives = 1;
    t.read("a\nPING\nb\nc\n");
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.events.delivered == strings{"a"});
    CHECK(t.events.log == strings{"frame", "deliver:a", "ping", "frame", "frame"});
    CHECK(t.reader.holds());
    CHECK_FALSE(t.reader.undecoded());
    CHECK_FALSE(t.reader.buffered());
    CHECK(t.take_all() == strings{"b", "c"});
    CHECK_FALSE(t.reader.holds());
}

TEST_CASE("frame_reader: within a turn, frames nobody waits for stay undecoded until taken or "
          "settled",
          "[frame_reader]") {
    rig t;
    t.read("PONG\na\nPING\nb\nPING\n");
    t.reader.decode_buffer(t.framing, t.events, true);
    // The PONG ahead of the first data frame is matched at once; the rest waits.
    CHECK(t.events.log == strings{"pong"});
    CHECK(t.reader.undecoded());
    CHECK(t.reader.holds());
    CHECK(t.reader.buffered());

    SECTION("taken one by one, heartbeats on the way handled in order") {
        std::string f = "previous contents";
        REQUIRE(t.reader.take(f, t.framing, t.events));
        CHECK(f == "a");
        REQUIRE(t.reader.take(f, t.framing, t.events));
        CHECK(f == "b");
        CHECK_FALSE(t.reader.take(f, t.framing, t.events));
        CHECK(t.events.log == strings{"pong", "frame", "ping", "frame", "ping"});
        CHECK_FALSE(t.reader.undecoded()); // the buffer may be read into again
        CHECK_FALSE(t.reader.buffered());
    }
    SECTION("settled at the turn's end: decoded and held, heartbeats answered") {
        t.reader.settle(t.framing, t.events);
        CHECK(t.events.log == strings{"pong", "frame", "ping", "frame", "ping"});
        CHECK_FALSE(t.reader.undecoded());
        CHECK_FALSE(t.reader.buffered());
        CHECK(t.take_all() == strings{"a", "b"});
    }
    SECTION("held frames come before the undecoded ones") {
        rig u;
        u.read("x\ny\n");
        u.reader.decode_buffer(u.framing, u.events, false); // held
        u.read("z\n");
        u.reader.decode_buffer(u.framing, u.events, true); // left
        CHECK(u.reader.undecoded());
        CHECK(u.take_all() == strings{"x", "y", "z"});
    }
}

TEST_CASE("frame_reader: a receive waiting is served even within a turn", "[frame_reader]") {
    rig t;
    t.events.waiting_receives = 1;
    t.read("a\nb\n");
    t.reader.decode_buffer(t.framing, t.events, true);
    CHECK(t.events.delivered == strings{"a"});
    CHECK(t.reader.undecoded()); // b: nobody waits any more
    CHECK(t.take_all() == strings{"b"});
}

TEST_CASE("frame_reader: held frames past receive_queue_limit pause it until taken",
          "[frame_reader]") {
    heartbeat::options o;
    o.receive_queue_limit = 2 * (1 + sizeof(std::string)); // two one-byte frames
    rig t(o);
    t.read("a\nb\nc\nd\n");
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.reader.paused());
    CHECK(t.events.log == strings{"frame", "frame", "paused"});
    CHECK(t.reader.buffered()); // c and d wait in the buffer, undecoded
    CHECK_FALSE(t.reader.resume());
    std::string f;
    REQUIRE(t.reader.take(f, t.framing, t.events));
    CHECK(f == "a");
    CHECK(t.reader.resume());
    CHECK_FALSE(t.reader.paused());
    CHECK_FALSE(t.reader.resume()); // once
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.reader.paused()); // b and c held again: d waits
    CHECK(t.take_all() == strings{"b", "c"});
    CHECK(t.reader.resume());
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.take_all() == strings{"d"});
    CHECK_FALSE(t.reader.paused());
}

TEST_CASE("frame_reader: bytes that cannot be decoded end it after the frames before them",
          "[frame_reader]") {
    heartbeat::options o;
    o.max_frame_size = 4;
    rig t(o);
    t.read("a\nb\n0123456789\nc\n");
    SECTION("decoded at once") {
        t.reader.decode_buffer(t.framing, t.events, false);
    }
    SECTION("left, then settled") {
        t.reader.decode_buffer(t.framing, t.events, true);
        t.reader.settle(t.framing, t.events);
    }
    CHECK(t.events.log == strings{"frame", "frame", "failed"});
    CHECK(t.take_all() == strings{"a", "b"});
}

TEST_CASE("frame_reader: nothing more is decoded once the session ended", "[frame_reader]") {
    rig t;
    t.events.end_on_heartbeat = true; // e.g. a PING flood
    t.read("a\nPING\nb\n");
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.events.log == strings{"frame", "ping"});
    CHECK(t.take_all() == strings{"a"});
}

TEST_CASE("frame_reader: a scratch read is decoded whole: the start of a frame is kept",
          "[frame_reader]") {
    rig t;
    const std::string bytes = "a\nPING\nb\npar";
    heartbeat::detail::scratch_view view{bytes.data(), bytes.data() + bytes.size()};
    t.reader.decode_scratch(view, t.framing, t.events);
    CHECK_FALSE(t.reader.undecoded()); // never left in memory the reader does not own
    CHECK(std::string(view.data(), view.size()) == "par");
    t.reader.keep(view.data(), view.size());
    t.read("tial\n");
    t.reader.decode_buffer(t.framing, t.events, false);
    CHECK(t.take_all() == strings{"a", "b", "partial"});
    CHECK(t.events.log == strings{"frame", "ping", "frame", "frame"});
}
