/*  testutil_peers.c - real zexec-broker and zexec-worker processes for
    the tests (see testutil_peers.h).

    Each is one of the test's processes (zx_test_peer_spawn), so the
    fixture's teardown ends it whatever happened. The one idea: no test
    chooses a port. A broker writes the endpoint it got into a file of the
    test's scratch directory, whole (by rename) once it listens; the
    helpers read the port from there, and a broker started again binds
    that port. It binds a port below the kernel's ephemeral range
    (ip_local_port_range), trying another when one is taken: while a
    broker is down, the coordinators and workers that reconnect to its
    port every 100 ms get source ports from that range, and one of them
    could get the broker's own port, connect to itself (TCP's simultaneous
    open) and hold the port for good, so that the restarted broker could
    not bind it. Below the range no connecting socket can take it.       */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#if !defined (ZX_BROKER_PROGRAM) || !defined (ZX_WORKER_PROGRAM) || !defined (ZX_TEST_TASKS)
#   error "tests/CMakeLists.txt passes the paths of zexec-broker, zexec-worker and the tasks"
#endif

#define MAX_ARGS        16
#define LIVENESS        "3"

//  --------------------------------------------------------------------
//  Brokers

//  Appends the NULL-terminated args to argv at *argc, keeping room for
//  the final NULL
static void
s_append (const char **argv, size_t *argc, size_t size, const char *const *args)
{
    for (size_t i = 0; args && args [i]; i++) {
        if (*argc + 1 >= size)
            fail_msg ("too many arguments for a peer");
        argv [(*argc)++] = args [i];
    }
    argv [*argc] = NULL;
}

//  Starts the broker binding bind and waits until it wrote the endpoint
//  it listens on to a file of the scratch directory. Returns false when
//  it ended before it listened and may_fail (the port was taken).
static bool
s_broker_run (zx_test_broker_t *broker, const char *bind, bool may_fail)
{
    static unsigned serial;
    char file [512], name [64], heartbeat [16];
    snprintf (name, sizeof name, "broker-%u.endpoint", ++serial);
    zx_test_scratch_path (file, sizeof file, name);
    snprintf (heartbeat, sizeof heartbeat, "%d", broker->heartbeat_ms);
    const char *argv [MAX_ARGS + 16] = { NULL };
    size_t argc = 0;
    s_append (argv, &argc, MAX_ARGS + 16, broker->wrapper);
    const char *start [] = { ZX_BROKER_PROGRAM, "--bind", bind, "--endpoint-file", file, NULL };
    s_append (argv, &argc, MAX_ARGS + 16, start);
    if (broker->heartbeat_ms > 0) {
        const char *timing [] = { "--heartbeat", heartbeat, "--liveness", LIVENESS, NULL };
        s_append (argv, &argc, MAX_ARGS + 16, timing);
    }
    argv [argc++] = "--verbose";
    s_append (argv, &argc, MAX_ARGS + 16, broker->args);
    broker->child = zx_test_peer_spawn (argv);
    int64_t deadline = zx_test_now_ms () + 10000;
    while (access (file, F_OK) != 0) {
        if (!zx_test_alive (broker->child) && may_fail)
            return false;
        if (!zx_test_alive (broker->child))
            fail_msg ("zexec-broker --bind %s ended before it listened (status 0x%x)", bind,
                      broker->child->status);
        if (zx_test_now_ms () > deadline)
            fail_msg ("zexec-broker --bind %s did not listen within 10 s", bind);
        zx_sleep (5);
    }
    //  The first line: tcp://127.0.0.1:PORT
    char *text = zx_test_read_file (file);
    text [strcspn (text, "\n")] = 0;
    const char *colon = strrchr (text, ':');
    int port = colon ? atoi (colon + 1) : 0;
    if (port <= 0 || port > 65535 || strlen (text) >= sizeof broker->endpoint)
        fail_msg ("zexec-broker wrote '%s' to %s", text, file);
    broker->port = port;
    snprintf (broker->endpoint, sizeof broker->endpoint, "%s", text);
    free (text);
    return true;
}

//  The lowest port of the kernel's ephemeral range (32768 when unknown)
static int
s_ephemeral_low (void)
{
    int low = 32768, high = 0;
    FILE *file = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (file) {
        if (fscanf (file, "%d %d", &low, &high) != 2 || low < 2048)
            low = 32768;
        fclose (file);
    }
    return low;
}

void
zx_test_broker_start (zx_test_broker_t *broker, int heartbeat_ms, const char *const *args)
{
    zx_test_broker_start_under (broker, heartbeat_ms, args, NULL);
}

