/*  test_remote_brokers.c - the broker's and the coordinators' side of
    remote work: a real zexec-broker and real zexec-worker processes over
    tcp loopback, with the tasks of remote_tasks.c, driven through
    zx_remote_executor_new. A broker killed and restarted, stopped with a
    signal, frozen; peers with other heartbeats than the broker's;
    coordinators past the broker's caps, a million submissions with no
    worker, a coordinator that stalls and one that is killed; and the
    command lines of zexec-broker and zexec-worker. (test_remote_workers.c:
    the workers' side.) The ctest entries of both are test_remote.*.

    Every test starts its own broker, which binds a port of its choosing
    (testutil_peers.h), so tests can run in parallel; a broker restarted
    gets the same port again. Heartbeats are short (100 ms, liveness 3),
    so a lost peer shows within half a second. The fixture kills and reaps
    every process a test started, also when it fails, and then prints
    their logs.

    This binary is also the coordinator the orphan test kills: with
    "--coordinator-helper ENDPOINT" it submits long sleeps and waits.    */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define HEARTBEAT_MS    100

//  The good peers with a worker of two threads.
static void
s_start (zx_test_env_t *env, const char *const *broker_args)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .broker_args = broker_args });
}

//  The good peers, and two sleeps of a second in flight, which the broker
//  has dealt to the worker.
static void
s_start_busy (zx_test_env_t *env, zx_future_t **in_flight)
{
    s_start (env, NULL);
    zx_test_submit_many (env->loop, env->remote, in_flight, 2, "sleep_ms", 1000);
    zx_sleep (200);
}

//  Runs count squares on the good coordinator; each must be right, and
//  from pid unless it is 0.
static void
s_expect_squares (zx_test_env_t *env, int count, int64_t timeout_ms, pid_t pid)
{
    zx_future_t *futures [20];
    assert_true (count <= 20);
    zx_test_submit_squares (env->loop, env->remote, futures, count);
    zx_test_check_squares (futures, count, timeout_ms, pid);
}

static void
s_nap_over (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_values_t *none = NULL;
    zx_future_set_result ((zx_future_t *) arg, &none);
}

//  Lets the loop run for ms, and for one iteration at least when ms is 0
//  (zx_future_wait with a timeout of 0 only looks, and runs nothing: a
//  coordinator "breathing" that way sends no heartbeat)
static void
s_nap (zx_loop_t *loop, int64_t ms)
{
    zx_future_t *nap = zx_future_new (loop);
    assert_true (zx_loop_call_later (loop, ms, s_nap_over, nap) != 0);
    assert_int_equal (zx_loop_run_until_complete (loop, nap), ZX_OK);
    zx_future_destroy (&nap);
}

//  --------------------------------------------------------------------
//  A broker lost, stopped, frozen or restarted

