/*  test_telemetry.c - lifecycle events, as a subscriber sees them: a real
    SUB socket on a real zexec-broker (--events), a real zexec-worker
    (--events: its local pool's) and a local thread pool
    (zx_executor_opts_t.events_endpoint), and the sequence of events of a
    task that succeeds, one that fails, one retried after its worker is
    killed, and a cancelled one.

    Every test subscribes and waits for the publisher's hello before any
    work starts (testutil_events.h), so that no event can be missed, and
    then waits for the event that ends a task before it checks the whole
    sequence: no timing is assumed.                                       */
#define _GNU_SOURCE
#include "testutil_events.h"
#include "testutil_peers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEARTBEAT_MS    100

//  The tasks the local thread pool runs

ZX_TASK (tel_square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

ZX_TASK (tel_fail)
{
    return zx_call_fail (call, "tel_fail failed on purpose");
}

ZX_TASK (tel_sleep)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    for (int64_t slept = 0; slept < ms; slept += 5) {
        if (zx_call_cancelled (call))
            return zx_call_fail (call, "sleep cancelled");
        struct timespec delay = { 0, 5000000 };
        nanosleep (&delay, NULL);
    }
    return zx_call_return_int (call, ms);
}

static const char *const s_events_args [] = { "--events", "tcp://127.0.0.1:*", NULL };

//  A broker publishing events on a free port, and a subscriber on them.
static zx_test_sub_t *
s_broker_with_events (zx_test_broker_t *broker)
{
    zx_test_broker_start (broker, HEARTBEAT_MS, s_events_args);
    char endpoint [128];
    zx_test_events_endpoint (broker->child->log, endpoint, sizeof endpoint);
    return zx_test_sub_new (endpoint);
}

static void
s_expect_history (zx_test_sub_t *sub, uint64_t id, const char *service, const char *expected)
{
    char history [512];
    zx_test_sub_history (sub, id, service, history, sizeof history);
    if (strcmp (history, expected) != 0)
        fail_msg ("task %llu: events '%s', expected '%s'", (unsigned long long) id, history,
                  expected);
}

//  The pid in a worker's routing id, HOST.PID.N
static pid_t
s_label_pid (const char *label)
{
    const char *dot = strchr (label, '.');
    return dot ? (pid_t) atoi (dot + 1) : 0;
}

static void
test_a_brokers_events_show_a_task_that_succeeds_and_one_that_fails (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_sub_t *sub = s_broker_with_events (&broker);
    zx_test_child_t *worker = zx_test_worker_start (&broker, 2, NULL);
    zx_test_event_t joined = zx_test_sub_expect (sub, "worker.joined", 0);
    assert_int_equal (joined.worker_pid, worker->pid);
    assert_string_equal (joined.service, "default");
    assert_string_equal (joined.source, "broker");
    assert_int_equal (joined.pid, broker.child->pid);
    assert_int_equal (s_label_pid (joined.worker), worker->pid);

    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_future_t *good = zx_test_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 7));
    zx_test_wait_all (&good, 1, 10000);
    assert_int_equal (zx_future_error (good), ZX_OK);
    zx_test_event_t connected = zx_test_sub_expect (sub, "coordinator.connected", 0);
    zx_test_event_t finished = zx_test_sub_expect (sub, "task.finished", 0);
    s_expect_history (sub, finished.id, "default",
                      "task.submitted task.dispatched task.finished");
    assert_string_equal (finished.task, "square");
    assert_string_equal (finished.worker, joined.worker);
    assert_string_equal (finished.coordinator, connected.coordinator);
    assert_true (finished.coordinator_id > 0);
    assert_int_equal (finished.attempt, 1);
    assert_true (finished.latency_us > 0);
    assert_string_equal (finished.error, "");

    //  A string where square wants a number: the task fails on the worker
    zx_future_t *bad = zx_test_submit (loop, remote, "square", zx_values_pack ("s", "seven"));
    zx_test_wait_all (&bad, 1, 10000);
    assert_int_equal (zx_future_error (bad), ZX_ETYPE);
    zx_test_event_t failed = zx_test_sub_expect (sub, "task.failed", 0);
    s_expect_history (sub, failed.id, "default", "task.submitted task.dispatched task.failed");
    assert_string_equal (failed.error, zx_strerror (ZX_ETYPE));
    assert_string_equal (failed.message, zx_future_message (bad));
    assert_true (failed.id != finished.id);

    zx_future_destroy (&good);
    zx_future_destroy (&bad);
    zx_executor_destroy (&remote);
    zx_test_event_t gone = zx_test_sub_expect (sub, "coordinator.gone", 0);
    assert_string_equal (gone.coordinator, connected.coordinator);
    zx_test_loop_finish (&loop);

    zx_test_peer_stop_cleanly (worker, "the worker", 10000);
    zx_test_event_t retired = zx_test_sub_expect (sub, "worker.retired", 0);
    assert_string_equal (retired.worker, joined.worker);
    zx_test_sub_destroy (&sub);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

