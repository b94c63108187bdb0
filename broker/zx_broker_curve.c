/*  zx_broker_curve.c - the broker's CURVE enforcement: roles per message,
    allow-lists that change.

    DESIGN: with CURVE, zx_auth answers the ZAP handshakes and every
    message is checked against the roles its key (the User-Id libzmq
    attaches to each frame) holds now: a worker face message needs a
    worker's key, a client face message a coordinator's, and a routing id
    stays with the key that first used it. Checking each message, not
    each connection, is what lets an allow-list change take effect at
    once: when one changes, peers whose key lost its role are sent
    DISCONNECT (workers) or their tasks' failures (coordinators) and
    forgotten, and whatever they send later fails the check. Without
    CURVE every function here lets everything through.                   */

#define _GNU_SOURCE
#include "zx_broker_int.h"
#include "zx_curve.h"
#include "zx_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZX_RESCAN_MS     1000       //  How often the allow-lists are checked

//  Tells a worker it may not serve: DISCONNECT PROTOCOL with text, cut to
//  127 octets.
static void
s_send_worker_bye (zx_broker_t *self, const void *identity, size_t identity_size,
                   const char *text)
{
    char cut [128];
    snprintf (cut, sizeof cut, "%s", text);
    zx__route_t route = zx__broker_route (self, ZX_FACE_WORKER, identity, identity_size);
    zx__send_disconnect (&route, ZX_BYE_PROTOCOL, cut);
}

//  A REQUEST from a key that may not submit work: every record in it is
//  answered with an error, and nothing is queued or remembered.
static void
s_refuse_request (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    ZX__BROKER_WARN (self, label, "role", "REQUEST from %s, whose key is not a "
                     "coordinator's: refused", label);
    zx__broker_refuse_records (self, msg, ZX_STATUS_TASK_ERROR,
                               "permission denied: this key is not in the broker's "
                               "coordinators' allow-list");
}

//  The worker face half of zx__broker_allowed.
static bool
s_allowed_worker (zx_broker_t *self, const zx__msg_t *msg, const char *key, int role,
                  const char *label)
{
    if (role & ZX_ROLE_WORKER) {
        zx__bworker_key_t *known = zhashx_lookup (self->worker_keys, label);
        if (!known || streq (known->key, key))
            return true;
        ZX__BROKER_WARN (self, label, "key", "worker routing id %s used by key %s, not its own: "
                        "dropped", label, key);
        return false;
    }
    if (msg->command == ZX_CMD_READY) {
        ZX__BROKER_WARN (self, label, "role", "READY from %s, whose key %s is not a worker's: "
                        "disconnected", label, key);
        s_send_worker_bye (self, msg->identity, msg->identity_size,
                           "this key may not serve as a worker");
    }
    else
    if (msg->command != ZX_CMD_HEARTBEAT && msg->command != ZX_CMD_DISCONNECT)
        ZX__BROKER_WARN (self, label, "role", "worker command %d from %s, whose key %s is not a "
                        "worker's: dropped", msg->command, label, key);
    return false;
}

//  The client face half of zx__broker_allowed.
static bool
s_allowed_client (zx_broker_t *self, const zx__msg_t *msg, const char *key, int role,
                  const char *label)
{
    if (role & ZX_ROLE_CLIENT) {
        zx__bclient_t *client = zhashx_lookup (self->clients, label);
        if (!client || streq (client->key, key))
            return true;
        ZX__BROKER_WARN (self, label, "key", "coordinator routing id %s used by key %s, not its "
                         "own: "
                        "dropped", label, key);
        return false;
    }
    //  A worker's key is told why; a key no list holds (any more) is not
    if ((role & ZX_ROLE_WORKER) && msg->command == ZX_CMD_REQUEST)
        s_refuse_request (self, msg, label);
    else
    if (msg->command != ZX_CMD_HEARTBEAT && msg->command != ZX_CMD_DISCONNECT)
        ZX__BROKER_WARN (self, label, "role", "coordinator command %d from %s, whose key %s is "
                         "not a "
                        "coordinator's: dropped", msg->command, label, key);
    return false;
}

bool
zx__broker_allowed (zx_broker_t *self, const zx__msg_t *msg, const char *label)
{
    if (!self->auth)
        return true;
    const char *key = zx__msg_gets (msg, "User-Id");
    if (!key) {
        //  CURVE without our ZAP handler's answer: never expected
        zx_log_error (self->log, "message from %s without an authenticated key: dropped", label);
        return false;
    }
    int role = zx__auth_role (self->auth, key);
    return msg->face == ZX_FACE_WORKER ? s_allowed_worker (self, msg, key, role, label)
                                       : s_allowed_client (self, msg, key, role, label);
}

//  --------------------------------------------------------------------
//  Allow-lists that change

//  Coordinators whose key lost its role: their tasks fail, they are told
//  and forgotten.
static void
s_enforce_clients (zx_broker_t *self)
{
    zlistx_t *gone = zlistx_new ();
    for (zx__bclient_t *client = zhashx_first (self->clients); client;
         client = zhashx_next (self->clients))
        if (!(zx__auth_role (self->auth, client->key) & ZX_ROLE_CLIENT))
            zlistx_add_end (gone, client);
    for (zx__bclient_t *client = zlistx_first (gone); client; client = zlistx_next (gone)) {
        uint8_t identity [256];
        size_t identity_size = client->identity_size;
        memcpy (identity, client->identity, identity_size);
        zx_log_warning (self->log, "coordinator %s: key %s removed from the allow-list: "
                        "disconnected", client->label, client->key);
        zx__broker_client_drop_told (self, client, "its key was removed from the allow-list",
                                     false);
        zx__route_t route = zx__broker_route (self, ZX_FACE_CLIENT, identity, identity_size);
        zx__send_disconnect (&route, ZX_BYE_PROTOCOL, NULL);
    }
    zlistx_destroy (&gone);
}

