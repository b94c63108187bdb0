/*  actor_bank.c - account actors on a process pool, or on remote workers
    through a zexec-broker; transfers by ask, a worker killed with SIGKILL
    in the middle, a supervisor that restarts the accounts it hosted from
    their saved balances, and an audit of what was lost and kept.

    Each account is an actor of the type in bank_account.c. Its state
    lives in its worker's memory, so every handler saves what it applied
    to the account's file before it answers and init replays that file:
    a restarted account has its balance back. The message count it keeps
    in memory only is lost with its worker, and the audit says so.

    By default the accounts live on a process pool of three workers (this
    program started again). With --remote, the program starts a
    zexec-broker and two zexec-worker processes itself (on an ipc endpoint
    in its scratch directory, each serving with two threads and the
    account type from libzexec-bank.so), spreads the accounts over them
    through the broker, and SIGKILLs the serving worker that hosts acct-0
    halfway through. The audit is the same.

    Usage: actor_bank [--accounts N] [--transfers N]
                      [--remote [--broker PROGRAM] [--worker PROGRAM] [--tasks LIB]]
    The programs default to the build tree's, beside this program
    (../broker/zexec-broker, ../workers/zexec-worker, ./libzexec-bank.so),
    else to zexec-broker and zexec-worker on the PATH.                   */
#define _GNU_SOURCE
#include <zexec.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define MAX_ACCOUNTS 32
#define TELLERS 4
#define START_BALANCE 1000
#define REMOTE_WORKERS 2
#define HEARTBEAT_MS 100        //  Broker, workers and coordinator: a death shows in ~0.3 s

/*  ---------------------------------------------------------------------
    The coordinator                                                       */

typedef struct {
    zx_actor_t *accounts [MAX_ACCOUNTS];
    int count;
    int transfers;              //  Per teller
    int64_t expected [MAX_ACCOUNTS];    //  What the coordinator knows was applied
    int done, declined, retried;
    int victim_pid;
    bool killed;
    zx_executor_t *executor;
    char dir [64];              //  Scratch: the accounts' files (and the servers' logs)
} bank_t;

static bank_t s_bank;

//  Asks until the answer is not "lost with its worker" (then the account
//  is being restarted and the ask waits for it). Returns the future.
static zx_future_t *
s_ask (zx_actor_t *actor, const char *message, zx_values_t *args, int64_t id)
{
    for (int attempt = 0; ; attempt++) {
        zx_values_t *copy = args ? zx_values_dup (args) : NULL;
        zx_future_t *future = zx_actor_ask (actor, message, &copy);
        zx_await (future);
        if (zx_future_error (future) != ZX_EWORKER_LOST || attempt == 5) {
            zx_values_destroy (&args);
            return future;
        }
        if (id >= 0)
            printf ("teller: %s %s of transfer %lld lost with its worker; asking again\n",
                    zx_actor_name (actor), message, (long long) id);
        else
            printf ("audit: %s %s lost with its worker; asking again\n",
                    zx_actor_name (actor), message);
        s_bank.retried++;
        zx_future_destroy (&future);
    }
}

static zx_future_t *
s_transfer_ask (zx_actor_t *actor, const char *message, int64_t id, int64_t amount)
{
    return s_ask (actor, message, zx_values_pack ("ii", id, amount), id);
}

