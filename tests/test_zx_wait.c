/*  test_zx_wait.c - waiting for futures: zx_wait in its three modes,
    wait_for and future_wait. (test_zx_gather.c: gather and
    as_completed; test_zx_future.c: the futures themselves.) Their ctest
    entries are test_zx_future.*, as before the three were apart.

    DESIGN: futures are completed by timers (zx_loop_call_later); no
    executors are involved. A "plan" gives each future of a test a delay
    and an outcome (testutil_wait.h). The waiting calls work both from
    plain code (they run the loop) and inside a coroutine (they suspend
    it), so each waiting scenario is one function that the test runs
    twice, once each way. Timing checks only assert that a wait did not
    return before its event or its timeout, and that it did not wait for
    an event far in the future.                                           */
#include "testutil_wait.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------
//  zx_wait

static void
s_wait_all_completed (zx_loop_t *loop)
{
    s_set_t set;
    zx_future_t *done [S_MAX], *pending [S_MAX];
    size_t ndone = 99, npending = 99;
    const int64_t delays [] = { 30, 10, 20, 0 };
    s_set_init (&set, loop, 4, delays, s_all_results);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 4, ZX_ALL_COMPLETED, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 28);
    assert_string_equal (s_positions (&set, done, ndone), "0 1 2 3");
    assert_int_equal (npending, 0);
    for (size_t i = 0; i < 4; i++) {
        int64_t value = -1;
        assert_int_equal (zx_future_result_int (set.futures [i], &value), ZX_OK);
        assert_int_equal (value, delays [i]);
    }
    s_set_destroy (&set);

    //  With a timeout: what finished in time is done, the rest pending
    const int64_t late [] = { 10, 5000, 20, 5000, 0 };
    s_set_init (&set, loop, 5, late, s_all_results);
    start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 5, ZX_ALL_COMPLETED, 100,
                               done, &ndone, pending, &npending), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 98 && elapsed < 4000);
    assert_string_equal (s_positions (&set, done, ndone), "0 2 4");
    assert_string_equal (s_positions (&set, pending, npending), "1 3");
    assert_false (zx_future_done (set.futures [1]));
    s_set_destroy (&set);
}

static void
test_wait_all_completed_with_and_without_timeout (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_all_completed);
}

static void
s_wait_first_completed (zx_loop_t *loop)
{
    s_set_t set;
    zx_future_t *done [S_MAX], *pending [S_MAX];
    size_t ndone = 99, npending = 99;
    const int64_t delays [] = { 5000, 20, 5000, 6000 };
    s_set_init (&set, loop, 4, delays, s_all_results);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 4, ZX_FIRST_COMPLETED, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 18 && elapsed < 4000);
    assert_string_equal (s_positions (&set, done, ndone), "1");
    assert_string_equal (s_positions (&set, pending, npending), "0 2 3");
    s_set_destroy (&set);

    //  With a timeout that passes first: nothing done, all pending
    s_set_init (&set, loop, 4, delays, s_all_results);
    start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 4, ZX_FIRST_COMPLETED, 10,
                               done, &ndone, pending, &npending), ZX_OK);
    elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 9 && elapsed < 4000);
    assert_int_equal (ndone, 0);
    assert_string_equal (s_positions (&set, pending, npending), "0 1 2 3");
    //  ... and a timeout the first one beats
    assert_int_equal (zx_wait (set.futures, 4, ZX_FIRST_COMPLETED, 3000,
                               done, &ndone, pending, &npending), ZX_OK);
    assert_string_equal (s_positions (&set, done, ndone), "1");
    assert_string_equal (s_positions (&set, pending, npending), "0 2 3");
    s_set_destroy (&set);

    //  One already finished: returns at once
    const int64_t ready [] = { 5000, 5000, 0 };
    s_set_init (&set, loop, 3, ready, s_all_results);
    start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 3, ZX_FIRST_COMPLETED, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    assert_true (zx_test_now_ms () - start < 4000);
    assert_string_equal (s_positions (&set, done, ndone), "2");
    assert_string_equal (s_positions (&set, pending, npending), "0 1");
    s_set_destroy (&set);
}

