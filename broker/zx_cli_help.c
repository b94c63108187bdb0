/*  zx_cli_help.c - the programs' help and man page, from their option
    tables.

    DESIGN: both are written from the same zx_cli_opt_t entries that
    zx_cli.c parses with, and say the same things: each option's phrase,
    then what the table knows of its value (its range, that it repeats,
    its default), so a limit changed in the table changes its
    documentation. Help wraps at 79 columns beside the options; the man
    page is plain roff (man(7)) with every dash and backslash escaped.   */

#define _GNU_SOURCE
#include "zx_cli.h"
#include "zexec.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define ZX_CLI_WIDTH    79          //  Help lines wrap here
#define ZX_CLI_COLUMN   26          //  Help text starts here at most


//  What help and man page say after an option's own text: its range,
//  that it repeats, its default. Empty when nothing.
static void
s_suffix (const zx_cli_opt_t *opt, char *text, size_t size)
{
    char range [96] = "";
    if (opt->kind == ZX_CLI_INT && opt->high == LONG_MAX)
        snprintf (range, sizeof range, "at least %ld", opt->low);
    else
    if (opt->kind == ZX_CLI_INT)
        snprintf (range, sizeof range, "%ld to %ld", opt->low, opt->high);
    else
    if (opt->kind == ZX_CLI_LIST && opt->max_count)
        snprintf (range, sizeof range, "repeatable, up to %zu", opt->max_count);
    else
    if (opt->kind == ZX_CLI_LIST)
        snprintf (range, sizeof range, "repeatable");
    const char *fallback = opt->fallback ? opt->fallback : "";
    snprintf (text, size, "%s%s%s%s%s%s", *range || *fallback ? " (" : "", range,
              *range && *fallback ? ", " : "", *fallback ? "default " : "", fallback,
              *range || *fallback ? ")" : "");
}

//  Writes length bytes of text from column at (the cursor is there),
//  wrapped at spaces to ZX_CLI_WIDTH, later lines indented to indent.
static void
s_wrap (FILE *out, const char *text, size_t length, size_t at, size_t indent)
{
    const char *end = text + length;
    while (text < end) {
        size_t word = 0;
        while (text + word < end && text [word] != ' ' && text [word] != '\n')
            word++;
        if (at > indent && at + 1 + word > ZX_CLI_WIDTH) {
            fprintf (out, "\n%*s", (int) indent, "");
            at = indent;
        }
        else
        if (at > indent) {
            fputc (' ', out);
            at++;
        }
        fprintf (out, "%.*s", (int) word, text);
        at += word;
        text += word;
        while (text < end && (*text == ' ' || *text == '\n'))
            text++;
    }
    fputc ('\n', out);
}

//  "  -h, --name ARG": an option as help lists it.
static void
s_left (const zx_cli_opt_t *opt, char *text, size_t size)
{
    char letter [8] = "";
    if (opt->letter)
        snprintf (letter, sizeof letter, "-%c, ", opt->letter);
    snprintf (text, size, "  %s--%s%s%s", letter, opt->name,
              opt->kind == ZX_CLI_FLAG ? "" : " ", opt->kind == ZX_CLI_FLAG ? "" : opt->arg);
}

void
zx_cli_help (const zx_cli_spec_t *spec, FILE *out)
{
    const char *form = spec->usage;
    for (bool first = true; form; first = false) {
        size_t length = strcspn (form, "\n");
        fprintf (out, "%s %s %.*s\n", first ? "usage:" : "      ", spec->program,
                 (int) length, form);
        form = form [length] ? form + length + 1 : NULL;
    }
    fprintf (out, "\n%s\n\n", spec->summary);
    for (const char *text = spec->description; text && *text; ) {
        const char *end = strstr (text, "\n\n");
        size_t length = end ? (size_t) (end - text) : strlen (text);
        s_wrap (out, text, length, 0, 0);
        fputc ('\n', out);
        text = end ? end + 2 : NULL;
    }
    size_t column = 0;
    for (size_t i = 0; i < zx_cli_total (spec); i++) {
        char left [128];
        s_left (zx_cli_option (spec, i), left, sizeof left);
        if (strlen (left) + 2 > column)
            column = strlen (left) + 2;
    }
    column = column > ZX_CLI_COLUMN ? ZX_CLI_COLUMN : column;
    for (size_t i = 0; i < zx_cli_total (spec) - 1; i++) {      //  --man is not listed
        const zx_cli_opt_t *opt = zx_cli_option (spec, i);
        if (opt->section)
            fprintf (out, "%s%s%s", i ? "\n" : "", opt->section, *opt->section ? "\n" : "");
        char left [128], suffix [160], text [1024];
        s_left (opt, left, sizeof left);
        s_suffix (opt, suffix, sizeof suffix);
        snprintf (text, sizeof text, "%s%s", opt->help, suffix);
        fputs (left, out);
        if (strlen (left) + 1 > column)
            fprintf (out, "\n%*s", (int) column, "");        //  Too long: text below
        else
            fprintf (out, "%*s", (int) (column - strlen (left)), "");
        s_wrap (out, text, strlen (text), column, column);
    }
}

