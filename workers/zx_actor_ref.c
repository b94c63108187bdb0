/*  zx_actor_ref.c - the coordinator's side of stateful actors: spawn,
    ask, tell, stop, monitors, restarts.

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
    with ZX_EWORKER_LOST, or the pool says the worker is gone (a watch on
    the executor), which also catches an idle actor. Each incarnation has
    a generation; only news about the current one counts, so one death is
    handled once. A restart is scheduled on the loop, never run inside
    the dispatcher's completion, whose worker table is being changed.

    Every message holds a reference count on the zx_actor_t, so that its
    completion always finds it: zx_actor_destroy marks it and sends a
    stop, and the last completion frees it.                              */
#define _GNU_SOURCE
#include "zx_executor.h"
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

#define S_MAILBOX_DEFAULT   1000
#define S_WINDOW_DEFAULT_MS 60000

typedef enum { S_PLACING, S_LIVE, S_STOPPING, S_ENDED } s_state_t;
typedef enum { S_SPAWN, S_ASK, S_TELL, S_STOP } s_kind_t;

typedef struct s_msg {
    struct s_msg *next;             //  While waiting for a placement
    zx_actor_t *actor;
    unsigned gen;                   //  The incarnation it went to
    s_kind_t kind;
    zx_future_t *future;            //  Our reference to the asker's, or NULL
    zx_values_t *args;              //  While waiting
    char handler [];
} s_msg_t;

struct zx_actor {
    struct zx_actor *next_live;     //  In s_live (placement counts)
    zx_executor_t *executor;        //  NULL once it was destroyed
    zx_loop_t *loop;
    char *type;
    char *name;
    uint64_t serial;
    unsigned gen;                   //  Incarnation
    char id [96];                   //  The current incarnation's id
    zx_values_t *spawn_args;
    size_t mailbox;
    int max_restarts;
    int64_t window_ms;
    s_state_t state;
    char worker [64];
    pid_t pid;
    s_msg_t *wait_head, *wait_tail; //  Sent before the placement
    size_t pending;                 //  Waiting and in flight
    size_t refs;                    //  The user's handle and each message
    bool destroyed;
    bool stop_posted;               //  A stop is sent or waits: no more
    bool placed_once;
    int restarts;
    int64_t *deaths;                //  When it died, the last max_restarts + 1
    size_t death_count;
    zx_err_t end_code;
    char *end_text;
    zx_future_t *ready;
    zx_future_t **monitors;
    size_t monitor_count;
    zx_future_t *room;
    zx_actor_event_fn *event_fn;
    void *event_arg;
    size_t tell_failures;
    int place_attempts;             //  Spawns lost before they ran, in a row
    //  Messages lost with the worker before the pool said why (the
    //  dispatcher found it gone first): held until the cause comes
    s_msg_t *lost_head, *lost_tail;
    uint64_t lost_timer;
    bool lost_flushing;
    zx_logger_t *log;
};

static atomic_uint_fast64_t s_serial;

//  Every reference, for placement: a spawn goes to the ready worker that
//  hosts the fewest actors of its executor. References live on several
//  loops' threads: the list has a lock, and a reference's executor is
//  written under it; the other fields read here are only read for the
//  references of the same executor, which live on the caller's thread.
static pthread_mutex_t s_live_mutex = PTHREAD_MUTEX_INITIALIZER;
static zx_actor_t *s_live;

static void
s_live_add (zx_actor_t *self)
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
            &&  actor->state != S_ENDED && strcmp (actor->worker, ids [i]) == 0)
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

static void s_place (zx_actor_t *self);
static void s_send (zx_actor_t *self, s_msg_t *msg);
static void s_on_worker_lost (void *arg, const char *identity, const char *cause);
static void s_msg_done (void *cookie, zx_err_t code, const void *payload, size_t size);

static void s_flush_lost (zx_actor_t *self, const char *cause);
static void s_park_lost (zx_actor_t *self, s_msg_t *msg);

#define S_CAUSE_WAIT_MS 2000        //  For the pool to say why a worker went

//  --------------------------------------------------------------------
//  Lifetime

