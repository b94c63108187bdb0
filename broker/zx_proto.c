/*  zx_proto.c - the codec of ZXW01 and ZXC01: records, batches, messages.

    DESIGN: the one place where the protocols' bytes are laid out. Records
    are length-prefixed so a decoder can always find the next one, and
    every read is checked against the end of its frame before it happens;
    nothing here trusts a byte it has not bounded. A received message is
    decoded once, into a zx__msg_t whose fields point into its frames, and
    says both whether its command's frames are well formed and how many
    frames follow them: the receivers differ only in what they do with a
    message (some ignore trailing frames, some refuse them), never in how
    they read one. Senders name a command and its fields; the frames are
    built here.

    Framed payloads (PROTOCOL.md 23): a REQUEST or REPLY of one marked
    record may carry its arguments or result as the frame after the batch;
    the decoder accepts that shape only exactly, and says why otherwise.

    LENGTH: about 830 lines, over the project's 700: one codec for both
    protocols on purpose (every byte in one file, issue 10), now with
    STATS, the error details and framed payloads.  */

#include "zx_proto.h"
#include "zx_loop.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static zx_err_t
s_reserve (zx__batch_t *batch, size_t more)
{
    if (batch->cap - batch->size >= more)
        return ZX_OK;
    size_t cap = batch->cap ? batch->cap : 256;
    if (more > SIZE_MAX / 2 - batch->size)
        return ZX_ENOMEM;
    while (cap - batch->size < more)
        cap *= 2;
    //  Past a MiB, what is needed and an eighth more, not the double: a
    //  batch of 16 MiB and a few bytes would take 32, which glibc maps
    //  fresh from the kernel every time (past its largest mmap threshold)
    size_t need = batch->size + more;
    if (need > ZX_GROW_EXACT && cap > need + need / 8)
        cap = need + need / 8;
    uint8_t *grown = realloc (batch->data, cap);
    if (!grown)
        return ZX_ENOMEM;
    batch->data = grown;
    batch->cap = cap;
    return ZX_OK;
}

//  Appends a record of size octets (after its size field) with the head
//  every record starts with, corr and attempt, and returns the record
//  for the caller to fill in from offset 12 on; NULL when out of memory.
//  size is at most UINT32_MAX: the callers check.
static uint8_t *
s_add_record (zx__batch_t *batch, size_t size, uint64_t corr, uint32_t attempt)
{
    if (size > SIZE_MAX - 4 || s_reserve (batch, 4 + size))
        return NULL;
    uint8_t *out = batch->data + batch->size;
    zx__put_u32 (out, (uint32_t) size);
    zx__put_u64 (out + 4, corr);
    zx__put_u32 (out + 12, attempt);
    batch->size += 4 + size;
    batch->records++;
    return out + 4;
}

zx_err_t
zx__batch_add_request (zx__batch_t *batch, uint64_t corr, uint32_t attempt,
                       uint8_t flags, const char *name, size_t name_len,
                       const void *args, size_t args_size)
{
    //  Refuse what the decoder would reject (a NUL in the name), and
    //  compare before adding so a huge args_size cannot wrap the sum
    if (!name || name_len == 0 || name_len > 255 || memchr (name, 0, name_len))
        return ZX_EINVAL;
    if (args_size > UINT32_MAX - ZX_REQUEST_FIXED - name_len)
        return ZX_EINVAL;
    uint8_t *out = s_add_record (batch, ZX_REQUEST_FIXED + name_len + args_size, corr, attempt);
    if (!out)
        return ZX_ENOMEM;
    out [12] = flags;
    out [13] = (uint8_t) name_len;
    memcpy (out + ZX_REQUEST_FIXED, name, name_len);
    if (args_size)
        memcpy (out + ZX_REQUEST_FIXED + name_len, args, args_size);
    return ZX_OK;
}

zx_err_t
zx__batch_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt,
                     uint8_t status, const void *payload, size_t payload_size)
{
    if (payload_size > UINT32_MAX - ZX_REPLY_FIXED)
        return ZX_EINVAL;
    uint8_t *out = s_add_record (batch, ZX_REPLY_FIXED + payload_size, corr, attempt);
    if (!out)
        return ZX_ENOMEM;
    out [12] = status;
    if (payload_size)
        memcpy (out + ZX_REPLY_FIXED, payload, payload_size);
    return ZX_OK;
}

