/*  test_zx_proto_msg.c - the codec's messages: every send and its receive.

    DESIGN: test_zx_proto.c pins the records inside a batch, and
    test_zx_proto_decode.c every shape of frames the decoder may be
    handed; this file pins each encoder (zx__send_*) against its decoder
    (zx__recv_dealer, zx__recv_router) over a real DEALER and ROUTER on
    inproc, in both directions and on both faces, with the bytes on the
    wire checked against docs/PROTOCOL.md.                                */
#include "testutil.h"
#include "zx_proto.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  --------------------------------------------------------------------
//  Helpers: a DEALER "w1" connected to a ROUTER, over inproc

typedef struct {
    void *context;
    void *router;
    void *dealer;
    zx__route_t to_router;      //  From the DEALER
    zx__route_t to_dealer;      //  From the ROUTER, to "w1"
} s_pair_t;

static void
s_pair_new (s_pair_t *pair, zx__face_t face)
{
    static int serial;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-zx-proto-msg-%d", serial++);
    pair->context = zmq_ctx_new ();
    assert_non_null (pair->context);
    pair->router = zmq_socket (pair->context, ZMQ_ROUTER);
    pair->dealer = zmq_socket (pair->context, ZMQ_DEALER);
    int mandatory = 1;
    zmq_setsockopt (pair->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    zmq_setsockopt (pair->dealer, ZMQ_ROUTING_ID, "w1", 2);
    assert_int_equal (zmq_bind (pair->router, endpoint), 0);
    assert_int_equal (zmq_connect (pair->dealer, endpoint), 0);
    //  A round trip, so that the ROUTER knows "w1" from now on
    char buffer [16];
    assert_int_equal (zmq_send (pair->dealer, "hello", 5, 0), 5);
    assert_int_equal (zmq_recv (pair->router, buffer, sizeof buffer, 0), 2);
    assert_int_equal (zmq_recv (pair->router, buffer, sizeof buffer, 0), 5);
    pair->to_router = (zx__route_t) { pair->dealer, face, 0, NULL, 0, NULL, NULL };
    pair->to_dealer = (zx__route_t) { pair->router, face, 0, "w1", 2, NULL, NULL };
}

static void
s_pair_destroy (s_pair_t *pair)
{
    zmq_close (pair->dealer);
    zmq_close (pair->router);
    zmq_ctx_term (pair->context);
}

//  Waits for a message on socket, then receives it as a DEALER or ROUTER
static zx__recv_t
s_receive (void *socket, bool routed, zx__face_t face, zx__msg_t *msg)
{
    zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 2000), 1);
    return routed ? zx__recv_router (socket, face, msg) : zx__recv_dealer (socket, face, msg);
}

//  The size and bytes of frame index of msg
static void
s_assert_frame (const zx__msg_t *msg, size_t index, const void *data, size_t size)
{
    assert_true (index < msg->count);
    assert_int_equal (zmq_msg_size (&msg->frames [index]), size);
    assert_memory_equal (zmq_msg_data (&msg->frames [index]), data, size);
}

//  --------------------------------------------------------------------
//  Round trips over sockets, with the bytes on the wire