static void
test_a_broker_killed_and_restarted_fails_work_in_flight_then_serves_again (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_future_t *futures [2];
    s_start_busy (&env, futures);
    int64_t start = zx_test_now_ms ();
    zx_test_peer_stop (env.broker.child, SIGKILL, 5000);
    zx_test_wait_all (futures, 2, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("in-flight work failed %lld ms after the broker died\n", (long long) elapsed);
    assert_true (elapsed < 3000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        const char *message = zx_future_message (futures [i]);
        if (!strstr (message, env.broker.endpoint)
        ||  !strstr (message, "task 'sleep_ms' was lost"))
            fail_msg ("message '%s' names neither the broker nor the task", message);
    }
    zx_test_destroy_all (futures, 2);

    //  A new broker on the same port: the worker finds it by itself
    zx_test_broker_restart (&env.broker);
    zx_test_wait_ready (&env.broker, env.worker);
    s_expect_squares (&env, 20, 10000, env.worker->pid);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  A broker stopped with sig (SIGTERM or SIGINT) answers what it still
//  holds before it goes, and its workers and coordinators find the next
//  one.
static void
s_broker_stopped_by_signal_fails_work_in_flight_as_shut_down (int sig)
{
    zx_test_env_t env;
    memset (&env, 0, sizeof env);
    //  A program started in the background by a shell without job control
    //  ignores SIGINT, and so would the broker it starts: start it with the
    //  default action, whatever this process inherited
    struct sigaction inherited;
    sigaction (sig, NULL, &inherited);
    signal (sig, SIG_DFL);
    zx_test_broker_start (&env.broker, HEARTBEAT_MS, NULL);
    sigaction (sig, &inherited, NULL);
    env.worker = zx_test_worker_start (&env.broker, 2, NULL);
    zx_test_wait_ready (&env.broker, env.worker);
    env.loop = zx_loop_new ();
    env.remote = zx_test_remote_new (&env.broker, NULL);
    zx_future_t *futures [4];
    zx_test_submit_many (env.loop, env.remote, futures, 4, "sleep_ms", 5000);
    zx_sleep (200);
    int status = zx_test_peer_stop (env.broker.child, sig, 5000);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char said [64];
    snprintf (said, sizeof said, "signal %d: shutting down", sig);
    assert_int_equal (zx_test_log_count (env.broker.child->log, said, NULL), 1);
    zx_test_wait_all (futures, 4, 3000);
    for (int i = 0; i < 4; i++)
        if (zx_future_error (futures [i]) != ZX_ESHUTDOWN
        ||  strcmp (zx_future_message (futures [i]), "broker shut down before the task finished"))
            fail_msg ("task %d: %s: %s", i, zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
    zx_test_destroy_all (futures, 4);
    zx_test_broker_restart (&env.broker);
    zx_test_wait_ready (&env.broker, env.worker);
    s_expect_squares (&env, 10, 10000, 0);
    zx_test_env_end (&env);
    zx_test_pass ();
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
//  each side waits liveness times the longer one. broker_ms is the
//  broker's; peer_ms the worker's and the coordinator's, shorter or
//  longer. A task runs for three of the longer intervals: without the
//  announcements someone would be dropped.
static void
s_mixed_heartbeats (int broker_ms, int peer_ms, int64_t task_ms)
{
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, broker_ms, NULL);
    char heartbeat [16];
    snprintf (heartbeat, sizeof heartbeat, "%d", peer_ms);
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", broker.endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "1",
                            "--heartbeat", heartbeat, "--liveness", "3", "--verbose", NULL };
    zx_test_child_t *worker = zx_test_peer_spawn (argv);
    zx_test_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = peer_ms, .liveness = 3 });
    zx_future_t *future = zx_test_submit (loop, remote, "sleep_ms",
                                          zx_values_pack ("i", task_ms));
    zx_test_wait_all (&future, 1, task_ms + 10000);
    assert_int_equal (zx_test_result_int (future, 0), worker->pid);
    zx_future_destroy (&future);
    assert_int_equal (zx_test_log_count (broker.child->log, "declared lost", NULL), 0);
    assert_int_equal (zx_test_log_count (broker.child->log, "not heard from", NULL), 0);
    assert_int_equal (zx_test_log_count (worker->log, "not heard from", NULL), 0);
    //  One connection all along: the worker never came back as another
    char name [128];
    zx_test_worker_name (name, sizeof name, worker->pid);
    assert_int_equal (zx_test_log_count (broker.child->log, name, " ready"), 1);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
}

static void
test_peers_with_longer_heartbeats_than_the_broker_are_not_called_silent (void **state)
{
    (void) state;
    s_mixed_heartbeats (100, 600, 2000);
    zx_test_pass ();
}

static void
test_a_broker_with_a_longer_heartbeat_than_its_peers_is_not_called_silent (void **state)
{
    (void) state;
    s_mixed_heartbeats (700, 100, 2500);
    zx_test_pass ();
}

//  A broker that stops answering, its connections open (SIGSTOP), is
//  found out by silence; once it runs again, so does the work.
static void
test_a_silent_broker_fails_work_in_flight_within_the_liveness (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_future_t *futures [2];
    s_start_busy (&env, futures);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (kill (env.broker.child->pid, SIGSTOP), 0);
    zx_test_wait_all (futures, 2, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_int_equal (kill (env.broker.child->pid, SIGCONT), 0);
    print_message ("in-flight work failed %lld ms after the broker froze\n", (long long) elapsed);
    //  Not at once: the coordinator heard nothing for the whole liveness,
    //  which it says (the time since SIGSTOP cannot tell: a broker starved
    //  of CPU on a loaded machine may have been silent before it)
    assert_true (elapsed < 1500);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_EWORKER_LOST);
        const char *silent = strstr (zx_future_message (futures [i]), "not heard from for ");
        assert_non_null (silent);
        assert_true (atoll (silent + strlen ("not heard from for ")) >= 300);
    }
    zx_test_destroy_all (futures, 2);
    //  Awake again, it serves, once the worker (which gave up on the frozen
    //  broker and connected again) has announced itself anew: work dealt
    //  to its old identity in between is lost, as the policy says
    zx_sleep (600);
    s_expect_squares (&env, 10, 10000, 0);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  The broker comes back at once, within the coordinator's liveness, and
