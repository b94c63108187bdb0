/*  test_zx_proto_decode.c - the message decoder over frames built by hand.

    DESIGN: every shape of message a hostile peer could send is built
    frame by frame, each frame a heap block of exactly its size (so
    AddressSanitizer catches a read past it), and handed to
    zx__msg_decode, which must accept what the receivers accepted before
    the codec existed and refuse what they refused: too few frames, bad
    headers and command frames, short or long info frames, services out
    of bounds, intervals no peer may announce. Which frames each command
    needs and what follows them (msg.ok, msg.extra) is pinned per command;
    the last test decodes random frames every way and checks that every
    field lies inside its frame. Round trips over sockets are in
    test_zx_proto_msg.c.                                                 */
#include "testutil.h"
#include "zx_proto.h"
#include "zx_values.h"
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  --------------------------------------------------------------------
//  Helpers: frames built by hand

typedef struct {
    const void *data;
    size_t size;
} s_part_t;

//  A part from a string literal, without its NUL
#define P(literal) { literal, sizeof literal - 1 }

static void
s_free_block (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  Makes frames [i] from parts [i], each a heap block of exactly its size.
static void
s_frames (zmq_msg_t *frames, const s_part_t *parts, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t *copy = malloc (parts [i].size ? parts [i].size : 1);
        assert_non_null (copy);
        if (parts [i].size)
            memcpy (copy, parts [i].data, parts [i].size);
        assert_int_equal (zmq_msg_init_data (&frames [i], copy, parts [i].size,
                                             s_free_block, NULL), 0);
    }
}

//  Closes frames, which must still be open: zx__msg_close leaves the
//  frames it did not receive itself to their owner.
static void
s_close_frames (zmq_msg_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        assert_int_equal (zmq_msg_close (&frames [i]), 0);
}

//  Decodes parts as one message; the frames stay open until s_done.
typedef struct {
    zmq_msg_t frames [16];
    size_t count;
    zx__msg_t msg;
    zx__recv_t rc;
} s_decoded_t;

static void
s_decode (s_decoded_t *out, const s_part_t *parts, size_t count, zx__face_t face, bool routed)
{
    assert_true (count <= 16);
    //  Whatever the message held before, as an uninitialised one would
    memset (&out->msg, 0xA5, sizeof out->msg);
    out->msg.owned = true;
    s_frames (out->frames, parts, count);
    out->count = count;
    out->rc = zx__msg_decode (&out->msg, out->frames, count, face, routed);
    assert_false (out->msg.owned);          //  The frames stay ours to close
}

static void
s_done (s_decoded_t *out)
{
    zx__msg_close (&out->msg);
    s_close_frames (out->frames, out->count);
}

//  Decodes "ZXW01" | command | parts (a DEALER's view) and returns msg.ok
static bool
s_worker_ok (uint8_t command, const s_part_t *body, size_t count, size_t *extra)
{
    s_part_t parts [16] = { P ("ZXW01"), { &command, 1 } };
    for (size_t i = 0; i < count; i++)
        parts [2 + i] = body [i];
    s_decoded_t out;
    s_decode (&out, parts, 2 + count, ZX_FACE_WORKER, false);
    assert_int_equal (out.rc, ZX_RECV_OK);
    bool ok = out.msg.ok;
    if (extra)
        *extra = out.msg.extra;
    s_done (&out);
    return ok;
}

//  --------------------------------------------------------------------
//  Malformed shapes, decoded from frames built by hand

