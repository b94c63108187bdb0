/*  zx_broker_metrics.c - the broker's counts in the Prometheus text
    exposition format (version 0.0.4), for zexec-broker --metrics.

    DESIGN: nothing is counted here. The gauges are read from the broker
    as it stands (its services' dispatchers, its coordinators) and the
    counters and the latency histogram from its telemetry's service
    records (zx_events.c), which the dispatcher's hooks keep. The text
    is made whole, on the broker's loop, each time it is asked for.     */

#define _GNU_SOURCE
#include "zx_broker_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A growing text; out of memory leaves it failed (NULL data).
typedef struct {
    char *data;
    size_t size, cap;
    bool failed;
} s_text_t;

static void
s_add (s_text_t *text, const char *format, ...) ZX_PRINTF (2, 3);

static void
s_add (s_text_t *text, const char *format, ...)
{
    if (text->failed)
        return;
    for (int round = 0; round < 2; round++) {
        va_list args;
        va_start (args, format);
        int n = vsnprintf (text->data + text->size, text->cap - text->size, format, args);
        va_end (args);
        if (n < 0) {
            text->failed = true;
            return;
        }
        if ((size_t) n < text->cap - text->size) {
            text->size += (size_t) n;
            return;
        }
        size_t cap = text->cap * 2 + (size_t) n + 1024;
        char *grown = realloc (text->data, cap);
        if (!grown) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->cap = cap;
    }
}

//  A label value as the format wants it: backslash, double quote and
//  line feed escaped; any other byte that is not printable ASCII written
//  as the four characters \xNN (with the backslash escaped), so that the
//  value stays valid UTF-8 whatever the service name holds.
static void
s_label (char *into, size_t size, const char *value)
{
    size_t at = 0;
    for (const unsigned char *c = (const unsigned char *) value; *c && at + 6 < size; c++) {
        if (*c == '\\' || *c == '"') {
            into [at++] = '\\';
            into [at++] = (char) *c;
        }
        else
        if (*c == '\n') {
            into [at++] = '\\';
            into [at++] = 'n';
        }
        else
        if (*c < 0x20 || *c > 0x7e)
            at += (size_t) snprintf (into + at, size - at, "\\\\x%02x", *c);
        else
            into [at++] = (char) *c;
    }
    into [at] = 0;
}

