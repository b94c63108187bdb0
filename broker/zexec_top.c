/*  zexec_top.c - the zexec-top program: a live view of a broker.

        zexec-top --connect tcp://10.0.0.2:5555 [--once] [options]

    DESIGN: every interval it asks the broker for its state with one
    STATS message on the coordinators' face (docs/PROTOCOL.md, 13.6) and
    draws the answer: services with their queues, counts, rate and
    latency over the last 10 s; workers with their host, pid, tasks
    running and done, failures and when they were last heard; the
    coordinators. A STATS question does not make it a coordinator, and
    it goes through the broker's one socket: with CURVE it needs a
    coordinator's key, as any program that submits work does. It asks
    rather than subscribes to events so that one answer is a whole,
    consistent picture, and so that it needs nothing of the broker but
    its endpoint (no --events, no --metrics, no second unauthenticated
    port). --once prints one picture as plain text and exits.           */

#define _GNU_SOURCE
#include "zx_cli.h"
#include "zx_curve.h"
#include "zx_loop.h"
#include "zx_proto.h"

#include <czmq.h>
#include <curses.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    O_CONNECT, O_ONCE, O_INTERVAL, O_SERVICE, O_SORT, O_TIMEOUT, O_SERVER_KEY, O_CERT, O_COUNT
};

static bool
s_check_sort (const char *value, char *why, size_t size)
{
    static const char *const keys [] = { "name", "done", "running", "failed", "heard", NULL };
    for (int i = 0; keys [i]; i++)
        if (strcmp (value, keys [i]) == 0)
            return true;
    snprintf (why, size, "is not one of name, done, running, failed, heard");
    return false;
}

static const zx_cli_opt_t s_options [O_COUNT] = {
    [O_CONNECT] = { .name = "connect", .kind = ZX_CLI_STRING, .arg = "ENDPOINT",
        .help = "the broker, e.g. tcp://10.0.0.2:5555", .required = "say which broker" },
    [O_ONCE] = { .name = "once", .kind = ZX_CLI_FLAG,
        .help = "print one picture as plain text and exit, for scripts" },
    [O_INTERVAL] = { .name = "interval", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "how often the live view asks the broker", .fallback = "1000",
        .low = 100, .high = 60000 },
    [O_SERVICE] = { .name = "service", .kind = ZX_CLI_STRING, .arg = "NAME",
        .help = "show only this service and its workers (live: f cycles through them)",
        .low = 1, .high = 255 },
    [O_SORT] = { .name = "sort", .kind = ZX_CLI_STRING, .arg = "KEY",
        .help = "order workers by name, done, running, failed or heard (live: s cycles)",
        .fallback = "name", .check = s_check_sort },
    [O_TIMEOUT] = { .name = "timeout", .kind = ZX_CLI_INT, .arg = "MS",
        .help = "how long to wait for the broker's answer", .fallback = "3000",
        .low = 100, .high = 600000 },
    [O_SERVER_KEY] = { .name = "server-key", .kind = ZX_CLI_STRING, .arg = "KEY|FILE",
        .help = "the broker's public key (40 Z85 characters) or its public certificate "
                "file", .section = "CURVE security (both together; docs/SECURITY.md):" },
    [O_CERT] = { .name = "cert", .kind = ZX_CLI_STRING, .arg = "PATH",
        .help = "a coordinator's certificate (PATH or PATH_secret): the broker lets in "
                "only keys in its --clients directory" },
};