static void
test_ready_round_trips_with_the_specified_bytes (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    //  The worked example of PROTOCOL.md section 20
    zx__ready_t ready = { .credits = 2, .pid = 4242, .parallel = 1 };
    assert_int_equal (zx__send_ready (&pair.to_router, "default", &ready,
                                      "ThreadPoolExecutor-0_0"), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 6);
    s_assert_frame (&msg, 0, "w1", 2);
    s_assert_frame (&msg, 1, "ZXW01", 5);
    s_assert_frame (&msg, 2, "\x01", 1);
    s_assert_frame (&msg, 3, "default", 7);
    const uint8_t info [] = { 2, 0, 0, 0, 0, 0, 0, 0, 0x92, 0x10, 0, 0, 1, 0, 0, 0 };
    s_assert_frame (&msg, 4, info, sizeof info);
    s_assert_frame (&msg, 5, "ThreadPoolExecutor-0_0", 22);
    assert_int_equal (msg.face, ZX_FACE_WORKER);
    assert_int_equal (msg.command, ZX_CMD_READY);
    assert_true (msg.ok);
    assert_int_equal (msg.extra, 0);
    assert_int_equal (msg.identity_size, 2);
    assert_memory_equal (msg.identity, "w1", 2);
    assert_int_equal (msg.service_size, 7);
    assert_memory_equal (msg.service, "default", 7);
    assert_int_equal (msg.ready.credits, 2);
    assert_int_equal (msg.ready.max_tasks, 0);
    assert_int_equal (msg.ready.pid, 4242);
    assert_int_equal (msg.ready.parallel, 1);
    assert_int_equal (msg.name_size, 22);
    assert_memory_equal (msg.name, "ThreadPoolExecutor-0_0", 22);
    zx__msg_close (&msg);
    assert_int_equal (msg.count, 0);
    zx__msg_close (&msg);                   //  Twice is harmless

    //  Every field, at its widest
    ready = (zx__ready_t) { .credits = 0xFFFFFFFFu, .max_tasks = 0x01020304u,
                            .pid = 0x7FFFFFFFu, .parallel = 0x80000000u };
    assert_int_equal (zx__send_ready (&pair.to_router, "s", &ready, ""), ZX_OK);
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_ANY, &msg), ZX_RECV_OK);
    assert_true (msg.ok);
    assert_int_equal (msg.face, ZX_FACE_WORKER);
    assert_int_equal (msg.ready.credits, 0xFFFFFFFFu);
    assert_int_equal (msg.ready.max_tasks, 0x01020304u);
    assert_int_equal (msg.ready.pid, 0x7FFFFFFFu);
    assert_int_equal (msg.ready.parallel, 0x80000000u);
    assert_int_equal (msg.name_size, 0);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
}

//  READY's optional host frame (PROTOCOL.md 23.4): sent with the features
//  frame before it, read back as cpus and host id; one of another size,
//  or none, leaves cpus 0 (the machine unknown), and the READY stands.
static void
test_ready_carries_its_machine_in_the_host_frame (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    zx__ready_t ready = { .credits = 8, .pid = 7, .parallel = 2, .cpus = 3 };
    for (int i = 0; i < ZX_HOST_ID_SIZE; i++)
        ready.host [i] = (uint8_t) (0xA0 + i);
    assert_int_equal (zx__send_ready (&pair.to_router, "default", &ready, "w"), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 8);
    s_assert_frame (&msg, 6, "\0\0\0\0", 4);      //  No features, but the frame is there
    const uint8_t host [ZX_READY_HOST_SIZE] = {
        3, 0, 0, 0, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
        0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF };
    s_assert_frame (&msg, 7, host, sizeof host);
    assert_true (msg.ok);
    assert_int_equal (msg.ready.parallel, 2);
    assert_int_equal (msg.ready.features, 0);
    assert_int_equal (msg.ready.cpus, 3);
    assert_memory_equal (msg.ready.host, host + 4, ZX_HOST_ID_SIZE);
    zx__msg_close (&msg);

    //  Without cpus, no host frame: three frames after the command
    ready.cpus = 0;
    assert_int_equal (zx__send_ready (&pair.to_router, "default", &ready, "w"), ZX_OK);
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 6);
    assert_true (msg.ok);
    assert_int_equal (msg.ready.cpus, 0);
    zx__msg_close (&msg);

    //  A host frame one octet short is not read; the READY still is
    uint8_t info [ZX_READY_INFO_SIZE] = { 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0 };
    zmq_send (pair.dealer, "ZXW01", 5, ZMQ_SNDMORE);
    zmq_send (pair.dealer, "\x01", 1, ZMQ_SNDMORE);
    zmq_send (pair.dealer, "default", 7, ZMQ_SNDMORE);
    zmq_send (pair.dealer, info, sizeof info, ZMQ_SNDMORE);
    zmq_send (pair.dealer, "w", 1, ZMQ_SNDMORE);
    zmq_send (pair.dealer, "\0\0\0\0", 4, ZMQ_SNDMORE);
    zmq_send (pair.dealer, host, sizeof host - 1, 0);
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_true (msg.ok);
    assert_int_equal (msg.ready.pid, 9);
    assert_int_equal (msg.ready.cpus, 0);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
}

