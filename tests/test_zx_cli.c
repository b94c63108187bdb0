/*  test_zx_cli.c - the programs' option parser (broker/zx_cli): values,
    errors that name the option and the value, --config files and their
    precedence, and help, version and man page from the same table; then
    the three programs answer --version, --man and --config from theirs;
    and what keeping freed memory keeps.                                 */
#define _GNU_SOURCE
#include "testutil.h"
#include "zx_cli.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum { O_LEVEL, O_NAME, O_ITEM, O_LOUD, O_SIZE, O_PAIR, O_COUNT };

static bool
s_check_pair (const char *value, char *why, size_t size)
{
    if (strchr (value, '='))
        return true;
    snprintf (why, size, "is not A=B");
    return false;
}

static const zx_cli_opt_t s_options [O_COUNT] = {
    [O_LEVEL] = { .name = "level", .kind = ZX_CLI_INT, .arg = "N", .help = "how loud",
                  .fallback = "5", .low = 1, .high = 100 },
    [O_NAME] = { .name = "name", .letter = 'n', .kind = ZX_CLI_STRING, .arg = "NAME",
                 .help = "what to call it", .low = 1, .high = 8 },
    [O_ITEM] = { .name = "item", .kind = ZX_CLI_LIST, .arg = "ITEM", .help = "an item",
                 .max_count = 3, .required = "say what" },
    [O_LOUD] = { .name = "loud", .kind = ZX_CLI_FLAG, .help = "shout",
                 .section = "Noise (all optional):" },
    [O_SIZE] = { .name = "size", .kind = ZX_CLI_INT, .arg = "BYTES", .help = "a size",
                 .low = 64, .high = LONG_MAX },
    [O_PAIR] = { .name = "pair", .kind = ZX_CLI_STRING, .arg = "A=B", .help = "a pair",
                 .check = s_check_pair },
};

static const zx_cli_spec_t s_spec = {
    .program = "zx-test",
    .usage = "--item ITEM [options] [FILE]\n--other-form",
    .summary = "Tests the parser.",
    .description = "First paragraph.\n\n.A line that starts with a dot, and a back\\slash.",
    .max_operands = 1,
    .exit_failure = "It failed",
    .environment = (const zx_cli_note_t []) {
        { .term = "ZX_TEST_KEY", .text = "the key, when --name is not given" },
        { .term = NULL } },
    .files = (const zx_cli_note_t []) {
        { .term = "/etc/zx-test/a-path-too-long-to-fit-beside.conf", .text = "its config" },
        { .term = NULL } },
    .examples = (const zx_cli_note_t []) {
        { .term = "zx-test --item a \\\n    --loud", .text = "Shout an item:" },
        { .term = NULL } },
    .options = s_options,
    .option_count = O_COUNT,
};

//  One parse with its output and errors captured.
typedef struct {
    zx_cli_t *cli;
    int status;
    char *out, *err;
} s_run_t;

//  Parses argv (NULL-terminated) against s_spec.
static s_run_t
s_parse (const char *const *args)
{
    char *argv [32];
    int argc = 0;
    argv [argc++] = "zx-test";
    while (*args)
        argv [argc++] = (char *) *args++;
    argv [argc] = NULL;
    s_run_t run = { 0 };
    size_t out_size, err_size;
    FILE *out = open_memstream (&run.out, &out_size);
    FILE *err = open_memstream (&run.err, &err_size);
    assert_non_null (out);
    assert_non_null (err);
    run.status = -1;
    run.cli = zx_cli_parse (&s_spec, argc, argv, out, err, &run.status);
    fclose (out);
    fclose (err);
    return run;
}

static void
s_done (s_run_t *run)
{
    zx_cli_destroy (&run->cli);
    free (run->out);
    free (run->err);
}

