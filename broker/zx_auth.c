/*  zx_auth.c - the broker's allow-lists and its ZAP handler.

    DESIGN: czmq's zauth takes one CURVE directory per actor and turns
    certificate metadata into ZAP metadata through a fixed 512-octet
    buffer. The broker needs two lists (coordinators, workers) and a role
    per key, so it answers ZAP itself: a REP socket bound to
    inproc://zeromq.zap.01 in czmq's context, read by the broker's own
    loop (libzmq waits for ZAP replies without blocking its I/O thread).
    It still uses czmq's certificates (zcert_load) for the lists. The
    reply's User-Id is the key itself; the role is looked up for every
    message instead of fixed at the handshake, so a key removed from a
    list loses its role at the next rescan even on a live connection.
    A rescan is cheap when nothing changed: the directory's entries are
    stat'ed and compared with a fingerprint of the last read.           */

#define _GNU_SOURCE
#include "zx_auth.h"
#include "zx_loop.h"
#include "zx_proto.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ZX_ZAP_ENDPOINT     "inproc://zeromq.zap.01"
#define ZX_REFUSED_MEMORY   1024        //  Refused keys remembered for quiet logs

typedef struct {
    char *dir;
    const char *what;                   //  "coordinators" or "workers"
    zhashx_t *keys;                     //  Z85 key -> its certificate's file name
    uint64_t fingerprint;
    bool readable;
} s_list_t;

struct zx__auth {
    zsock_t *handler;
    s_list_t lists [2];                 //  [0] coordinators, [1] workers
    zhashx_t *refused;                  //  key -> last time its refusal was logged
    zx_logger_t *log;
};

//  --------------------------------------------------------------------
//  The allow-lists

static bool
s_skip_name (const char *name)
{
    size_t length = strlen (name);
    return name [0] == '.' || (length > 7 && streq (name + length - 7, "_secret"));
}

static uint64_t
s_mix (uint64_t hash, uint64_t value)
{
    hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
    return hash * 0xff51afd7ed558ccdULL;
}

//  A fingerprint of what the directory holds: names, sizes, mtimes,
//  inodes. Returns false when it cannot be read.
static bool
s_fingerprint (const char *path, uint64_t *fingerprint)
{
    DIR *dir = opendir (path);
    if (!dir)
        return false;
    uint64_t total = 0;
    struct dirent *entry;
    char file [4096];
    while ((entry = readdir (dir))) {
        if (s_skip_name (entry->d_name))
            continue;
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        struct stat info;
        uint64_t hash = 1469598103934665603ULL;
        for (const char *at = entry->d_name; *at; at++)
            hash = (hash ^ (uint8_t) *at) * 1099511628211ULL;
        if (stat (file, &info) == 0) {
            hash = s_mix (hash, (uint64_t) info.st_size);
            hash = s_mix (hash, (uint64_t) info.st_ino);
            hash = s_mix (hash, (uint64_t) info.st_mtim.tv_sec * 1000000000ULL
                                + (uint64_t) info.st_mtim.tv_nsec);
            hash = s_mix (hash, (uint64_t) info.st_mode);
        }
        total += hash;                  //  Order-free: readdir's order may change
    }
    closedir (dir);
    *fingerprint = s_mix (total, 1);
    return true;
}

