// libFuzzer target: line_framing's decoder fed arbitrary bytes in arbitrary chunks, against the
// reference decoder and its own encoder. See framing_harness.hpp for the input layout.
#include "framing_harness.hpp"

#include <heartbeat/line_framing.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hbfuzz::fuzz_framing<heartbeat::line_framing>(data, size, &hbref::decode_line);
    return 0;
}
