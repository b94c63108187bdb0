/*  test_actors.c - stateful actors on thread and process pools: order per
    sender, state across messages, actors on two workers apart, the
    mailbox bound, stop, unknown handlers and types, a worker killed under
    an actor, restarts, giving up, monitors.

    This binary is also the process pool's worker program: its actor
    types are registered before main, in the workers too.               */
#include "testutil.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000

#include "testutil_actors.h"

#include "actor_counter.h"

/*  ---------------------------------------------------------------------
    Helpers                                                               */

static zx_executor_t *
s_pool (bool processes, int workers)
{
    zx_executor_opts_t opts = { .max_workers = workers };
    zx_executor_t *pool = processes ? zx_process_pool_new (&opts) : zx_thread_pool_new (&opts);
    assert_non_null (pool);
    return pool;
}

static zx_actor_t *
s_spawn (zx_executor_t *pool, int64_t start, const zx_actor_opts_t *opts)
{
    zx_values_t *args = zx_values_pack ("i", start);
    zx_actor_t *actor = zx_actor_spawn (pool, "counter", &args, opts);
    assert_non_null (actor);
    assert_null (args);
    return actor;
}

static void
s_wait_ready (zx_actor_t *actor)
{
    zx_future_t *ready = zx_actor_ready (actor);
    assert_true (zx_test_wait_done (ready, WAIT_MS));
    if (zx_future_error (ready) != ZX_OK)
        fail_msg ("actor not placed: %s", zx_future_message (ready));
    zx_future_destroy (&ready);
}

//  Runs the loop for about ms.
static void
s_nap (zx_loop_t *loop, int ms)
{
    zx_future_t *nap = zx_future_new (loop);
    zx_future_wait (nap, ms);
    zx_future_destroy (&nap);
}

//  Counts the events an actor's callback hears.
typedef struct {
    int placed, died, restarting, stopped, gave_up;
} s_events_t;

static void
s_on_event (zx_actor_t *actor, zx_actor_event_t event, const char *text, void *arg)
{
    (void) actor;
    (void) text;
    s_events_t *events = arg;
    if (event == ZX_ACTOR_PLACED)       events->placed++;
    if (event == ZX_ACTOR_DIED)         events->died++;
    if (event == ZX_ACTOR_RESTARTING)   events->restarting++;
    if (event == ZX_ACTOR_STOPPED)      events->stopped++;
    if (event == ZX_ACTOR_GAVE_UP)      events->gave_up++;
}

//  Waits (running the loop) until *counter reaches at least value.
static void
s_wait_count (zx_loop_t *loop, const int *count, int value)
{
    int64_t deadline = zx_test_now_ms () + WAIT_MS;
    while (*count < value && zx_test_now_ms () < deadline)
        s_nap (loop, 2);
    assert_true (*count >= value);
}

/*  ---------------------------------------------------------------------
    Tests                                                                 */

//  1,000 tells from one sender, then an ask: the actor saw them all, in
//  the order they were sent, and the ask after them.
static void
s_order (bool processes)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (processes, 2);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .mailbox = 2000 });
    for (int64_t i = 1; i <= 1000; i++) {
        zx_values_t *args = zx_values_pack ("i", i);
        assert_int_equal (zx_actor_tell (actor, "add", &args), ZX_OK);
    }
    zx_future_t *seen = s_ask (actor, "seen", NULL, ZX_OK);
    assert_int_equal (zx_test_result_int (seen, 0), 1000);
    assert_int_equal (zx_test_result_int (seen, 1), 0);
    assert_int_equal (zx_test_result_int (seen, 2), 1000 * 1001 / 2);
    assert_int_equal (zx_actor_tell_failures (actor), 0);
    zx_future_destroy (&seen);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_one_senders_tells_arrive_in_order_thread (void **state)
{
    (void) state;
    s_order (false);
}

static void
test_one_senders_tells_arrive_in_order_process (void **state)
{
    (void) state;
    s_order (true);
}

//  The state an init set and handlers changed is there at the next message.
static void
s_state (bool processes)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (processes, 2);
    zx_actor_t *actor = s_spawn (pool, 100, NULL);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 1), 0), 101);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 2), 0), 103);
    assert_int_equal (s_ask_int (actor, "seen", NULL, 2), 103);
    zx_future_t *stopped = zx_actor_stop (actor);
    assert_true (zx_test_wait_done (stopped, WAIT_MS));
    assert_int_equal (zx_future_error (stopped), ZX_OK);
    zx_future_destroy (&stopped);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_state_is_kept_across_messages_thread (void **state)
{
    (void) state;
    s_state (false);
}

