/*  zexec_keygen.c - makes CURVE certificate pairs for zexec peers.

        zexec-keygen [--force] [--meta NAME=VALUE ...] PATH
        zexec-keygen --show PATH

    DESIGN: a certificate is czmq's pair of files, PATH (the public key,
    to copy into a broker's allow-list directory or give to peers as the
    server key) and PATH_secret (both keys, for the owner alone). The
    secret file is created empty with mode 0600 and O_EXCL before czmq
    writes into it, so the secret never sits in a file others may read,
    whatever the umask. Metadata over ZX_CURVE_MAX_META octets is refused:
    czmq 4.2.1's authenticator overflows a 512-octet buffer on it.       */

#define _GNU_SOURCE
#include "zx_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zexec-keygen [--force] [--meta NAME=VALUE ...] PATH\n"
        "       zexec-keygen --show PATH\n"
        "\n"
        "Makes a CURVE certificate pair for a zexec broker, coordinator or worker:\n"
        "PATH holds the public key (copy it into a broker's --clients or --workers\n"
        "directory, or give the broker's to its peers), PATH_secret both keys\n"
        "(mode 0600: keep it to its owner).\n"
        "\n"
        "  --meta NAME=VALUE   metadata to store in the certificate (repeatable;\n"
        "                      %d bytes at most in all, as ZMTP encodes it)\n"
        "  --force             replace PATH and PATH_secret if they exist\n"
        "  --show PATH         print the public key (Z85) of the certificate at PATH\n"
        "  --help              this text\n", ZX_CURVE_MAX_META);
}

int
main (int argc, char **argv)
{
    const char *path = NULL, *show = NULL;
    const char *metas [64];
    size_t meta_count = 0;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (arg, "--force"))
            force = true;
        else
        if (streq (arg, "--show") && value) {
            show = value;
            i++;
        }
        else
        if (streq (arg, "--meta") && value) {
            const char *equals = strchr (value, '=');
            if (!equals || equals == value || meta_count == 64) {
                fprintf (stderr, "zexec-keygen: --meta wants NAME=VALUE (64 at most), not '%s'\n",
                         value);
                return 2;
            }
            metas [meta_count++] = value;
            i++;
        }
        else
        if (arg [0] != '-' && !path)
            path = arg;
        else {
            fprintf (stderr, "zexec-keygen: unknown or incomplete argument '%s'\n"
                             "Try 'zexec-keygen --help'.\n", arg);
            return 2;
        }
    }
    if (show) {
        char key [ZX_CURVE_KEY_LEN + 1], why [512];
        if (!zx__curve_public_key (show, key, why, sizeof why)) {
            fprintf (stderr, "zexec-keygen: %s\n", why);
            return 1;
        }
        printf ("%s\n", key);
        return 0;
    }
    if (!path || !*path || strlen (path) > 4000) {
        fprintf (stderr, "zexec-keygen: say where to write the certificate: zexec-keygen PATH\n"
                         "Try 'zexec-keygen --help'.\n");
        return 2;
    }
    size_t length = strlen (path);
    if (length > 7 && streq (path + length - 7, "_secret")) {
        fprintf (stderr, "zexec-keygen: give the public file's name; PATH_secret is made "
                         "beside it\n");
        return 2;
    }
    char secret [4110];
    snprintf (secret, sizeof secret, "%s_secret", path);

    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "zexec-keygen: cannot make a key pair\n");
        return 1;
    }
    for (size_t i = 0; i < meta_count; i++) {
        const char *equals = strchr (metas [i], '=');
        char name [256];
        size_t name_len = (size_t) (equals - metas [i]);
        if (name_len >= sizeof name) {
            fprintf (stderr, "zexec-keygen: metadata name too long in '%s'\n", metas [i]);
            zcert_destroy (&cert);
            return 2;
        }
        memcpy (name, metas [i], name_len);
        name [name_len] = 0;
        zcert_set_meta (cert, name, "%s", equals + 1);
    }
    size_t meta_size = zx__curve_meta_size (cert);
    if (meta_size > ZX_CURVE_MAX_META) {
        fprintf (stderr, "zexec-keygen: metadata of %zu bytes is over the limit of %d "
                 "(czmq's authenticator overflows on long metadata): refused\n",
                 meta_size, ZX_CURVE_MAX_META);
        zcert_destroy (&cert);
        return 2;
    }
    if (force) {
        unlink (path);
        unlink (secret);
    }
    //  The secret file exists, empty and private, before anything is in it
    int fd = open (secret, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf (stderr, "zexec-keygen: cannot create %s: %s%s\n", secret, strerror (errno),
                 errno == EEXIST ? " (--force replaces it)" : "");
        zcert_destroy (&cert);
        return 1;
    }
    close (fd);
    if (access (path, F_OK) == 0 && !force) {
        fprintf (stderr, "zexec-keygen: %s exists (--force replaces it)\n", path);
        unlink (secret);
        zcert_destroy (&cert);
        return 1;
    }
    struct stat info;
    if (zcert_save_secret (cert, secret) != 0 || zcert_save_public (cert, path) != 0
    ||  stat (secret, &info) != 0 || (info.st_mode & 077)) {
        fprintf (stderr, "zexec-keygen: cannot write %s and %s: %s\n", path, secret,
                 strerror (errno));
        unlink (secret);
        unlink (path);
        zcert_destroy (&cert);
        return 1;
    }
    printf ("%s\n", zcert_public_txt (cert));
    fprintf (stderr, "zexec-keygen: wrote %s (public) and %s (secret, mode 0600)\n", path, secret);
    zcert_destroy (&cert);
    return 0;
}
