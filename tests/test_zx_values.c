/*  test_zx_values.c - typed value lists, their wire form and repr.

    DESIGN: each test pins one behaviour of zx_values_t; the decoder tests
    end with a seeded fuzz loop (every prefix of a valid encoding, then
    random byte flips) that must never crash and must either reject the
    input or give a list whose values, added one by one to a fresh list,
    encode to exactly the same bytes.                                     */
#include "testutil.h"
#include "zx_values.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  Returns the repr of values in a static buffer.
static const char *
s_repr (const zx_values_t *values)
{
    static char buf [512];
    size_t length = zx_values_repr (values, buf, sizeof (buf));
    assert_true (length < sizeof (buf));
    assert_int_equal (strlen (buf), length);
    return buf;
}

//  Returns the repr of a list holding one double.
static const char *
s_repr_double (double value)
{
    static char buf [64];
    zx_values_t *values = zx_values_pack ("d", value);
    assert_non_null (values);
    zx_values_repr (values, buf, sizeof (buf));
    zx_values_destroy (&values);
    return buf;
}

static void
test_pack_and_get_every_type (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("idsbn", (int64_t) -42, 2.5,
                                          "hello", "a\0b", (size_t) 3);
    assert_non_null (values);
    assert_int_equal (zx_values_count (values), 5);
    assert_int_equal (zx_values_type (values, 0), ZX_TINT);
    assert_int_equal (zx_values_type (values, 1), ZX_TDOUBLE);
    assert_int_equal (zx_values_type (values, 2), ZX_TSTR);
    assert_int_equal (zx_values_type (values, 3), ZX_TBYTES);
    assert_int_equal (zx_values_type (values, 4), ZX_TNONE);

    int64_t i = 0;
    assert_int_equal (zx_values_get_int (values, 0, &i), ZX_OK);
    assert_true (i == -42);
    double d = 0;
    assert_int_equal (zx_values_get_double (values, 1, &d), ZX_OK);
    assert_true (d == 2.5);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (values, 2, &s), ZX_OK);
    assert_string_equal (s, "hello");
    const void *data = NULL;
    size_t size = 0;
    assert_int_equal (zx_values_get_bytes (values, 3, &data, &size), ZX_OK);
    assert_int_equal (size, 3);
    assert_memory_equal (data, "a\0b", 3);
    zx_values_destroy (&values);
    assert_null (values);
    zx_values_destroy (&values);
}

static void
test_add_functions_append_in_order (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_non_null (values);
    assert_int_equal (zx_values_count (values), 0);
    assert_int_equal (zx_values_add_int (values, INT64_MIN), ZX_OK);
    assert_int_equal (zx_values_add_int (values, INT64_MAX), ZX_OK);
    assert_int_equal (zx_values_add_double (values, -0.0), ZX_OK);
    assert_int_equal (zx_values_add_str (values, ""), ZX_OK);
    assert_int_equal (zx_values_add_bytes (values, NULL, 0), ZX_OK);
    assert_int_equal (zx_values_add_none (values), ZX_OK);
    //  Enough items to make the buffers grow several times
    for (int64_t n = 0; n < 1000; n++)
        assert_int_equal (zx_values_add_int (values, n), ZX_OK);
    assert_int_equal (zx_values_count (values), 1006);

    int64_t i = 0;
    assert_int_equal (zx_values_get_int (values, 0, &i), ZX_OK);
    assert_true (i == INT64_MIN);
    assert_int_equal (zx_values_get_int (values, 1, &i), ZX_OK);
    assert_true (i == INT64_MAX);
    double d = 1;
    assert_int_equal (zx_values_get_double (values, 2, &d), ZX_OK);
    assert_true (d == 0 && signbit (d));
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (values, 3, &s), ZX_OK);
    assert_string_equal (s, "");
    size_t size = 99;
    const void *data = NULL;
    assert_int_equal (zx_values_get_bytes (values, 4, &data, &size), ZX_OK);
    assert_int_equal (size, 0);
    assert_int_equal (zx_values_type (values, 5), ZX_TNONE);
    assert_int_equal (zx_values_get_int (values, 1005, &i), ZX_OK);
    assert_true (i == 999);
    zx_values_destroy (&values);
}

static void
test_add_rejects_null_string_and_null_bytes (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_str (values, NULL), ZX_EINVAL);
    assert_int_equal (zx_values_add_bytes (values, NULL, 1), ZX_EINVAL);
    assert_int_equal (zx_values_count (values), 0);
    zx_values_destroy (&values);
}

