/*  zexec_broker.c - the zexec broker: coordinators on one side, workers on
    the other, over tcp (or ipc).

    DESIGN: one ROUTER socket, bound where the operator says, carries both
    faces; the first frame after the identity tells them apart: "ZXW01"
    for workers, "ZXC01" for coordinators (clients). Each service (a named
    pool) is a dispatcher from broker/zx_dispatch, the same code a local
    pool runs inside its coordinator; they share the socket, and the
    broker routes each worker message to its service's dispatcher by the
    worker's identity. A client request becomes a ticket (client, its
    correlation id) that rides through the dispatcher as the cookie; its
    completion becomes a reply record in that client's next REPLY batch.
    Heartbeats go both ways once a second by default; a worker or client
    not heard from for three intervals is gone: a worker's held tasks fail
    or retry, a client's tasks are cancelled.

    With CURVE (--cert, --clients, --workers), zx_auth answers the ZAP
    handshakes and every message is checked against the roles its key
    (the User-Id libzmq attaches to each frame) holds now: a worker face
    message needs a worker's key, a client face message a coordinator's,
    and a routing id stays with the key that first used it. When an
    allow-list changes, peers whose key lost its role are sent DISCONNECT
    (workers) or their tasks' failures (coordinators) and forgotten.     */

#define _GNU_SOURCE
#include "zx_auth.h"
#include "zx_dispatch.h"
#include "zx_idmap.h"
#include "zx_loop.h"
#include "zx_proto.h"
#include "zx_task.h"

#include <czmq.h>
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#define ZX_MAX_FRAMES    8
#define ZX_BURST         4096
#define ZX_RESCAN_MS     1000       //  How often the allow-lists are checked

typedef struct s_client s_client_t;
typedef struct s_ticket s_ticket_t;

typedef struct {
    char name [256];
    zx__dispatch_t *dispatch;
} s_service_t;

struct s_ticket {
    s_ticket_t *next, *prev;        //  In the client's list
    s_client_t *client;             //  NULL once the client is gone
    zx__request_t *request;
    uint64_t corr;                  //  The client's id
    uint32_t attempt;
};

struct s_client {
    char key [ZX_CURVE_KEY_LEN + 1];    //  With CURVE: the key it came with
    uint8_t identity [256];
    size_t identity_size;
    char label [96];
    int64_t last_seen_us;
    uint32_t heartbeat_ms;          //  Its interval, as it announced it (0: unknown)
    s_ticket_t *tickets;
    size_t outstanding;
    zx__idmap_t by_corr;            //  client corr -> ticket
    zx__batch_t replies;
    bool dirty;                     //  Replies wait in the batch: on the dirty list
    s_client_t *dirty_prev, *dirty_next;
};

//  With CURVE: the key a worker's routing id belongs to.
typedef struct {
    char key [ZX_CURVE_KEY_LEN + 1];
    uint8_t identity [256];
    size_t identity_size;
} s_worker_key_t;

typedef struct {
    zx_loop_t *loop;
    zsock_t *router;
    zx__auth_t *auth;               //  NULL without CURVE
    zhashx_t *worker_keys;          //  worker label -> s_worker_key_t * (CURVE)
    void *socket;
    s_service_t **services;
    size_t service_count;
    zhashx_t *worker_service;       //  worker label -> s_service_t *
    zhashx_t *clients;              //  client label -> s_client_t *
    s_client_t *dirty;              //  Clients with replies to flush
    int heartbeat_ms;
    int liveness;
    int no_worker_wait_ms;
    size_t max_queue;
    size_t max_services;
    size_t max_workers;
    size_t max_clients;
    size_t max_client_pending;
    int64_t max_frame_bytes;
    int handshake_ms;
    zx_logger_t *log;
    int signal_fd;
    int64_t last_tick_us;
    bool stopping;
} s_broker_t;

//  --------------------------------------------------------------------
//  Helpers

static void
s_label (char *label, size_t size, const uint8_t *identity, size_t identity_size)
{
    size_t at = 0;
    for (size_t i = 0; i < identity_size && at + 5 < size; i++) {
        if (isprint (identity [i]) && identity [i] != '\\')
            label [at++] = (char) identity [i];
        else
            at += (size_t) snprintf (label + at, size - at, "\\x%02x", identity [i]);
    }
    label [at] = 0;
}

static void
s_send_client (s_broker_t *self, s_client_t *client, uint8_t command,
               const void *body, size_t size)
{
    const void *frames [] = { client->identity, ZX_PROTO_CLIENT, &command, body };
    size_t sizes [] = { client->identity_size, ZX_PROTO_CLIENT_LEN, 1, size };
    zx__send_frames (self->socket, frames, sizes, body ? 4 : 3, ZMQ_DONTWAIT);
}

//  --------------------------------------------------------------------
//  Services

static void s_complete (void *owner, void *cookie, zx_err_t code,
                        const void *payload, size_t size);
static void s_worker_event (void *owner, const char *identity, int reason,
                            const char *text);

static s_service_t *
s_service (s_broker_t *self, const char *name, bool create)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (streq (self->services [i]->name, name))
            return self->services [i];
    if (!create || self->service_count >= self->max_services)
        return NULL;
    s_service_t *service = calloc (1, sizeof (s_service_t));
    s_service_t **grown = realloc (self->services, (self->service_count + 1) * sizeof *grown);
    if (grown)
        self->services = grown;         //  The old block is gone once it moved
    if (!service || !grown) {
        free (service);
        return NULL;
    }
    snprintf (service->name, sizeof service->name, "%s", name);
    zx__dispatch_events_t events = { s_complete, NULL, NULL, s_worker_event };
    service->dispatch = zx__dispatch_new (self->socket, &events, self, self->max_queue, true);
    if (!service->dispatch) {
        free (service);
        return NULL;
    }
    zx__dispatch_set_heartbeat (service->dispatch, self->heartbeat_ms, self->liveness);
    self->services [self->service_count++] = service;
    zx_log_info (self->log, "service '%s' opened", name);
    return service;
}