static void
test_a_brokers_events_show_a_task_retried_after_its_worker_is_killed (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_sub_t *sub = s_broker_with_events (&broker);
    zx_test_child_t *workers [2];
    for (int i = 0; i < 2; i++) {
        workers [i] = zx_test_worker_start (&broker, 1, NULL);
        zx_test_wait_ready (&broker, workers [i]);
    }
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, &(zx_executor_opts_t) {
        .heartbeat_ms = HEARTBEAT_MS, .liveness = 3, .retries = 1 });
    zx_future_t *future = zx_test_submit (loop, remote, "sleep_ms",
                                          zx_values_pack ("i", (int64_t) 1500));
    zx_test_event_t first = zx_test_sub_expect (sub, "task.dispatched", 0);
    pid_t victim = s_label_pid (first.worker);
    int dead = workers [0]->pid == victim ? 0 : 1;
    assert_int_equal (workers [dead]->pid, victim);
    zx_test_peer_stop (workers [dead], SIGKILL, 5000);

    zx_test_event_t lost = zx_test_sub_expect (sub, "worker.lost", 0);
    assert_string_equal (lost.worker, first.worker);
    assert_int_equal (lost.worker_pid, victim);
    assert_true (lost.reason [0] != 0);
    zx_test_event_t retried = zx_test_sub_expect (sub, "task.retried", first.id);
    assert_int_equal (retried.attempt, 2);
    assert_true (strstr (retried.reason, first.worker) != NULL);
    zx_test_event_t again = zx_test_sub_expect (sub, "task.dispatched", first.id);
    assert_int_equal (s_label_pid (again.worker), workers [1 - dead]->pid);
    zx_test_event_t finished = zx_test_sub_expect (sub, "task.finished", first.id);
    assert_int_equal (finished.attempt, 2);
    s_expect_history (sub, first.id, "default",
                      "task.submitted task.dispatched task.retried task.dispatched "
                      "task.finished");
    zx_test_wait_all (&future, 1, 10000);
    assert_int_equal (zx_test_result_int (future, 0), workers [1 - dead]->pid);
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    zx_test_sub_destroy (&sub);
    zx_test_pass ();
}

static void
test_a_brokers_events_show_a_cancelled_task (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_sub_t *sub = s_broker_with_events (&broker);
    zx_test_child_t *worker = zx_test_worker_start (&broker, 1, NULL);
    zx_test_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_future_t *future = zx_test_submit (loop, remote, "sleep_ms",
                                          zx_values_pack ("i", (int64_t) 30000));
    zx_test_event_t dispatched = zx_test_sub_expect (sub, "task.dispatched", 0);
    assert_true (zx_future_cancel (future));
    zx_test_event_t cancelled = zx_test_sub_expect (sub, "task.cancelled", dispatched.id);
    assert_string_equal (cancelled.error, zx_strerror (ZX_ECANCELLED));
    s_expect_history (sub, dispatched.id, "default",
                      "task.submitted task.dispatched task.cancelled");
    zx_future_destroy (&future);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    zx_test_sub_destroy (&sub);
    zx_test_pass ();
}

//  A zexec-worker --events publishes its local pool's events: the tasks
//  the broker sent it, as its own pool ran them.
static void
test_a_serving_workers_events_show_its_tasks (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    char endpoint [300];
    zx_test_scratch_path (endpoint, sizeof endpoint, "worker.events");
    char bind [320];
    snprintf (bind, sizeof bind, "ipc://%s", endpoint);
    const char *args [] = { "--events", bind, NULL };
    zx_test_child_t *worker = zx_test_worker_start (&broker, 2, args);
    zx_test_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    //  Its pool runs on its loop from the first task on: then it publishes
    zx_future_t *first = zx_test_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 2));
    zx_test_wait_all (&first, 1, 10000);
    zx_future_destroy (&first);
    zx_test_sub_t *sub = zx_test_sub_new (bind);
    zx_future_t *good = zx_test_submit (loop, remote, "square", zx_values_pack ("i", (int64_t) 3));
    zx_test_wait_all (&good, 1, 10000);
    zx_test_event_t finished = zx_test_sub_expect (sub, "task.finished", 0);
    assert_string_equal (finished.source, "executor");
    assert_string_equal (finished.service, "default");
    assert_string_equal (finished.task, "square");
    assert_int_equal (finished.pid, worker->pid);
    s_expect_history (sub, finished.id, NULL, "task.submitted task.dispatched task.finished");
    zx_future_destroy (&good);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    zx_test_sub_destroy (&sub);
    zx_test_pass ();
}

