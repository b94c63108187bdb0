/*  test_heartbeats.c - what an idle or busy peer sends, and what counts
    as a heartbeat (PROTOCOL.md 15.2).

    A serving worker answers the broker's heartbeat at once when it has
    said nothing for half an interval, and its own tick then waits an
    interval and an eighth from that answer: an idle worker wakes once an
    interval, on the broker's heartbeat, instead of twice. The broker
    sends no heartbeat to a worker it sent requests within the last half
    interval, and takes a worker's replies as heartbeats: a raw worker
    that only ever replies is never declared lost, nor the raw coordinator
    that only sends requests.

    The timings asserted are lower bounds (a loaded machine only makes
    things later) or a margin of seconds over what is expected.          */
#define _GNU_SOURCE
#include "testutil_raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The command of a message received on a ROUTER (frames: id, header,
//  command, ...) or a DEALER (header, command, ...), -1 when it has none.
static int
s_command (zmq_msg_t *frames, size_t count, size_t at)
{
    if (count <= at + 1 || zmq_msg_size (&frames [at + 1]) != 1)
        return -1;
    return ((const uint8_t *) zmq_msg_data (&frames [at + 1])) [0];
}

//  --------------------------------------------------------------------
//  An idle worker

//  A zexec-worker with a 4 s interval, under a raw ROUTER posing as its
//  broker: each HEARTBEAT the fake broker sends once the worker has been
//  quiet for more than 2 s is answered by one long before the worker's
//  own tick (4.5 s after its last message) would come, within 3.6 s of
//  that last message (2.2 s and a wake-up, as a rule); and once the
//  fake broker stops, the worker still sends one on its own, but not
//  before an interval of quiet.
static void
test_an_idle_worker_answers_the_brokers_heartbeat_instead_of_ticking_alone (void **state)
{
    (void) state;
    void *router = zx_test_raw_socket (ZMQ_ROUTER);
    int linger = 0, timeout = 10000;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_bind (router, "tcp://127.0.0.1:*") != 0)
        fail_msg ("cannot bind a fake broker: %s", zmq_strerror (errno));
    char endpoint [64];
    size_t size = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size), 0);
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "1",
                            "--heartbeat", "4000", "--liveness", "20", NULL };
    zx_test_child_t *worker = zx_test_peer_spawn (argv);
    zmq_msg_t frames [6], identity;
    size_t count = zx_test_expect_command (router, 1, "ZXW01", ZX_CMD_READY, frames, 6);
    zmq_msg_init (&identity);
    zmq_msg_copy (&identity, &frames [0]);
    zx_test_close_frames (frames, count);
    //  Its first heartbeat follows its READY at once
    count = zx_test_expect_command (router, 1, "ZXW01", ZX_CMD_HEARTBEAT, frames, 6);
    zx_test_close_frames (frames, count);
    int64_t last = zx_test_now_ms ();
    uint8_t interval [4];
    zx__put_u32 (interval, 4000);
    for (int round = 0; round < 3; round++) {
        while (zx_test_now_ms () - last < 2200)
            zx_sleep (20);
        if (zmq_send (router, zmq_msg_data (&identity), zmq_msg_size (&identity),
                      ZMQ_SNDMORE) < 0)
            fail_msg ("the fake broker cannot send: %s", zmq_strerror (errno));
        SEND (router, S ("ZXW01"), S ("\x04"), B (interval, sizeof interval));
        count = zx_test_recv (router, frames, 6);
        if (count == 0)
            fail_msg ("round %d: the worker did not answer the broker's heartbeat", round);
        int command = s_command (frames, count, 1);
        zx_test_close_frames (frames, count);
        assert_int_equal (command, ZX_CMD_HEARTBEAT);
        int64_t now = zx_test_now_ms ();
        print_message ("round %d: answered %lld ms after its last message\n", round,
                       (long long) (now - last));
        //  Its own tick would have come at 4,500 ms (at 4,000 before it
        //  answered: so this fails by far without the answer)
        assert_true (now - last < 3600);
        last = now;
    }
    //  The fake broker falls silent: the worker's own tick sends one, an
    //  interval and a bit after its last message, and not sooner
    count = zx_test_recv (router, frames, 6);
    if (count == 0)
        fail_msg ("the worker sent no heartbeat of its own to a silent broker");
    int command = s_command (frames, count, 1);
    zx_test_close_frames (frames, count);
    assert_int_equal (command, ZX_CMD_HEARTBEAT);
    int64_t quiet = zx_test_now_ms () - last;
    print_message ("its own heartbeat after %lld ms of quiet\n", (long long) quiet);
    assert_true (quiet >= 4000);
    assert_int_equal (zx_test_log_count (worker->log, "not heard from", NULL), 0);
    zx_test_peer_stop_cleanly (worker, "the worker", 10000);
    zmq_msg_close (&identity);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  A busy worker

