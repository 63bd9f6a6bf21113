// line_framing: the decoder on its own (every split, edge cases, limits), the encoder and
// validate(), then lines over a real socket.
#include "support.hpp"

namespace {

using hbt::data_frame;
using hbt::decode_bytewise;
using hbt::decode_pieces;
using hbt::decode_whole;
using hbt::ping_frame;
using hbt::pong_frame;
using heartbeat::line_framing;

constexpr std::size_t max_size = 16;

/// The decoder's view of one stream, checked to be the same however it is cut.
hbt::decode_log decode_every_way(const std::string& stream, std::size_t max = max_size) {
    const hbt::decode_log whole = decode_whole<line_framing>(stream, max);
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        INFO("split after byte " << cut);
        const hbt::decode_log split = decode_pieces<line_framing>(stream, {cut}, max);
        CHECK(split.frames == whole.frames);
        CHECK(split.failed == whole.failed);
        CHECK(split.error == whole.error);
        CHECK(split.leftover == whole.leftover);
    }
    const hbt::decode_log bytewise = decode_bytewise<line_framing>(stream, max);
    CHECK(bytewise.frames == whole.frames);
    CHECK(bytewise.failed == whole.failed);
    CHECK(bytewise.error == whole.error);
    CHECK(bytewise.leftover == whole.leftover);
    return whole;
}

} // namespace

TEST_CASE("line_framing decodes many frames per buffer identically at every split",
          "[line_framing]") {
    const std::string stream = "hello\nPING\nworld\r\n\nPONG\r\nping\nx\n";
    const auto log = decode_every_way(stream);
    CHECK_FALSE(log.failed);
    CHECK(log.leftover == 0);
    const std::vector<hbt::decoded> expected = {
        data_frame("hello"), ping_frame(),       data_frame("world"), data_frame(""),
        pong_frame(),        data_frame("ping"), data_frame("x"),
    };
    CHECK(log.frames == expected);
}

TEST_CASE("line_framing edge cases", "[line_framing]") {
    SECTION("CRLF alone is an empty line") {
        CHECK(decode_every_way("\r\n").frames == std::vector<hbt::decoded>{data_frame("")});
    }
    SECTION("empty lines are empty data frames") {
        CHECK(decode_every_way("\n\n").frames ==
              std::vector<hbt::decoded>{data_frame(""), data_frame("")});
    }
    SECTION("every CR right before LF belongs to the line ending; others are payload") {
        CHECK(decode_every_way("a\rb\n").frames == std::vector<hbt::decoded>{data_frame("a\rb")});
        CHECK(decode_every_way("\r\r\n").frames == std::vector<hbt::decoded>{data_frame("")});
        CHECK(decode_every_way("x\r\r\n").frames == std::vector<hbt::decoded>{data_frame("x")});
        CHECK(decode_every_way("\ra\n").frames == std::vector<hbt::decoded>{data_frame("\ra")});
    }
    SECTION("a CR without LF waits for more") {
        const auto log = decode_every_way("abc\r");
        CHECK(log.frames.empty());
        CHECK_FALSE(log.failed);
        CHECK(log.leftover == 4);
    }
    SECTION("NUL bytes are payload") {
        const std::string nul("a\0b\0", 4);
        CHECK(decode_every_way(nul + "\n" + std::string(1, '\0') + "\n").frames ==
              std::vector<hbt::decoded>{data_frame(nul), data_frame(std::string(1, '\0'))});
    }
    SECTION("heartbeats are exactly PING and PONG, with or without CR") {
        CHECK(decode_every_way("PING\r\nPONG\n").frames ==
              std::vector<hbt::decoded>{ping_frame(), pong_frame()});
        CHECK(decode_every_way("PING \n PING\nPINGPONG\nPIN\nPONG\r\r\n").frames ==
              std::vector<hbt::decoded>{data_frame("PING "), data_frame(" PING"),
                                        data_frame("PINGPONG"), data_frame("PIN"), pong_frame()});
    }
    SECTION("heartbeats carry no payload and no id") {
        line_framing f;
        const auto r = f.decode("PING\n", 5, max_size);
        REQUIRE(r.status == heartbeat::decode_result::frame);
        CHECK(r.kind == heartbeat::frame_kind::ping);
        CHECK(r.payload_size == 0u);
        CHECK(r.consumed == 5u);
        CHECK(r.heartbeat_id == 0u);
    }
    SECTION("an unfinished line is left buffered") {
        const auto log = decode_every_way("one\ntw");
        CHECK(log.frames == std::vector<hbt::decoded>{data_frame("one")});
        CHECK(log.leftover == 2);
    }
}

