/*  zx_executor.h - internal: the executor's front, its back ends, relays.

    An executor is a front (zx_executor.c) over one back end. The front is
    what the user sees and is the same for every kind: the public API,
    futures, deadlines, backpressure (max_queue), the one loop it is used
    with, the default executor, shutdown. A back end moves requests to
    workers and their completions back: the local pool (zx_pool.c, thread
    or process workers on a dispatcher) and the remote client (zx_remote.c,
    the coordinator's face of a broker). As nng's transports do, a back
    end fills an operations table in which every entry has a contract,
    optional entries may be NULL, and close (does not block), stop (waits)
    and destroy (frees) are distinct. Each kind's public constructor
    (zx_thread_pool_new, ...) lives with its back end and is a thin wrapper
    over zx__executor_new and zx__executor_open, as nng_pair_open is over
    nni_proto_open. Once attached to a loop, every entry runs on its thread.

    A serving worker (zx_serve) receives requests whose arguments are
    already encoded and sends back encoded results. Through a relay they
    go to its local pool as they are: no future, no decoding of arguments
    or results in between, and the dispatcher's completion goes straight
    into the reply batch.                                                 */
#ifndef ZX_EXECUTOR_H_INCLUDED
#define ZX_EXECUTOR_H_INCLUDED
#include "zexec.h"
#include "zx_dispatch.h"

/*  ---------------------------------------------------------------------
    The operations table                                                  */

typedef struct zx__executor_ops zx__executor_ops_t;

//  Every back end's struct begins with this, so that the front can reach
//  its operations (as every libuv handle begins with uv_handle_t's fields).
typedef struct {
    const zx__executor_ops_t *ops;
    zx_executor_t *front;           //  For the calls back, below
} zx__backend_t;

//  One request as the front hands it over; borrowed for the call.
typedef struct {
    const char *task;               //  NUL-terminated; the back end checks it
    const void *args;               //  Encoded values, args_size bytes
    size_t args_size;
    uint8_t flags;                  //  Wire flags: low 4 bits, retries allowed
    //  The list args is the encoding of, or NULL (relays): a back end that
    //  wants the list may take it (nulling *values_p) rather than copy args.
    zx_values_t **values_p;
    //  Affinity: the routing id of the one worker it must go to, or NULL
    //  for any. Only relays (completions by function) have one.
    const char *target;
    //  Relays: the arguments as a libzmq frame (args is then its data),
    //  which a back end that sends frames may take with zmq_msg_move
    //  instead of copying args; NULL for none.
    struct zmq_msg_t *frame;
} zx__submission_t;

//  Who hears how a request ends: exactly one of future and complete is set.
typedef struct {
    //  A submission through the public API. The back end references the
    //  future until it ends it, exactly once (zx__executor_complete,
    //  zx__executor_refuse), marks it running once a worker holds it, and
    //  sets its canceller: that withdraws a queued request at once, or
    //  asks a held one to stop and defers the cancel until it has.
    zx_future_t *future;
    //  A relay: complete (cookie, ...) is called exactly once with the
    //  encoded result (ZX_OK) or an error text, possibly before submit
    //  returns.
    zx__complete_fn *complete;
    void *cookie;
} zx__completion_t;

//  The stages of zx__executor_ops_t.hasten
enum { ZX__HASTEN_CANCEL = 1, ZX__HASTEN_TERM = 2, ZX__HASTEN_END = 3 };

struct zx__executor_ops {
    //  True when submit takes relays (completions by function) as well as
    //  futures: zx__executor_is_local.
    bool relays;
    //  True when the back end calls zx__executor_room as its queue drains;
    //  otherwise a coroutine waiting for room looks again every ms.
    bool signals_room;
    //  True when submit also takes actor messages by function with a
    //  target though it takes no other relay (the remote executor: the
    //  broker routes them, zx__executor_send_to).
    bool places_actors;

    //  Starts watching its sockets, timers and workers on loop; the front
    //  calls it once, on first use, before any submit. Returns ZX_OK, or
    //  the loop's error.
    zx_err_t (*attach) (zx__backend_t *self, zx_loop_t *loop);

    //  Queues request for done (see zx__completion_t), or ends done at once
    //  with the error (full queue, bad task name, out of memory, a relay
    //  to a kind that cannot take one). Returns a handle for cancel, valid
    //  until done has ended; NULL when it has ended already, or when the
    //  back end gives no handle (its future's canceller does that job).
    zx__request_t *(*submit) (zx__backend_t *self, const zx__submission_t *request,
                              const zx__completion_t *done);

    //  Optional (with relays): asks request to stop, as a future's
    //  canceller does: a queued one ends now with ZX_ECANCELLED (returns
    //  false); a held one ends when its worker has stopped it, or has been
    //  stopped (returns true).
    bool (*cancel) (zx__backend_t *self, zx__request_t *request);

