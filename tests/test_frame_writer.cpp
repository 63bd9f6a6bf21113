// The writer's state (detail/frame_writer.hpp) alone: what goes into each gathered write and in
// which order, the queue limit, try_send's shared buffers, write progress across buffers, and
// which nodes come back when. No session, no sockets: the test plays the session's part, writing
// "bytes" by calling consume().
#include "support.hpp"

#include <heartbeat/detail/frame_writer.hpp>

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace {

using heartbeat::frame_kind;
using heartbeat::length_prefixed_framing;
using heartbeat::line_framing;
using heartbeat::detail::send_data;

/// A queued frame as the writer sees it; `id` tells the nodes apart.
template <class Framing>
struct test_node {
    send_data<Framing> data;
    test_node* next = nullptr;
    test_node* prev = nullptr;
    int id = 0;
};

constexpr std::size_t no_limit = std::size_t{1} << 40;
constexpr std::size_t node_cost = send_data<line_framing>::node_cost;

/// A writer with the nodes it links (the writer owns none), and the session's side of it.
template <class Framing = line_framing>
struct fixture {
    using node = test_node<Framing>;
    using writer_type = heartbeat::detail::frame_writer<Framing, node>;

    explicit fixture(std::size_t send_queue_limit = no_limit)
        : writer(send_queue_limit) {}

    Framing framing;
    writer_type writer;
    std::deque<node> nodes; // stable addresses
    int made = 0;           // nodes made for try_send

    node* make(int id) {
        nodes.emplace_back();
        nodes.back().id = id;
        return &nodes.back();
    }
    /// async_send
    bool send(int id, std::string payload) {
        return writer.push(framing, make(id), std::move(payload));
    }
    node* send_node(int id, std::string payload) {
        node* n = make(id);
        REQUIRE(writer.push(framing, n, std::move(payload)));
        return n;
    }
    /// try_send; its nodes get ids 100, 101, ...
    bool try_send(const std::string& payload) {
        return writer.append(framing, payload.data(), payload.size(), [this](std::size_t bytes) {
            node* n = make(100 + made++);
            n->data.payload.reserve(bytes);
            return n;
        });
    }

    /// The bytes left to write, as the stream would see them.
    std::string pending() {
        std::string out;
        for (const auto& b : writer.buffers())
            out.append(static_cast<const char*>(b.data()), b.size());
        return out;
    }
    std::size_t buffer_count() {
        const auto r = writer.buffers();
        return static_cast<std::size_t>(r.end() - r.begin());
    }
    /// Starts a batch and writes it whole; returns what was written.
    std::string write_batch() {
        if (!writer.begin_batch(framing))
            return {};
        std::string bytes = pending();
        CHECK(writer.consume(bytes.size()));
        return bytes;
    }
    /// Ends the batch and returns the ids of its nodes, in the order they come back.
    std::vector<int> retire() {
        writer.end_batch();
        std::vector<int> ids;
        writer.retire_batch([&](node* n) { ids.push_back(n->id); });
        return ids;
    }
    std::vector<int> drop_unsent() {
        std::vector<int> ids;
        writer.drop_unsent([&](node* n) { ids.push_back(n->id); });
        return ids;
    }
    std::vector<int> queued() {
        std::vector<int> ids;
        auto all = writer.take_all();
        for (node* n = all.front(); n; n = n->next)
            ids.push_back(n->id);
        return ids;
    }
};

using ids = std::vector<int>;

} // namespace

TEST_CASE("frame_writer: nothing queued starts no batch", "[frame_writer]") {
    fixture<> f;
    CHECK_FALSE(f.writer.has_output());
    CHECK(f.writer.flushed());
    CHECK_FALSE(f.writer.begin_batch(f.framing));
    CHECK_FALSE(f.writer.writing());
}

