/*  zx_proto.h - internal: the codec of ZXW01 and ZXC01, every byte of both.

    docs/PROTOCOL.md is the specification; this is its codec, and nothing
    else in zexec reads or writes the protocols' frames and offsets. A
    message is, after a ROUTER's identity frame:

        "ZXW01" or "ZXC01" | command (1 byte) | command-specific frames

    Receivers get a message decoded into a zx__msg_t (zx__recv_dealer,
    zx__recv_router); senders say what to send (zx__send_ready, ...).
    REQUEST and REPLY carry a batch frame: records, each prefixed with its
    size as a uint32, so one message moves many tasks. Everything here is
    little-endian, and every decoder checks every length against what is
    left: the bytes may come from a hostile peer.                        */
#ifndef ZX_PROTO_H_INCLUDED
#define ZX_PROTO_H_INCLUDED
#include "zexec.h"
#include "zx_memq.h"
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
    ZX_CMD_CANCEL     = 0x06,   //  D->W: correlation ids, 8 bytes each
    ZX_CMD_STATS      = 0x07    //  ZXC01 only: C->B none, B->C a MessagePack map
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
    ZX_STATUS_SHUTDOWN    = 10, //  From a broker: it is shutting down
    ZX_STATUS_STARTED     = 11  //  Not an end: the task has started (no payload)
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
//  Client face only (PROTOCOL.md section 13.7): the record's arguments
//  start with a target, one length octet (1 to 255) then the routing id
//  of the serving worker the request must go to; the broker strips it and
//  the bit before the worker face.
#define ZX_FLAG_TARGET 0x10
//  Framed payloads (PROTOCOL.md section 23). ZX_FLAG_FRAMED: the record's
//  arguments are not in it but in the one frame after the batch, of which
//  it is the only record. ZX_FLAG_FRAMED_REPLY: the sender takes this
//  request's reply framed too. ZX_STATUS_FRAMED, a reply status bit: the
//  payload is the one frame after the batch. Arguments and results of
//  ZX_FRAME_THRESHOLD bytes or more travel framed where the peer takes
//  them: a broker moves such a frame from one socket to the other without
//  copying it. A worker says it takes framed requests with ZX_FEATURE_FRAMED
//  in READY's features frame.
#define ZX_FLAG_FRAMED          0x20
#define ZX_FLAG_FRAMED_REPLY    0x40
#define ZX_STATUS_FRAMED        0x80
#define ZX_FRAME_THRESHOLD      (64 * 1024)
#define ZX_FEATURE_FRAMED       0x01

//  READY's info frame: credits | max_tasks | pid | parallel, uint32 each.
//  parallel is how many tasks the worker runs at once (a remote worker
//  fronting a pool runs several); a 12-byte frame without it means 1.
#define ZX_READY_INFO_SIZE 16
#define ZX_READY_INFO_SIZE_V0 12

//  READY's optional host frame, after the features frame: cpus (uint32:
//  the CPUs the worker's process may run on) | host id (16 octets: its
//  kernel's boot id, shared by every process, container and network
//  namespace on that machine). Workers that say the same host id share
//  those CPUs (docs/PROTOCOL.md, section 24).
#define ZX_HOST_ID_SIZE 16
#define ZX_READY_HOST_SIZE (4 + ZX_HOST_ID_SIZE)

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

//  What an error reply may say beyond its message (PROTOCOL.md section 8):
//  after the message text, a NUL, then "key=value" strings, each ended by
//  a NUL: task, host, pid, thread, where (file:line of the task's own
//  zx_call_fail). Receivers that know nothing of it cut the text at the
//  first NUL. Strings are NULL (or pid 0) when unknown.
typedef struct {
    const char *task;
    const char *host;
    int64_t pid;
    const char *thread;
    const char *where;
} zx__error_detail_t;

//  Makes an error payload: message, then detail's known fields. Returns a
//  malloc'd buffer of *size bytes (the caller frees it), or NULL when out
//  of memory.
char *zx__error_payload (const char *message, const zx__error_detail_t *detail, size_t *size);

//  Reads the details of an error payload of size bytes into detail, its
//  strings pointing into payload (which must stay), NULL for those it
//  lacks. Malformed or unknown fields are skipped. Returns true when the
//  payload held any detail at all.
bool zx__error_detail_read (const void *payload, size_t size, zx__error_detail_t *detail);

//  Maps between reply statuses and error codes. Unknown statuses map to
//  ZX_EPROTO.
zx__status_t zx__status_from_err (zx_err_t code);
zx_err_t zx__status_to_err (uint8_t status);

//  Senders flush a batch once it holds this many bytes: glibc consolidates
//  its heap on every free of 64 KiB or more, which a bigger message costs
//  at the sender, in libzmq, and at the receiver; and a batch of a million
//  records would be copied whole. One record past it is fine.
#define ZX_BATCH_FLUSH_BYTES    (32 * 1024)