//  --------------------------------------------------------------------
//  Clients and tickets

static void s_refuse_records (s_broker_t *self, zmq_msg_t *frames, size_t count,
                              uint8_t status, const char *text);

static s_client_t *
s_client (s_broker_t *self, const zmq_msg_t *identity, const char *key, const char *address,
          bool create)
{
    char label [96];
    s_label (label, sizeof label, zmq_msg_data ((zmq_msg_t *) identity), zmq_msg_size (identity));
    s_client_t *client = zhashx_lookup (self->clients, label);
    if (client || !create || zhashx_size (self->clients) >= self->max_clients)
        return client;
    client = calloc (1, sizeof (s_client_t));
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
    zx__put_u32 (interval, (uint32_t) self->heartbeat_ms);
    s_send_client (self, client, ZX_CMD_HEARTBEAT, interval, sizeof interval);
    //  The routing id libzmq makes up says nothing: name where it came from
    if (address && *address)
        zx_log_info (self->log, "coordinator %s connected from %s", label, address);
    else
        zx_log_info (self->log, "coordinator %s connected", label);
    return client;
}

static void
s_ticket_unlink (s_ticket_t *ticket)
{
    s_client_t *client = ticket->client;
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
s_dirty_mark (s_broker_t *self, s_client_t *client)
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
s_dirty_clear (s_broker_t *self, s_client_t *client)
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

//  Sends what waits in a client's batch, if anything
static void
s_client_flush (s_broker_t *self, s_client_t *client)
{
    if (!client->dirty)
        return;
    s_send_client (self, client, ZX_CMD_REPLY, client->replies.data, client->replies.size);
    zx__batch_clear (&client->replies);
    s_dirty_clear (self, client);
}

static void
s_client_reply (s_broker_t *self, s_client_t *client, uint64_t corr, uint32_t attempt,
                zx_err_t code, const void *payload, size_t size)
{
    if (zx__batch_add_reply (&client->replies, corr, attempt,
                             (uint8_t) zx__status_from_err (code), payload, size) == ZX_OK)
        s_dirty_mark (self, client);
}

//  The dispatcher finished a ticket: its reply goes in the client's batch.
static void
s_complete (void *owner, void *cookie, zx_err_t code, const void *payload, size_t size)
{
    s_broker_t *self = (s_broker_t *) owner;
    s_ticket_t *ticket = (s_ticket_t *) cookie;
    s_client_t *client = ticket->client;
    if (client) {
        s_ticket_unlink (ticket);
        s_client_reply (self, client, ticket->corr, ticket->attempt, code, payload, size);
    }
    free (ticket);
}

//  Forgets a client: what it still has queued or running is cancelled.
static void
s_client_drop (s_broker_t *self, s_client_t *client, const char *why)
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
        s_ticket_t *ticket = client->tickets;
        s_client_reply (self, client, ticket->corr, ticket->attempt, ZX_EWORKER_LOST,
                        text, strlen (text));
        s_ticket_unlink (ticket);
        //  Completes the ticket (and frees it) through s_complete
        zx__request_cancel (ticket->request);
    }
    s_client_flush (self, client);
    zhashx_delete (self->clients, client->label);
    zx__idmap_free (&client->by_corr);
    zx__batch_free (&client->replies);
    free (client);
}

static void
s_on_client_request (s_broker_t *self, s_client_t *client, zmq_msg_t *frames, size_t count)
{
    if (count != 5 || zmq_msg_size (&frames [3]) == 0 || zmq_msg_size (&frames [3]) > 255) {
        zx_log_warning (self->log, "malformed REQUEST from coordinator %s: dropped", client->label);
        return;
    }
    char name [256];
    memcpy (name, zmq_msg_data (&frames [3]), zmq_msg_size (&frames [3]));
    name [zmq_msg_size (&frames [3])] = 0;
    s_service_t *service = memchr (name, 0, zmq_msg_size (&frames [3])) ? NULL
                         : s_service (self, name, true);
    const uint8_t *cursor = zmq_msg_data (&frames [4]);
    const uint8_t *end = cursor + zmq_msg_size (&frames [4]);
    zx__request_rec_t rec;
    zx_err_t rc;
    while ((rc = zx__batch_next_request (&cursor, end, &rec)) == ZX_OK) {
        char task [256];
        memcpy (task, rec.name, rec.name_len);
        task [rec.name_len] = 0;
        if (self->stopping || !service) {
            const char *text = self->stopping ? "broker shutting down"
                                              : "too many services, or a bad service name";
            s_client_reply (self, client, rec.corr, rec.attempt,
                            self->stopping ? ZX_ESHUTDOWN : ZX_EINVAL, text, strlen (text));
            continue;
        }
        if (client->outstanding >= self->max_client_pending) {
            char text [160];
            snprintf (text, sizeof text, "too many pending requests from this coordinator "
                      "(--max-client-pending %zu)", self->max_client_pending);
            s_client_reply (self, client, rec.corr, rec.attempt, ZX_EQUEUE_FULL,
                            text, strlen (text));
            continue;
        }
        if (zx__idmap_get (&client->by_corr, rec.corr)) {
            zx_log_warning (self->log, "coordinator %s reused id %llu: dropped",
                            client->label, (unsigned long long) rec.corr);
            continue;
        }
        s_ticket_t *ticket = calloc (1, sizeof (s_ticket_t));
        if (!ticket || !zx__idmap_put (&client->by_corr, rec.corr, ticket)) {
            free (ticket);
            const char *text = rec.corr == 0 || rec.corr == UINT64_MAX
                             ? "reserved correlation id" : "broker out of memory";
            s_client_reply (self, client, rec.corr, rec.attempt, ZX_ETASK, text, strlen (text));
            continue;
        }
        ticket->client = client;
        ticket->corr = rec.corr;
        ticket->attempt = rec.attempt;
        ticket->next = client->tickets;
        if (client->tickets)
            client->tickets->prev = ticket;
        client->tickets = ticket;
        client->outstanding++;
        zx_err_t code;
        ticket->request = zx__dispatch_submit (service->dispatch, task, rec.args, rec.args_size,
                                               rec.flags, ticket, &code);
        if (!ticket->request) {
            s_ticket_unlink (ticket);
            free (ticket);
            char text [320];
            if (code == ZX_EQUEUE_FULL)
                snprintf (text, sizeof text, "queue full at the broker for service '%s'", name);
            else
                snprintf (text, sizeof text, "cannot queue task '%s': %s", task, zx_strerror (code));
            s_client_reply (self, client, rec.corr, rec.attempt, code, text, strlen (text));
        }
    }
    if (rc == ZX_EPROTO)
        zx_log_warning (self->log, "malformed REQUEST batch from coordinator %s: rest dropped",
                        client->label);
}

