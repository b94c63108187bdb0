/*  testutil_wait.h - helpers of the waiting tests (test_zx_wait.c,
    test_zx_gather.c): plans, which make a set of futures each of which
    finishes after a delay, one way, and a runner that plays a scenario
    twice, from plain code and inside a coroutine. Header-only and
    static, as pool_cases.h is: each test program gets its own copy.    */
#ifndef ZX_TESTUTIL_WAIT_H_INCLUDED
#define ZX_TESTUTIL_WAIT_H_INCLUDED

#include "testutil.h"
#include <stdio.h>
#include <string.h>

//  Plans: each future of a scenario finishes after a delay, one way.
typedef enum { S_RESULT, S_ERROR, S_CANCEL, S_NEVER } s_outcome_t;

typedef struct {
    zx_future_t *future;
    s_outcome_t outcome;
    int64_t delay;
    uint64_t timer;
} s_plan_t;

#define S_MAX 8

//  Every future a result
static const s_outcome_t s_all_results [S_MAX] = {
    S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT, S_RESULT
};

typedef struct {
    zx_loop_t *loop;
    size_t count;
    zx_future_t *futures [S_MAX];
    s_plan_t plans [S_MAX];
} s_set_t;

//  Finishes a planned future: with its delay as an int result, with
//  ZX_ETASK "failure after D ms", or by cancelling it.
static inline void
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
static inline void
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
static inline void
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
static inline const char *
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

static inline void
s_scenario_coro (void *arg)
{
    s_coro_run_t *run = (s_coro_run_t *) arg;
    assert_true (zx_in_coro ());
    run->scenario (run->loop);
    run->finished = true;
}

static inline void
s_run_both_ways (s_scenario_fn *scenario)
{
    zx_loop_t *loop = zx_loop_new ();
    assert_non_null (loop);
    scenario (loop);
    zx_test_loop_finish (&loop);

    loop = zx_loop_new ();
    s_coro_run_t run = { scenario, loop, false };
    zx_future_t *future = zx_coro_start (loop, s_scenario_coro, &run, 0);
    assert_non_null (future);
    assert_int_equal (zx_await (future), ZX_OK);
    assert_true (run.finished);
    zx_future_destroy (&future);
    zx_test_loop_finish (&loop);
}

#endif
