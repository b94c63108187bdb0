/*  distributed_primes.c - counts the primes below N on a pool or a cluster.

        distributed_primes [--endpoint ENDPOINT] [--limit N] [--chunk N]
                           [--workers N] [--processes]

    DESIGN: the coordinator splits [0, limit) into chunks and runs the task
    count_primes (primes_tasks.c) on each, keeping at most S_IN_FLIGHT
    chunks submitted at a time and waiting for whichever finishes first,
    so memory stays flat for any limit; a zx_progress_t watches every
    chunk's future and draws the progress on stderr. The same code runs on a thread pool, a process pool or
    the remote workers behind a zexec-broker: only the executor differs.
    Each result carries the label of the worker that ran it, so the
    summary shows how the work was spread.

    Exit status: 0 when the count is right (or there is no known value to
    check it against), 1 when it is wrong or a task failed, 2 on a usage
    error. The last line on stdout is exactly "primes below N: COUNT".  */
#include <zexec.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_IN_FLIGHT     256     //  Chunks submitted and not yet finished, at most
#define S_LIMIT_MAX     ((int64_t) 1 << 62)

typedef struct {
    char *label;
    int64_t tasks;
} s_worker_t;

typedef struct {
    //  What to do
    const char *endpoint;
    int64_t limit;
    int64_t chunk;
    int workers;
    bool processes;
    zx_executor_t *executor;
    //  What happened
    int64_t tasks;              //  Chunks in all
    int64_t done;               //  Chunks finished, well or not
    int64_t primes;
    int64_t failed;
    char first_error [512];
    bool stopping;              //  A task failed: submit nothing more
    s_worker_t *per_worker;
    size_t worker_count;
    double started, finished;
    zx_progress_t *progress;    //  On stderr: a bar on a terminal, else a line per 10 %
} s_job_t;

//  --------------------------------------------------------------------

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

//  pi (10^k) for k = 0..12, to check the total against
static const int64_t s_known [] = {
    0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534,
    455052511, 4118054813LL, 37607912018LL
};

//  Returns pi (limit) when it is known here, else -1.
static int64_t
s_expected (int64_t limit)
{
    int64_t power = 1;
    for (size_t k = 0; k < sizeof s_known / sizeof s_known [0]; k++, power *= 10)
        if (limit == power)
            return s_known [k];
    return -1;
}

static void
s_count_worker (s_job_t *job, const char *label)
{
    for (size_t i = 0; i < job->worker_count; i++)
        if (strcmp (job->per_worker [i].label, label) == 0) {
            job->per_worker [i].tasks++;
            return;
        }
    s_worker_t *grown = realloc (job->per_worker, (job->worker_count + 1) * sizeof *grown);
    char *copy = strdup (label);
    if (!grown || !copy) {
        free (copy);
        if (grown)
            job->per_worker = grown;
        return;                     //  Only the per-worker table is short
    }
    job->per_worker = grown;
    job->per_worker [job->worker_count++] = (s_worker_t) { copy, 1 };
}

static int
s_by_label (const void *a, const void *b)
{
    return strcmp (((const s_worker_t *) a)->label, ((const s_worker_t *) b)->label);
}

//  --------------------------------------------------------------------
//  The coordinator: a coroutine that keeps the executor fed

static void
s_take (s_job_t *job, zx_future_t *future)
{
    job->done++;
    int64_t count;
    const char *label;
    const zx_values_t *result = zx_future_result (future);
    if (result && zx_values_get_int (result, 0, &count) == ZX_OK
    &&  zx_values_get_str (result, 1, &label) == ZX_OK) {
        job->primes += count;
        s_count_worker (job, label);
        return;
    }
    //  Ours cancelled after an earlier failure are not news
    if (job->stopping && zx_future_cancelled (future))
        return;
    job->failed++;
    if (!job->first_error [0])
        snprintf (job->first_error, sizeof job->first_error, "%s: %s",
                  zx_strerror (zx_future_error (future)),
                  result ? "unexpected result" : zx_future_message (future));
    job->stopping = true;
}

