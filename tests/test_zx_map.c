/*  test_zx_map.c - map from plain code with no loop, map's timeout, and
    map starting its work as it is made (Python's Executor.map).

    The tasks run on thread pools and share counters with the test, so a
    test sees what started and what ran without timing anything.         */
#define _GNU_SOURCE
#include "testutil.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int s_started;

ZX_TASK (cube)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    atomic_fetch_add (&s_started, 1);
    return zx_call_return_int (call, n * n * n);
}

//  sleep_then (ms): sleeps ms, returns ms
ZX_TASK (sleep_then)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    atomic_fetch_add (&s_started, 1);
    struct timespec delay = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep (&delay, &delay))
        ;
    return zx_call_return_int (call, ms);
}

//  Inputs: 0, 1, ... limit - 1, each an int
typedef struct {
    int64_t next;
    int64_t limit;
    const int64_t *values;          //  Instead of the counter, when set
} s_input_t;

static zx_values_t *
s_input (void *state)
{
    s_input_t *input = (s_input_t *) state;
    if (input->next >= input->limit)
        return NULL;
    int64_t value = input->values ? input->values [input->next] : input->next;
    input->next++;
    return zx_values_pack ("i", value);
}

static zx_executor_t *
s_threads (int workers, int window)
{
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = workers, .window = window });
    assert_non_null (pool);
    return pool;
}

static void
test_map_without_a_loop_returns_every_result_in_order (void **state)
{
    (void) state;
    assert_null (zx_loop_current ());
    zx_executor_t *pool = s_threads (2, 0);
    s_input_t input = { 0, 200, NULL };
    zx_map_t *map = zx_map_new (pool, "cube", s_input, &input,
                                &(zx_map_opts_t) { .chunksize = 3, .in_flight = 10 });
    assert_non_null (map);
    for (int64_t i = 0; i < 200; i++) {
        const zx_values_t *result = NULL;
        assert_int_equal (zx_map_next (map, &result), ZX_OK);
        assert_non_null (result);
        int64_t value = -1;
        assert_int_equal (zx_values_get_int (result, 0, &value), ZX_OK);
        assert_int_equal (value, i * i * i);
        assert_true (input.next - (i + 1) <= 10);
    }
    const zx_values_t *result = NULL;
    assert_int_equal (zx_map_next (map, &result), ZX_OK);
    assert_null (result);
    assert_null (zx_loop_current ());
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
}

//  Work starts as the map is made, as Python's does, before any result
//  is asked for; in both ways of using an executor
static void
s_map_starts (bool with_loop)
{
    zx_loop_t *loop = with_loop ? zx_loop_new () : NULL;
    zx_executor_t *pool = s_threads (2, 0);
    atomic_store (&s_started, 0);
    s_input_t input = { 0, 4, NULL };
    zx_map_t *map = zx_map_new (pool, "cube", s_input, &input, NULL);
    assert_non_null (map);
    assert_int_equal (input.next, 4);
    int64_t end = zx_test_now_ms () + 5000;
    while (atomic_load (&s_started) < 1 && zx_test_now_ms () < end)
        ;                           //  The caller's own work: no loop runs
    assert_true (atomic_load (&s_started) >= 1);
    const zx_values_t *result;
    for (int i = 0; i < 4; i++)
        assert_int_equal (zx_map_next (map, &result), ZX_OK);
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_map_starts_its_work_when_it_is_made (void **state)
{
    (void) state;
    s_map_starts (false);
    s_map_starts (true);
}

//  One worker taking one at a time: 10 ms, 10 ms, then 1.5 s, then more;
//  a 300 ms timeout ends the map at the third and cancels the rest
static void
s_map_times_out (bool with_loop)
{
    zx_loop_t *loop = with_loop ? zx_loop_new () : NULL;
    zx_executor_t *pool = s_threads (1, 1);
    atomic_store (&s_started, 0);
    static const int64_t sleeps [6] = { 10, 10, 1500, 10, 10, 10 };
    s_input_t input = { 0, 6, sleeps };
    zx_map_t *map = zx_map_new (pool, "sleep_then", s_input, &input,
                                &(zx_map_opts_t) { .timeout_ms = 300 });
    assert_non_null (map);
    const zx_values_t *result;
    int64_t value;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zx_map_next (map, &result), ZX_OK);
        assert_int_equal (zx_values_get_int (result, 0, &value), ZX_OK);
        assert_int_equal (value, 10);
    }
    assert_int_equal (zx_map_next (map, &result), ZX_ETIMEDOUT);
    assert_null (result);
    assert_non_null (strstr (zx_map_message (map), "timed out"));
    //  Over: no more results, and no more input pulled
    assert_int_equal (zx_map_next (map, &result), ZX_OK);
    assert_null (result);
    assert_int_equal (input.next, 6);
    //  What waited behind the long one was cancelled: it never ran
    assert_int_equal (zx_executor_shutdown (pool, true, false), ZX_OK);
    assert_int_equal (atomic_load (&s_started), 3);
    zx_map_destroy (&map);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_map_timeout_ends_the_map_and_cancels_the_rest (void **state)
{
    (void) state;
    s_map_times_out (false);
    s_map_times_out (true);
}

typedef struct {
    zx_executor_t *pool;
    s_input_t input;
    zx_map_t *map;
} s_other_t;

static void *
s_map_from_other_thread (void *arg)
{
    s_other_t *other = (s_other_t *) arg;
    other->map = zx_map_new (other->pool, "cube", s_input, &other->input, NULL);
    return NULL;
}

static void
test_map_refuses_an_executor_bound_to_another_threads_loop (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_threads (1, 0);
    zx_future_t *bind = zx_run_in_executor (loop, pool, "cube", zx_values_pack ("i", (int64_t) 2));
    assert_int_equal (zx_await (bind), ZX_OK);
    zx_future_destroy (&bind);
    s_other_t other = { pool, { 0, 5, NULL }, NULL };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_map_from_other_thread, &other), 0);
    pthread_join (thread, NULL);
    //  Refused, with no input pulled and dropped
    assert_null (other.map);
    assert_int_equal (other.input.next, 0);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_map_without_a_loop_returns_every_result_in_order),
    cmocka_unit_test (test_map_starts_its_work_when_it_is_made),
    cmocka_unit_test (test_map_timeout_ends_the_map_and_cancels_the_rest),
    cmocka_unit_test (test_map_refuses_an_executor_bound_to_another_threads_loop),
};

ZX_TEST_MAIN (tests)
