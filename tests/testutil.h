/*  testutil.h - shared helpers for the cmocka tests.

    Every test program is also a possible process-pool worker (the pool
    starts the test binary again), so main calls zx_init first. Given an
    argument, the program runs only the test of that name: ctest registers
    one entry per test that way.                                          */
#ifndef ZX_TESTUTIL_H_INCLUDED
#define ZX_TESTUTIL_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <cmocka.h>
#include "zexec.h"

#define ZX_TEST_MAIN(tests)                                                 \
    int main (int argc, char **argv)                                        \
    {                                                                       \
        zx_init (argc, argv);                                               \
        if (argc > 1)                                                       \
            cmocka_set_test_filter (argv [1]);                              \
        return cmocka_run_group_tests (tests, NULL, NULL);                  \
    }

//  The rest of a test program's main once zx_init has run: gives each of
//  the count tests setup and teardown (where not NULL; cmocka runs the
//  teardown also when the test fails), runs them all, or only the one
//  argv [1] names, and returns cmocka's verdict.
int zx_test_run (int argc, char **argv, struct CMUnitTest *tests, size_t count,
                 CMFixtureFunction setup, CMFixtureFunction teardown);

#define ZX_TEST_COUNT(tests) (sizeof (tests) / sizeof ((tests) [0]))

//  A test program's main: zx_init, then zx_test_run with setup and
//  teardown around each test.
#define ZX_TEST_MAIN_WITH(tests, setup, teardown)                           \
    int main (int argc, char **argv)                                        \
    {                                                                       \
        zx_init (argc, argv);                                               \
        return zx_test_run (argc, argv, tests, ZX_TEST_COUNT (tests),       \
                            setup, teardown);                               \
    }

//  ---- Odds and ends

//  Monotonic clock in milliseconds, for tests that check that things
//  overlap in time (with wide margins), never for speed.
int64_t zx_test_now_ms (void);

//  Runs argv (NULL-terminated) to completion, capturing stdout and stderr
//  into a malloc'd NUL-terminated buffer the caller frees. Returns the
//  exit status as waitpid gives it, or -1 on failure to start.
int zx_test_run_capture (char *const argv [], char **output);

//  A malloc'd copy of exactly size bytes, or of size bytes left for the
//  caller to fill when data is NULL (at least one byte is allocated, so a
//  zero-size copy is still a valid, distinct pointer): handed to a
//  decoder, a read past its end fails the test under AddressSanitizer.
//  Caller frees it.
uint8_t *zx_test_heap_copy (const void *data, size_t size);

//  Lets the loop run a few milliseconds (so callbacks that hold futures
//  run), then destroys it.
void zx_test_loop_finish (zx_loop_t **loop_p);

//  Creates (or truncates) the file at path; fails the test when it cannot.
void zx_test_touch (const char *path);

//  Waits up to timeout_ms, calling zx_sleep (2) between looks, until a
//  file exists at path. Returns whether it does.
bool zx_test_wait_file (const char *path, int64_t timeout_ms);

//  Waits up to timeout_ms (running the loop) for future to end. Returns
//  whether it has; never fails the test itself.
bool zx_test_wait_done (zx_future_t *future, int64_t timeout_ms);

//  A plain tcp socket connected to port on 127.0.0.1 (no ZMTP); the
//  caller closes it.
int zx_test_tcp_connect (int port);

//  The resident set of a process in KiB, -1 when unknown.
long zx_test_rss_kib (pid_t pid);

//  The state letter of a process as /proc/PID/stat gives it ('R', 'S',
//  'T' stopped, 'Z' zombie...), or 0 when there is no such process.
char zx_test_proc_state (pid_t pid);

//  For a coordinator that stopped itself (SIGSTOP) with answers on their
//  way: waits up to 10 s until pid is stopped, then up to 30 s until the
//  broker whose log is broker_log drops a coordinator, for its full
//  connection or, on a machine so slow that its liveness passes first,
//  for its silence. Fails the test when either does not come.
void zx_test_wait_stopped_and_dropped (pid_t pid, const char *broker_log);

//  The most resident memory process pid has had (VmHWM), in KiB; -1 when
//  it cannot be read.
long zx_test_peak_rss_kib (pid_t pid);

//  Counts the processes whose parent is this one (zombies too), and
//  stores the first size of their pids in pids (which may be NULL when
//  size is 0).
size_t zx_test_children (pid_t *pids, size_t size);

//  ---- Futures. Each helper fails the running test when what it expects
//  does not happen.

//  Submits task (taking args) on executor; the future never is NULL.
zx_future_t *zx_test_submit (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                             zx_values_t *args);

//  Waits up to timeout_ms (running the loop) for all count futures to end.
void zx_test_wait_all (zx_future_t **futures, size_t count, int64_t timeout_ms);

//  Value index, an int, of the result of a future that succeeded.
int64_t zx_test_result_int (const zx_future_t *future, size_t index);

//  Destroys count futures.
void zx_test_destroy_all (zx_future_t **futures, size_t count);

//  Submits task (arg) and waits up to timeout_ms for its end; returns the
//  future, done or not. Caller destroys it.
zx_future_t *zx_test_run_one (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                              int64_t arg, int64_t timeout_ms);

//  Submits count tasks task (arg) into futures.
void zx_test_submit_many (zx_loop_t *loop, zx_executor_t *executor, zx_future_t **futures,
                          int count, const char *task, int64_t arg);