//  Workers whose key lost its role: told, and forgotten by their
//  dispatcher as if they had said goodbye.
static void
s_enforce_workers (zx_broker_t *self)
{
    zlistx_t *gone = zlistx_new ();
    for (zx__bworker_key_t *known = zhashx_first (self->worker_keys); known;
         known = zhashx_next (self->worker_keys))
        if (!(zx__auth_role (self->auth, known->key) & ZX_ROLE_WORKER))
            zlistx_add_end (gone, known);
    for (zx__bworker_key_t *known = zlistx_first (gone); known; known = zlistx_next (gone)) {
        //  A copy: the worker event below frees known
        uint8_t identity [256];
        size_t identity_size = known->identity_size;
        memcpy (identity, known->identity, identity_size);
        char label [ZX_LABEL_SIZE];
        zx__label (label, sizeof label, identity, identity_size);
        zx_log_warning (self->log, "worker %s: key %s removed from the allow-list: "
                        "disconnected", label, known->key);
        const char *text = "its key was removed from the allow-list";
        s_send_worker_bye (self, identity, identity_size, text);
        //  Its dispatcher forgets it as if it had said goodbye: what it
        //  held is retried or fails, and the worker event unmaps it
        zx__bservice_t *service = zhashx_lookup (self->worker_service, label);
        if (service)
            zx__dispatch_worker_left (service->dispatch, identity, identity_size,
                                      ZX_BYE_PROTOCOL, text);
        zhashx_delete (self->worker_service, label);
        zhashx_delete (self->worker_keys, label);       //  Frees known
    }
    zlistx_destroy (&gone);
}

static void
s_on_zap (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_broker_t *self = (zx_broker_t *) arg;
    zx__auth_handle (self->auth);
}

static void
s_on_auth_tick (zx_loop_t *loop, void *arg)
{
    zx_broker_t *self = (zx_broker_t *) arg;
    self->auth_timer = 0;
    if (zx__auth_rescan (self->auth)) {
        s_enforce_clients (self);
        s_enforce_workers (self);
        zx__broker_flush_all (self);
    }
    self->auth_timer = zx_loop_call_later (loop, ZX_RESCAN_MS, s_on_auth_tick, self);
}

//  --------------------------------------------------------------------
//  Workers' keys

static void
s_worker_key_free (void **item)
{
    free (*item);
    *item = NULL;
}

void
zx__broker_worker_key_add (zx_broker_t *self, const char *label, const zx__msg_t *msg)
{
    if (!self->auth)
        return;
    zx__bworker_key_t *known = calloc (1, sizeof (zx__bworker_key_t));
    const char *key = zx__msg_gets (msg, "User-Id");
    if (known && key) {
        snprintf (known->key, sizeof known->key, "%s", key);
        known->identity_size = msg->identity_size;
        memcpy (known->identity, msg->identity, known->identity_size);
        zhashx_update (self->worker_keys, label, known);
    }
    else
        free (known);
}

void
zx__broker_worker_key_forget (zx_broker_t *self, const char *label)
{
    if (self->worker_keys)
        zhashx_delete (self->worker_keys, label);
}

//  --------------------------------------------------------------------
//  Start and stop

bool
zx__broker_curve_start (zx_broker_t *self, const zx_broker_opts_t *opts, char *why,
                        size_t size)
{
    char reason [600] = "";
    if (!zx__curve_usable (reason, sizeof reason)
    ||  !(self->cert = zx__curve_load_secret (opts->curve_cert, reason, sizeof reason))
    ||  !(self->auth = zx__auth_new (opts->curve_clients_dir, opts->curve_workers_dir,
                                     self->log, reason, sizeof reason))) {
        if (why && size)
            snprintf (why, size, "cannot enforce CURVE, refusing to start: %s", reason);
        return false;
    }
    self->worker_keys = zhashx_new ();
    if (!self->worker_keys) {
        if (why && size)
            snprintf (why, size, "out of memory");
        return false;
    }
    zhashx_set_destructor (self->worker_keys, s_worker_key_free);
    return true;
}

void
zx__broker_curve_stop (zx_broker_t *self)
{
    zhashx_destroy (&self->worker_keys);
    zx__auth_destroy (&self->auth);
    zcert_destroy (&self->cert);
}

zx_err_t
zx__broker_curve_attach (zx_broker_t *self, zx_loop_t *loop)
{
    if (!self->auth)
        return ZX_OK;
    if (zx__loop_add_socket (loop, zx__auth_socket (self->auth), s_on_zap, self) != ZX_OK)
        return ZX_ENOMEM;
    self->auth_timer = zx_loop_call_later (loop, ZX_RESCAN_MS, s_on_auth_tick, self);
    if (!self->auth_timer) {
        zx__loop_remove (loop, zx__auth_socket (self->auth), -1);
        return ZX_ENOMEM;
    }
    return ZX_OK;
}

void
zx__broker_curve_detach (zx_broker_t *self)
{
    if (!self->auth || !self->loop)
        return;
    if (self->auth_timer)
        zx_loop_cancel_timer (self->loop, self->auth_timer);
    self->auth_timer = 0;
    zx__loop_remove (self->loop, zx__auth_socket (self->auth), -1);
}

size_t
zx__broker_allowed_keys (const zx_broker_t *self, int role)
{
    return self->auth ? zx__auth_count (self->auth, role) : 0;
}
