/*  zx_dispatch.h - internal: credit-based dispatch of requests to workers.

    A dispatcher owns a ROUTER socket that workers connect to. It keeps a
    bounded FIFO of requests, a table of workers with the credits each
    announced in READY, and deals requests round-robin to workers with
    credit, batching all of one worker's share into one message. Each
    reply record returns one credit. It is driven by a loop (the
    coordinator's for a local pool; the broker's, which reads its one
    ROUTER itself and hands each service's dispatcher its workers'
    messages) and knows nothing of futures: the owner gives each request a
    cookie and gets it back exactly once through the complete event.
    zx_dispatch.c holds the queue and the requests, zx_dispatch_workers.c
    the workers and their face of the socket (zx_dispatch_int.h).      */
#ifndef ZX_DISPATCH_H_INCLUDED
#define ZX_DISPATCH_H_INCLUDED
#include "zx_ratelog.h"
#include "zexec.h"
#include "zx_proto.h"
#include <zmq.h>

typedef struct zx__dispatch zx__dispatch_t;
typedef struct zx__request zx__request_t;

//  Completes one request (see zx__dispatch_submit_fn).
typedef void (zx__complete_fn) (void *cookie, zx_err_t code, const void *payload, size_t size);

typedef struct {
    //  A request finished. code ZX_OK: payload is the encoded result.
    //  Otherwise payload is the error message (size bytes, no NUL).
    //  Called exactly once per submitted request.
    void (*complete) (void *owner, void *cookie, zx_err_t code,
                      const void *payload, size_t size);
    //  A request was sent to a worker (optional); cookie is NULL for one
    //  submitted with zx__dispatch_submit_fn.
    void (*dispatched) (void *owner, void *cookie);
    //  Nothing is queued or held any more (optional). Called after the
    //  event that emptied the dispatcher, including late replies to
    //  cancelled requests.
    void (*idle) (void *owner);
    //  A worker said READY (reason -1) or DISCONNECT (a zx__bye_t) and,
    //  for DISCONNECT, has been forgotten with its held requests failed;
    //  or it is declared lost (ZX_BYE_LOST: silent past zx__dispatch_expire's
    //  limit, or gone when a REQUEST was sent to it) and is about to be.
    void (*worker_event) (void *owner, const char *identity, int reason,
                          const char *text);
    //  The worker holding a request said it started the task (optional;
    //  at most once per request and attempt). complete is the request's
    //  function for one submitted with zx__dispatch_submit_fn, else NULL.
    void (*started) (void *owner, void *cookie, zx__complete_fn *complete);
} zx__dispatch_events_t;

//  Creates a dispatcher over router (a bound libzmq ROUTER socket the
//  caller owns and keeps open for the dispatcher's lifetime). max_queue
//  bounds the requests waiting for a worker. With adaptive, a worker holds
//  between 2 and its credits requests, as many as it runs in about 2 ms;
//  otherwise it holds as many as its credits. NULL when out of memory.
zx__dispatch_t *zx__dispatch_new (void *router, const zx__dispatch_events_t *events,
                                  void *owner, size_t max_queue, bool adaptive);

//  Destroys the dispatcher; requests still queued or held are completed
//  with ZX_ESHUTDOWN first. Accepts NULL and nulls the pointer.
void zx__dispatch_destroy (zx__dispatch_t **self_p);

//  Makes the dispatcher speak to its workers over memq (zx_memq.h), a
//  thread pool's in-process transport, instead of its router, which it
//  then never touches. The caller keeps memq open for the dispatcher's
//  lifetime. Call before zx__dispatch_attach and before any worker says
//  READY.
void zx__dispatch_use_memq (zx__dispatch_t *self, zx__memq_t *memq);

//  Starts watching the socket (or memq) on loop. Returns ZX_OK or
//  ZX_ENOMEM.
zx_err_t zx__dispatch_attach (zx__dispatch_t *self, zx_loop_t *loop);

//  Queues task (args: encoded values, copied; from ZX_FRAME_THRESHOLD
//  bytes on, into a libzmq message part sent later without a copy) with
//  cookie. flags go on
//  the wire; their low 4 bits (ZX_FLAG_RETRIES) say how many times the
//  request may be sent to another worker when the one holding it is lost.
//  Returns the request handle, or NULL with *code set to ZX_EQUEUE_FULL,
//  ZX_EINVAL (bad task name, arguments too large) or ZX_ENOMEM, in which
//  case complete is never called.
zx__request_t *zx__dispatch_submit (zx__dispatch_t *self, const char *task,
                                    const void *args, size_t args_size,
                                    uint8_t flags, void *cookie, zx_err_t *code);

//  Same as zx__dispatch_submit, but this request completes through
//  complete (cookie, ...) instead of the complete event, exactly once; the
//  dispatched event is raised for it with a NULL cookie.
zx__request_t *zx__dispatch_submit_fn (zx__dispatch_t *self, const char *task,
                                       const void *args, size_t args_size, uint8_t flags,
                                       zx__complete_fn *complete, void *cookie,
                                       zx_err_t *code);

