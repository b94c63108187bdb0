/*  zexec_broker.c - the zexec-broker program: a zx_broker_t on a loop,
    until SIGINT or SIGTERM.

        zexec-broker --bind tcp://0.0.0.0:5555 [options]

    DESIGN: the broker itself is the library's (include/zexec/broker.h,
    broker/zx_broker.c); this file only turns the command line (or a
    config file) into its options, binds, says where it listens and how
    it is secured, and runs the loop. Signals arrive through a signalfd
    the same loop reads: on one, the broker stops taking work, the loop
    stops, and destroying the broker tells coordinators and workers.    */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_cli.h"
#include "zx_loop.h"
#include "zx_metrics.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#define S_TEXT(number)  S_TEXT_ (number)
#define S_TEXT_(number) #number

enum {
    O_BIND, O_HEARTBEAT, O_LIVENESS, O_NO_WORKER_WAIT, O_MAX_QUEUE, O_MAX_SERVICES,
    O_MAX_WORKERS, O_MAX_CLIENTS, O_MAX_CLIENT_PENDING, O_MAX_CLIENT_BYTES, O_MAX_QUEUE_BYTES,
    O_MAX_CLIENT_BACKLOG, O_MAX_FRAME_BYTES, O_HANDSHAKE_TIMEOUT, O_CERT, O_CLIENTS, O_WORKERS,
    O_INSECURE, O_EVENTS, O_METRICS, O_ENDPOINT_FILE, O_VERBOSE,
    O_COUNT
};

