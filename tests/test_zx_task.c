/*  test_zx_task.c - the task registry and running a task in a call.

    DESIGN: the registry is process-wide, so every test registers under
    names of its own. Tasks are run directly with zx__task_invoke, the way
    a worker runs them, and the tests check the exact error messages the
    caller's future will carry.                                           */
#include "testutil.h"
#include "zx_task.h"
#include "zx_values.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ZX_TASK_DUP_PROGRAM
#   error "ZX_TASK_DUP_PROGRAM must name the task_dup program (tests/CMakeLists.txt)"
#endif

ZX_TASK (square)
{
    int64_t n;
    if (zx_call_arg_int (call, 0, &n))
        return -1;
    return zx_call_return_int (call, n * n);
}

static int
s_task_one (zx_call_t *call)
{
    return zx_call_return_int (call, 1);
}

static int
s_task_two (zx_call_t *call)
{
    return zx_call_return_int (call, 2);
}

static int
s_task_add_str_int (zx_call_t *call)
{
    const char *s;
    int64_t n;
    if (zx_call_arg_str (call, 0, &s) || zx_call_arg_int (call, 1, &n))
        return -1;
    return zx_call_return_int (call, (int64_t) strlen (s) + n);
}

static int
s_task_half (zx_call_t *call)
{
    double d;
    if (zx_call_arg_double (call, 0, &d))
        return -1;
    zx_values_add_double (zx_call_result (call), d / 2);
    return 0;
}

static int
s_task_bytes_length (zx_call_t *call)
{
    const void *data;
    size_t size;
    if (zx_call_arg_bytes (call, 0, &data, &size))
        return -1;
    return zx_call_return_int (call, (int64_t) size);
}

static int
s_task_refuse (zx_call_t *call)
{
    zx_call_return_int (call, 99);      //  Partial result, to be discarded
    return zx_call_fail (call, "refused %d of %s", 3, "them");
}

static int
s_task_silent_failure (zx_call_t *call)
{
    zx_call_return_int (call, 99);
    return 7;
}

static int
s_task_report_cancel (zx_call_t *call)
{
    zx_values_add_int (zx_call_result (call), zx_call_cancelled (call));
    zx_values_add_str (zx_call_result (call), zx_call_task (call));
    return 0;
}

static int
s_task_no_result (zx_call_t *call)
{
    assert_non_null (zx_call_args (call));
    return 0;
}

//  Arguments of the call under test, alive until s_reset
static zx_values_t *s_args;

//  Runs task with args (taken) and leaves the outcome in call, as a worker
//  would; s_reset then frees both.
static zx_err_t
s_invoke (zx_call_t *call, const char *task, zx_values_t *args)
{
    zx_values_destroy (&s_args);
    s_args = args;
    zx__call_init (call, task, args);
    return zx__task_invoke (call);
}

static void
s_reset (zx_call_t *call)
{
    zx__call_reset (call);
    zx_values_destroy (&s_args);
}

static void
test_register_then_lookup_finds_the_function (void **state)
{
    (void) state;
    assert_int_equal (zx_task_register ("t1_one", s_task_one), ZX_OK);
    assert_ptr_equal (zx_task_lookup ("t1_one"), s_task_one);
    assert_null (zx_task_lookup ("t1_on"));
    assert_null (zx_task_lookup ("t1_one_"));
    assert_null (zx_task_lookup (""));
    assert_null (zx_task_lookup (NULL));
}

static void
test_zx_task_macro_registers_before_main (void **state)
{
    (void) state;
    assert_non_null (zx_task_lookup ("square"));
}

static void
test_later_registration_replaces_the_earlier_one (void **state)
{
    (void) state;
    assert_int_equal (zx_task_register ("t2_which", s_task_one), ZX_OK);
    assert_int_equal (zx_task_register ("t2_which", s_task_two), ZX_OK);
    assert_ptr_equal (zx_task_lookup ("t2_which"), s_task_two);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t2_which", NULL), ZX_OK);
    int64_t n = 0;
    assert_int_equal (zx_values_get_int (call.result, 0, &n), ZX_OK);
    assert_true (n == 2);
    s_reset (&call);
}