//  Same as zx__dispatch_submit, but the arguments are frame, a message
//  part as libzmq received it, which the request takes (frame is left
//  empty; on an error it is untouched): a worker that takes framed
//  requests is sent it as it is, a frame of its own, without a copy.
//  With complete not NULL, it completes through complete (cookie, ...) as
//  zx__dispatch_submit_fn does.
zx__request_t *zx__dispatch_submit_frame (zx__dispatch_t *self, const char *task,
                                          zmq_msg_t *frame, uint8_t flags,
                                          zx__complete_fn *complete, void *cookie,
                                          zx_err_t *code);

//  Inside a completion of request with payload: the frame that payload
//  is when the worker's reply came framed, which the caller may take
//  with zmq_msg_move (or send) instead of copying it; NULL otherwise.
zmq_msg_t *zx__request_reply_frame (const zx__request_t *request, const void *payload);

//  Affinity: queues task for the worker whose routing id is target (a
//  NUL-terminated string) and no other, completing through complete
//  (cookie, ...) exactly once, as zx__dispatch_submit_fn does. Requests
//  bound to one worker are dealt to it in the order they were submitted,
//  before the shared queue, as its credits allow; they are never retried
//  elsewhere (the retries in flags are ignored). When that worker goes,
//  what is bound to it fails with ZX_EWORKER_LOST and the cause. Returns
//  NULL with *code ZX_EWORKER_LOST when no such worker is ready now, or
//  the codes of zx__dispatch_submit; complete is then never called.
zx__request_t *zx__dispatch_submit_to (zx__dispatch_t *self, const char *target,
                                       const char *task, const void *args, size_t args_size,
                                       uint8_t flags, zx__complete_fn *complete, void *cookie,
                                       zx_err_t *code);

//  Withdraws a request: a queued one is removed and never runs; one held
//  by a worker is cancelled there and its late reply dropped. Either way
//  complete runs now with ZX_ECANCELLED, unless it already ran. The handle
//  is valid until complete has run for it.
void zx__request_cancel (zx__request_t *request);

//  Ends a request now with code and text: a queued one is removed and
//  never runs; one held by a worker is cancelled there (the worker skips
//  it, or a running task sees zx_call_cancelled) and its late reply is
//  dropped. zx__request_cancel is this with ZX_ECANCELLED.
void zx__request_fail (zx__request_t *request, zx_err_t code, const char *text);

//  Asks for a request to stop, and lets it end when it has: a queued one
//  is cancelled now (returns false); for one held by a worker, CANCEL is
//  sent and true returned: it completes with ZX_ECANCELLED when the
//  worker replies (its text says whether it stopped before it started,
//  at its cancel token, or finished anyway), or when the worker is lost
//  ("cancelled while running: CAUSE"), or through zx__dispatch_abandon.
bool zx__request_stop (zx__request_t *request);

//  True when the worker holding request said it started the task (a
//  worker says so once a task has run about a millisecond; see section 8
//  of PROTOCOL.md): false while it is queued or held but not started.
bool zx__request_started (const zx__request_t *request);

//  Returns the owner given to zx__dispatch_new.
void *zx__request_owner (const zx__request_t *request);

//  Returns the request's correlation id, which stays valid to name it
//  after the handle is gone.
uint64_t zx__request_corr (const zx__request_t *request);

//  Copies into identity (size bytes) the identity of the worker holding
//  request corr. Returns false when no worker holds it (it finished, or
//  is queued) or the identity does not fit.
bool zx__dispatch_holder (zx__dispatch_t *self, uint64_t corr, char *identity, size_t size);

//  Completes request corr now with code and text, while its worker keeps
//  it (and the credit) until it replies; the reply is then dropped.
//  Returns false when there is no such request or it already completed.
bool zx__dispatch_abandon (zx__dispatch_t *self, uint64_t corr, zx_err_t code,
                           const char *text);

//  Forgets a worker that was killed to stop request corr: as
//  zx__dispatch_worker_gone, except that requests sent to it after corr
//  (which it had not started, as it runs one task at a time) go back to
//  the queue without using a retry. For workers that run one task at a
//  time only.
void zx__dispatch_worker_stopped (zx__dispatch_t *self, const char *identity, uint64_t corr,
                                  const char *cause);

//  Completes every queued request with code and message (they never run).
//  Returns how many.
size_t zx__dispatch_fail_queued (zx__dispatch_t *self, zx_err_t code, const char *message);

//  Cancels every request that has not started, wherever it waits: the
//  queued ones, those queued for one worker alone (affinity: actors'
//  messages), and those workers hold but have not said STARTED (a
//  CANCEL withdraws them there; a late reply is dropped). Each completes
//  now with ZX_ECANCELLED and message. Returns how many.
size_t zx__dispatch_cancel_unstarted (zx__dispatch_t *self, const char *message);

//  How many requests the worker with identity holds (0 when unknown),
//  counting those already completed whose reply it still owes.
size_t zx__dispatch_worker_holds (zx__dispatch_t *self, const char *identity);

