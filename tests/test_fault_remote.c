/*  test_fault_remote.c - a remote worker that stops answering (SIGSTOP)
    mid-task, through a real zexec-broker (testutil_peers.h), without and
    with retries: the task is lost within the liveness, or completes once
    on another worker, and the stopped worker's late reply changes nothing
    once it runs again. (test_fault_pool.c: crashes in a process pool;
    test_fault_chaos.c: a killer loose on 100,000 tasks.) The ctest
    entries of the three are test_fault.*.

    As there, each future must end exactly once: a done callback counts
    it (testutil_fault.h).                                               */
#define _GNU_SOURCE
#include "testutil_fault.h"
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define HEARTBEAT_MS    100

static int
s_setup (void **state)
{
    zx_test_ended_reset ();
    return zx_test_setup (state);
}

//  Starts a zexec-worker of one thread and waits until the broker has it
//  ready.
static zx_test_child_t *
s_worker_start (const zx_test_broker_t *broker)
{
    zx_test_child_t *worker = zx_test_worker_start (broker, 1, NULL);
    zx_test_wait_ready (broker, worker);
    return worker;
}

//  After SIGCONT: the broker sees the worker announce itself again, under
//  a new generation of its routing id.
static void
s_expect_reconnected (const zx_test_broker_t *broker, const zx_test_child_t *worker)
{
    char name [128];
    zx_test_worker_name (name, sizeof name, worker->pid);
    if (!zx_test_log_wait_running (broker->child->log, name, " ready", 2, 5000))
        fail_msg ("%s did not announce itself again within 5 s", name);
}

//  Runs count squares remotely; all must come from pid, and end once.
static void
s_expect_served_by (zx_loop_t *loop, zx_executor_t *remote, pid_t pid, int count)
{
    int calls [16];
    assert_true (count <= 16);
    zx_test_counted_squares (loop, remote, count, pid, calls);
    zx_test_expect_ended_once (calls, (size_t) count, 20);
}

static void
test_a_stopped_remote_worker_is_lost_within_the_liveness_and_its_late_reply_dropped (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *worker = s_worker_start (&broker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    int calls = 0;
    zx_future_t *future = zx_test_submit_counted (loop, remote, "sleep_ms",
                                                  zx_values_pack ("i", (int64_t) 1000), &calls);
    zx_sleep (200);
    assert_false (zx_future_done (future));
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (worker->pid, SIGSTOP), 0);
    zx_test_wait_all (&future, 1, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("the stopped worker's task failed %lld ms after SIGSTOP\n", (long long) elapsed);
    //  Heartbeat 100 ms x liveness 3, checked every 100 ms: the worker
    //  had been quiet for up to an interval and an eighth when it stopped
    //  (it answers the broker's heartbeats, PROTOCOL.md 15.2; later when
    //  its own tick came late), and the broker waited for more than the
    //  liveness from its last message
    assert_true (elapsed >= 150);
    assert_true (elapsed < 1500);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    const char *silent = strstr (zx_future_message (future), "silent for ");
    assert_non_null (silent);
    assert_true (atol (silent + strlen ("silent for ")) > 300);
    //  Named with its routing id (HOST.PID.NONCE.GEN, the first generation)
    //  and its pid
    char name [160], prefix [128];
    zx_test_worker_name (prefix, sizeof prefix, worker->pid);
    snprintf (name, sizeof name, ".0 (pid %d) silent for", (int) worker->pid);
    const char *message = zx_future_message (future);
    if (!strstr (message, prefix + strlen ("worker ")) || !strstr (message, name)
    ||  !strstr (message, "task 'sleep_ms' was lost"))
        fail_msg ("message '%s' does not name '%s' and the task", message, name);

    //  Awake again, it finishes the sleep and answers: too late, dropped
    assert_int_equal (kill (worker->pid, SIGCONT), 0);
    s_expect_reconnected (&broker, worker);
    zx_sleep (1200);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    assert_string_equal (zx_future_message (future), message);
    zx_test_expect_ended_once (&calls, 1, 0);
    s_expect_served_by (loop, remote, worker->pid, 10);
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_with_retries_a_stopped_remote_workers_task_completes_once_on_another_worker (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *stopped = s_worker_start (&broker);
    zx_test_child_t *other = s_worker_start (&broker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .retries = 1 });
    //  Dealt round-robin: one to each worker
    zx_future_t *futures [2];
    int calls [2] = { 0 };
    for (int i = 0; i < 2; i++)
        futures [i] = zx_test_submit_counted (loop, remote, "sleep_ms",
                                              zx_values_pack ("i", (int64_t) 800), &calls [i]);
    zx_sleep (200);
    assert_int_equal (kill (stopped->pid, SIGSTOP), 0);
    zx_test_wait_all (futures, 2, 10000);
    for (int i = 0; i < 2; i++)
        assert_int_equal (zx_test_result_int (futures [i], 0), other->pid);
    const char *log = broker.child->log;
    assert_int_equal (zx_test_log_count (log, "goes to another worker (attempt 2)", NULL), 1);

    //  The stopped worker's own late answer changes nothing
    assert_int_equal (kill (stopped->pid, SIGCONT), 0);
    s_expect_reconnected (&broker, stopped);
    zx_sleep (1000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        assert_int_equal (zx_test_result_int (futures [i], 0), other->pid);
    }
    zx_test_expect_ended_once (calls, 2, 0);
    assert_int_equal (zx_test_log_count (log, "goes to another worker", NULL), 1);

    //  With the other worker gone, the resumed one serves
    int status = zx_test_peer_stop (other, SIGTERM, 5000);
    assert_true (WIFEXITED (status));
    s_expect_served_by (loop, remote, stopped->pid, 10);
    zx_test_destroy_all (futures, 2);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_stopped_remote_worker_is_lost_within_the_liveness_and_its_late_reply_dropped),
    cmocka_unit_test (test_with_retries_a_stopped_remote_workers_task_completes_once_on_another_worker),
};

ZX_TEST_MAIN_WITH (tests, s_setup, zx_test_teardown)