static const zx_cli_opt_t s_options [O_COUNT] = {
    [O_BIND] = { .name = "bind", .kind = ZX_CLI_LIST, .arg = "ENDPOINT",
        .help = "where coordinators and workers connect, e.g. tcp://0.0.0.0:5555 or "
                "ipc:///tmp/zexec.ipc; a wildcard (tcp://127.0.0.1:*) binds a free port",
        .max_count = 16, .required = "say where to listen" },
    [O_HEARTBEAT] = { .name = "heartbeat", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "heartbeat interval", .fallback = S_TEXT (ZX__BROKER_HEARTBEAT_MS),
        .low = ZX__BROKER_HEARTBEAT_MIN, .high = ZX__BROKER_HEARTBEAT_MAX },
    [O_LIVENESS] = { .name = "liveness", .kind = ZX_CLI_INT, .arg = "N",
        .help = "intervals of silence before a peer is gone",
        .fallback = S_TEXT (ZX__BROKER_LIVENESS),
        .low = ZX__BROKER_LIVENESS_MIN, .high = ZX__BROKER_LIVENESS_MAX },
    [O_NO_WORKER_WAIT] = { .name = "no-worker-wait", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "how long a request waits for a worker of its service before it fails",
        .fallback = S_TEXT (ZX__BROKER_NO_WORKER_WAIT_MS),
        .low = 0, .high = ZX__BROKER_NO_WORKER_WAIT_MAX },
    [O_MAX_QUEUE] = { .name = "max-queue", .kind = ZX_CLI_INT, .arg = "N",
        .help = "requests queued per service", .fallback = S_TEXT (ZX__BROKER_MAX_QUEUE),
        .low = 1, .high = ZX__BROKER_MAX_QUEUE_MAX },
    [O_MAX_SERVICES] = { .name = "max-services", .kind = ZX_CLI_INT, .arg = "N",
        .help = "services at most", .fallback = S_TEXT (ZX__BROKER_MAX_SERVICES),
        .low = 1, .high = ZX__BROKER_MAX_SERVICES_MAX },
    [O_MAX_WORKERS] = { .name = "max-workers", .kind = ZX_CLI_INT, .arg = "N",
        .help = "workers at most, over all services (when not given, no more than the "
                "open files limit, raised to its hard limit at start, leaves room for)",
        .fallback = S_TEXT (ZX__BROKER_MAX_WORKERS),
        .low = 1, .high = ZX__BROKER_MAX_WORKERS_MAX },
    [O_MAX_CLIENTS] = { .name = "max-clients", .kind = ZX_CLI_INT, .arg = "N",
        .help = "coordinators at most; past it, a new one's tasks fail with `queue full' "
                "(when not given, no more than the open files limit leaves room for)",
        .fallback = S_TEXT (ZX__BROKER_MAX_CLIENTS),
        .low = 1, .high = ZX__BROKER_MAX_CLIENTS_MAX },
    [O_MAX_CLIENT_PENDING] = { .name = "max-client-pending", .kind = ZX_CLI_INT, .arg = "N",
        .help = "requests one coordinator may have queued or running at once; past it, "
                "`queue full'",
        .fallback = S_TEXT (ZX__BROKER_MAX_PENDING),
        .low = 1, .high = ZX__BROKER_MAX_PENDING_MAX },
    [O_MAX_CLIENT_BYTES] = { .name = "max-client-bytes", .kind = ZX_CLI_INT, .arg = "N",
        .help = "argument bytes one coordinator may have queued or running at once; past "
                "it, `queue full'",
        .fallback = S_TEXT (ZX__BROKER_CLIENT_BYTES),
        .low = ZX__BROKER_BYTES_MIN, .high = ZX__BROKER_BYTES_MAX },
    [O_MAX_QUEUE_BYTES] = { .name = "max-queue-bytes", .kind = ZX_CLI_INT, .arg = "N",
        .help = "argument bytes queued per service; past it, `queue full'",
        .fallback = S_TEXT (ZX__BROKER_QUEUE_BYTES),
        .low = ZX__BROKER_BYTES_MIN, .high = ZX__BROKER_BYTES_MAX },
    [O_MAX_CLIENT_BACKLOG] = { .name = "max-client-backlog", .kind = ZX_CLI_INT, .arg = "N",
        .help = "bytes of replies that may wait for a coordinator that does not read them "
                "(past the 100 messages its connection holds); past it, it is dropped",
        .fallback = S_TEXT (ZX__BROKER_BACKLOG),
        .low = ZX__BROKER_BACKLOG_MIN, .high = ZX__BROKER_BACKLOG_MAX },
    [O_MAX_FRAME_BYTES] = { .name = "max-frame-bytes", .kind = ZX_CLI_INT, .arg = "N",
        .help = "largest frame a peer may send; a bigger one closes its connection",
        .fallback = S_TEXT (ZX__BROKER_MAX_FRAME),
        .low = ZX__BROKER_MAX_FRAME_MIN, .high = LONG_MAX },
    [O_HANDSHAKE_TIMEOUT] = { .name = "handshake-timeout", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "a connection that has not finished its handshake by then is closed",
        .fallback = S_TEXT (ZX__BROKER_HANDSHAKE_MS),
        .low = ZX__BROKER_HANDSHAKE_MIN, .high = ZX__BROKER_HANDSHAKE_MAX },
    [O_CERT] = { .name = "cert", .kind = ZX_CLI_STRING, .arg = "PATH",
        .help = "the broker's certificate (PATH or PATH_secret, as zexec-keygen makes them)",
        .section = "CURVE security (all three together; docs/SECURITY.md):" },
    [O_CLIENTS] = { .name = "clients", .kind = ZX_CLI_STRING, .arg = "DIR",
        .help = "public certificates of the coordinators that may submit work" },
    [O_WORKERS] = { .name = "workers", .kind = ZX_CLI_STRING, .arg = "DIR",
        .help = "public certificates of the workers that may serve (both directories are "
                "read again when they change)" },
    [O_INSECURE] = { .name = "insecure", .kind = ZX_CLI_FLAG,
        .help = "without CURVE, bind tcp on addresses other than loopback all the same "
                "(anyone who reaches them can submit work and serve as a worker)" },
    [O_EVENTS] = { .name = "events", .kind = ZX_CLI_STRING, .arg = "ENDPOINT",
        .help = "publish task, worker and coordinator events on a PUB socket bound there, "
                "e.g. tcp://127.0.0.1:5556 (a wildcard binds a free port); no "
                "authentication, even with CURVE: bind it to loopback or a private address",
        .section = "Observability (docs/OBSERVABILITY.md):" },
    [O_METRICS] = { .name = "metrics", .kind = ZX_CLI_STRING, .arg = "ADDRESS:PORT",
        .help = "serve Prometheus metrics over HTTP at http://ADDRESS:PORT/metrics (port 0: "
                "a free one); no authentication: bind it to loopback or a private address" },
    [O_ENDPOINT_FILE] = { .name = "endpoint-file", .kind = ZX_CLI_STRING, .arg = "PATH",
        .help = "once listening, write the endpoints bound, one per line, to PATH (a "
                "wildcard such as tcp://127.0.0.1:* written as the port it got)",
        .section = "" },
    [O_VERBOSE] = { .name = "verbose", .kind = ZX_CLI_FLAG,
        .help = "log every worker and coordinator event" },
};

