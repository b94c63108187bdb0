/*  test_hostile.c - malformed input on every face of a real zexec-broker,
    and of a real zexec-worker and a coordinator, from raw sockets.

    Each broker test starts a zexec-broker (--verbose, its stderr in a log
    file), a good zexec-worker with the tasks of remote_tasks.c and a good
    coordinator (a remote executor in this process), as test_remote.c does.
    Then raw libzmq DEALERs, or a raw tcp socket speaking no ZMTP at all,
    send the broker what no conforming peer sends. After each kind of
    garbage the test checks that the broker process still runs, that it
    logged a warning naming the sender, and that the good coordinator
    still gets the right results from the good worker. Each test ends by
    stopping the good worker and the broker with SIGTERM and expecting both
    to exit 0: under the sanitizers a leak or a race found at exit fails it.

    The other way round, a raw ROUTER posing as a broker sends garbage to
    a zexec-worker and to a coordinator, which must drop it and go on.

    Every process a test starts is killed and reaped by the teardown, also
    when the test fails (then their logs are printed). Every wait is
    bounded.                                                              */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_proto.h"
#include "zx_values.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <zmq.h>

#if !defined (ZX_BROKER_PROGRAM) || !defined (ZX_WORKER_PROGRAM) || !defined (ZX_TEST_TASKS)
#   error "tests/CMakeLists.txt passes the paths of zexec-broker, zexec-worker and the tasks"
#endif

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1       //  Freed memory is held back: no RSS bounds
#endif
//  The big frames. ThreadSanitizer checks every byte libzmq's I/O thread
//  sends against the thread that wrote it, without seeing libzmq's own
//  synchronisation: at 64 MiB a frame that takes minutes.
#if defined (__SANITIZE_THREAD__)
#   define BIG_FRAME (4 * 1024 * 1024)
#else
#   define BIG_FRAME (64 * 1024 * 1024)
#endif

//  --------------------------------------------------------------------
//  Child processes: those of testutil.h, listed here so that the
//  teardown kills and reaps them and shows their logs

#define MAX_CHILDREN 16

static zx_test_child_t s_children [MAX_CHILDREN];
static size_t s_child_count;
static bool s_passed;
static void *s_ctx;             //  libzmq context of the raw sockets
static void *s_sockets [256];   //  Raw sockets open, for the teardown

//  Starts argv (NULL-terminated) with zx_test_spawn, for the teardown.
static zx_test_child_t *
s_spawn (const char *const argv [])
{
    assert_true (s_child_count < MAX_CHILDREN);
    zx_test_child_t *child = &s_children [s_child_count++];
    zx_test_spawn (child, "hostile", argv);
    return child;
}

//  Sends SIGTERM and expects the child to exit with 0 within timeout_ms.
static void
s_stop_cleanly (zx_test_child_t *child, const char *what, int64_t timeout_ms)
{
    if (!zx_test_alive (child))
        fail_msg ("%s had already ended (status 0x%x)", what, child->status);
    int status = zx_test_stop (child, SIGTERM, timeout_ms);
    if (status < 0)
        fail_msg ("%s did not exit within %lld ms of SIGTERM", what, (long long) timeout_ms);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("%s did not exit cleanly after SIGTERM (status 0x%x)", what, status);
}

static int
s_setup (void **state)
{
    (void) state;
    s_passed = false;
    s_child_count = 0;
    s_ctx = zmq_ctx_new ();
    assert_non_null (s_ctx);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    for (size_t i = 0; i < s_child_count; i++)
        zx_test_reap (&s_children [i], !s_passed || getenv ("ZX_SHOW_LOGS"));
    s_child_count = 0;
    //  A failed test leaves raw sockets open: zmq_ctx_term waits for them
    for (size_t i = 0; i < sizeof s_sockets / sizeof s_sockets [0]; i++)
        if (s_sockets [i]) {
            int linger = 0;
            zmq_setsockopt (s_sockets [i], ZMQ_LINGER, &linger, sizeof linger);
            zmq_close (s_sockets [i]);
            s_sockets [i] = NULL;
        }
    zmq_ctx_term (s_ctx);
    s_ctx = NULL;
    return 0;
}

//  Fails unless the log at path gets count lines holding text and more.
static void
s_expect_log (const char *path, const char *text, const char *more, int count)
{
    if (!zx_test_log_wait (path, text, more, count, 10000))
        fail_msg ("expected %d log lines with '%s'%s%s%s, found %d", count, text,
                  more ? " and '" : "", more ? more : "", more ? "'" : "",
                  zx_test_log_count (path, text, more));
}

//  --------------------------------------------------------------------
//  The good peers: a broker, a worker, a coordinator

typedef struct {
    zx_test_child_t *broker;
    zx_test_child_t *worker;
    int port;
    char endpoint [64];
    const char *heartbeat;
    zx_loop_t *loop;
    zx_executor_t *remote;
    int64_t next;               //  Argument of the next good square
    pid_t other;                //  Another good worker, when there is one
} s_env_t;

//  Starts a broker with heartbeat ms, liveness 3 and up to six extra
//  arguments (NULL-terminated), and waits until it listens.
static void
s_broker_start (s_env_t *env, const char *heartbeat, const char *const *extra)
{
    env->heartbeat = heartbeat;
    for (int attempt = 0; attempt < 20; attempt++) {
        env->port = zx_test_free_port ();
        snprintf (env->endpoint, sizeof env->endpoint, "tcp://127.0.0.1:%d", env->port);
        const char *argv [16] = { ZX_BROKER_PROGRAM, "--bind", env->endpoint,
                                  "--heartbeat", heartbeat, "--liveness", "3", "--verbose" };
        for (size_t i = 0; extra && extra [i] && i < 6; i++)
            argv [8 + i] = extra [i];
        env->broker = s_spawn (argv);
        int64_t deadline = zx_test_now_ms () + 10000;
        while (!zx_test_log_count (env->broker->log, "listening on", NULL)) {
            if (!zx_test_alive (env->broker))
                break;                  //  Could not bind: try another port
            if (zx_test_now_ms () > deadline)
                fail_msg ("zexec-broker did not listen on %s within 10 s", env->endpoint);
            usleep (5000);
        }
        if (zx_test_alive (env->broker))
            return;
        usleep (100000);
    }
    fail_msg ("zexec-broker could not bind a port in 20 attempts");
}

//  Starts a zexec-worker of two threads for service "default" and waits
//  until the broker says it is ready.
static zx_test_child_t *
s_worker_start (s_env_t *env)
{
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", env->endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "2",
                            "--heartbeat", env->heartbeat, "--liveness", "3", "--verbose", NULL };
    zx_test_child_t *worker = s_spawn (argv);
    char host [64] = "host", name [128];
    gethostname (host, sizeof host - 1);
    snprintf (name, sizeof name, "worker %s.%d.", host, (int) worker->pid);
    if (!zx_test_log_wait (env->broker->log, name, " ready", 1, 10000))
        fail_msg ("%s never became ready at the broker", name);
    return worker;
}

