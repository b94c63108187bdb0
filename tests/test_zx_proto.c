/*  test_zx_proto.c - the codec's records and batches: they round trip,
    the encoder's limits, the byte layout, statuses, and sending frames.
    (See test_zx_proto_batch_decode.c for the batch decoder given
    malformed and random bytes; the ctest entries of both are
    test_zx_proto.*. test_zx_proto_msg.c and test_zx_proto_decode.c pin
    the messages.)

    DESIGN: each test pins one rule of docs/PROTOCOL.md as the codec in
    broker/zx_proto.c implements it. Every buffer handed to a decoder is a
    heap copy of exactly the bytes under test (zx_test_heap_copy), so under
    AddressSanitizer (ZEXEC_SANITIZE=ON) a read one byte past the end fails
    the test.                                                             */
#include "testutil.h"
#include "zx_proto.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  --------------------------------------------------------------------
//  Round trips

static void
test_request_batch_round_trips_several_records (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    const uint8_t args1 [] = { 'i', 1, 0, 0, 0, 0, 0, 0, 0 };
    const uint8_t args3 [] = { 'n', 'n' };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "blocks", 6,
                                             args1, sizeof args1), ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 2, 3, 0x80, "x", 1, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, UINT64_MAX - 1, UINT32_MAX, 0xFF,
                                             "sum.all", 7, args3, sizeof args3), ZX_OK);
    assert_int_equal (batch.records, 3);
    assert_int_equal (batch.size, 3 * (4 + ZX_REQUEST_FIXED) + 6 + sizeof args1
                                  + 1 + 7 + sizeof args3);

    uint8_t *copy = zx_test_heap_copy (batch.data, batch.size);
    const uint8_t *cursor = copy, *end = copy + batch.size;
    zx__request_rec_t rec;

    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 1);
    assert_int_equal (rec.attempt, 1);
    assert_int_equal (rec.flags, 0);
    assert_int_equal (rec.name_len, 6);
    assert_memory_equal (rec.name, "blocks", 6);
    assert_int_equal (rec.args_size, sizeof args1);
    assert_memory_equal (rec.args, args1, sizeof args1);

    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 2);
    assert_int_equal (rec.attempt, 3);
    assert_int_equal (rec.flags, 0x80);
    assert_int_equal (rec.name_len, 1);
    assert_memory_equal (rec.name, "x", 1);
    assert_int_equal (rec.args_size, 0);

    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == UINT64_MAX - 1);
    assert_true (rec.attempt == UINT32_MAX);
    assert_int_equal (rec.flags, 0xFF);
    assert_memory_equal (rec.name, "sum.all", 7);
    assert_int_equal (rec.args_size, sizeof args3);
    assert_memory_equal (rec.args, args3, sizeof args3);

    assert_ptr_equal (cursor, end);
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_EPENDING);
    assert_ptr_equal (cursor, end);
    free (copy);
    zx__batch_free (&batch);
}

static void
test_reply_batch_round_trips_several_records (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    const uint8_t result [] = { 's', 3, 0, 0, 0, 'a', 'b', 'c', 0 };
    const char *text = "task 'blocks' failed";
    assert_int_equal (zx__batch_add_reply (&batch, 10, 1, ZX_STATUS_OK,
                                           result, sizeof result), ZX_OK);
    assert_int_equal (zx__batch_add_reply (&batch, 11, 2, ZX_STATUS_TASK_ERROR,
                                           text, strlen (text)), ZX_OK);
    assert_int_equal (zx__batch_add_reply (&batch, 12, 1, ZX_STATUS_CANCELLED, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_reply (&batch, UINT64_MAX, UINT32_MAX, 0xFF, NULL, 0), ZX_OK);
    assert_int_equal (batch.records, 4);
    assert_int_equal (batch.size, 4 * (4 + ZX_REPLY_FIXED) + sizeof result + strlen (text));

    uint8_t *copy = zx_test_heap_copy (batch.data, batch.size);
    const uint8_t *cursor = copy, *end = copy + batch.size;
    zx__reply_rec_t rec;

    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 10);
    assert_int_equal (rec.attempt, 1);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    assert_int_equal (rec.payload_size, sizeof result);
    assert_memory_equal (rec.payload, result, sizeof result);

    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 11);
    assert_int_equal (rec.attempt, 2);
    assert_int_equal (rec.status, ZX_STATUS_TASK_ERROR);
    assert_int_equal (rec.payload_size, strlen (text));
    assert_memory_equal (rec.payload, text, strlen (text));

    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 12);
    assert_int_equal (rec.status, ZX_STATUS_CANCELLED);
    assert_int_equal (rec.payload_size, 0);

    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == UINT64_MAX);
    assert_true (rec.attempt == UINT32_MAX);
    assert_int_equal (rec.status, 0xFF);

    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_EPENDING);
    free (copy);
    zx__batch_free (&batch);
}

