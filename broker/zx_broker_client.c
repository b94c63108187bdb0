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
    down) stays until its dispatcher gives it back, then is only freed.  */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_send_client (zx_broker_t *self, zx__bclient_t *client, uint8_t command,
               const void *body, size_t size)
{
    const void *frames [] = { client->identity, ZX_PROTO_CLIENT, &command, body };
    size_t sizes [] = { client->identity_size, ZX_PROTO_CLIENT_LEN, 1, size };
    zx__send_frames (self->socket, frames, sizes, body ? 4 : 3, ZMQ_DONTWAIT);
}

//  The client with this routing id; with create, a new one when there is
//  none (and max_clients allows), which is sent our heartbeat interval.
static zx__bclient_t *
s_client (zx_broker_t *self, const zmq_msg_t *identity, const char *key, const char *address,
          bool create)
{
    char label [ZX__BROKER_LABEL];
    zx__broker_label (label, sizeof label, zmq_msg_data ((zmq_msg_t *) identity),
                      zmq_msg_size (identity));
    zx__bclient_t *client = zhashx_lookup (self->clients, label);
    if (client || !create || zhashx_size (self->clients) >= self->opts.max_clients)
        return client;
    client = calloc (1, sizeof (zx__bclient_t));
    if (!client)
        return NULL;
    client->identity_size = zmq_msg_size (identity);
    memcpy (client->identity, zmq_msg_data ((zmq_msg_t *) identity), client->identity_size);
    memcpy (client->label, label, sizeof label);
    if (key)
        snprintf (client->key, sizeof client->key, "%s", key);
    client->last_seen_us = zx__now_us ();
    zhashx_insert (self->clients, label, client);
    //  Our heartbeat interval at once: a coordinator with a shorter one
    //  must not call us silent before our first tick
    uint8_t interval [4];
    zx__put_u32 (interval, (uint32_t) self->opts.heartbeat_ms);
    s_send_client (self, client, ZX_CMD_HEARTBEAT, interval, sizeof interval);
    //  The routing id libzmq makes up says nothing: name where it came from
    if (address && *address)
        zx_log_info (self->log, "coordinator %s connected from %s", label, address);
    else
        zx_log_info (self->log, "coordinator %s connected", label);
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

void
zx__broker_client_flush (zx_broker_t *self, zx__bclient_t *client)
{
    if (!client->dirty)
        return;
    s_send_client (self, client, ZX_CMD_REPLY, client->replies.data, client->replies.size);
    zx__batch_clear (&client->replies);
    s_dirty_clear (self, client);
}

static void
s_client_reply (zx_broker_t *self, zx__bclient_t *client, uint64_t corr, uint32_t attempt,
                zx_err_t code, const void *payload, size_t size)
{
    if (zx__batch_add_reply (&client->replies, corr, attempt,
                             (uint8_t) zx__status_from_err (code), payload, size) == ZX_OK)
        s_dirty_mark (self, client);
}

//  The dispatcher finished a ticket: its reply goes in the client's batch.
void
zx__broker_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    zx_broker_t *self = (zx_broker_t *) owner;
    zx__bticket_t *ticket = (zx__bticket_t *) cookie;
    zx__bclient_t *client = ticket->client;
    if (client) {
        s_ticket_unlink (ticket);
        s_client_reply (self, client, ticket->corr, ticket->attempt, code, payload, size);
    }
    free (ticket);
}

void
zx__broker_client_drop (zx_broker_t *self, zx__bclient_t *client, const char *why)
{
    zx_log_info (self->log, "coordinator %s gone (%s): %zu tasks cancelled",
                 client->label, why, client->outstanding);
    //  A coordinator that was only slow (its loop stalled) reads these
    //  when it wakes, rather than wait forever for replies: a later
    //  request of its would make it known here again, heartbeats and all
    char text [160];
    snprintf (text, sizeof text, "the broker dropped this coordinator (%s) and cancelled "
              "its tasks", why);
    while (client->tickets) {
        zx__bticket_t *ticket = client->tickets;
        s_client_reply (self, client, ticket->corr, ticket->attempt, ZX_EWORKER_LOST,
                        text, strlen (text));
        s_ticket_unlink (ticket);
        //  Completes the ticket (and frees it) through zx__broker_complete
        zx__request_cancel (ticket->request);
    }
    zx__broker_client_flush (self, client);
    s_client_free (self, client);
}

