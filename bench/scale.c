/*  scale.c - zexec-bench --scale: one broker and many workers.

    DESIGN: for each worker count N (2, 10, 100 by default; --scale-workers
    says which), a zexec-broker on tcp loopback (1 s heartbeat, liveness
    3) and N single-thread worker processes (this program again, --serve
    ENDPOINT 1: zx_serve, the runtime zexec-worker runs). Once all are
    ready the broker's CPU is read over an idle spell (its idle cost per
    worker), then 1 and then 50 coordinators (processes, --scale-client),
    each started and warmed up, are let go at the same moment through one
    pipe they all read, and submit their share of the tiny tasks at once.
    Printed per N and coordinator count: tasks/s and its ratio to the same
    run's 2-worker figure, the broker's and the workers' CPU per task (from
    /proc), and the false deaths: workers the broker declared lost, and
    peers (workers, coordinators) that declared the broker lost, counted
    in their logs, while every one of them was alive.

    --simulate N replaces the worker processes by simulated ones: processes
    holding up to 5000 DEALER sockets each, speaking ZXW01 through the
    codec (zx_proto.h): READY, a heartbeat a second each, and every REQUEST
    answered by echoing its arguments. That measures the broker's idle CPU
    per worker at 10,000 workers, which real processes cannot on one
    machine; tasks sent through them check that the bytes come back. */

#define _GNU_SOURCE
#include "bench.h"
#include "zx_proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zmq.h>

#define S_SIM_PER_PROCESS 5000      //  Two fds a socket: under a 20,000 hard limit
#define S_HEARTBEAT_MS    1000

//  ---------------------------------------------------------------------
//  Processes and logs

//  Raises this process's soft open files limit to the hard one.
static void
s_raise_fds (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? 1048576 : limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
}

//  Forks and execs argv with stdin from in_fd, stdout to out_fd, stderr
//  appended to the file err (each -1 / NULL: /dev/null).
static pid_t
s_spawn (char *const argv [], int in_fd, int out_fd, const char *err)
{
    int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
    int err_fd = err ? open (err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        dup2 (in_fd >= 0 ? in_fd : null_fd, STDIN_FILENO);
        dup2 (out_fd >= 0 ? out_fd : null_fd, STDOUT_FILENO);
        dup2 (err_fd >= 0 ? err_fd : null_fd, STDERR_FILENO);
        execv (argv [0], argv);
        _exit (127);
    }
    if (null_fd >= 0)
        close (null_fd);
    if (err_fd >= 0)
        close (err_fd);
    return pid;
}

//  Lines of the file at path holding text.
static long
s_count (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [2048];
    long count = 0;
    while (fgets (line, sizeof line, file))
        count += strstr (line, text) != NULL;
    fclose (file);
    return count;
}

typedef struct {
    const bench_opts_t *opts;
    char dir [256];                 //  Scratch directory for the logs
    char broker_log [300], workers_log [300];
    char endpoint [64];
    pid_t broker;
    pid_t *workers;
    int worker_count;
} s_run_t;

//  Starts a broker (verbose, its log in the scratch directory) and waits
//  until it wrote its endpoint.
static bool
s_broker_start (s_run_t *run, const char *tag)
{
    char path [4200], file [320];
    bench_broker_path (path, sizeof path);
    snprintf (run->broker_log, sizeof run->broker_log, "%s/broker-%s.log", run->dir, tag);
    snprintf (file, sizeof file, "%s/broker-%s.endpoint", run->dir, tag);
    char *argv [] = { path, "--bind", "tcp://127.0.0.1:*", "--endpoint-file", file,
                      "--max-client-pending", "2000000", "--verbose", NULL };
    run->broker = s_spawn (argv, -1, -1, run->broker_log);
    for (int i = 0; i < 1000 && access (file, F_OK) != 0; i++)
        usleep (10000);
    FILE *in = fopen (file, "r");
    bool ok = in && fgets (run->endpoint, sizeof run->endpoint, in);
    if (in)
        fclose (in);
    run->endpoint [strcspn (run->endpoint, "\n")] = 0;
    if (!ok)
        bench_note ("scale: the broker did not start (log %s)", run->broker_log);
    return ok;
}

//  Waits up to timeout_s until the broker's log says count workers are
//  ready; false (noted) when they are not.
static bool
s_wait_ready (s_run_t *run, long count, double timeout_s)
{
    double deadline = bench_now () + timeout_s;
    long ready = 0;
    while ((ready = s_count (run->broker_log, " ready")) < count && bench_now () < deadline)
        usleep (100000);
    if (ready < count)
        bench_note ("scale: %ld of %ld workers ready after %.0f s", ready, count, timeout_s);
    return ready >= count;
}

