/*  test_fault_pool.c - crashes in a process pool: workers killed
    mid-task, tasks that kill every worker they touch, crashes at each
    stage of running a task (the worker runtime's ZEXEC_FAULT hook) and
    tasks that crash while they run. (test_fault_remote.c: a remote worker
    that stops answering; test_fault_chaos.c: a killer loose on 100,000
    tasks, shutting down while workers crash.) The ctest entries of the
    three are test_fault.*.

    What every test checks is what a user relies on: each future ends
    exactly once (a done callback counts it), with the right result or
    ZX_EWORKER_LOST and a message that names the process, the signal or
    exit code and the task; a task runs at most once unless retries are
    asked for (each task body appends its pid to a file in the test's
    scratch directory, so the test counts runs across processes); the
    pool replaces its dead workers and never loops on a poisonous task.

    This binary is also the process pools' worker program (zx_init in
    main), so the tasks of testutil_fault.c run in real worker processes.

    Under AddressSanitizer a SIGSEGV, abort or exit in a worker may end
    as another signal or exit code (ASan's handlers, LeakSanitizer at
    exit): there the tests check that the cause names the process but not
    which signal.                                                         */
#define _GNU_SOURCE
#include "testutil_fault.h"
#include "testutil_peers.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/wait.h>

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  --------------------------------------------------------------------
//  The scratch directory (runs files) and the count of futures ended

static int
s_setup (void **state)
{
    zx_test_ended_reset ();
    return zx_test_setup (state);
}

static int
s_teardown (void **state)
{
    unsetenv ("ZEXEC_FAULT");
    return zx_test_teardown (state);
}

//  Lines in a file (runs of a task), 0 when it does not exist.
static int
s_lines (const char *path)
{
    char *text = zx_test_read_file (path);
    int count = 0;
    for (char *at = text; *at; at++)
        count += *at == '\n';
    free (text);
    return count;
}

//  The pid on line index (0-based) of a runs file, or 0.
static pid_t
s_line_pid (const char *path, int index)
{
    char *text = zx_test_read_file (path);
    char *at = text;
    for (int i = 0; i < index && at; i++)
        if ((at = strchr (at, '\n')))
            at++;
    pid_t pid = at && *at ? (pid_t) atoi (at) : 0;
    free (text);
    return pid;
}


//  What a worker-lost message says of a worker that died by how.
static const char *
s_cause (const char *how)
{
    return streq (how, "kill")? "was killed by signal 9 (SIGKILL)"
         : streq (how, "abort")? "was killed by signal 6 (SIGABRT)"
         : streq (how, "exit")? "exited with code 1"
         : "was killed by signal 11 (SIGSEGV)";
}

//  Checks a future failed as worker lost, naming process pid (when not
//  0), its cause (how it died: see s_cause) and the task.
static void
s_expect_lost (const zx_future_t *future, pid_t pid, const char *how, const char *task)
{
    if (zx_future_error (future) != ZX_EWORKER_LOST)
        fail_msg ("expected worker lost, got %s: %s", zx_strerror (zx_future_error (future)),
                  zx_future_message (future));
    const char *message = zx_future_message (future);
    char text [300];
    if (pid)
        snprintf (text, sizeof text, "worker process %d ", (int) pid);
    else
        snprintf (text, sizeof text, "worker process ");
    bool strict = !ZX_SANITIZED || streq (how, "kill");
    if (!strstr (message, text)
    ||  (strict && !strstr (message, s_cause (how)))
    ||  (!strict && !strstr (message, "killed by signal") && !strstr (message, "exited with code")))
        fail_msg ("message '%s' does not say '%s%s'", message, text, s_cause (how));
    snprintf (text, sizeof text, "task '%s'", task);
    if (!strstr (message, text))
        fail_msg ("message '%s' does not name %s", message, text);
}


//  Waits (running the loop) until path exists; returns the pid in it.
static pid_t
s_wait_pid_file (const char *path, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (access (path, F_OK) != 0) {
        if (zx_test_now_ms () > deadline)
            fail_msg ("%s did not appear within %lld ms", path, (long long) timeout_ms);
        zx_sleep (2);
    }
    return s_line_pid (path, 0);
}

//  --------------------------------------------------------------------
//  1. A worker killed mid-task

