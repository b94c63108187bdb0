/*  fuzz_batch.c - libFuzzer harness for the batch decoders of zx_proto.

    DESIGN: the input is one batch frame, as a REQUEST or REPLY message
    carries it, and it is decoded both ways, as request records (what a
    worker and the broker's client face read) and as reply records (what
    a dispatcher and a remote executor read), over the whole input. Every
    record returned must lie inside the input and inside the bytes its
    own size prefix claimed, the cursor must move forward and stay in the
    input, and the walk must end with ZX_EPENDING exactly at the end or
    with ZX_EPROTO. Encoding the records again must give back exactly the
    bytes consumed, so decoder and encoder agree on the format.          */
#include "fuzz.h"
#include "zx_proto.h"
#include <string.h>

static void
s_requests (const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *cursor = data;
    const uint8_t *consumed = data;     //  End of the last good record
    zx__batch_t batch = { 0 };
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        //  size | corr attempt flags name_len | name | args
        ZX_FUZZ_CHECK (cursor > consumed && cursor <= end);
        ZX_FUZZ_CHECK (zx_fuzz_inside ((const uint8_t *) rec.name, rec.name_len,
                                       consumed + 4 + ZX_REQUEST_FIXED, cursor));
        ZX_FUZZ_CHECK (rec.args == (const uint8_t *) rec.name + rec.name_len);
        ZX_FUZZ_CHECK (rec.args + rec.args_size == cursor);
        ZX_FUZZ_CHECK (rec.name_len > 0 && !memchr (rec.name, 0, rec.name_len));
        zx_fuzz_touch (rec.name, rec.name_len);
        zx_fuzz_touch (rec.args, rec.args_size);
        ZX_FUZZ_CHECK (zx__batch_add_request (&batch, rec.corr, rec.attempt, rec.flags,
                                              rec.name, rec.name_len,
                                              rec.args, rec.args_size) == ZX_OK);
        consumed = cursor;
    }
    ZX_FUZZ_CHECK (cursor >= consumed && cursor <= end);
    ZX_FUZZ_CHECK (rc == ZX_EPROTO || (rc == ZX_EPENDING && cursor == end));
    ZX_FUZZ_CHECK (batch.size == (size_t) (consumed - data));
    ZX_FUZZ_CHECK (batch.size == 0 || memcmp (batch.data, data, batch.size) == 0);
    zx__batch_free (&batch);
}

static void
s_replies (const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *cursor = data;
    const uint8_t *consumed = data;
    zx__batch_t batch = { 0 };
    zx__reply_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_reply (&cursor, end, &rec)) == ZX_OK) {
        //  size | corr attempt status | payload
        ZX_FUZZ_CHECK (cursor > consumed && cursor <= end);
        ZX_FUZZ_CHECK (zx_fuzz_inside (rec.payload, rec.payload_size,
                                       consumed + 4 + ZX_REPLY_FIXED, cursor));
        ZX_FUZZ_CHECK (rec.payload + rec.payload_size == cursor);
        zx_fuzz_touch (rec.payload, rec.payload_size);
        //  Every status byte maps to some error code
        zx_err_t code = zx__status_to_err (rec.status);
        ZX_FUZZ_CHECK (code <= ZX_ENOWORKERS);
        ZX_FUZZ_CHECK (zx__batch_add_reply (&batch, rec.corr, rec.attempt, rec.status,
                                            rec.payload, rec.payload_size) == ZX_OK);
        consumed = cursor;
    }
    ZX_FUZZ_CHECK (cursor >= consumed && cursor <= end);
    ZX_FUZZ_CHECK (rc == ZX_EPROTO || (rc == ZX_EPENDING && cursor == end));
    ZX_FUZZ_CHECK (batch.size == (size_t) (consumed - data));
    ZX_FUZZ_CHECK (batch.size == 0 || memcmp (batch.data, data, batch.size) == 0);
    zx__batch_free (&batch);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_requests (data, size);
    s_replies (data, size);
    return 0;
}
