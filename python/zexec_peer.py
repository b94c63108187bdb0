#!/usr/bin/python3
"""zexec_peer: a zexec worker and coordinator in Python.

A zexec-broker dispatches tasks between coordinators and workers written
in any language: the protocols (ZXW01 for workers, ZXC01 for
coordinators) and the values (MessagePack) are in docs/PROTOCOL.md, and
this module speaks them with nothing but Debian's python3-zmq and
python3-msgpack. It was written from that document.

    Worker        serves Python functions as tasks to any coordinator
                  (C or Python) through the broker: READY with credits,
                  heartbeats and liveness, CANCEL, DISCONNECT, reconnection
                  with backoff.
    Coordinator   a concurrent.futures.Executor whose tasks run on the
                  broker's workers (C or Python): submit() gives a
                  concurrent.futures.Future; a background thread does the
                  I/O, heartbeats and deadlines.
    load_cert     reads a certificate that zexec-keygen made (CURVE keys).

Values: a task's arguments and results are lists of None, bool, int
(-2**63 to 2**64-1), float, str, bytes, list (or tuple) and dict with str
keys, nested. A Python task function is called as fn(*args); what it
returns becomes the result list: None gives [], a tuple gives its items,
anything else the one value. Coordinator.submit maps a result list back the
same way (None, one value, or a tuple); submit_values gives the list.

Command line (run with /usr/bin/python3; --help for every option):
    python3 zexec_peer.py worker --broker tcp://HOST:PORT MODULE ...
    python3 zexec_peer.py call --broker tcp://HOST:PORT TASK [ARG ...]
"""

import argparse
import concurrent.futures
import heapq
import importlib
import importlib.util
import inspect
import itertools
import logging
import os
import queue
import signal
import socket as _socket
import struct
import sys
import threading
import time

import msgpack
import zmq
import zmq.utils.monitor
import zmq.utils.z85

__all__ = [
    "Worker", "Coordinator", "ZexecError", "ZexecTimeout", "ProtocolError",
    "load_cert", "public_key", "cancelled", "pack_values", "unpack_values",
]

log = logging.getLogger("zexec_peer")

# ---------------------------------------------------------------------------
# The wire (docs/PROTOCOL.md, sections 4-9). Integers little-endian, except
# inside the values (MessagePack, big-endian).

W_HEADER = b"ZXW01"
C_HEADER = b"ZXC01"

READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT, CANCEL = 1, 2, 3, 4, 5, 6

# Reply statuses (section 8) and the zexec error code each one completes with
OK, TASK_ERROR, CANCELLED, WORKER_LOST, TIMED_OUT, NO_SUCH_TASK = 0, 1, 2, 3, 4, 5
TYPE_ERROR, BAD_REQUEST, NO_WORKERS, QUEUE_FULL, SHUTDOWN = 6, 7, 8, 9, 10
STARTED = 11                # Not an end: the request's task has started
STATUS_CODES = {
    TASK_ERROR: "ZX_ETASK", CANCELLED: "ZX_ECANCELLED", WORKER_LOST: "ZX_EWORKER_LOST",
    TIMED_OUT: "ZX_ETIMEDOUT", NO_SUCH_TASK: "ZX_ENOTASK", TYPE_ERROR: "ZX_ETYPE",
    BAD_REQUEST: "ZX_EPROTO", NO_WORKERS: "ZX_ENOWORKERS", QUEUE_FULL: "ZX_EQUEUE_FULL",
    SHUTDOWN: "ZX_ESHUTDOWN",
}

# DISCONNECT reasons (section 9)
BYE_NORMAL, BYE_RETIRING, BYE_INIT_FAILED, BYE_PROTOCOL = 0, 1, 2, 3

REQUEST_FIXED = 14          # corr 8, attempt 4, flags 1, name_len 1
REPLY_FIXED = 13            # corr 8, attempt 4, status 1
FLAG_RETRIES = 0x0F
FLAG_TARGET = 0x10          # client face: args start with a target (13.7)
MAX_FRAMES = 4              # a worker or client reads at most 4 frames
BATCH_FLUSH_BYTES = 32 * 1024

# Value limits (section 7.3)
MAX_DEPTH = 32
MAX_COUNT = 4194304
MAX_CONTAINERS = 262144

STARTED_AFTER_MS = 1.0     # a task that runs this long is reported STARTED
BACKOFF_MIN_MS = 100
BACKOFF_MAX_MS = 3000
INTERVAL_MAX_MS = 60000     # a peer's announced interval is 1..60000 ms


class ProtocolError(ValueError):
    """Bytes from a peer that do not follow docs/PROTOCOL.md."""


