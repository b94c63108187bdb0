/*  test_examples.c - the example programs print what their Python
    originals print: the seed's two asyncio programs, and PyMOTW's two
    concurrent.futures programs (futures_map, futures_as_completed).

    Each example runs as a real program; its output is checked line by
    line against the seed's: the same lines in the same formats, each task
    running and done exactly once on one of three workers, the coordinator's
    lines in their fixed order, and results holding the six squares. Where
    the seed's order is not fixed (which worker, which finishes first, the
    order of results) the check is order-insensitive.

    Over a broker (--endpoint), the coordinator prints its five lines and
    the worker (the same program with --worker, started here with a real
    zexec-broker on tcp loopback) prints the twelve lines of the tasks.  */
#define _GNU_SOURCE
#include "testutil_peers.h"
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define MAX_LINES 160

typedef struct {
    char *lines [MAX_LINES];
    size_t count;
    char *buffer;
} s_output_t;

//  Splits output->buffer, which it takes, into lines.
static void
s_split (s_output_t *output, char *buffer)
{
    output->buffer = buffer;
    output->count = 0;
    for (char *line = strtok (output->buffer, "\n"); line && output->count < MAX_LINES;
         line = strtok (NULL, "\n"))
        output->lines [output->count++] = line;
}

//  Runs program (with --endpoint endpoint unless that is NULL), which must
//  exit 0, and keeps its output.
static void
s_run (const char *program, const char *endpoint, s_output_t *output)
{
    char *argv [] = { (char *) program, endpoint ? "--endpoint" : NULL, (char *) endpoint, NULL };
    char *buffer;
    int status = zx_test_run_capture (argv, &buffer);
    s_split (output, buffer);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        for (size_t i = 0; i < output->count; i++)
            print_message ("| %s\n", output->lines [i]);
        fail_msg ("%s did not exit 0 (status %d)", program, status);
    }
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

//  Checks the coordinator's lines both programs share; coordinator is the
//  main thread's prefix. Between its 'creating' and 'results' lines come
//  its 'waiting' line and tasks more lines, those of the tasks (none when
//  they ran elsewhere). Returns the index of the 'creating' line.
static size_t
s_check_coordinator (const s_output_t *output, const char *coordinator, size_t tasks)
{
    for (size_t i = 0; i < output->count; i++)
        print_message ("| %s\n", output->lines [i]);
    assert_int_equal (output->count, 5 + tasks);
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
    assert_int_equal (exiting, output->count - 1);

    //  The results line: the six squares, in any order
    const char *results = output->lines [output->count - 2];
    snprintf (line, sizeof line, "%s run_blocking_tasks: results: [", coordinator);
    assert_int_equal (strncmp (results, line, strlen (line)), 0);
    int values [6], seen [6] = { 0 };
    char tail [8];
    assert_int_equal (sscanf (results + strlen (line), "%d, %d, %d, %d, %d, %d%7s",
                              &values [0], &values [1], &values [2], &values [3],
                              &values [4], &values [5], tail), 7);
    assert_string_equal (tail, "]");
    for (int i = 0; i < 6; i++)
        for (int n = 0; n < 6; n++)
            if (values [i] == n * n)
                seen [n]++;
    for (int n = 0; n < 6; n++)
        assert_int_equal (seen [n], 1);
    return creating;
}