//  Buffers past this size grow to what they need and an eighth more
//  rather than double (zx__batch_t here, values in actors/): see s_reserve.
#define ZX_GROW_EXACT           (1024 * 1024)

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

//  --------------------------------------------------------------------
//  Messages: every frame of ZXW01 and ZXC01 is read and written here

//  The two faces. ZX_FACE_ANY only receives (the broker's one ROUTER
//  carries both): the header then says which face a message is on.
typedef enum {
    ZX_FACE_ANY    = 0,
    ZX_FACE_WORKER = 1,         //  "ZXW01"
    ZX_FACE_CLIENT = 2          //  "ZXC01"
} zx__face_t;

//  READY's info frame
typedef struct {
    uint32_t credits;
    uint32_t max_tasks;         //  0: no limit
    uint32_t pid;
    uint32_t parallel;          //  1 when it came in the 12-octet form
    uint32_t features;          //  ZX_FEATURE_* from the features frame, 0 without
    uint32_t cpus;              //  From the host frame; 0 without (host unknown)
    uint8_t host [ZX_HOST_ID_SIZE];
} zx__ready_t;

//  The most frames a receiver reads of one message: a DEALER the header,
//  the command and two more; a ROUTER the identity and seven more. A
//  longer message is read to its end and dropped.
#define ZX_DEALER_MAX_FRAMES    4
#define ZX_ROUTER_MAX_FRAMES    8

//  One message as received. The fields a command defines point into its
//  frames and stay valid until zx__msg_close. Fields of other commands
//  are zero. A few are set whenever their frame is there, even when ok
//  is false because another frame is not well formed, for receivers that
//  judge a message frame by frame: READY's service (the broker opens the
//  service before its dispatcher reads the info frame), and on the
//  client face REQUEST's service and batch (the broker answers the
//  records of a request it refuses, whatever its service frame holds).
typedef struct {
    zx__face_t face;
    uint8_t command;
    const uint8_t *identity;    //  From a ROUTER: the sender's routing id
    size_t identity_size;
    //  ok: every frame the command defines is there and well formed (see
    //  zx__msg_decode). extra: how many frames follow those; version 1
    //  leaves them for compatible growth, and each receiver ignores them
    //  or refuses the message (docs/PROTOCOL.md, 16 and 17.1).
    bool ok;
    size_t extra;
    const uint8_t *service;     //  READY; REQUEST on the client face (any
                                //  size: see ok for the bounds)
    size_t service_size;
    zx__ready_t ready;          //  READY
    const uint8_t *name;        //  READY: the worker's label, may be empty
    size_t name_size;
    const uint8_t *batch;       //  REQUEST, REPLY: records (zx__batch_next_*);
                                //  STATS: the answer's map, when there is one
    size_t batch_size;
    uint8_t reason;             //  DISCONNECT: ZX_BYE_NORMAL when no bye frame
    const uint8_t *text;        //  DISCONNECT: the bye text, not terminated
    size_t text_size;
    size_t id_count;            //  CANCEL: ids, read with zx__msg_cancel_id
    const uint8_t *ids;
    uint32_t interval;          //  HEARTBEAT: the sender's interval, ms; 0 none
    //  REQUEST, REPLY: the frame after the batch when the batch is one
    //  record marked framed (ZX_FLAG_FRAMED, ZX_STATUS_FRAMED) with no
    //  arguments or payload of its own; then extra is 0. Otherwise frame
    //  is NULL and, when frames follow the batch, frame_error says what is
    //  wrong (for an error reply). See zx__msg_request_args.
    zmq_msg_t *frame;
    const char *frame_error;
    //  The frames, identity first from a ROUTER
    zmq_msg_t *frames;
    size_t count;
    bool owned;                 //  Received into own, closed by zx__msg_close
    zmq_msg_t own [ZX_ROUTER_MAX_FRAMES];
} zx__msg_t;

//  How many messages a receiver reads from its socket in one go before it
//  lets the loop run other work, for fairness.
#define ZX_RECV_BURST           4096
//  ... and for at most this long (checked before each message after the
//  first): 16 MiB replies, each decoded, read by the thousand would keep a
//  DEALER's loop from its timers, and so its heartbeats, for seconds
#define ZX_RECV_BURST_US        20000

//  What a receive made of the next message
typedef enum {
    ZX_RECV_NONE = 0,           //  Nothing was waiting
    ZX_RECV_OK,                 //  A good header and command: see msg->ok
    ZX_RECV_TOO_MANY,           //  More frames than the receiver reads: dropped
    ZX_RECV_MALFORMED,          //  Too few frames, a bad header or command frame
    ZX_RECV_UNKNOWN_FACE        //  ZX_FACE_ANY: a 5-octet header of neither face
} zx__recv_t;

