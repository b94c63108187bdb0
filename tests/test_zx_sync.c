/*  test_zx_sync.c - the semaphore, the event and the queue for coroutines.

    Coroutines wait on the objects while others, or timers, let them on;
    a test then checks the order things happened in and the objects'
    counts, never a speed. Cancelling a waiting coroutine must leave the
    object as if it had never waited. The semaphore also bounds real
    executor calls: the tasks count themselves, on a thread pool.        */
#define _GNU_SOURCE
#include "testutil.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  --------------------------------------------------------------------
//  Helpers

//  A trace of what coroutines did, as "a1 b1 a2"
typedef struct {
    char text [512];
} s_trace_t;

static void
s_note (s_trace_t *trace, const char *what)
{
    size_t used = strlen (trace->text);
    snprintf (trace->text + used, sizeof trace->text - used, "%s%s", used ? " " : "", what);
}

//  Runs the loop until every future is done (no time limit: a sanitized
//  build under load is slow, and ctest's timeout stops a test that hangs).
static void
s_finish_all (zx_future_t **futures, size_t count)
{
    size_t done = 0;
    assert_int_equal (zx_wait (futures, count, ZX_ALL_COMPLETED, -1, NULL, &done,
                               NULL, NULL), ZX_OK);
    assert_int_equal (done, count);
    for (size_t i = 0; i < count; i++)
        zx_future_destroy (&futures [i]);
}

//  Lets the loop run its ready callbacks (resumed coroutines) a few times.
static void
s_settle (void)
{
    assert_int_equal (zx_sleep (0), ZX_OK);
    assert_int_equal (zx_sleep (1), ZX_OK);
}

//  --------------------------------------------------------------------
//  Semaphore

typedef struct {
    zx_semaphore_t *sem;
    s_trace_t *trace;
    const char *name;
    zx_err_t rc;
    bool hold;                      //  Keep the permit (release later)
} s_taker_t;

static void
s_take (void *arg)
{
    s_taker_t *taker = (s_taker_t *) arg;
    taker->rc = zx_semaphore_acquire (taker->sem);
    char what [32];
    snprintf (what, sizeof what, "%s%s", taker->name, taker->rc == ZX_OK ? "+" : "!");
    s_note (taker->trace, what);
    if (taker->rc != ZX_OK || taker->hold)
        return;
    zx_sleep (5);
    snprintf (what, sizeof what, "%s-", taker->name);
    s_note (taker->trace, what);
    zx_semaphore_release (taker->sem);
}

static void
test_semaphore_lets_value_in_at_a_time_first_come_first_served (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_semaphore_t *sem = zx_semaphore_new (loop, 2);
    s_trace_t trace = { "" };
    s_taker_t takers [4] = {
        { sem, &trace, "a", ZX_OK, false }, { sem, &trace, "b", ZX_OK, false },
        { sem, &trace, "c", ZX_OK, false }, { sem, &trace, "d", ZX_OK, false } };
    zx_future_t *coros [4];
    for (int i = 0; i < 4; i++)
        coros [i] = zx_coro_start (loop, s_take, &takers [i], 0);
    s_finish_all (coros, 4);
    //  Two at a time, and the permits taken in the order they were asked
    //  for
    int holding = 0, most = 0;
    char order [8] = "";
    size_t taken = 0;
    for (const char *at = trace.text; *at; at++) {
        if (at [1] == '+' && taken < sizeof order - 1) {
            holding++;
            order [taken++] = *at;
        }
        if (at [1] == '-')
            holding--;
        most = holding > most ? holding : most;
    }
    assert_int_equal (most, 2);
    assert_string_equal (order, "abcd");
    for (int i = 0; i < 4; i++)
        assert_int_equal (takers [i].rc, ZX_OK);
    assert_int_equal (zx_semaphore_value (sem), 2);

    //  try: takes a free permit, never waits
    assert_int_equal (zx_semaphore_try_acquire (sem), ZX_OK);
    assert_int_equal (zx_semaphore_try_acquire (sem), ZX_OK);
    assert_int_equal (zx_semaphore_try_acquire (sem), ZX_EPENDING);
    assert_int_equal (zx_semaphore_value (sem), 0);
    zx_semaphore_release (sem);
    zx_semaphore_release (sem);
    zx_semaphore_destroy (&sem);
    assert_null (sem);
    zx_loop_destroy (&loop);
}

