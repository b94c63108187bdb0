/*  zx_values.c - typed argument and result lists.

    DESIGN: a list is kept in its wire encoding (see zx_values.h), one
    growing byte buffer, plus an array with the offset of each item's tag.
    Sending a list is then a borrow of the buffer, receiving one is a
    validating scan and a single copy, and reading by index is O(1): the
    offset gives the tag and the payload sits right behind it. Strings keep
    their 0 byte in the encoding, so zx_values_get_str can hand out a
    pointer into the buffer. All integers are read and written byte by
    byte, so the code is independent of host byte order and alignment.

    The decoder is the one piece fed by strangers (sockets, the fuzzer): it
    checks every length against what is left before using it, and compares
    so that no sum can overflow, even for lengths near 2^32-1 on 32-bit
    hosts.                                                                */
#include "zx_values.h"
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Small lists (most task arguments and results) live inside the struct:
//  one allocation per list instead of three. The struct stays at 88 bytes
//  (a 96-byte chunk), well inside glibc's fastbins (chunks up to 128
//  bytes): at 128 bytes a million queued tasks took 120 MB more, from
//  fragmentation. 24 bytes hold two ints or a short string.
#define S_INLINE_DATA   24
#define S_INLINE_ITEMS  2

struct zx_values {
    unsigned char *data;        //  Encoded items: inline_data or the heap
    size_t size;                //  Bytes used in data
    size_t capacity;            //  Bytes allocated for data
    size_t *offsets;            //  Offset of each item's tag in data
    size_t count;               //  Number of items
    size_t offsets_capacity;    //  Entries allocated for offsets
    unsigned char inline_data [S_INLINE_DATA];
    size_t inline_offsets [S_INLINE_ITEMS];
};

//  Sizes of the fixed parts of an item
#define S_TAG_SIZE      1
#define S_LEN_SIZE      4
#define S_NUM_SIZE      8


/*  ---------------------------------------------------------------------
    Portable little-endian integers                                       */

static void
s_put_u32 (unsigned char *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p [i] = (unsigned char) (value >> (8 * i));
}

static void
s_put_u64 (unsigned char *p, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        p [i] = (unsigned char) (value >> (8 * i));
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    uint32_t value = 0;
    for (int i = 3; i >= 0; i--)
        value = (value << 8) | p [i];
    return value;
}

static uint64_t
s_get_u64 (const unsigned char *p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | p [i];
    return value;
}


/*  ---------------------------------------------------------------------
    Construction                                                          */

zx_values_t *
zx_values_new (void)
{
    zx_values_t *self = (zx_values_t *) malloc (sizeof (zx_values_t));
    if (self) {
        self->data = self->inline_data;
        self->size = 0;
        self->capacity = S_INLINE_DATA;
        self->offsets = self->inline_offsets;
        self->count = 0;
        self->offsets_capacity = S_INLINE_ITEMS;
    }
    return self;
}

//  Makes room for exactly size bytes and count items in an empty list.
static zx_err_t
s_allocate (zx_values_t *self, size_t size, size_t count)
{
    if (size > self->capacity) {
        if (!(self->data = (unsigned char *) malloc (size)))
            return ZX_ENOMEM;
        self->capacity = size;
    }
    if (count > self->offsets_capacity) {
        if (count > SIZE_MAX / sizeof (size_t)
        ||  !(self->offsets = (size_t *) malloc (count * sizeof (size_t))))
            return ZX_ENOMEM;
        self->offsets_capacity = count;
    }
    return ZX_OK;
}

void
zx_values_destroy (zx_values_t **self_p)
{
    assert (self_p);
    zx_values_t *self = *self_p;
    if (self) {
        if (self->data != self->inline_data)
            free (self->data);
        if (self->offsets != self->inline_offsets)
            free (self->offsets);
        free (self);
        *self_p = NULL;
    }
}

//  Grows a capacity to hold at least need, doubling to keep appends
//  amortised O(1).
static void
s_grow_capacity (size_t *capacity, size_t need, size_t minimum)
{
    size_t capacity_new = *capacity? *capacity: minimum;
    while (capacity_new < need) {
        if (capacity_new > SIZE_MAX / 2) {
            capacity_new = need;
            break;
        }
        capacity_new *= 2;
    }
    *capacity = capacity_new;
}

