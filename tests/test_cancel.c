/*  test_cancel.c - stopping running tasks, deadlines and backpressure.

    A cancelled task that polls its cancel token stops there; a process
    worker that does not stop gets SIGTERM, then SIGKILL, and is replaced;
    a thread pool gives up waiting for a thread that does not stop. Each
    future says which happened. Deadlines fail futures with ZX_ETIMEDOUT
    and stop the work the same way. A full queue makes a coroutine's
    submission wait and fails one from plain code.

    This binary is also the process pools' worker program (zx_init).      */
#include "testutil.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "task_gate.h"

//  --------------------------------------------------------------------
//  Tasks

static void
s_nap_ms (int ms)
{
    struct timespec nap = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&nap, &nap) == -1 && errno == EINTR)
        ;
}

//  Spins up to n ms, polling the cancel token every 100 us; returns its
//  pid, or fails "stopped" when it saw the cancel.
ZX_TASK (polite_spin) {
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    for (int64_t i = 0; i < ms * 10; i++) {
        if (zx_call_cancelled (call))
            return zx_call_fail (call, "stopped");
        struct timespec nap = { 0, 100000 };
        nanosleep (&nap, NULL);
    }
    return zx_call_return_int (call, getpid ());
}

//  Sleeps n ms without ever looking at the token.
ZX_TASK (deaf_sleep) {
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    s_nap_ms ((int) ms);
    return zx_call_return_int (call, getpid ());
}

//  Ignores SIGTERM, then sleeps n ms without looking at the token.
ZX_TASK (stubborn_sleep) {
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    signal (SIGTERM, SIG_IGN);
    s_nap_ms ((int) ms);
    return zx_call_return_int (call, getpid ());
}

ZX_TASK (whoami) {
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    zx_values_add_int (zx_call_result (call), n);
    return zx_call_return_int (call, getpid ());
}

//  --------------------------------------------------------------------
//  Helpers

static zx_future_t *
s_run (zx_loop_t *loop, zx_executor_t *pool, const char *task, int64_t arg)
{
    zx_future_t *future = zx_run_in_executor (loop, pool, task, zx_values_pack ("i", arg));
    assert_non_null (future);
    return future;
}

//  Runs the loop until the future is running (its worker said STARTED).
static void
s_until_running (zx_loop_t *loop, zx_future_t *future)
{
    int64_t deadline = zx_test_now_ms () + 10000;
    while (zx_future_state (future) == ZX_FUTURE_PENDING && zx_test_now_ms () < deadline) {
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 5);
        zx_future_destroy (&nap);
    }
    assert_int_equal (zx_future_state (future), ZX_FUTURE_RUNNING);
}

//  Waits until each of a process pool's count workers has started and run
//  a task: a deadline counts from the submission, and a process started
//  inside it on a loaded machine (an exec, a sanitized binary's start)
//  can take longer than the whole deadline.
static void
s_warm_up (zx_loop_t *loop, zx_executor_t *pool, int count)
{
    zx_future_t *warm [4];
    assert_true (count <= 4);
    for (int i = 0; i < count; i++)
        warm [i] = s_run (loop, pool, "deaf_sleep", 50);
    for (int i = 0; i < count; i++) {
        assert_int_equal (zx_future_wait (warm [i], 20000), ZX_OK);
        zx_future_destroy (&warm [i]);
    }
}

//  Runs the loop until the future is running, then a little longer.
static void
s_until_started (zx_loop_t *loop, zx_future_t *future)
{
    s_until_running (loop, future);
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, 100);
    zx_future_destroy (&nap);
}

static void
s_expect (zx_future_t *future, zx_err_t code, const char *text)
{
    assert_int_equal (zx_future_wait (future, 20000), code);
    if (!strstr (zx_future_message (future), text)) {
        print_error ("expected '%s' in '%s'\n", text, zx_future_message (future));
        fail ();
    }
}

static int s_done_calls;

static void
s_count_done (zx_future_t *future, void *arg)
{
    (void) future;
    (void) arg;
    s_done_calls++;
}

