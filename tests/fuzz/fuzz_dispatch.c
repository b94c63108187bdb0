/*  fuzz_dispatch.c - libFuzzer harness for the dispatcher's worker face.

    DESIGN: the input is a script of worker-face messages, as workers (or
    anyone who can reach a broker's port) send them, mixed with what the
    dispatcher's owner does between them. Each message is zmq_msg_t
    frames, identity first, decoded by the codec as a ROUTER's (worker
    face) and handed to zx__dispatch_handle whatever the decoder made of
    it (the broker hands over only good worker-face messages; the
    dispatcher logs any other as malformed), and zx__dispatch_flush
    follows, as it does after a burst. The dispatcher talks to a real ROUTER bound to an
    inproc endpoint; two DEALER peers, "W1" and "W2", are connected to it,
    so requests dealt to a worker of that name really go out (and are
    read back and checked), while other identities are unreachable.

    Script, all lengths clamped to what is left of the input:
        byte 0      initial requests (low 3 bits), adaptive (bit 3),
                    request flags (high 4 bits: retries)
        then up to S_MAX_OPS operations, each one byte:
        0x00..0xEF  a message of (byte & 7) + 1 frames; each frame is a
                    length byte (255: a 16-bit little-endian length
                    follows) and that many bytes. The identity frame is
                    cut to 255 bytes, the most a ROUTER gives.
        0xF0..0xFF  an owner action, byte & 7: 0 cancel request N (next
                    byte), 1 submit with flags (next byte), 2 expire
                    (next byte: bit 0 silence 1 us, bit 1 wait 0 us),
                    3 heartbeat, 4 disconnect all, 5 fail queued,
                    6 worker gone (identity in the next frame), 7 worker
                    left, as when its key loses its role (identity in
                    the next frame).

    What must hold: nothing crashes or leaks (ASan, UBSan, LeakSanitizer),
    every complete event names a request this run submitted and not yet
    completed, and after destroy every submitted request has completed
    exactly once. What the dispatcher sends the peers must be well formed.
    Per input, work is bounded: 64 operations, 8 frames a message, 32
    requests, a queue of 16.                                             */
#define _GNU_SOURCE
#include "fuzz.h"
#include "zx_dispatch.h"
#include "zx_values.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_ENDPOINT      "inproc://zx-fuzz-dispatch"
#define S_MAX_OPS       64
#define S_MAX_FRAMES    8
#define S_MAX_REQUESTS  32
#define S_MAX_QUEUE     16
#define S_PEERS         2

typedef struct {
    zx__request_t *handle;          //  Valid until completed
    bool submitted;
    bool completed;
} s_request_t;

typedef struct {
    zx__dispatch_t *dispatch;
    s_request_t requests [S_MAX_REQUESTS];
    size_t submitted;
    size_t completed;
} s_run_t;

typedef struct {
    const uint8_t *at, *end;
} s_input_t;

//  One zmq context and its sockets serve every input
static void *s_context;
static void *s_router;
static void *s_peers [S_PEERS];
static const char *s_peer_ids [S_PEERS] = { "W1", "W2" };

//  --------------------------------------------------------------------
//  The sockets

static void
s_setup (void)
{
    if (s_context)
        return;
    //  Every log line is formatted (the labels come from the input) and
    //  thrown away
    int null_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    ZX_FUZZ_CHECK (null_fd >= 0);
    zx_log_set_fd (null_fd);
    ZX_FUZZ_CHECK (zx_log_basic_config (ZX_LOG_DEBUG, NULL) == ZX_OK);

    s_context = zmq_ctx_new ();
    ZX_FUZZ_CHECK (s_context);
    s_router = zmq_socket (s_context, ZMQ_ROUTER);
    ZX_FUZZ_CHECK (s_router && zmq_bind (s_router, S_ENDPOINT) == 0);
    for (size_t i = 0; i < S_PEERS; i++) {
        s_peers [i] = zmq_socket (s_context, ZMQ_DEALER);
        ZX_FUZZ_CHECK (s_peers [i]);
        ZX_FUZZ_CHECK (zmq_setsockopt (s_peers [i], ZMQ_ROUTING_ID, s_peer_ids [i],
                                       strlen (s_peer_ids [i])) == 0);
        ZX_FUZZ_CHECK (zmq_connect (s_peers [i], S_ENDPOINT) == 0);
        //  A round trip, so the ROUTER knows the peer by name from now on
        ZX_FUZZ_CHECK (zmq_send (s_peers [i], "hello", 5, 0) == 5);
        char identity [16], body [16];
        ZX_FUZZ_CHECK (zmq_recv (s_router, identity, sizeof identity, 0)
                       == (int) strlen (s_peer_ids [i]));
        ZX_FUZZ_CHECK (zmq_recv (s_router, body, sizeof body, 0) == 5);
    }
}

