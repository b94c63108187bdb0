/*  zx_proto.c - codec for ZXW01 batches and frames.

    DESIGN: records are length-prefixed so a decoder can always find the
    next one, and every read is checked against the end of the frame
    before it happens; nothing here trusts a byte it has not bounded.    */

#include "zx_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static zx_err_t
s_reserve (zx__batch_t *batch, size_t more)
{
    if (batch->cap - batch->size >= more)
        return ZX_OK;
    size_t cap = batch->cap ? batch->cap : 256;
    while (cap - batch->size < more) {
        if (cap > SIZE_MAX / 2)
            return ZX_ENOMEM;
        cap *= 2;
    }
    uint8_t *grown = realloc (batch->data, cap);
    if (!grown)
        return ZX_ENOMEM;
    batch->data = grown;
    batch->cap = cap;
    return ZX_OK;
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
    size_t body = ZX_REQUEST_FIXED + name_len + args_size;
    if (body > SIZE_MAX - 4 || s_reserve (batch, 4 + body))
        return ZX_ENOMEM;
    uint8_t *out = batch->data + batch->size;
    zx__put_u32 (out, (uint32_t) body);
    zx__put_u64 (out + 4, corr);
    zx__put_u32 (out + 12, attempt);
    out [16] = flags;
    out [17] = (uint8_t) name_len;
    memcpy (out + 18, name, name_len);
    if (args_size)
        memcpy (out + 18 + name_len, args, args_size);
    batch->size += 4 + body;
    batch->records++;
    return ZX_OK;
}

zx_err_t
zx__batch_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt,
                     uint8_t status, const void *payload, size_t payload_size)
{
    if (payload_size > UINT32_MAX - ZX_REPLY_FIXED)
        return ZX_EINVAL;
    size_t body = ZX_REPLY_FIXED + payload_size;
    if (body > SIZE_MAX - 4 || s_reserve (batch, 4 + body))
        return ZX_ENOMEM;
    uint8_t *out = batch->data + batch->size;
    zx__put_u32 (out, (uint32_t) body);
    zx__put_u64 (out + 4, corr);
    zx__put_u32 (out + 12, attempt);
    out [16] = status;
    if (payload_size)
        memcpy (out + 17, payload, payload_size);
    batch->size += 4 + body;
    batch->records++;
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

//  Finds the next record's body: returns ZX_OK with *body and *size set,
//  ZX_EPENDING at the end, ZX_EPROTO when the size does not fit.
static zx_err_t
s_next_record (const uint8_t **cursor, const uint8_t *end,
               const uint8_t **body, size_t *size)
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
    return ZX_OK;
}

zx_err_t
zx__batch_next_request (const uint8_t **cursor, const uint8_t *end,
                        zx__request_rec_t *rec)
{
    const uint8_t *body;
    size_t size;
    zx_err_t rc = s_next_record (cursor, end, &body, &size);
    if (rc != ZX_OK)
        return rc;
    if (size < ZX_REQUEST_FIXED)
        return ZX_EPROTO;
    rec->corr = zx__get_u64 (body);
    rec->attempt = zx__get_u32 (body + 8);
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
    zx_err_t rc = s_next_record (cursor, end, &body, &size);
    if (rc != ZX_OK)
        return rc;
    if (size < ZX_REPLY_FIXED)
        return ZX_EPROTO;
    rec->corr = zx__get_u64 (body);
    rec->attempt = zx__get_u32 (body + 8);
    rec->status = body [12];
    rec->payload = body + ZX_REPLY_FIXED;
    rec->payload_size = size - ZX_REPLY_FIXED;
    return ZX_OK;
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
