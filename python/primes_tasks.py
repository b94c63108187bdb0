"""primes_tasks.py - examples/primes_tasks.c's task in Python, to serve
the C demo distributed_primes (or any coordinator) from a Python worker:

    python3 python/zexec_peer.py worker --broker tcp://127.0.0.1:5555 \
        python/primes_tasks.py
    build/examples/distributed_primes --endpoint tcp://127.0.0.1:5555 \
        --limit 1000000 --chunk 20000
"""

import os
import socket
import threading

import zexec_peer


def _is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    divisor = 3
    while divisor * divisor <= n:
        if n % divisor == 0:
            return False
        divisor += 2
    return True


def count_primes(lo, hi):
    """count_primes (lo, hi) -> (primes in [lo, hi), "HOST:PID/THREAD")."""
    if lo < 0 or hi < lo:
        raise ValueError("count_primes: need 0 <= lo <= hi, got [%d, %d)" % (lo, hi))
    count = 0
    for n in range(lo, hi):
        if n & 0xFFFF == 0 and zexec_peer.cancelled():
            raise RuntimeError("count_primes: cancelled at %d" % n)
        count += _is_prime(n)
    return count, "%s:%d/%s" % (socket.gethostname(), os.getpid(),
                                threading.current_thread().name)
