/*  zx_pool_escalate.c - stopping a local pool's running tasks.

    DESIGN: a cancelled task (or one past its deadline) is first asked to
    stop at its cancel token: the dispatcher sends CANCEL to the worker
    holding it, and the request ends when the worker answers. This file
    watches each such request with a timer, one grace period
    (cancel_grace_ms) at a time. When the same worker still holds it after
    the grace, a thread pool gives up waiting (a thread cannot be stopped
    from outside: the request ends cancelled and its late result is
    dropped), while a process worker gets SIGTERM and, a grace later,
    SIGKILL. The slot remembers which request the signal was for, so that
    the worker's exit (zx_pool.c) ends that request as stopped rather than
    lost, and puts back what the worker had not started.                 */

#include "zx_pool.h"
#include "zx_log.h"
#include "zx_loop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

//  A running task asked to stop: after the grace it is ended harder
struct zx__escalation {
    zx__escalation_t *next;
    zx__pool_t *owner;
    uint64_t corr;
    char identity [48];         //  The worker that held it when asked
    int stage;                  //  0: asked; 1: SIGTERM sent
    uint64_t timer;
};

static void
s_free (zx__pool_t *self, zx__escalation_t *stop)
{
    for (zx__escalation_t **link = &self->escalations; *link; link = &(*link)->next)
        if (*link == stop) {
            *link = stop->next;
            break;
        }
    if (stop->timer && self->loop)
        zx_loop_cancel_timer (self->loop, stop->timer);
    free (stop);
}

static void
s_escalate (zx_loop_t *loop, void *arg)
{
    zx__escalation_t *stop = (zx__escalation_t *) arg;
    zx__pool_t *self = stop->owner;
    stop->timer = 0;
    char holder [48];
    zx__slot_t *slot = zx__pool_slot (self, stop->identity);
    if (!zx__dispatch_holder (self->dispatch, stop->corr, holder, sizeof holder)
    ||  !streq (holder, stop->identity) || !slot) {
        s_free (self, stop);                //  It stopped
        return;
    }
    if (!self->processes) {
        //  A thread cannot be stopped from outside: give up waiting
        char text [256];
        snprintf (text, sizeof text, "cancelled while running: the task did not stop within "
                  "%d ms (it does not poll zx_call_cancelled); its thread %s goes on until "
                  "it returns, and its result will be dropped", self->cancel_grace_ms, slot->name);
        zx__dispatch_abandon (self->dispatch, stop->corr, ZX_ECANCELLED, text);
        s_free (self, stop);
        return;
    }
    if (slot->pid <= 0 || slot->exit_timer) {
        s_free (self, stop);                //  Already gone: its exit says the rest
        return;
    }
    int signal = stop->stage == 0 ? SIGTERM : SIGKILL;
    zx_log_info (self->log, "worker process %d did not stop its cancelled task in %d ms: %s",
                 (int) slot->pid, self->cancel_grace_ms, signal == SIGTERM ? "SIGTERM" : "SIGKILL");
    slot->stop_corr = stop->corr;
    slot->stop_signal = signal;
    kill (slot->pid, signal);
    if (stop->stage++ == 0
    &&  (stop->timer = zx_loop_call_later (loop, self->cancel_grace_ms, s_escalate, stop)))
        return;
    s_free (self, stop);
}

bool
zx__pool_stop_request (zx__pool_t *self, zx__request_t *request)
{
    uint64_t corr = zx__request_corr (request);
    if (!zx__request_stop (request))
        return false;
    for (zx__escalation_t *stop = self->escalations; stop; stop = stop->next)
        if (stop->corr == corr)
            return true;                    //  Asked before: already watched
    zx__escalation_t *stop = calloc (1, sizeof (zx__escalation_t));
    if (!stop || !zx__dispatch_holder (self->dispatch, corr, stop->identity, sizeof stop->identity)) {
        free (stop);
        return true;
    }
    stop->owner = self;
    stop->corr = corr;
    stop->timer = zx_loop_call_later (self->loop, self->cancel_grace_ms, s_escalate, stop);
    if (!stop->timer) {
        free (stop);
        return true;
    }
    stop->next = self->escalations;
    self->escalations = stop;
    return true;
}

void
zx__pool_forget_escalations (zx__pool_t *self)
{
    while (self->escalations)
        s_free (self, self->escalations);
}
