/*  zx_metrics.h - internal to zexec-broker: a small HTTP server (GNU
    libmicrohttpd) that answers GET /metrics with text a callback makes.

    It runs on the caller's loop, in its thread: the loop watches the
    server's epoll descriptor and a one-second timer, and the callback
    runs there too, so it may read what that loop's objects hold without
    locks. Only zexec-broker links libmicrohttpd; libzexec does not.    */
#ifndef ZX_METRICS_H_INCLUDED
#define ZX_METRICS_H_INCLUDED
#include "zexec.h"

#include <stddef.h>

typedef struct zx__metrics zx__metrics_t;

//  Makes the text to serve, *size octets, malloc'd (the server frees
//  it); NULL when it cannot (the client gets 500).
typedef char *(zx__metrics_render_fn) (void *arg, size_t *size);

//  Starts listening on address, "HOST:PORT" with HOST an IPv4 address or
//  a bracketed IPv6 one ("[::1]:9100"); port 0 takes a free one. Returns
//  NULL with the reason in why (size octets) on a bad address or when it
//  cannot listen.
zx__metrics_t *zx__metrics_new (const char *address, zx__metrics_render_fn *render, void *arg,
                                char *why, size_t size);

//  The port it listens on.
int zx__metrics_port (const zx__metrics_t *self);

//  Serves from loop: until destroy, requests are answered whenever the
//  loop runs. Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__metrics_attach (zx__metrics_t *self, zx_loop_t *loop);

//  Stops serving and frees the server; accepts NULL, nulls the pointer.
void zx__metrics_destroy (zx__metrics_t **self_p);

#endif
