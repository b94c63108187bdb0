/*  zx_dispatch_int.h - internal: what the dispatcher's two files share.

    zx_dispatch.c holds the queue, the pump that deals it to workers and
    each request's life (submit, complete, cancel, abandon);
    zx_dispatch_workers.c the worker table and the worker face of the
    socket (READY, REPLY, DISCONNECT, heartbeats, liveness, the adaptive
    caps). Both see the three structures; each calls the other only
    through the functions below.                                          */
#ifndef ZX_DISPATCH_INT_H_INCLUDED
#define ZX_DISPATCH_INT_H_INCLUDED
#include "zx_dispatch.h"
#include "zx_events.h"
#include "zx_idmap.h"
#include "zx_proto.h"
#include "zx_slab.h"

#include <czmq.h>

typedef struct zx__dworker zx__dworker_t;

#define ZX_DISPATCH_MAX_IDENTITY 255     //  The longest routing id libzmq makes
//  A REQUEST batch to one worker stops at this many bytes (one bigger
//  request goes alone): tiny tasks still travel thousands to a message,
//  and big arguments are not gathered into one message of hundreds of MiB
#define ZX_DISPATCH_BATCH_BYTES (1024 * 1024)
//  Past the tasks it runs at once, a worker is sent more only while what
//  it holds stays under this many bytes of arguments: whatever is sent
//  ahead of a heartbeat in its stream delays that heartbeat, and 16 MiB
//  payloads queued by the dozen kept one from a worker for seconds
#define ZX_DISPATCH_HELD_BYTES  (4 * 1024 * 1024)

//  A request, from submission until it completes and is freed.
struct zx__request {
    zx__request_t *next, *prev;     //  In the queue or the worker's held list
    zx__dispatch_t *dispatch;
    zx__dworker_t *worker;          //  NULL while queued
    zx__dworker_t *pinned_to;       //  The only worker it may go to, or NULL
    void *cookie;                   //  NULL once completed
    zx__complete_fn *complete;      //  Instead of events.complete, or NULL
    uint64_t corr;
    uint32_t attempt;
    uint32_t free_attempts;         //  Sends that never started: not counted
    uint8_t flags;                  //  Low 4 bits: retries allowed
    bool stopping;                  //  Cancel asked; ends when the worker stops
    bool started;                   //  Its worker said STARTED
    uint8_t name_len;
    int64_t queued_us;              //  When it was submitted
    int64_t submitted_us;           //  When it was first submitted (telemetry)
    size_t args_size;
    //  Its arguments when framed (else NULL: they are in data): the frame
    //  as it came, never copied. Out of line, since few requests are
    //  framed and every byte of a request counts when a program holds
    //  200,000 of them (PERFORMANCE.md, libuv)
    zmq_msg_t *frame;
    char data [];                   //  Task name (NUL-terminated), then args
};

//  A request's encoded arguments (args_size bytes).
static inline const void *
zx__request_args (zx__request_t *request)
{
    return request->frame ? zmq_msg_data (request->frame)
                           : request->data + request->name_len + 1;
}

//  The bytes of a request with a task name of name_len and args_size
//  bytes of arguments held in it (0 when they are in a frame).
static inline size_t
zx__request_size (size_t name_len, size_t args_size)
{
    return sizeof (zx__request_t) + name_len + 1 + args_size;
}

//  Frees a request that is off every list and table.
static inline void
zx__request_free (zx__request_t *request)
{
    //  Its size as s_request_new (zx_dispatch.c) allocated it
    size_t size = zx__request_size (request->name_len, request->frame ? 0 : request->args_size);
    if (request->frame) {
        zmq_msg_close (request->frame);
        free (request->frame);
    }
    zx__slab_free (request, size);
}

//  A list of requests: the queue, or what one worker holds.
typedef struct {
    zx__request_t *head, *tail;
    size_t count;
    size_t bytes;                   //  Their arguments' bytes, all told
} zx__reqlist_t;

//  A routing id as a key of the worker table (zhashx): the octets are
//  the worker's own, so the table copies nothing.
typedef struct {
    const uint8_t *data;
    size_t size;
} zx__idkey_t;

//  Which list of workers with room a worker is on: none, "can start one
//  more now" (held less than it runs at once), "can queue one more" (held
//  less than its cap), or, for a worker whose machine is known, "holds
//  nothing" (its machine's idle list). The pump walks only these.
typedef enum { ZX_ROOM_NONE = 0, ZX_ROOM_START, ZX_ROOM_QUEUE, ZX_ROOM_IDLE } zx__room_t;

//  A list of workers (intrusive: a worker is on at most one room list).
typedef struct {
    zx__dworker_t *head, *tail;
} zx__wlist_t;

