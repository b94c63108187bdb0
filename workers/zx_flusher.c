/*  zx_flusher.c - the per-process thread that sends a worker's batch while
    the worker runs a task (see zx_flusher.h).

    DESIGN: the worker's fast path must stay an atomic store and a load per
    task, so the flusher is woken only when a watch becomes due before the
    time it already sleeps to. That test is lock-free, and a wake-up could
    be lost between the flusher's scan and its sleep: so the flusher
    publishes the time it will sleep to, then scans the watches once more,
    and the worker stores its time before it reads the flusher's. One of
    the two sees the other (both are sequentially consistent). The flusher
    only ever try-locks a watch's guard, so it never waits on a worker,
    and a worker that holds its guard may wait on the flusher's lock.
    Every task sets a time (its STARTED): while tasks follow each other
    the flusher sleeps to the current one's and finds it moved on, so
    only the first task after a pause wakes it, and a busy worker costs
    it a wake-up per millisecond at most. It does not tick while nothing
    is due: a process that gets a batch now and then (a thousand workers
    on two cores) would pay a wake-up a millisecond for each gap (issue
    16: ticking for 100 ms after each batch was more than half of the CPU
    of 100 workers on 2 cores).
    Tasks that are each over before the flusher has woken for them (one
    in flight: every task a pause) would wake it once each, a third
    thread's wake-up for every few tasks. So a flusher woken from its
    endless sleep that finds nothing due lingers a millisecond, and
    lingers again while tasks came and went meanwhile: a worker between
    tasks marks its watch idle with the negative of its last time, so the
    flusher sees that a task ran even when none runs as it looks. Then
    steady short tasks cost it one wake-up a millisecond, and a batch
    that is over at once no more than before: the wake-up it made, and
    one linger.                                                          */

#define _GNU_SOURCE
#include "zx_flusher.h"
#include "zx_loop.h"

#include <assert.h>
#include <stddef.h>
#include <time.h>

#define ZX_FLUSHER_RETRY_US     100     //  A guard was busy: try again this soon
#define ZX_FLUSHER_LINGER_US    1000    //  Woken for tasks already over: stay up this long

static struct {
    pthread_mutex_t life;               //  Serializes starting and ending the thread
    pthread_mutex_t lock;               //  The list, stop, the condition
    pthread_cond_t wake;
    bool cond_ready;
    zx__flush_watch_t *watches;
    pthread_t thread;
    bool running;
    bool stop;
    _Atomic int64_t sleep_until;        //  What the flusher sleeps to (INT64_MAX: no end)
} s_flusher = {
    .life = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .sleep_until = INT64_MAX
};

//  Fires the watches that are due; returns the earliest time still to
//  come, and sets *moved when a watch changed since the last scan
static int64_t
s_fire_due (int64_t now, bool *moved)
{
    int64_t next = INT64_MAX;
    for (zx__flush_watch_t *watch = s_flusher.watches; watch; watch = watch->next) {
        int64_t due = atomic_load (&watch->due_us);
        if (due != watch->seen_us)
            *moved = true;
        watch->seen_us = due;
        if (due <= 0)
            continue;
        if (due > now) {
            if (due < next)
                next = due;
            continue;
        }
        if (pthread_mutex_trylock (&watch->guard) != 0) {
            //  Its worker is between tasks, or reading its socket
            if (now + ZX_FLUSHER_RETRY_US < next)
                next = now + ZX_FLUSHER_RETRY_US;
            continue;
        }
        due = atomic_load (&watch->due_us);
        if (due > 0 && due <= now) {
            atomic_store (&watch->due_us, 0);
            watch->fire (watch->arg);
        }
        due = atomic_load (&watch->due_us);
        watch->seen_us = due;
        pthread_mutex_unlock (&watch->guard);
        if (due > 0 && due < next)
            next = due;
    }
    return next;
}

