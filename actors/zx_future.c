/*  zx_future.c - futures: one outcome, delivered once.

    DESIGN: a future moves from pending (or running) to exactly one of done,
    failed or cancelled; every completing call checks that it is the first
    and otherwise refuses, so a late or duplicate reply can never complete
    a future twice. Done callbacks never run inside the completing call:
    completion schedules one loop callback that runs all of them in order,
    as asyncio does, so a worker's reply handler never re-enters user code.
    Futures are reference counted because several parties hold one (the
    caller, a dispatcher waiting for the reply, a scheduled callback run);
    the last reference frees it.                                          */

#include "zx_future.h"
#include "zx_loop.h"
#include "zx_task.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zx_future_cb *fn;
    void *arg;
} s_callback_t;

struct zx_future {
    zx_loop_t *loop;
    uint32_t refs;
    zx_future_state_t state;
    zx_err_t error;
    bool fire_scheduled;
    bool cancelling;            //  Cancel asked; the owner finishes it later
    bool cancel_deferred;       //  Set by the canceller while it runs
    char *message;
    zx_values_t *result;
    s_callback_t *callbacks;        //  inline_callbacks, or the heap
    uint32_t callback_count, callback_cap;
    s_callback_t inline_callbacks [2];  //  Most futures have one or two
    zx__cancel_fn *canceller;
    void *canceller_arg;
};