static const zx_cli_spec_t s_spec = {
    .program = "zexec-top",
    .usage = "--connect ENDPOINT [--once] [options]",
    .summary = "Shows what a zexec broker is doing, live.",
    .description =
        "Asks the broker every second for its services (queued and held requests, "
        "workers, tasks finished, failed, cancelled and retried, tasks per second and "
        "latency p50 and p99 over the last 10 s), its workers (host, pid, tasks running, "
        "done and failed, when last heard) and its coordinators, and draws them. Keys: "
        "q quits, s changes how workers are sorted, f shows one service after the other "
        "and then all again.\n\n"
        "The broker counts tasks from when it was started with --events or --metrics, "
        "or else from the first time anyone asks. With --once it prints one picture as "
        "plain text and exits. The environment variables ZEXEC_SERVER_KEY and ZEXEC_CERT "
        "stand in for --server-key and --cert.",
    .exit_failure = "The broker did not answer within --timeout, or CURVE keys could not "
                    "be read",
    .see_also = "zexec-broker(1), zexec-keygen(1); OBSERVABILITY.md and SECURITY.md in "
                "/usr/share/doc/zexec/docs/",
    .files = (const zx_cli_note_t []) {
        { .term = "/etc/zexec/keys/",
          .text = "where the Debian package's units keep their keys: with CURVE, give "
                  "--server-key the broker's public file there, and --cert a "
                  "coordinator's certificate whose public file is in its clients/" },
        { .term = NULL } },
    .examples = (const zx_cli_note_t []) {
        { .text = "Watch a broker:", .term = "zexec-top --connect tcp://10.0.0.2:5555" },
        { .text = "One picture, for a script:",
          .term = "zexec-top --connect tcp://10.0.0.2:5555 --once" },
        { .term = NULL } },
    .options = s_options,
    .option_count = O_COUNT,
};

//  --------------------------------------------------------------------
//  One picture, decoded from the broker's answer

typedef struct {
    char name [256];
    uint64_t queued, held, workers, submitted, finished, failed, cancelled, retried, bytes,
             p50_us, p99_us, lost, machines, held_back;
    double rate;
} s_service_t;

typedef struct {
    char worker [256], host [256], service [256];
    uint64_t pid, parallel, running, done, failed, heard_ms;
} s_worker_t;

typedef struct {
    char coordinator [256];
    uint64_t outstanding, heard_ms;
} s_coordinator_t;

typedef struct {
    char host [256];
    uint64_t pid, time_us;
    s_service_t *services;
    size_t service_count;
    s_worker_t *workers;
    size_t worker_count;
    s_coordinator_t *coordinators;
    size_t coordinator_count;
} s_stats_t;

static void
s_stats_free (s_stats_t *stats)
{
    free (stats->services);
    free (stats->workers);
    free (stats->coordinators);
    memset (stats, 0, sizeof *stats);
}

static bool
s_is (const msgpack_object *key, const char *name)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (name)
        && memcmp (key->via.str.ptr, name, key->via.str.size) == 0;
}

static void
s_str (const msgpack_object *value, char *into, size_t size)
{
    into [0] = 0;
    if (value->type != MSGPACK_OBJECT_STR)
        return;
    size_t length = value->via.str.size < size - 1 ? value->via.str.size : size - 1;
    memcpy (into, value->via.str.ptr, length);
    into [length] = 0;
}

static uint64_t
s_num (const msgpack_object *value)
{
    return value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? value->via.u64 : 0;
}

//  A worker's host: its label is HOST.PID.N when it is a zexec-worker
static void
s_host (s_worker_t *worker)
{
    snprintf (worker->host, sizeof worker->host, "%s", worker->worker);
    char pid [32];
    snprintf (pid, sizeof pid, ".%llu.", (unsigned long long) worker->pid);
    char *at = strstr (worker->host, pid);
    if (at)
        *at = 0;
    else
        snprintf (worker->host, sizeof worker->host, "-");
}