void
zx__batch_clear (zx__batch_t *batch)
{
    batch->size = 0;
    batch->records = 0;
}

void
zx__batch_free (zx__batch_t *batch)
{
    free (batch->data);
    memset (batch, 0, sizeof *batch);
}

//  Finds the next record and reads the head every record starts with:
//  returns ZX_OK with *body (the record after its size), *size, *corr and
//  *attempt set, ZX_EPENDING at the end, ZX_EPROTO when the size does not
//  fit in the batch or the record is shorter than fixed.
static zx_err_t
s_next_record (const uint8_t **cursor, const uint8_t *end, size_t fixed,
               const uint8_t **body, size_t *size, uint64_t *corr, uint32_t *attempt)
{
    const uint8_t *at = *cursor;
    if (at == end)
        return ZX_EPENDING;
    if ((size_t) (end - at) < 4)
        return ZX_EPROTO;
    uint32_t length = zx__get_u32 (at);
    if ((size_t) (end - at - 4) < length)
        return ZX_EPROTO;
    *body = at + 4;
    *size = length;
    *cursor = at + 4 + length;
    if (length < fixed)
        return ZX_EPROTO;
    *corr = zx__get_u64 (*body);
    *attempt = zx__get_u32 (*body + 8);
    return ZX_OK;
}

zx_err_t
zx__batch_next_request (const uint8_t **cursor, const uint8_t *end,
                        zx__request_rec_t *rec)
{
    const uint8_t *body;
    size_t size;
    zx_err_t rc = s_next_record (cursor, end, ZX_REQUEST_FIXED, &body, &size,
                                 &rec->corr, &rec->attempt);
    if (rc != ZX_OK)
        return rc;
    rec->flags = body [12];
    rec->name_len = body [13];
    if (rec->name_len == 0 || size - ZX_REQUEST_FIXED < rec->name_len)
        return ZX_EPROTO;
    rec->name = (const char *) body + ZX_REQUEST_FIXED;
    if (memchr (rec->name, 0, rec->name_len))
        return ZX_EPROTO;
    rec->args = body + ZX_REQUEST_FIXED + rec->name_len;
    rec->args_size = size - ZX_REQUEST_FIXED - rec->name_len;
    return ZX_OK;
}

zx_err_t
zx__batch_next_reply (const uint8_t **cursor, const uint8_t *end,
                      zx__reply_rec_t *rec)
{
    const uint8_t *body;
    size_t size;
    zx_err_t rc = s_next_record (cursor, end, ZX_REPLY_FIXED, &body, &size,
                                 &rec->corr, &rec->attempt);
    if (rc != ZX_OK)
        return rc;
    rec->status = body [12];
    rec->payload = body + ZX_REPLY_FIXED;
    rec->payload_size = size - ZX_REPLY_FIXED;
    return ZX_OK;
}

char *
zx__error_payload (const char *message, const zx__error_detail_t *detail, size_t *size)
{
    char pid [24] = "";
    if (detail->pid > 0)
        snprintf (pid, sizeof pid, "%lld", (long long) detail->pid);
    const char *keys [] = { "task", "host", "pid", "thread", "where" };
    const char *values [] = { detail->task, detail->host, pid [0] ? pid : NULL,
                              detail->thread, detail->where };
    size_t length = strlen (message) + 1;
    for (size_t i = 0; i < 5; i++)
        if (values [i])
            length += strlen (keys [i]) + 1 + strlen (values [i]) + 1;
    char *payload = malloc (length);
    if (!payload)
        return NULL;
    char *cursor = payload + strlen (message) + 1;
    memcpy (payload, message, strlen (message) + 1);
    for (size_t i = 0; i < 5; i++)
        if (values [i]) {
            //  A NUL inside a value would end it early: harmless
            cursor += sprintf (cursor, "%s=%s", keys [i], values [i]) + 1;
        }
    *size = length;
    return payload;
}

