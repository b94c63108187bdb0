/*  zx_loop.h - internal: what the rest of zexec needs from the loop.   */
#ifndef ZX_LOOP_H_INCLUDED
#define ZX_LOOP_H_INCLUDED
#include "zexec.h"
#include "zx_spin.h"
#include <pthread.h>

typedef void (zx__io_fn) (zx_loop_t *loop, void *arg);

//  Calls fn (loop, arg) from the loop whenever the ZeroMQ socket (a libzmq
//  socket handle, not a zsock_t) has a message to read. Returns ZX_OK or
//  ZX_ENOMEM.
zx_err_t zx__loop_add_socket (zx_loop_t *self, void *socket, zx__io_fn *fn, void *arg);

//  Calls fn (loop, arg) whenever fd is readable. Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__loop_add_fd (zx_loop_t *self, int fd, zx__io_fn *fn, void *arg);

//  As zx__loop_add_fd, and before the loop sleeps it asks probe (arg),
//  from its own thread, whether fd is or may soon be readable: while one
//  says soon, it spins rather than sleeps, within a budget (zx_spin.h).
//  A probe must be cheap (no system call) and may say ready only when fd
//  is or is about to be readable.
zx_err_t zx__loop_add_fd_probed (zx_loop_t *self, int fd, zx__io_fn *fn, void *arg,
                                 zx__probe_fn *probe);

//  Stops watching the socket (when socket is not NULL) or fd. Safe from
//  inside a handler.
void zx__loop_remove (zx_loop_t *self, void *socket, int fd);

//  Runs loop iterations until done (arg) returns true, the deadline (loop
//  time in ms, -1 for none) passes, or the loop is stopped. Returns ZX_OK
//  when done (arg) held, ZX_ETIMEDOUT, ZX_ECANCELLED (stopped) or ZX_EBUSY
//  when the loop is already running or the caller is not its thread.
zx_err_t zx__loop_run_until (zx_loop_t *self, bool (*done) (void *arg), void *arg,
                             int64_t deadline_ms);

//  Registers fn (arg) to run when the loop is destroyed, before it frees
//  anything (used for the default executor). Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__loop_on_destroy (zx_loop_t *self, void (*fn) (void *arg), void *arg);

//  The loop's default executor slot (see zx_run_in_executor).
void *zx__loop_default_executor (zx_loop_t *self);
void zx__loop_set_default_executor (zx_loop_t *self, void *executor);

//  Returns true while the calling thread is inside one of self's
//  iterations (its callbacks, handlers or coroutines).
bool zx__loop_running (zx_loop_t *self);

//  Sets a function that zx_loop_new calls first, before it makes a loop
//  (workers/ registers the process worker check of zx_init, from a
//  constructor). Call before any loop is made.
void zx__loop_set_start_hook (void (*fn) (void));

//  Monotonic time in microseconds.
int64_t zx__now_us (void);

//  zx__now_us as the loop last read it, when its wait ended, while the
//  loop runs on the calling thread (a callback's view of now, as libuv's
//  uv_now: late by what this iteration has run so far); the clock itself
//  otherwise, or for a NULL loop. For stamps taken per task, where a clock
//  read is a tiny task's tenth on a VM's kvm-clock.
int64_t zx__loop_now_us (const zx_loop_t *self);

//  True when the calling thread is the one that created (owns) the loop.
bool zx__loop_is_owner (const zx_loop_t *self);

//  Runs, once, the calls other threads have posted and the callbacks that
//  are ready, without waiting for anything (for a loop about to go).
void zx__loop_run_pending (zx_loop_t *self);

//  Withdraws every call of fn with arg that zx_loop_call_soon queued and
//  that has not run yet: an object that scheduled work on itself calls
//  this as it is destroyed. On the loop's own thread only.
void zx__loop_forget_calls (zx_loop_t *self, zx_callback_fn *fn, void *arg);

//  Queues fn (self, arg) to run once, after the callbacks of this
//  iteration and before the loop next waits (or at the start of the next
//  iteration's wait when queued from outside a run): for work that
//  gathers what those callbacks did, such as a pool's pump sending the
//  tasks they submitted. zx__loop_forget_calls withdraws it too. Returns
//  ZX_OK, ZX_EINVAL for a NULL loop or fn, or ZX_ENOMEM. On the loop's own
//  thread only.
zx_err_t zx__loop_call_before_poll (zx_loop_t *self, zx_callback_fn *fn, void *arg);

/*  ---------------------------------------------------------------------
    Shared loops: the loop of an executor that runs on its own I/O thread

    A shared loop has a hub: a lock that every one of its futures takes
    around its state, so that other threads may query, wait for, cancel
    and drop them (zx_future.c), and a way to post calls to the loop for
    as long as it exists. The hub is reference counted: futures keep it
    (and so their lock) after the loop is gone.                           */

typedef struct zx__hub zx__hub_t;

//  Makes self a shared loop, from its own thread, before it makes any
//  future. Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__loop_share (zx_loop_t *self);

//  Stops other threads from posting to a shared loop: zx__hub_post then
//  fails. zx_loop_destroy does it too; an owner that must run what was
//  posted before it frees what those calls use calls this first, then
//  zx__loop_run_pending.
void zx__loop_unshare (zx_loop_t *self);

//  Returns the loop's hub, or NULL for a loop that is not shared.
zx__hub_t *zx__loop_hub (const zx_loop_t *self);

//  Makes a hub for loop, run by thread owner, with one reference (the
//  loop's), or NULL when out of memory. zx__hub_orphan tells it, under
//  its lock, that its loop takes no more posts (zx__loop_unshare).
//  zx_hub.c.
zx__hub_t *zx__hub_new (zx_loop_t *loop, pthread_t owner);
void zx__hub_orphan (zx__hub_t *self);

//  Adds a reference to the hub; zx__hub_unref drops one (and nulls the
//  pointer); the last one frees it.
zx__hub_t *zx__hub_ref (zx__hub_t *self);
void zx__hub_unref (zx__hub_t **self_p);

//  Takes and releases the hub's lock (not recursive).
void zx__hub_lock (zx__hub_t *self);
void zx__hub_unlock (zx__hub_t *self);

//  Returns the hub's loop, or NULL once it is unshared or destroyed. Call
//  with the lock held; the loop stays valid until it is released.
zx_loop_t *zx__hub_loop (zx__hub_t *self);

//  True when the calling thread is the one that runs the hub's loop.
bool zx__hub_on_loop (const zx__hub_t *self);

//  Posts fn (loop, arg) to the hub's loop from any thread, as
//  zx_loop_call_soon_threadsafe does. Returns ZX_OK, ZX_ESHUTDOWN when
//  the loop is gone (fn will never run) or ZX_ENOMEM. With locked, the
//  caller already holds the hub's lock.
zx_err_t zx__hub_post (zx__hub_t *self, bool locked, zx_callback_fn *fn, void *arg);

#endif
