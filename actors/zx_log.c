/*  zx_log.c - Python-style named loggers.

    DESIGN: the configuration (level, format) is compiled once, in
    zx_log_basic_config, into an immutable list of pieces (literal text or
    a field with its flags, width and precision) and published through one
    atomic pointer. A record loads that pointer, checks the level, and
    renders every piece into a single buffer (on the stack, moved to the
    heap only for long lines) that ends in '\n' and leaves in one write(2).
    One write per record is what keeps lines from many threads and
    processes whole: on Linux, writes to a regular file through an
    inherited or O_APPEND descriptor do not mix, and the kernel never
    splits a pipe write of up to PIPE_BUF bytes (4096). A longer line into
    a pipe, socket or terminal may be split, so there every record is
    written under a lock: a mutex among the process's threads and a POSIX
    record lock (fcntl) on the file among processes, which holds even for
    the descriptor that process workers inherit (flock would not: it
    belongs to the open file, which they share). A writer waits for that
    lock at most S_LOCK_WAIT_MS, then writes anyway: a process stopped
    (SIGSTOP) while it holds the lock must not stop everyone's logging.
    Configurations that are replaced are never freed, since a record on
    another thread may still be reading one; they stay chained to the
    current one, tiny and rare.

    Loggers are only names: each lives in a mutex-guarded hash table until
    the process exits, so zx_log_get hands out the same pointer for the
    same name. Thread names are thread-local and assigned on first use.   */
#define _GNU_SOURCE
#include "zx_log.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#if defined (__linux__)
#   include <sys/syscall.h>
#elif defined (__FreeBSD__) || defined (__OpenBSD__)
#   include <pthread_np.h>
#endif

struct zx_logger {
    zx_logger_t *next;          //  Next logger in the same hash bucket
    const char *name;           //  Logger name (points at storage or static)
    char storage [];            //  Name of a logger made by zx_log_get
};

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

typedef struct s_config {
    zx_log_level_t level;       //  Records below this level are dropped
    const char *format;         //  Format as given (for process workers)
    const s_piece_t *pieces;    //  Compiled format
    size_t count;               //  Number of pieces
    bool has_asctime;           //  Whether a record needs the clock
    struct s_config *prev;      //  Replaced configuration, kept alive
} s_config_t;

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

#define S_DEFAULT_FORMAT    "%(levelname)s:%(name)s:%(message)s"
#define S_MAX_WIDTH         65536   //  Largest width or precision accepted
#define S_LINE_STACK        1024    //  Line bytes formatted on the stack
#define S_MESSAGE_STACK     512     //  Message bytes formatted on the stack
#define S_BUCKETS           256     //  Logger hash buckets
#define S_THREAD_NAME_MAX   64      //  Thread name bytes, with the NUL

//  Python's root logger before basicConfig: WARNING, the BASIC_FORMAT.
static const s_piece_t s_default_pieces [] = {
    { S_LEVELNAME, NULL, 0, false, false, false, false, false, 0, -1 },
    { S_LITERAL,   ":",  1, false, false, false, false, false, 0, -1 },
    { S_NAME,      NULL, 0, false, false, false, false, false, 0, -1 },
    { S_LITERAL,   ":",  1, false, false, false, false, false, 0, -1 },
    { S_MESSAGE,   NULL, 0, false, false, false, false, false, 0, -1 }
};
static s_config_t s_default_config = {
    ZX_LOG_WARNING, S_DEFAULT_FORMAT, s_default_pieces,
    sizeof (s_default_pieces) / sizeof (s_default_pieces [0]), false, NULL
};

static _Atomic (s_config_t *) s_config = &s_default_config;
static pthread_mutex_t s_config_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int s_fd = STDERR_FILENO;
static atomic_int s_fd_locks = -1;          //  s_fd needs the lock: -1 unknown
static pthread_mutex_t s_write_lock = PTHREAD_MUTEX_INITIALIZER;
#define S_LOCK_WAIT_MS 50

static zx_logger_t *s_buckets [S_BUCKETS];
static pthread_mutex_t s_loggers_lock = PTHREAD_MUTEX_INITIALIZER;
static zx_logger_t s_root = { NULL, "root" };

static atomic_uint s_thread_counter = 1;
static _Thread_local char s_thread_name [S_THREAD_NAME_MAX];
static _Thread_local bool s_thread_named;


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

//  Compiles format into a new configuration (one allocation), or returns
//  NULL and sets *rc.
static s_config_t *
s_config_new (zx_log_level_t level, const char *format, zx_err_t *rc)
{
    size_t count, text_size;
    bool has_asctime;
    *rc = s_parse (format, NULL, NULL, &count, &text_size, &has_asctime);
    if (*rc)
        return NULL;
    size_t format_size = strlen (format) + 1;
    size_t size = sizeof (s_config_t) + count * sizeof (s_piece_t)
                + text_size + format_size;
    s_config_t *self = (s_config_t *) calloc (1, size);
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
    self->level = level;
    self->format = format_copy;
    self->pieces = pieces;
    return self;
}

