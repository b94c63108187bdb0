/*  test_zx_bigbuf.c - buffers of megabytes (zx_bigbuf) and the values that
    live in them.

    DESIGN: what the values code relies on: a buffer holds what was
    written to it through a grow that moves it, a freed one comes back
    from the cache for the next need of about its size (its pages already
    faulted in), only live buffers are owned, and the cache stays within
    its bounds. Then values past ZX__BIGBUF_MIN built by growing, by one
    big add, decoded, nested into another list and released to a free
    function come out byte for byte, and the mappings they took are all
    given back: none is live once the values are destroyed, and the cache
    holds what was freed, within its bounds, until it is trimmed.        */
#include "testutil.h"
#include "zx_bigbuf.h"
#include "zx_values.h"
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

//  Live buffers, and mappings the cache holds
static size_t
s_live (void)
{
    size_t live;
    zx__bigbuf_counts (&live, NULL, NULL);
    return live;
}

static size_t
s_cached (void)
{
    size_t cached, bytes;
    zx__bigbuf_counts (NULL, &cached, &bytes);
    assert_true (cached <= ZX__BIGBUF_CACHE && bytes <= ZX__BIGBUF_CACHE_BYTES);
    return cached;
}

static void
s_fill (unsigned char *data, size_t size, unsigned seed)
{
    for (size_t i = 0; i < size; i++)
        data [i] = (unsigned char) ((i * 131 + seed) >> 3);
}

static bool
s_filled (const unsigned char *data, size_t size, unsigned seed)
{
    for (size_t i = 0; i < size; i++)
        if (data [i] != (unsigned char) ((i * 131 + seed) >> 3))
            return false;
    return true;
}

static void
test_a_buffer_keeps_its_bytes_through_a_grow_and_a_shrink (void **state)
{
    (void) state;
    zx__bigbuf_trim ();
    unsigned char *buf = zx__bigbuf_alloc (3 * MIB);
    assert_non_null (buf);
    assert_true (zx__bigbuf_owns (buf));
    s_fill (buf, 3 * MIB, 1);
    unsigned char *grown = zx__bigbuf_realloc (buf, 40 * MIB);
    assert_non_null (grown);
    assert_true (zx__bigbuf_owns (grown));
    assert_true (s_filled (grown, 3 * MIB, 1));
    grown [40 * MIB - 1] = 7;               //  All of it is there to write
    unsigned char *shrunk = zx__bigbuf_realloc (grown, 5 * MIB);
    assert_non_null (shrunk);
    assert_true (s_filled (shrunk, 3 * MIB, 1));
    zx__bigbuf_free (shrunk);
    assert_false (zx__bigbuf_owns (shrunk));
    zx__bigbuf_free (NULL);
    zx__bigbuf_trim ();
}

static void
test_a_freed_buffer_comes_back_for_the_next_of_about_its_size (void **state)
{
    (void) state;
    zx__bigbuf_trim ();
    unsigned char *first = zx__bigbuf_alloc (16 * MIB);
    assert_non_null (first);
    zx__bigbuf_free (first);
    //  The same mapping, its pages still there: no fault for them
    unsigned char *again = zx__bigbuf_alloc (15 * MIB);
    assert_ptr_equal (again, first);
    zx__bigbuf_free (again);
    //  Not for a need less than half its size: that takes a new one
    unsigned char *small = zx__bigbuf_alloc (3 * MIB);
    assert_non_null (small);
    assert_ptr_not_equal (small, first);
    //  Nor for a bigger one
    unsigned char *big = zx__bigbuf_alloc (17 * MIB);
    assert_non_null (big);
    assert_ptr_not_equal (big, first);
    zx__bigbuf_free (small);
    zx__bigbuf_free (big);
    zx__bigbuf_trim ();
}

static void
test_only_live_buffers_are_owned (void **state)
{
    (void) state;
    void *heap = malloc (3 * MIB);
    assert_non_null (heap);
    assert_false (zx__bigbuf_owns (heap));
    assert_false (zx__bigbuf_owns (NULL));
    free (heap);
    //  A page-aligned pointer that is none of ours
    static unsigned char page [8192] __attribute__ ((aligned (4096)));
    assert_false (zx__bigbuf_owns (page + 64));
}

