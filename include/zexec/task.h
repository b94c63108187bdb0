/*  zexec/task.h - tasks: functions that workers run, registered by name.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_TASK_H_INCLUDED
#define ZEXEC_TASK_H_INCLUDED

#include "zexec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Tasks: functions that workers run, registered by name

    A task is `int fn (zx_call_t *call)`. It reads its arguments with the
    zx_call_arg_* getters, adds results to zx_call_result (call), and
    returns 0; or it returns the value of zx_call_fail (call, ...) to fail
    the caller's future with ZX_ETASK and a message.

        ZX_TASK (blocks) {
            int64_t n;
            if (zx_call_arg_int (call, 0, &n))
                return -1;                  //  type error already reported
            return zx_call_return_int (call, n * n);
        }

    ZX_TASK registers the function before main runs (a constructor), so the
    same binary started as a process worker knows the same tasks, and a
    shared library loaded with dlopen registers its tasks as it loads.   */

typedef struct zx_call zx_call_t;
typedef int (zx_task_fn) (zx_call_t *call);

#define ZX_TASK(name)                                                       \
    static int zx_task_fn_##name (zx_call_t *call);                         \
    __attribute__ ((constructor)) static void zx_task_reg_##name (void)     \
    {                                                                       \
        zx_task_register (#name, zx_task_fn_##name);                        \
    }                                                                       \
    static int zx_task_fn_##name (zx_call_t *call)

//  Registers fn under name (at most 255 bytes). A later registration of
//  the same name replaces the earlier one. Thread-safe. Returns ZX_OK,
//  ZX_EINVAL (empty or long name, NULL fn) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_task_register (const char *name, zx_task_fn *fn);

//  Returns the function registered under name, or NULL. Thread-safe.
ZX_EXPORT zx_task_fn *zx_task_lookup (const char *name);

//  Returns the arguments of the call (borrowed, valid during the call).
ZX_EXPORT const zx_values_t *zx_call_args (zx_call_t *call);

//  Typed argument getters. On success they return ZX_OK. On a missing
//  argument or a type mismatch they mark the call failed with ZX_ETYPE and
//  a message such as "task 'blocks': argument 0 is str, expected int",
//  and return that code, so the task can simply return -1.
ZX_EXPORT zx_err_t zx_call_arg_int (zx_call_t *call, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_call_arg_double (zx_call_t *call, size_t index, double *out);
ZX_EXPORT zx_err_t zx_call_arg_str (zx_call_t *call, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_call_arg_bytes (zx_call_t *call, size_t index,
                                      const void **data, size_t *size);

//  Returns the result list the task fills (borrowed; the runtime sends it).
ZX_EXPORT zx_values_t *zx_call_result (zx_call_t *call);

//  Appends one int to the result; returns 0, or -1 when out of memory
//  (the call is then marked failed).
ZX_EXPORT int zx_call_return_int (zx_call_t *call, int64_t value);

//  Marks the call failed with ZX_ETASK and a printf-style message; the
//  caller's future fails with it. Returns -1 for `return zx_call_fail (...)`.
ZX_EXPORT int zx_call_fail (zx_call_t *call, const char *format, ...) ZX_PRINTF (2, 3);

//  Returns the name of the running task (borrowed).
ZX_EXPORT const char *zx_call_task (zx_call_t *call);

//  The cancel token: returns true once the caller has cancelled this call
//  (zx_future_cancel, or a deadline passed), for tasks that poll it in
//  their loops and return early (return value and results are then
//  ignored: the future ends cancelled). Cheap to call often: it looks for
//  a cancel message at most once a millisecond. Call it from the thread
//  that runs the task; from other threads it only reports what that
//  thread has already seen.
ZX_EXPORT bool zx_call_cancelled (zx_call_t *call);

#ifdef __cplusplus
}
#endif

#endif