//  Makes room for one more item of item_size bytes, so the append that
//  follows cannot fail half-way. Returns ZX_OK or ZX_ENOMEM.
static zx_err_t
s_reserve (zx_values_t *self, size_t item_size)
{
    if (item_size > SIZE_MAX - self->size)
        return ZX_ENOMEM;
    size_t need = self->size + item_size;
    if (need > self->capacity) {
        size_t capacity = self->capacity;
        s_grow_capacity (&capacity, need, 64);
        unsigned char *data;
        if (self->data == self->inline_data) {
            if ((data = (unsigned char *) malloc (capacity)))
                memcpy (data, self->data, self->size);
        }
        else
            data = (unsigned char *) realloc (self->data, capacity);
        if (!data)
            return ZX_ENOMEM;
        self->data = data;
        self->capacity = capacity;
    }
    if (self->count == self->offsets_capacity) {
        size_t capacity = self->offsets_capacity;
        if (capacity >= SIZE_MAX / sizeof (size_t) / 2)
            return ZX_ENOMEM;
        s_grow_capacity (&capacity, self->count + 1, 8);
        size_t *offsets;
        if (self->offsets == self->inline_offsets) {
            if ((offsets = (size_t *) malloc (capacity * sizeof (size_t))))
                memcpy (offsets, self->offsets, self->count * sizeof (size_t));
        }
        else
            offsets = (size_t *) realloc (self->offsets, capacity * sizeof (size_t));
        if (!offsets)
            return ZX_ENOMEM;
        self->offsets = offsets;
        self->offsets_capacity = capacity;
    }
    return ZX_OK;
}

//  Appends an item whose payload is a length and bytes; with_nul adds the
//  string terminator. The caller has checked size fits in 32 bits.
static zx_err_t
s_add_sized (zx_values_t *self, zx_type_t type, const void *data, size_t size,
             bool with_nul)
{
    size_t overhead = S_TAG_SIZE + S_LEN_SIZE + (with_nul? 1: 0);
    if (size > SIZE_MAX - overhead)
        return ZX_ENOMEM;
    zx_err_t rc = s_reserve (self, size + overhead);
    if (rc)
        return rc;
    unsigned char *p = self->data + self->size;
    p [0] = (unsigned char) type;
    s_put_u32 (p + S_TAG_SIZE, (uint32_t) size);
    if (size)
        memcpy (p + S_TAG_SIZE + S_LEN_SIZE, data, size);
    if (with_nul)
        p [S_TAG_SIZE + S_LEN_SIZE + size] = 0;
    self->offsets [self->count++] = self->size;
    self->size += size + overhead;
    return ZX_OK;
}

static zx_err_t
s_add_u64 (zx_values_t *self, zx_type_t type, uint64_t bits)
{
    zx_err_t rc = s_reserve (self, S_TAG_SIZE + S_NUM_SIZE);
    if (rc)
        return rc;
    unsigned char *p = self->data + self->size;
    p [0] = (unsigned char) type;
    s_put_u64 (p + S_TAG_SIZE, bits);
    self->offsets [self->count++] = self->size;
    self->size += S_TAG_SIZE + S_NUM_SIZE;
    return ZX_OK;
}

zx_err_t
zx_values_add_int (zx_values_t *self, int64_t value)
{
    assert (self);
    return s_add_u64 (self, ZX_TINT, (uint64_t) value);
}

zx_err_t
zx_values_add_double (zx_values_t *self, double value)
{
    assert (self);
    uint64_t bits;
    memcpy (&bits, &value, sizeof (bits));
    return s_add_u64 (self, ZX_TDOUBLE, bits);
}

zx_err_t
zx_values_add_str (zx_values_t *self, const char *value)
{
    assert (self);
    if (!value)
        return ZX_EINVAL;
    size_t size = strlen (value);
    if (size > UINT32_MAX)
        return ZX_EINVAL;
    return s_add_sized (self, ZX_TSTR, value, size, true);
}

zx_err_t
zx_values_add_bytes (zx_values_t *self, const void *data, size_t size)
{
    assert (self);
    if ((!data && size) || size > UINT32_MAX)
        return ZX_EINVAL;
    return s_add_sized (self, ZX_TBYTES, data, size, false);
}

zx_err_t
zx_values_add_none (zx_values_t *self)
{
    assert (self);
    zx_err_t rc = s_reserve (self, S_TAG_SIZE);
    if (rc)
        return rc;
    self->data [self->size] = (unsigned char) ZX_TNONE;
    self->offsets [self->count++] = self->size;
    self->size += S_TAG_SIZE;
    return ZX_OK;
}