//  The reason a record cannot be queued before it reaches a dispatcher,
//  or NULL when it can: the broker is closed, the service is bad, or the
//  client has too much pending.
static const char *
s_refusal (zx_broker_t *self, zx__bclient_t *client, const zx__bservice_t *service,
           zx_err_t *code, char *text, size_t size)
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
    return NULL;
}

//  Makes one request record a ticket and submits it to service's
//  dispatcher; what cannot be submitted is answered at once.
static void
s_submit (zx_broker_t *self, zx__bclient_t *client, zx__bservice_t *service,
          const zx__request_rec_t *rec)
{
    char task [256];
    memcpy (task, rec->name, rec->name_len);
    task [rec->name_len] = 0;
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
    zx_err_t code;
    ticket->request = zx__dispatch_submit (service->dispatch, task, rec->args, rec->args_size,
                                           rec->flags, ticket, &code);
    if (!ticket->request) {
        s_ticket_unlink (ticket);
        free (ticket);
        char text [320];
        if (code == ZX_EQUEUE_FULL)
            snprintf (text, sizeof text, "queue full at the broker for service '%s'",
                      service->name);
        else
            snprintf (text, sizeof text, "cannot queue task '%s': %s", task, zx_strerror (code));
        s_client_reply (self, client, rec->corr, rec->attempt, code, text, strlen (text));
    }
}

static void
s_on_client_request (zx_broker_t *self, zx__bclient_t *client, zmq_msg_t *frames, size_t count)
{
    if (count != 5 || zmq_msg_size (&frames [3]) == 0 || zmq_msg_size (&frames [3]) > 255) {
        zx_log_warning (self->log, "malformed REQUEST from coordinator %s: dropped", client->label);
        return;
    }
    char name [256];
    memcpy (name, zmq_msg_data (&frames [3]), zmq_msg_size (&frames [3]));
    name [zmq_msg_size (&frames [3])] = 0;
    zx__bservice_t *service = memchr (name, 0, zmq_msg_size (&frames [3])) ? NULL
                            : zx__broker_service (self, name, true);
    const uint8_t *cursor = zmq_msg_data (&frames [4]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [4]);
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        zx_err_t code;
        char buffer [160];
        const char *text = s_refusal (self, client, service, &code, buffer, sizeof buffer);
        if (text)
            s_client_reply (self, client, rec.corr, rec.attempt, code, text, strlen (text));
        else
        if (zx__idmap_get (&client->by_corr, rec.corr))
            zx_log_warning (self->log, "coordinator %s reused id %llu: dropped",
                            client->label, (unsigned long long) rec.corr);
        else
            s_submit (self, client, service, &rec);
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "malformed REQUEST batch from coordinator %s: rest dropped",
                        client->label);
}

static void
s_on_client_cancel (zx__bclient_t *client, const zmq_msg_t *ids)
{
    const uint8_t *data = zmq_msg_data ((zmq_msg_t *) ids);
    for (size_t at = 0; at + 8 <= zmq_msg_size (ids); at += 8) {
        zx__bticket_t *ticket = zx__idmap_get (&client->by_corr, zx__get_u64 (data + at));
        if (ticket) {
            s_ticket_unlink (ticket);
            zx__request_cancel (ticket->request);
        }
    }
}

//  A message from a coordinator the broker does not know (or will not
//  take): a REQUEST's records fail, anything else is dropped.
static void
s_on_stranger (zx_broker_t *self, zmq_msg_t *frames, size_t count, uint8_t command)
{
    char label [ZX__BROKER_LABEL];
    zx__broker_label (label, sizeof label, zmq_msg_data (&frames [0]),
                      zmq_msg_size (&frames [0]));
    if (command == ZX_CMD_REQUEST) {
        //  Past --max-clients (or out of memory): its tasks fail at once
        char text [120];
        snprintf (text, sizeof text, "too many coordinators at this broker (--max-clients %zu)",
                  self->opts.max_clients);
        zx_log_warning (self->log, "REQUEST from coordinator %s refused: %s", label, text);
        zx__broker_refuse_records (self, frames, count, ZX_STATUS_QUEUE_FULL, text);
    }
    else
    if (command != ZX_CMD_DISCONNECT && command != ZX_CMD_HEARTBEAT)
        zx_log_warning (self->log, "command %d from unknown coordinator %s: dropped",
                        command, label);
}

