/*  test_zx_ratelog.c - warnings about peers, rate-limited per peer and kind.

    DESIGN: the limiter logs through a logger whose records go into a
    pipe the test reads back, so each test counts the lines a flood really
    produces. Periods are short (50 ms) and the tests sleep past them
    before a tick; nothing depends on how fast the machine is.           */
#include "testutil.h"
#include "zx_ratelog.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_fds [2];
static char s_text [65536];

//  Every test's logs go into a fresh pipe (cmocka's group setup would hide
//  the test names from the CMake that registers them)
static int
s_setup (void **state)
{
    (void) state;
    assert_int_equal (pipe (s_fds), 0);
    fcntl (s_fds [0], F_SETFL, O_NONBLOCK);
    zx_log_basic_config (ZX_LOG_INFO, "%(message)s");
    zx_log_set_fd (s_fds [1]);
    s_text [0] = 0;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    zx_log_set_fd (2);
    close (s_fds [0]);
    close (s_fds [1]);
    return 0;
}

static const char *
s_read (void)
{
    size_t used = strlen (s_text);
    ssize_t got;
    while (used < sizeof s_text - 1
       &&  (got = read (s_fds [0], s_text + used, sizeof s_text - 1 - used)) > 0)
        used += (size_t) got;
    s_text [used] = 0;
    return s_text;
}

//  Forgets what earlier tests of the same run logged
static void
s_fresh (void)
{
    s_read ();
    s_text [0] = 0;
}

static size_t
s_count (const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *at = text; (at = strstr (at, needle)); at += strlen (needle))
        count++;
    return count;
}

static void
test_a_flood_from_one_peer_logs_its_burst_then_one_summary_with_the_count (void **state)
{
    (void) state;
    s_fresh ();
    //  A minute's period: the whole flood falls in one, however slow the
    //  machine (a sanitizer build)
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 3, 60000, 100, 100);
    size_t logged = 0;
    for (int i = 0; i < 200000; i++)
        logged += zx__ratelog (limiter, ZX_LOG_WARNING, "peer-a", "malformed",
                               "malformed message %d from peer-a", i);
    assert_int_equal (logged, 3);
    assert_int_equal (zx__ratelog_suppressed (limiter), 199997);
    assert_int_equal (zx__ratelog_tick (limiter), 0);   //  Its period is not over
    assert_int_equal (s_count (s_read (), "\n"), 3);
    zx__ratelog_destroy (&limiter);
    assert_null (limiter);
    const char *text = s_read ();
    assert_int_equal (s_count (text, "malformed message"), 3);
    assert_non_null (strstr (text, "... and 199997 more 'malformed' from peer-a in"));
    assert_int_equal (s_count (text, "\n"), 4);
}

static void
test_when_its_period_ends_a_tick_says_what_was_held_and_the_peer_may_log_again (void **state)
{
    (void) state;
    s_fresh ();
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 3, 50, 100, 100);
    for (int i = 0; i < 10; i++)
        zx__ratelog (limiter, ZX_LOG_WARNING, "peer-a", "malformed", "malformed %d", i);
    usleep (60 * 1000);
    assert_int_equal (zx__ratelog_tick (limiter), 1);
    const char *text = s_read ();
    assert_true (s_count (text, "malformed ") >= 3);
    assert_non_null (strstr (text, "more 'malformed' from peer-a in"));
    assert_true (zx__ratelog (limiter, ZX_LOG_WARNING, "peer-a", "malformed", "again"));
    zx__ratelog_destroy (&limiter);
}