static void
s_teller (void *arg)
{
    int teller = (int) (intptr_t) arg;
    unsigned seed = (unsigned) teller * 7919u + 1;
    for (int i = 0; i < s_bank.transfers; i++) {
        int64_t id = (int64_t) teller * 100000 + i;
        int from = (int) (rand_r (&seed) % (unsigned) s_bank.count);
        int to = (int) ((from + 1 + rand_r (&seed) % (unsigned) (s_bank.count - 1))
                        % (unsigned) s_bank.count);
        int64_t amount = 1 + rand_r (&seed) % 200;
        //  Halfway through, teller 0 kills the worker that hosts account 0
        if (teller == 0 && i == s_bank.transfers / 2 && !s_bank.killed) {
            s_bank.killed = true;
            s_bank.victim_pid = (int) zx_actor_pid (s_bank.accounts [0]);
            printf ("bank: SIGKILL to worker pid %d, which hosts %s\n", s_bank.victim_pid,
                    zx_actor_name (s_bank.accounts [0]));
            kill (s_bank.victim_pid, SIGKILL);
        }
        zx_future_t *out = s_transfer_ask (s_bank.accounts [from], "withdraw", id, amount);
        if (zx_future_error (out) == ZX_ETASK) {
            s_bank.declined++;
            zx_future_destroy (&out);
            continue;
        }
        if (zx_future_error (out) != ZX_OK) {
            printf ("teller: transfer %lld: %s\n", (long long) id, zx_future_message (out));
            zx_future_destroy (&out);
            continue;
        }
        zx_future_destroy (&out);
        s_bank.expected [from] -= amount;
        zx_future_t *in = s_transfer_ask (s_bank.accounts [to], "deposit", id, amount);
        if (zx_future_error (in) != ZX_OK)
            printf ("teller: transfer %lld: deposit failed: %s\n", (long long) id,
                    zx_future_message (in));
        else {
            s_bank.expected [to] += amount;
            s_bank.done++;
        }
        zx_future_destroy (&in);
    }
}

static void
s_supervisor (zx_actor_t *actor, zx_actor_event_t event, const char *text, void *arg)
{
    (void) arg;
    if (event != ZX_ACTOR_PLACED || zx_actor_restarts (actor) > 0)
        printf ("supervisor: %s\n", text);
}

//  Sleeps ms on loop (its timers and sockets keep running).
static void
s_nap (zx_loop_t *loop, int ms)
{
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, ms);
    zx_future_destroy (&nap);
}

