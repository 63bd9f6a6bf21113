// libFuzzer target: length_prefixed_framing's decoder fed arbitrary bytes in arbitrary chunks,
// against the reference decoder and its own encoder. See framing_harness.hpp for the input
// layout.
#include "framing_harness.hpp"

#include <heartbeat/length_prefixed_framing.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hbfuzz::fuzz_framing(heartbeat::length_prefixed_framing(), data, size,
                         &hbref::decode_length_prefixed);
    return 0;
}
