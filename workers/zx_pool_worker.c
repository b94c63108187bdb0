/*  zx_pool_worker.c - a pool's worker: receive requests, run tasks, reply.

    DESIGN: a worker announces READY with its credits, then loops: it reads
    every message waiting on its DEALER into a local FIFO of jobs, runs the
    jobs one at a time, and collects the replies into one batch that it
    sends when it runs out of work, when the batch is a millisecond old, or
    when it grows large. So tiny tasks travel many to a message in both
    directions. While a task runs, the process's flusher thread
    (zx_flusher) sends a batch that turns a millisecond old: a result
    leaves within about a millisecond of its task's end, whatever task
    follows. The worker holds its watch's guard except while a task runs,
    so the flusher touches the socket and the batch only then, and the
    task's thread pays one unlock, one lock and two atomics per task,
    which is why this beats guessing from a task's name whether it will
    be quick (a task that was quick last time may not be). Between jobs it peeks at the socket (cheaply,
    through ZMQ_EVENTS) so a CANCEL can withdraw a job that has not started;
    while a job runs, its task's cancel token (zx_call_cancelled) peeks too,
    so a CANCEL for the running job reaches the task.
    The same loop serves pool threads (a czmq actor pipe ends it) and
    process workers (they end when their parent does).                   */

#define _GNU_SOURCE
#include "zx_pool_worker.h"
#include "zx_actor_host.h"
#include "zx_flusher.h"
#include "zx_log.h"
#include "zx_proto.h"
#include "zx_task.h"
#include "zx_values.h"
#include "zx_loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define ZX_FLUSH_AGE_US     1000
#define ZX_PEEK_EVERY       32
#define ZX_SLOW_TASK_US     100     //  Peek for CANCELs after tasks this long
#define ZX_STARTED_AFTER_US 1000    //  Say STARTED for a task running this long

typedef struct s_job {
    struct s_job *next;
    uint64_t corr;
    uint32_t attempt;
    size_t args_size;
    uint8_t name_len;
    bool framed_reply;          //  The dispatcher takes its reply framed
    bool framed;                //  Its arguments are frame, as received
    zmq_msg_t frame;
    char data [];               //  Name, NUL, then encoded arguments (unless framed)
} s_job_t;

static const void *
s_job_args (s_job_t *job)
{
    return job->framed ? zmq_msg_data (&job->frame) : job->data + job->name_len + 1;
}

static void
s_job_free (s_job_t *job)
{
    if (job->framed)
        zmq_msg_close (&job->frame);
    free (job);
}

typedef struct {
    const zx__worker_opts_t *opts;
    void *socket;               //  libzmq handle of the DEALER, or NULL
    zx__memq_peer_t *peer;      //  Instead of it: a thread pool's memq
    zx__route_t route;          //  To the dispatcher, over it
    s_job_t *head, *tail;
    zx__batch_t replies;
    int64_t batch_started_us;
    bool dismissed;
    uint64_t withdrawn;         //  Jobs cancelled before they started
    const s_job_t *running;     //  The job whose task runs now, or NULL
    int64_t running_since_us;   //  When it started
    bool started_sent;          //  Its STARTED record is in a batch
    bool running_cancelled;     //  A CANCEL for it has arrived
    zx_logger_t *log;
    zx__flush_watch_t watch;    //  Its guard covers socket and replies
} s_worker_t;

//  --------------------------------------------------------------------
//  Fault injection for the fault tests, compiled only into the test
//  library (zexec-testing, built with ZX_FAULT_INJECTION): libzexec
//  itself never reads ZEXEC_FAULT. ZEXEC_FAULT="STAGE:ACTION:TASK" in a
//  process worker's environment makes it crash, at STAGE of running TASK,
//  by ACTION. STAGE is decode (before the arguments are decoded), encode
//  (after the task ran, before its result is encoded) or replied (right
//  after the reply has been handed to libzmq); ACTION is segv, abort or
//  exit (exit (1)). Read once, by process workers only: a thread pool
//  never crashes its own coordinator on purpose.

