"""coordinator_check.py - a Python coordinator (python/zexec_peer.py) run by
tests/test_polyglot.c against a real zexec-broker that has a C zexec-worker
(the test tasks, tests/remote_tasks.c) on service C_SERVICE and a Python
worker (tests/polyglot/py_tasks.py) on service "default". It checks what a
user relies on and exits 0 after printing "polyglot coordinator: N checks
passed", or 1 with a traceback.

    coordinator_check.py PEER_DIR ENDPOINT C_SERVICE C_PID PY_PID
        [--server-key KEY --cert CERT [--stranger CERT]]          """

import argparse
import math
import struct
import sys
import threading

parser = argparse.ArgumentParser()
parser.add_argument("peer_dir")
parser.add_argument("endpoint")
parser.add_argument("c_service")
parser.add_argument("c_pid", type=int)
parser.add_argument("py_pid", type=int)
parser.add_argument("--server-key")
parser.add_argument("--cert")
parser.add_argument("--stranger", help="a certificate the broker does not list")
options = parser.parse_args()
sys.path.insert(0, options.peer_dir)
import zexec_peer  # noqa: E402

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def same(a, b):
    """Equal with the types: True is not 1, -0.0 is not 0.0, NaN is NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (list(a.keys()) == list(b.keys())
                and all(same(a[k], b[k]) for k in a))
    return a == b


def failure(future):
    try:
        future.result(timeout=30)
    except zexec_peer.ZexecError as exc:
        return exc
    raise AssertionError("the task succeeded: %r" % (future.result(),))


keys = dict(server_key=options.server_key, cert=options.cert)
c = zexec_peer.Coordinator(options.endpoint, service=options.c_service, heartbeat_ms=200,
                           **keys)
py = zexec_peer.Coordinator(options.endpoint, heartbeat_ms=200, **keys)

# C tasks: results in order, from the C worker, through Executor.map
results = list(c.map("square", range(40), timeout=30))
check([r[0] for r in results] == [n * n for n in range(40)], "C squares in order")
check(all(r[1] == options.c_pid for r in results), "every C square from the C worker")

# Many submissions from several threads at once
futures, lock = [], threading.Lock()


def submitter(base):
    for n in range(base, base + 50):
        f = c.submit("square", n)
        with lock:
            futures.append((n, f))


threads = [threading.Thread(target=submitter, args=(100 * i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(all(f.result(timeout=30)[0] == n * n for n, f in futures), "200 squares from 4 threads")

# A C task's failures: a wrong argument type, a task that is not there
error = failure(c.submit("square", "seven"))
check(error.code == "ZX_ETYPE" and error.message == "task 'square': argument 0 is str, expected int",
      "C square of a str: %r" % error)
error = failure(c.submit("nope"))
check(error.code == "ZX_ENOTASK" and error.message == "no such task 'nope'",
      "no such C task: %r" % error)

# Deadlines and cancel of a running C task: the C worker stops it, and
# serves on
future = c.submit_values("sleep_ms", [20000], timeout=0.3)
error = failure(future)
check(isinstance(error, zexec_peer.ZexecTimeout) and error.code == "ZX_ETIMEDOUT",
      "a C task past its deadline: %r" % error)
future = c.submit("sleep_ms", 20000)
check(future.cancel() and future.cancelled(), "a pending C task cancels")
check(c.submit("square", 12).result(timeout=30)[0] == 144, "the C worker serves on")

# Python tasks through the same broker: nested values come back exactly
values = [None, True, False, 0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 2 ** 63, 1.5, -0.0,
          math.inf, "", "h\u00e9llo \u2603 \U0001f600", "nul\0inside", b"", b"\x00\xff" * 100,
          [], {}, [1, [2, [3, [4]]]], {"name": "alice", "histogram": [3, 0, 12],
                                       "nested": {"ok": True, "raw": b"\x01"}},
          "x" * 70000, list(range(1000))]
returned = py.submit_values("echo", values).result(timeout=30)
check(same(returned, values), "Python echo returns the values exactly")
nan = py.submit("echo", math.nan).result(timeout=30)
check(math.isnan(nan), "NaN round-trips")
check(py.submit("describe", 2 ** 64 - 1).result(timeout=30) == "int", "uint64 is an int")
check(py.submit("describe", b"x").result(timeout=30) == "bytes", "bytes stay bytes")
check(py.submit("describe", True).result(timeout=30) == "bool", "bool stays bool")
check(py.submit("square", 9).result(timeout=30) == (81, options.py_pid),
      "a Python square from the Python worker")
error = failure(py.submit("fail", "disk full"))
check(error.code == "ZX_ETASK" and error.message == "ValueError: disk full",
      "a Python task's exception: %r" % error)
error = failure(py.submit("square", 1, 2))
check(error.code == "ZX_ETYPE" and "square()" in error.message, "wrong arguments: %r" % error)
try:
    py.submit("echo", {1: "int key"})
    check(False, "a map with an int key is refused before it is sent")
except TypeError:
    check(True, "")

# An unlisted key: refused at the handshake, the future fails at once
if options.stranger:
    stranger = zexec_peer.Coordinator(options.endpoint, heartbeat_ms=200,
                                      server_key=options.server_key, cert=options.stranger)
    error = failure(stranger.submit("square", 2))
    check(error.code == "ZX_EPROTO" and "refused this coordinator's CURVE key" in error.message,
          "an unlisted key is refused: %r" % error)
    stranger.shutdown()

c.shutdown()
py.shutdown()
try:
    c.submit("square", 1)
    check(False, "submit after shutdown raises")
except RuntimeError:
    check(True, "")
print("polyglot coordinator: %d checks passed" % checks)
