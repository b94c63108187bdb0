/*  zx_pool.c - the local pool: thread and process workers on a dispatcher.

    DESIGN: a pool is a dispatcher (broker/zx_dispatch) bound to a ROUTER
    socket plus the workers it starts and replaces. It only moves messages
    and watches lifetimes: it learns of a process worker's death from a
    pidfd in the loop's poll set (from the exit itself, not from a missed
    heartbeat), tells the dispatcher to fail what that worker held, and
    starts a replacement. Each request's cookie is its future (or a
    relay's function), referenced until the dispatcher completes it once.
    Why threads and processes are one back end: zx_pool.h.

    LENGTH: about 790 lines, over the project's 700: starting, watching
    and replacing workers sit with the shutdown that waits for them, and
    the cancel-before-start path (shutdown's cancel_futures) came with
    STARTED. Worker start-up and replacement are the next split.  */

#define _GNU_SOURCE
#include "zx_pool.h"
#include "zx_future.h"
#include "zx_log.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_bigbuf.h"
#include "zx_pool_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define ZX_SPAWN_FAILURES_MAX   3       //  Deaths before READY that break a pool
#define ZX_STOP_GRACE_MS        2000    //  Then SIGKILL
#define ZX_EXIT_DRAIN_MS        50      //  For a dead worker's last replies
#define ZX_CANCEL_GRACE_MS      1000    //  Default time to stop at the token

//  A thread worker's own copies of what it reads: a thread abandoned at a
//  shutdown's deadline outlives the pool
typedef struct {
    zx__worker_opts_t opts;
    char identity [48];
    char name [64];
    char *endpoint;
    char *initializer;
    void *initargs;
} s_thread_args_t;

static atomic_int s_pool_counter;
static atomic_int s_endpoint_counter;

static const zx__executor_ops_t s_ops;
static void s_complete (void *owner, void *cookie, zx_err_t code,
                        const void *payload, size_t size);
static void s_dispatched (void *owner, void *cookie);
static void s_started (void *owner, void *cookie, zx__complete_fn *complete);
static void s_idle (void *owner);
static void s_worker_event (void *owner, const char *identity, int reason,
                            const char *text);
static void s_start_worker (zx__pool_t *self, zx__slot_t *slot);
static void s_destroy (zx__backend_t **base_p);

//  --------------------------------------------------------------------
//  Construction

static int
s_cpu_count (void)
{
    long count = sysconf (_SC_NPROCESSORS_ONLN);
    return count > 0 ? (int) count : 1;
}

//  True when nobody listens on the unix socket at path any more (a
//  connect is refused); a pool in another PID namespace sharing the
//  directory still listens, whatever kill () says of its PID.
static bool
s_nobody_listens (const char *path)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen (path) >= sizeof address.sun_path)
        return false;
    strcpy (address.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    bool refused = connect (fd, (struct sockaddr *) &address, sizeof address) != 0
                && errno == ECONNREFUSED;
    close (fd);
    return refused;
}

//  Removes the ipc files that process pools of dead processes left in dir
//  (zexec-PID-N.ipc: a pool's parent killed with SIGKILL cannot unlink
//  its own). Only sockets this user owns, of a PID that no longer exists,
//  on which nobody listens; anything else is left alone. Once per
//  process, before its first process pool binds: the files of pools that
//  died meanwhile wait for the next program that makes one.
static void
s_sweep_stale_ipc (const char *dir)
{
    static atomic_bool swept;
    if (atomic_exchange (&swept, true))
        return;
    DIR *listing = opendir (dir);
    if (!listing)
        return;
    struct dirent *entry;
    while ((entry = readdir (listing)) != NULL) {
        int pid = 0, serial = 0, used = 0;
        if (sscanf (entry->d_name, "zexec-%d-%d.ipc%n", &pid, &serial, &used) != 2
        ||  entry->d_name [used] != 0 || pid <= 0 || pid == (int) getpid ())
            continue;
        if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
            continue;                   //  Alive, or not ours to ask about
        char path [4096];
        struct stat info;
        if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) < (int) sizeof path
        &&  lstat (path, &info) == 0 && S_ISSOCK (info.st_mode) && info.st_uid == getuid ()
        &&  s_nobody_listens (path))
            unlink (path);
    }
    closedir (listing);
}