typedef enum { S_FAULT_NONE, S_FAULT_DECODE, S_FAULT_ENCODE, S_FAULT_REPLIED } s_fault_stage_t;

#ifdef ZX_FAULT_INJECTION
static struct {
    s_fault_stage_t stage;
    char action [8];
    char task [256];
} s_fault;

static void
s_fault_configure (void)
{
    const char *spec = getenv ("ZEXEC_FAULT");
    char stage [16];
    if (!spec || sscanf (spec, "%15[a-z]:%7[a-z]:%255s", stage, s_fault.action, s_fault.task) != 3)
        return;
    s_fault.stage = streq (stage, "decode")? S_FAULT_DECODE
                  : streq (stage, "encode")? S_FAULT_ENCODE
                  : streq (stage, "replied")? S_FAULT_REPLIED: S_FAULT_NONE;
}

//  True when the fault is set for stage of task
static bool
s_fault_due (s_fault_stage_t stage, const char *task)
{
    return s_fault.stage == stage && streq (task, s_fault.task);
}

static void
s_fault_point (s_fault_stage_t stage, const char *task)
{
    if (!s_fault_due (stage, task))
        return;
    if (streq (s_fault.action, "exit"))
        _exit (1);
    if (streq (s_fault.action, "abort"))
        abort ();
    raise (SIGSEGV);
    _exit (139);                //  SIGSEGV was blocked or handled
}
#else
//  As shipped: no hook, and nothing for the compiler to keep
static void
s_fault_configure (void)
{
}

static bool
s_fault_due (s_fault_stage_t stage, const char *task)
{
    (void) stage;
    (void) task;
    return false;
}

static void
s_fault_point (s_fault_stage_t stage, const char *task)
{
    (void) stage;
    (void) task;
}
#endif

void
zx__czmq_quiet (void)
{
    static atomic_bool done;
    if (!atomic_exchange (&done, true))
        zsys_handler_set (NULL);
}

static void
s_flush (s_worker_t *self)
{
    if (self->replies.records == 0)
        return;
    if (zx__send_reply_batch (&self->route, &self->replies))
        zx_log_error (self->log, "worker %s cannot send replies: %s",
                      self->opts->identity, zmq_strerror (errno));
    zx__batch_clear (&self->replies);
}

//  On the flusher's thread, its guard held, while a task runs: a task
//  that has run ZX_STARTED_AFTER_US says STARTED (tiny tasks never do),
//  and the batch goes with what it holds.
static void
s_on_due (void *arg)
{
    s_worker_t *self = (s_worker_t *) arg;
    const s_job_t *job = self->running;
    int64_t started_due = self->running_since_us + ZX_STARTED_AFTER_US;
    if (job && !self->started_sent && zx__now_us () >= started_due) {
        if (self->replies.records == 0)
            self->batch_started_us = zx__now_us ();
        if (zx__batch_add_reply (&self->replies, job->corr, job->attempt, ZX_STATUS_STARTED,
                                 NULL, 0) == ZX_OK)
            self->started_sent = true;
    }
    s_flush (self);
    if (job && !self->started_sent)
        atomic_store (&self->watch.due_us, started_due);
}

static void
s_reply (s_worker_t *self, uint64_t corr, uint32_t attempt, zx_err_t code,
         const void *payload, size_t size)
{
    if (self->replies.records == 0)
        self->batch_started_us = zx__now_us ();
    if (zx__batch_add_reply (&self->replies, corr, attempt,
                             (uint8_t) zx__status_from_err (code), payload, size)) {
        //  No memory for the result: say so, briefly, rather than vanish
        const char *text = "worker out of memory encoding the result";
        zx__batch_add_reply (&self->replies, corr, attempt, ZX_STATUS_TASK_ERROR,
                             text, strlen (text));
    }
}

