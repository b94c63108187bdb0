/*  testutil.c - helpers shared by the tests.

    The one idea of its fixture: the fixture, not the test, owns every
    process and file a test makes. Processes go into one list that the
    teardown empties whatever happened, and files into one scratch
    directory that it removes; so a test that fails half-way leaves
    nothing running and nothing behind, and shows the logs of what it
    started.                                                            */
#define _GNU_SOURCE
#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

int64_t
zx_test_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint8_t *
zx_test_heap_copy (const void *data, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    assert_non_null (copy);
    if (data && size)
        memcpy (copy, data, size);
    return copy;
}

void
zx_test_loop_finish (zx_loop_t **loop_p)
{
    assert_int_equal (zx_sleep (5), ZX_OK);
    zx_loop_destroy (loop_p);
    assert_null (*loop_p);
}

int
zx_test_run (int argc, char **argv, struct CMUnitTest *tests, size_t count,
             CMFixtureFunction setup, CMFixtureFunction teardown)
{
    for (size_t i = 0; i < count; i++) {
        if (setup)
            tests [i].setup_func = setup;
        if (teardown)
            tests [i].teardown_func = teardown;
    }
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    //  The name cmocka_run_group_tests (tests, ...) would print
    return _cmocka_run_group_tests ("tests", tests, count, NULL, NULL);
}

int
zx_test_run_capture (char *const argv [], char **output)
{
    int fds [2];
    if (pipe (fds))
        return -1;
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2 (fds [1], 1);
        dup2 (fds [1], 2);
        close (fds [0]);
        close (fds [1]);
        execv (argv [0], argv);
        _exit (127);
    }
    close (fds [1]);
    size_t size = 0, cap = 4096;
    char *buf = malloc (cap);
    ssize_t n;
    while ((n = read (fds [0], buf + size, cap - size - 1)) > 0) {
        size += (size_t) n;
        if (cap - size < 1024)
            buf = realloc (buf, cap *= 2);
    }
    buf [size] = 0;
    close (fds [0]);
    int status = 0;
    waitpid (pid, &status, 0);
    *output = buf;
    return status;
}

//  --------------------------------------------------------------------
//  Futures

zx_future_t *
zx_test_submit (zx_loop_t *loop, zx_executor_t *executor, const char *task, zx_values_t *args)
{
    zx_future_t *future = zx_run_in_executor (loop, executor, task, args);
    assert_non_null (future);
    return future;
}

void
zx_test_wait_all (zx_future_t **futures, size_t count, int64_t timeout_ms)
{
    size_t done = 0;
    assert_int_equal (zx_wait (futures, count, ZX_ALL_COMPLETED, timeout_ms, NULL, &done,
                               NULL, NULL), ZX_OK);
    if (done != count)
        fail_msg ("only %zu of %zu futures finished within %lld ms", done, count,
                  (long long) timeout_ms);
}

void
zx_test_touch (const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file)
        fail_msg ("cannot create %s", path);
    fclose (file);
}

bool
zx_test_wait_file (const char *path, int64_t timeout_ms)
{
    struct stat info;
    int64_t until = zx_test_now_ms () + timeout_ms;
    while (stat (path, &info) != 0) {
        if (zx_test_now_ms () >= until)
            return false;
        zx_sleep (2);
    }
    return true;
}

bool
zx_test_wait_done (zx_future_t *future, int64_t timeout_ms)
{
    size_t done = 0;
    zx_wait (&future, 1, ZX_ALL_COMPLETED, timeout_ms, NULL, &done, NULL, NULL);
    return done == 1;
}

int64_t
zx_test_result_int (const zx_future_t *future, size_t index)
{
    if (zx_future_error (future) != ZX_OK)
        fail_msg ("future failed: %s: %s", zx_strerror (zx_future_error (future)),
                  zx_future_message (future));
    int64_t value = 0;
    assert_int_equal (zx_values_get_int (zx_future_result (future), index, &value), ZX_OK);
    return value;
}

void
zx_test_destroy_all (zx_future_t **futures, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zx_future_destroy (&futures [i]);
}

