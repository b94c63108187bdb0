/*  test_zx_progress.c - progress over futures: counts, lines, rate, ETA.

    DESIGN: each progress draws into a pipe the test reads back, as
    plain lines or as a terminal's redrawn line (forced with opts.tty),
    so the tests check what a user sees. Futures are completed by hand on
    a loop; nothing waits on wall-clock speed.                           */
#include "testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fds [2];
    char text [16384];
} s_pipe_t;

static void
s_pipe_open (s_pipe_t *pipe_)
{
    assert_int_equal (pipe (pipe_->fds), 0);
    fcntl (pipe_->fds [0], F_SETFL, O_NONBLOCK);
    pipe_->text [0] = 0;
}

//  Reads what was drawn so far (appends to text).
static const char *
s_pipe_read (s_pipe_t *pipe_)
{
    size_t used = strlen (pipe_->text);
    ssize_t got;
    while (used < sizeof pipe_->text - 1
       &&  (got = read (pipe_->fds [0], pipe_->text + used, sizeof pipe_->text - 1 - used)) > 0)
        used += (size_t) got;
    pipe_->text [used] = 0;
    return pipe_->text;
}

static void
s_pipe_close (s_pipe_t *pipe_)
{
    close (pipe_->fds [0]);
    close (pipe_->fds [1]);
}

static size_t
s_count_lines (const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *at = text; (at = strstr (at, needle)); at += strlen (needle))
        count++;
    return count;
}

//  Lets the loop run the futures' done callbacks.
static void
s_settle (zx_loop_t *loop)
{
    (void) loop;
    assert_int_equal (zx_sleep (5), ZX_OK);     //  Runs the current loop
}

static void
test_plain_output_says_each_tenth_once_with_counts (void **state)
{
    (void) state;
    s_pipe_t out;
    s_pipe_open (&out);
    zx_progress_opts_t opts = { .fd = out.fds [1], .tty = -1 };
    zx_progress_t *progress = zx_progress_new ("squares", 50, &opts);
    assert_non_null (progress);
    for (int i = 0; i < 50; i++)
        zx_progress_add (progress, 1, 0);
    zx_progress_finish (progress);
    const char *text = s_pipe_read (&out);
    //  Ten lines, 10 % to 100 %, whatever the number of updates
    assert_int_equal (s_count_lines (text, "\n"), 10);
    assert_non_null (strstr (text, "squares:  10% (5 of 50 done, 0 failed"));
    assert_non_null (strstr (text, "squares: 100% (50 of 50 done, 0 failed"));
    assert_null (strchr (text, '\r'));
    zx_progress_destroy (&progress);
    assert_null (progress);
    s_pipe_close (&out);
}

static void
test_watched_futures_count_done_failed_and_cancelled (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_progress_opts_t opts = { .fd = -1 };
    zx_progress_t *progress = zx_progress_new ("jobs", 4, &opts);
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++) {
        futures [i] = zx_future_new (loop);
        assert_int_equal (zx_progress_watch (progress, futures [i]), ZX_OK);
    }
    zx_values_t *values = zx_values_pack ("i", (int64_t) 1);
    zx_future_set_result (futures [0], &values);
    zx_future_set_result (futures [1], NULL);
    zx_future_set_error (futures [2], ZX_ETASK, "bad input");
    zx_future_cancel (futures [3]);
    s_settle (loop);
    zx_progress_stats_t stats;
    zx_progress_stats (progress, &stats);
    assert_int_equal (stats.total, 4);
    assert_int_equal (stats.done, 4);
    assert_int_equal (stats.failed, 1);
    assert_int_equal (stats.cancelled, 1);
    assert_true (stats.elapsed_s >= 0);
    assert_true (stats.rate > 0);
    assert_true (stats.eta_s >= 0 && stats.eta_s < 1e-9);  //  Nothing left
    for (int i = 0; i < 4; i++)
        zx_future_destroy (&futures [i]);
    zx_progress_destroy (&progress);
    zx_loop_destroy (&loop);
}

