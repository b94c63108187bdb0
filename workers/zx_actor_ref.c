/*  zx_actor_ref.c - the coordinator's side of stateful actors: the
    reference's state machine (placement, sending, completions, deaths,
    restarts); the public calls are in zx_actor_api.c.

    DESIGN: a reference is a small state machine on the executor's loop
    (placing, live, stopping, ended) over the pool's own request path:
    each message is a relay-style request (encoded arguments in, a
    completion function out, no future in between) of a reserved task
    (zx_actor_host.c), and once the spawn's reply names the worker that
    hosts the actor, every message is bound to that worker (affinity:
    zx__dispatch_submit_to). Messages sent while the actor is being placed
    wait in the reference, in order, and count against its mailbox as
    those in flight do.

    Death comes in two ways, whichever first: a message in flight fails
    with ZX_EWORKER_LOST, or the executor says the worker is gone (a watch
    on the executor), which also catches an idle actor: a pool knows its
    workers; a remote executor watches the serving worker of each placed
    actor at the broker (zx__executor_watch_worker). Each incarnation has
    a generation; only news about the current one counts, so one death is
    handled once. A restart is scheduled on the loop, never run inside
    the dispatcher's completion, whose worker table is being changed.

    Every message holds a reference count on the zx_actor_t, so that its
    completion always finds it: zx_actor_destroy marks it and sends a
    stop, and the last completion frees it.                              */
#define _GNU_SOURCE
#include "zx_actor_ref.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_actor_host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

atomic_uint_fast64_t zx__actor_serial;

//  Every reference, for placement: a spawn goes to the ready worker that
//  hosts the fewest actors of its executor. References live on several
//  loops' threads: the list has a lock, and a reference's executor is
//  written under it; the other fields read here are only read for the
//  references of the same executor, which live on the caller's thread.
static pthread_mutex_t s_live_mutex = PTHREAD_MUTEX_INITIALIZER;
static zx_actor_t *s_live;

void
zx__actor_live_add (zx_actor_t *self)
{
    pthread_mutex_lock (&s_live_mutex);
    self->next_live = s_live;
    s_live = self;
    pthread_mutex_unlock (&s_live_mutex);
}

static void
s_live_remove (zx_actor_t *self)
{
    pthread_mutex_lock (&s_live_mutex);
    for (zx_actor_t **link = &s_live; *link; link = &(*link)->next_live)
        if (*link == self) {
            *link = self->next_live;
            break;
        }
    pthread_mutex_unlock (&s_live_mutex);
}

