/*  zx_values_repr.c - typed values: the Python-like rendering, and UTF-8.

    DESIGN: zx_values_repr renders as Python's repr () renders the same
    values (True, None, 2.5, 'text', b'\x00', [..], {'key': ..}), into a
    caller's buffer with snprintf's contract: it writes what fits and
    returns what the whole needs, so a caller can size a second call.
    Nesting is bounded by ZX_VALUES_MAX_DEPTH, so the recursion is too.  */
#include "zx_values_impl.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*  ---------------------------------------------------------------------
    UTF-8                                                                 */

size_t
zx__utf8_length (const unsigned char *p, size_t left)
{
    unsigned char lead = p [0];
    if (lead < 0x80)
        return 1;
    size_t length;
    unsigned char low = 0x80, high = 0xBF;  //  Range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else
    if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;         //  Overlong
        else
        if (lead == 0xED)
            high = 0x9F;        //  Surrogates
    }
    else
    if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;         //  Overlong
        else
        if (lead == 0xF4)
            high = 0x8F;        //  Past U+10FFFF
    }
    else
        return 0;
    if (left < length || p [1] < low || p [1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if (p [i] < 0x80 || p [i] > 0xBF)
            return 0;
    return length;
}

bool
zx__utf8_valid (const char *text, size_t size)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t pos = 0;
    while (pos < size) {
        if (p [pos] < 0x80) {   //  The common case, ASCII
            pos++;
            continue;
        }
        size_t length = zx__utf8_length (p + pos, size - pos);
        if (length == 0)
            return false;
        pos += length;
    }
    return true;
}


/*  ---------------------------------------------------------------------
    Rendering                                                             */

//  An snprintf-like sink: writes what fits, counts everything.
typedef struct {
    char *buf;
    size_t size;
    size_t length;
} s_sink_t;

static void
s_putc (s_sink_t *sink, char c)
{
    if (sink->size && sink->length < sink->size - 1)
        sink->buf [sink->length] = c;
    sink->length++;
}

static void
s_puts (s_sink_t *sink, const char *text)
{
    while (*text)
        s_putc (sink, *text++);
}

static void
s_put_hex_escape (s_sink_t *sink, unsigned char byte)
{
    static const char digits [] = "0123456789abcdef";
    s_putc (sink, '\\');
    s_putc (sink, 'x');
    s_putc (sink, digits [byte >> 4]);
    s_putc (sink, digits [byte & 15]);
}

//  Renders text in single quotes as Python's repr does for str (is_str)
//  or bytes: quotes, backslashes and control characters are escaped; a str
//  keeps its valid UTF-8 characters (except the C1 controls), bytes show
//  everything outside printable ASCII as \xNN.
static void
s_put_quoted (s_sink_t *sink, const unsigned char *text, size_t size,
              bool is_str)
{
    if (!is_str)
        s_putc (sink, 'b');
    s_putc (sink, '\'');
    size_t pos = 0;
    while (pos < size) {
        unsigned char c = text [pos];
        size_t length = 1;      //  Bytes consumed by this step
        if (c == '\\' || c == '\'') {
            s_putc (sink, '\\');
            s_putc (sink, (char) c);
        }
        else
        if (c == '\n')
            s_puts (sink, "\\n");
        else
        if (c == '\t')
            s_puts (sink, "\\t");
        else
        if (c == '\r')
            s_puts (sink, "\\r");
        else
        if (c >= 0x20 && c < 0x7F)
            s_putc (sink, (char) c);
        else
        if (is_str && (length = zx__utf8_length (text + pos, size - pos)) > 1) {
            if (c == 0xC2 && text [pos + 1] < 0xA0)
                //  U+0080..U+009F: Python shows the code point
                s_put_hex_escape (sink, text [pos + 1]);
            else
                for (size_t i = 0; i < length; i++)
                    s_putc (sink, (char) text [pos + i]);
        }
        else {
            length = 1;
            s_put_hex_escape (sink, c);
        }
        pos += length;
    }
    s_putc (sink, '\'');
}