static void *
s_run (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_flusher.lock);
    bool woken = false;                 //  The last sleep had no end, or lingered
    while (!s_flusher.stop) {
        int64_t now = zx__now_us ();
        bool moved = false;
        int64_t next = s_fire_due (now, &moved);
        bool linger = next == INT64_MAX && woken && moved;
        if (linger)
            next = now + ZX_FLUSHER_LINGER_US;
        atomic_store (&s_flusher.sleep_until, next);
        //  A watch set since the scan, before the store above, may have
        //  read the old time and not woken us
        bool again = false;
        for (zx__flush_watch_t *watch = s_flusher.watches; watch; watch = watch->next) {
            int64_t due = atomic_load (&watch->due_us);
            if (due > 0 && due != watch->seen_us && due < next)
                again = true;
        }
        if (again)
            continue;
        woken = linger || next == INT64_MAX;
        if (next == INT64_MAX)
            pthread_cond_wait (&s_flusher.wake, &s_flusher.lock);
        else {
            struct timespec until = {
                .tv_sec = (time_t) (next / 1000000),
                .tv_nsec = (long) (next % 1000000) * 1000
            };
            pthread_cond_timedwait (&s_flusher.wake, &s_flusher.lock, &until);
        }
    }
    atomic_store (&s_flusher.sleep_until, INT64_MAX);
    pthread_mutex_unlock (&s_flusher.lock);
    return NULL;
}

bool
zx__flusher_add (zx__flush_watch_t *watch, void (*fire) (void *arg), void *arg)
{
    assert (watch && fire);
    pthread_mutex_init (&watch->guard, NULL);
    atomic_init (&watch->due_us, 0);
    watch->fire = fire;
    watch->arg = arg;
    pthread_mutex_lock (&s_flusher.life);
    if (!s_flusher.cond_ready) {
        //  zx__now_us is CLOCK_MONOTONIC: so are the condition's deadlines
        pthread_condattr_t attr;
        pthread_condattr_init (&attr);
        pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
        pthread_cond_init (&s_flusher.wake, &attr);
        pthread_condattr_destroy (&attr);
        s_flusher.cond_ready = true;
    }
    if (!s_flusher.running) {
        s_flusher.stop = false;
        if (pthread_create (&s_flusher.thread, NULL, s_run, NULL) != 0) {
            pthread_mutex_unlock (&s_flusher.life);
            pthread_mutex_destroy (&watch->guard);
            return false;
        }
        //  Named from here, so that it has its name before it first runs
        pthread_setname_np (s_flusher.thread, "zexec-flusher");
        s_flusher.running = true;
    }
    pthread_mutex_lock (&s_flusher.lock);
    watch->next = s_flusher.watches;
    s_flusher.watches = watch;
    pthread_mutex_unlock (&s_flusher.lock);
    pthread_mutex_unlock (&s_flusher.life);
    return true;
}

void
zx__flusher_remove (zx__flush_watch_t *watch)
{
    assert (watch);
    pthread_mutex_lock (&s_flusher.life);
    pthread_mutex_lock (&s_flusher.lock);
    zx__flush_watch_t **link = &s_flusher.watches;
    while (*link && *link != watch)
        link = &(*link)->next;
    if (*link)
        *link = watch->next;
    bool last = s_flusher.watches == NULL;
    if (last) {
        s_flusher.stop = true;
        pthread_cond_signal (&s_flusher.wake);
    }
    pthread_mutex_unlock (&s_flusher.lock);
    if (last && s_flusher.running) {
        pthread_join (s_flusher.thread, NULL);
        s_flusher.running = false;
    }
    pthread_mutex_unlock (&s_flusher.life);
    pthread_mutex_destroy (&watch->guard);
}

void
zx__flusher_idle (zx__flush_watch_t *watch)
{
    int64_t due = atomic_load (&watch->due_us);
    if (due > 0)
        atomic_store (&watch->due_us, -due);
}

void
zx__flusher_due (zx__flush_watch_t *watch, int64_t due_us)
{
    atomic_store (&watch->due_us, due_us);
    if (due_us <= 0 || due_us >= atomic_load (&s_flusher.sleep_until))
        return;
    pthread_mutex_lock (&s_flusher.lock);
    pthread_cond_signal (&s_flusher.wake);
    pthread_mutex_unlock (&s_flusher.lock);
}