static void
test_request_batch_round_trips_on_both_faces (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "blocks", 6, "i\1\0\0\0\0\0\0\0", 9),
                      ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 2, 3, 5, "t", 1, NULL, 0), ZX_OK);

    //  Worker face: dispatcher (ROUTER) to worker (DEALER), no service
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    assert_int_equal (zx__send_request_batch (&pair.to_dealer, NULL, &batch), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 3);
    s_assert_frame (&msg, 0, "ZXW01", 5);
    s_assert_frame (&msg, 1, "\x02", 1);
    s_assert_frame (&msg, 2, batch.data, batch.size);
    assert_true (msg.ok);
    assert_int_equal (msg.extra, 0);
    assert_null (msg.identity);
    assert_null (msg.service);
    assert_int_equal (msg.batch_size, batch.size);
    const uint8_t *cursor = msg.batch;
    zx__request_rec_t rec;
    assert_int_equal (zx__batch_next_request (&cursor, msg.batch + msg.batch_size, &rec), ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (zx__batch_next_request (&cursor, msg.batch + msg.batch_size, &rec), ZX_OK);
    assert_int_equal (rec.attempt, 3);
    assert_int_equal (rec.flags, 5);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);

    //  Client face: coordinator (DEALER) to broker (ROUTER), after the service
    s_pair_new (&pair, ZX_FACE_CLIENT);
    assert_int_equal (zx__send_request_batch (&pair.to_router, "gpu", &batch), ZX_OK);
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_ANY, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 5);
    s_assert_frame (&msg, 1, "ZXC01", 5);
    s_assert_frame (&msg, 2, "\x02", 1);
    s_assert_frame (&msg, 3, "gpu", 3);
    s_assert_frame (&msg, 4, batch.data, batch.size);
    assert_int_equal (msg.face, ZX_FACE_CLIENT);
    assert_true (msg.ok);
    assert_int_equal (msg.extra, 0);
    assert_int_equal (msg.service_size, 3);
    assert_memory_equal (msg.service, "gpu", 3);
    assert_int_equal (msg.batch_size, batch.size);
    assert_memory_equal (msg.batch, batch.data, batch.size);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
    zx__batch_free (&batch);
}

static void
test_reply_batch_round_trips_on_both_faces (void **state)
{
    (void) state;
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_reply (&batch, 9, 2, ZX_STATUS_OK, "n", 1), ZX_OK);
    zx__face_t faces [] = { ZX_FACE_WORKER, ZX_FACE_CLIENT };
    const char *headers [] = { "ZXW01", "ZXC01" };
    for (size_t i = 0; i < 2; i++) {
        s_pair_t pair;
        s_pair_new (&pair, faces [i]);
        //  Worker to dispatcher, and broker to client
        assert_int_equal (zx__send_reply_batch (&pair.to_router, &batch), ZX_OK);
        assert_int_equal (zx__send_reply_batch (&pair.to_dealer, &batch), ZX_OK);
        zx__msg_t msg;
        assert_int_equal (s_receive (pair.router, true, faces [i], &msg), ZX_RECV_OK);
        assert_int_equal (msg.count, 4);
        s_assert_frame (&msg, 1, headers [i], 5);
        s_assert_frame (&msg, 2, "\x03", 1);
        s_assert_frame (&msg, 3, batch.data, batch.size);
        assert_true (msg.ok);
        assert_int_equal (msg.extra, 0);
        zx__msg_close (&msg);
        assert_int_equal (s_receive (pair.dealer, false, faces [i], &msg), ZX_RECV_OK);
        assert_int_equal (msg.count, 3);
        assert_int_equal (msg.command, ZX_CMD_REPLY);
        assert_true (msg.ok);
        const uint8_t *cursor = msg.batch;
        zx__reply_rec_t rec;
        assert_int_equal (zx__batch_next_reply (&cursor, msg.batch + msg.batch_size, &rec), ZX_OK);
        assert_int_equal (rec.corr, 9);
        assert_int_equal (rec.attempt, 2);
        assert_int_equal (rec.payload_size, 1);
        assert_int_equal (zx__batch_next_reply (&cursor, msg.batch + msg.batch_size, &rec),
                          ZX_EPENDING);
        zx__msg_close (&msg);
        s_pair_destroy (&pair);
    }
    zx__batch_free (&batch);
}

