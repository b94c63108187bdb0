/*  zx_task.c - the task registry and the call a task runs in.

    DESIGN: tasks register from constructors, before main and before any
    library code could initialise anything, so the registry is a sorted
    array behind a statically initialised mutex: registering may allocate
    (rarely, and only at load time), looking up is a binary search that
    never allocates. A zx_call_t is what a worker hands a task: borrowed
    name and arguments in, a lazily created result and an error code with
    its message out. The first failure recorded on a call is the one the
    caller sees, and a failed call never carries a result.               */
#include "zx_task.h"
#include "zx_values.h"
#include "zx_loop.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX      255

typedef struct {
    char *name;                 //  Owned copy of the task name
    zx_task_fn *fn;
} s_entry_t;

static pthread_mutex_t s_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static s_entry_t *s_registry;           //  Sorted by name
static size_t s_registry_count;
static size_t s_registry_capacity;

//  Returns the index of name in the registry, or where it would go with
//  *found false. Caller holds the mutex.
static size_t
s_registry_find (const char *name, bool *found)
{
    size_t low = 0, high = s_registry_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int cmp = strcmp (name, s_registry [middle].name);
        if (cmp == 0) {
            *found = true;
            return middle;
        }
        if (cmp < 0)
            high = middle;
        else
            low = middle + 1;
    }
    *found = false;
    return low;
}

zx_err_t
zx_task_register (const char *name, zx_task_fn *fn)
{
    if (!name || !fn)
        return ZX_EINVAL;
    size_t length = 0;
    while (length <= S_NAME_MAX && name [length])
        length++;
    if (length == 0 || length > S_NAME_MAX)
        return ZX_EINVAL;

    zx_err_t rc = ZX_OK;
    pthread_mutex_lock (&s_registry_mutex);
    bool found;
    size_t index = s_registry_find (name, &found);
    if (found) {
        s_registry [index].fn = fn;
        goto done;
    }
    char *copy = (char *) malloc (length + 1);
    if (!copy) {
        rc = ZX_ENOMEM;
        goto done;
    }
    memcpy (copy, name, length + 1);
    if (s_registry_count == s_registry_capacity) {
        size_t capacity = s_registry_capacity? s_registry_capacity * 2: 32;
        s_entry_t *registry = (s_entry_t *) realloc (s_registry,
                                                     capacity * sizeof (s_entry_t));
        if (!registry) {
            free (copy);
            rc = ZX_ENOMEM;
            goto done;
        }
        s_registry = registry;
        s_registry_capacity = capacity;
    }
    memmove (s_registry + index + 1, s_registry + index,
             (s_registry_count - index) * sizeof (s_entry_t));
    s_registry [index].name = copy;
    s_registry [index].fn = fn;
    s_registry_count++;
done:
    pthread_mutex_unlock (&s_registry_mutex);
    return rc;
}

zx_task_fn *
zx_task_lookup (const char *name)
{
    if (!name)
        return NULL;
    zx_task_fn *fn = NULL;
    pthread_mutex_lock (&s_registry_mutex);
    bool found;
    size_t index = s_registry_find (name, &found);
    if (found)
        fn = s_registry [index].fn;
    pthread_mutex_unlock (&s_registry_mutex);
    return fn;
}


/*  ---------------------------------------------------------------------
    Strings                                                               */

char *
zx__strdupvf (const char *format, va_list args)
{
    if (!format)
        return NULL;
    va_list copy;
    va_copy (copy, args);
    int length = vsnprintf (NULL, 0, format, copy);
    va_end (copy);
    if (length < 0)
        return NULL;
    char *text = (char *) malloc ((size_t) length + 1);
    if (text)
        vsnprintf (text, (size_t) length + 1, format, args);
    return text;
}

char *
zx__strdupf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = zx__strdupvf (format, args);
    va_end (args);
    return text;
}


/*  ---------------------------------------------------------------------
    Calls                                                                 */

static const char *
s_task_name (const zx_call_t *call)
{
    return call->task? call->task: "";
}

//  Records the call's failure unless an earlier one is already recorded,
//  taking message (which may be NULL when formatting ran out of memory).
static void
s_fail (zx_call_t *call, zx_err_t code, char *message)
{
    if (call->error == ZX_OK) {
        call->error = code;
        free (call->message);
        call->message = message;
    }
    else
        free (message);
}

void
zx__call_init (zx_call_t *call, const char *task, const zx_values_t *args)
{
    assert (call);
    call->task = task;
    call->args = args;
    call->result = NULL;
    call->error = ZX_OK;
    call->message = NULL;
    atomic_init (&call->cancelled, false);
    call->cancel_seen = false;
    call->poll = NULL;
    call->poll_arg = NULL;
    call->next_poll_us = 0;
}

void
zx__call_reset (zx_call_t *call)
{
    assert (call);
    zx_values_destroy (&call->result);
    free (call->message);
    zx__call_init (call, NULL, NULL);
}

