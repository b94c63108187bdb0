/*  zx_coro.h - internal: suspending and resuming coroutines.

    A waiting call suspends the running coroutine with zx__coro_suspend
    after arranging for someone to call zx__coro_resume later; it passes
    an unhook function that cancellation calls to withdraw that
    arrangement before resuming the coroutine with ZX_ECANCELLED.        */
#ifndef ZX_CORO_H_INCLUDED
#define ZX_CORO_H_INCLUDED
#include "zexec.h"

typedef struct zx_coro zx_coro_t;

//  Returns the running coroutine of this thread, or NULL.
zx_coro_t *zx__coro_current (void);

//  Suspends the running coroutine until zx__coro_resume; returns the code
//  given to it. unhook (arg) is called if the coroutine is cancelled while
//  suspended. Returns ZX_ECANCELLED at once when it already was.
zx_err_t zx__coro_suspend (void (*unhook) (void *arg), void *arg);

//  Resumes a suspended coroutine with code, from loop context (a callback
//  or handler, never another coroutine).
void zx__coro_resume (zx_coro_t *co, zx_err_t code);

//  Cancels every coroutine of loop and runs the loop (for at most a
//  second) until they have returned; frees those that never started. For
//  zx_loop_destroy.
void zx__coro_cancel_all (zx_loop_t *loop);

//  Returns the loop a coroutine runs on.
zx_loop_t *zx__coro_loop (zx_coro_t *co);

#endif
