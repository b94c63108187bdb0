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
    bool at_once;               //  All-at-once runs: the caller frees the items
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
    if (!run->at_once && bench_now () < run->deadline)
        s_submit (run, item);               //  Keep the depth: reuse the item
    else
    if (!run->at_once)
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
        if (!run->at_once)
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

//  Submits count tasks at once and waits for all: each task's work item
//  is allocated as it is submitted, inside the timed part, as zexec's
//  future is (workloads.c, s_all_at_once), and freed after it. (Until
//  this round they were one calloc before the clock started: glibc,
//  keeping freed memory, cleared and so faulted in all of their pages
//  there, which left every page fault of the burst out of libuv's time
//  and in zexec's.)
static void
s_submit_all (uv_loop_t *loop, long count, const char *row)
{
    s_item_t **items = calloc ((size_t) count, sizeof (s_item_t *));
    if (!items)
        return;
    s_run_t run = { .loop = loop, .at_once = true };
    double start = bench_now ();
    for (long i = 0; i < count; i++) {
        items [i] = malloc (sizeof (s_item_t));
        if (items [i])
            s_submit (&run, items [i]);
        else {
            run.completed++;
            run.wrong++;
        }
    }
    uv_run (loop, UV_RUN_DEFAULT);
    double elapsed = bench_now () - start;
    for (long i = 0; i < count; i++)
        free (items [i]);
    free (items);
    if (!row)
        return;
    if (run.wrong || run.completed != count)
        bench_note ("libuv: %ld of %ld tasks wrong or failed", run.wrong, count);
    else
        bench_report (row, "libuv", (double) count / elapsed, "tasks/s");
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
    s_submit_all (&loop, 1000, NULL);        //  Warm up, as zexec's pool is
    const int depths [] = { 1, 8, 64, 1000 };
    for (size_t i = 0; i < sizeof depths / sizeof depths [0]; i++)
        s_in_flight (&loop, depths [i], quick ? 0.15 : 1.0);
    s_submit_all (&loop, count, "tiny_throughput");
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
