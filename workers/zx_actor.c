/*  zx_actor.c - czmq-style actors on joinable threads.

    DESIGN: the pipe is a pair of PAIR sockets from zsys_create_pipe. The
    thread's wrapper signals the pipe when the actor function returns (as
    czmq's shim does) and destroys its end before the thread ends, so after
    pthread_join nothing of the actor is left open.                       */

#include "zx_actor.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int s_detached_running;

struct zx__actor {
    pthread_t thread;
    zsock_t *pipe;              //  Our end
    zsock_t *backend;           //  The actor's end, closed by its thread
    zactor_fn *fn;
    void *args;
    atomic_int refs;            //  The thread's and the owner's
    atomic_int state;           //  S_ATTACHED, S_DETACHED, S_FINISHED
};

enum { S_ATTACHED, S_DETACHED, S_FINISHED };

static void
s_unref (zx__actor_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) == 1) {
        zsock_destroy (&self->pipe);
        free (self);
    }
}

static void *
s_thread (void *arg)
{
    zx__actor_t *self = (zx__actor_t *) arg;
    self->fn (self->backend, self->args);
    //  Tell a destroy that may be waiting, then close our end
    zsock_signal (self->backend, 0);
    zsock_destroy (&self->backend);
    if (atomic_exchange (&self->state, S_FINISHED) == S_DETACHED)
        atomic_fetch_sub (&s_detached_running, 1);
    s_unref (self);
    return NULL;
}

zx__actor_t *
zx__actor_new (zactor_fn *fn, void *args)
{
    zx__actor_t *self = calloc (1, sizeof (zx__actor_t));
    if (!self)
        return NULL;
    self->fn = fn;
    self->args = args;
    atomic_init (&self->refs, 2);
    atomic_init (&self->state, S_ATTACHED);
    self->pipe = zsys_create_pipe (&self->backend);
    if (!self->pipe)
        goto fail_pipe;
    if (pthread_create (&self->thread, NULL, s_thread, self))
        goto fail_thread;
    zsock_wait (self->pipe);
    return self;

fail_thread:
    zsock_destroy (&self->pipe);
    zsock_destroy (&self->backend);
fail_pipe:
    free (self);
    return NULL;
}

void
zx__actor_destroy (zx__actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__actor_t *self = *self_p;
    //  An actor that already returned has closed its end, and a PAIR
    //  without a peer would block the send: do not wait for it
    zmq_send (zsock_resolve (self->pipe), "$TERM", 5, ZMQ_DONTWAIT);
    pthread_join (self->thread, NULL);
    s_unref (self);
    *self_p = NULL;
}

void
zx__actor_detach (zx__actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__actor_t *self = *self_p;
    *self_p = NULL;
    //  Our end stays open until the thread is done with it: it reads the
    //  $TERM when its task returns
    zmq_send (zsock_resolve (self->pipe), "$TERM", 5, ZMQ_DONTWAIT);
    atomic_fetch_add (&s_detached_running, 1);
    int attached = S_ATTACHED;
    if (!atomic_compare_exchange_strong (&self->state, &attached, S_DETACHED))
        atomic_fetch_sub (&s_detached_running, 1);      //  It finished already
    pthread_detach (self->thread);
    s_unref (self);
}

int
zx__actor_detached_running (void)
{
    return atomic_load (&s_detached_running);
}
