/*  zx_loop.c - the event loop: the coordinator actor.

    DESIGN: one thread owns a loop. Each iteration runs the callbacks that
    were ready when it began (so a callback that schedules another cannot
    starve I/O), then waits in zmq_poll on the registered ZeroMQ sockets
    and file descriptors until the next timer is due, then fires due
    timers. Replies from workers arrive on ZeroMQ sockets, so they wake the
    poll directly; other threads wake it through an eventfd that is part of
    the same poll set (call_soon_threadsafe). Timers live in a binary heap
    ordered by (due time, sequence), so equal deadlines fire in order.
    A wait for a thread pool's reply due within microseconds is spun for,
    not slept in (s_spin, zx_spin.h): the watch's probe says when.
    The loop of an executor with an I/O thread of its own is shared: its
    hub is the lock its futures take so that other threads can use them,
    and outlives the loop as long as they do.

    LENGTH: about 760 lines, over the project's 700, since the calls run
    before the wait, the poll(2) path for sets of fds and the spin for
    probed fds came (issue 16); the shared loops' hub went to zx_hub.c.
    The watches and the wait (s_watch_*, s_rebuild_items, s_spin and the
    wait of s_run_once) are the next to split out, behind an internal
    header holding struct zx_loop. */

#define _GNU_SOURCE
#include "zx_coro.h"
#include "zx_loop.h"
#include "zx_future.h"
#include "zx_task.h"
#include "zx_spin.h"
#include "zx_timers.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <zmq.h>

typedef struct {
    zx_callback_fn *fn;
    void *arg;
} s_call_t;

typedef struct {
    void *socket;           //  libzmq socket, or NULL for an fd
    int fd;
    zx__io_fn *fn;          //  NULL once removed
    void *arg;
    zx__probe_fn *probe;    //  Or NULL: see zx__loop_add_fd_probed
} s_watch_t;

typedef struct {
    void (*fn) (void *arg);
    void *arg;
} s_closer_t;