//  Picks the ready worker of self's executor hosting the fewest of its
//  actors (the first such in the dispatcher's order) into target; returns
//  false when no worker is ready (the spawn then goes to the first one).
static bool
s_pick_worker (zx_actor_t *self, char *target, size_t size)
{
    char ids [64][64];
    size_t count = zx__executor_ready_ids (self->executor, ids, 64);
    if (count == 0)
        return false;
    size_t best = 0, best_load = SIZE_MAX;
    pthread_mutex_lock (&s_live_mutex);
    for (size_t i = 0; i < count; i++) {
        size_t load = 0;
        for (zx_actor_t *actor = s_live; actor; actor = actor->next_live)
            if (actor != self && actor->executor == self->executor
            &&  actor->state != ZX__ACTOR_ENDED && strcmp (actor->worker, ids [i]) == 0)
                load++;
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    pthread_mutex_unlock (&s_live_mutex);
    snprintf (target, size, "%s", ids [best]);
    return true;
}

static void s_send (zx_actor_t *self, zx__actor_msg_t *msg);
static void s_msg_done (void *cookie, zx_err_t code, const void *payload, size_t size);

static void s_flush_lost (zx_actor_t *self, const char *cause);
static void s_register (zx_actor_t *self);
static void s_ignore_done (void *cookie, zx_err_t code, const void *payload, size_t size);
static void s_send_stop_to (zx_actor_t *self, const char *worker);
static void s_spawn_done (void *cookie, zx_err_t code, const void *payload, size_t size);
static void s_park_lost (zx_actor_t *self, zx__actor_msg_t *msg);

#define S_CAUSE_WAIT_MS 2000        //  For the pool to say why a worker went

//  --------------------------------------------------------------------
//  Lifetime

//  The actor has left the serving worker it was watched on (remote).
static void
s_unwatch (zx_actor_t *self)
{
    if (self->watched [0] && self->executor)
        zx__executor_watch_worker (self->executor, self->watched, false);
    self->watched [0] = 0;
}

//  The actor is placed: a remote executor watches its serving worker, so
//  that its loss is heard with no message out.
static void
s_watch (zx_actor_t *self)
{
    s_unwatch (self);
    if (!self->executor || zx__executor_is_local (self->executor) || !self->worker [0])
        return;
    snprintf (self->watched, sizeof self->watched, "%s", self->worker);
    zx__executor_watch_worker (self->executor, self->watched, true);
}

void
zx__actor_free (zx_actor_t *self)
{
    s_live_remove (self);
    s_unwatch (self);
    if (self->executor)
        zx__executor_unwatch (self->executor, zx__actor_on_worker_lost, self);
    zx_future_destroy (&self->ready);
    zx_future_destroy (&self->room);
    for (size_t i = 0; i < self->monitor_count; i++)
        zx_future_destroy (&self->monitors [i]);
    free (self->monitors);
    zx_values_destroy (&self->spawn_args);
    free (self->deaths);
    free (self->end_text);
    free (self->type);
    free (self->name);
    free (self);
}

void
zx__actor_unref (zx_actor_t *self)
{
    if (--self->refs == 0)
        zx__actor_free (self);
}

static void
s_event (zx_actor_t *self, zx_actor_event_t event, const char *text)
{
    if (self->event_fn)
        self->event_fn (self, event, text, self->event_arg);
}

//  Sets future (ours, not done yet by us) to fail with code and text,
//  unless its holder ended it already (cancelled).
static void
s_fail_future (zx_future_t *future, zx_err_t code, const char *text)
{
    if (future && !zx_future_done (future))
        zx_future_set_error (future, code, "%s", text);
}

static zx__actor_msg_t *
s_msg_new (zx_actor_t *self, zx__actor_kind_t kind, const char *handler)
{
    zx__actor_msg_t *msg = calloc (1, sizeof (zx__actor_msg_t) + strlen (handler) + 1);
    if (!msg)
        return NULL;
    msg->actor = self;
    msg->kind = kind;
    strcpy (msg->handler, handler);
    self->refs++;
    return msg;
}

static void
s_msg_free (zx__actor_msg_t *msg)
{
    zx_actor_t *actor = msg->actor;
    zx_future_destroy (&msg->future);
    zx_values_destroy (&msg->args);
    free (msg);
    zx__actor_unref (actor);
}

//  A message was answered or failed: it leaves the mailbox.
static void
s_mailbox_out (zx_actor_t *self)
{
    if (self->pending > 0)
        self->pending--;
    if (self->room && (self->pending < self->mailbox || self->state == ZX__ACTOR_ENDED)) {
        zx_future_set_result (self->room, NULL);
        zx_future_destroy (&self->room);
    }
}

//  The actor has ended for good: with ZX_OK when it stopped, else code.
//  What waits for a placement fails; monitors end.
static void
s_end (zx_actor_t *self, zx_err_t code, const char *text)
{
    if (self->state == ZX__ACTOR_ENDED)
        return;
    self->state = ZX__ACTOR_ENDED;
    self->end_code = code;
    s_unwatch (self);
    if (self->named && self->executor) {
        //  Its name goes with it (the broker also drops it with its worker)
        zx__actor_msg_t *msg = s_msg_new (self, ZX__MSG_SPAWN, "");
        zx_values_t *args = msg ? zx_values_pack ("s", self->name) : NULL;
        size_t size;
        const void *data = args ? zx__values_data (args, &size) : NULL;
        if (data) {
            msg->gen = (unsigned) -1;
            zx__executor_send_to (self->executor, self->loop, NULL, ZX__NAME_UNREGISTER, data,
                                  size, s_ignore_done, msg);
        }
        else
        if (msg)
            s_msg_free (msg);
        zx_values_destroy (&args);
    }
    free (self->end_text);
    self->end_text = strdup (text);
    self->worker [0] = 0;
    if (code == ZX_OK || self->destroyed)
        zx_log_debug (self->log, "actor %s ended: %s", self->name, text);
    else
        zx_log_warning (self->log, "%s", text);
    if (self->ready && !zx_future_done (self->ready))
        s_fail_future (self->ready, code == ZX_OK ? ZX_EACTOR_STOPPED : code, text);
    while (self->wait_head) {
        zx__actor_msg_t *msg = self->wait_head;
        self->wait_head = msg->next;
        if (msg->kind == ZX__MSG_STOP && code == ZX_OK && msg->future && !zx_future_done (msg->future))
            zx_future_set_result (msg->future, NULL);
        else
            s_fail_future (msg->future, code == ZX_OK ? ZX_EACTOR_STOPPED : code, text);
        if (msg->kind == ZX__MSG_TELL && code != ZX_OK)
            self->tell_failures++;
        s_mailbox_out (self);
        s_msg_free (msg);
    }
    self->wait_tail = NULL;
    for (size_t i = 0; i < self->monitor_count; i++) {
        if (code == ZX_OK) {
            zx_values_t *result = zx_values_pack ("s", "stopped");
            zx_future_set_result (self->monitors [i], &result);
            zx_values_destroy (&result);
        }
        else
            s_fail_future (self->monitors [i], code, text);
        zx_future_destroy (&self->monitors [i]);
    }
    self->monitor_count = 0;
    if (self->room) {
        zx_future_set_result (self->room, NULL);
        zx_future_destroy (&self->room);
    }
    s_event (self, code == ZX_OK ? ZX_ACTOR_STOPPED : ZX_ACTOR_GAVE_UP, text);
}

//  --------------------------------------------------------------------
//  Death and restarts

static void
s_restart (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_actor_t *self = (zx_actor_t *) arg;
    if (self->state == ZX__ACTOR_PLACING && self->executor)
        zx__actor_place (self);
    zx__actor_unref (self);
}

//  The current incarnation's worker is gone, for cause.
static void
s_died (zx_actor_t *self, const char *cause_in)
{
    //  "CAUSE; task 'zx.actor.msg' was lost": the cause is the first part
    char cause [400];
    snprintf (cause, sizeof cause, "%s", cause_in);
    char *task_part = strstr (cause, "; task '");
    if (task_part)
        *task_part = 0;
    char text [700];
    snprintf (text, sizeof text, "actor %s died with its worker %s (pid %d): %s",
              self->name, self->worker, (int) self->pid, cause);
    zx_log_warning (self->log, "%s", text);
    self->worker [0] = 0;
    s_unwatch (self);
    s_event (self, ZX_ACTOR_DIED, text);
    if (self->destroyed || !self->executor || self->stop_posted) {
        s_end (self, ZX_EWORKER_LOST, text);
        return;
    }
    if (self->max_restarts == 0) {
        s_end (self, ZX_EWORKER_LOST, text);
        return;
    }
    //  Deaths within the window, this one included
    int64_t now = zx_loop_time (self->loop);
    size_t slots = (size_t) self->max_restarts + 1;
    self->deaths [self->death_count++ % slots] = now;
    size_t recent = 0;
    for (size_t i = 0; i < slots && i < self->death_count; i++)
        if (now - self->deaths [i] <= self->window_ms)
            recent++;
    if (recent > (size_t) self->max_restarts) {
        char gave_up [1000];
        snprintf (gave_up, sizeof gave_up, "actor %s gave up: it died %zu times within %lld ms "
                  "(max_restarts %d); last: %s", self->name, recent,
                  (long long) self->window_ms, self->max_restarts, text);
        s_end (self, ZX_EACTOR_STOPPED, gave_up);
        return;
    }
    self->restarts++;
    self->state = ZX__ACTOR_PLACING;
    char restarting [200];
    snprintf (restarting, sizeof restarting, "actor %s restarting (restart %d of at most %d "
              "within %lld ms)", self->name, self->restarts, self->max_restarts,
              (long long) self->window_ms);
    zx_log_info (self->log, "%s", restarting);
    s_event (self, ZX_ACTOR_RESTARTING, restarting);
    self->refs++;
    if (zx_loop_call_soon (self->loop, s_restart, self) != ZX_OK) {
        self->refs--;
        s_end (self, ZX_ENOMEM, "cannot schedule the restart");
    }
}

void
zx__actor_on_worker_lost (void *arg, const char *identity, const char *cause)
{
    zx_actor_t *self = (zx_actor_t *) arg;
    if (!identity) {
        //  The executor is being destroyed: its watch is dropped with it.
        //  Other threads' placements read the field under the lock
        pthread_mutex_lock (&s_live_mutex);
        self->executor = NULL;
        pthread_mutex_unlock (&s_live_mutex);
        char text [300];
        snprintf (text, sizeof text, "actor %s: its executor was destroyed", self->name);
        s_end (self, ZX_ESHUTDOWN, text);
        return;
    }
    if ((self->state == ZX__ACTOR_LIVE || self->state == ZX__ACTOR_STOPPING)
    &&  strcmp (identity, self->worker) == 0) {
        bool timer = self->lost_timer && zx_loop_cancel_timer (self->loop, self->lost_timer);
        self->lost_timer = 0;
        s_flush_lost (self, cause);
        if (timer)
            zx__actor_unref (self);         //  The timer's reference
    }
}

//  --------------------------------------------------------------------
//  Completions

//  Copies the message part of an error payload (it ends at a NUL).
static void
s_payload_text (char *text, size_t size, const void *payload, size_t payload_size)
{
    size_t length = strnlen ((const char *) payload, payload_size);
    if (length >= size)
        length = size - 1;
    memcpy (text, payload, length);
    text [length] = 0;
}

//  Stops the current incarnation's actor on worker, whose placement is
//  no longer wanted; its reply is dropped.
static void
s_send_stop_to (zx_actor_t *self, const char *worker)
{
    if (!self->executor)
        return;
    zx_values_t *args = zx_values_pack ("s", self->id);
    size_t args_size;
    const void *data = args ? zx__values_data (args, &args_size) : NULL;
    zx__actor_msg_t *stop = data ? s_msg_new (self, ZX__MSG_STOP, "") : NULL;
    if (stop) {
        stop->gen = (unsigned) -1;
        zx__executor_send_to (self->executor, self->loop, worker, ZX__ACTOR_STOP,
                              data, args_size, s_spawn_done, stop);
    }
    zx_values_destroy (&args);
}

//  The current incarnation is where self->worker says: what waited goes.
static void
s_placed (zx_actor_t *self)
{
    self->state = ZX__ACTOR_LIVE;
    char text [600];
    snprintf (text, sizeof text, "actor %s placed on worker %s (pid %d)", self->name,
              self->worker, (int) self->pid);
    zx_log_debug (self->log, "%s", text);
    if (self->ready && !zx_future_done (self->ready)) {
        zx_values_t *result = zx_values_pack ("si", self->worker, (int64_t) self->pid);
        zx_future_set_result (self->ready, &result);
        zx_values_destroy (&result);
    }
    self->placed_once = true;
    self->place_attempts = 0;
    s_watch (self);
    s_event (self, ZX_ACTOR_PLACED, text);
    //  What waited goes now, in order; a stop among it ends the sending
    while (self->wait_head && self->state == ZX__ACTOR_LIVE) {
        zx__actor_msg_t *next = self->wait_head;
        self->wait_head = next->next;
        if (!self->wait_head)
            self->wait_tail = NULL;
        s_send (self, next);
    }
}

//  A reply nobody waits for (a name dropped).
static void
s_ignore_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    (void) code;
    (void) payload;
    (void) size;
    s_msg_free ((zx__actor_msg_t *) cookie);
}