static void
test_register_rejects_invalid_names_and_null_functions (void **state)
{
    (void) state;
    char name [300];
    memset (name, 'a', sizeof (name));
    name [256] = 0;
    assert_int_equal (zx_task_register (name, s_task_one), ZX_EINVAL);
    name [255] = 0;
    assert_int_equal (zx_task_register (name, s_task_one), ZX_OK);
    assert_ptr_equal (zx_task_lookup (name), s_task_one);
    assert_int_equal (zx_task_register ("", s_task_one), ZX_EINVAL);
    assert_int_equal (zx_task_register (NULL, s_task_one), ZX_EINVAL);
    assert_int_equal (zx_task_register ("t3_null", NULL), ZX_EINVAL);
    assert_null (zx_task_lookup ("t3_null"));
}

static void
test_many_registrations_stay_findable (void **state)
{
    (void) state;
    char name [32];
    for (int i = 0; i < 500; i++) {
        snprintf (name, sizeof (name), "t4_%d", (i * 7919) % 500);
        assert_int_equal (zx_task_register (name, i % 2? s_task_one: s_task_two),
                          ZX_OK);
    }
    for (int i = 0; i < 500; i++) {
        snprintf (name, sizeof (name), "t4_%d", (i * 7919) % 500);
        assert_ptr_equal (zx_task_lookup (name), i % 2? s_task_one: s_task_two);
    }
    assert_null (zx_task_lookup ("t4_500"));
}

typedef struct {
    int id;
    int failures;
} s_thread_args_t;

static void *
s_register_and_look_up (void *arg)
{
    s_thread_args_t *args = (s_thread_args_t *) arg;
    char name [32];
    for (int i = 0; i < 200; i++) {
        snprintf (name, sizeof (name), "t5_%d_%d", args->id, i);
        if (zx_task_register (name, s_task_one) != ZX_OK
        ||  zx_task_lookup (name) != s_task_one
        ||  zx_task_lookup ("square") == NULL)
            args->failures++;
    }
    return NULL;
}

static void
test_registry_is_safe_across_threads (void **state)
{
    (void) state;
    pthread_t threads [4];
    s_thread_args_t args [4];
    for (int i = 0; i < 4; i++) {
        args [i].id = i;
        args [i].failures = 0;
        assert_int_equal (pthread_create (&threads [i], NULL,
                                          s_register_and_look_up, &args [i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (args [i].failures, 0);
    }
}

static void
test_invoke_runs_the_task_and_returns_its_int_result (void **state)
{
    (void) state;
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "square", zx_values_pack ("i", (int64_t) 12)),
                      ZX_OK);
    assert_int_equal (call.error, ZX_OK);
    assert_null (call.message);
    assert_non_null (call.result);
    assert_int_equal (zx_values_count (call.result), 1);
    int64_t n = 0;
    assert_int_equal (zx_values_get_int (call.result, 0, &n), ZX_OK);
    assert_true (n == 144);
    s_reset (&call);
    assert_null (call.result);
    assert_null (call.message);
    assert_int_equal (call.error, ZX_OK);
}

static void
test_task_without_results_leaves_result_null (void **state)
{
    (void) state;
    zx_task_register ("t6_nothing", s_task_no_result);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t6_nothing", zx_values_new ()), ZX_OK);
    assert_null (call.result);
    s_reset (&call);
}

static void
test_type_error_names_task_argument_and_types (void **state)
{
    (void) state;
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "square", zx_values_pack ("s", "x")),
                      ZX_ETYPE);
    assert_string_equal (call.message, "task 'square': argument 0 is str, expected int");
    assert_null (call.result);
    s_reset (&call);

    zx_task_register ("t7_mixed", s_task_add_str_int);
    assert_int_equal (s_invoke (&call, "t7_mixed",
                                zx_values_pack ("sd", "ab", 1.5)), ZX_ETYPE);
    assert_string_equal (call.message,
                         "task 't7_mixed': argument 1 is float, expected int");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t7_mixed",
                                zx_values_pack ("bi", "ab", (size_t) 2,
                                                (int64_t) 1)), ZX_ETYPE);
    assert_string_equal (call.message,
                         "task 't7_mixed': argument 0 is bytes, expected str");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t7_mixed",
                                zx_values_pack ("sn", "ab")), ZX_ETYPE);
    assert_string_equal (call.message,
                         "task 't7_mixed': argument 1 is None, expected int");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t7_mixed",
                                zx_values_pack ("si", "abc", (int64_t) 4)), ZX_OK);
    int64_t n = 0;
    assert_int_equal (zx_values_get_int (call.result, 0, &n), ZX_OK);
    assert_true (n == 7);
    s_reset (&call);

    zx_task_register ("t7_bytes", s_task_bytes_length);
    assert_int_equal (s_invoke (&call, "t7_bytes", zx_values_pack ("i", (int64_t) 1)),
                      ZX_ETYPE);
    assert_string_equal (call.message,
                         "task 't7_bytes': argument 0 is int, expected bytes");
    s_reset (&call);
}

