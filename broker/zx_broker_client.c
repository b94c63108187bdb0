/*  zx_broker_client.c - the broker's client face: coordinators and their
    tickets.

    DESIGN: a coordinator is known by its routing id from its first
    REQUEST on, and forgotten when it says goodbye, falls silent or loses
    its key's role. Each request record it sends becomes a ticket (the
    client, its correlation id) that rides through the service's
    dispatcher as the cookie; the dispatcher gives it back exactly once,
    and its completion becomes a reply record in that client's batch.
    Clients with replies waiting sit on a dirty list, so a flush visits
    only them: after each burst of socket reads and each tick, every batch
    goes out as one REPLY. A ticket whose client is gone (dropped, shut
    down) stays until its dispatcher gives it back, then is only freed.
    Framed payloads pass through as libzmq frames: a framed request's
    frame becomes the dispatcher's request, and a worker's framed reply
    goes on to a client that asked for it as it came.                  */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Messages to clients go without blocking; one that cannot go (the
//  client is gone) is dropped, and the client's silence ends it.
static void
s_send_heartbeat (zx_broker_t *self, zx__bclient_t *client)
{
    if (zx__send_heartbeat (&client->route, (uint32_t) self->opts.heartbeat_ms) == ZX_OK)
        client->sent_us = zx__now_us ();
}

//  The client with this routing id (called label); with create, a new one
//  when there is none (and max_clients allows), which is sent our
//  heartbeat interval.
static zx__bclient_t *
s_client (zx_broker_t *self, const zx__msg_t *msg, const char *label, const char *key,
          const char *address, bool create)
{
    zx__bclient_t *client = zhashx_lookup (self->clients, label);
    if (client || !create || zhashx_size (self->clients) >= self->opts.max_clients)
        return client;
    client = calloc (1, sizeof (zx__bclient_t));
    if (!client)
        return NULL;
    client->identity_size = msg->identity_size;
    memcpy (client->identity, msg->identity, client->identity_size);
    client->route = zx__broker_route (self, ZX_FACE_CLIENT, client->identity,
                                      client->identity_size);
    snprintf (client->label, sizeof client->label, "%s", label);
    if (key)
        snprintf (client->key, sizeof client->key, "%s", key);
    client->last_seen_us = zx__now_us ();
    zhashx_insert (self->clients, label, client);
    //  Our heartbeat interval at once: a coordinator with a shorter one
    //  must not call us silent before our first tick
    s_send_heartbeat (self, client);
    //  The routing id libzmq makes up says nothing: name where it came from
    if (address && *address)
        zx_log_info (self->log, "coordinator %s connected from %s", label, address);
    else
        zx_log_info (self->log, "coordinator %s connected", label);
    if (self->tel)
        zx__tel_coordinator (self->tel, ZX_EV_COORDINATOR_CONNECTED, label, address, NULL);
    return client;
}

static void s_dirty_clear (zx_broker_t *self, zx__bclient_t *client);

static void
s_client_free (zx_broker_t *self, zx__bclient_t *client)
{
    s_dirty_clear (self, client);
    zhashx_delete (self->clients, client->label);
    zx__idmap_free (&client->by_corr);
    zx__batch_free (&client->replies);
    free (client);
}

static void
s_ticket_unlink (zx__bticket_t *ticket)
{
    zx__bclient_t *client = ticket->client;
    if (!client)
        return;
    if (ticket->prev)
        ticket->prev->next = ticket->next;
    else
        client->tickets = ticket->next;
    if (ticket->next)
        ticket->next->prev = ticket->prev;
    zx__idmap_take (&client->by_corr, ticket->corr);
    client->outstanding--;
    client->arg_bytes -= (int64_t) ticket->bytes;
    ticket->client = NULL;
}

//  Puts a client on the dirty list, or takes it off, so a flush visits
//  only the clients with replies waiting rather than all of them.
static void
s_dirty_mark (zx_broker_t *self, zx__bclient_t *client)
{
    if (client->dirty)
        return;
    client->dirty = true;
    client->dirty_prev = NULL;
    client->dirty_next = self->dirty;
    if (self->dirty)
        self->dirty->dirty_prev = client;
    self->dirty = client;
}

static void
s_dirty_clear (zx_broker_t *self, zx__bclient_t *client)
{
    if (!client->dirty)
        return;
    if (client->dirty_prev)
        client->dirty_prev->dirty_next = client->dirty_next;
    else
        self->dirty = client->dirty_next;
    if (client->dirty_next)
        client->dirty_next->dirty_prev = client->dirty_prev;
    client->dirty = false;
    client->dirty_prev = client->dirty_next = NULL;
}

bool
zx__broker_client_flush (zx_broker_t *self, zx__bclient_t *client)
{
    if (!client->dirty)
        return true;
    s_dirty_clear (self, client);
    zx__batch_t *replies = &client->replies;
    const uint8_t *start = replies->data;
    const uint8_t *end = start + replies->size;
    const uint8_t *sent = start;        //  All before it went out
    size_t sent_records = 0;
    while (sent < end) {
        //  As many whole records as fit in a chunk, at least one
        const uint8_t *cursor = sent;
        size_t records = 0;
        zx__reply_rec_t rec;
        while (cursor < end) {
            const uint8_t *next = cursor;
            if (zx__batch_next_reply (&next, end, &rec) != ZX_OK)
                next = end;             //  Never: we wrote them; send the rest whole
            if (records > 0 && next - sent > ZX__BROKER_REPLY_CHUNK)
                break;
            cursor = next;
            records++;
        }
        zx__batch_t chunk = { (uint8_t *) sent, (size_t) (cursor - sent), 0, records };
        if (zx__send_reply_batch (&client->route, &chunk) != ZX_OK) {
            if (errno != EAGAIN) {
                //  The client is gone (EHOSTUNREACH): its silence ends it
                sent = end;
                sent_records = replies->records;
            }
            break;
        }
        sent = cursor;
        sent_records += records;
        client->sent_us = zx__now_us ();    //  Traffic: it counts as a heartbeat
    }
    size_t left = (size_t) (end - sent);
    memmove (replies->data, sent, left);
    replies->size = left;
    replies->records -= sent_records;
    if (left == 0) {
        if (client->blocked)
            zx_log_info (self->log, "coordinator %s reads its replies again", client->label);
        client->blocked = false;
        return true;
    }
    //  Its connection is full: the rest waits here, counted, until a later
    //  flush (a new reply, the tick) finds room
    if (!client->blocked)
        zx_log_info (self->log, "coordinator %s does not read its replies: %zu bytes wait",
                     client->label, left);
    client->blocked = true;
    return (int64_t) left <= self->opts.max_client_backlog
        && replies->records <= self->opts.max_client_pending;
}

static void
s_client_reply (zx_broker_t *self, zx__bclient_t *client, uint64_t corr, uint32_t attempt,
                zx_err_t code, const void *payload, size_t size)
{
    if (zx__batch_add_reply (&client->replies, corr, attempt,
                             (uint8_t) zx__status_from_err (code), payload, size) == ZX_OK)
        s_dirty_mark (self, client);
}

void
zx__broker_client_reply (zx_broker_t *self, zx__bclient_t *client, uint64_t corr,
                         uint32_t attempt, zx_err_t code, const void *payload, size_t size)
{
    s_client_reply (self, client, corr, attempt, code, payload, size);
}

bool
zx__broker_describe (void *cookie, const char **coordinator, uint64_t *id)
{
    zx__bticket_t *ticket = (zx__bticket_t *) cookie;
    if (!ticket->client)
        return false;
    *coordinator = ticket->client->label;
    *id = ticket->corr;
    return true;
}

//  Sends a reply whose payload came framed from the worker to a client
//  that takes it so, moving that frame from one socket to the other:
//  after what waits in its batch, so that it is not overtaken. Returns
//  false when it could not (the client reads nothing now): the caller
//  copies it into the batch instead.
static bool
s_client_reply_framed (zx_broker_t *self, zx__bclient_t *client, zx__bticket_t *ticket,
                       zx_err_t code, zmq_msg_t *frame)
{
    if (client->blocked || !zx__broker_client_flush (self, client) || client->replies.size)
        return false;
    if (zx__send_reply_framed (&client->route, ticket->corr, ticket->attempt,
                               (uint8_t) zx__status_from_err (code), frame) == ZX_OK)
        return true;
    //  EHOSTUNREACH: the client is gone and its silence ends it
    return errno != EAGAIN;
}

//  The dispatcher finished a ticket: its reply goes in the client's batch,
//  or, framed from the worker to a client that takes it so, as it came.
void
zx__broker_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx_broker_t *self = (zx_broker_t *) owner;
    zx__bticket_t *ticket = (zx__bticket_t *) cookie;
    zx__bclient_t *client = ticket->client;
    if (client) {
        s_ticket_unlink (ticket);
        zmq_msg_t *frame = ticket->framed_reply && ticket->request
                         ? zx__request_reply_frame (ticket->request, payload) : NULL;
        if (!frame || !s_client_reply_framed (self, client, ticket, code, frame))
            s_client_reply (self, client, ticket->corr, ticket->attempt, code, payload, size);
    }
    free (ticket);
}

