/*  zx_client.c - the coordinator's side of a broker.

    DESIGN: every submission gets a correlation id and an entry in a table;
    requests queue in an outgoing batch that one loop callback sends, so a
    burst of submissions travels as one message. Replies are matched by id
    and complete their future once; unknown ids (late replies to cancelled
    or failed work) are dropped. While anything is outstanding the client
    sends a heartbeat each interval and watches for the broker's; after
    `liveness` silent intervals the broker is lost (below), so no future
    waits forever on a dead broker. The
    DEALER reconnects by itself, so later submissions go through once the
    broker is back. A reconnection is a new peer to the broker's ROUTER
    (and may be a new broker): it never answers what was outstanding,
    yet its heartbeats would keep silence from showing. So a monitor on
    the DEALER fails what is outstanding as soon as the connection drops.
    With CURVE the same monitor reports a handshake the broker refused
    (an unknown key, a wrong server key), which fails what is outstanding
    with a message that says so instead of waiting for the liveness.

    A lost broker (that drop, or the silence) is survived by what
    allows retries: a request with retries left keeps a copy of its
    arguments, and when the link is lost it is sent again at once under a
    new correlation id, with one retry less. The DEALER keeps it (no
    ZMQ_IMMEDIATE) until it has connected again, to a restarted broker at
    the same endpoint; a copy of the old request that never left reaches
    that broker too, and its reply is dropped with its old id, so a task
    may run twice, which is what allowing retries means. What allows none
    fails at once as before: what a broker held is unknown after it
    restarts. Until the broker is heard from again (for at most the
    reconnect window) silence does not count, new submissions queue the
    same way (bounded by max_queue), and when the window passes all that
    is outstanding fails.                                               */

#define _GNU_SOURCE
#include "zx_client.h"
#include "zx_executor.h"
#include "zx_curve.h"
#include "zx_future.h"
#include "zx_idmap.h"
#include "zx_loop.h"
#include "zx_proto.h"
#include "zx_task.h"
#include "zx_values.h"

#include <czmq.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zx__client_t *client;
    zx_future_t *future;
    uint64_t corr;
    uint8_t flags;              //  As first sent: low 4 bits, retries allowed
    uint8_t resent;             //  Times sent again after a lost connection
    uint8_t name_len;
    size_t args_size;           //  Kept only when retries are allowed
    uint8_t *args;              //  After the name, in the same allocation
    char task [];
} s_entry_t;

struct zx__client {
    zsock_t *dealer;
    void *socket;
    zx__route_t route;          //  To the broker, over the DEALER
    zsock_t *monitor;           //  PAIR: the DEALER's disconnect events
    char *endpoint;
    char *service;
    zx_loop_t *loop;
    int heartbeat_ms;
    int liveness;
    uint64_t next_corr;
    zx__idmap_t entries;
    zx__batch_t out;
    bool flush_scheduled;
    zx__peer_t broker;          //  When we last heard it, its heartbeat interval
    int64_t plain_flush_us;     //  When plain code last sent the batch
    bool silence_from_send;     //  Start the silence clock at the next send
    uint64_t timer;
    int64_t tick_due_us;        //  When the tick timer is due
    void (*idle) (void *owner);
    size_t idle_at;             //  Outstanding requests that are not work (parked)
    void *owner;
    zx_logger_t *log;
    bool curve;
    bool refusal_logged;
    int reconnect_ms;           //  The reconnect window; negative: none
    int64_t lost_us;            //  When the link was lost, 0 while it is up
    bool await_connect;         //  It dropped: the broker is back only after
                                //  the DEALER has connected again
    size_t resent;              //  Requests sent again since then
};

zx__client_t *
zx__client_new (const char *endpoint, const char *service, int heartbeat_ms,
                int liveness, void (*idle) (void *owner), void *owner)
{
    return zx__client_new_secure (endpoint, service, heartbeat_ms, liveness, NULL, NULL,
                                  idle, owner);
}