static void
s_decode_services (s_stats_t *stats, const msgpack_object *array)
{
    if (array->type != MSGPACK_OBJECT_ARRAY)
        return;
    stats->services = calloc (array->via.array.size + 1, sizeof (s_service_t));
    for (uint32_t i = 0; stats->services && i < array->via.array.size; i++) {
        const msgpack_object *map = &array->via.array.ptr [i];
        if (map->type != MSGPACK_OBJECT_MAP)
            continue;
        s_service_t *s = &stats->services [stats->service_count++];
        for (uint32_t k = 0; k < map->via.map.size; k++) {
            const msgpack_object *key = &map->via.map.ptr [k].key;
            const msgpack_object *v = &map->via.map.ptr [k].val;
            if (s_is (key, "name")) s_str (v, s->name, sizeof s->name);
            else if (s_is (key, "queued")) s->queued = s_num (v);
            else if (s_is (key, "held")) s->held = s_num (v);
            else if (s_is (key, "workers")) s->workers = s_num (v);
            else if (s_is (key, "submitted")) s->submitted = s_num (v);
            else if (s_is (key, "finished")) s->finished = s_num (v);
            else if (s_is (key, "failed")) s->failed = s_num (v);
            else if (s_is (key, "cancelled")) s->cancelled = s_num (v);
            else if (s_is (key, "retried")) s->retried = s_num (v);
            else if (s_is (key, "bytes")) s->bytes = s_num (v);
            else if (s_is (key, "p50_us")) s->p50_us = s_num (v);
            else if (s_is (key, "p99_us")) s->p99_us = s_num (v);
            else if (s_is (key, "lost")) s->lost = s_num (v);
            else if (s_is (key, "machines")) s->machines = s_num (v);
            else if (s_is (key, "held_back")) s->held_back = s_num (v);
            else if (s_is (key, "rate") && v->type == MSGPACK_OBJECT_FLOAT64)
                s->rate = v->via.f64;
        }
    }
}

static void
s_decode_workers (s_stats_t *stats, const msgpack_object *array)
{
    if (array->type != MSGPACK_OBJECT_ARRAY)
        return;
    stats->workers = calloc (array->via.array.size + 1, sizeof (s_worker_t));
    for (uint32_t i = 0; stats->workers && i < array->via.array.size; i++) {
        const msgpack_object *map = &array->via.array.ptr [i];
        if (map->type != MSGPACK_OBJECT_MAP)
            continue;
        s_worker_t *w = &stats->workers [stats->worker_count++];
        for (uint32_t k = 0; k < map->via.map.size; k++) {
            const msgpack_object *key = &map->via.map.ptr [k].key;
            const msgpack_object *v = &map->via.map.ptr [k].val;
            if (s_is (key, "worker")) s_str (v, w->worker, sizeof w->worker);
            else if (s_is (key, "service")) s_str (v, w->service, sizeof w->service);
            else if (s_is (key, "pid")) w->pid = s_num (v);
            else if (s_is (key, "parallel")) w->parallel = s_num (v);
            else if (s_is (key, "running")) w->running = s_num (v);
            else if (s_is (key, "done")) w->done = s_num (v);
            else if (s_is (key, "failed")) w->failed = s_num (v);
            else if (s_is (key, "heard_ms")) w->heard_ms = s_num (v);
        }
        s_host (w);
    }
}

static void
s_decode_coordinators (s_stats_t *stats, const msgpack_object *array)
{
    if (array->type != MSGPACK_OBJECT_ARRAY)
        return;
    stats->coordinators = calloc (array->via.array.size + 1, sizeof (s_coordinator_t));
    for (uint32_t i = 0; stats->coordinators && i < array->via.array.size; i++) {
        const msgpack_object *map = &array->via.array.ptr [i];
        if (map->type != MSGPACK_OBJECT_MAP)
            continue;
        s_coordinator_t *c = &stats->coordinators [stats->coordinator_count++];
        for (uint32_t k = 0; k < map->via.map.size; k++) {
            const msgpack_object *key = &map->via.map.ptr [k].key;
            const msgpack_object *v = &map->via.map.ptr [k].val;
            if (s_is (key, "coordinator")) s_str (v, c->coordinator, sizeof c->coordinator);
            else if (s_is (key, "outstanding")) c->outstanding = s_num (v);
            else if (s_is (key, "heard_ms")) c->heard_ms = s_num (v);
        }
    }
}