//  A raw worker kept busy by a raw coordinator (1 s heartbeat, liveness
//  3) through 4.5 s, one request at a time: neither of them ever sends a
//  HEARTBEAT, and neither is declared lost (their requests and replies
//  count); and the worker, sent a request every few milliseconds, is sent
//  at most one heartbeat after the one at its READY (one tick in which the
//  broker had sent it nothing for half an interval, if the machine stalled).
static void
test_a_busy_worker_that_only_replies_is_not_lost_and_is_spared_heartbeats (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 1000, NULL);
    void *fake = zx_test_fake_worker (&broker, "busy-worker", "busy", 1);
    void *coord = zx_test_raw_connect (broker.endpoint, "busy-coordinator");
    int beats = 0, ready_beats = 0, done = 0;
    uint64_t next = 1;
    //  The heartbeat the broker sends at a READY, before any request
    zmq_msg_t frames [6];
    size_t count = zx_test_recv_command (fake, 0, "ZXW01", ZX_CMD_HEARTBEAT, frames, 6, 3000);
    if (count) {
        ready_beats++;
        zx_test_close_frames (frames, count);
    }
    int64_t start = zx_test_now_ms ();
    while (zx_test_now_ms () - start < 4500) {
        zx_test_send_request (coord, "busy", next++, 1, "square");
        //  The worker: heartbeats counted, the request answered
        bool answered = false;
        while (!answered) {
            count = zx_test_recv (fake, frames, 6);
            if (count == 0)
                fail_msg ("no request reached the busy worker");
            int command = s_command (frames, count, 0);
            if (command == ZX_CMD_HEARTBEAT)
                beats++;
            else
            if (command == ZX_CMD_REQUEST) {
                zmq_msg_t *batch = &frames [count - 1];
                const uint8_t *cursor = zmq_msg_data (batch);
                const uint8_t *end = cursor + zmq_msg_size (batch);
                zx__request_rec_t rec;
                zx__batch_t replies = { 0 };
                while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK)
                    zx_test_add_reply (&replies, rec.corr, rec.attempt, ZX_STATUS_OK, 9, 0);
                SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size));
                zx__batch_free (&replies);
                answered = true;
            }
            zx_test_close_frames (frames, count);
        }
        //  The coordinator: its reply (heartbeats to it skipped over)
        count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 6);
        done += zx_test_count_replies (&frames [count - 1], ZX_STATUS_OK, NULL);
        zx_test_close_frames (frames, count);
    }
    print_message ("%d requests answered in 4.5 s; the worker was sent %d heartbeats "
                   "(and %d at its READY)\n", done, beats, ready_beats);
    assert_int_equal (done, (int) (next - 1));
    assert_true (beats <= 1);
    const char *log = broker.child->log;
    assert_int_equal (zx_test_log_count (log, "declared lost", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "not heard from", NULL), 0);
    //  Both still known: one more round trip goes through
    zx_test_send_request (coord, "busy", next, 1, "square");
    uint64_t corr;
    uint32_t attempt;
    zx_test_take_requests (fake, &corr, &attempt, 1);
    zx__batch_t replies = { 0 };
    zx_test_add_reply (&replies, corr, attempt, ZX_STATUS_OK, 9, 0);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size));
    zx__batch_free (&replies);
    count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 6);
    assert_int_equal (zx_test_count_replies (&frames [count - 1], ZX_STATUS_OK, NULL), 1);
    zx_test_close_frames (frames, count);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_an_idle_worker_answers_the_brokers_heartbeat_instead_of_ticking_alone),
    cmocka_unit_test (test_a_busy_worker_that_only_replies_is_not_lost_and_is_spared_heartbeats),
};

ZX_TEST_RAW_MAIN (tests)
