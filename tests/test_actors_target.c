/*  test_actors_target.c - a coordinator's request with a target
    (ZX_FLAG_TARGET, PROTOCOL.md 13.7), the wire under remote actors, sent
    by a raw peer: a well-formed one reaches the named worker alone, with
    the target and its flag stripped; a malformed target, or one naming no
    worker of the service, is answered with a status and a text, and the
    broker goes on serving. The same for actor names and for watches of
    serving workers (PROTOCOL.md 13.8). Label `security`: what arrives
    from a socket. */
#define _GNU_SOURCE
#include "testutil_raw.h"
#include "zx_values.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Appends a request record of task with ZX_FLAG_TARGET whose arguments
//  are prefix (prefix_size bytes, the target field as sent) then the
//  encoded [arg].
static void
s_add_targeted (zx__batch_t *batch, uint64_t corr, const char *task, const void *prefix,
                size_t prefix_size, int64_t arg)
{
    zx_values_t *args = zx_values_pack ("i", arg);
    size_t size;
    const void *data = zx__values_data (args, &size);
    uint8_t *bytes = malloc (prefix_size + size);
    assert_non_null (bytes);
    memcpy (bytes, prefix, prefix_size);
    memcpy (bytes + prefix_size, data, size);
    assert_int_equal (zx__batch_add_request (batch, corr, 1, ZX_FLAG_TARGET, task, strlen (task),
                                             bytes, prefix_size + size), ZX_OK);
    free (bytes);
    zx_values_destroy (&args);
}

//  Receives REPLY batches on the raw coordinator until count records came;
//  counts those with status whose payload holds text.
static int
s_replies (void *raw, int count, uint8_t status, const char *text, int *total)
{
    int matched = 0;
    while (*total < count) {
        zmq_msg_t frames [4];
        size_t frame_count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
        assert_int_equal (frame_count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
            if (rec.status == ZX_STATUS_STARTED)
                continue;
            (*total)++;
            if (rec.status == status
            &&  (!text || memmem (rec.payload, rec.payload_size, text, strlen (text))))
                matched++;
        }
        zx_test_close_frames (frames, frame_count);
    }
    return matched;
}

//  Malformed targets (no length, a 0 length, a length past the record, a
//  NUL in the id) are answered BAD_REQUEST "malformed target"; a target
//  naming no worker of the service, WORKER_LOST "no serving worker". The
//  broker lives on, and the good coordinator is still served.
static void
test_malformed_or_unknown_targets_are_clear_errors_at_the_broker (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 100 });
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-target");
    zx__batch_t batch = { 0 };
    //  No target length at all: empty arguments
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, ZX_FLAG_TARGET, "square", 6, NULL, 0),
                      ZX_OK);
    s_add_targeted (&batch, 2, "square", "\x00", 1, 2);
    s_add_targeted (&batch, 3, "square", "\xff" "abc", 4, 3);
    s_add_targeted (&batch, 4, "square", "\x04" "a\0bc", 5, 4);
    s_add_targeted (&batch, 5, "square", "\x0c" "nobody.1.2.3", 13, 5);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    zx__batch_free (&batch);
    int total = 0;
    //  All five come back; the counts are read from one pass
    zmq_msg_t frames [4];
    int malformed = 0, unknown = 0;
    while (total < 5) {
        size_t frame_count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
        assert_int_equal (frame_count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
            total++;
            if (rec.status == ZX_STATUS_BAD_REQUEST && rec.corr <= 4
            &&  memmem (rec.payload, rec.payload_size, "malformed target", 16))
                malformed++;
            if (rec.status == ZX_STATUS_WORKER_LOST && rec.corr == 5
            &&  memmem (rec.payload, rec.payload_size, "no serving worker 'nobody.1.2.3'", 32))
                unknown++;
        }
        zx_test_close_frames (frames, frame_count);
    }
    assert_int_equal (malformed, 4);
    assert_int_equal (unknown, 1);
    zx_test_env_check (&env, "malformed and unknown targets");
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  A well-formed target reaches that worker and no other, as a plain
//  request: the broker strips the target and the flag. Its reply goes
//  back to the coordinator.
static void
test_a_target_reaches_only_the_named_worker_stripped (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 100 });
    //  Two fake workers of their own service; the target names the second
    void *one = zx_test_fake_worker (&env.broker, "fake-one", "pinned", 4);
    void *two = zx_test_fake_worker (&env.broker, "fake-two", "pinned", 4);
    void *raw = zx_test_raw_connect (env.broker.endpoint, "target-coordinator");
    zx__batch_t batch = { 0 };
    for (uint64_t corr = 1; corr <= 3; corr++)
        s_add_targeted (&batch, corr, "square", "\x08" "fake-two", 9, (int64_t) corr);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("pinned"), B (batch.data, batch.size));
    zx__batch_free (&batch);
    int taken = 0;
    zx__batch_t replies = { 0 };
    while (taken < 3) {
        zmq_msg_t frames [4];
        size_t count = zx_test_expect_command (two, 0, "ZXW01", ZX_CMD_REQUEST, frames, 4);
        assert_int_equal (count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__request_rec_t rec;
        while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK) {
            taken++;
            assert_int_equal (rec.flags & ZX_FLAG_TARGET, 0);
            zx_values_t *args = NULL;
            int64_t arg = 0;
            assert_int_equal (zx__values_decode (rec.args, rec.args_size, &args), ZX_OK);
            assert_int_equal (zx_values_get_int (args, 0, &arg), ZX_OK);
            assert_int_equal (arg, taken);      //  In the order sent
            zx_values_destroy (&args);
            zx_test_add_reply (&replies, rec.corr, rec.attempt, ZX_STATUS_OK, arg * arg, 0);
        }
        zx_test_close_frames (frames, count);
    }
    SEND (two, S ("ZXW01"), S ("\x03"), B (replies.data, replies.size));
    zx__batch_free (&replies);
    //  The other worker got nothing
    zmq_msg_t frames [4];
    assert_int_equal (zx_test_recv_command (one, 0, "ZXW01", ZX_CMD_REQUEST, frames, 4, 300), 0);
    int total = 0;
    assert_int_equal (s_replies (raw, 3, ZX_STATUS_OK, NULL, &total), 3);
    zx_test_env_check (&env, "targeted requests");
    zx_test_raw_close (&one);
    zx_test_raw_close (&two);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  Actor names (PROTOCOL.md 13.8) from a raw coordinator: a registration