static void
s_release_later (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_semaphore_release ((zx_semaphore_t *) arg);
}

typedef struct {
    zx_semaphore_t *sem;
    zx_err_t rc;
} s_callback_try_t;

static void
s_acquire_from_callback (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_callback_try_t *test = (s_callback_try_t *) arg;
    test->rc = zx_semaphore_acquire (test->sem);
}

static void
test_semaphore_waits_by_running_the_loop_outside_coroutines (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_semaphore_t *sem = zx_semaphore_new (loop, 0);
    //  Plain code: runs the loop until a timer releases a permit
    assert_true (zx_loop_call_later (loop, 20, s_release_later, sem) != 0);
    int64_t start = zx_test_now_ms ();
    assert_int_equal (zx_semaphore_acquire (sem), ZX_OK);
    assert_true (zx_test_now_ms () - start >= 18);
    assert_int_equal (zx_semaphore_value (sem), 0);
    //  A loop callback cannot wait: ZX_EBUSY, and nothing is queued
    s_callback_try_t test = { sem, ZX_OK };
    assert_int_equal (zx_loop_call_soon (loop, s_acquire_from_callback, &test), ZX_OK);
    s_settle ();
    assert_int_equal (test.rc, ZX_EBUSY);
    zx_semaphore_release (sem);
    assert_int_equal (zx_semaphore_value (sem), 1);
    zx_semaphore_destroy (&sem);
    zx_loop_destroy (&loop);
}

static void
test_a_cancelled_acquire_leaves_the_semaphore_consistent (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_semaphore_t *sem = zx_semaphore_new (loop, 0);
    s_trace_t trace = { "" };
    s_taker_t b = { sem, &trace, "b", ZX_OK, true };
    s_taker_t c = { sem, &trace, "c", ZX_OK, true };
    zx_future_t *cb = zx_coro_start (loop, s_take, &b, 0);
    zx_future_t *cc = zx_coro_start (loop, s_take, &c, 0);
    s_settle ();
    //  Cancelled while waiting: it returns, and a later permit is not
    //  handed to it
    assert_true (zx_future_cancel (cb));
    s_settle ();
    assert_int_equal (b.rc, ZX_ECANCELLED);
    zx_semaphore_release (sem);
    s_settle ();
    assert_int_equal (c.rc, ZX_OK);
    assert_string_equal (trace.text, "b! c+");
    assert_int_equal (zx_semaphore_value (sem), 0);
    zx_future_destroy (&cb);
    zx_future_destroy (&cc);

    //  Handed a permit and cancelled at the same moment: the permit goes
    //  on to the next waiter
    trace.text [0] = 0;
    b.rc = c.rc = ZX_OK;
    cb = zx_coro_start (loop, s_take, &b, 0);
    cc = zx_coro_start (loop, s_take, &c, 0);
    s_settle ();
    zx_semaphore_release (sem);         //  To b, not yet resumed
    assert_true (zx_future_cancel (cb));
    s_settle ();
    assert_int_equal (b.rc, ZX_ECANCELLED);
    assert_int_equal (c.rc, ZX_OK);
    assert_int_equal (zx_semaphore_value (sem), 0);
    zx_semaphore_release (sem);
    assert_int_equal (zx_semaphore_value (sem), 1);
    zx_future_destroy (&cb);
    zx_future_destroy (&cc);

    //  Destroyed while one waits: it is woken with ZX_ESHUTDOWN
    b.rc = ZX_OK;
    zx_semaphore_t *gone = zx_semaphore_new (loop, 0);
    b.sem = gone;
    cb = zx_coro_start (loop, s_take, &b, 0);
    s_settle ();
    zx_semaphore_destroy (&gone);
    s_settle ();
    assert_int_equal (b.rc, ZX_ESHUTDOWN);
    zx_future_destroy (&cb);
    zx_semaphore_destroy (&sem);
    zx_loop_destroy (&loop);
}

