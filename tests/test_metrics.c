/*  test_metrics.c - zexec-broker --metrics: its /metrics over real HTTP,
    what the counters and gauges say after real work, the output checked
    by Prometheus's own promtool, and a real Prometheus server scraping a
    running broker and answering a query for one of its counters.

    promtool and prometheus come with Debian's `prometheus' package, which
    CI installs (scripts/deps.sh). Where either is missing the test that
    needs it says SKIPPED (ctest reports it skipped) rather than fail.  */
#define _GNU_SOURCE
#include "testutil_peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEARTBEAT_MS    100

//  The body of GET path from 127.0.0.1:port (HTTP/1.0, read to the end),
//  with its status in *status. Caller frees it.
static char *
s_http_get (int port, const char *path, int *status)
{
    int fd = zx_test_tcp_connect (port);
    char request [512];
    int n = snprintf (request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
                      path);
    assert_int_equal (write (fd, request, (size_t) n), n);
    size_t size = 0, cap = 65536;
    char *data = malloc (cap);
    assert_non_null (data);
    ssize_t got;
    while ((got = read (fd, data + size, cap - size - 1)) > 0) {
        size += (size_t) got;
        if (cap - size < 4096) {
            cap *= 2;
            data = realloc (data, cap);
            assert_non_null (data);
        }
    }
    close (fd);
    data [size] = 0;
    assert_true (sscanf (data, "HTTP/1.%*d %d", status) == 1);
    char *body = strstr (data, "\r\n\r\n");
    assert_non_null (body);
    char *copy = strdup (body + 4);
    free (data);
    return copy;
}

//  Finds program on PATH, writing its path into path; false when absent.
static bool
s_which (const char *program, char *path, size_t size)
{
    const char *dirs = getenv ("PATH");
    if (!dirs)
        dirs = "/usr/local/bin:/usr/bin:/bin";
    while (*dirs) {
        size_t length = strcspn (dirs, ":");
        snprintf (path, size, "%.*s/%s", (int) length, dirs, program);
        if (length && access (path, X_OK) == 0)
            return true;
        dirs += length + (dirs [length] == ':');
    }
    return false;
}

//  The port in the broker's "metrics on http://127.0.0.1:PORT/metrics"
static int
s_metrics_port (const zx_test_broker_t *broker)
{
    assert_true (zx_test_log_wait (broker->child->log, "metrics on http://", NULL, 1, 10000));
    char *log = zx_test_read_file (broker->child->log);
    const char *at = strstr (log, "metrics on http://127.0.0.1:");
    assert_non_null (at);
    int port = atoi (at + strlen ("metrics on http://127.0.0.1:"));
    free (log);
    assert_true (port > 0);
    return port;
}

static const char *const s_metrics_args [] = { "--metrics", "127.0.0.1:0", NULL };

//  A broker with --metrics, one worker, and count good squares and one
//  bad one run through it.
static int
s_broker_with_work (zx_test_broker_t *broker, int count)
{
    zx_test_broker_start (broker, HEARTBEAT_MS, s_metrics_args);
    int port = s_metrics_port (broker);
    zx_test_child_t *worker = zx_test_worker_start (broker, 2, NULL);
    zx_test_wait_ready (broker, worker);
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *remote = zx_test_remote_new (broker, NULL);
    zx_future_t *futures [64];
    assert_true (count < 64);
    zx_test_submit_squares (loop, remote, futures, count);
    futures [count] = zx_test_submit (loop, remote, "square", zx_values_pack ("s", "x"));
    zx_test_wait_all (futures, (size_t) count + 1, 10000);
    assert_int_equal (zx_future_error (futures [count]), ZX_ETYPE);
    zx_test_destroy_all (futures, (size_t) count + 1);
    zx_executor_destroy (&remote);
    zx_test_loop_finish (&loop);
    return port;
}

static void
s_expect_line (const char *text, const char *line)
{
    char with_newline [512];
    snprintf (with_newline, sizeof with_newline, "\n%s\n", line);
    if (!strstr (text, with_newline))
        fail_msg ("no line '%s' in the metrics:\n%s", line, text);
}

static void
test_metrics_count_the_work_a_broker_did (void **state)
{
    (void) state;
    zx_test_broker_t broker;
    int port = s_broker_with_work (&broker, 5);
    int status;
    char *text = s_http_get (port, "/metrics", &status);
    assert_int_equal (status, 200);
    s_expect_line (text, "zexec_tasks_submitted_total{service=\"default\"} 6");
    s_expect_line (text, "zexec_tasks_completed_total{service=\"default\",outcome=\"finished\"} 5");
    s_expect_line (text, "zexec_tasks_completed_total{service=\"default\",outcome=\"failed\"} 1");
    s_expect_line (text, "zexec_tasks_completed_total{service=\"default\",outcome=\"cancelled\"} 0");
    s_expect_line (text, "zexec_queue_depth{service=\"default\"} 0");
    s_expect_line (text, "zexec_workers{service=\"default\"} 1");
    s_expect_line (text, "zexec_bytes_held{service=\"default\"} 0");
    s_expect_line (text, "zexec_task_latency_seconds_bucket{service=\"default\",le=\"+Inf\"} 6");
    s_expect_line (text, "zexec_task_latency_seconds_count{service=\"default\"} 6");
    s_expect_line (text, "# TYPE zexec_task_latency_seconds histogram");
    free (text);
    //  Anything but /metrics is not found
    text = s_http_get (port, "/", &status);
    assert_int_equal (status, 404);
    free (text);
    zx_test_peer_stop_cleanly (broker.child, "the broker", 10000);
    zx_test_pass ();
}

