/*  test_zx_values_nested.c - typed values: maps, nesting, paths, and
    bytes handed over.

    DESIGN: each test pins one behaviour of the public API of values.h on
    lists built in the process, as test_zx_values.c does for scalars.    */
#include "testutil.h"
#include "zx_values.h"
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
    return buf;
}

/*  ---------------------------------------------------------------------
    Maps                                                                  */

static void
test_a_map_alternates_keys_and_values (void **state)
{
    (void) state;
    zx_values_t *map = zx_values_new_map ();
    assert_true (zx_values_is_map (map));
    assert_int_equal (zx_values_add_int (map, 1), ZX_EINVAL);       //  A key first
    assert_int_equal (zx_values_add_key (map, "one"), ZX_OK);
    assert_int_equal (zx_values_add_key (map, "two"), ZX_EINVAL);   //  A value now
    assert_int_equal (zx_values_count (map), 0);
    assert_int_equal (zx_values_add_int (map, 1), ZX_OK);
    assert_int_equal (zx_values_add_str (map, "text"), ZX_OK);      //  A key
    assert_int_equal (zx_values_add_str (map, "value"), ZX_OK);     //  Its value
    assert_int_equal (zx_values_count (map), 2);
    const char *key = NULL;
    assert_int_equal (zx_values_key (map, 1, &key), ZX_OK);
    assert_string_equal (key, "text");
    assert_int_equal (zx_values_type (map, 1), ZX_TSTR);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (map, 1, &s), ZX_OK);
    assert_string_equal (s, "value");
    assert_string_equal (s_repr (map), "{'one': 1, 'text': 'value'}");

    zx_values_t *list = zx_values_new ();
    assert_int_equal (zx_values_add_key (list, "k"), ZX_EINVAL);
    zx_values_destroy (&list);
    zx_values_destroy (&map);
}

static void
test_key_on_a_list_is_etype_and_out_of_range_is_einval (void **state)
{
    (void) state;
    zx_values_t *map = ZX_VALUES_MAP ("k", 1);
    zx_values_t *list = ZX_VALUES (1);
    const char *key = "untouched";
    assert_int_equal (zx_values_key (list, 0, &key), ZX_ETYPE);
    assert_int_equal (zx_values_key (map, 1, &key), ZX_EINVAL);
    assert_string_equal (key, "untouched");
    zx_values_destroy (&map);
    zx_values_destroy (&list);
}

static void
test_find_returns_the_last_entry_with_a_key (void **state)
{
    (void) state;
    zx_values_t *map = ZX_VALUES_MAP ("a", 1, "a long key over seven bytes", 2, "a", 3);
    size_t index = 99;
    assert_int_equal (zx_values_find (map, "a", &index), ZX_OK);
    assert_int_equal (index, 2);
    assert_int_equal (zx_values_find (map, "a long key over seven bytes", &index), ZX_OK);
    assert_int_equal (index, 1);
    index = 99;
    assert_int_equal (zx_values_find (map, "b", &index), ZX_EINVAL);
    assert_int_equal (zx_values_find (map, "", &index), ZX_EINVAL);
    assert_int_equal (index, 99);
    zx_values_t *list = ZX_VALUES ("a");
    assert_int_equal (zx_values_find (list, "a", &index), ZX_ETYPE);
    zx_values_destroy (&list);
    zx_values_destroy (&map);
}


