/*  test_actors_remote.c - stateful actors placed through a real
    zexec-broker on real zexec-worker processes (the counter type of
    actor_counter.h, which remote_tasks.c registers in the workers): order
    and state across the broker, two actors on two serving workers apart,
    and a serving worker SIGKILLed under an actor, whose asks fail naming
    the actor and the worker and whose restart policy brings it back on
    the other serving worker. Names: an actor spawned with a registered
    name is found through the broker by a second coordinator, this program
    run again as a helper ("--name-helper ENDPOINT NAME"), which asks the
    same actor.

    Short heartbeats (100 ms, liveness 3): a lost serving worker shows at
    the broker within half a second; the waits are safety nets only.    */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define HEARTBEAT_MS    100
#define WAIT_MS         30000

#include "testutil_actors.h"

static zx_actor_t *
s_spawn (zx_executor_t *remote, int64_t start, const zx_actor_opts_t *opts)
{
    zx_values_t *args = zx_values_pack ("i", start);
    zx_actor_t *actor = zx_actor_spawn (remote, "counter", &args, opts);
    assert_non_null (actor);
    zx_future_t *ready = zx_actor_ready (actor);
    assert_true (zx_test_wait_done (ready, WAIT_MS));
    if (zx_future_error (ready) != ZX_OK)
        fail_msg ("actor not placed: %s", zx_future_message (ready));
    zx_future_destroy (&ready);
    return actor;
}

//  True when the actor lives on the serving worker process pid (its
//  routing id is HOST.PID.NONCE.GEN).
static bool
s_on_worker (const zx_actor_t *actor, pid_t pid)
{
    char name [128], id [128];
    zx_test_worker_name (name, sizeof name, pid);       //  "worker HOST.PID."
    snprintf (id, sizeof id, "%s", zx_actor_worker (actor));
    return zx_actor_pid (actor) == pid && strncmp (id, name + 7, strlen (name + 7)) == 0;
}

//  Counts the events an actor's callback hears.
typedef struct {
    int placed, died;
} s_events_t;

static void
s_on_event (zx_actor_t *actor, zx_actor_event_t event, const char *text, void *arg)
{
    (void) actor;
    (void) text;
    s_events_t *events = arg;
    if (event == ZX_ACTOR_PLACED)   events->placed++;
    if (event == ZX_ACTOR_DIED)     events->died++;
}

//  One sender's tells and asks reach the actor in order, one at a time,
//  and its state is kept across them: the spawn names the serving worker
//  (and its pid) that hosts it, and every message goes there.
static void
test_remote_actor_keeps_order_and_state_across_the_broker (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *worker = zx_test_worker_start (&broker, 3, NULL);
    zx_test_wait_ready (&broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_actor_t *actor = s_spawn (remote, 1000, NULL);
    assert_true (s_on_worker (actor, worker->pid));
    for (int64_t n = 1; n <= 300; n++) {
        zx_values_t *args = zx_values_pack ("i", n);
        assert_int_equal (zx_actor_tell (actor, "add", &args), ZX_OK);
    }
    zx_future_t *seen = s_ask (actor, "seen", NULL, ZX_OK);
    assert_int_equal (zx_test_result_int (seen, 0), 300);       //  last
    assert_int_equal (zx_test_result_int (seen, 1), 0);         //  out of order
    assert_int_equal (zx_test_result_int (seen, 2), 1000 + 300 * 301 / 2);
    zx_future_destroy (&seen);
    //  And asks, interleaved with the state they change
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 301), 0),
                      1000 + 301 * 302 / 2);
    assert_int_equal (zx_actor_tell_failures (actor), 0);
    zx_future_t *stopped = zx_actor_stop (actor);
    assert_true (zx_test_wait_done (stopped, WAIT_MS));
    assert_int_equal (zx_future_error (stopped), ZX_OK);
    zx_future_t *late = s_ask (actor, "seen", NULL, ZX_EACTOR_STOPPED);
    zx_future_destroy (&late);
    zx_future_destroy (&stopped);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_peer_stop_cleanly (worker, "the serving worker", 10000);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