class ZexecError(Exception):
    """A task that did not succeed: code is zexec's error name (ZX_ETASK,
    ZX_ENOTASK, ...), status the wire status (section 8, or None when the
    failure was local), message the text the worker or broker gave."""

    def __init__(self, code, message, status=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __repr__(self):
        return "ZexecError(%s, %r)" % (self.code, self.message)


class ZexecTimeout(ZexecError, TimeoutError):
    """A task whose deadline passed before its reply came."""


def _error_from_status(status, text):
    code = STATUS_CODES.get(status)
    if code is None:
        return ZexecError("ZX_EPROTO", "the broker sent an unknown reply status", status)
    if status == TIMED_OUT:
        return ZexecTimeout(code, text, status)
    return ZexecError(code, text, status)


# ---- Records and batches (section 6)

_REQ = struct.Struct("<IQIBB")      # size corr attempt flags name_len
_REP = struct.Struct("<IQIB")       # size corr attempt status
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def encode_request(corr, attempt, flags, name, args):
    """One request record: name is bytes (1..255, no NUL), args encoded values."""
    if not name or len(name) > 255 or b"\0" in name:
        raise ValueError("a task name is 1 to 255 bytes without NUL")
    size = REQUEST_FIXED + len(name) + len(args)
    if size > 0xFFFFFFFF:
        raise ValueError("arguments too large for one record (4 GiB)")
    return _REQ.pack(size, corr, attempt, flags & 0xFF, len(name)) + name + args


def encode_reply(corr, attempt, status, payload):
    """One reply record: payload is encoded values (status 0) or text bytes."""
    size = REPLY_FIXED + len(payload)
    if size > 0xFFFFFFFF:
        raise ValueError("result too large for one record (4 GiB)")
    return _REP.pack(size, corr, attempt, status) + payload


def decode_requests(frame):
    """Yields (corr, attempt, flags, name, args) for each record of a request
    batch; raises ProtocolError at the first malformed record (the records
    before it have been yielded and stand; the rest must be dropped)."""
    view = memoryview(frame)
    at, end = 0, len(view)
    while at < end:
        if end - at < 4:
            raise ProtocolError("request record cut short")
        size = _U32.unpack_from(view, at)[0]
        if size < REQUEST_FIXED or size > end - at - 4:
            raise ProtocolError("request record size out of range")
        _, corr, attempt, flags, name_len = _REQ.unpack_from(view, at)
        name_at = at + 4 + REQUEST_FIXED
        if name_len < 1 or name_len > size - REQUEST_FIXED:
            raise ProtocolError("request record name length out of range")
        name = bytes(view[name_at:name_at + name_len])
        if b"\0" in name:
            raise ProtocolError("task name holds NUL")
        args = view[name_at + name_len:at + 4 + size]
        at += 4 + size
        yield corr, attempt, flags, name, args


def decode_replies(frame):
    """Yields (corr, attempt, status, payload) for each record of a reply
    batch; raises ProtocolError at the first malformed record."""
    view = memoryview(frame)
    at, end = 0, len(view)
    while at < end:
        if end - at < 4:
            raise ProtocolError("reply record cut short")
        size = _U32.unpack_from(view, at)[0]
        if size < REPLY_FIXED or size > end - at - 4:
            raise ProtocolError("reply record size out of range")
        _, corr, attempt, status = _REP.unpack_from(view, at)
        payload = view[at + 4 + REPLY_FIXED:at + 4 + size]
        at += 4 + size
        yield corr, attempt, status, payload


def _bye(reason, text):
    return bytes([reason]) + text.encode("utf-8", "replace")


def _parse_bye(frames):
    """(reason, text) of a DISCONNECT's frames after the command (section 5.5)."""
    if not frames or not frames[0]:
        return BYE_NORMAL, ""
    body = frames[0]
    text = bytes(body[1:256]).decode("utf-8", "replace")
    return body[0], "".join(c if c >= " " else "?" for c in text)


def _interval(frames):
    """The interval a HEARTBEAT announces, or None (section 5.4)."""
    if len(frames) != 1 or len(frames[0]) != 4:
        return None
    ms = _U32.unpack(frames[0])[0]
    return ms if 1 <= ms <= INTERVAL_MAX_MS else None


# ---- Values (section 7)

def _check_values(value, depth, counts):
    """Raises TypeError or ValueError for what zexec cannot carry."""
    if isinstance(value, (list, tuple)):
        if depth > MAX_DEPTH:
            raise ValueError("values nested deeper than %d levels" % MAX_DEPTH)
        counts[0] += len(value)
        for item in value:
            _check_values(item, depth + 1, counts)
            if isinstance(item, (list, tuple, dict)):
                counts[1] += 1
    elif isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise ValueError("values nested deeper than %d levels" % MAX_DEPTH)
        counts[0] += 2 * len(value)
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("map keys must be str, not %s" % type(key).__name__)
            _check_values(item, depth + 1, counts)
            if isinstance(item, (list, tuple, dict)):
                counts[1] += 1
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -2 ** 63 <= value < 2 ** 64:
            raise ValueError("int %d is outside -2**63..2**64-1" % value)
    elif isinstance(value, str):
        value.encode("utf-8")       # a lone surrogate is not UTF-8
    elif not isinstance(value, (float, bytes, bytearray, memoryview)):
        raise TypeError("zexec cannot carry a %s" % type(value).__name__)


def pack_values(values):
    """The MessagePack encoding of a list of values (an args or a result
    field). Raises TypeError or ValueError for a value zexec has no type
    for, a key that is not str, or a list past the limits of section 7.3."""
    counts = [0, 0]
    _check_values(list(values), 1, counts)
    if counts[0] > MAX_COUNT or counts[1] > MAX_CONTAINERS:
        raise ValueError("too many values (section 7.3 limits)")
    return msgpack.packb(list(values), use_bin_type=True)


def _refuse_ext(code, data):
    raise ProtocolError("MessagePack extension type %d has no zexec type" % code)


def _check_decoded(value, depth, counts):
    """Refuses what msgpack decodes but zexec has no type for (a timestamp,
    which msgpack turns into a Timestamp without asking ext_hook), a map key
    that is not str, and nesting past the limits."""
    if depth > MAX_DEPTH:
        raise ProtocolError("values nested deeper than %d levels" % MAX_DEPTH)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ProtocolError("a map key that is not str")
        items = value.values()
        counts[0] += 2 * len(value)
    else:
        items = value
        counts[0] += len(value)
    for item in items:
        if isinstance(item, (list, dict)):
            counts[1] += 1
            _check_decoded(item, depth + 1, counts)
        elif isinstance(item, msgpack.Timestamp):
            raise ProtocolError("a MessagePack timestamp has no zexec type")


def unpack_values(data):
    """The list of values an args or a result field holds; an empty field is
    the empty list. Raises ProtocolError for anything section 7.2 refuses."""
    if len(data) == 0:
        return []
    try:
        value = msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=False,
                                ext_hook=_refuse_ext, timestamp=0)
    except ProtocolError:
        raise
    except Exception as exc:        # msgpack's own errors, UnicodeDecodeError...
        raise ProtocolError("malformed values (%s: %s)" % (type(exc).__name__, exc)) from None
    if not isinstance(value, list):
        raise ProtocolError("values are not one MessagePack array")
    counts = [0, 0]
    _check_decoded(value, 1, counts)
    if counts[0] > MAX_COUNT or counts[1] > MAX_CONTAINERS:
        raise ProtocolError("too many values (section 7.3 limits)")
    return value


def _result_list(returned):
    if returned is None:
        return []
    if isinstance(returned, tuple):
        return list(returned)
    return [returned]


def _result_value(values):
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return tuple(values)


# ---------------------------------------------------------------------------
# CURVE keys (docs/SECURITY.md, "Key files")

