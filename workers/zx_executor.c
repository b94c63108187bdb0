/*  zx_executor.c - the executor's front: what the user sees of every kind.

    DESIGN: an executor is this front over one back end, reached through an
    operations table (zx_executor.h): the local pool (zx_pool.c) or the
    remote client (zx_remote.c). The front knows no workers, sockets or
    processes. It owns what is the same for every kind: the public calls
    and their checks, each submission's future (handed to the back end as
    the request's completion, which ends it exactly once), deadlines,
    backpressure (a coroutine waits for room while the queue is full), the
    one loop an executor is bound to on first use, the loop's default
    executor, and shutdown's wait for idleness. Relays from a serving
    worker go through the same table with a function as completion.

    An executor is used in one of two ways. Bound to the caller's loop
    (asyncio's way), everything runs on that loop's thread; a submission
    from plain code, outside the loop's iteration, is dealt to the workers
    at once rather than when the loop next runs. With a loop of its own
    (concurrent.futures' way: zx_executor_start_loop, or a first use from
    a thread that has no loop), an I/O thread runs that loop and with it
    the back end; its futures are shared (zx_future.c), so any thread may
    submit, wait and cancel. A submission from another thread makes the
    future there and posts the request to the I/O thread, where it takes
    the same path as a loop-bound one; shutdown and the queries are posted
    too, and the caller waits on a condition variable for their answer.

    LENGTH: about 1040 lines, over the project's 700, because the own-loop
    way (the I/O thread, posted calls and their condition variable) came
    late and shares the front's struct and its submit path, and the
    actors' hooks (zx__executor_send_to, the watchers of lost workers,
    about 100 lines) came after. It is the next file to split: the
    own-loop half into zx_executor_io.c behind an internal header holding
    struct zx_executor.  */

#include "zx_executor.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_pool_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The I/O thread of an executor with its own loop
typedef enum {
    S_IO_NONE,                  //  None: bound to a caller's loop, or unused
    S_IO_STARTING,
    S_IO_RUNNING,
    S_IO_FAILED
} s_io_state_t;

//  One who hears of the workers the back end loses (zx__executor_watch)
typedef struct s_watch {
    struct s_watch *next;
    zx__worker_lost_fn *fn;
    void *arg;
} s_watch_t;

struct zx_executor {
    zx__backend_t *backend;     //  NULL only while a constructor runs
    uint8_t retries;
    size_t max_queue;
    int64_t task_timeout_ms;    //  0: none
    int cancel_grace_ms;        //  Steps of a shutdown's deadline, at most
    //  The one it is used with, from first use: a caller's, or its own
    //  (a shared loop). Set once, under lock; read with s_bound
    zx_loop_t *loop;
    zx_future_t *room;          //  Completed when the queue has room again
    zx_future_t *idle;          //  Completed when shut down and idle
    bool shut_down;
    bool stopped;               //  Its workers are dismissed
    bool attach_failed;         //  Its back end cannot watch its sockets
    zx_logger_t *log;
    //  Its own loop: the I/O thread that runs it, the loop's hub (for
    //  futures made on other threads), and the lock and condition that
    //  binding and the hand-offs with the I/O thread use
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t io_thread;
    s_io_state_t io_state;      //  Under lock
    bool io_quit;               //  On the I/O thread: leave the loop
    bool io_frees;              //  The I/O thread frees the executor as it goes
    zx__hub_t *hub;
    zx__started_fn *relay_started;  //  A relay's task has started, or NULL
    struct s_ending *ending;        //  A shutdown with a deadline under way
    s_watch_t *watches;         //  Who hears of workers lost (actor refs)
};

//  The loop the executor is bound to, or NULL; from any thread
static zx_loop_t *
s_bound (const zx_executor_t *self)
{
    return __atomic_load_n (&self->loop, __ATOMIC_ACQUIRE);
}

//  True when it runs its own loop (only those loops are shared)
static bool
s_own_loop (const zx_executor_t *self)
{
    zx_loop_t *loop = s_bound (self);
    return loop && zx__loop_hub (loop);
}

//  --------------------------------------------------------------------
//  Construction: each kind's constructor calls these two