static void
test_a_progress_destroyed_before_its_futures_finish_counts_them_safely (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_pipe_t out;
    s_pipe_open (&out);
    zx_progress_opts_t opts = { .fd = out.fds [1], .tty = -1 };
    zx_progress_t *progress = zx_progress_new ("late", 2, &opts);
    zx_future_t *futures [2] = { zx_future_new (loop), zx_future_new (loop) };
    zx_progress_watch (progress, futures [0]);
    zx_progress_watch (progress, futures [1]);
    zx_progress_destroy (&progress);
    //  The futures still hold it: finishing them is safe (ASan checks)
    //  and draws nothing more
    zx_future_set_result (futures [0], NULL);
    zx_future_set_result (futures [1], NULL);
    s_settle (loop);
    assert_string_equal (s_pipe_read (&out), "");
    zx_future_destroy (&futures [0]);
    zx_future_destroy (&futures [1]);
    zx_loop_destroy (&loop);
    s_pipe_close (&out);
}

static void
test_a_terminal_gets_one_line_redrawn_in_place_with_an_eta (void **state)
{
    (void) state;
    s_pipe_t out;
    s_pipe_open (&out);
    zx_progress_opts_t opts = { .fd = out.fds [1], .tty = 1, .interval_ms = 1, .width = 10 };
    zx_progress_t *progress = zx_progress_new ("work", 4, &opts);
    zx_progress_add (progress, 1, 0);
    usleep (2000);
    zx_progress_add (progress, 1, 1);
    zx_progress_finish (progress);
    const char *text = s_pipe_read (&out);
    //  Each draw starts with a carriage return; only the last ends the line
    assert_true (s_count_lines (text, "\r") >= 2);
    assert_int_equal (s_count_lines (text, "\n"), 1);
    assert_non_null (strstr (text, "work [##........]  25%  1/4"));
    assert_non_null (strstr (text, "ETA"));
    assert_non_null (strstr (text, "work [#####.....]  50%  2/4  1 failed"));
    //  After finish, counts are kept but nothing is drawn
    zx_progress_add (progress, 2, 0);
    assert_int_equal (s_count_lines (s_pipe_read (&out), "\n"), 1);
    zx_progress_stats_t stats;
    zx_progress_stats (progress, &stats);
    assert_int_equal (stats.done, 4);
    zx_progress_destroy (&progress);
    s_pipe_close (&out);
}

static void
test_the_eta_is_what_is_left_at_the_recent_rate (void **state)
{
    (void) state;
    zx_progress_opts_t opts = { .fd = -1 };
    zx_progress_t *progress = zx_progress_new (NULL, 1000, &opts);
    zx_progress_stats_t stats;
    zx_progress_stats (progress, &stats);
    assert_true (stats.rate == 0);
    assert_true (stats.eta_s < 0);          //  Unknown before anything finished
    usleep (20 * 1000);
    zx_progress_add (progress, 100, 0);
    zx_progress_stats (progress, &stats);
    assert_true (stats.rate > 0);
    //  900 left at the measured rate, whatever the machine's speed
    double expected = 900 / stats.rate;
    assert_true (stats.eta_s > expected * 0.99 && stats.eta_s < expected * 1.01);
    zx_progress_set_total (progress, 100);
    zx_progress_stats (progress, &stats);
    assert_true (stats.eta_s >= 0 && stats.eta_s < 1e-9);
    zx_progress_destroy (&progress);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_plain_output_says_each_tenth_once_with_counts),
        cmocka_unit_test (test_watched_futures_count_done_failed_and_cancelled),
        cmocka_unit_test (test_a_progress_destroyed_before_its_futures_finish_counts_them_safely),
        cmocka_unit_test (test_a_terminal_gets_one_line_redrawn_in_place_with_an_eta),
        cmocka_unit_test (test_the_eta_is_what_is_left_at_the_recent_rate),
    };
    zx_init (argc, argv);
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
