/*  zx_log_format.c - a logging format: Python's %(field)s syntax,
    compiled into pieces and rendered into lines.

    DESIGN: a format is parsed twice, once to validate it and count its
    pieces and literal bytes, once to fill them into one allocation that
    also holds the text, so a compiled format is a single immutable block
    that any thread may render from while another configures the next.
    A piece is literal text or a field with printf's flags, width and
    precision; rendering appends each to a line buffer that starts on the
    caller's stack and moves to the heap only for long lines, counting
    widths and precisions in UTF-8 characters as Python does, and
    converting numbers itself rather than through printf.                */
#define _GNU_SOURCE
#include "zx_log_format.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  Fields a format may name; a piece that is not a field is literal text
typedef enum {
    S_LITERAL,
    S_NAME,
    S_MESSAGE,
    S_LEVELNAME,
    S_LEVELNO,
    S_THREADNAME,
    S_PROCESS,
    S_ASCTIME
} s_kind_t;

typedef struct {
    s_kind_t kind;
    const char *text;           //  Literal text (not NUL-terminated)
    size_t size;                //  Bytes of literal text
    bool numeric;               //  Converted with 'd' or 'i', else 's'
    bool left;                  //  '-' flag: justify left
    bool zero;                  //  '0' flag: pad numbers with zeros
    bool plus;                  //  '+' flag: sign on positive numbers
    bool space;                 //  ' ' flag: space before positive numbers
    int width;                  //  Minimum width in characters, or 0
    int precision;              //  Precision, or -1 when there is none
} s_piece_t;

struct zx__log_format {
    const char *text;           //  Format as given (for process workers)
    const s_piece_t *pieces;    //  Compiled format
    size_t count;               //  Number of pieces
    bool has_asctime;           //  Whether a record needs the clock
};

static const struct {
    const char *name;
    s_kind_t kind;
    bool numeric;               //  Field may be converted with 'd'
} s_fields [] = {
    { "name",       S_NAME,       false },
    { "message",    S_MESSAGE,    false },
    { "levelname",  S_LEVELNAME,  false },
    { "levelno",    S_LEVELNO,    true  },
    { "threadName", S_THREADNAME, false },
    { "process",    S_PROCESS,    true  },
    { "asctime",    S_ASCTIME,    false }
};

#define S_MAX_WIDTH         65536   //  Largest width or precision accepted

//  Python's root logger before basicConfig: the BASIC_FORMAT.
static const s_piece_t s_default_pieces [] = {
    { S_LEVELNAME, NULL, 0, false, false, false, false, false, 0, -1 },
    { S_LITERAL,   ":",  1, false, false, false, false, false, 0, -1 },
    { S_NAME,      NULL, 0, false, false, false, false, false, 0, -1 },
    { S_LITERAL,   ":",  1, false, false, false, false, false, 0, -1 },
    { S_MESSAGE,   NULL, 0, false, false, false, false, false, 0, -1 }
};
static const zx__log_format_t s_default_format = {
    ZX__LOG_DEFAULT_FORMAT, s_default_pieces,
    sizeof (s_default_pieces) / sizeof (s_default_pieces [0]), false
};


/*  ---------------------------------------------------------------------
    Compiling a format                                                    */

//  Reads a decimal number of at most S_MAX_WIDTH at *p_p. Returns it, or -1
//  when it is too large.
static int
s_parse_number (const char **p_p)
{
    const char *p = *p_p;
    int value = 0;
    while (*p >= '0' && *p <= '9') {
        if (value > S_MAX_WIDTH)
            return -1;
        value = value * 10 + (*p++ - '0');
    }
    *p_p = p;
    return value > S_MAX_WIDTH? -1: value;
}

