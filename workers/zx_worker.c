/*  zx_worker.c - zx_worker_t and zx_serve: this process as a broker's worker.

    DESIGN: a bridge. On the broker's side it is one ZXW01 worker: a DEALER
    that says READY with its credits and answers REQUEST batches with REPLY
    batches. On its own side every request is relayed to a local pool with
    its arguments still encoded (zx__executor_relay), and the pool's
    completion adds the encoded result to the next reply batch: no future,
    no decoding on the way. Over any other executor (a remote one) each
    request becomes a future instead. The bridge's loop never runs a task
    itself, so it keeps sending heartbeats while tasks run. When the broker
    falls silent (or says DISCONNECT) the bridge cancels what it was doing
    for it, drops the socket and connects again with backoff, announcing
    itself anew: the broker has failed or retried that work meanwhile.
    Actors (PROTOCOL.md 13.7): the broker sends this worker the spawn of
    an actor and then, by target, all its messages; the bridge remembers
    which pool worker ran each spawn and binds the actor's messages to
    that one (zx__executor_send_to), and the spawn's reply names this
    serving worker and its pid, so that the coordinator targets it.
    Framed payloads (PROTOCOL.md 23) are relayed as the frames they came
    in, both ways, without a copy.
    With CURVE, the certificate and the broker's key are read once, when
    the worker is made, and applied to every new connection.             */

#define _GNU_SOURCE
#include "zx_curve.h"
#include "zx_executor.h"
#include "zx_future.h"
#include "zx_idmap.h"
#include "zx_loop.h"
#include "zx_pool_worker.h"
#include "zx_proto.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_actor_host.h"

#include <czmq.h>
#include <ctype.h>
#include <sched.h>
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/signalfd.h>

#define ZX_BACKOFF_MIN_MS   100
#define ZX_BACKOFF_MAX_MS   3000

//  One request from the broker. On a local pool it is relayed as it came
//  (request); on any other executor it is a future.
typedef struct {
    zx_worker_t *worker;
    zx_future_t *future;
    zx__request_t *request;
    uint64_t corr;
    uint32_t attempt;
    unsigned generation;        //  Of the connection it came on
    bool abandoned;             //  Its connection dropped: nobody wants it
    char *actor;                //  An actor's spawn or stop: the actor's id
    bool spawn;                 //  An actor's spawn
    bool framed_reply;          //  The broker takes its reply framed
} s_job_t;

struct zx_worker {
    zx_loop_t *loop;
    zx_executor_t *executor;
    char *endpoint;
    char *service;
    char identity [128];
    zsock_t *dealer;
    void *socket;               //  Its libzmq handle; NULL between connections
    zx__route_t route;          //  To the broker, over it
    unsigned generation;
    uint32_t nonce;             //  Random, per worker made: ids never repeat
    uint32_t credits;
    uint32_t parallel;          //  Pool workers: tasks run at once
    int heartbeat_ms;
    int liveness;
    int backoff_ms;
    zx__peer_t broker;          //  When we last heard it, its heartbeat interval
    bool heard;                 //  The broker spoke on this connection
    int64_t sent_us;            //  When we last sent the broker anything
    uint64_t tick_timer;
    int64_t tick_due_us;        //  When the tick timer is due
    uint64_t connect_timer;
    zx__idmap_t jobs;           //  corr -> job, this connection's
    zhashx_t *actors;           //  Actor id -> routing id of the pool worker hosting it
    zx__batch_t replies;
    bool flush_scheduled;
    zx_logger_t *log;
    zcert_t *cert;              //  With CURVE: this worker's certificate
    char server_key [ZX_CURVE_KEY_LEN + 1];
    zsock_t *monitor;           //  With CURVE: PAIR on the DEALER's handshake failures
    uint16_t refused;           //  The last handshake failure logged, or 0
};

static void s_connect (zx_loop_t *loop, void *arg);
static void s_on_tick (zx_loop_t *loop, void *arg);

//  The tick comes this long after one interval from our last message: the
//  broker's heartbeat, which we answer at once (s_on_broker_heartbeat),
//  comes before it while the broker is well, so that an idle worker wakes
//  once an interval, not twice (its own tick and the broker's heartbeat).
#define ZX_TICK_SLACK_MS(interval) ((interval) / 8)

//  A HEARTBEAT announces our interval (see zx__heartbeat_learn)
static void
s_send_heartbeat (zx_worker_t *self)
{
    if (self->socket && zx__send_heartbeat (&self->route, (uint32_t) self->heartbeat_ms) == ZX_OK)
        self->sent_us = zx__now_us ();
}