    //  Optional: deals what is queued to the workers now rather than on
    //  the loop's next iteration. The front also calls it after each
    //  submission from plain code, outside the loop's iteration: there
    //  it does what it can at once without sending a request per message
    //  in a burst (it may read what workers sent, which may complete
    //  futures), and leaves the rest to the loop.
    void (*flush) (zx__backend_t *self);

    //  Sets *waiting to the requests that count against max_queue (a pool:
    //  not yet dealt to a worker; remote: sent and not yet answered) and
    //  *held to those that workers hold besides.
    void (*counts) (const zx__backend_t *self, size_t *waiting, size_t *held);

    //  Optional: returns why it can take no more work (a pool whose workers
    //  cannot start), or NULL while it can (borrowed).
    const char *(*broken) (const zx__backend_t *self);

    //  Optional: no new work will come. Workers that end are replaced only
    //  while work remains; with cancel_queued, requests not yet dealt to a
    //  worker end now with ZX_ECANCELLED. Does not block; harmless twice.
    void (*close) (zx__backend_t *self, bool cancel_queued);

    //  Optional: a shutdown with a deadline (zx_executor_shutdown_deadline)
    //  hurries what is still out, one stage at a time, adding what it
    //  does to report. ZX__HASTEN_CANCEL: every request not started ends
    //  cancelled, every running one is asked to stop at its cancel token.
    //  ZX__HASTEN_TERM: process workers still running one get SIGTERM.
    //  ZX__HASTEN_END: they get SIGKILL, every request still out ends with
    //  ZX_ECANCELLED and text, and no worker is replaced any more; the
    //  stop that follows returns within a bounded time (threads still
    //  running are abandoned). Does not block.
    void (*hasten) (zx__backend_t *self, int stage, const char *text,
                    zx_shutdown_report_t *report);

    //  Optional: closes, dismisses the workers and waits until they have
    //  gone (a process that ignores it is killed); what they still held
    //  ends as lost. Harmless twice.
    void (*stop) (zx__backend_t *self);

    //  Stops (if the front did not), ends what is left with ZX_ESHUTDOWN
    //  and frees the back end; nulls the caller's pointer.
    void (*destroy) (zx__backend_t **self_p);

    //  Returns where its workers connect, or the broker it connects to
    //  (borrowed).
    const char *(*endpoint) (const zx__backend_t *self);

    //  Optional (places_actors): starts (on) or stops (off) watching the
    //  worker with routing id identity, once per actor placed there; while
    //  any watch of it stands, its loss is told to the executor's watchers
    //  (zx__executor_worker_lost), also when no request of it is out. A
    //  back end whose own completions tell of lost workers has none.
    void (*watch_worker) (zx__backend_t *self, const char *identity, bool on);

    //  Optional: fills pids with the process IDs of the live workers (the
    //  caller's pid for a thread, once per worker) and returns how many
    //  there are, which may exceed size. NULL: it has none of its own.
    size_t (*worker_pids) (const zx__backend_t *self, pid_t *pids, size_t size);

    //  Optional (with relays): copies the routing ids of the workers ready
    //  now into ids (at most count) and returns how many it copied; with
    //  count 0, how many are ready.
    size_t (*ready_workers) (const zx__backend_t *self, char (*ids) [64], size_t count);
};

//  The front's half of every constructor: starts zexec (zx_init), checks
//  the options every kind shares (retries, task_timeout_ms,
//  cancel_grace_ms; opts may be NULL) and makes a front without a back
//  end. NULL on a bad option or when out of memory.
zx_executor_t *zx__executor_new (const zx_executor_opts_t *opts);

//  Gives front (which may be NULL) its back end and returns it; when
//  backend is NULL (the back end could not start) it destroys the front
//  and returns NULL.
zx_executor_t *zx__executor_open (zx_executor_t *front, zx__backend_t *backend);

/*  ---------------------------------------------------------------------
    What back ends call                                                   */

//  Ends future, which the back end referenced at submit, as a dispatcher
//  completion says: ZX_OK with payload the encoded result (a malformed
//  one fails it with ZX_EPROTO), else code with payload its message (size
//  bytes, no NUL). Drops the back end's reference.
void zx__executor_complete (zx_future_t *future, zx_err_t code,
                            const void *payload, size_t size);

//  Ends a request that never reached a queue with code and a message
//  (printf-style): fails its future, or calls its complete function.
void zx__executor_refuse (const zx__completion_t *done, zx_err_t code,
                          const char *format, ...) ZX_PRINTF (3, 4);

//  The back end's queue has shrunk: wakes the coroutines waiting for
//  room in it, if there is room now.
void zx__executor_room (zx_executor_t *self);

//  The back end has nothing queued or held any more: wakes a shutdown
//  that waits for that.
void zx__executor_idle (zx_executor_t *self);

/*  ---------------------------------------------------------------------
    Relays, for a serving worker (zx_serve)                               */

//  True when the executor is a local pool, which relays can use (a remote
//  executor cannot).
bool zx__executor_is_local (const zx_executor_t *self);