static void
test_pack_rejects_unknown_format_character (void **state)
{
    (void) state;
    assert_null (zx_values_pack ("ix", (int64_t) 1));
    assert_null (zx_values_pack ("s", (const char *) NULL));
    zx_values_t *values = zx_values_pack ("");
    assert_non_null (values);
    assert_int_equal (zx_values_count (values), 0);
    zx_values_destroy (&values);
}

static void
test_get_with_wrong_type_returns_etype_and_leaves_out_untouched (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("sidn", "x", (int64_t) 1, 1.5);
    int64_t i = 7;
    assert_int_equal (zx_values_get_int (values, 0, &i), ZX_ETYPE);
    assert_true (i == 7);
    assert_int_equal (zx_values_get_int (values, 2, &i), ZX_ETYPE);
    assert_true (i == 7);
    double d = 7;
    assert_int_equal (zx_values_get_double (values, 0, &d), ZX_ETYPE);
    assert_int_equal (zx_values_get_double (values, 3, &d), ZX_ETYPE);
    assert_true (d == 7);
    const char *s = "untouched";
    assert_int_equal (zx_values_get_str (values, 1, &s), ZX_ETYPE);
    assert_string_equal (s, "untouched");
    const void *data = s;
    size_t size = 7;
    assert_int_equal (zx_values_get_bytes (values, 0, &data, &size), ZX_ETYPE);
    assert_ptr_equal (data, s);
    assert_int_equal (size, 7);
    zx_values_destroy (&values);
}

static void
test_get_double_accepts_an_int (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("i", (int64_t) -3);
    double d = 0;
    assert_int_equal (zx_values_get_double (values, 0, &d), ZX_OK);
    assert_true (d == -3.0);
    zx_values_destroy (&values);
}

static void
test_index_out_of_range_returns_einval (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("i", (int64_t) 1);
    int64_t i = 5;
    double d;
    const char *s;
    const void *data;
    size_t size;
    assert_int_equal (zx_values_get_int (values, 1, &i), ZX_EINVAL);
    assert_true (i == 5);
    assert_int_equal (zx_values_get_double (values, 1, &d), ZX_EINVAL);
    assert_int_equal (zx_values_get_str (values, 1, &s), ZX_EINVAL);
    assert_int_equal (zx_values_get_bytes (values, (size_t) -1, &data, &size),
                      ZX_EINVAL);
    assert_int_equal (zx_values_type (values, 1), 0);
    zx_values_destroy (&values);
}

static void
test_dup_makes_an_independent_deep_copy (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("isn", (int64_t) 9, "text");
    zx_values_t *copy = zx_values_dup (values);
    assert_non_null (copy);
    zx_values_add_int (values, 10);
    zx_values_destroy (&values);
    assert_int_equal (zx_values_count (copy), 3);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (copy, 1, &s), ZX_OK);
    assert_string_equal (s, "text");
    assert_int_equal (zx_values_add_str (copy, "more"), ZX_OK);
    assert_string_equal (s_repr (copy), "[9, 'text', None, 'more']");
    zx_values_destroy (&copy);

    zx_values_t *empty = zx_values_new ();
    copy = zx_values_dup (empty);
    assert_non_null (copy);
    assert_int_equal (zx_values_count (copy), 0);
    assert_int_equal (zx_values_add_none (copy), ZX_OK);
    zx_values_destroy (&copy);
    zx_values_destroy (&empty);
}

static void
test_repr_renders_a_python_like_list (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_string_equal (s_repr (values), "[]");
    zx_values_destroy (&values);

    values = zx_values_pack ("idsbn", (int64_t) 1, 2.5, "x", "\x01\xff", (size_t) 2);
    assert_string_equal (s_repr (values), "[1, 2.5, 'x', b'\\x01\\xff', None]");
    zx_values_destroy (&values);

    values = zx_values_pack ("ii", (int64_t) INT64_MIN, (int64_t) 0);
    assert_string_equal (s_repr (values), "[-9223372036854775808, 0]");
    zx_values_destroy (&values);
}

static void
test_repr_escapes_strings_and_bytes (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("s", "it's a\\b\n\t\r\x01\x7f");
    assert_string_equal (s_repr (values), "['it\\'s a\\\\b\\n\\t\\r\\x01\\x7f']");
    zx_values_destroy (&values);

    values = zx_values_pack ("b", "q'\\\n\0\x80 ~", (size_t) 8);
    assert_string_equal (s_repr (values), "[b'q\\'\\\\\\n\\x00\\x80 ~']");
    zx_values_destroy (&values);

    //  A str keeps valid UTF-8 characters; stray bytes and C1 controls
    //  are escaped
    values = zx_values_pack ("s", "caf\xc3\xa9 \xe2\x82\xac \xff \xc2\x85");
    assert_string_equal (s_repr (values),
                         "['caf\xc3\xa9 \xe2\x82\xac \\xff \\x85']");
    zx_values_destroy (&values);
    values = zx_values_pack ("b", "\xc3\xa9", (size_t) 2);
    assert_string_equal (s_repr (values), "[b'\\xc3\\xa9']");
    zx_values_destroy (&values);
}

