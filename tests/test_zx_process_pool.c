/*  test_zx_process_pool.c - the process pool: shared pool behaviour, plus
    what only processes show: real PIDs, workers killed with SIGKILL idle
    or busy, workers that die with their parent, nothing left behind.

    This binary is also the pool's worker program: zx_init in main turns
    the copies the pool starts into workers. With "--orphan-helper" it
    plays a parent that is killed under its pool.                        */
#include "pool_cases.h"
#include <sys/wait.h>

static zx_executor_t *
s_pool_new (const zx_executor_opts_t *opts)
{
    return zx_process_pool_new (opts);
}

//  Waits until every worker has run a task, so all are ready.
static void
s_warm_up (zx_loop_t *loop, zx_executor_t *pool, int workers)
{
    zx_future_t *futures [16];
    zx_test_submit_many (loop, pool, futures, workers, "sleep_ms", 50);
    zx_test_wait_all (futures, (size_t) workers, WAIT_MS);
    for (int i = 0; i < workers; i++)
        zx_future_destroy (&futures [i]);
}

static bool
s_process_gone (pid_t pid)
{
    if (kill (pid, 0) == -1 && errno == ESRCH)
        return true;
    //  A zombie not yet reaped by its new parent is gone too
    char state = zx_test_proc_state (pid);
    return state == 0 || state == 'Z';
}

//  Workers killed from outside right after they start, before they say
//  READY, are replaced; the pool is not marked broken (only workers that
//  exit or crash on their own before READY count towards that).
static void
test_workers_killed_before_they_are_ready_do_not_break_the_pool (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 12));
    pid_t last = 0;
    int kills = 0;
    int64_t deadline = zx_test_now_ms () + 20000;
    while (kills < 5 && zx_test_now_ms () < deadline) {
        pid_t pid = 0;
        if (zx_executor_worker_pids (pool, &pid, 1) == 1 && pid != last && pid > 0) {
            assert_int_equal (kill (pid, SIGKILL), 0);
            last = pid;
            kills++;
        }
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 1);
        zx_future_destroy (&nap);
    }
    assert_int_equal (kills, 5);
    assert_int_equal (zx_future_wait (future, 20000), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (future), 0, &square), ZX_OK);
    assert_int_equal (square, 144);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_workers_are_separate_processes_with_their_own_pids (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3, .window = 1 });
    s_warm_up (loop, pool, 3);
    pid_t pids [3];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 3), 3);
    for (int i = 0; i < 3; i++) {
        assert_true (pids [i] != getpid ());
        for (int j = i + 1; j < 3; j++)
            assert_true (pids [i] != pids [j]);
    }
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_killed_busy_worker_fails_only_its_own_task (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3, .window = 1 });
    s_warm_up (loop, pool, 3);
    //  Three gates, one on each worker, all running (each has made its
    //  file) when one worker is killed: none can have ended before, as a
    //  sleep could on a loaded machine, and none is still on its way
    char started [3][256], release [256];
    s_temp_path (release, sizeof release, "killed-busy-release");
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++) {
        char what [32];
        snprintf (what, sizeof what, "killed-busy-started-%d", i);
        s_temp_path (started [i], sizeof started [i], what);
        futures [i] = zx_test_submit (loop, pool, "gate",
                                      zx_values_pack ("ssi", started [i], release, (int64_t) 60000));
    }
    for (int i = 0; i < 3; i++)
        assert_true (zx_test_wait_file (started [i], WAIT_MS));
    pid_t pids [3];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 3), 3);
    pid_t victim = pids [1];
    assert_int_equal (kill (victim, SIGKILL), 0);
    zx_test_touch (release);
    zx_test_wait_all (futures, 3, WAIT_MS);
    int lost = 0;
    char expected [64];
    snprintf (expected, sizeof expected, "worker process %d was killed by signal 9 (SIGKILL)", (int) victim);
    for (int i = 0; i < 3; i++) {
        if (zx_future_error (futures [i]) == ZX_EWORKER_LOST) {
            lost++;
            assert_non_null (strstr (zx_future_message (futures [i]), expected));
            assert_non_null (strstr (zx_future_message (futures [i]), "task 'gate'"));
        }
        else {
            assert_int_equal (zx_future_error (futures [i]), ZX_OK);
            int64_t pid;
            zx_values_get_int (zx_future_result (futures [i]), 0, &pid);
            assert_true (pid != victim);
        }
        zx_future_destroy (&futures [i]);
    }
    assert_int_equal (lost, 1);
    //  The pool replaced the worker and goes on
    zx_future_t *more [9];
    for (int i = 0; i < 9; i++)
        more [i] = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    zx_test_wait_all (more, 9, WAIT_MS);
    for (int i = 0; i < 9; i++) {
        int64_t value;
        assert_int_equal (zx_future_result_int (more [i], &value), ZX_OK);
        assert_int_equal (value, i * i);
        zx_future_destroy (&more [i]);
    }
    assert_int_equal (zx_executor_worker_pids (pool, pids, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_true (pids [i] != victim);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    for (int i = 0; i < 3; i++)
        unlink (started [i]);
    unlink (release);
}

static void
test_killed_idle_worker_is_replaced_and_nothing_fails (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    s_warm_up (loop, pool, 2);
    pid_t pids [2];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
    assert_int_equal (kill (pids [0], SIGKILL), 0);
    zx_sleep (100);
    zx_future_t *futures [20];
    for (int i = 0; i < 20; i++)
        futures [i] = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    zx_test_wait_all (futures, 20, WAIT_MS);
    for (int i = 0; i < 20; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        zx_future_destroy (&futures [i]);
    }
    pid_t now [2];
    assert_int_equal (zx_executor_worker_pids (pool, now, 2), 2);
    assert_true (now [0] != pids [0] && now [1] != pids [0]);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_destroy_leaves_no_worker_processes (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    s_warm_up (loop, pool, 3);
    pid_t pids [3];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 3), 3);
    zx_executor_destroy (&pool);
    for (int i = 0; i < 3; i++)
        assert_true (s_process_gone (pids [i]));
    //  All reaped: no zombie children left
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
    zx_loop_destroy (&loop);
}

