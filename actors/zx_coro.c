/*  zx_coro.c - stackful coroutines run by the loop.

    DESIGN: each coroutine is a plain C function on its own mmap'd stack
    (with a guard page below it), switched to and from by zx_context. The
    loop resumes a coroutine only from loop context (a callback, a timer, a
    socket handler), never from another coroutine, so there is one level of
    switching: loop -> coroutine -> loop. A waiting call registers a way to
    be woken (a future callback, a timer) and an unhook that withdraws it,
    then suspends; cancellation unhooks and resumes with ZX_ECANCELLED, so
    a coroutine is never woken twice. Under AddressSanitizer every switch
    is announced with __sanitizer_start/finish_switch_fiber so ASan tracks
    the right stack; under ThreadSanitizer each coroutine is a TSan fiber,
    switched to with __tsan_switch_to_fiber, so TSan keeps one shadow call
    stack per coroutine instead of mistaking the switches for races.     */

#define _GNU_SOURCE
#include "zx_context.h"
#include "zx_coro.h"
#include "zx_future.h"
#include "zx_loop.h"
#include "zx_task.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#   define ZX_ASAN 1
#elif defined(__has_feature)
#   if __has_feature(address_sanitizer)
#       define ZX_ASAN 1
#   endif
#endif
#ifdef ZX_ASAN
#   include <sanitizer/asan_interface.h>
#   include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#   define ZX_TSAN 1
#elif defined(__has_feature)
#   if __has_feature(thread_sanitizer)
#       define ZX_TSAN 1
#   endif
#endif
#ifdef ZX_TSAN
#   include <sanitizer/tsan_interface.h>
#endif

#define ZX_CORO_STACK_DEFAULT   (256 * 1024)
#define ZX_STACK_CACHE_MAX      64

typedef enum {
    CO_NEW, CO_RUNNING, CO_SUSPENDED, CO_WAKING, CO_FINISHED
} s_state_t;

struct zx_coro {
    zx_coro_t *next, *prev;     //  This thread's live coroutines
    zx_loop_t *loop;
    zx_future_t *future;        //  Our reference to the coroutine's future
    zx_coro_fn *fn;
    void *arg;
    s_state_t state;
    bool cancel_requested;
    zx_err_t resume_code;
    void (*unhook) (void *arg);
    void *unhook_arg;
    zx_values_t *result;
    zx_err_t fail_code;
    char *fail_message;
    zx__context_t context;
    zx__context_t caller;
    char *map;                  //  Guard page + stack
    size_t map_size;
    size_t stack_size;
#ifdef ZX_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
#ifdef ZX_TSAN
    void *tsan_fiber;           //  This coroutine's
    void *tsan_caller;          //  The loop's, that switched in
#endif
};

static __thread zx_coro_t *s_current;
static __thread zx_coro_t *s_live;

//  A small per-thread cache of default-sized stacks: starting many short
//  coroutines then costs no system calls.
static __thread char *s_stack_cache [ZX_STACK_CACHE_MAX];
static __thread size_t s_stack_cached;

static char *
s_stack_alloc (size_t map_size)
{
    if (map_size == ZX_CORO_STACK_DEFAULT + 4096 && s_stack_cached > 0) {
        char *map = s_stack_cache [--s_stack_cached];
#ifdef ZX_ASAN
        ASAN_UNPOISON_MEMORY_REGION (map + 4096, map_size - 4096);
#endif
        return map;
    }
    char *map = mmap (NULL, map_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect (map, 4096, PROT_NONE)) {
        munmap (map, map_size);
        return NULL;
    }
    return map;
}

static void
s_stack_free (char *map, size_t map_size)
{
#ifdef ZX_ASAN
    ASAN_UNPOISON_MEMORY_REGION (map + 4096, map_size - 4096);
#endif
    if (map_size == ZX_CORO_STACK_DEFAULT + 4096 && s_stack_cached < ZX_STACK_CACHE_MAX)
        s_stack_cache [s_stack_cached++] = map;
    else
        munmap (map, map_size);
}

