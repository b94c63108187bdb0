/*  zx_log.h - internal: logger configuration that process workers inherit. */
#ifndef ZX_LOG_H_INCLUDED
#define ZX_LOG_H_INCLUDED
#include "zexec.h"

//  Returns the current format (borrowed; stable until the next
//  zx_log_basic_config) and level, so a process pool can pass them to
//  the workers it starts.
const char *zx__log_format (void);
zx_log_level_t zx__log_level (void);

//  Names the calling thread for the kernel (top -H, ps -L, perf, gdb):
//  the name, shortened to 15 bytes when longer. zx_thread_set_name calls
//  it; threads that never log (the flusher) call it directly.
void zx__thread_set_os_name (const char *name);

#endif