static void
test_request_with_empty_args_round_trips (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 5, 1, 0, "noargs", 6, NULL, 0), ZX_OK);
    assert_int_equal (batch.size, 4 + ZX_REQUEST_FIXED + 6);
    assert_int_equal (zx__get_u32 (batch.data), ZX_REQUEST_FIXED + 6);

    uint8_t *copy = zx_test_heap_copy (batch.data, batch.size);
    const uint8_t *cursor = copy, *end = copy + batch.size;
    zx__request_rec_t rec;
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_memory_equal (rec.name, "noargs", 6);
    assert_int_equal (rec.args_size, 0);
    assert_ptr_equal (rec.args, end);
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_EPENDING);
    free (copy);
    zx__batch_free (&batch);
}

static void
test_reply_with_empty_payload_round_trips (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_reply (&batch, 9, 1, ZX_STATUS_OK, NULL, 0), ZX_OK);
    assert_int_equal (batch.size, 4 + ZX_REPLY_FIXED);

    uint8_t *copy = zx_test_heap_copy (batch.data, batch.size);
    const uint8_t *cursor = copy, *end = copy + batch.size;
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 9);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    assert_int_equal (rec.payload_size, 0);
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_EPENDING);
    free (copy);
    zx__batch_free (&batch);
}

static void
test_empty_batch_decodes_to_no_records (void **state)
{
    (void) state;
    uint8_t *copy = zx_test_heap_copy (NULL, 0);
    const uint8_t *cursor = copy;
    zx__request_rec_t request;
    zx__reply_rec_t reply;
    assert_int_equal (zx__batch_next_request (&cursor, copy, &request), ZX_EPENDING);
    assert_int_equal (zx__batch_next_reply (&cursor, copy, &reply), ZX_EPENDING);
    assert_ptr_equal (cursor, copy);
    free (copy);
}

static void
test_batch_grows_and_clear_keeps_its_memory (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    uint8_t args [1000];
    for (size_t i = 0; i < sizeof args; i++)
        args [i] = (uint8_t) i;
    for (uint64_t corr = 1; corr <= 100; corr++)
        assert_int_equal (zx__batch_add_request (&batch, corr, 1, 0, "t", 1,
                                                 args, (size_t) corr * 10), ZX_OK);
    assert_int_equal (batch.records, 100);
    assert_true (batch.cap >= batch.size);

    const uint8_t *cursor = batch.data, *end = batch.data + batch.size;
    zx__request_rec_t rec;
    for (uint64_t corr = 1; corr <= 100; corr++) {
        assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
        assert_true (rec.corr == corr);
        assert_int_equal (rec.args_size, corr * 10);
        assert_memory_equal (rec.args, args, rec.args_size);
    }
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_EPENDING);

    uint8_t *data = batch.data;
    size_t cap = batch.cap;
    zx__batch_clear (&batch);
    assert_int_equal (batch.size, 0);
    assert_int_equal (batch.records, 0);
    assert_ptr_equal (batch.data, data);
    assert_int_equal (batch.cap, cap);

    zx__batch_free (&batch);
    assert_null (batch.data);
    assert_int_equal (batch.cap, 0);
    assert_int_equal (batch.size, 0);
    assert_int_equal (batch.records, 0);
    zx__batch_free (&batch);            //  A freed batch may be freed again
}

