/*  actor_bank.c - account actors on a process pool, transfers by ask, a
    worker killed with SIGKILL in the middle, a supervisor that restarts
    the accounts it hosted, and an audit of what was lost and kept.

    Each account is an actor. Its state (a balance, the transfers it has
    applied) lives in its worker's memory, and nothing there survives the
    worker's death: so every handler appends what it applied to the
    account's file before it answers, and init rebuilds the state from
    that file. Withdrawals and deposits carry the transfer's id and apply
    once per id, so a teller whose ask failed with its worker (it may or
    may not have been applied) simply asks again: the restarted account
    answers from its reloaded state. One thing is kept in memory only, on
    purpose: how many messages the account has handled since it started,
    which a restart resets; the audit shows it.

    Usage: actor_bank [--accounts N] [--transfers N]                    */
#include <zexec.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ACCOUNTS 32
#define TELLERS 4
#define START_BALANCE 1000

/*  ---------------------------------------------------------------------
    The account actor (runs in the worker processes)                      */

typedef struct {
    char path [512];            //  Its file: one "W id amount" or "D id amount" a line
    int64_t balance;
    int64_t *applied;           //  Transfer ids applied, with 'W' or 'D' folded in
    size_t applied_count, applied_size;
    int64_t handled;            //  Messages since this incarnation started: not saved
} account_t;

static bool
s_applied (const account_t *self, int64_t key)
{
    for (size_t i = 0; i < self->applied_count; i++)
        if (self->applied [i] == key)
            return true;
    return false;
}

static int
s_remember (account_t *self, int64_t key)
{
    if (self->applied_count == self->applied_size) {
        size_t size = self->applied_size ? self->applied_size * 2 : 64;
        int64_t *grown = realloc (self->applied, size * sizeof *grown);
        if (!grown)
            return -1;
        self->applied = grown;
        self->applied_size = size;
    }
    self->applied [self->applied_count++] = key;
    return 0;
}

//  init (path, opening balance): replays the account's file, if any
static int
account_init (void *state, zx_call_t *call)
{
    account_t *self = state;
    const char *path;
    if (zx_call_arg_str (call, 0, &path) || zx_call_arg_int (call, 1, &self->balance))
        return -1;
    snprintf (self->path, sizeof self->path, "%s", path);
    FILE *file = fopen (path, "r");
    if (!file)
        return errno == ENOENT ? 0 : zx_call_fail (call, "cannot read %s", path);
    char kind;
    long long id, amount;
    while (fscanf (file, " %c %lld %lld", &kind, &id, &amount) == 3) {
        self->balance += kind == 'D' ? amount : -amount;
        if (s_remember (self, id * 2 + (kind == 'D'))) {
            fclose (file);
            return zx_call_fail (call, "out of memory");
        }
    }
    fclose (file);
    return 0;
}

static void
account_destroy (void *state)
{
    free (((account_t *) state)->applied);
}

//  Applies one side of transfer id (kind 'W' or 'D'), once, saved first.
static int
s_apply (account_t *self, zx_call_t *call, char kind)
{
    int64_t id, amount;
    if (zx_call_arg_int (call, 0, &id) || zx_call_arg_int (call, 1, &amount))
        return -1;
    self->handled++;
    int64_t key = id * 2 + (kind == 'D');
    if (!s_applied (self, key)) {
        if (kind == 'W' && self->balance < amount)
            return zx_call_fail (call, "insufficient funds: %lld < %lld",
                                 (long long) self->balance, (long long) amount);
        FILE *file = fopen (self->path, "a");
        if (!file || fprintf (file, "%c %lld %lld\n", kind, (long long) id,
                              (long long) amount) < 0 || fclose (file) != 0)
            return zx_call_fail (call, "cannot save to %s", self->path);
        self->balance += kind == 'D' ? amount : -amount;
        if (s_remember (self, key))
            return zx_call_fail (call, "out of memory");
    }
    return zx_call_return_int (call, self->balance);
}

static int
account_withdraw (void *state, zx_call_t *call)
{
    return s_apply (state, call, 'W');
}

static int
account_deposit (void *state, zx_call_t *call)
{
    return s_apply (state, call, 'D');
}

//  balance () -> [balance, transfers applied, messages handled since start]
static int
account_balance (void *state, zx_call_t *call)
{
    account_t *self = state;
    zx_call_return_int (call, self->balance);
    zx_call_return_int (call, (int64_t) self->applied_count);
    return zx_call_return_int (call, self->handled);
}

static const zx_actor_handler_t account_handlers [] = {
    { "withdraw", account_withdraw }, { "deposit", account_deposit },
    { "balance", account_balance }, { NULL, NULL }
};

static const zx_actor_type_t account = {
    "account", sizeof (account_t), account_init, account_destroy, account_handlers
};
ZX_ACTOR_TYPE (account);

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
    zx_executor_t *pool;
} bank_t;

static bank_t s_bank;

