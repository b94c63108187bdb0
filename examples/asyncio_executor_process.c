/*  asyncio_executor_process.c - the seed's asyncio_executor_process.py in C.

    The same program as asyncio_executor_thread.c with a pool of three
    worker processes: each is this program started again, and zx_init,
    first in main, turns it into a worker.                              */
#include <zexec.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

ZX_TASK (blocks)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    zx_logger_t *log = zx_log_getf ("blocks(%lld)", (long long) n);
    zx_log_info (log, "running");
    nanosleep (&(struct timespec) { 0, 100 * 1000 * 1000 }, NULL);
    zx_log_info (log, "done");
    return zx_call_return_int (call, n * n);
}

static void
run_blocking_tasks (void *executor)
{
    zx_logger_t *log = zx_log_get ("run_blocking_tasks");
    zx_log_info (log, "starting");

    zx_log_info (log, "creating executor tasks");
    zx_loop_t *loop = zx_loop_current ();
    zx_future_t *blocking_tasks [6];
    for (int i = 0; i < 6; i++)
        blocking_tasks [i] = zx_run_in_executor (loop, executor, "blocks",
                                                 zx_values_pack ("i", (int64_t) i));
    zx_log_info (log, "waiting for executor tasks");
    zx_future_t *completed [6];
    size_t count;
    zx_wait (blocking_tasks, 6, ZX_ALL_COMPLETED, -1, completed, &count, NULL, NULL);

    zx_values_t *results = zx_values_new ();
    for (size_t i = 0; i < count; i++) {
        int64_t result;
        if (zx_future_result_int (completed [i], &result) == ZX_OK)
            zx_values_add_int (results, result);
        else
            zx_log_error (log, "task failed: %s", zx_future_message (completed [i]));
    }
    char text [256];
    zx_values_repr (results, text, sizeof text);
    zx_log_info (log, "results: %s", text);
    zx_log_info (log, "exiting");
    zx_values_destroy (&results);
    for (int i = 0; i < 6; i++)
        zx_future_destroy (&blocking_tasks [i]);
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    //  Configure logging to show the id of the process
    //  where the log message originates.
    zx_log_basic_config (ZX_LOG_INFO, "PID %(process)5s %(name)18s: %(message)s");

    //  --endpoint ENDPOINT: run the tasks on the workers of a zexec-broker.
    //  --worker ENDPOINT: be such a worker, with three processes.
    const char *endpoint = NULL;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 == argc || (strcmp (argv [i], "--endpoint") && strcmp (argv [i], "--worker"))) {
            fprintf (stderr, "usage: %s [--endpoint ENDPOINT | --worker ENDPOINT]\n", argv [0]);
            return 2;
        }
        if (strcmp (argv [i], "--worker") == 0)
            return zx_serve (argv [i + 1], true,
                             &(zx_executor_opts_t) { .max_workers = 3 }, NULL) == ZX_OK ? 0 : 1;
        endpoint = argv [i + 1];
    }

    //  Create a limited process pool (or reach the remote workers).
    zx_executor_t *executor = endpoint
        ? zx_remote_executor_new (endpoint, NULL)
        : zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    if (!executor) {
        fprintf (stderr, "%s: cannot start the executor%s%s\n", argv [0],
                 endpoint ? " for " : "", endpoint ? endpoint : "");
        return 1;
    }

    zx_loop_t *event_loop = zx_loop_new ();
    zx_future_t *main_task = zx_coro_start (event_loop, run_blocking_tasks, executor, 0);
    int rc = zx_loop_run_until_complete (event_loop, main_task);
    zx_future_destroy (&main_task);
    zx_executor_destroy (&executor);
    zx_loop_destroy (&event_loop);
    return rc == ZX_OK ? 0 : 1;
}
