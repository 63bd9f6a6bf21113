// line_framing: frames are lines. A received line ends at '\n', and any '\r' right before it
// belongs to the line ending, so LF and CRLF peers are both understood whatever we send. Sent
// lines end in "\n" (the default) or "\r\n", as configured. Two words, "PING" and "PONG" by
// default, are the heartbeats, so a session speaks to telnet, nc and simple line-protocol peers.
//
// Symmetry: every data frame the decoder delivers can be sent back unchanged. A delivered
// payload never holds '\n', never ends in '\r' (those were the line ending) and is never one of
// the two words (those were heartbeats); validate() refuses exactly those payloads.
#ifndef HEARTBEAT_LINE_FRAMING_HPP
#define HEARTBEAT_LINE_FRAMING_HPP

#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>
#include <heartbeat/options.hpp>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

HEARTBEAT_NAMESPACE_BEGIN

namespace detail {

/// A line_framing's configuration as the hot path reads it: fixed arrays, no allocation.
struct line_words {
    static constexpr std::size_t max_word_size = 16;
    char ping[max_word_size];
    char pong[max_word_size];
    char ending[2];
    unsigned char ping_size;
    unsigned char pong_size;
    unsigned char ending_size;
    unsigned char longest_word;

    static const line_words& defaults() noexcept {
        static constexpr line_words words{
            {'P', 'I', 'N', 'G'}, {'P', 'O', 'N', 'G'}, {'\n'}, 4, 4, 1, 4};
        return words;
    }
};

} // namespace detail

class line_framing {
public:
    /// The longest heartbeat word accepted by config.
    static constexpr std::size_t max_word_size = detail::line_words::max_word_size;

    struct config {
        /// What ends every line we send: "\n" or "\r\n". Received lines may end in either.
        std::string line_ending = "\n";
        /// The heartbeat lines: non-empty, different, at most max_word_size bytes, without
        /// '\r' or '\n'.
        std::string ping = "PING";
        std::string pong = "PONG";

        /// The first field with a bad value, and why; false when the config is valid. Never
        /// throws.
        invalid_setting first_invalid() const noexcept {
            if (line_ending != "\n" && line_ending != "\r\n")
                return {"line_ending", R"(must be "\n" or "\r\n")"};
            if (const invalid_setting bad = check_word(ping, "ping"))
                return bad;
            if (const invalid_setting bad = check_word(pong, "pong"))
                return bad;
            if (ping == pong)
                return {"pong", "must differ from ping, or a PONG is taken for a PING"};
            return {};
        }
        /// Throws std::invalid_argument naming first_invalid()'s field and why (without
        /// exceptions: writes that to stderr and aborts).
        void validate() const {
            if (const invalid_setting bad = first_invalid())
                detail::refuse("heartbeat::line_framing::config::", bad);
        }

    private:
        static invalid_setting check_word(const std::string& word, const char* field) noexcept {
            if (word.empty())
                return {field, "must not be empty (an empty line is a data frame)"};
            if (word.size() > max_word_size)
                return {field, "must be at most 16 bytes"};
            if (word.find_first_of("\r\n") != std::string::npos)
                return {field, "must not contain a line break ('\\r' or '\\n')"};
            return {};
        }
    };

    static constexpr std::size_t max_header_size = 0;
    static constexpr std::size_t max_trailer_size = 2; // "\r\n"
    /// A received line may hold one '\r' beyond max_frame_size, then its '\n'.
    static constexpr std::size_t max_overhead = 2;
    static constexpr std::size_t max_heartbeat_size = max_word_size + 2;
    static constexpr bool heartbeat_ids = false;

    /// "\n" line endings, PING and PONG.
    line_framing() noexcept
        : words_(std::shared_ptr<const detail::line_words>(), &detail::line_words::defaults()) {}

    /// Throws std::invalid_argument when `c` is invalid (see config::validate). Sessions
    /// constructed with copies of one line_framing share its configuration.
    explicit line_framing(const config& c)
        : words_(make_words(c)) {}

    // Moving copies: a moved-from framing keeps its words, so it stays usable (a framing given
    // to one session by std::move may still be given to the next).
    line_framing(const line_framing&) = default;
    line_framing& operator=(const line_framing&) = default;
    line_framing(line_framing&& other) noexcept
        : words_(other.words_) // NOLINT(performance-move-constructor-init): copying is the point
        , scanned_(other.scanned_) {}
    line_framing& operator=(line_framing&& other) noexcept {
        words_ = other.words_;
        scanned_ = other.scanned_;
        return *this;
    }
    ~line_framing() = default;

