// line_framing: frames are lines ending in '\n'; a '\r' before it is dropped. The lines "PING"
// and "PONG" are heartbeats, so a session speaks to telnet, nc and simple line-protocol peers.
#ifndef HEARTBEAT_LINE_FRAMING_HPP
#define HEARTBEAT_LINE_FRAMING_HPP

#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>

#include <cstring>

namespace heartbeat {

class line_framing {
public:
    static constexpr std::size_t max_header_size = 0;
    static constexpr std::size_t max_trailer_size = 1;
    static constexpr std::size_t max_overhead = 2;       // "\r\n"
    static constexpr std::size_t max_heartbeat_size = 6; // "PING\r\n" as a peer may send it
    static constexpr bool heartbeat_ids = false;

    decode_result decode(const char* data, std::size_t size, std::size_t max_frame_size) noexcept {
        // Resume the delimiter scan where the last call stopped: a long line trickling in
        // one byte at a time costs O(n), not O(n^2).
        const std::size_t from = scanned_ < size ? scanned_ : size;
        const void* nl = std::memchr(data + from, '\n', size - from);
        if (!nl) {
            scanned_ = size;
            // + a possible '\r' still waiting for its '\n'; a heartbeat always fits.
            if (size > (max_frame_size < 4 ? 4 : max_frame_size) + 1)
                return decode_result::fail(error::frame_too_large);
            return decode_result::more();
        }
        scanned_ = 0;
        const auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
        std::size_t len = end;
        if (len > 0 && data[len - 1] == '\r')
            --len;
        frame_kind kind = frame_kind::data;
        if (len == 4 && std::memcmp(data, "PING", 4) == 0)
            kind = frame_kind::ping;
        else if (len == 4 && std::memcmp(data, "PONG", 4) == 0)
            kind = frame_kind::pong;
        else if (len > max_frame_size)
            return decode_result::fail(error::frame_too_large);
        return decode_result::make(kind, 0, kind == frame_kind::data ? len : 0, end + 1);
    }

    std::size_t encode_header(std::size_t, char*) const noexcept { return 0; }

    std::size_t encode_trailer(char* out) const noexcept {
        out[0] = '\n';
        return 1;
    }

    std::size_t encode_heartbeat(frame_kind kind, std::uint64_t, char* out) const noexcept {
        std::memcpy(out, kind == frame_kind::ping ? "PING\n" : "PONG\n", 5);
        return 5;
    }

    error_code validate(const char* data, std::size_t size) const noexcept {
        if (size > 0 && std::memchr(data, '\n', size))
            return error::invalid_frame;
        // A trailing '\r' would be eaten by the peer's decoder, and the words PING and PONG
        // would be taken for heartbeats: neither would reach the peer's application intact.
        if (size > 0 && data[size - 1] == '\r')
            return error::invalid_frame;
        if (size == 4 && (std::memcmp(data, "PING", 4) == 0 || std::memcmp(data, "PONG", 4) == 0))
            return error::invalid_frame;
        return {};
    }

private:
    std::size_t scanned_ = 0;
};

} // namespace heartbeat

#endif
