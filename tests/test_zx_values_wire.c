/*  test_zx_values_wire.c - typed values on the wire: MessagePack.

    DESIGN: the encoder is pinned byte for byte against MessagePack as
    docs/PROTOCOL.md section 7 gives it (and as Python's msgpack.packb
    writes it); the decoder is given every form the format allows, then
    every refusal the document lists, each its own test; then a seeded
    fuzz loop over every prefix and random flips of a valid encoding must
    never crash, and whatever it accepts must re-encode to the same values.
    Decoded inputs are heap copies of exactly their size, so the sanitizer
    sees any read past the end.                                          */
#include "testutil.h"
#include "zx_values.h"
#include <stdlib.h>
#include <string.h>

//  Asserts that values encodes as exactly the size bytes at expected.
static void
s_assert_encodes_as (const zx_values_t *values, const char *expected, size_t size)
{
    assert_non_null (values);
    size_t actual_size = 0;
    const void *actual = zx__values_data (values, &actual_size);
    assert_non_null (actual);
    assert_int_equal (actual_size, size);
    assert_memory_equal (actual, expected, size);
}

//  Decodes a heap copy of the size bytes at data. Returns the code and
//  sets *out (NULL on failure).
static zx_err_t
s_decode (const void *data, size_t size, zx_values_t **out)
{
    void *copy = malloc (size ? size : 1);
    memcpy (copy, data, size);
    *out = (zx_values_t *) 1;
    zx_err_t rc = zx__values_decode (copy, size, out);
    free (copy);
    if (rc)
        assert_null (*out);
    return rc;
}

//  Asserts that the size bytes at data decode, and that the result renders
//  as repr. Returns the list (caller destroys it).
static zx_values_t *
s_assert_decodes_as (const void *data, size_t size, const char *repr)
{
    zx_values_t *values = NULL;
    assert_int_equal (s_decode (data, size, &values), ZX_OK);
    char buf [256];
    zx_values_repr (values, buf, sizeof (buf));
    assert_string_equal (buf, repr);
    return values;
}

//  Asserts that decoding the size bytes at data fails with ZX_EPROTO.
static void
s_assert_refused (const void *data, size_t size)
{
    zx_values_t *values = NULL;
    assert_int_equal (s_decode (data, size, &values), ZX_EPROTO);
}

//  Asserts that the size bytes at data decode and render as repr.
static void
s_assert_decodes (const void *data, size_t size, const char *repr)
{
    zx_values_t *values = s_assert_decodes_as (data, size, repr);
    zx_values_destroy (&values);
}

//  Writes value big-endian into 4 bytes at p.
static void
s_put_u32 (unsigned char *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p [i] = (unsigned char) (value >> (24 - 8 * i));
}

#define ENCODES(values, bytes) s_assert_encodes_as (values, bytes, sizeof (bytes) - 1)
#define DECODES(bytes, repr)   s_assert_decodes (bytes, sizeof (bytes) - 1, repr)
#define REFUSED(bytes)         s_assert_refused (bytes, sizeof (bytes) - 1)


/*  ---------------------------------------------------------------------
    Encoding                                                              */

static void
test_each_type_encodes_as_its_smallest_messagepack_form (void **state)
{
    (void) state;
    zx_values_t *values = ZX_VALUES (0, 127, 128, 255, 256, 65536, 4294967296ll, -1, -32,
                                     -33, -129, -32769, -2147483649ll);
    ENCODES (values, "\x9d" "\x00" "\x7f" "\xcc\x80" "\xcc\xff" "\xcd\x01\x00"
                     "\xce\x00\x01\x00\x00" "\xcf\x00\x00\x00\x01\x00\x00\x00\x00"
                     "\xff" "\xe0" "\xd0\xdf" "\xd1\xff\x7f" "\xd2\xff\xff\x7f\xff"
                     "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff");
    zx_values_destroy (&values);

    values = ZX_VALUES (UINT64_MAX, 1.0, ZX_NONE, ZX_BOOL (0), ZX_BOOL (1), "hi",
                        ZX_BYTES ("\xaa", 1));
    ENCODES (values, "\x97" "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00" "\xc0" "\xc2" "\xc3"
                     "\xa2hi" "\xc4\x01\xaa");
    zx_values_destroy (&values);

    values = zx_values_new ();
    ENCODES (values, "\x90");
    zx_values_destroy (&values);
}

