/*  test_security.c - CURVE on a real zexec-broker over tcp loopback:
    who gets in, in which role, for how long, and what caps hold.

    Each test makes a scratch directory of certificates (the broker's, and
    coordinators' and workers' in their allow-list directories; outsiders'
    elsewhere), starts a real zexec-broker with --cert, --clients and
    --workers and a real zexec-worker with --server-key and --cert, and a
    good coordinator in this process (a remote executor given its keys
    through ZEXEC_SERVER_KEY and ZEXEC_CERT, and the options). Attackers
    are raw libzmq sockets (with or without keys), raw tcp sockets,
    coordinators and zexec-workers with the wrong keys. Each test checks
    what the attacker got (nothing, an error, a DISCONNECT) and that the
    good peers still work; most end by stopping the broker and the worker
    with SIGTERM and expecting exit 0 (a leak fails it under ASan).

    Every process a test starts is killed and reaped by the teardown, also
    when the test fails (then their logs are printed). Every wait is
    bounded.                                                              */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_proto.h"
#include "zx_values.h"

#include <czmq.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zmq.h>

#if !defined (ZX_BROKER_PROGRAM) || !defined (ZX_WORKER_PROGRAM) \
 || !defined (ZX_TEST_TASKS) || !defined (ZX_KEYGEN_PROGRAM)
#   error "tests/CMakeLists.txt passes the paths of the programs and the tasks"
#endif

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1       //  Freed memory is held back: no RSS bounds
#endif

#define HEARTBEAT   "500"
#define MAX_CHILDREN 8
#define MAX_RAW     64

//  --------------------------------------------------------------------
//  The fixture: certificates, processes, raw sockets

typedef struct {
    char dir [256];                     //  Scratch directory
    char broker_key [41];               //  The broker's public key
    zx_test_child_t children [MAX_CHILDREN];
    size_t child_count;
    zx_test_child_t *broker;
    zx_test_child_t *worker;
    int port;
    char endpoint [64];
    void *ctx;                          //  libzmq context of the raw sockets
    void *raw [MAX_RAW];
    zx_loop_t *loop;
    zx_executor_t *remote;              //  The good coordinator
    int64_t next;
} s_env_t;

static s_env_t s_env;
static bool s_passed;

