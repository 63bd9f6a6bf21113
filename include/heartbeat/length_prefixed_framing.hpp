// length_prefixed_framing: a 4-byte big-endian payload length, a type byte, then the payload.
// Binary-safe. PINGs carry an 8-byte big-endian id that the PONG echoes.
#ifndef HEARTBEAT_LENGTH_PREFIXED_FRAMING_HPP
#define HEARTBEAT_LENGTH_PREFIXED_FRAMING_HPP

#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>

HEARTBEAT_NAMESPACE_BEGIN

class length_prefixed_framing {
public:
    enum type_byte : unsigned char { type_data = 0, type_ping = 1, type_pong = 2 };

    static constexpr std::size_t header_size = 5;
    static constexpr std::size_t id_size = 8;
    static constexpr std::size_t max_header_size = header_size;
    static constexpr std::size_t max_trailer_size = 0;
    static constexpr std::size_t max_overhead = header_size;
    static constexpr std::size_t max_heartbeat_size = header_size + id_size;
    static constexpr bool heartbeat_ids = true;

    decode_result decode(const char* data, std::size_t size,
                         std::size_t max_frame_size) const noexcept {
        if (size < header_size)
            return decode_result::more();
        const auto* p = reinterpret_cast<const unsigned char*>(data);
        const std::uint32_t len = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) |
                                  (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
        frame_kind kind{};
        switch (p[4]) {
        case type_data:
            kind = frame_kind::data;
            if (len > max_frame_size) // refuse before buffering a byte of it
                return decode_result::fail(error::frame_too_large);
            break;
        case type_ping:
            kind = frame_kind::ping;
            break;
        case type_pong:
            kind = frame_kind::pong;
            break;
        default:
            return decode_result::fail(error::protocol);
        }
        if (kind != frame_kind::data && len != id_size)
            return decode_result::fail(error::protocol);
        if (size - header_size < len)
            return decode_result::more();
        std::uint64_t id = 0;
        if (kind != frame_kind::data)
            for (std::size_t i = 0; i < id_size; ++i)
                id = (id << 8) | p[header_size + i];
        return decode_result::make(kind, header_size, kind == frame_kind::data ? len : 0,
                                   header_size + len, id);
    }

    std::size_t encode_header(std::size_t payload_size, char* out) const noexcept {
        put_header(out, static_cast<std::uint32_t>(payload_size), type_data);
        return header_size;
    }

    std::size_t encode_trailer(char*) const noexcept { return 0; }

    std::size_t encode_heartbeat(frame_kind kind, std::uint64_t id, char* out) const noexcept {
        put_header(out, id_size, kind == frame_kind::ping ? type_ping : type_pong);
        for (std::size_t i = 0; i < id_size; ++i)
            out[header_size + i] = static_cast<char>((id >> (8 * (id_size - 1 - i))) & 0xff);
        return header_size + id_size;
    }

    error_code validate(const char*, std::size_t) const noexcept { return {}; }

private:
    static void put_header(char* out, std::uint32_t len, unsigned char type) noexcept {
        out[0] = static_cast<char>((len >> 24) & 0xff);
        out[1] = static_cast<char>((len >> 16) & 0xff);
        out[2] = static_cast<char>((len >> 8) & 0xff);
        out[3] = static_cast<char>(len & 0xff);
        out[4] = static_cast<char>(type);
    }
};

HEARTBEAT_NAMESPACE_END

#endif