static void
test_a_short_message_or_a_bad_header_or_command_frame_is_malformed (void **state)
{
    (void) state;
    const s_part_t bad [][3] = {
        { P ("ZXW01") },                            //  No command
        { P ("ZXW0"), P ("\x04") },                 //  Header of 4 octets
        { P ("ZXW011"), P ("\x04") },               //  Of 6
        { P ("ZXW02"), P ("\x04") },                //  Another version
        { P ("ZXC01"), P ("\x04") },                //  The other face
        { P ("zxw01"), P ("\x04") },
        { P ("ZXW01"), P ("") },                    //  Empty command frame
        { P ("ZXW01"), P ("\x04\x04") },            //  Command of 2 octets
    };
    const size_t counts [] = { 1, 2, 2, 2, 2, 2, 2, 2 };
    for (size_t i = 0; i < sizeof counts / sizeof counts [0]; i++) {
        s_decoded_t out;
        s_decode (&out, bad [i], counts [i], ZX_FACE_WORKER, false);
        assert_int_equal (out.rc, ZX_RECV_MALFORMED);
        assert_false (out.msg.ok);
        s_done (&out);
        //  The same after a routing id, which is still given for the log
        s_part_t routed [4] = { P ("id") };
        memcpy (routed + 1, bad [i], counts [i] * sizeof (s_part_t));
        s_decode (&out, routed, counts [i] + 1, ZX_FACE_WORKER, true);
        assert_int_equal (out.rc, ZX_RECV_MALFORMED);
        assert_int_equal (out.msg.identity_size, 2);
        s_done (&out);
    }
    s_decoded_t out;
    s_decode (&out, NULL, 0, ZX_FACE_WORKER, false);
    assert_int_equal (out.rc, ZX_RECV_MALFORMED);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("id") }, 1, ZX_FACE_ANY, true);
    assert_int_equal (out.rc, ZX_RECV_MALFORMED);
    assert_memory_equal (out.msg.identity, "id", 2);
    s_done (&out);
}

static void
test_any_face_tells_the_faces_apart_and_names_an_unknown_header (void **state)
{
    (void) state;
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("id"), P ("ZXW01"), P ("\x04") }, 3, ZX_FACE_ANY, true);
    assert_int_equal (out.rc, ZX_RECV_OK);
    assert_int_equal (out.msg.face, ZX_FACE_WORKER);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("id"), P ("ZXC01"), P ("\x04") }, 3, ZX_FACE_ANY, true);
    assert_int_equal (out.rc, ZX_RECV_OK);
    assert_int_equal (out.msg.face, ZX_FACE_CLIENT);
    s_done (&out);
    //  5 octets but neither face; anything else is malformed
    s_decode (&out, (s_part_t []) { P ("id"), P ("MDPW0"), P ("\x04") }, 3, ZX_FACE_ANY, true);
    assert_int_equal (out.rc, ZX_RECV_UNKNOWN_FACE);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("id"), P ("MDPW01"), P ("\x04") }, 3, ZX_FACE_ANY, true);
    assert_int_equal (out.rc, ZX_RECV_MALFORMED);
    s_done (&out);
    //  A face that is not the one expected is malformed, not unknown
    s_decode (&out, (s_part_t []) { P ("MDPW0"), P ("\x04") }, 2, ZX_FACE_CLIENT, false);
    assert_int_equal (out.rc, ZX_RECV_MALFORMED);
    s_done (&out);
}