TEST_CASE("frame_writer: the PING, then the PONG, then the frames in order, in one batch",
          "[frame_writer]") {
    fixture<> f;
    f.send(1, "a");
    CHECK(f.try_send("b"));
    f.send(2, "c");
    CHECK(f.writer.queue_pong(7));
    f.writer.queue_ping(8);
    CHECK(f.writer.has_output());

    CHECK(f.writer.begin_batch(f.framing));
    CHECK_FALSE(f.writer.batch_empty());
    CHECK(f.writer.pongs_sent() == 0); // counted once written
    CHECK(f.writer.writing());
    // Both heartbeats share one buffer; an async_send frame is its payload and its trailer;
    // try_send's frames are framed inside one buffer.
    CHECK(f.buffer_count() == 1 + 2 + 1 + 2);
    CHECK(f.pending() == "PING\nPONG\na\nb\nc\n");
    // The payloads are not copied: the batch points into the nodes.
    CHECK(f.writer.buffers().begin()[1].data() == f.nodes[0].data.payload.data());

    CHECK_FALSE(f.writer.consume(7)); // "PING\nPO": the PONG is not out yet
    CHECK(f.writer.consume(9));
    CHECK(f.writer.pongs_sent() == 0); // until the batch ends
    CHECK(f.writer.end_batch());       // the PING went out
    CHECK(f.writer.pongs_sent() == 1);
    std::vector<int> order;
    f.writer.retire_batch([&](fixture<>::node* n) { order.push_back(n->id); });
    CHECK(order == ids{1, 100, 2});
    CHECK_FALSE(f.writer.has_output());
    CHECK(f.writer.flushed());
    CHECK(f.queued().empty());
}

TEST_CASE("frame_writer: a heartbeat alone is a batch, and a PING is reported once",
          "[frame_writer]") {
    fixture<> f;
    f.writer.queue_ping(1);
    CHECK(f.writer.has_output());
    CHECK(f.writer.flushed()); // a PING is nothing a half-closed peer waits for
    CHECK(f.write_batch() == "PING\n");
    CHECK(f.writer.end_batch());
    CHECK_FALSE(f.writer.has_output());
    CHECK(f.write_batch().empty());

    CHECK(f.writer.queue_pong(2));
    CHECK_FALSE(f.writer.flushed());
    CHECK(f.write_batch() == "PONG\n");
    CHECK_FALSE(f.writer.end_batch()); // no PING in this one
    CHECK(f.writer.flushed());
}

TEST_CASE("frame_writer: PONGs coalesce into one per batch, with the latest id", "[frame_writer]") {
    fixture<length_prefixed_framing> f;
    CHECK(f.writer.queue_pong(1)); // the first asks for a write
    CHECK_FALSE(f.writer.queue_pong(2));
    CHECK_FALSE(f.writer.queue_pong(3));
    f.send(1, "x");

    std::string bytes = f.write_batch();
    heartbeat::decode_result r = f.framing.decode(bytes.data(), bytes.size(), 100);
    REQUIRE(r.status == heartbeat::decode_result::frame);
    CHECK(r.kind == frame_kind::pong);
    CHECK(r.heartbeat_id == 3);
    r = f.framing.decode(bytes.data() + r.consumed, bytes.size() - r.consumed, 100);
    REQUIRE(r.status == heartbeat::decode_result::frame);
    CHECK(r.kind == frame_kind::data); // one PONG only
    CHECK(r.consumed + length_prefixed_framing::max_heartbeat_size == bytes.size());
    CHECK(f.writer.pongs_sent() == 0); // written, but its batch has not ended

    // A PING answered while the batch is in flight waits for the next batch.
    CHECK(f.writer.queue_pong(4));
    CHECK(f.retire() == ids{1});
    CHECK(f.writer.pongs_sent() == 1);
    CHECK(f.writer.begin_batch(f.framing));
    CHECK(f.writer.pongs_sent() == 1);
    bytes = f.pending();
    r = f.framing.decode(bytes.data(), bytes.size(), 100);
    CHECK(r.kind == frame_kind::pong);
    CHECK(r.heartbeat_id == 4);
    CHECK(r.consumed == bytes.size());
}

