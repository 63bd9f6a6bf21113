// length_prefixed_framing: the decoder on its own (every split, bad headers, limits), the
// encoder, then binary frames and id-matched heartbeats over a real socket.
#include "support.hpp"

namespace {

using hbt::data_frame;
using hbt::decode_bytewise;
using hbt::decode_pieces;
using hbt::decode_whole;
using hbt::lp_data;
using hbt::lp_frame;
using hbt::ping_frame;
using hbt::pong_frame;
using heartbeat::length_prefixed_framing;

constexpr std::size_t max_size = 32;
constexpr unsigned char type_data = length_prefixed_framing::type_data;
constexpr unsigned char type_ping = length_prefixed_framing::type_ping;
constexpr unsigned char type_pong = length_prefixed_framing::type_pong;

std::string id_bytes(std::uint64_t id) {
    std::string s;
    for (int i = 7; i >= 0; --i)
        s.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
    return s;
}

hbt::decode_log decode_every_way(const std::string& stream, std::size_t max = max_size) {
    const hbt::decode_log whole = decode_whole<length_prefixed_framing>(stream, max);
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        INFO("split after byte " << cut);
        const hbt::decode_log split = decode_pieces<length_prefixed_framing>(stream, {cut}, max);
        CHECK(split.frames == whole.frames);
        CHECK(split.failed == whole.failed);
        CHECK(split.error == whole.error);
        CHECK(split.leftover == whole.leftover);
    }
    const hbt::decode_log bytewise = decode_bytewise<length_prefixed_framing>(stream, max);
    CHECK(bytewise.frames == whole.frames);
    CHECK(bytewise.failed == whole.failed);
    CHECK(bytewise.error == whole.error);
    CHECK(bytewise.leftover == whole.leftover);
    return whole;
}

} // namespace

TEST_CASE("length_prefixed_framing decodes many frames per buffer identically at every split",
          "[length_prefixed_framing]") {
    const std::string binary("\n\0\xff\r\x01", 5);
    const std::string stream = lp_data("hello") + lp_frame(8, type_ping, id_bytes(7)) +
                               lp_data(binary) + lp_data("") +
                               lp_frame(8, type_pong, id_bytes(0x0102030405060708ull)) +
                               lp_data(std::string(max_size, 'm'));
    const auto log = decode_every_way(stream);
    CHECK_FALSE(log.failed);
    CHECK(log.leftover == 0);
    const std::vector<hbt::decoded> expected = {
        data_frame("hello"),
        ping_frame(7),
        data_frame(binary),
        data_frame(""),
        pong_frame(0x0102030405060708ull),
        data_frame(std::string(max_size, 'm')),
    };
    CHECK(log.frames == expected);
}