//  --------------------------------------------------------------------
//  Cancelling running tasks

static void
s_check_token_stops_a_running_task (zx_executor_t *pool)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = s_run (loop, pool, "polite_spin", 20000);
    s_done_calls = 0;
    zx_future_add_done_callback (future, s_count_done, NULL);
    s_until_started (loop, future);
    int64_t started = zx_test_now_ms ();
    assert_true (zx_future_cancel (future));
    //  It ends when the task has stopped, not before
    assert_false (zx_future_done (future));
    s_expect (future, ZX_ECANCELLED, "stopped at its cancel token");
    assert_true (zx_future_cancelled (future));
    assert_true (zx_test_now_ms () - started < 900);     //  Not the grace's doing
    assert_true (zx_future_cancel (future) == false);    //  Already ended
    //  The pool goes on
    zx_future_t *next = s_run (loop, pool, "whoami", 7);
    assert_int_equal (zx_future_wait (next, 10000), ZX_OK);
    zx_future_destroy (&next);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    assert_int_equal (s_done_calls, 1);
    zx_loop_destroy (&loop);
}

static void
test_a_thread_task_stops_at_its_cancel_token (void **state)
{
    (void) state;
    s_check_token_stops_a_running_task (zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1 }));
}

static void
test_a_process_task_stops_at_its_cancel_token (void **state)
{
    (void) state;
    s_check_token_stops_a_running_task (zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1 }));
}

static void
test_a_process_task_deaf_to_its_token_is_ended_by_sigterm_and_replaced (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 4, .cancel_grace_ms = 200 });
    zx_future_t *deaf = s_run (loop, pool, "deaf_sleep", 30000);
    //  Sent to the same worker after the deaf one: it never starts there
    zx_future_t *after = s_run (loop, pool, "whoami", 42);
    s_until_started (loop, deaf);
    pid_t pids [1];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 1), 1);
    int64_t started = zx_test_now_ms ();
    assert_true (zx_future_cancel (deaf));
    s_expect (deaf, ZX_ECANCELLED, "ended by SIGTERM");
    char expected [64];
    snprintf (expected, sizeof expected, "worker process %d did not stop", (int) pids [0]);
    s_expect (deaf, ZX_ECANCELLED, expected);
    int64_t took = zx_test_now_ms () - started;
    assert_true (took >= 150 && took < 5000);
    //  The task behind it runs once, on the replacement, with no retries
    assert_int_equal (zx_future_wait (after, 10000), ZX_OK);
    const zx_values_t *result = zx_future_result (after);
    int64_t n = 0, pid = 0;
    assert_int_equal (zx_values_get_int (result, 0, &n), ZX_OK);
    assert_int_equal (zx_values_get_int (result, 1, &pid), ZX_OK);
    assert_int_equal (n, 42);
    assert_true (pid != pids [0]);
    assert_int_equal (zx_executor_worker_pids (pool, pids + 0, 1), 1);
    assert_int_equal (pids [0], (pid_t) pid);
    zx_future_destroy (&deaf);
    zx_future_destroy (&after);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_a_process_task_that_ignores_sigterm_is_killed_by_sigkill (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .cancel_grace_ms = 150 });
    zx_future_t *stubborn = s_run (loop, pool, "stubborn_sleep", 30000);
    s_until_started (loop, stubborn);
    int64_t started = zx_test_now_ms ();
    zx_future_cancel (stubborn);
    s_expect (stubborn, ZX_ECANCELLED, "killed by SIGKILL");
    int64_t took = zx_test_now_ms () - started;
    assert_true (took >= 250 && took < 5000);
    zx_future_t *next = s_run (loop, pool, "whoami", 1);
    assert_int_equal (zx_future_wait (next, 10000), ZX_OK);
    zx_future_destroy (&next);
    zx_future_destroy (&stubborn);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_a_thread_task_deaf_to_its_token_is_given_up_on_after_the_grace (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .cancel_grace_ms = 100 });
    zx_future_t *deaf = s_run (loop, pool, "deaf_sleep", 700);
    s_until_started (loop, deaf);
    int64_t started = zx_test_now_ms ();
    zx_future_cancel (deaf);
    s_expect (deaf, ZX_ECANCELLED, "goes on until it returns");
    assert_true (zx_test_now_ms () - started < 600);
    //  The other thread serves meanwhile, and both afterwards
    zx_future_t *next = s_run (loop, pool, "whoami", 3);
    assert_int_equal (zx_future_wait (next, 10000), ZX_OK);
    zx_future_destroy (&next);
    zx_future_destroy (&deaf);
    zx_executor_destroy (&pool);     //  Waits for the deaf thread to return
    zx_loop_destroy (&loop);
}

