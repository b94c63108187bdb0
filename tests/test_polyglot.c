/*  test_polyglot.c - peers in another language: the Python worker and
    coordinator of python/zexec_peer.py against a real zexec-broker, real
    zexec-workers and C coordinators (testutil_peers.h), over tcp loopback.

    A C coordinator calls Python tasks (tests/polyglot/py_tasks.py) and
    gets nested values back byte for byte, and a Python exception as a
    failed future with its message; a Python coordinator
    (tests/polyglot/coordinator_check.py, run as a process) calls C tasks
    and Python tasks and checks what it gets; a Python worker killed
    mid-task has its task retried on another one, a cancel reaches a
    running Python task, a Python worker rejoins a broker that went away;
    and the same over CURVE with keys made by zexec-keygen.

    The Python side runs with ZX_PYTHON (/usr/bin/python3, CMake's
    ZEXEC_PYTHON), which needs Debian's python3-zmq and python3-msgpack:
    without them each test says so and is skipped (ctest counts it as
    skipped, not passed).                                               */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include "zx_values.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#if !defined (ZX_PYTHON) || !defined (ZX_PYTHON_DIR) || !defined (ZX_POLYGLOT_DIR) \
    || !defined (ZX_KEYGEN_PROGRAM)
#   error "tests/CMakeLists.txt passes the Python interpreter and the paths of its files"
#endif

#define HEARTBEAT_MS    200
#define PY_PEER         ZX_PYTHON_DIR "/zexec_peer.py"
#define PY_TASKS        ZX_POLYGLOT_DIR "/py_tasks.py"

//  Skips the running test, saying why, unless ZX_PYTHON imports zmq and
//  msgpack.
static void
s_require_python (void)
{
    char *const argv [] = { ZX_PYTHON, "-c", "import zmq, msgpack", NULL };
    char *output = NULL;
    int status = zx_test_run_capture (argv, &output);
    bool usable = status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
    if (!usable)
        print_message ("SKIPPED: %s cannot import zmq and msgpack (on Debian: apt-get install "
                       "python3-zmq python3-msgpack): %s\n", ZX_PYTHON, output ? output : "");
    free (output);
    if (!usable)
        skip ();
}

//  Starts a Python worker serving py_tasks.py at endpoint on threads
//  threads for service (NULL: "default"), then the args (NULL-terminated,
//  at most 8). Does not wait for it.
static zx_test_child_t *
s_py_worker_spawn (const char *endpoint, int heartbeat_ms, int threads, const char *service,
                   const char *const *args)
{
    char count [16], heartbeat [16];
    snprintf (count, sizeof count, "%d", threads);
    snprintf (heartbeat, sizeof heartbeat, "%d", heartbeat_ms);
    const char *argv [32] = { ZX_PYTHON, PY_PEER, "worker", "--broker", endpoint,
                              "--heartbeat", heartbeat, "--liveness", "3", "--threads", count,
                              "--service", service ? service : "default", "--verbose" };
    size_t argc = 14;
    for (size_t i = 0; args && args [i]; i++) {
        assert_true (i < 8);
        argv [argc++] = args [i];
    }
    argv [argc++] = PY_TASKS;
    argv [argc] = NULL;
    return zx_test_peer_spawn (argv);
}

//  The same at endpoint, one of the broker's, waiting until the broker has
//  it ready.
static zx_test_child_t *
s_py_worker_at (const zx_test_broker_t *broker, const char *endpoint, int threads,
                const char *service, const char *const *args)
{
    zx_test_child_t *worker = s_py_worker_spawn (endpoint, broker->heartbeat_ms, threads,
                                                 service, args);
    zx_test_wait_ready (broker, worker);
    return worker;
}

//  The same at the broker's tcp endpoint.
static zx_test_child_t *
s_py_worker (const zx_test_broker_t *broker, int threads, const char *service,
             const char *const *args)
{
    return s_py_worker_at (broker, broker->endpoint, threads, service, args);
}

