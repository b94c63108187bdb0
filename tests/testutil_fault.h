/*  testutil_fault.h - what the fault tests share (test_fault_pool.c,
    test_fault_remote.c, test_fault_chaos.c): tasks that crash, sleep or
    report where they ran, registered in every fault test binary (it is
    also the process pools' worker program), and the checks that each
    future ended exactly once (a done callback counts it).

    The tasks:
      square (n) -> [n * n, pid]
      nap (ms) -> [pid]
      nap_us (us) -> [us, pid]
      announce_nap (path, ms, n) -> [n * n, pid]: writes its pid to path
          (whole, by rename), then sleeps
      deaf_gate (started, release, timeout_ms) -> [pid]: creates started,
          then waits until release exists, never looking at its cancel
          token
      die_always (runs, how): appends its pid to runs, then crashes
      crash_once (marker, runs, how, n) -> [n * n, pid]: appends its pid to
          runs; crashes when marker does not exist yet, after making it
      fault_target (runs, n) -> [n * n, pid]: the task ZEXEC_FAULT names
    A crash is how: "kill" (SIGKILL), "segv" (SIGSEGV raised), "null" (a
    write through NULL), "exit" (exit (1)) or "abort". A runs file gets a
    line with the pid of each run; "" for runs keeps none.               */
#ifndef ZX_TESTUTIL_FAULT_H_INCLUDED
#define ZX_TESTUTIL_FAULT_H_INCLUDED

#include "testutil.h"

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define ZX_SANITIZED 1
#else
#   define ZX_SANITIZED 0
#endif

//  A done callback: adds one to the int at arg and to the count of all
//  futures ended.
void zx_test_count_done (zx_future_t *future, void *arg);

//  How many futures zx_test_count_done has seen end since the last reset.
size_t zx_test_ended (void);

//  Sets that count back to 0: a test's setup does.
void zx_test_ended_reset (void);

//  Submits task (taking args) and counts its future's ends in *calls.
zx_future_t *zx_test_submit_counted (zx_loop_t *loop, zx_executor_t *executor, const char *task,
                                     zx_values_t *args, int *calls);

//  Runs "square" (i) for i below count (at most 20) on executor, counting
//  each future's ends in calls [i] (zeroed first), and checks within 10 s
//  that each holds i * i, and pid after it unless pid is 0. Destroys them.
void zx_test_counted_squares (zx_loop_t *loop, zx_executor_t *executor, int count, pid_t pid,
                              int *calls);

//  Lets done callbacks (and any late reply) run for settle_ms, then
//  checks that each of count futures ended exactly once.
void zx_test_expect_ended_once (const int *calls, size_t count, int64_t settle_ms);

//  True once process pid no longer exists.
bool zx_test_pid_gone (pid_t pid);

//  Waits until each of a pool's workers has run a task (a nap of 50 ms).
void zx_test_warm_up (zx_loop_t *loop, zx_executor_t *pool, int workers);

#endif