    std::string_view line_ending() const noexcept { return {words_->ending, words_->ending_size}; }
    std::string_view ping_word() const noexcept { return {words_->ping, words_->ping_size}; }
    std::string_view pong_word() const noexcept { return {words_->pong, words_->pong_size}; }

    decode_result decode(const char* data, std::size_t size, std::size_t max_frame_size) noexcept {
        // Lines are bounded by the payload limit or the longest word (heartbeats are the
        // library's own frames), plus one '\r' that may still precede the '\n'.
        const std::size_t bound =
            (max_frame_size < words_->longest_word ? words_->longest_word : max_frame_size) + 1;
        // Resume the delimiter scan where the last call stopped: a long line trickling in
        // one byte at a time costs O(n), not O(n^2).
        const std::size_t from = scanned_ < size ? scanned_ : size;
        const void* nl = std::memchr(data + from, '\n', size - from);
        if (!nl) {
            scanned_ = size;
            if (size > bound)
                return decode_result::fail(error::frame_too_large);
            return decode_result::more();
        }
        scanned_ = 0;
        const auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
        if (end > bound) // the same verdict however the line was cut into reads
            return decode_result::fail(error::frame_too_large);
        std::size_t len = end;
        while (len > 0 && data[len - 1] == '\r')
            --len;
        const detail::line_words& w = *words_;
        frame_kind kind = frame_kind::data;
        if (len == w.ping_size && std::memcmp(data, w.ping, len) == 0)
            kind = frame_kind::ping;
        else if (len == w.pong_size && std::memcmp(data, w.pong, len) == 0)
            kind = frame_kind::pong;
        else if (len > max_frame_size)
            return decode_result::fail(error::frame_too_large);
        return decode_result::make(kind, 0, kind == frame_kind::data ? len : 0, end + 1);
    }

    std::size_t encode_header(std::size_t, char*) const noexcept { return 0; }

    std::size_t encode_trailer(char* out) const noexcept {
        out[0] = words_->ending[0];
        if (words_->ending_size == 2)
            out[1] = words_->ending[1];
        return words_->ending_size;
    }

    std::size_t encode_heartbeat(frame_kind kind, std::uint64_t, char* out) const noexcept {
        const detail::line_words& w = *words_;
        const bool ping = kind == frame_kind::ping;
        const std::size_t n = ping ? w.ping_size : w.pong_size;
        std::memcpy(out, ping ? w.ping : w.pong, n);
        std::memcpy(out + n, w.ending, w.ending_size);
        return n + w.ending_size;
    }

    error_code validate(const char* data, std::size_t size) const noexcept {
        if (size == 0)
            return {};
        if (std::memchr(data, '\n', size))
            return error::invalid_frame;
        // A trailing '\r' would be taken for part of the line ending, and the two words for
        // heartbeats: neither would reach the peer's application intact.
        if (data[size - 1] == '\r')
            return error::invalid_frame;
        const detail::line_words& w = *words_;
        if ((size == w.ping_size && std::memcmp(data, w.ping, size) == 0) ||
            (size == w.pong_size && std::memcmp(data, w.pong, size) == 0))
            return error::invalid_frame;
        return {};
    }

private:
    static std::shared_ptr<const detail::line_words> make_words(const config& c) {
        c.validate();
        auto w = std::make_shared<detail::line_words>();
        std::memcpy(w->ping, c.ping.data(), c.ping.size());
        std::memcpy(w->pong, c.pong.data(), c.pong.size());
        std::memcpy(w->ending, c.line_ending.data(), c.line_ending.size());
        w->ping_size = static_cast<unsigned char>(c.ping.size());
        w->pong_size = static_cast<unsigned char>(c.pong.size());
        w->ending_size = static_cast<unsigned char>(c.line_ending.size());
        w->longest_word = w->ping_size > w->pong_size ? w->ping_size : w->pong_size;
        return w;
    }

    // The default configuration is a static object, pointed to without an owner: no
    // allocation and no reference count for the common case.
    std::shared_ptr<const detail::line_words> words_;
    std::size_t scanned_ = 0;
};

HEARTBEAT_NAMESPACE_END

#endif