static void
test_missing_argument_says_how_many_were_given (void **state)
{
    (void) state;
    zx_task_register ("t8_mixed", s_task_add_str_int);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t8_mixed", zx_values_pack ("s", "ab")),
                      ZX_ETYPE);
    assert_string_equal (call.message, "task 't8_mixed': missing argument 1 (got 1)");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "square", NULL), ZX_ETYPE);
    assert_string_equal (call.message, "task 'square': missing argument 0 (got 0)");
    s_reset (&call);
}

static void
test_unknown_task_fails_with_enotask (void **state)
{
    (void) state;
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t9_nobody", zx_values_new ()), ZX_ENOTASK);
    assert_int_equal (call.error, ZX_ENOTASK);
    assert_string_equal (call.message, "no such task 't9_nobody'");
    assert_null (call.result);
    s_reset (&call);
}

static void
test_call_fail_gives_etask_with_the_formatted_message (void **state)
{
    (void) state;
    zx_task_register ("t10_refuse", s_task_refuse);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t10_refuse", NULL), ZX_ETASK);
    assert_string_equal (call.message, "refused 3 of them");
    assert_null (call.result);
    s_reset (&call);
}

static void
test_nonzero_return_without_message_fails_the_task (void **state)
{
    (void) state;
    zx_task_register ("t11_silent", s_task_silent_failure);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t11_silent", NULL), ZX_ETASK);
    assert_string_equal (call.message, "task 't11_silent' failed");
    assert_null (call.result);
    s_reset (&call);
}

static void
test_arg_double_accepts_an_int (void **state)
{
    (void) state;
    zx_task_register ("t12_half", s_task_half);
    zx_call_t call;
    double d = 0;
    assert_int_equal (s_invoke (&call, "t12_half", zx_values_pack ("i", (int64_t) 5)),
                      ZX_OK);
    assert_int_equal (zx_values_get_double (call.result, 0, &d), ZX_OK);
    assert_true (d == 2.5);
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t12_half", zx_values_pack ("d", 3.0)), ZX_OK);
    assert_int_equal (zx_values_get_double (call.result, 0, &d), ZX_OK);
    assert_true (d == 1.5);
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t12_half", zx_values_pack ("s", "5")),
                      ZX_ETYPE);
    assert_string_equal (call.message,
                         "task 't12_half': argument 0 is str, expected float");
    s_reset (&call);
}

static void
test_cancelled_flag_is_visible_to_the_task (void **state)
{
    (void) state;
    zx_task_register ("t13_cancel", s_task_report_cancel);
    zx_call_t call;
    zx__call_init (&call, "t13_cancel", NULL);
    assert_false (zx_call_cancelled (&call));
    assert_int_equal (zx__task_invoke (&call), ZX_OK);
    int64_t flag = -1;
    const char *name = NULL;
    assert_int_equal (zx_values_get_int (call.result, 0, &flag), ZX_OK);
    assert_true (flag == 0);
    assert_int_equal (zx_values_get_str (call.result, 1, &name), ZX_OK);
    assert_string_equal (name, "t13_cancel");
    s_reset (&call);

    zx__call_init (&call, "t13_cancel", NULL);
    atomic_store (&call.cancelled, true);
    assert_true (zx_call_cancelled (&call));
    assert_int_equal (zx__task_invoke (&call), ZX_OK);
    assert_int_equal (zx_values_get_int (call.result, 0, &flag), ZX_OK);
    assert_true (flag == 1);
    s_reset (&call);
    assert_false (zx_call_cancelled (&call));
}

/*  ---------------------------------------------------------------------
    A task name registered twice                                          */

//  Runs task_dup with how ("init", "loop" or "pool") and checks it exits
//  with status 2, saying on stderr where both registrations are.
static void
s_assert_duplicate_fails_start_up (const char *how)
{
    char *const argv [] = { (char *) ZX_TASK_DUP_PROGRAM, (char *) how, NULL };
    char *output = NULL;
    int status = zx_test_run_capture (argv, &output);
    assert_non_null (output);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 2);
    //  It printed its two places first, one a line, then the message
    char first [512], second [512];
    assert_int_equal (sscanf (output, "%511s %511s", first, second), 2);
    assert_non_null (strstr (first, "task_dup_main.c:"));
    assert_non_null (strstr (second, "task_dup_other.c:"));
    char expected [1200];
    snprintf (expected, sizeof expected, "zexec: task 'blocks' registered twice: %s and %s\n",
              first, second);
    char reversed [1200];
    snprintf (reversed, sizeof reversed, "zexec: task 'blocks' registered twice: %s and %s\n",
              second, first);
    if (!strstr (output, expected) && !strstr (output, reversed))
        fail_msg ("no duplicate message in: %s", output);
    assert_null (strstr (output, "started up"));
    free (output);
}

