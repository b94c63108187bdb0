/*  test_zx_coro.c - the coroutines an event loop runs: starting,
    returning and failing, awaiting futures and each other, sleeping,
    cancelling, ten thousand at once, deep recursion, and a loop destroyed
    while they wait. (test_zx_loop.c: the loop itself.) Their ctest
    entries are test_zx_loop.*, as before the two were apart.

    DESIGN: as in test_zx_loop.c, each test makes its own loop, drives it
    with callbacks and timers only (no executors), and lets it run a few
    milliseconds before destroying it.                                  */
#include "testutil_loop.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  Coroutines

typedef struct {
    bool ran;
    bool in_coro;
    int64_t input;
} s_basic_t;

static void
s_returns_values (void *arg)
{
    s_basic_t *basic = (s_basic_t *) arg;
    basic->ran = true;
    basic->in_coro = zx_in_coro ();
    zx_values_t *result = zx_coro_result ();
    assert_non_null (result);
    assert_ptr_equal (zx_coro_result (), result);
    assert_int_equal (zx_values_add_int (result, basic->input * 2), ZX_OK);
    assert_int_equal (zx_values_add_str (result, "done"), ZX_OK);
}

static void
s_returns_nothing (void *arg)
{
    *(bool *) arg = true;
}

static void
test_coroutine_starts_on_the_next_iteration_and_returns_its_result (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_basic_t basic = { false, false, 21 };
    zx_future_t *future = zx_coro_start (loop, s_returns_values, &basic, 0);
    assert_non_null (future);
    assert_ptr_equal (zx_future_loop (future), loop);
    assert_false (basic.ran);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_PENDING);
    assert_int_equal (zx_loop_run_until_complete (loop, future), ZX_OK);
    assert_true (basic.ran);
    assert_true (basic.in_coro);
    assert_false (zx_in_coro ());
    assert_null (zx_coro_result ());
    assert_int_equal (zx_future_state (future), ZX_FUTURE_DONE);
    const zx_values_t *result = zx_future_result (future);
    assert_non_null (result);
    assert_int_equal (zx_values_count (result), 2);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 42);
    const char *text = NULL;
    assert_int_equal (zx_values_get_str (result, 1, &text), ZX_OK);
    assert_string_equal (text, "done");
    zx_future_destroy (&future);

    //  A coroutine that adds nothing is done with an empty result
    bool ran = false;
    future = zx_coro_start (loop, s_returns_nothing, &ran, 64 * 1024);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_true (ran);
    assert_non_null (zx_future_result (future));
    assert_int_equal (zx_values_count (zx_future_result (future)), 0);
    zx_future_destroy (&future);
    assert_null (zx_coro_start (loop, NULL, NULL, 0));
    assert_null (zx_coro_start (NULL, s_returns_nothing, &ran, 0));
    zx_test_loop_finish (&loop);
}

static void
s_fails (void *arg)
{
    (void) arg;
    zx_values_add_int (zx_coro_result (), 1);
    assert_int_equal (zx_coro_fail (ZX_EPROTO, "first %s", "try"), ZX_EPROTO);
    //  The last call wins
    assert_int_equal (zx_coro_fail (ZX_ETASK, "bad input %d", 7), ZX_ETASK);
    assert_int_equal (zx_coro_fail (ZX_OK, "not a failure"), ZX_EINVAL);
}

static void
test_coroutine_fail_reaches_the_future_with_code_and_message (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_coro_start (loop, s_fails, NULL, 0);
    assert_non_null (future);
    assert_int_equal (zx_await (future), ZX_ETASK);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_FAILED);
    assert_int_equal (zx_future_error (future), ZX_ETASK);
    assert_string_equal (zx_future_message (future), "bad input 7");
    assert_null (zx_future_result (future));
    zx_future_destroy (&future);
    //  Outside a coroutine it is refused
    assert_int_equal (zx_coro_fail (ZX_ETASK, "no"), ZX_EINVAL);
    zx_test_loop_finish (&loop);
}

typedef struct {
    zx_future_t *awaited;
    zx_err_t rc;
    int64_t value;
    bool after;
} s_awaiter_t;

