/*  zx_memq.c - the in-process transport of a thread pool (see zx_memq.h).

    DESIGN: one mutex per hub guards every queue of it: the hub's and its
    peers'. A message is one allocation, a node holding its frames as
    zmq_msg_t (built outside the lock, so the lock covers only the links),
    and a receiver moves them out, so zx_proto decodes them as it decodes
    a socket's. The hub's eventfd is written only by the send that finds
    it unsignalled, and read only by the receive that finds the queue
    empty; a spurious wake-up (a write racing a drain) costs one empty
    read, never a lost message. A peer's semaphore is posted only when
    its thread sleeps on it, so a busy worker takes its requests with no
    system call at all, and after the lock is let go, so that the thread
    it wakes does not find the lock still held. A peer goes to sleep
    without the lock: it says it sleeps, then looks at its message count;
    a sender counts its message, then looks whether the peer sleeps. Both
    are sequentially consistent, so one of the two sees the other, and
    the one that takes the sleeping flag back posts or skips the wait. A
    worker that has just sent its reply (and so woken the hub's thread,
    which takes the lock at once) thus never waits on the lock to sleep:
    when the two met there, it cost three futex calls.                   */

#define _GNU_SOURCE
#include "zx_memq.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct s_node {
    struct s_node *next;
    size_t count;
    zmq_msg_t frames [];
} s_node_t;

typedef struct {
    s_node_t *head, *tail;
} s_fifo_t;

struct zx__memq_peer {
    zx__memq_t *hub;
    zx__memq_peer_t *next;      //  In the hub's list
    s_fifo_t inbox;
    atomic_size_t pending;      //  Messages in inbox, for the lock-free hint
    atomic_int signalling;      //  Senders about to post wake, the lock let go
    sem_t wake;                 //  Posted once per sleep, by whoever ends it
    atomic_bool sleeping;       //  Its thread waits on wake: taken back by whoever posts
    atomic_bool termed;
    size_t id_size;
    uint8_t id [255];
};

struct zx__memq {
    pthread_mutex_t lock;
    atomic_int refs;
    int fd;                     //  eventfd: readable while inbox may hold messages
    bool signalled;             //  fd written since the last drain
    bool closed;
    s_fifo_t inbox;             //  From peers: identity frame first
    atomic_size_t queued;       //  Messages in inbox, for the lock-free hint
    zx__memq_peer_t *peers;
};

static void
s_node_free (s_node_t *node)
{
    for (size_t i = 0; i < node->count; i++)
        zmq_msg_close (&node->frames [i]);
    free (node);
}

static void
s_fifo_push (s_fifo_t *fifo, s_node_t *node)
{
    node->next = NULL;
    if (fifo->tail)
        fifo->tail->next = node;
    else
        fifo->head = node;
    fifo->tail = node;
}

static s_node_t *
s_fifo_pop (s_fifo_t *fifo)
{
    s_node_t *node = fifo->head;
    if (node) {
        fifo->head = node->next;
        if (!fifo->head)
            fifo->tail = NULL;
    }
    return node;
}

static void
s_fifo_clear (s_fifo_t *fifo)
{
    s_node_t *node;
    while ((node = s_fifo_pop (fifo)))
        s_node_free (node);
}

zx__memq_t *
zx__memq_new (void)
{
    zx__memq_t *self = calloc (1, sizeof (zx__memq_t));
    if (!self)
        return NULL;
    self->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->fd < 0) {
        free (self);
        return NULL;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init (&attr);
    pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init (&self->lock, &attr);
    pthread_mutexattr_destroy (&attr);
    atomic_init (&self->refs, 1);
    atomic_init (&self->queued, 0);
    return self;
}

zx__memq_t *
zx__memq_ref (zx__memq_t *self)
{
    atomic_fetch_add (&self->refs, 1);
    return self;
}

void
zx__memq_unref (zx__memq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__memq_t *self = *self_p;
    *self_p = NULL;
    if (atomic_fetch_sub (&self->refs, 1) != 1)
        return;
    s_fifo_clear (&self->inbox);
    close (self->fd);
    pthread_mutex_destroy (&self->lock);
    free (self);
}

int
zx__memq_fd (const zx__memq_t *self)
{
    return self->fd;
}

//  Tells a linked peer to stop and wakes it. Under the hub's lock, which
//  keeps detach from destroying the semaphore meanwhile.
static void
s_term (zx__memq_peer_t *peer)
{
    atomic_store (&peer->termed, true);
    if (atomic_exchange (&peer->sleeping, false))
        sem_post (&peer->wake);
}