def _zpl_curve(path):
    """The name = value pairs of the "curve" section of a ZPL file (czmq's
    certificate format, which zexec-keygen writes)."""
    pairs, section = {}, None
    with open(path, "r", encoding="utf-8") as stream:
        for line in stream:
            line = line.rstrip("\r\n")
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not line[0].isspace():
                section = stripped.split("=", 1)[0].strip()
                continue
            if section != "curve" or "=" not in stripped:
                continue
            name, value = (part.strip() for part in stripped.split("=", 1))
            if value[:1] in ("'", '"'):
                quote = value[0]
                value = value[1:value.index(quote, 1)] if quote in value[1:] else value[1:]
            else:
                value = value.split("#", 1)[0].strip()
            pairs[name] = value
    return pairs


def _z85_key(text, what):
    if len(text) != 40:
        raise ValueError("%s is not a 40-character Z85 key" % what)
    try:
        key = zmq.utils.z85.decode(text.encode("ascii"))
    except Exception:
        raise ValueError("%s is not a valid Z85 key" % what) from None
    if key == bytes(32):
        raise ValueError("%s is the zero key" % what)
    return key


def load_cert(path):
    """Reads this peer's certificate as zexec-keygen makes it: path is NAME
    or NAME_secret, and NAME_secret must be readable. Returns (public,
    secret), each 32 binary bytes. Raises ValueError naming the cause."""
    base = path[:-7] if path.endswith("_secret") else path
    secret_path = base + "_secret"
    try:
        pairs = _zpl_curve(secret_path)
    except OSError as exc:
        raise ValueError("cannot read the secret key file %s: %s" % (secret_path, exc.strerror))
    if "secret-key" not in pairs or "public-key" not in pairs:
        raise ValueError("%s holds no CURVE secret key (make one with zexec-keygen)"
                         % secret_path)
    return (_z85_key(pairs["public-key"], secret_path),
            _z85_key(pairs["secret-key"], secret_path))


def public_key(text):
    """The broker's public key (32 binary bytes) from 40 Z85 characters or the
    path of its public (or secret) certificate file. Raises ValueError."""
    if len(text) == 40 and not os.path.exists(text):
        return _z85_key(text, "the server key")
    try:
        pairs = _zpl_curve(text)
    except OSError:
        raise ValueError("'%s' is neither a 40-character Z85 key nor a readable "
                         "certificate file" % text) from None
    if "public-key" not in pairs:
        raise ValueError("%s holds no CURVE public key" % text)
    return _z85_key(pairs["public-key"], text)


def _curve_keys(server_key, cert):
    """(server, public, secret) for a CURVE client, or None without keys.
    Raises ValueError when only one is given or a key cannot be read."""
    if server_key is None and cert is None:
        return None
    if server_key is None or cert is None:
        raise ValueError("CURVE needs both the broker's public key and this peer's "
                         "certificate (%s is missing)"
                         % ("the certificate" if server_key else "the server key"))
    if not zmq.has("curve"):
        raise ValueError("this libzmq was built without CURVE")
    public, secret = load_cert(cert)
    return public_key(server_key), public, secret


def _apply_curve(sock, keys):
    if keys is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = keys


# ---------------------------------------------------------------------------
# A wake-up pipe: other threads write a byte, the I/O thread polls it.