static void
test_wait_first_completed_with_and_without_timeout (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_first_completed);
}

static void
s_wait_first_exception (zx_loop_t *loop)
{
    s_set_t set;
    zx_future_t *done [S_MAX], *pending [S_MAX];
    size_t ndone = 99, npending = 99;
    //  A result, then a failure, while another goes on
    const int64_t delays [] = { 10, 30, 5000, 20 };
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_RESULT, S_RESULT };
    s_set_init (&set, loop, 4, delays, outcomes);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 4, ZX_FIRST_EXCEPTION, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 28 && elapsed < 4000);
    assert_string_equal (s_positions (&set, done, ndone), "0 1 3");
    assert_string_equal (s_positions (&set, pending, npending), "2");
    assert_int_equal (zx_future_error (set.futures [1]), ZX_ETASK);
    assert_string_equal (zx_future_message (set.futures [1]), "failure after 30 ms");
    s_set_destroy (&set);

    //  A cancellation counts as a failure too
    const s_outcome_t cancels [] = { S_RESULT, S_CANCEL, S_RESULT, S_RESULT };
    s_set_init (&set, loop, 4, delays, cancels);
    assert_int_equal (zx_wait (set.futures, 4, ZX_FIRST_EXCEPTION, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    assert_string_equal (s_positions (&set, done, ndone), "0 1 3");
    assert_string_equal (s_positions (&set, pending, npending), "2");
    s_set_destroy (&set);

    //  Without a failure it waits for all
    const int64_t fast [] = { 10, 30, 20 };
    s_set_init (&set, loop, 3, fast, s_all_results);
    start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 3, ZX_FIRST_EXCEPTION, -1,
                               done, &ndone, pending, &npending), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 28);
    assert_string_equal (s_positions (&set, done, ndone), "0 1 2");
    assert_int_equal (npending, 0);
    s_set_destroy (&set);

    //  With a timeout and no failure in time
    const int64_t slow [] = { 10, 5000, 5000 };
    const s_outcome_t slow_outcomes [] = { S_RESULT, S_ERROR, S_RESULT };
    s_set_init (&set, loop, 3, slow, slow_outcomes);
    start = zx_test_now_ms ();
    assert_int_equal (zx_wait (set.futures, 3, ZX_FIRST_EXCEPTION, 50,
                               done, &ndone, pending, &npending), ZX_OK);
    elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 48 && elapsed < 4000);
    assert_string_equal (s_positions (&set, done, ndone), "0");
    assert_string_equal (s_positions (&set, pending, npending), "1 2");
    s_set_destroy (&set);
}

static void
test_wait_first_exception_with_and_without_timeout (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_first_exception);
}

static void
s_wait_polls (zx_loop_t *loop)
{
    s_set_t set;
    zx_future_t *done [S_MAX], *pending [S_MAX];
    size_t ndone = 99, npending = 99;
    const int64_t delays [] = { 5000, 0, 5000, 0 };
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_RESULT, S_RESULT };
    s_set_init (&set, loop, 4, delays, outcomes);
    const zx_wait_mode_t modes [] = { ZX_ALL_COMPLETED, ZX_FIRST_COMPLETED,
                                      ZX_FIRST_EXCEPTION };
    for (size_t i = 0; i < 3; i++) {
        int64_t start = zx_test_now_ms ();
        assert_int_equal (zx_wait (set.futures, 4, modes [i], 0,
                                   done, &ndone, pending, &npending), ZX_OK);
        assert_true (zx_test_now_ms () - start < 1000);
        assert_string_equal (s_positions (&set, done, ndone), "1 3");
        assert_string_equal (s_positions (&set, pending, npending), "0 2");
    }
    //  Either array may be left out
    assert_int_equal (zx_wait (set.futures, 4, ZX_ALL_COMPLETED, 0,
                               NULL, &ndone, NULL, &npending), ZX_OK);
    assert_int_equal (ndone, 2);
    assert_int_equal (npending, 2);
    assert_int_equal (zx_wait (set.futures, 4, ZX_ALL_COMPLETED, 0,
                               NULL, NULL, NULL, NULL), ZX_OK);
    s_set_destroy (&set);
}

