// docs/guide.md, "Framing": line_framing configured for a CRLF peer, a binary-safe session, and
// a Framing of one's own for a line protocol whose heartbeats are the words "ping" and "pong".
// Run as a test: the configured session sends CRLF lines and its words, binary frames echo
// intact, and the custom framing answers a raw peer's "ping" with "pong" and delivers its data.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <algorithm>
#include <cstring>
#include <string>

#include "snippet_support.hpp"

// begin-snippet: line_config
using line_session = heartbeat::heartbeat_session<asio::ip::tcp::socket>;

// For a peer that wants "\r\n" line endings (a telnet-style server) and whose heartbeats are
// the words "ping" and "pong". Its lines may end in "\n" or "\r\n" either way.
line_session crlf_session(asio::ip::tcp::socket socket, const heartbeat::options& opts) {
    heartbeat::line_framing::config crlf;
    crlf.line_ending = "\r\n";
    crlf.ping = "ping";
    crlf.pong = "pong";
    // line_framing's constructor throws std::invalid_argument for a bad config.
    return line_session(std::move(socket), opts, heartbeat::line_framing(crlf));
}
// end-snippet: line_config

// begin-snippet: length_prefixed
using binary_session =
    heartbeat::heartbeat_session<asio::ip::tcp::socket, heartbeat::length_prefixed_framing>;
// end-snippet: length_prefixed

// begin-snippet: custom
// Lines, as line_framing, for a peer whose heartbeats are "ping" and "pong" in lower case.
class lowercase_ping_framing {
public:
    static constexpr std::size_t max_header_size = 0;
    static constexpr std::size_t max_trailer_size = 1;   // "\n"
    static constexpr std::size_t max_overhead = 2;       // "\r\n" as a peer may send it
    static constexpr std::size_t max_heartbeat_size = 6; // "ping\r\n"
    static constexpr bool heartbeat_ids = false;         // PONGs answer PINGs in order

    heartbeat::decode_result decode(const char* data, std::size_t size,
                                    std::size_t max_frame_size) const noexcept {
        const void* newline = std::memchr(data, '\n', size);
        if (!newline) // fail once no frame (and no heartbeat) can fit any more
            return size > std::max<std::size_t>(max_frame_size, 4) + 1
                       ? heartbeat::decode_result::fail(heartbeat::error::frame_too_large)
                       : heartbeat::decode_result::more();
        const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - data);
        std::size_t length = end;
        while (length > 0 && data[length - 1] == '\r') // every CR before the LF, as line_framing
            --length;
        if (is_word(data, length, "ping"))
            return heartbeat::decode_result::make(heartbeat::frame_kind::ping, 0, 0, end + 1);
        if (is_word(data, length, "pong"))
            return heartbeat::decode_result::make(heartbeat::frame_kind::pong, 0, 0, end + 1);
        if (length > max_frame_size)
            return heartbeat::decode_result::fail(heartbeat::error::frame_too_large);
        return heartbeat::decode_result::make(heartbeat::frame_kind::data, 0, length, end + 1);
    }

    std::size_t encode_header(std::size_t, char*) const noexcept { return 0; }

    std::size_t encode_trailer(char* out) const noexcept {
        out[0] = '\n';
        return 1;
    }

    std::size_t encode_heartbeat(heartbeat::frame_kind kind, std::uint64_t,
                                 char* out) const noexcept {
        std::memcpy(out, kind == heartbeat::frame_kind::ping ? "ping\n" : "pong\n", 5);
        return 5;
    }

    // What the peer would not read back as the same data frame.
    heartbeat::error_code validate(const char* data, std::size_t size) const noexcept {
        if (std::memchr(data, '\n', size) || (size > 0 && data[size - 1] == '\r') ||
            is_word(data, size, "ping") || is_word(data, size, "pong"))
            return heartbeat::error::invalid_frame;
        return {};
    }

