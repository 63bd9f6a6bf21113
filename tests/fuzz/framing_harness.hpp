// The decoder fuzzers' harness: feeds a byte stream to a Framing the way a session does (one
// decoder instance, a buffer bounded by max_frame_size + max_overhead, decode until need_more,
// consume what a frame took), in chunks of fuzzer-chosen sizes, checking every decode_result.
//
// Input layout (fuzz_line_framing, fuzz_length_prefixed_framing):
//   2 bytes   max_frame_size = 1 + value % 2048
//   1 byte    k = 1 + value % 8 chunk sizes follow, each 1 + byte
//   rest      the stream
// Checks, for each input:
//   - every result: 0 < consumed <= size, the payload within consumed, data payloads at most
//     max_frame_size, heartbeats without payload, failures only frame_too_large or protocol,
//     need_more only below the buffer bound max(max_frame_size + max_overhead,
//     max_heartbeat_size) (framing.hpp): at the bound a session could read no further;
//   - the stream fed whole, in the chosen chunks and byte by byte gives the same frames and
//     the same error, and they are the reference decoder's (reference_framing.hpp);
//   - every data frame decoded can be sent back: validate() accepts it, and what was decoded,
//     encoded again with the same Framing, decodes to the same frames;
//   - payloads cut from the input and encoded decode to exactly those payloads.
#ifndef HEARTBEAT_TESTS_FUZZ_FRAMING_HARNESS_HPP
#define HEARTBEAT_TESTS_FUZZ_FRAMING_HARNESS_HPP

#include "fuzz_input.hpp"
#include "reference_framing.hpp"

#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace hbfuzz {

/// HBFUZZ_ALLOW_STUCK=1 records a full buffer that still needs more instead of failing, to keep
/// fuzzing past that known bug (BUGS.md, bug 2).
inline bool allow_stuck() {
    static const bool allow = [] {
        const char* v = std::getenv("HBFUZZ_ALLOW_STUCK");
        return v && *v && *v != '0';
    }();
    return allow;
}

template <class Framing>
struct decoded_stream {
    std::vector<hbref::frame> frames;
    heartbeat::error_code error;
    bool stuck = false; // need_more with a full buffer: a session would stop there

    bool operator==(const decoded_stream& o) const {
        return frames == o.frames && error == o.error && stuck == o.stuck;
    }
};

/// One decoder fed like a session feeds it.
template <class Framing>
class session_like_decoder {
public:
    session_like_decoder(std::size_t max_frame_size, const Framing& proto)
        : framing_(proto)
        , max_(max_frame_size)
        , limit_(std::max(max_frame_size + Framing::max_overhead, Framing::max_heartbeat_size)) {}

    bool done() const { return out_.error || out_.stuck; }
    const decoded_stream<Framing>& result() const { return out_; }

    /// Takes as much of [p, p + n) as the buffer bound lets in, decodes; returns bytes taken.
    std::size_t feed(const char* p, std::size_t n) {
        if (done())
            return 0;
        const std::size_t take = std::min(n, limit_ - buf_.size());
        buf_.append(p, take);
        decode();
        return take;
    }

private:
    void decode() {
        while (!done()) {
            const heartbeat::decode_result r = framing_.decode(buf_.data(), buf_.size(), max_);
            switch (r.status) {
            case heartbeat::decode_result::frame: {
                HBFUZZ_ASSERT(r.consumed > 0);
                HBFUZZ_ASSERT(r.consumed <= buf_.size());
                HBFUZZ_ASSERT(r.payload_offset <= r.consumed);
                HBFUZZ_ASSERT(r.payload_size <= r.consumed - r.payload_offset);
                HBFUZZ_ASSERT(!r.error);
                hbref::frame f;
                f.kind = r.kind;
                if (r.kind == heartbeat::frame_kind::data) {
                    HBFUZZ_ASSERT(r.payload_size <= max_);
                    f.payload.assign(buf_.data() + r.payload_offset, r.payload_size);
                } else {
                    HBFUZZ_ASSERT(r.payload_size == 0);
                    f.id = Framing::heartbeat_ids ? r.heartbeat_id : 0;
                }
                out_.frames.push_back(std::move(f));
                buf_.erase(0, r.consumed);
                break;
            }
            case heartbeat::decode_result::failed:
                HBFUZZ_ASSERT(r.error == heartbeat::error::frame_too_large ||
                              r.error == heartbeat::error::protocol);
                out_.error = r.error;
                return;
            case heartbeat::decode_result::need_more:
                // "It must fail rather than ask for more once size exceeds max(max_frame_size
                // + max_overhead, max_heartbeat_size)" (framing.hpp).
                HBFUZZ_ASSERT(buf_.size() <= limit_);
                // A full buffer that still needs more: the session could not read on.
                if (buf_.size() == limit_) {
                    out_.stuck = true;
                    if (!allow_stuck())
                        HBFUZZ_ASSERT(!"need_more with the buffer at its bound");
                }
                return;
            default:
                HBFUZZ_ASSERT(!"decode_result with an unknown status");
            }
        }
    }

