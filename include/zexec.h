/*  zexec.h - the public API of zexec.

    zexec runs work in threads, processes and (later) other machines the way
    Python's asyncio `loop.run_in_executor()` does: a coordinator thread runs an
    event loop and stackful coroutines; work messages go over ZeroMQ sockets to
    worker actors (threads over inproc, processes over ipc); each reply completes
    a future.

    Conventions used by every function below:
    - Objects are created with `zx_THING_new` and freed with
      `zx_THING_destroy (&ptr)`, which accepts a NULL pointer and sets the
      caller's pointer to NULL.
    - Errors are `zx_err_t` values; `zx_strerror` names them. Failed futures
      carry a code and a human-readable message.
    - Times are milliseconds. A timeout of -1 means "wait forever".
    - Loops, futures and coroutines belong to the thread that created the loop
      and must only be touched from it; the exceptions say "thread-safe".
*/
#ifndef ZEXEC_H_INCLUDED
#define ZEXEC_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZEXEC_VERSION_MAJOR 0
#define ZEXEC_VERSION_MINOR 1
#define ZEXEC_VERSION_PATCH 0

#if defined(__GNUC__)
#   define ZX_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#   define ZX_PRINTF(f, a)
#endif

//  ZX_EXPORT marks the public API: libzexec is built with hidden
//  visibility, so only what this header declares with it is exported from
//  the shared library (as libuv's UV_EXTERN and nng's NNG_DECL do).
#if defined(__GNUC__)
#   define ZX_EXPORT __attribute__ ((visibility ("default")))
#else
#   define ZX_EXPORT
#endif

//  The version this header belongs to, as one number (10000 * major + 100
//  * minor + patch), for compile-time checks.
#define ZEXEC_VERSION \
    (ZEXEC_VERSION_MAJOR * 10000 + ZEXEC_VERSION_MINOR * 100 + ZEXEC_VERSION_PATCH)

//  Returns the version of the library loaded at run time, in the form of
//  ZEXEC_VERSION; when it differs from the header's, the program was built
//  against another release. Sets *major, *minor and *patch when they are
//  not NULL.
ZX_EXPORT int zx_version (int *major, int *minor, int *patch);

//  Returns the library's version as a constant string, such as "0.1.0".
ZX_EXPORT const char *zx_version_string (void);

/*  ---------------------------------------------------------------------
    How the API grows

    - Functions are never removed or changed in a minor release; new ones
      are added.
    - Option structs (zx_executor_opts_t, zx_task_opts_t, ...) only grow at
      their end, and a zero field always means "the default", so a caller
      that zeroes the struct (a designated initializer, `= { 0 }` or
      memset) and sets what it knows keeps its meaning when a later header
      adds fields. The library is told nothing of the struct's size: a
      program built against an older header and run with a newer
      libzexec.so.0 passes a shorter struct, so fields are only added with
      a new soname (libzexec.so.1) before 1.0, and with size-tagged
      variants (zx_THING_new2) after it.
    - zx_err_t values are numbered explicitly and never renumbered; new
      codes take new numbers.                                             */

/*  ---------------------------------------------------------------------
    Errors                                                                */

typedef enum {
    ZX_OK = 0,              //  Numbers are fixed: never renumbered
    ZX_EINVAL = 1,          //  A caller passed a bad argument
    ZX_ENOMEM = 2,          //  Out of memory
    ZX_ETIMEDOUT = 3,       //  A deadline passed
    ZX_ECANCELLED = 4,      //  The future was cancelled
    ZX_ETASK = 5,           //  The task ran and reported failure
    ZX_ENOTASK = 6,         //  No task is registered under that name
    ZX_ETYPE = 7,           //  An argument or result has another type
    ZX_EWORKER_LOST = 8,    //  The worker holding the task died or vanished
    ZX_EPROTO = 9,          //  A malformed or unexpected protocol message
    ZX_ESHUTDOWN = 10,      //  The executor is shut down
    ZX_EPENDING = 11,       //  The future has not finished yet
    ZX_EBUSY = 12,          //  Cannot block here (inside a running loop)
    ZX_EQUEUE_FULL = 13,    //  A bounded queue is full
    ZX_ESYS = 14,           //  A system call failed; the message has errno
    ZX_EWORKER_INIT = 15,   //  A worker's initializer failed
    ZX_ENOWORKERS = 16,     //  No worker serves the service asked for
} zx_err_t;