static void
test_repr_formats_doubles_like_python (void **state)
{
    (void) state;
    assert_string_equal (s_repr_double (2.5), "[2.5]");
    assert_string_equal (s_repr_double (1.0), "[1.0]");
    assert_string_equal (s_repr_double (0.0), "[0.0]");
    assert_string_equal (s_repr_double (-0.0), "[-0.0]");
    assert_string_equal (s_repr_double (0.1), "[0.1]");
    assert_string_equal (s_repr_double (0.1 + 0.2), "[0.30000000000000004]");
    assert_string_equal (s_repr_double (-123456789.0), "[-123456789.0]");
    assert_string_equal (s_repr_double (100.0), "[100.0]");
    assert_string_equal (s_repr_double (1e15), "[1000000000000000.0]");
    assert_string_equal (s_repr_double (1e16), "[1e+16]");
    assert_string_equal (s_repr_double (1.5e300), "[1.5e+300]");
    assert_string_equal (s_repr_double (0.0001), "[0.0001]");
    assert_string_equal (s_repr_double (0.00001), "[1e-05]");
    assert_string_equal (s_repr_double (1.25e-7), "[1.25e-07]");
    assert_string_equal (s_repr_double (5e-324), "[5e-324]");
    assert_string_equal (s_repr_double (1.7976931348623157e308),
                         "[1.7976931348623157e+308]");
    assert_string_equal (s_repr_double (1.0 / 3), "[0.3333333333333333]");
    assert_string_equal (s_repr_double (INFINITY), "[inf]");
    assert_string_equal (s_repr_double (-INFINITY), "[-inf]");
    assert_string_equal (s_repr_double (NAN), "[nan]");
}

static void
test_repr_truncates_and_returns_the_needed_length (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("is", (int64_t) 12345, "abc");
    const char *full = "[12345, 'abc']";
    char buf [8];
    memset (buf, 'Z', sizeof (buf));
    assert_int_equal (zx_values_repr (values, buf, sizeof (buf)), strlen (full));
    assert_string_equal (buf, "[12345,");
    assert_int_equal (zx_values_repr (values, buf, 1), strlen (full));
    assert_string_equal (buf, "");
    assert_int_equal (zx_values_repr (values, NULL, 0), strlen (full));
    zx_values_destroy (&values);
}

static void
test_encoding_follows_the_wire_format (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("isbnd", (int64_t) 0x0102030405060708,
                                          "hi", "\xaa", (size_t) 1, 1.0);
    size_t size = 0;
    const unsigned char *data = zx__values_data (values, &size);
    const unsigned char expected [] = {
        'i', 8, 7, 6, 5, 4, 3, 2, 1,
        's', 2, 0, 0, 0, 'h', 'i', 0,
        'b', 1, 0, 0, 0, 0xaa,
        'n',
        'd', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
    };
    assert_int_equal (size, sizeof (expected));
    assert_memory_equal (data, expected, sizeof (expected));
    zx_values_destroy (&values);

    values = zx_values_new ();
    assert_non_null (zx__values_data (values, &size));
    assert_int_equal (size, 0);
    zx_values_destroy (&values);
}

static void
test_encode_then_decode_round_trips (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("idsbnsb", (int64_t) -1, -2.75,
                                          "caf\xc3\xa9", "\0\1\2", (size_t) 3,
                                          "", "", (size_t) 0);
    size_t size = 0;
    const void *data = zx__values_data (values, &size);
    zx_values_t *decoded = NULL;
    assert_int_equal (zx__values_decode (data, size, &decoded), ZX_OK);
    assert_non_null (decoded);
    assert_int_equal (zx_values_count (decoded), 7);
    size_t size2 = 0;
    const void *data2 = zx__values_data (decoded, &size2);
    assert_int_equal (size, size2);
    assert_memory_equal (data, data2, size);

    double d = 0;
    assert_int_equal (zx_values_get_double (decoded, 1, &d), ZX_OK);
    assert_true (d == -2.75);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (decoded, 2, &s), ZX_OK);
    assert_string_equal (s, "caf\xc3\xa9");
    const void *bytes = NULL;
    size_t length = 0;
    assert_int_equal (zx_values_get_bytes (decoded, 3, &bytes, &length), ZX_OK);
    assert_int_equal (length, 3);
    assert_memory_equal (bytes, "\0\1\2", 3);
    //  A decoded list can grow like any other
    assert_int_equal (zx_values_add_str (decoded, "tail"), ZX_OK);
    assert_int_equal (zx_values_count (decoded), 8);
    zx_values_destroy (&decoded);
    zx_values_destroy (&values);
}

