/*  test_zx_threadsafe.c - work starts when it is submitted, and executors
    with a loop of their own (concurrent.futures' way) work from any thread.

    What is checked is a state at a point in the run, never a speed: a
    task records that it started, or a future is done, while the caller
    has not run any loop. The tasks run on thread pools, so they and the
    test share memory: atomic flags and counters stand in for what a
    task would print.                                                     */
#define _GNU_SOURCE
#include "testutil.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  Tasks

static atomic_int s_started;        //  Tasks of "note" that began
static atomic_int s_finished;       //  ... and that ended

static void
s_sleep_ms (int64_t ms)
{
    struct timespec delay = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep (&delay, &delay))
        ;
}

//  note (ms): records that it started, sleeps ms, records that it ended,
//  returns ms
ZX_TASK (note)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    atomic_fetch_add (&s_started, 1);
    s_sleep_ms (ms);
    atomic_fetch_add (&s_finished, 1);
    return zx_call_return_int (call, ms);
}

ZX_TASK (twice)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, 2 * n);
}

ZX_TASK (refuse)
{
    return zx_call_fail (call, "refused on purpose");
}

//  --------------------------------------------------------------------
//  Helpers

//  Spins (the caller's own work: no loop runs) until *counter reaches
//  target or timeout_ms passes. Returns true when it did.
static bool
s_compute_until (atomic_int *counter, int target, int64_t timeout_ms)
{
    int64_t end = zx_test_now_ms () + timeout_ms;
    while (atomic_load (counter) < target && zx_test_now_ms () < end)
        ;
    return atomic_load (counter) >= target;
}

//  Spins until the future is done or timeout_ms passes, without waiting
//  on it: only the executor's own thread can finish it meanwhile.
static bool
s_done_while_computing (zx_future_t *future, int64_t timeout_ms)
{
    int64_t end = zx_test_now_ms () + timeout_ms;
    while (!zx_future_done (future) && zx_test_now_ms () < end)
        usleep (200);
    return zx_future_done (future);
}

//  Runs fn (arg) on a thread that has no loop: this one (cmocka's checks
//  must fail on the thread that runs the test), having checked that it
//  has none.
static void
s_on_plain_thread (void *(*fn) (void *), void *arg)
{
    assert_null (zx_loop_current ());
    fn (arg);
}

//  Runs fn (arg) on a new thread, which has no loop, and joins it; fn
//  reports what it saw rather than checking it.
static void
s_on_new_thread (void *(*fn) (void *), void *arg)
{
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, fn, arg), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
}

static zx_executor_t *
s_threads (int workers)
{
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = workers });
    assert_non_null (pool);
    return pool;
}

//  --------------------------------------------------------------------
//  Part 2 (a): a loop-bound executor, submitted to from plain code

static void
test_submission_from_plain_code_starts_before_the_loop_runs (void **state)
{
    (void) state;
    atomic_store (&s_started, 0);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_threads (1);
    zx_future_t *future = zx_run_in_executor (loop, pool, "note",
                                              zx_values_pack ("i", (int64_t) 50));
    assert_non_null (future);
    //  The caller computes and runs no loop: the task starts meanwhile
    assert_true (s_compute_until (&s_started, 1, 5000));
    assert_int_equal (zx_future_wait (future, 10000), ZX_OK);
    zx_future_destroy (&future);

    //  The same through zx_executor_submit, now that the pool is bound
    future = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 1));
    assert_true (s_compute_until (&s_started, 2, 5000));
    assert_int_equal (zx_future_wait (future, 10000), ZX_OK);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

typedef struct {
    zx_executor_t *pool;
    zx_future_t *future;
} s_submit_case_t;

static void *
s_submit_from_other_thread (void *arg)
{
    s_submit_case_t *test = (s_submit_case_t *) arg;
    test->future = zx_executor_submit (test->pool, "twice", zx_values_pack ("i", (int64_t) 1));
    return NULL;
}

