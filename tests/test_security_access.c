/*  test_security_access.c - CURVE on a real zexec-broker over tcp
    loopback: who gets in, and in which role. Listed keys run tasks;
    unknown coordinator and worker keys, NULL and PLAIN peers, raw tcp
    garbage and wrong server keys get nothing; a coordinator's key cannot
    serve, a worker's cannot submit; a key removed from an allow-list
    loses its live connection. (test_security_limits.c: keys,
    certificates and caps.) The ctest entries of both are
    test_security.*.

    Each test has the certificates and good peers of testutil_curve.h: a
    zexec-broker with --cert, --clients and --workers, a zexec-worker with
    --server-key and --cert, and a good coordinator in this process.
    Attackers are raw libzmq sockets (with or without keys), raw tcp
    sockets, coordinators and zexec-workers with the wrong keys. Each test
    checks what the attacker got (nothing, an error, a DISCONNECT) and
    that the good peers still work; most end by stopping the broker and
    the worker with SIGTERM and expecting exit 0 (a leak fails it under
    ASan).

    The fixture kills and reaps every process a test starts, also when
    it fails (then their logs are printed). Every wait is bounded.      */
#define _GNU_SOURCE
#include "testutil_curve.h"
#include "zx_values.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

//  A coordinator with the keys of certificate name in the environment
//  only (ZEXEC_SERVER_KEY, ZEXEC_CERT), as the seed examples and other
//  unchanged programs get them.
static zx_executor_t *
s_coordinator_from_env (const zx_test_env_t *env, const char *name)
{
    setenv ("ZEXEC_SERVER_KEY", zx_test_curve_broker_key (), 1);
    setenv ("ZEXEC_CERT", zx_test_curve_key_path (name), 1);
    zx_executor_opts_t opts = { .heartbeat_ms = ZX_TEST_CURVE_HEARTBEAT_MS, .liveness = 3 };
    zx_executor_t *remote = zx_remote_executor_new (env->broker.endpoint, &opts);
    unsetenv ("ZEXEC_SERVER_KEY");
    unsetenv ("ZEXEC_CERT");
    assert_non_null (remote);
    return remote;
}

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

//  --------------------------------------------------------------------
//  Who gets in

static void
test_listed_keys_run_tasks_and_the_broker_says_curve (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    const char *log = env->broker.child->log;
    zx_test_expect_log (log, "CURVE on tcp://127.0.0.1", zx_test_curve_broker_key (), 1);
    assert_int_equal (zx_test_log_count (log, "no authentication", NULL), 0);
    zx_test_env_check (env, "start");
    //  Keys from the environment work as well as from the options
    zx_executor_t *from_env = s_coordinator_from_env (env, "c1");
    zx_future_t *future = zx_test_run_one (env->loop, from_env, "square", 7, 10000);
    assert_int_equal (zx_future_error (future), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (future), 0, &square), ZX_OK);
    assert_int_equal (square, 49);
    zx_future_destroy (&future);
    zx_executor_destroy (&from_env);
    zx_test_env_stop (env);
    zx_test_pass ();
}

static void
test_an_unknown_coordinator_key_is_refused_and_its_tasks_fail (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    char stranger [41];
    zx_test_curve_public ("stranger", stranger);
    zx_executor_t *intruder = zx_test_curve_coordinator ("stranger", NULL, NULL);
    int64_t start = zx_test_now_ms ();
    zx_future_t *future = zx_test_run_one (env->loop, intruder, "square", 5, 10000);
    assert_true (zx_future_done (future));
    if (zx_future_error (future) == ZX_OK)
        fail_msg ("a coordinator with an unknown key ran a task");
    assert_int_equal (zx_future_error (future), ZX_EPROTO);
    assert_non_null (strstr (zx_future_message (future), "refused this coordinator's CURVE key"));
    assert_true (zx_test_now_ms () - start < 5000);
    zx_future_destroy (&future);
    zx_executor_destroy (&intruder);
    zx_test_expect_log (env->broker.child->log, "refused a CURVE handshake", stranger, 1);
    assert_int_equal (zx_test_log_count (env->broker.child->log, "coordinator", "connected"), 0);
    zx_test_env_check (env, "an unknown coordinator");
    zx_test_env_stop (env);
    zx_test_pass ();
}

