/*  zexec/progress.h - progress over a set of futures: counts, rate, ETA.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_PROGRESS_H_INCLUDED
#define ZEXEC_PROGRESS_H_INCLUDED

#include "zexec/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Progress for long jobs

    A progress counts work as it finishes (futures it watches, or counts
    given to it) and draws it: on a terminal, one line redrawn in place
    (a bar, the percentage, done of total, failures, the rate and an
    ETA); anywhere else, a plain line each time another tenth of the work
    is done, so a log file gets ten lines, not thousands.

        zx_progress_t *progress = zx_progress_new ("primes", tasks, NULL);
        ... zx_progress_watch (progress, future) for each task ...
        ... run the loop ...
        zx_progress_finish (progress);
        zx_progress_destroy (&progress);

    The rate is what finished per second over the last few seconds (all
    of the run until then), and the ETA is what is left at that rate.    */

typedef struct zx_progress zx_progress_t;

typedef struct {
    //  Where to draw: a file descriptor the caller keeps open. 0 means
    //  stderr (2); -1 draws nothing (for a caller that reads the counts
    //  with zx_progress_stats and shows them its own way).
    int fd;
    //  1: draw as on a terminal (one line redrawn in place); -1: plain
    //  lines; 0, the default: a terminal when isatty (fd) says so.
    int tty;
    //  On a terminal, the least time between two redraws in ms (0: 100).
    int interval_ms;
    //  Plain lines: one each time this many percent more is done (0: 10).
    int step_percent;
    //  Width of the bar in characters (0: 30).
    int width;
} zx_progress_opts_t;

typedef struct {
    int64_t total;          //  As given to zx_progress_new or set_total
    int64_t done;           //  Finished in any way: ok, failed or cancelled
    int64_t failed;         //  Of done: failed (not cancelled)
    int64_t cancelled;      //  Of done: cancelled
    double elapsed_s;       //  Since zx_progress_new
    double rate;            //  Finished per second, recently; 0 before any
    double eta_s;           //  Seconds left at that rate; -1 when unknown
} zx_progress_stats_t;

//  Creates a progress over total units of work (0 or more; set_total may
//  change it) named label (copied; NULL or "" for none), drawing as opts
//  says (NULL: the defaults above). The clock starts now. Caller owns the
//  progress; NULL when out of memory.
ZX_EXPORT zx_progress_t *zx_progress_new (const char *label, int64_t total,
                                          const zx_progress_opts_t *opts);

//  Sets the total (for work whose size becomes known as it goes).
//  Thread-safe.
ZX_EXPORT void zx_progress_set_total (zx_progress_t *self, int64_t total);

//  Counts future when it finishes: one done, and one failed or cancelled
//  when it ends so, then redraws if it is time. It adds a done callback,
//  so the counting runs on the future's loop; the future stays the
//  caller's, and the progress lives on until every future it watches has
//  finished or been destroyed, even after zx_progress_destroy. Returns
//  ZX_OK, ZX_EINVAL (NULL future) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_progress_watch (zx_progress_t *self, zx_future_t *future);

//  Counts done more units of work, failed of them failed, and redraws if
//  it is time. For work that is not a future. Thread-safe.
ZX_EXPORT void zx_progress_add (zx_progress_t *self, int64_t done, int64_t failed);

//  Fills *stats with the counts so far. Thread-safe.
ZX_EXPORT void zx_progress_stats (zx_progress_t *self, zx_progress_stats_t *stats);

//  Draws the last state (on a terminal the line is then ended with a
//  newline; plain output gets a last line unless the last step already
//  said 100%). Later counts are still kept but not drawn. Thread-safe.
ZX_EXPORT void zx_progress_finish (zx_progress_t *self);

//  Drops the caller's progress; accepts NULL and nulls the caller's
//  pointer. Futures still watched keep it alive until they finish; it
//  draws nothing more.
ZX_EXPORT void zx_progress_destroy (zx_progress_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
