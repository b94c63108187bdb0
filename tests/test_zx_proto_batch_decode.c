/*  test_zx_proto_batch_decode.c - the batch decoder given what a hostile
    peer may send: malformed records it must refuse, and seeded fuzz loops
    (every prefix of a valid batch, then random byte flips, then random
    bytes) it must survive, decoding without reading out of bounds, in a
    bounded number of steps, to records that lie inside the buffer. (See
    test_zx_proto.c; the ctest entries of both are test_zx_proto.*.
    test_zx_proto_decode.c is the message decoder's.)

    DESIGN: every buffer handed to the decoder is a heap copy of exactly
    the bytes under test (zx_test_heap_copy), so under AddressSanitizer
    (ZEXEC_SANITIZE=ON) a read one byte past the end fails the test.    */
#include "testutil.h"
#include "zx_proto.h"
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------
//  Helpers

//  Decodes the single request record in data (size bytes, copied to the
//  heap first) and returns the decoder's code.
static zx_err_t
s_decode_one_request (const uint8_t *data, size_t size)
{
    uint8_t *copy = zx_test_heap_copy (data, size);
    const uint8_t *cursor = copy;
    zx__request_rec_t rec;
    zx_err_t rc = zx__batch_next_request (&cursor, copy + size, &rec);
    free (copy);
    return rc;
}

static zx_err_t
s_decode_one_reply (const uint8_t *data, size_t size)
{
    uint8_t *copy = zx_test_heap_copy (data, size);
    const uint8_t *cursor = copy;
    zx__reply_rec_t rec;
    zx_err_t rc = zx__batch_next_reply (&cursor, copy + size, &rec);
    free (copy);
    return rc;
}

//  Writes a request record by hand: size | corr | attempt | flags |
//  name_len | name | args. Returns the bytes written.
static size_t
s_hand_request (uint8_t *out, uint32_t size, uint8_t name_len,
                const char *name, size_t name_bytes)
{
    zx__put_u32 (out, size);
    zx__put_u64 (out + 4, 7);
    zx__put_u32 (out + 12, 1);
    out [16] = 0;
    out [17] = name_len;
    memcpy (out + 18, name, name_bytes);
    return 18 + name_bytes;
}

//  A small seeded generator, so a failing run repeats exactly.
static uint64_t
s_random (uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

//  --------------------------------------------------------------------
//  The decoder refuses malformed records

static void
test_decoder_rejects_a_truncated_size_prefix (void **state)
{
    (void) state;
    const uint8_t bytes [] = { 0x0E, 0x00, 0x00 };
    for (size_t size = 1; size <= sizeof bytes; size++) {
        assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
        assert_int_equal (s_decode_one_reply (bytes, size), ZX_EPROTO);
    }
}

static void
test_decoder_rejects_a_size_past_the_end (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "task", 4, "n", 1), ZX_OK);
    //  The record claims one byte more than the frame holds
    zx__put_u32 (batch.data, zx__get_u32 (batch.data) + 1);
    assert_int_equal (s_decode_one_request (batch.data, batch.size), ZX_EPROTO);
    //  And a size near 2^32 must not wrap any sum
    zx__put_u32 (batch.data, UINT32_MAX);
    assert_int_equal (s_decode_one_request (batch.data, batch.size), ZX_EPROTO);
    zx__put_u32 (batch.data, UINT32_MAX - 3);
    assert_int_equal (s_decode_one_request (batch.data, batch.size), ZX_EPROTO);
    zx__batch_free (&batch);

    assert_int_equal (zx__batch_add_reply (&batch, 1, 1, 0, "ok", 2), ZX_OK);
    zx__put_u32 (batch.data, zx__get_u32 (batch.data) + 1);
    assert_int_equal (s_decode_one_reply (batch.data, batch.size), ZX_EPROTO);
    zx__put_u32 (batch.data, UINT32_MAX);
    assert_int_equal (s_decode_one_reply (batch.data, batch.size), ZX_EPROTO);
    zx__batch_free (&batch);
}

