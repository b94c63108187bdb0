/*  zx_log_format.h - internal: a logging format, compiled and rendered.

    A format is Python logging's: literal text ("%%" for a '%') and
    fields such as %(name)s or %(process)-8d, with printf's flags, width
    and precision, counted in characters as Python counts them. It is
    compiled once into pieces, and each record is rendered from them
    into a line buffer that stays on the stack until it outgrows it.
    zx_log.c keeps the configuration and writes the lines.              */
#ifndef ZX_LOG_FORMAT_H_INCLUDED
#define ZX_LOG_FORMAT_H_INCLUDED
#include "zexec.h"
#include <stdarg.h>

//  Python's BASIC_FORMAT, the format of a logger nobody configured
#define ZX__LOG_DEFAULT_FORMAT  "%(levelname)s:%(name)s:%(message)s"

typedef struct zx__log_format zx__log_format_t;

//  Compiles format into a new compiled format (one allocation, freed with
//  free), which keeps its own copy of the text. Returns NULL with *rc set
//  to ZX_EINVAL (a field that does not exist, a conversion it has not, a
//  lone '%', a width or precision over 65536, or no field at all, as
//  Python's Formatter refuses) or ZX_ENOMEM.
zx__log_format_t *zx__log_format_compile (const char *format, zx_err_t *rc);

//  Returns ZX__LOG_DEFAULT_FORMAT compiled, static.
const zx__log_format_t *zx__log_format_default (void);

//  Returns the format's text, as it was given.
const char *zx__log_format_text (const zx__log_format_t *self);

//  A line buffer: data is the caller's stack block until a line outgrows
//  it, then the heap. Out of memory, appends are dropped (full), and one
//  spare byte always stays for a last '\n'.
typedef struct {
    char *data;
    size_t size;                //  Bytes used
    size_t capacity;            //  Bytes allocated
    bool heap;                  //  Whether data was malloc'd
    bool full;                  //  Out of memory: further appends dropped
} zx__log_buf_t;

//  Starts an empty buffer over stack (capacity bytes); fini frees what
//  it took from the heap.
void zx__log_buf_init (zx__log_buf_t *self, char *stack, size_t capacity);
void zx__log_buf_fini (zx__log_buf_t *self);

//  Formats a printf message into an empty buffer. When out of memory the
//  message stays cut at the buffer's size.
void zx__log_buf_vprintf (zx__log_buf_t *self, const char *format, va_list args);

//  What a record says: its logger's name, its level and its message.
typedef struct {
    const char *name;
    zx_log_level_t level;
    const char *message;        //  message_size bytes, not terminated
    size_t message_size;
} zx__log_record_t;

//  Renders record into line as format says, ended by a '\n': the thread
//  name, process id and time are this thread's, this process's and now.
void zx__log_format_render (const zx__log_format_t *format, const zx__log_record_t *record,
                            zx__log_buf_t *line);

#endif