static void
test_a_loop_bound_executor_refuses_other_threads (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_threads (1);
    zx_future_t *mine = zx_run_in_executor (loop, pool, "twice", zx_values_pack ("i", (int64_t) 4));
    assert_int_equal (zx_await (mine), ZX_OK);
    //  Its loop is this thread's: another thread gets no future, not one
    //  of this loop's that it could not use safely
    s_submit_case_t test = { pool, NULL };
    s_on_new_thread (s_submit_from_other_thread, &test);
    assert_null (test.future);
    //  Nor can it be given a loop of its own now
    assert_int_equal (zx_executor_start_loop (pool), ZX_EINVAL);
    zx_future_destroy (&mine);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  --------------------------------------------------------------------
//  Part 2 (b): executors with their own loop

static void *
s_no_loop_case (void *arg)
{
    (void) arg;
    assert_null (zx_loop_current ());
    atomic_store (&s_started, 0);
    atomic_store (&s_finished, 0);
    zx_executor_t *pool = s_threads (2);
    //  First used from a thread with no loop: it gets its own
    zx_future_t *future = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 100));
    assert_non_null (future);
    assert_null (zx_loop_current ());
    //  The future finishes while the caller computes, with no wait
    assert_true (s_compute_until (&s_finished, 1, 5000));
    assert_true (s_done_while_computing (future, 5000));
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 100);
    assert_int_equal (zx_future_wait (future, 0), ZX_OK);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_an_executor_used_without_a_loop_runs_its_own (void **state)
{
    (void) state;
    s_on_plain_thread (s_no_loop_case, NULL);
}

static void
test_start_loop_gives_a_thread_with_a_loop_a_shared_executor (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_threads (1);
    assert_int_equal (zx_executor_start_loop (pool), ZX_OK);
    assert_int_equal (zx_executor_start_loop (pool), ZX_OK);
    atomic_store (&s_finished, 0);
    zx_future_t *future = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 20));
    //  Not this thread's loop's future: it finishes with that loop idle
    assert_true (zx_future_loop (future) != loop);
    assert_true (s_done_while_computing (future, 5000));
    assert_int_equal (zx_future_wait (future, 1000), ZX_OK);
    //  zx_await outside a coroutine blocks rather than running our loop
    zx_future_t *second = zx_run_in_executor (loop, pool, "twice", zx_values_pack ("i", (int64_t) 21));
    assert_int_equal (zx_await (second), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (second, &value), ZX_OK);
    assert_int_equal (value, 42);
    zx_future_destroy (&second);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  Four threads submit to one executor at once; every future ends once
#define S_THREADS   4
#define S_EACH      250

typedef struct {
    zx_executor_t *pool;
    int index;
    atomic_int *calls;              //  Done callbacks per future
    bool ok;
} s_submitter_t;

static void
s_count_call (zx_future_t *future, void *arg)
{
    (void) future;
    atomic_fetch_add ((atomic_int *) arg, 1);
}

static void *
s_submitter (void *arg)
{
    s_submitter_t *self = (s_submitter_t *) arg;
    zx_future_t *futures [S_EACH];
    self->ok = true;
    for (int i = 0; i < S_EACH; i++) {
        int64_t n = self->index * S_EACH + i;
        futures [i] = zx_executor_submit (self->pool, "twice", zx_values_pack ("i", n));
        if (!futures [i]
        ||  zx_future_add_done_callback (futures [i], s_count_call, &self->calls [n]) != ZX_OK)
            self->ok = false;
    }
    size_t ndone = 0;
    if (zx_wait (futures, S_EACH, ZX_ALL_COMPLETED, 30000, NULL, &ndone, NULL, NULL) != ZX_OK
    ||  ndone != S_EACH)
        self->ok = false;
    for (int i = 0; i < S_EACH; i++) {
        int64_t value = -1;
        if (zx_future_result_int (futures [i], &value) != ZX_OK
        ||  value != 2 * (self->index * S_EACH + i))
            self->ok = false;
        zx_future_destroy (&futures [i]);
    }
    return NULL;
}

static void
test_four_threads_submit_at_once_and_every_future_ends_once (void **state)
{
    (void) state;
    zx_executor_t *pool = s_threads (2);
    assert_int_equal (zx_executor_start_loop (pool), ZX_OK);
    static atomic_int calls [S_THREADS * S_EACH];
    s_submitter_t submitters [S_THREADS];
    pthread_t threads [S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        submitters [t] = (s_submitter_t) { pool, t, calls, false };
        assert_int_equal (pthread_create (&threads [t], NULL, s_submitter, &submitters [t]), 0);
    }
    for (int t = 0; t < S_THREADS; t++) {
        pthread_join (threads [t], NULL);
        assert_true (submitters [t].ok);
    }
    //  Every callback has run (they run before a waiter is told), once
    for (int n = 0; n < S_THREADS * S_EACH; n++)
        assert_int_equal (atomic_load (&calls [n]), 1);
    assert_int_equal (zx_executor_backlog (pool), 0);
    zx_executor_destroy (&pool);
}