//  --------------------------------------------------------------------
//  The encoder's limits

static void
test_encoder_accepts_a_255_byte_name (void **state)
{
    (void) state;
    char name [255];
    memset (name, 'n', sizeof name);
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, name, 255, "n", 1), ZX_OK);
    assert_int_equal (batch.data [17], 255);

    const uint8_t *cursor = batch.data, *end = batch.data + batch.size;
    zx__request_rec_t rec;
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.name_len, 255);
    assert_memory_equal (rec.name, name, 255);
    assert_int_equal (rec.args_size, 1);
    zx__batch_free (&batch);
}

static void
test_encoder_rejects_a_256_byte_name (void **state)
{
    (void) state;
    char name [256];
    memset (name, 'n', sizeof name);
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, name, 256, NULL, 0), ZX_EINVAL);
    assert_int_equal (batch.size, 0);
    assert_int_equal (batch.records, 0);
    zx__batch_free (&batch);
}

static void
test_encoder_rejects_an_empty_or_null_name (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "task", 0, NULL, 0), ZX_EINVAL);
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, NULL, 4, NULL, 0), ZX_EINVAL);
    assert_int_equal (batch.size, 0);
    assert_int_equal (batch.records, 0);
    zx__batch_free (&batch);
}

static void
test_encoder_rejects_a_name_its_decoder_would_reject (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "a\0b", 3, NULL, 0), ZX_EINVAL);
    assert_int_equal (batch.size, 0);
    zx__batch_free (&batch);
}

static void
test_encoder_rejects_records_too_large_for_the_size_prefix (void **state)
{
    (void) state;
    //  The sizes are refused before anything is read from args, so a one
    //  byte buffer is enough; SIZE_MAX - 5 used to wrap the size sum
    uint8_t one = 0;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "t", 1, &one,
                                             (size_t) UINT32_MAX), ZX_EINVAL);
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "t", 1, &one,
                                             (size_t) UINT32_MAX - ZX_REQUEST_FIXED), ZX_EINVAL);
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "t", 1, &one,
                                             SIZE_MAX - 5), ZX_EINVAL);
    assert_int_equal (zx__batch_add_reply (&batch, 1, 1, 0, &one,
                                           (size_t) UINT32_MAX - ZX_REPLY_FIXED + 1), ZX_EINVAL);
    assert_int_equal (zx__batch_add_reply (&batch, 1, 1, 0, &one, SIZE_MAX - 5), ZX_EINVAL);
    assert_int_equal (batch.size, 0);
    assert_int_equal (batch.records, 0);
    zx__batch_free (&batch);
}

//  --------------------------------------------------------------------
//  Byte layout