    Framing framing_;
    std::size_t max_;
    std::size_t limit_;
    std::string buf_;
    decoded_stream<Framing> out_;
};

/// Decodes `stream` fed in chunks of the sizes in `plan`, cycled.
template <class Framing>
decoded_stream<Framing> decode_chunked(const Framing& proto, const std::string& stream,
                                       std::size_t max_frame_size,
                                       const std::vector<std::size_t>& plan) {
    session_like_decoder<Framing> d(max_frame_size, proto);
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < stream.size() && !d.done(); ++i) {
        const std::size_t chunk = std::min(plan[i % plan.size()], stream.size() - pos);
        const std::size_t took = d.feed(stream.data() + pos, chunk);
        if (took == 0)
            break;
        pos += took;
    }
    return d.result();
}

template <class Framing>
std::string encode_data(const Framing& f, const std::string& payload) {
    char header[Framing::max_header_size + 1];
    char trailer[Framing::max_trailer_size + 1];
    const std::size_t h = f.encode_header(payload.size(), header);
    const std::size_t t = f.encode_trailer(trailer);
    return std::string(header, h) + payload + std::string(trailer, t);
}

template <class Framing>
std::string encode_heartbeat(const Framing& f, heartbeat::frame_kind kind, std::uint64_t id) {
    char out[Framing::max_heartbeat_size + 1];
    return std::string(out, f.encode_heartbeat(kind, id, out));
}

/// Re-encodes frames; skips data payloads the framing refuses to send (they cannot have come
/// from a conforming sender), unless `decoded`: a frame the decoder delivered must be sendable.
template <class Framing>
std::vector<hbref::frame> encodable(const Framing& f, const std::vector<hbref::frame>& frames,
                                    std::size_t max, std::string& wire, bool decoded) {
    std::vector<hbref::frame> kept;
    for (const auto& fr : frames) {
        if (fr.kind == heartbeat::frame_kind::data) {
            const bool refused =
                fr.payload.size() > max || f.validate(fr.payload.data(), fr.payload.size());
            HBFUZZ_ASSERT(!(decoded && refused));
            if (refused)
                continue;
            wire += encode_data(f, fr.payload);
        } else {
            wire += encode_heartbeat(f, fr.kind, fr.id);
        }
        kept.push_back(fr);
    }
    return kept;
}

/// `proto`: the configured Framing each decoder copies; `reference` decodes like it.
template <class Framing, class Reference>
void fuzz_framing(const Framing& proto, const std::uint8_t* data, std::size_t size,
                  const Reference& reference) {
    input in(data, size);
    const std::size_t max = 1 + in.u16() % 2048;
    std::vector<std::size_t> plan(1 + in.byte() % 8);
    for (auto& c : plan)
        c = 1 + in.byte();
    const std::string stream = in.rest();

    // The same stream, three ways.
    const auto whole = decode_chunked(proto, stream, max, {stream.size() + 1});
    const auto chunked = decode_chunked(proto, stream, max, plan);
    HBFUZZ_ASSERT(whole == chunked);
    if (stream.size() <= 4096) {
        const auto bytewise = decode_chunked(proto, stream, max, {1});
        HBFUZZ_ASSERT(whole == bytewise);
    }

    // Against the reference (unless stuck, where HBFUZZ_ALLOW_STUCK lets that through).
    if (!whole.stuck) {
        const auto ref = reference(stream, max);
        HBFUZZ_ASSERT(whole.frames == ref.frames);
        HBFUZZ_ASSERT(whole.error == ref.error);
    }

    // Round trip of what was decoded.
    std::string wire;
    const auto kept = encodable(proto, whole.frames, max, wire, true);
    const auto again = decode_chunked(proto, wire, max, plan);
    HBFUZZ_ASSERT(!again.error);
    HBFUZZ_ASSERT(again.stuck || again.frames == kept);

    // Payloads cut from the input at the plan's sizes, with heartbeats between them.
    std::vector<hbref::frame> sent;
    std::string wire2;
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < stream.size() && i < 64; ++i) {
        const std::size_t n = std::min(plan[i % plan.size()] - 1, stream.size() - pos);
        hbref::frame f;
        f.payload = stream.substr(pos, n);
        pos += n + 1;
        if (n > 0 && static_cast<unsigned char>(f.payload[0]) % 7 == 0) {
            f.kind = static_cast<unsigned char>(f.payload[0]) % 2 ? heartbeat::frame_kind::ping
                                                                  : heartbeat::frame_kind::pong;
            f.id = Framing::heartbeat_ids ? std::hash<std::string>()(f.payload) : 0;
            f.payload.clear();
        }
        sent.push_back(std::move(f));
    }
    const auto kept2 = encodable(proto, sent, max, wire2, false);
    const auto got = decode_chunked(proto, wire2, max, plan);
    HBFUZZ_ASSERT(!got.error);
    HBFUZZ_ASSERT(got.stuck || got.frames == kept2);
}

} // namespace hbfuzz

#endif
