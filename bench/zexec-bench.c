/*  zexec-bench.c - how fast zexec moves work, measured, not asserted.

    DESIGN: one program runs the workloads 0 to 6 and prints a
    table, or with --csv one line per figure: workload,executor,value,unit.
    Workload 0 calibrates: plain libzmq on this machine, in this run
    (raw.c). Workloads 1 to 5 run on the thread pool, the process pool and
    remote workers behind a zexec-broker on tcp loopback (workloads.c);
    the bench starts the broker, and this same program again as the
    remote worker (--serve). Workload 6, a million tasks at once, runs in
    a fresh process (--mem-child) so that its peak RSS is its own, and so
    does workload 4 (--blocking-child), so that a crash costs one figure
    and not the run. Then,
    when python3 is on PATH, bench/peers/asyncio_peer.py runs the same
    workloads on asyncio's run_in_executor, and the table puts its figures
    beside zexec's (report.c). libuv's thread pool, the C peer, runs the
    tiny tasks in a fresh process (uv.c, --uv-child). The hidden modes come first in main, after
    zx_init, so that every process this program starts is this program.

        zexec-bench [--quick] [--csv] [--runs N] [--only 0123456aup]
                    [--workers N] [--window N] [--tasks N] [--no-peer]
                    [--peer SCRIPT] [--verbose] [--glibc-defaults]
        zexec-bench --scale [--scale-workers 2,10,100] [--scale-clients 1|50]
                    [--scale-tasks N] [--broker PATH] [--simulate N]
                    [--quick] [--csv]

    --scale runs only the scale benchmark (scale.c): many workers on one
    broker.                                                              */

#define _GNU_SOURCE
#include "bench.h"
#include "zx_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifndef BENCH_PEER_SCRIPT
#   define BENCH_PEER_SCRIPT "bench/peers/asyncio_peer.py"
#endif

//  ---------------------------------------------------------------------
//  Processes

const char *
bench_self (void)
{
    static char path [4096];
    if (!*path) {
        ssize_t length = readlink ("/proc/self/exe", path, sizeof path - 1);
        path [length > 0 ? length : 0] = 0;
    }
    return path;
}

//  Forks and execs argv with stdout to out_fd (when >= 0) or /dev/null
//  (quiet). The child does only async-signal-safe calls before exec.
static pid_t
s_spawn (char *const argv [], int out_fd, bool quiet)
{
    int null_fd = quiet || out_fd >= 0 ? open ("/dev/null", O_RDWR | O_CLOEXEC) : -1;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        if (out_fd >= 0)
            dup2 (out_fd, STDOUT_FILENO);
        else
        if (quiet && null_fd >= 0)
            dup2 (null_fd, STDOUT_FILENO);
        if (quiet && null_fd >= 0)
            dup2 (null_fd, STDERR_FILENO);
        execv (argv [0], argv);
        _exit (127);
    }
    if (null_fd >= 0)
        close (null_fd);
    return pid;
}

pid_t
bench_start (char *const argv [], bool quiet)
{
    return s_spawn (argv, -1, quiet);
}

char *
bench_capture (char *const argv [])
{
    int pipe_fds [2];
    if (pipe2 (pipe_fds, O_CLOEXEC) != 0)
        return NULL;
    pid_t pid = s_spawn (argv, pipe_fds [1], false);
    close (pipe_fds [1]);
    size_t size = 0, cap = 4096;
    char *text = malloc (cap);
    ssize_t n;
    while (text && pid > 0
        && ((n = read (pipe_fds [0], text + size, cap - size - 1)) > 0 || (n < 0 && errno == EINTR))) {
        size += n > 0 ? (size_t) n : 0;
        if (size + 1 == cap) {
            char *grown = realloc (text, cap *= 2);
            if (!grown)
                free (text);
            text = grown;
        }
    }
    close (pipe_fds [0]);
    int status = 1;
    if (pid > 0)
        waitpid (pid, &status, 0);
    if (text)
        text [size] = 0;
    if (!text || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        if (text && *text)          //  Keep what it did say
            return text;
        free (text);
        return NULL;
    }
    return text;
}