//  Returns a short constant description of an error code, such as
//  "worker lost". Never returns NULL.
ZX_EXPORT const char *zx_strerror (zx_err_t code);

/*  ---------------------------------------------------------------------
    Values: typed argument and result lists

    A zx_values_t is an ordered list of typed values (int64, double, string,
    bytes, none). It is what tasks take as arguments and return as results,
    and it is encoded as-is on the wire, so it crosses threads, processes and
    machines unchanged.                                                    */

typedef struct zx_values zx_values_t;

typedef enum {
    ZX_TNONE   = 'n',
    ZX_TINT    = 'i',
    ZX_TDOUBLE = 'd',
    ZX_TSTR    = 's',
    ZX_TBYTES  = 'b'
} zx_type_t;

//  Creates an empty list. Caller owns the result; NULL only when out of
//  memory.
ZX_EXPORT zx_values_t *zx_values_new (void);

//  Creates a list from a format string: 'i' takes an int64_t (pass
//  integers through (int64_t) when they are not already 64-bit), 'd' a
//  double, 's' a NUL-terminated string (copied), 'b' a pointer and a
//  size_t length (copied), 'n' nothing (a none value). Returns NULL on an
//  unknown format character or when out of memory. Caller owns the result.
ZX_EXPORT zx_values_t *zx_values_pack (const char *format, ...);

//  Destroys a list; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_values_destroy (zx_values_t **self_p);

//  Returns a deep copy, or NULL when out of memory. Caller owns the copy.
ZX_EXPORT zx_values_t *zx_values_dup (const zx_values_t *self);

//  Append one value each. The string and bytes variants copy their input.
//  Return ZX_OK, ZX_EINVAL (NULL string) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_values_add_int (zx_values_t *self, int64_t value);
ZX_EXPORT zx_err_t zx_values_add_double (zx_values_t *self, double value);
ZX_EXPORT zx_err_t zx_values_add_str (zx_values_t *self, const char *value);
ZX_EXPORT zx_err_t zx_values_add_bytes (zx_values_t *self, const void *data, size_t size);
ZX_EXPORT zx_err_t zx_values_add_none (zx_values_t *self);

//  Returns how many values the list holds.
ZX_EXPORT size_t zx_values_count (const zx_values_t *self);

//  Returns the type of the value at index, or 0 when index is out of range.
ZX_EXPORT zx_type_t zx_values_type (const zx_values_t *self, size_t index);

