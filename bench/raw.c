/*  raw.c - workload 0: what plain libzmq does on this machine.

    DESIGN: the floor zexec is measured against, taken in the same run so
    that it sees the same machine load. One ROUTER in the calling thread
    deals 8-byte messages to as many DEALER workers as the pools have;
    each worker sends every message straight back. Over inproc the workers
    are threads in the ROUTER's context (as a thread pool's are); over ipc
    and tcp loopback they are processes, this program started again with
    --raw-worker (as a process pool's and a remote worker's are). Two
    figures per transport: round trips per second with up to 256 messages
    in flight per worker (pipelined: the best a dispatcher that sends one
    message per task can do), and the median round trip with one message
    in flight (the latency no dispatcher can beat). There is no codec, no
    queue, no future: anything zexec adds shows as the distance to it.  */

#define _GNU_SOURCE
#include "bench.h"

#include <zmq.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_WINDOW    256         //  Messages in flight per worker, pipelined
#define S_MAX_PEERS 64

typedef struct {
    uint8_t id [256];
    size_t id_size;
    int in_flight;
} s_peer_t;

typedef struct {
    void *ctx;
    char endpoint [256];
} s_echo_args_t;

//  Echoes every message until an empty one arrives. Returns 0, or -1 when
//  it could not connect.
static int
s_echo (void *ctx, const char *endpoint)
{
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt (dealer, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect (dealer, endpoint) != 0) {
        zmq_close (dealer);
        return -1;
    }
    zmq_send (dealer, "hi", 2, 0);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, dealer, 0) >= 0 && zmq_msg_size (&msg) > 0)
        if (zmq_msg_send (&msg, dealer, 0) < 0)
            break;
    zmq_msg_close (&msg);
    zmq_close (dealer);
    return 0;
}

static void *
s_echo_thread (void *arg)
{
    s_echo_args_t *args = arg;
    s_echo (args->ctx, args->endpoint);
    return NULL;
}

int
bench_raw_worker (const char *endpoint)
{
    void *ctx = zmq_ctx_new ();
    int rc = s_echo (ctx, endpoint);
    zmq_ctx_term (ctx);
    return rc == 0 ? 0 : 1;
}

//  Receives one reply and returns the index of the peer it came from, or
//  -1 (EAGAIN with ZMQ_DONTWAIT, or a stray message).
static int
s_receive (void *router, s_peer_t *peers, int count, int flags)
{
    uint8_t id [256], body [8];
    int size = zmq_recv (router, id, sizeof id, flags);
    if (size < 0)
        return -1;
    zmq_recv (router, body, sizeof body, 0);
    for (int i = 0; i < count; i++)
        if (peers [i].id_size == (size_t) size && memcmp (peers [i].id, id, (size_t) size) == 0)
            return i;
    return -1;
}

static void
s_send (void *router, s_peer_t *peer, uint64_t value)
{
    zmq_send (router, peer->id, peer->id_size, ZMQ_SNDMORE);
    zmq_send (router, &value, sizeof value, 0);
}

//  Round trips per second with up to S_WINDOW messages in flight per
//  worker, over total round trips.
static double
s_pipelined (void *router, s_peer_t *peers, int count, long total)
{
    long sent = 0, received = 0;
    double start = bench_now ();
    while (received < total) {
        for (int i = 0; i < count; i++)
            while (peers [i].in_flight < S_WINDOW && sent < total) {
                s_send (router, &peers [i], (uint64_t) sent++);
                peers [i].in_flight++;
            }
        //  Wait for one reply, then take all that are waiting
        int flags = 0, peer;
        while ((peer = s_receive (router, peers, count, flags)) >= 0 || flags == 0) {
            if (peer >= 0) {
                peers [peer].in_flight--;
                received++;
            }
            flags = ZMQ_DONTWAIT;
        }
    }
    return (double) total / (bench_now () - start);
}

//  One message in flight, dealt to the workers in turn; fills samples
//  with round trips in microseconds.
static void
s_one_at_a_time (void *router, s_peer_t *peers, int count, double *samples, int samples_count)
{
    for (int i = 0; i < samples_count; i++) {
        double start = bench_now ();
        s_send (router, &peers [i % count], (uint64_t) i);
        while (s_receive (router, peers, count, 0) < 0)
            ;
        samples [i] = (bench_now () - start) * 1e6;
    }
}

