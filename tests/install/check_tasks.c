/*  check_tasks.c - a task library for zexec-worker, built against an
    installed zexec (scripts/package-check.sh: libzexec-check-tasks.so).

    whereami (n) returns [n * n, the pid of the process that ran it], so
    that check_remote.c can tell the task ran in zexec-worker, not in the
    coordinator. ZX_TASK registers it as `zexec-worker --tasks' loads the
    library.                                                            */
#define _POSIX_C_SOURCE 200809L
#include <zexec.h>
#include <unistd.h>

ZX_TASK (whereami)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    if (zx_call_return_int (call, n * n)
    ||  zx_call_return_int (call, (int64_t) getpid ()))
        return -1;
    return 0;
}