static void
s_env_start_with (s_env_t *env, const char *heartbeat, const char *const *extra)
{
    memset (env, 0, sizeof *env);
    s_broker_start (env, heartbeat, extra);
    env->worker = s_worker_start (env);
    env->loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = atoi (heartbeat), .liveness = 3 };
    env->remote = zx_remote_executor_new (env->endpoint, &opts);
    assert_non_null (env->loop);
    assert_non_null (env->remote);
    env->next = 1;
}

static void
s_env_start (s_env_t *env)
{
    s_env_start_with (env, "500", NULL);
}

//  The broker and the good worker still run, and the good coordinator
//  gets twenty right squares from that worker.
static void
s_env_check (s_env_t *env, const char *after)
{
    if (!zx_test_alive (env->broker))
        fail_msg ("the broker died after %s (status 0x%x)", after, env->broker->status);
    if (!zx_test_alive (env->worker))
        fail_msg ("the good worker died after %s (status 0x%x)", after, env->worker->status);
    zx_test_expect_squares (env->loop, env->remote, &env->next, 20, env->worker->pid,
                            env->other, after);
    if (!zx_test_alive (env->broker))
        fail_msg ("the broker died after %s (status 0x%x)", after, env->broker->status);
}

//  Ends the good coordinator, then stops the worker and the broker with
//  SIGTERM: both must exit 0 (the sanitizers make a leak or race fail it).
static void
s_env_stop (s_env_t *env)
{
    zx_executor_destroy (&env->remote);
    zx_loop_destroy (&env->loop);
    s_stop_cleanly (env->worker, "the good worker", 10000);
    s_stop_cleanly (env->broker, "the broker", 10000);
}

//  --------------------------------------------------------------------
//  Raw sockets and messages

//  A raw socket of type, listed for the teardown.
static void *
s_socket_new (int type)
{
    void *socket = zmq_socket (s_ctx, type);
    assert_non_null (socket);
    for (size_t i = 0; i < sizeof s_sockets / sizeof s_sockets [0]; i++)
        if (!s_sockets [i]) {
            s_sockets [i] = socket;
            return socket;
        }
    zmq_close (socket);
    fail_msg ("too many raw sockets");
    return NULL;
}

//  Closes a raw socket at once (linger 0) and nulls the pointer.
static void
s_close (void **socket_p)
{
    for (size_t i = 0; i < sizeof s_sockets / sizeof s_sockets [0]; i++)
        if (s_sockets [i] == *socket_p)
            s_sockets [i] = NULL;
    int linger = 0;
    zmq_setsockopt (*socket_p, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (*socket_p);
    *socket_p = NULL;
}

//  A raw DEALER with routing id identity, connected to endpoint.
static void *
s_dealer (const char *endpoint, const char *identity)
{
    void *socket = s_socket_new (ZMQ_DEALER);
    int linger = 2000, timeout = 5000, zero = 0;
    assert_int_equal (zmq_setsockopt (socket, ZMQ_ROUTING_ID, identity, strlen (identity)), 0);
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &zero, sizeof zero);
    assert_int_equal (zmq_connect (socket, endpoint), 0);
    return socket;
}

//  Receives one message, keeping at most max frames (the rest are read
//  and closed). Returns how many frames it kept, 0 on timeout.
static size_t
s_recv (void *socket, zmq_msg_t *frames, size_t max)
{
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, 0) < 0) {
            zmq_msg_close (&frame);
            assert_int_equal (count, 0);    //  A message is all or nothing
            return 0;
        }
        more = zmq_msg_more (&frame);
        if (count < max)
            frames [count++] = frame;
        else
            zmq_msg_close (&frame);
    }
    return count;
}

//  Receives the next message whose header frame (frame at: 0 on a DEALER,
//  1 on a ROUTER) is header and whose command is command, within 5 s;
//  others, such as heartbeats, are skipped. Returns its frame count.
static size_t
s_expect (void *socket, size_t at, const char *header, uint8_t command,
          zmq_msg_t *frames, size_t max)
{
    int64_t deadline = zx_test_now_ms () + 5000;
    while (zx_test_now_ms () < deadline) {
        size_t count = s_recv (socket, frames, max);
        if (count >= at + 2 && zx_test_frame_is (&frames [at], header, 5)
        &&  zx_test_frame_is (&frames [at + 1], &command, 1))
            return count;
        zx_test_close_frames (frames, count);
    }
    fail_msg ("no command %d arrived within 5 s", command);
    return 0;
}

//  READY's info frame: credits, max_tasks 0, pid, parallel 1.
static void
s_info (uint8_t info [ZX_READY_INFO_SIZE], uint32_t credits)
{
    zx__put_u32 (info, credits);
    zx__put_u32 (info + 4, 0);
    zx__put_u32 (info + 8, 4242);
    zx__put_u32 (info + 12, 1);
}

//  Appends a request record for task with one int argument.
static void
s_add_request (zx__batch_t *batch, uint64_t corr, const char *task, int64_t arg)
{
    zx_values_t *args = zx_values_pack ("i", arg);
    size_t size;
    const void *data = zx__values_data (args, &size);
    assert_int_equal (zx__batch_add_request (batch, corr, 1, 0, task, strlen (task), data, size),
                      ZX_OK);
    zx_values_destroy (&args);
}

//  Appends a successful reply record holding the ints a and b.
static void
s_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt, uint8_t status,
             int64_t a, int64_t b)
{
    zx_values_t *values = zx_values_pack ("ii", a, b);
    size_t size;
    const void *data = zx__values_data (values, &size);
    assert_int_equal (zx__batch_add_reply (batch, corr, attempt, status, data, size), ZX_OK);
    zx_values_destroy (&values);
}

//  Registers a raw DEALER as a worker of service with the given routing
//  id and credits, and waits until the broker says it is ready.
static void *
s_fake_worker (s_env_t *env, const char *identity, const char *service, uint32_t credits)
{
    void *socket = s_dealer (env->endpoint, identity);
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, credits);
    SEND (socket, S ("ZXW01"), S ("\x01"), B (service, strlen (service)),
          B (info, sizeof info), B (identity, strlen (identity)));
    char name [128];
    snprintf (name, sizeof name, "worker %s ready", identity);
    s_expect_log (env->broker->log, name, NULL, 1);
    return socket;
}

//  --------------------------------------------------------------------
//  Broker tests

