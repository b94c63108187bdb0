/*  pool_cases.h - behaviour every pool must show, thread or process.

    Included by test_zx_thread_pool.c and test_zx_process_pool.c, each of
    which defines s_pool_new (opts) and lists the cases it runs. The tasks
    here are registered in both binaries, so process workers (the test
    binary started again) know them too.                                 */
#ifndef POOL_CASES_H_INCLUDED
#define POOL_CASES_H_INCLUDED

#define _GNU_SOURCE
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "task_gate.h"

//  --------------------------------------------------------------------
//  Tasks

ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

//  Identifies the worker: pid, thread name, and a serial number unique to
//  the worker thread within its process.
static atomic_int s_thread_serials;
static __thread int s_thread_serial;

static void
s_add_identity (zx_call_t *call)
{
    if (!s_thread_serial)
        s_thread_serial = atomic_fetch_add (&s_thread_serials, 1) + 1;
    zx_values_add_int (zx_call_result (call), getpid ());
    zx_values_add_str (zx_call_result (call), zx_thread_name ());
    zx_values_add_int (zx_call_result (call), s_thread_serial);
}

ZX_TASK (whoami)
{
    s_add_identity (call);
    return 0;
}

ZX_TASK (sleep_ms)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    struct timespec delay = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep (&delay, &delay) && errno == EINTR)
        ;
    s_add_identity (call);
    return 0;
}

//  rendezvous (path, count, timeout_ms): adds one octet to the file at
//  path, then waits until it holds count (or timeout_ms passed), so that
//  count tasks are running at once whenever they run on count workers,
//  however slowly those workers start. Returns the worker's identity.
ZX_TASK (rendezvous)
{
    const char *path;
    int64_t count, timeout_ms;
    if (zx_call_arg_str (call, 0, &path) || zx_call_arg_int (call, 1, &count)
    ||  zx_call_arg_int (call, 2, &timeout_ms))
        return -1;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0 || write (fd, "x", 1) != 1) {
        if (fd >= 0)
            close (fd);
        return zx_call_fail (call, "cannot append to %s", path);
    }
    close (fd);
    struct stat info;
    for (int64_t waited = 0; waited < timeout_ms; waited += 5) {
        if (stat (path, &info) == 0 && info.st_size >= count)
            break;
        struct timespec slice = { 0, 5 * 1000 * 1000 };
        nanosleep (&slice, NULL);
    }
    s_add_identity (call);
    return 0;
}

ZX_TASK (fail_with)
{
    const char *text;
    if (zx_call_arg_str (call, 0, &text))
        return -1;
    return zx_call_fail (call, "failed on purpose: %s", text);
}

//  Creates the file named by its argument: a side effect a test can see
//  from any process.
ZX_TASK (touch)
{
    const char *path;
    if (zx_call_arg_str (call, 0, &path))
        return -1;
    FILE *file = fopen (path, "w");
    if (!file)
        return zx_call_fail (call, "cannot create %s", path);
    fclose (file);
    return 0;
}

//  Per thread: in a thread pool each worker thread runs its own initializer
static _Thread_local int64_t s_init_value;

ZX_TASK (init_set)
{
    return zx_call_arg_int (call, 0, &s_init_value) ? -1 : 0;
}

ZX_TASK (init_get)
{
    return zx_call_return_int (call, s_init_value);
}

ZX_TASK (init_refuse)
{
    return zx_call_fail (call, "this initializer always fails");
}

//  --------------------------------------------------------------------
//  Helpers

static zx_executor_t *s_pool_new (const zx_executor_opts_t *opts);

typedef struct {
    zx_loop_t *loop;
} s_fixture_t;

//  How long a pool test waits for its futures
#define WAIT_MS 30000

static void
s_temp_path (char *path, size_t size, const char *what)
{
    snprintf (path, size, "%s/zexec-test-%d-%s", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp",
              (int) getpid (), what);
    unlink (path);
}

//  --------------------------------------------------------------------
//  Cases

