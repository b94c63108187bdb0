/*  zx_actor.c - czmq-style actors on joinable threads.

    DESIGN: the pipe is a pair of PAIR sockets from zsys_create_pipe. The
    thread's wrapper signals the pipe when the actor function returns (as
    czmq's shim does) and destroys its end before the thread ends, so after
    pthread_join nothing of the actor is left open.                       */

#include "zx_actor.h"
#include <pthread.h>
#include <stdlib.h>

struct zx__actor {
    pthread_t thread;
    zsock_t *pipe;              //  Our end
    zsock_t *backend;           //  The actor's end, closed by its thread
    zactor_fn *fn;
    void *args;
};

static void *
s_thread (void *arg)
{
    zx__actor_t *self = (zx__actor_t *) arg;
    self->fn (self->backend, self->args);
    //  Tell a destroy that may be waiting, then close our end
    zsock_signal (self->backend, 0);
    zsock_destroy (&self->backend);
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
    zsock_destroy (&self->pipe);
    free (self);
    *self_p = NULL;
}
