/*  zx_executor.c - thread and process pools, as the user sees them.

    DESIGN: an executor is a dispatcher (broker/zx_dispatch) bound to a
    ROUTER socket plus the worker actors it starts and replaces. Thread
    workers are czmq actors connected over inproc; process workers are
    this program started again by exec, connected over ipc. Either way the
    executor only moves messages and watches lifetimes: it learns of a
    process worker's death from a pidfd in the loop's poll set (from the
    exit itself, not from a missed heartbeat), tells the dispatcher to fail
    what that worker held, and starts a replacement. Each request's cookie
    is its future, referenced until the dispatcher completes it once.    */

#define _GNU_SOURCE
#include "zx_actor.h"
#include "zx_client.h"
#include "zx_dispatch.h"
#include "zx_executor.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_pool_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define ZX_SPAWN_FAILURES_MAX   3       //  Deaths before READY that break a pool
#define ZX_STOP_GRACE_MS        2000    //  Then SIGKILL
#define ZX_EXIT_DRAIN_MS        50      //  For a dead worker's last replies
#define ZX_CANCEL_GRACE_MS      1000    //  Default time to stop at the token

typedef struct {
    zx_executor_t *owner;
    int index;
    unsigned generation;
    char identity [48];
    char name [64];
    zx__actor_t *actor;         //  Thread workers
    pid_t pid;                  //  Process workers, 0 when none
    int pidfd;
    bool ready;
    bool retiring;              //  Said DISCONNECT: its exit is expected
    uint64_t exit_timer;        //  Set while its last messages drain
    int exit_status;            //  As waitpid gave it
    uint64_t stop_corr;         //  The request it was signalled to stop, or 0
    int stop_signal;            //  SIGTERM, then SIGKILL
} s_slot_t;

//  A running task asked to stop: after the grace it is ended harder
typedef struct s_stop {
    struct s_stop *next;
    zx_executor_t *owner;
    uint64_t corr;
    char identity [48];
    int stage;                  //  0: asked; 1: SIGTERM sent
    uint64_t timer;
} s_stop_t;

typedef struct {
    zx__worker_opts_t opts;
    char identity [48];
    char name [64];
} s_thread_args_t;

struct zx_executor {
    bool is_process;
    int max_workers;
    int window;
    int max_tasks;
    uint8_t retries;
    size_t max_queue;
    int64_t task_timeout_ms;    //  0: none
    int cancel_grace_ms;
    s_stop_t *stops;            //  Running tasks being stopped
    zx_future_t *room;          //  Completed when the queue has room again
    char *prefix;
    char *initializer;
    zx_values_t *initargs;
    char *endpoint;
    char *ipc_path;             //  File to remove for our own ipc endpoint
    zsock_t *router;
    zx__dispatch_t *dispatch;
    zx__client_t *client;       //  Remote executors: instead of dispatch
    zx_loop_t *loop;
    s_slot_t *slots;
    bool shut_down;
    bool stopped;
    bool broken;
    char *broken_message;
    int failures_before_ready;
    zx_future_t *idle;          //  Completed when shut down and idle
    uint64_t reap_timer;        //  Used when pidfds are not available
    zx_logger_t *log;
};

static atomic_int s_pool_counter;
static atomic_int s_endpoint_counter;

static void s_complete (void *owner, void *cookie, zx_err_t code,
                        const void *payload, size_t size);
static void s_dispatched (void *owner, void *cookie);
static void s_idle (void *owner);
static void s_worker_event (void *owner, const char *identity, int reason,
                            const char *text);
static void s_start_worker (zx_executor_t *self, s_slot_t *slot);
static void s_room (zx_executor_t *self);

//  --------------------------------------------------------------------
//  Construction

static int
s_cpu_count (void)
{
    long count = sysconf (_SC_NPROCESSORS_ONLN);
    return count > 0 ? (int) count : 1;
}

