/*  test_fault.c - crashes and chaos: workers that die mid-task, tasks
    that kill every worker they touch, crashes at each stage of running a
    task (the worker runtime's ZEXEC_FAULT hook), a remote worker that
    stops answering, a killer loose on a pool of 100,000 tasks, and
    shutting down while workers crash.

    What every test checks is what a user relies on: each future ends
    exactly once (a done callback counts it), with the right result or
    ZX_EWORKER_LOST and a message that names the process, the signal or
    exit code and the task; a task runs at most once unless retries are
    asked for (each task body appends its pid to a file, so the test
    counts runs across processes); the pool replaces its dead workers,
    never loops on a poisonous task, and leaves no process or file
    descriptor behind.

    This binary is also the process pools' worker program (zx_init in
    main), so its ZX_TASKs run in real worker processes. The remote tests
    start a real zexec-broker and zexec-worker, as test_remote.c does,
    with testutil's child and log helpers; the teardown kills and reaps
    what a test started.

    Under AddressSanitizer a SIGSEGV, abort or exit in a worker may end
    as another signal or exit code (ASan's handlers, LeakSanitizer at
    exit): there the tests check that the cause names the process but not
    which signal. ZX_FAULT_CHAOS_TASKS overrides the chaos test's 100,000
    tasks.                                                                */
#define _GNU_SOURCE
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#if !defined (ZX_BROKER_PROGRAM) || !defined (ZX_WORKER_PROGRAM) || !defined (ZX_TEST_TASKS)
#   error "tests/CMakeLists.txt passes the paths of zexec-broker, zexec-worker and the tasks"
#endif

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1
#else
#   define ZX_SANITIZED 0
#endif

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  --------------------------------------------------------------------
//  Tasks: each run appends its pid to a file when given one

static void
s_append_pid (const char *path)
{
    if (!path || !*path)
        return;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf (fd, "%d\n", (int) getpid ());
        close (fd);
    }
}

static void
s_crash (const char *how)
{
    if (streq (how, "kill"))
        raise (SIGKILL);
    else
    if (streq (how, "segv"))
        raise (SIGSEGV);
    else
    if (streq (how, "null")) {
        volatile int *volatile nothing = NULL;
        *nothing = 1;
    }
    else
    if (streq (how, "exit"))
        exit (1);
    else
    if (streq (how, "abort"))
        abort ();
    _exit (99);
}

static void
s_sleep_us (int64_t us)
{
    struct timespec delay = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep (&delay, &delay) && errno == EINTR)
        ;
}

static int
s_return_square (zx_call_t *call, int64_t n)
{
    zx_values_add_int (zx_call_result (call), n * n);
    return zx_call_return_int (call, getpid ());
}

//  square (n) -> [n * n, pid]
ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return s_return_square (call, n);
}

//  nap (ms) -> [pid]
ZX_TASK (nap)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    s_sleep_us (ms * 1000);
    return zx_call_return_int (call, getpid ());
}

//  nap_us (us) -> [us, pid]
ZX_TASK (nap_us)
{
    int64_t us;
    if (zx_call_arg_int (call, 0, &us))
        return -1;
    s_sleep_us (us);
    zx_values_add_int (zx_call_result (call), us);
    return zx_call_return_int (call, getpid ());
}

//  announce_nap (path, ms, n) -> [n * n, pid]: writes its pid to path
//  (whole, by rename), then sleeps
ZX_TASK (announce_nap)
{
    const char *path;
    int64_t ms, n;
    if (zx_call_arg_str (call, 0, &path) || zx_call_arg_int (call, 1, &ms)
    ||  zx_call_arg_int (call, 2, &n))
        return -1;
    char temp [4200];
    snprintf (temp, sizeof temp, "%s.%d", path, (int) getpid ());
    FILE *file = fopen (temp, "w");
    if (!file)
        return zx_call_fail (call, "cannot write %s", temp);
    fprintf (file, "%d\n", (int) getpid ());
    fclose (file);
    rename (temp, path);
    s_sleep_us (ms * 1000);
    return s_return_square (call, n);
}

//  die_always (runs, how): appends its pid to runs, then crashes
ZX_TASK (die_always)
{
    const char *runs, *how;
    if (zx_call_arg_str (call, 0, &runs) || zx_call_arg_str (call, 1, &how))
        return -1;
    s_append_pid (runs);
    s_crash (how);
    return 0;
}