//  Spawns the accounts on s_bank.executor, waits until each is placed,
//  runs the tellers, and audits. Returns true when the audit is clean.
static bool
s_run_bank (zx_loop_t *loop, const char *where)
{
    for (int i = 0; i < s_bank.count; i++) {
        char name [32], path [600];
        snprintf (name, sizeof name, "acct-%d", i);
        snprintf (path, sizeof path, "%s/%s", s_bank.dir, name);
        zx_values_t *args = zx_values_pack ("si", path, (int64_t) START_BALANCE);
        s_bank.accounts [i] = zx_actor_spawn (s_bank.executor, "account", &args,
            &(zx_actor_opts_t) { .name = name, .max_restarts = 3,
                                 .restart_window_ms = 60000 });
        if (!s_bank.accounts [i])
            return false;
        zx_actor_on_event (s_bank.accounts [i], s_supervisor, NULL);
        s_bank.expected [i] = START_BALANCE;
    }
    for (int i = 0; i < s_bank.count; i++) {
        zx_future_t *ready = zx_actor_ready (s_bank.accounts [i]);
        zx_future_wait (ready, 30000);
        if (zx_future_error (ready) != ZX_OK) {
            fprintf (stderr, "acct-%d: %s\n", i, zx_future_message (ready));
            zx_future_destroy (&ready);
            return false;
        }
        zx_future_destroy (&ready);
    }
    printf ("bank: %d accounts of %d on %s; state saved in %s\n", s_bank.count,
            START_BALANCE, where, s_bank.dir);
    printf ("bank: placed:");
    for (int i = 0; i < s_bank.count; i++)
        printf (" %s on %s (pid %d)%s", zx_actor_name (s_bank.accounts [i]),
                zx_actor_worker (s_bank.accounts [i]), (int) zx_actor_pid (s_bank.accounts [i]),
                i + 1 < s_bank.count ? "," : "\n");
    printf ("bank: %d tellers, %d transfers each, by ask\n", TELLERS, s_bank.transfers);
    zx_future_t *tellers [TELLERS];
    for (int t = 0; t < TELLERS; t++)
        tellers [t] = zx_coro_start (loop, s_teller, (void *) (intptr_t) t, 0);
    zx_wait (tellers, TELLERS, ZX_ALL_COMPLETED, 120000, NULL, NULL, NULL, NULL);
    for (int t = 0; t < TELLERS; t++)
        zx_future_destroy (&tellers [t]);

    //  The audit: every account's balance against what the coordinator
    //  saw applied, the total against what the bank started with
    int64_t total = 0;
    int mismatched = 0, restarted = 0;
    int retried = s_bank.retried;
    printf ("audit: %d transfers done, %d declined (insufficient funds), %d asks lost with "
            "the killed worker and asked again\n", s_bank.done, s_bank.declined, retried);
    for (int i = 0; i < s_bank.count; i++) {
        zx_future_t *future = s_ask (s_bank.accounts [i], "balance", NULL, -1);
        zx_future_wait (future, 30000);
        int64_t balance = -1, applied = 0, handled = 0;
        const zx_values_t *result = zx_future_result (future);
        if (result) {
            zx_values_get_int (result, 0, &balance);
            zx_values_get_int (result, 1, &applied);
            zx_values_get_int (result, 2, &handled);
        }
        else
            printf ("audit: %s: %s\n", zx_actor_name (s_bank.accounts [i]),
                    zx_future_message (future));
        total += balance;
        bool ok = balance == s_bank.expected [i];
        mismatched += !ok;
        int restarts = zx_actor_restarts (s_bank.accounts [i]);
        restarted += restarts > 0;
        printf ("audit: %s balance %lld (%s), %lld transfers applied; restarted %d time%s; "
                "%lld messages handled since %s\n", zx_actor_name (s_bank.accounts [i]),
                (long long) balance, ok ? "as expected" : "MISMATCH", (long long) applied,
                restarts, restarts == 1 ? "" : "s", (long long) handled,
                restarts ? "its restart (the count before it was in memory only: lost)"
                         : "it started");
        zx_future_destroy (&future);
    }
    int64_t start = (int64_t) s_bank.count * START_BALANCE;
    printf ("audit: total %lld of %lld\n", (long long) total, (long long) start);
    printf ("audit: kept: every balance and every applied transfer (saved to its file by "
            "each handler before it answered, reloaded by init on restart)\n");
    printf ("audit: lost: the %d asks in flight when pid %d died (each asked again and "
            "applied once, by transfer id); the unsaved message counts of the %d restarted "
            "account%s\n", s_bank.retried, s_bank.victim_pid, restarted,
            restarted == 1 ? "" : "s");
    bool ok = total == start && mismatched == 0 && s_bank.killed && restarted > 0;
    printf ("audit: %s\n", ok ? "OK: no money lost or made" : "FAILED");
    for (int i = 0; i < s_bank.count; i++) {
        char path [600];
        snprintf (path, sizeof path, "%s/acct-%d", s_bank.dir, i);
        zx_actor_destroy (&s_bank.accounts [i]);
        unlink (path);
    }
    return ok;
}

/*  ---------------------------------------------------------------------
    The process pool                                                      */

static bool
s_run_local (zx_loop_t *loop)
{
    s_bank.executor = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    if (!s_bank.executor)
        return false;
    //  Spawns go to the ready worker that hosts the fewest actors: wait
    //  until the three have started, so that the accounts spread
    for (int waited = 0; zx_executor_ready_workers (s_bank.executor) < 3 && waited < 30000;
         waited += 5)
        s_nap (loop, 5);
    bool ok = s_run_bank (loop, "3 worker processes");
    zx_executor_destroy (&s_bank.executor);
    return ok;
}

/*  ---------------------------------------------------------------------
    Remote workers: a zexec-broker and two zexec-workers of our own       */

typedef struct {
    const char *broker, *worker, *tasks;        //  Programs and library
    pid_t pids [1 + REMOTE_WORKERS];            //  Broker, then workers
    char endpoint [128];
} servers_t;

