/*  zx_dispatch.c - credit-based dispatch of requests to workers.

    DESIGN: requests wait in one FIFO. A worker announces in READY how many
    requests it may hold at once (its credits); each reply record gives one
    back. A pump, run once per loop iteration after submissions and after
    each burst of replies, deals the FIFO round-robin, one request per
    worker with credit per round, so work spreads evenly and in order, and
    sends each worker its whole share as one batch message. Held requests
    sit on their worker's list and in a correlation-id table: a reply is
    accepted only from the worker that holds that id at that attempt, so a
    late, duplicate or forged reply is dropped, and a worker's death fails
    exactly what it held.                                                 */

#define _GNU_SOURCE
#include "zx_dispatch.h"
#include "zx_idmap.h"
#include "zx_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZX_MAX_IDENTITY     255

typedef struct s_worker s_worker_t;

struct zx__request {
    zx__request_t *next, *prev;     //  In the queue or the worker's held list
    zx__dispatch_t *dispatch;
    s_worker_t *worker;             //  NULL while queued
    void *cookie;                   //  NULL once completed
    zx__complete_fn *complete;      //  Instead of events.complete, or NULL
    uint64_t corr;
    uint32_t attempt;
    uint32_t free_attempts;         //  Sends that never started: not counted
    uint8_t flags;                  //  Low 4 bits: retries allowed
    bool stopping;                  //  Cancel asked; ends when the worker stops
    uint8_t name_len;
    int64_t queued_us;              //  When it was submitted
    size_t args_size;
    char data [];                   //  Task name (NUL-terminated), then args
};

typedef struct {
    zx__request_t *head, *tail;
    size_t count;
} s_list_t;

struct s_worker {
    uint8_t identity [ZX_MAX_IDENTITY];
    size_t identity_size;
    char label [ZX_LABEL_SIZE];     //  Printable identity for logs
    zx__route_t route;              //  Where its messages go
    int64_t last_seen_us;           //  Any message counts
    uint32_t heartbeat_ms;          //  Its interval, as it announced it (0: unknown)
    uint32_t credits;               //  Free credits: announced less held
    uint32_t limit;                 //  Adaptive cap on requests held
    uint32_t floor;                 //  Least cap: two per parallel task
    uint32_t parallel;              //  Tasks it runs at once
    int64_t busy_since_us;          //  When it last went from idle to busy
    int64_t last_reply_us;
    double task_us;                 //  Average time per task, 0 unknown
    uint64_t budget;                //  Tasks it may still be sent
    uint32_t pid;
    s_list_t held;
    zx__request_t *round_first;     //  First request dealt in this pump
    zx__batch_t batch;
};

struct zx__dispatch {
    void *router;
    zx_loop_t *loop;
    zx__dispatch_events_t events;
    void *owner;
    size_t max_queue;
    bool adaptive;
    s_list_t queue;
    size_t held;
    s_worker_t **workers;
    size_t worker_count, worker_cap;
    size_t expected;                //  Workers on their way (zx__dispatch_expect)
    int heartbeat_ms;               //  Ours, announced in HEARTBEAT (0: none)
    int liveness;
    size_t round_robin;
    uint64_t next_corr;
    zx__idmap_t table;              //  corr -> held request
    bool pump_scheduled;
    zx_logger_t *log;
};

//  --------------------------------------------------------------------
//  Lists and the correlation table

static void
s_list_append (s_list_t *list, zx__request_t *request)
{
    request->next = NULL;
    request->prev = list->tail;
    if (list->tail)
        list->tail->next = request;
    else
        list->head = request;
    list->tail = request;
    list->count++;
}

static void
s_list_prepend (s_list_t *list, zx__request_t *request)
{
    request->prev = NULL;
    request->next = list->head;
    if (list->head)
        list->head->prev = request;
    else
        list->tail = request;
    list->head = request;
    list->count++;
}

static void
s_list_remove (s_list_t *list, zx__request_t *request)
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
}

//  --------------------------------------------------------------------