zx__client_t *
zx__client_new_secure (const char *endpoint, const char *service, int heartbeat_ms,
                       int liveness, const char *server_key, const char *cert,
                       void (*idle) (void *owner), void *owner)
{
    if (!endpoint || (service && (!*service || strlen (service) > 255)))
        return NULL;
    zx__client_t *self = calloc (1, sizeof (zx__client_t));
    if (!self)
        return NULL;
    self->endpoint = strdup (endpoint);
    self->service = strdup (service ? service : "default");
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 1000;
    self->liveness = liveness > 0 ? liveness : 3;
    self->reconnect_ms = 10 * self->heartbeat_ms * self->liveness;
    self->next_corr = 1;
    self->idle = idle;
    self->owner = owner;
    self->log = zx_log_get ("zexec.remote");
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->endpoint || !self->service || !self->dealer)
        goto fail;
    zsock_set_rcvhwm (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 0);
    zsock_set_linger (self->dealer, 500);
    self->socket = zsock_resolve (self->dealer);
    self->route = (zx__route_t) { self->socket, ZX_FACE_CLIENT, ZMQ_DONTWAIT, NULL, 0,
                                  NULL, NULL };
    if (!server_key && !cert) {
        server_key = getenv ("ZEXEC_SERVER_KEY");
        cert = getenv ("ZEXEC_CERT");
    }
    char why [600];
    if (zx__curve_client (self->dealer, server_key, cert, why, sizeof why) != ZX_OK) {
        zx_log_error (self->log, "cannot use CURVE to the broker at %s: %s", endpoint, why);
        goto fail;
    }
    self->curve = server_key != NULL;
    //  A serial, not the address: a freed client's name may linger a while
    static atomic_uint serials;
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://zexec-client-monitor-%u",
              atomic_fetch_add (&serials, 1));
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED;
    if (self->curve)
        events |= ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    //  libzmq's I/O thread sends monitor events with a blocking send: a
    //  full pipe would stall every socket of the context (a refused
    //  handshake repeats ten times a second), so the pipe is unbounded
    if (zmq_socket_monitor (self->socket, monitor, events) != 0
    ||  !(self->monitor = zsock_new (ZMQ_PAIR)))
        goto fail;
    zsock_set_rcvhwm (self->monitor, 0);
    if (zsock_connect (self->monitor, "%s", monitor) != 0)
        goto fail;
    if (zsock_connect (self->dealer, "%s", endpoint) != 0)
        goto fail;
    return self;

fail:
    zx__client_destroy (&self);
    return NULL;
}

//  Ends entry's future with code and payload, and frees entry. A result
//  is copied out of what it came in, framed or not: held by its future,
//  a frame would keep a buffer of libzmq's I/O thread that the next
//  message cannot reuse, and fresh pages cost more than the copy
//  (docs/PERFORMANCE.md, payloads).
static void
s_finish (zx__client_t *self, s_entry_t *entry, zx_err_t code, const void *payload, size_t size)
{
    zx_future_t *future = entry->future;
    if (code == ZX_OK) {
        zx_values_t *values = NULL;
        if (zx__values_decode (payload, size, &values) == ZX_OK)
            zx_future_set_result (future, &values);
        else
            zx_future_set_error (future, ZX_EPROTO, "malformed result from the broker");
    }
    else
    if (code == ZX_ECANCELLED)
        zx__future_set_cancelled (future, "cancelled");
    else {
        zx__executor_error_info (future, code, payload, size);
        zx__future_fail_owned (future, code, strndup ((const char *) payload, size));
    }
    zx_future_destroy (&future);
    free (entry);
    if (self->entries.live <= self->idle_at && self->idle)
        self->idle (self->owner);
}

typedef struct {
    s_entry_t **entries;
    size_t count;
} s_collect_t;

static void
s_collect (uint64_t id, void *value, void *arg)
{
    (void) id;
    s_collect_t *collect = (s_collect_t *) arg;
    collect->entries [collect->count++] = (s_entry_t *) value;
}

//  Fails everything outstanding with code and a message naming the task.
static void
s_fail_all (zx__client_t *self, zx_err_t code, const char *cause)
{
    s_collect_t collect = { calloc (self->entries.live + 1, sizeof (s_entry_t *)), 0 };
    if (!collect.entries)
        return;
    zx__idmap_each (&self->entries, s_collect, &collect);
    for (size_t i = 0; i < collect.count; i++) {
        s_entry_t *entry = collect.entries [i];
        zx__idmap_take (&self->entries, entry->corr);
        char text [512];
        snprintf (text, sizeof text, "%s; task '%s' was lost", cause, entry->task);
        s_finish (self, entry, code, text, strlen (text));
    }
    free (collect.entries);
    zx__batch_clear (&self->out);
}

static void s_flush (zx_loop_t *loop, void *arg);