zx_executor_t *
zx__executor_new (const zx_executor_opts_t *opts)
{
    zx_init (0, NULL);
    zx__czmq_quiet ();
    zx_executor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    if (opts->retries < 0 || opts->retries > 15 || opts->task_timeout_ms < 0
    ||  opts->cancel_grace_ms < 0)
        return NULL;
    zx_executor_t *self = calloc (1, sizeof (zx_executor_t));
    if (!self)
        return NULL;
    if (pthread_mutex_init (&self->lock, NULL)) {
        free (self);
        return NULL;
    }
    if (pthread_cond_init (&self->cond, NULL)) {
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    self->log = zx_log_get ("zexec.executor");
    self->retries = (uint8_t) opts->retries;
    self->max_queue = opts->max_queue ? opts->max_queue : 1000000;
    self->task_timeout_ms = opts->task_timeout_ms;
    self->cancel_grace_ms = opts->cancel_grace_ms ? opts->cancel_grace_ms : 1000;
    return self;
}

zx_executor_t *
zx__executor_open (zx_executor_t *front, zx__backend_t *backend)
{
    if (!front || !backend) {
        zx_executor_destroy (&front);
        return NULL;
    }
    front->backend = backend;
    return front;
}

//  --------------------------------------------------------------------
//  Completions: what back ends call

void
zx__executor_error_info (zx_future_t *future, zx_err_t code, const void *payload, size_t size)
{
    zx__error_detail_t detail;
    if (code == ZX_OK || code == ZX_ECANCELLED || !zx__error_detail_read (payload, size, &detail))
        return;
    zx_error_info_t info = { detail.task, detail.host, detail.pid, detail.thread, detail.where };
    zx__future_set_info (future, &info);
}

void
zx__executor_complete (zx_future_t *future, zx_err_t code, const void *payload, size_t size)
{
    if (code == ZX_OK) {
        zx_values_t *values = NULL;
        if (zx__values_decode (payload, size, &values) == ZX_OK)
            zx_future_set_result (future, &values);
        else
            zx_future_set_error (future, ZX_EPROTO, "malformed result from a worker");
    }
    else {
        char *message = strndup ((const char *) payload, size);
        zx__executor_error_info (future, code, payload, size);
        if (code == ZX_ECANCELLED) {
            zx__future_set_cancelled (future, message);
            free (message);
        }
        else
            zx__future_fail_owned (future, code, message);
    }
    zx_future_destroy (&future);
}

void
zx__executor_refuse (const zx__completion_t *done, zx_err_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = zx__strdupvf (format, args);
    va_end (args);
    if (done->future)
        zx__future_fail_owned (done->future, code, message);
    else {
        done->complete (done->cookie, code, message ? message : "",
                        message ? strlen (message) : 0);
        free (message);
    }
}

static size_t
s_waiting (const zx_executor_t *self)
{
    size_t waiting = 0, held = 0;
    self->backend->ops->counts (self->backend, &waiting, &held);
    return waiting;
}

//  True when the executor's queue is full: requests waiting for a worker
//  (local pools), or all requests not yet answered (remote executors,
//  whose queue is at the broker).
static bool
s_full (const zx_executor_t *self)
{
    return self->backend && s_waiting (self) >= self->max_queue;
}

void
zx__executor_room (zx_executor_t *self)
{
    if (self->room && !s_full (self)) {
        zx_future_set_result (self->room, NULL);
        zx_future_destroy (&self->room);
    }
}

static void s_ending_idle (struct s_ending *ending);

void
zx__executor_idle (zx_executor_t *self)
{
    if (self->idle && self->backend && zx_executor_backlog (self) == 0)
        zx_future_set_result (self->idle, NULL);
    if (self->ending)
        s_ending_idle (self->ending);
}

//  --------------------------------------------------------------------
//  Binding to a loop

static zx_err_t
s_bind (zx_executor_t *self, zx_loop_t *loop)
{
    zx_loop_t *bound = s_bound (self);
    if (bound)
        return bound == loop ? ZX_OK : ZX_EINVAL;
    pthread_mutex_lock (&self->lock);
    zx_err_t rc = ZX_OK;
    if (self->loop || self->io_state != S_IO_NONE)
        rc = self->loop == loop ? ZX_OK : ZX_EINVAL;
    else {
        __atomic_store_n (&self->loop, loop, __ATOMIC_RELEASE);
        rc = self->backend->ops->attach (self->backend, loop);
        self->attach_failed = rc != ZX_OK;
    }
    pthread_mutex_unlock (&self->lock);
    return rc;
}

//  --------------------------------------------------------------------
//  Deadlines: when one passes, the future fails now with ZX_ETIMEDOUT,
//  and the work behind it is withdrawn or stopped as for a cancel.

typedef struct {
    zx_future_t *future;            //  A reference of its own
    int64_t timeout_ms;
    uint64_t timer;
    char task [];
} s_deadline_t;

static void
s_deadline_passed (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_deadline_t *deadline = (s_deadline_t *) arg;
    deadline->timer = 0;
    char text [400];
    snprintf (text, sizeof text, zx_future_state (deadline->future) == ZX_FUTURE_RUNNING
              ? "task '%s' passed its %lld ms deadline while running: it was asked to stop"
              : "task '%s' passed its %lld ms deadline before it started",
              deadline->task, (long long) deadline->timeout_ms);
    zx__future_expire (deadline->future, ZX_ETIMEDOUT, text);
}

static void
s_deadline_done (zx_future_t *future, void *arg)
{
    (void) future;
    s_deadline_t *deadline = (s_deadline_t *) arg;
    if (deadline->timer)
        zx_loop_cancel_timer (zx_future_loop (deadline->future), deadline->timer);
    zx_future_destroy (&deadline->future);
    free (deadline);
}

static void
s_arm_deadline (zx_loop_t *loop, zx_future_t *future, const char *task, int64_t timeout_ms)
{
    if (timeout_ms <= 0 || zx_future_done (future))
        return;
    s_deadline_t *deadline = calloc (1, sizeof (s_deadline_t) + strlen (task) + 1);
    if (!deadline)
        return;
    deadline->future = zx__future_ref (future);
    deadline->timeout_ms = timeout_ms;
    strcpy (deadline->task, task);
    deadline->timer = zx_loop_call_later (loop, timeout_ms, s_deadline_passed, deadline);
    if (!deadline->timer || zx_future_add_done_callback (future, s_deadline_done, deadline)) {
        if (deadline->timer)
            zx_loop_cancel_timer (loop, deadline->timer);
        zx_future_destroy (&deadline->future);
        free (deadline);
    }
}

//  --------------------------------------------------------------------
//  Submitting

//  In a coroutine, waits while the queue is full. Returns ZX_OK, or
//  ZX_ECANCELLED when the coroutine was cancelled meanwhile.
static zx_err_t
s_wait_for_room (zx_executor_t *self, zx_loop_t *loop)
{
    while (s_full (self) && !self->shut_down) {
        zx_err_t rc;
        if (!self->backend->ops->signals_room)
            rc = zx_sleep (1);      //  Nothing tells us of room: look again
        else {
            if (!self->room && !(self->room = zx_future_new (loop)))
                return ZX_ENOMEM;
            zx_future_t *room = zx__future_ref (self->room);
            rc = zx_await (room);
            zx_future_destroy (&room);
        }
        if (rc != ZX_OK)
            return rc;
    }
    return ZX_OK;
}

//  Ends done when the executor takes no work (shut down, or a back end
//  that cannot take any more). Returns true when it did.
static bool
s_refused (zx_executor_t *self, const zx__completion_t *done)
{
    const char *broken = self->backend->ops->broken
                       ? self->backend->ops->broken (self->backend) : NULL;
    if (self->shut_down)
        zx__executor_refuse (done, ZX_ESHUTDOWN, "cannot schedule new futures after shutdown");
    else
    if (broken)
        zx__executor_refuse (done, ZX_EWORKER_INIT, "%s", broken);
    else
    if (self->attach_failed)
        zx__executor_refuse (done, ZX_ENOMEM, "the executor cannot watch its sockets");
    return self->shut_down || broken || self->attach_failed;
}

//  A request's wire flags: its retries, the task's own or else the
//  executor's (opts checked by zx_run_in_executor_opts)
static uint8_t
s_flags (const zx_executor_t *self, const zx_task_opts_t *opts)
{
    if (!opts || opts->retries == 0)
        return self->retries;
    return opts->retries == ZX_NO_RETRIES ? 0 : (uint8_t) opts->retries;
}

static void
s_submit (zx_executor_t *self, zx_loop_t *loop, zx_future_t *future,
          const char *task, zx_values_t *args, const zx_task_opts_t *opts)
{
    zx__completion_t done = { .future = future };
    zx_err_t waited = ZX_OK;
    if (s_bound (self) == loop && s_full (self) && zx_in_coro () && zx_loop_current () == loop)
        waited = s_wait_for_room (self, loop);
    if (waited != ZX_OK)
        zx_future_set_error (future, waited, "%s while waiting for room in the executor's queue",
                             waited == ZX_ECANCELLED ? "cancelled" : zx_strerror (waited));
    else
    if (s_bind (self, loop) != ZX_OK)
        zx_future_set_error (future, ZX_EINVAL, "this executor is used with another loop");
    else
    if (s_refused (self, &done))
        ;
    else
    if (!task)
        zx_future_set_error (future, ZX_EINVAL, "task name is NULL");
    else {
        zx__submission_t request = { .task = task, .args = "", .flags = s_flags (self, opts),
                                     .values_p = &args };
        if (args)
            request.args = zx__values_data (args, &request.args_size);
        //  From plain code, outside the loop's iteration, nothing would
        //  deal the request until the loop runs: the back end does now
        //  what it can without losing its batches (see its flush)
        self->backend->ops->submit (self->backend, &request, &done);
        if (self->backend->ops->flush && !zx__loop_running (loop))
            self->backend->ops->flush (self->backend);
    }
    zx_values_destroy (&args);
    int64_t timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : self->task_timeout_ms;
    if (task && timeout_ms > 0)
        s_arm_deadline (loop, future, task, timeout_ms);
}

static void
s_destroy_default (void *arg)
{
    zx_executor_t *self = (zx_executor_t *) arg;
    zx_executor_destroy (&self);
}

zx_future_t *
zx_run_in_executor (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                    zx_values_t *args)
{
    return zx_run_in_executor_opts (loop, executor, task, args, NULL);
}

//  Fails future when opts are bad. Returns true when it did.
static bool
s_bad_opts (zx_future_t *future, const zx_task_opts_t *opts)
{
    if (opts && opts->timeout_ms < 0)
        zx_future_set_error (future, ZX_EINVAL, "timeout_ms is negative");
    else
    if (opts && (opts->retries < ZX_NO_RETRIES || opts->retries > 15))
        zx_future_set_error (future, ZX_EINVAL, "retries is %d: ZX_NO_RETRIES (-1) to 15",
                             opts->retries);
    else
        return false;
    return true;
}

//  --------------------------------------------------------------------
//  Its own loop: the I/O thread

static void
s_free (zx_executor_t *self)
{
    zx__hub_unref (&self->hub);
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->lock);
    free (self);
}