//  A big result to a dispatcher that takes it framed: a frame of its own,
//  after what waits in the batch, so that a broker passes it on as it is.
//  The frame is the result's own buffer, handed to libzmq, when the result
//  lets it go (zx__values_release); a copy otherwise. Either way result may
//  only be destroyed afterwards.
static void
s_reply_framed (s_worker_t *self, const s_job_t *job, zx_values_t *result)
{
    zmq_msg_t frame;
    const void *data;
    size_t size;
    void *buffer = zx__values_release (result, &data, &size);
    if (buffer
    ?   zmq_msg_init_data (&frame, (void *) data, size, zx__values_free_released, buffer) != 0
    :   zmq_msg_init_size (&frame, size) != 0) {
        //  Out of memory for the frame: the result goes in the batch
        s_reply (self, job->corr, job->attempt, ZX_OK, data, size);
        zx__values_free_released (NULL, buffer);
        return;
    }
    if (!buffer)
        memcpy (zmq_msg_data (&frame), data, size);
    s_flush (self);
    if (zx__send_reply_framed (&self->route, job->corr, job->attempt, ZX_STATUS_OK, &frame))
        zx_log_error (self->log, "worker %s cannot send a reply: %s", self->opts->identity,
                      zmq_strerror (errno));
    zmq_msg_close (&frame);
}

static void
s_reply_text (s_worker_t *self, uint64_t corr, uint32_t attempt, zx_err_t code,
              const char *text)
{
    s_reply (self, corr, attempt, code, text, strlen (text));
}

//  A failed task's reply: its message, then what the caller can use to
//  find it (the codec's error details): the task, this worker, and where
//  a task that failed by its own zx_call_fail called it.
static void
s_reply_failure (s_worker_t *self, const s_job_t *job, const zx_call_t *call)
{
    const char *message = call->message ? call->message : zx_strerror (call->error);
    char host [256] = "", where [300] = "";
    gethostname (host, sizeof host - 1);
    if (call->fail_file) {
        const char *base = strrchr (call->fail_file, '/');
        snprintf (where, sizeof where, "%s:%d", base ? base + 1 : call->fail_file,
                  call->fail_line);
    }
    zx__error_detail_t detail = { job->data, host, (int64_t) getpid (), zx_thread_name (),
                                  where [0] ? where : NULL };
    size_t size;
    char *payload = zx__error_payload (message, &detail, &size);
    if (payload)
        s_reply (self, job->corr, job->attempt, call->error, payload, size);
    else
        s_reply_text (self, job->corr, job->attempt, call->error, message);
    free (payload);
}

static void
s_on_request (s_worker_t *self, const zx__msg_t *msg)
{
    const uint8_t *cursor = msg->batch, *end = msg->batch + msg->batch_size;
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        if (!zx__msg_request_args (msg, &rec)) {
            s_reply_text (self, rec.corr, rec.attempt, ZX_EPROTO,
                          "malformed framed request: no frame after the batch");
            continue;
        }
        //  Framed arguments stay in the frame they came in: no copy
        bool framed = rec.flags & ZX_FLAG_FRAMED;
        s_job_t *job = malloc (sizeof (s_job_t) + rec.name_len + 1
                               + (framed ? 0 : rec.args_size));
        if (!job) {
            s_reply_text (self, rec.corr, rec.attempt, ZX_ETASK, "worker out of memory");
            continue;
        }
        job->next = NULL;
        job->corr = rec.corr;
        job->attempt = rec.attempt;
        job->name_len = rec.name_len;
        job->args_size = rec.args_size;
        job->framed_reply = rec.flags & ZX_FLAG_FRAMED_REPLY;
        job->framed = framed;
        memcpy (job->data, rec.name, rec.name_len);
        job->data [rec.name_len] = 0;
        if (framed) {
            zmq_msg_init (&job->frame);
            zmq_msg_move (&job->frame, msg->frame);
        }
        else
        if (rec.args_size)
            memcpy (job->data + rec.name_len + 1, rec.args, rec.args_size);
        if (self->tail)
            self->tail->next = job;
        else
            self->head = job;
        self->tail = job;
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "worker %s got a malformed request batch: rest dropped",
                        self->opts->identity);
}

