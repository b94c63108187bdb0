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
#include "zx_cli.h"
#include "zx_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define S_TEXT(number)  S_TEXT_ (number)
#define S_TEXT_(number) #number

enum { O_META, O_FORCE, O_SHOW, O_COUNT };

//  --meta: NAME=VALUE, with a NAME of 1 to 255 bytes
static bool
s_check_meta (const char *value, char *why, size_t size)
{
    const char *equals = strchr (value, '=');
    if (equals && equals > value && equals - value < 256)
        return true;
    snprintf (why, size, "is not NAME=VALUE (a NAME of 1 to 255 bytes)");
    return false;
}

static const zx_cli_opt_t s_options [O_COUNT] = {
    [O_META] = { .name = "meta", .kind = ZX_CLI_LIST, .arg = "NAME=VALUE",
        .help = "metadata to store in the certificate; " S_TEXT (ZX_CURVE_MAX_META)
                " bytes at most in all, as ZMTP encodes it",
        .max_count = 64, .check = s_check_meta },
    [O_FORCE] = { .name = "force", .kind = ZX_CLI_FLAG,
        .help = "replace PATH and PATH_secret if they exist" },
    [O_SHOW] = { .name = "show", .kind = ZX_CLI_STRING, .arg = "PATH",
        .help = "print the public key (Z85) of the certificate at PATH" },
};

static const zx_cli_spec_t s_spec = {
    .program = "zexec-keygen",
    .usage = "[--force] [--meta NAME=VALUE ...] PATH\n--show PATH",
    .summary = "Makes a CURVE certificate pair for a zexec broker, coordinator or worker.",
    .description =
        "PATH holds the public key (copy it into a broker's --clients or --workers "
        "directory, or give the broker's to its peers), PATH_secret both keys (mode 0600, "
        "created so that no other user can ever read it: keep it to its owner). The public "
        "key is printed on standard output.",
    .max_operands = 1,
    .exit_failure = "The key pair could not be written (PATH exists, or a file cannot be "
                    "created), or the certificate to show cannot be read",
    .see_also = "zexec-broker(1), zexec-worker(1)",
    .options = s_options,
    .option_count = O_COUNT,
};

//  --show PATH: prints the public key of the certificate at path.
static int
s_show (const char *path)
{
    char key [ZX_CURVE_KEY_LEN + 1], why [512];
    if (!zx__curve_public_key (path, key, why, sizeof why)) {
        fprintf (stderr, "zexec-keygen: %s\n", why);
        return 1;
    }
    printf ("%s\n", key);
    return 0;
}

//  A new key pair with the --meta metadata, or NULL after saying why
//  (*status: the exit status).
static zcert_t *
s_cert_new (zx_cli_t *cli, int *status)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "zexec-keygen: cannot make a key pair\n");
        *status = 1;
        return NULL;
    }
    for (size_t i = 0; i < zx_cli_count (cli, O_META); i++) {
        const char *meta = zx_cli_item (cli, O_META, i);
        const char *equals = strchr (meta, '=');
        char name [256];
        snprintf (name, sizeof name, "%.*s", (int) (equals - meta), meta);
        zcert_set_meta (cert, name, "%s", equals + 1);
    }
    size_t meta_size = zx__curve_meta_size (cert);
    if (meta_size > ZX_CURVE_MAX_META) {
        fprintf (stderr, "zexec-keygen: metadata of %zu bytes is over the limit of %d "
                 "(czmq's authenticator overflows on long metadata): refused\n",
                 meta_size, ZX_CURVE_MAX_META);
        zcert_destroy (&cert);
        *status = 2;
    }
    return cert;
}

//  Writes cert to path and secret. Returns the exit status.
static int
s_write (zcert_t *cert, const char *path, const char *secret, bool force)
{
    if (force) {
        unlink (path);
        unlink (secret);
    }
    //  The secret file exists, empty and private, before anything is in it
    int fd = open (secret, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf (stderr, "zexec-keygen: cannot create %s: %s%s\n", secret, strerror (errno),
                 errno == EEXIST ? " (--force replaces it)" : "");
        return 1;
    }
    close (fd);
    if (access (path, F_OK) == 0 && !force) {
        fprintf (stderr, "zexec-keygen: %s exists (--force replaces it)\n", path);
        unlink (secret);
        return 1;
    }
    struct stat info;
    if (zcert_save_secret (cert, secret) != 0 || zcert_save_public (cert, path) != 0
    ||  stat (secret, &info) != 0 || (info.st_mode & 077)) {
        fprintf (stderr, "zexec-keygen: cannot write %s and %s: %s\n", path, secret,
                 strerror (errno));
        unlink (secret);
        unlink (path);
        return 1;
    }
    printf ("%s\n", zcert_public_txt (cert));
    fprintf (stderr, "zexec-keygen: wrote %s (public) and %s (secret, mode 0600)\n", path,
             secret);
    return 0;
}

//  Shows or makes a certificate as the command line says; returns the exit
//  status.
static int
s_run (zx_cli_t *cli, int argc, char **argv)
{
    (void) argc;
    (void) argv;
    if (zx_cli_string (cli, O_SHOW))
        return s_show (zx_cli_string (cli, O_SHOW));
    const char *path = zx_cli_operand (cli, 0);
    if (!path || !*path || strlen (path) > 4000)
        return zx_cli_error (cli, "say where to write the certificate: zexec-keygen PATH");
    size_t length = strlen (path);
    if (length > 7 && streq (path + length - 7, "_secret")) {
        fprintf (stderr, "zexec-keygen: give the public file's name; PATH_secret is made "
                 "beside it\n");
        return 2;
    }
    char secret [4110];
    snprintf (secret, sizeof secret, "%s_secret", path);
    int status = 0;
    zcert_t *cert = s_cert_new (cli, &status);
    if (cert)
        status = s_write (cert, path, secret, zx_cli_flag (cli, O_FORCE));
    zcert_destroy (&cert);
    return status;
}

int
main (int argc, char **argv)
{
    return zx_cli_main (&s_spec, argc, argv, s_run);
}
