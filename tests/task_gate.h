/*  task_gate.h - the gate task, for tests that must hold a task running
    until they have looked at the others: included by pool_cases.h (thread
    and process pools) and remote_tasks.c (remote workers).

    gate (started, release, timeout_ms) -> [pid]: creates the file started,
    then waits until the file release exists, polling every 2 ms, for at
    most timeout_ms; it fails "gate timed out" after that and "gate
    cancelled" when its cancel token says so. A file is seen from any
    process, so the test that releases the gate needs no shared memory
    with the worker that runs it.                                        */
#ifndef TASK_GATE_H_INCLUDED
#define TASK_GATE_H_INCLUDED
#include "zexec.h"
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

ZX_TASK (gate)
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
    struct stat info;
    for (int64_t waited = 0; stat (release, &info) != 0; waited += 2) {
        if (waited >= timeout_ms)
            return zx_call_fail (call, "gate timed out");
        if (zx_call_cancelled (call))
            return zx_call_fail (call, "gate cancelled");
        struct timespec slice = { 0, 2 * 1000 * 1000 };
        nanosleep (&slice, NULL);
    }
    return zx_call_return_int (call, getpid ());
}

#endif