//  Decodes the answer's map; false when it is not one
static bool
s_decode (s_stats_t *stats, const void *data, size_t size)
{
    memset (stats, 0, sizeof *stats);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    bool ok = msgpack_unpack_next (&unpacked, data, size, &offset) == MSGPACK_UNPACK_SUCCESS
           && unpacked.data.type == MSGPACK_OBJECT_MAP;
    for (uint32_t i = 0; ok && i < unpacked.data.via.map.size; i++) {
        const msgpack_object *key = &unpacked.data.via.map.ptr [i].key;
        const msgpack_object *v = &unpacked.data.via.map.ptr [i].val;
        if (s_is (key, "host")) s_str (v, stats->host, sizeof stats->host);
        else if (s_is (key, "pid")) stats->pid = s_num (v);
        else if (s_is (key, "time_us")) stats->time_us = s_num (v);
        else if (s_is (key, "services")) s_decode_services (stats, v);
        else if (s_is (key, "workers")) s_decode_workers (stats, v);
        else if (s_is (key, "coordinators")) s_decode_coordinators (stats, v);
    }
    msgpack_unpacked_destroy (&unpacked);
    return ok;
}

//  --------------------------------------------------------------------
//  Asking

typedef struct {
    zsock_t *dealer;
    zx__route_t route;
    const char *endpoint;
    int timeout_ms;
    char why [600];
} s_link_t;

//  Asks and waits for the answer; false (why says) when none came.
static bool
s_ask (s_link_t *link, s_stats_t *stats)
{
    void *socket = zsock_resolve (link->dealer);
    if (zx__send_stats (&link->route, NULL, 0) != ZX_OK) {
        snprintf (link->why, sizeof link->why, "cannot send to the broker at %s",
                  link->endpoint);
        return false;
    }
    int64_t deadline = zx__now_us () / 1000 + link->timeout_ms;
    while (true) {
        int64_t left = deadline - zx__now_us () / 1000;
        if (left <= 0)
            break;
        zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) <= 0)
            continue;
        zx__msg_t msg;
        zx__recv_t rc = zx__recv_dealer (socket, ZX_FACE_CLIENT, &msg);
        bool answered = rc == ZX_RECV_OK && msg.command == ZX_CMD_STATS && msg.ok && msg.batch
                     && s_decode (stats, msg.batch, msg.batch_size);
        zx__msg_close (&msg);
        if (answered)
            return true;
    }
    snprintf (link->why, sizeof link->why, "no answer from the broker at %s within %d ms",
              link->endpoint, link->timeout_ms);
    return false;
}

//  --------------------------------------------------------------------
//  Drawing: the same lines for the terminal and for --once

typedef enum { S_BY_NAME, S_BY_DONE, S_BY_RUNNING, S_BY_FAILED, S_BY_HEARD, S_SORTS } s_sort_t;
static const char *const s_sort_names [S_SORTS] = { "name", "done", "running", "failed", "heard" };
static s_sort_t s_sort;

static int
s_worker_order (const void *a, const void *b)
{
    const s_worker_t *x = a, *y = b;
    uint64_t u = 0, v = 0;
    switch (s_sort) {
        case S_BY_DONE: u = y->done; v = x->done; break;
        case S_BY_RUNNING: u = y->running; v = x->running; break;
        case S_BY_FAILED: u = y->failed; v = x->failed; break;
        case S_BY_HEARD: u = y->heard_ms; v = x->heard_ms; break;
        default: break;
    }
    if (u != v)
        return u < v ? -1 : 1;
    int by_service = strcmp (x->service, y->service);
    return by_service ? by_service : strcmp (x->worker, y->worker);
}