static void
test_strings_bytes_and_counts_take_the_longer_forms_when_they_must (void **state)
{
    (void) state;
    char text [70000];
    memset (text, 'a', sizeof text);
    zx_values_t *values = zx_values_new ();
    zx_values_add_strn (values, text, 31);          //  fixstr
    zx_values_add_strn (values, text, 32);          //  str 8
    zx_values_add_strn (values, text, 256);         //  str 16
    zx_values_add_strn (values, text, 65536);       //  str 32
    zx_values_add_bytes (values, text, 256);        //  bin 16
    zx_values_add_bytes (values, text, 65536);      //  bin 32
    size_t size = 0;
    const unsigned char *data = zx__values_data (values, &size);
    size_t at = 1;
    assert_int_equal (data [0], 0x96);
    assert_int_equal (data [at], 0xbf);
    at += 1 + 31;
    assert_memory_equal (data + at, "\xd9\x20", 2);
    at += 2 + 32;
    assert_memory_equal (data + at, "\xda\x01\x00", 3);
    at += 3 + 256;
    assert_memory_equal (data + at, "\xdb\x00\x01\x00\x00", 5);
    at += 5 + 65536;
    assert_memory_equal (data + at, "\xc5\x01\x00", 3);
    at += 3 + 256;
    assert_memory_equal (data + at, "\xc6\x00\x01\x00\x00", 5);
    assert_int_equal (at + 5 + 65536, size);
    zx_values_destroy (&values);

    //  Counts: fixarray up to 15, array 16, then array 32; maps alike
    values = zx_values_new ();
    for (int i = 0; i < 16; i++)
        zx_values_add_none (values);
    data = zx__values_data (values, &size);
    assert_int_equal (size, 3 + 16);
    assert_memory_equal (data, "\xdc\x00\x10\xc0", 4);
    for (int i = 16; i < 65536; i++)
        zx_values_add_none (values);
    data = zx__values_data (values, &size);
    assert_int_equal (size, 5 + 65536);
    assert_memory_equal (data, "\xdd\x00\x01\x00\x00\xc0", 6);
    zx_values_destroy (&values);
}

static void
test_maps_and_nested_lists_encode_in_place (void **state)
{
    (void) state;
    //  What Python's msgpack.packb ([1, "x", {"k": [2.5, None]}]) writes
    zx_values_t *values = ZX_VALUES (1, "x", ZX_MAP ("k", ZX_LIST (2.5, ZX_NONE)));
    ENCODES (values, "\x93\x01\xa1x\x81\xa1k\x92\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xc0");
    zx_values_destroy (&values);
}


/*  ---------------------------------------------------------------------
    Decoding what the format allows                                       */

static void
test_python_packb_output_decodes (void **state)
{
    (void) state;
    DECODES ("\x93\x01\xa1x\x81\xa1k\x92\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xc0",
             "[1, 'x', {'k': [2.5, None]}]");
}

static void
test_decoder_reads_every_integer_form (void **state)
{
    (void) state;
    //  Wider forms than needed are valid MessagePack, as other encoders write
    DECODES ("\x9a\x05\xcc\x05\xcd\x00\x05\xce\x00\x00\x00\x05\xcf\x00\x00\x00\x00\x00\x00\x00\x05"
             "\xd0\x05\xd1\xff\xfb\xd2\xff\xff\xff\xfb\xd3\xff\xff\xff\xff\xff\xff\xff\xfb\xe0",
             "[5, 5, 5, 5, 5, 5, -5, -5, -5, -32]");
    zx_values_t *values = s_assert_decodes_as ("\x92\xcf\x80\x00\x00\x00\x00\x00\x00\x00"
                                               "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 19,
                                               "[9223372036854775808, -9223372036854775808]");
    assert_int_equal (zx_values_type (values, 0), ZX_TUINT);
    assert_int_equal (zx_values_type (values, 1), ZX_TINT);
    zx_values_destroy (&values);
}

