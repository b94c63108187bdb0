/*  zexec/future.h - futures, and waiting for many of them.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_FUTURE_H_INCLUDED
#define ZEXEC_FUTURE_H_INCLUDED

#include "zexec/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Futures

    Which thread may call what. A future belongs to the loop it was made
    on. Most are loop-bound: those of a loop you made with zx_loop_new
    (coroutines, gather over them, run_in_executor with an executor used
    from that loop). Every call on a loop-bound future is made on the
    loop's thread, and its done callbacks run there, from the loop.

    Shared futures are those of an executor that runs its own loop on an
    I/O thread (zx_executor_start_loop; also an executor first used from a
    thread with no loop), as concurrent.futures futures are. These calls
    are thread-safe on them, from any thread and after the executor has
    been destroyed: zx_future_state, _done, _cancelled, _error, _message,
    _result, _result_int, _cancel, _add_done_callback, _destroy,
    _set_result, _set_error, _wait, _loop, zx_wait, zx_wait_for, zx_await,
    zx_gather_opts and the zx_as_completed calls. A thread that waits for
    a shared future blocks on a condition variable (it runs no loop); a
    coroutine of another loop that waits for one blocks its loop's thread
    too. Waiting from the executor's own I/O thread (in a done callback)
    returns ZX_EBUSY. Done callbacks of a shared future run on the
    executor's I/O thread as it finishes, in the order they were added;
    one added once the future has finished runs at once, in the thread
    that adds it, as concurrent.futures does. They must not block for
    long: the I/O thread deals all of the executor's work. Pointers a
    shared future returns (message, result) are valid while the caller
    holds a reference, and no longer change once it has finished.     */

typedef enum {
    ZX_FUTURE_PENDING,      //  Created, queued, or held by a worker that has not started it
    ZX_FUTURE_RUNNING,      //  Its task has started on a worker, or a coroutine has started
    ZX_FUTURE_DONE,         //  Finished with a result
    ZX_FUTURE_FAILED,       //  Finished with an error code and message
    ZX_FUTURE_CANCELLED     //  Cancelled before it finished
} zx_future_state_t;

/*  RUNNING means started. An executor's future is PENDING while its task
    waits in the executor's queue and while a worker holds it behind the
    task it runs (the window, zx_executor_opts_t); it turns RUNNING when
    the worker says the task started. A worker says so once the task has
    run about a millisecond (tiny tasks pay nothing for it): a task can
    therefore go from PENDING straight to DONE, and one that started less
    than a millisecond ago still reads PENDING. Remote executors hear it
    through the broker.

    Two cancels. zx_future_cancel is asyncio's Task.cancel: it stops the
    work wherever it is, a running task too (through its cancel token),
    and the future ends cancelled. zx_future_cancel_if_pending is
    concurrent.futures' Future.cancel: it cancels only a task that has
    not started, wherever it waits, and returns false, leaving the task to
    finish with its result, once it has started. Which one the library's
    own calls use: zx_wait_for's timeout, a task_timeout_ms deadline,
    cancelling a gather and zx_map_destroy use zx_future_cancel;
    zx_executor_shutdown's cancel_futures uses the other kind (every task
    not started, running ones finish); zx_future_wait's, zx_wait's and the
    zx_as_completed calls' timeouts cancel nothing.                      */

typedef void (zx_future_cb) (zx_future_t *future, void *arg);

//  Creates a pending future on loop, to be completed with
//  zx_future_set_result or zx_future_set_error. Caller owns it. NULL when
//  loop is NULL or out of memory. On the loop of an executor with its own
//  loop (zx_future_loop of one of its futures) the future is shared.
ZX_EXPORT zx_future_t *zx_future_new (zx_loop_t *loop);

//  Drops the caller's reference; accepts NULL and nulls the pointer. Work
//  behind a pending future goes on; its result is then discarded.
//  Thread-safe for shared futures.
ZX_EXPORT void zx_future_destroy (zx_future_t **self_p);

//  Returns the loop the future belongs to; for a shared future, NULL once
//  its executor has been destroyed. Thread-safe for shared futures.
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
//  finished (values are then destroyed). Thread-safe for shared futures,
//  whose callbacks then run on their loop's thread (at once, in the
//  caller's thread, when that loop is gone).
ZX_EXPORT zx_err_t zx_future_set_result (zx_future_t *self, zx_values_t **values_p);