//  The name of a placed actor is registered at the broker.
static void
s_registered (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__actor_msg_t *msg = (zx__actor_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    if (msg->gen == self->gen && self->state == ZX__ACTOR_PLACING) {
        if (code == ZX_OK)
            s_placed (self);
        else {
            char cause [600], text [900];
            s_payload_text (cause, sizeof cause, payload, size);
            snprintf (text, sizeof text, "actor %s: its name was not registered: %s",
                      self->name, cause);
            //  The actor placed without its name goes
            s_send_stop_to (self, self->worker);
            //  The broker's refusal (a name taken) comes as a task error
            s_end (self, code == ZX_ETASK ? ZX_EINVAL : code, text);
        }
    }
    s_msg_free (msg);
}

//  Registers the placed actor's name at the broker: where it lives.
static void
s_register (zx_actor_t *self)
{
    zx__actor_msg_t *msg = s_msg_new (self, ZX__MSG_SPAWN, "");
    zx_values_t *args = zx_values_pack ("ssssi", self->name, self->worker, self->id, self->type,
                                        (int64_t) self->pid);
    if (!msg || !args) {
        if (msg)
            s_msg_free (msg);
        zx_values_destroy (&args);
        s_end (self, ZX_ENOMEM, "out of memory registering an actor's name");
        return;
    }
    msg->gen = self->gen;
    size_t size;
    const void *data = zx__values_data (args, &size);
    zx__executor_send_to (self->executor, self->loop, NULL, ZX__NAME_REGISTER, data, size,
                          s_registered, msg);
    zx_values_destroy (&args);
}

//  A borrowed reference's lookup came back: [worker, actor id, type, pid].
static void
s_lookup_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__actor_msg_t *msg = (zx__actor_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    zx_values_t *reply = NULL;
    const char *worker = NULL, *id = NULL, *type = NULL;
    int64_t pid = 0;
    if (code == ZX_OK
    &&  (zx__values_decode (payload, size, &reply) != ZX_OK
    ||   zx_values_get_str (reply, 0, &worker) != ZX_OK
    ||   zx_values_get_str (reply, 1, &id) != ZX_OK
    ||   zx_values_get_str (reply, 2, &type) != ZX_OK
    ||   zx_values_get_int (reply, 3, &pid) != ZX_OK
    ||   strlen (worker) >= sizeof self->worker || strlen (id) >= sizeof self->id)) {
        code = ZX_EPROTO;
        payload = "malformed name lookup reply";
        size = strlen (payload);
    }
    if (msg->gen == self->gen && self->state == ZX__ACTOR_PLACING) {
        if (code == ZX_OK) {
            snprintf (self->worker, sizeof self->worker, "%s", worker);
            snprintf (self->id, sizeof self->id, "%s", id);
            self->pid = (pid_t) pid;
            char *copy = strdup (type);
            if (copy) {
                free (self->type);
                self->type = copy;
            }
            s_placed (self);
        }
        else {
            char cause [600], text [900];
            s_payload_text (cause, sizeof cause, payload, size);
            snprintf (text, sizeof text, "actor %s: cannot find it by name: %s", self->name,
                      cause);
            s_end (self, ZX_EACTOR_STOPPED, text);
        }
    }
    zx_values_destroy (&reply);
    s_msg_free (msg);
}

static void
s_spawn_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__actor_msg_t *msg = (zx__actor_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    bool current = msg->gen == self->gen && self->state == ZX__ACTOR_PLACING;
    zx_values_t *reply = NULL;
    const char *identity = NULL;
    int64_t pid = 0;
    if (code == ZX_OK
    &&  (zx__values_decode (payload, size, &reply) != ZX_OK
    ||   zx_values_get_str (reply, 0, &identity) != ZX_OK
    ||   zx_values_get_int (reply, 1, &pid) != ZX_OK || strlen (identity) >= sizeof self->worker)) {
        code = ZX_EPROTO;
        payload = "malformed spawn reply";
        size = strlen (payload);
    }
    if (!current) {
        //  A stale placement (the reference ended meanwhile): let it go
        if (code == ZX_OK)
            s_send_stop_to (self, identity);
    }
    else
    if (code == ZX_OK && self->named) {
        //  Live once its name is registered at the broker
        snprintf (self->worker, sizeof self->worker, "%s", identity);
        self->pid = (pid_t) pid;
        s_register (self);
    }
    else
    if (code == ZX_OK) {
        snprintf (self->worker, sizeof self->worker, "%s", identity);
        self->pid = (pid_t) pid;
        s_placed (self);
    }
    else
    if (code == ZX_EWORKER_LOST && ++self->place_attempts <= 3) {
        //  The worker went before the actor was made there: no actor
        //  died, the spawn goes again (elsewhere)
        self->worker [0] = 0;
        self->refs++;
        if (zx_loop_call_soon (self->loop, s_restart, self) != ZX_OK) {
            self->refs--;
            s_end (self, ZX_ENOMEM, "cannot schedule the spawn again");
        }
    }
    else {
        char cause [600], text [900];
        s_payload_text (cause, sizeof cause, payload, size);
        snprintf (text, sizeof text, "actor %s: %s failed: %s", self->name,
                  self->placed_once ? "its restart" : "its spawn", cause);
        s_end (self, code == ZX_ESHUTDOWN ? ZX_ESHUTDOWN
                   : self->placed_once ? ZX_EACTOR_STOPPED : code, text);
    }
    zx_values_destroy (&reply);
    s_msg_free (msg);
}

//  A tell (or the stop of a destroyed reference) ended badly: said once.
static void
s_tell_failed (zx_actor_t *self, const char *handler, zx_err_t code, const char *text)
{
    self->tell_failures++;
    zx_log_warning (self->log, "actor %s: tell '%s' failed (%s): %s", self->name, handler,
                    zx_strerror (code), text);
}

//  Ends the messages held for the cause with cause, and the actor's
//  incarnation with them.
static void
s_flush_lost (zx_actor_t *self, const char *cause)
{
    self->lost_flushing = true;
    zx__actor_msg_t *msg;
    while ((msg = self->lost_head)) {
        self->lost_head = msg->next;
        msg->next = NULL;
        s_msg_done (msg, ZX_EWORKER_LOST, cause, strlen (cause));
    }
    self->lost_tail = NULL;
    self->lost_flushing = false;
    if (self->state == ZX__ACTOR_LIVE || self->state == ZX__ACTOR_STOPPING)
        s_died (self, cause);
}

static void
s_lost_timeout (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_actor_t *self = (zx_actor_t *) arg;
    self->lost_timer = 0;
    s_flush_lost (self, "its worker vanished, and the pool did not say why");
    zx__actor_unref (self);
}

//  Holds msg, lost with a worker the dispatcher found gone before the
//  pool learnt why, until the pool says (zx__actor_on_worker_lost), so that its
//  error names pid and signal; S_CAUSE_WAIT_MS at most.
static void
s_park_lost (zx_actor_t *self, zx__actor_msg_t *msg)
{
    msg->next = NULL;
    if (self->lost_tail)
        self->lost_tail->next = msg;
    else
        self->lost_head = msg;
    self->lost_tail = msg;
    if (!self->lost_timer) {
        self->lost_timer = zx_loop_call_later (self->loop, S_CAUSE_WAIT_MS, s_lost_timeout, self);
        if (self->lost_timer)
            self->refs++;
    }
}

static void
s_msg_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__actor_msg_t *msg = (zx__actor_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    bool current = msg->gen == self->gen;
    //  (A local pool says why its worker went; a broker's error says it)
    if (code == ZX_EWORKER_LOST && current && !self->lost_flushing
    &&  self->executor && zx__executor_is_local (self->executor)
    &&  (self->state == ZX__ACTOR_LIVE || self->state == ZX__ACTOR_STOPPING)
    &&  (memmem (payload, size, "worker vanished", 15) || memmem (payload, size, " is gone", 8))) {
        s_park_lost (self, msg);
        return;
    }
    s_mailbox_out (self);
    if (code == ZX_OK && msg->kind == ZX__MSG_STOP) {
        if (msg->future && !zx_future_done (msg->future))
            zx_future_set_result (msg->future, NULL);
        if (current)
            s_end (self, ZX_OK, "stopped");
        s_msg_free (msg);
        return;
    }
    if (code == ZX_OK) {
        zx_values_t *reply = NULL;
        int64_t kind = -1;
        const zx_values_t *value = NULL;
        const char *text = NULL;
        if (zx__values_decode (payload, size, &reply) == ZX_OK
        &&  zx_values_get_int (reply, 0, &kind) == ZX_OK
        &&  (kind == 2 ? zx_values_get_list (reply, 1, &value) == ZX_OK
                         && zx_values_get_str (value, 0, &text) == ZX_OK
                       : zx_values_get_list (reply, 1, &value) == ZX_OK)) {
            if (kind == 2) {
                char message [600];
                snprintf (message, sizeof message, "actor %s: %s", self->name, text);
                s_fail_future (msg->future, ZX_EACTOR_STOPPED, message);
                if (msg->kind == ZX__MSG_TELL)
                    s_tell_failed (self, msg->handler, ZX_EACTOR_STOPPED, message);
                if (current)
                    s_end (self, ZX_OK, "stopped");
            }
            else {
                if (msg->future && !zx_future_done (msg->future)) {
                    zx_values_t *result = zx_values_dup (value);
                    if (result)
                        zx_future_set_result (msg->future, &result);
                    else
                        zx_future_set_error (msg->future, ZX_ENOMEM, "out of memory");
                    zx_values_destroy (&result);
                }
                if (kind == 1 && current) {
                    char message [300];
                    snprintf (message, sizeof message, "actor %s stopped itself in its "
                              "handler '%s'", self->name, msg->handler);
                    s_end (self, ZX_OK, message);
                }
            }
        }
        else {
            s_fail_future (msg->future, ZX_EPROTO, "malformed actor reply from a worker");
            if (msg->kind == ZX__MSG_TELL)
                s_tell_failed (self, msg->handler, ZX_EPROTO, "malformed reply");
        }
        zx_values_destroy (&reply);
        s_msg_free (msg);
        return;
    }
    char cause [600], text [1200];
    s_payload_text (cause, sizeof cause, payload, size);
    if (code == ZX_EWORKER_LOST) {
        const char *worker = current && self->worker [0] ? self->worker : "?";
        snprintf (text, sizeof text, "actor %s (type %s) was lost with its worker %s (pid %d), "
                  "its message '%s' unanswered (it may have run partly): %s", self->name,
                  self->type, worker, (int) self->pid, msg->handler, cause);
        if (current && (self->state == ZX__ACTOR_LIVE || self->state == ZX__ACTOR_STOPPING))
            s_died (self, cause);
    }
    else
        snprintf (text, sizeof text, "actor %s, message '%s': %s", self->name, msg->handler,
                  cause);
    if (msg->future && !zx_future_done (msg->future)) {
        zx__executor_error_info (msg->future, code, payload, size);
        zx_future_set_error (msg->future, code, "%s", text);
    }
    if (msg->kind == ZX__MSG_TELL)
        s_tell_failed (self, msg->handler, code, text);
    if (msg->kind == ZX__MSG_STOP && current)
        s_end (self, code, text);
    s_msg_free (msg);
}

//  --------------------------------------------------------------------
//  Sending

//  Sends a message to the live actor's worker; it completes through
//  s_msg_done, possibly now.
static void
s_send (zx_actor_t *self, zx__actor_msg_t *msg)
{
    msg->gen = self->gen;
    zx_values_t *args = zx_values_new ();
    bool ok = args && zx_values_add_str (args, self->id) == ZX_OK;
    if (ok && msg->kind != ZX__MSG_STOP) {
        ok = zx_values_add_str (args, msg->handler) == ZX_OK;
        if (!msg->args)
            msg->args = zx_values_new ();
        ok = ok && msg->args && zx_values_add_values (args, &msg->args) == ZX_OK;
    }
    if (msg->kind == ZX__MSG_STOP)
        self->state = ZX__ACTOR_STOPPING;
    if (!ok || !self->executor) {
        zx_values_destroy (&args);
        const char *why = ok ? "its executor was destroyed" : "out of memory";
        s_msg_done (msg, ok ? ZX_ESHUTDOWN : ZX_ENOMEM, why, strlen (why));
        return;
    }
    size_t size;
    const void *data = zx__values_data (args, &size);
    zx__executor_send_to (self->executor, self->loop, self->worker,
                          msg->kind == ZX__MSG_STOP ? ZX__ACTOR_STOP : ZX__ACTOR_MSG,
                          data, size, s_msg_done, msg);
    zx_values_destroy (&args);
}

//  Sends the spawn of a new incarnation.
void
zx__actor_place (zx_actor_t *self)
{
    self->gen++;
    if (self->borrowed) {
        self->state = ZX__ACTOR_PLACING;
        zx__actor_msg_t *msg = s_msg_new (self, ZX__MSG_SPAWN, "");
        zx_values_t *args = zx_values_pack ("s", self->name);
        if (!msg || !args) {
            if (msg)
                s_msg_free (msg);
            zx_values_destroy (&args);
            s_end (self, ZX_ENOMEM, "out of memory looking up an actor");
            return;
        }
        msg->gen = self->gen;
        size_t size;
        const void *data = zx__values_data (args, &size);
        zx__executor_send_to (self->executor, self->loop, NULL, ZX__NAME_LOOKUP, data, size,
                              s_lookup_done, msg);
        zx_values_destroy (&args);
        return;
    }
    snprintf (self->id, sizeof self->id, "%d.%llu.%u", (int) getpid (),
              (unsigned long long) self->serial, self->gen);
    self->state = ZX__ACTOR_PLACING;
    zx__actor_msg_t *msg = s_msg_new (self, ZX__MSG_SPAWN, "");
    zx_values_t *args = self->spawn_args ? zx_values_dup (self->spawn_args) : zx_values_new ();
    zx_values_t *spawn = zx_values_new ();
    if (!msg || !args || !spawn || zx_values_add_str (spawn, self->id)
    ||  zx_values_add_str (spawn, self->type) || zx_values_add_values (spawn, &args)) {
        zx_values_destroy (&args);
        zx_values_destroy (&spawn);
        if (msg)
            s_msg_free (msg);
        s_end (self, ZX_ENOMEM, "out of memory spawning an actor");
        return;
    }
    msg->gen = self->gen;
    size_t size;
    const void *data = zx__values_data (spawn, &size);
    //  The worker it goes to is its worker from now on: note it at once,
    //  so that spawns that follow count it
    bool picked = s_pick_worker (self, self->worker, sizeof self->worker);
    if (!picked)
        self->worker [0] = 0;
    zx__executor_send_to (self->executor, self->loop, picked ? self->worker : NULL,
                          ZX__ACTOR_SPAWN, data, size, s_spawn_done, msg);
    zx_values_destroy (&spawn);
}

//  Why the actor takes no message now (its text), or NULL when it does.
static const char *
s_refusal (const zx_actor_t *self, zx_err_t *code)
{
    *code = ZX_EACTOR_STOPPED;
    if (self->state == ZX__ACTOR_ENDED)
        return self->end_text ? self->end_text : "stopped";
    if (self->state == ZX__ACTOR_STOPPING || self->stop_posted)
        return "it is stopping";
    return NULL;
}

//  Queues or sends a message of kind. Returns ZX_OK, or the error
//  (future, if any, failed with it).
zx_err_t
zx__actor_post (zx_actor_t *self, zx__actor_kind_t kind, const char *handler, zx_values_t **args_p,
        zx_future_t *future)
{
    zx_values_t *args = args_p ? *args_p : NULL;
    if (args_p)
        *args_p = NULL;
    zx_err_t code;
    const char *refused = s_refusal (self, &code);
    char text [1200];
    if (refused)
        snprintf (text, sizeof text, "actor %s takes no messages: %s", self->name, refused);
    else
    if (self->pending >= self->mailbox) {
        code = ZX_EQUEUE_FULL;
        snprintf (text, sizeof text, "actor %s: mailbox full (%zu messages unanswered)",
                  self->name, self->pending);
    }
    else {
        zx__actor_msg_t *msg = s_msg_new (self, kind, handler);
        if (msg) {
            msg->args = args;
            msg->future = future ? zx__future_ref (future) : NULL;
            self->pending++;
            if (kind == ZX__MSG_STOP)
                self->stop_posted = true;
            if (self->state == ZX__ACTOR_LIVE)
                s_send (self, msg);
            else {
                if (self->wait_tail)
                    self->wait_tail->next = msg;
                else
                    self->wait_head = msg;
                self->wait_tail = msg;
            }
            return ZX_OK;
        }
        code = ZX_ENOMEM;
        snprintf (text, sizeof text, "out of memory");
    }
    zx_values_destroy (&args);
    s_fail_future (future, code, text);
    return code;
}

