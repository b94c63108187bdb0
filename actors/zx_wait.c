/*  zx_wait.c - waiting for many futures: wait, wait_for, gather,
    as_completed, and the blocking future wait.

    DESIGN: every wait is built from one primitive. It hangs a done
    callback on each input future and waits on a private "signal" future
    that those callbacks (or a timer) complete once the wait's condition
    holds. Waiting on the signal with zx_await suspends a coroutine or, in
    plain code, runs the loop, so each of these calls works both ways.
    Afterwards the callbacks still hanging on unfinished inputs are taken
    back, so the inputs can outlive the wait.

    Shared futures (those of an executor with a loop of its own) finish on
    their loop's I/O thread, and are waited for from other threads, which
    must not run that loop. There the primitive is a waiter: a condition
    variable that the same done callbacks signal, reference counted
    because a callback may be running on the I/O thread while the waiting
    thread takes the others back.                                         */

#define _GNU_SOURCE
#include "zx_future.h"
#include "zx_loop.h"
#include "zx_task.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static bool
s_failed (const zx_future_t *future)
{
    zx_future_state_t state = zx_future_state (future);
    return state == ZX_FUTURE_FAILED || state == ZX_FUTURE_CANCELLED;
}

//  --------------------------------------------------------------------
//  Waiters: blocking a thread until shared futures finish

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint32_t refs;              //  Atomic: the waiting thread, each hooked callback
    size_t finished;            //  Hooked futures that finished
    bool failure_seen;
    zx_future_t **queue;        //  For as_completed: what finished, in order
    size_t tail;
} s_waiter_t;