static bool
s_io_quitting (void *arg)
{
    return ((zx_executor_t *) arg)->io_quit;
}

//  The I/O thread: makes the loop (shared), attaches the back end, runs
//  until told to quit, then frees the back end and the loop, all on this
//  thread, which their sockets belong to.
static void *
s_io_main (void *arg)
{
    zx_executor_t *self = (zx_executor_t *) arg;
    zx_thread_set_name ("zexec-io");
    zx_loop_t *loop = zx_loop_new ();
    zx_err_t rc = loop ? zx__loop_share (loop) : ZX_ENOMEM;
    pthread_mutex_lock (&self->lock);
    if (rc == ZX_OK) {
        self->hub = zx__hub_ref (zx__loop_hub (loop));
        self->attach_failed = self->backend->ops->attach (self->backend, loop) != ZX_OK;
        __atomic_store_n (&self->loop, loop, __ATOMIC_RELEASE);
        self->io_state = S_IO_RUNNING;
    }
    else
        self->io_state = S_IO_FAILED;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
    if (rc != ZX_OK) {
        zx_loop_destroy (&loop);
        return NULL;
    }
    zx__loop_run_until (loop, s_io_quitting, self, -1);
    //  No more posts; what was posted before runs (submissions are
    //  refused: the executor is shut down), then the back end goes, on
    //  the thread its sockets belong to now
    zx__loop_unshare (loop);
    zx__loop_run_pending (loop);
    if (self->room) {
        zx_future_set_error (self->room, ZX_ESHUTDOWN, "executor destroyed");
        zx_future_destroy (&self->room);
    }
    self->backend->ops->destroy (&self->backend);
    zx_future_destroy (&self->idle);
    zx_loop_destroy (&loop);
    if (self->io_frees)
        s_free (self);
    return NULL;
}