//  The helper: a parent with a pool of two, killed by the test.
static int
s_orphan_helper (void)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 2, .window = 1 });
    zx_future_t *futures [2];
    for (int i = 0; i < 2; i++)
        futures [i] = zx_run_in_executor (loop, pool, "sleep_ms", zx_values_pack ("i", (int64_t) 50));
    zx_wait (futures, 2, ZX_ALL_COMPLETED, 10000, NULL, NULL, NULL, NULL);
    pid_t pids [2] = { 0, 0 };
    zx_executor_worker_pids (pool, pids, 2);
    printf ("%d %d\n", (int) pids [0], (int) pids [1]);
    fflush (stdout);
    pause ();
    return 0;
}

static void
test_workers_exit_when_their_parent_dies (void **state)
{
    (void) state;
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    assert_true (length > 0);
    exe [length] = 0;
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    pid_t helper = fork ();
    if (helper == 0) {
        dup2 (fds [1], 1);
        close (fds [0]);
        execl (exe, exe, "--orphan-helper", (char *) NULL);
        _exit (127);
    }
    close (fds [1]);
    char line [128] = "";
    FILE *input = fdopen (fds [0], "r");
    assert_non_null (fgets (line, sizeof line, input));
    fclose (input);
    int a = 0, b = 0;
    assert_int_equal (sscanf (line, "%d %d", &a, &b), 2);
    assert_true (a > 0 && b > 0);
    assert_false (s_process_gone (a));
    kill (helper, SIGKILL);
    waitpid (helper, NULL, 0);
    int64_t deadline = zx_test_now_ms () + 5000;
    while ((!s_process_gone (a) || !s_process_gone (b)) && zx_test_now_ms () < deadline)
        usleep (10000);
    assert_true (s_process_gone (a));
    assert_true (s_process_gone (b));
}

static void
test_with_retries_a_killed_workers_task_runs_again_elsewhere (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .window = 1, .retries = 1 });
    s_warm_up (loop, pool, 2);
    zx_future_t *futures [2];
    zx_test_submit_many (loop, pool, futures, 2, "sleep_ms", 400);
    zx_sleep (150);
    pid_t pids [2];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
    pid_t victim = pids [0];
    assert_int_equal (kill (victim, SIGKILL), 0);
    zx_test_wait_all (futures, 2, WAIT_MS);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        int64_t pid;
        zx_values_get_int (zx_future_result (futures [i]), 0, &pid);
        assert_true (pid != victim);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static const struct CMUnitTest tests [] = {
    POOL_CASES,
    cmocka_unit_test (test_workers_are_separate_processes_with_their_own_pids),
    cmocka_unit_test (test_workers_killed_before_they_are_ready_do_not_break_the_pool),
    cmocka_unit_test (test_killed_busy_worker_fails_only_its_own_task),
    cmocka_unit_test (test_killed_idle_worker_is_replaced_and_nothing_fails),
    cmocka_unit_test (test_destroy_leaves_no_worker_processes),
    cmocka_unit_test (test_workers_exit_when_their_parent_dies),
    cmocka_unit_test (test_with_retries_a_killed_workers_task_runs_again_elsewhere),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc > 1 && strcmp (argv [1], "--orphan-helper") == 0)
        return s_orphan_helper ();
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