static void
s_on_cancel (s_worker_t *self, const zx__msg_t *msg)
{
    uint64_t withdrawn = self->withdrawn;
    for (size_t i = 0; i < msg->id_count; i++) {
        uint64_t corr = zx__msg_cancel_id (msg, i);
        if (self->running && self->running->corr == corr)
            self->running_cancelled = true;
        s_job_t **link = &self->head, *prev = NULL;
        while (*link) {
            s_job_t *job = *link;
            if (job->corr == corr) {
                *link = job->next;
                if (self->tail == job)
                    self->tail = prev;
                s_reply_text (self, job->corr, job->attempt, ZX_ECANCELLED,
                              "cancelled before it started");
                s_job_free (job);
                self->withdrawn++;
                break;
            }
            prev = job;
            link = &job->next;
        }
    }
    //  Whoever cancelled waits for the answer: do not hold it back
    if (self->withdrawn != withdrawn)
        s_flush (self);
}

//  Reads every message waiting on the socket without blocking.
static void
s_read_all (s_worker_t *self)
{
    zx__msg_t msg;
    zx__recv_t rc;
    while ((rc = self->peer ? zx__recv_memq (NULL, self->peer, ZX_FACE_WORKER, &msg)
                            : zx__recv_dealer_loop (self->socket, ZX_FACE_WORKER, &msg,
                                                    self->log, NULL))
           != ZX_RECV_NONE) {
        //  Frames after those a command defines are ignored here
        if (rc == ZX_RECV_TOO_MANY)
            continue;
        if (rc != ZX_RECV_OK)
            zx_log_warning (self->log, "worker %s: malformed message dropped",
                            self->opts->identity);
        else
        if (msg.command == ZX_CMD_REQUEST && msg.ok)
            s_on_request (self, &msg);
        else
        if (msg.command == ZX_CMD_CANCEL && msg.ok)
            s_on_cancel (self, &msg);
        else
        if (msg.command == ZX_CMD_DISCONNECT)
            self->dismissed = true;
        else
        if (msg.command != ZX_CMD_HEARTBEAT)
            zx_log_warning (self->log, "worker %s: unknown command %d dropped",
                            self->opts->identity, msg.command);
        zx__msg_close (&msg);
    }
}

//  True when a message may wait on the socket (or memq), cheaply
static bool
s_input_waiting (s_worker_t *self)
{
    if (self->peer)
        return zx__memq_pending (self->peer);
    int events = 0;
    size_t events_size = sizeof events;
    return zmq_getsockopt (self->socket, ZMQ_EVENTS, &events, &events_size) == 0
        && (events & ZMQ_POLLIN);
}

//  The cancel token: zx_call_cancelled asks this, from the task's thread,
//  whether a CANCEL has come for the running task.
static bool
s_poll_cancel (void *arg)
{
    s_worker_t *self = (s_worker_t *) arg;
    pthread_mutex_lock (&self->watch.guard);
    if (!self->running_cancelled && s_input_waiting (self))
        s_read_all (self);
    bool cancelled = self->running_cancelled;
    pthread_mutex_unlock (&self->watch.guard);
    return cancelled;
}