static void
test_wait_with_zero_timeout_polls (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_polls);
}

static void
s_wait_empty (zx_loop_t *loop)
{
    (void) loop;
    const zx_wait_mode_t modes [] = { ZX_ALL_COMPLETED, ZX_FIRST_COMPLETED,
                                      ZX_FIRST_EXCEPTION };
    zx_future_t *done [1], *pending [1];
    for (size_t i = 0; i < 3; i++) {
        size_t ndone = 99, npending = 99;
        int64_t start = zx_test_now_ms ();
        assert_int_equal (zx_wait (NULL, 0, modes [i], -1,
                                   done, &ndone, pending, &npending), ZX_OK);
        assert_true (zx_test_now_ms () - start < 1000);
        assert_int_equal (ndone, 0);
        assert_int_equal (npending, 0);
    }
    //  Bad arguments
    zx_future_t *future = zx_future_new (loop);
    zx_future_t *with_null [] = { future, NULL };
    assert_int_equal (zx_wait (NULL, 1, ZX_ALL_COMPLETED, 0, NULL, NULL, NULL, NULL),
                      ZX_EINVAL);
    assert_int_equal (zx_wait (with_null, 2, ZX_ALL_COMPLETED, 0, NULL, NULL, NULL, NULL),
                      ZX_EINVAL);
    assert_int_equal (zx_wait (&future, 1, (zx_wait_mode_t) 9, 0, NULL, NULL, NULL, NULL),
                      ZX_EINVAL);
    zx_future_destroy (&future);
}

static void
test_wait_on_no_futures_returns_empty_sets (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_empty);
}

//  Two waits in a row from the same frame: the second one's state sits
//  where the first one's was, so a callback the first left behind on a
//  still pending future would count for the second.
static void
s_wait_takes_back_its_callbacks (zx_loop_t *loop)
{
    s_set_t set;
    zx_future_t *done [S_MAX], *pending [S_MAX];
    size_t ndone = 99, npending = 99;
    const int64_t delays [] = { 10, 1000, 1100 };  //  Far apart: a loaded machine keeps order
    s_set_init (&set, loop, 3, delays, s_all_results);
    for (int round = 0; round < 2; round++) {
        zx_future_t **inputs = set.futures + round;
        assert_int_equal (zx_wait (inputs, 2, round ? ZX_ALL_COMPLETED
                                                    : ZX_FIRST_COMPLETED, -1,
                                   done, &ndone, pending, &npending), ZX_OK);
        assert_int_equal (ndone, round ? 2 : 1);
        assert_int_equal (npending, round ? 0 : 1);
    }
    assert_true (zx_future_done (set.futures [2]));
    s_set_destroy (&set);
}

static void
test_wait_takes_back_its_callbacks_from_pending_futures (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_takes_back_its_callbacks);
}

static void
s_cancel_future (zx_loop_t *loop, void *arg)
{
    (void) loop;
    assert_true (zx_future_cancel ((zx_future_t *) arg));
}

typedef struct {
    zx_future_t *awaited;
    zx_err_t rc;
    size_t npending;
} s_waiter_t;

static void
s_waits_long (void *arg)
{
    s_waiter_t *waiter = (s_waiter_t *) arg;
    size_t ndone = 99;
    waiter->rc = zx_wait (&waiter->awaited, 1, ZX_ALL_COMPLETED, 10000,
                          NULL, &ndone, NULL, &waiter->npending);
}