static void
test_a_cancel_of_a_task_that_finishes_first_drops_its_result (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .cancel_grace_ms = 2000 });
    zx_future_t *deaf = s_run (loop, pool, "deaf_sleep", 300);
    s_until_started (loop, deaf);
    zx_future_cancel (deaf);
    s_expect (deaf, ZX_ECANCELLED, "finished before it saw the cancel");
    assert_null (zx_future_result (deaf));
    zx_future_destroy (&deaf);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  --------------------------------------------------------------------
//  Deadlines

static void
test_a_deadline_fails_a_running_task_with_timedout_and_stops_it (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    s_warm_up (loop, pool, 1);
    int64_t started = zx_test_now_ms ();
    zx_future_t *future = zx_run_in_executor_opts (loop, pool, "polite_spin",
        zx_values_pack ("i", (int64_t) 20000), &(zx_task_opts_t) { .timeout_ms = 300 });
    s_expect (future, ZX_ETIMEDOUT, "passed its 300 ms deadline while running");
    int64_t took = zx_test_now_ms () - started;
    assert_true (took >= 280 && took < 3000);
    //  It was stopped: the one worker is free for the next task at once
    zx_future_t *next = s_run (loop, pool, "whoami", 5);
    assert_int_equal (zx_future_wait (next, 2000), ZX_OK);
    zx_future_destroy (&next);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_a_deadline_passed_in_the_queue_means_the_task_never_runs (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 1 });
    zx_future_t *busy = s_run (loop, pool, "deaf_sleep", 500);
    zx_future_t *late = zx_run_in_executor_opts (loop, pool, "whoami",
        zx_values_pack ("i", (int64_t) 9), &(zx_task_opts_t) { .timeout_ms = 100 });
    s_expect (late, ZX_ETIMEDOUT, "passed its 100 ms deadline before it started");
    assert_int_equal (zx_future_wait (busy, 5000), ZX_OK);
    //  Nothing else ran: the pool is idle
    assert_int_equal (zx_executor_backlog (pool), 0);
    zx_future_destroy (&busy);
    zx_future_destroy (&late);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_an_executor_wide_deadline_applies_to_every_task (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .task_timeout_ms = 200 });
    //  Both workers ready, so the quick task does not queue behind the slow
    zx_future_t *warm [2] = { s_run (loop, pool, "deaf_sleep", 50), s_run (loop, pool, "deaf_sleep", 50) };
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_wait (warm [i], 5000), ZX_OK);
        zx_future_destroy (&warm [i]);
    }
    zx_future_t *slow = s_run (loop, pool, "polite_spin", 5000);
    zx_future_t *quick = s_run (loop, pool, "whoami", 1);
    s_expect (slow, ZX_ETIMEDOUT, "200 ms deadline");
    assert_int_equal (zx_future_wait (quick, 5000), ZX_OK);
    zx_future_t *bad = zx_run_in_executor_opts (loop, pool, "whoami", NULL,
                                                &(zx_task_opts_t) { .timeout_ms = -1 });
    assert_int_equal (zx_future_wait (bad, 1000), ZX_EINVAL);
    zx_future_destroy (&bad);
    zx_future_destroy (&slow);
    zx_future_destroy (&quick);
    zx_executor_destroy (&pool);
    assert_null (zx_thread_pool_new (&(zx_executor_opts_t) { .task_timeout_ms = -5 }));
    assert_null (zx_process_pool_new (&(zx_executor_opts_t) { .cancel_grace_ms = -1 }));
    zx_loop_destroy (&loop);
}