static void
s_run_job (s_worker_t *self, s_job_t *job)
{
    zx_values_t *args = NULL;
    self->running_since_us = zx__now_us ();
    s_fault_point (S_FAULT_DECODE, job->data);
    if (zx__values_decode_owned (s_job_args (job), job->args_size, NULL, NULL, &args)) {
        char text [320];
        snprintf (text, sizeof text, "malformed arguments for task '%s'", job->data);
        s_reply_text (self, job->corr, job->attempt, ZX_EPROTO, text);
        return;
    }
    zx_call_t call;
    zx__call_init (&call, job->data, args);
    call.poll = s_poll_cancel;
    call.poll_arg = self;
    call.poll_thread = pthread_self ();
    self->running = job;
    self->running_cancelled = false;
    self->started_sent = false;
    //  Replies waiting leave a millisecond after the first, task or not;
    //  the task says STARTED once it has run a millisecond
    int64_t due = self->running_since_us + ZX_STARTED_AFTER_US;
    if (self->replies.records && self->batch_started_us + ZX_FLUSH_AGE_US < due)
        due = self->batch_started_us + ZX_FLUSH_AGE_US;
    zx__flusher_due (&self->watch, due);
    pthread_mutex_unlock (&self->watch.guard);
    zx_err_t outcome = zx__task_invoke (&call);
    pthread_mutex_lock (&self->watch.guard);
    self->running = NULL;
    s_fault_point (S_FAULT_ENCODE, job->data);
    if (self->running_cancelled) {
        s_reply_text (self, job->corr, job->attempt, ZX_ECANCELLED, call.cancel_seen
                      ? "cancelled while running: the task stopped at its cancel token"
                      : "cancelled while running: the task finished before it saw the "
                        "cancel; its result was dropped");
        s_flush (self);
    }
    else
    if (outcome == ZX_OK) {
        size_t size = 0;
        const void *data = call.result ? zx__values_data (call.result, &size) : "";
        if (job->framed_reply && size >= ZX_FRAME_THRESHOLD)
            s_reply_framed (self, job, call.result);
        else
            s_reply (self, job->corr, job->attempt, ZX_OK, data, size);
    }
    else
        s_reply_failure (self, job, &call);
    zx__call_reset (&call);
    zx_values_destroy (&args);
    if (s_fault_due (S_FAULT_REPLIED, job->data)) {
        s_flush (self);
        usleep (50 * 1000);     //  Let libzmq's I/O thread put it on the wire
        s_fault_point (S_FAULT_REPLIED, job->data);
    }
}

//  Runs the initializer, if any. Returns NULL on success, or a message.
static char *
s_initialize (const zx__worker_opts_t *opts)
{
    if (!opts->initializer)
        return NULL;
    zx_values_t *args = NULL;
    if (zx__values_decode (opts->initargs, opts->initargs_size, &args) != ZX_OK)
        return zx__strdupf ("malformed initializer arguments");
    zx_call_t call;
    zx__call_init (&call, opts->initializer, args);
    char *message = NULL;
    if (zx__task_invoke (&call) != ZX_OK)
        message = zx__strdupf ("initializer '%s' failed: %s", opts->initializer,
                               call.message ? call.message : zx_strerror (call.error));
    zx__call_reset (&call);
    zx_values_destroy (&args);
    return message;
}

//  Retires the worker once it has used its max_tasks: the dispatcher
//  counts every request it sent, those cancelled here before they started
//  too. Returns true when it said DISCONNECT.
static bool
s_retire_if_due (s_worker_t *self, uint64_t tasks_done)
{
    uint32_t max_tasks = self->opts->max_tasks;
    if (!max_tasks || tasks_done + self->withdrawn < max_tasks)
        return false;
    s_flush (self);
    zx__send_disconnect (&self->route, ZX_BYE_RETIRING, "retiring");
    return true;
}

