/*  zx_remote.c - the remote executor: a back end over a broker's client.

    DESIGN: an adapter. zx_client already does the work of a remote
    executor (it batches requests to the broker, matches replies,
    heartbeats, and fails what is outstanding when the broker goes), and
    it ends futures itself: it marks each one running when it is sent,
    sets its canceller, and completes it once. So this back end takes
    futures only, and no relays (a serving worker over a remote executor
    makes futures instead), but for actor messages (zx__executor_send_to):
    each becomes a future here whose end calls the message's completion,
    and one with a target names the serving worker the broker must send
    it to (PROTOCOL.md 13.7). Its queue is at the broker: what counts
    against max_queue is every request not yet answered, and as the
    client reports no room as that drains, a coroutine waiting for room
    looks again every millisecond. It has no workers of its own to close,
    stop or list.

    It learns that a serving worker hosting its actors is gone, even when
    no message of theirs is out, from a watch: one request record of the
    reserved task "zx.actor.watch" per such worker, which the broker
    parks and answers WORKER_LOST when the worker leaves (PROTOCOL.md
    13.8); it then tells the executor's watchers, the actor references.
    The last actor to leave a worker cancels its watch. Watches are not
    work: they do not count as waiting, so a shutdown does not wait for
    them.                                                                 */

#include "zx_executor.h"
#include "zx_client.h"
#include "zx_values.h"
#include "zx_log.h"
#include "zx_actor_host.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

typedef struct s_remote s_remote_t;

#define S_REWATCH_MS 1000       //  After a watch ended without news of its worker

//  A watch of one serving worker: its future ends when the worker goes.
typedef struct s_watch {
    struct s_watch *next;
    s_remote_t *remote;         //  NULL once the executor is gone
    zx_future_t *future;        //  Sent; or NULL while a timer waits to send it
    uint64_t timer;
    size_t actors;              //  Placed there; 0: being cancelled
    char identity [256];
} s_watch_t;

struct s_remote {
    zx__backend_t base;         //  First: the front reaches the ops through it
    zx__client_t *client;
    char *endpoint;             //  The broker's
    size_t max_queue;
    zx_loop_t *loop;            //  Attached to
    s_watch_t *watches;         //  Every watch whose future has not ended
    size_t watch_count;
};

//  An actor message on its way: its future ends in its completion.
typedef struct {
    zx__complete_fn *complete;
    void *cookie;
} s_bridge_t;

static const zx__executor_ops_t s_ops;

static void
s_idle (void *owner)
{
    s_remote_t *self = (s_remote_t *) owner;
    zx__executor_idle (self->base.front);
}

static void
s_destroy (zx__backend_t **base_p)
{
    if (!base_p || !*base_p)
        return;
    s_remote_t *self = (s_remote_t *) *base_p;
    //  The watches' futures end with the client; their callbacks run
    //  later, on the loop, and free them without this
    while (self->watches) {
        s_watch_t *watch = self->watches;
        self->watches = watch->next;
        watch->remote = NULL;
        if (!watch->future) {
            zx_loop_cancel_timer (self->loop, watch->timer);
            free (watch);
        }
    }
    zx__client_destroy (&self->client);
    free (self->endpoint);
    free (self);
    *base_p = NULL;
}

static zx__backend_t *
s_new (zx_executor_t *front, const char *endpoint, const zx_executor_opts_t *opts)
{
    static const zx_executor_opts_t defaults;
    if (!opts)
        opts = &defaults;
    if (!endpoint || opts->heartbeat_ms < 0 || opts->liveness < 0)
        return NULL;
    s_remote_t *self = calloc (1, sizeof (s_remote_t));
    if (!self)
        return NULL;
    self->base = (zx__backend_t) { &s_ops, front };
    self->max_queue = opts->max_queue ? opts->max_queue : 1000000;
    self->endpoint = strdup (endpoint);
    self->client = zx__client_new_secure (endpoint, opts->service, opts->heartbeat_ms,
                                          opts->liveness, opts->curve_server_key,
                                          opts->curve_cert, s_idle, self);
    if (self->client)
        zx__client_set_reconnect (self->client, opts->reconnect_ms);
    if (!self->endpoint || !self->client) {
        zx__backend_t *base = &self->base;
        s_destroy (&base);
        return NULL;
    }
    return &self->base;
}

zx_executor_t *
zx_remote_executor_new (const char *endpoint, const zx_executor_opts_t *opts)
{
    zx_executor_t *front = zx__executor_new (opts);
    return zx__executor_open (front, front ? s_new (front, endpoint, opts) : NULL);
}

static zx_err_t
s_attach (zx__backend_t *base, zx_loop_t *loop)
{
    ((s_remote_t *) base)->loop = loop;
    return zx__client_attach (((s_remote_t *) base)->client, loop);
}

