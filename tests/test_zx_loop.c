/*  test_zx_loop.c - the event loop and the coroutines it runs.

    DESIGN: each test makes its own loop, drives it with callbacks and
    timers only (no executors), records what ran in a small log and checks
    the order. Timing checks assert that things overlap or are not early,
    with wide margins, never that anything is fast. Before a loop is
    destroyed the test lets it run a few milliseconds so that every
    scheduled callback (which may hold a future) has run.              */
#include "testutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  Helpers

#define S_LOG_MAX 256

//  An ordered record of small integers, appended by callbacks.
typedef struct {
    int entries [S_LOG_MAX];
    size_t count;
} s_log_t;

static void
s_log_add (s_log_t *log, int value)
{
    assert_true (log->count < S_LOG_MAX);
    log->entries [log->count++] = value;
}

//  Renders the log as "1 2 3" into a static buffer.
static const char *
s_log_str (const s_log_t *log)
{
    static char buf [S_LOG_MAX * 8];
    size_t used = 0;
    buf [0] = 0;
    for (size_t i = 0; i < log->count; i++)
        used += (size_t) snprintf (buf + used, sizeof (buf) - used, "%s%d",
                                   i ? " " : "", log->entries [i]);
    return buf;
}

//  A callback argument that appends value to log and, when stop is set,
//  stops the loop.
typedef struct {
    s_log_t *log;
    int value;
    bool stop;
} s_mark_t;

static void
s_mark (zx_loop_t *loop, void *arg)
{
    s_mark_t *mark = (s_mark_t *) arg;
    s_log_add (mark->log, mark->value);
    if (mark->stop)
        zx_loop_stop (loop);
}

static void
s_stop (zx_loop_t *loop, void *arg)
{
    (void) arg;
    zx_loop_stop (loop);
}

static void
s_set_flag (zx_loop_t *loop, void *arg)
{
    (void) loop;
    *(bool *) arg = true;
}

//  Completes a future with one int, from a timer.
typedef struct {
    zx_future_t *future;
    int64_t value;
} s_completion_t;

static void
s_complete (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_completion_t *completion = (s_completion_t *) arg;
    zx_values_t *values = zx_values_pack ("i", completion->value);
    assert_non_null (values);
    assert_int_equal (zx_future_set_result (completion->future, &values), ZX_OK);
    assert_null (values);
}

//  Lets the loop run a few milliseconds (so callbacks that hold futures
//  run), then destroys it.
static void
s_loop_finish (zx_loop_t **loop_p)
{
    assert_int_equal (zx_sleep (5), ZX_OK);
    zx_loop_destroy (loop_p);
    assert_null (*loop_p);
}

//  A loop with a safety timer: if a test hangs, the loop stops after 10 s
//  and the flag says so.
static bool s_safety_fired;

static void
s_safety (zx_loop_t *loop, void *arg)
{
    (void) arg;
    s_safety_fired = true;
    zx_loop_stop (loop);
}

static uint64_t
s_arm_safety (zx_loop_t *loop)
{
    s_safety_fired = false;
    uint64_t timer = zx_loop_call_later (loop, 10000, s_safety, NULL);
    assert_true (timer != 0);
    return timer;
}

//  --------------------------------------------------------------------
//  Loop basics

static void
test_new_loop_becomes_current_and_destroy_nulls_it (void **state)
{
    (void) state;
    assert_null (zx_loop_current ());
    zx_loop_t *loop = zx_loop_new ();
    assert_non_null (loop);
    assert_ptr_equal (zx_loop_current (), loop);
    //  Callbacks and timers not yet run are dropped
    bool ran = false;
    assert_int_equal (zx_loop_call_soon (loop, s_set_flag, &ran), ZX_OK);
    assert_true (zx_loop_call_later (loop, 10, s_set_flag, &ran) != 0);
    zx_loop_destroy (&loop);
    assert_null (loop);
    assert_false (ran);
    assert_null (zx_loop_current ());
    zx_loop_destroy (&loop);
    zx_loop_destroy (NULL);
}