//  crash_once (marker, runs, how, n) -> [n * n, pid]: appends its pid to
//  runs; crashes when marker does not exist yet, after creating it
ZX_TASK (crash_once)
{
    const char *marker, *runs, *how;
    int64_t n;
    if (zx_call_arg_str (call, 0, &marker) || zx_call_arg_str (call, 1, &runs)
    ||  zx_call_arg_str (call, 2, &how) || zx_call_arg_int (call, 3, &n))
        return -1;
    s_append_pid (runs);
    if (access (marker, F_OK) != 0) {
        int fd = open (marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close (fd);
        s_crash (how);
    }
    return s_return_square (call, n);
}

//  fault_target (runs, n) -> [n * n, pid]: the task ZEXEC_FAULT names
ZX_TASK (fault_target)
{
    const char *runs;
    int64_t n;
    if (zx_call_arg_str (call, 0, &runs) || zx_call_arg_int (call, 1, &n))
        return -1;
    s_append_pid (runs);
    return s_return_square (call, n);
}

//  --------------------------------------------------------------------
//  Bookkeeping: scratch directory, child processes, done callbacks

#define MAX_CHILDREN 8

static char s_dir [256];        //  This test's scratch directory
static zx_test_child_t s_children [MAX_CHILDREN];
static size_t s_child_count;
static bool s_passed;           //  Set by each test as its last step
static char s_hostname [64] = "host";
static size_t s_ended;          //  Done callbacks run, over all futures

static void
s_path (char *path, size_t size, const char *name)
{
    int length = snprintf (path, size, "%s/%s", s_dir, name);
    assert_true (length > 0 && (size_t) length < size);
}

static int
s_remove_entry (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    return remove (path);
}

static int
s_setup (void **state)
{
    (void) state;
    s_passed = false;
    s_child_count = 0;
    s_ended = 0;
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/zexec-fault-XXXXXX", tmp);
    return mkdtemp (s_dir) ? 0 : -1;
}

//  Kills and reaps what the test started (showing their logs when it
//  failed) and removes the scratch directory.
static int
s_teardown (void **state)
{
    (void) state;
    unsetenv ("ZEXEC_FAULT");
    for (size_t i = 0; i < s_child_count; i++) {
        zx_test_child_t *child = &s_children [i];
        if (child->pid > 0)
            kill (child->pid, SIGCONT);
        zx_test_reap (child, !s_passed || getenv ("ZX_SHOW_LOGS"));
    }
    s_child_count = 0;
    nftw (s_dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
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

static void
s_on_done (zx_future_t *future, void *arg)
{
    (void) future;
    (*(int *) arg)++;
    s_ended++;
}

//  Submits task and counts its future's done callbacks in *calls.
static zx_future_t *
s_submit (zx_loop_t *loop, zx_executor_t *pool, const char *task, zx_values_t *args,
          int *calls)
{
    zx_future_t *future = zx_run_in_executor (loop, pool, task, args);
    assert_non_null (future);
    assert_int_equal (zx_future_add_done_callback (future, s_on_done, calls), ZX_OK);
    return future;
}

static void
s_wait_all (zx_future_t **futures, size_t count, int64_t timeout_ms)
{
    size_t done = 0;
    assert_int_equal (zx_wait (futures, count, ZX_ALL_COMPLETED, timeout_ms, NULL, &done,
                               NULL, NULL), ZX_OK);
    if (done != count)
        fail_msg ("only %zu of %zu futures finished within %lld ms", done, count,
                  (long long) timeout_ms);
}

//  Lets done callbacks (and any late reply) run, then checks that each
//  future ended exactly once.
static void
s_expect_ended_once (const int *calls, size_t count, int64_t settle_ms)
{
    zx_sleep (settle_ms);
    for (size_t i = 0; i < count; i++)
        if (calls [i] != 1)
            fail_msg ("future %zu ended %d times", i, calls [i]);
}

static int64_t
s_result_int (const zx_future_t *future, size_t index)
{
    if (zx_future_error (future) != ZX_OK)
        fail_msg ("future failed: %s: %s", zx_strerror (zx_future_error (future)),
                  zx_future_message (future));
    int64_t value = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (future), index, &value), ZX_OK);
    return value;
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

static bool
s_pid_gone (pid_t pid)
{
    return kill (pid, 0) == -1 && errno == ESRCH;
}

static int
s_fd_count (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    assert_non_null (dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        count += entry->d_name [0] != '.';
    closedir (dir);
    return count - 1;           //  The directory's own
}

//  After a pool is destroyed: no child process, no zombie, and (within a
//  second, as libzmq's reaper closes sockets) the fds of before.
static void
s_expect_clean (int fds_before)
{
    errno = 0;
    pid_t zombie = waitpid (-1, NULL, WNOHANG);
    if (!(zombie == 0 || (zombie == -1 && errno == ECHILD)))
        fail_msg ("a child was left to reap: %d", (int) zombie);
    assert_int_equal (zx_test_children (NULL, 0), 0);
    int64_t deadline = zx_test_now_ms () + 1000;
    while (s_fd_count () != fds_before && zx_test_now_ms () < deadline)
        usleep (10000);
    if (s_fd_count () != fds_before)
        fail_msg ("%d file descriptors open, %d before the pool", s_fd_count (), fds_before);
}

//  Runs one small pool to the end, so libzmq's context and anything else
//  made once per process exist; returns the fd count after it.
static int
s_fd_baseline (zx_loop_t *loop)
{
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    assert_non_null (pool);
    int calls = 0;
    zx_future_t *future = s_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 2), &calls);
    s_wait_all (&future, 1, 10000);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_sleep (50);
    return s_fd_count ();
}

//  Waits until every worker of the pool has run a task.
static void
s_warm_up (zx_loop_t *loop, zx_executor_t *pool, int workers)
{
    zx_future_t *futures [16];
    int calls [16] = { 0 };
    for (int i = 0; i < workers; i++)
        futures [i] = s_submit (loop, pool, "nap", zx_values_pack ("i", (int64_t) 50), &calls [i]);
    s_wait_all (futures, (size_t) workers, 20000);
    for (int i = 0; i < workers; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        zx_future_destroy (&futures [i]);
    }
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
    s_warm_up (loop, pool, 3);
    char path [300];
    s_path (path, sizeof path, "victim.pid");
    enum { OTHERS = 22 };
    zx_future_t *victim, *others [OTHERS];
    int victim_calls = 0, calls [OTHERS] = { 0 };
    victim = zx_run_in_executor_opts (loop, pool, "announce_nap",
                                      zx_values_pack ("sii", path, (int64_t) 1500, (int64_t) 7),
                                      &(zx_task_opts_t) { .retries = task_retries });
    assert_non_null (victim);
    assert_int_equal (zx_future_add_done_callback (victim, s_on_done, &victim_calls), ZX_OK);
    for (int i = 0; i < 2; i++)
        others [i] = s_submit (loop, pool, "nap", zx_values_pack ("i", (int64_t) 400), &calls [i]);
    for (int i = 2; i < OTHERS; i++)
        others [i] = s_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i), &calls [i]);
    pid_t pid = s_wait_pid_file (path, 5000);
    assert_true (pid > 0 && pid != getpid ());
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (pid, SIGKILL), 0);

    if (retries == 0) {
        //  Noticed from the exit itself: no heartbeat, no timeout
        s_wait_all (&victim, 1, 5000);
        int64_t elapsed = zx_test_now_ms () - start;
        print_message ("the killed worker's task failed %lld ms after SIGKILL\n",
                       (long long) elapsed);
        assert_true (elapsed < 1000);
        s_expect_lost (victim, pid, "kill", "announce_nap");
    }
    else {
        s_wait_all (&victim, 1, 10000);
        assert_int_equal (s_result_int (victim, 0), 49);
        pid_t second = (pid_t) s_result_int (victim, 1);
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
    assert_true (s_pid_gone (pid));

    //  The rest were untouched
    s_wait_all (others, OTHERS, 10000);
    for (int i = 0; i < 2; i++)
        assert_true (s_result_int (others [i], 0) != pid);
    for (int i = 2; i < OTHERS; i++)
        assert_int_equal (s_result_int (others [i], 0), (int64_t) i * i);
    s_expect_ended_once (&victim_calls, 1, 100);
    s_expect_ended_once (calls, OTHERS, 0);
    assert_int_equal (s_ended, 3 + 1 + OTHERS);

    //  And the pool goes on, on its new worker too
    zx_future_t *more [12];
    int more_calls [12] = { 0 };
    for (int i = 0; i < 12; i++)
        more [i] = s_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i), &more_calls [i]);
    s_wait_all (more, 12, 10000);
    for (int i = 0; i < 12; i++) {
        assert_int_equal (s_result_int (more [i], 0), (int64_t) i * i);
        zx_future_destroy (&more [i]);
    }
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
    s_passed = true;
}

