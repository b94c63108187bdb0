/*  zx_dispatch_workers.c - the dispatcher's workers: its table, and the
    worker face of its socket.

    DESIGN: a worker exists for the dispatcher from its READY, which
    announces its credits (how many requests it may hold), how many tasks
    it runs at once and how many it may run in all, until it says
    DISCONNECT, falls silent past the liveness, or vanishes under a send
    (ROUTER_MANDATORY says so). Whatever way it goes, what it held is
    retried on another worker when the request allows it, and otherwise
    fails with the cause. Each accepted reply record gives back a credit
    and, with adaptive caps, a measure of its task time: a worker is then
    let hold as many requests as it runs in about 2 ms, so slow tasks
    spread over every worker and tiny ones travel hundreds to a message.
    Every message is read and written through the codec (zx_proto).      */

#define _GNU_SOURCE
#include "zx_dispatch_int.h"
#include "zx_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

//  --------------------------------------------------------------------
//  The table: a hash by routing id for the messages, an array for the
//  walks once per tick, and the room lists for the pump

//  FNV-1a over the routing id: libzmq's generated ids differ in their
//  last octets, and a peer choosing ids to collide only lengthens its own
//  chain (the comparator decides, never the hash alone).
static size_t
s_key_hash (const void *key)
{
    const zx__idkey_t *id = (const zx__idkey_t *) key;
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < id->size; i++) {
        hash ^= id->data [i];
        hash *= 1099511628211ULL;
    }
    return (size_t) (hash ^ (hash >> 32));
}

static int
s_key_compare (const void *one, const void *two)
{
    const zx__idkey_t *a = (const zx__idkey_t *) one, *b = (const zx__idkey_t *) two;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    return memcmp (a->data, b->data, a->size);
}

//  Keys are the workers' own: the table neither copies nor frees them
static void *
s_key_keep (const void *key)
{
    return (void *) key;
}

static void
s_key_leave (void **key_p)
{
    *key_p = NULL;
}

static void
s_host_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static zhashx_t *
s_table_new (void)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, s_key_hash);
        zhashx_set_key_comparator (table, s_key_compare);
        zhashx_set_key_duplicator (table, s_key_keep);
        zhashx_set_key_destructor (table, s_key_leave);
    }
    return table;
}

zx_err_t
zx__dispatch_workers_init (zx__dispatch_t *self)
{
    self->by_identity = s_table_new ();
    self->hosts = s_table_new ();
    if (!self->by_identity || !self->hosts) {
        zhashx_destroy (&self->by_identity);
        zhashx_destroy (&self->hosts);
        return ZX_ENOMEM;
    }
    zhashx_set_destructor (self->hosts, s_host_destroy);
    return ZX_OK;
}

zx__dworker_t *
zx__dispatch_worker_find (zx__dispatch_t *self, const void *identity, size_t size)
{
    if (!self->by_identity || size > ZX_DISPATCH_MAX_IDENTITY)
        return NULL;
    zx__idkey_t key = { (const uint8_t *) identity, size };
    return (zx__dworker_t *) zhashx_lookup (self->by_identity, &key);
}

static zx__dworker_t *
s_worker_find (zx__dispatch_t *self, const void *identity, size_t size)
{
    return zx__dispatch_worker_find (self, identity, size);
}

//  How many requests a worker may hold now. While workers the owner is
//  starting have not said READY, the first ones hold only what they run
//  at once, none queued behind: otherwise the first worker up takes the
//  first tasks two by two while the others, a moment later, find little
//  left, and three slow tasks on three new workers would take twice as
//  long as one.
uint32_t
zx__dispatch_cap (const zx__dispatch_t *self, const zx__dworker_t *worker)
{
    if (self->worker_count < self->expected && worker->limit > worker->parallel)
        return worker->parallel;
    return worker->limit;
}

//  --------------------------------------------------------------------
//  Machines: how many workers to keep busy with tiny tasks
//
//  Each message to a worker costs every thread on its way a wake-up: the
//  I/O threads, the worker's bridge and its pool thread. With many more
//  workers on a machine than it has CPUs, dealing tiny tasks to all of
//  them buys no CPU and multiplies those wake-ups, each in a process whose
//  caches went cold meanwhile (issue 16: 1,000 local workers ran at a
//  tenth of 2; kept to 20 of them, at a third). So while a machine's busy
//  workers run ZX_ENGAGE_PER_CPU tasks at once per CPU, its idle workers
//  wait and the busy ones take the queue in bigger batches. A task that
//  runs a millisecond says STARTED, and each held task that did lets
//  ZX_ENGAGE_PER_STARTED more workers in: slow and blocking tasks spread
//  over every worker within a few round trips (8, 72, 584 workers busy on
//  a machine of two CPUs), while a tiny task that said STARTED only
//  because it waited for a CPU lets in eight, not all. Workers that do
//  not say their machine (pool workers, the Python worker) are never held
//  back (PROTOCOL.md section 24).
#define ZX_ENGAGE_PER_CPU 4

