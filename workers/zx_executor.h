/*  zx_executor.h - internal: relaying encoded requests to a local pool.

    A serving worker (zx_serve) receives requests whose arguments are
    already encoded and sends back encoded results. Through a relay they
    go to its local pool as they are: no future, no decoding of arguments
    or results in between, and the dispatcher's completion goes straight
    into the reply batch.                                                 */
#ifndef ZX_EXECUTOR_H_INCLUDED
#define ZX_EXECUTOR_H_INCLUDED
#include "zexec.h"
#include "zx_dispatch.h"

//  True when the executor is a local pool, which relays can use (a remote
//  executor cannot).
bool zx__executor_is_local (const zx_executor_t *self);

//  Queues task (NUL-terminated) with encoded args on a local pool bound to
//  loop (binding it on first use). complete (cookie, ...) is called exactly
//  once with the encoded result (ZX_OK) or an error text, possibly before
//  this returns (shut down, broken pool, bad task name: then NULL is
//  returned). Returns the request, for zx__executor_relay_stop.
zx__request_t *zx__executor_relay (zx_executor_t *self, zx_loop_t *loop, const char *task,
                                   const void *args, size_t args_size,
                                   zx__complete_fn *complete, void *cookie);

//  Asks for a relayed request to stop, as zx_future_cancel does for a
//  future: a queued one completes now with ZX_ECANCELLED; a running one
//  when it has stopped (cancel token, then SIGTERM and SIGKILL for process
//  workers after the pool's grace).
void zx__executor_relay_stop (zx_executor_t *self, zx__request_t *request);

//  Deals what is queued to the pool's workers now, rather than on the
//  loop's next iteration.
void zx__executor_flush (zx_executor_t *self);

#endif
