/*  zx_spin.h - internal: how long a loop spins, before it sleeps, for a
    reply expected within microseconds.

    A loop that waits for a thread pool's reply to a tiny task sleeps in
    poll(2) and is woken by the worker's eventfd write: on this project's
    VM the two wake-ups of such a round trip (the worker's and the loop's)
    are most of its 23 us. A loop that spins while the reply is on its way
    pays only the worker's. zx_loop.c spins only while a watch says a
    reply may come soon (zx__probe_fn: a pool with tasks running on fewer
    threads than the machine has CPUs, so that the spin takes no CPU from
    them), and for as long as this says: a budget that follows twice the
    recent waits that ended in a reply. After ZX__SPIN_MISSES spins in a
    row that ended with none (tasks that run milliseconds), it sits out
    ZX__SPIN_SIT_OUT waits, then tries again. A spin that misses now and
    then (a worker that is slow to wake) does not shrink the budget: a
    first version halved it at each miss, and the few misses as a pool
    starts drove it to spins too short ever to hit.
    ZEXEC_SPIN=off in the environment turns spinning off.               */
#ifndef ZX_SPIN_H_INCLUDED
#define ZX_SPIN_H_INCLUDED
#include <stdbool.h>
#include <stdint.h>

#define ZX__SPIN_MAX_US     50      //  The longest spin
#define ZX__SPIN_MIN_US     4       //  The least budget
#define ZX__SPIN_MISSES     4       //  Misses in a row that prove spins useless
#define ZX__SPIN_SIT_OUT    64      //  Waits without a spin then
#define ZX__SPIN_POLL_EVERY 8       //  Replies spun for, then a poll of every fd

typedef struct {
    int64_t budget_us;              //  0: sitting out (or off)
    int64_t sit_out;                //  Waits left to sit out
    int misses;                     //  Spins in a row that ended with no reply
    bool off;                       //  ZEXEC_SPIN=off
} zx__spin_t;

//  What a watch's probe says, without a system call, about its fd.
typedef enum {
    ZX__PROBE_IDLE,                 //  Nothing expected: not worth a spin
    ZX__PROBE_SOON,                 //  Not readable, but may be within microseconds
    ZX__PROBE_READY                 //  Readable now
} zx__probe_t;

typedef zx__probe_t (zx__probe_fn) (void *arg);

//  Starts with a budget of ZX__SPIN_MAX_US / 2 (none with ZEXEC_SPIN=off).
void zx__spin_init (zx__spin_t *self);

//  How long the caller may spin for the wait it is about to make, in us
//  (0: do not). A wait made without a spin while sitting out counts here.
int64_t zx__spin_budget (zx__spin_t *self);

//  A spin ended with a reply after waited_us.
void zx__spin_hit (zx__spin_t *self, int64_t waited_us);

//  A spin ran out of budget with no reply.
void zx__spin_miss (zx__spin_t *self);

//  Lets the CPU's sibling thread run while this one spins (x86 pause,
//  Arm yield).
static inline void
zx__spin_relax (void)
{
#if defined (__x86_64__) || defined (__i386__)
    __builtin_ia32_pause ();
#elif defined (__aarch64__)
    __asm__ __volatile__ ("yield");
#endif
}

#endif