//  Queues task (NUL-terminated) with encoded args on a local pool bound to
//  loop (binding it on first use). complete (cookie, ...) is called exactly
//  once with the encoded result (ZX_OK) or an error text, possibly before
//  this returns (shut down, broken pool, bad task name: then NULL is
//  returned). Returns the request, for zx__executor_relay_stop.
zx__request_t *zx__executor_relay (zx_executor_t *self, zx_loop_t *loop, const char *task,
                                   const void *args, size_t args_size,
                                   zx__complete_fn *complete, void *cookie);

//  zx__executor_relay with the arguments in frame (a libzmq message part,
//  as a broker's framed REQUEST brought it), which a local pool takes as
//  it is and sends on without copying; frame may be left as it was (then
//  the arguments were copied) and stays the caller's to close.
zx__request_t *zx__executor_relay_frame (zx_executor_t *self, zx_loop_t *loop,
                                         const char *task, struct zmq_msg_t *frame,
                                         zx__complete_fn *complete, void *cookie);

//  Sets what is called, on the loop, with a relay's cookie when the worker
//  holding the relayed request says it started the task (NULL: nothing).
typedef void (zx__started_fn) (void *cookie);
void zx__executor_on_relay_started (zx_executor_t *self, zx__started_fn *started);

//  The back end's call: a relayed request's task started.
void zx__executor_relay_started (zx_executor_t *self, void *cookie);

//  Gives future the details an error payload carries after its message
//  (zx__error_detail_read), before it fails with code; nothing for ZX_OK
//  or ZX_ECANCELLED.
void zx__executor_error_info (zx_future_t *future, zx_err_t code, const void *payload,
                              size_t size);

//  Asks for a relayed request to stop, as zx_future_cancel does for a
//  future: a queued one completes now with ZX_ECANCELLED; a running one
//  when it has stopped (cancel token, then SIGTERM and SIGKILL for process
//  workers after the pool's grace).
void zx__executor_relay_stop (zx_executor_t *self, zx__request_t *request);

//  Deals what is queued to the pool's workers now, rather than on the
//  loop's next iteration.
void zx__executor_flush (zx_executor_t *self);

/*  ---------------------------------------------------------------------
    For actors (zx_actor_ref.c)                                           */

//  Queues task with encoded args (copied) on a local pool bound to loop
//  (binding it on first use) for the worker whose routing id is target,
//  or for any worker when target is NULL; complete (cookie, ...) is
//  called exactly once, as for a relay, possibly before this returns
//  (refused: a remote executor, another loop, shut down; ZX_EWORKER_LOST
//  when target is not a ready worker). Returns the request or NULL.
zx__request_t *zx__executor_send_to (zx_executor_t *self, zx_loop_t *loop, const char *target,
                                     const char *task, const void *args, size_t args_size,
                                     zx__complete_fn *complete, void *cookie);

//  Hears that the worker with routing id identity is gone, and why (a
//  printable cause naming pid and signal where there is one); identity
//  NULL: the executor is being destroyed, and the watch is dropped.
typedef void (zx__worker_lost_fn) (void *arg, const char *identity, const char *cause);

//  Adds (ZX_OK, ZX_ENOMEM) or removes a watcher of lost workers. On the
//  executor's loop thread.
zx_err_t zx__executor_watch (zx_executor_t *self, zx__worker_lost_fn *fn, void *arg);
void zx__executor_unwatch (zx_executor_t *self, zx__worker_lost_fn *fn, void *arg);

//  An actor is placed on (on) or has left (off) the worker with routing
//  id identity: the back end watches that worker while it hosts actors
//  (ops->watch_worker), so that its loss reaches zx__executor_watch's
//  watchers even when no message is out. Calls pair up. On the loop.
void zx__executor_watch_worker (zx_executor_t *self, const char *identity, bool on);

//  The back end's call: the worker with identity is gone, for cause.
void zx__executor_worker_lost (zx_executor_t *self, const char *identity, const char *cause);

//  The ready workers' routing ids, as the ready_workers operation gives
//  them (0 when the back end has none).
size_t zx__executor_ready_ids (const zx_executor_t *self, char (*ids) [64], size_t count);

//  Sets *loop to the loop actor refs of this executor use: the one it is
//  bound to, else the calling thread's current loop. Returns false when
//  there is none, the calling thread does not run it, or the executor
//  runs its own loop (actors are used from the loop's own thread).
bool zx__executor_loop_owned (zx_executor_t *self, zx_loop_t **loop);

/*  ---------------------------------------------------------------------
    For zx_map                                                            */

//  Makes sure zx_executor_submit works from the calling thread: ZX_OK
//  when the executor runs its own loop, is bound to this thread's loop,
//  or is not bound and this thread has a current loop (to be bound to on
//  first use); when it is not bound and this thread has no loop, it gets
//  its own loop now (ZX_OK, or the error of zx_executor_start_loop).
//  ZX_EINVAL when it is bound to another thread's loop.
zx_err_t zx__executor_usable_here (zx_executor_t *self);

#endif