static void
test_ten_thousand_tiny_tasks_give_right_results (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    assert_non_null (pool);
    enum { COUNT = 10000 };
    zx_future_t **futures = calloc (COUNT, sizeof (zx_future_t *));
    zx_test_submit_squares (loop, pool, futures, COUNT);
    zx_test_check_squares (futures, COUNT, WAIT_MS, 0);
    free (futures);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  Each of count succeeded futures of whoami-like tasks (pid, thread
//  name, serial) ran on a different worker: another process, or another
//  thread (with its own name) of the same process.
static void
s_expect_distinct_workers (zx_future_t **futures, size_t count)
{
    int64_t pids [16], serials [16];
    const char *names [16];
    assert_true (count <= 16);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        const zx_values_t *result = zx_future_result (futures [i]);
        assert_int_equal (zx_values_get_int (result, 0, &pids [i]), ZX_OK);
        assert_int_equal (zx_values_get_str (result, 1, &names [i]), ZX_OK);
        assert_int_equal (zx_values_get_int (result, 2, &serials [i]), ZX_OK);
    }
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++) {
            assert_true (pids [i] != pids [j] || serials [i] != serials [j]);
            if (pids [i] == pids [j])
                assert_string_not_equal (names [i], names [j]);
        }
}

//  Runs three sleeps of ms on pool and checks that they ran on three
//  workers; returns how long they took, all together.
static int64_t
s_three_sleeps_on_three_workers (zx_loop_t *loop, zx_executor_t *pool, int64_t ms)
{
    zx_future_t *futures [3];
    int64_t start = zx_test_now_ms ();
    zx_test_submit_many (loop, pool, futures, 3, "sleep_ms", ms);
    zx_test_wait_all (futures, 3, WAIT_MS);
    int64_t elapsed = zx_test_now_ms () - start;
    s_expect_distinct_workers (futures, 3);
    zx_test_destroy_all (futures, 3);
    return elapsed;
}

static void
test_three_workers_run_three_sleeps_at_once (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 3, .window = 1 });
    assert_non_null (pool);
    //  Warm up: all three workers up and running at once (a rendezvous of
    //  three), however slowly a loaded machine starts them
    char path [256];
    s_temp_path (path, sizeof path, "warm");
    zx_future_t *warm [3];
    for (int i = 0; i < 3; i++)
        warm [i] = zx_test_submit (loop, pool, "rendezvous",
                                   zx_values_pack ("sii", path, (int64_t) 3, (int64_t) 20000));
    zx_test_wait_all (warm, 3, WAIT_MS);
    s_expect_distinct_workers (warm, 3);
    zx_test_destroy_all (warm, 3);
    unlink (path);

    //  With all three free and a window of one, each sleep goes to its own
    //  worker (checked inside); one after another would take 300 ms
    int64_t elapsed = s_three_sleeps_on_three_workers (loop, pool, 100);
    print_message ("three 100 ms sleeps took %lld ms\n", (long long) elapsed);
    assert_true (elapsed >= 95);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  A new pool with default options, no warm-up: its first slow tasks go
//  one to each worker as the workers come up, not two to the first one
//  ready (which would make three tasks on three workers take twice as
//  long). No timing: which worker ran each task is the evidence.
static void
test_a_new_default_pool_spreads_its_first_slow_tasks_over_all_workers (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    assert_non_null (pool);
    //  Each task waits (up to 20 s) until all three have started: on three
    //  workers they meet however long the workers take to come up; dealt
    //  two to one worker, the first waits out its time and the second then
    //  runs on the same worker, which the check below sees
    char path [256];
    s_temp_path (path, sizeof path, "rendezvous");
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++)
        futures [i] = zx_test_submit (loop, pool, "rendezvous",
                                      zx_values_pack ("sii", path, (int64_t) 3, (int64_t) 20000));
    zx_test_wait_all (futures, 3, WAIT_MS);
    s_expect_distinct_workers (futures, 3);
    zx_test_destroy_all (futures, 3);
    unlink (path);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  The endpoint is data: the same pool over tcp loopback, on a port the
