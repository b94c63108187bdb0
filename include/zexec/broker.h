/*  zexec/broker.h - the broker as a library object: coordinators on one side, workers on the other.

    Part of the public API: include <zexec.h>, which includes every part.

    A broker is what the zexec-broker program runs, and a program (or a
    test) can run one itself: one ROUTER socket, bound wherever the caller
    says, that coordinators (zx_remote_executor_new) and workers
    (zx_worker_new, zx_serve, zexec-worker) connect to. Each service (a
    named pool) gets its own queue and dispatcher; workers are dealt work
    by credits, heartbeats go both ways, and a peer not heard from for
    liveness intervals is gone (docs/PROTOCOL.md). The broker runs on the
    caller's event loop: zx_broker_attach makes that loop watch its
    sockets and run its timers, and it works whenever the loop runs.

    It logs through the logger "zexec.broker" (zx_log_get): warnings for
    what peers do wrong, and at info level every worker and coordinator
    that comes and goes. It writes nothing else anywhere and installs no
    signal handler.                                                       */
#ifndef ZEXEC_BROKER_H_INCLUDED
#define ZEXEC_BROKER_H_INCLUDED

#include "zexec/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zx_broker zx_broker_t;

//  zx_broker_opts_t.no_worker_wait_ms: a request for a service without
//  workers fails at the next heartbeat tick, without waiting.
#define ZX_BROKER_NO_WAIT (-1)

//  A broker's options. Zero a field (or the whole struct) for its default;
//  the struct only grows at its end (see "How the API grows", common.h).
typedef struct {
    //  Heartbeat interval in ms, 10 to 600,000 (0 means 1000); peers may
    //  announce other intervals, and each side waits liveness times the
    //  longer one.
    int heartbeat_ms;
    //  Silent intervals before a worker or coordinator is gone, 2 to 100
    //  (0 means 3). A gone worker's tasks are retried or fail as lost; a
    //  gone coordinator's tasks are cancelled.
    int liveness;
    //  How long a request waits for a worker of its service before it
    //  fails with ZX_ENOWORKERS, in ms up to 86,400,000 (0 means 5000;
    //  ZX_BROKER_NO_WAIT: not at all).
    int no_worker_wait_ms;
    //  Requests queued per service, 1 to 1,000,000,000 (0 means
    //  1,000,000); past it a request fails with ZX_EQUEUE_FULL.
    size_t max_queue;
    //  Services at most, 1 to 1,000,000 (0 means 1000).
    size_t max_services;
    //  Workers at most over all services, 1 to 1,000,000 (0 means
    //  10,000); a READY past it is dropped.
    size_t max_workers;
    //  Coordinators at most, 1 to 1,000,000 (0 means 10,000); a new one's
    //  requests past it fail with ZX_EQUEUE_FULL.
    size_t max_clients;
    //  Requests one coordinator may have queued or running at once, 1 to
    //  1,000,000,000 (0 means 100,000); past it, ZX_EQUEUE_FULL.
    size_t max_client_pending;
    //  Largest frame a peer may send, in bytes, at least 64 (0 means
    //  256 MiB); a bigger one closes that peer's connection.
    int64_t max_frame_bytes;
    //  A connection that has not finished its handshake after this many
    //  ms is closed, 100 to 600,000 (0 means 5000).
    int handshake_timeout_ms;
    //  CURVE (docs/SECURITY.md), all three or none: the broker's own
    //  certificate (czmq's format, as zexec-keygen makes it: NAME, with
    //  NAME_secret beside it; either name may be given) and the
    //  directories of the public certificates of the coordinators that
    //  may submit work and of the workers that may serve. Both
    //  directories are read again when they change: a peer whose key
    //  leaves its list is disconnected. Without them the broker has no
    //  authentication at all: bind tcp only where every peer is trusted.
    const char *curve_cert;
    const char *curve_clients_dir;
    const char *curve_workers_dir;
    //  Where to publish lifecycle events (docs/OBSERVABILITY.md; their
    //  format is docs/PROTOCOL.md, section 22): a ZeroMQ endpoint the
    //  broker binds a PUB socket to, such as "tcp://127.0.0.1:5556" (a
    //  wildcard binds a free port: zx_broker_events_endpoint says which).
    //  NULL, the default: no events, and no cost. Events are encoded only
    //  while someone subscribes. The socket has no authentication, even
    //  with CURVE: bind it to loopback or a private address.
    const char *events_endpoint;
    //  Bytes of replies that may wait at the broker for one coordinator
    //  that does not read them, past the 100 messages its connection
    //  holds, 4096 to 2^40 (0 means 16 MiB); past it (or past
    //  max_client_pending replies) the coordinator is dropped, its tasks
    //  cancelled, and the reason logged.
    int64_t max_client_backlog;
    //  Argument bytes one coordinator may have queued or running at once,
    //  4096 to 2^50 (0 means 64 MiB); past it a request fails with
    //  ZX_EQUEUE_FULL.
    int64_t max_client_bytes;
    //  Argument bytes queued per service (waiting for a worker), 4096 to
    //  2^50 (0 means 256 MiB); past it a request fails with ZX_EQUEUE_FULL.
    int64_t max_queue_bytes;
} zx_broker_opts_t;

