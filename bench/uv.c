/*  uv.c - the C peer: libuv's thread pool on the tiny-task workload.

    DESIGN: what a C programmer would pick instead of zexec's thread pool
    is libuv's uv_queue_work: a fixed pool of threads (UV_THREADPOOL_SIZE,
    read once, when the pool first starts) fed from one loop, each work
    item's after-work callback run back on that loop. The same workload as
    zexec's tiny tasks (workloads.c, workload 2): square an integer, keep
    depth items in flight for a while, then submit count at once and wait
    for them all, checking every result. It runs in a fresh process
    (--uv-child) so that the pool size is the one asked for; the rows it
    prints have the executor "libuv", and report.c sets zexec's thread
    pool beside them (tiny_throughput_vs_libuv).                        */

#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BENCH_HAVE_LIBUV
#include <uv.h>

typedef struct {
    uv_work_t work;
    int64_t in, out;
    struct s_run *run;
} s_item_t;

typedef struct s_run {
    uv_loop_t *loop;
    double deadline;            //  In-flight runs: submit until then
    long submitted, completed, wrong;
    s_item_t *items;            //  All-at-once runs: one per task
} s_run_t;

static void
s_square (uv_work_t *work)
{
    s_item_t *item = (s_item_t *) work->data;
    item->out = item->in * item->in;
}

static void s_submit (s_run_t *run, s_item_t *item);

static void
s_after (uv_work_t *work, int status)
{
    s_item_t *item = (s_item_t *) work->data;
    s_run_t *run = item->run;
    run->completed++;
    if (status != 0 || item->out != item->in * item->in)
        run->wrong++;
    if (!run->items && bench_now () < run->deadline)
        s_submit (run, item);               //  Keep the depth: reuse the item
    else
    if (!run->items)
        free (item);
}

static void
s_submit (s_run_t *run, s_item_t *item)
{
    item->run = run;
    item->in = run->submitted++ % 1000000;
    item->work.data = item;
    if (uv_queue_work (run->loop, &item->work, s_square, s_after) != 0) {
        run->completed++;
        run->wrong++;
        if (!run->items)
            free (item);
    }
}

//  Keeps depth tasks in flight for seconds.
static void
s_in_flight (uv_loop_t *loop, int depth, double seconds)
{
    s_run_t run = { .loop = loop };
    double start = bench_now ();
    run.deadline = start + seconds;
    for (int i = 0; i < depth; i++) {
        s_item_t *item = calloc (1, sizeof (s_item_t));
        if (item)
            s_submit (&run, item);
    }
    uv_run (loop, UV_RUN_DEFAULT);
    double elapsed = bench_now () - start;
    if (run.wrong) {
        bench_note ("libuv: %ld of %ld tasks wrong or failed", run.wrong, run.completed);
        return;
    }
    char name [48];
    snprintf (name, sizeof name, "tiny_throughput_%d", depth);
    bench_report (name, "libuv", (double) run.completed / elapsed, "tasks/s");
}

//  Submits count tasks at once and waits for all.
static void
s_all_at_once (uv_loop_t *loop, long count)
{
    s_run_t run = { .loop = loop, .items = calloc ((size_t) count, sizeof (s_item_t)) };
    if (!run.items)
        return;
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        s_submit (&run, &run.items [i]);
    uv_run (loop, UV_RUN_DEFAULT);
    double elapsed = bench_now () - start;
    free (run.items);
    if (run.wrong || run.completed != count)
        bench_note ("libuv: %ld of %ld tasks wrong or failed", run.wrong, count);
    else
        bench_report ("tiny_throughput", "libuv", (double) count / elapsed, "tasks/s");
}

int
bench_uv_child (int workers, long count, bool quick)
{
    //  Read by libuv when its pool first starts, which is below
    char size [16];
    snprintf (size, sizeof size, "%d", workers);
    setenv ("UV_THREADPOOL_SIZE", size, 1);
    uv_loop_t loop;
    if (uv_loop_init (&loop) != 0)
        return 1;
    s_run_t warm = { .loop = &loop, .items = calloc (1000, sizeof (s_item_t)) };
    for (long i = 0; warm.items && i < 1000; i++)
        s_submit (&warm, &warm.items [i]);
    uv_run (&loop, UV_RUN_DEFAULT);
    free (warm.items);
    const int depths [] = { 1, 8, 64, 1000 };
    for (size_t i = 0; i < sizeof depths / sizeof depths [0]; i++)
        s_in_flight (&loop, depths [i], quick ? 0.15 : 1.0);
    s_all_at_once (&loop, count);
    uv_loop_close (&loop);
    bench_report_print_csv ();
    return 0;
}

#else

int
bench_uv_child (int workers, long count, bool quick)
{
    (void) workers;
    (void) count;
    (void) quick;
    fprintf (stderr, "zexec-bench: built without libuv (libuv1-dev)\n");
    return 1;
}

#endif
