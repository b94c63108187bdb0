/*  workloads.c - workloads 1 to 6, measured on zexec's executors.

    DESIGN: every workload is written as a user of the public API would
    write it (zx_run_in_executor, futures, zx_wait), against an executor
    made by bench_pool_new, so the same code measures the thread pool, the
    process pool and remote workers behind a broker; only the pool's
    making differs. Depths other than "everything at once" are kept by
    done callbacks that submit the next task, the cheapest way the API
    offers. Coordinator CPU is the loop's thread alone for thread pools
    (their workers share the process) and the whole process (loop plus
    libzmq's I/O thread) for the others. CPU-bound tasks burn a fixed
    amount of their thread's CPU time, so a worker that shares a core
    with other load takes longer, as real work would. Two workloads run
    in a fresh process of their own: the million tasks (--mem-child), so
    that the peak RSS is theirs alone, and the blocking tasks
    (--blocking-child), because a pool of 50 worker processes has been
    seen to corrupt the heap on its way down.                          */

#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  ---------------------------------------------------------------------
//  Tasks

ZX_TASK (bench_square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

//  Burns the given microseconds of this thread's CPU: a fixed amount of
//  work, so two workers sharing one core take twice as long.
ZX_TASK (bench_spin)
{
    int64_t us;
    if (zx_call_arg_int (call, 0, &us))
        return -1;
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    int64_t end = ts.tv_sec * 1000000000LL + ts.tv_nsec + us * 1000;
    do
        clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    while (ts.tv_sec * 1000000000LL + ts.tv_nsec < end);
    return zx_call_return_int (call, us);
}

ZX_TASK (bench_sleep)
{
    int64_t ms;
    if (zx_call_arg_int (call, 0, &ms))
        return -1;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    nanosleep (&ts, NULL);
    return zx_call_return_int (call, ms);
}

ZX_TASK (bench_echo)
{
    const void *data;
    size_t size;
    if (zx_call_arg_bytes (call, 0, &data, &size))
        return -1;
    return zx_values_add_bytes (zx_call_result (call), data, size) == ZX_OK ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  Executors

zx_executor_t *
bench_pool_new (bench_kind_t *kind, int n)
{
    zx_executor_opts_t opts = { .max_workers = n, .window = kind->opts->window,
                                .max_queue = kind->max_queue };
    zx_executor_t *pool = NULL;
    if (strcmp (kind->name, "thread") == 0)
        pool = zx_thread_pool_new (&opts);
    else
    if (strcmp (kind->name, "process") == 0)
        pool = zx_process_pool_new (&opts);
    else
    if (kind->endpoint) {
        char workers [16];
        snprintf (workers, sizeof workers, "%d", n);
        char *argv [] = { (char *) bench_self (), "--serve", (char *) kind->endpoint, workers, NULL };
        kind->served = bench_start (argv, !kind->opts->verbose);
        zx_executor_opts_t remote = { .max_queue = kind->max_queue };
        pool = kind->served > 0 ? zx_remote_executor_new (kind->endpoint, &remote) : NULL;
    }
    //  Ready means a first round of tasks came back from every worker
    bool ready = pool != NULL;
    zx_future_t *futures [128];
    int count = 2 * n < 128 ? 2 * n : 128;
    for (int i = 0; ready && i < count; i++)
        futures [i] = zx_executor_submit (pool, "bench_sleep", zx_values_pack ("i", (int64_t) 1));
    for (int i = 0; ready && i < count; i++) {
        ready = futures [i] && zx_future_wait (futures [i], 20000) == ZX_OK;
        zx_future_destroy (&futures [i]);
    }
    if (!ready) {
        bench_note ("cannot make a %s pool of %d", kind->name, n);
        bench_pool_destroy (kind, &pool);
    }
    return pool;
}

void
bench_pool_destroy (bench_kind_t *kind, zx_executor_t **pool_p)
{
    zx_executor_destroy (pool_p);
    if (kind->served > 0)
        bench_stop (kind->served);
    kind->served = 0;
}

static double
s_coordinator_cpu (const bench_kind_t *kind)
{
    return bench_cpu (strcmp (kind->name, "thread") == 0);
}

//  CPU seconds the workers have used: the process less the loop's thread
//  for a thread pool, the worker processes for a process pool, the served
//  worker (its bridge and its pool) for remote.
static double
s_workers_cpu (const bench_kind_t *kind, zx_executor_t *pool)
{
    if (strcmp (kind->name, "thread") == 0)
        return bench_cpu (false) - bench_cpu (true);
    if (kind->served > 0)
        return bench_proc_cpu (kind->served);
    pid_t pids [64];
    size_t count = zx_executor_worker_pids (pool, pids, 64);
    double sum = 0;
    for (size_t i = 0; i < count && i < 64; i++)
        sum += bench_proc_cpu (pids [i]);
    return sum;
}

//  ---------------------------------------------------------------------
//  1. Round trips, one task in flight

static void
s_round_trips (zx_loop_t *loop, zx_executor_t *pool, const char *executor, int count,
               bool gaps)
{
    double *samples = calloc ((size_t) count, sizeof (double));
    struct timespec gap = { 0, 1000000 };
    for (int i = 0; i < count; i++) {
        double start = bench_now ();
        zx_future_t *future = zx_run_in_executor (loop, pool, "bench_square",
                                                  zx_values_pack ("i", (int64_t) i));
        zx_await (future);
        samples [i] = (bench_now () - start) * 1e6;
        zx_future_destroy (&future);
        if (gaps)
            nanosleep (&gap, NULL);
    }
    bench_report (gaps ? "rtt_gap_p50" : "rtt_p50", executor,
                  bench_percentile (samples, (size_t) count, 0.5), "us");
    bench_report (gaps ? "rtt_gap_p99" : "rtt_p99", executor,
                  bench_percentile (samples, (size_t) count, 0.99), "us");
    free (samples);
}

//  ---------------------------------------------------------------------
//  2. Tiny tasks at a given depth

typedef struct {
    zx_loop_t *loop;
    zx_executor_t *pool;
    double deadline;
    long submitted, completed, failed;
    zx_future_t *finished;
} s_flight_t;

static void s_flight_done (zx_future_t *future, void *arg);

//  Ends the run once nothing is in flight.
static void
s_flight_check (s_flight_t *self)
{
    if (self->completed == self->submitted && !zx_future_done (self->finished))
        zx_future_set_result (self->finished, NULL);
}

static void
s_flight_submit (s_flight_t *self)
{
    zx_future_t *future = zx_run_in_executor (self->loop, self->pool, "bench_square",
                                              zx_values_pack ("i", (int64_t) self->submitted));
    self->submitted++;
    if (!future || zx_future_add_done_callback (future, s_flight_done, self) != ZX_OK) {
        zx_future_destroy (&future);
        self->failed++;
        self->completed++;
    }
}

static void
s_flight_done (zx_future_t *future, void *arg)
{
    s_flight_t *self = arg;
    int64_t value;
    if (zx_future_result_int (future, &value) != ZX_OK)
        self->failed++;
    zx_future_destroy (&future);
    self->completed++;
    if (bench_now () < self->deadline)
        s_flight_submit (self);
    s_flight_check (self);
}

//  Keeps depth tasks in flight for seconds; reports tasks/s and
//  coordinator CPU per task.
static void
s_in_flight (zx_loop_t *loop, const bench_kind_t *kind, zx_executor_t *pool, int depth,
             double seconds)
{
    s_flight_t flight = { .loop = loop, .pool = pool, .finished = zx_future_new (loop) };
    double cpu = s_coordinator_cpu (kind);
    double start = bench_now ();
    flight.deadline = start + seconds;
    for (int i = 0; i < depth; i++)
        s_flight_submit (&flight);
    s_flight_check (&flight);
    zx_loop_run_until_complete (loop, flight.finished);
    double elapsed = bench_now () - start;
    cpu = s_coordinator_cpu (kind) - cpu;
    zx_future_destroy (&flight.finished);
    if (flight.failed) {
        bench_note ("%s: %ld of %ld tasks failed", kind->name, flight.failed,
                    flight.completed);
        return;
    }
    char name [48];
    snprintf (name, sizeof name, "tiny_throughput_%d", depth);
    bench_report (name, kind->name, (double) flight.completed / elapsed, "tasks/s");
    snprintf (name, sizeof name, "tiny_coord_cpu_%d", depth);
    bench_report (name, kind->name, cpu * 1e6 / (double) flight.completed, "us/task");
}

//  Submits count tasks of task (arg) at once and waits for all. Returns
//  the seconds it took, or NAN when a task failed.
static double
s_batch (zx_loop_t *loop, zx_executor_t *pool, const char *task, zx_values_t *args, long count)
{
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    if (!futures)
        return NAN;
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, pool, task, zx_values_dup (args));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = bench_now () - start;
    bool right = true;
    for (long i = 0; i < count; i++) {
        if (right && zx_future_error (futures [i]) != ZX_OK) {
            bench_note ("%s: %s", task, zx_future_message (futures [i]));
            right = false;
        }
        zx_future_destroy (&futures [i]);
    }
    free (futures);
    return right ? elapsed : NAN;
}

//  Everything at once: count tiny tasks submitted, then all awaited.
static void
s_all_at_once (zx_loop_t *loop, const bench_kind_t *kind, zx_executor_t *pool, long count)
{
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    double cpu = s_coordinator_cpu (kind);
    //  Where the rest of the CPU goes: the workers and, for remote, the
    //  broker
    double broker_cpu = kind->broker > 0 ? bench_proc_cpu (kind->broker) : NAN;
    double workers_cpu = s_workers_cpu (kind, pool);
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, pool, "bench_square", zx_values_pack ("i", (int64_t) i));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = bench_now () - start;
    cpu = s_coordinator_cpu (kind) - cpu;
    broker_cpu = kind->broker > 0 ? bench_proc_cpu (kind->broker) - broker_cpu : NAN;
    workers_cpu = s_workers_cpu (kind, pool) - workers_cpu;
    bool right = true;
    for (long i = 0; i < count; i++) {
        int64_t value = -1;
        right &= zx_future_result_int (futures [i], &value) == ZX_OK && value == (int64_t) i * i;
        zx_future_destroy (&futures [i]);
    }
    free (futures);
    if (!right)
        bench_note ("%s: wrong or failed results", kind->name);
    else {
        bench_report ("tiny_throughput", kind->name, (double) count / elapsed, "tasks/s");
        bench_report ("tiny_coord_cpu", kind->name, cpu * 1e6 / (double) count, "us/task");
        bench_report ("tiny_worker_cpu", kind->name, workers_cpu * 1e6 / (double) count, "us/task");
        if (!isnan (broker_cpu))
            bench_report ("tiny_broker_cpu", kind->name, broker_cpu * 1e6 / (double) count, "us/task");
    }
}

