/*  testutil_actors.h - asking an actor and checking the outcome, for the
    actor tests (test_actors.c, test_actors_remote.c). Header-only and
    static, as testutil_wait.h is: each test program gets its own copy.  */
#ifndef ZX_TESTUTIL_ACTORS_H_INCLUDED
#define ZX_TESTUTIL_ACTORS_H_INCLUDED

#include "testutil.h"

#ifndef WAIT_MS
#define WAIT_MS 30000
#endif

//  Asks and waits; fails the test unless the ask's outcome is code.
//  Takes args (NULL for none). The caller destroys the future.
static zx_future_t *
s_ask (zx_actor_t *actor, const char *message, zx_values_t *args, zx_err_t code)
{
    zx_future_t *future = zx_actor_ask (actor, message, &args);
    assert_non_null (future);
    assert_true (zx_test_wait_done (future, WAIT_MS));
    if (zx_future_error (future) != code)
        fail_msg ("ask '%s': %s (%s), expected %s", message,
                  zx_strerror (zx_future_error (future)), zx_future_message (future),
                  zx_strerror (code));
    return future;
}

//  Asks, expects success and returns result value index as an integer.
static int64_t
s_ask_int (zx_actor_t *actor, const char *message, zx_values_t *args, size_t index)
{
    zx_future_t *future = s_ask (actor, message, args, ZX_OK);
    int64_t value = zx_test_result_int (future, index);
    zx_future_destroy (&future);
    return value;
}

#endif