static void
test_zero_length_frames_are_dropped_and_named_in_the_log (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    void *raw = s_dealer (env.endpoint, "hostile-zero");
    SEND (raw, S (""));
    SEND (raw, S (""), S (""), S (""));
    SEND (raw, S ("ZXW01"), S (""));
    SEND (raw, S ("ZXC01"), S (""), S ("default"), S (""));
    const char *log = env.broker->log;
    s_expect_log (log, "malformed message (2 frames) from hostile-zero: dropped", "WARNING", 1);
    s_expect_log (log, "malformed message (4 frames) from hostile-zero: dropped", "WARNING", 1);
    s_expect_log (log, "malformed message (3 frames) from hostile-zero: dropped", "WARNING", 1);
    s_expect_log (log, "malformed message (5 frames) from hostile-zero: dropped", "WARNING", 1);
    s_env_check (&env, "zero-length headers and commands");

    //  Well-formed headers, empty bodies
    SEND (raw, S ("ZXW01"), S ("\x01"), S (""), S (""), S (""));
    SEND (raw, S ("ZXC01"), S ("\x02"), S (""), S (""));
    s_expect_log (log, "READY with a bad service name from hostile-zero: dropped", "WARNING", 1);
    s_expect_log (log, "malformed REQUEST from coordinator hostile-zero: dropped", "WARNING", 1);
    //  An empty batch is valid and asks for nothing; empty CANCEL ids too
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S (""));
    SEND (raw, S ("ZXC01"), S ("\x06"), S (""));
    s_env_check (&env, "empty service names and batches");
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_one_frame_messages_are_dropped_and_named_in_the_log (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    void *raw = s_dealer (env.endpoint, "hostile-one");
    SEND (raw, S ("ZXW01"));
    SEND (raw, S ("ZXC01"));
    SEND (raw, S ("\x01"));
    SEND (raw, S ("garbage, and more garbage"));
    s_expect_log (env.broker->log, "malformed message (2 frames) from hostile-one: dropped",
                  "WARNING", 4);
    s_env_check (&env, "one-frame messages");
    //  Header and command only, on both faces, as an unknown peer
    SEND (raw, S ("ZXW01"), S ("\x01"));
    SEND (raw, S ("ZXW01"), S ("\x03"));
    SEND (raw, S ("ZXC01"), S ("\x02"));
    SEND (raw, S ("ZXC01"), S ("\x03"));
    s_expect_log (env.broker->log, "READY with a bad service name from hostile-one: dropped",
                  "WARNING", 1);
    s_expect_log (env.broker->log, "malformed REQUEST from coordinator hostile-one: dropped",
                  "WARNING", 1);
    //  REPLY from a worker it does not know: asked to start again
    zmq_msg_t frames [4];
    size_t count = s_expect (raw, 0, "ZXW01", ZX_CMD_DISCONNECT, frames, 4);
    assert_int_equal (count, 3);
    zx_test_close_frames (frames, count);
    s_env_check (&env, "header-and-command messages");
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_unknown_protocol_headers_and_versions_are_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    void *raw = s_dealer (env.endpoint, "hostile-header");
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 4);
    SEND (raw, S ("ZXW02"), S ("\x01"), S ("default"), B (info, sizeof info), S ("w"));
    SEND (raw, S ("ZXC02"), S ("\x02"), S ("default"), S ("x"));
    SEND (raw, S ("zxw01"), S ("\x01"), S ("default"), B (info, sizeof info), S ("w"));
    SEND (raw, S ("\0\0\0\0\0"), S ("\x01"), S ("default"));
    s_expect_log (log, "unknown protocol header from hostile-header: dropped", "WARNING", 4);
    //  Majordomo's headers are six octets; with its empty delimiter first
    SEND (raw, S ("MDPW01"), S ("\x01"), S ("default"));
    SEND (raw, S ("MDPC01"), S ("default"), S ("request"));
    SEND (raw, S (""), S ("MDPW01"), S ("\x01"), S ("default"));
    SEND (raw, S ("ZXW01x"), S ("\x01"), S ("default"));
    s_expect_log (log, "malformed message (4 frames) from hostile-header: dropped", "WARNING", 3);
    s_expect_log (log, "malformed message (5 frames) from hostile-header: dropped", "WARNING", 1);
    s_env_check (&env, "unknown headers");
    //  None of them opened a service or registered a worker
    assert_int_equal (zx_test_log_count (log, "hostile-header ready", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "service '", "opened"), 1);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_bad_command_bytes_are_dropped_on_both_faces (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    //  Command frames of the wrong size
    void *raw = s_dealer (env.endpoint, "hostile-command");
    SEND (raw, S ("ZXW01"), S ("\x01\x01"), S ("default"));
    SEND (raw, S ("ZXC01"), S ("\x02\x00\x00\x00"), S ("default"), S (""));
    s_expect_log (log, "malformed message (4 frames) from hostile-command: dropped", "WARNING", 1);
    s_expect_log (log, "malformed message (5 frames) from hostile-command: dropped", "WARNING", 1);
    //  Unassigned commands from a coordinator the broker does not know yet
    SEND (raw, S ("ZXC01"), S ("\x00"));
    SEND (raw, S ("ZXC01"), S ("\x07"), S ("x"));
    SEND (raw, S ("ZXC01"), S ("\xff"));
    SEND (raw, S ("ZXC01"), S ("\x01"), S ("default"));     //  READY on the client face
    s_expect_log (log, "from unknown coordinator hostile-command: dropped", "WARNING", 4);
    s_env_check (&env, "bad command bytes from an unknown coordinator");

    //  ... and from one it knows (an empty REQUEST makes it known)
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S (""));
    SEND (raw, S ("ZXC01"), S ("\x00"));
    SEND (raw, S ("ZXC01"), S ("\x07"));
    SEND (raw, S ("ZXC01"), S ("\xff"), S ("x"), S ("y"));
    SEND (raw, S ("ZXC01"), S ("\x03"), S (""));
    s_expect_log (log, "unknown command 0 from coordinator hostile-command: dropped", "WARNING", 1);
    s_expect_log (log, "unknown command 7 from coordinator hostile-command: dropped", "WARNING", 1);
    s_expect_log (log, "unknown command 255 from coordinator hostile-command: dropped",
                  "WARNING", 1);
    s_expect_log (log, "unknown command 3 from coordinator hostile-command: dropped", "WARNING", 1);

    //  Unassigned and dispatcher-only commands from a registered worker
    void *fake = s_fake_worker (&env, "hostile-cmdworker", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x00"));
    SEND (fake, S ("ZXW01"), S ("\x07"));
    SEND (fake, S ("ZXW01"), S ("\xff"));
    SEND (fake, S ("ZXW01"), S ("\x02"), S ("x"));          //  REQUEST from a worker
    SEND (fake, S ("ZXW01"), S ("\x06"), S ("12345678"));   //  CANCEL from a worker
    s_expect_log (log, "from hostile-cmdworker: dropped", "unknown command", 5);
    s_env_check (&env, "bad command bytes from a worker and a coordinator");
    s_close (&fake);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_empty_300_byte_and_nul_service_names_are_refused (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    char long_name [300];
    memset (long_name, 's', sizeof long_name);
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 4);
    void *raw = s_dealer (env.endpoint, "hostile-service");
    SEND (raw, S ("ZXW01"), S ("\x01"), S (""), B (info, sizeof info), S ("w"));
    SEND (raw, S ("ZXW01"), S ("\x01"), B (long_name, sizeof long_name), B (info, sizeof info),
          S ("w"));
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("def\0ault"), B (info, sizeof info), S ("w"));
    s_expect_log (log, "READY with a bad service name from hostile-service: dropped",
                  "WARNING", 3);
    //  A coordinator's REQUEST naming such services
    zx__batch_t batch = { 0 };
    s_add_request (&batch, 1, "square", 3);
    SEND (raw, S ("ZXC01"), S ("\x02"), S (""), B (batch.data, batch.size));
    SEND (raw, S ("ZXC01"), S ("\x02"), B (long_name, sizeof long_name), B (batch.data, batch.size));
    s_expect_log (log, "malformed REQUEST from coordinator hostile-service: dropped", "WARNING", 2);
    //  One with a NUL is answered: a task error, no service opened
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("def\0ault"), B (batch.data, batch.size));
    zmq_msg_t frames [4];
    size_t count = s_expect (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, cursor + zmq_msg_size (&frames [2]), &rec),
                      ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (rec.status, ZX_STATUS_TASK_ERROR);
    zx_test_close_frames (frames, count);
    //  A 255-byte name is fine: it opens a service
    SEND (raw, S ("ZXW01"), S ("\x01"), B (long_name, 255), B (info, sizeof info), S ("w"));
    s_expect_log (log, "worker hostile-service ready", NULL, 1);
    s_env_check (&env, "bad service names");
    assert_int_equal (zx_test_log_count (log, "service '", "opened"), 2);
    zx__batch_free (&batch);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_messages_with_missing_frames_are_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    void *raw = s_dealer (env.endpoint, "hostile-missing");
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 4);
    //  READY without its info frame, and with one of the wrong size
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("hostile"));
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("hostile"), B (info, 5), S ("w"));
    s_expect_log (log, "malformed READY from hostile-missing: dropped", "WARNING", 2);
    //  REQUEST without its batch, or its service and batch
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"));
    SEND (raw, S ("ZXC01"), S ("\x02"));
    s_expect_log (log, "malformed REQUEST from coordinator hostile-missing: dropped",
                  "WARNING", 2);
    //  CANCEL without ids, DISCONNECT without its body: ignored
    SEND (raw, S ("ZXC01"), S ("\x06"));
    s_env_check (&env, "missing frames from an unregistered peer");

    //  A registered worker's REPLY without its batch, or with extra frames
    void *fake = s_fake_worker (&env, "hostile-missing-w", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x03"));
    SEND (fake, S ("ZXW01"), S ("\x03"), S (""), S ("extra"));
    SEND (fake, S ("ZXW01"), S ("\x05"));                   //  DISCONNECT, no body
    s_expect_log (log, "malformed REPLY from hostile-missing-w: dropped", "WARNING", 2);
    s_expect_log (log, "worker hostile-missing-w left", NULL, 1);
    s_env_check (&env, "missing frames from a registered worker");
    s_close (&fake);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_a_reply_before_ready_is_answered_with_disconnect (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    void *raw = s_dealer (env.endpoint, "hostile-early");
    zx__batch_t batch = { 0 };
    s_add_reply (&batch, 1, 1, ZX_STATUS_OK, 666, 666);
    //  Heartbeat and DISCONNECT before READY are ignored; REPLY is not
    SEND (raw, S ("ZXW01"), S ("\x04"));
    SEND (raw, S ("ZXW01"), S ("\x05"), S ("\x00"));
    SEND (raw, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    zmq_msg_t frames [4];
    size_t count = s_expect (raw, 0, "ZXW01", ZX_CMD_DISCONNECT, frames, 4);
    assert_int_equal (count, 3);
    assert_true (zx_test_frame_is (&frames [2], "\x00", 1));
    zx_test_close_frames (frames, count);
    s_env_check (&env, "a REPLY before READY");
    zx__batch_free (&batch);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_a_second_ready_is_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    void *fake = s_fake_worker (&env, "hostile-twice", "hostile", 1);
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 100);
    SEND (fake, S ("ZXW01"), S ("\x01"), S ("hostile"), B (info, sizeof info), S ("again"));
    //  Naming the good worker's service: still the same worker, still
    //  its first service
    SEND (fake, S ("ZXW01"), S ("\x01"), S ("default"), B (info, sizeof info), S ("again"));
    s_expect_log (log, "second READY from worker hostile-twice: dropped", "WARNING", 2);
    assert_int_equal (zx_test_log_count (log, "worker hostile-twice ready", NULL), 1);
    s_env_check (&env, "a second READY");
    s_close (&fake);
    s_env_stop (&env);
    s_passed = true;
}

//  A worker that forges replies for requests the good worker holds (any
//  correlation id, any attempt, any status) must not complete them.
static void
test_forged_replies_for_another_workers_requests_are_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    //  Four sleeps, all held by the good worker (two threads, credits to spare)
    zx_future_t *sleeps [4];
    int64_t start = zx_test_now_ms ();
    for (int i = 0; i < 4; i++)
        sleeps [i] = zx_run_in_executor (env.loop, env.remote, "sleep_ms",
                                         zx_values_pack ("i", (int64_t) 300));
    size_t done = 0;
    zx_wait (sleeps, 4, ZX_ALL_COMPLETED, 100, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    //  The impostor joins the same service, forges, and leaves at once, so
    //  nothing is ever dealt to it
    void *fake = s_dealer (env.endpoint, "hostile-forger");
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 1);
    zx__batch_t batch = { 0 };
    for (uint64_t corr = 0; corr < 400; corr++)
        for (uint32_t attempt = 0; attempt < 3; attempt++)
            s_add_reply (&batch, corr, attempt, (uint8_t) (corr % 12), 666, 666);
    s_add_reply (&batch, UINT64_MAX, 1, ZX_STATUS_OK, 666, 666);
    SEND (fake, S ("ZXW01"), S ("\x01"), S ("default"), B (info, sizeof info), S ("forger"));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    SEND (fake, S ("ZXW01"), S ("\x05"), S ("\x00"));
    s_expect_log (env.broker->log, "worker hostile-forger left", NULL, 1);
    zx_wait (sleeps, 4, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 4);
    int64_t elapsed = zx_test_now_ms () - start;
    for (int i = 0; i < 4; i++) {
        if (zx_future_error (sleeps [i]) != ZX_OK)
            fail_msg ("sleep %d: %s", i, zx_future_message (sleeps [i]));
        int64_t pid = 0;
        assert_int_equal (zx_values_get_int (zx_future_result (sleeps [i]), 0, &pid), ZX_OK);
        assert_int_equal (pid, env.worker->pid);
        zx_future_destroy (&sleeps [i]);
    }
    assert_true (elapsed >= 290);
    s_env_check (&env, "forged replies");
    zx__batch_free (&batch);
    s_close (&fake);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_truncated_batches_are_dropped_after_their_good_records (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    void *raw = s_dealer (env.endpoint, "hostile-batch");
    //  A good record, then a record cut short: the first runs, the rest
    //  is dropped
    zx__batch_t batch = { 0 };
    s_add_request (&batch, 1, "square", 5);
    size_t first = batch.size;
    s_add_request (&batch, 2, "square", 6);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, first + 10));
    s_expect_log (log, "malformed REQUEST batch from coordinator hostile-batch: rest dropped",
                  "WARNING", 1);
    zmq_msg_t frames [4];
    size_t count = s_expect (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (rec.payload, rec.payload_size, &values), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (values, 0, &square), ZX_OK);
    assert_int_equal (square, 25);
    zx_values_destroy (&values);
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_EPENDING);
    zx_test_close_frames (frames, count);

    //  Record sizes that lie: huge, too small for the fixed part, a name
    //  longer than the record, a zero name length; and a lone size field
    size_t second = batch.size - first;
    uint8_t lies [4][64];
    assert_true (second <= sizeof lies [0]);
    for (int i = 0; i < 4; i++)
        memcpy (lies [i], batch.data + first, second);
    zx__put_u32 (lies [0], UINT32_MAX);
    zx__put_u32 (lies [1], 3);
    lies [2][17] = 200;
    lies [3][17] = 0;
    for (int i = 0; i < 4; i++)
        SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (lies [i], second));
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, 3));
    s_expect_log (log, "malformed REQUEST batch from coordinator hostile-batch: rest dropped",
                  "WARNING", 6);
    //  A CANCEL with a trailing partial id is taken for what it holds
    SEND (raw, S ("ZXC01"), S ("\x06"), S ("1234567"));

    //  A registered worker's REPLY batch cut short
    void *fake = s_fake_worker (&env, "hostile-batch-w", "hostile", 1);
    zx__batch_t replies = { 0 };
    s_add_reply (&replies, 7, 1, ZX_STATUS_OK, 1, 2);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size - 1));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, 2));
    s_expect_log (log, "malformed REPLY batch from hostile-batch-w: rest dropped", "WARNING", 2);
    s_env_check (&env, "truncated batches");
    zx__batch_free (&batch);
    zx__batch_free (&replies);
    s_close (&fake);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_a_message_of_100000_tiny_frames_is_drained_and_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    void *raw = s_dealer (env.endpoint, "hostile-frames");
    enum { FRAMES = 100000 };
    int64_t start = zx_test_now_ms ();
    //  A valid start (a READY) and then far too many frames
    assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    assert_true (zmq_send (raw, "\x01", 1, ZMQ_SNDMORE) == 1);
    for (int i = 0; i < FRAMES; i++)
        assert_true (zmq_send (raw, "x", i % 2, i + 1 < FRAMES ? ZMQ_SNDMORE : 0) >= 0);
    //  And 100,000 empty frames
    for (int i = 0; i < FRAMES; i++)
        assert_true (zmq_send (raw, "", 0, i + 1 < FRAMES ? ZMQ_SNDMORE : 0) == 0);
    s_expect_log (env.broker->log, "malformed message (8 frames) from hostile-frames: dropped",
                  "WARNING", 2);
    print_message ("200,000 frames dropped in %lld ms\n", (long long) (zx_test_now_ms () - start));
    s_env_check (&env, "100,000 tiny frames");
    assert_int_equal (zx_test_log_count (env.broker->log, "hostile-frames ready", NULL), 0);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_64_megabyte_frames_are_dropped_and_their_memory_returned (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    enum { BIG = BIG_FRAME };
    uint8_t *big = malloc (BIG);
    assert_non_null (big);
    memset (big, 0xff, BIG);
    long before = zx_test_rss_kib (env.broker->pid);
    void *raw = s_dealer (env.endpoint, "hostile-big");
    //  As a header, a service name, a request batch and a reply batch
    SEND (raw, B (big, BIG), S ("\x01"), S ("default"));
    SEND (raw, S ("ZXW01"), S ("\x01"), B (big, BIG), S ("info"), S ("w"));
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (big, BIG));
    s_expect_log (log, "malformed message (4 frames) from hostile-big: dropped", "WARNING", 1);
    s_expect_log (log, "READY with a bad service name from hostile-big: dropped", "WARNING", 1);
    s_expect_log (log, "malformed REQUEST batch from coordinator hostile-big: rest dropped",
                  "WARNING", 1);
    void *fake = s_fake_worker (&env, "hostile-big-w", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (big, BIG));
    s_expect_log (log, "malformed REPLY batch from hostile-big-w: rest dropped", "WARNING", 1);
    s_env_check (&env, "big frames");
    //  Four more, as bodies of a known coordinator's commands
    for (int i = 0; i < 4; i++)
        SEND (raw, S ("ZXC01"), S ("\x06"), B (big, BIG));
    SEND (raw, S ("ZXC01"), S ("\x04"));
    s_env_check (&env, "more big frames");
    long after = zx_test_rss_kib (env.broker->pid);
    print_message ("broker RSS %ld KiB before, %ld KiB after 8 frames of %d MiB\n", before, after,
                   BIG >> 20);
