/*  zx_pool.h - internal: the local pool back end, shared by its two files.

    A local pool is a dispatcher (broker/zx_dispatch) on a ROUTER socket
    and the workers it starts, watches and replaces: threads (zexec's
    actors, over a memq, zx_memq.h, or inproc when the caller gave an
    endpoint) or processes (this program started again by exec, over
    ipc). zx_pool.c holds the pool; zx_pool_escalate.c stops
    running tasks that were cancelled: the cancel token, then SIGTERM and
    SIGKILL for a process worker. Nothing else includes this header: the
    front reaches a pool through its zx__executor_ops_t.

    Threads and processes are one back end with one operations table, not
    two: they share the dispatcher, the slots, replacement, relays, counts
    and every operation, and differ only in how a worker starts, ends and
    is stopped. Two tables would repeat eleven entries to vary none of
    them; instead a few functions branch on `processes`.                  */
#ifndef ZX_POOL_H_INCLUDED
#define ZX_POOL_H_INCLUDED
#include "zx_actor.h"
#include "zx_events.h"
#include "zx_executor.h"

typedef struct zx__pool zx__pool_t;

//  One worker's place in the pool; a replacement takes the same slot with
//  the next generation.
typedef struct {
    zx__pool_t *owner;
    int index;
    unsigned generation;
    char identity [48];
    char name [64];             //  Thread name, or "pid N"
    zx__actor_t *actor;         //  Thread workers
    pid_t pid;                  //  Process workers, 0 when none
    int pidfd;
    bool ready;
    bool retiring;              //  Said DISCONNECT: its exit is expected
    uint64_t exit_timer;        //  Set while its last messages drain
    int exit_status;            //  As waitpid gave it
    uint64_t stop_corr;         //  The request it was signalled to stop, or 0
    int stop_signal;            //  SIGTERM, then SIGKILL
    bool sigkilled;             //  A shutdown's deadline sent it SIGKILL
    bool abandon;               //  A thread stuck at a shutdown's deadline
} zx__slot_t;

typedef struct zx__escalation zx__escalation_t;

struct zx__pool {
    zx__backend_t base;         //  First: the front reaches the ops through it
    bool processes;             //  Process workers, else threads
    int max_workers;
    int window;
    int max_tasks;
    int cancel_grace_ms;
    char *prefix;               //  Threads: names are PREFIX_N
    char *initializer;
    zx_values_t *initargs;
    char *endpoint;
    char *ipc_path;             //  File to remove for our own ipc endpoint
    zsock_t *router;
    zx__memq_t *memq;           //  Threads on no endpoint asked for: instead of router
    zx__dispatch_t *dispatch;
    zx_loop_t *loop;
    zx__slot_t *slots;
    zx__escalation_t *escalations;  //  Running tasks being stopped
    bool closed;                //  No new work will come
    bool stopped;               //  Workers dismissed
    bool broken;
    bool hastened;              //  A shutdown's deadline: replace no worker
    zx_shutdown_report_t *report;   //  Of that shutdown, or NULL
    char *broken_message;
    int failures_before_ready;
    uint64_t reap_timer;        //  Used when pidfds are not available
    int64_t plain_read_us;      //  When a flush from plain code last read
    unsigned plain_calls;       //  Flushes from plain code, to pace the clock
    zx_logger_t *log;
    zx__tel_t *tel;             //  Events (opts.events_endpoint), or NULL
};

//  Returns the slot whose worker has identity, or NULL.
zx__slot_t *zx__pool_slot (zx__pool_t *self, const char *identity);

//  Asks the worker holding request to stop it and watches that it does:
//  after the pool's grace a thread pool stops waiting (the request ends
//  cancelled, its late result dropped), a process worker gets SIGTERM,
//  and as long again later SIGKILL. Returns false when request was still
//  queued: then it has been withdrawn and has ended.
bool zx__pool_stop_request (zx__pool_t *self, zx__request_t *request);

//  Stops watching every request being stopped (the pool is going).
void zx__pool_forget_escalations (zx__pool_t *self);

#endif