static void
test_decoder_accepts_the_empty_buffer (void **state)
{
    (void) state;
    zx_values_t *decoded = NULL;
    assert_int_equal (zx__values_decode ("", 0, &decoded), ZX_OK);
    assert_non_null (decoded);
    assert_int_equal (zx_values_count (decoded), 0);
    zx_values_destroy (&decoded);
    assert_int_equal (zx__values_decode (NULL, 0, &decoded), ZX_OK);
    assert_int_equal (zx_values_count (decoded), 0);
    zx_values_destroy (&decoded);
}

//  Asserts that decoding size bytes of data fails with ZX_EPROTO.
static void
s_assert_rejected (const void *data, size_t size)
{
    zx_values_t *decoded = NULL;
    assert_int_equal (zx__values_decode (data, size, &decoded), ZX_EPROTO);
    assert_null (decoded);
}

static void
test_decoder_rejects_a_truncated_int (void **state)
{
    (void) state;
    s_assert_rejected ("i\1\2\3\4\5\6\7", 8);
    s_assert_rejected ("i", 1);
    s_assert_rejected ("d\0\0\0", 4);
    s_assert_rejected ("s\1\0", 3);
    s_assert_rejected ("b\5\0\0\0abcd", 9);
}

static void
test_decoder_rejects_a_bad_tag (void **state)
{
    (void) state;
    s_assert_rejected ("x", 1);
    s_assert_rejected ("n\0", 2);
    s_assert_rejected ("nnI\0\0\0\0\0\0\0\0", 11);
}

static void
test_decoder_rejects_a_string_without_its_terminator (void **state)
{
    (void) state;
    s_assert_rejected ("s\2\0\0\0ab", 7);
    s_assert_rejected ("s\2\0\0\0abc", 8);
    s_assert_rejected ("s\0\0\0\0", 5);
}

static void
test_decoder_rejects_a_string_with_an_inner_nul (void **state)
{
    (void) state;
    s_assert_rejected ("s\3\0\0\0a\0b\0", 9);
    s_assert_rejected ("s\1\0\0\0\0\0", 7);
}

static void
test_decoder_rejects_a_huge_length (void **state)
{
    (void) state;
    s_assert_rejected ("s\xff\xff\xff\xff" "abc", 8);
    s_assert_rejected ("b\xff\xff\xff\xff" "abc", 8);
    s_assert_rejected ("b\xfe\xff\xff\xff" "abc", 8);
    s_assert_rejected ("s\xff\xff\xff\xff", 5);
    s_assert_rejected ("b\xff\xff\xff\xff", 5);
}

static void
test_decoder_rejects_trailing_garbage (void **state)
{
    (void) state;
    s_assert_rejected ("i\1\0\0\0\0\0\0\0\1", 10);
    s_assert_rejected ("s\1\0\0\0a\0\0", 8);
    s_assert_rejected ("b\1\0\0\0aZ", 7);
}