static const zx_cli_spec_t s_spec = {
    .program = "zexec-broker",
    .usage = "--bind ENDPOINT [--bind ENDPOINT ...] [options]",
    .summary = "Routes work from zexec coordinators to zexec workers.",
    .description =
        "Coordinators (programs using a remote executor) and workers (zexec-worker, or "
        "programs serving with zx_serve) connect to the endpoints it binds. Each service "
        "(named pool) has its own queue; workers are dealt requests by the credits they "
        "announce, heartbeats go both ways, and a peer not heard from for liveness "
        "intervals is gone: a worker's tasks are retried or fail, a coordinator's are "
        "cancelled.\n\n"
        "Without CURVE keys anyone who can reach a tcp endpoint can submit work and run it "
        "as a worker: the broker says so when it starts. With --cert, --clients and "
        "--workers, only listed keys get in, each in its role. On SIGINT or SIGTERM it "
        "fails the work in flight as shut down, dismisses its workers and exits 0.",
    .exit_failure = "The broker could not start: it cannot enforce CURVE, bind an endpoint "
                    "or write the endpoint file",
    .see_also = "zexec-worker(1), zexec-keygen(1), systemd.exec(5); "
                "OPERATIONS.md and SECURITY.md in /usr/share/doc/zexec/docs/",
    .files = (const zx_cli_note_t []) {
        { .term = "/etc/zexec/broker.conf",
          .text = "the configuration the Debian package's zexec-broker.service runs it with "
                  "(--config), every option in it explained" },
        { .term = "/etc/zexec/keys/",
          .text = "that unit's CURVE keys: broker_secret (owned by the user zexec, mode "
                  "0600) and the allow-lists clients/ and workers/" },
        { .term = NULL } },
    .examples = (const zx_cli_note_t []) {
        { .text = "Listen on one address, letting in only the keys listed "
                  "(zexec-keygen(1) makes them):",
          .term = "zexec-broker --bind tcp://10.0.0.2:5555 --cert broker_secret \\\n"
                  "    --clients clients/ --workers workers/" },
        { .text = "Listen on a free loopback port without keys, and write which to a file:",
          .term = "zexec-broker --bind 'tcp://127.0.0.1:*' --endpoint-file broker.endpoint" },
        { .text = "Run as the systemd unit does:",
          .term = "zexec-broker --config /etc/zexec/broker.conf" },
        { .term = NULL } },
    .options = s_options,
    .option_count = O_COUNT,
};

typedef struct {
    zx_broker_t *broker;
    zx_logger_t *log;
    int signal_fd;
    zx__metrics_t *metrics;         //  --metrics, or NULL
} s_program_t;

static char *
s_render_metrics (void *arg, size_t *size)
{
    return zx__broker_metrics ((zx_broker_t *) arg, size);
}

//  Starts the --metrics server, saying where; false after reporting why not.
static bool
s_metrics_start (s_program_t *self, const char *address)
{
    char why [300];
    if (!zx__broker_tel (self->broker)) {
        fprintf (stderr, "zexec-broker: out of memory\n");
        return false;
    }
    self->metrics = zx__metrics_new (address, s_render_metrics, self->broker, why, sizeof why);
    if (!self->metrics) {
        fprintf (stderr, "zexec-broker: %s\n", why);
        return false;
    }
    const char *colon = strrchr (address, ':');
    fprintf (stderr, "zexec-broker: metrics on http://%.*s:%d/metrics\n",
             (int) (colon - address), address, zx__metrics_port (self->metrics));
    return true;
}