//  Formats value as Python's repr (float) does: the shortest digits that
//  read back to the same double, in fixed notation for exponents -4..15
//  and in scientific notation otherwise, always with a '.' or an 'e'.
static void
s_put_double (s_sink_t *sink, double value)
{
    if (isnan (value)) {
        s_puts (sink, "nan");
        return;
    }
    if (isinf (value)) {
        s_puts (sink, value < 0? "-inf": "inf");
        return;
    }
    char text [48];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, sizeof (text), "%.*e", precision - 1, value);
        if (strtod (text, NULL) == value)
            break;
    }
    //  text is "[-]d[.ddd]e[+-]dd"; the decimal point depends on the
    //  locale, so take the digits and the exponent and rebuild.
    char digits [24];
    int count = 0;
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    for (; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '0' && *p <= '9' && count < (int) sizeof (digits) - 1)
            digits [count++] = *p;
    int exponent = *p? (int) strtol (p + 1, NULL, 10): 0;
    while (count > 1 && digits [count - 1] == '0')
        count--;
    digits [count] = 0;

    if (negative)
        s_putc (sink, '-');
    if (exponent >= 16 || exponent < -4) {
        s_putc (sink, digits [0]);
        if (count > 1) {
            s_putc (sink, '.');
            s_puts (sink, digits + 1);
        }
        char tail [16];
        snprintf (tail, sizeof (tail), "e%+03d", exponent);
        s_puts (sink, tail);
    }
    else
    if (exponent >= 0) {
        for (int i = 0; i <= exponent; i++)
            s_putc (sink, i < count? digits [i]: '0');
        s_putc (sink, '.');
        if (count > exponent + 1)
            s_puts (sink, digits + exponent + 1);
        else
            s_putc (sink, '0');
    }
    else {
        s_puts (sink, "0.");
        for (int i = 0; i < -exponent - 1; i++)
            s_putc (sink, '0');
        s_puts (sink, digits);
    }
}

static void s_put_values (s_sink_t *sink, const zx_values_t *self);

//  Renders value as Python's repr does.
static void
s_put_value (s_sink_t *sink, const zx_value_t *value)
{
    char text [32];
    switch (value->type) {
        case ZX_TBOOL:
            s_puts (sink, value->as.b ? "True" : "False");
            break;
        case ZX_TINT:
            snprintf (text, sizeof (text), "%lld", (long long) value->as.i);
            s_puts (sink, text);
            break;
        case ZX_TUINT:
            snprintf (text, sizeof (text), "%llu", (unsigned long long) value->as.u);
            s_puts (sink, text);
            break;
        case ZX_TDOUBLE:
            s_put_double (sink, value->as.d);
            break;
        case ZX_TSTR:
        case ZX_TBYTES:
            s_put_quoted (sink, (const unsigned char *) value->as.bytes, value->size,
                          value->type == ZX_TSTR);
            break;
        case ZX_TLIST:
        case ZX_TMAP:
            s_put_values (sink, value->as.values);
            break;
        default:
            s_puts (sink, "None");
            break;
    }
}

static void
s_put_values (s_sink_t *sink, const zx_values_t *self)
{
    bool map = zx_values_is_map (self);
    s_putc (sink, map ? '{' : '[');
    size_t count = zx_values_count (self);
    for (size_t index = 0; index < count; index++) {
        if (index)
            s_puts (sink, ", ");
        if (map) {
            const zx__item_t *key = &self->items [2 * index];
            s_put_quoted (sink, (const unsigned char *) zx__item_text (self, key),
                          key->size, true);
            s_puts (sink, ": ");
        }
        zx_value_t value;
        zx_values_get (self, index, &value);
        s_put_value (sink, &value);
    }
    s_putc (sink, map ? '}' : ']');
}

size_t
zx_values_repr (const zx_values_t *self, char *buf, size_t size)
{
    assert (self);
    s_sink_t sink = { buf, buf ? size : 0, 0 };
    s_put_values (&sink, self);
    if (sink.size)
        sink.buf [sink.length < sink.size ? sink.length : sink.size - 1] = 0;
    return sink.length;
}