zx__dispatch_t *
zx__dispatch_new (void *router, const zx__dispatch_events_t *events,
                  void *owner, size_t max_queue, bool adaptive)
{
    zx__dispatch_t *self = calloc (1, sizeof (zx__dispatch_t));
    if (!self)
        return NULL;
    self->router = router;
    self->events = *events;
    self->owner = owner;
    self->max_queue = max_queue ? max_queue : 1000000;
    self->adaptive = adaptive;
    self->next_corr = 1;
    self->log = zx_log_get ("zexec.dispatch");
    int mandatory = 1;
    zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    return self;
}

static void
s_complete (zx__dispatch_t *self, zx__request_t *request, zx_err_t code,
            const void *payload, size_t size)
{
    void *cookie = request->cookie;
    request->cookie = NULL;
    if (cookie && request->complete)
        request->complete (cookie, code, payload, size);
    else
    if (cookie)
        self->events.complete (self->owner, cookie, code, payload, size);
}

static void
s_complete_text (zx__dispatch_t *self, zx__request_t *request, zx_err_t code,
                 const char *text)
{
    s_complete (self, request, code, text, strlen (text));
}

static void
s_check_idle (zx__dispatch_t *self)
{
    if (self->events.idle && self->queue.count == 0 && self->held == 0)
        self->events.idle (self->owner);
}

static void
s_worker_free (s_worker_t *worker)
{
    zx__batch_free (&worker->batch);
    free (worker);
}

void
zx__dispatch_destroy (zx__dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__dispatch_t *self = *self_p;
    if (self->loop)
        zx__loop_remove (self->loop, self->router, -1);
    zx__dispatch_fail_queued (self, ZX_ESHUTDOWN, "executor shut down before the task ran");
    for (size_t i = 0; i < self->worker_count; i++) {
        s_worker_t *worker = self->workers [i];
        zx__request_t *request;
        while ((request = worker->held.head)) {
            s_list_remove (&worker->held, request);
            if (request->stopping)
                s_complete_text (self, request, ZX_ECANCELLED,
                                 "cancelled while running: the executor shut down");
            else
                s_complete_text (self, request, ZX_ESHUTDOWN, "executor shut down while the task ran");
            free (request);
        }
        s_worker_free (worker);
    }
    free (self->workers);
    zx__idmap_free (&self->table);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Workers

static s_worker_t *
s_worker_find (zx__dispatch_t *self, const void *identity, size_t size)
{
    for (size_t i = 0; i < self->worker_count; i++) {
        s_worker_t *worker = self->workers [i];
        if (worker->identity_size == size && memcmp (worker->identity, identity, size) == 0)
            return worker;
    }
    return NULL;
}

static void s_schedule_pump (zx__dispatch_t *self);

//  Fails what the worker holds, or requeues what may be retried, and
//  forgets the worker. stopped_for, when not NULL, is the request the
//  worker was killed to stop: what it was sent after that had not started.
static void
s_worker_remove_stopped (zx__dispatch_t *self, s_worker_t *worker, const char *cause,
                         zx__request_t *stopped_for)
{
    //  From the newest back, so retried requests keep their order at the
    //  front of the queue
    zx__request_t *request;
    while ((request = worker->held.tail)) {
        s_list_remove (&worker->held, request);
        zx__idmap_take (&self->table, request->corr);
        self->held--;
        //  A worker killed to stop a task that would not stop had not
        //  started what it was sent after that task: send it again, free
        bool never_started = stopped_for && stopped_for->worker == worker
                             && !request->stopping;
        uint32_t attempts = request->attempt - request->free_attempts;
        if (request->cookie && !request->stopping
        &&  (never_started || attempts <= (uint32_t) (request->flags & ZX_FLAG_RETRIES))) {
            if (never_started)
                request->free_attempts++;
            else
                zx_log_warning (self->log, "%s; task '%s' goes to another worker (attempt %u)",
                                cause, request->data, attempts + 1);
            request->attempt++;
            request->worker = NULL;
            request->queued_us = zx__now_us ();     //  Waits anew for a worker
            s_list_prepend (&self->queue, request);
            s_schedule_pump (self);
            continue;
        }
        if (stopped_for && request == stopped_for)
            stopped_for = NULL;     //  Those before it may have run
        if (request->cookie) {
            char text [512];
            if (request->stopping)
                snprintf (text, sizeof text, "cancelled while running: %s", cause);
            else
            if (attempts > 1)
                snprintf (text, sizeof text, "%s; task '%s' was lost after %u attempts "
                          "and is quarantined: it is not sent to a worker again",
                          cause, request->data, attempts);
            else
                snprintf (text, sizeof text, "%s; task '%s' was lost", cause, request->data);
            s_complete_text (self, request, request->stopping ? ZX_ECANCELLED : ZX_EWORKER_LOST,
                             text);
        }
        free (request);
    }
    for (size_t i = 0; i < self->worker_count; i++)
        if (self->workers [i] == worker) {
            self->workers [i] = self->workers [--self->worker_count];
            break;
        }
    s_worker_free (worker);
}

static void
s_worker_remove (zx__dispatch_t *self, s_worker_t *worker, const char *cause)
{
    s_worker_remove_stopped (self, worker, cause, NULL);
}

void
zx__dispatch_worker_gone (zx__dispatch_t *self, const char *identity, const char *cause)
{
    s_worker_t *worker = s_worker_find (self, identity, strlen (identity));
    if (worker) {
        s_worker_remove (self, worker, cause);
        s_check_idle (self);
    }
}

//  A command that is not a REQUEST may be lost with its worker: say so
static void
s_sent (zx__dispatch_t *self, s_worker_t *worker, uint8_t command, zx_err_t rc)
{
    if (rc != ZX_OK)
        zx_log_debug (self->log, "cannot send command %d to worker %s: %s",
                      command, worker->label, zmq_strerror (errno));
}

//  A HEARTBEAT, with our interval when we have one
static void
s_send_heartbeat (zx__dispatch_t *self, s_worker_t *worker)
{
    uint32_t interval = self->heartbeat_ms > 0 ? (uint32_t) self->heartbeat_ms : 0;
    s_sent (self, worker, ZX_CMD_HEARTBEAT, zx__send_heartbeat (&worker->route, interval));
}

static void
s_send_cancel (zx__dispatch_t *self, zx__request_t *request)
{
    s_sent (self, request->worker, ZX_CMD_CANCEL,
            zx__send_cancel (&request->worker->route, &request->corr, 1));
}

void
zx__dispatch_disconnect_all (zx__dispatch_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++) {
        s_worker_t *worker = self->workers [i];
        s_sent (self, worker, ZX_CMD_DISCONNECT,
                zx__send_disconnect (&worker->route, ZX_BYE_NORMAL, NULL));
    }
}