static void
test_heartbeat_round_trips_with_and_without_an_interval (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_CLIENT);
    assert_int_equal (zx__send_heartbeat (&pair.to_dealer, 1000), ZX_OK);
    assert_int_equal (zx__send_heartbeat (&pair.to_dealer, 0), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_CLIENT, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 3);
    s_assert_frame (&msg, 0, "ZXC01", 5);
    s_assert_frame (&msg, 1, "\x04", 1);
    s_assert_frame (&msg, 2, "\xe8\x03\x00\x00", 4);
    assert_true (msg.ok);
    assert_int_equal (msg.interval, 1000);
    zx__msg_close (&msg);
    //  0: no interval frame at all, as a local pool's dispatcher sends it
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_CLIENT, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 2);
    assert_int_equal (msg.command, ZX_CMD_HEARTBEAT);
    assert_true (msg.ok);
    assert_int_equal (msg.interval, 0);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
}

static void
test_disconnect_round_trips_its_reason_and_text (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    assert_int_equal (zx__send_disconnect (&pair.to_router, ZX_BYE_RETIRING, "retiring"), ZX_OK);
    assert_int_equal (zx__send_disconnect (&pair.to_dealer, ZX_BYE_NORMAL, NULL), ZX_OK);
    //  A text longer than any buffer on the stack
    char long_text [1001];
    memset (long_text, 'x', 1000);
    long_text [1000] = 0;
    assert_int_equal (zx__send_disconnect (&pair.to_router, ZX_BYE_INIT_FAILED, long_text), ZX_OK);

    zx__msg_t msg;
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 4);
    s_assert_frame (&msg, 2, "\x05", 1);
    s_assert_frame (&msg, 3, "\x01retiring", 9);
    assert_true (msg.ok);
    assert_int_equal (msg.reason, ZX_BYE_RETIRING);
    assert_int_equal (msg.text_size, 8);
    assert_memory_equal (msg.text, "retiring", 8);
    zx__msg_close (&msg);

    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 3);
    s_assert_frame (&msg, 2, "\x00", 1);
    assert_int_equal (msg.reason, ZX_BYE_NORMAL);
    assert_int_equal (msg.text_size, 0);
    zx__msg_close (&msg);

    assert_int_equal (s_receive (pair.router, true, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.reason, ZX_BYE_INIT_FAILED);
    assert_int_equal (msg.text_size, 1000);
    assert_memory_equal (msg.text, long_text, 1000);
    char text [256];
    zx__msg_bye_text (&msg, text, sizeof text);
    assert_int_equal (strlen (text), 255);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
}

static void
test_cancel_round_trips_a_list_of_ids (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    uint64_t one = 7;
    assert_int_equal (zx__send_cancel (&pair.to_dealer, &one, 1), ZX_OK);
    uint64_t ids [40];
    for (size_t i = 0; i < 40; i++)
        ids [i] = 0x0102030405060708ull * (i + 1);
    assert_int_equal (zx__send_cancel (&pair.to_dealer, ids, 40), ZX_OK);

    zx__msg_t msg;
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.count, 3);
    s_assert_frame (&msg, 1, "\x06", 1);
    s_assert_frame (&msg, 2, "\x07\0\0\0\0\0\0\0", 8);
    assert_true (msg.ok);
    assert_int_equal (msg.id_count, 1);
    assert_int_equal (zx__msg_cancel_id (&msg, 0), 7);
    zx__msg_close (&msg);

    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.id_count, 40);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal (zx__msg_cancel_id (&msg, i), ids [i]);
    zx__msg_close (&msg);
    s_pair_destroy (&pair);
}

