/*  test_hostile_messages.c - malformed messages on both faces of a real
    zexec-broker, from raw libzmq DEALERs: empty and one-frame messages,
    unknown headers and versions, bad command bytes, bad service names,
    missing frames, a REPLY before READY, a second READY (a worker
    restarted under its id), forged replies
    for another worker's requests, and batches cut short. (See
    test_hostile_floods.c for floods, huge frames, raw tcp and caps, and
    test_hostile_fake_broker.c for a fake broker.) The ctest entries of
    the three are test_hostile.*.

    Each test starts the good peers (testutil_peers.h): a zexec-broker
    (--verbose, its stderr in a log file), a good zexec-worker with the
    tasks of remote_tasks.c and a good coordinator (a remote executor in
    this process). Then raw sockets send the broker what no conforming
    peer sends. After each kind of garbage the test checks that the
    broker process still runs, that it logged a warning naming the
    sender, and that the good coordinator still gets the right results
    from the good worker. Each test ends by stopping the good worker and
    the broker with SIGTERM and expecting both to exit 0: under the
    sanitizers a leak or a race found at exit fails it.

    The fixture kills and reaps every process a test starts, also when
    it fails (then their logs are printed), and closes its raw sockets.
    Every wait is bounded.                                               */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The good peers: a broker, a worker of two threads, a coordinator; all
//  with heartbeats of 500 ms.
static void
s_env_start (zx_test_env_t *env)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) { .heartbeat_ms = 500 });
}

//  --------------------------------------------------------------------
//  Broker tests