static void
s_on_signal (zx_loop_t *loop, void *arg)
{
    s_program_t *self = (s_program_t *) arg;
    struct signalfd_siginfo info;
    if (read (self->signal_fd, &info, sizeof info) == (ssize_t) sizeof info)
        zx_log_warning (self->log, "signal %u: shutting down", info.ssi_signo);
    zx_broker_close (self->broker);
    zx_loop_stop (loop);
}

//  The broker's options from the command line; false after reporting
//  CURVE options that do not go together.
static bool
s_broker_opts (zx_cli_t *cli, zx_broker_opts_t *opts)
{
    *opts = (zx_broker_opts_t) {
        .heartbeat_ms = (int) zx_cli_int (cli, O_HEARTBEAT),
        .liveness = (int) zx_cli_int (cli, O_LIVENESS),
        .no_worker_wait_ms = zx_cli_int (cli, O_NO_WORKER_WAIT)
                           ? (int) zx_cli_int (cli, O_NO_WORKER_WAIT) : ZX_BROKER_NO_WAIT,
        .max_queue = (size_t) zx_cli_int (cli, O_MAX_QUEUE),
        .max_services = (size_t) zx_cli_int (cli, O_MAX_SERVICES),
        .max_workers = (size_t) zx_cli_int (cli, O_MAX_WORKERS),
        .max_clients = (size_t) zx_cli_int (cli, O_MAX_CLIENTS),
        .max_client_pending = (size_t) zx_cli_int (cli, O_MAX_CLIENT_PENDING),
        .max_frame_bytes = zx_cli_int (cli, O_MAX_FRAME_BYTES),
        .max_client_bytes = zx_cli_int (cli, O_MAX_CLIENT_BYTES),
        .max_queue_bytes = zx_cli_int (cli, O_MAX_QUEUE_BYTES),
        .max_client_backlog = zx_cli_int (cli, O_MAX_CLIENT_BACKLOG),
        .handshake_timeout_ms = (int) zx_cli_int (cli, O_HANDSHAKE_TIMEOUT),
        .curve_cert = zx_cli_string (cli, O_CERT),
        .curve_clients_dir = zx_cli_string (cli, O_CLIENTS),
        .curve_workers_dir = zx_cli_string (cli, O_WORKERS),
        .events_endpoint = zx_cli_string (cli, O_EVENTS),
    };
    bool curve = opts->curve_cert || opts->curve_clients_dir || opts->curve_workers_dir;
    if (curve && !(opts->curve_cert && opts->curve_clients_dir && opts->curve_workers_dir)) {
        zx_cli_error (cli, "CURVE needs --cert, --clients and --workers together (missing %s)",
                      !opts->curve_cert ? "--cert"
                      : !opts->curve_clients_dir ? "--clients" : "--workers");
        return false;
    }
    return true;
}

//  Binds every --bind, saying where it listens and how it is secured.
//  Whether endpoint is tcp on an address other than loopback: a wildcard
//  (*, 0.0.0.0, ::), an interface or a host name other than localhost.
static bool
s_tcp_beyond_loopback (const char *endpoint)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    //  A source address ("tcp://SOURCE;HOST:PORT") is for connecting only
    const char *semicolon = strchr (host, ';');
    if (semicolon)
        host = semicolon + 1;
    const char *colon = strrchr (host, ':');
    size_t size = colon ? (size_t) (colon - host) : strlen (host);
    char name [256];
    if (size >= sizeof name)
        return true;
    memcpy (name, host, size);
    name [size] = 0;
    return !(strncmp (name, "127.", 4) == 0 || streq (name, "localhost") || streq (name, "lo")
             || streq (name, "[::1]") || streq (name, "::1"));
}

