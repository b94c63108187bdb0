/*  telemetry.c - workload t: what lifecycle events cost. Tiny-task
    throughput, all at once, with telemetry off, on with nobody
    subscribed, and on with a subscriber reading every event, on a
    thread pool (its events_endpoint) and through a broker (zexec-broker
    --events), in the same run.

    DESIGN: the three settings take turns, round after round, each on a
    fresh pool (and, remote, a fresh broker), and each figure keeps its
    best round, so that a machine busy for a moment costs no setting
    more than another. The subscriber is a SUB socket on a thread of its
    own that counts what it reads; a round with it starts only once it
    has its hello (it misses nothing), and its count is checked against
    the three events (submitted, dispatched, finished) per task.        */

#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { S_OFF, S_NOSUB, S_SUB, S_MODES };
static const char *const s_mode_names [S_MODES] = { "off", "nosub", "sub" };

typedef struct {
    char endpoint [256];
    pthread_t thread;
    atomic_bool stop, hello;
    atomic_long events;
} s_sub_t;

static void *
s_sub_main (void *arg)
{
    s_sub_t *self = (s_sub_t *) arg;
    void *context = zmq_ctx_new ();
    void *socket = zmq_socket (context, ZMQ_SUB);
    int timeout = 50, linger = 0, hwm = 0;
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect (socket, self->endpoint);
    char topic [64];
    while (!atomic_load (&self->stop)) {
        int size = zmq_recv (socket, topic, sizeof topic, 0);
        if (size < 0)
            continue;
        int more = 0;
        size_t more_size = sizeof more;
        zmq_getsockopt (socket, ZMQ_RCVMORE, &more, &more_size);
        if (more) {
            zmq_msg_t body;
            zmq_msg_init (&body);
            zmq_msg_recv (&body, socket, 0);
            zmq_msg_close (&body);
        }
        if (size == 8 && memcmp (topic, "zx.hello", 8) == 0)
            atomic_store (&self->hello, true);
        else
            atomic_fetch_add (&self->events, 1);
    }
    zmq_close (socket);
    zmq_ctx_term (context);
    return NULL;
}

//  Starts the subscriber and waits up to 10 s for its hello, running
//  loop meanwhile: a thread pool reads subscriptions on it.
static bool
s_sub_start (s_sub_t *self, zx_loop_t *loop, const char *endpoint)
{
    memset (self, 0, sizeof *self);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    if (pthread_create (&self->thread, NULL, s_sub_main, self) != 0)
        return false;
    for (int i = 0; i < 1000 && !atomic_load (&self->hello); i++) {
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 10);
        zx_future_destroy (&nap);
    }
    return atomic_load (&self->hello);
}

static long
s_sub_stop (s_sub_t *self)
{
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    return atomic_load (&self->events);
}

//  count tiny tasks at once on pool; tasks per second, NAN when wrong.
static double
s_tiny (zx_loop_t *loop, zx_executor_t *pool, long count)
{
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    if (!futures)
        return NAN;
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, pool, "bench_square",
                                          zx_values_pack ("i", (int64_t) i));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = bench_now () - start;
    bool right = true;
    for (long i = 0; i < count; i++) {
        int64_t value = -1;
        right &= futures [i] && zx_future_result_int (futures [i], &value) == ZX_OK
              && value == (int64_t) i * i;
        zx_future_destroy (&futures [i]);
    }
    free (futures);
    return right ? (double) count / elapsed : NAN;
}

//  One round of one setting on kind ("thread" or "remote"): a fresh pool
//  (remote: a fresh broker too), a warm-up, then the figure.
static void
s_round (zx_loop_t *loop, const bench_opts_t *opts, const char *kind, int mode, long count)
{
    char events [256] = "";
    if (mode != S_OFF)
        snprintf (events, sizeof events, "ipc:///tmp/zexec-bench-events-%d-%s",
                  (int) getpid (), kind);
    bench_kind_t remote = { .name = "remote", .opts = opts };
    char endpoint [64];
    zx_executor_t *pool = NULL;
    if (strcmp (kind, "thread") == 0)
        pool = zx_thread_pool_new (&(zx_executor_opts_t) {
            .max_workers = opts->workers, .window = opts->window,
            .events_endpoint = events [0] ? events : NULL });
    else {
        remote.broker = bench_broker_start_events (endpoint, sizeof endpoint, !opts->verbose,
                                                   events [0] ? events : NULL);
        if (remote.broker <= 0)
            return;
        remote.endpoint = endpoint;
        pool = bench_pool_new (&remote, opts->workers);
    }
    if (!pool) {
        bench_note ("telemetry: no %s pool", kind);
        bench_stop (remote.broker);
        return;
    }
    //  Warm: the pool runs on the loop, the workers are up
    s_tiny (loop, pool, count / 10 + 1);
    s_sub_t sub;
    bool subscribed = mode == S_SUB && s_sub_start (&sub, loop, events);
    if (mode == S_SUB && !subscribed)
        bench_note ("telemetry: the %s subscriber had no hello", kind);
    double rate = s_tiny (loop, pool, count);
    if (mode == S_SUB) {
        //  What is on its way in still counts: give it a moment
        struct timespec delay = { 0, 200000000 };
        nanosleep (&delay, NULL);
        long seen = s_sub_stop (&sub);
        if (seen < 3 * count)
            bench_note ("telemetry: the %s subscriber saw %ld events of %ld", kind, seen,
                        3 * count);
    }
    char name [64];
    snprintf (name, sizeof name, "tiny_throughput_tel_%s", s_mode_names [mode]);
    if (!isnan (rate))
        bench_report (name, kind, rate, "tasks/s");
    else
        bench_note ("telemetry: %s %s: wrong or failed results", kind, s_mode_names [mode]);
    if (strcmp (kind, "thread") == 0)
        zx_executor_destroy (&pool);
    else
        bench_pool_destroy (&remote, &pool);
    bench_stop (remote.broker);
}

void
bench_telemetry_run (zx_loop_t *loop, const bench_opts_t *opts)
{
    long count = opts->quick ? 20000 : opts->tasks;
    const char *kinds [] = { "thread", "remote" };
    for (size_t k = 0; k < 2; k++) {
        for (int round = 0; round < 3; round++)
            for (int mode = 0; mode < S_MODES; mode++) {
                bench_progress (opts, "t telemetry %s: %s, round %d", kinds [k],
                                s_mode_names [mode], round + 1);
                s_round (loop, opts, kinds [k], mode, count);
            }
    }
}
