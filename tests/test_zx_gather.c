/*  test_zx_gather.c - gathering futures: gather and as_completed.
    (test_zx_wait.c: zx_wait, wait_for and future_wait.) Their ctest
    entries are test_zx_future.*, as before the two were apart.

    DESIGN: as in test_zx_wait.c, futures finish by the plans of
    testutil_wait.h, and each scenario runs twice, from plain code and
    inside a coroutine.                                                 */
#include "testutil_wait.h"
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------
//  gather

static void
s_set_values (zx_future_t *future, zx_values_t *values)
{
    assert_non_null (values);
    assert_int_equal (zx_future_set_result (future, &values), ZX_OK);
}

typedef struct {
    zx_future_t *future;
    zx_values_t *values;
} s_delivery_t;

static void
s_deliver (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_delivery_t *delivery = (s_delivery_t *) arg;
    s_set_values (delivery->future, delivery->values);
}

static void
s_gather_values (zx_loop_t *loop)
{
    zx_future_t *inputs [5];
    for (size_t i = 0; i < 5; i++)
        inputs [i] = zx_future_new (loop);
    //  Finishing out of order; each gives its first value, or none, nested
    //  ones whole
    s_delivery_t deliveries [4] = {
        { inputs [0], zx_values_pack ("is", (int64_t) 1, "extra") },
        { inputs [1], ZX_VALUES (ZX_MAP ("two", ZX_LIST (2, 2.0)), "extra") },
        { inputs [2], zx_values_new () },
        { inputs [4], zx_values_pack ("b", "\x05", (size_t) 1) },
    };
    const int64_t delays [4] = { 40, 10, 30, 20 };
    for (size_t i = 0; i < 4; i++)
        assert_true (zx_loop_call_later (loop, delays [i], s_deliver, &deliveries [i]) != 0);
    s_set_values (inputs [3], zx_values_pack ("d", 4.5));

    zx_future_t *gathered = zx_gather (loop, inputs, 5);
    assert_non_null (gathered);
    assert_int_equal (zx_await (gathered), ZX_OK);
    char repr [128];
    zx_values_repr (zx_future_result (gathered), repr, sizeof (repr));
    assert_string_equal (repr, "[1, {'two': [2, 2.0]}, None, 4.5, b'\\x05']");
    zx_future_destroy (&gathered);
    for (size_t i = 0; i < 5; i++)
        zx_future_destroy (&inputs [i]);

    //  Nothing to gather: done with an empty list
    gathered = zx_gather (loop, NULL, 0);
    assert_non_null (gathered);
    assert_int_equal (zx_await (gathered), ZX_OK);
    assert_int_equal (zx_values_count (zx_future_result (gathered)), 0);
    zx_future_destroy (&gathered);
}

static void
test_gather_gives_first_values_in_input_order (void **state)
{
    (void) state;
    s_run_both_ways (s_gather_values);
}

static void
s_gather_failure (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 10, 30, 40, 5000 };
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_ERROR, S_RESULT };
    s_set_init (&set, loop, 4, delays, outcomes);
    zx_future_t *gathered = zx_gather (loop, set.futures, 4);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_await (gathered), ZX_ETASK);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 28 && elapsed < 4000);
    assert_int_equal (zx_future_state (gathered), ZX_FUTURE_FAILED);
    assert_string_equal (zx_future_message (gathered), "failure after 30 ms");
    //  The others go on: the second failure does not change the gather
    assert_int_equal (zx_future_wait (set.futures [2], 3000), ZX_ETASK);
    assert_string_equal (zx_future_message (gathered), "failure after 30 ms");
    assert_false (zx_future_done (set.futures [3]));
    //  Cancelling a finished gather does nothing to the inputs
    assert_false (zx_future_cancel (gathered));
    assert_false (zx_future_done (set.futures [3]));
    zx_future_destroy (&gathered);
    s_set_destroy (&set);
}