//  system picks, gives the same results.
static void
test_a_pool_on_a_tcp_endpoint_gives_right_results (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .endpoint = "tcp://127.0.0.1:*" });
    assert_non_null (pool);
    const char *endpoint = zx_executor_endpoint (pool);
    assert_non_null (endpoint);
    assert_memory_equal (endpoint, "tcp://127.0.0.1:", 16);
    assert_null (strchr (endpoint, '*'));
    enum { COUNT = 1000 };
    zx_future_t *futures [COUNT];
    zx_test_submit_squares (loop, pool, futures, COUNT);
    zx_test_check_squares (futures, COUNT, WAIT_MS, 0);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_task_error_reaches_the_future (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = zx_test_submit (loop, pool, "fail_with", zx_values_pack ("s", "boom"));
    assert_int_equal (zx_await (future), ZX_ETASK);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_FAILED);
    assert_string_equal (zx_future_message (future), "failed on purpose: boom");
    assert_null (zx_future_result (future));
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  The failed future says which task failed, on which worker (host, pid,
//  thread), and where the task called zx_call_fail.
static void
test_a_task_error_names_its_task_worker_and_place (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = zx_test_submit (loop, pool, "fail_with", zx_values_pack ("s", "boom"));
    zx_error_info_t info;
    //  Not failed yet. (Asked before the next submission: from plain code
    //  a submission may read what came back, and a loaded machine leaves
    //  time for the first task's failure to come back)
    assert_false (zx_future_error_info (future, &info));
    zx_future_t *whoami = zx_test_submit (loop, pool, "whoami", NULL);
    assert_int_equal (zx_await (future), ZX_ETASK);
    assert_int_equal (zx_await (whoami), ZX_OK);
    assert_string_equal (zx_future_message (future), "failed on purpose: boom");
    assert_true (zx_future_error_info (future, &info));
    assert_string_equal (info.task, "fail_with");
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    assert_string_equal (info.host, host);
    const char *thread;
    assert_int_equal (info.pid, zx_test_result_int (whoami, 0));
    assert_int_equal (zx_values_get_str (zx_future_result (whoami), 1, &thread), ZX_OK);
    assert_string_equal (info.thread, thread);
    assert_non_null (strstr (info.where, "pool_cases.h:"));
    assert_false (zx_future_error_info (whoami, &info));        //  Succeeded
    assert_string_equal (info.task, "");
    zx_future_destroy (&future);
    zx_future_destroy (&whoami);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_unknown_task_fails_with_no_such_task (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = zx_test_submit (loop, pool, "no_such_thing", NULL);
    assert_int_equal (zx_await (future), ZX_ENOTASK);
    assert_string_equal (zx_future_message (future), "no such task 'no_such_thing'");
    //  The worker is fine afterwards
    zx_future_t *next = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 7));
    int64_t value;
    assert_int_equal (zx_await (next), ZX_OK);
    assert_int_equal (zx_future_result_int (next, &value), ZX_OK);
    assert_int_equal (value, 49);
    zx_future_destroy (&future);
    zx_future_destroy (&next);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_argument_of_the_wrong_type_is_a_clear_error (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *future = zx_test_submit (loop, pool, "square", zx_values_pack ("s", "seven"));
    assert_int_equal (zx_await (future), ZX_ETYPE);
    assert_string_equal (zx_future_message (future),
                         "task 'square': argument 0 is str, expected int");
    zx_future_t *missing = zx_test_submit (loop, pool, "square", NULL);
    assert_int_equal (zx_await (missing), ZX_ETYPE);
    assert_non_null (strstr (zx_future_message (missing), "missing argument 0"));
    zx_future_destroy (&future);
    zx_future_destroy (&missing);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_cancel_before_start_means_the_task_never_runs (void **state)
{
    (void) state;
    char path [256];
    s_temp_path (path, sizeof path, "never");
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1, .window = 1 });
    zx_future_t *busy = zx_test_submit (loop, pool, "sleep_ms",
                                        zx_values_pack ("i", (int64_t) 150));
    zx_future_t *queued = zx_test_submit (loop, pool, "touch", zx_values_pack ("s", path));
    zx_sleep (20);
    assert_true (zx_future_cancel (queued));
    assert_true (zx_future_cancelled (queued));
    assert_false (zx_future_cancel (queued));       //  Ends once
    assert_int_equal (zx_await (busy), ZX_OK);
    //  Give a wrongly dispatched task every chance to show itself
    zx_future_t *after = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 3));
    assert_int_equal (zx_await (after), ZX_OK);
    struct stat info;
    assert_int_equal (stat (path, &info), -1);
    assert_int_equal (zx_future_error (queued), ZX_ECANCELLED);
    zx_future_destroy (&busy);
    zx_future_destroy (&queued);
    zx_future_destroy (&after);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  With the default window the worker already holds the second task
