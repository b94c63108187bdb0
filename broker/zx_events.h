/*  zx_events.h - internal: lifecycle telemetry of a broker or a local
    pool: events published on a ZeroMQ XPUB socket, and the counters the
    metrics endpoint reads.

    A telemetry object (zx__tel_t) belongs to one broker or one pool and
    to the thread of the loop that runs it. Each dispatcher it watches
    has a service record (zx__tel_service_t) that counts its tasks and
    is handed to the dispatcher's hooks (zx__dispatch_set_tel). Events
    are two frames, a topic and a MessagePack map (docs/PROTOCOL.md,
    section 22); they are encoded only while someone is subscribed.     */
#ifndef ZX_EVENTS_H_INCLUDED
#define ZX_EVENTS_H_INCLUDED
#include "zexec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zx__tel zx__tel_t;
typedef struct zx__tel_service zx__tel_service_t;
struct zx__request;
struct zx__dworker;

//  What happened; zx__event_name gives each its topic without "zx.".
typedef enum {
    ZX_EV_HELLO = 0,                //  A subscriber joined
    ZX_EV_TASK_SUBMITTED,
    ZX_EV_TASK_DISPATCHED,          //  Sent to a worker
    ZX_EV_TASK_FINISHED,
    ZX_EV_TASK_FAILED,
    ZX_EV_TASK_RETRIED,
    ZX_EV_TASK_CANCELLED,
    ZX_EV_WORKER_JOINED,
    ZX_EV_WORKER_LOST,
    ZX_EV_WORKER_RETIRED,
    ZX_EV_COORDINATOR_CONNECTED,
    ZX_EV_COORDINATOR_GONE,
    ZX_EV_COUNT
} zx__event_t;

//  "task.submitted" and so on.
const char *zx__event_name (zx__event_t event);

//  The latency histogram's upper bounds, in seconds (the last bucket,
//  +Inf, is implied).
#define ZX_TEL_BUCKETS 12
extern const double zx__tel_bounds [ZX_TEL_BUCKETS];

//  How many recent completions a service remembers for zexec-top's
//  latency percentiles and rates.
#define ZX_TEL_RECENT 1024

//  A service's counts, read by the metrics endpoint and zexec-top.
struct zx__tel_service {
    zx__tel_t *tel;
    char name [256];
    uint64_t count [ZX_EV_COUNT];   //  Task and worker events, by kind
    uint64_t bytes;                 //  Arguments of requests not completed
    uint64_t buckets [ZX_TEL_BUCKETS + 1];  //  Latency, submitted to completed
    double latency_sum;             //  Seconds
    uint64_t latency_count;
    int64_t recent_at [ZX_TEL_RECENT];      //  When each recent one ended (monotonic us)
    uint32_t recent_us [ZX_TEL_RECENT];     //  Its latency, us (saturated)
    size_t recent_next;                     //  Slot of the next; count is min (this, RECENT)
    uint64_t recent_total;
};

//  Names a request's submitter for events: the owner's cookie in, a
//  coordinator's label and its id for the task out. False: unknown.
typedef bool (zx__tel_describe_fn) (void *cookie, const char **coordinator, uint64_t *id);

//  Creates telemetry for a process part called source ("broker",
//  "executor"). With endpoint (a ZeroMQ endpoint, wildcards allowed) it
//  binds an XPUB socket there and publishes; NULL counts only. Returns
//  NULL with the reason in why (size octets) when it cannot bind or
//  memory ran out.
zx__tel_t *zx__tel_new (const char *source, const char *endpoint, char *why, size_t size);

//  Frees tel and its service records; accepts NULL and nulls the pointer.
//  Detach it from its loop first.
void zx__tel_destroy (zx__tel_t **self_p);

//  The endpoint bound (a wildcard resolved), or NULL without one.
const char *zx__tel_endpoint (const zx__tel_t *self);

//  Makes loop read subscriptions, so that a new subscriber gets a hello
//  event at once and publishing starts; detach stops it.
zx_err_t zx__tel_attach (zx__tel_t *self, zx_loop_t *loop);
void zx__tel_detach (zx__tel_t *self);

//  Sets how task events name their coordinator (a broker's tickets).
void zx__tel_set_describe (zx__tel_t *self, zx__tel_describe_fn *describe);

//  The record of service name, made when first asked for; NULL when out
//  of memory. It lives as long as tel.
zx__tel_service_t *zx__tel_service (zx__tel_t *self, const char *name);

//  The service records, index 0 up; NULL past the last.
zx__tel_service_t *zx__tel_service_at (const zx__tel_t *self, size_t index);

//  True while someone subscribes (events are encoded only then).
bool zx__tel_subscribed (const zx__tel_t *self);

//  ---- The hooks: the dispatcher's and the broker's

//  A request's event: submitted, dispatched, retried (text: why), or its
//  end with code and text (text_size octets, not terminated; a
//  non-text payload for ZX_OK is not read): ZX_OK finished, ZX_ECANCELLED
//  cancelled, anything else failed.
void zx__tel_task (zx__tel_service_t *svc, zx__event_t event, const struct zx__request *request,
                   zx_err_t code, const void *text, size_t text_size);

//  A request completed with code: the end event and the counts.
void zx__tel_complete (zx__tel_service_t *svc, const struct zx__request *request,
                       zx_err_t code, const void *text, size_t text_size);

//  A worker joined; or left by DISCONNECT with reason (a zx__bye_t) and
//  text; or is being removed for cause (a lost one, unless it was
//  reported leaving just before).
void zx__tel_worker_joined (zx__tel_service_t *svc, const struct zx__dworker *worker);
void zx__tel_worker_left (zx__tel_service_t *svc, const struct zx__dworker *worker,
                          int reason, const char *text);
void zx__tel_worker_removed (zx__tel_service_t *svc, const struct zx__dworker *worker,
                             const char *cause);

//  A coordinator connected (from address, may be NULL) or is gone (why).
void zx__tel_coordinator (zx__tel_t *self, zx__event_t event, const char *label,
                          const char *address, const char *why);

#endif