bool
zx__error_detail_read (const void *payload, size_t size, zx__error_detail_t *detail)
{
    memset (detail, 0, sizeof *detail);
    const char *cursor = memchr (payload, 0, size);
    const char *end = (const char *) payload + size;
    if (!cursor)
        return false;
    bool any = false;
    for (cursor++; cursor < end; ) {
        const char *stop = memchr (cursor, 0, (size_t) (end - cursor));
        if (!stop)
            break;                  //  Not NUL-terminated: dropped
        const char *equals = strchr (cursor, '=');
        if (equals) {
            size_t key = (size_t) (equals - cursor);
            const char *value = equals + 1;
            if (key == 4 && !memcmp (cursor, "task", 4))
                detail->task = value;
            else
            if (key == 4 && !memcmp (cursor, "host", 4))
                detail->host = value;
            else
            if (key == 3 && !memcmp (cursor, "pid", 3))
                detail->pid = strtoll (value, NULL, 10);
            else
            if (key == 6 && !memcmp (cursor, "thread", 6))
                detail->thread = value;
            else
            if (key == 5 && !memcmp (cursor, "where", 5))
                detail->where = value;
            any = true;
        }
        cursor = stop + 1;
    }
    return any;
}

zx__status_t
zx__status_from_err (zx_err_t code)
{
    switch (code) {
        case ZX_OK:             return ZX_STATUS_OK;
        case ZX_ECANCELLED:     return ZX_STATUS_CANCELLED;
        case ZX_EWORKER_LOST:   return ZX_STATUS_WORKER_LOST;
        case ZX_ETIMEDOUT:      return ZX_STATUS_TIMED_OUT;
        case ZX_ENOTASK:        return ZX_STATUS_NO_SUCH_TASK;
        case ZX_ETYPE:          return ZX_STATUS_TYPE_ERROR;
        case ZX_EPROTO:         return ZX_STATUS_BAD_REQUEST;
        case ZX_ENOWORKERS:     return ZX_STATUS_NO_WORKERS;
        case ZX_EQUEUE_FULL:    return ZX_STATUS_QUEUE_FULL;
        case ZX_ESHUTDOWN:      return ZX_STATUS_SHUTDOWN;
        default:                return ZX_STATUS_TASK_ERROR;
    }
}

zx_err_t
zx__status_to_err (uint8_t status)
{
    switch (status) {
        case ZX_STATUS_OK:           return ZX_OK;
        case ZX_STATUS_TASK_ERROR:   return ZX_ETASK;
        case ZX_STATUS_CANCELLED:    return ZX_ECANCELLED;
        case ZX_STATUS_WORKER_LOST:  return ZX_EWORKER_LOST;
        case ZX_STATUS_TIMED_OUT:    return ZX_ETIMEDOUT;
        case ZX_STATUS_NO_SUCH_TASK: return ZX_ENOTASK;
        case ZX_STATUS_TYPE_ERROR:   return ZX_ETYPE;
        case ZX_STATUS_NO_WORKERS:   return ZX_ENOWORKERS;
        case ZX_STATUS_QUEUE_FULL:   return ZX_EQUEUE_FULL;
        case ZX_STATUS_SHUTDOWN:     return ZX_ESHUTDOWN;
        default:                     return ZX_EPROTO;
    }
}

//  --------------------------------------------------------------------
//  Receiving messages

//  Empties the decoded fields, which come before the frames in zx__msg_t
static void
s_msg_reset (zx__msg_t *msg)
{
    memset (msg, 0, offsetof (zx__msg_t, frames));
}

static const uint8_t *
s_data (zmq_msg_t *frame)
{
    return (const uint8_t *) zmq_msg_data (frame);
}