//  --------------------------------------------------------------------
//  Submitting and dealing

static void s_pump (zx__dispatch_t *self);

static void
s_pump_callback (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__dispatch_t *self = (zx__dispatch_t *) arg;
    self->pump_scheduled = false;
    s_pump (self);
}

static void
s_schedule_pump (zx__dispatch_t *self)
{
    if (self->pump_scheduled || !self->loop)
        return;
    if (zx_loop_call_soon (self->loop, s_pump_callback, self) == ZX_OK)
        self->pump_scheduled = true;
}

zx__request_t *
zx__dispatch_submit (zx__dispatch_t *self, const char *task, const void *args,
                     size_t args_size, uint8_t flags, void *cookie, zx_err_t *code)
{
    size_t name_len = task ? strlen (task) : 0;
    if (name_len == 0 || name_len > 255) {
        *code = ZX_EINVAL;
        return NULL;
    }
    //  What the codec cannot frame must not get in and block the queue
    if (args_size > UINT32_MAX - ZX_REQUEST_FIXED - name_len) {
        *code = ZX_EINVAL;
        return NULL;
    }
    if (self->queue.count >= self->max_queue) {
        *code = ZX_EQUEUE_FULL;
        return NULL;
    }
    zx__request_t *request = malloc (sizeof (zx__request_t) + name_len + 1 + args_size);
    if (!request) {
        *code = ZX_ENOMEM;
        return NULL;
    }
    request->dispatch = self;
    request->worker = NULL;
    request->cookie = cookie;
    request->complete = NULL;
    request->corr = self->next_corr++;
    request->attempt = 1;
    request->free_attempts = 0;
    request->stopping = false;
    request->flags = flags;
    request->queued_us = zx__now_us ();
    request->name_len = (uint8_t) name_len;
    request->args_size = args_size;
    memcpy (request->data, task, name_len + 1);
    if (args_size)
        memcpy (request->data + name_len + 1, args, args_size);
    s_list_append (&self->queue, request);
    s_schedule_pump (self);
    *code = ZX_OK;
    return request;
}