TEST_CASE("line_framing max_frame_size limits", "[line_framing]") {
    const std::string max(max_size, 'm');
    SECTION("exactly max_frame_size is accepted, with LF or CRLF") {
        CHECK(decode_every_way(max + "\n" + max + "\r\n").frames ==
              std::vector<hbt::decoded>{data_frame(max), data_frame(max)});
    }
    SECTION("max_frame_size + 1 with its LF fails with frame_too_large") {
        const auto log = decode_every_way("ok\n" + max + "x\n");
        CHECK(log.frames == std::vector<hbt::decoded>{data_frame("ok")});
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
    }
    SECTION("max_frame_size + 1 with CRLF fails too") {
        const auto log = decode_every_way(max + "x\r\n");
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
    }
    SECTION("an oversized line fails before its LF arrives") {
        // max + 1 bytes may still be max bytes and a CR: wait. One more byte cannot be.
        auto log = decode_every_way(max + "\r");
        CHECK_FALSE(log.failed);
        log = decode_every_way(max + "xy");
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
        log = decode_every_way(std::string(10 * max_size, 'z'));
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
    }
    SECTION("a tiny max_frame_size still lets heartbeats through") {
        // PING is 4 bytes, above a max_frame_size of 1: heartbeats are framing, not payload.
        const auto log = decode_whole<line_framing>("PING\nx\n", 4);
        CHECK(log.frames == std::vector<hbt::decoded>{ping_frame(), data_frame("x")});
    }
}

TEST_CASE("line_framing resumes its scan on a long line fed byte by byte", "[line_framing]") {
    const std::string line(5000, 'q');
    const auto log = decode_bytewise<line_framing>(line + "\n" + "PING\n", 8192);
    CHECK(log.frames == std::vector<hbt::decoded>{data_frame(line), ping_frame()});
}

TEST_CASE("line_framing encodes what it decodes", "[line_framing]") {
    line_framing f;
    char header[8] = {};
    char trailer[8] = {};
    CHECK(f.encode_header(3, header) == 0u);
    REQUIRE(f.encode_trailer(trailer) == 1u);
    CHECK(trailer[0] == '\n');
    CHECK(line_framing::max_trailer_size >= 1u);
    CHECK_FALSE(line_framing::heartbeat_ids);

    char hb[line_framing::max_heartbeat_size] = {};
    REQUIRE(f.encode_heartbeat(heartbeat::frame_kind::ping, 42, hb) == 5u);
    CHECK(std::string(hb, 5) == "PING\n");
    REQUIRE(f.encode_heartbeat(heartbeat::frame_kind::pong, 42, hb) == 5u);
    CHECK(std::string(hb, 5) == "PONG\n");

    const std::string payload = "round trip";
    const auto log = decode_whole<line_framing>(payload + std::string(trailer, 1), max_size);
    CHECK(log.frames == std::vector<hbt::decoded>{data_frame(payload)});
}