//  Processes too: the I/O thread watches their pidfds and READY
static void *
s_process_case (void *arg)
{
    (void) arg;
    zx_executor_t *pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 2 });
    assert_non_null (pool);
    zx_future_t *futures [6];
    for (int i = 0; i < 6; i++)
        futures [i] = zx_executor_submit (pool, "twice", zx_values_pack ("i", (int64_t) i));
    size_t ndone = 0;
    assert_int_equal (zx_wait (futures, 6, ZX_ALL_COMPLETED, 30000, NULL, &ndone, NULL, NULL),
                      ZX_OK);
    assert_int_equal (ndone, 6);
    for (int i = 0; i < 6; i++) {
        int64_t value = -1;
        assert_int_equal (zx_future_result_int (futures [i], &value), ZX_OK);
        assert_int_equal (value, 2 * i);
        zx_future_destroy (&futures [i]);
    }
    pid_t pids [2];
    assert_int_equal (zx_executor_worker_pids (pool, pids, 2), 2);
    assert_true (pids [0] != getpid () && pids [1] != getpid ());
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_a_process_pool_without_a_loop_works_from_plain_code (void **state)
{
    (void) state;
    s_on_plain_thread (s_process_case, NULL);
}

static void *
s_wait_timeout_case (void *arg)
{
    (void) arg;
    //  Two workers: the two slow tasks below run side by side
    zx_executor_t *pool = s_threads (2);
    zx_future_t *future = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 300));
    //  Times out and leaves it going, then gets it
    assert_int_equal (zx_future_wait (future, 20), ZX_ETIMEDOUT);
    assert_false (zx_future_done (future));
    assert_int_equal (zx_future_wait (future, 10000), ZX_OK);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_DONE);

    //  zx_wait with a timeout, and zx_wait_for, which cancels on timeout
    zx_future_t *slow [2] = {
        zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 200)),
        zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 5000)) };
    size_t ndone = 9, npending = 9;
    assert_int_equal (zx_wait (slow, 2, ZX_ALL_COMPLETED, 20, NULL, &ndone, NULL, &npending),
                      ZX_OK);
    assert_int_equal (ndone, 0);
    assert_int_equal (npending, 2);
    assert_int_equal (zx_wait (slow, 2, ZX_FIRST_COMPLETED, 10000, NULL, &ndone, NULL,
                               &npending), ZX_OK);
    assert_int_equal (ndone, 1);
    assert_int_equal (zx_wait_for (slow [1], 20), ZX_ETIMEDOUT);
    assert_int_equal (zx_future_wait (slow [1], 10000), ZX_ECANCELLED);
    assert_true (zx_future_cancelled (slow [1]));
    zx_future_destroy (&slow [0]);
    zx_future_destroy (&slow [1]);
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_waits_with_a_timeout_from_a_thread_without_a_loop (void **state)
{
    (void) state;
    s_on_plain_thread (s_wait_timeout_case, NULL);
}

typedef struct {
    pthread_t thread;
    char name [64];
    atomic_int runs;
} s_where_t;

static void
s_note_where (zx_future_t *future, void *arg)
{
    (void) future;
    s_where_t *where = (s_where_t *) arg;
    where->thread = pthread_self ();
    snprintf (where->name, sizeof where->name, "%s", zx_thread_name ());
    atomic_fetch_add (&where->runs, 1);
}

static void *
s_callbacks_case (void *arg)
{
    (void) arg;
    zx_executor_t *pool = s_threads (1);
    zx_future_t *future = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 50));
    //  Added before it finished: runs on the executor's I/O thread
    static s_where_t before, after;
    assert_int_equal (zx_future_add_done_callback (future, s_note_where, &before), ZX_OK);
    assert_int_equal (zx_future_wait (future, 10000), ZX_OK);
    int64_t end = zx_test_now_ms () + 5000;
    while (atomic_load (&before.runs) == 0 && zx_test_now_ms () < end)
        usleep (200);
    assert_int_equal (atomic_load (&before.runs), 1);
    assert_false (pthread_equal (before.thread, pthread_self ()));
    assert_string_equal (before.name, "zexec-io");
    //  Added once it has finished: runs at once, in the caller's thread
    assert_int_equal (zx_future_add_done_callback (future, s_note_where, &after), ZX_OK);
    assert_int_equal (atomic_load (&after.runs), 1);
    assert_true (pthread_equal (after.thread, pthread_self ()));
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_done_callbacks_run_on_the_io_thread_or_at_once_when_done (void **state)
{
    (void) state;
    s_on_plain_thread (s_callbacks_case, NULL);
}