//  Writes line after line through emit; filter (or NULL) picks a service
static void
s_draw (const s_stats_t *stats, const char *endpoint, const char *filter,
        void (*emit) (void *arg, const char *line), void *arg)
{
    char line [1024];
    time_t now = (time_t) (stats->time_us / 1000000);
    struct tm tm;
    localtime_r (&now, &tm);
    char when [32];
    strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf (line, sizeof line, "zexec-top: broker %s (pid %llu) at %s, %s%s%s", stats->host,
              (unsigned long long) stats->pid, endpoint, when, filter ? ", service " : "",
              filter ? filter : "");
    emit (arg, line);
    emit (arg, "");
    snprintf (line, sizeof line, "%-20s %7s %6s %7s %9s %7s %7s %7s %8s %8s %8s",
              "SERVICE", "QUEUED", "HELD", "WORKERS", "FINISHED", "FAILED", "CANCEL",
              "RETRIED", "RATE/s", "P50 ms", "P99 ms");
    emit (arg, line);
    for (size_t i = 0; i < stats->service_count; i++) {
        const s_service_t *s = &stats->services [i];
        if (filter && strcmp (filter, s->name))
            continue;
        snprintf (line, sizeof line,
                  "%-20.20s %7llu %6llu %7llu %9llu %7llu %7llu %7llu %8.1f %8.2f %8.2f",
                  s->name, (unsigned long long) s->queued, (unsigned long long) s->held,
                  (unsigned long long) s->workers, (unsigned long long) s->finished,
                  (unsigned long long) s->failed, (unsigned long long) s->cancelled,
                  (unsigned long long) s->retried, s->rate, (double) s->p50_us / 1000.0,
                  (double) s->p99_us / 1000.0);
        emit (arg, line);
    }
    //  Workers that wait on purpose: their machines are busy enough with
    //  tiny tasks (PROTOCOL.md section 24)
    for (size_t i = 0; i < stats->service_count; i++) {
        const s_service_t *s = &stats->services [i];
        if (s->held_back == 0 || (filter && strcmp (filter, s->name)))
            continue;
        snprintf (line, sizeof line, "%.20s: %llu idle workers held back: their machines "
                  "(%llu known) are busy enough with tiny tasks", s->name,
                  (unsigned long long) s->held_back, (unsigned long long) s->machines);
        emit (arg, line);
    }
    emit (arg, "");
    snprintf (line, sizeof line, "%-28s %-16s %8s %-14s %8s %7s %8s %7s %8s", "WORKER", "HOST",
              "PID", "SERVICE", "PARALLEL", "RUNNING", "DONE", "FAILED", "HEARD ms");
    emit (arg, line);
    s_worker_t *workers = stats->worker_count
                        ? malloc (stats->worker_count * sizeof (s_worker_t)) : NULL;
    if (workers) {
        memcpy (workers, stats->workers, stats->worker_count * sizeof (s_worker_t));
        qsort (workers, stats->worker_count, sizeof (s_worker_t), s_worker_order);
    }
    for (size_t i = 0; workers && i < stats->worker_count; i++) {
        const s_worker_t *w = &workers [i];
        if (filter && strcmp (filter, w->service))
            continue;
        snprintf (line, sizeof line, "%-28.28s %-16.16s %8llu %-14.14s %8llu %7llu %8llu %7llu %8llu",
                  w->worker, w->host, (unsigned long long) w->pid, w->service,
                  (unsigned long long) w->parallel, (unsigned long long) w->running,
                  (unsigned long long) w->done, (unsigned long long) w->failed,
                  (unsigned long long) w->heard_ms);
        emit (arg, line);
    }
    free (workers);
    emit (arg, "");
    snprintf (line, sizeof line, "%-28s %11s %8s", "COORDINATOR", "OUTSTANDING", "HEARD ms");
    emit (arg, line);
    for (size_t i = 0; i < stats->coordinator_count; i++) {
        const s_coordinator_t *c = &stats->coordinators [i];
        snprintf (line, sizeof line, "%-28.28s %11llu %8llu", c->coordinator,
                  (unsigned long long) c->outstanding, (unsigned long long) c->heard_ms);
        emit (arg, line);
    }
}

static void
s_print_line (void *arg, const char *line)
{
    fprintf ((FILE *) arg, "%s\n", line);
}

static void
s_curses_line (void *arg, const char *line)
{
    int *row = (int *) arg;
    if (*row < LINES - 1)
        mvaddnstr (*row, 0, line, COLS);
    (*row)++;
}

