/*  testutil_events.h - a real SUB socket on a broker's, a worker's or an
    executor's lifecycle events, for the telemetry tests.

    A subscriber connects and subscribes to everything, then waits for
    the publisher's hello event: from then on no event is missed (a PUB
    drops what it sends before a subscription arrives). Events are read
    whole and decoded from MessagePack into a flat record. The waiting
    helpers call zx_sleep between polls, so the calling thread's loop (a
    coordinator's) goes on running.                                      */
#ifndef ZX_TESTUTIL_EVENTS_H_INCLUDED
#define ZX_TESTUTIL_EVENTS_H_INCLUDED

#include "testutil.h"
#include <stdint.h>

//  One event, decoded: the strings are empty and numbers 0 when absent.
typedef struct {
    char topic [64];
    char event [64];
    char source [32];
    char host [256];
    uint64_t pid;
    uint64_t time_us;
    char service [256];
    uint64_t id;
    uint64_t attempt;
    char task [256];
    char worker [256];
    uint64_t worker_pid;
    char coordinator [256];
    uint64_t coordinator_id;
    char error [128];
    char message [512];
    char reason [512];
    uint64_t latency_us;
} zx_test_event_t;

typedef struct zx_test_sub zx_test_sub_t;

//  Connects a SUB socket to endpoint, subscribes to every event and waits
//  up to 10 s for the hello; fails the test when it does not come.
zx_test_sub_t *zx_test_sub_new (const char *endpoint);
void zx_test_sub_destroy (zx_test_sub_t **self_p);

//  The next event within timeout_ms, running the loop meanwhile; false
//  when none came.
bool zx_test_sub_next (zx_test_sub_t *self, zx_test_event_t *event, int64_t timeout_ms);

//  Waits up to 10 s for an event named name (such as "task.finished")
//  with id (any when 0) and returns it; the events before it are kept in
//  order in the subscriber's history. Fails the test when it does not
//  come.
zx_test_event_t zx_test_sub_expect (zx_test_sub_t *self, const char *name, uint64_t id);

//  The names of the events seen so far (by zx_test_sub_expect and
//  zx_test_sub_next) for task id, in order, joined by " ": "task.submitted
//  task.dispatched task.finished".
void zx_test_sub_history (const zx_test_sub_t *self, uint64_t id, const char *service,
                          char *text, size_t size);

//  How many events named name were seen so far.
int zx_test_sub_count (const zx_test_sub_t *self, const char *name);

//  Waits up to 10 s for the line "PREFIX: events on ENDPOINT" in the log
//  at path and copies ENDPOINT into endpoint.
void zx_test_events_endpoint (const char *path, char *endpoint, size_t size);

#endif