static void
s_awaits (void *arg)
{
    s_awaiter_t *awaiter = (s_awaiter_t *) arg;
    awaiter->rc = zx_await (awaiter->awaited);
    if (awaiter->rc == ZX_OK)
        zx_future_result_int (awaiter->awaited, &awaiter->value);
    awaiter->after = true;
    zx_values_add_int (zx_coro_result (), awaiter->value + 1);
}

static void
test_await_in_a_coroutine_waits_for_a_future_set_by_a_timer (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *awaited = zx_future_new (loop);
    s_awaiter_t awaiter = { awaited, ZX_EPENDING, 0, false };
    s_completion_t completion = { awaited, 99 };
    assert_true (zx_loop_call_later (loop, 30, s_complete, &completion) != 0);
    zx_future_t *future = zx_coro_start (loop, s_awaits, &awaiter, 0);
    //  Let the coroutine start and suspend: it must not finish early
    assert_int_equal (zx_sleep (10), ZX_OK);
    assert_false (awaiter.after);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_RUNNING);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_int_equal (awaiter.rc, ZX_OK);
    assert_int_equal (awaiter.value, 99);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 100);
    zx_future_destroy (&future);
    zx_future_destroy (&awaited);
    zx_test_loop_finish (&loop);
}

typedef struct {
    int64_t began;
    int64_t ended;
    zx_err_t rc;
} s_sleeper_t;

static void
s_sleeps_50 (void *arg)
{
    s_sleeper_t *sleeper = (s_sleeper_t *) arg;
    sleeper->began = zx_test_now_ms ();
    sleeper->rc = zx_sleep (50);
    sleeper->ended = zx_test_now_ms ();
}

static void
test_sleeping_coroutines_overlap (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_sleeper_t sleepers [2];
    memset (sleepers, 0, sizeof (sleepers));
    int64_t start = zx_test_now_ms ();
    zx_future_t *first = zx_coro_start (loop, s_sleeps_50, &sleepers [0], 0);
    zx_future_t *second = zx_coro_start (loop, s_sleeps_50, &sleepers [1], 0);
    assert_int_equal (zx_await (first), ZX_OK);
    assert_int_equal (zx_await (second), ZX_OK);
    int64_t elapsed = zx_test_now_ms () - start;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (sleepers [i].rc, ZX_OK);
        assert_true (sleepers [i].ended - sleepers [i].began >= 48);
    }
    //  The second began sleeping before the first woke: they overlapped
    assert_true (sleepers [1].began < sleepers [0].ended);
    assert_true (elapsed < 5000);       //  And nothing stalled; overlap is the check above
    zx_future_destroy (&first);
    zx_future_destroy (&second);
    zx_test_loop_finish (&loop);
}

typedef struct {
    int depth;
    zx_loop_t *loop;
} s_nest_t;

//  Starts a coroutine one level shallower, awaits it and returns its
//  result plus this depth.
static void
s_nested (void *arg)
{
    s_nest_t *nest = (s_nest_t *) arg;
    int64_t sum = nest->depth;
    if (nest->depth > 0) {
        s_nest_t inner = { nest->depth - 1, nest->loop };
        zx_future_t *future = zx_coro_start (nest->loop, s_nested, &inner, 0);
        assert_non_null (future);
        assert_int_equal (zx_await (future), ZX_OK);
        int64_t value = 0;
        assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
        sum += value;
        zx_future_destroy (&future);
    }
    else
        assert_int_equal (zx_sleep (5), ZX_OK);
    zx_values_add_int (zx_coro_result (), sum);
}