static void
test_duplicate_zx_task_exits_2_at_zx_init_naming_both_places (void **state)
{
    (void) state;
    s_assert_duplicate_fails_start_up ("init");
}

static void
test_duplicate_zx_task_exits_2_at_the_first_loop (void **state)
{
    (void) state;
    s_assert_duplicate_fails_start_up ("loop");
}

static void
test_duplicate_zx_task_exits_2_at_the_first_pool (void **state)
{
    (void) state;
    s_assert_duplicate_fails_start_up ("pool");
}

//  Sends stderr to a file until s_stderr_end, which returns what was
//  written (caller frees).
static int s_stderr_saved = -1;
static char s_stderr_path [64];

static void
s_stderr_begin (void)
{
    fflush (stderr);
    strcpy (s_stderr_path, "/tmp/test_zx_task.XXXXXX");
    int fd = mkstemp (s_stderr_path);
    assert_true (fd >= 0);
    s_stderr_saved = dup (2);
    dup2 (fd, 2);
    close (fd);
}

static char *
s_stderr_end (void)
{
    fflush (stderr);
    dup2 (s_stderr_saved, 2);
    close (s_stderr_saved);
    FILE *file = fopen (s_stderr_path, "r");
    assert_non_null (file);
    char *text = calloc (1, 4096);
    size_t size = fread (text, 1, 4095, file);
    text [size] = 0;
    fclose (file);
    unlink (s_stderr_path);
    return text;
}

static void
test_register_at_refuses_a_name_registered_elsewhere_and_keeps_the_first (void **state)
{
    (void) state;
    //  Start-up is over (main called zx_init), so it is said at once
    assert_int_equal (zx_task_register_at ("t14_dup", s_task_one, "a.c", 12), ZX_OK);
    s_stderr_begin ();
    zx_err_t rc = zx_task_register_at ("t14_dup", s_task_two, "lib/b.c", 40);
    char *said = s_stderr_end ();
    assert_int_equal (rc, ZX_EINVAL);
    assert_string_equal (said, "zexec: task 't14_dup' registered twice: a.c:12 and lib/b.c:40; "
                               "the second is ignored\n");
    free (said);
    assert_ptr_equal (zx_task_lookup ("t14_dup"), s_task_one);
    //  Not kept for a later start-up report: that is over
    assert_null (zx__task_duplicates (false));
}

static void
test_register_at_from_the_same_place_is_not_a_duplicate (void **state)
{
    (void) state;
    assert_int_equal (zx_task_register_at ("t15_same", s_task_one, "a.c", 7), ZX_OK);
    s_stderr_begin ();
    zx_err_t rc = zx_task_register_at ("t15_same", s_task_one, "a.c", 7);
    char *said = s_stderr_end ();
    assert_int_equal (rc, ZX_OK);
    assert_string_equal (said, "");
    free (said);
    assert_int_equal (zx_task_register_at ("t15_same", s_task_one, "a.c", 8), ZX_EINVAL);
    assert_int_equal (zx_task_register_at ("t15_same", s_task_one, "b.c", 7), ZX_EINVAL);
    assert_int_equal (zx_task_register_at ("", s_task_one, "a.c", 1), ZX_EINVAL);
    assert_int_equal (zx_task_register_at ("t15_null", NULL, "a.c", 1), ZX_EINVAL);
}

static void
test_register_replaces_a_zx_task_registration_on_purpose (void **state)
{
    (void) state;
    assert_int_equal (zx_task_register_at ("t16_swap", s_task_one, "a.c", 1), ZX_OK);
    assert_int_equal (zx_task_register ("t16_swap", s_task_two), ZX_OK);
    assert_ptr_equal (zx_task_lookup ("t16_swap"), s_task_two);
    //  A ZX_TASK of that name after it is still a duplicate
    s_stderr_begin ();
    zx_err_t rc = zx_task_register_at ("t16_swap", s_task_one, "c.c", 3);
    char *said = s_stderr_end ();
    assert_int_equal (rc, ZX_EINVAL);
    assert_string_equal (said, "zexec: task 't16_swap' registered twice: a zx_task_register "
                               "call and c.c:3; the second is ignored\n");
    free (said);
    assert_ptr_equal (zx_task_lookup ("t16_swap"), s_task_two);
}