//  Writes certificate NAME: its pair under keys/, and its public file in
//  the allow-list directory list ("clients", "workers" or NULL). The
//  metadata value, if any, is stored under "note".
static void
s_cert (const char *name, const char *list, const char *note)
{
    zcert_t *cert = zcert_new ();
    assert_non_null (cert);
    if (note)
        zcert_set_meta (cert, "note", "%s", note);
    char path [512];
    snprintf (path, sizeof path, "%s/keys/%s", s_env.dir, name);
    assert_int_equal (zcert_save (cert, path), 0);
    if (list) {
        snprintf (path, sizeof path, "%s/%s/%s", s_env.dir, list, name);
        assert_int_equal (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
}

//  The path of certificate NAME's pair (as peers give it with --cert).
static const char *
s_key_path (const char *name)
{
    static char paths [4][512];
    static int next;
    char *path = paths [next++ % 4];
    snprintf (path, 512, "%s/keys/%s", s_env.dir, name);
    return path;
}

//  The public key of certificate NAME.
static void
s_public (const char *name, char key [41])
{
    zcert_t *cert = zcert_load (s_key_path (name));
    assert_non_null (cert);
    memcpy (key, zcert_public_txt (cert), 41);
    zcert_destroy (&cert);
}

static int
s_setup (void **state)
{
    (void) state;
    s_passed = false;
    memset (&s_env, 0, sizeof s_env);
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_env.dir, sizeof s_env.dir, "%s/zexec-security-XXXXXX", tmp);
    assert_non_null (mkdtemp (s_env.dir));
    const char *subdirs [] = { "keys", "clients", "workers" };
    for (int i = 0; i < 3; i++) {
        char path [512];
        snprintf (path, sizeof path, "%s/%s", s_env.dir, subdirs [i]);
        assert_int_equal (mkdir (path, 0700), 0);
    }
    s_cert ("broker", NULL, NULL);
    s_public ("broker", s_env.broker_key);
    s_cert ("c1", "clients", "the good coordinator");
    s_cert ("w1", "workers", "the good worker");
    s_cert ("stranger", NULL, NULL);
    s_env.ctx = zmq_ctx_new ();
    assert_non_null (s_env.ctx);
    s_env.next = 1;
    return 0;
}

static int
s_remove (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    chmod (path, 0700);
    return remove (path);
}

static int
s_teardown (void **state)
{
    (void) state;
    zx_executor_destroy (&s_env.remote);
    zx_loop_destroy (&s_env.loop);
    for (size_t i = 0; i < s_env.child_count; i++)
        zx_test_reap (&s_env.children [i], !s_passed || getenv ("ZX_SHOW_LOGS"));
    for (size_t i = 0; i < MAX_RAW; i++)
        if (s_env.raw [i]) {
            int linger = 0;
            zmq_setsockopt (s_env.raw [i], ZMQ_LINGER, &linger, sizeof linger);
            zmq_close (s_env.raw [i]);
        }
    zmq_ctx_term (s_env.ctx);
    nftw (s_env.dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv ("ZEXEC_SERVER_KEY");
    unsetenv ("ZEXEC_CERT");
    return 0;
}

static zx_test_child_t *
s_spawn (const char *const argv [])
{
    assert_true (s_env.child_count < MAX_CHILDREN);
    zx_test_child_t *child = &s_env.children [s_env.child_count++];
    zx_test_spawn (child, "security", argv);
    return child;
}

static void
s_stop_cleanly (zx_test_child_t *child, const char *what)
{
    if (!zx_test_alive (child))
        fail_msg ("%s had already ended (status 0x%x)", what, child->status);
    int status = zx_test_stop (child, SIGTERM, 10000);
    if (status < 0)
        fail_msg ("%s did not exit within 10 s of SIGTERM", what);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("%s did not exit cleanly after SIGTERM (status 0x%x)", what, status);
}

static void
s_expect_log (const char *path, const char *text, const char *more, int count)
{
    if (!zx_test_log_wait (path, text, more, count, 10000))
        fail_msg ("expected %d log lines with '%s'%s%s%s, found %d", count, text,
                  more ? " and '" : "", more ? more : "", more ? "'" : "",
                  zx_test_log_count (path, text, more));
}

//  Starts a CURVE broker with up to eight extra arguments (NULL-ended)
//  and waits until it listens.
static void
s_broker_start (const char *const *extra)
{
    char cert [512], clients [512], workers [512];
    snprintf (cert, sizeof cert, "%s/keys/broker_secret", s_env.dir);
    snprintf (clients, sizeof clients, "%s/clients", s_env.dir);
    snprintf (workers, sizeof workers, "%s/workers", s_env.dir);
    for (int attempt = 0; attempt < 20; attempt++) {
        s_env.port = zx_test_free_port ();
        snprintf (s_env.endpoint, sizeof s_env.endpoint, "tcp://127.0.0.1:%d", s_env.port);
        const char *argv [32] = { ZX_BROKER_PROGRAM, "--bind", s_env.endpoint,
                                  "--heartbeat", HEARTBEAT, "--liveness", "3", "--verbose",
                                  "--cert", cert, "--clients", clients, "--workers", workers };
        for (size_t i = 0; extra && extra [i] && i < 8; i++)
            argv [14 + i] = extra [i];
        s_env.broker = s_spawn (argv);
        int64_t deadline = zx_test_now_ms () + 10000;
        while (!zx_test_log_count (s_env.broker->log, "listening on", NULL)) {
            if (!zx_test_alive (s_env.broker))
                break;                  //  Could not bind: try another port
            if (zx_test_now_ms () > deadline)
                fail_msg ("zexec-broker did not listen on %s within 10 s", s_env.endpoint);
            usleep (5000);
        }
        if (zx_test_alive (s_env.broker))
            return;
        usleep (100000);
    }
    fail_msg ("zexec-broker could not bind a port in 20 attempts");
}

//  Starts a zexec-worker with certificate name and server key server
//  (a key or a file; NULL: the broker's public certificate file).
static zx_test_child_t *
s_worker_spawn (const char *name, const char *server)
{
    char broker [512];
    snprintf (broker, sizeof broker, "%s/keys/broker", s_env.dir);
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", s_env.endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "2",
                            "--heartbeat", HEARTBEAT, "--liveness", "3", "--verbose",
                            "--server-key", server ? server : broker,
                            "--cert", s_key_path (name), NULL };
    return s_spawn (argv);
}

//  The broker's log line prefix for a zexec-worker process.
static void
s_worker_name (char *name, size_t size, pid_t pid)
{
    char host [64] = "host";
    gethostname (host, sizeof host - 1);
    snprintf (name, size, "worker %s.%d.", host, (int) pid);
}

static zx_test_child_t *
s_worker_start (const char *name)
{
    zx_test_child_t *worker = s_worker_spawn (name, NULL);
    char prefix [128];
    s_worker_name (prefix, sizeof prefix, worker->pid);
    if (!zx_test_log_wait (s_env.broker->log, prefix, " ready", 1, 10000))
        fail_msg ("%s never became ready at the broker", prefix);
    return worker;
}

//  A remote executor with certificate name and server key server (NULL:
//  the broker's), given in its options. service NULL is "default".
static zx_executor_t *
s_coordinator (const char *name, const char *server, const char *service)
{
    const char *key = server ? server : s_env.broker_key;
    const char *cert = s_key_path (name);
    zx_executor_opts_t opts = { .heartbeat_ms = atoi (HEARTBEAT), .liveness = 3,
                                .service = service, .curve_server_key = key,
                                .curve_cert = cert };
    zx_executor_t *remote = zx_remote_executor_new (s_env.endpoint, &opts);
    assert_non_null (remote);
    return remote;
}

//  The same, with the keys in the environment only (ZEXEC_SERVER_KEY,
//  ZEXEC_CERT), as the seed examples and other unchanged programs get them.
static zx_executor_t *
s_coordinator_from_env (const char *name)
{
    setenv ("ZEXEC_SERVER_KEY", s_env.broker_key, 1);
    setenv ("ZEXEC_CERT", s_key_path (name), 1);
    zx_executor_opts_t opts = { .heartbeat_ms = atoi (HEARTBEAT), .liveness = 3 };
    zx_executor_t *remote = zx_remote_executor_new (s_env.endpoint, &opts);
    unsetenv ("ZEXEC_SERVER_KEY");
    unsetenv ("ZEXEC_CERT");
    assert_non_null (remote);
    return remote;
}

//  The broker, the good worker and the good coordinator.
static void
s_env_start (const char *const *extra)
{
    s_broker_start (extra);
    s_env.worker = s_worker_start ("w1");
    s_env.loop = zx_loop_new ();
    assert_non_null (s_env.loop);
    s_env.remote = s_coordinator ("c1", NULL, NULL);
}

//  The broker and the good worker run, and the good coordinator gets
//  twenty right squares, all from the good worker.
static void
s_env_check (const char *after)
{
    if (!zx_test_alive (s_env.broker))
        fail_msg ("the broker died after %s (status 0x%x)", after, s_env.broker->status);
    zx_test_expect_squares (s_env.loop, s_env.remote, &s_env.next, 20, s_env.worker->pid, 0,
                            after);
}

static void
s_env_stop (void)
{
    zx_executor_destroy (&s_env.remote);
    zx_loop_destroy (&s_env.loop);
    s_stop_cleanly (s_env.worker, "the good worker");
    s_stop_cleanly (s_env.broker, "the broker");
}

//  Submits one task on executor and waits up to timeout_ms for its end;
//  returns the future (caller destroys it), done or not.
static zx_future_t *
s_run_one (zx_executor_t *executor, const char *task, int64_t arg, int64_t timeout_ms)
{
    zx_future_t *future = zx_run_in_executor (s_env.loop, executor, task,
                                              zx_values_pack ("i", arg));
    assert_non_null (future);
    size_t done = 0;
    zx_wait (&future, 1, ZX_ALL_COMPLETED, timeout_ms, NULL, &done, NULL, NULL);
    return future;
}

//  --------------------------------------------------------------------
//  Raw sockets

typedef enum { RAW_NULL, RAW_PLAIN, RAW_CURVE } s_raw_kind_t;

//  A raw DEALER with routing id identity: no security, PLAIN, or CURVE
//  with certificate name and server key server (NULL: the broker's).
static void *
s_raw (const char *identity, s_raw_kind_t kind, const char *name, const char *server)
{
    void *socket = zmq_socket (s_env.ctx, ZMQ_DEALER);
    assert_non_null (socket);
    size_t slot = 0;
    while (slot < MAX_RAW && s_env.raw [slot])
        slot++;
    assert_true (slot < MAX_RAW);
    s_env.raw [slot] = socket;
    int linger = 0, timeout = 200, zero = 0;
    zmq_setsockopt (socket, ZMQ_ROUTING_ID, identity, strlen (identity));
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &zero, sizeof zero);
    if (kind == RAW_PLAIN) {
        zmq_setsockopt (socket, ZMQ_PLAIN_USERNAME, "admin", 5);
        zmq_setsockopt (socket, ZMQ_PLAIN_PASSWORD, "secret", 6);
    }
    if (kind == RAW_CURVE) {
        zcert_t *cert = zcert_load (s_key_path (name));
        assert_non_null (cert);
        const char *server_key = server ? server : s_env.broker_key;
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server_key, 40), 0);
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY,
                                          zcert_public_txt (cert), 40), 0);
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY,
                                          zcert_secret_txt (cert), 40), 0);
        zcert_destroy (&cert);
    }
    assert_int_equal (zmq_connect (socket, s_env.endpoint), 0);
    return socket;
}

