/*  zx_wait.c - waiting for many futures: wait, wait_for, gather,
    as_completed, and the blocking future wait.

    DESIGN: every wait is built from one primitive. It hangs a done
    callback on each input future and waits on a private "signal" future
    that those callbacks (or a timer) complete once the wait's condition
    holds. Waiting on the signal with zx_await suspends a coroutine or, in
    plain code, runs the loop, so each of these calls works both ways.
    Afterwards the callbacks still hanging on unfinished inputs are taken
    back, so the inputs can outlive the wait.                             */

#include "zx_future.h"
#include "zx_loop.h"
#include "zx_task.h"

#include <stdlib.h>
#include <string.h>

static void
s_signal_on_timer (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_future_set_result ((zx_future_t *) arg, NULL);
}

//  Waits on signal for at most timeout_ms (-1 forever), in a coroutine or
//  by running the loop. Returns ZX_OK when it completed or timed out, or
//  the error that stopped the wait.
static zx_err_t
s_await_signal (zx_future_t *signal, int64_t timeout_ms)
{
    uint64_t timer = 0;
    zx_loop_t *loop = zx_future_loop (signal);
    if (timeout_ms >= 0) {
        timer = zx_loop_call_later (loop, timeout_ms, s_signal_on_timer, signal);
        if (!timer)
            return ZX_ENOMEM;
    }
    zx_err_t rc = zx_await (signal);
    if (timer)
        zx_loop_cancel_timer (loop, timer);
    return rc;
}

//  --------------------------------------------------------------------
//  zx_wait

typedef struct {
    zx_wait_mode_t mode;
    size_t count;
    size_t finished;
    bool failure_seen;
    zx_future_t *signal;
} s_wait_t;

static bool
s_failed (const zx_future_t *future)
{
    zx_future_state_t state = zx_future_state (future);
    return state == ZX_FUTURE_FAILED || state == ZX_FUTURE_CANCELLED;
}

static bool
s_wait_satisfied (const s_wait_t *wait)
{
    switch (wait->mode) {
        case ZX_FIRST_COMPLETED:
            return wait->finished > 0 || wait->count == 0;
        case ZX_FIRST_EXCEPTION:
            return wait->failure_seen || wait->finished == wait->count;
        default:
            return wait->finished == wait->count;
    }
}

static void
s_wait_on_done (zx_future_t *future, void *arg)
{
    s_wait_t *wait = (s_wait_t *) arg;
    wait->finished++;
    if (s_failed (future))
        wait->failure_seen = true;
    if (s_wait_satisfied (wait))
        zx_future_set_result (wait->signal, NULL);
}

zx_err_t
zx_wait (zx_future_t **futures, size_t count, zx_wait_mode_t mode,
         int64_t timeout_ms, zx_future_t **done, size_t *done_count,
         zx_future_t **pending, size_t *pending_count)
{
    if ((count > 0 && !futures) || mode > ZX_FIRST_EXCEPTION)
        return ZX_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!futures [i] || zx_future_loop (futures [i]) != zx_future_loop (futures [0]))
            return ZX_EINVAL;
    s_wait_t wait = { mode, count, 0, false, NULL };
    zx_err_t rc = ZX_OK;
    size_t hooked = 0;
    for (size_t i = 0; i < count; i++) {
        if (zx_future_done (futures [i])) {
            wait.finished++;
            wait.failure_seen |= s_failed (futures [i]);
        }
    }
    if (!s_wait_satisfied (&wait) && timeout_ms != 0) {
        wait.signal = zx_future_new (zx_future_loop (futures [0]));
        if (!wait.signal)
            return ZX_ENOMEM;
        for (hooked = 0; hooked < count && rc == ZX_OK; hooked++)
            if (!zx_future_done (futures [hooked]))
                rc = zx_future_add_done_callback (futures [hooked], s_wait_on_done, &wait);
        if (rc == ZX_OK)
            rc = s_await_signal (wait.signal, timeout_ms);
        for (size_t i = 0; i < hooked; i++)
            zx__future_remove_callback (futures [i], s_wait_on_done, &wait);
        zx_future_destroy (&wait.signal);
    }
    //  Report what is finished now: a future may have finished with its
    //  callbacks still scheduled, and it belongs in done all the same
    size_t ndone = 0, npending = 0;
    for (size_t i = 0; i < count; i++) {
        if (zx_future_done (futures [i])) {
            if (done)
                done [ndone] = futures [i];
            ndone++;
        }
        else {
            if (pending)
                pending [npending] = futures [i];
            npending++;
        }
    }
    if (done_count)
        *done_count = ndone;
    if (pending_count)
        *pending_count = npending;
    return rc;
}