//  The worker holding a ticket said STARTED: the client hears it too.
void
zx__broker_started (void *owner, void *cookie, zx__complete_fn *complete)
{
    (void) complete;
    zx_broker_t *self = (zx_broker_t *) owner;
    zx__bticket_t *ticket = (zx__bticket_t *) cookie;
    if (ticket->client
    &&  zx__batch_add_reply (&ticket->client->replies, ticket->corr, ticket->attempt,
                             ZX_STATUS_STARTED, NULL, 0) == ZX_OK)
        s_dirty_mark (self, ticket->client);
}

static void s_ticket_cancel (zx_broker_t *self, zx__bticket_t *ticket);

void
zx__broker_client_drop (zx_broker_t *self, zx__bclient_t *client, const char *why)
{
    zx__broker_client_drop_told (self, client, why, true);
}

void
zx__broker_client_drop_told (zx_broker_t *self, zx__bclient_t *client, const char *why,
                             bool tell)
{
    zx_log_info (self->log, "coordinator %s gone (%s): %zu tasks cancelled",
                 client->label, why, client->outstanding);
    if (self->tel)
        zx__tel_coordinator (self->tel, ZX_EV_COORDINATOR_GONE, client->label, NULL, why);
    //  A coordinator that was only slow (its loop stalled) reads these
    //  when it wakes, rather than wait forever for replies
    char text [160];
    snprintf (text, sizeof text, "the broker dropped this coordinator (%s) and cancelled "
              "its tasks", why);
    while (client->tickets) {
        zx__bticket_t *ticket = client->tickets;
        s_client_reply (self, client, ticket->corr, ticket->attempt, ZX_EWORKER_LOST,
                        text, strlen (text));
        s_ticket_unlink (ticket);
        //  Completes the ticket (and frees it) through zx__broker_complete
        s_ticket_cancel (self, ticket);
    }
    zx__broker_client_flush (self, client);
    //  A coordinator still there must hear that it was dropped. When the
    //  answers it is owed (above, and any waiting) could not all go out
    //  (its connection full), a later REQUEST would otherwise make it
    //  known again, its old futures waiting for ever: a DISCONNECT says
    //  so, and when there is no room for that either, the coordinator is
    //  remembered and told when it next speaks (s_on_dropped). When they
    //  did all go out, or it was owed none, there is nothing to tell: a
    //  DISCONNECT read after its next requests would fail those too
    char bye [200];
    snprintf (bye, sizeof bye, "dropped: %s", why);
    zx__bdropped_t *dropped;
    if (tell && client->replies.size > 0 && strcmp (why, "said goodbye") != 0
    &&  zx__send_disconnect (&client->route, ZX_BYE_NORMAL, bye) != ZX_OK
    &&  zhashx_size (self->dropped) < self->opts.max_clients
    &&  (dropped = malloc (sizeof (zx__bdropped_t)))) {
        dropped->at_us = zx__now_us ();
        snprintf (dropped->why, sizeof dropped->why, "%s", why);
        zhashx_update (self->dropped, client->label, dropped);
    }
    s_client_free (self, client);
}