zx__request_t *
zx__dispatch_submit_fn (zx__dispatch_t *self, const char *task, const void *args,
                        size_t args_size, uint8_t flags, zx__complete_fn *complete,
                        void *cookie, zx_err_t *code)
{
    zx__request_t *request = zx__dispatch_submit (self, task, args, args_size, flags,
                                                  cookie, code);
    if (request)
        request->complete = complete;
    return request;
}

//  Puts back at the front of the queue, in order, what was dealt to the
//  worker in this pump, because it could not be sent.
static void
s_undeal (zx__dispatch_t *self, s_worker_t *worker)
{
    zx__request_t *request;
    while (worker->round_first && (request = worker->held.tail)) {
        bool first = request == worker->round_first;
        s_list_remove (&worker->held, request);
        zx__idmap_take (&self->table, request->corr);
        self->held--;
        worker->credits++;
        worker->budget++;
        request->worker = NULL;
        s_list_prepend (&self->queue, request);
        if (first)
            break;
    }
    worker->round_first = NULL;
}

static bool
s_deal_one (zx__dispatch_t *self, s_worker_t *worker)
{
    zx__request_t *request = self->queue.head;
    if (!zx__idmap_put (&self->table, request->corr, request))
        return false;
    if (zx__batch_add_request (&worker->batch, request->corr, request->attempt, request->flags,
                               request->data, request->name_len,
                               request->data + request->name_len + 1,
                               request->args_size) != ZX_OK) {
        zx__idmap_take (&self->table, request->corr);
        return false;
    }
    s_list_remove (&self->queue, request);
    request->worker = worker;
    if (worker->held.count == 0)
        worker->busy_since_us = zx__now_us ();
    s_list_append (&worker->held, request);
    if (!worker->round_first)
        worker->round_first = request;
    self->held++;
    worker->credits--;
    worker->budget--;
    if (self->events.dispatched && request->cookie)
        self->events.dispatched (self->owner, request->complete ? NULL : request->cookie);
    return true;
}

//  How many requests a worker may hold now. While workers the owner is
//  starting have not said READY, the first ones hold only what they run
//  at once, none queued behind: otherwise the first worker up takes the
//  first tasks two by two while the others, a moment later, find little
//  left, and three slow tasks on three new workers would take twice as
//  long as one.
static uint32_t
s_cap (const zx__dispatch_t *self, const s_worker_t *worker)
{
    if (self->worker_count < self->expected && worker->limit > worker->parallel)
        return worker->parallel;
    return worker->limit;
}

static void
s_pump (zx__dispatch_t *self)
{
    size_t count = self->worker_count;
    if (self->queue.count == 0 || count == 0)
        return;
    //  Two rounds: first each worker gets what it can start at once, so
    //  that an idle worker is never passed over for one that would only
    //  queue it; then they are topped up to their caps, one at a time
    for (int round = 0; round < 2; round++) {
        bool progress = true;
        while (progress && self->queue.count > 0) {
            progress = false;
            for (size_t k = 0; k < count && self->queue.count > 0; k++) {
                s_worker_t *worker = self->workers [(self->round_robin + k) % count];
                uint32_t cap = s_cap (self, worker);
                if (round == 0 && cap > worker->parallel)
                    cap = worker->parallel;
                if (worker->credits > 0 && worker->held.count < cap
                &&  worker->budget > 0 && s_deal_one (self, worker))
                    progress = true;
            }
        }
    }
    self->round_robin = (self->round_robin + 1) % count;
    //  Send each worker its share. A worker that vanished without saying
    //  so (ROUTER_MANDATORY reports it) gets its share taken back.
    for (size_t i = 0; i < self->worker_count; i++) {
        s_worker_t *worker = self->workers [i];
        if (worker->batch.records == 0)
            continue;
        zx_err_t rc = zx__send_request_batch (&worker->route, NULL, &worker->batch);
        int error = errno;
        zx__batch_clear (&worker->batch);
        if (rc == ZX_OK) {
            worker->round_first = NULL;
            continue;
        }
        zx_log_warning (self->log, "worker %s is unreachable (%s): its work goes back to the queue",
                        worker->label, zmq_strerror (error));
        s_undeal (self, worker);
        if (error == EHOSTUNREACH) {
            //  Its owner hears of it as of a silent one, so that a broker
            //  forgets the id too
            if (self->events.worker_event)
                self->events.worker_event (self->owner, worker->label, ZX_BYE_LOST,
                                           "worker vanished");
            //  The last worker moves into slot i: look at slot i again
            s_worker_remove (self, worker, "worker vanished");
            i--;
        }
    }
}

