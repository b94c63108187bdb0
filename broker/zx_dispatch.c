/*  zx_dispatch.c - credit-based dispatch of requests to workers: the
    queue, the pump, and each request's life.

    DESIGN: requests wait in one FIFO. A worker announces in READY how many
    requests it may hold at once (its credits); each reply record gives one
    back. A pump, run once per loop iteration after submissions and after
    each burst of replies, deals the FIFO round-robin, one request per
    worker with credit per round, so work spreads evenly and in order, and
    sends each worker its whole share as one batch message. Nothing done
    per message walks the workers: they are found by routing id in a hash,
    and the pump walks only the lists of workers with room (zx_dispatch_
    int.h), so its cost is what it deals; the walks over all workers
    (heartbeats, expiry) run once per heartbeat interval. Idle workers
    that said their machine wait on that machine's list, and a machine
    busy enough with tiny tasks deals none of them (zx_dispatch_workers.c,
    "Machines"). Held requests sit on their worker's list and in a
    correlation-id table: a reply is accepted only from the worker that
    holds that id at that attempt, so a late, duplicate or forged reply is
    dropped, and a worker's death fails exactly what it held. The
    workers, their READY and REPLY and their liveness are in
    zx_dispatch_workers.c. Big arguments live in a libzmq frame (as
    received, or copied once): to a worker that takes framed requests that
    frame is sent alone, by reference, never copied.                    */

#define _GNU_SOURCE
#include "zx_dispatch_int.h"
#include "zx_actor_host.h"
#include "zx_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

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
    if (zx__dispatch_workers_init (self) != ZX_OK) {
        free (self);
        return NULL;
    }
    int mandatory = 1;
    zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    return self;
}

//  --------------------------------------------------------------------
//  Completing requests

void
zx__dispatch_complete (zx__dispatch_t *self, zx__request_t *request, zx_err_t code,
                       const void *payload, size_t size)
{
    void *cookie = request->cookie;
    if (cookie && self->tel)
        zx__tel_complete (self->tel, request, code, payload, size);
    request->cookie = NULL;
    if (cookie && request->complete)
        request->complete (cookie, code, payload, size);
    else
    if (cookie)
        self->events.complete (self->owner, cookie, code, payload, size);
}

void
zx__dispatch_complete_text (zx__dispatch_t *self, zx__request_t *request, zx_err_t code,
                            const char *text)
{
    zx__dispatch_complete (self, request, code, text, strlen (text));
}

void
zx__dispatch_check_idle (zx__dispatch_t *self)
{
    if (self->events.idle && self->queue.count == 0 && self->pinned == 0 && self->held == 0)
        self->events.idle (self->owner);
}

static void s_pump_callback (zx_loop_t *loop, void *arg);