//  Fails the future with code (not ZX_OK) and a printf-style message.
//  Returns ZX_EINVAL when it already finished. Thread-safe for shared
//  futures, as zx_future_set_result.
ZX_EXPORT zx_err_t zx_future_set_error (zx_future_t *self, zx_err_t code,
                                        const char *format, ...) ZX_PRINTF (3, 4);

//  Cancels the future if it has not finished. Work still queued is
//  removed, never runs, and the future is cancelled at once ("cancelled
//  before it ran"). A task that a local pool's worker already holds is
//  asked to stop, and its future stays running until it has, then ends
//  cancelled with a message that says how: "cancelled before it started"; "cancelled while running: the
//  task stopped at its cancel token" (see zx_call_cancelled); "...the task
//  finished before it saw the cancel; its result was dropped"; for a
//  process worker that did not stop within the pool's cancel_grace_ms,
//  "...ended by SIGTERM" or "...killed by SIGKILL" (the worker is
//  replaced, and what it held but had not started goes to another one);
//  for a thread that did not stop, "...its thread goes on until it
//  returns". Remote executors' futures are cancelled at once (the broker
//  passes the cancel on). Other futures (coroutines, gather) are
//  cancelled at once. Returns true if the future is cancelled or will end
//  cancelled, false if it had already finished otherwise. Thread-safe for
//  shared futures: from a thread other than their executor's I/O thread
//  the cancel is posted to that thread, the call returns at once, and
//  the future ends cancelled whatever the work does meanwhile (a result
//  that comes first is dropped).
ZX_EXPORT bool zx_future_cancel (zx_future_t *self);

//  Cancels the future only if its work has not started, as
//  concurrent.futures' Future.cancel: returns true and ends it cancelled
//  at once when it is PENDING (queued, or held by a worker that has not
//  said it started: the worker then skips it), false when it is RUNNING
//  or finished, and then changes nothing: a running task goes on and its
//  future keeps the result. The worker skips a held task when the CANCEL
//  reaches it before the task's turn; if the worker got there first (it
//  reads CANCELs between tasks), or the task started less than about a
//  millisecond ago (see RUNNING above), the task runs, sees its cancel
//  token, and its result is dropped: the future stays cancelled. Thread-safe
//  for shared futures, as zx_future_cancel.
ZX_EXPORT bool zx_future_cancel_if_pending (zx_future_t *self);

//  Returns the outcome: ZX_OK when done, the error code when failed,
//  ZX_ECANCELLED when cancelled, ZX_EPENDING when not finished. This and
//  the other getters below are thread-safe for shared futures.
ZX_EXPORT zx_err_t zx_future_error (const zx_future_t *self);

//  Returns the error message of a failed or cancelled future, or "".
//  Borrowed: valid while the future lives.
ZX_EXPORT const char *zx_future_message (const zx_future_t *self);

//  Where and how a task failed, as far as its worker said (strings are ""
//  when unknown, pid 0; all borrowed, valid while the future lives).
typedef struct {
    const char *task;       //  The task's name
    const char *host;       //  The worker's host name
    int64_t pid;            //  The worker's process id
    const char *thread;     //  The worker thread's name
    const char *where;      //  "file:line" of the task's zx_call_fail, or ""
} zx_error_info_t;

//  Fills info with what the worker told about the failure of an
//  executor's task: its name, the worker's host, pid and thread, and,
//  for a task that failed by its own zx_call_fail, where it called it.
//  Returns true when the future failed with such details; false (info
//  filled with "" and 0) for a future that did not fail, or failed
//  without them (cancelled, refused in the coordinator, lost worker, or a
//  worker that sends none). Thread-safe for shared futures.
ZX_EXPORT bool zx_future_error_info (const zx_future_t *self, zx_error_info_t *info);

//  Returns the result values of a done future (borrowed: valid while the
//  future lives), or NULL when it is not done with a result.
ZX_EXPORT const zx_values_t *zx_future_result (const zx_future_t *self);

