/*  test_hostile_floods.c - what a peer can make a real zexec-broker read
    or remember: a message of 100,000 frames, frames of 64 MiB, a message
    never finished, bytes on a raw tcp connection that are not ZMTP, a
    frame claiming 2^62 octets, READYs past --max-workers, and workers
    that never registered or vanished. (See test_hostile_messages.c for
    the malformed messages; the ctest entries are test_hostile.*.)

    As there, each test starts the good peers (testutil_peers.h), attacks
    the broker, checks after each attack that it still runs and that the
    good coordinator is still served by the good worker, and ends by
    stopping both with SIGTERM, expecting exit 0.                       */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1       //  Freed memory is held back: no RSS bounds
#endif

//  The good peers: a broker, a worker of two threads, a coordinator; all
//  with heartbeats of 500 ms.
static void
s_env_start (zx_test_env_t *env)
{
    zx_test_env_start (env, &(zx_test_env_opts_t) { .heartbeat_ms = 500 });
}

//  --------------------------------------------------------------------
//  Floods, big frames, unfinished messages, raw tcp

static void
test_a_message_of_100000_tiny_frames_is_drained_and_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-frames");
    enum { FRAMES = 100000 };
    int64_t start = zx_test_now_ms ();
    //  A valid start (a READY) and then far too many frames
    assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    assert_true (zmq_send (raw, "\x01", 1, ZMQ_SNDMORE) == 1);
    for (int i = 0; i < FRAMES; i++)
        assert_true (zmq_send (raw, "x", i % 2, i + 1 < FRAMES ? ZMQ_SNDMORE : 0) >= 0);
    //  And 100,000 empty frames
    for (int i = 0; i < FRAMES; i++)
        assert_true (zmq_send (raw, "", 0, i + 1 < FRAMES ? ZMQ_SNDMORE : 0) == 0);
    zx_test_expect_log (env.broker.child->log,
                        "malformed message (8 frames) from hostile-frames: dropped", "WARNING", 2);
    print_message ("200,000 frames dropped in %lld ms\n", (long long) (zx_test_now_ms () - start));
    zx_test_env_check (&env, "100,000 tiny frames");
    assert_int_equal (zx_test_log_count (env.broker.child->log, "hostile-frames ready", NULL), 0);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_64_megabyte_frames_are_dropped_and_their_memory_returned (void **state)
{
    (void) state;
    zx_test_env_t env;
    //  Heartbeats of 3 s: the fake worker sends none, and a 64 MB frame
    //  can take longer than 1.5 s to cross loopback on a loaded machine
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 3000 });
    const char *log = env.broker.child->log;
    enum { BIG = ZX_TEST_BIG_FRAME };
    uint8_t *big = malloc (BIG);
    assert_non_null (big);
    memset (big, 0xff, BIG);
    long before = zx_test_rss_kib (env.broker.child->pid);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-big");
    //  As a header, a service name, a request batch and a reply batch
    SEND (raw, B (big, BIG), S ("\x01"), S ("default"));
    SEND (raw, S ("ZXW01"), S ("\x01"), B (big, BIG), S ("info"), S ("w"));
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (big, BIG));
    zx_test_expect_log (log, "malformed message (4 frames) from hostile-big: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "READY with a bad service name from hostile-big: dropped",
                        "WARNING", 1);
    zx_test_expect_log (log, "malformed REQUEST batch from coordinator hostile-big: rest dropped",
                        "WARNING", 1);
    void *fake = zx_test_fake_worker (&env.broker, "hostile-big-w", "hostile", 1);
    SEND (fake, S ("ZXW01"), S ("\x03"), B (big, BIG));
    zx_test_expect_log (log, "malformed REPLY batch from hostile-big-w: rest dropped",
                        "WARNING", 1);
    zx_test_env_check (&env, "big frames");
    //  Four more, as bodies of a known coordinator's commands
    for (int i = 0; i < 4; i++)
        SEND (raw, S ("ZXC01"), S ("\x06"), B (big, BIG));
    SEND (raw, S ("ZXC01"), S ("\x04"));
    zx_test_env_check (&env, "more big frames");
    long after = zx_test_rss_kib (env.broker.child->pid);
    print_message ("broker RSS %ld KiB before, %ld KiB after 8 frames of %d MiB\n", before, after,
                   BIG >> 20);
#ifndef ZX_SANITIZED
    assert_true (after - before < 96 * 1024);
#endif
    free (big);
    zx_test_raw_close (&fake);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

