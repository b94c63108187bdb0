/*  test_zx_slab.c - zexec's small records from slabs (zx_slab).

    DESIGN: what futures, requests and value lists rely on: every size up
    to ZX__SLAB_MAX comes back aligned as malloc's and holds what is
    written to it while others are live; a zeroed one is zero however it
    was used before; what a thread frees is used again, by it or, through
    the depot, by another thread, also after the thread that made it has
    ended, so that a steady load maps no new chunks. Sizes past the slabs
    and 0 go to malloc. Under a sanitizer the slabs step aside
    (zx__slab_enabled is false), and these tests then check the same
    promises of plain malloc.                                            */
#include "testutil.h"
#include "zx_slab.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_COUNT 5000

//  Every size, many of each at once, each filled with its own pattern
static void
test_every_size_is_aligned_and_keeps_its_bytes_while_others_live (void **state)
{
    (void) state;
    for (size_t size = 1; size <= ZX__SLAB_MAX + 40; size += 7) {
        unsigned char *objects [64];
        for (int i = 0; i < 64; i++) {
            objects [i] = zx__slab_alloc (size);
            assert_non_null (objects [i]);
            assert_int_equal ((uintptr_t) objects [i] % 16, 0);
            memset (objects [i], (int) (size + (size_t) i) & 0xff, size);
        }
        for (int i = 0; i < 64; i++) {
            for (size_t b = 0; b < size; b++)
                assert_int_equal (objects [i][b], (size + (size_t) i) & 0xff);
            zx__slab_free (objects [i], size);
        }
    }
    zx__slab_free (NULL, 64);
    void *none = zx__slab_alloc (0);
    zx__slab_free (none, 0);
}

static void
test_a_zeroed_object_is_zero_after_its_memory_was_used (void **state)
{
    (void) state;
    for (int round = 0; round < 3; round++) {
        unsigned char *objects [200];
        for (int i = 0; i < 200; i++) {
            objects [i] = zx__slab_calloc (120);
            assert_non_null (objects [i]);
            for (int b = 0; b < 120; b++)
                assert_int_equal (objects [i][b], 0);
            memset (objects [i], 0xa5, 120);
        }
        for (int i = 0; i < 200; i++)
            zx__slab_free (objects [i], 120);
    }
}

//  Makes S_COUNT objects of 128 bytes; frees them unless told to pass
//  them on
typedef struct {
    void **objects;
    bool keep;
} s_batch_t;

static void *
s_make (void *arg)
{
    s_batch_t *batch = (s_batch_t *) arg;
    for (int i = 0; i < S_COUNT; i++) {
        batch->objects [i] = zx__slab_alloc (128);
        assert_non_null (batch->objects [i]);
        memset (batch->objects [i], i & 0xff, 128);
    }
    if (!batch->keep)
        for (int i = 0; i < S_COUNT; i++)
            zx__slab_free (batch->objects [i], 128);
    return NULL;
}

static void
test_freed_records_are_used_again_across_threads_and_after_a_thread_ends (void **state)
{
    (void) state;
    void **objects = calloc (S_COUNT, sizeof (void *));
    assert_non_null (objects);
    //  Warm: the chunks for one batch are mapped
    s_batch_t batch = { objects, false };
    s_make (&batch);
    size_t mapped = zx__slab_mapped ();
    for (int round = 0; round < 20; round++) {
        //  A thread makes and frees a batch, and ends: its records go back
        pthread_t thread;
        assert_int_equal (pthread_create (&thread, NULL, s_make, &batch), 0);
        assert_int_equal (pthread_join (thread, NULL), 0);
        //  One makes a batch that this thread frees, as a loop frees the
        //  results its workers made
        s_batch_t kept = { objects, true };
        assert_int_equal (pthread_create (&thread, NULL, s_make, &kept), 0);
        assert_int_equal (pthread_join (thread, NULL), 0);
        for (int i = 0; i < S_COUNT; i++) {
            for (int b = 0; b < 128; b += 31)
                assert_int_equal (((unsigned char *) objects [i])[b], i & 0xff);
            zx__slab_free (objects [i], 128);
        }
        s_make (&batch);
    }
    //  Twenty rounds of three batches mapped nothing more than a batch
    //  and what the threads' and the depot's lists may hold over
    if (zx__slab_enabled ())
        assert_true (zx__slab_mapped () <= mapped + (size_t) 1024 * 1024);
    else
        assert_int_equal (zx__slab_mapped (), 0);
    free (objects);
}

//  Makes 60 records of 128 bytes and frees them: they stay on the
//  thread's own list (it keeps up to 64), until the thread ends
static void *
s_make_few (void *arg)
{
    (void) arg;
    void *objects [60];
    for (int i = 0; i < 60; i++) {
        objects [i] = zx__slab_alloc (128);
        assert_non_null (objects [i]);
    }
    for (int i = 0; i < 60; i++)
        zx__slab_free (objects [i], 128);
    return NULL;
}

static void
test_a_threads_own_records_go_back_when_it_ends (void **state)
{
    (void) state;
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_make_few, NULL), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
    size_t mapped = zx__slab_mapped ();
    //  Lost with each thread, they would take 300 x 7.5 KiB more
    for (int round = 0; round < 300; round++) {
        assert_int_equal (pthread_create (&thread, NULL, s_make_few, NULL), 0);
        assert_int_equal (pthread_join (thread, NULL), 0);
    }
    assert_true (zx__slab_mapped () <= mapped + (size_t) 1024 * 1024);
}

static void
test_slabs_step_aside_under_a_sanitizer (void **state)
{
    (void) state;
#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
    assert_false (zx__slab_enabled ());
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer) || __has_feature (thread_sanitizer)
    assert_false (zx__slab_enabled ());
#   else
    assert_true (zx__slab_enabled () == (getenv ("ZEXEC_SLABS") == NULL
                                         || strcmp (getenv ("ZEXEC_SLABS"), "off") != 0));
#   endif
#else
    assert_true (zx__slab_enabled () == (getenv ("ZEXEC_SLABS") == NULL
                                         || strcmp (getenv ("ZEXEC_SLABS"), "off") != 0));
#endif
}

//  First: run alone (as ctest does), or before the others leave records
//  in the depot that would hide a loss
static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_threads_own_records_go_back_when_it_ends),
    cmocka_unit_test (test_every_size_is_aligned_and_keeps_its_bytes_while_others_live),
    cmocka_unit_test (test_a_zeroed_object_is_zero_after_its_memory_was_used),
    cmocka_unit_test (test_freed_records_are_used_again_across_threads_and_after_a_thread_ends),
    cmocka_unit_test (test_slabs_step_aside_under_a_sanitizer),
};

ZX_TEST_MAIN (tests)
