/*  zx_pool_worker.h - internal: the pool worker runtime and its start-up.

    One worker is one DEALER socket connected to a dispatcher's ROUTER and
    one thread that runs tasks: a pool thread (a czmq actor) or the main
    thread of a process worker. Both run zx__worker_run.                  */
#ifndef ZX_POOL_WORKER_H_INCLUDED
#define ZX_POOL_WORKER_H_INCLUDED
#include "zexec.h"
#include "zx_memq.h"
#include <czmq.h>

typedef struct {
    const char *endpoint;       //  Where the dispatcher's ROUTER is
    const char *identity;       //  Routing id, printable, unique in the pool
    const char *service;        //  Service name announced in READY
    const char *name;           //  Thread name or label announced in READY
    uint32_t credits;           //  Requests it may hold at once
    uint32_t max_tasks;         //  Retire after this many (0: never)
    const char *initializer;    //  Task run once before READY, or NULL
    const void *initargs;       //  Encoded values for it
    size_t initargs_size;
    pid_t parent;               //  Exit when the parent changes (0: ignore)
    zx__memq_t *memq;           //  A thread pool's transport (then no endpoint)
    //  With memq: its peer, attached by whoever started the thread before
    //  it said it runs (taken over by zx__worker_run), or NULL to attach
    //  here. Attached first, a term sent as soon as the thread runs is
    //  never lost: zx__memq_term finds nobody to tell for an identity not
    //  yet attached
    zx__memq_peer_t *peer;
} zx__worker_opts_t;

//  Why zx__worker_run returned
typedef enum {
    ZX_WORKER_DISMISSED = 0,    //  DISCONNECT from the dispatcher, or $TERM
    ZX_WORKER_RETIRED = 1,      //  max_tasks reached
    ZX_WORKER_INIT_FAILED = 2,  //  The initializer failed
    ZX_WORKER_ORPHANED = 3,     //  The parent process went away
    ZX_WORKER_BROKEN = 4        //  Cannot create or connect its socket
} zx__worker_exit_t;

//  Runs a worker until it is dismissed, retires, fails to initialize or is
//  orphaned. pipe, when not NULL, is a czmq actor pipe: "$TERM" on it ends
//  the worker; with opts->memq the worker speaks over it instead of a
//  socket, and zx__memq_term with its identity ends it (the pipe is not
//  read). Returns why it ended.
zx__worker_exit_t zx__worker_run (const zx__worker_opts_t *opts, zsock_t *pipe);

//  Disables czmq's own SIGINT/SIGTERM handling once per process, before
//  zexec creates its first socket: signals are the application's.
void zx__czmq_quiet (void);

//  Starts this program again as a process worker: fork, then at once
//  exec of /proc/self/exe with the same arguments and env plus extra_env
//  (NULL-terminated "NAME=value" strings), dying with its parent. Returns
//  the child's pid, or -1 with errno set.
pid_t zx__spawn_self (char *const extra_env []);

//  Returns a pidfd for pid (readable when the process exits), or -1.
int zx__pidfd_open (pid_t pid);

#endif