//  Three workers, one request each at a time: the victim's announce_nap,
//  two naps and twenty squares in flight around it. The pool has
//  pool_retries; the victim task its own task_retries (zx_task_opts_t:
//  0 takes the pool's), and retries says which of the two it ends with.
static void
s_kill_mid_task (int pool_retries, int task_retries)
{
    int retries = task_retries == 0 ? pool_retries
                : task_retries == ZX_NO_RETRIES ? 0 : task_retries;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 3, .window = 1, .retries = pool_retries });
    assert_non_null (pool);
    zx_test_warm_up (loop, pool, 3);
    char path [300];
    zx_test_scratch_path (path, sizeof path, "victim.pid");
    enum { OTHERS = 22 };
    zx_future_t *victim, *others [OTHERS];
    int victim_calls = 0, calls [OTHERS] = { 0 };
    victim = zx_run_in_executor_opts (loop, pool, "announce_nap",
                                      zx_values_pack ("sii", path, (int64_t) 1500, (int64_t) 7),
                                      &(zx_task_opts_t) { .retries = task_retries });
    assert_non_null (victim);
    assert_int_equal (zx_future_add_done_callback (victim, zx_test_count_done, &victim_calls),
                      ZX_OK);
    for (int i = 0; i < 2; i++)
        others [i] = zx_test_submit_counted (loop, pool, "nap",
                                             zx_values_pack ("i", (int64_t) 400), &calls [i]);
    for (int i = 2; i < OTHERS; i++)
        others [i] = zx_test_submit_counted (loop, pool, "square",
                                             zx_values_pack ("i", (int64_t) i), &calls [i]);
    pid_t pid = s_wait_pid_file (path, 5000);
    assert_true (pid > 0 && pid != getpid ());
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (pid, SIGKILL), 0);

    if (retries == 0) {
        //  Noticed from the exit itself: no heartbeat, no timeout
        zx_test_wait_all (&victim, 1, 5000);
        int64_t elapsed = zx_test_now_ms () - start;
        print_message ("the killed worker's task failed %lld ms after SIGKILL\n",
                       (long long) elapsed);
        assert_true (elapsed < 1000);
        s_expect_lost (victim, pid, "kill", "announce_nap");
    }
    else {
        zx_test_wait_all (&victim, 1, 10000);
        assert_int_equal (zx_test_result_int (victim, 0), 49);
        pid_t second = (pid_t) zx_test_result_int (victim, 1);
        assert_true (second != pid);
        //  The second attempt ran, on the worker that answered
        assert_int_equal (s_line_pid (path, 0), second);
    }
    //  Replaced: as many workers as before, the victim not among them
    pid_t pids [3];
    int64_t deadline = zx_test_now_ms () + 5000;
    while (zx_executor_worker_pids (pool, pids, 3) != 3 && zx_test_now_ms () < deadline)
        zx_sleep (5);
    assert_int_equal (zx_executor_worker_pids (pool, pids, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_true (pids [i] != pid);
    assert_true (zx_test_pid_gone (pid));

    //  The rest were untouched
    zx_test_wait_all (others, OTHERS, 10000);
    for (int i = 0; i < 2; i++)
        assert_true (zx_test_result_int (others [i], 0) != pid);
    for (int i = 2; i < OTHERS; i++)
        assert_int_equal (zx_test_result_int (others [i], 0), (int64_t) i * i);
    zx_test_expect_ended_once (&victim_calls, 1, 100);
    zx_test_expect_ended_once (calls, OTHERS, 0);
    assert_int_equal (zx_test_ended (), 3 + 1 + OTHERS);

    //  And the pool goes on, on its new worker too
    int more_calls [12];
    zx_test_counted_squares (loop, pool, 12, 0, more_calls);
    zx_future_destroy (&victim);
    for (int i = 0; i < OTHERS; i++)
        zx_future_destroy (&others [i]);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_a_worker_killed_mid_task_fails_only_that_task_at_once_naming_pid_signal_and_task (void **state)
{
    (void) state;
    s_kill_mid_task (0, 0);
    zx_test_pass ();
}

static void
test_with_retries_a_worker_killed_mid_task_has_its_task_complete_on_another_worker (void **state)
{
    (void) state;
    s_kill_mid_task (1, 0);
    zx_test_pass ();
}

//  Retries per task: a task may allow them in a pool that does not, and
//  a task that must not run twice refuses them in a pool that allows them
static void
test_a_task_with_its_own_retries_completes_in_a_pool_without (void **state)
{
    (void) state;
    s_kill_mid_task (0, 2);
    zx_test_pass ();
}

static void
test_a_task_with_no_retries_fails_at_once_in_a_pool_with_them (void **state)
{
    (void) state;
    s_kill_mid_task (3, ZX_NO_RETRIES);
    zx_test_pass ();
}

static void
test_task_retries_out_of_range_fail_the_future_clearly (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    assert_non_null (pool);
    const int bad [] = { -2, 16 };
    for (size_t i = 0; i < 2; i++) {
        zx_future_t *future = zx_run_in_executor_opts (loop, pool, "square",
                                                       zx_values_pack ("i", (int64_t) 3),
                                                       &(zx_task_opts_t) { .retries = bad [i] });
        assert_non_null (future);
        assert_true (zx_future_done (future));
        assert_int_equal (zx_future_error (future), ZX_EINVAL);
        assert_non_null (strstr (zx_future_message (future), "ZX_NO_RETRIES (-1) to 15"));
        zx_future_destroy (&future);
    }
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  2. A task that kills every worker it runs on

static void
s_poisonous (zx_loop_t *loop, int retries, const char *how, const char *name)
{
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .retries = retries });
    assert_non_null (pool);
    zx_test_warm_up (loop, pool, 2);
    char runs [300];
    zx_test_scratch_path (runs, sizeof runs, name);
    int calls = 0;
    zx_future_t *future = zx_test_submit_counted (loop, pool, "die_always",
                                                  zx_values_pack ("ss", runs, how), &calls);
    zx_test_wait_all (&future, 1, 30000);
    int attempts = retries + 1;
    //  The last attempt's worker is the one the message names
    s_expect_lost (future, s_line_pid (runs, attempts - 1), how, "die_always");
    const char *message = zx_future_message (future);
    char text [64];
    snprintf (text, sizeof text, "after %d attempts", attempts);
    if (retries > 0 && (!strstr (message, "quarantined") || !strstr (message, text)))
        fail_msg ("message '%s' does not say quarantined %s", message, text);
    //  It ran (and killed a worker) exactly retries + 1 times, each on
    //  another process, all of them gone; nothing runs it again later
    assert_int_equal (s_lines (runs), attempts);
    for (int i = 0; i < attempts; i++) {
        pid_t dead = s_line_pid (runs, i);
        for (int j = 0; j < i; j++)
            assert_true (s_line_pid (runs, j) != dead);
    }
    zx_sleep (300);
    assert_int_equal (s_lines (runs), attempts);
    zx_test_expect_ended_once (&calls, 1, 0);
    for (int i = 0; i < attempts; i++)
        assert_true (zx_test_pid_gone (s_line_pid (runs, i)));

    //  The pool serves on, with two live workers none of which died
    int more_calls [20];
    zx_test_counted_squares (loop, pool, 20, 0, more_calls);
    zx_test_expect_ended_once (more_calls, 20, 20);
    pid_t pids [2];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
    for (int i = 0; i < attempts; i++)
        assert_true (pids [0] != s_line_pid (runs, i) && pids [1] != s_line_pid (runs, i));
    assert_int_equal (s_lines (runs), attempts);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
}

static void
test_a_task_that_kills_every_worker_is_quarantined_after_retries_plus_one_attempts (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_poisonous (loop, 3, "kill", "kill.runs");
    s_poisonous (loop, 1, "abort", "abort.runs");
    s_poisonous (loop, 0, "kill", "once.runs");
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  3. A crash at each stage of running a task

//  A pool of one worker started with ZEXEC_FAULT=spec, which its
//  replacements (started after the variable is gone) do not have.
static zx_executor_t *
s_faulty_pool (const char *spec, int retries)
{
    assert_int_equal (setenv ("ZEXEC_FAULT", spec, 1), 0);
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .retries = retries });
    unsetenv ("ZEXEC_FAULT");
    assert_non_null (pool);
    return pool;
}