static void
test_call_soon_runs_callbacks_in_scheduling_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    s_mark_t marks [20];
    for (int i = 0; i < 20; i++) {
        marks [i] = (s_mark_t) { &log, i, i == 19 };
        assert_int_equal (zx_loop_call_soon (loop, s_mark, &marks [i]), ZX_OK);
    }
    //  Nothing runs until the loop does
    assert_int_equal (log.count, 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log),
        "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19");
    assert_int_equal (zx_loop_call_soon (NULL, s_mark, &marks [0]), ZX_EINVAL);
    assert_int_equal (zx_loop_call_soon (loop, NULL, NULL), ZX_EINVAL);
    s_loop_finish (&loop);
}

//  A callback that schedules another, at the front of the log.
typedef struct {
    s_log_t *log;
    s_mark_t *next;
} s_chain_t;

static void
s_chain (zx_loop_t *loop, void *arg)
{
    s_chain_t *chain = (s_chain_t *) arg;
    s_log_add (chain->log, 1);
    assert_int_equal (zx_loop_call_soon (loop, s_mark, chain->next), ZX_OK);
}

static void
test_callback_scheduled_by_a_callback_runs_on_the_next_iteration (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    //  1 schedules 4; 2 was already ready; the zero-delay timer 3 fires at
    //  the end of the first iteration, so 4 must come after it
    s_mark_t four = { &log, 4, true };
    s_chain_t one = { &log, &four };
    s_mark_t two = { &log, 2, false };
    s_mark_t three = { &log, 3, false };
    assert_true (zx_loop_call_later (loop, 0, s_mark, &three) != 0);
    assert_int_equal (zx_loop_call_soon (loop, s_chain, &one), ZX_OK);
    assert_int_equal (zx_loop_call_soon (loop, s_mark, &two), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log), "1 2 3 4");
    s_loop_finish (&loop);
}

static void
s_reschedule_forever (zx_loop_t *loop, void *arg)
{
    (*(int *) arg)++;
    assert_int_equal (zx_loop_call_soon (loop, s_reschedule_forever, arg), ZX_OK);
}

