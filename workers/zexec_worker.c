/*  zexec_worker.c - a zexec worker process for a zexec-broker.

    Loads task libraries (shared objects whose ZX_TASK registrations run
    as they load), starts a local pool of threads or processes, and serves
    a broker with it until SIGINT or SIGTERM. Its options are a zx_cli
    table, so --help, --config and the man page come from it.

        zexec-worker --connect tcp://broker:5555 --tasks ./libtasks.so   */

#define _GNU_SOURCE
#include <zexec.h>
#include "zx_cli.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    O_CONNECT, O_TASKS, O_WORKERS, O_PROCESSES, O_SERVICE, O_WINDOW, O_HEARTBEAT,
    O_LIVENESS, O_SERVER_KEY, O_CERT, O_EVENTS, O_VERBOSE, O_COUNT
};

static const zx_cli_opt_t s_options [O_COUNT] = {
    [O_CONNECT] = { .name = "connect", .kind = ZX_CLI_STRING, .arg = "ENDPOINT",
        .help = "the broker, e.g. tcp://10.0.0.2:5555", .required = "say which broker" },
    [O_TASKS] = { .name = "tasks", .kind = ZX_CLI_LIST, .arg = "LIB.so",
        .help = "a task library to load; its ZX_TASK functions become available" },
    [O_WORKERS] = { .name = "workers", .kind = ZX_CLI_INT, .arg = "N",
        .help = "pool size; by default min (32, cores + 4) threads, or as many processes "
                "as cores",
        .low = 1, .high = 1024 },
    [O_PROCESSES] = { .name = "processes", .kind = ZX_CLI_FLAG,
        .help = "run tasks in worker processes, not threads" },
    [O_SERVICE] = { .name = "service", .kind = ZX_CLI_STRING, .arg = "NAME",
        .help = "the service (named pool) to serve; `default' unless given",
        .low = 1, .high = 255 },
    [O_WINDOW] = { .name = "window", .kind = ZX_CLI_INT, .arg = "N",
        .help = "requests held at once; by default 256 per pool worker",
        .low = 1, .high = 65536 },
    [O_HEARTBEAT] = { .name = "heartbeat", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "heartbeat interval", .fallback = "1000", .low = 10, .high = 600000 },
    [O_LIVENESS] = { .name = "liveness", .kind = ZX_CLI_INT, .arg = "N",
        .help = "silent intervals before the broker is gone", .fallback = "3",
        .low = 2, .high = 100 },
    [O_SERVER_KEY] = { .name = "server-key", .kind = ZX_CLI_STRING, .arg = "KEY|FILE",
        .help = "the broker's public key (40 Z85 characters) or its public certificate "
                "file",
        .section = "CURVE security (both together; docs/SECURITY.md):" },
    [O_CERT] = { .name = "cert", .kind = ZX_CLI_STRING, .arg = "PATH",
        .help = "this worker's certificate (PATH or PATH_secret, as zexec-keygen makes "
                "them)" },
    [O_EVENTS] = { .name = "events", .kind = ZX_CLI_STRING, .arg = "ENDPOINT",
        .help = "publish the local pool's task and worker events on a PUB socket bound "
                "there, e.g. tcp://127.0.0.1:5557 (docs/OBSERVABILITY.md); no "
                "authentication: bind it to loopback or a private address",
        .section = "" },
    [O_VERBOSE] = { .name = "verbose", .kind = ZX_CLI_FLAG, .help = "log connections" },
};

