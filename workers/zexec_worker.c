/*  zexec_worker.c - a zexec worker process for a zexec-broker.

    Loads task libraries (shared objects whose ZX_TASK registrations run
    as they load), starts a local pool of threads or processes, and serves
    a broker with it until SIGINT or SIGTERM.

        zexec-worker --connect tcp://broker:5555 --tasks ./libtasks.so   */

#define _GNU_SOURCE
#include <zexec.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zexec-worker --connect ENDPOINT [--tasks LIB.so ...] [options]\n"
        "\n"
        "Runs tasks for a zexec-broker.\n"
        "\n"
        "  --connect ENDPOINT   the broker, e.g. tcp://10.0.0.2:5555\n"
        "  --tasks LIB.so       a task library to load (repeatable); its ZX_TASK\n"
        "                       functions become available\n"
        "  --workers N          pool size (default: min (32, cores + 4) threads,\n"
        "                       or as many processes as cores)\n"
        "  --processes          run tasks in worker processes, not threads\n"
        "  --service NAME       the service (named pool) to serve (default: default)\n"
        "  --window N           requests held at once (default: 256 per pool worker)\n"
        "  --heartbeat MS       heartbeat interval (default 1000)\n"
        "  --liveness N         silent intervals before the broker is gone (default 3)\n"
        "  --server-key KEY|FILE  with CURVE: the broker's public key (40 Z85\n"
        "                       characters) or its public certificate file\n"
        "  --cert PATH          with CURVE: this worker's certificate (PATH or\n"
        "                       PATH_secret, as zexec-keygen makes them)\n"
        "  --verbose            log connections\n"
        "  --help               this text\n");
}

static bool
s_number (const char *text, long low, long high, int *out)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || end == text || value < low || value > high)
        return false;
    *out = (int) value;
    return true;
}

int
main (int argc, char **argv)
{
    const char *endpoint = NULL;
    zx_executor_opts_t pool_opts = { 0 }, serve_opts = { 0 };
    bool processes = false, verbose = false;
    //  Task libraries load before zx_init: worker processes started by the
    //  pool run this main again and need the same tasks
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        else
        if (strcmp (arg, "--processes") == 0)
            processes = true;
        else
        if (strcmp (arg, "--verbose") == 0)
            verbose = true;
        else
        if (strcmp (arg, "--connect") == 0 && value) {
            endpoint = value;
            i++;
        }
        else
        if (strcmp (arg, "--server-key") == 0 && value) {
            serve_opts.curve_server_key = value;
            i++;
        }
        else
        if (strcmp (arg, "--cert") == 0 && value) {
            serve_opts.curve_cert = value;
            i++;
        }
        else
        if (strcmp (arg, "--tasks") == 0 && value) {
            if (!dlopen (value, RTLD_NOW | RTLD_GLOBAL)) {
                fprintf (stderr, "zexec-worker: cannot load %s: %s\n", value, dlerror ());
                return 2;
            }
            i++;
        }
        else
        if (strcmp (arg, "--service") == 0 && value && *value && strlen (value) < 256) {
            serve_opts.service = value;
            i++;
        }
        else
        if (strcmp (arg, "--workers") == 0 && value && s_number (value, 1, 1024, &pool_opts.max_workers))
            i++;
        else
        if (strcmp (arg, "--window") == 0 && value && s_number (value, 1, 65536, &serve_opts.window))
            i++;
        else
        if (strcmp (arg, "--heartbeat") == 0 && value && s_number (value, 10, 600000, &serve_opts.heartbeat_ms))
            i++;
        else
        if (strcmp (arg, "--liveness") == 0 && value && s_number (value, 2, 100, &serve_opts.liveness))
            i++;
        else {
            if (value && arg [0] == '-' && arg [1] == '-')
                fprintf (stderr, "zexec-worker: bad value '%s' for %s\n", value, arg);
            else
                fprintf (stderr, "zexec-worker: unknown or incomplete argument '%s'\n", arg);
            fprintf (stderr, "Try 'zexec-worker --help'.\n");
            return 2;
        }
    }
    zx_init (argc, argv);
    if (!endpoint) {
        fprintf (stderr, "zexec-worker: say which broker with --connect ENDPOINT\n"
                         "Try 'zexec-worker --help'.\n");
        return 2;
    }
    if (!serve_opts.curve_server_key != !serve_opts.curve_cert) {
        fprintf (stderr, "zexec-worker: CURVE needs --server-key and --cert together\n"
                         "Try 'zexec-worker --help'.\n");
        return 2;
    }
    zx_log_basic_config (verbose ? ZX_LOG_INFO : ZX_LOG_WARNING,
                         "%(asctime)s zexec-worker[%(process)d] %(levelname)s: %(message)s");
    fprintf (stderr, "zexec-worker: serving %s\n", endpoint);
    zx_err_t rc = zx_serve (endpoint, processes, &pool_opts, &serve_opts);
    if (rc != ZX_OK)
        fprintf (stderr, "zexec-worker: cannot serve %s: %s\n", endpoint, zx_strerror (rc));
    return rc == ZX_OK ? 0 : 1;
}