static void
test_state_is_kept_across_messages_process (void **state)
{
    (void) state;
    s_state (true);
}

//  An actor held in a slow handler on one worker does not hold up an actor
//  on the other: it answers while the first is still held.
static void
s_apart (bool processes)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (processes, 2);
    zx_actor_t *slow = s_spawn (pool, 0, NULL);
    s_wait_ready (slow);
    //  The dispatcher deals spawns round-robin among the workers ready:
    //  find one on the other worker, once it has started (those on the
    //  same worker stay until the end, so that each try is one deal)
    zx_actor_t *quick = NULL, *same [100];
    int same_count = 0;
    while (!quick && same_count < 100) {
        zx_actor_t *actor = s_spawn (pool, 7, NULL);
        s_wait_ready (actor);
        if (strcmp (zx_actor_worker (actor), zx_actor_worker (slow)) != 0)
            quick = actor;
        else {
            same [same_count++] = actor;
            s_nap (loop, 5);
        }
    }
    assert_non_null (quick);
    char started [512], release [512];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (slow, "hold", &args);
    assert_true (zx_test_wait_file (started, WAIT_MS));
    assert_int_equal (s_ask_int (quick, "seen", NULL, 2), 7);
    assert_false (zx_future_done (held));
    zx_test_touch (release);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    assert_int_equal (zx_future_error (held), ZX_OK);
    zx_future_destroy (&held);
    zx_actor_destroy (&slow);
    zx_actor_destroy (&quick);
    for (int i = 0; i < same_count; i++)
        zx_actor_destroy (&same [i]);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_actors_on_two_workers_do_not_block_each_other_thread (void **state)
{
    (void) state;
    s_apart (false);
}

static void
test_actors_on_two_workers_do_not_block_each_other_process (void **state)
{
    (void) state;
    s_apart (true);
}

//  A mailbox of 3: the fourth message not yet answered is refused with
//  ZX_EQUEUE_FULL (tell and ask alike), nothing is dropped, and once the
//  actor has answered there is room again.
static void
test_mailbox_bound_gives_queue_full (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (false, 1);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .mailbox = 3 });
    char started [512], release [512];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (actor, "hold", &args);
    for (int64_t i = 1; i <= 2; i++) {
        args = zx_values_pack ("i", i);
        assert_int_equal (zx_actor_tell (actor, "add", &args), ZX_OK);
    }
    assert_int_equal (zx_actor_pending (actor), 3);
    args = zx_values_pack ("i", (int64_t) 3);
    assert_int_equal (zx_actor_tell (actor, "add", &args), ZX_EQUEUE_FULL);
    assert_null (args);
    zx_future_t *refused = zx_actor_ask (actor, "seen", NULL);
    assert_true (zx_future_done (refused));
    assert_int_equal (zx_future_error (refused), ZX_EQUEUE_FULL);
    assert_non_null (strstr (zx_future_message (refused), "mailbox full"));
    zx_future_destroy (&refused);
    zx_test_touch (release);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    zx_future_destroy (&held);
    zx_future_t *seen = s_ask (actor, "seen", NULL, ZX_OK);
    assert_int_equal (zx_test_result_int (seen, 0), 2);
    assert_int_equal (zx_test_result_int (seen, 1), 0);
    zx_future_destroy (&seen);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  A coroutine that waits for room before each tell sends 200 through a
//  mailbox of 4, none refused and all in order.
static void
s_sender (void *arg)
{
    zx_actor_t *actor = arg;
    for (int64_t i = 1; i <= 200; i++) {
        zx_err_t rc = zx_actor_wait_room (actor);
        if (rc != ZX_OK) {
            zx_coro_fail (rc, "wait_room: %s", zx_strerror (rc));
            return;
        }
        zx_values_t *args = zx_values_pack ("i", i);
        if ((rc = zx_actor_tell (actor, "add", &args)) != ZX_OK) {
            zx_coro_fail (rc, "tell %d: %s", (int) i, zx_strerror (rc));
            return;
        }
        if (zx_actor_pending (actor) > 4) {
            zx_coro_fail (ZX_EINVAL, "%zu pending", zx_actor_pending (actor));
            return;
        }
    }
}

