/*  testutil_raw.h - raw ZeroMQ peers, for the tests that speak to a
    broker, a worker or a coordinator as a peer that does not follow the
    protocol (test_hostile*.c, test_security*.c): sockets the teardown
    closes, frames, and the few ZXW01/ZXC01 records they forge with the
    internal codec (zx_proto.h). In testutil_raw.c: a test that uses
    them links libzmq and the static library.                           */
#ifndef ZX_TESTUTIL_RAW_H_INCLUDED
#define ZX_TESTUTIL_RAW_H_INCLUDED

#include "testutil_peers.h"
#include "zx_proto.h"
#include <zmq.h>

//  ---- The fixture: zx_test_setup and zx_test_teardown, and raw sockets,
//  all in one libzmq context per test

//  cmocka setup: zx_test_setup, and the test's libzmq context.
int zx_test_raw_setup (void **state);

//  cmocka teardown: zx_test_teardown, then closes (linger 0) every raw
//  socket the test left open, as a failed test does, and ends the
//  context.
int zx_test_raw_teardown (void **state);

//  Under the sanitizers, lets malloc return NULL in the processes this
//  one starts (allocator_may_return_null), as the system's does: a peer
//  may claim a frame of 2^62 octets, and libzmq's malloc for it must fail,
//  not end the program. Call from main, before the tests.
void zx_test_raw_malloc_may_fail (void);

//  A test program's main: zx_init, zx_test_raw_malloc_may_fail, and
//  zx_test_run with zx_test_raw_setup and zx_test_raw_teardown.
#define ZX_TEST_RAW_MAIN(tests)                                             \
    int main (int argc, char **argv)                                        \
    {                                                                       \
        zx_init (argc, argv);                                               \
        zx_test_raw_malloc_may_fail ();                                     \
        return zx_test_run (argc, argv, tests, ZX_TEST_COUNT (tests),       \
                            zx_test_raw_setup, zx_test_raw_teardown);       \
    }

//  A raw socket of type, not connected, listed for the teardown.
void *zx_test_raw_socket (int type);

//  A raw DEALER with routing id identity, no send high-water mark, the
//  given linger and receive timeout (how long zx_test_recv waits), listed
//  for the teardown. Not connected: the caller sets any security options
//  and connects it.
void *zx_test_raw_dealer (const char *identity, int linger_ms, int timeout_ms);

//  A raw DEALER with routing id identity connected to endpoint, with a
//  linger of 2 s (what it sent gets out before a close) and a receive
//  timeout of 5 s.
void *zx_test_raw_connect (const char *endpoint, const char *identity);

//  Closes a raw socket at once (linger 0) and nulls *socket_p.
void zx_test_raw_close (void **socket_p);

//  ---- Messages

//  The big frames. ThreadSanitizer checks every byte libzmq's I/O thread
//  sends against the thread that wrote it, without seeing libzmq's own
//  synchronisation: at 64 MiB a frame that takes minutes.
#if defined (__SANITIZE_THREAD__)
#   define ZX_TEST_BIG_FRAME (4 * 1024 * 1024)
#else
#   define ZX_TEST_BIG_FRAME (64 * 1024 * 1024)
#endif

typedef struct {
    const void *data;
    size_t size;
} zx_test_frame_t;

//  Test-only shorthands: a frame from a string literal (without its NUL)
//  or from bytes, and a whole message sent from a list of frames.
#define S(literal)      ((zx_test_frame_t) { (literal), sizeof (literal) - 1 })
#define B(data, size)   ((zx_test_frame_t) { (data), (size) })
#define SEND(socket, ...) \
    zx_test_send (socket, (zx_test_frame_t []) { __VA_ARGS__ }, \
                  sizeof ((zx_test_frame_t []) { __VA_ARGS__ }) / sizeof (zx_test_frame_t))

//  Sends count frames as one message on a raw ZeroMQ socket; a failed
//  send fails the running test.
void zx_test_send (void *socket, const zx_test_frame_t *frames, size_t count);

//  Closes count received frames.
void zx_test_close_frames (zmq_msg_t *frames, size_t count);

//  True when a received frame holds exactly size bytes equal to data.
bool zx_test_frame_is (const zmq_msg_t *frame, const void *data, size_t size);

//  Receives one message within the socket's receive timeout, keeping at
//  most max frames (the rest are read and closed). Returns how many
//  frames it kept, 0 when none came.
size_t zx_test_recv (void *socket, zmq_msg_t *frames, size_t max);

//  Receives, for up to timeout_ms, the next message whose frame at (0 on
//  a DEALER; 1 on a ROUTER, after the routing id) is header (5 octets)
//  and whose next frame is command; the others, such as heartbeats, are
//  read and closed. Returns its frame count, 0 when none came.
size_t zx_test_recv_command (void *socket, size_t at, const char *header, uint8_t command,
                             zmq_msg_t *frames, size_t max, int64_t timeout_ms);

//  zx_test_recv_command within 5 s, failing the test when nothing came.
size_t zx_test_expect_command (void *socket, size_t at, const char *header, uint8_t command,
                               zmq_msg_t *frames, size_t max);

//  ---- Records

//  READY's info frame: credits, max_tasks 0, pid 4242, parallel 1.
void zx_test_ready_info (uint8_t info [ZX_READY_INFO_SIZE], uint32_t credits);

//  Sends READY for service with credits, as a worker that calls itself
//  name.
void zx_test_send_ready (void *socket, const char *service, uint32_t credits, const char *name);

//  A raw DEALER (zx_test_raw_connect) registered at the broker as a
//  worker of service with routing id identity and credits: returns once
//  the broker's log says it is ready.
void *zx_test_fake_worker (const zx_test_broker_t *broker, const char *identity,
                           const char *service, uint32_t credits);

//  Sends a REQUEST for service of count records (ids from first) of task
//  with the argument 3.
void zx_test_send_request (void *socket, const char *service, uint64_t first, int count,
                           const char *task);

//  Sends a coordinator's REQUEST for service: a square of each id in
//  corrs (the argument is the id), with the retries given as its flags.
void zx_test_send_squares (void *coord, const char *service, const uint64_t *corrs,
                           const uint8_t *retries, int count);

//  Receives REQUESTs on a raw worker, each within 5 s, until it holds
//  count records; their ids (the broker's) and attempts go to corrs and
//  attempts.
void zx_test_take_requests (void *fake, uint64_t *corrs, uint32_t *attempts, int count);

//  Counts the reply records in a REPLY's batch frame whose status is
//  status and whose payload holds text (NULL: any).
int zx_test_count_replies (const zmq_msg_t *batch, uint8_t status, const char *text);

//  Appends a request record (attempt 1) for task with one int argument.
void zx_test_add_request (zx__batch_t *batch, uint64_t corr, const char *task, int64_t arg);

//  Appends a reply record holding the ints a and b.
void zx_test_add_reply (zx__batch_t *batch, uint64_t corr, uint32_t attempt, uint8_t status,
                        int64_t a, int64_t b);

#endif
