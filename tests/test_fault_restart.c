/*  test_fault_restart.c - a broker killed with SIGKILL and started again
    on the same endpoint while a coordinator has work in flight: a real
    zexec-broker, a real zexec-worker serving the tasks of remote_tasks.c,
    and a remote executor in this process.

    What a user relies on: work that allows retries survives the restart
    and ends right (sent again to the new broker); work that allows none
    fails at once with the clear error ("connection to the broker at E
    lost; task 'T' was lost"), since what the old broker held is unknown;
    the serving worker finds the new broker by itself; later submissions
    succeed; and when the broker does not come back within the reconnect
    window, everything still out fails, saying so. Each future ends
    exactly once (a done callback counts it).

    Heartbeats are short (100 ms, liveness 3). The broker is restarted
    500 ms after the kill, as an operator's supervisor would.            */
#define _GNU_SOURCE
#include "testutil_fault.h"
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEARTBEAT_MS    100
#define LONG_MS         1500        //  Long tasks: in flight at the kill

static int
s_setup (void **state)
{
    zx_test_ended_reset ();
    return zx_test_setup (state);
}

//  Submits slow_square (n, ms) with retries (zx_task_opts_t: 0 the
//  executor's), counting its ends in *calls.
static zx_future_t *
s_slow_square (zx_test_env_t *env, int64_t n, int64_t ms, int retries, int *calls)
{
    zx_future_t *future = zx_run_in_executor_opts (env->loop, env->remote, "slow_square",
                                                   zx_values_pack ("ii", n, ms),
                                                   &(zx_task_opts_t) { .retries = retries });
    assert_non_null (future);
    assert_int_equal (zx_future_add_done_callback (future, zx_test_count_done, calls), ZX_OK);
    return future;
}

//  Waits (running the loop) until each future has started on a worker.
static void
s_wait_running (zx_future_t **futures, size_t count)
{
    int64_t limit = zx_test_now_ms () + 10000;
    for (size_t i = 0; i < count; i++)
        while (zx_future_state (futures [i]) != ZX_FUTURE_RUNNING) {
            if (zx_test_now_ms () > limit)
                fail_msg ("task %zu did not start within 10 s", i);
            zx_sleep (2);
        }
}

//  Lets the loop run for ms.
static void
s_nap (zx_loop_t *loop, int64_t ms)
{
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, ms);
    zx_future_destroy (&nap);
}

static void
s_start (zx_test_env_t *env, const zx_executor_opts_t *remote)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .threads = 4, .remote = remote });
}

//  --------------------------------------------------------------------