//  Expects the parse to fail with status 2 and err to hold text and the hint.
static void
s_expect_error (const char *const *args, const char *text)
{
    s_run_t run = s_parse (args);
    if (run.cli || run.status != 2 || !strstr (run.err, text)
    ||  !strstr (run.err, "Try 'zx-test --help'."))
        fail_msg ("expected status 2 and '%s', got %d and:\n%s", text, run.status, run.err);
    s_done (&run);
}

//  A config file with these contents, in a fresh temporary path (freed
//  by the caller, who also unlinks it).
static char *
s_config (const char *contents)
{
    char *path = strdup ("/tmp/zx-test-cli-XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, contents, strlen (contents)), (ssize_t) strlen (contents));
    close (fd);
    return path;
}

static void
test_good_values_are_parsed_and_fallbacks_fill_the_rest (void **state)
{
    (void) state;
    s_run_t run = s_parse ((const char *[]) { "--item", "a", "-n", "box", "--item=b",
                                              "file.txt", "--loud", "--size", "64", NULL });
    assert_non_null (run.cli);
    assert_string_equal (run.err, "");
    assert_int_equal (zx_cli_count (run.cli, O_ITEM), 2);
    assert_string_equal (zx_cli_item (run.cli, O_ITEM, 0), "a");
    assert_string_equal (zx_cli_item (run.cli, O_ITEM, 1), "b");
    assert_null (zx_cli_item (run.cli, O_ITEM, 2));
    assert_string_equal (zx_cli_string (run.cli, O_NAME), "box");
    assert_true (zx_cli_flag (run.cli, O_LOUD));
    assert_int_equal (zx_cli_int (run.cli, O_SIZE), 64);
    //  Not given: the fallback, which does not count as given
    assert_int_equal (zx_cli_int (run.cli, O_LEVEL), 5);
    assert_false (zx_cli_given (run.cli, O_LEVEL));
    assert_true (zx_cli_given (run.cli, O_NAME));
    assert_null (zx_cli_string (run.cli, O_PAIR));
    assert_int_equal (zx_cli_operand_count (run.cli), 1);
    assert_string_equal (zx_cli_operand (run.cli, 0), "file.txt");
    s_done (&run);
    //  The last of a string counts; the range's ends are in it
    run = s_parse ((const char *[]) { "--item", "a", "--name", "one", "--name", "two",
                                      "--level", "100", "--pair", "x=y", NULL });
    assert_non_null (run.cli);
    assert_string_equal (zx_cli_string (run.cli, O_NAME), "two");
    assert_int_equal (zx_cli_int (run.cli, O_LEVEL), 100);
    assert_false (zx_cli_flag (run.cli, O_LOUD));
    assert_string_equal (zx_cli_string (run.cli, O_PAIR), "x=y");
    s_done (&run);
}

static void
test_an_out_of_range_value_is_named_with_its_option_and_exits_two (void **state)
{
    (void) state;
    s_expect_error ((const char *[]) { "--item", "a", "--level", "500", NULL },
                    "zx-test: --level: '500' is not a number from 1 to 100\n");
    s_expect_error ((const char *[]) { "--item", "a", "--level", "0", NULL },
                    "--level: '0' is not a number from 1 to 100");
    s_expect_error ((const char *[]) { "--item", "a", "--size", "63", NULL },
                    "--size: '63' is not a number of at least 64");
    s_expect_error ((const char *[]) { "--item", "a", "--name", "ninebytes", NULL },
                    "--name: 'ninebytes' is not 1 to 8 bytes long");
    s_expect_error ((const char *[]) { "--item", "a", "-n", "", NULL },
                    "--name: '' is not 1 to 8 bytes long");
    s_expect_error ((const char *[]) { "--item", "a", "--pair", "xy", NULL },
                    "--pair: 'xy' is not A=B");
    s_expect_error ((const char *[]) { "--item", "a", "--item", "b", "--item", "c",
                                       "--item", "d", NULL },
                    "--item: at most 3 may be given");
}

static void
test_a_value_that_is_not_a_number_is_named_with_its_option (void **state)
{
    (void) state;
    const char *bad [] = { "fast", "12x", "", " ", "1e3", "99999999999999999999999", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char text [128];
        snprintf (text, sizeof text, "--level: '%s' is not a number from 1 to 100", bad [i]);
        s_expect_error ((const char *[]) { "--item", "a", "--level", bad [i], NULL }, text);
    }
}

static void
test_unknown_options_missing_values_and_extra_arguments_are_errors (void **state)
{
    (void) state;
    s_expect_error ((const char *[]) { "--item", "a", "--frobnicate", NULL },
                    "zx-test: unknown option '--frobnicate'");
    s_expect_error ((const char *[]) { "--item", "a", "--frob=1", NULL },
                    "unknown option '--frob'");
    s_expect_error ((const char *[]) { "--item", "a", "-z", NULL }, "unknown option '-z'");
    s_expect_error ((const char *[]) { "--item", "a", "--l", NULL },
                    "ambiguous option '--l'");
    s_expect_error ((const char *[]) { "--item", "a", "--loud=yes", NULL },
                    "option '--loud' takes no value");
    s_expect_error ((const char *[]) { "--item", "a", "--level", NULL },
                    "option '--level' needs a value (N)");
    s_expect_error ((const char *[]) { "--item", "a", "one", "two", NULL },
                    "unexpected argument 'two'");
    s_expect_error ((const char *[]) { "--level", "3", NULL }, "say what with --item ITEM");
    //  A unique prefix is the option (getopt_long's rule)
    s_run_t run = s_parse ((const char *[]) { "--item", "a", "--lev", "7", NULL });
    assert_non_null (run.cli);
    assert_int_equal (zx_cli_int (run.cli, O_LEVEL), 7);
    s_done (&run);
    //  Parses twice in a row start afresh (getopt's state is reset)
    run = s_parse ((const char *[]) { "--item", "b", NULL });
    assert_non_null (run.cli);
    assert_string_equal (zx_cli_item (run.cli, O_ITEM, 0), "b");
    s_done (&run);
}

static void
test_a_config_file_sets_options_and_the_command_line_overrides_it (void **state)
{
    (void) state;
    char *path = s_config ("# a comment\n"
                           "\n"
                           "   level = 7   \n"
                           "name=filebox\n"
                           "item = one\n"
                           "item = two words\n"
                           "  # another comment = 5\n"
                           "loud\n"
                           "pair = a=b # not a comment\n");
    s_run_t run = s_parse ((const char *[]) { "--config", path, NULL });
    assert_non_null (run.cli);
    assert_int_equal (zx_cli_int (run.cli, O_LEVEL), 7);
    assert_true (zx_cli_given (run.cli, O_LEVEL));
    assert_string_equal (zx_cli_string (run.cli, O_NAME), "filebox");
    assert_int_equal (zx_cli_count (run.cli, O_ITEM), 2);
    assert_string_equal (zx_cli_item (run.cli, O_ITEM, 1), "two words");
    assert_true (zx_cli_flag (run.cli, O_LOUD));
    assert_string_equal (zx_cli_string (run.cli, O_PAIR), "a=b # not a comment");
    s_done (&run);
    //  The command line wins, before or after --config; a repeatable
    //  option on it replaces all of the file's
    run = s_parse ((const char *[]) { "--level", "9", "--config", path, "--item", "mine",
                                      NULL });
    assert_non_null (run.cli);
    assert_int_equal (zx_cli_int (run.cli, O_LEVEL), 9);
    assert_string_equal (zx_cli_string (run.cli, O_NAME), "filebox");
    assert_int_equal (zx_cli_count (run.cli, O_ITEM), 1);
    assert_string_equal (zx_cli_item (run.cli, O_ITEM, 0), "mine");
    s_done (&run);
    unlink (path);
    free (path);
    //  A flag set to no stays off; yes, true, on and 1 turn it on
    path = s_config ("item = x\nloud = no\n");
    run = s_parse ((const char *[]) { "--config", path, NULL });
    assert_non_null (run.cli);
    assert_false (zx_cli_flag (run.cli, O_LOUD));
    s_done (&run);
    unlink (path);
    free (path);
    path = s_config ("item = x\nloud = On\n");
    run = s_parse ((const char *[]) { "--config", path, NULL });
    assert_non_null (run.cli);
    assert_true (zx_cli_flag (run.cli, O_LOUD));
    s_done (&run);
    unlink (path);
    free (path);
}

//  Expects a config file holding contents to fail naming FILE:LINE and
//  text; with always, also when the command line sets every option.
static void
s_expect_config_error (const char *contents, int line, const char *text, bool always)
{
    char *path = s_config (contents);
    char expect [512];
    snprintf (expect, sizeof expect, "zx-test: %s:%d: %s", path, line, text);
    s_expect_error ((const char *[]) { "--config", path, NULL }, expect);
    //  A bad line is reported even when the command line sets the option
    if (always)
        s_expect_error ((const char *[]) { "--item", "a", "--level", "2", "--loud",
                                           "--config", path, NULL }, expect);
    unlink (path);
    free (path);
}

static void
test_a_bad_config_file_is_named_with_its_file_line_and_value (void **state)
{
    (void) state;
    s_expect_config_error ("item = a\n# fine\nlevel = 500\n", 3,
                           "level: '500' is not a number from 1 to 100", true);
    s_expect_config_error ("volume = 3\n", 1, "unknown option 'volume'", true);
    s_expect_config_error ("item = a\nlevel\n", 2, "'level' needs a value (level = N)", true);
    s_expect_config_error ("item = a\nloud = maybe\n", 2, "loud: 'maybe' is not yes or no", true);
    s_expect_config_error ("config = other\n", 1, "'config' cannot be set in a config file",
                           true);
    s_expect_config_error ("item = a\nitem = b\nitem = c\nitem = d\n", 4,
                           "item: at most 3 may be given", false);
    s_expect_error ((const char *[]) { "--config", "/nonexistent/zexec.conf", NULL },
                    "cannot read config file /nonexistent/zexec.conf: No such file");
    s_expect_error ((const char *[]) { "--config", NULL }, "option '--config' needs a value");
}

static void
test_help_lists_every_option_of_the_table_with_its_range_and_default (void **state)
{
    (void) state;
    s_run_t run = s_parse ((const char *[]) { "--level", "3", "--help", "--frobnicate", NULL });
    assert_null (run.cli);
    assert_int_equal (run.status, 0);
    assert_string_equal (run.err, "");
    assert_non_null (strstr (run.out, "usage: zx-test --item ITEM [options] [FILE]\n"
                                      "       zx-test --other-form\n"));
    assert_non_null (strstr (run.out, "\nTests the parser.\n"));
    for (size_t i = 0; i < zx_cli_total (&s_spec) - 1; i++) {
        const zx_cli_opt_t *opt = zx_cli_option (&s_spec, i);
        char line [128];
        snprintf (line, sizeof line, "--%s%s%s", opt->name, opt->arg ? " " : "",
                  opt->arg ? opt->arg : "");
        if (!strstr (run.out, line))
            fail_msg ("help lacks '%s':\n%s", line, run.out);
    }
    assert_null (strstr (run.out, "--man"));
    assert_non_null (strstr (run.out, "(1 to 100, default 5)"));
    assert_non_null (strstr (run.out, "(at least 64)"));
    assert_non_null (strstr (run.out, "(repeatable, up to 3)"));
    assert_non_null (strstr (run.out, "  -n, --name NAME"));
    assert_non_null (strstr (run.out, "  -h, --help"));
    assert_non_null (strstr (run.out, "\nNoise (all optional):\n  --loud"));
    //  Then the environment, files and examples
    assert_non_null (strstr (run.out, "\nEnvironment:\n  ZX_TEST_KEY "));
    assert_non_null (strstr (run.out, " the key, when --name is not given\n"));
    assert_non_null (strstr (run.out, "\nFiles:\n  /etc/zx-test/a-path-too-long-to-fit-beside.conf\n"));
    assert_non_null (strstr (run.out, "\nExamples:\n  Shout an item:\n"
                                      "    zx-test --item a \\\n        --loud\n"));
    //  Every line fits in 79 columns
    for (const char *line = run.out; *line; ) {
        size_t length = strcspn (line, "\n");
        if (length > 79)
            fail_msg ("help line of %zu columns: %.*s", length, (int) length, line);
        line += length + (line [length] ? 1 : 0);
    }
    s_done (&run);
    run = s_parse ((const char *[]) { "-h", NULL });
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "usage: zx-test"));
    s_done (&run);
}