//  Read one value. Return ZX_OK and set *out; ZX_EINVAL when index is out
//  of range; ZX_ETYPE when the value has another type (out is untouched).
//  zx_values_get_double also accepts an int value and converts it. String
//  and bytes pointers are borrowed: valid while the list lives unchanged.
ZX_EXPORT zx_err_t zx_values_get_int (const zx_values_t *self, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_values_get_double (const zx_values_t *self, size_t index, double *out);
ZX_EXPORT zx_err_t zx_values_get_str (const zx_values_t *self, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_values_get_bytes (const zx_values_t *self, size_t index,
                                        const void **data, size_t *size);

//  Writes a Python-like rendering, such as "[1, 2.5, 'x', b'...', None]",
//  into buf (always NUL-terminated when size > 0). Returns the length the
//  full rendering needs, like snprintf.
ZX_EXPORT size_t zx_values_repr (const zx_values_t *self, char *buf, size_t size);

/*  ---------------------------------------------------------------------
    Tasks: functions that workers run, registered by name

    A task is `int fn (zx_call_t *call)`. It reads its arguments with the
    zx_call_arg_* getters, adds results to zx_call_result (call), and
    returns 0; or it returns the value of zx_call_fail (call, ...) to fail
    the caller's future with ZX_ETASK and a message.

        ZX_TASK (blocks) {
            int64_t n;
            if (zx_call_arg_int (call, 0, &n))
                return -1;                  //  type error already reported
            return zx_call_return_int (call, n * n);
        }

    ZX_TASK registers the function before main runs (a constructor), so the
    same binary started as a process worker knows the same tasks, and a
    shared library loaded with dlopen registers its tasks as it loads.   */

typedef struct zx_call zx_call_t;
typedef int (zx_task_fn) (zx_call_t *call);

#define ZX_TASK(name)                                                       \
    static int zx_task_fn_##name (zx_call_t *call);                         \
    __attribute__ ((constructor)) static void zx_task_reg_##name (void)     \
    {                                                                       \
        zx_task_register (#name, zx_task_fn_##name);                        \
    }                                                                       \
    static int zx_task_fn_##name (zx_call_t *call)

//  Registers fn under name (at most 255 bytes). A later registration of
//  the same name replaces the earlier one. Thread-safe. Returns ZX_OK,
//  ZX_EINVAL (empty or long name, NULL fn) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_task_register (const char *name, zx_task_fn *fn);

//  Returns the function registered under name, or NULL. Thread-safe.
ZX_EXPORT zx_task_fn *zx_task_lookup (const char *name);

//  Returns the arguments of the call (borrowed, valid during the call).
ZX_EXPORT const zx_values_t *zx_call_args (zx_call_t *call);

//  Typed argument getters. On success they return ZX_OK. On a missing
//  argument or a type mismatch they mark the call failed with ZX_ETYPE and
//  a message such as "task 'blocks': argument 0 is str, expected int",
//  and return that code, so the task can simply return -1.
ZX_EXPORT zx_err_t zx_call_arg_int (zx_call_t *call, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_call_arg_double (zx_call_t *call, size_t index, double *out);
ZX_EXPORT zx_err_t zx_call_arg_str (zx_call_t *call, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_call_arg_bytes (zx_call_t *call, size_t index,
                                      const void **data, size_t *size);

//  Returns the result list the task fills (borrowed; the runtime sends it).
ZX_EXPORT zx_values_t *zx_call_result (zx_call_t *call);

//  Appends one int to the result; returns 0, or -1 when out of memory
//  (the call is then marked failed).
ZX_EXPORT int zx_call_return_int (zx_call_t *call, int64_t value);

//  Marks the call failed with ZX_ETASK and a printf-style message; the
//  caller's future fails with it. Returns -1 for `return zx_call_fail (...)`.
ZX_EXPORT int zx_call_fail (zx_call_t *call, const char *format, ...) ZX_PRINTF (2, 3);

//  Returns the name of the running task (borrowed).
ZX_EXPORT const char *zx_call_task (zx_call_t *call);

//  The cancel token: returns true once the caller has cancelled this call
//  (zx_future_cancel, or a deadline passed), for tasks that poll it in
//  their loops and return early (return value and results are then
//  ignored: the future ends cancelled). Cheap to call often: it looks for
//  a cancel message at most once a millisecond. Call it from the thread
//  that runs the task; from other threads it only reports what that
//  thread has already seen.
ZX_EXPORT bool zx_call_cancelled (zx_call_t *call);

/*  ---------------------------------------------------------------------
    Logger: Python-style named loggers

    Format fields: %(name)s %(message)s %(levelname)s %(threadName)s
    %(process)s (also %(process)d) %(asctime)s, with optional width and
    left-justification as in %(name)18s or %(name)-18s. Each record is
    written with one write() call; into a pipe, socket or terminal, under
    a lock that the process's threads and zexec's other processes on the
    same file respect (see zx_log.c). Lines from many threads and
    processes therefore never interleave, whatever their length, unless a
    process holds the lock stopped for over 50 ms, after which the others
    write without it.                                                     */

typedef struct zx_logger zx_logger_t;

typedef enum {
    ZX_LOG_DEBUG    = 10,
    ZX_LOG_INFO     = 20,
    ZX_LOG_WARNING  = 30,
    ZX_LOG_ERROR    = 40,
    ZX_LOG_CRITICAL = 50
} zx_log_level_t;

//  Sets the level and the format for all loggers, output to stderr. A NULL
//  format means "%(levelname)s:%(name)s:%(message)s". Process workers
//  started afterwards inherit both. Returns ZX_EINVAL on a malformed format
//  (such as an unknown field), leaving the old configuration in place.
ZX_EXPORT zx_err_t zx_log_basic_config (zx_log_level_t level, const char *format);

//  Sends records to fd instead of stderr (fd stays the caller's). Returns
//  the previous fd.
ZX_EXPORT int zx_log_set_fd (int fd);

//  Returns the logger for name, creating it on first use. Loggers live
//  until the process exits; the caller does not free them. Thread-safe.
//  Returns NULL only when out of memory.
ZX_EXPORT zx_logger_t *zx_log_get (const char *name);

//  Same as zx_log_get with a printf-style name, e.g. ("blocks(%d)", n).
ZX_EXPORT zx_logger_t *zx_log_getf (const char *format, ...) ZX_PRINTF (1, 2);

//  Writes one record at level when level is enabled. Thread-safe. A NULL
//  logger writes as the "root" logger.
ZX_EXPORT void zx_log (zx_logger_t *logger, zx_log_level_t level, const char *format, ...)
              ZX_PRINTF (3, 4);
ZX_EXPORT void zx_logv (zx_logger_t *logger, zx_log_level_t level, const char *format,
                        va_list args);

#define zx_log_debug(lg, ...)    zx_log ((lg), ZX_LOG_DEBUG, __VA_ARGS__)
#define zx_log_info(lg, ...)     zx_log ((lg), ZX_LOG_INFO, __VA_ARGS__)
#define zx_log_warning(lg, ...)  zx_log ((lg), ZX_LOG_WARNING, __VA_ARGS__)
#define zx_log_error(lg, ...)    zx_log ((lg), ZX_LOG_ERROR, __VA_ARGS__)

//  Sets the name that %(threadName)s prints for the calling thread (copied,
//  at most 63 bytes). The thread that first uses zexec is "MainThread" when
//  it is the process's main thread, else "Thread-N".
ZX_EXPORT void zx_thread_set_name (const char *name);

//  Returns the calling thread's name (borrowed, thread-local).
ZX_EXPORT const char *zx_thread_name (void);

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
//  inside the loop's own callbacks or coroutines.
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
//  return. Returns ZX_EBUSY when called from a loop callback.
ZX_EXPORT zx_err_t zx_await (zx_future_t *future);

//  Sleeps ms milliseconds, letting the loop run. Returns ZX_OK,
//  ZX_ECANCELLED (the coroutine was cancelled) or ZX_EBUSY.
ZX_EXPORT zx_err_t zx_sleep (int64_t ms);

/*  ---------------------------------------------------------------------
    Futures                                                               */

typedef enum {
    ZX_FUTURE_PENDING,      //  Created or queued, not yet running
    ZX_FUTURE_RUNNING,      //  Sent to a worker, or a coroutine has started
    ZX_FUTURE_DONE,         //  Finished with a result
    ZX_FUTURE_FAILED,       //  Finished with an error code and message
    ZX_FUTURE_CANCELLED     //  Cancelled before it finished
} zx_future_state_t;

typedef void (zx_future_cb) (zx_future_t *future, void *arg);

//  Creates a pending future on loop, to be completed with
//  zx_future_set_result or zx_future_set_error. Caller owns it. NULL when
//  out of memory.
ZX_EXPORT zx_future_t *zx_future_new (zx_loop_t *loop);

//  Drops the caller's reference; accepts NULL and nulls the pointer. Work
//  behind a pending future goes on; its result is then discarded.
ZX_EXPORT void zx_future_destroy (zx_future_t **self_p);

//  Returns the loop the future belongs to.
ZX_EXPORT zx_loop_t *zx_future_loop (zx_future_t *self);

//  Returns the future's state.
ZX_EXPORT zx_future_state_t zx_future_state (const zx_future_t *self);

//  Returns true when the future is done, failed or cancelled.
ZX_EXPORT bool zx_future_done (const zx_future_t *self);

//  Returns true when the future was cancelled.
ZX_EXPORT bool zx_future_cancelled (const zx_future_t *self);

//  Completes the future with values (taken: *values_p is nulled; NULL
//  values means an empty result). Done callbacks and waiters run on the
//  loop's next iteration. Returns ZX_EINVAL when the future already
//  finished (values are then destroyed).
ZX_EXPORT zx_err_t zx_future_set_result (zx_future_t *self, zx_values_t **values_p);

//  Fails the future with code (not ZX_OK) and a printf-style message.
//  Returns ZX_EINVAL when it already finished.
ZX_EXPORT zx_err_t zx_future_set_error (zx_future_t *self, zx_err_t code,
                                        const char *format, ...) ZX_PRINTF (3, 4);

//  Cancels the future if it has not finished. Work still queued is
//  removed, never runs, and the future is cancelled at once ("cancelled
//  before it ran"). A task a
//  local pool's worker already holds is asked to stop, and its future
//  stays running until it has, then ends cancelled with a message that
//  says how: "cancelled before it started"; "cancelled while running: the
//  task stopped at its cancel token" (see zx_call_cancelled); "...the task
//  finished before it saw the cancel; its result was dropped"; for a
//  process worker that did not stop within the pool's cancel_grace_ms,
//  "...ended by SIGTERM" or "...killed by SIGKILL" (the worker is
//  replaced, and what it held but had not started goes to another one);
//  for a thread that did not stop, "...its thread goes on until it
//  returns". Remote executors' futures are cancelled at once (the broker
//  passes the cancel on). Other futures (coroutines, gather) are
//  cancelled at once. Returns true if the future is cancelled or will end
//  cancelled, false if it had already finished otherwise.
ZX_EXPORT bool zx_future_cancel (zx_future_t *self);

//  Returns the outcome: ZX_OK when done, the error code when failed,
//  ZX_ECANCELLED when cancelled, ZX_EPENDING when not finished.
ZX_EXPORT zx_err_t zx_future_error (const zx_future_t *self);

//  Returns the error message of a failed or cancelled future, or "".
//  Borrowed: valid while the future lives.
ZX_EXPORT const char *zx_future_message (const zx_future_t *self);

//  Returns the result values of a done future (borrowed: valid while the
//  future lives), or NULL when it is not done with a result.
ZX_EXPORT const zx_values_t *zx_future_result (const zx_future_t *self);

//  Reads the first result value as an int. Returns ZX_OK; the future's
//  outcome when it did not finish with a result; or ZX_ETYPE.
ZX_EXPORT zx_err_t zx_future_result_int (const zx_future_t *self, int64_t *out);

//  Adds a callback that runs on the loop once the future finishes (on the
//  next iteration if it already has). Returns ZX_OK or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_future_add_done_callback (zx_future_t *self, zx_future_cb *fn,
                                                void *arg);

//  Blocks until the future finishes or timeout_ms passes: in a coroutine it
//  suspends, outside it runs the future's loop. Returns the outcome as
//  zx_future_error does, ZX_ETIMEDOUT (the future keeps going) or ZX_EBUSY.
ZX_EXPORT zx_err_t zx_future_wait (zx_future_t *self, int64_t timeout_ms);

/*  ---------------------------------------------------------------------
    Waiting for many futures                                              */

typedef enum {
    ZX_ALL_COMPLETED,
    ZX_FIRST_COMPLETED,
    ZX_FIRST_EXCEPTION      //  First failed (or cancelled) one, else all
} zx_wait_mode_t;

//  Waits, like asyncio.wait, until mode is satisfied or timeout_ms passes.
//  On return done[0..*done_count) holds the finished futures and
//  pending[0..*pending_count) the others, each in input order; both arrays
//  are the caller's, with room for count entries (either may be NULL when
//  not wanted). The futures stay the caller's. Returns ZX_OK (also on
//  timeout: the pending set says what is left), ZX_ECANCELLED when the
//  calling coroutine was cancelled, ZX_EBUSY or ZX_EINVAL.
ZX_EXPORT zx_err_t zx_wait (zx_future_t **futures, size_t count, zx_wait_mode_t mode,
                            int64_t timeout_ms, zx_future_t **done, size_t *done_count,
                            zx_future_t **pending, size_t *pending_count);

//  Waits for future at most timeout_ms, like asyncio.wait_for: on timeout
//  the future is cancelled and ZX_ETIMEDOUT returned. Otherwise returns the
//  future's outcome.
ZX_EXPORT zx_err_t zx_wait_for (zx_future_t *future, int64_t timeout_ms);

//  Returns a new future that finishes when all of futures have: done with
//  one value per input future (its first result value, none when it had
//  none), or failed with the first failure among them (the others go on),
//  or cancelled if the gather future itself is cancelled (which cancels
//  the inputs). The inputs stay the caller's and must outlive the result.
//  Caller owns the result; NULL when out of memory.
ZX_EXPORT zx_future_t *zx_gather (zx_loop_t *loop, zx_future_t **futures, size_t count);

typedef struct zx_as_completed zx_as_completed_t;

//  Creates an iterator over futures in the order they finish, like
//  asyncio.as_completed; timeout_ms bounds the whole iteration. The futures
//  stay the caller's. Caller owns the iterator; NULL when out of memory.
ZX_EXPORT zx_as_completed_t *zx_as_completed_new (zx_future_t **futures, size_t count,
                                                  int64_t timeout_ms);

//  Waits for and returns the next finished future (borrowed), or NULL when
//  all have been returned or the timeout passed (then
//  zx_as_completed_error says ZX_ETIMEDOUT).
ZX_EXPORT zx_future_t *zx_as_completed_next (zx_as_completed_t *self);

//  Returns ZX_ETIMEDOUT after a timeout, ZX_ECANCELLED when the calling
//  coroutine was cancelled, ZX_EBUSY when it could not wait, else ZX_OK.
ZX_EXPORT zx_err_t zx_as_completed_error (const zx_as_completed_t *self);

//  Destroys the iterator; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_as_completed_destroy (zx_as_completed_t **self_p);

/*  ---------------------------------------------------------------------
    Executors: pools of worker actors                                     */

typedef struct zx_executor zx_executor_t;

typedef struct {
    //  Number of workers. 0 means min (32, cores + 4) for threads (as
    //  CPython) and the number of cores for processes.
    int max_workers;
    //  Thread pools: thread names are PREFIX_M. NULL means
    //  "ThreadPoolExecutor-N" with N counting pools, as CPython does.
    const char *thread_name_prefix;
    //  Name of a registered task each worker runs once before any work,
    //  with initargs (copied; may be NULL). If it fails, the pool is broken
    //  and every queued and later future fails with ZX_EWORKER_INIT.
    const char *initializer;
    const zx_values_t *initargs;
    //  A worker retires after this many tasks and a fresh one replaces it.
    //  0 means never.
    int max_tasks_per_child;
    //  Requests a worker may hold at once (its credits). 0 means adaptive:
    //  up to 256, as many as the worker runs in about 2 ms and at least 2,
    //  so tiny tasks travel many to a message and slow ones stay spread
    //  over all workers. A number fixes it (1 gives strict one-at-a-time).
    int window;
    //  Most requests queued in the coordinator and not yet sent to a worker
    //  (remote executors: sent and not yet answered). When it is full, a
    //  submission from a coroutine on the executor's loop waits for room;
    //  from anywhere else it fails with ZX_EQUEUE_FULL. 0 means 1,000,000.
    size_t max_queue;
    //  Where the pool's workers connect: any ZeroMQ endpoint the workers
    //  can reach, e.g. "inproc://name" (threads only), "ipc:///path" or
    //  "tcp://127.0.0.1:5600"; a wildcard ("tcp://127.0.0.1:*", "ipc://*")
    //  binds a free one, which zx_executor_endpoint then returns. NULL picks
    //  a fresh inproc (threads) or ipc (processes) endpoint. This face has
    //  no authentication: bind tcp to a loopback or private address only
    //  (a broker with CURVE keys is the way across machines).
    const char *endpoint;
    //  How many times a task goes to another worker when the worker
    //  holding it dies or vanishes (0 to 15). 0, the default, fails its
    //  future with ZX_EWORKER_LOST at once: a task may have run partly.
    //  After its last attempt a task is quarantined: its future fails and
    //  it is never sent again.
    int retries;
    //  Deadline of every task, in ms from submission (0: none; a task's
    //  own zx_task_opts_t.timeout_ms overrides it). When it passes, the
    //  future fails with ZX_ETIMEDOUT at once and the task is withdrawn or
    //  stopped as zx_future_cancel does.
    int64_t task_timeout_ms;
    //  How long a running task that was cancelled (or passed its deadline)
    //  has to stop at its cancel token (zx_call_cancelled) before a process
    //  worker gets SIGTERM, and as long again before SIGKILL; a thread
    //  pool then stops waiting for it. 0 means 1000.
    int cancel_grace_ms;
    //  Remote executors and served workers: the service (named pool) at
    //  the broker. NULL means "default".
    const char *service;
    //  Remote executors and served workers: heartbeat interval in ms (0
    //  means 1000) and how many silent intervals mean the broker is gone
    //  (0 means 3).
    int heartbeat_ms;
    int liveness;
    //  Remote executors and served workers, to a broker with CURVE
    //  (docs/SECURITY.md): the broker's public key, as 40 Z85 characters
    //  or the path of its public certificate file, and the path of this
    //  peer's own certificate (czmq's format, as zexec-keygen makes it:
    //  NAME, with NAME_secret beside it; either name may be given). Give
    //  both or neither. Both NULL: the environment variables
    //  ZEXEC_SERVER_KEY and ZEXEC_CERT, when set, stand in for them; else
    //  no security. A key or certificate that cannot be read makes the
    //  executor or worker constructor return NULL. Local pools ignore them.
    const char *curve_server_key;
    const char *curve_cert;
} zx_executor_opts_t;

//  Creates a pool of worker threads, each a czmq actor connected over
//  inproc. opts may be NULL for defaults (copied). Returns NULL on a bad
//  option or when resources run out. Caller owns the executor.
ZX_EXPORT zx_executor_t *zx_thread_pool_new (const zx_executor_opts_t *opts);

//  Creates a pool of worker processes, each this program started again by
//  exec (see zx_init), connected over ipc; each runs the program's own
//  registered tasks and exits when its parent dies. opts may be NULL.
//  Returns NULL on a bad option or when resources run out. Caller owns it.
ZX_EXPORT zx_executor_t *zx_process_pool_new (const zx_executor_opts_t *opts);

//  Creates an executor whose workers are on other machines, behind a
//  zexec-broker at endpoint (such as "tcp://10.0.0.2:5555"); it is used
//  exactly as a local pool is. Requests go to opts->service. When the
//  broker is not heard from for liveness heartbeats, work in flight fails
//  with ZX_EWORKER_LOST; later submissions go through once it is back. A
//  request the broker cannot serve in time fails with ZX_ENOWORKERS.
//  opts may be NULL. Returns NULL on a bad endpoint or option. Caller
//  owns the executor.
ZX_EXPORT zx_executor_t *zx_remote_executor_new (const char *endpoint, const zx_executor_opts_t *opts);

//  Runs task (args) on executor, like loop.run_in_executor. executor NULL
//  means the loop's default thread pool, made on first use and destroyed
//  with the loop. Takes ownership of args (NULL means no arguments).
//  Returns a future the caller owns; every problem (unknown task, type
//  errors, shut-down executor, full queue, lost worker) fails that future
//  rather than being returned here. NULL only when out of memory. Called
//  from a coroutine on the executor's loop while the queue is full (see
//  max_queue), it waits for room first (backpressure).
ZX_EXPORT zx_future_t *zx_run_in_executor (zx_loop_t *loop, zx_executor_t *executor,
                                           const char *task, zx_values_t *args);

//  Options of one submission; zero them all for the executor's defaults.
typedef struct {
    //  Deadline in ms from now (0: the executor's task_timeout_ms). When it
    //  passes, the future fails with ZX_ETIMEDOUT ("passed its N ms
    //  deadline before it started" or "while running") and the task is
    //  withdrawn or asked to stop as zx_future_cancel does.
    int64_t timeout_ms;
    //  How many times this task goes to another worker when the worker
    //  holding it dies or vanishes, instead of the executor's retries:
    //  1 to 15; 0 (the default) takes the executor's setting, and
    //  ZX_NO_RETRIES none at all (for a task that must not run twice).
    int retries;
} zx_task_opts_t;

//  zx_task_opts_t.retries: this task is never sent again
#define ZX_NO_RETRIES (-1)

//  zx_run_in_executor with options (NULL: none). A negative timeout, or
//  retries outside ZX_NO_RETRIES..15, fails the future with ZX_EINVAL.
ZX_EXPORT zx_future_t *zx_run_in_executor_opts (zx_loop_t *loop, zx_executor_t *executor,
                                                const char *task, zx_values_t *args,
                                                const zx_task_opts_t *opts);

//  Same as zx_run_in_executor on the loop the executor is used with, or
//  else the calling thread's current loop. Returns NULL (and destroys
//  args) when there is no such loop or memory ran out.
ZX_EXPORT zx_future_t *zx_executor_submit (zx_executor_t *self, const char *task,
                                           zx_values_t *args);

//  Stops the executor, like Executor.shutdown: no new work is accepted
//  (later submissions fail with ZX_ESHUTDOWN); with cancel_futures, work
//  still queued in the coordinator is cancelled; with wait, runs (or, in a
//  coroutine, awaits) until all work sent to workers has finished and the
//  workers have exited. Returns ZX_OK, or ZX_EBUSY when asked to wait from
//  a loop callback. Calling it again is harmless.
ZX_EXPORT zx_err_t zx_executor_shutdown (zx_executor_t *self, bool wait, bool cancel_futures);

//  Shuts down with wait (unless already shut down), stops the workers and
//  frees the executor; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_executor_destroy (zx_executor_t **self_p);

//  Returns the endpoint workers connect to (borrowed).
ZX_EXPORT const char *zx_executor_endpoint (const zx_executor_t *self);

//  Fills pids with the process IDs of the live workers of a process pool
//  (the caller's pid for a thread pool, once per worker); returns how many
//  there are, which may exceed size.
ZX_EXPORT size_t zx_executor_worker_pids (const zx_executor_t *self, pid_t *pids, size_t size);

//  Returns how many tasks are queued in the coordinator plus how many are
//  held by workers.
ZX_EXPORT size_t zx_executor_backlog (const zx_executor_t *self);

/*  ---------------------------------------------------------------------
    Serving a broker: this process as a remote worker                      */

typedef struct zx_worker zx_worker_t;

//  Makes this process a worker of a zexec-broker at endpoint: it announces
//  itself for opts->service and runs every task it is sent on executor (a
//  thread or process pool the caller owns and keeps until after destroy),
//  on loop. It sends heartbeats (also while tasks run, since they run on
//  the pool), and when the broker goes away it reconnects with backoff
//  and announces itself again. opts->window is the number of requests it
//  holds at once (0 means 256 per pool worker; the broker deals it only
//  as many as it runs in about 2 ms). Returns NULL on a bad
//  endpoint or option. Caller owns the worker; run the loop to serve.
ZX_EXPORT zx_worker_t *zx_worker_new (zx_loop_t *loop, const char *endpoint,
                                      zx_executor_t *executor, const zx_executor_opts_t *opts);

//  Tells the broker this worker leaves (tasks still running are
//  cancelled) and frees it; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_worker_destroy (zx_worker_t **self_p);

//  Returns true while the worker is connected and has heard from the
//  broker within its liveness.
ZX_EXPORT bool zx_worker_connected (const zx_worker_t *self);

//  Serves the broker at endpoint with this program's registered tasks
//  until SIGINT or SIGTERM: makes a loop, a pool of threads (or of
//  processes when processes is true) from pool_opts, and a zx_worker_t
//  from serve_opts (either may be NULL), runs, then says goodbye to the
//  broker and cleans up. It blocks SIGINT and SIGTERM in the calling
//  thread while it runs (to read them from a signalfd) and restores the
//  mask after. Returns ZX_OK after a signal, or ZX_EINVAL when it could
//  not start (bad endpoint or option).
ZX_EXPORT zx_err_t zx_serve (const char *endpoint, bool processes,
                             const zx_executor_opts_t *pool_opts,
                             const zx_executor_opts_t *serve_opts);

/*  ---------------------------------------------------------------------
    map: lazy, ordered                                                    */

typedef struct zx_map zx_map_t;

//  Produces the next argument list (caller of map owns nothing of it: map
//  takes each list), or NULL when the input is exhausted.
typedef zx_values_t *(zx_map_next_fn) (void *state);

//  Runs task over the argument lists that next (state) produces, like
//  Executor.map but lazy: it pulls chunksize inputs at a time (0 means 1)
//  and keeps at most in_flight of them submitted (0 means 64), pulling
//  more only as results are taken, so an endless input is fine. Results
//  come back in input order. Caller owns the map; NULL when out of memory.
ZX_EXPORT zx_map_t *zx_executor_map (zx_executor_t *self, const char *task,
                                     zx_map_next_fn *next, void *state,
                                     size_t chunksize, size_t in_flight);

//  Waits for the next result in input order. Returns ZX_OK with *result
//  set to its values (borrowed: valid until the next call or destroy), or
//  ZX_OK with *result NULL when every input has been returned. When that
//  input's task failed it returns the error (see zx_map_message) with
//  *result NULL, and the next call goes on with the next input. Returns
//  ZX_EBUSY when called from a loop callback.
ZX_EXPORT zx_err_t zx_map_next (zx_map_t *self, const zx_values_t **result);

//  Returns the error message of the last result zx_map_next returned, or
//  "" (borrowed).
ZX_EXPORT const char *zx_map_message (const zx_map_t *self);

//  Cancels what is still outstanding and frees the map; accepts NULL.
ZX_EXPORT void zx_map_destroy (zx_map_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
