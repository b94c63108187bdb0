#include "testutil.h"
static void test_placeholder (void **state) { (void) state; }
static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_placeholder),
};
ZX_TEST_MAIN (tests)