void
zx_test_broker_start_under (zx_test_broker_t *broker, int heartbeat_ms,
                            const char *const *args, const char *const *wrapper)
{
    memset (broker, 0, sizeof *broker);
    broker->heartbeat_ms = heartbeat_ms;
    broker->args = args;
    broker->wrapper = wrapper;
    //  A port below the ephemeral range (see the top of this file), from
    //  a place of this process's own: another tried when one is taken
    int low = s_ephemeral_low ();
    int span = low - 1024 < 16384 ? low - 1024 : 16384;
    unsigned seed = (unsigned) getpid () * 2654435761u ^ (unsigned) zx_test_now_ms ();
    for (int attempt = 0; attempt < 64; attempt++) {
        char bind [64];
        snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d",
                  low - span + (int) ((seed + (unsigned) attempt * 7919u) % (unsigned) span));
        if (s_broker_run (broker, bind, true))
            return;
    }
    s_broker_run (broker, "tcp://127.0.0.1:*", false);
}

void
zx_test_broker_restart (zx_test_broker_t *broker)
{
    assert_false (zx_test_alive (broker->child));
    char bind [64];
    snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", broker->port);
    int port = broker->port;
    s_broker_run (broker, bind, false);
    assert_int_equal (broker->port, port);
}

//  --------------------------------------------------------------------
//  Workers and coordinators

zx_test_child_t *
zx_test_worker_start (const zx_test_broker_t *broker, int threads, const char *const *args)
{
    char count [16], heartbeat [16];
    snprintf (count, sizeof count, "%d", threads);
    snprintf (heartbeat, sizeof heartbeat, "%d", broker->heartbeat_ms);
    const char *argv [MAX_ARGS + 14] = { ZX_WORKER_PROGRAM, "--connect", broker->endpoint,
                                         "--tasks", ZX_TEST_TASKS, "--workers", count };
    size_t argc = 7;
    if (broker->heartbeat_ms > 0) {
        const char *timing [] = { "--heartbeat", heartbeat, "--liveness", LIVENESS, NULL };
        s_append (argv, &argc, MAX_ARGS + 14, timing);
    }
    argv [argc++] = "--verbose";
    s_append (argv, &argc, MAX_ARGS + 14, args);
    return zx_test_peer_spawn (argv);
}

void
zx_test_worker_name (char *name, size_t size, pid_t pid)
{
    static char host [64];
    if (!host [0] && gethostname (host, sizeof host - 1) != 0)
        snprintf (host, sizeof host, "host");
    snprintf (name, size, "worker %s.%d.", host, (int) pid);
}

void
zx_test_wait_ready (const zx_test_broker_t *broker, const zx_test_child_t *worker)
{
    char name [128];
    zx_test_worker_name (name, sizeof name, worker->pid);
    if (!zx_test_log_wait_running (broker->child->log, name, " ready", 1, 10000))
        fail_msg ("%s never became ready at the broker", name);
}

zx_executor_t *
zx_test_remote_new (const zx_test_broker_t *broker, const zx_executor_opts_t *opts)
{
    zx_executor_opts_t timing = { .heartbeat_ms = broker->heartbeat_ms, .liveness = 3 };
    zx_executor_t *remote = zx_remote_executor_new (broker->endpoint, opts ? opts : &timing);
    assert_non_null (remote);
    return remote;
}

//  --------------------------------------------------------------------
//  The good peers

void
zx_test_env_start (zx_test_env_t *env, const zx_test_env_opts_t *opts)
{
    memset (env, 0, sizeof *env);
    zx_test_broker_start_under (&env->broker, opts->heartbeat_ms, opts->broker_args,
                                opts->broker_wrapper);
    env->worker = zx_test_worker_start (&env->broker, opts->threads ? opts->threads : 2,
                                        opts->worker_args);
    zx_test_wait_ready (&env->broker, env->worker);
    env->loop = zx_loop_new ();
    assert_non_null (env->loop);
    env->remote = zx_test_remote_new (&env->broker, opts->remote);
    env->next = 1;
}

void
zx_test_env_check (zx_test_env_t *env, const char *after)
{
    zx_test_child_t *broker = env->broker.child;
    if (!zx_test_alive (broker))
        fail_msg ("the broker died after %s (status 0x%x)", after, broker->status);
    if (!zx_test_alive (env->worker))
        fail_msg ("the good worker died after %s (status 0x%x)", after, env->worker->status);
    zx_test_expect_squares (env->loop, env->remote, &env->next, 20, env->worker->pid,
                            env->other, after);
    if (!zx_test_alive (broker))
        fail_msg ("the broker died after %s (status 0x%x)", after, broker->status);
}

void
zx_test_env_end (zx_test_env_t *env)
{
    zx_executor_destroy (&env->remote);
    zx_loop_destroy (&env->loop);
}

void
zx_test_env_stop (zx_test_env_t *env)
{
    zx_test_env_end (env);
    zx_test_peer_stop_cleanly (env->worker, "the good worker", 10000);
    zx_test_peer_stop_cleanly (env->broker.child, "the broker", 10000);
}