//  Checks the lines of the tasks, which must be among output's lines from
//  begin to before end (other lines there are not theirs). worker_pattern matches
//  the prefix of a task's line up to the logger name, with one capture
//  group for the worker's name or pid.
static void
s_check_tasks (const s_output_t *output, size_t begin, size_t end, const char *worker_pattern)
{
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
        assert_true (i >= begin && i < end);
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

//  Checks what a program printed that ran its tasks itself.
static void
s_check_seed_output (const s_output_t *output, const char *coordinator,
                     const char *worker_pattern)
{
    size_t creating = s_check_coordinator (output, coordinator, 12);
    s_check_tasks (output, creating + 1, output->count - 2, worker_pattern);
}

//  The process example's coordinator: its pid is the one on the
//  "starting" line, and its prefix "PID %5d".
static int
s_process_coordinator (const s_output_t *output, char *prefix, size_t size)
{
    int pid = 0;
    assert_int_equal (sscanf (output->lines [0], "PID %d", &pid), 1);
    snprintf (prefix, size, "PID %5d", pid);
    return pid;
}

//  The process example's tasks ran in processes with pids other than
//  those given: every line of a task carries such a pid.
static void
s_check_task_pids (const s_output_t *output, int pid, int other)
{
    for (size_t i = 0; i < output->count; i++)
        if (strstr (output->lines [i], "blocks(")) {
            int task_pid = 0;
            assert_int_equal (sscanf (output->lines [i], "PID %d", &task_pid), 1);
            assert_true (task_pid != pid && task_pid != other);
            assert_int_equal (output->lines [i][3], ' ');
        }
}

static void
test_thread_example_prints_the_seed_lines (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_THREAD, NULL, &output);
    s_check_seed_output (&output, "MainThread", "(ThreadPoolExecutor-[0-9]+_[0-2])");
    free (output.buffer);
}

static void
test_process_example_prints_the_seed_lines_with_pids (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_PROCESS, NULL, &output);
    char coordinator [32];
    int coordinator_pid = s_process_coordinator (&output, coordinator, sizeof coordinator);
    s_check_seed_output (&output, coordinator, "PID +([0-9]+)");
    //  Worker lines carry other pids than the coordinator's
    s_check_task_pids (&output, coordinator_pid, coordinator_pid);
    free (output.buffer);
}

//  --------------------------------------------------------------------
//  PyMOTW's concurrent.futures programs, with no event loop

//  Finds the one line that matches pattern (an extended regex); fails
//  when there is not exactly one. Returns its index.
static size_t
s_find_match (const s_output_t *output, const char *pattern)
{
    regex_t regex;
    assert_int_equal (regcomp (&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
    size_t found = MAX_LINES, matches = 0;
    for (size_t i = 0; i < output->count; i++)
        if (regexec (&regex, output->lines [i], 0, NULL, 0) == 0) {
            found = i;
            matches++;
        }
    regfree (&regex);
    if (matches != 1)
        print_error ("expected exactly one line matching '%s', found %zu\n", pattern, matches);
    assert_int_equal (matches, 1);
    return found;
}

static void
test_futures_map_example_prints_pymotws_lines (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_FUTURES_MAP, NULL, &output);
    for (size_t i = 0; i < output.count; i++)
        print_message ("| %s\n", output.lines [i]);
    assert_int_equal (output.count, 3 + 10 + 1);
    assert_int_equal (s_find (&output, "main: starting"), 0);
    size_t unprocessed = s_find_match (&output, "^main: unprocessed results "
                                                "<zx_map_t object at 0x[0-9a-f]+>$");
    size_t waiting = s_find (&output, "main: waiting for real results");
    assert_int_equal (waiting, unprocessed + 1);
    //  Each task sleeps and is done once, on one of the two threads, and
    //  never more than two sleep at once
    size_t sleeping_at [6], done_at [6];
    char thread [6][64];
    for (int n = 1; n <= 5; n++) {
        char pattern [96];
        snprintf (pattern, sizeof pattern, "^ThreadPoolExecutor-0_[01]: sleeping %d$", n);
        sleeping_at [n] = s_find_match (&output, pattern);
        snprintf (thread [n], sizeof thread [n], "%.*s", 22, output.lines [sleeping_at [n]]);
        char line [96];
        snprintf (line, sizeof line, "%s: done with %d", thread [n], n);
        done_at [n] = s_find (&output, line);
        assert_true (sleeping_at [n] < done_at [n]);
    }
    for (size_t i = 0; i < output.count; i++) {
        int asleep = 0;
        for (int n = 1; n <= 5; n++)
            asleep += sleeping_at [n] <= i && i < done_at [n];
        assert_true (asleep <= 2);
    }
    //  The results, in input order, as Python prints the list
    assert_int_equal (s_find (&output, "main: results: [0.5, 0.4, 0.3, 0.2, 0.1]"),
                      output.count - 1);
    free (output.buffer);
}

static void
test_futures_as_completed_example_prints_pymotws_lines (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_FUTURES_AS_COMPLETED, NULL, &output);
    for (size_t i = 0; i < output.count; i++)
        print_message ("| %s\n", output.lines [i]);
    assert_int_equal (output.count, 6);
    assert_int_equal (s_find (&output, "main: starting"), 0);
    //  Each result once, a Python tuple (n, n / 10), in any order
    for (int n = 1; n <= 5; n++) {
        char line [64];
        snprintf (line, sizeof line, "main: result: (%d, 0.%d)", n, n);
        assert_true (s_find (&output, line) >= 1);
    }
    free (output.buffer);
}