static void
test_gather_fails_with_the_first_failure (void **state)
{
    (void) state;
    s_run_both_ways (s_gather_failure);
}

typedef struct {
    zx_err_t rc;
} s_gathered_coro_t;

static void
s_sleeps_in_gather (void *arg)
{
    s_gathered_coro_t *coro = (s_gathered_coro_t *) arg;
    coro->rc = zx_sleep (10000);
}

static void
s_gather_cancel (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 5000, 0, 5000 };
    const s_outcome_t outcomes [] = { S_RESULT, S_RESULT, S_NEVER };
    s_set_init (&set, loop, 3, delays, outcomes);
    //  A coroutine among the inputs is cancelled inside its sleep
    s_gathered_coro_t coro = { ZX_OK };
    zx_future_t *inputs [4] = { set.futures [0], set.futures [1], set.futures [2],
                                zx_coro_start (loop, s_sleeps_in_gather, &coro, 0) };
    zx_future_t *gathered = zx_gather (loop, inputs, 4);
    assert_int_equal (zx_future_wait (gathered, 20), ZX_ETIMEDOUT);
    assert_true (zx_future_cancel (gathered));
    assert_int_equal (zx_future_state (gathered), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_await (gathered), ZX_ECANCELLED);
    assert_true (zx_future_cancelled (set.futures [0]));
    assert_int_equal (zx_future_state (set.futures [1]), ZX_FUTURE_DONE);
    assert_true (zx_future_cancelled (set.futures [2]));
    assert_true (zx_future_cancelled (inputs [3]));
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_int_equal (coro.rc, ZX_ECANCELLED);
    zx_future_destroy (&inputs [3]);
    zx_future_destroy (&gathered);
    s_set_destroy (&set);
}

static void
test_cancelling_a_gather_cancels_its_inputs (void **state)
{
    (void) state;
    s_run_both_ways (s_gather_cancel);
}

//  return_exceptions: a failure first, a result last; the gather is done
//  only once all have finished, with none where an input failed, and the
//  inputs say which failed and why
static void
s_gather_return_exceptions (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 60, 10, 20, 0 };
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_CANCEL, S_RESULT };
    s_set_init (&set, loop, 4, delays, outcomes);
    zx_gather_opts_t opts = { .return_exceptions = true };
    zx_future_t *gathered = zx_gather_opts (loop, set.futures, 4, &opts);
    assert_non_null (gathered);
    assert_int_equal (zx_await (gathered), ZX_OK);
    for (size_t i = 0; i < 4; i++)
        assert_true (zx_future_done (set.futures [i]));
    char repr [64];
    zx_values_repr (zx_future_result (gathered), repr, sizeof repr);
    assert_string_equal (repr, "[60, None, None, 0]");
    assert_int_equal (zx_future_error (set.futures [0]), ZX_OK);
    assert_int_equal (zx_future_error (set.futures [1]), ZX_ETASK);
    assert_string_equal (zx_future_message (set.futures [1]), "failure after 10 ms");
    assert_int_equal (zx_future_error (set.futures [2]), ZX_ECANCELLED);
    assert_int_equal (zx_future_error (set.futures [3]), ZX_OK);
    zx_future_destroy (&gathered);

    //  NULL loop: the inputs' own; and without the option, as zx_gather
    gathered = zx_gather_opts (NULL, set.futures, 4, NULL);
    assert_non_null (gathered);
    assert_ptr_equal (zx_future_loop (gathered), loop);
    assert_int_equal (zx_await (gathered), ZX_ETASK);
    zx_future_destroy (&gathered);
    s_set_destroy (&set);

    //  Cancelling such a gather still cancels its inputs, and it ends
    //  cancelled
    const int64_t late [] = { 5000, 5000 };
    const s_outcome_t results [] = { S_RESULT, S_RESULT };
    s_set_init (&set, loop, 2, late, results);
    gathered = zx_gather_opts (loop, set.futures, 2, &opts);
    assert_int_equal (zx_future_wait (gathered, 10), ZX_ETIMEDOUT);
    assert_true (zx_future_cancel (gathered));
    assert_int_equal (zx_await (gathered), ZX_ECANCELLED);
    assert_true (zx_future_cancelled (set.futures [0]));
    assert_true (zx_future_cancelled (set.futures [1]));
    zx_future_destroy (&gathered);
    s_set_destroy (&set);
}

