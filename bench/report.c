/*  report.c - every figure zexec-bench measures, kept and printed.

    DESIGN: a figure is a row (workload, executor, value, unit), whoever
    measured it: this process, a fresh child it started for the memory
    run, or the Python peer, whose CSV lines are parsed into the same
    rows. Reporting a row that exists already keeps the better of the two
    values, so `--runs 3` gives best-of-3 figures with no extra code in the
    workloads; "better" is higher for rates and speedups, lower for times,
    sizes and costs. At the end the rows print as CSV, or as a table that
    sets each zexec figure beside the Python peer's (thread beside
    py_thread, process beside py_process) and then checks the issue's
    targets against what was measured.                                   */

#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

typedef struct {
    char workload [48];
    char executor [16];
    char unit [16];
    double value;               //  The best so far
    double last;                //  The latest, for ratios within one run
} s_row_t;

static s_row_t *s_rows;
static size_t s_count, s_cap;
static char s_notes [4096];

double
bench_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
bench_progress (const bench_opts_t *opts, const char *format, ...)
{
    static double start;
    if (start == 0)
        start = bench_now ();
    if (opts->csv)
        return;
    char text [256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "zexec-bench [%6.1f s] %s\n", bench_now () - start, text);
}

void
bench_note (const char *format, ...)
{
    char text [256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "zexec-bench: %s\n", text);
    size_t used = strlen (s_notes);
    snprintf (s_notes + used, sizeof s_notes - used, "  %s\n", text);
}

//  Lower is better for times, sizes, costs and the blocking overhead.
static bool
s_lower_is_better (const char *workload, const char *unit)
{
    return strcmp (unit, "us") == 0 || strcmp (unit, "s") == 0
        || strcmp (unit, "MB") == 0 || strcmp (unit, "us/task") == 0
        || strcmp (workload, "blocking_vs_ideal") == 0
        || strcmp (workload, "rtt_p50_vs_raw") == 0;
}

static s_row_t *
s_find (const char *workload, const char *executor)
{
    for (size_t i = 0; i < s_count; i++)
        if (strcmp (s_rows [i].workload, workload) == 0
        &&  strcmp (s_rows [i].executor, executor) == 0)
            return &s_rows [i];
    return NULL;
}

//  The value of a row, or NAN when it was not measured.
static double
s_value (const char *workload, const char *executor)
{
    s_row_t *row = s_find (workload, executor);
    return row ? row->value : NAN;
}

void
bench_report (const char *workload, const char *executor, double value, const char *unit)
{
    s_row_t *row = s_find (workload, executor);
    if (row) {
        row->last = value;
        bool lower = s_lower_is_better (workload, unit);
        if (lower ? value < row->value : value > row->value)
            row->value = value;
        return;
    }
    if (s_count == s_cap) {
        size_t cap = s_cap ? s_cap * 2 : 256;
        s_row_t *rows = realloc (s_rows, cap * sizeof (s_row_t));
        if (!rows)
            return;
        s_rows = rows;
        s_cap = cap;
    }
    row = &s_rows [s_count++];
    snprintf (row->workload, sizeof row->workload, "%s", workload);
    snprintf (row->executor, sizeof row->executor, "%s", executor);
    snprintf (row->unit, sizeof row->unit, "%s", unit);
    row->value = row->last = value;
}

//  The tiny-task rows set beside libuv's: every depth, and all at once
static const char *s_uv_depths [] = {
    "tiny_throughput", "tiny_throughput_1", "tiny_throughput_8", "tiny_throughput_64",
    "tiny_throughput_1000"
};

//  The latest value of a row, or NAN when it was not measured.
static double
s_last (const char *workload, const char *executor)
{
    s_row_t *row = s_find (workload, executor);
    return row ? row->last : NAN;
}

//  Reports workload (of executor) as one row's latest value over
//  another's, when both were measured
static void
s_ratio (const char *workload, const char *executor, const char *over, const char *over_executor,
         const char *under, const char *under_executor)
{
    double top = s_last (over, over_executor);
    double bottom = s_last (under, under_executor);
    if (!isnan (top) && !isnan (bottom) && bottom > 0)
        bench_report (workload, executor, top / bottom, "x");
}