static void
s_free (zx_actor_t *self)
{
    s_live_remove (self);
    if (self->executor)
        zx__executor_unwatch (self->executor, s_on_worker_lost, self);
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

static void
s_unref (zx_actor_t *self)
{
    if (--self->refs == 0)
        s_free (self);
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

static s_msg_t *
s_msg_new (zx_actor_t *self, s_kind_t kind, const char *handler)
{
    s_msg_t *msg = calloc (1, sizeof (s_msg_t) + strlen (handler) + 1);
    if (!msg)
        return NULL;
    msg->actor = self;
    msg->kind = kind;
    strcpy (msg->handler, handler);
    self->refs++;
    return msg;
}

static void
s_msg_free (s_msg_t *msg)
{
    zx_actor_t *actor = msg->actor;
    zx_future_destroy (&msg->future);
    zx_values_destroy (&msg->args);
    free (msg);
    s_unref (actor);
}

//  A message was answered or failed: it leaves the mailbox.
static void
s_mailbox_out (zx_actor_t *self)
{
    if (self->pending > 0)
        self->pending--;
    if (self->room && (self->pending < self->mailbox || self->state == S_ENDED)) {
        zx_future_set_result (self->room, NULL);
        zx_future_destroy (&self->room);
    }
}

//  The actor has ended for good: with ZX_OK when it stopped, else code.
//  What waits for a placement fails; monitors end.
static void
s_end (zx_actor_t *self, zx_err_t code, const char *text)
{
    if (self->state == S_ENDED)
        return;
    self->state = S_ENDED;
    self->end_code = code;
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
        s_msg_t *msg = self->wait_head;
        self->wait_head = msg->next;
        if (msg->kind == S_STOP && code == ZX_OK && msg->future && !zx_future_done (msg->future))
            zx_future_set_result (msg->future, NULL);
        else
            s_fail_future (msg->future, code == ZX_OK ? ZX_EACTOR_STOPPED : code, text);
        if (msg->kind == S_TELL && code != ZX_OK)
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
    if (self->state == S_PLACING && self->executor)
        s_place (self);
    s_unref (self);
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
    self->state = S_PLACING;
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

static void
s_on_worker_lost (void *arg, const char *identity, const char *cause)
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
    if ((self->state == S_LIVE || self->state == S_STOPPING)
    &&  strcmp (identity, self->worker) == 0) {
        bool timer = self->lost_timer && zx_loop_cancel_timer (self->loop, self->lost_timer);
        self->lost_timer = 0;
        s_flush_lost (self, cause);
        if (timer)
            s_unref (self);         //  The timer's reference
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

static void
s_spawn_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    s_msg_t *msg = (s_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    bool current = msg->gen == self->gen && self->state == S_PLACING;
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
        if (code == ZX_OK && self->executor) {
            zx_values_t *args = zx_values_pack ("s", self->id);
            size_t args_size;
            const void *data = zx__values_data (args, &args_size);
            s_msg_t *stop = s_msg_new (self, S_STOP, "");
            if (stop) {
                stop->gen = (unsigned) -1;
                zx__executor_send_to (self->executor, self->loop, identity, ZX__ACTOR_STOP,
                                      data, args_size, s_spawn_done, stop);
            }
            zx_values_destroy (&args);
        }
    }
    else
    if (code == ZX_OK) {
        snprintf (self->worker, sizeof self->worker, "%s", identity);
        self->pid = (pid_t) pid;
        self->state = S_LIVE;
        char text [200];
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
        s_event (self, ZX_ACTOR_PLACED, text);
        //  What waited goes now, in order; a stop among it ends the sending
        while (self->wait_head && self->state == S_LIVE) {
            s_msg_t *next = self->wait_head;
            self->wait_head = next->next;
            if (!self->wait_head)
                self->wait_tail = NULL;
            s_send (self, next);
        }
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
    s_msg_t *msg;
    while ((msg = self->lost_head)) {
        self->lost_head = msg->next;
        msg->next = NULL;
        s_msg_done (msg, ZX_EWORKER_LOST, cause, strlen (cause));
    }
    self->lost_tail = NULL;
    self->lost_flushing = false;
    if (self->state == S_LIVE || self->state == S_STOPPING)
        s_died (self, cause);
}

static void
s_lost_timeout (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_actor_t *self = (zx_actor_t *) arg;
    self->lost_timer = 0;
    s_flush_lost (self, "its worker vanished, and the pool did not say why");
    s_unref (self);
}

//  Holds msg, lost with a worker the dispatcher found gone before the
//  pool learnt why, until the pool says (s_on_worker_lost), so that its
//  error names pid and signal; S_CAUSE_WAIT_MS at most.
static void
s_park_lost (zx_actor_t *self, s_msg_t *msg)
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
    s_msg_t *msg = (s_msg_t *) cookie;
    zx_actor_t *self = msg->actor;
    bool current = msg->gen == self->gen;
    if (code == ZX_EWORKER_LOST && current && !self->lost_flushing
    &&  (self->state == S_LIVE || self->state == S_STOPPING)
    &&  (memmem (payload, size, "worker vanished", 15) || memmem (payload, size, " is gone", 8))) {
        s_park_lost (self, msg);
        return;
    }
    s_mailbox_out (self);
    if (code == ZX_OK && msg->kind == S_STOP) {
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
                if (msg->kind == S_TELL)
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
            if (msg->kind == S_TELL)
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
        if (current && (self->state == S_LIVE || self->state == S_STOPPING))
            s_died (self, cause);
    }
    else
        snprintf (text, sizeof text, "actor %s, message '%s': %s", self->name, msg->handler,
                  cause);
    if (msg->future && !zx_future_done (msg->future)) {
        zx__executor_error_info (msg->future, code, payload, size);
        zx_future_set_error (msg->future, code, "%s", text);
    }
    if (msg->kind == S_TELL)
        s_tell_failed (self, msg->handler, code, text);
    if (msg->kind == S_STOP && current)
        s_end (self, code, text);
    s_msg_free (msg);
}

//  --------------------------------------------------------------------
//  Sending

//  Sends a message to the live actor's worker; it completes through
//  s_msg_done, possibly now.
static void
s_send (zx_actor_t *self, s_msg_t *msg)
{
    msg->gen = self->gen;
    zx_values_t *args = zx_values_new ();
    bool ok = args && zx_values_add_str (args, self->id) == ZX_OK;
    if (ok && msg->kind != S_STOP) {
        ok = zx_values_add_str (args, msg->handler) == ZX_OK;
        if (!msg->args)
            msg->args = zx_values_new ();
        ok = ok && msg->args && zx_values_add_values (args, &msg->args) == ZX_OK;
    }
    if (msg->kind == S_STOP)
        self->state = S_STOPPING;
    if (!ok || !self->executor) {
        zx_values_destroy (&args);
        const char *why = ok ? "its executor was destroyed" : "out of memory";
        s_msg_done (msg, ok ? ZX_ESHUTDOWN : ZX_ENOMEM, why, strlen (why));
        return;
    }
    size_t size;
    const void *data = zx__values_data (args, &size);
    zx__executor_send_to (self->executor, self->loop, self->worker,
                          msg->kind == S_STOP ? ZX__ACTOR_STOP : ZX__ACTOR_MSG,
                          data, size, s_msg_done, msg);
    zx_values_destroy (&args);
}

//  Sends the spawn of a new incarnation.
static void
s_place (zx_actor_t *self)
{
    self->gen++;
    snprintf (self->id, sizeof self->id, "%d.%llu.%u", (int) getpid (),
              (unsigned long long) self->serial, self->gen);
    self->state = S_PLACING;
    s_msg_t *msg = s_msg_new (self, S_SPAWN, "");
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
    if (self->state == S_ENDED)
        return self->end_text ? self->end_text : "stopped";
    if (self->state == S_STOPPING || self->stop_posted)
        return "it is stopping";
    return NULL;
}

//  Queues or sends a message of kind. Returns ZX_OK, or the error
//  (future, if any, failed with it).
static zx_err_t
s_post (zx_actor_t *self, s_kind_t kind, const char *handler, zx_values_t **args_p,
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
        s_msg_t *msg = s_msg_new (self, kind, handler);
        if (msg) {
            msg->args = args;
            msg->future = future ? zx__future_ref (future) : NULL;
            self->pending++;
            if (kind == S_STOP)
                self->stop_posted = true;
            if (self->state == S_LIVE)
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

//  --------------------------------------------------------------------
//  The API

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
    zx__actor_host_init ();
    self = calloc (1, sizeof (zx_actor_t));
    if (!self)
        goto fail;
    self->refs = 1;
    self->executor = executor;
    self->loop = loop;
    self->log = zx_log_get ("zexec.actor");
    self->serial = atomic_fetch_add (&s_serial, 1) + 1;
    self->type = strdup (type);
    self->name = opts->name ? strdup (opts->name)
                            : zx__strdupf ("%s#%llu", type, (unsigned long long) self->serial);
    self->spawn_args = args;
    args = NULL;
    self->mailbox = opts->mailbox ? opts->mailbox : S_MAILBOX_DEFAULT;
    self->max_restarts = opts->max_restarts;
    self->window_ms = opts->restart_window_ms ? opts->restart_window_ms : S_WINDOW_DEFAULT_MS;
    self->deaths = calloc ((size_t) self->max_restarts + 1, sizeof (int64_t));
    if (!self->type || !self->name || !self->deaths
    ||  zx__executor_watch (executor, s_on_worker_lost, self) != ZX_OK) {
        self->executor = NULL;
        goto fail;
    }
    s_live_add (self);
    s_place (self);
    return self;

fail:
    zx_values_destroy (&args);
    if (self)
        s_free (self);
    return NULL;
}

zx_future_t *
zx_actor_ready (zx_actor_t *self)
{
    if (!self)
        return NULL;
    zx_future_t *future = zx_future_new (self->loop);
    if (!future)
        return NULL;
    if (self->state == S_LIVE || (self->placed_once && self->state != S_ENDED)) {
        zx_values_t *result = zx_values_pack ("si", self->worker, (int64_t) self->pid);
        zx_future_set_result (future, &result);
        zx_values_destroy (&result);
    }
    else
    if (self->state == S_ENDED)
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
    s_post (self, S_ASK, message, args_p, future);
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
    return s_post (self, S_TELL, message, args_p, NULL);
}

zx_err_t
zx_actor_wait_room (zx_actor_t *self)
{
    if (!self)
        return ZX_EINVAL;
    if (!zx_in_coro ())
        return ZX_EBUSY;
    while (self->pending >= self->mailbox && self->state != S_ENDED) {
        if (!self->room && !(self->room = zx_future_new (self->loop)))
            return ZX_ENOMEM;
        zx_future_t *room = zx__future_ref (self->room);
        zx_err_t rc = zx_await (room);
        zx_future_destroy (&room);
        if (rc != ZX_OK)
            return rc;
    }
    return self->state == S_ENDED || self->state == S_STOPPING ? ZX_EACTOR_STOPPED : ZX_OK;
}

zx_future_t *
zx_actor_stop (zx_actor_t *self)
{
    if (!self)
        return NULL;
    zx_future_t *future = zx_future_new (self->loop);
    if (!future)
        return NULL;
    if (self->state == S_ENDED) {
        if (self->end_code == ZX_OK)
            zx_future_set_result (future, NULL);
        else
            zx_future_set_error (future, self->end_code, "%s", self->end_text);
        return future;
    }
    if (self->state == S_STOPPING) {
        //  One stop is on its way: a monitor ends when it has
        zx_future_destroy (&future);
        return zx_actor_monitor (self);
    }
    //  A stop is never refused for a full mailbox: it counts, but goes
    size_t mailbox = self->mailbox;
    self->mailbox = SIZE_MAX;
    s_post (self, S_STOP, "stop", NULL, future);
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
    if (self->state == S_ENDED) {
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
    if (self->state == S_LIVE || self->state == S_PLACING) {
        self->mailbox = SIZE_MAX;
        s_post (self, S_STOP, "stop", NULL, NULL);
    }
    s_unref (self);
}

const char *
zx_actor_name (const zx_actor_t *self)
{
    return self ? self->name : "";
}

const char *
zx_actor_worker (const zx_actor_t *self)
{
    return self && self->state == S_LIVE ? self->worker : "";
}

pid_t
zx_actor_pid (const zx_actor_t *self)
{
    return self && self->state == S_LIVE ? self->pid : 0;
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