//  Binds the ROUTER to the endpoint asked for, or a fresh one. Returns
//  false (logged) when it cannot.
static bool
s_bind_router (zx__pool_t *self, const char *endpoint)
{
    int serial = atomic_fetch_add (&s_endpoint_counter, 1);
    if (endpoint)
        self->endpoint = strdup (endpoint);
    else
    if (self->processes) {
        const char *dir = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
        s_sweep_stale_ipc (dir);
        self->ipc_path = zx__strdupf ("%s/zexec-%d-%d.ipc", dir, (int) getpid (), serial);
        self->endpoint = self->ipc_path ? zx__strdupf ("ipc://%s", self->ipc_path) : NULL;
    }
    else
        self->endpoint = zx__strdupf ("inproc://zexec-pool-%d-%d", (int) getpid (), serial);
    if (!self->endpoint || !(self->router = zsock_new (ZMQ_ROUTER)))
        return false;
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_sndhwm (self->router, 0);
    //  zsock_bind returns the port for tcp, 0 otherwise, -1 on failure
    if (zsock_bind (self->router, "%s", self->endpoint) == -1) {
        zx_log_error (self->log, "cannot bind %s: %s", self->endpoint, zmq_strerror (errno));
        return false;
    }
    //  A wildcard ("tcp://127.0.0.1:*", "ipc://*") became a real address:
    //  that is where the workers connect
    const char *bound = zsock_endpoint (self->router);
    if (bound && strcmp (bound, self->endpoint) != 0) {
        char *copy = strdup (bound);
        if (!copy)
            return false;
        free (self->endpoint);
        self->endpoint = copy;
    }
    return true;
}

//  Waits (a second at most) until every thread worker has said READY,
//  so that a first submission, even from plain code outside the loop,
//  finds them ready to take it. Not with an initializer, which runs
//  before READY and may take long: the loop reads that READY as it runs.
static void
s_await_ready (zx__pool_t *self)
{
    int64_t deadline = zx__now_us () + 1000000;
    zmq_pollitem_t item = { self->memq ? NULL : zsock_resolve (self->router),
                            self->memq ? zx__memq_fd (self->memq) : 0, ZMQ_POLLIN, 0 };
    while (zx__dispatch_workers (self->dispatch) < (size_t) self->max_workers
    &&     !self->broken) {
        int64_t left = deadline - zx__now_us ();
        if (left <= 0)
            break;
        if (zmq_poll (&item, 1, (long) ((left + 999) / 1000)) > 0)
            zx__dispatch_read (self->dispatch);
    }
}