zx_values_t *
zx_values_pack (const char *format, ...)
{
    zx_values_t *self = zx_values_new ();
    if (!self)
        return NULL;
    va_list args;
    va_start (args, format);
    zx_err_t rc = ZX_OK;
    for (const char *f = format? format: ""; *f && rc == ZX_OK; f++) {
        switch (*f) {
            case 'i':
                rc = zx_values_add_int (self, va_arg (args, int64_t));
                break;
            case 'd':
                rc = zx_values_add_double (self, va_arg (args, double));
                break;
            case 's':
                rc = zx_values_add_str (self, va_arg (args, const char *));
                break;
            case 'b': {
                const void *data = va_arg (args, const void *);
                size_t size = va_arg (args, size_t);
                rc = zx_values_add_bytes (self, data, size);
                break;
            }
            case 'n':
                rc = zx_values_add_none (self);
                break;
            default:
                rc = ZX_EINVAL;
                break;
        }
    }
    va_end (args);
    if (rc)
        zx_values_destroy (&self);
    return self;
}

zx_values_t *
zx_values_dup (const zx_values_t *self)
{
    assert (self);
    zx_values_t *copy = zx_values_new ();
    if (!copy)
        return NULL;
    if (self->count) {
        if (s_allocate (copy, self->size, self->count) != ZX_OK) {
            zx_values_destroy (&copy);
            return NULL;
        }
        memcpy (copy->data, self->data, self->size);
        memcpy (copy->offsets, self->offsets, self->count * sizeof (size_t));
        copy->size = self->size;
        copy->count = self->count;
    }
    return copy;
}


/*  ---------------------------------------------------------------------
    Reading                                                               */

size_t
zx_values_count (const zx_values_t *self)
{
    assert (self);
    return self->count;
}

zx_type_t
zx_values_type (const zx_values_t *self, size_t index)
{
    assert (self);
    if (index >= self->count)
        return (zx_type_t) 0;
    return (zx_type_t) self->data [self->offsets [index]];
}

//  Returns the first payload byte of item index after checking its range
//  and type, or NULL with *rc set.
static const unsigned char *
s_payload (const zx_values_t *self, size_t index, zx_type_t type, zx_err_t *rc)
{
    assert (self);
    if (index >= self->count) {
        *rc = ZX_EINVAL;
        return NULL;
    }
    const unsigned char *p = self->data + self->offsets [index];
    if (p [0] != (unsigned char) type) {
        *rc = ZX_ETYPE;
        return NULL;
    }
    *rc = ZX_OK;
    return p + S_TAG_SIZE;
}

zx_err_t
zx_values_get_int (const zx_values_t *self, size_t index, int64_t *out)
{
    zx_err_t rc;
    const unsigned char *p = s_payload (self, index, ZX_TINT, &rc);
    if (p && out)
        *out = (int64_t) s_get_u64 (p);
    return rc;
}

zx_err_t
zx_values_get_double (const zx_values_t *self, size_t index, double *out)
{
    if (zx_values_type (self, index) == ZX_TINT) {
        int64_t value = 0;
        zx_err_t rc = zx_values_get_int (self, index, &value);
        if (rc == ZX_OK && out)
            *out = (double) value;
        return rc;
    }
    zx_err_t rc;
    const unsigned char *p = s_payload (self, index, ZX_TDOUBLE, &rc);
    if (p && out) {
        uint64_t bits = s_get_u64 (p);
        memcpy (out, &bits, sizeof (*out));
    }
    return rc;
}

zx_err_t
zx_values_get_str (const zx_values_t *self, size_t index, const char **out)
{
    zx_err_t rc;
    const unsigned char *p = s_payload (self, index, ZX_TSTR, &rc);
    if (p && out)
        *out = (const char *) (p + S_LEN_SIZE);
    return rc;
}

zx_err_t
zx_values_get_bytes (const zx_values_t *self, size_t index,
                     const void **data, size_t *size)
{
    zx_err_t rc;
    const unsigned char *p = s_payload (self, index, ZX_TBYTES, &rc);
    if (p) {
        if (data)
            *data = p + S_LEN_SIZE;
        if (size)
            *size = s_get_u32 (p);
    }
    return rc;
}


/*  ---------------------------------------------------------------------
    Wire form                                                             */