#define ZX_ENGAGE_PER_STARTED 8

static bool
s_host_gated (const zx__dispatch_t *self, const zx__dhost_t *host)
{
    return self->adaptive
        && host->engaged >= (size_t) ZX_ENGAGE_PER_CPU * host->cpus
                            + (size_t) ZX_ENGAGE_PER_STARTED * host->started;
}

//  Puts the host on the open list, or takes it off, as its idle workers
//  and its gate say
static void
s_host_check (zx__dispatch_t *self, zx__dhost_t *host)
{
    bool open = host->idle.head && !s_host_gated (self, host);
    if (open == host->open)
        return;
    host->open = open;
    if (open) {
        host->open_next = NULL;
        host->open_prev = self->open_tail;
        if (self->open_tail)
            self->open_tail->open_next = host;
        else
            self->open_head = host;
        self->open_tail = host;
        return;
    }
    if (host->open_prev)
        host->open_prev->open_next = host->open_next;
    else
        self->open_head = host->open_next;
    if (host->open_next)
        host->open_next->open_prev = host->open_prev;
    else
        self->open_tail = host->open_prev;
    host->open_next = host->open_prev = NULL;
}

//  The worker's machine, made known on its first worker; NULL when out
//  of memory (the worker is then never held back)
static zx__dhost_t *
s_host_join (zx__dispatch_t *self, const uint8_t id [ZX_HOST_ID_SIZE], uint32_t cpus)
{
    zx__idkey_t key = { id, ZX_HOST_ID_SIZE };
    zx__dhost_t *host = (zx__dhost_t *) zhashx_lookup (self->hosts, &key);
    if (!host) {
        host = calloc (1, sizeof (zx__dhost_t));
        if (!host)
            return NULL;
        memcpy (host->id, id, ZX_HOST_ID_SIZE);
        host->key = (zx__idkey_t) { host->id, ZX_HOST_ID_SIZE };
        if (zhashx_insert (self->hosts, &host->key, host) != 0) {
            free (host);
            return NULL;
        }
    }
    if (cpus > host->cpus)
        host->cpus = cpus;
    host->workers++;
    return host;
}

static void
s_host_leave (zx__dispatch_t *self, zx__dworker_t *worker)
{
    zx__dhost_t *host = worker->host;
    worker->host = NULL;
    if (!host || --host->workers > 0)
        return;
    host->idle.head = NULL;         //  Its last worker is off the list already
    s_host_check (self, host);
    zhashx_delete (self->hosts, &host->key);
}

//  How long a worker on a machine that holds workers back may stay idle
//  and keep its cap (below)
#define ZX_IDLE_KEEPS_CAP_US 2000

void
zx__dispatch_hold (zx__dispatch_t *self, zx__dworker_t *worker, zx__request_t *request)
{
    bool was_idle = worker->held.count == 0;
    zx__reqlist_append (&worker->held, request);
    if (was_idle && worker->host) {
        zx__dhost_t *host = worker->host;
        //  Back from a pause (its whole machine went idle since, or it
        //  was idle for more than ZX_IDLE_KEEPS_CAP_US) on a machine that
        //  holds workers back: what it is sent now may not be tiny, and a
        //  cap measured on tiny tasks would let the few workers the
        //  machine keeps busy take a whole burst of slow ones while the
        //  others wait. It starts again from its floor, and doubles back
        //  while work waits (s_adapt)
        if (host->workers > (size_t) ZX_ENGAGE_PER_CPU * host->cpus
        &&  (worker->idle_epoch != host->epoch
             || zx__now_us () - worker->idle_since_us > ZX_IDLE_KEEPS_CAP_US))
            worker->limit = worker->floor;
        host->engaged += worker->parallel;
        s_host_check (self, host);
    }
}

void
zx__dispatch_release (zx__dispatch_t *self, zx__dworker_t *worker, zx__request_t *request)
{
    zx__reqlist_remove (&worker->held, request);
    zx__dhost_t *host = worker->host;
    if (!host)
        return;
    if (request->started)
        host->started--;
    if (worker->held.count == 0) {
        //  The last to go idle too sees the epoch move on
        host->engaged -= worker->parallel;
        worker->idle_since_us = zx__now_us ();
        worker->idle_epoch = host->epoch;
        if (host->engaged == 0)
            host->epoch++;
    }
    s_host_check (self, host);
}

void
zx__dispatch_started (zx__dispatch_t *self, zx__dworker_t *worker)
{
    if (worker->host) {
        worker->host->started++;
        s_host_check (self, worker->host);
    }
}