static zx__backend_t *
s_new (zx_executor_t *front, const zx_executor_opts_t *opts, bool processes)
{
    static const zx_executor_opts_t defaults;
    if (!opts)
        opts = &defaults;
    if (opts->max_workers < 0 || opts->window < 0 || opts->max_tasks_per_child < 0)
        return NULL;
    zx__pool_t *self = calloc (1, sizeof (zx__pool_t));
    if (!self)
        return NULL;
    self->base = (zx__backend_t) { &s_ops, front };
    self->processes = processes;
    self->log = zx_log_get ("zexec.executor");
    self->max_workers = opts->max_workers;
    if (self->max_workers == 0)
        self->max_workers = processes ? s_cpu_count ()
                          : (s_cpu_count () + 4 < 32 ? s_cpu_count () + 4 : 32);
    //  No window given: workers offer 256 credits and the dispatcher
    //  adapts how many each holds to how long its tasks take
    self->window = opts->window ? opts->window : 256;
    self->max_tasks = opts->max_tasks_per_child;
    self->cancel_grace_ms = opts->cancel_grace_ms ? opts->cancel_grace_ms : ZX_CANCEL_GRACE_MS;
    if (!processes) {
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
    if (!s_bind_router (self, opts->endpoint))
        goto fail;
    //  Threads skip sockets unless the caller asked for an endpoint to see
    if (!processes && !opts->endpoint && !(self->memq = zx__memq_new ()))
        goto fail;
    zx__dispatch_events_t events = { s_complete, s_dispatched, s_idle, s_worker_event,
                                     s_started };
    self->dispatch = zx__dispatch_new (zsock_resolve (self->router), &events, self,
                                       opts->max_queue ? opts->max_queue : 1000000,
                                       opts->window == 0);
    self->slots = calloc ((size_t) self->max_workers, sizeof (zx__slot_t));
    if (!self->dispatch || !self->slots)
        goto fail;
    if (self->memq)
        zx__dispatch_use_memq (self->dispatch, self->memq);
    zx__dispatch_expect (self->dispatch, (size_t) self->max_workers);
    if (opts->events_endpoint) {
        char why [300];
        self->tel = zx__tel_new ("executor", opts->events_endpoint, why, sizeof why);
        zx__tel_service_t *svc = self->tel ? zx__tel_service (self->tel, opts->service
                                                              ? opts->service : "local")
                                           : NULL;
        if (!svc) {
            zx_log_error (self->log, "%s", self->tel ? "out of memory" : why);
            goto fail;
        }
        zx__dispatch_set_tel (self->dispatch, svc);
    }
    for (int i = 0; i < self->max_workers; i++) {
        self->slots [i].owner = self;
        self->slots [i].index = i;
        self->slots [i].pidfd = -1;
        s_start_worker (self, &self->slots [i]);
        if (!self->slots [i].actor && !self->slots [i].pid)
            goto fail;
    }
    if (!processes && !self->initializer)
        s_await_ready (self);
    return &self->base;

fail:;
    zx__backend_t *base = &self->base;
    s_destroy (&base);
    return NULL;
}

zx_executor_t *
zx_thread_pool_new (const zx_executor_opts_t *opts)
{
    zx_executor_t *front = zx__executor_new (opts);
    return zx__executor_open (front, front ? s_new (front, opts, false) : NULL);
}

zx_executor_t *
zx_process_pool_new (const zx_executor_opts_t *opts)
{
    zx_executor_t *front = zx__executor_new (opts);
    return zx__executor_open (front, front ? s_new (front, opts, true) : NULL);
}

//  --------------------------------------------------------------------
//  Workers: start, watch, replace

static void
s_thread_actor (zsock_t *pipe, void *arg)
{
    s_thread_args_t *args = (s_thread_args_t *) arg;
    zx_thread_set_name (args->name);
    //  On the memq before the pool hears that the thread runs: the pool
    //  may end it at once (a shutdown just as a retired worker is
    //  replaced), and a term for an identity not attached yet is lost
    if (args->opts.memq)
        args->opts.peer = zx__memq_attach (args->opts.memq, args->opts.identity,
                                           strlen (args->opts.identity));
    zsock_signal (pipe, 0);
    zx__worker_run (&args->opts, pipe);
    zx__memq_unref (&args->opts.memq);
    free (args->endpoint);
    free (args->initializer);
    free (args->initargs);
    free (args);
}

static void
s_start_thread (zx__pool_t *self, zx__slot_t *slot)
{
    s_thread_args_t *args = calloc (1, sizeof (s_thread_args_t));
    if (!args)
        return;
    memcpy (args->identity, slot->identity, sizeof args->identity);
    snprintf (args->name, sizeof args->name, "%s_%d", self->prefix, slot->index);
    memcpy (slot->name, args->name, sizeof slot->name);
    size_t size = 0;
    const void *initargs = self->initargs ? zx__values_data (self->initargs, &size) : NULL;
    args->endpoint = strdup (self->endpoint);
    args->initializer = self->initializer ? strdup (self->initializer) : NULL;
    args->initargs = size ? malloc (size) : NULL;
    if (!args->endpoint || (self->initializer && !args->initializer) || (size && !args->initargs))
        goto fail;
    if (size)
        memcpy (args->initargs, initargs, size);
    args->opts = (zx__worker_opts_t) {
        .endpoint = args->endpoint, .identity = args->identity, .name = args->name,
        .credits = (uint32_t) self->window, .max_tasks = (uint32_t) self->max_tasks,
        .initializer = args->initializer, .initargs = args->initargs, .initargs_size = size,
        .memq = self->memq ? zx__memq_ref (self->memq) : NULL };
    slot->actor = zx__actor_new (s_thread_actor, args);
    if (slot->actor)
        return;
    zx__memq_unref (&args->opts.memq);
fail:
    free (args->endpoint);
    free (args->initializer);
    free (args->initargs);
    free (args);
}

//  Ends a thread worker: joins it, or with detach lets it go (it exits
//  when its task returns). Over a memq, the pipe's $TERM is not read:
//  the term is.
static void
s_end_thread (zx__pool_t *self, zx__slot_t *slot, bool detach)
{
    if (self->memq && slot->actor)
        zx__memq_term (self->memq, slot->identity, strlen (slot->identity));
    if (detach)
        zx__actor_detach (&slot->actor);
    else
        zx__actor_destroy (&slot->actor);
}

static void s_on_pidfd (zx_loop_t *loop, void *arg);

static void
s_watch_process (zx__pool_t *self, zx__slot_t *slot)
{
    if (self->loop && slot->pidfd >= 0)
        zx__loop_add_fd (self->loop, slot->pidfd, s_on_pidfd, slot);
}

//  Hex-encodes the initializer's arguments for the child's environment.
static char *
s_hex_initargs (const zx__pool_t *self)
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
s_start_process (zx__pool_t *self, zx__slot_t *slot)
{
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

static void
s_start_worker (zx__pool_t *self, zx__slot_t *slot)
{
    slot->generation++;
    slot->ready = false;
    slot->retiring = false;
    slot->sigkilled = false;
    snprintf (slot->identity, sizeof slot->identity, "w%d.%u", slot->index, slot->generation);
    if (self->processes)
        s_start_process (self, slot);
    else
        s_start_thread (self, slot);
}

zx__slot_t *
zx__pool_slot (zx__pool_t *self, const char *identity)
{
    for (int i = 0; i < self->max_workers; i++)
        if (streq (self->slots [i].identity, identity))
            return &self->slots [i];
    return NULL;
}

//  True while requests are queued or held: a closed pool still needs
//  workers for them.
static bool
s_work_left (const zx__pool_t *self)
{
    return zx__dispatch_queued (self->dispatch) + zx__dispatch_held (self->dispatch) > 0;
}

static void
s_break (zx__pool_t *self, const char *message)
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
s_process_exited (zx__pool_t *self, zx__slot_t *slot, int status)
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
    zx__executor_worker_lost (self->base.front, slot->identity, cause);
    //  Closed, queued work still needs hands
    if (!self->stopped && !self->broken && !self->hastened
    &&  (!self->closed || s_work_left (self)))
        s_start_worker (self, slot);
}

//  A process worker has exited, but replies it sent just before may still
//  be on their way through the socket: give them a moment to arrive, so
//  they complete their futures, before what is left is declared lost.
static void
s_exit_settled (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__slot_t *slot = (zx__slot_t *) arg;
    slot->exit_timer = 0;
    zx__dispatch_read (slot->owner->dispatch);
    s_process_exited (slot->owner, slot, slot->exit_status);
}

static void
s_exit_noticed (zx__pool_t *self, zx__slot_t *slot, int status)
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
    zx__slot_t *slot = (zx__slot_t *) arg;
    int status = 0;
    if (slot->pid > 0 && !slot->exit_timer && waitpid (slot->pid, &status, WNOHANG) == slot->pid)
        s_exit_noticed (slot->owner, slot, status);
}