static void
test_each_peer_and_each_kind_has_its_own_burst (void **state)
{
    (void) state;
    s_fresh ();
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 2, 1000, 100, 100);
    for (int i = 0; i < 10; i++) {
        zx__ratelog (limiter, ZX_LOG_WARNING, "peer-a", "malformed", "a malformed");
        zx__ratelog (limiter, ZX_LOG_WARNING, "peer-a", "unknown command", "a unknown");
        zx__ratelog (limiter, ZX_LOG_WARNING, "peer-b", "malformed", "b malformed");
    }
    const char *text = s_read ();
    assert_int_equal (s_count (text, "a malformed"), 2);
    assert_int_equal (s_count (text, "a unknown"), 2);
    assert_int_equal (s_count (text, "b malformed"), 2);
    zx__ratelog_destroy (&limiter);
    //  Destroying says what each pair held back
    text = s_read ();
    assert_non_null (strstr (text, "... and 8 more 'malformed' from peer-a"));
    assert_non_null (strstr (text, "... and 8 more 'unknown command' from peer-a"));
    assert_non_null (strstr (text, "... and 8 more 'malformed' from peer-b"));
}

static void
test_many_peers_at_once_share_one_budget_and_one_summary (void **state)
{
    (void) state;
    s_fresh ();
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 5, 60000, 10, 100000);
    char peer [32];
    for (int i = 0; i < 10000; i++) {
        snprintf (peer, sizeof peer, "peer-%d", i);
        zx__ratelog (limiter, ZX_LOG_WARNING, peer, "malformed", "one from %s", peer);
    }
    zx__ratelog_destroy (&limiter);
    const char *text = s_read ();
    assert_int_equal (s_count (text, "one from"), 10);
    assert_non_null (strstr (text, "... and 9990 more warnings about peers held back"));
    assert_int_equal (s_count (text, "\n"), 11);
}

static void
test_once_logs_a_peer_s_kind_one_time_only (void **state)
{
    (void) state;
    s_fresh ();
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 5, 50, 100, 100);
    for (int i = 0; i < 5; i++) {
        zx__ratelog_once (limiter, ZX_LOG_WARNING, "mdp-peer", "protocol",
                          "mdp-peer speaks MDP");
        zx__ratelog_once (limiter, ZX_LOG_WARNING, "other", "protocol", "other speaks MDP");
    }
    usleep (60 * 1000);
    zx__ratelog_tick (limiter);         //  Once stays once past a period
    zx__ratelog_once (limiter, ZX_LOG_WARNING, "mdp-peer", "protocol", "mdp-peer speaks MDP");
    const char *text = s_read ();
    assert_int_equal (s_count (text, "mdp-peer speaks MDP"), 1);
    assert_int_equal (s_count (text, "other speaks MDP"), 1);
    zx__ratelog_destroy (&limiter);
}

static void
test_the_table_of_pairs_stays_bounded (void **state)
{
    (void) state;
    s_fresh ();
    zx__ratelog_t *limiter = zx__ratelog_new (zx_log_get ("t"), 1, 60000, 1000000, 8);
    char peer [32];
    //  Each peer twice: the second is held, and its summary comes out
    //  when the pair is forgotten to make room
    for (int i = 0; i < 100; i++) {
        snprintf (peer, sizeof peer, "peer-%d", i);
        zx__ratelog (limiter, ZX_LOG_WARNING, peer, "malformed", "first from %s", peer);
        zx__ratelog (limiter, ZX_LOG_WARNING, peer, "malformed", "second from %s", peer);
    }
    const char *text = s_read ();
    assert_int_equal (s_count (text, "first from"), 100);
    assert_int_equal (s_count (text, "second from"), 0);
    assert_int_equal (s_count (text, "... and 1 more 'malformed'"), 92);
    zx__ratelog_destroy (&limiter);
    assert_int_equal (s_count (s_read (), "... and 1 more 'malformed'"), 100);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_flood_from_one_peer_logs_its_burst_then_one_summary_with_the_count),
        cmocka_unit_test (test_when_its_period_ends_a_tick_says_what_was_held_and_the_peer_may_log_again),
        cmocka_unit_test (test_each_peer_and_each_kind_has_its_own_burst),
        cmocka_unit_test (test_many_peers_at_once_share_one_budget_and_one_summary),
        cmocka_unit_test (test_once_logs_a_peer_s_kind_one_time_only),
        cmocka_unit_test (test_the_table_of_pairs_stays_bounded),
    };
    zx_init (argc, argv);
    if (argc > 1)
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