//  behind the first; it is pending (not started), a cancel ends it at once
//  and reaches it there, and it is skipped: the task never ran.
static void
test_cancel_of_a_task_its_worker_holds_but_has_not_started_means_it_never_runs (void **state)
{
    (void) state;
    char path [256];
    s_temp_path (path, sizeof path, "held");
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *busy = zx_test_submit (loop, pool, "sleep_ms",
                                        zx_values_pack ("i", (int64_t) 500));
    zx_future_t *held = zx_test_submit (loop, pool, "touch", zx_values_pack ("s", path));
    for (int i = 0; i < 500 && zx_future_state (busy) != ZX_FUTURE_RUNNING; i++)
        zx_sleep (10);
    assert_int_equal (zx_future_state (busy), ZX_FUTURE_RUNNING);    //  Started
    assert_int_equal (zx_future_state (held), ZX_FUTURE_PENDING);
    assert_true (zx_future_cancel (held));
    assert_true (zx_future_cancelled (held));                       //  At once
    assert_int_equal (zx_await (held), ZX_ECANCELLED);
    assert_non_null (strstr (zx_future_message (held), "before it started"));
    assert_false (zx_future_cancel (held));         //  Ends once
    assert_int_equal (zx_await (busy), ZX_OK);
    zx_future_t *after = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 3));
    assert_int_equal (zx_await (after), ZX_OK);
    struct stat info;
    assert_int_equal (stat (path, &info), -1);
    zx_future_destroy (&busy);
    zx_future_destroy (&held);
    zx_future_destroy (&after);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_shutdown_with_cancel_futures_cancels_queued_work (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1, .window = 1 });
    zx_future_t *running = zx_test_submit (loop, pool, "sleep_ms",
                                           zx_values_pack ("i", (int64_t) 100));
    zx_future_t *queued [5];
    for (int i = 0; i < 5; i++)
        queued [i] = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    //  Until the first has started (a process worker can take a while to
    //  start, under ThreadSanitizer above all; on a loaded machine it may
    //  even have finished by the time this looks)
    for (int i = 0; i < 500 && zx_future_state (running) == ZX_FUTURE_PENDING; i++)
        zx_sleep (10);
    assert_int_not_equal (zx_future_state (running), ZX_FUTURE_PENDING);
    assert_int_equal (zx_executor_shutdown (pool, true, true), ZX_OK);
    assert_int_equal (zx_future_error (running), ZX_OK);
    for (int i = 0; i < 5; i++) {
        assert_true (zx_future_cancelled (queued [i]));
        zx_future_destroy (&queued [i]);
    }
    //  No new work after shutdown
    zx_future_t *late = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 1));
    assert_int_equal (zx_await (late), ZX_ESHUTDOWN);
    zx_future_destroy (&late);
    zx_future_destroy (&running);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_max_tasks_per_child_replaces_workers_without_a_hang (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .max_tasks_per_child = 3 });
    enum { COUNT = 40 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_test_submit (loop, pool, "whoami", NULL);
    zx_test_wait_all (futures, COUNT, WAIT_MS);
    //  Count distinct workers (pid, serial): at least COUNT / 3
    int64_t seen [COUNT][2];
    size_t distinct = 0;
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        int64_t pid, serial;
        zx_values_get_int (zx_future_result (futures [i]), 0, &pid);
        zx_values_get_int (zx_future_result (futures [i]), 2, &serial);
        bool known = false;
        for (size_t j = 0; j < distinct; j++)
            known |= seen [j][0] == pid && seen [j][1] == serial;
        if (!known) {
            seen [distinct][0] = pid;
            seen [distinct][1] = serial;
            distinct++;
        }
        zx_future_destroy (&futures [i]);
    }
    assert_true (distinct >= COUNT / 3);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_initializer_runs_in_every_worker_before_tasks (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_values_t *initargs = zx_values_pack ("i", (int64_t) 42);
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .initializer = "init_set", .initargs = initargs });
    zx_values_destroy (&initargs);
    assert_non_null (pool);
    zx_future_t *futures [8];
    for (int i = 0; i < 8; i++)
        futures [i] = zx_test_submit (loop, pool, "init_get", NULL);
    zx_test_wait_all (futures, 8, WAIT_MS);
    for (int i = 0; i < 8; i++) {
        int64_t value = 0;
        assert_int_equal (zx_future_result_int (futures [i], &value), ZX_OK);
        assert_int_equal (value, 42);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_failing_initializer_breaks_the_pool_with_a_clear_error (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .initializer = "init_refuse" });
    assert_non_null (pool);
    zx_future_t *future = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 2));
    assert_int_equal (zx_await (future), ZX_EWORKER_INIT);
    assert_non_null (strstr (zx_future_message (future), "this initializer always fails"));
    zx_future_t *later = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 2));
    assert_int_equal (zx_await (later), ZX_EWORKER_INIT);
    zx_future_destroy (&future);
    zx_future_destroy (&later);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

