/*  zx_future.h - internal: hooks behind a future.                       */
#ifndef ZX_FUTURE_H_INCLUDED
#define ZX_FUTURE_H_INCLUDED
#include "zexec.h"

#include "zx_loop.h"

typedef void (zx__cancel_fn) (zx_future_t *future, void *arg);

//  Creates a pending future of the shared loop behind hub, which may be
//  used from any thread and outlive the loop (see zx_future.c). Caller
//  owns it; NULL when out of memory.
zx_future_t *zx__future_new_shared (zx__hub_t *hub);

//  Returns the hub of a shared future (its loop's), or NULL for a future
//  of a loop that is not shared.
zx__hub_t *zx__future_hub (const zx_future_t *self);

//  Adds a reference; zx_future_destroy drops one. Returns self.
zx_future_t *zx__future_ref (zx_future_t *self);

//  Sets the function zx_future_cancel calls (once, before the future turns
//  cancelled) so the work behind it can be withdrawn.
void zx__future_set_canceller (zx_future_t *self, zx__cancel_fn *fn, void *arg);

//  Called by a canceller: the work cannot be withdrawn at once, and the
//  canceller's owner will finish the future (cancelled, with a message
//  that says how the work stopped) once it has. zx_future_cancel then
//  returns true and leaves the future running.
void zx__future_defer_cancel (zx_future_t *self);

//  Fails the future now with code and message (copied), then withdraws
//  the work behind it through its canceller, as a cancel would (for a
//  deadline that passed). Returns false when it had already finished.
bool zx__future_expire (zx_future_t *self, zx_err_t code, const char *message);

//  True when fn is the loop callback that runs a finished future's done
//  callbacks (zx_loop_destroy runs those and drops the rest).
bool zx__future_is_fire (zx_callback_fn *fn);

//  Marks a pending future running.
void zx__future_set_running (zx_future_t *self);

//  Fails the future with a message taken as is (owned string, may be NULL).
//  Returns ZX_EINVAL (and frees message) when it already finished.
zx_err_t zx__future_fail_owned (zx_future_t *self, zx_err_t code, char *message);

//  Gives a future that has not finished the details of its coming error
//  (copied), for zx_future_error_info. Out of memory, it has none.
void zx__future_set_info (zx_future_t *self, const zx_error_info_t *info);

//  Removes a done callback added with the same fn and arg, if it has not
//  run yet. Returns true if one was removed.
bool zx__future_remove_callback (zx_future_t *self, zx_future_cb *fn, void *arg);

//  Marks a future cancelled without calling its canceller (used by the
//  owner of the work, which withdrew it already). Returns false when it
//  had already finished.
bool zx__future_set_cancelled (zx_future_t *self, const char *message);

#endif