//  Starts the I/O thread and its loop, unless the executor is bound.
//  Returns ZX_OK when it runs its own loop, ZX_EINVAL when it is bound to
//  a caller's, or ZX_ESYS / ZX_ENOMEM when the thread could not start.
static zx_err_t
s_start_own_loop (zx_executor_t *self)
{
    pthread_mutex_lock (&self->lock);
    zx_err_t rc = ZX_OK;
    if (self->io_state == S_IO_NONE && !self->loop) {
        self->io_state = S_IO_STARTING;
        if (pthread_create (&self->io_thread, NULL, s_io_main, self) != 0)
            self->io_state = S_IO_NONE;
        while (self->io_state == S_IO_STARTING)
            pthread_cond_wait (&self->cond, &self->lock);
        if (self->io_state == S_IO_FAILED) {
            pthread_join (self->io_thread, NULL);
            self->io_state = S_IO_NONE;
            rc = ZX_ENOMEM;
        }
        else
        if (self->io_state == S_IO_NONE)
            rc = ZX_ESYS;
    }
    else
    if (self->io_state != S_IO_RUNNING)
        rc = ZX_EINVAL;
    pthread_mutex_unlock (&self->lock);
    return rc;
}

//  A call that another thread makes on the I/O thread and waits for
typedef struct s_io_call s_io_call_t;
struct s_io_call {
    zx_executor_t *self;
    void (*fn) (s_io_call_t *call);     //  Ends with s_io_done, now or later
    bool wait, cancel_futures;          //  Shutdown
    pid_t *pids;                        //  Worker pids
    size_t size;
    struct s_ending *ending;            //  Shutdown with a deadline
    size_t count;                       //  Answers
    zx_err_t rc;
    bool done;
};

static void
s_io_done (s_io_call_t *call)
{
    zx_executor_t *self = call->self;
    pthread_mutex_lock (&self->lock);
    call->done = true;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->lock);
}

static void
s_io_run (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_io_call_t *call = (s_io_call_t *) arg;
    call->fn (call);
}

//  Runs call on the I/O thread (at once when this is it) and waits until
//  it is done. Returns ZX_OK, or ZX_ESHUTDOWN when the loop is gone.
static zx_err_t
s_on_io (zx_executor_t *self, s_io_call_t *call)
{
    call->self = self;
    if (zx__hub_on_loop (self->hub))
        call->fn (call);
    else
    if (zx__hub_post (self->hub, false, s_io_run, call) != ZX_OK)
        return ZX_ESHUTDOWN;
    pthread_mutex_lock (&self->lock);
    while (!call->done)
        pthread_cond_wait (&self->cond, &self->lock);
    pthread_mutex_unlock (&self->lock);
    return ZX_OK;
}

//  A submission from another thread, on its way to the I/O thread
typedef struct {
    zx_executor_t *self;
    zx_future_t *future;            //  A reference of its own
    zx_values_t *args;
    zx_task_opts_t opts;
    bool has_opts, has_task;
    char task [];
} s_posted_t;

static void
s_run_posted (zx_loop_t *loop, void *arg)
{
    s_posted_t *posted = (s_posted_t *) arg;
    s_submit (posted->self, loop, posted->future, posted->has_task ? posted->task : NULL,
              posted->args, posted->has_opts ? &posted->opts : NULL);
    zx_future_destroy (&posted->future);
    free (posted);
}

//  Submits to an executor with its own loop, from any thread: the future
//  is shared, and the request goes to the I/O thread.
static zx_future_t *
s_submit_shared (zx_executor_t *self, const char *task, zx_values_t *args,
                 const zx_task_opts_t *opts)
{
    zx_future_t *future = zx__future_new_shared (self->hub);
    if (!future) {
        zx_values_destroy (&args);
        return NULL;
    }
    if (s_bad_opts (future, opts)) {
        zx_values_destroy (&args);
        return future;
    }
    if (zx__hub_on_loop (self->hub)) {
        s_submit (self, s_bound (self), future, task, args, opts);
        return future;
    }
    s_posted_t *posted = calloc (1, sizeof (s_posted_t) + (task ? strlen (task) : 0) + 1);
    if (!posted) {
        zx_future_set_error (future, ZX_ENOMEM, "out of memory");
        zx_values_destroy (&args);
        return future;
    }
    posted->self = self;
    posted->future = zx__future_ref (future);
    posted->args = args;
    posted->has_task = task != NULL;
    if (task)
        strcpy (posted->task, task);
    posted->has_opts = opts != NULL;
    if (opts)
        posted->opts = *opts;
    zx_err_t rc = zx__hub_post (self->hub, false, s_run_posted, posted);
    if (rc != ZX_OK) {
        zx_future_set_error (future, rc, "%s", rc == ZX_ESHUTDOWN ? "the executor is destroyed"
                                                                  : "out of memory");
        zx_future_destroy (&posted->future);
        zx_values_destroy (&posted->args);
        free (posted);
    }
    return future;
}