zx_err_t
zx__task_invoke (zx_call_t *call)
{
    assert (call);
    const char *name = s_task_name (call);
    zx_task_fn *fn = zx_task_lookup (call->task);
    if (!fn) {
        s_fail (call, ZX_ENOTASK, zx__strdupf ("no such task '%s'", name));
        return call->error;
    }
    int rc = fn (call);
    if (rc != 0 && call->error == ZX_OK)
        s_fail (call, ZX_ETASK, NULL);
    if (call->error != ZX_OK) {
        zx_values_destroy (&call->result);
        if (!call->message) {
            if (call->error == ZX_ETASK)
                call->message = zx__strdupf ("task '%s' failed", name);
            else
                call->message = zx__strdupf ("task '%s': %s", name,
                                             zx_strerror (call->error));
        }
    }
    return call->error;
}

const zx_values_t *
zx_call_args (zx_call_t *call)
{
    assert (call);
    return call->args;
}

const char *
zx_call_task (zx_call_t *call)
{
    assert (call);
    return call->task;
}

bool
zx_call_cancelled (zx_call_t *call)
{
    assert (call);
    if (!atomic_load_explicit (&call->cancelled, memory_order_relaxed) && call->poll
    &&  pthread_equal (pthread_self (), call->poll_thread)) {
        int64_t now = zx__now_us ();
        if (now >= call->next_poll_us) {
            call->next_poll_us = now + 1000;
            if (call->poll (call->poll_arg))
                atomic_store (&call->cancelled, true);
        }
    }
    if (atomic_load (&call->cancelled)) {
        call->cancel_seen = true;
        return true;
    }
    return false;
}

static const char *
s_type_name (zx_type_t type)
{
    switch (type) {
        case ZX_TINT:       return "int";
        case ZX_TDOUBLE:    return "float";
        case ZX_TSTR:       return "str";
        case ZX_TBYTES:     return "bytes";
        case ZX_TNONE:      return "None";
        case ZX_TUINT:      return "int";
        case ZX_TBOOL:      return "bool";
        case ZX_TLIST:      return "list";
        case ZX_TMAP:       return "dict";
    }
    return "unknown";
}

//  Checks that argument index exists and has type (or also_ok, when not
//  0); otherwise marks the call failed with ZX_ETYPE and says why.
static zx_err_t
s_check_arg (zx_call_t *call, size_t index, zx_type_t type, zx_type_t also_ok)
{
    assert (call);
    size_t count = call->args? zx_values_count (call->args): 0;
    if (index >= count) {
        s_fail (call, ZX_ETYPE,
                zx__strdupf ("task '%s': missing argument %zu (got %zu)",
                             s_task_name (call), index, count));
        return ZX_ETYPE;
    }
    zx_type_t actual = zx_values_type (call->args, index);
    if (actual != type && (also_ok == 0 || actual != also_ok)) {
        s_fail (call, ZX_ETYPE,
                zx__strdupf ("task '%s': argument %zu is %s, expected %s",
                             s_task_name (call), index, s_type_name (actual),
                             s_type_name (type)));
        return ZX_ETYPE;
    }
    return ZX_OK;
}

zx_err_t
zx_call_arg_int (zx_call_t *call, size_t index, int64_t *out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TINT, (zx_type_t) 0);
    return rc? rc: zx_values_get_int (call->args, index, out);
}

zx_err_t
zx_call_arg_double (zx_call_t *call, size_t index, double *out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TDOUBLE, ZX_TINT);
    return rc? rc: zx_values_get_double (call->args, index, out);
}

zx_err_t
zx_call_arg_str (zx_call_t *call, size_t index, const char **out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TSTR, (zx_type_t) 0);
    return rc? rc: zx_values_get_str (call->args, index, out);
}

zx_err_t
zx_call_arg_bytes (zx_call_t *call, size_t index,
                   const void **data, size_t *size)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TBYTES, (zx_type_t) 0);
    return rc? rc: zx_values_get_bytes (call->args, index, data, size);
}

zx_values_t *
zx_call_result (zx_call_t *call)
{
    assert (call);
    if (!call->result) {
        call->result = zx_values_new ();
        if (!call->result)
            s_fail (call, ZX_ENOMEM, NULL);
    }
    return call->result;
}

int
zx_call_return_int (zx_call_t *call, int64_t value)
{
    zx_values_t *result = zx_call_result (call);
    if (!result)
        return -1;
    if (zx_values_add_int (result, value)) {
        s_fail (call, ZX_ENOMEM, NULL);
        return -1;
    }
    return 0;
}

int
zx_call_fail (zx_call_t *call, const char *format, ...)
{
    assert (call);
    va_list args;
    va_start (args, format);
    char *message = zx__strdupvf (format, args);
    va_end (args);
    s_fail (call, ZX_ETASK, message);
    return -1;
}