static bool
s_bind_all (zx_broker_t *broker, zx_cli_t *cli)
{
    //  What libzmq cannot bound (a message is assembled whole before the
    //  broker sees it) must not be open to anyone by mistake
    for (size_t i = 0; i < zx_cli_count (cli, O_BIND); i++) {
        const char *endpoint = zx_cli_item (cli, O_BIND, i);
        if (!zx_broker_curve_key (broker) && !zx_cli_flag (cli, O_INSECURE)
        &&  s_tcp_beyond_loopback (endpoint)) {
            fprintf (stderr, "zexec-broker: refusing to bind %s without CURVE keys: anyone "
                     "who reaches it could submit work, serve as a worker and make the "
                     "broker hold what libzmq cannot bound (SECURITY.md). Give --cert, "
                     "--clients and --workers, bind a loopback address, or say --insecure\n",
                     endpoint);
            return false;
        }
    }
    for (size_t i = 0; i < zx_cli_count (cli, O_BIND); i++) {
        const char *endpoint = zx_cli_item (cli, O_BIND, i);
        char why [512];
        const char *bound = zx_broker_bind (broker, endpoint, why, sizeof why);
        if (!bound) {
            fprintf (stderr, "zexec-broker: %s\n", why);
            return false;
        }
        fprintf (stderr, "zexec-broker: listening on %s\n", bound);
        if (zx_broker_curve_key (broker))
            fprintf (stderr, "zexec-broker: CURVE on %s: server key %s; %zu coordinator and "
                     "%zu worker keys allowed\n", bound, zx_broker_curve_key (broker),
                     zx__broker_allowed_keys (broker, ZX_ROLE_CLIENT),
                     zx__broker_allowed_keys (broker, ZX_ROLE_WORKER));
        else
        if (strncmp (endpoint, "tcp://", 6) == 0)
            fprintf (stderr, "zexec-broker: WARNING: no authentication on %s: anyone who can "
                             "reach it can submit work and run it as a worker\n", bound);
    }
    return true;
}

//  Writes the endpoints bound, one per line, to path: into a file beside
//  it, then renamed, so whoever waits for path never reads half of it.
static bool
s_write_endpoints (const char *path, zx_broker_t *broker)
{
    char *temp = zsys_sprintf ("%s.%d.tmp", path, (int) getpid ());
    FILE *file = temp ? fopen (temp, "w") : NULL;
    bool written = file != NULL;
    const char *item;
    for (size_t i = 0; file && (item = zx_broker_endpoint (broker, i)); i++)
        written = written && fprintf (file, "%s\n", item) > 0;
    if (file && fclose (file) != 0)
        written = false;
    written = written && rename (temp, path) == 0;
    if (temp && !written)
        unlink (temp);
    zstr_free (&temp);
    return written;
}

//  Runs the broker on a loop until a signal; returns the exit status.
static int
s_serve (s_program_t *self)
{
    zx_loop_t *loop = zx_loop_new ();
    if (!loop || zx_broker_attach (self->broker, loop) != ZX_OK
    ||  zx__loop_add_fd (loop, self->signal_fd, s_on_signal, self) != ZX_OK
    ||  (self->metrics && zx__metrics_attach (self->metrics, loop) != ZX_OK)) {
        fprintf (stderr, "zexec-broker: cannot start its loop\n");
        zx__metrics_destroy (&self->metrics);
        zx_broker_destroy (&self->broker);
        zx_loop_destroy (&loop);
        return 1;
    }
    zx_loop_run_forever (loop);
    fprintf (stderr, "zexec-broker: shutting down\n");
    zx__metrics_destroy (&self->metrics);
    zx_broker_destroy (&self->broker);
    zx__loop_remove (loop, NULL, self->signal_fd);
    zx_loop_destroy (&loop);
    return 0;
}

//  Descriptors the broker keeps for itself (libzmq's threads and
//  mailboxes, the loop, the log, the metrics server, CURVE's files): the
//  rest of the fd limit is for peers, one connection each.
#define S_FD_RESERVE 64