static void
s_decode_ready (zx__msg_t *msg, zmq_msg_t *body, size_t count)
{
    //  service | info | [name]
    msg->extra = count > 3 ? count - 3 : 0;
    if (msg->face != ZX_FACE_WORKER || count < 1)
        return;
    //  The service even when the info frame is missing or bad: see zx__msg_t
    msg->service = s_data (&body [0]);
    msg->service_size = zmq_msg_size (&body [0]);
    if (count < 2)
        return;
    size_t info_size = zmq_msg_size (&body [1]);
    if (info_size != ZX_READY_INFO_SIZE && info_size != ZX_READY_INFO_SIZE_V0)
        return;
    const uint8_t *info = s_data (&body [1]);
    msg->ready.credits = zx__get_u32 (info);
    msg->ready.max_tasks = zx__get_u32 (info + 4);
    msg->ready.pid = zx__get_u32 (info + 8);
    msg->ready.parallel = info_size == ZX_READY_INFO_SIZE ? zx__get_u32 (info + 12) : 1;
    if (count > 2) {
        msg->name = s_data (&body [2]);
        msg->name_size = zmq_msg_size (&body [2]);
    }
    //  Features: a frame after the name, still counted in extra, which an
    //  older dispatcher ignores
    if (count > 3 && zmq_msg_size (&body [3]) == 4)
        msg->ready.features = zx__get_u32 (s_data (&body [3]));
    //  Host: after the features, of its exact size, else ignored
    if (count > 4 && zmq_msg_size (&body [4]) == ZX_READY_HOST_SIZE) {
        const uint8_t *host = s_data (&body [4]);
        msg->ready.cpus = zx__get_u32 (host);
        memcpy (msg->ready.host, host + 4, ZX_HOST_ID_SIZE);
    }
    msg->ok = true;
}

//  A REQUEST or REPLY with frames after its batch (body [defined - 1]):
//  framed when it is exactly one frame and the batch exactly one record
//  marked framed with nothing of its own to carry; else frame_error says
//  why, and the frames stay extra.
static void
s_decode_framed (zx__msg_t *msg, zmq_msg_t *body, size_t count, size_t defined)
{
    if (count <= defined || !msg->batch)
        return;
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    bool marked = false, empty = false;
    zx_err_t rc;
    if (msg->command == ZX_CMD_REQUEST) {
        zx__request_rec_t rec;
        rc = zx__batch_next_request (&cursor, end, &rec);
        marked = rc == ZX_OK && (rec.flags & ZX_FLAG_FRAMED);
        empty = rc == ZX_OK && rec.args_size == 0;
    }
    else {
        zx__reply_rec_t rec;
        rc = zx__batch_next_reply (&cursor, end, &rec);
        marked = rc == ZX_OK && (rec.status & ZX_STATUS_FRAMED);
        empty = rc == ZX_OK && rec.payload_size == 0;
    }
    if (rc != ZX_OK || !marked)
        msg->frame_error = "a frame after the batch, but no record marked framed";
    else
    if (count > defined + 1)
        msg->frame_error = "more than one frame after the batch: a framed record has one";
    else
    if (cursor != end)
        msg->frame_error = "a framed record must be the only record of its batch";
    else
    if (!empty)
        msg->frame_error = "a framed record must carry nothing in the batch itself";
    else {
        msg->frame = &body [defined];
        msg->extra = 0;
    }
}

static void
s_decode_request (zx__msg_t *msg, zmq_msg_t *body, size_t count)
{
    //  Worker face: batch. Client face: service | batch.
    size_t defined = msg->face == ZX_FACE_CLIENT ? 2 : 1;
    msg->extra = count > defined ? count - defined : 0;
    if (count < defined)
        return;
    msg->batch = s_data (&body [defined - 1]);
    msg->batch_size = zmq_msg_size (&body [defined - 1]);
    if (msg->face == ZX_FACE_CLIENT) {
        //  Set whatever its size, and the batch too: see zx__msg_t
        msg->service = s_data (&body [0]);
        msg->service_size = zmq_msg_size (&body [0]);
        if (msg->service_size == 0 || msg->service_size > 255)
            return;
    }
    msg->ok = true;
    s_decode_framed (msg, body, count, defined);
}