void
zx__request_fail (zx__request_t *request, zx_err_t code, const char *text)
{
    zx__dispatch_t *self = request->dispatch;
    if (!request->cookie)
        return;
    if (!request->worker) {
        s_list_remove (&self->queue, request);
        s_complete_text (self, request, code, text);
        free (request);
        s_check_idle (self);
        return;
    }
    //  The worker skips it if it has not started and stops it at its
    //  cancel token if it has; the reply comes back either way and
    //  returns the credit
    if (!request->stopping)
        s_send_cancel (self, request);
    s_complete_text (self, request, code, text);
}

void
zx__request_cancel (zx__request_t *request)
{
    zx__request_fail (request, ZX_ECANCELLED, request->worker
                      ? "cancelled after it was sent to a worker" : "cancelled before it ran");
}

bool
zx__request_stop (zx__request_t *request)
{
    zx__dispatch_t *self = request->dispatch;
    if (!request->cookie)
        return false;
    if (!request->worker) {
        zx__request_cancel (request);
        return false;
    }
    if (!request->stopping) {
        request->stopping = true;
        s_send_cancel (self, request);
    }
    return true;
}

void *
zx__request_owner (const zx__request_t *request)
{
    return request->dispatch->owner;
}

uint64_t
zx__request_corr (const zx__request_t *request)
{
    return request->corr;
}

bool
zx__dispatch_holder (zx__dispatch_t *self, uint64_t corr, char *identity, size_t size)
{
    zx__request_t *request = zx__idmap_get (&self->table, corr);
    if (!request || !request->worker || request->worker->identity_size >= size)
        return false;
    memcpy (identity, request->worker->identity, request->worker->identity_size);
    identity [request->worker->identity_size] = 0;
    return true;
}

bool
zx__dispatch_abandon (zx__dispatch_t *self, uint64_t corr, zx_err_t code, const char *text)
{
    zx__request_t *request = zx__idmap_get (&self->table, corr);
    if (!request || !request->cookie)
        return false;
    s_complete_text (self, request, code, text);
    return true;
}

void
zx__dispatch_worker_stopped (zx__dispatch_t *self, const char *identity, uint64_t corr,
                             const char *cause)
{
    s_worker_t *worker = s_worker_find (self, identity, strlen (identity));
    if (worker) {
        zx__request_t *request = zx__idmap_get (&self->table, corr);
        s_worker_remove_stopped (self, worker, cause,
                                 request && request->worker == worker ? request : NULL);
        s_check_idle (self);
    }
}

size_t
zx__dispatch_fail_queued (zx__dispatch_t *self, zx_err_t code, const char *message)
{
    size_t count = 0;
    zx__request_t *request;
    while ((request = self->queue.head)) {
        s_list_remove (&self->queue, request);
        s_complete_text (self, request, code, message);
        free (request);
        count++;
    }
    if (count)
        s_check_idle (self);
    return count;
}

size_t
zx__dispatch_queued (const zx__dispatch_t *self)
{
    return self->queue.count;
}

size_t
zx__dispatch_held (const zx__dispatch_t *self)
{
    return self->held;
}