//  Asks until the answer is not "lost with its worker" (then the account
//  is being restarted and the ask waits for it). Returns the future.
static zx_future_t *
s_ask (zx_actor_t *actor, const char *message, int64_t id, int64_t amount)
{
    for (int attempt = 0; ; attempt++) {
        zx_values_t *args = zx_values_pack ("ii", id, amount);
        zx_future_t *future = zx_actor_ask (actor, message, &args);
        zx_await (future);
        if (zx_future_error (future) != ZX_EWORKER_LOST || attempt == 5)
            return future;
        printf ("teller: %s %s of transfer %lld lost with its worker; asking again\n",
                zx_actor_name (actor), message, (long long) id);
        s_bank.retried++;
        zx_future_destroy (&future);
    }
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
        zx_future_t *out = s_ask (s_bank.accounts [from], "withdraw", id, amount);
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
        zx_future_t *in = s_ask (s_bank.accounts [to], "deposit", id, amount);
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
    (void) actor;
    (void) arg;
    if (event != ZX_ACTOR_PLACED || zx_actor_restarts (actor) > 0)
        printf ("supervisor: %s\n", text);
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    s_bank.count = 8;
    s_bank.transfers = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp (argv [i], "--accounts") == 0)
            s_bank.count = atoi (argv [i + 1]);
        if (strcmp (argv [i], "--transfers") == 0)
            s_bank.transfers = atoi (argv [i + 1]);
    }
    if (s_bank.count < 2 || s_bank.count > MAX_ACCOUNTS || s_bank.transfers < 2) {
        fprintf (stderr, "usage: actor_bank [--accounts 2..%d] [--transfers N>=2]\n",
                 MAX_ACCOUNTS);
        return 2;
    }
    setvbuf (stdout, NULL, _IOLBF, 0);
    char dir [] = "/tmp/zexec-bank-XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    zx_loop_t *loop = zx_loop_new ();
    s_bank.pool = zx_process_pool_new (&(zx_executor_opts_t) { .max_workers = 3 });
    if (!loop || !s_bank.pool)
        return 1;
    //  Spawns go to the ready worker that hosts the fewest actors: wait
    //  until the three have started, so that the accounts spread
    for (int waited = 0; zx_executor_ready_workers (s_bank.pool) < 3 && waited < 30000;
         waited += 5) {
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 5);
        zx_future_destroy (&nap);
    }
    for (int i = 0; i < s_bank.count; i++) {
        char name [32], path [600];
        snprintf (name, sizeof name, "acct-%d", i);
        snprintf (path, sizeof path, "%s/%s", dir, name);
        zx_values_t *args = zx_values_pack ("si", path, (int64_t) START_BALANCE);
        s_bank.accounts [i] = zx_actor_spawn (s_bank.pool, "account", &args,
            &(zx_actor_opts_t) { .name = name, .max_restarts = 3,
                                 .restart_window_ms = 60000 });
        zx_actor_on_event (s_bank.accounts [i], s_supervisor, NULL);
        s_bank.expected [i] = START_BALANCE;
    }
    for (int i = 0; i < s_bank.count; i++) {
        zx_future_t *ready = zx_actor_ready (s_bank.accounts [i]);
        zx_future_wait (ready, 30000);
        if (zx_future_error (ready) != ZX_OK) {
            fprintf (stderr, "acct-%d: %s\n", i, zx_future_message (ready));
            return 1;
        }
        zx_future_destroy (&ready);
    }
    printf ("bank: %d accounts of %d on 3 worker processes; state saved in %s\n",
            s_bank.count, START_BALANCE, dir);
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
    int mismatched = 0;
    printf ("audit: %d transfers done, %d declined (insufficient funds), %d asks lost with "
            "the killed worker and asked again\n", s_bank.done, s_bank.declined,
            s_bank.retried);
    for (int i = 0; i < s_bank.count; i++) {
        zx_future_t *future = zx_actor_ask (s_bank.accounts [i], "balance", NULL);
        zx_future_wait (future, 30000);
        int64_t balance = -1, applied = 0, handled = 0;
        const zx_values_t *result = zx_future_result (future);
        if (result) {
            zx_values_get_int (result, 0, &balance);
            zx_values_get_int (result, 1, &applied);
            zx_values_get_int (result, 2, &handled);
        }
        total += balance;
        bool ok = balance == s_bank.expected [i];
        mismatched += !ok;
        int restarts = zx_actor_restarts (s_bank.accounts [i]);
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
            "applied once, by transfer id); the unsaved message counts of the restarted "
            "accounts\n", s_bank.retried, s_bank.victim_pid);
    bool ok = total == start && mismatched == 0 && s_bank.killed;
    printf ("audit: %s\n", ok ? "OK: no money lost or made" : "FAILED");
    for (int i = 0; i < s_bank.count; i++) {
        char path [600];
        snprintf (path, sizeof path, "%s/acct-%d", dir, i);
        zx_actor_destroy (&s_bank.accounts [i]);
        unlink (path);
    }
    zx_executor_destroy (&s_bank.pool);
    zx_loop_destroy (&loop);
    rmdir (dir);
    return ok ? 0 : 1;
}