zx_err_t
zx_executor_start_loop (zx_executor_t *self)
{
    if (!self)
        return ZX_EINVAL;
    return s_start_own_loop (self);
}

zx_err_t
zx__executor_usable_here (zx_executor_t *self)
{
    zx_loop_t *bound = s_bound (self);
    if (!bound && !zx_loop_current ())
        return s_start_own_loop (self);
    if (!bound || s_own_loop (self))
        return ZX_OK;
    return zx__loop_is_owner (bound) ? ZX_OK : ZX_EINVAL;
}

//  --------------------------------------------------------------------
//  The public submissions

zx_future_t *
zx_run_in_executor_opts (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                         zx_values_t *args, const zx_task_opts_t *opts)
{
    if (executor) {
        //  First used from a thread with no loop: it runs its own
        if (!loop && !s_bound (executor) && !zx_loop_current ()
        &&  s_start_own_loop (executor) != ZX_OK)
            zx_log_error (executor->log, "cannot start the executor's own loop");
        if (s_own_loop (executor))
            return s_submit_shared (executor, task, args, opts);
    }
    if (!loop)
        loop = executor && s_bound (executor) ? s_bound (executor) : zx_loop_current ();
    if (loop && !zx__loop_is_owner (loop)) {
        zx_log_error (executor ? executor->log : zx_log_get ("zexec.executor"),
                      "task '%s' submitted from a thread that does not run the executor's "
                      "loop: an executor bound to a loop is used from that loop's thread; "
                      "one with its own loop (zx_executor_start_loop) from any thread",
                      task ? task : "(null)");
        loop = NULL;
    }
    zx_future_t *future = loop ? zx_future_new (loop) : NULL;
    if (!future) {
        zx_values_destroy (&args);
        return NULL;
    }
    if (!executor) {
        executor = (zx_executor_t *) zx__loop_default_executor (loop);
        if (!executor) {
            executor = zx_thread_pool_new (NULL);
            if (executor && zx__loop_on_destroy (loop, s_destroy_default, executor) != ZX_OK)
                zx_executor_destroy (&executor);
            if (!executor) {
                zx_future_set_error (future, ZX_ENOMEM, "cannot start the default thread pool");
                zx_values_destroy (&args);
                return future;
            }
            zx__loop_set_default_executor (loop, executor);
        }
    }
    if (s_bad_opts (future, opts)) {
        zx_values_destroy (&args);
        return future;
    }
    s_submit (executor, loop, future, task, args, opts);
    return future;
}

zx_future_t *
zx_executor_submit (zx_executor_t *self, const char *task, zx_values_t *args)
{
    if (!self) {
        zx_values_destroy (&args);
        return NULL;
    }
    return zx_run_in_executor (NULL, self, task, args);
}

//  --------------------------------------------------------------------
//  Relays: encoded requests from a serving worker (zx_executor.h)

bool
zx__executor_is_local (const zx_executor_t *self)
{
    return self->backend->ops->relays;
}

//  Relays task with args, or with frame's bytes when frame is not NULL
//  (then args are not read).
static zx__request_t *
s_relay (zx_executor_t *self, zx_loop_t *loop, const char *task, const void *args,
         size_t args_size, struct zmq_msg_t *frame, zx__complete_fn *complete, void *cookie)
{
    zx__completion_t done = { .complete = complete, .cookie = cookie };
    if (!self->backend->ops->relays || s_bind (self, loop) != ZX_OK) {
        zx__executor_refuse (&done, ZX_EINVAL, "this executor cannot relay from this loop");
        return NULL;
    }
    if (s_refused (self, &done))
        return NULL;
    zx__submission_t request = {
        .task = task, .args = frame ? zmq_msg_data (frame) : args,
        .args_size = frame ? zmq_msg_size (frame) : args_size,
        .flags = self->retries, .frame = frame };
    return self->backend->ops->submit (self->backend, &request, &done);
}

zx__request_t *
zx__executor_relay (zx_executor_t *self, zx_loop_t *loop, const char *task,
                    const void *args, size_t args_size,
                    zx__complete_fn *complete, void *cookie)
{
    return s_relay (self, loop, task, args, args_size, NULL, complete, cookie);
}

zx__request_t *
zx__executor_relay_frame (zx_executor_t *self, zx_loop_t *loop, const char *task,
                          struct zmq_msg_t *frame, zx__complete_fn *complete, void *cookie)
{
    return s_relay (self, loop, task, NULL, 0, frame, complete, cookie);
}

