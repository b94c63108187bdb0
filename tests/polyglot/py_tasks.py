"""py_tasks.py - the Python tasks the polyglot tests serve with
python/zexec_peer.py worker: every task says which process ran it where a
test must tell workers apart."""

import os
import time

import zexec_peer


def echo(*args):
    """echo (a, b, ...) -> [a, b, ...]: the arguments back, as decoded and
    encoded again by Python."""
    return tuple(args)


def square(n):
    """square (n) -> [n * n, pid], as the C test tasks' square."""
    return n * n, os.getpid()


def fail(message):
    """fail (message): raises ValueError (message)."""
    raise ValueError(message)


def describe(value):
    """describe (value) -> [Python type name of value]."""
    return type(value).__name__


def hold(directory):
    """hold (directory) -> [pid]: writes DIRECTORY/started.PID, then waits
    until DIRECTORY/release exists; when cancelled meanwhile it writes
    DIRECTORY/cancelled.PID and returns."""
    pid = os.getpid()
    with open(os.path.join(directory, "started.%d" % pid), "w"):
        pass
    while not os.path.exists(os.path.join(directory, "release")):
        if zexec_peer.cancelled():
            with open(os.path.join(directory, "cancelled.%d" % pid), "w"):
                pass
            return pid
        time.sleep(0.01)
    return pid
