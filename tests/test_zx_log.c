/*  test_zx_log.c - the Python-style logger: formats, levels, loggers and
    their names, thread names, asctime, errno. (test_zx_log_floods.c:
    many writers at once; the ctest entries of both are test_zx_log.*.)

    Records are captured by pointing the logger at a pipe drained by a
    reader thread (testutil_log.h), so even records larger than the pipe's
    buffer arrive whole. Every test sets its own level and format; the one
    that checks the defaults runs first (and runs alone under ctest).    */
#define _GNU_SOURCE
#include "testutil_log.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEED_THREAD_FORMAT  "%(threadName)10s %(name)18s: %(message)s"
#define SEED_PROCESS_FORMAT "PID %(process)5s %(name)18s: %(message)s"

/*  ---------------------------------------------------------------------
    Tests                                                                 */

static void
test_defaults_are_python_root_logger_defaults (void **state)
{
    (void) state;
    assert_string_equal (zx__log_format (), "%(levelname)s:%(name)s:%(message)s");
    assert_int_equal (zx__log_level (), ZX_LOG_WARNING);

    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("quiet"), "not shown");
    zx_log_warning (zx_log_get ("loud"), "shown %d", 1);
    zx_log_error (NULL, "from root");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "WARNING:loud:shown 1\nERROR:root:from root\n");
    free (text);
}

static void
test_seed_thread_format_matches_python (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, SEED_THREAD_FORMAT), ZX_OK);
    assert_string_equal (zx__log_format (), SEED_THREAD_FORMAT);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("run_blocking_tasks"), "starting");
    zx_log_info (zx_log_get ("blocks(0)"), "running");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text,
        "MainThread run_blocking_tasks: starting\n"
        "MainThread          blocks(0): running\n");
    free (text);
}

static void
test_seed_process_format_prints_the_pid (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, SEED_PROCESS_FORMAT), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("run_blocking_tasks"), "starting");
    zx_log_info (zx_log_get ("blocks(0)"), "running");
    char *text = s_capture_stop (&capture);
    char expected [256];
    snprintf (expected, sizeof (expected),
              "PID %5d run_blocking_tasks: starting\n"
              "PID %5d          blocks(0): running\n",
              (int) getpid (), (int) getpid ());
    assert_string_equal (text, expected);
    free (text);
}

static void
test_minus_flag_justifies_left (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO,
        "[%(name)-10s][%(levelname)-8s][%(process)-8d]%(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("left"), "x");
    //  A value longer than the width is never cut
    zx_log_info (zx_log_get ("a_very_long_logger_name"), "y");
    char *text = s_capture_stop (&capture);
    char expected [256];
    snprintf (expected, sizeof (expected),
              "[left      ][INFO    ][%-8d]x\n"
              "[a_very_long_logger_name][INFO    ][%-8d]y\n",
              (int) getpid (), (int) getpid ());
    assert_string_equal (text, expected);
    free (text);
}

static void
test_precision_zero_pad_and_percent_literal (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO,
        "100%% %(name).3s|%(process)010d|%(levelno)s|%(levelno)+5d|%(message)s"),
        ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("run_blocking_tasks"), "%s", "ok");
    char *text = s_capture_stop (&capture);
    char expected [256];
    snprintf (expected, sizeof (expected), "100%% run|%010d|20|  +20|ok\n",
              (int) getpid ());
    assert_string_equal (text, expected);
    free (text);
}

static void
test_width_counts_characters_not_bytes (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "[%(name)5s][%(message).2s]"),
                      ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("caf\xc3\xa9"), "\xc3\xa9\xc3\xa9\xc3\xa9");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "[ caf\xc3\xa9][\xc3\xa9\xc3\xa9]\n");
    free (text);
}

static void
test_level_filters_records_below_it (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(levelname)s %(message)s"),
                      ZX_OK);
    assert_int_equal (zx__log_level (), ZX_LOG_INFO);
    zx_logger_t *logger = zx_log_get ("levels");
    capture_t capture;
    s_capture_start (&capture);
    zx_log_debug (logger, "hidden");
    zx_log_info (logger, "one");
    zx_log_warning (logger, "two");
    zx_log_error (logger, "three");
    zx_log (logger, ZX_LOG_CRITICAL, "four");
    zx_log (logger, (zx_log_level_t) 19, "hidden too");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "INFO one\nWARNING two\nERROR three\nCRITICAL four\n");
    free (text);

    assert_int_equal (zx_log_basic_config (ZX_LOG_ERROR, "%(levelname)s %(message)s"),
                      ZX_OK);
    s_capture_start (&capture);
    zx_log_warning (logger, "hidden");
    zx_log_error (logger, "shown");
    text = s_capture_stop (&capture);
    assert_string_equal (text, "ERROR shown\n");
    free (text);
}

static void
test_levelname_names_every_level (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_DEBUG, "%(levelname)s/%(levelno)d"),
                      ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_debug (NULL, "m");
    zx_log_info (NULL, "m");
    zx_log_warning (NULL, "m");
    zx_log_error (NULL, "m");
    zx_log (NULL, ZX_LOG_CRITICAL, "m");
    zx_log (NULL, (zx_log_level_t) 25, "m");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "DEBUG/10\nINFO/20\nWARNING/30\nERROR/40\n"
                               "CRITICAL/50\nLevel 25/25\n");
    free (text);
}