//  --------------------------------------------------------------------
//  Over a broker: a zexec-broker on a tcp port of its choosing and the
//  example as its worker (--worker ENDPOINT), both the fixture's, which
//  kills and reaps them (testutil_peers.h)

static zx_test_child_t *s_worker;

//  Starts the broker and program as its worker; waits until the broker
//  has the worker ready. Fills in endpoint.
static void
s_serve (const char *program, char *endpoint, size_t size)
{
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, 0, NULL);
    snprintf (endpoint, size, "%s", broker.endpoint);
    const char *argv [] = { program, "--worker", endpoint, NULL };
    s_worker = zx_test_peer_spawn (argv);
    zx_test_wait_ready (&broker, s_worker);
}

//  The worker's log so far, as lines.
static void
s_worker_output (s_output_t *output)
{
    s_split (output, zx_test_read_file (s_worker->log));
    for (size_t i = 0; i < output->count; i++)
        print_message ("worker | %s\n", output->lines [i]);
}

static void
test_thread_example_over_a_broker_prints_the_seed_lines (void **state)
{
    (void) state;
    char endpoint [64];
    s_serve (EXAMPLE_THREAD, endpoint, sizeof endpoint);
    s_output_t output, worker;
    s_run (EXAMPLE_THREAD, endpoint, &output);
    s_check_coordinator (&output, "MainThread", 0);
    s_worker_output (&worker);
    s_check_tasks (&worker, 0, worker.count, "(ThreadPoolExecutor-[0-9]+_[0-2])");
    free (worker.buffer);
    free (output.buffer);
    zx_test_pass ();
}

static void
test_process_example_over_a_broker_prints_the_seed_lines_with_pids (void **state)
{
    (void) state;
    char endpoint [64];
    s_serve (EXAMPLE_PROCESS, endpoint, sizeof endpoint);
    s_output_t output, worker;
    s_run (EXAMPLE_PROCESS, endpoint, &output);
    char coordinator [32];
    int coordinator_pid = s_process_coordinator (&output, coordinator, sizeof coordinator);
    s_check_coordinator (&output, coordinator, 0);
    s_worker_output (&worker);
    s_check_tasks (&worker, 0, worker.count, "PID +([0-9]+)");
    //  The tasks ran in the worker's pool processes: neither in the
    //  coordinator nor in the worker program itself
    s_check_task_pids (&worker, coordinator_pid, (int) s_worker->pid);
    free (worker.buffer);
    free (output.buffer);
    zx_test_pass ();
}

