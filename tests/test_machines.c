/*  test_machines.c - workers that say which machine they run on (READY's
    host frame, PROTOCOL.md section 24), against a real broker.

    While the tasks are tiny (none has said STARTED), a broker keeps four
    workers per CPU of a machine busy and lets its other workers wait, so
    that a burst of tiny tasks travels in batches to a few warm workers
    instead of waking every process; each task that says STARTED lets
    eight more workers in. Workers on another machine, and workers that do
    not say their machine (or say it in a frame that does not parse), are
    dealt to as before: every idle one first. zexec-top says how many idle
    workers are held back.

    The workers here are raw sockets: they hold what they are sent until
    the test answers, so who was dealt what is exact, not timing.        */
#define _GNU_SOURCE
#include "testutil_raw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MOST_HELD 256             //  Requests one raw worker may be sent
#define S_TASKS 100

//  A raw worker: its socket and what it holds
typedef struct {
    void *socket;
    uint64_t corrs [S_MOST_HELD];
    uint32_t attempts [S_MOST_HELD];
    int held;
    int ever;                       //  Requests it was ever sent
} s_worker_t;

static const uint8_t s_machine_a [ZX_HOST_ID_SIZE] = {
    0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8,
    0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF, 0xB0 };
static const uint8_t s_machine_b [ZX_HOST_ID_SIZE] = {
    0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8,
    0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF, 0xC0 };

//  Connects a raw worker for service "tiny" with 64 credits; its READY
//  carries a host frame of host_size octets (cpus, then machine) when
//  machine is not NULL.
static void
s_worker_start (s_worker_t *worker, const zx_test_broker_t *broker, const char *identity,
                const uint8_t *machine, uint32_t cpus, size_t host_size)
{
    memset (worker, 0, sizeof *worker);
    worker->socket = zx_test_raw_connect (broker->endpoint, identity);
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 64);
    if (machine) {
        uint8_t features [4] = { 0 };
        uint8_t host [ZX_READY_HOST_SIZE + 1] = { 0 };
        zx__put_u32 (host, cpus);
        memcpy (host + 4, machine, ZX_HOST_ID_SIZE);
        SEND (worker->socket, S ("ZXW01"), S ("\x01"), S ("tiny"), B (info, sizeof info),
              B (identity, strlen (identity)), B (features, sizeof features),
              B (host, host_size));
    }
    else
        SEND (worker->socket, S ("ZXW01"), S ("\x01"), S ("tiny"), B (info, sizeof info),
              B (identity, strlen (identity)));
    char line [128];
    snprintf (line, sizeof line, "worker %s ready", identity);
    zx_test_expect_log (broker->child->log, line, NULL, 1);
}

//  Asserts that zexec-top --once at the broker shows the line that says
//  how many idle workers of service "tiny" are held back, or no such line
//  when held_back is 0.
static void
s_expect_held_back (const zx_test_broker_t *broker, int held_back, int machines)
{
    char *argv [] = { ZX_TOP_PROGRAM, "--once", "--connect", (char *) broker->endpoint, NULL };
    char *output = NULL;
    assert_int_equal (zx_test_run_capture (argv, &output), 0);
    assert_non_null (output);
    char line [200];
    snprintf (line, sizeof line, "tiny: %d idle workers held back: their machines (%d known) "
              "are busy enough with tiny tasks", held_back, machines);
    if (held_back > 0 && !strstr (output, line))
        fail_msg ("zexec-top does not say \"%s\":\n%s", line, output);
    if (held_back == 0)
        assert_null (strstr (output, "held back"));
    free (output);
}

//  Takes what reaches the workers for ms milliseconds (heartbeats and all
//  else skipped) into what each holds.
static void
s_collect (s_worker_t *workers, int count, int ms)
{
    zmq_pollitem_t items [32];
    assert_true (count <= 32);
    for (int i = 0; i < count; i++)
        items [i] = (zmq_pollitem_t) { workers [i].socket, 0, ZMQ_POLLIN, 0 };
    int64_t deadline = zx_test_now_ms () + ms;
    int64_t left;
    while ((left = deadline - zx_test_now_ms ()) > 0) {
        if (zmq_poll (items, count, (long) left) <= 0)
            continue;
        for (int i = 0; i < count; i++) {
            if (!(items [i].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_t frames [4];
            size_t frame_count = zx_test_recv (workers [i].socket, frames, 4);
            if (frame_count == 3 && zx_test_frame_is (&frames [1], "\x02", 1)) {
                const uint8_t *cursor = zmq_msg_data (&frames [2]);
                const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
                zx__request_rec_t rec;
                while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK) {
                    assert_true (workers [i].held < S_MOST_HELD);
                    workers [i].corrs [workers [i].held] = rec.corr;
                    workers [i].attempts [workers [i].held++] = rec.attempt;
                    workers [i].ever++;
                }
            }
            zx_test_close_frames (frames, frame_count);
        }
    }
}

static int s_busy (const s_worker_t *workers, int count);

//  Takes what reaches the workers until busy of them (from first) hold
//  something, for at most 10 s (a loaded machine), then 300 ms more for
//  anything that should not come.
static void
s_collect_busy (s_worker_t *workers, int count, int first, int busy)
{
    int64_t deadline = zx_test_now_ms () + 10000;
    while (s_busy (workers + first, count - first) < busy && zx_test_now_ms () < deadline)
        s_collect (workers, count, 20);
    s_collect (workers, count, 300);
}

//  How many of the workers hold something now, and have ever been sent
//  something.
static int
s_busy (const s_worker_t *workers, int count)
{
    int busy = 0;
    for (int i = 0; i < count; i++)
        busy += workers [i].held > 0;
    return busy;
}

static int
s_ever (const s_worker_t *workers, int count)
{
    int ever = 0;
    for (int i = 0; i < count; i++)
        ever += workers [i].ever > 0;
    return ever;
}

//  The worker answers everything it holds: OK, with status for the first
//  (STARTED says it runs, and keeps it held)
static void
s_answer_all (s_worker_t *worker, uint8_t first_status)
{
    zx__batch_t replies = { 0 };
    for (int k = 0; k < worker->held; k++)
        zx_test_add_reply (&replies, worker->corrs [k], worker->attempts [k],
                           k == 0 ? first_status : ZX_STATUS_OK, (int64_t) worker->corrs [k], 0);
    if (replies.size)
        SEND (worker->socket, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size));
    zx__batch_free (&replies);
    worker->held = first_status == ZX_STATUS_STARTED && worker->held > 0 ? 1 : 0;
}