zx__dworker_t *
zx__dispatch_idle_next (zx__dispatch_t *self, bool spread)
{
    zx__dhost_t *host = self->open_head;
    if (!host)
        return NULL;
    //  Its idle workers are in the order they went idle. A machine with
    //  more workers than it keeps busy gives the one busy last, whose
    //  pages and caches are still warm, so that it keeps using the same
    //  few; one with fewer (and an actor's placement, anywhere) the one
    //  idle longest, so that work goes round them all
    zx__dworker_t *worker = host->idle.head;
    if (!spread && host->workers > (size_t) ZX_ENGAGE_PER_CPU * host->cpus)
        worker = host->idle.tail;
    //  To the back of the line: the next one comes from the next machine
    if (host != self->open_tail) {
        self->open_head = host->open_next;
        self->open_head->open_prev = NULL;
        host->open_prev = self->open_tail;
        host->open_next = NULL;
        self->open_tail->open_next = host;
        self->open_tail = host;
    }
    return worker;
}

//  --------------------------------------------------------------------
//  Room lists

static void
s_room_unlink (zx__dispatch_t *self, zx__dworker_t *worker)
{
    if (worker->room == ZX_ROOM_NONE)
        return;
    zx__wlist_t *list = worker->room == ZX_ROOM_IDLE ? &worker->host->idle
                                                     : &self->room [worker->room];
    if (worker->room_prev)
        worker->room_prev->room_next = worker->room_next;
    else
        list->head = worker->room_next;
    if (worker->room_next)
        worker->room_next->room_prev = worker->room_prev;
    else
        list->tail = worker->room_prev;
    worker->room_next = worker->room_prev = NULL;
    if (worker->room == ZX_ROOM_IDLE) {
        worker->room = ZX_ROOM_NONE;
        s_host_check (self, worker->host);
    }
    worker->room = ZX_ROOM_NONE;
}

void
zx__dispatch_worker_unroom (zx__dispatch_t *self, zx__dworker_t *worker)
{
    s_room_unlink (self, worker);
}

void
zx__dispatch_worker_room (zx__dispatch_t *self, zx__dworker_t *worker)
{
    s_room_unlink (self, worker);
    if (worker->credits == 0 || worker->budget == 0)
        return;
    uint32_t cap = zx__dispatch_cap (self, worker);
    if (worker->held.count >= cap)
        return;
    if (worker->host && worker->held.count == 0)
        worker->room = ZX_ROOM_IDLE;
    else
        worker->room = worker->held.count < worker->parallel ? ZX_ROOM_START : ZX_ROOM_QUEUE;
    zx__wlist_t *list = worker->room == ZX_ROOM_IDLE ? &worker->host->idle
                                                     : &self->room [worker->room];
    worker->room_prev = list->tail;
    if (list->tail)
        list->tail->room_next = worker;
    else
        list->head = worker;
    list->tail = worker;
    if (worker->room == ZX_ROOM_IDLE)
        s_host_check (self, worker->host);
}

void
zx__dispatch_rooms_refresh (zx__dispatch_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++)
        zx__dispatch_worker_room (self, self->workers [i]);
}

//  Whether the caps of all are lowered (zx__dispatch_cap) changes only
//  when the worker count crosses the expected count: re-file them then
static void
s_count_changed (zx__dispatch_t *self, size_t before)
{
    if (self->expected && (before < self->expected) != (self->worker_count < self->expected))
        zx__dispatch_rooms_refresh (self);
}

static void
s_worker_free (zx__dworker_t *worker)
{
    zx__batch_free (&worker->batch);
    free (worker);
}

void
zx__dispatch_workers_free (zx__dispatch_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++) {
        zx__dworker_t *worker = self->workers [i];
        zx__request_t *request;
        while ((request = worker->held.head)) {
            zx__reqlist_remove (&worker->held, request);
            if (request->stopping)
                zx__dispatch_complete_text (self, request, ZX_ECANCELLED,
                                            "cancelled while running: the executor shut down");
            else
                zx__dispatch_complete_text (self, request, ZX_ESHUTDOWN,
                                            "executor shut down while the task ran");
            zx__request_free (request);
        }
        zx__dispatch_fail_pinned (self, worker, ZX_ESHUTDOWN, "executor shut down");
        s_worker_free (worker);
    }
    free (self->workers);
    self->workers = NULL;
    self->worker_count = self->worker_cap = 0;
    self->room [ZX_ROOM_START] = self->room [ZX_ROOM_QUEUE] = (zx__wlist_t) { NULL, NULL };
    self->dealt = NULL;
    self->open_head = self->open_tail = NULL;
    zhashx_destroy (&self->by_identity);
    zhashx_destroy (&self->hosts);
}