static zx_executor_t *
s_new (const zx_executor_opts_t *opts, bool is_process)
{
    zx_init (0, NULL);
    zx__czmq_quiet ();
    zx_executor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    if (opts->max_workers < 0 || opts->window < 0 || opts->max_tasks_per_child < 0
    ||  opts->retries < 0 || opts->retries > 15 || opts->task_timeout_ms < 0
    ||  opts->cancel_grace_ms < 0)
        return NULL;
    zx_executor_t *self = calloc (1, sizeof (zx_executor_t));
    if (!self)
        return NULL;
    self->is_process = is_process;
    self->log = zx_log_get ("zexec.executor");
    self->max_workers = opts->max_workers;
    if (self->max_workers == 0)
        self->max_workers = is_process ? s_cpu_count ()
                          : (s_cpu_count () + 4 < 32 ? s_cpu_count () + 4 : 32);
    //  No window given: workers offer 256 credits and the dispatcher
    //  adapts how many each holds to how long its tasks take
    self->window = opts->window ? opts->window : 256;
    self->max_tasks = opts->max_tasks_per_child;
    self->retries = (uint8_t) opts->retries;
    self->max_queue = opts->max_queue ? opts->max_queue : 1000000;
    self->task_timeout_ms = opts->task_timeout_ms;
    self->cancel_grace_ms = opts->cancel_grace_ms ? opts->cancel_grace_ms : ZX_CANCEL_GRACE_MS;
    if (!is_process) {
        if (opts->thread_name_prefix)
            self->prefix = strdup (opts->thread_name_prefix);
        else
            self->prefix = zx__strdupf ("ThreadPoolExecutor-%d", atomic_fetch_add (&s_pool_counter, 1));
        if (!self->prefix)
            goto fail;
    }
    if (opts->initializer && !(self->initializer = strdup (opts->initializer)))
        goto fail;
    if (opts->initargs && !(self->initargs = zx_values_dup (opts->initargs)))
        goto fail;
    int serial = atomic_fetch_add (&s_endpoint_counter, 1);
    if (opts->endpoint)
        self->endpoint = strdup (opts->endpoint);
    else
    if (is_process) {
        const char *dir = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
        self->ipc_path = zx__strdupf ("%s/zexec-%d-%d.ipc", dir, (int) getpid (), serial);
        self->endpoint = self->ipc_path ? zx__strdupf ("ipc://%s", self->ipc_path) : NULL;
    }
    else
        self->endpoint = zx__strdupf ("inproc://zexec-pool-%d-%d", (int) getpid (), serial);
    if (!self->endpoint)
        goto fail;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        goto fail;
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_sndhwm (self->router, 0);
    //  zsock_bind returns the port for tcp, 0 otherwise, -1 on failure
    if (zsock_bind (self->router, "%s", self->endpoint) == -1) {
        zx_log_error (self->log, "cannot bind %s: %s", self->endpoint, zmq_strerror (errno));
        goto fail;
    }
    //  A wildcard ("tcp://127.0.0.1:*", "ipc://*") became a real address:
    //  that is where the workers connect
    const char *bound = zsock_endpoint (self->router);
    if (bound && strcmp (bound, self->endpoint) != 0) {
        char *copy = strdup (bound);
        if (!copy)
            goto fail;
        free (self->endpoint);
        self->endpoint = copy;
    }
    zx__dispatch_events_t events = { s_complete, s_dispatched, s_idle, s_worker_event };
    self->dispatch = zx__dispatch_new (zsock_resolve (self->router), &events, self,
                                       self->max_queue, opts->window == 0);
    self->slots = calloc ((size_t) self->max_workers, sizeof (s_slot_t));
    if (!self->dispatch || !self->slots)
        goto fail;
    zx__dispatch_expect (self->dispatch, (size_t) self->max_workers);
    for (int i = 0; i < self->max_workers; i++) {
        self->slots [i].owner = self;
        self->slots [i].index = i;
        self->slots [i].pidfd = -1;
        s_start_worker (self, &self->slots [i]);
        if (!self->slots [i].actor && !self->slots [i].pid)
            goto fail;
    }
    return self;

fail:
    zx_executor_destroy (&self);
    return NULL;
}

zx_executor_t *
zx_thread_pool_new (const zx_executor_opts_t *opts)
{
    return s_new (opts, false);
}

zx_executor_t *
zx_process_pool_new (const zx_executor_opts_t *opts)
{
    return s_new (opts, true);
}

//  --------------------------------------------------------------------
//  Workers: start, watch, replace, stop

static void
s_thread_actor (zsock_t *pipe, void *arg)
{
    s_thread_args_t *args = (s_thread_args_t *) arg;
    zx_thread_set_name (args->name);
    zsock_signal (pipe, 0);
    zx__worker_run (&args->opts, pipe);
    free (args);
}