zx_err_t
zx_log_basic_config (zx_log_level_t level, const char *format)
{
    if (!format)
        format = S_DEFAULT_FORMAT;
    else
    if (*format == 0)
        format = "%(message)s";     //  As Python's Formatter ("")
    zx_err_t rc;
    s_config_t *config = s_config_new (level, format, &rc);
    if (!config)
        return rc;
    pthread_mutex_lock (&s_config_lock);
    config->prev = atomic_load (&s_config);
    atomic_store (&s_config, config);
    pthread_mutex_unlock (&s_config_lock);
    return ZX_OK;
}

const char *
zx__log_format (void)
{
    return atomic_load (&s_config)->format;
}

zx_log_level_t
zx__log_level (void)
{
    return atomic_load (&s_config)->level;
}

int
zx_log_set_fd (int fd)
{
    atomic_store (&s_fd_locks, -1);
    return atomic_exchange (&s_fd, fd);
}


/*  ---------------------------------------------------------------------
    Loggers                                                               */

static size_t
s_hash (const char *name)
{
    uint32_t hash = 2166136261u;        //  FNV-1a
    for (const unsigned char *p = (const unsigned char *) name; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash % S_BUCKETS;
}

zx_logger_t *
zx_log_get (const char *name)
{
    //  As Python's getLogger: no name, "" and "root" all mean the root
    if (!name || *name == 0 || strcmp (name, "root") == 0)
        return &s_root;

    size_t bucket = s_hash (name);
    pthread_mutex_lock (&s_loggers_lock);
    zx_logger_t *self = s_buckets [bucket];
    while (self && strcmp (self->name, name) != 0)
        self = self->next;
    if (!self) {
        size_t size = strlen (name) + 1;
        self = (zx_logger_t *) malloc (sizeof (zx_logger_t) + size);
        if (self) {
            memcpy (self->storage, name, size);
            self->name = self->storage;
            self->next = s_buckets [bucket];
            s_buckets [bucket] = self;
        }
    }
    pthread_mutex_unlock (&s_loggers_lock);
    return self;
}

zx_logger_t *
zx_log_getf (const char *format, ...)
{
    if (!format)
        return zx_log_get (NULL);
    char stack [256];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (stack, sizeof (stack), format, args);
    va_end (args);
    if (size < 0)
        return NULL;
    if ((size_t) size < sizeof (stack))
        return zx_log_get (stack);

    char *name = (char *) malloc ((size_t) size + 1);
    if (!name)
        return NULL;
    va_start (args, format);
    vsnprintf (name, (size_t) size + 1, format, args);
    va_end (args);
    zx_logger_t *self = zx_log_get (name);
    free (name);
    return self;
}


/*  ---------------------------------------------------------------------
    Thread names                                                          */

static bool
s_is_main_thread (void)
{
#if defined (__linux__)
    return (pid_t) syscall (SYS_gettid) == getpid ();
#elif defined (__APPLE__) || defined (__FreeBSD__) || defined (__OpenBSD__)
    return pthread_main_np () == 1;
#else
    return false;
#endif
}

const char *
zx_thread_name (void)
{
    if (!s_thread_named) {
        if (s_is_main_thread ())
            strcpy (s_thread_name, "MainThread");
        else
            snprintf (s_thread_name, sizeof (s_thread_name), "Thread-%u",
                      atomic_fetch_add (&s_thread_counter, 1));
        s_thread_named = true;
    }
    return s_thread_name;
}

void
zx_thread_set_name (const char *name)
{
    if (!name)
        return;
    size_t size = strlen (name);
    if (size > S_THREAD_NAME_MAX - 1) {
        size = S_THREAD_NAME_MAX - 1;
        //  Do not cut a UTF-8 character in two
        while (size > 0 && ((unsigned char) name [size] & 0xC0) == 0x80)
            size--;
    }
    memcpy (s_thread_name, name, size);
    s_thread_name [size] = 0;
    s_thread_named = true;
}


/*  ---------------------------------------------------------------------
    A line buffer: on the stack until it outgrows it                      */

typedef struct {
    char *data;
    size_t size;                //  Bytes used
    size_t capacity;            //  Bytes allocated
    bool heap;                  //  Whether data was malloc'd
    bool full;                  //  Out of memory: further appends dropped
} s_buf_t;

static void
s_buf_init (s_buf_t *self, char *stack, size_t capacity)
{
    self->data = stack;
    self->size = 0;
    self->capacity = capacity;
    self->heap = false;
    self->full = false;
}

static void
s_buf_fini (s_buf_t *self)
{
    if (self->heap)
        free (self->data);
}

//  Makes room for size more bytes plus one spare (for a '\n' or vsnprintf's
//  NUL). Returns false, and marks the buffer full, when out of memory.
static bool
s_buf_reserve (s_buf_t *self, size_t size)
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
s_buf_append (s_buf_t *self, const char *data, size_t size)
{
    if (s_buf_reserve (self, size)) {
        memcpy (self->data + self->size, data, size);
        self->size += size;
    }
}

static void
s_buf_fill (s_buf_t *self, char c, size_t count)
{
    if (count && s_buf_reserve (self, count)) {
        memset (self->data + self->size, c, count);
        self->size += count;
    }
}

//  Formats a printf message into an empty buffer. When out of memory the
//  message stays cut at the buffer's size.
static void
s_buf_vprintf (s_buf_t *self, const char *format, va_list args)
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
s_put_str (s_buf_t *buf, const s_piece_t *piece, const char *data,
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
s_put_int (s_buf_t *buf, const s_piece_t *piece, long long value)
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
s_put_number (s_buf_t *buf, const s_piece_t *piece, long long value)
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

//  Writes all of data to fd, retrying on partial writes and signals. A
//  record that cannot be written is dropped: logging never fails a caller.
static void
s_write_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t rc = write (fd, data, size);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        data += rc;
        size -= (size_t) rc;
    }
}

