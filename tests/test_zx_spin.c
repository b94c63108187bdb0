/*  test_zx_spin.c - a loop that spins, before it sleeps, for a reply due
    within microseconds (zx_spin, zx__loop_add_fd_probed).

    DESIGN: the budget's rules first, driven by hand: it follows the waits
    that ended in a reply, keeps its size through a miss now and then,
    sits out after misses in a row and then tries again, and is nothing
    with ZEXEC_SPIN=off. Then what a loop that spins must still do: a
    partner thread answers round trips through an eventfd, flagging its
    reply for the probe just before it writes, and every one completes;
    a probe that says "soon" forever (a pool whose tasks never end) does
    not delay a timer, a call from another thread or another fd, and the
    loop still sleeps; a probe that says "ready" at every wait does not
    keep the other fds from being polled. Timing checks only say that
    something happened, or was not early, never that it was fast.      */
#include "testutil.h"
#include "zx_loop.h"
#include "zx_spin.h"
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  The budget

static void
test_the_budget_follows_the_waits_that_ended_in_a_reply (void **state)
{
    (void) state;
    unsetenv ("ZEXEC_SPIN");
    zx__spin_t spin;
    zx__spin_init (&spin);
    assert_int_equal (zx__spin_budget (&spin), ZX__SPIN_MAX_US / 2);
    //  Replies after 10 us: toward twice that, plus the least budget
    for (int i = 0; i < 50; i++)
        zx__spin_hit (&spin, 10);
    assert_int_equal (zx__spin_budget (&spin), 2 * 10 + ZX__SPIN_MIN_US);
    //  Slow replies: never past the most
    for (int i = 0; i < 50; i++)
        zx__spin_hit (&spin, 1000);
    assert_int_equal (zx__spin_budget (&spin), ZX__SPIN_MAX_US);
    //  Instant replies: never below the least
    for (int i = 0; i < 50; i++)
        zx__spin_hit (&spin, 0);
    assert_int_equal (zx__spin_budget (&spin), ZX__SPIN_MIN_US);
}

static void
test_misses_now_and_then_keep_the_budget_misses_in_a_row_sit_out (void **state)
{
    (void) state;
    unsetenv ("ZEXEC_SPIN");
    zx__spin_t spin;
    zx__spin_init (&spin);
    //  Misses between hits change nothing
    for (int i = 0; i < 10; i++) {
        int64_t before = zx__spin_budget (&spin);
        for (int m = 0; m < ZX__SPIN_MISSES - 1; m++)
            zx__spin_miss (&spin);
        assert_int_equal (zx__spin_budget (&spin), before);
        zx__spin_hit (&spin, 10);
    }
    //  Misses in a row: no spin for ZX__SPIN_SIT_OUT waits, then again
    for (int m = 0; m < ZX__SPIN_MISSES; m++)
        zx__spin_miss (&spin);
    for (int i = 0; i < ZX__SPIN_SIT_OUT - 1; i++)
        assert_int_equal (zx__spin_budget (&spin), 0);
    assert_int_equal (zx__spin_budget (&spin), ZX__SPIN_MAX_US / 2);
}

static void
test_zexec_spin_off_never_spins (void **state)
{
    (void) state;
    setenv ("ZEXEC_SPIN", "off", 1);
    zx__spin_t spin;
    zx__spin_init (&spin);
    unsetenv ("ZEXEC_SPIN");
    for (int i = 0; i < 2 * ZX__SPIN_SIT_OUT; i++) {
        assert_int_equal (zx__spin_budget (&spin), 0);
        zx__spin_hit (&spin, 10);
        assert_int_equal (zx__spin_budget (&spin), 0);
    }
}