static void
test_a_callback_rescheduling_itself_does_not_starve_timers (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    uint64_t safety = s_arm_safety (loop);
    int runs = 0;
    assert_int_equal (zx_loop_call_soon (loop, s_reschedule_forever, &runs), ZX_OK);
    assert_true (zx_loop_call_later (loop, 20, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_false (s_safety_fired);
    assert_true (runs > 1);
    assert_true (zx_loop_cancel_timer (loop, safety));
    //  The pending reschedule is dropped with the loop
    zx_loop_destroy (&loop);
}

static int64_t
s_cpu_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_an_idle_loop_blocks_instead_of_spinning (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    //  200 ms of waiting, for a timer and then for a plain sleep, should
    //  cost next to no CPU time
    int64_t cpu = s_cpu_ms ();
    int64_t start = zx_test_now_ms ();
    assert_true (zx_loop_call_later (loop, 100, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_int_equal (zx_sleep (100), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 195);
    assert_true (s_cpu_ms () - cpu < 100);
    s_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  Timers

static void
test_call_later_fires_in_deadline_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    const int delays [] = { 40, 10, 30, 0, 20, 50 };
    s_mark_t marks [6];
    int64_t start = zx_test_now_ms ();
    for (int i = 0; i < 6; i++) {
        marks [i] = (s_mark_t) { &log, delays [i], delays [i] == 50 };
        assert_true (zx_loop_call_later (loop, delays [i], s_mark, &marks [i]) != 0);
    }
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log), "0 10 20 30 40 50");
    //  Not early (allowing for millisecond rounding)
    assert_true (zx_test_now_ms () - start >= 48);
    assert_int_equal (zx_loop_call_later (loop, 1, NULL, NULL), 0);
    assert_int_equal (zx_loop_call_later (NULL, 1, s_stop, NULL), 0);
    s_loop_finish (&loop);
}

static void
test_call_later_with_equal_deadlines_fires_in_scheduling_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    //  Many timers scheduled back to back share their microsecond deadline;
    //  a heap without the sequence tie-break would reorder them
    s_mark_t marks [200];
    for (int i = 0; i < 200; i++) {
        marks [i] = (s_mark_t) { &log, i, i == 99 };
        assert_true (zx_loop_call_later (loop, i < 100 ? 10 : 0, s_mark, &marks [i]) != 0);
    }
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_int_equal (log.count, 200);
    //  The zero-delay ones come first, each group in scheduling order
    for (int i = 0; i < 100; i++) {
        assert_int_equal (log.entries [i], 100 + i);
        assert_int_equal (log.entries [100 + i], i);
    }
    s_loop_finish (&loop);
}

static void
test_cancel_timer_prevents_firing_and_is_false_for_fired_or_unknown (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    s_mark_t marks [20];
    uint64_t timers [20];
    for (int i = 0; i < 20; i++) {
        marks [i] = (s_mark_t) { &log, i, false };
        //  Deadlines out of order, so cancelling exercises the heap
        timers [i] = zx_loop_call_later (loop, 5 + (i * 7) % 20, s_mark, &marks [i]);
        assert_true (timers [i] != 0);
        for (int j = 0; j < i; j++)
            assert_true (timers [i] != timers [j]);
    }
    for (int i = 0; i < 20; i += 3)
        assert_true (zx_loop_cancel_timer (loop, timers [i]));
    //  A second cancel, id 0 and an id never issued are refused
    assert_false (zx_loop_cancel_timer (loop, timers [0]));
    assert_false (zx_loop_cancel_timer (loop, 0));
    assert_false (zx_loop_cancel_timer (loop, timers [19] + 1000));
    assert_false (zx_loop_cancel_timer (NULL, timers [1]));
    assert_true (zx_loop_call_later (loop, 60, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);

    //  The survivors fired, in deadline order, and the cancelled did not
    char expected [256] = "";
    size_t used = 0;
    for (int delay = 5; delay < 25; delay++)
        for (int i = 0; i < 20; i++)
            if (i % 3 != 0 && 5 + (i * 7) % 20 == delay)
                used += (size_t) snprintf (expected + used, sizeof (expected) - used,
                                           "%s%d", used ? " " : "", i);
    assert_string_equal (s_log_str (&log), expected);
    //  Fired timers cannot be cancelled
    assert_false (zx_loop_cancel_timer (loop, timers [1]));
    assert_false (zx_loop_cancel_timer (loop, timers [2]));
    s_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  Cross-thread calls

#define S_THREADS       4
#define S_PER_THREAD    2000

typedef struct {
    zx_loop_t *loop;
    int next [S_THREADS];       //  Next sequence number expected per thread
    int received;
    bool out_of_order;
    pthread_t threads [S_THREADS];
} s_remote_t;

static s_remote_t s_remote;

static void
s_remote_call (zx_loop_t *loop, void *arg)
{
    uintptr_t code = (uintptr_t) arg - 1;
    int thread = (int) (code / S_PER_THREAD);
    int seq = (int) (code % S_PER_THREAD);
    if (s_remote.next [thread] != seq)
        s_remote.out_of_order = true;
    s_remote.next [thread] = seq + 1;
    if (++s_remote.received == S_THREADS * S_PER_THREAD)
        zx_loop_stop (loop);
}

static void *
s_remote_thread (void *arg)
{
    uintptr_t thread = (uintptr_t) arg;
    //  Let the loop block in its poll first
    usleep (50 * 1000);
    for (uintptr_t seq = 0; seq < S_PER_THREAD; seq++) {
        void *code = (void *) (thread * S_PER_THREAD + seq + 1);
        if (zx_loop_call_soon_threadsafe (s_remote.loop, s_remote_call, code) != ZX_OK)
            abort ();
        if (seq % 256 == 0)
            usleep (1000);      //  Let the loop drain and block again now and then
    }
    return NULL;
}

static void
s_start_threads (zx_loop_t *loop, void *arg)
{
    (void) loop;
    (void) arg;
    for (uintptr_t i = 0; i < S_THREADS; i++)
        assert_int_equal (pthread_create (&s_remote.threads [i], NULL,
                                          s_remote_thread, (void *) i), 0);
}

static void
test_call_soon_threadsafe_from_four_threads_wakes_a_blocked_loop (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    memset (&s_remote, 0, sizeof (s_remote));
    s_remote.loop = loop;
    uint64_t safety = s_arm_safety (loop);
    assert_int_equal (zx_loop_call_soon (loop, s_start_threads, NULL), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal (pthread_join (s_remote.threads [i], NULL), 0);
    assert_false (s_safety_fired);
    assert_int_equal (s_remote.received, S_THREADS * S_PER_THREAD);
    assert_false (s_remote.out_of_order);
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal (s_remote.next [i], S_PER_THREAD);
    assert_true (zx_loop_cancel_timer (loop, safety));
    s_loop_finish (&loop);
}

static void *
s_stop_later_thread (void *arg)
{
    usleep (30 * 1000);
    if (zx_loop_call_soon_threadsafe ((zx_loop_t *) arg, s_stop, NULL) != ZX_OK)
        abort ();
    return NULL;
}

//  --------------------------------------------------------------------
//  Running and stopping

static void
s_try_nested_runs (zx_loop_t *loop, void *arg)
{
    zx_err_t *codes = (zx_err_t *) arg;
    zx_future_t *future = zx_future_new (loop);
    assert_non_null (future);
    codes [0] = zx_loop_run_until_complete (loop, future);
    codes [1] = zx_loop_run_forever (loop);
    codes [2] = zx_await (future);
    codes [3] = zx_sleep (1);
    codes [4] = zx_future_wait (future, 10);
    zx_future_destroy (&future);
    zx_loop_stop (loop);
}

static void
test_run_from_inside_a_callback_returns_busy (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_err_t codes [5] = { ZX_OK, ZX_OK, ZX_OK, ZX_OK, ZX_OK };
    assert_int_equal (zx_loop_call_soon (loop, s_try_nested_runs, codes), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal (codes [i], ZX_EBUSY);
    s_loop_finish (&loop);
}

static void
s_try_runs_in_coroutine (void *arg)
{
    zx_err_t *codes = (zx_err_t *) arg;
    zx_loop_t *loop = zx_loop_current ();
    zx_future_t *future = zx_future_new (loop);
    assert_non_null (future);
    codes [0] = zx_loop_run_until_complete (loop, future);
    codes [1] = zx_loop_run_forever (loop);
    zx_future_destroy (&future);
}

static void
test_run_from_inside_a_coroutine_returns_busy (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_err_t codes [2] = { ZX_OK, ZX_OK };
    zx_future_t *future = zx_coro_start (loop, s_try_runs_in_coroutine, codes, 0);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_int_equal (codes [0], ZX_EBUSY);
    assert_int_equal (codes [1], ZX_EBUSY);
    zx_future_destroy (&future);
    s_loop_finish (&loop);
}

static void
test_stop_ends_run_forever (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    //  Stop from a timer: run_forever returns after that iteration
    s_mark_t stopper = { &log, 1, true };
    s_mark_t after = { &log, 2, false };
    assert_true (zx_loop_call_later (loop, 20, s_mark, &stopper) != 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 18);
    assert_string_equal (s_log_str (&log), "1");

    //  The current iteration ends first: a callback ready in the same
    //  batch as the stopping one still runs (as asyncio's stop does), one
    //  it schedules waits for the next run
    s_mark_t first = { &log, 3, true };
    s_chain_t chain = { &log, &after };
    assert_int_equal (zx_loop_call_soon (loop, s_mark, &first), ZX_OK);
    assert_int_equal (zx_loop_call_soon (loop, s_chain, &chain), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log), "1 3 1");
    s_mark_t last = { &log, 4, true };
    assert_int_equal (zx_loop_call_soon (loop, s_mark, &last), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log), "1 3 1 2 4");

    //  Stop from another thread, through call_soon_threadsafe
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_stop_later_thread, loop), 0);
    uint64_t safety = s_arm_safety (loop);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_false (s_safety_fired);
    assert_true (zx_loop_cancel_timer (loop, safety));
    s_loop_finish (&loop);
}

static void
s_fail_future (zx_loop_t *loop, void *arg)
{
    (void) loop;
    assert_int_equal (zx_future_set_error ((zx_future_t *) arg, ZX_EPROTO,
                                           "bad frame %d", 3), ZX_OK);
}

static void
test_run_until_complete_returns_when_a_timer_completes_the_future (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *future = zx_future_new (loop);
    assert_non_null (future);
    s_completion_t completion = { future, 42 };
    assert_true (zx_loop_call_later (loop, 20, s_complete, &completion) != 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_loop_run_until_complete (loop, future), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 18);
    int64_t value = 0;
    assert_int_equal (zx_future_result_int (future, &value), ZX_OK);
    assert_int_equal (value, 42);
    //  An already finished future returns at once
    assert_int_equal (zx_loop_run_until_complete (loop, future), ZX_OK);
    zx_future_destroy (&future);

    //  A failed future: its code comes back
    future = zx_future_new (loop);
    assert_true (zx_loop_call_later (loop, 5, s_fail_future, future) != 0);
    assert_int_equal (zx_loop_run_until_complete (loop, future), ZX_EPROTO);
    assert_string_equal (zx_future_message (future), "bad frame 3");
    zx_future_destroy (&future);
    assert_int_equal (zx_loop_run_until_complete (loop, NULL), ZX_EINVAL);
    s_loop_finish (&loop);
}

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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    assert_true (elapsed < 150);
    zx_future_destroy (&first);
    zx_future_destroy (&second);
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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
    s_loop_finish (&loop);
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

static void
test_current_loop_is_the_running_one_else_the_newest_alive (void **state)
{
    (void) state;
    assert_null (zx_loop_current ());
    zx_loop_t *first = zx_loop_new ();
    assert_ptr_equal (zx_loop_current (), first);
    zx_loop_t *second = zx_loop_new ();
    assert_ptr_equal (zx_loop_current (), second);
    zx_loop_destroy (&second);
    assert_ptr_equal (zx_loop_current (), first);
    second = zx_loop_new ();
    zx_loop_destroy (&first);
    assert_ptr_equal (zx_loop_current (), second);
    zx_loop_destroy (&second);
    assert_null (zx_loop_current ());
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_new_loop_becomes_current_and_destroy_nulls_it),
    cmocka_unit_test (test_call_soon_runs_callbacks_in_scheduling_order),
    cmocka_unit_test (test_callback_scheduled_by_a_callback_runs_on_the_next_iteration),
    cmocka_unit_test (test_a_callback_rescheduling_itself_does_not_starve_timers),
    cmocka_unit_test (test_an_idle_loop_blocks_instead_of_spinning),
    cmocka_unit_test (test_call_later_fires_in_deadline_order),
    cmocka_unit_test (test_call_later_with_equal_deadlines_fires_in_scheduling_order),
    cmocka_unit_test (test_cancel_timer_prevents_firing_and_is_false_for_fired_or_unknown),
    cmocka_unit_test (test_call_soon_threadsafe_from_four_threads_wakes_a_blocked_loop),
    cmocka_unit_test (test_run_from_inside_a_callback_returns_busy),
    cmocka_unit_test (test_run_from_inside_a_coroutine_returns_busy),
    cmocka_unit_test (test_stop_ends_run_forever),
    cmocka_unit_test (test_run_until_complete_returns_when_a_timer_completes_the_future),
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
    cmocka_unit_test (test_current_loop_is_the_running_one_else_the_newest_alive),
};

ZX_TEST_MAIN (tests)
