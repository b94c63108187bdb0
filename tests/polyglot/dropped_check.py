"""dropped_check.py - a Python coordinator (python/zexec_peer.py) that
tests/test_polyglot.c stops while a C zexec-worker answers it: 400 results
of 128 KiB asked for at once, then this process stopped (SIGSTOP, pyzmq's
and libzmq's threads and all), so that the broker finds its connection
full and drops it. Continued, it must hear of the drop (a DISCONNECT,
PROTOCOL.md 13.5) and have every future end: right, or failed naming the
drop. Prints what became of them; exits 0 when every one ended so and
the drop was heard, 3 otherwise.

    dropped_check.py PEER_DIR ENDPOINT SERVICE                           """

import concurrent.futures
import os
import signal
import sys

sys.path.insert(0, sys.argv[1])
import zexec_peer  # noqa: E402

COUNT, SIZE = 400, 128 * 1024

coordinator = zexec_peer.Coordinator(sys.argv[2], service=sys.argv[3])
futures = [coordinator.submit("make_bytes", SIZE, i) for i in range(COUNT)]
# Until the first result: the connection is up and the requests went out
concurrent.futures.wait(futures, timeout=10, return_when=concurrent.futures.FIRST_COMPLETED)
print("stopping", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
done, _ = concurrent.futures.wait(futures, timeout=45)
right = dropped = lost = other = 0
for i, future in enumerate(futures):
    if not future.done():
        continue
    error = future.exception()
    if error is None:
        value = future.result()
        if (isinstance(value, bytes) and len(value) == SIZE
                and value[SIZE - 1] == ((SIZE - 1) * 131 + i) & 255):
            right += 1
        else:
            other += 1
            print("unexpected result for task %d" % i)
    elif (isinstance(error, zexec_peer.ZexecError) and error.code == "ZX_EWORKER_LOST"
          and "dropped this coordinator" in error.message):
        dropped += 1
    elif isinstance(error, zexec_peer.ZexecError) and error.code == "ZX_EWORKER_LOST":
        lost += 1               # its worker was lost: a loaded machine, not a hang
    else:
        if other == 0:
            print("unexpected: %r" % (error,))
        other += 1
print("ended %d of %d: %d right, %d failed for the drop, %d with their worker lost, "
      "%d otherwise" % (len(done), COUNT, right, dropped, lost, other), flush=True)
coordinator.shutdown(wait=False, cancel_futures=True)
sys.exit(0 if len(done) == COUNT and other == 0 and dropped > 0 else 3)
