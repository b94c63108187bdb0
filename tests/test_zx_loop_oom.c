/*  test_zx_loop_oom.c - the loop out of memory: calls other threads post
    while its ready queue cannot grow stay queued, none lost, and each runs
    once when memory is back (a posted call may be what ends a future).

    DESIGN: this program is linked with -Wl,--wrap=malloc, so the malloc
    calls of the library's objects linked into it go through __wrap_malloc,
    which fails them while s_failing is set and the caller is the loop's
    thread. The posting threads grow the loop's queue of posted calls with
    realloc, which is not wrapped. Nothing here is timed: the loop runs a
    bounded time (zx__loop_run_until with a deadline, 30 ms), and
    the checks are on counts.                                            */
#include "testutil.h"
#include "zx_loop.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

void *__real_malloc (size_t size);
void *__wrap_malloc (size_t size);

static atomic_bool s_failing;
static pthread_t s_loop_thread;
static atomic_long s_refused;

void *
__wrap_malloc (size_t size)
{
    if (atomic_load (&s_failing) && pthread_equal (pthread_self (), s_loop_thread)) {
        atomic_fetch_add (&s_refused, 1);
        return NULL;
    }
    return __real_malloc (size);
}

#define S_CALLS 300

typedef struct {
    zx_loop_t *loop;
    int first, count;
} s_poster_t;

static atomic_int s_ran [S_CALLS * 2];

static void
s_mark (zx_loop_t *loop, void *arg)
{
    (void) loop;
    atomic_fetch_add (&s_ran [(intptr_t) arg], 1);
}

static void *
s_post (void *arg)
{
    s_poster_t *poster = (s_poster_t *) arg;
    for (int i = poster->first; i < poster->first + poster->count; i++)
        assert_int_equal (zx_loop_call_soon_threadsafe (poster->loop, s_mark,
                                                        (void *) (intptr_t) i), ZX_OK);
    return NULL;
}

static void
s_post_from_thread (zx_loop_t *loop, int first, int count)
{
    s_poster_t poster = { loop, first, count };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_post, &poster), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
}

static int
s_total (int count)
{
    int total = 0;
    for (int i = 0; i < count; i++)
        total += atomic_load (&s_ran [i]);
    return total;
}

static bool
s_all_ran (void *arg)
{
    return s_total (S_CALLS * 2) >= (int) (intptr_t) arg;
}

static void
test_calls_posted_while_the_ready_queue_cannot_grow_all_run_once_later (void **state)
{
    (void) state;
    for (int i = 0; i < S_CALLS * 2; i++)
        atomic_store (&s_ran [i], 0);
    s_loop_thread = pthread_self ();
    zx_loop_t *loop = zx_loop_new ();
    assert_non_null (loop);
    //  Posted before memory runs out: the loop has not run, so its ready
    //  queue has no room yet
    s_post_from_thread (loop, 0, S_CALLS);
    atomic_store (&s_refused, 0);
    atomic_store (&s_failing, true);
    //  A few dozen iterations with every malloc of this thread refused:
    //  nothing runs, and more calls come meanwhile
    zx_err_t rc = zx__loop_run_until (loop, s_all_ran, (void *) (intptr_t) 1,
                                      zx_test_now_ms () + 30);
    s_post_from_thread (loop, S_CALLS, S_CALLS);
    zx_err_t again = zx__loop_run_until (loop, s_all_ran, (void *) (intptr_t) 1,
                                         zx_test_now_ms () + 30);
    atomic_store (&s_failing, false);
    assert_int_equal (rc, ZX_ETIMEDOUT);
    assert_int_equal (again, ZX_ETIMEDOUT);
    assert_true (atomic_load (&s_refused) > 0);
    assert_int_equal (s_total (S_CALLS * 2), 0);
    //  Memory is back: every call runs, once
    assert_int_equal (zx__loop_run_until (loop, s_all_ran, (void *) (intptr_t) (S_CALLS * 2),
                                          zx_test_now_ms () + 10000), ZX_OK);
    zx__loop_run_until (loop, NULL, NULL, zx_test_now_ms () + 20);
    for (int i = 0; i < S_CALLS * 2; i++)
        assert_int_equal (atomic_load (&s_ran [i]), 1);
    zx_loop_destroy (&loop);
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_calls_posted_while_the_ready_queue_cannot_grow_all_run_once_later),
};

ZX_TEST_MAIN (tests)