//  Receives the next message whose header is header and command command
//  within timeout_ms (others are skipped) into frames; returns its frame
//  count, 0 when none came.
static size_t
s_recv_command (void *socket, const char *header, uint8_t command, zmq_msg_t *frames,
                size_t max, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_test_now_ms () < deadline) {
        size_t count = 0;
        bool more = true;
        while (more) {
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, socket, 0) < 0) {
                zmq_msg_close (&frame);
                break;
            }
            more = zmq_msg_more (&frame);
            if (count < max)
                frames [count++] = frame;
            else
                zmq_msg_close (&frame);
        }
        if (count >= 2 && zmq_msg_size (&frames [0]) == 5
        &&  memcmp (zmq_msg_data (&frames [0]), header, 5) == 0
        &&  zmq_msg_size (&frames [1]) == 1 && *(uint8_t *) zmq_msg_data (&frames [1]) == command)
            return count;
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
    return 0;
}

//  Receives anything at all within timeout_ms other than a HEARTBEAT:
//  true when something came.
static bool
s_recv_anything (void *socket, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_test_now_ms () < deadline) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, 0) >= 0) {
            bool heartbeat = false;
            if (zmq_msg_more (&frame)) {
                zmq_msg_t command;
                zmq_msg_init (&command);
                zmq_msg_recv (&command, socket, 0);
                heartbeat = zmq_msg_size (&command) == 1
                         && *(uint8_t *) zmq_msg_data (&command) == ZX_CMD_HEARTBEAT;
                while (zmq_msg_more (&command))
                    zmq_msg_recv (&command, socket, 0);
                zmq_msg_close (&command);
            }
            zmq_msg_close (&frame);
            if (!heartbeat)
                return true;
        }
        else
            zmq_msg_close (&frame);
    }
    return false;
}

//  A READY as a worker of service sends it.
static void
s_send_ready (void *socket, const char *service, const char *name)
{
    uint8_t info [ZX_READY_INFO_SIZE];
    zx__put_u32 (info, 4);
    zx__put_u32 (info + 4, 0);
    zx__put_u32 (info + 8, 4242);
    zx__put_u32 (info + 12, 1);
    SEND (socket, S ("ZXW01"), S ("\x01"), B (service, strlen (service)),
          B (info, sizeof info), B (name, strlen (name)));
}

//  A REQUEST of count records (ids from first) for task with an int
//  argument, for service.
static void
s_send_request (void *socket, const char *service, uint64_t first, int count, const char *task)
{
    zx__batch_t batch = { 0 };
    zx_values_t *args = zx_values_pack ("i", (int64_t) 3);
    size_t size;
    const void *data = zx__values_data (args, &size);
    for (int i = 0; i < count; i++)
        assert_int_equal (zx__batch_add_request (&batch, first + (uint64_t) i, 1, 0, task,
                                                 strlen (task), data, size), ZX_OK);
    zx_values_destroy (&args);
    SEND (socket, S ("ZXC01"), S ("\x02"), B (service, strlen (service)),
          B (batch.data, batch.size));
    zx__batch_free (&batch);
}

//  Counts the reply records in a REPLY's batch frame whose status is
//  status and whose text holds text (NULL: any).
static int
s_count_replies (zmq_msg_t *batch, uint8_t status, const char *text)
{
    const uint8_t *cursor = zmq_msg_data (batch);
    const uint8_t *end = cursor + zmq_msg_size (batch);
    zx__reply_rec_t rec;
    int count = 0;
    while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK)
        if (rec.status == status
        &&  (!text || memmem (rec.payload, rec.payload_size, text, strlen (text))))
            count++;
    return count;
}

