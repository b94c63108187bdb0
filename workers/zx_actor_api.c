/*  zx_actor_api.c - the public calls on actor references (actor.h):
    spawn, ready, ask, tell, wait for room, stop, monitor, destroy, and the
    getters.

    DESIGN: each call is a thin layer over the reference's state machine
    in zx_actor_ref.c: it checks its arguments, makes the future the
    caller gets, and posts a message or reads the state. Nothing here
    blocks but zx_actor_wait_room, which awaits a future that the state
    machine ends when the mailbox has room.                              */
#define _GNU_SOURCE
#include "zx_actor_ref.h"
#include "zx_actor_host.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_task.h"

#include <stdlib.h>
#include <string.h>

#define S_MAILBOX_DEFAULT   1000
#define S_WINDOW_DEFAULT_MS 60000

zx_actor_t *
zx_actor_spawn (zx_executor_t *executor, const char *type, zx_values_t **args_p,
                const zx_actor_opts_t *opts)
{
    zx_values_t *args = args_p ? *args_p : NULL;
    if (args_p)
        *args_p = NULL;
    zx_actor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    zx_loop_t *loop = NULL;
    zx_actor_t *self = NULL;
    if (!executor || !type || opts->max_restarts < 0 || opts->restart_window_ms < 0)
        goto fail;
    if (!zx__executor_loop_owned (executor, &loop)) {
        zx_log_error (zx_log_get ("zexec.actor"), "actor '%s' spawned from a thread that runs "
                      "no loop for its executor (or on an executor with a loop of its own)",
                      type);
        goto fail;
    }
    if (opts->registered && (!opts->name || !opts->name [0] || strlen (opts->name) > 200
                             || zx__executor_is_local (executor))) {
        zx_log_error (zx_log_get ("zexec.actor"), "actor '%s': a registered name needs "
                      "opts.name (1 to 200 bytes) and a remote executor (names live at "
                      "its broker)", type);
        goto fail;
    }
    zx__actor_host_init ();
    self = calloc (1, sizeof (zx_actor_t));
    if (!self)
        goto fail;
    self->refs = 1;
    self->executor = executor;
    self->loop = loop;
    self->log = zx_log_get ("zexec.actor");
    self->serial = atomic_fetch_add (&zx__actor_serial, 1) + 1;
    self->type = strdup (type);
    self->name = opts->name ? strdup (opts->name)
                            : zx__strdupf ("%s#%llu", type, (unsigned long long) self->serial);
    self->spawn_args = args;
    args = NULL;
    self->named = opts->registered;
    self->mailbox = opts->mailbox ? opts->mailbox : S_MAILBOX_DEFAULT;
    self->max_restarts = opts->max_restarts;
    self->window_ms = opts->restart_window_ms ? opts->restart_window_ms : S_WINDOW_DEFAULT_MS;
    self->deaths = calloc ((size_t) self->max_restarts + 1, sizeof (int64_t));
    if (!self->type || !self->name || !self->deaths
    ||  zx__executor_watch (executor, zx__actor_on_worker_lost, self) != ZX_OK) {
        self->executor = NULL;
        goto fail;
    }
    zx__actor_live_add (self);
    zx__actor_place (self);
    return self;

fail:
    zx_values_destroy (&args);
    if (self)
        zx__actor_free (self);
    return NULL;
}

zx_actor_t *
zx_actor_lookup (zx_executor_t *executor, const char *name, const zx_actor_opts_t *opts)
{
    zx_actor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    zx_loop_t *loop = NULL;
    if (!executor || !name || !name [0] || strlen (name) > 200 || zx__executor_is_local (executor)
    ||  !zx__executor_loop_owned (executor, &loop))
        return NULL;
    zx_actor_t *self = calloc (1, sizeof (zx_actor_t));
    if (!self)
        return NULL;
    self->refs = 1;
    self->executor = executor;
    self->loop = loop;
    self->borrowed = true;
    self->log = zx_log_get ("zexec.actor");
    self->serial = atomic_fetch_add (&zx__actor_serial, 1) + 1;
    self->type = strdup ("?");
    self->name = strdup (name);
    self->mailbox = opts->mailbox ? opts->mailbox : S_MAILBOX_DEFAULT;
    self->window_ms = S_WINDOW_DEFAULT_MS;
    self->deaths = calloc (1, sizeof (int64_t));
    if (!self->type || !self->name || !self->deaths
    ||  zx__executor_watch (executor, zx__actor_on_worker_lost, self) != ZX_OK) {
        self->executor = NULL;
        zx__actor_free (self);
        return NULL;
    }
    zx__actor_live_add (self);
    zx__actor_place (self);
    return self;
}

zx_future_t *
zx_actor_ready (zx_actor_t *self)
{
    if (!self)
        return NULL;
    zx_future_t *future = zx_future_new (self->loop);
    if (!future)
        return NULL;
    if (self->state == ZX__ACTOR_LIVE || (self->placed_once && self->state != ZX__ACTOR_ENDED)) {
        zx_values_t *result = zx_values_pack ("si", self->worker, (int64_t) self->pid);
        zx_future_set_result (future, &result);
        zx_values_destroy (&result);
    }
    else
    if (self->state == ZX__ACTOR_ENDED)
        zx_future_set_error (future, self->end_code == ZX_OK ? ZX_EACTOR_STOPPED
                             : self->end_code, "%s", self->end_text ? self->end_text : "");
    else {
        if (!self->ready)
            self->ready = zx_future_new (self->loop);
        if (!self->ready) {
            zx_future_destroy (&future);
            return NULL;
        }
        //  Chain: the shared one ends this one
        zx_future_destroy (&future);
        return zx__future_ref (self->ready);
    }
    return future;
}