//  with missing fields, an unknown zx.name task and arguments that are
//  not values are BAD_REQUEST; a lookup of a name nobody holds is a task
//  error saying so; a good registration is found by a lookup, and another
//  coordinator cannot take the name. The broker goes on serving.
static void
test_malformed_name_requests_are_clear_errors_at_the_broker (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 100 });
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-names");
    void *other = zx_test_raw_connect (env.broker.endpoint, "other-names");
    zx__batch_t batch = { 0 };
    zx_values_t *short_reg = zx_values_pack ("ss", "bank", "w1");
    zx_values_t *good_reg = zx_values_pack ("ssssi", "bank", "w1", "1.2.3", "counter",
                                            (int64_t) 42);
    zx_values_t *lookup = zx_values_pack ("s", "bank");
    zx_values_t *missing = zx_values_pack ("s", "nobody");
    size_t size;
    const void *data = zx__values_data (short_reg, &size);
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "zx.name.register", 16, data, size),
                      ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 2, 1, 0, "zx.name.bogus", 13, data, size),
                      ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 3, 1, 0, "zx.name.lookup", 14, "\xc1", 1),
                      ZX_OK);
    data = zx__values_data (missing, &size);
    assert_int_equal (zx__batch_add_request (&batch, 4, 1, 0, "zx.name.lookup", 14, data, size),
                      ZX_OK);
    data = zx__values_data (good_reg, &size);
    assert_int_equal (zx__batch_add_request (&batch, 5, 1, 0, "zx.name.register", 16, data,
                                             size), ZX_OK);
    data = zx__values_data (lookup, &size);
    assert_int_equal (zx__batch_add_request (&batch, 6, 1, 0, "zx.name.lookup", 14, data, size),
                      ZX_OK);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    zx__batch_clear (&batch);
    int total = 0, bad = 0, missing_ok = 0, good = 0;
    while (total < 6) {
        zmq_msg_t frames [4];
        size_t count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
        assert_int_equal (count, 3);
        const uint8_t *cursor = zmq_msg_data (&frames [2]);
        const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
        zx__reply_rec_t rec;
        while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
            total++;
            if (rec.corr <= 3 && rec.status == ZX_STATUS_BAD_REQUEST)
                bad++;
            if (rec.corr == 4 && rec.status == ZX_STATUS_TASK_ERROR
            &&  memmem (rec.payload, rec.payload_size, "no actor is registered under the "
                        "name 'nobody'", 45))
                missing_ok++;
            if (rec.corr == 5 && rec.status == ZX_STATUS_OK)
                good++;
            if (rec.corr == 6 && rec.status == ZX_STATUS_OK) {
                zx_values_t *where = NULL;
                const char *actor = NULL;
                assert_int_equal (zx__values_decode (rec.payload, rec.payload_size, &where),
                                  ZX_OK);
                assert_int_equal (zx_values_get_str (where, 1, &actor), ZX_OK);
                assert_string_equal (actor, "1.2.3");
                zx_values_destroy (&where);
                good++;
            }
        }
        zx_test_close_frames (frames, count);
    }
    assert_int_equal (bad, 3);
    assert_int_equal (missing_ok, 1);
    assert_int_equal (good, 2);
    //  Another coordinator cannot take it
    data = zx__values_data (good_reg, &size);
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "zx.name.register", 16, data,
                                             size), ZX_OK);
    SEND (other, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (other, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    assert_int_equal (zx_test_count_replies (&frames [2], ZX_STATUS_TASK_ERROR, "is taken"), 1);
    zx_test_close_frames (frames, count);
    zx__batch_free (&batch);
    zx_values_destroy (&short_reg);
    zx_values_destroy (&good_reg);
    zx_values_destroy (&lookup);
    zx_values_destroy (&missing);
    zx_test_env_check (&env, "malformed and foreign name requests");
    zx_test_raw_close (&other);
    zx_test_raw_close (&raw);
    zx_test_env_stop (&env);
    zx_test_pass ();
}

//  Receives one REPLY batch on raw and notes each record's status and
//  payload by its corr (1 to 8) in status and payloads (copied).
static void
s_note_replies (void *raw, int status [9], char payloads [9][300], int *total)
{
    zmq_msg_t frames [4];
    size_t count = zx_test_expect_command (raw, 0, "ZXC01", ZX_CMD_REPLY, frames, 4);
    assert_int_equal (count, 3);
    const uint8_t *cursor = zmq_msg_data (&frames [2]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [2]);
    zx__reply_rec_t rec;
    while (zx__batch_next_reply (&cursor, end, &rec) == ZX_OK) {
        assert_true (rec.corr >= 1 && rec.corr <= 8);
        assert_int_equal (status [rec.corr], -1);       //  Once each
        status [rec.corr] = rec.status;
        zx_values_t *values = NULL;
        const char *text = NULL;
        if (rec.status == ZX_STATUS_OK
        &&  zx__values_decode (rec.payload, rec.payload_size, &values) == ZX_OK
        &&  zx_values_get_str (values, 1, &text) == ZX_OK)
            snprintf (payloads [rec.corr], 300, "%s", text);
        else
            snprintf (payloads [rec.corr], 300, "%.*s", (int) rec.payload_size,
                      (const char *) rec.payload);
        zx_values_destroy (&values);
        (*total)++;
    }
    zx_test_close_frames (frames, count);
}

//  Watches of serving workers (zx.actor.watch, PROTOCOL.md 13.8) from a
//  raw coordinator: arguments that are not values, or not a worker id,
//  are BAD_REQUEST; a watch of a worker the broker does not have is
//  answered at once, ["lost", "no serving worker ..."]; a watch of a live
//  worker is parked (the broker serves on meanwhile) until that worker
//  is SIGKILLed, then answered ["lost", the cause with its pid]; a
//  cancelled watch is never answered.
static void
test_watch_requests_are_parked_answered_when_the_worker_goes_and_withdrawn (void **state)
{
    (void) state;
    zx_test_env_t env;
    zx_test_env_start (&env, &(zx_test_env_opts_t) { .heartbeat_ms = 100 });
    //  The good worker's routing id, as an actor placed there names it
    zx_values_t *start = zx_values_pack ("i", (int64_t) 0);
    zx_actor_t *actor = zx_actor_spawn (env.remote, "counter", &start, NULL);
    zx_future_t *ready = zx_actor_ready (actor);
    assert_true (zx_test_wait_done (ready, 30000));
    assert_int_equal (zx_future_error (ready), ZX_OK);
    zx_future_destroy (&ready);
    char worker [256];
    snprintf (worker, sizeof worker, "%s", zx_actor_worker (actor));
    void *raw = zx_test_raw_connect (env.broker.endpoint, "hostile-watch");
    zx__batch_t batch = { 0 };
    zx_values_t *not_str = zx_values_pack ("i", (int64_t) 7);
    zx_values_t *nobody = zx_values_pack ("s", "no.such.worker.0");
    zx_values_t *good = zx_values_pack ("s", worker);
    size_t size;
    const void *data;
    assert_int_equal (zx__batch_add_request (&batch, 1, 1, 0, "zx.actor.watch", 14, "\xc1", 1),
                      ZX_OK);
    data = zx__values_data (not_str, &size);
    assert_int_equal (zx__batch_add_request (&batch, 2, 1, 0, "zx.actor.watch", 14, data, size),
                      ZX_OK);
    data = zx__values_data (nobody, &size);
    assert_int_equal (zx__batch_add_request (&batch, 3, 1, 0, "zx.actor.watch", 14, data, size),
                      ZX_OK);
    data = zx__values_data (good, &size);
    assert_int_equal (zx__batch_add_request (&batch, 4, 1, 0, "zx.actor.watch", 14, data, size),
                      ZX_OK);
    assert_int_equal (zx__batch_add_request (&batch, 5, 1, 0, "zx.actor.watch", 14, data, size),
                      ZX_OK);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    zx__batch_clear (&batch);
    //  It sends no more heartbeats: it says its interval is a minute, so
    //  that the broker, on a loaded machine too, keeps it while it waits
    uint8_t interval [4];
    zx__put_u32 (interval, 60000);
    SEND (raw, S ("ZXC01"), S ("\x04"), B (interval, 4));
    int status [9], total = 0;
    char payloads [9][300];
    for (int i = 0; i < 9; i++)
        status [i] = -1;
    while (total < 3)
        s_note_replies (raw, status, payloads, &total);
    assert_int_equal (status [1], ZX_STATUS_BAD_REQUEST);
    assert_int_equal (status [2], ZX_STATUS_BAD_REQUEST);
    assert_int_equal (status [3], ZX_STATUS_OK);
    assert_non_null (strstr (payloads [3], "no serving worker 'no.such.worker.0'"));
    //  Parked: the broker serves on, the watched worker too
    zx_test_env_check (&env, "parked watches");
    assert_int_equal (status [4], -1);
    assert_int_equal (status [5], -1);
    uint8_t id [8];
    zx__put_u64 (id, 5);
    SEND (raw, S ("ZXC01"), S ("\x06"), B (id, 8));
    //  A request behind the CANCEL on the same connection: once it is
    //  answered the broker has taken the CANCEL. (The actor's destroy
    //  below comes on another connection, which the broker may read
    //  first: the worker was lost, and watch 5 answered, before the
    //  CANCEL was read, once in CI)
    data = zx__values_data (nobody, &size);
    assert_int_equal (zx__batch_add_request (&batch, 6, 1, 0, "zx.actor.watch", 14, data, size),
                      ZX_OK);
    SEND (raw, S ("ZXC01"), S ("\x02"), S ("default"), B (batch.data, batch.size));
    zx__batch_clear (&batch);
    while (status [6] == -1)
        s_note_replies (raw, status, payloads, &total);
    assert_int_equal (status [6], ZX_STATUS_OK);
    int pid = (int) env.worker->pid;
    zx_actor_destroy (&actor);
    zx_test_peer_stop (env.worker, SIGKILL, 5000);
    while (status [4] == -1)
        s_note_replies (raw, status, payloads, &total);
    assert_int_equal (status [4], ZX_STATUS_OK);
    char cause [64];
    snprintf (cause, sizeof cause, "(pid %d)", pid);
    if (!strstr (payloads [4], worker) || !strstr (payloads [4], cause))
        fail_msg ("watch answered: %s", payloads [4]);
    assert_int_equal (status [5], -1);         //  Withdrawn: never answered
    zx__batch_free (&batch);
    zx_values_destroy (&not_str);
    zx_values_destroy (&nobody);
    zx_values_destroy (&good);
    zx_test_raw_close (&raw);
    zx_test_env_end (&env);
    zx_test_peer_stop_cleanly (env.broker.child, "the broker", 10000);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_malformed_or_unknown_targets_are_clear_errors_at_the_broker),
    cmocka_unit_test (test_a_target_reaches_only_the_named_worker_stripped),
    cmocka_unit_test (test_malformed_name_requests_are_clear_errors_at_the_broker),
    cmocka_unit_test (test_watch_requests_are_parked_answered_when_the_worker_goes_and_withdrawn),
};

ZX_TEST_RAW_MAIN (tests)