void
bench_report_run_end (void)
{
    const char *pairs [][2] = { { "thread", "inproc" }, { "process", "ipc" }, { "remote", "tcp" } };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs [0]; i++) {
        const char *kind = pairs [i][0], *raw = pairs [i][1];
        s_ratio ("tiny_throughput_vs_raw", kind, "tiny_throughput", kind, "raw_pipelined", raw);
        s_ratio ("rtt_p50_vs_raw", kind, "rtt_p50", kind, "raw_rtt", raw);
        //  Big payloads beside megabyte ones, each burst beside its like:
        //  the first of a size also pays for the memory it maps
        s_ratio ("payload_16_vs_1MiB", kind, "payload_16MiB", kind, "payload_1MiB", kind);
        s_ratio ("payload_16_vs_1MiB_first", kind, "payload_16MiB_first", kind,
                 "payload_1MiB_first", kind);
    }
    //  zexec's thread pool beside libuv's, the same number of threads
    for (size_t i = 0; i < sizeof s_uv_depths / sizeof s_uv_depths [0]; i++) {
        char name [64];
        snprintf (name, sizeof name, "%s_vs_libuv", s_uv_depths [i]);
        s_ratio (name, "thread", s_uv_depths [i], "thread", s_uv_depths [i], "libuv");
    }
}

