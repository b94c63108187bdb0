/*  actor_peer.c - one coordinator of multihost Check 5 (tests/multihost/run.sh):
    a named account actor spawned by one coordinator and asked by another,
    each on its own "host" (network namespace), through one zexec-broker.

        actor_peer spawn  --endpoint E --name N --state PATH --opening N
                          --deposit N --id N --go FILE [--service S]
        actor_peer lookup --endpoint E --name N --expect N
                          --deposit N --id N [--service S]

    The actor is examples/bank_account.c's "account" (init: path, opening
    balance; deposit: transfer id, amount -> [balance]; balance () ->
    [balance, transfers applied, messages handled]), hosted by a
    zexec-worker that loaded libzexec-bank.so: this program does not know
    the type, only its name, as a coordinator on another machine would.

    spawn registers the actor under --name, deposits, says "spawn: waiting
    for FILE" and waits (running its loop) until the file --go names
    exists; then it asks the balance once more and prints "spawn: final
    balance B (T transfers applied)". lookup finds the actor by its name,
    checks its balance is --expect, deposits, and checks the new balance.
    Every future is waited for at most WAIT_MS; a failure prints the
    future's message on stderr and exits 1 (2: bad usage).               */
#include <zexec.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS     30000           //  Any one future: a safety net only
#define GO_WAIT_MS  60000           //  spawn: for the go file

typedef struct {
    const char *endpoint, *name, *service, *state, *go;
    int64_t opening, deposit, id, expect;
    bool have_expect;
} peer_opts_t;

//  Waits for future; on failure says what failed, with the future's
//  message, and returns false.
static bool
s_wait (zx_future_t *future, const char *what)
{
    if (!future) {
        fprintf (stderr, "actor_peer: %s: no future (out of memory?)\n", what);
        return false;
    }
    zx_err_t rc = zx_future_wait (future, WAIT_MS);
    if (rc == ZX_ETIMEDOUT) {
        fprintf (stderr, "actor_peer: %s: no answer in %d ms\n", what, WAIT_MS);
        return false;
    }
    if (rc != ZX_OK) {
        fprintf (stderr, "actor_peer: %s: %s: %s\n", what, zx_strerror (rc),
                 zx_future_message (future));
        return false;
    }
    return true;
}

//  Asks message with args (taken) and stores the reply's first integer
//  in *value (and its second in *second when not NULL).
static bool
s_ask_int (zx_actor_t *actor, const char *message, zx_values_t *args, int64_t *value,
           int64_t *second)
{
    zx_future_t *reply = zx_actor_ask (actor, message, args ? &args : NULL);
    zx_values_destroy (&args);
    char what [64];
    snprintf (what, sizeof what, "ask '%s'", message);
    bool ok = s_wait (reply, what);
    if (ok && (zx_values_get_int (zx_future_result (reply), 0, value) != ZX_OK
           ||  (second && zx_values_get_int (zx_future_result (reply), 1, second) != ZX_OK))) {
        fprintf (stderr, "actor_peer: %s: the reply holds no integer balance\n", what);
        ok = false;
    }
    zx_future_destroy (&reply);
    return ok;
}

//  Waits until the actor is placed (or found) and prints where it is.
static bool
s_ready (zx_actor_t *actor, const char *mode, const char *verb)
{
    zx_future_t *ready = actor ? zx_actor_ready (actor) : NULL;
    bool ok = s_wait (ready, verb);
    if (ok)
        printf ("%s: '%s' %s on worker %s (pid %d)\n", mode, zx_actor_name (actor), verb,
                zx_actor_worker (actor), (int) zx_actor_pid (actor));
    zx_future_destroy (&ready);
    return ok;
}

//  Runs the loop for ms, as a pause that keeps the executor's I/O going.
static void
s_nap (zx_loop_t *loop, int ms)
{
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, ms);
    zx_future_destroy (&nap);
}

static bool
s_spawn (zx_loop_t *loop, zx_executor_t *remote, const peer_opts_t *opts)
{
    zx_values_t *args = zx_values_pack ("si", opts->state, opts->opening);
    zx_actor_t *actor = zx_actor_spawn (remote, "account", &args, &(zx_actor_opts_t) {
                                            .name = opts->name, .registered = true });
    zx_values_destroy (&args);
    bool ok = s_ready (actor, "spawn", "placed");
    int64_t balance = 0, transfers = 0;
    if (ok && (ok = s_ask_int (actor, "deposit", zx_values_pack ("ii", opts->id, opts->deposit),
                               &balance, NULL)))
        printf ("spawn: deposit %" PRId64 " -> balance %" PRId64 "\n", opts->deposit, balance);
    if (ok) {
        printf ("spawn: waiting for %s\n", opts->go);
        fflush (stdout);
        int waited = 0;
        while (access (opts->go, F_OK) != 0 && waited < GO_WAIT_MS) {
            s_nap (loop, 50);
            waited += 50;
        }
        if (waited >= GO_WAIT_MS) {
            fprintf (stderr, "actor_peer: %s did not appear in %d ms\n", opts->go, GO_WAIT_MS);
            ok = false;
        }
    }
    if (ok && (ok = s_ask_int (actor, "balance", NULL, &balance, &transfers)))
        printf ("spawn: final balance %" PRId64 " (%" PRId64 " transfers applied)\n", balance,
                transfers);
    if (actor) {
        //  Stop it and wait, so that its name is gone when we exit 0
        zx_future_t *stopped = zx_actor_stop (actor);
        ok = s_wait (stopped, "stop") && ok;
        zx_future_destroy (&stopped);
    }
    zx_actor_destroy (&actor);
    return ok;
}