static void
test_zero_length_frames_are_dropped_and_named_in_the_log (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-zero");
    SEND (raw, S (""));
    SEND (raw, S (""), S (""), S (""));
    SEND (raw, S ("ZXW01"), S (""));
    SEND (raw, S ("ZXC01"), S (""), S ("default"), S (""));
    const char *log = env.broker.child->log;
    zx_test_expect_log (log, "malformed message (2 frames) from hostile-zero: dropped",
                        "WARNING", 1);
    //  An empty frame, then more: a REQ socket's delimiter. Named once and
    //  answered, so that a REQ socket does not wait for ever
    zx_test_expect_log (log, "hostile-zero speaks a REQ socket", "WARNING", 1);
    zmq_msg_t answer [3];
    size_t count = zx_test_recv (raw, answer, 3);
    assert_int_equal (count, 2);
    assert_true (zmq_msg_size (&answer [0]) == 0);
    assert_non_null (memmem (zmq_msg_data (&answer [1]), zmq_msg_size (&answer [1]),
                             "zexec broker", 12));
    zx_test_close_frames (answer, count);
    zx_test_expect_log (log, "malformed message (3 frames) from hostile-zero: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "malformed message (5 frames) from hostile-zero: dropped",
                        "WARNING", 1);
    zx_test_env_check (&env, "zero-length headers and commands");

    //  Well-formed headers, empty bodies
    SEND (raw, S ("ZXW01"), S ("\x01"), S (""), S (""), S (""));
    SEND (raw, S ("ZXC01"), S ("\x02"), S (""), S (""));
    zx_test_expect_log (log, "READY with a bad service name from hostile-zero: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "malformed REQUEST from coordinator hostile-zero: dropped",
                        "WARNING", 1);
    //  An empty batch is valid and asks for nothing; empty CANCEL ids too
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S (""));
    SEND (raw, S ("ZXC01"), S ("\x06"), S (""));
    zx_test_env_check (&env, "empty service names and batches");
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_one_frame_messages_are_dropped_and_named_in_the_log (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-one");
    SEND (raw, S ("ZXW01"));
    SEND (raw, S ("ZXC01"));
    SEND (raw, S ("\x01"));
    SEND (raw, S ("garbage, and more garbage"));
    zx_test_expect_log (env.broker.child->log,
                        "malformed message (2 frames) from hostile-one: dropped", "WARNING", 4);
    zx_test_env_check (&env, "one-frame messages");
    //  Header and command only, on both faces, as an unknown peer
    SEND (raw, S ("ZXW01"), S ("\x01"));
    SEND (raw, S ("ZXW01"), S ("\x03"));
    SEND (raw, S ("ZXC01"), S ("\x02"));
    SEND (raw, S ("ZXC01"), S ("\x03"));
    zx_test_expect_log (env.broker.child->log,
                        "READY with a bad service name from hostile-one: dropped", "WARNING", 1);
    zx_test_expect_log (env.broker.child->log,
                        "malformed REQUEST from coordinator hostile-one: dropped", "WARNING", 1);
    //  REPLY from a worker it does not know: asked to start again
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (raw, 0, "ZXW01", ZX_CMD_DISCONNECT, frames, 4);
    assert_int_equal (count, 3);
    zx_test_close_frames (frames, count);
    zx_test_env_check (&env, "header-and-command messages");
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_unknown_protocol_headers_and_versions_are_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-header");
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 4);
    SEND (raw, S ("ZXW02"), S ("\x01"), S ("default"), B (info, sizeof info), S ("w"));
    SEND (raw, S ("ZXC02"), S ("\x02"), S ("default"), S ("x"));
    SEND (raw, S ("zxw01"), S ("\x01"), S ("default"), B (info, sizeof info), S ("w"));
    SEND (raw, S ("\0\0\0\0\0"), S ("\x01"), S ("default"));
    zx_test_expect_log (log, "unknown protocol header from hostile-header: dropped", "WARNING", 4);
    //  Majordomo's headers are six octets; with its empty delimiter first
    SEND (raw, S ("MDPW01"), S ("\x01"), S ("default"));
    SEND (raw, S ("MDPC01"), S ("default"), S ("request"));
    SEND (raw, S (""), S ("MDPW01"), S ("\x01"), S ("default"));
    SEND (raw, S ("ZXW01x"), S ("\x01"), S ("default"));
    //  Majordomo is named once per peer and role; its worker is told
    //  DISCONNECT as MDP says it ("", "MDPW01", 0x05), once for each message
    zx_test_expect_log (log, "malformed message (4 frames) from hostile-header: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "hostile-header speaks a Majordomo (MDP) worker", "WARNING", 1);
    zx_test_expect_log (log, "hostile-header speaks a Majordomo (MDP) client", "WARNING", 1);
    for (int i = 0; i < 2; i++) {
        zmq_msg_t bye [4];
        size_t count = zx_test_recv (raw, bye, 4);
        assert_int_equal (count, 3);
        assert_true (zx_test_frame_is (&bye [1], "MDPW01", 6));
        assert_true (zx_test_frame_is (&bye [2], "\x05", 1));
        zx_test_close_frames (bye, count);
    }
    assert_int_equal (zx_test_log_count (log, "malformed message (5 frames) from hostile-header",
                                         NULL), 0);
    zx_test_env_check (&env, "unknown headers");
    //  None of them opened a service or registered a worker
    assert_int_equal (zx_test_log_count (log, "hostile-header ready", NULL), 0);
    assert_int_equal (zx_test_log_count (log, "service '", "opened"), 1);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_bad_command_bytes_are_dropped_on_both_faces (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    //  Command frames of the wrong size
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-command");
    SEND (raw, S ("ZXW01"), S ("\x01\x01"), S ("default"));
    SEND (raw, S ("ZXC01"), S ("\x02\x00\x00\x00"), S ("default"), S (""));
    zx_test_expect_log (log, "malformed message (4 frames) from hostile-command: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "malformed message (5 frames) from hostile-command: dropped",
                        "WARNING", 1);
    //  Unassigned commands from a coordinator the broker does not know yet
    SEND (raw, S ("ZXC01"), S ("\x00"));
    SEND (raw, S ("ZXC01"), S ("\x08"), S ("x"));
    SEND (raw, S ("ZXC01"), S ("\xff"));
    SEND (raw, S ("ZXC01"), S ("\x01"), S ("default"));     //  READY on the client face
    zx_test_expect_log (log, "from unknown coordinator hostile-command: dropped", "WARNING", 4);
    //  STATS (0x07) is a question without a frame: one with a frame is dropped
    SEND (raw, S ("ZXC01"), S ("\x07"), S ("x"));
    zx_test_expect_log (log, "malformed STATS from hostile-command: dropped", "WARNING", 1);
    zx_test_env_check (&env, "bad command bytes from an unknown coordinator");

    //  ... and from one it knows (an empty REQUEST makes it known)
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S (""));
    SEND (raw, S ("ZXC01"), S ("\x00"));
    SEND (raw, S ("ZXC01"), S ("\x08"));
    SEND (raw, S ("ZXC01"), S ("\xff"), S ("x"), S ("y"));
    SEND (raw, S ("ZXC01"), S ("\x03"), S (""));
    zx_test_expect_log (log, "unknown command 0 from coordinator hostile-command: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "unknown command 8 from coordinator hostile-command: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "unknown command 255 from coordinator hostile-command: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "unknown command 3 from coordinator hostile-command: dropped",
                        "WARNING", 1);

    //  Unassigned and dispatcher-only commands from a registered worker
    void *fake = zx_test_fake_worker (&env.broker, "hostile-cmdworker", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x00"));
    SEND (fake, S ("ZXW01"), S ("\x07"));
    SEND (fake, S ("ZXW01"), S ("\xff"));
    SEND (fake, S ("ZXW01"), S ("\x02"), S ("x"));          //  REQUEST from a worker
    SEND (fake, S ("ZXW01"), S ("\x06"), S ("12345678"));   //  CANCEL from a worker
    zx_test_expect_log (log, "from hostile-cmdworker: dropped", "unknown command", 5);
    zx_test_env_check (&env, "bad command bytes from a worker and a coordinator");
    zx_test_raw_close (&fake);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_empty_300_byte_and_nul_service_names_are_refused (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    char long_name [300];
    memset (long_name, 's', sizeof long_name);
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 4);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-service");
    SEND (raw, S ("ZXW01"), S ("\x01"), S (""), B (info, sizeof info), S ("w"));
    SEND (raw, S ("ZXW01"), S ("\x01"), B (long_name, sizeof long_name), B (info, sizeof info),
          S ("w"));
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("def\0ault"), B (info, sizeof info), S ("w"));
    zx_test_expect_log (log, "READY with a bad service name from hostile-service: dropped",
                        "WARNING", 3);
    //  A coordinator's REQUEST naming such services
    zx__batch_t batch = { 0 };
    zx_test_add_request (&batch, 1, "square", 3);
    SEND (raw, S ("ZXC01"), S ("\x02"), S (""), B (batch.data, batch.size));
    SEND (raw, S ("ZXC01"), S ("\x02"), B (long_name, sizeof long_name),
          B (batch.data, batch.size));
    zx_test_expect_log (log, "malformed REQUEST from coordinator hostile-service: dropped",
                        "WARNING", 2);
    //  One with a NUL is answered: a task error, no service opened
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("def\0ault"), B (batch.data, batch.size));
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, cursor + zmq_msg_size (&frames [2]), &rec),
                      ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (rec.status, ZX_STATUS_TASK_ERROR);
    zx_test_close_frames (frames, count);
    //  A 255-byte name is fine: it opens a service
    SEND (raw, S ("ZXW01"), S ("\x01"), B (long_name, 255), B (info, sizeof info), S ("w"));
    zx_test_expect_log (log, "worker hostile-service ready", NULL, 1);
    zx_test_env_check (&env, "bad service names");
    assert_int_equal (zx_test_log_count (log, "service '", "opened"), 2);
    zx__batch_free (&batch);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_messages_with_missing_frames_are_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-missing");
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 4);
    //  READY without its info frame, and with one of the wrong size
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("hostile"));
    SEND (raw, S ("ZXW01"), S ("\x01"), S ("hostile"), B (info, 5), S ("w"));
    zx_test_expect_log (log, "malformed READY from hostile-missing: dropped", "WARNING", 2);
    //  REQUEST without its batch, or its service and batch
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"));
    SEND (raw, S ("ZXC01"), S ("\x02"));
    zx_test_expect_log (log, "malformed REQUEST from coordinator hostile-missing: dropped",
                        "WARNING", 2);
    //  CANCEL without ids, DISCONNECT without its body: ignored
    SEND (raw, S ("ZXC01"), S ("\x06"));
    zx_test_env_check (&env, "missing frames from an unregistered peer");

    //  A registered worker's REPLY without its batch, or with extra frames
    void *fake = zx_test_fake_worker (&env.broker, "hostile-missing-w", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x03"));
    SEND (fake, S ("ZXW01"), S ("\x03"), S (""), S ("extra"));
    SEND (fake, S ("ZXW01"), S ("\x05"));                   //  DISCONNECT, no body
    zx_test_expect_log (log, "malformed REPLY from hostile-missing-w: dropped", "WARNING", 2);
    zx_test_expect_log (log, "worker hostile-missing-w left", NULL, 1);
    zx_test_env_check (&env, "missing frames from a registered worker");
    zx_test_raw_close (&fake);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_a_reply_before_ready_is_answered_with_disconnect (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-early");
    zx__batch_t batch = { 0 };
    zx_test_add_reply (&batch, 1, 1, ZX_STATUS_OK, 666, 666);
    //  Heartbeat and DISCONNECT before READY are ignored; REPLY is not
    SEND (raw, S ("ZXW01"), S ("\x04"));
    SEND (raw, S ("ZXW01"), S ("\x05"), S ("\x00"));
    SEND (raw, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (raw, 0, "ZXW01", ZX_CMD_DISCONNECT, frames, 4);
    assert_int_equal (count, 3);
    assert_true (zx_test_frame_is (&frames [2], "\x00", 1));
    zx_test_close_frames (frames, count);
    zx_test_env_check (&env, "a REPLY before READY");
    zx__batch_free (&batch);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  A worker restarted under the routing id it had (a container keeps its
//  host name and runs the worker as the same pid) says READY again on a
//  connection the broker may take for the old one. Its earlier connection
//  is gone: what it held is retried when the request allows it and fails
//  at once otherwise, and the new registration gets work.
static void
test_a_second_ready_gives_back_what_the_first_held_and_serves (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    void *fake = zx_test_fake_worker (&env.broker, "hostile-twice", "again", 2);
    void *coord = zx_test_raw_connect (env.broker.endpoint, "hostile-twice-coord");
    //  Square 7 may be retried once, square 8 may not: the worker holds both
    zx_test_send_squares (coord, "again", (uint64_t []) { 7, 8 }, (uint8_t []) { 1, 0 }, 2);
    uint64_t corrs [2];
    uint32_t attempts [2];
    zx_test_take_requests (fake, corrs, attempts, 2);
    assert_int_equal (attempts [0], 1);
    assert_int_equal (attempts [1], 1);

    //  The same id says READY again
    zx_test_send_ready (fake, "again", 1, "hostile-twice");
    zx_test_expect_log (log, "worker hostile-twice said READY again: its earlier connection "
                        "is gone", "(it held 2)", 1);
    //  Square 8 failed at once, naming why; square 7 comes back, attempt 2
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_WORKER_LOST,
                                             "said READY again"), 1);
    zx_test_close_frames (frames, count);
    uint64_t held = corrs [0];      //  The broker's id for square 7
    zx_test_take_requests (fake, corrs, attempts, 1);
    assert_int_equal (corrs [0], held);
    assert_int_equal (attempts [0], 2);
    //  The new registration answers it; a late answer to attempt 1 is
    //  dropped (the worker sees the broker's ids, not the coordinator's)
    zx__batch_t batch = { 0 };
    zx_test_add_reply (&batch, held, 1, ZX_STATUS_OK, 666, 666);
    zx_test_add_reply (&batch, held, 2, ZX_STATUS_OK, 49, 49);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    zx__batch_free (&batch);
    count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_OK, NULL), 1);
    zx_test_close_frames (frames, count);
    assert_int_equal (zx_test_log_count (log, "worker hostile-twice ready", NULL), 2);

    //  READY under that id for another service: it leaves the first
    //  (holding nothing) and serves the second, here the good worker's
    zx_test_send_squares (coord, "again", (uint64_t []) { 9 }, (uint8_t []) { 0 }, 1);
    zx_test_take_requests (fake, corrs, attempts, 1);
    zx_test_send_ready (fake, "hostile-other", 1, "hostile-twice");
    zx_test_expect_log (log, "worker hostile-twice left: it said READY again, for another "
                        "service", NULL, 1);
    count = zx_test_expect_command (coord, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_WORKER_LOST,
                                             "for another service"), 1);
    zx_test_close_frames (frames, count);
    zx_test_expect_log (log, "worker hostile-twice ready", NULL, 3);
    zx_test_env_check (&env, "a second READY");
    zx_test_raw_close (&coord);
    zx_test_raw_close (&fake);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  A worker that forges replies for requests the good worker holds (any
//  correlation id, any attempt, any status) must not complete them.
static void
test_forged_replies_for_another_workers_requests_are_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    //  Four sleeps, all held by the good worker (two threads, credits to spare)
    zx_future_t *sleeps [4];
    int64_t start = zx_test_now_ms ();
    for (int i = 0; i < 4; i++)
        sleeps [i] = zx_run_in_executor (env.loop, env.remote, "sleep_ms",
                                         zx_values_pack ("i", (int64_t) 300));
    size_t done = 0;
    zx_wait (sleeps, 4, ZX_ALL_COMPLETED, 100, NULL, &done, NULL, NULL);
    assert_int_equal (done, 0);
    //  The impostor joins the same service, forges, and leaves at once, so
    //  nothing is ever dealt to it
    void *fake = zx_test_raw_connect (env.broker.endpoint, "hostile-forger");
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 1);
    zx__batch_t batch = { 0 };
    for (uint64_t corr = 0; corr < 400; corr++)
        for (uint32_t attempt = 0; attempt < 3; attempt++)
            zx_test_add_reply (&batch, corr, attempt, (uint8_t) (corr % 12), 666, 666);
    zx_test_add_reply (&batch, UINT64_MAX, 1, ZX_STATUS_OK, 666, 666);
    SEND (fake, S ("ZXW01"), S ("\x01"), S ("default"), B (info, sizeof info), S ("forger"));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (batch.data, batch.size));
    SEND (fake, S ("ZXW01"), S ("\x05"), S ("\x00"));
    zx_test_expect_log (env.broker.child->log, "worker hostile-forger left", NULL, 1);
    zx_wait (sleeps, 4, ZX_ALL_COMPLETED, 5000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 4);
    int64_t elapsed = zx_test_now_ms () - start;
    for (int i = 0; i < 4; i++) {
        if (zx_future_error (sleeps [i]) != ZX_OK)
            fail_msg ("sleep %d: %s", i, zx_future_message (sleeps [i]));
        int64_t pid = 0;
        assert_int_equal (zx_values_get_int (zx_future_result (sleeps [i]), 0, &pid), ZX_OK);
        assert_int_equal (pid, env.worker->pid);
        zx_future_destroy (&sleeps [i]);
    }
    assert_true (elapsed >= 290);
    zx_test_env_check (&env, "forged replies");
    zx__batch_free (&batch);
    zx_test_raw_close (&fake);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_truncated_batches_are_dropped_after_their_good_records (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-batch");
    //  A good record, then a record cut short: the first runs, the rest
    //  is dropped
    zx__batch_t batch = { 0 };
    zx_test_add_request (&batch, 1, "square", 5);
    size_t first = batch.size;
    zx_test_add_request (&batch, 2, "square", 6);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, first + 10));
    zx_test_expect_log (log, "malformed REQUEST batch from coordinator hostile-batch: rest dropped",
                        "WARNING", 1);
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
    zx__reply_rec_t rec;
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_OK);
    assert_int_equal (rec.corr, 1);
    assert_int_equal (rec.status, ZX_STATUS_OK);
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (rec.payload, rec.payload_size, &values), ZX_OK);
    int64_t square = 0;
    assert_int_equal (zx_values_get_int (values, 0, &square), ZX_OK);
    assert_int_equal (square, 25);
    zx_values_destroy (&values);
    assert_int_equal (zx__batch_next_reply (&cursor, end, &rec), ZX_EPENDING);
    zx_test_close_frames (frames, count);

    //  Record sizes that lie: huge, too small for the fixed part, a name
    //  longer than the record, a zero name length; and a lone size field
    size_t second = batch.size - first;
    uint8_t lies [4][64];
    assert_true (second <= sizeof lies [0]);
    for (int i = 0; i < 4; i++)
        memcpy (lies [i], batch.data + first, second);
    zx__put_u32 (lies [0], UINT32_MAX);
    zx__put_u32 (lies [1], 3);
    lies [2][17] = 200;
    lies [3][17] = 0;
    for (int i = 0; i < 4; i++)
        SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (lies [i], second));
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, 3));
    zx_test_expect_log (log, "malformed REQUEST batch from coordinator hostile-batch: rest dropped",
                        "WARNING", 6);
    //  A CANCEL with a trailing partial id is taken for what it holds
    SEND (raw, S ("ZXC01"), S ("\x06"), S ("1234567"));

    //  A registered worker's REPLY batch cut short
    void *fake = zx_test_fake_worker (&env.broker, "hostile-batch-w", "hostile", 1);
    zx__batch_t replies = { 0 };
    zx_test_add_reply (&replies, 7, 1, ZX_STATUS_OK, 1, 2);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size - 1));
    SEND (fake, S ("ZXW01"), S ("\x03"), B (replies.data, 2));
    zx_test_expect_log (log, "malformed REPLY batch from hostile-batch-w: rest dropped",
                        "WARNING", 2);
    zx_test_env_check (&env, "truncated batches");
    zx__batch_free (&batch);
    zx__batch_free (&replies);
    zx_test_raw_close (&fake);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_zero_length_frames_are_dropped_and_named_in_the_log),
    cmocka_unit_test (test_one_frame_messages_are_dropped_and_named_in_the_log),
    cmocka_unit_test (test_unknown_protocol_headers_and_versions_are_dropped),
    cmocka_unit_test (test_bad_command_bytes_are_dropped_on_both_faces),
    cmocka_unit_test (test_empty_300_byte_and_nul_service_names_are_refused),
    cmocka_unit_test (test_messages_with_missing_frames_are_dropped),
    cmocka_unit_test (test_a_reply_before_ready_is_answered_with_disconnect),
    cmocka_unit_test (test_a_second_ready_gives_back_what_the_first_held_and_serves),
    cmocka_unit_test (test_forged_replies_for_another_workers_requests_are_dropped),
    cmocka_unit_test (test_truncated_batches_are_dropped_after_their_good_records),
};

ZX_TEST_RAW_MAIN (tests)
