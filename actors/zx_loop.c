/*  zx_loop.c - the event loop: the coordinator actor.

    DESIGN: one thread owns a loop. Each iteration runs the callbacks that
    were ready when it began (so a callback that schedules another cannot
    starve I/O), then waits in zmq_poll on the registered ZeroMQ sockets
    and file descriptors until the next timer is due, then fires due
    timers. Replies from workers arrive on ZeroMQ sockets, so they wake the
    poll directly; other threads wake it through an eventfd that is part of
    the same poll set (call_soon_threadsafe). Timers live in a binary heap
    ordered by (due time, sequence), so equal deadlines fire in order.
    The watches and the wait itself (poll(2) or zmq_poll, and the spin
    for a thread pool's reply due within microseconds) are zx_watch.c's;
    struct zx_loop, which both files use, is in zx_loop_int.h.
    The loop of an executor with an I/O thread of its own is shared: its
    hub (zx_hub.c) is the lock its futures take so that other threads can
    use them, and outlives the loop as long as they do.                 */

#define _GNU_SOURCE
#include "zx_coro.h"
#include "zx_loop_int.h"
#include "zx_future.h"
#include "zx_task.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

//  This thread's loops, newest first, and the one running now
static __thread zx_loop_t *s_newest_loop;
static __thread zx_loop_t *s_running_loop;

int64_t
zx__now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
zx__loop_now_us (const zx_loop_t *self)
{
    if (self && self == s_running_loop && self->now_us > 0)
        return self->now_us;
    return zx__now_us ();
}

//  What runs first in every zx_loop_new: workers/ registers its process
//  worker check (zx_init) here, so this layer needs to know nothing of it
static void (*s_start_hook) (void);

void
zx__loop_set_start_hook (void (*fn) (void))
{
    s_start_hook = fn;
}

zx_loop_t *
zx_loop_new (void)
{
    if (s_start_hook)
        s_start_hook ();
    zx_loop_t *self = calloc (1, sizeof (zx_loop_t));
    if (!self)
        return NULL;
    self->owner = pthread_self ();
    zx__timers_init (&self->timers);
    zx__spin_init (&self->spin);
    atomic_init (&self->remote_waiting, false);
    //  Build the poll set (the wake fd) before the first poll
    self->watches_dirty = true;
    self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->wake_fd < 0)
        goto fail_eventfd;
    if (pthread_mutex_init (&self->remote_lock, NULL))
        goto fail_mutex;
    self->older = s_newest_loop;
    if (s_newest_loop)
        s_newest_loop->newer = self;
    s_newest_loop = self;
    return self;

fail_mutex:
    close (self->wake_fd);
fail_eventfd:
    free (self);
    return NULL;
}

void
zx_loop_destroy (zx_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_loop_t *self = *self_p;
    zx__loop_unshare (self);
    //  Coroutines first: cancelled, they get to run to their end and free
    //  what they hold, while executors they may use still exist
    zx__coro_cancel_all (self);
    //  Closers run newest first: they may still use the loop
    while (self->closer_count > 0) {
        zx__closer_t closer = self->closers [--self->closer_count];
        closer.fn (closer.arg);
    }
    //  Other callbacks not yet run are dropped, but finished futures' done
    //  callbacks run, so that what they hold (the future, their argument)
    //  is released; a few rounds, for done callbacks that finish futures
    for (int round = 0; round < 8 && self->ready_count > 0; round++) {
        size_t todo = self->ready_count;
        while (todo-- > 0 && self->ready_count > 0) {
            zx__call_t call = self->ready [self->ready_head];
            self->ready_head = (self->ready_head + 1) % self->ready_cap;
            self->ready_count--;
            if (zx__future_is_fire (call.fn))
                call.fn (self, call.arg);
        }
    }
    free (self->closers);
    free (self->ready);
    free (self->before);
    zx__timers_free (&self->timers);
    zx__watches_free (self);
    free (self->remote);
    pthread_mutex_destroy (&self->remote_lock);
    close (self->wake_fd);
    zx__hub_unref (&self->hub);
    if (self->newer)
        self->newer->older = self->older;
    else
    if (s_newest_loop == self)
        s_newest_loop = self->older;
    if (self->older)
        self->older->newer = self->newer;
    free (self);
    *self_p = NULL;
}