//  Connects a plain tcp socket to the broker.
static int
s_tcp_connect (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (s_env.port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    return fd;
}

//  --------------------------------------------------------------------
//  Who gets in

static void
test_listed_keys_run_tasks_and_the_broker_says_curve (void **state)
{
    (void) state;
    s_env_start (NULL);
    const char *log = s_env.broker->log;
    s_expect_log (log, "CURVE on tcp://127.0.0.1", s_env.broker_key, 1);
    assert_int_equal (zx_test_log_count (log, "no authentication", NULL), 0);
    s_env_check ("start");
    //  Keys from the environment work as well as from the options
    zx_executor_t *from_env = s_coordinator_from_env ("c1");
    zx_future_t *future = s_run_one (from_env, "square", 7, 10000);
    assert_int_equal (zx_future_error (future), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (future), 0, &square), ZX_OK);
    assert_int_equal (square, 49);
    zx_future_destroy (&future);
    zx_executor_destroy (&from_env);
    s_env_stop ();
    s_passed = true;
}

static void
test_an_unknown_coordinator_key_is_refused_and_its_tasks_fail (void **state)
{
    (void) state;
    s_env_start (NULL);
    char stranger [41];
    s_public ("stranger", stranger);
    zx_executor_t *intruder = s_coordinator ("stranger", NULL, NULL);
    int64_t start = zx_test_now_ms ();
    zx_future_t *future = s_run_one (intruder, "square", 5, 10000);
    assert_true (zx_future_done (future));
    if (zx_future_error (future) == ZX_OK)
        fail_msg ("a coordinator with an unknown key ran a task");
    assert_int_equal (zx_future_error (future), ZX_EPROTO);
    assert_non_null (strstr (zx_future_message (future), "refused this coordinator's CURVE key"));
    assert_true (zx_test_now_ms () - start < 5000);
    zx_future_destroy (&future);
    zx_executor_destroy (&intruder);
    s_expect_log (s_env.broker->log, "refused a CURVE handshake", stranger, 1);
    assert_int_equal (zx_test_log_count (s_env.broker->log, "coordinator", "connected"), 0);
    s_env_check ("an unknown coordinator");
    s_env_stop ();
    s_passed = true;
}

static void
test_an_unknown_worker_key_is_refused_and_gets_no_work (void **state)
{
    (void) state;
    s_env_start (NULL);
    char stranger [41];
    s_public ("stranger", stranger);
    zx_test_child_t *intruder = s_worker_spawn ("stranger", NULL);
    s_expect_log (s_env.broker->log, "refused a CURVE handshake", stranger, 1);
    //  The refused worker says why, once
    s_expect_log (intruder->log, "refused this worker's CURVE key", NULL, 1);
    s_env_check ("an unknown worker");      //  Every task ran on the good worker
    char name [128];
    s_worker_name (name, sizeof name, intruder->pid);
    assert_int_equal (zx_test_log_count (s_env.broker->log, name, NULL), 0);
    assert_true (zx_test_alive (intruder));
    zx_test_stop (intruder, SIGKILL, 5000);
    s_env_stop ();
    s_passed = true;
}

//  No security, PLAIN, and bytes that are not ZMTP at all, beside the good
//  coordinator: none gets a reply or a line in the broker's log under its
//  routing id.
static void
test_null_and_plain_peers_and_raw_tcp_garbage_get_nothing (void **state)
{
    (void) state;
    s_env_start (NULL);
    const char *log = s_env.broker->log;
    void *null = s_raw ("hostile-null", RAW_NULL, NULL, NULL);
    void *plain = s_raw ("hostile-plain", RAW_PLAIN, NULL, NULL);
    void *sockets [] = { null, plain };
    for (int i = 0; i < 2; i++) {
        s_send_ready (sockets [i], "default", "w");
        s_send_request (sockets [i], "default", 1, 3, "square");
        SEND (sockets [i], S ("ZXC01"), S ("\x04"));
    }
    //  Garbage: random bytes, HTTP, a NULL greeting and READY
    int fd = s_tcp_connect ();
    uint8_t noise [4096];
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof noise; i++) {
        seed = seed * 1103515245 + 12345;
        noise [i] = (uint8_t) (seed >> 16);
    }
    ssize_t sent = send (fd, noise, sizeof noise, MSG_NOSIGNAL);
    (void) sent;
    close (fd);
    fd = s_tcp_connect ();
    const char *http = "GET / HTTP/1.1\r\nHost: zexec\r\n\r\n";
    sent = send (fd, http, strlen (http), MSG_NOSIGNAL);
    uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
    int fd2 = s_tcp_connect ();
    sent = send (fd2, greeting, sizeof greeting, MSG_NOSIGNAL);
    s_env_check ("NULL and PLAIN peers and tcp garbage");
    for (int i = 0; i < 2; i++)
        if (s_recv_anything (sockets [i], 1000))
            fail_msg ("a %s peer got a message from a CURVE broker", i ? "PLAIN" : "NULL");
    assert_int_equal (zx_test_log_count (log, "hostile-null", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "hostile-plain", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "service 'default' opened", NULL), 1);
    close (fd);
    close (fd2);
    s_env_stop ();
    s_passed = true;
}

