/*  test_zx_future.c - futures, and waiting for many of them.

    DESIGN: futures are completed by timers (zx_loop_call_later) or
    directly with zx_future_set_result; no executors are involved. A
    "plan" gives each future of a test a delay and an outcome. The waiting
    calls work both from plain code (they run the loop) and inside a
    coroutine (they suspend it), so each waiting scenario is one function
    that the test runs twice, once each way. Timing checks only assert
    that a wait did not return before its event or its timeout, and that it
    did not wait for an event far in the future.                          */
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------
//  Helpers

//  Lets the loop run a few milliseconds (so callbacks that hold futures
//  run), then destroys it.
static void
s_loop_finish (zx_loop_t **loop_p)
{
    assert_int_equal (zx_sleep (5), ZX_OK);
    zx_loop_destroy (loop_p);
    assert_null (*loop_p);
}

static zx_future_t *
s_future_with_int (zx_loop_t *loop, int64_t value)
{
    zx_future_t *future = zx_future_new (loop);
    assert_non_null (future);
    zx_values_t *values = zx_values_pack ("i", value);
    assert_int_equal (zx_future_set_result (future, &values), ZX_OK);
    return future;
}

//  Appends "<arg>" to a log string each time it runs, and checks that it
//  runs on a finished future.
typedef struct {
    char text [256];
    int calls;
} s_log_t;

typedef struct {
    s_log_t *log;
    int id;
    zx_future_t *expected;
} s_logger_t;

static void
s_log_done (zx_future_t *future, void *arg)
{
    s_logger_t *logger = (s_logger_t *) arg;
    assert_ptr_equal (future, logger->expected);
    assert_true (zx_future_done (future));
    size_t used = strlen (logger->log->text);
    snprintf (logger->log->text + used, sizeof (logger->log->text) - used,
              "%s%d", used ? " " : "", logger->id);
    logger->log->calls++;
}

//  Plans: each future of a scenario finishes after a delay, one way.
typedef enum { S_RESULT, S_ERROR, S_CANCEL, S_NEVER } s_outcome_t;

typedef struct {
    zx_future_t *future;
    s_outcome_t outcome;
    int64_t delay;
    uint64_t timer;
} s_plan_t;

#define S_MAX 8

typedef struct {
    zx_loop_t *loop;
    size_t count;
    zx_future_t *futures [S_MAX];
    s_plan_t plans [S_MAX];
} s_set_t;

//  Finishes a planned future: with its delay as an int result, with
//  ZX_ETASK "failure after D ms", or by cancelling it.
static void
s_plan_fire (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_plan_t *plan = (s_plan_t *) arg;
    plan->timer = 0;
    switch (plan->outcome) {
        case S_RESULT: {
            zx_values_t *values = zx_values_pack ("i", plan->delay);
            assert_int_equal (zx_future_set_result (plan->future, &values), ZX_OK);
            break;
        }
        case S_ERROR:
            assert_int_equal (zx_future_set_error (plan->future, ZX_ETASK,
                              "failure after %d ms", (int) plan->delay), ZX_OK);
            break;
        case S_CANCEL:
            assert_true (zx_future_cancel (plan->future));
            break;
        default:
            break;
    }
}

//  Makes count futures; future i finishes delays [i] ms from now with
//  outcomes [i] (S_RESULT gives the int delays [i], S_ERROR fails with
//  ZX_ETASK "failure after D ms"). A delay of 0 or less finishes it now.
static void
s_set_init (s_set_t *set, zx_loop_t *loop, size_t count,
            const int64_t *delays, const s_outcome_t *outcomes)
{
    assert_true (count <= S_MAX);
    memset (set, 0, sizeof (*set));
    set->loop = loop;
    set->count = count;
    for (size_t i = 0; i < count; i++) {
        set->futures [i] = zx_future_new (loop);
        assert_non_null (set->futures [i]);
        set->plans [i] = (s_plan_t) { set->futures [i], outcomes [i], delays [i], 0 };
        if (outcomes [i] == S_NEVER)
            continue;
        if (delays [i] <= 0)
            s_plan_fire (loop, &set->plans [i]);
        else {
            set->plans [i].timer = zx_loop_call_later (loop, delays [i], s_plan_fire,
                                                       &set->plans [i]);
            assert_true (set->plans [i].timer != 0);
        }
    }
}

//  Withdraws the timers still pending, cancels unfinished futures, lets
//  their callbacks run and frees the futures.
static void
s_set_destroy (s_set_t *set)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->plans [i].timer)
            assert_true (zx_loop_cancel_timer (set->loop, set->plans [i].timer));
        zx_future_cancel (set->futures [i]);
    }
    assert_int_equal (zx_sleep (2), ZX_OK);
    for (size_t i = 0; i < set->count; i++)
        zx_future_destroy (&set->futures [i]);
}