static void
test_malformed_formats_are_rejected_and_old_one_kept (void **state)
{
    (void) state;
    const char *good = "good %(name)s %(message)s";
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, good), ZX_OK);
    const char *bad [] = {
        "%(nosuch)s",               //  Unknown field
        "%(thread)d",               //  Not supported
        "%(name",                   //  Missing ')'
        "%(name)",                  //  Missing conversion
        "%(name)-18",               //  Missing conversion after width
        "%(name)q",                 //  Unknown conversion
        "%(message)d",              //  'd' on a string field
        "%(name)*s",                //  '*' width needs a tuple in Python
        "%(name)999999999s",        //  Absurd width
        "%s %(name)s",              //  Conversion without a field
        "%(name)s 100%",            //  Trailing lone '%'
        "no fields at all",         //  Python's Formatter rejects it too
        "%%",
        "%()s"
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        assert_int_equal (zx_log_basic_config (ZX_LOG_DEBUG, bad [i]), ZX_EINVAL);
        assert_string_equal (zx__log_format (), good);
        assert_int_equal (zx__log_level (), ZX_LOG_INFO);
    }
    capture_t capture;
    s_capture_start (&capture);
    zx_log_debug (zx_log_get ("kept"), "hidden");
    zx_log_info (zx_log_get ("kept"), "still");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "good kept still\n");
    free (text);
}

static void
test_null_and_empty_formats_follow_python (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, NULL), ZX_OK);
    assert_string_equal (zx__log_format (), "%(levelname)s:%(name)s:%(message)s");
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, ""), ZX_OK);
    assert_string_equal (zx__log_format (), "%(message)s");
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_get ("x"), "bare");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "bare\n");
    free (text);
}

static void
test_same_name_gives_same_logger (void **state)
{
    (void) state;
    zx_logger_t *a = zx_log_get ("same");
    assert_non_null (a);
    assert_ptr_equal (zx_log_get ("same"), a);
    assert_ptr_not_equal (zx_log_get ("other"), a);
    char name [] = "same";          //  A different buffer, same name
    assert_ptr_equal (zx_log_get (name), a);
    //  As Python's getLogger: None, "" and "root" are the root logger
    assert_non_null (zx_log_get (NULL));
    assert_ptr_equal (zx_log_get (""), zx_log_get (NULL));
    assert_ptr_equal (zx_log_get ("root"), zx_log_get (NULL));
    //  Many names land in every hash bucket and stay distinct
    zx_logger_t *loggers [1000];
    for (int i = 0; i < 1000; i++) {
        loggers [i] = zx_log_getf ("many.%d", i);
        assert_non_null (loggers [i]);
    }
    for (int i = 0; i < 1000; i++) {
        assert_ptr_equal (zx_log_getf ("many.%d", i), loggers [i]);
        if (i)
            assert_ptr_not_equal (loggers [i], loggers [i - 1]);
    }
}

typedef struct {
    zx_logger_t *loggers [200];
} getter_t;

static void *
s_getter (void *arg)
{
    getter_t *self = (getter_t *) arg;
    for (int i = 0; i < 200; i++)
        self->loggers [i] = zx_log_getf ("race.%d", i);
    return NULL;
}

static void
test_same_logger_across_racing_threads (void **state)
{
    (void) state;
    getter_t getters [8];
    pthread_t threads [8];
    for (int t = 0; t < 8; t++)
        assert_int_equal (pthread_create (&threads [t], NULL, s_getter, &getters [t]), 0);
    for (int t = 0; t < 8; t++)
        pthread_join (threads [t], NULL);
    for (int i = 0; i < 200; i++) {
        assert_non_null (getters [0].loggers [i]);
        for (int t = 1; t < 8; t++)
            assert_ptr_equal (getters [t].loggers [i], getters [0].loggers [i]);
    }
}

static void
test_getf_formats_the_name (void **state)
{
    (void) state;
    assert_ptr_equal (zx_log_getf ("blocks(%d)", 3), zx_log_get ("blocks(3)"));
    //  A name longer than getf's stack buffer
    char long_name [1001];
    memset (long_name, 'n', 1000);
    long_name [1000] = 0;
    assert_ptr_equal (zx_log_getf ("%s", long_name), zx_log_get (long_name));

    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(name)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    zx_log_info (zx_log_getf ("blocks(%d)", 3), "m");
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "blocks(3)\n");
    free (text);
}

typedef struct {
    const char *set_name;       //  Name to set, or NULL to keep the default
    char name [80];             //  zx_thread_name () as the thread saw it
} namer_t;

static void *
s_namer (void *arg)
{
    namer_t *self = (namer_t *) arg;
    if (self->set_name)
        zx_thread_set_name (self->set_name);
    snprintf (self->name, sizeof (self->name), "%s", zx_thread_name ());
    zx_log_info (zx_log_get ("blocks(0)"), "running");
    return NULL;
}