static void
test_a_wrong_server_key_gets_nothing (void **state)
{
    (void) state;
    s_env_start (NULL);
    char wrong [41];
    s_public ("stranger", wrong);
    //  Listed keys, but the server key of somebody else
    void *raw = s_raw ("hostile-wrong-server", RAW_CURVE, "c1", wrong);
    s_send_request (raw, "default", 1, 3, "square");
    zx_executor_t *confused = s_coordinator ("c1", wrong, NULL);
    zx_future_t *future = s_run_one (confused, "square", 6, 10000);
    assert_true (zx_future_done (future));
    if (zx_future_error (future) == ZX_OK)
        fail_msg ("a coordinator with a wrong server key ran a task");
    zx_future_destroy (&future);
    zx_executor_destroy (&confused);
    zx_test_child_t *worker = s_worker_spawn ("w1", wrong);
    usleep (1500 * 1000);
    char name [128];
    s_worker_name (name, sizeof name, worker->pid);
    assert_int_equal (zx_test_log_count (s_env.broker->log, name, NULL), 0);
    s_expect_log (worker->log, "CURVE handshake with the broker", "failed", 1);
    if (s_recv_anything (raw, 500))
        fail_msg ("a peer with a wrong server key got a message");
    assert_int_equal (zx_test_log_count (s_env.broker->log, "hostile-wrong-server", NULL), 0);
    s_env_check ("wrong server keys");
    zx_test_stop (worker, SIGKILL, 5000);
    s_env_stop ();
    s_passed = true;
}

//  --------------------------------------------------------------------
//  Roles

static void
test_a_coordinator_key_sending_ready_is_disconnected_and_never_gets_a_request (void **state)
{
    (void) state;
    s_env_start (NULL);
    char c1 [41];
    s_public ("c1", c1);
    void *raw = s_raw ("hostile-client-as-worker", RAW_CURVE, "c1", NULL);
    s_send_ready (raw, "default", "w");
    zmq_msg_t frames [4];
    size_t count = s_recv_command (raw, "ZXW01", ZX_CMD_DISCONNECT, frames, 4, 5000);
    if (count == 0)
        fail_msg ("a coordinator's key said READY and got no DISCONNECT");
    zx_test_close_frames (frames, count);
    s_expect_log (s_env.broker->log, "READY from hostile-client-as-worker", "disconnected", 1);
    //  It keeps trying: READY again, a REPLY, heartbeats. Work goes only
    //  to the good worker (s_env_check checks every task's process).
    s_send_ready (raw, "default", "w");
    SEND (raw, S ("ZXW01"), S ("\x04"));
    s_env_check ("a coordinator's key said READY");
    count = s_recv_command (raw, "ZXW01", ZX_CMD_REQUEST, frames, 4, 1000);
    if (count) {
        zx_test_close_frames (frames, count);
        fail_msg ("a coordinator's key got a REQUEST as a worker");
    }
    assert_int_equal (zx_test_log_count (s_env.broker->log, "worker hostile-client-as-worker",
                                         " ready"), 0);
    s_env_stop ();
    s_passed = true;
}