static void
test_coroutine_can_start_and_await_another_coroutine (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_nest_t nest = { 6, loop };
    zx_future_t *future = zx_coro_start (loop, s_nested, &nest, 0);
    assert_int_equal (zx_await (future), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 6 + 5 + 4 + 3 + 2 + 1);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

#define S_MANY 10000

static void
s_sleeps_and_returns_index (void *arg)
{
    if (zx_sleep (1) != ZX_OK)
        return;
    zx_values_add_int (zx_coro_result (), (int64_t) (uintptr_t) arg);
}

static void
test_ten_thousand_coroutines_sleep_and_return_their_index (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t **futures = calloc (S_MANY, sizeof (zx_future_t *));
    assert_non_null (futures);
    for (uintptr_t i = 0; i < S_MANY; i++) {
        futures [i] = zx_coro_start (loop, s_sleeps_and_returns_index, (void *) i, 0);
        assert_non_null (futures [i]);
    }
    for (size_t i = 0; i < S_MANY; i++) {
        assert_int_equal (zx_await (futures [i]), ZX_OK);
        int64_t value = -1;
        assert_int_equal (zx_future_result_int (futures [i], &value), ZX_OK);
        assert_int_equal (value, (int64_t) i);
    }
    for (size_t i = 0; i < S_MANY; i++)
        zx_future_destroy (&futures [i]);
    free (futures);
    zx_test_loop_finish (&loop);
}

static void
s_count_calls (zx_future_t *future, void *arg)
{
    (void) future;
    (*(int *) arg)++;
}

typedef struct {
    zx_future_t *awaited;
    zx_err_t await_rc;
    zx_err_t sleep_rc;
    zx_err_t again_rc;
    int64_t again_ms;
    bool after;
} s_cancellee_t;

static void
s_awaits_then_sleeps (void *arg)
{
    s_cancellee_t *cancellee = (s_cancellee_t *) arg;
    cancellee->await_rc = zx_await (cancellee->awaited);
    //  Once cancelled, waiting calls return at once
    int64_t start = zx_test_now_ms ();
    cancellee->sleep_rc = zx_sleep (5000);
    cancellee->again_rc = zx_await (cancellee->awaited);
    cancellee->again_ms = zx_test_now_ms () - start;
    cancellee->after = true;
    //  The result is discarded: the future stays cancelled
    zx_values_add_int (zx_coro_result (), 1);
}

static void
test_cancelling_an_awaiting_coroutine_makes_await_return_cancelled (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *awaited = zx_future_new (loop);
    s_cancellee_t cancellee = { awaited, ZX_OK, ZX_OK, ZX_OK, -1, false };
    zx_future_t *future = zx_coro_start (loop, s_awaits_then_sleeps, &cancellee, 0);
    int calls = 0;
    assert_int_equal (zx_future_add_done_callback (future, s_count_calls, &calls), ZX_OK);
    assert_int_equal (zx_sleep (10), ZX_OK);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_RUNNING);
    assert_false (cancellee.after);

    assert_true (zx_future_cancel (future));
    assert_false (zx_future_cancel (future));
    assert_int_equal (zx_future_state (future), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_await (future), ZX_ECANCELLED);
    //  The coroutine itself runs on to its end
    assert_int_equal (zx_sleep (10), ZX_OK);
    assert_true (cancellee.after);
    assert_int_equal (cancellee.await_rc, ZX_ECANCELLED);
    assert_int_equal (cancellee.sleep_rc, ZX_ECANCELLED);
    assert_int_equal (cancellee.again_rc, ZX_ECANCELLED);
    assert_true (cancellee.again_ms < 1000);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_future_error (future), ZX_ECANCELLED);
    assert_null (zx_future_result (future));
    assert_int_equal (calls, 1);

    //  The awaited future is untouched, and finishing it now wakes nobody
    assert_int_equal (zx_future_state (awaited), ZX_FUTURE_PENDING);
    assert_int_equal (zx_future_set_result (awaited, NULL), ZX_OK);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_int_equal (calls, 1);
    zx_future_destroy (&future);
    zx_future_destroy (&awaited);
    zx_test_loop_finish (&loop);
}

static void
s_awaits_only (void *arg)
{
    s_awaiter_t *awaiter = (s_awaiter_t *) arg;
    awaiter->rc = zx_await (awaiter->awaited);
    awaiter->after = true;
}