static void
test_ready_needs_a_service_and_an_info_frame_of_16_or_12_octets (void **state)
{
    (void) state;
    uint8_t info [17] = { 3, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 0 };
    size_t extra;
    assert_false (s_worker_ok (ZX_CMD_READY, NULL, 0, NULL));
    assert_false (s_worker_ok (ZX_CMD_READY, (s_part_t []) { P ("default") }, 1, NULL));
    const size_t wrong [] = { 0, 4, 11, 13, 15, 17 };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong [0]; i++)
        assert_false (s_worker_ok (ZX_CMD_READY,
                                   (s_part_t []) { P ("default"), { info, wrong [i] } }, 2, NULL));
    //  No name, an empty service (the broker, not the codec, refuses that)
    assert_true (s_worker_ok (ZX_CMD_READY, (s_part_t []) { P (""), { info, 16 } }, 2, &extra));
    assert_int_equal (extra, 0);
    assert_true (s_worker_ok (ZX_CMD_READY,
                              (s_part_t []) { P ("s"), { info, 16 }, P ("n"), P ("x"), P ("y") },
                              5, &extra));
    assert_int_equal (extra, 2);
    //  The 12-octet form means parallel 1
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x01"), P ("s"), { info, 12 } }, 4,
              ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.ready.credits, 3);
    assert_int_equal (out.msg.ready.max_tasks, 9);
    assert_int_equal (out.msg.ready.pid, 7);
    assert_int_equal (out.msg.ready.parallel, 1);
    assert_null (out.msg.name);
    s_done (&out);
    //  The service frame is given even when the info frame is missing or
    //  bad: the broker judges it first; the rest stays empty
    const s_part_t *shapes [] = {
        (s_part_t []) { P ("ZXW01"), P ("\x01"), P ("gpu") },
        (s_part_t []) { P ("ZXW01"), P ("\x01"), P ("gpu"), { info, 15 }, P ("n") },
    };
    const size_t counts [] = { 3, 5 };
    for (size_t i = 0; i < 2; i++) {
        s_decode (&out, shapes [i], counts [i], ZX_FACE_WORKER, false);
        assert_int_equal (out.rc, ZX_RECV_OK);
        assert_false (out.msg.ok);
        assert_int_equal (out.msg.service_size, 3);
        assert_memory_equal (out.msg.service, "gpu", 3);
        assert_int_equal (out.msg.ready.credits, 0);
        assert_null (out.msg.name);
        s_done (&out);
    }
    //  READY is no command of the client face
    s_decode (&out, (s_part_t []) { P ("ZXC01"), P ("\x01"), P ("s"), { info, 16 } }, 4,
              ZX_FACE_CLIENT, false);
    assert_int_equal (out.rc, ZX_RECV_OK);
    assert_false (out.msg.ok);
    s_done (&out);
}

static void
test_a_client_request_needs_a_service_of_1_to_255_octets_and_a_batch (void **state)
{
    (void) state;
    char service [256];
    memset (service, 'v', sizeof service);
    const size_t sizes [] = { 0, 1, 255, 256 };
    for (size_t i = 0; i < 4; i++) {
        s_decoded_t out;
        s_decode (&out, (s_part_t []) { P ("ZXC01"), P ("\x02"), { service, sizes [i] }, P ("") },
                  4, ZX_FACE_CLIENT, false);
        assert_int_equal (out.rc, ZX_RECV_OK);
        assert_int_equal (out.msg.ok, sizes [i] >= 1 && sizes [i] <= 255);
        //  Service and batch are given whatever the service's size, so
        //  that the broker can answer the records of a request it refuses
        assert_int_equal (out.msg.service_size, sizes [i]);
        assert_non_null (out.msg.batch);
        assert_int_equal (out.msg.batch_size, 0);
        s_done (&out);
    }
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXC01"), P ("\x02"), P ("default") }, 3,
              ZX_FACE_CLIENT, false);
    assert_false (out.msg.ok);
    assert_null (out.msg.batch);                //  No batch frame, no batch
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXC01"), P ("\x02"), P ("default"), P ("b"), P ("z") },
              5, ZX_FACE_CLIENT, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.extra, 1);
    assert_int_equal (out.msg.batch_size, 1);
    assert_memory_equal (out.msg.batch, "b", 1);
    s_done (&out);
}