//  Checks on exited workers where pidfds are not available (old kernels).
static void
s_reap (zx_loop_t *loop, void *arg)
{
    zx__pool_t *self = (zx__pool_t *) arg;
    self->reap_timer = 0;
    for (int i = 0; i < self->max_workers; i++) {
        zx__slot_t *slot = &self->slots [i];
        int status = 0;
        if (slot->pid > 0 && slot->pidfd < 0 && !slot->exit_timer
        &&  waitpid (slot->pid, &status, WNOHANG) == slot->pid)
            s_exit_noticed (self, slot, status);
    }
    if (!self->stopped)
        self->reap_timer = zx_loop_call_later (loop, 50, s_reap, self);
}

//  --------------------------------------------------------------------
//  The dispatcher's events

static void
s_worker_event (void *owner, const char *identity, int reason, const char *text)
{
    zx__pool_t *self = (zx__pool_t *) owner;
    zx__slot_t *slot = zx__pool_slot (self, identity);
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
    zx__executor_worker_lost (self->base.front, identity, text && *text ? text : "worker left");
    if (reason == ZX_BYE_INIT_FAILED) {
        s_break (self, text);
        return;
    }
    if (!self->processes && slot->actor && !self->stopped) {
        //  A retiring thread has left its loop: join it and replace it
        s_end_thread (self, slot, false);
        if (!self->broken && !self->hastened && (!self->closed || s_work_left (self)))
            s_start_worker (self, slot);
    }
}

