#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora in tests/fuzz/corpus/.

The seeds are committed; run this only to change them (it rewrites the
files it names and leaves any others alone). Each seed is a small valid
input or a known edge case, so the fuzzer starts from the formats in
docs/PROTOCOL.md and actors/zx_values.h rather than from nothing:

    corpus/values/    wire encodings of value lists (fuzz_values.c)
    corpus/batch/     request and reply batch frames (fuzz_batch.c)
    corpus/dispatch/  worker-face scripts (format in fuzz_dispatch.c)
    corpus/msg/       one message, frame by frame (format in fuzz_msg.c)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(corpus, name, data):
    folder = os.path.join(HERE, "corpus", corpus)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


#   Values: 'i' int64, 'd' double, 's' u32 length + bytes + 0, 'b' u32
#   length + bytes, 'n'; all little-endian
def v_int(value):
    return b"i" + struct.pack("<q", value)


def v_double(value):
    return b"d" + struct.pack("<d", value)


def v_double_bits(bits):
    return b"d" + struct.pack("<Q", bits)


def v_str(text):
    data = text.encode("utf-8")
    return b"s" + struct.pack("<I", len(data)) + data + b"\0"


def v_bytes(data):
    return b"b" + struct.pack("<I", len(data)) + data


def v_none():
    return b"n"


#   Batches: records of u32 size | corr u64 | attempt u32 | ...
def request(corr, attempt, flags, name, args):
    body = struct.pack("<QIBB", corr, attempt, flags, len(name)) + name + args
    return struct.pack("<I", len(body)) + body


def reply(corr, attempt, status, payload):
    body = struct.pack("<QIB", corr, attempt, status) + payload
    return struct.pack("<I", len(body)) + body


#   Dispatch scripts (see fuzz_dispatch.c)
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT, CANCEL = 1, 2, 3, 4, 5, 6
OK, TASK_ERROR, CANCELLED, WORKER_LOST = 0, 1, 2, 3


def setup(requests, adaptive=False, retries=0):
    return bytes([requests | (8 if adaptive else 0) | (retries << 4)])


def frame(data):
    if len(data) < 255:
        return bytes([len(data)]) + data
    return b"\xff" + struct.pack("<H", len(data)) + data


def message(*frames):
    return bytes([len(frames) - 1]) + b"".join(frame(f) for f in frames)


def worker(identity, command, *body):
    return message(identity, b"ZXW01", bytes([command]), *body)


def ready(identity, credits, max_tasks=0, parallel=1, v0=False):
    info = struct.pack("<III", credits, max_tasks, 4242)
    if not v0:
        info += struct.pack("<I", parallel)
    return worker(identity, READY, b"default", info, identity)


def replies(identity, *records):
    return worker(identity, REPLY, b"".join(records))


def action(number, *extra):
    return bytes([0xF0 | number]) + bytes(extra)