//  The live view until q; returns the exit status.
static int
s_live (s_link_t *link, const char *filter, int interval_ms)
{
    initscr ();
    cbreak ();
    noecho ();
    keypad (stdscr, TRUE);
    curs_set (0);
    char service [256] = "";
    if (filter)
        snprintf (service, sizeof service, "%s", filter);
    int status = 0;
    while (true) {
        s_stats_t stats;
        erase ();
        int row = 0;
        if (s_ask (link, &stats)) {
            s_draw (&stats, link->endpoint, service [0] ? service : NULL, s_curses_line, &row);
        }
        else {
            mvaddnstr (0, 0, link->why, COLS);
            memset (&stats, 0, sizeof stats);
        }
        char help [400];
        snprintf (help, sizeof help, "q quit   s sort workers (by %s)   f service (%s)",
                  s_sort_names [s_sort], service [0] ? service : "all");
        attron (A_REVERSE);
        mvaddnstr (LINES - 1, 0, help, COLS);
        attroff (A_REVERSE);
        refresh ();
        timeout (interval_ms);
        int key = getch ();
        if (key == 'q' || key == 'Q')
            break;
        if (key == 's')
            s_sort = (s_sort + 1) % S_SORTS;
        else
        if (key == 'f') {
            //  The next service after the one shown, then all again
            size_t next = 0;
            for (size_t i = 0; service [0] && i < stats.service_count; i++)
                if (strcmp (stats.services [i].name, service) == 0)
                    next = i + 1;
            if (next < stats.service_count)
                snprintf (service, sizeof service, "%s", stats.services [next].name);
            else
                service [0] = 0;
        }
        s_stats_free (&stats);
    }
    endwin ();
    return status;
}

static int
s_run (zx_cli_t *cli, int argc, char **argv)
{
    (void) argc;
    (void) argv;
    const char *sort = zx_cli_string (cli, O_SORT);
    for (int i = 0; sort && i < S_SORTS; i++)
        if (strcmp (sort, s_sort_names [i]) == 0)
            s_sort = (s_sort_t) i;
    const char *server_key = zx_cli_string (cli, O_SERVER_KEY);
    const char *cert = zx_cli_string (cli, O_CERT);
    if (!server_key != !cert)
        return zx_cli_error (cli, "CURVE needs --server-key and --cert together");
    if (!server_key && !cert) {
        server_key = getenv ("ZEXEC_SERVER_KEY");
        cert = getenv ("ZEXEC_CERT");
    }
    s_link_t link = { .endpoint = zx_cli_string (cli, O_CONNECT),
                      .timeout_ms = (int) zx_cli_int (cli, O_TIMEOUT) };
    link.dealer = zsock_new (ZMQ_DEALER);
    if (!link.dealer) {
        fprintf (stderr, "zexec-top: cannot create its socket\n");
        return 1;
    }
    zsock_set_linger (link.dealer, 0);
    link.route = (zx__route_t) { zsock_resolve (link.dealer), ZX_FACE_CLIENT, ZMQ_DONTWAIT,
                                 NULL, 0, NULL, NULL };
    int status = 1;
    if (zx__curve_client (link.dealer, server_key, cert, link.why, sizeof link.why) != ZX_OK)
        fprintf (stderr, "zexec-top: cannot use CURVE: %s\n", link.why);
    else
    if (zsock_connect (link.dealer, "%s", link.endpoint) != 0)
        fprintf (stderr, "zexec-top: cannot connect to %s\n", link.endpoint);
    else
    if (zx_cli_flag (cli, O_ONCE)) {
        s_stats_t stats;
        if (s_ask (&link, &stats)) {
            s_draw (&stats, link.endpoint, zx_cli_string (cli, O_SERVICE), s_print_line,
                    stdout);
            s_stats_free (&stats);
            status = 0;
        }
        else
            fprintf (stderr, "zexec-top: %s\n", link.why);
    }
    else
        status = s_live (&link, zx_cli_string (cli, O_SERVICE),
                         (int) zx_cli_int (cli, O_INTERVAL));
    zsock_destroy (&link.dealer);
    return status;
}

int
main (int argc, char **argv)
{
    zsys_handler_set (NULL);
    return zx_cli_main (&s_spec, argc, argv, s_run);
}
