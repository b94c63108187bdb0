/*  consumer.c - a program built against an installed zexec, not its tree.

    scripts/install-check.sh builds it with CMake (find_package, see
    CMakeLists.txt here) and with cc and pkg-config, shared and static,
    then runs each build. It registers a task, runs it on a pool of two
    threads and on a pool of two processes, checks every result and which
    process ran it, and prints "consumer ok".                          */
#define _POSIX_C_SOURCE 200809L
#include <zexec.h>
#include <stdio.h>
#include <unistd.h>

#define TASKS 8

//  Returns [n * n, the pid of the process that ran it].
ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    if (zx_call_return_int (call, n * n)
    ||  zx_call_return_int (call, (int64_t) getpid ()))
        return -1;
    return 0;
}

//  Runs square over 0..TASKS-1 and a task nobody registered on pool.
//  Returns how many checks failed, each reported on stderr.
static int
s_check_pool (const char *name, zx_executor_t *pool, zx_loop_t *loop,
              bool in_process)
{
    if (!pool) {
        fprintf (stderr, "consumer: %s: could not create it\n", name);
        return 1;
    }
    int failures = 0;
    zx_future_t *futures [TASKS + 1];
    for (int i = 0; i < TASKS; i++)
        futures [i] = zx_run_in_executor (loop, pool, "square",
                                          zx_values_pack ("i", (int64_t) i));
    futures [TASKS] = zx_run_in_executor (loop, pool, "no_such_task", NULL);
    for (int i = 0; i <= TASKS; i++)
        if (!futures [i]) {
            fprintf (stderr, "consumer: %s: out of memory\n", name);
            return 1;
        }
    zx_future_t *done [TASKS + 1], *pending [TASKS + 1];
    size_t done_count, pending_count;
    zx_err_t rc = zx_wait (futures, TASKS + 1, ZX_ALL_COMPLETED, 30000,
                           done, &done_count, pending, &pending_count);
    if (rc != ZX_OK || pending_count > 0) {
        fprintf (stderr, "consumer: %s: wait returned '%s' with %zu pending\n",
                 name, zx_strerror (rc), pending_count);
        failures++;
    }
    pid_t workers [2];
    size_t worker_count = zx_executor_worker_pids (pool, workers, 2);
    for (int i = 0; i < TASKS; i++) {
        const zx_values_t *result = zx_future_result (futures [i]);
        int64_t square = -1, pid = -1;
        if (!result
        ||  zx_values_get_int (result, 0, &square)
        ||  zx_values_get_int (result, 1, &pid)
        ||  square != (int64_t) i * i) {
            char text [128] = "no result";
            if (result)
                zx_values_repr (result, text, sizeof text);
            fprintf (stderr, "consumer: %s: square (%d) gave %s: %s %s\n",
                     name, i, text, zx_strerror (zx_future_error (futures [i])),
                     zx_future_message (futures [i]));
            failures++;
            continue;
        }
        //  Threads run in this process, processes in one of the pool's
        bool by_worker = false;
        for (size_t w = 0; w < worker_count && w < 2; w++)
            by_worker |= workers [w] == (pid_t) pid;
        bool where_expected = in_process? by_worker && pid != getpid ()
                                        : pid == getpid ();
        if (!where_expected) {
            fprintf (stderr, "consumer: %s: square (%d) ran in process %lld\n",
                     name, i, (long long) pid);
            failures++;
        }
    }
    if (zx_future_error (futures [TASKS]) != ZX_ENOTASK) {
        fprintf (stderr, "consumer: %s: unknown task gave '%s', not ENOTASK\n",
                 name, zx_strerror (zx_future_error (futures [TASKS])));
        failures++;
    }
    for (int i = 0; i <= TASKS; i++)
        zx_future_destroy (&futures [i]);
    return failures;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);               //  First: process workers stop here
    zx_loop_t *loop = zx_loop_new ();
    if (!loop) {
        fprintf (stderr, "consumer: could not create a loop\n");
        return 1;
    }
    zx_executor_opts_t opts = { .max_workers = 2 };
    int failures = 0;

    zx_executor_t *threads = zx_thread_pool_new (&opts);
    failures += s_check_pool ("thread pool", threads, loop, false);
    zx_executor_destroy (&threads);

    zx_executor_t *processes = zx_process_pool_new (&opts);
    failures += s_check_pool ("process pool", processes, loop, true);
    zx_executor_destroy (&processes);

    zx_loop_destroy (&loop);
    if (failures) {
        fprintf (stderr, "consumer: %d checks failed\n", failures);
        return 1;
    }
    printf ("consumer ok\n");
    return 0;
}