//  (Re)arms the tick for due_us (the loop's clock).
static void
s_tick_at (zx_worker_t *self, int64_t due_us)
{
    if (self->tick_timer)
        zx_loop_cancel_timer (self->loop, self->tick_timer);
    int64_t delay_ms = (due_us - zx__now_us () + 999) / 1000;
    self->tick_due_us = due_us;
    self->tick_timer = zx_loop_call_later (self->loop, delay_ms, s_on_tick, self);
}

//  The broker's heartbeat: answered at once when we have said nothing for
//  half an interval, and the tick moves to an interval and a bit from now.
//  An idle worker's heartbeats thus ride on the broker's, one wake-up each.
static void
s_on_broker_heartbeat (zx_worker_t *self)
{
    int64_t now = zx__now_us ();
    if (now - self->sent_us < (int64_t) self->heartbeat_ms * 500)
        return;
    s_send_heartbeat (self);
    s_tick_at (self, self->sent_us
               + (int64_t) (self->heartbeat_ms + ZX_TICK_SLACK_MS (self->heartbeat_ms)) * 1000);
}

static void
s_flush (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_worker_t *self = (zx_worker_t *) arg;
    self->flush_scheduled = false;
    if (self->replies.records == 0)
        return;
    if (self->socket && zx__send_reply_batch (&self->route, &self->replies) == ZX_OK)
        self->sent_us = zx__now_us ();     //  Traffic: the broker counts it as a heartbeat
    zx__batch_clear (&self->replies);
}

//  A big result to a broker that takes it framed goes as a frame of its
//  own, after what waits in the batch: the broker moves it on to the
//  coordinator without copying it. Returns false when it did not go.
static bool
s_send_framed (zx_worker_t *self, s_job_t *job, zx_err_t code, const void *payload,
               size_t size)
{
    //  The pool worker's reply came framed: pass its frame on as it is
    zmq_msg_t *came = job->request ? zx__request_reply_frame (job->request, payload) : NULL;
    zmq_msg_t frame;
    if (!self->socket || zmq_msg_init (&frame) != 0)
        return false;
    if (came)
        zmq_msg_move (&frame, came);
    else {
        zmq_msg_close (&frame);
        if (zmq_msg_init_size (&frame, size) != 0)
            return false;
        memcpy (zmq_msg_data (&frame), payload, size);
    }
    s_flush (self->loop, self);
    bool sent = zx__send_reply_framed (&self->route, job->corr, job->attempt,
                                       (uint8_t) zx__status_from_err (code), &frame) == ZX_OK;
    if (!sent && came)
        zmq_msg_move (came, &frame);    //  Back where the batch reads it from
    zmq_msg_close (&frame);
    return sent;
}

static void
s_add_reply (zx_worker_t *self, s_job_t *job, zx_err_t code, const void *payload, size_t size)
{
    if (job->framed_reply && size >= ZX_FRAME_THRESHOLD
    &&  s_send_framed (self, job, code, payload, size))
        return;
    zx__batch_add_reply (&self->replies, job->corr, job->attempt,
                         (uint8_t) zx__status_from_err (code), payload, size);
    if (self->replies.size >= ZX_BATCH_FLUSH_BYTES)
        s_flush (self->loop, self);
    else
    if (!self->flush_scheduled && zx_loop_call_soon (self->loop, s_flush, self) == ZX_OK)
        self->flush_scheduled = true;
}

static void
s_job_done (zx_future_t *future, void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    zx_worker_t *self = job->worker;
    if (job->generation == self->generation
    &&  zx__idmap_take (&self->jobs, job->corr) == job) {
        zx_err_t code = zx_future_error (future);
        size_t size = 0;
        const void *payload;
        if (code == ZX_OK)
            payload = zx__values_data (zx_future_result (future), &size);
        else {
            payload = zx_future_message (future);
            size = strlen (payload);
        }
        s_add_reply (self, job, code, payload, size);
    }
    zx_future_destroy (&job->future);
    free (job);
}

