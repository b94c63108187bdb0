/*  test_security_limits.c - CURVE on a real zexec-broker over tcp
    loopback: keys, certificates and caps. zexec-keygen's files; a listed
    certificate with oversize metadata; CURVE arguments the broker cannot
    enforce; --max-client-pending, --max-frame-bytes, --max-services and
    --handshake-timeout. (test_security_access.c: who gets in, in which
    role.) The ctest entries of both are test_security.*.

    Each test has the certificates and good peers of testutil_curve.h;
    most end by stopping the broker and the worker with SIGTERM and
    expecting exit 0. The fixture kills and reaps every process a test
    starts, also when it fails (then their logs are printed).          */
#define _GNU_SOURCE
#include "testutil_curve.h"
#include "zx_values.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1       //  Freed memory is held back: no RSS bounds
#endif

//  --------------------------------------------------------------------
//  Keys and certificates

static void
test_keygen_writes_a_private_secret_and_refuses_long_metadata (void **state)
{
    (void) state;
    char path [512], secret [520];
    snprintf (path, sizeof path, "%s/made", zx_test_scratch ());
    snprintf (secret, sizeof secret, "%s_secret", path);
    char *out = NULL;
    int status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--meta", "role=worker",
                                                   path, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    //  The public key is the one line of 40 characters on stdout
    char printed [41] = "";
    for (char *line = strtok (out, "\n"); line; line = strtok (NULL, "\n"))
        if (strlen (line) == 40 && !strchr (line, ' '))
            memcpy (printed, line, 41);
    free (out);
    assert_int_equal (strlen (printed), 40);
    struct stat info;
    assert_int_equal (stat (secret, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    assert_int_equal (stat (path, &info), 0);
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    assert_string_equal (zcert_public_txt (cert), printed);
    assert_string_not_equal (zcert_secret_txt (cert), "0000000000000000000000000000000000000000");
    assert_string_equal (zcert_meta (cert, "role"), "worker");
    zcert_destroy (&cert);
    //  --show prints the same key, from either file
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--show", secret, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_int_equal (strlen (out), 41);
    assert_memory_equal (out, printed, 40);
    free (out);
    //  It does not overwrite, unless told
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, path, NULL }, &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    assert_non_null (strstr (out, "exists"));
    free (out);
    //  Metadata over 400 bytes is refused, and nothing is written
    char meta [600];
    snprintf (meta, sizeof meta, "note=%0500d", 0);
    snprintf (path, sizeof path, "%s/long", zx_test_scratch ());
    status = zx_test_run_capture ((char *[]) { ZX_KEYGEN_PROGRAM, "--meta", meta, path, NULL },
                                  &out);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    assert_non_null (strstr (out, "over the limit of 400"));
    free (out);
    assert_int_not_equal (access (path, F_OK), 0);
    snprintf (secret, sizeof secret, "%s_secret", path);
    assert_int_not_equal (access (secret, F_OK), 0);
    zx_test_pass ();
}

//  A certificate with long metadata (made with czmq, not the keygen) in
//  an allow-list is skipped with a warning: its key is refused.
static void
test_a_listed_certificate_with_oversize_metadata_is_skipped (void **state)
{
    (void) state;
    char note [501];
    memset (note, 'm', 500);
    note [500] = 0;
    zx_test_curve_cert ("verbose", "clients", note);
    char key [41];
    zx_test_curve_public ("verbose", key);
    zx_test_env_t *env = zx_test_curve_start (NULL);
    zx_test_expect_log (env->broker.child->log, "certificate metadata over 400 bytes: skipped",
                        "verbose", 1);
    zx_test_expect_log (env->broker.child->log, "CURVE on", "1 coordinator and 1 worker keys", 1);
    zx_executor_t *verbose = zx_test_curve_coordinator ("verbose", NULL, NULL);
    zx_future_t *future = zx_test_run_one (env->loop, verbose, "square", 5, 10000);
    assert_int_equal (zx_future_error (future), ZX_EPROTO);
    zx_future_destroy (&future);
    zx_executor_destroy (&verbose);
    zx_test_expect_log (env->broker.child->log, "refused a CURVE handshake", key, 1);
    zx_test_env_check (env, "an oversize certificate");
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  Runs the broker with CURVE arguments that cannot be enforced: it must
//  exit nonzero without listening, saying why (expect).
static void
s_refuses (const char *cert, const char *clients, const char *workers, const char *expect)
{
    char *argv [16] = { ZX_BROKER_PROGRAM, "--bind", "tcp://127.0.0.1:*" };
    int at = 3;
    if (cert) {
        argv [at++] = "--cert";
        argv [at++] = (char *) cert;
    }
    if (clients) {
        argv [at++] = "--clients";
        argv [at++] = (char *) clients;
    }
    if (workers) {
        argv [at++] = "--workers";
        argv [at++] = (char *) workers;
    }
    char *out = NULL;
    int status = zx_test_run_capture (argv, &out);
    if (!WIFEXITED (status) || WEXITSTATUS (status) == 0 || !strstr (out, expect)
    ||  strstr (out, "listening on")) {
        fprintf (stderr, "%s", out);
        fail_msg ("the broker with --cert %s --clients %s --workers %s did not refuse to start "
                  "saying '%s' (status 0x%x)", cert ? cert : "-", clients ? clients : "-",
                  workers ? workers : "-", expect, status);
    }
    free (out);
}

static void
test_the_broker_refuses_to_start_when_it_cannot_enforce_curve (void **state)
{
    (void) state;
    char cert [512], clients [512], workers [512], missing [512], junk [512], file [512];
    snprintf (cert, sizeof cert, "%s/keys/broker_secret", zx_test_scratch ());
    snprintf (clients, sizeof clients, "%s/clients", zx_test_scratch ());
    snprintf (workers, sizeof workers, "%s/workers", zx_test_scratch ());
    snprintf (missing, sizeof missing, "%s/nothing", zx_test_scratch ());
    snprintf (file, sizeof file, "%s/keys/broker", zx_test_scratch ());
    //  A secret file without a secret key in it
    snprintf (junk, sizeof junk, "%s/keys/junk_secret", zx_test_scratch ());
    FILE *out = fopen (junk, "w");
    assert_non_null (out);
    fprintf (out, "curve\n    public-key = \"%s\"\n", zx_test_curve_broker_key ());
    fclose (out);
    snprintf (junk, sizeof junk, "%s/keys/junk", zx_test_scratch ());

    s_refuses (missing, clients, workers, "refusing to start: cannot read the secret key file");
    s_refuses (junk, clients, workers, "refusing to start: ");
    s_refuses (junk, clients, workers, "holds no CURVE secret key");
    s_refuses (cert, missing, workers, "cannot read the coordinators' allow-list directory");
    s_refuses (cert, clients, file, "cannot read the workers' allow-list directory");
    s_refuses (cert, clients, NULL, "CURVE needs --cert, --clients and --workers together");
    s_refuses (NULL, clients, workers, "CURVE needs --cert, --clients and --workers together");
    if (geteuid () != 0) {
        //  Unreadable files and directories (root reads them all anyway)
        assert_int_equal (chmod (cert, 0), 0);
        s_refuses (cert, clients, workers, "Permission denied");
        assert_int_equal (chmod (cert, 0600), 0);
        assert_int_equal (chmod (clients, 0), 0);
        s_refuses (cert, clients, workers, "Permission denied");
        assert_int_equal (chmod (clients, 0700), 0);
    }
    else
        print_message ("running as root: the unreadable-file cases are not tried\n");
    zx_test_pass ();
}

//  --------------------------------------------------------------------
//  Caps

static void
test_a_coordinator_past_max_client_pending_gets_queue_full (void **state)
{
    (void) state;
    const char *extra [] = { "--max-client-pending", "25", "--no-worker-wait", "60000", NULL };
    zx_test_env_t *env = zx_test_curve_start (extra);
    zx_executor_t *greedy = zx_test_curve_coordinator ("c1", NULL, "nobody");
    enum { COUNT = 40 };
    zx_future_t *futures [COUNT];
    for (int i = 0; i < COUNT; i++)
        futures [i] = zx_run_in_executor (env->loop, greedy, "square",
                                          zx_values_pack ("i", (int64_t) i));
    size_t done = 0;
    zx_wait (futures, COUNT, ZX_ALL_COMPLETED, 2000, NULL, &done, NULL, NULL);
    assert_int_equal (done, COUNT - 25);
    int full = 0;
    for (int i = 0; i < COUNT; i++)
        if (zx_future_done (futures [i]) && zx_future_error (futures [i]) == ZX_EQUEUE_FULL
        &&  strstr (zx_future_message (futures [i]), "--max-client-pending 25"))
            full++;
    assert_int_equal (full, COUNT - 25);
    //  The 25 waiting for a worker that never comes are withdrawn
    for (int i = 0; i < COUNT; i++) {
        zx_future_cancel (futures [i]);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&greedy);
    //  The cap is per coordinator: the good one still gets its twenty (at
    //  once, under its own cap of 25)
    zx_test_env_check (env, "a coordinator past its cap");
    zx_test_env_stop (env);
    zx_test_pass ();
}

static void
test_a_frame_over_max_frame_bytes_closes_its_connection (void **state)
{
    (void) state;
    const char *extra [] = { "--max-frame-bytes", "65536", NULL };
    zx_test_env_t *env = zx_test_curve_start (extra);
    void *raw = zx_test_curve_raw ("raw-big", ZX_TEST_RAW_CURVE, "c1", NULL);
    //  A small request is answered
    zx_test_send_request (raw, "default", 1, 1, "square");
    zmq_msg_t frames [4];
    size_t count = zx_test_recv_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 5000);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_OK, NULL), 1);
    zx_test_close_frames (frames, count);
    //  A batch frame of 100 KB is not: the connection closes under it
    enum { BIG = 100 * 1024 };
    uint8_t *big = calloc (1, BIG);
    assert_non_null (big);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (big, BIG));
    count = zx_test_recv_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 1500);
    assert_int_equal (count, 0);
    zx_test_expect_log (env->broker.child->log, "coordinator raw-big connected", NULL, 1);
    assert_int_equal (zx_test_log_count (env->broker.child->log, "malformed", "raw-big"), 0);
    free (big);
    zx_test_env_check (env, "a frame over the cap");
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  10,000 service names from a coordinator and 10,000 READYs from a
//  worker's key: the broker opens at most --max-services services, maps
//  one worker, answers the rest, and its memory stays bounded.
static void
test_ten_thousand_service_names_and_readys_leave_the_broker_bounded (void **state)
{
    (void) state;
    const char *extra [] = { "--max-services", "50", "--no-worker-wait", "1000", NULL };
    zx_test_env_t *env = zx_test_curve_start (extra);
    const char *log = env->broker.child->log;
    long before = zx_test_rss_kib (env->broker.child->pid);
    enum { MANY = 10000 };
    void *client = zx_test_curve_raw ("raw-many-services", ZX_TEST_RAW_CURVE, "c1", NULL);
    void *worker = zx_test_curve_raw ("raw-many-readys", ZX_TEST_RAW_CURVE, "w1", NULL);
    char service [64];
    //  The READYs first: the first one makes a worker (and a service)
    for (int i = 0; i < MANY; i++) {
        snprintf (service, sizeof service, "ready-%d", i);
        zx_test_send_ready (worker, service, 4, "w");
    }
    zx_test_expect_log (log, "worker raw-many-readys ready", NULL, 1);
    for (int i = 0; i < MANY; i++) {
        snprintf (service, sizeof service, "service-%d", i);
        zx_test_send_request (client, service, (uint64_t) i + 1, 1, "square");
    }
    //  Every request is answered: too many services, or no workers
    int refused = 0, answered = 0;
    int64_t deadline = zx_test_now_ms () + 20000;
    while (answered < MANY && zx_test_now_ms () < deadline) {
        zmq_msg_t frames [4];
        size_t count = zx_test_recv_command (client, 0, "ZXC01", ZX_CMD_REPLY, frames, 4, 1000);
        if (count == 3) {
            refused += zx_test_count_replies (&frames [2], ZX_STATUS_BAD_REQUEST,
                                              "too many services")
                     + zx_test_count_replies (&frames [2], ZX_STATUS_TASK_ERROR,
                                              "too many services");
            const uint8_t *cursor = zmq_msg_data (&frames [2]);
            const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
            zx__reply_rec_t rec;
            while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK)
                answered++;
        }
        zx_test_close_frames (frames, count);
    }
    print_message ("%d of %d requests answered, %d refused for too many services\n",
                   answered, MANY, refused);
    assert_int_equal (answered, MANY);
    assert_true (refused >= MANY - 50);
    assert_true (zx_test_log_count (log, "opened", NULL) <= 50);
    //  Each READY for another service moves the one worker there (it leaves
    //  the last, also when the next cannot be opened): one registration at
    //  a time, in at most 50 services
    int readys = zx_test_log_count (log, "worker raw-many-readys ready", NULL);
    int lefts = zx_test_log_count (log, "worker raw-many-readys left: it said READY again, "
                                   "for another service", NULL);
    assert_true (readys >= 1 && readys <= 50);
    assert_true (lefts == readys - 1 || lefts == readys);
    zx_test_env_check (env, "10,000 services and READYs");
    long after = zx_test_rss_kib (env->broker.child->pid);
    print_message ("broker RSS %ld KiB before, %ld KiB after\n", before, after);