TEST_CASE("length_prefixed_framing edge cases", "[length_prefixed_framing]") {
    SECTION("a header shorter than 5 bytes waits") {
        const auto log = decode_every_way(std::string("\0\0\0", 3));
        CHECK(log.frames.empty());
        CHECK_FALSE(log.failed);
        CHECK(log.leftover == 3);
    }
    SECTION("length 0 is an empty data frame of 5 bytes") {
        length_prefixed_framing f;
        const std::string bytes = lp_data("");
        const auto r = f.decode(bytes.data(), bytes.size(), max_size);
        REQUIRE(r.status == heartbeat::decode_result::frame);
        CHECK(r.kind == heartbeat::frame_kind::data);
        CHECK(r.payload_size == 0u);
        CHECK(r.consumed == 5u);
    }
    SECTION("a partial payload waits") {
        const auto log = decode_every_way(lp_data("full") + lp_data("partial").substr(0, 8));
        CHECK(log.frames == std::vector<hbt::decoded>{data_frame("full")});
        CHECK(log.leftover == 8);
    }
    SECTION("exactly max_frame_size is accepted") {
        CHECK(decode_every_way(lp_data(std::string(max_size, 'x'))).frames ==
              std::vector<hbt::decoded>{data_frame(std::string(max_size, 'x'))});
    }
    SECTION("max_frame_size + 1 fails at the header, before the payload arrives") {
        const auto log = decode_every_way(lp_frame(max_size + 1, type_data, ""));
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
    }
    SECTION("length 0xFFFFFFFF fails with frame_too_large") {
        const auto log = decode_every_way(lp_data("ok") + lp_frame(0xFFFFFFFFu, type_data, "abc"));
        CHECK(log.frames == std::vector<hbt::decoded>{data_frame("ok")});
        CHECK(log.failed);
        CHECK(log.error == heartbeat::error::frame_too_large);
    }
    SECTION("an unknown type byte is a protocol error") {
        for (unsigned type : {3u, 4u, 0x7fu, 0x80u, 0xffu}) {
            INFO("type byte " << type);
            const auto log = decode_every_way(lp_frame(1, static_cast<unsigned char>(type), "x"));
            CHECK(log.failed);
            CHECK(log.error == heartbeat::error::protocol);
        }
    }
    SECTION("a heartbeat whose payload is not 8 bytes is a protocol error") {
        for (std::uint32_t len : {0u, 1u, 7u, 9u, 16u, 0xFFFFFFFFu}) {
            for (unsigned char type : {type_ping, type_pong}) {
                INFO("length " << len << " type " << unsigned(type));
                const auto log = decode_every_way(lp_frame(len, type, std::string(9, 'i')));
                CHECK(log.failed);
                CHECK(log.error == heartbeat::error::protocol);
            }
        }
    }
    SECTION("heartbeat ids use all 64 bits, big-endian") {
        const auto log = decode_every_way(lp_frame(8, type_ping, id_bytes(~0ull)) +
                                          lp_frame(8, type_pong, id_bytes(0)) +
                                          lp_frame(8, type_ping, id_bytes(1ull << 63)));
        CHECK(log.frames ==
              std::vector<hbt::decoded>{ping_frame(~0ull), pong_frame(0), ping_frame(1ull << 63)});
    }
    SECTION("heartbeats pass even when max_frame_size is below their 8-byte id") {
        const auto log = decode_whole<length_prefixed_framing>(
            lp_frame(8, type_ping, id_bytes(5)) + lp_data("x"), 1);
        CHECK(log.frames == std::vector<hbt::decoded>{ping_frame(5), data_frame("x")});
    }
}

TEST_CASE("length_prefixed_framing encodes what it decodes", "[length_prefixed_framing]") {
    length_prefixed_framing f;
    char header[length_prefixed_framing::max_header_size] = {};
    REQUIRE(f.encode_header(0x01020304u, header) == 5u);
    CHECK(std::string(header, 5) == std::string("\x01\x02\x03\x04\x00", 5));
    REQUIRE(f.encode_header(3, header) == 5u);
    CHECK(std::string(header, 5) == lp_frame(3, type_data, ""));
    char trailer[1] = {};
    CHECK(f.encode_trailer(trailer) == 0u);
    CHECK(length_prefixed_framing::heartbeat_ids);

    char hb[length_prefixed_framing::max_heartbeat_size] = {};
    REQUIRE(f.encode_heartbeat(heartbeat::frame_kind::ping, 0x1122334455667788ull, hb) == 13u);
    CHECK(std::string(hb, 13) == lp_frame(8, type_ping, id_bytes(0x1122334455667788ull)));
    REQUIRE(f.encode_heartbeat(heartbeat::frame_kind::pong, 9, hb) == 13u);
    CHECK(std::string(hb, 13) == lp_frame(8, type_pong, id_bytes(9)));

    const std::string payload("bin\0\n\xff", 6);
    f.encode_header(payload.size(), header);
    const auto log = decode_whole<length_prefixed_framing>(std::string(header, 5) + payload, 64);
    CHECK(log.frames == std::vector<hbt::decoded>{data_frame(payload)});
    // Any payload can be carried.
    CHECK_FALSE(f.validate(payload.data(), payload.size()));
    CHECK_FALSE(f.validate("PING", 4));
    CHECK_FALSE(f.validate("", 0));
}