static void
test_coroutine_waits_for_room_in_the_mailbox (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (true, 1);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .mailbox = 4 });
    zx_future_t *sender = zx_coro_start (loop, s_sender, actor, 0);
    assert_non_null (sender);
    assert_true (zx_test_wait_done (sender, WAIT_MS));
    if (zx_future_error (sender) != ZX_OK)
        fail_msg ("sender: %s", zx_future_message (sender));
    zx_future_destroy (&sender);
    //  The last tells are still in the mailbox: wait until answered
    int64_t deadline = zx_test_now_ms () + WAIT_MS;
    while (zx_actor_pending (actor) > 0 && zx_test_now_ms () < deadline)
        s_nap (loop, 2);
    zx_future_t *seen = s_ask (actor, "seen", NULL, ZX_OK);
    assert_int_equal (zx_test_result_int (seen, 0), 200);
    assert_int_equal (zx_test_result_int (seen, 1), 0);
    zx_future_destroy (&seen);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  Stopped by its reference: the stop's future and the monitor end with
//  ZX_OK; an ask after it fails with ZX_EACTOR_STOPPED, naming the actor.
//  Stopped by itself (a handler's zx_actor_stop_self): its reply still
//  comes, and the next ask fails the same way.
static void
s_stop (bool processes)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (processes, 2);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .name = "stoppable" });
    s_events_t events = { 0 };
    zx_actor_on_event (actor, s_on_event, &events);
    zx_future_t *monitor = zx_actor_monitor (actor);
    zx_future_t *stopped = zx_actor_stop (actor);
    assert_true (zx_test_wait_done (stopped, WAIT_MS));
    assert_int_equal (zx_future_error (stopped), ZX_OK);
    assert_true (zx_test_wait_done (monitor, WAIT_MS));
    assert_int_equal (zx_future_error (monitor), ZX_OK);
    assert_int_equal (events.stopped, 1);
    zx_future_t *late = s_ask (actor, "seen", NULL, ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (late), "stoppable"));
    zx_future_destroy (&late);
    zx_future_destroy (&stopped);
    zx_future_destroy (&monitor);
    zx_actor_destroy (&actor);

    actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .name = "quitter" });
    monitor = zx_actor_monitor (actor);
    zx_future_t *bye = s_ask (actor, "quit", NULL, ZX_OK);
    zx_future_destroy (&bye);
    assert_true (zx_test_wait_done (monitor, WAIT_MS));
    assert_int_equal (zx_future_error (monitor), ZX_OK);
    late = s_ask (actor, "seen", NULL, ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (late), "quitter"));
    assert_non_null (strstr (zx_future_message (late), "stopped itself"));
    zx_future_destroy (&late);
    zx_future_destroy (&monitor);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static void
test_stop_then_ask_fails_clearly_thread (void **state)
{
    (void) state;
    s_stop (false);
}

static void
test_stop_then_ask_fails_clearly_process (void **state)
{
    (void) state;
    s_stop (true);
}

//  An unknown handler fails its ask with ZX_ENOTASK and says which; the
//  actor goes on. An unknown type fails the spawn, the ready future, the
//  monitor and later asks.
static void
test_unknown_handler_and_type_fail_clearly (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (true, 1);
    zx_actor_t *actor = s_spawn (pool, 5, NULL);
    zx_future_t *nope = s_ask (actor, "nope", NULL, ZX_ENOTASK);
    assert_non_null (strstr (zx_future_message (nope), "has no handler 'nope'"));
    zx_future_destroy (&nope);
    assert_int_equal (s_ask_int (actor, "seen", NULL, 2), 5);
    zx_actor_destroy (&actor);

    zx_actor_t *ghost = zx_actor_spawn (pool, "no_such_type", NULL, NULL);
    assert_non_null (ghost);
    zx_future_t *ready = zx_actor_ready (ghost);
    assert_true (zx_test_wait_done (ready, WAIT_MS));
    assert_int_equal (zx_future_error (ready), ZX_ENOTASK);
    assert_non_null (strstr (zx_future_message (ready), "no actor type 'no_such_type'"));
    zx_future_t *ask = s_ask (ghost, "seen", NULL, ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (ask), "no_such_type"));
    zx_future_destroy (&ask);
    zx_future_destroy (&ready);
    zx_actor_destroy (&ghost);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  The worker hosting an actor is killed with SIGKILL while an ask runs:
//  the ask fails with ZX_EWORKER_LOST naming the actor, its worker's pid
//  and the signal; the monitor ends with the same; later asks fail.
static void
test_worker_sigkill_fails_pending_asks_with_the_cause (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (true, 2);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .name = "victim" });
    s_wait_ready (actor);
    pid_t pid = zx_actor_pid (actor);
    assert_true (pid > 0 && pid != getpid ());
    zx_future_t *monitor = zx_actor_monitor (actor);
    char started [512], release [512], pid_text [32];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (actor, "hold", &args);
    zx_future_t *behind = zx_actor_ask (actor, "seen", NULL);
    assert_true (zx_test_wait_file (started, WAIT_MS));
    assert_int_equal (kill (pid, SIGKILL), 0);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    assert_true (zx_test_wait_done (behind, WAIT_MS));
    snprintf (pid_text, sizeof pid_text, "pid %d", (int) pid);
    zx_future_t *failed [] = { held, behind, monitor };
    for (int i = 0; i < 3; i++) {
        assert_true (zx_test_wait_done (failed [i], WAIT_MS));
        const char *message = zx_future_message (failed [i]);
        if (zx_future_error (failed [i]) != ZX_EWORKER_LOST || !strstr (message, "victim")
        ||  !strstr (message, pid_text) || !strstr (message, "SIGKILL"))
            fail_msg ("future %d: %s: %s", i, zx_strerror (zx_future_error (failed [i])),
                      message);
    }
    zx_future_t *late = s_ask (actor, "seen", NULL, ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (late), "SIGKILL"));
    zx_future_destroy (&late);
    zx_future_destroy (&held);
    zx_future_destroy (&behind);
    zx_future_destroy (&monitor);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  With max_restarts, an actor whose worker is killed while it is idle
//  comes back on another worker from its spawn arguments (its state
//  reset to them: nothing else survives), and later asks reach it.
static void
test_restart_policy_restarts_and_later_asks_reach_the_new_actor (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (true, 2);
    zx_actor_t *actor = s_spawn (pool, 100, &(zx_actor_opts_t) { .max_restarts = 2 });
    s_events_t events = { 0 };
    zx_actor_on_event (actor, s_on_event, &events);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 1), 0), 101);
    pid_t first = zx_actor_pid (actor);
    assert_int_equal (events.placed, 1);
    assert_true (first > 0);
    assert_int_equal (kill (first, SIGKILL), 0);
    s_wait_count (loop, &events.placed, 2);
    assert_int_equal (events.died, 1);
    assert_int_equal (events.restarting, 1);
    assert_int_equal (zx_actor_restarts (actor), 1);
    assert_true (zx_actor_pid (actor) > 0 && zx_actor_pid (actor) != first);
    //  Back from its spawn arguments: the add before the death is gone
    assert_int_equal (s_ask_int (actor, "seen", NULL, 2), 100);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 1), 0), 101);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  max_restarts 1: the second death within the window is one too many.
//  The actor gives up: the monitor and later asks fail with
//  ZX_EACTOR_STOPPED saying so.
static void
test_restart_policy_gives_up_after_n (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (true, 2);
    zx_actor_t *actor = s_spawn (pool, 0, &(zx_actor_opts_t) { .max_restarts = 1,
                                                               .name = "fragile" });
    s_events_t events = { 0 };
    zx_actor_on_event (actor, s_on_event, &events);
    zx_future_t *monitor = zx_actor_monitor (actor);
    s_wait_ready (actor);
    assert_true (zx_actor_pid (actor) > 0);
    assert_int_equal (kill (zx_actor_pid (actor), SIGKILL), 0);
    s_wait_count (loop, &events.placed, 2);
    assert_true (zx_actor_pid (actor) > 0);
    assert_int_equal (kill (zx_actor_pid (actor), SIGKILL), 0);
    s_wait_count (loop, &events.gave_up, 1);
    assert_int_equal (events.died, 2);
    assert_int_equal (zx_actor_restarts (actor), 1);
    assert_true (zx_test_wait_done (monitor, WAIT_MS));
    assert_int_equal (zx_future_error (monitor), ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (monitor), "gave up"));
    zx_future_t *late = s_ask (actor, "seen", NULL, ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (late), "fragile"));
    assert_non_null (strstr (zx_future_message (late), "gave up"));
    zx_future_destroy (&late);
    zx_future_destroy (&monitor);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  Destroying a reference stops its actor: the worker's table is empty