zx__request_t *
zx__executor_send_to (zx_executor_t *self, zx_loop_t *loop, const char *target,
                      const char *task, const void *args, size_t args_size,
                      zx__complete_fn *complete, void *cookie)
{
    zx__completion_t done = { .complete = complete, .cookie = cookie };
    if (!self->backend->ops->relays && !self->backend->ops->places_actors) {
        zx__executor_refuse (&done, ZX_EINVAL, "actors run on thread and process pools and "
                             "through a broker: this executor cannot place them");
        return NULL;
    }
    if (s_bind (self, loop) != ZX_OK) {
        zx__executor_refuse (&done, ZX_EINVAL, "this executor is used with another loop");
        return NULL;
    }
    if (s_refused (self, &done))
        return NULL;
    zx__submission_t request = { .task = task, .args = args, .args_size = args_size,
                                 .target = target };
    zx__request_t *sent = self->backend->ops->submit (self->backend, &request, &done);
    if (self->backend->ops->flush && !zx__loop_running (loop))
        self->backend->ops->flush (self->backend);
    return sent;
}

zx_err_t
zx__executor_watch (zx_executor_t *self, zx__worker_lost_fn *fn, void *arg)
{
    s_watch_t *watch = malloc (sizeof (s_watch_t));
    if (!watch)
        return ZX_ENOMEM;
    *watch = (s_watch_t) { self->watches, fn, arg };
    self->watches = watch;
    return ZX_OK;
}

void
zx__executor_unwatch (zx_executor_t *self, zx__worker_lost_fn *fn, void *arg)
{
    for (s_watch_t **link = &self->watches; *link; link = &(*link)->next)
        if ((*link)->fn == fn && (*link)->arg == arg) {
            s_watch_t *watch = *link;
            *link = watch->next;
            free (watch);
            return;
        }
}

void
zx__executor_watch_worker (zx_executor_t *self, const char *identity, bool on)
{
    if (self->backend && self->backend->ops->watch_worker && identity && identity [0])
        self->backend->ops->watch_worker (self->backend, identity, on);
}

void
zx__executor_worker_lost (zx_executor_t *self, const char *identity, const char *cause)
{
    //  A watcher may unwatch itself as it hears: take the next one first
    for (s_watch_t *watch = self->watches, *next; watch; watch = next) {
        next = watch->next;
        watch->fn (watch->arg, identity, cause);
    }
}

size_t
zx__executor_ready_ids (const zx_executor_t *self, char (*ids) [64], size_t count)
{
    if (!self->backend || !self->backend->ops->ready_workers)
        return 0;
    return self->backend->ops->ready_workers (self->backend, ids, count);
}

size_t
zx_executor_ready_workers (zx_executor_t *self)
{
    if (!self || s_own_loop (self))
        return 0;
    //  Unused yet: its loop is to read the workers' READY from now on
    if (!s_bound (self) && zx_loop_current ())
        s_bind (self, zx_loop_current ());
    return zx__executor_ready_ids (self, NULL, 0);
}

bool
zx__executor_loop_owned (zx_executor_t *self, zx_loop_t **loop)
{
    zx_loop_t *bound = s_bound (self);
    if (s_own_loop (self))
        return false;
    *loop = bound ? bound : zx_loop_current ();
    return *loop && zx__loop_is_owner (*loop);
}

void
zx__executor_on_relay_started (zx_executor_t *self, zx__started_fn *started)
{
    self->relay_started = started;
}

void
zx__executor_relay_started (zx_executor_t *self, void *cookie)
{
    if (self->relay_started)
        self->relay_started (cookie);
}

void
zx__executor_relay_stop (zx_executor_t *self, zx__request_t *request)
{
    if (self->backend->ops->cancel)
        self->backend->ops->cancel (self->backend, request);
}

void
zx__executor_flush (zx_executor_t *self)
{
    if (self->backend->ops->flush)
        self->backend->ops->flush (self->backend);
}

//  --------------------------------------------------------------------
//  Shutting down

static void
s_stop (zx_executor_t *self)
{
    if (self->stopped)
        return;
    self->stopped = true;
    if (self->backend->ops->stop)
        self->backend->ops->stop (self->backend);
}

static void
s_io_idle_reached (zx_future_t *idle, void *arg)
{
    (void) idle;
    s_io_call_t *call = (s_io_call_t *) arg;
    s_stop (call->self);
    s_io_done (call);
}

//  Shutdown, on the I/O thread; it answers once the work has finished
static void
s_io_shutdown (s_io_call_t *call)
{
    zx_executor_t *self = call->self;
    self->shut_down = true;
    if (self->backend->ops->close)
        self->backend->ops->close (self->backend, call->cancel_futures);
    //  Stopped (by a shutdown's deadline), nothing more comes back: what
    //  abandoned threads still hold is not waited for
    if (call->wait && !self->stopped && zx_executor_backlog (self) > 0) {
        if (!self->idle && !(self->idle = zx_future_new (s_bound (self))))
            call->rc = ZX_ENOMEM;
        else
        if (zx_future_add_done_callback (self->idle, s_io_idle_reached, call) == ZX_OK)
            return;
        else
            call->rc = ZX_ENOMEM;
        s_io_done (call);
        return;
    }
    if (call->wait)
        s_stop (self);
    s_io_done (call);
}