//  the coordinator keeps submitting: the new broker hears from it, so
//  silence alone cannot tell it that its work in flight is gone.
static void
test_a_broker_restarted_at_once_fails_work_in_flight_while_new_work_flows (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_future_t *in_flight [2];
    s_start_busy (&env, in_flight);
    int64_t start = zx_test_now_ms ();
    zx_test_peer_stop (env.broker.child, SIGKILL, 5000);
    zx_test_broker_restart (&env.broker);
    enum { COUNT = 20 };
    zx_future_t *later [COUNT];
    size_t done = 0;
    for (int i = 0; i < COUNT; i++) {
        later [i] = zx_test_submit (env.loop, env.remote, "square",
                                    zx_values_pack ("i", (int64_t) i));
        zx_wait (in_flight, 2, ZX_ALL_COMPLETED, 50, NULL, &done, NULL, NULL);
    }
    int64_t left = 3000 - (zx_test_now_ms () - start);
    zx_test_wait_all (in_flight, 2, left > 0 ? left : 1);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("in-flight work failed %lld ms after the broker died\n", (long long) elapsed);
    for (int i = 0; i < 2; i++)
        assert_int_equal (zx_future_error (in_flight [i]), ZX_EWORKER_LOST);
    zx_test_destroy_all (in_flight, 2);
    //  What was submitted while the broker was away or coming back either
    //  ran or failed as lost; nothing hangs, and the new broker serves
    zx_test_wait_all (later, COUNT, 10000);
    int ran = 0;
    for (int i = 0; i < COUNT; i++) {
        if (zx_future_error (later [i]) == ZX_OK) {
            assert_int_equal (zx_test_result_int (later [i], 0), (int64_t) i * i);
            ran++;
        }
        else
        if (zx_future_error (later [i]) != ZX_EWORKER_LOST)
            fail_msg ("task %d: %s", i, zx_future_message (later [i]));
    }
    print_message ("%d of %d tasks submitted around the restart ran\n", ran, COUNT);
    assert_true (ran > 0);
    zx_test_destroy_all (later, COUNT);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  Coordinators: too many, too much work, stalled, killed

//  The broker holds at most --max-clients coordinators: past it a new
//  one's tasks fail at once with "queue full", nothing of it is kept, and
//  once a coordinator leaves, the next one gets in.
static void
test_coordinators_past_max_clients_get_queue_full_until_one_leaves (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, (const char *[]) { "--max-clients", "2", NULL });
    zx_loop_t *loop = env.loop;
    zx_executor_t *first = env.remote;
    zx_executor_t *second = zx_test_remote_new (&env.broker, NULL);
    zx_executor_t *third = zx_test_remote_new (&env.broker, NULL);
    zx_future_t *futures [3] = {
        zx_test_submit (loop, first, "square", zx_values_pack ("i", (int64_t) 2)),
        zx_test_submit (loop, second, "square", zx_values_pack ("i", (int64_t) 3)),
    };
    zx_test_wait_all (futures, 2, 10000);
    assert_int_equal (zx_test_result_int (futures [0], 0), 4);
    assert_int_equal (zx_test_result_int (futures [1], 0), 9);
    futures [2] = zx_test_submit (loop, third, "square", zx_values_pack ("i", (int64_t) 4));
    zx_test_wait_all (futures + 2, 1, 10000);
    assert_int_equal (zx_future_error (futures [2]), ZX_EQUEUE_FULL);
    assert_non_null (strstr (zx_future_message (futures [2]), "too many coordinators"));
    zx_test_destroy_all (futures, 3);
    //  The first leaves (it says DISCONNECT): the third gets in
    zx_executor_destroy (&env.remote);
    int64_t deadline = zx_test_now_ms () + 10000;
    int64_t square = 0;
    while (zx_test_now_ms () < deadline) {
        zx_future_t *future = zx_test_submit (loop, third, "square",
                                              zx_values_pack ("i", (int64_t) 5));
        zx_test_wait_all (&future, 1, 10000);
        bool done = zx_future_error (future) == ZX_OK;
        if (done)
            square = zx_test_result_int (future, 0);
        zx_future_destroy (&future);
        if (done)
            break;
        s_nap (loop, 50);
    }
    assert_int_equal (square, 25);
    zx_executor_destroy (&third);
    zx_executor_destroy (&second);
    zx_test_env_end (&env);
    zx_test_pass ();
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
    zx_test_broker_t broker;
    //  A slow build (sanitizers) may keep the loop busy with 100,000
    //  replies past the tests' short liveness: allow 5 s of silence here
    zx_test_broker_start (&broker, HEARTBEAT_MS, (const char *[]) {
        "--no-worker-wait", "120000", "--liveness", "50", NULL });
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 50, .max_queue = QUEUE });
    zx_future_t **accepted = calloc (QUEUE, sizeof (zx_future_t *));
    assert_non_null (accepted);
    long before = s_rss_mib (getpid ());
    size_t taken = 0, full = 0;
    for (int64_t i = 0; i < SUBMISSIONS; i++) {
        zx_future_t *future = zx_test_submit (loop, remote, "square", zx_values_pack ("i", i));
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
        //  Let the loop breathe, as a program would: a coordinator silent
        //  for its liveness with work outstanding is dropped (10,000 refused
        //  submissions took more than 5 s under ASan on a loaded machine)
        if (i % 1000 == 0)
            s_nap (loop, 0);
    }
    assert_int_equal (taken, QUEUE);
    assert_int_equal (full, SUBMISSIONS - QUEUE);
    //  Let them reach the broker, which holds them for a worker
    s_nap (loop, 1000);
    long coordinator = s_rss_mib (getpid ()) - before;
    long at_broker = s_rss_mib (broker.child->pid);
    print_message ("1,000,000 submissions, no worker: coordinator +%ld MiB, broker %ld MiB\n",
                   coordinator, at_broker);