//  ---------------------------------------------------------------------
//  3. CPU-bound scaling

static const int64_t s_spin_us [] = { 10, 100, 1000, 10000 };
static const char *s_spin_names [] = { "10us", "100us", "1ms", "10ms" };
#define S_SPINS (sizeof s_spin_us / sizeof s_spin_us [0])

//  Tasks in the batch of spin i: work seconds of CPU, an even number.
static long
s_spin_count (size_t i, double work)
{
    long count = (long) (work * 1e6 / (double) s_spin_us [i]);
    return count + (count & 1);
}

//  Times the spin batches on n workers into seconds [].
static void
s_spin_batches (zx_loop_t *loop, bench_kind_t *kind, int n, double work, double *seconds)
{
    zx_executor_t *pool = bench_pool_new (kind, n);
    for (size_t i = 0; i < S_SPINS; i++) {
        long count = s_spin_count (i, work);
        zx_values_t *args = zx_values_pack ("i", s_spin_us [i]);
        seconds [i] = pool ? s_batch (loop, pool, "bench_spin", args, count) : NAN;
        zx_values_destroy (&args);
    }
    bench_pool_destroy (kind, &pool);
}

static void
s_cpu_scaling (zx_loop_t *loop, bench_kind_t *kind, double work)
{
    double one [S_SPINS], two [S_SPINS];
    s_spin_batches (loop, kind, 1, work, one);
    s_spin_batches (loop, kind, 2, work, two);
    for (size_t i = 0; i < S_SPINS; i++) {
        long count = s_spin_count (i, work);
        if (isnan (one [i]) || isnan (two [i]))
            continue;
        char name [48];
        snprintf (name, sizeof name, "cpu_%s_1w", s_spin_names [i]);
        bench_report (name, kind->name, (double) count / one [i], "tasks/s");
        snprintf (name, sizeof name, "cpu_%s_2w", s_spin_names [i]);
        bench_report (name, kind->name, (double) count / two [i], "tasks/s");
        snprintf (name, sizeof name, "cpu_%s_speedup_2w", s_spin_names [i]);
        bench_report (name, kind->name, one [i] / two [i], "x");
    }
}