static void
test_with_retries_a_worker_killed_mid_task_has_its_task_complete_on_another_worker (void **state)
{
    (void) state;
    s_kill_mid_task (1, 0);
    s_passed = true;
}

//  Retries per task: a task may allow them in a pool that does not, and
//  a task that must not run twice refuses them in a pool that allows them
static void
test_a_task_with_its_own_retries_completes_in_a_pool_without (void **state)
{
    (void) state;
    s_kill_mid_task (0, 2);
    s_passed = true;
}

static void
test_a_task_with_no_retries_fails_at_once_in_a_pool_with_them (void **state)
{
    (void) state;
    s_kill_mid_task (3, ZX_NO_RETRIES);
    s_passed = true;
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
    s_passed = true;
}

//  --------------------------------------------------------------------
//  2. A task that kills every worker it runs on

static void
s_poisonous (zx_loop_t *loop, int retries, const char *how, const char *name)
{
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .retries = retries });
    assert_non_null (pool);
    s_warm_up (loop, pool, 2);
    char runs [300];
    s_path (runs, sizeof runs, name);
    int calls = 0;
    zx_future_t *future = s_submit (loop, pool, "die_always", zx_values_pack ("ss", runs, how),
                                    &calls);
    s_wait_all (&future, 1, 30000);
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
    s_expect_ended_once (&calls, 1, 0);
    for (int i = 0; i < attempts; i++)
        assert_true (s_pid_gone (s_line_pid (runs, i)));

    //  The pool serves on, with two live workers none of which died
    zx_future_t *more [20];
    int more_calls [20] = { 0 };
    for (int i = 0; i < 20; i++)
        more [i] = s_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i), &more_calls [i]);
    s_wait_all (more, 20, 10000);
    for (int i = 0; i < 20; i++) {
        assert_int_equal (s_result_int (more [i], 0), (int64_t) i * i);
        zx_future_destroy (&more [i]);
    }
    s_expect_ended_once (more_calls, 20, 20);
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
    s_passed = true;
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

