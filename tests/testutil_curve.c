/*  testutil_curve.c - certificates and CURVE peers for the security tests
    (see testutil_curve.h). The good peers are the fixture's
    (testutil_peers.h) with CURVE arguments and options; the certificates
    live in the test's scratch directory, which the fixture removes.     */
#include "testutil_curve.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static zx_test_env_t s_env;             //  The good peers
static char s_broker_key [41];          //  The broker's public key
static char s_paths [3][512];           //  --cert, --clients, --workers
static const char *s_args [16];         //  The broker's arguments

int
zx_test_curve_setup (void **state)
{
    int rc = zx_test_raw_setup (state);
    memset (&s_env, 0, sizeof s_env);
    const char *subdirs [] = { "keys", "clients", "workers" };
    for (int i = 0; i < 3; i++) {
        char path [512];
        zx_test_scratch_path (path, sizeof path, subdirs [i]);
        assert_int_equal (mkdir (path, 0700), 0);
    }
    zx_test_curve_cert ("broker", NULL, NULL);
    zx_test_curve_public ("broker", s_broker_key);
    zx_test_curve_cert ("c1", "clients", "the good coordinator");
    zx_test_curve_cert ("w1", "workers", "the good worker");
    zx_test_curve_cert ("stranger", NULL, NULL);
    return rc;
}

int
zx_test_curve_teardown (void **state)
{
    zx_test_env_end (&s_env);
    zx_test_raw_teardown (state);
    unsetenv ("ZEXEC_SERVER_KEY");
    unsetenv ("ZEXEC_CERT");
    return 0;
}

void
zx_test_curve_cert (const char *name, const char *list, const char *note)
{
    zcert_t *cert = zcert_new ();
    assert_non_null (cert);
    if (note)
        zcert_set_meta (cert, "note", "%s", note);
    char path [512];
    snprintf (path, sizeof path, "%s/keys/%s", zx_test_scratch (), name);
    assert_int_equal (zcert_save (cert, path), 0);
    if (list) {
        snprintf (path, sizeof path, "%s/%s/%s", zx_test_scratch (), list, name);
        assert_int_equal (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
}

const char *
zx_test_curve_key_path (const char *name)
{
    static char paths [4][512];
    static int next;
    char *path = paths [next++ % 4];
    snprintf (path, 512, "%s/keys/%s", zx_test_scratch (), name);
    return path;
}

void
zx_test_curve_public (const char *name, char key [41])
{
    zcert_t *cert = zcert_load (zx_test_curve_key_path (name));
    assert_non_null (cert);
    memcpy (key, zcert_public_txt (cert), 41);
    zcert_destroy (&cert);
}

const char *
zx_test_curve_broker_key (void)
{
    return s_broker_key;
}

zx_test_env_t *
zx_test_curve_start (const char *const *extra)
{
    const char *scratch = zx_test_scratch ();
    snprintf (s_paths [0], sizeof s_paths [0], "%s/keys/broker_secret", scratch);
    snprintf (s_paths [1], sizeof s_paths [1], "%s/clients", scratch);
    snprintf (s_paths [2], sizeof s_paths [2], "%s/workers", scratch);
    const char *curve [] = { "--cert", s_paths [0], "--clients", s_paths [1],
                             "--workers", s_paths [2] };
    size_t count = 0;
    for (; count < 6; count++)
        s_args [count] = curve [count];
    for (size_t i = 0; extra && extra [i] && i < 8; i++)
        s_args [count++] = extra [i];
    s_args [count] = NULL;
    char broker [512];
    snprintf (broker, sizeof broker, "%s/keys/broker", scratch);
    const char *worker [] = { "--server-key", broker, "--cert", zx_test_curve_key_path ("w1"),
                              NULL };
    zx_test_env_start (&s_env, &(zx_test_env_opts_t) {
        .heartbeat_ms = ZX_TEST_CURVE_HEARTBEAT_MS, .broker_args = s_args,
        .worker_args = worker, .remote = &(zx_executor_opts_t) {
            .heartbeat_ms = ZX_TEST_CURVE_HEARTBEAT_MS, .liveness = 3,
            .curve_server_key = s_broker_key, .curve_cert = zx_test_curve_key_path ("c1") } });
    return &s_env;
}

zx_test_child_t *
zx_test_curve_worker (const char *name, const char *server)
{
    char broker [512];
    snprintf (broker, sizeof broker, "%s/keys/broker", zx_test_scratch ());
    const char *args [] = { "--server-key", server ? server : broker,
                            "--cert", zx_test_curve_key_path (name), NULL };
    return zx_test_worker_start (&s_env.broker, 2, args);
}

zx_executor_t *
zx_test_curve_coordinator (const char *name, const char *server, const char *service)
{
    return zx_test_remote_new (&s_env.broker, &(zx_executor_opts_t) {
        .heartbeat_ms = ZX_TEST_CURVE_HEARTBEAT_MS, .liveness = 3, .service = service,
        .curve_server_key = server ? server : s_broker_key,
        .curve_cert = zx_test_curve_key_path (name) });
}

void *
zx_test_curve_raw (const char *identity, zx_test_raw_kind_t kind, const char *name,
                   const char *server)
{
    void *socket = zx_test_raw_dealer (identity, 0, 200);
    if (kind == ZX_TEST_RAW_PLAIN) {
        zmq_setsockopt (socket, ZMQ_PLAIN_USERNAME, "admin", 5);
        zmq_setsockopt (socket, ZMQ_PLAIN_PASSWORD, "secret", 6);
    }
    if (kind == ZX_TEST_RAW_CURVE) {
        zcert_t *cert = zcert_load (zx_test_curve_key_path (name));
        assert_non_null (cert);
        const char *server_key = server ? server : s_broker_key;
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server_key, 40), 0);
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY,
                                          zcert_public_txt (cert), 40), 0);
        assert_int_equal (zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY,
                                          zcert_secret_txt (cert), 40), 0);
        zcert_destroy (&cert);
    }
    assert_int_equal (zmq_connect (socket, s_env.broker.endpoint), 0);
    return socket;
}