static void
test_entry_iterates_over_maps_and_lists_with_whole_keys (void **state)
{
    (void) state;
    zx_values_t *map = zx_values_new_map ();
    zx_values_add_strn (map, "k\0ey", 4);           //  A key with a 0 inside
    zx_values_add_int (map, 1);
    zx_values_add_key (map, "second");
    zx_values_add_str (map, "two");
    zx_value_t key, value;
    size_t count = 0;
    for (size_t i = 0; zx_values_entry (map, i, &key, &value) == ZX_OK; i++)
        count++;
    assert_int_equal (count, 2);
    assert_int_equal (zx_values_entry (map, 0, &key, &value), ZX_OK);
    assert_int_equal (key.type, ZX_TSTR);
    assert_int_equal (key.size, 4);
    assert_memory_equal (key.as.str, "k\0ey", 5);
    assert_true (value.type == ZX_TINT && value.as.i == 1);
    assert_int_equal (zx_values_entry (map, 1, NULL, &value), ZX_OK);
    assert_string_equal (value.as.str, "two");
    key.size = 99;
    assert_int_equal (zx_values_entry (map, 2, &key, &value), ZX_EINVAL);
    assert_int_equal (key.size, 99);
    zx_values_destroy (&map);

    zx_values_t *list = ZX_VALUES ("a");
    assert_int_equal (zx_values_entry (list, 0, &key, &value), ZX_OK);
    assert_int_equal (key.type, ZX_TNONE);
    assert_string_equal (value.as.str, "a");
    zx_values_destroy (&list);
}


/*  ---------------------------------------------------------------------
    Nesting                                                               */

static void
test_add_values_nests_a_list_and_takes_it (void **state)
{
    (void) state;
    zx_values_t *inner = ZX_VALUES (1, "a string of more than seven bytes", ZX_BYTES ("xyz", 3));
    zx_values_t *outer = ZX_VALUES ("first");
    assert_int_equal (zx_values_add_values (outer, &inner), ZX_OK);
    assert_null (inner);
    assert_int_equal (zx_values_add_int (outer, 2), ZX_OK);        //  Buffers move
    for (int n = 0; n < 100; n++)
        assert_int_equal (zx_values_add_int (outer, n), ZX_OK);
    const zx_values_t *nested = NULL;
    assert_int_equal (zx_values_get_list (outer, 1, &nested), ZX_OK);
    assert_int_equal (zx_values_count (nested), 3);
    const void *data = NULL;
    size_t size = 0;
    assert_int_equal (zx_values_get_bytes (nested, 2, &data, &size), ZX_OK);
    assert_int_equal (size, 3);
    assert_memory_equal (data, "xyz", 3);
    const char *s = NULL;
    assert_int_equal (zx_values_get_str (nested, 1, &s), ZX_OK);
    assert_string_equal (s, "a string of more than seven bytes");
    //  A nested list is read-only: it lives in its parent's buffer
    assert_int_equal (zx_values_add_int ((zx_values_t *) nested, 3), ZX_EINVAL);
    zx_values_destroy (&outer);
}

static void
test_add_values_refuses_self_a_nested_list_and_a_map_waiting_for_a_value (void **state)
{
    (void) state;
    zx_values_t *outer = ZX_VALUES (ZX_LIST (1));
    zx_values_t *self = outer;
    assert_int_equal (zx_values_add_values (outer, &self), ZX_EINVAL);
    assert_null (self);
    const zx_values_t *nested = NULL;
    zx_values_get_list (outer, 0, &nested);
    zx_values_t *again = (zx_values_t *) nested;
    assert_int_equal (zx_values_add_values (outer, &again), ZX_EINVAL);
    assert_int_equal (zx_values_count (outer), 1);  //  Neither was destroyed

    zx_values_t *half = zx_values_new_map ();
    zx_values_add_key (half, "key");
    assert_int_equal (zx_values_add_values (outer, &half), ZX_EINVAL);
    assert_null (half);                             //  Taken and destroyed
    zx_values_t *none = NULL;
    assert_int_equal (zx_values_add_values (outer, &none), ZX_EINVAL);
    zx_values_destroy (&outer);
}

static void
test_nesting_deeper_than_the_limit_is_refused (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    for (int depth = 1; depth < ZX_VALUES_MAX_DEPTH; depth++) {
        zx_values_t *outer = zx_values_new ();
        assert_int_equal (zx_values_add_values (outer, &values), ZX_OK);
        values = outer;
    }
    //  ZX_VALUES_MAX_DEPTH levels now; one more is refused
    zx_values_t *outer = zx_values_new ();
    assert_int_equal (zx_values_add_values (outer, &values), ZX_EINVAL);
    assert_null (values);
    zx_values_destroy (&outer);
}

