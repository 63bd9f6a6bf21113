#!/usr/bin/env python3
"""Writes the seed corpus of the three fuzz targets into tests/fuzz/corpus/<target>/.

Each seed is a small, meaningful input in the target's input layout (see framing_harness.hpp
and fuzz_session.cpp); the fuzzers mutate from there. Run it again after changing a layout.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- Decoders: u16 max_frame_size - 1, k - 1, k chunk sizes - 1, the stream. ----------------
def framing(max_frame_size, chunks, stream):
    return struct.pack(">H", max_frame_size - 1) + bytes([len(chunks) - 1]) + \
        bytes(c - 1 for c in chunks) + stream


write("fuzz_line_framing", "lines", framing(1024, [1, 5, 200],
      b"hello\nPING\r\nPONG\nworld\r\n\n\r\n"))
write("fuzz_line_framing", "too_long", framing(16, [3], b"a" * 40 + b"\nnext\n"))
write("fuzz_line_framing", "cr_nul", framing(64, [1], b"a\rb\n\x00\x00\n\r\r\nPIN\nPINGG\nx\r"))
write("fuzz_line_framing", "exact_max", framing(8, [2, 7], b"12345678\r\n123456789\n"))
# BUGS.md 2b: heartbeats must fit whatever max_frame_size is, CRLF too.
write("fuzz_line_framing", "regression_small_max_crlf", framing(3, [1], b"PING\r\nPONG\r\nab\n"))
write("fuzz_length_prefixed_framing", "regression_small_max",
      framing(1, [2], struct.pack(">IB", 8, 1) + b"\0" * 8 + struct.pack(">IB", 1, 0) + b"x"))


def lp(kind, payload):
    return struct.pack(">IB", len(payload), kind) + payload


def lp_raw(length, kind, body=b""):
    return struct.pack(">IB", length, kind) + body


write("fuzz_length_prefixed_framing", "frames", framing(1024, [1, 7, 100],
      lp(0, b"abc") + lp(1, struct.pack(">Q", 1)) + lp(2, struct.pack(">Q", 1)) + lp(0, b"")))
write("fuzz_length_prefixed_framing", "huge_length", framing(1024, [5], lp_raw(0xFFFFFFFF, 0)))
write("fuzz_length_prefixed_framing", "bad_type", framing(64, [3], lp(0, b"ok") + lp(7, b"x")))
write("fuzz_length_prefixed_framing", "bad_ping", framing(64, [1], lp_raw(4, 1, b"abcd")))
write("fuzz_length_prefixed_framing", "max_plus_one", framing(16, [4], lp(0, b"x" * 16) +
      lp(0, b"y" * 17)))


# --- Session: flags, options, then actions (see fuzz_session.cpp). --------------------------
LP, TIMERS, ANSWER, RUN = 1, 2, 4, 8
RAW, DATA, PING, PONG, EOF, RESET, RCHUNK, WCAP, BLOCK, WFAIL, SEND, RECV, CANCEL, CLOSE, \
    POLL, SLEEP, DESTROY, RUN_OR_STATS = range(18)


def session(flags, opts, actions):
    return bytes([flags]) + bytes(opts) + bytes(actions)


def send(text, big=False):
    return [SEND, 0 if big else 1, len(text)] + list(text)


def data(text):
    return [DATA, len(text)] + list(text)


plain = [0, 4, 4]  # max_frame_size 16, small queues
timed = [4, 8, 8, 2, 4, 3, 6, 2, 1, 0]  # ping 2 ms, read 7 ms, write 3 ms, idle 6 ms, ...

write("fuzz_session", "echo_line", session(ANSWER | RUN, plain,
      data(b"hello") + [RECV, POLL, 10] + send(b"world") + [POLL, 10, PING, 1, POLL, 10,
                                                             RECV, POLL, 5]))
write("fuzz_session", "timers_lp", session(LP | TIMERS | ANSWER | RUN, timed,
      [PING, 7, POLL, 5, SLEEP, 3, PONG, 1, POLL, 5] + data(b"abc") + [RECV, SLEEP, 3, SLEEP, 3,
                                                                      POLL, 20]))
write("fuzz_session", "blocked_write_cancel", session(ANSWER | RUN, plain,
      [BLOCK] + send(b"stuck", True) + send(b"queued") + [POLL, 5, CANCEL, 1, 1, CANCEL, 2, 0,
                                                        WCAP, 3, BLOCK, POLL, 20, CLOSE, 0]))
write("fuzz_session", "eof_mid_frame_destroy", session(RUN, plain,
      [RAW, 3] + list(b"hal") + [RECV, RCHUNK, 1, POLL, 10, EOF, POLL, 3, DESTROY, 0, POLL, 10]))
write("fuzz_session", "queue_full_flood", session(LP | ANSWER, plain,
      send(b"a" * 20) + send(b"b" * 20) + send(b"c" * 20) + [RUN_OR_STATS, 1] +
      [PING, 1, PING, 2, PING, 3, PING, 4, WFAIL, 0, POLL, 30, RUN_OR_STATS, 1, POLL, 5]))