static void
s_on_client_cancel (s_broker_t *self, s_client_t *client, const zmq_msg_t *ids)
{
    (void) self;
    const uint8_t *data = zmq_msg_data ((zmq_msg_t *) ids);
    for (size_t at = 0; at + 8 <= zmq_msg_size (ids); at += 8) {
        s_ticket_t *ticket = zx__idmap_get (&client->by_corr, zx__get_u64 (data + at));
        if (ticket) {
            s_ticket_unlink (ticket);
            zx__request_cancel (ticket->request);
        }
    }
}

static void
s_on_client (s_broker_t *self, zmq_msg_t *frames, size_t count)
{
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames [2]);
    const char *key = self->auth ? zmq_msg_gets (&frames [1], "User-Id") : NULL;
    //  Metadata rides on the frames the peer sent, not on the routing id
    const char *address = zmq_msg_gets (&frames [1], "Peer-Address");
    s_client_t *client = s_client (self, &frames [0], key, address, command == ZX_CMD_REQUEST);
    if (!client && command == ZX_CMD_REQUEST) {
        //  Past --max-clients (or out of memory): its tasks fail at once
        char label [96], text [120];
        s_label (label, sizeof label, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
        snprintf (text, sizeof text, "too many coordinators at this broker (--max-clients %zu)",
                  self->max_clients);
        zx_log_warning (self->log, "REQUEST from coordinator %s refused: %s", label, text);
        s_refuse_records (self, frames, count, ZX_STATUS_QUEUE_FULL, text);
        return;
    }
    if (!client) {
        char label [96];
        s_label (label, sizeof label, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
        if (command != ZX_CMD_DISCONNECT && command != ZX_CMD_HEARTBEAT)
            zx_log_warning (self->log, "command %d from unknown coordinator %s: dropped",
                            command, label);
        return;
    }
    client->last_seen_us = zx__now_us ();
    switch (command) {
        case ZX_CMD_REQUEST:
            s_on_client_request (self, client, frames, count);
            break;
        case ZX_CMD_CANCEL:
            if (count == 4)
                s_on_client_cancel (self, client, &frames [3]);
            break;
        case ZX_CMD_HEARTBEAT:
            if (count == 4)
                zx__heartbeat_learn (&client->heartbeat_ms, zmq_msg_data (&frames [3]),
                                     zmq_msg_size (&frames [3]));
            break;
        case ZX_CMD_DISCONNECT:
            s_client_drop (self, client, "said goodbye");
            break;
        default:
            zx_log_warning (self->log, "unknown command %d from coordinator %s: dropped",
                            command, client->label);
    }
}

//  --------------------------------------------------------------------
//  Workers

static void
s_worker_event (void *owner, const char *identity, int reason, const char *text)
{
    s_broker_t *self = (s_broker_t *) owner;
    if (reason < 0)
        zx_log_info (self->log, "worker %s ready", identity);
    else {
        zx_log_info (self->log, "worker %s left%s%s", identity, text [0] ? ": " : "", text);
        zhashx_delete (self->worker_service, identity);
        if (self->worker_keys)
            zhashx_delete (self->worker_keys, identity);
    }
}

static void
s_on_worker (s_broker_t *self, zmq_msg_t *frames, size_t count)
{
    char label [96];
    s_label (label, sizeof label, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames [2]);
    s_service_t *service = zhashx_lookup (self->worker_service, label);
    bool mapped_now = false;
    if (command == ZX_CMD_READY && !service) {
        if (zhashx_size (self->worker_service) >= self->max_workers) {
            zx_log_warning (self->log, "too many workers: READY from %s dropped", label);
            return;
        }
        size_t size = count > 3 ? zmq_msg_size (&frames [3]) : 0;
        if (size == 0 || size > 255 || memchr (zmq_msg_data (&frames [3]), 0, size)) {
            zx_log_warning (self->log, "READY with a bad service name from %s: dropped", label);
            return;
        }
        char name [256];
        memcpy (name, zmq_msg_data (&frames [3]), size);
        name [size] = 0;
        service = s_service (self, name, true);
        if (!service) {
            zx_log_warning (self->log, "too many services: READY from %s dropped", label);
            return;
        }
        zhashx_insert (self->worker_service, label, service);
        mapped_now = true;
        if (self->auth) {
            s_worker_key_t *known = calloc (1, sizeof (s_worker_key_t));
            const char *key = zmq_msg_gets (&frames [1], "User-Id");
            if (known && key) {
                snprintf (known->key, sizeof known->key, "%s", key);
                known->identity_size = zmq_msg_size (&frames [0]);
                memcpy (known->identity, zmq_msg_data (&frames [0]), known->identity_size);
                zhashx_update (self->worker_keys, label, known);
            }
            else
                free (known);
        }
    }
    if (!service) {
        if (command != ZX_CMD_HEARTBEAT && command != ZX_CMD_DISCONNECT) {
            //  A worker we forgot (expired, or a broker restart): ask it
            //  to start again, as MDP does
            uint8_t bye = ZX_BYE_NORMAL;
            const void *reply [] = { zmq_msg_data (&frames [0]), ZX_PROTO_WORKER, "\x05", &bye };
            size_t sizes [] = { zmq_msg_size (&frames [0]), ZX_PROTO_WORKER_LEN, 1, 1 };
            zx__send_frames (self->socket, reply, sizes, 4, ZMQ_DONTWAIT);
        }
        return;
    }
    size_t workers = zx__dispatch_workers (service->dispatch);
    zx__dispatch_handle (service->dispatch, frames, count);
    //  A READY its dispatcher refused (a bad info frame) made no worker
    //  that could ever leave: forget the id, or it would stay mapped
    if (mapped_now && zx__dispatch_workers (service->dispatch) == workers) {
        zhashx_delete (self->worker_service, label);
        if (self->worker_keys)
            zhashx_delete (self->worker_keys, label);
    }
}

//  --------------------------------------------------------------------
//  CURVE: roles per message, allow-lists that change

static void
s_send_worker_bye (s_broker_t *self, const void *identity, size_t identity_size,
                   const char *text)
{
    uint8_t bye [128] = { ZX_BYE_PROTOCOL };
    size_t size = strlen (text) < sizeof bye - 1 ? strlen (text) : sizeof bye - 1;
    memcpy (bye + 1, text, size);
    uint8_t command = ZX_CMD_DISCONNECT;
    const void *frames [] = { identity, ZX_PROTO_WORKER, &command, bye };
    size_t sizes [] = { identity_size, ZX_PROTO_WORKER_LEN, 1, size + 1 };
    zx__send_frames (self->socket, frames, sizes, 4, ZMQ_DONTWAIT);
}

//  Answers every record of a REQUEST with an error (status, text), queuing
//  and remembering nothing.
static void
s_refuse_records (s_broker_t *self, zmq_msg_t *frames, size_t count, uint8_t status,
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

//  A REQUEST from a key that may not submit work: every record in it is
//  answered with an error, and nothing is queued or remembered.
static void
s_refuse_request (s_broker_t *self, zmq_msg_t *frames, size_t count, const char *label)
{
    zx_log_warning (self->log, "REQUEST from %s, whose key is not a coordinator's: refused",
                    label);
    s_refuse_records (self, frames, count, ZX_STATUS_TASK_ERROR,
                      "permission denied: this key is not in the broker's coordinators' "
                      "allow-list");
}

//  With CURVE, whether this message's key may speak on its face now, and
//  under this routing id. What may not is answered (a READY with
//  DISCONNECT, a REQUEST with errors) or dropped, and logged.
static bool
s_allowed (s_broker_t *self, zmq_msg_t *frames, size_t count, bool worker_face,
           const char *label)
{
    if (!self->auth)
        return true;
    const char *key = zmq_msg_gets (&frames [1], "User-Id");
    int role = zx__auth_role (self->auth, key);
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames [2]);
    bool quiet = command == ZX_CMD_HEARTBEAT || command == ZX_CMD_DISCONNECT;
    if (!key) {
        //  CURVE without our ZAP handler's answer: never expected
        zx_log_error (self->log, "message from %s without an authenticated key: dropped", label);
        return false;
    }
    if (worker_face) {
        if (role & ZX_ROLE_WORKER) {
            s_worker_key_t *known = zhashx_lookup (self->worker_keys, label);
            if (!known || streq (known->key, key))
                return true;
            zx_log_warning (self->log, "worker routing id %s used by key %s, not its own: "
                            "dropped", label, key);
            return false;
        }
        if (command == ZX_CMD_READY) {
            zx_log_warning (self->log, "READY from %s, whose key %s is not a worker's: "
                            "disconnected", label, key);
            s_send_worker_bye (self, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]),
                               "this key may not serve as a worker");
        }
        else
        if (!quiet)
            zx_log_warning (self->log, "worker command %d from %s, whose key %s is not a "
                            "worker's: dropped", command, label, key);
        return false;
    }
    if (role & ZX_ROLE_CLIENT) {
        s_client_t *client = zhashx_lookup (self->clients, label);
        if (!client || streq (client->key, key))
            return true;
        zx_log_warning (self->log, "coordinator routing id %s used by key %s, not its own: "
                        "dropped", label, key);
        return false;
    }
    //  A worker's key is told why; a key no list holds (any more) is not
    if ((role & ZX_ROLE_WORKER) && command == ZX_CMD_REQUEST)
        s_refuse_request (self, frames, count, label);
    else
    if (!quiet)
        zx_log_warning (self->log, "coordinator command %d from %s, whose key %s is not a "
                        "coordinator's: dropped", command, label, key);
    return false;
}