//  Reads what the dispatcher sent the peers and checks it is well formed:
//  "ZXW01" | command | body, REQUEST batches of requests this run made.
static void
s_drain (s_run_t *run)
{
    for (size_t i = 0; i < S_PEERS; i++) {
        while (true) {
            zmq_msg_t frames [4];
            size_t count = 0;
            bool more = true;
            while (more) {
                zmq_msg_t *frame = &frames [count < 4 ? count : 3];
                if (count >= 4)
                    zmq_msg_close (frame);
                zmq_msg_init (frame);
                if (zmq_msg_recv (frame, s_peers [i], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close (frame);
                    break;
                }
                more = zmq_msg_more (frame);
                if (count < 4)
                    count++;
            }
            if (count == 0)
                break;
            ZX_FUZZ_CHECK (count >= 2 && count <= 3);
            ZX_FUZZ_CHECK (zmq_msg_size (&frames [0]) == ZX_PROTO_WORKER_LEN
                           && memcmp (zmq_msg_data (&frames [0]), ZX_PROTO_WORKER,
                                      ZX_PROTO_WORKER_LEN) == 0);
            ZX_FUZZ_CHECK (zmq_msg_size (&frames [1]) == 1);
            uint8_t command = *(uint8_t *) zmq_msg_data (&frames [1]);
            if (command == ZX_CMD_REQUEST) {
                ZX_FUZZ_CHECK (count == 3);
                const uint8_t *cursor = zmq_msg_data (&frames [2]);
                const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
                zx__request_rec_t rec;
                zx_err_t rc;
                size_t records = 0;
                while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
                    ZX_FUZZ_CHECK (rec.corr >= 1 && rec.corr <= run->submitted);
                    ZX_FUZZ_CHECK (rec.attempt >= 1 && rec.attempt <= 16);
                    ZX_FUZZ_CHECK (rec.name_len == 6 && memcmp (rec.name, "square", 6) == 0);
                    records++;
                }
                ZX_FUZZ_CHECK (rc == ZX_EPENDING && records > 0);
            }
            else
            if (command == ZX_CMD_CANCEL)
                ZX_FUZZ_CHECK (count == 3 && zmq_msg_size (&frames [2]) == 8);
            else
            if (command == ZX_CMD_DISCONNECT)
                ZX_FUZZ_CHECK (count == 3 && zmq_msg_size (&frames [2]) == 1);
            else
                ZX_FUZZ_CHECK (command == ZX_CMD_HEARTBEAT && count == 2);
            for (size_t f = 0; f < count; f++)
                zmq_msg_close (&frames [f]);
        }
    }
}

//  --------------------------------------------------------------------
//  The dispatcher's owner

static s_request_t *
s_request_of (s_run_t *run, void *cookie)
{
    s_request_t *request = (s_request_t *) cookie;
    ZX_FUZZ_CHECK (request >= run->requests && request < run->requests + S_MAX_REQUESTS);
    ZX_FUZZ_CHECK (request->submitted && !request->completed);
    return request;
}

static void
s_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    s_run_t *run = (s_run_t *) owner;
    s_request_t *request = s_request_of (run, cookie);
    request->completed = true;
    request->handle = NULL;
    run->completed++;
    ZX_FUZZ_CHECK (payload || size == 0);
    zx_fuzz_touch (payload, size);
    if (code == ZX_OK) {
        //  What an executor does with a result from a worker
        zx_values_t *values = NULL;
        if (zx__values_decode (payload, size, &values) == ZX_OK)
            zx_values_destroy (&values);
    }
}

static void
s_dispatched (void *owner, void *cookie)
{
    s_request_of ((s_run_t *) owner, cookie);
}

static void
s_idle (void *owner)
{
    s_run_t *run = (s_run_t *) owner;
    ZX_FUZZ_CHECK (zx__dispatch_queued (run->dispatch) == 0);
    ZX_FUZZ_CHECK (zx__dispatch_held (run->dispatch) == 0);
}

static void
s_worker_event (void *owner, const char *identity, int reason, const char *text)
{
    (void) owner;
    ZX_FUZZ_CHECK (identity && strlen (identity) < 96);
    ZX_FUZZ_CHECK (text && strlen (text) < 400);
    ZX_FUZZ_CHECK (reason >= -1 && reason <= 255);
}

static void
s_submit (s_run_t *run, uint8_t flags)
{
    if (run->submitted == S_MAX_REQUESTS)
        return;
    s_request_t *request = &run->requests [run->submitted];
    zx_values_t *args = zx_values_pack ("i", (int64_t) run->submitted);
    ZX_FUZZ_CHECK (args);
    size_t args_size;
    const void *args_data = zx__values_data (args, &args_size);
    zx_err_t code;
    request->submitted = true;
    request->handle = zx__dispatch_submit (run->dispatch, "square", args_data, args_size,
                                           flags, request, &code);
    zx_values_destroy (&args);
    if (request->handle) {
        ZX_FUZZ_CHECK (code == ZX_OK);
        run->submitted++;
    }
    else {
        ZX_FUZZ_CHECK (code == ZX_EQUEUE_FULL);
        request->submitted = false;
    }
}

//  --------------------------------------------------------------------
//  The script

static int
s_byte (s_input_t *input)
{
    return input->at < input->end ? *input->at++ : -1;
}