zx_err_t
zx_executor_shutdown (zx_executor_t *self, bool wait, bool cancel_futures)
{
    if (!self)
        return ZX_EINVAL;
    if (s_own_loop (self)) {
        //  On its own I/O thread, a wait for the work would wait for itself
        bool busy = wait && zx__hub_on_loop (self->hub) && zx_executor_backlog (self) > 0;
        s_io_call_t call = { .fn = s_io_shutdown, .wait = wait && !busy,
                             .cancel_futures = cancel_futures };
        if (s_on_io (self, &call) != ZX_OK)
            return ZX_OK;           //  Its loop is gone: shut down already
        return busy ? ZX_EBUSY : call.rc;
    }
    self->shut_down = true;

    if (self->backend && self->backend->ops->close)
        self->backend->ops->close (self->backend, cancel_futures);
    if (!wait)
        return ZX_OK;
    if (self->loop && !self->stopped && zx_executor_backlog (self) > 0) {
        if (!self->idle && !(self->idle = zx_future_new (self->loop)))
            return ZX_ENOMEM;
        zx_err_t rc = zx_await (self->idle);
        zx_future_destroy (&self->idle);
        if (rc != ZX_OK)
            return rc;
    }
    if (self->backend)
        s_stop (self);
    return ZX_OK;
}

//  --------------------------------------------------------------------
//  Shutting down with a deadline: on the loop's thread, a timer for each
//  stage (zx__executor_ops_t.hasten) and one end

typedef struct s_ending {
    zx_executor_t *self;
    zx_loop_t *loop;                //  NULL: never used, nothing to wait for
    bool cancel_futures;
    zx_shutdown_report_t *report;
    int64_t end_us;                 //  The deadline, on the zx__now_us clock
    int64_t grace_ms;               //  Between the stages
    int stage;                      //  The last one done
    uint64_t timer;
    bool over;
    zx_future_t *fin;               //  Bound to a caller's loop: set at the end
    s_io_call_t *call;              //  Own loop: answered at the end
    char text [200];
} s_ending_t;

static void s_ending_tick (zx_loop_t *loop, void *arg);

//  Stops the workers and tells the waiter; once
static void
s_ending_over (s_ending_t *deadline)
{
    zx_executor_t *self = deadline->self;
    if (deadline->over)
        return;
    deadline->over = true;
    self->ending = NULL;
    if (deadline->timer)
        zx_loop_cancel_timer (deadline->loop, deadline->timer);
    deadline->timer = 0;
    if (self->backend)
        s_stop (self);
    if (deadline->fin)
        zx_future_set_result (deadline->fin, NULL);
    if (deadline->call)
        s_io_done (deadline->call);     //  The waiter may free deadline now
}

//  Takes the next stage (all that are left when now is true)
static void
s_ending_hasten (s_ending_t *deadline, bool now)
{
    zx_executor_t *self = deadline->self;
    do {
        deadline->stage++;
        if (deadline->report)
            deadline->report->forced = true;
        if (self->backend->ops->hasten)
            self->backend->ops->hasten (self->backend, deadline->stage, deadline->text,
                                        deadline->report);
    } while (now && deadline->stage < ZX__HASTEN_END);
}

//  Sets the timer of the next stage; false when out of memory
static bool
s_ending_arm (s_ending_t *deadline)
{
    int64_t at_us = deadline->end_us
                  - (ZX__HASTEN_END - deadline->stage - 1) * deadline->grace_ms * 1000;
    int64_t delay_ms = (at_us - zx__now_us () + 999) / 1000;
    //  A stage may have made the back end idle, which set a timer already
    if (deadline->timer)
        zx_loop_cancel_timer (deadline->loop, deadline->timer);
    deadline->timer = zx_loop_call_later (deadline->loop, delay_ms > 0 ? delay_ms : 0,
                                          s_ending_tick, deadline);
    return deadline->timer != 0;
}

static void
s_ending_tick (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_ending_t *deadline = (s_ending_t *) arg;
    deadline->timer = 0;
    if (zx_executor_backlog (deadline->self) > 0 && deadline->stage < ZX__HASTEN_END) {
        s_ending_hasten (deadline, false);
        if (deadline->stage < ZX__HASTEN_END && zx_executor_backlog (deadline->self) > 0
        &&  s_ending_arm (deadline))
            return;
        if (deadline->stage < ZX__HASTEN_END && zx_executor_backlog (deadline->self) > 0)
            s_ending_hasten (deadline, true);
    }
    s_ending_over (deadline);
}

//  The back end has nothing out any more: end on the loop's next turn,
//  not from inside the back end's call
static void
s_ending_idle (s_ending_t *deadline)
{
    if (deadline->over)
        return;
    if (deadline->timer)
        zx_loop_cancel_timer (deadline->loop, deadline->timer);
    deadline->timer = zx_loop_call_later (deadline->loop, 0, s_ending_tick, deadline);
    if (!deadline->timer)
        s_ending_over (deadline);             //  Out of memory: end now
}

static void
s_ending_begin (s_ending_t *deadline)
{
    zx_executor_t *self = deadline->self;
    self->shut_down = true;
    if (self->backend->ops->close)
        self->backend->ops->close (self->backend, deadline->cancel_futures);
    if (!deadline->loop || zx_executor_backlog (self) == 0) {
        s_ending_over (deadline);
        return;
    }
    self->ending = deadline;
    if (!s_ending_arm (deadline)) {
        s_ending_hasten (deadline, true);
        s_ending_over (deadline);
    }
}

static void
s_io_shutdown_ending (s_io_call_t *call)
{
    call->ending->call = call;
    s_ending_begin (call->ending);
}