//  A machine workers run on, as their READY's host frame names it (its
//  kernel's boot id): the CPUs they share and how much of it is busy.
//  While its busy workers run ZX_ENGAGE_PER_CPU tasks at once per CPU,
//  and ZX_ENGAGE_PER_STARTED more for each held task that said STARTED,
//  its idle workers wait (zx_dispatch_workers.c, "Machines"): more of them
//  would add wake-ups, not CPUs.
typedef struct zx__dhost zx__dhost_t;
struct zx__dhost {
    uint8_t id [ZX_HOST_ID_SIZE];
    zx__idkey_t key;                //  Its key in dispatch->hosts: id
    uint32_t cpus;                  //  The most any of its workers said
    size_t workers;                 //  Registered workers on it
    size_t engaged;                 //  Tasks they run at once, of those holding work
    size_t started;                 //  Requests held on it that said STARTED
    uint64_t epoch;                 //  Times all its workers went idle
    zx__wlist_t idle;               //  Its workers with room that hold nothing
    bool open;                      //  On the open list: idle ones it may start
    zx__dhost_t *open_next, *open_prev;
};

//  A worker that said READY: its credits, caps and what it holds.
struct zx__dworker {
    uint8_t identity [ZX_DISPATCH_MAX_IDENTITY];
    size_t identity_size;
    zx__idkey_t key;                //  Its key in the table: identity, identity_size
    size_t slot;                    //  Its index in dispatch->workers
    zx__room_t room;                //  The room list it is on
    zx__dhost_t *host;              //  Its machine, NULL when it did not say
    zx__dworker_t *room_next, *room_prev;
    zx__dworker_t *dealt_next;      //  On the pump's list of batches to send
    char label [ZX_LABEL_SIZE];     //  Printable identity for logs
    zx__route_t route;              //  Where its messages go
    int64_t last_seen_us;           //  Any message counts
    int64_t sent_us;                //  When we last sent it anything
    uint32_t heartbeat_ms;          //  Its interval, as it announced it (0: unknown)
    uint32_t credits;               //  Free credits: announced less held
    uint32_t limit;                 //  Adaptive cap on requests held
    uint32_t floor;                 //  Least cap: two per parallel task
    uint32_t parallel;              //  Tasks it runs at once
    int64_t busy_since_us;          //  When it last went from idle to busy
    int64_t idle_since_us;          //  When it last went idle (known machines only)
    uint64_t idle_epoch;            //  Its machine's epoch then
    int64_t last_reply_us;
    double task_us;                 //  Average time per task, 0 unknown
    size_t last_args;               //  Argument bytes of its last task answered
    uint64_t budget;                //  Tasks it may still be sent
    uint32_t pid;
    uint64_t done, failed;          //  Its tasks that finished, failed (telemetry)
    zx__reqlist_t held;
    zx__reqlist_t pinned;           //  Queued for this worker only (affinity)
    zx__request_t *round_first;     //  First request dealt in this pump
    zx__batch_t batch;
    uint32_t features;              //  From its READY: ZX_FEATURE_*
    zx__request_t *framed;          //  Dealt in this pump to go framed, alone
};

//  The dispatcher: the queue, the worker table, the correlation table.
struct zx__dispatch {
    void *router;
    zx__memq_t *memq;               //  Instead of router: a thread pool's (not owned)
    zx_loop_t *loop;
    zx__dispatch_events_t events;
    void *owner;
    size_t max_queue;
    size_t max_queue_bytes;         //  Arguments' bytes queued at most (0: no cap)
    bool adaptive;
    zx__reqlist_t queue;
    size_t pinned;                  //  Requests queued for one worker only
    size_t held;
    size_t cpus;                    //  The machine's online CPUs (s_probe)
    zx__dworker_t **workers;        //  For walks once per tick: heartbeats, expiry
    size_t worker_count, worker_cap;
    zhashx_t *by_identity;          //  zx__idkey_t * -> zx__dworker_t *
    zx__wlist_t room [3];           //  Workers with room, by zx__room_t (0 unused)
    zhashx_t *hosts;                //  zx__idkey_t * -> zx__dhost_t *
    zx__dhost_t *open_head, *open_tail; //  Hosts whose idle workers may be dealt to
    zx__dworker_t *dealt;           //  Workers given requests in this pump
    size_t expected;                //  Workers on their way (zx__dispatch_expect)
    int heartbeat_ms;               //  Ours, announced in HEARTBEAT (0: none)
    int liveness;
    uint64_t next_corr;
    zx__idmap_t table;              //  corr -> held request
    bool pump_scheduled;
    zx_logger_t *log;
    zx__tel_service_t *tel;         //  Telemetry hooks, NULL when off
    zx__ratelog_t *ratelog;         //  The owner's, for warnings about peers (or NULL)
    zmq_msg_t *reply_frame;         //  While a framed reply completes: its frame
};

//  A warning about what a peer (label) sent, of kind: through the owner's
//  rate limiter when it gave one (a broker), else logged as it comes.
#define ZX__DISPATCH_WARN(self, peer, kind, ...)                                \
    do {                                                                        \
        if ((self)->ratelog)                                                    \
            zx__ratelog ((self)->ratelog, ZX_LOG_WARNING, (peer), (kind),       \
                         __VA_ARGS__);                                          \
        else                                                                    \
            zx_log_warning ((self)->log, __VA_ARGS__);                          \
    } while (0)

