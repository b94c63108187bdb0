/*  test_zx_log_floods.c - the Python-style logger under many writers at
    once: threads and processes flooding one pipe, long lines, a huge
    message, formats changed while records are written. No record is ever
    split or interleaved with another. (test_zx_log.c: one writer; the
    ctest entries of both are test_zx_log.*.)

    Records are captured as in test_zx_log.c (testutil_log.h).         */
#define _GNU_SOURCE
#include "testutil_log.h"
#include <stdio.h>
#include <sys/wait.h>

#define FLOOD_THREADS   8
#define FLOOD_RECORDS   2000
#define FLOOD_PAYLOAD   "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"

typedef struct {
    int index;
} flooder_t;

static void *
s_flooder (void *arg)
{
    flooder_t *self = (flooder_t *) arg;
    char name [16];
    snprintf (name, sizeof (name), "T%d", self->index);
    zx_thread_set_name (name);
    zx_logger_t *logger = zx_log_getf ("flood.%d", self->index);
    for (int i = 0; i < FLOOD_RECORDS; i++)
        zx_log_info (logger, "record %d %s %s", i, FLOOD_PAYLOAD, FLOOD_PAYLOAD);
    return NULL;
}

//  Checks that every line of text is one whole record of the flood, in
//  order per thread, and that every record is there.
static void
s_check_flood (char *text, int writers, int records, const char *tag_format)
{
    int next [64] = { 0 };
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        int writer, writer2, record, used = 0;
        char expected [256];
        int matched = sscanf (line, tag_format, &writer, &writer2, &record, &used);
        assert_int_equal (matched, 3);
        assert_true (writer >= 0 && writer < writers);
        assert_int_equal (writer2, writer);
        assert_int_equal (record, next [writer]);
        next [writer]++;
        snprintf (expected, sizeof (expected), " %s %s", FLOOD_PAYLOAD, FLOOD_PAYLOAD);
        assert_string_equal (line + used, expected);
        lines++;
    }
    assert_int_equal (lines, (size_t) writers * records);
    for (int w = 0; w < writers; w++)
        assert_int_equal (next [w], records);
}

static void
test_threads_flooding_one_pipe_never_interleave (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO,
        "%(asctime)s %(threadName)s %(name)s %(levelname)s: %(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    flooder_t flooders [FLOOD_THREADS];
    pthread_t threads [FLOOD_THREADS];
    for (int t = 0; t < FLOOD_THREADS; t++) {
        flooders [t].index = t;
        assert_int_equal (pthread_create (&threads [t], NULL, s_flooder, &flooders [t]), 0);
    }
    for (int t = 0; t < FLOOD_THREADS; t++)
        pthread_join (threads [t], NULL);
    char *text = s_capture_stop (&capture);
    assert_int_equal (s_line_count (text), FLOOD_THREADS * FLOOD_RECORDS);
    assert_int_equal (text [strlen (text) - 1], '\n');
    s_check_flood (text, FLOOD_THREADS, FLOOD_RECORDS,
                   "%*d-%*d-%*d %*d:%*d:%*d,%*d T%d flood.%d INFO: record %d%n");
    free (text);
}

static void
test_processes_flooding_one_pipe_never_interleave (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO,
        "%(process)d %(name)s: %(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    pid_t pids [4];
    for (int p = 0; p < 4; p++) {
        pids [p] = fork ();
        assert_true (pids [p] >= 0);
        if (pids [p] == 0) {
            zx_logger_t *logger = zx_log_getf ("w%d", p);
            for (int i = 0; i < 500; i++)
                zx_log_info (logger, "record %d %s %s", i, FLOOD_PAYLOAD, FLOOD_PAYLOAD);
            _exit (0);
        }
    }
    for (int p = 0; p < 4; p++) {
        int status;
        assert_int_equal (waitpid (pids [p], &status, 0), pids [p]);
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    char *text = s_capture_stop (&capture);
    //  Each line names its writer by pid and by logger; check they agree
    char *save = NULL;
    size_t lines = 0;
    for (char *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save), lines++) {
        int pid, writer;
        assert_int_equal (sscanf (line, "%d w%d:", &pid, &writer), 2);
        assert_true (writer >= 0 && writer < 4);
        assert_int_equal (pid, pids [writer]);
    }
    assert_int_equal (lines, 4 * 500);
    free (text);
}

//  Lines far over PIPE_BUF, which the kernel may split into pieces on a
//  pipe, from threads and processes at once: each must still come out
//  whole. Every writer fills its lines with its own letter.
#define LONG_LINE       20000
#define LONG_RECORDS    40