zx_err_t
zx_executor_shutdown_deadline (zx_executor_t *self, bool cancel_futures, int64_t deadline_ms,
                               zx_shutdown_report_t *report)
{
    if (report)
        memset (report, 0, sizeof *report);
    if (!self || deadline_ms < 0)
        return ZX_EINVAL;
    zx_loop_t *loop = s_bound (self);
    bool own = s_own_loop (self);
    //  Where it cannot wait: as zx_executor_shutdown does
    if ((own && zx__hub_on_loop (self->hub))
    ||  (!own && loop && (!zx__loop_is_owner (loop)
                          || (zx__loop_running (loop) && !zx_in_coro ())))) {
        zx_executor_shutdown (self, false, cancel_futures);
        return ZX_EBUSY;
    }
    s_ending_t deadline = {
        .self = self, .loop = loop, .cancel_futures = cancel_futures, .report = report,
        .end_us = zx__now_us () + deadline_ms * 1000,
        .grace_ms = self->cancel_grace_ms < deadline_ms / 4 ? self->cancel_grace_ms
                                                             : deadline_ms / 4 };
    snprintf (deadline.text, sizeof deadline.text, "cancelled: the executor's shutdown "
              "deadline of %lld ms passed before the task ended", (long long) deadline_ms);
    if (own) {
        s_io_call_t call = { .fn = s_io_shutdown_ending, .ending = &deadline };
        s_on_io (self, &call);      //  ZX_ESHUTDOWN: its loop is gone, shut down already
        return ZX_OK;
    }
    if (loop && !(deadline.fin = zx_future_new (loop)))
        return ZX_ENOMEM;
    s_ending_begin (&deadline);
    if (!deadline.over && zx_await (deadline.fin) != ZX_OK && !deadline.over) {
        //  The coroutine was cancelled while it waited: end now, as the
        //  timers must not outlive this frame
        s_ending_hasten (&deadline, true);
        s_ending_over (&deadline);
    }
    zx_future_destroy (&deadline.fin);
    return ZX_OK;
}

static void
s_io_quit (zx_loop_t *loop, void *arg)
{
    (void) loop;
    ((zx_executor_t *) arg)->io_quit = true;
}

void
zx_executor_destroy (zx_executor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_executor_t *self = *self_p;
    //  Those who watch its workers (actor refs) let go of it first
    while (self->watches) {
        s_watch_t *watch = self->watches;
        self->watches = watch->next;
        watch->fn (watch->arg, NULL, "the executor was destroyed");
        free (watch);
    }
    if (s_own_loop (self) && zx__hub_on_loop (self->hub)) {
        //  From a done callback on its I/O thread, which cannot wait for
        //  itself nor join itself: it is shut down without waiting, and
        //  the I/O thread finishes the destroy as it leaves its loop
        zx_executor_shutdown (self, false, false);
        self->io_quit = true;
        self->io_frees = true;
        pthread_detach (self->io_thread);
        *self_p = NULL;
        return;
    }
    if (s_own_loop (self)) {
        zx_executor_shutdown (self, true, false);
        if (zx__hub_post (self->hub, false, s_io_quit, self) == ZX_OK)
            pthread_join (self->io_thread, NULL);
        s_free (self);
        *self_p = NULL;
        return;
    }
    if (self->backend && !self->stopped
    &&  zx_executor_shutdown (self, true, false) != ZX_OK)
        zx_log_warning (self->log, "executor destroyed while it could not wait: "
                                   "work in flight fails with 'executor shut down'");
    if (self->backend)
        s_stop (self);
    if (self->room) {
        zx_future_set_error (self->room, ZX_ESHUTDOWN, "executor destroyed");
        zx_future_destroy (&self->room);
    }
    if (self->backend)
        self->backend->ops->destroy (&self->backend);
    if (self->loop && zx__loop_default_executor (self->loop) == self)
        zx__loop_set_default_executor (self->loop, NULL);
    zx_future_destroy (&self->idle);
    s_free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Queries

const char *
zx_executor_endpoint (const zx_executor_t *self)
{
    return self->backend->ops->endpoint (self->backend);
}

static void
s_io_worker_pids (s_io_call_t *call)
{
    call->count = zx_executor_worker_pids (call->self, call->pids, call->size);
    s_io_done (call);
}

size_t
zx_executor_worker_pids (const zx_executor_t *self, pid_t *pids, size_t size)
{
    if (s_own_loop (self) && !zx__hub_on_loop (self->hub)) {
        s_io_call_t call = { .fn = s_io_worker_pids, .pids = pids, .size = size };
        return s_on_io ((zx_executor_t *) self, &call) == ZX_OK ? call.count : 0;
    }
    if (!self->backend->ops->worker_pids)
        return 0;
    return self->backend->ops->worker_pids (self->backend, pids, size);
}

static void
s_io_backlog (s_io_call_t *call)
{
    call->count = zx_executor_backlog (call->self);
    s_io_done (call);
}

size_t
zx_executor_backlog (const zx_executor_t *self)
{
    if (s_own_loop (self) && !zx__hub_on_loop (self->hub)) {
        s_io_call_t call = { .fn = s_io_backlog };
        return s_on_io ((zx_executor_t *) self, &call) == ZX_OK ? call.count : 0;
    }
    size_t waiting = 0, held = 0;
    self->backend->ops->counts (self->backend, &waiting, &held);
    return waiting + held;
}