//  An actor's spawn ended well on the pool worker named in its reply
//  [identity, pid]: remember it, and name this serving worker instead.
//  Returns the new reply (caller destroys), or NULL on a malformed one.
static zx_values_t *
s_actor_placed (zx_worker_t *self, s_job_t *job, const void *payload, size_t size)
{
    zx_values_t *reply = NULL;
    const char *pool_worker;
    zx_values_t *ours = NULL;
    if (zx__values_decode (payload, size, &reply) == ZX_OK
    &&  zx_values_get_str (reply, 0, &pool_worker) == ZX_OK) {
        char *copy = strdup (pool_worker);
        if (copy) {
            zhashx_update (self->actors, job->actor, copy);
            ours = zx_values_pack ("si", self->identity, (int64_t) getpid ());
        }
    }
    zx_values_destroy (&reply);
    return ours;
}

//  A relayed request ended: its encoded result (or error text) goes into
//  the reply batch as it is (an actor's spawn's, with this worker's name).
static void
s_relay_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    s_job_t *job = (s_job_t *) cookie;
    zx_worker_t *self = job->worker;
    zx_values_t *placed = NULL;
    //  An abandoned job may outlive the worker: nothing of it is touched
    if (job->abandoned)
        ;
    else
    if (job->actor && job->spawn && code == ZX_OK) {
        placed = s_actor_placed (self, job, payload, size);
        if (placed)
            payload = zx__values_data (placed, &size);
        else {
            code = ZX_EPROTO;
            payload = "malformed spawn reply from a pool worker";
            size = strlen (payload);
        }
    }
    else
    if (job->actor && !job->spawn)
        zhashx_delete (self->actors, job->actor);
    if (!job->abandoned
    &&  job->generation == self->generation && zx__idmap_take (&self->jobs, job->corr) == job)
        s_add_reply (self, job, code, payload, size);
    zx_values_destroy (&placed);
    free (job->actor);
    free (job);
}

//  The pool worker hosting the actor a message is for (args: [id, ...]),
//  or NULL for one this worker does not know; *id_p gets the id (caller
//  frees) when the task is an actor's.
static const char *
s_actor_host (zx_worker_t *self, const char *task, const zx__request_rec_t *rec, char **id_p)
{
    *id_p = NULL;
    if (strcmp (task, ZX__ACTOR_MSG) != 0 && strcmp (task, ZX__ACTOR_STOP) != 0
    &&  strcmp (task, ZX__ACTOR_SPAWN) != 0)
        return NULL;
    zx_values_t *args = NULL;
    const char *id;
    if (zx__values_decode (rec->args, rec->args_size, &args) == ZX_OK
    &&  zx_values_get_str (args, 0, &id) == ZX_OK)
        *id_p = strdup (id);
    zx_values_destroy (&args);
    return *id_p ? (const char *) zhashx_lookup (self->actors, *id_p) : NULL;
}

//  A relayed request's task started on a pool worker: the broker hears it
static void
s_relay_started (void *cookie)
{
    s_job_t *job = (s_job_t *) cookie;
    zx_worker_t *self = job->worker;
    if (job->abandoned || job->generation != self->generation)
        return;
    zx__batch_add_reply (&self->replies, job->corr, job->attempt, ZX_STATUS_STARTED, NULL, 0);
    if (!self->flush_scheduled && zx_loop_call_soon (self->loop, s_flush, self) == ZX_OK)
        self->flush_scheduled = true;
}

//  Relays one request to the local pool. Returns false when there was no
//  memory for it (the caller answers).
static bool
s_relay (zx_worker_t *self, const zx__request_rec_t *rec, const char *task, zmq_msg_t *frame)
{
    s_job_t *job = calloc (1, sizeof (s_job_t));
    if (!job)
        return false;
    job->worker = self;
    job->corr = rec->corr;
    job->attempt = rec->attempt;
    job->generation = self->generation;
    job->framed_reply = rec->flags & ZX_FLAG_FRAMED_REPLY;
    if (!zx__idmap_put (&self->jobs, rec->corr, job)) {
        free (job);
        return false;
    }
    //  An actor's message goes to the pool worker that hosts the actor;
    //  one for an actor not here, to any (which says it is not there)
    char *actor, host [256] = "";
    const char *found = s_actor_host (self, task, rec, &actor);
    //  A copy: a stop's completion, maybe at once, drops the table's
    if (found)
        snprintf (host, sizeof host, "%s", found);
    if (actor && strcmp (task, ZX__ACTOR_MSG) != 0) {
        job->actor = actor;
        job->spawn = strcmp (task, ZX__ACTOR_SPAWN) == 0;
        actor = NULL;
    }
    free (actor);
    //  It may end at once (shut-down pool, bad name): then job is gone
    zx__request_t *request = host [0]
        ? zx__executor_send_to (self->executor, self->loop, host, task, rec->args,
                                rec->args_size, s_relay_done, job)
        : frame
        ? zx__executor_relay_frame (self->executor, self->loop, task, frame, s_relay_done, job)
        : zx__executor_relay (self->executor, self->loop, task, rec->args, rec->args_size,
                              s_relay_done, job);
    if (request)
        job->request = request;
    return true;
}

