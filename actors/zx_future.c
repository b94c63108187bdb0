/*  zx_future.c - futures: one outcome, delivered once.

    DESIGN: a future moves from pending (or running) to exactly one of done,
    failed or cancelled; every completing call checks that it is the first
    and otherwise refuses, so a late or duplicate reply can never complete
    a future twice. Done callbacks never run inside the completing call:
    completion schedules one loop callback that runs all of them in order,
    as asyncio does, so a worker's reply handler never re-enters user code.
    Futures are reference counted because several parties hold one (the
    caller, a dispatcher waiting for the reply, a scheduled callback run);
    the last reference frees it.

    A future of a shared loop (the loop of an executor that runs on an I/O
    thread of its own) may be used from any thread, as a concurrent.futures
    future is. Its loop's hub gives it a lock that it takes around its
    state, and its references are atomic; a future of a plain loop has no
    hub and takes no lock, so the loop-bound path costs one test of a
    pointer. The work behind a shared future (its canceller, its back end)
    still lives on the loop's thread: a cancel from another thread is
    posted there, and from then on the future can only end cancelled. A
    done callback added to a shared future that has finished runs at once
    in the caller's thread, as concurrent.futures runs it, since its loop
    may be gone.                                                          */

#include "zx_future.h"
#include "zx_loop.h"
#include "zx_task.h"
#include "zx_slab.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zx_future_cb *fn;
    void *arg;
} s_callback_t;

struct zx_future {
    zx_loop_t *loop;            //  Loop-bound futures; see hub otherwise
    zx__hub_t *hub;             //  Shared futures: locks them, finds the loop
    uint32_t refs;              //  Atomic when hub is set
    zx_future_state_t state;
    zx_err_t error;
    bool fire_scheduled;
    bool cancelling;            //  Cancel asked; the owner finishes it later
    bool cancel_deferred;       //  Set by the canceller while it runs
    bool cancel_posted;         //  Shared: a cancel is on its way to the loop
    char *message;
    zx_error_info_t *info;      //  Where a failure came from, or NULL; its
                                //  strings follow it in the same block
    zx_values_t *result;
    s_callback_t *callbacks;        //  inline_callbacks, or the heap
    uint32_t callback_count, callback_cap;
    s_callback_t inline_callbacks [2];  //  Most futures have one or two
    zx__cancel_fn *canceller;
    void *canceller_arg;
};

//  The lock of a shared future; nothing for a loop-bound one
static inline void
s_lock (const zx_future_t *self)
{
    if (self->hub)
        zx__hub_lock (self->hub);
}

static inline void
s_unlock (const zx_future_t *self)
{
    if (self->hub)
        zx__hub_unlock (self->hub);
}

