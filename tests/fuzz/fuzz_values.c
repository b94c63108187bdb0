/*  fuzz_values.c - libFuzzer harness for zx__values_decode.

    DESIGN: the input is the wire form of a value list (actors/zx_values.h)
    as a stranger might send it in a request's arguments or a reply's
    result. Decoding must fail cleanly with ZX_EPROTO or succeed; when it
    succeeds, building the same list again through the public API, value
    by value with the getters and zx_values_add_*, must give back exactly
    the input bytes: the decoder accepts nothing the encoder would not
    write, and loses nothing. The copy, the type checks and the rendering
    run over every decoded list too, since they read what was decoded.   */
#include "fuzz.h"
#include "zx_values.h"
#include <string.h>

//  Rebuilds values item by item through the public API. Returns the new
//  list (caller owns it).
static zx_values_t *
s_rebuild (const zx_values_t *values)
{
    zx_values_t *again = zx_values_new ();
    ZX_FUZZ_CHECK (again);
    size_t count = zx_values_count (values);
    for (size_t index = 0; index < count; index++) {
        zx_err_t rc = ZX_OK;
        switch (zx_values_type (values, index)) {
            case ZX_TINT: {
                int64_t value;
                ZX_FUZZ_CHECK (zx_values_get_int (values, index, &value) == ZX_OK);
                ZX_FUZZ_CHECK (zx_values_get_str (values, index, NULL) == ZX_ETYPE);
                rc = zx_values_add_int (again, value);
                break;
            }
            case ZX_TDOUBLE: {
                double value;
                ZX_FUZZ_CHECK (zx_values_get_double (values, index, &value) == ZX_OK);
                ZX_FUZZ_CHECK (zx_values_get_int (values, index, NULL) == ZX_ETYPE);
                rc = zx_values_add_double (again, value);
                break;
            }
            case ZX_TSTR: {
                const char *value;
                ZX_FUZZ_CHECK (zx_values_get_str (values, index, &value) == ZX_OK);
                ZX_FUZZ_CHECK (zx_values_get_bytes (values, index, NULL, NULL) == ZX_ETYPE);
                rc = zx_values_add_str (again, value);
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
            default:
                ZX_FUZZ_CHECK (!"decoded list holds an unknown type");
        }
        ZX_FUZZ_CHECK (rc == ZX_OK);
    }
    ZX_FUZZ_CHECK (zx_values_type (values, count) == 0);
    ZX_FUZZ_CHECK (zx_values_get_int (values, count, NULL) == ZX_EINVAL);
    return again;
}

//  True when the list's encoding is exactly data (size bytes).
static int
s_encodes_as (const zx_values_t *values, const uint8_t *data, size_t size)
{
    size_t encoded_size;
    const void *encoded = zx__values_data (values, &encoded_size);
    return encoded && encoded_size == size
        && (size == 0 || memcmp (encoded, data, size) == 0);
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
    ZX_FUZZ_CHECK (s_encodes_as (values, data, size));

    zx_values_t *again = s_rebuild (values);
    ZX_FUZZ_CHECK (zx_values_count (again) == zx_values_count (values));
    ZX_FUZZ_CHECK (s_encodes_as (again, data, size));
    zx_values_destroy (&again);

    zx_values_t *copy = zx_values_dup (values);
    ZX_FUZZ_CHECK (copy && s_encodes_as (copy, data, size));
    zx_values_destroy (&copy);

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