//  A message from a coordinator the broker dropped and could not tell so:
//  it is sent the DISCONNECT now (PROTOCOL.md 5.5), and a REQUEST's
//  records are answered WORKER_LOST, not run. Once the DISCONNECT has
//  gone out the coordinator is forgotten, and what it sends after that is
//  served as from any new one; until then it is not served, nor sent
//  heartbeats, so that its own liveness check ends its futures if the
//  DISCONNECT never gets through. Returns false when label was not dropped.
static bool
s_on_dropped (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    zx__bdropped_t *dropped = zhashx_lookup (self->dropped, label);
    if (!dropped)
        return false;
    if (msg->command == ZX_CMD_DISCONNECT) {
        zhashx_delete (self->dropped, label);
        return true;
    }
    char text [256];
    snprintf (text, sizeof text, "the broker dropped this coordinator (%s) and cancelled "
              "its tasks", dropped->why);
    if (msg->command == ZX_CMD_REQUEST
    &&  !zx__broker_refuse_records (self, msg, ZX_STATUS_WORKER_LOST, text))
        ZX__BROKER_WARN (self, label, "batch", "malformed REQUEST batch from coordinator %s: "
                         "rest dropped", label);
    zx__route_t route = zx__broker_route (self, ZX_FACE_CLIENT, msg->identity,
                                          msg->identity_size);
    snprintf (text, sizeof text, "dropped: %s", dropped->why);
    if (zx__send_disconnect (&route, ZX_BYE_NORMAL, text) == ZX_OK) {
        zx_log_info (self->log, "coordinator %s, dropped (%s), heard from again: told so",
                     label, dropped->why);
        zhashx_delete (self->dropped, label);
    }
    return true;
}