static pid_t
s_only_worker (zx_executor_t *pool)
{
    pid_t pid = 0;
    assert_int_equal (zx_executor_worker_pids (pool, &pid, 1), 1);
    return pid;
}

//  Waits until the pool's single worker is no longer pid.
static pid_t
s_wait_replaced (zx_executor_t *pool, pid_t pid)
{
    int64_t deadline = zx_test_now_ms () + 5000;
    pid_t now = 0;
    while ((zx_executor_worker_pids (pool, &now, 1) != 1 || now == pid)
    &&     zx_test_now_ms () < deadline)
        zx_sleep (5);
    if (now == pid || now == 0)
        fail_msg ("worker %d was not replaced within 5 s", (int) pid);
    return now;
}

//  One fault_target run on a pool whose worker crashes at a stage
typedef struct {
    zx_executor_t *pool;        //  Of one worker, with the fault
    pid_t first;                //  That worker
    char runs [300];            //  Where fault_target counts its runs
    int calls;                  //  The future's ends
    zx_future_t *future;        //  fault_target (n), ended
} s_faulty_run_t;

//  Starts a pool with retries whose worker crashes at stage by action,
//  and runs fault_target (n) on it to its end.
static void
s_faulty_run (s_faulty_run_t *self, zx_loop_t *loop, const char *stage, const char *action,
              int retries, int64_t n)
{
    char spec [64], name [64];
    snprintf (spec, sizeof spec, "%s:%s:fault_target", stage, action);
    snprintf (name, sizeof name, "%s-%s-%d.runs", stage, action, retries);
    zx_test_scratch_path (self->runs, sizeof self->runs, name);
    self->pool = s_faulty_pool (spec, retries);
    zx_test_warm_up (loop, self->pool, 1);
    self->first = s_only_worker (self->pool);
    self->calls = 0;
    self->future = zx_test_submit_counted (loop, self->pool, "fault_target",
                                           zx_values_pack ("si", self->runs, n), &self->calls);
    zx_test_wait_all (&self->future, 1, 10000);
}