//  Bounding 1,000 executor calls to 5 at a time: the tasks count how many
//  of them run at once
static atomic_int s_running;
static atomic_int s_most;

ZX_TASK (count_running)
{
    (void) call;
    int now = atomic_fetch_add (&s_running, 1) + 1;
    int most = atomic_load (&s_most);
    while (now > most && !atomic_compare_exchange_weak (&s_most, &most, now))
        ;
    struct timespec delay = { 0, 500 * 1000 };
    nanosleep (&delay, NULL);
    atomic_fetch_sub (&s_running, 1);
    return 0;
}

typedef struct {
    zx_executor_t *pool;
    zx_semaphore_t *five;
} s_bounded_t;

static void
s_bounded (void *arg)
{
    s_bounded_t *bounded = (s_bounded_t *) arg;
    if (zx_semaphore_acquire (bounded->five) != ZX_OK)
        return;
    zx_future_t *future = zx_run_in_executor (NULL, bounded->pool, "count_running", NULL);
    zx_await (future);
    zx_future_destroy (&future);
    zx_semaphore_release (bounded->five);
}

static void
test_a_semaphore_bounds_a_thousand_executor_calls_to_five_at_a_time (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 8 });
    s_bounded_t bounded = { pool, zx_semaphore_new (loop, 5) };
    atomic_store (&s_running, 0);
    atomic_store (&s_most, 0);
    static zx_future_t *coros [1000];
    for (int i = 0; i < 1000; i++)
        coros [i] = zx_coro_start (loop, s_bounded, &bounded, 0);
    s_finish_all (coros, 1000);
    //  Never more than five at once, and more than one at times
    assert_true (atomic_load (&s_most) <= 5);
    assert_true (atomic_load (&s_most) >= 2);
    assert_int_equal (zx_semaphore_value (bounded.five), 5);
    zx_semaphore_destroy (&bounded.five);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  --------------------------------------------------------------------
//  Event

typedef struct {
    zx_event_t *event;
    s_trace_t *trace;
    const char *name;
    zx_err_t rc;
} s_waiter_t;

static void
s_wait_event (void *arg)
{
    s_waiter_t *waiter = (s_waiter_t *) arg;
    waiter->rc = zx_event_wait (waiter->event);
    char what [32];
    snprintf (what, sizeof what, "%s%s", waiter->name, waiter->rc == ZX_OK ? "" : "!");
    s_note (waiter->trace, what);
}

static void
s_set_event (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_event_set ((zx_event_t *) arg);
}

static void
test_event_wakes_every_waiter_and_cancel_leaves_it_unchanged (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_event_t *event = zx_event_new (loop);
    s_trace_t trace = { "" };
    s_waiter_t waiters [3] = {
        { event, &trace, "a", ZX_OK }, { event, &trace, "b", ZX_OK }, { event, &trace, "c", ZX_OK } };
    zx_future_t *coros [3];
    for (int i = 0; i < 3; i++)
        coros [i] = zx_coro_start (loop, s_wait_event, &waiters [i], 0);
    s_settle ();
    assert_string_equal (trace.text, "");
    //  b is cancelled while it waits: the event stays clear
    assert_true (zx_future_cancel (coros [1]));
    s_settle ();
    assert_string_equal (trace.text, "b!");
    assert_false (zx_event_is_set (event));
    zx_event_set (event);
    assert_true (zx_event_is_set (event));
    s_finish_all (coros, 3);
    assert_string_equal (trace.text, "b! a c");
    //  Set: a wait returns at once; cleared: it waits again
    assert_int_equal (zx_event_wait (event), ZX_OK);
    zx_event_clear (event);
    assert_false (zx_event_is_set (event));
    assert_true (zx_loop_call_later (loop, 10, s_set_event, event) != 0);
    assert_int_equal (zx_event_wait (event), ZX_OK);
    zx_event_destroy (&event);
    assert_null (event);
    zx_loop_destroy (&loop);
}