static void
s_decode_body (zx__msg_t *msg, zmq_msg_t *body, size_t count)
{
    //  Every command but READY defines at most one frame
    if (msg->command != ZX_CMD_READY)
        msg->extra = count > 1 ? count - 1 : 0;
    switch (msg->command) {
        case ZX_CMD_READY:
            s_decode_ready (msg, body, count);
            break;
        case ZX_CMD_REQUEST:
            s_decode_request (msg, body, count);
            break;
        case ZX_CMD_REPLY:
            if (count >= 1) {
                msg->batch = s_data (&body [0]);
                msg->batch_size = zmq_msg_size (&body [0]);
                msg->ok = true;
                s_decode_framed (msg, body, count, 1);
            }
            break;
        case ZX_CMD_HEARTBEAT:
            //  The interval only from a lone frame: see zx__heartbeat_learn
            if (count == 1)
                zx__heartbeat_learn (&msg->interval, s_data (&body [0]),
                                     zmq_msg_size (&body [0]));
            msg->ok = true;
            break;
        case ZX_CMD_DISCONNECT:
            msg->reason = ZX_BYE_NORMAL;
            if (count >= 1 && zmq_msg_size (&body [0]) >= 1) {
                msg->reason = s_data (&body [0]) [0];
                msg->text = s_data (&body [0]) + 1;
                msg->text_size = zmq_msg_size (&body [0]) - 1;
            }
            msg->ok = true;
            break;
        case ZX_CMD_CANCEL:
            if (count >= 1) {
                msg->ids = s_data (&body [0]);
                msg->id_count = zmq_msg_size (&body [0]) / 8;
                msg->ok = true;
            }
            break;
        case ZX_CMD_STATS:
            //  A question has no frame, an answer one: the client face only
            if (msg->face == ZX_FACE_CLIENT) {
                if (count >= 1) {
                    msg->batch = s_data (&body [0]);
                    msg->batch_size = zmq_msg_size (&body [0]);
                }
                msg->ok = true;
            }
            break;
        default:
            msg->extra = 0;
    }
}

zx__recv_t
zx__msg_decode (zx__msg_t *msg, zmq_msg_t *frames, size_t count, zx__face_t face, bool routed)
{
    s_msg_reset (msg);
    msg->frames = frames;
    msg->count = count;
    msg->owned = frames == msg->own;        //  Else the caller's to close
    size_t first = routed ? 1 : 0;
    if (routed && count >= 1) {
        msg->identity = s_data (&frames [0]);
        msg->identity_size = zmq_msg_size (&frames [0]);
    }
    if (count < first + 2
    ||  zmq_msg_size (&frames [first]) != ZX_PROTO_WORKER_LEN
    ||  zmq_msg_size (&frames [first + 1]) != 1)
        return ZX_RECV_MALFORMED;
    const uint8_t *header = s_data (&frames [first]);
    zx__face_t found = memcmp (header, ZX_PROTO_WORKER, ZX_PROTO_WORKER_LEN) == 0
                     ? ZX_FACE_WORKER
                     : memcmp (header, ZX_PROTO_CLIENT, ZX_PROTO_CLIENT_LEN) == 0
                     ? ZX_FACE_CLIENT : ZX_FACE_ANY;
    if (found == ZX_FACE_ANY)
        return face == ZX_FACE_ANY ? ZX_RECV_UNKNOWN_FACE : ZX_RECV_MALFORMED;
    if (face != ZX_FACE_ANY && found != face)
        return ZX_RECV_MALFORMED;
    msg->face = found;
    msg->command = s_data (&frames [first + 1]) [0];
    s_decode_body (msg, frames + first + 2, count - first - 2);
    return ZX_RECV_OK;
}

static zx__recv_t
s_recv (void *socket, zx__memq_t *hub, zx__memq_peer_t *peer, zx__face_t face,
        zx__msg_t *msg, bool routed)
{
    s_msg_reset (msg);
    msg->frames = msg->own;
    msg->owned = true;
    bool overflow;
    size_t max = routed ? ZX_ROUTER_MAX_FRAMES : ZX_DEALER_MAX_FRAMES;
    msg->count = socket ? zx__recv_message (socket, msg->own, max, &overflow)
                        : zx__memq_recv (hub, peer, msg->own, max, &overflow);
    if (msg->count == 0)
        return ZX_RECV_NONE;
    if (!overflow)
        return zx__msg_decode (msg, msg->own, msg->count, face, routed);
    //  The first frame is the message's own even so
    if (routed) {
        msg->identity = s_data (&msg->own [0]);
        msg->identity_size = zmq_msg_size (&msg->own [0]);
    }
    return ZX_RECV_TOO_MANY;
}

