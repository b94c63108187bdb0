/*  test_hostile_fake_broker.c - the other way round: a raw ROUTER posing
    as a broker sends garbage, huge frames and bad records to a real
    zexec-worker and to a coordinator (a remote executor in this
    process), which must drop it, answer what they can, and go on. (See
    test_hostile_messages.c; the ctest entries are test_hostile.*.)

    The fixture kills and reaps the worker, also when a test fails (then
    its log is printed), and closes the raw sockets.                    */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  A raw ROUTER posing as the broker

typedef struct {
    void *router;
    char endpoint [64];         //  tcp://127.0.0.1:PORT, a port of its choosing
} s_fake_broker_t;

static void
s_fake_broker_new (s_fake_broker_t *self)
{
    self->router = zx_test_raw_socket (ZMQ_ROUTER);
    int linger = 0, timeout = 5000, zero = 0, one = 1;
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (zmq_bind (self->router, "tcp://127.0.0.1:*") != 0)
        fail_msg ("cannot bind a fake broker: %s", zmq_strerror (errno));
    size_t size = sizeof self->endpoint;
    assert_int_equal (zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, self->endpoint, &size), 0);
}

//  Sends frames to identity (the routing id frame first).
static void
s_fake_send (s_fake_broker_t *self, zmq_msg_t *identity, const zx_test_frame_t *frames,
             size_t count)
{
    if (zmq_send (self->router, zmq_msg_data (identity), zmq_msg_size (identity),
                  ZMQ_SNDMORE) < 0)
        fail_msg ("the fake broker cannot send: %s", zmq_strerror (errno));
    zx_test_send (self->router, frames, count);
}

#define FAKE_SEND(self, identity, ...) \
    s_fake_send (self, identity, (zx_test_frame_t []) { __VA_ARGS__ }, \
                 sizeof ((zx_test_frame_t []) { __VA_ARGS__ }) / sizeof (zx_test_frame_t))

//  The garbage both fake-broker tests send, with header as the protocol,
//  among them three frames of ZX_TEST_BIG_FRAME bytes.
static void
s_fake_garbage (s_fake_broker_t *self, zmq_msg_t *identity, const char *header)
{
    enum { BIG = ZX_TEST_BIG_FRAME };
    uint8_t *big = malloc (BIG);
    assert_non_null (big);
    memset (big, 0xff, BIG);
    const zx_test_frame_t h = B (header, 5);
    FAKE_SEND (self, identity, S (""));
    FAKE_SEND (self, identity, S (""), S (""), S (""));
    FAKE_SEND (self, identity, h);
    FAKE_SEND (self, identity, S ("ZXW02"), S ("\x02"), S ("x"));
    FAKE_SEND (self, identity, S ("MDPW01"), S ("\x02"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\x02\x02"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\x00"));
    FAKE_SEND (self, identity, h, S ("\x07"), S ("x"));
    FAKE_SEND (self, identity, h, S ("\xff"));
    FAKE_SEND (self, identity, h, S ("\x01"), S ("default"), S ("info"), S ("name"));
    FAKE_SEND (self, identity, h, S ("\x02"));
    FAKE_SEND (self, identity, h, S ("\x02"), S ("x"), S ("y"), S ("z"));
    FAKE_SEND (self, identity, h, S ("\x03"));
    FAKE_SEND (self, identity, h, S ("\x03"), S ("\x01\x02\x03"));
    FAKE_SEND (self, identity, h, S ("\x06"));
    FAKE_SEND (self, identity, h, S ("\x06"), S ("1234567"));
    FAKE_SEND (self, identity, h, S ("\x04"), S ("extra"));
    FAKE_SEND (self, identity, h, S ("\x02"), B (big, BIG));
    FAKE_SEND (self, identity, h, S ("\x03"), B (big, BIG));
    FAKE_SEND (self, identity, B (big, BIG));
    free (big);
    //  100,000 tiny frames
    zmq_send (self->router, zmq_msg_data (identity), zmq_msg_size (identity), ZMQ_SNDMORE);
    for (int i = 0; i < 100000; i++)
        zmq_send (self->router, "x", 1, i + 1 < 100000 ? ZMQ_SNDMORE : 0);
}