//  The reason a record cannot be queued before it reaches a dispatcher,
//  or NULL when it can: the broker is closed, the service is bad, or the
//  client has too much pending.
static const char *
s_refusal (zx_broker_t *self, zx__bclient_t *client, const zx__bservice_t *service,
           size_t args_size, zx_err_t *code, char *text, size_t size)
{
    if (self->closed || !service) {
        *code = self->closed ? ZX_ESHUTDOWN : ZX_EINVAL;
        return self->closed ? "broker shutting down"
                            : "too many services, or a bad service name";
    }
    if (client->outstanding >= self->opts.max_client_pending) {
        snprintf (text, size, "too many pending requests from this coordinator "
                  "(--max-client-pending %zu)", self->opts.max_client_pending);
        *code = ZX_EQUEUE_FULL;
        return text;
    }
    if (client->arg_bytes + (int64_t) args_size > self->opts.max_client_bytes) {
        snprintf (text, size, "too many argument bytes pending from this coordinator: "
                  "%lld and %zu more (--max-client-bytes %lld)",
                  (long long) client->arg_bytes, args_size,
                  (long long) self->opts.max_client_bytes);
        *code = ZX_EQUEUE_FULL;
        return text;
    }
    return NULL;
}

//  Reads the target of a record with ZX_FLAG_TARGET into target (NUL
//  ended). Returns NULL, or why it is malformed (code set to ZX_EPROTO).
static const char *
s_target (const zx__request_rec_t *rec, char *target, zx_err_t *code)
{
    *code = ZX_EPROTO;
    if (rec->args_size < 1)
        return "malformed target: the request has no target length";
    size_t length = rec->args [0];
    if (length == 0)
        return "malformed target: its length is 0 (1 to 255)";
    if (length > rec->args_size - 1)
        return "malformed target: its length runs past the request";
    if (memchr (rec->args + 1, 0, length))
        return "malformed target: it holds a NUL octet";
    memcpy (target, rec->args + 1, length);
    target [length] = 0;
    return NULL;
}

//  A request sent to a target ended: as any other ticket.
static void
s_ticket_done (void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx__bticket_t *ticket = (zx__bticket_t *) cookie;
    zx__broker_complete (ticket->broker, ticket, code, payload, size);
}