//  Runs fault_target (n) once on a pool whose worker crashes at stage by
//  action. Before the task ran (decode) nothing ran; after (encode) the
//  body ran once. Without retries it fails as lost; with one retry it
//  runs again on the replacement, which has no fault, and succeeds.
static void
s_stage_crash (zx_loop_t *loop, const char *stage, const char *action, int retries)
{
    s_faulty_run_t run;
    s_faulty_run (&run, loop, stage, action, retries, 9);
    int ran_before_crash = streq (stage, "decode") ? 0 : 1;
    if (retries == 0) {
        s_expect_lost (run.future, run.first, action, "fault_target");
        assert_int_equal (s_lines (run.runs), ran_before_crash);
    }
    else {
        assert_int_equal (zx_test_result_int (run.future, 0), 81);
        assert_true (zx_test_result_int (run.future, 1) != run.first);
        //  At least once: the encode crash came after the body had run
        assert_int_equal (s_lines (run.runs), ran_before_crash + 1);
    }
    zx_test_expect_ended_once (&run.calls, 1, 100);
    pid_t second = s_wait_replaced (run.pool, run.first);
    assert_true (zx_test_pid_gone (run.first));
    zx_future_destroy (&run.future);
    zx_future_t *future = zx_test_submit_counted (loop, run.pool, "fault_target",
                                                  zx_values_pack ("si", "", (int64_t) 4),
                                                  &run.calls);
    zx_test_wait_all (&future, 1, 10000);
    assert_int_equal (zx_test_result_int (future, 0), 16);
    assert_int_equal (zx_test_result_int (future, 1), second);
    zx_future_destroy (&future);
    zx_executor_destroy (&run.pool);
}

