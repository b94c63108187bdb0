/*  zx_actor_host.c - the worker's side of stateful actors: the registry
    of actor types and the table of the actors this process hosts.

    DESIGN: an actor's messages travel as tasks with reserved names
    ("zx.actor.spawn", "zx.actor.msg", "zx.actor.stop"), so a worker needs
    nothing new to carry them: these three tasks, registered with the
    first actor type, find the actor in a process-wide table by its id and
    run its init or handler in a nested call, with the task API users
    know. The coordinator binds every message of an actor to the worker
    that ran its spawn (affinity in the dispatcher), and a worker runs one
    task at a time, so an actor's handlers never run concurrently and the
    table's lock is held only to find, add or remove an entry, never while
    a handler runs. Each entry remembers the thread that hosts it: a
    thread worker that ends (its pool is destroyed) destroys its actors.

    A message's reply is [kind, value]: kind 0 a handler's result list,
    1 the same and the actor stopped itself, 2 the actor is not here
    (stopped before) with a text. The "not here" answer is a result, not
    an error, because the wire's statuses have no place for it.         */
#include "zx_task.h"
#include "zx_values.h"
#include "zx_actor_host.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_TYPE_NAME_MAX 200

/*  ---------------------------------------------------------------------
    Types                                                                 */

static pthread_mutex_t s_types_mutex = PTHREAD_MUTEX_INITIALIZER;
static const zx_actor_type_t **s_types;
static size_t s_type_count, s_type_capacity;

static void s_register_tasks (void);

//  Stands in the task registry for each type, so that a duplicate type
//  name is found and reported as a duplicate ZX_TASK name is.
static int
s_type_marker (zx_call_t *call)
{
    return zx_call_fail (call, "'%s' names an actor type, not a task", zx_call_task (call));
}

zx_err_t
zx_actor_type_register_at (const zx_actor_type_t *type, const char *file, int line)
{
    if (!type || !type->name || !*type->name || strlen (type->name) > S_TYPE_NAME_MAX
    ||  !type->handlers || strchr (type->name, '.'))
        return ZX_EINVAL;
    s_register_tasks ();
    char marker [S_TYPE_NAME_MAX + 32];
    snprintf (marker, sizeof marker, "zx.actor.type.%s", type->name);
    zx_err_t rc = zx_task_register_at (marker, s_type_marker, file, line);
    if (rc != ZX_OK)
        return rc;
    pthread_mutex_lock (&s_types_mutex);
    for (size_t i = 0; i < s_type_count; i++)
        if (strcmp (s_types [i]->name, type->name) == 0) {
            //  The same place again (a library's constructors run twice)
            pthread_mutex_unlock (&s_types_mutex);
            return ZX_OK;
        }
    if (s_type_count == s_type_capacity) {
        size_t capacity = s_type_capacity ? s_type_capacity * 2 : 16;
        const zx_actor_type_t **types = realloc (s_types, capacity * sizeof *types);
        if (!types) {
            pthread_mutex_unlock (&s_types_mutex);
            return ZX_ENOMEM;
        }
        s_types = types;
        s_type_capacity = capacity;
    }
    s_types [s_type_count++] = type;
    pthread_mutex_unlock (&s_types_mutex);
    return ZX_OK;
}

const zx_actor_type_t *
zx_actor_type_lookup (const char *name)
{
    const zx_actor_type_t *found = NULL;
    pthread_mutex_lock (&s_types_mutex);
    for (size_t i = 0; name && i < s_type_count && !found; i++)
        if (strcmp (s_types [i]->name, name) == 0)
            found = s_types [i];
    pthread_mutex_unlock (&s_types_mutex);
    return found;
}

/*  ---------------------------------------------------------------------
    The hosted actors                                                     */

typedef struct s_hosted {
    struct s_hosted *next;
    const zx_actor_type_t *type;
    void *state;
    pthread_t host;                 //  The worker thread that runs it
    char id [];
} s_hosted_t;

static pthread_mutex_t s_table_mutex = PTHREAD_MUTEX_INITIALIZER;
static s_hosted_t *s_table;         //  Few per worker: a list will do

//  This thread's worker identity (set by the worker runtime), the actor
//  whose handler runs now, and whether it asked to stop
static __thread const char *s_identity;
static __thread s_hosted_t *s_current;
static __thread bool s_stop_asked;

