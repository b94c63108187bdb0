/*  test_zx_values.c - typed values: building, reading, paths, rendering.

    DESIGN: each test pins one behaviour of the public API of values.h on
    lists built in the process; what the wire form looks like and what the
    decoder refuses are in test_zx_values_wire.c.                        */
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
    assert_non_null (values);
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
    zx_values_t *nested = zx_values_pack ("i", (int64_t) 3);
    zx_values_t *values = zx_values_pack ("idsbnu?v", (int64_t) -42, 2.5, "hello",
                                          "a\0b", (size_t) 3, UINT64_MAX, 1, nested);
    assert_non_null (values);
    assert_int_equal (zx_values_count (values), 8);
    const zx_type_t types [] = { ZX_TINT, ZX_TDOUBLE, ZX_TSTR, ZX_TBYTES, ZX_TNONE,
                                 ZX_TUINT, ZX_TBOOL, ZX_TLIST };
    for (size_t i = 0; i < 8; i++)
        assert_int_equal (zx_values_type (values, i), types [i]);

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
    uint64_t u = 0;
    assert_int_equal (zx_values_get_uint (values, 5, &u), ZX_OK);
    assert_true (u == UINT64_MAX);
    bool b = false;
    assert_int_equal (zx_values_get_bool (values, 6, &b), ZX_OK);
    assert_true (b);
    const zx_values_t *list = NULL;
    assert_int_equal (zx_values_get_list (values, 7, &list), ZX_OK);
    assert_int_equal (zx_values_get_int (list, 0, &i), ZX_OK);
    assert_true (i == 3);
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
    assert_false (zx_values_is_map (values));
    assert_int_equal (zx_values_add_int (values, INT64_MIN), ZX_OK);
    assert_int_equal (zx_values_add_int (values, INT64_MAX), ZX_OK);
    assert_int_equal (zx_values_add_double (values, -0.0), ZX_OK);
    assert_int_equal (zx_values_add_str (values, ""), ZX_OK);
    assert_int_equal (zx_values_add_bytes (values, NULL, 0), ZX_OK);
    assert_int_equal (zx_values_add_none (values), ZX_OK);
    //  Enough items to make the buffers grow several times, and the
    //  header from one byte to three and five
    for (int64_t n = 0; n < 70000; n++)
        assert_int_equal (zx_values_add_int (values, n), ZX_OK);
    assert_int_equal (zx_values_count (values), 70006);

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
    assert_int_equal (zx_values_get_int (values, 70005, &i), ZX_OK);
    assert_true (i == 69999);
    zx_values_destroy (&values);
}

static void
test_add_rejects_null_string_and_null_bytes (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_str (values, NULL), ZX_EINVAL);
    assert_int_equal (zx_values_add_strn (values, NULL, 0), ZX_EINVAL);
    assert_int_equal (zx_values_add_bytes (values, NULL, 1), ZX_EINVAL);
    assert_int_equal (zx_values_add_key (values, NULL), ZX_EINVAL);
    assert_int_equal (zx_values_count (values), 0);
    zx_values_destroy (&values);
}

static void
test_add_str_refuses_text_that_is_not_utf8 (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    const char *bad [] = { "\xff", "caf\xe9", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                           "\xe2\x82" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_int_equal (zx_values_add_str (values, bad [i]), ZX_EINVAL);
    assert_int_equal (zx_values_count (values), 0);
    const char *text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_int_equal (zx_values_add_str (values, text), ZX_OK);
    assert_string_equal (s_repr (values), "['caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80']");
    zx_values_destroy (&values);
}

static void
test_add_strn_keeps_a_string_with_a_nul_inside (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_strn (values, "a\0b", 3), ZX_OK);
    assert_int_equal (zx_values_add_strn (values, "a longer one\0with a nul", 23), ZX_OK);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (values, 0, &s), ZX_OK);
    assert_string_equal (s, "a");                   //  As C sees it
    zx_value_t value;
    assert_int_equal (zx_values_get (values, 1, &value), ZX_OK);
    assert_int_equal (value.type, ZX_TSTR);
    assert_int_equal (value.size, 23);              //  All of it
    assert_memory_equal (value.as.str, "a longer one\0with a nul", 24);
    assert_string_equal (s_repr (values), "['a\\x00b', 'a longer one\\x00with a nul']");
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
test_pack_takes_its_nested_lists_even_when_it_fails (void **state)
{
    (void) state;
    //  Under the sanitizer, a list not taken would be reported as a leak
    zx_values_t *first = zx_values_new ();
    zx_values_t *second = zx_values_new ();
    assert_null (zx_values_pack ("vsv", first, (const char *) NULL, second));
    assert_null (zx_values_pack ("v", (zx_values_t *) NULL));
}

