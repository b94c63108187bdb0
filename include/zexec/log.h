/*  zexec/log.h - Python-style named loggers.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_LOG_H_INCLUDED
#define ZEXEC_LOG_H_INCLUDED

#include "zexec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Logger: Python-style named loggers

    Format fields: %(name)s %(message)s %(levelname)s %(threadName)s
    %(process)s (also %(process)d) %(asctime)s, with optional width and
    left-justification as in %(name)18s or %(name)-18s. Each record is
    written with one write() call; into a pipe, socket or terminal, under
    a lock that the process's threads and zexec's other processes on the
    same file respect (see zx_log.c). Lines from many threads and
    processes therefore never interleave, whatever their length, unless a
    process holds the lock stopped for over 50 ms, after which the others
    write without it.                                                     */

typedef struct zx_logger zx_logger_t;

typedef enum {
    ZX_LOG_DEBUG    = 10,
    ZX_LOG_INFO     = 20,
    ZX_LOG_WARNING  = 30,
    ZX_LOG_ERROR    = 40,
    ZX_LOG_CRITICAL = 50
} zx_log_level_t;

//  Sets the level and the format for all loggers, output to stderr. A NULL
//  format means "%(levelname)s:%(name)s:%(message)s". Process workers
//  started afterwards inherit both. Returns ZX_EINVAL on a malformed format
//  (such as an unknown field), leaving the old configuration in place.
ZX_EXPORT zx_err_t zx_log_basic_config (zx_log_level_t level, const char *format);

//  Sends records to fd instead of stderr (fd stays the caller's). Returns
//  the previous fd.
ZX_EXPORT int zx_log_set_fd (int fd);

//  Returns the logger for name, creating it on first use. Loggers live
//  until the process exits; the caller does not free them. Thread-safe.
//  Returns NULL only when out of memory.
ZX_EXPORT zx_logger_t *zx_log_get (const char *name);

//  Same as zx_log_get with a printf-style name, e.g. ("blocks(%d)", n).
ZX_EXPORT zx_logger_t *zx_log_getf (const char *format, ...) ZX_PRINTF (1, 2);

//  Writes one record at level when level is enabled. Thread-safe. A NULL
//  logger writes as the "root" logger.
ZX_EXPORT void zx_log (zx_logger_t *logger, zx_log_level_t level, const char *format, ...)
              ZX_PRINTF (3, 4);
ZX_EXPORT void zx_logv (zx_logger_t *logger, zx_log_level_t level, const char *format,
                        va_list args);

#define zx_log_debug(lg, ...)    zx_log ((lg), ZX_LOG_DEBUG, __VA_ARGS__)
#define zx_log_info(lg, ...)     zx_log ((lg), ZX_LOG_INFO, __VA_ARGS__)
#define zx_log_warning(lg, ...)  zx_log ((lg), ZX_LOG_WARNING, __VA_ARGS__)
#define zx_log_error(lg, ...)    zx_log ((lg), ZX_LOG_ERROR, __VA_ARGS__)

//  Sets the name that %(threadName)s prints for the calling thread (copied,
//  at most 63 bytes). The thread that first uses zexec is "MainThread" when
//  it is the process's main thread, else "Thread-N". On Linux a thread
//  other than the main one is also named for the kernel (top -H, ps -L,
//  perf, gdb): the name itself up to 15 bytes, else its head cut so that
//  its last "-part" stays ("ThreadPoolExecutor-0_3" shows as
//  "ThreadPoolE-0_3"). The main thread's kernel name stays the program's,
//  which ps and pkill match.
ZX_EXPORT void zx_thread_set_name (const char *name);

//  Returns the calling thread's name (borrowed, thread-local).
ZX_EXPORT const char *zx_thread_name (void);

#ifdef __cplusplus
}
#endif

#endif
