/*  futures_map.c - PyMOTW's futures_thread_pool_map.py in C, with no
    event loop: an executor used from plain code as concurrent.futures'.

    A pool of two worker threads maps task over 5, 4, 3, 2, 1. map submits
    the work as it is made, so the workers print while main goes on; the
    results come back in input order.

        ex = futures.ThreadPoolExecutor(max_workers=2)
        print('main: starting')
        results = ex.map(task, range(5, 0, -1))
        print('main: unprocessed results {}'.format(results))
        print('main: waiting for real results')
        real_results = list(results)
        print('main: results: {}'.format(real_results))                 */
#include <zexec.h>
#include <stdio.h>
#include <time.h>

ZX_TASK (task)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    printf ("%s: sleeping %lld\n", zx_thread_name (), (long long) n);
    fflush (stdout);
    int64_t ms = n * 100;
    nanosleep (&(struct timespec) { ms / 1000, (ms % 1000) * 1000000 }, NULL);
    printf ("%s: done with %lld\n", zx_thread_name (), (long long) n);
    fflush (stdout);
    return zx_values_add_double (zx_call_result (call), (double) n / 10) == ZX_OK ? 0 : -1;
}

//  range(5, 0, -1), one argument list at a time
static zx_values_t *
s_range (void *state)
{
    int64_t *next = (int64_t *) state;
    return *next > 0 ? zx_values_pack ("i", (*next)--) : NULL;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    //  window 1: a worker takes its next task when it is free, as a
    //  ThreadPoolExecutor's threads take theirs from one queue
    zx_executor_t *ex = zx_thread_pool_new (&(zx_executor_opts_t) {
        .max_workers = 2, .window = 1 });
    if (!ex)
        return 1;
    printf ("main: starting\n");
    fflush (stdout);
    int64_t next = 5;
    zx_map_t *results = zx_map_new (ex, "task", s_range, &next, NULL);
    if (!results)
        return 1;
    printf ("main: unprocessed results <zx_map_t object at %p>\n", (void *) results);
    printf ("main: waiting for real results\n");
    fflush (stdout);
    zx_values_t *real_results = zx_values_new ();
    const zx_values_t *result;
    zx_err_t rc;
    while ((rc = zx_map_next (results, &result)) == ZX_OK && result) {
        double value = 0;
        zx_values_get_double (result, 0, &value);
        zx_values_add_double (real_results, value);
    }
    if (rc != ZX_OK)
        fprintf (stderr, "main: %s\n", zx_map_message (results));
    char text [256];
    zx_values_repr (real_results, text, sizeof text);
    printf ("main: results: %s\n", text);
    zx_values_destroy (&real_results);
    zx_map_destroy (&results);
    zx_executor_destroy (&ex);
    return rc == ZX_OK ? 0 : 1;
}