static s_hosted_t *
s_find (const char *id)
{
    pthread_mutex_lock (&s_table_mutex);
    s_hosted_t *hosted = s_table;
    while (hosted && strcmp (hosted->id, id) != 0)
        hosted = hosted->next;
    pthread_mutex_unlock (&s_table_mutex);
    return hosted;
}

static void
s_free_hosted (s_hosted_t *hosted)
{
    if (hosted->type->destroy)
        hosted->type->destroy (hosted->state);
    free (hosted->state);
    free (hosted);
}

//  Takes hosted out of the table and frees it.
static void
s_remove (s_hosted_t *hosted)
{
    pthread_mutex_lock (&s_table_mutex);
    for (s_hosted_t **link = &s_table; *link; link = &(*link)->next)
        if (*link == hosted) {
            *link = hosted->next;
            break;
        }
    pthread_mutex_unlock (&s_table_mutex);
    s_free_hosted (hosted);
}

void
zx__actor_host_worker (const char *identity)
{
    if (identity) {
        s_identity = identity;
        return;
    }
    s_identity = NULL;
    //  This worker ends: the actors it hosted go with it
    pthread_mutex_lock (&s_table_mutex);
    s_hosted_t *mine = NULL;
    for (s_hosted_t **link = &s_table; *link; ) {
        s_hosted_t *hosted = *link;
        if (pthread_equal (hosted->host, pthread_self ())) {
            *link = hosted->next;
            hosted->next = mine;
            mine = hosted;
        }
        else
            link = &hosted->next;
    }
    pthread_mutex_unlock (&s_table_mutex);
    while (mine) {
        s_hosted_t *next = mine->next;
        s_free_hosted (mine);
        mine = next;
    }
}

size_t
zx__actor_host_count (void)
{
    size_t count = 0;
    pthread_mutex_lock (&s_table_mutex);
    for (s_hosted_t *hosted = s_table; hosted; hosted = hosted->next)
        count++;
    pthread_mutex_unlock (&s_table_mutex);
    return count;
}

int
zx_actor_stop_self (zx_call_t *call)
{
    (void) call;
    if (!s_current)
        return -1;
    s_stop_asked = true;
    return 0;
}

//  Runs fn (state, inner) with args as the call's arguments, under the
//  name TYPE.WHAT, and moves its outcome to call: its error (code and
//  message) or its result list (*result, never NULL on ZX_OK).
static zx_err_t
s_run_nested (zx_call_t *call, const zx_actor_type_t *type, const char *what,
              zx_actor_handler_fn *fn, void *state, const zx_values_t *args,
              zx_values_t **result)
{
    char name [S_TYPE_NAME_MAX + 300];
    snprintf (name, sizeof name, "%s.%s", type->name, what);
    zx_call_t inner;
    zx__call_init (&inner, name, args);
    inner.poll = call->poll;
    inner.poll_arg = call->poll_arg;
    inner.poll_thread = call->poll_thread;
    int rc = fn (state, &inner);
    if (rc != 0 && inner.error == ZX_OK)
        (zx_call_fail) (&inner, "actor handler '%s' failed", name);
    zx_err_t code = inner.error;
    if (code != ZX_OK) {
        call->error = code;
        free (call->message);
        call->message = inner.message ? inner.message
                                      : zx__strdupf ("'%s': %s", name, zx_strerror (code));
        inner.message = NULL;
        call->fail_file = inner.fail_file;
        call->fail_line = inner.fail_line;
    }
    else {
        *result = inner.result ? inner.result : zx_values_new ();
        inner.result = NULL;
        if (!*result)
            code = ZX_ENOMEM;
    }
    zx__call_reset (&inner);
    return code;
}

//  Adds a [kind, value] reply: value is taken.
static int
s_reply (zx_call_t *call, int64_t kind, zx_values_t **value_p)
{
    zx_values_t *result = zx_call_result (call);
    if (!result || zx_values_add_int (result, kind) != ZX_OK
    ||  zx_values_add_values (result, value_p) != ZX_OK)
        return zx_call_fail (call, "out of memory");
    return 0;
}

static int
s_not_here (zx_call_t *call, const char *id)
{
    zx_values_t *text = zx_values_new ();
    char message [400];
    snprintf (message, sizeof message, "actor %s is not on this worker (pid %d): it has "
              "stopped", id, (int) getpid ());
    if (text)
        zx_values_add_str (text, message);
    return s_reply (call, 2, &text);
}