typedef struct {
    int64_t next;
    int64_t limit;
} s_counter_t;

static zx_values_t *
s_count_up (void *state)
{
    s_counter_t *counter = (s_counter_t *) state;
    if (counter->next >= counter->limit)
        return NULL;
    return zx_values_pack ("i", counter->next++);
}

static void
test_map_is_lazy_and_keeps_input_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    s_counter_t counter = { 0, 1000 };
    zx_map_t *map = zx_map_new (pool, "square", s_count_up, &counter,
                                &(zx_map_opts_t) { .chunksize = 4, .in_flight = 16 });
    assert_non_null (map);
    const zx_values_t *result;
    for (int64_t i = 0; i < 1000; i++) {
        assert_int_equal (zx_map_next (map, &result), ZX_OK);
        assert_non_null (result);
        int64_t value;
        assert_int_equal (zx_values_get_int (result, 0, &value), ZX_OK);
        assert_int_equal (value, i * i);
        //  Never more than in_flight inputs pulled ahead of what we took
        assert_true (counter.next - (i + 1) <= 16);
    }
    assert_int_equal (zx_map_next (map, &result), ZX_OK);
    assert_null (result);
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_map_reports_a_failed_input_and_goes_on (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    //  An endless input: map must not try to read it all
    s_counter_t counter = { 0, INT64_MAX };
    zx_map_t *map = zx_map_new (pool, "fail_with", s_count_up, &counter,
                                &(zx_map_opts_t) { .in_flight = 4 });
    const zx_values_t *result;
    assert_int_equal (zx_map_next (map, &result), ZX_ETYPE);   //  int, not str
    assert_null (result);
    assert_non_null (strstr (zx_map_message (map), "expected str"));
    assert_int_equal (zx_map_next (map, &result), ZX_ETYPE);
    assert_true (counter.next <= 6);
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  zx_executor_map, zx_map_new's former name, is kept for existing callers
static void
test_deprecated_zx_executor_map_still_makes_a_map (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    s_counter_t counter = { 0, 3 };
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    zx_map_t *map = zx_executor_map (pool, "square", s_count_up, &counter, 1, 2);
#pragma GCC diagnostic pop
    assert_non_null (map);
    const zx_values_t *result;
    for (int64_t i = 0; i < 3; i++) {
        int64_t value;
        assert_int_equal (zx_map_next (map, &result), ZX_OK);
        assert_int_equal (zx_values_get_int (result, 0, &value), ZX_OK);
        assert_int_equal (value, i * i);
    }
    assert_int_equal (zx_map_next (map, &result), ZX_OK);
    assert_null (result);
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
s_fan_out (void *arg)
{
    zx_executor_t *pool = (zx_executor_t *) arg;
    zx_loop_t *loop = zx_loop_current ();
    zx_future_t *futures [20];
    for (int i = 0; i < 20; i++)
        futures [i] = zx_run_in_executor (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    zx_future_t *all = zx_gather (loop, futures, 20);
    if (zx_await (all) == ZX_OK) {
        int64_t sum = 0, value;
        for (size_t i = 0; i < zx_values_count (zx_future_result (all)); i++)
            if (zx_values_get_int (zx_future_result (all), i, &value) == ZX_OK)
                sum += value;
        zx_values_add_int (zx_coro_result (), sum);
    }
    zx_future_destroy (&all);
    for (int i = 0; i < 20; i++)
        zx_future_destroy (&futures [i]);
}

static void
test_coroutine_awaits_pool_work_with_gather (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    zx_future_t *main_task = zx_coro_start (loop, s_fan_out, pool, 0);
    assert_int_equal (zx_loop_run_until_complete (loop, main_task), ZX_OK);
    int64_t sum = 0;
    assert_int_equal (zx_future_result_int (main_task, &sum), ZX_OK);
    assert_int_equal (sum, 2470);       //  0^2 + ... + 19^2
    zx_future_destroy (&main_task);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_full_queue_fails_submissions_clearly (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 1, .max_queue = 5 });
    //  The worker is ready (a process takes a while to start), and then
    //  held by a gate: submitted from plain code, the gate goes to it at
    //  once and no longer counts against the queue, and as nothing ends
    //  while the others are submitted (a square could, on a loaded
    //  machine, and the reply read between two submissions would free
    //  the worker for another), exactly five wait and four are refused
    zx_future_t *warm = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 3));
    zx_test_wait_all (&warm, 1, WAIT_MS);
    zx_future_destroy (&warm);
    char started [256], release [256];
    s_temp_path (started, sizeof started, "queue-gate-started");
    s_temp_path (release, sizeof release, "queue-gate-release");
    zx_future_t *gate = zx_test_submit (loop, pool, "gate",
                                        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    zx_future_t *futures [9];
    for (int i = 0; i < 9; i++)
        futures [i] = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    int refused = 0;
    for (int i = 0; i < 9; i++)
        if (zx_future_error (futures [i]) == ZX_EQUEUE_FULL) {
            assert_true (i >= 5);
            assert_non_null (strstr (zx_future_message (futures [i]), "queue full"));
            refused++;
        }
    bool gate_done = zx_future_done (gate);
    zx_test_touch (release);
    zx_test_wait_all (&gate, 1, WAIT_MS);
    zx_test_wait_all (futures, 9, WAIT_MS);
    assert_false (gate_done);
    assert_int_equal (zx_future_error (gate), ZX_OK);
    assert_int_equal (refused, 4);
    for (int i = 0; i < 5; i++)
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
    for (int i = 0; i < 9; i++)
        zx_future_destroy (&futures [i]);
    zx_future_destroy (&gate);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    unlink (started);
    unlink (release);
}

static void
test_default_window_still_spreads_slow_tasks_after_tiny_ones (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    //  All three workers ready first (processes take a while to start):
    //  until three short sleeps land on three different workers
    for (int round = 0; round < 50; round++) {
        zx_future_t *warm [3];
        zx_test_submit_many (loop, pool, warm, 3, "sleep_ms", 20);
        zx_test_wait_all (warm, 3, WAIT_MS);
        int64_t pid [3], serial [3];
        for (int i = 0; i < 3; i++) {
            zx_values_get_int (zx_future_result (warm [i]), 0, &pid [i]);
            zx_values_get_int (zx_future_result (warm [i]), 2, &serial [i]);
            zx_future_destroy (&warm [i]);
        }
        bool spread = true;
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                spread &= pid [i] != pid [j] || serial [i] != serial [j];
        if (spread)
            break;
    }
    //  Tiny tasks first: the dispatcher lets each worker hold many
    enum { TINY = 3000 };
    zx_future_t **tiny = calloc (TINY, sizeof (zx_future_t *));
    for (int i = 0; i < TINY; i++)
        tiny [i] = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) i));
    zx_test_wait_all (tiny, TINY, WAIT_MS);
    for (int i = 0; i < TINY; i++)
        zx_future_destroy (&tiny [i]);
    free (tiny);
    //  Then six 100 ms tasks: dealt two per worker, not piled on one
    zx_future_t *slow [6];
    zx_test_submit_many (loop, pool, slow, 6, "sleep_ms", 100);
    zx_test_wait_all (slow, 6, WAIT_MS);
    int64_t workers [6][2];
    int runs [6] = { 0 };
    size_t distinct = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal (zx_future_error (slow [i]), ZX_OK);
        int64_t pid, serial;
        zx_values_get_int (zx_future_result (slow [i]), 0, &pid);
        zx_values_get_int (zx_future_result (slow [i]), 2, &serial);
        size_t j = 0;
        while (j < distinct && !(workers [j][0] == pid && workers [j][1] == serial))
            j++;
        if (j == distinct) {
            workers [j][0] = pid;
            workers [j][1] = serial;
            distinct++;
        }
        runs [j]++;
        zx_future_destroy (&slow [i]);
    }
    assert_int_equal (distinct, 3);
    for (size_t j = 0; j < distinct; j++)
        assert_int_equal (runs [j], 2);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  One worker, the default window: a short task and, behind it on the same