//  A local worker that stops answering (SIGSTOP) while busy looks like a
//  long task: its deadline fails the future, and as it cannot stop at its
//  token, SIGTERM (held while it is stopped) and then SIGKILL end it. The
//  pool replaces it; nothing it says later can reach a future.
static void
test_a_stopped_busy_process_worker_is_ended_after_its_tasks_deadline (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .cancel_grace_ms = 100 });
    //  The worker is up before the deadline starts, and it is stopped as
    //  soon as it says STARTED: the deadline need only cover that round
    //  trip, a few wake-ups of processes on a loaded machine
    s_warm_up (loop, pool, 1);
    zx_future_t *future = zx_run_in_executor_opts (loop, pool, "polite_spin",
        zx_values_pack ("i", (int64_t) 5000), &(zx_task_opts_t) { .timeout_ms = 1000 });
    s_until_running (loop, future);
    pid_t pids [1];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 1), 1);
    assert_int_equal (kill (pids [0], SIGSTOP), 0);
    s_expect (future, ZX_ETIMEDOUT, "passed its 1000 ms deadline while running");
    //  The next task runs on a new worker once the stopped one is killed
    //  (a new process: a sanitized one, on a machine loaded past 60, took
    //  more than 10 s to start; the wait is only a safety net)
    zx_future_t *next = s_run (loop, pool, "whoami", 11);
    assert_int_equal (zx_future_wait (next, 30000), ZX_OK);
    int64_t pid = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (next), 1, &pid), ZX_OK);
    assert_true (pid != pids [0]);
    assert_int_equal (kill (pids [0], 0), -1);         //  Killed and reaped
    assert_int_equal (zx_future_error (future), ZX_ETIMEDOUT);
    zx_future_destroy (&next);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  --------------------------------------------------------------------
//  Backpressure

#define S_MANY  5000

typedef struct {
    zx_executor_t *pool;
    size_t max_backlog;
    int right;
} s_producer_t;

static void
s_producer (void *arg)
{
    s_producer_t *producer = (s_producer_t *) arg;
    zx_future_t **futures = calloc (S_MANY, sizeof (zx_future_t *));
    for (int i = 0; i < S_MANY; i++) {
        futures [i] = zx_executor_submit (producer->pool, "whoami", zx_values_pack ("i", (int64_t) i));
        size_t backlog = zx_executor_backlog (producer->pool);
        if (backlog > producer->max_backlog)
            producer->max_backlog = backlog;
    }
    for (int i = 0; i < S_MANY; i++) {
        int64_t n = -1;
        if (zx_await (futures [i]) == ZX_OK
        &&  zx_values_get_int (zx_future_result (futures [i]), 0, &n) == ZX_OK && n == i)
            producer->right++;
        zx_future_destroy (&futures [i]);
    }
    free (futures);
}