//  Receives the next whole message waiting on a DEALER (or, with the
//  identity frame first, on a ROUTER) without blocking, and decodes it as
//  face speaks it (zx__msg_decode). Whatever it returns, msg holds the
//  frames read until zx__msg_close, which the caller must call; identity
//  is set from a ROUTER whenever a frame was read.
zx__recv_t zx__recv_dealer (void *socket, zx__face_t face, zx__msg_t *msg);
zx__recv_t zx__recv_router (void *socket, zx__face_t face, zx__msg_t *msg);

//  The same over a memq (zx_memq.h): from hub, as from a ROUTER (the
//  sender's id first), when peer is NULL; else from peer, as from a
//  DEALER.
zx__recv_t zx__recv_memq (zx__memq_t *hub, zx__memq_peer_t *peer, zx__face_t face,
                          zx__msg_t *msg);

//  What a DEALER keeps of the peer it reads from (a broker, to a client
//  or a serving worker) to tell when it falls silent: when it last heard
//  anything from it (any message counts as a heartbeat), and the
//  heartbeat interval the peer announced (0: none yet), which
//  zx__silence_us takes.
typedef struct {
    int64_t heard_us;
    uint32_t heartbeat_ms;
} zx__peer_t;

//  zx__recv_dealer for a DEALER's read loop (a pool worker's, a serving
//  worker's, a client's), with what they all do alike: a message of more
//  frames than a DEALER reads is logged on log and closed, and
//  ZX_RECV_TOO_MANY returned for the caller to skip it. Any other message
//  is news of peer (when not NULL): its heard_us becomes now, and the
//  interval a good HEARTBEAT announces its heartbeat_ms. Close msg as
//  after zx__recv_dealer.
zx__recv_t zx__recv_dealer_loop (void *socket, zx__face_t face, zx__msg_t *msg,
                                 zx_logger_t *log, zx__peer_t *peer);

//  Decodes the count frames of one message read elsewhere (identity first
//  when routed), which the caller keeps open and closes, into msg. The
//  message is: [identity] | header | command | frames. Returns
//  ZX_RECV_MALFORMED for fewer than 2 frames after the identity, a header
//  frame that is not the face's 5 octets, or a command frame not of 1
//  octet; ZX_RECV_UNKNOWN_FACE for a 5-octet header of neither face when
//  face is ZX_FACE_ANY; ZX_RECV_OK otherwise, with msg->ok set when the
//  frames after the command are those the command needs (more are
//  counted in msg->extra):
//  - READY (worker face): a service frame (any size: the broker checks
//    it), an info frame of 16 or 12 octets, then an optional name frame;
//  - REQUEST: a batch frame; on the client face a service frame of 1 to
//    255 octets before it;
//  - REPLY: a batch frame;
//  - HEARTBEAT: anything. interval is set from a lone frame of 4 octets
//    holding 1 to ZX_HEARTBEAT_MAX_MS, and is 0 otherwise;
//  - DISCONNECT: anything. reason and text come from the first frame when
//    it is not empty: a reason octet, then the text;
//  - CANCEL: a frame of ids, 8 octets each; a partial id at its end is
//    not counted;
//  - any other command, and READY on the client face: never ok.
zx__recv_t zx__msg_decode (zx__msg_t *msg, zmq_msg_t *frames, size_t count,
                           zx__face_t face, bool routed);

//  Points rec's arguments (a record of msg's batch) at msg's frame when
//  the record says they are framed. Returns false for a record marked
//  framed in a message without its frame: the caller refuses it.
static inline bool
zx__msg_request_args (const zx__msg_t *msg, zx__request_rec_t *rec)
{
    if (!(rec->flags & ZX_FLAG_FRAMED))
        return true;
    if (!msg->frame)
        return false;
    rec->args = (const uint8_t *) zmq_msg_data (msg->frame);
    rec->args_size = zmq_msg_size (msg->frame);
    return true;
}

//  The same for a reply record: its payload becomes msg's frame and the
//  framed bit leaves its status. A record marked framed without its
//  frame keeps the bit, an unknown status to the receiver (ZX_EPROTO).
static inline void
zx__msg_reply_payload (const zx__msg_t *msg, zx__reply_rec_t *rec)
{
    if ((rec->status & ZX_STATUS_FRAMED) && msg->frame) {
        rec->status &= (uint8_t) ~ZX_STATUS_FRAMED;
        rec->payload = (const uint8_t *) zmq_msg_data (msg->frame);
        rec->payload_size = zmq_msg_size (msg->frame);
    }
}

