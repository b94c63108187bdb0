/*  test_zx_thread_pool.c - the thread pool: shared pool behaviour, plus
    what only threads show (CPython's thread names, the default executor). */
#include "pool_cases.h"

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

static const struct CMUnitTest tests [] = {
    POOL_CASES,
    cmocka_unit_test (test_worker_threads_are_named_as_cpython_names_them),
    cmocka_unit_test (test_null_executor_means_a_default_pool_made_on_first_use),
    cmocka_unit_test (test_a_pool_of_forty_workers_uses_them_all),
};

ZX_TEST_MAIN (tests)
