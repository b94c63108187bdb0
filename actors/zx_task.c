/*  zx_task.c - the task registry and the call a task runs in.

    DESIGN: tasks register from constructors, before main and before any
    library code could initialise anything, so the registry is a sorted
    array behind a statically initialised mutex: registering may allocate
    (rarely, and only at load time), looking up is a binary search that
    never allocates. Each entry keeps where ZX_TASK registered it. A
    constructor cannot fail anything, so a duplicate name is refused and
    remembered until start-up ends: the first zx_init (every way to start
    a loop or a pool goes through it) prints the duplicates and exits with
    status 2, before a task could run the wrong function. After start-up
    (a library loaded later) a duplicate is printed and refused at once.

    A zx_call_t is what a worker hands a task: borrowed name and arguments
    in, a lazily created result and an error code with its message out.
    The first failure recorded on a call is the one the caller sees, and a
    failed call never carries a result.                                   */
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
    char *file;                 //  Where ZX_TASK registered it (owned), or
    int line;                   //  NULL for zx_task_register
} s_entry_t;

static pthread_mutex_t s_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static s_entry_t *s_registry;           //  Sorted by name
static size_t s_registry_count;
static size_t s_registry_capacity;
//  Duplicates refused before start-up ended, one line each; and whether
//  it has (zx__task_startup)
static char *s_duplicates;
static bool s_started;

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

//  Inserts a new entry at index. Caller holds the mutex. Returns ZX_OK or
//  ZX_ENOMEM.
static zx_err_t
s_registry_insert (size_t index, const char *name, size_t length, zx_task_fn *fn,
                   const char *file, int line)
{
    char *copy = (char *) malloc (length + 1);
    char *file_copy = file ? strdup (file) : NULL;
    if (!copy || (file && !file_copy))
        goto fail;
    memcpy (copy, name, length + 1);
    if (s_registry_count == s_registry_capacity) {
        size_t capacity = s_registry_capacity? s_registry_capacity * 2: 32;
        s_entry_t *registry = (s_entry_t *) realloc (s_registry,
                                                     capacity * sizeof (s_entry_t));
        if (!registry)
            goto fail;
        s_registry = registry;
        s_registry_capacity = capacity;
    }
    memmove (s_registry + index + 1, s_registry + index,
             (s_registry_count - index) * sizeof (s_entry_t));
    s_registry [index] = (s_entry_t) { copy, fn, file_copy, line };
    s_registry_count++;
    return ZX_OK;

fail:
    free (copy);
    free (file_copy);
    return ZX_ENOMEM;
}

//  Says that entry refused a duplicate from file:line: remembered for
//  zx__task_startup, or printed at once once start-up is over. Caller
//  holds the mutex.
static void
s_duplicate (const s_entry_t *entry, const char *file, int line)
{
    char first [64] = "";
    if (entry->file)
        snprintf (first, sizeof first, ":%d", entry->line);
    char *text = zx__strdupf ("task '%s' registered twice: %s%s and %s:%d", entry->name,
                              entry->file ? entry->file : "a zx_task_register call",
                              entry->file ? first : "", file ? file : "?", line);
    if (!text)
        text = zx__strdupf ("task '%s' registered twice", entry->name);
    if (s_started) {
        fprintf (stderr, "zexec: %s; the second is ignored\n",
                 text ? text : "a task registered twice");
        free (text);
        return;
    }
    char *lines = zx__strdupf ("%s%s\n", s_duplicates ? s_duplicates : "", text ? text : "");
    if (lines) {
        free (s_duplicates);
        s_duplicates = lines;
    }
    free (text);
}

//  Checks a name. Returns its length, or 0 when it is empty or too long.
static size_t
s_name_length (const char *name)
{
    size_t length = 0;
    while (name && length <= S_NAME_MAX && name [length])
        length++;
    return length > S_NAME_MAX ? 0 : length;
}

zx_err_t
zx_task_register_at (const char *name, zx_task_fn *fn, const char *file, int line)
{
    size_t length = s_name_length (name);
    if (length == 0 || !fn)
        return ZX_EINVAL;
    zx_err_t rc;
    pthread_mutex_lock (&s_registry_mutex);
    bool found;
    size_t index = s_registry_find (name, &found);
    if (!found)
        rc = s_registry_insert (index, name, length, fn, file ? file : "?", line);
    else {
        const s_entry_t *entry = &s_registry [index];
        bool same_place = entry->file && line == entry->line
                       && strcmp (entry->file, file ? file : "?") == 0;
        rc = same_place ? ZX_OK : ZX_EINVAL;
        if (!same_place)
            s_duplicate (entry, file, line);
    }
    pthread_mutex_unlock (&s_registry_mutex);
    return rc;
}

