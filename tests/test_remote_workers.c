/*  test_remote_workers.c - remote workers, and the work they run: a real
    zexec-broker and real zexec-worker processes over tcp loopback, with
    the tasks of remote_tasks.c, driven through zx_remote_executor_new.
    Workers that join late, leave, are killed busy or idle, have a task
    cancelled, serve many at once, serve a service from pool processes;
    and a service nobody serves. (test_remote_brokers.c: the broker's and
    the coordinators' side.) The ctest entries of both are test_remote.*.

    Every test starts its own broker, which binds a port of its choosing
    (testutil_peers.h), so tests can run in parallel, and uses short
    heartbeats (100 ms, liveness 3) so a lost peer shows within half a
    second. The fixture kills and reaps every process a test started, also
    when it fails, and then prints their logs.                          */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEARTBEAT_MS    100

//  The good peers with a worker of threads threads; broker_args as for
//  zx_test_broker_start.
static void
s_start (zx_test_env_t *env, int threads, const char *const *broker_args)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .threads = threads, .broker_args = broker_args });
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

//  Starts count zexec-workers of threads threads each into workers, and
//  waits until the broker has each one ready.
static void
s_workers_start (const zx_test_broker_t *broker, zx_test_child_t **workers, int count,
                 int threads)
{
    for (int i = 0; i < count; i++)
        workers [i] = zx_test_worker_start (broker, threads, NULL);
    for (int i = 0; i < count; i++)
        zx_test_wait_ready (broker, workers [i]);
}

//  Submits count tasks "whoami" and expects each to come from pid.
static void
s_expect_whoami (zx_test_env_t *env, int count, pid_t pid)
{
    zx_future_t *futures [20];
    assert_true (count <= 20);
    for (int i = 0; i < count; i++)
        futures [i] = zx_test_submit (env->loop, env->remote, "whoami", NULL);
    zx_test_wait_all (futures, (size_t) count, 10000);
    for (int i = 0; i < count; i++)
        assert_int_equal (zx_test_result_int (futures [i], 0), pid);
    zx_test_destroy_all (futures, (size_t) count);
}

//  A task for service (NULL: the default) fails with "no workers for
//  service NAME" once the broker's --no-worker-wait (300 ms) has passed,
//  not at once and not much later.
static void
s_expect_no_workers (const zx_test_broker_t *broker, zx_loop_t *loop, const char *service)
{
    zx_executor_t *remote = zx_test_remote_new (broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .service = service });
    int64_t start = zx_test_now_ms ();
    zx_future_t *future = zx_test_submit (loop, remote, "square",
                                          zx_values_pack ("i", (int64_t) 3));
    zx_test_wait_all (&future, 1, 5000);
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