void
zx__dispatch_expect (zx__dispatch_t *self, size_t workers)
{
    self->expected = workers;
}

size_t
zx__dispatch_workers (const zx__dispatch_t *self)
{
    return self->worker_count;
}

//  --------------------------------------------------------------------
//  Reading the socket

static void
s_on_ready (zx__dispatch_t *self, const zx__msg_t *msg, const char *label)
{
    if (!msg->ok || msg->identity_size > ZX_MAX_IDENTITY) {
        zx_log_warning (self->log, "malformed READY from %s: dropped", label);
        return;
    }
    if (s_worker_find (self, msg->identity, msg->identity_size)) {
        zx_log_warning (self->log, "second READY from worker %s: dropped", label);
        return;
    }
    //  Grow the table first and on its own: realloc may grow in place, and
    //  the old pointer is gone once it moved
    if (self->worker_count == self->worker_cap) {
        size_t cap = self->worker_cap * 2 + 4;
        s_worker_t **grown = realloc (self->workers, cap * sizeof (s_worker_t *));
        if (!grown) {
            zx_log_error (self->log, "out of memory accepting worker %s", label);
            return;
        }
        self->workers = grown;
        self->worker_cap = cap;
    }
    s_worker_t *worker = calloc (1, sizeof (s_worker_t));
    if (!worker) {
        zx_log_error (self->log, "out of memory accepting worker %s", label);
        return;
    }
    worker->identity_size = msg->identity_size;
    memcpy (worker->identity, msg->identity, worker->identity_size);
    snprintf (worker->label, sizeof worker->label, "%s", label);
    worker->route = (zx__route_t) { self->router, ZX_FACE_WORKER, ZMQ_DONTWAIT,
                                    worker->identity, worker->identity_size };
    uint32_t credits = msg->ready.credits;
    worker->credits = credits == 0 ? 1 : credits > 65536 ? 65536 : credits;
    //  Adaptive: start with two per task it runs at once and let measured
    //  task times raise it (see s_adapt); fixed: use every credit
    uint32_t parallel = msg->ready.parallel;
    parallel = parallel == 0 ? 1 : parallel > 32768 ? 32768 : parallel;
    worker->parallel = parallel;
    worker->floor = 2 * parallel < worker->credits ? 2 * parallel : worker->credits;
    worker->limit = self->adaptive ? worker->floor : worker->credits;
    uint32_t max_tasks = msg->ready.max_tasks;
    worker->budget = max_tasks ? max_tasks : UINT64_MAX;
    worker->pid = msg->ready.pid;
    worker->last_seen_us = zx__now_us ();
    self->workers [self->worker_count++] = worker;
    //  Heard at once: a worker that counts the broker's silence from its
    //  READY must not give up on a broker that took it a moment ago
    s_send_heartbeat (self, worker);
    if (self->events.worker_event)
        self->events.worker_event (self->owner, label, -1, "");
}

//  Adapts how many requests a worker holds to how long its tasks take: as
//  many as it runs in about ZX_TARGET_US, at least two per task it runs at
//  once (one running, one ready behind it) and at most its credits. Slow tasks thus stay spread
//  over all workers, while tiny tasks travel hundreds to a message.
#define ZX_TARGET_US 2000.0

static void
s_adapt (zx__dispatch_t *self, s_worker_t *worker, size_t accepted)
{
    int64_t now = zx__now_us ();
    int64_t since = worker->last_reply_us > worker->busy_since_us
                  ? worker->last_reply_us : worker->busy_since_us;
    worker->last_reply_us = now;
    uint32_t most = worker->credits + (uint32_t) worker->held.count;
    if (!self->adaptive || most <= worker->floor)
        return;
    double per_task = (double) (now - since) / (double) accepted;
    if (per_task < 0.05)
        per_task = 0.05;
    worker->task_us = worker->task_us > 0 ? 0.75 * worker->task_us + 0.25 * per_task
                                          : per_task;
    double limit = ZX_TARGET_US / worker->task_us;
    worker->limit = limit < worker->floor ? worker->floor
                  : limit > most ? most : (uint32_t) limit;
}