TEST_CASE("length-prefixed binary frames echo intact over a socket",
          "[length_prefixed_framing][socket]") {
    using namespace hbt;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.max_frame_size = 4096;
    auto a = std::make_shared<lp_session>(std::move(pair.a), o);
    auto b = std::make_shared<lp_session>(std::move(pair.b), o);
    outcome run_a, run_b;
    a->async_run(run_a.handler());
    b->async_run(run_b.handler());

    std::string all_bytes;
    for (int i = 0; i < 256; ++i)
        all_bytes.push_back(static_cast<char>(i));
    const std::vector<std::string> payloads = {
        std::string("line\nbreak\0nul", 14),
        "",
        "PING",
        "PONG",
        std::string(1, '\0'),
        all_bytes,
        std::string(4096, '\n'),
    };

    // b echoes every frame back.
    struct echo {
        std::weak_ptr<lp_session> s;
        void operator()(error_code ec, std::string frame) const {
            auto session = s.lock();
            if (ec || !session)
                return;
            session->async_send(std::move(frame), [](error_code) {});
            session->async_receive(*this);
        }
    };
    b->async_receive(echo{b});
    std::vector<outcome> sent(payloads.size());
    for (std::size_t i = 0; i < payloads.size(); ++i)
        a->async_send(payloads[i], sent[i].handler());
    collector<lp_session> got(a);

    REQUIRE(run_until(ioc, [&] { return got.size() == payloads.size() || run_a.done(); }));
    CHECK(got.frames() == payloads);
    for (const auto& s : sent)
        CHECK(s.ec() == error_code());
    CHECK_FALSE(run_b.done());

    a->close();
    REQUIRE(run_until(ioc, [&] { return run_a.done() && run_b.done(); }));
    CHECK(run_a.ec() == asio::error::operation_aborted);
    CHECK(closed_by_peer(run_b.ec()));
}

TEST_CASE("length-prefixed frames split at every byte over a socket arrive intact",
          "[length_prefixed_framing][socket]") {
    using namespace hbt;
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    auto pair = tcp_pair(ioc);
    heartbeat::options o = test_options();
    o.ping_interval = 0ms;
    o.max_frame_size = 64;
    auto s = std::make_shared<lp_session>(std::move(pair.a), o);
    raw_peer peer(std::move(pair.b));
    const std::string stream = lp_data("first") + lp_frame(8, type_ping, id_bytes(77)) +
                               lp_data(std::string("\0\n", 2)) + lp_data("") +
                               lp_data(std::string(64, 'L'));
    peer.trickle(stream, 1, 1ms).write(stream).start();
    peer.start_reading();

    outcome run;
    s->async_run(run.handler());
    collector<lp_session> got(s);
    REQUIRE(run_until(ioc, [&] { return got.size() >= 8 || run.done(); }));
    CHECK_FALSE(run.done());
    const std::vector<std::string> once = {"first", std::string("\0\n", 2), "",
                                           std::string(64, 'L')};
    std::vector<std::string> expected = once;
    expected.insert(expected.end(), once.begin(), once.end());
    CHECK(got.frames() == expected);
    // Both PINGs were answered with a PONG echoing id 77 (coalesced or not).
    REQUIRE(run_until(ioc, [&] { return peer.received().size() >= 13; }));
    CHECK(peer.received().substr(0, 13) == lp_frame(8, type_pong, id_bytes(77)));
    s->close();
    REQUIRE(run_until(ioc, [&] { return run.done(); }));
}

TEST_CASE("bad length-prefixed input from the peer ends the session",
          "[length_prefixed_framing][socket]") {
    using namespace hbt;
    struct scenario {
        const char* what;
        std::string bytes;
        heartbeat::error expected;
    };
    const scenario scenarios[] = {
        {"oversized data frame", lp_frame(65, type_data, std::string(10, 'x')),
         heartbeat::error::frame_too_large},
        {"length 0xFFFFFFFF", lp_frame(0xFFFFFFFFu, type_data, ""),
         heartbeat::error::frame_too_large},
        {"unknown type byte", lp_frame(1, 9, "x"), heartbeat::error::protocol},
        {"PING with a 4-byte id", lp_frame(4, type_ping, "abcd"), heartbeat::error::protocol},
    };
    for (const auto& sc : scenarios) {
        INFO(sc.what);
        asio::io_context ioc;
        drain_on_exit drain{ioc};
        auto pair = tcp_pair(ioc);
        heartbeat::options o = test_options();
        o.max_frame_size = 64;
        lp_session s(std::move(pair.a), o);
        raw_peer peer(std::move(pair.b));
        peer.write(lp_data("before")).write(sc.bytes).start();
        outcome run;
        frame_outcome first, second;
        s.async_run(run.handler());
        s.async_receive(first.handler());
        s.async_receive(second.handler());
        REQUIRE(run_until(ioc, [&] { return run.done() && second.done(); }));
        CHECK(run.ec() == sc.expected);
        CHECK(first.frame() == "before");
        CHECK(second.ec() == sc.expected);
        CHECK_FALSE(s.next_layer().is_open());
    }
}
