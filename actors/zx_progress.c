/*  zx_progress.c - progress over a set of futures: counts, rate, ETA.

    DESIGN: counts live under one mutex, so work counted from any thread
    (zx_progress_add) or from futures' done callbacks on a loop lands in
    the same place, and a draw is one formatted line written with one
    write(). The rate comes from a ring of samples (time, done) taken at
    most every S_SAMPLE_US: the rate over the oldest sample in the ring
    follows the work as it speeds up or slows down, which an average over
    the whole run would not. The object is reference counted: each future
    it watches holds a reference until its callback has run, so a caller
    may destroy the progress while futures are still out.               */

#define _GNU_SOURCE
#include "zexec.h"
#include "zx_loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SAMPLES       32          //  The ring of (time, done) samples
#define S_SAMPLE_US     200000      //  At most one sample this often: ~6 s kept
#define S_LINE_MAX      512

typedef struct {
    int64_t at_us;
    int64_t done;
} s_sample_t;

struct zx_progress {
    atomic_int refs;
    pthread_mutex_t lock;
    char *label;
    zx_progress_opts_t opts;
    bool tty;
    bool finished;                  //  zx_progress_finish ran: draw no more
    bool dropped;                   //  The caller destroyed it: draw no more
    int64_t total, done, failed, cancelled;
    int64_t started_us;
    int64_t last_draw_us;
    int steps_shown;                //  Plain lines: steps of step_percent said
    s_sample_t samples [S_SAMPLES];
    size_t sample_count, sample_next;
};

//  --------------------------------------------------------------------

zx_progress_t *
zx_progress_new (const char *label, int64_t total, const zx_progress_opts_t *opts)
{
    zx_progress_t *self = calloc (1, sizeof (zx_progress_t));
    if (!self)
        return NULL;
    if (opts)
        self->opts = *opts;
    if (self->opts.fd == 0)
        self->opts.fd = STDERR_FILENO;
    if (self->opts.interval_ms <= 0)
        self->opts.interval_ms = 100;
    if (self->opts.step_percent <= 0 || self->opts.step_percent > 100)
        self->opts.step_percent = 10;
    if (self->opts.width <= 0 || self->opts.width > 200)
        self->opts.width = 30;
    self->tty = self->opts.tty > 0
             || (self->opts.tty == 0 && self->opts.fd >= 0 && isatty (self->opts.fd));
    self->label = strdup (label ? label : "");
    if (!self->label || pthread_mutex_init (&self->lock, NULL)) {
        free (self->label);
        free (self);
        return NULL;
    }
    atomic_init (&self->refs, 1);
    self->total = total > 0 ? total : 0;
    self->started_us = zx__now_us ();
    return self;
}

static void
s_unref (zx_progress_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) != 1)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self->label);
    free (self);
}