static void s_on_pidfd (zx_loop_t *loop, void *arg);

static void
s_watch_process (zx_executor_t *self, s_slot_t *slot)
{
    if (self->loop && slot->pidfd >= 0)
        zx__loop_add_fd (self->loop, slot->pidfd, s_on_pidfd, slot);
}

//  Hex-encodes the initializer's arguments for the child's environment.
static char *
s_hex_initargs (const zx_executor_t *self)
{
    size_t size = 0;
    const uint8_t *data = self->initargs ? zx__values_data (self->initargs, &size) : NULL;
    char *text = malloc (size * 2 + 32);
    if (!text)
        return NULL;
    strcpy (text, "ZEXEC_WORKER_INITARGS=");
    char *at = text + strlen (text);
    for (size_t i = 0; i < size; i++)
        at += sprintf (at, "%02x", data [i]);
    return text;
}

static void
s_start_worker (zx_executor_t *self, s_slot_t *slot)
{
    slot->generation++;
    slot->ready = false;
    slot->retiring = false;
    snprintf (slot->identity, sizeof slot->identity, "w%d.%u", slot->index, slot->generation);
    if (!self->is_process) {
        s_thread_args_t *args = calloc (1, sizeof (s_thread_args_t));
        if (!args)
            return;
        memcpy (args->identity, slot->identity, sizeof args->identity);
        snprintf (args->name, sizeof args->name, "%s_%d", self->prefix, slot->index);
        memcpy (slot->name, args->name, sizeof slot->name);
        size_t size = 0;
        const void *initargs = self->initargs ? zx__values_data (self->initargs, &size) : NULL;
        args->opts = (zx__worker_opts_t) {
            .endpoint = self->endpoint, .identity = args->identity, .name = args->name,
            .credits = (uint32_t) self->window, .max_tasks = (uint32_t) self->max_tasks,
            .initializer = self->initializer, .initargs = initargs, .initargs_size = size };
        //  The strings the worker borrows live as long as the executor,
        //  which stops its actors before it frees them
        slot->actor = zx__actor_new (s_thread_actor, args);
        if (!slot->actor)
            free (args);
        return;
    }
    char endpoint [512], identity [96], credits [48], max_tasks [48], parent [48];
    char init [300], log_level [48];
    snprintf (endpoint, sizeof endpoint, "ZEXEC_WORKER_ENDPOINT=%s", self->endpoint);
    snprintf (identity, sizeof identity, "ZEXEC_WORKER_ID=%s", slot->identity);
    snprintf (credits, sizeof credits, "ZEXEC_WORKER_CREDITS=%d", self->window);
    snprintf (max_tasks, sizeof max_tasks, "ZEXEC_WORKER_MAX_TASKS=%d", self->max_tasks);
    snprintf (parent, sizeof parent, "ZEXEC_WORKER_PARENT=%d", (int) getpid ());
    snprintf (init, sizeof init, "ZEXEC_WORKER_INIT=%s", self->initializer ? self->initializer : "");
    snprintf (log_level, sizeof log_level, "ZEXEC_LOG_LEVEL=%d", (int) zx__log_level ());
    char *log_format = zx__strdupf ("ZEXEC_LOG_FORMAT=%s", zx__log_format ());
    char *initargs = s_hex_initargs (self);
    if (!log_format || !initargs) {
        free (log_format);
        free (initargs);
        return;
    }
    char *env [] = { endpoint, identity, credits, max_tasks, parent, init, initargs,
                     log_level, log_format, NULL };
    slot->pid = zx__spawn_self (env);
    free (log_format);
    free (initargs);
    if (slot->pid < 0) {
        zx_log_error (self->log, "cannot start a worker process: %s", strerror (errno));
        slot->pid = 0;
        return;
    }
    snprintf (slot->name, sizeof slot->name, "pid %d", (int) slot->pid);
    slot->pidfd = zx__pidfd_open (slot->pid);
    s_watch_process (self, slot);
}

static s_slot_t *
s_slot_by_identity (zx_executor_t *self, const char *identity)
{
    for (int i = 0; i < self->max_workers; i++)
        if (streq (self->slots [i].identity, identity))
            return &self->slots [i];
    return NULL;
}

static void
s_break (zx_executor_t *self, const char *message)
{
    if (self->broken)
        return;
    self->broken = true;
    self->broken_message = strdup (message);
    zx_log_error (self->log, "pool broken: %s", message);
    zx__dispatch_fail_queued (self->dispatch, ZX_EWORKER_INIT, message);
}