static void
s_on_request (zx_worker_t *self, const zx__msg_t *msg)
{
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__request_rec_t rec;
    zx_err_t rc;
    bool relay = zx__executor_is_local (self->executor);
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        char task [256];
        memcpy (task, rec.name, rec.name_len);
        task [rec.name_len] = 0;
        if (!zx__msg_request_args (msg, &rec)) {
            const char *text = "malformed framed request: no frame after the batch";
            zx__batch_add_reply (&self->replies, rec.corr, rec.attempt,
                                 ZX_STATUS_BAD_REQUEST, text, strlen (text));
            continue;
        }
        if (relay) {
            if (zx__idmap_get (&self->jobs, rec.corr)) {
                char text [320];
                snprintf (text, sizeof text, "malformed or duplicate request for task '%s'", task);
                zx__batch_add_reply (&self->replies, rec.corr, rec.attempt,
                                     ZX_STATUS_BAD_REQUEST, text, strlen (text));
            }
            else
            if (!s_relay (self, &rec, task,
                          (rec.flags & ZX_FLAG_FRAMED) ? msg->frame : NULL)) {
                const char *text = "worker out of memory";
                zx__batch_add_reply (&self->replies, rec.corr, rec.attempt,
                                     ZX_STATUS_TASK_ERROR, text, strlen (text));
            }
            continue;
        }
        zx_values_t *args = NULL;
        s_job_t *job = calloc (1, sizeof (s_job_t));
        if (!job || zx__values_decode (rec.args, rec.args_size, &args) != ZX_OK
        ||  zx__idmap_get (&self->jobs, rec.corr)) {
            char text [320];
            snprintf (text, sizeof text, job ? "malformed or duplicate request for task '%s'"
                                             : "worker out of memory for task '%s'", task);
            zx__batch_add_reply (&self->replies, rec.corr, rec.attempt,
                                 job ? ZX_STATUS_BAD_REQUEST : ZX_STATUS_TASK_ERROR,
                                 text, strlen (text));
            zx_values_destroy (&args);
            free (job);
            continue;
        }
        job->worker = self;
        job->corr = rec.corr;
        job->attempt = rec.attempt;
        job->generation = self->generation;
        job->framed_reply = rec.flags & ZX_FLAG_FRAMED_REPLY;
        job->future = zx_run_in_executor (self->loop, self->executor, task, args);
        if (!job->future || !zx__idmap_put (&self->jobs, rec.corr, job)) {
            zx_future_destroy (&job->future);
            free (job);
            const char *text = "worker out of memory";
            zx__batch_add_reply (&self->replies, rec.corr, rec.attempt, ZX_STATUS_TASK_ERROR,
                                 text, strlen (text));
            continue;
        }
        zx_future_add_done_callback (job->future, s_job_done, job);
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "malformed REQUEST batch from the broker: rest dropped");
    if (relay)
        zx__executor_flush (self->executor);    //  To the pool now, not next round
    if (self->replies.records && !self->flush_scheduled
    &&  zx_loop_call_soon (self->loop, s_flush, self) == ZX_OK)
        self->flush_scheduled = true;
}

static void
s_on_cancel (zx_worker_t *self, const zx__msg_t *msg)
{
    for (size_t i = 0; i < msg->id_count; i++) {
        s_job_t *job = zx__idmap_get (&self->jobs, zx__msg_cancel_id (msg, i));
        if (job && job->future)
            zx_future_cancel (job->future);     //  Its reply says cancelled
        else
        if (job && job->request)
            zx__executor_relay_stop (self->executor, job->request);
    }
}

static void
s_abandon_job (uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    s_job_t *job = (s_job_t *) value;
    if (job->request) {
        //  Its end frees it, maybe at once
        zx_executor_t *executor = job->worker->executor;
        job->abandoned = true;
        zx__executor_relay_stop (executor, job->request);
        return;
    }
    zx__future_remove_callback (job->future, s_job_done, job);
    zx_future_cancel (job->future);
    zx_future_destroy (&job->future);
    free (job);
}