void
zx__memq_close (zx__memq_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->closed = true;
    s_fifo_clear (&self->inbox);
    atomic_store (&self->queued, 0);
    for (zx__memq_peer_t *peer = self->peers; peer; peer = peer->next)
        s_term (peer);
    pthread_mutex_unlock (&self->lock);
}

//  The attached peer with identity, or NULL. Under the hub's lock.
static zx__memq_peer_t *
s_find (zx__memq_t *self, const void *identity, size_t size)
{
    for (zx__memq_peer_t *peer = self->peers; peer; peer = peer->next)
        if (peer->id_size == size && memcmp (peer->id, identity, size) == 0)
            return peer;
    return NULL;
}

zx__memq_peer_t *
zx__memq_attach (zx__memq_t *hub, const void *identity, size_t size)
{
    if (!hub || !identity || size == 0 || size > 255) {
        errno = EINVAL;
        return NULL;
    }
    zx__memq_peer_t *peer = calloc (1, sizeof (zx__memq_peer_t));
    if (!peer) {
        errno = ENOMEM;
        return NULL;
    }
    if (sem_init (&peer->wake, 0, 0) != 0) {
        free (peer);
        return NULL;
    }
    memcpy (peer->id, identity, size);
    peer->id_size = size;
    atomic_init (&peer->pending, 0);
    atomic_init (&peer->signalling, 0);
    atomic_init (&peer->sleeping, false);
    atomic_init (&peer->termed, false);
    pthread_mutex_lock (&hub->lock);
    bool taken = s_find (hub, identity, size) != NULL;
    if (!taken) {
        peer->hub = zx__memq_ref (hub);
        atomic_store (&peer->termed, hub->closed);
        peer->next = hub->peers;
        hub->peers = peer;
    }
    pthread_mutex_unlock (&hub->lock);
    if (taken) {
        sem_destroy (&peer->wake);
        free (peer);
        errno = EINVAL;
        return NULL;
    }
    return peer;
}

void
zx__memq_detach (zx__memq_peer_t **peer_p)
{
    if (!peer_p || !*peer_p)
        return;
    zx__memq_peer_t *peer = *peer_p;
    *peer_p = NULL;
    zx__memq_t *hub = peer->hub;
    pthread_mutex_lock (&hub->lock);
    zx__memq_peer_t **link = &hub->peers;
    while (*link && *link != peer)
        link = &(*link)->next;
    if (*link)
        *link = peer->next;
    s_fifo_clear (&peer->inbox);
    pthread_mutex_unlock (&hub->lock);
    //  Unlinked, so no new sender finds it; one that did may still be
    //  signalling it
    while (atomic_load (&peer->signalling) > 0)
        sched_yield ();
    sem_destroy (&peer->wake);
    free (peer);
    zx__memq_unref (&hub);
}

void
zx__memq_term (zx__memq_t *hub, const void *identity, size_t size)
{
    pthread_mutex_lock (&hub->lock);
    zx__memq_peer_t *peer = s_find (hub, identity, size);
    if (peer)
        s_term (peer);
    pthread_mutex_unlock (&hub->lock);
}

//  A node holding copies of the frames, identity first when given
static s_node_t *
s_node_new (const void *identity, size_t identity_size,
            const void *const *frames, const size_t *sizes, size_t count, zmq_msg_t *tail)
{
    size_t total = count + (identity ? 1 : 0);
    s_node_t *node = malloc (sizeof (s_node_t) + (total + 1) * sizeof (zmq_msg_t));
    if (!node)
        return NULL;
    node->count = 0;
    for (size_t i = 0; i < total; i++) {
        const void *data = identity ? (i == 0 ? identity : frames [i - 1]) : frames [i];
        size_t size = identity ? (i == 0 ? identity_size : sizes [i - 1]) : sizes [i];
        if (zmq_msg_init_size (&node->frames [i], size) != 0) {
            s_node_free (node);
            return NULL;
        }
        node->count++;
        if (size)
            memcpy (zmq_msg_data (&node->frames [i]), data, size);
    }
    if (tail) {
        //  Moved, not copied; s_node_unsent gives it back on failure
        zmq_msg_init (&node->frames [total]);
        zmq_msg_move (&node->frames [total], tail);
        node->count++;
    }
    return node;
}

//  A node that could not be queued: its tail goes back to the caller,
//  whose it still is, then the rest is freed.
static void
s_node_unsent (s_node_t *node, zmq_msg_t *tail)
{
    if (tail)
        zmq_msg_move (tail, &node->frames [node->count - 1]);
    s_node_free (node);
}

