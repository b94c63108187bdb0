/*  testutil_events.c - a SUB socket on lifecycle events (see the header).

    DESIGN: events are decoded with msgpack-c, the same library that
    encodes them, but from the documented frame format only (topic frame,
    then a map of named fields; docs/PROTOCOL.md, section 21): a field
    of the wrong type fails the test rather than read as zero.           */
#define _GNU_SOURCE
#include "testutil_events.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_HISTORY 4096
#define streq(a, b) (strcmp ((a), (b)) == 0)

struct zx_test_sub {
    void *context;
    void *socket;
    zx_test_event_t *history;
    size_t count;
};

static void
s_copy (char *into, size_t size, const msgpack_object *value, const char *key)
{
    if (value->type != MSGPACK_OBJECT_STR)
        fail_msg ("event field %s is not a string", key);
    size_t length = value->via.str.size < size - 1 ? value->via.str.size : size - 1;
    memcpy (into, value->via.str.ptr, length);
    into [length] = 0;
}

static void
s_number (uint64_t *into, const msgpack_object *value, const char *key)
{
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        fail_msg ("event field %s is not an unsigned integer", key);
    *into = value->via.u64;
}

static void
s_decode (zx_test_event_t *event, const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS
    ||  offset != size || unpacked.data.type != MSGPACK_OBJECT_MAP)
        fail_msg ("an event body is not one MessagePack map");
    const msgpack_object_map *map = &unpacked.data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr [i].key, *v = &map->ptr [i].val;
        char key [32];
        s_copy (key, sizeof key, k, "(key)");
        uint64_t version = 0;
        if (streq (key, "v")) {
            s_number (&version, v, key);
            assert_int_equal (version, 1);
        }
        else if (streq (key, "event")) s_copy (event->event, sizeof event->event, v, key);
        else if (streq (key, "source")) s_copy (event->source, sizeof event->source, v, key);
        else if (streq (key, "host")) s_copy (event->host, sizeof event->host, v, key);
        else if (streq (key, "service")) s_copy (event->service, sizeof event->service, v, key);
        else if (streq (key, "task")) s_copy (event->task, sizeof event->task, v, key);
        else if (streq (key, "worker")) s_copy (event->worker, sizeof event->worker, v, key);
        else if (streq (key, "coordinator"))
            s_copy (event->coordinator, sizeof event->coordinator, v, key);
        else if (streq (key, "error")) s_copy (event->error, sizeof event->error, v, key);
        else if (streq (key, "message")) s_copy (event->message, sizeof event->message, v, key);
        else if (streq (key, "reason")) s_copy (event->reason, sizeof event->reason, v, key);
        else if (streq (key, "pid")) s_number (&event->pid, v, key);
        else if (streq (key, "time_us")) s_number (&event->time_us, v, key);
        else if (streq (key, "id")) s_number (&event->id, v, key);
        else if (streq (key, "attempt")) s_number (&event->attempt, v, key);
        else if (streq (key, "worker_pid")) s_number (&event->worker_pid, v, key);
        else if (streq (key, "coordinator_id")) s_number (&event->coordinator_id, v, key);
        else if (streq (key, "latency_us")) s_number (&event->latency_us, v, key);
    }
    msgpack_unpacked_destroy (&unpacked);
    //  Every event has these
    assert_true (event->event [0] && event->source [0] && event->host [0]);
    assert_true (event->pid > 0 && event->time_us > 0);
}

//  Reads one whole event if one waits.
static bool
s_read (zx_test_sub_t *self, zx_test_event_t *event)
{
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    if (zmq_msg_recv (&topic, self->socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&topic);
        return false;
    }
    assert_true (zmq_msg_more (&topic));
    zmq_msg_init (&body);
    assert_true (zmq_msg_recv (&body, self->socket, 0) >= 0);
    assert_false (zmq_msg_more (&body));
    memset (event, 0, sizeof *event);
    size_t size = zmq_msg_size (&topic) < sizeof event->topic - 1
                ? zmq_msg_size (&topic) : sizeof event->topic - 1;
    memcpy (event->topic, zmq_msg_data (&topic), size);
    s_decode (event, zmq_msg_data (&body), zmq_msg_size (&body));
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    //  The topic is the event's name after "zx."
    assert_true (strncmp (event->topic, "zx.", 3) == 0);
    assert_string_equal (event->topic + 3, event->event);
    if (self->count < S_HISTORY)
        self->history [self->count++] = *event;
    return true;
}

bool
zx_test_sub_next (zx_test_sub_t *self, zx_test_event_t *event, int64_t timeout_ms)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (true) {
        if (s_read (self, event))
            return true;
        if (zx_test_now_ms () >= deadline)
            return false;
        zx_sleep (5);
    }
}

zx_test_sub_t *
zx_test_sub_new (const char *endpoint)
{
    zx_test_sub_t *self = calloc (1, sizeof (zx_test_sub_t));
    assert_non_null (self);
    self->history = calloc (S_HISTORY, sizeof (zx_test_event_t));
    self->context = zmq_ctx_new ();
    self->socket = zmq_socket (self->context, ZMQ_SUB);
    assert_non_null (self->socket);
    int linger = 0;
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_setsockopt (self->socket, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal (zmq_connect (self->socket, endpoint), 0);
    zx_test_event_t event;
    int64_t deadline = zx_test_now_ms () + 10000;
    while (zx_test_now_ms () < deadline)
        if (zx_test_sub_next (self, &event, 100) && streq (event.event, "hello"))
            return self;
    fail_msg ("no hello from the events at %s", endpoint);
    return NULL;
}

void
zx_test_sub_destroy (zx_test_sub_t **self_p)
{
    zx_test_sub_t *self = *self_p;
    if (!self)
        return;
    zmq_close (self->socket);
    zmq_ctx_term (self->context);
    free (self->history);
    free (self);
    *self_p = NULL;
}

zx_test_event_t
zx_test_sub_expect (zx_test_sub_t *self, const char *name, uint64_t id)
{
    zx_test_event_t event;
    int64_t deadline = zx_test_now_ms () + 10000;
    while (zx_test_now_ms () < deadline)
        if (zx_test_sub_next (self, &event, 100) && streq (event.event, name)
        &&  (id == 0 || event.id == id))
            return event;
    fail_msg ("no event %s (id %llu) within 10 s", name, (unsigned long long) id);
    return event;
}

void
zx_test_sub_history (const zx_test_sub_t *self, uint64_t id, const char *service, char *text,
                     size_t size)
{
    text [0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < self->count; i++) {
        const zx_test_event_t *event = &self->history [i];
        if (strncmp (event->event, "task.", 5) || event->id != id
        ||  (service && !streq (event->service, service)))
            continue;
        int n = snprintf (text + used, size - used, "%s%s", used ? " " : "", event->event);
        if (n < 0 || (size_t) n >= size - used)
            break;
        used += (size_t) n;
    }
}

int
zx_test_sub_count (const zx_test_sub_t *self, const char *name)
{
    int count = 0;
    for (size_t i = 0; i < self->count; i++)
        count += streq (self->history [i].event, name);
    return count;
}

void
zx_test_events_endpoint (const char *path, char *endpoint, size_t size)
{
    assert_true (zx_test_log_wait (path, "events on ", NULL, 1, 10000));
    char *log = zx_test_read_file (path);
    const char *at = strstr (log, "events on ");
    assert_non_null (at);
    at += strlen ("events on ");
    size_t length = strcspn (at, "\r\n");
    assert_true (length > 0 && length < size);
    memcpy (endpoint, at, length);
    endpoint [length] = 0;
    free (log);
}