static void
s_stop_all (pid_t *pids, int count)
{
    for (int i = 0; i < count; i++)
        if (pids [i] > 0)
            kill (pids [i], SIGTERM);
    for (int i = 0; i < count; i++)
        if (pids [i] > 0)
            waitpid (pids [i], NULL, 0);
}

static double
s_workers_cpu (const s_run_t *run)
{
    double cpu = 0;
    for (int i = 0; i < run->worker_count; i++) {
        double one = bench_proc_cpu (run->workers [i]);
        cpu += isnan (one) ? 0 : one;
    }
    return cpu;
}

//  How many times the threads of the worker processes went to sleep and
//  were woken again, all told (voluntary context switches, from /proc).
static long
s_workers_wakeups (const s_run_t *run)
{
    long total = 0;
    for (int i = 0; i < run->worker_count; i++) {
        char path [64];
        snprintf (path, sizeof path, "/proc/%d/task", (int) run->workers [i]);
        DIR *dir = opendir (path);
        struct dirent *entry;
        while (dir && (entry = readdir (dir))) {
            if (entry->d_name [0] == '.')
                continue;
            char status [400], line [256];
            snprintf (status, sizeof status, "%s/%s/status", path, entry->d_name);
            FILE *file = fopen (status, "r");
            while (file && fgets (line, sizeof line, file))
                if (strncmp (line, "voluntary_ctxt_switches:", 24) == 0)
                    total += atol (line + 24);
            if (file)
                fclose (file);
        }
        if (dir)
            closedir (dir);
    }
    return total;
}

//  ---------------------------------------------------------------------
//  Coordinators

//  Hidden mode --scale-client ENDPOINT COUNT [echo]: one coordinator
//  (with echo, of simulated workers, which answer i for i). Says
//  "ready" once a first task came back, waits for EOF on stdin (the go),
//  submits COUNT tiny tasks at once, and prints "done OK FAILED LOST
//  SECONDS" (LOST: failures saying the broker was not heard from).
int
bench_scale_client (const char *endpoint, long count, bool echo)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = S_HEARTBEAT_MS, .liveness = 3 };
    zx_executor_t *remote = loop ? zx_remote_executor_new (endpoint, &opts) : NULL;
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    if (!remote || !futures)
        return 1;
    zx_future_t *first = zx_run_in_executor (loop, remote, "bench_square", zx_values_pack ("i", (int64_t) 3));
    zx_wait (&first, 1, ZX_ALL_COMPLETED, 60000, NULL, NULL, NULL, NULL);
    if (zx_future_error (first) != ZX_OK) {
        fprintf (stderr, "scale client: %s\n", zx_future_message (first));
        return 1;
    }
    zx_future_destroy (&first);
    printf ("ready\n");
    fflush (stdout);
    char byte;
    while (read (STDIN_FILENO, &byte, 1) > 0)
        ;
    double start = bench_now ();
    for (long i = 0; i < count; i++)
        futures [i] = zx_run_in_executor (loop, remote, "bench_square", zx_values_pack ("i", (int64_t) i));
    zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    double elapsed = bench_now () - start;
    long ok = 0, failed = 0, lost = 0;
    for (long i = 0; i < count; i++) {
        int64_t value = -1;
        if (zx_future_result_int (futures [i], &value) == ZX_OK
        &&  value == (echo ? (int64_t) i : (int64_t) i * i))
            ok++;
        else {
            failed++;
            const char *message = zx_future_message (futures [i]);
            if (message && strstr (message, "not heard from"))
                lost++;
        }
        zx_future_destroy (&futures [i]);
    }
    printf ("done %ld %ld %ld %.6f\n", ok, failed, lost, elapsed);
    fflush (stdout);
    free (futures);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    return 0;
}

typedef struct {
    double tasks_per_s;
    long ok, failed, lost;
    double broker_cpu, workers_cpu;     //  Seconds over the run
} s_load_t;

