/*  zexec/executor.h - executors (thread, process and remote pools), serving a broker, and map.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_EXECUTOR_H_INCLUDED
#define ZEXEC_EXECUTOR_H_INCLUDED

#include "zexec/future.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    //  Set it when tasks are long and uneven, or when work should wait in
    //  the coordinator rather than behind a running task (a task a worker
    //  holds waits for the one it runs, while another worker may be free);
    //  1 keeps every waiting task in the executor's queue. Leave it at 0
    //  for many short tasks: a result does not wait for the task after it
    //  either way (a worker sends it within about a millisecond of its
    //  task's end), and cancel_if_pending and shutdown's cancel_futures
    //  reach what a worker holds too.
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
    //  a fresh ipc endpoint for processes; threads then take their messages
    //  through an in-process queue, not a socket. This face has
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
    //  Local pools: where to publish the pool's lifecycle events (tasks
    //  submitted, dispatched to a worker, finished, failed, retried,
    //  cancelled; workers joined, lost, retired), as a broker does with
    //  zx_broker_opts_t.events_endpoint: a ZeroMQ endpoint to bind a PUB
    //  socket to, such as "ipc:///run/me/pool.events". Their service is
    //  opts.service, or "local". NULL, the default: none. Binding fails:
    //  the constructor returns NULL. Remote executors ignore it.
    const char *events_endpoint;
    //  Remote executors: how long, in ms, work that allows retries waits
    //  for the broker to come back after the connection to it is lost (it
    //  dropped, or the broker fell silent past the liveness), as when the
    //  broker is restarted at the same endpoint. 0 means 10 heartbeat
    //  intervals times the liveness (30 s at the defaults); negative
    //  means none (everything out fails at once). See zx_remote_executor_new.
    int reconnect_ms;
} zx_executor_opts_t;

//  Creates a pool of worker threads, each one of zexec's worker actors,
//  fed through an in-process queue (or over opts->endpoint when given).
//  opts may be NULL for defaults (copied). Returns NULL on a bad option or
//  when resources run out. Caller owns the executor. While the pool runs
//  tasks on fewer threads than the machine has CPUs, the loop waiting for
//  its replies spins up to 50 us before it sleeps, which holds a CPU;
//  ZEXEC_SPIN=off in the environment turns that off (docs/OPERATIONS.md).
ZX_EXPORT zx_executor_t *zx_thread_pool_new (const zx_executor_opts_t *opts);

//  Creates a pool of worker processes, each this program started again by
//  exec (see zx_init), connected over ipc; each runs the program's own
//  registered tasks and exits when its parent dies. opts may be NULL.
//  Returns NULL on a bad option or when resources run out. Caller owns it.
ZX_EXPORT zx_executor_t *zx_process_pool_new (const zx_executor_opts_t *opts);

//  Creates an executor whose workers are on other machines, behind a
//  zexec-broker at endpoint (such as "tcp://10.0.0.2:5555"); it is used
//  exactly as a local pool is. Requests go to opts->service. When the
//  connection to the broker drops, or the broker is not heard from for
//  liveness heartbeats, a task that allows retries (opts->retries, or its
//  own zx_task_opts_t.retries) is sent again, using one retry, and waits
//  up to opts->reconnect_ms for the broker to be back at endpoint (a
//  restarted one): it may then run twice. Every other task in flight
//  fails at once with ZX_EWORKER_LOST ("connection to the broker at E
//  lost; task 'T' was lost"): what a broker held is unknown after a
//  restart. Submissions meanwhile are queued (max_queue bounds them) and
//  sent when it is back; what is still out when the window passes fails
//  with ZX_EWORKER_LOST. A request the broker cannot serve in time fails
//  with ZX_ENOWORKERS. opts may be NULL. Returns NULL on a bad endpoint or
//  option. Caller owns the executor.
ZX_EXPORT zx_executor_t *zx_remote_executor_new (const char *endpoint, const zx_executor_opts_t *opts);

//  Gives the executor a loop of its own, run by an I/O thread of its own
//  that starts now, as a concurrent.futures executor works: it needs no
//  loop of the caller's; any thread may submit to it (zx_executor_submit,
//  zx_run_in_executor with a NULL loop, zx_map_new), and work is dealt to
//  its workers as soon as it is submitted, so futures finish while the
//  caller computes. Its futures are shared: any thread may wait for them
//  (zx_future_wait, zx_wait, zx_as_completed_*), cancel or drop them, and
//  their done callbacks run on the I/O thread (see future.h). Shutdown
//  and destroy may be called from any thread but that I/O thread. An
//  executor first used from a thread that has no current loop gets its
//  own loop this way without the call. Call it before the first use from
//  a coroutine or a loop, which binds the executor to that loop instead.
//  Returns ZX_OK (also when it runs its own loop already), ZX_EINVAL when
//  self is NULL or bound to a caller's loop, ZX_ESYS when the thread
//  cannot start, or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_executor_start_loop (zx_executor_t *self);

//  Runs task (args) on executor, like loop.run_in_executor. executor NULL
//  means the loop's default thread pool, made on first use and destroyed
//  with the loop. loop NULL means the loop the executor is bound to, else
//  the calling thread's current loop, else (a thread with no loop) the
//  executor's own, which it then gets (see zx_executor_start_loop). With
//  an executor that runs its own loop, loop is not used: the future is
//  shared and the call is thread-safe. Otherwise the executor is bound to
//  loop on first use and used from that loop's thread only. Takes
//  ownership of args (NULL means no arguments). Returns a future the
//  caller owns; every problem (unknown task, type errors, shut-down
//  executor, full queue, lost worker) fails that future rather than being
//  returned here. NULL when out of memory, when there is no loop at all
//  (a NULL executor with no loop), or when the executor is bound to a
//  loop of another thread (logged). Submitted from plain code, outside
//  the loop's iteration, the request is dealt at once to a worker that is
//  free (see zx_executor_start_loop for work that must all start while
//  the caller computes). Called from a coroutine on the executor's loop
//  while the queue is full (see max_queue), it waits for room first
//  (backpressure).
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

//  Same as zx_run_in_executor (NULL, self, task, args): on the loop the
//  executor is used with, else the calling thread's current loop, else
//  its own loop (as concurrent.futures' Executor.submit: see
//  zx_executor_start_loop). Thread-safe for an executor with its own
//  loop. Returns NULL (and destroys args) when self is NULL, when it is
//  bound to the loop of another thread (logged), or memory ran out.
ZX_EXPORT zx_future_t *zx_executor_submit (zx_executor_t *self, const char *task,
                                           zx_values_t *args);

//  Stops the executor, like Executor.shutdown: no new work is accepted
//  (later submissions fail with ZX_ESHUTDOWN); with cancel_futures, every
//  task that has not started is cancelled as zx_future_cancel_if_pending
//  does, wherever it waits in a local pool: queued in the coordinator or
//  held by a worker behind the task it runs (the worker skips it); tasks
//  that have started go on (a remote executor cancels nothing it has sent
//  to the broker: cancel those futures with zx_future_cancel_if_pending);
//  with wait, runs (or, in a
//  coroutine, awaits) until all work sent to workers has finished and the
//  workers have exited. With its own loop it may be called from any
//  thread, and a wait blocks the thread. Returns ZX_OK, or ZX_EBUSY when
//  asked to wait from a loop callback (or, with its own loop, from a done
//  callback on its I/O thread: then it shuts down without waiting).
//  Calling it again is harmless.
ZX_EXPORT zx_err_t zx_executor_shutdown (zx_executor_t *self, bool wait, bool cancel_futures);

//  What zx_executor_shutdown_deadline had to do to end in time; the
//  caller may pass one (it is zeroed first) or NULL.
#define ZX_SHUTDOWN_KILLS_MAX 16
typedef struct {
    //  True when work was still out as the deadline drew near, so that it
    //  was stopped rather than waited for.
    bool forced;
    //  Futures it ended itself with ZX_ECANCELLED: tasks that had not
    //  started when stopping began, and those still running or awaited
    //  from the broker at the deadline. Tasks that stopped at their cancel
    //  token end cancelled too, but by their worker's answer.
    size_t cancelled;
    //  Signals sent to process workers, in order (SIGTERM, then SIGKILL
    //  to those that outlived it): kill_count of them, of which the first
    //  ZX_SHUTDOWN_KILLS_MAX are listed with the pid and the signal.
    size_t kill_count;
    struct {
        pid_t pid;
        int signal;
    } kills [ZX_SHUTDOWN_KILLS_MAX];
    //  Thread pools: threads still running a task at the deadline. A
    //  thread cannot be stopped from outside: each was detached, goes on
    //  until its task returns (its result is dropped), then exits and
    //  frees what it holds by itself. Its task must not use what the
    //  caller frees after the shutdown.
    size_t abandoned_threads;
} zx_shutdown_report_t;

//  Shuts down as zx_executor_shutdown (self, true, cancel_futures) does,
//  but returns about deadline_ms from now whatever the workers do,
//  escalating as the deadline nears. Let grace be the executor's
//  cancel_grace_ms, at most a quarter of deadline_ms. Until deadline_ms
//  minus twice grace, work goes on and the call returns as soon as it is
//  over. Then every task still out is cancelled as zx_future_cancel does:
//  one not started ends at once, a running one is asked to stop at its
//  cancel token (zx_call_cancelled). At deadline_ms minus grace, a process
//  worker still running a task gets SIGTERM; at deadline_ms, SIGKILL, and
//  every future still out ends with ZX_ECANCELLED ("the executor's
//  shutdown deadline of N ms passed ..."); threads that still run a task
//  are abandoned (see zx_shutdown_report_t) and the rest are joined, and
//  process workers that do not leave within 200 ms of their dismissal are
//  killed too. A remote executor waits for the broker's answers until the
//  deadline, then ends what is still out the same way (and tells the
//  broker to cancel it). So every future has ended once when it returns.
//  Fills report (NULL: none) with what it had to do. Returns ZX_OK,
//  ZX_EINVAL when self is NULL or deadline_ms is negative, or ZX_EBUSY
//  where zx_executor_shutdown cannot wait (then it shuts down without
//  waiting). Calling it after another shutdown that waited is harmless.
ZX_EXPORT zx_err_t zx_executor_shutdown_deadline (zx_executor_t *self, bool cancel_futures,
                                                  int64_t deadline_ms,
                                                  zx_shutdown_report_t *report);

//  Shuts down with wait (unless already shut down), stops the workers and
//  frees the executor; accepts NULL and nulls the caller's pointer. With
//  its own loop it may be called from any thread and joins the I/O thread;
//  from a done callback on that thread it shuts down without waiting and
//  the I/O thread frees the executor once the callback has returned, the
//  work still out ending with ZX_ESHUTDOWN. Its futures stay usable by
//  whoever holds them.
ZX_EXPORT void zx_executor_destroy (zx_executor_t **self_p);

//  Returns the endpoint workers connect to (borrowed).
ZX_EXPORT const char *zx_executor_endpoint (const zx_executor_t *self);

//  Fills pids with the process IDs of the live workers of a process pool
//  (the caller's pid for a thread pool, once per worker); returns how many
//  there are, which may exceed size. Thread-safe with its own loop.
ZX_EXPORT size_t zx_executor_worker_pids (const zx_executor_t *self, pid_t *pids, size_t size);

//  Returns how many workers of a local pool have said READY and take work
//  now (0 for a remote executor, or one with its own loop). Call it from
//  the thread of the loop the pool is bound to; a pool not used yet is
//  bound here to the calling thread's current loop, as a first submission
//  does. The loop reads the workers' READY as it runs.
ZX_EXPORT size_t zx_executor_ready_workers (zx_executor_t *self);

//  Returns how many tasks are queued in the coordinator plus how many are
//  held by workers. Thread-safe with its own loop.
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

//  Options of a map; zero them all for the defaults.
typedef struct {
    //  Inputs pulled and submitted at a time. 0 means 1.
    size_t chunksize;
    //  Most inputs submitted and not yet taken. 0 means 64.
    size_t in_flight;
    //  As Python's map (timeout=): a result that is not there timeout_ms
    //  after zx_map_new makes zx_map_next return ZX_ETIMEDOUT, and what
    //  is still out is cancelled. 0 means no limit; negative is refused.
    int64_t timeout_ms;
} zx_map_opts_t;

//  Runs task over the argument lists that next (state) produces on
//  executor, like Executor.map but lazy: it pulls chunksize inputs at a
//  time and keeps at most in_flight of them submitted, pulling more only
//  as results are taken, so an endless input is fine. The first
//  in_flight are pulled and submitted now, so work starts at once.
//  Results come back in input order. It works wherever zx_executor_submit
//  does: in a coroutine or plain code on the loop the executor is bound
//  to, or from any thread with an executor that runs its own loop (one
//  not yet used gets its own loop here when this thread has no loop, see
//  zx_executor_start_loop). opts may be NULL. Caller owns the map and
//  frees it with zx_map_destroy. NULL when executor, task or next is
//  NULL, opts->timeout_ms is negative, memory ran out, or the executor is
//  bound to the loop of another thread (logged; no input is pulled).
ZX_EXPORT zx_map_t *zx_map_new (zx_executor_t *executor, const char *task,
                                zx_map_next_fn *next, void *state,
                                const zx_map_opts_t *opts);

//  Deprecated: the former name of zx_map_new, which it calls with options
//  { chunksize, in_flight } and no timeout. Kept for existing callers;
//  new code calls zx_map_new, whose name pairs with zx_map_destroy.
ZX_EXPORT zx_map_t *zx_executor_map (zx_executor_t *self, const char *task,
                                     zx_map_next_fn *next, void *state,
                                     size_t chunksize, size_t in_flight)
    ZX_DEPRECATED ("use zx_map_new");

//  Waits for the next result in input order. Returns ZX_OK with *result
//  set to its values (borrowed: valid until the next call or destroy), or
//  ZX_OK with *result NULL when every input has been returned. When that
//  input's task failed it returns the error (see zx_map_message) with
//  *result NULL, and the next call goes on with the next input. When the
//  map's timeout passes first it returns ZX_ETIMEDOUT, having cancelled
//  what was still out, and the map is over: later calls return ZX_OK with
//  *result NULL. An input that could not be submitted (out of memory)
//  ends the map the same way, with that error in its place. Returns
//  ZX_EBUSY when called from a loop callback, or from the I/O thread of
//  an executor with its own loop.
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
