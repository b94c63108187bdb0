/*  zx_ratelog.h - internal: warnings about peers, rate-limited per peer
    and per kind, with a count of what was held back.

    A hostile or broken peer can send a malformed message for every byte
    it sends; a log line for each would cost far more than the message.
    Each (peer, kind) pair may log `burst` lines per period; what passes
    that is counted, and once its period is over one line says how many
    were held back ("... and 19,990 more from PEER in 10 s"). A budget
    over all pairs bounds a flood from many peers at once, and the table
    of pairs is bounded too: past it, the pair seen least recently is
    forgotten (after its summary).                                      */
#ifndef ZX_RATELOG_H_INCLUDED
#define ZX_RATELOG_H_INCLUDED
#include "zexec.h"

typedef struct zx__ratelog zx__ratelog_t;

//  Creates a limiter logging to log: burst lines per (peer, kind) per
//  period_ms, at most total_burst lines per period over all pairs, and
//  at most max_pairs pairs remembered. NULL when out of memory.
zx__ratelog_t *zx__ratelog_new (zx_logger_t *log, int burst, int64_t period_ms,
                                int total_burst, size_t max_pairs);

//  Writes the summaries still owed, then frees the limiter; accepts NULL.
void zx__ratelog_destroy (zx__ratelog_t **self_p);

//  Logs one line about peer (a printable label) of kind (a short constant
//  such as "malformed") at level, unless its pair or the total passed its
//  burst in this period; then counts it. Returns true when it logged.
bool zx__ratelog (zx__ratelog_t *self, zx_log_level_t level, const char *peer,
                  const char *kind, const char *format, ...) ZX_PRINTF (5, 6);

//  Logs one line about peer of kind at level the first time only, for as
//  long as the pair is remembered (say a peer speaks another protocol
//  once). Returns true when it logged.
bool zx__ratelog_once (zx__ratelog_t *self, zx_log_level_t level, const char *peer,
                       const char *kind, const char *format, ...) ZX_PRINTF (5, 6);

//  Writes the summary of every pair whose period is over and that held
//  lines back, and forgets pairs idle for a period. Call it from a timer
//  (once a second is plenty). Returns how many summaries it wrote.
size_t zx__ratelog_tick (zx__ratelog_t *self);

//  How many lines were held back in all since the limiter was made.
uint64_t zx__ratelog_suppressed (const zx__ratelog_t *self);

#endif