static void
test_version_and_man_page_come_from_the_same_table (void **state)
{
    (void) state;
    s_run_t run = s_parse ((const char *[]) { "--version", NULL });
    assert_null (run.cli);
    assert_int_equal (run.status, 0);
    char expect [64];
    snprintf (expect, sizeof expect, "zx-test %s\n", zx_version_string ());
    assert_string_equal (run.out, expect);
    s_done (&run);
    run = s_parse ((const char *[]) { "--man", NULL });
    assert_int_equal (run.status, 0);
    assert_true (strncmp (run.out, ".TH ZX-TEST 1 ", 14) == 0);
    const char *sections [] = { "\n.SH NAME\nzx\\-test \\- tests the parser\n", "\n.SH SYNOPSIS\n",
                                "\n.SH DESCRIPTION\n", "\n.SH OPTIONS\n",
                                "\n.SH CONFIGURATION FILE\n", "\n.SH EXIT STATUS\n",
                                "\\fB\\-\\-level\\fR \\fIN\\fR\nhow loud (1 to 100, default 5).\n",
                                "\\fB\\-n\\fR, \\fB\\-\\-name\\fR",
                                "\n.SS Noise (all optional)\n", "\nIt failed.\n",
                                "\n.SS Other options\n.TP\n\\fB\\-\\-config\\fR",
                                "\\&.A line that starts with a dot", "back\\eslash",
                                "\n.SH ENVIRONMENT\n.TP\n\\fBZX_TEST_KEY\\fR\n"
                                "the key, when \\-\\-name is not given.\n",
                                "\n.SH FILES\n.TP\n\\fI/etc/zx\\-test/",
                                "\n.SH EXAMPLES\n.PP\nShout an item:\n.PP\n.RS 4\n.nf\n"
                                "zx\\-test \\-\\-item a \\e\n    \\-\\-loud\n.fi\n.RE\n" };
    for (size_t i = 0; i < sizeof sections / sizeof sections [0]; i++)
        if (!strstr (run.out, sections [i]))
            fail_msg ("man page lacks '%s':\n%s", sections [i], run.out);
    //  Every option is there, --man itself not
    for (size_t i = 0; i < zx_cli_total (&s_spec) - 1; i++) {
        char name [64];
        snprintf (name, sizeof name, "\\-\\-%s\\fR", zx_cli_option (&s_spec, i)->name);
        if (!strstr (run.out, name))
            fail_msg ("man page lacks %s", name);
    }
    assert_null (strstr (run.out, "\\-\\-man"));
    s_done (&run);
}