//  Runs fault_target (n) once on a pool whose worker crashes at stage by
//  action. Before the task ran (decode) nothing ran; after (encode) the
//  body ran once. Without retries it fails as lost; with one retry it
//  runs again on the replacement, which has no fault, and succeeds.
static void
s_stage_crash (zx_loop_t *loop, const char *stage, const char *action, int retries)
{
    char spec [64], runs [300], name [64];
    snprintf (spec, sizeof spec, "%s:%s:fault_target", stage, action);
    snprintf (name, sizeof name, "%s-%s-%d.runs", stage, action, retries);
    s_path (runs, sizeof runs, name);
    zx_executor_t *pool = s_faulty_pool (spec, retries);
    s_warm_up (loop, pool, 1);
    pid_t first = s_only_worker (pool);
    int calls = 0;
    zx_future_t *future = s_submit (loop, pool, "fault_target",
                                    zx_values_pack ("si", runs, (int64_t) 9), &calls);
    s_wait_all (&future, 1, 10000);
    int ran_before_crash = streq (stage, "decode") ? 0 : 1;
    if (retries == 0) {
        s_expect_lost (future, first, action, "fault_target");
        assert_int_equal (s_lines (runs), ran_before_crash);
    }
    else {
        assert_int_equal (s_result_int (future, 0), 81);
        assert_true (s_result_int (future, 1) != first);
        //  At least once: the encode crash came after the body had run
        assert_int_equal (s_lines (runs), ran_before_crash + 1);
    }
    s_expect_ended_once (&calls, 1, 100);
    pid_t second = s_wait_replaced (pool, first);
    assert_true (s_pid_gone (first));
    zx_future_destroy (&future);
    future = s_submit (loop, pool, "fault_target", zx_values_pack ("si", "", (int64_t) 4), &calls);
    s_wait_all (&future, 1, 10000);
    assert_int_equal (s_result_int (future, 0), 16);
    assert_int_equal (s_result_int (future, 1), second);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
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
    s_passed = true;
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
            char spec [64], runs [300], name [64];
            snprintf (spec, sizeof spec, "replied:%s:fault_target", actions [i]);
            snprintf (name, sizeof name, "replied-%s-%d.runs", actions [i], retries);
            s_path (runs, sizeof runs, name);
            zx_executor_t *pool = s_faulty_pool (spec, retries);
            s_warm_up (loop, pool, 1);
            pid_t first = s_only_worker (pool);
            int calls = 0;
            zx_future_t *future = s_submit (loop, pool, "fault_target",
                                            zx_values_pack ("si", runs, (int64_t) 12), &calls);
            s_wait_all (&future, 1, 10000);
            assert_int_equal (s_result_int (future, 0), 144);
            assert_int_equal (s_result_int (future, 1), first);
            s_wait_replaced (pool, first);
            assert_true (s_pid_gone (first));
            zx_sleep (200);
            assert_int_equal (zx_future_error (future), ZX_OK);
            assert_int_equal (s_result_int (future, 0), 144);
            assert_int_equal (s_lines (runs), 1);
            s_expect_ended_once (&calls, 1, 0);
            zx_future_destroy (&future);
            zx_executor_destroy (&pool);
        }
    zx_loop_destroy (&loop);
    s_passed = true;
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
        s_warm_up (loop, pool, 2);
        for (int i = 0; i < 4; i++) {
            char marker [300], runs [300], name [64];
            snprintf (name, sizeof name, "%s-%d.marker", hows [i], retries);
            s_path (marker, sizeof marker, name);
            snprintf (name, sizeof name, "%s-%d.runs", hows [i], retries);
            s_path (runs, sizeof runs, name);
            int calls = 0;
            zx_future_t *future = s_submit (loop, pool, "crash_once",
                                            zx_values_pack ("sssi", marker, runs, hows [i],
                                                            (int64_t) (i + 3)), &calls);
            s_wait_all (&future, 1, 10000);
            pid_t crashed = s_line_pid (runs, 0);
            if (retries == 0) {
                s_expect_lost (future, crashed, streq (hows [i], "null") ? "segv" : hows [i],
                               "crash_once");
                assert_int_equal (s_lines (runs), 1);
            }
            else {
                assert_int_equal (s_result_int (future, 0), (int64_t) (i + 3) * (i + 3));
                assert_true (s_result_int (future, 1) != crashed);
                assert_int_equal (s_lines (runs), 2);
            }
            s_expect_ended_once (&calls, 1, 100);
            int64_t deadline = zx_test_now_ms () + 5000;
            while (!s_pid_gone (crashed) && zx_test_now_ms () < deadline)
                zx_sleep (5);
            assert_true (s_pid_gone (crashed));
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
    s_passed = true;
}