static void
test_metrics_pass_promtool_check_metrics (void **state)
{
    (void) state;
    char promtool [512];
    if (!s_which ("promtool", promtool, sizeof promtool)) {
        print_message ("SKIPPED: promtool not installed (Debian package prometheus)\n");
        skip ();
    }
    zx_test_broker_t broker;
    int port = s_broker_with_work (&broker, 3);
    int status;
    char *text = s_http_get (port, "/metrics", &status);
    assert_int_equal (status, 200);
    char path [300];
    zx_test_scratch_path (path, sizeof path, "metrics.txt");
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    free (text);
    char command [1000];
    snprintf (command, sizeof command, "'%s' check metrics < '%s' 2>&1", promtool, path);
    char *const argv [] = { "/bin/sh", "-c", command, NULL };
    char *output = NULL;
    int rc = zx_test_run_capture (argv, &output);
    if (rc != 0)
        fail_msg ("promtool check metrics failed (%d):\n%s", rc, output);
    free (output);
    zx_test_pass ();
}

static void
test_a_prometheus_server_scrapes_a_broker_and_answers_a_query (void **state)
{
    (void) state;
    char program [512];
    if (!s_which ("prometheus", program, sizeof program)) {
        print_message ("SKIPPED: prometheus not installed (Debian package prometheus)\n");
        skip ();
    }
    zx_test_broker_t broker;
    int port = s_broker_with_work (&broker, 7);
    char config [300], storage [300];
    zx_test_scratch_path (config, sizeof config, "prometheus.yml");
    zx_test_scratch_path (storage, sizeof storage, "tsdb");
    FILE *file = fopen (config, "w");
    assert_non_null (file);
    fprintf (file, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n  - job_name: zexec\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:%d']\n", port);
    fclose (file);
    char config_flag [320], storage_flag [320];
    snprintf (config_flag, sizeof config_flag, "--config.file=%s", config);
    snprintf (storage_flag, sizeof storage_flag, "--storage.tsdb.path=%s", storage);
    const char *argv [] = { program, config_flag, storage_flag,
                            "--web.listen-address=127.0.0.1:0", NULL };
    zx_test_child_t *prometheus = zx_test_peer_spawn (argv);
    //  It says which port it got once it listens
    assert_true (zx_test_log_wait (prometheus->log, "msg=\"Listening on\"", "address=", 1,
                                   30000));
    char *log = zx_test_read_file (prometheus->log);
    const char *at = strstr (strstr (log, "msg=\"Listening on\""), "address=127.0.0.1:");
    assert_non_null (at);
    int web = atoi (at + strlen ("address=127.0.0.1:"));
    free (log);
    assert_true (web > 0);
    //  Scraped every second: ask until the counter is there
    const char *query = "/api/v1/query?query=zexec_tasks_completed_total%7Bjob%3D%22zexec%22"
                        "%2Coutcome%3D%22finished%22%7D";
    int64_t deadline = zx_test_now_ms () + 30000;
    char *answer = NULL;
    while (zx_test_now_ms () < deadline) {
        int status;
        free (answer);
        answer = s_http_get (web, query, &status);
        if (status == 200 && strstr (answer, "\"service\":\"default\"")
        &&  strstr (answer, ",\"7\"]"))
            break;
        zx_sleep (250);
    }
    print_message ("prometheus answered: %s\n", answer);
    assert_non_null (strstr (answer, "\"status\":\"success\""));
    assert_non_null (strstr (answer, "\"__name__\":\"zexec_tasks_completed_total\""));
    assert_non_null (strstr (answer, ",\"7\"]"));
    free (answer);
    zx_test_peer_stop_cleanly (prometheus, "prometheus", 20000);
    zx_test_pass ();
}

static struct CMUnitTest s_tests [] = {
    cmocka_unit_test (test_metrics_count_the_work_a_broker_did),
    cmocka_unit_test (test_metrics_pass_promtool_check_metrics),
    cmocka_unit_test (test_a_prometheus_server_scrapes_a_broker_and_answers_a_query),
};

ZX_TEST_MAIN_WITH (s_tests, zx_test_setup, zx_test_teardown)
