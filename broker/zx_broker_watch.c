/*  zx_broker_watch.c - watches of serving workers, for remote actors.

    DESIGN: a coordinator whose actor lives on a serving worker must learn
    that the worker is gone even when it sends the actor nothing (an idle
    actor's restart policy must still run). The broker is the one that
    knows, and it already answers a coordinator's request records: a
    watch is a request record of the reserved task "zx.actor.watch"
    naming a serving worker, which the broker parks (no dispatcher, no
    worker, no credit) and answers when that worker leaves, at once when
    it has no such worker: OK with ["lost", cause]. A result rather than
    an error, so that the coordinator tells "the worker is gone" from the
    errors that say nothing of it (its own link to the broker lost, the
    broker dropping it or shutting down), after which it watches again. The coordinator
    withdraws a watch it no longer needs with an ordinary CANCEL. A parked
    watch is an ordinary ticket of its coordinator's, so dropping the
    coordinator or shutting the broker down ends it as any other.        */
#include "zx_broker_int.h"
#include "zx_values.h"
#include "zx_actor_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Answers ticket (unlinked from the watches): its worker is gone.
static void
s_answer_lost (zx_broker_t *self, zx__bticket_t *ticket, const char *text)
{
    zx_values_t *result = zx_values_pack ("ss", "lost", text);
    size_t size = 0;
    const void *payload = result ? zx__values_data (result, &size) : NULL;
    if (payload)
        zx__broker_complete (self, ticket, ZX_OK, payload, size);
    else
        zx__broker_complete (self, ticket, ZX_ENOMEM, "broker out of memory", 20);
    zx_values_destroy (&result);
}

static void
s_unlink (zx_broker_t *self, zx__bticket_t *ticket)
{
    if (ticket->watch_prev)
        ticket->watch_prev->watch_next = ticket->watch_next;
    else
        self->watches = ticket->watch_next;
    if (ticket->watch_next)
        ticket->watch_next->watch_prev = ticket->watch_prev;
    ticket->watch_next = ticket->watch_prev = NULL;
    free (ticket->watched);
    ticket->watched = NULL;
}

bool
zx__broker_watch_handle (zx_broker_t *self, const char *task, const zx__request_rec_t *rec,
                         zx__bticket_t *ticket)
{
    if (strcmp (task, ZX__ACTOR_WATCH) != 0)
        return false;
    zx_values_t *args = NULL;
    const char *worker = NULL;
    char text [600];
    if (zx__values_decode (rec->args, rec->args_size, &args) != ZX_OK
    ||  zx_values_get_str (args, 0, &worker) != ZX_OK || !worker [0] || strlen (worker) > 255) {
        snprintf (text, sizeof text, "malformed watch: [serving worker id]");
        zx__broker_complete (self, ticket, ZX_EPROTO, text, strlen (text));
    }
    else
    if (!zhashx_lookup (self->worker_service, worker)) {
        snprintf (text, sizeof text, "no serving worker '%s' at this broker (it is gone, or "
                  "never was)", worker);
        s_answer_lost (self, ticket, text);
    }
    else
    if (!(ticket->watched = strdup (worker))) {
        snprintf (text, sizeof text, "broker out of memory");
        zx__broker_complete (self, ticket, ZX_ENOMEM, text, strlen (text));
    }
    else {
        ticket->watch_next = self->watches;
        if (self->watches)
            self->watches->watch_prev = ticket;
        self->watches = ticket;
        zx_log_debug (self->log, "coordinator %s watches worker %s",
                      ticket->client ? ticket->client->label : "?", worker);
    }
    zx_values_destroy (&args);
    return true;
}

void
zx__broker_watch_drop (zx_broker_t *self, zx__bticket_t *ticket)
{
    s_unlink (self, ticket);
    free (ticket);
}

void
zx__broker_watch_worker_gone (zx_broker_t *self, const char *identity, const char *cause)
{
    char text [700];
    if (cause && cause [0])
        snprintf (text, sizeof text, "%s", cause);
    else
        snprintf (text, sizeof text, "worker %s left the broker", identity);
    for (zx__bticket_t *ticket = self->watches, *next; ticket; ticket = next) {
        next = ticket->watch_next;
        if (strcmp (ticket->watched, identity) == 0) {
            s_unlink (self, ticket);
            s_answer_lost (self, ticket, text);
        }
    }
}

void
zx__broker_watches_free (zx_broker_t *self)
{
    while (self->watches) {
        zx__bticket_t *ticket = self->watches;
        s_unlink (self, ticket);
        zx__broker_complete (self, ticket, ZX_ESHUTDOWN, "broker shut down", 16);
    }
}
