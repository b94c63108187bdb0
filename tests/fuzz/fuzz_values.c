/*  fuzz_values.c - libFuzzer harness for the values decoder.

    DESIGN: the input is a value list's wire form, a MessagePack array
    (docs/PROTOCOL.md, section 7), as a stranger might send it in a
    request's arguments or a reply's result. Decoding must fail cleanly
    with ZX_EPROTO or succeed. When it succeeds: the list's wire form is
    the input itself; rebuilding it value by value through the public API
    (typed getters, adders, nesting) gives a list with the same values,
    whose encoding decodes back to them and is a fixed point (encoding its
    decoding gives the same bytes: the encoder writes one canonical form,
    while the decoder also takes the longer forms other encoders write);
    decoding in place hands out bytes that lie inside the input. The copy,
    the paths and the rendering run over every decoded list too.         */
#include "fuzz.h"
#include "zx_values.h"
#include <string.h>

static zx_values_t *s_rebuild (const zx_values_t *values);

//  Appends to again the value at index of values through its typed getter,
//  checking that the getter of another type refuses it.
static void
s_rebuild_value (zx_values_t *again, const zx_values_t *values, size_t index)
{
    zx_err_t rc = ZX_OK;
    switch (zx_values_type (values, index)) {
        case ZX_TINT: {
            int64_t value;
            ZX_FUZZ_CHECK (zx_values_get_int (values, index, &value) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_str (values, index, NULL) == ZX_ETYPE);
            rc = zx_values_add_int (again, value);
            break;
        }
        case ZX_TUINT: {
            uint64_t value;
            ZX_FUZZ_CHECK (zx_values_get_uint (values, index, &value) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_int (values, index, NULL) == ZX_ETYPE);
            rc = zx_values_add_uint (again, value);
            break;
        }
        case ZX_TDOUBLE: {
            double value;
            ZX_FUZZ_CHECK (zx_values_get_double (values, index, &value) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_int (values, index, NULL) == ZX_ETYPE);
            rc = zx_values_add_double (again, value);
            break;
        }
        case ZX_TBOOL: {
            bool value;
            ZX_FUZZ_CHECK (zx_values_get_bool (values, index, &value) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_double (values, index, NULL) == ZX_ETYPE);
            rc = zx_values_add_bool (again, value);
            break;
        }
        case ZX_TSTR: {
            zx_value_t value;
            ZX_FUZZ_CHECK (zx_values_get (values, index, &value) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_bytes (values, index, NULL, NULL) == ZX_ETYPE);
            ZX_FUZZ_CHECK (value.as.str [value.size] == 0);
            zx_fuzz_touch (value.as.str, value.size);
            rc = zx_values_add_strn (again, value.as.str, value.size);
            break;
        }
        case ZX_TBYTES: {
            const void *value;
            size_t size;
            ZX_FUZZ_CHECK (zx_values_get_bytes (values, index, &value, &size) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_get_double (values, index, NULL) == ZX_ETYPE);
            zx_fuzz_touch (value, size);
            rc = zx_values_add_bytes (again, value, size);
            break;
        }
        case ZX_TNONE:
            ZX_FUZZ_CHECK (zx_values_get_int (values, index, NULL) == ZX_ETYPE);
            rc = zx_values_add_none (again);
            break;
        case ZX_TLIST:
        case ZX_TMAP: {
            const zx_values_t *nested;
            ZX_FUZZ_CHECK (zx_values_get_list (values, index, &nested) == ZX_OK
                        || zx_values_get_map (values, index, &nested) == ZX_OK);
            zx_values_t *copy = s_rebuild (nested);
            rc = zx_values_add_values (again, &copy);
            break;
        }
        default:
            ZX_FUZZ_CHECK (!"decoded list holds an unknown type");
    }
    ZX_FUZZ_CHECK (rc == ZX_OK);
}

//  Rebuilds values (a list or map) value by value through the public API.
//  Returns the new list (caller owns it).
static zx_values_t *
s_rebuild (const zx_values_t *values)
{
    bool map = zx_values_is_map (values);
    zx_values_t *again = map ? zx_values_new_map () : zx_values_new ();
    ZX_FUZZ_CHECK (again);
    size_t count = zx_values_count (values);
    for (size_t index = 0; index < count; index++) {
        if (map) {
            const char *text;
            zx_value_t key;
            ZX_FUZZ_CHECK (zx_values_key (values, index, &text) == ZX_OK);
            ZX_FUZZ_CHECK (zx_values_entry (values, index, &key, NULL) == ZX_OK);
            ZX_FUZZ_CHECK (key.type == ZX_TSTR && key.as.str == text);
            //  A key may hold a 0, so it is copied with its length
            ZX_FUZZ_CHECK (zx_values_add_strn (again, key.as.str, key.size) == ZX_OK);
        }
        s_rebuild_value (again, values, index);
    }
    ZX_FUZZ_CHECK (zx_values_type (values, count) == 0);
    ZX_FUZZ_CHECK (zx_values_get_int (values, count, NULL) == ZX_EINVAL);
    return again;
}