static void
test_decoder_reads_float_32_and_64 (void **state)
{
    (void) state;
    DECODES ("\x92\xca\x3f\xc0\x00\x00\xcb\xc0\x04\x00\x00\x00\x00\x00\x00", "[1.5, -2.5]");
}

static void
test_decoder_reads_every_string_bytes_and_container_form (void **state)
{
    (void) state;
    DECODES ("\x94\xd9\x02hi\xda\x00\x02hi\xdb\x00\x00\x00\x02hi\xa0", "['hi', 'hi', 'hi', '']");
    DECODES ("\x93\xc4\x01z\xc5\x00\x01z\xc6\x00\x00\x00\x01z", "[b'z', b'z', b'z']");
    DECODES ("\xdc\x00\x02\xdd\x00\x00\x00\x01\xc3\xde\x00\x01\xa1k\xc2", "[[True], {'k': False}]");
    DECODES ("\xdd\x00\x00\x00\x01\xdf\x00\x00\x00\x01\xa1k\x80", "[{'k': {}}]");
    DECODES ("\x91\xa3" "a\0b", "['a\\x00b']");
}

static void
test_decoder_accepts_the_empty_buffer_and_the_empty_array (void **state)
{
    (void) state;
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (NULL, 0, &values), ZX_OK);
    assert_int_equal (zx_values_count (values), 0);
    zx_values_destroy (&values);
    DECODES ("\x90", "[]");
}

static void
s_free_counted (void *data, void *hint)
{
    (void) data;
    (*(int *) hint)++;
}

static void
test_decoded_bytes_are_read_in_place (void **state)
{
    (void) state;
    unsigned char *wire = malloc (4 + 1000);
    memcpy (wire, "\x91\xc5\x03\xe8", 4);          //  [bin 16 of 1000 bytes]
    memset (wire + 4, 'q', 1000);
    zx_values_t *values = NULL;
    int freed = 0;
    //  One byte short: refused, and the buffer stays the caller's
    assert_int_equal (zx__values_decode_owned (wire, 1003, s_free_counted, &freed, &values),
                      ZX_EPROTO);
    assert_null (values);
    assert_int_equal (freed, 0);
    assert_int_equal (zx__values_decode_owned (wire, 1004, s_free_counted, &freed, &values),
                      ZX_OK);
    const void *data = NULL;
    size_t size = 0;
    assert_int_equal (zx_values_get_bytes (values, 0, &data, &size), ZX_OK);
    assert_ptr_equal (data, wire + 4);              //  In place
    assert_int_equal (size, 1000);
    size_t wire_size = 0;
    assert_ptr_equal (zx__values_data (values, &wire_size), wire);
    assert_int_equal (wire_size, 1004);
    zx_values_destroy (&values);
    assert_int_equal (freed, 1);
    free (wire);
}

static void
test_a_decoded_copy_keeps_nothing_of_its_input (void **state)
{
    (void) state;
    char *wire = strdup ("\x92\xc4\x03" "abc" "\xa9" "long text");
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (wire, strlen (wire), &values), ZX_OK);
    memset (wire, 0, strlen ("\x92\xc4\x03" "abc" "\xa9" "long text"));
    free (wire);
    const void *data = NULL;
    size_t size = 0;
    assert_int_equal (zx_values_get_bytes (values, 0, &data, &size), ZX_OK);
    assert_memory_equal (data, "abc", 3);
    const char *text = NULL;
    assert_int_equal (zx_values_get_str (values, 1, &text), ZX_OK);
    assert_string_equal (text, "long text");
    zx_values_destroy (&values);
}

static void
test_a_decoded_list_can_grow_and_nest_like_any_other (void **state)
{
    (void) state;
    const char wire [] = "\x92\xa1x\x91\xc4\x02yz";
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode_owned (wire, sizeof wire - 1, NULL, NULL, &values),
                      ZX_OK);
    for (int i = 0; i < 20; i++)                    //  The header grows too
        assert_int_equal (zx_values_add_int (values, i), ZX_OK);
    zx_values_t *outer = ZX_VALUES ("outer");
    assert_int_equal (zx_values_add_values (outer, &values), ZX_OK);
    zx_value_t value;
    assert_int_equal (zx_values_path (outer, "1.1.0", &value), ZX_OK);
    assert_int_equal (value.type, ZX_TBYTES);
    assert_memory_equal (value.as.bytes, "yz", 2);
    assert_int_equal (zx_values_path (outer, "1.-1", &value), ZX_OK);
    assert_true (value.as.i == 19);
    zx_values_destroy (&outer);
}