static int
s_by_corr (const void *a, const void *b)
{
    uint64_t x = (*(s_entry_t *const *) a)->corr, y = (*(s_entry_t *const *) b)->corr;
    return x < y ? -1 : x > y;
}

//  The link to the broker is lost (cause): what has retries left is sent
//  again under a new id, with one retry less, to be delivered when the
//  DEALER connects again; the rest fails as s_fail_all does.
static void
s_lost (zx__client_t *self, const char *cause)
{
    s_collect_t collect = { calloc (self->entries.live + 1, sizeof (s_entry_t *)), 0 };
    if (!collect.entries)
        return;
    zx__idmap_each (&self->entries, s_collect, &collect);
    qsort (collect.entries, collect.count, sizeof (s_entry_t *), s_by_corr);
    //  What was batched and not sent is lost with the rest, or goes again
    zx__batch_clear (&self->out);
    size_t kept = 0, failed = 0;
    for (size_t i = 0; i < collect.count; i++) {
        s_entry_t *entry = collect.entries [i];
        zx__idmap_take (&self->entries, entry->corr);
        uint8_t retries = entry->flags & ZX_FLAG_RETRIES;
        if (self->reconnect_ms >= 0 && entry->args && entry->resent < retries) {
            entry->resent++;
            entry->corr = self->next_corr++;
            uint8_t flags = (uint8_t) ((entry->flags & ~ZX_FLAG_RETRIES)
                                       | (retries - entry->resent));
            if (zx__idmap_put (&self->entries, entry->corr, entry)
            &&  zx__batch_add_request (&self->out, entry->corr, 1, flags, entry->task,
                                       entry->name_len, entry->args, entry->args_size) == ZX_OK) {
                kept++;
                continue;
            }
            zx__idmap_take (&self->entries, entry->corr);
        }
        char text [512];
        snprintf (text, sizeof text, "%s; task '%s' was lost", cause, entry->task);
        s_finish (self, entry, ZX_EWORKER_LOST, text, strlen (text));
        failed++;
    }
    free (collect.entries);
    if (kept == 0) {
        zx_log_warning (self->log, "%s: failing %zu tasks", cause, failed);
        return;
    }
    if (!self->lost_us)
        self->lost_us = zx__now_us ();
    self->resent += kept;
    zx_log_warning (self->log, "%s: failing %zu tasks that allow no more retries; sending %zu "
                    "again, to wait up to %d ms for the broker", cause, failed, kept,
                    self->reconnect_ms);
    if (self->loop && !self->flush_scheduled
    &&  zx_loop_call_soon (self->loop, s_flush, self) == ZX_OK)
        self->flush_scheduled = true;
}

void
zx__client_set_reconnect (zx__client_t *self, int reconnect_ms)
{
    if (reconnect_ms != 0)
        self->reconnect_ms = reconnect_ms;
}

void
zx__client_set_idle_at (zx__client_t *self, size_t parked)
{
    self->idle_at = parked;
}

void
zx__client_destroy (zx__client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__client_t *self = *self_p;
    if (self->loop) {
        zx__loop_remove (self->loop, self->socket, -1);
        if (self->monitor)
            zx__loop_remove (self->loop, zsock_resolve (self->monitor), -1);
        if (self->timer)
            zx_loop_cancel_timer (self->loop, self->timer);
    }
    self->idle = NULL;
    if (self->entries.live)
        s_fail_all (self, ZX_ESHUTDOWN, "executor shut down before the reply came");
    if (self->socket)
        zx__send_disconnect (&self->route, ZX_BYE_NORMAL, NULL);
    //  The monitor stops first: a lingering DEALER still makes events, and
    //  libzmq's I/O thread blocks sending one to a monitor nobody reads
    if (self->socket && self->monitor)
        zmq_socket_monitor (self->socket, NULL, 0);
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->monitor);
    zx__idmap_free (&self->entries);
    zx__batch_free (&self->out);
    //  A flush still queued would run on a freed client. The flag is no
    //  guide: a direct s_flush clears it while the queued call stays
    if (self->loop)
        zx__loop_forget_calls (self->loop, s_flush, self);
    free (self->endpoint);
    free (self->service);
    free (self);
    *self_p = NULL;
}

//  A message that could not go is dropped, with a log line
static void
s_sent (zx__client_t *self, zx_err_t rc)
{
    if (rc != ZX_OK)
        zx_log_warning (self->log, "cannot send to the broker at %s: %s",
                        self->endpoint, zmq_strerror (errno));
}