//  Closes the frames msg received itself (none when it was decoded from
//  someone else's) and empties it. Safe to call twice.
void zx__msg_close (zx__msg_t *msg);

//  Returns id index (below msg->id_count) of a CANCEL.
static inline uint64_t
zx__msg_cancel_id (const zx__msg_t *msg, size_t index)
{
    return zx__get_u64 (msg->ids + 8 * index);
}

//  Copies a DISCONNECT's text into text (size bytes, at least 1), cut to
//  size - 1 octets, every control octet (below 0x20, NUL included) shown
//  as '?', NUL-terminated: fit for a log line.
void zx__msg_bye_text (const zx__msg_t *msg, char *text, size_t size);

//  Returns the value of a metadata property libzmq attached to the
//  message ("User-Id": the CURVE key its sender authenticated with,
//  "Peer-Address": where it connected from), or NULL when there is none.
//  It is read from the first frame the peer sent: on a ROUTER the
//  routing id frame carries none.
const char *zx__msg_gets (const zx__msg_t *msg, const char *property);

//  Where a message goes: the socket, the face whose header it carries,
//  the send flags (0 to block, or ZMQ_DONTWAIT), and, from a ROUTER, the
//  routing id of the peer (NULL over a DEALER). Over a thread pool's
//  memq instead of a socket (zx_memq.h): socket NULL and hub set (the
//  dispatcher's end, to the peer named by identity) or peer set (a
//  worker's end).
typedef struct {
    void *socket;
    zx__face_t face;
    int flags;
    const void *identity;
    size_t identity_size;
    zx__memq_t *hub;
    zx__memq_peer_t *peer;
} zx__route_t;

//  Each sends one command, whole, to route. They return ZX_OK, ZX_ENOMEM,
//  ZX_EINVAL when a field cannot be encoded (named below), or ZX_ESYS with
//  errno set by libzmq (EHOSTUNREACH when a ROUTER's peer is gone, EAGAIN
//  when it would block).
//  READY (worker face): service, the 16-octet info frame, name, a
//  features frame (uint32) when ready->features or ready->cpus is not 0,
//  and the host frame when ready->cpus is not 0. EINVAL for a NULL
//  service or name.
zx_err_t zx__send_ready (const zx__route_t *route, const char *service,
                         const zx__ready_t *ready, const char *name);
//  REQUEST: the batch's records; on the client face after service (1 to
//  255 octets, else EINVAL), which the worker face has none of (NULL).
zx_err_t zx__send_request_batch (const zx__route_t *route, const char *service,
                                 const zx__batch_t *batch);
//  REPLY: the batch's records.
zx_err_t zx__send_reply_batch (const zx__route_t *route, const zx__batch_t *batch);
//  REQUEST and REPLY framed: one record whose arguments (payload) are
//  frame, sent as the frame after the batch without copying it. flags
//  get ZX_FLAG_FRAMED, status ZX_STATUS_FRAMED. Once sent (ZX_OK) frame
//  is left empty; on an error it is still the caller's.
zx_err_t zx__send_request_framed (const zx__route_t *route, const char *service,
                                  uint64_t corr, uint32_t attempt, uint8_t flags,
                                  const char *name, size_t name_len, zmq_msg_t *frame);
zx_err_t zx__send_reply_framed (const zx__route_t *route, uint64_t corr, uint32_t attempt,
                                uint8_t status, zmq_msg_t *frame);
//  HEARTBEAT: with the sender's interval in ms, or no frame when 0.
zx_err_t zx__send_heartbeat (const zx__route_t *route, uint32_t interval_ms);
//  DISCONNECT: the reason octet, then text (NULL: none).
zx_err_t zx__send_disconnect (const zx__route_t *route, uint8_t reason, const char *text);
//  CANCEL: count correlation ids (count >= 1, else EINVAL).
zx_err_t zx__send_cancel (const zx__route_t *route, const uint64_t *ids, size_t count);
//  STATS: with no body (size 0), a client's question; with one, the
//  broker's answer (a MessagePack map, docs/PROTOCOL.md 13.6).
zx_err_t zx__send_stats (const zx__route_t *route, const void *body, size_t size);

//  Writes the printable label of a routing id into label (size bytes):
//  printable octets as they are, the others and '\' as \xNN, cut so that
//  it fits; logs and the broker's tables name peers by it. ZX_LABEL_SIZE
//  holds the first 91 octets of a printable id, 23 of any id.
#define ZX_LABEL_SIZE 96
void zx__label (char *label, size_t size, const void *identity, size_t identity_size);

//  --------------------------------------------------------------------
//  Raw frames, under the messages above. Whatever speaks ZXW01 or ZXC01
//  uses the messages; these stay for ZAP (zx_auth.c: RFC 27, not ours).

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