//  worker, a gate the test holds shut. The short task's result must
//  arrive while the gate still runs, not when the worker's next task ends.
static void
test_a_result_arrives_while_the_next_task_on_its_worker_runs (void **state)
{
    (void) state;
    char started [256], release [256];
    s_temp_path (started, sizeof started, "gate-started");
    s_temp_path (release, sizeof release, "gate-release");
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    assert_non_null (pool);
    zx_future_t *quick = zx_test_submit (loop, pool, "square", zx_values_pack ("i", (int64_t) 7));
    zx_future_t *held = zx_test_submit (loop, pool, "gate",
                                        zx_values_pack ("ssi", started, release, (int64_t) 60000));
    bool gate_started = zx_test_wait_file (started, WAIT_MS);
    bool quick_done = zx_test_wait_done (quick, WAIT_MS);
    bool held_done = zx_future_done (held);
    zx_test_touch (release);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    assert_true (gate_started);
    assert_true (quick_done);       //  Not held back behind the gate
    assert_false (held_done);
    assert_int_equal (zx_test_result_int (quick, 0), 49);
    assert_int_equal (zx_future_error (held), ZX_OK);
    zx_future_destroy (&quick);
    zx_future_destroy (&held);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    unlink (started);
    unlink (release);
}

//  Starts a pool of one worker with the default window running a gate
//  (held shut until the test touches release) with count touch tasks
//  behind it, which the worker holds; waits until the gate is RUNNING.
static zx_executor_t *
s_gate_and_held (zx_loop_t *loop, zx_future_t **gate, zx_future_t **held, int count,
                 char *started, char *release, char (*touched) [256])
{
    s_temp_path (started, 256, "gate-started");
    s_temp_path (release, 256, "gate-release");
    zx_executor_t *pool = s_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    assert_non_null (pool);
    *gate = zx_test_submit (loop, pool, "gate",
                            zx_values_pack ("ssi", started, release, (int64_t) 60000));
    for (int i = 0; i < count; i++) {
        char what [32];
        snprintf (what, sizeof what, "held-%d", i);
        s_temp_path (touched [i], 256, what);
        held [i] = zx_test_submit (loop, pool, "touch", zx_values_pack ("s", touched [i]));
    }
    assert_true (zx_test_wait_file (started, WAIT_MS));
    //  The worker says STARTED once the gate has run a millisecond
    for (int i = 0; i < 3000 && zx_future_state (*gate) != ZX_FUTURE_RUNNING; i++)
        zx_sleep (10);
    return pool;
}

