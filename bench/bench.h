/*  bench.h - what the files of zexec-bench share.

    zexec-bench.c runs the program (options, the executors under test, the
    hidden modes it starts itself in); raw.c measures plain libzmq for
    calibration; workloads.c measures zexec; report.c keeps every figure,
    prints it, and sets zexec's beside the Python peer's and the targets. */

#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED

#include <zexec.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    bool quick;                 //  Scaled down to finish in seconds
    bool csv;                   //  One line per figure instead of a table
    bool verbose;               //  Let the broker and served workers log
    int workers;                //  Workers per pool (2)
    int window;                 //  Credit window; 0 = adaptive
    int tasks;                  //  Tiny tasks in the all-at-once run
    const char *only;           //  Workloads to run: "0123456aup"
    bool scale;                 //  --scale: the scale benchmark only (scale.c)
    const char *scale_workers;  //  Worker counts, comma-separated ("2,10,100")
    const char *scale_clients;  //  "1" or "50" coordinators only (NULL: both)
    long scale_tasks;           //  Tiny tasks per run, over all coordinators
    int simulate;               //  Simulated workers (0: none)
} bench_opts_t;

//  An executor under test: what workloads.c needs to make one with n
//  workers. Remote pools start a served worker (this program, --serve)
//  with n threads behind the broker at endpoint.
typedef struct {
    const char *name;           //  "thread", "process" or "remote"
    const bench_opts_t *opts;
    const char *endpoint;       //  Remote only: the broker
    pid_t broker;               //  Remote only: the broker's pid, or 0
    pid_t served;               //  Remote only: the served worker, or 0
    size_t max_queue;           //  0: the executor's default
} bench_kind_t;

//  ---------------------------------------------------------------------
//  report.c

//  Seconds on the monotonic clock.
double bench_now (void);

//  Tells on stderr (unless in --csv mode) what runs now, with the
//  seconds since the first call.
void bench_progress (const bench_opts_t *opts, const char *format, ...) ZX_PRINTF (2, 3);

//  Tells on stderr something that went wrong, and keeps it to print
//  under the table.
void bench_note (const char *format, ...) ZX_PRINTF (1, 2);

//  Keeps one figure and, in --csv mode, prints it at once.
void bench_report (const char *workload, const char *executor, double value,
                   const char *unit);

//  Ends a run: adds the figures that compare zexec with raw libzmq
//  within that run (tiny_throughput_vs_raw, rtt_p50_vs_raw), since the
//  machine's load moves both together more than it moves two runs.
void bench_report_run_end (void);

//  Parses CSV lines (workload,executor,value,unit) from text, as a child
//  or the Python peer printed them, and keeps each as bench_report does.
//  Returns how many lines it kept.
int bench_report_csv (const char *text);

//  Prints every row as CSV.
void bench_report_print_csv (void);

//  Prints the table: each zexec figure with the peer's beside it and
//  their ratio, then the targets, met or not.
void bench_report_table (void);

//  Returns the sample at fraction (0.5 for the median) of samples, which
//  it sorts in place.
double bench_percentile (double *samples, size_t count, double fraction);

//  CPU seconds used so far by the calling thread (thread true) or by the
//  whole process, user plus system.
double bench_cpu (bool thread);

//  CPU seconds used so far by process pid (all its threads), from
//  /proc; NAN when it cannot be read.
double bench_proc_cpu (pid_t pid);

//  The same for one thread tid of process pid (tid 0: all of them).
double bench_thread_cpu (pid_t pid, pid_t tid);

//  Peak resident set of process pid (0 for this one) in kB, from VmHWM;
//  0 when it cannot be read.
long bench_peak_rss_kb (pid_t pid);

//  ---------------------------------------------------------------------
//  zexec-bench.c: processes

//  Path of this program (borrowed, static).
const char *bench_self (void);

//  The zexec-broker to run: --broker PATH when given, else the one beside
//  this program in the build tree, or as installed.
void bench_broker_path (char *path, size_t size);

//  Starts argv as a child process that dies with this one; with quiet its
//  stdout and stderr go to /dev/null. Returns its pid or -1.
pid_t bench_start (char *const argv [], bool quiet);

