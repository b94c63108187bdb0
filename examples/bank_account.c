/*  bank_account.c - the account actor of actor_bank: built into the
    program (for its process pool, whose workers are the program started
    again) and as libzexec-bank.so, the task library that zexec-worker
    loads with --tasks to host accounts for a broker's coordinators.

    Its state (a balance, the transfers it has applied) lives in its
    worker's memory, and nothing there survives the worker's death: so
    every handler appends what it applied to the account's file before it
    answers, and init rebuilds the state from that file. Withdrawals and
    deposits carry the transfer's id and apply once per id, so a teller
    whose ask failed with its worker (it may or may not have been applied)
    simply asks again: the restarted account answers from its reloaded
    state. One thing is kept in memory only, on purpose: how many messages
    the account has handled since it started, which a restart resets.

    Messages: init (path, opening balance); withdraw (id, amount) and
    deposit (id, amount) -> [balance]; balance () -> [balance, transfers
    applied, messages handled since this incarnation started].          */
#include <zexec.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
