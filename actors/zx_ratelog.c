/*  zx_ratelog.c - warnings about peers, rate-limited per peer and kind.

    DESIGN: a table from "peer / kind" to a small record: the start of its
    current period, the lines logged in it, the lines held back. A line
    goes out while its pair and the whole limiter are under their bursts;
    otherwise it is counted. Held-back counts come out as one summary line
    per pair when its period ends (at its next line or at a tick), and as
    one line for everything the overall budget held back, so a flood from
    ten thousand peers costs a few lines a period, not ten thousand. The
    records sit on a list in order of use, so the table stays bounded by
    forgetting the pair used least recently.                            */

#define _GNU_SOURCE
#include "zx_ratelog.h"
#include "zx_loop.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_pair {
    struct s_pair *prev, *next;     //  On the use list, most recent first
    char *key;                      //  "peer / kind": the table's key
    char *peer, *kind;              //  Point into key's copy
    int64_t period_start_us;
    int64_t last_us;
    uint64_t logged;                //  In this period
    uint64_t held;                  //  In this period
    bool once_done;
} s_pair_t;

struct zx__ratelog {
    zx_logger_t *log;
    int burst;
    int64_t period_us;
    int total_burst;
    size_t max_pairs;
    zhashx_t *pairs;                //  key -> s_pair_t * (not owned)
    s_pair_t *newest, *oldest;
    int64_t total_start_us;
    int total_logged;
    uint64_t total_held;            //  Held by the overall budget, this period
    uint64_t suppressed;            //  Held in all, ever
};

zx__ratelog_t *
zx__ratelog_new (zx_logger_t *log, int burst, int64_t period_ms, int total_burst,
                 size_t max_pairs)
{
    zx__ratelog_t *self = calloc (1, sizeof (zx__ratelog_t));
    if (!self)
        return NULL;
    self->log = log;
    self->burst = burst > 0 ? burst : 1;
    self->period_us = (period_ms > 0 ? period_ms : 1000) * 1000;
    self->total_burst = total_burst > 0 ? total_burst : self->burst;
    self->max_pairs = max_pairs > 0 ? max_pairs : 1;
    self->pairs = zhashx_new ();
    if (!self->pairs) {
        free (self);
        return NULL;
    }
    self->total_start_us = zx__now_us ();
    return self;
}

static void
s_unlink (zx__ratelog_t *self, s_pair_t *pair)
{
    if (pair->prev)
        pair->prev->next = pair->next;
    else
        self->newest = pair->next;
    if (pair->next)
        pair->next->prev = pair->prev;
    else
        self->oldest = pair->prev;
    pair->prev = pair->next = NULL;
}

static void
s_push (zx__ratelog_t *self, s_pair_t *pair)
{
    pair->prev = NULL;
    pair->next = self->newest;
    if (self->newest)
        self->newest->prev = pair;
    self->newest = pair;
    if (!self->oldest)
        self->oldest = pair;
}

//  Says how many lines of a pair's period were held back, if any.
static void
s_summary (zx__ratelog_t *self, s_pair_t *pair, int64_t now)
{
    if (pair->held == 0)
        return;
    double seconds = (double) (now - pair->period_start_us) / 1e6;
    zx_log_warning (self->log, "... and %llu more '%s' from %s in %.*f s",
                    (unsigned long long) pair->held, pair->kind, pair->peer,
                    seconds < 10 ? 1 : 0, seconds);
    pair->held = 0;
}

static void s_free_pair (s_pair_t *pair);

static void
s_forget (zx__ratelog_t *self, s_pair_t *pair, int64_t now)
{
    s_summary (self, pair, now);
    s_unlink (self, pair);
    zhashx_delete (self->pairs, pair->key);
    s_free_pair (pair);
}

//  The overall budget's period: when it is over, say what it held back
static void
s_total_period (zx__ratelog_t *self, int64_t now)
{
    if (now - self->total_start_us < self->period_us)
        return;
    if (self->total_held)
        zx_log_warning (self->log, "... and %llu more warnings about peers held back "
                        "in %.1f s (over %d a period)", (unsigned long long) self->total_held,
                        (double) (now - self->total_start_us) / 1e6, self->total_burst);
    self->total_start_us = now;
    self->total_logged = 0;
    self->total_held = 0;
}

static void
s_free_pair (s_pair_t *pair)
{
    free (pair->peer);
    free (pair->kind);
    free (pair->key);
    free (pair);
}