zx_future_t *
zx_test_run_one (zx_loop_t *loop, zx_executor_t *executor, const char *task, int64_t arg,
                 int64_t timeout_ms)
{
    zx_future_t *future = zx_test_submit (loop, executor, task, zx_values_pack ("i", arg));
    size_t done = 0;
    zx_wait (&future, 1, ZX_ALL_COMPLETED, timeout_ms, NULL, &done, NULL, NULL);
    return future;
}

void
zx_test_submit_many (zx_loop_t *loop, zx_executor_t *executor, zx_future_t **futures,
                     int count, const char *task, int64_t arg)
{
    for (int i = 0; i < count; i++)
        futures [i] = zx_test_submit (loop, executor, task, zx_values_pack ("i", arg));
}

void
zx_test_submit_squares (zx_loop_t *loop, zx_executor_t *executor, zx_future_t **futures,
                        int count)
{
    for (int i = 0; i < count; i++)
        futures [i] = zx_test_submit (loop, executor, "square", zx_values_pack ("i", (int64_t) i));
}

void
zx_test_check_squares (zx_future_t **futures, int count, int64_t timeout_ms, pid_t pid)
{
    zx_test_wait_all (futures, (size_t) count, timeout_ms);
    for (int i = 0; i < count; i++) {
        assert_int_equal (zx_test_result_int (futures [i], 0), (int64_t) i * i);
        if (pid)
            assert_int_equal (zx_test_result_int (futures [i], 1), pid);
    }
    zx_test_destroy_all (futures, (size_t) count);
}

//  --------------------------------------------------------------------
//  Child processes and their logs

//  Passes ms between two polls: zx_sleep runs the current loop, if any
static void
s_nap (int64_t ms, bool run_loop)
{
    if (run_loop)
        zx_sleep (ms);
    else
        usleep ((useconds_t) ms * 1000);
}

void
zx_test_spawn (zx_test_child_t *child, const char *prefix, const char *const argv [])
{
    static unsigned serial;
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (child->log, sizeof child->log, "%s/zexec-%s-%d-%u.log", tmp, prefix,
              (int) getpid (), ++serial);
    int fd = open (child->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true (fd >= 0 && null >= 0);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (null, 0);
        dup2 (fd, 1);
        dup2 (fd, 2);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (fd);
    close (null);
    assert_true (pid > 0);
    child->pid = pid;
    child->status = 0;
}

bool
zx_test_alive (zx_test_child_t *child)
{
    if (child->pid > 0) {
        pid_t rc = waitpid (child->pid, &child->status, WNOHANG);
        if (rc == child->pid || (rc < 0 && errno == ECHILD))
            child->pid = 0;
    }
    return child->pid > 0;
}

static int
s_wait (zx_test_child_t *child, int64_t timeout_ms, bool run_loop)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_test_alive (child)) {
        if (zx_test_now_ms () > deadline)
            return -1;
        s_nap (5, run_loop);
    }
    return child->status;
}

int
zx_test_stop (zx_test_child_t *child, int sig, int64_t timeout_ms)
{
    if (zx_test_alive (child))
        kill (child->pid, sig);
    return s_wait (child, timeout_ms, false);
}

int
zx_test_wait_running (zx_test_child_t *child, int64_t timeout_ms)
{
    return s_wait (child, timeout_ms, true);
}

void
zx_test_reap (zx_test_child_t *child, bool show)
{
    if (child->pid > 0) {
        kill (child->pid, SIGKILL);
        waitpid (child->pid, &child->status, 0);
        child->pid = 0;
    }
    if (!child->log [0])
        return;
    if (show) {
        char *text = zx_test_read_file (child->log);
        size_t size = strlen (text);
        fprintf (stderr, "---- %s (last 6 KiB) ----\n%s\n", child->log,
                 size > 6144 ? text + size - 6144 : text);
        free (text);
    }
    unlink (child->log);
    child->log [0] = 0;
}

//  --------------------------------------------------------------------
//  The fixture: the test's processes and scratch directory

#define MAX_CHILDREN    256     //  test_scale starts 200 workers