static void
test_gather_with_return_exceptions_is_done_with_none_for_failures (void **state)
{
    (void) state;
    s_run_both_ways (s_gather_return_exceptions);
}

//  --------------------------------------------------------------------
//  as_completed

static void
s_as_completed_order (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 60, 20, 40, 0, 10 };
    const s_outcome_t outcomes [] = { S_RESULT, S_RESULT, S_ERROR, S_RESULT, S_CANCEL };
    s_set_init (&set, loop, 5, delays, outcomes);
    zx_as_completed_t *iterator = zx_as_completed_new (set.futures, 5, -1);
    assert_non_null (iterator);
    zx_future_t *order [5];
    size_t count = 0;
    zx_future_t *next;
    while ((next = zx_as_completed_next (iterator)) != NULL) {
        assert_true (count < 5);
        assert_true (zx_future_done (next));
        order [count++] = next;
    }
    assert_int_equal (zx_as_completed_error (iterator), ZX_OK);
    assert_string_equal (s_positions (&set, order, count), "3 4 1 2 0");
    assert_null (zx_as_completed_next (iterator));
    zx_as_completed_destroy (&iterator);
    assert_null (iterator);
    zx_as_completed_destroy (&iterator);
    s_set_destroy (&set);

    //  Nothing to iterate
    iterator = zx_as_completed_new (NULL, 0, 10);
    assert_non_null (iterator);
    assert_null (zx_as_completed_next (iterator));
    assert_int_equal (zx_as_completed_error (iterator), ZX_OK);
    zx_as_completed_destroy (&iterator);
}

static void
test_as_completed_yields_futures_in_completion_order (void **state)
{
    (void) state;
    s_run_both_ways (s_as_completed_order);
}

static void
s_as_completed_timeout (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 5000, 10, 6000 };
    s_set_init (&set, loop, 3, delays, s_all_results);
    int64_t start = zx_test_now_ms ();
    zx_as_completed_t *iterator = zx_as_completed_new (set.futures, 3, 60);
    assert_ptr_equal (zx_as_completed_next (iterator), set.futures [1]);
    assert_int_equal (zx_as_completed_error (iterator), ZX_OK);
    assert_null (zx_as_completed_next (iterator));
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 55 && elapsed < 4000);
    assert_int_equal (zx_as_completed_error (iterator), ZX_ETIMEDOUT);
    //  The timeout is for the whole iteration: it stays over
    assert_null (zx_as_completed_next (iterator));
    assert_int_equal (zx_as_completed_error (iterator), ZX_ETIMEDOUT);
    zx_as_completed_destroy (&iterator);
    //  The futures go on
    assert_false (zx_future_done (set.futures [0]));
    s_set_destroy (&set);
}

static void
test_as_completed_times_out_with_null_and_timedout (void **state)
{
    (void) state;
    s_run_both_ways (s_as_completed_timeout);
}

//  A future that finished just before its loop is destroyed still runs
//  its done callbacks, which own memory (freed here: LeakSanitizer would

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_gather_gives_first_values_in_input_order),
    cmocka_unit_test (test_gather_fails_with_the_first_failure),
    cmocka_unit_test (test_cancelling_a_gather_cancels_its_inputs),
    cmocka_unit_test (test_gather_with_return_exceptions_is_done_with_none_for_failures),
    cmocka_unit_test (test_as_completed_yields_futures_in_completion_order),
    cmocka_unit_test (test_as_completed_times_out_with_null_and_timedout),
};

ZX_TEST_MAIN (tests)