//  Asks every running request (held, started, not yet asked) to stop, as
//  zx__request_stop does. Returns how many.
size_t zx__dispatch_stop_started (zx__dispatch_t *self);

//  Completes every request not yet completed, queued or held, now with
//  code and text; held ones stay with their worker until it replies (the
//  reply is then dropped). Returns how many.
size_t zx__dispatch_abandon_all (zx__dispatch_t *self, zx_err_t code, const char *text);

//  Forgets a worker that died; each request it held completes with
//  ZX_EWORKER_LOST and "CAUSE; task 'NAME' was lost". Unknown identities
//  are ignored.
void zx__dispatch_worker_gone (zx__dispatch_t *self, const char *identity, const char *cause);

//  Reads and handles every message waiting on the socket now, as the loop
//  does when the socket is readable.
void zx__dispatch_read (zx__dispatch_t *self);

//  Handles one message read and decoded by someone else (a broker that
//  shares one ROUTER among several dispatchers): msg came from a ROUTER
//  (zx__recv_router, zx__msg_decode routed) with ZX_RECV_OK on the worker
//  face; on any other it is logged as malformed. Call zx__dispatch_flush
//  after a burst of them.
void zx__dispatch_handle (zx__dispatch_t *self, const zx__msg_t *msg);

//  Forgets the worker with this routing id as if it had said DISCONNECT
//  with reason and text (printable, NUL-terminated): what it held is
//  retried or fails with "worker LABEL left (TEXT)", and the owner's
//  worker event runs with reason and text, whether the worker was known
//  or not.
void zx__dispatch_worker_left (zx__dispatch_t *self, const void *identity,
                               size_t identity_size, uint8_t reason, const char *text);

//  Deals queued requests to workers with credit and reports idleness.
void zx__dispatch_flush (zx__dispatch_t *self);

//  Sets the heartbeat interval this side announces in every HEARTBEAT
//  (0, the default: none) and its liveness, by which zx__dispatch_expire
//  also waits for a worker that announced a longer interval of its own.
void zx__dispatch_set_heartbeat (zx__dispatch_t *self, int heartbeat_ms, int liveness);

//  Caps the bytes of the arguments of the requests waiting for a worker
//  (0, the default: no cap); a submission past it fails ZX_EQUEUE_FULL.
void zx__dispatch_set_max_queue_bytes (zx__dispatch_t *self, size_t bytes);

//  Sends the dispatcher's warnings about what peers send through ratelog
//  (borrowed: it must outlive the dispatcher); NULL logs each as it comes.
void zx__dispatch_set_ratelog (zx__dispatch_t *self, zx__ratelog_t *ratelog);

//  Sends HEARTBEAT to every worker.
void zx__dispatch_heartbeat (zx__dispatch_t *self);

//  Declares lost every worker not heard from for silence_us (when > 0) or,
//  when it announced a longer interval, liveness times that interval,
//  failing or retrying what it held; and, while there is no worker, fails
//  requests queued for wait_us or more (when >= 0) with ZX_ENOWORKERS and
//  the message no_workers. Returns how many workers and requests it ended.
size_t zx__dispatch_expire (zx__dispatch_t *self, int64_t silence_us, int64_t wait_us,
                            const char *no_workers);

//  Sends DISCONNECT to every known worker.
void zx__dispatch_disconnect_all (zx__dispatch_t *self);

//  Tells the dispatcher that workers are on their way: while fewer than
//  workers have said READY, each ready worker holds only as many requests
//  as it runs at once, so that slow first tasks spread over all of them.
//  0 (the default, as for a broker, whose workers come when they come)
//  turns this off.
void zx__dispatch_expect (zx__dispatch_t *self, size_t workers);

//  Makes the dispatcher report each task and worker event to tel, a
//  service record of a telemetry object (broker/zx_events.h) that
//  outlives the dispatcher; NULL stops it.
struct zx__tel_service;
void zx__dispatch_set_tel (zx__dispatch_t *self, struct zx__tel_service *tel);

//  Copies the routing ids of the ready workers (those that fit size - 1
//  bytes, NUL-terminated) into ids, at most count of them; returns how
//  many workers are ready, which may exceed count.
size_t zx__dispatch_worker_ids (const zx__dispatch_t *self, char (*ids) [64], size_t count);

//  Counts: requests waiting for a worker, requests held by workers,
//  workers that are ready.
size_t zx__dispatch_queued (const zx__dispatch_t *self);
size_t zx__dispatch_held (const zx__dispatch_t *self);
size_t zx__dispatch_workers (const zx__dispatch_t *self);

//  Idle workers dealt nothing while their machine is busy enough with
//  tiny tasks (PROTOCOL.md section 24); *machines, when not NULL, gets
//  how many machines the workers said they run on. Walks the machines
//  and their idle workers: for a report, not for each message.
size_t zx__dispatch_held_back (const zx__dispatch_t *self, size_t *machines);

#endif
