/*  test_fault_shutdown.c - a shutdown with a deadline
    (zx_executor_shutdown_deadline) when workers will not stop: a process
    worker frozen with SIGSTOP in the middle of a task, a thread whose task
    never looks at its cancel token, a broker that never answers.

    A plain zx_executor_shutdown waits for them forever (it blocked until
    the frozen worker was killed from outside). Each test checks that the
    call returns about its deadline, that it reports what it had to kill
    or abandon, and that every future ended exactly once. The bound
    asserted is the deadline plus a generous two seconds, a safety net:
    without the deadline there is no bound at all.

    This binary is also the process pool's worker program (zx_init in
    main), so the tasks of testutil_fault.c run in real worker processes. */
#define _GNU_SOURCE
#include "testutil_fault.h"
#include "testutil_peers.h"
#include "zx_actor.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZX_SLACK_MS 2000            //  Over the deadline: a safety net only

static int
s_setup (void **state)
{
    zx_test_ended_reset ();
    return zx_test_setup (state);
}

//  The pid written in path once it exists (announce_nap writes it whole)
static pid_t
s_wait_pid_file (const char *path, int64_t timeout_ms)
{
    assert_true (zx_test_wait_file (path, timeout_ms));
    char *text = zx_test_read_file (path);
    pid_t pid = (pid_t) atoi (text);
    free (text);
    return pid;
}

//  --------------------------------------------------------------------
//  A process worker frozen mid-task

static void
test_a_process_pool_with_a_stopped_worker_shuts_down_by_its_deadline_and_names_the_kill (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .window = 1 });
    assert_non_null (pool);
    zx_test_warm_up (loop, pool, 2);
    char path [300];
    zx_test_scratch_path (path, sizeof path, "frozen.pid");
    enum { OTHERS = 10 };
    int victim_calls = 0, calls [OTHERS] = { 0 };
    zx_future_t *victim = zx_test_submit_counted (loop, pool, "announce_nap",
        zx_values_pack ("sii", path, (int64_t) 60000, (int64_t) 7), &victim_calls);
    zx_future_t *others [OTHERS];
    for (int i = 0; i < OTHERS; i++)
        others [i] = zx_test_submit_counted (loop, pool, "square",
                                             zx_values_pack ("i", (int64_t) i), &calls [i]);
    pid_t pid = s_wait_pid_file (path, 5000);
    assert_true (pid > 0 && pid != getpid ());
    //  The other worker runs the squares; then the victim's is frozen
    zx_test_wait_all (others, OTHERS, 10000);
    assert_int_equal (kill (pid, SIGSTOP), 0);

    enum { DEADLINE = 1500 };
    zx_shutdown_report_t report;
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_executor_shutdown_deadline (pool, false, DEADLINE, &report), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("shutdown with a %d ms deadline and a SIGSTOPped worker returned after "
                   "%lld ms; %zu signals, %zu futures cancelled\n", DEADLINE,
                   (long long) elapsed, report.kill_count, report.cancelled);
    assert_true (elapsed >= DEADLINE - 50);
    assert_true (elapsed < DEADLINE + ZX_SLACK_MS);

    //  It says what it did: SIGTERM, which a stopped process keeps
    //  pending, then SIGKILL, to the frozen worker. The idle one leaves
    //  at its dismissal; one slower than 200 ms to exit (LeakSanitizer's
    //  check at exit, a loaded machine) is SIGKILLed too, and listed
    assert_true (report.forced);
    assert_true (report.kill_count >= 2 && report.kill_count <= 3);
    assert_int_equal (report.kills [0].pid, pid);
    assert_int_equal (report.kills [0].signal, SIGTERM);
    assert_int_equal (report.kills [1].pid, pid);
    assert_int_equal (report.kills [1].signal, SIGKILL);
    if (report.kill_count == 3) {
        assert_true (report.kills [2].pid != pid);
        assert_int_equal (report.kills [2].signal, SIGKILL);
    }
    assert_int_equal (report.cancelled, 1);
    assert_int_equal (report.abandoned_threads, 0);
    assert_true (zx_test_pid_gone (pid));

    //  Its task ended once, cancelled, saying why; the rest finished
    assert_true (zx_future_done (victim));
    assert_true (zx_future_cancelled (victim));
    assert_non_null (strstr (zx_future_message (victim), "shutdown deadline of 1500 ms"));
    for (int i = 0; i < OTHERS; i++)
        assert_int_equal (zx_test_result_int (others [i], 0), (int64_t) i * i);
    zx_test_expect_ended_once (&victim_calls, 1, 100);
    zx_test_expect_ended_once (calls, OTHERS, 0);
    assert_int_equal (zx_test_ended (), 2 + 1 + OTHERS);
    assert_int_equal (zx_executor_worker_pids (pool, NULL, 0), 0);

    zx_future_destroy (&victim);
    for (int i = 0; i < OTHERS; i++)
        zx_future_destroy (&others [i]);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  Work that ends by itself before the deadline: nothing is killed and