zx_future_t *
zx_actor_ask (zx_actor_t *self, const char *message, zx_values_t **args_p)
{
    if (!self) {
        if (args_p)
            zx_values_destroy (args_p);
        return NULL;
    }
    zx_future_t *future = zx_future_new (self->loop);
    if (!future) {
        if (args_p)
            zx_values_destroy (args_p);
        return NULL;
    }
    if (!message || !*message) {
        if (args_p)
            zx_values_destroy (args_p);
        zx_future_set_error (future, ZX_EINVAL, "actor %s: empty message name", self->name);
        return future;
    }
    zx__actor_post (self, ZX__MSG_ASK, message, args_p, future);
    return future;
}

zx_err_t
zx_actor_tell (zx_actor_t *self, const char *message, zx_values_t **args_p)
{
    if (!self || !message || !*message) {
        if (args_p)
            zx_values_destroy (args_p);
        return ZX_EINVAL;
    }
    return zx__actor_post (self, ZX__MSG_TELL, message, args_p, NULL);
}

zx_err_t
zx_actor_wait_room (zx_actor_t *self)
{
    if (!self)
        return ZX_EINVAL;
    if (!zx_in_coro ())
        return ZX_EBUSY;
    while (self->pending >= self->mailbox && self->state != ZX__ACTOR_ENDED) {
        if (!self->room && !(self->room = zx_future_new (self->loop)))
            return ZX_ENOMEM;
        zx_future_t *room = zx__future_ref (self->room);
        zx_err_t rc = zx_await (room);
        zx_future_destroy (&room);
        if (rc != ZX_OK)
            return rc;
    }
    return self->state == ZX__ACTOR_ENDED || self->state == ZX__ACTOR_STOPPING ? ZX_EACTOR_STOPPED : ZX_OK;
}

zx_future_t *
zx_actor_stop (zx_actor_t *self)
{
    if (!self)
        return NULL;
    zx_future_t *future = zx_future_new (self->loop);
    if (!future)
        return NULL;
    if (self->state == ZX__ACTOR_ENDED) {
        if (self->end_code == ZX_OK)
            zx_future_set_result (future, NULL);
        else
            zx_future_set_error (future, self->end_code, "%s", self->end_text);
        return future;
    }
    if (self->state == ZX__ACTOR_STOPPING) {
        //  One stop is on its way: a monitor ends when it has
        zx_future_destroy (&future);
        return zx_actor_monitor (self);
    }
    //  A stop is never refused for a full mailbox: it counts, but goes
    size_t mailbox = self->mailbox;
    self->mailbox = SIZE_MAX;
    zx__actor_post (self, ZX__MSG_STOP, "stop", NULL, future);
    self->mailbox = mailbox;
    return future;
}

zx_future_t *
zx_actor_monitor (zx_actor_t *self)
{
    if (!self)
        return NULL;
    zx_future_t *future = zx_future_new (self->loop);
    if (!future)
        return NULL;
    if (self->state == ZX__ACTOR_ENDED) {
        if (self->end_code == ZX_OK) {
            zx_values_t *result = zx_values_pack ("s", "stopped");
            zx_future_set_result (future, &result);
            zx_values_destroy (&result);
        }
        else
            zx_future_set_error (future, self->end_code, "%s", self->end_text);
        return future;
    }
    zx_future_t **grown = realloc (self->monitors, (self->monitor_count + 1) * sizeof *grown);
    if (!grown) {
        zx_future_destroy (&future);
        return NULL;
    }
    self->monitors = grown;
    self->monitors [self->monitor_count++] = zx__future_ref (future);
    return future;
}

void
zx_actor_on_event (zx_actor_t *self, zx_actor_event_fn *fn, void *arg)
{
    if (!self)
        return;
    self->event_fn = fn;
    self->event_arg = arg;
}

void
zx_actor_destroy (zx_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_actor_t *self = *self_p;
    *self_p = NULL;
    self->destroyed = true;
    self->event_fn = NULL;
    if (!self->borrowed
    &&  (self->state == ZX__ACTOR_LIVE || self->state == ZX__ACTOR_PLACING)) {
        self->mailbox = SIZE_MAX;
        zx__actor_post (self, ZX__MSG_STOP, "stop", NULL, NULL);
    }
    zx__actor_unref (self);
}

const char *
zx_actor_name (const zx_actor_t *self)
{
    return self ? self->name : "";
}

const char *
zx_actor_worker (const zx_actor_t *self)
{
    return self && self->state == ZX__ACTOR_LIVE ? self->worker : "";
}

pid_t
zx_actor_pid (const zx_actor_t *self)
{
    return self && self->state == ZX__ACTOR_LIVE ? self->pid : 0;
}

int
zx_actor_restarts (const zx_actor_t *self)
{
    return self ? self->restarts : 0;
}

size_t
zx_actor_tell_failures (const zx_actor_t *self)
{
    return self ? self->tell_failures : 0;
}

size_t
zx_actor_pending (const zx_actor_t *self)
{
    return self ? self->pending : 0;
}