static void
test_a_worker_survives_garbage_from_a_fake_broker (void **state)
{
    (void) state;
    s_fake_broker_t fake;
    s_fake_broker_new (&fake);
    //  Long heartbeats: the fake broker sends none
    const char *argv [] = { ZX_WORKER_PROGRAM, "--connect", fake.endpoint,
                            "--tasks", ZX_TEST_TASKS, "--workers", "2",
                            "--heartbeat", "1000", "--liveness", "20", NULL };
    zx_test_child_t *worker = zx_test_peer_spawn (argv);
    zmq_msg_t frames [6], identity;
    size_t count = zx_test_expect_command (fake.router, 1, "ZXW01", ZX_CMD_READY, frames, 6);
    assert_int_equal (count, 6);
    zmq_msg_init (&identity);
    zmq_msg_copy (&identity, &frames [0]);
    zx_test_close_frames (frames, count);

    s_fake_garbage (&fake, &identity, "ZXW01");
    //  Requests that cannot run: bad arguments, no such task, a duplicate
    //  id, reserved ids, and a batch cut short
    zx__batch_t batch = { 0 };
    zx_test_add_request (&batch, 100, "nope", 1);
    zx_test_add_request (&batch, 101, "sleep_ms", 200);
    zx_test_add_request (&batch, 101, "square", 1);
    zx_test_add_request (&batch, 0, "square", 1);
    zx_test_add_request (&batch, UINT64_MAX, "square", 1);
    uint8_t bad_args [64];
    size_t bad_size = 0;
    {
        zx__batch_t one = { 0 };
        assert_int_equal (zx__batch_add_request (&one, 102, 1, 0, "square", 6, "zzz", 3), ZX_OK);
        memcpy (bad_args, one.data, one.size);
        bad_size = one.size;
        zx__batch_free (&one);
    }
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (batch.data, batch.size));
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (bad_args, bad_size));
    zx__batch_t cut = { 0 };
    zx_test_add_request (&cut, 200, "nope", 1);
    zx_test_add_request (&cut, 201, "square", 1);
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (cut.data, cut.size - 5));
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x06"), S ("\x65\0\0\0\0\0\0\0"));
    //  And then a good one
    zx__batch_t good = { 0 };
    zx_test_add_request (&good, 42, "square", 7);
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x02"), B (good.data, good.size));

    //  Replies: 100 no such task, 101 once (run or cancelled), 102 bad
    //  request, 42 right; nothing for the rest
    int seen_42 = 0, seen_100 = 0, seen_101 = 0, seen_102 = 0;
    int64_t deadline = zx_test_now_ms () + 10000;
    while (!(seen_42 && seen_100 && seen_101 && seen_102) && zx_test_now_ms () < deadline) {
        count = zx_test_expect_command (fake.router, 1, "ZXW01", ZX_CMD_REPLY, frames, 6);
        assert_int_equal (count, 4);
        const uint8_t *cursor = zmq_msg_data (&frames [3]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [3]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
            if (rec.corr == 42) {
                assert_int_equal (rec.status, ZX_STATUS_OK);
                zx_values_t *values = NULL;
                assert_int_equal (zx__values_decode (rec.payload, rec.payload_size, &values),
                                  ZX_OK);
                int64_t square = 0, pid = 0;
                zx_values_get_int (values, 0, &square);
                zx_values_get_int (values, 1, &pid);
                assert_int_equal (square, 49);
                assert_int_equal (pid, worker->pid);
                zx_values_destroy (&values);
                seen_42++;
            }
            else
            if (rec.corr == 100) {
                assert_int_equal (rec.status, ZX_STATUS_NO_SUCH_TASK);
                seen_100++;
            }
            else
            if (rec.corr == 101)
                seen_101++;
            else
            if (rec.corr == 102) {
                assert_int_equal (rec.status, ZX_STATUS_BAD_REQUEST);
                seen_102++;
            }
        }
        zx_test_close_frames (frames, count);
    }
    if (!(seen_42 && seen_100 && seen_101 && seen_102))
        fail_msg ("replies seen: 42 %d, 100 %d, 101 %d, 102 %d", seen_42, seen_100, seen_101,
                  seen_102);
    assert_true (zx_test_alive (worker));
    zx_test_expect_log (worker->log, "malformed message from the broker: dropped", NULL, 5);
    zx_test_expect_log (worker->log, "unexpected command", "from the broker: dropped", 5);
    zx_test_expect_log (worker->log, "malformed REQUEST batch from the broker: rest dropped",
                        NULL, 1);

    //  DISCONNECT: it connects again, under a new routing id
    FAKE_SEND (&fake, &identity, S ("ZXW01"), S ("\x05"), S ("\x03protocol"));
    count = zx_test_expect_command (fake.router, 1, "ZXW01", ZX_CMD_READY, frames, 6);
    assert_false (zx_test_frame_is (&frames [0], zmq_msg_data (&identity),
                  zmq_msg_size (&identity)));
    zx_test_close_frames (frames, count);
    zx_test_peer_stop_cleanly (worker, "the worker", 10000);
    zmq_msg_close (&identity);
    zx__batch_free (&batch);
    zx__batch_free (&good);
    zx__batch_free (&cut);
    zx_test_raw_close (&fake.router);
    zx_test_pass ();
}