static void
test_little_endian_helpers_put_the_low_byte_first (void **state)
{
    (void) state;
    uint8_t out [8];
    zx__put_u32 (out, 0x01020304u);
    const uint8_t want32 [] = { 0x04, 0x03, 0x02, 0x01 };
    assert_memory_equal (out, want32, 4);
    assert_int_equal (zx__get_u32 (want32), 0x01020304u);

    zx__put_u64 (out, 0x0102030405060708ull);
    const uint8_t want64 [] = { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
    assert_memory_equal (out, want64, 8);
    assert_true (zx__get_u64 (want64) == 0x0102030405060708ull);

    const uint8_t high [] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert_true (zx__get_u32 (high) == UINT32_MAX);
    assert_true (zx__get_u64 (high) == UINT64_MAX);
    zx__put_u32 (out, 0);
    assert_int_equal (zx__get_u32 (out), 0);

    //  The helpers touch exactly 4 or 8 bytes, at any alignment
    uint8_t wide [12];
    memset (wide, 0xAA, sizeof wide);
    zx__put_u32 (wide + 1, 0x11223344u);
    assert_int_equal (wide [0], 0xAA);
    assert_int_equal (wide [5], 0xAA);
    assert_int_equal (zx__get_u32 (wide + 1), 0x11223344u);
    memset (wide, 0xAA, sizeof wide);
    zx__put_u64 (wide + 3, 0x1122334455667788ull);
    assert_int_equal (wide [2], 0xAA);
    assert_int_equal (wide [11], 0xAA);
    assert_true (zx__get_u64 (wide + 3) == 0x1122334455667788ull);
}

static void
test_request_record_has_the_specified_byte_layout (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    const uint8_t args [] = { 'n' };
    assert_int_equal (zx__batch_add_request (&batch, 0x0102030405060708ull, 0x0A0B0C0Du,
                                             0x5A, "ab", 2, args, 1), ZX_OK);
    const uint8_t want [] = {
        0x11, 0x00, 0x00, 0x00,                             //  size 17 = 14 + 2 + 1
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,     //  corr
        0x0D, 0x0C, 0x0B, 0x0A,                             //  attempt
        0x5A,                                               //  flags
        0x02,                                               //  name length
        'a', 'b',                                           //  name
        'n'                                                 //  args
    };
    assert_int_equal (batch.size, sizeof want);
    assert_memory_equal (batch.data, want, sizeof want);
    zx__batch_free (&batch);
}

static void
test_reply_record_has_the_specified_byte_layout (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_reply (&batch, 0x0102030405060708ull, 0x0A0B0C0Du,
                                           ZX_STATUS_NO_SUCH_TASK, "no", 2), ZX_OK);
    const uint8_t want [] = {
        0x0F, 0x00, 0x00, 0x00,                             //  size 15 = 13 + 2
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,     //  corr
        0x0D, 0x0C, 0x0B, 0x0A,                             //  attempt
        0x05,                                               //  status
        'n', 'o'                                            //  payload
    };
    assert_int_equal (batch.size, sizeof want);
    assert_memory_equal (batch.data, want, sizeof want);
    zx__batch_free (&batch);
}

static void
test_protocol_constants_match_the_specification (void **state)
{
    (void) state;
    assert_int_equal (ZX_PROTO_WORKER_LEN, 5);
    assert_memory_equal (ZX_PROTO_WORKER, "ZXW01", 5);
    assert_int_equal (ZX_CMD_READY, 0x01);
    assert_int_equal (ZX_CMD_REQUEST, 0x02);
    assert_int_equal (ZX_CMD_REPLY, 0x03);
    assert_int_equal (ZX_CMD_HEARTBEAT, 0x04);
    assert_int_equal (ZX_CMD_DISCONNECT, 0x05);
    assert_int_equal (ZX_CMD_CANCEL, 0x06);
    assert_int_equal (ZX_READY_INFO_SIZE, 16);
    assert_int_equal (ZX_READY_INFO_SIZE_V0, 12);
    assert_int_equal (ZX_REQUEST_FIXED, 14);
    assert_int_equal (ZX_REPLY_FIXED, 13);
    assert_int_equal (ZX_BYE_NORMAL, 0);
    assert_int_equal (ZX_BYE_RETIRING, 1);
    assert_int_equal (ZX_BYE_INIT_FAILED, 2);
    assert_int_equal (ZX_BYE_PROTOCOL, 3);
}

//  --------------------------------------------------------------------
//  Statuses

static void
test_every_status_round_trips_through_its_error_code (void **state)
{
    (void) state;
    const struct { uint8_t status; zx_err_t code; } table [] = {
        { ZX_STATUS_OK,           ZX_OK },
        { ZX_STATUS_TASK_ERROR,   ZX_ETASK },
        { ZX_STATUS_CANCELLED,    ZX_ECANCELLED },
        { ZX_STATUS_WORKER_LOST,  ZX_EWORKER_LOST },
        { ZX_STATUS_TIMED_OUT,    ZX_ETIMEDOUT },
        { ZX_STATUS_NO_SUCH_TASK, ZX_ENOTASK },
        { ZX_STATUS_TYPE_ERROR,   ZX_ETYPE },
        { ZX_STATUS_BAD_REQUEST,  ZX_EPROTO },
        { ZX_STATUS_NO_WORKERS,   ZX_ENOWORKERS },
        { ZX_STATUS_QUEUE_FULL,   ZX_EQUEUE_FULL },
        { ZX_STATUS_SHUTDOWN,     ZX_ESHUTDOWN },
    };
    for (size_t i = 0; i < sizeof table / sizeof table [0]; i++) {
        assert_int_equal (table [i].status, i);
        assert_int_equal (zx__status_to_err (table [i].status), table [i].code);
        assert_int_equal (zx__status_from_err (table [i].code), table [i].status);
        assert_int_equal (zx__status_from_err (zx__status_to_err (table [i].status)),
                          table [i].status);
    }
}