static void
test_decoder_rejects_a_record_shorter_than_the_fixed_part (void **state)
{
    (void) state;
    uint8_t bytes [4 + ZX_REQUEST_FIXED];
    memset (bytes, 0, sizeof bytes);
    //  A size of 0 up to one short of the fixed part, the bytes all there
    for (uint32_t size = 0; size < ZX_REQUEST_FIXED; size++) {
        zx__put_u32 (bytes, size);
        assert_int_equal (s_decode_one_request (bytes, 4 + size), ZX_EPROTO);
    }
    for (uint32_t size = 0; size < ZX_REPLY_FIXED; size++) {
        zx__put_u32 (bytes, size);
        assert_int_equal (s_decode_one_reply (bytes, 4 + size), ZX_EPROTO);
    }
    //  Exactly the fixed part is a whole reply with an empty payload
    zx__put_u32 (bytes, ZX_REPLY_FIXED);
    assert_int_equal (s_decode_one_reply (bytes, 4 + ZX_REPLY_FIXED), ZX_OK);
}

static void
test_decoder_rejects_a_zero_name_length (void **state)
{
    (void) state;
    uint8_t bytes [32];
    size_t size = s_hand_request (bytes, ZX_REQUEST_FIXED + 1, 0, "n", 1);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
    size = s_hand_request (bytes, ZX_REQUEST_FIXED, 0, "", 0);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
}

static void
test_decoder_rejects_a_name_longer_than_the_record (void **state)
{
    (void) state;
    uint8_t bytes [64];
    //  name_len 5, but the record holds 4 bytes after its fixed part
    size_t size = s_hand_request (bytes, ZX_REQUEST_FIXED + 4, 5, "task", 4);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
    //  Even when more bytes follow in the frame (the next record's)
    memcpy (bytes + size, "xxxxxxxx", 8);
    assert_int_equal (s_decode_one_request (bytes, size + 8), ZX_EPROTO);
    //  The same name length with the bytes inside the record decodes
    size = s_hand_request (bytes, ZX_REQUEST_FIXED + 5, 5, "tasks", 5);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_OK);
}

static void
test_decoder_rejects_a_name_containing_a_nul (void **state)
{
    (void) state;
    uint8_t bytes [32];
    size_t size = s_hand_request (bytes, ZX_REQUEST_FIXED + 3, 3, "a\0b", 3);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
    size = s_hand_request (bytes, ZX_REQUEST_FIXED + 3, 3, "ab\0", 3);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
    size = s_hand_request (bytes, ZX_REQUEST_FIXED + 1, 1, "\0", 1);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_EPROTO);
    //  A NUL in the arguments after the name is not the name's business
    size = s_hand_request (bytes, ZX_REQUEST_FIXED + 3, 2, "ab\0", 3);
    assert_int_equal (s_decode_one_request (bytes, size), ZX_OK);
}

static void
test_decoder_returns_the_records_before_a_malformed_one (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "good", 4, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 2, 1, 0, "bad", 3, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 3, 1, 0, "after", 5, NULL, 0), ZX_OK);
    //  Zero the second record's name length
    batch.data [4 + ZX_REQUEST_FIXED + 4 + 17] = 0;
    uint8_t *copy = zx_test_heap_copy (batch.data, batch.size);
    const uint8_t *cursor = copy, *end = copy + batch.size;
    zx__request_rec_t rec;
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_OK);
    assert_true (rec.corr == 1);
    assert_int_equal (zx__batch_next_request (&cursor, end, &rec), ZX_EPROTO);
    free (copy);
    zx__batch_free (&batch);
}

static void
test_decoder_leaves_the_status_byte_to_the_caller (void **state)
{
    (void) state;
    //  Any status byte decodes; mapping it is zx__status_to_err's job
    for (unsigned status = 0; status <= 255; status++) {
        zx__batch_t batch = { 0 };
        assert_int_equal (zx__batch_add_reply (&batch, 1, 1, (uint8_t) status, NULL, 0), ZX_OK);
        const uint8_t *cursor = batch.data;
        zx__reply_rec_t rec;
        assert_int_equal (zx__batch_next_reply (&cursor, batch.data + batch.size, &rec), ZX_OK);
        assert_int_equal (rec.status, status);
        zx__batch_free (&batch);
    }
}

//  --------------------------------------------------------------------
//  Fuzzing the decoders

