/*  zx_broker_stats.c - the broker's answer to STATS: its services,
    workers and coordinators as they stand, for zexec-top.

    DESIGN: one MessagePack map, made on the broker's loop from the same
    state the broker works with (its dispatchers' queues and worker
    tables, its coordinators) and the telemetry counts (zx_events.c),
    and sent back on the client face to whoever asked, without making it
    a coordinator. Counting starts with the first question when neither
    --events nor --metrics had started it. The map's keys are in
    docs/PROTOCOL.md, 13.6.                                              */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_dispatch_int.h"
#include "zx_loop.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define S_WINDOW_US     10000000        //  Rates and percentiles: the last 10 s

static void
s_key (msgpack_packer *pk, const char *key)
{
    size_t size = strlen (key);
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, key, size);
}

static void
s_text (msgpack_packer *pk, const char *key, const char *value)
{
    s_key (pk, key);
    size_t size = strlen (value);
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, value, size);
}

static void
s_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    s_key (pk, key);
    msgpack_pack_uint64 (pk, value);
}

static void
s_double (msgpack_packer *pk, const char *key, double value)
{
    s_key (pk, key);
    msgpack_pack_double (pk, value);
}

static int
s_compare (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

//  Completions per second over the window, and their latency p50 and p99
static void
s_recent (const zx__tel_service_t *svc, int64_t now, double *rate, uint32_t *p50,
          uint32_t *p99)
{
    uint32_t values [ZX_TEL_RECENT];
    size_t count = 0;
    size_t stored = svc->recent_total < ZX_TEL_RECENT ? svc->recent_total : ZX_TEL_RECENT;
    int64_t oldest = now;
    for (size_t i = 0; i < stored; i++)
        if (now - svc->recent_at [i] <= S_WINDOW_US) {
            values [count++] = svc->recent_us [i];
            if (svc->recent_at [i] < oldest)
                oldest = svc->recent_at [i];
        }
    *rate = 0;
    *p50 = *p99 = 0;
    if (count == 0)
        return;
    //  All remembered ones in the window: the rate is over the time they span
    double span = count == ZX_TEL_RECENT && now > oldest ? (double) (now - oldest) / 1e6
                                                         : S_WINDOW_US / 1e6;
    *rate = (double) count / span;
    qsort (values, count, sizeof values [0], s_compare);
    *p50 = values [(count - 1) / 2];
    size_t rank = (count * 99 + 99) / 100;
    *p99 = values [rank > 0 ? rank - 1 : 0];
}

static void
s_services (zx_broker_t *self, msgpack_packer *pk, int64_t now)
{
    s_key (pk, "services");
    msgpack_pack_array (pk, self->service_count);
    for (size_t i = 0; i < self->service_count; i++) {
        zx__bservice_t *service = self->services [i];
        zx__dispatch_t *dispatch = service->dispatch;
        const zx__tel_service_t *svc = zx__tel_service (self->tel, service->name);
        static const zx__tel_service_t none;
        if (!svc)
            svc = &none;
        double rate;
        uint32_t p50, p99;
        s_recent (svc, now, &rate, &p50, &p99);
        size_t machines;
        size_t held_back = zx__dispatch_held_back (dispatch, &machines);
        msgpack_pack_map (pk, 16);
        s_text (pk, "name", service->name);
        s_uint (pk, "queued", dispatch->queue.count);
        s_uint (pk, "held", dispatch->held);
        s_uint (pk, "workers", dispatch->worker_count);
        s_uint (pk, "submitted", svc->count [ZX_EV_TASK_SUBMITTED]);
        s_uint (pk, "finished", svc->count [ZX_EV_TASK_FINISHED]);
        s_uint (pk, "failed", svc->count [ZX_EV_TASK_FAILED]);
        s_uint (pk, "cancelled", svc->count [ZX_EV_TASK_CANCELLED]);
        s_uint (pk, "retried", svc->count [ZX_EV_TASK_RETRIED]);
        s_uint (pk, "bytes", svc->bytes);
        s_double (pk, "rate", rate);
        s_uint (pk, "p50_us", p50);
        s_uint (pk, "p99_us", p99);
        s_uint (pk, "lost", svc->count [ZX_EV_WORKER_LOST]);
        s_uint (pk, "machines", machines);
        s_uint (pk, "held_back", held_back);
    }
}

static void
s_workers (zx_broker_t *self, msgpack_packer *pk, int64_t now)
{
    size_t count = 0;
    for (size_t i = 0; i < self->service_count; i++)
        count += self->services [i]->dispatch->worker_count;
    s_key (pk, "workers");
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < self->service_count; i++) {
        zx__dispatch_t *dispatch = self->services [i]->dispatch;
        for (size_t k = 0; k < dispatch->worker_count; k++) {
            const zx__dworker_t *worker = dispatch->workers [k];
            size_t held = worker->held.count;
            msgpack_pack_map (pk, 8);
            s_text (pk, "worker", worker->label);
            s_text (pk, "service", self->services [i]->name);
            s_uint (pk, "pid", worker->pid);
            s_uint (pk, "parallel", worker->parallel);
            s_uint (pk, "running", held < worker->parallel ? held : worker->parallel);
            s_uint (pk, "done", worker->done);
            s_uint (pk, "failed", worker->failed);
            s_uint (pk, "heard_ms", (uint64_t) (now - worker->last_seen_us) / 1000);
        }
    }
}

static void
s_coordinators (zx_broker_t *self, msgpack_packer *pk, int64_t now)
{
    s_key (pk, "coordinators");
    msgpack_pack_array (pk, zhashx_size (self->clients));
    for (zx__bclient_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients)) {
        msgpack_pack_map (pk, 3);
        s_text (pk, "coordinator", client->label);
        s_uint (pk, "outstanding", client->outstanding);
        s_uint (pk, "heard_ms", (uint64_t) (now - client->last_seen_us) / 1000);
    }
}

void
zx__broker_stats (zx_broker_t *self, const zx__msg_t *msg)
{
    char label [ZX_LABEL_SIZE];
    zx__label (label, sizeof label, msg->identity, msg->identity_size);
    if (!msg->ok || msg->batch || msg->extra) {
        zx_log_warning (self->log, "malformed STATS from %s: dropped", label);
        return;
    }
    if (!zx__broker_tel (self))
        return;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int64_t now = zx__now_us ();
    struct timeval wall;
    gettimeofday (&wall, NULL);
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    msgpack_pack_map (&pk, 7);
    s_uint (&pk, "v", 1);
    s_uint (&pk, "time_us", (uint64_t) wall.tv_sec * 1000000 + (uint64_t) wall.tv_usec);
    s_text (&pk, "host", host);
    s_uint (&pk, "pid", (uint64_t) getpid ());
    s_services (self, &pk, now);
    s_workers (self, &pk, now);
    s_coordinators (self, &pk, now);
    zx__route_t route = zx__broker_route (self, ZX_FACE_CLIENT, msg->identity,
                                          msg->identity_size);
    zx__send_stats (&route, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
}