//  An actor message's future ended: its completion hears the encoded
//  result, or the error's text.
static void
s_bridge_done (zx_future_t *future, void *arg)
{
    s_bridge_t *bridge = (s_bridge_t *) arg;
    zx_err_t code = zx_future_error (future);
    const void *payload;
    size_t size = 0;
    zx_values_t *empty = NULL;
    if (code == ZX_OK) {
        const zx_values_t *result = zx_future_result (future);
        if (!result)
            result = empty = zx_values_new ();
        payload = result ? zx__values_data (result, &size) : "";
    }
    else {
        payload = zx_future_message (future);
        if (!payload)
            payload = zx_strerror (code);
        size = strlen (payload);
    }
    bridge->complete (bridge->cookie, code, payload, size);
    zx_values_destroy (&empty);
    zx_future_destroy (&future);
    free (bridge);
}

//  Sends an actor message (a relay by function) through the broker, to
//  its target when it has one.
static void
s_send_actor (s_remote_t *self, const zx__submission_t *sub, const zx__completion_t *done)
{
    zx_values_t *args = NULL;
    s_bridge_t *bridge = malloc (sizeof (s_bridge_t));
    zx_future_t *future = bridge && self->loop ? zx_future_new (self->loop) : NULL;
    if (!future) {
        free (bridge);
        zx__executor_refuse (done, ZX_ENOMEM, "out of memory");
        return;
    }
    if (zx__values_decode (sub->args, sub->args_size, &args) != ZX_OK) {
        free (bridge);
        zx_future_destroy (&future);
        zx__executor_refuse (done, ZX_EINVAL, "malformed arguments for task '%s'", sub->task);
        return;
    }
    *bridge = (s_bridge_t) { done->complete, done->cookie };
    //  The callback runs once the client ends the future, never now
    zx_future_add_done_callback (future, s_bridge_done, bridge);
    zx__client_submit_to (self->client, future, sub->task, sub->target, args, sub->flags);
}

static zx__request_t *
s_submit (zx__backend_t *base, const zx__submission_t *sub, const zx__completion_t *done)
{
    s_remote_t *self = (s_remote_t *) base;
    bool actor = !done->future && (strncmp (sub->task, "zx.actor.", 9) == 0
                                   || strncmp (sub->task, "zx.name.", 8) == 0);
    if (!done->future && !actor) {
        zx__executor_refuse (done, ZX_EINVAL, "a remote executor cannot relay");
        return NULL;
    }
    size_t outstanding = zx__client_outstanding (self->client);
    if (outstanding >= self->max_queue) {
        zx__executor_refuse (done, ZX_EQUEUE_FULL, "queue full: %zu requests are waiting "
                             "for an answer from the broker", outstanding);
        return NULL;
    }
    if (actor) {
        s_send_actor (self, sub, done);
        return NULL;
    }
    zx_values_t *args = NULL;
    if (sub->values_p) {
        args = *sub->values_p;
        *sub->values_p = NULL;
    }
    else
    if (zx__values_decode (sub->args, sub->args_size, &args) != ZX_OK) {
        zx__executor_refuse (done, ZX_EINVAL, "malformed arguments for task '%s'", sub->task);
        return NULL;
    }
    //  The client ends the future and sets its canceller: no handle
    zx__client_submit (self->client, done->future, sub->task, args, sub->flags);
    return NULL;
}

static void s_watch_submit (s_remote_t *self, s_watch_t *watch);

static void
s_watch_unlink (s_remote_t *self, s_watch_t *watch)
{
    for (s_watch_t **link = &self->watches; *link; link = &(*link)->next)
        if (*link == watch) {
            *link = watch->next;
            break;
        }
}

//  Watches again, a while after a watch ended without news of its worker.
static void
s_rewatch (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_watch_t *watch = (s_watch_t *) arg;
    watch->timer = 0;
    s_watch_submit (watch->remote, watch);
}