static bool
s_lookup (zx_executor_t *remote, const peer_opts_t *opts)
{
    zx_actor_t *actor = zx_actor_lookup (remote, opts->name, NULL);
    bool ok = s_ready (actor, "lookup", "found");
    int64_t balance = 0;
    if (ok && (ok = s_ask_int (actor, "balance", NULL, &balance, NULL))) {
        printf ("lookup: balance %" PRId64 "\n", balance);
        if (opts->have_expect && balance != opts->expect) {
            fprintf (stderr, "actor_peer: balance %" PRId64 ", expected %" PRId64 "\n",
                     balance, opts->expect);
            ok = false;
        }
    }
    int64_t before = balance;
    if (ok && (ok = s_ask_int (actor, "deposit", zx_values_pack ("ii", opts->id, opts->deposit),
                               &balance, NULL))) {
        printf ("lookup: deposit %" PRId64 " -> balance %" PRId64 "\n", opts->deposit, balance);
        if (balance != before + opts->deposit) {
            fprintf (stderr, "actor_peer: deposit gave %" PRId64 ", expected %" PRId64 "\n",
                     balance, before + opts->deposit);
            ok = false;
        }
    }
    zx_actor_destroy (&actor);      //  Borrowed: the actor goes on
    return ok;
}

static int
s_usage (void)
{
    fprintf (stderr,
             "usage: actor_peer spawn --endpoint E --name N --state PATH --opening N "
             "--deposit N --id N --go FILE [--service S]\n"
             "       actor_peer lookup --endpoint E --name N --expect N --deposit N --id N "
             "[--service S]\n");
    return 2;
}

//  Reads a whole decimal integer, or returns false.
static bool
s_int (const char *text, int64_t *value)
{
    char *end;
    long long parsed = strtoll (text, &end, 10);
    if (end == text || *end)
        return false;
    *value = parsed;
    return true;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc < 2)
        return s_usage ();
    const char *mode = argv [1];
    bool spawn = strcmp (mode, "spawn") == 0;
    if (!spawn && strcmp (mode, "lookup") != 0)
        return s_usage ();
    peer_opts_t opts = { .service = NULL, .id = -1 };
    static const struct option options [] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "name", required_argument, NULL, 'n' },
        { "service", required_argument, NULL, 's' },
        { "state", required_argument, NULL, 'p' },
        { "go", required_argument, NULL, 'g' },
        { "opening", required_argument, NULL, 'o' },
        { "deposit", required_argument, NULL, 'd' },
        { "id", required_argument, NULL, 'i' },
        { "expect", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 }
    };
    bool usage = false, have_deposit = false, have_opening = false;
    int option;
    optind = 2;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (option == 'e')          opts.endpoint = optarg;
        else if (option == 'n')     opts.name = optarg;
        else if (option == 's')     opts.service = optarg;
        else if (option == 'p')     opts.state = optarg;
        else if (option == 'g')     opts.go = optarg;
        else if (option == 'o')     usage |= !(have_opening = s_int (optarg, &opts.opening));
        else if (option == 'd')     usage |= !(have_deposit = s_int (optarg, &opts.deposit));
        else if (option == 'i')     usage |= !s_int (optarg, &opts.id);
        else if (option == 'x')     usage |= !(opts.have_expect = s_int (optarg, &opts.expect));
        else                        usage = true;
    }
    if (usage || optind < argc || !opts.endpoint || !opts.name || !have_deposit || opts.id < 0
    ||  (spawn && (!opts.state || !opts.go || !have_opening)))
        return s_usage ();
    setvbuf (stdout, NULL, _IOLBF, 0);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = loop ? zx_remote_executor_new (opts.endpoint, &(zx_executor_opts_t) {
                                                               .service = opts.service })
                                 : NULL;
    if (!remote) {
        fprintf (stderr, "actor_peer: cannot make a remote executor for %s\n", opts.endpoint);
        zx_loop_destroy (&loop);
        return 1;
    }
    bool ok = spawn ? s_spawn (loop, remote, &opts) : s_lookup (remote, &opts);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    return ok ? 0 : 1;
}
