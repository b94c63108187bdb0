/*  zx_log.c - Python-style named loggers: configuration, names, writing.

    DESIGN: the configuration (level, format) is compiled once, in
    zx_log_basic_config, into an immutable block (zx_log_format.c, which
    also renders each record) and published through one atomic pointer. A
    record loads that pointer, checks the level, and has its line rendered
    into a single buffer (on the stack, moved to the heap only for long
    lines) that ends in '\n' and leaves in one write(2).
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
#include "zx_log_format.h"
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

typedef struct s_config {
    zx_log_level_t level;       //  Records below this level are dropped
    const zx__log_format_t *format;     //  Compiled format; NULL: the default
    struct s_config *prev;      //  Replaced configuration, kept alive
} s_config_t;

#define S_LINE_STACK        1024    //  Line bytes formatted on the stack
#define S_MESSAGE_STACK     512     //  Message bytes formatted on the stack
#define S_BUCKETS           256     //  Logger hash buckets
#define S_THREAD_NAME_MAX   64      //  Thread name bytes, with the NUL

//  Python's root logger before basicConfig: WARNING, the BASIC_FORMAT.
static s_config_t s_default_config = { ZX_LOG_WARNING, NULL, NULL };

static _Atomic (s_config_t *) s_config = &s_default_config;
static pthread_mutex_t s_config_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int s_fd = STDERR_FILENO;
static atomic_int s_fd_locks = -1;          //  s_fd needs the lock: -1 unknown
static pthread_mutex_t s_write_lock = PTHREAD_MUTEX_INITIALIZER;
#define S_LOCK_WAIT_MS 500

static zx_logger_t *s_buckets [S_BUCKETS];
static pthread_mutex_t s_loggers_lock = PTHREAD_MUTEX_INITIALIZER;
static zx_logger_t s_root = { NULL, "root" };

static atomic_uint s_thread_counter = 1;
static _Thread_local char s_thread_name [S_THREAD_NAME_MAX];
static _Thread_local bool s_thread_named;


/*  ---------------------------------------------------------------------
    Configuration                                                         */

//  The compiled format of a configuration
static const zx__log_format_t *
s_format (const s_config_t *config)
{
    return config->format ? config->format : zx__log_format_default ();
}

zx_err_t
zx_log_basic_config (zx_log_level_t level, const char *format)
{
    if (!format)
        format = ZX__LOG_DEFAULT_FORMAT;
    else
    if (*format == 0)
        format = "%(message)s";     //  As Python's Formatter ("")
    zx_err_t rc;
    zx__log_format_t *compiled = zx__log_format_compile (format, &rc);
    s_config_t *config = compiled ? (s_config_t *) calloc (1, sizeof (s_config_t)) : NULL;
    if (!config) {
        free (compiled);
        return compiled ? ZX_ENOMEM : rc;
    }
    config->level = level;
    config->format = compiled;
    pthread_mutex_lock (&s_config_lock);
    config->prev = atomic_load (&s_config);
    atomic_store (&s_config, config);
    pthread_mutex_unlock (&s_config_lock);
    return ZX_OK;
}

const char *
zx__log_format (void)
{
    return zx__log_format_text (s_format (atomic_load (&s_config)));
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
    //  Not the main thread's: the kernel shows it as the process's name
    //  (ps, pkill, systemd), which stays the program's
    if (!s_is_main_thread ())
        zx__thread_set_os_name (s_thread_name);
}

void
zx__thread_set_os_name (const char *name)
{
#if defined (__linux__)
    //  The kernel keeps 15 bytes: a longer name keeps its head and its
    //  last "-part" ("ThreadPoolExecutor-0_3" becomes "ThreadPoolE-0_3"),
    //  so that threads of one pool stay apart in top -H and ps -L
    char os_name [16];
    size_t size = strlen (name);
    if (size < sizeof os_name)
        memcpy (os_name, name, size + 1);
    else {
        const char *tail = strrchr (name, '-');
        size_t tail_size = tail ? strlen (tail) : 0;
        if (tail_size == 0 || tail_size > 8)
            tail_size = 0;
        size_t head = sizeof os_name - 1 - tail_size;
        while (head > 0 && ((unsigned char) name [head] & 0xC0) == 0x80)
            head--;
        memcpy (os_name, name, head);
        memcpy (os_name + head, tail ? tail : "", tail_size);
        os_name [head + tail_size] = 0;
    }
    pthread_setname_np (pthread_self (), os_name);
#else
    (void) name;
#endif
}


/*  ---------------------------------------------------------------------
    Writing a record                                                      */

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
    zx__log_buf_t message;
    zx__log_buf_init (&message, message_stack, sizeof (message_stack));
    if (format)
        zx__log_buf_vprintf (&message, format, args);

    char line_stack [S_LINE_STACK];
    zx__log_buf_t line;
    zx__log_buf_init (&line, line_stack, sizeof (line_stack));
    zx__log_record_t record = { logger->name, level, message.data, message.size };
    zx__log_format_render (s_format (config), &record, &line);
    s_emit (atomic_load (&s_fd), line.data, line.size);

    zx__log_buf_fini (&line);
    zx__log_buf_fini (&message);
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