/*  ---------------------------------------------------------------------
    What the decoder refuses                                              */

static void
test_decoder_refuses_a_top_level_that_is_not_an_array (void **state)
{
    (void) state;
    REFUSED ("\x80");
    REFUSED ("\x81\xa1k\x01");
    REFUSED ("\x01");
    REFUSED ("\xa1x");
    REFUSED ("\xc0");
}

static void
test_decoder_refuses_truncated_values (void **state)
{
    (void) state;
    const char *valid [] = {
        "\x91\xcd\x01\x00", "\x91\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
        "\x91\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
        "\x91\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", "\x91\xca\x3f\xc0\x00\x00", "\x91\xa2hi",
        "\x91\xd9\x02hi", "\x91\xc4\x02hi", "\x91\xc6\x00\x00\x00\x02hi", "\x92\x01\x02",
        "\xdc\x00\x01\xc0", "\xdd\x00\x00\x00\x01\xc0", "\x91\x81\xa1k\xc0",
        "\x91\xde\x00\x01\xa1k\xc0",
    };
    const size_t sizes [] = { 4, 10, 10, 10, 6, 4, 5, 5, 8, 3, 4, 6, 5, 7 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        zx_values_t *values = NULL;
        assert_int_equal (s_decode (valid [i], sizes [i], &values), ZX_OK);
        zx_values_destroy (&values);
        for (size_t cut = 1; cut < sizes [i]; cut++)
            s_assert_refused (valid [i], cut);
    }
}

static void
test_decoder_refuses_trailing_bytes (void **state)
{
    (void) state;
    REFUSED ("\x91\x01\x02");
    REFUSED ("\x90\x90");
    REFUSED ("\x91\xa1xZ");
}

static void
test_decoder_refuses_extension_types (void **state)
{
    (void) state;
    REFUSED ("\x91\xd4\x01\x00");                           //  fixext 1
    REFUSED ("\x91\xd6\xff\x00\x00\x00\x00");               //  timestamp 32
    REFUSED ("\x91\xc7\x01\x05\x00");                       //  ext 8
    REFUSED ("\x91\xc8\x00\x01\x05\x00");                   //  ext 16
    REFUSED ("\x91\xc9\x00\x00\x00\x01\x05\x00");           //  ext 32
}

static void
test_decoder_refuses_the_never_used_byte (void **state)
{
    (void) state;
    REFUSED ("\x91\xc1");
    REFUSED ("\xc1");
}

static void
test_decoder_refuses_a_map_key_that_is_not_a_string (void **state)
{
    (void) state;
    REFUSED ("\x91\x81\x01\x02");
    REFUSED ("\x91\x81\xc4\x01k\x02");                      //  bytes
    REFUSED ("\x91\x81\x90\x02");                           //  a list
    REFUSED ("\x91\x81\x80\x02");                           //  a map
    REFUSED ("\x91\x81\xc0\x02");                           //  None
}

static void
test_decoder_refuses_strings_that_are_not_utf8 (void **state)
{
    (void) state;
    REFUSED ("\x91\xa1\xff");
    REFUSED ("\x91\xa2\xc0\x80");                           //  Overlong
    REFUSED ("\x91\xa3\xed\xa0\x80");                       //  A surrogate
    REFUSED ("\x91\xa4\xf4\x90\x80\x80");                   //  Past U+10FFFF
    REFUSED ("\x91\xa2\xe2\x82");                           //  Cut short
    REFUSED ("\x91\x81\xa1\xff\x01");                       //  A key too
    DECODES ("\x91\xa4\xf0\x9f\x98\x80", "['\xf0\x9f\x98\x80']");
}