//  Raises the soft limit on open files to the hard one (each peer is a
//  connection, and the usual soft limit of 1024 would stop the broker
//  near a thousand), sizes --max-workers and --max-clients when not given
//  to what it allows, and says what it got.
static void
s_fd_limit (zx_cli_t *cli, zx_broker_opts_t *opts)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
        return;
    rlim_t was = limit.rlim_cur;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = limit;
        //  An unlimited hard limit still stops at the kernel's nr_open
        if (raised.rlim_max == RLIM_INFINITY)
            raised.rlim_cur = 1048576;
        else
            raised.rlim_cur = raised.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = raised.rlim_cur;
    }
    size_t peers = limit.rlim_cur > S_FD_RESERVE + 1 ? (size_t) limit.rlim_cur - S_FD_RESERVE
                                                      : 1;
    if (!zx_cli_given (cli, O_MAX_WORKERS) && opts->max_workers > peers)
        opts->max_workers = peers;
    if (!zx_cli_given (cli, O_MAX_CLIENTS) && opts->max_clients > peers)
        opts->max_clients = peers;
    fprintf (stderr, "zexec-broker: open files: limit %llu (was %llu, hard limit %llu): room "
             "for about %zu peers; max-workers %zu, max-clients %zu\n",
             (unsigned long long) limit.rlim_cur, (unsigned long long) was,
             (unsigned long long) limit.rlim_max, peers, opts->max_workers, opts->max_clients);
    if (opts->max_workers > peers || opts->max_clients > peers)
        fprintf (stderr, "zexec-broker: WARNING: max-workers or max-clients is past the about "
                 "%zu peers the open files limit allows: connections past it are refused "
                 "(each logged)\n", peers);
}

//  Runs the broker as the command line says; returns the exit status.
static int
s_run (zx_cli_t *cli, int argc, char **argv)
{
    (void) argc;
    (void) argv;
    zx_broker_opts_t opts;
    if (!s_broker_opts (cli, &opts))
        return 2;
    s_fd_limit (cli, &opts);
    zx_cli_keep_freed_memory (true);
    zx_log_basic_config (zx_cli_flag (cli, O_VERBOSE) ? ZX_LOG_INFO : ZX_LOG_WARNING,
                         "%(asctime)s zexec-broker %(levelname)s: %(message)s");
    //  SIGINT and SIGTERM arrive through a signalfd in the loop. Blocked
    //  before the broker makes its sockets, whose libzmq threads inherit
    //  the mask: else a SIGTERM soon after start could land on one of
    //  them and kill the process instead of stopping it cleanly
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigprocmask (SIG_BLOCK, &signals, NULL);
    s_program_t program = { .log = zx_log_get ("zexec.broker"), .signal_fd = -1 };
    char why [700];
    program.broker = zx_broker_new (&opts, why, sizeof why);
    if (!program.broker) {
        fprintf (stderr, "zexec-broker: %s\n", why);
        return 1;
    }
    program.signal_fd = signalfd (-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    const char *endpoint_file = zx_cli_string (cli, O_ENDPOINT_FILE);
    int status = 1;
    if (program.signal_fd < 0)
        fprintf (stderr, "zexec-broker: cannot create its sockets: %s\n", strerror (errno));
    else
    if (zx_cli_string (cli, O_METRICS) && !s_metrics_start (&program, zx_cli_string (cli, O_METRICS)))
        ;
    else
    if (s_bind_all (program.broker, cli)) {
        if (zx_broker_events_endpoint (program.broker))
            fprintf (stderr, "zexec-broker: events on %s\n",
                     zx_broker_events_endpoint (program.broker));
        if (endpoint_file && !s_write_endpoints (endpoint_file, program.broker))
            fprintf (stderr, "zexec-broker: cannot write %s: %s\n", endpoint_file,
                     strerror (errno));
        else
            status = s_serve (&program);
    }
    zx__metrics_destroy (&program.metrics);
    zx_broker_destroy (&program.broker);
    if (program.signal_fd >= 0)
        close (program.signal_fd);
    return status;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    zsys_handler_set (NULL);
    return zx_cli_main (&s_spec, argc, argv, s_run);
}