//  Makes one request record a ticket and submits it to service's
//  dispatcher; what cannot be submitted is answered at once.
static void
s_submit (zx_broker_t *self, zx__bclient_t *client, zx__bservice_t *service,
          const zx__request_rec_t *rec, zmq_msg_t *frame)
{
    char task [256];
    memcpy (task, rec->name, rec->name_len);
    task [rec->name_len] = 0;
    if (zx__broker_names_handle (self, client, task, rec))
        return;
    zx__bticket_t *ticket = calloc (1, sizeof (zx__bticket_t));
    if (!ticket || !zx__idmap_put (&client->by_corr, rec->corr, ticket)) {
        free (ticket);
        const char *text = rec->corr == 0 || rec->corr == UINT64_MAX
                         ? "reserved correlation id" : "broker out of memory";
        s_client_reply (self, client, rec->corr, rec->attempt, ZX_ETASK, text, strlen (text));
        return;
    }
    ticket->client = client;
    ticket->corr = rec->corr;
    ticket->attempt = rec->attempt;
    ticket->next = client->tickets;
    if (client->tickets)
        client->tickets->prev = ticket;
    client->tickets = ticket;
    client->outstanding++;
    ticket->bytes = rec->args_size;
    ticket->framed_reply = rec->flags & ZX_FLAG_FRAMED_REPLY;
    client->arg_bytes += (int64_t) ticket->bytes;
    if (zx__broker_watch_handle (self, task, rec, ticket))
        return;
    zx_err_t code;
    char target [256];
    const char *why = NULL;
    //  The framing is between this client and the broker: the dispatcher
    //  frames for each worker as it takes it
    uint8_t flags = rec->flags & (uint8_t) ~(ZX_FLAG_FRAMED | ZX_FLAG_FRAMED_REPLY);
    if (frame && (rec->flags & ZX_FLAG_TARGET)) {
        code = ZX_EPROTO;
        why = "a request to a target cannot be framed: its target rides in the arguments";
        ticket->request = NULL;
    }
    else
    if (frame)
        ticket->request = zx__dispatch_submit_frame (service->dispatch, task, frame, flags,
                                                     NULL, ticket, &code);
    else
    if (rec->flags & ZX_FLAG_TARGET) {
        //  Affinity (PROTOCOL.md 13.7): the arguments start with the
        //  serving worker's routing id, which the worker face never sees
        why = s_target (rec, target, &code);
        size_t skip = why ? 0 : 1 + strlen (target);
        ticket->broker = self;
        ticket->request = why ? NULL
            : zx__dispatch_submit_to (service->dispatch, target, task, rec->args + skip,
                                      rec->args_size - skip, flags & ~ZX_FLAG_TARGET,
                                      s_ticket_done, ticket, &code);
    }
    else
        ticket->request = zx__dispatch_submit (service->dispatch, task, rec->args, rec->args_size,
                                               flags, ticket, &code);
    if (!ticket->request) {
        s_ticket_unlink (ticket);
        free (ticket);
        char text [1000];
        if (why)
            snprintf (text, sizeof text, "%s", why);
        else
        if (code == ZX_EWORKER_LOST) {
            char label [ZX_LABEL_SIZE];
            zx__label (label, sizeof label, target, strlen (target));
            snprintf (text, sizeof text, "no serving worker '%s' in service '%s' (it is gone, "
                      "or never was): task '%s' not sent", label, service->name, task);
        }
        else
        if (code == ZX_EQUEUE_FULL)
            snprintf (text, sizeof text, "queue full at the broker for service '%s' "
                      "(--max-queue %zu requests, --max-queue-bytes %lld)", service->name,
                      self->opts.max_queue, (long long) self->opts.max_queue_bytes);
        else
            snprintf (text, sizeof text, "cannot queue task '%s': %s", task, zx_strerror (code));
        s_client_reply (self, client, rec->corr, rec->attempt, code, text, strlen (text));
    }
}

