/*  zx_spawn.c - starting process workers: fork, then exec at once.

    DESIGN: a process that holds a ZeroMQ context must never go on running
    in a forked copy (the context's threads do not survive fork). So the
    child does nothing between fork and exec but async-signal-safe calls:
    ask the kernel to kill it when its parent dies, check that the parent
    did not already die, and exec this same program, which sees
    ZEXEC_WORKER_ENDPOINT in its environment and becomes a worker in
    zx_init. Everything the child needs is prepared before fork.         */

#define _GNU_SOURCE
#include "zx_pool_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

extern char **environ;

//  Reads /proc/self/cmdline into a NULL-terminated argv. Caller frees
//  *buffer and the returned array.
static char **
s_read_argv (char **buffer)
{
    int fd = open ("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t size = 0, cap = 4096;
    char *data = malloc (cap + 1);
    ssize_t n;
    while (data && (n = read (fd, data + size, cap - size)) > 0) {
        size += (size_t) n;
        if (size == cap) {
            char *grown = realloc (data, (cap *= 2) + 1);
            if (!grown) {
                free (data);
                data = NULL;
            }
            else
                data = grown;
        }
    }
    close (fd);
    if (!data)
        return NULL;
    data [size] = 0;
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        count += data [i] == 0;
    char **argv = calloc (count + 2, sizeof (char *));
    if (!argv) {
        free (data);
        return NULL;
    }
    size_t index = 0;
    for (size_t at = 0; at < size; at += strlen (data + at) + 1)
        argv [index++] = data + at;
    if (index == 0)
        argv [index++] = data;
    argv [index] = NULL;
    *buffer = data;
    return argv;
}

pid_t
zx__spawn_self (char *const extra_env [])
{
    char exe [4096];
    ssize_t length = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0)
        return -1;
    exe [length] = 0;
    char *argv_buffer = NULL;
    char **argv = s_read_argv (&argv_buffer);
    if (!argv)
        return -1;
    //  The child's environment: ours, less any stale worker settings, plus extra
    size_t ours = 0, extra = 0;
    while (environ [ours])
        ours++;
    while (extra_env [extra])
        extra++;
    char **envp = calloc (ours + extra + 1, sizeof (char *));
    if (!envp) {
        free (argv);
        free (argv_buffer);
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < ours; i++)
        if (strncmp (environ [i], "ZEXEC_WORKER_", 13) && strncmp (environ [i], "ZEXEC_LOG_", 10))
            envp [count++] = environ [i];
    for (size_t i = 0; i < extra; i++)
        envp [count++] = extra_env [i];
    envp [count] = NULL;

    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (126);
        execve (exe, argv, envp);
        _exit (127);
    }
    int saved = errno;
    free (envp);
    free (argv);
    free (argv_buffer);
    errno = saved;
    return pid;
}

int
zx__pidfd_open (pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int) syscall (SYS_pidfd_open, pid, 0);
#else
    (void) pid;
    errno = ENOSYS;
    return -1;
#endif
}