//  True when the list's encoding is exactly data (size bytes).
static bool
s_encodes_as (const zx_values_t *values, const uint8_t *data, size_t size)
{
    size_t encoded_size;
    const void *encoded = zx__values_data (values, &encoded_size);
    return encoded && encoded_size == size && memcmp (encoded, data, size) == 0;
}

//  Checks that every bytes value of values (nested ones too) lies inside
//  [begin, end): decoded in place.
static void
s_check_in_place (const zx_values_t *values, const uint8_t *begin, const uint8_t *end)
{
    for (size_t index = 0; index < zx_values_count (values); index++) {
        zx_value_t value;
        ZX_FUZZ_CHECK (zx_values_get (values, index, &value) == ZX_OK);
        if (value.type == ZX_TBYTES && value.size)
            ZX_FUZZ_CHECK (zx_fuzz_inside (value.as.bytes, value.size, begin, end));
        if (value.type == ZX_TLIST || value.type == ZX_TMAP)
            s_check_in_place (value.as.values, begin, end);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zx_values_t *values = (zx_values_t *) 1;
    zx_err_t rc = zx__values_decode (data, size, &values);
    if (rc != ZX_OK) {
        ZX_FUZZ_CHECK (rc == ZX_EPROTO && values == NULL);
        return 0;
    }
    ZX_FUZZ_CHECK (values);
    ZX_FUZZ_CHECK (size == 0 ? s_encodes_as (values, (const uint8_t *) "\x90", 1)
                             : s_encodes_as (values, data, size));

    //  Rebuilt value by value: the same values, and a canonical encoding
    zx_values_t *again = s_rebuild (values);
    ZX_FUZZ_CHECK (zx__values_equal (values, again));
    size_t canonical_size;
    const uint8_t *canonical = zx__values_data (again, &canonical_size);
    zx_values_t *decoded_again = NULL;
    ZX_FUZZ_CHECK (zx__values_decode (canonical, canonical_size, &decoded_again) == ZX_OK);
    ZX_FUZZ_CHECK (zx__values_equal (values, decoded_again));
    zx_values_t *copy = zx_values_dup (decoded_again);
    ZX_FUZZ_CHECK (copy && s_encodes_as (copy, canonical, canonical_size));
    zx_values_destroy (&copy);
    zx_values_destroy (&decoded_again);
    zx_values_destroy (&again);

    //  In place: bytes point into the input
    zx_values_t *view = NULL;
    if (size) {
        ZX_FUZZ_CHECK (zx__values_decode_owned (data, size, NULL, NULL, &view) == ZX_OK);
        s_check_in_place (view, data, data + size);
        ZX_FUZZ_CHECK (zx__values_equal (values, view));
        zx_values_destroy (&view);
    }

    //  Paths: any of these either reads a value or says why not
    const char *paths [] = { "0", "-1", "0.0", "0.-1", "1.0.0", "0.a", "", "0.\\." };
    for (size_t i = 0; i < sizeof paths / sizeof paths [0]; i++) {
        zx_value_t value;
        rc = zx_values_path (values, paths [i], &value);
        ZX_FUZZ_CHECK (rc == ZX_OK || rc == ZX_EINVAL || rc == ZX_ETYPE);
    }

    //  The rendering: the length it reports is the one it writes, and a
    //  short buffer is cut, never overrun
    size_t length = zx_values_repr (values, NULL, 0);
    char *text = malloc (length + 1);
    ZX_FUZZ_CHECK (text);
    ZX_FUZZ_CHECK (zx_values_repr (values, text, length + 1) == length);
    ZX_FUZZ_CHECK (strlen (text) == length);
    char short_text [8];
    size_t short_size = size ? data [0] % (sizeof short_text + 1) : 0;
    ZX_FUZZ_CHECK (zx_values_repr (values, short_text, short_size) == length);
    if (short_size)
        ZX_FUZZ_CHECK (strlen (short_text) == (length < short_size ? length : short_size - 1)
                       && strncmp (short_text, text, strlen (short_text)) == 0);
    free (text);

    zx_values_destroy (&values);
    ZX_FUZZ_CHECK (values == NULL);
    return 0;
}
