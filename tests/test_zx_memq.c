/*  test_zx_memq.c - the thread pool's in-process transport (zx_memq).

    DESIGN: a memq stands where a ROUTER and its DEALERs stood, so these
    pin what the pool relied on from them: whole messages in order per
    sender, the sender's id first at the hub, a clear EHOSTUNREACH for an
    id nobody holds and after the hub closed, the hub's fd readable
    exactly while something waits (level triggered), a sleeping worker
    woken by a message and by its term, and nothing lost when many
    threads send at once. The codec's messages go over it as over
    sockets (zx__send_* into zx__recv_memq).                              */
#include "testutil.h"
#include "zx_memq.h"
#include "zx_proto.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static bool
s_readable (zx__memq_t *hub)
{
    struct pollfd item = { zx__memq_fd (hub), POLLIN, 0 };
    return poll (&item, 1, 0) == 1;
}

//  Sends text as a one-frame message; from peer up, or down to id
static zx_err_t
s_send_text (zx__memq_t *hub, zx__memq_peer_t *peer, const char *id, const char *text)
{
    const void *frames [] = { text };
    size_t sizes [] = { strlen (text) };
    return zx__memq_send (peer ? NULL : hub, peer, id, id ? strlen (id) : 0, frames, sizes, 1, NULL);
}

static void
test_messages_keep_their_order_and_the_hub_learns_the_sender (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    assert_non_null (hub);
    zx__memq_peer_t *a = zx__memq_attach (hub, "a", 1);
    zx__memq_peer_t *b = zx__memq_attach (hub, "b", 1);
    assert_non_null (a);
    assert_non_null (b);
    assert_false (s_readable (hub));
    assert_int_equal (s_send_text (hub, a, NULL, "a1"), ZX_OK);
    assert_int_equal (s_send_text (hub, b, NULL, "b1"), ZX_OK);
    assert_int_equal (s_send_text (hub, a, NULL, "a2"), ZX_OK);
    assert_true (s_readable (hub));
    const char *expect [][2] = { { "a", "a1" }, { "b", "b1" }, { "a", "a2" } };
    for (size_t i = 0; i < 3; i++) {
        zmq_msg_t frames [4];
        bool overflow;
        assert_int_equal (zx__memq_recv (hub, NULL, frames, 4, &overflow), 2);
        assert_false (overflow);
        assert_memory_equal (zmq_msg_data (&frames [0]), expect [i][0], 1);
        assert_int_equal (zmq_msg_size (&frames [1]), 2);
        assert_memory_equal (zmq_msg_data (&frames [1]), expect [i][1], 2);
        zmq_msg_close (&frames [0]);
        zmq_msg_close (&frames [1]);
    }
    //  Drained: the next receive finds nothing and unsignals the fd
    zmq_msg_t frame;
    bool overflow;
    assert_int_equal (zx__memq_recv (hub, NULL, &frame, 1, &overflow), 0);
    assert_false (s_readable (hub));
    //  Down, to one peer only
    assert_false (zx__memq_pending (a));
    assert_int_equal (s_send_text (hub, NULL, "b", "to b"), ZX_OK);
    assert_false (zx__memq_pending (a));
    assert_true (zx__memq_pending (b));
    assert_int_equal (zx__memq_recv (NULL, b, &frame, 1, &overflow), 1);
    assert_int_equal (zmq_msg_size (&frame), 4);
    zmq_msg_close (&frame);
    assert_false (zx__memq_pending (b));
    zx__memq_detach (&a);
    zx__memq_detach (&b);
    assert_null (a);
    zx__memq_unref (&hub);
}

