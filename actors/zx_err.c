/*  zx_err.c - names for error codes.

    DESIGN: one switch over zx_err_t, so the compiler warns (-Wswitch) when
    a code is added to the enum without a name here. The strings are
    constants; nothing is allocated, so zx_strerror is safe from any thread
    and from signal handlers.                                             */
#include "zexec.h"

const char *
zx_strerror (zx_err_t code)
{
    switch (code) {
        case ZX_OK:             return "ok";
        case ZX_EINVAL:         return "invalid argument";
        case ZX_ENOMEM:         return "out of memory";
        case ZX_ETIMEDOUT:      return "timed out";
        case ZX_ECANCELLED:     return "cancelled";
        case ZX_ETASK:          return "task failed";
        case ZX_ENOTASK:        return "no such task";
        case ZX_ETYPE:          return "type error";
        case ZX_EWORKER_LOST:   return "worker lost";
        case ZX_EPROTO:         return "protocol error";
        case ZX_ESHUTDOWN:      return "executor shut down";
        case ZX_EPENDING:       return "pending";
        case ZX_EBUSY:          return "would block inside the running loop";
        case ZX_EQUEUE_FULL:    return "queue full";
        case ZX_ESYS:           return "system error";
        case ZX_EWORKER_INIT:   return "worker initializer failed";
        case ZX_ENOWORKERS:     return "no workers";
        case ZX_EACTOR_STOPPED: return "actor stopped";
    }
    return "unknown error";
}