//  Renders the positions in set of the futures in list as "0 2 3".
static const char *
s_positions (const s_set_t *set, zx_future_t **list, size_t count)
{
    static char bufs [2][64];
    static int which;
    char *buf = bufs [which++ % 2];
    size_t used = 0;
    buf [0] = 0;
    for (size_t i = 0; i < count; i++) {
        size_t position = 0;
        while (position < set->count && set->futures [position] != list [i])
            position++;
        used += (size_t) snprintf (buf + used, 64 - used, "%s%zu",
                                   i ? " " : "", position);
    }
    return buf;
}

//  Runs scenario (loop) twice: from plain code, and inside a coroutine
//  that main awaits.
typedef void (s_scenario_fn) (zx_loop_t *loop);

typedef struct {
    s_scenario_fn *scenario;
    zx_loop_t *loop;
    bool finished;
} s_coro_run_t;

static void
s_scenario_coro (void *arg)
{
    s_coro_run_t *run = (s_coro_run_t *) arg;
    assert_true (zx_in_coro ());
    run->scenario (run->loop);
    run->finished = true;
}

static void
s_run_both_ways (s_scenario_fn *scenario)
{
    zx_loop_t *loop = zx_loop_new ();
    assert_non_null (loop);
    scenario (loop);
    s_loop_finish (&loop);

    loop = zx_loop_new ();
    s_coro_run_t run = { scenario, loop, false };
    zx_future_t *future = zx_coro_start (loop, s_scenario_coro, &run, 0);
    assert_non_null (future);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_true (run.finished);
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  States and getters

static void
test_new_future_is_pending (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    assert_non_null (future);
    assert_ptr_equal (zx_future_loop (future), loop);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_PENDING);
    assert_false (zx_future_done (future));
    assert_false (zx_future_cancelled (future));
    assert_int_equal (zx_future_error (future), ZX_EPENDING);
    assert_string_equal (zx_future_message (future), "");
    assert_null (zx_future_result (future));
    int64_t value = 77;
    assert_int_equal (zx_future_result_int (future, &value), ZX_EPENDING);
    assert_int_equal (value, 77);
    assert_null (zx_future_new (NULL));
    zx_future_destroy (&future);
    assert_null (future);
    zx_future_destroy (&future);
    zx_future_destroy (NULL);
    s_loop_finish (&loop);
}

static void
test_set_result_finishes_the_future_once (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    zx_values_t *values = zx_values_pack ("is", (int64_t) 5, "five");
    assert_int_equal (zx_future_set_result (future, &values), ZX_OK);
    assert_null (values);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_DONE);
    assert_true (zx_future_done (future));
    assert_false (zx_future_cancelled (future));
    assert_int_equal (zx_future_error (future), ZX_OK);
    assert_string_equal (zx_future_message (future), "");
    const zx_values_t *result = zx_future_result (future);
    assert_non_null (result);
    assert_int_equal (zx_values_count (result), 2);
    const char *text = NULL;
    assert_int_equal (zx_values_get_str (result, 1, &text), ZX_OK);
    assert_string_equal (text, "five");

    //  Every later completion is refused and changes nothing; refused
    //  values are destroyed
    values = zx_values_pack ("i", (int64_t) 6);
    assert_int_equal (zx_future_set_result (future, &values), ZX_EINVAL);
    assert_null (values);
    assert_int_equal (zx_future_set_result (future, NULL), ZX_EINVAL);
    assert_int_equal (zx_future_set_error (future, ZX_ETASK, "late"), ZX_EINVAL);
    assert_false (zx_future_cancel (future));
    assert_int_equal (zx_future_state (future), ZX_FUTURE_DONE);
    assert_string_equal (zx_future_message (future), "");
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 5);
    zx_future_destroy (&future);

    //  No values means an empty result, not a missing one
    future = zx_future_new (loop);
    assert_int_equal (zx_future_set_result (future, NULL), ZX_OK);
    assert_non_null (zx_future_result (future));
    assert_int_equal (zx_values_count (zx_future_result (future)), 0);
    zx_future_destroy (&future);
    assert_int_equal (zx_future_set_result (NULL, NULL), ZX_EINVAL);
    s_loop_finish (&loop);
}

