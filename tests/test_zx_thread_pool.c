/*  test_zx_thread_pool.c - the thread pool: shared pool behaviour, plus
    what only threads show (CPython's thread names, the default executor). */
#include "pool_cases.h"
#include <dirent.h>

static zx_executor_t *
s_pool_new (const zx_executor_opts_t *opts)
{
    return zx_thread_pool_new (opts);
}

static void
test_worker_threads_are_named_as_cpython_names_them (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 2, .window = 1 });
    zx_future_t *futures [2];
    zx_test_submit_many (loop, pool, futures, 2, "sleep_ms", 50);
    zx_test_wait_all (futures, 2, WAIT_MS);
    for (int i = 0; i < 2; i++) {
        const char *name;
        assert_int_equal (zx_values_get_str (zx_future_result (futures [i]), 1, &name), ZX_OK);
        int pool_number, index;
        char tail;
        assert_int_equal (sscanf (name, "ThreadPoolExecutor-%d_%d%c", &pool_number, &index, &tail), 2);
        assert_true (index == 0 || index == 1);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&pool);

    pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 1,
                                                       .thread_name_prefix = "crunch" });
    zx_future_t *future = zx_test_submit (loop, pool, "whoami", NULL);
    assert_int_equal (zx_await (future), ZX_OK);
    const char *name;
    zx_values_get_str (zx_future_result (future), 1, &name);
    assert_string_equal (name, "crunch_0");
    zx_future_destroy (&future);
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

static void
test_null_executor_means_a_default_pool_made_on_first_use (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_future_t *first = zx_run_in_executor (loop, NULL, "whoami", NULL);
    zx_future_t *second = zx_run_in_executor (loop, NULL, "square", zx_values_pack ("i", (int64_t) 9));
    assert_int_equal (zx_await (first), ZX_OK);
    assert_int_equal (zx_await (second), ZX_OK);
    const char *name;
    zx_values_get_str (zx_future_result (first), 1, &name);
    assert_non_null (strstr (name, "ThreadPoolExecutor-"));
    int64_t value;
    zx_future_result_int (second, &value);
    assert_int_equal (value, 81);
    //  Made once: later work runs on the same pool ("ThreadPoolExecutor-N_")
    char pool_name [64];
    snprintf (pool_name, sizeof pool_name, "%s", name);
    assert_non_null (strchr (pool_name, '_'));
    strchr (pool_name, '_') [1] = 0;
    for (int i = 0; i < 20; i++) {
        zx_future_t *later = zx_run_in_executor (loop, NULL, "whoami", NULL);
        assert_int_equal (zx_await (later), ZX_OK);
        const char *later_name;
        assert_int_equal (zx_values_get_str (zx_future_result (later), 1, &later_name), ZX_OK);
        assert_memory_equal (later_name, pool_name, strlen (pool_name));
        zx_future_destroy (&later);
    }
    zx_future_destroy (&first);
    zx_future_destroy (&second);
    zx_loop_destroy (&loop);        //  Also destroys the default pool
}

//  Regression: the dispatcher's worker table lost its capacity when
//  realloc grew it in place, and wrote past it from the 13th worker on
static void
test_a_pool_of_forty_workers_uses_them_all (void **state)
{
    (void) state;
    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 40, .window = 1 });
    zx_future_t *futures [40];
    zx_test_submit_many (loop, pool, futures, 40, "sleep_ms", 100);
    zx_test_wait_all (futures, 40, WAIT_MS);
    int64_t serials [40];
    for (int i = 0; i < 40; i++) {
        assert_int_equal (zx_future_error (futures [i]), ZX_OK);
        zx_values_get_int (zx_future_result (futures [i]), 2, &serials [i]);
        for (int j = 0; j < i; j++)
            assert_true (serials [j] != serials [i]);
        zx_future_destroy (&futures [i]);
    }
    zx_executor_destroy (&pool);
    zx_loop_destroy (&loop);
}

//  Whether a thread of this process has name for the kernel (its comm).
static bool
s_has_thread_named (const char *name)
{
    DIR *tasks = opendir ("/proc/self/task");
    assert_non_null (tasks);
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir (tasks))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [300], comm [64] = "";
        snprintf (path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen (path, "r");
        if (file) {
            if (fgets (comm, sizeof comm, file))
                comm [strcspn (comm, "\n")] = 0;
            fclose (file);
        }
        found = strcmp (comm, name) == 0;
    }
    closedir (tasks);
    return found;
}

//  What top -H, ps -L and perf show: each pool thread's name, cut to the
//  kernel's 15 bytes keeping its last "-part"; the flusher's; and the
//  main thread keeps the program's name, whatever zexec calls it
static void
test_worker_threads_are_named_for_the_kernel_too (void **state)
{
    (void) state;
    char program [64] = "";
    FILE *file = fopen ("/proc/self/comm", "r");
    assert_non_null (file);
    assert_non_null (fgets (program, sizeof program, file));
    fclose (file);
    program [strcspn (program, "\n")] = 0;
    zx_thread_set_name ("MainThread");

    zx_loop_t *loop = zx_loop_new ();
    zx_executor_t *pool = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 1,
                                                            .thread_name_prefix = "crunch" });
    zx_executor_t *long_named = zx_thread_pool_new (&(zx_executor_opts_t) { .max_workers = 1 });
    zx_future_t *futures [2] = { zx_test_submit (loop, pool, "whoami", NULL),
                                 zx_test_submit (loop, long_named, "whoami", NULL) };
    zx_test_wait_all (futures, 2, WAIT_MS);
    assert_true (s_has_thread_named ("crunch_0"));
    //  "ThreadPoolExecutor-N_0": too long; the head is cut, not the number
    const char *name;
    assert_int_equal (zx_values_get_str (zx_future_result (futures [1]), 1, &name), ZX_OK);
    const char *tail = strrchr (name, '-');
    assert_non_null (tail);
    char expected [16];
    snprintf (expected, sizeof expected, "%.*s%s", (int) (15 - strlen (tail)), name, tail);
    assert_true (strlen (name) > 15 && strlen (expected) == 15);
    assert_true (s_has_thread_named (expected));
    assert_true (s_has_thread_named ("zexec-flusher"));
    assert_true (s_has_thread_named (program));
    for (int i = 0; i < 2; i++)
        zx_future_destroy (&futures [i]);
    zx_executor_destroy (&pool);
    zx_executor_destroy (&long_named);
    zx_loop_destroy (&loop);
}

static const struct CMUnitTest tests [] = {
    POOL_CASES,
    cmocka_unit_test (test_worker_threads_are_named_as_cpython_names_them),
    cmocka_unit_test (test_worker_threads_are_named_for_the_kernel_too),
    cmocka_unit_test (test_null_executor_means_a_default_pool_made_on_first_use),
    cmocka_unit_test (test_a_pool_of_forty_workers_uses_them_all),
};

ZX_TEST_MAIN (tests)