//  Runs program with arguments (NULL-terminated); returns its exit code
//  and output (caller frees).
static int
s_program (const char *program, const char *const *args, char **output)
{
    char *argv [16] = { (char *) program };
    for (int i = 0; args [i]; i++)
        argv [i + 1] = (char *) args [i];
    int status = zx_test_run_capture (argv, output);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

static void
test_the_three_programs_answer_version_help_and_man_from_their_tables (void **state)
{
    (void) state;
    const char *programs [] = { ZX_BROKER_PROGRAM, ZX_WORKER_PROGRAM, ZX_KEYGEN_PROGRAM };
    const char *names [] = { "zexec-broker", "zexec-worker", "zexec-keygen" };
    for (int i = 0; i < 3; i++) {
        char *out, *help, expect [64];
        assert_int_equal (s_program (programs [i], (const char *[]) { "--version", NULL },
                                     &out), 0);
        snprintf (expect, sizeof expect, "%s %s\n", names [i], zx_version_string ());
        assert_string_equal (out, expect);
        free (out);
        assert_int_equal (s_program (programs [i], (const char *[]) { "--help", NULL },
                                     &help), 0);
        assert_int_equal (s_program (programs [i], (const char *[]) { "--man", NULL },
                                     &out), 0);
        assert_non_null (strstr (out, ".SH OPTIONS\n"));
        assert_non_null (strstr (out, ".SH EXIT STATUS\n"));
        //  Every option of the man page is in the help
        int options = 0;
        for (const char *at = strstr (out, ".TP\n"); at; at = strstr (at + 1, ".TP\n")) {
            const char *name = strstr (at, "\\fB\\-\\-");
            if (!name || name > strchr (at + 4, '\n'))
                continue;               //  EXIT STATUS entries
            char option [64] = "--";
            size_t at_out = 2;
            for (name += 7; strncmp (name, "\\fR", 3) && at_out < sizeof option - 1; name++)
                if (strncmp (name, "\\-", 2) != 0)
                    option [at_out++] = *name;
            option [at_out] = 0;
            if (!strstr (help, option))
                fail_msg ("%s --help lacks %s", names [i], option);
            options++;
        }
        assert_true (options >= 6);
        free (out);
        free (help);
    }
}

static void
test_the_broker_reads_a_config_file_and_its_command_line_wins (void **state)
{
    (void) state;
    char *out;
    char *path = s_config ("# zexec-broker\nheartbeat = 5\n");
    int code = s_program (ZX_BROKER_PROGRAM, (const char *[]) { "--config", path, NULL }, &out);
    char expect [256];
    snprintf (expect, sizeof expect, "zexec-broker: %s:2: heartbeat: '5' is not a number "
              "from 10 to 600000", path);
    if (code != 2 || !strstr (out, expect))
        fail_msg ("exit %d, output:\n%s", code, out);
    free (out);
    unlink (path);
    free (path);
    //  bind from the file (a bad one, so the broker stops at once)
    path = s_config ("bind = nonsense://file\nverbose = yes\n");
    code = s_program (ZX_BROKER_PROGRAM, (const char *[]) { "--config", path, NULL }, &out);
    if (code != 1 || !strstr (out, "cannot bind nonsense://file"))
        fail_msg ("exit %d, output:\n%s", code, out);
    free (out);
    //  The command line's --bind replaces the file's: the broker listens
    //  on it alone
    char endpoints [64];
    snprintf (endpoints, sizeof endpoints, "/tmp/zx-test-cli-%d.endpoints", (int) getpid ());
    unlink (endpoints);
    zx_test_child_t broker = { 0 };
    zx_test_spawn (&broker, "zx-test-cli-broker", (const char *[]) {
        ZX_BROKER_PROGRAM, "--config", path, "--bind", "tcp://127.0.0.1:*",
        "--endpoint-file", endpoints, NULL });
    int64_t deadline = zx_test_now_ms () + 10000;
    while (access (endpoints, F_OK) != 0 && zx_test_alive (&broker)
           && zx_test_now_ms () < deadline)
        usleep (10 * 1000);
    char *bound = zx_test_read_file (endpoints);
    bool good = strncmp (bound, "tcp://127.0.0.1:", 16) == 0 && strchr (bound, '\n')
             && strchr (bound, '\n') [1] == 0;
    int stopped = zx_test_stop (&broker, SIGTERM, 5000);
    char *log = zx_test_read_file (broker.log);
    if (!good || stopped != 0 || strstr (log, "nonsense")
    ||  !strstr (log, "listening on tcp://127.0.0.1:"))
        fail_msg ("endpoints '%s', exit status 0x%x, log:\n%s", bound, stopped, log);
    free (log);
    free (bound);
    zx_test_reap (&broker, false);
    unlink (endpoints);
    unlink (path);
    free (path);
}

//  ---------------------------------------------------------------------
//  Keeping freed memory: what libzmq's I/O thread does with a burst of
//  16 MiB messages (four of them take a second heap of its arena), twice.
//  The second burst must land on the pages the first faulted in: glibc
//  unmapped the heap that emptied until the top pad kept it.

#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define S_SANITIZED
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer) || __has_feature (thread_sanitizer)
#       define S_SANITIZED
#   endif
#endif
#if defined (__GLIBC__) && !defined (S_SANITIZED)
#   define S_GLIBC_MALLOC   //  Not another allocator: glibc's settings apply
#endif