static void
s_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__pool_t *self = (zx__pool_t *) owner;
    zx__executor_room (self->base.front);
    zx__executor_complete ((zx_future_t *) cookie, code, payload, size);
}

//  Sent to a worker is not running yet: the future stays pending until
//  the worker says STARTED
static void
s_dispatched (void *owner, void *cookie)
{
    (void) cookie;
    zx__pool_t *self = (zx__pool_t *) owner;
    zx__executor_room (self->base.front);
}

static void
s_started (void *owner, void *cookie, zx__complete_fn *complete)
{
    zx__pool_t *self = (zx__pool_t *) owner;
    if (!complete)
        zx__future_set_running ((zx_future_t *) cookie);
    else
        zx__executor_relay_started (self->base.front, cookie);
}

static void
s_idle (void *owner)
{
    zx__pool_t *self = (zx__pool_t *) owner;
    zx__executor_idle (self->base.front);
}

//  --------------------------------------------------------------------
//  Operations: submitting and stopping requests

static zx_err_t
s_attach (zx__backend_t *base, zx_loop_t *loop)
{
    zx__pool_t *self = (zx__pool_t *) base;
    self->loop = loop;
    zx_err_t rc = zx__dispatch_attach (self->dispatch, loop);
    if (rc == ZX_OK && self->tel)
        rc = zx__tel_attach (self->tel, loop);
    if (self->processes) {
        for (int i = 0; i < self->max_workers; i++)
            s_watch_process (self, &self->slots [i]);
        self->reap_timer = zx_loop_call_later (loop, 50, s_reap, self);
    }
    return rc;
}

//  The future of a request was cancelled (or passed its deadline): a
//  queued one is withdrawn; one held by a worker is stopped, and its
//  future ends when it has.
static void
s_cancel_future (zx_future_t *future, void *arg)
{
    zx__request_t *request = (zx__request_t *) arg;
    //  Held but not started: withdrawn now, as if still queued
    if (!zx__request_started (request))
        zx__request_fail (request, ZX_ECANCELLED, "cancelled before it started");
    else
    if (zx__pool_stop_request ((zx__pool_t *) zx__request_owner (request), request))
        zx__future_defer_cancel (future);
}