//  Takes one frame's bytes from the input; returns their count.
static size_t
s_frame_bytes (s_input_t *input, const uint8_t **bytes)
{
    int first = s_byte (input);
    size_t size = first < 0 ? 0 : (size_t) first;
    if (first == 255) {
        int low = s_byte (input), high = s_byte (input);
        size = (size_t) (low < 0 ? 0 : low) | (size_t) (high < 0 ? 0 : high) << 8;
    }
    size_t left = (size_t) (input->end - input->at);
    if (size > left)
        size = left;
    *bytes = input->at;
    input->at += size;
    return size;
}

static void
s_free_frame (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  Makes a frame whose data is a heap block of exactly size bytes, so a
//  read past its end is an ASan report (libzmq would keep a small frame
//  inside the zmq_msg_t, where such a read goes unseen).
static void
s_frame_init (zmq_msg_t *frame, const uint8_t *bytes, size_t size)
{
    uint8_t *copy = malloc (size);
    if (copy && zmq_msg_init_data (frame, copy, size, s_free_frame, NULL) == 0) {
        if (size)
            memcpy (copy, bytes, size);
        return;
    }
    free (copy);
    ZX_FUZZ_CHECK (zmq_msg_init_size (frame, size) == 0);
    if (size)
        memcpy (zmq_msg_data (frame), bytes, size);
}

static void
s_message (s_run_t *run, s_input_t *input, size_t count)
{
    zmq_msg_t frames [S_MAX_FRAMES];
    for (size_t i = 0; i < count; i++) {
        const uint8_t *bytes;
        size_t size = s_frame_bytes (input, &bytes);
        if (i == 0 && size > 255)
            size = 255;
        s_frame_init (&frames [i], bytes, size);
    }
    zx__msg_t msg;
    zx__msg_decode (&msg, frames, count, ZX_FACE_WORKER, true);
    zx__dispatch_handle (run->dispatch, &msg);
    zx__msg_close (&msg);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
}

static void
s_action (s_run_t *run, s_input_t *input, int action)
{
    switch (action) {
        case 0: {
            int index = s_byte (input);
            s_request_t *request = &run->requests [(index < 0 ? 0 : index) % S_MAX_REQUESTS];
            if (request->submitted && !request->completed)
                zx__request_cancel (request->handle);
            break;
        }
        case 1: {
            int flags = s_byte (input);
            s_submit (run, (uint8_t) (flags < 0 ? 0 : flags));
            break;
        }
        case 2: {
            int how = s_byte (input);
            how = how < 0 ? 0 : how;
            zx__dispatch_expire (run->dispatch, (how & 1) ? 1 : 0, (how & 2) ? 0 : -1,
                                 "no workers");
            break;
        }
        case 3:
            zx__dispatch_heartbeat (run->dispatch);
            break;
        case 4:
            zx__dispatch_disconnect_all (run->dispatch);
            break;
        case 5:
            zx__dispatch_fail_queued (run->dispatch, ZX_ESHUTDOWN, "failed by the fuzzer");
            break;
        case 6: {
            const uint8_t *bytes;
            size_t size = s_frame_bytes (input, &bytes);
            char identity [256];
            size = size < sizeof identity ? size : sizeof identity - 1;
            memcpy (identity, bytes, size);
            identity [size] = 0;
            zx__dispatch_worker_gone (run->dispatch, identity, "gone by the fuzzer");
            break;
        }
        case 7: {
            const uint8_t *bytes;
            size_t size = s_frame_bytes (input, &bytes);
            zx__dispatch_worker_left (run->dispatch, bytes, size < 255 ? size : 255,
                                      ZX_BYE_PROTOCOL, "left by the fuzzer");
            break;
        }
        default:
            break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_setup ();
    s_input_t input = { data, data + size };
    int setup = s_byte (&input);
    setup = setup < 0 ? 0 : setup;

    static s_run_t run;
    memset (&run, 0, sizeof run);
    zx__dispatch_events_t events = { .complete = s_complete, .dispatched = s_dispatched,
                                     .idle = s_idle, .worker_event = s_worker_event };
    run.dispatch = zx__dispatch_new (s_router, &events, &run, S_MAX_QUEUE, (setup & 8) != 0);
    ZX_FUZZ_CHECK (run.dispatch);
    for (int i = 0; i < (setup & 7); i++)
        s_submit (&run, (uint8_t) (setup >> 4));

    for (int op = 0; op < S_MAX_OPS && input.at < input.end; op++) {
        int byte = s_byte (&input);
        if (byte >= 0xF0)
            s_action (&run, &input, byte & 7);
        else
            s_message (&run, &input, (size_t) (byte & 7) + 1);
        zx__dispatch_flush (run.dispatch);
        s_drain (&run);
        ZX_FUZZ_CHECK (run.completed <= run.submitted);
    }

    zx__dispatch_destroy (&run.dispatch);
    ZX_FUZZ_CHECK (run.dispatch == NULL);
    s_drain (&run);
    ZX_FUZZ_CHECK (run.completed == run.submitted);
    for (size_t i = 0; i < run.submitted; i++)
        ZX_FUZZ_CHECK (run.requests [i].completed);
    return 0;
}