//  Describes how a process ended, for worker-lost messages.
static void
s_describe_exit (char *text, size_t size, pid_t pid, int status)
{
    if (WIFSIGNALED (status))
        snprintf (text, size, "worker process %d was killed by signal %d (SIG%s)",
                  (int) pid, WTERMSIG (status), sigabbrev_np (WTERMSIG (status))
                  ? sigabbrev_np (WTERMSIG (status)) : "?");
    else
        snprintf (text, size, "worker process %d exited with code %d",
                  (int) pid, WIFEXITED (status) ? WEXITSTATUS (status) : -1);
}

//  A process worker has exited (status as from waitpid).
static void
s_process_exited (zx_executor_t *self, s_slot_t *slot, int status)
{
    if (slot->pidfd >= 0) {
        if (self->loop)
            zx__loop_remove (self->loop, NULL, slot->pidfd);
        close (slot->pidfd);
        slot->pidfd = -1;
    }
    char cause [256];
    s_describe_exit (cause, sizeof cause, slot->pid, status);
    bool expected = slot->retiring || self->stopped;
    if (slot->stop_corr) {
        //  We ended it, to stop a task that did not stop at its token
        if (WIFSIGNALED (status) && WTERMSIG (status) == slot->stop_signal)
            snprintf (cause, sizeof cause, slot->stop_signal == SIGTERM
                      ? "worker process %d did not stop within %d ms and was ended by SIGTERM"
                      : "worker process %d did not stop within %d ms, nor within as long "
                        "after SIGTERM, and was killed by SIGKILL",
                      (int) slot->pid, self->cancel_grace_ms);
        zx_log_info (self->log, "%s", cause);
        zx__dispatch_worker_stopped (self->dispatch, slot->identity, slot->stop_corr, cause);
        slot->stop_corr = 0;
        slot->stop_signal = 0;
    }
    else {
        if (!expected)
            zx_log_warning (self->log, "%s", cause);
        //  A worker that cannot start exits or crashes on its own; SIGKILL
        //  and SIGTERM come from outside, and must not break the pool
        bool killed = WIFSIGNALED (status)
                      && (WTERMSIG (status) == SIGKILL || WTERMSIG (status) == SIGTERM);
        if (!slot->ready && !expected && !killed
        &&  ++self->failures_before_ready >= ZX_SPAWN_FAILURES_MAX)
            s_break (self, "worker processes exit before they are ready: "
                           "does main call zx_init (argc, argv) first?");
        zx__dispatch_worker_gone (self->dispatch, slot->identity, cause);
    }
    slot->pid = 0;
    if (!self->stopped && !self->broken && !self->shut_down)
        s_start_worker (self, slot);
    else
    if (!self->stopped && !self->broken && self->shut_down
    &&  zx__dispatch_queued (self->dispatch) + zx__dispatch_held (self->dispatch) > 0)
        s_start_worker (self, slot);       //  Queued work still needs hands
}

//  A process worker has exited, but replies it sent just before may still
//  be on their way through the socket: give them a moment to arrive, so
//  they complete their futures, before what is left is declared lost.
static void
s_exit_settled (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_slot_t *slot = (s_slot_t *) arg;
    slot->exit_timer = 0;
    zx__dispatch_read (slot->owner->dispatch);
    s_process_exited (slot->owner, slot, slot->exit_status);
}

static void
s_exit_noticed (zx_executor_t *self, s_slot_t *slot, int status)
{
    if (slot->pidfd >= 0) {
        zx__loop_remove (self->loop, NULL, slot->pidfd);
        close (slot->pidfd);
        slot->pidfd = -1;
    }
    slot->exit_status = status;
    slot->exit_timer = zx_loop_call_later (self->loop, ZX_EXIT_DRAIN_MS, s_exit_settled, slot);
    if (!slot->exit_timer)
        s_process_exited (self, slot, status);
}

static void
s_on_pidfd (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_slot_t *slot = (s_slot_t *) arg;
    int status = 0;
    if (slot->pid > 0 && !slot->exit_timer && waitpid (slot->pid, &status, WNOHANG) == slot->pid)
        s_exit_noticed (slot->owner, slot, status);
}

