/*  test_remote.c - remote workers: a real zexec-broker and real
    zexec-worker processes over tcp loopback, with the tasks of
    remote_tasks.c, driven through zx_remote_executor_new.

    Every test starts its own broker on a free port, so tests can run in
    parallel, and uses short heartbeats (100 ms, liveness 3) so a lost
    peer shows within half a second. Every process a test starts is
    registered here and killed and reaped by the teardown, also when the
    test fails (then their logs are printed); each child also gets
    PR_SET_PDEATHSIG, so none outlives a test program that was killed.

    This binary is also the coordinator the orphan test kills: with
    "--coordinator-helper ENDPOINT" it submits long sleeps and waits.
    With ZX_SHOW_LOGS set in the environment, the children's logs are
    printed after passing tests too.                                     */
#define _GNU_SOURCE
#include "testutil.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#if !defined (ZX_BROKER_PROGRAM) || !defined (ZX_WORKER_PROGRAM) || !defined (ZX_TEST_TASKS)
#   error "tests/CMakeLists.txt passes the paths of zexec-broker, zexec-worker and the tasks"
#endif

#define HEARTBEAT_MS    "100"
#define LIVENESS        "3"

static const zx_executor_opts_t s_remote_opts = { .heartbeat_ms = 100, .liveness = 3 };

//  --------------------------------------------------------------------
//  Child processes: those of testutil.h, listed here so that the
//  teardown kills and reaps them and shows their logs

#define MAX_CHILDREN 64

static zx_test_child_t s_children [MAX_CHILDREN];
static size_t s_child_count;
static bool s_passed;           //  Set by each test as its last step
static char s_hostname [64] = "host";

//  Starts argv (NULL-terminated) with zx_test_spawn, for the teardown.
static zx_test_child_t *
s_spawn (const char *const argv [])
{
    assert_true (s_child_count < MAX_CHILDREN);
    zx_test_child_t *child = &s_children [s_child_count++];
    zx_test_spawn (child, "remote", argv);
    return child;
}

//  Sends sig and reaps the child, letting the current loop run; SIGKILL
//  if it is still there after timeout_ms (then the test fails). Returns
//  the status waitpid gave.
static int
s_child_stop (zx_test_child_t *child, int sig, int64_t timeout_ms)
{
    assert_true (child->pid > 0);
    kill (child->pid, sig);
    int status = zx_test_wait_running (child, timeout_ms);
    if (status < 0) {
        zx_test_stop (child, SIGKILL, 5000);
        fail_msg ("process did not exit within %lld ms of signal %d",
                  (long long) timeout_ms, sig);
    }
    return status;
}

static int
s_setup (void **state)
{
    (void) state;
    s_passed = false;
    s_child_count = 0;
    return 0;
}

//  Kills and reaps what the test started; on failure shows their logs.
static int
s_teardown (void **state)
{
    (void) state;
    for (size_t i = 0; i < s_child_count; i++)
        zx_test_reap (&s_children [i], !s_passed || getenv ("ZX_SHOW_LOGS"));
    s_child_count = 0;
    return 0;
}

//  --------------------------------------------------------------------
//  Brokers and workers

typedef struct {
    zx_test_child_t *child;
    int port;
    char endpoint [64];
} s_broker_t;


//  Starts a broker on port (0: a free one) with short heartbeats and up
//  to two extra arguments, and waits until it listens. A port someone
//  took meanwhile (or one still held after a kill) is tried again.
static void
s_broker_start_with (s_broker_t *broker, int port, const char *const more [4])
{
    for (int attempt = 0; attempt < 20; attempt++) {
        broker->port = port ? port : zx_test_free_port ();
        snprintf (broker->endpoint, sizeof broker->endpoint, "tcp://127.0.0.1:%d", broker->port);
        const char *argv [] = { ZX_BROKER_PROGRAM, "--bind", broker->endpoint,
                                "--heartbeat", HEARTBEAT_MS, "--liveness", LIVENESS,
                                "--verbose", more [0], more [1], more [2], more [3], NULL };
        broker->child = s_spawn (argv);
        int64_t deadline = zx_test_now_ms () + 10000;
        while (!zx_test_log_count (broker->child->log, "listening on", NULL)) {
            if (!zx_test_alive (broker->child))
                break;                  //  Could not bind: try again
            if (zx_test_now_ms () > deadline)
                fail_msg ("zexec-broker did not listen on %s within 10 s", broker->endpoint);
            zx_sleep (5);
        }
        if (broker->child->pid > 0)
            return;
        zx_sleep (100);
    }
    fail_msg ("zexec-broker could not bind a port in 20 attempts");
}

static void
s_broker_start (s_broker_t *broker, int port, const char *extra, const char *value)
{
    const char *const more [4] = { extra, value, NULL, NULL };
    s_broker_start_with (broker, port, more);
}

//  Starts a zexec-worker with a pool of size threads (or with processes,
//  pool processes), serving service (NULL for the default) at the broker,
//  with short heartbeats.
static zx_test_child_t *
s_worker_start_with (const s_broker_t *broker, int size, bool processes, const char *service)
{
    char count [16];
    snprintf (count, sizeof count, "%d", size);
    const char *more [4] = { NULL };
    int next = 0;
    if (processes)
        more [next++] = "--processes";
    if (service) {
        more [next++] = "--service";
        more [next++] = service;
    }
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", broker->endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", count,
                            "--heartbeat", HEARTBEAT_MS, "--liveness", LIVENESS, "--verbose",
                            more [0], more [1], more [2], NULL };
    return s_spawn (argv);
}

//  Starts a zexec-worker with threads pool threads, serving service (NULL
//  for the default) at the broker, with short heartbeats.
static zx_test_child_t *
s_worker_start (const s_broker_t *broker, int threads, const char *service)
{
    return s_worker_start_with (broker, threads, false, service);
}