static void
test_request_reply_and_cancel_need_their_frame_and_count_any_after_it (void **state)
{
    (void) state;
    const uint8_t commands [] = { ZX_CMD_REQUEST, ZX_CMD_REPLY, ZX_CMD_CANCEL };
    for (size_t i = 0; i < 3; i++) {
        size_t extra;
        assert_false (s_worker_ok (commands [i], NULL, 0, NULL));
        assert_true (s_worker_ok (commands [i], (s_part_t []) { P ("") }, 1, &extra));
        assert_int_equal (extra, 0);
        assert_true (s_worker_ok (commands [i], (s_part_t []) { P (""), P ("") }, 2, &extra));
        assert_int_equal (extra, 1);
    }
    //  A cancel's trailing partial id is not counted
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x06"), P ("\x01\0\0\0\0\0\0\0\x02\0\0\0\0") },
              3, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.id_count, 1);
    assert_int_equal (zx__msg_cancel_id (&out.msg, 0), 1);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x06"), P ("\x01\0\0\0\0\0\0") },
              3, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.id_count, 0);
    s_done (&out);
}

static void
test_a_heartbeat_interval_comes_only_from_a_lone_frame_of_4_octets_within_a_minute (void **state)
{
    (void) state;
    const struct {
        s_part_t parts [4];
        size_t count;
        uint32_t interval;
    } cases [] = {
        { { P ("ZXW01"), P ("\x04") }, 2, 0 },
        { { P ("ZXW01"), P ("\x04"), P ("\xe8\x03\x00\x00") }, 3, 1000 },
        { { P ("ZXW01"), P ("\x04"), P ("\x01\x00\x00\x00") }, 3, 1 },
        { { P ("ZXW01"), P ("\x04"), P ("\x60\xea\x00\x00") }, 3, 60000 },
        { { P ("ZXW01"), P ("\x04"), P ("\x61\xea\x00\x00") }, 3, 0 },     //  60001
        { { P ("ZXW01"), P ("\x04"), P ("\x00\x00\x00\x00") }, 3, 0 },
        { { P ("ZXW01"), P ("\x04"), P ("\xe8\x03\x00") }, 3, 0 },
        { { P ("ZXW01"), P ("\x04"), P ("\xe8\x03\x00\x00\x00") }, 3, 0 },
        { { P ("ZXW01"), P ("\x04"), P ("\xe8\x03\x00\x00"), P ("") }, 4, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_decoded_t out;
        s_decode (&out, cases [i].parts, cases [i].count, ZX_FACE_WORKER, false);
        assert_int_equal (out.rc, ZX_RECV_OK);
        assert_true (out.msg.ok);       //  Whatever follows the command
        assert_int_equal (out.msg.interval, cases [i].interval);
        s_done (&out);
    }
}

static void
test_a_disconnect_without_a_bye_is_normal_and_its_text_is_made_printable (void **state)
{
    (void) state;
    s_decoded_t out;
    char text [256];
    //  No bye frame, or an empty one: NORMAL, no text
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x05") }, 2, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.reason, ZX_BYE_NORMAL);
    zx__msg_bye_text (&out.msg, text, sizeof text);
    assert_string_equal (text, "");
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x05"), P (""), P ("\x02z") }, 4,
              ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.reason, ZX_BYE_NORMAL);
    assert_int_equal (out.msg.text_size, 0);
    assert_int_equal (out.msg.extra, 1);
    s_done (&out);
    //  Any reason octet is passed on; control octets become '?'
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x05"), P ("\xc8" "a\0b\nc\x1f" "d") }, 3,
              ZX_FACE_WORKER, false);
    assert_int_equal (out.msg.reason, 200);
    assert_int_equal (out.msg.text_size, 7);
    zx__msg_bye_text (&out.msg, text, sizeof text);
    assert_string_equal (text, "a?b?c?d");
    zx__msg_bye_text (&out.msg, text, 4);
    assert_string_equal (text, "a?b");
    zx__msg_bye_text (&out.msg, text, 1);
    assert_string_equal (text, "");
    s_done (&out);
}

