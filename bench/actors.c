/*  actors.c - workload a: stateful actors on thread and process pools,
    and on remote workers through a broker (the served workers are this
    program again, which registers the actor type).

    An actor's ask is a round trip bound to one worker, so its median sits
    beside the task round trip of the same run (rtt_p50). Tells are
    pipelined: N tells then one ask, which answers after them all (one
    sender's messages keep their order), to one actor and spread over
    many actors on all the pool's workers.                              */
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t count;
} s_tally_t;

static int
s_tally_add (void *state, zx_call_t *call)
{
    ((s_tally_t *) state)->count++;
    (void) call;
    return 0;
}

static int
s_tally_get (void *state, zx_call_t *call)
{
    return zx_call_return_int (call, ((s_tally_t *) state)->count);
}

static const zx_actor_handler_t s_tally_handlers [] = {
    { "add", s_tally_add }, { "get", s_tally_get }, { NULL, NULL }
};

static const zx_actor_type_t bench_tally = {
    "bench_tally", sizeof (s_tally_t), NULL, NULL, s_tally_handlers
};
ZX_ACTOR_TYPE (bench_tally);

#define S_MANY 16

//  Asks "get" of actor and waits. Returns the count, or -1.
static int64_t
s_get (zx_actor_t *actor)
{
    zx_future_t *future = zx_actor_ask (actor, "get", NULL);
    int64_t count = -1;
    if (future && zx_future_wait (future, 60000) == ZX_OK)
        zx_future_result_int (future, &count);
    zx_future_destroy (&future);
    return count;
}

static void
s_asks (zx_actor_t *actor, const char *executor, int count)
{
    double *samples = calloc ((size_t) count, sizeof (double));
    if (!samples)
        return;
    for (int i = 0; i < count; i++) {
        double start = bench_now ();
        if (s_get (actor) < 0) {
            bench_note ("actor ask failed (%s)", executor);
            free (samples);
            return;
        }
        samples [i] = (bench_now () - start) * 1e6;
    }
    bench_report ("actor_ask_p50", executor, bench_percentile (samples, (size_t) count, 0.5),
                  "us");
    bench_report ("actor_ask_p99", executor, bench_percentile (samples, (size_t) count, 0.99),
                  "us");
    free (samples);
}

//  count tells spread round-robin over actors [0..n), then one ask each.
static void
s_tells (zx_actor_t **actors, int n, const char *workload, const char *executor, long count)
{
    int64_t before [S_MANY];
    for (int k = 0; k < n; k++)
        before [k] = s_get (actors [k]);
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        if (zx_actor_tell (actors [i % n], "add", NULL) != ZX_OK) {
            bench_note ("actor tell refused (%s)", executor);
            return;
        }
    int64_t got = 0;
    for (int k = 0; k < n; k++)
        got += s_get (actors [k]) - before [k];
    double seconds = bench_now () - start;
    if (got != count) {
        bench_note ("%s: %lld of %ld tells arrived", workload, (long long) got, count);
        return;
    }
    bench_report (workload, executor, (double) count / seconds, "msg/s");
}

void
bench_actors_run (bench_kind_t *kind, const bench_opts_t *opts)
{
    zx_executor_t *pool = bench_pool_new (kind, opts->workers);
    if (!pool)
        return;
    long tells = opts->quick ? 20000 : 200000;
    zx_actor_opts_t actor_opts = { .mailbox = (size_t) tells + S_MANY };
    zx_actor_t *actors [S_MANY];
    int made = 0;
    for (; made < S_MANY; made++) {
        actors [made] = zx_actor_spawn (pool, "bench_tally", NULL, &actor_opts);
        zx_future_t *ready = actors [made] ? zx_actor_ready (actors [made]) : NULL;
        bool ok = ready && zx_future_wait (ready, 20000) == ZX_OK;
        zx_future_destroy (&ready);
        if (!ok) {
            bench_note ("cannot spawn an actor on a %s pool", kind->name);
            zx_actor_destroy (&actors [made]);
            break;
        }
    }
    if (made == S_MANY) {
        s_asks (actors [0], kind->name, opts->quick ? 1000 : 10000);
        s_tells (actors, 1, "actor_tells_one", kind->name, tells);
        s_tells (actors, S_MANY, "actor_tells_many", kind->name, tells);
    }
    for (int k = 0; k < made; k++)
        zx_actor_destroy (&actors [k]);
    bench_pool_destroy (kind, &pool);
}