static void
test_unknown_status_maps_to_eproto (void **state)
{
    (void) state;
    for (unsigned status = ZX_STATUS_SHUTDOWN + 1; status <= 255; status++)
        assert_int_equal (zx__status_to_err ((uint8_t) status), ZX_EPROTO);
}

static void
test_other_error_codes_travel_as_task_errors (void **state)
{
    (void) state;
    const zx_err_t others [] = { ZX_EINVAL, ZX_ENOMEM, ZX_ETASK,
                                 ZX_EPENDING, ZX_EBUSY, ZX_ESYS,
                                 ZX_EWORKER_INIT };
    for (size_t i = 0; i < sizeof others / sizeof others [0]; i++) {
        assert_int_equal (zx__status_from_err (others [i]), ZX_STATUS_TASK_ERROR);
        assert_int_equal (zx__status_to_err (zx__status_from_err (others [i])), ZX_ETASK);
    }
}

//  --------------------------------------------------------------------
//  Sending frames

static void
test_send_frames_sends_one_multipart_message (void **state)
{
    (void) state;
    void *context = zmq_ctx_new ();
    assert_non_null (context);
    void *sender = zmq_socket (context, ZMQ_PAIR);
    void *receiver = zmq_socket (context, ZMQ_PAIR);
    assert_int_equal (zmq_bind (receiver, "inproc://test-zx-proto-send"), 0);
    assert_int_equal (zmq_connect (sender, "inproc://test-zx-proto-send"), 0);

    uint8_t command = ZX_CMD_HEARTBEAT;
    const void *frames [] = { ZX_PROTO_WORKER, &command, "" };
    size_t sizes [] = { ZX_PROTO_WORKER_LEN, 1, 0 };
    assert_int_equal (zx__send_frames (sender, frames, sizes, 3, 0), ZX_OK);

    uint8_t buffer [16];
    int more = 0;
    size_t more_size = sizeof more;
    assert_int_equal (zmq_recv (receiver, buffer, sizeof buffer, 0), 5);
    assert_memory_equal (buffer, "ZXW01", 5);
    zmq_getsockopt (receiver, ZMQ_RCVMORE, &more, &more_size);
    assert_true (more);
    assert_int_equal (zmq_recv (receiver, buffer, sizeof buffer, 0), 1);
    assert_int_equal (buffer [0], ZX_CMD_HEARTBEAT);
    zmq_getsockopt (receiver, ZMQ_RCVMORE, &more, &more_size);
    assert_true (more);
    assert_int_equal (zmq_recv (receiver, buffer, sizeof buffer, 0), 0);
    zmq_getsockopt (receiver, ZMQ_RCVMORE, &more, &more_size);
    assert_false (more);

    zmq_close (sender);
    zmq_close (receiver);
    zmq_ctx_term (context);
}

