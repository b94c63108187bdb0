/*  zx_events.c - lifecycle telemetry: events on an XPUB socket, and the
    counts behind the metrics endpoint.

    DESIGN: the dispatcher and the broker call a hook at each step of a
    task's, a worker's and a coordinator's life, only when telemetry is
    on (one pointer test when it is off). A hook bumps the service's
    counters and, while someone subscribes, encodes one event as
    MessagePack and sends it as two frames, topic and body, without
    blocking. The socket is an XPUB with ZMQ_XPUB_VERBOSER: every
    subscription and unsubscription of every subscriber comes up to us,
    so we know when nobody listens and skip the encoding entirely; each
    new subscription is answered with a hello event, which tells the
    subscriber that events flow to it from then on.                      */

#define _GNU_SOURCE
#include "zx_events.h"
#include "zx_dispatch_int.h"
#include "zx_loop.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

const double zx__tel_bounds [ZX_TEL_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30
};

static const char *s_names [ZX_EV_COUNT] = {
    [ZX_EV_HELLO] = "hello",
    [ZX_EV_TASK_SUBMITTED] = "task.submitted",
    [ZX_EV_TASK_DISPATCHED] = "task.dispatched",
    [ZX_EV_TASK_FINISHED] = "task.finished",
    [ZX_EV_TASK_FAILED] = "task.failed",
    [ZX_EV_TASK_RETRIED] = "task.retried",
    [ZX_EV_TASK_CANCELLED] = "task.cancelled",
    [ZX_EV_WORKER_JOINED] = "worker.joined",
    [ZX_EV_WORKER_LOST] = "worker.lost",
    [ZX_EV_WORKER_RETIRED] = "worker.retired",
    [ZX_EV_COORDINATOR_CONNECTED] = "coordinator.connected",
    [ZX_EV_COORDINATOR_GONE] = "coordinator.gone",
};

struct zx__tel {
    char source [32];
    char host [256];
    uint32_t pid;
    zsock_t *xpub;                  //  NULL: counts only
    char *endpoint;
    zx_loop_t *loop;
    int64_t subscriptions;          //  Subscribed less unsubscribed
    zx__tel_describe_fn *describe;
    zx__tel_service_t **services;
    size_t service_count;
    const struct zx__dworker *leaving;  //  Reported by worker_left, not yet removed
    msgpack_sbuffer buffer;
    msgpack_packer packer;
};

const char *
zx__event_name (zx__event_t event)
{
    return event < ZX_EV_COUNT ? s_names [event] : "unknown";
}

//  --------------------------------------------------------------------
//  The object

