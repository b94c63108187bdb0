/*  zx_proto.h - internal: the ZXW01 worker protocol, frames and records.

    docs/PROTOCOL.md is the specification; this is its codec. A message on
    the worker face is, after the ROUTER's identity frame:

        "ZXW01" | command (1 byte) | command-specific frames

    REQUEST and REPLY carry a batch frame: records, each prefixed with its
    size as a uint32, so one message moves many tasks. Everything here is
    little-endian, and every decoder checks every length against what is
    left: the bytes may come from a hostile peer.                        */
#ifndef ZX_PROTO_H_INCLUDED
#define ZX_PROTO_H_INCLUDED
#include "zexec.h"
#include <zmq.h>

#define ZX_PROTO_WORKER         "ZXW01"
#define ZX_PROTO_WORKER_LEN     5

//  The client face, spoken by coordinators to a broker: "ZXC01" | command
//  | frames. REQUEST carries service | batch of request records, REPLY a
//  batch of reply records, CANCEL correlation ids; HEARTBEAT and
//  DISCONNECT as on the worker face. Correlation ids are the client's.
#define ZX_PROTO_CLIENT         "ZXC01"
#define ZX_PROTO_CLIENT_LEN     5

typedef enum {
    ZX_CMD_READY      = 0x01,   //  W->D: service | info | name
    ZX_CMD_REQUEST    = 0x02,   //  D->W: batch of request records
    ZX_CMD_REPLY      = 0x03,   //  W->D: batch of reply records
    ZX_CMD_HEARTBEAT  = 0x04,   //  both ways: [interval (u32 ms)]
    ZX_CMD_DISCONNECT = 0x05,   //  both ways: reason (1 byte) | text
    ZX_CMD_CANCEL     = 0x06    //  D->W: correlation ids, 8 bytes each
} zx__cmd_t;

//  Reply status byte
typedef enum {
    ZX_STATUS_OK          = 0,  //  payload: encoded result values
    ZX_STATUS_TASK_ERROR  = 1,  //  payload: message text (also for the rest)
    ZX_STATUS_CANCELLED   = 2,
    ZX_STATUS_WORKER_LOST = 3,
    ZX_STATUS_TIMED_OUT   = 4,
    ZX_STATUS_NO_SUCH_TASK = 5,
    ZX_STATUS_TYPE_ERROR  = 6,
    ZX_STATUS_BAD_REQUEST = 7,
    ZX_STATUS_NO_WORKERS  = 8,  //  From a broker: no worker for the service
    ZX_STATUS_QUEUE_FULL  = 9,  //  From a broker: its queue is full
    ZX_STATUS_SHUTDOWN    = 10  //  From a broker: it is shutting down
} zx__status_t;

//  DISCONNECT reasons
typedef enum {
    ZX_BYE_NORMAL     = 0,      //  Shutting down, or asked to
    ZX_BYE_RETIRING   = 1,      //  max_tasks reached
    ZX_BYE_INIT_FAILED = 2,     //  The initializer failed: text says why
    ZX_BYE_PROTOCOL   = 3,      //  The peer broke the protocol
    ZX_BYE_LOST       = 4       //  Not sent: a worker declared lost locally
} zx__bye_t;

//  Request flags: the low 4 bits are how many times a request may be sent
//  to another worker after the one holding it was lost
#define ZX_FLAG_RETRIES 0x0F

//  READY's info frame: credits | max_tasks | pid | parallel, uint32 each.
//  parallel is how many tasks the worker runs at once (a remote worker
//  fronting a pool runs several); a 12-byte frame without it means 1.
#define ZX_READY_INFO_SIZE 16
#define ZX_READY_INFO_SIZE_V0 12

//  Fixed part of a request record after its size: corr (8) attempt (4)
//  flags (1) name length (1); then the name, then the encoded arguments
#define ZX_REQUEST_FIXED 14
//  Fixed part of a reply record after its size: corr (8) attempt (4)
//  status (1); then the payload
#define ZX_REPLY_FIXED 13

typedef struct {
    uint64_t corr;
    uint32_t attempt;
    uint8_t flags;
    const char *name;           //  Not NUL-terminated: name_len bytes
    uint8_t name_len;
    const uint8_t *args;
    size_t args_size;
} zx__request_rec_t;

typedef struct {
    uint64_t corr;
    uint32_t attempt;
    uint8_t status;
    const uint8_t *payload;
    size_t payload_size;
} zx__reply_rec_t;

