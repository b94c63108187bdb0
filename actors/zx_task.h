/*  zx_task.h - internal: running a registered task.                    */
#ifndef ZX_TASK_H_INCLUDED
#define ZX_TASK_H_INCLUDED
#include "zexec.h"
#include <pthread.h>
#include <stdatomic.h>

struct zx_call {
    const char *task;           //  Task name (borrowed)
    const zx_values_t *args;    //  Arguments (borrowed)
    zx_values_t *result;        //  Result, created lazily by zx_call_result
    zx_err_t error;             //  ZX_OK unless the call failed
    char *message;              //  Error message (owned), or NULL
    const char *fail_file;      //  Where zx_call_fail_at was called, or NULL
    int fail_line;
    atomic_bool cancelled;      //  Set by the runtime on a cancel request
    bool cancel_seen;           //  zx_call_cancelled has returned true
    //  Set by a worker runtime: asks it whether a cancel arrived for this
    //  call, at most once a millisecond, from the thread running the task
    bool (*poll) (void *arg);
    void *poll_arg;
    pthread_t poll_thread;
    int64_t next_poll_us;
};

//  Prepares call to run task with args (both borrowed).
void zx__call_init (zx_call_t *call, const char *task, const zx_values_t *args);

//  Frees what the call owns (result, message) and zeroes it.
void zx__call_reset (zx_call_t *call);

//  Looks up call->task and runs it. Afterwards call->error is ZX_OK and
//  call->result holds the result (possibly NULL for none), or call->error
//  and call->message say why not: ZX_ENOTASK "no such task 'NAME'",
//  ZX_ETYPE from the getters, ZX_ETASK from zx_call_fail, or ZX_ETASK
//  "task 'NAME' failed" when the task returned nonzero without saying why.
//  Returns call->error.
zx_err_t zx__task_invoke (zx_call_t *call);

//  Ends start-up for the task registry (zx_init calls it first): when a
//  ZX_TASK name was registered twice before now, prints each duplicate on
//  stderr and exits the program with status 2. Later calls do nothing, and
//  a duplicate after it is printed at once and refused.
void zx__task_startup (void);

//  For tests: returns the duplicates refused so far and not yet reported,
//  one line each (malloc'd, caller frees), or NULL; forgets them when
//  clear is true.
char *zx__task_duplicates (bool clear);

//  Returns a malloc'd printf-formatted string, or NULL when out of memory.
char *zx__strdupf (const char *format, ...) ZX_PRINTF (1, 2);
char *zx__strdupvf (const char *format, va_list args);

#endif