//  the call returns as soon as it is over
static void
test_a_shutdown_deadline_waits_for_work_that_ends_in_time_and_kills_nothing (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    assert_non_null (pool);
    int calls [4] = { 0 };
    zx_future_t *naps [4];
    for (int i = 0; i < 4; i++)
        naps [i] = zx_test_submit_counted (loop, pool, "nap", zx_values_pack ("i", (int64_t) 100),
                                           &calls [i]);
    zx_shutdown_report_t report;
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_executor_shutdown_deadline (pool, false, 20000, &report), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("four naps of 100 ms on two workers: shutdown returned after %lld ms\n",
                   (long long) elapsed);
    assert_true (elapsed < 20000 / 2);      //  Long before its first stage
    assert_false (report.forced);
    assert_int_equal (report.kill_count, 0);
    assert_int_equal (report.cancelled, 0);
    for (int i = 0; i < 4; i++)
        assert_true (zx_test_result_int (naps [i], 0) > 0);
    zx_test_expect_ended_once (calls, 4, 0);
    //  Later submissions are refused, as after any shutdown
    zx_future_t *late = zx_run_in_executor (loop, pool, "nap", zx_values_pack ("i", (int64_t) 1));
    assert_int_equal (zx_future_error (late), ZX_ESHUTDOWN);
    zx_future_destroy (&late);
    for (int i = 0; i < 4; i++)
        zx_future_destroy (&naps [i]);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  A thread whose task never stops

static void
test_a_thread_pool_with_a_stuck_task_returns_by_its_deadline_and_abandons_that_thread (void **state)
{
    (void) state;
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .window = 1 });
    assert_non_null (pool);
    assert_int_equal (zx_executor_start_loop (pool), ZX_OK);
    char started [300], release [300];
    zx_test_scratch_path (started, sizeof started, "stuck.started");
    zx_test_scratch_path (release, sizeof release, "stuck.release");
    zx_future_t *stuck = zx_executor_submit (pool, "deaf_gate",
        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    assert_non_null (stuck);
    int stuck_calls = 0, calls [6] = { 0 };
    assert_int_equal (zx_future_add_done_callback (stuck, zx_test_count_done, &stuck_calls), ZX_OK);
    assert_true (zx_test_wait_file (started, 5000));
    //  Queued behind it and on the other thread: these finish or are
    //  cancelled, never lost
    zx_future_t *others [6];
    for (int i = 0; i < 6; i++) {
        others [i] = zx_executor_submit (pool, "square", zx_values_pack ("i", (int64_t) i));
        assert_int_equal (zx_future_add_done_callback (others [i], zx_test_count_done,
                                                       &calls [i]), ZX_OK);
    }
    enum { DEADLINE = 600 };
    zx_shutdown_report_t report;
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_executor_shutdown_deadline (pool, false, DEADLINE, &report), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("thread pool with a task deaf to its cancel token: shutdown with a %d ms "
                   "deadline returned after %lld ms, %zu thread(s) abandoned\n", DEADLINE,
                   (long long) elapsed, report.abandoned_threads);
    assert_true (elapsed < DEADLINE + ZX_SLACK_MS);
    assert_true (report.forced);
    assert_int_equal (report.abandoned_threads, 1);
    assert_int_equal (report.kill_count, 0);
    //  The gate is still shut: the task still runs, on its own now
    assert_int_equal (zx__actor_detached_running (), 1);
    assert_true (zx_future_cancelled (stuck));
    assert_non_null (strstr (zx_future_message (stuck), "shutdown deadline"));
    for (int i = 0; i < 6; i++)
        assert_true (zx_future_done (others [i]));
    zx_executor_destroy (&pool);

    //  Opened after the pool is gone: the thread returns, drops its
    //  result, and exits by itself; its future does not end again
    FILE *file = fopen (release, "w");
    assert_non_null (file);
    fclose (file);
    int64_t limit = zx_test_now_ms () + 10000;
    while (zx__actor_detached_running () > 0 && zx_test_now_ms () < limit)
        usleep (2000);
    assert_int_equal (zx__actor_detached_running (), 0);
    zx_test_expect_ended_once (&stuck_calls, 1, 50);
    zx_test_expect_ended_once (calls, 6, 0);
    zx_future_destroy (&stuck);
    for (int i = 0; i < 6; i++)
        zx_future_destroy (&others [i]);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  A remote executor: the deadline bounds the wait for the broker

static void
test_a_remote_executor_waits_for_the_broker_until_its_deadline_then_cancels (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 200, NULL);
    zx_test_child_t *worker = zx_test_worker_start (&broker, 1, NULL);
    zx_test_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    assert_non_null (remote);
    char started [300], release [300];
    zx_test_scratch_path (started, sizeof started, "remote.started");
    zx_test_scratch_path (release, sizeof release, "remote.release");
    int calls = 0;
    zx_future_t *held = zx_test_submit_counted (loop, remote, "gate",
        zx_values_pack ("ssi", started, release, (int64_t) 60000), &calls);
    int64_t limit = zx_test_now_ms () + 10000;
    while (access (started, F_OK) != 0 && zx_test_now_ms () < limit)
        zx_sleep (2);
    assert_int_equal (access (started, F_OK), 0);
    enum { DEADLINE = 500 };
    zx_shutdown_report_t report;
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_executor_shutdown_deadline (remote, false, DEADLINE, &report), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("remote executor: shutdown with a %d ms deadline returned after %lld ms\n",
                   DEADLINE, (long long) elapsed);
    assert_true (elapsed >= DEADLINE - 50);
    assert_true (elapsed < DEADLINE + ZX_SLACK_MS);
    assert_true (report.forced);
    assert_int_equal (report.cancelled, 1);
    assert_true (zx_future_cancelled (held));
    assert_non_null (strstr (zx_future_message (held), "shutdown deadline of 500 ms"));
    zx_test_expect_ended_once (&calls, 1, 50);
    zx_future_destroy (&held);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_process_pool_with_a_stopped_worker_shuts_down_by_its_deadline_and_names_the_kill),
    cmocka_unit_test (test_a_shutdown_deadline_waits_for_work_that_ends_in_time_and_kills_nothing),
    cmocka_unit_test (test_a_thread_pool_with_a_stuck_task_returns_by_its_deadline_and_abandons_that_thread),
    cmocka_unit_test (test_a_remote_executor_waits_for_the_broker_until_its_deadline_then_cancels),
};

ZX_TEST_MAIN_WITH (tests, s_setup, zx_test_teardown)
