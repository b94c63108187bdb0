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
    worker go through the same table with a function as completion.    */

#include "zx_executor.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_pool_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zx_executor {
    zx__backend_t *backend;     //  NULL only while a constructor runs
    uint8_t retries;
    size_t max_queue;
    int64_t task_timeout_ms;    //  0: none
    zx_loop_t *loop;            //  The one it is used with, from first use
    zx_future_t *room;          //  Completed when the queue has room again
    zx_future_t *idle;          //  Completed when shut down and idle
    bool shut_down;
    bool stopped;               //  Its workers are dismissed
    zx_logger_t *log;
};

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
    self->log = zx_log_get ("zexec.executor");
    self->retries = (uint8_t) opts->retries;
    self->max_queue = opts->max_queue ? opts->max_queue : 1000000;
    self->task_timeout_ms = opts->task_timeout_ms;
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

void
zx__executor_idle (zx_executor_t *self)
{
    if (self->idle && self->backend && zx_executor_backlog (self) == 0)
        zx_future_set_result (self->idle, NULL);
}

//  --------------------------------------------------------------------
//  Binding to a loop

static zx_err_t
s_bind (zx_executor_t *self, zx_loop_t *loop)
{
    if (self->loop == loop)
        return ZX_OK;
    if (self->loop)
        return ZX_EINVAL;
    self->loop = loop;
    return self->backend->ops->attach (self->backend, loop);
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
    return self->shut_down || broken;
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
    if (self->loop == loop && s_full (self) && zx_in_coro () && zx_loop_current () == loop)
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
        self->backend->ops->submit (self->backend, &request, &done);
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

zx_future_t *
zx_run_in_executor_opts (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                         zx_values_t *args, const zx_task_opts_t *opts)
{
    if (!loop)
        loop = executor && executor->loop ? executor->loop : zx_loop_current ();
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
    if (opts && opts->timeout_ms < 0) {
        zx_future_set_error (future, ZX_EINVAL, "timeout_ms is negative");
        zx_values_destroy (&args);
        return future;
    }
    if (opts && (opts->retries < ZX_NO_RETRIES || opts->retries > 15)) {
        zx_future_set_error (future, ZX_EINVAL, "retries is %d: ZX_NO_RETRIES (-1) to 15",
                             opts->retries);
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
    return zx_run_in_executor (self->loop, self, task, args);
}

//  --------------------------------------------------------------------
//  Relays: encoded requests from a serving worker (zx_executor.h)

bool
zx__executor_is_local (const zx_executor_t *self)
{
    return self->backend->ops->relays;
}

zx__request_t *
zx__executor_relay (zx_executor_t *self, zx_loop_t *loop, const char *task,
                    const void *args, size_t args_size,
                    zx__complete_fn *complete, void *cookie)
{
    zx__completion_t done = { .complete = complete, .cookie = cookie };
    if (!self->backend->ops->relays || s_bind (self, loop) != ZX_OK) {
        zx__executor_refuse (&done, ZX_EINVAL, "this executor cannot relay from this loop");
        return NULL;
    }
    if (s_refused (self, &done))
        return NULL;
    zx__submission_t request = { .task = task, .args = args, .args_size = args_size,
                                 .flags = self->retries };
    return self->backend->ops->submit (self->backend, &request, &done);
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

zx_err_t
zx_executor_shutdown (zx_executor_t *self, bool wait, bool cancel_futures)
{
    if (!self)
        return ZX_EINVAL;
    self->shut_down = true;
    if (self->backend && self->backend->ops->close)
        self->backend->ops->close (self->backend, cancel_futures);
    if (!wait)
        return ZX_OK;
    if (self->loop && zx_executor_backlog (self) > 0) {
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

void
zx_executor_destroy (zx_executor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_executor_t *self = *self_p;
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
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Queries

const char *
zx_executor_endpoint (const zx_executor_t *self)
{
    return self->backend->ops->endpoint (self->backend);
}

size_t
zx_executor_worker_pids (const zx_executor_t *self, pid_t *pids, size_t size)
{
    if (!self->backend->ops->worker_pids)
        return 0;
    return self->backend->ops->worker_pids (self->backend, pids, size);
}

size_t
zx_executor_backlog (const zx_executor_t *self)
{
    size_t waiting = 0, held = 0;
    self->backend->ops->counts (self->backend, &waiting, &held);
    return waiting + held;
}