static void
s_on_reply (zx__dispatch_t *self, s_worker_t *worker, const zx__msg_t *msg)
{
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__reply_rec_t rec;
    zx_err_t rc;
    size_t accepted = 0;
    while ((rc = zx__batch_next_reply (&cursor, end, &rec)) == ZX_OK) {
        zx__request_t *request = zx__idmap_get (&self->table, rec.corr);
        if (!request || request->worker != worker || request->attempt != rec.attempt) {
            zx_log_debug (self->log, "stale reply %llu from %s: dropped",
                          (unsigned long long) rec.corr, worker->label);
            continue;
        }
        zx__idmap_take (&self->table, rec.corr);
        s_list_remove (&worker->held, request);
        self->held--;
        worker->credits++;
        accepted++;
        zx_err_t code = zx__status_to_err (rec.status);
        //  A worker fronting a pool reports the loss of one of its own
        //  processes: retry that as if the worker itself had been lost
        if (request->stopping) {
            //  Cancelled while running: it ends cancelled whatever it did
            if (rec.status == ZX_STATUS_CANCELLED)
                s_complete (self, request, ZX_ECANCELLED, rec.payload, rec.payload_size);
            else
                s_complete_text (self, request, ZX_ECANCELLED, "cancelled while running: the "
                                 "task finished before it saw the cancel; its result was dropped");
            free (request);
            continue;
        }
        if (code == ZX_EWORKER_LOST && request->cookie
        &&  request->attempt - request->free_attempts
                <= (uint32_t) (request->flags & ZX_FLAG_RETRIES)) {
            zx_log_warning (self->log, "worker %s lost task '%s': it goes to a worker again "
                            "(attempt %u)", worker->label, request->data,
                            request->attempt - request->free_attempts + 1);
            request->attempt++;
            request->worker = NULL;
            request->queued_us = zx__now_us ();
            s_list_append (&self->queue, request);
            continue;
        }
        if (code == ZX_EPROTO && rec.status != ZX_STATUS_BAD_REQUEST)
            s_complete_text (self, request, ZX_EPROTO, "worker sent an unknown reply status");
        else
            s_complete (self, request, code, rec.payload, rec.payload_size);
        free (request);
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "malformed REPLY batch from %s: rest dropped", worker->label);
    if (accepted)
        s_adapt (self, worker, accepted);
}

//  A worker said DISCONNECT with reason and text (printable): it is
//  forgotten, what it held is retried or fails, and the owner hears.
//  Also from a worker that never got as far as READY: its reason (an
//  initializer that failed) is worth hearing.
static void
s_worker_left (zx__dispatch_t *self, const void *identity, size_t identity_size,
               const char *label, uint8_t reason, const char *text)
{
    s_worker_t *worker = s_worker_find (self, identity, identity_size);
    if (worker) {
        char cause [400];
        snprintf (cause, sizeof cause, "worker %s left (%s)", label,
                  text [0] ? text : "no reason");
        s_worker_remove (self, worker, cause);
    }
    if (self->events.worker_event)
        self->events.worker_event (self->owner, label, reason, text);
}

void
zx__dispatch_worker_left (zx__dispatch_t *self, const void *identity, size_t identity_size,
                          uint8_t reason, const char *text)
{
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, identity, identity_size);
    s_worker_left (self, identity, identity_size, label, reason, text);
}

//  Handles one worker-face message; rc is what decoding made of it.
static void
s_handle (zx__dispatch_t *self, const zx__msg_t *msg, zx__recv_t rc)
{
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, msg->identity, msg->identity_size);
    if (rc != ZX_RECV_OK) {
        zx_log_warning (self->log, "malformed message (%zu frames) from %s: dropped",
                        msg->count, label);
        return;
    }
    if (msg->command == ZX_CMD_READY) {
        s_on_ready (self, msg, label);
        return;
    }
    if (msg->command == ZX_CMD_DISCONNECT) {
        char text [256];
        zx__msg_bye_text (msg, text, sizeof text);
        s_worker_left (self, msg->identity, msg->identity_size, label, msg->reason, text);
        return;
    }
    s_worker_t *worker = s_worker_find (self, msg->identity, msg->identity_size);
    if (!worker) {
        zx_log_warning (self->log, "command %d from %s before READY: dropped",
                        msg->command, label);
        return;
    }
    worker->last_seen_us = zx__now_us ();
    switch (msg->command) {
        case ZX_CMD_REPLY:
            if (!msg->ok || msg->extra)
                zx_log_warning (self->log, "malformed REPLY from %s: dropped", label);
            else
                s_on_reply (self, worker, msg);
            break;
        case ZX_CMD_HEARTBEAT:
            if (msg->interval)
                worker->heartbeat_ms = msg->interval;
            break;
        default:
            zx_log_warning (self->log, "unknown command %d from %s: dropped", msg->command, label);
    }
}