static void
test_unknown_commands_are_never_ok (void **state)
{
    (void) state;
    const uint8_t commands [] = { 0x00, 0x08, 0x09, 0x7F, 0xFF };
    const zx__face_t faces [] = { ZX_FACE_WORKER, ZX_FACE_CLIENT };
    for (size_t f = 0; f < 2; f++)
        for (size_t i = 0; i < sizeof commands; i++) {
            s_decoded_t out;
            s_decode (&out, (s_part_t []) { f ? (s_part_t) P ("ZXC01") : (s_part_t) P ("ZXW01"),
                                             { &commands [i], 1 }, P ("x") },
                      3, faces [f], false);
            assert_int_equal (out.rc, ZX_RECV_OK);
            assert_int_equal (out.msg.command, commands [i]);
            assert_false (out.msg.ok);
            s_done (&out);
        }
}

//  STATS (0x07) is the client face's only: a question without a frame,
//  an answer with its map; on the worker face it is never ok.
static void
test_stats_is_ok_on_the_client_face_only (void **state)
{
    (void) state;
    const uint8_t stats = ZX_CMD_STATS;
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXC01"), { &stats, 1 } }, 2, ZX_FACE_CLIENT, false);
    assert_int_equal (out.rc, ZX_RECV_OK);
    assert_true (out.msg.ok);
    assert_null (out.msg.batch);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXC01"), { &stats, 1 }, P ("map") }, 3,
              ZX_FACE_CLIENT, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.batch_size, 3);
    assert_int_equal (out.msg.extra, 0);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXW01"), { &stats, 1 } }, 2, ZX_FACE_WORKER, false);
    assert_int_equal (out.rc, ZX_RECV_OK);
    assert_false (out.msg.ok);
    s_done (&out);
}

static void
test_labels_show_unprintable_octets_and_backslash_as_hex_and_fit (void **state)
{
    (void) state;
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, "w0.1", 4);
    assert_string_equal (label, "w0.1");
    zx__label (label, sizeof label, "\x00K3\xb6\xdf", 5);
    assert_string_equal (label, "\\x00K3\\xb6\\xdf");
    zx__label (label, sizeof label, "a\\b", 3);
    assert_string_equal (label, "a\\x5cb");
    zx__label (label, sizeof label, NULL, 0);
    assert_string_equal (label, "");
    //  Cut to fit: 91 printable octets, 23 unprintable ones
    uint8_t id [255];
    memset (id, 'p', sizeof id);
    zx__label (label, sizeof label, id, sizeof id);
    assert_int_equal (strlen (label), 91);
    memset (id, 0xff, sizeof id);
    zx__label (label, sizeof label, id, sizeof id);
    assert_int_equal (strlen (label), 23 * 4);
    zx__label (label, 8, id, sizeof id);
    assert_string_equal (label, "\\xff");
}

//  Random frames decoded every way: every field a decoder hands out lies
//  inside the frame it came from (under ASan, reading it all proves it).
static bool
s_inside (const uint8_t *field, size_t size, zmq_msg_t *frames, size_t count)
{
    if (!field)
        return size == 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *data = zmq_msg_data (&frames [i]);
        if (field >= data && field + size <= data + zmq_msg_size (&frames [i]))
            return true;
    }
    return false;
}