static void
s_run (void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    zx_loop_t *loop = zx_loop_current ();
    zx_future_t *in_flight [S_IN_FLIGHT], *done [S_IN_FLIGHT], *pending [S_IN_FLIGHT];
    size_t count = 0;
    int64_t next = 0;
    job->started = s_now ();
    while (true) {
        while (!job->stopping && count < S_IN_FLIGHT && next < job->limit) {
            int64_t hi = job->limit - next > job->chunk ? next + job->chunk : job->limit;
            zx_future_t *future = zx_run_in_executor (loop, job->executor, "count_primes",
                                                      zx_values_pack ("ii", next, hi));
            if (!future) {
                snprintf (job->first_error, sizeof job->first_error, "out of memory");
                job->failed++;
                job->stopping = true;
                break;
            }
            zx_progress_watch (job->progress, future);
            in_flight [count++] = future;
            next = hi;
        }
        if (job->stopping)
            for (size_t i = 0; i < count; i++)
                zx_future_cancel (in_flight [i]);
        if (count == 0)
            break;
        size_t done_count = 0, pending_count = 0;
        zx_err_t rc = zx_wait (in_flight, count, ZX_FIRST_COMPLETED, 250,
                               done, &done_count, pending, &pending_count);
        if (rc != ZX_OK) {
            //  This coroutine was cancelled: leave nothing behind
            for (size_t i = 0; i < count; i++) {
                zx_future_cancel (in_flight [i]);
                zx_future_destroy (&in_flight [i]);
            }
            return;
        }
        for (size_t i = 0; i < done_count; i++) {
            s_take (job, done [i]);
            zx_future_destroy (&done [i]);
        }
        memcpy (in_flight, pending, pending_count * sizeof pending [0]);
        count = pending_count;
    }
    job->finished = s_now ();
    zx_progress_finish (job->progress);
}

//  --------------------------------------------------------------------
//  The command line

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: distributed_primes [--endpoint ENDPOINT] [--limit N] [--chunk N]\n"
        "                          [--workers N] [--processes]\n"
        "\n"
        "Counts the primes below N in chunks, each chunk a task (count_primes) run\n"
        "on a local pool or on the workers of a zexec-broker.\n"
        "\n"
        "  --endpoint ENDPOINT  run the tasks on the workers of the zexec-broker at\n"
        "                       ENDPOINT (e.g. tcp://10.0.0.2:5555); without it, a\n"
        "                       local pool runs them\n"
        "  --limit N            count the primes in [0, N) (default 10000000)\n"
        "  --chunk N            numbers per task (default 100000)\n"
        "  --workers N          local pool size (default: the number of cores)\n"
        "  --processes          local pool of processes instead of threads\n"
        "  --help               this text\n"
        "\n"
        "Progress goes to stderr; the summary to stdout, whose last line is\n"
        "\"primes below N: COUNT\". Exit status 1 when the count is not the known\n"
        "value of pi(N) (for N a power of ten) or a task failed.\n");
}

static bool
s_number (const char *text, int64_t low, int64_t high, int64_t *out)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || *end || end == text || value < low || value > high)
        return false;
    *out = (int64_t) value;
    return true;
}