void
zx_progress_destroy (zx_progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_progress_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    self->dropped = true;
    pthread_mutex_unlock (&self->lock);
    s_unref (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Counting and the rate (all under the lock)

static void
s_sample (zx_progress_t *self, int64_t now)
{
    size_t last = (self->sample_next + S_SAMPLES - 1) % S_SAMPLES;
    if (self->sample_count && now - self->samples [last].at_us < S_SAMPLE_US) {
        self->samples [last].done = self->done;     //  Same slot, newer count
        return;
    }
    self->samples [self->sample_next] = (s_sample_t) { now, self->done };
    self->sample_next = (self->sample_next + 1) % S_SAMPLES;
    if (self->sample_count < S_SAMPLES)
        self->sample_count++;
}

static void
s_stats (const zx_progress_t *self, int64_t now, zx_progress_stats_t *stats)
{
    *stats = (zx_progress_stats_t) {
        .total = self->total, .done = self->done, .failed = self->failed,
        .cancelled = self->cancelled, .elapsed_s = (double) (now - self->started_us) / 1e6,
        .eta_s = -1 };
    //  The oldest sample in the ring, or the start when there are few
    size_t oldest = self->sample_count < S_SAMPLES ? 0 : self->sample_next;
    int64_t since_us = self->started_us, since_done = 0;
    if (self->sample_count == S_SAMPLES) {
        since_us = self->samples [oldest].at_us;
        since_done = self->samples [oldest].done;
    }
    double span = (double) (now - since_us) / 1e6;
    if (span > 0 && self->done > since_done)
        stats->rate = (double) (self->done - since_done) / span;
    if (stats->rate > 0 && self->total >= self->done)
        stats->eta_s = (double) (self->total - self->done) / stats->rate;
}

//  --------------------------------------------------------------------
//  Drawing (under the lock)

static void
s_seconds (char *text, size_t size, double seconds)
{
    if (seconds < 0)
        snprintf (text, size, "?");
    else
    if (seconds < 60)
        snprintf (text, size, "%.1f s", seconds);
    else
    if (seconds < 3600)
        snprintf (text, size, "%dm%02ds", (int) seconds / 60, (int) seconds % 60);
    else
        snprintf (text, size, "%dh%02dm", (int) (seconds / 3600), (int) seconds % 3600 / 60);
}

static void
s_write (const zx_progress_t *self, const char *line, size_t size)
{
    if (self->opts.fd >= 0 && write (self->opts.fd, line, size) < 0) {
        //  Progress is a courtesy: a closed or full fd loses a line
    }
}

static void
s_draw_tty (zx_progress_t *self, const zx_progress_stats_t *stats, bool final)
{
    int width = self->opts.width;
    int64_t total = stats->total > 0 ? stats->total : 1;
    int64_t done = stats->done < total ? stats->done : total;
    int filled = (int) (done * width / total);
    char bar [201], eta [32], elapsed [32], line [S_LINE_MAX], failed [48] = "";
    for (int i = 0; i < width; i++)
        bar [i] = i < filled ? '#' : '.';
    bar [width] = 0;
    s_seconds (eta, sizeof eta, stats->eta_s);
    s_seconds (elapsed, sizeof elapsed, stats->elapsed_s);
    if (stats->failed || stats->cancelled)
        snprintf (failed, sizeof failed, "  %lld failed", (long long) (stats->failed
                                                                         + stats->cancelled));
    int size = snprintf (line, sizeof line, "\r%s%s[%s] %3d%%  %lld/%lld%s  %.1f/s  %s %s ",
                         self->label, self->label [0] ? " " : "", bar,
                         (int) (done * 100 / total), (long long) stats->done,
                         (long long) stats->total, failed, stats->rate,
                         final ? "in" : "ETA", final ? elapsed : eta);
    if (size < 0)
        return;
    if ((size_t) size >= sizeof line - 1)
        size = (int) sizeof line - 2;
    if (final)
        line [size++] = '\n';
    s_write (self, line, (size_t) size);
}

static void
s_draw_plain (zx_progress_t *self, const zx_progress_stats_t *stats, int percent)
{
    char eta [32], elapsed [32], line [S_LINE_MAX];
    s_seconds (eta, sizeof eta, stats->eta_s);
    s_seconds (elapsed, sizeof elapsed, stats->elapsed_s);
    int size = snprintf (line, sizeof line, "%s%s%3d%% (%lld of %lld done, %lld failed, "
                         "%.1f/s, %s elapsed, ETA %s)\n", self->label,
                         self->label [0] ? ": " : "", percent, (long long) stats->done,
                         (long long) stats->total,
                         (long long) (stats->failed + stats->cancelled), stats->rate,
                         elapsed, eta);
    if (size > 0)
        s_write (self, line, (size_t) size < sizeof line ? (size_t) size : sizeof line - 1);
}

static void
s_draw (zx_progress_t *self, bool final)
{
    if (self->finished || self->dropped || self->opts.fd < 0)
        return;
    int64_t now = zx__now_us ();
    if (self->tty && !final && now - self->last_draw_us < self->opts.interval_ms * 1000LL)
        return;
    self->last_draw_us = now;
    zx_progress_stats_t stats;
    s_stats (self, now, &stats);
    if (self->tty) {
        s_draw_tty (self, &stats, final);
        return;
    }
    int64_t total = stats.total > 0 ? stats.total : 1;
    int percent = stats.done >= total ? 100 : (int) (stats.done * 100 / total);
    int steps = percent / self->opts.step_percent;
    if (steps > self->steps_shown) {
        self->steps_shown = steps;
        s_draw_plain (self, &stats, steps * self->opts.step_percent);
    }
    else
    if (final && self->steps_shown * self->opts.step_percent < 100)
        s_draw_plain (self, &stats, percent);
}

static void
s_count (zx_progress_t *self, int64_t done, int64_t failed, int64_t cancelled)
{
    pthread_mutex_lock (&self->lock);
    self->done += done;
    self->failed += failed;
    self->cancelled += cancelled;
    s_sample (self, zx__now_us ());
    s_draw (self, false);
    pthread_mutex_unlock (&self->lock);
}

//  --------------------------------------------------------------------

void
zx_progress_set_total (zx_progress_t *self, int64_t total)
{
    pthread_mutex_lock (&self->lock);
    self->total = total > 0 ? total : 0;
    pthread_mutex_unlock (&self->lock);
}

void
zx_progress_add (zx_progress_t *self, int64_t done, int64_t failed)
{
    s_count (self, done, failed, 0);
}

static void
s_watched (zx_future_t *future, void *arg)
{
    zx_progress_t *self = (zx_progress_t *) arg;
    zx_future_state_t state = zx_future_state (future);
    s_count (self, 1, state == ZX_FUTURE_FAILED, state == ZX_FUTURE_CANCELLED);
    s_unref (self);
}

zx_err_t
zx_progress_watch (zx_progress_t *self, zx_future_t *future)
{
    if (!future)
        return ZX_EINVAL;
    atomic_fetch_add (&self->refs, 1);
    zx_err_t rc = zx_future_add_done_callback (future, s_watched, self);
    if (rc != ZX_OK)
        s_unref (self);
    return rc;
}

void
zx_progress_stats (zx_progress_t *self, zx_progress_stats_t *stats)
{
    pthread_mutex_lock (&self->lock);
    s_stats (self, zx__now_us (), stats);
    pthread_mutex_unlock (&self->lock);
}

void
zx_progress_finish (zx_progress_t *self)
{
    pthread_mutex_lock (&self->lock);
    s_draw (self, true);
    self->finished = true;
    pthread_mutex_unlock (&self->lock);
}
