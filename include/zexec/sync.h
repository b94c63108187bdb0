/*  zexec/sync.h - for coroutines: a semaphore, an event and a bounded
    queue, as asyncio.Semaphore, asyncio.Event and asyncio.Queue are.

    Part of the public API: include <zexec.h>, which includes every part.

    Each object belongs to a loop and is used from that loop's thread, as
    its futures are. The calls that wait (acquire, wait, put, get, join)
    follow zx_await's rules: in a coroutine of the object's loop they
    suspend the coroutine and let the loop run others; in plain code on
    the loop's thread, outside the loop, they run the loop until they are
    satisfied; in a loop callback, or on another thread, they return
    ZX_EBUSY at once, and in a coroutine of another loop ZX_EINVAL. A
    coroutine cancelled while it waits gets ZX_ECANCELLED, and the object
    is left as if it had never waited: a permit, item or wake-up that came
    to it at the same moment goes to the next waiter. Plain code whose loop
    is stopped while it waits (zx_loop_stop) gets ZX_ECANCELLED as well.
    Waiters are served first come, first served. Destroying an object
    while coroutines wait on it wakes them with ZX_ESHUTDOWN.

    Bounding 1,000 executor calls to 5 at a time:

        static void
        s_bounded (void *arg)               //  One coroutine per call
        {
            zx_semaphore_t *five = (zx_semaphore_t *) arg;
            if (zx_semaphore_acquire (five) != ZX_OK)
                return;
            zx_future_t *future = zx_run_in_executor (NULL, pool, "work", NULL);
            zx_await (future);
            zx_future_destroy (&future);
            zx_semaphore_release (five);
        }                                                                  */
#ifndef ZEXEC_SYNC_H_INCLUDED
#define ZEXEC_SYNC_H_INCLUDED

#include "zexec/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Semaphore                                                             */

typedef struct zx_semaphore zx_semaphore_t;

//  Creates a semaphore on loop holding value permits. Caller owns it;
//  NULL when loop is NULL or out of memory.
ZX_EXPORT zx_semaphore_t *zx_semaphore_new (zx_loop_t *loop, size_t value);

//  Destroys the semaphore, waking its waiters with ZX_ESHUTDOWN; accepts
//  NULL and nulls the caller's pointer.
ZX_EXPORT void zx_semaphore_destroy (zx_semaphore_t **self_p);

//  Takes a permit, waiting for one (see above) while there is none or
//  others wait before us. Returns ZX_OK with the permit taken, or without
//  it ZX_ECANCELLED, ZX_EBUSY, ZX_EINVAL, ZX_ESHUTDOWN or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_semaphore_acquire (zx_semaphore_t *self);

//  Takes a permit if one is free and nobody waits for one: ZX_OK, else
//  ZX_EPENDING (nothing taken). Never waits.
ZX_EXPORT zx_err_t zx_semaphore_try_acquire (zx_semaphore_t *self);

//  Gives a permit back: to the first waiter, who is woken, or to the
//  count. Never waits.
ZX_EXPORT void zx_semaphore_release (zx_semaphore_t *self);

//  Returns how many permits are free.
ZX_EXPORT size_t zx_semaphore_value (const zx_semaphore_t *self);

/*  ---------------------------------------------------------------------
    Event                                                                 */

typedef struct zx_event zx_event_t;

//  Creates an event on loop, not set. Caller owns it; NULL when loop is
//  NULL or out of memory.
ZX_EXPORT zx_event_t *zx_event_new (zx_loop_t *loop);

//  Destroys the event, waking its waiters with ZX_ESHUTDOWN; accepts NULL
//  and nulls the caller's pointer.
ZX_EXPORT void zx_event_destroy (zx_event_t **self_p);

//  Sets the event and wakes every waiter; waits begun later return at once
//  until it is cleared. Never waits.
ZX_EXPORT void zx_event_set (zx_event_t *self);

//  Clears the event: later waits wait for the next zx_event_set.
ZX_EXPORT void zx_event_clear (zx_event_t *self);

//  Returns true while the event is set.
ZX_EXPORT bool zx_event_is_set (const zx_event_t *self);

//  Waits until the event is set (at once when it is). Returns ZX_OK once
//  it was set (it may have been cleared again since), or ZX_ECANCELLED,
//  ZX_EBUSY, ZX_EINVAL, ZX_ESHUTDOWN or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_event_wait (zx_event_t *self);

/*  ---------------------------------------------------------------------
    Queue: first in, first out, bounded or not                            */

typedef struct zx_queue zx_queue_t;

//  Frees an item left in a queue that is destroyed.
typedef void (zx_queue_free_fn) (void *item);

//  Creates a queue on loop holding at most maxsize items (0: no bound).
//  free_fn (may be NULL) frees the items still in it when it is
//  destroyed. Caller owns the queue; NULL when loop is NULL or out of
//  memory.
ZX_EXPORT zx_queue_t *zx_queue_new (zx_loop_t *loop, size_t maxsize, zx_queue_free_fn *free_fn);

//  Destroys the queue: wakes its waiters with ZX_ESHUTDOWN and frees what
//  it holds with free_fn. Accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_queue_destroy (zx_queue_t **self_p);

//  Appends item (which may be NULL), waiting for room while the queue is
//  full. On ZX_OK the queue holds the item until zx_queue_get hands it
//  out; on any error (ZX_ECANCELLED, ZX_EBUSY, ZX_EINVAL, ZX_ESHUTDOWN,
//  ZX_ENOMEM) the item stays the caller's.
ZX_EXPORT zx_err_t zx_queue_put (zx_queue_t *self, void *item);

//  Appends item if there is room: ZX_OK (the queue holds it), else
//  ZX_EQUEUE_FULL (it stays the caller's) or ZX_ENOMEM. Never waits.
ZX_EXPORT zx_err_t zx_queue_try_put (zx_queue_t *self, void *item);

//  Takes the oldest item into *item_p (the caller's from then on), waiting
//  while the queue is empty. Returns ZX_OK, or ZX_ECANCELLED, ZX_EBUSY,
//  ZX_EINVAL, ZX_ESHUTDOWN or ZX_ENOMEM with *item_p untouched.
ZX_EXPORT zx_err_t zx_queue_get (zx_queue_t *self, void **item_p);

//  Takes the oldest item if there is one: ZX_OK, else ZX_EPENDING with
//  *item_p untouched. Never waits.
ZX_EXPORT zx_err_t zx_queue_try_get (zx_queue_t *self, void **item_p);

//  Returns how many items the queue holds.
ZX_EXPORT size_t zx_queue_size (const zx_queue_t *self);

//  Says that an item taken from the queue has been dealt with, as
//  Queue.task_done does: when every item put has been, zx_queue_join
//  returns. Returns ZX_OK, or ZX_EINVAL when called more often than
//  items were put.
ZX_EXPORT zx_err_t zx_queue_task_done (zx_queue_t *self);

//  Waits until every item put has been taken and said done with
//  zx_queue_task_done (at once when so). Returns ZX_OK, or ZX_ECANCELLED,
//  ZX_EBUSY, ZX_EINVAL, ZX_ESHUTDOWN or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_queue_join (zx_queue_t *self);

#ifdef __cplusplus
}
#endif

#endif