private:
    static bool is_word(const char* data, std::size_t size, const char* word) noexcept {
        return size == 4 && std::memcmp(data, word, 4) == 0;
    }
};

using lowercase_session =
    heartbeat::heartbeat_session<asio::ip::tcp::socket, lowercase_ping_framing>;
// end-snippet: custom

int main() {
    asio::io_context io;
    {
        // The configured line_framing against a raw peer: CRLF and the words out, either
        // ending in, and the frame it delivers can be sent back as it is.
        auto pair = snippet::loopback_pair(io);
        line_session session = crlf_session(std::move(pair.a), heartbeat::options());
        asio::ip::tcp::socket& peer = pair.b;
        bool ended = false;
        session.async_run([&](std::error_code) { ended = true; });
        session.async_receive([&](std::error_code ec, std::string frame) {
            snippet::expect(!ec && frame == "x", "every CR before the LF is line ending");
            session.async_send(std::move(frame), [](std::error_code ec) {
                snippet::expect(!ec, "a delivered frame can be sent back");
            });
        });
        asio::write(peer, asio::buffer(std::string("ping\nx\r\r\n")));
        std::string in;
        bool read_done = false;
        asio::async_read(peer, asio::dynamic_buffer(in), asio::transfer_exactly(9),
                         [&](std::error_code, std::size_t) { read_done = true; });
        snippet::run_until(io, [&] { return read_done; });
        snippet::expect(in == "pong\r\nx\r\n", "CRLF and the configured words out");
        session.close();
        snippet::run_until(io, [&] { return ended; });
        io.restart();
    }
    {
        // Binary frames, newlines and NULs included, both ways.
        auto pair = snippet::loopback_pair(io);
        binary_session a(std::move(pair.a)), b(std::move(pair.b));
        a.async_run([](std::error_code) {});
        b.async_run([](std::error_code) {});
        const std::string payload("PING\n\0\r\xff", 8);
        std::string got;
        a.async_send(payload, [](std::error_code ec) { snippet::expect(!ec, "binary send"); });
        b.async_receive([&](std::error_code ec, std::string frame) {
            snippet::expect(!ec, "binary receive");
            got = std::move(frame);
        });
        snippet::run_until(io, [&] { return !got.empty(); });
        snippet::expect(got == payload, "binary frame intact");
        a.close();
        b.close();
        io.restart();
        io.run_for(std::chrono::seconds(2));
    }
    {
        // A raw peer speaking the lowercase protocol.
        io.restart();
        auto pair = snippet::loopback_pair(io);
        lowercase_session session(std::move(pair.a));
        asio::ip::tcp::socket& peer = pair.b;
        bool ended = false;
        session.async_run([&](std::error_code) { ended = true; });
        std::string got;
        session.async_receive([&](std::error_code ec, std::string frame) {
            snippet::expect(!ec, "lowercase receive");
            got = std::move(frame);
        });
        bool refused = false;
        session.async_send(
            "pong", [&](std::error_code ec) { refused = ec == heartbeat::error::invalid_frame; });
        asio::write(peer, asio::buffer(std::string("ping\r\nPING\n")));
        std::string in;
        std::error_code read_ec;
        bool read_done = false;
        asio::async_read_until(peer, asio::dynamic_buffer(in), '\n',
                               [&](std::error_code ec, std::size_t) {
                                   read_ec = ec;
                                   read_done = true;
                               });
        snippet::run_until(io, [&] { return read_done && !got.empty() && refused; });
        snippet::expect(!read_ec && in == "pong\n", "the peer's ping is answered with pong");
        snippet::expect(got == "PING", "upper-case PING is data in this protocol");
        snippet::expect(refused, "the word pong cannot be sent as data");
        snippet::expect(session.statistics().pings_received == 1, "one heartbeat counted");
        session.close();
        snippet::run_until(io, [&] { return ended; });
    }
    return snippet::exit_code("guide_framing");
}