//  Finds or makes the pair, most recent first; NULL when out of memory.
static s_pair_t *
s_pair (zx__ratelog_t *self, const char *peer, const char *kind, int64_t now)
{
    char *key = zsys_sprintf ("%s / %s", peer, kind);
    if (!key)
        return NULL;
    s_pair_t *pair = zhashx_lookup (self->pairs, key);
    if (pair) {
        zstr_free (&key);
        s_unlink (self, pair);
        s_push (self, pair);
        return pair;
    }
    while (zhashx_size (self->pairs) >= self->max_pairs && self->oldest)
        s_forget (self, self->oldest, now);
    pair = calloc (1, sizeof (s_pair_t));
    if (pair) {
        pair->key = strdup (key);
        pair->peer = strdup (peer);
        pair->kind = strdup (kind);
    }
    zstr_free (&key);
    if (!pair || !pair->key || !pair->peer || !pair->kind) {
        if (pair)
            s_free_pair (pair);
        return NULL;
    }
    pair->period_start_us = now;
    zhashx_insert (self->pairs, pair->key, pair);
    s_push (self, pair);
    return pair;
}

//  Decides whether a line about peer and kind goes out now.
static bool
s_admit (zx__ratelog_t *self, const char *peer, const char *kind, bool once)
{
    int64_t now = zx__now_us ();
    s_total_period (self, now);
    s_pair_t *pair = s_pair (self, peer, kind, now);
    if (!pair)
        return false;
    pair->last_us = now;
    if (once) {
        if (pair->once_done)
            return false;
        pair->once_done = true;
    }
    else {
        if (now - pair->period_start_us >= self->period_us) {
            s_summary (self, pair, now);
            pair->period_start_us = now;
            pair->logged = 0;
        }
        if (pair->logged >= (uint64_t) self->burst) {
            pair->held++;
            self->suppressed++;
            return false;
        }
    }
    if (self->total_logged >= self->total_burst) {
        self->total_held++;
        self->suppressed++;
        return false;
    }
    pair->logged++;
    self->total_logged++;
    return true;
}

//  The two calls below differ only in once.
static bool
s_ratelogv (zx__ratelog_t *self, zx_log_level_t level, const char *peer, const char *kind,
            bool once, const char *format, va_list args) ZX_PRINTF (6, 0);

static bool
s_ratelogv (zx__ratelog_t *self, zx_log_level_t level, const char *peer, const char *kind,
            bool once, const char *format, va_list args)
{
    if (!s_admit (self, peer, kind, once))
        return false;
    zx_logv (self->log, level, format, args);
    return true;
}

bool
zx__ratelog (zx__ratelog_t *self, zx_log_level_t level, const char *peer, const char *kind,
             const char *format, ...)
{
    va_list args;
    va_start (args, format);
    bool logged = s_ratelogv (self, level, peer, kind, false, format, args);
    va_end (args);
    return logged;
}

bool
zx__ratelog_once (zx__ratelog_t *self, zx_log_level_t level, const char *peer,
                  const char *kind, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    bool logged = s_ratelogv (self, level, peer, kind, true, format, args);
    va_end (args);
    return logged;
}

size_t
zx__ratelog_tick (zx__ratelog_t *self)
{
    int64_t now = zx__now_us ();
    size_t written = 0;
    s_total_period (self, now);
    //  From the oldest: pairs idle for a whole period are forgotten, unless
    //  they carry a once-only mark (forgetting it would repeat the line)
    s_pair_t *pair = self->oldest;
    while (pair) {
        s_pair_t *newer = pair->prev;
        if (now - pair->period_start_us >= self->period_us && pair->held) {
            s_summary (self, pair, now);
            pair->period_start_us = now;
            pair->logged = 0;
            written++;
        }
        if (now - pair->last_us >= self->period_us && !pair->once_done) {
            s_unlink (self, pair);
            zhashx_delete (self->pairs, pair->key);
            s_free_pair (pair);
        }
        pair = newer;
    }
    return written;
}

uint64_t
zx__ratelog_suppressed (const zx__ratelog_t *self)
{
    return self->suppressed;
}

void
zx__ratelog_destroy (zx__ratelog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__ratelog_t *self = *self_p;
    int64_t now = zx__now_us ();
    self->total_start_us = now - self->period_us;       //  Say what it held
    s_total_period (self, now);
    while (self->newest) {
        s_pair_t *pair = self->newest;
        s_summary (self, pair, now);
        s_unlink (self, pair);
        s_free_pair (pair);
    }
    zhashx_destroy (&self->pairs);
    free (self);
    *self_p = NULL;
}