static void
test_a_worker_key_cannot_submit_work (void **state)
{
    (void) state;
    s_env_start (NULL);
    void *raw = s_raw ("hostile-worker-as-client", RAW_CURVE, "w1", NULL);
    s_send_request (raw, "default", 1, 3, "square");
    zmq_msg_t frames [4];
    size_t count = s_recv_command (raw, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    if (count != 3)
        fail_msg ("a worker's key that submitted work got no REPLY of refusals");
    assert_int_equal (s_count_replies (&frames [2], ZX_STATUS_TASK_ERROR, "permission denied"), 3);
    assert_int_equal (s_count_replies (&frames [2], ZX_STATUS_OK, NULL), 0);
    zx_test_close_frames (frames, count);
    s_expect_log (s_env.broker->log, "REQUEST from hostile-worker-as-client", "refused", 1);
    assert_int_equal (zx_test_log_count (s_env.broker->log, "coordinator hostile-worker-as-client",
                                         "connected"), 0);
    //  A worker's key may still serve as a worker, with the same key
    void *other = s_raw ("worker-with-w1", RAW_CURVE, "w1", NULL);
    s_send_ready (other, "spare", "w");
    s_expect_log (s_env.broker->log, "worker worker-with-w1 ready", NULL, 1);
    s_env_check ("a worker's key submitted work");
    s_env_stop ();
    s_passed = true;
}

//  Removing a key from an allow-list ends its live connection's role
//  within seconds: a zexec-worker is sent DISCONNECT and refused when it
//  comes back; a coordinator's tasks fail and it is sent DISCONNECT; a
//  raw peer's later messages are dropped.
static void
test_a_key_removed_from_the_allow_list_loses_its_live_connection (void **state)
{
    (void) state;
    s_cert ("w2", "workers", NULL);
    s_cert ("c2", "clients", NULL);
    s_cert ("c3", "clients", NULL);
    const char *extra [] = { "--no-worker-wait", "60000", NULL };
    s_env_start (extra);
    const char *log = s_env.broker->log;
    char w2 [41], c3 [41];
    s_public ("w2", w2);
    s_public ("c3", c3);
    zx_test_child_t *second = s_worker_start ("w2");
    //  A coordinator with a task waiting, and a raw one with a request
    //  waiting, both for a service nobody serves
    zx_executor_t *c2 = s_coordinator ("c2", NULL, "nobody");
    zx_future_t *waiting = zx_run_in_executor (s_env.loop, c2, "square",
                                               zx_values_pack ("i", (int64_t) 2));
    void *raw = s_raw ("raw-c3", RAW_CURVE, "c3", NULL);
    s_send_request (raw, "nobody", 1, 2, "square");
    size_t done = 0;
    zx_wait (&waiting, 1, ZX_ALL_COMPLETED, 300, NULL, &done, NULL, NULL);   //  Sends it
    assert_int_equal (done, 0);
    s_expect_log (log, "coordinator raw-c3 connected", NULL, 1);
    s_expect_log (log, "coordinator", "connected", 2);        //  c2 and raw-c3
    //  The raw coordinator heartbeats by hand; c2 does while its loop runs
    SEND (raw, S ("ZXC01"), S ("\x04"));

    char path [512];
    const char *gone [] = { "w2", "c2", "c3" };
    int64_t removed = zx_test_now_ms ();
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s/%s", s_env.dir, i ? "clients" : "workers", gone [i]);
        assert_int_equal (unlink (path), 0);
    }
    //  The coordinator: its waiting task fails at once, its later ones too
    zx_wait (&waiting, 1, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 1);
    assert_int_equal (zx_future_error (waiting), ZX_EWORKER_LOST);
    assert_non_null (strstr (zx_future_message (waiting), "removed from the allow-list"));
    int64_t took = zx_test_now_ms () - removed;
    print_message ("a removed coordinator's task failed %lld ms after the removal\n",
                   (long long) took);
    assert_true (took < 4000);
    zx_future_destroy (&waiting);
    zx_future_t *later = s_run_one (c2, "square", 3, 10000);
    assert_true (zx_future_done (later));
    assert_int_not_equal (zx_future_error (later), ZX_OK);
    zx_future_destroy (&later);
    zx_executor_destroy (&c2);
    //  The worker: DISCONNECT, and refused when it connects again
    char name [128];
    s_worker_name (name, sizeof name, second->pid);
    s_expect_log (log, name, "removed from the allow-list: disconnected", 1);
    s_expect_log (second->log, "the broker said goodbye", NULL, 1);
    s_expect_log (log, "refused a CURVE handshake", w2, 1);
    //  The raw coordinator: its requests' failures, then DISCONNECT
    zmq_msg_t frames [4];
    size_t count = s_recv_command (raw, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    assert_int_equal (count, 3);
    assert_int_equal (s_count_replies (&frames [2], ZX_STATUS_WORKER_LOST, NULL), 2);
    zx_test_close_frames (frames, count);
    count = s_recv_command (raw, "ZXC01", ZX_CMD_DISCONNECT, frames, 4, 5000);
    assert_true (count >= 2);
    zx_test_close_frames (frames, count);
    //  And what it sends later is dropped, with no reply at all
    s_send_request (raw, "default", 10, 2, "square");
    if (s_recv_anything (raw, 1500))
        fail_msg ("a coordinator whose key was removed got an answer");
    s_expect_log (log, "raw-c3", "not a coordinator's: dropped", 1);
    assert_int_equal (zx_test_log_count (log, "coordinator raw-c3 connected", NULL), 1);
    //  The good peers are untouched: every task runs on the good worker
    s_env_check ("keys removed");
    zx_test_stop (second, SIGKILL, 5000);
    //  A key put back is let in again
    s_cert ("c4", "clients", NULL);
    usleep (1500 * 1000);
    zx_executor_t *c4 = s_coordinator ("c4", NULL, NULL);
    zx_future_t *back = s_run_one (c4, "square", 4, 10000);
    assert_int_equal (zx_future_error (back), ZX_OK);
    zx_future_destroy (&back);
    zx_executor_destroy (&c4);
    s_env_stop ();
    s_passed = true;
}

//  --------------------------------------------------------------------
//  Keys and certificates

static void
test_keygen_writes_a_private_secret_and_refuses_long_metadata (void **state)
{
    (void) state;
    char path [512], secret [520];
    snprintf (path, sizeof path, "%s/made", s_env.dir);
    snprintf (secret, sizeof secret, "%s_secret", path);
    char *out = NULL;
    int status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--meta", "role=worker",
                                                   path, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    //  The public key is the one line of 40 characters on stdout
    char printed [41] = "";
    for (char *line = strtok (out, "\n"); line; line = strtok (NULL, "\n"))
        if (strlen (line) == 40 && !strchr (line, ' '))
            memcpy (printed, line, 41);
    free (out);
    assert_int_equal (strlen (printed), 40);
    struct stat info;
    assert_int_equal (stat (secret, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    assert_int_equal (stat (path, &info), 0);
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    assert_string_equal (zcert_public_txt (cert), printed);
    assert_string_not_equal (zcert_secret_txt (cert), "0000000000000000000000000000000000000000");
    assert_string_equal (zcert_meta (cert, "role"), "worker");
    zcert_destroy (&cert);
    //  --show prints the same key, from either file
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--show", secret, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_int_equal (strlen (out), 41);
    assert_memory_equal (out, printed, 40);
    free (out);
    //  It does not overwrite, unless told
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, path, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    assert_non_null (strstr (out, "exists"));
    free (out);
    //  Metadata over 400 bytes is refused, and nothing is written
    char meta [600];
    snprintf (meta, sizeof meta, "note=%0500d", 0);
    snprintf (path, sizeof path, "%s/long", s_env.dir);
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--meta", meta, path, NULL },
                                  &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    assert_non_null (strstr (out, "over the limit of 400"));
    free (out);
    assert_int_not_equal (access (path, F_OK), 0);
    snprintf (secret, sizeof secret, "%s_secret", path);
    assert_int_not_equal (access (secret, F_OK), 0);
    s_passed = true;
}

//  A certificate with long metadata (made with czmq, not the keygen) in
//  an allow-list is skipped with a warning: its key is refused.
static void
test_a_listed_certificate_with_oversize_metadata_is_skipped (void **state)
{
    (void) state;
    char note [501];
    memset (note, 'm', 500);
    note [500] = 0;
    s_cert ("verbose", "clients", note);
    char key [41];
    s_public ("verbose", key);
    s_env_start (NULL);
    s_expect_log (s_env.broker->log, "certificate metadata over 400 bytes: skipped", "verbose", 1);
    s_expect_log (s_env.broker->log, "CURVE on", "1 coordinator and 1 worker keys", 1);
    zx_executor_t *verbose = s_coordinator ("verbose", NULL, NULL);
    zx_future_t *future = s_run_one (verbose, "square", 5, 10000);
    assert_int_equal (zx_future_error (future), ZX_EPROTO);
    zx_future_destroy (&future);
    zx_executor_destroy (&verbose);
    s_expect_log (s_env.broker->log, "refused a CURVE handshake", key, 1);
    s_env_check ("an oversize certificate");
    s_env_stop ();
    s_passed = true;
}

//  Runs the broker with CURVE arguments that cannot be enforced: it must
//  exit nonzero without listening, saying why (expect).
static void
s_refuses (const char *cert, const char *clients, const char *workers, const char *expect)
{
    char port [64];
    snprintf (port, sizeof port, "tcp://127.0.0.1:%d", zx_test_free_port ());
    char *argv [16] = { ZX_BROKER_PROGRAM, "--bind", port };
    int at = 3;
    if (cert) {
        argv [at++] = "--cert";
        argv [at++] = (char *) cert;
    }
    if (clients) {
        argv [at++] = "--clients";
        argv [at++] = (char *) clients;
    }
    if (workers) {
        argv [at++] = "--workers";
        argv [at++] = (char *) workers;
    }
    char *out = NULL;
    int status = zx_test_run_capture (argv, &out);
    if (!WIFEXITED (status) || WEXITSTATUS (status) == 0 || !strstr (out, expect)
    ||  strstr (out, "listening on")) {
        fprintf (stderr, "%s", out);
        fail_msg ("the broker with --cert %s --clients %s --workers %s did not refuse to start "
                  "saying '%s' (status 0x%x)", cert ? cert : "-", clients ? clients : "-",
                  workers ? workers : "-", expect, status);
    }
    free (out);
}

static void
test_the_broker_refuses_to_start_when_it_cannot_enforce_curve (void **state)
{
    (void) state;
    char cert [512], clients [512], workers [512], missing [512], junk [512], file [512];
    snprintf (cert, sizeof cert, "%s/keys/broker_secret", s_env.dir);
    snprintf (clients, sizeof clients, "%s/clients", s_env.dir);
    snprintf (workers, sizeof workers, "%s/workers", s_env.dir);
    snprintf (missing, sizeof missing, "%s/nothing", s_env.dir);
    snprintf (file, sizeof file, "%s/keys/broker", s_env.dir);
    //  A secret file without a secret key in it
    snprintf (junk, sizeof junk, "%s/keys/junk_secret", s_env.dir);
    FILE *out = fopen (junk, "w");
    assert_non_null (out);
    fprintf (out, "curve\n    public-key = \"%s\"\n", s_env.broker_key);
    fclose (out);
    snprintf (junk, sizeof junk, "%s/keys/junk", s_env.dir);

    s_refuses (missing, clients, workers, "refusing to start: cannot read the secret key file");
    s_refuses (junk, clients, workers, "refusing to start: ");
    s_refuses (junk, clients, workers, "holds no CURVE secret key");
    s_refuses (cert, missing, workers, "cannot read the coordinators' allow-list directory");
    s_refuses (cert, clients, file, "cannot read the workers' allow-list directory");
    s_refuses (cert, clients, NULL, "CURVE needs --cert, --clients and --workers together");
    s_refuses (NULL, clients, workers, "CURVE needs --cert, --clients and --workers together");
    if (geteuid () != 0) {
        //  Unreadable files and directories (root reads them all anyway)
        assert_int_equal (chmod (cert, 0), 0);
        s_refuses (cert, clients, workers, "Permission denied");
        assert_int_equal (chmod (cert, 0600), 0);
        assert_int_equal (chmod (clients, 0), 0);
        s_refuses (cert, clients, workers, "Permission denied");
        assert_int_equal (chmod (clients, 0700), 0);
    }
    else
        print_message ("running as root: the unreadable-file cases are not tried\n");
    s_passed = true;
}

//  --------------------------------------------------------------------
//  Caps

static void
test_a_coordinator_past_max_client_pending_gets_queue_full (void **state)
{
    (void) state;
    const char *extra [] = { "--max-client-pending", "25", "--no-worker-wait", "60000", NULL };
    s_env_start (extra);
    zx_executor_t *greedy = s_coordinator ("c1", NULL, "nobody");
    enum { COUNT = 40 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_run_in_executor (s_env.loop, greedy, "square",
                                          zx_values_pack ("i", (int64_t) i));
    size_t done = 0;
    zx_wait (futures, COUNT, ZX_ALL_COMPLETED, 2000, NULL, &done, NULL, NULL);
    assert_int_equal (done, COUNT - 25);
    int full = 0;
    for (int i = 0; i < COUNT; i++)
        if (zx_future_done (futures [i]) && zx_future_error (futures [i]) == ZX_EQUEUE_FULL
        &&  strstr (zx_future_message (futures [i]), "--max-client-pending 25"))
            full++;
    assert_int_equal (full, COUNT - 25);
    //  The 25 waiting for a worker that never comes are withdrawn
    for (int i = 0; i < COUNT; i++) {
        zx_future_cancel (futures [i]);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&greedy);
    //  The cap is per coordinator: the good one still gets its twenty (at
    //  once, under its own cap of 25)
    s_env_check ("a coordinator past its cap");
    s_env_stop ();
    s_passed = true;
}

static void
test_a_frame_over_max_frame_bytes_closes_its_connection (void **state)
{
    (void) state;
    const char *extra [] = { "--max-frame-bytes", "65536", NULL };
    s_env_start (extra);
    void *raw = s_raw ("raw-big", RAW_CURVE, "c1", NULL);
    //  A small request is answered
    s_send_request (raw, "default", 1, 1, "square");
    zmq_msg_t frames [4];
    size_t count = s_recv_command (raw, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    assert_int_equal (count, 3);
    assert_int_equal (s_count_replies (&frames [2], ZX_STATUS_OK, NULL), 1);
    zx_test_close_frames (frames, count);
    //  A batch frame of 100 KB is not: the connection closes under it
    enum { BIG = 100 * 1024 };
    uint8_t *big = calloc (1, BIG);
    assert_non_null (big);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (big, BIG));
    count = s_recv_command (raw, "ZXC01", ZX_CMD_REPLY, frames, 4, 1500);
    assert_int_equal (count, 0);
    s_expect_log (s_env.broker->log, "coordinator raw-big connected", NULL, 1);
    assert_int_equal (zx_test_log_count (s_env.broker->log, "malformed", "raw-big"), 0);
    free (big);
    s_env_check ("a frame over the cap");
    s_env_stop ();
    s_passed = true;
}

//  10,000 service names from a coordinator and 10,000 READYs from a
//  worker's key: the broker opens at most --max-services services, maps
//  one worker, answers the rest, and its memory stays bounded.
static void
test_ten_thousand_service_names_and_readys_leave_the_broker_bounded (void **state)
{
    (void) state;
    const char *extra [] = { "--max-services", "50", "--no-worker-wait", "1000", NULL };
    s_env_start (extra);
    const char *log = s_env.broker->log;
    long before = zx_test_rss_kib (s_env.broker->pid);
    enum { MANY = 10000 };
    void *client = s_raw ("raw-many-services", RAW_CURVE, "c1", NULL);
    void *worker = s_raw ("raw-many-readys", RAW_CURVE, "w1", NULL);
    char service [64];
    //  The READYs first: the first one makes a worker (and a service)
    for (int i = 0; i < MANY; i++) {
        snprintf (service, sizeof service, "ready-%d", i);
        s_send_ready (worker, service, "w");
    }
    s_expect_log (log, "worker raw-many-readys ready", NULL, 1);
    for (int i = 0; i < MANY; i++) {
        snprintf (service, sizeof service, "service-%d", i);
        s_send_request (client, service, (uint64_t) i + 1, 1, "square");
    }
    //  Every request is answered: too many services, or no workers
    int refused = 0, answered = 0;
    int64_t deadline = zx_test_now_ms () + 20000;
    while (answered < MANY && zx_test_now_ms () < deadline) {
        zmq_msg_t frames [4];
        size_t count = s_recv_command (client, "ZXC01", ZX_CMD_REPLY, frames, 4, 1000);
        if (count == 3) {
            refused += s_count_replies (&frames [2], ZX_STATUS_BAD_REQUEST, "too many services")
                     + s_count_replies (&frames [2], ZX_STATUS_TASK_ERROR, "too many services");
            const uint8_t *cursor = zmq_msg_data (&frames [2]);
            const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
            zx__reply_rec_t rec;
            while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK)
                answered++;
        }
        zx_test_close_frames (frames, count);
    }
    print_message ("%d of %d requests answered, %d refused for too many services\n",
                   answered, MANY, refused);
    assert_int_equal (answered, MANY);
    assert_true (refused >= MANY - 50);
    assert_true (zx_test_log_count (log, "opened", NULL) <= 50);
    assert_int_equal (zx_test_log_count (log, "worker raw-many-readys ready", NULL), 1);
    s_env_check ("10,000 services and READYs");
    long after = zx_test_rss_kib (s_env.broker->pid);
    print_message ("broker RSS %ld KiB before, %ld KiB after\n", before, after);
#ifndef ZX_SANITIZED
    assert_true (after - before < 64 * 1024);
#endif
    s_env_stop ();
    s_passed = true;
}

//  A connection that never finishes its handshake is closed after
//  --handshake-timeout, whether it says nothing or only greets.
static void
test_a_connection_that_stalls_its_handshake_is_closed (void **state)
{
    (void) state;
    const char *extra [] = { "--handshake-timeout", "300", NULL };
    s_env_start (extra);
    int silent = s_tcp_connect ();
    int greeter = s_tcp_connect ();
    uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E' };
    assert_int_equal (send (greeter, greeting, sizeof greeting, MSG_NOSIGNAL), 64);
    int fds [] = { silent, greeter };
    for (int i = 0; i < 2; i++) {
        struct timeval timeout = { 3, 0 };
        setsockopt (fds [i], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        int64_t start = zx_test_now_ms ();
        uint8_t buffer [512];
        ssize_t got;
        //  The broker's greeting may come first; then the end of stream
        while ((got = recv (fds [i], buffer, sizeof buffer, 0)) > 0)
            ;
        int64_t took = zx_test_now_ms () - start;
        if (got < 0)
            fail_msg ("a stalled handshake was still open after 3 s (%s)", strerror (errno));
        print_message ("stalled connection %d closed after %lld ms\n", i, (long long) took);
        close (fds [i]);
    }
    s_env_check ("stalled handshakes");
    s_env_stop ();
    s_passed = true;
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_listed_keys_run_tasks_and_the_broker_says_curve),
    cmocka_unit_test (test_an_unknown_coordinator_key_is_refused_and_its_tasks_fail),
    cmocka_unit_test (test_an_unknown_worker_key_is_refused_and_gets_no_work),
    cmocka_unit_test (test_null_and_plain_peers_and_raw_tcp_garbage_get_nothing),
    cmocka_unit_test (test_a_wrong_server_key_gets_nothing),
    cmocka_unit_test (test_a_coordinator_key_sending_ready_is_disconnected_and_never_gets_a_request),
    cmocka_unit_test (test_a_worker_key_cannot_submit_work),
    cmocka_unit_test (test_a_key_removed_from_the_allow_list_loses_its_live_connection),
    cmocka_unit_test (test_keygen_writes_a_private_secret_and_refuses_long_metadata),
    cmocka_unit_test (test_a_listed_certificate_with_oversize_metadata_is_skipped),
    cmocka_unit_test (test_the_broker_refuses_to_start_when_it_cannot_enforce_curve),
    cmocka_unit_test (test_a_coordinator_past_max_client_pending_gets_queue_full),
    cmocka_unit_test (test_a_frame_over_max_frame_bytes_closes_its_connection),
    cmocka_unit_test (test_ten_thousand_service_names_and_readys_leave_the_broker_bounded),
    cmocka_unit_test (test_a_connection_that_stalls_its_handshake_is_closed),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    for (size_t i = 0; i < sizeof tests / sizeof tests [0]; i++) {
        tests [i].setup_func = s_setup;
        tests [i].teardown_func = s_teardown;
    }
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