static zx_test_child_t s_children [MAX_CHILDREN];
static size_t s_child_count;
static bool s_passed;
static char s_scratch [256];


int
zx_test_setup (void **state)
{
    (void) state;
    s_passed = false;
    s_child_count = 0;
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_scratch, sizeof s_scratch, "%s/zexec-%s-XXXXXX", tmp,
              program_invocation_short_name);
    return mkdtemp (s_scratch) ? 0 : -1;
}

//  Removes one entry of the scratch directory, even one a test made
//  unreadable
static int
s_remove (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    chmod (path, 0700);
    return remove (path);
}

int
zx_test_teardown (void **state)
{
    (void) state;
    bool show = !s_passed || getenv ("ZX_SHOW_LOGS");
    for (size_t i = 0; i < s_child_count; i++)
        zx_test_reap (&s_children [i], show);
    s_child_count = 0;
    if (s_scratch [0])
        nftw (s_scratch, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    s_scratch [0] = 0;
    return 0;
}

void
zx_test_pass (void)
{
    s_passed = true;
}

const char *
zx_test_scratch (void)
{
    assert_true (s_scratch [0]);
    return s_scratch;
}

void
zx_test_scratch_path (char *path, size_t size, const char *name)
{
    int length = snprintf (path, size, "%s/%s", zx_test_scratch (), name);
    assert_true (length > 0 && (size_t) length < size);
}

zx_test_child_t *
zx_test_peer_spawn (const char *const argv [])
{
    assert_true (s_child_count < MAX_CHILDREN);
    zx_test_child_t *child = &s_children [s_child_count++];
    zx_test_spawn (child, program_invocation_short_name, argv);
    return child;
}

int
zx_test_peer_stop (zx_test_child_t *child, int sig, int64_t timeout_ms)
{
    assert_true (child->pid > 0);
    kill (child->pid, sig);
    pid_t pid = child->pid;
    int status = zx_test_wait_running (child, timeout_ms);
    if (status < 0) {
        zx_test_stop (child, SIGKILL, 5000);
        fail_msg ("process %d did not exit within %lld ms of signal %d", (int) pid,
                  (long long) timeout_ms, sig);
    }
    return status;
}

void
zx_test_peer_stop_cleanly (zx_test_child_t *child, const char *what, int64_t timeout_ms)
{
    if (!zx_test_alive (child))
        fail_msg ("%s had already ended (status 0x%x)", what, child->status);
    kill (child->pid, SIGTERM);
    int status = zx_test_wait_running (child, timeout_ms);
    if (status < 0)
        fail_msg ("%s did not exit within %lld ms of SIGTERM", what, (long long) timeout_ms);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("%s did not exit cleanly after SIGTERM (status 0x%x)", what, status);
}

char *
zx_test_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    size_t size = 0, cap = 4096;
    char *text = malloc (cap);
    assert_non_null (text);
    while (file && !feof (file) && !ferror (file)) {
        if (cap - size < 1024) {
            text = realloc (text, cap *= 2);
            assert_non_null (text);
        }
        size += fread (text + size, 1, cap - size - 1, file);
    }
    text [size] = 0;
    if (file)
        fclose (file);
    return text;
}

void
zx_test_expect_log (const char *path, const char *text, const char *more, int count)
{
    if (!zx_test_log_wait (path, text, more, count, 10000))
        fail_msg ("expected %d log lines with '%s'%s%s%s, found %d", count, text,
                  more ? " and '" : "", more ? more : "", more ? "'" : "",
                  zx_test_log_count (path, text, more));
}

int
zx_test_log_count (const char *path, const char *text, const char *more)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [4096];
    int count = 0;
    while (fgets (line, sizeof line, file))
        if (strstr (line, text) && (!more || strstr (line, more)))
            count++;
    fclose (file);
    return count;
}

static bool
s_log_wait (const char *path, const char *text, const char *more, int count,
            int64_t timeout_ms, bool run_loop)
{
    int64_t deadline = zx_test_now_ms () + timeout_ms;
    while (zx_test_log_count (path, text, more) < count) {
        if (zx_test_now_ms () > deadline)
            return false;
        s_nap (10, run_loop);
    }
    return true;
}