static void
test_get_with_wrong_type_returns_etype_and_leaves_out_untouched (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("sidn?v", "x", (int64_t) 1, 1.5, 0,
                                          zx_values_new_map ());
    int64_t i = 7;
    assert_int_equal (zx_values_get_int (values, 0, &i), ZX_ETYPE);
    assert_int_equal (zx_values_get_int (values, 2, &i), ZX_ETYPE);
    assert_int_equal (zx_values_get_int (values, 4, &i), ZX_ETYPE);
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
    bool b = true;
    assert_int_equal (zx_values_get_bool (values, 1, &b), ZX_ETYPE);
    assert_true (b);
    const zx_values_t *nested = values;
    assert_int_equal (zx_values_get_list (values, 5, &nested), ZX_ETYPE);
    assert_int_equal (zx_values_get_map (values, 0, &nested), ZX_ETYPE);
    assert_ptr_equal (nested, values);
    assert_int_equal (zx_values_get_map (values, 5, &nested), ZX_OK);
    assert_true (zx_values_is_map (nested));
    zx_values_destroy (&values);
}

static void
test_get_double_accepts_an_int (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_pack ("iu", (int64_t) -3, UINT64_MAX);
    double d = 0;
    assert_int_equal (zx_values_get_double (values, 0, &d), ZX_OK);
    assert_true (d == -3.0);
    assert_int_equal (zx_values_get_double (values, 1, &d), ZX_OK);
    assert_true (d == 18446744073709551615.0);
    zx_values_destroy (&values);
}

static void
test_an_integer_that_fits_int64_is_an_int_whatever_adder_made_it (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_uint (values, 5), ZX_OK);
    assert_int_equal (zx_values_add_uint (values, (uint64_t) INT64_MAX + 1), ZX_OK);
    assert_int_equal (zx_values_add_int (values, -1), ZX_OK);
    assert_int_equal (zx_values_type (values, 0), ZX_TINT);
    assert_int_equal (zx_values_type (values, 1), ZX_TUINT);
    uint64_t u = 0;
    assert_int_equal (zx_values_get_uint (values, 0, &u), ZX_OK);
    assert_true (u == 5);
    assert_int_equal (zx_values_get_uint (values, 1, &u), ZX_OK);
    assert_true (u == (uint64_t) INT64_MAX + 1);
    u = 9;
    assert_int_equal (zx_values_get_uint (values, 2, &u), ZX_ETYPE);    //  Negative
    assert_true (u == 9);
    int64_t i = 0;
    assert_int_equal (zx_values_get_int (values, 1, &i), ZX_ETYPE);     //  Too large
    assert_string_equal (s_repr (values), "[5, 9223372036854775808, -1]");
    zx_values_destroy (&values);
}