static const zx_cli_spec_t s_spec = {
    .program = "zexec-worker",
    .usage = "--connect ENDPOINT [--tasks LIB.so ...] [options]",
    .summary = "Runs tasks for a zexec-broker.",
    .description =
        "Loads the task libraries given (shared objects whose ZX_TASK functions register "
        "themselves as they load), starts a local pool of threads or processes, and serves "
        "the broker with it: it announces itself for its service, runs what it is sent and "
        "heartbeats meanwhile. When the broker goes away it connects again with backoff. "
        "On SIGINT or SIGTERM it says goodbye to the broker and exits 0.",
    .exit_failure = "It could not serve: a bad endpoint, or a key or certificate it cannot "
                    "read",
    .see_also = "zexec-broker(1), zexec-keygen(1), systemd.exec(5); "
                "OPERATIONS.md and SECURITY.md in /usr/share/doc/zexec/docs/",
    .environment = (const zx_cli_note_t []) {
        { .term = "ZEXEC_SERVER_KEY",
          .text = "the broker's public key or certificate file, when neither --server-key "
                  "nor --cert is given" },
        { .term = "ZEXEC_CERT",
          .text = "this worker's certificate, when neither --server-key nor --cert is given" },
        { .term = "TMPDIR",
          .text = "where --processes makes its pool's ipc sockets (default /tmp)" },
        { .term = NULL } },
    .files = (const zx_cli_note_t []) {
        { .term = "/etc/zexec/worker-NAME.conf",
          .text = "the configuration the Debian package's zexec-worker@NAME.service runs it "
                  "with (--config); worker-default.conf explains every option" },
        { .term = "/etc/zexec/keys/",
          .text = "that unit's CURVE keys, each secret one owned by the user zexec, mode "
                  "0600" },
        { .term = NULL } },
    .examples = (const zx_cli_note_t []) {
        { .text = "Serve a broker with the tasks of a library, on four processes:",
          .term = "zexec-worker --connect tcp://10.0.0.2:5555 \\\n"
                  "    --tasks /usr/local/lib/libmytasks.so --workers 4 --processes" },
        { .text = "The same with CURVE keys (zexec-keygen(1) makes them):",
          .term = "zexec-worker --connect tcp://10.0.0.2:5555 \\\n"
                  "    --tasks /usr/local/lib/libmytasks.so \\\n"
                  "    --server-key broker --cert worker_secret" },
        { .text = "Run as the systemd unit zexec-worker@default does:",
          .term = "zexec-worker --config /etc/zexec/worker-default.conf" },
        { .term = NULL } },
    .options = s_options,
    .option_count = O_COUNT,
};

//  Serves as the command line says; returns the exit status.
static int
s_run (zx_cli_t *cli, int argc, char **argv)
{
    zx_cli_keep_freed_memory (false);
    //  Task libraries load before zx_init: worker processes started by the
    //  pool run this main again and need the same tasks
    for (size_t i = 0; i < zx_cli_count (cli, O_TASKS); i++)
        if (!dlopen (zx_cli_item (cli, O_TASKS, i), RTLD_NOW | RTLD_GLOBAL)) {
            fprintf (stderr, "zexec-worker: cannot load %s: %s\n", zx_cli_item (cli, O_TASKS, i),
                     dlerror ());
            return 2;
        }
    zx_init (argc, argv);
    const char *endpoint = zx_cli_string (cli, O_CONNECT);
    zx_executor_opts_t pool_opts = {
        .max_workers = (int) zx_cli_int (cli, O_WORKERS),
        .service = zx_cli_string (cli, O_SERVICE) ? zx_cli_string (cli, O_SERVICE) : "default",
        .events_endpoint = zx_cli_string (cli, O_EVENTS),
    };
    zx_executor_opts_t serve_opts = {
        .service = zx_cli_string (cli, O_SERVICE),
        .window = (int) zx_cli_int (cli, O_WINDOW),
        .heartbeat_ms = (int) zx_cli_int (cli, O_HEARTBEAT),
        .liveness = (int) zx_cli_int (cli, O_LIVENESS),
        .curve_server_key = zx_cli_string (cli, O_SERVER_KEY),
        .curve_cert = zx_cli_string (cli, O_CERT),
    };
    if (!serve_opts.curve_server_key != !serve_opts.curve_cert)
        return zx_cli_error (cli, "CURVE needs --server-key and --cert together");
    zx_log_basic_config (zx_cli_flag (cli, O_VERBOSE) ? ZX_LOG_INFO : ZX_LOG_WARNING,
                         "%(asctime)s zexec-worker[%(process)d] %(levelname)s: %(message)s");
    fprintf (stderr, "zexec-worker: serving %s\n", endpoint);
    if (pool_opts.events_endpoint)
        fprintf (stderr, "zexec-worker: events on %s\n", pool_opts.events_endpoint);
    zx_err_t rc = zx_serve (endpoint, zx_cli_flag (cli, O_PROCESSES), &pool_opts, &serve_opts);
    if (rc != ZX_OK)
        fprintf (stderr, "zexec-worker: cannot serve %s: %s\n", endpoint, zx_strerror (rc));
    return rc == ZX_OK ? 0 : 1;
}

int
main (int argc, char **argv)
{
    return zx_cli_main (&s_spec, argc, argv, s_run);
}