zx__recv_t
zx__recv_dealer (void *socket, zx__face_t face, zx__msg_t *msg)
{
    return s_recv (socket, NULL, NULL, face, msg, false);
}

zx__recv_t
zx__recv_router (void *socket, zx__face_t face, zx__msg_t *msg)
{
    return s_recv (socket, NULL, NULL, face, msg, true);
}

zx__recv_t
zx__recv_memq (zx__memq_t *hub, zx__memq_peer_t *peer, zx__face_t face, zx__msg_t *msg)
{
    return s_recv (NULL, hub, peer, face, msg, peer == NULL);
}

zx__recv_t
zx__recv_dealer_loop (void *socket, zx__face_t face, zx__msg_t *msg, zx_logger_t *log,
                      zx__peer_t *peer)
{
    zx__recv_t rc = s_recv (socket, NULL, NULL, face, msg, false);
    if (rc == ZX_RECV_TOO_MANY) {
        zx_log_warning (log, "message with more than %d frames: dropped", ZX_DEALER_MAX_FRAMES);
        zx__msg_close (msg);
    }
    else
    if (rc != ZX_RECV_NONE && peer) {
        peer->heard_us = zx__now_us ();
        if (rc == ZX_RECV_OK && msg->command == ZX_CMD_HEARTBEAT && msg->interval)
            peer->heartbeat_ms = msg->interval;
    }
    return rc;
}

void
zx__msg_close (zx__msg_t *msg)
{
    if (msg->owned)
        for (size_t i = 0; i < msg->count; i++)
            zmq_msg_close (&msg->own [i]);
    s_msg_reset (msg);
    msg->frames = NULL;
    msg->count = 0;
    msg->owned = false;
}

void
zx__msg_bye_text (const zx__msg_t *msg, char *text, size_t size)
{
    size_t length = msg->text_size < size - 1 ? msg->text_size : size - 1;
    if (length)
        memcpy (text, msg->text, length);
    text [length] = 0;
    for (size_t i = 0; i < length; i++)
        if ((unsigned char) text [i] < 32)
            text [i] = '?';
}

const char *
zx__msg_gets (const zx__msg_t *msg, const char *property)
{
    //  Metadata rides on the frames the peer sent, not on the routing id
    size_t first = msg->identity ? 1 : 0;
    return first < msg->count ? zmq_msg_gets (&msg->frames [first], property) : NULL;
}

//  --------------------------------------------------------------------
//  Sending messages

//  Sends [identity] | header | command | count body frames | [tail],
//  tail a frame sent as it is (zmq_msg_send: no copy), left empty once
//  sent.
static zx_err_t
s_send_tail (const zx__route_t *route, uint8_t command, const void *const *body,
             const size_t *body_sizes, size_t count, zmq_msg_t *tail)
{
    const void *frames [8];
    size_t sizes [8], n = 0;
    bool memq = route->hub || route->peer;
    if (route->identity && !memq) {
        frames [n] = route->identity;
        sizes [n++] = route->identity_size;
    }
    frames [n] = route->face == ZX_FACE_CLIENT ? ZX_PROTO_CLIENT : ZX_PROTO_WORKER;
    sizes [n++] = ZX_PROTO_WORKER_LEN;
    frames [n] = &command;
    sizes [n++] = 1;
    for (size_t i = 0; i < count && n < 8; i++) {
        frames [n] = body [i];
        sizes [n++] = body_sizes [i];
    }
    if (memq)
        return zx__memq_send (route->peer ? NULL : route->hub, route->peer, route->identity,
                              route->identity_size, frames, sizes, n, tail);
    if (!tail)
        return zx__send_frames (route->socket, frames, sizes, n, route->flags);
    //  A ROUTER refuses (or a DEALER blocks) on the first frame only: once
    //  that went, the rest goes
    for (size_t i = 0; i < n; i++)
        if (zmq_send (route->socket, frames [i], sizes [i], route->flags | ZMQ_SNDMORE) < 0)
            return ZX_ESYS;
    return zmq_msg_send (tail, route->socket, route->flags) < 0 ? ZX_ESYS : ZX_OK;
}