static void
s_coro_free (zx_coro_t *co)
{
    if (co->prev)
        co->prev->next = co->next;
    else
        s_live = co->next;
    if (co->next)
        co->next->prev = co->prev;
    if (co->map)
        s_stack_free (co->map, co->map_size);
#ifdef ZX_TSAN
    if (co->tsan_fiber)
        __tsan_destroy_fiber (co->tsan_fiber);
#endif
    zx_values_destroy (&co->result);
    free (co->fail_message);
    zx_future_destroy (&co->future);
    free (co);
}

static void
s_trampoline (void *arg)
{
    zx_coro_t *co = (zx_coro_t *) arg;
#ifdef ZX_ASAN
    __sanitizer_finish_switch_fiber (NULL, &co->caller_bottom, &co->caller_size);
#endif
    co->fn (co->arg);
    if (co->fail_code != ZX_OK) {
        char *message = co->fail_message;
        co->fail_message = NULL;
        zx__future_fail_owned (co->future, co->fail_code, message);
    }
    else
        zx_future_set_result (co->future, &co->result);
    co->state = CO_FINISHED;
#ifdef ZX_ASAN
    //  NULL: this fiber's fake stack is destroyed, it never runs again
    __sanitizer_start_switch_fiber (NULL, co->caller_bottom, co->caller_size);
#endif
#ifdef ZX_TSAN
    __tsan_switch_to_fiber (co->tsan_caller, 0);
#endif
    zx__context_switch (&co->context, &co->caller);
}

//  Switches from loop context into co until it suspends or finishes.
static void
s_switch_in (zx_coro_t *co)
{
    assert (s_current == NULL);
    s_current = co;
#ifdef ZX_ASAN
    void *fake_stack = NULL;
    __sanitizer_start_switch_fiber (&fake_stack, co->map + 4096, co->stack_size);
#endif
#ifdef ZX_TSAN
    co->tsan_caller = __tsan_get_current_fiber ();
    __tsan_switch_to_fiber (co->tsan_fiber, 0);
#endif
    zx__context_switch (&co->caller, &co->context);
#ifdef ZX_ASAN
    __sanitizer_finish_switch_fiber (fake_stack, NULL, NULL);
#endif
    s_current = NULL;
    if (co->state == CO_FINISHED)
        s_coro_free (co);
}

static void
s_start (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_coro_t *co = (zx_coro_t *) arg;
    if (co->cancel_requested) {
        s_coro_free (co);           //  Cancelled before it ever ran
        return;
    }
    co->map = s_stack_alloc (co->map_size);
    if (!co->map) {
        zx_future_set_error (co->future, ZX_ENOMEM, "no memory for a coroutine stack");
        s_coro_free (co);
        return;
    }
    zx__context_make (&co->context, co->map + 4096, co->stack_size, s_trampoline, co);
#ifdef ZX_TSAN
    co->tsan_fiber = __tsan_create_fiber (0);
#endif
    co->state = CO_RUNNING;
    zx__future_set_running (co->future);
    s_switch_in (co);
}

static void
s_resume_cancelled (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__coro_resume ((zx_coro_t *) arg, ZX_ECANCELLED);
}

static void
s_cancel (zx_future_t *future, void *arg)
{
    (void) future;
    zx_coro_t *co = (zx_coro_t *) arg;
    co->cancel_requested = true;
    if (co->state == CO_SUSPENDED) {
        if (co->unhook)
            co->unhook (co->unhook_arg);
        co->unhook = NULL;
        co->state = CO_WAKING;
        //  We may be inside another coroutine: resume from the loop
        if (zx_loop_call_soon (co->loop, s_resume_cancelled, co) != ZX_OK)
            co->state = CO_SUSPENDED;   //  Out of memory: it stays asleep
    }
}