TEST_CASE("frame_writer: an empty queue takes one frame whatever its cost: then the limit holds",
          "[frame_writer]") {
    const std::size_t cost = 10 + 1 + node_cost; // of a 10-byte frame: payload, '\n', the node
    SECTION("a frame over the limit, alone") {
        fixture<> f(1);
        CHECK(f.send(1, std::string(1000, 'a')));
        CHECK_FALSE(f.send(2, ""));
        CHECK_FALSE(f.try_send(""));
        CHECK(f.write_batch().size() == 1001);
        CHECK(f.retire() == ids{1});
        CHECK(f.try_send(std::string(1000, 'b'))); // empty again
        CHECK_FALSE(f.try_send(""));               // not even joining
    }
    SECTION("up to the limit exactly; cancelling and retiring give the cost back") {
        fixture<> f(3 * cost);
        CHECK(f.send(1, std::string(10, 'a')));
        auto* two = f.send_node(2, std::string(10, 'b'));
        CHECK_FALSE(f.send(3, std::string(11, 'x'))); // a byte over
        CHECK_FALSE(f.try_send(std::string(11, 'x')));
        CHECK(f.try_send(std::string(10, 'c'))); // exactly at the limit
        CHECK_FALSE(f.try_send(""));
        CHECK(f.made == 1);
        CHECK(f.writer.cancel(two));
        CHECK(f.send(4, std::string(10, 'd')));
        CHECK_FALSE(f.send(5, ""));
        CHECK(f.write_batch() == std::string(10, 'a') + "\n" + std::string(10, 'c') + "\n" +
                                     std::string(10, 'd') + "\n");
        CHECK(f.retire() == ids{1, 100, 4});
        CHECK(f.send(6, std::string(10, 'e')));
        CHECK(f.send(7, std::string(10, 'f')));
        CHECK(f.send(8, std::string(10, 'g')));
        CHECK_FALSE(f.send(9, ""));
    }
    SECTION("a try_send frame joining a shared buffer costs only its bytes") {
        fixture<> f(2 * cost + 11);
        CHECK(f.send(1, std::string(10, 'a')));
        CHECK(f.try_send(std::string(10, 'b')));
        CHECK(f.try_send(std::string(10, 'c')));
        CHECK_FALSE(f.try_send(""));
        CHECK(f.made == 1);
        CHECK(f.write_batch() == std::string(10, 'a') + "\n" + std::string(10, 'b') + "\n" +
                                     std::string(10, 'c') + "\n");
    }
}

TEST_CASE("frame_writer: take_all unlinks everything and forgets the cost", "[frame_writer]") {
    const std::size_t cost = 1 + 1 + node_cost;
    fixture<> f(2 * cost);
    f.send(1, "a");
    f.writer.begin_batch(f.framing);
    CHECK(f.send(2, "b"));
    CHECK(f.queued() == ids{1, 2});
    CHECK_FALSE(f.writer.has_output());
    CHECK(f.send(3, "c"));
    CHECK(f.send(4, "d")); // the cost of 1 and 2 is gone
    CHECK_FALSE(f.send(5, "e"));
}

TEST_CASE("frame_writer: try_send's frames share one buffer up to 64 KiB", "[frame_writer]") {
    fixture<> f;
    using writer = fixture<>::writer_type;
    CHECK(f.try_send("a"));
    CHECK(f.try_send(""));
    CHECK(f.try_send("b"));
    REQUIRE(f.made == 1);
    CHECK(f.nodes[0].data.detached);
    CHECK(f.nodes[0].data.frames == 3);
    CHECK(f.nodes[0].data.payload == "a\n\nb\n");

    // Fill the shared buffer to exactly 64 KiB: the frame that would pass it starts another.
    const std::size_t room = writer::shared_bytes - f.nodes[0].data.payload.size();
    CHECK(f.try_send(std::string(room - 1, 'x'))); // with its '\n': exactly full
    CHECK(f.made == 1);
    CHECK(f.nodes[0].data.payload.size() == writer::shared_bytes);
    CHECK(f.try_send(""));
    CHECK(f.made == 2);
    CHECK(f.nodes[1].data.frames == 1);

    CHECK(f.write_batch().size() == writer::shared_bytes); // a full buffer is a batch
    CHECK(f.retire() == ids{100});
    CHECK(f.write_batch() == "\n");
    CHECK(f.retire() == ids{101});
}

