/*  zx_map.c - Executor.map, lazy and ordered.

    DESIGN: a ring of at most in_flight futures in input order. Taking a
    result first tops the ring up from the input (chunksize at a time, so
    inputs arrive at the dispatcher in batches), then waits for the oldest
    future. Inputs are pulled only as results are taken, so an endless or
    huge input never sits in memory; the first ring is pulled as the map
    is made, so work starts then, as Python's map starts it. The map works
    wherever zx_executor_submit does: on the loop the executor is bound
    to, or from any thread with an executor that runs its own loop (which
    an executor first used here, from a thread with no loop, gets). One
    that cannot be used from this thread is refused as the map is made,
    before any input is pulled. An overall deadline, measured from the
    map's creation, ends the map with ZX_ETIMEDOUT and cancels what is
    still out, as Python's map (timeout=) does.                           */

#include "zx_executor.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"

#include <stdlib.h>
#include <string.h>

struct zx_map {
    zx_executor_t *executor;
    char *task;
    zx_map_next_fn *next;
    void *state;
    size_t chunksize;
    zx_future_t **ring;
    size_t cap, head, count;
    bool exhausted;             //  No more input will be pulled
    int64_t deadline_us;        //  zx__now_us time, or -1
    zx_err_t lost;              //  Why an input could not be submitted
    bool over;                  //  Timed out, or reported what was lost
    char *message;              //  Of the last result, when not its future's
    zx_future_t *current;       //  The one whose result was last returned
};

static void s_top_up (zx_map_t *self);

zx_map_t *
zx_map_new (zx_executor_t *executor, const char *task, zx_map_next_fn *next,
            void *state, const zx_map_opts_t *opts)
{
    static const zx_map_opts_t defaults;
    if (!opts)
        opts = &defaults;
    if (!executor || !task || !next || opts->timeout_ms < 0)
        return NULL;
    zx_err_t usable = zx__executor_usable_here (executor);
    if (usable != ZX_OK) {
        zx_log_error (zx_log_get ("zexec.executor"), "map of task '%s': %s", task,
                      usable == ZX_EINVAL
                      ? "the executor is bound to the loop of another thread; an executor "
                        "with its own loop (zx_executor_start_loop) works from any thread"
                      : "cannot start the executor's own loop");
        return NULL;
    }
    zx_map_t *self = calloc (1, sizeof (zx_map_t));
    if (!self)
        return NULL;
    self->executor = executor;
    self->next = next;
    self->state = state;
    self->chunksize = opts->chunksize ? opts->chunksize : 1;
    self->cap = opts->in_flight ? opts->in_flight : 64;
    if (self->cap < self->chunksize)
        self->cap = self->chunksize;
    self->deadline_us = opts->timeout_ms > 0 ? zx__now_us () + opts->timeout_ms * 1000 : -1;
    self->task = strdup (task);
    self->ring = calloc (self->cap, sizeof (zx_future_t *));
    if (!self->task || !self->ring) {
        zx_map_destroy (&self);
        return NULL;
    }
    s_top_up (self);
    return self;
}

zx_map_t *
zx_executor_map (zx_executor_t *executor, const char *task, zx_map_next_fn *next,
                 void *state, size_t chunksize, size_t in_flight)
{
    zx_map_opts_t opts = { .chunksize = chunksize, .in_flight = in_flight };
    return zx_map_new (executor, task, next, state, &opts);
}

//  Pulls whole chunks while they fit.
static void
s_top_up (zx_map_t *self)
{
    while (!self->exhausted && self->cap - self->count >= self->chunksize) {
        for (size_t i = 0; i < self->chunksize; i++) {
            zx_values_t *args = self->next (self->state);
            if (!args) {
                self->exhausted = true;
                break;
            }
            zx_future_t *future = zx_executor_submit (self->executor, self->task, args);
            if (!future) {
                //  That input is lost: say so in its place, and stop
                self->lost = ZX_ENOMEM;
                self->exhausted = true;
                break;
            }
            self->ring [(self->head + self->count++) % self->cap] = future;
        }
    }
}

static void
s_set_message (zx_map_t *self, char *message)
{
    free (self->message);
    self->message = message;
}

//  Cancels what is still out.
static void
s_cancel_rest (zx_map_t *self)
{
    while (self->count > 0) {
        zx_future_t *future = self->ring [self->head];
        self->head = (self->head + 1) % self->cap;
        self->count--;
        zx_future_cancel (future);
        zx_future_destroy (&future);
    }
}

zx_err_t
zx_map_next (zx_map_t *self, const zx_values_t **result)
{
    *result = NULL;
    zx_future_destroy (&self->current);
    s_set_message (self, NULL);
    if (self->over)
        return ZX_OK;
    s_top_up (self);
    if (self->count == 0) {
        if (self->lost == ZX_OK)
            return ZX_OK;
        self->over = true;
        s_set_message (self, zx__strdupf ("an input of task '%s' could not be submitted "
                                          "(%s): the map ends here", self->task,
                                          zx_strerror (self->lost)));
        return self->lost;
    }
    zx_future_t *future = self->ring [self->head];
    int64_t timeout_ms = -1;
    if (self->deadline_us >= 0) {
        timeout_ms = (self->deadline_us - zx__now_us () + 999) / 1000;
        if (timeout_ms < 0)
            timeout_ms = 0;
    }
    zx_err_t rc = zx_future_wait (future, timeout_ms);
    if (rc == ZX_EBUSY || (rc == ZX_ECANCELLED && !zx_future_done (future)))
        return rc;                          //  Not taken: the caller may retry
    if (rc == ZX_ETIMEDOUT && !zx_future_done (future)) {
        size_t outstanding = self->count;
        s_cancel_rest (self);
        self->exhausted = true;
        self->over = true;
        s_set_message (self, zx__strdupf ("map of task '%s' timed out: its result was not "
                                          "there in time; %zu submitted were cancelled",
                                          self->task, outstanding));
        return ZX_ETIMEDOUT;
    }
    self->head = (self->head + 1) % self->cap;
    self->count--;
    self->current = future;
    if (rc == ZX_OK)
        *result = zx_future_result (future);
    return rc;
}

const char *
zx_map_message (const zx_map_t *self)
{
    if (self->message)
        return self->message;
    return self->current ? zx_future_message (self->current) : "";
}

void
zx_map_destroy (zx_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_map_t *self = *self_p;
    if (self->ring)
        s_cancel_rest (self);
    zx_future_destroy (&self->current);
    free (self->message);
    free (self->ring);
    free (self->task);
    free (self);
    *self_p = NULL;
}