#define S_BLOCK     ((size_t) 16 * 1024 * 1024)
#define S_BLOCKS    4

#ifdef S_GLIBC_MALLOC
static void *
s_burst (void *arg)
{
    long *faults = arg;
    for (int round = 0; round < 2; round++) {
        struct rusage before, after;
        getrusage (RUSAGE_THREAD, &before);
        char *blocks [S_BLOCKS];
        for (int i = 0; i < S_BLOCKS; i++)
            if ((blocks [i] = malloc (S_BLOCK))) {
                memset (blocks [i], 'x', S_BLOCK);
                //  Used, as far as the compiler knows: clang drops a
                //  malloc, memset and free that nothing reads
                __asm__ volatile ("" : : "r" (blocks [i]) : "memory");
            }
        for (int i = 0; i < S_BLOCKS; i++)
            free (blocks [i]);
        getrusage (RUSAGE_THREAD, &after);
        faults [round] = after.ru_minflt - before.ru_minflt;
    }
    return NULL;
}
#endif

static void
test_kept_memory_takes_a_second_burst_of_16_mib_blocks_without_faults (void **state)
{
    (void) state;
#ifndef S_GLIBC_MALLOC
    skip ();
#else
    //  In a child: the settings are the process's
    fflush (stdout);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        zx_cli_keep_freed_memory (true);
        long faults [2] = { 0, 0 };
        pthread_t thread;
        if (pthread_create (&thread, NULL, s_burst, faults) != 0)
            _exit (3);
        pthread_join (thread, NULL);
        printf ("first burst %ld faults, second %ld\n", faults [0], faults [1]);
        fflush (stdout);
        //  A block faulted in afresh is 4,096 pages
        _exit (faults [0] >= 4096 && faults [1] < 1024 ? 0 : 1);
    }
    int status;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
#endif
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_good_values_are_parsed_and_fallbacks_fill_the_rest),
    cmocka_unit_test (test_an_out_of_range_value_is_named_with_its_option_and_exits_two),
    cmocka_unit_test (test_a_value_that_is_not_a_number_is_named_with_its_option),
    cmocka_unit_test (test_unknown_options_missing_values_and_extra_arguments_are_errors),
    cmocka_unit_test (test_a_config_file_sets_options_and_the_command_line_overrides_it),
    cmocka_unit_test (test_a_bad_config_file_is_named_with_its_file_line_and_value),
    cmocka_unit_test (test_help_lists_every_option_of_the_table_with_its_range_and_default),
    cmocka_unit_test (test_version_and_man_page_come_from_the_same_table),
    cmocka_unit_test (test_the_three_programs_answer_version_help_and_man_from_their_tables),
    cmocka_unit_test (test_the_broker_reads_a_config_file_and_its_command_line_wins),
    cmocka_unit_test (test_kept_memory_takes_a_second_burst_of_16_mib_blocks_without_faults),
};

ZX_TEST_MAIN (tests)