static void
test_decoded_fields_lie_inside_their_frames_whatever_the_bytes (void **state)
{
    (void) state;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    const char *headers [] = { "ZXW01", "ZXC01", "ZXX01" };
    for (int round = 0; round < 20000; round++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        bool routed = seed & 1;
        size_t count = (size_t) (seed >> 1) % 9;
        uint8_t bytes [9][20];
        s_part_t parts [9];
        for (size_t i = 0; i < count; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            parts [i].size = (size_t) (seed % 21);
            for (size_t b = 0; b < parts [i].size; b++)
                bytes [i][b] = (uint8_t) (seed >> (b % 8 * 8)) ^ (uint8_t) b;
            parts [i].data = bytes [i];
        }
        //  Mostly good headers and commands, so the bodies get decoded
        size_t at = routed ? 1 : 0;
        if (count > at + 1 && (seed & 6)) {
            parts [at] = (s_part_t) { headers [(seed >> 3) % 3], 5 };
            bytes [at + 1][0] = (uint8_t) ((seed >> 5) % 8);
            parts [at + 1] = (s_part_t) { bytes [at + 1], 1 };
        }
        zx__face_t face = (zx__face_t) ((seed >> 9) % 3);
        s_decoded_t out;
        s_decode (&out, parts, count, face, routed);
        const zx__msg_t *msg = &out.msg;
        assert_true (s_inside (msg->identity, msg->identity_size, out.frames, count));
        assert_true (s_inside (msg->service, msg->service_size, out.frames, count));
        assert_true (s_inside (msg->name, msg->name_size, out.frames, count));
        assert_true (s_inside (msg->batch, msg->batch_size, out.frames, count));
        assert_true (s_inside (msg->text, msg->text_size, out.frames, count));
        assert_true (s_inside (msg->ids, msg->id_count * 8, out.frames, count));
        assert_true (msg->interval <= ZX_HEARTBEAT_MAX_MS);
        assert_true (out.rc == ZX_RECV_OK || !msg->ok);
        s_done (&out);
    }
}

//  --------------------------------------------------------------------
//  Framed payloads (PROTOCOL.md 23)

//  A batch of one request record with flags and args, into out (size).
static size_t
s_request_record (uint8_t *out, size_t size, uint8_t flags, const char *args, size_t args_size)
{
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 9, 1, flags, "echo", 4, args, args_size),
                      ZX_OK);
    assert_true (batch.size <= size);
    memcpy (out, batch.data, batch.size);
    size_t written = batch.size;
    zx__batch_free (&batch);
    return written;
}

static void
test_a_framed_request_points_its_arguments_at_the_frame_after_the_batch (void **state)
{
    (void) state;
    uint8_t record [64];
    size_t size = s_request_record (record, sizeof record, ZX_FLAG_FRAMED, NULL, 0);
    const s_part_t worker [] = { P ("ZXW01"), P ("\x02"), { record, size }, P ("payload") };
    const s_part_t client [] = { P ("ZXC01"), P ("\x02"), P ("default"), { record, size },
                                 P ("payload") };
    for (int face = ZX_FACE_WORKER; face <= ZX_FACE_CLIENT; face++) {
        size_t count = face == ZX_FACE_CLIENT ? 5 : 4;
        s_decoded_t out;
        s_decode (&out, face == ZX_FACE_CLIENT ? client : worker, count, (zx__face_t) face,
                  false);
        assert_true (out.msg.ok);
        assert_int_equal (out.msg.extra, 0);
        assert_null (out.msg.frame_error);
        assert_ptr_equal (out.msg.frame, &out.frames [count - 1]);
        const uint8_t *cursor = out.msg.batch;
        zx__request_rec_t rec;
        assert_int_equal (zx__batch_next_request (&cursor, cursor + out.msg.batch_size, &rec),
                          ZX_OK);
        assert_int_equal (rec.args_size, 0);
        assert_true (zx__msg_request_args (&out.msg, &rec));
        assert_int_equal (rec.args_size, 7);
        assert_memory_equal (rec.args, "payload", 7);
        s_done (&out);
    }
}

static void
test_a_framed_reply_gives_its_frame_as_the_payload_and_drops_the_bit (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_reply (&batch, 5, 2, ZX_STATUS_FRAMED | ZX_STATUS_OK,
                                           NULL, 0), ZX_OK);
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x03"), { batch.data, batch.size },
                                    P ("result") }, 4, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.extra, 0);
    assert_non_null (out.msg.frame);
    const uint8_t *cursor = out.msg.batch;
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, cursor + out.msg.batch_size, &rec), ZX_OK);
    zx__msg_reply_payload (&out.msg, &rec);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    assert_int_equal (rec.payload_size, 6);
    assert_memory_equal (rec.payload, "result", 6);
    s_done (&out);
    //  The bit without the frame stays: an unknown status to the receiver
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x03"), { batch.data, batch.size } }, 3,
              ZX_FACE_WORKER, false);
    assert_null (out.msg.frame);
    cursor = out.msg.batch;
    assert_int_equal (zx__batch_next_reply (&cursor, cursor + out.msg.batch_size, &rec), ZX_OK);
    zx__msg_reply_payload (&out.msg, &rec);
    assert_int_equal (zx__status_to_err (rec.status), ZX_EPROTO);
    s_done (&out);
    zx__batch_free (&batch);
}

