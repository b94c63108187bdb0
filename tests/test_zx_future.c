/*  test_zx_future.c - futures: their states and getters, and their done
    callbacks. (test_zx_wait.c: waiting for many of them.)

    DESIGN: futures are completed directly with zx_future_set_result, or
    by timers (zx_loop_call_later); no executors are involved.          */
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------
//  Helpers

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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
}


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
    cmocka_unit_test (test_set_result_finishes_the_future_once),
    cmocka_unit_test (test_set_error_fails_the_future_once),
    cmocka_unit_test (test_cancel_cancels_the_future_once),
    cmocka_unit_test (test_result_int_reports_type_errors),
    cmocka_unit_test (test_done_callbacks_run_on_the_loop_after_completion_in_order),
    cmocka_unit_test (test_done_callback_added_after_completion_still_runs),
    cmocka_unit_test (test_done_callbacks_run_once_for_failed_and_cancelled_futures),
    cmocka_unit_test (test_done_callbacks_run_after_the_caller_drops_the_future),
    cmocka_unit_test (test_done_callbacks_of_finished_futures_run_when_the_loop_is_destroyed),
};

ZX_TEST_MAIN (tests)
