/*  testutil.c - helpers shared by the tests. */
#define _GNU_SOURCE
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

int64_t
zx_test_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