static zx_err_t
s_send (const zx__route_t *route, uint8_t command, const void *const *body,
        const size_t *body_sizes, size_t count)
{
    return s_send_tail (route, command, body, body_sizes, count, NULL);
}

zx_err_t
zx__send_stats (const zx__route_t *route, const void *body, size_t size)
{
    const void *frames [1] = { body };
    size_t sizes [1] = { size };
    return s_send (route, ZX_CMD_STATS, frames, sizes, body && size ? 1 : 0);
}

zx_err_t
zx__send_ready (const zx__route_t *route, const char *service, const zx__ready_t *ready,
                const char *name)
{
    if (!service || !name || !ready)
        return ZX_EINVAL;
    uint8_t info [ZX_READY_INFO_SIZE];
    zx__put_u32 (info, ready->credits);
    zx__put_u32 (info + 4, ready->max_tasks);
    zx__put_u32 (info + 8, ready->pid);
    zx__put_u32 (info + 12, ready->parallel);
    uint8_t features [4];
    zx__put_u32 (features, ready->features);
    uint8_t host [ZX_READY_HOST_SIZE];
    zx__put_u32 (host, ready->cpus);
    memcpy (host + 4, ready->host, ZX_HOST_ID_SIZE);
    const void *body [] = { service, info, name, features, host };
    size_t sizes [] = { strlen (service), sizeof info, strlen (name), sizeof features,
                        sizeof host };
    return s_send (route, ZX_CMD_READY, body, sizes,
                   ready->cpus ? 5 : ready->features ? 4 : 3);
}

zx_err_t
zx__send_request_batch (const zx__route_t *route, const char *service,
                        const zx__batch_t *batch)
{
    if (route->face == ZX_FACE_CLIENT) {
        size_t service_size = service ? strlen (service) : 0;
        if (service_size == 0 || service_size > 255)
            return ZX_EINVAL;
        const void *body [] = { service, batch->data };
        size_t sizes [] = { service_size, batch->size };
        return s_send (route, ZX_CMD_REQUEST, body, sizes, 2);
    }
    if (service)
        return ZX_EINVAL;
    const void *body [] = { batch->data };
    size_t sizes [] = { batch->size };
    return s_send (route, ZX_CMD_REQUEST, body, sizes, 1);
}

zx_err_t
zx__send_reply_batch (const zx__route_t *route, const zx__batch_t *batch)
{
    const void *body [] = { batch->data };
    size_t sizes [] = { batch->size };
    return s_send (route, ZX_CMD_REPLY, body, sizes, 1);
}

zx_err_t
zx__send_request_framed (const zx__route_t *route, const char *service, uint64_t corr,
                         uint32_t attempt, uint8_t flags, const char *name, size_t name_len,
                         zmq_msg_t *frame)
{
    size_t service_size = service ? strlen (service) : 0;
    if ((route->face == ZX_FACE_CLIENT) != (service_size > 0) || service_size > 255)
        return ZX_EINVAL;
    //  One record with no arguments: on the stack
    uint8_t record [4 + ZX_REQUEST_FIXED + 255];
    zx__batch_t batch = { record, 0, sizeof record, 0 };
    zx_err_t rc = zx__batch_add_request (&batch, corr, attempt, flags | ZX_FLAG_FRAMED,
                                         name, name_len, NULL, 0);
    if (rc != ZX_OK)
        return rc;
    const void *body [] = { service, batch.data };
    size_t sizes [] = { service_size, batch.size };
    return service
        ? s_send_tail (route, ZX_CMD_REQUEST, body, sizes, 2, frame)
        : s_send_tail (route, ZX_CMD_REQUEST, body + 1, sizes + 1, 1, frame);
}

zx_err_t
zx__send_reply_framed (const zx__route_t *route, uint64_t corr, uint32_t attempt,
                       uint8_t status, zmq_msg_t *frame)
{
    uint8_t record [4 + ZX_REPLY_FIXED];
    zx__batch_t batch = { record, 0, sizeof record, 0 };
    zx_err_t rc = zx__batch_add_reply (&batch, corr, attempt, status | ZX_STATUS_FRAMED,
                                       NULL, 0);
    if (rc != ZX_OK)
        return rc;
    const void *body [] = { batch.data };
    size_t sizes [] = { batch.size };
    return s_send_tail (route, ZX_CMD_REPLY, body, sizes, 1, frame);
}

