/*  zexec/loop.h - process start-up, the event loop and coroutines.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_LOOP_H_INCLUDED
#define ZEXEC_LOOP_H_INCLUDED

#include "zexec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Process start-up                                                      */

//  Call first in main. In a process that a process pool started as its
//  worker, this runs the worker until its pool lets it go and then exits
//  the process: it never returns. In any other process it returns at once.
//  If main does not call it, zx_loop_new and the pool constructors do the
//  same check, but code that ran before them has then run in the worker
//  too (as code above Python's `if __name__ == '__main__'` does).
ZX_EXPORT void zx_init (int argc, char **argv);

/*  ---------------------------------------------------------------------
    Event loop: the coordinator actor                                     */

typedef struct zx_loop zx_loop_t;
typedef struct zx_future zx_future_t;
typedef void (zx_callback_fn) (zx_loop_t *loop, void *arg);

//  Creates an event loop owned by the calling thread, which becomes that
//  thread's current loop. Returns NULL when out of memory or file
//  descriptors. Caller owns the loop.
ZX_EXPORT zx_loop_t *zx_loop_new (void);

//  Destroys a loop; accepts NULL and nulls the caller's pointer. Its
//  coroutines that have not finished are cancelled first and the loop
//  runs (for at most a second) so that they return and free what they
//  hold; their futures end cancelled. Then its default executor is shut
//  down, and callbacks and timers not yet run are dropped, except the done
//  callbacks of futures that have finished, which run. Destroy the
//  executors you made before the loop they were used with.
ZX_EXPORT void zx_loop_destroy (zx_loop_t **self_p);

//  Returns the calling thread's current loop: the one running on it, else
//  the one last created on it and not yet destroyed, else NULL.
ZX_EXPORT zx_loop_t *zx_loop_current (void);

//  Schedules fn (loop, arg) to run once on the loop's next iteration, in
//  the order of scheduling. Returns ZX_OK or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_loop_call_soon (zx_loop_t *self, zx_callback_fn *fn, void *arg);

//  Same as zx_loop_call_soon, but callable from any thread; it wakes the
//  loop if it is waiting. Thread-safe. Returns ZX_OK or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_loop_call_soon_threadsafe (zx_loop_t *self, zx_callback_fn *fn,
                                                 void *arg);

//  Schedules fn (loop, arg) to run once, delay_ms from now. Returns a timer
//  id (never 0) for zx_loop_cancel_timer, or 0 when out of memory.
ZX_EXPORT uint64_t zx_loop_call_later (zx_loop_t *self, int64_t delay_ms,
                                       zx_callback_fn *fn, void *arg);

//  Cancels a timer that has not fired. Returns true if it was cancelled,
//  false if it had fired, was cancelled, or never existed.
ZX_EXPORT bool zx_loop_cancel_timer (zx_loop_t *self, uint64_t timer_id);

//  Runs the loop until future is done (or failed or cancelled). Returns the
//  future's outcome as zx_future_error does, or ZX_EBUSY when called from
//  inside the loop's own callbacks or coroutines. A shared future of an
//  executor with its own loop (see future.h) is waited for as
//  zx_future_wait does, without running this loop.
ZX_EXPORT zx_err_t zx_loop_run_until_complete (zx_loop_t *self, zx_future_t *future);

//  Runs the loop until zx_loop_stop is called. Returns ZX_OK, or ZX_EBUSY
//  when the loop is already running.
ZX_EXPORT zx_err_t zx_loop_run_forever (zx_loop_t *self);

//  Makes zx_loop_run_forever return after the current iteration. Safe to
//  call from the loop's callbacks and coroutines; from another thread use
//  zx_loop_call_soon_threadsafe with a callback that calls it.
ZX_EXPORT void zx_loop_stop (zx_loop_t *self);

//  Returns the loop's monotonic clock in milliseconds.
ZX_EXPORT int64_t zx_loop_time (zx_loop_t *self);

/*  ---------------------------------------------------------------------
    Coroutines: stackful, run by the loop

    A coroutine is a plain C function running on its own stack. Inside it,
    zx_await, zx_sleep, zx_wait and the other waiting calls suspend only
    the coroutine and let the loop run others. The same calls made from
    plain code outside any coroutine (such as main) run the loop until they
    are satisfied, which is how a program blocks on a future.            */

typedef void (zx_coro_fn) (void *arg);

//  Starts fn (arg) as a coroutine on loop; it first runs on the loop's
//  next iteration. Returns its future, which is done when fn returns (with
//  the values fn put in zx_coro_result), failed when fn called
//  zx_coro_fail, or cancelled when it was cancelled. Caller owns the
//  future. Returns NULL when out of memory. stack_size 0 means 256 KiB.
ZX_EXPORT zx_future_t *zx_coro_start (zx_loop_t *loop, zx_coro_fn *fn, void *arg,
                                      size_t stack_size);

//  Returns true when called from inside a coroutine.
ZX_EXPORT bool zx_in_coro (void);

//  Returns the result list of the running coroutine (borrowed), to which it
//  adds its return values; NULL outside a coroutine.
ZX_EXPORT zx_values_t *zx_coro_result (void);

//  Makes the running coroutine's future fail with code and a message when
//  the coroutine returns. Returns code, or ZX_EINVAL outside a coroutine.
ZX_EXPORT zx_err_t zx_coro_fail (zx_err_t code, const char *format, ...) ZX_PRINTF (2, 3);

//  Waits for future to finish: inside a coroutine it suspends the
//  coroutine; outside, it runs the current loop. Returns the future's
//  outcome (ZX_OK when done with a result, its error code when failed,
//  ZX_ECANCELLED). Inside a coroutine that is itself cancelled while
//  waiting it returns ZX_ECANCELLED at once; the coroutine should then
//  return. Returns ZX_EBUSY when called from a loop callback. A shared
//  future (of an executor with its own loop, see future.h) is waited for
//  by blocking the calling thread, a coroutine's whole loop included.
ZX_EXPORT zx_err_t zx_await (zx_future_t *future);

//  Sleeps ms milliseconds, letting the loop run. Returns ZX_OK,
//  ZX_ECANCELLED (the coroutine was cancelled) or ZX_EBUSY.
ZX_EXPORT zx_err_t zx_sleep (int64_t ms);

#ifdef __cplusplus
}
#endif

#endif
