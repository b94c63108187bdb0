/*  remote_tasks.c - the task library test_remote.c runs on real workers.

    Built as a shared library and loaded by zexec-worker with --tasks: its
    ZX_TASK registrations run as dlopen loads it, into the registry of the
    shared libzexec the worker program links. Every task says which
    process ran it, so a test can tell workers apart.                     */
#define _GNU_SOURCE
#include <zexec.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "task_gate.h"
#include "actor_counter.h"     //  The actor type test_actors_remote.c spawns

//  fail_with (text): fails with "failed on purpose: TEXT"
ZX_TASK (fail_with)
{
    const char *text;
    if (zx_call_arg_str (call, 0, &text))
        return -1;
    return zx_call_fail (call, "failed on purpose: %s", text);
}

//  touch (path): creates the file at path, a side effect a test can see
ZX_TASK (touch)
{
    const char *path;
    if (zx_call_arg_str (call, 0, &path))
        return -1;
    FILE *file = fopen (path, "w");
    if (!file)
        return zx_call_fail (call, "cannot create %s", path);
    fclose (file);
    return 0;
}

//  square (n) -> [n * n, pid]
ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    zx_values_add_int (zx_call_result (call), n * n);
    return zx_call_return_int (call, getpid ());
}

//  whoami () -> [pid, thread name]
ZX_TASK (whoami)
{
    zx_values_add_int (zx_call_result (call), getpid ());
    zx_values_add_str (zx_call_result (call), zx_thread_name ());
    return 0;
}

//  Sleeps ms in short slices; false when the caller cancelled meanwhile
//  (where the runtime tells it so).
static bool
s_sleep (zx_call_t *call, int64_t ms)
{
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (true) {
        clock_gettime (CLOCK_MONOTONIC, &now);
        int64_t left = ms - ((int64_t) (now.tv_sec - start.tv_sec) * 1000
                             + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0)
            return true;
        if (zx_call_cancelled (call))
            return false;
        int64_t slice = left < 10 ? left : 10;
        struct timespec delay = { 0, slice * 1000000 };
        while (nanosleep (&delay, &delay) && errno == EINTR)
            ;
    }
}

//  sleep_ms (ms) -> [pid, thread name]. Sleeps in short slices and stops
//  early once the caller cancels, where the runtime tells it so.
ZX_TASK (sleep_ms)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    if (!s_sleep (call, ms))
        return zx_call_fail (call, "sleep cancelled");
    zx_values_add_int (zx_call_result (call), getpid ());
    zx_values_add_str (zx_call_result (call), zx_thread_name ());
    return 0;
}

//  slow_square (n, ms) -> [n * n, pid, parent pid]: square after a sleep
//  of ms, so that work spreads over many workers; the parent pid tells a
//  pool process of a zexec-worker --processes from the worker itself.
ZX_TASK (slow_square)
{
    int64_t n, ms;
    if (zx_call_arg_int (call, 0, &n) || zx_call_arg_int (call, 1, &ms))
        return -1;
    if (!s_sleep (call, ms))
        return zx_call_fail (call, "sleep cancelled");
    zx_values_add_int (zx_call_result (call), n * n);
    zx_values_add_int (zx_call_result (call), getpid ());
    return zx_call_return_int (call, getppid ());
}

//  echo_bytes (bytes) -> [bytes]: its argument back, as it came
ZX_TASK (echo_bytes)
{
    const void *data;
    size_t size;
    if (zx_call_arg_bytes (call, 0, &data, &size))
        return -1;
    return zx_values_add_bytes (zx_call_result (call), data, size) == ZX_OK ? 0 : -1;
}

//  make_bytes (n, seed) -> [n bytes, byte i = (i * 131 + seed) & 255]: a
//  big result for a small request
ZX_TASK (make_bytes)
{
    int64_t n, seed;
    if (zx_call_arg_int (call, 0, &n) || zx_call_arg_int (call, 1, &seed) || n < 0)
        return -1;
    unsigned char *data = malloc ((size_t) n + 1);
    if (!data)
        return zx_call_fail (call, "out of memory");
    for (int64_t i = 0; i < n; i++)
        data [i] = (unsigned char) ((i * 131 + seed) & 255);
    zx_err_t rc = zx_values_add_bytes (zx_call_result (call), data, (size_t) n);
    free (data);
    return rc == ZX_OK ? 0 : -1;
}
