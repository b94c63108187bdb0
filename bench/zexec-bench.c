/*  zexec-bench.c - how fast zexec moves work, measured, not asserted.

    A first cut of the benchmark suite: tiny-task throughput (int in, int
    out, everything in flight at once) and one-at-a-time round trips for
    the thread pool, the process pool, and remote workers through a
    zexec-broker on tcp loopback (the bench starts the broker, and itself
    again as the worker with --serve), with 2 workers. It prints a table,
    or with --csv one line per figure: workload,executor,value,unit.

        zexec-bench [--quick] [--csv] [--tasks N] [--workers N] [--window N] */

#define _GNU_SOURCE
#include <zexec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

ZX_TASK (bench_square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool s_csv;

static void
s_report (const char *workload, const char *executor, double value, const char *unit)
{
    if (s_csv)
        printf ("%s,%s,%.6g,%s\n", workload, executor, value, unit);
    else
        printf ("%-22s %-10s %14.1f %s\n", workload, executor, value, unit);
    fflush (stdout);
}

//  Submits count tiny tasks at once and waits for all. Returns tasks/s,
//  or 0 when a result was wrong.
static double
s_throughput (zx_loop_t *loop, zx_executor_t *pool, int count)
{
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    double start = s_now ();
    for (int i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, pool, "bench_square", zx_values_pack ("i", (int64_t) i));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = s_now () - start;
    bool right = true;
    for (int i = 0; i < count; i++) {
        int64_t value = -1;
        right &= zx_future_result_int (futures [i], &value) == ZX_OK && value == (int64_t) i * i;
        zx_future_destroy (&futures [i]);
    }
    free (futures);
    return right ? count / elapsed : 0;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  One task in flight at a time; returns the median round trip in us.
static double
s_rtt_p50 (zx_loop_t *loop, zx_executor_t *pool, int count)
{
    double *samples = calloc ((size_t) count, sizeof (double));
    for (int i = 0; i < count; i++) {
        double start = s_now ();
        zx_future_t *future = zx_run_in_executor (loop, pool, "bench_square", zx_values_pack ("i", (int64_t) i));
        zx_await (future);
        samples [i] = (s_now () - start) * 1e6;
        zx_future_destroy (&future);
    }
    qsort (samples, (size_t) count, sizeof (double), s_compare);
    double median = samples [count / 2];
    free (samples);
    return median;
}

//  Starts argv as a child process; returns its pid or -1.
static pid_t
s_start (char *const argv [])
{
    pid_t pid = fork ();
    if (pid == 0) {
        execv (argv [0], argv);
        _exit (127);
    }
    return pid;
}

static void
s_stop (pid_t pid)
{
    if (pid > 0) {
        kill (pid, SIGTERM);
        waitpid (pid, NULL, 0);
    }
}

//  The broker program beside this one in the build tree, or as installed.
static void
s_broker_path (char *path, size_t size)
{
    char self [4096];
    ssize_t length = readlink ("/proc/self/exe", self, sizeof self - 1);
    self [length > 0 ? length : 0] = 0;
    char *slash = strrchr (self, '/');
    if (slash)
        *slash = 0;
    snprintf (path, size, "%s/../broker/zexec-broker", self);
    if (access (path, X_OK) != 0)
        snprintf (path, size, "%s/zexec-broker", self);
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc == 4 && strcmp (argv [1], "--serve") == 0)
        return zx_serve (argv [2], false, &(zx_executor_opts_t) { .max_workers = atoi (argv [3]) },
                         NULL) == ZX_OK ? 0 : 1;
    int tasks = 200000, workers = 2, rtts = 2000, window = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--csv") == 0)
            s_csv = true;
        else
        if (strcmp (argv [i], "--quick") == 0) {
            tasks = 50000;
            rtts = 500;
        }
        else
        if (strcmp (argv [i], "--tasks") == 0 && i + 1 < argc)
            tasks = atoi (argv [++i]);
        else
        if (strcmp (argv [i], "--workers") == 0 && i + 1 < argc)
            workers = atoi (argv [++i]);
        else
        if (strcmp (argv [i], "--window") == 0 && i + 1 < argc)
            window = atoi (argv [++i]);
        else {
            fprintf (stderr, "usage: zexec-bench [--quick] [--csv] [--tasks N] [--workers N] [--window N]\n");
            return 2;
        }
    }
    if (tasks < 1 || workers < 1 || window < 0) {
        fprintf (stderr, "zexec-bench: --tasks and --workers must be positive\n");
        return 2;
    }
    if (!s_csv)
        printf ("%-22s %-10s %14s unit\n", "workload", "executor", "value");
    zx_loop_t *loop = zx_loop_new ();
    const char *kinds [] = { "thread", "process" };
    for (int k = 0; k < 2; k++) {
        zx_executor_opts_t opts = { .max_workers = workers, .window = window };
        zx_executor_t *pool = k == 0 ? zx_thread_pool_new (&opts) : zx_process_pool_new (&opts);
        if (!pool) {
            fprintf (stderr, "zexec-bench: cannot start the %s pool\n", kinds [k]);
            return 1;
        }
        s_throughput (loop, pool, 1000);                 //  Warm up: workers ready
        s_report ("tiny_throughput", kinds [k], s_throughput (loop, pool, tasks), "tasks/s");
        s_report ("rtt_p50", kinds [k], s_rtt_p50 (loop, pool, rtts), "us");
        zx_executor_destroy (&pool);
    }
    //  Remote: a broker on tcp loopback and this program as its worker
    char broker_path [4200], endpoint [64], workers_text [16], self_path [4096];
    s_broker_path (broker_path, sizeof broker_path);
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path [length > 0 ? length : 0] = 0;
    int port = 20000 + getpid () % 20000;
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    snprintf (workers_text, sizeof workers_text, "%d", workers);
    char *broker_argv [] = { broker_path, "--bind", endpoint, NULL };
    char *worker_argv [] = { self_path, "--serve", endpoint, workers_text, NULL };
    pid_t broker = access (broker_path, X_OK) == 0 ? s_start (broker_argv) : -1;
    pid_t worker = broker > 0 ? s_start (worker_argv) : -1;
    zx_executor_t *remote = worker > 0 ? zx_remote_executor_new (endpoint, NULL) : NULL;
    if (remote) {
        s_throughput (loop, remote, 1000);
        s_report ("tiny_throughput", "remote", s_throughput (loop, remote, tasks), "tasks/s");
        s_report ("rtt_p50", "remote", s_rtt_p50 (loop, remote, rtts), "us");
        zx_executor_destroy (&remote);
    }
    else
        fprintf (stderr, "zexec-bench: no zexec-broker at %s: remote rows skipped\n", broker_path);
    s_stop (worker);
    s_stop (broker);
    zx_loop_destroy (&loop);
    return 0;
}