TEST_CASE("frame_writer: try_send does not join a node being written, nor an async_send's",
          "[frame_writer]") {
    fixture<> f;
    CHECK(f.try_send("a"));
    f.writer.begin_batch(f.framing);
    CHECK(f.try_send("b")); // the first buffer is in flight: a new one
    CHECK(f.made == 2);
    f.send(1, "c");
    CHECK(f.try_send("d")); // behind an async_send: a new one
    CHECK(f.try_send("e")); // ...which the next joins
    CHECK(f.made == 3);
    CHECK(f.nodes[0].data.payload == "a\n");

    CHECK(f.writer.consume(2));
    CHECK(f.retire() == ids{100});
    CHECK(f.write_batch() == "b\nc\nd\ne\n");
    CHECK(f.retire() == ids{101, 1, 102});
}

TEST_CASE("frame_writer: a batch stops once it holds 64 KiB, but always takes one frame",
          "[frame_writer]") {
    using writer = fixture<>::writer_type;
    SECTION("frames that reach 64 KiB exactly end the batch there") {
        fixture<> f;
        const std::size_t half = writer::batch_bytes / 2 - 1; // with '\n': half of 64 KiB
        for (int i = 1; i <= 3; ++i)
            f.send(i, std::string(half, 'x'));
        CHECK(f.write_batch().size() == writer::batch_bytes);
        CHECK(f.retire() == ids{1, 2});
        CHECK(f.retire().empty()); // retired once
        f.write_batch();
        CHECK(f.retire() == ids{3});
    }
    SECTION("a byte short of 64 KiB takes the next frame") {
        fixture<> f;
        const std::size_t half = writer::batch_bytes / 2 - 2;
        for (int i = 1; i <= 3; ++i)
            f.send(i, std::string(half, 'x'));
        f.write_batch();
        CHECK(f.retire() == ids{1, 2, 3});
    }
    SECTION("a heartbeat counts towards the bytes") {
        fixture<> f;
        f.writer.queue_ping(1);
        // Two frames make 4 bytes short of 64 KiB; "PING\n" takes the batch past it.
        const std::size_t half = writer::batch_bytes / 2 - 3;
        for (int i = 1; i <= 3; ++i)
            f.send(i, std::string(half, 'x'));
        f.write_batch();
        CHECK(f.retire() == ids{1, 2});
    }
    SECTION("a frame larger than a batch goes alone") {
        fixture<> f;
        f.send(1, std::string(writer::batch_bytes * 2, 'x'));
        f.send(2, "y");
        CHECK(f.write_batch().size() == writer::batch_bytes * 2 + 1);
        CHECK(f.retire() == ids{1});
    }
}

TEST_CASE("frame_writer: a batch stops before running out of buffers", "[frame_writer]") {
    constexpr std::size_t max = heartbeat::detail::gather_buffers::max_capacity;
    // Each frame takes two buffers (payload, '\n') and is only added while three more fit.
    constexpr std::size_t per_batch = (max - 3) / 2 + 1;
    constexpr std::size_t per_batch_after_heartbeat = (max - 4) / 2 + 1;
    SECTION("frames only") {
        fixture<> f;
        for (int i = 0; i < static_cast<int>(2 * per_batch); ++i)
            f.send(i, "f");
        f.writer.begin_batch(f.framing);
        CHECK(f.buffer_count() == 2 * per_batch);
        CHECK(f.buffer_count() <= max);
        CHECK(f.writer.consume(2 * per_batch)); // "f\n" per frame
        CHECK(f.retire().size() == per_batch);
        f.write_batch();
        CHECK(f.retire().size() == per_batch);
    }
    SECTION("with a heartbeat") {
        fixture<> f;
        f.writer.queue_ping(1);
        for (int i = 0; i < static_cast<int>(2 * per_batch); ++i)
            f.send(i, "f");
        f.writer.begin_batch(f.framing);
        CHECK(f.buffer_count() == 1 + 2 * per_batch_after_heartbeat);
        CHECK(f.buffer_count() <= max);
        CHECK(f.writer.consume(f.pending().size()));
        CHECK(f.retire().size() == per_batch_after_heartbeat);
    }
}

