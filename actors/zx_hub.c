/*  zx_hub.c - a shared loop's hub (see zx_loop.h): the lock that a
    shared loop's futures take, so that other threads can use them, and
    the way other threads post to the loop. Reference counted: it
    outlives its loop as long as a future holds it, and says so (its loop
    is NULL once the loop is unshared or gone).                         */

#include "zx_loop.h"

#include <pthread.h>
#include <stdlib.h>

struct zx__hub {
    pthread_mutex_t lock;
    uint32_t refs;                  //  Atomic
    zx_loop_t *loop;                //  Under lock; NULL once unshared
    pthread_t owner;                //  The loop's thread
};

zx__hub_t *
zx__hub_new (zx_loop_t *loop, pthread_t owner)
{
    zx__hub_t *self = calloc (1, sizeof (zx__hub_t));
    if (!self)
        return NULL;
    if (pthread_mutex_init (&self->lock, NULL)) {
        free (self);
        return NULL;
    }
    self->refs = 1;
    self->loop = loop;
    self->owner = owner;
    return self;
}

void
zx__hub_orphan (zx__hub_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->loop = NULL;
    pthread_mutex_unlock (&self->lock);
}

zx__hub_t *
zx__hub_ref (zx__hub_t *self)
{
    __atomic_fetch_add (&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

void
zx__hub_unref (zx__hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__hub_t *self = *self_p;
    *self_p = NULL;
    if (__atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self);
}

void
zx__hub_lock (zx__hub_t *self)
{
    pthread_mutex_lock (&self->lock);
}

void
zx__hub_unlock (zx__hub_t *self)
{
    pthread_mutex_unlock (&self->lock);
}

zx_loop_t *
zx__hub_loop (zx__hub_t *self)
{
    return self->loop;
}

bool
zx__hub_on_loop (const zx__hub_t *self)
{
    return pthread_equal (self->owner, pthread_self ());
}

zx_err_t
zx__hub_post (zx__hub_t *self, bool locked, zx_callback_fn *fn, void *arg)
{
    if (!locked)
        pthread_mutex_lock (&self->lock);
    //  Under the lock, so that the loop cannot go while we post to it
    zx_err_t rc = self->loop ? zx_loop_call_soon_threadsafe (self->loop, fn, arg)
                             : ZX_ESHUTDOWN;
    if (!locked)
        pthread_mutex_unlock (&self->lock);
    return rc;
}