static void
test_misframed_requests_say_why_and_keep_their_frames_extra (void **state)
{
    (void) state;
    uint8_t framed [64], plain [64], carrying [64], two [128];
    size_t framed_size = s_request_record (framed, sizeof framed, ZX_FLAG_FRAMED, NULL, 0);
    size_t plain_size = s_request_record (plain, sizeof plain, 0, "\x91\x01", 2);
    size_t carrying_size = s_request_record (carrying, sizeof carrying, ZX_FLAG_FRAMED,
                                             "\x91\x01", 2);
    memcpy (two, framed, framed_size);
    memcpy (two + framed_size, plain, plain_size);
    const struct {
        s_part_t batch;
        size_t frames;
        const char *why;
    } cases [] = {
        { { plain, plain_size }, 1, "no record marked framed" },
        { { framed, framed_size }, 2, "more than one frame" },
        { { two, framed_size + plain_size }, 1, "only record of its batch" },
        { { carrying, carrying_size }, 1, "carry nothing in the batch" },
        { P (""), 1, "no record marked framed" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_decoded_t out;
        s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x02"), cases [i].batch, P ("a"),
                                        P ("b") }, 3 + cases [i].frames, ZX_FACE_WORKER, false);
        assert_true (out.msg.ok);
        assert_null (out.msg.frame);
        assert_int_equal (out.msg.extra, cases [i].frames);
        assert_non_null (out.msg.frame_error);
        assert_non_null (strstr (out.msg.frame_error, cases [i].why));
        s_done (&out);
    }
    //  The flag without a frame: the record is refused by its receiver
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x02"), { framed, framed_size } }, 3,
              ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_null (out.msg.frame_error);
    const uint8_t *cursor = out.msg.batch;
    zx__request_rec_t rec;
    assert_int_equal (zx__batch_next_request (&cursor, cursor + out.msg.batch_size, &rec),
                      ZX_OK);
    assert_false (zx__msg_request_args (&out.msg, &rec));
    s_done (&out);
}

static void
test_ready_reads_its_features_frame_and_an_older_one_has_none (void **state)
{
    (void) state;
    uint8_t info [ZX_READY_INFO_SIZE] = { 1 };
    uint8_t features [4] = { ZX_FEATURE_FRAMED, 0, 0, 0 };
    s_decoded_t out;
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x01"), P ("default"), { info, 16 },
                                    P ("w"), { features, 4 } }, 6, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.ready.features, ZX_FEATURE_FRAMED);
    s_done (&out);
    s_decode (&out, (s_part_t []) { P ("ZXW01"), P ("\x01"), P ("default"), { info, 16 },
                                    P ("w") }, 5, ZX_FACE_WORKER, false);
    assert_true (out.msg.ok);
    assert_int_equal (out.msg.ready.features, 0);
    s_done (&out);
}

//  --------------------------------------------------------------------
//  Big payloads handed over, not copied