static void
test_send_frames_to_an_unknown_router_peer_fails_with_ehostunreach (void **state)
{
    (void) state;
    void *context = zmq_ctx_new ();
    assert_non_null (context);
    void *router = zmq_socket (context, ZMQ_ROUTER);
    int mandatory = 1;
    zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    uint8_t command = ZX_CMD_DISCONNECT;
    uint8_t reason = ZX_BYE_NORMAL;
    const void *frames [] = { "nobody", ZX_PROTO_WORKER, &command, &reason };
    size_t sizes [] = { 6, ZX_PROTO_WORKER_LEN, 1, 1 };
    errno = 0;
    assert_int_equal (zx__send_frames (router, frames, sizes, 4, ZMQ_DONTWAIT), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    zmq_close (router);
    zmq_ctx_term (context);
}

//  An error payload is the message, a NUL, then the details: a receiver
//  that cuts at the first NUL sees the message alone.
static void
test_error_details_follow_the_message_and_read_back (void **state)
{
    (void) state;
    zx__error_detail_t detail = { "crunch", "box", 4242, "ThreadPoolExecutor-1_0", "tasks.c:17" };
    size_t size = 0;
    char *payload = zx__error_payload ("it broke", &detail, &size);
    assert_non_null (payload);
    assert_string_equal (payload, "it broke");
    assert_true (size > strlen ("it broke") + 1);
    zx__error_detail_t back;
    assert_true (zx__error_detail_read (payload, size, &back));
    assert_string_equal (back.task, "crunch");
    assert_string_equal (back.host, "box");
    assert_int_equal (back.pid, 4242);
    assert_string_equal (back.thread, "ThreadPoolExecutor-1_0");
    assert_string_equal (back.where, "tasks.c:17");
    free (payload);
    //  Unknown fields are left out
    payload = zx__error_payload ("x", &(zx__error_detail_t) { .task = "t" }, &size);
    assert_true (zx__error_detail_read (payload, size, &back));
    assert_string_equal (back.task, "t");
    assert_null (back.host);
    assert_int_equal (back.pid, 0);
    assert_null (back.where);
    free (payload);
    //  A plain message has none
    assert_false (zx__error_detail_read ("plain", 5, &back));
}

static void
test_error_details_unterminated_or_unknown_are_skipped (void **state)
{
    (void) state;
    zx__error_detail_t back;
    static const char hostile [] = "msg\0colour=red\0noequals\0task=t\0host=unterminated";
    uint8_t *copy = zx_test_heap_copy (hostile, sizeof hostile - 1);
    assert_true (zx__error_detail_read (copy, sizeof hostile - 1, &back));
    assert_string_equal (back.task, "t");
    assert_null (back.host);
    free (copy);
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_request_batch_round_trips_several_records),
    cmocka_unit_test (test_reply_batch_round_trips_several_records),
    cmocka_unit_test (test_request_with_empty_args_round_trips),
    cmocka_unit_test (test_reply_with_empty_payload_round_trips),
    cmocka_unit_test (test_empty_batch_decodes_to_no_records),
    cmocka_unit_test (test_batch_grows_and_clear_keeps_its_memory),
    cmocka_unit_test (test_encoder_accepts_a_255_byte_name),
    cmocka_unit_test (test_encoder_rejects_a_256_byte_name),
    cmocka_unit_test (test_encoder_rejects_an_empty_or_null_name),
    cmocka_unit_test (test_encoder_rejects_a_name_its_decoder_would_reject),
    cmocka_unit_test (test_encoder_rejects_records_too_large_for_the_size_prefix),
    cmocka_unit_test (test_little_endian_helpers_put_the_low_byte_first),
    cmocka_unit_test (test_request_record_has_the_specified_byte_layout),
    cmocka_unit_test (test_reply_record_has_the_specified_byte_layout),
    cmocka_unit_test (test_protocol_constants_match_the_specification),
    cmocka_unit_test (test_every_status_round_trips_through_its_error_code),
    cmocka_unit_test (test_unknown_status_maps_to_eproto),
    cmocka_unit_test (test_other_error_codes_travel_as_task_errors),
    cmocka_unit_test (test_error_details_follow_the_message_and_read_back),
    cmocka_unit_test (test_error_details_unterminated_or_unknown_are_skipped),
    cmocka_unit_test (test_send_frames_sends_one_multipart_message),
    cmocka_unit_test (test_send_frames_to_an_unknown_router_peer_fails_with_ehostunreach),
};

ZX_TEST_MAIN (tests)