zx_future_t *
zx_coro_start (zx_loop_t *loop, zx_coro_fn *fn, void *arg, size_t stack_size)
{
    if (!loop || !fn)
        return NULL;
    zx_coro_t *co = calloc (1, sizeof (zx_coro_t));
    if (!co)
        return NULL;
    zx_future_t *future = zx_future_new (loop);
    if (!future) {
        free (co);
        return NULL;
    }
    if (stack_size == 0)
        stack_size = ZX_CORO_STACK_DEFAULT;
    stack_size = (stack_size + 4095) & ~(size_t) 4095;
    co->loop = loop;
    co->fn = fn;
    co->arg = arg;
    co->stack_size = stack_size;
    co->map_size = stack_size + 4096;
    co->state = CO_NEW;
    co->future = zx__future_ref (future);
    co->next = s_live;
    if (s_live)
        s_live->prev = co;
    s_live = co;
    if (zx_loop_call_soon (loop, s_start, co) != ZX_OK) {
        s_coro_free (co);
        zx_future_destroy (&future);
        return NULL;
    }
    zx__future_set_canceller (future, s_cancel, co);
    return future;
}

zx_coro_t *
zx__coro_current (void)
{
    return s_current;
}

zx_loop_t *
zx__coro_loop (zx_coro_t *co)
{
    return co->loop;
}

bool
zx_in_coro (void)
{
    return s_current != NULL;
}

zx_values_t *
zx_coro_result (void)
{
    zx_coro_t *co = s_current;
    if (!co)
        return NULL;
    if (!co->result)
        co->result = zx_values_new ();
    return co->result;
}

zx_err_t
zx_coro_fail (zx_err_t code, const char *format, ...)
{
    zx_coro_t *co = s_current;
    if (!co || code == ZX_OK)
        return ZX_EINVAL;
    free (co->fail_message);
    co->fail_message = NULL;
    if (format) {
        va_list args;
        va_start (args, format);
        co->fail_message = zx__strdupvf (format, args);
        va_end (args);
    }
    co->fail_code = code;
    return code;
}

zx_err_t
zx__coro_suspend (void (*unhook) (void *arg), void *arg)
{
    zx_coro_t *co = s_current;
    assert (co);
    if (co->cancel_requested) {
        if (unhook)
            unhook (arg);
        return ZX_ECANCELLED;
    }
    co->unhook = unhook;
    co->unhook_arg = arg;
    co->state = CO_SUSPENDED;
#ifdef ZX_ASAN
    __sanitizer_start_switch_fiber (&co->fake_stack, co->caller_bottom, co->caller_size);
#endif
#ifdef ZX_TSAN
    __tsan_switch_to_fiber (co->tsan_caller, 0);
#endif
    zx__context_switch (&co->context, &co->caller);
#ifdef ZX_ASAN
    __sanitizer_finish_switch_fiber (co->fake_stack, &co->caller_bottom, &co->caller_size);
#endif
    co->state = CO_RUNNING;
    co->unhook = NULL;
    return co->resume_code;
}

void
zx__coro_resume (zx_coro_t *co, zx_err_t code)
{
    assert (co->state == CO_SUSPENDED || co->state == CO_WAKING);
    co->resume_code = code;
    co->unhook = NULL;
    s_switch_in (co);
}

//  --------------------------------------------------------------------
//  Waiting on one future, and sleeping

static void
s_wake_on_future (zx_future_t *future, void *arg)
{
    (void) future;
    zx__coro_resume ((zx_coro_t *) arg, ZX_OK);
}

typedef struct {
    zx_future_t *future;
    zx_coro_t *co;
} s_future_hook_t;

static void
s_unhook_future (void *arg)
{
    s_future_hook_t *hook = (s_future_hook_t *) arg;
    zx__future_remove_callback (hook->future, s_wake_on_future, hook->co);
}

static bool
s_future_is_done (void *arg)
{
    return zx_future_done ((zx_future_t *) arg);
}

