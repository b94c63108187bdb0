/*  testutil_fault.c - the tasks and checks the fault tests share (see
    testutil_fault.h). The tasks are registered in every program that
    links this file, so that its process pools' workers, the same program
    started again, run them.                                              */
#define _GNU_SOURCE
#include "testutil_fault.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define streq(a, b) (strcmp ((a), (b)) == 0)

static size_t s_ended;          //  Done callbacks run, over all futures

//  --------------------------------------------------------------------
//  Tasks: each run appends its pid to a file when given one

static void
s_append_pid (const char *path)
{
    if (!path || !*path)
        return;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf (fd, "%d\n", (int) getpid ());
        close (fd);
    }
}

static void
s_crash (const char *how)
{
    if (streq (how, "kill"))
        raise (SIGKILL);
    else
    if (streq (how, "segv"))
        raise (SIGSEGV);
    else
    if (streq (how, "null")) {
        volatile int *volatile nothing = NULL;
        *nothing = 1;
    }
    else
    if (streq (how, "exit"))
        exit (1);
    else
    if (streq (how, "abort"))
        abort ();
    _exit (99);
}

static void
s_sleep_us (int64_t us)
{
    struct timespec delay = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep (&delay, &delay) && errno == EINTR)
        ;
}

static int
s_return_square (zx_call_t *call, int64_t n)
{
    zx_values_add_int (zx_call_result (call), n * n);
    return zx_call_return_int (call, getpid ());
}

ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return s_return_square (call, n);
}

ZX_TASK (nap)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    s_sleep_us (ms * 1000);
    return zx_call_return_int (call, getpid ());
}

ZX_TASK (nap_us)
{
    int64_t us;
    if (zx_call_arg_int (call, 0, &us))
        return -1;
    s_sleep_us (us);
    zx_values_add_int (zx_call_result (call), us);
    return zx_call_return_int (call, getpid ());
}

ZX_TASK (announce_nap)
{
    const char *path;
    int64_t ms, n;
    if (zx_call_arg_str (call, 0, &path) || zx_call_arg_int (call, 1, &ms)
    ||  zx_call_arg_int (call, 2, &n))
        return -1;
    char temp [4200];
    snprintf (temp, sizeof temp, "%s.%d", path, (int) getpid ());
    FILE *file = fopen (temp, "w");
    if (!file)
        return zx_call_fail (call, "cannot write %s", temp);
    fprintf (file, "%d\n", (int) getpid ());
    fclose (file);
    rename (temp, path);
    s_sleep_us (ms * 1000);
    return s_return_square (call, n);
}

//  Creates started, then waits for release (or timeout_ms) without ever
//  looking at its cancel token: a task nothing but its gate can stop.
ZX_TASK (deaf_gate)
{
    const char *started, *release;
    int64_t timeout_ms;
    if (zx_call_arg_str (call, 0, &started) || zx_call_arg_str (call, 1, &release)
    ||  zx_call_arg_int (call, 2, &timeout_ms))
        return -1;
    FILE *file = fopen (started, "w");
    if (!file)
        return zx_call_fail (call, "cannot create %s", started);
    fclose (file);
    for (int64_t waited = 0; access (release, F_OK) != 0 && waited < timeout_ms; waited += 2)
        s_sleep_us (2000);
    return zx_call_return_int (call, getpid ());
}

ZX_TASK (die_always)
{
    const char *runs, *how;
    if (zx_call_arg_str (call, 0, &runs) || zx_call_arg_str (call, 1, &how))
        return -1;
    s_append_pid (runs);
    s_crash (how);
    return 0;
}

ZX_TASK (crash_once)
{
    const char *marker, *runs, *how;
    int64_t n;
    if (zx_call_arg_str (call, 0, &marker) || zx_call_arg_str (call, 1, &runs)
    ||  zx_call_arg_str (call, 2, &how) || zx_call_arg_int (call, 3, &n))
        return -1;
    s_append_pid (runs);
    if (access (marker, F_OK) != 0) {
        int fd = open (marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close (fd);
        s_crash (how);
    }
    return s_return_square (call, n);
}

ZX_TASK (fault_target)
{
    const char *runs;
    int64_t n;
    if (zx_call_arg_str (call, 0, &runs) || zx_call_arg_int (call, 1, &n))
        return -1;
    s_append_pid (runs);
    return s_return_square (call, n);
}

//  --------------------------------------------------------------------
//  Futures that end once

void
zx_test_count_done (zx_future_t *future, void *arg)
{
    (void) future;
    (*(int *) arg)++;
    s_ended++;
}

size_t
zx_test_ended (void)
{
    return s_ended;
}

void
zx_test_ended_reset (void)
{
    s_ended = 0;
}

zx_future_t *
zx_test_submit_counted (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                        zx_values_t *args, int *calls)
{
    zx_future_t *future = zx_test_submit (loop, executor, task, args);
    assert_int_equal (zx_future_add_done_callback (future, zx_test_count_done, calls), ZX_OK);
    return future;
}

void
zx_test_counted_squares (zx_loop_t *loop, zx_executor_t *executor, int count, pid_t pid,
                         int *calls)
{
    zx_future_t *futures [20];
    assert_true (count <= 20);
    for (int i = 0; i < count; i++) {
        calls [i] = 0;
        futures [i] = zx_test_submit_counted (loop, executor, "square",
                                              zx_values_pack ("i", (int64_t) i), &calls [i]);
    }
    zx_test_check_squares (futures, count, 10000, pid);
}

void
zx_test_expect_ended_once (const int *calls, size_t count, int64_t settle_ms)
{
    zx_sleep (settle_ms);
    for (size_t i = 0; i < count; i++)
        if (calls [i] != 1)
            fail_msg ("future %zu ended %d times", i, calls [i]);
}

bool
zx_test_pid_gone (pid_t pid)
{
    return kill (pid, 0) == -1 && errno == ESRCH;
}

void
zx_test_warm_up (zx_loop_t *loop, zx_executor_t *pool, int workers)
{
    zx_future_t *futures [16];
    int calls [16] = { 0 };
    assert_true (workers <= 16);
    for (int i = 0; i < workers; i++)
        futures [i] = zx_test_submit_counted (loop, pool, "nap", zx_values_pack ("i", (int64_t) 50),
                                              &calls [i]);
    zx_test_wait_all (futures, (size_t) workers, 20000);
    for (int i = 0; i < workers; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        zx_future_destroy (&futures [i]);
    }
}