//  The list operations: appending, prepending, removing one request.
static inline void
zx__reqlist_append (zx__reqlist_t *list, zx__request_t *request)
{
    request->next = NULL;
    request->prev = list->tail;
    if (list->tail)
        list->tail->next = request;
    else
        list->head = request;
    list->tail = request;
    list->count++;
    list->bytes += request->args_size;
}

static inline void
zx__reqlist_prepend (zx__reqlist_t *list, zx__request_t *request)
{
    request->prev = NULL;
    request->next = list->head;
    if (list->head)
        list->head->prev = request;
    else
        list->tail = request;
    list->head = request;
    list->count++;
    list->bytes += request->args_size;
}

static inline void
zx__reqlist_remove (zx__reqlist_t *list, zx__request_t *request)
{
    if (request->prev)
        request->prev->next = request->next;
    else
        list->head = request->next;
    if (request->next)
        request->next->prev = request->prev;
    else
        list->tail = request->prev;
    request->next = request->prev = NULL;
    list->count--;
    list->bytes -= request->args_size;
}

//  ---- zx_dispatch.c

//  Completes request with code and payload (size octets) through its own
//  complete function or the complete event, once: later calls do nothing.
//  The caller frees the request when it is off every list and table.
void zx__dispatch_complete (zx__dispatch_t *self, zx__request_t *request, zx_err_t code,
                            const void *payload, size_t size);

//  zx__dispatch_complete with a NUL-terminated text as the payload.
void zx__dispatch_complete_text (zx__dispatch_t *self, zx__request_t *request,
                                 zx_err_t code, const char *text);

//  Raises the idle event when nothing is queued or held.
void zx__dispatch_check_idle (zx__dispatch_t *self);

//  Completes queued requests with code and message, from the head of the
//  queue on, while they were queued at or before queued_by_us (INT64_MAX:
//  all); they never run. Returns how many. The caller checks idleness.
size_t zx__dispatch_fail_waiting (zx__dispatch_t *self, int64_t queued_by_us, zx_err_t code,
                                  const char *message);

//  Deals the queue to workers with credit now and sends each its share;
//  zx__dispatch_schedule_pump does it once, soon, from the loop.
void zx__dispatch_pump (zx__dispatch_t *self);
void zx__dispatch_schedule_pump (zx__dispatch_t *self);

//  ---- zx_dispatch_workers.c

//  Makes the worker table. Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__dispatch_workers_init (zx__dispatch_t *self);

//  The worker with this routing id, or NULL: O(1), for every message.
zx__dworker_t *zx__dispatch_worker_find (zx__dispatch_t *self, const void *identity,
                                         size_t size);

//  Puts request on worker's held list, or takes it off, keeping its
//  machine's count of what is busy.
void zx__dispatch_hold (zx__dispatch_t *self, zx__dworker_t *worker, zx__request_t *request);
void zx__dispatch_release (zx__dispatch_t *self, zx__dworker_t *worker,
                           zx__request_t *request);

//  Notes that a request held by worker said STARTED.
void zx__dispatch_started (zx__dispatch_t *self, zx__dworker_t *worker);

//  The next idle worker the pump may deal to, machine after machine in
//  turn; NULL when there is none, or the machines that have some are busy
//  enough with tiny tasks. spread: for an actor's placement, which goes
//  to the worker idle longest even on a machine that reuses its last.
zx__dworker_t *zx__dispatch_idle_next (zx__dispatch_t *self, bool spread);

//  How many requests the worker may hold now (its adaptive cap, lower
//  while expected workers are still on their way).
uint32_t zx__dispatch_cap (const zx__dispatch_t *self, const zx__dworker_t *worker);

//  Puts the worker on the room list its credits, budget and cap say it
//  belongs to now, at the tail (so the pump deals round-robin). Call it
//  after anything that changes those.
void zx__dispatch_worker_room (zx__dispatch_t *self, zx__dworker_t *worker);

//  Takes the worker off its room list (until zx__dispatch_worker_room).
void zx__dispatch_worker_unroom (zx__dispatch_t *self, zx__dworker_t *worker);

//  Re-files every worker (the caps of all changed at once): O(workers).
void zx__dispatch_rooms_refresh (zx__dispatch_t *self);

//  Completes every request queued for worker alone (affinity) with code
//  and text, which names cause; they never run.
void zx__dispatch_fail_pinned (zx__dispatch_t *self, zx__dworker_t *worker, zx_err_t code,
                               const char *cause);

//  Fails what the worker holds, or requeues what may be retried, and
//  forgets (frees) the worker; cause says why, in every failure's text.
//  stopped_for, when not NULL, is the request the worker was killed to
//  stop: what it was sent after that had not started and is requeued
//  without using a retry.
void zx__dispatch_worker_remove (zx__dispatch_t *self, zx__dworker_t *worker,
                                 const char *cause, zx__request_t *stopped_for);

//  Completes what every worker holds with ZX_ESHUTDOWN (ZX_ECANCELLED for
//  what was being stopped) and frees the workers and their table.
void zx__dispatch_workers_free (zx__dispatch_t *self);

//  Sends CANCEL for request to the worker that holds it.
void zx__dispatch_send_cancel (zx__dispatch_t *self, zx__request_t *request);

#endif