//  ---------------------------------------------------------------------
//  4. Blocking tasks: 1,000 sleeps of 10 ms on 50 workers (ideal 0.2 s)

//  Runs in a fresh process (bench_blocking_child), which prints its
//  figures before the pool goes: destroying a pool of 50 processes has
//  been seen to corrupt the heap.
static void
s_blocking (zx_loop_t *loop, bench_kind_t *kind)
{
    zx_executor_t *pool = bench_pool_new (kind, 50);
    if (!pool)
        return;
    zx_values_t *args = zx_values_pack ("i", (int64_t) 10);
    double elapsed = s_batch (loop, pool, "bench_sleep", args, 1000);
    zx_values_destroy (&args);
    if (!isnan (elapsed)) {
        bench_report ("blocking_total", kind->name, elapsed, "s");
        bench_report ("blocking_vs_ideal", kind->name, elapsed / 0.2, "x");
        bench_report_print_csv ();
        fflush (stdout);
    }
    bench_pool_destroy (kind, &pool);
}

//  ---------------------------------------------------------------------
//  5. Payloads: argument and result of the same size

static void
s_payloads (zx_loop_t *loop, const bench_kind_t *kind, zx_executor_t *pool)
{
    const size_t sizes [] = { 64, 1 << 10, 16 << 10, 256 << 10, 1 << 20, 16 << 20 };
    const char *names [] = { "64B", "1KiB", "16KiB", "256KiB", "1MiB", "16MiB" };
    size_t total = kind->opts->quick ? 16 << 20 : 128 << 20;
    long cap = kind->opts->quick ? 20000 : 200000;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        long count = (long) (total / sizes [i]);
        count = count < 4 ? 4 : count > cap ? cap : count;
        char *data = malloc (sizes [i]);
        if (!data)
            continue;
        memset (data, 'x', sizes [i]);
        zx_values_t *args = zx_values_pack ("b", data, sizes [i]);
        free (data);
        //  The first burst of a size also measures the memory each process
        //  maps and faults in for it; the second, what it costs once there
        double first = s_batch (loop, pool, "bench_echo", args, count);
        double elapsed = isnan (first) ? NAN : s_batch (loop, pool, "bench_echo", args, count);
        zx_values_destroy (&args);
        if (isnan (elapsed))
            continue;
        double bytes = 2.0 * (double) sizes [i] * (double) count;
        char name [48];
        snprintf (name, sizeof name, "payload_%s_first", names [i]);
        bench_report (name, kind->name, bytes / first / 1e9, "GB/s");
        snprintf (name, sizeof name, "payload_%s", names [i]);
        bench_report (name, kind->name, bytes / elapsed / 1e9, "GB/s");
    }
}