zx_future_t *
zx_future_new (zx_loop_t *loop)
{
    if (!loop)
        return NULL;
    zx_future_t *self = calloc (1, sizeof (zx_future_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->refs = 1;
    self->callbacks = self->inline_callbacks;
    self->callback_cap = 2;
    self->state = ZX_FUTURE_PENDING;
    self->error = ZX_EPENDING;
    return self;
}

zx_future_t *
zx__future_ref (zx_future_t *self)
{
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
    if (--self->refs > 0)
        return;
    zx_values_destroy (&self->result);
    free (self->message);
    if (self->callbacks != self->inline_callbacks)
        free (self->callbacks);
    free (self);
}

zx_loop_t *
zx_future_loop (zx_future_t *self)
{
    return self->loop;
}

zx_future_state_t
zx_future_state (const zx_future_t *self)
{
    return self->state;
}

bool
zx_future_done (const zx_future_t *self)
{
    return self->state >= ZX_FUTURE_DONE;
}

bool
zx_future_cancelled (const zx_future_t *self)
{
    return self->state == ZX_FUTURE_CANCELLED;
}

void
zx__future_set_canceller (zx_future_t *self, zx__cancel_fn *fn, void *arg)
{
    self->canceller = fn;
    self->canceller_arg = arg;
}

void
zx__future_set_running (zx_future_t *self)
{
    if (self->state == ZX_FUTURE_PENDING)
        self->state = ZX_FUTURE_RUNNING;
}

//  Runs the callbacks in the order they were added, each removed before it
//  runs, so callbacks that add or remove others stay consistent.
static void
s_fire (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx_future_t *self = (zx_future_t *) arg;
    while (self->callback_count > 0) {
        s_callback_t callback = self->callbacks [0];
        memmove (&self->callbacks [0], &self->callbacks [1],
                 (self->callback_count - 1) * sizeof (s_callback_t));
        self->callback_count--;
        callback.fn (self, callback.arg);
    }
    self->fire_scheduled = false;
    zx_future_destroy (&self);
}

bool
zx__future_is_fire (zx_callback_fn *fn)
{
    return fn == s_fire;
}

static void
s_schedule_fire (zx_future_t *self)
{
    if (self->fire_scheduled || self->callback_count == 0)
        return;
    if (zx_loop_call_soon (self->loop, s_fire, self) == ZX_OK) {
        self->fire_scheduled = true;
        self->refs++;
    }
}

//  Moves the future to its final state: the one place that does.
static void
s_finish (zx_future_t *self, zx_future_state_t state, zx_err_t error)
{
    self->state = state;
    self->error = error;
    self->canceller = NULL;
    s_schedule_fire (self);
}

zx_err_t
zx_future_set_result (zx_future_t *self, zx_values_t **values_p)
{
    if (!self)
        return ZX_EINVAL;
    if (zx_future_done (self)) {
        if (values_p)
            zx_values_destroy (values_p);
        return ZX_EINVAL;
    }
    if (values_p && *values_p) {
        self->result = *values_p;
        *values_p = NULL;
    }
    s_finish (self, ZX_FUTURE_DONE, ZX_OK);
    return ZX_OK;
}

zx_err_t
zx__future_fail_owned (zx_future_t *self, zx_err_t code, char *message)
{
    if (zx_future_done (self) || code == ZX_OK) {
        free (message);
        return ZX_EINVAL;
    }
    self->message = message;
    s_finish (self, ZX_FUTURE_FAILED, code);
    return ZX_OK;
}

zx_err_t
zx_future_set_error (zx_future_t *self, zx_err_t code, const char *format, ...)
{
    if (!self || zx_future_done (self) || code == ZX_OK)
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

bool
zx__future_expire (zx_future_t *self, zx_err_t code, const char *message)
{
    if (zx_future_done (self))
        return false;
    self->refs++;
    zx__cancel_fn *canceller = self->canceller;
    void *canceller_arg = self->canceller_arg;
    self->canceller = NULL;
    zx_future_set_error (self, code, "%s", message);
    if (canceller)
        canceller (self, canceller_arg);
    zx_future_destroy (&self);
    return true;
}

void
zx__future_defer_cancel (zx_future_t *self)
{
    self->cancel_deferred = true;
}

bool
zx__future_set_cancelled (zx_future_t *self, const char *message)
{
    if (zx_future_done (self))
        return false;
    free (self->message);
    self->message = message ? strdup (message) : NULL;
    s_finish (self, ZX_FUTURE_CANCELLED, ZX_ECANCELLED);
    return true;
}

bool
zx_future_cancel (zx_future_t *self)
{
    if (!self || zx_future_done (self))
        return false;
    if (self->cancelling)
        return true;
    //  The canceller may drop the last other reference: hold one. It may
    //  also finish the future as cancelled itself, with a better message,
    //  or defer: then the future ends when the work has stopped.
    self->refs++;
    zx__cancel_fn *canceller = self->canceller;
    self->canceller = NULL;
    self->cancel_deferred = false;
    if (canceller)
        canceller (self, self->canceller_arg);
    if (self->cancel_deferred && !zx_future_done (self))
        self->cancelling = true;
    else
        zx__future_set_cancelled (self, NULL);
    zx_future_destroy (&self);
    return true;
}

zx_err_t
zx_future_error (const zx_future_t *self)
{
    return self->error;
}

const char *
zx_future_message (const zx_future_t *self)
{
    if (self->message)
        return self->message;
    if (self->state == ZX_FUTURE_CANCELLED)
        return "cancelled";
    return "";
}

const zx_values_t *
zx_future_result (const zx_future_t *self)
{
    if (self->state != ZX_FUTURE_DONE)
        return NULL;
    if (!self->result) {
        //  An empty result is an empty list, never NULL, once done
        zx_future_t *mutable_self = (zx_future_t *) self;
        mutable_self->result = zx_values_new ();
    }
    return self->result;
}

zx_err_t
zx_future_result_int (const zx_future_t *self, int64_t *out)
{
    if (self->state != ZX_FUTURE_DONE)
        return self->error;
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
    if (self->callback_count == self->callback_cap) {
        uint32_t cap = self->callback_cap * 2;
        s_callback_t *grown;
        if (self->callbacks == self->inline_callbacks) {
            if ((grown = malloc (cap * sizeof (s_callback_t))))
                memcpy (grown, self->callbacks, self->callback_count * sizeof (s_callback_t));
        }
        else
            grown = realloc (self->callbacks, cap * sizeof (s_callback_t));
        if (!grown)
            return ZX_ENOMEM;
        self->callbacks = grown;
        self->callback_cap = cap;
    }
    self->callbacks [self->callback_count++] = (s_callback_t) { fn, arg };
    if (zx_future_done (self))
        s_schedule_fire (self);
    return ZX_OK;
}

bool
zx__future_remove_callback (zx_future_t *self, zx_future_cb *fn, void *arg)
{
    for (uint32_t i = 0; i < self->callback_count; i++)
        if (self->callbacks [i].fn == fn && self->callbacks [i].arg == arg) {
            memmove (&self->callbacks [i], &self->callbacks [i + 1],
                     (self->callback_count - i - 1) * sizeof (s_callback_t));
            self->callback_count--;
            return true;
        }
    return false;
}
