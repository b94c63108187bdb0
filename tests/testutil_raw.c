//  testutil_raw.c: raw ZeroMQ messages for the tests that speak to the
//  broker as a misbehaving peer (test_hostile, test_security). Apart from
//  testutil.c because it needs libzmq itself, which the tests that use
//  only the public API do not link.

#include "testutil.h"
#include <errno.h>
#include <string.h>
#include <zmq.h>

void
zx_test_send (void *socket, const zx_test_frame_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (zmq_send (socket, frames [i].data, frames [i].size,
                      i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            fail_msg ("zmq_send: %s", zmq_strerror (errno));
}

void
zx_test_close_frames (void *frames, size_t count)
{
    zmq_msg_t *frame = (zmq_msg_t *) frames;
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frame [i]);
}

bool
zx_test_frame_is (void *frame, const void *data, size_t size)
{
    zmq_msg_t *msg = (zmq_msg_t *) frame;
    return zmq_msg_size (msg) == size && memcmp (zmq_msg_data (msg), data, size) == 0;
}
