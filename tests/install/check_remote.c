/*  check_remote.c - a coordinator built against an installed zexec
    (scripts/package-check.sh), for the installed zexec-broker and a
    zexec-worker that loaded libzexec-check-tasks.so (check_tasks.c).

        check_remote ENDPOINT WORKER_PID

    Runs whereami over 0..TASKS-1 on a remote executor at ENDPOINT and a
    task nobody registered; checks every result, that the worker process
    WORKER_PID ran each task (or one of its pool's processes, with
    --processes), and that the unknown one failed with ZX_ENOTASK. Prints
    "remote ok", or what failed on stderr and exits 1.                  */
#define _POSIX_C_SOURCE 200809L
#include <zexec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS 8

//  Whether process pid is worker or a child of it (a pool process).
static bool
s_ran_by (int64_t pid, int64_t worker)
{
    if (pid == worker)
        return true;
    char path [64];
    snprintf (path, sizeof path, "/proc/%lld/stat", (long long) pid);
    FILE *file = fopen (path, "r");
    long long parent = -1;
    //  "pid (comm) state ppid ...": comm may hold spaces, not ") "
    if (file) {
        char line [512];
        const char *end = fgets (line, sizeof line, file) ? strrchr (line, ')') : NULL;
        if (!end || sscanf (end, ") %*c %lld", &parent) != 1)
            parent = -1;
        fclose (file);
    }
    return parent == worker;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc != 3) {
        fprintf (stderr, "usage: check_remote ENDPOINT WORKER_PID\n");
        return 2;
    }
    int64_t worker_pid = atoll (argv [2]);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_remote_executor_new (argv [1], &(zx_executor_opts_t) { 0 });
    if (!loop || !remote) {
        fprintf (stderr, "check_remote: cannot make a loop and a remote executor for %s\n",
                 argv [1]);
        return 1;
    }
    zx_future_t *futures [TASKS + 1];
    for (int i = 0; i < TASKS; i++)
        futures [i] = zx_run_in_executor (loop, remote, "whereami",
                                          zx_values_pack ("i", (int64_t) i));
    futures [TASKS] = zx_run_in_executor (loop, remote, "no_such_task", NULL);
    int failures = 0;
    zx_future_t *done [TASKS + 1], *pending [TASKS + 1];
    size_t done_count, pending_count;
    zx_err_t rc = zx_wait (futures, TASKS + 1, ZX_ALL_COMPLETED, 30000,
                           done, &done_count, pending, &pending_count);
    if (rc != ZX_OK || pending_count > 0) {
        fprintf (stderr, "check_remote: wait returned '%s' with %zu pending\n",
                 zx_strerror (rc), pending_count);
        failures++;
    }
    for (int i = 0; i < TASKS; i++) {
        const zx_values_t *result = zx_future_result (futures [i]);
        int64_t square = -1, pid = -1;
        if (!result
        ||  zx_values_get_int (result, 0, &square)
        ||  zx_values_get_int (result, 1, &pid)
        ||  square != (int64_t) i * i || !s_ran_by (pid, worker_pid)) {
            fprintf (stderr, "check_remote: whereami (%d) gave %lld from process %lld: %s %s\n",
                     i, (long long) square, (long long) pid,
                     zx_strerror (zx_future_error (futures [i])),
                     zx_future_message (futures [i]) ? zx_future_message (futures [i]) : "");
            failures++;
        }
    }
    if (zx_future_error (futures [TASKS]) != ZX_ENOTASK) {
        fprintf (stderr, "check_remote: an unknown task gave '%s', not ENOTASK\n",
                 zx_strerror (zx_future_error (futures [TASKS])));
        failures++;
    }
    for (int i = 0; i <= TASKS; i++)
        zx_future_destroy (&futures [i]);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    if (failures)
        return 1;
    printf ("remote ok\n");
    return 0;
}
