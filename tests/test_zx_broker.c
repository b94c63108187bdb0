/*  test_zx_broker.c - the broker as a library object (zexec/broker.h),
    run in-process: one loop runs the broker (bound on tcp://127.0.0.1:*),
    a remote executor that submits through it, and a serving worker
    (zx_worker_new) whose tasks run on a thread pool of this process.
    Nothing is started as a program: what the broker does is seen through
    the futures, the worker's connection and the reasons it gives.      */
#define _GNU_SOURCE
#include "testutil.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

//  square (n) -> n * n
ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

//  sleep_ms (ms) -> ms, in short slices; ends early when cancelled
ZX_TASK (sleep_ms)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    for (int64_t slept = 0; slept < ms && !zx_call_cancelled (call); slept += 5) {
        struct timespec slice = { 0, 5 * 1000 * 1000 };
        nanosleep (&slice, NULL);
    }
    return zx_call_return_int (call, ms);
}

typedef struct {
    zx_loop_t *loop;
    zx_broker_t *broker;
    const char *endpoint;           //  Bound; the broker's
    zx_executor_t *pool;            //  The serving worker's tasks run here
    zx_worker_t *worker;
    zx_executor_t *remote;          //  Submits through the broker
} s_env_t;

//  A broker with opts on a fresh loop, bound to a free tcp port, with a
//  serving worker and a remote executor, made with worker_opts and
//  client_opts (NULL for defaults).
static void
s_start (s_env_t *env, const zx_broker_opts_t *opts, const zx_executor_opts_t *worker_opts,
         const zx_executor_opts_t *client_opts)
{
    char why [512] = "";
    env->loop = zx_loop_new ();
    assert_non_null (env->loop);
    env->broker = zx_broker_new (opts, why, sizeof why);
    if (!env->broker)
        fail_msg ("zx_broker_new: %s", why);
    env->endpoint = zx_broker_bind (env->broker, "tcp://127.0.0.1:*", why, sizeof why);
    if (!env->endpoint)
        fail_msg ("zx_broker_bind: %s", why);
    assert_int_equal (zx_broker_attach (env->broker, env->loop), ZX_OK);
    env->pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    assert_non_null (env->pool);
    env->worker = zx_worker_new (env->loop, env->endpoint, env->pool, worker_opts);
    assert_non_null (env->worker);
    env->remote = zx_remote_executor_new (env->endpoint, client_opts);
    assert_non_null (env->remote);
}

static void
s_stop (s_env_t *env)
{
    zx_executor_destroy (&env->remote);
    zx_worker_destroy (&env->worker);
    zx_broker_destroy (&env->broker);
    zx_executor_destroy (&env->pool);
    zx_loop_destroy (&env->loop);
}

static zx_future_t *
s_submit (s_env_t *env, const char *task, int64_t arg)
{
    zx_future_t *future = zx_run_in_executor (env->loop, env->remote, task,
                                              zx_values_pack ("i", arg));
    assert_non_null (future);
    return future;
}

//  Runs the loop until every future is done, failing the test past
//  timeout_ms.
static void
s_wait_all (zx_future_t **futures, size_t count, int64_t timeout_ms)
{
    size_t done = 0;
    assert_int_equal (zx_wait (futures, count, ZX_ALL_COMPLETED, timeout_ms, NULL, &done,
                               NULL, NULL), ZX_OK);
    if (done != count)
        fail_msg ("%zu of %zu futures done after %lld ms", done, count,
                  (long long) timeout_ms);
}

//  Runs the loop until the worker's connection is cond (or timeout_ms).
static bool
s_worker_connected_within (s_env_t *env, bool cond, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_worker_connected (env->worker) != cond && zx_test_now_ms () < deadline)
        zx_sleep (5);
    return zx_worker_connected (env->worker) == cond;
}