static void
test_senders_refuse_what_they_cannot_encode (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_CLIENT);
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "t", 1, NULL, 0), ZX_OK);
    zx__ready_t ready = { .credits = 1, .pid = 1, .parallel = 1 };
    char long_service [257];
    memset (long_service, 's', 256);
    long_service [256] = 0;
    //  The client face's REQUEST needs a service of 1 to 255 octets
    assert_int_equal (zx__send_request_batch (&pair.to_router, NULL, &batch), ZX_EINVAL);
    assert_int_equal (zx__send_request_batch (&pair.to_router, "", &batch), ZX_EINVAL);
    assert_int_equal (zx__send_request_batch (&pair.to_router, long_service, &batch), ZX_EINVAL);
    long_service [255] = 0;
    assert_int_equal (zx__send_request_batch (&pair.to_router, long_service, &batch), ZX_OK);
    //  The worker face's has none
    pair.to_router.face = ZX_FACE_WORKER;
    assert_int_equal (zx__send_request_batch (&pair.to_router, "default", &batch), ZX_EINVAL);
    assert_int_equal (zx__send_ready (&pair.to_router, NULL, &ready, "n"), ZX_EINVAL);
    assert_int_equal (zx__send_ready (&pair.to_router, "default", &ready, NULL), ZX_EINVAL);
    assert_int_equal (zx__send_cancel (&pair.to_router, NULL, 1), ZX_EINVAL);
    uint64_t id = 1;
    assert_int_equal (zx__send_cancel (&pair.to_router, &id, 0), ZX_EINVAL);
    //  Only the good REQUEST went out
    zx__msg_t msg;
    assert_int_equal (s_receive (pair.router, true, ZX_FACE_CLIENT, &msg), ZX_RECV_OK);
    assert_int_equal (msg.service_size, 255);
    zx__msg_close (&msg);
    assert_int_equal (zx__recv_router (pair.router, ZX_FACE_ANY, &msg), ZX_RECV_NONE);
    zx__msg_close (&msg);
    zx__batch_free (&batch);
    s_pair_destroy (&pair);
}