static void
test_wait_in_a_cancelled_coroutine_returns_cancelled (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *awaited = zx_future_new (loop);
    s_waiter_t waiter = { awaited, ZX_OK, 0 };
    zx_future_t *future = zx_coro_start (loop, s_waits_long, &waiter, 0);
    assert_true (zx_loop_call_later (loop, 20, s_cancel_future, future) != 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_await (future), ZX_ECANCELLED);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_true (zx_test_now_ms () - start < 5000);
    assert_int_equal (waiter.rc, ZX_ECANCELLED);
    assert_int_equal (waiter.npending, 1);
    //  The wait left nothing behind on the input
    assert_int_equal (zx_future_state (awaited), ZX_FUTURE_PENDING);
    assert_int_equal (zx_future_set_result (awaited, NULL), ZX_OK);
    zx_future_destroy (&future);
    zx_future_destroy (&awaited);
    zx_test_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  wait_for and future_wait

static void
s_wait_for (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 20, 20, 5000 };
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_RESULT };
    s_set_init (&set, loop, 3, delays, outcomes);
    //  In time: the outcome
    assert_int_equal (zx_wait_for (set.futures [0], 3000), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (set.futures [0], &value), ZX_OK);
    assert_int_equal (value, 20);
    assert_int_equal (zx_wait_for (set.futures [1], 3000), ZX_ETASK);
    //  Too late: timed out, and the future is cancelled
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_wait_for (set.futures [2], 30), ZX_ETIMEDOUT);
    int64_t elapsed = zx_test_now_ms () - start;
    assert_true (elapsed >= 28 && elapsed < 4000);
    assert_int_equal (zx_future_state (set.futures [2]), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_wait_for (NULL, 10), ZX_EINVAL);
    s_set_destroy (&set);
}

static void
test_wait_for_gives_the_outcome_or_times_out_and_cancels (void **state)
{
    (void) state;
    s_run_both_ways (s_wait_for);
}

typedef struct {
    zx_err_t rc;
    bool after;
} s_slow_t;

static void
s_slow_coroutine (void *arg)
{
    s_slow_t *slow = (s_slow_t *) arg;
    slow->rc = zx_sleep (10000);
    slow->after = true;
}

static void
test_wait_for_on_a_coroutine_cancels_it_on_timeout (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_slow_t slow = { ZX_OK, false };
    zx_future_t *future = zx_coro_start (loop, s_slow_coroutine, &slow, 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_wait_for (future, 30), ZX_ETIMEDOUT);
    assert_true (zx_future_cancelled (future));
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_true (zx_test_now_ms () - start < 5000);
    assert_true (slow.after);
    assert_int_equal (slow.rc, ZX_ECANCELLED);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

static void
s_future_wait (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 20, 20, 1000 };   //  The last well after the others
    const s_outcome_t outcomes [] = { S_RESULT, S_ERROR, S_RESULT };
    s_set_init (&set, loop, 3, delays, outcomes);
    assert_int_equal (zx_future_wait (set.futures [0], 3000), ZX_OK);
    assert_int_equal (zx_future_wait (set.futures [1], -1), ZX_ETASK);
    //  A timeout leaves the future going, and it finishes later
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_future_wait (set.futures [2], 10), ZX_ETIMEDOUT);
    assert_true (zx_test_now_ms () - start >= 9);
    assert_false (zx_future_done (set.futures [2]));
    assert_int_equal (zx_future_wait (set.futures [2], 0), ZX_ETIMEDOUT);
    assert_int_equal (zx_future_wait (set.futures [2], 3000), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (set.futures [2], &value), ZX_OK);
    assert_int_equal (value, 1000);
    assert_int_equal (zx_future_wait (NULL, 10), ZX_EINVAL);
    s_set_destroy (&set);
}

static void
test_future_wait_with_timeout_leaves_the_future_running (void **state)
{
    (void) state;
    s_run_both_ways (s_future_wait);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_wait_all_completed_with_and_without_timeout),
    cmocka_unit_test (test_wait_first_completed_with_and_without_timeout),
    cmocka_unit_test (test_wait_first_exception_with_and_without_timeout),
    cmocka_unit_test (test_wait_with_zero_timeout_polls),
    cmocka_unit_test (test_wait_on_no_futures_returns_empty_sets),
    cmocka_unit_test (test_wait_in_a_cancelled_coroutine_returns_cancelled),
    cmocka_unit_test (test_wait_takes_back_its_callbacks_from_pending_futures),
    cmocka_unit_test (test_wait_for_gives_the_outcome_or_times_out_and_cancels),
    cmocka_unit_test (test_wait_for_on_a_coroutine_cancels_it_on_timeout),
    cmocka_unit_test (test_future_wait_with_timeout_leaves_the_future_running),
};

ZX_TEST_MAIN (tests)