static void
s_worker_event (void *owner, const char *identity, int reason, const char *text)
{
    zx_executor_t *self = (zx_executor_t *) owner;
    s_slot_t *slot = s_slot_by_identity (self, identity);
    if (!slot)
        return;
    if (reason < 0) {
        slot->ready = true;
        self->failures_before_ready = 0;
        return;
    }
    //  A worker that vanished: its end comes from the system (pidfd, the
    //  thread's exit), which says whether it was expected
    if (reason == ZX_BYE_LOST)
        return;
    slot->retiring = true;
    if (reason == ZX_BYE_INIT_FAILED) {
        s_break (self, text);
        return;
    }
    if (!self->is_process && slot->actor && !self->stopped) {
        //  A retiring thread has left its loop: join it and replace it
        zx__actor_destroy (&slot->actor);
        if (!self->broken && (!self->shut_down
            || zx__dispatch_queued (self->dispatch) + zx__dispatch_held (self->dispatch) > 0))
            s_start_worker (self, slot);
    }
}


//  --------------------------------------------------------------------
//  Binding to a loop

//  Checks on exited workers where pidfds are not available (old kernels).
static void
s_reap (zx_loop_t *loop, void *arg)
{
    zx_executor_t *self = (zx_executor_t *) arg;
    self->reap_timer = 0;
    for (int i = 0; i < self->max_workers; i++) {
        s_slot_t *slot = &self->slots [i];
        int status = 0;
        if (slot->pid > 0 && slot->pidfd < 0 && !slot->exit_timer
        &&  waitpid (slot->pid, &status, WNOHANG) == slot->pid)
            s_exit_noticed (self, slot, status);
    }
    if (!self->stopped)
        self->reap_timer = zx_loop_call_later (loop, 50, s_reap, self);
}

static zx_err_t
s_bind (zx_executor_t *self, zx_loop_t *loop)
{
    if (self->loop == loop)
        return ZX_OK;
    if (self->loop)
        return ZX_EINVAL;
    self->loop = loop;
    if (self->client)
        return zx__client_attach (self->client, loop);
    zx_err_t rc = zx__dispatch_attach (self->dispatch, loop);
    if (self->is_process) {
        for (int i = 0; i < self->max_workers; i++)
            s_watch_process (self, &self->slots [i]);
        self->reap_timer = zx_loop_call_later (loop, 50, s_reap, self);
    }
    return rc;
}

//  --------------------------------------------------------------------
//  Submitting and completing

static void
s_check_idle (zx_executor_t *self)
{
    if (self->idle && zx_executor_backlog (self) == 0)
        zx_future_set_result (self->idle, NULL);
}

static void
s_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    s_room ((zx_executor_t *) owner);
    zx_future_t *future = (zx_future_t *) cookie;
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

static void
s_idle (void *owner)
{
    s_check_idle ((zx_executor_t *) owner);
}

static void
s_dispatched (void *owner, void *cookie)
{
    if (cookie)
        zx__future_set_running ((zx_future_t *) cookie);
    s_room ((zx_executor_t *) owner);
}

//  --------------------------------------------------------------------
//  Stopping running tasks: the cancel token, then (process workers)
//  SIGTERM, then SIGKILL, a grace period apart

static void
s_stop_free (zx_executor_t *self, s_stop_t *stop)
{
    for (s_stop_t **link = &self->stops; *link; link = &(*link)->next)
        if (*link == stop) {
            *link = stop->next;
            break;
        }
    if (stop->timer && self->loop)
        zx_loop_cancel_timer (self->loop, stop->timer);
    free (stop);
}

