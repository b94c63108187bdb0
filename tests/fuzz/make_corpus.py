#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora in tests/fuzz/corpus/.

The seeds are committed; run this only to change them (it rewrites the
files it names and leaves any others alone), naming the corpora to write
(`make_corpus.py values`) or none for all of them. Each seed is a small valid
input or a known edge case, so the fuzzer starts from the formats in
docs/PROTOCOL.md and actors/zx_values.h rather than from nothing:

    corpus/values/    wire encodings of value lists (fuzz_values.c)
    corpus/batch/     request and reply batch frames (fuzz_batch.c)
    corpus/dispatch/  worker-face scripts (format in fuzz_dispatch.c)
    corpus/msg/       one message, frame by frame (format in fuzz_msg.c)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(corpus, name, data):
    folder = os.path.join(HERE, "corpus", corpus)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


#   Values: one MessagePack value each (docs/PROTOCOL.md section 7), in
#   the smallest form, as zexec's encoder writes them; v_list makes the
#   array that a task's arguments or result are. Written by hand with
#   struct, so the script needs nothing outside Python's standard library.
def v_int(value):
    if 0 <= value < 0x80:
        return bytes([value])
    if -32 <= value < 0:
        return struct.pack("b", value)
    if value >= 0:
        for tag, fmt, limit in ((0xCC, ">B", 2**8), (0xCD, ">H", 2**16),
                                (0xCE, ">I", 2**32), (0xCF, ">Q", 2**64)):
            if value < limit:
                return bytes([tag]) + struct.pack(fmt, value)
    for tag, fmt, limit in ((0xD0, ">b", 2**7), (0xD1, ">h", 2**15),
                            (0xD2, ">i", 2**31), (0xD3, ">q", 2**63)):
        if value >= -limit:
            return bytes([tag]) + struct.pack(fmt, value)
    raise ValueError(value)


def v_double(value):
    return b"\xcb" + struct.pack(">d", value)


def v_double_bits(bits):
    return b"\xcb" + struct.pack(">Q", bits)


def v_sized(fix_tag, fix_limit, tags, data):
    size = len(data)
    if fix_tag is not None and size < fix_limit:
        return bytes([fix_tag | size]) + data
    for tag, fmt, limit in zip(tags, (">B", ">H", ">I"), (2**8, 2**16, 2**32)):
        if tag is not None and size < limit:
            return bytes([tag]) + struct.pack(fmt, size) + data
    raise ValueError(size)


def v_str(text):
    return v_sized(0xA0, 32, (0xD9, 0xDA, 0xDB), text.encode("utf-8"))


def v_bytes(data):
    return v_sized(None, 0, (0xC4, 0xC5, 0xC6), data)


def v_none():
    return b"\xc0"


def v_bool(value):
    return b"\xc3" if value else b"\xc2"


def v_list(*items):
    return v_header(0x90, (0xDC, 0xDD), len(items)) + b"".join(items)


def v_map(*pairs):
    return v_header(0x80, (0xDE, 0xDF), len(pairs)) + b"".join(
        v_str(key) + value for key, value in pairs)


def v_header(fix_tag, tags, count):
    if count < 16:
        return bytes([fix_tag | count])
    if count < 2**16:
        return bytes([tags[0]]) + struct.pack(">H", count)
    return bytes([tags[1]]) + struct.pack(">I", count)


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


def ready(identity, credits, max_tasks=0, parallel=1, v0=False, host=None, cpus=1):
    info = struct.pack("<III", credits, max_tasks, 4242)
    if not v0:
        info += struct.pack("<I", parallel)
    if host is not None:
        #   Its machine (PROTOCOL.md 24): features, then cpus and the id
        return worker(identity, READY, b"default", info, identity, struct.pack("<I", 0),
                      struct.pack("<I", cpus) + host)
    return worker(identity, READY, b"default", info, identity)


def replies(identity, *records):
    return worker(identity, REPLY, b"".join(records))


def action(number, *extra):
    return bytes([0xF0 | number]) + bytes(extra)