zx__tel_t *
zx__tel_new (const char *source, const char *endpoint, char *why, size_t size)
{
    zx__tel_t *self = calloc (1, sizeof (zx__tel_t));
    if (!self) {
        snprintf (why, size, "out of memory");
        return NULL;
    }
    snprintf (self->source, sizeof self->source, "%s", source);
    if (gethostname (self->host, sizeof self->host - 1) != 0)
        snprintf (self->host, sizeof self->host, "localhost");
    self->pid = (uint32_t) getpid ();
    msgpack_sbuffer_init (&self->buffer);
    msgpack_packer_init (&self->packer, &self->buffer, msgpack_sbuffer_write);
    if (!endpoint)
        return self;
    self->xpub = zsock_new (ZMQ_XPUB);
    if (!self->xpub) {
        snprintf (why, size, "cannot create the events socket");
        goto fail;
    }
    zsock_set_xpub_verboser (self->xpub, 1);
    //  A slow subscriber loses events rather than hold the broker up
    zsock_set_sndhwm (self->xpub, 100000);
    zsock_set_linger (self->xpub, 0);
    if (zsock_bind (self->xpub, "%s", endpoint) < 0) {
        snprintf (why, size, "cannot bind the events socket to %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->endpoint = zsock_last_endpoint (self->xpub);
    if (!self->endpoint)
        self->endpoint = strdup (endpoint);
    if (!self->endpoint) {
        snprintf (why, size, "out of memory");
        goto fail;
    }
    return self;
fail:
    zx__tel_destroy (&self);
    return NULL;
}

void
zx__tel_destroy (zx__tel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__tel_t *self = *self_p;
    zx__tel_detach (self);
    zsock_destroy (&self->xpub);
    free (self->endpoint);
    for (size_t i = 0; i < self->service_count; i++)
        free (self->services [i]);
    free (self->services);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

const char *
zx__tel_endpoint (const zx__tel_t *self)
{
    return self->endpoint;
}

void
zx__tel_set_describe (zx__tel_t *self, zx__tel_describe_fn *describe)
{
    self->describe = describe;
}

bool
zx__tel_subscribed (const zx__tel_t *self)
{
    return self->subscriptions > 0;
}

zx__tel_service_t *
zx__tel_service (zx__tel_t *self, const char *name)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (streq (self->services [i]->name, name))
            return self->services [i];
    zx__tel_service_t **grown = realloc (self->services,
                                         (self->service_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    self->services = grown;
    zx__tel_service_t *svc = calloc (1, sizeof (zx__tel_service_t));
    if (!svc)
        return NULL;
    svc->tel = self;
    snprintf (svc->name, sizeof svc->name, "%s", name);
    self->services [self->service_count++] = svc;
    return svc;
}

zx__tel_service_t *
zx__tel_service_at (const zx__tel_t *self, size_t index)
{
    return index < self->service_count ? self->services [index] : NULL;
}

//  --------------------------------------------------------------------
//  Encoding and sending

static void
s_key (zx__tel_t *self, const char *key)
{
    size_t size = strlen (key);
    msgpack_pack_str (&self->packer, size);
    msgpack_pack_str_body (&self->packer, key, size);
}

static void
s_str (zx__tel_t *self, const char *key, const char *value, size_t size)
{
    s_key (self, key);
    msgpack_pack_str (&self->packer, size);
    msgpack_pack_str_body (&self->packer, value, size);
}

static void
s_text (zx__tel_t *self, const char *key, const char *value)
{
    s_str (self, key, value, strlen (value));
}

static void
s_uint (zx__tel_t *self, const char *key, uint64_t value)
{
    s_key (self, key);
    msgpack_pack_uint64 (&self->packer, value);
}

//  Starts an event's map of fields keys besides the six every event has.
static void
s_begin (zx__tel_t *self, zx__event_t event, size_t fields)
{
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_pack_map (&self->packer, 6 + fields);
    s_uint (self, "v", 1);
    s_text (self, "event", s_names [event]);
    struct timeval now;
    gettimeofday (&now, NULL);
    s_uint (self, "time_us", (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_usec);
    s_text (self, "source", self->source);
    s_text (self, "host", self->host);
    s_uint (self, "pid", self->pid);
}

//  Sends the event encoded: its topic, "zx." and its name, then the body.
static void
s_send (zx__tel_t *self, zx__event_t event)
{
    char topic [64];
    int size = snprintf (topic, sizeof topic, "zx.%s", s_names [event]);
    void *socket = zsock_resolve (self->xpub);
    //  A full pipe drops the event: telemetry never blocks the broker
    if (zmq_send (socket, topic, (size_t) size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == size)
        zmq_send (socket, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
}

//  Reads subscriptions: counts them, and greets each new one.
static void
s_on_subscription (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__tel_t *self = (zx__tel_t *) arg;
    void *socket = zsock_resolve (self->xpub);
    for (int i = 0; i < 1000; i++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        const uint8_t *data = zmq_msg_data (&msg);
        size_t size = zmq_msg_size (&msg);
        bool more = zmq_msg_more (&msg);
        zmq_msg_close (&msg);
        //  Anything but a one-frame (un)subscription is not from a SUB
        if (more || size == 0 || data [0] > 1)
            continue;
        if (data [0] == 1) {
            self->subscriptions++;
            s_begin (self, ZX_EV_HELLO, 0);
            s_send (self, ZX_EV_HELLO);
        }
        else
        if (self->subscriptions > 0)
            self->subscriptions--;
    }
}

zx_err_t
zx__tel_attach (zx__tel_t *self, zx_loop_t *loop)
{
    if (!self->xpub || self->loop)
        return ZX_OK;
    zx_err_t rc = zx__loop_add_socket (loop, zsock_resolve (self->xpub), s_on_subscription,
                                       self);
    if (rc == ZX_OK)
        self->loop = loop;
    //  Those who subscribed before the loop watched us hear from us now,
    //  before the work that made us attach
    if (rc == ZX_OK)
        s_on_subscription (loop, self);
    return rc;
}

void
zx__tel_detach (zx__tel_t *self)
{
    if (self->loop)
        zx__loop_remove (self->loop, zsock_resolve (self->xpub), -1);
    self->loop = NULL;
}

//  --------------------------------------------------------------------
//  Tasks

//  Packs the fields of a task event about request: service, id,
//  attempt, task, then worker and coordinator when known; extra more
//  fields follow.
static void
s_task_begin (zx__tel_service_t *svc, zx__event_t event, const zx__request_t *request,
              size_t extra)
{
    zx__tel_t *self = svc->tel;
    const char *coordinator = NULL;
    uint64_t coordinator_id = 0;
    bool described = self->describe && request->cookie
                  && self->describe (request->cookie, &coordinator, &coordinator_id)
                  && coordinator;
    const zx__dworker_t *worker = request->worker;
    s_begin (self, event, 4 + (worker ? 1 : 0) + (described ? 2 : 0) + extra);
    s_text (self, "service", svc->name);
    s_uint (self, "id", request->corr);
    s_uint (self, "attempt", request->attempt);
    s_str (self, "task", request->data, request->name_len);
    if (worker)
        s_text (self, "worker", worker->label);
    if (described) {
        s_text (self, "coordinator", coordinator);
        s_uint (self, "coordinator_id", coordinator_id);
    }
}

void
zx__tel_task (zx__tel_service_t *svc, zx__event_t event, const zx__request_t *request,
              zx_err_t code, const void *text, size_t text_size)
{
    (void) code;
    svc->count [event]++;
    if (event == ZX_EV_TASK_SUBMITTED)
        svc->bytes += request->args_size;
    zx__tel_t *self = svc->tel;
    if (self->subscriptions <= 0)
        return;
    bool why = event == ZX_EV_TASK_RETRIED && text;
    s_task_begin (svc, event, request, why ? 1 : 0);
    if (why)
        s_str (self, "reason", text, text_size);
    s_send (self, event);
}

void
zx__tel_complete (zx__tel_service_t *svc, const zx__request_t *request, zx_err_t code,
                  const void *text, size_t text_size)
{
    zx__event_t event = code == ZX_OK ? ZX_EV_TASK_FINISHED
                      : code == ZX_ECANCELLED ? ZX_EV_TASK_CANCELLED : ZX_EV_TASK_FAILED;
    svc->count [event]++;
    svc->bytes -= svc->bytes < request->args_size ? svc->bytes : request->args_size;
    int64_t latency_us = zx__now_us () - request->submitted_us;
    if (latency_us < 0)
        latency_us = 0;
    double seconds = (double) latency_us / 1e6;
    size_t bucket = 0;
    while (bucket < ZX_TEL_BUCKETS && seconds > zx__tel_bounds [bucket])
        bucket++;
    svc->buckets [bucket]++;
    svc->latency_sum += seconds;
    svc->latency_count++;
    size_t slot = svc->recent_total++ % ZX_TEL_RECENT;
    svc->recent_at [slot] = request->submitted_us + latency_us;
    svc->recent_us [slot] = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t) latency_us;
    if (request->worker) {
        //  The worker's own tallies, for zexec-top
        zx__dworker_t *worker = request->worker;
        if (event == ZX_EV_TASK_FINISHED)
            worker->done++;
        else
        if (event == ZX_EV_TASK_FAILED)
            worker->failed++;
    }
    zx__tel_t *self = svc->tel;
    if (self->subscriptions <= 0)
        return;
    bool error = code != ZX_OK;
    s_task_begin (svc, event, request, 1 + (error ? 2 : 0));
    s_uint (self, "latency_us", (uint64_t) latency_us);
    if (error) {
        s_text (self, "error", zx_strerror (code));
        //  A message is text; keep only what is printable of a bad one
        size_t size = text ? strnlen (text, text_size) : 0;
        s_str (self, "message", size ? text : "", size);
    }
    s_send (self, event);
}

//  --------------------------------------------------------------------
//  Workers and coordinators

static void
s_worker_event (zx__tel_service_t *svc, zx__event_t event, const zx__dworker_t *worker,
                const char *reason)
{
    svc->count [event]++;
    zx__tel_t *self = svc->tel;
    if (self->subscriptions <= 0)
        return;
    s_begin (self, event, 5 + (reason ? 1 : 0));
    s_text (self, "service", svc->name);
    s_text (self, "worker", worker->label);
    s_uint (self, "worker_pid", worker->pid);
    s_uint (self, "parallel", worker->parallel);
    s_uint (self, "running", worker->held.count);
    if (reason)
        s_text (self, "reason", reason);
    s_send (self, event);
}

void
zx__tel_worker_joined (zx__tel_service_t *svc, const zx__dworker_t *worker)
{
    s_worker_event (svc, ZX_EV_WORKER_JOINED, worker, NULL);
}

void
zx__tel_worker_left (zx__tel_service_t *svc, const zx__dworker_t *worker, int reason,
                     const char *text)
{
    bool retired = reason == ZX_BYE_NORMAL || reason == ZX_BYE_RETIRING;
    char why [300];
    snprintf (why, sizeof why, "%s%s%s",
              reason == ZX_BYE_NORMAL ? "said goodbye"
              : reason == ZX_BYE_RETIRING ? "retiring (max tasks)"
              : reason == ZX_BYE_INIT_FAILED ? "initializer failed"
              : reason == ZX_BYE_PROTOCOL ? "protocol error" : "left",
              text && *text ? ": " : "", text ? text : "");
    s_worker_event (svc, retired ? ZX_EV_WORKER_RETIRED : ZX_EV_WORKER_LOST, worker, why);
    svc->tel->leaving = worker;
}

void
zx__tel_worker_removed (zx__tel_service_t *svc, const zx__dworker_t *worker,
                        const char *cause)
{
    if (svc->tel->leaving == worker) {
        svc->tel->leaving = NULL;
        return;
    }
    s_worker_event (svc, ZX_EV_WORKER_LOST, worker, cause);
}

void
zx__tel_coordinator (zx__tel_t *self, zx__event_t event, const char *label,
                     const char *address, const char *why)
{
    if (self->subscriptions <= 0)
        return;
    bool with_address = address && *address;
    s_begin (self, event, 1 + (with_address ? 1 : 0) + (why ? 1 : 0));
    s_text (self, "coordinator", label);
    if (with_address)
        s_text (self, "address", address);
    if (why)
        s_text (self, "reason", why);
    s_send (self, event);
}