zx_loop_t *
zx_loop_current (void)
{
    return s_running_loop ? s_running_loop : s_newest_loop;
}

//  Makes room in the ready ring for more calls. Returns ZX_OK, or
//  ZX_ENOMEM with the ring as it was.
static zx_err_t
s_ready_reserve (zx_loop_t *self, size_t more)
{
    if (more <= self->ready_cap - self->ready_count)
        return ZX_OK;
    size_t cap = self->ready_cap ? self->ready_cap : 64;
    while (cap - self->ready_count < more) {
        if (cap > SIZE_MAX / 2 / sizeof (zx__call_t))
            return ZX_ENOMEM;
        cap *= 2;
    }
    zx__call_t *ring = malloc (cap * sizeof (zx__call_t));
    if (!ring)
        return ZX_ENOMEM;
    for (size_t i = 0; i < self->ready_count; i++)
        ring [i] = self->ready [(self->ready_head + i) % self->ready_cap];
    free (self->ready);
    self->ready = ring;
    self->ready_cap = cap;
    self->ready_head = 0;
    return ZX_OK;
}

static zx_err_t
s_ready_push (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (s_ready_reserve (self, 1) != ZX_OK)
        return ZX_ENOMEM;
    size_t tail = (self->ready_head + self->ready_count) % self->ready_cap;
    self->ready [tail] = (zx__call_t) { fn, arg };
    self->ready_count++;
    return ZX_OK;
}

static void
s_withdrawn (zx_loop_t *loop, void *arg)
{
    (void) loop;
    (void) arg;
}

void
zx__loop_forget_calls (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self)
        return;
    for (size_t i = 0; i < self->ready_count; i++) {
        zx__call_t *call = &self->ready [(self->ready_head + i) % self->ready_cap];
        if (call->fn == fn && call->arg == arg)
            *call = (zx__call_t) { s_withdrawn, NULL };
    }
    for (size_t i = 0; i < self->before_count; i++)
        if (self->before [i].fn == fn && self->before [i].arg == arg)
            self->before [i] = (zx__call_t) { s_withdrawn, NULL };
}

zx_err_t
zx__loop_call_before_poll (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    if (self->before_count == self->before_cap) {
        size_t cap = self->before_cap ? self->before_cap * 2 : 8;
        zx__call_t *grown = realloc (self->before, cap * sizeof (zx__call_t));
        if (!grown)
            return ZX_ENOMEM;
        self->before = grown;
        self->before_cap = cap;
    }
    self->before [self->before_count++] = (zx__call_t) { fn, arg };
    return ZX_OK;
}

//  Runs the calls queued to run before the loop waits; those they queue
//  in turn wait for the next iteration.
static void
s_run_before_poll (zx_loop_t *self)
{
    size_t todo = self->before_count;
    for (size_t i = 0; i < todo; i++) {
        zx__call_t call = self->before [i];
        call.fn (self, call.arg);
    }
    //  Calls queued meanwhile were appended after the ones run
    memmove (self->before, self->before + todo,
             (self->before_count - todo) * sizeof (zx__call_t));
    self->before_count -= todo;
}

zx_err_t
zx_loop_call_soon (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    return s_ready_push (self, fn, arg);
}

//  Wakes the loop's wait (its wake fd is in every poll set)
static void
s_wake (zx_loop_t *self)
{
    uint64_t one = 1;
    ssize_t rc;
    do
        rc = write (self->wake_fd, &one, sizeof one);
    while (rc < 0 && errno == EINTR);
}