static void
s_on_client_request (zx_broker_t *self, zx__bclient_t *client, const zx__msg_t *msg)
{
    if (msg->ok && msg->frame_error) {
        //  Framed wrongly (PROTOCOL.md 23): each record it holds is refused
        char text [200];
        snprintf (text, sizeof text, "malformed framed REQUEST: %s", msg->frame_error);
        ZX__BROKER_WARN (self, client->label, "framed", "%s, from coordinator %s: refused",
                         text, client->label);
        zx__broker_refuse_records (self, msg, ZX_STATUS_BAD_REQUEST, text);
        return;
    }
    if (!msg->ok || msg->extra) {
        ZX__BROKER_WARN (self, client->label, "malformed", "malformed REQUEST from coordinator "
                         "%s: dropped", client->label);
        return;
    }
    char name [256];
    memcpy (name, msg->service, msg->service_size);
    name [msg->service_size] = 0;
    zx__bservice_t *service = memchr (name, 0, msg->service_size) ? NULL
                            : zx__broker_service (self, name, true);
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        zx_err_t code;
        char buffer [240];
        const char *text = NULL;
        if (!zx__msg_request_args (msg, &rec)) {
            code = ZX_EPROTO;
            text = "malformed framed REQUEST: a record marked framed, but no frame after "
                   "the batch";
            ZX__BROKER_WARN (self, client->label, "framed", "%s, from coordinator %s: refused",
                             text, client->label);
        }
        else
            text = s_refusal (self, client, service, rec.args_size, &code, buffer,
                              sizeof buffer);
        if (text)
            s_client_reply (self, client, rec.corr, rec.attempt, code, text, strlen (text));
        else
        if (zx__idmap_get (&client->by_corr, rec.corr))
            ZX__BROKER_WARN (self, client->label, "reused", "coordinator %s reused id %llu: "
                             "dropped",
                            client->label, (unsigned long long) rec.corr);
        else
            s_submit (self, client, service, &rec,
                      (rec.flags & ZX_FLAG_FRAMED) ? msg->frame : NULL);
    }
    if (rc == ZX_EPROTO)
        ZX__BROKER_WARN (self, client->label, "batch", "malformed REQUEST batch from "
                         "coordinator %s: rest dropped", client->label);
}

//  Withdraws a ticket its client no longer wants (already unlinked): a
//  parked watch is forgotten, a request cancelled at its dispatcher.
static void
s_ticket_cancel (zx_broker_t *self, zx__bticket_t *ticket)
{
    if (ticket->watched)
        zx__broker_watch_drop (self, ticket);
    else
        zx__request_cancel (ticket->request);
}

static void
s_on_client_cancel (zx_broker_t *self, zx__bclient_t *client, const zx__msg_t *msg)
{
    for (size_t i = 0; i < msg->id_count; i++) {
        zx__bticket_t *ticket = zx__idmap_get (&client->by_corr, zx__msg_cancel_id (msg, i));
        if (ticket) {
            s_ticket_unlink (ticket);
            s_ticket_cancel (self, ticket);
        }
    }
}

//  A message from a coordinator the broker does not know (or will not
//  take): a REQUEST's records fail, anything else is dropped.
static void
s_on_stranger (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    if (msg->command == ZX_CMD_REQUEST) {
        //  Past --max-clients (or out of memory): its tasks fail at once
        char text [120];
        snprintf (text, sizeof text, "too many coordinators at this broker (--max-clients %zu)",
                  self->opts.max_clients);
        ZX__BROKER_WARN (self, label, "refused", "REQUEST from coordinator %s refused: %s",
                         label, text);
        zx__broker_refuse_records (self, msg, ZX_STATUS_QUEUE_FULL, text);
    }
    else
    if (msg->command != ZX_CMD_DISCONNECT && msg->command != ZX_CMD_HEARTBEAT)
        ZX__BROKER_WARN (self, label, "command", "command %d from unknown coordinator %s: "
                         "dropped", msg->command, label);
}