static void
test_add_value_copies_a_nested_list_unless_told_to_take_it (void **state)
{
    (void) state;
    zx_values_t *source = ZX_VALUES (ZX_LIST (1, 2));
    zx_value_t value;
    assert_int_equal (zx_values_get (source, 0, &value), ZX_OK);
    assert_int_equal (value.type, ZX_TLIST);
    assert_int_equal (value.size, 2);
    zx_values_t *target = zx_values_new ();
    assert_int_equal (zx_values_add_value (target, &value), ZX_OK);
    zx_values_destroy (&source);                    //  The copy stays
    assert_string_equal (s_repr (target), "[[1, 2]]");

    zx_values_t *taken = ZX_VALUES ("taken");
    value = (zx_value_t) { ZX_TLIST, ZX_VALUE_TAKE, 0, { .values = taken } };
    assert_int_equal (zx_values_add_value (target, &value), ZX_OK);
    assert_string_equal (s_repr (target), "[[1, 2], ['taken']]");
    //  A list handed over as a map is refused, and still freed
    value = (zx_value_t) { ZX_TMAP, ZX_VALUE_TAKE, 0, { .values = zx_values_new () } };
    assert_int_equal (zx_values_add_value (target, &value), ZX_EINVAL);
    value = (zx_value_t) { (zx_type_t) 'x', 0, 0, { .i = 0 } };
    assert_int_equal (zx_values_add_value (target, &value), ZX_EINVAL);
    zx_values_destroy (&target);
}

static void
test_more_values_than_the_limit_are_refused (void **state)
{
    (void) state;
    zx_values_t *values = zx_values_new ();
    for (size_t i = 0; i + 1 < ZX_VALUES_MAX_COUNT; i++)
        zx_values_add_none (values);
    zx_values_t *pair = ZX_VALUES (1, 2);
    assert_int_equal (zx_values_add_none (values), ZX_OK);  //  The last one allowed
    assert_int_equal (zx_values_add_none (values), ZX_EINVAL);
    assert_int_equal (zx_values_add_values (values, &pair), ZX_EINVAL);
    assert_int_equal (zx_values_count (values), ZX_VALUES_MAX_COUNT);
    zx_values_destroy (&values);
}


/*  ---------------------------------------------------------------------
    Paths                                                                 */

static zx_values_t *
s_record (void)
{
    zx_values_t *values = ZX_VALUES (
        ZX_MAP ("name", "alice", "histogram", ZX_LIST (5, 6, 7, 8), "42", "digits",
                "a.b", "dotted", "back\\slash", 1),
        "second");
    assert_non_null (values);
    return values;
}