static zx__request_t *
s_submit (zx__backend_t *base, const zx__submission_t *sub, const zx__completion_t *done)
{
    zx__pool_t *self = (zx__pool_t *) base;
    zx_err_t code;
    //  Arguments of megabytes (in a mapping of their own, zx_bigbuf.h):
    //  their buffer becomes the request's frame, handed over rather than
    //  copied into a new one, where a fresh buffer of megabytes costs a
    //  page fault per 4 KiB written. Smaller ones are copied into a frame
    //  (s_request_new): the copy is cheap, and their buffer goes back to
    //  malloc's heap at once, for the next task's (measured: handing over
    //  1 MiB buffers too made a process pool's first 1 MiB burst 2-3x
    //  slower, every buffer a fresh one)
    if (done->future && !sub->frame && !sub->target && sub->values_p && *sub->values_p
    &&  sub->args_size >= ZX__BIGBUF_MIN) {
        const void *data;
        size_t size;
        void *buffer = zx__values_release (*sub->values_p, &data, &size);
        zmq_msg_t frame;
        if (buffer && zmq_msg_init_data (&frame, (void *) data, size,
                                         zx__values_free_released, buffer) == 0) {
            zx__submission_t framed = *sub;
            framed.frame = &frame;
            framed.values_p = NULL;
            zx__request_t *request = s_submit (base, &framed, done);
            zmq_msg_close (&frame);     //  Empty once taken; else frees the buffer
            return request;
        }
        //  No memory for the frame: copied as any, then the buffer goes
        zx__submission_t copied = *sub;
        copied.values_p = NULL;
        zx__request_t *request = s_submit (base, &copied, done);
        zx__values_free_released (NULL, buffer);
        return request;
    }
    zx__request_t *request = sub->frame && !sub->target && !done->future
        ? zx__dispatch_submit_frame (self->dispatch, sub->task, sub->frame, sub->flags,
                                     done->complete, done->cookie, &code)
        : sub->frame && !sub->target
        ? zx__dispatch_submit_frame (self->dispatch, sub->task, sub->frame, sub->flags,
                                     NULL, done->future, &code)
        : sub->target && !done->future
        ? zx__dispatch_submit_to (self->dispatch, sub->target, sub->task, sub->args,
                                  sub->args_size, sub->flags, done->complete, done->cookie,
                                  &code)
        : done->future
        ? zx__dispatch_submit (self->dispatch, sub->task, sub->args, sub->args_size,
                               sub->flags, done->future, &code)
        : zx__dispatch_submit_fn (self->dispatch, sub->task, sub->args, sub->args_size,
                                  sub->flags, done->complete, done->cookie, &code);
    if (request && done->future) {
        zx__future_ref (done->future);      //  The cookie's, until s_complete
        zx__future_set_canceller (done->future, s_cancel_future, request);
    }
    else
    if (!request && code == ZX_EQUEUE_FULL)
        zx__executor_refuse (done, code, "queue full: %zu requests are waiting for a worker",
                             zx__dispatch_queued (self->dispatch));
    else
    if (!request && code == ZX_EWORKER_LOST)
        zx__executor_refuse (done, code, "worker %s is gone", sub->target);
    else
    if (!request && code == ZX_EINVAL)
        zx__executor_refuse (done, code, "bad task name '%s': 1 to 255 bytes", sub->task);
    else
    if (!request)
        zx__executor_refuse (done, code, "cannot queue task '%s': %s", sub->task,
                             zx_strerror (code));
    return request;
}

static bool
s_cancel (zx__backend_t *base, zx__request_t *request)
{
    if (!zx__request_started (request)) {
        zx__request_fail (request, ZX_ECANCELLED, "cancelled before it started");
        return false;
    }
    return zx__pool_stop_request ((zx__pool_t *) base, request);
}

//  The front calls this after each submission from plain code, outside
//  the loop: nothing else would deal the request before the loop runs.
//  There it deals each worker only what it starts at once (as while
//  workers are on their way: zx__dispatch_expect), so that a burst from
//  plain code is not sent a request per message: the rest waits for the
//  loop, which deals it in batches. It reads the READY and replies
//  waiting in the socket (which frees workers) at most once a ms, for
//  the same reason, and does nothing while requests are left queued
//  since the last time, when no worker was free.
static void
s_flush (zx__backend_t *base)
{
    zx__pool_t *self = (zx__pool_t *) base;
    if (!self->loop || zx__loop_running (self->loop)) {
        zx__dispatch_flush (self->dispatch);
        return;
    }
    //  In a burst the queue grows: look at the clock every 64 submissions
    size_t queued = zx__dispatch_queued (self->dispatch);
    int64_t now = 0;
    bool read = false;
    if (queued <= 1 || ++self->plain_calls % 64 == 0) {
        now = zx__now_us ();
        read = now - self->plain_read_us >= 1000;
    }
    if (!read && queued > 1)
        return;
    zx__dispatch_expect (self->dispatch, SIZE_MAX);
    if (read) {
        self->plain_read_us = now;
        zx__dispatch_read (self->dispatch);
    }
    else
        zx__dispatch_flush (self->dispatch);
    zx__dispatch_expect (self->dispatch, (size_t) self->max_workers);
}