void
zx__broker_on_client (zx_broker_t *self, zmq_msg_t *frames, size_t count)
{
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames [2]);
    const char *key = self->auth ? zmq_msg_gets (&frames [1], "User-Id") : NULL;
    //  Metadata rides on the frames the peer sent, not on the routing id
    const char *address = zmq_msg_gets (&frames [1], "Peer-Address");
    zx__bclient_t *client = s_client (self, &frames [0], key, address,
                                      command == ZX_CMD_REQUEST);
    if (!client) {
        s_on_stranger (self, frames, count, command);
        return;
    }
    client->last_seen_us = zx__now_us ();
    switch (command) {
        case ZX_CMD_REQUEST:
            s_on_client_request (self, client, frames, count);
            break;
        case ZX_CMD_CANCEL:
            if (count == 4)
                s_on_client_cancel (client, &frames [3]);
            break;
        case ZX_CMD_HEARTBEAT:
            if (count == 4)
                zx__heartbeat_learn (&client->heartbeat_ms, zmq_msg_data (&frames [3]),
                                     zmq_msg_size (&frames [3]));
            break;
        case ZX_CMD_DISCONNECT:
            zx__broker_client_drop (self, client, "said goodbye");
            break;
        default:
            zx_log_warning (self->log, "unknown command %d from coordinator %s: dropped",
                            command, client->label);
    }
}

void
zx__broker_refuse_records (zx_broker_t *self, zmq_msg_t *frames, size_t count, uint8_t status,
                           const char *text)
{
    if (count != 5)
        return;
    zx__batch_t replies = { 0 };
    const uint8_t *cursor = zmq_msg_data (&frames [4]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [4]);
    zx__request_rec_t rec;
    while (zx__batch_next_request (&cursor, end, &rec) == ZX_OK)
        zx__batch_add_reply (&replies, rec.corr, rec.attempt, status, text, strlen (text));
    if (replies.records) {
        uint8_t command = ZX_CMD_REPLY;
        const void *reply [] = { zmq_msg_data (&frames [0]), ZX_PROTO_CLIENT, &command,
                                 replies.data };
        size_t sizes [] = { zmq_msg_size (&frames [0]), ZX_PROTO_CLIENT_LEN, 1, replies.size };
        zx__send_frames (self->socket, reply, sizes, 4, ZMQ_DONTWAIT);
    }
    zx__batch_free (&replies);
}

void
zx__broker_clients_tick (zx_broker_t *self, int64_t now, int64_t silence_us)
{
    //  Collect first: dropping a client changes the table
    zlistx_t *silent = zlistx_new ();
    uint8_t interval [4];
    zx__put_u32 (interval, (uint32_t) self->opts.heartbeat_ms);
    for (zx__bclient_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients))
        if (now - client->last_seen_us > silence_us     //  Huge when we stalled
        &&  now - client->last_seen_us > zx__silence_us (self->opts.heartbeat_ms,
                                                         self->opts.liveness,
                                                         client->heartbeat_ms))
            zlistx_add_end (silent, client);
        else
            s_send_client (self, client, ZX_CMD_HEARTBEAT, interval, sizeof interval);
    for (zx__bclient_t *client = zlistx_first (silent); client; client = zlistx_next (silent))
        zx__broker_client_drop (self, client, "not heard from");
    zlistx_destroy (&silent);
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
        uint8_t bye = ZX_BYE_NORMAL;
        s_send_client (self, client, ZX_CMD_DISCONNECT, &bye, 1);
        //  Their tickets are answered: forget them without cancelling twice
        while (client->tickets)
            s_ticket_unlink (client->tickets);
        s_client_free (self, client);
    }
}