//  RUNNING means started: the gate turns RUNNING once the worker says so,
//  while the tasks the worker holds behind it stay PENDING. Cancel as
//  concurrent.futures does refuses the running gate (which then finishes
//  with its result) and cancels a held one at once.
static void
test_running_means_started_and_cancel_if_pending_spares_a_running_task (void **state)
{
    (void) state;
    char started [256], release [256], touched [2][256];
    zx_future_t *gate, *held [2];
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_gate_and_held (loop, &gate, held, 2, started, release, touched);
    zx_future_state_t gate_state = zx_future_state (gate);
    zx_future_state_t held_state = zx_future_state (held [0]);
    bool refused = !zx_future_cancel_if_pending (gate);
    bool cancelled = zx_future_cancel_if_pending (held [0]);
    bool at_once = zx_future_cancelled (held [0]);
    zx_test_touch (release);
    zx_test_wait_all (&gate, 1, WAIT_MS);
    zx_test_wait_all (&held [1], 1, WAIT_MS);
    assert_int_equal (gate_state, ZX_FUTURE_RUNNING);
    assert_int_equal (held_state, ZX_FUTURE_PENDING);
    assert_true (refused);
    assert_true (cancelled);
    assert_true (at_once);
    assert_int_equal (zx_future_error (gate), ZX_OK);       //  Its result kept
    assert_int_equal (zx_test_result_int (gate, 0), zx_test_result_int (gate, 0));
    assert_false (zx_future_cancel_if_pending (gate));      //  Done: false too
    assert_int_equal (zx_future_error (held [0]), ZX_ECANCELLED);
    assert_int_equal (zx_future_error (held [1]), ZX_OK);
    //  Whether the cancelled one's body ran depends on whether the CANCEL
    //  reached the worker before the gate ended (a race the test would
    //  lose under load): its future is cancelled either way
    unlink (touched [0]);
    zx_future_destroy (&gate);
    zx_test_destroy_all (held, 2);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    unlink (started);
    unlink (release);
    unlink (touched [1]);
}