void
zx__broker_on_client (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    if (msg->command == ZX_CMD_STATS) {
        //  A question, from a coordinator or a viewer it does not make one
        zx__broker_stats (self, msg);
        return;
    }
    if (zhashx_size (self->dropped) && s_on_dropped (self, msg, label))
        return;
    const char *key = self->auth ? zx__msg_gets (msg, "User-Id") : NULL;
    const char *address = zx__msg_gets (msg, "Peer-Address");
    zx__bclient_t *client = s_client (self, msg, label, key, address,
                                      msg->command == ZX_CMD_REQUEST);
    if (!client) {
        s_on_stranger (self, msg, label);
        return;
    }
    client->last_seen_us = zx__now_us ();
    switch (msg->command) {
        case ZX_CMD_REQUEST:
            s_on_client_request (self, client, msg);
            break;
        case ZX_CMD_CANCEL:
            //  Its one frame of ids and nothing after it, or nothing is done
            if (msg->ok && msg->extra == 0)
                s_on_client_cancel (self, client, msg);
            break;
        case ZX_CMD_HEARTBEAT:
            //  The codec reads an interval only from a lone frame
            if (msg->interval)
                client->heartbeat_ms = msg->interval;
            break;
        case ZX_CMD_DISCONNECT:
            zx__broker_client_drop (self, client, "said goodbye");
            break;
        default:
            ZX__BROKER_WARN (self, client->label, "command", "unknown command %d from "
                             "coordinator %s: dropped", msg->command, client->label);
    }
}

bool
zx__broker_refuse_records (zx_broker_t *self, const zx__msg_t *msg, uint8_t status,
                           const char *text)
{
    //  The service frame is not judged: the codec gives the batch anyway;
    //  a framing error is answered too, other frames past the batch not
    if (!msg->batch || (msg->extra && !msg->frame_error))
        return true;
    zx__batch_t replies = { 0 };
    const uint8_t *cursor = msg->batch;
    const uint8_t *end = cursor + msg->batch_size;
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK)
        zx__batch_add_reply (&replies, rec.corr, rec.attempt, status, text, strlen (text));
    if (replies.records) {
        zx__route_t route = zx__broker_route (self, ZX_FACE_CLIENT, msg->identity,
                                              msg->identity_size);
        zx__send_reply_batch (&route, &replies);
    }
    zx__batch_free (&replies);
    return rc != ZX_EPROTO;
}

void
zx__broker_clients_tick (zx_broker_t *self, int64_t now, int64_t silence_us)
{
    //  Collect first: dropping a client changes the table
    zlistx_t *silent = zlistx_new ();
    for (zx__bclient_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients))
        if (now - client->last_seen_us > silence_us     //  Huge when we stalled
        &&  now - client->last_seen_us > zx__silence_us (self->opts.heartbeat_ms,
                                                         self->opts.liveness,
                                                         client->heartbeat_ms))
            zlistx_add_end (silent, client);
        else {
            //  Any message counts as traffic: one that was sent something
            //  in the last half interval (its replies) needs no heartbeat
            if (now - client->sent_us >= (int64_t) self->opts.heartbeat_ms * 500)
                s_send_heartbeat (self, client);
            if (client->blocked)
                s_dirty_mark (self, client);        //  Room now, maybe
        }
    for (zx__bclient_t *client = zlistx_first (silent); client; client = zlistx_next (silent))
        zx__broker_client_drop (self, client, "not heard from");
    zlistx_destroy (&silent);
    //  Dropped coordinators never heard from again are forgotten
    if (zhashx_size (self->dropped)) {
        zlistx_t *old = zlistx_new ();
        for (zx__bdropped_t *dropped = zhashx_first (self->dropped); dropped;
             dropped = zhashx_next (self->dropped))
            if (now - dropped->at_us > ZX__BROKER_DROPPED_KEEP_MS * 1000LL)
                zlistx_add_end (old, (void *) zhashx_cursor (self->dropped));
        for (const char *label = zlistx_first (old); label; label = zlistx_next (old))
            zhashx_delete (self->dropped, label);
        zlistx_destroy (&old);
    }
}

void
zx__broker_clients_shutdown (zx_broker_t *self)
{
    zx__bclient_t *client;
    while ((client = zhashx_first (self->clients))) {
        const char *text = "broker shut down before the task finished";
        for (zx__bticket_t *ticket = client->tickets; ticket; ticket = ticket->next)
            s_client_reply (self, client, ticket->corr, ticket->attempt, ZX_ESHUTDOWN,
                            text, strlen (text));
        zx__broker_client_flush (self, client);
        zx__send_disconnect (&client->route, ZX_BYE_NORMAL, NULL);
        //  Their tickets are answered: forget them without cancelling twice
        while (client->tickets)
            s_ticket_unlink (client->tickets);
        s_client_free (self, client);
    }
}