zx_err_t
zx__send_heartbeat (const zx__route_t *route, uint32_t interval_ms)
{
    uint8_t interval [4];
    zx__put_u32 (interval, interval_ms);
    const void *body [] = { interval };
    size_t sizes [] = { sizeof interval };
    return s_send (route, ZX_CMD_HEARTBEAT, body, sizes, interval_ms ? 1 : 0);
}

//  Sends command with one body frame of size bytes that fill makes, in a
//  buffer on the stack when it is small.
static zx_err_t
s_send_built (const zx__route_t *route, uint8_t command, size_t size,
              void (*fill) (uint8_t *out, const void *arg), const void *arg)
{
    uint8_t small [256];
    uint8_t *body = size <= sizeof small ? small : malloc (size);
    if (!body)
        return ZX_ENOMEM;
    fill (body, arg);
    const void *frames [] = { body };
    zx_err_t rc = s_send (route, command, frames, &size, 1);
    if (body != small) {
        int error = errno;
        free (body);
        errno = error;
    }
    return rc;
}

typedef struct {
    uint8_t reason;
    const char *text;
    size_t text_size;
} s_bye_t;

static void
s_fill_bye (uint8_t *out, const void *arg)
{
    const s_bye_t *bye = (const s_bye_t *) arg;
    out [0] = bye->reason;
    if (bye->text_size)
        memcpy (out + 1, bye->text, bye->text_size);
}

zx_err_t
zx__send_disconnect (const zx__route_t *route, uint8_t reason, const char *text)
{
    s_bye_t bye = { reason, text, text ? strlen (text) : 0 };
    return s_send_built (route, ZX_CMD_DISCONNECT, 1 + bye.text_size, s_fill_bye, &bye);
}

typedef struct {
    const uint64_t *ids;
    size_t count;
} s_ids_t;

static void
s_fill_ids (uint8_t *out, const void *arg)
{
    const s_ids_t *ids = (const s_ids_t *) arg;
    for (size_t i = 0; i < ids->count; i++)
        zx__put_u64 (out + 8 * i, ids->ids [i]);
}

zx_err_t
zx__send_cancel (const zx__route_t *route, const uint64_t *ids, size_t count)
{
    if (!ids || count == 0 || count > SIZE_MAX / 8)
        return ZX_EINVAL;
    s_ids_t list = { ids, count };
    return s_send_built (route, ZX_CMD_CANCEL, 8 * count, s_fill_ids, &list);
}

//  --------------------------------------------------------------------
//  Labels and raw frames

void
zx__label (char *label, size_t size, const void *identity, size_t identity_size)
{
    const uint8_t *octets = (const uint8_t *) identity;
    size_t at = 0;
    for (size_t i = 0; i < identity_size && at + 5 < size; i++) {
        if (isprint (octets [i]) && octets [i] != '\\')
            label [at++] = (char) octets [i];
        else
            at += (size_t) snprintf (label + at, size - at, "\\x%02x", octets [i]);
    }
    label [at] = 0;
}

zx_err_t
zx__send_frames (void *socket, const void *const *frames, const size_t *sizes,
                 size_t count, int flags)
{
    for (size_t i = 0; i < count; i++) {
        int more = i + 1 < count ? ZMQ_SNDMORE : 0;
        if (zmq_send (socket, frames [i], sizes [i], flags | more) < 0)
            return ZX_ESYS;
    }
    return ZX_OK;
}

size_t
zx__recv_message (void *socket, zmq_msg_t *frames, size_t max, bool *overflow)
{
    size_t count = 0;
    bool more = true;
    *overflow = false;
    while (more) {
        //  Past max, keep draining into the last slot, keeping nothing
        zmq_msg_t *frame = &frames [count < max ? count : max - 1];
        if (count >= max) {
            zmq_msg_close (frame);
            *overflow = true;
        }
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (frame);
            break;
        }
        more = zmq_msg_more (frame);
        if (count < max)
            count++;
    }
    return count;
}
