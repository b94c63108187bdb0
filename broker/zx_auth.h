/*  zx_auth.h - internal: the broker's allow-lists and its ZAP handler.

    A broker with CURVE knows two directories of czmq certificates: the
    coordinators (clients) that may submit work and the workers that may
    serve it. Its own ZAP handler (ZeroMQ RFC 27) accepts a CURVE
    handshake only from a key listed in one of them and sets the
    connection's User-Id to that key in Z85; the broker then asks, for
    every message, which roles that key holds now. The directories are
    read again whenever they change, so a key removed from them loses its
    role within a second or so.                                          */
#ifndef ZX_AUTH_H_INCLUDED
#define ZX_AUTH_H_INCLUDED
#include "zexec.h"
#include "zx_curve.h"

typedef struct zx__auth zx__auth_t;

//  The roles a key may hold, as bits.
#define ZX_ROLE_CLIENT  1
#define ZX_ROLE_WORKER  2

//  The ZAP domain the broker's ROUTER sets, and the handler insists on.
#define ZX_AUTH_DOMAIN  "zexec"

//  Loads the allow-lists in clients_dir and workers_dir and binds the ZAP
//  handler in czmq's context (call before the ROUTER binds). Returns NULL
//  with the reason in why when a directory cannot be read or the handler
//  cannot be bound (another authenticator in the process). Certificates
//  that do not load, or whose metadata is over ZX_CURVE_MAX_META octets,
//  are skipped with a warning on log. Caller destroys it.
zx__auth_t *zx__auth_new (const char *clients_dir, const char *workers_dir, zx_logger_t *log,
                          char *why, size_t size);

//  Unbinds the handler and frees everything; accepts NULL and nulls it.
void zx__auth_destroy (zx__auth_t **self_p);

//  The handler's libzmq socket, to poll for readability.
void *zx__auth_socket (zx__auth_t *self);

//  Answers every ZAP request waiting on the handler's socket.
void zx__auth_handle (zx__auth_t *self);

//  Reads the directories again when anything in them changed (a file
//  added, removed, renamed or rewritten). A directory that can no longer
//  be read counts as empty: its keys lose their role. Returns true when
//  the keys of either list changed.
bool zx__auth_rescan (zx__auth_t *self);

//  The roles (ZX_ROLE_* bits) that key (Z85, as a message's User-Id
//  gives it; NULL allowed) holds now; 0 for an unknown key.
int zx__auth_role (zx__auth_t *self, const char *key);

//  How many keys each list holds now.
size_t zx__auth_count (zx__auth_t *self, int role);

#endif