void
zx__dispatch_destroy (zx__dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__dispatch_t *self = *self_p;
    if (self->loop && self->memq)
        zx__loop_remove (self->loop, NULL, zx__memq_fd (self->memq));
    else
    if (self->loop)
        zx__loop_remove (self->loop, self->router, -1);
    zx__dispatch_fail_queued (self, ZX_ESHUTDOWN, "executor shut down before the task ran");
    zx__dispatch_workers_free (self);
    zx__idmap_free (&self->table);
    //  A pump still queued would run on a freed dispatcher
    if (self->loop)
        zx__loop_forget_calls (self->loop, s_pump_callback, self);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Submitting and dealing

static void
s_pump_callback (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__dispatch_t *self = (zx__dispatch_t *) arg;
    self->pump_scheduled = false;
    zx__dispatch_pump (self);
}

void
zx__dispatch_schedule_pump (zx__dispatch_t *self)
{
    if (self->pump_scheduled || !self->loop)
        return;
    if (zx__loop_call_before_poll (self->loop, s_pump_callback, self) == ZX_OK)
        self->pump_scheduled = true;
}

//  Makes a request for task (checked) with a copy of args. Returns it, or
//  NULL with *code set.
static zx__request_t *
s_request_new (zx__dispatch_t *self, const char *task, const void *args, size_t args_size,
               zmq_msg_t *frame, uint8_t flags, void *cookie, zx_err_t *code)
{
    if (frame) {
        args = NULL;
        args_size = zmq_msg_size (frame);
    }
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
    if (self->queue.count + self->pinned >= self->max_queue
    ||  (self->max_queue_bytes && self->queue.bytes + args_size > self->max_queue_bytes)) {
        *code = ZX_EQUEUE_FULL;
        return NULL;
    }
    bool big = !frame && args && args_size >= ZX_FRAME_THRESHOLD;
    size_t size = zx__request_size (name_len, frame || big ? 0 : args_size);
    zx__request_t *request = zx__slab_alloc (size);
    zmq_msg_t *own_frame = request && (frame || big) ? malloc (sizeof (zmq_msg_t)) : NULL;
    if (request && (frame || big)
    &&  (!own_frame || (big && zmq_msg_init_size (own_frame, args_size) != 0))) {
        free (own_frame);
        zx__slab_free (request, size);
        request = NULL;
    }
    if (!request) {
        *code = ZX_ENOMEM;
        return NULL;
    }
    request->frame = own_frame;
    request->dispatch = self;
    request->worker = NULL;
    request->pinned_to = NULL;
    request->cookie = cookie;
    request->complete = NULL;
    request->corr = self->next_corr++;
    request->attempt = 1;
    request->free_attempts = 0;
    request->stopping = false;
    request->started = false;
    request->flags = flags;
    request->queued_us = zx__loop_now_us (self->loop);
    request->submitted_us = request->queued_us;
    request->name_len = (uint8_t) name_len;
    request->args_size = args_size;
    memcpy (request->data, task, name_len + 1);
    if (frame) {
        //  Taken as it is: the bytes stay where libzmq received them
        zmq_msg_init (request->frame);
        zmq_msg_move (request->frame, frame);
    }
    else
    if (big) {
        //  Copied once, into a frame: sent framed, it is never copied again
        memcpy (zmq_msg_data (request->frame), args, args_size);
    }
    else
    if (args_size && args)
        memcpy (request->data + name_len + 1, args, args_size);
    *code = ZX_OK;
    return request;
}

static zx__request_t *
s_submit (zx__dispatch_t *self, const char *task, const void *args, size_t args_size,
          zmq_msg_t *frame, uint8_t flags, void *cookie, zx_err_t *code)
{
    zx__request_t *request = s_request_new (self, task, args, args_size, frame, flags,
                                            cookie, code);
    if (!request)
        return NULL;
    zx__reqlist_append (&self->queue, request);
    if (self->tel)
        zx__tel_task (self->tel, ZX_EV_TASK_SUBMITTED, request, ZX_OK, NULL, 0);
    zx__dispatch_schedule_pump (self);
    return request;
}

zx__request_t *
zx__dispatch_submit (zx__dispatch_t *self, const char *task, const void *args,
                     size_t args_size, uint8_t flags, void *cookie, zx_err_t *code)
{
    return s_submit (self, task, args, args_size, NULL, flags, cookie, code);
}

zx__request_t *
zx__dispatch_submit_frame (zx__dispatch_t *self, const char *task, zmq_msg_t *frame,
                           uint8_t flags, zx__complete_fn *complete, void *cookie,
                           zx_err_t *code)
{
    zx__request_t *request = s_submit (self, task, NULL, 0, frame, flags, cookie, code);
    if (request)
        request->complete = complete;
    return request;
}

zmq_msg_t *
zx__request_reply_frame (const zx__request_t *request, const void *payload)
{
    zmq_msg_t *frame = request->dispatch->reply_frame;
    return frame && zmq_msg_size (frame) > 0 && zmq_msg_data (frame) == payload ? frame : NULL;
}

zx__request_t *
zx__dispatch_submit_to (zx__dispatch_t *self, const char *target, const char *task,
                        const void *args, size_t args_size, uint8_t flags,
                        zx__complete_fn *complete, void *cookie, zx_err_t *code)
{
    zx__dworker_t *worker = target
        ? zx__dispatch_worker_find (self, target, strlen (target)) : NULL;
    if (!worker) {
        *code = ZX_EWORKER_LOST;
        return NULL;
    }
    //  Retries would break the order of what it was sent: none
    zx__request_t *request = s_request_new (self, task, args, args_size, NULL,
                                            flags & ~ZX_FLAG_RETRIES, cookie, code);
    if (!request)
        return NULL;
    request->complete = complete;
    request->pinned_to = worker;
    zx__reqlist_append (&worker->pinned, request);
    self->pinned++;
    if (self->tel)
        zx__tel_task (self->tel, ZX_EV_TASK_SUBMITTED, request, ZX_OK, NULL, 0);
    zx__dispatch_schedule_pump (self);
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
s_undeal (zx__dispatch_t *self, zx__dworker_t *worker)
{
    zx__request_t *request;
    while (worker->round_first && (request = worker->held.tail)) {
        bool first = request == worker->round_first;
        zx__dispatch_release (self, worker, request);
        zx__idmap_take (&self->table, request->corr);
        self->held--;
        worker->credits++;
        worker->budget++;
        request->worker = NULL;
        if (request->pinned_to) {
            zx__reqlist_prepend (&worker->pinned, request);
            self->pinned++;
        }
        else
            zx__reqlist_prepend (&self->queue, request);
        if (first)
            break;
    }
    worker->round_first = NULL;
    zx__dispatch_worker_room (self, worker);
}

typedef enum { S_DEALT, S_FULL, S_FAILED } s_deal_t;

//  Deals the first request of from (the queue, or worker's pinned list)
//  to worker.
static s_deal_t
s_deal_one (zx__dispatch_t *self, zx__dworker_t *worker, zx__reqlist_t *from)
{
    zx__request_t *request = from->head;
    //  A batch stops at ZX_DISPATCH_BATCH_BYTES (a bigger request goes
    //  alone): the rest goes in the next message, from the next pump. A
    //  framed request goes alone, its frame as it came, to a worker that
    //  takes it so; every request to such a worker may be answered framed
    size_t record = 4 + ZX_REQUEST_FIXED + request->name_len + request->args_size;
    bool takes_frames = worker->features & ZX_FEATURE_FRAMED;
    bool framed = request->frame && takes_frames;
    if (worker->framed
    ||  (worker->held.count >= worker->parallel
         && worker->held.bytes + request->args_size > ZX_DISPATCH_HELD_BYTES)
    ||  (worker->batch.records > 0
         && (framed || worker->batch.size + record > ZX_DISPATCH_BATCH_BYTES)))
        return S_FULL;
    if (!zx__idmap_put (&self->table, request->corr, request))
        return S_FAILED;
    uint8_t flags = request->flags | (takes_frames ? ZX_FLAG_FRAMED_REPLY : 0);
    if (framed)
        worker->framed = request;
    else
    if (zx__batch_add_request (&worker->batch, request->corr, request->attempt, flags,
                               request->data, request->name_len,
                               zx__request_args (request), request->args_size) != ZX_OK) {
        zx__idmap_take (&self->table, request->corr);
        return S_FAILED;
    }
    zx__reqlist_remove (from, request);
    if (from != &self->queue)
        self->pinned--;
    request->worker = worker;
    if (worker->held.count == 0)
        worker->busy_since_us = zx__now_us ();
    zx__dispatch_hold (self, worker, request);
    if (!worker->round_first) {
        worker->round_first = request;
        worker->dealt_next = self->dealt;
        self->dealt = worker;
    }
    self->held++;
    worker->credits--;
    worker->budget--;
    //  To the tail of its room list, or off it: the next deal goes to the
    //  next worker, round-robin
    zx__dispatch_worker_room (self, worker);
    if (self->tel)
        zx__tel_task (self->tel, ZX_EV_TASK_DISPATCHED, request, ZX_OK, NULL, 0);
    if (self->events.dispatched && request->cookie)
        self->events.dispatched (self->owner, request->complete ? NULL : request->cookie);
    return S_DEALT;
}

//  Sends one dealt worker its batch; one that vanished without saying so
//  (ROUTER_MANDATORY reports it) gets its share taken back.
static void
s_send_dealt (zx__dispatch_t *self, zx__dworker_t *worker)
{
    zx_err_t rc;
    zx__request_t *framed = worker->framed;
    worker->framed = NULL;
    if (framed) {
        //  A reference to the same bytes (libzmq counts them), so that the
        //  request keeps its arguments for a retry
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        zmq_msg_copy (&frame, framed->frame);
        rc = zx__send_request_framed (&worker->route, NULL, framed->corr, framed->attempt,
                                      framed->flags | ZX_FLAG_FRAMED_REPLY, framed->data,
                                      framed->name_len, &frame);
        int error = errno;
        zmq_msg_close (&frame);
        errno = error;
    }
    else
        rc = zx__send_request_batch (&worker->route, NULL, &worker->batch);
    int error = errno;
    zx__batch_clear (&worker->batch);
    if (rc == ZX_OK) {
        worker->sent_us = zx__loop_now_us (self->loop);    //  Traffic: counts as a heartbeat
        worker->round_first = NULL;
        zx__dispatch_worker_room (self, worker);
        return;
    }
    //  EAGAIN: it has not read what waits for it (a broker's socket holds
    //  a few messages per peer); it is not gone, only slow
    if (error == EAGAIN)
        zx_log_debug (self->log, "worker %s reads nothing: its work goes back to the queue",
                      worker->label);
    else
        zx_log_warning (self->log, "worker %s is unreachable (%s): its work goes back to "
                        "the queue", worker->label, zmq_strerror (error));
    s_undeal (self, worker);
    if (error == EHOSTUNREACH) {
        //  Its owner hears of it as of a silent one, so that a broker
        //  forgets the id too. ("worker vanished" first: a local pool's
        //  actor references wait for the pool's own cause on seeing it)
        char cause [400];
        snprintf (cause, sizeof cause, "worker vanished: worker %s (pid %u) is no longer "
                  "connected", worker->label, worker->pid);
        if (self->events.worker_event)
            self->events.worker_event (self->owner, worker->label, ZX_BYE_LOST, cause);
        zx__dispatch_worker_remove (self, worker, cause, NULL);
    }
}

//  Whether the request places an actor: placements spread over a
//  machine's workers, however tiny they are
static bool
s_placement (const zx__request_t *request)
{
    return request->name_len == sizeof ZX__ACTOR_SPAWN - 1
        && memcmp (request->data, ZX__ACTOR_SPAWN, request->name_len) == 0;
}

//  One pass of the pump: deals what the room lists take and sends each
//  worker its batch. Returns true when a batch stopped at its byte limit
//  with room left: another pass deals the rest in a further message.
static bool
s_pump_pass (zx__dispatch_t *self)
{
    //  Two rounds: first each worker gets what it can start at once, so
    //  that an idle worker is never passed over for one that would only
    //  queue it; then they are topped up to their caps, one at a time
    bool full = false;
    //  Requests bound to one worker (affinity: actors) go first, in their
    //  order, as far as its credits go. This walk over the workers is
    //  taken only while such requests wait (a local pool hosting actors,
    //  a handful of workers), never for plain tasks
    for (size_t i = 0; i < self->worker_count && self->pinned > 0; i++) {
        zx__dworker_t *worker = self->workers [i];
        while (worker->pinned.head && worker->credits > 0 && worker->budget > 0) {
            s_deal_t dealt = s_deal_one (self, worker, &worker->pinned);
            if (dealt == S_FAILED)
                goto send;
            if (dealt == S_FULL) {
                full = true;
                break;
            }
        }
    }
    //  Idle workers first, a machine at a time in turn (those that say
    //  their machine; the others are on the start list): an idle one
    //  never waits while another queues work, unless its machine is
    //  busy enough with tiny tasks (zx__dispatch_idle_next)
    zx__dworker_t *idle;
    while (self->queue.count > 0
       &&  (idle = zx__dispatch_idle_next (self, s_placement (self->queue.head)))) {
        s_deal_t dealt = s_deal_one (self, idle, &self->queue);
        if (dealt == S_FAILED)
            goto send;
        if (dealt == S_FULL) {
            zx__dispatch_worker_unroom (self, idle);
            full = true;
        }
    }
    for (int room = ZX_ROOM_START; room <= ZX_ROOM_QUEUE; room++) {
        zx__dworker_t *worker;
        while (self->queue.count > 0 && (worker = self->room [room].head)) {
            s_deal_t dealt = s_deal_one (self, worker, &self->queue);
            if (dealt == S_FAILED)
                goto send;          //  Out of memory: send what was dealt
            if (dealt == S_FULL) {
                //  Off the room lists until its batch is sent
                zx__dispatch_worker_unroom (self, worker);
                full = true;
            }
        }
    }
send:
    while (self->dealt) {
        zx__dworker_t *worker = self->dealt;
        self->dealt = worker->dealt_next;
        worker->dealt_next = NULL;
        s_send_dealt (self, worker);
    }
    return full && (self->queue.count > 0 || self->pinned > 0);
}

//  The pump costs what it deals, not what is connected: it walks only the
//  workers on the room lists, and each step deals one request (a worker
//  that has no room left drops off its list), so a long queue with every
//  worker full, or one request among a thousand idle workers, is O(1).
void
zx__dispatch_pump (zx__dispatch_t *self)
{
    //  A few passes at most: libzmq holds ZX__BROKER_PEER_HWM messages per
    //  peer, and what is left waits for the next reply
    for (int pass = 0; pass < 16 && s_pump_pass (self); pass++)
        ;
}

void
zx__dispatch_flush (zx__dispatch_t *self)
{
    zx__dispatch_pump (self);
    zx__dispatch_check_idle (self);
}

//  --------------------------------------------------------------------
//  A request's end before its reply: cancel, stop, abandon, fail

void
zx__request_fail (zx__request_t *request, zx_err_t code, const char *text)
{
    zx__dispatch_t *self = request->dispatch;
    if (!request->cookie)
        return;
    if (!request->worker) {
        if (request->pinned_to) {
            zx__reqlist_remove (&request->pinned_to->pinned, request);
            self->pinned--;
        }
        else
            zx__reqlist_remove (&self->queue, request);
        zx__dispatch_complete_text (self, request, code, text);
        zx__request_free (request);
        zx__dispatch_check_idle (self);
        return;
    }
    //  The worker skips it if it has not started and stops it at its
    //  cancel token if it has; the reply comes back either way and
    //  returns the credit
    if (!request->stopping)
        zx__dispatch_send_cancel (self, request);
    zx__dispatch_complete_text (self, request, code, text);
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
        zx__dispatch_send_cancel (self, request);
    }
    return true;
}

bool
zx__request_started (const zx__request_t *request)
{
    return request->started;
}

size_t
zx__dispatch_cancel_unstarted (zx__dispatch_t *self, const char *message)
{
    size_t count = zx__dispatch_fail_waiting (self, INT64_MAX, ZX_ECANCELLED, message);
    for (size_t i = 0; i < self->worker_count; i++) {
        //  Those bound to one worker (actors' messages) and not dealt yet
        zx__dworker_t *worker = self->workers [i];
        zx__request_t *pinned;
        while ((pinned = worker->pinned.head)) {
            zx__request_fail (pinned, ZX_ECANCELLED, message);      //  Unlinks it
            count++;
        }
        zx__request_t *request = self->workers [i]->held.head;
        for (; request; request = request->next)
            if (request->cookie && !request->started && !request->stopping) {
                zx__request_fail (request, ZX_ECANCELLED, message);
                count++;
            }
    }
    if (count)
        zx__dispatch_check_idle (self);
    return count;
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
    zx__dispatch_complete_text (self, request, code, text);
    return true;
}

size_t
zx__dispatch_fail_waiting (zx__dispatch_t *self, int64_t queued_by_us, zx_err_t code,
                           const char *message)
{
    size_t count = 0;
    zx__request_t *request;
    while ((request = self->queue.head) && request->queued_us <= queued_by_us) {
        zx__reqlist_remove (&self->queue, request);
        zx__dispatch_complete_text (self, request, code, message);
        zx__request_free (request);
        count++;
    }
    return count;
}

size_t
zx__dispatch_fail_queued (zx__dispatch_t *self, zx_err_t code, const char *message)
{
    size_t count = zx__dispatch_fail_waiting (self, INT64_MAX, code, message);
    if (count)
        zx__dispatch_check_idle (self);
    return count;
}

//  --------------------------------------------------------------------
//  Counts and hints

size_t
zx__dispatch_queued (const zx__dispatch_t *self)
{
    return self->queue.count + self->pinned;
}

size_t
zx__dispatch_held (const zx__dispatch_t *self)
{
    return self->held;
}

void
zx__dispatch_set_tel (zx__dispatch_t *self, zx__tel_service_t *tel)
{
    self->tel = tel;
}

void
zx__dispatch_expect (zx__dispatch_t *self, size_t workers)
{
    self->expected = workers;
    zx__dispatch_rooms_refresh (self);
}