//  Drops the connection: what ran for it is cancelled (the broker has
//  given up on it) and replies not yet sent are discarded.
static void
s_disconnect (zx_worker_t *self)
{
    if (!self->socket)
        return;
    self->generation++;
    zx__idmap_each (&self->jobs, s_abandon_job, NULL);
    zx__idmap_free (&self->jobs);
    zx__batch_clear (&self->replies);
    zx__loop_remove (self->loop, self->socket, -1);
    if (self->monitor) {
        //  Stop the events first: libzmq's I/O thread blocks on a monitor
        //  pipe nobody reads
        zmq_socket_monitor (self->socket, NULL, 0);
        zx__loop_remove (self->loop, zsock_resolve (self->monitor), -1);
        zsock_destroy (&self->monitor);
    }
    zsock_destroy (&self->dealer);
    self->socket = NULL;
}

//  With CURVE, a failed handshake is all a refused worker would otherwise
//  see of the broker (it just never answers): say why, once per kind.
static void
s_on_monitor (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_worker_t *self = (zx_worker_t *) arg;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    uint16_t failure = 0;
    //  Each event is two frames: event (2 bytes) and value (4), endpoint
    while (self->monitor
    &&     zmq_msg_recv (&frame, zsock_resolve (self->monitor), ZMQ_DONTWAIT) >= 0)
        if (zmq_msg_more (&frame) && zmq_msg_size (&frame) >= 2)
            memcpy (&failure, zmq_msg_data (&frame), sizeof failure);
    zmq_msg_close (&frame);
    if (!failure || failure == self->refused)
        return;
    self->refused = failure;
    if (failure == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        zx_log_error (self->log, "the broker at %s refused this worker's CURVE key: is its "
                      "public certificate in the broker's workers directory?", self->endpoint);
    else
        zx_log_error (self->log, "the CURVE handshake with the broker at %s failed "
                      "(a wrong server key?)", self->endpoint);
}

//  With CURVE: watches the new DEALER's handshake failures. Best effort.
static void
s_watch_handshakes (zx_worker_t *self)
{
    static atomic_uint serials;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://zexec-serve-monitor-%u",
              atomic_fetch_add (&serials, 1));
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor (self->socket, endpoint, events) != 0)
        return;
    self->monitor = zsock_new (ZMQ_PAIR);
    if (self->monitor) {
        zsock_set_rcvhwm (self->monitor, 0);
        if (zsock_connect (self->monitor, "%s", endpoint) == 0
        &&  zx__loop_add_socket (self->loop, zsock_resolve (self->monitor), s_on_monitor,
                                 self) == ZX_OK)
            return;
        zsock_destroy (&self->monitor);
    }
    zmq_socket_monitor (self->socket, NULL, 0);
}

static void
s_reconnect_later (zx_worker_t *self, const char *why)
{
    zx_log_warning (self->log, "%s: connecting again to %s in %d ms", why, self->endpoint,
                    self->backoff_ms);
    //  Say goodbye on the old connection, in case the broker is alive
    //  after all (it was only slow): it then forgets this identity at once
    //  instead of dealing it work until it notices the silence
    if (self->socket) {
        zx__send_disconnect (&self->route, ZX_BYE_NORMAL, "reconnecting");
        zsock_set_linger (self->dealer, 100);
    }
    s_disconnect (self);
    if (!self->connect_timer)
        self->connect_timer = zx_loop_call_later (self->loop, self->backoff_ms, s_connect, self);
    self->backoff_ms = self->backoff_ms * 2 > ZX_BACKOFF_MAX_MS ? ZX_BACKOFF_MAX_MS
                                                              : self->backoff_ms * 2;
}