//  s_stage_crash at stage for each way of dying, without and with a retry
static void
s_stage_crashes (const char *stage)
{
    zx_loop_t *loop = zx_loop_new ();
    const char *actions [] = { "segv", "abort", "exit" };
    for (int i = 0; i < 3; i++)
        for (int retries = 0; retries <= 1; retries++)
            s_stage_crash (loop, stage, actions [i], retries);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_a_crash_before_decoding_the_arguments_fails_the_task_or_retries_it (void **state)
{
    (void) state;
    s_stage_crashes ("decode");
}

static void
test_a_crash_after_the_task_ran_before_its_reply_fails_it_or_runs_it_again (void **state)
{
    (void) state;
    s_stage_crashes ("encode");
}

//  The reply got out before the crash: the future has its result, the
//  task ran once and is neither failed nor run again afterwards, with or
//  without retries; the pool replaces the worker.
static void
test_a_crash_right_after_the_reply_keeps_the_result_and_never_runs_the_task_again (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    const char *actions [] = { "segv", "abort", "exit" };
    for (int i = 0; i < 3; i++)
        for (int retries = 0; retries <= 2; retries += 2) {
            s_faulty_run_t run;
            s_faulty_run (&run, loop, "replied", actions [i], retries, 12);
            assert_int_equal (zx_test_result_int (run.future, 0), 144);
            assert_int_equal (zx_test_result_int (run.future, 1), run.first);
            s_wait_replaced (run.pool, run.first);
            assert_true (zx_test_pid_gone (run.first));
            zx_sleep (200);
            assert_int_equal (zx_future_error (run.future), ZX_OK);
            assert_int_equal (zx_test_result_int (run.future, 0), 144);
            assert_int_equal (s_lines (run.runs), 1);
            zx_test_expect_ended_once (&run.calls, 1, 0);
            zx_future_destroy (&run.future);
            zx_executor_destroy (&run.pool);
        }
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  A task that crashes while it runs (SIGSEGV raised or by a NULL write,
//  exit (1), abort), once: lost without retries, run again with one.
static void
test_a_task_that_crashes_while_running_fails_as_worker_lost_or_succeeds_on_retry (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    const char *hows [] = { "segv", "null", "exit", "abort" };
    for (int retries = 0; retries <= 1; retries++) {
        zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
            .max_workers = 2, .retries = retries });
        assert_non_null (pool);
        zx_test_warm_up (loop, pool, 2);
        for (int i = 0; i < 4; i++) {
            char marker [300], runs [300], name [64];
            snprintf (name, sizeof name, "%s-%d.marker", hows [i], retries);
            zx_test_scratch_path (marker, sizeof marker, name);
            snprintf (name, sizeof name, "%s-%d.runs", hows [i], retries);
            zx_test_scratch_path (runs, sizeof runs, name);
            int calls = 0;
            zx_values_t *args = zx_values_pack ("sssi", marker, runs, hows [i],
                                                (int64_t) (i + 3));
            zx_future_t *future = zx_test_submit_counted (loop, pool, "crash_once", args,
                                                          &calls);
            zx_test_wait_all (&future, 1, 10000);
            pid_t crashed = s_line_pid (runs, 0);
            if (retries == 0) {
                s_expect_lost (future, crashed, streq (hows [i], "null") ? "segv" : hows [i],
                               "crash_once");
                assert_int_equal (s_lines (runs), 1);
            }
            else {
                assert_int_equal (zx_test_result_int (future, 0), (int64_t) (i + 3) * (i + 3));
                assert_true (zx_test_result_int (future, 1) != crashed);
                assert_int_equal (s_lines (runs), 2);
            }
            zx_test_expect_ended_once (&calls, 1, 100);
            int64_t deadline = zx_test_now_ms () + 5000;
            while (!zx_test_pid_gone (crashed) && zx_test_now_ms () < deadline)
                zx_sleep (5);
            assert_true (zx_test_pid_gone (crashed));
            zx_future_destroy (&future);
        }
        pid_t pids [2];
        int64_t deadline = zx_test_now_ms () + 5000;
        while (zx_executor_worker_pids (pool, pids, 2) != 2 && zx_test_now_ms () < deadline)
            zx_sleep (5);
        assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
        zx_executor_destroy (&pool);
    }
    zx_loop_destroy (&loop);
    zx_test_pass ();
}


//  --------------------------------------------------------------------
//  Files left behind

//  In a child: makes a process pool, runs a task on it, says so on fd,
//  then waits to be killed.
static void
s_child_with_a_pool (int fd)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = pool ? zx_test_submit (loop, pool, "square",
                                                 zx_values_pack ("i", (int64_t) 3)) : NULL;
    bool good = future && zx_future_wait (future, 20000) == ZX_OK;
    if (write (fd, good ? "y" : "n", 1) != 1)
        _exit (1);
    while (true)
        pause ();
}