//  --------------------------------------------------------------------
//  Queue

typedef struct {
    zx_queue_t *queue;
    s_trace_t *trace;
    int from, count;                //  Producer: puts from .. from + count - 1
    zx_err_t rc;
} s_worker_t;

static void
s_producer (void *arg)
{
    s_worker_t *self = (s_worker_t *) arg;
    for (intptr_t i = self->from; i < self->from + self->count; i++) {
        self->rc = zx_queue_put (self->queue, (void *) i);
        if (self->rc != ZX_OK)
            return;
        char what [16];
        snprintf (what, sizeof what, "p%d", (int) i);
        s_note (self->trace, what);
    }
}

static void
s_consumer (void *arg)
{
    s_worker_t *self = (s_worker_t *) arg;
    for (int i = 0; i < self->count; i++) {
        void *item = NULL;
        self->rc = zx_queue_get (self->queue, &item);
        if (self->rc != ZX_OK)
            return;
        char what [16];
        snprintf (what, sizeof what, "g%d", (int) (intptr_t) item);
        s_note (self->trace, what);
        zx_queue_task_done (self->queue);
    }
}

static void
test_a_bounded_queue_makes_producers_wait_and_keeps_order (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_queue_t *queue = zx_queue_new (loop, 2, NULL);
    s_trace_t trace = { "" };
    s_worker_t producer = { queue, &trace, 1, 5, ZX_OK };
    zx_future_t *coros [2];
    coros [0] = zx_coro_start (loop, s_producer, &producer, 0);
    s_settle ();
    //  Two fit; the producer waits for room
    assert_string_equal (trace.text, "p1 p2");
    assert_int_equal (zx_queue_size (queue), 2);
    assert_int_equal (zx_queue_try_put (queue, (void *) 99), ZX_EQUEUE_FULL);
    s_worker_t consumer = { queue, &trace, 0, 5, ZX_OK };
    coros [1] = zx_coro_start (loop, s_consumer, &consumer, 0);
    s_finish_all (coros, 2);
    assert_int_equal (producer.rc, ZX_OK);
    assert_int_equal (consumer.rc, ZX_OK);
    //  Every item once, in order
    const char *at = trace.text;
    for (int i = 1; i <= 5; i++) {
        char what [8];
        snprintf (what, sizeof what, "g%d", i);
        const char *found = strstr (trace.text, what);
        assert_non_null (found);
        assert_true (found >= at);
        at = found;
    }
    assert_int_equal (zx_queue_size (queue), 0);
    //  Everything taken and said done: join returns at once
    assert_int_equal (zx_queue_join (queue), ZX_OK);
    assert_int_equal (zx_queue_task_done (queue), ZX_EINVAL);
    //  try_get on an empty queue
    void *item = (void *) 7;
    assert_int_equal (zx_queue_try_get (queue, &item), ZX_EPENDING);
    assert_ptr_equal (item, (void *) 7);
    zx_queue_destroy (&queue);
    assert_null (queue);
    zx_loop_destroy (&loop);
}