//  --------------------------------------------------------------------
//  4. A remote worker that stops answering (SIGSTOP), through a broker

#define HEARTBEAT_MS    "100"
#define LIVENESS        "3"

static const zx_executor_opts_t s_remote_opts = { .heartbeat_ms = 100, .liveness = 3 };

//  Starts argv (NULL-terminated) with zx_test_spawn, for the teardown.
static zx_test_child_t *
s_spawn (const char *const argv [])
{
    assert_true (s_child_count < MAX_CHILDREN);
    zx_test_child_t *child = &s_children [s_child_count++];
    zx_test_spawn (child, "fault", argv);
    return child;
}

//  Starts zexec-broker on a free port; returns it once it listens.
static zx_test_child_t *
s_broker_start (char *endpoint, size_t size)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        snprintf (endpoint, size, "tcp://127.0.0.1:%d", zx_test_free_port ());
        const char *argv [] = { ZX_BROKER_PROGRAM, "--bind", endpoint, "--heartbeat",
                                HEARTBEAT_MS, "--liveness", LIVENESS, "--verbose", NULL };
        zx_test_child_t *broker = s_spawn (argv);
        int64_t deadline = zx_test_now_ms () + 10000;
        while (!zx_test_log_count (broker->log, "listening on", NULL)) {
            if (!zx_test_alive (broker))
                break;                      //  Could not bind: another port
            if (zx_test_now_ms () > deadline)
                fail_msg ("zexec-broker did not listen on %s within 10 s", endpoint);
            usleep (5000);
        }
        if (broker->pid > 0)
            return broker;
    }
    fail_msg ("zexec-broker could not bind a port in 10 attempts");
    return NULL;
}

//  Starts a zexec-worker of one thread and waits until the broker has it
//  ready (generation 0).
static zx_test_child_t *
s_remote_worker_start (const char *endpoint, const zx_test_child_t *broker)
{
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", endpoint, "--tasks", ZX_TEST_TASKS,
                            "--workers", "1", "--heartbeat", HEARTBEAT_MS,
                            "--liveness", LIVENESS, "--verbose", NULL };
    zx_test_child_t *worker = s_spawn (argv);
    char name [128];
    snprintf (name, sizeof name, "worker %s.%d.0 ready", s_hostname, (int) worker->pid);
    if (!zx_test_log_wait_running (broker->log, name, NULL, 1, 10000))
        fail_msg ("'%s' not in the broker's log within 10 s", name);
    return worker;
}

//  After SIGCONT: the broker sees the worker announce itself again, under
//  a new generation of its routing id.
static void
s_expect_reconnected (const zx_test_child_t *broker, const zx_test_child_t *worker)
{
    char name [128];
    snprintf (name, sizeof name, "worker %s.%d.", s_hostname, (int) worker->pid);
    if (!zx_test_log_wait_running (broker->log, name, " ready", 2, 5000))
        fail_msg ("%s did not announce itself again within 5 s", name);
}

//  Runs count squares remotely; all must come from pid.
static void
s_expect_served_by (zx_loop_t *loop, zx_executor_t *remote, pid_t pid, int count)
{
    zx_future_t *futures [16];
    int calls [16] = { 0 };
    assert_true (count <= 16);
    for (int i = 0; i < count; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i), &calls [i]);
    s_wait_all (futures, (size_t) count, 10000);
    for (int i = 0; i < count; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        assert_int_equal (s_result_int (futures [i], 1), pid);
        zx_future_destroy (&futures [i]);
    }
    s_expect_ended_once (calls, (size_t) count, 20);
}