static void
test_a_multipart_message_never_finished_is_never_seen (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    //  Frames sent with SNDMORE, then the socket closes: never delivered
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-unfinished");
    SEND (raw, S ("ZXC01"), S ("\x04"));        //  Known... only as traffic
    for (int i = 0; i < 3; i++)
        assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    usleep (100000);
    zx_test_env_check (&env, "an unfinished message on an open connection");
    zx_test_raw_close (&raw);
    zx_test_env_check (&env, "an unfinished message and its connection closed");
    //  One left open while the good peers work, then finished much later:
    //  the broker sees one long malformed message
    raw = zx_test_raw_connect (env.broker.endpoint, "hostile-late");
    assert_true (zmq_send (raw, "ZXW01", 5, ZMQ_SNDMORE) == 5);
    assert_true (zmq_send (raw, "\x01", 1, ZMQ_SNDMORE) == 1);
    zx_test_env_check (&env, "an unfinished message");
    SEND (raw, S ("default"), S ("info"), S ("w"), S ("ZXW01"), S ("\x04"), S ("more"));
    zx_test_expect_log (log, "malformed message (8 frames) from hostile-late: dropped",
                        "WARNING", 1);
    zx_test_env_check (&env, "a message finished late");
    assert_int_equal (zx_test_log_count (log, "hostile-unfinished", NULL), 0);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  Connects a plain tcp socket to the broker, writes size bytes and
//  closes it (after a pause, so the broker reads them).
static void
s_tcp_garbage (const zx_test_env_t *env, const void *data, size_t size, int pause_ms)
{
    int fd = zx_test_tcp_connect (env->broker.port);
    const uint8_t *at = data;
    while (size > 0) {
        ssize_t sent = send (fd, at, size, MSG_NOSIGNAL);
        if (sent <= 0)
            break;                      //  The broker closed it: fine
        at += sent;
        size -= (size_t) sent;
    }
    usleep ((useconds_t) pause_ms * 1000);
    close (fd);
}

static void
test_garbage_on_a_raw_tcp_connection_is_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    //  Random bytes
    enum { SIZE = 256 * 1024 };
    uint8_t *noise = malloc (SIZE);
    assert_non_null (noise);
    uint32_t seed = 12345;
    for (size_t i = 0; i < SIZE; i++) {
        seed = seed * 1103515245 + 12345;
        noise [i] = (uint8_t) (seed >> 16);
    }
    s_tcp_garbage (&env, noise, SIZE, 50);
    zx_test_env_check (&env, "random bytes on tcp");
    //  Text from another protocol
    const char *http = "GET / HTTP/1.1\r\nHost: zexec\r\n\r\n";
    s_tcp_garbage (&env, http, strlen (http), 50);
    //  A ZMTP signature and then noise
    uint8_t greeting [64 + 64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f };
    memcpy (greeting + 10, noise, sizeof greeting - 10);
    s_tcp_garbage (&env, greeting, sizeof greeting, 50);
    //  A whole ZMTP 3.0 NULL greeting, then a READY command whose property
    //  claims four gigabytes, then a frame that claims 2^62 octets
    uint8_t zmtp [64 + 64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L' };
    uint8_t *command = zmtp + 64;
    const uint8_t ready [] = { 0x04, 30, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k',
                               'e', 't', '-', 'T', 'y', 'p', 'e', 0xff, 0xff, 0xff, 0xff,
                               'D', 'E', 'A', 'L', 'E', 'R', 0, 0 };
    memcpy (command, ready, sizeof ready);
    s_tcp_garbage (&env, zmtp, 64 + sizeof ready, 50);
    zx_test_env_check (&env, "ZMTP greetings with garbage");
    //  Connections that say nothing, one held open meanwhile
    int silent = zx_test_tcp_connect (env.broker.port);
    for (int i = 0; i < 20; i++)
        s_tcp_garbage (&env, NULL, 0, 0);
    zx_test_env_check (&env, "silent tcp connections");
    close (silent);
    free (noise);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  A valid ZMTP 3.0 handshake as a DEALER, then a frame header claiming
//  2^62 octets: libzmq must refuse it, not try to allocate it.
static void
test_a_frame_claiming_exabytes_is_refused (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    uint8_t out [512];
    size_t size = 0;
    const uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0,
                                    'N', 'U', 'L', 'L' };
    memcpy (out, greeting, sizeof greeting);
    size = sizeof greeting;
    const uint8_t ready [] = { 0x04, 28, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k',
                               'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6,
                               'D', 'E', 'A', 'L', 'E', 'R' };
    memcpy (out + size, ready, sizeof ready);
    size += sizeof ready;
    //  A long frame (flags 0x02) of 2^62 octets, and a few of them
    const uint8_t huge [] = { 0x02, 0x40, 0, 0, 0, 0, 0, 0, 0, 'x', 'x', 'x' };
    memcpy (out + size, huge, sizeof huge);
    size += sizeof huge;
    s_tcp_garbage (&env, out, size, 100);
    zx_test_env_check (&env, "a frame claiming 2^62 octets");
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  Caps and leaks: what a peer can make the broker remember

//  --max-workers bounds the workers a broker maps; READYs past it are
//  dropped with a warning, and the good worker goes on.
static void
test_readys_past_max_workers_are_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    const char *extra [] = { "--max-workers", "20", NULL };
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 1000,
                                                     .broker_args = extra });
    enum { FAKES = 200 };
    void *fakes [FAKES];
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 1);
    for (int i = 0; i < FAKES; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-many-%d", i);
        fakes [i] = zx_test_raw_connect (env.broker.endpoint, identity);
        SEND (fakes [i], S ("ZXW01"), S ("\x01"), S ("fake"), B (info, sizeof info), S ("w"));
    }
    const char *log = env.broker.child->log;
    zx_test_expect_log (log, "too many workers: READY from hostile-many-", "WARNING", FAKES - 19);
    zx_test_expect_log (log, "worker hostile-many-", " ready", 19);
    zx_test_env_check (&env, "200 READYs");
    usleep (200000);
    assert_int_equal (zx_test_log_count (log, "worker hostile-many-", " ready"), 19);
    for (int i = 0; i < FAKES; i++)
        zx_test_raw_close (&fakes [i]);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  READYs that never made a worker, and workers that vanished while work