//  As concurrent.futures: shutdown (cancel_futures) cancels the four tasks
//  the worker holds behind the running gate, and the gate finishes.
static void
test_shutdown_with_cancel_futures_cancels_what_a_worker_holds_but_has_not_started (void **state)
{
    (void) state;
    char started [256], release [256], touched [4][256];
    zx_future_t *gate, *held [4];
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_gate_and_held (loop, &gate, held, 4, started, release, touched);
    zx_future_state_t gate_state = zx_future_state (gate);
    zx_err_t rc = zx_executor_shutdown (pool, false, true);
    int cancelled = 0;
    for (int i = 0; i < 4; i++)
        cancelled += zx_future_cancelled (held [i]);
    bool gate_done = zx_future_done (gate);
    zx_test_touch (release);
    zx_test_wait_all (&gate, 1, WAIT_MS);
    assert_int_equal (gate_state, ZX_FUTURE_RUNNING);
    assert_int_equal (rc, ZX_OK);
    assert_int_equal (cancelled, 4);
    assert_false (gate_done);
    assert_int_equal (zx_future_error (gate), ZX_OK);
    for (int i = 0; i < 4; i++)
        unlink (touched [i]);   //  See the test above
    zx_future_destroy (&gate);
    zx_test_destroy_all (held, 4);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    unlink (started);
    unlink (release);
}

#define POOL_CASES                                                          \
    cmocka_unit_test (test_a_task_error_names_its_task_worker_and_place), \
    cmocka_unit_test (test_running_means_started_and_cancel_if_pending_spares_a_running_task), \
    cmocka_unit_test (test_shutdown_with_cancel_futures_cancels_what_a_worker_holds_but_has_not_started), \
    cmocka_unit_test (test_a_result_arrives_while_the_next_task_on_its_worker_runs), \
    cmocka_unit_test (test_ten_thousand_tiny_tasks_give_right_results),    \
    cmocka_unit_test (test_three_workers_run_three_sleeps_at_once),        \
    cmocka_unit_test (test_a_new_default_pool_spreads_its_first_slow_tasks_over_all_workers), \
    cmocka_unit_test (test_a_pool_on_a_tcp_endpoint_gives_right_results), \
    cmocka_unit_test (test_default_window_still_spreads_slow_tasks_after_tiny_ones), \
    cmocka_unit_test (test_task_error_reaches_the_future),                 \
    cmocka_unit_test (test_unknown_task_fails_with_no_such_task),          \
    cmocka_unit_test (test_argument_of_the_wrong_type_is_a_clear_error),   \
    cmocka_unit_test (test_cancel_before_start_means_the_task_never_runs), \
    cmocka_unit_test (test_cancel_of_a_task_its_worker_holds_but_has_not_started_means_it_never_runs), \
    cmocka_unit_test (test_shutdown_with_cancel_futures_cancels_queued_work), \
    cmocka_unit_test (test_max_tasks_per_child_replaces_workers_without_a_hang), \
    cmocka_unit_test (test_initializer_runs_in_every_worker_before_tasks), \
    cmocka_unit_test (test_failing_initializer_breaks_the_pool_with_a_clear_error), \
    cmocka_unit_test (test_map_is_lazy_and_keeps_input_order),             \
    cmocka_unit_test (test_map_reports_a_failed_input_and_goes_on),        \
    cmocka_unit_test (test_deprecated_zx_executor_map_still_makes_a_map),  \
    cmocka_unit_test (test_coroutine_awaits_pool_work_with_gather),        \
    cmocka_unit_test (test_full_queue_fails_submissions_clearly)

#endif