#ifndef ZX_SANITIZED
    assert_true (after - before < 96 * 1024);
#endif
    free (big);
    s_close (&fake);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

static void
test_a_multipart_message_never_finished_is_never_seen (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    const char *log = env.broker->log;
    //  Frames sent with SNDMORE, then the socket closes: never delivered
    void *raw = s_dealer (env.endpoint, "hostile-unfinished");
    SEND (raw, S ("ZXC01"), S ("\x04"));        //  Known... only as traffic
    for (int i = 0; i < 3; i++)
        assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    usleep (100000);
    s_env_check (&env, "an unfinished message on an open connection");
    s_close (&raw);
    s_env_check (&env, "an unfinished message and its connection closed");
    //  One left open while the good peers work, then finished much later:
    //  the broker sees one long malformed message
    raw = s_dealer (env.endpoint, "hostile-late");
    assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    assert_true (zmq_send (raw, "\x01", 1, ZMQ_SNDMORE) == 1);
    s_env_check (&env, "an unfinished message");
    SEND (raw, S ("default"), S ("info"), S ("w"), S ("ZXW01"), S ("\x04"), S ("more"));
    s_expect_log (log, "malformed message (8 frames) from hostile-late: dropped", "WARNING", 1);
    s_env_check (&env, "a message finished late");
    assert_int_equal (zx_test_log_count (log, "hostile-unfinished", NULL), 0);
    s_close (&raw);
    s_env_stop (&env);
    s_passed = true;
}