//  Writes text for roff: backslashes and dashes escaped, a line that
//  would start with a request or a blank guarded.
static void
s_roff (FILE *out, const char *text, size_t length)
{
    bool line_start = true;
    for (size_t i = 0; i < length && text [i]; i++) {
        char c = text [i];
        if (line_start && (c == '.' || c == '\''))
            fputs ("\\&", out);
        if (c == '\\')
            fputs ("\\e", out);
        else
        if (c == '-')
            fputs ("\\-", out);
        else
            fputc (c, out);
        line_start = c == '\n';
    }
}

static void
s_roff_all (FILE *out, const char *text)
{
    s_roff (out, text, strlen (text));
}

//  Paragraphs (separated by blank lines) as .PP blocks.
static void
s_roff_paragraphs (FILE *out, const char *text)
{
    while (text && *text) {
        const char *end = strstr (text, "\n\n");
        size_t length = end ? (size_t) (end - text) : strlen (text);
        fputs (".PP\n", out);
        s_roff (out, text, length);
        fputc ('\n', out);
        text = end ? end + 2 : NULL;
    }
}

static void
s_man_options (const zx_cli_spec_t *spec, FILE *out)
{
    fputs (".SH OPTIONS\n", out);
    for (size_t i = 0; i < zx_cli_total (spec) - 1; i++) {
        const zx_cli_opt_t *opt = zx_cli_option (spec, i);
        if (opt->section && *opt->section) {
            size_t length = strlen (opt->section);
            fputs (".SS ", out);
            s_roff (out, opt->section, opt->section [length - 1] == ':' ? length - 1 : length);
            fputc ('\n', out);
        }
        fputs (".TP\n", out);
        if (opt->letter)
            fprintf (out, "\\fB\\-%c\\fR, ", opt->letter);
        fputs ("\\fB\\-\\-", out);
        s_roff_all (out, opt->name);
        fputs ("\\fR", out);
        if (opt->kind != ZX_CLI_FLAG) {
            fputs (" \\fI", out);
            s_roff_all (out, opt->arg);
            fputs ("\\fR", out);
        }
        char suffix [160];
        s_suffix (opt, suffix, sizeof suffix);
        fputc ('\n', out);
        s_roff_all (out, opt->help);
        s_roff_all (out, suffix);
        fputs (".\n", out);
    }
}

void
zx_cli_man (const zx_cli_spec_t *spec, FILE *out)
{
    char title [64];
    size_t i = 0;
    for (; spec->program [i] && i < sizeof title - 1; i++)
        title [i] = (char) toupper ((unsigned char) spec->program [i]);
    title [i] = 0;
    fprintf (out, ".TH %s 1 \"\" \"zexec %s\" \"zexec manual\"\n.SH NAME\n", title,
             zx_version_string ());
    s_roff_all (out, spec->program);
    fputs (" \\- ", out);
    size_t length = strlen (spec->summary);
    fputc (tolower ((unsigned char) spec->summary [0]), out);
    s_roff (out, spec->summary + 1, spec->summary [length - 1] == '.' ? length - 2 : length - 1);
    fputs ("\n.SH SYNOPSIS\n", out);
    for (const char *form = spec->usage; form; ) {
        size_t end = strcspn (form, "\n");
        fputs (".B ", out);
        s_roff_all (out, spec->program);
        fputs ("\n", out);
        s_roff (out, form, end);
        fputs ("\n.br\n", out);
        form = form [end] ? form + end + 1 : NULL;
    }
    fputs (".SH DESCRIPTION\n", out);
    s_roff_paragraphs (out, spec->summary);
    s_roff_paragraphs (out, spec->description);
    s_man_options (spec, out);
    fputs (".SH CONFIGURATION FILE\nWith \\fB\\-\\-config\\fR \\fIFILE\\fR, options are "
           "also read from \\fIFILE\\fR: one \\fIname\\fR = \\fIvalue\\fR a line, the names "
           "being the long options without their dashes (a flag alone, or = yes or no); "
           "blank lines and lines starting with # are skipped. A repeatable option is "
           "repeated. An option on the command line overrides the file's.\n", out);
    fputs (".SH EXIT STATUS\n.TP\n0\nSuccess (also after \\fB\\-\\-help\\fR and "
           "\\fB\\-\\-version\\fR).\n.TP\n1\n", out);
    s_roff_all (out, spec->exit_failure);
    fputs (".\n.TP\n2\nA bad option, value or configuration file.\n", out);
    if (spec->see_also) {
        fputs (".SH SEE ALSO\n", out);
        s_roff_all (out, spec->see_also);
        fputc ('\n', out);
    }
}