TEST_CASE("line_framing validate refuses what a line cannot carry", "[line_framing]") {
    const line_framing f;
    auto check = [&](const std::string& s) {
        return f.validate(s.data(), s.size());
    };
    CHECK(check("a\nb") == heartbeat::error::invalid_frame);
    CHECK(check("\n") == heartbeat::error::invalid_frame);
    CHECK(check("trailing\n") == heartbeat::error::invalid_frame);
    CHECK(check("PING") == heartbeat::error::invalid_frame);
    CHECK(check("PONG") == heartbeat::error::invalid_frame);
    CHECK(check("cr\r") == heartbeat::error::invalid_frame);
    CHECK_FALSE(check(""));
    CHECK_FALSE(check("ping"));
    CHECK_FALSE(check("PING!"));
    CHECK_FALSE(check("a\rb"));
    CHECK_FALSE(check(std::string("nul\0inside", 10)));
}

namespace {

line_framing crlf_framing(std::string ping = "PING", std::string pong = "PONG") {
    line_framing::config c;
    c.line_ending = "\r\n";
    c.ping = std::move(ping);
    c.pong = std::move(pong);
    return line_framing(c);
}

std::string encode(const line_framing& f, const std::string& payload) {
    char trailer[line_framing::max_trailer_size] = {};
    return payload + std::string(trailer, f.encode_trailer(trailer));
}

std::string heartbeat_line(const line_framing& f, heartbeat::frame_kind kind) {
    char hb[line_framing::max_heartbeat_size] = {};
    return std::string(hb, f.encode_heartbeat(kind, 0, hb));
}

} // namespace

TEST_CASE("line_framing configured for CRLF sends CRLF and still reads either ending",
          "[line_framing]") {
    const line_framing f = crlf_framing();
    CHECK(f.line_ending() == "\r\n");
    CHECK(encode(f, "hello") == "hello\r\n");
    CHECK(heartbeat_line(f, heartbeat::frame_kind::ping) == "PING\r\n");
    CHECK(heartbeat_line(f, heartbeat::frame_kind::pong) == "PONG\r\n");
    const auto log = decode_whole("a\nb\r\nPING\nPONG\r\n", max_size, f);
    CHECK(log.frames ==
          std::vector<hbt::decoded>{data_frame("a"), data_frame("b"), ping_frame(), pong_frame()});
    // The default stays LF.
    CHECK(line_framing().line_ending() == "\n");
    CHECK(line_framing().ping_word() == "PING");
    CHECK(line_framing().pong_word() == "PONG");
}

TEST_CASE("line_framing with its own heartbeat words", "[line_framing]") {
    const line_framing f = crlf_framing("HEARTBEAT-PING!!", "ok");
    CHECK(f.ping_word() == "HEARTBEAT-PING!!");
    CHECK(heartbeat_line(f, heartbeat::frame_kind::ping) == "HEARTBEAT-PING!!\r\n");
    CHECK(heartbeat_line(f, heartbeat::frame_kind::pong) == "ok\r\n");
    // The words are heartbeats even above a small max_frame_size; PING and PONG are now data.
    const auto log = decode_whole("HEARTBEAT-PING!!\nok\r\nPING\nPONG\n", 4, f);
    CHECK(log.frames == std::vector<hbt::decoded>{ping_frame(), pong_frame(), data_frame("PING"),
                                                  data_frame("PONG")});
    CHECK_FALSE(log.failed);
    CHECK(f.validate("ok", 2) == heartbeat::error::invalid_frame);
    CHECK(f.validate("HEARTBEAT-PING!!", 16) == heartbeat::error::invalid_frame);
    CHECK_FALSE(f.validate("PING", 4));
    // Copies share the words.
    const line_framing copy = f;
    CHECK(copy.pong_word() == "ok");
}