/*  ---------------------------------------------------------------------
    The other types, in and out                                          */

static int
s_task_return_each (zx_call_t *call)
{
    zx_values_t *list = ZX_VALUES (1, "two");
    zx_value_t value = { ZX_TSTR, 0, 3, { .str = "a\0b" } };
    if (zx_call_return_uint (call, UINT64_MAX) || zx_call_return_uint (call, 5)
    ||  zx_call_return_double (call, 0.5) || zx_call_return_bool (call, true)
    ||  zx_call_return_str (call, "text") || zx_call_return_bytes (call, "\0\1", 2)
    ||  zx_call_return_none (call) || zx_call_return_values (call, &list)
    ||  zx_call_return_value (call, &value))
        return -1;
    assert_null (list);
    return zx_call_return_int (call, -1);
}

static void
test_return_functions_append_one_value_each (void **state)
{
    (void) state;
    zx_task_register ("t17_each", s_task_return_each);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t17_each", NULL), ZX_OK);
    char repr [256];
    zx_values_repr (call.result, repr, sizeof repr);
    assert_string_equal (repr, "[18446744073709551615, 5, 0.5, True, 'text', b'\\x00\\x01', "
                               "None, [1, 'two'], 'a\\x00b', -1]");
    s_reset (&call);
}

static int
s_task_return_bad_str (zx_call_t *call)
{
    return zx_call_return_str (call, "\xff");
}

static int
s_task_return_map_half_built (zx_call_t *call)
{
    zx_values_t *map = zx_values_new_map ();
    zx_values_add_key (map, "key");
    return zx_call_return_values (call, &map);  //  Refused, and freed
}

static void
test_a_refused_return_fails_the_call_with_its_reason (void **state)
{
    (void) state;
    zx_task_register ("t18_bad", s_task_return_bad_str);
    zx_task_register ("t18_half", s_task_return_map_half_built);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t18_bad", NULL), ZX_EINVAL);
    assert_string_equal (call.message, "task 't18_bad': cannot return str: invalid argument");
    assert_null (call.result);
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t18_half", NULL), ZX_EINVAL);
    assert_string_equal (call.message, "task 't18_half': cannot return dict: invalid argument");
    s_reset (&call);
}

static int
s_task_read_each (zx_call_t *call)
{
    uint64_t u;
    bool b;
    const zx_values_t *list, *map;
    zx_value_t value;
    if (zx_call_arg_uint (call, 0, &u) || zx_call_arg_bool (call, 1, &b)
    ||  zx_call_arg_list (call, 2, &list) || zx_call_arg_map (call, 3, &map)
    ||  zx_call_arg (call, 4, &value))
        return -1;
    int64_t first;
    zx_values_get_int (list, 0, &first);
    size_t index;
    zx_values_find (map, "k", &index);
    return zx_call_return_value (call, &value) || zx_call_return_uint (call, u + (b ? 1 : 0))
        || zx_call_return_int (call, first + (int64_t) index);
}

static void
test_arg_getters_read_uint_bool_list_map_and_any_value (void **state)
{
    (void) state;
    zx_task_register ("t19_read", s_task_read_each);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t19_read", ZX_VALUES (41, ZX_BOOL (1), ZX_LIST (10),
                                                              ZX_MAP ("j", 0, "k", 0), 2.5)),
                      ZX_OK);
    char repr [128];
    zx_values_repr (call.result, repr, sizeof repr);
    assert_string_equal (repr, "[2.5, 42, 11]");
    s_reset (&call);
}

