// libFuzzer target: line_framing's decoder fed arbitrary bytes in arbitrary chunks, against the
// reference decoder and its own encoder. The first byte picks a configuration (the default, CRLF,
// or CRLF with one- and two-letter heartbeat words, which random bytes hit often); the rest is
// framing_harness.hpp's input layout.
#include "framing_harness.hpp"

#include <heartbeat/line_framing.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const unsigned choice = size > 0 ? data[0] % 3 : 0;
    heartbeat::line_framing::config c;
    if (choice > 0)
        c.line_ending = "\r\n";
    if (choice == 2) {
        c.ping = "P";
        c.pong = "PO";
    }
    const heartbeat::line_framing framing(c);
    hbfuzz::fuzz_framing(framing, size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0,
                         [&](std::string_view s, std::size_t max) {
                             return hbref::decode_line_words(s, max, c.ping, c.pong);
                         });
    return 0;
}