static void
test_a_send_to_a_peer_the_router_does_not_know_fails_with_ehostunreach (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    zx__route_t nobody = { pair.router, ZX_FACE_WORKER, ZMQ_DONTWAIT, "nobody", 6, NULL, NULL };
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "t", 1, NULL, 0), ZX_OK);
    errno = 0;
    assert_int_equal (zx__send_request_batch (&nobody, NULL, &batch), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    //  Also past the stack buffer, where the body is on the heap
    char text [600];
    memset (text, 't', sizeof text - 1);
    text [sizeof text - 1] = 0;
    errno = 0;
    assert_int_equal (zx__send_disconnect (&nobody, ZX_BYE_NORMAL, text), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    errno = 0;
    assert_int_equal (zx__send_heartbeat (&nobody, 5), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    zx__batch_free (&batch);
    s_pair_destroy (&pair);
}

static void
test_a_message_longer_than_its_receiver_reads_is_dropped_whole (void **state)
{
    (void) state;
    s_pair_t pair;
    s_pair_new (&pair, ZX_FACE_WORKER);
    zx__msg_t msg;
    assert_int_equal (zx__recv_dealer (pair.dealer, ZX_FACE_WORKER, &msg), ZX_RECV_NONE);
    zx__msg_close (&msg);
    //  A DEALER reads 4 frames; a fifth makes the message too long
    const char *five [] = { "w1", "ZXW01", "\x04", "a", "b", "c" };
    for (size_t i = 0; i < 6; i++)
        zmq_send (pair.router, five [i], strlen (five [i]), i < 5 ? ZMQ_SNDMORE : 0);
    assert_int_equal (zx__send_heartbeat (&pair.to_dealer, 0), ZX_OK);
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_TOO_MANY);
    zx__msg_close (&msg);
    assert_int_equal (s_receive (pair.dealer, false, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.command, ZX_CMD_HEARTBEAT);
    zx__msg_close (&msg);
    //  A ROUTER reads 8, with the identity: so 7 from a DEALER are fine
    for (int frames = 7; frames <= 8; frames++) {
        zmq_send (pair.dealer, "ZXW01", 5, ZMQ_SNDMORE);
        zmq_send (pair.dealer, "\x04", 1, ZMQ_SNDMORE);
        for (int i = 2; i < frames - 1; i++)
            zmq_send (pair.dealer, "x", 1, ZMQ_SNDMORE);
        zmq_send (pair.dealer, "x", 1, 0);
        zx__recv_t rc = s_receive (pair.router, true, ZX_FACE_WORKER, &msg);
        assert_int_equal (rc, frames == 7 ? ZX_RECV_OK : ZX_RECV_TOO_MANY);
        //  Either way the sender is known, for the log line
        assert_int_equal (msg.identity_size, 2);
        assert_memory_equal (msg.identity, "w1", 2);
        if (frames == 7)
            assert_int_equal (msg.extra, 4);
        zx__msg_close (&msg);
    }
    s_pair_destroy (&pair);
}

static void
test_metadata_is_read_from_the_frames_the_peer_sent (void **state)
{
    (void) state;
    //  Over tcp, where libzmq attaches the peer's address to each frame
    void *context = zmq_ctx_new ();
    void *router = zmq_socket (context, ZMQ_ROUTER);
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    zmq_setsockopt (dealer, ZMQ_ROUTING_ID, "w1", 2);
    assert_int_equal (zmq_bind (router, "tcp://127.0.0.1:*"), 0);
    char endpoint [256];
    size_t size = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size), 0);
    assert_int_equal (zmq_connect (dealer, endpoint), 0);
    zx__route_t to_router = { dealer, ZX_FACE_CLIENT, 0, NULL, 0, NULL, NULL };
    zx__route_t to_dealer = { router, ZX_FACE_CLIENT, 0, "w1", 2, NULL, NULL };
    assert_int_equal (zx__send_heartbeat (&to_router, 1000), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (s_receive (router, true, ZX_FACE_CLIENT, &msg), ZX_RECV_OK);
    const char *address = zx__msg_gets (&msg, "Peer-Address");
    assert_non_null (address);
    assert_string_equal (address, "127.0.0.1");
    assert_string_equal (zx__msg_gets (&msg, "Socket-Type"), "DEALER");
    assert_null (zx__msg_gets (&msg, "User-Id"));           //  No ZAP here
    zx__msg_close (&msg);
    assert_null (zx__msg_gets (&msg, "Socket-Type"));       //  Closed: no frames
    //  And over a DEALER, where no routing id comes first
    assert_int_equal (zx__send_heartbeat (&to_dealer, 1000), ZX_OK);
    assert_int_equal (s_receive (dealer, false, ZX_FACE_CLIENT, &msg), ZX_RECV_OK);
    assert_string_equal (zx__msg_gets (&msg, "Socket-Type"), "ROUTER");
    zx__msg_close (&msg);
    zmq_close (dealer);
    zmq_close (router);
    zmq_ctx_term (context);
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_ready_round_trips_with_the_specified_bytes),
    cmocka_unit_test (test_ready_carries_its_machine_in_the_host_frame),
    cmocka_unit_test (test_request_batch_round_trips_on_both_faces),
    cmocka_unit_test (test_reply_batch_round_trips_on_both_faces),
    cmocka_unit_test (test_heartbeat_round_trips_with_and_without_an_interval),
    cmocka_unit_test (test_disconnect_round_trips_its_reason_and_text),
    cmocka_unit_test (test_cancel_round_trips_a_list_of_ids),
    cmocka_unit_test (test_senders_refuse_what_they_cannot_encode),
    cmocka_unit_test (test_a_send_to_a_peer_the_router_does_not_know_fails_with_ehostunreach),
    cmocka_unit_test (test_a_message_longer_than_its_receiver_reads_is_dropped_whole),
    cmocka_unit_test (test_metadata_is_read_from_the_frames_the_peer_sent),
};

ZX_TEST_MAIN (tests)