static void
test_cancelling_a_coroutine_after_the_awaited_future_was_dropped_is_safe (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    //  The owner drops the future the coroutine waits on; the coroutine
    //  still holds it, so cancelling can take its callback back
    zx_future_t *awaited = zx_future_new (loop);
    s_awaiter_t awaiter = { awaited, ZX_OK, 0, false };
    zx_future_t *future = zx_coro_start (loop, s_awaits_only, &awaiter, 0);
    assert_int_equal (zx_sleep (5), ZX_OK);
    zx_future_destroy (&awaited);
    assert_false (awaiter.after);
    assert_true (zx_future_cancel (future));
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_true (awaiter.after);
    assert_int_equal (awaiter.rc, ZX_ECANCELLED);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

static void
s_sleeps_long (void *arg)
{
    s_sleeper_t *sleeper = (s_sleeper_t *) arg;
    sleeper->began = zx_test_now_ms ();
    sleeper->rc = zx_sleep (10000);
    sleeper->ended = zx_test_now_ms ();
}

static void
s_cancel_future (zx_loop_t *loop, void *arg)
{
    (void) loop;
    assert_true (zx_future_cancel ((zx_future_t *) arg));
}

static void
test_cancelling_a_sleeping_coroutine_wakes_it_at_once (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_sleeper_t sleeper = { 0, 0, ZX_OK };
    zx_future_t *future = zx_coro_start (loop, s_sleeps_long, &sleeper, 0);
    assert_true (zx_loop_call_later (loop, 20, s_cancel_future, future) != 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_await (future), ZX_ECANCELLED);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_true (zx_test_now_ms () - start < 5000);
    assert_int_equal (sleeper.rc, ZX_ECANCELLED);
    assert_true (sleeper.ended != 0);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

static void
test_cancelling_a_coroutine_before_it_starts_means_it_never_runs (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    bool ran = false;
    zx_future_t *future = zx_coro_start (loop, s_returns_nothing, &ran, 0);
    int calls = 0;
    assert_int_equal (zx_future_add_done_callback (future, s_count_calls, &calls), ZX_OK);
    assert_true (zx_future_cancel (future));
    assert_int_equal (zx_sleep (10), ZX_OK);
    assert_false (ran);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_future_error (future), ZX_ECANCELLED);
    assert_int_equal (calls, 1);
    //  Dropping the future before the loop runs is fine too
    zx_future_t *other = zx_coro_start (loop, s_returns_nothing, &ran, 0);
    assert_true (zx_future_cancel (other));
    zx_future_destroy (&other);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_false (ran);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
test_sleep_outside_a_coroutine_is_never_short_and_zero_runs_ready_callbacks (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    for (int i = 0; i < 20; i++) {
        int64_t start = s_now_us ();
        assert_int_equal (zx_sleep (2), ZX_OK);
        assert_true (s_now_us () - start >= 2000);
    }
    //  A zero sleep still lets the loop run what is ready, as a coroutine's
    //  zero sleep does
    for (int i = 0; i < 20; i++) {
        bool ran = false;
        assert_int_equal (zx_loop_call_soon (loop, s_set_flag, &ran), ZX_OK);
        assert_int_equal (zx_sleep (0), ZX_OK);
        assert_true (ran);
    }
    zx_test_loop_finish (&loop);
}

static void
test_sleep_and_await_outside_a_coroutine_run_the_loop (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    bool ran = false;
    assert_int_equal (zx_loop_call_soon (loop, s_set_flag, &ran), ZX_OK);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_sleep (30), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 29);
    assert_true (ran);

    //  A timer fires during a plain sleep
    s_log_t log = { { 0 }, 0 };
    s_mark_t mark = { &log, 7, false };
    assert_true (zx_loop_call_later (loop, 10, s_mark, &mark) != 0);
    assert_int_equal (zx_sleep (40), ZX_OK);
    assert_string_equal (s_log_str (&log), "7");

    //  zx_await from plain code runs the loop until a timer sets the future
    zx_future_t *future = zx_future_new (loop);
    s_completion_t completion = { future, 5 };
    assert_true (zx_loop_call_later (loop, 20, s_complete, &completion) != 0);
    start = zx_test_now_ms ();
    assert_int_equal (zx_await (future), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 18);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 5);
    zx_future_destroy (&future);

    //  ... and a coroutine's future, from main
    s_sleeper_t sleeper = { 0, 0, ZX_EPENDING };
    future = zx_coro_start (loop, s_sleeps_50, &sleeper, 0);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_int_equal (sleeper.rc, ZX_OK);
    zx_future_destroy (&future);
    assert_int_equal (zx_await (NULL), ZX_EINVAL);
    zx_test_loop_finish (&loop);
}