static void
test_a_thread_pools_events_show_success_failure_and_cancel (void **state)
{
    (void) state;
    char path [300], endpoint [320];
    zx_test_scratch_path (path, sizeof path, "pool.events");
    snprintf (endpoint, sizeof endpoint, "ipc://%s", path);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 1, .service = "mine", .events_endpoint = endpoint });
    assert_non_null (pool);
    //  The pool runs on the loop from its first task on: start it
    zx_future_t *first = zx_test_submit (loop, pool, "tel_square", zx_values_pack ("i", (int64_t) 2));
    zx_test_wait_all (&first, 1, 10000);
    zx_future_destroy (&first);
    zx_test_sub_t *sub = zx_test_sub_new (endpoint);

    zx_future_t *good = zx_test_submit (loop, pool, "tel_square", zx_values_pack ("i", (int64_t) 5));
    zx_future_t *bad = zx_test_submit (loop, pool, "tel_fail", NULL);
    zx_test_wait_all (&good, 1, 10000);
    zx_test_wait_all (&bad, 1, 10000);
    zx_test_event_t finished = zx_test_sub_expect (sub, "task.finished", 0);
    assert_string_equal (finished.source, "executor");
    assert_string_equal (finished.service, "mine");
    assert_string_equal (finished.task, "tel_square");
    assert_int_equal (finished.pid, getpid ());
    s_expect_history (sub, finished.id, NULL, "task.submitted task.dispatched task.finished");
    zx_test_event_t failed = zx_test_sub_expect (sub, "task.failed", 0);
    assert_string_equal (failed.task, "tel_fail");
    assert_string_equal (failed.message, zx_future_message (bad));
    s_expect_history (sub, failed.id, NULL, "task.submitted task.dispatched task.failed");

    //  One thread holding one request: the second waits in the queue and
    //  is cancelled there, the first is cancelled while it runs
    zx_future_t *running = zx_test_submit (loop, pool, "tel_sleep",
                                           zx_values_pack ("i", (int64_t) 30000));
    zx_test_event_t dispatched = zx_test_sub_expect (sub, "task.dispatched", 0);
    assert_string_equal (dispatched.task, "tel_sleep");
    zx_future_t *queued = zx_test_submit (loop, pool, "tel_sleep",
                                          zx_values_pack ("i", (int64_t) 30000));
    zx_test_event_t submitted = zx_test_sub_expect (sub, "task.submitted", 0);
    assert_true (zx_future_cancel (queued));
    zx_test_sub_expect (sub, "task.cancelled", submitted.id);
    s_expect_history (sub, submitted.id, NULL, "task.submitted task.cancelled");
    assert_true (zx_future_cancel (running));
    zx_test_sub_expect (sub, "task.cancelled", dispatched.id);
    s_expect_history (sub, dispatched.id, NULL,
                      "task.submitted task.dispatched task.cancelled");
    zx_future_destroy (&good);
    zx_future_destroy (&bad);
    zx_future_destroy (&running);
    zx_future_destroy (&queued);
    zx_test_sub_destroy (&sub);
    zx_executor_destroy (&pool);
    zx_test_loop_finish (&loop);
    zx_test_pass ();
}

//  A publisher nobody subscribes to encodes nothing: the first subscriber
//  sees the hello first, not events of the work done before it came.
static void
test_events_before_anyone_subscribes_are_not_sent (void **state)
{
    (void) state;
    char path [300], endpoint [320];
    zx_test_scratch_path (path, sizeof path, "quiet.events");
    snprintf (endpoint, sizeof endpoint, "ipc://%s", path);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .events_endpoint = endpoint });
    assert_non_null (pool);
    zx_future_t *futures [20];
    for (int i = 0; i < 20; i++)
        futures [i] = zx_test_submit (loop, pool, "tel_square", zx_values_pack ("i", (int64_t) i));
    zx_test_wait_all (futures, 20, 10000);
    zx_test_destroy_all (futures, 20);
    zx_test_sub_t *sub = zx_test_sub_new (endpoint);
    zx_test_event_t event;
    assert_false (zx_test_sub_next (sub, &event, 300));
    assert_int_equal (zx_test_sub_count (sub, "task.finished"), 0);
    zx_test_sub_destroy (&sub);
    zx_executor_destroy (&pool);
    zx_test_loop_finish (&loop);
    zx_test_pass ();
}

static struct CMUnitTest s_tests [] = {
    cmocka_unit_test (test_a_brokers_events_show_a_task_that_succeeds_and_one_that_fails),
    cmocka_unit_test (test_a_brokers_events_show_a_task_retried_after_its_worker_is_killed),
    cmocka_unit_test (test_a_brokers_events_show_a_cancelled_task),
    cmocka_unit_test (test_a_serving_workers_events_show_its_tasks),
    cmocka_unit_test (test_a_thread_pools_events_show_success_failure_and_cancel),
    cmocka_unit_test (test_events_before_anyone_subscribes_are_not_sent),
};

ZX_TEST_MAIN_WITH (s_tests, zx_test_setup, zx_test_teardown)
