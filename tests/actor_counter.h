/*  actor_counter.h - the actor type the actor tests use: a counter that
    checks the order of its "add" messages. Included once by each program
    that hosts it: test_actors.c (its own process workers) and
    remote_tasks.c (the zexec-workers of test_actors_remote.c).         */
#ifndef ZX_ACTOR_COUNTER_H_INCLUDED
#define ZX_ACTOR_COUNTER_H_INCLUDED
#include <zexec.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int64_t total;              //  Sum of what was added
    int64_t last;               //  Last sequence number seen
    int64_t out_of_order;       //  Sequence numbers not last + 1
} counter_t;

//  init (start): total starts at start (0 when not given)
static int
counter_init (void *state, zx_call_t *call)
{
    counter_t *self = state;
    if (zx_values_count (zx_call_args (call)) > 0)
        return zx_call_arg_int (call, 0, &self->total);
    return 0;
}

//  add (n): total += n; n is also a sequence number
static int
counter_add (void *state, zx_call_t *call)
{
    counter_t *self = state;
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    if (n != self->last + 1)
        self->out_of_order++;
    self->last = n;
    self->total += n;
    return zx_call_return_int (call, self->total);
}

//  seen () -> [last, out_of_order, total]
static int
counter_seen (void *state, zx_call_t *call)
{
    counter_t *self = state;
    zx_call_return_int (call, self->last);
    zx_call_return_int (call, self->out_of_order);
    return zx_call_return_int (call, self->total);
}

//  hold (started, release) -> [pid]: holds the actor's worker until the
//  file release exists (30 s at most)
static int
counter_hold (void *state, zx_call_t *call)
{
    (void) state;
    const char *started, *release;
    if (zx_call_arg_str (call, 0, &started) || zx_call_arg_str (call, 1, &release))
        return -1;
    FILE *file = fopen (started, "w");
    if (file)
        fclose (file);
    struct stat info;
    for (int waited = 0; stat (release, &info) != 0; waited += 2) {
        if (waited > 30000)
            return zx_call_fail (call, "hold timed out");
        struct timespec slice = { 0, 2 * 1000 * 1000 };
        nanosleep (&slice, NULL);
    }
    return zx_call_return_int (call, getpid ());
}

//  quit () -> ["bye"]: stops the actor after this reply
static int
counter_quit (void *state, zx_call_t *call)
{
    (void) state;
    zx_actor_stop_self (call);
    return zx_call_return_str (call, "bye");
}

static const zx_actor_handler_t counter_handlers [] = {
    { "add", counter_add }, { "seen", counter_seen }, { "hold", counter_hold },
    { "quit", counter_quit }, { NULL, NULL }
};

static const zx_actor_type_t counter = {
    "counter", sizeof (counter_t), counter_init, NULL, counter_handlers
};
ZX_ACTOR_TYPE (counter);

#endif