static void
test_set_error_fails_the_future_once (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    //  ZX_OK is not an error
    assert_int_equal (zx_future_set_error (future, ZX_OK, "fine"), ZX_EINVAL);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_PENDING);

    assert_int_equal (zx_future_set_error (future, ZX_EWORKER_LOST,
                                           "worker %d died", 3), ZX_OK);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_FAILED);
    assert_true (zx_future_done (future));
    assert_false (zx_future_cancelled (future));
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    assert_string_equal (zx_future_message (future), "worker 3 died");
    assert_null (zx_future_result (future));
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_EWORKER_LOST);

    assert_int_equal (zx_future_set_error (future, ZX_ETASK, "second"), ZX_EINVAL);
    zx_values_t *values = zx_values_pack ("i", (int64_t) 1);
    assert_int_equal (zx_future_set_result (future, &values), ZX_EINVAL);
    assert_null (values);
    assert_false (zx_future_cancel (future));
    assert_int_equal (zx_future_state (future), ZX_FUTURE_FAILED);
    assert_int_equal (zx_future_error (future), ZX_EWORKER_LOST);
    assert_string_equal (zx_future_message (future), "worker 3 died");
    zx_future_destroy (&future);

    //  A NULL message reads as ""
    future = zx_future_new (loop);
    assert_int_equal (zx_future_set_error (future, ZX_EPROTO, NULL), ZX_OK);
    assert_string_equal (zx_future_message (future), "");
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

static void
test_cancel_cancels_the_future_once (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    assert_true (zx_future_cancel (future));
    assert_int_equal (zx_future_state (future), ZX_FUTURE_CANCELLED);
    assert_true (zx_future_done (future));
    assert_true (zx_future_cancelled (future));
    assert_int_equal (zx_future_error (future), ZX_ECANCELLED);
    assert_non_null (zx_future_message (future));
    assert_null (zx_future_result (future));
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_ECANCELLED);

    assert_false (zx_future_cancel (future));
    assert_int_equal (zx_future_set_result (future, NULL), ZX_EINVAL);
    assert_int_equal (zx_future_set_error (future, ZX_ETASK, "late"), ZX_EINVAL);
    assert_int_equal (zx_future_state (future), ZX_FUTURE_CANCELLED);
    assert_int_equal (zx_future_error (future), ZX_ECANCELLED);
    assert_false (zx_future_cancel (NULL));
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

static void
test_result_int_reports_type_errors (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    const char *formats [] = { "s", "d", "n", "", "b" };
    for (size_t i = 0; i < 5; i++) {
        zx_future_t *future = zx_future_new (loop);
        zx_values_t *values = zx_values_new ();
        if (formats [i][0] == 's')
            zx_values_add_str (values, "12");
        if (formats [i][0] == 'd')
            zx_values_add_double (values, 12.0);
        if (formats [i][0] == 'n')
            zx_values_add_none (values);
        if (formats [i][0] == 'b')
            zx_values_add_bytes (values, "12", 2);
        assert_int_equal (zx_future_set_result (future, &values), ZX_OK);
        int64_t value = 77;
        assert_int_equal (zx_future_result_int (future, &value), ZX_ETYPE);
        assert_int_equal (value, 77);
        zx_future_destroy (&future);
    }
    //  Only the first value counts
    zx_future_t *future = zx_future_new (loop);
    zx_values_t *values = zx_values_pack ("is", (int64_t) -3, "x");
    assert_int_equal (zx_future_set_result (future, &values), ZX_OK);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, -3);
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  Done callbacks

static void
test_done_callbacks_run_on_the_loop_after_completion_in_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    s_log_t log = { "", 0 };
    s_logger_t loggers [4];
    for (int i = 0; i < 4; i++) {
        loggers [i] = (s_logger_t) { &log, i + 1, future };
        assert_int_equal (zx_future_add_done_callback (future, s_log_done,
                                                       &loggers [i]), ZX_OK);
    }
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_int_equal (log.calls, 0);
    //  Not inside set_result
    assert_int_equal (zx_future_set_result (future, NULL), ZX_OK);
    assert_int_equal (log.calls, 0);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_string_equal (log.text, "1 2 3 4");
    //  Once each
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_int_equal (log.calls, 4);
    assert_int_equal (zx_future_add_done_callback (future, NULL, NULL), ZX_EINVAL);
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