//  Submits the task "square" (i) for i from 0 to count - 1 into futures.
void zx_test_submit_squares (zx_loop_t *loop, zx_executor_t *executor, zx_future_t **futures,
                             int count);

//  Waits up to timeout_ms for the count futures of zx_test_submit_squares;
//  each must hold i * i, and pid after it unless pid is 0. Destroys them.
void zx_test_check_squares (zx_future_t **futures, int count, int64_t timeout_ms, pid_t pid);

//  Submits count tasks "square" (n) for n = *next, *next + 1, ... on
//  executor (advancing *next) and checks, within 10 s, that each returns
//  [n * n, pid] with pid one of worker and other (0: only worker); fails
//  the test naming after otherwise. For the tests that check that a good
//  coordinator is still served after an attack.
void zx_test_expect_squares (zx_loop_t *loop, zx_executor_t *executor, int64_t *next,
                             int count, pid_t worker, pid_t other, const char *after);

//  ---- Child processes and their logs (testutil_peers.h builds on these
//  for zexec-broker and zexec-worker). The helpers that wait poll; between
//  polls they sleep the thread, or in their _running forms call zx_sleep,
//  which runs the thread's current loop meanwhile: a test with a remote
//  executor needs that for its heartbeats and replies to go on.

typedef struct {
    pid_t pid;                  //  0 once reaped
    int status;                 //  As waitpid gave it, once reaped
    char log [256];             //  Its stdout and stderr
} zx_test_child_t;

//  Starts argv (NULL-terminated) with stdin from /dev/null and stdout and
//  stderr into a fresh log file named after prefix; the child dies with
//  this process. Fails the test when it cannot.
void zx_test_spawn (zx_test_child_t *child, const char *prefix, const char *const argv []);

//  True while the child runs; reaps it (keeping its status) once it ended
//  (or once someone else reaped it: then its status is not known).
bool zx_test_alive (zx_test_child_t *child);

//  Sends sig and waits up to timeout_ms for the child to end. Returns its
//  status as waitpid gives it, or -1 when it is still running.
int zx_test_stop (zx_test_child_t *child, int sig, int64_t timeout_ms);

//  Waits up to timeout_ms for the child to end by itself, running the
//  current loop meanwhile. Returns its status as waitpid gives it, or -1
//  when it is still running.
int zx_test_wait_running (zx_test_child_t *child, int64_t timeout_ms);

//  Kills (SIGKILL) and reaps the child if it runs, prints the last 6 KiB
//  of its log when show is true, and removes the log.
void zx_test_reap (zx_test_child_t *child, bool show);

//  The whole file at path, NUL-terminated (empty when it cannot be read).
//  Caller frees it.
char *zx_test_read_file (const char *path);

//  Counts the lines of the file at path that contain text and also more
//  (when not NULL).
int zx_test_log_count (const char *path, const char *text, const char *more);

//  Waits up to timeout_ms for count such lines; true when they came.
bool zx_test_log_wait (const char *path, const char *text, const char *more, int count,
                       int64_t timeout_ms);

//  The same, running the current loop meanwhile.
bool zx_test_log_wait_running (const char *path, const char *text, const char *more,
                               int count, int64_t timeout_ms);

//  Waits up to 10 s (not running the loop) for count lines holding text
//  and more (when not NULL) in the log at path; fails the test, saying
//  how many there were, when they do not come.
void zx_test_expect_log (const char *path, const char *text, const char *more, int count);

//  ---- The fixture: a test's processes and scratch directory. The
//  processes a test starts with zx_test_peer_spawn (testutil_peers.h
//  starts brokers and workers with it) are listed, and the teardown
//  kills and reaps them all, also when the test failed, and then prints
//  their logs; as it does after a passing test when ZX_SHOW_LOGS is set
//  in the environment. The files a test makes go in its scratch
//  directory, which the teardown removes.

//  cmocka setup: no processes yet, a fresh scratch directory, the test
//  not passed. Returns 0, or -1 when the directory cannot be made.
int zx_test_setup (void **state);

//  cmocka teardown: kills (SIGKILL) and reaps every process the test
//  started, prints their logs unless it passed, removes the logs and the
//  scratch directory. Returns 0.
int zx_test_teardown (void **state);

//  Marks the running test as passed: each test's last step.
void zx_test_pass (void);

//  The running test's scratch directory.
const char *zx_test_scratch (void);

//  Writes the scratch directory's path for name into path; fails the
//  test when it does not fit.
void zx_test_scratch_path (char *path, size_t size, const char *name);

//  Starts argv (NULL-terminated) with zx_test_spawn and lists it for the
//  teardown.
zx_test_child_t *zx_test_peer_spawn (const char *const argv []);

//  Sends sig to the child and waits up to timeout_ms for it to end.
//  Returns its status as waitpid gives it; when it does not end, kills it
//  and fails the test.
int zx_test_peer_stop (zx_test_child_t *child, int sig, int64_t timeout_ms);

//  Sends SIGTERM and expects the child, which what names in the failure
//  message, to exit with status 0 within timeout_ms. Under the sanitizers
//  a leak or a race found at exit fails the test here.
void zx_test_peer_stop_cleanly (zx_test_child_t *child, const char *what, int64_t timeout_ms);

#endif
