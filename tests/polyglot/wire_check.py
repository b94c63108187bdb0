"""wire_check.py - python/zexec_peer.py's codec against the octets that
docs/PROTOCOL.md gives (sections 7.5 and 20): what it writes is what the
document shows, what the document accepts it reads, what it refuses it
refuses. No broker; ctest runs it as polyglot.wire_matches_protocol_md.
Exits 77 (skipped) when the Python lacks zmq or msgpack.

    wire_check.py PEER_DIR                                              """

import sys

try:
    import msgpack  # noqa: F401
    import zmq  # noqa: F401
except ImportError as exc:
    print("SKIPPED: %s cannot import zmq and msgpack (on Debian: apt-get install "
          "python3-zmq python3-msgpack): %s" % (sys.executable, exc))
    sys.exit(77)
sys.path.insert(0, sys.argv[1])
import zexec_peer as z  # noqa: E402

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def h(text):
    return bytes.fromhex(text.replace("\n", " "))


# 7.5: as the code writes them
written = [
    ([1], "91 01"), ([], "90"), ([0, 100], "92 00 64"),
    ([25, "b1:423"], "92 19 a6 62 31 3a 34 32 33"),
    ([-2, 1.5, "hi", b"\x00\x01", None], "95 fe cb 3f f8 00 00 00 00 00 00 a2 68 69 c4 02 00 01 c0"),
    (["blocks", 7, 2.5, True, {"name": "alice", "histogram": [3, 0, 12]}],
     "95 a6 62 6c 6f 63 6b 73 07 cb 40 04 00 00 00 00 00 00 c3 82 a4 6e 61 6d 65"
     " a5 61 6c 69 63 65 a9 68 69 73 74 6f 67 72 61 6d 93 03 00 0c"),
    ([18446744073709551615, -9223372036854775808, 300, -200],
     "94 cf ff ff ff ff ff ff ff ff d3 80 00 00 00 00 00 00 00 cd 01 2c d1 ff 38"),
]
for values, octets in written:
    check(z.pack_values(values) == h(octets), "pack %r" % (values,))
    check(z.unpack_values(h(octets)) == values, "unpack %s" % octets)

# 7.5: accepted though longer
for octets, values in [("91 d0 05", [5]), ("91 cd 00 05", [5]), ("91 ca 3f c0 00 00", [1.5]),
                       ("dc 00 01 c0", [None]), ("91 d9 02 68 69", ["hi"]), ("", [])]:
    check(z.unpack_values(h(octets)) == values, "accept %s" % octets)

# 7.5 and 7.2: refused
refused = ["81 a1 6b 01", "91 01 02", "91 cd 01", "dd ff ff ff ff c0",
           "91 c6 ff ff ff ff 78 79 7a", "91 d6 ff 00 00 00 00", "91 c1", "91 81 01 02",
           "91 a2 c0 80", "91" * 32 + "90", "91 c7 01 05 00", "91 81 c4 01 6b 01",
           "91 a3 ed a0 80", "91 81 a1 6b d6 ff 00 00 00 00"]
for octets in refused:
    try:
        z.unpack_values(h(octets))
        check(False, "refuse %s" % octets)
    except z.ProtocolError:
        check(True, "")
check(len(z.unpack_values(h("91" * 31 + "90"))) == 1, "32 levels are accepted")
deep = []
for _ in range(31):
    deep = [deep]
check(z.unpack_values(z.pack_values(deep)) == deep, "32 levels pack")
for bad in ([{1: 2}], [2 ** 64], [-2 ** 63 - 1], [object()], [deep]):
    try:
        z.pack_values(bad)
        check(False, "pack refuses %r" % (bad,))
    except (TypeError, ValueError):
        check(True, "")

# 20: a request record, a reply record, their batches
request = z.encode_request(1, 1, 0, b"blocks", z.pack_values([1]))
check(request == h("16 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 06 62 6c 6f 63 6b 73 91 01"),
      "the request record of section 20")
reply = z.encode_reply(1, 1, z.OK, z.pack_values([1]))
check(reply == h("0f 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 91 01"),
      "the reply record of section 20")
failure = z.encode_reply(2, 1, z.NO_SUCH_TASK, b"no such task 'nope'")
check(failure[:4] == h("20 00 00 00"), "the failure record's size")
client = z.encode_request(1, 1, 3, b"count_primes", z.pack_values([0, 100]))
check(client[:4] == h("1d 00 00 00") and client[16] == 3, "the client's request record")
records = list(z.decode_requests(request + client))
check([(r[0], r[3], bytes(r[4])) for r in records]
      == [(1, b"blocks", h("91 01")), (1, b"count_primes", h("92 00 64"))], "two requests")
check([(c, a, s, bytes(p)) for c, a, s, p in z.decode_replies(reply + failure)]
      == [(1, 1, 0, h("91 01")), (2, 1, 5, b"no such task 'nope'")], "two replies")
check(list(z.decode_requests(b"")) == [], "an empty batch")

# 6.3: a malformed record ends the batch; the records before it stand
for tail in (h("01 00"), h("05 00 00 00 01"), h("0e 00 00 00") + bytes(14),
             z.encode_request(9, 1, 0, b"x", b"")[:-1], h("0f 00 00 00") + bytes(12) + b"\x00\x01\x00"):
    seen = []
    try:
        for record in z.decode_requests(request + tail):
            seen.append(record[0])
        check(False, "a malformed request record %s" % tail.hex())
    except z.ProtocolError:
        check(seen == [1], "the record before a malformed one stands")
for tail in (h("0c 00 00 00") + bytes(12), h("10 00 00 00") + bytes(13)):
    try:
        list(z.decode_replies(reply + tail))
        check(False, "a malformed reply record %s" % tail.hex())
    except z.ProtocolError:
        check(True, "")

# 5.4, 5.5: the interval and the bye
check(z._interval([h("e8 03 00 00")]) == 1000, "an interval of 1000 ms")
check(z._interval([h("00 00 00 00")]) is None and z._interval([h("61 ea 00 00")]) is None
      and z._interval([h("e8 03")]) is None and z._interval([]) is None, "no interval")
check(z._parse_bye([h("01") + b"retiring"]) == (1, "retiring"), "a bye")
check(z._parse_bye([]) == (0, "") and z._parse_bye([b""]) == (0, ""), "an empty bye")
check(z._parse_bye([b"\x00a\x01b"]) == (0, "a?b"), "control octets become ?")
print("wire check: %d checks passed" % checks)