//  Uses about depth KB of stack; the sum keeps the compiler honest.
static int64_t __attribute__ ((noinline))
s_recurse (int depth)
{
    volatile char frame [1024];
    for (size_t i = 0; i < sizeof (frame); i++)
        frame [i] = (char) (depth + (int) i);
    int64_t sum = frame [depth % sizeof (frame)];
    if (depth > 0)
        sum += s_recurse (depth - 1);
    return sum + frame [0];
}

static void
s_deep (void *arg)
{
    int depth = *(int *) arg;
    //  Suspend in the middle of it too, so the stack survives a switch
    assert_int_equal (zx_sleep (1), ZX_OK);
    zx_values_add_int (zx_coro_result (), s_recurse (depth));
    assert_int_equal (zx_sleep (1), ZX_OK);
}

static void
test_deep_recursion_in_a_coroutine_works_with_the_default_stack (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    int depth = 128;            //  About 130 KB of stack
    zx_future_t *future = zx_coro_start (loop, s_deep, &depth, 0);
    assert_int_equal (zx_await (future), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_true (value == s_recurse (depth));
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  Destroying a loop with coroutines still waiting

typedef struct {
    zx_err_t seen;              //  What the wait returned
    bool cleaned_up;            //  The coroutine ran past its wait
    zx_future_t *never;         //  A future nobody completes
} s_abandoned_t;

static void
s_waits_forever (void *arg)
{
    s_abandoned_t *state = (s_abandoned_t *) arg;
    state->seen = zx_await (state->never);
    //  A second wait after cancellation returns at once too
    if (zx_sleep (10000) == ZX_ECANCELLED)
        state->cleaned_up = true;
}

static void
test_destroying_a_loop_cancels_its_waiting_coroutines_and_lets_them_clean_up (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_abandoned_t waiting = { ZX_OK, false, zx_future_new (loop) };
    zx_future_t *task = zx_coro_start (loop, s_waits_forever, &waiting, 0);
    zx_future_t *unstarted = zx_coro_start (loop, s_waits_forever, &waiting, 0);
    //  Let the first start and suspend, but not the second: cancel it first
    zx_future_t *tick = zx_future_new (loop);
    assert_int_equal (zx_future_wait (tick, 20), ZX_ETIMEDOUT);
    zx_future_destroy (&tick);
    zx_future_destroy (&unstarted);
    unstarted = zx_coro_start (loop, s_waits_forever, &waiting, 0);
    int64_t start = zx_test_now_ms ();
    zx_loop_destroy (&loop);
    assert_true (zx_test_now_ms () - start < 1000);
    assert_int_equal (waiting.seen, ZX_ECANCELLED);
    assert_true (waiting.cleaned_up);
    assert_true (zx_future_cancelled (task));
    assert_true (zx_future_cancelled (unstarted));
    zx_future_destroy (&task);
    zx_future_destroy (&unstarted);
    zx_future_destroy (&waiting.never);
}


static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_coroutine_starts_on_the_next_iteration_and_returns_its_result),
    cmocka_unit_test (test_coroutine_fail_reaches_the_future_with_code_and_message),
    cmocka_unit_test (test_await_in_a_coroutine_waits_for_a_future_set_by_a_timer),
    cmocka_unit_test (test_sleeping_coroutines_overlap),
    cmocka_unit_test (test_coroutine_can_start_and_await_another_coroutine),
    cmocka_unit_test (test_ten_thousand_coroutines_sleep_and_return_their_index),
    cmocka_unit_test (test_cancelling_an_awaiting_coroutine_makes_await_return_cancelled),
    cmocka_unit_test (test_cancelling_a_coroutine_after_the_awaited_future_was_dropped_is_safe),
    cmocka_unit_test (test_cancelling_a_sleeping_coroutine_wakes_it_at_once),
    cmocka_unit_test (test_cancelling_a_coroutine_before_it_starts_means_it_never_runs),
    cmocka_unit_test (test_sleep_and_await_outside_a_coroutine_run_the_loop),
    cmocka_unit_test (test_sleep_outside_a_coroutine_is_never_short_and_zero_runs_ready_callbacks),
    cmocka_unit_test (test_deep_recursion_in_a_coroutine_works_with_the_default_stack),
    cmocka_unit_test (test_destroying_a_loop_cancels_its_waiting_coroutines_and_lets_them_clean_up),
};

ZX_TEST_MAIN (tests)