static void
test_a_coordinator_survives_garbage_from_a_fake_broker (void **state)
{
    (void) state;
    s_fake_broker_t fake;
    s_fake_broker_new (&fake);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = 1000, .liveness = 20 };
    zx_executor_t *remote = zx_remote_executor_new (fake.endpoint, &opts);
    assert_non_null (remote);
    zx_future_t *futures [4];
    for (int i = 0; i < 4; i++)
        futures [i] = zx_run_in_executor (loop, remote, "square", zx_values_pack ("i",
                                          (int64_t) i));
    //  Let the client send them
    size_t done = 0;
    zx_wait (futures, 4, ZX_ALL_COMPLETED, 200, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    //  Submitted from plain code, the first may leave at once in a batch of
    //  its own and the rest with the next loop iteration: read REQUESTs
    //  until all four are in
    zmq_msg_t frames [6], identity;
    zmq_msg_init (&identity);
    uint64_t corrs [4];
    size_t found = 0;
    for (int batches = 0; found < 4 && batches < 4; batches++) {
        size_t count = zx_test_expect_command (fake.router, 1, "ZXC01", ZX_CMD_REQUEST,
                                               frames, 6);
        assert_int_equal (count, 5);
        zmq_msg_copy (&identity, &frames [0]);
        const uint8_t *cursor = zmq_msg_data (&frames [4]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [4]);
        zx__request_rec_t rec;
        while (found < 4 && zx__batch_next_request (&cursor, end, &rec) == ZX_OK)
            corrs [found++] = rec.corr;
        zx_test_close_frames (frames, count);
    }
    assert_int_equal (found, 4);

    s_fake_garbage (&fake, &identity, "ZXC01");
    //  Replies: an unknown id, an unknown status, a result that does not
    //  decode, a good one, and a batch cut short after a good one
    zx__batch_t batch = { 0 };
    zx_test_add_reply (&batch, 999999, 1, ZX_STATUS_OK, 1, 1);
    zx_test_add_reply (&batch, corrs [0], 1, 200, 1, 1);
    assert_int_equal (zx__batch_add_reply (&batch, corrs [1], 1, ZX_STATUS_OK, "zzz", 3), ZX_OK);
    zx_test_add_reply (&batch, corrs [2], 1, ZX_STATUS_OK, 4, 4242);
    size_t whole = batch.size;
    zx_test_add_reply (&batch, corrs [3], 1, ZX_STATUS_OK, 9, 4242);
    FAKE_SEND (&fake, &identity, S ("ZXC01"), S ("\x03"), B (batch.data, batch.size - 1));
    zx_wait (futures, 3, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 3);
    zx_wait (futures + 3, 1, ZX_ALL_COMPLETED, 200, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    assert_int_equal (zx_future_error (futures [0]), ZX_EPROTO);
    assert_int_equal (zx_future_error (futures [1]), ZX_EPROTO);
    assert_int_equal (zx_future_error (futures [2]), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (futures [2]), 0, &square), ZX_OK);
    assert_int_equal (square, 4);
    assert_false (zx_future_done (futures [3]));
    //  The last one, answered properly
    FAKE_SEND (&fake, &identity, S ("ZXC01"), S ("\x03"), B (batch.data + whole,
                                                               batch.size - whole));
    zx_wait (futures, 4, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 4);
    assert_int_equal (zx_values_get_int (zx_future_result (futures [3]), 0, &square), ZX_OK);
    assert_int_equal (square, 9);
    for (int i = 0; i < 4; i++)
        zx_future_destroy (&futures [i]);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zmq_msg_close (&identity);
    zx__batch_free (&batch);
    zx_test_raw_close (&fake.router);
    zx_test_pass ();
}


static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_worker_survives_garbage_from_a_fake_broker),
    cmocka_unit_test (test_a_coordinator_survives_garbage_from_a_fake_broker),
};

ZX_TEST_RAW_MAIN (tests)