//  The allow-lists changed: peers whose key lost its role are told and
//  forgotten. Their later messages fail s_allowed.
static void
s_enforce_allow_lists (s_broker_t *self)
{
    zlistx_t *gone = zlistx_new ();
    for (s_client_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients))
        if (!(zx__auth_role (self->auth, client->key) & ZX_ROLE_CLIENT))
            zlistx_add_end (gone, client);
    for (s_client_t *client = zlistx_first (gone); client; client = zlistx_next (gone)) {
        uint8_t identity [256];
        size_t identity_size = client->identity_size;
        memcpy (identity, client->identity, identity_size);
        zx_log_warning (self->log, "coordinator %s: key %s removed from the allow-list: "
                        "disconnected", client->label, client->key);
        s_client_drop (self, client, "its key was removed from the allow-list");
        uint8_t command = ZX_CMD_DISCONNECT, bye = ZX_BYE_PROTOCOL;
        const void *frames [] = { identity, ZX_PROTO_CLIENT, &command, &bye };
        size_t sizes [] = { identity_size, ZX_PROTO_CLIENT_LEN, 1, 1 };
        zx__send_frames (self->socket, frames, sizes, 4, ZMQ_DONTWAIT);
    }
    zlistx_purge (gone);
    for (s_worker_key_t *known = zhashx_first (self->worker_keys); known;
         known = zhashx_next (self->worker_keys))
        if (!(zx__auth_role (self->auth, known->key) & ZX_ROLE_WORKER))
            zlistx_add_end (gone, known);
    for (s_worker_key_t *known = zlistx_first (gone); known; known = zlistx_next (gone)) {
        char label [96];
        s_label (label, sizeof label, known->identity, known->identity_size);
        zx_log_warning (self->log, "worker %s: key %s removed from the allow-list: "
                        "disconnected", label, known->key);
        const char *text = "its key was removed from the allow-list";
        s_send_worker_bye (self, known->identity, known->identity_size, text);
        //  Its dispatcher forgets it as if it had said goodbye: what it
        //  held is retried or fails, and s_worker_event unmaps it
        s_service_t *service = zhashx_lookup (self->worker_service, label);
        if (service) {
            zmq_msg_t frames [4];
            uint8_t bye [64] = { ZX_BYE_PROTOCOL };
            memcpy (bye + 1, text, strlen (text));
            zmq_msg_init_size (&frames [0], known->identity_size);
            memcpy (zmq_msg_data (&frames [0]), known->identity, known->identity_size);
            zmq_msg_init_size (&frames [1], ZX_PROTO_WORKER_LEN);
            memcpy (zmq_msg_data (&frames [1]), ZX_PROTO_WORKER, ZX_PROTO_WORKER_LEN);
            zmq_msg_init_size (&frames [2], 1);
            *(uint8_t *) zmq_msg_data (&frames [2]) = ZX_CMD_DISCONNECT;
            zmq_msg_init_size (&frames [3], 1 + strlen (text));
            memcpy (zmq_msg_data (&frames [3]), bye, 1 + strlen (text));
            zx__dispatch_handle (service->dispatch, frames, 4);
            for (int i = 0; i < 4; i++)
                zmq_msg_close (&frames [i]);
        }
        zhashx_delete (self->worker_service, label);
        zhashx_delete (self->worker_keys, label);       //  Frees known
    }
    zlistx_destroy (&gone);
}