const void *
zx__values_data (const zx_values_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->size;
    //  Never NULL, so callers may hand it to memcpy and friends as is
    return self->data? (const void *) self->data: (const void *) "";
}

//  Walks an encoding, checking every item. When offsets is not NULL it
//  records each item's offset there (it has room for the count a first
//  pass returned). Returns false on malformed input.
static bool
s_scan (const unsigned char *data, size_t size, size_t *offsets,
        size_t *count_p)
{
    size_t pos = 0;
    size_t count = 0;
    while (pos < size) {
        const unsigned char *p = data + pos + S_TAG_SIZE;
        size_t left = size - pos - S_TAG_SIZE;
        size_t item;            //  Payload size, tag excluded
        switch (data [pos]) {
            case ZX_TNONE:
                item = 0;
                break;
            case ZX_TINT:
            case ZX_TDOUBLE:
                if (left < S_NUM_SIZE)
                    return false;
                item = S_NUM_SIZE;
                break;
            case ZX_TSTR: {
                if (left < S_LEN_SIZE)
                    return false;
                size_t length = s_get_u32 (p);
                left -= S_LEN_SIZE;
                //  length bytes and the 0 must fit: length + 1 <= left
                if (length >= left)
                    return false;
                const unsigned char *text = p + S_LEN_SIZE;
                if (text [length] != 0 || memchr (text, 0, length))
                    return false;
                item = S_LEN_SIZE + length + 1;
                break;
            }
            case ZX_TBYTES: {
                if (left < S_LEN_SIZE)
                    return false;
                size_t length = s_get_u32 (p);
                left -= S_LEN_SIZE;
                if (length > left)
                    return false;
                item = S_LEN_SIZE + length;
                break;
            }
            default:
                return false;
        }
        if (offsets)
            offsets [count] = pos;
        count++;
        pos += S_TAG_SIZE + item;
    }
    *count_p = count;
    return true;
}

zx_err_t
zx__values_decode (const void *data, size_t size, zx_values_t **out)
{
    assert (out);
    *out = NULL;
    if (!data && size)
        return ZX_EINVAL;
    size_t count = 0;
    if (size && !s_scan ((const unsigned char *) data, size, NULL, &count))
        return ZX_EPROTO;

    zx_values_t *self = zx_values_new ();
    if (!self)
        return ZX_ENOMEM;
    if (count) {
        if (s_allocate (self, size, count) != ZX_OK) {
            zx_values_destroy (&self);
            return ZX_ENOMEM;
        }
        memcpy (self->data, data, size);
        self->size = size;
        self->count = count;
        //  Second pass over our own copy only fills in the offsets
        bool valid = s_scan (self->data, size, self->offsets, &count);
        assert (valid);
        (void) valid;
    }
    *out = self;
    return ZX_OK;
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

//  Returns the length of the valid multi-byte UTF-8 sequence at p (2 to
//  4), or 0 when there is none (stray, overlong or surrogate bytes).
static size_t
s_utf8_length (const unsigned char *p, size_t left)
{
    unsigned char lead = p [0];
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
        if (is_str && (length = s_utf8_length (text + pos, size - pos)) > 0) {
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

size_t
zx_values_repr (const zx_values_t *self, char *buf, size_t size)
{
    assert (self);
    s_sink_t sink = { buf, buf? size: 0, 0 };
    s_putc (&sink, '[');
    for (size_t index = 0; index < self->count; index++) {
        if (index)
            s_puts (&sink, ", ");
        const unsigned char *p = self->data + self->offsets [index];
        const unsigned char *payload = p + S_TAG_SIZE;
        switch (p [0]) {
            case ZX_TINT: {
                char text [32];
                snprintf (text, sizeof (text), "%lld",
                          (long long) (int64_t) s_get_u64 (payload));
                s_puts (&sink, text);
                break;
            }
            case ZX_TDOUBLE: {
                uint64_t bits = s_get_u64 (payload);
                double value;
                memcpy (&value, &bits, sizeof (value));
                s_put_double (&sink, value);
                break;
            }
            case ZX_TSTR:
            case ZX_TBYTES:
                s_put_quoted (&sink, payload + S_LEN_SIZE, s_get_u32 (payload),
                              p [0] == ZX_TSTR);
                break;
            default:
                s_puts (&sink, "None");
                break;
        }
    }
    s_putc (&sink, ']');
    if (sink.size)
        sink.buf [sink.length < sink.size? sink.length: sink.size - 1] = 0;
    return sink.length;
}
