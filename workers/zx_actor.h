/*  zx_actor.h - internal: a czmq-style actor on a thread we can join.

    The contract is czmq's: the actor function is fn (pipe, args); it
    signals the pipe once it is ready and returns when it reads "$TERM".
    Unlike zactor, destroying the actor joins its thread, so every socket
    the actor owned is closed when destroy returns (czmq's exit handler
    otherwise sleeps 200 ms for actor sockets still closing).            */
#ifndef ZX_ACTOR_H_INCLUDED
#define ZX_ACTOR_H_INCLUDED
#include <czmq.h>

typedef struct zx__actor zx__actor_t;

//  Starts fn (pipe, args) on a new thread and waits for its ready signal.
//  Returns NULL when the thread or its pipe cannot be created.
zx__actor_t *zx__actor_new (zactor_fn *fn, void *args);

//  Sends "$TERM", joins the thread and frees the actor. Accepts NULL and
//  nulls the pointer. Works as well for an actor that already returned.
void zx__actor_destroy (zx__actor_t **self_p);

//  Sends "$TERM" and lets the thread go without waiting for it: the
//  thread frees the actor (and what fn's args hold, as fn does) once fn
//  returns. For an actor stuck in work it cannot be stopped from, whose
//  args must then hold nothing the caller frees. Accepts NULL and nulls
//  the pointer.
void zx__actor_detach (zx__actor_t **self_p);

//  Returns how many detached actors' threads are still running.
int zx__actor_detached_running (void);

#endif