zx_err_t
zx_wait_for (zx_future_t *future, int64_t timeout_ms)
{
    if (!future)
        return ZX_EINVAL;
    size_t ndone = 0;
    zx_err_t rc = zx_wait (&future, 1, ZX_ALL_COMPLETED, timeout_ms, NULL, &ndone, NULL, NULL);
    if (rc != ZX_OK)
        return rc;
    if (ndone == 0) {
        zx_future_cancel (future);
        return ZX_ETIMEDOUT;
    }
    return zx_future_error (future);
}

zx_err_t
zx_future_wait (zx_future_t *self, int64_t timeout_ms)
{
    if (!self)
        return ZX_EINVAL;
    size_t ndone = 0;
    zx_err_t rc = zx_wait (&self, 1, ZX_ALL_COMPLETED, timeout_ms, NULL, &ndone, NULL, NULL);
    if (rc != ZX_OK)
        return rc;
    return ndone ? zx_future_error (self) : ZX_ETIMEDOUT;
}

//  --------------------------------------------------------------------
//  zx_gather

typedef struct {
    zx_future_t *result;
    zx_future_t **inputs;
    size_t count;
    size_t remaining;
} s_gather_t;

//  Appends values [index] (or none when there is none) to target.
static zx_err_t
s_append_value (zx_values_t *target, const zx_values_t *values, size_t index)
{
    zx_value_t value;
    if (!values || zx_values_get (values, index, &value) != ZX_OK)
        return zx_values_add_none (target);
    return zx_values_add_value (target, &value);
}

static void
s_gather_free (s_gather_t *gather)
{
    for (size_t i = 0; i < gather->count; i++)
        zx_future_destroy (&gather->inputs [i]);
    zx_future_destroy (&gather->result);
    free (gather->inputs);
    free (gather);
}

static void
s_gather_on_done (zx_future_t *input, void *arg)
{
    s_gather_t *gather = (s_gather_t *) arg;
    if (s_failed (input) && !zx_future_done (gather->result)) {
        if (zx_future_cancelled (input))
            zx__future_set_cancelled (gather->result, "an awaited future was cancelled");
        else
            zx_future_set_error (gather->result, zx_future_error (input), "%s",
                                 zx_future_message (input));
    }
    if (--gather->remaining > 0)
        return;
    if (!zx_future_done (gather->result)) {
        zx_values_t *values = zx_values_new ();
        zx_err_t rc = values ? ZX_OK : ZX_ENOMEM;
        for (size_t i = 0; i < gather->count && rc == ZX_OK; i++)
            rc = s_append_value (values, zx_future_result (gather->inputs [i]), 0);
        if (rc == ZX_OK)
            zx_future_set_result (gather->result, &values);
        else {
            zx_values_destroy (&values);
            zx_future_set_error (gather->result, ZX_ENOMEM, "out of memory gathering results");
        }
    }
    s_gather_free (gather);
}

static void
s_gather_cancel (zx_future_t *result, void *arg)
{
    (void) result;
    s_gather_t *gather = (s_gather_t *) arg;
    //  Cancelling an input runs our callback later, from the loop
    for (size_t i = 0; i < gather->count; i++)
        zx_future_cancel (gather->inputs [i]);
}

