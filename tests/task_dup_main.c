/*  task_dup_main.c - a program that registers the task 'blocks' twice,
    here and in task_dup_other.c, for test_zx_task.c to run.

    It prints where the two ZX_TASKs are, then starts up the way its
    argument says (zx_init, a loop or a thread pool), which must print
    the duplicate on stderr and exit with status 2 before returning.     */
#include "zexec.h"
#include <stdio.h>
#include <string.h>

extern const char *task_dup_other_file;
extern const int task_dup_other_line;

static const int s_line = __LINE__; ZX_TASK (blocks)
{
    return zx_call_return_int (call, 1);
}

int
main (int argc, char **argv)
{
    const char *how = argc > 1 ? argv [1] : "init";
    printf ("%s:%d\n%s:%d\n", __FILE__, s_line, task_dup_other_file, task_dup_other_line);
    fflush (stdout);
    if (strcmp (how, "loop") == 0) {
        zx_loop_t *loop = zx_loop_new ();
        zx_loop_destroy (&loop);
    }
    else
    if (strcmp (how, "pool") == 0) {
        zx_executor_t *pool = zx_thread_pool_new (NULL);
        zx_executor_destroy (&pool);
    }
    else
        zx_init (argc, argv);
    printf ("started up\n");
    return 0;
}