//  zx.actor.spawn [id, type, args]
static int
s_task_spawn (zx_call_t *call)
{
    const char *id, *type_name;
    const zx_values_t *args;
    if (zx_call_arg_str (call, 0, &id) || zx_call_arg_str (call, 1, &type_name)
    ||  zx_call_arg_list (call, 2, &args))
        return -1;
    const zx_actor_type_t *type = zx_actor_type_lookup (type_name);
    if (!type) {
        call->error = ZX_ENOTASK;
        call->message = zx__strdupf ("no actor type '%s' is registered in worker pid %d",
                                     type_name, (int) getpid ());
        return -1;
    }
    if (s_find (id))
        return zx_call_fail (call, "actor %s is already on this worker", id);
    s_hosted_t *hosted = calloc (1, sizeof (s_hosted_t) + strlen (id) + 1);
    if (hosted)
        hosted->state = calloc (1, type->state_size ? type->state_size : 1);
    if (!hosted || !hosted->state) {
        free (hosted);
        return zx_call_fail (call, "out of memory");
    }
    hosted->type = type;
    hosted->host = pthread_self ();
    strcpy (hosted->id, id);
    if (type->init) {
        zx_values_t *ignored = NULL;
        if (s_run_nested (call, type, "init", type->init, hosted->state, args, &ignored)) {
            //  A failed init leaves no actor: destroy is for one that was
            free (hosted->state);
            free (hosted);
            return -1;
        }
        zx_values_destroy (&ignored);
    }
    pthread_mutex_lock (&s_table_mutex);
    hosted->next = s_table;
    s_table = hosted;
    pthread_mutex_unlock (&s_table_mutex);
    zx_call_return_str (call, s_identity ? s_identity : "");
    return zx_call_return_int (call, (int64_t) getpid ());
}

//  zx.actor.msg [id, handler, args]
static int
s_task_msg (zx_call_t *call)
{
    const char *id, *handler;
    const zx_values_t *args;
    if (zx_call_arg_str (call, 0, &id) || zx_call_arg_str (call, 1, &handler)
    ||  zx_call_arg_list (call, 2, &args))
        return -1;
    s_hosted_t *hosted = s_find (id);
    if (!hosted)
        return s_not_here (call, id);
    //  A message sent past the coordinator's affinity (a task submitted
    //  by hand) must not run the actor on a second thread at once
    if (!pthread_equal (hosted->host, pthread_self ()))
        return zx_call_fail (call, "actor %s is hosted by another worker", id);
    zx_actor_handler_fn *fn = NULL;
    for (const zx_actor_handler_t *entry = hosted->type->handlers; entry->name && !fn; entry++)
        if (strcmp (entry->name, handler) == 0)
            fn = entry->fn;
    if (!fn) {
        call->error = ZX_ENOTASK;
        call->message = zx__strdupf ("actor type '%s' has no handler '%s'",
                                     hosted->type->name, handler);
        return -1;
    }
    s_current = hosted;
    s_stop_asked = false;
    zx_values_t *result = NULL;
    zx_err_t rc = s_run_nested (call, hosted->type, handler, fn, hosted->state, args, &result);
    bool stop = s_stop_asked;
    s_current = NULL;
    s_stop_asked = false;
    if (stop)
        s_remove (hosted);
    if (rc != ZX_OK)
        return -1;
    return s_reply (call, stop ? 1 : 0, &result);
}

//  zx.actor.stop [id]
static int
s_task_stop (zx_call_t *call)
{
    const char *id;
    if (zx_call_arg_str (call, 0, &id))
        return -1;
    s_hosted_t *hosted = s_find (id);
    if (hosted && !pthread_equal (hosted->host, pthread_self ()))
        return zx_call_fail (call, "actor %s is hosted by another worker", id);
    if (hosted)
        s_remove (hosted);
    return zx_call_return_bool (call, hosted != NULL);
}

static void
s_register_once (void)
{
    zx_task_register_at (ZX__ACTOR_SPAWN, s_task_spawn, __FILE__, __LINE__);
    zx_task_register_at (ZX__ACTOR_MSG, s_task_msg, __FILE__, __LINE__);
    zx_task_register_at (ZX__ACTOR_STOP, s_task_stop, __FILE__, __LINE__);
}

static void
s_register_tasks (void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once (&once, s_register_once);
}

void
zx__actor_host_init (void)
{
    s_register_tasks ();
}