//  Runs both figures over one transport. Returns false when the workers
//  did not come up.
static bool
s_transport (const char *name, const bench_opts_t *opts)
{
    int count = opts->workers < S_MAX_PEERS ? opts->workers : S_MAX_PEERS;
    void *ctx = zmq_ctx_new ();
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    int zero = 0, one = 1;
    zmq_setsockopt (router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (router, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    char endpoint [256];
    if (strcmp (name, "inproc") == 0)
        snprintf (endpoint, sizeof endpoint, "inproc://zexec-bench-raw");
    else
    if (strcmp (name, "ipc") == 0)
        snprintf (endpoint, sizeof endpoint, "ipc:///tmp/zexec-bench-raw-%d.ipc", (int) getpid ());
    else
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:*");
    bool ok = zmq_bind (router, endpoint) == 0;
    size_t length = sizeof endpoint;
    zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &length);

    pthread_t threads [S_MAX_PEERS];
    s_echo_args_t args = { .ctx = ctx };
    snprintf (args.endpoint, sizeof args.endpoint, "%s", endpoint);
    pid_t pids [S_MAX_PEERS];
    int started = 0;
    for (; ok && started < count; started++) {
        if (strcmp (name, "inproc") == 0)
            ok = pthread_create (&threads [started], NULL, s_echo_thread, &args) == 0;
        else {
            char *argv [] = { (char *) bench_self (), "--raw-worker", endpoint, NULL };
            ok = (pids [started] = bench_start (argv, false)) > 0;
        }
        if (!ok)
            break;
    }
    //  Each worker says hello first; that gives its routing id
    s_peer_t peers [S_MAX_PEERS];
    memset (peers, 0, sizeof peers);
    int timeout = 5000;
    zmq_setsockopt (router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (int i = 0; ok && i < started; i++) {
        uint8_t body [8];
        int size = zmq_recv (router, peers [i].id, sizeof peers [i].id, 0);
        ok = size > 0 && zmq_recv (router, body, sizeof body, 0) >= 0;
        peers [i].id_size = size > 0 ? (size_t) size : 0;
    }
    timeout = -1;
    zmq_setsockopt (router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (ok) {
        s_pipelined (router, peers, count, 10000);       //  Warm up
        long total = opts->quick ? 300000 : 2000000;
        bench_report ("raw_pipelined", name, s_pipelined (router, peers, count, total), "trips/s");
        int samples_count = opts->quick ? 2000 : 20000;
        double *samples = calloc ((size_t) samples_count, sizeof (double));
        s_one_at_a_time (router, peers, count, samples, 200);
        s_one_at_a_time (router, peers, count, samples, samples_count);
        bench_report ("raw_rtt", name, bench_percentile (samples, (size_t) samples_count, 0.5), "us");
        bench_report ("raw_rtt_p99", name, bench_percentile (samples, (size_t) samples_count, 0.99), "us");
        free (samples);
    }
    else
        bench_note ("raw %s workers did not start", name);
    //  An empty message stops a worker; one that never said hello is
    //  stopped by shutting the context down under it
    for (int i = 0; i < started && peers [i].id_size; i++) {
        zmq_send (router, peers [i].id, peers [i].id_size, ZMQ_SNDMORE);
        zmq_send (router, "", 0, 0);
    }
    if (!ok)
        zmq_ctx_shutdown (ctx);
    for (int i = 0; i < started; i++) {
        if (strcmp (name, "inproc") == 0)
            pthread_join (threads [i], NULL);
        else
            bench_stop (pids [i]);
    }
    zmq_close (router);
    zmq_ctx_term (ctx);
    if (strcmp (name, "ipc") == 0)
        unlink (endpoint + strlen ("ipc://"));
    return ok;
}

void
bench_raw_run (const bench_opts_t *opts)
{
    const char *transports [] = { "inproc", "ipc", "tcp" };
    for (size_t i = 0; i < sizeof transports / sizeof transports [0]; i++)
        s_transport (transports [i], opts);
}