//  was dealt to them, must not stay in the broker's tables: with a cap of
//  three workers, a second good worker must still get in.
static void
test_workers_that_never_registered_or_vanished_are_forgotten (void **state)
{
    (void) state;
    zx_test_env_t env;
    const char *extra [] = { "--max-workers", "3", NULL };
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 1000,
                                                     .broker_args = extra });
    const char *log = env.broker.child->log;
    uint8_t info [ZX_READY_INFO_SIZE];
    zx_test_ready_info (info, 1);
    //  Good service, bad info frame: mapped, then refused by the dispatcher
    for (int i = 0; i < 5; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-badinfo-%d", i);
        void *raw = zx_test_raw_connect (env.broker.endpoint, identity);
        SEND (raw, S ("ZXW01"), S ("\x01"), S ("default"), B (info, 3), S ("w"));
        zx_test_expect_log (log, "malformed READY from", identity, 1);
        zx_test_raw_close (&raw);
    }
    assert_int_equal (zx_test_log_count (log, "too many workers", NULL), 0);
    //  Two workers that say READY for the good service and go away
    for (int i = 0; i < 2; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "hostile-vanish-%d", i);
        void *raw = zx_test_fake_worker (&env.broker, identity, "default", 4);
        zx_test_raw_close (&raw);
    }
    usleep (200000);                //  The broker notices the closed connections
    //  Work dealt to them finds them gone and goes to the good worker
    zx_future_t *futures [12];
    for (int i = 0; i < 12; i++)
        futures [i] = zx_run_in_executor (env.loop, env.remote, "square",
                                          zx_values_pack ("i", (int64_t) i));
    size_t done = 0;
    zx_wait (futures, 12, ZX_ALL_COMPLETED, 10000, NULL, &done, NULL, NULL);
    assert_int_equal (done, 12);
    for (int i = 0; i < 12; i++) {
        if (zx_future_error (futures [i]) != ZX_OK)
            fail_msg ("task %d: %s", i, zx_future_message (futures [i]));
        zx_future_destroy (&futures [i]);
    }
    zx_test_expect_log (log, "is unreachable", "hostile-vanish-", 2);
    //  Room for a second good worker
    zx_test_child_t *second = zx_test_worker_start (&env.broker, 2, NULL);
    zx_test_wait_ready (&env.broker, second);
    env.other = second->pid;
    zx_test_env_check (&env, "READYs that never made a worker");
    assert_int_equal (zx_test_log_count (log, "too many workers", NULL), 0);
    zx_test_peer_stop_cleanly (second, "the second worker", 10000);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  Coordinators that take more than their share