class _Waker:
    """Other threads (and signal handlers) wake the I/O thread by writing a
    byte into a pipe it polls; one byte per wake-up, however many wakes
    come before the I/O thread drains it, which it does before it looks at
    what it was woken for. After close, a wake does nothing: its file
    descriptor may already be another file's. The lock is reentrant so that
    a signal handler that runs while its own thread closes cannot block."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self._lock = threading.RLock()
        self._closed = False
        self._pending = False

    def wake(self):
        if self._pending:
            return
        with self._lock:
            if self._closed:
                return
            self._pending = True
            try:
                os.write(self.write_fd, b"x")
            except OSError:
                pass        # full: a wake-up is pending already

    def drain(self):
        self._pending = False
        try:
            while os.read(self.read_fd, 4096):
                pass
        except OSError:
            pass

    def close(self):
        with self._lock:
            self._closed = True
            os.close(self.read_fd)
            os.close(self.write_fd)


def _now_ms():
    return time.monotonic() * 1000.0


def _silence_ms(own_ms, liveness, other_ms):
    """How long a peer may be silent: liveness x the longer interval (15.2)."""
    return liveness * max(own_ms, other_ms or 0)


# ---------------------------------------------------------------------------
# The worker

_current = threading.local()


def cancelled():
    """True when the task running in this thread has been cancelled by its
    coordinator. A long task polls it and returns early: its reply is then
    CANCELLED whatever it returns. False outside a task."""
    job = getattr(_current, "job", None)
    return bool(job is not None and job.cancelled)


class _Job:
    __slots__ = ("corr", "attempt", "name", "args", "generation", "future",
                 "cancelled", "status", "payload", "started_ms", "ended")

    def __init__(self, corr, attempt, name, args, generation):
        self.corr, self.attempt, self.name, self.args = corr, attempt, name, args
        self.generation = generation
        self.future = None
        self.cancelled = False
        self.status, self.payload = TASK_ERROR, b""
        self.started_ms = None      # set by the pool thread as fn is called
        self.ended = False


class Worker:
    """Serves Python functions as tasks to a zexec-broker (ZXW01).

    tasks maps task names to callables, called as fn(*args) on a pool of
    `threads` threads; the worker says READY with `window` credits (default
    256 per thread), heartbeats every heartbeat_ms and judges the broker
    gone after liveness silent intervals, then connects again with backoff
    under a new routing id (HOST.PID.NONCE.GEN), as zexec-worker does. With
    server_key (the broker's key or certificate file) and cert (this
    worker's certificate, from zexec-keygen) it connects over CURVE.

    run() serves until stop() is called (from any thread or a signal
    handler), then says goodbye and returns. A task that raises is a task
    failure carrying "ExceptionName: message" (TypeError: the TYPE_ERROR
    status); its traceback goes to the log at debug level."""

    def __init__(self, endpoint, tasks, *, service="default", threads=None, window=None,
                 heartbeat_ms=1000, liveness=3, server_key=None, cert=None, context=None):
        if not tasks:
            raise ValueError("a worker needs at least one task")
        names = {}
        for name, fn in dict(tasks).items():
            raw = name.encode("utf-8")
            if not raw or len(raw) > 255 or b"\0" in raw or not callable(fn):
                raise ValueError("bad task %r: a name of 1 to 255 bytes and a callable" % name)
            names[raw] = fn
        raw_service = service.encode("utf-8")
        if not raw_service or len(raw_service) > 255 or b"\0" in raw_service:
            raise ValueError("a service name is 1 to 255 bytes without NUL")
        self.endpoint = endpoint
        self.tasks = names
        self.service = raw_service
        self.threads = threads or min(32, (os.cpu_count() or 1) + 4)
        self.window = window or min(65536, 256 * self.threads)
        if not 1 <= self.window <= 65536:
            raise ValueError("window is 1 to 65536")
        self.heartbeat_ms = heartbeat_ms
        self.liveness = liveness
        self._keys = _curve_keys(server_key, cert)      # read now: fail now
        self._context = context or zmq.Context.instance()
        self._waker = _Waker()
        self._done = queue.SimpleQueue()
        self._starts = queue.SimpleQueue()     # jobs whose fn was called
        self._watch = []                        # started, not yet reported
        self._stopping = False
        self._sock = None
        self._generation = 0
        self._held = {}
        self._replies = []
        self._reply_bytes = 0
        self._backoff = BACKOFF_MIN_MS
        self._connect_at = 0.0
        self._pool = None
        self._poller = None
        self._monitor = None
        self._refused = None
        self.identity = None
        # A random nonce drawn once per worker: a container restarted with
        # the same host name and pid does not repeat its ids
        self._nonce = "%08x" % int.from_bytes(os.urandom(4), "big")

    def stop(self):
        """Asks run() to say goodbye and return; safe from any thread and
        from a signal handler."""
        self._stopping = True
        self._waker.wake()

    # -- connection

    def _connect(self):
        host = _socket.gethostname()[:63] or "host"
        self.identity = "%s.%d.%s.%d" % (host, os.getpid(), self._nonce, self._generation)
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.ROUTING_ID, self.identity.encode())
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.LINGER, 0)
        _apply_curve(sock, self._keys)
        self._monitor = None
        if self._keys is not None:
            self._monitor = sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            self._poller.register(self._monitor, zmq.POLLIN)
        try:
            sock.connect(self.endpoint)
        except zmq.ZMQError as exc:
            if self._monitor is not None:
                self._poller.unregister(self._monitor)
                self._monitor.close(linger=0)
                self._monitor = None
            sock.close(linger=0)
            raise ValueError("cannot connect to %s: %s" % (self.endpoint, exc)) from None
        self._sock = sock
        self._poller.register(sock, zmq.POLLIN)
        self._heard = _now_ms()
        self._answered = False
        self._broker_interval = None
        info = struct.pack("<IIII", self.window, 0, os.getpid(), self.threads)
        self._send([W_HEADER, bytes([READY]), self.service, info, self.identity.encode()])
        self._send_heartbeat()
        log.info("READY sent to %s as %s for service '%s'", self.endpoint, self.identity,
                 self.service.decode())

    def _send(self, frames):
        try:
            self._sock.send_multipart(frames, flags=zmq.DONTWAIT, copy=False)
            return True
        except zmq.ZMQError as exc:
            log.debug("cannot send command %d to the broker: %s", frames[1][0], exc)
            return False

    def _send_heartbeat(self):
        self._send([W_HEADER, bytes([HEARTBEAT]), _U32.pack(self.heartbeat_ms)])

    def _drop_connection(self, why):
        """Stops the tasks held, says "reconnecting" and connects again later."""
        log.warning("%s: connecting again to %s in %d ms", why, self.endpoint, self._backoff)
        for job in self._held.values():
            job.cancelled = True
            job.future.cancel()
        self._held.clear()
        self._replies, self._reply_bytes = [], 0
        self._send([W_HEADER, bytes([DISCONNECT]), _bye(BYE_NORMAL, "reconnecting")])
        self._poller.unregister(self._sock)
        self._close_monitor()
        self._sock.close(linger=100)
        self._sock = None
        self._generation += 1
        self._connect_at = _now_ms() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _close_monitor(self):
        if self._monitor is not None:
            self._poller.unregister(self._monitor)
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None

    def _on_monitor(self):
        """Logs a failed CURVE handshake, each kind once, as zexec-worker does:
        libzmq goes on trying, and a key added to the allow-list gets in."""
        while self._monitor is not None:
            try:
                event = zmq.utils.monitor.recv_monitor_message(self._monitor, flags=zmq.DONTWAIT)
            except zmq.Again:
                return
            if event["event"] == self._refused:
                continue
            self._refused = event["event"]
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                log.error("the broker at %s refused this worker's CURVE key: is its public "
                          "certificate in the broker's workers directory?", self.endpoint)
            else:
                log.error("the CURVE handshake with the broker at %s failed (a wrong server "
                          "key?)", self.endpoint)

    # -- messages from the broker

    def _on_message(self, frames):
        if len(frames) > MAX_FRAMES:
            log.warning("message with more than %d frames: dropped", MAX_FRAMES)
            return
        self._heard = _now_ms()
        self._backoff = BACKOFF_MIN_MS
        if not self._answered:
            self._answered = True
            log.info("the broker at %s answered: serving as %s", self.endpoint, self.identity)
        if len(frames) < 2 or frames[0] != W_HEADER or len(frames[1]) != 1:
            log.warning("malformed message from the broker: dropped")
            return
        command, body = frames[1][0], frames[2:]
        if command == REQUEST and len(body) == 1:
            self._on_request(body[0])
        elif command == CANCEL and len(body) == 1:
            self._on_cancel(body[0])
        elif command == HEARTBEAT:
            interval = _interval(body)
            if interval:
                self._broker_interval = interval
        elif command == DISCONNECT:
            reason, text = _parse_bye(body)
            self._drop_connection("the broker said goodbye (reason %d%s)"
                                  % (reason, ", " + text if text else ""))
        else:
            log.warning("unexpected command %d from the broker: dropped", command)

    def _on_request(self, frame):
        try:
            for corr, attempt, _flags, name, args in decode_requests(frame):
                self._start(corr, attempt, name, bytes(args))
        except ProtocolError as exc:
            log.warning("malformed REQUEST batch from the broker (%s): rest dropped", exc)

    def _start(self, corr, attempt, name, args):
        job = _Job(corr, attempt, name, args, self._generation)
        text = name.decode("utf-8", "replace")
        if corr in self._held:
            self._reply(job, BAD_REQUEST, "malformed or duplicate request for task '%s'" % text)
            return
        self._held[corr] = job
        try:
            job.future = self._pool.submit(self._run, job)
        except RuntimeError:        # the pool is shut down: we are stopping
            del self._held[corr]
            self._reply(job, SHUTDOWN, "worker shutting down")
            return
        job.future.add_done_callback(lambda _f, job=job: self._finished(job))

    def _on_cancel(self, frame):
        for at in range(0, len(frame) - 7, 8):
            corr = _U64.unpack_from(frame, at)[0]
            job = self._held.get(corr)
            if job is not None and not job.cancelled:
                job.cancelled = True
                job.future.cancel()     # withdrawn if not started; else it sees cancelled()
                log.debug("task '%s' (%d) cancelled", job.name.decode("utf-8", "replace"), corr)

    # -- tasks (on the pool's threads)

    def _run(self, job):
        text = job.name.decode("utf-8", "replace")
        fn = self.tasks.get(job.name)
        if fn is None:
            job.status, job.payload = NO_SUCH_TASK, ("no such task '%s'" % text).encode()
            return
        try:
            args = unpack_values(job.args)
        except ProtocolError:
            job.status = BAD_REQUEST
            job.payload = ("malformed arguments for task '%s'" % text).encode()
            return
        _current.job = job
        job.started_ms = _now_ms()
        self._starts.put(job)
        self._waker.wake()
        try:
            returned = fn(*args)
        except BaseException as exc:    # any failure of the task is its reply
            log.debug("task '%s' failed", text, exc_info=True)
            job.status = TYPE_ERROR if isinstance(exc, TypeError) else TASK_ERROR
            job.payload = ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")
            return
        finally:
            _current.job = None
        try:
            job.payload = pack_values(_result_list(returned))
            if len(job.payload) > 0xFFFFFFFF - REPLY_FIXED:
                raise ValueError("a result of 4 GiB or more")
            job.status = OK
        except (TypeError, ValueError, OverflowError) as exc:
            job.status = TASK_ERROR
            job.payload = ("task '%s' returned what zexec cannot carry: %s"
                           % (text, exc)).encode("utf-8", "replace")

    def _finished(self, job):
        job.ended = True
        self._done.put(job)
        self._waker.wake()

    # -- replies (on the I/O thread)

    def _reply(self, job, status, payload):
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "replace")
        record = encode_reply(job.corr, job.attempt, status, payload)
        self._replies.append(record)
        self._reply_bytes += len(record)
        if self._reply_bytes >= BATCH_FLUSH_BYTES:
            self._flush()

    def _flush(self):
        if self._replies and self._sock is not None:
            self._send([W_HEADER, bytes([REPLY]), b"".join(self._replies)])
        self._replies, self._reply_bytes = [], 0

    def _collect(self):
        while True:
            try:
                job = self._done.get_nowait()
            except queue.Empty:
                return
            if job.generation != self._generation or self._held.get(job.corr) is not job:
                continue        # its connection was dropped: nobody waits for it
            del self._held[job.corr]
            if job.future.cancelled():
                self._reply(job, CANCELLED, "cancelled before it started")
            elif job.cancelled:
                self._reply(job, CANCELLED, "cancelled while running")
            else:
                self._reply(job, job.status, job.payload)

    def _report_starts(self, now):
        """Sends STARTED for each task that has run STARTED_AFTER_MS and not
        ended, as a C pool worker does (PROTOCOL.md section 8), so that the
        coordinator's future turns RUNNING; a shorter task never sends one.
        Returns how long until the next one is due (ms), or None."""
        while True:
            try:
                self._watch.append(self._starts.get_nowait())
            except queue.Empty:
                break
        due = None
        keep = []
        for job in self._watch:
            if job.ended or job.generation != self._generation \
                    or self._held.get(job.corr) is not job:
                continue
            left = job.started_ms + STARTED_AFTER_MS - now
            if left <= 0:
                self._reply(job, STARTED, b"")
                continue
            keep.append(job)
            due = left if due is None else min(due, left)
        self._watch = keep
        return due

    # -- the loop

    def run(self):
        """Serves until stop(); then sends the replies of the tasks that have
        ended, DISCONNECT NORMAL "bye", and returns. Tasks still queued or
        running are abandoned: the broker sends them to another worker or
        fails them, as their retries say. A worker runs once. Raises
        ValueError when the endpoint is not one libzmq can connect to."""
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.threads, thread_name_prefix="zexec-task")
        self._poller = zmq.Poller()
        self._poller.register(self._waker.read_fd, zmq.POLLIN)
        next_tick = _now_ms()
        try:
            while not self._stopping:
                now = _now_ms()
                if self._sock is None and now >= self._connect_at:
                    self._connect()
                    next_tick = now + self.heartbeat_ms
                wait = next_tick - now
                if self._sock is None:
                    wait = min(wait, self._connect_at - now)
                else:
                    due = self._report_starts(now)
                    if due is not None:
                        wait = min(wait, due)
                events = dict(self._poller.poll(max(0, int(wait)) + 1))
                self._waker.drain()
                if self._monitor is not None and self._monitor in events:
                    self._on_monitor()
                if self._sock is not None and self._sock in events:
                    self._read()
                self._collect()
                if self._sock is not None:
                    self._report_starts(_now_ms())
                self._flush()
                now = _now_ms()
                if now >= next_tick:
                    #  A tick more than two intervals late: this process was
                    #  stopped or starved, not the broker; judge it next tick
                    stalled = now - next_tick > 2 * self.heartbeat_ms
                    next_tick = now + self.heartbeat_ms
                    if self._sock is not None:
                        silent = now - self._heard
                        limit = _silence_ms(self.heartbeat_ms, self.liveness,
                                            self._broker_interval)
                        if silent > limit and not stalled:
                            self._drop_connection("broker not heard from for %d ms" % silent)
                        else:
                            self._send_heartbeat()
        finally:
            if self._sock is not None:
                self._collect()
                self._flush()
                self._sock.setsockopt(zmq.LINGER, 500)
                self._send([W_HEADER, bytes([DISCONNECT]), _bye(BYE_NORMAL, "bye")])
                self._close_monitor()
                self._sock.close()
                self._sock = None
            #  After the goodbye: cancelled here, they must not be answered
            #  CANCELLED, which would end them at the broker instead of a retry
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._waker.close()
            log.info("worker stopped")

    def _read(self):
        for _ in range(1000):
            sock = self._sock
            if sock is None:
                return
            try:
                frames = sock.recv_multipart(flags=zmq.DONTWAIT)
            except zmq.Again:
                return
            self._on_message(frames)


# ---------------------------------------------------------------------------
# The coordinator

class _Call:
    __slots__ = ("corr", "service", "name", "args", "flags", "future", "deadline", "whole")

    def __init__(self, corr, service, name, args, flags, future, deadline, whole):
        self.corr, self.service, self.name, self.args = corr, service, name, args
        self.flags, self.future, self.deadline, self.whole = flags, future, deadline, whole


class Coordinator(concurrent.futures.Executor):
    """Runs tasks on a zexec-broker's workers (ZXC01), as a
    concurrent.futures.Executor.

    submit(task, *args) sends the task to the broker's service and returns
    a concurrent.futures.Future at once; a background thread owns the
    socket, batches requests, reads replies, heartbeats every heartbeat_ms
    while work is outstanding, and fails what is outstanding when the broker
    is silent for liveness intervals or the connection drops. A failed task
    raises ZexecError (code, message) from result(); one past its deadline
    (timeout, seconds, counted from submit) raises ZexecTimeout and is
    cancelled at the broker. Future.cancel() works until the reply comes:
    it sends CANCEL. retries (0 to 15) is how often the broker may send a
    task again when its worker is lost. With server_key and cert it
    connects over CURVE; a refused key fails what is outstanding."""

    def __init__(self, endpoint, *, service="default", heartbeat_ms=1000, liveness=3,
                 retries=0, timeout=None, server_key=None, cert=None, context=None):
        if not 0 <= retries <= 15:
            raise ValueError("retries is 0 to 15")
        self.endpoint = endpoint
        self.service = service
        self.heartbeat_ms = heartbeat_ms
        self.liveness = liveness
        self.retries = retries
        self.timeout = timeout
        self._context = context or zmq.Context.instance()
        self._sock = self._context.socket(zmq.DEALER)
        try:
            self._sock.setsockopt(zmq.SNDHWM, 0)
            self._sock.setsockopt(zmq.RCVHWM, 0)
            self._sock.setsockopt(zmq.LINGER, 500)
            _apply_curve(self._sock, _curve_keys(server_key, cert))
            self._monitor = self._sock.get_monitor_socket(
                zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            self._sock.connect(endpoint)
        except zmq.ZMQError as exc:
            self._sock.close(linger=0)
            raise ValueError("cannot connect to %s: %s" % (endpoint, exc)) from None
        except Exception:
            self._sock.close(linger=0)
            raise
        self._lock = threading.Lock()
        self._corrs = itertools.count(1)
        self._inbox = queue.SimpleQueue()
        self._waker = _Waker()
        self._shutdown = False
        self._thread = threading.Thread(target=self._io, name="zexec-coordinator", daemon=True)
        self._thread.start()

    # -- the caller's side (any thread)

    def submit(self, fn, /, *args, **kwargs):
        """Runs task fn (its name) on args; the future's result is None, the
        one value, or a tuple of the values the task returned."""
        if kwargs:
            raise TypeError("zexec tasks take positional arguments only")
        return self._submit(fn, args, None, None, None, False)

    def submit_values(self, task, args=(), *, timeout=None, retries=None, service=None):
        """Runs task on the list args; the future's result is the whole result
        list. timeout (seconds), retries and service override the
        coordinator's for this task."""
        return self._submit(task, args, timeout, retries, service, True)

    def _submit(self, task, args, timeout, retries, service, whole):
        name = task.encode("utf-8") if isinstance(task, str) else bytes(task)
        if not name or len(name) > 255 or b"\0" in name:
            raise ValueError("a task name is 1 to 255 bytes without NUL")
        service = (service or self.service).encode("utf-8")
        if not service or len(service) > 255 or b"\0" in service:
            raise ValueError("a service name is 1 to 255 bytes without NUL")
        retries = self.retries if retries is None else retries
        if not 0 <= retries <= 15:
            raise ValueError("retries is 0 to 15")
        payload = pack_values(list(args))
        timeout = self.timeout if timeout is None else timeout
        future = concurrent.futures.Future()
        deadline = _now_ms() + timeout * 1000.0 if timeout else None
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            call = _Call(next(self._corrs), service, name, payload, retries, future, deadline,
                         whole)
            future.add_done_callback(lambda f, call=call: self._on_done(f, call))
            self._inbox.put(("submit", call))
        self._waker.wake()
        return future

    def _on_done(self, future, call):
        if future.cancelled():
            self._inbox.put(("cancel", call))
            self._waker.wake()

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No more submissions (submit raises RuntimeError). The I/O thread
        goes on until every outstanding task has ended (cancel_futures
        cancels them first), then says goodbye to the broker and closes the
        socket; with wait, shutdown returns then."""
        with self._lock:
            if not self._shutdown:
                self._shutdown = True
                self._inbox.put(("close", cancel_futures))
        self._waker.wake()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    close = shutdown

    # -- the I/O thread

    def _io(self):
        calls = {}                  # corr -> _Call, outstanding
        deadlines = []              # (deadline, corr)
        batches = {}                # service -> [records]
        heard = _now_ms()
        busy_since = None
        broker_interval = None
        next_tick = _now_ms() + self.heartbeat_ms
        closing = False
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._waker.read_fd, zmq.POLLIN)

        def fail(call, error):
            calls.pop(call.corr, None)
            try:
                call.future.set_exception(error)
            except concurrent.futures.InvalidStateError:
                pass            # cancelled by its caller meanwhile

        def fail_all(why):
            for call in list(calls.values()):
                fail(call, ZexecError("ZX_EWORKER_LOST", "%s; task '%s' was lost"
                                      % (why, call.name.decode("utf-8", "replace")),
                                      WORKER_LOST))

        def send(frames):
            try:
                self._sock.send_multipart(frames, flags=zmq.DONTWAIT, copy=False)
            except zmq.ZMQError as exc:
                log.warning("cannot send to the broker at %s: %s", self.endpoint, exc)

        def flush():
            nonlocal busy_since
            started = False
            for service, records in batches.items():
                if records:
                    send([C_HEADER, bytes([REQUEST]), service, b"".join(records)])
            batches.clear()
            if calls and busy_since is None:
                busy_since = _now_ms()
                started = True
            if started:
                send([C_HEADER, bytes([HEARTBEAT]), _U32.pack(self.heartbeat_ms)])

        failure = None
        try:
            while True:
                now = _now_ms()
                wait = next_tick - now
                if deadlines:
                    wait = min(wait, deadlines[0][0] - now)
                events = dict(poller.poll(max(0, int(wait)) + 1))
                self._waker.drain()
                # commands from the callers' threads
                while True:
                    try:
                        what, arg = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if what == "submit":
                        call = arg
                        if call.future.cancelled():
                            continue
                        calls[call.corr] = call
                        record = encode_request(call.corr, 1, call.flags, call.name, call.args)
                        call.args = None
                        batch = batches.setdefault(call.service, [])
                        batch.append(record)
                        if call.deadline is not None:
                            heapq.heappush(deadlines, (call.deadline, call.corr))
                        if sum(len(r) for r in batch) >= BATCH_FLUSH_BYTES:
                            flush()
                    elif what == "cancel":
                        if calls.pop(arg.corr, None) is not None:
                            flush()     # the broker must see the request before its cancel
                            send([C_HEADER, bytes([CANCEL]), _U64.pack(arg.corr)])
                    elif what == "close":
                        closing = True
                        if arg:
                            for call in list(calls.values()):
                                call.future.cancel()
                                calls.pop(call.corr, None)
                                send([C_HEADER, bytes([CANCEL]), _U64.pack(call.corr)])
                flush()
                if self._sock in events:
                    for _ in range(1000):
                        try:
                            frames = self._sock.recv_multipart(flags=zmq.DONTWAIT)
                        except zmq.Again:
                            break
                        if len(frames) > MAX_FRAMES:
                            log.warning("message with more than %d frames: dropped", MAX_FRAMES)
                            continue
                        heard = _now_ms()
                        if (calls and len(frames) >= 2 and frames[0] == C_HEADER
                                and frames[1] == bytes([DISCONNECT])):
                            # Nothing outstanding will be answered (PROTOCOL.md 13.5)
                            _reason, text = _parse_bye(frames[2:])
                            if text.startswith("dropped: "):
                                fail_all("the broker at %s dropped this coordinator (%s)"
                                         % (self.endpoint, text[len("dropped: "):]))
                            else:
                                fail_all("the broker at %s said goodbye%s"
                                         % (self.endpoint, " (%s)" % text if text else ""))
                            continue
                        interval = self._on_message(frames, calls)
                        if interval:
                            broker_interval = interval
                if self._monitor in events:
                    while True:
                        try:
                            event = zmq.utils.monitor.recv_monitor_message(self._monitor,
                                                                          flags=zmq.DONTWAIT)
                        except zmq.Again:
                            break
                        kind = event["event"]
                        if kind == zmq.EVENT_DISCONNECTED:
                            fail_all("connection to the broker at %s lost" % self.endpoint)
                        elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                            for call in list(calls.values()):
                                fail(call, ZexecError(
                                    "ZX_EPROTO", "the broker at %s refused this coordinator's "
                                    "CURVE key; task '%s' was lost"
                                    % (self.endpoint, call.name.decode("utf-8", "replace"))))
                        else:
                            for call in list(calls.values()):
                                fail(call, ZexecError(
                                    "ZX_EPROTO", "the CURVE handshake with the broker at %s "
                                    "failed (a wrong server key?); task '%s' was lost"
                                    % (self.endpoint, call.name.decode("utf-8", "replace"))))
                now = _now_ms()
                while deadlines and deadlines[0][0] <= now:
                    _, corr = heapq.heappop(deadlines)
                    call = calls.pop(corr, None)
                    if call is not None:
                        send([C_HEADER, bytes([CANCEL]), _U64.pack(corr)])
                        try:
                            call.future.set_exception(ZexecTimeout(
                                "ZX_ETIMEDOUT", "task '%s' timed out"
                                % call.name.decode("utf-8", "replace")))
                        except concurrent.futures.InvalidStateError:
                            pass
                if not calls:
                    busy_since = None
                if now >= next_tick:
                    stalled = now - next_tick > 2 * self.heartbeat_ms     # as the worker's
                    next_tick = now + self.heartbeat_ms
                    if calls:
                        silent = now - max(heard, busy_since or heard)
                        if (silent > _silence_ms(self.heartbeat_ms, self.liveness,
                                                 broker_interval) and not stalled):
                            fail_all("broker at %s not heard from for %d ms"
                                     % (self.endpoint, silent))
                            busy_since = None
                        else:
                            send([C_HEADER, bytes([HEARTBEAT]), _U32.pack(self.heartbeat_ms)])
                if closing and not calls:
                    break
            send([C_HEADER, bytes([DISCONNECT]), _bye(BYE_NORMAL, "")])
        except BaseException as exc:        # a bug here must not leave futures hanging
            log.exception("the coordinator's I/O thread failed")
            failure = "the coordinator's I/O thread failed (%s: %s)" % (type(exc).__name__, exc)
        finally:
            with self._lock:
                self._shutdown = True
            while True:                     # nothing more can come in
                try:
                    what, arg = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if what == "submit":
                    calls[arg.corr] = arg
            for call in list(calls.values()):
                fail(call, ZexecError("ZX_ESHUTDOWN", "%s; task '%s' was lost"
                                      % (failure or "executor shut down before the reply came",
                                         call.name.decode("utf-8", "replace")), SHUTDOWN))
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._sock.close()
            self._waker.close()

    def _on_message(self, frames, calls):
        """Acts on one message from the broker; returns an announced interval."""
        if len(frames) < 2 or frames[0] != C_HEADER or len(frames[1]) != 1:
            log.warning("malformed message from the broker at %s: dropped", self.endpoint)
            return None
        command, body = frames[1][0], frames[2:]
        if command == REPLY and len(body) == 1:
            try:
                for corr, _attempt, status, payload in decode_replies(body[0]):
                    if status == STARTED:
                        call = calls.get(corr)
                        if call is not None:
                            self._started(call)
                        continue
                    call = calls.pop(corr, None)
                    if call is not None:
                        self._complete(call, status, payload)
            except ProtocolError as exc:
                log.warning("malformed REPLY from the broker at %s (%s): rest dropped",
                            self.endpoint, exc)
        elif command == HEARTBEAT:
            return _interval(body)
        elif command != DISCONNECT:
            log.warning("unexpected command %d from the broker: dropped", command)
        return None

    @staticmethod
    def _started(call):
        """The task has started on a worker: the future turns RUNNING, so
        its cancel() now returns False, as concurrent.futures' does."""
        future = call.future
        if not future.cancelled() and not future.running() and not future.done():
            try:
                future.set_running_or_notify_cancel()
            except RuntimeError:
                pass            # cancelled or finished by its caller meanwhile

    @staticmethod
    def _complete(call, status, payload):
        try:
            if status == OK:
                try:
                    values = unpack_values(payload)
                except ProtocolError:
                    call.future.set_exception(ZexecError(
                        "ZX_EPROTO", "malformed result from the broker"))
                    return
                call.future.set_result(values if call.whole else _result_value(values))
            else:
                text = bytes(payload).split(b"\0", 1)[0].decode("utf-8", "replace")
                if status == CANCELLED:
                    text = "cancelled"
                call.future.set_exception(_error_from_status(status, text))
        except concurrent.futures.InvalidStateError:
            pass                # cancelled by its caller meanwhile


# ---------------------------------------------------------------------------
# The command line

def _load_tasks(spec):
    """The tasks of a module (a name on sys.path, or a .py file): its
    ZEXEC_TASKS (a dict of name: function, or a list of functions) when it
    has one, else every public function it defines."""
    if spec.endswith(".py") or os.sep in spec:
        name = os.path.splitext(os.path.basename(spec))[0]
        loader = importlib.util.spec_from_file_location(name, spec)
        if loader is None:
            raise ValueError("cannot load %s" % spec)
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    chosen = getattr(module, "ZEXEC_TASKS", None)
    if isinstance(chosen, dict):
        return dict(chosen)
    if chosen is not None:
        return {fn.__name__: fn for fn in chosen}
    return {name: fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if not name.startswith("_") and fn.__module__ == module.__name__}


def _literal(text):
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _keys(args):
    server_key = args.server_key
    cert = args.cert
    if server_key is None and cert is None:
        server_key = os.environ.get("ZEXEC_SERVER_KEY") or None
        cert = os.environ.get("ZEXEC_CERT") or None
    return server_key, cert


def _main_worker(args):
    tasks = {}
    for spec in args.modules:
        tasks.update(_load_tasks(spec))
    if not tasks:
        raise ValueError("no tasks in %s" % ", ".join(args.modules))
    server_key, cert = _keys(args)
    worker = Worker(args.broker, tasks, service=args.service, threads=args.threads,
                    window=args.window, heartbeat_ms=args.heartbeat, liveness=args.liveness,
                    server_key=server_key, cert=cert)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    log.info("serving %d tasks (%s) on %d threads", len(tasks), ", ".join(sorted(tasks)),
             worker.threads)
    worker.run()
    return 0


def _main_call(args):
    server_key, cert = _keys(args)
    with Coordinator(args.broker, service=args.service, heartbeat_ms=args.heartbeat,
                     liveness=args.liveness, retries=args.retries, server_key=server_key,
                     cert=cert) as coordinator:
        future = coordinator.submit_values(args.task, [_literal(a) for a in args.args],
                                           timeout=args.timeout)
        try:
            values = future.result()
        except ZexecError as exc:
            print("zexec_peer: task '%s' failed: %s: %s" % (args.task, exc.code, exc.message),
                  file=sys.stderr)
            return 1
    for value in values:
        print(repr(value))
    return 0


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="zexec_peer.py",
        description="A zexec worker or coordinator in Python, through a zexec-broker.")
    commands = parser.add_subparsers(dest="command", required=True)

    environment = ("environment: ZEXEC_SERVER_KEY and ZEXEC_CERT stand for --server-key and "
                   "--cert when neither is given")

    def common(sub):
        sub.epilog = environment
        sub.add_argument("--broker", "--connect", required=True, metavar="ENDPOINT",
                         help="the broker, e.g. tcp://10.0.0.2:5555")
        sub.add_argument("--service", default="default", help="the service (default: default)")
        sub.add_argument("--heartbeat", type=_positive, default=1000, metavar="MS",
                         help="heartbeat interval (default 1000)")
        sub.add_argument("--liveness", type=_positive, default=3, metavar="N",
                         help="silent intervals before the broker is gone (default 3)")
        sub.add_argument("--server-key", metavar="KEY|FILE",
                         help="the broker's public key (40 Z85 characters) or its certificate "
                              "file; with --cert, connect over CURVE")
        sub.add_argument("--cert", metavar="PATH",
                         help="this peer's certificate (PATH or PATH_secret, from zexec-keygen)")
        sub.add_argument("--verbose", action="store_true", help="log connections")

    worker = commands.add_parser(
        "worker", help="serve a module's functions as tasks",
        description="Serves the functions of MODULE (ZEXEC_TASKS, or every public function "
                    "it defines) as tasks. SIGINT or SIGTERM: say goodbye and exit 0.")
    common(worker)
    worker.add_argument("--threads", type=_positive, default=None,
                        help="threads running tasks (default min (32, cores + 4))")
    worker.add_argument("--window", type=_positive, default=None,
                        help="requests held at once (default 256 per thread)")
    worker.add_argument("modules", nargs="+", metavar="MODULE",
                        help="a module name or a .py file")

    call = commands.add_parser(
        "call", help="run one task and print its result values, one per line",
        description="Runs TASK on the ARGs (each a Python literal, else a string) and prints "
                    "the values of its result, one repr per line. Exit 1 if it fails.")
    common(call)
    call.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                      help="fail (and cancel) the task if it has not ended by then")
    call.add_argument("--retries", type=int, default=0, choices=range(16), metavar="N",
                      help="times the broker may send it again when its worker is lost "
                           "(0 to 15, default 0)")
    call.add_argument("task", metavar="TASK")
    call.add_argument("args", nargs="*", metavar="ARG")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s zexec_peer[%(process)d] %(levelname)s: %(message)s",
                        stream=sys.stderr)
    try:
        return _main_worker(args) if args.command == "worker" else _main_call(args)
    except (ValueError, ImportError, OSError) as exc:
        print("zexec_peer: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    # Task modules that `import zexec_peer` (for cancelled()) get this module
    sys.modules.setdefault("zexec_peer", sys.modules[__name__])
    sys.exit(main())