static zx_future_t *
s_new (zx_loop_t *loop, zx__hub_t *hub)
{
    zx_future_t *self = zx__slab_calloc (sizeof (zx_future_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->hub = hub ? zx__hub_ref (hub) : NULL;
    self->refs = 1;
    self->callbacks = self->inline_callbacks;
    self->callback_cap = 2;
    self->state = ZX_FUTURE_PENDING;
    self->error = ZX_EPENDING;
    return self;
}

zx_future_t *
zx_future_new (zx_loop_t *loop)
{
    if (!loop)
        return NULL;
    return s_new (loop, zx__loop_hub (loop));
}

zx_future_t *
zx__future_new_shared (zx__hub_t *hub)
{
    return s_new (NULL, hub);
}

zx__hub_t *
zx__future_hub (const zx_future_t *self)
{
    return self->hub;
}

zx_future_t *
zx__future_ref (zx_future_t *self)
{
    if (self->hub)
        __atomic_fetch_add (&self->refs, 1, __ATOMIC_RELAXED);
    else
        self->refs++;
    return self;
}

void
zx_future_destroy (zx_future_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_future_t *self = *self_p;
    *self_p = NULL;
    if (self->hub ? __atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) > 0
                  : --self->refs > 0)
        return;
    zx_values_destroy (&self->result);
    free (self->message);
    free (self->info);
    if (self->callbacks != self->inline_callbacks)
        free (self->callbacks);
    zx__hub_unref (&self->hub);
    zx__slab_free (self, sizeof (zx_future_t));
}

zx_loop_t *
zx_future_loop (zx_future_t *self)
{
    if (!self->hub)
        return self->loop;
    zx__hub_lock (self->hub);
    zx_loop_t *loop = zx__hub_loop (self->hub);
    zx__hub_unlock (self->hub);
    return loop;
}

zx_future_state_t
zx_future_state (const zx_future_t *self)
{
    s_lock (self);
    zx_future_state_t state = self->state;
    s_unlock (self);
    return state;
}

bool
zx_future_done (const zx_future_t *self)
{
    return zx_future_state (self) >= ZX_FUTURE_DONE;
}

bool
zx_future_cancelled (const zx_future_t *self)
{
    return zx_future_state (self) == ZX_FUTURE_CANCELLED;
}

void
zx__future_set_canceller (zx_future_t *self, zx__cancel_fn *fn, void *arg)
{
    s_lock (self);
    self->canceller = fn;
    self->canceller_arg = arg;
    s_unlock (self);
}

void
zx__future_set_running (zx_future_t *self)
{
    s_lock (self);
    if (self->state == ZX_FUTURE_PENDING)
        self->state = ZX_FUTURE_RUNNING;
    s_unlock (self);
}

//  Runs the callbacks in the order they were added, each removed before it
//  runs (and run without the lock), so callbacks that add or remove others
//  stay consistent.
static void
s_fire (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_future_t *self = (zx_future_t *) arg;
    s_lock (self);
    while (self->callback_count > 0) {
        s_callback_t callback = self->callbacks [0];
        memmove (&self->callbacks [0], &self->callbacks [1],
                 (self->callback_count - 1) * sizeof (s_callback_t));
        self->callback_count--;
        s_unlock (self);
        callback.fn (self, callback.arg);
        s_lock (self);
    }
    self->fire_scheduled = false;
    s_unlock (self);
    zx_future_destroy (&self);
}

bool
zx__future_is_fire (zx_callback_fn *fn)
{
    return fn == s_fire;
}

//  Schedules the done callbacks on the loop (lock held). Returns true when
//  the caller must run them itself once it has released the lock: a
//  shared future whose loop is gone.
static bool
s_schedule_fire (zx_future_t *self)
{
    if (self->fire_scheduled || self->callback_count == 0)
        return false;
    bool scheduled;
    if (!self->hub)
        scheduled = zx_loop_call_soon (self->loop, s_fire, self) == ZX_OK;
    else {
        zx_loop_t *loop = zx__hub_loop (self->hub);
        if (!loop) {
            self->fire_scheduled = true;
            zx__future_ref (self);
            return true;
        }
        scheduled = zx__hub_on_loop (self->hub)
                  ? zx_loop_call_soon (loop, s_fire, self) == ZX_OK
                  : zx__hub_post (self->hub, true, s_fire, self) == ZX_OK;
    }
    if (scheduled) {
        self->fire_scheduled = true;
        zx__future_ref (self);
    }
    return false;
}

//  Moves the future to its final state: the one place that does (lock
//  held). A shared future whose cancel was posted from another thread
//  ends cancelled whatever came first, as that cancel promised. Returns
//  what s_schedule_fire does.
static bool
s_finish (zx_future_t *self, zx_future_state_t state, zx_err_t error)
{
    if (self->cancel_posted && state != ZX_FUTURE_CANCELLED) {
        zx_values_destroy (&self->result);
        free (self->message);
        self->message = strdup ("cancelled; what the work returned meanwhile was dropped");
        state = ZX_FUTURE_CANCELLED;
        error = ZX_ECANCELLED;
    }
    self->state = state;
    self->error = error;
    self->canceller = NULL;
    return s_schedule_fire (self);
}

//  Releases the lock, then runs the callbacks if s_finish said so.
static void
s_unlock_and_fire (zx_future_t *self, bool fire_here)
{
    s_unlock (self);
    if (fire_here)
        s_fire (NULL, self);
}

zx_err_t
zx_future_set_result (zx_future_t *self, zx_values_t **values_p)
{
    if (!self)
        return ZX_EINVAL;
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE) {
        s_unlock (self);
        if (values_p)
            zx_values_destroy (values_p);
        return ZX_EINVAL;
    }
    if (values_p && *values_p) {
        self->result = *values_p;
        *values_p = NULL;
    }
    s_unlock_and_fire (self, s_finish (self, ZX_FUTURE_DONE, ZX_OK));
    return ZX_OK;
}

zx_err_t
zx__future_fail_owned (zx_future_t *self, zx_err_t code, char *message)
{
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE || code == ZX_OK) {
        s_unlock (self);
        free (message);
        return ZX_EINVAL;
    }
    self->message = message;
    s_unlock_and_fire (self, s_finish (self, ZX_FUTURE_FAILED, code));
    return ZX_OK;
}