static void
test_a_stopped_remote_worker_is_lost_within_the_liveness_and_its_late_reply_dropped (void **state)
{
    (void) state;
    char endpoint [64];
    zx_test_child_t *broker = s_broker_start (endpoint, sizeof endpoint);
    zx_test_child_t *worker = s_remote_worker_start (endpoint, broker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_remote_executor_new (endpoint, &s_remote_opts);
    assert_non_null (remote);
    int calls = 0;
    zx_future_t *future = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000),
                                    &calls);
    zx_sleep (200);
    assert_false (zx_future_done (future));
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (worker->pid, SIGSTOP), 0);
    s_wait_all (&future, 1, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("the stopped worker's task failed %lld ms after SIGSTOP\n", (long long) elapsed);
    //  Heartbeat 100 ms x liveness 3, checked every 100 ms
    assert_true (elapsed >= 250);
    assert_true (elapsed < 1500);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    char name [128];
    snprintf (name, sizeof name, "worker %s.%d.0 (pid %d) silent for", s_hostname,
              (int) worker->pid, (int) worker->pid);
    const char *message = zx_future_message (future);
    if (!strstr (message, name) || !strstr (message, "task 'sleep_ms' was lost"))
        fail_msg ("message '%s' does not name '%s' and the task", message, name);

    //  Awake again, it finishes the sleep and answers: too late, dropped
    assert_int_equal (kill (worker->pid, SIGCONT), 0);
    s_expect_reconnected (broker, worker);
    zx_sleep (1200);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    assert_string_equal (zx_future_message (future), message);
    s_expect_ended_once (&calls, 1, 0);
    s_expect_served_by (loop, remote, worker->pid, 10);
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_with_retries_a_stopped_remote_workers_task_completes_once_on_another_worker (void **state)
{
    (void) state;
    char endpoint [64];
    zx_test_child_t *broker = s_broker_start (endpoint, sizeof endpoint);
    zx_test_child_t *stopped = s_remote_worker_start (endpoint, broker);
    zx_test_child_t *other = s_remote_worker_start (endpoint, broker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = s_remote_opts;
    opts.retries = 1;
    zx_executor_t *remote = zx_remote_executor_new (endpoint, &opts);
    assert_non_null (remote);
    //  Dealt round-robin: one to each worker
    zx_future_t *futures [2];
    int calls [2] = { 0 };
    for (int i = 0; i < 2; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 800),
                                &calls [i]);
    zx_sleep (200);
    assert_int_equal (kill (stopped->pid, SIGSTOP), 0);
    s_wait_all (futures, 2, 10000);
    for (int i = 0; i < 2; i++)
        assert_int_equal (s_result_int (futures [i], 0), other->pid);
    assert_int_equal (zx_test_log_count (broker->log, "goes to another worker (attempt 2)", NULL),
                      1);

    //  The stopped worker's own late answer changes nothing
    assert_int_equal (kill (stopped->pid, SIGCONT), 0);
    s_expect_reconnected (broker, stopped);
    zx_sleep (1000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        assert_int_equal (s_result_int (futures [i], 0), other->pid);
    }
    s_expect_ended_once (calls, 2, 0);
    assert_int_equal (zx_test_log_count (broker->log, "goes to another worker", NULL), 1);

    //  With the other worker gone, the resumed one serves
    kill (other->pid, SIGTERM);
    int status = zx_test_wait_running (other, 5000);
    assert_true (status >= 0 && WIFEXITED (status));
    s_expect_served_by (loop, remote, stopped->pid, 10);
    for (int i = 0; i < 2; i++)
        zx_future_destroy (&futures [i]);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  --------------------------------------------------------------------
//  10. Chaos: a killer loose on a pool running 100,000 tiny tasks

typedef struct {
    zx_executor_t *pool;
    uint64_t timer;
    unsigned seed;
    int kills;
    pid_t proven [1024];        //  Workers that returned a result: ready
    size_t proven_count;
} s_killer_t;

static bool
s_proven (const s_killer_t *killer, pid_t pid)
{
    for (size_t i = killer->proven_count; i-- > 0; )
        if (killer->proven [i] == pid)
            return true;
    return false;
}

static void
s_prove (s_killer_t *killer, pid_t pid)
{
    if (killer->proven_count < 1024 && !s_proven (killer, pid))
        killer->proven [killer->proven_count++] = pid;
}

//  SIGKILLs a random live worker that has been seen working, and arms
//  itself again 50 to 100 ms later. A worker killed before it said READY
//  would count toward the pool's "workers die before they are ready"
//  verdict, which breaks the pool: the killer spares those.
static void
s_killer_fire (zx_loop_t *loop, void *arg)
{
    s_killer_t *killer = (s_killer_t *) arg;
    pid_t pids [16], live [16];
    size_t count = zx_executor_worker_pids (killer->pool, pids, 16), candidates = 0;
    for (size_t i = 0; i < count && i < 16; i++)
        if (s_proven (killer, pids [i]))
            live [candidates++] = pids [i];
    if (candidates && kill (live [rand_r (&killer->seed) % candidates], SIGKILL) == 0)
        killer->kills++;
    killer->timer = zx_loop_call_later (loop, 50 + rand_r (&killer->seed) % 51, s_killer_fire,
                                        killer);
}

static void
s_killer_start (s_killer_t *killer, zx_loop_t *loop, zx_executor_t *pool)
{
    memset (killer, 0, sizeof *killer);
    killer->pool = pool;
    killer->seed = (unsigned) (getpid () ^ zx_test_now_ms ());
    print_message ("killer seed %u\n", killer->seed);
    killer->timer = zx_loop_call_later (loop, 50, s_killer_fire, killer);
}

static void
s_killer_stop (s_killer_t *killer, zx_loop_t *loop)
{
    if (killer->timer)
        zx_loop_cancel_timer (loop, killer->timer);
    killer->timer = 0;
}

typedef struct {
    zx_loop_t *loop;
    zx_executor_t *pool;
    s_killer_t *killer;
    zx_future_t **futures;
    int *calls;
    size_t total, submitted, per_tick;
    uint64_t timer;
} s_chaos_t;

static s_chaos_t *s_chaos;

static void
s_chaos_done (zx_future_t *future, void *arg)
{
    (*(int *) arg)++;
    s_ended++;
    int64_t pid;
    if (zx_future_error (future) == ZX_OK
    &&  zx_values_get_int (zx_future_result (future), 1, &pid) == ZX_OK)
        s_prove (s_chaos->killer, (pid_t) pid);
}

//  Submits per_tick tasks every 10 ms, so the run lasts long enough for
//  the killer to strike many times.
static void
s_chaos_submit (zx_loop_t *loop, void *arg)
{
    s_chaos_t *chaos = (s_chaos_t *) arg;
    chaos->timer = 0;
    for (size_t n = 0; n < chaos->per_tick && chaos->submitted < chaos->total; n++) {
        size_t i = chaos->submitted++;
        chaos->futures [i] = zx_run_in_executor (loop, chaos->pool, "square",
                                                 zx_values_pack ("i", (int64_t) i));
        assert_non_null (chaos->futures [i]);
        zx_future_add_done_callback (chaos->futures [i], s_chaos_done, &chaos->calls [i]);
    }
    if (chaos->submitted < chaos->total)
        chaos->timer = zx_loop_call_later (loop, 10, s_chaos_submit, chaos);
}

static size_t
s_chaos_total (void)
{
    const char *text = getenv ("ZX_FAULT_CHAOS_TASKS");
    return text && atol (text) > 0 ? (size_t) atol (text) : 100000;
}

//  One run; returns how many tasks failed.
static size_t
s_chaos_run (zx_loop_t *loop, int retries, int fds_before)
{
    s_chaos_t chaos = { .loop = loop, .total = s_chaos_total () };
    chaos.per_tick = chaos.total / 250 + 1;         //  About 2.5 s of submissions
    chaos.futures = calloc (chaos.total, sizeof (zx_future_t *));
    chaos.calls = calloc (chaos.total, sizeof (int));
    assert_true (chaos.futures && chaos.calls);
    s_killer_t killer;
    chaos.killer = &killer;
    s_chaos = &chaos;
    s_ended = 0;
    chaos.pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3,
                                                               .retries = retries });
    assert_non_null (chaos.pool);
    int64_t start = zx_test_now_ms ();
    s_killer_start (&killer, loop, chaos.pool);
    s_chaos_submit (loop, &chaos);
    int64_t deadline = start + 60000;
    while ((chaos.submitted < chaos.total || s_ended < chaos.total) && zx_test_now_ms () < deadline)
        zx_sleep (10);
    s_killer_stop (&killer, loop);
    int64_t elapsed = zx_test_now_ms () - start;
    if (chaos.submitted < chaos.total || s_ended < chaos.total)
        fail_msg ("after 60 s, %zu of %zu submitted and %zu ended", chaos.submitted,
                  chaos.total, s_ended);
    zx_sleep (50);
    size_t completed = 0, failed = 0;
    for (size_t i = 0; i < chaos.total; i++) {
        if (chaos.calls [i] != 1)
            fail_msg ("task %zu ended %d times", i, chaos.calls [i]);
        zx_err_t code = zx_future_error (chaos.futures [i]);
        if (code == ZX_OK) {
            int64_t value = -1;
            assert_int_equal (zx_values_get_int (zx_future_result (chaos.futures [i]), 0, &value),
                              ZX_OK);
            if (value != (int64_t) i * (int64_t) i)
                fail_msg ("task %zu: %lld", i, (long long) value);
            completed++;
        }
        else
        if (code == ZX_EWORKER_LOST)
            failed++;
        else
            fail_msg ("task %zu: %s: %s", i, zx_strerror (code),
                      zx_future_message (chaos.futures [i]));
    }
    print_message ("retries %d: %zu tasks in %lld ms, %d workers killed: %zu completed, "
                   "%zu lost\n", retries, chaos.total, (long long) elapsed, killer.kills,
                   completed, failed);
    assert_int_equal (completed + failed, chaos.total);
    assert_true (killer.kills >= 5);
    zx_executor_destroy (&chaos.pool);
    s_expect_clean (fds_before);
    for (size_t i = 0; i < chaos.total; i++)
        zx_future_destroy (&chaos.futures [i]);
    free (chaos.futures);
    free (chaos.calls);
    s_chaos = NULL;
    return failed;
}

