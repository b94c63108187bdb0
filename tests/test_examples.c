/*  test_examples.c - the two seed programs print what the Python prints.

    Each example runs as a real program; its output is checked line by
    line against the seed's: the same lines in the same formats, each task
    running and done exactly once on one of three workers, the coordinator's
    lines in their fixed order, and results holding the six squares. Where
    the seed's order is not fixed (which worker, which finishes first, the
    order of results) the check is order-insensitive.                     */
#define _GNU_SOURCE
#include "testutil.h"
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define MAX_LINES 64

typedef struct {
    char *lines [MAX_LINES];
    size_t count;
    char *buffer;
} s_output_t;

static void
s_run (const char *program, s_output_t *output)
{
    char *argv [] = { (char *) program, NULL };
    int status = zx_test_run_capture (argv, &output->buffer);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    output->count = 0;
    for (char *line = strtok (output->buffer, "\n"); line && output->count < MAX_LINES;
         line = strtok (NULL, "\n"))
        output->lines [output->count++] = line;
}

//  Finds the one line equal to text; fails when there is not exactly one.
static size_t
s_find (const s_output_t *output, const char *text)
{
    size_t found = MAX_LINES, matches = 0;
    for (size_t i = 0; i < output->count; i++)
        if (strcmp (output->lines [i], text) == 0) {
            found = i;
            matches++;
        }
    if (matches != 1)
        print_error ("expected exactly one line '%s', found %zu\n", text, matches);
    assert_int_equal (matches, 1);
    return found;
}

//  Checks the lines both programs share. worker_pattern matches the
//  prefix of a worker line up to the logger name, with one capture group
//  for the worker's name or pid; coordinator is the main thread's prefix.
static void
s_check_seed_output (const s_output_t *output, const char *coordinator,
                     const char *worker_pattern)
{
    for (size_t i = 0; i < output->count; i++)
        print_message ("| %s\n", output->lines [i]);
    assert_int_equal (output->count, 17);
    char line [256];
    snprintf (line, sizeof line, "%s run_blocking_tasks: starting", coordinator);
    size_t starting = s_find (output, line);
    snprintf (line, sizeof line, "%s run_blocking_tasks: creating executor tasks", coordinator);
    size_t creating = s_find (output, line);
    snprintf (line, sizeof line, "%s run_blocking_tasks: waiting for executor tasks", coordinator);
    size_t waiting = s_find (output, line);
    snprintf (line, sizeof line, "%s run_blocking_tasks: exiting", coordinator);
    size_t exiting = s_find (output, line);
    assert_int_equal (starting, 0);
    assert_int_equal (creating, 1);
    assert_true (waiting > creating);
    assert_int_equal (exiting, 16);

    //  The results line: the six squares, in any order
    snprintf (line, sizeof line, "%s run_blocking_tasks: results: [", coordinator);
    assert_int_equal (strncmp (output->lines [15], line, strlen (line)), 0);
    int values [6], seen [6] = { 0 };
    char tail [8];
    assert_int_equal (sscanf (output->lines [15] + strlen (line), "%d, %d, %d, %d, %d, %d%7s",
                              &values [0], &values [1], &values [2], &values [3],
                              &values [4], &values [5], tail), 7);
    assert_string_equal (tail, "]");
    for (int i = 0; i < 6; i++)
        for (int n = 0; n < 6; n++)
            if (values [i] == n * n)
                seen [n]++;
    for (int n = 0; n < 6; n++)
        assert_int_equal (seen [n], 1);

    //  Each blocks(n) runs and is done exactly once, on one worker, in
    //  the seed's "%(name)18s" width
    regex_t regex;
    char pattern [256];
    snprintf (pattern, sizeof pattern, "^%s +blocks\\(([0-5])\\): (running|done)$", worker_pattern);
    assert_int_equal (regcomp (&regex, pattern, REG_EXTENDED), 0);
    size_t running_at [6], done_at [6];
    char workers [6][32];
    int running [6] = { 0 }, done [6] = { 0 };
    size_t worker_lines = 0;
    for (size_t i = 0; i < output->count; i++) {
        regmatch_t match [4];
        if (regexec (&regex, output->lines [i], 4, match, 0) != 0)
            continue;
        worker_lines++;
        assert_true (i > creating && i < 15);
        //  Right-justified to 18 characters: "         blocks(n)"
        const char *name = strstr (output->lines [i], "blocks(");
        assert_true (name - output->lines [i] >= 9);
        assert_memory_equal (name - 9, "         ", 9);
        int n = output->lines [i][match [2].rm_so] - '0';
        char who [32] = "";
        int size = (int) (match [1].rm_eo - match [1].rm_so);
        snprintf (who, sizeof who, "%.*s", size, output->lines [i] + match [1].rm_so);
        if (output->lines [i][match [3].rm_so] == 'r') {
            running [n]++;
            running_at [n] = i;
            strcpy (workers [n], who);
        }
        else {
            done [n]++;
            done_at [n] = i;
            assert_string_equal (workers [n], who);
        }
    }
    regfree (&regex);
    assert_int_equal (worker_lines, 12);
    size_t distinct = 0;
    for (int n = 0; n < 6; n++) {
        assert_int_equal (running [n], 1);
        assert_int_equal (done [n], 1);
        assert_true (running_at [n] < done_at [n]);
        bool first = true;
        for (int m = 0; m < n; m++)
            if (strcmp (workers [m], workers [n]) == 0)
                first = false;
        distinct += first;
    }
    //  Three workers at most, and the work was spread
    assert_true (distinct >= 2 && distinct <= 3);
}

static void
test_thread_example_prints_the_seed_lines (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_THREAD, &output);
    s_check_seed_output (&output, "MainThread", "(ThreadPoolExecutor-[0-9]+_[0-2])");
    free (output.buffer);
}

static void
test_process_example_prints_the_seed_lines_with_pids (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_PROCESS, &output);
    //  The coordinator's pid is the one on the "starting" line
    int coordinator_pid = 0;
    assert_int_equal (sscanf (output.lines [0], "PID %d", &coordinator_pid), 1);
    char coordinator [32];
    snprintf (coordinator, sizeof coordinator, "PID %5d", coordinator_pid);
    s_check_seed_output (&output, coordinator, "PID +([0-9]+)");
    //  Worker lines carry other pids than the coordinator's
    for (size_t i = 0; i < output.count; i++)
        if (strstr (output.lines [i], "blocks(")) {
            int pid = 0;
            assert_int_equal (sscanf (output.lines [i], "PID %d", &pid), 1);
            assert_true (pid != coordinator_pid);
            assert_int_equal (output.lines [i][3], ' ');
        }
    free (output.buffer);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_thread_example_prints_the_seed_lines),
    cmocka_unit_test (test_process_example_prints_the_seed_lines_with_pids),
};

ZX_TEST_MAIN (tests)