//  Starts a child with a pool in it; returns its pid once its pool ran a
//  task.
static pid_t
s_spawn_pool_holder (void)
{
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds [0]);
        s_child_with_a_pool (fds [1]);
    }
    close (fds [1]);
    char said = 0;
    assert_int_equal (read (fds [0], &said, 1), 1);
    assert_int_equal (said, 'y');
    close (fds [0]);
    return pid;
}

//  How many zexec-PID-*.ipc files dir holds for pid
static int
s_ipc_files (const char *dir, pid_t pid)
{
    char prefix [64];
    snprintf (prefix, sizeof prefix, "zexec-%d-", (int) pid);
    DIR *listing = opendir (dir);
    assert_non_null (listing);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (listing)) != NULL)
        count += strncmp (entry->d_name, prefix, strlen (prefix)) == 0;
    closedir (listing);
    return count;
}

//  A process pool's parent killed with SIGKILL cannot remove its ipc
//  file; the next program that makes a process pool removes it, and
//  leaves alone the file of a pool that still runs.
static void
test_the_ipc_file_a_killed_pool_left_is_removed_by_the_next_pool (void **state)
{
    (void) state;
    char dir [] = "/tmp/zx-test-sweep-XXXXXX";
    assert_non_null (mkdtemp (dir));
    assert_int_equal (setenv ("TMPDIR", dir, 1), 0);
    pid_t alive = s_spawn_pool_holder ();
    pid_t victim = s_spawn_pool_holder ();
    assert_int_equal (s_ipc_files (dir, alive), 1);
    assert_int_equal (s_ipc_files (dir, victim), 1);
    assert_int_equal (kill (victim, SIGKILL), 0);
    assert_int_equal (waitpid (victim, NULL, 0), victim);
    assert_int_equal (s_ipc_files (dir, victim), 1);     //  Left behind

    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    assert_non_null (pool);
    assert_int_equal (s_ipc_files (dir, victim), 0);     //  Swept
    assert_int_equal (s_ipc_files (dir, alive), 1);      //  Still listening: kept
    zx_future_t *future = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 7));
    zx_test_wait_all (&future, 1, 20000);
    assert_int_equal (zx_test_result_int (future, 0), 49);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    assert_int_equal (s_ipc_files (dir, getpid ()), 0);  //  Its own, removed on destroy
    zx_loop_destroy (&loop);

    kill (alive, SIGKILL);
    waitpid (alive, NULL, 0);
    DIR *listing = opendir (dir);
    struct dirent *entry;
    while (listing && (entry = readdir (listing)) != NULL)
        if (entry->d_name [0] != '.') {
            char path [512];
            snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
            unlink (path);
        }
    if (listing)
        closedir (listing);
    rmdir (dir);
    unsetenv ("TMPDIR");
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_worker_killed_mid_task_fails_only_that_task_at_once_naming_pid_signal_and_task),
    cmocka_unit_test (test_with_retries_a_worker_killed_mid_task_has_its_task_complete_on_another_worker),
    cmocka_unit_test (test_a_task_with_its_own_retries_completes_in_a_pool_without),
    cmocka_unit_test (test_a_task_with_no_retries_fails_at_once_in_a_pool_with_them),
    cmocka_unit_test (test_task_retries_out_of_range_fail_the_future_clearly),
    cmocka_unit_test (test_a_task_that_kills_every_worker_is_quarantined_after_retries_plus_one_attempts),
    cmocka_unit_test (test_a_crash_before_decoding_the_arguments_fails_the_task_or_retries_it),
    cmocka_unit_test (test_a_crash_after_the_task_ran_before_its_reply_fails_it_or_runs_it_again),
    cmocka_unit_test (test_a_crash_right_after_the_reply_keeps_the_result_and_never_runs_the_task_again),
    cmocka_unit_test (test_a_task_that_crashes_while_running_fails_as_worker_lost_or_succeeds_on_retry),
    cmocka_unit_test (test_the_ipc_file_a_killed_pool_left_is_removed_by_the_next_pool),
};

ZX_TEST_MAIN_WITH (tests, s_setup, s_teardown)