TEST_CASE("line_framing refuses invalid configurations, naming the field", "[line_framing]") {
    auto refused = [](auto change) -> std::string {
        line_framing::config c;
        change(c);
        try {
            const line_framing f(c);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "accepted";
    };
    using config = line_framing::config;
    CHECK(refused([](config&) {}) == "accepted");
    CHECK(refused([](config& c) { c.line_ending = "\r"; }).find("line_ending") !=
          std::string::npos);
    CHECK(refused([](config& c) { c.line_ending = ""; }).find("line_ending") != std::string::npos);
    CHECK(refused([](config& c) { c.ping = ""; }).find("::ping: must not be empty") !=
          std::string::npos);
    CHECK(refused([](config& c) { c.pong = ""; }).find("::pong: must not be empty") !=
          std::string::npos);
    CHECK(refused([](config& c) { c.pong = "PING"; }).find("must differ") != std::string::npos);
    CHECK(refused([](config& c) { c.ping = "PI\nNG"; }).find("line break") != std::string::npos);
    CHECK(refused([](config& c) { c.pong = "PONG\r"; }).find("line break") != std::string::npos);
    CHECK(refused([](config& c) { c.ping = std::string(17, 'p'); }).find("at most 16") !=
          std::string::npos);
    CHECK(refused([](config& c) { c.ping = std::string(16, 'p'); }) == "accepted");
}

TEST_CASE("every frame line_framing delivers can be sent back unchanged", "[line_framing]") {
    // A property over random streams of the bytes that matter to lines: whatever the decoder
    // delivers, validate() accepts, and the encoded frame decodes to the same payload.
    const std::string alphabet = std::string("\r\n\r\nPINGO a") + '\0';
    std::uint64_t state = 0x243f6a8885a308d3ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (const line_framing& f : {line_framing(), crlf_framing(), crlf_framing("PI", "PO")}) {
        std::size_t delivered = 0;
        for (int round = 0; round < 2000; ++round) {
            std::string stream;
            const std::size_t length = next() % 40;
            for (std::size_t i = 0; i < length; ++i)
                stream += alphabet[next() % alphabet.size()];
            const auto log = decode_whole(stream, max_size, f);
            for (const auto& d : log.frames) {
                if (d.kind != heartbeat::frame_kind::data)
                    continue;
                ++delivered;
                INFO("stream " << hbt::data_frame(stream) << ", frame " << d);
                REQUIRE_FALSE(f.validate(d.payload.data(), d.payload.size()));
                const auto again = decode_whole(encode(f, d.payload), max_size, f);
                REQUIRE(again.frames == std::vector<hbt::decoded>{d});
            }
        }
        CHECK(delivered > 1000);
    }
}

TEST_CASE("line frames split at every byte over a socket arrive intact", "[line_framing][socket]") {
    using namespace hbt;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 0ms;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));

    const std::string stream = "alpha\nPING\nbe\r\nta\n\n" + std::string(300, 'g') + "\nomega\n";
    // One byte per write, a little apart, then the whole stream again in a single write.
    peer.trickle(stream, 1, 1ms).write(stream).start();
    peer.start_reading();

    outcome run;
    s->async_run(run.handler());
    collector<line_session> got(s);
    REQUIRE(run_until(ioc, [&] { return got.size() >= 12 || run.done(); }));
    CHECK_FALSE(run.done());
    const std::vector<std::string> expected = {
        "alpha", "be", "ta", "", std::string(300, 'g'), "omega",
        "alpha", "be", "ta", "", std::string(300, 'g'), "omega",
    };
    CHECK(got.frames() == expected);
    // The PINGs were heartbeats: answered, not delivered.
    CHECK(s->statistics().pings_received == 2u);
    REQUIRE(run_until(ioc, [&] { return count_of(peer.received(), "PONG\n") >= 1; }));

    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
    CHECK(run.ec() == asio::error::operation_aborted);
}

TEST_CASE("exactly max_frame_size over a socket is delivered and one more byte is refused",
          "[line_framing][socket]") {
    using namespace hbt;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.max_frame_size = 1000;
    o.ping_interval = 0ms;
    auto s = std::make_shared<line_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    const std::string max(1000, 'M');
    peer.write(max + "\n").write(max + "\r\n").write(max + "x\n").start();

    outcome run;
    s->async_run(run.handler());
    collector<line_session> got(s);
    REQUIRE(run_until(ioc, [&] { return run.done() && got.ended(); }));
    CHECK(run.ec() == heartbeat::error::frame_too_large);
    CHECK(got.frames() == std::vector<std::string>{max, max});
    CHECK(got.ec() == heartbeat::error::frame_too_large);
}