void
zx__dispatch_handle (zx__dispatch_t *self, const zx__msg_t *msg)
{
    s_handle (self, msg, msg->face == ZX_FACE_WORKER ? ZX_RECV_OK : ZX_RECV_MALFORMED);
}

static void
s_on_readable (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__dispatch_t *self = (zx__dispatch_t *) arg;
    zx__msg_t msg;
    for (int burst = 0; burst < ZX_RECV_BURST; burst++) {
        zx__recv_t rc = zx__recv_router (self->router, ZX_FACE_WORKER, &msg);
        if (rc == ZX_RECV_NONE)
            break;                          //  Nothing more to read now
        if (rc == ZX_RECV_TOO_MANY)
            zx_log_warning (self->log, "message with more than %d frames: dropped",
                            ZX_ROUTER_MAX_FRAMES);
        else
            s_handle (self, &msg, rc);
        zx__msg_close (&msg);
    }
    s_pump (self);
    s_check_idle (self);
}

void
zx__dispatch_read (zx__dispatch_t *self)
{
    s_on_readable (self->loop, self);
}

void
zx__dispatch_flush (zx__dispatch_t *self)
{
    s_pump (self);
    s_check_idle (self);
}

void
zx__dispatch_set_heartbeat (zx__dispatch_t *self, int heartbeat_ms, int liveness)
{
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
}

void
zx__dispatch_heartbeat (zx__dispatch_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++)
        s_send_heartbeat (self, self->workers [i]);
}

size_t
zx__dispatch_expire (zx__dispatch_t *self, int64_t silence_us, int64_t wait_us,
                     const char *no_workers)
{
    int64_t now = zx__now_us ();
    size_t count = 0;
    for (size_t i = 0; silence_us > 0 && i < self->worker_count; i++) {
        s_worker_t *worker = self->workers [i];
        //  silence_us, or longer for a worker that announced a longer interval
        int64_t limit = self->liveness ? zx__silence_us (self->heartbeat_ms, self->liveness,
                                                         worker->heartbeat_ms) : 0;
        if (now - worker->last_seen_us <= (limit > silence_us ? limit : silence_us))
            continue;
        char cause [256];
        snprintf (cause, sizeof cause, "worker %s (pid %u) silent for %lld ms",
                  worker->label, worker->pid, (long long) (now - worker->last_seen_us) / 1000);
        zx_log_warning (self->log, "%s: declared lost", cause);
        if (self->events.worker_event)
            self->events.worker_event (self->owner, worker->label, ZX_BYE_LOST, cause);
        s_worker_remove (self, worker, cause);
        i--;
        count++;
    }
    if (self->worker_count == 0 && wait_us >= 0) {
        zx__request_t *request;
        while ((request = self->queue.head) && now - request->queued_us >= wait_us) {
            s_list_remove (&self->queue, request);
            s_complete_text (self, request, ZX_ENOWORKERS, no_workers);
            free (request);
            count++;
        }
    }
    if (count)
        s_check_idle (self);
    return count;
}

zx_err_t
zx__dispatch_attach (zx__dispatch_t *self, zx_loop_t *loop)
{
    self->loop = loop;
    zx_err_t rc = zx__loop_add_socket (loop, self->router, s_on_readable, self);
    if (rc == ZX_OK && self->queue.count > 0)
        s_schedule_pump (self);
    //  Messages may be waiting already: zmq_poll reports them, being level
    //  triggered, on the next iteration
    return rc;
}
