/*  test_security_framed.c - framed payloads (PROTOCOL.md section 23) from
    raw ZeroMQ peers against a real zexec-broker and zexec-worker.

    A framed request is one record marked ZX_FLAG_FRAMED whose arguments
    are the one frame after the batch. Its good shape is answered, framed
    when the coordinator asks so and in the old shape when it does not;
    every malformed shape (the flag without the frame, a frame without
    the flag, two frames, the framed record among others, or carrying
    arguments of its own) is answered BAD_REQUEST with a text that says
    what is wrong, and the broker and its worker go on serving. A worker's
    reply marked framed without its frame ends that task with an error.
    The ctest entries are test_security.*.                              */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_env_start (zx_test_env_t *env)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) { .heartbeat_ms = 500 });
}

//  The encoded arguments [bytes] of size pattern bytes, in *values_p
//  (caller destroys); returns the encoding.
static const void *
s_args (size_t size, zx_values_t **values_p, size_t *encoded)
{
    unsigned char *data = malloc (size);
    assert_non_null (data);
    for (size_t i = 0; i < size; i++)
        data [i] = (unsigned char) (i * 7 + 1);
    *values_p = zx_values_new ();
    zx_values_add_bytes (*values_p, data, size);
    free (data);
    return zx__values_data (*values_p, encoded);
}

//  A batch of one record for task corr with flags and args.
static void
s_record (zx__batch_t *batch, uint64_t corr, uint8_t flags, const char *task,
          const void *args, size_t size)
{
    assert_int_equal (zx__batch_add_request (batch, corr, 1, flags, task, strlen (task),
                                             args, size), ZX_OK);
}

//  Expects a REPLY on coord whose batch answers corr with status and a
//  text holding text.
static void
s_expect_refusal (void *coord, uint64_t corr, const char *text)
{
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.corr, corr);
    assert_int_equal (rec.status, ZX_STATUS_BAD_REQUEST);
    char *said = strndup ((const char *) rec.payload, rec.payload_size);
    if (!strstr (said, text))
        fail_msg ("the refusal of %llu says '%s', not '%s'", (unsigned long long) corr,
                  said, text);
    free (said);
    zx_test_close_frames (frames, count);
}

//  The next REPLY on coord, into frames, past any that only say STARTED
//  (a task that runs a millisecond says so first: a slow build's echo of
//  100 kB may). Returns its frame count.
static size_t
s_expect_reply (void *coord, zmq_msg_t *frames, size_t max)
{
    for (;;) {
        size_t count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, max);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__reply_rec_t rec;
        bool started = count == 3;
        while (started && cursor < end)
            started = zx__batch_next_reply (&cursor, end, &rec) == ZX_OK
                   && rec.status == ZX_STATUS_STARTED;
        if (!started)
            return count;
        zx_test_close_frames (frames, count);
    }
}