//  A HEARTBEAT announces our interval (see zx__heartbeat_learn)
static void
s_send_heartbeat (zx__client_t *self)
{
    s_sent (self, zx__send_heartbeat (&self->route, (uint32_t) self->heartbeat_ms));
}

static void
s_flush (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__client_t *self = (zx__client_t *) arg;
    self->flush_scheduled = false;
    if (self->out.records == 0)
        return;
    s_sent (self, zx__send_request_batch (&self->route, self->service, &self->out));
    zx__batch_clear (&self->out);
    if (self->silence_from_send) {
        //  The broker could not have answered before it was asked
        self->broker.heard_us = zx__now_us ();
        self->silence_from_send = false;
        //  First work after a quiet spell: tell the broker (perhaps a new
        //  one) our heartbeat interval now, not a whole interval later
        s_send_heartbeat (self);
    }
}

//  Sends one request whose arguments are big as a framed REQUEST, after
//  what waits in the batch (PROTOCOL.md 23): the broker moves the frame on
//  to a worker without copying it, and answers framed too.
//  The frame is args' own buffer, handed to libzmq, when args lets it go
//  (zx__values_release); a copy otherwise. Without memory for the frame
//  the task fails at once with ZX_ENOMEM: nothing was sent for it.
static void
s_send_framed (zx__client_t *self, s_entry_t *entry, uint8_t flags, zx_values_t *args)
{
    s_flush (self->loop, self);
    zmq_msg_t frame;
    const void *data;
    size_t size;
    void *buffer = zx__values_release (args, &data, &size);
    bool framed = buffer
                ? zmq_msg_init_data (&frame, (void *) data, size, zx__values_free_released,
                                     buffer) == 0
                : zmq_msg_init_size (&frame, size) == 0;
    if (!framed) {
        zx__values_free_released (NULL, buffer);
        zx_log_warning (self->log, "out of memory sending task '%s'", entry->task);
        zx__idmap_take (&self->entries, entry->corr);
        const char *text = "out of memory: the task's arguments could not be sent";
        s_finish (self, entry, ZX_ENOMEM, text, strlen (text));
        return;
    }
    if (!buffer)
        memcpy (zmq_msg_data (&frame), data, size);
    s_sent (self, zx__send_request_framed (&self->route, self->service, entry->corr, 1,
                                           flags | ZX_FLAG_FRAMED_REPLY, entry->task,
                                           entry->name_len, &frame));
    zmq_msg_close (&frame);
    if (self->silence_from_send) {
        self->broker.heard_us = zx__now_us ();
        self->silence_from_send = false;
        s_send_heartbeat (self);
    }
}

static void
s_on_reply (zx__client_t *self, const zx__msg_t *msg)
{
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__reply_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_reply (&cursor, end, &rec)) == ZX_OK) {
        zx__msg_reply_payload (msg, &rec);
        if (rec.status == ZX_STATUS_STARTED) {
            //  Not an end: a worker has started the task
            s_entry_t *entry = zx__idmap_get (&self->entries, rec.corr);
            if (entry)
                zx__future_set_running (entry->future);
            continue;
        }
        s_entry_t *entry = zx__idmap_take (&self->entries, rec.corr);
        if (!entry)
            continue;                   //  Late: already failed or cancelled
        zx_err_t code = zx__status_to_err (rec.status);
        if (code == ZX_EPROTO && rec.status != ZX_STATUS_BAD_REQUEST) {
            const char *text = "the broker sent an unknown reply status";
            s_finish (self, entry, ZX_EPROTO, text, strlen (text));
        }
        else
            s_finish (self, entry, code, rec.payload, rec.payload_size);
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "malformed REPLY from the broker at %s: rest dropped",
                        self->endpoint);
}

//  The broker says it is done with this coordinator: it shut down after
//  answering what it held, or it dropped us (a connection so full that
//  its answers could not go out, or a silence) and forgot our tasks.
//  Nothing outstanding will be answered: as for a lost connection, what
//  may be retried goes again (to a broker that now takes us as new), the
//  rest fails with the broker's word.
static void
s_on_disconnect (zx__client_t *self, const zx__msg_t *msg)
{
    if (self->entries.live == 0)
        return;
    char text [256];
    zx__label (text, sizeof text, msg->text, msg->text_size);
    char cause [400];
    if (strncmp (text, "dropped: ", 9) == 0)
        snprintf (cause, sizeof cause, "the broker at %s dropped this coordinator (%s)",
                  self->endpoint, text + 9);
    else
        snprintf (cause, sizeof cause, "the broker at %s said goodbye%s%s%s", self->endpoint,
                  *text ? " (" : "", text, *text ? ")" : "");
    s_lost (self, cause);
}