static void
s_on_readable (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_worker_t *self = (zx_worker_t *) arg;
    zx__msg_t msg;
    int64_t started = zx__now_us ();
    for (int burst = 0; burst < ZX_RECV_BURST && self->socket; burst++) {
        if (burst > 0 && zx__now_us () - started > ZX_RECV_BURST_US)
            break;
        zx__recv_t rc = zx__recv_dealer_loop (self->socket, ZX_FACE_WORKER, &msg, self->log,
                                              &self->broker);
        if (rc == ZX_RECV_NONE)
            break;
        if (rc == ZX_RECV_TOO_MANY)
            continue;
        self->backoff_ms = ZX_BACKOFF_MIN_MS;
        if (!self->heard) {
            self->heard = true;
            zx_log_info (self->log, "the broker at %s answered: serving as %s", self->endpoint,
                         self->identity);
        }
        //  REQUEST and CANCEL must be exactly what the protocol defines
        bool exact = msg.ok && msg.extra == 0;
        bool bye = false;
        if (rc != ZX_RECV_OK)
            zx_log_warning (self->log, "malformed message from the broker: dropped");
        else
        if (msg.command == ZX_CMD_REQUEST && exact)
            s_on_request (self, &msg);
        else
        if (msg.command == ZX_CMD_CANCEL && exact)
            s_on_cancel (self, &msg);
        else
        if (msg.command == ZX_CMD_DISCONNECT)
            bye = true;
        else
        if (msg.command == ZX_CMD_HEARTBEAT)
            s_on_broker_heartbeat (self);
        else
            zx_log_warning (self->log, "unexpected command %d from the broker: dropped",
                            msg.command);
        zx__msg_close (&msg);
        if (bye) {
            s_reconnect_later (self, "the broker said goodbye");
            break;
        }
    }
}

//  The boot id is a UUID in text: 32 hex digits and four dashes
static bool
s_boot_id (uint8_t id [ZX_HOST_ID_SIZE])
{
    FILE *file = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (!file)
        return false;
    char text [64] = "";
    bool got = fgets (text, sizeof text, file) != NULL;
    fclose (file);
    size_t digits = 0;
    for (const char *c = text; got && *c && *c != '\n'; c++) {
        if (*c == '-')
            continue;
        if (!isxdigit ((unsigned char) *c) || digits == 2 * ZX_HOST_ID_SIZE)
            return false;
        int value = isdigit ((unsigned char) *c) ? *c - '0' : tolower (*c) - 'a' + 10;
        if (digits % 2 == 0)
            id [digits / 2] = (uint8_t) (value << 4);
        else
            id [digits / 2] |= (uint8_t) value;
        digits++;
    }
    return digits == 2 * ZX_HOST_ID_SIZE;
}

//  Fills ready's cpus and host with this process's: the CPUs it may run
//  on (sched_getaffinity) and the kernel's boot id. Leaves cpus 0 (no
//  host frame is sent) when either cannot be read.
static void
s_ready_set_host (zx__ready_t *ready)
{
    ready->cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity (0, sizeof set, &set) != 0 || !s_boot_id (ready->host))
        return;
    int cpus = CPU_COUNT (&set);
    ready->cpus = cpus > 0 ? (uint32_t) cpus : 0;
}

static void
s_connect (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_worker_t *self = (zx_worker_t *) arg;
    self->connect_timer = 0;
    char hostname [64] = "host";
    gethostname (hostname, sizeof hostname - 1);
    snprintf (self->identity, sizeof self->identity, "%s.%d.%08x.%u", hostname,
              (int) getpid (), self->nonce, self->generation);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        s_reconnect_later (self, "cannot create a socket");
        return;
    }
    zsock_set_identity (self->dealer, self->identity);
    if (self->cert) {
        zcert_apply (self->cert, self->dealer);
        zsock_set_curve_serverkey (self->dealer, self->server_key);
    }
    zsock_set_rcvhwm (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 0);
    zsock_set_linger (self->dealer, 0);
    if (zsock_connect (self->dealer, "%s", self->endpoint) != 0) {
        zsock_destroy (&self->dealer);
        self->connect_timer = zx_loop_call_later (self->loop, self->backoff_ms, s_connect, self);
        return;
    }
    self->socket = zsock_resolve (self->dealer);
    self->route = (zx__route_t) { self->socket, ZX_FACE_WORKER, ZMQ_DONTWAIT, NULL, 0,
                                  NULL, NULL };
    zx__loop_add_socket (self->loop, self->socket, s_on_readable, self);
    if (self->cert)
        s_watch_handshakes (self);
    self->broker.heard_us = zx__now_us ();
    self->heard = false;
    //  No task budget: its pool replaces its own workers
    zx__ready_t ready = { .credits = self->credits, .pid = (uint32_t) getpid (),
                          .parallel = self->parallel, .features = ZX_FEATURE_FRAMED };
    s_ready_set_host (&ready);
    zx__send_ready (&self->route, self->service, &ready, self->identity);
    self->sent_us = zx__now_us ();
    //  Our heartbeat interval at once, so that a broker with a shorter one
    //  waits for ours before it calls us silent
    s_send_heartbeat (self);
    //  libzmq connects in the background: nothing is known to be there yet
    zx_log_info (self->log, "READY sent to %s as %s for service '%s'", self->endpoint,
                 self->identity, self->service);
}

