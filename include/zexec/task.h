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

    Arguments and results are value lists (values.h): zx_call_arg_* read
    one argument each with a type check, zx_call_return_* append one result
    value each, any type, nested lists and maps included.

    ZX_TASK registers the function before main runs (a constructor), so the
    same binary started as a process worker knows the same tasks, and a
    shared library loaded with dlopen registers its tasks as it loads. A
    name is registered once: the same ZX_TASK name in two places makes the
    program fail at start-up, naming both (zx_task_register_at).         */

typedef struct zx_call zx_call_t;
typedef int (zx_task_fn) (zx_call_t *call);

#define ZX_TASK(name)                                                       \
    static int zx_task_fn_##name (zx_call_t *call);                         \
    __attribute__ ((constructor)) static void zx_task_reg_##name (void)     \
    {                                                                       \
        zx_task_register_at (#name, zx_task_fn_##name, __FILE__, __LINE__); \
    }                                                                       \
    static int zx_task_fn_##name (zx_call_t *call)

//  Registers fn under name (at most 255 bytes), as ZX_TASK does, saying
//  where (file and line, copied) for the messages below. A name is
//  registered once: a second registration of it from another place (the
//  same ZX_TASK name in two files, or in a program and a library it
//  loads) is refused with ZX_EINVAL, and the first stays. A refusal before
//  start-up ends (the first zx_init, which zx_loop_new and the executor
//  constructors call too) makes that zx_init print, on stderr,
//      zexec: task 'blocks' registered twice: a.c:12 and lib/b.c:40
//  and exit the program with status 2: it fails at start-up, before any
//  task could run the wrong function. A refusal after start-up (a
//  library loaded later with dlopen) prints the same line at once, and
//  the program goes on with the first. The same place registering again
//  (a library's constructors run twice) is not a duplicate. Thread-safe.
//  Returns ZX_OK, ZX_EINVAL (empty or long name, NULL fn, a duplicate) or
//  ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_task_register_at (const char *name, zx_task_fn *fn,
                                        const char *file, int line);

//  Registers fn under name (at most 255 bytes) from code rather than from
//  ZX_TASK: a later zx_task_register of the same name replaces the
//  earlier registration, whichever way it was made, so a program can
//  swap a task's function on purpose (a later ZX_TASK of that name is
//  still a duplicate). Thread-safe. Returns ZX_OK, ZX_EINVAL (empty or
//  long name, NULL fn) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_task_register (const char *name, zx_task_fn *fn);

//  Returns the function registered under name, or NULL. Thread-safe.
ZX_EXPORT zx_task_fn *zx_task_lookup (const char *name);

//  Returns the arguments of the call (borrowed, valid during the call).
ZX_EXPORT const zx_values_t *zx_call_args (zx_call_t *call);

//  Typed argument getters. On success they return ZX_OK and set *out (the
//  pointers borrowed, valid during the call). On a missing argument or a
//  type mismatch they mark the call failed with ZX_ETYPE and a message
//  such as "task 'blocks': argument 0 is str, expected int", and return
//  that code, so the task can simply return -1. zx_call_arg_double also
//  takes an int; zx_call_arg_uint takes an int that is not negative;
//  zx_call_arg takes any value.
ZX_EXPORT zx_err_t zx_call_arg_int (zx_call_t *call, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_call_arg_uint (zx_call_t *call, size_t index, uint64_t *out);
ZX_EXPORT zx_err_t zx_call_arg_double (zx_call_t *call, size_t index, double *out);
ZX_EXPORT zx_err_t zx_call_arg_bool (zx_call_t *call, size_t index, bool *out);
ZX_EXPORT zx_err_t zx_call_arg_str (zx_call_t *call, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_call_arg_bytes (zx_call_t *call, size_t index,
                                      const void **data, size_t *size);
ZX_EXPORT zx_err_t zx_call_arg_list (zx_call_t *call, size_t index, const zx_values_t **out);
ZX_EXPORT zx_err_t zx_call_arg_map (zx_call_t *call, size_t index, const zx_values_t **out);
ZX_EXPORT zx_err_t zx_call_arg (zx_call_t *call, size_t index, zx_value_t *out);

//  Returns the result list the task fills (borrowed; the runtime sends it).
ZX_EXPORT zx_values_t *zx_call_result (zx_call_t *call);

//  Each appends one value to the result: the caller's future gets the
//  result list, zx_call_return_int (call, 9) making it [9]. Strings and
//  bytes are copied; zx_call_return_values nests a list or map in the
//  result and takes it (*values_p is set to NULL, on failure too);
//  zx_call_return_value appends a zx_value_t as zx_values_add_value does.
//  Each returns 0, or -1 when the value is refused (a NULL or non-UTF-8
//  string, a limit of values.h) or memory ran out: the call is then
//  marked failed, so `return zx_call_return_str (call, text);` ends a
//  task either way.
ZX_EXPORT int zx_call_return_int (zx_call_t *call, int64_t value);
ZX_EXPORT int zx_call_return_uint (zx_call_t *call, uint64_t value);
ZX_EXPORT int zx_call_return_double (zx_call_t *call, double value);
ZX_EXPORT int zx_call_return_bool (zx_call_t *call, bool value);
ZX_EXPORT int zx_call_return_str (zx_call_t *call, const char *value);
ZX_EXPORT int zx_call_return_bytes (zx_call_t *call, const void *data, size_t size);
ZX_EXPORT int zx_call_return_none (zx_call_t *call);
ZX_EXPORT int zx_call_return_values (zx_call_t *call, zx_values_t **values_p);
ZX_EXPORT int zx_call_return_value (zx_call_t *call, const zx_value_t *value);

//  Marks the call failed with ZX_ETASK and a printf-style message; the
//  caller's future fails with it. Returns -1 for `return zx_call_fail (...)`.
//  zx_call_fail is a macro that calls zx_call_fail_at with the caller's
//  __FILE__ and __LINE__, which the future's zx_future_error_info then
//  gives as "file:line" (the function itself, (zx_call_fail) (...), says
//  no place).
ZX_EXPORT int (zx_call_fail) (zx_call_t *call, const char *format, ...) ZX_PRINTF (2, 3);
ZX_EXPORT int zx_call_fail_at (zx_call_t *call, const char *file, int line,
                               const char *format, ...) ZX_PRINTF (4, 5);
#define zx_call_fail(call, ...) zx_call_fail_at ((call), __FILE__, __LINE__, __VA_ARGS__)

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
