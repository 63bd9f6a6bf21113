// The Framing concept: how frames are cut out of the byte stream and how they are written.
//
// A Framing is a default-constructible class; each session owns one instance, so a decoder may
// keep state between calls (for instance how far it already scanned for a delimiter).
//
//   decode_result decode(const char* data, std::size_t size, std::size_t max_frame_size);
//       Looks at the unconsumed bytes [data, data + size). Returns `need_more` when no whole frame
//       is there yet; `frame` with its kind, the payload's offset and size within `data`, the
//       bytes it `consumed` and, for heartbeats that carry one, their `heartbeat_id`; or `failed`
//       with an error (frame_too_large, protocol). It must fail rather than ask for more once
//       `size` exceeds max(max_frame_size + max_overhead, max_heartbeat_size): the session never
//       buffers more than that. Heartbeats are the library's own frames: accept them whatever
//       max_frame_size is.
//   std::size_t encode_header(std::size_t payload_size, char* out);
//   std::size_t encode_trailer(char* out);
//       Write the bytes that go before / after a data payload (at most max_header_size /
//       max_trailer_size of them) and return how many.
//   std::size_t encode_heartbeat(frame_kind kind, std::uint64_t id, char* out);
//       Write a whole PING or PONG frame (at most max_heartbeat_size bytes).
//   error_code validate(const char* data, std::size_t size) const;
//       Whether this payload can be sent as a data frame (a line cannot hold a newline).
//   static constexpr std::size_t max_header_size, max_trailer_size, max_overhead,
//       max_heartbeat_size;
//   static constexpr bool heartbeat_ids;
//       Whether PINGs carry an id that the PONG echoes. With ids, each PONG is matched to the
//       exact PING that caused it (a coalesced PONG answers every PING up to its id); without,
//       PONGs are matched to outstanding PINGs in order.
#ifndef HEARTBEAT_FRAMING_HPP
#define HEARTBEAT_FRAMING_HPP

#include <heartbeat/detail/config.hpp>

#include <cstddef>
#include <cstdint>

HEARTBEAT_NAMESPACE_BEGIN

enum class frame_kind : unsigned char { data, ping, pong };

struct decode_result {
    enum status_type : unsigned char { need_more, frame, failed };

    status_type status = need_more;
    frame_kind kind = frame_kind::data;
    std::size_t payload_offset = 0;
    std::size_t payload_size = 0;
    std::size_t consumed = 0;
    std::uint64_t heartbeat_id = 0;
    error_code error{};

    static decode_result more() noexcept { return {}; }
    static decode_result fail(error_code ec) noexcept {
        decode_result r;
        r.status = failed;
        r.error = ec;
        return r;
    }
    static decode_result make(frame_kind kind, std::size_t offset, std::size_t size,
                              std::size_t consumed, std::uint64_t id = 0) noexcept {
        decode_result r;
        r.status = frame;
        r.kind = kind;
        r.payload_offset = offset;
        r.payload_size = size;
        r.consumed = consumed;
        r.heartbeat_id = id;
        return r;
    }
};

HEARTBEAT_NAMESPACE_END

#endif