//  Takes (F_WRLCK) or drops (F_UNLCK) the record lock on fd; taking it
//  gives up after S_LOCK_WAIT_MS. Returns true if the lock is held.
static bool
s_file_lock (int fd, short type)
{
    struct flock lock = { .l_type = type, .l_whence = SEEK_SET };
    for (int waited_us = 0; waited_us < S_LOCK_WAIT_MS * 1000; waited_us += 200) {
        if (fcntl (fd, F_SETLK, &lock) == 0)
            return true;
        if (type == F_UNLCK || (errno != EAGAIN && errno != EACCES && errno != EINTR))
            return false;           //  No locks on this file: write without
        nanosleep (&(struct timespec) { 0, 200 * 1000 }, NULL);
    }
    return false;
}

//  Writes one whole record to fd (see DESIGN above)
static void
s_emit (int fd, const char *data, size_t size)
{
    int locks = atomic_load (&s_fd_locks);
    if (locks < 0) {
        struct stat info;
        locks = fstat (fd, &info) == 0 && !S_ISREG (info.st_mode);
        atomic_store (&s_fd_locks, locks);
    }
    if (!locks) {
        s_write_all (fd, data, size);
        return;
    }
    int saved_cancel;
    pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, &saved_cancel);
    pthread_mutex_lock (&s_write_lock);
    bool held = s_file_lock (fd, F_WRLCK);
    s_write_all (fd, data, size);
    if (held)
        s_file_lock (fd, F_UNLCK);
    pthread_mutex_unlock (&s_write_lock);
    pthread_setcancelstate (saved_cancel, NULL);
}

void
zx_logv (zx_logger_t *logger, zx_log_level_t level, const char *format,
         va_list args)
{
    const s_config_t *config = atomic_load (&s_config);
    if ((int) level < (int) config->level)
        return;
    int saved_errno = errno;        //  Callers may log, then read errno
    if (!logger)
        logger = &s_root;

    char message_stack [S_MESSAGE_STACK];
    s_buf_t message;
    s_buf_init (&message, message_stack, sizeof (message_stack));
    if (format)
        s_buf_vprintf (&message, format, args);

    char asctime [32] = "";
    if (config->has_asctime)
        s_asctime (asctime, sizeof (asctime));
    char scratch [32];
    const char *levelname = s_level_name ((int) level, scratch, sizeof (scratch));

    char line_stack [S_LINE_STACK];
    s_buf_t line;
    s_buf_init (&line, line_stack, sizeof (line_stack));
    for (size_t index = 0; index < config->count; index++) {
        const s_piece_t *piece = &config->pieces [index];
        const char *text = NULL;
        switch (piece->kind) {
            case S_LITERAL:
                s_buf_append (&line, piece->text, piece->size);
                break;
            case S_NAME:
                text = logger->name;
                break;
            case S_MESSAGE:
                s_put_str (&line, piece, message.data, message.size);
                break;
            case S_LEVELNAME:
                text = levelname;
                break;
            case S_LEVELNO:
                s_put_number (&line, piece, (long long) level);
                break;
            case S_THREADNAME:
                text = zx_thread_name ();
                break;
            case S_PROCESS:
                s_put_number (&line, piece, (long long) getpid ());
                break;
            case S_ASCTIME:
                text = asctime;
                break;
        }
        if (text)
            s_put_str (&line, piece, text, strlen (text));
    }
    //  s_buf_reserve always leaves one spare byte, even when full
    line.data [line.size++] = '\n';
    s_emit (atomic_load (&s_fd), line.data, line.size);

    s_buf_fini (&line);
    s_buf_fini (&message);
    errno = saved_errno;
}

void
zx_log (zx_logger_t *logger, zx_log_level_t level, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    zx_logv (logger, level, format, args);
    va_end (args);
}