zx_err_t
zx__memq_send (zx__memq_t *hub, zx__memq_peer_t *peer, const void *identity,
               size_t identity_size, const void *const *frames, const size_t *sizes,
               size_t count, zmq_msg_t *tail)
{
    //  Up, a peer's message carries its id for the hub; down, none
    s_node_t *node = peer
        ? s_node_new (peer->id, peer->id_size, frames, sizes, count, tail)
        : s_node_new (NULL, 0, frames, sizes, count, tail);
    if (!node)
        return ZX_ENOMEM;
    if (peer) {
        hub = peer->hub;
        pthread_mutex_lock (&hub->lock);
        if (hub->closed) {
            pthread_mutex_unlock (&hub->lock);
            s_node_unsent (node, tail);
            errno = EHOSTUNREACH;
            return ZX_ESYS;
        }
        s_fifo_push (&hub->inbox, node);
        atomic_fetch_add (&hub->queued, 1);
        bool wake = !hub->signalled;
        hub->signalled = true;
        pthread_mutex_unlock (&hub->lock);
        if (wake) {
            uint64_t one = 1;
            //  Only fails when the counter would overflow: it is readable
            if (write (hub->fd, &one, sizeof one) < 0) {
            }
        }
        return ZX_OK;
    }
    pthread_mutex_lock (&hub->lock);
    zx__memq_peer_t *to = s_find (hub, identity, identity_size);
    if (!to) {
        pthread_mutex_unlock (&hub->lock);
        s_node_unsent (node, tail);
        errno = EHOSTUNREACH;
        return ZX_ESYS;
    }
    s_fifo_push (&to->inbox, node);
    atomic_fetch_add (&to->pending, 1);
    //  Posted after the unlock: posted under it, the woken thread would
    //  first sleep again on the lock we still hold (a futex wait and a
    //  wake more per hand-over; at 8 tasks in flight the pool ran at 0.6x
    //  of this). signalling keeps detach from destroying the semaphore
    //  meanwhile. The count above comes first (zx__memq_wait)
    bool wake = atomic_exchange (&to->sleeping, false);
    if (wake)
        atomic_fetch_add (&to->signalling, 1);
    pthread_mutex_unlock (&hub->lock);
    if (wake) {
        sem_post (&to->wake);
        atomic_fetch_sub (&to->signalling, 1);
    }
    return ZX_OK;
}

size_t
zx__memq_recv (zx__memq_t *hub, zx__memq_peer_t *peer, zmq_msg_t *frames, size_t max,
               bool *overflow)
{
    *overflow = false;
    zx__memq_t *owner = peer ? peer->hub : hub;
    pthread_mutex_lock (&owner->lock);
    s_node_t *node = s_fifo_pop (peer ? &peer->inbox : &hub->inbox);
    if (peer && node)
        atomic_fetch_sub (&peer->pending, 1);
    else
    if (node)
        atomic_fetch_sub (&hub->queued, 1);
    if (!peer && !hub->inbox.head && hub->signalled) {
        //  Empty: unsignal, so that the next send writes the fd again
        uint64_t count;
        hub->signalled = false;
        if (read (hub->fd, &count, sizeof count) < 0) {
        }
    }
    pthread_mutex_unlock (&owner->lock);
    if (!node)
        return 0;
    size_t moved = node->count < max ? node->count : max;
    for (size_t i = 0; i < moved; i++) {
        zmq_msg_init (&frames [i]);
        zmq_msg_move (&frames [i], &node->frames [i]);
    }
    *overflow = node->count > max;
    s_node_free (node);         //  Closes what was not moved
    return moved;
}

bool
zx__memq_hub_pending (const zx__memq_t *self)
{
    return atomic_load_explicit (&self->queued, memory_order_acquire) > 0;
}

bool
zx__memq_pending (zx__memq_peer_t *peer)
{
    return atomic_load (&peer->pending) > 0;
}

bool
zx__memq_wait (zx__memq_peer_t *peer, int timeout_ms)
{
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    //  A semaphore, not a condition: a thread woken from pthread_cond_wait
    //  takes the lock back marked contended, and its next unlock is a
    //  futex call whether anyone waits or not (one more system call per
    //  task at one in flight). A post the thread did not wait for (a
    //  sender took the flag back as the wait ended) only makes a later
    //  wait go round once more
    while (atomic_load (&peer->pending) == 0 && !atomic_load (&peer->termed)) {
        atomic_store (&peer->sleeping, true);
        if (atomic_load (&peer->pending) > 0 || atomic_load (&peer->termed)) {
            atomic_exchange (&peer->sleeping, false);
            break;
        }
        int rc = timeout_ms < 0 ? sem_wait (&peer->wake)
                                : sem_clockwait (&peer->wake, CLOCK_MONOTONIC, &until);
        bool timed_out = rc != 0 && errno == ETIMEDOUT;
        atomic_exchange (&peer->sleeping, false);
        if (timed_out)
            break;
    }
    return atomic_load (&peer->termed);
}