//  Starts argv (argv [0] a path, or a name on the PATH) with its stdout
//  and stderr in log; it gets SIGTERM if this program dies first.
static pid_t
s_start (char *const argv [], const char *log)
{
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        close (fd);
    }
    execvp (argv [0], argv);
    fprintf (stderr, "cannot run %s: %s\n", argv [0], strerror (errno));
    _exit (127);
}

//  True once log has a line holding both needle and " ready".
static bool
s_log_says (const char *log, const char *needle)
{
    FILE *file = fopen (log, "r");
    char line [1024];
    bool found = false;
    while (file && !found && fgets (line, sizeof line, file))
        found = strstr (line, needle) && strstr (line, " ready");
    if (file)
        fclose (file);
    return found;
}

//  Starts the broker and the workers; waits until each worker is ready at
//  the broker (its --verbose log says so), so that the spawns can be
//  dealt to both. Returns false (and says why) when one failed to start.
static bool
s_servers_start (zx_loop_t *loop, servers_t *servers)
{
    char log [600], beat [16];
    snprintf (beat, sizeof beat, "%d", HEARTBEAT_MS);
    snprintf (servers->endpoint, sizeof servers->endpoint, "ipc://%s/broker", s_bank.dir);
    snprintf (log, sizeof log, "%s/broker.log", s_bank.dir);
    char *broker [] = { (char *) servers->broker, "--bind", servers->endpoint, "--heartbeat",
                        beat, "--liveness", "3", "--verbose", NULL };
    servers->pids [0] = s_start (broker, log);
    printf ("bank: zexec-broker --bind %s --heartbeat %s --verbose (pid %d)\n",
            servers->endpoint, beat, (int) servers->pids [0]);
    for (int i = 1; i <= REMOTE_WORKERS; i++) {
        char worker_log [600];
        snprintf (worker_log, sizeof worker_log, "%s/worker-%d.log", s_bank.dir, i);
        char *worker [] = { (char *) servers->worker, "--connect", servers->endpoint,
                            "--tasks", (char *) servers->tasks, "--workers", "2",
                            "--heartbeat", beat, "--liveness", "3", NULL };
        servers->pids [i] = s_start (worker, worker_log);
        printf ("bank: zexec-worker --connect %s --tasks %s --workers 2 (pid %d)\n",
                servers->endpoint, servers->tasks, (int) servers->pids [i]);
    }
    for (int i = 1; i <= REMOTE_WORKERS; i++) {
        char needle [64];
        snprintf (needle, sizeof needle, ".%d.", (int) servers->pids [i]);
        int waited = 0;
        while (!s_log_says (log, needle) && waited < 30000) {
            int status;
            for (int p = 0; p <= REMOTE_WORKERS; p++)
                if (waitpid (servers->pids [p], &status, WNOHANG) == servers->pids [p]) {
                    fprintf (stderr, "actor_bank: %s (pid %d) exited (status 0x%x): see %s\n",
                             p ? "a zexec-worker" : "the zexec-broker",
                             (int) servers->pids [p], status, s_bank.dir);
                    servers->pids [p] = 0;
                    return false;
                }
            s_nap (loop, 10);
            waited += 10;
        }
        if (waited >= 30000) {
            fprintf (stderr, "actor_bank: zexec-worker pid %d never became ready: see %s\n",
                     (int) servers->pids [i], log);
            return false;
        }
    }
    return true;
}

//  Stops what is still running (SIGTERM, then SIGKILL after 10 s) and
//  reaps the killed worker too.
static void
s_servers_stop (servers_t *servers)
{
    for (int p = REMOTE_WORKERS; p >= 0; p--) {
        if (servers->pids [p] <= 0)
            continue;
        kill (servers->pids [p], SIGTERM);
        int status;
        int waited = 0;
        while (waitpid (servers->pids [p], &status, WNOHANG) == 0 && waited < 10000) {
            usleep (10000);
            waited += 10;
        }
        if (waited >= 10000) {
            kill (servers->pids [p], SIGKILL);
            waitpid (servers->pids [p], &status, 0);
        }
        servers->pids [p] = 0;
    }
}