zx_err_t
zx_task_register (const char *name, zx_task_fn *fn)
{
    size_t length = s_name_length (name);
    if (length == 0 || !fn)
        return ZX_EINVAL;
    zx_err_t rc = ZX_OK;
    pthread_mutex_lock (&s_registry_mutex);
    bool found;
    size_t index = s_registry_find (name, &found);
    if (found) {
        s_entry_t *entry = &s_registry [index];
        entry->fn = fn;
        free (entry->file);
        entry->file = NULL;
        entry->line = 0;
    }
    else
        rc = s_registry_insert (index, name, length, fn, NULL, 0);
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

void
zx__task_startup (void)
{
    pthread_mutex_lock (&s_registry_mutex);
    bool first = !s_started;
    s_started = true;
    char *duplicates = first ? s_duplicates : NULL;
    pthread_mutex_unlock (&s_registry_mutex);
    if (!duplicates)
        return;
    for (char *line = duplicates; *line; ) {
        char *end = strchr (line, '\n');
        fprintf (stderr, "zexec: %.*s\n", (int) (end - line), line);
        line = end + 1;
    }
    fflush (stderr);
    exit (2);
}

char *
zx__task_duplicates (bool clear)
{
    pthread_mutex_lock (&s_registry_mutex);
    char *lines = s_duplicates ? strdup (s_duplicates) : NULL;
    if (clear) {
        free (s_duplicates);
        s_duplicates = NULL;
    }
    pthread_mutex_unlock (&s_registry_mutex);
    return lines;
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
    call->fail_file = NULL;
    call->fail_line = 0;
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
        case ZX_TUINT:      return "int";
        case ZX_TDOUBLE:    return "float";
        case ZX_TSTR:       return "str";
        case ZX_TBYTES:     return "bytes";
        case ZX_TNONE:      return "None";
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
zx_call_arg_uint (zx_call_t *call, size_t index, uint64_t *out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TUINT, ZX_TINT);
    if (rc == ZX_OK && (rc = zx_values_get_uint (call->args, index, out)) != ZX_OK)
        s_fail (call, rc, zx__strdupf ("task '%s': argument %zu is a negative int, "
                                       "expected one that is not", s_task_name (call), index));
    return rc;
}

zx_err_t
zx_call_arg_double (zx_call_t *call, size_t index, double *out)
{
    zx_type_t type = call && call->args ? zx_values_type (call->args, index) : (zx_type_t) 0;
    zx_err_t rc = s_check_arg (call, index, ZX_TDOUBLE, type == ZX_TUINT ? ZX_TUINT : ZX_TINT);
    return rc? rc: zx_values_get_double (call->args, index, out);
}

zx_err_t
zx_call_arg_bool (zx_call_t *call, size_t index, bool *out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TBOOL, (zx_type_t) 0);
    return rc? rc: zx_values_get_bool (call->args, index, out);
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

zx_err_t
zx_call_arg_list (zx_call_t *call, size_t index, const zx_values_t **out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TLIST, (zx_type_t) 0);
    return rc? rc: zx_values_get_list (call->args, index, out);
}

zx_err_t
zx_call_arg_map (zx_call_t *call, size_t index, const zx_values_t **out)
{
    zx_err_t rc = s_check_arg (call, index, ZX_TMAP, (zx_type_t) 0);
    return rc? rc: zx_values_get_map (call->args, index, out);
}

zx_err_t
zx_call_arg (zx_call_t *call, size_t index, zx_value_t *out)
{
    assert (call && out);
    zx_type_t type = call->args ? zx_values_type (call->args, index) : (zx_type_t) 0;
    zx_err_t rc = s_check_arg (call, index, type ? type : ZX_TNONE, (zx_type_t) 0);
    return rc? rc: zx_values_get (call->args, index, out);
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

//  Ends a zx_call_return_* that added with code rc: 0, or -1 with the
//  call marked failed.
static int
s_returned (zx_call_t *call, zx_err_t rc, const char *what)
{
    if (rc == ZX_OK)
        return 0;
    s_fail (call, rc, zx__strdupf ("task '%s': cannot return %s: %s", s_task_name (call),
                                   what, zx_strerror (rc)));
    return -1;
}

int
zx_call_return_int (zx_call_t *call, int64_t value)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_int (result, value), "int") : -1;
}

int
zx_call_return_uint (zx_call_t *call, uint64_t value)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_uint (result, value), "int") : -1;
}

int
zx_call_return_double (zx_call_t *call, double value)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_double (result, value), "float") : -1;
}

int
zx_call_return_bool (zx_call_t *call, bool value)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_bool (result, value), "bool") : -1;
}

int
zx_call_return_str (zx_call_t *call, const char *value)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_str (result, value), "str") : -1;
}

int
zx_call_return_bytes (zx_call_t *call, const void *data, size_t size)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_bytes (result, data, size), "bytes") : -1;
}

int
zx_call_return_none (zx_call_t *call)
{
    zx_values_t *result = zx_call_result (call);
    return result ? s_returned (call, zx_values_add_none (result), "None") : -1;
}

int
zx_call_return_values (zx_call_t *call, zx_values_t **values_p)
{
    assert (values_p);
    zx_values_t *result = zx_call_result (call);
    if (!result) {
        zx_values_destroy (values_p);
        return -1;
    }
    const char *what = *values_p && zx_values_is_map (*values_p) ? "dict" : "list";
    return s_returned (call, zx_values_add_values (result, values_p), what);
}

int
zx_call_return_value (zx_call_t *call, const zx_value_t *value)
{
    assert (value);
    zx_values_t *result = zx_call_result (call);
    if (!result) {
        if (value->flags & ZX_VALUE_TAKE) {
            zx_values_t *taken = (zx_values_t *) value->as.values;
            if (taken && (value->type == ZX_TLIST || value->type == ZX_TMAP))
                zx_values_destroy (&taken);
        }
        return -1;
    }
    return s_returned (call, zx_values_add_value (result, value), s_type_name (value->type));
}

int
(zx_call_fail) (zx_call_t *call, const char *format, ...)
{
    assert (call);
    va_list args;
    va_start (args, format);
    char *message = zx__strdupvf (format, args);
    va_end (args);
    s_fail (call, ZX_ETASK, message);
    return -1;
}

int
zx_call_fail_at (zx_call_t *call, const char *file, int line, const char *format, ...)
{
    assert (call);
    va_list args;
    va_start (args, format);
    char *message = zx__strdupvf (format, args);
    va_end (args);
    s_fail (call, ZX_ETASK, message);
    call->fail_file = file;
    call->fail_line = line;
    return -1;
}
