/*  zx_cli.c - the command-line options of zexec's programs.

    DESIGN: a program's options are one table; everything about them is
    derived from it (help and man page in zx_cli_help.c), so the help,
    the man page, the config file and the checks cannot disagree. The table is turned into getopt_long's (each
    option's val is its letter, or 256 plus its index) and errors are ours
    (opterr 0), so that each names the option and the value. A value is
    checked the same way wherever it comes from: argv, the config file or
    the table's fallback. Results are copies, kept per option; the
    command line marks what it set, and the config file only fills in the
    rest.                                                                 */

#define _GNU_SOURCE
#include "zx_cli.h"
#include "zexec.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  The options every program has, after its table
enum { S_CONFIG, S_HELP, S_VERSION, S_MAN, S_BUILTINS };

static const zx_cli_opt_t s_builtins [S_BUILTINS] = {
    [S_CONFIG] = { .name = "config", .kind = ZX_CLI_STRING, .arg = "FILE", .section = "",
        .help = "read options from FILE, one `name = value' a line (names as here "
                "without --, # comments); the command line overrides it" },
    [S_HELP] = { .name = "help", .letter = 'h', .kind = ZX_CLI_FLAG,
        .help = "print this help, then exit" },
    [S_VERSION] = { .name = "version", .kind = ZX_CLI_FLAG,
        .help = "print the version, then exit" },
    [S_MAN] = { .name = "man", .kind = ZX_CLI_FLAG,
        .help = "print the man page (roff), then exit" },
};

typedef struct {
    char **values;
    size_t count;
    long number;                    //  ZX_CLI_INT: the last value
    bool given;                     //  On the command line or in the file
    bool from_argv;                 //  On the command line
} s_slot_t;

struct zx_cli {
    const zx_cli_spec_t *spec;
    FILE *err;
    s_slot_t *slots;                //  The table's, then the builtins
    char **operands;
    size_t operand_count;
};

const zx_cli_opt_t *
zx_cli_option (const zx_cli_spec_t *spec, size_t index)
{
    assert (index < zx_cli_total (spec));
    return index < spec->option_count ? &spec->options [index]
                                      : &s_builtins [index - spec->option_count];
}

size_t
zx_cli_total (const zx_cli_spec_t *spec)
{
    return spec->option_count + S_BUILTINS;
}

//  Reports an argument error: "PROGRAM: [where: ]message" and the hint.
static void
s_vfail (const zx_cli_t *self, const char *where, const char *format, va_list args)
{
    fprintf (self->err, "%s: %s%s", self->spec->program, where ? where : "", where ? ": " : "");
    vfprintf (self->err, format, args);
    fprintf (self->err, "\n");
    fprintf (self->err, "Try '%s --help'.\n", self->spec->program);
}