//  A list whose buffer is its own gives it to a frame (zx__values_release),
//  which sends the very bytes it packed and frees them once, when libzmq
//  is done (ASan would see a double free or a leak). A list in its inline
//  buffer keeps it: the caller copies.
static void
test_a_big_list_gives_its_buffer_to_a_frame_and_a_small_one_keeps_it (void **state)
{
    (void) state;
    size_t big = 3 * ZX_FRAME_THRESHOLD;
    unsigned char *pattern = malloc (big);
    assert_non_null (pattern);
    for (size_t i = 0; i < big; i++)
        pattern [i] = (unsigned char) (i * 7 + 3);
    zx_values_t *values = zx_values_pack ("i", (int64_t) 42);
    assert_int_equal (zx_values_add_bytes (values, pattern, big), ZX_OK);
    size_t size = 0;
    const void *before = zx__values_data (values, &size);
    void *copy = malloc (size);
    assert_non_null (copy);
    memcpy (copy, before, size);

    const void *data = NULL;
    size_t released = 0;
    void *buffer = zx__values_release (values, &data, &released);
    assert_non_null (buffer);
    assert_ptr_equal (data, before);
    assert_int_equal (released, size);
    zmq_msg_t frame;
    assert_int_equal (zmq_msg_init_data (&frame, (void *) data, released,
                                         zx__values_free_released, buffer), 0);
    zx_values_destroy (&values);            //  Leaves the buffer to the frame
    assert_ptr_equal (zmq_msg_data (&frame), data);
    assert_memory_equal (zmq_msg_data (&frame), copy, size);
    //  What a receiver decodes from it is the list that was packed
    zx_values_t *result = NULL;
    assert_int_equal (zx__values_decode (zmq_msg_data (&frame), zmq_msg_size (&frame), &result),
                      ZX_OK);
    int64_t n = 0;
    assert_int_equal (zx_values_get_int (result, 0, &n), ZX_OK);
    assert_int_equal (n, 42);
    const void *bytes = NULL;
    size_t bytes_size = 0;
    assert_int_equal (zx_values_get_bytes (result, 1, &bytes, &bytes_size), ZX_OK);
    assert_int_equal (bytes_size, big);
    assert_memory_equal (bytes, pattern, big);
    zx_values_destroy (&result);
    zmq_msg_close (&frame);                 //  Frees the buffer

    zx_values_t *small = zx_values_pack ("i", (int64_t) 1);
    assert_null (zx__values_release (small, &data, &released));
    assert_non_null (data);
    assert_true (released > 0);
    assert_int_equal (zx_values_get_int (small, 0, &n), ZX_OK);    //  Still its own
    assert_int_equal (n, 1);
    zx_values_destroy (&small);
    free (copy);
    free (pattern);
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_short_message_or_a_bad_header_or_command_frame_is_malformed),
    cmocka_unit_test (test_any_face_tells_the_faces_apart_and_names_an_unknown_header),
    cmocka_unit_test (test_ready_needs_a_service_and_an_info_frame_of_16_or_12_octets),
    cmocka_unit_test (test_a_client_request_needs_a_service_of_1_to_255_octets_and_a_batch),
    cmocka_unit_test (test_request_reply_and_cancel_need_their_frame_and_count_any_after_it),
    cmocka_unit_test (test_a_heartbeat_interval_comes_only_from_a_lone_frame_of_4_octets_within_a_minute),
    cmocka_unit_test (test_a_disconnect_without_a_bye_is_normal_and_its_text_is_made_printable),
    cmocka_unit_test (test_unknown_commands_are_never_ok),
    cmocka_unit_test (test_stats_is_ok_on_the_client_face_only),
    cmocka_unit_test (test_labels_show_unprintable_octets_and_backslash_as_hex_and_fit),
    cmocka_unit_test (test_decoded_fields_lie_inside_their_frames_whatever_the_bytes),
    cmocka_unit_test (test_a_framed_request_points_its_arguments_at_the_frame_after_the_batch),
    cmocka_unit_test (test_a_framed_reply_gives_its_frame_as_the_payload_and_drops_the_bit),
    cmocka_unit_test (test_misframed_requests_say_why_and_keep_their_frames_extra),
    cmocka_unit_test (test_ready_reads_its_features_frame_and_an_older_one_has_none),
    cmocka_unit_test (test_a_big_list_gives_its_buffer_to_a_frame_and_a_small_one_keeps_it),
};

ZX_TEST_MAIN (tests)