//  Parses the field spec that follows "%(" at p, such as "name)-18s", into
//  piece. Returns a pointer past the spec, or NULL when it is malformed.
static const char *
s_parse_field (const char *p, s_piece_t *piece)
{
    const char *close = strchr (p, ')');
    if (!close)
        return NULL;
    size_t size = (size_t) (close - p);
    size_t index;
    size_t limit = sizeof (s_fields) / sizeof (s_fields [0]);
    for (index = 0; index < limit; index++)
        if (strlen (s_fields [index].name) == size
        &&  memcmp (s_fields [index].name, p, size) == 0)
            break;
    if (index == limit)
        return NULL;

    memset (piece, 0, sizeof (*piece));
    piece->kind = s_fields [index].kind;
    piece->precision = -1;
    p = close + 1;
    for (;; p++) {
        if (*p == '-')
            piece->left = true;
        else
        if (*p == '0')
            piece->zero = true;
        else
        if (*p == '+')
            piece->plus = true;
        else
        if (*p == ' ')
            piece->space = true;
        else
        if (*p != '#')          //  Alternate form: no effect on s or d
            break;
    }
    if ((piece->width = s_parse_number (&p)) < 0)
        return NULL;
    if (*p == '.') {
        p++;
        if ((piece->precision = s_parse_number (&p)) < 0)
            return NULL;
    }
    if (*p == 's')
        piece->numeric = false;
    else
    if ((*p == 'd' || *p == 'i') && s_fields [index].numeric)
        piece->numeric = true;
    else
        return NULL;            //  Missing or unsupported conversion
    return p + 1;
}

//  Parses format. With pieces and text NULL it only validates and counts;
//  otherwise it fills pieces and copies literal text (with "%%" made '%')
//  into text. Sets *count and *text_size; returns ZX_OK or ZX_EINVAL.
static zx_err_t
s_parse (const char *format, s_piece_t *pieces, char *text,
         size_t *count, size_t *text_size, bool *has_asctime)
{
    size_t n = 0;               //  Pieces so far
    size_t used = 0;            //  Literal bytes so far
    bool literal_open = false;  //  Last piece is literal and may grow
    bool has_field = false;
    *has_asctime = false;
    const char *p = format;
    while (*p) {
        if (*p == '%' && p [1] == '(') {
            s_piece_t piece;
            p = s_parse_field (p + 2, &piece);
            if (!p)
                return ZX_EINVAL;
            if (pieces)
                pieces [n] = piece;
            if (piece.kind == S_ASCTIME)
                *has_asctime = true;
            n++;
            literal_open = false;
            has_field = true;
            continue;
        }
        char c = *p++;
        if (c == '%') {
            if (*p != '%')
                return ZX_EINVAL;   //  Lone '%' or a conversion without a field
            p++;
        }
        if (!literal_open) {
            if (pieces) {
                memset (&pieces [n], 0, sizeof (pieces [n]));
                pieces [n].kind = S_LITERAL;
                pieces [n].text = text + used;
                pieces [n].precision = -1;
            }
            n++;
            literal_open = true;
        }
        if (pieces) {
            text [used] = c;
            pieces [n - 1].size++;
        }
        used++;
    }
    //  As Python's Formatter validates it: a format must name a field
    if (!has_field)
        return ZX_EINVAL;
    *count = n;
    *text_size = used;
    return ZX_OK;
}

zx__log_format_t *
zx__log_format_compile (const char *format, zx_err_t *rc)
{
    size_t count, text_size;
    bool has_asctime;
    *rc = s_parse (format, NULL, NULL, &count, &text_size, &has_asctime);
    if (*rc)
        return NULL;
    size_t format_size = strlen (format) + 1;
    size_t size = sizeof (zx__log_format_t) + count * sizeof (s_piece_t)
                + text_size + format_size;
    zx__log_format_t *self = (zx__log_format_t *) calloc (1, size);
    if (!self) {
        *rc = ZX_ENOMEM;
        return NULL;
    }
    s_piece_t *pieces = (s_piece_t *) (self + 1);
    char *text = (char *) (pieces + count);
    char *format_copy = text + text_size;
    memcpy (format_copy, format, format_size);
    //  The second pass cannot fail: it parses what the first one accepted
    s_parse (format_copy, pieces, text, &self->count, &text_size,
             &self->has_asctime);
    self->text = format_copy;
    self->pieces = pieces;
    return self;
}