static void
s_fail (const zx_cli_t *self, const char *where, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (const zx_cli_t *self, const char *where, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (self, where, format, args);
    va_end (args);
}

int
zx_cli_error (const zx_cli_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (self, NULL, format, args);
    va_end (args);
    return 2;
}

//  --------------------------------------------------------------------
//  Values

//  Checks value for opt; on success stores its number in *number (INT).
//  Otherwise writes why it is not good (to follow "'VALUE' ") in why.
static bool
s_check (const zx_cli_opt_t *opt, const char *value, long *number, char *why, size_t size)
{
    if (opt->kind == ZX_CLI_INT) {
        char *end;
        errno = 0;
        long parsed = strtol (value, &end, 10);
        if (errno || *end || end == value || parsed < opt->low || parsed > opt->high) {
            if (opt->high == LONG_MAX)
                snprintf (why, size, "is not a number of at least %ld", opt->low);
            else
                snprintf (why, size, "is not a number from %ld to %ld", opt->low, opt->high);
            return false;
        }
        *number = parsed;
    }
    else
    if (opt->high > 0) {
        size_t length = strlen (value);
        if (length < (size_t) opt->low || length > (size_t) opt->high) {
            snprintf (why, size, "is not %ld to %ld bytes long", opt->low, opt->high);
            return false;
        }
    }
    return !opt->check || opt->check (value, why, size);
}

//  Sets option index to value (NULL for a flag), after checking it; where
//  says where it came from, for errors (NULL: the command line). A value
//  from the file for an option the command line set is checked, then
//  dropped. Returns 0, or the exit status.
static int
s_set (zx_cli_t *self, size_t index, const char *value, const char *where, bool from_argv)
{
    const zx_cli_opt_t *opt = zx_cli_option (self->spec, index);
    s_slot_t *slot = &self->slots [index];
    long number = 0;
    char why [256] = "";
    if (value && !s_check (opt, value, &number, why, sizeof why)) {
        s_fail (self, where, "%s%s: '%s' %s", where ? "" : "--", opt->name, value, why);
        return 2;
    }
    if (slot->from_argv && !from_argv)
        return 0;                   //  The command line overrides the file
    if (opt->kind == ZX_CLI_LIST && opt->max_count && slot->count == opt->max_count) {
        s_fail (self, where, "%s%s: at most %zu may be given", where ? "" : "--", opt->name,
                opt->max_count);
        return 2;
    }
    slot->given = true;
    slot->from_argv = from_argv;
    slot->number = number;
    if (!value) {
        slot->count = 1;            //  A flag holds no values: count is its state
        return 0;
    }
    if (opt->kind != ZX_CLI_LIST && slot->count) {
        free (slot->values [0]);
        slot->count = 0;
    }
    char *copy = strdup (value);
    char **grown = copy ? realloc (slot->values, (slot->count + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free (copy);
        fprintf (self->err, "%s: out of memory\n", self->spec->program);
        return 1;
    }
    slot->values = grown;
    slot->values [slot->count++] = copy;
    return 0;
}

//  --------------------------------------------------------------------
//  The command line

//  A long option's getopt val: its letter, else 256 plus its index.
static int
s_val (const zx_cli_spec_t *spec, size_t index)
{
    const zx_cli_opt_t *opt = zx_cli_option (spec, index);
    return opt->letter ? opt->letter : 256 + (int) index;
}

static size_t
s_by_val (const zx_cli_spec_t *spec, int val)
{
    for (size_t i = 0; i < zx_cli_total (spec); i++)
        if (val && s_val (spec, i) == val)
            return i;
    return SIZE_MAX;
}

//  Reports an option getopt_long did not take: unknown, ambiguous, or a
//  flag given a value.
static void
s_unknown (zx_cli_t *self, const char *arg)
{
    const zx_cli_spec_t *spec = self->spec;
    size_t index = s_by_val (spec, optopt);
    if (index != SIZE_MAX) {
        s_fail (self, NULL, "option '--%s' takes no value", zx_cli_option (spec, index)->name);
        return;
    }
    if (optopt) {
        s_fail (self, NULL, "unknown option '-%c'", optopt);
        return;
    }
    size_t length = strcspn (arg, "=");
    size_t matches = 0;
    for (size_t i = 0; i < zx_cli_total (spec) && length > 2; i++)
        if (strncmp (zx_cli_option (spec, i)->name, arg + 2, length - 2) == 0)
            matches++;
    s_fail (self, NULL, "%s option '%.*s'", matches > 1 ? "ambiguous" : "unknown",
            (int) length, arg);
}

//  Reads the command line into self. Returns -1 to go on, or the status.
static int
s_parse_argv (zx_cli_t *self, int argc, char **argv, FILE *out)
{
    const zx_cli_spec_t *spec = self->spec;
    size_t total = zx_cli_total (spec);
    struct option *longs = calloc (total + 1, sizeof (struct option));
    char *letters = calloc (2 * total + 2, 1);
    int status = -1;
    if (!longs || !letters) {
        fprintf (self->err, "%s: out of memory\n", spec->program);
        status = 1;
    }
    size_t at = 0;
    if (letters)
        letters [at++] = ':';       //  A missing value returns ':'
    for (size_t i = 0; i < total && status < 0; i++) {
        const zx_cli_opt_t *opt = zx_cli_option (spec, i);
        bool arg = opt->kind != ZX_CLI_FLAG;
        longs [i] = (struct option) { opt->name, arg ? required_argument : no_argument,
                                      NULL, s_val (spec, i) };
        if (opt->letter) {
            letters [at++] = opt->letter;
            if (arg)
                letters [at++] = ':';
        }
    }
    optind = 0;                     //  Starts getopt afresh (glibc)
    opterr = 0;
    while (status < 0) {
        int got = getopt_long (argc, argv, letters, longs, NULL);
        if (got == -1)
            break;
        size_t index = s_by_val (spec, got == ':' ? optopt : got);
        if (got == ':') {
            const zx_cli_opt_t *opt = zx_cli_option (spec, index);
            s_fail (self, NULL, "option '--%s' needs a value (%s)", opt->name, opt->arg);
            status = 2;
        }
        else
        if (got == '?' || index == SIZE_MAX) {
            s_unknown (self, argv [optind - 1]);
            status = 2;
        }
        else
        if (index == spec->option_count + S_HELP) {
            zx_cli_help (spec, out);
            status = 0;
        }
        else
        if (index == spec->option_count + S_VERSION) {
            fprintf (out, "%s %s\n", spec->program, zx_version_string ());
            status = 0;
        }
        else
        if (index == spec->option_count + S_MAN) {
            zx_cli_man (spec, out);
            status = 0;
        }
        else {
            int rc = s_set (self, index, optarg, NULL, true);
            status = rc ? rc : -1;
        }
    }
    free (longs);
    free (letters);
    if (status >= 0)
        return status;
    for (int i = optind; i < argc; i++) {
        if (self->operand_count == spec->max_operands) {
            s_fail (self, NULL, "unexpected argument '%s'", argv [i]);
            return 2;
        }
        self->operands [self->operand_count++] = argv [i];
    }
    return -1;
}

//  --------------------------------------------------------------------
//  The config file

static char *
s_trim (char *text)
{
    while (isspace ((unsigned char) *text))
        text++;
    size_t length = strlen (text);
    while (length && isspace ((unsigned char) text [length - 1]))
        text [--length] = 0;
    return text;
}

//  One `name = value' line of the config file (comments and blank lines
//  are gone); where is "FILE:LINE". Returns 0 or the status.
static int
s_config_line (zx_cli_t *self, char *line, const char *where)
{
    const zx_cli_spec_t *spec = self->spec;
    char *equals = strchr (line, '=');
    if (equals)
        *equals = 0;
    char *name = s_trim (line);
    char *value = equals ? s_trim (equals + 1) : NULL;
    size_t index = SIZE_MAX;
    for (size_t i = 0; i < spec->option_count && index == SIZE_MAX; i++)
        if (strcmp (spec->options [i].name, name) == 0)
            index = i;
    if (index == SIZE_MAX) {
        for (size_t i = 0; i < S_BUILTINS; i++)
            if (strcmp (s_builtins [i].name, name) == 0) {
                s_fail (self, where, "'%s' cannot be set in a config file", name);
                return 2;
            }
        s_fail (self, where, "unknown option '%s'", name);
        return 2;
    }
    const zx_cli_opt_t *opt = &spec->options [index];
    if (opt->kind != ZX_CLI_FLAG) {
        if (!value) {
            s_fail (self, where, "'%s' needs a value (%s = %s)", name, name, opt->arg);
            return 2;
        }
        return s_set (self, index, value, where, false);
    }
    if (!value || strcasecmp (value, "yes") == 0 || strcasecmp (value, "true") == 0
    ||  strcasecmp (value, "on") == 0 || strcmp (value, "1") == 0)
        return s_set (self, index, NULL, where, false);
    if (strcasecmp (value, "no") == 0 || strcasecmp (value, "false") == 0
    ||  strcasecmp (value, "off") == 0 || strcmp (value, "0") == 0)
        return 0;
    s_fail (self, where, "%s: '%s' is not yes or no", name, value);
    return 2;
}

//  Reads the config file at path into what the command line left unset.
//  Returns -1 to go on, or the status.
static int
s_parse_config (zx_cli_t *self, const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        s_fail (self, NULL, "cannot read config file %s: %s", path, strerror (errno));
        return 2;
    }
    char *line = NULL;
    size_t size = 0;
    int status = -1;
    for (size_t number = 1; status < 0 && getline (&line, &size, file) >= 0; number++) {
        char *text = s_trim (line);
        if (*text == 0 || *text == '#')
            continue;
        char where [600];
        snprintf (where, sizeof where, "%s:%zu", path, number);
        int rc = s_config_line (self, text, where);
        status = rc ? rc : -1;
    }
    free (line);
    fclose (file);
    return status;
}

//  --------------------------------------------------------------------
//  Parsing

zx_cli_t *
zx_cli_parse (const zx_cli_spec_t *spec, int argc, char **argv, FILE *out, FILE *err,
              int *status)
{
    assert (spec && argv && out && err && status);
    for (size_t i = 0; i < spec->option_count; i++)
        assert (spec->options [i].letter != 'h');
    *status = 1;
    zx_cli_t *self = calloc (1, sizeof (zx_cli_t));
    if (self) {
        self->spec = spec;
        self->err = err;
        self->slots = calloc (zx_cli_total (spec), sizeof (s_slot_t));
        self->operands = calloc (spec->max_operands + 1, sizeof (char *));
    }
    if (!self || !self->slots || !self->operands) {
        fprintf (err, "%s: out of memory\n", spec->program);
        zx_cli_destroy (&self);
        return NULL;
    }
    int rc = s_parse_argv (self, argc, argv, out);
    const char *config = zx_cli_string (self, spec->option_count + S_CONFIG);
    if (rc < 0 && config)
        rc = s_parse_config (self, config);
    for (size_t i = 0; i < spec->option_count && rc < 0; i++) {
        const zx_cli_opt_t *opt = &spec->options [i];
        if (!self->slots [i].given && opt->fallback) {
            rc = s_set (self, i, opt->fallback, "(default)", false);
            rc = rc ? rc : -1;
            self->slots [i].given = false;
        }
        else
        if (!self->slots [i].given && opt->required) {
            s_fail (self, NULL, "%s with --%s %s", opt->required, opt->name,
                    opt->arg ? opt->arg : "");
            rc = 2;
        }
    }
    if (rc >= 0) {
        *status = rc;
        zx_cli_destroy (&self);
    }
    return self;
}

int
zx_cli_main (const zx_cli_spec_t *spec, int argc, char **argv, zx_cli_run_fn *run)
{
    int status;
    zx_cli_t *cli = zx_cli_parse (spec, argc, argv, stdout, stderr, &status);
    if (cli)
        status = run (cli, argc, argv);
    zx_cli_destroy (&cli);
    return status;
}

void
zx_cli_destroy (zx_cli_t **self_p)
{
    assert (self_p);
    zx_cli_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; self->slots && i < zx_cli_total (self->spec); i++) {
        for (size_t j = 0; self->slots [i].values && j < self->slots [i].count; j++)
            free (self->slots [i].values [j]);
        free (self->slots [i].values);
    }
    free (self->slots);
    free (self->operands);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------
//  Values, for the program

bool
zx_cli_given (const zx_cli_t *self, size_t option)
{
    assert (option < zx_cli_total (self->spec));
    return self->slots [option].given;
}

bool
zx_cli_flag (const zx_cli_t *self, size_t option)
{
    assert (zx_cli_option (self->spec, option)->kind == ZX_CLI_FLAG);
    return self->slots [option].count > 0;
}

const char *
zx_cli_string (const zx_cli_t *self, size_t option)
{
    assert (zx_cli_option (self->spec, option)->kind != ZX_CLI_FLAG);
    const s_slot_t *slot = &self->slots [option];
    return slot->count ? slot->values [slot->count - 1] : NULL;
}

long
zx_cli_int (const zx_cli_t *self, size_t option)
{
    assert (zx_cli_option (self->spec, option)->kind == ZX_CLI_INT);
    return self->slots [option].number;
}

size_t
zx_cli_count (const zx_cli_t *self, size_t option)
{
    assert (option < zx_cli_total (self->spec));
    return self->slots [option].count;
}

const char *
zx_cli_item (const zx_cli_t *self, size_t option, size_t index)
{
    assert (zx_cli_option (self->spec, option)->kind != ZX_CLI_FLAG);
    return index < self->slots [option].count ? self->slots [option].values [index] : NULL;
}

size_t
zx_cli_operand_count (const zx_cli_t *self)
{
    return self->operand_count;
}

const char *
zx_cli_operand (const zx_cli_t *self, size_t index)
{
    return index < self->operand_count ? self->operands [index] : NULL;
}

void
zx_cli_keep_freed_memory (bool heaps)
{
#if defined (__GLIBC__)
    //  32 MiB is the most glibc takes (half its arena heap size)
    mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt (M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    //  The trim threshold does not keep a thread's heap (64 MiB) that
    //  empties: glibc unmaps it unless the heap before it lacks this much
    //  room. Bursts of 16 MiB messages received by libzmq's I/O thread
    //  then landed on fresh pages each time (docs/PERFORMANCE.md)
    if (heaps)
        mallopt (M_TOP_PAD, 64 * 1024 * 1024);
#else
    (void) heaps;
#endif
}