//  Two actors on two serving workers: while one's handler holds its
//  worker, the other answers.
static void
test_remote_actors_on_two_serving_workers_do_not_block_each_other (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *first = zx_test_worker_start (&broker, 1, NULL);
    zx_test_child_t *second = zx_test_worker_start (&broker, 1, NULL);
    zx_test_wait_ready (&broker, first);
    zx_test_wait_ready (&broker, second);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    //  The broker deals spawns as it deals tasks: spawn until one lands
    //  on each serving worker
    zx_actor_t *actors [8] = { NULL };
    zx_actor_t *on_first = NULL, *on_second = NULL;
    for (int i = 0; i < 8 && !(on_first && on_second); i++) {
        actors [i] = s_spawn (remote, 0, NULL);
        if (!on_first && s_on_worker (actors [i], first->pid))
            on_first = actors [i];
        if (!on_second && s_on_worker (actors [i], second->pid))
            on_second = actors [i];
    }
    assert_non_null (on_first);
    assert_non_null (on_second);
    char started [512], release [512];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (on_first, "hold", &args);
    assert_true (zx_test_wait_file (started, WAIT_MS));
    //  The first serving worker's only pool worker is held: the other
    //  actor answers all the same
    for (int64_t n = 1; n <= 20; n++)
        assert_int_equal (s_ask_int (on_second, "add", zx_values_pack ("i", n), 0),
                          n * (n + 1) / 2);
    assert_false (zx_future_done (held));
    FILE *file = fopen (release, "w");
    assert_non_null (file);
    fclose (file);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    assert_int_equal (zx_future_error (held), ZX_OK);
    assert_int_equal (zx_test_result_int (held, 0), first->pid);
    zx_future_destroy (&held);
    for (int i = 0; i < 8; i++)
        zx_actor_destroy (&actors [i]);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  SIGKILL of the serving worker under an actor: the ask it was running
//  fails with ZX_EWORKER_LOST naming the actor and the serving worker;
//  with max_restarts the actor comes back on the other serving worker,
//  from its spawn arguments, and later asks reach it there.
static void
test_remote_actor_sigkill_of_its_serving_worker_fails_asks_and_restarts_elsewhere (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *workers [2] = { zx_test_worker_start (&broker, 2, NULL),
                                     zx_test_worker_start (&broker, 2, NULL) };
    zx_test_wait_ready (&broker, workers [0]);
    zx_test_wait_ready (&broker, workers [1]);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_actor_t *actor = s_spawn (remote, 100, &(zx_actor_opts_t) {
                                     .name = "victim", .max_restarts = 1 });
    s_events_t events = { 0 };
    zx_actor_on_event (actor, s_on_event, &events);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 1), 0), 101);
    int host = s_on_worker (actor, workers [0]->pid) ? 0 : 1;
    assert_true (s_on_worker (actor, workers [host]->pid));
    char worker_id [256];
    snprintf (worker_id, sizeof worker_id, "%s", zx_actor_worker (actor));
    char started [512], release [512];
    zx_test_scratch_path (started, sizeof started, "started");
    zx_test_scratch_path (release, sizeof release, "release");
    zx_values_t *args = zx_values_pack ("ss", started, release);
    zx_future_t *held = zx_actor_ask (actor, "hold", &args);
    assert_true (zx_test_wait_file (started, WAIT_MS));
    zx_test_peer_stop (workers [host], SIGKILL, 5000);
    assert_true (zx_test_wait_done (held, WAIT_MS));
    const char *message = zx_future_message (held);
    if (zx_future_error (held) != ZX_EWORKER_LOST || !strstr (message, "victim")
    ||  !strstr (message, worker_id) || !strstr (message, "'hold'"))
        fail_msg ("held ask: %s: %s", zx_strerror (zx_future_error (held)), message);
    zx_future_destroy (&held);
    //  The restart: placed a second time, on the other serving worker,
    //  its state from the spawn arguments again
    int64_t deadline = zx_test_now_ms () + WAIT_MS;
    while (events.placed < 1 && zx_test_now_ms () < deadline) {
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 5);
        zx_future_destroy (&nap);
    }
    assert_int_equal (events.placed, 1);
    assert_int_equal (events.died, 1);
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 1), 0), 101);
    assert_int_equal (zx_actor_restarts (actor), 1);
    assert_true (s_on_worker (actor, workers [1 - host]->pid));
    zx_actor_destroy (&actor);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  The second coordinator of the names test, in a process of its own:
//  looks name up at the broker, adds 7 to the actor it names, and tries
//  to take the name for an actor of its own. Prints what it got; exits 0
//  when all was as the test expects.
static int
s_name_helper (const char *endpoint, const char *name)
{
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_opts_t opts = { .heartbeat_ms = HEARTBEAT_MS, .liveness = 3 };
    zx_executor_t *remote = zx_remote_executor_new (endpoint, &opts);
    if (!loop || !remote)
        return 1;
    int rc = 0;
    zx_actor_t *found = zx_actor_lookup (remote, name, NULL);
    zx_values_t *args = zx_values_pack ("i", (int64_t) 7);
    zx_future_t *added = found ? zx_actor_ask (found, "add", &args) : NULL;
    int64_t total = -1;
    if (!added || zx_future_wait (added, WAIT_MS) != ZX_OK
    ||  zx_future_result_int (added, &total) != ZX_OK)
        rc = 2;
    printf ("helper: add -> %lld (%s) on worker %s\n", (long long) total,
            added ? zx_future_message (added) : "no future", found ? zx_actor_worker (found) : "");
    //  The name is taken: a spawn that wants it fails
    zx_values_t *start = zx_values_pack ("i", (int64_t) 0);
    zx_actor_t *thief = zx_actor_spawn (remote, "counter", &start, &(zx_actor_opts_t) {
                                            .name = name, .registered = true });
    zx_future_t *ready = thief ? zx_actor_ready (thief) : NULL;
    if (!ready || zx_future_wait (ready, WAIT_MS) != ZX_EINVAL
    ||  !strstr (zx_future_message (ready), "is taken"))
        rc = 3;
    printf ("helper: the thief's spawn: %s\n", ready ? zx_future_message (ready) : "none");
    fflush (stdout);
    zx_future_destroy (&ready);
    zx_future_destroy (&added);
    zx_actor_destroy (&thief);
    zx_actor_destroy (&found);      //  Borrowed: the actor goes on
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    return rc;
}