void
zx__dispatch_fail_pinned (zx__dispatch_t *self, zx__dworker_t *worker, zx_err_t code,
                          const char *cause)
{
    zx__request_t *request;
    while ((request = worker->pinned.head)) {
        zx__reqlist_remove (&worker->pinned, request);
        self->pinned--;
        char text [512];
        snprintf (text, sizeof text, "%s; task '%s' was lost: it was bound to worker %s",
                  cause, request->data, worker->label);
        zx__dispatch_complete_text (self, request, code, text);
        zx__request_free (request);
    }
}

size_t
zx__dispatch_worker_ids (const zx__dispatch_t *self, char (*ids) [64], size_t count)
{
    size_t found = 0;
    for (size_t i = 0; i < self->worker_count && found < count; i++) {
        const zx__dworker_t *worker = self->workers [i];
        if (worker->identity_size >= 64 || memchr (worker->identity, 0, worker->identity_size))
            continue;
        memcpy (ids [found], worker->identity, worker->identity_size);
        ids [found++] [worker->identity_size] = 0;
    }
    return count ? found : self->worker_count;
}

void
zx__dispatch_worker_remove (zx__dispatch_t *self, zx__dworker_t *worker, const char *cause,
                            zx__request_t *stopped_for)
{
    if (self->tel)
        zx__tel_worker_removed (self->tel, worker, cause);
    //  From the newest back, so retried requests keep their order at the
    //  front of the queue
    zx__request_t *request;
    while ((request = worker->held.tail)) {
        zx__dispatch_release (self, worker, request);
        zx__idmap_take (&self->table, request->corr);
        self->held--;
        //  A worker killed to stop a task that would not stop had not
        //  started what it was sent after that task: send it again, free
        bool never_started = stopped_for && stopped_for->worker == worker
                             && !request->stopping;
        uint32_t attempts = request->attempt - request->free_attempts;
        //  A request bound to this worker (affinity) goes nowhere else
        if (request->cookie && !request->stopping && !request->pinned_to
        &&  (never_started || attempts <= (uint32_t) (request->flags & ZX_FLAG_RETRIES))) {
            if (never_started)
                request->free_attempts++;
            else
                zx_log_warning (self->log, "%s; task '%s' goes to another worker (attempt %u)",
                                cause, request->data, attempts + 1);
            request->attempt++;
            request->started = false;
            request->worker = NULL;
            request->queued_us = zx__now_us ();     //  Waits anew for a worker
            if (self->tel)
                zx__tel_task (self->tel, ZX_EV_TASK_RETRIED, request, ZX_OK, cause, strlen (cause));
            zx__reqlist_prepend (&self->queue, request);
            zx__dispatch_schedule_pump (self);
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
            zx__dispatch_complete_text (self, request,
                                        request->stopping ? ZX_ECANCELLED : ZX_EWORKER_LOST,
                                        text);
        }
        zx__request_free (request);
    }
    zx__dispatch_fail_pinned (self, worker, ZX_EWORKER_LOST, cause);
    s_room_unlink (self, worker);
    s_host_leave (self, worker);
    zhashx_delete (self->by_identity, &worker->key);
    size_t before = self->worker_count;
    zx__dworker_t *last = self->workers [--self->worker_count];
    self->workers [worker->slot] = last;
    last->slot = worker->slot;
    //  A worker removed in the middle of a pump (it vanished under a send)
    //  is off the dealt list already: the pump takes each off before it sends
    s_worker_free (worker);
    s_count_changed (self, before);
}

static void
s_worker_remove (zx__dispatch_t *self, zx__dworker_t *worker, const char *cause)
{
    zx__dispatch_worker_remove (self, worker, cause, NULL);
}

void
zx__dispatch_worker_gone (zx__dispatch_t *self, const char *identity, const char *cause)
{
    zx__dworker_t *worker = s_worker_find (self, identity, strlen (identity));
    if (worker) {
        s_worker_remove (self, worker, cause);
        zx__dispatch_check_idle (self);
    }
}

size_t
zx__dispatch_worker_holds (zx__dispatch_t *self, const char *identity)
{
    zx__dworker_t *worker = s_worker_find (self, identity, strlen (identity));
    return worker ? worker->held.count : 0;
}

size_t
zx__dispatch_stop_started (zx__dispatch_t *self)
{
    size_t count = 0;
    for (size_t i = 0; i < self->worker_count; i++)
        for (zx__request_t *request = self->workers [i]->held.head; request;
             request = request->next)
            if (request->cookie && request->started && !request->stopping) {
                zx__request_stop (request);
                count++;
            }
    return count;
}