//  A coordinator that sends requests answered at once (a service name
//  with a NUL) and never reads the answers: libzmq holds 100 messages
//  for it, the broker at most --max-client-backlog bytes more, and past
//  that it is dropped with the reason logged. The broker's memory stays
//  bounded and the good coordinator is served throughout.
static void
test_a_coordinator_that_never_reads_its_replies_is_bounded_and_dropped (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    const char *log = env.broker.child->log;
    long before = zx_test_rss_kib (env.broker.child->pid);
    //  Its receive high-water mark stops its own libzmq reading, as a
    //  peer that never calls recv does
    void *raw = zx_test_raw_dealer ("hostile-deaf", 2000, 5000);
    int hwm = 10;
    assert_int_equal (zmq_setsockopt (raw, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal (zmq_connect (raw, env.broker.endpoint), 0);
#ifdef ZX_SANITIZED
    enum { REQUESTS = 1000, RECORDS = 1000 };
#else
    enum { REQUESTS = 4000, RECORDS = 1000 };
#endif
    zx__batch_t batch = { 0 };
    for (int i = 0; i < RECORDS; i++)
        zx_test_add_request (&batch, (uint64_t) i + 1, "square", i);
    for (int i = 0; i < REQUESTS; i++) {
        SEND (raw, S ("ZXC01"), S ("\x02"), S ("bad\0name"), B (batch.data, batch.size));
        if (i == REQUESTS / 2)
            zx_test_env_check (&env, "a coordinator that never reads, half way");
    }
    zx__batch_free (&batch);
    //  Its last message, malformed, is logged after all the others were read
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S ("\x01"));
    if (!zx_test_log_wait_running (log, "malformed REQUEST batch from coordinator hostile-deaf",
                                   NULL, 1, 60000))
        fail_msg ("the broker did not read the whole flood within 60 s");
    int drops = zx_test_log_count (log, "coordinator hostile-deaf dropped: it does not read "
                                   "its replies", NULL);
    long after = zx_test_rss_kib (env.broker.child->pid);
    long peak = zx_test_peak_rss_kib (env.broker.child->pid);
    print_message ("%d x %d answers (%d MiB) never read: dropped %d times; broker RSS %ld KiB "
                   "before, %ld KiB after, peak %ld KiB\n", REQUESTS, RECORDS,
                   (int) ((int64_t) REQUESTS * RECORDS * 60 >> 20), drops, before, after, peak);
    assert_true (drops >= 1);
#ifndef ZX_SANITIZED
    //  Default --max-client-backlog 16 MiB (a batch buffer may be twice
    //  that) plus 100 messages of at most 64 KiB; unbounded, the answers
    //  alone are some 230 MiB
    assert_true (peak - before < 128 * 1024);
#endif
    zx_test_env_check (&env, "a coordinator that never reads");
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  200,000 one-byte messages from one peer: the broker logs the first 20
//  of their kind, then holds the rest back and says how many when the
//  period ends (here, at its shutdown), instead of a line per message.
static void
test_200000_garbage_messages_make_a_bounded_log_that_counts_the_rest (void **state)
{
    (void) state;
    zx_test_env_t env;
    s_env_start (&env);
    char *log = strdup (env.broker.child->log);
    assert_non_null (log);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-flood");
    enum { FLOOD = 200000 };
    for (int i = 0; i < FLOOD; i++)
        SEND (raw, S ("x"));
    //  Another kind, sent last: once it is logged, the flood was read
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), S ("\x01"));
    zx_test_expect_log (log, "malformed REQUEST batch from coordinator hostile-flood", NULL, 1);
    int lines = zx_test_log_count (log, "malformed message (2 frames) from hostile-flood", NULL);
    zx_test_env_check (&env, "a flood of garbage");
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    //  At its shutdown the broker says what it held back
    char summary [128];
    snprintf (summary, sizeof summary, "... and %d more 'malformed' from hostile-flood",
              FLOOD - lines);
    int summaries = zx_test_log_count (log, summary, NULL);
    FILE *file = fopen (log, "r");
    assert_non_null (file);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fclose (file);
    print_message ("%d one-byte messages: %d lines about them, %d summary ('%s'); the broker's "
                   "log is %ld bytes in all\n", FLOOD, lines, summaries, summary, size);
    assert_int_equal (lines, 20);
    assert_int_equal (summaries, 1);
    assert_true (size < 64 * 1024);
    free (log);
    zx_test_pass ();
}

//  Sends one REQUEST record for service with args_size bytes of arguments
//  (never decoded: no worker answers it).
static void
s_send_big (void *raw, const char *service, uint64_t corr, const void *args, size_t args_size)
{
    zx__batch_t batch = { 0 };
    assert_int_equal (zx__batch_add_request (&batch, corr, 1, 0, "echo", 4, args, args_size),
                      ZX_OK);
    SEND (raw, S ("ZXC01"), S ("\x02"), B (service, strlen (service)),
          B (batch.data, batch.size));
    zx__batch_free (&batch);
}

