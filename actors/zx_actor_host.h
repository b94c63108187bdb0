/*  zx_actor_host.h - internal: the worker's side of stateful actors.    */
#ifndef ZX_ACTOR_HOST_H_INCLUDED
#define ZX_ACTOR_HOST_H_INCLUDED
#include "zexec.h"

//  The reserved task names actor messages travel as (zx_actor_host.c
//  says what each carries).
#define ZX__ACTOR_SPAWN "zx.actor.spawn"
#define ZX__ACTOR_MSG   "zx.actor.msg"
#define ZX__ACTOR_STOP  "zx.actor.stop"
//  Answered by the broker itself (PROTOCOL.md 13.8): ends when a worker goes
#define ZX__ACTOR_WATCH "zx.actor.watch"
//  Actor names, answered by a broker itself (zx_broker_names.c)
#define ZX__NAME_REGISTER   "zx.name.register"
#define ZX__NAME_LOOKUP     "zx.name.lookup"
#define ZX__NAME_UNREGISTER "zx.name.unregister"

//  The worker runtime's calls, on its task thread: identity is this
//  worker's routing id (borrowed until the next call), which a spawn
//  reports so that the coordinator can bind the actor's messages to it;
//  NULL when the worker ends, which destroys the actors it hosted.
void zx__actor_host_worker (const char *identity);

//  Registers the reserved tasks (the first actor type does too).
void zx__actor_host_init (void);

//  How many actors this process hosts (for tests).
size_t zx__actor_host_count (void);

#endif
