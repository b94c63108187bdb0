/*  test_top.c - zexec-top --once against a real zexec-broker: it lists
    the broker's services and workers, counts the tasks they ran, picks
    one service, and works through CURVE with a coordinator's key (and
    gets no answer with a key the broker does not list).                 */
#define _GNU_SOURCE
#include "testutil_curve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEARTBEAT_MS    100

//  Runs zexec-top --once --connect endpoint, then more (NULL-terminated,
//  at most 8), and returns its output (caller frees) and status.
static char *
s_top (const char *endpoint, const char *const *more, int *status)
{
    char *argv [16] = { ZX_TOP_PROGRAM, "--once", "--connect", (char *) endpoint };
    size_t argc = 4;
    for (size_t i = 0; more && more [i] && argc < 15; i++)
        argv [argc++] = (char *) more [i];
    argv [argc] = NULL;
    char *output = NULL;
    *status = zx_test_run_capture (argv, &output);
    assert_non_null (output);
    return output;
}

//  The line of output that starts with start (a service's name, a
//  worker's label), or NULL.
static const char *
s_line (const char *output, const char *start)
{
    size_t size = strlen (start);
    for (const char *line = output; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp (line, start, size) == 0 && line [size] == ' ')
            return line;
    }
    return NULL;
}

//  The label a zexec-worker gets, HOST.PID.NONCE.0, as its log says
//  ("READY sent to ENDPOINT as LABEL for service ...")
static void
s_label (char *label, size_t size, const zx_test_child_t *worker)
{
    char *log = zx_test_read_file (worker->log);
    const char *sent = strstr (log, "READY sent to ");
    const char *as = sent ? strstr (sent, " as ") : NULL;
    assert_non_null (as);
    as += 4;
    size_t length = strcspn (as, " \n");
    assert_true (length > 0 && length < size);
    memcpy (label, as, length);
    label [length] = 0;
    free (log);
}

static void
test_top_once_lists_a_brokers_services_and_workers_and_their_tasks (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    zx_test_broker_start (&broker, HEARTBEAT_MS, NULL);
    zx_test_child_t *one = zx_test_worker_start (&broker, 2, NULL);
    const char *other_args [] = { "--service", "other", NULL };
    zx_test_child_t *two = zx_test_worker_start (&broker, 3, other_args);
    zx_test_wait_ready (&broker, one);
    zx_test_wait_ready (&broker, two);
    //  The first question starts the counting
    int status;
    char *output = s_top (broker.endpoint, NULL, &status);
    assert_int_equal (status, 0);
    free (output);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (&broker, NULL);
    zx_future_t *futures [5];
    zx_test_submit_squares (loop, remote, futures, 5);
    zx_test_wait_all (futures, 5, 10000);
    zx_test_destroy_all (futures, 5);

    output = s_top (broker.endpoint, NULL, &status);
    print_message ("%s", output);
    assert_int_equal (status, 0);
    unsigned long long queued, held, workers, finished, failed;
    const char *line = s_line (output, "default");
    assert_non_null (line);
    assert_int_equal (sscanf (line, "default %llu %llu %llu %llu %llu", &queued, &held,
                              &workers, &finished, &failed), 5);
    assert_int_equal (workers, 1);
    assert_int_equal (finished, 5);
    assert_int_equal (failed, 0);
    line = s_line (output, "other");
    assert_non_null (line);
    assert_int_equal (sscanf (line, "other %llu %llu %llu %llu", &queued, &held, &workers,
                              &finished), 4);
    assert_int_equal (workers, 1);
    assert_int_equal (finished, 0);
    //  Each worker with its host, pid, service, pool size and tasks done
    char label [128], host [64] = "";
    gethostname (host, sizeof host - 1);
    s_label (label, sizeof label, one);
    line = s_line (output, label);
    assert_non_null (line);
    char seen_host [64], seen_service [64];
    unsigned long long pid, parallel, running, done;
    assert_int_equal (sscanf (line + strlen (label), " %63s %llu %63s %llu %llu %llu",
                              seen_host, &pid, seen_service, &parallel, &running, &done), 6);
    assert_string_equal (seen_host, host);
    assert_int_equal (pid, one->pid);
    assert_string_equal (seen_service, "default");
    assert_int_equal (parallel, 2);
    assert_int_equal (done, 5);
    s_label (label, sizeof label, two);
    line = s_line (output, label);
    assert_non_null (line);
    assert_non_null (strstr (line, " other "));
    free (output);

    //  One service only
    const char *only [] = { "--service", "other", NULL };
    output = s_top (broker.endpoint, only, &status);
    assert_int_equal (status, 0);
    assert_null (s_line (output, "default"));
    assert_non_null (s_line (output, "other"));
    s_label (label, sizeof label, one);
    assert_null (s_line (output, label));
    free (output);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    zx_test_pass ();
}

static void
test_top_once_works_with_curve_keys_and_not_without_a_listed_one (void **state)
{
    (void) state;
    zx_test_env_t *env = zx_test_curve_start (NULL);
    char broker_key [512];
    snprintf (broker_key, sizeof broker_key, "%s/keys/broker", zx_test_scratch ());
    const char *good [] = { "--server-key", broker_key, "--cert",
                            zx_test_curve_key_path ("c1"), NULL };
    int status;
    char *output = s_top (env->broker.endpoint, good, &status);
    print_message ("%s", output);
    assert_int_equal (status, 0);
    char label [128];
    s_label (label, sizeof label, env->worker);
    assert_non_null (s_line (output, label));
    assert_non_null (s_line (output, "default"));
    free (output);
    //  A key the broker does not list gets no answer
    const char *stranger [] = { "--server-key", broker_key, "--cert",
                                zx_test_curve_key_path ("stranger"), "--timeout", "1000", NULL };
    output = s_top (env->broker.endpoint, stranger, &status);
    assert_true (status != 0);
    assert_non_null (strstr (output, "no answer"));
    free (output);
    zx_test_pass ();
}

static struct CMUnitTest s_tests [] = {
    cmocka_unit_test (test_top_once_lists_a_brokers_services_and_workers_and_their_tasks),
    cmocka_unit_test (test_top_once_works_with_curve_keys_and_not_without_a_listed_one),
};

//  Every test has the certificates: the first just does not use them
ZX_TEST_MAIN_WITH (s_tests, zx_test_curve_setup, zx_test_curve_teardown)