static void
test_a_broker_restart_keeps_retryable_work_and_fails_the_rest_clearly (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, &(zx_executor_opts_t) { .heartbeat_ms = HEARTBEAT_MS, .liveness = 3 });
    //  Four long tasks hold the worker's four threads: two allow retries,
    //  two do not; twenty short ones that allow retries queue behind them
    //  at the broker
    enum { LONG = 4, SHORT = 20 };
    int long_calls [LONG] = { 0 }, short_calls [SHORT] = { 0 };
    zx_future_t *longs [LONG], *shorts [SHORT];
    for (int i = 0; i < LONG; i++)
        longs [i] = s_slow_square (&env, i, LONG_MS, i < 2 ? 2 : ZX_NO_RETRIES, &long_calls [i]);
    for (int i = 0; i < SHORT; i++)
        shorts [i] = s_slow_square (&env, 100 + i, 20, 1, &short_calls [i]);
    s_wait_running (longs, LONG);

    zx_test_peer_stop (env.broker.child, SIGKILL, 5000);
    int64_t killed = zx_test_now_ms ();
    s_nap (env.loop, 500);
    //  Those that allow no retry failed at once, naming broker and task
    char expected [200];
    snprintf (expected, sizeof expected, "connection to the broker at %s lost; "
              "task 'slow_square' was lost", env.broker.endpoint);
    for (int i = 2; i < LONG; i++) {
        assert_true (zx_future_done (longs [i]));
        assert_int_equal (zx_future_error (longs [i]), ZX_EWORKER_LOST);
        if (!strstr (zx_future_message (longs [i]), expected))
            fail_msg ("task %d: '%s' does not say '%s'", i, zx_future_message (longs [i]),
                      expected);
    }
    //  Those that do are still waiting for the broker
    for (int i = 0; i < 2; i++)
        assert_false (zx_future_done (longs [i]));

    zx_test_broker_restart (&env.broker);
    //  The worker finds the new broker by itself, with a new id
    zx_test_wait_ready (&env.broker, env.worker);
    zx_test_wait_all (longs, 2, 20000);
    zx_test_wait_all (shorts, SHORT, 20000);
    int64_t elapsed = zx_test_now_ms () - killed;
    print_message ("retryable work in flight at the kill ended right %lld ms after it "
                   "(restart 500 ms after the kill)\n", (long long) elapsed);
    for (int i = 0; i < 2; i++) {
        if (zx_future_error (longs [i]) != ZX_OK)
            fail_msg ("retryable task %d: %s", i, zx_future_message (longs [i]));
        assert_int_equal (zx_test_result_int (longs [i], 0), (int64_t) i * i);
        assert_int_equal (zx_test_result_int (longs [i], 1), env.worker->pid);
    }
    for (int i = 0; i < SHORT; i++) {
        if (zx_future_error (shorts [i]) != ZX_OK)
            fail_msg ("short task %d: %s", i, zx_future_message (shorts [i]));
        assert_int_equal (zx_test_result_int (shorts [i], 0), (int64_t) (100 + i) * (100 + i));
    }
    //  Later submissions go through, on the same worker process
    int more [20];
    zx_test_counted_squares (env.loop, env.remote, 20, 0, more);
    zx_test_expect_ended_once (long_calls, LONG, 100);
    zx_test_expect_ended_once (short_calls, SHORT, 0);
    zx_test_destroy_all (longs, LONG);
    zx_test_destroy_all (shorts, SHORT);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  The executor's retries, a window of 800 ms, and a broker that comes
//  back only after it: what was out, and what was submitted meanwhile,
//  fails when the window passes; the broker, once back, serves again.
static void
test_work_waiting_for_a_broker_that_is_not_back_within_the_window_fails_saying_so (void **state)
{
    (void) state;
    enum { WINDOW = 800 };
    zx_test_env_t env;
    s_start (&env, &(zx_executor_opts_t) { .heartbeat_ms = HEARTBEAT_MS, .liveness = 3,
                                           .retries = 3, .reconnect_ms = WINDOW });
    int calls [3] = { 0 };
    zx_future_t *futures [3];
    for (int i = 0; i < 2; i++)
        futures [i] = s_slow_square (&env, i, LONG_MS, 0, &calls [i]);
    s_wait_running (futures, 2);
    zx_test_peer_stop (env.broker.child, SIGKILL, 5000);
    int64_t killed = zx_test_now_ms ();
    s_nap (env.loop, 100);
    //  Submitted while the broker is away: queued for it
    futures [2] = s_slow_square (&env, 2, 10, 0, &calls [2]);
    s_nap (env.loop, 100);
    assert_false (zx_future_done (futures [2]));
    zx_test_wait_all (futures, 3, 10000);
    int64_t elapsed = zx_test_now_ms () - killed;
    print_message ("with a %d ms reconnect window, work failed %lld ms after the broker "
                   "died\n", WINDOW, (long long) elapsed);
    assert_true (elapsed >= WINDOW);
    char expected [200];
    snprintf (expected, sizeof expected, "connection to the broker at %s lost and not back "
              "within %d ms; task 'slow_square' was lost", env.broker.endpoint, WINDOW);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        if (!strstr (zx_future_message (futures [i]), expected))
            fail_msg ("task %d: '%s' does not say '%s'", i, zx_future_message (futures [i]),
                      expected);
    }
    zx_test_expect_ended_once (calls, 3, 50);
    zx_test_destroy_all (futures, 3);

    zx_test_broker_restart (&env.broker);
    zx_test_wait_ready (&env.broker, env.worker);
    int more [10];
    zx_test_counted_squares (env.loop, env.remote, 10, 0, more);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_broker_restart_keeps_retryable_work_and_fails_the_rest_clearly),
    cmocka_unit_test (test_work_waiting_for_a_broker_that_is_not_back_within_the_window_fails_saying_so),
};

ZX_TEST_MAIN_WITH (tests, s_setup, zx_test_teardown)