static void
s_on_readable (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__client_t *self = (zx__client_t *) arg;
    zx__msg_t msg;
    int64_t started = zx__now_us ();
    for (int burst = 0; burst < ZX_RECV_BURST; burst++) {
        if (burst > 0 && zx__now_us () - started > ZX_RECV_BURST_US)
            break;
        zx__recv_t rc = zx__recv_dealer_loop (self->socket, ZX_FACE_CLIENT, &msg, self->log,
                                              &self->broker);
        if (rc == ZX_RECV_NONE)
            break;
        if (rc == ZX_RECV_TOO_MANY)
            continue;
        if (rc == ZX_RECV_OK && self->lost_us && !self->await_connect) {
            zx_log_info (self->log, "the broker at %s is back after %lld ms: %zu requests "
                         "were sent again", self->endpoint,
                         (long long) (zx__now_us () - self->lost_us) / 1000, self->resent);
            self->lost_us = 0;
            self->resent = 0;
        }
        if (rc != ZX_RECV_OK)
            zx_log_warning (self->log, "malformed message from the broker at %s: dropped",
                            self->endpoint);
        else
        if (msg.command == ZX_CMD_REPLY && msg.ok && msg.extra == 0)
            s_on_reply (self, &msg);
        else
        if (msg.command == ZX_CMD_DISCONNECT)
            s_on_disconnect (self, &msg);
        else
        if (msg.command != ZX_CMD_HEARTBEAT)
            zx_log_warning (self->log, "unexpected command %d from the broker: dropped",
                            msg.command);
        zx__msg_close (&msg);
    }
}

//  The connection to the broker dropped: nothing outstanding will be
//  answered on the next one.
static void
s_on_monitor (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__client_t *self = (zx__client_t *) arg;
    bool dropped = false, connected = false;
    uint16_t refused = 0;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    //  Each event is two frames: event (2 bytes) and value (4), endpoint
    while (zmq_msg_recv (&frame, zsock_resolve (self->monitor), ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_more (&frame) && zmq_msg_size (&frame) >= 2) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
            dropped |= event == ZMQ_EVENT_DISCONNECTED;
            //  The last word, as the events come in order: up again
            if (event == ZMQ_EVENT_CONNECTED || event == ZMQ_EVENT_DISCONNECTED)
                connected = event == ZMQ_EVENT_CONNECTED;
            if (event != ZMQ_EVENT_DISCONNECTED && event != ZMQ_EVENT_CONNECTED)
                refused = event;
        }
    }
    zmq_msg_close (&frame);
    if (refused) {
        char cause [400];
        if (refused == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            snprintf (cause, sizeof cause, "the broker at %s refused this coordinator's CURVE "
                      "key", self->endpoint);
        else
            snprintf (cause, sizeof cause, "the CURVE handshake with the broker at %s failed "
                      "(a wrong server key?)", self->endpoint);
        if (!self->refusal_logged)
            zx_log_error (self->log, "%s", cause);
        self->refusal_logged = true;
        if (self->entries.live)
            s_fail_all (self, ZX_EPROTO, cause);
        return;
    }
    if (dropped && self->entries.live) {
        char cause [400];
        snprintf (cause, sizeof cause, "connection to the broker at %s lost", self->endpoint);
        s_lost (self, cause);
        //  What still comes in from the dead connection is no sign that
        //  the broker is back: only what comes after a new one
        self->await_connect = self->lost_us && !connected;
    }
    else
    if (connected)
        self->await_connect = false;
}