static void
s_head (s_text_t *text, const char *name, const char *type, const char *help)
{
    s_add (text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  One line per service of a counter or gauge, valued by fn.
typedef double (s_value_fn) (zx_broker_t *self, zx__bservice_t *service,
                             zx__tel_service_t *svc, int arg);

static void
s_per_service (zx_broker_t *self, s_text_t *text, const char *name, const char *type,
               const char *help, s_value_fn *fn, int arg, const char *extra)
{
    s_head (text, name, type, help);
    for (size_t i = 0; i < self->service_count; i++) {
        zx__bservice_t *service = self->services [i];
        char label [1400];
        s_label (label, sizeof label, service->name);
        zx__tel_service_t *svc = zx__tel_service (self->tel, service->name);
        if (svc)
            s_add (text, "%s{service=\"%s\"%s} %.17g\n", name, label, extra ? extra : "",
                   fn (self, service, svc, arg));
    }
}

static double
s_count (zx_broker_t *self, zx__bservice_t *service, zx__tel_service_t *svc, int event)
{
    (void) self;
    (void) service;
    return (double) svc->count [event];
}

static double
s_gauge (zx_broker_t *self, zx__bservice_t *service, zx__tel_service_t *svc, int which)
{
    (void) self;
    return which == 0 ? (double) zx__dispatch_queued (service->dispatch)
         : which == 1 ? (double) zx__dispatch_held (service->dispatch)
         : which == 2 ? (double) zx__dispatch_workers (service->dispatch)
         : which == 4 ? (double) zx__dispatch_held_back (service->dispatch, NULL)
         : (double) svc->bytes;
}

char *
zx__broker_metrics (zx_broker_t *self, size_t *size)
{
    s_text_t text = { malloc (16384), 0, 16384, false };
    if (!text.data || !zx__broker_tel (self)) {
        free (text.data);
        return NULL;
    }
    s_per_service (self, &text, "zexec_tasks_submitted_total", "counter",
                   "Tasks submitted to the broker, by service.", s_count,
                   ZX_EV_TASK_SUBMITTED, NULL);
    s_per_service (self, &text, "zexec_tasks_dispatched_total", "counter",
                   "Tasks sent to a worker (a retried task once per send), by service.",
                   s_count, ZX_EV_TASK_DISPATCHED, NULL);
    s_per_service (self, &text, "zexec_tasks_retried_total", "counter",
                   "Tasks sent to another worker after theirs was lost, by service.",
                   s_count, ZX_EV_TASK_RETRIED, NULL);
    //  One family, three outcomes: its head once
    s_head (&text, "zexec_tasks_completed_total", "counter",
            "Tasks that ended, by service and outcome (finished, failed, cancelled).");
    static const struct { const char *name; zx__event_t event; } outcomes [] = {
        { "finished", ZX_EV_TASK_FINISHED }, { "failed", ZX_EV_TASK_FAILED },
        { "cancelled", ZX_EV_TASK_CANCELLED } };
    for (size_t i = 0; i < self->service_count; i++) {
        char label [1400];
        s_label (label, sizeof label, self->services [i]->name);
        zx__tel_service_t *svc = zx__tel_service (self->tel, self->services [i]->name);
        for (size_t k = 0; svc && k < 3; k++)
            s_add (&text, "zexec_tasks_completed_total{service=\"%s\",outcome=\"%s\"} %llu\n",
                   label, outcomes [k].name,
                   (unsigned long long) svc->count [outcomes [k].event]);
    }
    s_per_service (self, &text, "zexec_queue_depth", "gauge",
                   "Requests waiting at the broker for a worker, by service.", s_gauge, 0, NULL);
    s_per_service (self, &text, "zexec_tasks_held", "gauge",
                   "Requests sent to workers and not answered yet, by service.", s_gauge, 1,
                   NULL);
    s_per_service (self, &text, "zexec_workers", "gauge",
                   "Workers ready at the broker, by service.", s_gauge, 2, NULL);
    s_per_service (self, &text, "zexec_workers_held_back", "gauge",
                   "Idle workers dealt nothing while their machine is busy enough with tiny "
                   "tasks, by service.", s_gauge, 4, NULL);
    s_per_service (self, &text, "zexec_bytes_held", "gauge",
                   "Bytes of arguments of the requests the broker holds (queued, or sent and "
                   "not answered), by service.", s_gauge, 3, NULL);
    s_per_service (self, &text, "zexec_workers_joined_total", "counter",
                   "Workers that said READY, by service.", s_count, ZX_EV_WORKER_JOINED, NULL);
    s_per_service (self, &text, "zexec_workers_lost_total", "counter",
                   "Workers lost (silent, vanished, died), by service.", s_count,
                   ZX_EV_WORKER_LOST, NULL);
    s_per_service (self, &text, "zexec_workers_retired_total", "counter",
                   "Workers that left on purpose, by service.", s_count, ZX_EV_WORKER_RETIRED,
                   NULL);
    s_head (&text, "zexec_coordinators", "gauge", "Coordinators connected to the broker.");
    s_add (&text, "zexec_coordinators %zu\n", zhashx_size (self->clients));
    s_head (&text, "zexec_services", "gauge", "Services open at the broker.");
    s_add (&text, "zexec_services %zu\n", self->service_count);
    s_head (&text, "zexec_task_latency_seconds", "histogram",
            "Time from a task's submission at the broker to its end, by service.");
    for (size_t i = 0; i < self->service_count; i++) {
        char label [1400];
        s_label (label, sizeof label, self->services [i]->name);
        zx__tel_service_t *svc = zx__tel_service (self->tel, self->services [i]->name);
        if (!svc)
            continue;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < ZX_TEL_BUCKETS; b++) {
            cumulative += svc->buckets [b];
            s_add (&text, "zexec_task_latency_seconds_bucket{service=\"%s\",le=\"%g\"} %llu\n",
                   label, zx__tel_bounds [b], (unsigned long long) cumulative);
        }
        cumulative += svc->buckets [ZX_TEL_BUCKETS];
        s_add (&text, "zexec_task_latency_seconds_bucket{service=\"%s\",le=\"+Inf\"} %llu\n",
               label, (unsigned long long) cumulative);
        s_add (&text, "zexec_task_latency_seconds_sum{service=\"%s\"} %.9g\n", label,
               svc->latency_sum);
        s_add (&text, "zexec_task_latency_seconds_count{service=\"%s\"} %llu\n", label,
               (unsigned long long) svc->latency_count);
    }
    if (text.failed) {
        free (text.data);
        return NULL;
    }
    *size = text.size;
    return text.data;
}