//  A small seeded generator, so a failing run repeats exactly.
static uint64_t
s_random (uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

//  Decodes data; when that succeeds, rebuilds the list value by value and
//  checks the rebuilt encoding equals data. Returns true if it decoded.
static bool
s_decode_and_check (const unsigned char *data, size_t size)
{
    zx_values_t *decoded = NULL;
    zx_err_t rc = zx__values_decode (data, size, &decoded);
    if (rc != ZX_OK) {
        assert_int_equal (rc, ZX_EPROTO);
        assert_null (decoded);
        return false;
    }
    zx_values_t *rebuilt = zx_values_new ();
    size_t count = zx_values_count (decoded);
    for (size_t index = 0; index < count; index++) {
        int64_t i;
        double d;
        const char *s;
        const void *bytes;
        size_t length;
        switch (zx_values_type (decoded, index)) {
            case ZX_TINT:
                assert_int_equal (zx_values_get_int (decoded, index, &i), ZX_OK);
                assert_int_equal (zx_values_add_int (rebuilt, i), ZX_OK);
                break;
            case ZX_TDOUBLE:
                assert_int_equal (zx_values_get_double (decoded, index, &d), ZX_OK);
                assert_int_equal (zx_values_add_double (rebuilt, d), ZX_OK);
                break;
            case ZX_TSTR:
                assert_int_equal (zx_values_get_str (decoded, index, &s), ZX_OK);
                assert_int_equal (zx_values_add_str (rebuilt, s), ZX_OK);
                break;
            case ZX_TBYTES:
                assert_int_equal (zx_values_get_bytes (decoded, index, &bytes,
                                                       &length), ZX_OK);
                assert_int_equal (zx_values_add_bytes (rebuilt, bytes, length),
                                  ZX_OK);
                break;
            case ZX_TNONE:
                assert_int_equal (zx_values_add_none (rebuilt), ZX_OK);
                break;
            default:
                fail_msg ("decoded list holds an unknown type");
        }
    }
    size_t rebuilt_size = 0;
    const void *rebuilt_data = zx__values_data (rebuilt, &rebuilt_size);
    assert_int_equal (rebuilt_size, size);
    if (size)
        assert_memory_equal (rebuilt_data, data, size);
    //  Rendering any decoded list must be safe too
    char buf [64];
    zx_values_repr (decoded, buf, sizeof (buf));
    zx_values_destroy (&rebuilt);
    zx_values_destroy (&decoded);
    return true;
}

static void
test_decoder_survives_prefixes_and_random_flips (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("isdbnsbi", (int64_t) 77, "alpha",
                                          3.25, "\0\1\2\3", (size_t) 4, "",
                                          "", (size_t) 0, (int64_t) -5);
    size_t size = 0;
    const unsigned char *valid = zx__values_data (values, &size);

    //  Every prefix: each is either a shorter valid list or rejected; the
    //  heap copy of exactly that many bytes lets ASan see any overread.
    size_t accepted = 0;
    for (size_t length = 0; length <= size; length++) {
        unsigned char *copy = malloc (length? length: 1);
        memcpy (copy, valid, length);
        accepted += s_decode_and_check (copy, length);
        free (copy);
    }
    assert_true (accepted >= 2);    //  At least empty and the whole list

    uint64_t seed = 0x9E3779B97F4A7C15ull;
    unsigned char *copy = malloc (size);
    size_t decoded = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy (copy, valid, size);
        int flips = 1 + (int) (s_random (&seed) % 4);
        for (int flip = 0; flip < flips; flip++) {
            size_t at = (size_t) (s_random (&seed) % size);
            if (s_random (&seed) % 2)
                copy [at] ^= (unsigned char) (1u << (s_random (&seed) % 8));
            else
                copy [at] = (unsigned char) s_random (&seed);
        }
        size_t length = (size_t) (s_random (&seed) % (size + 1));
        decoded += s_decode_and_check (copy, round % 2? length: size);
    }
    assert_true (decoded > 0);
    free (copy);
    zx_values_destroy (&values);
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_pack_and_get_every_type),
    cmocka_unit_test (test_add_functions_append_in_order),
    cmocka_unit_test (test_add_rejects_null_string_and_null_bytes),
    cmocka_unit_test (test_pack_rejects_unknown_format_character),
    cmocka_unit_test (test_get_with_wrong_type_returns_etype_and_leaves_out_untouched),
    cmocka_unit_test (test_get_double_accepts_an_int),
    cmocka_unit_test (test_index_out_of_range_returns_einval),
    cmocka_unit_test (test_dup_makes_an_independent_deep_copy),
    cmocka_unit_test (test_repr_renders_a_python_like_list),
    cmocka_unit_test (test_repr_escapes_strings_and_bytes),
    cmocka_unit_test (test_repr_formats_doubles_like_python),
    cmocka_unit_test (test_repr_truncates_and_returns_the_needed_length),
    cmocka_unit_test (test_encoding_follows_the_wire_format),
    cmocka_unit_test (test_encode_then_decode_round_trips),
    cmocka_unit_test (test_decoder_accepts_the_empty_buffer),
    cmocka_unit_test (test_decoder_rejects_a_truncated_int),
    cmocka_unit_test (test_decoder_rejects_a_bad_tag),
    cmocka_unit_test (test_decoder_rejects_a_string_without_its_terminator),
    cmocka_unit_test (test_decoder_rejects_a_string_with_an_inner_nul),
    cmocka_unit_test (test_decoder_rejects_a_huge_length),
    cmocka_unit_test (test_decoder_rejects_trailing_garbage),
    cmocka_unit_test (test_decoder_survives_prefixes_and_random_flips),
};

ZX_TEST_MAIN (tests)