//  A zexec-worker (worker_args) of one pool worker, the default window: a
//  short task and, behind it on the same pool worker, a gate the test
//  holds shut. The short task's result must reach the coordinator (pool
//  worker, serving worker, broker, coordinator) while the gate still runs.
static void
s_expect_a_result_while_the_next_task_runs (const char *const *worker_args)
{
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .threads = 1, .worker_args = worker_args });
    char started [256], release [256];
    zx_test_scratch_path (started, sizeof started, "gate-started");
    zx_test_scratch_path (release, sizeof release, "gate-release");
    zx_future_t *quick = zx_test_submit (env.loop, env.remote, "square",
                                         zx_values_pack ("i", (int64_t) 7));
    zx_future_t *held = zx_test_submit (env.loop, env.remote, "gate",
                                        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    bool gate_started = zx_test_wait_file (started, 10000);
    bool quick_done = zx_test_wait_done (quick, 10000);
    bool held_done = zx_future_done (held);
    zx_test_touch (release);
    assert_true (zx_test_wait_done (held, 10000));
    assert_true (gate_started);
    assert_true (quick_done);       //  Not held back behind the gate
    assert_false (held_done);
    assert_int_equal (zx_test_result_int (quick, 0), 49);
    assert_int_equal (zx_future_error (held), ZX_OK);
    zx_future_destroy (&quick);
    zx_future_destroy (&held);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  RUNNING means started, through the broker too: the gate turns RUNNING
//  once its pool worker says so, the task held behind it stays PENDING;
//  cancel as concurrent.futures does refuses the gate, which then finishes
//  with its result, and cancels the held one.
static void
test_a_remote_future_is_running_once_its_task_started_and_not_before (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = HEARTBEAT_MS,
                                                     .threads = 1 });
    char started [256], release [256], touched [256];
    zx_test_scratch_path (started, sizeof started, "gate-started");
    zx_test_scratch_path (release, sizeof release, "gate-release");
    zx_test_scratch_path (touched, sizeof touched, "held-touched");
    zx_future_t *gate = zx_test_submit (env.loop, env.remote, "gate",
                                        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    zx_future_t *held = zx_test_submit (env.loop, env.remote, "touch",
                                        zx_values_pack ("s", touched));
    assert_true (zx_test_wait_file (started, 10000));
    for (int i = 0; i < 1000 && zx_future_state (gate) != ZX_FUTURE_RUNNING; i++)
        zx_sleep (10);
    zx_future_state_t gate_state = zx_future_state (gate);
    zx_future_state_t held_state = zx_future_state (held);
    bool refused = !zx_future_cancel_if_pending (gate);
    bool cancelled = zx_future_cancel_if_pending (held);
    zx_test_touch (release);
    assert_true (zx_test_wait_done (gate, 10000));
    assert_int_equal (gate_state, ZX_FUTURE_RUNNING);
    assert_int_equal (held_state, ZX_FUTURE_PENDING);
    assert_true (refused);
    assert_true (cancelled);
    assert_int_equal (zx_future_error (gate), ZX_OK);
    assert_int_equal (zx_future_error (held), ZX_ECANCELLED);
    //  The worker goes on serving. (Whether the held task's body ran
    //  depends on whether the CANCEL reached the pool worker before the
    //  gate ended: a race the test would lose under load.)
    zx_future_t *after = zx_test_submit (env.loop, env.remote, "square",
                                         zx_values_pack ("i", (int64_t) 3));
    assert_true (zx_test_wait_done (after, 10000));
    assert_int_equal (zx_test_result_int (after, 0), 9);
    unlink (touched);
    zx_future_destroy (&gate);
    zx_future_destroy (&held);
    zx_future_destroy (&after);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  A remote task's error says which task failed on which worker (the
//  zexec-worker's host, pid and thread) and where: through the serving
//  worker and the broker, the details stay with the message.
static void
test_a_remote_task_error_names_its_task_worker_and_place (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = HEARTBEAT_MS,
                                                     .threads = 1 });
    zx_future_t *future = zx_test_submit (env.loop, env.remote, "fail_with",
                                          zx_values_pack ("s", "far"));
    assert_true (zx_test_wait_done (future, 10000));
    assert_int_equal (zx_future_error (future), ZX_ETASK);
    assert_string_equal (zx_future_message (future), "failed on purpose: far");
    zx_error_info_t info;
    assert_true (zx_future_error_info (future, &info));
    assert_string_equal (info.task, "fail_with");
    assert_int_equal (info.pid, env.worker->pid);
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    assert_string_equal (info.host, host);
    assert_true (info.thread [0] != 0);
    assert_non_null (strstr (info.where, "remote_tasks.c:"));
    zx_future_destroy (&future);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_a_remote_result_arrives_while_the_next_task_on_its_worker_thread_runs (void **state)
{
    (void) state;
    s_expect_a_result_while_the_next_task_runs (NULL);
}

static void
test_a_remote_result_arrives_while_the_next_task_on_its_worker_process_runs (void **state)
{
    (void) state;
    s_expect_a_result_while_the_next_task_runs ((const char *[]) { "--processes", NULL });
}

