/*  testutil_raw.c - raw ZeroMQ peers for the tests that speak to the
    broker, a worker or a coordinator as a misbehaving peer (see
    testutil_raw.h). Apart from testutil.c because it needs libzmq and
    the internal codec, which the tests of the public API alone do not
    link. Every socket it makes is listed, so that the teardown of a test
    that failed half-way can close them: zmq_ctx_term waits for them. */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOCKETS 512     //  test_scale holds 260

static void *s_ctx;                     //  The running test's context
static void *s_sockets [MAX_SOCKETS];   //  Its raw sockets still open

int
zx_test_raw_setup (void **state)
{
    s_ctx = zmq_ctx_new ();
    assert_non_null (s_ctx);
    return zx_test_setup (state);
}

int
zx_test_raw_teardown (void **state)
{
    zx_test_teardown (state);
    for (size_t i = 0; i < MAX_SOCKETS; i++)
        if (s_sockets [i])
            zx_test_raw_close (&s_sockets [i]);
    if (s_ctx)
        zmq_ctx_term (s_ctx);
    s_ctx = NULL;
    return 0;
}

void
zx_test_raw_malloc_may_fail (void)
{
#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
    const char *names [] = { "ASAN_OPTIONS", "TSAN_OPTIONS" };
    for (int i = 0; i < 2; i++) {
        char options [1024];
        const char *given = getenv (names [i]);
        snprintf (options, sizeof options, "%s%sallocator_may_return_null=1",
                  given ? given : "", given && *given ? ":" : "");
        setenv (names [i], options, 1);
    }
#endif
}

void *
zx_test_raw_socket (int type)
{
    void *socket = zmq_socket (s_ctx, type);
    assert_non_null (socket);
    for (size_t i = 0; i < MAX_SOCKETS; i++)
        if (!s_sockets [i]) {
            s_sockets [i] = socket;
            return socket;
        }
    zmq_close (socket);
    fail_msg ("too many raw sockets");
    return NULL;
}

void *
zx_test_raw_dealer (const char *identity, int linger_ms, int timeout_ms)
{
    void *socket = zx_test_raw_socket (ZMQ_DEALER);
    int zero = 0;
    assert_int_equal (zmq_setsockopt (socket, ZMQ_ROUTING_ID, identity, strlen (identity)), 0);
    zmq_setsockopt (socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &zero, sizeof zero);
    return socket;
}

void *
zx_test_raw_connect (const char *endpoint, const char *identity)
{
    void *socket = zx_test_raw_dealer (identity, 2000, 5000);
    assert_int_equal (zmq_connect (socket, endpoint), 0);
    return socket;
}

void
zx_test_raw_close (void **socket_p)
{
    void *socket = *socket_p;
    for (size_t i = 0; i < MAX_SOCKETS; i++)
        if (s_sockets [i] == socket)
            s_sockets [i] = NULL;
    int linger = 0;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (socket);
    *socket_p = NULL;
}

//  --------------------------------------------------------------------
//  Messages

void
zx_test_send (void *socket, const zx_test_frame_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send (socket, frames [i].data, frames [i].size,
                      i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            fail_msg ("zmq_send: %s", zmq_strerror (errno));
}

void
zx_test_close_frames (zmq_msg_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
}

bool
zx_test_frame_is (const zmq_msg_t *frame, const void *data, size_t size)
{
    zmq_msg_t *msg = (zmq_msg_t *) frame;   //  libzmq's getters take no const
    return zmq_msg_size (msg) == size && memcmp (zmq_msg_data (msg), data, size) == 0;
}

size_t
zx_test_recv (void *socket, zmq_msg_t *frames, size_t max)
{
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, 0) < 0) {
            zmq_msg_close (&frame);
            assert_int_equal (count, 0);    //  A message is all or nothing
            return 0;
        }
        more = zmq_msg_more (&frame);
        if (count < max)
            frames [count++] = frame;
        else
            zmq_msg_close (&frame);
    }
    return count;
}

size_t
zx_test_recv_command (void *socket, size_t at, const char *header, uint8_t command,
                      zmq_msg_t *frames, size_t max, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_test_now_ms () < deadline) {
        size_t count = zx_test_recv (socket, frames, max);
        if (count >= at + 2 && zx_test_frame_is (&frames [at], header, 5)
        &&  zx_test_frame_is (&frames [at + 1], &command, 1))
            return count;
        zx_test_close_frames (frames, count);
    }
    return 0;
}