#if defined (__SANITIZE_ADDRESS__)
    //  AddressSanitizer holds freed memory in quarantine (256 MB) and pads
    //  every block: only a gross overrun shows
    long bound = 1200;
#elif defined (__SANITIZE_THREAD__)
    //  ThreadSanitizer maps shadow memory for every page the program and
    //  libzmq touch (the same run measured +28 MiB plain, +253 under it)
    long bound = 800;
#else
    long bound = 200;                   //  Unbounded, it would be about 300
#endif
    assert_true (coordinator < bound);
    assert_true (at_broker < bound);
    //  A worker arrives: every accepted task completes, right
    zx_test_worker_start (&broker, 2, NULL);
    zx_test_wait_all (accepted, QUEUE, 60000);
    for (size_t i = 0; i < QUEUE; i++)
        assert_int_equal (zx_test_result_int (accepted [i], 0), (int64_t) (i * i));
    zx_test_destroy_all (accepted, QUEUE);
    free (accepted);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  A coordinator whose loop stalls past its liveness, work outstanding,
//  is dropped by the broker and its work cancelled there. Whatever it
//  does next, such as submitting more, that work must end, not wait for
//  replies that will never come.
static void
test_a_coordinator_that_stalls_past_its_liveness_has_its_work_end_not_hang (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_start (&env, NULL);
    zx_future_t *futures [3];
    zx_test_submit_many (env.loop, env.remote, futures, 2, "sleep_ms", 1000);
    zx_sleep (100);
    //  Blocked outside the loop: no heartbeats for 800 ms
    usleep (800 * 1000);
    assert_true (zx_test_log_wait_running (env.broker.child->log,
                                           "gone (not heard from): 2 tasks cancelled", NULL, 1,
                                           2000));
    futures [2] = zx_test_submit (env.loop, env.remote, "square",
                                  zx_values_pack ("i", (int64_t) 7));
    zx_test_wait_all (futures, 3, 3000);
    for (int i = 0; i < 2; i++)
        if (zx_future_error (futures [i]) != ZX_EWORKER_LOST)
            fail_msg ("sleep %d: %s: %s", i, zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
    zx_test_destroy_all (futures, 3);
    //  And then it goes on as usual
    zx_future_t *more = zx_test_submit (env.loop, env.remote, "square",
                                        zx_values_pack ("i", (int64_t) 8));
    zx_test_wait_all (&more, 1, 3000);
    assert_int_equal (zx_test_result_int (more, 0), 64);
    zx_future_destroy (&more);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  Starts this program again as a helper coordinator (mode, see main)
//  for the broker at endpoint.
static zx_test_child_t *
s_helper_spawn (const char *mode, const char *endpoint)
{
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    assert_true (length > 0);
    exe [length] = 0;
    const char *argv [] = { exe, mode, endpoint, NULL };
    return zx_test_peer_spawn (argv);
}

//  The coordinator the next test stops: 400 results of 128 KiB asked
//  for at once, then this process stopped (SIGSTOP, libzmq's threads and
//  all) while the worker answers them, so that the broker finds its
//  connection full and drops it. Continued, it must hear of the drop and
//  have every future end. Prints what became of them; exits 0 when every
//  one ended, right or failed for the drop (or for a worker lost on a
//  loaded machine), and the drop was heard.
static int
s_flooded_helper (const char *endpoint)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_remote_executor_new (endpoint, NULL);
    if (!remote)
        return 1;
    enum { COUNT = 400, SIZE = 128 * 1024 };
    static zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_run_in_executor (loop, remote, "make_bytes",
                                          zx_values_pack ("ii", (int64_t) SIZE, (int64_t) i));
    //  Until the first result: the connection is up and the requests
    //  went out (stopped before that, libzmq would send nothing)
    zx_wait (futures, COUNT, ZX_FIRST_COMPLETED, 10000, NULL, NULL, NULL, NULL);
    printf ("stopping\n");
    fflush (stdout);
    raise (SIGSTOP);
    size_t done = 0;
    zx_wait (futures, COUNT, ZX_ALL_COMPLETED, 45000, NULL, &done, NULL, NULL);
    int right = 0, dropped = 0, lost = 0, other = 0;
    for (int i = 0; i < COUNT; i++) {
        if (!zx_future_done (futures [i]))
            continue;
        const void *bytes;
        size_t size = 0;
        const zx_values_t *result = zx_future_result (futures [i]);
        if (zx_future_error (futures [i]) == ZX_OK && result
        &&  zx_values_get_bytes (result, 0, &bytes, &size) == ZX_OK && size == SIZE
        &&  ((const unsigned char *) bytes) [SIZE - 1]
            == (unsigned char) (((SIZE - 1) * 131 + i) & 255))
            right++;
        else
        if (zx_future_error (futures [i]) == ZX_EWORKER_LOST
        &&  strstr (zx_future_message (futures [i]), "dropped this coordinator"))
            dropped++;
        else
        if (zx_future_error (futures [i]) == ZX_EWORKER_LOST)
            lost++;             //  Its worker was lost: a loaded machine, not a hang
        else {
            if (other++ == 0)
                printf ("unexpected: %s\n", zx_future_message (futures [i]));
        }
    }
    printf ("ended %zu of %d: %d right, %d failed for the drop, %d with their worker lost, "
            "%d otherwise\n", done, COUNT, right, dropped, lost, other);
    fflush (stdout);
    return done == COUNT && other == 0 && dropped > 0 ? 0 : 3;
}

//  A coordinator whose connection stays full (it does not read) is dropped
//  past --max-client-backlog; one that was only stopped hears it when it
//  wakes, from a DISCONNECT, so that no future of its waits for ever: each
//  one is answered or fails naming the drop. (Before, its next REQUEST or
//  heartbeat made it known again with its old tasks forgotten, and its
//  futures waited for ever.)
static void
test_a_coordinator_dropped_with_its_connection_full_hears_it_and_no_future_hangs (void **state)
{
    (void) state;
    zx_test_env_t env;
    memset (&env, 0, sizeof env);
    zx_test_broker_start (&env.broker, HEARTBEAT_MS,
                          (const char *const []) { "--max-client-backlog", "4096", NULL });
    env.worker = zx_test_worker_start (&env.broker, 2, NULL);
    zx_test_wait_ready (&env.broker, env.worker);
    zx_test_child_t *helper = s_helper_spawn ("--flooded-coordinator", env.broker.endpoint);
    if (!zx_test_log_wait (helper->log, "stopping", NULL, 1, 10000))
        fail_msg ("the helper coordinator did not submit its work");
    //  The worker answers everything meanwhile, and the broker drops the
    //  coordinator for its full connection, or, on a machine so slow
    //  that its liveness (3 s) passes first, for its silence: either way
    //  the answers it could not take are lost, and it must hear of it
    zx_test_wait_stopped_and_dropped (helper->pid, env.broker.child->log);
    kill (helper->pid, SIGCONT);
    int status = zx_test_peer_stop (helper, 0, 60000);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("the helper coordinator had futures that did not end as they should "
                  "(status %d; its log follows)", status);
    zx_test_expect_log (helper->log, "failed for the drop", NULL, 1);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  The coordinator the next test kills: 100 sleeps of a second each for
//  a worker of two threads, fifty seconds of work.
static int
s_coordinator_helper (const char *endpoint)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = HEARTBEAT_MS, .liveness = 3 };
    zx_executor_t *remote = zx_remote_executor_new (endpoint, &opts);
    if (!remote)
        return 1;
    //  Sleeps long enough that none ends before the test kills this
    //  helper, however loaded the machine: all 100 are still the broker's
    enum { COUNT = 100 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_run_in_executor (loop, remote, "sleep_ms", zx_values_pack ("i", (int64_t) 10000));
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
    zx_test_env_t env;
    memset (&env, 0, sizeof env);
    zx_test_broker_start (&env.broker, HEARTBEAT_MS, NULL);
    env.worker = zx_test_worker_start (&env.broker, 2, NULL);
    zx_test_wait_ready (&env.broker, env.worker);
    zx_test_child_t *helper = s_helper_spawn ("--coordinator-helper", env.broker.endpoint);
    if (!zx_test_log_wait_running (helper->log, "submitted", NULL, 1, 10000))
        fail_msg ("the helper coordinator did not submit its work");

    //  A second coordinator's task waits behind the helper's sleeps
    env.loop = zx_loop_new ();
    env.remote = zx_test_remote_new (&env.broker, NULL);
    zx_future_t *probe = zx_test_submit (env.loop, env.remote, "whoami", NULL);
    size_t done = 99;
    assert_int_equal (zx_wait (&probe, 1, ZX_ALL_COMPLETED, 500, NULL, &done, NULL, NULL), ZX_OK);
    assert_int_equal (done, 0);

    //  The helper dies: the broker cancels its work, the probe runs
    int64_t start = zx_test_now_ms ();
    zx_test_peer_stop (helper, SIGKILL, 5000);
    zx_test_wait_all (&probe, 1, 5000);
    int64_t elapsed = zx_test_now_ms () - start;
    print_message ("the probe ran %lld ms after the coordinator died\n", (long long) elapsed);
    assert_true (elapsed < 4000);
    assert_int_equal (zx_test_result_int (probe, 0), env.worker->pid);
    zx_future_destroy (&probe);
    assert_true (zx_test_log_wait_running (env.broker.child->log,
                                           "gone (not heard from): 100 tasks cancelled", NULL, 1,
                                           1000));
    //  Nothing of the helper's is left queued: more work runs at once
    start = zx_test_now_ms ();
    s_expect_squares (&env, 10, 5000, 0);
    assert_true (zx_test_now_ms () - start < 1000);

    //  Only the broker and the worker are left
    pid_t children [8];
    size_t count = zx_test_children (children, 8);
    assert_int_equal (count, 2);
    for (size_t i = 0; i < count; i++)
        assert_true (children [i] == env.broker.child->pid || children [i] == env.worker->pid);
    zx_test_env_end (&env);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  The programs' command lines

//  Runs a program to its end (at most 10 s); returns its exit code and
//  its output, which the caller frees.
static int
s_run (const char *const argv [], char **output)
{
    zx_test_child_t *child = zx_test_peer_spawn (argv);
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
    //  Where it would listen, had it not stopped at its arguments
    const char *endpoint = "tcp://127.0.0.1:*";
    s_expect (0, "usage: zexec-broker --bind ENDPOINT", "--no-worker-wait MS", broker,
              "--help", NULL, NULL, NULL);
    s_expect (0, "usage: zexec-broker", NULL, broker, "--bind", endpoint, "-h", NULL);
    s_expect (2, "--heartbeat: 'fast' is not a number", try, broker, "--bind", endpoint,
              "--heartbeat", "fast");
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
    zx_test_pass ();
}

//  Without keys, tcp beyond loopback is open to anyone, and libzmq
//  assembles a whole message before the broker sees it: the broker
//  refuses to bind it unless told --insecure.
static void
test_zexec_broker_without_keys_binds_tcp_beyond_loopback_only_when_insecure (void **state)
{
    (void) state;
    const char *broker = ZX_BROKER_PROGRAM;
    s_expect (1, "refusing to bind tcp://0.0.0.0:* without CURVE keys", "--insecure", broker,
              "--bind", "tcp://0.0.0.0:*", NULL, NULL);
    s_expect (1, "refusing to bind tcp://*:*", NULL, broker, "--bind", "tcp://*:*", NULL, NULL);
    //  One refused endpoint among good ones: nothing is bound at all
    s_expect (1, "refusing to bind tcp://eth0:*", NULL, broker, "--bind", "tcp://127.0.0.1:*",
              "--bind", "tcp://eth0:*");
    //  Told --insecure, it listens there, and still warns
    const char *argv [] = { broker, "--bind", "tcp://0.0.0.0:*", "--insecure", NULL };
    zx_test_child_t *child = zx_test_peer_spawn (argv);
    assert_true (zx_test_log_wait_running (child->log, "listening on tcp://0.0.0.0:", NULL, 1,
                                           10000));
    assert_true (zx_test_log_wait_running (child->log, "WARNING: no authentication on "
                                           "tcp://0.0.0.0:", NULL, 1, 10000));
    zx_test_peer_stop_cleanly (child, "the insecure broker", 5000);
    zx_test_pass ();
}

static void
test_zexec_worker_reports_argument_errors_with_exit_code_two (void **state)
{
    (void) state;
    const char *worker = ZX_WORKER_PROGRAM;
    const char *try = "Try 'zexec-worker --help'";
    //  Where it would connect, had it not stopped at its arguments: a
    //  socket file nobody made, no port
    char endpoint [600], path [512];
    zx_test_scratch_path (path, sizeof path, "nobody.ipc");
    snprintf (endpoint, sizeof endpoint, "ipc://%s", path);
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
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_broker_killed_and_restarted_fails_work_in_flight_then_serves_again),
    cmocka_unit_test (test_a_broker_stopped_with_sigterm_fails_work_in_flight_as_shut_down),
    cmocka_unit_test (test_a_broker_stopped_with_sigint_fails_work_in_flight_as_shut_down),
    cmocka_unit_test (test_a_silent_broker_fails_work_in_flight_within_the_liveness),
    cmocka_unit_test (test_peers_with_longer_heartbeats_than_the_broker_are_not_called_silent),
    cmocka_unit_test (test_a_broker_with_a_longer_heartbeat_than_its_peers_is_not_called_silent),
    cmocka_unit_test (test_a_broker_restarted_at_once_fails_work_in_flight_while_new_work_flows),
    cmocka_unit_test (test_coordinators_past_max_clients_get_queue_full_until_one_leaves),
    cmocka_unit_test (test_a_million_submissions_with_no_worker_fail_past_the_queue_and_stay_bounded),
    cmocka_unit_test (test_a_coordinator_that_stalls_past_its_liveness_has_its_work_end_not_hang),
    cmocka_unit_test (test_a_killed_coordinators_work_is_cancelled_and_frees_the_worker),
    cmocka_unit_test (test_a_coordinator_dropped_with_its_connection_full_hears_it_and_no_future_hangs),
    cmocka_unit_test (test_zexec_broker_reports_argument_errors_with_exit_code_two),
    cmocka_unit_test (test_zexec_broker_without_keys_binds_tcp_beyond_loopback_only_when_insecure),
    cmocka_unit_test (test_zexec_worker_reports_argument_errors_with_exit_code_two),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc > 2 && strcmp (argv [1], "--coordinator-helper") == 0)
        return s_coordinator_helper (argv [2]);
    if (argc > 2 && strcmp (argv [1], "--flooded-coordinator") == 0)
        return s_flooded_helper (argv [2]);
    return zx_test_run (argc, argv, tests, ZX_TEST_COUNT (tests), zx_test_setup,
                        zx_test_teardown);
}