static void
s_counts (const zx__backend_t *base, size_t *waiting, size_t *held)
{
    const zx__pool_t *self = (const zx__pool_t *) base;
    *waiting = zx__dispatch_queued (self->dispatch);
    *held = zx__dispatch_held (self->dispatch);
}

static const char *
s_broken (const zx__backend_t *base)
{
    const zx__pool_t *self = (const zx__pool_t *) base;
    if (!self->broken)
        return NULL;
    return self->broken_message ? self->broken_message : "pool broken";
}

//  --------------------------------------------------------------------
//  Operations: closing, stopping, destroying

static void
s_close (zx__backend_t *base, bool cancel_queued)
{
    zx__pool_t *self = (zx__pool_t *) base;
    self->closed = true;
    //  Also what workers hold but have not started, as concurrent.futures
    if (cancel_queued)
        zx__dispatch_cancel_unstarted (self->dispatch, "cancelled by executor shutdown");
}

//  Sends signal to a process worker for a shutdown with a deadline, and
//  says so in its report.
static void
s_hasten_kill (zx__pool_t *self, zx__slot_t *slot, int signal)
{
    zx_log_warning (self->log, "shutdown deadline: worker process %d %s", (int) slot->pid,
                    signal == SIGTERM ? "still runs a task: SIGTERM" : "killed (SIGKILL)");
    kill (slot->pid, signal);
    if (signal == SIGKILL)
        slot->sigkilled = true;
    zx_shutdown_report_t *report = self->report;
    if (!report)
        return;
    if (report->kill_count < ZX_SHUTDOWN_KILLS_MAX) {
        report->kills [report->kill_count].pid = slot->pid;
        report->kills [report->kill_count].signal = signal;
    }
    report->kill_count++;
}

//  The stages of a shutdown with a deadline (zx__executor_ops_t.hasten)
static void
s_hasten (zx__backend_t *base, int stage, const char *text, zx_shutdown_report_t *report)
{
    zx__pool_t *self = (zx__pool_t *) base;
    self->report = report;
    self->hastened = true;
    if (stage == ZX__HASTEN_CANCEL) {
        size_t count = zx__dispatch_cancel_unstarted (self->dispatch, "cancelled by executor "
                                                      "shutdown: its deadline is near");
        if (report)
            report->cancelled += count;
        zx__dispatch_stop_started (self->dispatch);
        return;
    }
    for (int i = 0; i < self->max_workers; i++) {
        zx__slot_t *slot = &self->slots [i];
        if (!zx__dispatch_worker_holds (self->dispatch, slot->identity))
            continue;
        if (self->processes && slot->pid > 0 && !slot->exit_timer)
            s_hasten_kill (self, slot, stage == ZX__HASTEN_TERM ? SIGTERM : SIGKILL);
        else
        if (!self->processes && slot->actor && stage == ZX__HASTEN_END)
            slot->abandon = true;
    }
    if (stage == ZX__HASTEN_END) {
        size_t count = zx__dispatch_abandon_all (self->dispatch, ZX_ECANCELLED, text);
        if (report)
            report->cancelled += count;
    }
}