//  The broker names a worker "worker HOST.PID.GENERATION" in its log and
//  its messages; this is that name up to the generation.
static void
s_worker_name (char *name, size_t size, pid_t pid)
{
    snprintf (name, size, "worker %s.%d.", s_hostname, (int) pid);
}

//  Waits until the broker's log says the worker is ready (count times:
//  a worker that reconnected says it again).
static void
s_wait_ready (const s_broker_t *broker, const zx_test_child_t *worker)
{
    char name [128];
    s_worker_name (name, sizeof name, worker->pid);
    if (!zx_test_log_wait_running (broker->child->log, name, " ready", 1, 10000))
        fail_msg ("%s never became ready at the broker", name);
}

//  Starts count zexec-workers of threads threads each into workers, and
//  waits until the broker has each one ready.
static void
s_workers_start (const s_broker_t *broker, zx_test_child_t **workers, int count, int threads)
{
    for (int i = 0; i < count; i++)
        workers [i] = s_worker_start (broker, threads, NULL);
    for (int i = 0; i < count; i++)
        s_wait_ready (broker, workers [i]);
}

//  Which of count workers has the pid a task returned; fails when none.
static int
s_worker_index (zx_test_child_t *const *workers, int count, int64_t pid)
{
    for (int i = 0; i < count; i++)
        if (workers [i]->pid == pid)
            return i;
    fail_msg ("pid %lld is none of the %d workers", (long long) pid, count);
    return -1;
}

//  --------------------------------------------------------------------
//  Futures

static zx_executor_t *
s_remote_new (const s_broker_t *broker, const zx_executor_opts_t *opts)
{
    zx_executor_t *remote = zx_remote_executor_new (broker->endpoint,
                                                    opts ? opts : &s_remote_opts);
    assert_non_null (remote);
    return remote;
}

static zx_future_t *
s_submit (zx_loop_t *loop, zx_executor_t *executor, const char *task, zx_values_t *args)
{
    zx_future_t *future = zx_run_in_executor (loop, executor, task, args);
    assert_non_null (future);
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

//  Returns result value index of a future that must have succeeded.
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

static void
s_destroy_all (zx_future_t **futures, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zx_future_destroy (&futures [i]);
}

//  A task for service (NULL: the default) fails with "no workers for
//  service NAME" once the broker's --no-worker-wait (300 ms) has passed,
//  not at once and not much later.
static void
s_expect_no_workers (const s_broker_t *broker, zx_loop_t *loop, const char *service)
{
    zx_executor_opts_t opts = s_remote_opts;
    opts.service = service;
    zx_executor_t *remote = s_remote_new (broker, &opts);
    int64_t start = zx_test_now_ms ();
    zx_future_t *future = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 3));
    s_wait_all (&future, 1, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    char text [300];
    snprintf (text, sizeof text, "no workers for service %s", service ? service : "default");
    assert_int_equal (zx_future_error (future), ZX_ENOWORKERS);
    assert_string_equal (zx_future_message (future), text);
    assert_true (elapsed >= 250);
    assert_true (elapsed < 2000);
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
}

//  --------------------------------------------------------------------
//  Tests

static void
test_a_broker_and_one_worker_run_a_thousand_squares_and_three_sleeps_at_once (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 3, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);

    enum { COUNT = 1000 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, COUNT, 10000);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        assert_int_equal (s_result_int (futures [i], 1), worker->pid);
    }
    s_destroy_all (futures, COUNT);

    //  The worker's three threads run three sleeps together: about 100 ms,
    //  where one after another would take 300
    zx_future_t *sleeps [3];
    int64_t start = zx_test_now_ms ();
    for (int i = 0; i < 3; i++)
        sleeps [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 100));
    s_wait_all (sleeps, 3, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("three 100 ms sleeps took %lld ms\n", (long long) elapsed);
    assert_true (elapsed >= 95);
    assert_true (elapsed < 250);
    const char *names [3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal (s_result_int (sleeps [i], 0), worker->pid);
        assert_int_equal (zx_values_get_str (zx_future_result (sleeps [i]), 1, &names [i]), ZX_OK);
    }
    assert_string_not_equal (names [0], names [1]);
    assert_string_not_equal (names [0], names [2]);
    assert_string_not_equal (names [1], names [2]);
    s_destroy_all (sleeps, 3);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_worker_that_joins_after_the_work_was_submitted_runs_it (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    enum { COUNT = 20 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    //  Nobody serves them yet: they wait at the broker
    size_t done = 99;
    assert_int_equal (zx_wait (futures, COUNT, ZX_FIRST_COMPLETED, 300, NULL, &done,
                               NULL, NULL), ZX_OK);
    assert_int_equal (done, 0);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_all (futures, COUNT, 10000);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        assert_int_equal (s_result_int (futures [i], 1), worker->pid);
    }
    s_destroy_all (futures, COUNT);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_worker_stopped_with_sigterm_leaves_cleanly_and_another_serves_later_work (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *first = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, first);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [8];
    for (int i = 0; i < 4; i++)
        futures [i] = s_submit (loop, remote, "whoami", NULL);
    s_wait_all (futures, 4, 10000);
    for (int i = 0; i < 4; i++)
        assert_int_equal (s_result_int (futures [i], 0), first->pid);
    s_destroy_all (futures, 4);

    //  Idle, it exits at SIGTERM with status 0 and says goodbye
    pid_t first_pid = first->pid;
    int status = s_child_stop (first, SIGTERM, 5000);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char name [128];
    s_worker_name (name, sizeof name, first_pid);
    assert_true (zx_test_log_wait_running (broker.child->log, name, " left: bye", 1, 2000));

    zx_test_child_t *second = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, second);
    for (int i = 0; i < 8; i++)
        futures [i] = s_submit (loop, remote, "whoami", NULL);
    s_wait_all (futures, 8, 10000);
    for (int i = 0; i < 8; i++)
        assert_int_equal (s_result_int (futures [i], 0), second->pid);
    s_destroy_all (futures, 8);
    //  Nothing was sent to the worker that left
    assert_int_equal (zx_test_log_count (broker.child->log, "unreachable", NULL), 0);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_worker_killed_while_busy_fails_its_tasks_as_worker_lost_naming_it (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 3, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 5000));
    zx_sleep (300);
    char name [128];
    s_worker_name (name, sizeof name, worker->pid);
    int64_t start = zx_test_now_ms ();
    s_child_stop (worker, SIGKILL, 5000);
    s_wait_all (futures, 3, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("lost after %lld ms\n", (long long) elapsed);
    //  Liveness is 3 x 100 ms; the broker looks every 100 ms
    assert_true (elapsed < 1500);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        const char *message = zx_future_message (futures [i]);
        if (!strstr (message, name) || !strstr (message, "task 'sleep_ms'"))
            fail_msg ("message '%s' does not name '%s' and the task", message, name);
    }
    s_destroy_all (futures, 3);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  Cancelling a remote future stops the task on its worker: the broker