//  Runs argv to completion and returns what it wrote to stdout (caller
//  frees), even when it then failed; NULL when it wrote nothing and
//  failed, or could not start.
char *bench_capture (char *const argv []);

//  Sends SIGTERM to pid (when positive) and waits for it.
void bench_stop (pid_t pid);

//  Starts a zexec-broker (beside this program in the build tree) on a
//  free tcp loopback port and writes its endpoint. Returns its pid, or -1
//  when there is no broker program or it would not start.
pid_t bench_broker_start (char *endpoint, size_t size, bool quiet);

//  The same, publishing its events on events (zexec-broker --events)
//  unless that is NULL.
pid_t bench_broker_start_events (char *endpoint, size_t size, bool quiet, const char *events);

//  ---------------------------------------------------------------------
//  telemetry.c

//  Workload t: tiny-task throughput with telemetry off, on without a
//  subscriber and on with one, thread pool and broker, rounds in turn.
void bench_telemetry_run (zx_loop_t *loop, const bench_opts_t *opts);

//  ---------------------------------------------------------------------
//  raw.c

//  Workload 0: plain libzmq, a ROUTER dispatching 8-byte round trips to
//  opts->workers DEALERs over inproc (threads), ipc and tcp (processes),
//  pipelined and one at a time.
void bench_raw_run (const bench_opts_t *opts);

//  Hidden mode --raw-worker ENDPOINT: a DEALER that echoes until told to
//  stop. Returns the exit status.
int bench_raw_worker (const char *endpoint);

//  ---------------------------------------------------------------------
//  workloads.c

//  Makes an executor of kind with n workers, ready (a first task has
//  come back). Returns NULL when it cannot.
zx_executor_t *bench_pool_new (bench_kind_t *kind, int n);

//  Destroys the executor and, for remote, stops its served worker.
void bench_pool_destroy (bench_kind_t *kind, zx_executor_t **pool_p);

//  Workloads 1, 2, 3 and 5 (those opts->only names) for one executor
//  kind.
void bench_run_kind (zx_loop_t *loop, bench_kind_t *kind, const bench_opts_t *opts);

//  ---------------------------------------------------------------------
//  actors.c

//  Workload a: actor ask round trips (one actor) and tells per second to
//  one actor and over 16, on a pool of kind (thread or process) that it
//  makes and destroys.
void bench_actors_run (bench_kind_t *kind, const bench_opts_t *opts);

//  Hidden mode --mem-child KIND COUNT WORKERS: workload 6 in a fresh
//  process; prints its CSV lines on stdout. Returns the exit status.
int bench_mem_child (const char *kind, long count, int workers);

//  Hidden mode --blocking-child KIND: workload 4 in a fresh process;
//  prints its CSV lines on stdout. Returns the exit status.
int bench_blocking_child (const char *kind);

//  ---------------------------------------------------------------------
//  scale.c

//  --scale: one broker, opts->scale_workers real workers and 1 and 50
//  coordinators; then opts->simulate simulated workers, if any.
void bench_scale_run (const bench_opts_t *opts);

//  Hidden mode --scale-client ENDPOINT COUNT [echo]: one coordinator of
//  the scale benchmark. Returns the exit status.
int bench_scale_client (const char *endpoint, long count, bool echo);

//  Hidden mode --scale-sim ENDPOINT COUNT FIRST: COUNT simulated workers
//  in this process until SIGTERM. Returns the exit status.
int bench_scale_sim (const char *endpoint, int count, int first);

//  ---------------------------------------------------------------------
//  uv.c

//  Hidden mode --uv-child WORKERS COUNT quick|full: the tiny-task
//  workload on libuv's uv_queue_work with WORKERS threads, in a fresh
//  process; prints its CSV lines (executor "libuv"). Returns the exit
//  status (1 when built without libuv).
int bench_uv_child (int workers, long count, bool quick);

//  Makes the row suffix for a count: 1000000 -> "1m", 20000 -> "20k".
void bench_count_name (long count, char *buf, size_t size);

#endif