//  Builds the batch the fuzz loops start from: records of every shape.
static void
s_fuzz_requests (zx__batch_t *batch)
{
    char long_name [255];
    memset (long_name, 'L', sizeof long_name);
    const uint8_t args [] = { 'i', 1, 2, 3, 4, 5, 6, 7, 8, 's', 1, 0, 0, 0, 'x', 0 };
    assert_int_equal (zx__batch_add_request (batch, 1, 1, 0, "blocks", 6, args, sizeof args), ZX_OK);
    assert_int_equal (zx__batch_add_request (batch, 2, 1, 0, "t", 1, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_request (batch, 3, 2, 1, long_name, 255, args, 3), ZX_OK);
    assert_int_equal (zx__batch_add_request (batch, 4, 1, 0, "z", 1, "n", 1), ZX_OK);
}

static void
s_fuzz_replies (zx__batch_t *batch)
{
    const uint8_t result [] = { 'd', 0, 0, 0, 0, 0, 0, 0xF0, 0x3F };
    assert_int_equal (zx__batch_add_reply (batch, 1, 1, ZX_STATUS_OK, result, sizeof result), ZX_OK);
    assert_int_equal (zx__batch_add_reply (batch, 2, 1, ZX_STATUS_CANCELLED, NULL, 0), ZX_OK);
    assert_int_equal (zx__batch_add_reply (batch, 3, 1, ZX_STATUS_TASK_ERROR, "boom", 4), ZX_OK);
}

//  Decodes every record of data (size bytes, a heap copy of exactly that
//  size) as requests, checking each lies inside the buffer and that the
//  walk ends. Returns the number of records decoded; *last gets the code
//  that ended the walk.
static size_t
s_walk_requests (const uint8_t *data, size_t size, zx_err_t *last)
{
    const uint8_t *cursor = data, *end = data + size;
    zx__request_rec_t rec;
    size_t count = 0;
    //  Each record takes at least 4 + ZX_REQUEST_FIXED + 1 bytes
    size_t bound = size / (4 + ZX_REQUEST_FIXED + 1) + 1;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        assert_true (++count <= bound);
        assert_true (cursor > data && cursor <= end);
        assert_true (rec.name_len >= 1);
        assert_true ((const uint8_t *) rec.name >= data);
        assert_true ((const uint8_t *) rec.name + rec.name_len <= cursor);
        assert_null (memchr (rec.name, 0, rec.name_len));
        assert_ptr_equal (rec.args, (const uint8_t *) rec.name + rec.name_len);
        assert_ptr_equal (rec.args + rec.args_size, cursor);
    }
    assert_true (rc == ZX_EPENDING || rc == ZX_EPROTO);
    assert_true (cursor >= data && cursor <= end);
    if (rc == ZX_EPENDING)
        assert_ptr_equal (cursor, end);
    *last = rc;
    return count;
}

static size_t
s_walk_replies (const uint8_t *data, size_t size, zx_err_t *last)
{
    const uint8_t *cursor = data, *end = data + size;
    zx__reply_rec_t rec;
    size_t count = 0;
    size_t bound = size / (4 + ZX_REPLY_FIXED) + 1;
    zx_err_t rc;
    while ((rc = zx__batch_next_reply (&cursor, end, &rec)) == ZX_OK) {
        assert_true (++count <= bound);
        assert_true (cursor > data && cursor <= end);
        assert_true (rec.payload >= data);
        assert_ptr_equal (rec.payload + rec.payload_size, cursor);
    }
    assert_true (rc == ZX_EPENDING || rc == ZX_EPROTO);
    assert_true (cursor >= data && cursor <= end);
    if (rc == ZX_EPENDING)
        assert_ptr_equal (cursor, end);
    *last = rc;
    return count;
}

typedef size_t (s_walk_fn) (const uint8_t *data, size_t size, zx_err_t *last);