void
bench_stop (pid_t pid)
{
    if (pid > 0) {
        kill (pid, SIGTERM);
        waitpid (pid, NULL, 0);
    }
}

//  --broker PATH: another zexec-broker to measure, or NULL
static const char *s_broker_program;

void
bench_broker_path (char *path, size_t size)
{
    if (s_broker_program) {
        snprintf (path, size, "%s", s_broker_program);
        return;
    }
    char self [4096];
    snprintf (self, sizeof self, "%s", bench_self ());
    char *slash = strrchr (self, '/');
    if (slash)
        *slash = 0;
    snprintf (path, size, "%s/../broker/zexec-broker", self);
    if (access (path, X_OK) != 0)
        snprintf (path, size, "%s/zexec-broker", self);
}

//  A tcp port on loopback that nothing listens on now.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    int port = 0;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &address, sizeof address) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &length) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

pid_t
bench_broker_start (char *endpoint, size_t size, bool quiet)
{
    return bench_broker_start_events (endpoint, size, quiet, NULL);
}

pid_t
bench_broker_start_events (char *endpoint, size_t size, bool quiet, const char *events)
{
    char path [4200];
    bench_broker_path (path, sizeof path);
    int port = s_free_port ();
    if (access (path, X_OK) != 0 || port == 0) {
        bench_note ("no zexec-broker at %s: remote figures skipped", path);
        return -1;
    }
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
    //  A million tasks at once from one coordinator, and 32 payloads of
    //  16 MiB in flight: past the broker's default caps per coordinator.
    //  Their results come back as big as they went: as many bytes may wait
    //  for the coordinator (a loaded machine starves its libzmq thread)
    //  as it may have pending, or it is dropped mid-run
    char *argv [] = { path, "--bind", endpoint, "--max-client-pending", "2000000",
                      "--max-client-bytes", "4294967296", "--max-queue-bytes", "4294967296",
                      "--max-client-backlog", "4294967296",
                      events ? "--events" : NULL, (char *) events, NULL };
    return bench_start (argv, quiet);
}

//  python3 from PATH, or false.
static bool
s_find_python (char *path, size_t size)
{
    const char *search = getenv ("PATH");
    while (search && *search) {
        const char *end = strchr (search, ':');
        size_t length = end ? (size_t) (end - search) : strlen (search);
        snprintf (path, size, "%.*s/python3", (int) length, search);
        if (length && access (path, X_OK) == 0)
            return true;
        search = end ? end + 1 : NULL;
    }
    return false;
}

//  ---------------------------------------------------------------------

//  Runs argv (this program in a hidden mode that prints CSV) and keeps
//  its figures; a child that fails is tried again, up to three times in
//  all, and each failure is noted under the table.
static void
s_child (char *const argv [], const char *what)
{
    for (int attempt = 1; attempt <= 3; attempt++) {
        char *text = bench_capture (argv);
        int kept = text ? bench_report_csv (text) : 0;
        free (text);
        if (kept > 0)
            return;
        bench_note ("%s: the child process failed (attempt %d of 3)", what, attempt);
    }
}

static void
s_memory (const bench_opts_t *opts, const char *kind)
{
    bench_progress (opts, "6 a million tasks, %s (fresh process)", kind);
    char workers [16], what [64];
    snprintf (workers, sizeof workers, "%d", opts->workers);
    snprintf (what, sizeof what, "a million tasks, %s", kind);
    char *argv [] = { (char *) bench_self (), "--mem-child", (char *) kind, "1000000", workers, NULL };
    s_child (argv, what);
}

