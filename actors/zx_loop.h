/*  zx_loop.h - internal: what the rest of zexec needs from the loop.   */
#ifndef ZX_LOOP_H_INCLUDED
#define ZX_LOOP_H_INCLUDED
#include "zexec.h"

typedef void (zx__io_fn) (zx_loop_t *loop, void *arg);

//  Calls fn (loop, arg) from the loop whenever the ZeroMQ socket (a libzmq
//  socket handle, not a zsock_t) has a message to read. Returns ZX_OK or
//  ZX_ENOMEM.
zx_err_t zx__loop_add_socket (zx_loop_t *self, void *socket, zx__io_fn *fn, void *arg);

//  Calls fn (loop, arg) whenever fd is readable. Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__loop_add_fd (zx_loop_t *self, int fd, zx__io_fn *fn, void *arg);

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

#endif