static void
test_a_full_queue_makes_a_coroutine_wait_and_plain_code_fail (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    //  One worker holding at most 4, a queue of 50 behind it
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 4, .max_queue = 50 });
    s_producer_t producer = { .pool = pool };
    zx_future_t *done = zx_coro_start (loop, s_producer, &producer, 0);
    assert_int_equal (zx_loop_run_until_complete (loop, done), ZX_OK);
    zx_future_destroy (&done);
    assert_int_equal (producer.right, S_MANY);
    assert_true (producer.max_backlog <= 50 + 4);

    //  Outside a coroutine: the 51st waiting submission fails at once
    //  A gate holds the worker until every submission is made: a sleeper
    //  could end between two of them on a loaded machine, and its reply,
    //  read there, would free the worker for one more
    char started [256], release [256];
    snprintf (started, sizeof started, "/tmp/zexec-test-cancel-%d-gate-started", (int) getpid ());
    snprintf (release, sizeof release, "/tmp/zexec-test-cancel-%d-gate-release", (int) getpid ());
    unlink (started);
    unlink (release);
    zx_future_t *busy = zx_run_in_executor (loop, pool, "gate",
        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    zx_future_t *futures [60];
    int full = 0;
    for (int i = 0; i < 60; i++) {
        futures [i] = s_run (loop, pool, "whoami", i);
        if (zx_future_done (futures [i])) {
            assert_int_equal (zx_future_error (futures [i]), ZX_EQUEUE_FULL);
            assert_non_null (strstr (zx_future_message (futures [i]), "queue full"));
            full++;
        }
    }
    //  Submitted from plain code, the sleeper went to the idle worker at
    //  once; the loop has not run since, so nothing else did: 50 of them
    //  fill the queue
    assert_false (zx_future_done (busy));
    zx_test_touch (release);
    assert_int_equal (full, 60 - 50);
    assert_int_equal (zx_future_wait (busy, 10000), ZX_OK);
    for (int i = 0; i < 60; i++) {
        zx_err_t rc = zx_future_wait (futures [i], 10000);
        assert_true (rc == ZX_OK || rc == ZX_EQUEUE_FULL);
        zx_future_destroy (&futures [i]);
    }
    zx_future_destroy (&busy);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    unlink (started);
    unlink (release);
}

//  A task submitted and cancelled from plain code, and its executor
//  destroyed, all before the loop runs again: whatever the executor had
//  asked the loop to call for it (a flush, a pump) must not run on the
//  freed executor when the loop does run. (ASan saw a remote client's
//  queued flush do just that, once the cancel had flushed directly.)
static void
s_check_cancel_then_destroy (zx_executor_t *executor)
{
    assert_non_null (executor);
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++)
        futures [i] = zx_test_submit (loop, executor, "whoami", NULL);
    //  Nothing left outstanding, so the destroy has nothing to wait for
    //  and does not run the loop itself
    for (int i = 0; i < 3; i++)
        if (zx_future_cancel (futures [i]))
            assert_true (zx_future_cancelled (futures [i]));
    zx_executor_destroy (&executor);
    //  Each ended exactly once: cancelled, or its result came first
    for (int i = 0; i < 3; i++) {
        assert_true (zx_future_done (futures [i]));
        zx_future_destroy (&futures [i]);
    }
    zx_test_loop_finish (&loop);
}

static void
test_a_cancel_then_destroy_before_the_loop_runs_leaves_no_call_behind (void **state)
{
    (void) state;
    s_check_cancel_then_destroy (zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 1 }));
    s_check_cancel_then_destroy (zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 }));
    //  A broker nobody runs: the requests wait in the client's batch
    s_check_cancel_then_destroy (zx_remote_executor_new ("tcp://127.0.0.1:9", NULL));
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_thread_task_stops_at_its_cancel_token),
        cmocka_unit_test (test_a_process_task_stops_at_its_cancel_token),
        cmocka_unit_test (test_a_process_task_deaf_to_its_token_is_ended_by_sigterm_and_replaced),
        cmocka_unit_test (test_a_process_task_that_ignores_sigterm_is_killed_by_sigkill),
        cmocka_unit_test (test_a_thread_task_deaf_to_its_token_is_given_up_on_after_the_grace),
        cmocka_unit_test (test_a_cancel_of_a_task_that_finishes_first_drops_its_result),
        cmocka_unit_test (test_a_deadline_fails_a_running_task_with_timedout_and_stops_it),
        cmocka_unit_test (test_a_deadline_passed_in_the_queue_means_the_task_never_runs),
        cmocka_unit_test (test_an_executor_wide_deadline_applies_to_every_task),
        cmocka_unit_test (test_a_stopped_busy_process_worker_is_ended_after_its_tasks_deadline),
        cmocka_unit_test (test_a_full_queue_makes_a_coroutine_wait_and_plain_code_fail),
        cmocka_unit_test (test_a_cancel_then_destroy_before_the_loop_runs_leaves_no_call_behind),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