//  --------------------------------------------------------------------
//  A loop that spins

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  A partner thread that answers each request: it flags its reply (what
//  the probe reads, as a pool's replies are counted before its fd is
//  written), then writes the eventfd the loop watches.
typedef struct {
    zx_loop_t *loop;
    int fd;                         //  The loop's: the partner's replies
    atomic_int requests;            //  Asked, not yet answered
    atomic_int replies;             //  Answered, not yet taken
    sem_t asked;                    //  Posted once per request
    atomic_bool stop;
    int rounds, done;
    int mode;                       //  The probe's: 0 honest, 1 soon always, 2 ready always
    long probed_ready;              //  Handler calls
    int *others;                    //  Mode 2: the pipe's count, when to stop
    int64_t *called_us, late_us;
} s_pair_t;

static zx__probe_t
s_pair_probe (void *arg)
{
    s_pair_t *pair = (s_pair_t *) arg;
    if (pair->mode == 1)
        return ZX__PROBE_SOON;
    if (pair->mode == 2 || atomic_load (&pair->replies) > 0)
        return ZX__PROBE_READY;
    return atomic_load (&pair->requests) > 0 ? ZX__PROBE_SOON : ZX__PROBE_IDLE;
}

static void *
s_partner (void *arg)
{
    s_pair_t *pair = (s_pair_t *) arg;
    while (true) {
        sem_wait (&pair->asked);
        if (atomic_load (&pair->stop))
            break;
        atomic_fetch_sub (&pair->requests, 1);
        atomic_fetch_add (&pair->replies, 1);
        uint64_t one = 1;
        assert_int_equal (write (pair->fd, &one, sizeof one), sizeof one);
    }
    return NULL;
}

//  The loop's handler: takes the replies (and unsignals the fd once they
//  are all taken), asks the next round
static void
s_on_reply (zx_loop_t *loop, void *arg)
{
    s_pair_t *pair = (s_pair_t *) arg;
    pair->probed_ready++;
    if (pair->others && *pair->others && *pair->called_us)
        zx_loop_stop (loop);
    int replies = atomic_exchange (&pair->replies, 0);
    if (replies == 0)
        return;
    uint64_t count;
    //  The write may come a moment after the reply's flag
    while (read (pair->fd, &count, sizeof count) < 0)
        ;
    pair->done += replies;
    if (pair->done >= pair->rounds)
        zx_loop_stop (loop);
    else {
        atomic_fetch_add (&pair->requests, 1);
        sem_post (&pair->asked);
    }
}

static void
test_round_trips_through_a_probed_fd_all_complete (void **state)
{
    (void) state;
    unsetenv ("ZEXEC_SPIN");
    zx_loop_t *loop = zx_loop_new ();
    s_pair_t pair = { .loop = loop, .rounds = 5000 };
    assert_int_equal (sem_init (&pair.asked, 0, 0), 0);
    pair.fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true (pair.fd >= 0);
    assert_int_equal (zx__loop_add_fd_probed (loop, pair.fd, s_on_reply, &pair, s_pair_probe),
                      ZX_OK);
    pthread_t partner;
    assert_int_equal (pthread_create (&partner, NULL, s_partner, &pair), 0);
    atomic_store (&pair.requests, 1);
    sem_post (&pair.asked);
    zx_loop_run_forever (loop);
    assert_int_equal (pair.done, pair.rounds);
    atomic_store (&pair.stop, true);
    sem_post (&pair.asked);
    pthread_join (partner, NULL);
    sem_destroy (&pair.asked);
    zx__loop_remove (loop, NULL, pair.fd);
    close (pair.fd);
    zx_loop_destroy (&loop);
}

static void
s_record_us (zx_loop_t *loop, void *arg)
{
    (void) loop;
    *(int64_t *) arg = s_now_us ();
}

static void
s_on_other (zx_loop_t *loop, void *arg)
{
    (void) loop;
    int *fds = (int *) arg;
    char byte;
    if (read (fds [0], &byte, 1) == 1)
        fds [2]++;
}

static void
s_late (zx_loop_t *loop, void *arg)
{
    *(int64_t *) arg = s_now_us ();
    zx_loop_stop (loop);
}

typedef struct {
    zx_loop_t *loop;
    int64_t *called_us;
    int other_write;
} s_caller_t;

//  Every millisecond: stops the loop once the three came, or at deadline
typedef struct {
    int64_t *called_us, *fired_us, deadline_us;
    int *others;
} s_watcher_t;

static void
s_check (zx_loop_t *loop, void *arg)
{
    s_watcher_t *watcher = (s_watcher_t *) arg;
    if ((*watcher->called_us && *watcher->fired_us && *watcher->others)
    ||  s_now_us () > watcher->deadline_us)
        zx_loop_stop (loop);
    else
        assert_true (zx_loop_call_later (loop, 1, s_check, watcher) != 0);
}

static void *
s_caller (void *arg)
{
    s_caller_t *caller = (s_caller_t *) arg;
    usleep (5000);
    zx_loop_call_soon_threadsafe (caller->loop, s_record_us, caller->called_us);
    usleep (5000);
    assert_int_equal (write (caller->other_write, "x", 1), 1);
    return NULL;
}

//  mode 1: a probe that says soon forever; mode 2: ready at every wait
static void
s_others_still_served (int mode)
{
    unsetenv ("ZEXEC_SPIN");
    zx_loop_t *loop = zx_loop_new ();
    s_pair_t pair = { .loop = loop, .mode = mode };
    pair.fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    int pipe_fds [2];
    assert_int_equal (pipe (pipe_fds), 0);
    int other [3] = { pipe_fds [0], pipe_fds [1], 0 };
    assert_int_equal (zx__loop_add_fd_probed (loop, pair.fd, s_on_reply, &pair, s_pair_probe),
                      ZX_OK);
    assert_int_equal (zx__loop_add_fd (loop, pipe_fds [0], s_on_other, other), ZX_OK);
    int64_t called_us = 0, fired_us = 0;
    int64_t start = s_now_us ();
    //  Mode 2 has no timer near: one would end the spins when it came close
    if (mode == 1)
        assert_true (zx_loop_call_later (loop, 20, s_record_us, &fired_us) != 0);
    else
        fired_us = 1;
    s_caller_t caller = { loop, &called_us, pipe_fds [1] };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_caller, &caller), 0);
    //  Runs until all three came, or 5 s
    s_watcher_t watcher = { &called_us, &fired_us, start + 5000000, &other [2] };
    if (mode == 1)
        assert_true (zx_loop_call_later (loop, 1, s_check, &watcher) != 0);
    else {
        //  Stopped by the pipe's handler; the deadline only if it never is
        pair.others = &other [2];
        pair.called_us = &called_us;
        assert_true (zx_loop_call_later (loop, 5000, s_late, &pair.late_us) != 0);
    }
    clock_t cpu = clock ();
    zx_loop_run_forever (loop);
    cpu = clock () - cpu;
    pthread_join (thread, NULL);
    assert_true (called_us > 0);
    assert_int_equal (pair.late_us, 0);
    if (mode == 1)
        assert_true (fired_us >= start + 20000);
    assert_int_equal (other [2], 1);
    if (mode == 1) {
        //  It sat out rather than spun through the 20 ms: far less CPU
        //  than the time it took (a loop that spun would use all of it)
        double wall_s = (double) (s_now_us () - start) / 1e6;
        assert_true ((double) cpu / CLOCKS_PER_SEC < 0.5 * wall_s);
    }
    else
        assert_true (pair.probed_ready > 0);
    zx__loop_remove (loop, NULL, pair.fd);
    zx__loop_remove (loop, NULL, pipe_fds [0]);
    close (pair.fd);
    close (pipe_fds [0]);
    close (pipe_fds [1]);
    zx_loop_destroy (&loop);
}

static void
test_a_probe_that_says_soon_forever_delays_no_timer_call_or_fd (void **state)
{
    (void) state;
    s_others_still_served (1);
}

static void
test_a_probe_ready_at_every_wait_leaves_the_other_fds_polled (void **state)
{
    (void) state;
    s_others_still_served (2);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_the_budget_follows_the_waits_that_ended_in_a_reply),
    cmocka_unit_test (test_misses_now_and_then_keep_the_budget_misses_in_a_row_sit_out),
    cmocka_unit_test (test_zexec_spin_off_never_spins),
    cmocka_unit_test (test_round_trips_through_a_probed_fd_all_complete),
    cmocka_unit_test (test_a_probe_that_says_soon_forever_delays_no_timer_call_or_fd),
    cmocka_unit_test (test_a_probe_ready_at_every_wait_leaves_the_other_fds_polled),
};

ZX_TEST_MAIN (tests)
