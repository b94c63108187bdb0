/*  test_zx_loop.c - the event loop: callbacks, timers, calls from other
    threads, running and stopping, the current loop. (test_zx_coro.c: the
    coroutines it runs.)

    DESIGN: each test makes its own loop, drives it with callbacks and
    timers only (no executors), records what ran in a small log and checks
    the order. Timing checks assert that things overlap or are not early,
    with wide margins, never that anything is fast. Before a loop is
    destroyed the test lets it run a few milliseconds so that every
    scheduled callback (which may hold a future) has run.              */
#include "testutil_loop.h"
#include "zx_loop.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  Helpers (and testutil_loop.h)

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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  Calls run before the wait (a pool's pump), and the loop's time

typedef struct {
    s_log_t *log;
    s_mark_t *before;           //  Queued to run before the wait
    s_mark_t *next;             //  Queued for the next iteration
} s_gather_t;

static void
s_gather (zx_loop_t *loop, void *arg)
{
    s_gather_t *gather = (s_gather_t *) arg;
    s_log_add (gather->log, 1);
    assert_int_equal (zx__loop_call_before_poll (loop, s_mark, gather->before), ZX_OK);
    assert_int_equal (zx_loop_call_soon (loop, s_mark, gather->next), ZX_OK);
}

static void
test_before_poll_runs_after_the_iterations_callbacks_before_its_timers (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    s_log_t log = { { 0 }, 0 };
    //  1 queues 3 to run before the wait and 5 for the next iteration; 2
    //  was ready too; the zero-delay timer 4 fires when the wait ends
    s_mark_t three = { &log, 3, false };
    s_mark_t five = { &log, 5, true };
    s_gather_t one = { &log, &three, &five };
    s_mark_t two = { &log, 2, false };
    s_mark_t four = { &log, 4, false };
    assert_true (zx_loop_call_later (loop, 0, s_mark, &four) != 0);
    assert_int_equal (zx_loop_call_soon (loop, s_gather, &one), ZX_OK);
    assert_int_equal (zx_loop_call_soon (loop, s_mark, &two), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_string_equal (s_log_str (&log), "1 2 3 4 5");
    assert_int_equal (zx__loop_call_before_poll (NULL, s_mark, &three), ZX_EINVAL);
    assert_int_equal (zx__loop_call_before_poll (loop, NULL, &three), ZX_EINVAL);
    zx_test_loop_finish (&loop);
}

typedef struct {
    s_log_t *log;
    int left;
} s_requeue_t;

//  Queues itself before the wait again: each time waits for the next
//  iteration, so a timer still gets its turn in between
static void
s_requeue (zx_loop_t *loop, void *arg)
{
    s_requeue_t *requeue = (s_requeue_t *) arg;
    s_log_add (requeue->log, 1);
    if (--requeue->left > 0)
        assert_int_equal (zx__loop_call_before_poll (loop, s_requeue, requeue), ZX_OK);
}

static void
test_before_poll_queued_by_itself_waits_for_the_next_iteration (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    uint64_t safety = s_arm_safety (loop);
    s_log_t log = { { 0 }, 0 };
    s_requeue_t requeue = { &log, 3 };
    s_mark_t two = { &log, 2, false };
    //  Queued from outside a run: it runs in the first iteration
    assert_int_equal (zx__loop_call_before_poll (loop, s_requeue, &requeue), ZX_OK);
    assert_true (zx_loop_call_later (loop, 0, s_mark, &two) != 0);
    assert_true (zx_loop_call_later (loop, 50, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_false (s_safety_fired);
    assert_string_equal (s_log_str (&log), "1 2 1 1");
    assert_true (zx_loop_cancel_timer (loop, safety));
    zx_test_loop_finish (&loop);
}

static void
test_before_poll_forgotten_never_runs (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    bool ran = false, other = false;
    assert_int_equal (zx__loop_call_before_poll (loop, s_set_flag, &ran), ZX_OK);
    assert_int_equal (zx__loop_call_before_poll (loop, s_set_flag, &other), ZX_OK);
    zx__loop_forget_calls (loop, s_set_flag, &ran);
    assert_true (zx_loop_call_later (loop, 10, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_false (ran);
    assert_true (other);
    //  Queued and never run: dropped with the loop, nothing leaks (ASan)
    assert_int_equal (zx__loop_call_before_poll (loop, s_set_flag, &ran), ZX_OK);
    zx_loop_destroy (&loop);
    assert_false (ran);
}

typedef struct {
    int64_t seen_us;            //  zx__loop_now_us in the callback
    int64_t clock_us;           //  The clock right after it
} s_times_t;

static void
s_read_times (zx_loop_t *loop, void *arg)
{
    s_times_t *times = (s_times_t *) arg;
    times->seen_us = zx__loop_now_us (loop);
    times->clock_us = zx__now_us ();
    zx_loop_stop (loop);
}

static void
test_the_loops_time_is_its_last_wake_inside_a_run_and_the_clock_outside (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    //  Outside a run: the clock itself, never a stale reading
    int64_t before = zx__now_us ();
    usleep (20 * 1000);
    int64_t outside = zx__loop_now_us (loop);
    assert_true (outside >= before + 20 * 1000);
    assert_true (outside <= zx__now_us ());
    assert_true (zx__loop_now_us (NULL) >= outside);
    //  Inside: when the wait for the 30 ms timer ended, not before it
    s_times_t times = { 0, 0 };
    int64_t start = zx__now_us ();
    assert_true (zx_loop_call_later (loop, 30, s_read_times, &times) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_true (times.seen_us >= start + 30 * 1000);
    assert_true (times.seen_us <= times.clock_us);
    //  A second run does not start from the first run's time
    usleep (20 * 1000);
    start = zx__now_us ();
    assert_int_equal (zx_loop_call_soon (loop, s_read_times, &times), ZX_OK);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);
    assert_true (times.seen_us >= start);
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
        //  Deadlines out of order, so cancelling exercises the heap; 20 ms
        //  apart, so a preempted scheduling thread cannot swap two of them
        timers [i] = zx_loop_call_later (loop, 20 * (1 + (i * 7) % 20), s_mark, &marks [i]);
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
    assert_true (zx_loop_call_later (loop, 440, s_stop, NULL) != 0);
    assert_int_equal (zx_loop_run_forever (loop), ZX_OK);

    //  The survivors fired, in deadline order, and the cancelled did not
    char expected [256] = "";
    size_t used = 0;
    for (int slot = 0; slot < 20; slot++)
        for (int i = 0; i < 20; i++)
            if (i % 3 != 0 && (i * 7) % 20 == slot)
                used += (size_t) snprintf (expected + used, sizeof (expected) - used,
                                           "%s%d", used ? " " : "", i);
    assert_string_equal (s_log_str (&log), expected);
    //  Fired timers cannot be cancelled
    assert_false (zx_loop_cancel_timer (loop, timers [1]));
    assert_false (zx_loop_cancel_timer (loop, timers [2]));
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
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
    zx_test_loop_finish (&loop);
}

//  --------------------------------------------------------------------
//  The current loop

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
    cmocka_unit_test (test_before_poll_runs_after_the_iterations_callbacks_before_its_timers),
    cmocka_unit_test (test_before_poll_queued_by_itself_waits_for_the_next_iteration),
    cmocka_unit_test (test_before_poll_forgotten_never_runs),
    cmocka_unit_test (test_the_loops_time_is_its_last_wake_inside_a_run_and_the_clock_outside),
    cmocka_unit_test (test_call_later_fires_in_deadline_order),
    cmocka_unit_test (test_call_later_with_equal_deadlines_fires_in_scheduling_order),
    cmocka_unit_test (test_cancel_timer_prevents_firing_and_is_false_for_fired_or_unknown),
    cmocka_unit_test (test_call_soon_threadsafe_from_four_threads_wakes_a_blocked_loop),
    cmocka_unit_test (test_run_from_inside_a_callback_returns_busy),
    cmocka_unit_test (test_run_from_inside_a_coroutine_returns_busy),
    cmocka_unit_test (test_stop_ends_run_forever),
    cmocka_unit_test (test_run_until_complete_returns_when_a_timer_completes_the_future),
    cmocka_unit_test (test_current_loop_is_the_running_one_else_the_newest_alive),
};

ZX_TEST_MAIN (tests)