static void
test_a_missing_peer_a_taken_id_and_a_closed_hub_are_clear_errors (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    zx__memq_peer_t *a = zx__memq_attach (hub, "a", 1);
    errno = 0;
    assert_null (zx__memq_attach (hub, "a", 1));
    assert_int_equal (errno, EINVAL);
    assert_null (zx__memq_attach (hub, "", 0));
    errno = 0;
    assert_int_equal (s_send_text (hub, NULL, "nobody", "x"), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    //  A message waiting for a peer that detaches is dropped with it
    zx__memq_peer_t *b = zx__memq_attach (hub, "b", 1);
    assert_int_equal (s_send_text (hub, NULL, "b", "lost"), ZX_OK);
    zx__memq_detach (&b);
    errno = 0;
    assert_int_equal (s_send_text (hub, NULL, "b", "x"), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    //  Closed: a peer's sends fail and its wait returns at once
    assert_int_equal (s_send_text (hub, a, NULL, "queued"), ZX_OK);
    zx__memq_close (hub);
    assert_true (zx__memq_wait (a, -1));
    errno = 0;
    assert_int_equal (s_send_text (hub, a, NULL, "late"), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    //  The pool lets go first; the peer's reference keeps the hub
    zx__memq_unref (&hub);
    zx__memq_detach (&a);
}

static void
test_a_message_longer_than_the_receiver_reads_is_cut_and_said (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    zx__memq_peer_t *a = zx__memq_attach (hub, "a", 1);
    const void *frames [] = { "1", "2", "3" };
    size_t sizes [] = { 1, 1, 1 };
    assert_int_equal (zx__memq_send (hub, NULL, "a", 1, frames, sizes, 3, NULL), ZX_OK);
    zmq_msg_t got [2];
    bool overflow;
    assert_int_equal (zx__memq_recv (NULL, a, got, 2, &overflow), 2);
    assert_true (overflow);
    assert_memory_equal (zmq_msg_data (&got [1]), "2", 1);
    zmq_msg_close (&got [0]);
    zmq_msg_close (&got [1]);
    zx__memq_detach (&a);
    zx__memq_unref (&hub);
}

typedef struct {
    zx__memq_peer_t *peer;
    bool termed;
    int received;
} s_sleeper_t;

static void *
s_sleeper (void *arg)
{
    s_sleeper_t *self = (s_sleeper_t *) arg;
    while (!(self->termed = zx__memq_wait (self->peer, -1))) {
        zmq_msg_t frame;
        bool overflow;
        while (zx__memq_recv (NULL, self->peer, &frame, 1, &overflow) == 1) {
            self->received++;
            zmq_msg_close (&frame);
            //  Answer, so the test knows this one arrived
            s_send_text (NULL, self->peer, NULL, "ack");
        }
    }
    return NULL;
}

static void
test_a_sleeping_worker_wakes_for_a_message_and_for_its_term (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    s_sleeper_t sleeper = { zx__memq_attach (hub, "w", 1), false, 0 };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_sleeper, &sleeper), 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal (s_send_text (hub, NULL, "w", "job"), ZX_OK);
        //  Wait for its answer on the hub's fd, as the loop does
        struct pollfd item = { zx__memq_fd (hub), POLLIN, 0 };
        zmq_msg_t frames [2];
        bool overflow;
        size_t count;
        while ((count = zx__memq_recv (hub, NULL, frames, 2, &overflow)) == 0)
            assert_int_equal (poll (&item, 1, 10000), 1);
        assert_int_equal (count, 2);
        zmq_msg_close (&frames [0]);
        zmq_msg_close (&frames [1]);
    }
    //  A timed wait with nothing coming returns, not told to stop
    zx__memq_t *other = zx__memq_new ();
    zx__memq_peer_t *idle = zx__memq_attach (other, "i", 1);
    assert_false (zx__memq_wait (idle, 20));
    zx__memq_detach (&idle);
    zx__memq_unref (&other);
    zx__memq_term (hub, "w", 1);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_true (sleeper.termed);
    assert_int_equal (sleeper.received, 100);
    zx__memq_detach (&sleeper.peer);
    zx__memq_unref (&hub);
}

#define S_SENDERS   4
#define S_EACH      20000

typedef struct {
    zx__memq_peer_t *peer;
} s_sender_t;

static void *
s_sender (void *arg)
{
    s_sender_t *self = (s_sender_t *) arg;
    for (uint32_t i = 0; i < S_EACH; i++) {
        const void *frames [] = { &i };
        size_t sizes [] = { sizeof i };
        assert_int_equal (zx__memq_send (NULL, self->peer, NULL, 0, frames, sizes, 1, NULL), ZX_OK);
    }
    return NULL;
}

static void
test_many_threads_sending_at_once_lose_nothing_and_keep_each_order (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    s_sender_t senders [S_SENDERS];
    pthread_t threads [S_SENDERS];
    for (int i = 0; i < S_SENDERS; i++) {
        char id [2] = { (char) ('0' + i), 0 };
        senders [i].peer = zx__memq_attach (hub, id, 1);
        assert_non_null (senders [i].peer);
    }
    for (int i = 0; i < S_SENDERS; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_sender, &senders [i]), 0);
    uint32_t next [S_SENDERS] = { 0 };
    long total = 0;
    struct pollfd item = { zx__memq_fd (hub), POLLIN, 0 };
    while (total < (long) S_SENDERS * S_EACH) {
        zmq_msg_t frames [2];
        bool overflow;
        if (zx__memq_recv (hub, NULL, frames, 2, &overflow) == 0) {
            //  Level triggered: empty and unsignalled means a send will wake us
            assert_int_equal (poll (&item, 1, 10000), 1);
            continue;
        }
        int sender = ((const char *) zmq_msg_data (&frames [0])) [0] - '0';
        uint32_t value;
        memcpy (&value, zmq_msg_data (&frames [1]), sizeof value);
        assert_int_equal (value, next [sender]);
        next [sender]++;
        total++;
        zmq_msg_close (&frames [0]);
        zmq_msg_close (&frames [1]);
    }
    for (int i = 0; i < S_SENDERS; i++) {
        assert_int_equal (pthread_join (threads [i], NULL), 0);
        zx__memq_detach (&senders [i].peer);
    }
    zx__memq_unref (&hub);
}