static void *
s_cancel_case (void *arg)
{
    (void) arg;
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 1, .window = 1 });
    atomic_store (&s_started, 0);
    zx_future_t *running = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 300));
    zx_future_t *queued = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 300));
    assert_true (s_compute_until (&s_started, 1, 5000));
    //  The queued one is withdrawn: it ends cancelled and never runs
    assert_true (zx_future_cancel (queued));
    assert_int_equal (zx_future_wait (queued, 10000), ZX_ECANCELLED);
    assert_int_equal (zx_future_wait (running, 10000), ZX_OK);
    assert_false (zx_future_cancel (running));
    assert_int_equal (atomic_load (&s_started), 1);
    zx_future_destroy (&running);
    zx_future_destroy (&queued);
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_cancel_from_a_thread_without_a_loop (void **state)
{
    (void) state;
    s_on_plain_thread (s_cancel_case, NULL);
}

static void *
s_many_case (void *arg)
{
    (void) arg;
    zx_executor_t *pool = s_threads (3);
    //  as_completed: in the order they finish
    const int64_t delays [3] = { 300, 10, 150 };
    zx_future_t *futures [3];
    for (int i = 0; i < 3; i++)
        futures [i] = zx_executor_submit (pool, "note", zx_values_pack ("i", delays [i]));
    zx_as_completed_t *iterator = zx_as_completed_new (futures, 3, 10000);
    assert_non_null (iterator);
    int64_t order [3];
    for (int i = 0; i < 3; i++) {
        zx_future_t *next = zx_as_completed_next (iterator);
        assert_non_null (next);
        assert_int_equal (zx_future_result_int (next, &order [i]), ZX_OK);
    }
    assert_null (zx_as_completed_next (iterator));
    assert_int_equal (zx_as_completed_error (iterator), ZX_OK);
    assert_int_equal (order [0], 10);
    assert_int_equal (order [1], 150);
    assert_int_equal (order [2], 300);
    zx_as_completed_destroy (&iterator);

    //  Times out as a whole
    zx_future_t *slow = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 500));
    iterator = zx_as_completed_new (&slow, 1, 20);
    assert_null (zx_as_completed_next (iterator));
    assert_int_equal (zx_as_completed_error (iterator), ZX_ETIMEDOUT);
    zx_as_completed_destroy (&iterator);

    //  gather: on the inputs' loop when given none; return_exceptions
    zx_future_t *inputs [3] = {
        zx_executor_submit (pool, "twice", zx_values_pack ("i", (int64_t) 1)),
        zx_executor_submit (pool, "refuse", NULL),
        zx_executor_submit (pool, "twice", zx_values_pack ("i", (int64_t) 3)) };
    zx_future_t *gathered = zx_gather_opts (NULL, inputs, 3,
                                            &(zx_gather_opts_t) { .return_exceptions = true });
    assert_non_null (gathered);
    assert_int_equal (zx_future_wait (gathered, 10000), ZX_OK);
    char repr [64];
    zx_values_repr (zx_future_result (gathered), repr, sizeof repr);
    assert_string_equal (repr, "[2, None, 6]");
    assert_int_equal (zx_future_error (inputs [1]), ZX_ETASK);
    //  A loop-bound loop cannot take a gather of shared futures
    zx_loop_t *loop = zx_loop_new ();
    assert_null (zx_gather (loop, inputs, 3));
    zx_loop_destroy (&loop);
    zx_future_t *failing = zx_gather_opts (NULL, inputs, 3, NULL);
    assert_int_equal (zx_future_wait (failing, 10000), ZX_ETASK);
    assert_string_equal (zx_future_message (failing), zx_future_message (inputs [1]));
    zx_future_destroy (&failing);
    zx_future_destroy (&gathered);
    for (int i = 0; i < 3; i++) {
        zx_future_destroy (&inputs [i]);
        zx_future_destroy (&futures [i]);
    }
    zx_future_wait (slow, 10000);
    zx_future_destroy (&slow);
    zx_executor_destroy (&pool);
    return NULL;
}

static void
test_as_completed_and_gather_from_a_thread_without_a_loop (void **state)
{
    (void) state;
    s_on_plain_thread (s_many_case, NULL);
}