static void
s_stop_escalate (zx_loop_t *loop, void *arg)
{
    s_stop_t *stop = (s_stop_t *) arg;
    zx_executor_t *self = stop->owner;
    stop->timer = 0;
    char holder [48];
    s_slot_t *slot = s_slot_by_identity (self, stop->identity);
    if (!zx__dispatch_holder (self->dispatch, stop->corr, holder, sizeof holder)
    ||  !streq (holder, stop->identity) || !slot) {
        s_stop_free (self, stop);           //  It stopped
        return;
    }
    if (!self->is_process) {
        //  A thread cannot be stopped from outside: give up waiting
        char text [256];
        snprintf (text, sizeof text, "cancelled while running: the task did not stop within "
                  "%d ms (it does not poll zx_call_cancelled); its thread %s goes on until "
                  "it returns, and its result will be dropped", self->cancel_grace_ms, slot->name);
        zx__dispatch_abandon (self->dispatch, stop->corr, ZX_ECANCELLED, text);
        s_stop_free (self, stop);
        return;
    }
    if (slot->pid <= 0 || slot->exit_timer) {
        s_stop_free (self, stop);           //  Already gone: its exit says the rest
        return;
    }
    int signal = stop->stage == 0 ? SIGTERM : SIGKILL;
    zx_log_info (self->log, "worker process %d did not stop its cancelled task in %d ms: %s",
                 (int) slot->pid, self->cancel_grace_ms, signal == SIGTERM ? "SIGTERM" : "SIGKILL");
    slot->stop_corr = stop->corr;
    slot->stop_signal = signal;
    kill (slot->pid, signal);
    if (stop->stage++ == 0
    &&  (stop->timer = zx_loop_call_later (loop, self->cancel_grace_ms, s_stop_escalate, stop)))
        return;
    s_stop_free (self, stop);
}

//  Asks the worker holding request to stop it, and watches that it does.
//  Returns false when it was still queued: then it has been withdrawn.
static bool
s_stop_request (zx_executor_t *self, zx__request_t *request)
{
    uint64_t corr = zx__request_corr (request);
    if (!zx__request_stop (request))
        return false;
    for (s_stop_t *stop = self->stops; stop; stop = stop->next)
        if (stop->corr == corr)
            return true;                    //  Asked before: already watched
    s_stop_t *stop = calloc (1, sizeof (s_stop_t));
    if (!stop || !zx__dispatch_holder (self->dispatch, corr, stop->identity, sizeof stop->identity)) {
        free (stop);
        return true;
    }
    stop->owner = self;
    stop->corr = corr;
    stop->timer = zx_loop_call_later (self->loop, self->cancel_grace_ms, s_stop_escalate, stop);
    if (!stop->timer) {
        free (stop);
        return true;
    }
    stop->next = self->stops;
    self->stops = stop;
    return true;
}

//  The future of a request was cancelled (or passed its deadline): a
//  queued one is withdrawn; one held by a worker is stopped, and its
//  future ends when it has.
static void
s_cancel (zx_future_t *future, void *arg)
{
    zx__request_t *request = (zx__request_t *) arg;
    if (s_stop_request ((zx_executor_t *) zx__request_owner (request), request))
        zx__future_defer_cancel (future);
}

//  A task's deadline passed: its future fails now with ZX_ETIMEDOUT, and
//  the work behind it is withdrawn or stopped as for a cancel.
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

//  True when the executor's queue is full: requests waiting for a worker
//  (local pools), or all requests not yet answered (remote executors,
//  whose queue is at the broker).
static bool
s_full (const zx_executor_t *self)
{
    if (self->client)
        return zx__client_outstanding (self->client) >= self->max_queue;
    return self->dispatch && zx__dispatch_queued (self->dispatch) >= self->max_queue;
}

//  Wakes coroutines waiting for room in the queue.
static void
s_room (zx_executor_t *self)
{
    if (self->room && !s_full (self)) {
        zx_future_set_result (self->room, NULL);
        zx_future_destroy (&self->room);
    }
}