static s_waiter_t *
s_waiter_new (size_t queue_size)
{
    s_waiter_t *self = calloc (1, sizeof (s_waiter_t));
    if (!self)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    bool made = pthread_cond_init (&self->cond, &attr) == 0;
    pthread_condattr_destroy (&attr);
    if (!made) {
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    self->refs = 1;
    if (queue_size && !(self->queue = calloc (queue_size, sizeof (zx_future_t *)))) {
        pthread_cond_destroy (&self->cond);
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_waiter_unref (s_waiter_t **self_p)
{
    s_waiter_t *self = *self_p;
    *self_p = NULL;
    if (!self || __atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->lock);
    free (self->queue);
    free (self);
}

static void
s_waiter_on_done (zx_future_t *future, void *arg)
{
    s_waiter_t *self = (s_waiter_t *) arg;
    bool failed = s_failed (future);
    pthread_mutex_lock (&self->lock);
    self->finished++;
    self->failure_seen |= failed;
    if (self->queue)
        self->queue [self->tail++] = future;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
    s_waiter_unref (&self);
}

//  Hangs the waiter's callback on future; if it has finished meanwhile,
//  the callback runs now. Returns ZX_OK or ZX_ENOMEM.
static zx_err_t
s_waiter_hook (s_waiter_t *self, zx_future_t *future)
{
    __atomic_fetch_add (&self->refs, 1, __ATOMIC_RELAXED);
    zx_err_t rc = zx_future_add_done_callback (future, s_waiter_on_done, self);
    if (rc != ZX_OK)
        __atomic_fetch_sub (&self->refs, 1, __ATOMIC_RELAXED);
    return rc;
}

//  Takes the waiter's callback back from future, if it has not run.
static void
s_waiter_unhook (s_waiter_t *self, zx_future_t *future)
{
    if (zx__future_remove_callback (future, s_waiter_on_done, self))
        __atomic_fetch_sub (&self->refs, 1, __ATOMIC_RELAXED);
}

//  Waits on the waiter's condition (lock held) until deadline_us
//  (zx__now_us time, -1 for none). Returns false once it has passed.
static bool
s_waiter_sleep (s_waiter_t *self, int64_t deadline_us)
{
    if (deadline_us < 0) {
        pthread_cond_wait (&self->cond, &self->lock);
        return true;
    }
    if (zx__now_us () >= deadline_us)
        return false;
    struct timespec until = { (time_t) (deadline_us / 1000000),
                              (long) (deadline_us % 1000000) * 1000 };
    pthread_cond_timedwait (&self->cond, &self->lock, &until);
    return true;
}

//  True when every future is shared, false when none is; *mixed when some
//  are and some are not.
static bool
s_shared (zx_future_t **futures, size_t count, bool *mixed)
{
    size_t shared = 0;
    for (size_t i = 0; i < count; i++)
        shared += zx__future_hub (futures [i]) != NULL;
    *mixed = shared > 0 && shared < count;
    return count > 0 && shared == count;
}

//  True when the calling thread runs the loop of one of the futures:
//  it must not block waiting for them.
static bool
s_on_their_loop (zx_future_t **futures, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zx__hub_on_loop (zx__future_hub (futures [i])))
            return true;
    return false;
}

static int64_t
s_deadline_us (int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    if (timeout_ms > INT64_MAX / 2000)
        timeout_ms = INT64_MAX / 2000;
    return zx__now_us () + timeout_ms * 1000;
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

//  zx_wait over shared futures: blocks the calling thread on a waiter.
//  Counts afresh: another thread may finish a future at any moment, so
//  each one is counted either as done when it is looked at here or by
//  the waiter's callback hooked on it, never both and never neither.
static zx_err_t
s_wait_shared (zx_future_t **futures, size_t count, s_wait_t *wait, int64_t timeout_ms)
{
    if (s_on_their_loop (futures, count))
        return ZX_EBUSY;
    s_waiter_t *waiter = s_waiter_new (0);
    if (!waiter)
        return ZX_ENOMEM;
    bool *hooked = calloc (count, sizeof (bool));
    zx_err_t rc = hooked ? ZX_OK : ZX_ENOMEM;
    size_t done_before = 0;
    bool failed_before = false;
    for (size_t i = 0; i < count && rc == ZX_OK; i++)
        if (zx_future_done (futures [i])) {
            done_before++;
            failed_before |= s_failed (futures [i]);
        }
        else
        if ((rc = s_waiter_hook (waiter, futures [i])) == ZX_OK)
            hooked [i] = true;
    int64_t deadline = s_deadline_us (timeout_ms);
    pthread_mutex_lock (&waiter->lock);
    while (rc == ZX_OK) {
        s_wait_t now = *wait;
        now.finished = done_before + waiter->finished;
        now.failure_seen = failed_before || waiter->failure_seen;
        if (s_wait_satisfied (&now) || !s_waiter_sleep (waiter, deadline))
            break;
    }
    pthread_mutex_unlock (&waiter->lock);
    for (size_t i = 0; hooked && i < count; i++)
        if (hooked [i])
            s_waiter_unhook (waiter, futures [i]);
    free (hooked);
    s_waiter_unref (&waiter);
    return rc;
}

zx_err_t
zx_wait (zx_future_t **futures, size_t count, zx_wait_mode_t mode,
         int64_t timeout_ms, zx_future_t **done, size_t *done_count,
         zx_future_t **pending, size_t *pending_count)
{
    if ((count > 0 && !futures) || mode > ZX_FIRST_EXCEPTION)
        return ZX_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!futures [i])
            return ZX_EINVAL;
    bool mixed;
    bool shared = s_shared (futures, count, &mixed);
    if (mixed)
        return ZX_EINVAL;
    for (size_t i = 0; i < count && !shared; i++)
        if (zx_future_loop (futures [i]) != zx_future_loop (futures [0]))
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
    if (!s_wait_satisfied (&wait) && timeout_ms != 0 && shared)
        rc = s_wait_shared (futures, count, &wait, timeout_ms);
    else
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
    //  Atomic, as shared inputs finish on their loops' threads (and those
    //  that had finished, in the caller's): inputs still to finish, plus
    //  one that zx_gather holds while it hangs its callbacks
    size_t remaining;
    //  Atomic: one for the inputs (dropped when remaining reaches 0), one
    //  for the result's canceller (dropped once the result has finished)
    uint32_t refs;
    bool return_exceptions;
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
s_gather_unref (s_gather_t *gather)
{
    if (__atomic_sub_fetch (&gather->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < gather->count; i++)
        zx_future_destroy (&gather->inputs [i]);
    zx_future_destroy (&gather->result);
    free (gather->inputs);
    free (gather);
}

//  Every input has finished: the result gets one value per input, none
//  for one that failed (return_exceptions), unless it has finished.
static void
s_gather_finish (s_gather_t *gather)
{
    if (zx_future_done (gather->result))
        return;
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

static void
s_gather_release (s_gather_t *gather)
{
    if (__atomic_sub_fetch (&gather->remaining, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    s_gather_finish (gather);
    s_gather_unref (gather);
}

static void
s_gather_on_done (zx_future_t *input, void *arg)
{
    s_gather_t *gather = (s_gather_t *) arg;
    //  Fails the result with the first failure; a later one is refused
    if (!gather->return_exceptions && s_failed (input)) {
        if (zx_future_cancelled (input))
            zx__future_set_cancelled (gather->result, "an awaited future was cancelled");
        else
            zx_future_set_error (gather->result, zx_future_error (input), "%s",
                                 zx_future_message (input));
    }
    s_gather_release (gather);
}

static void
s_gather_result_done (zx_future_t *result, void *arg)
{
    (void) result;
    s_gather_unref ((s_gather_t *) arg);
}

static void
s_gather_cancel (zx_future_t *result, void *arg)
{
    (void) result;
    s_gather_t *gather = (s_gather_t *) arg;
    //  Cancelling an input runs our callback later, from its loop
    for (size_t i = 0; i < gather->count; i++)
        zx_future_cancel (gather->inputs [i]);
}

//  Makes the result future: on loop; for shared inputs, loop must be
//  shared too, or NULL for the inputs' own.
static zx_future_t *
s_gather_result (zx_loop_t *loop, zx_future_t **futures, size_t count)
{
    bool mixed;
    bool shared = s_shared (futures, count, &mixed);
    if (mixed)
        return NULL;
    if (shared) {
        if (loop && !zx__loop_hub (loop))
            return NULL;            //  Its thread could not be told safely
        return loop ? zx_future_new (loop) : zx__future_new_shared (zx__future_hub (futures [0]));
    }
    if (!loop)
        loop = count > 0 ? zx_future_loop (futures [0]) : zx_loop_current ();
    return zx_future_new (loop);
}

zx_future_t *
zx_gather_opts (zx_loop_t *loop, zx_future_t **futures, size_t count,
                const zx_gather_opts_t *opts)
{
    if (count > 0 && !futures)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (!futures [i])
            return NULL;
    zx_future_t *result = s_gather_result (loop, futures, count);
    if (!result)
        return NULL;
    if (count == 0) {
        zx_future_set_result (result, NULL);
        return result;
    }
    s_gather_t *gather = calloc (1, sizeof (s_gather_t));
    zx_future_t **inputs = calloc (count, sizeof (zx_future_t *));
    if (!gather || !inputs) {
        zx_future_destroy (&result);
        free (gather);
        free (inputs);
        return NULL;
    }
    gather->result = zx__future_ref (result);
    gather->inputs = inputs;
    gather->count = count;
    gather->remaining = count + 1;
    gather->refs = 2;
    gather->return_exceptions = opts && opts->return_exceptions;
    for (size_t i = 0; i < count; i++)
        inputs [i] = zx__future_ref (futures [i]);
    zx__future_set_canceller (result, s_gather_cancel, gather);
    if (zx_future_add_done_callback (result, s_gather_result_done, gather) != ZX_OK) {
        zx__future_set_canceller (result, NULL, NULL);
        s_gather_unref (gather);
    }
    //  Every input gets a callback, finished or not, so remaining counts
    //  down exactly once per input
    for (size_t i = 0; i < count; i++)
        if (zx_future_add_done_callback (inputs [i], s_gather_on_done, gather) != ZX_OK) {
            //  Cannot track this one: count it as finished now
            zx_future_set_error (result, ZX_ENOMEM, "out of memory in gather");
            s_gather_release (gather);
        }
    s_gather_release (gather);
    return result;
}

zx_future_t *
zx_gather (zx_loop_t *loop, zx_future_t **futures, size_t count)
{
    if (!loop)
        return NULL;
    return zx_gather_opts (loop, futures, count, NULL);
}

//  --------------------------------------------------------------------
//  zx_as_completed

struct zx_as_completed {
    zx_future_t **futures;      //  Our references
    size_t count;
    zx_future_t **queue;        //  Finished, in finishing order
    size_t head, tail;
    zx_future_t *signal;        //  Set while next () waits
    s_waiter_t *waiter;         //  Shared futures: the queue is the waiter's
    int64_t deadline_us;        //  zx__now_us time, or -1
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
    bool mixed;
    bool shared = s_shared (futures, count, &mixed);
    if (mixed)
        return NULL;
    zx_as_completed_t *self = calloc (1, sizeof (zx_as_completed_t));
    if (!self)
        return NULL;
    self->futures = calloc (count ? count : 1, sizeof (zx_future_t *));
    if (shared)
        self->waiter = s_waiter_new (count);
    else
        self->queue = calloc (count ? count : 1, sizeof (zx_future_t *));
    if (!self->futures || !(self->queue || self->waiter)) {
        free (self->futures);
        free (self->queue);
        s_waiter_unref (&self->waiter);
        free (self);
        return NULL;
    }
    self->count = count;
    self->deadline_us = count > 0 ? s_deadline_us (timeout_ms) : -1;
    for (size_t i = 0; i < count; i++) {
        self->futures [i] = zx__future_ref (futures [i]);
        if (shared) {
            if (s_waiter_hook (self->waiter, futures [i]) != ZX_OK)
                self->error = ZX_ENOMEM;
        }
        else
        if (zx_future_done (futures [i]))
            self->queue [self->tail++] = futures [i];
        else
        if (zx_future_add_done_callback (futures [i], s_completed_on_done, self) != ZX_OK)
            self->error = ZX_ENOMEM;
    }
    return self;
}

//  zx_as_completed_next over shared futures: blocks on the waiter.
static zx_future_t *
s_next_shared (zx_as_completed_t *self)
{
    s_waiter_t *waiter = self->waiter;
    zx_future_t *next = NULL;
    pthread_mutex_lock (&waiter->lock);
    while (self->head == waiter->tail) {
        if (s_on_their_loop (self->futures, self->count)) {
            self->error = ZX_EBUSY;
            break;
        }
        if (!s_waiter_sleep (waiter, self->deadline_us)) {
            self->error = ZX_ETIMEDOUT;
            break;
        }
    }
    if (self->head < waiter->tail)
        next = waiter->queue [self->head++];
    pthread_mutex_unlock (&waiter->lock);
    return next;
}

zx_future_t *
zx_as_completed_next (zx_as_completed_t *self)
{
    if (!self || self->head == self->count || self->error != ZX_OK)
        return NULL;
    if (self->waiter)
        return s_next_shared (self);
    if (self->head == self->tail) {
        zx_loop_t *loop = zx_future_loop (self->futures [0]);
        int64_t timeout = -1;
        if (self->deadline_us >= 0) {
            timeout = (self->deadline_us - zx__now_us () + 999) / 1000;
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
        if (self->waiter)
            s_waiter_unhook (self->waiter, self->futures [i]);
        else
            zx__future_remove_callback (self->futures [i], s_completed_on_done, self);
        zx_future_destroy (&self->futures [i]);
    }
    s_waiter_unref (&self->waiter);
    free (self->futures);
    free (self->queue);
    free (self);
    *self_p = NULL;
}