static void
test_the_codecs_messages_travel_over_it_as_over_sockets (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    zx__memq_peer_t *peer = zx__memq_attach (hub, "w1", 2);
    zx__route_t up = { NULL, ZX_FACE_WORKER, 0, NULL, 0, NULL, peer };
    zx__route_t down = { NULL, ZX_FACE_WORKER, 0, "w1", 2, hub, NULL };
    zx__ready_t ready = { .credits = 256, .pid = 42, .parallel = 1 };
    assert_int_equal (zx__send_ready (&up, "default", &ready, "thread_0"), ZX_OK);
    zx__msg_t msg;
    assert_int_equal (zx__recv_memq (hub, NULL, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_true (msg.ok);
    assert_int_equal (msg.command, ZX_CMD_READY);
    assert_int_equal (msg.identity_size, 2);
    assert_memory_equal (msg.identity, "w1", 2);
    assert_int_equal (msg.ready.credits, 256);
    assert_int_equal (msg.ready.pid, 42);
    zx__msg_close (&msg);
    uint64_t ids [] = { 7, 9 };
    assert_int_equal (zx__send_cancel (&down, ids, 2), ZX_OK);
    assert_int_equal (zx__recv_memq (NULL, peer, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_int_equal (msg.command, ZX_CMD_CANCEL);
    assert_int_equal (msg.id_count, 2);
    assert_int_equal (zx__msg_cancel_id (&msg, 1), 9);
    zx__msg_close (&msg);
    assert_int_equal (zx__recv_memq (NULL, peer, ZX_FACE_WORKER, &msg), ZX_RECV_NONE);
    zx__msg_close (&msg);
    zx__memq_detach (&peer);
    //  Gone: what the dispatcher reads as a lost worker
    errno = 0;
    assert_int_equal (zx__send_cancel (&down, ids, 1), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    zx__memq_unref (&hub);
}

//  A framed payload (PROTOCOL.md 23) rides the queue as the same
//  zmq_msg_t: moved in, not copied, and given back when it cannot go
static void
test_a_framed_reply_is_moved_through_and_kept_by_the_sender_on_failure (void **state)
{
    (void) state;
    zx__memq_t *hub = zx__memq_new ();
    zx__memq_peer_t *peer = zx__memq_attach (hub, "w1", 2);
    zx__route_t up = { NULL, ZX_FACE_WORKER, 0, NULL, 0, NULL, peer };
    zx__route_t down = { NULL, ZX_FACE_WORKER, 0, "w9", 2, hub, NULL };
    size_t size = 256 * 1024;
    zmq_msg_t frame;
    assert_int_equal (zmq_msg_init_size (&frame, size), 0);
    memset (zmq_msg_data (&frame), 'x', size);
    const void *data = zmq_msg_data (&frame);
    assert_int_equal (zx__send_reply_framed (&up, 77, 1, ZX_STATUS_OK, &frame), ZX_OK);
    assert_int_equal (zmq_msg_size (&frame), 0);
    zmq_msg_close (&frame);
    zx__msg_t msg;
    assert_int_equal (zx__recv_memq (hub, NULL, ZX_FACE_WORKER, &msg), ZX_RECV_OK);
    assert_true (msg.ok);
    assert_int_equal (msg.command, ZX_CMD_REPLY);
    assert_non_null (msg.frame);
    assert_int_equal (zmq_msg_size (msg.frame), size);
    assert_ptr_equal (zmq_msg_data (msg.frame), data);
    zx__msg_close (&msg);
    //  No peer w9: the frame stays the sender's, whole
    assert_int_equal (zmq_msg_init_size (&frame, size), 0);
    memset (zmq_msg_data (&frame), 'y', size);
    errno = 0;
    assert_int_equal (zx__send_reply_framed (&down, 78, 1, ZX_STATUS_OK, &frame), ZX_ESYS);
    assert_int_equal (errno, EHOSTUNREACH);
    assert_int_equal (zmq_msg_size (&frame), size);
    assert_int_equal (((char *) zmq_msg_data (&frame)) [size - 1], 'y');
    zmq_msg_close (&frame);
    zx__memq_detach (&peer);
    zx__memq_unref (&hub);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_messages_keep_their_order_and_the_hub_learns_the_sender),
    cmocka_unit_test (test_a_missing_peer_a_taken_id_and_a_closed_hub_are_clear_errors),
    cmocka_unit_test (test_a_message_longer_than_the_receiver_reads_is_cut_and_said),
    cmocka_unit_test (test_a_sleeping_worker_wakes_for_a_message_and_for_its_term),
    cmocka_unit_test (test_many_threads_sending_at_once_lose_nothing_and_keep_each_order),
    cmocka_unit_test (test_the_codecs_messages_travel_over_it_as_over_sockets),
    cmocka_unit_test (test_a_framed_reply_is_moved_through_and_kept_by_the_sender_on_failure),
};

ZX_TEST_MAIN (tests)