//  Workload 4 runs in a fresh process: making and destroying a pool of
//  50 worker processes sometimes corrupts the heap (see PERFORMANCE.md),
//  and that must cost one figure, not the run.
static void
s_blocking (const bench_opts_t *opts, const char *kind)
{
    bench_progress (opts, "4 blocking tasks, %s (fresh process)", kind);
    char what [64];
    snprintf (what, sizeof what, "blocking tasks, %s", kind);
    char *argv [] = { (char *) bench_self (), "--blocking-child", (char *) kind, NULL };
    s_child (argv, what);
}

//  The C peer: libuv's uv_queue_work on the tiny-task workload, in a
//  fresh process (uv.c), beside zexec's thread pool of this run
//  Set by --glibc-defaults for the processes this one starts
#define S_GLIBC_DEFAULTS "ZEXEC_BENCH_GLIBC_DEFAULTS"

static void
s_libuv (const bench_opts_t *opts)
{
    bench_progress (opts, "u libuv's thread pool, tiny tasks (fresh process)");
    char workers [16], count [24];
    snprintf (workers, sizeof workers, "%d", opts->workers);
    snprintf (count, sizeof count, "%d", opts->tasks);
    char *argv [] = { (char *) bench_self (), "--uv-child", workers, count,
                      opts->quick ? "quick" : "full", NULL };
    s_child (argv, "libuv's thread pool");
}

static void
s_peer (const bench_opts_t *opts, const char *script)
{
    char python [4096], workers [16];
    if (!s_find_python (python, sizeof python)) {
        bench_note ("no python3 on PATH: the asyncio peer was skipped");
        return;
    }
    if (access (script, R_OK) != 0) {
        bench_note ("no peer script at %s: the asyncio peer was skipped", script);
        return;
    }
    bench_progress (opts, "the asyncio peer (%s)%s", script,
                    opts->quick ? "" : "; it takes minutes");
    snprintf (workers, sizeof workers, "%d", opts->workers);
    char *argv [7] = { python, (char *) script, "--workers", workers, NULL, NULL, NULL };
    int argc = 4;
    if (opts->quick)
        argv [argc++] = "--quick";
    if (!opts->csv)
        argv [argc++] = "--progress";
    char *text = bench_capture (argv);
    if (!text || bench_report_csv (text) == 0)
        bench_note ("the asyncio peer failed");
    free (text);
}

