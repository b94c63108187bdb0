/*  testutil.h - shared helpers for the cmocka tests.

    Every test program is also a possible process-pool worker (the pool
    starts the test binary again), so main calls zx_init first. Given an
    argument, the program runs only the test of that name: ctest registers
    one entry per test that way.                                          */
#ifndef ZX_TESTUTIL_H_INCLUDED
#define ZX_TESTUTIL_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "zexec.h"

#define ZX_TEST_MAIN(tests)                                                 \
    int main (int argc, char **argv)                                        \
    {                                                                       \
        zx_init (argc, argv);                                               \
        if (argc > 1)                                                       \
            cmocka_set_test_filter (argv [1]);                              \
        return cmocka_run_group_tests (tests, NULL, NULL);                  \
    }

//  Monotonic clock in milliseconds, for tests that check that things
//  overlap in time (with wide margins), never for speed.
int64_t zx_test_now_ms (void);

//  Runs argv (NULL-terminated) to completion, capturing stdout and stderr
//  into a malloc'd NUL-terminated buffer the caller frees. Returns the
//  exit status as waitpid gives it, or -1 on failure to start.
int zx_test_run_capture (char *const argv [], char **output);

#endif