//  actor_bank: accounts on a process pool, one worker killed halfway; the
//  supervisor restarts the accounts that worker hosted, naming its pid
//  and the signal, and the audit finds every balance as the coordinator
//  saw the transfers applied and the total kept.
static void
test_actor_bank_example_restarts_accounts_and_keeps_every_balance (void **state)
{
    (void) state;
    s_output_t output;
    s_run (EXAMPLE_ACTOR_BANK, NULL, &output);
    for (size_t i = 0; i < output.count; i++)
        print_message ("| %s\n", output.lines [i]);
    size_t kill_line = s_find_match (&output, "^bank: SIGKILL to worker pid [0-9]+, which hosts "
                                              "acct-0$");
    int pid = atoi (output.lines [kill_line] + strlen ("bank: SIGKILL to worker pid "));
    char died [200];
    snprintf (died, sizeof died, "died with its worker w[0-9.]+ \\(pid %d\\): worker process "
              "%d was killed by signal 9 \\(SIGKILL\\)$", pid, pid);
    regex_t regex;
    assert_int_equal (regcomp (&regex, died, REG_EXTENDED | REG_NOSUB), 0);
    size_t deaths = 0, restarts = 0, placed = 0;
    for (size_t i = 0; i < output.count; i++) {
        deaths += strncmp (output.lines [i], "supervisor: actor acct-", 23) == 0
                  && regexec (&regex, output.lines [i], 0, NULL, 0) == 0;
        restarts += strstr (output.lines [i], "restarting (restart 1 of at most 3") != NULL;
        placed += strncmp (output.lines [i], "supervisor: actor acct-", 23) == 0
                  && strstr (output.lines [i], " placed on worker ") != NULL;
    }
    regfree (&regex);
    //  acct-0 at least was on the killed worker; each death restarted once
    assert_true (deaths >= 1);
    assert_int_equal (restarts, deaths);
    assert_int_equal (placed, deaths);
    for (int i = 0; i < 8; i++) {
        char pattern [120];
        snprintf (pattern, sizeof pattern, "^audit: acct-%d balance [0-9]+ \\(as expected\\)", i);
        s_find_match (&output, pattern);
    }
    s_find (&output, "audit: total 8000 of 8000");
    assert_int_equal (s_find (&output, "audit: OK: no money lost or made"), output.count - 1);
    free (output.buffer);
    zx_test_pass ();
}