static void
s_long_lines (char letter)
{
    char *payload = malloc (LONG_LINE + 1);
    assert_non_null (payload);
    memset (payload, letter, LONG_LINE);
    payload [LONG_LINE] = 0;
    zx_logger_t *logger = zx_log_getf ("long.%c", letter);
    for (int i = 0; i < LONG_RECORDS; i++)
        zx_log_info (logger, "%s", payload);
    free (payload);
}

static void *
s_long_flooder (void *arg)
{
    s_long_lines (*(const char *) arg);
    return NULL;
}

static void
test_long_lines_from_threads_and_processes_never_interleave (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(name)s %(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    //  Processes first: a fork while threads log could copy a held lock
    static const char letters [] = "abcdefg";
    pid_t pids [3];
    for (int p = 0; p < 3; p++) {
        pids [p] = fork ();
        assert_true (pids [p] >= 0);
        if (pids [p] == 0) {
            s_long_lines (letters [p]);
            _exit (0);
        }
    }
    pthread_t threads [4];
    for (int t = 0; t < 4; t++)
        assert_int_equal (pthread_create (&threads [t], NULL, s_long_flooder,
                                          (void *) &letters [3 + t]), 0);
    for (int t = 0; t < 4; t++)
        pthread_join (threads [t], NULL);
    for (int p = 0; p < 3; p++) {
        int status;
        assert_int_equal (waitpid (pids [p], &status, 0), pids [p]);
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    char *text = s_capture_stop (&capture);
    int seen [7] = { 0 };
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save), lines++) {
        //  "long.X " then LONG_LINE times X
        assert_int_equal (strlen (line), 7 + LONG_LINE);
        assert_memory_equal (line, "long.", 5);
        char letter = line [5];
        assert_true (letter >= 'a' && letter <= 'g');
        assert_int_equal (line [6], ' ');
        for (size_t i = 7; i < 7 + LONG_LINE; i++)
            if (line [i] != letter)
                fail_msg ("a line of writer %c has a '%c' at byte %zu: lines mixed",
                          letter, line [i], i);
        seen [letter - 'a']++;
    }
    assert_int_equal (lines, 7 * LONG_RECORDS);
    for (int w = 0; w < 7; w++)
        assert_int_equal (seen [w], LONG_RECORDS);
    free (text);
}

static void
test_huge_message_comes_out_as_one_line (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(levelname)s:%(name)s:%(message)s|%(message)-3s|"),
                      ZX_OK);
    size_t size = 100000;
    char *message = (char *) malloc (size + 1);
    assert_non_null (message);
    for (size_t i = 0; i < size; i++)
        message [i] = (char) ('a' + i % 26);
    message [size] = 0;

    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("big"), "%s", message);
    char *text = s_capture_stop (&capture);

    size_t expected_size = strlen ("INFO:big:") + size + 1 + size + 2;
    assert_int_equal (strlen (text), expected_size);
    assert_int_equal (s_line_count (text), 1);
    assert_memory_equal (text, "INFO:big:", 9);
    assert_memory_equal (text + 9, message, size);
    assert_memory_equal (text + 9 + size, "|", 1);
    assert_memory_equal (text + 10 + size, message, size);
    assert_string_equal (text + 10 + 2 * size, "|\n");
    free (text);
    free (message);
}

static void
test_config_changes_race_safely_with_records (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO,
        "%(threadName)s %(name)s: %(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    flooder_t flooders [4];
    pthread_t threads [4];
    for (int t = 0; t < 4; t++) {
        flooders [t].index = t;
        assert_int_equal (pthread_create (&threads [t], NULL, s_flooder, &flooders [t]), 0);
    }
    //  Flip between two formats that render the same line
    for (int i = 0; i < 200; i++)
        assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, i % 2
            ? "%(threadName)s %(name)s: %(message)s"
            : "%(threadName)1s %(name)-1s: %(message)s"), ZX_OK);
    for (int t = 0; t < 4; t++)
        pthread_join (threads [t], NULL);
    char *text = s_capture_stop (&capture);
    s_check_flood (text, 4, FLOOD_RECORDS, "T%d flood.%d: record %d%n");
    free (text);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_threads_flooding_one_pipe_never_interleave),
    cmocka_unit_test (test_processes_flooding_one_pipe_never_interleave),
    cmocka_unit_test (test_long_lines_from_threads_and_processes_never_interleave),
    cmocka_unit_test (test_huge_message_comes_out_as_one_line),
    cmocka_unit_test (test_config_changes_race_safely_with_records),
};

ZX_TEST_MAIN (tests)