int
bench_report_csv (const char *text)
{
    int kept = 0;
    while (text && *text) {
        const char *end = strchr (text, '\n');
        size_t length = end ? (size_t) (end - text) : strlen (text);
        char line [256], workload [48], executor [16], unit [16];
        double value;
        if (length < sizeof line) {
            memcpy (line, text, length);
            line [length] = 0;
            if (sscanf (line, "%47[^,],%15[^,],%lf,%15s", workload, executor, &value, unit) == 4) {
                bench_report (workload, executor, value, unit);
                kept++;
            }
        }
        text = end ? end + 1 : NULL;
    }
    return kept;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
bench_percentile (double *samples, size_t count, double fraction)
{
    if (count == 0)
        return NAN;
    qsort (samples, count, sizeof (double), s_compare);
    size_t index = (size_t) ((double) count * fraction);
    return samples [index < count ? index : count - 1];
}

double
bench_cpu (bool thread)
{
    struct rusage usage;
    getrusage (thread ? RUSAGE_THREAD : RUSAGE_SELF, &usage);
    return (double) usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + (double) usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

double
bench_proc_cpu (pid_t pid)
{
    return bench_thread_cpu (pid, 0);
}

double
bench_thread_cpu (pid_t pid, pid_t tid)
{
    char path [64], text [1024];
    if (tid)
        snprintf (path, sizeof path, "/proc/%d/task/%d/stat", (int) pid, (int) tid);
    else
        snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    size_t size = file ? fread (text, 1, sizeof text - 1, file) : 0;
    if (file)
        fclose (file);
    text [size] = 0;
    //  Fields after the command, which ends at the last ')': state is
    //  field 3, utime and stime are fields 14 and 15
    char *cursor = strrchr (text, ')');
    unsigned long utime = 0, stime = 0;
    if (!cursor || sscanf (cursor + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                           &utime, &stime) != 2)
        return NAN;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}

long
bench_peak_rss_kb (pid_t pid)
{
    char path [64], line [256];
    if (pid > 0)
        snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    else
        snprintf (path, sizeof path, "/proc/self/status");
    FILE *file = fopen (path, "r");
    long kb = 0;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (file)
        fclose (file);
    return kb;
}

//  Speedups are taken from the best 1-worker and the best 2-worker rate,
//  not as the best of the runs' ratios, which would favour a run whose
//  1-worker half was slowed by the machine's other load.
static void
s_derive (void)
{
    for (size_t i = 0; i < s_count; i++) {
        s_row_t *row = &s_rows [i];
        char *suffix = strstr (row->workload, "_speedup_2w");
        if (!suffix || strcmp (suffix, "_speedup_2w") != 0)
            continue;
        char one [48], two [48];
        int length = (int) (suffix - row->workload);
        snprintf (one, sizeof one, "%.*s_1w", length, row->workload);
        snprintf (two, sizeof two, "%.*s_2w", length, row->workload);
        double rate_one = s_value (one, row->executor), rate_two = s_value (two, row->executor);
        if (!isnan (rate_one) && !isnan (rate_two) && rate_one > 0)
            row->value = rate_two / rate_one;
    }
}

//  ---------------------------------------------------------------------
//  The table

//  Formats a value for the table: rates with thousands separators,
//  others with three significant digits.
static void
s_format (double value, char *buf, size_t size)
{
    if (isnan (value))
        snprintf (buf, size, "-");
    else
    if (value >= 10000) {
        char digits [32];
        snprintf (digits, sizeof digits, "%.0f", value);
        size_t length = strlen (digits), out = 0;
        for (size_t i = 0; i < length && out + 2 < size; i++) {
            if (i && (length - i) % 3 == 0)
                buf [out++] = ',';
            buf [out++] = digits [i];
        }
        buf [out] = 0;
    }
    else
    if (value >= 100)
        snprintf (buf, size, "%.0f", value);
    else
    if (value >= 10)
        snprintf (buf, size, "%.1f", value);
    else
        snprintf (buf, size, "%.3g", value);
}

static bool
s_is_zexec (const char *executor)
{
    return strncmp (executor, "py_", 3) != 0 && strcmp (executor, "libuv") != 0;
}

//  Prints one target line: measured against limit (either may be NAN).
static void
s_target (const char *what, double measured, const char *op, double limit,
          const char *unit, const char *how)
{
    char value [32], bound [32];
    s_format (measured, value, sizeof value);
    s_format (limit, bound, sizeof bound);
    const char *verdict = "n/a";
    if (!isnan (measured) && !isnan (limit))
        verdict = (strcmp (op, ">=") == 0 ? measured >= limit : measured <= limit)
                ? "met" : "NOT met";
    printf ("  %-42s %12s %-8s %s %-12s %-8s %s\n", what, value, unit, op, bound, verdict, how);
}

static void
s_targets (void)
{
    printf ("\nTargets (from the issue)\n");
    char how [96];
    struct { const char *executor, *raw, *py; double rate, raw_share, py_factor, rtt_factor; }
    pools [] = {
        { "thread",  "inproc", "py_thread",  1e6, 0.25, 40, 1.5 },
        { "process", "ipc",    "py_process", 5e5, 0.40, 50, 1.5 },
        { "remote",  "tcp",    NULL,         3e5, 0,    0,  2.5 }
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools [0]; i++) {
        const char *executor = pools [i].executor;
        double rate = s_value ("tiny_throughput", executor);
        if (isnan (rate))
            continue;
        char what [64];
        snprintf (what, sizeof what, "%s tiny_throughput", executor);
        s_target (what, rate, ">=", pools [i].rate, "tasks/s", "");
        if (pools [i].raw_share > 0) {
            snprintf (what, sizeof what, "%s tiny_throughput_vs_raw", executor);
            snprintf (how, sizeof how, "(against raw %s pipelined, same run)", pools [i].raw);
            s_target (what, s_value ("tiny_throughput_vs_raw", executor), ">=",
                      pools [i].raw_share, "x", how);
            double py = s_value ("tiny_throughput", pools [i].py);
            snprintf (what, sizeof what, "%s tiny_throughput", executor);
            snprintf (how, sizeof how, "(%.0fx %s)", pools [i].py_factor, pools [i].py);
            s_target (what, rate, ">=", py * pools [i].py_factor, "tasks/s", how);
        }
        snprintf (what, sizeof what, "%s rtt_p50_vs_raw", executor);
        snprintf (how, sizeof how, "(against raw %s rtt, same run)", pools [i].raw);
        s_target (what, s_value ("rtt_p50_vs_raw", executor), "<=", pools [i].rtt_factor, "x", how);
        snprintf (what, sizeof what, "%s cpu_1ms_speedup_2w", executor);
        s_target (what, s_value ("cpu_1ms_speedup_2w", executor), ">=", 1.85, "x", "");
        snprintf (what, sizeof what, "%s wall_1m", executor);
        s_target (what, s_value ("wall_1m", executor), "<=", 3, "s", "");
        snprintf (what, sizeof what, "%s peak_rss_1m", executor);
        s_target (what, s_value ("peak_rss_1m", executor), "<=", 300, "MB", "");
    }
    //  Issue 16's same-run ratios, where this run measured them
    double ratio = s_value ("payload_16_vs_1MiB", "remote");
    if (!isnan (ratio))
        s_target ("remote payload_16_vs_1MiB", ratio, ">=", 0.5, "x", "(second bursts, same run)");
    for (size_t i = 0; i < sizeof s_uv_depths / sizeof s_uv_depths [0]; i++) {
        char what [48], row [64];
        snprintf (what, sizeof what, "%s_vs_libuv", s_uv_depths [i]);
        ratio = s_value (what, "thread");
        snprintf (row, sizeof row, "thread %s", what);
        if (!isnan (ratio))
            s_target (row, ratio, ">=", 1.0, "x", "(uv_queue_work, same threads, same run)");
    }
}

void
bench_report_table (void)
{
    s_derive ();
    printf ("%-24s %-8s %14s %-8s %14s %-10s %9s\n",
            "workload", "executor", "zexec", "unit", "python", "(peer)", "zexec/py");
    for (size_t i = 0; i < s_count; i++) {
        s_row_t *row = &s_rows [i];
        if (!s_is_zexec (row->executor))
            continue;
        char peer [24], value [32], py_value [32], ratio [32] = "";
        snprintf (peer, sizeof peer, "py_%s", row->executor);
        double py = s_value (row->workload, peer);
        s_format (row->value, value, sizeof value);
        s_format (py, py_value, sizeof py_value);
        if (!isnan (py) && py > 0)
            snprintf (ratio, sizeof ratio, "%.3gx", row->value / py);
        printf ("%-24s %-8s %14s %-8s %14s %-10s %9s\n", row->workload, row->executor, value,
                row->unit, isnan (py) ? "" : py_value, isnan (py) ? "" : peer, ratio);
    }
    //  What the peer measured that zexec did not (--quick's smaller
    //  million-task run, for one)
    bool header = false;
    for (size_t i = 0; i < s_count; i++) {
        s_row_t *row = &s_rows [i];
        if (strncmp (row->executor, "py_", 3) != 0 || s_find (row->workload, row->executor + 3))
            continue;
        if (!header)
            printf ("\nPython peer only\n");
        header = true;
        char value [32];
        s_format (row->value, value, sizeof value);
        printf ("%-24s %-10s %12s %s\n", row->workload, row->executor, value, row->unit);
    }
    header = false;
    for (size_t i = 0; i < s_count; i++) {
        s_row_t *row = &s_rows [i];
        if (strcmp (row->executor, "libuv") != 0)
            continue;
        if (!header)
            printf ("\nThe C peer: libuv's uv_queue_work, as many threads (thread rows "
                    "*_vs_libuv above)\n");
        header = true;
        char value [32], ours [32];
        s_format (row->value, value, sizeof value);
        s_format (s_value (row->workload, "thread"), ours, sizeof ours);
        printf ("%-24s %-10s %12s %-8s zexec thread %12s\n", row->workload, row->executor,
                value, row->unit, ours);
    }
    s_targets ();
    if (*s_notes)
        printf ("\nNotes\n%s", s_notes);
}

void
bench_report_print_csv (void)
{
    s_derive ();
    for (size_t i = 0; i < s_count; i++)
        printf ("%s,%s,%.6g,%s\n", s_rows [i].workload, s_rows [i].executor,
                s_rows [i].value, s_rows [i].unit);
}