static void
test_decoder_refuses_a_count_larger_than_the_bytes_left (void **state)
{
    (void) state;
    //  Each would have msgpack-c allocate the count up front
    REFUSED ("\xdd\xff\xff\xff\xff");
    REFUSED ("\xdd\xff\xff\xff\xff\xc0\xc0\xc0");
    REFUSED ("\xdc\xff\xff");
    REFUSED ("\x9f\xc0\xc0\xc0");
    REFUSED ("\x91\xdf\xff\xff\xff\xff");
    REFUSED ("\x91\xde\x00\x02\xa1k\xc0");                  //  2 entries need 4 values
    REFUSED ("\x91\x91\xdd\x7f\xff\xff\xff");
}

static void
test_decoder_refuses_a_string_or_bytes_longer_than_the_bytes_left (void **state)
{
    (void) state;
    REFUSED ("\x91\xdb\xff\xff\xff\xff");
    REFUSED ("\x91\xdb\xff\xff\xff\xff" "abc");
    REFUSED ("\x91\xc6\xff\xff\xff\xff" "abc");
    REFUSED ("\x91\xc5\xff\xff");
    REFUSED ("\x91\xbf" "short");
}

static void
test_decoder_refuses_nesting_deeper_than_the_limit (void **state)
{
    (void) state;
    unsigned char wire [ZX_VALUES_MAX_DEPTH + 1];
    memset (wire, 0x91, sizeof wire);
    wire [ZX_VALUES_MAX_DEPTH] = 0x90;              //  One level too many
    s_assert_refused (wire, sizeof wire);
    wire [ZX_VALUES_MAX_DEPTH] = 0x80;              //  An empty map counts too
    s_assert_refused (wire, sizeof wire);
    zx_values_t *values = NULL;
    assert_int_equal (s_decode (wire + 1, ZX_VALUES_MAX_DEPTH, &values), ZX_OK);
    zx_values_destroy (&values);
    //  A long run of nesting, as a hostile peer might send
    unsigned char *deep = malloc (1 << 20);
    memset (deep, 0x91, 1 << 20);
    s_assert_refused (deep, 1 << 20);
    free (deep);
}

static void
test_decoder_refuses_more_values_than_the_limit (void **state)
{
    (void) state;
    uint32_t count = ZX_VALUES_MAX_COUNT;
    unsigned char *wire = malloc (11 + count);
    wire [0] = 0xdd;                                //  [None * (count + 1)]
    s_put_u32 (wire + 1, count + 1);
    memset (wire + 5, 0xc0, count + 1);
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (wire, 5 + count + 1, &values), ZX_EPROTO);

    //  The limit counts every level: [[None * half], [None * half]] is
    //  two values too many
    uint32_t half = count / 2;
    wire [0] = 0x92;
    wire [1] = 0xdd;
    s_put_u32 (wire + 2, half);
    memset (wire + 6, 0xc0, half);
    wire [6 + half] = 0xdd;
    s_put_u32 (wire + 7 + half, half);
    memset (wire + 11 + half, 0xc0, half);
    assert_int_equal (zx__values_decode (wire, 11 + 2 * half, &values), ZX_EPROTO);
    //  Two fewer in the second list, and it decodes
    s_put_u32 (wire + 7 + half, half - 2);
    assert_int_equal (zx__values_decode (wire, 11 + 2 * half - 2, &values), ZX_OK);
    zx_values_destroy (&values);
    free (wire);
}

static void
test_decoder_refuses_more_nested_lists_than_the_limit (void **state)
{
    (void) state;
    size_t count = ZX_VALUES_MAX_CONTAINERS + 1;
    unsigned char *wire = malloc (5 + count);
    wire [0] = 0xdd;                                //  [[] * count]
    s_put_u32 (wire + 1, (uint32_t) count);
    memset (wire + 5, 0x90, count);
    zx_values_t *values = NULL;
    assert_int_equal (zx__values_decode (wire, 5 + count, &values), ZX_EPROTO);
    s_put_u32 (wire + 1, (uint32_t) count - 1);
    assert_int_equal (zx__values_decode (wire, 5 + count - 1, &values), ZX_OK);
    assert_int_equal (zx_values_count (values), count - 1);
    zx_values_destroy (&values);
    free (wire);
}


/*  ---------------------------------------------------------------------
    Fuzzing                                                               */