static void
test_thread_names_show_in_records (void **state)
{
    (void) state;
    assert_string_equal (zx_thread_name (), "MainThread");
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, SEED_THREAD_FORMAT), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    //  One after the other, so the default names are numbered in order
    namer_t namers [3] = {
        { NULL, "" }, { NULL, "" }, { "ThreadPoolExecutor-0_0", "" }
    };
    for (int t = 0; t < 3; t++) {
        pthread_t thread;
        assert_int_equal (pthread_create (&thread, NULL, s_namer, &namers [t]), 0);
        pthread_join (thread, NULL);
    }
    char *text = s_capture_stop (&capture);

    unsigned first, second;
    assert_int_equal (sscanf (namers [0].name, "Thread-%u", &first), 1);
    assert_int_equal (sscanf (namers [1].name, "Thread-%u", &second), 1);
    assert_true (first >= 1);
    assert_int_equal (second, first + 1);
    assert_string_equal (namers [2].name, "ThreadPoolExecutor-0_0");

    char expected [512];
    snprintf (expected, sizeof (expected),
              "%10s          blocks(0): running\n"
              "%10s          blocks(0): running\n"
              "ThreadPoolExecutor-0_0          blocks(0): running\n",
              namers [0].name, namers [1].name);
    assert_string_equal (text, expected);
    free (text);
    assert_string_equal (zx_thread_name (), "MainThread");
}

static void
test_thread_set_name_truncates_to_63_bytes (void **state)
{
    (void) state;
    namer_t namer = { NULL, "" };
    char long_name [100];
    memset (long_name, 'x', 99);
    long_name [99] = 0;
    namer.set_name = long_name;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(threadName)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_namer, &namer), 0);
    pthread_join (thread, NULL);
    char *text = s_capture_stop (&capture);
    assert_int_equal (strlen (namer.name), 63);
    assert_memory_equal (namer.name, long_name, 63);
    assert_int_equal (strlen (text), 64);
    free (text);
}

static void
test_asctime_has_python_default_shape (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(asctime)s %(message)s"),
                      ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    time_t before = time (NULL);
    zx_log_info (NULL, "tick");
    time_t after = time (NULL);
    char *text = s_capture_stop (&capture);

    //  "YYYY-MM-DD HH:MM:SS,mmm tick\n"
    const char *shape = "dddd-dd-dd dd:dd:dd,ddd tick\n";
    assert_int_equal (strlen (text), strlen (shape));
    for (size_t i = 0; shape [i]; i++) {
        if (shape [i] == 'd')
            assert_true (text [i] >= '0' && text [i] <= '9');
        else
            assert_int_equal (text [i], shape [i]);
    }
    struct tm tm;
    memset (&tm, 0, sizeof (tm));
    int msecs;
    assert_int_equal (sscanf (text, "%d-%d-%d %d:%d:%d,%d", &tm.tm_year, &tm.tm_mon,
                              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                              &msecs), 7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t logged = mktime (&tm);
    assert_true (logged >= before - 1 && logged <= after + 1);
    assert_true (msecs >= 0 && msecs <= 999);
    free (text);
}

static void
test_logging_keeps_errno (void **state)
{
    (void) state;
    assert_int_equal (zx_log_basic_config (ZX_LOG_INFO, "%(message)s"), ZX_OK);
    capture_t capture;
    s_capture_start (&capture);
    errno = ENOENT;
    zx_log_info (NULL, "errno survives");
    assert_int_equal (errno, ENOENT);
    //  Even when the write fails
    int old = zx_log_set_fd (-1);
    errno = EAGAIN;
    zx_log_info (NULL, "dropped");
    assert_int_equal (errno, EAGAIN);
    zx_log_set_fd (old);
    char *text = s_capture_stop (&capture);
    assert_string_equal (text, "errno survives\n");
    free (text);
}

static const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_defaults_are_python_root_logger_defaults),
    cmocka_unit_test (test_seed_thread_format_matches_python),
    cmocka_unit_test (test_seed_process_format_prints_the_pid),
    cmocka_unit_test (test_minus_flag_justifies_left),
    cmocka_unit_test (test_precision_zero_pad_and_percent_literal),
    cmocka_unit_test (test_width_counts_characters_not_bytes),
    cmocka_unit_test (test_level_filters_records_below_it),
    cmocka_unit_test (test_levelname_names_every_level),
    cmocka_unit_test (test_malformed_formats_are_rejected_and_old_one_kept),
    cmocka_unit_test (test_null_and_empty_formats_follow_python),
    cmocka_unit_test (test_same_name_gives_same_logger),
    cmocka_unit_test (test_same_logger_across_racing_threads),
    cmocka_unit_test (test_getf_formats_the_name),
    cmocka_unit_test (test_thread_names_show_in_records),
    cmocka_unit_test (test_thread_set_name_truncates_to_63_bytes),
    cmocka_unit_test (test_asctime_has_python_default_shape),
    cmocka_unit_test (test_logging_keeps_errno),
};

ZX_TEST_MAIN (tests)