//  Submits count squares from first on and checks every result.
static void
s_expect_squares (s_env_t *env, int64_t first, size_t count)
{
    zx_future_t *futures [200];
    assert_true (count <= 200);
    for (size_t i = 0; i < count; i++)
        futures [i] = s_submit (env, "square", first + (int64_t) i);
    s_wait_all (futures, count, 10000);
    for (size_t i = 0; i < count; i++) {
        if (zx_future_error (futures [i]) != ZX_OK)
            fail_msg ("square (%lld): %s: %s", (long long) (first + (int64_t) i),
                      zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
        int64_t value = 0;
        assert_int_equal (zx_future_result_int (futures [i], &value), ZX_OK);
        assert_int_equal (value, (first + (int64_t) i) * (first + (int64_t) i));
        zx_future_destroy (&futures [i]);
    }
}

static void
test_tasks_through_an_in_process_broker_return_right_results (void **state)
{
    (void) state;
    s_env_t env = { 0 };
    s_start (&env, &(zx_broker_opts_t) { .no_worker_wait_ms = 200 }, NULL, NULL);
    s_expect_squares (&env, 1, 200);
    assert_true (zx_worker_connected (env.worker));
    //  A service nobody serves fails as such, after no_worker_wait_ms
    zx_executor_t *other = zx_remote_executor_new (env.endpoint, &(zx_executor_opts_t) {
        .service = "nobody-serves-this" });
    zx_future_t *orphan = zx_run_in_executor (env.loop, other, "square",
                                              zx_values_pack ("i", (int64_t) 3));
    s_wait_all (&orphan, 1, 15000);
    assert_int_equal (zx_future_error (orphan), ZX_ENOWORKERS);
    zx_future_destroy (&orphan);
    zx_executor_destroy (&other);
    s_stop (&env);
}

static void
test_destroy_fails_work_in_flight_as_shut_down_and_dismisses_workers (void **state)
{
    (void) state;
    s_env_t env = { 0 };
    s_start (&env, NULL, NULL, NULL);
    s_expect_squares (&env, 1, 2);
    //  Two running on the worker's pool of two, two more waiting behind them
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++)
        futures [i] = s_submit (&env, "sleep_ms", 5000);
    zx_sleep (300);
    for (int i = 0; i < 4; i++)
        assert_false (zx_future_done (futures [i]));
    assert_true (zx_worker_connected (env.worker));
    int64_t start = zx_test_now_ms ();
    zx_broker_destroy (&env.broker);
    assert_null (env.broker);
    zx_broker_destroy (&env.broker);            //  NULL is fine
    s_wait_all (futures, 4, 3000);
    for (int i = 0; i < 4; i++) {
        if (zx_future_error (futures [i]) != ZX_ESHUTDOWN)
            fail_msg ("future %d: %s: %s (expected shut down)", i,
                      zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
        assert_non_null (strstr (zx_future_message (futures [i]),
                                 "broker shut down before the task finished"));
        zx_future_destroy (&futures [i]);
    }
    //  The worker was told (DISCONNECT), well before its liveness (3 s)
    //  could have said the broker was gone
    assert_true (s_worker_connected_within (&env, false, 1500));
    assert_true (zx_test_now_ms () - start < 2500);
    s_stop (&env);
}

static void
test_close_refuses_new_work_while_work_in_flight_finishes (void **state)
{
    (void) state;
    s_env_t env = { 0 };
    s_start (&env, NULL, NULL, NULL);
    s_expect_squares (&env, 1, 2);
    zx_future_t *running = s_submit (&env, "sleep_ms", 400);
    zx_sleep (100);
    zx_broker_close (env.broker);
    zx_broker_close (env.broker);               //  Again: harmless
    zx_future_t *late = s_submit (&env, "square", 9);
    s_wait_all (&late, 1, 5000);
    assert_int_equal (zx_future_error (late), ZX_ESHUTDOWN);
    assert_non_null (strstr (zx_future_message (late), "broker shutting down"));
    zx_future_destroy (&late);
    s_wait_all (&running, 1, 5000);
    assert_int_equal (zx_future_error (running), ZX_OK);
    zx_future_destroy (&running);
    assert_true (zx_worker_connected (env.worker));
    s_stop (&env);
}

static void
test_bind_reports_the_endpoint_a_wildcard_got (void **state)
{
    (void) state;
    char why [256] = "";
    zx_broker_t *broker = zx_broker_new (&(zx_broker_opts_t) { 0 }, why, sizeof why);
    assert_non_null (broker);
    assert_null (zx_broker_endpoint (broker, 0));
    const char *first = zx_broker_bind (broker, "tcp://127.0.0.1:*", why, sizeof why);
    assert_non_null (first);
    int port = 0;
    char tail = 0;
    assert_int_equal (sscanf (first, "tcp://127.0.0.1:%d%c", &port, &tail), 1);
    assert_true (port > 0 && port < 65536);
    const char *second = zx_broker_bind (broker, "tcp://127.0.0.1:*", why, sizeof why);
    assert_non_null (second);
    assert_string_not_equal (first, second);
    assert_string_equal (zx_broker_endpoint (broker, 0), first);
    assert_string_equal (zx_broker_endpoint (broker, 1), second);
    assert_null (zx_broker_endpoint (broker, 2));
    //  What cannot be bound says why, and is not listed
    assert_null (zx_broker_bind (broker, "nonsense://here", why, sizeof why));
    assert_non_null (strstr (why, "cannot bind nonsense://here"));
    assert_null (zx_broker_bind (broker, first, why, sizeof why));
    assert_non_null (strstr (why, "Address already in use"));
    assert_null (zx_broker_bind (broker, "nonsense://here", NULL, 0));   //  No reason wanted
    assert_non_null (zx_broker_bind (broker, "tcp://127.0.0.1:*", NULL, 0));
    assert_non_null (zx_broker_endpoint (broker, 2));   //  The one just above
    assert_null (zx_broker_endpoint (broker, 3));
    assert_null (zx_broker_curve_key (broker));
    //  The port is really taken: a second broker cannot have it
    zx_broker_t *other = zx_broker_new (NULL, why, sizeof why);
    assert_non_null (other);
    assert_null (zx_broker_bind (other, first, why, sizeof why));
    zx_broker_destroy (&other);
    zx_broker_destroy (&broker);
    assert_null (broker);
}

//  Expects zx_broker_new (opts) to fail with a reason holding text.
static void
s_expect_refused (const zx_broker_opts_t *opts, const char *text)
{
    char why [700] = "";
    zx_broker_t *broker = zx_broker_new (opts, why, sizeof why);
    if (broker || !strstr (why, text))
        fail_msg ("expected no broker and '%s', got %s and '%s'", text,
                  broker ? "a broker" : "none", why);
    assert_null (zx_broker_new (opts, NULL, 0));       //  No reason wanted: fine too
}

static void
test_a_bad_option_returns_null_with_the_reason (void **state)
{
    (void) state;
    s_expect_refused (&(zx_broker_opts_t) { .heartbeat_ms = 5 },
                      "bad option heartbeat_ms: 5 is not from 10 to 600000");
    s_expect_refused (&(zx_broker_opts_t) { .liveness = 1 }, "bad option liveness: 1");
    s_expect_refused (&(zx_broker_opts_t) { .no_worker_wait_ms = -5 },
                      "bad option no_worker_wait_ms: -5");
    s_expect_refused (&(zx_broker_opts_t) { .max_queue = (size_t) -1 }, "max_queue");
    s_expect_refused (&(zx_broker_opts_t) { .max_services = 2000000 }, "max_services");
    s_expect_refused (&(zx_broker_opts_t) { .max_frame_bytes = 10 },
                      "bad option max_frame_bytes: 10 is not from 64");
    s_expect_refused (&(zx_broker_opts_t) { .handshake_timeout_ms = 50 },
                      "handshake_timeout_ms");
    s_expect_refused (&(zx_broker_opts_t) { .curve_cert = "/nonexistent/broker" },
                      "CURVE needs curve_cert, curve_clients_dir and curve_workers_dir "
                      "together (missing curve_clients_dir)");
    //  CURVE that cannot be enforced: fail closed
    s_expect_refused (&(zx_broker_opts_t) { .curve_cert = "/nonexistent/broker",
                                            .curve_clients_dir = "/nonexistent/clients",
                                            .curve_workers_dir = "/nonexistent/workers" },
                      "cannot enforce CURVE, refusing to start: ");
    //  The edges of the ranges, and no waiting, are good; no reason then
    char why [256] = "stale";
    zx_broker_t *broker = zx_broker_new (&(zx_broker_opts_t) {
        .heartbeat_ms = 10, .liveness = 100, .no_worker_wait_ms = ZX_BROKER_NO_WAIT,
        .max_frame_bytes = 64, .handshake_timeout_ms = 600000 }, why, sizeof why);
    if (!broker)
        fail_msg ("zx_broker_new: %s", why);
    assert_string_equal (why, "");
    zx_broker_destroy (&broker);
}

//  --------------------------------------------------------------------
//  CURVE in-process: the loop the broker is attached to answers its ZAP
//  handshakes, or no peer could get in at all

static char s_dir [64];

static void
s_cert (const char *name, const char *list, char *path, size_t size)
{
    zcert_t *cert = zcert_new ();
    assert_non_null (cert);
    snprintf (path, size, "%s/%s", s_dir, name);
    assert_int_equal (zcert_save (cert, path), 0);
    if (list) {
        char listed [256];
        snprintf (listed, sizeof listed, "%s/%s/%s", s_dir, list, name);
        assert_int_equal (zcert_save_public (cert, listed), 0);
    }
    zcert_destroy (&cert);
}

static void
test_a_curve_broker_on_the_callers_loop_serves_listed_keys_only (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/zx-test-broker-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    char clients [128], workers [128], broker_cert [128], client [128], worker [128];
    char stranger [128];
    snprintf (clients, sizeof clients, "%s/clients", s_dir);
    snprintf (workers, sizeof workers, "%s/workers", s_dir);
    assert_int_equal (mkdir (clients, 0700), 0);
    assert_int_equal (mkdir (workers, 0700), 0);
    s_cert ("broker", NULL, broker_cert, sizeof broker_cert);
    s_cert ("client", "clients", client, sizeof client);
    s_cert ("worker", "workers", worker, sizeof worker);
    s_cert ("stranger", NULL, stranger, sizeof stranger);
    //  The peers need the broker's key: make the broker first, then them
    char why [700] = "";
    zx_broker_opts_t opts = { .curve_cert = broker_cert, .curve_clients_dir = clients,
                              .curve_workers_dir = workers };
    zx_broker_t *probe = zx_broker_new (&opts, why, sizeof why);
    if (!probe)
        fail_msg ("zx_broker_new with CURVE: %s", why);
    char key [41];
    assert_non_null (zx_broker_curve_key (probe));
    assert_int_equal (strlen (zx_broker_curve_key (probe)), 40);
    snprintf (key, sizeof key, "%s", zx_broker_curve_key (probe));
    //  One ZAP handler per process: destroying the broker frees it at once
    zx_broker_destroy (&probe);
    s_env_t env = { 0 };
    s_start (&env, &opts, &(zx_executor_opts_t) { .curve_server_key = key,
                                                  .curve_cert = worker },
             &(zx_executor_opts_t) { .curve_server_key = key, .curve_cert = client });
    assert_string_equal (zx_broker_curve_key (env.broker), key);
    s_expect_squares (&env, 1, 50);
    //  A key no list holds is refused at its handshake
    zx_executor_t *intruder = zx_remote_executor_new (env.endpoint, &(zx_executor_opts_t) {
        .curve_server_key = key, .curve_cert = stranger });
    assert_non_null (intruder);
    zx_future_t *future = zx_run_in_executor (env.loop, intruder, "square",
                                              zx_values_pack ("i", (int64_t) 5));
    s_wait_all (&future, 1, 10000);
    assert_int_equal (zx_future_error (future), ZX_EPROTO);
    zx_future_destroy (&future);
    zx_executor_destroy (&intruder);
    s_expect_squares (&env, 100, 10);           //  The good ones still are served
    s_stop (&env);
    const char *files [] = { "clients/client", "workers/worker", "broker", "broker_secret",
                             "client", "client_secret", "worker", "worker_secret",
                             "stranger", "stranger_secret", "clients", "workers", "" };
    for (size_t i = 0; i < sizeof files / sizeof files [0]; i++) {
        char path [256];
        snprintf (path, sizeof path, "%s/%s", s_dir, files [i]);
        remove (path);
    }
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_tasks_through_an_in_process_broker_return_right_results),
    cmocka_unit_test (test_destroy_fails_work_in_flight_as_shut_down_and_dismisses_workers),
    cmocka_unit_test (test_close_refuses_new_work_while_work_in_flight_finishes),
    cmocka_unit_test (test_bind_reports_the_endpoint_a_wildcard_got),
    cmocka_unit_test (test_a_bad_option_returns_null_with_the_reason),
    cmocka_unit_test (test_a_curve_broker_on_the_callers_loop_serves_listed_keys_only),
};

ZX_TEST_MAIN (tests)