bool
zx_test_log_wait (const char *path, const char *text, const char *more, int count,
                  int64_t timeout_ms)
{
    return s_log_wait (path, text, more, count, timeout_ms, false);
}

bool
zx_test_log_wait_running (const char *path, const char *text, const char *more,
                          int count, int64_t timeout_ms)
{
    return s_log_wait (path, text, more, count, timeout_ms, true);
}

int
zx_test_tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    return fd;
}

long
zx_test_rss_kib (pid_t pid)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long kib = -1;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (file)
        fclose (file);
    return kib;
}

char
zx_test_proc_state (pid_t pid)
{
    char path [64], text [512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t size = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [size] = 0;
    //  After the name, which may hold anything, parentheses included
    const char *close_paren = strrchr (text, ')');
    return close_paren && close_paren [1] == ' ' ? close_paren [2] : 0;
}

void
zx_test_wait_stopped_and_dropped (pid_t pid, const char *broker_log)
{
    int64_t start = zx_test_now_ms ();
    while (zx_test_proc_state (pid) != 'T' && zx_test_now_ms () - start < 10000)
        usleep (10000);
    if (zx_test_proc_state (pid) != 'T')
        fail_msg ("process %d did not stop within 10 s", (int) pid);
    start = zx_test_now_ms ();
    while (!zx_test_log_wait (broker_log, "dropped: it does not read its replies", NULL, 1, 100)
    &&     !zx_test_log_wait (broker_log, "gone (not heard from)", NULL, 1, 100))
        if (zx_test_now_ms () - start > 30000)
            fail_msg ("the broker did not drop the stopped coordinator within 30 s");
}

long
zx_test_peak_rss_kib (pid_t pid)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long kib = -1;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (file)
        fclose (file);
    return kib;
}

size_t
zx_test_children (pid_t *pids, size_t size)
{
    size_t count = 0;
    DIR *dir = opendir ("/proc");
    assert_non_null (dir);
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        char *end;
        long pid = strtol (entry->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path [64], text [512] = "";
        snprintf (path, sizeof path, "/proc/%ld/stat", pid);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t length = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text [length] = 0;
        char *after = strrchr (text, ')');
        char state;
        int ppid;
        if (after && sscanf (after + 1, " %c %d", &state, &ppid) == 2
        &&  ppid == (int) getpid ()) {
            if (count < size)
                pids [count] = (pid_t) pid;
            count++;
        }
    }
    closedir (dir);
    return count;
}

void
zx_test_expect_squares (zx_loop_t *loop, zx_executor_t *executor, int64_t *next,
                        int count, pid_t worker, pid_t other, const char *after)
{
    zx_future_t **futures = calloc ((size_t) count, sizeof (zx_future_t *));
    assert_non_null (futures);
    int64_t first = *next;
    for (int i = 0; i < count; i++)
        futures [i] = zx_test_submit (loop, executor, "square", zx_values_pack ("i", (*next)++));
    size_t done = 0;
    assert_int_equal (zx_wait (futures, (size_t) count, ZX_ALL_COMPLETED, 10000, NULL, &done,
                               NULL, NULL), ZX_OK);
    if (done != (size_t) count)
        fail_msg ("after %s only %zu of %d good tasks finished in 10 s", after, done, count);
    for (int i = 0; i < count; i++) {
        if (zx_future_error (futures [i]) != ZX_OK)
            fail_msg ("after %s a good task failed: %s: %s", after,
                      zx_strerror (zx_future_error (futures [i])),
                      zx_future_message (futures [i]));
        int64_t square = 0, pid = 0;
        assert_int_equal (zx_values_get_int (zx_future_result (futures [i]), 0, &square), ZX_OK);
        assert_int_equal (zx_values_get_int (zx_future_result (futures [i]), 1, &pid), ZX_OK);
        assert_int_equal (square, (first + i) * (first + i));
        if (pid != worker && (other == 0 || pid != other))
            fail_msg ("after %s a good task ran in process %lld, not the good worker",
                      after, (long long) pid);
        zx_future_destroy (&futures [i]);
    }
    free (futures);
}