static void
test_a_framed_request_is_answered_framed_or_in_the_old_shape_as_asked (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *coord = zx_test_raw_connect (env.broker.endpoint, "framed-coordinator");
    zx_values_t *values;
    size_t size;
    const void *args = s_args (100000, &values, &size);
    //  Framed both ways: the reply's payload is the frame after its batch
    zx__batch_t batch = { 0 };
    s_record (&batch, 1, ZX_FLAG_FRAMED | ZX_FLAG_FRAMED_REPLY, "echo_bytes", NULL, 0);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size));
    zmq_msg_t frames [4];
    size_t count = s_expect_reply (coord, frames, 4);
    assert_int_equal (count, 4);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (rec.status, ZX_STATUS_OK | ZX_STATUS_FRAMED);
    assert_int_equal (rec.payload_size, 0);
    assert_true (zx_test_frame_is (&frames [3], args, size));
    zx_test_close_frames (frames, count);
    //  Framed to the broker only: the reply comes as a peer of version 1
    //  reads it, its payload in its record
    zx__batch_clear (&batch);
    s_record (&batch, 2, ZX_FLAG_FRAMED, "echo_bytes", NULL, 0);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size));
    count = s_expect_reply (coord, frames, 4);
    assert_int_equal (count, 3);
    cursor = zmq_msg_data (&frames [2]);
    end = cursor + zmq_msg_size (&frames [2]);
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.corr, 2);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    assert_int_equal (rec.payload_size, size);
    assert_memory_equal (rec.payload, args, size);
    zx_test_close_frames (frames, count);
    zx__batch_free (&batch);
    zx_values_destroy (&values);
    zx_test_raw_close (&coord);
    zx_test_env_check (&env, "framed requests");
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_malformed_framed_requests_are_refused_with_a_clear_error (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *coord = zx_test_raw_connect (env.broker.endpoint, "framed-coordinator");
    zx_values_t *values;
    size_t size;
    const void *args = s_args (70000, &values, &size);
    zx__batch_t batch = { 0 };
    //  The flag without its frame
    s_record (&batch, 11, ZX_FLAG_FRAMED, "echo_bytes", NULL, 0);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    s_expect_refusal (coord, 11, "marked framed, but no frame after the batch");
    //  A frame without the flag: the record carries its own arguments
    zx__batch_clear (&batch);
    s_record (&batch, 12, 0, "echo_bytes", args, size);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size));
    s_expect_refusal (coord, 12, "a frame after the batch, but no record marked framed");
    //  Two frames after the batch
    zx__batch_clear (&batch);
    s_record (&batch, 13, ZX_FLAG_FRAMED, "echo_bytes", NULL, 0);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size), B (args, size));
    s_expect_refusal (coord, 13, "more than one frame after the batch");
    //  The framed record among others: each of them is refused
    zx__batch_clear (&batch);
    s_record (&batch, 14, ZX_FLAG_FRAMED, "echo_bytes", NULL, 0);
    s_record (&batch, 15, 0, "echo_bytes", args, 10);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size));
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_BAD_REQUEST,
                                             "must be the only record of its batch"), 2);
    zx_test_close_frames (frames, count);
    //  The framed record with arguments of its own as well
    zx__batch_clear (&batch);
    s_record (&batch, 16, ZX_FLAG_FRAMED, "echo_bytes", args, 10);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size),
          B (args, size));
    s_expect_refusal (coord, 16, "must carry nothing in the batch itself");
    //  An empty batch and a frame: nothing to answer, and nothing breaks
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("default"), S (""), B (args, size));
    zx_test_expect_log (env.broker.child->log, "malformed framed REQUEST", "refused", 6);
    zx__batch_free (&batch);
    zx_values_destroy (&values);
    zx_test_raw_close (&coord);
    zx_test_env_check (&env, "malformed framed requests");
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_a_reply_marked_framed_without_its_frame_ends_its_task_with_an_error (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *fake = zx_test_fake_worker (&env.broker, "framed-fake", "framed", 1);
    void *coord = zx_test_raw_connect (env.broker.endpoint, "framed-coordinator");
    zx__batch_t batch = { 0 };
    zx_test_add_request (&batch, 21, "square", 3);
    SEND (coord, S ("ZXC01"), S ("\x02"), S ("framed"), B (batch.data, batch.size));
    uint64_t corr;
    uint32_t attempt;
    zx_test_take_requests (fake, &corr, &attempt, 1);
    zx__batch_clear (&batch);
    assert_int_equal (zx__batch_add_reply (&batch, corr, attempt,
                                           ZX_STATUS_OK | ZX_STATUS_FRAMED, NULL, 0), ZX_OK);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    s_expect_refusal (coord, 21, "unknown reply status");
    zx__batch_free (&batch);
    zx_test_raw_close (&coord);
    zx_test_raw_close (&fake);
    zx_test_env_check (&env, "a reply marked framed without its frame");
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_framed_request_is_answered_framed_or_in_the_old_shape_as_asked),
    cmocka_unit_test (test_malformed_framed_requests_are_refused_with_a_clear_error),
    cmocka_unit_test (test_a_reply_marked_framed_without_its_frame_ends_its_task_with_an_error),
};

ZX_TEST_RAW_MAIN (tests)
