/*  futures_as_completed.c - PyMOTW's futures_as_completed.py in C, with
    no event loop: an executor used from plain code as concurrent.futures'.

    Five tasks on five worker threads each sleep a random fraction of a
    second and return (n, n / 10); main prints each result as its task
    completes.

        ex = futures.ThreadPoolExecutor(max_workers=5)
        print('main: starting')
        wait_for = [ex.submit(task, i) for i in range(5, 0, -1)]
        for f in futures.as_completed(wait_for):
            print('main: result: {}'.format(f.result()))                */
#include <zexec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

ZX_TASK (task)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    //  random.random (): a fraction of a second
    unsigned seed = (unsigned) (time (NULL) ^ getpid () ^ (n * 2654435761u));
    int64_t us = (int64_t) ((double) rand_r (&seed) / ((double) RAND_MAX + 1) * 1e6);
    nanosleep (&(struct timespec) { 0, us * 1000 }, NULL);
    //  (n, n / 10)
    zx_values_t *result = zx_call_result (call);
    if (zx_values_add_int (result, n) || zx_values_add_double (result, (double) n / 10))
        return -1;
    return 0;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    zx_executor_t *ex = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 5 });
    if (!ex)
        return 1;
    printf ("main: starting\n");
    zx_future_t *wait_for [5];
    for (int i = 5; i > 0; i--)
        wait_for [5 - i] = zx_executor_submit (ex, "task", zx_values_pack ("i", (int64_t) i));
    zx_as_completed_t *completed = zx_as_completed_new (wait_for, 5, -1);
    zx_future_t *f;
    int status = 0;
    while (completed && (f = zx_as_completed_next (completed))) {
        if (zx_future_error (f) != ZX_OK) {
            printf ("main: failed: %s\n", zx_future_message (f));
            status = 1;
            continue;
        }
        //  A Python tuple: "[5, 0.5]" printed as "(5, 0.5)"
        char text [64];
        size_t size = zx_values_repr (zx_future_result (f), text, sizeof text);
        if (size >= 2 && size < sizeof text) {
            text [0] = '(';
            text [size - 1] = ')';
        }
        printf ("main: result: %s\n", text);
    }
    zx_as_completed_destroy (&completed);
    for (int i = 0; i < 5; i++)
        zx_future_destroy (&wait_for [i]);
    zx_executor_destroy (&ex);
    return status;
}
