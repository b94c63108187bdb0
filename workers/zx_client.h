/*  zx_client.h - internal: the coordinator's side of a broker (ZXC01).

    A client is a DEALER connected to a zexec-broker. It batches the
    requests submitted in one loop iteration into one REQUEST message,
    completes each future from its reply record, sends heartbeats while
    work is outstanding, and when the broker is lost (silent, or the link
    dropped) sends again what allows retries, for a restarted broker at
    the same endpoint, and fails the rest.
    The remote executor is a client behind the executor API.             */
#ifndef ZX_CLIENT_H_INCLUDED
#define ZX_CLIENT_H_INCLUDED
#include "zexec.h"

typedef struct zx__client zx__client_t;

//  Creates a client for service at endpoint (connects at once; the broker
//  may come later). idle (owner) runs whenever the last outstanding
//  request completes. NULL on a bad endpoint or when out of memory. With
//  ZEXEC_SERVER_KEY and ZEXEC_CERT in the environment it uses CURVE (see
//  zx__client_new_secure).
zx__client_t *zx__client_new (const char *endpoint, const char *service,
                              int heartbeat_ms, int liveness,
                              void (*idle) (void *owner), void *owner);

//  As zx__client_new, and with CURVE when server_key (Z85 or a certificate
//  file) and cert (this coordinator's certificate) are given. Both NULL:
//  the environment's ZEXEC_SERVER_KEY and ZEXEC_CERT, when set, are used
//  instead. NULL (with the reason logged) when a key cannot be read.
zx__client_t *zx__client_new_secure (const char *endpoint, const char *service,
                                     int heartbeat_ms, int liveness,
                                     const char *server_key, const char *cert,
                                     void (*idle) (void *owner), void *owner);

//  Makes idle (owner) run whenever the outstanding requests fall to parked
//  or fewer rather than to none: the owner's requests that the broker
//  parks (watches), which are not work.
void zx__client_set_idle_at (zx__client_t *self, size_t parked);

//  Sets how long requests that allow retries wait for the broker to come
//  back after the connection is lost (see zx_executor_opts_t.reconnect_ms):
//  0 keeps the default (10 heartbeat intervals times the liveness), a
//  negative value waits for nothing and fails everything at once.
void zx__client_set_reconnect (zx__client_t *self, int reconnect_ms);

//  Fails what is outstanding with ZX_ESHUTDOWN, says DISCONNECT and frees
//  the client; accepts NULL and nulls the pointer.
void zx__client_destroy (zx__client_t **self_p);

//  Starts watching the socket and the heartbeat timer on loop.
zx_err_t zx__client_attach (zx__client_t *self, zx_loop_t *loop);

//  Sends task (args, taken) for future, which the client references until
//  it completes it, exactly once; flags go on the wire (their low 4 bits:
//  retries allowed). Errors fail the future.
void zx__client_submit (zx__client_t *self, zx_future_t *future, const char *task,
                        zx_values_t *args, uint8_t flags);

//  zx__client_submit for the serving worker whose routing id is target
//  (1 to 255 bytes; NULL: any worker, as zx__client_submit): the broker
//  sends it there or answers with an error (PROTOCOL.md 13.7). A targeted
//  request is never retried.
void zx__client_submit_to (zx__client_t *self, zx_future_t *future, const char *task,
                           const char *target, zx_values_t *args, uint8_t flags);

//  Ends every outstanding request now with ZX_ECANCELLED and text, and
//  tells the broker to cancel them (a shutdown's deadline). Returns how
//  many.
size_t zx__client_abandon_all (zx__client_t *self, const char *text);

//  Returns how many requests await their reply.
size_t zx__client_outstanding (const zx__client_t *self);

//  Sends the requests batched so far now, rather than on the loop's next
//  iteration. From plain code (outside the loop) it also reads the
//  replies waiting in the socket, and does either at most once a ms.
void zx__client_flush (zx__client_t *self);

#endif