//  Every prefix of a valid batch decodes to exactly the records wholly
//  inside it, then ends with ZX_EPENDING on a record boundary and
//  ZX_EPROTO inside a record.
static void
s_check_prefixes (const zx__batch_t *batch, s_walk_fn *walk)
{
    for (size_t length = 0; length <= batch->size; length++) {
        size_t whole = 0, at = 0;
        bool boundary = length == 0;
        while (at + 4 <= batch->size) {
            size_t next = at + 4 + zx__get_u32 (batch->data + at);
            if (next > length)
                break;
            whole++;
            at = next;
            if (at == length)
                boundary = true;
        }
        uint8_t *copy = zx_test_heap_copy (batch->data, length);
        zx_err_t last;
        assert_int_equal (walk (copy, length, &last), whole);
        assert_int_equal (last, boundary ? ZX_EPENDING : ZX_EPROTO);
        free (copy);
    }
}

//  Random flips (and cuts) of a valid batch never make the decoder read
//  outside the buffer or loop without end.
static void
s_check_flips (const zx__batch_t *batch, s_walk_fn *walk, uint64_t seed)
{
    size_t decoded = 0, rejected = 0;
    uint8_t *work = zx_test_heap_copy (batch->data, batch->size);
    for (int round = 0; round < 20000; round++) {
        memcpy (work, batch->data, batch->size);
        int flips = 1 + (int) (s_random (&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t) (s_random (&seed) % batch->size);
            switch (s_random (&seed) % 3) {
                case 0:  work [at] ^= (uint8_t) (1u << (s_random (&seed) % 8)); break;
                case 1:  work [at] = (uint8_t) s_random (&seed); break;
                default: work [at] = (uint8_t) (s_random (&seed) % 2 ? 0xFF : 0x00);
            }
        }
        size_t length = round % 2 ? (size_t) (s_random (&seed) % (batch->size + 1))
                                  : batch->size;
        uint8_t *copy = zx_test_heap_copy (work, length);
        zx_err_t last;
        decoded += walk (copy, length, &last);
        rejected += last == ZX_EPROTO;
        free (copy);
    }
    free (work);
    //  The mutations exercised both outcomes
    assert_true (decoded > 0);
    assert_true (rejected > 0);
}

static void
test_request_decoder_survives_every_prefix_and_random_flips (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    s_fuzz_requests (&batch);
    s_check_prefixes (&batch, s_walk_requests);
    s_check_flips (&batch, s_walk_requests, 0x9E3779B97F4A7C15ull);
    zx__batch_free (&batch);
}

static void
test_reply_decoder_survives_every_prefix_and_random_flips (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    s_fuzz_replies (&batch);
    s_check_prefixes (&batch, s_walk_replies);
    s_check_flips (&batch, s_walk_replies, 0xD1B54A32D192ED03ull);
    zx__batch_free (&batch);
}

static void
test_decoders_survive_random_bytes (void **state)
{
    (void) state;
    uint64_t seed = 0xA0761D6478BD642Full;
    for (int round = 0; round < 20000; round++) {
        size_t length = (size_t) (s_random (&seed) % 96);
        uint8_t *copy = zx_test_heap_copy (NULL, length);
        for (size_t i = 0; i < length; i++)
            copy [i] = (uint8_t) s_random (&seed);
        //  Small sizes now and then, so some records are plausible
        if (length >= 4 && s_random (&seed) % 2)
            zx__put_u32 (copy, (uint32_t) (s_random (&seed) % (length + 1)));
        zx_err_t last;
        s_walk_requests (copy, length, &last);
        s_walk_replies (copy, length, &last);
        free (copy);
    }
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_decoder_rejects_a_truncated_size_prefix),
    cmocka_unit_test (test_decoder_rejects_a_size_past_the_end),
    cmocka_unit_test (test_decoder_rejects_a_record_shorter_than_the_fixed_part),
    cmocka_unit_test (test_decoder_rejects_a_zero_name_length),
    cmocka_unit_test (test_decoder_rejects_a_name_longer_than_the_record),
    cmocka_unit_test (test_decoder_rejects_a_name_containing_a_nul),
    cmocka_unit_test (test_decoder_returns_the_records_before_a_malformed_one),
    cmocka_unit_test (test_decoder_leaves_the_status_byte_to_the_caller),
    cmocka_unit_test (test_request_decoder_survives_every_prefix_and_random_flips),
    cmocka_unit_test (test_reply_decoder_survives_every_prefix_and_random_flips),
    cmocka_unit_test (test_decoders_survive_random_bytes),
};

ZX_TEST_MAIN (tests)