static void *
s_shutdown_case (void *arg)
{
    (void) arg;
    zx_executor_t *pool = s_threads (2);
    atomic_store (&s_finished, 0);
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++)
        futures [i] = zx_executor_submit (pool, "note", zx_values_pack ("i", (int64_t) 50));
    //  Waits for the work, as Executor.shutdown (wait=True) does
    assert_int_equal (zx_executor_shutdown (pool, true, false), ZX_OK);
    assert_int_equal (atomic_load (&s_finished), 4);
    zx_future_t *late = zx_executor_submit (pool, "twice", zx_values_pack ("i", (int64_t) 1));
    assert_int_equal (zx_future_wait (late, 1000), ZX_ESHUTDOWN);
    zx_executor_destroy (&pool);
    //  The futures outlive the executor, as concurrent.futures' do
    for (int i = 0; i < 4; i++) {
        assert_int_equal (zx_future_wait (futures [i], 0), ZX_OK);
        assert_null (zx_future_loop (futures [i]));
        static s_where_t after;
        atomic_store (&after.runs, 0);
        assert_int_equal (zx_future_add_done_callback (futures [i], s_note_where, &after), ZX_OK);
        assert_int_equal (atomic_load (&after.runs), 1);
        assert_false (zx_future_cancel (futures [i]));
        zx_future_destroy (&futures [i]);
    }
    zx_future_destroy (&late);
    return NULL;
}

//  Destroyed from a done callback on its own I/O thread: it cannot join
//  itself, so it lets go and that thread frees it as it leaves
typedef struct {
    zx_executor_t *pool;
    atomic_int destroyed;
} s_self_destroy_t;

static void
s_destroy_pool (zx_future_t *future, void *arg)
{
    (void) future;
    s_self_destroy_t *test = (s_self_destroy_t *) arg;
    zx_executor_destroy (&test->pool);
    atomic_store (&test->destroyed, test->pool == NULL ? 1 : -1);
}

static void *
s_self_destroy_case (void *arg)
{
    (void) arg;
    static s_self_destroy_t test;
    test.pool = s_threads (2);
    atomic_store (&test.destroyed, 0);
    zx_future_t *quick = zx_executor_submit (test.pool, "twice", zx_values_pack ("i", (int64_t) 1));
    zx_future_t *slow = zx_executor_submit (test.pool, "note", zx_values_pack ("i", (int64_t) 200));
    assert_int_equal (zx_future_add_done_callback (quick, s_destroy_pool, &test), ZX_OK);
    //  The slow one ends as the I/O thread takes the back end down
    zx_err_t rc = zx_future_wait (slow, 10000);
    assert_true (rc == ZX_OK || rc == ZX_ESHUTDOWN);
    assert_int_equal (atomic_load (&test.destroyed), 1);
    assert_int_equal (zx_future_wait (quick, 0), ZX_OK);
    zx_future_destroy (&quick);
    zx_future_destroy (&slow);
    usleep (100 * 1000);            //  For the I/O thread to finish
    return NULL;
}

static void
test_destroy_from_a_done_callback_on_the_io_thread_lets_it_finish (void **state)
{
    (void) state;
    s_on_plain_thread (s_self_destroy_case, NULL);
}

static void
test_shutdown_waits_and_futures_outlive_the_executor (void **state)
{
    (void) state;
    s_on_plain_thread (s_shutdown_case, NULL);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_submission_from_plain_code_starts_before_the_loop_runs),
    cmocka_unit_test (test_a_loop_bound_executor_refuses_other_threads),
    cmocka_unit_test (test_an_executor_used_without_a_loop_runs_its_own),
    cmocka_unit_test (test_start_loop_gives_a_thread_with_a_loop_a_shared_executor),
    cmocka_unit_test (test_four_threads_submit_at_once_and_every_future_ends_once),
    cmocka_unit_test (test_a_process_pool_without_a_loop_works_from_plain_code),
    cmocka_unit_test (test_waits_with_a_timeout_from_a_thread_without_a_loop),
    cmocka_unit_test (test_done_callbacks_run_on_the_io_thread_or_at_once_when_done),
    cmocka_unit_test (test_cancel_from_a_thread_without_a_loop),
    cmocka_unit_test (test_as_completed_and_gather_from_a_thread_without_a_loop),
    cmocka_unit_test (test_shutdown_waits_and_futures_outlive_the_executor),
    cmocka_unit_test (test_destroy_from_a_done_callback_on_the_io_thread_lets_it_finish),
};

ZX_TEST_MAIN (tests)