const zx__log_format_t *
zx__log_format_default (void)
{
    return &s_default_format;
}

const char *
zx__log_format_text (const zx__log_format_t *self)
{
    return self->text;
}


/*  ---------------------------------------------------------------------
    A line buffer: on the stack until it outgrows it                      */

void
zx__log_buf_init (zx__log_buf_t *self, char *stack, size_t capacity)
{
    self->data = stack;
    self->size = 0;
    self->capacity = capacity;
    self->heap = false;
    self->full = false;
}

void
zx__log_buf_fini (zx__log_buf_t *self)
{
    if (self->heap)
        free (self->data);
}

//  Makes room for size more bytes plus one spare (for a '\n' or vsnprintf's
//  NUL). Returns false, and marks the buffer full, when out of memory.
static bool
s_buf_reserve (zx__log_buf_t *self, size_t size)
{
    if (self->full)
        return false;
    if (self->capacity - self->size > size)
        return true;
    size_t capacity = self->capacity * 2;
    if (capacity < self->size + size + 1)
        capacity = self->size + size + 1;
    char *data = self->heap? (char *) realloc (self->data, capacity)
                           : (char *) malloc (capacity);
    if (!data) {
        self->full = true;
        return false;
    }
    if (!self->heap)
        memcpy (data, self->data, self->size);
    self->data = data;
    self->capacity = capacity;
    self->heap = true;
    return true;
}

static void
s_buf_append (zx__log_buf_t *self, const char *data, size_t size)
{
    if (s_buf_reserve (self, size)) {
        memcpy (self->data + self->size, data, size);
        self->size += size;
    }
}

static void
s_buf_fill (zx__log_buf_t *self, char c, size_t count)
{
    if (count && s_buf_reserve (self, count)) {
        memset (self->data + self->size, c, count);
        self->size += count;
    }
}

void
zx__log_buf_vprintf (zx__log_buf_t *self, const char *format, va_list args)
{
    va_list copy;
    va_copy (copy, args);
    int size = vsnprintf (self->data, self->capacity, format, copy);
    va_end (copy);
    if (size < 0)
        size = 0;                   //  Encoding error: an empty message
    else
    if ((size_t) size >= self->capacity) {
        if (s_buf_reserve (self, (size_t) size)) {
            va_copy (copy, args);
            vsnprintf (self->data, self->capacity, format, copy);
            va_end (copy);
        }
        else
            size = (int) self->capacity - 1;
    }
    self->size = (size_t) size;
}


/*  ---------------------------------------------------------------------
    Rendering a record                                                    */

//  Counts the characters (UTF-8 code points) in data, as Python's widths
//  and precisions count them.
static size_t
s_chars (const char *data, size_t size)
{
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        if (((unsigned char) data [i] & 0xC0) != 0x80)
            count++;
    return count;
}

//  Appends a string field with the piece's precision and width.
static void
s_put_str (zx__log_buf_t *buf, const s_piece_t *piece, const char *data,
           size_t size)
{
    size_t chars = s_chars (data, size);
    if (piece->precision >= 0 && chars > (size_t) piece->precision) {
        //  Cut before character number precision
        size_t keep = 0, i = 0;
        for (; i < size; i++)
            if (((unsigned char) data [i] & 0xC0) != 0x80
            &&  keep++ == (size_t) piece->precision)
                break;
        size = i;
        chars = (size_t) piece->precision;
    }
    size_t width = (size_t) piece->width;
    size_t pad = width > chars? width - chars: 0;
    if (!piece->left)
        s_buf_fill (buf, ' ', pad);
    s_buf_append (buf, data, size);
    if (piece->left)
        s_buf_fill (buf, ' ', pad);
}

