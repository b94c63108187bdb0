/*  zx_curve.h - internal: CURVE keys and certificates for zexec peers.

    Every peer of a broker over tcp may use CURVE (ZeroMQ RFC 26): the
    broker is a CURVE server with its own certificate, coordinators and
    workers are CURVE clients with theirs and the broker's public key.
    Certificates are czmq's (zcert): a public file NAME and a secret file
    NAME_secret beside it. These helpers load them, refuse what cannot be
    enforced (a libzmq without CURVE or older than 4.3.3, a missing or
    unreadable secret key) and say why in a caller's buffer.              */
#ifndef ZX_CURVE_H_INCLUDED
#define ZX_CURVE_H_INCLUDED
#include "zexec.h"
#include <czmq.h>

//  A Z85 key is 40 characters (32 octets).
#define ZX_CURVE_KEY_LEN    40
//  Largest certificate metadata accepted, in its ZMTP encoding (name
//  length octet, name, value length uint32, value, per property): czmq
//  4.2.1's authenticator overflows a 512-octet buffer past about this.
#define ZX_CURVE_MAX_META   400

//  Returns true when this libzmq can be trusted with CURVE: it was built
//  with CURVE and is 4.3.3 or newer (older ones have known CVEs). Else
//  writes the reason into why (size octets) and returns false.
bool zx__curve_usable (char *why, size_t size);

//  Loads this peer's own certificate from path, either NAME or
//  NAME_secret, and insists on its secret key. Returns the certificate
//  (caller destroys it) or NULL with the reason in why.
zcert_t *zx__curve_load_secret (const char *path, char *why, size_t size);

//  Reads a public key given as 40 Z85 characters or as the path of a
//  certificate file (public or secret). Writes it to key (41 octets, Z85
//  with a NUL) and returns true, or returns false with the reason in why.
bool zx__curve_public_key (const char *text, char key [ZX_CURVE_KEY_LEN + 1],
                           char *why, size_t size);

//  Returns the size of cert's metadata in its ZMTP encoding.
size_t zx__curve_meta_size (zcert_t *cert);

//  Makes socket (not yet connected) a CURVE client of the server whose
//  public key (or certificate file) is server_key, with the certificate
//  at cert_path. Both NULL: does nothing and returns ZX_OK. One of them
//  NULL, or either unreadable: ZX_EINVAL with the reason in why.
zx_err_t zx__curve_client (zsock_t *socket, const char *server_key, const char *cert_path,
                           char *why, size_t size);

#endif
