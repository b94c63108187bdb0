/*  zx_map.c - Executor.map, lazy and ordered.

    DESIGN: a ring of at most in_flight futures in input order. Taking a
    result first tops the ring up from the input (chunksize at a time, so
    inputs arrive at the dispatcher in batches), then waits for the oldest
    future. Inputs are pulled only as results are taken, so an endless or
    huge input never sits in memory.                                      */

#include "zx_future.h"
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
    bool exhausted;
    zx_future_t *current;       //  The one whose result was last returned
};

zx_map_t *
zx_map_new (zx_executor_t *executor, const char *task, zx_map_next_fn *next,
            void *state, size_t chunksize, size_t in_flight)
{
    if (!executor || !task || !next)
        return NULL;
    zx_map_t *self = calloc (1, sizeof (zx_map_t));
    if (!self)
        return NULL;
    self->executor = executor;
    self->next = next;
    self->state = state;
    self->chunksize = chunksize ? chunksize : 1;
    self->cap = in_flight ? in_flight : 64;
    if (self->cap < self->chunksize)
        self->cap = self->chunksize;
    self->task = strdup (task);
    self->ring = calloc (self->cap, sizeof (zx_future_t *));
    if (!self->task || !self->ring) {
        zx_map_destroy (&self);
        return NULL;
    }
    return self;
}

zx_map_t *
zx_executor_map (zx_executor_t *executor, const char *task, zx_map_next_fn *next,
                 void *state, size_t chunksize, size_t in_flight)
{
    return zx_map_new (executor, task, next, state, chunksize, in_flight);
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
                self->exhausted = true;     //  No loop or no memory: stop here
                break;
            }
            self->ring [(self->head + self->count++) % self->cap] = future;
        }
    }
}

zx_err_t
zx_map_next (zx_map_t *self, const zx_values_t **result)
{
    *result = NULL;
    zx_future_destroy (&self->current);
    s_top_up (self);
    if (self->count == 0)
        return ZX_OK;
    zx_future_t *future = self->ring [self->head];
    zx_err_t rc = zx_await (future);
    if (rc == ZX_EBUSY || (rc == ZX_ECANCELLED && !zx_future_done (future)))
        return rc;                          //  Not taken: the caller may retry
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
    return self->current ? zx_future_message (self->current) : "";
}

void
zx_map_destroy (zx_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_map_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        zx_future_t *future = self->ring [(self->head + i) % self->cap];
        zx_future_cancel (future);
        zx_future_destroy (&future);
    }
    zx_future_destroy (&self->current);
    free (self->ring);
    free (self->task);
    free (self);
    *self_p = NULL;
}