size_t
zx__dispatch_abandon_all (zx__dispatch_t *self, zx_err_t code, const char *text)
{
    size_t count = zx__dispatch_fail_waiting (self, INT64_MAX, code, text);
    for (size_t i = 0; i < self->worker_count; i++)
        for (zx__request_t *request = self->workers [i]->held.head; request;
             request = request->next)
            if (request->cookie) {
                zx__dispatch_complete_text (self, request, code, text);
                count++;
            }
    return count;
}

void
zx__dispatch_worker_stopped (zx__dispatch_t *self, const char *identity, uint64_t corr,
                             const char *cause)
{
    zx__dworker_t *worker = s_worker_find (self, identity, strlen (identity));
    if (worker) {
        zx__request_t *request = zx__idmap_get (&self->table, corr);
        zx__dispatch_worker_remove (self, worker, cause,
                                    request && request->worker == worker ? request : NULL);
        zx__dispatch_check_idle (self);
    }
}

//  A worker said DISCONNECT with reason and text (printable): it is
//  forgotten, what it held is retried or fails, and the owner hears.
//  Also from a worker that never got as far as READY: its reason (an
//  initializer that failed) is worth hearing.
static void
s_worker_left (zx__dispatch_t *self, const void *identity, size_t identity_size,
               const char *label, uint8_t reason, const char *text)
{
    zx__dworker_t *worker = s_worker_find (self, identity, identity_size);
    if (worker) {
        char cause [400];
        snprintf (cause, sizeof cause, "worker %s left (%s)", label,
                  text [0] ? text : "no reason");
        if (self->tel)
            zx__tel_worker_left (self->tel, worker, reason, text);
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

size_t
zx__dispatch_workers (const zx__dispatch_t *self)
{
    return self->worker_count;
}

size_t
zx__dispatch_held_back (const zx__dispatch_t *self, size_t *machines)
{
    size_t waiting = 0;
    if (machines)
        *machines = zhashx_size (self->hosts);
    //  zhashx_first and zhashx_next move the table's cursor, nothing else
    zhashx_t *hosts = self->hosts;
    for (zx__dhost_t *host = zhashx_first (hosts); host; host = zhashx_next (hosts)) {
        if (!s_host_gated (self, host))
            continue;
        for (const zx__dworker_t *worker = host->idle.head; worker; worker = worker->room_next)
            waiting++;
    }
    return waiting;
}

//  --------------------------------------------------------------------
//  Sending to workers

//  A command that is not a REQUEST may be lost with its worker: say so
static void
s_sent (zx__dispatch_t *self, zx__dworker_t *worker, uint8_t command, zx_err_t rc)
{
    if (rc != ZX_OK)
        zx_log_debug (self->log, "cannot send command %d to worker %s: %s",
                      command, worker->label, zmq_strerror (errno));
}

//  A HEARTBEAT, with our interval when we have one
static void
s_send_heartbeat (zx__dispatch_t *self, zx__dworker_t *worker)
{
    uint32_t interval = self->heartbeat_ms > 0 ? (uint32_t) self->heartbeat_ms : 0;
    zx_err_t rc = zx__send_heartbeat (&worker->route, interval);
    if (rc == ZX_OK)
        worker->sent_us = zx__now_us ();
    s_sent (self, worker, ZX_CMD_HEARTBEAT, rc);
}

void
zx__dispatch_send_cancel (zx__dispatch_t *self, zx__request_t *request)
{
    zx_err_t rc = zx__send_cancel (&request->worker->route, &request->corr, 1);
    if (rc == ZX_OK)
        request->worker->sent_us = zx__now_us ();
    s_sent (self, request->worker, ZX_CMD_CANCEL, rc);
}

void
zx__dispatch_disconnect_all (zx__dispatch_t *self)
{
    for (size_t i = 0; i < self->worker_count; i++) {
        zx__dworker_t *worker = self->workers [i];
        s_sent (self, worker, ZX_CMD_DISCONNECT,
                zx__send_disconnect (&worker->route, ZX_BYE_NORMAL, NULL));
    }
}

void
zx__dispatch_set_ratelog (zx__dispatch_t *self, zx__ratelog_t *ratelog)
{
    self->ratelog = ratelog;
}

void
zx__dispatch_set_max_queue_bytes (zx__dispatch_t *self, size_t bytes)
{
    self->max_queue_bytes = bytes;
}

void
zx__dispatch_set_heartbeat (zx__dispatch_t *self, int heartbeat_ms, int liveness)
{
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
}

//  Any message counts as traffic: a worker that was sent something in the
//  last half interval (a batch of requests, a cancel) needs no heartbeat.
//  Half, not a whole one: the gap between two messages stays at most an
//  interval and a half, well inside the worker's liveness.
void
zx__dispatch_heartbeat (zx__dispatch_t *self)
{
    int64_t now = zx__now_us ();
    int64_t quiet_us = (int64_t) self->heartbeat_ms * 500;
    for (size_t i = 0; i < self->worker_count; i++)
        if (now - self->workers [i]->sent_us >= quiet_us)
            s_send_heartbeat (self, self->workers [i]);
}

//  --------------------------------------------------------------------
//  READY and REPLY

static void
s_on_ready (zx__dispatch_t *self, const zx__msg_t *msg, const char *label)
{
    if (!msg->ok || msg->identity_size > ZX_DISPATCH_MAX_IDENTITY) {
        ZX__DISPATCH_WARN (self, label, "ready", "malformed READY from %s: dropped", label);
        return;
    }
    //  A READY under an id we know: the connection that id had is gone (a
    //  worker restarted with the same id, or reconnected before we saw it
    //  leave). What the old one held is retried or fails now, and the new
    //  registration serves; counting its heartbeats for the old one would
    //  keep those tasks waiting for ever.
    zx__dworker_t *known = s_worker_find (self, msg->identity, msg->identity_size);
    if (known) {
        char cause [ZX_LABEL_SIZE + 96];
        snprintf (cause, sizeof cause, "worker %s said READY again: its earlier connection "
                  "is gone", label);
        zx_log_warning (self->log, "%s (it held %zu)", cause, known->held.count);
        s_worker_remove (self, known, cause);
    }
    //  Grow the table first and on its own: realloc may grow in place, and
    //  the old pointer is gone once it moved
    if (self->worker_count == self->worker_cap) {
        size_t cap = self->worker_cap * 2 + 4;
        zx__dworker_t **grown = realloc (self->workers, cap * sizeof (zx__dworker_t *));
        if (!grown) {
            zx_log_error (self->log, "out of memory accepting worker %s", label);
            return;
        }
        self->workers = grown;
        self->worker_cap = cap;
    }
    zx__dworker_t *worker = calloc (1, sizeof (zx__dworker_t));
    if (!worker) {
        zx_log_error (self->log, "out of memory accepting worker %s", label);
        return;
    }
    worker->identity_size = msg->identity_size;
    memcpy (worker->identity, msg->identity, worker->identity_size);
    worker->key = (zx__idkey_t) { worker->identity, worker->identity_size };
    if (zhashx_insert (self->by_identity, &worker->key, worker) != 0) {
        zx_log_error (self->log, "out of memory accepting worker %s", label);
        free (worker);
        return;
    }
    snprintf (worker->label, sizeof worker->label, "%s", label);
    worker->route = (zx__route_t) { self->memq ? NULL : self->router, ZX_FACE_WORKER,
                                    ZMQ_DONTWAIT, worker->identity, worker->identity_size,
                                    self->memq, NULL };
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
    worker->features = msg->ready.features;
    if (msg->ready.cpus > 0)
        worker->host = s_host_join (self, msg->ready.host, msg->ready.cpus);
    worker->last_seen_us = zx__now_us ();
    worker->slot = self->worker_count;
    self->workers [self->worker_count++] = worker;
    zx__dispatch_worker_room (self, worker);
    s_count_changed (self, self->worker_count - 1);
    //  Heard at once: a worker that counts the broker's silence from its
    //  READY must not give up on a broker that took it a moment ago
    s_send_heartbeat (self, worker);
    if (self->tel)
        zx__tel_worker_joined (self->tel, worker);
    if (self->events.worker_event)
        self->events.worker_event (self->owner, label, -1, "");
}

//  Adapts how many requests a worker holds to how long its tasks take: as
//  many as it runs in about ZX_TARGET_US, at least two per task it runs at
//  once (one running, one ready behind it) and at most its credits. Slow
//  tasks thus stay spread over all workers, while tiny tasks travel
//  hundreds to a message.
//
//  The time between replies measures tasks only while the worker had
//  more to do. One that answered everything it held (it drained) spent
//  part of that time waiting for its next batch, a round trip that on a
//  loaded machine takes milliseconds: measured as task time, it would
//  keep the cap at two for tiny tasks, and every task would cost wake-ups
//  in several threads (issue 16: 10 workers on 2 cores ran at a fifth of
//  2). So a worker that drained while work waited, none of whose tasks
//  ran long enough to say STARTED (about a millisecond), was starved: its
//  cap doubles, and the interval is not taken as a measure.
#define ZX_TARGET_US 2000.0

static void
s_adapt (zx__dispatch_t *self, zx__dworker_t *worker, size_t accepted, bool slow)
{
    int64_t now = zx__now_us ();
    int64_t since = worker->last_reply_us > worker->busy_since_us
                  ? worker->last_reply_us : worker->busy_since_us;
    worker->last_reply_us = now;
    uint32_t most = worker->credits + (uint32_t) worker->held.count;
    if (!self->adaptive || most <= worker->floor)
        return;
    //  Growth that is not measured stops at a batch's worth of bytes:
    //  big arguments gain nothing from being held by the dozen
    double bytes = worker->last_args > 0 ? (double) worker->last_args : 1.0;
    double byte_cap = (double) ZX_DISPATCH_BATCH_BYTES / bytes;
    if (worker->held.count == 0 && !slow && self->queue.count > 0) {
        double doubled = 2.0 * worker->limit;
        if (doubled > byte_cap)
            doubled = byte_cap;
        if (doubled > worker->limit)
            worker->limit = doubled > most ? most : (uint32_t) doubled;
        return;
    }
    double per_task = (double) (now - since) / (double) accepted;
    if (per_task < 0.05)
        per_task = 0.05;
    worker->task_us = worker->task_us > 0 ? 0.75 * worker->task_us + 0.25 * per_task
                                          : per_task;
    double limit = ZX_TARGET_US / worker->task_us;
    //  Tasks too short to say STARTED, timed on a machine with more
    //  workers than cores, look long: the wait for a CPU counts. Such a
    //  worker may hold its fair share of what waits, so that a long queue
    //  of tiny tasks travels in big batches
    if (!slow && self->worker_count > 0) {
        double share = (double) self->queue.count / (double) self->worker_count;
        if (share > byte_cap)
            share = byte_cap;
        if (share > limit)
            limit = share;
    }
    worker->limit = limit < worker->floor ? worker->floor
                  : limit > most ? most : (uint32_t) limit;
}

static void
s_on_reply (zx__dispatch_t *self, zx__dworker_t *worker, const zx__msg_t *msg)
{
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__reply_rec_t rec;
    zx_err_t rc;
    size_t accepted = 0;
    bool slow = false;              //  One of them said STARTED
    //  A framed reply's payload is its frame, which the completion may
    //  take as it is (zx__request_reply_frame)
    self->reply_frame = msg->frame;
    while ((rc = zx__batch_next_reply (&cursor, end, &rec)) == ZX_OK) {
        zx__msg_reply_payload (msg, &rec);
        zx__request_t *request = zx__idmap_get (&self->table, rec.corr);
        if (!request || request->worker != worker || request->attempt != rec.attempt) {
            zx_log_debug (self->log, "stale reply %llu from %s: dropped",
                          (unsigned long long) rec.corr, worker->label);
            continue;
        }
        //  Not an end: the request stays held, its credit used
        if (rec.status == ZX_STATUS_STARTED) {
            if (!request->started && request->cookie) {
                request->started = true;
                zx__dispatch_started (self, worker);
                if (self->events.started)
                    self->events.started (self->owner, request->cookie, request->complete);
            }
            continue;
        }
        zx__idmap_take (&self->table, rec.corr);
        zx__dispatch_release (self, worker, request);
        self->held--;
        worker->credits++;
        accepted++;
        slow |= request->started;
        worker->last_args = request->args_size;
        zx_err_t code = zx__status_to_err (rec.status);
        //  A worker fronting a pool reports the loss of one of its own
        //  processes: retry that as if the worker itself had been lost
        if (request->stopping) {
            //  Cancelled while running: it ends cancelled whatever it did
            if (rec.status == ZX_STATUS_CANCELLED)
                zx__dispatch_complete (self, request, ZX_ECANCELLED, rec.payload,
                                       rec.payload_size);
            else
                zx__dispatch_complete_text (self, request, ZX_ECANCELLED,
                                            "cancelled while running: the task finished "
                                            "before it saw the cancel; its result was dropped");
            zx__request_free (request);
            continue;
        }
        if (code == ZX_EWORKER_LOST && request->cookie
        &&  request->attempt - request->free_attempts
                <= (uint32_t) (request->flags & ZX_FLAG_RETRIES)) {
            zx_log_warning (self->log, "worker %s lost task '%s': it goes to a worker again "
                            "(attempt %u)", worker->label, request->data,
                            request->attempt - request->free_attempts + 1);
            request->attempt++;
            request->started = false;
            request->worker = NULL;
            request->queued_us = zx__now_us ();
            if (self->tel)
                zx__tel_task (self->tel, ZX_EV_TASK_RETRIED, request, ZX_OK,
                              "its worker lost it", 19);
            zx__reqlist_append (&self->queue, request);
            continue;
        }
        if (code == ZX_EPROTO && rec.status != ZX_STATUS_BAD_REQUEST)
            zx__dispatch_complete_text (self, request, ZX_EPROTO,
                                        "worker sent an unknown reply status");
        else
            zx__dispatch_complete (self, request, code, rec.payload, rec.payload_size);
        zx__request_free (request);
    }
    self->reply_frame = NULL;
    if (rc == ZX_EPROTO)
        ZX__DISPATCH_WARN (self, worker->label, "batch", "malformed REPLY batch from %s: rest "
                           "dropped", worker->label);
    if (accepted) {
        s_adapt (self, worker, accepted, slow);
        zx__dispatch_worker_room (self, worker);
    }
}

//  --------------------------------------------------------------------
//  Reading the socket

//  Handles one worker-face message; rc is what decoding made of it.
static void
s_handle (zx__dispatch_t *self, const zx__msg_t *msg, zx__recv_t rc)
{
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, msg->identity, msg->identity_size);
    if (rc != ZX_RECV_OK) {
        ZX__DISPATCH_WARN (self, label, "malformed", "malformed message (%zu frames) from %s: "
                           "dropped", msg->count, label);
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
    zx__dworker_t *worker = s_worker_find (self, msg->identity, msg->identity_size);
    if (!worker) {
        ZX__DISPATCH_WARN (self, label, "command", "command %d from %s before READY: dropped",
                           msg->command, label);
        return;
    }
    worker->last_seen_us = zx__loop_now_us (self->loop);
    switch (msg->command) {
        case ZX_CMD_REPLY:
            if (!msg->ok || msg->extra)
                ZX__DISPATCH_WARN (self, label, "malformed", "malformed REPLY from %s: "
                                   "dropped%s%s%s", label, msg->frame_error ? " (" : "",
                                   msg->frame_error ? msg->frame_error : "",
                                   msg->frame_error ? ")" : "");
            else
                s_on_reply (self, worker, msg);
            break;
        case ZX_CMD_HEARTBEAT:
            if (msg->interval)
                worker->heartbeat_ms = msg->interval;
            break;
        default:
            ZX__DISPATCH_WARN (self, label, "command", "unknown command %d from %s: dropped",
                               msg->command, label);
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
        zx__recv_t rc = self->memq
                       ? zx__recv_memq (self->memq, NULL, ZX_FACE_WORKER, &msg)
                       : zx__recv_router (self->router, ZX_FACE_WORKER, &msg);
        if (rc == ZX_RECV_NONE)
            break;                          //  Nothing more to read now
        if (rc == ZX_RECV_TOO_MANY)
            zx_log_warning (self->log, "message with more than %d frames: dropped",
                            ZX_ROUTER_MAX_FRAMES);
        else
            s_handle (self, &msg, rc);
        zx__msg_close (&msg);
    }
    zx__dispatch_pump (self);
    zx__dispatch_check_idle (self);
}

void
zx__dispatch_read (zx__dispatch_t *self)
{
    s_on_readable (self->loop, self);
}

void
zx__dispatch_use_memq (zx__dispatch_t *self, zx__memq_t *memq)
{
    self->memq = memq;
}

//  For a loop about to sleep, while tasks run on fewer threads than the
//  machine has CPUs (so that its spin takes no CPU a worker needs):
//  replies wait, or one may come within microseconds. Otherwise the loop
//  polls as ever
static zx__probe_t
s_probe (void *arg)
{
    zx__dispatch_t *self = (zx__dispatch_t *) arg;
    if (self->held == 0 || self->held >= self->cpus)
        return ZX__PROBE_IDLE;
    return zx__memq_hub_pending (self->memq) ? ZX__PROBE_READY : ZX__PROBE_SOON;
}

zx_err_t
zx__dispatch_attach (zx__dispatch_t *self, zx_loop_t *loop)
{
    self->loop = loop;
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    self->cpus = cpus > 0 ? (size_t) cpus : 1;
    zx_err_t rc = self->memq
        ? zx__loop_add_fd_probed (loop, zx__memq_fd (self->memq), s_on_readable, self,
                                  s_probe)
        : zx__loop_add_socket (loop, self->router, s_on_readable, self);
    if (rc == ZX_OK && self->queue.count > 0)
        zx__dispatch_schedule_pump (self);
    //  Messages may be waiting already: zmq_poll reports them, being level
    //  triggered, on the next iteration
    return rc;
}

//  --------------------------------------------------------------------
//  Liveness

size_t
zx__dispatch_expire (zx__dispatch_t *self, int64_t silence_us, int64_t wait_us,
                     const char *no_workers)
{
    int64_t now = zx__now_us ();
    size_t count = 0;
    for (size_t i = 0; silence_us > 0 && i < self->worker_count; i++) {
        zx__dworker_t *worker = self->workers [i];
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
    if (self->worker_count == 0 && wait_us >= 0)
        count += zx__dispatch_fail_waiting (self, now - wait_us, ZX_ENOWORKERS, no_workers);
    if (count)
        zx__dispatch_check_idle (self);
    return count;
}