//  The cache keeps what it may and gives the rest back to the kernel
static void
test_the_cache_keeps_within_its_bounds (void **state)
{
    (void) state;
    zx__bigbuf_trim ();
    assert_int_equal (s_cached (), 0);
    enum { COUNT = ZX__BIGBUF_CACHE + 8 };
    void *bufs [COUNT];
    for (int i = 0; i < COUNT; i++) {
        bufs [i] = zx__bigbuf_alloc (2 * MIB + (size_t) i * 4096);
        assert_non_null (bufs [i]);
    }
    assert_int_equal (s_live (), COUNT);
    for (int i = 0; i < COUNT; i++)
        zx__bigbuf_free (bufs [i]);
    assert_int_equal (s_live (), 0);
    assert_int_equal (s_cached (), ZX__BIGBUF_CACHE);
    //  One bigger than the cache's bytes is not kept, and evicts nothing
    void *huge = zx__bigbuf_alloc (ZX__BIGBUF_CACHE_BYTES + MIB);
    assert_non_null (huge);
    zx__bigbuf_free (huge);
    assert_int_equal (s_cached (), ZX__BIGBUF_CACHE);
    //  One that makes the bytes too many evicts the oldest until it fits
    void *big = zx__bigbuf_alloc (ZX__BIGBUF_CACHE_BYTES - 4 * MIB);
    assert_non_null (big);
    zx__bigbuf_free (big);
    assert_true (s_cached () < ZX__BIGBUF_CACHE);
    zx__bigbuf_trim ();
    assert_int_equal (s_cached (), 0);
}

//  Values past ZX__BIGBUF_MIN, made every way a buffer is made, read back
//  byte for byte, and the mappings all return
static void
test_big_values_round_trip_and_give_their_mappings_back (void **state)
{
    (void) state;
    zx__bigbuf_trim ();
    size_t size = 6 * MIB + 123;
    unsigned char *data = malloc (size);
    assert_non_null (data);
    s_fill (data, size, 5);

    //  Grown item by item past the threshold (malloc's, then a mapping)
    zx_values_t *grown = zx_values_new ();
    for (int i = 0; i < 12; i++)
        assert_int_equal (zx_values_add_bytes (grown, data + (size_t) i * (size / 12),
                                               size / 12), ZX_OK);
    //  One big add
    zx_values_t *one = zx_values_pack ("sb", "payload", data, size);
    assert_non_null (one);
    //  Decoded (a copy of its own) from the encoding of one
    size_t encoded_size;
    const void *encoded = zx__values_data (one, &encoded_size);
    zx_values_t *decoded;
    assert_int_equal (zx__values_decode (encoded, encoded_size, &decoded), ZX_OK);
    const void *bytes;
    size_t bytes_size;
    assert_int_equal (zx_values_get_bytes (decoded, 1, &bytes, &bytes_size), ZX_OK);
    assert_int_equal (bytes_size, size);
    assert_true (s_filled (bytes, size, 5));
    for (int i = 0; i < 12; i++) {
        assert_int_equal (zx_values_get_bytes (grown, (size_t) i, &bytes, &bytes_size), ZX_OK);
        assert_int_equal (bytes_size, size / 12);
        assert_memory_equal (bytes, data + (size_t) i * (size / 12), bytes_size);
    }
    //  Nested into another list: its buffer is given up for the parent's
    zx_values_t *parent = zx_values_new ();
    assert_int_equal (zx_values_add_values (parent, &decoded), ZX_OK);
    assert_null (decoded);
    const zx_values_t *child = NULL;
    assert_int_equal (zx_values_get_list (parent, 0, &child), ZX_OK);
    assert_int_equal (zx_values_get_bytes (child, 1, &bytes, &bytes_size), ZX_OK);
    assert_true (bytes_size == size && s_filled (bytes, size, 5));
    //  Released, as a frame's buffer, to the free function libzmq calls
    const void *released_data;
    size_t released_size;
    void *buffer = zx__values_release (one, &released_data, &released_size);
    assert_non_null (buffer);
    assert_true (zx__bigbuf_owns (buffer));
    assert_int_equal (released_size, encoded_size);
    zx_values_destroy (&one);
    zx__values_free_released ((void *) released_data, buffer);

    zx_values_destroy (&grown);
    zx_values_destroy (&parent);
    free (data);
    assert_int_equal (s_live (), 0);
    assert_true (s_cached () > 0);
    zx__bigbuf_trim ();
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_buffer_keeps_its_bytes_through_a_grow_and_a_shrink),
    cmocka_unit_test (test_a_freed_buffer_comes_back_for_the_next_of_about_its_size),
    cmocka_unit_test (test_only_live_buffers_are_owned),
    cmocka_unit_test (test_the_cache_keeps_within_its_bounds),
    cmocka_unit_test (test_big_values_round_trip_and_give_their_mappings_back),
};

ZX_TEST_MAIN (tests)
