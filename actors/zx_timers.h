/*  zx_timers.h - internal: the event loop's timers, a binary min-heap.

    Each timer has a due time in microseconds of the monotonic clock and
    an id from a counter that only grows; the heap orders by due time,
    then by id, so timers due at the same moment fire in the order they
    were made. The loop owns one zx__timers_t and runs what it pops.  */
#ifndef ZX_TIMERS_H_INCLUDED
#define ZX_TIMERS_H_INCLUDED
#include "zexec.h"

typedef struct {
    int64_t due_us;
    uint64_t id;            //  Also the sequence: ids increase
    zx_callback_fn *fn;
    void *arg;
} zx__timer_t;

typedef struct {
    zx__timer_t *heap;
    size_t count, cap;
    uint64_t next_id;       //  The id the next timer gets; 0 is never one
} zx__timers_t;

//  Starts an empty set of timers (no allocation until the first add).
void zx__timers_init (zx__timers_t *self);

//  Frees the heap; the timers in it never fire.
void zx__timers_free (zx__timers_t *self);

//  Adds a timer due at due_us. Returns its id (never 0), or 0 when out
//  of memory.
uint64_t zx__timers_add (zx__timers_t *self, int64_t due_us, zx_callback_fn *fn, void *arg);

//  Removes the timer with id. Returns false when no such timer waits
//  (fired, cancelled, or never made).
bool zx__timers_cancel (zx__timers_t *self, uint64_t id);

//  The earliest timer, or NULL when none waits. Valid until the next
//  change.
const zx__timer_t *zx__timers_first (const zx__timers_t *self);

//  Takes the earliest timer into *timer when it is due at now and its id
//  is below before_id (so timers made by the callbacks of this round wait
//  for the next). Returns false when there is none such.
bool zx__timers_pop_due (zx__timers_t *self, int64_t now_us, uint64_t before_id,
                         zx__timer_t *timer);

#endif