//  Waits up to timeout_ms, running the loop, until the scratch file name
//  exists.
static void
s_wait_file (const char *name, int64_t timeout_ms)
{
    char path [512];
    zx_test_scratch_path (path, sizeof path, name);
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (access (path, F_OK) != 0) {
        if (zx_test_now_ms () > deadline)
            fail_msg ("%s did not appear within %lld ms", path, (long long) timeout_ms);
        zx_sleep (10);
    }
}

static void
s_remove (const char *name)
{
    char path [512];
    zx_test_scratch_path (path, sizeof path, name);
    unlink (path);
}

static void
s_touch (const char *name)
{
    char path [512];
    zx_test_scratch_path (path, sizeof path, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fclose (file);
}

//  Submits task (taking args) and waits up to 20 s for it to end.
static zx_future_t *
s_call (zx_loop_t *loop, zx_executor_t *remote, const char *task, zx_values_t *args)
{
    zx_future_t *future = zx_test_submit (loop, remote, task, args);
    zx_test_wait_all (&future, 1, 20000);
    return future;
}

//  Runs task (taking args) and expects it to fail with code and a message
//  that holds text.
static void
s_expect_failure (zx_loop_t *loop, zx_executor_t *remote, const char *task, zx_values_t *args,
                  zx_err_t code, const char *text)
{
    zx_future_t *future = s_call (loop, remote, task, args);
    assert_int_equal (zx_future_error (future), code);
    if (!strstr (zx_future_message (future), text))
        fail_msg ("task '%s' failed with '%s', which does not say '%s'", task,
                  zx_future_message (future), text);
    zx_future_destroy (&future);
}

//  Runs square (n) and expects n * n from worker.
static void
s_expect_square (zx_loop_t *loop, zx_executor_t *remote, int64_t n,
                 const zx_test_child_t *worker)
{
    zx_future_t *future = s_call (loop, remote, "square", ZX_VALUES (n));
    assert_int_equal (zx_future_error (future), ZX_OK);
    assert_int_equal (zx_test_result_int (future, 0), n * n);
    assert_int_equal (zx_test_result_int (future, 1), worker->pid);
    zx_future_destroy (&future);
}

//  Starts a broker, a Python worker of threads threads that it has ready,
//  a loop, and a C coordinator (a remote executor) at the broker.
static zx_test_child_t *
s_start (zx_test_broker_t *broker, int threads, zx_loop_t **loop_p, zx_executor_t **remote_p)
{
    zx_test_broker_start (broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *worker = s_py_worker (broker, threads, NULL, NULL);
    *loop_p = zx_loop_new ();
    assert_non_null (*loop_p);
    *remote_p = zx_test_remote_new (broker, NULL);
    return worker;
}

//  Destroys the coordinator and its loop, then stops the Python worker,
//  which must exit 0.
static void
s_finish (zx_executor_t **remote_p, zx_loop_t **loop_p, zx_test_child_t *worker)
{
    zx_executor_destroy (remote_p);
    zx_test_loop_finish (loop_p);
    zx_test_peer_stop_cleanly (worker, "the Python worker", 5000);
}

//  The values the round trips carry: every type, nested, with the edges
//  of each range. Caller destroys them.
static zx_values_t *
s_rich_values (void)
{
    static uint8_t blob [100000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob [i] = (uint8_t) (i * 7);
    zx_values_t *values = ZX_VALUES (
        ZX_NONE, ZX_BOOL (true), ZX_BOOL (false), (int64_t) 0, (int64_t) -1,
        (int64_t) INT64_MAX, (int64_t) INT64_MIN, (uint64_t) UINT64_MAX,
        (uint64_t) INT64_MAX + 1, 1.5, -0.0, "h\xc3\xa9llo \xe2\x98\x83",
        ZX_BYTES ("\x00\xff", 2), ZX_LIST (1, ZX_LIST (2, ZX_LIST (3, ZX_LIST (4)))),
        ZX_MAP ("name", "alice", "histogram", ZX_LIST (3, 0, 12),
                "nested", ZX_MAP ("ok", ZX_BOOL (true), "raw", ZX_BYTES ("\x01", 1))));
    assert_non_null (values);
    assert_int_equal (zx_values_add_strn (values, "nul\0inside", 10), ZX_OK);
    assert_int_equal (zx_values_add_bytes (values, blob, sizeof blob), ZX_OK);
    zx_values_t *empty = zx_values_new (), *empty_map = zx_values_new_map ();
    zx_values_t *many = zx_values_new ();
    for (int i = 0; i < 1000; i++)
        assert_int_equal (zx_values_add_int (many, i * 1000003LL), ZX_OK);
    assert_int_equal (zx_values_add_values (values, &empty), ZX_OK);
    assert_int_equal (zx_values_add_values (values, &empty_map), ZX_OK);
    assert_int_equal (zx_values_add_values (values, &many), ZX_OK);
    return values;
}

//  Fails the test unless result encodes exactly as expected does.
static void
s_expect_same_bytes (const zx_values_t *expected, const zx_values_t *result)
{
    size_t expected_size, result_size;
    const void *expected_data = zx__values_data (expected, &expected_size);
    const void *result_data = zx__values_data (result, &result_size);
    if (expected_size != result_size || memcmp (expected_data, result_data, result_size) != 0)
        fail_msg ("the values came back different: %zu bytes sent, %zu back", expected_size,
                  result_size);
    assert_true (zx__values_equal (expected, result));
}

static void
test_a_c_coordinator_gets_python_results_back_exactly (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_loop_t *loop;
    zx_executor_t *remote;
    zx_test_child_t *worker = s_start (&broker, 2, &loop, &remote);

    zx_values_t *expected = s_rich_values ();
    zx_future_t *future = s_call (loop, remote, "echo", zx_values_dup (expected));
    assert_int_equal (zx_future_error (future), ZX_OK);
    const zx_values_t *result = zx_future_result (future);
    s_expect_same_bytes (expected, result);
    //  What the C API reads from what Python wrote
    uint64_t big;
    assert_int_equal (zx_values_type (result, 7), ZX_TUINT);
    assert_int_equal (zx_values_get_uint (result, 7, &big), ZX_OK);
    assert_true (big == UINT64_MAX);
    bool flag;
    assert_int_equal (zx_values_get_bool (result, 1, &flag), ZX_OK);
    assert_true (flag);
    zx_value_t value;
    assert_int_equal (zx_values_path (result, "14.histogram.2", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TINT);
    assert_int_equal (value.as.i, 12);
    assert_int_equal (zx_values_path (result, "14.nested.raw", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TBYTES);
    assert_int_equal (value.size, 1);
    zx_future_destroy (&future);
    zx_values_destroy (&expected);

    //  A tuple is the values of a result: square (n) -> (n * n, pid)
    s_expect_square (loop, remote, 12, worker);
    //  Many at once, over both threads
    zx_future_t *futures [200];
    zx_test_submit_squares (loop, remote, futures, 200);
    zx_test_check_squares (futures, 200, 20000, worker->pid);

    s_finish (&remote, &loop, worker);
    zx_test_peer_stop_cleanly (broker.child, "zexec-broker", 5000);
    zx_test_pass ();
}

static void
test_a_python_task_error_fails_the_c_future_with_its_message (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_loop_t *loop;
    zx_executor_t *remote;
    zx_test_child_t *worker = s_start (&broker, 1, &loop, &remote);

    zx_future_t *future = s_call (loop, remote, "fail", ZX_VALUES ("disk full"));
    assert_int_equal (zx_future_error (future), ZX_ETASK);
    assert_string_equal (zx_future_message (future), "ValueError: disk full");
    zx_future_destroy (&future);
    s_expect_failure (loop, remote, "nope", zx_values_new (), ZX_ENOTASK, "no such task 'nope'");
    s_expect_failure (loop, remote, "square", ZX_VALUES (1, 2), ZX_ETYPE,
                      "TypeError: square() takes 1 positional argument but 2 were given");
    //  A result Python cannot send is the task's failure, not the worker's
    s_expect_failure (loop, remote, "square", ZX_VALUES ((int64_t) INT64_MAX), ZX_ETASK,
                      "task 'square' returned what zexec cannot carry");
    //  And the worker serves on
    s_expect_square (loop, remote, 3, worker);
    s_finish (&remote, &loop, worker);
    zx_test_pass ();
}

//  Runs coordinator_check.py with args after its five and expects it to
//  pass.
static void
s_run_python_coordinator (const zx_test_broker_t *broker, pid_t c_worker, pid_t py_worker,
                          const char *const *args)
{
    char c_pid [16], py_pid [16];
    snprintf (c_pid, sizeof c_pid, "%d", (int) c_worker);
    snprintf (py_pid, sizeof py_pid, "%d", (int) py_worker);
    const char *argv [24] = { ZX_PYTHON, ZX_POLYGLOT_DIR "/coordinator_check.py",
                              ZX_PYTHON_DIR, broker->endpoint, "c", c_pid, py_pid };
    size_t argc = 7;
    for (size_t i = 0; args && args [i]; i++) {
        assert_true (i < 8);
        argv [argc++] = args [i];
    }
    argv [argc] = NULL;
    zx_test_child_t *coordinator = zx_test_peer_spawn (argv);
    int status = zx_test_wait_running (coordinator, 60000);
    if (status == -1)
        fail_msg ("the Python coordinator did not end within 60 s");
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("the Python coordinator failed (status 0x%x)", status);
    assert_int_equal (zx_test_log_count (coordinator->log, "polyglot coordinator: ",
                                         "checks passed"), 1);
}

static void
test_a_python_coordinator_calls_c_and_python_tasks (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    const char *const c_args [] = { "--service", "c", NULL };
    zx_test_child_t *c_worker = zx_test_worker_start (&broker, 2, c_args);
    zx_test_wait_ready (&broker, c_worker);
    zx_test_child_t *py_worker = s_py_worker (&broker, 2, NULL, NULL);
    s_run_python_coordinator (&broker, c_worker->pid, py_worker->pid, NULL);
    zx_test_peer_stop_cleanly (py_worker, "the Python worker", 5000);
    zx_test_peer_stop_cleanly (c_worker, "zexec-worker", 5000);
    zx_test_pass ();
}

//  A Python coordinator whose connection stays full while it is stopped
//  is dropped by the broker past --max-client-backlog; continued, it hears
//  of the drop from a DISCONNECT and every future of it ends, answered or
//  failed naming the drop (tests/polyglot/dropped_check.py; the C
//  client's twin is in test_remote_brokers.c).
static void
test_a_dropped_python_coordinator_hears_it_and_no_future_hangs (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 1000,
                          (const char *const []) { "--max-client-backlog", "4096", NULL });
    const char *const c_args [] = { "--service", "c", NULL };
    zx_test_child_t *c_worker = zx_test_worker_start (&broker, 2, c_args);
    zx_test_wait_ready (&broker, c_worker);
    const char *argv [] = { ZX_PYTHON, ZX_POLYGLOT_DIR "/dropped_check.py", ZX_PYTHON_DIR,
                            broker.endpoint, "c", NULL };
    zx_test_child_t *coordinator = zx_test_peer_spawn (argv);
    if (!zx_test_log_wait (coordinator->log, "stopping", NULL, 1, 20000))
        fail_msg ("the Python coordinator did not submit its work");
    //  Dropped for its full connection or its silence: either way it is
    //  owed answers that could not go out
    zx_test_wait_stopped_and_dropped (coordinator->pid, broker.child->log);
    kill (coordinator->pid, SIGCONT);
    int status = zx_test_peer_stop (coordinator, 0, 60000);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("the Python coordinator had futures that did not end as they should "
                  "(status %d; its log follows)", status);
    zx_test_expect_log (coordinator->log, "failed for the drop", NULL, 1);
    zx_test_peer_stop_cleanly (c_worker, "zexec-worker", 5000);
    zx_test_pass ();
}

static void
test_a_killed_python_worker_has_its_task_retried_on_another (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *first = s_py_worker (&broker, 1, NULL, NULL);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .retries = 1 });
    zx_future_t *future = zx_test_submit (loop, remote, "hold", ZX_VALUES (zx_test_scratch ()));
    char name [64];
    snprintf (name, sizeof name, "started.%d", (int) first->pid);
    s_wait_file (name, 10000);

    zx_test_child_t *second = s_py_worker (&broker, 1, NULL, NULL);
    assert_int_equal (kill (first->pid, SIGKILL), 0);
    snprintf (name, sizeof name, "started.%d", (int) second->pid);
    s_wait_file (name, 10000);
    assert_false (zx_future_done (future));
    s_touch ("release");
    zx_test_wait_all (&future, 1, 10000);
    assert_int_equal (zx_future_error (future), ZX_OK);
    assert_int_equal (zx_test_result_int (future, 0), second->pid);
    zx_test_expect_log (broker.child->log, "task 'hold' goes to another worker", "(attempt 2)",
                        1);
    zx_future_destroy (&future);

    //  Without a retry left, the task of a killed worker fails as lost
    zx_executor_t *once = zx_test_remote_new (&broker, NULL);
    s_remove ("release");
    s_remove (name);
    future = zx_test_submit (loop, once, "hold", ZX_VALUES (zx_test_scratch ()));
    s_wait_file (name, 10000);
    assert_int_equal (kill (second->pid, SIGKILL), 0);
    zx_test_wait_all (&future, 1, 10000);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    assert_non_null (strstr (zx_future_message (future), "task 'hold' was lost"));
    zx_future_destroy (&future);

    zx_executor_destroy (&once);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    zx_test_pass ();
}

static void
test_a_cancel_reaches_a_running_python_task (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_loop_t *loop;
    zx_executor_t *remote;
    zx_test_child_t *worker = s_start (&broker, 1, &loop, &remote);
    zx_future_t *future = zx_test_submit (loop, remote, "hold", ZX_VALUES (zx_test_scratch ()));
    char name [64];
    snprintf (name, sizeof name, "started.%d", (int) worker->pid);
    s_wait_file (name, 10000);
    zx_future_cancel (future);
    assert_int_equal (zx_future_error (future), ZX_ECANCELLED);
    //  The task saw zexec_peer.cancelled () and returned: its one thread is
    //  free for the next task
    snprintf (name, sizeof name, "cancelled.%d", (int) worker->pid);
    s_wait_file (name, 10000);
    zx_future_destroy (&future);
    s_expect_square (loop, remote, 7, worker);
    s_finish (&remote, &loop, worker);
    zx_test_pass ();
}

//  A Python task that has started turns its future RUNNING (STARTED,
//  status 11), while one its worker holds unstarted stays PENDING: the
//  first cannot be withdrawn, the second can.
static void
test_a_started_python_task_turns_its_future_running (void **state)
{
    (void) state;
    s_require_python ();
    zx_test_broker_t broker;
    zx_loop_t *loop;
    zx_executor_t *remote;
    zx_test_child_t *worker = s_start (&broker, 1, &loop, &remote);
    s_remove ("release");
    zx_future_t *hold = zx_test_submit (loop, remote, "hold", ZX_VALUES (zx_test_scratch ()));
    zx_future_t *queued = zx_test_submit (loop, remote, "square", ZX_VALUES (5));
    char name [64];
    snprintf (name, sizeof name, "started.%d", (int) worker->pid);
    s_wait_file (name, 10000);
    for (int i = 0; i < 1000 && zx_future_state (hold) != ZX_FUTURE_RUNNING; i++)
        zx_sleep (10);
    zx_future_state_t hold_state = zx_future_state (hold);
    zx_future_state_t queued_state = zx_future_state (queued);
    bool refused = !zx_future_cancel_if_pending (hold);
    bool withdrawn = zx_future_cancel_if_pending (queued);
    s_touch ("release");
    zx_test_wait_all (&hold, 1, 10000);
    assert_int_equal (hold_state, ZX_FUTURE_RUNNING);
    assert_int_equal (queued_state, ZX_FUTURE_PENDING);
    assert_true (refused);
    assert_true (withdrawn);
    assert_int_equal (zx_future_error (hold), ZX_OK);
    assert_int_equal (zx_test_result_int (hold, 0), worker->pid);
    assert_int_equal (zx_future_error (queued), ZX_ECANCELLED);
    zx_future_destroy (&hold);
    zx_future_destroy (&queued);
    s_remove ("release");
    s_expect_square (loop, remote, 4, worker);
    s_finish (&remote, &loop, worker);
    zx_test_pass ();
}

//  The Python worker serves the broker, by a new remote executor.
static void
s_expect_served (const zx_test_broker_t *broker, zx_loop_t *loop, const zx_test_child_t *worker)
{
    zx_executor_t *remote = zx_test_remote_new (broker, NULL);
    zx_future_t *futures [20];
    zx_test_submit_squares (loop, remote, futures, 20);
    zx_test_check_squares (futures, 20, 20000, worker->pid);
    zx_executor_destroy (&remote);
}

//  A broker started again binds its tcp port again, which another test's
//  connection may hold as its ephemeral port meanwhile: so the worker
//  connects to an ipc endpoint of the scratch directory, which each new
//  broker binds besides a fresh tcp port.
static void
test_a_python_worker_rejoins_a_broker_that_went_away (void **state)
{
    (void) state;
    s_require_python ();
    static char ipc [600];
    snprintf (ipc, sizeof ipc, "ipc://%s/broker.ipc", zx_test_scratch ());
    const char *const args [] = { "--bind", ipc, NULL };
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, args);
    zx_test_child_t *worker = s_py_worker_at (&broker, ipc, 2, NULL, NULL);
    zx_loop_t *loop = zx_loop_new ();
    s_expect_served (&broker, loop, worker);

    //  A broker that shuts down says DISCONNECT: the worker connects again
    zx_test_peer_stop_cleanly (broker.child, "zexec-broker", 5000);
    zx_test_expect_log (worker->log, "the broker said goodbye", NULL, 1);
    zx_test_broker_start (&broker, HEARTBEAT_MS, args);
    zx_test_wait_ready (&broker, worker);
    s_expect_served (&broker, loop, worker);

    //  A broker that dies says nothing: the worker notices the silence
    int status = zx_test_peer_stop (broker.child, SIGKILL, 5000);
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    zx_test_expect_log (worker->log, "broker not heard from", NULL, 1);
    zx_test_broker_start (&broker, HEARTBEAT_MS, args);
    zx_test_wait_ready (&broker, worker);
    s_expect_served (&broker, loop, worker);

    zx_test_loop_finish (&loop);
    zx_test_peer_stop_cleanly (worker, "the Python worker", 5000);
    zx_test_pass ();
}

//  Makes a certificate pair at the scratch path name with zexec-keygen.
static void
s_keygen (const char *name)
{
    char path [512];
    zx_test_scratch_path (path, sizeof path, name);
    char *const argv [] = { ZX_KEYGEN_PROGRAM, path, NULL };
    char *output = NULL;
    int status = zx_test_run_capture (argv, &output);
    if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("zexec-keygen %s failed: %s", path, output ? output : "");
    free (output);
}

static void
test_curve_keys_from_zexec_keygen_carry_both_ways (void **state)
{
    (void) state;
    s_require_python ();
    const char *dirs [] = { "keys", "clients", "workers" };
    for (size_t i = 0; i < 3; i++) {
        char path [512];
        zx_test_scratch_path (path, sizeof path, dirs [i]);
        assert_int_equal (mkdir (path, 0700), 0);
    }
    const char *certs [] = { "keys/broker", "keys/stranger", "clients/c", "clients/py",
                             "workers/c", "workers/py" };
    for (size_t i = 0; i < 6; i++)
        s_keygen (certs [i]);
    char broker_secret [512], broker_public [512], clients [512], workers [512];
    char c_client [512], py_client [512], c_worker_cert [512], py_worker_cert [512];
    char stranger [512];
    zx_test_scratch_path (broker_secret, sizeof broker_secret, "keys/broker_secret");
    zx_test_scratch_path (broker_public, sizeof broker_public, "keys/broker");
    zx_test_scratch_path (stranger, sizeof stranger, "keys/stranger");
    zx_test_scratch_path (clients, sizeof clients, "clients");
    zx_test_scratch_path (workers, sizeof workers, "workers");
    zx_test_scratch_path (c_client, sizeof c_client, "clients/c");
    zx_test_scratch_path (py_client, sizeof py_client, "clients/py");
    zx_test_scratch_path (c_worker_cert, sizeof c_worker_cert, "workers/c");
    zx_test_scratch_path (py_worker_cert, sizeof py_worker_cert, "workers/py_secret");
    const char *const broker_args [] = { "--cert", broker_secret, "--clients", clients,
                                         "--workers", workers, NULL };
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, broker_args);
    const char *const py_keys [] = { "--server-key", broker_public, "--cert", py_worker_cert,
                                     NULL };
    zx_test_child_t *py_worker = s_py_worker (&broker, 2, NULL, py_keys);
    const char *const c_args [] = { "--service", "c", "--server-key", broker_public,
                                    "--cert", c_worker_cert, NULL };
    zx_test_child_t *c_worker = zx_test_worker_start (&broker, 2, c_args);
    zx_test_wait_ready (&broker, c_worker);

    //  A C coordinator with its key calls the Python worker
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .curve_server_key = broker_public,
        .curve_cert = c_client });
    zx_values_t *expected = s_rich_values ();
    zx_future_t *future = s_call (loop, remote, "echo", zx_values_dup (expected));
    assert_int_equal (zx_future_error (future), ZX_OK);
    s_expect_same_bytes (expected, zx_future_result (future));
    zx_future_destroy (&future);
    zx_values_destroy (&expected);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);

    //  A Python coordinator with its key calls both; one with an unlisted
    //  key is refused
    const char *const py_args [] = { "--server-key", broker_public, "--cert", py_client,
                                     "--stranger", stranger, NULL };
    s_run_python_coordinator (&broker, c_worker->pid, py_worker->pid, py_args);

    //  A Python worker with an unlisted key is refused at the handshake,
    //  says so, and never becomes ready
    const char *const bad_keys [] = { "--server-key", broker_public, "--cert", stranger, NULL };
    zx_test_child_t *outsider = s_py_worker_spawn (broker.endpoint, HEARTBEAT_MS, 1, NULL,
                                                   bad_keys);
    zx_test_expect_log (outsider->log, "refused this worker's CURVE key", NULL, 1);
    char name [128];
    zx_test_worker_name (name, sizeof name, outsider->pid);
    assert_int_equal (zx_test_log_count (broker.child->log, name, " ready"), 0);

    zx_test_peer_stop_cleanly (outsider, "the refused Python worker", 5000);
    zx_test_peer_stop_cleanly (py_worker, "the Python worker", 5000);
    zx_test_peer_stop_cleanly (c_worker, "zexec-worker", 5000);
    zx_test_pass ();
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_c_coordinator_gets_python_results_back_exactly),
        cmocka_unit_test (test_a_python_task_error_fails_the_c_future_with_its_message),
        cmocka_unit_test (test_a_python_coordinator_calls_c_and_python_tasks),
        cmocka_unit_test (test_a_dropped_python_coordinator_hears_it_and_no_future_hangs),
        cmocka_unit_test (test_a_killed_python_worker_has_its_task_retried_on_another),
        cmocka_unit_test (test_a_cancel_reaches_a_running_python_task),
        cmocka_unit_test (test_a_started_python_task_turns_its_future_running),
        cmocka_unit_test (test_a_python_worker_rejoins_a_broker_that_went_away),
        cmocka_unit_test (test_curve_keys_from_zexec_keygen_carry_both_ways),
    };
    return zx_test_run (argc, argv, tests, ZX_TEST_COUNT (tests), zx_test_setup,
                        zx_test_teardown);
}