static void s_flush_all (s_broker_t *self);

static void
s_worker_key_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_on_zap (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_broker_t *self = (s_broker_t *) arg;
    zx__auth_handle (self->auth);
}

static void
s_on_auth_tick (zx_loop_t *loop, void *arg)
{
    s_broker_t *self = (s_broker_t *) arg;
    if (zx__auth_rescan (self->auth)) {
        s_enforce_allow_lists (self);
        s_flush_all (self);
    }
    zx_loop_call_later (loop, ZX_RESCAN_MS, s_on_auth_tick, self);
}

//  --------------------------------------------------------------------
//  The socket, timers, signals

static void
s_flush_all (s_broker_t *self)
{
    for (size_t i = 0; i < self->service_count; i++)
        zx__dispatch_flush (self->services [i]->dispatch);
    while (self->dirty)
        s_client_flush (self, self->dirty);
}

static void
s_on_readable (zx_loop_t *loop, void *arg)
{
    (void) loop;
    s_broker_t *self = (s_broker_t *) arg;
    zmq_msg_t frames [ZX_MAX_FRAMES];
    for (int burst = 0; burst < ZX_BURST; burst++) {
        bool too_many;
        size_t count = zx__recv_message (self->socket, frames, ZX_MAX_FRAMES, &too_many);
        if (count == 0)
            break;
        char label [96];
        s_label (label, sizeof label, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
        if (too_many || count < 3 || zmq_msg_size (&frames [2]) != 1
        ||  zmq_msg_size (&frames [1]) != ZX_PROTO_WORKER_LEN)
            zx_log_warning (self->log, "malformed message (%zu frames) from %s: dropped", count, label);
        else
        if (memcmp (zmq_msg_data (&frames [1]), ZX_PROTO_WORKER, ZX_PROTO_WORKER_LEN) == 0) {
            if (s_allowed (self, frames, count, true, label))
                s_on_worker (self, frames, count);
        }
        else
        if (memcmp (zmq_msg_data (&frames [1]), ZX_PROTO_CLIENT, ZX_PROTO_CLIENT_LEN) == 0) {
            if (s_allowed (self, frames, count, false, label))
                s_on_client (self, frames, count);
        }
        else
            zx_log_warning (self->log, "unknown protocol header from %s: dropped", label);
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
    s_flush_all (self);
}

static void
s_on_tick (zx_loop_t *loop, void *arg)
{
    s_broker_t *self = (s_broker_t *) arg;
    int64_t silence = (int64_t) self->heartbeat_ms * self->liveness * 1000;
    //  Read what is waiting first: peers' heartbeats may be queued there
    s_on_readable (loop, self);
    int64_t now = zx__now_us ();
    //  A broker that was itself stalled (stopped, starved of CPU) has not
    //  heard anyone: give peers one more interval before judging them
    bool stalled = self->last_tick_us
                && now - self->last_tick_us > 2 * (int64_t) self->heartbeat_ms * 1000;
    self->last_tick_us = now;
    if (stalled) {
        zx_log_warning (self->log, "broker stalled: peers get one more heartbeat interval");
        silence = INT64_MAX / 2;
    }
    for (size_t i = 0; i < self->service_count; i++) {
        s_service_t *service = self->services [i];
        char text [320];
        snprintf (text, sizeof text, "no workers for service %s", service->name);
        zx__dispatch_expire (service->dispatch, silence,
                             (int64_t) self->no_worker_wait_ms * 1000, text);
        zx__dispatch_heartbeat (service->dispatch);
    }
    //  Collect first: dropping a client changes the table
    zlistx_t *silent = zlistx_new ();
    uint8_t interval [4];
    zx__put_u32 (interval, (uint32_t) self->heartbeat_ms);
    for (s_client_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients))
        if (now - client->last_seen_us > silence     //  Huge when we stalled
        &&  now - client->last_seen_us
            > zx__silence_us (self->heartbeat_ms, self->liveness, client->heartbeat_ms))
            zlistx_add_end (silent, client);
        else
            s_send_client (self, client, ZX_CMD_HEARTBEAT, interval, sizeof interval);
    for (s_client_t *client = zlistx_first (silent); client; client = zlistx_next (silent))
        s_client_drop (self, client, "not heard from");
    zlistx_destroy (&silent);
    s_flush_all (self);
    zx_loop_call_later (loop, self->heartbeat_ms, s_on_tick, self);
}

static void
s_on_signal (zx_loop_t *loop, void *arg)
{
    s_broker_t *self = (s_broker_t *) arg;
    struct signalfd_siginfo info;
    if (read (self->signal_fd, &info, sizeof info) == (ssize_t) sizeof info)
        zx_log_warning (self->log, "signal %u: shutting down", info.ssi_signo);
    self->stopping = true;
    zx_loop_stop (loop);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zexec-broker --bind ENDPOINT [--bind ENDPOINT ...] [options]\n"
        "\n"
        "Routes work from zexec coordinators to zexec workers.\n"
        "\n"
        "  --bind ENDPOINT        where coordinators and workers connect, e.g.\n"
        "                         tcp://0.0.0.0:5555 or ipc:///tmp/zexec.ipc (repeatable)\n"
        "  --heartbeat MS         heartbeat interval (default 1000)\n"
        "  --liveness N           intervals of silence before a peer is gone (default 3)\n"
        "  --no-worker-wait MS    how long a request waits for a worker of its\n"
        "                         service before it fails (default 5000)\n"
        "  --max-queue N          requests queued per service (default 1000000)\n"
        "  --max-services N       services at most (default 1000)\n"
        "  --max-workers N        workers at most, over all services (default 10000)\n"
        "  --max-clients N        coordinators at most (default 10000); past it, a new\n"
        "                         one's tasks fail with `queue full'\n"
        "  --max-client-pending N requests one coordinator may have queued or running\n"
        "                         at once (default 100000); past it, `queue full'\n"
        "  --max-frame-bytes N    largest frame a peer may send (default 268435456);\n"
        "                         a bigger one closes its connection\n"
        "  --handshake-timeout MS a connection that has not finished its handshake\n"
        "                         by then is closed (default 5000)\n"
        "\n"
        "CURVE security (all three together; docs/SECURITY.md):\n"
        "  --cert PATH            the broker's certificate (PATH or PATH_secret, as\n"
        "                         zexec-keygen makes them)\n"
        "  --clients DIR          public certificates of the coordinators that may\n"
        "                         submit work\n"
        "  --workers DIR          public certificates of the workers that may serve\n"
        "                         (both directories are read again when they change)\n"
        "\n"
        "  --endpoint-file PATH   once listening, write the endpoints bound, one per\n"
        "                         line, to PATH (a wildcard such as tcp://127.0.0.1:*\n"
        "                         written as the port it got)\n"
        "  --verbose              log every worker and coordinator event\n"
        "  --help                 this text\n");
}