#ifndef ZX_SANITIZED
    assert_true (after - before < 64 * 1024);
#endif
    zx_test_env_stop (env);
    zx_test_pass ();
}

//  A connection that never finishes its handshake is closed after
//  --handshake-timeout, whether it says nothing or only greets.
static void
test_a_connection_that_stalls_its_handshake_is_closed (void **state)
{
    (void) state;
    const char *extra [] = { "--handshake-timeout", "300", NULL };
    zx_test_env_t *env = zx_test_curve_start (extra);
    int silent = zx_test_tcp_connect (env->broker.port);
    int greeter = zx_test_tcp_connect (env->broker.port);
    uint8_t greeting [64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E' };
    assert_int_equal (send (greeter, greeting, sizeof greeting, MSG_NOSIGNAL), 64);
    int fds [] = { silent, greeter };
    for (int i = 0; i < 2; i++) {
        struct timeval timeout = { 3, 0 };
        setsockopt (fds [i], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        int64_t start = zx_test_now_ms ();
        uint8_t buffer [512];
        ssize_t got;
        //  The broker's greeting may come first; then the end of stream
        while ((got = recv (fds [i], buffer, sizeof buffer, 0)) > 0)
            ;
        int64_t took = zx_test_now_ms () - start;
        if (got < 0)
            fail_msg ("a stalled handshake was still open after 3 s (%s)", strerror (errno));
        print_message ("stalled connection %d closed after %lld ms\n", i, (long long) took);
        close (fds [i]);
    }
    zx_test_env_check (env, "stalled handshakes");
    zx_test_env_stop (env);
    zx_test_pass ();
}


static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_keygen_writes_a_private_secret_and_refuses_long_metadata),
    cmocka_unit_test (test_a_listed_certificate_with_oversize_metadata_is_skipped),
    cmocka_unit_test (test_the_broker_refuses_to_start_when_it_cannot_enforce_curve),
    cmocka_unit_test (test_a_coordinator_past_max_client_pending_gets_queue_full),
    cmocka_unit_test (test_a_frame_over_max_frame_bytes_closes_its_connection),
    cmocka_unit_test (test_ten_thousand_service_names_and_readys_leave_the_broker_bounded),
    cmocka_unit_test (test_a_connection_that_stalls_its_handshake_is_closed),
};

ZX_TEST_MAIN_WITH (tests, zx_test_curve_setup, zx_test_curve_teardown)
