/*  primes_tasks.c - the task behind distributed_primes.

    count_primes (lo, hi) counts the primes in [lo, hi) by trial division
    by odd numbers. That is slow on purpose: it is plain CPU work, a few
    seconds for [0, 10^7) on one core, so spreading it over threads,
    processes or machines shows. It returns two values: the count, and
    the label of the worker that ran it, "HOST:PID" for a process's main
    thread (process pools) or "HOST:PID/THREAD" for a pool thread.

    This file is built into distributed_primes, which thus runs it on its
    own thread and process pools, and as libzexec-primes.so, which
    `zexec-worker --tasks` loads to run it for a broker. ZX_TASK registers
    the task as the program starts or as the library loads.             */
#include <zexec.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool
s_is_prime (uint64_t n)
{
    if (n < 2)
        return false;
    if (n < 4)
        return true;
    if (n % 2 == 0)
        return false;
    //  32-bit division is much faster where it is enough
    if (n <= UINT32_MAX) {
        uint32_t m = (uint32_t) n;
        for (uint32_t d = 3; (uint64_t) d * d <= m; d += 2)
            if (m % d == 0)
                return false;
        return true;
    }
    for (uint64_t d = 3; d <= n / d; d += 2)
        if (n % d == 0)
            return false;
    return true;
}

ZX_TASK (count_primes)
{
    int64_t lo, hi;
    if (zx_call_arg_int (call, 0, &lo) || zx_call_arg_int (call, 1, &hi))
        return -1;
    if (lo < 0 || hi < lo)
        return zx_call_fail (call, "count_primes: need 0 <= lo <= hi, got [%lld, %lld)",
                             (long long) lo, (long long) hi);
    int64_t count = 0;
    for (int64_t n = lo; n < hi; n++) {
        //  Cooperative cancellation: the caller no longer wants the count
        if ((n & 0xFFFF) == 0 && zx_call_cancelled (call))
            return zx_call_fail (call, "count_primes: cancelled at %lld", (long long) n);
        count += s_is_prime ((uint64_t) n);
    }
    char host [256] = "";
    if (gethostname (host, sizeof host - 1) != 0 || !host [0])
        strcpy (host, "localhost");
    const char *thread = zx_thread_name ();
    char label [400];
    if (strcmp (thread, "MainThread") == 0)
        snprintf (label, sizeof label, "%s:%d", host, (int) getpid ());
    else
        snprintf (label, sizeof label, "%s:%d/%s", host, (int) getpid (), thread);
    if (zx_call_return_int (call, count)
    ||  zx_values_add_str (zx_call_result (call), label) != ZX_OK)
        return zx_call_fail (call, "count_primes: out of memory");
    return 0;
}