//  Dismisses the process workers and reaps them, killing those that
//  outstay ZX_STOP_GRACE_MS (200 ms after a shutdown's deadline).
static void
s_stop_processes (zx__pool_t *self)
{
    zx__dispatch_disconnect_all (self->dispatch);
    for (int i = 0; i < self->max_workers; i++)
        if (self->slots [i].pid > 0 && !self->slots [i].ready)
            kill (self->slots [i].pid, SIGKILL);    //  No work, maybe no socket yet
    int64_t deadline = zx__now_us () + (self->hastened ? 200 : ZX_STOP_GRACE_MS) * 1000;
    while (true) {
        bool alive = false;
        for (int i = 0; i < self->max_workers; i++) {
            zx__slot_t *slot = &self->slots [i];
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
            //  One SIGKILLed at the deadline is on its way out (a loaded
            //  machine may take longer than this to let it exit): it is
            //  neither killed nor listed in the report twice
            for (int i = 0; i < self->max_workers; i++)
                if (self->slots [i].pid > 0 && self->slots [i].sigkilled)
                    ;
                else
                if (self->slots [i].pid > 0 && self->hastened)
                    s_hasten_kill (self, &self->slots [i], SIGKILL);
                else
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

static void
s_stop (zx__backend_t *base)
{
    zx__pool_t *self = (zx__pool_t *) base;
    if (self->stopped)
        return;
    self->closed = true;
    self->stopped = true;
    if (!self->dispatch || !self->slots)
        return;                             //  Its constructor failed early
    if (self->loop && self->reap_timer)
        zx_loop_cancel_timer (self->loop, self->reap_timer);
    if (self->processes)
        s_stop_processes (self);
    else
        for (int i = 0; i < self->max_workers; i++) {
            zx__slot_t *slot = &self->slots [i];
            if (slot->abandon && slot->actor) {
                //  It runs a task past the deadline: joining it could wait
                //  forever, so it goes on alone with copies of all it reads
                zx_log_warning (self->log, "shutdown deadline: thread %s still runs a task: "
                                "abandoned (it exits when the task returns)", slot->name);
                s_end_thread (self, slot, true);
                if (self->report)
                    self->report->abandoned_threads++;
            }
            else
                s_end_thread (self, slot, false);
        }
    self->report = NULL;
}

static void
s_destroy (zx__backend_t **base_p)
{
    if (!base_p || !*base_p)
        return;
    zx__pool_t *self = (zx__pool_t *) *base_p;
    s_stop (&self->base);
    zx__pool_forget_escalations (self);
    zx__dispatch_destroy (&self->dispatch);
    zx__tel_destroy (&self->tel);
    if (self->memq)
        zx__memq_close (self->memq);
    zx__memq_unref (&self->memq);
    zsock_destroy (&self->router);
    if (self->ipc_path)
        unlink (self->ipc_path);
    free (self->slots);
    free (self->prefix);
    free (self->initializer);
    zx_values_destroy (&self->initargs);
    free (self->endpoint);
    free (self->ipc_path);
    free (self->broken_message);
    free (self);
    *base_p = NULL;
}

//  --------------------------------------------------------------------
//  Operations: queries

static const char *
s_endpoint (const zx__backend_t *base)
{
    return ((const zx__pool_t *) base)->endpoint;
}

static size_t
s_worker_pids (const zx__backend_t *base, pid_t *pids, size_t size)
{
    const zx__pool_t *self = (const zx__pool_t *) base;
    size_t count = 0;
    for (int i = 0; i < self->max_workers; i++) {
        const zx__slot_t *slot = &self->slots [i];
        pid_t pid = self->processes ? slot->pid : slot->actor ? getpid () : 0;
        if (pid > 0) {
            if (pids && count < size)
                pids [count] = pid;
            count++;
        }
    }
    return count;
}

static size_t
s_ready_workers (const zx__backend_t *base, char (*ids) [64], size_t count)
{
    return zx__dispatch_worker_ids (((const zx__pool_t *) base)->dispatch, ids, count);
}

static const zx__executor_ops_t s_ops = {
    .relays = true,
    .signals_room = true,
    .attach = s_attach,
    .submit = s_submit,
    .cancel = s_cancel,
    .flush = s_flush,
    .counts = s_counts,
    .broken = s_broken,
    .close = s_close,
    .hasten = s_hasten,
    .stop = s_stop,
    .destroy = s_destroy,
    .endpoint = s_endpoint,
    .worker_pids = s_worker_pids,
    .ready_workers = s_ready_workers,
};
