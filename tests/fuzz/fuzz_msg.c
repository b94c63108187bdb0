/*  fuzz_msg.c - libFuzzer harness for the message decoder of zx_proto.

    DESIGN: the input is one message as any peer may send it, frame by
    frame, and it is decoded every way a receiver decodes one: as a DEALER
    and as a ROUTER (identity first), expecting the worker face, the
    client face, or either (the broker). Each frame is a heap block of
    exactly its size, so ASan fails a read past it. What must hold: every
    field the decoder hands out lies inside one frame, and reading it all
    works; a message that is not ZX_RECV_OK is never ok; a CANCEL's ids
    fit its frame; an interval is one a peer may announce; the bye text
    made printable is short and has no control octet; a framed message's
    frame is its last and its one record's arguments; the decoder leaves
    the frames open for their owner.

    Input: byte 0 is ignored (room for options); then frames, each a
    length byte (255: a 16-bit little-endian length follows) and that many
    bytes, up to ZX_ROUTER_MAX_FRAMES + 1 frames, lengths clamped to what
    is left of the input.                                                */
#include "fuzz.h"
#include "zx_proto.h"

#include <stdbool.h>
#include <string.h>
#include <zmq.h>

#define S_MAX_FRAMES (ZX_ROUTER_MAX_FRAMES + 1)

static void
s_free_frame (void *data, void *hint)
{
    (void) hint;
    free (data);
}

static bool
s_inside (const uint8_t *field, size_t size, zmq_msg_t *frames, size_t count)
{
    if (!field)
        return size == 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *data = zmq_msg_data (&frames [i]);
        if (zx_fuzz_inside (field, size, data, data + zmq_msg_size (&frames [i])))
            return true;
    }
    return false;
}

static void
s_check (zmq_msg_t *frames, size_t count, zx__face_t face, bool routed)
{
    zx__msg_t msg;
    zx__recv_t rc = zx__msg_decode (&msg, frames, count, face, routed);
    ZX_FUZZ_CHECK (rc == ZX_RECV_OK || rc == ZX_RECV_MALFORMED
                   || (rc == ZX_RECV_UNKNOWN_FACE && face == ZX_FACE_ANY));
    ZX_FUZZ_CHECK (rc == ZX_RECV_OK || !msg.ok);
    ZX_FUZZ_CHECK (!msg.owned);
    ZX_FUZZ_CHECK (routed == (msg.identity != NULL) || count == 0);
    if (rc == ZX_RECV_OK)
        ZX_FUZZ_CHECK (face == ZX_FACE_ANY ? msg.face != ZX_FACE_ANY : msg.face == face);
    ZX_FUZZ_CHECK (s_inside (msg.identity, msg.identity_size, frames, count));
    ZX_FUZZ_CHECK (s_inside (msg.service, msg.service_size, frames, count));
    ZX_FUZZ_CHECK (s_inside (msg.name, msg.name_size, frames, count));
    ZX_FUZZ_CHECK (s_inside (msg.batch, msg.batch_size, frames, count));
    ZX_FUZZ_CHECK (s_inside (msg.text, msg.text_size, frames, count));
    ZX_FUZZ_CHECK (s_inside (msg.ids, msg.id_count * 8, frames, count));
    zx_fuzz_touch (msg.identity, msg.identity_size);
    zx_fuzz_touch (msg.service, msg.service_size);
    zx_fuzz_touch (msg.name, msg.name_size);
    zx_fuzz_touch (msg.batch, msg.batch_size);
    zx_fuzz_touch (msg.text, msg.text_size);
    uint64_t ids = 0;
    for (size_t i = 0; i < msg.id_count; i++)
        ids += zx__msg_cancel_id (&msg, i);
    (void) ids;
    ZX_FUZZ_CHECK (msg.interval <= ZX_HEARTBEAT_MAX_MS);
    //  A framed message: its frame is the last one, nothing counted past it,
    //  and a framing error never comes with a frame
    if (msg.frame) {
        ZX_FUZZ_CHECK (msg.ok && msg.extra == 0 && !msg.frame_error);
        ZX_FUZZ_CHECK (msg.frame == &frames [count - 1]);
        zx_fuzz_touch (zmq_msg_data (msg.frame), zmq_msg_size (msg.frame));
        const uint8_t *cursor = msg.batch, *end = msg.batch + msg.batch_size;
        if (msg.command == ZX_CMD_REQUEST) {
            zx__request_rec_t rec;
            ZX_FUZZ_CHECK (zx__batch_next_request (&cursor, end, &rec) == ZX_OK);
            ZX_FUZZ_CHECK (zx__msg_request_args (&msg, &rec));
            ZX_FUZZ_CHECK (rec.args_size == zmq_msg_size (msg.frame));
        }
        ZX_FUZZ_CHECK (cursor == end || msg.command == ZX_CMD_REPLY);
    }
    if (msg.ok && msg.command == ZX_CMD_REQUEST && msg.face == ZX_FACE_CLIENT)
        ZX_FUZZ_CHECK (msg.service_size >= 1 && msg.service_size <= 255);
    char text [256];
    zx__msg_bye_text (&msg, text, sizeof text);
    ZX_FUZZ_CHECK (strlen (text) == (msg.text_size < 255 ? msg.text_size : 255));
    for (size_t i = 0; text [i]; i++)
        ZX_FUZZ_CHECK ((unsigned char) text [i] >= 32);
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, msg.identity, msg.identity_size);
    ZX_FUZZ_CHECK (strlen (label) < sizeof label);
    zx__msg_close (&msg);
    //  The frames are still the caller's, open and whole
    for (size_t i = 0; i < count; i++)
        zx_fuzz_touch (zmq_msg_data (&frames [i]), zmq_msg_size (&frames [i]));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *at = data + (size ? 1 : 0), *end = data + size;
    zmq_msg_t frames [S_MAX_FRAMES];
    size_t count = 0;
    while (at < end && count < S_MAX_FRAMES) {
        size_t length = *at++;
        if (length == 255) {
            size_t low = at < end ? *at++ : 0;
            size_t high = at < end ? *at++ : 0;
            length = low | high << 8;
        }
        if (length > (size_t) (end - at))
            length = (size_t) (end - at);
        uint8_t *copy = malloc (length ? length : 1);
        ZX_FUZZ_CHECK (copy);
        if (length)
            memcpy (copy, at, length);
        ZX_FUZZ_CHECK (zmq_msg_init_data (&frames [count], copy, length, s_free_frame, NULL) == 0);
        at += length;
        count++;
    }
    const zx__face_t faces [] = { ZX_FACE_ANY, ZX_FACE_WORKER, ZX_FACE_CLIENT };
    for (size_t f = 0; f < 3; f++) {
        s_check (frames, count, faces [f], false);
        s_check (frames, count, faces [f], true);
    }
    for (size_t i = 0; i < count; i++)
        ZX_FUZZ_CHECK (zmq_msg_close (&frames [i]) == 0);
    return 0;
}