//  Reads the first result value as an int. Returns ZX_OK; the future's
//  outcome when it did not finish with a result; or ZX_ETYPE.
ZX_EXPORT zx_err_t zx_future_result_int (const zx_future_t *self, int64_t *out);

//  Adds a callback that runs on the loop once the future finishes (on the
//  next iteration if it already has), as asyncio runs them. For a shared
//  future (thread-safe): on its executor's I/O thread once it finishes,
//  or at once, in the calling thread, before this returns, if it already
//  has, as concurrent.futures runs them. Returns ZX_OK or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_future_add_done_callback (zx_future_t *self, zx_future_cb *fn,
                                                void *arg);

//  Blocks until the future finishes or timeout_ms passes: in a coroutine it
//  suspends, outside it runs the future's loop. A shared future is waited
//  for from any thread but its executor's I/O thread (ZX_EBUSY there) by
//  blocking the thread on a condition variable, with no loop run, like
//  concurrent.futures' Future.result (timeout). A timeout_ms of 0 only
//  looks and runs nothing (zx_sleep (0) runs the loop once). Returns the
//  outcome as zx_future_error does, ZX_ETIMEDOUT (the future keeps going)
//  or ZX_EBUSY.
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
//  not wanted). The futures stay the caller's. Loop-bound futures must all
//  be of one loop; shared ones may be of several executors, and are
//  waited for by blocking the thread (see above); the two cannot be
//  mixed. Returns ZX_OK (also on timeout: the pending set says what is
//  left), ZX_ECANCELLED when the calling coroutine was cancelled, ZX_EBUSY
//  or ZX_EINVAL.
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
//  Caller owns the result; NULL when loop is NULL or out of memory.
ZX_EXPORT zx_future_t *zx_gather (zx_loop_t *loop, zx_future_t **futures, size_t count);

//  Options of zx_gather_opts; zero them all for zx_gather's behaviour.
typedef struct {
    //  As asyncio.gather (return_exceptions=True): a failed or cancelled
    //  input does not fail the gather. The gather future is done once
    //  every input has finished, its result holding one value per input
    //  in input order: the input's first result value (none when it had
    //  none), and none for an input that failed or was cancelled. Tell
    //  which failed and why from the inputs, which the caller keeps:
    //  zx_future_error (futures [i]) is ZX_OK for those that succeeded,
    //  else the code, and zx_future_message (futures [i]) says why.
    bool return_exceptions;
} zx_gather_opts_t;

//  zx_gather with options (NULL: none). loop may be NULL: the result is
//  then on the inputs' loop (with no inputs, the calling thread's current
//  loop). Over shared futures (see above) the result is shared too: loop
//  must be NULL or a shared loop; inputs of several executors may be
//  mixed, but not shared with loop-bound ones. Caller owns the result;
//  NULL on such a mix, a NULL input, or when out of memory.
ZX_EXPORT zx_future_t *zx_gather_opts (zx_loop_t *loop, zx_future_t **futures, size_t count,
                                       const zx_gather_opts_t *opts);

typedef struct zx_as_completed zx_as_completed_t;

//  Creates an iterator over futures in the order they finish, like
//  asyncio.as_completed; timeout_ms bounds the whole iteration. The futures
//  stay the caller's. Over shared futures (which may be of several
//  executors, but not mixed with loop-bound ones) it blocks the thread
//  that calls next, as concurrent.futures.as_completed does. Caller owns
//  the iterator; NULL on such a mix or when out of memory.
ZX_EXPORT zx_as_completed_t *zx_as_completed_new (zx_future_t **futures, size_t count,
                                                  int64_t timeout_ms);

//  Waits for and returns the next finished future (borrowed), or NULL when
//  all have been returned or the timeout passed (then
//  zx_as_completed_error says ZX_ETIMEDOUT).
ZX_EXPORT zx_future_t *zx_as_completed_next (zx_as_completed_t *self);

//  Returns ZX_ETIMEDOUT after a timeout, ZX_ECANCELLED when the calling
//  coroutine was cancelled, ZX_EBUSY when it could not wait (a loop
//  callback, or a shared future's own I/O thread), else ZX_OK.
ZX_EXPORT zx_err_t zx_as_completed_error (const zx_as_completed_t *self);

//  Destroys the iterator; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_as_completed_destroy (zx_as_completed_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