//  Connects a plain tcp socket to the broker, writes size bytes and
//  closes it (after a pause, so the broker reads them).
static void
s_tcp_garbage (const s_env_t *env, const void *data, size_t size, int pause_ms)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (env->port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    const uint8_t *at = data;
    while (size > 0) {
        ssize_t sent = send (fd, at, size, MSG_NOSIGNAL);
        if (sent <= 0)
            break;                      //  The broker closed it: fine
        at += sent;
        size -= (size_t) sent;
    }
    usleep ((useconds_t) pause_ms * 1000);
    close (fd);
}

static void
test_garbage_on_a_raw_tcp_connection_is_dropped (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    //  Random bytes
    enum { SIZE = 256 * 1024 };
    uint8_t *noise = malloc (SIZE);
    assert_non_null (noise);
    uint32_t seed = 12345;
    for (size_t i = 0; i < SIZE; i++) {
        seed = seed * 1103515245 + 12345;
        noise [i] = (uint8_t) (seed >> 16);
    }
    s_tcp_garbage (&env, noise, SIZE, 50);
    s_env_check (&env, "random bytes on tcp");
    //  Text from another protocol
    const char *http = "GET / HTTP/1.1\r\nHost: zexec\r\n\r\n";
    s_tcp_garbage (&env, http, strlen (http), 50);
    //  A ZMTP signature and then noise
    uint8_t greeting [64 + 64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f };
    memcpy (greeting + 10, noise, sizeof greeting - 10);
    s_tcp_garbage (&env, greeting, sizeof greeting, 50);
    //  A whole ZMTP 3.0 NULL greeting, then a READY command whose property
    //  claims four gigabytes, then a frame that claims 2^62 octets
    uint8_t zmtp [64 + 64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
    uint8_t *command = zmtp + 64;
    const uint8_t ready [] = { 0x04, 30, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k',
                               'e', 't', '-', 'T', 'y', 'p', 'e', 0xff, 0xff, 0xff, 0xff,
                               'D', 'E', 'A', 'L', 'E', 'R', 0, 0 };
    memcpy (command, ready, sizeof ready);
    s_tcp_garbage (&env, zmtp, 64 + sizeof ready, 50);
    s_env_check (&env, "ZMTP greetings with garbage");
    //  Connections that say nothing, one held open meanwhile
    int silent = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (silent >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (env.port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (connect (silent, (struct sockaddr *) &address, sizeof address), 0);
    for (int i = 0; i < 20; i++)
        s_tcp_garbage (&env, NULL, 0, 0);
    s_env_check (&env, "silent tcp connections");
    close (silent);
    free (noise);
    s_env_stop (&env);
    s_passed = true;
}

//  A valid ZMTP 3.0 handshake as a DEALER, then a frame header claiming
//  2^62 octets: libzmq must refuse it, not try to allocate it.
static void
test_a_frame_claiming_exabytes_is_refused (void **state)
{
    (void) state;
    s_env_t env;
    s_env_start (&env);
    uint8_t out [512];
    size_t size = 0;
    const uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0,
                                    'N', 'U', 'L', 'L' };
    memcpy (out, greeting, sizeof greeting);
    size = sizeof greeting;
    const uint8_t ready [] = { 0x04, 28, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k',
                               'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6,
                               'D', 'E', 'A', 'L', 'E', 'R' };
    memcpy (out + size, ready, sizeof ready);
    size += sizeof ready;
    //  A long frame (flags 0x02) of 2^62 octets, and a few of them
    const uint8_t huge [] = { 0x02, 0x40, 0, 0, 0, 0, 0, 0, 0, 'x', 'x', 'x' };
    memcpy (out + size, huge, sizeof huge);
    size += sizeof huge;
    s_tcp_garbage (&env, out, size, 100);
    s_env_check (&env, "a frame claiming 2^62 octets");
    s_env_stop (&env);
    s_passed = true;
}

//  --------------------------------------------------------------------
//  Caps and leaks: what a peer can make the broker remember

//  --max-workers bounds the workers a broker maps; READYs past it are
//  dropped with a warning, and the good worker goes on.
static void
test_readys_past_max_workers_are_dropped (void **state)
{
    (void) state;
    s_env_t env;
    const char *extra [] = { "--max-workers", "20", NULL };
    s_env_start_with (&env, "1000", extra);
    enum { FAKES = 200 };
    void *fakes [FAKES];
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 1);
    for (int i = 0; i < FAKES; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-many-%d", i);
        fakes [i] = s_dealer (env.endpoint, identity);
        SEND (fakes [i], S ("ZXW01"), S ("\x01"), S ("fake"), B (info, sizeof info), S ("w"));
    }
    const char *log = env.broker->log;
    s_expect_log (log, "too many workers: READY from hostile-many-", "WARNING", FAKES - 19);
    s_expect_log (log, "worker hostile-many-", " ready", 19);
    s_env_check (&env, "200 READYs");
    usleep (200000);
    assert_int_equal (zx_test_log_count (log, "worker hostile-many-", " ready"), 19);
    for (int i = 0; i < FAKES; i++)
        s_close (&fakes [i]);
    s_env_stop (&env);
    s_passed = true;
}

//  READYs that never made a worker, and workers that vanished while work
//  was dealt to them, must not stay in the broker's tables: with a cap of
//  three workers, a second good worker must still get in.
static void
test_workers_that_never_registered_or_vanished_are_forgotten (void **state)
{
    (void) state;
    s_env_t env;
    const char *extra [] = { "--max-workers", "3", NULL };
    s_env_start_with (&env, "1000", extra);
    const char *log = env.broker->log;
    uint8_t info [ZX_READY_INFO_SIZE];
    s_info (info, 1);
    //  Good service, bad info frame: mapped, then refused by the dispatcher
    for (int i = 0; i < 5; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-badinfo-%d", i);
        void *raw = s_dealer (env.endpoint, identity);
        SEND (raw, S ("ZXW01"), S ("\x01"), S ("default"), B (info, 3), S ("w"));
        s_expect_log (log, "malformed READY from", identity, 1);
        s_close (&raw);
    }
    assert_int_equal (zx_test_log_count (log, "too many workers", NULL), 0);
    //  Two workers that say READY for the good service and go away
    for (int i = 0; i < 2; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-vanish-%d", i);
        void *raw = s_fake_worker (&env, identity, "default", 4);
        s_close (&raw);
    }
    usleep (200000);                //  The broker notices the closed connections
    //  Work dealt to them finds them gone and goes to the good worker
    zx_future_t *futures [12];
    for (int i = 0; i < 12; i++)
        futures [i] = zx_run_in_executor (env.loop, env.remote, "square",
                                          zx_values_pack ("i", (int64_t) i));
    size_t done = 0;
    zx_wait (futures, 12, ZX_ALL_COMPLETED, 10000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 12);
    for (int i = 0; i < 12; i++) {
        if (zx_future_error (futures [i]) != ZX_OK)
            fail_msg ("task %d: %s", i, zx_future_message (futures [i]));
        zx_future_destroy (&futures [i]);
    }
    s_expect_log (log, "is unreachable", "hostile-vanish-", 2);
    //  Room for a second good worker
    zx_test_child_t *second = s_worker_start (&env);
    env.other = second->pid;
    s_env_check (&env, "READYs that never made a worker");
    assert_int_equal (zx_test_log_count (log, "too many workers", NULL), 0);
    s_stop_cleanly (second, "the second worker", 10000);
    s_env_stop (&env);
    s_passed = true;
}

//  --------------------------------------------------------------------
//  The other way round: a raw ROUTER posing as the broker

typedef struct {
    void *router;
    int port;
    char endpoint [64];
} s_fake_broker_t;

static void
s_fake_broker_new (s_fake_broker_t *self)
{
    self->router = s_socket_new (ZMQ_ROUTER);
    int linger = 0, timeout = 5000, zero = 0, one = 1;
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    for (int attempt = 0; attempt < 20; attempt++) {
        self->port = zx_test_free_port ();
        snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d", self->port);
        if (zmq_bind (self->router, self->endpoint) == 0)
            return;
    }
    fail_msg ("cannot bind a fake broker");
}

//  Sends frames to identity (the routing id frame first).
static void
s_fake_send (s_fake_broker_t *self, zmq_msg_t *identity, const zx_test_frame_t *frames, size_t count)
{
    if (zmq_send (self->router, zmq_msg_data (identity), zmq_msg_size (identity),
                  ZMQ_SNDMORE) < 0)
        fail_msg ("the fake broker cannot send: %s", zmq_strerror (errno));
    zx_test_send (self->router, frames, count);
}

#define FAKE_SEND(self, identity, ...) \
    s_fake_send (self, identity, (zx_test_frame_t []) { __VA_ARGS__ }, \
                 sizeof ((zx_test_frame_t []) { __VA_ARGS__ }) / sizeof (zx_test_frame_t))

//  The garbage both fake-broker tests send, with header as the protocol.
static void
s_fake_garbage (s_fake_broker_t *self, zmq_msg_t *identity, const char *header,
                const uint8_t *big, size_t big_size)
{
    const zx_test_frame_t h = B (header, 5);
    FAKE_SEND (self, identity, S (""));
    FAKE_SEND (self, identity, S (""), S (""), S (""));
    FAKE_SEND (self, identity, h);
    FAKE_SEND (self, identity, S ("ZXW02"), S ("\x02"), S ("x"));
    FAKE_SEND (self, identity, S ("MDPW01"), S ("\x02"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\x02\x02"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\x00"));
    FAKE_SEND (self, identity, h, S ("\x07"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\xff"));
    FAKE_SEND (self, identity, h, S ("\x01"), S ("default"), S ("info"), S ("name"));
    FAKE_SEND (self, identity, h, S ("\x02"));
    FAKE_SEND (self, identity, h, S ("\x02"), S ("x"), S ("y"), S ("z"));
    FAKE_SEND (self, identity, h, S ("\x03"));
    FAKE_SEND (self, identity, h, S ("\x03"), S ("\x01\x02\x03"));
    FAKE_SEND (self, identity, h, S ("\x06"));
    FAKE_SEND (self, identity, h, S ("\x06"), S ("1234567"));
    FAKE_SEND (self, identity, h, S ("\x04"), S ("extra"));
    FAKE_SEND (self, identity, h, S ("\x02"), B (big, big_size));
    FAKE_SEND (self, identity, h, S ("\x03"), B (big, big_size));
    FAKE_SEND (self, identity, B (big, big_size));
    //  100,000 tiny frames
    zmq_send (self->router, zmq_msg_data (identity), zmq_msg_size (identity), ZMQ_SNDMORE);
    for (int i = 0; i < 100000; i++)
        zmq_send (self->router, "x", 1, i + 1 < 100000 ? ZMQ_SNDMORE : 0);
}

static void
test_a_worker_survives_garbage_from_a_fake_broker (void **state)
{
    (void) state;
    s_fake_broker_t fake;
    s_fake_broker_new (&fake);
    //  Long heartbeats: the fake broker sends none
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", fake.endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "2",
                            "--heartbeat", "1000", "--liveness", "20", NULL };
    zx_test_child_t *worker = s_spawn (argv);
    zmq_msg_t frames [6], identity;
    size_t count = s_expect (fake.router, 1, "ZXW01", ZX_CMD_READY, frames, 6);
    assert_int_equal (count, 6);
    zmq_msg_init (&identity);
    zmq_msg_copy (&identity, &frames [0]);
    zx_test_close_frames (frames, count);

    enum { BIG = BIG_FRAME };
    uint8_t *big = malloc (BIG);
    assert_non_null (big);
    memset (big, 0xff, BIG);
    s_fake_garbage (&fake, &identity, "ZXW01", big, BIG);
    //  Requests that cannot run: bad arguments, no such task, a duplicate
    //  id, reserved ids, and a batch cut short
    zx__batch_t batch = { 0 };
    s_add_request (&batch, 100, "nope", 1);
    s_add_request (&batch, 101, "sleep_ms", 200);
    s_add_request (&batch, 101, "square", 1);
    s_add_request (&batch, 0, "square", 1);
    s_add_request (&batch, UINT64_MAX, "square", 1);
    uint8_t bad_args [64];
    size_t bad_size = 0;
    {
        zx__batch_t one = { 0 };
        assert_int_equal (zx__batch_add_request (&one, 102, 1, 0, "square", 6, "zzz", 3), ZX_OK);
        memcpy (bad_args, one.data, one.size);
        bad_size = one.size;
        zx__batch_free (&one);
    }
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (batch.data, batch.size));
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (bad_args, bad_size));
    zx__batch_t cut = { 0 };
    s_add_request (&cut, 200, "nope", 1);
    s_add_request (&cut, 201, "square", 1);
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (cut.data, cut.size - 5));
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x06"), S ("\x65\0\0\0\0\0\0\0"));
    //  And then a good one
    zx__batch_t good = { 0 };
    s_add_request (&good, 42, "square", 7);
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (good.data, good.size));

    //  Replies: 100 no such task, 101 once (run or cancelled), 102 bad
    //  request, 42 right; nothing for the rest
    int seen_42 = 0, seen_100 = 0, seen_101 = 0, seen_102 = 0;
    int64_t deadline = zx_test_now_ms () + 10000;
    while (!(seen_42 && seen_100 && seen_101 && seen_102) && zx_test_now_ms () < deadline) {
        count = s_expect (fake.router, 1, "ZXW01", ZX_CMD_REPLY, frames, 6);
        assert_int_equal (count, 4);
        const uint8_t *cursor = zmq_msg_data (&frames [3]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [3]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
            if (rec.corr == 42) {
                assert_int_equal (rec.status, ZX_STATUS_OK);
                zx_values_t *values = NULL;
                assert_int_equal (zx__values_decode (rec.payload, rec.payload_size, &values),
                                  ZX_OK);
                int64_t square = 0, pid = 0;
                zx_values_get_int (values, 0, &square);
                zx_values_get_int (values, 1, &pid);
                assert_int_equal (square, 49);
                assert_int_equal (pid, worker->pid);
                zx_values_destroy (&values);
                seen_42++;
            }
            else
            if (rec.corr == 100) {
                assert_int_equal (rec.status, ZX_STATUS_NO_SUCH_TASK);
                seen_100++;
            }
            else
            if (rec.corr == 101)
                seen_101++;
            else
            if (rec.corr == 102) {
                assert_int_equal (rec.status, ZX_STATUS_BAD_REQUEST);
                seen_102++;
            }
        }
        zx_test_close_frames (frames, count);
    }
    if (!(seen_42 && seen_100 && seen_101 && seen_102))
        fail_msg ("replies seen: 42 %d, 100 %d, 101 %d, 102 %d", seen_42, seen_100, seen_101,
                  seen_102);
    assert_true (zx_test_alive (worker));
    s_expect_log (worker->log, "malformed message from the broker: dropped", NULL, 5);
    s_expect_log (worker->log, "unexpected command", "from the broker: dropped", 5);
    s_expect_log (worker->log, "malformed REQUEST batch from the broker: rest dropped", NULL, 1);

    //  DISCONNECT: it connects again, under a new routing id
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x05"), S ("\x03protocol"));
    count = s_expect (fake.router, 1, "ZXW01", ZX_CMD_READY, frames, 6);
    assert_false (zx_test_frame_is (&frames [0], zmq_msg_data (&identity), zmq_msg_size (&identity)));
    zx_test_close_frames (frames, count);
    s_stop_cleanly (worker, "the worker", 10000);
    zmq_msg_close (&identity);
    zx__batch_free (&batch);
    zx__batch_free (&good);
    zx__batch_free (&cut);
    free (big);
    s_close (&fake.router);
    s_passed = true;
}

