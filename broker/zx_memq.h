/*  zx_memq.h - internal: the in-process transport of a thread pool.

    A thread pool's dispatcher and its worker threads live in one process,
    so their ZXW01 messages need no socket: a memq moves the same frames
    through queues under one mutex. The dispatcher's end is the hub (a
    ROUTER's place: it sends to a worker by routing id and receives each
    worker's messages with its id as the first frame); each worker thread
    attaches a peer (a DEALER's place). The hub wakes its loop through an
    eventfd written only when its queue turns non-empty; a peer sleeps on
    a semaphore posted only while it sleeps. So a task costs
    about one wake-up each way, where libzmq's inproc pipes cost a mailbox
    poll per call (docs/PERFORMANCE.md, "The C peer").

    The codec (zx_proto) sends and receives over a memq as over a socket:
    a zx__route_t with hub or peer set, and zx__recv_memq. Messages keep
    their order per sender. Nothing here blocks but zx__memq_wait.

    Lifetimes: the hub is reference counted (the pool holds one, each
    worker thread one), since a thread abandoned at a shutdown's deadline
    outlives its pool; after zx__memq_close its peers' sends fail and
    their waits return at once. A peer is its thread's alone.            */
#ifndef ZX_MEMQ_H_INCLUDED
#define ZX_MEMQ_H_INCLUDED
#include "zexec.h"
#include <zmq.h>

typedef struct zx__memq zx__memq_t;
typedef struct zx__memq_peer zx__memq_peer_t;

//  Creates a hub with one reference. Returns NULL when out of memory or
//  out of file descriptors (its eventfd).
zx__memq_t *zx__memq_new (void);

//  Takes one more reference to self and returns it.
zx__memq_t *zx__memq_ref (zx__memq_t *self);

//  Drops a reference, freeing the hub (and whatever it still queues)
//  with the last. Accepts NULL and nulls the pointer.
void zx__memq_unref (zx__memq_t **self_p);

//  The file descriptor readable while messages wait for the hub (level
//  triggered: zx__memq_recv_hub drains it when the queue is empty).
int zx__memq_fd (const zx__memq_t *self);

//  The hub's owner is gone: drops what waits for it, and from now on its
//  peers' sends fail (EHOSTUNREACH) and their waits return at once.
void zx__memq_close (zx__memq_t *self);

//  Attaches a peer with routing id identity (1 to 255 octets) to hub,
//  taking a reference to hub. Returns NULL, errno EINVAL for a bad or
//  taken id, or ENOMEM.
zx__memq_peer_t *zx__memq_attach (zx__memq_t *hub, const void *identity, size_t size);

//  Detaches the peer: what waits for it is dropped, sends to its id fail
//  from now on, and its hub reference goes. Accepts NULL, nulls it.
void zx__memq_detach (zx__memq_peer_t **peer_p);

//  Tells the peer with identity to stop: its waits return true from now
//  on. Does nothing when no such peer is attached, and is not remembered
//  for one that attaches later: a thread that may be termed as soon as it
//  runs attaches before it says it runs (zx_pool.c, s_thread_actor).
void zx__memq_term (zx__memq_t *hub, const void *identity, size_t size);

//  Sends one message of count frames (copied), then tail if not NULL
//  (moved, not copied: left empty when sent, the caller's still on any
//  error). From a peer to its hub (hub NULL), or from hub to the peer
//  whose routing id is identity (peer NULL). Returns ZX_OK, ZX_ENOMEM, or
//  ZX_ESYS with errno EHOSTUNREACH: no such peer, or the hub is closed.
zx_err_t zx__memq_send (zx__memq_t *hub, zx__memq_peer_t *peer,
                        const void *identity, size_t identity_size,
                        const void *const *frames, const size_t *sizes, size_t count,
                        zmq_msg_t *tail);

//  Moves the next whole message for the hub (identity frame first) or for
//  the peer into frames, at most max of them (the rest are closed and
//  *overflow set). Returns how many frames it moved, 0 when nothing
//  waits. The caller closes the frames.
size_t zx__memq_recv (zx__memq_t *hub, zx__memq_peer_t *peer, zmq_msg_t *frames,
                      size_t max, bool *overflow);

//  True when a message waits for the peer (no lock: a hint, as
//  ZMQ_EVENTS is).
bool zx__memq_pending (zx__memq_peer_t *peer);

//  True when a message waits for the hub (no lock: a hint; its fd may be
//  written a moment later).
bool zx__memq_hub_pending (const zx__memq_t *self);

//  Waits until a message waits for the peer, it is told to stop, or
//  timeout_ms passes (-1: no limit). Returns true when it is told to stop
//  (or its hub is closed).
bool zx__memq_wait (zx__memq_peer_t *peer, int timeout_ms);

#endif