zx_err_t
zx_loop_call_soon_threadsafe (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    pthread_mutex_lock (&self->remote_lock);
    if (self->remote_count == self->remote_cap) {
        size_t cap = self->remote_cap ? self->remote_cap * 2 : 16;
        zx__call_t *grown = realloc (self->remote, cap * sizeof (zx__call_t));
        if (!grown) {
            pthread_mutex_unlock (&self->remote_lock);
            return ZX_ENOMEM;
        }
        self->remote = grown;
        self->remote_cap = cap;
    }
    self->remote [self->remote_count++] = (zx__call_t) { fn, arg };
    bool first = self->remote_count == 1;
    if (first)
        atomic_store (&self->remote_waiting, true);
    pthread_mutex_unlock (&self->remote_lock);
    //  Only the first queued call needs to wake the loop
    if (first)
        s_wake (self);
    return ZX_OK;
}

void
zx__loop_drain_remote (zx_loop_t *self)
{
    uint64_t value;
    if (read (self->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock (&self->remote_lock);
    //  Room for all of them first. Out of memory, they stay queued, none
    //  lost (a call may be what ends a future), and the wake fd is written
    //  again so that the next wait tries again at once
    if (s_ready_reserve (self, self->remote_count) != ZX_OK) {
        pthread_mutex_unlock (&self->remote_lock);
        s_wake (self);
        return;
    }
    for (size_t i = 0; i < self->remote_count; i++) {
        zx_err_t rc = s_ready_push (self, self->remote [i].fn, self->remote [i].arg);
        assert (rc == ZX_OK);       //  Reserved above
        (void) rc;
    }
    self->remote_count = 0;
    atomic_store (&self->remote_waiting, false);
    pthread_mutex_unlock (&self->remote_lock);
}

//  --------------------------------------------------------------------
//  Timers

uint64_t
zx_loop_call_later (zx_loop_t *self, int64_t delay_ms, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return 0;
    if (delay_ms < 0)
        delay_ms = 0;
    if (delay_ms > INT64_MAX / 2000)
        delay_ms = INT64_MAX / 2000;        //  Centuries: as good as never
    return zx__timers_add (&self->timers, zx__now_us () + delay_ms * 1000, fn, arg);
}

bool
zx_loop_cancel_timer (zx_loop_t *self, uint64_t timer_id)
{
    return self && zx__timers_cancel (&self->timers, timer_id);
}

static void
s_fire_timers (zx_loop_t *self)
{
    //  Fire only what is due now; a timer added by a callback waits for
    //  the next iteration even with a zero delay
    int64_t now = zx__now_us ();
    self->now_us = now;
    uint64_t last_id = self->timers.next_id;
    zx__timer_t timer;
    while (zx__timers_pop_due (&self->timers, now, last_id, &timer))
        timer.fn (self, timer.arg);
}

//  --------------------------------------------------------------------
//  Running

//  Runs one iteration, waiting at most until max_wait_us from now (-1 for
//  no limit besides timers).
static void
s_run_once (zx_loop_t *self, int64_t max_wait_us, bool (*done) (void *arg), void *arg)
{
    //  Run what was ready when the iteration began
    size_t todo = self->ready_count;
    while (todo-- > 0 && self->ready_count > 0) {
        zx__call_t call = self->ready [self->ready_head];
        self->ready_head = (self->ready_head + 1) % self->ready_cap;
        self->ready_count--;
        call.fn (self, call.arg);
    }
    //  Then what those callbacks asked to run before the wait: the pool's
    //  pump, which sends the tasks they submitted. So a reply's callback
    //  that submits the next task costs one poll per task, not three
    //  (the wait, an empty poll for the pump's turn, the wait again)
    if (self->before_count > 0)
        s_run_before_poll (self);
    int64_t wait_us = max_wait_us;
    //  Do not sleep when a callback just satisfied the caller or stopped
    //  the loop: the iteration ends and the run returns
    if (self->ready_count > 0 || self->before_count > 0 || self->stopping
    ||  (done && done (arg)))
        wait_us = 0;
    else
    if (zx__timers_first (&self->timers)) {
        const zx__timer_t *first = zx__timers_first (&self->timers);
        int64_t until = first->due_us - zx__now_us ();
        if (until < 0)
            until = 0;
        if (wait_us < 0 || until < wait_us)
            wait_us = until;
    }
    zx__watches_wait (self, wait_us);
    s_fire_timers (self);
}

bool
zx__loop_running (zx_loop_t *self)
{
    return self->running > 0 && pthread_equal (self->owner, pthread_self ());
}

zx_err_t
zx__loop_run_until (zx_loop_t *self, bool (*done) (void *arg), void *arg,
                    int64_t deadline_ms)
{
    if (!self)
        return ZX_EINVAL;
    if (self->running || !pthread_equal (self->owner, pthread_self ()))
        return ZX_EBUSY;
    self->running = 1;
    self->stopping = false;
    zx_loop_t *previous = s_running_loop;
    s_running_loop = self;
    self->now_us = zx__now_us ();       //  Not the last run's
    zx_err_t rc = ZX_OK;
    while (true) {
        if (done && done (arg)) {
            rc = ZX_OK;
            break;
        }
        if (self->stopping) {
            rc = ZX_ECANCELLED;
            break;
        }
        int64_t max_wait = -1;
        if (deadline_ms >= 0) {
            max_wait = deadline_ms * 1000 - zx__now_us ();
            if (max_wait < 0) {
                rc = ZX_ETIMEDOUT;
                break;
            }
        }
        s_run_once (self, max_wait, done, arg);
    }
    self->stopping = false;
    self->running = 0;
    s_running_loop = previous;
    return rc;
}

static bool
s_future_is_done (void *arg)
{
    return zx_future_done ((zx_future_t *) arg);
}

zx_err_t
zx_loop_run_until_complete (zx_loop_t *self, zx_future_t *future)
{
    if (!self || !future)
        return ZX_EINVAL;
    //  A shared future of another loop: nothing here would wake us
    zx__hub_t *hub = zx__future_hub (future);
    if (hub && self->hub != hub)
        return zx_future_wait (future, -1);
    zx_err_t rc = zx__loop_run_until (self, s_future_is_done, future, -1);
    if (rc != ZX_OK)
        return rc;
    return zx_future_error (future);
}

zx_err_t
zx_loop_run_forever (zx_loop_t *self)
{
    zx_err_t rc = zx__loop_run_until (self, NULL, NULL, -1);
    return rc == ZX_ECANCELLED ? ZX_OK : rc;
}

void
zx_loop_stop (zx_loop_t *self)
{
    if (self)
        self->stopping = true;
}

int64_t
zx_loop_time (zx_loop_t *self)
{
    (void) self;
    return zx__now_us () / 1000;
}

zx_err_t
zx__loop_on_destroy (zx_loop_t *self, void (*fn) (void *arg), void *arg)
{
    zx__closer_t *grown = realloc (self->closers, (self->closer_count + 1) * sizeof (zx__closer_t));
    if (!grown)
        return ZX_ENOMEM;
    self->closers = grown;
    self->closers [self->closer_count++] = (zx__closer_t) { fn, arg };
    return ZX_OK;
}

void *
zx__loop_default_executor (zx_loop_t *self)
{
    return self->default_executor;
}

void
zx__loop_set_default_executor (zx_loop_t *self, void *executor)
{
    self->default_executor = executor;
}

bool
zx__loop_is_owner (const zx_loop_t *self)
{
    return pthread_equal (self->owner, pthread_self ());
}

void
zx__loop_run_pending (zx_loop_t *self)
{
    zx__loop_drain_remote (self);
    size_t todo = self->ready_count;
    while (todo-- > 0 && self->ready_count > 0) {
        zx__call_t call = self->ready [self->ready_head];
        self->ready_head = (self->ready_head + 1) % self->ready_cap;
        self->ready_count--;
        call.fn (self, call.arg);
    }
    if (self->before_count > 0)
        s_run_before_poll (self);
}

//  --------------------------------------------------------------------
//  Shared loops

zx_err_t
zx__loop_share (zx_loop_t *self)
{
    if (self->hub)
        return ZX_OK;
    self->hub = zx__hub_new (self, self->owner);
    return self->hub ? ZX_OK : ZX_ENOMEM;
}

void
zx__loop_unshare (zx_loop_t *self)
{
    if (self->hub)
        zx__hub_orphan (self->hub);
}

zx__hub_t *
zx__loop_hub (const zx_loop_t *self)
{
    return self->hub;
}