static void
test_an_unknown_worker_key_is_refused_and_gets_no_work (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    char stranger [41];
    zx_test_curve_public ("stranger", stranger);
    zx_test_child_t *intruder = zx_test_curve_worker ("stranger", NULL);
    zx_test_expect_log (env->broker.child->log, "refused a CURVE handshake", stranger, 1);
    //  The refused worker says why, once
    zx_test_expect_log (intruder->log, "refused this worker's CURVE key", NULL, 1);
    zx_test_env_check (env, "an unknown worker");      //  Every task ran on the good worker
    char name [128];
    zx_test_worker_name (name, sizeof name, intruder->pid);
    assert_int_equal (zx_test_log_count (env->broker.child->log, name, NULL), 0);
    assert_true (zx_test_alive (intruder));
    zx_test_stop (intruder, SIGKILL, 5000);
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  No security, PLAIN, and bytes that are not ZMTP at all, beside the good
//  coordinator: none gets a reply or a line in the broker's log under its
//  routing id.
static void
test_null_and_plain_peers_and_raw_tcp_garbage_get_nothing (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    const char *log = env->broker.child->log;
    void *null = zx_test_curve_raw ("hostile-null", ZX_TEST_RAW_NULL, NULL, NULL);
    void *plain = zx_test_curve_raw ("hostile-plain", ZX_TEST_RAW_PLAIN, NULL, NULL);
    void *sockets [] = { null, plain };
    for (int i = 0; i < 2; i++) {
        zx_test_send_ready (sockets [i], "default", 4, "w");
        zx_test_send_request (sockets [i], "default", 1, 3, "square");
        SEND (sockets [i], S ("ZXC01"), S ("\x04"));
    }
    //  Garbage: random bytes, HTTP, a NULL greeting and READY
    int fd = zx_test_tcp_connect (env->broker.port);
    uint8_t noise [4096];
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof noise; i++) {
        seed = seed * 1103515245 + 12345;
        noise [i] = (uint8_t) (seed >> 16);
    }
    ssize_t sent = send (fd, noise, sizeof noise, MSG_NOSIGNAL);
    (void) sent;
    close (fd);
    fd = zx_test_tcp_connect (env->broker.port);
    const char *http = "GET / HTTP/1.1\r\nHost: zexec\r\n\r\n";
    sent = send (fd, http, strlen (http), MSG_NOSIGNAL);
    uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
    int fd2 = zx_test_tcp_connect (env->broker.port);
    sent = send (fd2, greeting, sizeof greeting, MSG_NOSIGNAL);
    zx_test_env_check (env, "NULL and PLAIN peers and tcp garbage");
    for (int i = 0; i < 2; i++)
        if (s_recv_anything (sockets [i], 1000))
            fail_msg ("a %s peer got a message from a CURVE broker", i ? "PLAIN" : "NULL");
    assert_int_equal (zx_test_log_count (log, "hostile-null", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "hostile-plain", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "service 'default' opened", NULL), 1);
    close (fd);
    close (fd2);
    zx_test_env_stop (env);
    zx_test_pass ();
}

