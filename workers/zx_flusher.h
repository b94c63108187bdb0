/*  zx_flusher.h - internal: one thread per process that acts on a worker's
    behalf while the worker's own thread runs a task.

    A pool worker batches its replies and sends them between tasks; while
    it runs a long task nobody would send them. Each worker registers a
    watch: a mutex it holds whenever it is not running a task, and a time
    at which something must happen (a batch is a millisecond old, a task
    has run long enough to say STARTED). The flusher thread sleeps until
    the earliest time, takes the mutex if it is free (only while the
    worker runs a task) and calls the watch's fire function with it held.
    The thread starts with the first watch and ends with the last.        */
#ifndef ZX_FLUSHER_H_INCLUDED
#define ZX_FLUSHER_H_INCLUDED
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct zx__flush_watch {
    struct zx__flush_watch *next;       //  The flusher's list
    pthread_mutex_t guard;              //  Held by the owner except while a task runs
    _Atomic int64_t due_us;             //  When to fire (zx__now_us); 0 or less: never
    void (*fire) (void *arg);           //  Called with guard held, on the flusher thread
    void *arg;
    int64_t seen_us;                    //  The flusher's: due_us as it last scanned it
} zx__flush_watch_t;

//  Initializes watch (its guard unlocked, nothing due) and adds it to the
//  flusher, starting the thread for the first watch. Returns false when
//  the thread cannot be started (the watch is then not added).
bool zx__flusher_add (zx__flush_watch_t *watch, void (*fire) (void *arg), void *arg);

//  Removes watch, so fire is not called again once this returns, and ends
//  the thread with the last watch. The caller must not hold the guard
//  then; this destroys it.
void zx__flusher_remove (zx__flush_watch_t *watch);

//  Sets when watch fires next (0: never), waking the flusher if it would
//  sleep past it. The caller holds the guard. Cheap: an atomic store and
//  load unless the flusher must be woken.
void zx__flusher_due (zx__flush_watch_t *watch, int64_t due_us);

//  Nothing is due for watch: its worker is between tasks. Unlike
//  zx__flusher_due (watch, 0) it leaves a mark that differs from what the
//  flusher saw if a task ran since, so that a flusher woken for tasks
//  that end before it looks stays up a little (zx_flusher.c). The caller
//  holds the guard. An atomic load and at most a store.
void zx__flusher_idle (zx__flush_watch_t *watch);

#endif