static void
test_path_reads_nested_values_by_index_and_key (void **state)
{
    (void) state;
    zx_values_t *values = s_record ();
    zx_value_t value;
    assert_int_equal (zx_values_path (values, "0.histogram.3", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TINT);
    assert_true (value.as.i == 8);
    assert_int_equal (zx_values_path (values, "0.name", &value), ZX_OK);
    assert_string_equal (value.as.str, "alice");
    assert_int_equal (zx_values_path (values, "0.histogram", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TLIST);
    assert_int_equal (value.size, 4);
    assert_int_equal (zx_values_path (values, "1", &value), ZX_OK);
    assert_string_equal (value.as.str, "second");
    zx_values_destroy (&values);
}

static void
test_path_counts_negative_indexes_from_the_end (void **state)
{
    (void) state;
    zx_values_t *values = s_record ();
    zx_value_t value;
    assert_int_equal (zx_values_path (values, "0.histogram.-1", &value), ZX_OK);
    assert_true (value.as.i == 8);
    assert_int_equal (zx_values_path (values, "0.histogram.-4", &value), ZX_OK);
    assert_true (value.as.i == 5);
    assert_int_equal (zx_values_path (values, "0.histogram.-5", &value), ZX_EINVAL);
    assert_int_equal (zx_values_path (values, "-2.name", &value), ZX_OK);
    zx_values_destroy (&values);
}

static void
test_path_takes_digit_steps_in_a_map_as_keys_and_unescapes (void **state)
{
    (void) state;
    zx_values_t *values = s_record ();
    zx_value_t value;
    assert_int_equal (zx_values_path (values, "0.42", &value), ZX_OK);
    assert_string_equal (value.as.str, "digits");
    assert_int_equal (zx_values_path (values, "0.a\\.b", &value), ZX_OK);
    assert_string_equal (value.as.str, "dotted");
    assert_int_equal (zx_values_path (values, "0.back\\\\slash", &value), ZX_OK);
    assert_true (value.as.i == 1);
    //  A step longer than any buffer the getter keeps on its stack
    char path [600] = "0.";
    memset (path + 2, 'k', 500);
    assert_int_equal (zx_values_path (values, path, &value), ZX_EINVAL);
    zx_values_destroy (&values);
}

static void
test_path_refuses_malformed_paths_missing_keys_and_scalars (void **state)
{
    (void) state;
    zx_values_t *values = s_record ();
    zx_value_t value = { ZX_TNONE, 0, 99, { .i = 0 } };
    const char *malformed [] = { ".", "0.", ".0", "0..name", "0.name\\", "x", "+1", "1 ",
                                 "0.histogram.1.5", "99999999999999999999999", "2", "0.nope",
                                 "0.histogram.x", "0.histogram.\\1" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++) {
        zx_err_t rc = zx_values_path (values, malformed [i], &value);
        //  "0.histogram.1.5" steps into an int: ZX_ETYPE
        assert_int_equal (rc, i == 8 ? ZX_ETYPE : ZX_EINVAL);
    }
    assert_int_equal (zx_values_path (values, "1.0", &value), ZX_ETYPE);
    assert_int_equal (zx_values_path (values, NULL, &value), ZX_EINVAL);
    assert_true (value.size == 99);
    zx_values_destroy (&values);
}

static void
test_empty_path_is_the_list_itself (void **state)
{
    (void) state;
    zx_values_t *values = s_record ();
    zx_value_t value;
    assert_int_equal (zx_values_path (values, "", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TLIST);
    assert_ptr_equal (value.as.values, values);
    assert_int_equal (value.size, 2);
    zx_values_destroy (&values);
}


/*  ---------------------------------------------------------------------
    Bytes handed over                                                     */

static int s_freed;
static void
s_free_counted (void *data, void *hint)
{
    assert_ptr_equal (hint, &s_freed);
    s_freed++;
    free (data);
}

static void
test_add_bytes_owned_copies_nothing_until_sent_then_frees (void **state)
{
    (void) state;
    s_freed = 0;
    size_t size = 1 << 20;
    unsigned char *data = malloc (size);
    for (size_t i = 0; i < size; i++)
        data [i] = (unsigned char) (i * 7);
    zx_values_t *values = ZX_VALUES ("before");
    assert_int_equal (zx_values_add_bytes_owned (values, data, size, s_free_counted, &s_freed),
                      ZX_OK);
    assert_int_equal (zx_values_add_str (values, "after"), ZX_OK);
    const void *read = NULL;
    size_t read_size = 0;
    assert_int_equal (zx_values_get_bytes (values, 1, &read, &read_size), ZX_OK);
    assert_ptr_equal (read, data);          //  Not copied
    assert_int_equal (read_size, size);
    assert_int_equal (s_freed, 0);

    //  Sending copies it once into the wire form, then frees it
    size_t wire_size = 0;
    const unsigned char *wire = zx__values_data (values, &wire_size);
    assert_int_equal (s_freed, 1);
    assert_int_equal (wire_size, 1 + 7 + 5 + size + 6);
    zx_values_t *decoded = NULL;
    assert_int_equal (zx__values_decode (wire, wire_size, &decoded), ZX_OK);
    assert_true (zx__values_equal (values, decoded));
    assert_int_equal (zx_values_get_bytes (values, 1, &read, &read_size), ZX_OK);
    for (size_t i = 0; i < size; i += 4099)
        assert_int_equal (((const unsigned char *) read) [i], (unsigned char) (i * 7));
    zx_values_destroy (&decoded);
    zx_values_destroy (&values);
    assert_int_equal (s_freed, 1);
}

static void
test_add_bytes_owned_frees_when_destroyed_unsent_or_refused (void **state)
{
    (void) state;
    s_freed = 0;
    zx_values_t *values = zx_values_new ();
    assert_int_equal (zx_values_add_bytes_owned (values, malloc (10), 10, s_free_counted,
                                                 &s_freed), ZX_OK);
    zx_values_destroy (&values);
    assert_int_equal (s_freed, 1);

    zx_values_t *map = zx_values_new_map ();    //  Wants a key: refused
    assert_int_equal (zx_values_add_bytes_owned (map, malloc (10), 10, s_free_counted,
                                                 &s_freed), ZX_EINVAL);
    assert_int_equal (s_freed, 2);
    char stack [4] = "abc";                     //  No free function: borrowed
    assert_int_equal (zx_values_add_key (map, "k"), ZX_OK);
    assert_int_equal (zx_values_add_bytes_owned (map, stack, 3, NULL, NULL), ZX_OK);
    assert_string_equal (s_repr (map), "{'k': b'abc'}");
    zx_values_destroy (&map);
}

static void
test_add_bytes_owned_then_nesting_copies_them_in (void **state)
{
    (void) state;
    s_freed = 0;
    zx_values_t *inner = zx_values_new ();
    char *data = strdup ("handed over");
    assert_int_equal (zx_values_add_bytes_owned (inner, data, strlen (data), s_free_counted,
                                                 &s_freed), ZX_OK);
    zx_values_t *outer = ZX_VALUES (1);
    assert_int_equal (zx_values_add_values (outer, &inner), ZX_OK);
    assert_int_equal (s_freed, 1);
    assert_string_equal (s_repr (outer), "[1, [b'handed over']]");
    zx_values_destroy (&outer);
    assert_int_equal (s_freed, 1);
}


const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_a_map_alternates_keys_and_values),
    cmocka_unit_test (test_key_on_a_list_is_etype_and_out_of_range_is_einval),
    cmocka_unit_test (test_find_returns_the_last_entry_with_a_key),
    cmocka_unit_test (test_entry_iterates_over_maps_and_lists_with_whole_keys),
    cmocka_unit_test (test_add_values_nests_a_list_and_takes_it),
    cmocka_unit_test (test_add_values_refuses_self_a_nested_list_and_a_map_waiting_for_a_value),
    cmocka_unit_test (test_nesting_deeper_than_the_limit_is_refused),
    cmocka_unit_test (test_add_value_copies_a_nested_list_unless_told_to_take_it),
    cmocka_unit_test (test_more_values_than_the_limit_are_refused),
    cmocka_unit_test (test_path_reads_nested_values_by_index_and_key),
    cmocka_unit_test (test_path_counts_negative_indexes_from_the_end),
    cmocka_unit_test (test_path_takes_digit_steps_in_a_map_as_keys_and_unescapes),
    cmocka_unit_test (test_path_refuses_malformed_paths_missing_keys_and_scalars),
    cmocka_unit_test (test_empty_path_is_the_list_itself),
    cmocka_unit_test (test_add_bytes_owned_copies_nothing_until_sent_then_frees),
    cmocka_unit_test (test_add_bytes_owned_frees_when_destroyed_unsent_or_refused),
    cmocka_unit_test (test_add_bytes_owned_then_nesting_copies_them_in),
};

ZX_TEST_MAIN (tests)