static void
test_done_callback_added_after_completion_still_runs (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = s_future_with_int (loop, 1);
    assert_int_equal (zx_sleep (5), ZX_OK);
    s_log_t log = { "", 0 };
    s_logger_t first = { &log, 1, future };
    s_logger_t second = { &log, 2, future };
    assert_int_equal (zx_future_add_done_callback (future, s_log_done, &first), ZX_OK);
    assert_int_equal (zx_future_add_done_callback (future, s_log_done, &second), ZX_OK);
    //  On the loop, not inside add
    assert_int_equal (log.calls, 0);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_string_equal (log.text, "1 2");
    s_logger_t third = { &log, 3, future };
    assert_int_equal (zx_future_add_done_callback (future, s_log_done, &third), ZX_OK);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_string_equal (log.text, "1 2 3");
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

static void
test_done_callbacks_run_once_for_failed_and_cancelled_futures (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *failed = zx_future_new (loop);
    zx_future_t *cancelled = zx_future_new (loop);
    s_log_t log = { "", 0 };
    s_logger_t on_failed = { &log, 1, failed };
    s_logger_t on_cancelled = { &log, 2, cancelled };
    assert_int_equal (zx_future_add_done_callback (cancelled, s_log_done, &on_cancelled), ZX_OK);
    assert_int_equal (zx_future_add_done_callback (failed, s_log_done, &on_failed), ZX_OK);
    assert_int_equal (zx_future_set_error (failed, ZX_ETASK, "x"), ZX_OK);
    assert_true (zx_future_cancel (cancelled));
    //  Refused completions schedule nothing more
    assert_int_equal (zx_future_set_error (failed, ZX_ETASK, "y"), ZX_EINVAL);
    assert_false (zx_future_cancel (cancelled));
    assert_int_equal (zx_future_set_result (cancelled, NULL), ZX_EINVAL);
    assert_int_equal (zx_sleep (5), ZX_OK);
    //  In completion order
    assert_string_equal (log.text, "1 2");
    assert_int_equal (log.calls, 2);
    zx_future_destroy (&failed);
    zx_future_destroy (&cancelled);
    s_loop_finish (&loop);
}

static void
test_done_callbacks_run_after_the_caller_drops_the_future (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    s_log_t log = { "", 0 };
    s_logger_t logger = { &log, 1, future };
    assert_int_equal (zx_future_add_done_callback (future, s_log_done, &logger), ZX_OK);
    assert_int_equal (zx_future_set_result (future, NULL), ZX_OK);
    zx_future_destroy (&future);
    assert_int_equal (zx_sleep (5), ZX_OK);
    assert_string_equal (log.text, "1");
    s_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  zx_wait

static const s_outcome_t s_all_results [S_MAX] = {
    S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT
};

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
    const int64_t delays [] = { 10, 30, 80 };
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
}

static void
s_future_wait (zx_loop_t *loop)
{
    s_set_t set;
    const int64_t delays [] = { 20, 20, 60 };
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
    assert_int_equal (value, 60);
    assert_int_equal (zx_future_wait (NULL, 10), ZX_EINVAL);
    s_set_destroy (&set);
}

static void
test_future_wait_with_timeout_leaves_the_future_running (void **state)
{
    (void) state;
    s_run_both_ways (s_future_wait);
}

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
    //  Finishing out of order; each gives its first value, or none
    s_delivery_t deliveries [4] = {
        { inputs [0], zx_values_pack ("is", (int64_t) 1, "extra") },
        { inputs [1], zx_values_pack ("s", "two") },
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
    assert_string_equal (repr, "[1, 'two', None, 4.5, b'\\x05']");
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
//  report it otherwise); plain callbacks are dropped.
static void
s_free_and_count (zx_future_t *future, void *arg)
{
    (void) future;
    int **counter = (int **) arg;
    (**counter)++;
    free (counter);
}

static void
test_done_callbacks_of_finished_futures_run_when_the_loop_is_destroyed (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    int ran = 0;
    zx_future_t *future = zx_future_new (loop);
    int **counter = malloc (sizeof (int *));
    *counter = &ran;
    assert_int_equal (zx_future_add_done_callback (future, s_free_and_count, counter), ZX_OK);
    assert_int_equal (zx_future_set_result (future, NULL), ZX_OK);
    zx_future_destroy (&future);
    assert_int_equal (ran, 0);
    zx_loop_destroy (&loop);
    assert_int_equal (ran, 1);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_new_future_is_pending),
    cmocka_unit_test (test_done_callbacks_of_finished_futures_run_when_the_loop_is_destroyed),
    cmocka_unit_test (test_set_result_finishes_the_future_once),
    cmocka_unit_test (test_set_error_fails_the_future_once),
    cmocka_unit_test (test_cancel_cancels_the_future_once),
    cmocka_unit_test (test_result_int_reports_type_errors),
    cmocka_unit_test (test_done_callbacks_run_on_the_loop_after_completion_in_order),
    cmocka_unit_test (test_done_callback_added_after_completion_still_runs),
    cmocka_unit_test (test_done_callbacks_run_once_for_failed_and_cancelled_futures),
    cmocka_unit_test (test_done_callbacks_run_after_the_caller_drops_the_future),
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
    cmocka_unit_test (test_gather_gives_first_values_in_input_order),
    cmocka_unit_test (test_gather_fails_with_the_first_failure),
    cmocka_unit_test (test_cancelling_a_gather_cancels_its_inputs),
    cmocka_unit_test (test_gather_with_return_exceptions_is_done_with_none_for_failures),
    cmocka_unit_test (test_as_completed_yields_futures_in_completion_order),
    cmocka_unit_test (test_as_completed_times_out_with_null_and_timedout),
};

ZX_TEST_MAIN (tests)