zx_err_t
zx_await (zx_future_t *future)
{
    if (!future)
        return ZX_EINVAL;
    zx_coro_t *co = s_current;
    if (zx_future_done (future))
        return zx_future_error (future);
    //  A shared future (an executor's with a loop of its own) finishes on
    //  its loop's thread: from any other, block this thread until it has
    zx__hub_t *hub = zx__future_hub (future);
    if (hub && !zx__hub_on_loop (hub))
        return zx_future_wait (future, -1);
    if (co) {
        if (zx_future_loop (future) != co->loop)
            return ZX_EINVAL;
        if (zx_future_add_done_callback (future, s_wake_on_future, co) != ZX_OK)
            return ZX_ENOMEM;
        //  Hold the future while we wait: its owner may drop it meanwhile,
        //  and a cancellation still has to take our callback back from it
        s_future_hook_t hook = { zx__future_ref (future), co };
        zx_err_t rc = zx__coro_suspend (s_unhook_future, &hook);
        if (rc == ZX_OK)
            rc = zx_future_error (future);
        zx_future_destroy (&hook.future);
        return rc;
    }
    zx_err_t rc = zx__loop_run_until (zx_future_loop (future), s_future_is_done,
                                      future, -1);
    return rc == ZX_OK ? zx_future_error (future) : rc;
}

static void
s_wake_on_timer (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__coro_resume ((zx_coro_t *) arg, ZX_OK);
}

typedef struct {
    zx_loop_t *loop;
    uint64_t timer;
} s_timer_hook_t;

static void
s_unhook_timer (void *arg)
{
    s_timer_hook_t *hook = (s_timer_hook_t *) arg;
    zx_loop_cancel_timer (hook->loop, hook->timer);
}

static void
s_set_slept (zx_loop_t *loop, void *arg)
{
    (void) loop;
    *(bool *) arg = true;
}

static bool
s_has_slept (void *arg)
{
    return *(bool *) arg;
}

zx_err_t
zx_sleep (int64_t ms)
{
    zx_coro_t *co = s_current;
    if (co) {
        s_timer_hook_t hook = { co->loop, 0 };
        hook.timer = zx_loop_call_later (co->loop, ms, s_wake_on_timer, co);
        if (!hook.timer)
            return ZX_ENOMEM;
        return zx__coro_suspend (s_unhook_timer, &hook);
    }
    zx_loop_t *loop = zx_loop_current ();
    if (!loop) {
        usleep ((useconds_t) (ms > 0 ? ms * 1000 : 0));
        return ZX_OK;
    }
    //  Wait for a timer, as a coroutine does, rather than for a deadline in
    //  whole milliseconds: that could pass before the first iteration, and
    //  a zero sleep would then not run the loop at all
    bool slept = false;
    uint64_t timer = zx_loop_call_later (loop, ms, s_set_slept, &slept);
    if (!timer)
        return ZX_ENOMEM;
    zx_err_t rc = zx__loop_run_until (loop, s_has_slept, &slept, -1);
    if (!slept)
        zx_loop_cancel_timer (loop, timer);
    return rc;
}

//  --------------------------------------------------------------------
//  Ending a loop's coroutines

static bool
s_loop_has_coros (void *arg)
{
    for (zx_coro_t *co = s_live; co; co = co->next)
        if (co->loop == (zx_loop_t *) arg)
            return true;
    return false;
}

static bool
s_loop_has_coros_not (void *arg)
{
    return !s_loop_has_coros (arg);
}

void
zx__coro_cancel_all (zx_loop_t *loop)
{
    //  Cancel each (a suspended one is resumed with ZX_ECANCELLED, and
    //  every later wait in it returns that at once), then let them run to
    //  their end so they can free what they hold. A second bounds it.
    for (zx_coro_t *co = s_live; co; co = co->next)
        if (co->loop == loop)
            zx_future_cancel (co->future);
    if (s_loop_has_coros (loop))
        zx__loop_run_until (loop, s_loop_has_coros_not, loop, zx_loop_time (loop) + 1000);
    //  What is still there never got to run: free it without running it
    zx_coro_t *co = s_live;
    while (co) {
        zx_coro_t *next = co->next;
        if (co->loop == loop && co->state == CO_NEW)
            s_coro_free (co);
        co = next;
    }
}