struct zx_loop {
    pthread_t owner;
    zx__hub_t *hub;                 //  Shared loops only
    zx_loop_t *older, *newer;       //  The thread's loops
    //  Ready queue: a growable ring
    s_call_t *ready;
    size_t ready_head, ready_count, ready_cap;
    //  Calls that run once more before the loop next waits (pumps)
    s_call_t *before;
    size_t before_count, before_cap;
    zx__timers_t timers;    //  A binary min-heap (zx_timers.c)
    //  Watched sockets and fds; items is rebuilt when watches change
    s_watch_t *watches;
    size_t watch_count, watch_cap;
    zmq_pollitem_t *items;
    struct pollfd *fds;     //  The same set, while it holds no ZeroMQ socket
    size_t items_cap;
    bool only_fds;
    bool watches_dirty;
    size_t probes;          //  Watches with a probe: the loop may spin for them
    zx__spin_t spin;
    unsigned spun_in_row;   //  Replies spun for since the last poll
    //  Cross-thread calls
    int wake_fd;
    pthread_mutex_t remote_lock;
    s_call_t *remote;
    size_t remote_count, remote_cap;
    atomic_bool remote_waiting;     //  For a spinning loop: calls wait
    int64_t now_us;         //  The clock when the last wait ended
    //  State
    int running;            //  Nesting depth of run calls (0 or 1)
    bool stopping;
    s_closer_t *closers;
    size_t closer_count;
    void *default_executor;
};

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
        s_closer_t closer = self->closers [--self->closer_count];
        closer.fn (closer.arg);
    }
    //  Other callbacks not yet run are dropped, but finished futures' done
    //  callbacks run, so that what they hold (the future, their argument)
    //  is released; a few rounds, for done callbacks that finish futures
    for (int round = 0; round < 8 && self->ready_count > 0; round++) {
        size_t todo = self->ready_count;
        while (todo-- > 0 && self->ready_count > 0) {
            s_call_t call = self->ready [self->ready_head];
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
    free (self->watches);
    free (self->items);
    free (self->fds);
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

static zx_err_t
s_ready_push (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (self->ready_count == self->ready_cap) {
        size_t cap = self->ready_cap ? self->ready_cap * 2 : 64;
        s_call_t *ring = malloc (cap * sizeof (s_call_t));
        if (!ring)
            return ZX_ENOMEM;
        for (size_t i = 0; i < self->ready_count; i++)
            ring [i] = self->ready [(self->ready_head + i) % self->ready_cap];
        free (self->ready);
        self->ready = ring;
        self->ready_cap = cap;
        self->ready_head = 0;
    }
    size_t tail = (self->ready_head + self->ready_count) % self->ready_cap;
    self->ready [tail] = (s_call_t) { fn, arg };
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
        s_call_t *call = &self->ready [(self->ready_head + i) % self->ready_cap];
        if (call->fn == fn && call->arg == arg)
            *call = (s_call_t) { s_withdrawn, NULL };
    }
    for (size_t i = 0; i < self->before_count; i++)
        if (self->before [i].fn == fn && self->before [i].arg == arg)
            self->before [i] = (s_call_t) { s_withdrawn, NULL };
}

zx_err_t
zx__loop_call_before_poll (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    if (self->before_count == self->before_cap) {
        size_t cap = self->before_cap ? self->before_cap * 2 : 8;
        s_call_t *grown = realloc (self->before, cap * sizeof (s_call_t));
        if (!grown)
            return ZX_ENOMEM;
        self->before = grown;
        self->before_cap = cap;
    }
    self->before [self->before_count++] = (s_call_t) { fn, arg };
    return ZX_OK;
}

//  Runs the calls queued to run before the loop waits; those they queue
//  in turn wait for the next iteration.
static void
s_run_before_poll (zx_loop_t *self)
{
    size_t todo = self->before_count;
    for (size_t i = 0; i < todo; i++) {
        s_call_t call = self->before [i];
        call.fn (self, call.arg);
    }
    //  Calls queued meanwhile were appended after the ones run
    memmove (self->before, self->before + todo,
             (self->before_count - todo) * sizeof (s_call_t));
    self->before_count -= todo;
}

zx_err_t
zx_loop_call_soon (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    return s_ready_push (self, fn, arg);
}

zx_err_t
zx_loop_call_soon_threadsafe (zx_loop_t *self, zx_callback_fn *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    pthread_mutex_lock (&self->remote_lock);
    if (self->remote_count == self->remote_cap) {
        size_t cap = self->remote_cap ? self->remote_cap * 2 : 16;
        s_call_t *grown = realloc (self->remote, cap * sizeof (s_call_t));
        if (!grown) {
            pthread_mutex_unlock (&self->remote_lock);
            return ZX_ENOMEM;
        }
        self->remote = grown;
        self->remote_cap = cap;
    }
    self->remote [self->remote_count++] = (s_call_t) { fn, arg };
    bool first = self->remote_count == 1;
    if (first)
        atomic_store (&self->remote_waiting, true);
    pthread_mutex_unlock (&self->remote_lock);
    //  Only the first queued call needs to wake the loop
    if (first) {
        uint64_t one = 1;
        ssize_t rc;
        do
            rc = write (self->wake_fd, &one, sizeof one);
        while (rc < 0 && errno == EINTR);
    }
    return ZX_OK;
}

static void
s_drain_remote (zx_loop_t *self)
{
    uint64_t value;
    if (read (self->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock (&self->remote_lock);
    s_call_t *calls = self->remote;
    size_t count = self->remote_count;
    self->remote = NULL;
    self->remote_count = self->remote_cap = 0;
    atomic_store (&self->remote_waiting, false);
    pthread_mutex_unlock (&self->remote_lock);
    for (size_t i = 0; i < count; i++)
        if (s_ready_push (self, calls [i].fn, calls [i].arg) != ZX_OK)
            break;          //  Out of memory: the rest is lost; nothing better to do
    free (calls);
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
//  Watches

static zx_err_t
s_watch_add (zx_loop_t *self, void *socket, int fd, zx__io_fn *fn, void *arg,
             zx__probe_fn *probe)
{
    if (!self || !fn)
        return ZX_EINVAL;
    if (self->watch_count == self->watch_cap) {
        size_t cap = self->watch_cap ? self->watch_cap * 2 : 8;
        s_watch_t *grown = realloc (self->watches, cap * sizeof (s_watch_t));
        if (!grown)
            return ZX_ENOMEM;
        self->watches = grown;
        self->watch_cap = cap;
    }
    self->watches [self->watch_count++] = (s_watch_t) { socket, fd, fn, arg, probe };
    self->watches_dirty = true;
    return ZX_OK;
}

zx_err_t
zx__loop_add_socket (zx_loop_t *self, void *socket, zx__io_fn *fn, void *arg)
{
    return s_watch_add (self, socket, -1, fn, arg, NULL);
}

zx_err_t
zx__loop_add_fd (zx_loop_t *self, int fd, zx__io_fn *fn, void *arg)
{
    return s_watch_add (self, NULL, fd, fn, arg, NULL);
}

zx_err_t
zx__loop_add_fd_probed (zx_loop_t *self, int fd, zx__io_fn *fn, void *arg,
                        zx__probe_fn *probe)
{
    return s_watch_add (self, NULL, fd, fn, arg, probe);
}

void
zx__loop_remove (zx_loop_t *self, void *socket, int fd)
{
    for (size_t i = 0; i < self->watch_count; i++) {
        s_watch_t *watch = &self->watches [i];
        if (watch->fn && (socket ? watch->socket == socket
                                 : (!watch->socket && watch->fd == fd))) {
            watch->fn = NULL;
            self->watches_dirty = true;
        }
    }
}

//  Compacts removed watches and rebuilds the poll set: slot 0 is the
//  wake fd, slot i + 1 is watch i.
static zx_err_t
s_rebuild_items (zx_loop_t *self)
{
    size_t kept = 0;
    self->probes = 0;
    for (size_t i = 0; i < self->watch_count; i++)
        if (self->watches [i].fn) {
            self->probes += self->watches [i].probe != NULL;
            self->watches [kept++] = self->watches [i];
        }
    self->watch_count = kept;
    if (self->items_cap < kept + 1) {
        zmq_pollitem_t *grown = realloc (self->items, (kept + 1) * sizeof (zmq_pollitem_t));
        if (!grown)
            return ZX_ENOMEM;
        self->items = grown;
        struct pollfd *fds = realloc (self->fds, (kept + 1) * sizeof (struct pollfd));
        if (!fds)
            return ZX_ENOMEM;
        self->fds = fds;
        self->items_cap = kept + 1;
    }
    self->items [0] = (zmq_pollitem_t) { NULL, self->wake_fd, ZMQ_POLLIN, 0 };
    self->only_fds = true;
    for (size_t i = 0; i < kept; i++) {
        self->items [i + 1] = (zmq_pollitem_t) {
            self->watches [i].socket, self->watches [i].fd, ZMQ_POLLIN, 0 };
        if (self->watches [i].socket)
            self->only_fds = false;
    }
    for (size_t i = 0; i < kept + 1; i++)
        self->fds [i] = (struct pollfd) { self->items [i].fd, POLLIN, 0 };
    self->watches_dirty = false;
    return ZX_OK;
}

//  --------------------------------------------------------------------
//  Running

//  Spins up to limit_us while a probed watch says its fd may soon be
//  readable. Returns the index of the watch that became ready, -1 when
//  none said soon or a cross-thread call came (poll then), -2 when the
//  time ran out.
static long
s_spin (zx_loop_t *self, int64_t limit_us)
{
    int64_t start = zx__now_us ();
    while (true) {
        if (atomic_load_explicit (&self->remote_waiting, memory_order_relaxed))
            return -1;
        bool soon = false;
        for (size_t i = 0; i < self->watch_count; i++) {
            s_watch_t *watch = &self->watches [i];
            if (!watch->probe || !watch->fn)
                continue;
            zx__probe_t probe = watch->probe (watch->arg);
            if (probe == ZX__PROBE_READY) {
                zx__spin_hit (&self->spin, zx__now_us () - start);
                return (long) i;
            }
            soon |= probe == ZX__PROBE_SOON;
        }
        if (!soon)
            return -1;
        if (zx__now_us () - start >= limit_us) {
            zx__spin_miss (&self->spin);
            return -2;
        }
        zx__spin_relax ();
    }
}

//  Runs one iteration, waiting at most until max_wait_us from now (-1 for
//  no limit besides timers).
static void
s_run_once (zx_loop_t *self, int64_t max_wait_us, bool (*done) (void *arg), void *arg)
{
    //  Run what was ready when the iteration began
    size_t todo = self->ready_count;
    while (todo-- > 0 && self->ready_count > 0) {
        s_call_t call = self->ready [self->ready_head];
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
    if (self->watches_dirty && s_rebuild_items (self) != ZX_OK)
        wait_us = wait_us < 0 || wait_us > 1000 ? 1000 : wait_us;
    //  zmq_poll takes milliseconds: round up so we never spin before a timer
    long timeout_ms = wait_us < 0 ? -1 : (long) ((wait_us + 999) / 1000);
    size_t count = self->watch_count + 1;
    int rc;
    //  A reply a few microseconds away is cheaper spun for than slept for
    //  (zx_spin.h). Every ZX__SPIN_POLL_EVERY replies spun for, the other
    //  fds get a poll that does not wait
    long spun = -1;
    if (wait_us != 0 && self->probes > 0 && !self->watches_dirty) {
        int64_t budget = zx__spin_budget (&self->spin);
        if (budget > 0 && (wait_us < 0 || wait_us > budget))
            spun = s_spin (self, budget);
        if (spun >= 0 && ++self->spun_in_row >= ZX__SPIN_POLL_EVERY)
            timeout_ms = 0;
        else
        if (spun >= 0) {
            for (size_t i = 0; i < count; i++)
                self->items [i].revents = i == (size_t) spun + 1 ? ZMQ_POLLIN : 0;
        }
    }
    if (spun >= 0 && timeout_ms != 0)
        rc = 1;
    else
    if (self->only_fds && !self->watches_dirty) {
        //  zmq_poll's first pass never waits (it checks its sockets'
        //  events first), so a wait through it costs two poll calls even
        //  with no socket to check: a thread pool's set is all fds
        rc = poll (self->fds, count, timeout_ms > INT_MAX ? INT_MAX : (int) timeout_ms);
        for (size_t i = 0; rc > 0 && i < count; i++)
            self->items [i].revents = self->fds [i].revents & POLLIN ? ZMQ_POLLIN : 0;
    }
    else
        rc = zmq_poll (self->items, (int) count, timeout_ms);
    if (spun < 0 || timeout_ms == 0)
        self->spun_in_row = 0;
    self->now_us = zx__now_us ();
    if (rc > 0) {
        if (self->items [0].revents & ZMQ_POLLIN)
            s_drain_remote (self);
        //  Handlers may add or remove watches: walk a stable count and
        //  skip any removed meanwhile
        size_t watched = self->watch_count;
        for (size_t i = 0; i < watched && i + 1 < count; i++)
            if ((self->items [i + 1].revents & ZMQ_POLLIN) && self->watches [i].fn)
                self->watches [i].fn (self, self->watches [i].arg);
    }
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
    s_closer_t *grown = realloc (self->closers, (self->closer_count + 1) * sizeof (s_closer_t));
    if (!grown)
        return ZX_ENOMEM;
    self->closers = grown;
    self->closers [self->closer_count++] = (s_closer_t) { fn, arg };
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
    s_drain_remote (self);
    size_t todo = self->ready_count;
    while (todo-- > 0 && self->ready_count > 0) {
        s_call_t call = self->ready [self->ready_head];
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