zx_err_t
zx_future_set_error (zx_future_t *self, zx_err_t code, const char *format, ...)
{
    if (!self || code == ZX_OK || zx_future_done (self))
        return ZX_EINVAL;
    char *message = NULL;
    if (format) {
        va_list args;
        va_start (args, format);
        message = zx__strdupvf (format, args);
        va_end (args);
    }
    return zx__future_fail_owned (self, code, message);
}

//  Takes the canceller away (lock held by the caller or not needed).
static zx__cancel_fn *
s_take_canceller (zx_future_t *self, void **arg)
{
    zx__cancel_fn *canceller = self->canceller;
    *arg = self->canceller_arg;
    self->canceller = NULL;
    return canceller;
}

bool
zx__future_expire (zx_future_t *self, zx_err_t code, const char *message)
{
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE) {
        s_unlock (self);
        return false;
    }
    void *canceller_arg;
    zx__cancel_fn *canceller = s_take_canceller (self, &canceller_arg);
    s_unlock (self);
    zx__future_ref (self);
    zx_future_set_error (self, code, "%s", message);
    if (canceller)
        canceller (self, canceller_arg);
    zx_future_destroy (&self);
    return true;
}

void
zx__future_defer_cancel (zx_future_t *self)
{
    s_lock (self);
    self->cancel_deferred = true;
    s_unlock (self);
}

bool
zx__future_set_cancelled (zx_future_t *self, const char *message)
{
    char *copy = message ? strdup (message) : NULL;
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE) {
        s_unlock (self);
        free (copy);
        return false;
    }
    free (self->message);
    self->message = copy;
    s_unlock_and_fire (self, s_finish (self, ZX_FUTURE_CANCELLED, ZX_ECANCELLED));
    return true;
}

void
zx__future_set_info (zx_future_t *self, const zx_error_info_t *info)
{
    const char *strings [] = { info->task, info->host, info->thread, info->where };
    //  Only a failure has them: out of line, so that every future is
    //  smaller (each byte of 200,000 futures held at once is faulted in)
    size_t size = sizeof (zx_error_info_t);
    for (size_t i = 0; i < 4; i++)
        size += strlen (strings [i] ? strings [i] : "") + 1;
    zx_error_info_t *block = malloc (size);
    if (!block)
        return;                 //  The details are a help, not the outcome
    const char *copies [4];
    char *cursor = (char *) (block + 1);
    for (size_t i = 0; i < 4; i++) {
        size_t length = strlen (strings [i] ? strings [i] : "") + 1;
        memcpy (cursor, strings [i] ? strings [i] : "", length);
        copies [i] = cursor;
        cursor += length;
    }
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE || self->info) {
        s_unlock (self);
        free (block);
        return;
    }
    *block = (zx_error_info_t) { copies [0], copies [1], info->pid, copies [2], copies [3] };
    self->info = block;
    s_unlock (self);
}

bool
zx_future_error_info (const zx_future_t *self, zx_error_info_t *info)
{
    static const zx_error_info_t none = { "", "", 0, "", "" };
    s_lock (self);
    bool known = self->info && self->state >= ZX_FUTURE_DONE;
    *info = known ? *self->info : none;
    s_unlock (self);
    return known;
}

bool
zx_future_cancel_if_pending (zx_future_t *self)
{
    if (zx_future_state (self) != ZX_FUTURE_PENDING)
        return false;
    return zx_future_cancel (self);
}

//  Cancels on the loop's thread (any future there, a loop-bound one
//  always): the canceller withdraws the work, or defers the end until the
//  work has stopped.
static bool
s_cancel_here (zx_future_t *self)
{
    s_lock (self);
    if (self->state >= ZX_FUTURE_DONE) {
        s_unlock (self);
        return false;
    }
    if (self->cancelling) {
        s_unlock (self);
        return true;
    }
    //  The canceller may drop the last other reference: hold one. It may
    //  also finish the future as cancelled itself, with a better message,
    //  or defer: then the future ends when the work has stopped.
    void *canceller_arg;
    zx__cancel_fn *canceller = s_take_canceller (self, &canceller_arg);
    self->cancel_deferred = false;
    s_unlock (self);
    zx__future_ref (self);
    if (canceller)
        canceller (self, canceller_arg);
    s_lock (self);
    bool deferred = self->cancel_deferred && self->state < ZX_FUTURE_DONE;
    if (deferred)
        self->cancelling = true;
    s_unlock (self);
    if (!deferred)
        zx__future_set_cancelled (self, NULL);
    zx_future_destroy (&self);
    return true;
}

