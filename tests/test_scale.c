/*  test_scale.c - a broker with many peers: 200 real zexec-worker
    processes answering every task with none declared lost, busy or idle;
    and a broker that raises its open files limit at start, sizes its caps
    from it, and logs each connection it cannot accept past it.

    The counts are lower under the sanitizers, whose processes are
    several times bigger and slower on CI's two cores.                   */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1
#endif

#ifdef ZX_SANITIZED
#   define S_WORKERS    40
#   define S_TASKS      4000
#else
#   define S_WORKERS    200
#   define S_TASKS      20000
#endif

//  This process's soft open files limit raised to its hard one: the tests
//  hold a connection per fake peer. False when that leaves fewer than need.
static bool
s_own_fds (rlim_t need)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
        return false;
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    return getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur >= need;
}

//  --------------------------------------------------------------------
//  Many workers

//  Distinct pids in the result field at of the futures
static int
s_distinct_pids (zx_future_t **futures, int count, int at)
{
    static pid_t seen [S_WORKERS];
    int distinct = 0;
    for (int i = 0; i < count; i++) {
        pid_t pid = (pid_t) zx_test_result_int (futures [i], at);
        int k = 0;
        while (k < distinct && seen [k] != pid)
            k++;
        if (k == distinct) {
            assert_true (distinct < S_WORKERS);
            seen [distinct++] = pid;
        }
    }
    return distinct;
}

//  200 single-thread workers on one broker (1 s heartbeat, liveness 3):
//  every one of 20,000 tiny tasks is answered right (by the few workers
//  the broker keeps busy on this machine's CPUs), then tasks of 20 ms,
//  which say STARTED, reach most of them; no worker is declared lost,
//  nor the broker by any worker, while they work or through three
//  heartbeat intervals of idleness.
static void
test_200_workers_answer_every_task_and_none_is_declared_lost (void **state)
{
    (void) state;
    assert_true (s_own_fds (4 * S_WORKERS));
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 1000, NULL);
    zx_test_child_t *workers [S_WORKERS];
    for (int i = 0; i < S_WORKERS; i++)
        workers [i] = zx_test_worker_start (&broker, 1, NULL);
    for (int i = 0; i < S_WORKERS; i++)
        zx_test_wait_ready (&broker, workers [i]);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    static zx_future_t *futures [S_TASKS];
    zx_test_submit_squares (loop, remote, futures, S_TASKS);
    zx_test_wait_all (futures, S_TASKS, 60000);
    //  Every result right, and from how many workers
    for (int i = 0; i < S_TASKS; i++) {
        if (zx_future_state (futures [i]) != ZX_FUTURE_DONE)
            fail_msg ("task %d failed: %s", i, zx_future_message (futures [i]));
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
    }
    int distinct = s_distinct_pids (futures, S_TASKS, 1);
    zx_test_destroy_all (futures, S_TASKS);
    print_message ("%d tiny tasks answered right by %d of %d workers\n", S_TASKS, distinct,
                   S_WORKERS);
    //  Tasks that run long enough to say STARTED spread over them all
    for (int i = 0; i < 2 * S_WORKERS; i++)
        futures [i] = zx_run_in_executor (loop, remote, "slow_square",
                                          zx_values_pack ("ii", (int64_t) i, (int64_t) 20));
    zx_test_wait_all (futures, 2 * S_WORKERS, 60000);
    for (int i = 0; i < 2 * S_WORKERS; i++) {
        if (zx_future_state (futures [i]) != ZX_FUTURE_DONE)
            fail_msg ("slow task %d failed: %s", i, zx_future_message (futures [i]));
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
    }
    distinct = s_distinct_pids (futures, 2 * S_WORKERS, 1);
    zx_test_destroy_all (futures, 2 * S_WORKERS);
    print_message ("%d tasks of 20 ms answered right by %d of %d workers\n", 2 * S_WORKERS,
                   distinct, S_WORKERS);
    assert_true (distinct >= S_WORKERS / 2);
    //  Idle through more than liveness times the heartbeat: heartbeats
    //  alone must keep every one of them known, both ways
    zx_sleep (3500);
    const char *log = broker.child->log;
    assert_int_equal (zx_test_log_count (log, "declared lost", NULL), 0);
    assert_int_equal (zx_test_log_count (log, " left", NULL), 0);
    for (int i = 0; i < S_WORKERS; i++) {
        if (!zx_test_alive (workers [i]))
            fail_msg ("worker %d (pid %d) died", i, (int) workers [i]->pid);
        assert_int_equal (zx_test_log_count (workers [i]->log, "not heard from", NULL), 0);
    }
    //  And they still serve
    zx_future_t *again [S_WORKERS];
    zx_test_submit_squares (loop, remote, again, S_WORKERS);
    zx_test_check_squares (again, S_WORKERS, 30000, 0);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 20000);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  The open files limit

//  A broker started with a soft limit of 100 open files and a hard one
//  of 200 raises the soft one to 200, lowers --max-workers (not given) to
//  what that leaves room for, and says so. Fake workers past that get
//  "too many workers"; connections past the limit itself, which libzmq
//  cannot accept, are each logged (rate-limited), not refused in silence;
//  and the good coordinator is still served by the good worker.
static void
test_the_broker_raises_its_fd_limit_and_logs_connections_past_it (void **state)
{
    (void) state;
    enum { FAKES = 260 };
    assert_true (s_own_fds (4 * FAKES));
    const char *wrapper [] = { "/bin/sh", "-c",
                               "ulimit -Sn 100 && ulimit -Hn 200 && exec \"$0\" \"$@\"", NULL };
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 1000,
                                                     .broker_wrapper = wrapper });
    const char *log = env.broker.child->log;
    zx_test_expect_log (log, "open files: limit 200 (was 100, hard limit 200)",
                        "max-workers 136, max-clients 136", 1);
    static void *fakes [FAKES];
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 1);
    for (int i = 0; i < FAKES; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "scale-fd-%d", i);
        fakes [i] = zx_test_raw_connect (env.broker.endpoint, identity);
        SEND (fakes [i], S ("ZXW01"), S ("\x01"), S ("fake"), B (info, sizeof info), S ("w"));
    }
    //  136 ids at most: the good worker and 135 fakes
    zx_test_expect_log (log, "too many workers: READY from scale-fd-", "(max-workers 136)", 1);
    zx_test_expect_log (log, "cannot accept a connection on tcp://127.0.0.1:",
                        "Too many open files", 1);
    assert_true (zx_test_log_count (log, "worker scale-fd-", " ready") <= 135);
    for (int i = 0; i < FAKES; i++)
        zx_test_raw_close (&fakes [i]);
    zx_test_env_check (&env, "connections past the open files limit");
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_200_workers_answer_every_task_and_none_is_declared_lost),
    cmocka_unit_test (test_the_broker_raises_its_fd_limit_and_logs_connections_past_it),
};

ZX_TEST_RAW_MAIN (tests)
