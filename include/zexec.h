/*  zexec.h - the public API of zexec.

    zexec runs work in threads, processes and other machines the way
    Python's asyncio `loop.run_in_executor()` does: a coordinator thread
    runs an event loop and stackful coroutines; work messages go over ZeroMQ
    sockets to worker actors (threads over inproc, processes over ipc, other
    machines over tcp through zexec-broker); each reply completes a future.

    The API is in parts, each its own header under zexec/, all included
    here: common.h (versions, errors, how the API grows), values.h, task.h,
    log.h, loop.h (start-up, the event loop, coroutines), future.h (futures
    and waits), sync.h (a semaphore, an event and a bounded queue for
    coroutines, as asyncio has), executor.h (pools, remote executors,
    serving a broker, map; executors with a loop of their own, used as
    concurrent.futures executors are, from any thread), actor.h
    (stateful actors on pools: spawn, ask, tell, supervision), progress.h
    (progress over many futures) and broker.h (the broker that zexec-broker
    runs, as an object a program can run on its own loop). Include this
    file, not the parts.

    Conventions used by every function below:
    - Objects are created with `zx_THING_new` and freed with
      `zx_THING_destroy (&ptr)`, which accepts a NULL pointer and sets the
      caller's pointer to NULL.
    - Errors are `zx_err_t` values; `zx_strerror` names them. Failed futures
      carry a code and a human-readable message.
    - Times are milliseconds. A timeout of -1 means "wait forever".
    - Loops, futures and coroutines belong to the thread that created the loop
      and must only be touched from it; the exceptions say "thread-safe".
      The futures of an executor with a loop of its own are such an
      exception: see future.h for what any thread may call on them.
*/
#ifndef ZEXEC_H_INCLUDED
#define ZEXEC_H_INCLUDED

#include "zexec/common.h"
#include "zexec/values.h"
#include "zexec/task.h"
#include "zexec/log.h"
#include "zexec/loop.h"
#include "zexec/future.h"
#include "zexec/sync.h"
#include "zexec/executor.h"
#include "zexec/actor.h"
#include "zexec/progress.h"
#include "zexec/broker.h"

#endif