TEST_CASE("frame_writer: a partial write continues where it stopped, across buffers",
          "[frame_writer]") {
    fixture<length_prefixed_framing> f;
    f.send(1, "abc");
    f.send(2, ""); // a header, no payload buffer
    f.send(3, "de");
    f.writer.begin_batch(f.framing);
    std::string all = f.pending();
    REQUIRE(f.buffer_count() == 5);
    REQUIRE(all.size() == 3 * 5 + 5);

    CHECK_FALSE(f.writer.consume(0)); // no progress
    CHECK(f.pending() == all);
    CHECK_FALSE(f.writer.consume(2)); // inside the first header
    CHECK(f.buffer_count() == 5);
    CHECK(f.pending() == all.substr(2));
    CHECK_FALSE(f.writer.consume(3)); // exactly to its end
    CHECK(f.buffer_count() == 4);
    CHECK(f.pending() == all.substr(5));
    CHECK_FALSE(f.writer.consume(3 + 5 + 1)); // the payload, the empty frame, into a header
    CHECK(f.buffer_count() == 2);
    CHECK(f.pending() == all.substr(14));
    CHECK_FALSE(f.writer.cancel(&f.nodes[2])); // being written: too late to cancel
    CHECK_FALSE(f.writer.consume(4));
    CHECK(f.pending() == "de");
    CHECK(f.writer.consume(2));
    CHECK(f.buffer_count() == 0);
    CHECK(f.retire() == ids{1, 2, 3});
}

TEST_CASE("frame_writer: a capped write holds at most its cap, and the rest follows whole",
          "[frame_writer]") {
    // Windows (IOCP) writes a batch in pieces of at most 64 KiB (impl/write_op.hpp): the piece's
    // completion is its only news of progress.
    fixture<length_prefixed_framing> f;
    f.send(1, "abcdefgh");
    f.send(2, "ij");
    f.writer.begin_batch(f.framing);
    const std::string all = f.pending(); // [5]abcdefgh[5]ij: 20 bytes in 4 buffers
    REQUIRE(all.size() == 20);
    REQUIRE(f.buffer_count() == 4);
    auto capped = [&](std::size_t max_bytes) {
        std::string out;
        for (const auto& b : f.writer.buffers(max_bytes))
            out.append(static_cast<const char*>(b.data()), b.size());
        return out;
    };

    CHECK(capped(7) == all.substr(0, 7)); // the cap inside a payload
    CHECK(capped(7) == all.substr(0, 7)); // asked again (a write tried again): the same
    CHECK_FALSE(f.writer.consume(5));     // less than the piece
    CHECK(f.pending() == all.substr(5));  // the shortened buffer has its rest back
    CHECK(capped(8) == all.substr(5, 8)); // exactly to the end of the first payload
    CHECK_FALSE(f.writer.consume(8));
    CHECK(capped(100) == all.substr(13)); // a cap beyond the batch: what is left
    CHECK(capped(1) == all.substr(13, 1));
    CHECK_FALSE(f.writer.consume(1));
    CHECK(capped(6) == all.substr(14, 6));
    CHECK(f.writer.consume(6));
    CHECK(f.retire() == ids{1, 2});

    // A failed write leaves its cut behind: the next batch starts whole.
    f.send(3, std::string(100, 'x'));
    f.writer.begin_batch(f.framing);
    CHECK(capped(10).size() == 10);
    CHECK(f.retire() == ids{3});
    f.send(4, "yz");
    f.writer.begin_batch(f.framing);
    CHECK(f.pending().size() == 5 + 2);
    CHECK(f.writer.consume(7));
    CHECK(f.retire() == ids{4});
}

