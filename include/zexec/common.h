/*  zexec/common.h - the prelude every part shares: versions, export and printf attributes, how the API grows, error codes.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_COMMON_H_INCLUDED
#define ZEXEC_COMMON_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZEXEC_VERSION_MAJOR 0
#define ZEXEC_VERSION_MINOR 1
#define ZEXEC_VERSION_PATCH 0

#if defined(__GNUC__)
#   define ZX_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#   define ZX_PRINTF(f, a)
#endif

//  ZX_DEPRECATED marks a name kept for existing callers: it still works,
//  and the compiler points new code to its replacement.
#if defined(__GNUC__)
#   define ZX_DEPRECATED(why) __attribute__ ((deprecated (why)))
#else
#   define ZX_DEPRECATED(why)
#endif

//  ZX_EXPORT marks the public API: libzexec is built with hidden
//  visibility, so only what this header declares with it is exported from
//  the shared library (as libuv's UV_EXTERN and nng's NNG_DECL do).
#if defined(__GNUC__)
#   define ZX_EXPORT __attribute__ ((visibility ("default")))
#else
#   define ZX_EXPORT
#endif

//  The version this header belongs to, as one number (10000 * major + 100
//  * minor + patch), for compile-time checks.
#define ZEXEC_VERSION \
    (ZEXEC_VERSION_MAJOR * 10000 + ZEXEC_VERSION_MINOR * 100 + ZEXEC_VERSION_PATCH)

//  Returns the version of the library loaded at run time, in the form of
//  ZEXEC_VERSION; when it differs from the header's, the program was built
//  against another release. Sets *major, *minor and *patch when they are
//  not NULL.
ZX_EXPORT int zx_version (int *major, int *minor, int *patch);

//  Returns the library's version as a constant string, such as "0.1.0".
ZX_EXPORT const char *zx_version_string (void);

/*  ---------------------------------------------------------------------
    How the API grows

    - Functions are never removed or changed in a minor release; new ones
      are added.
    - Option structs (zx_executor_opts_t, zx_task_opts_t, ...) only grow at
      their end, and a zero field always means "the default", so a caller
      that zeroes the struct (a designated initializer, `= { 0 }` or
      memset) and sets what it knows keeps its meaning when a later header
      adds fields. The library is told nothing of the struct's size: a
      program built against an older header and run with a newer
      libzexec.so.0 passes a shorter struct, so fields are only added with
      a new soname (libzexec.so.1) before 1.0, and with size-tagged
      variants (zx_THING_new2) after it.
    - zx_err_t values are numbered explicitly and never renumbered; new
      codes take new numbers.                                             */

/*  ---------------------------------------------------------------------
    Errors                                                                */

typedef enum {
    ZX_OK = 0,              //  Numbers are fixed: never renumbered
    ZX_EINVAL = 1,          //  A caller passed a bad argument
    ZX_ENOMEM = 2,          //  Out of memory
    ZX_ETIMEDOUT = 3,       //  A deadline passed
    ZX_ECANCELLED = 4,      //  The future was cancelled
    ZX_ETASK = 5,           //  The task ran and reported failure
    ZX_ENOTASK = 6,         //  No task is registered under that name
    ZX_ETYPE = 7,           //  An argument or result has another type
    ZX_EWORKER_LOST = 8,    //  The worker holding the task died or vanished
    ZX_EPROTO = 9,          //  A malformed or unexpected protocol message
    ZX_ESHUTDOWN = 10,      //  The executor is shut down
    ZX_EPENDING = 11,       //  The future has not finished yet
    ZX_EBUSY = 12,          //  Cannot block here (inside a running loop)
    ZX_EQUEUE_FULL = 13,    //  A bounded queue is full
    ZX_ESYS = 14,           //  A system call failed; the message has errno
    ZX_EWORKER_INIT = 15,   //  A worker's initializer failed
    ZX_ENOWORKERS = 16,     //  No worker serves the service asked for
    ZX_EACTOR_STOPPED = 17, //  The actor has stopped, or is dead for good
} zx_err_t;

//  Returns a short constant description of an error code, such as
//  "worker lost". Never returns NULL.
ZX_EXPORT const char *zx_strerror (zx_err_t code);


#ifdef __cplusplus
}
#endif

#endif