static void
s_on_tick (zx_loop_t *loop, void *arg)
{
    zx__client_t *self = (zx__client_t *) arg;
    int64_t now = zx__now_us ();
    //  A tick more than an interval late: this process was stopped or
    //  starved of CPU, and what the broker sent may not have been read yet
    //  (libzmq's I/O thread starved too): the broker gets one more interval
    int64_t late_us = self->tick_due_us ? now - self->tick_due_us : 0;
    bool stalled = late_us > self->heartbeat_ms * 1000LL;
    self->tick_due_us = now + self->heartbeat_ms * 1000LL;
    self->timer = zx_loop_call_later (loop, self->heartbeat_ms, s_on_tick, self);
    if (self->entries.live == 0)
        return;
    if (stalled && !self->lost_us) {
        int64_t limit = zx__silence_us (self->heartbeat_ms, self->liveness,
                                        self->broker.heartbeat_ms);
        zx_log_info (self->log, "coordinator stalled (its tick came %lld ms late): the broker "
                     "at %s gets one more heartbeat interval",
                     (long long) late_us / 1000,
                     self->endpoint);
        if (self->broker.heard_us < now - limit + self->heartbeat_ms * 1000LL)
            self->broker.heard_us = now - limit + self->heartbeat_ms * 1000LL;
    }
    //  What the broker sent while this loop was busy elsewhere is waiting
    //  in the socket: read it before calling the broker silent
    s_on_readable (loop, self);
    if (self->entries.live == 0) {
        self->lost_us = 0;
        self->await_connect = false;
        return;
    }
    if (self->lost_us) {
        //  Waiting for the broker to come back: silence is expected
        int64_t gone_ms = (zx__now_us () - self->lost_us) / 1000;
        if (gone_ms > self->reconnect_ms) {
            char cause [400];
            snprintf (cause, sizeof cause, "connection to the broker at %s lost and not back "
                      "within %d ms", self->endpoint, self->reconnect_ms);
            zx_log_warning (self->log, "%s: failing %zu tasks", cause, self->entries.live);
            self->lost_us = 0;
            self->await_connect = false;
            s_fail_all (self, ZX_EWORKER_LOST, cause);
            return;
        }
        s_send_heartbeat (self);
        return;
    }
    int64_t silent_us = zx__now_us () - self->broker.heard_us;
    if (silent_us > zx__silence_us (self->heartbeat_ms, self->liveness,
                                    self->broker.heartbeat_ms)) {
        char cause [400];
        snprintf (cause, sizeof cause, "broker at %s not heard from for %lld ms",
                  self->endpoint, (long long) silent_us / 1000);
        s_lost (self, cause);
        return;
    }
    s_send_heartbeat (self);
}

zx_err_t
zx__client_attach (zx__client_t *self, zx_loop_t *loop)
{
    self->loop = loop;
    zx_err_t rc = zx__loop_add_socket (loop, self->socket, s_on_readable, self);
    if (rc == ZX_OK)
        rc = zx__loop_add_socket (loop, zsock_resolve (self->monitor), s_on_monitor, self);
    self->tick_due_us = zx__now_us () + self->heartbeat_ms * 1000LL;
    self->timer = zx_loop_call_later (loop, self->heartbeat_ms, s_on_tick, self);
    return rc;
}

//  A future was cancelled: forget it here and tell the broker, which
//  withdraws the task or lets its worker skip it.
static void
s_cancel (zx_future_t *future, void *arg)
{
    (void) future;
    s_entry_t *entry = (s_entry_t *) arg;
    zx__client_t *self = entry->client;
    if (zx__idmap_take (&self->entries, entry->corr) != entry)
        return;
    //  The request may still be in the outgoing batch: send it first, so
    //  the broker sees the cancel after it
    s_flush (self->loop, self);
    s_sent (self, zx__send_cancel (&self->route, &entry->corr, 1));
    const char *text = "cancelled";
    s_finish (self, entry, ZX_ECANCELLED, text, strlen (text));
}

void
zx__client_submit (zx__client_t *self, zx_future_t *future, const char *task, zx_values_t *args,
                   uint8_t flags)
{
    zx__client_submit_to (self, future, task, NULL, args, flags);
}