def main():
    write("values", "none", v_none())
    write("values", "int_min", v_int(-2**63))
    write("values", "double_nan_payload", v_double_bits(0x7FF8DEADBEEF0001))
    write("values", "str", v_str("hello"))
    write("values", "str_escapes_utf8", v_str("it's \\ \n\t\r h\u00e9llo \u2713 \u0085 \U0001F600"))
    write("values", "bytes_all", v_bytes(bytes(range(256))))
    write("values", "mixed", v_int(42) + v_double(2.5) + v_str("") + v_bytes(b"")
          + v_none() + v_double(1e300) + v_str("x"))
    write("values", "bad_str_without_nul", b"s" + struct.pack("<I", 3) + b"abc")
    write("values", "bad_str_with_nul", b"s" + struct.pack("<I", 3) + b"a\0c\0")
    write("values", "bad_length_huge", b"b" + struct.pack("<I", 0xFFFFFFFF) + b"xyz")
    write("values", "bad_tag", v_int(1) + b"x")
    write("values", "bad_truncated_int", b"i\x01\x02")

    args = v_int(7)
    write("batch", "request", request(1, 1, 0, b"square", args))
    write("batch", "requests", request(1, 1, 0x02, b"square", args)
          + request(2, 3, 0x0F, b"t" * 255, v_str("x") + v_none())
          + request(2**64 - 1, 2**32 - 1, 0xFF, b"a", b""))
    write("batch", "reply", reply(1, 1, OK, v_int(49)))
    write("batch", "replies", b"".join(reply(corr, 1, status, b"message %d" % status)
                                       for corr, status in enumerate([0, 1, 2, 3, 4, 5, 6, 7,
                                                                      8, 9, 10, 200], 1)))
    write("batch", "bad_name_empty", struct.pack("<I", 14) + struct.pack("<QIBB", 1, 1, 0, 0))
    write("batch", "bad_name_past_end", struct.pack("<I", 15)
          + struct.pack("<QIBB", 1, 1, 0, 9) + b"s")
    write("batch", "bad_length_huge", struct.pack("<I", 0xFFFFFFFF) + b"\x01" * 20)
    write("batch", "bad_truncated", request(1, 1, 0, b"square", args)[:-3])

    #   Dispatch: three requests, one worker, three good replies
    write("dispatch", "ready_reply", setup(3)
          + ready(b"W1", 4)
          + replies(b"W1", *[reply(corr, 1, OK, v_int(corr * corr)) for corr in (1, 2, 3)]))
    #   Two workers sharing six requests, adaptively; replies from both
    #   for every id (those from the wrong worker are stale)
    write("dispatch", "two_workers", setup(6, adaptive=True)
          + ready(b"W1", 8, parallel=2) + ready(b"W2", 2, v0=True)
          + replies(b"W1", *[reply(corr, 1, OK, v_str("r")) for corr in range(1, 7)])
          + replies(b"W2", *[reply(corr, 1, TASK_ERROR, b"boom") for corr in range(1, 7)])
          + worker(b"W2", HEARTBEAT))
    #   A pool-fronting worker reports a lost task: it is retried on
    #   another worker, then the first worker leaves
    write("dispatch", "retry_lost", setup(2, retries=2)
          + ready(b"W1", 1)
          + replies(b"W1", reply(1, 1, WORKER_LOST, b"pool process died"))
          + ready(b"W2", 4)
          + replies(b"W2", reply(1, 2, OK, v_none()), reply(2, 1, OK, v_none()))
          + worker(b"W1", DISCONNECT, b"\x03protocol \x01 broken"))
    #   Cancels: one queued, one held, whose late reply still returns a credit
    write("dispatch", "cancel_late_reply", setup(3)
          + action(0, 2)
          + ready(b"W1", 2)
          + action(0, 0)
          + replies(b"W1", reply(1, 1, CANCELLED, b"cancelled"), reply(2, 1, OK, v_int(4)))
          + action(1, 0x01) + replies(b"W1", reply(4, 1, 77, b"unknown status")))
    #   Malformed messages, each to be dropped with a log line
    long_identity = bytes(range(1, 256))
    write("dispatch", "garbage", setup(1)
          + message(b"W1")
          + message(b"W1", b"ZXW01")
          + message(b"W1", b"ZXW02", bytes([READY]))
          + message(b"W1", b"ZXW01", b"\x01\x01")
          + worker(b"W2", 0x09)
          + replies(b"W2", reply(1, 1, OK, b""))
          + worker(b"W1", READY, b"default", b"short")
          + worker(b"W1", READY)
          + ready(long_identity, 3)
          + worker(long_identity, DISCONNECT, b"")
          + ready(b"W1", 0)
          + ready(b"W1", 5)
          + worker(b"W1", REPLY, reply(1, 1, OK, b""), b"extra", b"frames", b"more", b"x")
          + replies(b"W1", struct.pack("<I", 0xFFFFFFF0) + b"\x00" * 12)
          + replies(b"W1", reply(1, 1, OK, b"i\x01")[:-5])
          + worker(b"W1", HEARTBEAT)
          + worker(b"", DISCONNECT, b"\x02" + b"init failed \n" * 30))
    #   A worker that is not there: what was dealt to it goes back, and the
    #   owner's actions run with work queued and held
    write("dispatch", "vanished_and_actions", setup(4, retries=1)
          + ready(b"ghost", 4)
          + ready(b"W1", 2, max_tasks=3)
          + action(3) + action(1, 0x0F) + action(4)
          + replies(b"W1", reply(1, 2, OK, v_int(1)))
          + action(6) + frame(b"W1")
          + action(2, 1) + action(5)
          + ready(b"W2", 1) + action(2, 3))
    #   No worker ever comes: requests fail with "no workers"
    write("dispatch", "no_workers", setup(3) + action(2, 2))
    #   A full queue: submissions beyond 16 are refused
    write("dispatch", "queue_full", setup(7) + action(1, 0) * 12 + ready(b"W1", 65537))

    #   Messages: a byte for options, then frames as in the dispatch scripts
    def msg(*frames):
        return b"\0" + b"".join(frame(f) for f in frames)
    info = struct.pack("<IIII", 256, 0, 4242, 4)
    batch = request(1, 1, 3, b"count_primes", v_int(0) + v_int(100))
    write("msg", "ready", msg(b"ZXW01", bytes([READY]), b"default", info, b"host.42.0"))
    write("msg", "ready_routed_v0", msg(b"w0.1", b"ZXW01", bytes([READY]), b"default",
                                         info[:12], b"pid 42"))
    write("msg", "request_worker", msg(b"ZXW01", bytes([REQUEST]), batch))
    write("msg", "request_client_routed", msg(b"\0K3\xb6\xdf", b"ZXC01", bytes([REQUEST]),
                                               b"default", batch))
    write("msg", "reply", msg(b"ZXC01", bytes([REPLY]), reply(1, 1, OK, v_int(25))))
    write("msg", "heartbeat", msg(b"ZXC01", bytes([HEARTBEAT]), struct.pack("<I", 1000)))
    write("msg", "heartbeat_bad_interval", msg(b"ZXW01", bytes([HEARTBEAT]),
                                                struct.pack("<I", 60001), b"extra"))
    write("msg", "disconnect", msg(b"ZXW01", bytes([DISCONNECT]), b"\x02init failed:\n\0x"))
    write("msg", "cancel", msg(b"ZXC01", bytes([CANCEL]), struct.pack("<QQ", 7, 8) + b"\x01\x02"))
    write("msg", "unknown_header", msg(b"id", b"MDPW0", b"\x01", b"default"))
    write("msg", "too_many_frames", msg(*[b"ZXW01", bytes([HEARTBEAT])] + [b"x"] * 8))


if __name__ == "__main__":
    main()