//  A watch ended: the broker says its worker is gone (["lost", cause]:
//  the actors there hear it), or it was cancelled, or it ended for a
//  reason that says nothing of the worker (the link to the broker lost,
//  this coordinator dropped by it): then it is sent again in a while.
static void
s_watch_done (zx_future_t *future, void *arg)
{
    s_watch_t *watch = (s_watch_t *) arg;
    s_remote_t *self = watch->remote;
    if (!self) {
        zx_future_destroy (&watch->future);
        free (watch);
        return;
    }
    self->watch_count--;
    zx__client_set_idle_at (self->client, self->watch_count);
    zx_err_t code = zx_future_error (future);
    const char *lost = NULL, *cause = NULL;
    if (code == ZX_OK) {
        const zx_values_t *result = zx_future_result (future);
        if (!result || zx_values_get_str (result, 0, &lost) != ZX_OK || strcmp (lost, "lost")
        ||  zx_values_get_str (result, 1, &cause) != ZX_OK)
            code = ZX_EPROTO;
    }
    if (watch->actors == 0 || code == ZX_EPROTO || code == ZX_ENOTASK) {
        //  Cancelled by us; or a broker that does not know watches (the
        //  death of an idle actor is then learnt from its next message)
        if (watch->actors > 0)
            zx_log_debug (zx_log_get ("zexec.actor"), "no watch of worker %s: %s",
                          watch->identity, zx_future_message (future));
        s_watch_unlink (self, watch);
        zx_future_destroy (&watch->future);
        free (watch);
        return;
    }
    if (code == ZX_OK) {
        s_watch_unlink (self, watch);
        char identity [256];
        snprintf (identity, sizeof identity, "%s", watch->identity);
        char *text = strdup (cause);
        zx_future_destroy (&watch->future);
        free (watch);
        zx__executor_worker_lost (self->base.front, identity,
                                  text ? text : "its serving worker left the broker");
        free (text);
        return;
    }
    zx_future_destroy (&watch->future);
    watch->timer = self->loop ? zx_loop_call_later (self->loop, S_REWATCH_MS, s_rewatch, watch)
                              : 0;
    if (!watch->timer) {
        s_watch_unlink (self, watch);
        free (watch);
    }
}

//  Sends watch's request: a future the broker ends when its worker goes.
static void
s_watch_submit (s_remote_t *self, s_watch_t *watch)
{
    zx_values_t *args = zx_values_pack ("s", watch->identity);
    watch->future = args ? zx_future_new (self->loop) : NULL;
    if (!watch->future
    ||  zx_future_add_done_callback (watch->future, s_watch_done, watch) != ZX_OK) {
        //  Without it, the death of an idle actor shows at its next message
        zx_future_destroy (&watch->future);
        zx_values_destroy (&args);
        s_watch_unlink (self, watch);
        free (watch);
        return;
    }
    self->watch_count++;
    zx__client_set_idle_at (self->client, self->watch_count);
    //  Ours stays ours: the client takes a reference of its own
    zx__client_submit (self->client, watch->future, ZX__ACTOR_WATCH, args, 0);
}

static void
s_watch_worker (zx__backend_t *base, const char *identity, bool on)
{
    s_remote_t *self = (s_remote_t *) base;
    s_watch_t *watch = self->watches;
    while (watch && (watch->actors == 0 || strcmp (watch->identity, identity) != 0))
        watch = watch->next;
    if (!on) {
        if (!watch || --watch->actors > 0)
            return;
        if (watch->future)
            zx_future_cancel (watch->future);       //  Its callback frees it
        else {
            zx_loop_cancel_timer (self->loop, watch->timer);
            s_watch_unlink (self, watch);
            free (watch);
        }
        return;
    }
    if (watch) {
        watch->actors++;
        return;
    }
    if (!self->loop || strlen (identity) >= sizeof watch->identity)
        return;
    watch = calloc (1, sizeof (s_watch_t));
    if (!watch)
        return;
    watch->remote = self;
    watch->actors = 1;
    snprintf (watch->identity, sizeof watch->identity, "%s", identity);
    watch->next = self->watches;
    self->watches = watch;
    s_watch_submit (self, watch);
}

static void
s_flush (zx__backend_t *base)
{
    zx__client_flush (((s_remote_t *) base)->client);
}

static void
s_counts (const zx__backend_t *base, size_t *waiting, size_t *held)
{
    const s_remote_t *self = (const s_remote_t *) base;
    size_t outstanding = zx__client_outstanding (self->client);
    *waiting = outstanding > self->watch_count ? outstanding - self->watch_count : 0;
    *held = 0;
}

//  A shutdown's deadline: the broker's answers are waited for until it
//  passes, then what is still out ends cancelled
static void
s_hasten (zx__backend_t *base, int stage, const char *text, zx_shutdown_report_t *report)
{
    s_remote_t *self = (s_remote_t *) base;
    if (stage != ZX__HASTEN_END)
        return;
    size_t count = zx__client_abandon_all (self->client, text);
    if (report)
        report->cancelled += count;
}

static const char *
s_endpoint (const zx__backend_t *base)
{
    return ((const s_remote_t *) base)->endpoint;
}

static const zx__executor_ops_t s_ops = {
    .relays = false,
    .signals_room = false,
    .places_actors = true,
    .attach = s_attach,
    .submit = s_submit,
    .flush = s_flush,
    .counts = s_counts,
    .hasten = s_hasten,
    .destroy = s_destroy,
    .endpoint = s_endpoint,
    .watch_worker = s_watch_worker,
};
