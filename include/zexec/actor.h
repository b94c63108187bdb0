/*  zexec/actor.h - stateful actors: state on one worker, messages one at a time, ask and tell.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_ACTOR_H_INCLUDED
#define ZEXEC_ACTOR_H_INCLUDED

#include "zexec/executor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Actor types: defined in C, registered by name

    An actor type is a state struct, an init, handlers by message name and
    a destroy. The worker that hosts an actor allocates state_size zeroed
    bytes for its state, runs init with the spawn arguments, then runs one
    handler per message, one at a time, in the order one sender sent them.
    Init and handlers are tasks in all but name: they read their arguments
    with the zx_call_arg_* getters of task.h, return values with
    zx_call_return_*, and fail with zx_call_fail. destroy (may be NULL)
    frees what the state points to; zexec frees the state itself.

        typedef struct { int64_t balance; } account_t;

        static int account_init (void *state, zx_call_t *call) {
            return zx_call_arg_int (call, 0, &((account_t *) state)->balance);
        }
        static int account_deposit (void *state, zx_call_t *call) {
            account_t *self = state;
            int64_t amount;
            if (zx_call_arg_int (call, 0, &amount))
                return -1;
            self->balance += amount;
            return zx_call_return_int (call, self->balance);
        }
        static const zx_actor_handler_t account_handlers [] = {
            { "deposit", account_deposit }, { NULL, NULL }
        };
        static const zx_actor_type_t account = {
            "account", sizeof (account_t), account_init, NULL, account_handlers
        };
        ZX_ACTOR_TYPE (account);

    ZX_ACTOR_TYPE registers the type before main runs, as ZX_TASK does, so
    the same program started again as a process worker knows it. State
    lives in the worker's memory only: nothing of it survives the worker's
    death or a restart, unless init reloads what handlers saved (a file,
    a database) from the spawn arguments.                                 */

typedef int (zx_actor_init_fn) (void *state, zx_call_t *call);
typedef int (zx_actor_handler_fn) (void *state, zx_call_t *call);
typedef void (zx_actor_destroy_fn) (void *state);

//  One message an actor type answers: its name and the function.
typedef struct {
    const char *name;
    zx_actor_handler_fn *fn;
} zx_actor_handler_t;

typedef struct {
    const char *name;                   //  The type's name, 1 to 200 bytes
    size_t state_size;                  //  Bytes of state (0: none)
    zx_actor_init_fn *init;             //  May be NULL
    zx_actor_destroy_fn *destroy;       //  May be NULL
    const zx_actor_handler_t *handlers; //  Ends with { NULL, NULL }
} zx_actor_type_t;

#define ZX_ACTOR_TYPE(type)                                                 \
    __attribute__ ((constructor)) static void zx_actor_reg_##type (void)   \
    {                                                                       \
        zx_actor_type_register_at (&type, __FILE__, __LINE__);             \
    }

//  Registers type (borrowed: it must live as long as the program, as a
//  static does) under type->name, as ZX_ACTOR_TYPE does. A name is
//  registered once: a second type of that name from another place is
//  refused (ZX_EINVAL) and reported as a duplicate ZX_TASK name is (see
//  zx_task_register_at: the program exits at start-up, naming both).
//  Thread-safe. Returns ZX_OK, ZX_EINVAL (NULL type, bad name, no
//  handlers, a duplicate) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_actor_type_register_at (const zx_actor_type_t *type,
                                              const char *file, int line);

//  Returns the type registered under name, or NULL. Thread-safe.
ZX_EXPORT const zx_actor_type_t *zx_actor_type_lookup (const char *name);

//  In a handler: stops the actor once this handler returns. Its reply
//  still goes to the asker; messages after it fail with ZX_EACTOR_STOPPED;
//  destroy runs and the state is freed. Returns 0, for `return
//  zx_actor_stop_self (call);`. Called outside a handler it does nothing
//  and returns -1.
ZX_EXPORT int zx_actor_stop_self (zx_call_t *call);

