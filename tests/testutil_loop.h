/*  testutil_loop.h - helpers of the event loop and coroutine tests
    (test_zx_loop.c, test_zx_coro.c): an ordered log of small integers
    that callbacks append to, and callbacks that mark, stop, set a flag or
    complete a future. Header-only and static, as pool_cases.h is: each
    test program gets its own copy.                                      */
#ifndef ZX_TESTUTIL_LOOP_H_INCLUDED
#define ZX_TESTUTIL_LOOP_H_INCLUDED

#include "testutil.h"
#include <stdio.h>

#define S_LOG_MAX 256

//  An ordered record of small integers, appended by callbacks.
typedef struct {
    int entries [S_LOG_MAX];
    size_t count;
} s_log_t;

static inline void
s_log_add (s_log_t *log, int value)
{
    assert_true (log->count < S_LOG_MAX);
    log->entries [log->count++] = value;
}

//  Renders the log as "1 2 3" into a static buffer.
static inline const char *
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

static inline void
s_mark (zx_loop_t *loop, void *arg)
{
    s_mark_t *mark = (s_mark_t *) arg;
    s_log_add (mark->log, mark->value);
    if (mark->stop)
        zx_loop_stop (loop);
}

static inline void
s_stop (zx_loop_t *loop, void *arg)
{
    (void) arg;
    zx_loop_stop (loop);
}

static inline void
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

static inline void
s_complete (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_completion_t *completion = (s_completion_t *) arg;
    zx_values_t *values = zx_values_pack ("i", completion->value);
    assert_non_null (values);
    assert_int_equal (zx_future_set_result (completion->future, &values), ZX_OK);
    assert_null (values);
}

#endif