def values():
    write("values", "empty", v_list())
    write("values", "none", v_list(v_none()))
    write("values", "int_forms", v_list(*[v_int(n) for n in (0, 127, 128, 255, 256, 65536,
                                                                2**32, 2**63 - 1, 2**64 - 1,
                                                                -1, -32, -33, -129, -32769,
                                                                -2**31 - 1, -2**63)]))
    #   Longer forms than needed, as other encoders may write them
    write("values", "int_wide_forms", v_list(b"\xd0\x05", b"\xcd\x00\x05",
                                             b"\xd3" + struct.pack(">q", -5),
                                             b"\xcf" + struct.pack(">Q", 5)))
    write("values", "double_nan_payload", v_list(v_double_bits(0x7FF8DEADBEEF0001)))
    write("values", "float32", v_list(b"\xca" + struct.pack(">f", 1.5), v_double(1e300)))
    write("values", "bool", v_list(v_bool(True), v_bool(False)))
    write("values", "str", v_list(v_str("hello")))
    write("values", "str_escapes_utf8",
          v_list(v_str("it's \\ \n\t\r h\u00e9llo \u2713 \u0085 \U0001F600 nul\0inside")))
    write("values", "str_forms", v_list(v_str("x" * 31), v_str("x" * 32), v_str("x" * 256),
                                        b"\xdb\x00\x00\x00\x01y"))
    write("values", "bytes_all", v_list(v_bytes(bytes(range(256)))))
    write("values", "nested", v_list(v_int(1), v_str("x"),
                                     v_map(("k", v_list(v_double(2.5), v_none())))))
    write("values", "record", v_list(v_map(("name", v_str("alice")),
                                           ("histogram", v_list(*[v_int(n) for n in range(20)])),
                                           ("", v_map()), ("raw", v_bytes(b"\0\1")))))
    write("values", "container_forms", b"\xdc\x00\x02" + b"\xdd\x00\x00\x00\x01\xc0"
          + b"\xde\x00\x01" + v_str("k") + b"\xdf\x00\x00\x00\x00")
    write("values", "deep_32", b"\x91" * 31 + b"\x90")
    write("values", "mixed", v_list(v_int(42), v_double(2.5), v_str(""), v_bytes(b""),
                                    v_none(), v_double(1e300), v_str("x"), v_bool(True)))
    #   Refused, each for one reason
    write("values", "bad_top_map", v_map(("k", v_int(1))))
    write("values", "bad_array32_lying", b"\xdd\xff\xff\xff\xff" + v_none())
    write("values", "bad_map32_lying", v_list(b"\xdf\xff\xff\xff\xff"))
    write("values", "bad_bin32_lying", v_list(b"\xc6\xff\xff\xff\xffxyz"))
    write("values", "bad_truncated_int", v_list(b"\xcd\x01"))
    write("values", "bad_ext", v_list(b"\xd6\xff\x00\x00\x00\x00"))
    write("values", "bad_never_used", v_list(b"\xc1"))
    write("values", "bad_key_int", v_list(b"\x81" + v_int(1) + v_int(2)))
    write("values", "bad_str_utf8", v_list(b"\xa2\xc0\x80"))
    write("values", "bad_deep_33", b"\x91" * 32 + b"\x90")
    write("values", "bad_trailing", v_list(v_int(1)) + b"\x01")


def main(corpora):
    if "values" in corpora:
        values()
    if "batch" in corpora or "dispatch" in corpora or "msg" in corpora:
        batch_dispatch_and_msg()


