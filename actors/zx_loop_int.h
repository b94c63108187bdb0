/*  zx_loop_int.h - internal to the loop: struct zx_loop, shared by
    zx_loop.c (calls, timers, runs) and zx_watch.c (watches and the wait).
    Nothing outside those two files includes it; the rest of zexec uses
    zx_loop.h.                                                           */
#ifndef ZX_LOOP_INT_H_INCLUDED
#define ZX_LOOP_INT_H_INCLUDED
#include "zx_loop.h"
#include "zx_spin.h"
#include "zx_timers.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct {
    zx_callback_fn *fn;
    void *arg;
} zx__call_t;

typedef struct {
    void *socket;           //  libzmq socket, or NULL for an fd
    int fd;
    zx__io_fn *fn;          //  NULL once removed
    void *arg;
    zx__probe_fn *probe;    //  Or NULL: see zx__loop_add_fd_probed
} zx__watch_t;

typedef struct {
    void (*fn) (void *arg);
    void *arg;
} zx__closer_t;

struct zx_loop {
    pthread_t owner;
    zx__hub_t *hub;                 //  Shared loops only
    zx_loop_t *older, *newer;       //  The thread's loops
    //  Ready queue: a growable ring
    zx__call_t *ready;
    size_t ready_head, ready_count, ready_cap;
    //  Calls that run once more before the loop next waits (pumps)
    zx__call_t *before;
    size_t before_count, before_cap;
    zx__timers_t timers;    //  A binary min-heap (zx_timers.c)
    //  Watched sockets and fds; items is rebuilt when watches change
    zx__watch_t *watches;
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
    zx__call_t *remote;
    size_t remote_count, remote_cap;
    atomic_bool remote_waiting;     //  For a spinning loop: calls wait
    int64_t now_us;         //  The clock when the last wait ended
    //  State
    int running;            //  Nesting depth of run calls (0 or 1)
    bool stopping;
    zx__closer_t *closers;
    size_t closer_count;
    void *default_executor;
};

//  Waits at most wait_us (-1: no limit) for a watched socket or fd to be
//  readable, spinning first for a probed watch whose reply is due within
//  microseconds (zx_spin.h), and runs the handlers of those that are.
//  Calls from other threads go to the ready queue (zx__loop_drain_remote).
//  Sets the loop's clock (now_us) when the wait ends. zx_watch.c.
void zx__watches_wait (zx_loop_t *self, int64_t wait_us);

//  Frees the watch list and the poll sets. zx_watch.c.
void zx__watches_free (zx_loop_t *self);

//  Moves the calls other threads queued (zx_loop_call_soon_threadsafe)
//  to the ready queue and clears the wake fd; when the ready queue cannot
//  grow, leaves them all queued and writes the wake fd again, so that the
//  next wait tries again. zx_loop.c.
void zx__loop_drain_remote (zx_loop_t *self);

#endif