//  passes the cancel on, the serving worker stops its local pool's task at
//  the cancel token, and the one pool thread is free at once for the next.
static void
test_a_cancelled_remote_task_stops_running_on_its_worker (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 1, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *long_one = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 30000));
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, 300);                  //  It runs on the worker now
    zx_future_destroy (&nap);
    assert_true (zx_future_cancel (long_one));
    assert_true (zx_future_cancelled (long_one));
    int64_t start = zx_test_now_ms ();
    zx_future_t *next = s_submit (loop, remote, "whoami", NULL);
    s_wait_all (&next, 1, 10000);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_int_equal (s_result_int (next, 0), worker->pid);
    print_message ("the next task ran %lld ms after the cancel\n", (long long) elapsed);
    assert_true (elapsed < 3000);               //  Not after the 30 s sleep
    zx_future_destroy (&next);
    zx_future_destroy (&long_one);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_worker_killed_while_idle_is_forgotten_and_nothing_fails (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *victim = s_worker_start (&broker, 2, NULL);
    zx_test_child_t *survivor = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, victim);
    s_wait_ready (&broker, survivor);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [20];
    for (int i = 0; i < 4; i++)
        futures [i] = s_submit (loop, remote, "whoami", NULL);
    s_wait_all (futures, 4, 10000);
    s_destroy_all (futures, 4);
    s_child_stop (victim, SIGKILL, 5000);
    zx_sleep (50);
    //  Within its liveness the broker still counts it: what it deals to
    //  it comes back (the socket says it is unreachable) and goes on
    for (int i = 0; i < 20; i++)
        futures [i] = s_submit (loop, remote, "whoami", NULL);
    s_wait_all (futures, 20, 10000);
    for (int i = 0; i < 20; i++)
        assert_int_equal (s_result_int (futures [i], 0), survivor->pid);
    s_destroy_all (futures, 20);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_with_retries_a_killed_workers_tasks_complete_on_a_second_worker (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *victim = s_worker_start (&broker, 3, NULL);
    zx_test_child_t *survivor = s_worker_start (&broker, 3, NULL);
    s_wait_ready (&broker, victim);
    s_wait_ready (&broker, survivor);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = s_remote_opts;
    opts.retries = 1;
    zx_executor_t *remote = s_remote_new (&broker, &opts);
    //  Dealt round-robin: three to each worker
    zx_future_t *futures [6];
    for (int i = 0; i < 6; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 600));
    zx_sleep (200);
    s_child_stop (victim, SIGKILL, 5000);
    s_wait_all (futures, 6, 10000);
    pid_t survivor_pid = survivor->pid;
    for (int i = 0; i < 6; i++)
        assert_int_equal (s_result_int (futures [i], 0), survivor_pid);
    s_destroy_all (futures, 6);
    assert_int_equal (zx_test_log_count (broker.child->log, "goes to another worker (attempt 2)",
                                         NULL), 3);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_broker_killed_and_restarted_fails_work_in_flight_then_serves_again (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [20];
    for (int i = 0; i < 2; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    zx_sleep (200);
    int64_t start = zx_test_now_ms ();
    s_child_stop (broker.child, SIGKILL, 5000);
    s_wait_all (futures, 2, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("in-flight work failed %lld ms after the broker died\n", (long long) elapsed);
    assert_true (elapsed < 3000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        const char *message = zx_future_message (futures [i]);
        if (!strstr (message, broker.endpoint) || !strstr (message, "task 'sleep_ms' was lost"))
            fail_msg ("message '%s' names neither the broker nor the task", message);
    }
    s_destroy_all (futures, 2);

    //  A new broker on the same port: the worker finds it by itself
    s_broker_start (&broker, broker.port, NULL, NULL);
    s_wait_ready (&broker, worker);
    for (int i = 0; i < 20; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, 20, 10000);
    for (int i = 0; i < 20; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        assert_int_equal (s_result_int (futures [i], 1), worker->pid);
    }
    s_destroy_all (futures, 20);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  A broker stopped with sig (SIGTERM or SIGINT) answers what it still
//  holds before it goes, and its workers and coordinators find the next
//  one.
static void
s_broker_stopped_by_signal_fails_work_in_flight_as_shut_down (int sig)
{
    s_broker_t broker;
    //  A program started in the background by a shell without job control
    //  ignores SIGINT, and so would the broker it starts: start it with the
    //  default action, whatever this process inherited
    struct sigaction inherited;
    sigaction (sig, NULL, &inherited);
    signal (sig, SIG_DFL);
    s_broker_start (&broker, 0, NULL, NULL);
    sigaction (sig, &inherited, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [10];
    for (int i = 0; i < 4; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    zx_sleep (200);
    int status = s_child_stop (broker.child, sig, 5000);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char said [64];
    snprintf (said, sizeof said, "signal %d: shutting down", sig);
    assert_int_equal (zx_test_log_count (broker.child->log, said, NULL), 1);
    s_wait_all (futures, 4, 3000);
    for (int i = 0; i < 4; i++)
        if (zx_future_error (futures [i]) != ZX_ESHUTDOWN
        ||  strcmp (zx_future_message (futures [i]), "broker shut down before the task finished"))
            fail_msg ("task %d: %s: %s", i, zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
    s_destroy_all (futures, 4);
    s_broker_start (&broker, broker.port, NULL, NULL);
    s_wait_ready (&broker, worker);
    for (int i = 0; i < 10; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, 10, 10000);
    for (int i = 0; i < 10; i++)
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
    s_destroy_all (futures, 10);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_broker_stopped_with_sigterm_fails_work_in_flight_as_shut_down (void **state)
{
    (void) state;
    s_broker_stopped_by_signal_fails_work_in_flight_as_shut_down (SIGTERM);
}

static void
test_a_broker_stopped_with_sigint_fails_work_in_flight_as_shut_down (void **state)
{
    (void) state;
    s_broker_stopped_by_signal_fails_work_in_flight_as_shut_down (SIGINT);
}

//  Peers set up with different heartbeat intervals announce them, and
//  each side waits liveness times the longer one. fast_ms is the broker's
//  (with it, silent after 3 x fast_ms); slow_ms the worker's and the
//  coordinator's, or the other way round. A task runs for three of the
//  longer intervals: without the announcements someone would be dropped.
static void
s_mixed_heartbeats (const char *broker_ms, const char *peer_ms, int64_t task_ms)
{
    s_broker_t broker;
    s_broker_start (&broker, 0, "--heartbeat", broker_ms);
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", broker.endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "1",
                            "--heartbeat", peer_ms, "--liveness", LIVENESS, "--verbose", NULL };
    zx_test_child_t *worker = s_spawn (argv);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = atoi (peer_ms), .liveness = atoi (LIVENESS) });
    zx_future_t *future = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", task_ms));
    s_wait_all (&future, 1, task_ms + 10000);
    assert_int_equal (s_result_int (future, 0), worker->pid);
    zx_future_destroy (&future);
    assert_int_equal (zx_test_log_count (broker.child->log, "declared lost", NULL), 0);
    assert_int_equal (zx_test_log_count (broker.child->log, "not heard from", NULL), 0);
    assert_int_equal (zx_test_log_count (worker->log, "not heard from", NULL), 0);
    //  One connection all along: the worker never came back as another
    char name [128];
    s_worker_name (name, sizeof name, worker->pid);
    assert_int_equal (zx_test_log_count (broker.child->log, name, " ready"), 1);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
}

static void
test_peers_with_longer_heartbeats_than_the_broker_are_not_called_silent (void **state)
{
    (void) state;
    s_mixed_heartbeats ("100", "600", 2000);
    s_passed = true;
}

static void
test_a_broker_with_a_longer_heartbeat_than_its_peers_is_not_called_silent (void **state)
{
    (void) state;
    s_mixed_heartbeats ("700", "100", 2500);
    s_passed = true;
}

//  A broker that stops answering, its connections open (SIGSTOP), is
//  found out by silence; once it runs again, so does the work.
static void
test_a_silent_broker_fails_work_in_flight_within_the_liveness (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [10];
    for (int i = 0; i < 2; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    zx_sleep (200);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (broker.child->pid, SIGSTOP), 0);
    s_wait_all (futures, 2, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_int_equal (kill (broker.child->pid, SIGCONT), 0);
    print_message ("in-flight work failed %lld ms after the broker froze\n", (long long) elapsed);
    assert_true (elapsed >= 250);
    assert_true (elapsed < 1500);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        assert_non_null (strstr (zx_future_message (futures [i]), "not heard from"));
    }
    s_destroy_all (futures, 2);
    //  Awake again, it serves, once the worker (which gave up on the frozen
    //  broker and connected again) has announced itself anew: work dealt
    //  to its old identity in between is lost, as the policy says
    zx_sleep (600);
    for (int i = 0; i < 10; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, 10, 10000);
    for (int i = 0; i < 10; i++)
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
    s_destroy_all (futures, 10);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  The broker comes back at once, within the coordinator's liveness, and
//  the coordinator keeps submitting: the new broker hears from it, so
//  silence alone cannot tell it that its work in flight is gone.
static void
test_a_broker_restarted_at_once_fails_work_in_flight_while_new_work_flows (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *in_flight [2];
    for (int i = 0; i < 2; i++)
        in_flight [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    zx_sleep (200);
    int64_t start = zx_test_now_ms ();
    s_child_stop (broker.child, SIGKILL, 5000);
    s_broker_start (&broker, broker.port, NULL, NULL);
    enum { COUNT = 20 };
    zx_future_t *later [COUNT];
    size_t done = 0;
    for (int i = 0; i < COUNT; i++) {
        later [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
        zx_wait (in_flight, 2, ZX_ALL_COMPLETED, 50, NULL, &done, NULL, NULL);
    }
    int64_t left = 3000 - (zx_test_now_ms () - start);
    s_wait_all (in_flight, 2, left > 0 ? left : 1);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("in-flight work failed %lld ms after the broker died\n", (long long) elapsed);
    for (int i = 0; i < 2; i++)
        assert_int_equal (zx_future_error (in_flight [i]), ZX_EWORKER_LOST);
    s_destroy_all (in_flight, 2);
    //  What was submitted while the broker was away or coming back either
    //  ran or failed as lost; nothing hangs, and the new broker serves
    s_wait_all (later, COUNT, 10000);
    int ran = 0;
    for (int i = 0; i < COUNT; i++) {
        if (zx_future_error (later [i]) == ZX_OK) {
            assert_int_equal (s_result_int (later [i], 0), (int64_t) i * i);
            ran++;
        }
        else
        if (zx_future_error (later [i]) != ZX_EWORKER_LOST)
            fail_msg ("task %d: %s", i, zx_future_message (later [i]));
    }
    print_message ("%d of %d tasks submitted around the restart ran\n", ran, COUNT);
    assert_true (ran > 0);
    s_destroy_all (later, COUNT);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_fifty_worker_threads_in_ten_processes_run_five_thousand_tasks (void **state)
{
    (void) state;
    enum { PROCESSES = 10, THREADS = 5, COUNT = 5000 };
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *workers [PROCESSES];
    s_workers_start (&broker, workers, PROCESSES, THREADS);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t **futures = calloc (COUNT, sizeof (zx_future_t *));
    assert_non_null (futures);
    int64_t start = zx_test_now_ms ();
    for (int i = 0; i < COUNT; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, COUNT, 30000);
    int64_t elapsed = zx_test_now_ms () - start;
    int ran [PROCESSES] = { 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        ran [s_worker_index (workers, PROCESSES, s_result_int (futures [i], 1))]++;
    }
    int used = 0;
    for (int i = 0; i < PROCESSES; i++)
        used += ran [i] > 0;
    print_message ("%d tasks in %lld ms on %d of %d worker processes\n", COUNT,
                   (long long) elapsed, used, PROCESSES);
    assert_true (used > 1);
    s_destroy_all (futures, COUNT);
    free (futures);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  Fifty zexec-workers of one thread each: the broker sees fifty workers
//  (the test above has fifty threads in ten). Five hundred squares that
//  take 20 ms each come back right, every one of the fifty ran some, and
//  together they take far less than the 10 s one worker would.
static void
test_fifty_workers_on_one_broker_all_run_work_and_give_right_results (void **state)
{
    (void) state;
    enum { WORKERS = 50, COUNT = 500, TASK_MS = 20 };
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *workers [WORKERS];
    int64_t start = zx_test_now_ms ();
    s_workers_start (&broker, workers, WORKERS, 1);
    int64_t ready_ms = zx_test_now_ms () - start;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [COUNT];
    start = zx_test_now_ms ();
    for (int i = 0; i < COUNT; i++)
        futures [i] = s_submit (loop, remote, "slow_square",
                                zx_values_pack ("ii", (int64_t) i, (int64_t) TASK_MS));
    s_wait_all (futures, COUNT, 20000);
    int64_t elapsed = zx_test_now_ms () - start;
    int ran [WORKERS] = { 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        ran [s_worker_index (workers, WORKERS, s_result_int (futures [i], 1))]++;
    }
    s_destroy_all (futures, COUNT);
    int fewest = COUNT, most = 0;
    for (int i = 0; i < WORKERS; i++) {
        fewest = ran [i] < fewest ? ran [i] : fewest;
        most = ran [i] > most ? ran [i] : most;
    }
    print_message ("%d workers ready in %lld ms; %d tasks of %d ms in %lld ms, "
                   "%d to %d per worker\n", WORKERS, (long long) ready_ms, COUNT, TASK_MS,
                   (long long) elapsed, fewest, most);
    for (int i = 0; i < WORKERS; i++)
        if (ran [i] == 0)
            fail_msg ("worker %d (pid %d) ran none of the %d tasks", i, (int) workers [i]->pid,
                      COUNT);
    assert_true (elapsed < COUNT * TASK_MS / 4);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  zexec-worker --processes --workers 2 --service crunch: a coordinator of
//  that service gets right results from two pool processes, children of
//  the zexec-worker, never from the zexec-worker itself; a coordinator of
//  the default service, which nobody serves, gets "no workers".
static void
test_a_process_pool_worker_serves_its_service_from_two_child_processes (void **state)
{
    (void) state;
    enum { COUNT = 8 };
    s_broker_t broker;
    s_broker_start (&broker, 0, "--no-worker-wait", "300");
    zx_test_child_t *worker = s_worker_start_with (&broker, 2, true, "crunch");
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = s_remote_opts;
    opts.service = "crunch";
    zx_executor_t *crunch = s_remote_new (&broker, &opts);
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = s_submit (loop, crunch, "slow_square",
                                zx_values_pack ("ii", (int64_t) i, (int64_t) 100));
    s_wait_all (futures, COUNT, 10000);
    int64_t pids [2] = { 0, 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
        int64_t pid = s_result_int (futures [i], 1);
        if (pid == worker->pid)
            fail_msg ("task %d ran in zexec-worker (pid %d) itself", i, (int) pid);
        assert_int_equal (s_result_int (futures [i], 2), worker->pid);
        if (pid != pids [0] && pid != pids [1]) {
            if (pids [1])
                fail_msg ("a third pid %lld, after %lld and %lld", (long long) pid,
                          (long long) pids [0], (long long) pids [1]);
            pids [pids [0] ? 1 : 0] = pid;
        }
    }
    s_destroy_all (futures, COUNT);
    print_message ("zexec-worker %d ran its tasks in pool processes %lld and %lld\n",
                   (int) worker->pid, (long long) pids [0], (long long) pids [1]);
    assert_true (pids [0] > 0 && pids [1] > 0);

    s_expect_no_workers (&broker, loop, NULL);
    zx_executor_destroy (&crunch);
    zx_loop_destroy (&loop);
    s_passed = true;
}

static void
test_a_service_nobody_serves_fails_with_no_workers (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, "--no-worker-wait", "300");
    zx_test_child_t *worker = s_worker_start (&broker, 1, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    s_expect_no_workers (&broker, loop, "nobody");
    //  The default service, which has a worker, is unaffected
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *future = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 3));
    s_wait_all (&future, 1, 5000);
    assert_int_equal (s_result_int (future, 0), 9);
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  The broker holds at most --max-clients coordinators: past it a new
//  one's tasks fail at once with "queue full", nothing of it is kept, and
//  once a coordinator leaves, the next one gets in.
static void
test_coordinators_past_max_clients_get_queue_full_until_one_leaves (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, "--max-clients", "2");
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *first = s_remote_new (&broker, NULL);
    zx_executor_t *second = s_remote_new (&broker, NULL);
    zx_executor_t *third = s_remote_new (&broker, NULL);
    zx_future_t *futures [3] = {
        s_submit (loop, first, "square", zx_values_pack ("i", (int64_t) 2)),
        s_submit (loop, second, "square", zx_values_pack ("i", (int64_t) 3)),
    };
    s_wait_all (futures, 2, 10000);
    assert_int_equal (s_result_int (futures [0], 0), 4);
    assert_int_equal (s_result_int (futures [1], 0), 9);
    futures [2] = s_submit (loop, third, "square", zx_values_pack ("i", (int64_t) 4));
    s_wait_all (futures + 2, 1, 10000);
    assert_int_equal (zx_future_error (futures [2]), ZX_EQUEUE_FULL);
    assert_non_null (strstr (zx_future_message (futures [2]), "too many coordinators"));
    s_destroy_all (futures, 3);
    //  The first leaves (it says DISCONNECT): the third gets in
    zx_executor_destroy (&first);
    int64_t deadline = zx_test_now_ms () + 10000;
    int64_t square = 0;
    while (zx_test_now_ms () < deadline) {
        zx_future_t *future = s_submit (loop, third, "square", zx_values_pack ("i", (int64_t) 5));
        s_wait_all (&future, 1, 10000);
        bool done = zx_future_error (future) == ZX_OK;
        if (done)
            square = s_result_int (future, 0);
        zx_future_destroy (&future);
        if (done)
            break;
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 50);
        zx_future_destroy (&nap);
    }
    assert_int_equal (square, 25);
    zx_executor_destroy (&third);
    zx_executor_destroy (&second);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  Backpressure with no worker anywhere: a million submissions from plain
//  code into a remote executor whose queue holds 100,000. The rest fail
//  at once with "queue full", memory stays bounded in the coordinator and
//  the broker, and when a worker comes the accepted ones all complete.
static long
s_rss_mib (pid_t pid)
{
    long kib = zx_test_rss_kib (pid);
    assert_true (kib >= 0);
    return kib / 1024;
}

static void
test_a_million_submissions_with_no_worker_fail_past_the_queue_and_stay_bounded (void **state)
{
    (void) state;
    enum { SUBMISSIONS = 1000000, QUEUE = 100000 };
    s_broker_t broker;
    //  A slow build (sanitizers) may keep the loop busy with 100,000
    //  replies past the tests' short liveness: allow 5 s of silence here
    const char *const more [4] = { "--no-worker-wait", "120000", "--liveness", "50" };
    s_broker_start_with (&broker, 0, more);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = s_remote_opts;
    opts.max_queue = QUEUE;
    opts.liveness = 50;
    zx_executor_t *remote = s_remote_new (&broker, &opts);
    zx_future_t **accepted = calloc (QUEUE, sizeof (zx_future_t *));
    assert_non_null (accepted);
    long before = s_rss_mib (getpid ());
    size_t taken = 0, full = 0;
    for (int64_t i = 0; i < SUBMISSIONS; i++) {
        zx_future_t *future = s_submit (loop, remote, "square", zx_values_pack ("i", i));
        if (zx_future_done (future)) {
            if (zx_future_error (future) != ZX_EQUEUE_FULL)
                fail_msg ("submission %lld: %s", (long long) i, zx_future_message (future));
            full++;
            zx_future_destroy (&future);
        }
        else {
            assert_true (taken < QUEUE);
            accepted [taken++] = future;
        }
        if (i % 10000 == 0) {
            //  Let the loop breathe, as a program would: a coordinator
            //  silent for its liveness with work outstanding is dropped
            zx_future_t *tick = zx_future_new (loop);
            zx_future_wait (tick, 0);
            zx_future_destroy (&tick);
        }
    }
    assert_int_equal (taken, QUEUE);
    assert_int_equal (full, SUBMISSIONS - QUEUE);
    //  Let them reach the broker, which holds them for a worker
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, 1000);
    zx_future_destroy (&nap);
    long coordinator = s_rss_mib (getpid ()) - before;
    long at_broker = s_rss_mib (broker.child->pid);
    print_message ("1,000,000 submissions, no worker: coordinator +%ld MiB, broker %ld MiB\n",
                   coordinator, at_broker);
#if defined (__SANITIZE_ADDRESS__)
    //  AddressSanitizer holds freed memory in quarantine (256 MB) and pads
    //  every block: only a gross overrun shows
    long bound = 1200;
#else
    long bound = 200;                   //  Unbounded, it would be about 300
#endif
    assert_true (coordinator < bound);
    assert_true (at_broker < bound);
    //  A worker arrives: every accepted task completes, right
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_all (accepted, QUEUE, 60000);
    for (size_t i = 0; i < QUEUE; i++)
        assert_int_equal (s_result_int (accepted [i], 0), (int64_t) (i * i));
    (void) worker;
    s_destroy_all (accepted, QUEUE);
    free (accepted);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  A coordinator whose loop stalls past its liveness, work outstanding,
//  is dropped by the broker and its work cancelled there. Whatever it
//  does next, such as submitting more, that work must end, not wait for
//  replies that will never come.
static void
test_a_coordinator_that_stalls_past_its_liveness_has_its_work_end_not_hang (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *futures [3];
    for (int i = 0; i < 2; i++)
        futures [i] = s_submit (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    zx_sleep (100);
    //  Blocked outside the loop: no heartbeats for 800 ms
    usleep (800 * 1000);
    assert_true (zx_test_log_wait_running (broker.child->log,
                                           "gone (not heard from): 2 tasks cancelled", NULL, 1,
                                           2000));
    futures [2] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 7));
    s_wait_all (futures, 3, 3000);
    for (int i = 0; i < 2; i++)
        if (zx_future_error (futures [i]) != ZX_EWORKER_LOST)
            fail_msg ("sleep %d: %s: %s", i, zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
    s_destroy_all (futures, 3);
    //  And then it goes on as usual
    zx_future_t *more = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 8));
    s_wait_all (&more, 1, 3000);
    assert_int_equal (s_result_int (more, 0), 64);
    zx_future_destroy (&more);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  The coordinator the next test kills: 100 sleeps of a second each for
//  a worker of two threads, fifty seconds of work.
static int
s_coordinator_helper (const char *endpoint)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_remote_executor_new (endpoint, &s_remote_opts);
    if (!remote)
        return 1;
    enum { COUNT = 100 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_run_in_executor (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 1000));
    //  Let the requests reach the broker, then say so
    zx_wait (futures, COUNT, ZX_ALL_COMPLETED, 300, NULL, NULL, NULL, NULL);
    printf ("submitted\n");
    fflush (stdout);
    zx_wait (futures, COUNT, ZX_ALL_COMPLETED, 120000, NULL, NULL, NULL, NULL);
    return 0;
}

static void
test_a_killed_coordinators_work_is_cancelled_and_frees_the_worker (void **state)
{
    (void) state;
    s_broker_t broker;
    s_broker_start (&broker, 0, NULL, NULL);
    zx_test_child_t *worker = s_worker_start (&broker, 2, NULL);
    s_wait_ready (&broker, worker);
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    assert_true (length > 0);
    exe [length] = 0;
    const char *argv [] = { exe, "--coordinator-helper", broker.endpoint, NULL };
    zx_test_child_t *helper = s_spawn (argv);
    if (!zx_test_log_wait_running (helper->log, "submitted", NULL, 1, 10000))
        fail_msg ("the helper coordinator did not submit its work");

    //  A second coordinator's task waits behind the helper's sleeps
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = s_remote_new (&broker, NULL);
    zx_future_t *probe = s_submit (loop, remote, "whoami", NULL);
    size_t done = 99;
    assert_int_equal (zx_wait (&probe, 1, ZX_ALL_COMPLETED, 500, NULL, &done, NULL, NULL), ZX_OK);
    assert_int_equal (done, 0);

    //  The helper dies: the broker cancels its work, the probe runs
    int64_t start = zx_test_now_ms ();
    s_child_stop (helper, SIGKILL, 5000);
    s_wait_all (&probe, 1, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("the probe ran %lld ms after the coordinator died\n", (long long) elapsed);
    assert_true (elapsed < 4000);
    assert_int_equal (s_result_int (probe, 0), worker->pid);
    zx_future_destroy (&probe);
    assert_true (zx_test_log_wait_running (broker.child->log,
                                           "gone (not heard from): 100 tasks cancelled", NULL, 1,
                                           1000));
    //  Nothing of the helper's is left queued: more work runs at once
    zx_future_t *futures [10];
    start = zx_test_now_ms ();
    for (int i = 0; i < 10; i++)
        futures [i] = s_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) i));
    s_wait_all (futures, 10, 5000);
    assert_true (zx_test_now_ms () - start < 1000);
    for (int i = 0; i < 10; i++)
        assert_int_equal (s_result_int (futures [i], 0), (int64_t) i * i);
    s_destroy_all (futures, 10);

    //  Only the broker and the worker are left
    pid_t children [8];
    size_t count = zx_test_children (children, 8);
    assert_int_equal (count, 2);
    for (size_t i = 0; i < count; i++)
        assert_true (children [i] == broker.child->pid || children [i] == worker->pid);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    s_passed = true;
}

//  Runs a program to its end (at most 10 s); returns its exit code and
//  its output, which the caller frees.
static int
s_run (const char *const argv [], char **output)
{
    zx_test_child_t *child = s_spawn (argv);
    int status = zx_test_wait_running (child, 10000);
    if (status < 0)
        fail_msg ("%s did not exit within 10 s", argv [0]);
    *output = zx_test_read_file (child->log);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  Runs program with up to four arguments; checks the exit code and that
//  the output holds each of up to two texts.
static void
s_expect (int code, const char *text, const char *more, const char *program,
          const char *a, const char *b, const char *c, const char *d)
{
    const char *argv [] = { program, a, b, c, d, NULL };
    char *output;
    int got = s_run (argv, &output);
    if (got != code || !strstr (output, text) || (more && !strstr (output, more)))
        fail_msg ("%s %s %s %s %s: exit %d (expected %d), output:\n%s", program,
                  a ? a : "", b ? b : "", c ? c : "", d ? d : "", got, code, output);
    free (output);
}

static void
test_zexec_broker_reports_argument_errors_with_exit_code_two (void **state)
{
    (void) state;
    const char *broker = ZX_BROKER_PROGRAM;
    const char *try = "Try 'zexec-broker --help'";
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", zx_test_free_port ());
    s_expect (0, "usage: zexec-broker --bind ENDPOINT", "--no-worker-wait MS", broker,
              "--help", NULL, NULL, NULL);
    s_expect (0, "usage: zexec-broker", NULL, broker, "--bind", endpoint, "-h", NULL);
    s_expect (2, "--heartbeat: 'fast' is not a number", try, broker, "--bind", endpoint, "--heartbeat", "fast");
    s_expect (2, "--liveness: '1'", try, broker, "--bind", endpoint, "--liveness", "1");
    s_expect (2, "--no-worker-wait: '-5'", try, broker, "--bind", endpoint,
              "--no-worker-wait", "-5");
    s_expect (2, "--max-queue: '0'", try, broker, "--bind", endpoint, "--max-queue", "0");
    s_expect (2, "'--heartbeat'", try, broker, "--bind", endpoint, "--heartbeat", NULL);
    s_expect (2, "'--frobnicate'", try, broker, "--frobnicate", NULL, NULL, NULL);
    s_expect (2, "--bind ENDPOINT", try, broker, "--heartbeat", "100", NULL, NULL);
    s_expect (2, "--bind ENDPOINT", try, broker, NULL, NULL, NULL, NULL);
    s_expect (1, "cannot bind nonsense://here", NULL, broker, "--bind", "nonsense://here",
              NULL, NULL);
    s_passed = true;
}

static void
test_zexec_worker_reports_argument_errors_with_exit_code_two (void **state)
{
    (void) state;
    const char *worker = ZX_WORKER_PROGRAM;
    const char *try = "Try 'zexec-worker --help'";
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", zx_test_free_port ());
    s_expect (0, "usage: zexec-worker --connect ENDPOINT", "--tasks LIB.so", worker,
              "--help", NULL, NULL, NULL);
    s_expect (2, "--workers: '0' is not a number from 1 to 1024", try, worker,
              "--connect", endpoint, "--workers", "0");
    s_expect (2, "--workers: 'many'", try, worker, "--connect", endpoint, "--workers", "many");
    s_expect (2, "--heartbeat: '5'", try, worker, "--connect", endpoint, "--heartbeat", "5");
    s_expect (2, "--liveness: '1'", try, worker, "--connect", endpoint, "--liveness", "1");
    s_expect (2, "--service: ''", try, worker, "--connect", endpoint, "--service", "");
    s_expect (2, "'--window'", try, worker, "--connect", endpoint, "--window", NULL);
    s_expect (2, "'--frobnicate'", try, worker, "--connect", endpoint, "--frobnicate", NULL);
    s_expect (2, "cannot load /nonexistent/libnothing.so", NULL, worker,
              "--connect", endpoint, "--tasks", "/nonexistent/libnothing.so");
    s_expect (2, "--connect ENDPOINT", try, worker, "--workers", "2", NULL, NULL);
    s_expect (2, "--connect ENDPOINT", try, worker, NULL, NULL, NULL, NULL);
    s_expect (1, "cannot serve nonsense://here", NULL, worker, "--connect", "nonsense://here",
              "--workers", "1");
    s_passed = true;
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_broker_and_one_worker_run_a_thousand_squares_and_three_sleeps_at_once),
    cmocka_unit_test (test_a_worker_that_joins_after_the_work_was_submitted_runs_it),
    cmocka_unit_test (test_a_worker_stopped_with_sigterm_leaves_cleanly_and_another_serves_later_work),
    cmocka_unit_test (test_a_worker_killed_while_busy_fails_its_tasks_as_worker_lost_naming_it),
    cmocka_unit_test (test_a_worker_killed_while_idle_is_forgotten_and_nothing_fails),
    cmocka_unit_test (test_a_cancelled_remote_task_stops_running_on_its_worker),
    cmocka_unit_test (test_with_retries_a_killed_workers_tasks_complete_on_a_second_worker),
    cmocka_unit_test (test_a_broker_killed_and_restarted_fails_work_in_flight_then_serves_again),
    cmocka_unit_test (test_a_broker_stopped_with_sigterm_fails_work_in_flight_as_shut_down),
    cmocka_unit_test (test_a_broker_stopped_with_sigint_fails_work_in_flight_as_shut_down),
    cmocka_unit_test (test_a_silent_broker_fails_work_in_flight_within_the_liveness),
    cmocka_unit_test (test_peers_with_longer_heartbeats_than_the_broker_are_not_called_silent),
    cmocka_unit_test (test_a_broker_with_a_longer_heartbeat_than_its_peers_is_not_called_silent),
    cmocka_unit_test (test_a_broker_restarted_at_once_fails_work_in_flight_while_new_work_flows),
    cmocka_unit_test (test_fifty_worker_threads_in_ten_processes_run_five_thousand_tasks),
    cmocka_unit_test (test_fifty_workers_on_one_broker_all_run_work_and_give_right_results),
    cmocka_unit_test (test_a_process_pool_worker_serves_its_service_from_two_child_processes),
    cmocka_unit_test (test_a_service_nobody_serves_fails_with_no_workers),
    cmocka_unit_test (test_coordinators_past_max_clients_get_queue_full_until_one_leaves),
    cmocka_unit_test (test_a_million_submissions_with_no_worker_fail_past_the_queue_and_stay_bounded),
    cmocka_unit_test (test_a_coordinator_that_stalls_past_its_liveness_has_its_work_end_not_hang),
    cmocka_unit_test (test_a_killed_coordinators_work_is_cancelled_and_frees_the_worker),
    cmocka_unit_test (test_zexec_broker_reports_argument_errors_with_exit_code_two),
    cmocka_unit_test (test_zexec_worker_reports_argument_errors_with_exit_code_two),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc > 2 && strcmp (argv [1], "--coordinator-helper") == 0)
        return s_coordinator_helper (argv [2]);
    gethostname (s_hostname, sizeof s_hostname - 1);
    //  Every test gets the process bookkeeping, and its teardown runs
    //  also when the test fails
    for (size_t i = 0; i < sizeof tests / sizeof tests [0]; i++) {
        tests [i].setup_func = s_setup;
        tests [i].teardown_func = s_teardown;
    }
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