size_t
zx_test_expect_command (void *socket, size_t at, const char *header, uint8_t command,
                        zmq_msg_t *frames, size_t max)
{
    size_t count = zx_test_recv_command (socket, at, header, command, frames, max, 5000);
    if (count == 0)
        fail_msg ("no command %d arrived within 5 s", command);
    return count;
}

//  --------------------------------------------------------------------
//  Records

void
zx_test_ready_info (uint8_t info [ZX_READY_INFO_SIZE], uint32_t credits)
{
    zx__put_u32 (info, credits);
    zx__put_u32 (info + 4, 0);
    zx__put_u32 (info + 8, 4242);
    zx__put_u32 (info + 12, 1);
}

void
zx_test_send_ready (void *socket, const char *service, uint32_t credits, const char *name)
{
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, credits);
    SEND (socket, S ("ZXW01"), S ("\x01"), B (service, strlen (service)),
          B (info, sizeof info), B (name, strlen (name)));
}

void *
zx_test_fake_worker (const zx_test_broker_t *broker, const char *identity, const char *service,
                     uint32_t credits)
{
    void *socket = zx_test_raw_connect (broker->endpoint, identity);
    zx_test_send_ready (socket, service, credits, identity);
    char name [128];
    snprintf (name, sizeof name, "worker %s ready", identity);
    zx_test_expect_log (broker->child->log, name, NULL, 1);
    return socket;
}

void
zx_test_send_request (void *socket, const char *service, uint64_t first, int count,
                      const char *task)
{
    zx__batch_t batch = { 0 };
    for (int i = 0; i < count; i++)
        zx_test_add_request (&batch, first + (uint64_t) i, task, 3);
    SEND (socket, S ("ZXC01"), S ("\x02"), B (service, strlen (service)),
          B (batch.data, batch.size));
    zx__batch_free (&batch);
}

int
zx_test_count_replies (const zmq_msg_t *batch, uint8_t status, const char *text)
{
    zmq_msg_t *msg = (zmq_msg_t *) batch;   //  libzmq's getters take no const
    const uint8_t *cursor = zmq_msg_data (msg);
    const uint8_t *end = cursor + zmq_msg_size (msg);
    zx__reply_rec_t rec;
    int count = 0;
    while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK)
        if (rec.status == status
        &&  (!text || memmem (rec.payload, rec.payload_size, text, strlen (text))))
            count++;
    return count;
}

void
zx_test_add_request (zx__batch_t *batch, uint64_t corr, const char *task, int64_t arg)
{
    zx_values_t *args = zx_values_pack ("i", arg);
    size_t size;
    const void *data = zx__values_data (args, &size);
    assert_int_equal (zx__batch_add_request (batch, corr, 1, 0, task, strlen (task), data, size),
                      ZX_OK);
    zx_values_destroy (&args);
}

void
zx_test_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt, uint8_t status,
                   int64_t a, int64_t b)
{
    zx_values_t *values = zx_values_pack ("ii", a, b);
    size_t size;
    const void *data = zx__values_data (values, &size);
    assert_int_equal (zx__batch_add_reply (batch, corr, attempt, status, data, size), ZX_OK);
    zx_values_destroy (&values);
}

void
zx_test_send_squares (void *coord, const char *service, const uint64_t *corrs,
                      const uint8_t *retries, int count)
{
    zx__batch_t batch = { 0 };
    for (int i = 0; i < count; i++) {
        zx_values_t *args = zx_values_pack ("i", (int64_t) corrs [i]);
        size_t size;
        const void *data = zx__values_data (args, &size);
        assert_int_equal (zx__batch_add_request (&batch, corrs [i], 1, retries [i], "square", 6,
                                                 data, size), ZX_OK);
        zx_values_destroy (&args);
    }
    SEND (coord, S ("ZXC01"), S ("\x02"), B (service, strlen (service)),
          B (batch.data, batch.size));
    zx__batch_free (&batch);
}

void
zx_test_take_requests (void *fake, uint64_t *corrs, uint32_t *attempts, int count)
{
    int taken = 0;
    while (taken < count) {
        zmq_msg_t frames [4];
        size_t frame_count = zx_test_expect_command (fake, 0, "ZXW01", ZX_CMD_REQUEST,
                                                     frames, 4);
        assert_int_equal (frame_count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__request_rec_t rec;
        while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK) {
            assert_true (taken < count);
            corrs [taken] = rec.corr;
            attempts [taken++] = rec.attempt;
        }
        zx_test_close_frames (frames, frame_count);
    }
}