static void
test_arg_getters_name_the_new_types_in_type_errors (void **state)
{
    (void) state;
    zx_task_register ("t20_read", s_task_read_each);
    zx_call_t call;
    assert_int_equal (s_invoke (&call, "t20_read", ZX_VALUES (-1)), ZX_ETYPE);
    assert_string_equal (call.message, "task 't20_read': argument 0 is a negative int, "
                                       "expected one that is not");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t20_read", ZX_VALUES (1, 1)), ZX_ETYPE);
    assert_string_equal (call.message, "task 't20_read': argument 1 is int, expected bool");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t20_read", ZX_VALUES (1, ZX_BOOL (0), ZX_MAP ("k", 1))),
                      ZX_ETYPE);
    assert_string_equal (call.message, "task 't20_read': argument 2 is dict, expected list");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t20_read", ZX_VALUES (1, ZX_BOOL (0), ZX_LIST (1),
                                                              ZX_LIST (2))), ZX_ETYPE);
    assert_string_equal (call.message, "task 't20_read': argument 3 is list, expected dict");
    s_reset (&call);
    assert_int_equal (s_invoke (&call, "t20_read", ZX_VALUES (1, ZX_BOOL (0), ZX_LIST (1),
                                                              ZX_MAP ("k", 1))), ZX_ETYPE);
    assert_string_equal (call.message, "task 't20_read': missing argument 4 (got 4)");
    s_reset (&call);
}

static void
test_strdupf_formats_into_a_new_string (void **state)
{
    (void) state;
    char *text = zx__strdupf ("%s-%d-%zu", "a", -1, (size_t) 42);
    assert_string_equal (text, "a--1-42");
    free (text);
    text = zx__strdupf ("%s", "");
    assert_string_equal (text, "");
    free (text);
    char big [5000];
    memset (big, 'x', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    text = zx__strdupf ("<%s>", big);
    assert_int_equal (strlen (text), sizeof (big) + 1);
    free (text);
}

static void
test_strerror_names_every_code (void **state)
{
    (void) state;
    assert_string_equal (zx_strerror (ZX_OK), "ok");
    assert_string_equal (zx_strerror (ZX_ENOTASK), "no such task");
    assert_string_equal (zx_strerror (ZX_EWORKER_LOST), "worker lost");
    assert_string_equal (zx_strerror (ZX_EBUSY),
                         "would block inside the running loop");
    assert_string_equal (zx_strerror (ZX_EWORKER_INIT), "worker initializer failed");
    for (int code = ZX_OK; code <= ZX_EWORKER_INIT; code++) {
        assert_non_null (zx_strerror ((zx_err_t) code));
        assert_string_not_equal (zx_strerror ((zx_err_t) code), "unknown error");
    }
    assert_string_equal (zx_strerror ((zx_err_t) 999), "unknown error");
}

const struct CMUnitTest tests [] = {
    cmocka_unit_test (test_register_then_lookup_finds_the_function),
    cmocka_unit_test (test_zx_task_macro_registers_before_main),
    cmocka_unit_test (test_later_registration_replaces_the_earlier_one),
    cmocka_unit_test (test_register_rejects_invalid_names_and_null_functions),
    cmocka_unit_test (test_many_registrations_stay_findable),
    cmocka_unit_test (test_registry_is_safe_across_threads),
    cmocka_unit_test (test_invoke_runs_the_task_and_returns_its_int_result),
    cmocka_unit_test (test_task_without_results_leaves_result_null),
    cmocka_unit_test (test_type_error_names_task_argument_and_types),
    cmocka_unit_test (test_missing_argument_says_how_many_were_given),
    cmocka_unit_test (test_unknown_task_fails_with_enotask),
    cmocka_unit_test (test_call_fail_gives_etask_with_the_formatted_message),
    cmocka_unit_test (test_nonzero_return_without_message_fails_the_task),
    cmocka_unit_test (test_arg_double_accepts_an_int),
    cmocka_unit_test (test_cancelled_flag_is_visible_to_the_task),
    cmocka_unit_test (test_duplicate_zx_task_exits_2_at_zx_init_naming_both_places),
    cmocka_unit_test (test_duplicate_zx_task_exits_2_at_the_first_loop),
    cmocka_unit_test (test_duplicate_zx_task_exits_2_at_the_first_pool),
    cmocka_unit_test (test_register_at_refuses_a_name_registered_elsewhere_and_keeps_the_first),
    cmocka_unit_test (test_register_at_from_the_same_place_is_not_a_duplicate),
    cmocka_unit_test (test_register_replaces_a_zx_task_registration_on_purpose),
    cmocka_unit_test (test_return_functions_append_one_value_each),
    cmocka_unit_test (test_a_refused_return_fails_the_call_with_its_reason),
    cmocka_unit_test (test_arg_getters_read_uint_bool_list_map_and_any_value),
    cmocka_unit_test (test_arg_getters_name_the_new_types_in_type_errors),
    cmocka_unit_test (test_strdupf_formats_into_a_new_string),
    cmocka_unit_test (test_strerror_names_every_code),
};

ZX_TEST_MAIN (tests)