//  Reads every certificate in list's directory into a fresh key table.
//  Returns false (and leaves the list alone) when the directory cannot
//  be opened.
static bool
s_load (zx__auth_t *self, s_list_t *list, char *why, size_t size)
{
    DIR *dir = opendir (list->dir);
    if (!dir) {
        snprintf (why, size, "cannot read the %s' allow-list directory %s: %s", list->what,
                  list->dir, strerror (errno));
        return false;
    }
    zhashx_t *keys = zhashx_new ();
    zhashx_set_destructor (keys, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (keys, (zhashx_duplicator_fn *) strdup);
    struct dirent *entry;
    char file [4096];
    while ((entry = readdir (dir))) {
        if (s_skip_name (entry->d_name))
            continue;
        snprintf (file, sizeof file, "%s/%s", list->dir, entry->d_name);
        struct stat info;
        if (stat (file, &info) != 0 || !S_ISREG (info.st_mode))
            continue;
        if (info.st_size > 64 * 1024) {
            zx_log_warning (self->log, "%s: over 64 KiB, not a certificate: skipped", file);
            continue;
        }
        zcert_t *cert = zcert_load (file);
        if (!cert || streq (zcert_public_txt (cert), "0000000000000000000000000000000000000000"))
            zx_log_warning (self->log, "%s: not a readable certificate: skipped", file);
        else
        if (zx__curve_meta_size (cert) > ZX_CURVE_MAX_META)
            zx_log_warning (self->log, "%s: certificate metadata over %d bytes: skipped "
                            "(czmq's authenticator overflows on it)", file, ZX_CURVE_MAX_META);
        else
            zhashx_update (keys, zcert_public_txt (cert), entry->d_name);
        zcert_destroy (&cert);
    }
    closedir (dir);
    zhashx_destroy (&list->keys);
    list->keys = keys;
    return true;
}

static void
s_list_init (s_list_t *list, const char *dir, const char *what)
{
    list->dir = strdup (dir);
    list->what = what;
    list->keys = zhashx_new ();
}

zx__auth_t *
zx__auth_new (const char *clients_dir, const char *workers_dir, zx_logger_t *log,
              char *why, size_t size)
{
    zx__auth_t *self = calloc (1, sizeof (zx__auth_t));
    if (!self) {
        snprintf (why, size, "out of memory");
        return NULL;
    }
    self->log = log;
    s_list_init (&self->lists [0], clients_dir, "coordinators");
    s_list_init (&self->lists [1], workers_dir, "workers");
    self->refused = zhashx_new ();
    zhashx_set_destructor (self->refused, (zhashx_destructor_fn *) zstr_free);
    for (int i = 0; i < 2; i++) {
        s_list_t *list = &self->lists [i];
        if (!list->dir || !s_fingerprint (list->dir, &list->fingerprint)
        ||  !s_load (self, list, why, size)) {
            if (list->dir && !*why)
                snprintf (why, size, "cannot read the %s' allow-list directory %s: %s",
                          list->what, list->dir, strerror (errno));
            goto fail;
        }
        list->readable = true;
    }
    self->handler = zsock_new (ZMQ_REP);
    if (!self->handler) {
        snprintf (why, size, "cannot create the ZAP handler's socket: %s", zmq_strerror (errno));
        goto fail;
    }
    if (zsock_bind (self->handler, ZX_ZAP_ENDPOINT) != 0) {
        snprintf (why, size, "cannot bind the ZAP handler at %s (%s): another authenticator "
                  "in this process?", ZX_ZAP_ENDPOINT, zmq_strerror (errno));
        goto fail;
    }
    return self;

fail:
    zx__auth_destroy (&self);
    return NULL;
}

void
zx__auth_destroy (zx__auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__auth_t *self = *self_p;
    //  Closing alone frees the endpoint only once libzmq's reaper gets to
    //  it: unbinding frees it now, so another handler can bind at once
    if (self->handler)
        zsock_unbind (self->handler, ZX_ZAP_ENDPOINT);
    zsock_destroy (&self->handler);
    for (int i = 0; i < 2; i++) {
        zhashx_destroy (&self->lists [i].keys);
        free (self->lists [i].dir);
    }
    zhashx_destroy (&self->refused);
    free (self);
    *self_p = NULL;
}

void *
zx__auth_socket (zx__auth_t *self)
{
    return zsock_resolve (self->handler);
}

bool
zx__auth_rescan (zx__auth_t *self)
{
    bool changed = false;
    for (int i = 0; i < 2; i++) {
        s_list_t *list = &self->lists [i];
        uint64_t fingerprint = 0;
        if (!s_fingerprint (list->dir, &fingerprint)) {
            if (list->readable) {
                zx_log_error (self->log, "cannot read the %s' allow-list directory %s any "
                              "more (%s): all %zu of its keys refused until it can be read",
                              list->what, list->dir, strerror (errno), zhashx_size (list->keys));
                list->readable = false;
                changed |= zhashx_size (list->keys) > 0;
                zhashx_purge (list->keys);
            }
            continue;
        }
        if (list->readable && fingerprint == list->fingerprint)
            continue;
        size_t before = zhashx_size (list->keys);
        char why [512] = "";
        if (!s_load (self, list, why, sizeof why)) {
            zx_log_error (self->log, "%s", why);
            continue;
        }
        list->readable = true;
        list->fingerprint = fingerprint;
        changed = true;
        zx_log_info (self->log, "the %s' allow-list %s changed: %zu keys (were %zu)",
                     list->what, list->dir, zhashx_size (list->keys), before);
    }
    return changed;
}

int
zx__auth_role (zx__auth_t *self, const char *key)
{
    if (!key || strlen (key) != ZX_CURVE_KEY_LEN)
        return 0;
    return (zhashx_lookup (self->lists [0].keys, key) ? ZX_ROLE_CLIENT : 0)
         | (zhashx_lookup (self->lists [1].keys, key) ? ZX_ROLE_WORKER : 0);
}

size_t
zx__auth_count (zx__auth_t *self, int role)
{
    return zhashx_size (self->lists [role == ZX_ROLE_CLIENT ? 0 : 1].keys);
}

//  --------------------------------------------------------------------
//  ZAP (RFC 27)

static bool
s_frame_is (zmq_msg_t *frame, const char *text)
{
    return zmq_msg_size (frame) == strlen (text)
        && memcmp (zmq_msg_data (frame), text, strlen (text)) == 0;
}

//  Logs a refusal, at most once a minute per key.
static void
s_log_refusal (zx__auth_t *self, const char *key, const char *address, const char *why)
{
    int64_t now = zx__now_us ();
    int64_t *last = zhashx_lookup (self->refused, key);
    if (last && now - *last < 60 * 1000000LL)
        return;
    if (!last && zhashx_size (self->refused) >= ZX_REFUSED_MEMORY)
        zhashx_purge (self->refused);
    if (!last) {
        last = malloc (sizeof *last);
        if (!last)
            return;
        zhashx_insert (self->refused, key, last);
    }
    *last = now;
    zx_log_warning (self->log, "refused a CURVE handshake from %s with key %s: %s",
                    address, key, why);
}

void
zx__auth_handle (zx__auth_t *self)
{
    void *socket = zsock_resolve (self->handler);
    zmq_msg_t frames [8];
    for (int burst = 0; burst < 1024; burst++) {
        bool overflow;
        size_t count = zx__recv_message (socket, frames, 8, &overflow);
        if (count == 0)
            break;
        //  Request: version, id, domain, address, routing id, mechanism,
        //  credentials (the client's 32-octet public key for CURVE)
        const char *status = "400", *text = "refused";
        char key [ZX_CURVE_KEY_LEN + 1] = "";
        char address [64] = "?";
        if (!overflow && count >= 6) {
            size_t size = zmq_msg_size (&frames [3]);
            if (size >= sizeof address)
                size = sizeof address - 1;
            memcpy (address, zmq_msg_data (&frames [3]), size);
            address [size] = 0;
        }
        if (overflow || count < 6 || !s_frame_is (&frames [0], "1.0"))
            text = "malformed ZAP request";
        else
        if (!s_frame_is (&frames [2], ZX_AUTH_DOMAIN))
            text = "wrong ZAP domain";
        else
        if (!s_frame_is (&frames [5], "CURVE") || count != 7 || zmq_msg_size (&frames [6]) != 32)
            text = "only CURVE is accepted";
        else {
            zmq_z85_encode (key, zmq_msg_data (&frames [6]), 32);
            if (zx__auth_role (self, key)) {
                status = "200";
                text = "OK";
            }
            else {
                text = "key not in the allow-lists";
                s_log_refusal (self, key, address, text);
            }
        }
        if (!streq (status, "200") && !key [0])
            zx_log_warning (self->log, "refused a handshake from %s: %s", address, text);
        //  Reply: version, id, status, text, User-Id, metadata (none)
        const void *reply [6] = { "1.0", "", status, text, streq (status, "200") ? key : "", "" };
        size_t sizes [6] = { 3, 0, 3, strlen (text), streq (status, "200") ? strlen (key) : 0, 0 };
        if (!overflow && count >= 2) {
            reply [1] = zmq_msg_data (&frames [1]);
            sizes [1] = zmq_msg_size (&frames [1]);
        }
        if (zx__send_frames (socket, reply, sizes, 6, 0) != ZX_OK)
            zx_log_error (self->log, "cannot answer a ZAP request: %s", zmq_strerror (errno));
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
}