TEST_CASE("frame_writer: a batch of frames framed as nothing has no bytes", "[frame_writer]") {
    // A Framing may encode an empty frame as no bytes at all; the batch still retires it.
    struct bare_framing : line_framing {
        std::size_t encode_trailer(char*) const noexcept { return 0; }
    };
    fixture<bare_framing> f;
    f.send(1, "");
    CHECK(f.try_send(""));
    CHECK(f.writer.begin_batch(f.framing));
    CHECK(f.writer.batch_empty());
    CHECK(f.buffer_count() == 0);
    CHECK(f.writer.consume(0));
    CHECK(f.retire() == ids{1, 100});
    CHECK_FALSE(f.writer.writing());
}

TEST_CASE("frame_writer: at the end, unsent frames come back first, the batch when its write ends",
          "[frame_writer]") {
    fixture<> f;
    f.send(1, "a");
    CHECK(f.try_send("b"));
    f.writer.queue_ping(9);
    f.writer.begin_batch(f.framing);
    f.send(2, "c");
    CHECK(f.try_send("d"));
    f.send(3, "e");
    CHECK(f.writer.queue_pong(5));

    CHECK(f.drop_unsent() == ids{2, 101, 3});
    CHECK(f.writer.writing()); // the batch in flight stays
    CHECK_FALSE(f.writer.consume(1));
    CHECK(f.writer.end_batch()); // failed: the PING is forgotten all the same
    CHECK_FALSE(f.writer.end_batch());
    CHECK(f.drop_unsent().empty()); // the batch's nodes are still marked as written
    std::vector<int> failed;
    f.writer.retire_batch([&](fixture<>::node* n) { failed.push_back(n->id); });
    CHECK(failed == ids{1, 100});
    CHECK(f.queued().empty());
}

TEST_CASE("frame_writer: a frame not yet written can be cancelled, one being written cannot",
          "[frame_writer]") {
    fixture<> f;
    auto* a = f.send_node(1, "a");
    auto* b = f.send_node(2, "b");
    auto* c = f.send_node(3, "c");
    CHECK(f.writer.cancel(b));
    CHECK(f.write_batch() == "a\nc\n");
    auto* d = f.send_node(4, "d");
    CHECK_FALSE(f.writer.cancel(a)); // its bytes went out
    CHECK_FALSE(f.writer.cancel(c));
    CHECK(f.retire() == ids{1, 3});
    CHECK(f.writer.cancel(d));
    CHECK_FALSE(f.writer.has_output());
    CHECK(f.queued().empty());
}

TEST_CASE("frame_writer: frames are accepted at once below the mark while no sender waits",
          "[frame_writer][high_water]") {
    fixture<> f;
    const std::size_t mark = 200;
    CHECK(f.writer.accepts_at_once(mark)); // empty
    // Accepted frames (the session copies them like try_send's) count their bytes...
    CHECK(f.try_send(std::string(60, 'a')));
    CHECK(f.writer.accepts_at_once(mark)); // 61 + node_cost
    CHECK(f.try_send(std::string(60, 'b')));
    CHECK(f.writer.accepts_at_once(mark)); // 122 + node_cost: the same buffer
    CHECK(f.try_send(std::string(60, 'c')));
    CHECK_FALSE(f.writer.accepts_at_once(mark)); // 183 + node_cost: past the mark
    // ...and a detached node of its own (a large accepted frame) waits for nobody.
    fixture<> g;
    auto* own = g.make(7);
    own->data.detached = true;
    REQUIRE(g.writer.push(g.framing, own, std::string(10, 'x')));
    CHECK(g.writer.accepts_at_once(mark));
    CHECK(g.write_batch() == std::string(10, 'x') + "\n");
    CHECK(g.retire() == ids{7});
    CHECK(g.writer.accepts_at_once(1)); // nothing left: even the smallest mark
}