//  Names: a coordinator spawns an actor with a registered name; a second
//  coordinator, in another process, looks the name up at the broker and
//  asks the same actor (its state shows both senders' messages); a name
//  nobody registered is a clear error; once the actor stops, its name is
//  gone.
static void
test_a_named_actor_is_found_and_asked_by_a_second_coordinator (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *first = zx_test_worker_start (&broker, 2, NULL);
    zx_test_child_t *second = zx_test_worker_start (&broker, 2, NULL);
    zx_test_wait_ready (&broker, first);
    zx_test_wait_ready (&broker, second);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_actor_t *actor = s_spawn (remote, 500, &(zx_actor_opts_t) {
                                     .name = "bank", .registered = true });
    assert_int_equal (s_ask_int (actor, "add", zx_values_pack ("i", (int64_t) 5), 0), 505);
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    assert_true (length > 0);
    exe [length] = 0;
    const char *argv [] = { exe, "--name-helper", broker.endpoint, "bank", NULL };
    zx_test_child_t *helper = zx_test_peer_spawn (argv);
    int status = zx_test_wait_running (helper, WAIT_MS);
    if (status < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("the second coordinator failed (status 0x%x): see its log", status);
    //  Its add reached this actor, after this coordinator's
    zx_future_t *seen = s_ask (actor, "seen", NULL, ZX_OK);
    assert_int_equal (zx_test_result_int (seen, 2), 512);
    zx_future_destroy (&seen);
    //  A name nobody registered, from this coordinator
    zx_actor_t *nobody = zx_actor_lookup (remote, "nobody", NULL);
    assert_non_null (nobody);
    zx_future_t *ready = zx_actor_ready (nobody);
    assert_true (zx_test_wait_done (ready, WAIT_MS));
    assert_int_equal (zx_future_error (ready), ZX_EACTOR_STOPPED);
    assert_non_null (strstr (zx_future_message (ready), "no actor is registered under the name "
                                                      "'nobody'"));
    zx_future_t *refused = s_ask (nobody, "seen", NULL, ZX_EACTOR_STOPPED);
    zx_future_destroy (&refused);
    zx_future_destroy (&ready);
    zx_actor_destroy (&nobody);
    //  Stopped, its name goes: a lookup after that fails
    zx_future_t *stopped = zx_actor_stop (actor);
    assert_true (zx_test_wait_done (stopped, WAIT_MS));
    assert_int_equal (zx_future_error (stopped), ZX_OK);
    zx_future_destroy (&stopped);
    zx_actor_t *gone = zx_actor_lookup (remote, "bank", NULL);
    ready = zx_actor_ready (gone);
    assert_true (zx_test_wait_done (ready, WAIT_MS));
    assert_int_equal (zx_future_error (ready), ZX_EACTOR_STOPPED);
    zx_future_destroy (&ready);
    zx_actor_destroy (&gone);
    zx_actor_destroy (&actor);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

//  Counts an actor's events, and keeps the last death's text.
typedef struct {
    int placed, died, restarting;
    char died_text [1024];
} s_idle_events_t;

static void
s_on_idle_event (zx_actor_t *actor, zx_actor_event_t event, const char *text, void *arg)
{
    (void) actor;
    s_idle_events_t *events = arg;
    if (event == ZX_ACTOR_PLACED)       events->placed++;
    if (event == ZX_ACTOR_RESTARTING)   events->restarting++;
    if (event == ZX_ACTOR_DIED) {
        events->died++;
        snprintf (events->died_text, sizeof events->died_text, "%s", text);
    }
}

//  Idle actors, with no message out, on a serving worker that is
//  SIGKILLed: the coordinator hears of it from the broker (a watch of
//  the serving worker, PROTOCOL.md 13.8) all the same. The monitor of one
//  without restarts ends with ZX_EWORKER_LOST naming the actor, the
//  worker and its pid; one with max_restarts is restarted on the other
//  serving worker from its spawn arguments, before anyone asks it.
static void
test_remote_idle_actor_is_restarted_when_its_serving_worker_dies_with_no_message_out (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *victim = zx_test_worker_start (&broker, 2, NULL);
    zx_test_wait_ready (&broker, victim);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    //  Both on the only serving worker there is
    zx_actor_t *mortal = s_spawn (remote, 10, &(zx_actor_opts_t) { .name = "mortal" });
    zx_actor_t *phoenix = s_spawn (remote, 20, &(zx_actor_opts_t) { .name = "phoenix",
                                                                    .max_restarts = 1 });
    assert_true (s_on_worker (mortal, victim->pid));
    assert_true (s_on_worker (phoenix, victim->pid));
    char victim_id [256];
    snprintf (victim_id, sizeof victim_id, "%s", zx_actor_worker (mortal));
    int victim_pid = (int) victim->pid;
    //  Touched once, then idle: nothing of theirs is out from here on
    assert_int_equal (s_ask_int (phoenix, "add", zx_values_pack ("i", (int64_t) 1), 0), 21);
    assert_int_equal (zx_actor_pending (mortal), 0);
    assert_int_equal (zx_actor_pending (phoenix), 0);
    s_idle_events_t mortal_events = { 0 }, phoenix_events = { 0 };
    zx_actor_on_event (mortal, s_on_idle_event, &mortal_events);
    zx_actor_on_event (phoenix, s_on_idle_event, &phoenix_events);
    zx_future_t *mortal_end = zx_actor_monitor (mortal);
    //  The restart's place
    zx_test_child_t *other = zx_test_worker_start (&broker, 2, NULL);
    zx_test_wait_ready (&broker, other);
    zx_test_peer_stop (victim, SIGKILL, 5000);
    //  Nothing is asked: the loop only runs until both have heard
    assert_true (zx_test_wait_done (mortal_end, WAIT_MS));
    const char *message = zx_future_message (mortal_end);
    char pid [32];
    snprintf (pid, sizeof pid, "(pid %d)", victim_pid);
    if (zx_future_error (mortal_end) != ZX_EWORKER_LOST || !strstr (message, "mortal")
    ||  !strstr (message, victim_id) || !strstr (message, pid))
        fail_msg ("mortal's monitor: %s: %s", zx_strerror (zx_future_error (mortal_end)),
                  message);
    assert_int_equal (mortal_events.died, 1);
    int64_t deadline = zx_test_now_ms () + WAIT_MS;
    while (phoenix_events.placed < 1 && zx_test_now_ms () < deadline) {
        zx_future_t *nap = zx_future_new (loop);
        zx_future_wait (nap, 5);
        zx_future_destroy (&nap);
    }
    assert_int_equal (phoenix_events.died, 1);
    assert_int_equal (phoenix_events.restarting, 1);
    assert_int_equal (phoenix_events.placed, 1);
    assert_non_null (strstr (phoenix_events.died_text, victim_id));
    assert_int_equal (zx_actor_restarts (phoenix), 1);
    assert_true (s_on_worker (phoenix, other->pid));
    //  Placed before it was asked; its state is the spawn's again
    assert_int_equal (zx_actor_pending (phoenix), 0);
    assert_int_equal (s_ask_int (phoenix, "add", zx_values_pack ("i", (int64_t) 1), 0), 21);
    //  A mortal's ask after that fails as its monitor did
    zx_future_t *late = s_ask (mortal, "add", zx_values_pack ("i", (int64_t) 1),
                               ZX_EACTOR_STOPPED);
    zx_future_destroy (&late);
    zx_future_destroy (&mortal_end);
    zx_actor_destroy (&mortal);
    zx_actor_destroy (&phoenix);
    zx_executor_destroy (&remote);
    zx_loop_destroy (&loop);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_remote_actor_keeps_order_and_state_across_the_broker),
    cmocka_unit_test (test_remote_actors_on_two_serving_workers_do_not_block_each_other),
    cmocka_unit_test (test_remote_actor_sigkill_of_its_serving_worker_fails_asks_and_restarts_elsewhere),
    cmocka_unit_test (test_a_named_actor_is_found_and_asked_by_a_second_coordinator),
    cmocka_unit_test (test_remote_idle_actor_is_restarted_when_its_serving_worker_dies_with_no_message_out),
};

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    if (argc > 3 && strcmp (argv [1], "--name-helper") == 0)
        return s_name_helper (argv [2], argv [3]);
    return zx_test_run (argc, argv, tests, ZX_TEST_COUNT (tests), zx_test_setup,
                        zx_test_teardown);
}