//  Creates a broker with opts (NULL for defaults; the strings are read,
//  not kept) and its ROUTER socket, bound nowhere yet. With CURVE it
//  first loads the certificate and the allow-lists and starts its ZAP
//  handler (one per process), and fails closed: when CURVE cannot be
//  enforced (a libzmq without CURVE or older than 4.3.3, a certificate
//  without its secret key, a directory it cannot read) there is no
//  broker. Returns NULL on a bad option, on those CURVE failures or when
//  resources run out, with the reason written into why (why_size octets,
//  NUL-terminated, truncated to fit; why may be NULL). Caller owns the
//  broker and destroys it before the loop it is attached to.
ZX_EXPORT zx_broker_t *zx_broker_new (const zx_broker_opts_t *opts, char *why,
                                      size_t why_size);

//  Binds the broker's socket to endpoint, such as "tcp://10.0.0.2:5555"
//  or "ipc:///tmp/zexec.ipc"; a wildcard ("tcp://127.0.0.1:*") binds a
//  free port. May be called before or after attach, and again for more
//  endpoints. Returns the endpoint actually bound (borrowed, valid until
//  destroy), or NULL with the reason in why (as for zx_broker_new) when
//  it cannot bind.
ZX_EXPORT const char *zx_broker_bind (zx_broker_t *self, const char *endpoint, char *why,
                                      size_t why_size);

//  Returns the index-th endpoint bound, as zx_broker_bind returned it
//  (borrowed), or NULL when index is past the last.
ZX_EXPORT const char *zx_broker_endpoint (const zx_broker_t *self, size_t index);

//  With CURVE, returns the broker's public key as 40 Z85 characters
//  (borrowed), which its peers need as their server key; NULL without.
ZX_EXPORT const char *zx_broker_curve_key (const zx_broker_t *self);

//  Returns the endpoint the events socket is bound to (borrowed, valid
//  until destroy), or NULL when the broker publishes no events.
ZX_EXPORT const char *zx_broker_events_endpoint (const zx_broker_t *self);

//  Makes loop run the broker: the loop watches its socket (and, with
//  CURVE, its ZAP handler) and runs its heartbeat and allow-list timers
//  whenever it runs. From then on the broker belongs to the loop's thread.
//  Returns ZX_OK, ZX_EINVAL when it is already attached, or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_broker_attach (zx_broker_t *self, zx_loop_t *loop);

//  Stops taking work: every request that arrives from now on is answered
//  at once with ZX_ESHUTDOWN ("broker shutting down"). Work already
//  queued or running goes on, and workers stay. Calling it again is
//  harmless.
ZX_EXPORT void zx_broker_close (zx_broker_t *self);

//  Shuts the broker down and frees it; accepts NULL and nulls the
//  caller's pointer. Every coordinator hears that its tasks not yet
//  finished failed with ZX_ESHUTDOWN ("broker shut down before the task
//  finished") and is sent DISCONNECT; every worker is sent DISCONNECT.
//  Those last messages go out in the background for up to a second
//  after. Its loop stops watching it; call it from the loop's thread,
//  outside the loop's callbacks or inside them, but before the loop is
//  destroyed.
ZX_EXPORT void zx_broker_destroy (zx_broker_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