//  Writes the endpoints bound, one per line, to path: into a file beside
//  it, then renamed, so whoever waits for path never reads half of it.
static bool
s_write_endpoints (const char *path, zlistx_t *endpoints)
{
    char *temp = zsys_sprintf ("%s.%d.tmp", path, (int) getpid ());
    FILE *file = temp ? fopen (temp, "w") : NULL;
    bool written = file != NULL;
    for (char *item = file ? zlistx_first (endpoints) : NULL; item; item = zlistx_next (endpoints))
        written = written && fprintf (file, "%s\n", item) > 0;
    if (file && fclose (file) != 0)
        written = false;
    written = written && rename (temp, path) == 0;
    if (temp && !written)
        unlink (temp);
    zstr_free (&temp);
    return written;
}

static bool
s_number (const char *text, long low, long high, long *out)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || end == text || value < low || value > high)
        return false;
    *out = value;
    return true;
}

int
main (int argc, char **argv)
{
    zx_init (argc, argv);
    zsys_handler_set (NULL);
    s_broker_t broker = {
        .heartbeat_ms = 1000, .liveness = 3, .no_worker_wait_ms = 5000,
        .max_queue = 1000000, .max_services = 1000, .max_workers = 10000,
        .max_clients = 10000,
        .max_client_pending = 100000, .max_frame_bytes = 256 * 1024 * 1024,
        .handshake_ms = 5000 };
    s_broker_t *self = &broker;
    const char *binds [16];
    size_t bind_count = 0;
    const char *cert_path = NULL, *clients_dir = NULL, *workers_dir = NULL;
    const char *endpoint_file = NULL;
    zlistx_t *endpoints = NULL;
    zx_log_level_t level = ZX_LOG_WARNING;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        long number;
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (arg, "--verbose"))
            level = ZX_LOG_INFO;
        else
        if (streq (arg, "--bind") && value) {
            if (bind_count == 16) {
                fprintf (stderr, "zexec-broker: at most 16 --bind endpoints\n");
                return 2;
            }
            binds [bind_count++] = value;
            i++;
        }
        else
        if (streq (arg, "--heartbeat") && value && s_number (value, 10, 600000, &number)) {
            self->heartbeat_ms = (int) number;
            i++;
        }
        else
        if (streq (arg, "--liveness") && value && s_number (value, 2, 100, &number)) {
            self->liveness = (int) number;
            i++;
        }
        else
        if (streq (arg, "--no-worker-wait") && value && s_number (value, 0, 86400000, &number)) {
            self->no_worker_wait_ms = (int) number;
            i++;
        }
        else
        if (streq (arg, "--max-queue") && value && s_number (value, 1, 1000000000, &number)) {
            self->max_queue = (size_t) number;
            i++;
        }
        else
        if (streq (arg, "--max-services") && value && s_number (value, 1, 1000000, &number)) {
            self->max_services = (size_t) number;
            i++;
        }
        else
        if (streq (arg, "--max-workers") && value && s_number (value, 1, 1000000, &number)) {
            self->max_workers = (size_t) number;
            i++;
        }
        else
        if (streq (arg, "--max-clients") && value && s_number (value, 1, 1000000, &number)) {
            self->max_clients = (size_t) number;
            i++;
        }
        else
        if (streq (arg, "--max-client-pending") && value
        &&  s_number (value, 1, 1000000000, &number)) {
            self->max_client_pending = (size_t) number;
            i++;
        }
        else
        if (streq (arg, "--max-frame-bytes") && value && s_number (value, 64, LONG_MAX, &number)) {
            self->max_frame_bytes = number;
            i++;
        }
        else
        if (streq (arg, "--handshake-timeout") && value && s_number (value, 100, 600000, &number)) {
            self->handshake_ms = (int) number;
            i++;
        }
        else
        if (streq (arg, "--endpoint-file") && value) {
            endpoint_file = value;
            i++;
        }
        else
        if (streq (arg, "--cert") && value) {
            cert_path = value;
            i++;
        }
        else
        if (streq (arg, "--clients") && value) {
            clients_dir = value;
            i++;
        }
        else
        if (streq (arg, "--workers") && value) {
            workers_dir = value;
            i++;
        }
        else {
            if (value && arg [0] == '-' && arg [1] == '-')
                fprintf (stderr, "zexec-broker: bad value '%s' for %s\n", value, arg);
            else
                fprintf (stderr, "zexec-broker: unknown or incomplete argument '%s'\n", arg);
            fprintf (stderr, "Try 'zexec-broker --help'.\n");
            return 2;
        }
    }
    if (bind_count == 0) {
        fprintf (stderr, "zexec-broker: say where to listen with --bind ENDPOINT\n"
                         "Try 'zexec-broker --help'.\n");
        return 2;
    }
    bool curve = cert_path || clients_dir || workers_dir;
    if (curve && !(cert_path && clients_dir && workers_dir)) {
        fprintf (stderr, "zexec-broker: CURVE needs --cert, --clients and --workers together "
                         "(missing %s)\nTry 'zexec-broker --help'.\n",
                 !cert_path ? "--cert" : !clients_dir ? "--clients" : "--workers");
        return 2;
    }
    zx_log_basic_config (level, "%(asctime)s zexec-broker %(levelname)s: %(message)s");
    self->log = zx_log_get ("zexec.broker");
    //  Fail closed: whatever CURVE needs must be there before any bind
    zcert_t *cert = NULL;
    if (curve) {
        char why [600] = "";
        if (!zx__curve_usable (why, sizeof why)
        ||  !(cert = zx__curve_load_secret (cert_path, why, sizeof why))
        ||  !(self->auth = zx__auth_new (clients_dir, workers_dir, self->log, why, sizeof why))) {
            fprintf (stderr, "zexec-broker: cannot enforce CURVE, refusing to start: %s\n", why);
            zcert_destroy (&cert);
            return 1;
        }
        self->worker_keys = zhashx_new ();
        zhashx_set_destructor (self->worker_keys, s_worker_key_free);
    }
    //  SIGINT and SIGTERM arrive through a signalfd in the loop
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigprocmask (SIG_BLOCK, &signals, NULL);
    int signal_fd = signalfd (-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    self->signal_fd = signal_fd;

    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router || signal_fd < 0) {
        fprintf (stderr, "zexec-broker: cannot create its sockets: %s\n", strerror (errno));
        zcert_destroy (&cert);
        zx__auth_destroy (&self->auth);
        return 1;
    }
    self->socket = zsock_resolve (self->router);
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_sndhwm (self->router, 0);
    zsock_set_handshake_ivl (self->router, self->handshake_ms);
    zmq_setsockopt (self->socket, ZMQ_MAXMSGSIZE, &self->max_frame_bytes,
                    sizeof self->max_frame_bytes);
    if (curve) {
        zsock_set_zap_domain (self->router, ZX_AUTH_DOMAIN);
        zcert_apply (cert, self->router);
        zsock_set_curve_server (self->router, 1);
        //  A draft option where libzmq has it: no ZAP handler, no handshake
        int one = 1;
        zmq_setsockopt (self->socket, 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &one, sizeof one);
    }
    for (size_t i = 0; i < bind_count; i++) {
        if (zsock_bind (self->router, "%s", binds [i]) < 0) {
            fprintf (stderr, "zexec-broker: cannot bind %s: %s\n", binds [i], zmq_strerror (errno));
            zsock_destroy (&self->router);
            zcert_destroy (&cert);
            zx__auth_destroy (&self->auth);
            return 1;
        }
        //  A wildcard (tcp://127.0.0.1:*) became a real address: say which
        //  zsock_last_endpoint's string is ours to free
        char *last = zsock_last_endpoint (self->router);
        const char *bound = last ? last : binds [i];
        fprintf (stderr, "zexec-broker: listening on %s\n", bound);
        if (endpoint_file) {
            if (i == 0)
                endpoints = zlistx_new ();
            zlistx_add_end (endpoints, strdup (bound));
        }
        if (curve)
            fprintf (stderr, "zexec-broker: CURVE on %s: server key %s; %zu coordinator and "
                     "%zu worker keys allowed\n", bound, zcert_public_txt (cert),
                     zx__auth_count (self->auth, ZX_ROLE_CLIENT),
                     zx__auth_count (self->auth, ZX_ROLE_WORKER));
        else
        if (strncmp (binds [i], "tcp://", 6) == 0)
            fprintf (stderr, "zexec-broker: WARNING: no authentication on %s: anyone who can "
                             "reach it can submit work and run it as a worker\n", bound);
        zstr_free (&last);
    }
    if (endpoint_file && !s_write_endpoints (endpoint_file, endpoints)) {
        fprintf (stderr, "zexec-broker: cannot write %s: %s\n", endpoint_file, strerror (errno));
        zsock_destroy (&self->router);
        zcert_destroy (&cert);
        zx__auth_destroy (&self->auth);
        return 1;
    }
    if (endpoints) {
        for (char *item = zlistx_first (endpoints); item; item = zlistx_next (endpoints))
            free (item);
        zlistx_destroy (&endpoints);
    }
    self->worker_service = zhashx_new ();
    self->clients = zhashx_new ();
    self->loop = zx_loop_new ();
    zx__loop_add_socket (self->loop, self->socket, s_on_readable, self);
    zx__loop_add_fd (self->loop, signal_fd, s_on_signal, self);
    if (self->auth) {
        zx__loop_add_socket (self->loop, zx__auth_socket (self->auth), s_on_zap, self);
        zx_loop_call_later (self->loop, ZX_RESCAN_MS, s_on_auth_tick, self);
    }
    zcert_destroy (&cert);
    zx_loop_call_later (self->loop, self->heartbeat_ms, s_on_tick, self);
    zx_loop_run_forever (self->loop);

    //  Shutting down: coordinators hear that their tasks will not finish
    //  here, workers are dismissed, then the last messages go out
    fprintf (stderr, "zexec-broker: shutting down\n");
    s_client_t *client;
    while ((client = zhashx_first (self->clients))) {
        for (s_ticket_t *ticket = client->tickets; ticket; ticket = ticket->next)
            s_client_reply (self, client, ticket->corr, ticket->attempt, ZX_ESHUTDOWN,
                            "broker shut down before the task finished", 41);
        s_client_flush (self, client);
        uint8_t bye = ZX_BYE_NORMAL;
        s_send_client (self, client, ZX_CMD_DISCONNECT, &bye, 1);
        //  Their tickets are answered: forget them without cancelling twice
        while (client->tickets) {
            s_ticket_t *ticket = client->tickets;
            s_ticket_unlink (ticket);
        }
        zhashx_delete (self->clients, client->label);
        zx__idmap_free (&client->by_corr);
        zx__batch_free (&client->replies);
        free (client);
    }
    for (size_t i = 0; i < self->service_count; i++) {
        zx__dispatch_disconnect_all (self->services [i]->dispatch);
        zx__dispatch_destroy (&self->services [i]->dispatch);
        free (self->services [i]);
    }
    free (self->services);
    zsock_set_linger (self->router, 1000);
    zsock_destroy (&self->router);
    zhashx_destroy (&self->worker_service);
    zhashx_destroy (&self->worker_keys);
    zhashx_destroy (&self->clients);
    if (self->auth)
        zx__loop_remove (self->loop, zx__auth_socket (self->auth), -1);
    zx__auth_destroy (&self->auth);
    zx_loop_destroy (&self->loop);
    close (signal_fd);
    return 0;
}