//  Reads one line from fd into line (size), waiting up to timeout_s.
static bool
s_read_line (int fd, char *line, size_t size, double timeout_s)
{
    size_t length = 0;
    double deadline = bench_now () + timeout_s;
    while (length + 1 < size) {
        struct pollfd item = { fd, POLLIN, 0 };
        int left = (int) ((deadline - bench_now ()) * 1000);
        if (left <= 0 || poll (&item, 1, left) <= 0)
            return false;
        char c;
        if (read (fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        line [length++] = c;
    }
    line [length] = 0;
    return true;
}

//  Runs clients coordinators of count tasks each against the broker, let
//  go at once; false (noted) when one did not start or report.
static bool
s_load (s_run_t *run, int clients, long count, bool echo, s_load_t *load)
{
    memset (load, 0, sizeof *load);
    int go [2];
    if (pipe2 (go, O_CLOEXEC) != 0)
        return false;
    pid_t *pids = calloc ((size_t) clients, sizeof (pid_t));
    int *outs = calloc ((size_t) clients, sizeof (int));
    char number [24];
    snprintf (number, sizeof number, "%ld", count);
    char *argv [] = { (char *) bench_self (), "--scale-client", run->endpoint, number,
                      echo ? "echo" : NULL, NULL };
    bool ok = pids && outs;
    for (int i = 0; ok && i < clients; i++) {
        int out [2];
        if (pipe2 (out, O_CLOEXEC) != 0) {
            ok = false;
            break;
        }
        pids [i] = s_spawn (argv, go [0], out [1], run->workers_log);
        close (out [1]);
        outs [i] = out [0];
    }
    close (go [0]);
    char line [256];
    for (int i = 0; ok && i < clients; i++)
        if (!s_read_line (outs [i], line, sizeof line, 120) || strcmp (line, "ready") != 0) {
            bench_note ("scale: coordinator %d of %d did not start", i + 1, clients);
            ok = false;
        }
    double broker_cpu = bench_proc_cpu (run->broker);
    double workers_cpu = s_workers_cpu (run);
    double start = bench_now ();
    close (go [1]);                 //  Go: every one reads EOF at once
    for (int i = 0; ok && i < clients; i++) {
        long done_ok, done_failed, done_lost;
        double seconds;
        if (!s_read_line (outs [i], line, sizeof line, 600)
        ||  sscanf (line, "done %ld %ld %ld %lf", &done_ok, &done_failed, &done_lost,
                    &seconds) != 4) {
            bench_note ("scale: coordinator %d of %d did not report", i + 1, clients);
            ok = false;
            break;
        }
        load->ok += done_ok;
        load->failed += done_failed;
        load->lost += done_lost;
    }
    double elapsed = bench_now () - start;
    load->broker_cpu = bench_proc_cpu (run->broker) - broker_cpu;
    load->workers_cpu = s_workers_cpu (run) - workers_cpu;
    load->tasks_per_s = (double) load->ok / elapsed;
    for (int i = 0; outs && i < clients; i++)
        if (outs [i] > 0)
            close (outs [i]);
    if (pids)
        s_stop_all (pids, clients);
    free (pids);
    free (outs);
    return ok;
}

//  ---------------------------------------------------------------------
//  Real workers

static void
s_name (char *name, size_t size, const char *what, int workers, int clients)
{
    if (clients)
        snprintf (name, size, "scale_%s_w%d_c%d", what, workers, clients);
    else
        snprintf (name, size, "scale_%s_w%d", what, workers);
}

//  Tasks/s of the 2-worker run, per coordinator count (0: not measured).
static double s_base [2];

static void
s_one_count (s_run_t *run, int workers)
{
    const bench_opts_t *opts = run->opts;
    char tag [32], name [96];
    snprintf (tag, sizeof tag, "w%d", workers);
    if (!s_broker_start (run, tag))
        return;
    snprintf (run->workers_log, sizeof run->workers_log, "%s/workers-%s.log", run->dir, tag);
    run->workers = calloc ((size_t) workers, sizeof (pid_t));
    run->worker_count = workers;
    char *argv [] = { (char *) bench_self (), "--serve", run->endpoint, "1", NULL };
    for (int i = 0; run->workers && i < workers; i++)
        run->workers [i] = s_spawn (argv, -1, -1, run->workers_log);
    if (run->workers && s_wait_ready (run, workers, 60 + workers / 10.0)) {
        //  Idle: heartbeats only, after a second to settle
        sleep (1);
        double idle_s = opts->quick ? 3 : 5;
        double cpu = bench_proc_cpu (run->broker);
        double wcpu = s_workers_cpu (run);
        long wakeups = s_workers_wakeups (run);
        usleep ((useconds_t) (idle_s * 1e6));
        cpu = bench_proc_cpu (run->broker) - cpu;
        wcpu = s_workers_cpu (run) - wcpu;
        wakeups = s_workers_wakeups (run) - wakeups;
        s_name (name, sizeof name, "idle_broker_cpu", workers, 0);
        bench_report (name, "remote", cpu * 1e6 / idle_s / workers, "us/s/worker");
        s_name (name, sizeof name, "idle_worker_cpu", workers, 0);
        bench_report (name, "remote", wcpu * 1e6 / idle_s / workers, "us/s/worker");
        //  All its threads: its loop, libzmq's, its pool's
        s_name (name, sizeof name, "idle_worker_wakeups", workers, 0);
        bench_report (name, "remote", (double) wakeups / idle_s / workers, "/s/worker");
        const int clients [2] = { 1, 50 };
        for (int k = 0; k < 2; k++) {
            if (opts->scale_clients && atoi (opts->scale_clients) != clients [k])
                continue;
            long per = opts->scale_tasks / clients [k];
            bench_progress (opts, "scale: %d workers, %d coordinator%s of %ld tasks", workers,
                            clients [k], k ? "s" : "", per);
            long lost_before = s_count (run->broker_log, "declared lost");
            s_load_t load;
            if (!s_load (run, clients [k], per, false, &load))
                continue;
            long deaths = s_count (run->broker_log, "declared lost") - lost_before;
            s_name (name, sizeof name, "throughput", workers, clients [k]);
            bench_report (name, "remote", load.tasks_per_s, "tasks/s");
            if (workers == 2)
                s_base [k] = load.tasks_per_s;
            if (s_base [k] > 0) {
                s_name (name, sizeof name, "vs_2_workers", workers, clients [k]);
                bench_report (name, "remote", load.tasks_per_s / s_base [k], "x");
            }
            s_name (name, sizeof name, "broker_cpu", workers, clients [k]);
            bench_report (name, "remote", load.broker_cpu * 1e6 / (double) load.ok, "us/task");
            s_name (name, sizeof name, "worker_cpu", workers, clients [k]);
            bench_report (name, "remote", load.workers_cpu * 1e6 / (double) load.ok, "us/task");
            s_name (name, sizeof name, "failed_tasks", workers, clients [k]);
            bench_report (name, "remote", (double) load.failed, "tasks");
            s_name (name, sizeof name, "workers_declared_lost", workers, clients [k]);
            bench_report (name, "remote", (double) deaths, "workers");
            s_name (name, sizeof name, "coordinators_lost_broker", workers, clients [k]);
            bench_report (name, "remote", (double) load.lost, "tasks");
        }
        //  Workers that gave up on the broker, over the whole spell
        s_name (name, sizeof name, "workers_lost_broker", workers, 0);
        bench_report (name, "remote", (double) s_count (run->workers_log, "not heard from"),
                      "times");
    }
    if (run->workers)
        s_stop_all (run->workers, workers);
    free (run->workers);
    run->workers = NULL;
    run->worker_count = 0;
    bench_stop (run->broker);
}

//  ---------------------------------------------------------------------
//  Simulated workers

static volatile sig_atomic_t s_stopping;

static void
s_on_term (int sig)
{
    (void) sig;
    s_stopping = 1;
}

typedef struct {
    void *socket;
    int64_t sent_ms;
} s_sim_t;

//  One visit: read what waits, answer each REQUEST by echoing its
//  arguments, and send a HEARTBEAT as zx_serve's worker does: at once for
//  the broker's when it has said nothing for half an interval, else (the
//  worker's own tick) after an interval and an eighth of quiet: any
//  message counts for the broker.
//  Returns the records answered; *heard says a HEARTBEAT came.
static long
s_sim_visit (s_sim_t *sim, zx__batch_t *batch, int64_t now_ms, bool *heard)
{
    zx__route_t route = { sim->socket, ZX_FACE_WORKER, ZMQ_DONTWAIT, NULL, 0, NULL, NULL };
    long answered = 0;
    bool beat = false;
    for (;;) {
        zx__msg_t msg;
        zx__recv_t rc = zx__recv_dealer (sim->socket, ZX_FACE_WORKER, &msg);
        if (rc == ZX_RECV_NONE) {
            zx__msg_close (&msg);
            break;
        }
        if (rc == ZX_RECV_OK && msg.command == ZX_CMD_HEARTBEAT)
            beat = true;
        if (rc == ZX_RECV_OK && msg.command == ZX_CMD_REQUEST && msg.ok) {
            const uint8_t *cursor = msg.batch, *end = cursor + msg.batch_size;
            zx__request_rec_t rec;
            zx__batch_clear (batch);
            while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK)
                if (zx__batch_add_reply (batch, rec.corr, rec.attempt, ZX_STATUS_OK, rec.args,
                                         rec.args_size) == ZX_OK)
                    answered++;
            if (batch->records && zx__send_reply_batch (&route, batch) == ZX_OK)
                sim->sent_ms = now_ms;
        }
        zx__msg_close (&msg);
    }
    int64_t quiet = now_ms - sim->sent_ms;
    if (((beat && quiet >= S_HEARTBEAT_MS / 2) || quiet >= S_HEARTBEAT_MS * 9 / 8)
    &&  zx__send_heartbeat (&route, S_HEARTBEAT_MS) == ZX_OK)
        sim->sent_ms = now_ms;
    if (heard)
        *heard = beat;
    return answered;
}

//  Hidden mode --scale-sim ENDPOINT COUNT FIRST: COUNT simulated workers
//  (ids sim-FIRST, sim-FIRST+1, ...) until SIGTERM. A worker answers the
//  broker's heartbeat as soon as it comes (zx_worker.c), and the broker
//  sends its heartbeats to all workers on one tick: so when the first
//  socket hears one, all of them are visited 20 ms later (the broker has
//  sent to all by then, as a rule), and their answers reach the broker
//  together, as real workers' do. Besides, each socket is visited once a
//  second, a hundredth of them every 10 ms, for requests and stragglers.
int
bench_scale_sim (const char *endpoint, int count, int first)
{
    s_raise_fds ();
    signal (SIGTERM, s_on_term);
    void *context = zmq_ctx_new ();
    int max = count + 64;
    zmq_ctx_set (context, ZMQ_MAX_SOCKETS, max);
    s_sim_t *sims = calloc ((size_t) count, sizeof (s_sim_t));
    if (!context || !sims)
        return 1;
    zx__ready_t ready = { .credits = 1, .pid = (uint32_t) getpid (), .parallel = 1 };
    for (int i = 0; i < count; i++) {
        sims [i].socket = zmq_socket (context, ZMQ_DEALER);
        if (!sims [i].socket) {
            fprintf (stderr, "scale sim: socket %d: %s\n", i, zmq_strerror (errno));
            return 1;
        }
        char identity [32];
        snprintf (identity, sizeof identity, "sim-%d", first + i);
        int zero = 0;
        zmq_setsockopt (sims [i].socket, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt (sims [i].socket, ZMQ_ROUTING_ID, identity, strlen (identity));
        if (zmq_connect (sims [i].socket, endpoint) != 0)
            return 1;
    }
    //  READY once all are made: making them takes seconds on a loaded
    //  machine, in which the first ones would fall silent
    for (int i = 0; i < count; i++) {
        char identity [32];
        snprintf (identity, sizeof identity, "sim-%d", first + i);
        zx__route_t route = { sims [i].socket, ZX_FACE_WORKER, 0, NULL, 0, NULL, NULL };
        zx__send_ready (&route, "default", &ready, identity);
        zx__send_heartbeat (&route, S_HEARTBEAT_MS);
        sims [i].sent_ms = (int64_t) (bench_now () * 1000);
    }
    zx__batch_t batch = { 0 };
    long answered = 0;
    int next = 0;
    int slice = count / 100 + 1;
    int64_t slice_ms = 0, sweep_ms = 0;
    while (!s_stopping) {
        zmq_pollitem_t sentinel = { sims [0].socket, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&sentinel, 1, 10);
        int64_t now_ms = (int64_t) (bench_now () * 1000);
        bool heard = false;
        if (sentinel.revents & ZMQ_POLLIN) {
            answered += s_sim_visit (&sims [0], &batch, now_ms, &heard);
            if (heard && !sweep_ms)
                sweep_ms = now_ms + 20;
        }
        if (sweep_ms && now_ms >= sweep_ms) {
            for (int i = 1; i < count; i++)
                answered += s_sim_visit (&sims [i], &batch, now_ms, NULL);
            sweep_ms = 0;
        }
        if (now_ms - slice_ms >= 10) {
            slice_ms = now_ms;
            for (int k = 0; k < slice; k++, next = (next + 1) % count)
                answered += s_sim_visit (&sims [next], &batch, now_ms, NULL);
        }
    }
    fprintf (stderr, "scale sim: %d workers answered %ld tasks\n", count, answered);
    for (int i = 0; i < count; i++)
        zmq_close (sims [i].socket);
    zx__batch_free (&batch);
    free (sims);
    zmq_ctx_term (context);
    return 0;
}

static void
s_simulated (s_run_t *run, int workers)
{
    const bench_opts_t *opts = run->opts;
    char tag [32], name [96];
    snprintf (tag, sizeof tag, "sim%d", workers);
    if (!s_broker_start (run, tag))
        return;
    snprintf (run->workers_log, sizeof run->workers_log, "%s/sim-%s.log", run->dir, tag);
    int processes = (workers + S_SIM_PER_PROCESS - 1) / S_SIM_PER_PROCESS;
    pid_t *sims = calloc ((size_t) processes, sizeof (pid_t));
    for (int p = 0; sims && p < processes; p++) {
        int first = p * S_SIM_PER_PROCESS;
        int count = workers - first < S_SIM_PER_PROCESS ? workers - first : S_SIM_PER_PROCESS;
        char number [24], start [24];
        snprintf (number, sizeof number, "%d", count);
        snprintf (start, sizeof start, "%d", first);
        char *argv [] = { (char *) bench_self (), "--scale-sim", run->endpoint, number, start,
                          NULL };
        sims [p] = s_spawn (argv, -1, -1, run->workers_log);
    }
    bench_progress (opts, "scale: %d simulated workers in %d processes", workers, processes);
    if (sims && s_wait_ready (run, workers, 120)) {
        sleep (2);
        double idle_s = opts->quick ? 5 : 10;
        long lost_before = s_count (run->broker_log, "declared lost");
        double cpu = bench_proc_cpu (run->broker);
        double main_cpu = bench_thread_cpu (run->broker, run->broker);
        usleep ((useconds_t) (idle_s * 1e6));
        cpu = bench_proc_cpu (run->broker) - cpu;
        main_cpu = bench_thread_cpu (run->broker, run->broker) - main_cpu;
        s_name (name, sizeof name, "sim_idle_broker_cpu", workers, 0);
        bench_report (name, "remote", cpu * 1e6 / idle_s / workers, "us/s/worker");
        //  Its loop's thread, and libzmq's (the I/O thread, the reaper)
        s_name (name, sizeof name, "sim_idle_broker_loop_cpu", workers, 0);
        bench_report (name, "remote", main_cpu * 1e6 / idle_s / workers, "us/s/worker");
        s_name (name, sizeof name, "sim_idle_broker_libzmq_cpu", workers, 0);
        bench_report (name, "remote", (cpu - main_cpu) * 1e6 / idle_s / workers, "us/s/worker");
        s_name (name, sizeof name, "sim_broker_cores", workers, 0);
        bench_report (name, "remote", cpu / idle_s, "cores");
        //  Tasks through them: every one must come back (each waits for
        //  its worker's next visit, up to a second)
        s_load_t load;
        long count = workers * 2L;
        if (s_load (run, 1, count, true, &load)) {
            s_name (name, sizeof name, "sim_tasks_answered", workers, 0);
            bench_report (name, "remote", (double) load.ok, "tasks");
            if (load.ok != count)
                bench_note ("scale: %ld of %ld tasks through simulated workers came back right",
                            load.ok, count);
        }
        s_name (name, sizeof name, "sim_workers_declared_lost", workers, 0);
        bench_report (name, "remote",
                      (double) (s_count (run->broker_log, "declared lost") - lost_before),
                      "workers");
    }
    if (sims)
        s_stop_all (sims, processes);
    free (sims);
    bench_stop (run->broker);
}

//  ---------------------------------------------------------------------

void
bench_scale_run (const bench_opts_t *opts)
{
    s_raise_fds ();
    s_run_t run = { .opts = opts };
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (run.dir, sizeof run.dir, "%s/zexec-scale-XXXXXX", tmp);
    if (!mkdtemp (run.dir)) {
        bench_note ("scale: cannot make a scratch directory in %s", tmp);
        return;
    }
    bench_progress (opts, "scale: logs in %s", run.dir);
    char list [256];
    snprintf (list, sizeof list, "%s", opts->scale_workers);
    for (char *item = strtok (list, ","); item; item = strtok (NULL, ",")) {
        int workers = atoi (item);
        if (workers < 1)
            continue;
        bench_progress (opts, "scale: %d workers", workers);
        s_one_count (&run, workers);
    }
    if (opts->simulate > 0)
        s_simulated (&run, opts->simulate);
}