//  again (thread pool: the same process).
static void
test_destroying_the_reference_stops_the_actor (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (false, 2);
    zx_actor_t *actors [4];
    for (int i = 0; i < 4; i++) {
        actors [i] = s_spawn (pool, i, NULL);
        s_wait_ready (actors [i]);
    }
    zx_future_t *monitor = zx_actor_monitor (actors [0]);
    for (int i = 0; i < 4; i++)
        zx_actor_destroy (&actors [i]);
    assert_true (zx_test_wait_done (monitor, WAIT_MS));
    assert_int_equal (zx_future_error (monitor), ZX_OK);
    zx_future_destroy (&monitor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  zx_executor_shutdown with cancel_futures cancels an actor's messages
//  that wait for its worker (bound to it, not dealt yet) as it cancels
//  queued tasks: each ask fails with ZX_ECANCELLED at once, each tell is
//  counted as failed; the message the worker is running finishes.
static void
test_shutdown_with_cancel_futures_cancels_queued_actor_messages (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = s_pool (false, 1);
    zx_actor_t *actor = s_spawn (pool, 0, NULL);
    s_wait_ready (actor);
    char started [512], release [512];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (actor, "hold", &args);
    assert_true (zx_test_wait_file (started, WAIT_MS));
    //  More than the worker's window (256): most wait in the pool, bound
    //  to the worker, the rest in the worker, not started
    zx_future_t *asks [200];
    for (int64_t i = 0; i < 200; i++) {
        args = zx_values_pack ("i", i);
        asks [i] = zx_actor_ask (actor, "add", &args);
        args = zx_values_pack ("i", i);
        assert_int_equal (zx_actor_tell (actor, "add", &args), ZX_OK);
    }
    assert_int_equal (zx_actor_pending (actor), 401);
    assert_int_equal (zx_executor_shutdown (pool, false, true), ZX_OK);
    for (int i = 0; i < 200; i++) {
        assert_true (zx_future_done (asks [i]));
        if (zx_future_error (asks [i]) != ZX_ECANCELLED
        ||  !strstr (zx_future_message (asks [i]), "cancelled by executor shutdown"))
            fail_msg ("ask %d: %s: %s", i, zx_strerror (zx_future_error (asks [i])),
                      zx_future_message (asks [i]));
        zx_future_destroy (&asks [i]);
    }
    assert_int_equal (zx_actor_tell_failures (actor), 200);
    //  The hold runs on: it finishes, unless the pool had not yet heard
    //  that it started (its worker says so after 1 ms, PROTOCOL.md 5.3),
    //  when it is cancelled as a task held and not started is
    assert_true (zx_actor_pending (actor) <= 1);
    zx_test_touch (release);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    assert_true (zx_future_error (held) == ZX_OK || zx_future_error (held) == ZX_ECANCELLED);
    assert_int_equal (zx_actor_pending (actor), 0);
    zx_future_destroy (&held);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_one_senders_tells_arrive_in_order_thread),
    cmocka_unit_test (test_one_senders_tells_arrive_in_order_process),
    cmocka_unit_test (test_state_is_kept_across_messages_thread),
    cmocka_unit_test (test_state_is_kept_across_messages_process),
    cmocka_unit_test (test_actors_on_two_workers_do_not_block_each_other_thread),
    cmocka_unit_test (test_actors_on_two_workers_do_not_block_each_other_process),
    cmocka_unit_test (test_mailbox_bound_gives_queue_full),
    cmocka_unit_test (test_coroutine_waits_for_room_in_the_mailbox),
    cmocka_unit_test (test_stop_then_ask_fails_clearly_thread),
    cmocka_unit_test (test_stop_then_ask_fails_clearly_process),
    cmocka_unit_test (test_unknown_handler_and_type_fail_clearly),
    cmocka_unit_test (test_worker_sigkill_fails_pending_asks_with_the_cause),
    cmocka_unit_test (test_restart_policy_restarts_and_later_asks_reach_the_new_actor),
    cmocka_unit_test (test_restart_policy_gives_up_after_n),
    cmocka_unit_test (test_destroying_the_reference_stops_the_actor),
    cmocka_unit_test (test_shutdown_with_cancel_futures_cancels_queued_actor_messages),
};

ZX_TEST_MAIN_WITH (tests, zx_test_setup, zx_test_teardown)