static void
test_a_wrong_server_key_gets_nothing (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    char wrong [41];
    zx_test_curve_public ("stranger", wrong);
    //  Listed keys, but the server key of somebody else
    void *raw = zx_test_curve_raw ("hostile-wrong-server", ZX_TEST_RAW_CURVE, "c1", wrong);
    zx_test_send_request (raw, "default", 1, 3, "square");
    zx_executor_t *confused = zx_test_curve_coordinator ("c1", wrong, NULL);
    zx_future_t *future = zx_test_run_one (env->loop, confused, "square", 6, 10000);
    assert_true (zx_future_done (future));
    if (zx_future_error (future) == ZX_OK)
        fail_msg ("a coordinator with a wrong server key ran a task");
    zx_future_destroy (&future);
    zx_executor_destroy (&confused);
    zx_test_child_t *worker = zx_test_curve_worker ("w1", wrong);
    usleep (1500 * 1000);
    char name [128];
    zx_test_worker_name (name, sizeof name, worker->pid);
    assert_int_equal (zx_test_log_count (env->broker.child->log, name, NULL), 0);
    zx_test_expect_log (worker->log, "CURVE handshake with the broker", "failed", 1);
    if (s_recv_anything (raw, 500))
        fail_msg ("a peer with a wrong server key got a message");
    assert_int_equal (zx_test_log_count (env->broker.child->log, "hostile-wrong-server", NULL), 0);
    zx_test_env_check (env, "wrong server keys");
    zx_test_stop (worker, SIGKILL, 5000);
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  Roles

static void
test_a_coordinator_key_sending_ready_is_disconnected_and_never_gets_a_request (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    char c1 [41];
    zx_test_curve_public ("c1", c1);
    void *raw = zx_test_curve_raw ("hostile-client-as-worker", ZX_TEST_RAW_CURVE, "c1", NULL);
    zx_test_send_ready (raw, "default", 4, "w");
    zmq_msg_t frames [4];
    size_t count = zx_test_recv_command (raw, 0, "ZXW01", ZX_CMD_DISCONNECT, frames, 4, 5000);
    if (count == 0)
        fail_msg ("a coordinator's key said READY and got no DISCONNECT");
    zx_test_close_frames (frames, count);
    zx_test_expect_log (env->broker.child->log, "READY from hostile-client-as-worker",
                        "disconnected", 1);
    //  It keeps trying: READY again, a REPLY, heartbeats. Work goes only
    //  to the good worker (s_env_check checks every task's process).
    zx_test_send_ready (raw, "default", 4, "w");
    SEND (raw, S ("ZXW01"), S ("\x04"));
    zx_test_env_check (env, "a coordinator's key said READY");
    count = zx_test_recv_command (raw, 0, "ZXW01", ZX_CMD_REQUEST, frames, 4, 1000);
    if (count) {
        zx_test_close_frames (frames, count);
        fail_msg ("a coordinator's key got a REQUEST as a worker");
    }
    assert_int_equal (zx_test_log_count (env->broker.child->log, "worker hostile-client-as-worker",
                                         " ready"), 0);
    zx_test_env_stop (env);
    zx_test_pass ();
}

static void
test_a_worker_key_cannot_submit_work (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    void *raw = zx_test_curve_raw ("hostile-worker-as-client", ZX_TEST_RAW_CURVE, "w1", NULL);
    zx_test_send_request (raw, "default", 1, 3, "square");
    zmq_msg_t frames [4];
    size_t count = zx_test_recv_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    if (count != 3)
        fail_msg ("a worker's key that submitted work got no REPLY of refusals");
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_TASK_ERROR,
                                             "permission denied"), 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_OK, NULL), 0);
    zx_test_close_frames (frames, count);
    zx_test_expect_log (env->broker.child->log, "REQUEST from hostile-worker-as-client",
                        "refused", 1);
    assert_int_equal (zx_test_log_count (env->broker.child->log,
                                         "coordinator hostile-worker-as-client", "connected"), 0);
    //  A worker's key may still serve as a worker, with the same key
    void *other = zx_test_curve_raw ("worker-with-w1", ZX_TEST_RAW_CURVE, "w1", NULL);
    zx_test_send_ready (other, "spare", 4, "w");
    zx_test_expect_log (env->broker.child->log, "worker worker-with-w1 ready", NULL, 1);
    zx_test_env_check (env, "a worker's key submitted work");
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  A worker's key that says READY again under the routing id it holds
//  (a worker restarted under its old id): its earlier connection is
//  gone, what it held is retried, and the new registration serves.
static void
test_a_worker_key_saying_ready_again_gets_its_held_work_back_to_serve (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    const char *log = env->broker.child->log;
    void *fake = zx_test_curve_raw ("curve-again", ZX_TEST_RAW_CURVE, "w1", NULL);
    zx_test_send_ready (fake, "again", 1, "w");
    zx_test_expect_log (log, "worker curve-again ready", NULL, 1);
    void *coord = zx_test_curve_raw ("curve-again-coord", ZX_TEST_RAW_CURVE, "c1", NULL);
    zx_test_send_squares (coord, "again", (uint64_t []) { 5 }, (uint8_t []) { 2 }, 1);
    uint64_t corr;
    uint32_t attempt;
    zx_test_take_requests (fake, &corr, &attempt, 1);
    assert_int_equal (attempt, 1);
    uint64_t held = corr;
    zx_test_send_ready (fake, "again", 1, "w");
    zx_test_expect_log (log, "worker curve-again said READY again", "(it held 1)", 1);
    zx_test_take_requests (fake, &corr, &attempt, 1);
    assert_int_equal (corr, held);
    assert_int_equal (attempt, 2);
    zx__batch_t batch = { 0 };
    zx_test_add_reply (&batch, corr, attempt, ZX_STATUS_OK, 25, 25);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    zx__batch_free (&batch);
    zmq_msg_t frames [4];
    size_t count = zx_test_recv_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_OK, NULL), 1);
    zx_test_close_frames (frames, count);
    zx_test_env_check (env, "a worker's key said READY again");
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  Removing a key from an allow-list ends its live connection's role
//  within seconds: a zexec-worker is sent DISCONNECT and refused when it
//  comes back; a coordinator's tasks fail and it is sent DISCONNECT; a
//  raw peer's later messages are dropped.
static void
test_a_key_removed_from_the_allow_list_loses_its_live_connection (void **state)
{
    (void) state;
    zx_test_curve_cert ("w2", "workers", NULL);
    zx_test_curve_cert ("c2", "clients", NULL);
    zx_test_curve_cert ("c3", "clients", NULL);
    const char *extra [] = { "--no-worker-wait", "60000", NULL };
    zx_test_env_t *env = zx_test_curve_start (extra);
    const char *log = env->broker.child->log;
    char w2 [41], c3 [41];
    zx_test_curve_public ("w2", w2);
    zx_test_curve_public ("c3", c3);
    zx_test_child_t *second = zx_test_curve_worker ("w2", NULL);
    zx_test_wait_ready (&env->broker, second);
    //  A coordinator with a task waiting, and a raw one with a request
    //  waiting, both for a service nobody serves
    zx_executor_t *c2 = zx_test_curve_coordinator ("c2", NULL, "nobody");
    zx_future_t *waiting = zx_run_in_executor (env->loop, c2, "square",
                                               zx_values_pack ("i", (int64_t) 2));
    void *raw = zx_test_curve_raw ("raw-c3", ZX_TEST_RAW_CURVE, "c3", NULL);
    zx_test_send_request (raw, "nobody", 1, 2, "square");
    size_t done = 0;
    zx_wait (&waiting, 1, ZX_ALL_COMPLETED, 300, NULL, &done, NULL, NULL);   //  Sends it
    assert_int_equal (done, 0);
    zx_test_expect_log (log, "coordinator raw-c3 connected", NULL, 1);
    zx_test_expect_log (log, "coordinator", "connected", 2);        //  c2 and raw-c3
    //  The raw coordinator heartbeats by hand; c2 does while its loop runs
    SEND (raw, S ("ZXC01"), S ("\x04"));

    char path [512];
    const char *gone [] = { "w2", "c2", "c3" };
    int64_t removed = zx_test_now_ms ();
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s/%s", zx_test_scratch (), i ? "clients" : "workers",
                  gone [i]);
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
    zx_future_t *later = zx_test_run_one (env->loop, c2, "square", 3, 10000);
    assert_true (zx_future_done (later));
    assert_int_not_equal (zx_future_error (later), ZX_OK);
    zx_future_destroy (&later);
    zx_executor_destroy (&c2);
    //  The worker: DISCONNECT, and refused when it connects again
    char name [128];
    zx_test_worker_name (name, sizeof name, second->pid);
    zx_test_expect_log (log, name, "removed from the allow-list: disconnected", 1);
    zx_test_expect_log (second->log, "the broker said goodbye", NULL, 1);
    zx_test_expect_log (log, "refused a CURVE handshake", w2, 1);
    //  The raw coordinator: its requests' failures, then DISCONNECT
    zmq_msg_t frames [4];
    size_t count = zx_test_recv_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_WORKER_LOST, NULL), 2);
    zx_test_close_frames (frames, count);
    count = zx_test_recv_command (raw, 0, "ZXC01", ZX_CMD_DISCONNECT, frames, 4, 5000);
    assert_true (count >= 2);
    zx_test_close_frames (frames, count);
    //  And what it sends later is dropped, with no reply at all
    zx_test_send_request (raw, "default", 10, 2, "square");
    if (s_recv_anything (raw, 1500))
        fail_msg ("a coordinator whose key was removed got an answer");
    zx_test_expect_log (log, "raw-c3", "not a coordinator's: dropped", 1);
    assert_int_equal (zx_test_log_count (log, "coordinator raw-c3 connected", NULL), 1);
    //  The good peers are untouched: every task runs on the good worker
    zx_test_env_check (env, "keys removed");
    zx_test_stop (second, SIGKILL, 5000);
    //  A key put back is let in again
    zx_test_curve_cert ("c4", "clients", NULL);
    usleep (1500 * 1000);
    zx_executor_t *c4 = zx_test_curve_coordinator ("c4", NULL, NULL);
    zx_future_t *back = zx_test_run_one (env->loop, c4, "square", 4, 10000);
    assert_int_equal (zx_future_error (back), ZX_OK);
    zx_future_destroy (&back);
    zx_executor_destroy (&c4);
    zx_test_env_stop (env);
    zx_test_pass ();
}


static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_listed_keys_run_tasks_and_the_broker_says_curve),
    cmocka_unit_test (test_an_unknown_coordinator_key_is_refused_and_its_tasks_fail),
    cmocka_unit_test (test_an_unknown_worker_key_is_refused_and_gets_no_work),
    cmocka_unit_test (test_null_and_plain_peers_and_raw_tcp_garbage_get_nothing),
    cmocka_unit_test (test_a_wrong_server_key_gets_nothing),
    cmocka_unit_test (test_a_coordinator_key_sending_ready_is_disconnected_and_never_gets_a_request),
    cmocka_unit_test (test_a_worker_key_cannot_submit_work),
    cmocka_unit_test (test_a_worker_key_saying_ready_again_gets_its_held_work_back_to_serve),
    cmocka_unit_test (test_a_key_removed_from_the_allow_list_loses_its_live_connection),
};

ZX_TEST_MAIN_WITH (tests, zx_test_curve_setup, zx_test_curve_teardown)