//  ---------------------------------------------------------------------

static bool
s_wanted (const bench_opts_t *opts, char workload)
{
    return strchr (opts->only, workload) != NULL;
}

static void
s_progress (const bench_opts_t *opts, const char *what, const char *executor)
{
    bench_progress (opts, "%s, %s", what, executor);
}

void
bench_run_kind (zx_loop_t *loop, bench_kind_t *kind, const bench_opts_t *opts)
{
    bool quick = opts->quick;
    if (s_wanted (opts, '1') || s_wanted (opts, '2') || s_wanted (opts, '5')) {
        zx_executor_t *pool = bench_pool_new (kind, opts->workers);
        if (pool && s_wanted (opts, '1')) {
            s_progress (opts, "1 round trips", kind->name);
            s_round_trips (loop, pool, kind->name, quick ? 1000 : 10000, false);
            s_round_trips (loop, pool, kind->name, quick ? 200 : 1000, true);
        }
        if (pool && s_wanted (opts, '2')) {
            s_progress (opts, "2 tiny tasks", kind->name);
            zx_values_t *args = zx_values_pack ("i", (int64_t) 7);
            s_batch (loop, pool, "bench_square", args, 1000);   //  Warm up
            zx_values_destroy (&args);
            const int depths [] = { 1, 8, 64, 1000 };
            for (size_t i = 0; i < sizeof depths / sizeof depths [0]; i++)
                s_in_flight (loop, kind, pool, depths [i], quick ? 0.15 : 1.0);
            s_all_at_once (loop, kind, pool, opts->tasks);
        }
        if (pool && s_wanted (opts, '5')) {
            s_progress (opts, "5 payloads", kind->name);
            s_payloads (loop, kind, pool);
        }
        bench_pool_destroy (kind, &pool);
    }
    if (s_wanted (opts, '3')) {
        s_progress (opts, "3 CPU scaling", kind->name);
        s_cpu_scaling (loop, kind, quick ? 0.1 : 0.5);
    }
}