static int
s_usage (void)
{
    fprintf (stderr,
        "usage: zexec-bench [--quick] [--csv] [--runs N] [--only 0123456aup] [--workers N]\n"
        "                   [--window N] [--tasks N] [--no-peer] [--peer SCRIPT] [--verbose]\n"
        "                   [--glibc-defaults]\n"
        "  --quick        scaled-down workloads (well under 40 s with the peer)\n"
        "  --csv          one line per figure: workload,executor,value,unit\n"
        "  --runs N       run everything N times and keep each figure's best\n"
        "  --only LIST    workloads to run: 0 calibration, 1 round trips, 2 tiny tasks,\n"
        "                 t telemetry's cost on tiny tasks (off, on without and with a\n"
        "                 subscriber; only when named),\n"
        "                 3 CPU scaling, 4 blocking, 5 payloads, 6 a million tasks,\n"
        "                 a actors (ask round trips, tells to one and to 16 actors),\n"
        "                 u libuv's thread pool on tiny tasks (the C peer),\n"
        "                 p the Python peer (default all)\n"
        "  --scale        only the scale benchmark: one broker, N single-thread worker\n"
        "                 processes, 1 and 50 coordinators at once (docs/PERFORMANCE.md)\n"
        "  --scale-workers LIST  worker counts (default 2,10,100; e.g. 2,10,100,1000)\n"
        "  --scale-clients N     1 or 50 coordinators only (default both)\n"
        "  --scale-tasks N       tiny tasks per run over all coordinators (default 100000)\n"
        "  --broker PATH  the zexec-broker to measure (another build's, for a before\n"
        "                 and after; default the one beside this program)\n"
        "  --simulate N          then N simulated workers (ZXW01 sockets in a few\n"
        "                        processes): the broker's idle CPU per worker\n"
        "  --glibc-defaults leave glibc's malloc thresholds as they are in this\n"
        "                 coordinator (by default it keeps freed memory, as\n"
        "                 docs/OPERATIONS.md advises a program that moves megabytes)\n");
    return 2;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    //  Hidden modes: this program started again by itself
    if (argc == 4 && strcmp (argv [1], "--serve") == 0) {
        //  As zexec-worker does (zx_cli_keep_freed_memory)
        zx_cli_keep_freed_memory (false);
        return zx_serve (argv [2], false, &(zx_executor_opts_t) { .max_workers = atoi (argv [3]) },
                         NULL) == ZX_OK ? 0 : 1;
    }
    if (argc == 3 && strcmp (argv [1], "--raw-worker") == 0)
        return bench_raw_worker (argv [2]);
    if (argc == 5 && strcmp (argv [1], "--mem-child") == 0)
        return bench_mem_child (argv [2], atol (argv [3]), atoi (argv [4]));
    if (argc == 3 && strcmp (argv [1], "--blocking-child") == 0)
        return bench_blocking_child (argv [2]);
    if (argc == 5 && strcmp (argv [1], "--uv-child") == 0) {
        //  The C peer's process keeps freed memory when the coordinator does
        if (!getenv (S_GLIBC_DEFAULTS))
            zx_cli_keep_freed_memory (true);
        return bench_uv_child (atoi (argv [2]), atol (argv [3]), strcmp (argv [4], "quick") == 0);
    }
    if ((argc == 4 || argc == 5) && strcmp (argv [1], "--scale-client") == 0)
        return bench_scale_client (argv [2], atol (argv [3]), argc == 5);
    if (argc == 5 && strcmp (argv [1], "--scale-sim") == 0)
        return bench_scale_sim (argv [2], atoi (argv [3]), atoi (argv [4]));

    bench_opts_t opts = { .workers = 2, .tasks = 200000, .only = "0123456aup",
                          .scale_workers = "2,10,100", .scale_tasks = 100000 };
    bool scale_tasks = false;
    int runs = 1;
    bool peer = true;
    bool glibc_defaults = false;
    const char *script = BENCH_PEER_SCRIPT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i], *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (strcmp (arg, "--csv") == 0)
            opts.csv = true;
        else
        if (strcmp (arg, "--quick") == 0) {
            opts.quick = true;
            opts.tasks = 50000;
        }
        else
        if (strcmp (arg, "--verbose") == 0)
            opts.verbose = true;
        else
        if (strcmp (arg, "--no-peer") == 0)
            peer = false;
        else
        if (strcmp (arg, "--peer") == 0 && value)
            script = argv [++i];
        else
        if (strcmp (arg, "--only") == 0 && value)
            opts.only = argv [++i];
        else
        if (strcmp (arg, "--runs") == 0 && value)
            runs = atoi (argv [++i]);
        else
        if (strcmp (arg, "--tasks") == 0 && value)
            opts.tasks = atoi (argv [++i]);
        else
        if (strcmp (arg, "--workers") == 0 && value)
            opts.workers = atoi (argv [++i]);
        else
        if (strcmp (arg, "--window") == 0 && value)
            opts.window = atoi (argv [++i]);
        else
        if (strcmp (arg, "--scale") == 0)
            opts.scale = true;
        else
        if (strcmp (arg, "--scale-workers") == 0 && value)
            opts.scale_workers = argv [++i];
        else
        if (strcmp (arg, "--scale-clients") == 0 && value)
            opts.scale_clients = argv [++i];
        else
        if (strcmp (arg, "--scale-tasks") == 0 && value) {
            opts.scale_tasks = atol (argv [++i]);
            scale_tasks = true;
        }
        else
        if (strcmp (arg, "--broker") == 0 && value)
            s_broker_program = argv [++i];
        else
        if (strcmp (arg, "--simulate") == 0 && value)
            opts.simulate = atoi (argv [++i]);
        else
        if (strcmp (arg, "--glibc-defaults") == 0)
            glibc_defaults = true;
        else
            return s_usage ();
    }
    //  This coordinator moves payloads of 16 MiB: it keeps what it frees,
    //  as docs/OPERATIONS.md advises such a program ("Payloads of
    //  megabytes"); --glibc-defaults measures one that does not
    if (!glibc_defaults)
        zx_cli_keep_freed_memory (true);
    else
        setenv (S_GLIBC_DEFAULTS, "1", 1);      //  For libuv's process too
    if (opts.tasks < 1 || opts.workers < 1 || opts.window < 0 || runs < 1) {
        fprintf (stderr, "zexec-bench: --tasks, --workers and --runs must be positive\n");
        return 2;
    }
    signal (SIGPIPE, SIG_IGN);
    double start = bench_now ();
    if (opts.scale) {
        if (opts.quick && !scale_tasks)
            opts.scale_tasks = 20000;
        if (opts.scale_tasks < 50) {
            fprintf (stderr, "zexec-bench: --scale-tasks must be at least 50\n");
            return 2;
        }
        bench_scale_run (&opts);
        if (opts.csv)
            bench_report_print_csv ();
        else {
            bench_report_table ();
            printf ("\nOne run; %.1f s in all%s\n", bench_now () - start,
                    opts.quick ? " (--quick)" : "");
        }
        return 0;
    }
    bench_progress (&opts, "%s run%s", opts.quick ? "quick" : "full", runs > 1 ? "s" : "");
    for (int run = 0; run < runs; run++) {
        if (runs > 1)
            bench_progress (&opts, "run %d of %d", run + 1, runs);
        if (strchr (opts.only, '0')) {
            bench_progress (&opts, "0 raw libzmq calibration");
            bench_raw_run (&opts);
        }
        zx_loop_t *loop = zx_loop_new ();
        if (!loop)
            return 1;
        const char *names [] = { "thread", "process", "remote" };
        for (size_t k = 0; k < sizeof names / sizeof names [0]; k++) {
            bench_kind_t kind = { .name = names [k], .opts = &opts };
            char endpoint [64];
            pid_t broker = 0;
            if (strcmp (names [k], "remote") == 0 && strpbrk (opts.only, "1235a")) {
                broker = bench_broker_start (endpoint, sizeof endpoint, !opts.verbose);
                if (broker <= 0)
                    continue;
                kind.endpoint = endpoint;
                kind.broker = broker;
            }
            bench_run_kind (loop, &kind, &opts);
            //  Actors: remotely, on the served workers through the broker
            if (strchr (opts.only, 'a')) {
                bench_progress (&opts, "a actors, %s", names [k]);
                bench_actors_run (&kind, &opts);
            }
            bench_stop (broker);
        }
        if (strchr (opts.only, 't'))
            bench_telemetry_run (loop, &opts);
        zx_loop_destroy (&loop);
        if (strchr (opts.only, 'u'))
            s_libuv (&opts);
        bench_report_run_end ();
        if (strchr (opts.only, '4'))
            for (size_t k = 0; k < sizeof names / sizeof names [0]; k++)
                s_blocking (&opts, names [k]);
        if (strchr (opts.only, '6'))
            for (size_t k = 0; k < sizeof names / sizeof names [0]; k++)
                s_memory (&opts, names [k]);
        if (peer && strchr (opts.only, 'p'))
            s_peer (&opts, script);
    }
    if (opts.csv)
        bench_report_print_csv ();
    else {
        bench_report_table ();
        if (runs > 1)
            printf ("\nEach figure the best of %d runs; ", runs);
        else
            printf ("\nOne run; ");
        printf ("%.1f s in all%s\n", bench_now () - start, opts.quick ? " (--quick)" : "");
    }
    return 0;
}