zx_future_t *
zx_gather (zx_loop_t *loop, zx_future_t **futures, size_t count)
{
    if (!loop || (count > 0 && !futures))
        return NULL;
    zx_future_t *result = zx_future_new (loop);
    s_gather_t *gather = calloc (1, sizeof (s_gather_t));
    zx_future_t **inputs = calloc (count ? count : 1, sizeof (zx_future_t *));
    if (!result || !gather || !inputs) {
        zx_future_destroy (&result);
        free (gather);
        free (inputs);
        return NULL;
    }
    if (count == 0) {
        free (gather);
        free (inputs);
        zx_future_set_result (result, NULL);
        return result;
    }
    gather->result = zx__future_ref (result);
    gather->inputs = inputs;
    gather->count = count;
    gather->remaining = count;
    for (size_t i = 0; i < count; i++)
        inputs [i] = zx__future_ref (futures [i]);
    //  Every input gets a callback, finished or not, so remaining counts
    //  down exactly once per input; callbacks on finished futures run on
    //  the next iteration
    for (size_t i = 0; i < count; i++)
        if (zx_future_add_done_callback (inputs [i], s_gather_on_done, gather) != ZX_OK) {
            //  Cannot track this one: count it as finished now
            if (!zx_future_done (result))
                zx_future_set_error (result, ZX_ENOMEM, "out of memory in gather");
            gather->remaining--;
        }
    if (gather->remaining == 0) {
        s_gather_free (gather);
        return result;
    }
    zx__future_set_canceller (result, s_gather_cancel, gather);
    return result;
}

//  --------------------------------------------------------------------
//  zx_as_completed

struct zx_as_completed {
    zx_future_t **futures;      //  Our references
    size_t count;
    zx_future_t **queue;        //  Finished, in finishing order
    size_t head, tail;
    zx_future_t *signal;        //  Set while next () waits
    int64_t deadline_ms;        //  Loop time, or -1
    zx_err_t error;
};

static void
s_completed_on_done (zx_future_t *future, void *arg)
{
    zx_as_completed_t *self = (zx_as_completed_t *) arg;
    self->queue [self->tail++] = future;
    if (self->signal)
        zx_future_set_result (self->signal, NULL);
}

zx_as_completed_t *
zx_as_completed_new (zx_future_t **futures, size_t count, int64_t timeout_ms)
{
    if (count > 0 && !futures)
        return NULL;
    zx_as_completed_t *self = calloc (1, sizeof (zx_as_completed_t));
    if (!self)
        return NULL;
    self->futures = calloc (count ? count : 1, sizeof (zx_future_t *));
    self->queue = calloc (count ? count : 1, sizeof (zx_future_t *));
    if (!self->futures || !self->queue) {
        free (self->futures);
        free (self->queue);
        free (self);
        return NULL;
    }
    self->count = count;
    self->deadline_ms = -1;
    if (count > 0 && timeout_ms >= 0)
        self->deadline_ms = zx_loop_time (zx_future_loop (futures [0])) + timeout_ms;
    for (size_t i = 0; i < count; i++) {
        self->futures [i] = zx__future_ref (futures [i]);
        if (zx_future_done (futures [i]))
            self->queue [self->tail++] = futures [i];
        else
        if (zx_future_add_done_callback (futures [i], s_completed_on_done, self) != ZX_OK)
            self->error = ZX_ENOMEM;
    }
    return self;
}

zx_future_t *
zx_as_completed_next (zx_as_completed_t *self)
{
    if (!self || self->head == self->count || self->error != ZX_OK)
        return NULL;
    if (self->head == self->tail) {
        zx_loop_t *loop = zx_future_loop (self->futures [0]);
        int64_t timeout = -1;
        if (self->deadline_ms >= 0) {
            timeout = self->deadline_ms - zx_loop_time (loop);
            if (timeout <= 0) {
                self->error = ZX_ETIMEDOUT;
                return NULL;
            }
        }
        self->signal = zx_future_new (loop);
        if (!self->signal) {
            self->error = ZX_ENOMEM;
            return NULL;
        }
        zx_err_t rc = s_await_signal (self->signal, timeout);
        zx_future_destroy (&self->signal);
        if (self->head == self->tail) {
            self->error = rc != ZX_OK ? rc : ZX_ETIMEDOUT;
            return NULL;
        }
    }
    return self->queue [self->head++];
}

zx_err_t
zx_as_completed_error (const zx_as_completed_t *self)
{
    return self->error;
}

void
zx_as_completed_destroy (zx_as_completed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_as_completed_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        zx__future_remove_callback (self->futures [i], s_completed_on_done, self);
        zx_future_destroy (&self->futures [i]);
    }
    free (self->futures);
    free (self->queue);
    free (self);
    *self_p = NULL;
}