static int
s_parse (s_job_t *job, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        int64_t number;
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        else
        if (strcmp (arg, "--processes") == 0)
            job->processes = true;
        else
        if (strcmp (arg, "--endpoint") == 0 && value && *value) {
            job->endpoint = value;
            i++;
        }
        else
        if (strcmp (arg, "--limit") == 0 && value && s_number (value, 0, S_LIMIT_MAX, &number)) {
            job->limit = number;
            i++;
        }
        else
        if (strcmp (arg, "--chunk") == 0 && value && s_number (value, 1, S_LIMIT_MAX, &number)) {
            job->chunk = number;
            i++;
        }
        else
        if (strcmp (arg, "--workers") == 0 && value && s_number (value, 1, 1024, &number)) {
            job->workers = (int) number;
            i++;
        }
        else {
            if (value && arg [0] == '-' && arg [1] == '-')
                fprintf (stderr, "distributed_primes: bad value '%s' for %s\n", value, arg);
            else
                fprintf (stderr, "distributed_primes: unknown or incomplete argument '%s'\n", arg);
            fprintf (stderr, "Try 'distributed_primes --help'.\n");
            return 2;
        }
    }
    return -1;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);               //  First: process workers start here
    zx_log_basic_config (ZX_LOG_WARNING, "distributed_primes: %(levelname)s: %(message)s");

    s_job_t job = { .limit = 10000000, .chunk = 100000 };
    int rc = s_parse (&job, argc, argv);
    if (rc >= 0)
        return rc;
    bool workers_given = job.workers > 0;
    if (!workers_given) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        job.workers = cores > 0 ? (int) cores : 1;
    }
    job.tasks = job.limit / job.chunk + (job.limit % job.chunk != 0);
    job.progress = zx_progress_new ("count_primes", job.tasks, NULL);
    if (!job.progress) {
        fprintf (stderr, "distributed_primes: out of memory\n");
        return 1;
    }

    //  count_primes is safe to run twice: a chunk whose worker is lost
    //  goes to another worker, up to three times
    char where [600];
    zx_executor_opts_t opts = { .max_workers = job.workers, .retries = 3 };
    if (job.endpoint) {
        if (workers_given || job.processes)
            fprintf (stderr, "distributed_primes: --workers and --processes are for local "
                             "pools: ignored with --endpoint\n");
        job.executor = zx_remote_executor_new (job.endpoint, &opts);
        snprintf (where, sizeof where, "the remote workers behind %s", job.endpoint);
    }
    else {
        job.executor = job.processes ? zx_process_pool_new (&opts) : zx_thread_pool_new (&opts);
        snprintf (where, sizeof where, "a %s pool of %d workers",
                  job.processes ? "process" : "thread", job.workers);
    }
    if (!job.executor) {
        fprintf (stderr, "distributed_primes: cannot start the executor%s%s\n",
                 job.endpoint ? " for " : "", job.endpoint ? job.endpoint : "");
        return 2;
    }
    fprintf (stderr, "distributed_primes: counting primes below %lld in %lld tasks on %s\n",
             (long long) job.limit, (long long) job.tasks, where);

    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *main_task = loop ? zx_coro_start (loop, s_run, &job, 0) : NULL;
    zx_err_t outcome = main_task ? zx_loop_run_until_complete (loop, main_task) : ZX_ENOMEM;
    zx_future_destroy (&main_task);
    zx_executor_destroy (&job.executor);
    zx_loop_destroy (&loop);
    zx_progress_destroy (&job.progress);
    if (outcome != ZX_OK) {
        fprintf (stderr, "distributed_primes: %s\n", zx_strerror (outcome));
        return 1;
    }

    double wall = job.finished - job.started;
    int64_t expected = s_expected (job.limit);
    bool right = job.failed == 0 && (expected < 0 || expected == job.primes);
    printf ("executor:         %s\n", where);
    printf ("range:            [0, %lld) in chunks of %lld\n",
            (long long) job.limit, (long long) job.chunk);
    if (job.failed)
        printf ("total primes:     unknown: %lld tasks failed, the first with %s\n",
                (long long) job.failed, job.first_error);
    else
    if (expected < 0)
        printf ("total primes:     %lld (no known value to check against)\n",
                (long long) job.primes);
    else
        printf ("total primes:     %lld (pi(%lld) is %lld: %s)\n", (long long) job.primes,
                (long long) job.limit, (long long) expected, right ? "right" : "WRONG");
    printf ("tasks:            %lld\n", (long long) job.tasks);
    printf ("wall time:        %.2f s\n", wall);
    printf ("tasks/s:          %.1f\n", wall > 0 ? (double) job.done / wall : 0.0);
    printf ("tasks per worker: %zu workers\n", job.worker_count);
    if (job.worker_count > 1)
        qsort (job.per_worker, job.worker_count, sizeof job.per_worker [0], s_by_label);
    for (size_t i = 0; i < job.worker_count; i++) {
        printf ("  %-44s %6lld\n", job.per_worker [i].label, (long long) job.per_worker [i].tasks);
        free (job.per_worker [i].label);
    }
    free (job.per_worker);
    if (job.failed) {
        fprintf (stderr, "distributed_primes: %s\n", job.first_error);
        return 1;
    }
    printf ("primes below %lld: %lld\n", (long long) job.limit, (long long) job.primes);
    if (!right) {
        fprintf (stderr, "distributed_primes: counted %lld primes below %lld, expected %lld\n",
                 (long long) job.primes, (long long) job.limit, (long long) expected);
        return 1;
    }
    return 0;
}