//  A small seeded generator, so a failing run repeats exactly.
static uint64_t
s_random (uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

//  Decodes data; when that succeeds, re-encodes a copy and decodes that
//  again: the values must be the same. Returns true if it decoded.
static bool
s_decode_and_check (const unsigned char *data, size_t size)
{
    zx_values_t *decoded = NULL;
    zx_err_t rc = zx__values_decode (data, size, &decoded);
    if (rc != ZX_OK) {
        assert_int_equal (rc, ZX_EPROTO);
        return false;
    }
    zx_values_t *copy = zx_values_dup (decoded);
    assert_non_null (copy);
    size_t again_size = 0;
    const void *again = zx__values_data (copy, &again_size);
    zx_values_t *redecoded = NULL;
    assert_int_equal (zx__values_decode (again, again_size, &redecoded), ZX_OK);
    assert_true (zx__values_equal (decoded, redecoded));
    char buf [64];
    zx_values_repr (decoded, buf, sizeof (buf));
    zx_values_destroy (&redecoded);
    zx_values_destroy (&copy);
    zx_values_destroy (&decoded);
    return true;
}

static void
test_decoder_survives_prefixes_and_random_flips (void **state)
{
    (void) state;
    zx_values_t *values = ZX_VALUES (77, "alpha", 3.25, ZX_BYTES ("\0\1\2\3", 4), "", -5,
                                     ZX_MAP ("k", ZX_LIST (1, ZX_NONE, ZX_BOOL (1)), "j", 300),
                                     UINT64_MAX, ZX_LIST (ZX_LIST (-1)));
    size_t size = 0;
    const unsigned char *valid = zx__values_data (values, &size);
    size_t accepted = 0;
    for (size_t length = 0; length <= size; length++) {
        unsigned char *copy = malloc (length ? length : 1);
        memcpy (copy, valid, length);
        accepted += s_decode_and_check (copy, length);
        free (copy);
    }
    assert_int_equal (accepted, 2);                 //  Empty, and the whole

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
        decoded += s_decode_and_check (copy, round % 2 ? length : size);
    }
    assert_true (decoded > 0);
    free (copy);
    zx_values_destroy (&values);
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_each_type_encodes_as_its_smallest_messagepack_form),
    cmocka_unit_test (test_strings_bytes_and_counts_take_the_longer_forms_when_they_must),
    cmocka_unit_test (test_maps_and_nested_lists_encode_in_place),
    cmocka_unit_test (test_python_packb_output_decodes),
    cmocka_unit_test (test_decoder_reads_every_integer_form),
    cmocka_unit_test (test_decoder_reads_float_32_and_64),
    cmocka_unit_test (test_decoder_reads_every_string_bytes_and_container_form),
    cmocka_unit_test (test_decoder_accepts_the_empty_buffer_and_the_empty_array),
    cmocka_unit_test (test_decoded_bytes_are_read_in_place),
    cmocka_unit_test (test_a_decoded_copy_keeps_nothing_of_its_input),
    cmocka_unit_test (test_a_decoded_list_can_grow_and_nest_like_any_other),
    cmocka_unit_test (test_decoder_refuses_a_top_level_that_is_not_an_array),
    cmocka_unit_test (test_decoder_refuses_truncated_values),
    cmocka_unit_test (test_decoder_refuses_trailing_bytes),
    cmocka_unit_test (test_decoder_refuses_extension_types),
    cmocka_unit_test (test_decoder_refuses_the_never_used_byte),
    cmocka_unit_test (test_decoder_refuses_a_map_key_that_is_not_a_string),
    cmocka_unit_test (test_decoder_refuses_strings_that_are_not_utf8),
    cmocka_unit_test (test_decoder_refuses_a_count_larger_than_the_bytes_left),
    cmocka_unit_test (test_decoder_refuses_a_string_or_bytes_longer_than_the_bytes_left),
    cmocka_unit_test (test_decoder_refuses_nesting_deeper_than_the_limit),
    cmocka_unit_test (test_decoder_refuses_more_values_than_the_limit),
    cmocka_unit_test (test_decoder_refuses_more_nested_lists_than_the_limit),
    cmocka_unit_test (test_decoder_survives_prefixes_and_random_flips),
};

ZX_TEST_MAIN (tests)
