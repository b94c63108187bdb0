/*  testutil_curve.h - CURVE on a real zexec-broker, for the security
    tests (test_security_access.c, test_security_limits.c).

    Each test gets a scratch directory of certificates: the broker's and
    the outsider "stranger"'s under keys/, the good coordinator "c1"'s and
    the good worker "w1"'s there too and, public, in the allow-list
    directories clients/ and workers/. The good peers are a zexec-broker
    with --cert, --clients and --workers, a zexec-worker with w1's keys
    and a remote executor in this process with c1's. Attackers are raw
    libzmq sockets with or without keys (testutil_raw.h), coordinators
    and zexec-workers with the wrong keys.                              */
#ifndef ZX_TESTUTIL_CURVE_H_INCLUDED
#define ZX_TESTUTIL_CURVE_H_INCLUDED

#include "testutil_raw.h"

#define ZX_TEST_CURVE_HEARTBEAT_MS  500

//  cmocka setup: zx_test_raw_setup, then the certificates.
int zx_test_curve_setup (void **state);

//  cmocka teardown: ends the good coordinator, zx_test_raw_teardown, and
//  unsets ZEXEC_SERVER_KEY and ZEXEC_CERT.
int zx_test_curve_teardown (void **state);

//  Writes certificate name: its pair under keys/, and its public file in
//  the allow-list directory list ("clients", "workers" or NULL). The
//  metadata value note, if any, is stored under "note".
void zx_test_curve_cert (const char *name, const char *list, const char *note);

//  The path of certificate name's pair, as peers give it with --cert.
//  Four of them last at a time.
const char *zx_test_curve_key_path (const char *name);

//  The public key of certificate name.
void zx_test_curve_public (const char *name, char key [41]);

//  The broker's public key.
const char *zx_test_curve_broker_key (void);

//  Starts the good peers with CURVE, the broker given extra too (NULL-
//  terminated, at most 8; NULL for none): see the top of this file. The
//  fixture ends them.
zx_test_env_t *zx_test_curve_start (const char *const *extra);

//  Starts a zexec-worker of two threads with certificate name and server
//  key server (a key or a file; NULL: the broker's public certificate
//  file). Does not wait for it.
zx_test_child_t *zx_test_curve_worker (const char *name, const char *server);

//  A remote executor with certificate name and server key server (NULL:
//  the broker's), given in its options; service NULL is "default".
//  Caller destroys it.
zx_executor_t *zx_test_curve_coordinator (const char *name, const char *server,
                                          const char *service);

typedef enum { ZX_TEST_RAW_NULL, ZX_TEST_RAW_PLAIN, ZX_TEST_RAW_CURVE } zx_test_raw_kind_t;

//  A raw DEALER with routing id identity connected to the broker, with no
//  security, PLAIN, or CURVE with certificate name and server key server
//  (NULL: the broker's); linger 0, receive timeout 200 ms.
void *zx_test_curve_raw (const char *identity, zx_test_raw_kind_t kind, const char *name,
                         const char *server);

#endif