//  Counts the OK replies that reach the coordinator within ms.
static int
s_replies (void *coord, int ms)
{
    int done = 0;
    int64_t deadline = zx_test_now_ms () + ms;
    int64_t left;
    while ((left = deadline - zx_test_now_ms ()) > 0) {
        zmq_pollitem_t item = { coord, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) <= 0)
            continue;
        zmq_msg_t frames [6];
        size_t count = zx_test_recv (coord, frames, 6);
        if (count >= 3 && zx_test_frame_is (&frames [1], "\x03", 1))
            done += zx_test_count_replies (&frames [count - 1], ZX_STATUS_OK, NULL);
        zx_test_close_frames (frames, count);
    }
    return done;
}

//  Sixteen workers on one machine of one CPU: a burst of tiny tasks is
//  dealt to four of them; a STARTED lets eight more in; answered as they
//  come, every task completes and no thirteenth worker is ever woken.
static void
test_tiny_tasks_keep_four_workers_per_cpu_of_a_machine_busy (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 5000, NULL);
    s_worker_t workers [16];
    for (int i = 0; i < 16; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "machine-a-%02d", i);
        s_worker_start (&workers [i], &broker, identity, s_machine_a, 1, ZX_READY_HOST_SIZE);
    }
    void *coord = zx_test_raw_connect (broker.endpoint, "machines-coordinator");
    zx_test_send_request (coord, "tiny", 1, S_TASKS, "square");
    s_collect_busy (workers, 16, 0, 4);
    print_message ("%d of 16 workers were sent work\n", s_busy (workers, 16));
    assert_int_equal (s_busy (workers, 16), 4);
    s_expect_held_back (&broker, 12, 1);

    //  One of them says its first task runs: it holds slow work now, and
    //  eight more workers may take tiny ones
    int first = 0;
    while (workers [first].held == 0)
        first++;
    s_answer_all (&workers [first], ZX_STATUS_STARTED);
    s_collect_busy (workers, 16, 0, 12);
    print_message ("after a STARTED: %d of 16 workers hold work\n", s_busy (workers, 16));
    assert_int_equal (s_busy (workers, 16), 12);

    //  Answered as it comes, all of it completes, on the same twelve
    int done = 0;
    int64_t deadline = zx_test_now_ms () + 20000;
    while (done < S_TASKS && zx_test_now_ms () < deadline) {
        for (int i = 0; i < 16; i++)
            s_answer_all (&workers [i], ZX_STATUS_OK);
        done += s_replies (coord, 100);
        s_collect (workers, 16, 50);
    }
    print_message ("%d tasks done by %d workers\n", done, s_ever (workers, 16));
    assert_int_equal (done, S_TASKS);
    assert_int_equal (s_ever (workers, 16), 12);
    s_expect_held_back (&broker, 0, 1);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

//  Four workers that do not say their machine, two whose host frame is an
//  octet long, two that say 0 CPUs, and six on a machine of one CPU: a
//  burst of tiny tasks goes to all eight that are not known to share a
//  machine, and to four of the six.
static void
test_workers_not_known_to_share_a_machine_are_all_dealt_to (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 5000, NULL);
    s_worker_t workers [14];
    char identity [32];
    for (int i = 0; i < 4; i++) {
        snprintf (identity, sizeof identity, "unnamed-%d", i);
        s_worker_start (&workers [i], &broker, identity, NULL, 0, 0);
    }
    for (int i = 4; i < 6; i++) {
        snprintf (identity, sizeof identity, "long-frame-%d", i);
        s_worker_start (&workers [i], &broker, identity, s_machine_a, 1, ZX_READY_HOST_SIZE + 1);
    }
    for (int i = 6; i < 8; i++) {
        snprintf (identity, sizeof identity, "no-cpus-%d", i);
        s_worker_start (&workers [i], &broker, identity, s_machine_a, 0, ZX_READY_HOST_SIZE);
    }
    for (int i = 8; i < 14; i++) {
        snprintf (identity, sizeof identity, "machine-b-%d", i);
        s_worker_start (&workers [i], &broker, identity, s_machine_b, 1, ZX_READY_HOST_SIZE);
    }
    void *coord = zx_test_raw_connect (broker.endpoint, "machines-coordinator");
    zx_test_send_request (coord, "tiny", 1, S_TASKS, "square");
    s_collect_busy (workers, 14, 0, 12);
    print_message ("not known to share: %d of 8 busy; machine b: %d of 6 busy\n",
                   s_busy (workers, 8), s_busy (workers + 8, 6));
    assert_int_equal (s_busy (workers, 8), 8);
    assert_int_equal (s_busy (workers + 8, 6), 4);
    s_expect_held_back (&broker, 2, 1);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_tiny_tasks_keep_four_workers_per_cpu_of_a_machine_busy),
    cmocka_unit_test (test_workers_not_known_to_share_a_machine_are_all_dealt_to),
};

ZX_TEST_RAW_MAIN (tests)