//  Receives replies on a raw coordinator until count records came, and
//  counts those with status whose text holds text.
static int
s_expect_replies (void *raw, int count, uint8_t status, const char *text)
{
    int seen = 0, matched = 0;
    while (seen < count) {
        zmq_msg_t frames [4];
        size_t frame_count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
        assert_int_equal (frame_count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK)
            seen++;
        matched += zx_test_count_replies (&frames [2], status, text);
        zx_test_close_frames (frames, frame_count);
    }
    return matched;
}

//  A worker that takes one request and never answers; coordinators that
//  send 1 MiB of arguments per request. Past --max-client-bytes (per
//  coordinator) and --max-queue-bytes (per service) requests fail at
//  once with QUEUE_FULL, naming the cap; what was taken stays queued.
static void
test_argument_bytes_past_the_coordinator_and_queue_caps_get_queue_full (void **state)
{
    (void) state;
    const char *extra [] = { "--max-client-bytes", "4194304", "--max-queue-bytes", "6291456",
                             "--no-worker-wait", "60000", NULL };
    zx_test_env_t env;
    //  Heartbeats of 2 s, and the fake worker sends one at each step: it
    //  must not be declared lost (and its task answered) on a slow machine
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 2000,
                                                     .broker_args = extra });
    long before = zx_test_rss_kib (env.broker.child->pid);
    void *fake = zx_test_fake_worker (&env.broker, "hostile-slow", "bytes", 1);
    enum { MIB = 1024 * 1024 };
    char *args = calloc (1, MIB);
    assert_non_null (args);
    //  The first coordinator: 4 MiB of its 8 are taken (one held by the
    //  worker, three queued), 4 refused
    void *first = zx_test_raw_connect (env.broker.endpoint, "hostile-bytes-1");
    for (int i = 0; i < 8; i++)
        s_send_big (first, "bytes", (uint64_t) i + 1, args, MIB);
    uint64_t corr;
    uint32_t attempt;
    zx_test_take_requests (fake, &corr, &attempt, 1);
    SEND (fake, S ("ZXW01"), S ("\x04"));
    assert_int_equal (s_expect_replies (first, 4, ZX_STATUS_QUEUE_FULL, "--max-client-bytes "
                                        "4194304"), 4);
    SEND (fake, S ("ZXW01"), S ("\x04"));
    //  The second: the service's queue holds 3 MiB; 3 more fit, then full
    void *second = zx_test_raw_connect (env.broker.endpoint, "hostile-bytes-2");
    for (int i = 0; i < 4; i++)
        s_send_big (second, "bytes", (uint64_t) i + 1, args, MIB);
    assert_int_equal (s_expect_replies (second, 1, ZX_STATUS_QUEUE_FULL, "--max-queue-bytes "
                                        "6291456"), 1);
    SEND (fake, S ("ZXW01"), S ("\x04"));
    //  Nothing more was answered: the rest waits for the worker
    zmq_msg_t frames [4];
    assert_int_equal (zx_test_recv_command (first, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 300), 0);
    long after = zx_test_rss_kib (env.broker.child->pid);
    print_message ("12 requests of 1 MiB, 7 taken: broker RSS %ld KiB before, %ld KiB after\n",
                   before, after);
    zx_test_env_check (&env, "argument bytes past the caps");
    free (args);
    zx_test_raw_close (&first);
    zx_test_raw_close (&second);
    zx_test_raw_close (&fake);
    zx_test_env_stop (&env);
    zx_test_pass ();
}


static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_message_of_100000_tiny_frames_is_drained_and_dropped),
    cmocka_unit_test (test_64_megabyte_frames_are_dropped_and_their_memory_returned),
    cmocka_unit_test (test_a_multipart_message_never_finished_is_never_seen),
    cmocka_unit_test (test_garbage_on_a_raw_tcp_connection_is_dropped),
    cmocka_unit_test (test_a_frame_claiming_exabytes_is_refused),
    cmocka_unit_test (test_readys_past_max_workers_are_dropped),
    cmocka_unit_test (test_workers_that_never_registered_or_vanished_are_forgotten),
    cmocka_unit_test (test_a_coordinator_that_never_reads_its_replies_is_bounded_and_dropped),
    cmocka_unit_test (test_200000_garbage_messages_make_a_bounded_log_that_counts_the_rest),
    cmocka_unit_test (test_argument_bytes_past_the_coordinator_and_queue_caps_get_queue_full),
};

ZX_TEST_RAW_MAIN (tests)