TEST_CASE("frame_writer: a waiting sender or flush holds back acceptance until it leaves the "
          "queue",
          "[frame_writer][high_water]") {
    const std::size_t mark = std::size_t{1} << 20;
    SECTION("a send that waits, until written") {
        fixture<> f;
        f.send(1, "w");
        CHECK_FALSE(f.writer.accepts_at_once(mark));
        CHECK(f.write_batch() == "w\n");
        CHECK_FALSE(f.writer.accepts_at_once(mark)); // written, not yet retired
        CHECK(f.retire() == ids{1});
        CHECK(f.writer.accepts_at_once(mark));
    }
    SECTION("a send that waits, until cancelled") {
        fixture<> f;
        auto* n = f.send_node(1, "w");
        CHECK(f.writer.cancel(n));
        CHECK(f.writer.accepts_at_once(mark));
    }
    SECTION("a flush: no bytes, no cost; a batch stops before it, and it comes back once first") {
        fixture<> f;
        CHECK(f.try_send("a"));
        auto* flush = f.make(2);
        f.writer.push_flush(flush);
        CHECK_FALSE(f.writer.accepts_at_once(mark));
        CHECK(f.try_send("b")); // try_send is not held back: behind the flush, in a new buffer
        CHECK(f.write_batch() == "a\n");
        ids flushed;
        f.writer.retire_flushes([&](fixture<>::node* n) { flushed.push_back(n->id); });
        CHECK(flushed.empty()); // the batch is still in flight
        CHECK(f.retire() == ids{100});
        f.writer.retire_flushes([&](fixture<>::node* n) { flushed.push_back(n->id); });
        CHECK(flushed == ids{2});
        CHECK(f.write_batch() == "b\n");
        CHECK(f.retire() == ids{101});
        CHECK(f.writer.accepts_at_once(1));
        CHECK_FALSE(f.writer.has_output());
    }
    SECTION("a flush alone is no batch: it comes back at once") {
        fixture<> f;
        f.writer.push_flush(f.make(3));
        CHECK_FALSE(f.writer.begin_batch(f.framing));
        ids flushed;
        f.writer.retire_flushes([&](fixture<>::node* n) { flushed.push_back(n->id); });
        CHECK(flushed == ids{3});
        CHECK(f.writer.accepts_at_once(1));
    }
    SECTION("a flush is never refused, even past the limit, and is never part of a write") {
        fixture<> f(100);
        CHECK(f.try_send(std::string(90, 'a')));
        CHECK_FALSE(f.try_send("b")); // full
        auto* flush = f.make(4);
        f.writer.push_flush(flush);
        CHECK(f.write_batch() == std::string(90, 'a') + "\n");
        CHECK(f.writer.cancel(flush)); // a write in flight does not hold it
        CHECK(f.retire() == ids{100});
        CHECK_FALSE(f.writer.has_output());
    }
    SECTION("a flush does not make the queue count as holding frames: a frame up to the "
            "limit is taken") {
        fixture<> f(100);
        f.writer.push_flush(f.make(5));
        CHECK(f.send(6, std::string(120, 'x'))); // over the limit, but the queue holds no bytes
        CHECK(f.try_send(std::string(120, 'y')) == false); // now it does
    }
    SECTION("the session ends: dropped like any waiting node") {
        fixture<> f;
        f.writer.push_flush(f.make(7));
        f.send(8, "x");
        CHECK(f.drop_unsent() == ids{7, 8});
        CHECK(f.writer.accepts_at_once(1));
    }
}

TEST_CASE("frame_writer: try_send joins a detached node only when its framing is inside the "
          "payload",
          "[frame_writer][high_water]") {
    fixture<> f;
    auto* own = f.make(1);
    own->data.detached = true;
    REQUIRE(f.writer.push(f.framing, own, "large")); // its '\n' is a trailer of its own
    CHECK(f.try_send("small"));
    CHECK(f.made == 1); // a new buffer: appending to "large" would put "small" before its '\n'
    CHECK(f.write_batch() == "large\nsmall\n");
    CHECK(f.retire() == ids{1, 100});
}