int
bench_blocking_child (const char *kind_name)
{
    bench_opts_t opts = { .workers = 50, .only = "" };
    bench_kind_t kind = { .name = kind_name, .opts = &opts };
    char endpoint [64];
    pid_t broker = -1;
    if (strcmp (kind_name, "remote") == 0) {
        broker = bench_broker_start (endpoint, sizeof endpoint, true);
        kind.endpoint = endpoint;
    }
    zx_loop_t *loop = zx_loop_new ();
    s_blocking (loop, &kind);
    zx_loop_destroy (&loop);
    bench_stop (broker);
    return 0;
}

//  ---------------------------------------------------------------------
//  6. A million tasks at once, in a fresh process

void
bench_count_name (long count, char *buf, size_t size)
{
    if (count % 1000000 == 0)
        snprintf (buf, size, "%ldm", count / 1000000);
    else
    if (count % 1000 == 0)
        snprintf (buf, size, "%ldk", count / 1000);
    else
        snprintf (buf, size, "%ld", count);
}

int
bench_mem_child (const char *kind_name, long count, int workers)
{
    bench_opts_t opts = { .workers = workers, .only = "" };
    bench_kind_t kind = { .name = kind_name, .opts = &opts,
                          .max_queue = count > 1000000 ? (size_t) count : 0 };
    char endpoint [64];
    pid_t broker = -1;
    if (strcmp (kind_name, "remote") == 0) {
        broker = bench_broker_start (endpoint, sizeof endpoint, true);
        kind.endpoint = endpoint;
    }
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = bench_pool_new (&kind, workers);
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    if (!pool || !futures) {
        free (futures);
        bench_pool_destroy (&kind, &pool);
        bench_stop (broker);
        return 1;
    }
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, pool, "bench_square", zx_values_pack ("i", (int64_t) i));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = bench_now () - start;
    long peak_kb = bench_peak_rss_kb (0);
    long broker_kb = broker > 0 ? bench_peak_rss_kb (broker) : 0;
    long failed = 0;
    for (long i = 0; i < count; i++) {
        int64_t value = -1;
        if (zx_future_result_int (futures [i], &value) != ZX_OK || value != (int64_t) i * i) {
            if (!failed++)
                bench_note ("%s: task %ld: %s", kind_name, i, zx_future_message (futures [i]));
        }
        zx_future_destroy (&futures [i]);
    }
    free (futures);
    char name [64], suffix [24];       //  Room for any long: -Wformat-truncation at -O3
    bench_count_name (count, suffix, sizeof suffix);
    if (!failed) {
        snprintf (name, sizeof name, "peak_rss_%s", suffix);
        bench_report (name, kind_name, (double) peak_kb / 1024, "MB");
        snprintf (name, sizeof name, "wall_%s", suffix);
        bench_report (name, kind_name, elapsed, "s");
        if (broker_kb) {
            snprintf (name, sizeof name, "broker_peak_rss_%s", suffix);
            bench_report (name, kind_name, (double) broker_kb / 1024, "MB");
        }
        bench_report_print_csv ();
    }
    bench_pool_destroy (&kind, &pool);
    zx_loop_destroy (&loop);
    bench_stop (broker);
    return failed ? 1 : 0;
}
