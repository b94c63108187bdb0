/*  zx_curve.c - CURVE keys and certificates for zexec peers.

    DESIGN: security that cannot be enforced must stop the program, not
    quietly fall back to none. So each helper either gives the caller
    exactly what CURVE needs (a secret key that really is there, a server
    key that really decodes, a libzmq that really has CURVE and its CVE
    fixes) or a sentence saying why not, for the caller to print.        */

#define _GNU_SOURCE
#include "zx_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_zero_key [] = "0000000000000000000000000000000000000000";

bool
zx__curve_usable (char *why, size_t size)
{
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    if (!zmq_has ("curve")) {
        snprintf (why, size, "this libzmq (%d.%d.%d) was built without CURVE", major, minor, patch);
        return false;
    }
    if (major * 10000 + minor * 100 + patch < 40303) {
        snprintf (why, size, "libzmq %d.%d.%d is older than 4.3.3, which fixes CVE-2020-15166 "
                  "and others: refusing to rely on it for CURVE", major, minor, patch);
        return false;
    }
    return true;
}

//  True when text is 40 Z85 characters that decode.
static bool
s_is_z85_key (const char *text)
{
    uint8_t binary [32];
    return strlen (text) == ZX_CURVE_KEY_LEN && zmq_z85_decode (binary, text) != NULL;
}

zcert_t *
zx__curve_load_secret (const char *path, char *why, size_t size)
{
    if (!path || !*path || strlen (path) > 4000) {
        snprintf (why, size, "no certificate path given");
        return NULL;
    }
    char base [4100], secret [4110];
    snprintf (base, sizeof base, "%s", path);
    size_t length = strlen (base);
    if (length > 7 && streq (base + length - 7, "_secret"))
        base [length - 7] = 0;
    snprintf (secret, sizeof secret, "%s_secret", base);
    //  zcert_load falls back to the public file when the secret one
    //  cannot be read: look first, to name the real cause
    int fd = open (secret, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (why, size, "cannot read the secret key file %s: %s", secret, strerror (errno));
        return NULL;
    }
    close (fd);
    zcert_t *cert = zcert_load (base);
    if (!cert || streq (zcert_secret_txt (cert), s_zero_key)) {
        snprintf (why, size, "%s holds no CURVE secret key (make one with zexec-keygen)", secret);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

bool
zx__curve_public_key (const char *text, char key [ZX_CURVE_KEY_LEN + 1], char *why, size_t size)
{
    if (!text || !*text) {
        snprintf (why, size, "no server key given");
        return false;
    }
    if (s_is_z85_key (text)) {
        memcpy (key, text, ZX_CURVE_KEY_LEN + 1);
        return true;
    }
    if (access (text, R_OK) != 0) {
        snprintf (why, size, "'%s' is neither a 40-character Z85 key nor a readable "
                  "certificate file", text);
        return false;
    }
    zcert_t *cert = zcert_load (text);
    if (!cert || streq (zcert_public_txt (cert), s_zero_key)) {
        snprintf (why, size, "%s holds no CURVE public key", text);
        zcert_destroy (&cert);
        return false;
    }
    memcpy (key, zcert_public_txt (cert), ZX_CURVE_KEY_LEN + 1);
    zcert_destroy (&cert);
    return true;
}

size_t
zx__curve_meta_size (zcert_t *cert)
{
    size_t total = 0;
    zlist_t *names = zcert_meta_keys (cert);
    for (const char *name = names ? zlist_first (names) : NULL; name; name = zlist_next (names)) {
        const char *value = zcert_meta (cert, name);
        total += 1 + strlen (name) + 4 + (value ? strlen (value) : 0);
    }
    zlist_destroy (&names);
    return total;
}

zx_err_t
zx__curve_client (zsock_t *socket, const char *server_key, const char *cert_path,
                  char *why, size_t size)
{
    if (!server_key && !cert_path)
        return ZX_OK;
    if (!server_key || !cert_path) {
        snprintf (why, size, "CURVE needs both the broker's public key and this peer's "
                  "certificate (%s is missing)", server_key ? "the certificate" : "the server key");
        return ZX_EINVAL;
    }
    if (!zx__curve_usable (why, size))
        return ZX_EINVAL;
    char key [ZX_CURVE_KEY_LEN + 1];
    if (!zx__curve_public_key (server_key, key, why, size))
        return ZX_EINVAL;
    zcert_t *cert = zx__curve_load_secret (cert_path, why, size);
    if (!cert)
        return ZX_EINVAL;
    zcert_apply (cert, socket);
    zsock_set_curve_serverkey (socket, key);
    zcert_destroy (&cert);
    return ZX_OK;
}