/*  ---------------------------------------------------------------------
    Actor references: spawn, ask, tell, stop, monitor

    A zx_actor_t is the coordinator's reference to one actor. It is used
    from the thread that runs the loop its executor is bound to (the
    executor is bound on first use to the calling thread's current loop,
    as for zx_executor_submit; an executor with a loop of its own cannot
    host actors). Its futures belong to that loop.

    Placement: the spawn goes to whichever worker of the pool the
    dispatcher deals it to; every later message of the actor is bound to
    that worker (affinity) and runs there, after the messages sent before
    it, one at a time. On a remote executor the broker deals the spawn to
    a serving worker, which names itself in the reply; every later message
    goes to that serving worker alone (a target, PROTOCOL.md 13.7), and
    there to the pool worker that ran the spawn. Many actors share a worker: a slow handler holds up
    the actors on its worker, never those on others.

    Mailbox: a reference counts its messages not yet answered (asks and
    tells sent, or waiting for a placement). At opts.mailbox of them, ask
    and tell refuse with ZX_EQUEUE_FULL; a coroutine can wait for room
    with zx_actor_wait_room first. Nothing is dropped silently.

    Death and supervision: when the worker hosting the actor dies, what
    the actor had not answered fails with ZX_EWORKER_LOST and a message
    that names the actor, the worker, its pid and signal. With
    opts.max_restarts, the reference spawns the actor again from its spawn
    arguments (the dead worker's replacement or another worker takes it):
    messages sent meanwhile wait and reach the new actor, in order. More
    than max_restarts deaths within restart_window_ms, or a restart whose
    init fails, and it gives up: every later ask fails with
    ZX_EACTOR_STOPPED saying why.                                         */

typedef struct zx_actor zx_actor_t;

typedef struct {
    //  Most messages sent and not yet answered. 0 means 1000.
    size_t mailbox;
    //  Restarts allowed within restart_window_ms when its worker dies. 0:
    //  none (the actor is dead with its worker).
    int max_restarts;
    //  0 means 60000.
    int64_t restart_window_ms;
    //  A label for logs and error messages (copied). NULL means
    //  "TYPE#N".
    const char *name;
    //  Register name at the broker (a remote executor only): another
    //  coordinator of that broker finds the actor with zx_actor_lookup.
    //  The actor is ready once its name is registered; a name another
    //  coordinator holds fails the spawn (ZX_EINVAL, "is taken"). Restarts
    //  register it again; it goes when the actor ends or its serving
    //  worker leaves the broker.
    bool registered;
} zx_actor_opts_t;

//  What a monitor callback hears.
typedef enum {
    ZX_ACTOR_PLACED = 1,        //  Running on a worker (after spawn or restart)
    ZX_ACTOR_DIED = 2,          //  Its worker died; text has the cause
    ZX_ACTOR_RESTARTING = 3,    //  Being spawned again (text: which restart)
    ZX_ACTOR_STOPPED = 4,       //  Stopped (by itself or zx_actor_stop): final
    ZX_ACTOR_GAVE_UP = 5        //  Dead for good (no restarts left): final
} zx_actor_event_t;

typedef void (zx_actor_event_fn) (zx_actor_t *actor, zx_actor_event_t event,
                                  const char *text, void *arg);

//  Spawns an actor of the registered type on executor (a thread or
//  process pool, or a remote executor: a serving worker of its broker),
//  its init run there with args (taken: *args_p is set to
//  NULL; NULL args means none). Returns the reference at once; messages
//  sent before the actor is placed wait for it. opts may be NULL (copied).
//  Caller owns the reference and frees it with zx_actor_destroy. Returns
//  NULL when executor or type is NULL, an option is negative, memory ran
//  out, or the calling thread runs no loop the executor can be bound to
//  (or it has a loop of its own; logged). Other failures end
//  zx_actor_ready's future and the monitor with the error, and later asks
//  fail with ZX_EACTOR_STOPPED saying it: an unknown type (ZX_ENOTASK), a
//  failing init (its error), a shut-down executor (ZX_ESHUTDOWN).
ZX_EXPORT zx_actor_t *zx_actor_spawn (zx_executor_t *executor, const char *type,
                                      zx_values_t **args_p, const zx_actor_opts_t *opts);

//  Finds the actor registered as name at executor's broker (spawned with
//  opts.registered by any coordinator of it) and returns a reference to
//  it at once; messages sent before the name is found wait, in order.
//  Only opts->mailbox is read (opts may be NULL). The reference borrows
//  the actor: it is not restarted by it, and zx_actor_destroy does not
//  stop it (zx_actor_stop does). When no actor has that name, ready's
//  future, the monitor and every ask fail with ZX_EACTOR_STOPPED saying
//  so. Caller owns the reference (zx_actor_destroy). NULL when executor
//  is NULL or local, name is empty or over 200 bytes, memory ran out, or
//  the calling thread runs no loop the executor can be bound to.
ZX_EXPORT zx_actor_t *zx_actor_lookup (zx_executor_t *executor, const char *name,
                                       const zx_actor_opts_t *opts);