static void
test_a_cancelled_get_or_put_loses_no_item (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_queue_t *queue = zx_queue_new (loop, 1, NULL);
    s_trace_t trace = { "" };
    //  A getter cancelled while it waits; the item put after stays queued
    s_worker_t getter = { queue, &trace, 0, 1, ZX_OK };
    zx_future_t *coro = zx_coro_start (loop, s_consumer, &getter, 0);
    s_settle ();
    assert_true (zx_future_cancel (coro));
    s_settle ();
    assert_int_equal (getter.rc, ZX_ECANCELLED);
    zx_future_destroy (&coro);
    assert_int_equal (zx_queue_try_put (queue, (void *) 1), ZX_OK);
    void *item = NULL;
    assert_int_equal (zx_queue_try_get (queue, &item), ZX_OK);
    assert_ptr_equal (item, (void *) 1);

    //  Handed an item and cancelled at the same moment: a second getter
    //  gets it
    s_worker_t first = { queue, &trace, 0, 1, ZX_OK };
    s_worker_t second = { queue, &trace, 0, 1, ZX_OK };
    zx_future_t *coros [2] = { zx_coro_start (loop, s_consumer, &first, 0),
                               zx_coro_start (loop, s_consumer, &second, 0) };
    s_settle ();
    assert_int_equal (zx_queue_try_put (queue, (void *) 2), ZX_OK);
    assert_true (zx_future_cancel (coros [0]));
    s_finish_all (coros, 2);
    assert_int_equal (first.rc, ZX_ECANCELLED);
    assert_int_equal (second.rc, ZX_OK);
    assert_non_null (strstr (trace.text, "g2"));
    assert_int_equal (zx_queue_size (queue), 0);

    //  A putter cancelled while the queue is full: its item stays out
    assert_int_equal (zx_queue_try_put (queue, (void *) 3), ZX_OK);
    s_worker_t putter = { queue, &trace, 4, 1, ZX_OK };
    coro = zx_coro_start (loop, s_producer, &putter, 0);
    s_settle ();
    assert_true (zx_future_cancel (coro));
    s_settle ();
    assert_int_equal (putter.rc, ZX_ECANCELLED);
    zx_future_destroy (&coro);
    assert_int_equal (zx_queue_size (queue), 1);
    assert_int_equal (zx_queue_try_get (queue, &item), ZX_OK);
    assert_ptr_equal (item, (void *) 3);

    //  Plain code: a get runs the loop until a coroutine puts
    s_worker_t late = { queue, &trace, 5, 1, ZX_OK };
    coro = zx_coro_start (loop, s_producer, &late, 0);
    assert_int_equal (zx_queue_get (queue, &item), ZX_OK);
    assert_ptr_equal (item, (void *) 5);
    assert_int_equal (zx_await (coro), ZX_OK);
    zx_future_destroy (&coro);
    zx_queue_destroy (&queue);
    zx_loop_destroy (&loop);
}

static int s_freed;

static void
s_free_item (void *item)
{
    (void) item;
    s_freed++;
}

static void
test_destroying_a_queue_frees_its_items_and_wakes_its_waiters (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_queue_t *queue = zx_queue_new (loop, 0, s_free_item);
    for (intptr_t i = 0; i < 40; i++)         //  Unbounded: the ring grows
        assert_int_equal (zx_queue_try_put (queue, (void *) i), ZX_OK);
    for (intptr_t i = 0; i < 20; i++) {
        void *item;
        assert_int_equal (zx_queue_try_get (queue, &item), ZX_OK);
        assert_ptr_equal (item, (void *) i);
    }
    s_freed = 0;
    zx_queue_destroy (&queue);
    assert_int_equal (s_freed, 20);

    queue = zx_queue_new (loop, 0, NULL);
    s_trace_t trace = { "" };
    s_worker_t getter = { queue, &trace, 0, 1, ZX_OK };
    zx_future_t *coro = zx_coro_start (loop, s_consumer, &getter, 0);
    s_settle ();
    zx_queue_destroy (&queue);
    assert_int_equal (zx_await (coro), ZX_OK);
    assert_int_equal (getter.rc, ZX_ESHUTDOWN);
    zx_future_destroy (&coro);
    zx_loop_destroy (&loop);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_semaphore_lets_value_in_at_a_time_first_come_first_served),
    cmocka_unit_test (test_semaphore_waits_by_running_the_loop_outside_coroutines),
    cmocka_unit_test (test_a_cancelled_acquire_leaves_the_semaphore_consistent),
    cmocka_unit_test (test_a_semaphore_bounds_a_thousand_executor_calls_to_five_at_a_time),
    cmocka_unit_test (test_event_wakes_every_waiter_and_cancel_leaves_it_unchanged),
    cmocka_unit_test (test_a_bounded_queue_makes_producers_wait_and_keeps_order),
    cmocka_unit_test (test_a_cancelled_get_or_put_loses_no_item),
    cmocka_unit_test (test_destroying_a_queue_frees_its_items_and_wakes_its_waiters),
};

ZX_TEST_MAIN (tests)
