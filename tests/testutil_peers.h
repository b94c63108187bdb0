/*  testutil_peers.h - one fixture for the tests that run real peer
    processes over tcp loopback: zexec-broker, zexec-worker, and other
    programs started as peers (an example as a worker, the test binary
    itself as a helper coordinator).

    Every process these helpers start is one of the test's processes
    (zx_test_peer_spawn, testutil.h): the fixture's teardown kills and
    reaps it, also when the test failed, and then prints its log (its
    stdout and stderr, in a file of its own). A test that uses them has
    zx_test_setup and zx_test_teardown (testutil.h) around it.

    A broker binds a port on 127.0.0.1 below the kernel's ephemeral range
    (the helper tries another when one is taken; why below the range:
    testutil_peers.c) and says which it got through --endpoint-file: no
    test picks a port. A broker started again after a stop gets the port
    the first one got.

    The helpers that wait poll, and between polls call zx_sleep: it runs
    the thread's current loop, if any, so that a remote executor's
    heartbeats and replies go on. Each fails the running test when what
    it waits for does not come.

    tests/CMakeLists.txt compiles testutil_peers.c with the paths of
    zexec-broker, zexec-worker and the test tasks (remote_tasks.c) as
    ZX_BROKER_PROGRAM, ZX_WORKER_PROGRAM and ZX_TEST_TASKS.             */
#ifndef ZX_TESTUTIL_PEERS_H_INCLUDED
#define ZX_TESTUTIL_PEERS_H_INCLUDED

#include "testutil.h"

//  ---- Brokers

typedef struct {
    zx_test_child_t *child;     //  The zexec-broker process
    int port;                   //  The tcp port it listens on
    char endpoint [64];         //  tcp://127.0.0.1:PORT
    int heartbeat_ms;           //  Its --heartbeat, 0 when not given
    const char *const *args;    //  Its further arguments
    const char *const *wrapper; //  A command it runs under (NULL: none)
} zx_test_broker_t;

//  Starts zexec-broker --bind tcp://127.0.0.1:PORT --verbose (PORT below
//  the ephemeral range, free), with
//  --heartbeat heartbeat_ms --liveness 3 unless heartbeat_ms is 0, then
//  args (NULL-terminated, at most 16; NULL for none), and waits up to 10 s
//  until it listens. The strings of args must last as long as the broker
//  may be restarted.
void zx_test_broker_start (zx_test_broker_t *broker, int heartbeat_ms, const char *const *args);

//  zx_test_broker_start, with the broker's command line after wrapper
//  (NULL-terminated, at most 4 words: a command that execs the rest, as
//  "sh -c 'ulimit -n 100 && exec \"$0\" \"$@\"'" does).
void zx_test_broker_start_under (zx_test_broker_t *broker, int heartbeat_ms,
                                 const char *const *args, const char *const *wrapper);

//  Starts a new zexec-broker in place of broker, whose process must have
//  ended, with the same arguments, on the same port.
void zx_test_broker_restart (zx_test_broker_t *broker);

//  ---- Workers and coordinators

//  Starts zexec-worker --connect the broker's endpoint --tasks (the test
//  tasks) --workers threads, with the broker's heartbeat and liveness 3
//  when the broker has a heartbeat, --verbose, then args (NULL-terminated,
//  at most 16; NULL for none). Does not wait for it: zx_test_wait_ready
//  does.
zx_test_child_t *zx_test_worker_start (const zx_test_broker_t *broker, int threads,
                                       const char *const *args);

//  How the broker's log and messages name the worker process pid, up to
//  the nonce and generation of its routing id: "worker HOST.PID.".
void zx_test_worker_name (char *name, size_t size, pid_t pid);

//  Waits up to 10 s until the broker's log says the worker is ready.
void zx_test_wait_ready (const zx_test_broker_t *broker, const zx_test_child_t *worker);

//  A remote executor at the broker with opts, or (NULL) with the broker's
//  heartbeat and liveness 3. Caller destroys it.
zx_executor_t *zx_test_remote_new (const zx_test_broker_t *broker, const zx_executor_opts_t *opts);

//  ---- The good peers: a broker, one worker it has ready, and a coordinator
//  on a loop of its own. The tests that attack a broker check that the
//  good coordinator is still served by the good worker.

typedef struct {
    zx_test_broker_t broker;
    zx_test_child_t *worker;    //  The good worker
    zx_loop_t *loop;
    zx_executor_t *remote;      //  The good coordinator
    int64_t next;               //  Argument of the next good square
    pid_t other;                //  Another good worker, when there is one
} zx_test_env_t;

typedef struct {
    int heartbeat_ms;                   //  See zx_test_broker_start
    const char *const *broker_args;     //  See zx_test_broker_start
    const char *const *broker_wrapper;  //  See zx_test_broker_start_under
    int threads;                        //  The good worker's (0: 2)
    const char *const *worker_args;     //  See zx_test_worker_start
    const zx_executor_opts_t *remote;   //  See zx_test_remote_new
} zx_test_env_opts_t;

//  Starts the broker, then the good worker, waits until it is ready, and
//  makes the loop and the good coordinator.
void zx_test_env_start (zx_test_env_t *env, const zx_test_env_opts_t *opts);

//  Fails the test, naming after, unless the broker and the good worker
//  still run and the good coordinator gets twenty right squares, each
//  from the good worker (or the other one).
void zx_test_env_check (zx_test_env_t *env, const char *after);

//  Destroys the good coordinator and its loop; the processes go on.
void zx_test_env_end (zx_test_env_t *env);

//  zx_test_env_end, then stops the good worker and the broker with
//  zx_test_peer_stop_cleanly.
void zx_test_env_stop (zx_test_env_t *env);

#endif
