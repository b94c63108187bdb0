/*  testutil_log.h - capturing what the logger writes, for the logger's
    tests (test_zx_log.c, test_zx_log_floods.c): the logger is pointed at
    a pipe drained by a reader thread, so even records larger than the
    pipe's buffer arrive whole. Header-only and static, as pool_cases.h
    is: each test program gets its own copy.                           */
#ifndef ZX_TESTUTIL_LOG_H_INCLUDED
#define ZX_TESTUTIL_LOG_H_INCLUDED

#include "testutil.h"
#include "zx_log.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int read_fd;
    int write_fd;
    int old_fd;
    char *data;
    size_t size;
    size_t capacity;
    pthread_t reader;
} capture_t;

static inline void *
s_capture_reader (void *arg)
{
    capture_t *self = (capture_t *) arg;
    while (true) {
        if (self->capacity - self->size < 65536) {
            self->capacity = self->capacity * 2 + 65536;
            self->data = (char *) realloc (self->data, self->capacity);
            if (!self->data)
                abort ();
        }
        ssize_t rc = read (self->read_fd, self->data + self->size,
                           self->capacity - self->size - 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        self->size += (size_t) rc;
    }
    self->data [self->size] = 0;
    return NULL;
}

static inline void
s_capture_start (capture_t *self)
{
    memset (self, 0, sizeof (*self));
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    self->read_fd = fds [0];
    self->write_fd = fds [1];
    assert_int_equal (pthread_create (&self->reader, NULL, s_capture_reader, self), 0);
    self->old_fd = zx_log_set_fd (self->write_fd);
}

//  Restores the old fd and returns everything logged since the start; the
//  caller frees it.
static inline char *
s_capture_stop (capture_t *self)
{
    assert_int_equal (zx_log_set_fd (self->old_fd), self->write_fd);
    close (self->write_fd);
    pthread_join (self->reader, NULL);
    close (self->read_fd);
    return self->data;
}

//  Counts the lines in text, all of which must end in '\n'.
static inline size_t
s_line_count (const char *text)
{
    size_t count = 0;
    for (const char *p = text; (p = strchr (p, '\n')); p++)
        count++;
    return count;
}

#endif