//  In a coroutine, waits while the queue is full. Returns ZX_OK, or
//  ZX_ECANCELLED when the coroutine was cancelled meanwhile.
static zx_err_t
s_wait_for_room (zx_executor_t *self, zx_loop_t *loop)
{
    while (s_full (self) && !self->shut_down) {
        zx_err_t rc;
        if (self->client)
            rc = zx_sleep (1);      //  Answers come through the client: look again
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
    if (self->shut_down)
        zx_future_set_error (future, ZX_ESHUTDOWN, "cannot schedule new futures after shutdown");
    else
    if (self->broken)
        zx_future_set_error (future, ZX_EWORKER_INIT, "%s", self->broken_message
                             ? self->broken_message : "pool broken");
    else
    if (!task)
        zx_future_set_error (future, ZX_EINVAL, "task name is NULL");
    else
    if (self->client && s_full (self))
        zx_future_set_error (future, ZX_EQUEUE_FULL, "queue full: %zu requests are waiting "
                             "for an answer from the broker", zx__client_outstanding (self->client));
    else
    if (self->client) {
        zx__client_submit (self->client, future, task, args, s_flags (self, opts));
        args = NULL;
    }
    else {
        size_t size = 0;
        const void *data = args ? zx__values_data (args, &size) : "";
        zx_err_t code;
        zx__request_t *request = zx__dispatch_submit (self->dispatch, task, data, size,
                                                      s_flags (self, opts), future, &code);
        if (request) {
            zx__future_ref (future);
            zx__future_set_canceller (future, s_cancel, request);
        }
        else
        if (code == ZX_EQUEUE_FULL)
            zx_future_set_error (future, code, "queue full: %zu requests are waiting for a worker",
                                 zx__dispatch_queued (self->dispatch));
        else
        if (code == ZX_EINVAL)
            zx_future_set_error (future, code, "bad task name '%s': 1 to 255 bytes", task);
        else
            zx_future_set_error (future, code, "cannot queue task '%s': %s", task, zx_strerror (code));
    }
    zx_values_destroy (&args);
    int64_t timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : self->task_timeout_ms;
    if (task && timeout_ms > 0)
        s_arm_deadline (loop, future, task, timeout_ms);
}

//  --------------------------------------------------------------------
//  Relays: encoded requests from a serving worker (zx_executor.h)

bool
zx__executor_is_local (const zx_executor_t *self)
{
    return self->dispatch != NULL;
}

zx__request_t *
zx__executor_relay (zx_executor_t *self, zx_loop_t *loop, const char *task,
                    const void *args, size_t args_size,
                    zx__complete_fn *complete, void *cookie)
{
    char text [320];
    zx_err_t code = ZX_OK;
    if (!self->dispatch || s_bind (self, loop) != ZX_OK) {
        code = ZX_EINVAL;
        snprintf (text, sizeof text, "this executor cannot relay from this loop");
    }
    else
    if (self->shut_down) {
        code = ZX_ESHUTDOWN;
        snprintf (text, sizeof text, "cannot schedule new futures after shutdown");
    }
    else
    if (self->broken) {
        code = ZX_EWORKER_INIT;
        snprintf (text, sizeof text, "%s", self->broken_message
                  ? self->broken_message : "pool broken");
    }
    else {
        zx__request_t *request = zx__dispatch_submit_fn (self->dispatch, task, args, args_size,
                                                         self->retries, complete, cookie, &code);
        if (request)
            return request;
        if (code == ZX_EQUEUE_FULL)
            snprintf (text, sizeof text, "queue full: %zu requests are waiting for a worker",
                      zx__dispatch_queued (self->dispatch));
        else
        if (code == ZX_EINVAL)
            snprintf (text, sizeof text, "bad task name '%.255s': 1 to 255 bytes", task);
        else
            snprintf (text, sizeof text, "cannot queue task '%.255s': %s", task, zx_strerror (code));
    }
    complete (cookie, code, text, strlen (text));
    return NULL;
}

void
zx__executor_relay_stop (zx_executor_t *self, zx__request_t *request)
{
    s_stop_request (self, request);
}

void
zx__executor_flush (zx_executor_t *self)
{
    if (self->dispatch)
        zx__dispatch_flush (self->dispatch);
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
//  Shutting down

static void
s_stop_workers (zx_executor_t *self)
{
    if (self->stopped)
        return;
    self->stopped = true;
    if (self->loop && self->reap_timer)
        zx_loop_cancel_timer (self->loop, self->reap_timer);
    if (!self->is_process) {
        for (int i = 0; i < self->max_workers; i++)
            zx__actor_destroy (&self->slots [i].actor);
        return;
    }
    zx__dispatch_disconnect_all (self->dispatch);
    for (int i = 0; i < self->max_workers; i++)
        if (self->slots [i].pid > 0 && !self->slots [i].ready)
            kill (self->slots [i].pid, SIGKILL);    //  No work, maybe no socket yet
    int64_t deadline = zx__now_us () + ZX_STOP_GRACE_MS * 1000;
    while (true) {
        bool alive = false;
        for (int i = 0; i < self->max_workers; i++) {
            s_slot_t *slot = &self->slots [i];
            int status = 0;
            if (slot->exit_timer) {
                zx_loop_cancel_timer (self->loop, slot->exit_timer);
                slot->exit_timer = 0;
                s_process_exited (self, slot, slot->exit_status);
            }
            else
            if (slot->pid > 0 && waitpid (slot->pid, &status, WNOHANG) == slot->pid)
                s_process_exited (self, slot, status);
            else
            if (slot->pid > 0)
                alive = true;
        }
        if (!alive)
            break;
        if (zx__now_us () > deadline) {
            for (int i = 0; i < self->max_workers; i++)
                if (self->slots [i].pid > 0) {
                    zx_log_warning (self->log, "worker process %d ignored its dismissal: killed",
                                    (int) self->slots [i].pid);
                    kill (self->slots [i].pid, SIGKILL);
                }
            deadline = INT64_MAX;
        }
        usleep (1000);
    }
}

zx_err_t
zx_executor_shutdown (zx_executor_t *self, bool wait, bool cancel_futures)
{
    if (!self)
        return ZX_EINVAL;
    self->shut_down = true;
    if (cancel_futures && self->dispatch)
        zx__dispatch_fail_queued (self->dispatch, ZX_ECANCELLED, "cancelled by executor shutdown");
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
    s_stop_workers (self);
    return ZX_OK;
}

void
zx_executor_destroy (zx_executor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_executor_t *self = *self_p;
    if ((self->dispatch || self->client) && !self->stopped
    &&  zx_executor_shutdown (self, true, false) != ZX_OK)
        zx_log_warning (self->log, "executor destroyed while it could not wait: "
                                   "work in flight fails with 'executor shut down'");
    if (self->slots)
        s_stop_workers (self);
    while (self->stops)
        s_stop_free (self, self->stops);
    if (self->room) {
        zx_future_set_error (self->room, ZX_ESHUTDOWN, "executor destroyed");
        zx_future_destroy (&self->room);
    }
    zx__dispatch_destroy (&self->dispatch);
    zx__client_destroy (&self->client);
    zsock_destroy (&self->router);
    if (self->ipc_path)
        unlink (self->ipc_path);
    if (self->loop && zx__loop_default_executor (self->loop) == self)
        zx__loop_set_default_executor (self->loop, NULL);
    zx_future_destroy (&self->idle);
    free (self->slots);
    free (self->prefix);
    free (self->initializer);
    zx_values_destroy (&self->initargs);
    free (self->endpoint);
    free (self->ipc_path);
    free (self->broken_message);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Queries

const char *
zx_executor_endpoint (const zx_executor_t *self)
{
    return self->endpoint;
}

size_t
zx_executor_worker_pids (const zx_executor_t *self, pid_t *pids, size_t size)
{
    size_t count = 0;
    for (int i = 0; i < self->max_workers; i++) {
        const s_slot_t *slot = &self->slots [i];
        pid_t pid = self->is_process ? slot->pid : slot->actor ? getpid () : 0;
        if (pid > 0) {
            if (pids && count < size)
                pids [count] = pid;
            count++;
        }
    }
    return count;
}

size_t
zx_executor_backlog (const zx_executor_t *self)
{
    if (self->client)
        return zx__client_outstanding (self->client);
    return zx__dispatch_queued (self->dispatch) + zx__dispatch_held (self->dispatch);
}

zx_executor_t *
zx_remote_executor_new (const char *endpoint, const zx_executor_opts_t *opts)
{
    zx_init (0, NULL);
    zx__czmq_quiet ();
    zx_executor_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    if (!endpoint || opts->retries < 0 || opts->retries > 15
    ||  opts->heartbeat_ms < 0 || opts->liveness < 0 || opts->task_timeout_ms < 0
    ||  opts->cancel_grace_ms < 0)
        return NULL;
    zx_executor_t *self = calloc (1, sizeof (zx_executor_t));
    if (!self)
        return NULL;
    self->log = zx_log_get ("zexec.executor");
    self->max_queue = opts->max_queue ? opts->max_queue : 1000000;
    self->task_timeout_ms = opts->task_timeout_ms;
    self->retries = (uint8_t) opts->retries;
    self->cancel_grace_ms = opts->cancel_grace_ms ? opts->cancel_grace_ms : ZX_CANCEL_GRACE_MS;
    self->endpoint = strdup (endpoint);
    self->client = zx__client_new_secure (endpoint, opts->service, opts->heartbeat_ms,
                                          opts->liveness, opts->curve_server_key,
                                          opts->curve_cert, s_idle, self);
    if (!self->endpoint || !self->client) {
        zx_executor_destroy (&self);
        return NULL;
    }
    return self;
}