//  actor_bank --remote: the accounts on two zexec-workers (real processes,
//  through a real zexec-broker, all started by the example) that load the
//  account type from libzexec-bank.so; the serving worker of acct-0 is
//  SIGKILLed halfway. Every account it hosted dies with it (named with its
//  pid), is restarted once and placed on the other serving worker, with
//  its saved balance: the audit finds every balance as the coordinator
//  saw the transfers applied and the total kept.
static void
test_actor_bank_remote_example_restarts_the_killed_workers_accounts_elsewhere (void **state)
{
    (void) state;
    char *argv [] = { EXAMPLE_ACTOR_BANK, "--remote", "--broker", ZX_BROKER_PROGRAM,
                      "--worker", ZX_WORKER_PROGRAM, "--tasks", EXAMPLE_BANK_TASKS, NULL };
    s_output_t output;
    char *buffer;
    int status = zx_test_run_capture (argv, &buffer);
    s_split (&output, buffer);
    for (size_t i = 0; i < output.count; i++)
        print_message ("| %s\n", output.lines [i]);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("actor_bank --remote did not exit 0 (status %d)", status);
    size_t where = s_find_match (&output, "^bank: 8 accounts of 1000 on 2 zexec-workers \\(pids "
                                          "[0-9]+ and [0-9]+\\) through a zexec-broker");
    int pids [2];
    assert_int_equal (sscanf (output.lines [where], "bank: 8 accounts of 1000 on 2 zexec-workers "
                              "(pids %d and %d)", &pids [0], &pids [1]), 2);
    size_t kill_line = s_find_match (&output, "^bank: SIGKILL to worker pid [0-9]+, which hosts "
                                              "acct-0$");
    int victim = atoi (output.lines [kill_line] + strlen ("bank: SIGKILL to worker pid "));
    assert_true (victim == pids [0] || victim == pids [1]);
    int survivor = victim == pids [0] ? pids [1] : pids [0];
    //  Which accounts the victim hosted, from the placement line
    size_t placed_line = s_find_match (&output, "^bank: placed: acct-0 on ");
    int hosted = 0;
    bool on_victim [8] = { false };
    for (int i = 0; i < 8; i++) {
        char needle [64];
        snprintf (needle, sizeof needle, "acct-%d on ", i);
        const char *at = strstr (output.lines [placed_line], needle);
        assert_non_null (at);
        const char *pid = strstr (at, "(pid ");
        assert_non_null (pid);
        on_victim [i] = atoi (pid + 5) == victim;
        hosted += on_victim [i];
    }
    assert_true (on_victim [0]);
    //  Each of them died naming the victim's pid, restarted once, and was
    //  placed on the survivor; the others did not die
    for (int i = 0; i < 8; i++) {
        char died [96], restarting [96], placed [96];
        snprintf (died, sizeof died, "supervisor: actor acct-%d died with its worker ", i);
        snprintf (restarting, sizeof restarting, "supervisor: actor acct-%d restarting "
                  "(restart 1 of at most 3", i);
        snprintf (placed, sizeof placed, "supervisor: actor acct-%d placed on worker ", i);
        size_t deaths = 0, restarts = 0, placements = 0;
        for (size_t l = 0; l < output.count; l++) {
            const char *line = output.lines [l];
            if (strncmp (line, died, strlen (died)) == 0) {
                char pid [32];
                snprintf (pid, sizeof pid, "(pid %d)", victim);
                assert_non_null (strstr (line, pid));
                deaths++;
            }
            restarts += strncmp (line, restarting, strlen (restarting)) == 0;
            if (strncmp (line, placed, strlen (placed)) == 0) {
                char pid [32];
                snprintf (pid, sizeof pid, "(pid %d)", survivor);
                assert_non_null (strstr (line, pid));
                placements++;
            }
        }
        assert_int_equal (deaths, on_victim [i] ? 1 : 0);
        assert_int_equal (restarts, deaths);
        assert_int_equal (placements, deaths);
        char pattern [160];
        snprintf (pattern, sizeof pattern, "^audit: acct-%d balance [0-9]+ \\(as expected\\), "
                  "[0-9]+ transfers applied; restarted %d time", i, on_victim [i] ? 1 : 0);
        s_find_match (&output, pattern);
    }
    s_find (&output, "audit: total 8000 of 8000");
    char lost [128];
    snprintf (lost, sizeof lost, " died \\(each asked again and applied once, by transfer id\\); "
              "the unsaved message counts of the %d restarted account", hosted);
    s_find_match (&output, lost);
    assert_int_equal (s_find (&output, "audit: OK: no money lost or made"), output.count - 1);
    free (output.buffer);
    zx_test_pass ();
}

static struct CMUnitTest tests [] = {
    cmocka_unit_test (test_actor_bank_example_restarts_accounts_and_keeps_every_balance),
    cmocka_unit_test (test_actor_bank_remote_example_restarts_the_killed_workers_accounts_elsewhere),
    cmocka_unit_test (test_thread_example_prints_the_seed_lines),
    cmocka_unit_test (test_process_example_prints_the_seed_lines_with_pids),
    cmocka_unit_test (test_futures_map_example_prints_pymotws_lines),
    cmocka_unit_test (test_futures_as_completed_example_prints_pymotws_lines),
    cmocka_unit_test (test_thread_example_over_a_broker_prints_the_seed_lines),
    cmocka_unit_test (test_process_example_over_a_broker_prints_the_seed_lines_with_pids),
};

//  The fixture kills what a test started, also when it failed
ZX_TEST_MAIN_WITH (tests, zx_test_setup, zx_test_teardown)