static void
s_cancel_posted (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_future_t *self = (zx_future_t *) arg;
    s_cancel_here (self);
    zx_future_destroy (&self);
}

//  Cancels a shared future from a thread other than its loop's: the
//  cancel goes to the loop, and the future can only end cancelled now.
static bool
s_cancel_from_afar (zx_future_t *self)
{
    zx__hub_lock (self->hub);
    if (self->state >= ZX_FUTURE_DONE) {
        zx__hub_unlock (self->hub);
        return false;
    }
    if (self->cancelling || self->cancel_posted) {
        zx__hub_unlock (self->hub);
        return true;
    }
    self->cancel_posted = true;
    zx__future_ref (self);
    bool posted = zx__hub_post (self->hub, true, s_cancel_posted, self) == ZX_OK;
    zx__hub_unlock (self->hub);
    if (!posted) {
        //  No loop to withdraw the work on (or no memory): end it here
        zx__future_set_cancelled (self, NULL);
        zx_future_destroy (&self);
    }
    return true;
}

bool
zx_future_cancel (zx_future_t *self)
{
    if (!self)
        return false;
    if (self->hub && !zx__hub_on_loop (self->hub))
        return s_cancel_from_afar (self);
    return s_cancel_here (self);
}

zx_err_t
zx_future_error (const zx_future_t *self)
{
    s_lock (self);
    zx_err_t error = self->error;
    s_unlock (self);
    return error;
}

const char *
zx_future_message (const zx_future_t *self)
{
    //  The message is set once, as the future finishes, and kept after
    s_lock (self);
    const char *message = self->message ? self->message
                        : self->state == ZX_FUTURE_CANCELLED ? "cancelled" : "";
    s_unlock (self);
    return message;
}

const zx_values_t *
zx_future_result (const zx_future_t *self)
{
    s_lock (self);
    const zx_values_t *result = NULL;
    if (self->state == ZX_FUTURE_DONE) {
        //  An empty result is an empty list, never NULL, once done
        zx_future_t *mutable_self = (zx_future_t *) self;
        if (!mutable_self->result)
            mutable_self->result = zx_values_new ();
        result = mutable_self->result;
    }
    s_unlock (self);
    return result;
}

zx_err_t
zx_future_result_int (const zx_future_t *self, int64_t *out)
{
    if (zx_future_state (self) != ZX_FUTURE_DONE)
        return zx_future_error (self);
    const zx_values_t *result = zx_future_result (self);
    if (!result)
        return ZX_ENOMEM;
    zx_err_t rc = zx_values_get_int (result, 0, out);
    return rc == ZX_EINVAL ? ZX_ETYPE : rc;
}

zx_err_t
zx_future_add_done_callback (zx_future_t *self, zx_future_cb *fn, void *arg)
{
    if (!self || !fn)
        return ZX_EINVAL;
    s_lock (self);
    if (self->hub && self->state >= ZX_FUTURE_DONE) {
        //  concurrent.futures' rule: at once, in the caller's thread
        s_unlock (self);
        fn (self, arg);
        return ZX_OK;
    }
    if (self->callback_count == self->callback_cap) {
        uint32_t cap = self->callback_cap * 2;
        s_callback_t *grown;
        if (self->callbacks == self->inline_callbacks) {
            if ((grown = malloc (cap * sizeof (s_callback_t))))
                memcpy (grown, self->callbacks, self->callback_count * sizeof (s_callback_t));
        }
        else
            grown = realloc (self->callbacks, cap * sizeof (s_callback_t));
        if (!grown) {
            s_unlock (self);
            return ZX_ENOMEM;
        }
        self->callbacks = grown;
        self->callback_cap = cap;
    }
    self->callbacks [self->callback_count++] = (s_callback_t) { fn, arg };
    if (self->state >= ZX_FUTURE_DONE)
        s_schedule_fire (self);         //  Loop-bound: on the next iteration
    s_unlock (self);
    return ZX_OK;
}

bool
zx__future_remove_callback (zx_future_t *self, zx_future_cb *fn, void *arg)
{
    bool removed = false;
    s_lock (self);
    for (uint32_t i = 0; i < self->callback_count; i++)
        if (self->callbacks [i].fn == fn && self->callbacks [i].arg == arg) {
            memmove (&self->callbacks [i], &self->callbacks [i + 1],
                     (self->callback_count - i - 1) * sizeof (s_callback_t));
            self->callback_count--;
            removed = true;
            break;
        }
    s_unlock (self);
    return removed;
}