def batch_dispatch_and_msg():
    args = v_list(v_int(7))
    write("batch", "request", request(1, 1, 0, b"square", args))
    write("batch", "requests", request(1, 1, 0x02, b"square", args)
          + request(2, 3, 0x0F, b"t" * 255, v_list(v_str("x"), v_none()))
          + request(2**64 - 1, 2**32 - 1, 0xFF, b"a", b""))
    write("batch", "reply", reply(1, 1, OK, v_list(v_int(49))))
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
          + replies(b"W1", *[reply(corr, 1, OK, v_list(v_int(corr * corr))) for corr in (1, 2, 3)]))
    #   Two workers sharing six requests, adaptively; replies from both
    #   for every id (those from the wrong worker are stale)
    write("dispatch", "two_workers", setup(6, adaptive=True)
          + ready(b"W1", 8, parallel=2) + ready(b"W2", 2, v0=True)
          + replies(b"W1", *[reply(corr, 1, OK, v_list(v_str("r"))) for corr in range(1, 7)])
          + replies(b"W2", *[reply(corr, 1, TASK_ERROR, b"boom") for corr in range(1, 7)])
          + worker(b"W2", HEARTBEAT))
    #   A pool-fronting worker reports a lost task: it is retried on
    #   another worker, then the first worker leaves
    write("dispatch", "retry_lost", setup(2, retries=2)
          + ready(b"W1", 1)
          + replies(b"W1", reply(1, 1, WORKER_LOST, b"pool process died"))
          + ready(b"W2", 4)
          + replies(b"W2", reply(1, 2, OK, v_list(v_none())), reply(2, 1, OK, v_list(v_none())))
          + worker(b"W1", DISCONNECT, b"\x03protocol \x01 broken"))
    #   Cancels: one queued, one held, whose late reply still returns a credit
    write("dispatch", "cancel_late_reply", setup(3)
          + action(0, 2)
          + ready(b"W1", 2)
          + action(0, 0)
          + replies(b"W1", reply(1, 1, CANCELLED, b"cancelled"), reply(2, 1, OK, v_list(v_int(4))))
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
          + replies(b"W1", reply(1, 2, OK, v_list(v_int(1))))
          + action(6) + frame(b"W1")
          + action(2, 1) + action(5)
          + ready(b"W2", 1) + action(2, 3))
    #   No worker ever comes: requests fail with "no workers"
    write("dispatch", "no_workers", setup(3) + action(2, 2))
    #   Six workers on one machine of one CPU (PROTOCOL.md 24): four are
    #   dealt to; a STARTED lets the others in; one leaves, one comes back
    machine = bytes(range(0xA0, 0xB0))
    write("dispatch", "machines", setup(7, adaptive=True)
          + b"".join(ready(b"M%d" % i, 4, host=machine) for i in range(6))
          + replies(b"M0", reply(1, 1, 11, b""))
          + replies(b"M1", reply(2, 1, OK, v_list(v_int(4))))
          + worker(b"M2", DISCONNECT, b"\x01bye")
          + ready(b"M2", 4, host=machine, cpus=2)
          + replies(b"M0", reply(1, 1, OK, v_list(v_int(1)))))

    #   A full queue: submissions beyond 16 are refused
    write("dispatch", "queue_full", setup(7) + action(1, 0) * 12 + ready(b"W1", 65537))

    #   Messages: a byte for options, then frames as in the dispatch scripts
    def msg(*frames):
        return b"\0" + b"".join(frame(f) for f in frames)
    info = struct.pack("<IIII", 256, 0, 4242, 4)
    batch = request(1, 1, 3, b"count_primes", v_list(v_int(0), v_int(100)))
    write("msg", "ready", msg(b"ZXW01", bytes([READY]), b"default", info, b"host.42.0"))
    write("msg", "ready_host", msg(b"ZXW01", bytes([READY]), b"default", info, b"host.42.0",
                                    struct.pack("<I", 0),
                                    struct.pack("<I", 2) + bytes(range(16))))
    write("msg", "ready_routed_v0", msg(b"w0.1", b"ZXW01", bytes([READY]), b"default",
                                         info[:12], b"pid 42"))
    write("msg", "request_worker", msg(b"ZXW01", bytes([REQUEST]), batch))
    write("msg", "request_client_routed", msg(b"\0K3\xb6\xdf", b"ZXC01", bytes([REQUEST]),
                                               b"default", batch))
    write("msg", "reply", msg(b"ZXC01", bytes([REPLY]), reply(1, 1, OK, v_list(v_int(25)))))
    write("msg", "heartbeat", msg(b"ZXC01", bytes([HEARTBEAT]), struct.pack("<I", 1000)))
    write("msg", "heartbeat_bad_interval", msg(b"ZXW01", bytes([HEARTBEAT]),
                                                struct.pack("<I", 60001), b"extra"))
    write("msg", "disconnect", msg(b"ZXW01", bytes([DISCONNECT]), b"\x02init failed:\n\0x"))
    write("msg", "cancel", msg(b"ZXC01", bytes([CANCEL]), struct.pack("<QQ", 7, 8) + b"\x01\x02"))
    write("msg", "unknown_header", msg(b"id", b"MDPW0", b"\x01", b"default"))
    #   Framed payloads (PROTOCOL.md 23): flag 0x20 on the one record, its
    #   arguments the frame after the batch; reply status bit 0x80
    framed = request(2, 1, 0x60, b"echo_bytes", b"")
    big = v_list(v_bytes(b"x" * 300))
    write("msg", "request_framed_client", msg(b"ZXC01", bytes([REQUEST]), b"default", framed,
                                               big))
    write("msg", "request_framed_worker", msg(b"ZXW01", bytes([REQUEST]), framed, big))
    write("msg", "request_framed_two_frames", msg(b"ZXW01", bytes([REQUEST]), framed, big, big))
    write("msg", "reply_framed", msg(b"ZXW01", bytes([REPLY]), reply(2, 1, 0x80, b""), big))
    write("msg", "too_many_frames", msg(*[b"ZXW01", bytes([HEARTBEAT])] + [b"x"] * 8))


if __name__ == "__main__":
    #   make_corpus.py [values] [batch] [dispatch] [msg]: only those (default
    #   all); batch, dispatch and msg are written together
    main(sys.argv[1:] or ["values", "batch", "dispatch", "msg"])
