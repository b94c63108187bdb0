/*  zx_broker.c - the broker: coordinators on one side, workers on the
    other, over tcp (or ipc), run by the caller's loop.

    DESIGN: one ROUTER socket, bound where the caller says, carries both
    faces; the first frame after the identity tells them apart: "ZXW01"
    for workers, "ZXC01" for coordinators (clients, zx_broker_client.c).
    Each service (a named pool) is a dispatcher from broker/zx_dispatch,
    the same code a local pool runs inside its coordinator; they share the
    socket, and the broker routes each worker message to its service's
    dispatcher by the worker's identity. Heartbeats go both ways once a
    second by default; a worker or client not heard from for three
    intervals is gone: a worker's held tasks fail or retry, a client's
    tasks are cancelled. With CURVE every message is first checked against
    the roles its key holds (zx_broker_curve.c). The broker owns no loop
    and no signal: the loop it is attached to reads its socket and fires
    its tick; zexec-broker is this object, options and a signalfd.       */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_loop.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

//  --------------------------------------------------------------------
//  Helpers

static void
s_why (char *why, size_t size, const char *format, ...) ZX_PRINTF (3, 4);

static void
s_why (char *why, size_t size, const char *format, ...)
{
    if (!why || size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, size, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------
//  Options

//  The options with their defaults filled in (0 means the default), or
//  false with the reason. The CURVE paths are checked, not kept.
static bool
s_options (const zx_broker_opts_t *given, zx_broker_opts_t *opts, char *why, size_t size)
{
    *opts = given ? *given : (zx_broker_opts_t) { 0 };
    opts->curve_cert = opts->curve_clients_dir = opts->curve_workers_dir = NULL;
    opts->events_endpoint = NULL;
    bool no_wait = opts->no_worker_wait_ms == ZX_BROKER_NO_WAIT;
    //  size_t values past INT64_MAX turn negative here: out of range
    struct {
        const char *name;
        int64_t value, fallback, low, high;
    } field [] = {
        { "heartbeat_ms", opts->heartbeat_ms, ZX__BROKER_HEARTBEAT_MS,
          ZX__BROKER_HEARTBEAT_MIN, ZX__BROKER_HEARTBEAT_MAX },
        { "liveness", opts->liveness, ZX__BROKER_LIVENESS,
          ZX__BROKER_LIVENESS_MIN, ZX__BROKER_LIVENESS_MAX },
        { "no_worker_wait_ms", no_wait ? 0 : opts->no_worker_wait_ms,
          ZX__BROKER_NO_WORKER_WAIT_MS, 0, ZX__BROKER_NO_WORKER_WAIT_MAX },
        { "max_queue", (int64_t) opts->max_queue, ZX__BROKER_MAX_QUEUE,
          1, ZX__BROKER_MAX_QUEUE_MAX },
        { "max_services", (int64_t) opts->max_services, ZX__BROKER_MAX_SERVICES,
          1, ZX__BROKER_MAX_SERVICES_MAX },
        { "max_workers", (int64_t) opts->max_workers, ZX__BROKER_MAX_WORKERS,
          1, ZX__BROKER_MAX_WORKERS_MAX },
        { "max_clients", (int64_t) opts->max_clients, ZX__BROKER_MAX_CLIENTS,
          1, ZX__BROKER_MAX_CLIENTS_MAX },
        { "max_client_pending", (int64_t) opts->max_client_pending, ZX__BROKER_MAX_PENDING,
          1, ZX__BROKER_MAX_PENDING_MAX },
        { "max_frame_bytes", opts->max_frame_bytes, ZX__BROKER_MAX_FRAME,
          ZX__BROKER_MAX_FRAME_MIN, INT64_MAX },
        { "handshake_timeout_ms", opts->handshake_timeout_ms, ZX__BROKER_HANDSHAKE_MS,
          ZX__BROKER_HANDSHAKE_MIN, ZX__BROKER_HANDSHAKE_MAX },
        { "max_client_backlog", opts->max_client_backlog, ZX__BROKER_BACKLOG,
          ZX__BROKER_BACKLOG_MIN, ZX__BROKER_BACKLOG_MAX },
        { "max_client_bytes", opts->max_client_bytes, ZX__BROKER_CLIENT_BYTES,
          ZX__BROKER_BYTES_MIN, ZX__BROKER_BYTES_MAX },
        { "max_queue_bytes", opts->max_queue_bytes, ZX__BROKER_QUEUE_BYTES,
          ZX__BROKER_BYTES_MIN, ZX__BROKER_BYTES_MAX },
    };
    for (size_t i = 0; i < sizeof field / sizeof field [0]; i++) {
        if (field [i].value == 0)
            field [i].value = field [i].fallback;
        if (field [i].value < field [i].low || field [i].value > field [i].high) {
            s_why (why, size, "bad option %s: %lld is not from %lld to %lld", field [i].name,
                   (long long) field [i].value, (long long) field [i].low,
                   (long long) field [i].high);
            return false;
        }
    }
    opts->heartbeat_ms = (int) field [0].value;
    opts->liveness = (int) field [1].value;
    opts->no_worker_wait_ms = no_wait ? 0 : (int) field [2].value;
    opts->max_queue = (size_t) field [3].value;
    opts->max_services = (size_t) field [4].value;
    opts->max_workers = (size_t) field [5].value;
    opts->max_clients = (size_t) field [6].value;
    opts->max_client_pending = (size_t) field [7].value;
    opts->max_frame_bytes = field [8].value;
    opts->handshake_timeout_ms = (int) field [9].value;
    opts->max_client_backlog = field [10].value;
    opts->max_client_bytes = field [11].value;
    opts->max_queue_bytes = field [12].value;
    bool curve = given && (given->curve_cert || given->curve_clients_dir
                           || given->curve_workers_dir);
    if (curve && !(given->curve_cert && given->curve_clients_dir && given->curve_workers_dir)) {
        s_why (why, size, "CURVE needs curve_cert, curve_clients_dir and curve_workers_dir "
               "together (missing %s)", !given->curve_cert ? "curve_cert"
               : !given->curve_clients_dir ? "curve_clients_dir" : "curve_workers_dir");
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------
//  Services

static void s_worker_event (void *owner, const char *identity, int reason,
                            const char *text);

zx__bservice_t *
zx__broker_service (zx_broker_t *self, const char *name, bool create)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (streq (self->services [i]->name, name))
            return self->services [i];
    if (!create || self->service_count >= self->opts.max_services)
        return NULL;
    zx__bservice_t *service = calloc (1, sizeof (zx__bservice_t));
    zx__bservice_t **grown = realloc (self->services,
                                      (self->service_count + 1) * sizeof *grown);
    if (grown)
        self->services = grown;         //  The old block is gone once it moved
    if (!service || !grown) {
        free (service);
        return NULL;
    }
    snprintf (service->name, sizeof service->name, "%s", name);
    zx__dispatch_events_t events = { zx__broker_complete, NULL, NULL, s_worker_event,
                                     zx__broker_started };
    service->dispatch = zx__dispatch_new (self->socket, &events, self, self->opts.max_queue,
                                          true);
    if (!service->dispatch) {
        free (service);
        return NULL;
    }
    zx__dispatch_set_heartbeat (service->dispatch, self->opts.heartbeat_ms,
                                self->opts.liveness);
    if (self->tel)
        zx__dispatch_set_tel (service->dispatch, zx__tel_service (self->tel, name));
    zx__dispatch_set_max_queue_bytes (service->dispatch, (size_t) self->opts.max_queue_bytes);
    zx__dispatch_set_ratelog (service->dispatch, self->ratelog);
    self->services [self->service_count++] = service;
    zx_log_info (self->log, "service '%s' opened", name);
    return service;
}

//  --------------------------------------------------------------------
//  Workers

static void
s_worker_event (void *owner, const char *identity, int reason, const char *text)
{
    zx_broker_t *self = (zx_broker_t *) owner;
    if (reason < 0)
        zx_log_info (self->log, "worker %s ready", identity);
    else {
        zx_log_info (self->log, "worker %s left%s%s", identity, text [0] ? ": " : "", text);
        zhashx_delete (self->worker_service, identity);
        zx__broker_worker_key_forget (self, identity);
        zx__broker_names_worker_gone (self, identity);
        zx__broker_watch_worker_gone (self, identity, text);
    }
}

//  A READY from a worker not mapped yet: its service, opened if need be
//  and now mapped, or NULL when the READY is dropped (logged).
static zx__bservice_t *
s_worker_join (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    if (zhashx_size (self->worker_service) >= self->opts.max_workers) {
        ZX__BROKER_WARN (self, label, "ready", "too many workers: READY from %s dropped "
                         "(max-workers %zu)", label, self->opts.max_workers);
        return NULL;
    }
    //  The service frame is judged here, before the dispatcher reads the
    //  rest: the codec gives it whenever it is there
    size_t size = msg->service_size;
    if (size == 0 || size > 255 || memchr (msg->service, 0, size)) {
        ZX__BROKER_WARN (self, label, "ready", "READY with a bad service name from %s: dropped",
                         label);
        return NULL;
    }
    char name [256];
    memcpy (name, msg->service, size);
    name [size] = 0;
    zx__bservice_t *service = zx__broker_service (self, name, true);
    if (!service) {
        ZX__BROKER_WARN (self, label, "ready", "too many services: READY from %s dropped", label);
        return NULL;
    }
    zhashx_insert (self->worker_service, label, service);
    zx__broker_worker_key_add (self, label, msg);
    return service;
}

static void
s_on_worker (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    zx__bservice_t *service = zhashx_lookup (self->worker_service, label);
    bool mapped_now = false;
    //  A READY from a known id means its earlier connection is gone: for
    //  the same service its dispatcher replaces the registration; for
    //  another, the old one leaves first (what it held is retried or fails)
    if (msg->command == ZX_CMD_READY && service
    &&  !(msg->service_size == strlen (service->name)
          && memcmp (msg->service, service->name, msg->service_size) == 0)) {
        zx__dispatch_worker_left (service->dispatch, msg->identity, msg->identity_size,
                                  ZX_BYE_NORMAL, "it said READY again, for another service");
        zhashx_delete (self->worker_service, label);
        zx__broker_worker_key_forget (self, label);
        service = NULL;
    }
    if (msg->command == ZX_CMD_READY && !service) {
        service = s_worker_join (self, msg, label);
        if (!service)
            return;
        mapped_now = true;
    }
    if (!service) {
        if (msg->command != ZX_CMD_HEARTBEAT && msg->command != ZX_CMD_DISCONNECT) {
            //  A worker we forgot (expired, or a broker restart): ask it
            //  to start again, as MDP does
            zx__route_t route = zx__broker_route (self, ZX_FACE_WORKER, msg->identity,
                                                  msg->identity_size);
            zx__send_disconnect (&route, ZX_BYE_NORMAL, NULL);
        }
        return;
    }
    size_t workers = zx__dispatch_workers (service->dispatch);
    zx__dispatch_handle (service->dispatch, msg);
    //  A READY its dispatcher refused (a bad info frame) made no worker
    //  that could ever leave: forget the id, or it would stay mapped
    if (mapped_now && zx__dispatch_workers (service->dispatch) == workers) {
        zhashx_delete (self->worker_service, label);
        zx__broker_worker_key_forget (self, label);
    }
}

//  --------------------------------------------------------------------
//  The socket and the tick

void
zx__broker_flush_all (zx_broker_t *self)
{
    for (size_t i = 0; i < self->service_count; i++)
        zx__dispatch_flush (self->services [i]->dispatch);
    while (self->dirty) {
        zx__bclient_t *client = self->dirty;
        if (!zx__broker_client_flush (self, client)) {
            char why [200];
            snprintf (why, sizeof why, "it does not read its replies: %zu bytes in %zu "
                      "replies wait past its connection's %d messages", client->replies.size,
                      client->replies.records, ZX__BROKER_PEER_HWM);
            zx_log_warning (self->log, "coordinator %s dropped: %s", client->label, why);
            zx__broker_client_drop (self, client, why);
        }
    }
}

//  Whether a frame holds the octets of text (a literal), at its start.
static bool
s_frame_starts (zmq_msg_t *frame, const char *text)
{
    size_t size = strlen (text);
    return zmq_msg_size (frame) >= size && memcmp (zmq_msg_data (frame), text, size) == 0;
}

//  A message in a protocol the broker does not speak: Majordomo (MDP)
//  clients and workers, and REQ sockets (an empty delimiter frame first).
//  Named once per peer; an MDP worker is sent MDP's DISCONNECT and a REQ
//  socket an answer, so that neither waits for ever. Returns false when
//  the message is not one of those.
static bool
s_foreign (zx_broker_t *self, zx__msg_t *msg, const char *label)
{
    if (msg->count < 2)
        return false;
    zmq_msg_t *first = &msg->frames [1];
    bool delimited = zmq_msg_size (first) == 0;
    zmq_msg_t *header = delimited ? (msg->count > 2 ? &msg->frames [2] : NULL) : first;
    const char *what = NULL, *kind = NULL;
    if (header && s_frame_starts (header, "MDPW")) {
        what = "a Majordomo (MDP) worker";
        kind = "mdp-worker";
    }
    else
    if (header && s_frame_starts (header, "MDPC")) {
        what = "a Majordomo (MDP) client";
        kind = "mdp-client";
    }
    else
    if (delimited && msg->count > 2) {
        what = "a REQ socket (an empty delimiter frame, then the request)";
        kind = "req";
    }
    else
        return false;
    zx__ratelog_once (self->ratelog, ZX_LOG_WARNING, label, kind,
                      "%s speaks %s, not zexec's ZXC01/ZXW01 (docs/PROTOCOL.md): its "
                      "messages are dropped", label, what);
    const void *frames [4] = { msg->identity, "", NULL, NULL };
    size_t sizes [4] = { msg->identity_size, 0, 0, 0 };
    if (header && s_frame_starts (header, "MDPW")) {
        frames [2] = "MDPW01";
        sizes [2] = 6;
        frames [3] = "\x05";               //  MDP's DISCONNECT
        sizes [3] = 1;
        zx__send_frames (self->socket, frames, sizes, 4, ZMQ_DONTWAIT);
    }
    else
    if (delimited) {
        static const char answer [] = "error: this is a zexec broker; it speaks ZXC01 and "
                                      "ZXW01 (docs/PROTOCOL.md)";
        frames [2] = answer;
        sizes [2] = sizeof answer - 1;
        zx__send_frames (self->socket, frames, sizes, 3, ZMQ_DONTWAIT);
    }
    return true;
}

static void
s_on_readable (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_broker_t *self = (zx_broker_t *) arg;
    zx__msg_t msg;
    //  A burst ends after ZX__BROKER_BURST_US too: a peer whose every
    //  message costs work (a thousand records answered at once) must not
    //  keep the loop from its tick, and everyone from their heartbeats
    int64_t started = zx__now_us ();
    for (int burst = 0; burst < ZX_RECV_BURST; burst++) {
        if ((burst & 63) == 63 && zx__now_us () - started > ZX__BROKER_BURST_US)
            break;
        //  Both faces on one socket: the header says which
        zx__recv_t rc = zx__recv_router (self->socket, ZX_FACE_ANY, &msg);
        if (rc == ZX_RECV_NONE)
            break;
        char label [ZX_LABEL_SIZE];
        zx__label (label, sizeof label, msg.identity, msg.identity_size);
        if ((rc == ZX_RECV_UNKNOWN_FACE || rc == ZX_RECV_MALFORMED)
        &&  s_foreign (self, &msg, label))
            ;                               //  Named once, answered if cheap
        else
        if (rc == ZX_RECV_UNKNOWN_FACE)
            ZX__BROKER_WARN (self, label, "header", "unknown protocol header from %s: dropped",
                             label);
        else
        if (rc != ZX_RECV_OK)
            ZX__BROKER_WARN (self, label, "malformed", "malformed message (%zu frames) from "
                             "%s: dropped", msg.count, label);
        else
        if (zx__broker_allowed (self, &msg, label)) {
            if (msg.face == ZX_FACE_WORKER)
                s_on_worker (self, &msg, label);
            else
                zx__broker_on_client (self, &msg, label);
        }
        zx__msg_close (&msg);
    }
    zx__broker_flush_all (self);
}

//  libzmq could not accept a connection (past the fd limit, as a rule):
//  the peer never reaches us, so say so, rate-limited. Read at each tick
static void
s_read_monitor (zx_broker_t *self)
{
    for (int burst = 0; self->monitor && burst < 100000; burst++) {
        zmsg_t *event = zmsg_recv_nowait (self->monitor);
        if (!event)
            break;
        zframe_t *head = zmsg_first (event);
        zframe_t *where = zmsg_next (event);
        if (head && zframe_size (head) == 6) {
            uint16_t id;
            uint32_t value;
            memcpy (&id, zframe_data (head), 2);
            memcpy (&value, zframe_data (head) + 2, 4);
            char *endpoint = where ? zframe_strdup (where) : NULL;
            struct rlimit limit = { 0, 0 };
            getrlimit (RLIMIT_NOFILE, &limit);
            if (id == ZMQ_EVENT_ACCEPT_FAILED)
                ZX__BROKER_WARN (self, "accept", "accept", "cannot accept a connection on %s: "
                                 "%s: that peer is refused (open files: limit %llu; raise it "
                                 "with ulimit -n or LimitNOFILE=)", endpoint ? endpoint : "?",
                                 zmq_strerror ((int) value),
                                 (unsigned long long) limit.rlim_cur);
            free (endpoint);
        }
        zmsg_destroy (&event);
    }
}

static void
s_on_tick (zx_loop_t *loop, void *arg)
{
    zx_broker_t *self = (zx_broker_t *) arg;
    self->tick_timer = 0;
    int64_t silence = (int64_t) self->opts.heartbeat_ms * self->opts.liveness * 1000;
    //  Read what is waiting first: peers' heartbeats may be queued there
    s_on_readable (loop, self);
    int64_t now = zx__now_us ();
    zx__ratelog_tick (self->ratelog);
    s_read_monitor (self);
    //  A broker that was itself stalled (stopped, starved of CPU) has not
    //  heard anyone: give peers one more interval before judging them
    bool stalled = self->last_tick_us
                && now - self->last_tick_us > 2 * (int64_t) self->opts.heartbeat_ms * 1000;
    self->last_tick_us = now;
    if (stalled) {
        zx_log_warning (self->log, "broker stalled: peers get one more heartbeat interval");
        silence = INT64_MAX / 2;
    }
    //  Messages still wait after that burst (a loaded broker, or one that
    //  just stalled): a peer's heartbeat may be among them, so nobody is
    //  judged on this tick, for at most liveness ticks in a row (a dead
    //  peer is then still noticed, later)
    int events = 0;
    size_t size = sizeof events;
    bool behind = zmq_getsockopt (self->socket, ZMQ_EVENTS, &events, &size) == 0
               && (events & ZMQ_POLLIN);
    self->behind_ticks = behind ? self->behind_ticks + 1 : 0;
    if (behind && self->behind_ticks <= self->opts.liveness && !stalled) {
        if (self->behind_ticks == 1)
            zx_log_info (self->log, "broker behind (messages wait unread at its tick): peers "
                         "get one more heartbeat interval");
        silence = INT64_MAX / 2;
    }
    for (size_t i = 0; i < self->service_count; i++) {
        zx__bservice_t *service = self->services [i];
        char text [320];
        snprintf (text, sizeof text, "no workers for service %s", service->name);
        zx__dispatch_expire (service->dispatch, silence,
                             (int64_t) self->opts.no_worker_wait_ms * 1000, text);
        zx__dispatch_heartbeat (service->dispatch);
    }
    zx__broker_clients_tick (self, now, silence);
    zx__broker_flush_all (self);
    self->tick_timer = zx_loop_call_later (loop, self->opts.heartbeat_ms, s_on_tick, self);
}

//  --------------------------------------------------------------------
//  The object

static void
s_dropped_free (void **item)
{
    free (*item);
    *item = NULL;
}

zx_broker_t *
zx_broker_new (const zx_broker_opts_t *opts, char *why, size_t why_size)
{
    s_why (why, why_size, "out of memory");
    zx_broker_t *self = calloc (1, sizeof (zx_broker_t));
    if (!self)
        return NULL;
    if (!s_options (opts, &self->opts, why, why_size))
        goto fail;
    self->log = zx_log_get ("zexec.broker");
    self->ratelog = zx__ratelog_new (self->log, ZX__BROKER_WARN_BURST,
                                     ZX__BROKER_WARN_PERIOD_MS, ZX__BROKER_WARN_TOTAL,
                                     ZX__BROKER_WARN_PEERS);
    self->worker_service = zhashx_new ();
    self->clients = zhashx_new ();
    self->dropped = zhashx_new ();
    if (!self->ratelog || !self->worker_service || !self->clients || !self->dropped)
        goto fail;
    zhashx_set_destructor (self->dropped, s_dropped_free);
    //  Fail closed: whatever CURVE needs must be there before any bind
    if (opts && opts->curve_cert && !zx__broker_curve_start (self, opts, why, why_size))
        goto fail;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router) {
        s_why (why, why_size, "cannot create its sockets: %s", strerror (errno));
        goto fail;
    }
    self->socket = zsock_resolve (self->router);
    //  What a peer sends waits in libzmq up to ZX__BROKER_PEER_RCVHWM
    //  messages, then its connection is read no further until the loop
    //  catches up (tcp pushes back; nothing is dropped)
    zsock_set_rcvhwm (self->router, ZX__BROKER_PEER_RCVHWM);
    //  Bounded per peer: a coordinator that never reads cannot make
    //  libzmq hold its replies without end; past it a send fails (EAGAIN)
    //  and the broker counts what waits (zx__broker_client_flush)
    zsock_set_sndhwm (self->router, ZX__BROKER_PEER_HWM);
    zsock_set_handshake_ivl (self->router, self->opts.handshake_timeout_ms);
    //  A connection libzmq cannot accept (no fd left) never reaches the
    //  loop: its monitor says so, and the broker logs it
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://zx-broker-accept-%p", (void *) self);
    if (zmq_socket_monitor (self->socket, monitor, ZMQ_EVENT_ACCEPT_FAILED) == 0) {
        self->monitor = zsock_new (ZMQ_PAIR);
        //  Read once per tick, not polled (each socket in the loop's poll
        //  set costs system calls on every wake-up): unbounded, so that a
        //  burst of failures never blocks libzmq's I/O thread meanwhile
        if (self->monitor)
            zsock_set_rcvhwm (self->monitor, 0);
        if (self->monitor && zsock_connect (self->monitor, "%s", monitor) != 0)
            zsock_destroy (&self->monitor);
    }
    zmq_setsockopt (self->socket, ZMQ_MAXMSGSIZE, &self->opts.max_frame_bytes,
                    sizeof self->opts.max_frame_bytes);
    if (self->auth) {
        zsock_set_zap_domain (self->router, ZX_AUTH_DOMAIN);
        zcert_apply (self->cert, self->router);
        zsock_set_curve_server (self->router, 1);
        //  A draft option where libzmq has it: no ZAP handler, no handshake
        int one = 1;
        zmq_setsockopt (self->socket, 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &one, sizeof one);
    }
    if (opts && opts->events_endpoint
    &&  !(self->tel = zx__tel_new ("broker", opts->events_endpoint, why, why_size)))
        goto fail;
    if (self->tel)
        zx__tel_set_describe (self->tel, zx__broker_describe);
    s_why (why, why_size, "%s", "");
    return self;
fail:
    zx_broker_destroy (&self);
    return NULL;
}

const char *
zx_broker_bind (zx_broker_t *self, const char *endpoint, char *why, size_t why_size)
{
    assert (self);
    if (!endpoint || zsock_bind (self->router, "%s", endpoint) < 0) {
        s_why (why, why_size, "cannot bind %s: %s", endpoint ? endpoint : "(null)",
               endpoint ? zmq_strerror (errno) : "no endpoint");
        return NULL;
    }
    //  A wildcard (tcp://127.0.0.1:*) became a real address: keep which
    //  (czmq makes the string; it is ours to free)
    char *copy = zsock_last_endpoint (self->router);
    if (!copy)
        copy = strdup (endpoint);
    char **grown = copy ? realloc (self->endpoints,
                                   (self->endpoint_count + 1) * sizeof *grown) : NULL;
    if (!grown) {
        //  Bound all the same: unbind, so that what is bound is what we list
        zsock_unbind (self->router, "%s", copy ? copy : endpoint);
        free (copy);
        s_why (why, why_size, "cannot bind %s: out of memory", endpoint);
        return NULL;
    }
    self->endpoints = grown;
    self->endpoints [self->endpoint_count++] = copy;
    return copy;
}

const char *
zx_broker_endpoint (const zx_broker_t *self, size_t index)
{
    assert (self);
    return index < self->endpoint_count ? self->endpoints [index] : NULL;
}

const char *
zx_broker_events_endpoint (const zx_broker_t *self)
{
    assert (self);
    return self->tel ? zx__tel_endpoint (self->tel) : NULL;
}

zx__tel_t *
zx__broker_tel (zx_broker_t *self)
{
    char why [80];
    if (self->tel || !(self->tel = zx__tel_new ("broker", NULL, why, sizeof why)))
        return self->tel;
    zx__tel_set_describe (self->tel, zx__broker_describe);
    //  Counting starts now for the services already open
    for (size_t i = 0; i < self->service_count; i++)
        zx__dispatch_set_tel (self->services [i]->dispatch,
                              zx__tel_service (self->tel, self->services [i]->name));
    return self->tel;
}

const char *
zx_broker_curve_key (const zx_broker_t *self)
{
    assert (self);
    return self->cert ? zcert_public_txt (self->cert) : NULL;
}

zx_err_t
zx_broker_attach (zx_broker_t *self, zx_loop_t *loop)
{
    assert (self);
    assert (loop);
    if (self->loop)
        return ZX_EINVAL;
    if (zx__loop_add_socket (loop, self->socket, s_on_readable, self) != ZX_OK)
        return ZX_ENOMEM;
    self->loop = loop;
    self->tick_timer = zx_loop_call_later (loop, self->opts.heartbeat_ms, s_on_tick, self);
    if (!self->tick_timer || zx__broker_curve_attach (self, loop) != ZX_OK
    ||  (self->tel && zx__tel_attach (self->tel, loop) != ZX_OK)) {
        zx__broker_curve_detach (self);
        if (self->tick_timer)
            zx_loop_cancel_timer (loop, self->tick_timer);
        self->tick_timer = 0;
        zx__loop_remove (loop, self->socket, -1);
        self->loop = NULL;
        return ZX_ENOMEM;
    }
    return ZX_OK;
}

void
zx_broker_close (zx_broker_t *self)
{
    assert (self);
    self->closed = true;
}

void
zx_broker_destroy (zx_broker_t **self_p)
{
    assert (self_p);
    zx_broker_t *self = *self_p;
    if (!self)
        return;
    //  Coordinators hear that their tasks will not finish here, workers
    //  are dismissed, then the last messages go out
    if (self->clients)
        zx__broker_clients_shutdown (self);
    for (size_t i = 0; i < self->service_count; i++) {
        zx__dispatch_disconnect_all (self->services [i]->dispatch);
        zx__dispatch_destroy (&self->services [i]->dispatch);
        free (self->services [i]);
    }
    free (self->services);
    zx__broker_watches_free (self);
    if (self->loop) {
        if (self->tick_timer)
            zx_loop_cancel_timer (self->loop, self->tick_timer);
        zx__loop_remove (self->loop, self->socket, -1);
        zx__broker_curve_detach (self);
    }
    if (self->tel)
        zx__tel_detach (self->tel);
    if (self->router && self->monitor)
        zmq_socket_monitor (self->socket, NULL, 0);
    zsock_destroy (&self->monitor);
    if (self->router) {
        zsock_set_linger (self->router, 1000);
        zsock_destroy (&self->router);
    }
    for (size_t i = 0; i < self->endpoint_count; i++)
        free (self->endpoints [i]);
    free (self->endpoints);
    zhashx_destroy (&self->worker_service);
    zhashx_destroy (&self->clients);
    zhashx_destroy (&self->dropped);
    zhashx_destroy (&self->names);
    zx__broker_curve_stop (self);
    zx__tel_destroy (&self->tel);
    zx__ratelog_destroy (&self->ratelog);
    free (self);
    *self_p = NULL;
}