//  The default path of a program of the build tree, relative to this
//  program's directory, if it is there; else fallback.
static const char *
s_beside (char *path, size_t size, const char *relative, const char *fallback)
{
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0)
        return fallback;
    exe [length] = 0;
    char *slash = strrchr (exe, '/');
    if (slash)
        *slash = 0;
    snprintf (path, size, "%s/%s", exe, relative);
    return access (path, F_OK) == 0 ? path : fallback;
}

static bool
s_run_remote (zx_loop_t *loop, servers_t *servers)
{
    bool ok = s_servers_start (loop, servers);
    if (ok) {
        s_bank.executor = zx_remote_executor_new (servers->endpoint, &(zx_executor_opts_t) {
                                                      .heartbeat_ms = HEARTBEAT_MS,
                                                      .liveness = 3 });
        char where [200];
        snprintf (where, sizeof where, "%d zexec-workers (pids %d and %d) through a "
                  "zexec-broker", REMOTE_WORKERS, (int) servers->pids [1],
                  (int) servers->pids [2]);
        ok = s_bank.executor && s_run_bank (loop, where);
        zx_executor_destroy (&s_bank.executor);
    }
    s_servers_stop (servers);
    return ok;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    s_bank.count = 8;
    s_bank.transfers = 50;
    bool remote = false;
    char broker_path [4200], worker_path [4200], tasks_path [4200];
    servers_t servers = {
        .broker = s_beside (broker_path, sizeof broker_path, "../broker/zexec-broker",
                            "zexec-broker"),
        .worker = s_beside (worker_path, sizeof worker_path, "../workers/zexec-worker",
                            "zexec-worker"),
        .tasks = s_beside (tasks_path, sizeof tasks_path, "libzexec-bank.so", "libzexec-bank.so"),
    };
    static const struct option options [] = {
        { "accounts", required_argument, NULL, 'a' },
        { "transfers", required_argument, NULL, 't' },
        { "remote", no_argument, NULL, 'r' },
        { "broker", required_argument, NULL, 'b' },
        { "worker", required_argument, NULL, 'w' },
        { "tasks", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    bool usage = false;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (option == 'a')          s_bank.count = atoi (optarg);
        else if (option == 't')     s_bank.transfers = atoi (optarg);
        else if (option == 'r')     remote = true;
        else if (option == 'b')     servers.broker = optarg;
        else if (option == 'w')     servers.worker = optarg;
        else if (option == 'l')     servers.tasks = optarg;
        else                        usage = true;
    }
    if (usage || optind < argc || s_bank.count < 2 || s_bank.count > MAX_ACCOUNTS
    ||  s_bank.transfers < 2) {
        fprintf (stderr, "usage: actor_bank [--accounts 2..%d] [--transfers N>=2] [--remote "
                 "[--broker PROGRAM] [--worker PROGRAM] [--tasks LIB]]\n", MAX_ACCOUNTS);
        return 2;
    }
    setvbuf (stdout, NULL, _IOLBF, 0);
    snprintf (s_bank.dir, sizeof s_bank.dir, "/tmp/zexec-bank-XXXXXX");
    if (!mkdtemp (s_bank.dir))
        return 1;
    zx_loop_t *loop = zx_loop_new ();
    if (!loop)
        return 1;
    bool ok = remote ? s_run_remote (loop, &servers) : s_run_local (loop);
    zx_loop_destroy (&loop);
    if (remote && ok) {
        char log [600];
        snprintf (log, sizeof log, "%s/broker.log", s_bank.dir);
        unlink (log);
        snprintf (log, sizeof log, "%s/broker", s_bank.dir);      //  The ipc socket
        unlink (log);
        for (int i = 1; i <= REMOTE_WORKERS; i++) {
            snprintf (log, sizeof log, "%s/worker-%d.log", s_bank.dir, i);
            unlink (log);
        }
    }
    if (ok)
        rmdir (s_bank.dir);
    else
        fprintf (stderr, "actor_bank: failed; its files and logs are in %s\n", s_bank.dir);
    return ok ? 0 : 1;
}
