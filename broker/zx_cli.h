/*  zx_cli.h - internal: the command-line options of zexec's programs,
    from one table that parses, checks and documents them.

    zexec-broker, zexec-worker and zexec-keygen each describe their options
    once, as a table of zx_cli_opt_t. zx_cli_parse reads argv against it
    with getopt_long, reads a configuration file of the same options
    (--config FILE: `name = value` lines), checks every value, and answers
    --help, --version and the hidden --man (a roff man page) from the same
    table. It is compiled into each program, not into libzexec: it prints
    and its callers exit, which a library never does.                    */
#ifndef ZX_CLI_H_INCLUDED
#define ZX_CLI_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    ZX_CLI_FLAG,            //  --name: on when given
    ZX_CLI_STRING,          //  --name VALUE: the last one given counts
    ZX_CLI_INT,             //  --name N: a whole number from low to high
    ZX_CLI_LIST             //  --name VALUE, repeatable: every one counts, in order
} zx_cli_kind_t;

typedef struct {
    const char *name;       //  Long name without "--"; its name in a config file too
    char letter;            //  Short name (-x), or 0
    zx_cli_kind_t kind;
    const char *arg;        //  The value's name in help ("MS", "PATH"); not for flags
    const char *help;       //  What it does, as a phrase; help wraps it
    const char *fallback;   //  The value when not given, shown in help; or NULL
    long low, high;         //  INT: the range. STRING and LIST: a value's length
                            //  in bytes (both 0: any)
    size_t max_count;       //  LIST: at most this many values (0: any)
    const char *required;   //  When it must be given: what to say ("say which
                            //  broker" prints "say which broker with --connect
                            //  ENDPOINT"); NULL when it is optional
    const char *section;    //  Starts a group of options: its heading in help
                            //  and man page ("" for just a blank line); or NULL
    //  A further check of a value, or NULL: false with the reason (as in
    //  "'x' REASON") in why.
    bool (*check) (const char *value, char *why, size_t size);
} zx_cli_opt_t;

//  An entry of the help's and man page's ENVIRONMENT, FILES or EXAMPLES:
//  a variable, a path, or an example's command line (lines separated by
//  "\n"), and what it is or does. A list of them ends with { .term = NULL }.
typedef struct {
    const char *term;
    const char *text;
} zx_cli_note_t;

typedef struct {
    const char *program;    //  "zexec-broker"
    const char *usage;      //  Its synopsis after the program's name; more
                            //  forms separated by "\n"
    const char *summary;    //  One sentence: what the program does
    const char *description;    //  The man page's DESCRIPTION after the summary:
                            //  paragraphs separated by blank lines; or NULL
    size_t max_operands;    //  Arguments that are not options (0: none)
    const char *exit_failure;   //  What exit status 1 means
    const char *see_also;   //  The man page's SEE ALSO, or NULL
    const zx_cli_note_t *environment;   //  Variables it reads, or NULL
    const zx_cli_note_t *files;         //  Files it is used with, or NULL
    const zx_cli_note_t *examples;      //  Command lines, each with what it does; or NULL
    const zx_cli_opt_t *options;
    size_t option_count;
} zx_cli_spec_t;

//  Options every program has besides its table: --config FILE, --help
//  (-h), --version and --man (not listed in help).

//  How many options a program has: its table's, then those four.
size_t zx_cli_total (const zx_cli_spec_t *spec);

//  The index-th of them (index below zx_cli_total); the last is --man.
const zx_cli_opt_t *zx_cli_option (const zx_cli_spec_t *spec, size_t index);

typedef struct zx_cli zx_cli_t;

//  Parses argv (argc elements; getopt_long may reorder them) against
//  spec: the options and their values, then, with --config FILE, the
//  options in FILE that the command line did not give (a repeatable
//  option given on the command line replaces all of the file's), then the
//  fallbacks of the options given nowhere. Returns the result (caller
//  destroys it), or NULL with *status the exit status main should return:
//  0 after --help, --version or --man (written to out); 2 after a bad
//  option, value, operand or config file, reported on err with the
//  option and the value and a hint to try --help; 1 when out of memory.
zx_cli_t *zx_cli_parse (const zx_cli_spec_t *spec, int argc, char **argv,
                        FILE *out, FILE *err, int *status);

//  A program's work once its options are parsed: returns its exit status.
typedef int (zx_cli_run_fn) (zx_cli_t *cli, int argc, char **argv);

//  The whole of a program's main: parses argv against spec (output on
//  stdout, errors on stderr) and, unless that ended the program, calls
//  run. Returns the exit status for main to return.
int zx_cli_main (const zx_cli_spec_t *spec, int argc, char **argv, zx_cli_run_fn *run);

//  For programs that move big payloads (zexec-broker, zexec-worker): asks
//  glibc to serve blocks of up to 32 MiB from its heap, not from fresh
//  mappings, and to keep up to 1 GiB it freed rather than hand it back to
//  the kernel, so that a 16 MiB payload lands on pages already faulted in
//  (docs/PERFORMANCE.md, payloads). With heaps, a thread's heaps that
//  empty are kept too (glibc's top pad at 64 MiB): what every payload
//  passes through in bursts, the broker, needs it; it costs each heap
//  64 MiB of address space and commit charge at once, not memory.
//  Process-wide: a program's choice, never the library's.
void zx_cli_keep_freed_memory (bool heaps);

//  Frees the result and every value it holds; accepts NULL and nulls the
//  caller's pointer.
void zx_cli_destroy (zx_cli_t **self_p);

//  Option values, by the option's index in the spec's table. A value
//  (borrowed) lives as long as the result.
//  Whether the option was given, on the command line or in the file.
bool zx_cli_given (const zx_cli_t *self, size_t option);
//  A flag: whether it is on.
bool zx_cli_flag (const zx_cli_t *self, size_t option);
//  A string, integer or list: its (last) value, or NULL / 0 when none.
const char *zx_cli_string (const zx_cli_t *self, size_t option);
long zx_cli_int (const zx_cli_t *self, size_t option);
//  A list: how many values, and each of them.
size_t zx_cli_count (const zx_cli_t *self, size_t option);
const char *zx_cli_item (const zx_cli_t *self, size_t option, size_t index);

//  The arguments that are not options, in order.
size_t zx_cli_operand_count (const zx_cli_t *self);
const char *zx_cli_operand (const zx_cli_t *self, size_t index);

//  Reports an argument error the program found itself (such as options
//  that go together) as zx_cli_parse reports its own: "PROGRAM: message"
//  and the hint, on the err stream given to zx_cli_parse. Returns 2, the
//  exit status for it.
int zx_cli_error (const zx_cli_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Writes the help text, or the roff man page, of spec to out.
void zx_cli_help (const zx_cli_spec_t *spec, FILE *out);
void zx_cli_man (const zx_cli_spec_t *spec, FILE *out);

#endif