//  Once an interval and a bit after our last message (the broker's
//  heartbeat, answered, moves it on): the broker's silence is judged, and a
//  heartbeat goes when we have been quiet for most of an interval (any
//  message counts for the broker). A tick that comes more than an interval
//  late (this process was stopped or starved of CPU) judges nobody: what
//  the broker sent meanwhile may not have been read yet.
static void
s_on_tick (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_worker_t *self = (zx_worker_t *) arg;
    self->tick_timer = 0;
    int64_t interval_us = (int64_t) self->heartbeat_ms * 1000;
    int64_t slack_us = (int64_t) ZX_TICK_SLACK_MS (self->heartbeat_ms) * 1000;
    int64_t now = zx__now_us ();
    bool stalled = now - self->tick_due_us > interval_us;
    if (!self->socket) {
        s_tick_at (self, now + interval_us);
        return;
    }
    int64_t limit = zx__silence_us (self->heartbeat_ms, self->liveness,
                                    self->broker.heartbeat_ms);
    //  On a new connection the broker has yet to accept it, read READY
    //  and answer, which a loaded broker may take longer than the
    //  liveness to do; connecting again would only start it over. So it
    //  waits ten times as long for the first word, as a coordinator
    //  waits for a broker it lost (READY stays queued meanwhile)
    if (!self->heard)
        limit *= 10;
    if (stalled) {
        zx_log_info (self->log, "worker stalled (its tick came %lld ms late): the broker gets "
                     "one more heartbeat interval", (long long) (now - self->tick_due_us) / 1000);
        //  Counted from now, the broker has until the next tick and one more
        if (self->broker.heard_us < now - limit + interval_us)
            self->broker.heard_us = now - limit + interval_us;
    }
    if (now - self->broker.heard_us > limit) {
        //  What the broker sent while this loop was busy elsewhere (or the
        //  process had no CPU) is waiting in the socket: read it before
        //  calling the broker silent, as the broker and coordinators do
        s_on_readable (self->loop, self);
        if (!self->socket) {
            s_tick_at (self, now + interval_us);
            return;
        }
    }
    int64_t silent = now - self->broker.heard_us;
    if (silent > limit) {
        char why [128];
        snprintf (why, sizeof why, "broker not heard from for %lld ms", (long long) silent / 1000);
        s_reconnect_later (self, why);
        s_tick_at (self, now + interval_us);
        return;
    }
    if (now - self->sent_us >= interval_us - slack_us)
        s_send_heartbeat (self);
    int64_t due = self->sent_us + interval_us + slack_us;
    s_tick_at (self, due > now ? due : now + interval_us);
}

//  A routing id must not repeat across process starts: a restarted
//  container runs the worker as the same PID on the same host, and a
//  broker would take its READY for the old connection's. Random where the
//  kernel gives it, else the clock and an address.
static uint32_t
s_nonce (const void *salt)
{
    uint32_t nonce = 0;
    if (getrandom (&nonce, sizeof nonce, GRND_NONBLOCK) != (ssize_t) sizeof nonce) {
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        nonce = (uint32_t) now.tv_nsec ^ (uint32_t) now.tv_sec ^ (uint32_t) (uintptr_t) salt;
    }
    return nonce;
}

