// Reference decoders for the two wire formats, written from their documentation and from
// nothing else: whole-buffer, stateless, no chunking. The fuzzers and the hostile-input tests
// compare the library's incremental decoders (and whole sessions) against them.
#ifndef HEARTBEAT_TESTS_FUZZ_REFERENCE_FRAMING_HPP
#define HEARTBEAT_TESTS_FUZZ_REFERENCE_FRAMING_HPP

#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hbref {

struct frame {
    heartbeat::frame_kind kind = heartbeat::frame_kind::data;
    std::string payload;  // data frames only
    std::uint64_t id = 0; // heartbeats of framings with ids

    friend bool operator==(const frame& a, const frame& b) {
        return a.kind == b.kind && a.payload == b.payload && a.id == b.id;
    }
    friend bool operator!=(const frame& a, const frame& b) { return !(a == b); }
};

struct result {
    std::vector<frame> frames;
    std::error_code error;    // set when the stream is malformed at `consumed`
    std::size_t consumed = 0; // bytes taken by the frames
};

/// Lines ending in '\n'; every '\r' right before it belongs to the line ending and is dropped;
/// the lines `ping` and `pong` (by default "PING" and "PONG") are heartbeats, accepted whatever
/// max_frame_size is; another line longer than max_frame_size is frame_too_large. A line whose
/// bytes before the '\n' (its '\r's included) outnumber max(max_frame_size, longest word) + 1 is
/// frame_too_large too, as soon as that many bytes without '\n' are seen: the one extra byte
/// may be a '\r', more cannot be buffered.
inline result decode_line_words(std::string_view s, std::size_t max_frame_size,
                                std::string_view ping, std::string_view pong) {
    result r;
    const std::size_t bound = std::max({max_frame_size, ping.size(), pong.size()}) + 1;
    std::size_t pos = 0;
    for (;;) {
        const std::size_t nl = s.find('\n', pos);
        if (nl == std::string_view::npos) {
            if (s.size() - pos > bound)
                r.error = heartbeat::error::frame_too_large;
            break;
        }
        if (nl - pos > bound) {
            r.error = heartbeat::error::frame_too_large;
            break;
        }
        std::size_t len = nl - pos;
        while (len > 0 && s[pos + len - 1] == '\r')
            --len;
        frame f;
        const std::string_view line = s.substr(pos, len);
        if (line == ping) {
            f.kind = heartbeat::frame_kind::ping;
        } else if (line == pong) {
            f.kind = heartbeat::frame_kind::pong;
        } else if (len > max_frame_size) {
            r.error = heartbeat::error::frame_too_large;
            break;
        } else {
            f.payload = std::string(line);
        }
        r.frames.push_back(std::move(f));
        pos = nl + 1;
    }
    r.consumed = pos;
    return r;
}

/// decode_line_words with the default words.
inline result decode_line(std::string_view s, std::size_t max_frame_size) {
    return decode_line_words(s, max_frame_size, "PING", "PONG");
}

/// 4-byte big-endian length, a type byte (0 data, 1 PING, 2 PONG), the payload; heartbeats
/// carry exactly an 8-byte big-endian id, whatever max_frame_size is. A data length over
/// max_frame_size is refused from the header alone; a bad type or heartbeat length is a
/// protocol error.
inline result decode_length_prefixed(std::string_view s, std::size_t max_frame_size) {
    result r;
    std::size_t pos = 0;
    while (s.size() - pos >= 5) {
        const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
        const std::uint64_t len = (std::uint64_t(p[0]) << 24) | (std::uint64_t(p[1]) << 16) |
                                  (std::uint64_t(p[2]) << 8) | std::uint64_t(p[3]);
        frame f;
        if (p[4] == 0) {
            if (len > max_frame_size) {
                r.error = heartbeat::error::frame_too_large;
                break;
            }
        } else if (p[4] == 1 || p[4] == 2) {
            if (len != 8) {
                r.error = heartbeat::error::protocol;
                break;
            }
            f.kind = p[4] == 1 ? heartbeat::frame_kind::ping : heartbeat::frame_kind::pong;
        } else {
            r.error = heartbeat::error::protocol;
            break;
        }
        if (s.size() - pos - 5 < len)
            break;
        if (f.kind == heartbeat::frame_kind::data) {
            f.payload = std::string(s.substr(pos + 5, len));
        } else {
            for (std::size_t i = 0; i < 8; ++i)
                f.id = (f.id << 8) | p[5 + i];
        }
        r.frames.push_back(std::move(f));
        pos += 5 + len;
    }
    r.consumed = pos;
    return r;
}

/// Only the data frames' payloads.
inline std::vector<std::string> payloads(const std::vector<frame>& frames) {
    std::vector<std::string> out;
    for (const auto& f : frames)
        if (f.kind == heartbeat::frame_kind::data)
            out.push_back(f.payload);
    return out;
}

} // namespace hbref

#endif