static void
test_a_coordinator_survives_garbage_from_a_fake_broker (void **state)
{
    (void) state;
    s_fake_broker_t fake;
    s_fake_broker_new (&fake);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = 1000, .liveness = 20 };
    zx_executor_t *remote = zx_remote_executor_new (fake.endpoint, &opts);
    assert_non_null (remote);
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++)
        futures [i] = zx_run_in_executor (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    //  Let the client send them
    size_t done = 0;
    zx_wait (futures, 4, ZX_ALL_COMPLETED, 200, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    zmq_msg_t frames [6], identity;
    size_t count = s_expect (fake.router, 1, "ZXC01", ZX_CMD_REQUEST, frames, 6);
    assert_int_equal (count, 5);
    zmq_msg_init (&identity);
    zmq_msg_copy (&identity, &frames [0]);
    uint64_t corrs [4];
    size_t found = 0;
    const uint8_t *cursor = zmq_msg_data (&frames [4]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [4]);
    zx__request_rec_t rec;
    while (found < 4 && zx__batch_next_request (&cursor, end, &rec) == ZX_OK)
        corrs [found++] = rec.corr;
    zx_test_close_frames (frames, count);
    assert_int_equal (found, 4);

    enum { BIG = BIG_FRAME };
    uint8_t *big = malloc (BIG);
    assert_non_null (big);
    memset (big, 0xff, BIG);
    s_fake_garbage (&fake, &identity, "ZXC01", big, BIG);
    //  Replies: an unknown id, an unknown status, a result that does not
    //  decode, a good one, and a batch cut short after a good one
    zx__batch_t batch = { 0 };
    s_add_reply (&batch, 999999, 1, ZX_STATUS_OK, 1, 1);
    s_add_reply (&batch, corrs [0], 1, 200, 1, 1);
    assert_int_equal (zx__batch_add_reply (&batch, corrs [1], 1, ZX_STATUS_OK, "zzz", 3), ZX_OK);
    s_add_reply (&batch, corrs [2], 1, ZX_STATUS_OK, 4, 4242);
    size_t whole = batch.size;
    s_add_reply (&batch, corrs [3], 1, ZX_STATUS_OK, 9, 4242);
    FAKE_SEND (&fake, &identity, S ("ZXC01"), S ("\x03"), B (batch.data, batch.size - 1));
    zx_wait (futures, 3, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 3);
    zx_wait (futures + 3, 1, ZX_ALL_COMPLETED, 200, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    assert_int_equal (zx_future_error (futures [0]), ZX_EPROTO);
    assert_int_equal (zx_future_error (futures [1]), ZX_EPROTO);
    assert_int_equal (zx_future_error (futures [2]), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (futures [2]), 0, &square), ZX_OK);
    assert_int_equal (square, 4);
    assert_false (zx_future_done (futures [3]));
    //  The last one, answered properly
    FAKE_SEND (&fake, &identity, S ("ZXC01"), S ("\x03"), B (batch.data + whole,
                                                               batch.size - whole));
    zx_wait (futures, 4, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 4);
    assert_int_equal (zx_values_get_int (zx_future_result (futures [3]), 0, &square), ZX_OK);
    assert_int_equal (square, 9);
    for (int i = 0; i < 4; i++)
        zx_future_destroy (&futures [i]);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zmq_msg_close (&identity);
    zx__batch_free (&batch);
    free (big);
    s_close (&fake.router);
    s_passed = true;
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_zero_length_frames_are_dropped_and_named_in_the_log),
    cmocka_unit_test (test_one_frame_messages_are_dropped_and_named_in_the_log),
    cmocka_unit_test (test_unknown_protocol_headers_and_versions_are_dropped),
    cmocka_unit_test (test_bad_command_bytes_are_dropped_on_both_faces),
    cmocka_unit_test (test_empty_300_byte_and_nul_service_names_are_refused),
    cmocka_unit_test (test_messages_with_missing_frames_are_dropped),
    cmocka_unit_test (test_a_reply_before_ready_is_answered_with_disconnect),
    cmocka_unit_test (test_a_second_ready_is_dropped),
    cmocka_unit_test (test_forged_replies_for_another_workers_requests_are_dropped),
    cmocka_unit_test (test_truncated_batches_are_dropped_after_their_good_records),
    cmocka_unit_test (test_a_message_of_100000_tiny_frames_is_drained_and_dropped),
    cmocka_unit_test (test_64_megabyte_frames_are_dropped_and_their_memory_returned),
    cmocka_unit_test (test_a_multipart_message_never_finished_is_never_seen),
    cmocka_unit_test (test_garbage_on_a_raw_tcp_connection_is_dropped),
    cmocka_unit_test (test_a_frame_claiming_exabytes_is_refused),
    cmocka_unit_test (test_readys_past_max_workers_are_dropped),
    cmocka_unit_test (test_workers_that_never_registered_or_vanished_are_forgotten),
    cmocka_unit_test (test_a_worker_survives_garbage_from_a_fake_broker),
    cmocka_unit_test (test_a_coordinator_survives_garbage_from_a_fake_broker),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
#ifdef ZX_SANITIZED
    //  A peer may claim a frame of 2^62 octets: in the broker, libzmq's
    //  malloc for it must fail as the system's does, not stop the program
    const char *names [] = { "ASAN_OPTIONS", "TSAN_OPTIONS" };
    for (int i = 0; i < 2; i++) {
        char options [1024];
        const char *given = getenv (names [i]);
        snprintf (options, sizeof options, "%s%sallocator_may_return_null=1",
                  given ? given : "", given && *given ? ":" : "");
        setenv (names [i], options, 1);
    }
#endif
    for (size_t i = 0; i < sizeof tests / sizeof tests [0]; i++) {
        tests [i].setup_func = s_setup;
        tests [i].teardown_func = s_teardown;
    }
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