static void
test_add_bool_and_get_bool (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_bool (values, true), ZX_OK);
    assert_int_equal (zx_values_add_bool (values, false), ZX_OK);
    bool b = false;
    assert_int_equal (zx_values_get_bool (values, 0, &b), ZX_OK);
    assert_true (b);
    assert_int_equal (zx_values_get_bool (values, 1, &b), ZX_OK);
    assert_false (b);
    assert_string_equal (s_repr (values), "[True, False]");
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
    zx_value_t value;
    const zx_values_t *nested;
    assert_int_equal (zx_values_get_int (values, 1, &i), ZX_EINVAL);
    assert_true (i == 5);
    assert_int_equal (zx_values_get_double (values, 1, &d), ZX_EINVAL);
    assert_int_equal (zx_values_get_str (values, 1, &s), ZX_EINVAL);
    assert_int_equal (zx_values_get_bytes (values, (size_t) -1, &data, &size), ZX_EINVAL);
    assert_int_equal (zx_values_get (values, 1, &value), ZX_EINVAL);
    assert_int_equal (zx_values_get_list (values, 1, &nested), ZX_EINVAL);
    assert_int_equal (zx_values_get_map (values, SIZE_MAX / 2 + 1, &nested), ZX_EINVAL);
    assert_int_equal (zx_values_type (values, 1), 0);
    zx_values_destroy (&values);
}

static void
test_dup_makes_an_independent_deep_copy (void **state)
{
    (void) state;
    zx_values_t *values = ZX_VALUES (9, "text", ZX_NONE, ZX_MAP ("k", ZX_LIST (1, "two")));
    zx_values_t *copy = zx_values_dup (values);
    assert_non_null (copy);
    assert_true (zx__values_equal (values, copy));
    zx_values_add_int (values, 10);
    zx_values_destroy (&values);
    assert_int_equal (zx_values_count (copy), 4);
    assert_int_equal (zx_values_add_str (copy, "more"), ZX_OK);
    assert_string_equal (s_repr (copy), "[9, 'text', None, {'k': [1, 'two']}, 'more']");
    //  A nested list copies into a list of its own
    const zx_values_t *map = NULL;
    assert_int_equal (zx_values_get_map (copy, 3, &map), ZX_OK);
    zx_values_t *map_copy = zx_values_dup (map);
    assert_int_equal (zx_values_add_key (map_copy, "k2"), ZX_OK);
    assert_int_equal (zx_values_add_int (map_copy, 2), ZX_OK);
    assert_string_equal (s_repr (map_copy), "{'k': [1, 'two'], 'k2': 2}");
    zx_values_destroy (&map_copy);
    zx_values_destroy (&copy);

    zx_values_t *empty = zx_values_new ();
    copy = zx_values_dup (empty);
    assert_non_null (copy);
    assert_int_equal (zx_values_count (copy), 0);
    zx_values_destroy (&copy);
    zx_values_destroy (&empty);
}


/*  ---------------------------------------------------------------------
    ZX_VALUES                                                             */

static void
test_values_macro_types_each_argument_by_its_c_type (void **state)
{
    (void) state;
    int minus_one = -1;
    unsigned short small = 7;
    size_t size = 40000;
    uint64_t big = UINT64_MAX;
    float f = 0.5f;
    bool yes = true;
    char text [] = "mutable";
    zx_values_t *values = ZX_VALUES (minus_one, (int) -1, (long long) -2, small, size, big, f,
                                     yes, text, "literal", 'c', ZX_BYTES ("\0\1", 2), ZX_NONE,
                                     ZX_BOOL (true), ZX_BOOL (0));
    assert_non_null (values);
    assert_string_equal (s_repr (values), "[-1, -1, -2, 7, 40000, 18446744073709551615, 0.5, "
                         "True, 'mutable', 'literal', 99, b'\\x00\\x01', None, True, False]");
    assert_int_equal (zx_values_type (values, 0), ZX_TINT);
    assert_int_equal (zx_values_type (values, 6), ZX_TDOUBLE);
    assert_int_equal (zx_values_type (values, 7), ZX_TBOOL);
    zx_values_destroy (&values);

    //  The pitfall ZX_VALUES removes: through varargs 'i' an int is read
    //  as an int64 (undefined; on x86-64 its upper half is garbage)
    values = ZX_VALUES ((int) -1);
    int64_t i = 0;
    assert_int_equal (zx_values_get_int (values, 0, &i), ZX_OK);
    assert_true (i == -1);
    zx_values_destroy (&values);
}