static void
test_a_broker_and_one_worker_run_a_thousand_squares_and_three_sleeps_at_once (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, 3, NULL);
    enum { COUNT = 1000 };
    zx_future_t *futures [COUNT];
    zx_test_submit_squares (env.loop, env.remote, futures, COUNT);
    zx_test_check_squares (futures, COUNT, 10000, env.worker->pid);

    //  The worker's three threads run three sleeps together: about 100 ms,
    //  where one after another would take 300
    zx_future_t *sleeps [3];
    int64_t start = zx_test_now_ms ();
    zx_test_submit_many (env.loop, env.remote, sleeps, 3, "sleep_ms", 100);
    zx_test_wait_all (sleeps, 3, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("three 100 ms sleeps took %lld ms\n", (long long) elapsed);
    assert_true (elapsed >= 95);
    assert_true (elapsed < 250);
    const char *names [3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal (zx_test_result_int (sleeps [i], 0), env.worker->pid);
        assert_int_equal (zx_values_get_str (zx_future_result (sleeps [i]), 1, &names [i]), ZX_OK);
    }
    assert_string_not_equal (names [0], names [1]);
    assert_string_not_equal (names [0], names [2]);
    assert_string_not_equal (names [1], names [2]);
    zx_test_destroy_all (sleeps, 3);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_a_worker_that_joins_after_the_work_was_submitted_runs_it (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    enum { COUNT = 20 };
    zx_future_t *futures [COUNT];
    zx_test_submit_squares (loop, remote, futures, COUNT);
    //  Nobody serves them yet: they wait at the broker
    size_t done = 99;
    assert_int_equal (zx_wait (futures, COUNT, ZX_FIRST_COMPLETED, 300, NULL, &done,
                               NULL, NULL), ZX_OK);
    assert_int_equal (done, 0);
    zx_test_child_t *worker = zx_test_worker_start (&broker, 2, NULL);
    zx_test_check_squares (futures, COUNT, 10000, worker->pid);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_a_worker_stopped_with_sigterm_leaves_cleanly_and_another_serves_later_work (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, 2, NULL);
    s_expect_whoami (&env, 4, env.worker->pid);

    //  Idle, it exits at SIGTERM with status 0 and says goodbye
    pid_t first_pid = env.worker->pid;
    int status = zx_test_peer_stop (env.worker, SIGTERM, 5000);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char name [128];
    zx_test_worker_name (name, sizeof name, first_pid);
    const char *log = env.broker.child->log;
    assert_true (zx_test_log_wait_running (log, name, " left: bye", 1, 2000));

    zx_test_child_t *second = zx_test_worker_start (&env.broker, 2, NULL);
    zx_test_wait_ready (&env.broker, second);
    s_expect_whoami (&env, 8, second->pid);
    //  Nothing was sent to the worker that left
    assert_int_equal (zx_test_log_count (log, "unreachable", NULL), 0);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_a_worker_killed_while_busy_fails_its_tasks_as_worker_lost_naming_it (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, 3, NULL);
    //  Three gates, all running (each made its file) when it is killed
    char started [3][256], release [256];
    zx_test_scratch_path (release, sizeof release, "release");
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++) {
        char file [32];
        snprintf (file, sizeof file, "started-%d", i);
        zx_test_scratch_path (started [i], sizeof started [i], file);
        futures [i] = zx_test_submit (env.loop, env.remote, "gate",
            zx_values_pack ("ssi", started [i], release, (int64_t) 60000));
    }
    for (int i = 0; i < 3; i++)
        assert_true (zx_test_wait_file (started [i], 10000));
    char name [128];
    zx_test_worker_name (name, sizeof name, env.worker->pid);
    int64_t start = zx_test_now_ms ();
    zx_test_peer_stop (env.worker, SIGKILL, 5000);
    zx_test_wait_all (futures, 3, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("lost after %lld ms\n", (long long) elapsed);
    //  Liveness is 3 x 100 ms; the broker looks every 100 ms
    assert_true (elapsed < 1500);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        const char *message = zx_future_message (futures [i]);
        if (!strstr (message, name) || !strstr (message, "task 'gate'"))
            fail_msg ("message '%s' does not name '%s' and the task", message, name);
    }
    zx_test_destroy_all (futures, 3);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  Cancelling a remote future stops the task on its worker: the broker
//  passes the cancel on, the serving worker stops its local pool's task at
//  the cancel token, and the one pool thread is free at once for the next.
static void
test_a_cancelled_remote_task_stops_running_on_its_worker (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, 1, NULL);
    zx_future_t *long_one = zx_test_submit (env.loop, env.remote, "sleep_ms",
                                            zx_values_pack ("i", (int64_t) 30000));
    zx_future_t *nap = zx_future_new (env.loop);
    zx_future_wait (nap, 300);                  //  It runs on the worker now
    zx_future_destroy (&nap);
    assert_true (zx_future_cancel (long_one));
    assert_true (zx_future_cancelled (long_one));
    int64_t start = zx_test_now_ms ();
    zx_future_t *next = zx_test_submit (env.loop, env.remote, "whoami", NULL);
    zx_test_wait_all (&next, 1, 10000);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_int_equal (zx_test_result_int (next, 0), env.worker->pid);
    print_message ("the next task ran %lld ms after the cancel\n", (long long) elapsed);
    assert_true (elapsed < 3000);               //  Not after the 30 s sleep
    zx_future_destroy (&next);
    zx_future_destroy (&long_one);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  A broker, two workers of threads threads ready there (the good
//  worker, to be the victim, and the other, the survivor), a loop, and a
//  coordinator with retries. Only the victim has the short heartbeat
//  whose silence the tests wait for: the survivor and the coordinator
//  beat every second (3 s of silence, not 300 ms, before the broker
//  gives up on them or they on it), so that a loaded machine, which
//  starves the broker of CPU for hundreds of ms, loses neither of them.
static void
s_two_workers (zx_test_env_t *env, int threads, int retries)
{
    memset (env, 0, sizeof *env);
    zx_test_broker_start (&env->broker, HEARTBEAT_MS, NULL);
    env->worker = zx_test_worker_start (&env->broker, threads, NULL);
    zx_test_child_t *survivor = zx_test_worker_start (&env->broker, threads, (const char *[]) {
        "--heartbeat", "1000", NULL });
    zx_test_wait_ready (&env->broker, env->worker);
    zx_test_wait_ready (&env->broker, survivor);
    env->other = survivor->pid;
    env->loop = zx_loop_new ();
    env->remote = zx_test_remote_new (&env->broker, &(zx_executor_opts_t) {
        .heartbeat_ms = 1000, .liveness = 3, .retries = retries });
}

static void
test_a_worker_killed_while_idle_is_forgotten_and_nothing_fails (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_two_workers (&env, 2, 0);
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++)
        futures [i] = zx_test_submit (env.loop, env.remote, "whoami", NULL);
    zx_test_wait_all (futures, 4, 10000);
    zx_test_destroy_all (futures, 4);
    zx_test_peer_stop (env.worker, SIGKILL, 5000);
    zx_sleep (50);
    //  Within its liveness the broker still counts it: what it deals to
    //  it comes back (the socket says it is unreachable) and goes on
    s_expect_whoami (&env, 20, env.other);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_with_retries_a_killed_workers_tasks_complete_on_a_second_worker (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_two_workers (&env, 3, 1);
    //  Six gates, all running at once, so three on each worker of three
    //  threads; then one worker is killed and the gates let go. Tasks
    //  that slept instead could end before the kill, or reach the worker
    //  after it, on a loaded machine
    char started [6][256], release [256];
    zx_test_scratch_path (release, sizeof release, "release");
    zx_future_t *futures [6];
    for (int i = 0; i < 6; i++) {
        char name [32];
        snprintf (name, sizeof name, "started-%d", i);
        zx_test_scratch_path (started [i], sizeof started [i], name);
        futures [i] = zx_test_submit (env.loop, env.remote, "gate",
            zx_values_pack ("ssi", started [i], release, (int64_t) 60000));
    }
    for (int i = 0; i < 6; i++)
        assert_true (zx_test_wait_file (started [i], 10000));
    zx_test_peer_stop (env.worker, SIGKILL, 5000);
    zx_test_touch (release);
    zx_test_wait_all (futures, 6, 10000);
    for (int i = 0; i < 6; i++)
        assert_int_equal (zx_test_result_int (futures [i], 0), env.other);
    zx_test_destroy_all (futures, 6);
    assert_int_equal (zx_test_log_count (env.broker.child->log,
                                         "goes to another worker (attempt 2)", NULL), 3);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_fifty_worker_threads_in_ten_processes_run_five_thousand_tasks (void **state)
{
    (void) state;
    enum { PROCESSES = 10, THREADS = 5, COUNT = 5000 };
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *workers [PROCESSES];
    s_workers_start (&broker, workers, PROCESSES, THREADS);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_future_t **futures = calloc (COUNT, sizeof (zx_future_t *));
    assert_non_null (futures);
    int64_t start = zx_test_now_ms ();
    zx_test_submit_squares (loop, remote, futures, COUNT);
    zx_test_wait_all (futures, COUNT, 30000);
    int64_t elapsed = zx_test_now_ms () - start;
    int ran [PROCESSES] = { 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
        ran [s_worker_index (workers, PROCESSES, zx_test_result_int (futures [i], 1))]++;
    }
    int used = 0;
    for (int i = 0; i < PROCESSES; i++)
        used += ran [i] > 0;
    print_message ("%d tasks in %lld ms on %d of %d worker processes\n", COUNT,
                   (long long) elapsed, used, PROCESSES);
    assert_true (used > 1);
    zx_test_destroy_all (futures, COUNT);
    free (futures);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
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
    zx_test_broker_t broker;
    //  Heartbeats of 1 s: fifty workers of a sanitized build on a loaded
    //  machine missed 100 ms ones and kept reconnecting while work was dealt
    zx_test_broker_start (&broker, 1000, NULL);
    zx_test_child_t *workers [WORKERS];
    int64_t start = zx_test_now_ms ();
    s_workers_start (&broker, workers, WORKERS, 1);
    int64_t ready_ms = zx_test_now_ms () - start;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_future_t *futures [COUNT];
    start = zx_test_now_ms ();
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_test_submit (loop, remote, "slow_square",
                                      zx_values_pack ("ii", (int64_t) i, (int64_t) TASK_MS));
    zx_test_wait_all (futures, COUNT, 20000);
    int64_t elapsed = zx_test_now_ms () - start;
    int ran [WORKERS] = { 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
        ran [s_worker_index (workers, WORKERS, zx_test_result_int (futures [i], 1))]++;
    }
    zx_test_destroy_all (futures, COUNT);
    int fewest = COUNT, most = 0;
    for (int i = 0; i < WORKERS; i++) {
        fewest = ran [i] < fewest ? ran [i] : fewest;
        most = ran [i] > most ? ran [i] : most;
    }
    print_message ("%d workers ready in %lld ms; %d tasks of %d ms in %lld ms, "
                   "%d to %d per worker\n", WORKERS, (long long) ready_ms, COUNT, TASK_MS,
                   (long long) elapsed, fewest, most);
    //  A worker the broker declared lost meanwhile (its heartbeats late
    //  under a sanitizer on a loaded machine) rightly got no more work
    for (int i = 0; i < WORKERS; i++) {
        char lost [64];
        snprintf (lost, sizeof lost, "(pid %d) silent for", (int) workers [i]->pid);
        if (ran [i] == 0 && zx_test_log_count (broker.child->log, lost, NULL) > 0)
            print_message ("worker %d (pid %d) ran none: declared lost meanwhile\n", i,
                           (int) workers [i]->pid);
        else
        if (ran [i] == 0)
            fail_msg ("worker %d (pid %d) ran none of the %d tasks", i, (int) workers [i]->pid,
                      COUNT);
    }
    assert_true (elapsed < COUNT * TASK_MS / 4);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
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
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .broker_args = (const char *[]) {
            "--no-worker-wait", "300", NULL },
        .worker_args = (const char *[]) { "--processes", "--service", "crunch", NULL },
        .remote = &(zx_executor_opts_t) {
            .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .service = "crunch" } });
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_test_submit (env.loop, env.remote, "slow_square",
                                      zx_values_pack ("ii", (int64_t) i, (int64_t) 100));
    zx_test_wait_all (futures, COUNT, 10000);
    pid_t worker = env.worker->pid;
    int64_t pids [2] = { 0, 0 };
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
        int64_t pid = zx_test_result_int (futures [i], 1);
        if (pid == worker)
            fail_msg ("task %d ran in zexec-worker (pid %d) itself", i, (int) pid);
        assert_int_equal (zx_test_result_int (futures [i], 2), worker);
        if (pid != pids [0] && pid != pids [1]) {
            if (pids [1])
                fail_msg ("a third pid %lld, after %lld and %lld", (long long) pid,
                          (long long) pids [0], (long long) pids [1]);
            pids [pids [0] ? 1 : 0] = pid;
        }
    }
    zx_test_destroy_all (futures, COUNT);
    print_message ("zexec-worker %d ran its tasks in pool processes %lld and %lld\n",
                   (int) worker, (long long) pids [0], (long long) pids [1]);
    assert_true (pids [0] > 0 && pids [1] > 0);

    s_expect_no_workers (&env.broker, env.loop, NULL);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static void
test_a_service_nobody_serves_fails_with_no_workers (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, 1, (const char *[]) { "--no-worker-wait", "300", NULL });
    s_expect_no_workers (&env.broker, env.loop, "nobody");
    //  The default service, which has a worker, is unaffected
    zx_future_t *future = zx_test_submit (env.loop, env.remote, "square",
                                          zx_values_pack ("i", (int64_t) 3));
    zx_test_wait_all (&future, 1, 5000);
    assert_int_equal (zx_test_result_int (future, 0), 9);
    zx_future_destroy (&future);
    zx_test_env_end (&env);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_broker_and_one_worker_run_a_thousand_squares_and_three_sleeps_at_once),
    cmocka_unit_test (test_a_worker_that_joins_after_the_work_was_submitted_runs_it),
    cmocka_unit_test (test_a_worker_stopped_with_sigterm_leaves_cleanly_and_another_serves_later_work),
    cmocka_unit_test (test_a_worker_killed_while_busy_fails_its_tasks_as_worker_lost_naming_it),
    cmocka_unit_test (test_a_worker_killed_while_idle_is_forgotten_and_nothing_fails),
    cmocka_unit_test (test_a_cancelled_remote_task_stops_running_on_its_worker),
    cmocka_unit_test (test_with_retries_a_killed_workers_tasks_complete_on_a_second_worker),
    cmocka_unit_test (test_fifty_worker_threads_in_ten_processes_run_five_thousand_tasks),
    cmocka_unit_test (test_fifty_workers_on_one_broker_all_run_work_and_give_right_results),
    cmocka_unit_test (test_a_process_pool_worker_serves_its_service_from_two_child_processes),
    cmocka_unit_test (test_a_service_nobody_serves_fails_with_no_workers),
    cmocka_unit_test (test_a_remote_result_arrives_while_the_next_task_on_its_worker_thread_runs),
    cmocka_unit_test (test_a_remote_future_is_running_once_its_task_started_and_not_before),
    cmocka_unit_test (test_a_remote_task_error_names_its_task_worker_and_place),
    cmocka_unit_test (test_a_remote_result_arrives_while_the_next_task_on_its_worker_process_runs),
};

ZX_TEST_MAIN_WITH (tests, zx_test_setup, zx_test_teardown)