//  Returns a future (caller owns it) that ends when the actor is first
//  placed, with its result [worker identity, worker pid], or with the
//  error that stopped the spawn.
ZX_EXPORT zx_future_t *zx_actor_ready (zx_actor_t *self);

//  Sends message (a handler name) with args (taken: *args_p is set to
//  NULL; NULL means none) and returns a future of the handler's result
//  (caller owns it). The future fails with: ZX_ENOTASK (no such handler
//  or type), ZX_ETASK/ZX_ETYPE (the handler failed), ZX_EQUEUE_FULL
//  (mailbox full), ZX_EACTOR_STOPPED (stopped or given up),
//  ZX_EWORKER_LOST (its worker died first; the handler may have run
//  partly). Cancelling the future does not withdraw the message: it
//  still runs, in its turn, and its reply is dropped. NULL only when self
//  is NULL or memory ran out.
ZX_EXPORT zx_future_t *zx_actor_ask (zx_actor_t *self, const char *message,
                                     zx_values_t **args_p);

//  Sends message with args (taken, as for ask) and wants no reply. It is
//  queued in order with asks. Returns ZX_OK, ZX_EQUEUE_FULL (mailbox
//  full: nothing sent), ZX_EACTOR_STOPPED or ZX_EINVAL (NULL self or
//  message). A tell that fails later (handler error, worker lost) is
//  logged as a warning on logger "zexec.actor" and counted
//  (zx_actor_tell_failures): tells are never dropped silently.
ZX_EXPORT zx_err_t zx_actor_tell (zx_actor_t *self, const char *message,
                                  zx_values_t **args_p);

//  In a coroutine on the actor's loop: waits until the mailbox has room
//  (ZX_OK), or returns ZX_EACTOR_STOPPED once the actor can take no more
//  messages, ZX_ECANCELLED when the coroutine is cancelled, ZX_EBUSY
//  outside a coroutine.
ZX_EXPORT zx_err_t zx_actor_wait_room (zx_actor_t *self);

//  Stops the actor after the messages already sent: its destroy runs on
//  its worker, and later asks fail with ZX_EACTOR_STOPPED. Returns a
//  future (caller owns it) that ends when the actor has stopped (with
//  ZX_OK), or with the error that ended it first. NULL when self is NULL
//  or memory ran out.
ZX_EXPORT zx_future_t *zx_actor_stop (zx_actor_t *self);

//  Returns a future (caller owns it) that ends when the actor ends for
//  good: ZX_OK (result ["stopped"]) when it stopped, or the error that
//  killed it (ZX_EWORKER_LOST with the cause without restarts,
//  ZX_EACTOR_STOPPED after giving up, the spawn's error). Each call gives
//  a new future. NULL when self is NULL or memory ran out.
ZX_EXPORT zx_future_t *zx_actor_monitor (zx_actor_t *self);

//  Calls fn (self, event, text, arg) on the loop for each event of the
//  actor's life (zx_actor_event_t), from now on; one callback per
//  reference (a later call replaces it; fn NULL removes it).
ZX_EXPORT void zx_actor_on_event (zx_actor_t *self, zx_actor_event_fn *fn, void *arg);

//  Frees the reference; accepts NULL and nulls the caller's pointer. An
//  actor still running is stopped (as zx_actor_stop, after what was
//  sent), as a Ray actor is when its last handle goes; its futures stay
//  usable by whoever holds them. Destroy references before their executor.
ZX_EXPORT void zx_actor_destroy (zx_actor_t **self_p);

//  Returns the actor's label (opts.name, or "TYPE#N"; borrowed).
ZX_EXPORT const char *zx_actor_name (const zx_actor_t *self);

//  Returns the routing id of the worker hosting the actor now ("" while it
//  is not placed; borrowed, valid until the next placement), and its pid.
//  On a remote executor: the serving worker's id at the broker and pid.
ZX_EXPORT const char *zx_actor_worker (const zx_actor_t *self);
ZX_EXPORT pid_t zx_actor_pid (const zx_actor_t *self);

//  Returns how many times the actor was restarted.
ZX_EXPORT int zx_actor_restarts (const zx_actor_t *self);

//  Returns how many tells failed after they were sent (each was logged).
ZX_EXPORT size_t zx_actor_tell_failures (const zx_actor_t *self);

//  Returns the messages sent and not yet answered (the mailbox's use).
ZX_EXPORT size_t zx_actor_pending (const zx_actor_t *self);

#ifdef __cplusplus
}
#endif

#endif
