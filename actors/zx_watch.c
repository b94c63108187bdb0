/*  zx_watch.c - the loop's watches and its wait: which sockets and fds it
    polls, the spin for a probed fd, and the poll itself.

    DESIGN: the watches are an array in the order they were added; a
    removed one is marked (fn NULL) and compacted away before the next
    wait, so that a handler may add or remove watches while the loop
    walks them. The poll set is rebuilt from them when they change: slot
    0 is the loop's wake fd, slot i + 1 is watch i. A set of plain fds is
    polled with poll(2), one with a ZeroMQ socket with zmq_poll. Before it
    sleeps, the wait spins while a watch's probe says its fd may be ready
    within microseconds (zx_spin.h, zx__loop_add_fd_probed).           */

#define _GNU_SOURCE
#include "zx_loop_int.h"

#include <limits.h>
#include <stdlib.h>

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
        zx__watch_t *grown = realloc (self->watches, cap * sizeof (zx__watch_t));
        if (!grown)
            return ZX_ENOMEM;
        self->watches = grown;
        self->watch_cap = cap;
    }
    self->watches [self->watch_count++] = (zx__watch_t) { socket, fd, fn, arg, probe };
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
        zx__watch_t *watch = &self->watches [i];
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

void
zx__watches_free (zx_loop_t *self)
{
    free (self->watches);
    free (self->items);
    free (self->fds);
    self->watches = NULL;
    self->items = NULL;
    self->fds = NULL;
    self->watch_count = self->watch_cap = self->items_cap = 0;
}

//  --------------------------------------------------------------------
//  The wait

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
            zx__watch_t *watch = &self->watches [i];
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

void
zx__watches_wait (zx_loop_t *self, int64_t wait_us)
{
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
            zx__loop_drain_remote (self);
        //  Handlers may add or remove watches: walk a stable count and
        //  skip any removed meanwhile
        size_t watched = self->watch_count;
        for (size_t i = 0; i < watched && i + 1 < count; i++)
            if ((self->items [i + 1].revents & ZMQ_POLLIN) && self->watches [i].fn)
                self->watches [i].fn (self, self->watches [i].arg);
    }
}
