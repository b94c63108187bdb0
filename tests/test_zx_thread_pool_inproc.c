/*  test_zx_thread_pool_inproc.c - the shared pool cases once more, on a
    thread pool given an inproc endpoint: its threads then speak over
    ZeroMQ sockets instead of the in-process queue a thread pool uses by
    default (zx_memq), and both paths must behave alike.                 */
#include "pool_cases.h"

static zx_executor_t *
s_pool_new (const zx_executor_opts_t *opts)
{
    static int serial;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-thread-pool-inproc-%d", serial++);
    zx_executor_opts_t own = opts ? *opts : (zx_executor_opts_t) { 0 };
    if (!own.endpoint)
        own.endpoint = endpoint;
    zx_executor_t *pool = zx_thread_pool_new (&own);
    //  The endpoint asked for is the one bound: the socket path is in use
    if (pool && !(opts && opts->endpoint))
        assert_string_equal (zx_executor_endpoint (pool), endpoint);
    return pool;
}

static const struct CMUnitTest tests [] = {
    POOL_CASES,
};

ZX_TEST_MAIN (tests)