//  A growable byte buffer for building batch frames.
typedef struct {
    uint8_t *data;
    size_t size, cap;
    size_t records;
} zx__batch_t;

//  Appends one record. Return ZX_OK, ZX_EINVAL (name empty or over 255
//  bytes) or ZX_ENOMEM.
zx_err_t zx__batch_add_request (zx__batch_t *batch, uint64_t corr, uint32_t attempt,
                                uint8_t flags, const char *name, size_t name_len,
                                const void *args, size_t args_size);
zx_err_t zx__batch_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt,
                              uint8_t status, const void *payload, size_t payload_size);

//  Empties the batch, keeping its memory; zx__batch_free releases it.
void zx__batch_clear (zx__batch_t *batch);
void zx__batch_free (zx__batch_t *batch);

//  Decode the next record at *cursor (before end), advancing *cursor.
//  Return ZX_OK, ZX_EPENDING at the end of the batch, or ZX_EPROTO when
//  the record is malformed (the rest of the batch must be dropped).
//  Pointers in the record point into the batch.
zx_err_t zx__batch_next_request (const uint8_t **cursor, const uint8_t *end,
                                 zx__request_rec_t *rec);
zx_err_t zx__batch_next_reply (const uint8_t **cursor, const uint8_t *end,
                               zx__reply_rec_t *rec);

//  Maps between reply statuses and error codes. Unknown statuses map to
//  ZX_EPROTO.
zx__status_t zx__status_from_err (zx_err_t code);
zx_err_t zx__status_to_err (uint8_t status);

//  Senders flush a batch once it holds this many bytes: glibc consolidates
//  its heap on every free of 64 KiB or more, which a bigger message costs
//  at the sender, in libzmq, and at the receiver; and a batch of a million
//  records would be copied whole. One record past it is fine.
#define ZX_BATCH_FLUSH_BYTES    (32 * 1024)

//  Little-endian helpers, inline: they run for every field of every
//  record, and the compiler turns each byte loop into one load or store.
static inline void
zx__put_u32 (uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out [i] = (uint8_t) (value >> (8 * i));
}

static inline void
zx__put_u64 (uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out [i] = (uint8_t) (value >> (8 * i));
}

static inline uint32_t
zx__get_u32 (const uint8_t *in)
{
    uint32_t value = 0;
    for (int i = 3; i >= 0; i--)
        value = (value << 8) | in [i];
    return value;
}

static inline uint64_t
zx__get_u64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | in [i];
    return value;
}

//  A HEARTBEAT may carry its sender's heartbeat interval in ms (u32), so
//  that peers set up with different intervals do not call each other
//  silent: each side waits liveness times the longer of the two. Stores
//  the interval in a heartbeat body of size bytes in *interval; a body
//  that is not 4 bytes or says 0 or more than a minute (a peer may not
//  make itself all but impossible to call silent) leaves it as it was.
#define ZX_HEARTBEAT_MAX_MS     60000

static inline void
zx__heartbeat_learn (uint32_t *interval, const void *body, size_t size)
{
    if (body && size == 4) {
        uint32_t announced = zx__get_u32 ((const uint8_t *) body);
        if (announced > 0 && announced <= ZX_HEARTBEAT_MAX_MS)
            *interval = announced;
    }
}

//  The silence, in microseconds, after which a peer counts as lost: our
//  liveness times the longer of our interval and the one it announced.
static inline int64_t
zx__silence_us (int heartbeat_ms, int liveness, uint32_t peer_ms)
{
    int64_t interval = peer_ms > (uint32_t) heartbeat_ms ? (int64_t) peer_ms : heartbeat_ms;
    return interval * liveness * 1000;
}

//  Receives one whole message waiting on a libzmq socket, without
//  blocking, into frames [0 .. max). Returns how many frames it holds (0
//  when nothing was waiting). A message of more than max frames is read
//  to its end and *overflow set: the frames returned are then not the
//  message's and are only to be closed. The caller closes every frame.
size_t zx__recv_message (void *socket, zmq_msg_t *frames, size_t max, bool *overflow);

//  Sends a message of count frames over a libzmq socket; frame i has
//  sizes [i] bytes at frames [i]. Returns ZX_OK, or ZX_ESYS with errno set
//  (EHOSTUNREACH when a ROUTER peer is gone, EAGAIN when it would block).
zx_err_t zx__send_frames (void *socket, const void *const *frames,
                          const size_t *sizes, size_t count, int flags);

#endif