zx__worker_exit_t
zx__worker_run (const zx__worker_opts_t *opts, zsock_t *pipe)
{
    zx__czmq_quiet ();
    s_worker_t self = { .opts = opts, .log = zx_log_get ("zexec.worker") };
    zsock_t *dealer = NULL;
    if (opts->memq) {
        //  A thread of a pool that skips sockets (zx_memq.h): sends never
        //  block, and fail once the pool is gone
        self.peer = opts->peer ? opts->peer
                  : zx__memq_attach (opts->memq, opts->identity, strlen (opts->identity));
        if (!self.peer)
            return ZX_WORKER_BROKEN;
        self.route = (zx__route_t) { NULL, ZX_FACE_WORKER, 0, NULL, 0, NULL, self.peer };
    }
    else {
        dealer = zsock_new (ZMQ_DEALER);
        if (!dealer)
            return ZX_WORKER_BROKEN;
        zsock_set_identity (dealer, opts->identity);
        zsock_set_linger (dealer, 2000);        //  Deliver the last replies
        zsock_set_rcvhwm (dealer, 0);
        zsock_set_sndhwm (dealer, 0);
        if (zsock_connect (dealer, "%s", opts->endpoint)) {
            zsock_destroy (&dealer);
            return ZX_WORKER_BROKEN;
        }
        self.socket = zsock_resolve (dealer);
        //  A thread worker's peer is its pool's ROUTER over inproc, with no
        //  high-water mark: a send fails only once the pool is gone (a thread
        //  abandoned at a shutdown's deadline), and must not block then
        self.route = (zx__route_t) { self.socket, ZX_FACE_WORKER, pipe ? ZMQ_DONTWAIT : 0,
                                     NULL, 0, NULL, NULL };
    }
    if (!zx__flusher_add (&self.watch, s_on_due, &self)) {
        zsock_destroy (&dealer);
        zx__memq_detach (&self.peer);
        return ZX_WORKER_BROKEN;
    }
    pthread_mutex_lock (&self.watch.guard);
    zx__worker_exit_t why = ZX_WORKER_DISMISSED;

    char *failure = s_initialize (opts);
    if (failure) {
        zx__send_disconnect (&self.route, ZX_BYE_INIT_FAILED, failure);
        free (failure);
        pthread_mutex_unlock (&self.watch.guard);
        zx__flusher_remove (&self.watch);
        zsock_destroy (&dealer);
        zx__memq_detach (&self.peer);
        return ZX_WORKER_INIT_FAILED;
    }
    zx__actor_host_worker (opts->identity);
    //  A pool worker runs one task at a time
    zx__ready_t ready = { .credits = opts->credits, .max_tasks = opts->max_tasks,
                          .pid = (uint32_t) getpid (), .parallel = 1,
                          .features = ZX_FEATURE_FRAMED };
    zx__send_ready (&self.route, opts->service ? opts->service : "default", &ready,
                    opts->name ? opts->name : opts->identity);

    uint64_t tasks_done = 0;
    zmq_pollitem_t items [] = {
        { self.socket, 0, ZMQ_POLLIN, 0 },
        { pipe ? zsock_resolve (pipe) : NULL, 0, ZMQ_POLLIN, 0 }
    };
    while (true) {
        if (!self.head) {
            zx__flusher_idle (&self.watch);
            s_flush (&self);
            if (self.dismissed)
                break;
            if (s_retire_if_due (&self, tasks_done)) {
                why = ZX_WORKER_RETIRED;
                break;
            }
            if (self.peer) {
                //  The pool's term (or its end) stops it; nothing else wakes it
                if (zx__memq_wait (self.peer, -1))
                    break;
                s_read_all (&self);
                continue;
            }
            long timeout = opts->parent ? 500 : -1;
            int rc = zmq_poll (items, pipe ? 2 : 1, timeout);
            if (rc < 0 && errno != EINTR)
                break;
            if (pipe && (items [1].revents & ZMQ_POLLIN)) {
                char *text = zstr_recv (pipe);
                bool term = !text || streq (text, "$TERM");
                zstr_free (&text);
                if (term)
                    break;
            }
            if (items [0].revents & ZMQ_POLLIN)
                s_read_all (&self);
            if (opts->parent && getppid () != opts->parent) {
                why = ZX_WORKER_ORPHANED;
                break;
            }
            continue;
        }
        s_job_t *job = self.head;
        self.head = job->next;
        if (!self.head)
            self.tail = NULL;
        s_run_job (&self, job);
        s_job_free (job);
        tasks_done++;
        //  One clock read after the task serves both tests (a read costs
        //  about 27 ns on a VM's kvm-clock: a tiny task's tenth)
        int64_t now_us = zx__now_us ();
        //  After a slow task, look for CANCELs of the jobs waiting here
        bool peek = now_us - self.running_since_us > ZX_SLOW_TASK_US;
        if (s_retire_if_due (&self, tasks_done)) {
            why = ZX_WORKER_RETIRED;
            break;
        }
        if (self.replies.size >= ZX_BATCH_FLUSH_BYTES
        ||  now_us - self.batch_started_us > ZX_FLUSH_AGE_US)
            s_flush (&self);
        if ((peek || tasks_done % ZX_PEEK_EVERY == 0 || !self.head)
        &&  s_input_waiting (&self))
            s_read_all (&self);
    }
    s_flush (&self);
    zx__actor_host_worker (NULL);
    while (self.head) {
        s_job_t *job = self.head;
        self.head = job->next;
        s_job_free (job);
    }
    pthread_mutex_unlock (&self.watch.guard);
    zx__flusher_remove (&self.watch);
    zx__batch_free (&self.replies);
    zsock_destroy (&dealer);
    zx__memq_detach (&self.peer);
    return why;
}

