/*  zx_actor_ref.h - internal: the coordinator's actor references, shared
    by zx_actor_ref.c (the state machine: placement, sending, completions,
    deaths and restarts) and zx_actor_api.c (the public calls).         */
#ifndef ZX_ACTOR_REF_H_INCLUDED
#define ZX_ACTOR_REF_H_INCLUDED
#include "zx_executor.h"
#include <stdatomic.h>

//  A reference's state, and the kinds of message it sends
typedef enum { ZX__ACTOR_PLACING, ZX__ACTOR_LIVE, ZX__ACTOR_STOPPING, ZX__ACTOR_ENDED } zx__actor_state_t;
typedef enum { ZX__MSG_SPAWN, ZX__MSG_ASK, ZX__MSG_TELL, ZX__MSG_STOP } zx__actor_kind_t;

//  One message, from its post until its completion
typedef struct zx__actor_msg {
    struct zx__actor_msg *next;             //  While waiting for a placement
    zx_actor_t *actor;
    unsigned gen;                   //  The incarnation it went to
    zx__actor_kind_t kind;
    zx_future_t *future;            //  Our reference to the asker's, or NULL
    zx_values_t *args;              //  While waiting
    char handler [];
} zx__actor_msg_t;

//  A reference: a state machine on its executor's loop (zx_actor_ref.c)
struct zx_actor {
    struct zx_actor *next_live;     //  In the list of references (placement)
    zx_executor_t *executor;        //  NULL once it was destroyed
    zx_loop_t *loop;
    char *type;
    char *name;
    uint64_t serial;
    unsigned gen;                   //  Incarnation
    char id [96];                   //  The current incarnation's id
    zx_values_t *spawn_args;
    size_t mailbox;
    int max_restarts;
    int64_t window_ms;
    zx__actor_state_t state;
    char worker [256];
    char watched [256];             //  The serving worker watched for it (remote), or ""
    bool named;                     //  Its name is registered at the broker
    bool borrowed;                  //  Found by name: not ours to stop
    pid_t pid;
    zx__actor_msg_t *wait_head, *wait_tail; //  Sent before the placement
    size_t pending;                 //  Waiting and in flight
    size_t refs;                    //  The user's handle and each message
    bool destroyed;
    bool stop_posted;               //  A stop is sent or waits: no more
    bool placed_once;
    int restarts;
    int64_t *deaths;                //  When it died, the last max_restarts + 1
    size_t death_count;
    zx_err_t end_code;
    char *end_text;
    zx_future_t *ready;
    zx_future_t **monitors;
    size_t monitor_count;
    zx_future_t *room;
    zx_actor_event_fn *event_fn;
    void *event_arg;
    size_t tell_failures;
    int place_attempts;             //  Spawns lost before they ran, in a row
    //  Messages lost with the worker before the pool said why (the
    //  dispatcher found it gone first): held until the cause comes
    zx__actor_msg_t *lost_head, *lost_tail;
    uint64_t lost_timer;
    bool lost_flushing;
    zx_logger_t *log;
};

//  Numbers references, for their default names and ids.
extern atomic_uint_fast64_t zx__actor_serial;

//  Lists self for placement (the fewest actors per worker).
void zx__actor_live_add (zx_actor_t *self);

//  Sends the spawn of a new incarnation of self (or, for a borrowed
//  reference, the lookup of its name); it ends through the completion
//  (placed, or ended with the error).
void zx__actor_place (zx_actor_t *self);

//  Frees self (unlisted and unwatched); for a reference nothing holds.
void zx__actor_free (zx_actor_t *self);

//  Drops one reference count on self, freeing it at the last.
void zx__actor_unref (zx_actor_t *self);

//  Queues or sends a message of kind (args taken; future, when not NULL,
//  referenced and ended exactly once). Returns ZX_OK, or the error it
//  ended future with (mailbox full, stopped, out of memory).
zx_err_t zx__actor_post (zx_actor_t *self, zx__actor_kind_t kind, const char *handler,
                         zx_values_t **args_p, zx_future_t *future);

//  The executor's watch (zx__executor_watch): a worker is gone, or
//  (identity NULL) the executor is being destroyed.
void zx__actor_on_worker_lost (void *arg, const char *identity, const char *cause);

#endif
