/*  zx_broker_names.c - the broker's table of actor names.

    DESIGN: named actors need one place every coordinator of a broker can
    ask, and the broker is that place. A coordinator whose named actor was
    placed registers the name with where the actor lives (serving worker,
    actor id, type, pid); another looks it up and sends the actor's
    messages to that worker by target (PROTOCOL.md 13.7, 13.8). Both are
    request records with reserved task names ("zx.name.*") that the broker
    answers itself, at once, without a dispatcher. A name belongs to the
    coordinator that registered it (its restarts register it again); it
    goes when that coordinator says so, or when its serving worker leaves
    the broker.                                                           */
#include "zx_broker_int.h"
#include "zx_values.h"
#include "zx_actor_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char owner [ZX_LABEL_SIZE];     //  The coordinator that registered it
    char worker [256];              //  The serving worker hosting the actor
    zx_values_t *where;             //  [worker, actor id, type, pid]
} s_name_t;

static void
s_name_free (void **item_p)
{
    s_name_t *name = (s_name_t *) *item_p;
    if (name) {
        zx_values_destroy (&name->where);
        free (name);
    }
    *item_p = NULL;
}

static void
s_reply (zx_broker_t *self, zx__bclient_t *client, const zx__request_rec_t *rec, zx_err_t code,
         const zx_values_t *values, const char *text)
{
    size_t size = 0;
    const void *payload = "";
    zx_values_t *empty = NULL;
    if (code == ZX_OK) {
        if (!values)
            values = empty = zx_values_new ();
        if (values)
            payload = zx__values_data (values, &size);
    }
    else {
        payload = text;
        size = strlen (text);
    }
    zx__broker_client_reply (self, client, rec->corr, rec->attempt, code, payload, size);
    zx_values_destroy (&empty);
}

bool
zx__broker_names_handle (zx_broker_t *self, zx__bclient_t *client, const char *task,
                         const zx__request_rec_t *rec)
{
    if (strncmp (task, "zx.name.", 8) != 0)
        return false;
    if (!self->names) {
        self->names = zhashx_new ();
        if (!self->names) {
            s_reply (self, client, rec, ZX_ENOMEM, NULL, "broker out of memory");
            return true;
        }
        zhashx_set_destructor (self->names, s_name_free);
    }
    zx_values_t *args = NULL;
    const char *key = NULL, *worker = NULL, *actor = NULL, *type = NULL;
    int64_t pid = 0;
    char text [700];
    bool ok = zx__values_decode (rec->args, rec->args_size, &args) == ZX_OK
           && zx_values_get_str (args, 0, &key) == ZX_OK && key [0] && strlen (key) <= 200;
    if (ok && strcmp (task, ZX__NAME_REGISTER) == 0) {
        if (zx_values_get_str (args, 1, &worker) != ZX_OK
        ||  zx_values_get_str (args, 2, &actor) != ZX_OK
        ||  zx_values_get_str (args, 3, &type) != ZX_OK
        ||  zx_values_get_int (args, 4, &pid) != ZX_OK || strlen (worker) > 255)
            s_reply (self, client, rec, ZX_EPROTO, NULL,
                     "malformed name registration: [name, worker, actor, type, pid]");
        else {
            s_name_t *old = (s_name_t *) zhashx_lookup (self->names, key);
            if (old && strcmp (old->owner, client->label) != 0) {
                snprintf (text, sizeof text, "actor name '%s' is taken (by an actor on "
                          "worker %s)", key, old->worker);
                s_reply (self, client, rec, ZX_EINVAL, NULL, text);
            }
            else
            if (!old && zhashx_size (self->names) >= ZX__BROKER_MAX_NAMES) {
                snprintf (text, sizeof text, "too many actor names at this broker (%d)",
                          ZX__BROKER_MAX_NAMES);
                s_reply (self, client, rec, ZX_EQUEUE_FULL, NULL, text);
            }
            else {
                s_name_t *name = calloc (1, sizeof (s_name_t));
                if (name)
                    name->where = zx_values_pack ("sssi", worker, actor, type, pid);
                if (!name || !name->where) {
                    void *item = name;
                    s_name_free (&item);
                    s_reply (self, client, rec, ZX_ENOMEM, NULL, "broker out of memory");
                }
                else {
                    snprintf (name->owner, sizeof name->owner, "%s", client->label);
                    snprintf (name->worker, sizeof name->worker, "%s", worker);
                    zhashx_update (self->names, key, name);
                    zx_log_info (self->log, "actor name '%s' registered: actor %s on worker %s",
                                 key, actor, worker);
                    s_reply (self, client, rec, ZX_OK, NULL, NULL);
                }
            }
        }
    }
    else
    if (ok && strcmp (task, ZX__NAME_LOOKUP) == 0) {
        s_name_t *name = (s_name_t *) zhashx_lookup (self->names, key);
        if (name)
            s_reply (self, client, rec, ZX_OK, name->where, NULL);
        else {
            snprintf (text, sizeof text, "no actor is registered under the name '%s' at "
                      "this broker", key);
            s_reply (self, client, rec, ZX_EINVAL, NULL, text);
        }
    }
    else
    if (ok && strcmp (task, ZX__NAME_UNREGISTER) == 0) {
        s_name_t *name = (s_name_t *) zhashx_lookup (self->names, key);
        if (name && strcmp (name->owner, client->label) == 0)
            zhashx_delete (self->names, key);
        s_reply (self, client, rec, ZX_OK, NULL, NULL);
    }
    else {
        snprintf (text, sizeof text, "malformed or unknown name request '%.200s'", task);
        s_reply (self, client, rec, ZX_EPROTO, NULL, text);
    }
    zx_values_destroy (&args);
    return true;
}

void
zx__broker_names_worker_gone (zx_broker_t *self, const char *identity)
{
    if (!self->names)
        return;
    //  Collect first: a zhashx is not changed while it is walked
    zlistx_t *keys = zhashx_keys (self->names);
    if (!keys)
        return;
    for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        s_name_t *name = (s_name_t *) zhashx_lookup (self->names, key);
        if (name && strcmp (name->worker, identity) == 0) {
            zx_log_info (self->log, "actor name '%s' dropped: its worker %s left", key,
                         identity);
            zhashx_delete (self->names, key);
        }
    }
    zlistx_destroy (&keys);
}