//  --------------------------------------------------------------------
//  Process worker start-up

static size_t
s_unhex (const char *text, uint8_t *out, size_t size)
{
    size_t count = 0;
    while (text [0] && text [1] && count < size) {
        unsigned value;
        if (sscanf (text, "%2x", &value) != 1)
            break;
        out [count++] = (uint8_t) value;
        text += 2;
    }
    return count;
}

static void
s_start_hook (void)
{
    zx_init (0, NULL);
}

//  A program that makes a loop before it calls zx_init (or never does) is
//  still turned into a worker when a pool started it as one
__attribute__ ((constructor)) static void
s_register_start_hook (void)
{
    zx__loop_set_start_hook (s_start_hook);
}

void
zx_init (int argc, char **argv)
{
    (void) argc;
    (void) argv;
    zx__task_startup ();
    static atomic_bool checked;
    if (atomic_exchange (&checked, true))
        return;
    const char *endpoint = getenv ("ZEXEC_WORKER_ENDPOINT");
    if (!endpoint)
        return;
    //  We are a process worker: copy what the pool told us and clear it,
    //  so processes this worker's tasks start are not mistaken for workers
    char *endpoint_copy = strdup (endpoint);
    char *identity = strdup (getenv ("ZEXEC_WORKER_ID") ? getenv ("ZEXEC_WORKER_ID") : "w");
    const char *value;
    zx__worker_opts_t opts = { .endpoint = endpoint_copy, .identity = identity };
    opts.credits = (value = getenv ("ZEXEC_WORKER_CREDITS")) ? (uint32_t) atoi (value) : 1;
    opts.max_tasks = (value = getenv ("ZEXEC_WORKER_MAX_TASKS")) ? (uint32_t) atoi (value) : 0;
    opts.parent = (value = getenv ("ZEXEC_WORKER_PARENT")) ? (pid_t) atoi (value) : 0;
    char *initializer = NULL;
    uint8_t *initargs = NULL;
    if ((value = getenv ("ZEXEC_WORKER_INIT")) && *value) {
        initializer = strdup (value);
        opts.initializer = initializer;
        const char *hex = getenv ("ZEXEC_WORKER_INITARGS");
        size_t size = hex ? strlen (hex) / 2 : 0;
        initargs = malloc (size + 1);
        opts.initargs = initargs;
        opts.initargs_size = initargs ? s_unhex (hex ? hex : "", initargs, size) : 0;
    }
    s_fault_configure ();
    if ((value = getenv ("ZEXEC_LOG_FORMAT")))
        zx_log_basic_config ((zx_log_level_t) atoi (getenv ("ZEXEC_LOG_LEVEL") ? getenv ("ZEXEC_LOG_LEVEL") : "30"), value);
    const char *names [] = { "ZEXEC_WORKER_ENDPOINT", "ZEXEC_WORKER_ID", "ZEXEC_WORKER_CREDITS",
        "ZEXEC_WORKER_MAX_TASKS", "ZEXEC_WORKER_PARENT", "ZEXEC_WORKER_INIT",
        "ZEXEC_WORKER_INITARGS", "ZEXEC_LOG_FORMAT", "ZEXEC_LOG_LEVEL" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        unsetenv (names [i]);
    char label [64];
    snprintf (label, sizeof label, "pid %d", (int) getpid ());
    opts.name = label;
    zx__worker_exit_t why = zx__worker_run (&opts, NULL);
    free (endpoint_copy);
    free (identity);
    free (initializer);
    free (initargs);
    exit ((int) why);
}
