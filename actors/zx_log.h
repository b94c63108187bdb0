/*  zx_log.h - internal: logger configuration that process workers inherit. */
#ifndef ZX_LOG_H_INCLUDED
#define ZX_LOG_H_INCLUDED
#include "zexec.h"

//  Returns the current format (borrowed; stable until the next
//  zx_log_basic_config) and level, so a process pool can pass them to
//  the workers it starts.
const char *zx__log_format (void);
zx_log_level_t zx__log_level (void);

#endif