//  Appends a number field converted with 'd', as printf's %d does it.
static void
s_put_int (zx__log_buf_t *buf, const s_piece_t *piece, long long value)
{
    char digits [24];
    unsigned long long magnitude = value < 0? 0ull - (unsigned long long) value
                                            : (unsigned long long) value;
    size_t ndigits = 0;
    do {
        digits [sizeof (digits) - ++ndigits] = (char) ('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    const char *sign = value < 0? "-": piece->plus? "+": piece->space? " ": "";
    size_t nsign = strlen (sign);
    size_t precision = piece->precision > 0? (size_t) piece->precision: 0;
    size_t zeros = precision > ndigits? precision - ndigits: 0;
    size_t total = nsign + zeros + ndigits;
    size_t width = (size_t) piece->width;
    size_t pad = width > total? width - total: 0;
    if (!piece->left && piece->zero && piece->precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!piece->left)
        s_buf_fill (buf, ' ', pad);
    s_buf_append (buf, sign, nsign);
    s_buf_fill (buf, '0', zeros);
    s_buf_append (buf, digits + sizeof (digits) - ndigits, ndigits);
    if (piece->left)
        s_buf_fill (buf, ' ', pad);
}

//  Appends a number field, converted with 's' or 'd'.
static void
s_put_number (zx__log_buf_t *buf, const s_piece_t *piece, long long value)
{
    if (piece->numeric)
        s_put_int (buf, piece, value);
    else {
        char text [24];
        int size = snprintf (text, sizeof (text), "%lld", value);
        s_put_str (buf, piece, text, (size_t) size);
    }
}

//  Returns the level's name as Python's getLevelName does, using scratch
//  for levels without one.
static const char *
s_level_name (int level, char *scratch, size_t size)
{
    switch (level) {
        case ZX_LOG_DEBUG:      return "DEBUG";
        case ZX_LOG_INFO:       return "INFO";
        case ZX_LOG_WARNING:    return "WARNING";
        case ZX_LOG_ERROR:      return "ERROR";
        case ZX_LOG_CRITICAL:   return "CRITICAL";
        case 0:                 return "NOTSET";
    }
    snprintf (scratch, size, "Level %d", level);
    return scratch;
}

//  Writes Python's default asctime, "2026-11-25 13:01:02,123" in local
//  time, into text (at least 32 bytes).
static void
s_asctime (char *text, size_t size)
{
    struct timespec now;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &now);
    time_t seconds = now.tv_sec;
    if (!localtime_r (&seconds, &tm)) {
        snprintf (text, size, "?");
        return;
    }
    size_t used = strftime (text, size, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf (text + used, size - used, ",%03d",
              (int) (now.tv_nsec / 1000000));
}

void
zx__log_format_render (const zx__log_format_t *format, const zx__log_record_t *record,
                       zx__log_buf_t *line)
{
    char asctime [32] = "";
    if (format->has_asctime)
        s_asctime (asctime, sizeof (asctime));
    char scratch [32];
    const char *levelname = s_level_name ((int) record->level, scratch, sizeof (scratch));
    for (size_t index = 0; index < format->count; index++) {
        const s_piece_t *piece = &format->pieces [index];
        const char *text = NULL;
        switch (piece->kind) {
            case S_LITERAL:
                s_buf_append (line, piece->text, piece->size);
                break;
            case S_NAME:
                text = record->name;
                break;
            case S_MESSAGE:
                s_put_str (line, piece, record->message, record->message_size);
                break;
            case S_LEVELNAME:
                text = levelname;
                break;
            case S_LEVELNO:
                s_put_number (line, piece, (long long) record->level);
                break;
            case S_THREADNAME:
                text = zx_thread_name ();
                break;
            case S_PROCESS:
                s_put_number (line, piece, (long long) getpid ());
                break;
            case S_ASCTIME:
                text = asctime;
                break;
        }
        if (text)
            s_put_str (line, piece, text, strlen (text));
    }
    //  s_buf_reserve always leaves one spare byte, even when full
    line->data [line->size++] = '\n';
}