void
zx__client_submit_to (zx__client_t *self, zx_future_t *future, const char *task,
                      const char *target, zx_values_t *args, uint8_t flags)
{
    size_t name_len = task ? strlen (task) : 0;
    size_t size = 0;
    const void *data = args ? zx__values_data (args, &size) : "";
    s_entry_t *entry = NULL;
    //  A target goes before the arguments: its length octet, its bytes
    uint8_t *targeted = NULL;
    size_t target_len = target ? strlen (target) : 0;
    if (target && target_len >= 1 && target_len <= 255
    &&  (targeted = malloc (1 + target_len + size))) {
        targeted [0] = (uint8_t) target_len;
        memcpy (targeted + 1, target, target_len);
        if (size)
            memcpy (targeted + 1 + target_len, data, size);
        data = targeted;
        size += 1 + target_len;
        flags = (uint8_t) ((flags & ~ZX_FLAG_RETRIES) | ZX_FLAG_TARGET);
    }
    if (name_len == 0 || name_len > 255)
        zx_future_set_error (future, ZX_EINVAL, "bad task name: 1 to 255 bytes");
    else
    if (target && (target_len == 0 || target_len > 255))
        zx_future_set_error (future, ZX_EINVAL, "bad target worker: 1 to 255 bytes");
    else
    if (target && !targeted)
        zx_future_set_error (future, ZX_ENOMEM, "out of memory");
    else
    if (!(entry = malloc (sizeof (s_entry_t) + name_len + 1
                          + ((flags & ZX_FLAG_RETRIES) ? size : 0))))
        zx_future_set_error (future, ZX_ENOMEM, "out of memory");
    else {
        entry->client = self;
        entry->future = zx__future_ref (future);
        entry->corr = self->next_corr++;
        entry->flags = flags;
        entry->resent = 0;
        entry->name_len = (uint8_t) name_len;
        memcpy (entry->task, task, name_len + 1);
        //  A request that may be retried can be sent again after a lost
        //  connection: it keeps its arguments
        entry->args = (flags & ZX_FLAG_RETRIES) ? (uint8_t *) entry->task + name_len + 1 : NULL;
        entry->args_size = entry->args ? size : 0;
        if (entry->args && size)
            memcpy (entry->args, data, size);
        //  Big arguments go framed, in a message of their own, sent below
        bool framed = !targeted && size >= ZX_FRAME_THRESHOLD;
        if ((!framed && zx__batch_add_request (&self->out, entry->corr, 1, flags, task,
                                               name_len, data, size) != ZX_OK)
        ||  !zx__idmap_put (&self->entries, entry->corr, entry)) {
            zx_future_destroy (&entry->future);
            free (entry);
            zx_future_set_error (future, ZX_ENOMEM, "cannot queue task '%s'", task);
        }
        else {
            if (self->entries.live == 1) {
                self->broker.heard_us = zx__now_us ();  //  Silence counts from now,
                self->silence_from_send = true;         //  or from when it is sent
            }
            //  Pending until a worker says STARTED
            zx__future_set_canceller (future, s_cancel, entry);
            if (framed)
                s_send_framed (self, entry, flags, args);
            else
            if (self->out.size >= ZX_BATCH_FLUSH_BYTES)
                s_flush (self->loop, self);
            if (!self->flush_scheduled && zx_loop_call_soon (self->loop, s_flush, self) == ZX_OK)
                self->flush_scheduled = true;
        }
    }
    free (targeted);
    zx_values_destroy (&args);
}

size_t
zx__client_abandon_all (zx__client_t *self, const char *text)
{
    s_collect_t collect = { calloc (self->entries.live + 1, sizeof (s_entry_t *)), 0 };
    if (!collect.entries)
        return 0;
    zx__idmap_each (&self->entries, s_collect, &collect);
    if (self->loop)
        s_flush (self->loop, self);     //  The broker sees the cancels after them
    for (size_t i = 0; i < collect.count; i++) {
        s_entry_t *entry = collect.entries [i];
        zx__idmap_take (&self->entries, entry->corr);
        s_sent (self, zx__send_cancel (&self->route, &entry->corr, 1));
        //  Cancelled with this text rather than s_finish's "cancelled"
        zx__future_set_cancelled (entry->future, text);
        s_finish (self, entry, ZX_ECANCELLED, text, strlen (text));
    }
    free (collect.entries);
    return collect.count;
}

size_t
zx__client_outstanding (const zx__client_t *self)
{
    return self->entries.live;
}

void
zx__client_flush (zx__client_t *self)
{
    if (!self->loop)
        return;
    if (zx__loop_running (self->loop)) {
        s_flush (self->loop, self);
        return;
    }
    //  From plain code: at most once a ms, so that a burst still goes in
    //  batches; the rest goes when the loop runs
    int64_t now = zx__now_us ();
    if (now - self->plain_flush_us < 1000)
        return;
    self->plain_flush_us = now;
    s_flush (self->loop, self);
    s_on_readable (self->loop, self);
}