zx_worker_t *
zx_worker_new (zx_loop_t *loop, const char *endpoint, zx_executor_t *executor,
               const zx_executor_opts_t *opts)
{
    zx_executor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    const char *service = opts->service ? opts->service : "default";
    if (!loop || !endpoint || !executor || !*service || strlen (service) > 255
    ||  opts->window < 0 || opts->heartbeat_ms < 0 || opts->liveness < 0)
        return NULL;
    zx__czmq_quiet ();
    zx_worker_t *self = calloc (1, sizeof (zx_worker_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->executor = executor;
    self->endpoint = strdup (endpoint);
    self->service = strdup (service);
    size_t workers = zx_executor_worker_pids (executor, NULL, 0);
    self->parallel = workers ? (uint32_t) workers : 1;
    self->credits = opts->window ? (uint32_t) opts->window
                                 : (uint32_t) (256 * (workers ? workers : 1));
    self->heartbeat_ms = opts->heartbeat_ms ? opts->heartbeat_ms : 1000;
    self->liveness = opts->liveness ? opts->liveness : 3;
    self->backoff_ms = ZX_BACKOFF_MIN_MS;
    self->nonce = s_nonce (self);
    self->log = zx_log_get ("zexec.serve");
    if (!self->endpoint || !self->service) {
        zx_worker_destroy (&self);
        return NULL;
    }
    const char *server_key = opts->curve_server_key, *cert = opts->curve_cert;
    if (!server_key && !cert) {
        server_key = getenv ("ZEXEC_SERVER_KEY");
        cert = getenv ("ZEXEC_CERT");
    }
    if (server_key || cert) {
        char why [600];
        if (!server_key || !cert)
            snprintf (why, sizeof why, "CURVE needs both the broker's public key and this "
                      "worker's certificate");
        if (!server_key || !cert || !zx__curve_usable (why, sizeof why)
        ||  !zx__curve_public_key (server_key, self->server_key, why, sizeof why)
        ||  !(self->cert = zx__curve_load_secret (cert, why, sizeof why))) {
            zx_log_error (self->log, "cannot use CURVE to the broker at %s: %s", endpoint, why);
            zx_worker_destroy (&self);
            return NULL;
        }
    }
    self->actors = zhashx_new ();
    if (!self->actors) {
        zx_worker_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->actors, (zhashx_destructor_fn *) zstr_free);
    zx__executor_on_relay_started (executor, s_relay_started);
    s_connect (loop, self);
    if (!self->socket) {
        //  zmq_connect fails at once only on an endpoint it can never
        //  reach (bad syntax or transport): say so rather than retry
        zx_worker_destroy (&self);
        return NULL;
    }
    s_tick_at (self, zx__now_us () + (int64_t) self->heartbeat_ms * 1000);
    return self;
}

void
zx_worker_destroy (zx_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_worker_t *self = *self_p;
    zx__executor_on_relay_started (self->executor, NULL);
    if (self->socket) {
        s_flush (self->loop, self);
        zx__send_disconnect (&self->route, ZX_BYE_NORMAL, "bye");
        zsock_set_linger (self->dealer, 500);
    }
    s_disconnect (self);
    if (self->tick_timer)
        zx_loop_cancel_timer (self->loop, self->tick_timer);
    if (self->connect_timer)
        zx_loop_cancel_timer (self->loop, self->connect_timer);
    zx__batch_free (&self->replies);
    //  A flush still queued would run on a freed worker
    zx__loop_forget_calls (self->loop, s_flush, self);
    zhashx_destroy (&self->actors);
    zcert_destroy (&self->cert);
    free (self->endpoint);
    free (self->service);
    free (self);
    *self_p = NULL;
}

bool
zx_worker_connected (const zx_worker_t *self)
{
    return self->socket && zx__now_us () - self->broker.heard_us
           <= zx__silence_us (self->heartbeat_ms, self->liveness, self->broker.heartbeat_ms);
}

//  --------------------------------------------------------------------
//  zx_serve: the whole worker program in one call

static int s_signal_fd = -1;

static void
s_on_signal (zx_loop_t *loop, void *arg)
{
    (void) arg;
    struct signalfd_siginfo info;
    if (read (s_signal_fd, &info, sizeof info) < 0)
        return;
    zx_loop_stop (loop);
}

zx_err_t
zx_serve (const char *endpoint, bool processes, const zx_executor_opts_t *pool_opts,
          const zx_executor_opts_t *serve_opts)
{
    if (!endpoint)
        return ZX_EINVAL;
    sigset_t signals, previous;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, &previous);
    s_signal_fd = signalfd (-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = processes ? zx_process_pool_new (pool_opts)
                                    : zx_thread_pool_new (pool_opts);
    zx_worker_t *worker = loop && pool ? zx_worker_new (loop, endpoint, pool, serve_opts) : NULL;
    zx_err_t rc = worker && s_signal_fd >= 0 ? ZX_OK : ZX_EINVAL;
    if (rc == ZX_OK) {
        zx_log_info (zx_log_get ("zexec.serve"), "serving %s with %zu %s", endpoint,
                     zx_executor_worker_pids (pool, NULL, 0), processes ? "processes" : "threads");
        zx__loop_add_fd (loop, s_signal_fd, s_on_signal, NULL);
        zx_loop_run_forever (loop);
    }
    zx_worker_destroy (&worker);
    if (pool)
        zx_executor_shutdown (pool, false, true);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    if (s_signal_fd >= 0)
        close (s_signal_fd);
    s_signal_fd = -1;
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    return rc;
}