static void
test_a_hundred_thousand_tasks_under_a_killer_each_end_once_and_with_retries_all_complete (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    int fds_before = s_fd_baseline (loop);
    //  Every retry and every death is a warning: tens of thousands of lines
    zx_log_basic_config (ZX_LOG_ERROR, NULL);
    assert_true (s_chaos_run (loop, 0, fds_before) > 0);
    assert_int_equal (s_chaos_run (loop, 15, fds_before), 0);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  --------------------------------------------------------------------
//  11. Shutting down while workers crash, and with a stopped worker

static void
test_shutdown_while_workers_crash_and_a_killer_strikes_ends_in_bounded_time (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    int fds_before = s_fd_baseline (loop);
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3,
                                                                        .window = 4 });
    assert_non_null (pool);
    s_warm_up (loop, pool, 3);
    enum { COUNT = 3000 };
    zx_future_t **futures = calloc (COUNT, sizeof (zx_future_t *));
    int *calls = calloc (COUNT, sizeof (int));
    assert_true (futures && calls);
    s_ended = 0;
    s_chaos_t chaos = { .loop = loop, .pool = pool };
    s_killer_t killer;
    chaos.killer = &killer;
    s_chaos = &chaos;
    for (int i = 0; i < COUNT; i++) {
        if (i % 100 == 50)
            futures [i] = zx_run_in_executor (loop, pool, "die_always",
                                              zx_values_pack ("ss", "", "kill"));
        else
            futures [i] = zx_run_in_executor (loop, pool, "nap_us",
                                              zx_values_pack ("i", (int64_t) 300));
        assert_non_null (futures [i]);
        zx_future_add_done_callback (futures [i], s_chaos_done, &calls [i]);
    }
    s_killer_start (&killer, loop, pool);
    zx_sleep (300);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_executor_shutdown (pool, true, false), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    s_killer_stop (&killer, loop);
    print_message ("shutdown took %lld ms, %d workers killed meanwhile\n", (long long) elapsed,
                   killer.kills);
    assert_true (elapsed < 10000);
    zx_sleep (50);
    size_t ok = 0, lost = 0;
    for (int i = 0; i < COUNT; i++) {
        if (calls [i] != 1)
            fail_msg ("task %d ended %d times", i, calls [i]);
        zx_err_t code = zx_future_error (futures [i]);
        if (i % 100 == 50)
            assert_int_equal (code, ZX_EWORKER_LOST);
        else
        if (code == ZX_OK)
            assert_int_equal (s_result_int (futures [i], 0), 300);
        else
        if (code != ZX_EWORKER_LOST)
            fail_msg ("task %d: %s: %s", i, zx_strerror (code), zx_future_message (futures [i]));
        ok += code == ZX_OK;
        lost += code == ZX_EWORKER_LOST;
    }
    print_message ("%zu completed, %zu lost\n", ok, lost);
    assert_int_equal (ok + lost, COUNT);
    //  Shut down: later submissions fail at once
    int late_calls = 0;
    zx_future_t *late = s_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 1),
                                  &late_calls);
    assert_int_equal (zx_future_error (late), ZX_ESHUTDOWN);
    //  Failed at once; its done callback runs on the loop's next iteration
    s_expect_ended_once (&late_calls, 1, 10);
    zx_future_destroy (&late);
    start = zx_test_now_ms ();
    zx_executor_destroy (&pool);
    assert_true (zx_test_now_ms () - start < 5000);
    s_expect_clean (fds_before);
    for (int i = 0; i < COUNT; i++)
        zx_future_destroy (&futures [i]);
    free (futures);
    free (calls);
    s_chaos = NULL;
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  A stopped worker ignores its dismissal: destroy kills it after the
//  pool's stop grace (2 s) and returns.
static void
test_destroying_a_pool_with_a_stopped_idle_worker_kills_it_after_the_grace (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    int fds_before = s_fd_baseline (loop);
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    assert_non_null (pool);
    s_warm_up (loop, pool, 2);
    pid_t pids [2];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
    assert_int_equal (kill (pids [0], SIGSTOP), 0);
    int64_t start = zx_test_now_ms ();
    zx_executor_destroy (&pool);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("destroy took %lld ms\n", (long long) elapsed);
    assert_true (elapsed >= 1900);
    assert_true (elapsed < 5000);
    assert_true (s_pid_gone (pids [0]));
    assert_true (s_pid_gone (pids [1]));
    s_expect_clean (fds_before);
    zx_loop_destroy (&loop);
    s_passed = true;
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
    cmocka_unit_test (test_a_stopped_remote_worker_is_lost_within_the_liveness_and_its_late_reply_dropped),
    cmocka_unit_test (test_with_retries_a_stopped_remote_workers_task_completes_once_on_another_worker),
    cmocka_unit_test (test_a_hundred_thousand_tasks_under_a_killer_each_end_once_and_with_retries_all_complete),
    cmocka_unit_test (test_shutdown_while_workers_crash_and_a_killer_strikes_ends_in_bounded_time),
    cmocka_unit_test (test_destroying_a_pool_with_a_stopped_idle_worker_kills_it_after_the_grace),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    gethostname (s_hostname, sizeof s_hostname - 1);
    //  Every test gets the scratch directory and process bookkeeping,
    //  and its teardown runs also when the test fails
    for (size_t i = 0; i < sizeof tests / sizeof tests [0]; i++) {
        tests [i].setup_func = s_setup;
        tests [i].teardown_func = s_teardown;
    }
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
