// The in-memory AsyncStream that drives a whole heartbeat_session from a fuzz input: the tests'
// memory_stream (tests/memory_stream.hpp), whose far end (fuzz_peer) the fuzzer scripts: bytes
// to deliver and in what chunks, end of stream, read errors, how much each write takes, writes
// that block until released, write errors. Every operation completes through asio::post,
// never inline; close() completes what is pending with operation_aborted. A session that
// breaks its promise of at most one read and one write in flight is an invariant violation.
#ifndef HEARTBEAT_TESTS_FUZZ_FUZZ_STREAM_HPP
#define HEARTBEAT_TESTS_FUZZ_FUZZ_STREAM_HPP

#include "../memory_stream.hpp"
#include "fuzz_input.hpp"

namespace hbfuzz {

using fuzz_peer = hbt::memory_peer;
using fuzz_stream = hbt::memory_stream;

/// The stream's checks report like HBFUZZ_ASSERT, so the fuzzer keeps the input.
inline const bool stream_checks_report = (hbt::memory_violation() = &violated, true);

} // namespace hbfuzz

#endif