static void
test_values_macro_nests_lists_and_maps (void **state)
{
    (void) state;
    zx_values_t *values = ZX_VALUES ("blocks", 7, 2.5,
        ZX_MAP ("name", "alice", "histogram", ZX_LIST (3, 0, 12), "empty", ZX_LIST (ZX_NONE)));
    assert_string_equal (s_repr (values), "['blocks', 7, 2.5, {'name': 'alice', "
                         "'histogram': [3, 0, 12], 'empty': [None]}]");
    zx_values_destroy (&values);

    zx_values_t *map = ZX_VALUES_MAP ("a", 1, "b", ZX_MAP ("c", true));
    assert_true (zx_values_is_map (map));
    assert_string_equal (s_repr (map), "{'a': 1, 'b': {'c': 1}}");
    zx_values_destroy (&map);
}

static void
test_values_macro_returns_null_when_a_value_is_refused (void **state)
{
    (void) state;
    //  The nested lists made for it are freed too: the sanitizer checks
    assert_null (ZX_VALUES (ZX_LIST (1, 2), (const char *) NULL, ZX_LIST (3)));
    assert_null (ZX_VALUES (ZX_LIST ("\xff"), 1));
    assert_null (ZX_VALUES_MAP (1, 2));                     //  A key that is no string
    assert_null (ZX_VALUES_MAP ("key without a value"));
    assert_null (ZX_VALUES (ZX_BYTES (NULL, 1)));
}


/*  ---------------------------------------------------------------------
    Rendering                                                             */

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
test_repr_renders_nested_lists_maps_and_bools (void **state)
{
    (void) state;
    zx_values_t *empty_list = zx_values_new ();
    zx_values_t *empty_map = zx_values_new_map ();
    zx_values_t *values = ZX_VALUES (ZX_BOOL (1), ZX_BOOL (0),
                                     ZX_MAP ("k", "v", "it's", ZX_LIST (ZX_NONE, 1.5)));
    zx_values_add_values (values, &empty_list);
    zx_values_add_values (values, &empty_map);
    assert_string_equal (s_repr (values),
                         "[True, False, {'k': 'v', 'it\\'s': [None, 1.5]}, [], {}]");
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

    //  A str keeps its UTF-8 characters; C1 controls are escaped
    values = zx_values_pack ("s", "caf\xc3\xa9 \xe2\x82\xac \xc2\x85");
    assert_string_equal (s_repr (values), "['caf\xc3\xa9 \xe2\x82\xac \\x85']");
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
    assert_string_equal (s_repr_double (1.7976931348623157e308), "[1.7976931348623157e+308]");
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

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_pack_and_get_every_type),
    cmocka_unit_test (test_add_functions_append_in_order),
    cmocka_unit_test (test_add_rejects_null_string_and_null_bytes),
    cmocka_unit_test (test_add_str_refuses_text_that_is_not_utf8),
    cmocka_unit_test (test_add_strn_keeps_a_string_with_a_nul_inside),
    cmocka_unit_test (test_pack_rejects_unknown_format_character),
    cmocka_unit_test (test_pack_takes_its_nested_lists_even_when_it_fails),
    cmocka_unit_test (test_get_with_wrong_type_returns_etype_and_leaves_out_untouched),
    cmocka_unit_test (test_get_double_accepts_an_int),
    cmocka_unit_test (test_an_integer_that_fits_int64_is_an_int_whatever_adder_made_it),
    cmocka_unit_test (test_add_bool_and_get_bool),
    cmocka_unit_test (test_index_out_of_range_returns_einval),
    cmocka_unit_test (test_dup_makes_an_independent_deep_copy),
    cmocka_unit_test (test_values_macro_types_each_argument_by_its_c_type),
    cmocka_unit_test (test_values_macro_nests_lists_and_maps),
    cmocka_unit_test (test_values_macro_returns_null_when_a_value_is_refused),
    cmocka_unit_test (test_repr_renders_a_python_like_list),
    cmocka_unit_test (test_repr_renders_nested_lists_maps_and_bools),
    cmocka_unit_test (test_repr_escapes_strings_and_bytes),
    cmocka_unit_test (test_repr_formats_doubles_like_python),
    cmocka_unit_test (test_repr_truncates_and_returns_the_needed_length),
};

ZX_TEST_MAIN (tests)
