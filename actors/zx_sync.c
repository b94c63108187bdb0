/*  zx_sync.c - a semaphore, an event and a queue for coroutines.

    DESIGN: every wait is a private future on the object's loop and a node
    in one of the object's FIFO lists of waiters, both on the waiter's
    stack. Whoever lets a waiter on takes its node off the list and
    completes its future; the waiter awaits the future with zx_await, so it
    suspends in a coroutine and runs the loop in plain code, as every other
    wait does. A waiter that returns without having been let on (cancelled,
    the loop stopped) takes its node off the list itself. One that was let
    on at the moment it was cancelled passes what it was given to the next
    waiter, so nothing is lost. The semaphore hands a released permit
    straight to its first waiter, so a later acquire cannot take it first;
    the queue's waiters, as asyncio's, look again once woken.             */

#include "zx_coro.h"
#include "zx_loop.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_waiter {
    struct s_waiter *prev, *next;
    zx_future_t *future;            //  Completed to let it on
    bool linked;
} s_waiter_t;

typedef struct {
    s_waiter_t *head, *tail;
} s_waiters_t;

static void
s_link (s_waiters_t *list, s_waiter_t *node)
{
    node->prev = list->tail;
    node->next = NULL;
    if (list->tail)
        list->tail->next = node;
    else
        list->head = node;
    list->tail = node;
    node->linked = true;
}

static void
s_unlink (s_waiters_t *list, s_waiter_t *node)
{
    if (!node->linked)
        return;
    if (node->prev)
        node->prev->next = node->next;
    else
        list->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        list->tail = node->prev;
    node->linked = false;
}

//  Lets the first waiter on. Returns false when there was none.
static bool
s_wake_one (s_waiters_t *list)
{
    s_waiter_t *node = list->head;
    if (!node)
        return false;
    s_unlink (list, node);
    zx_future_set_result (node->future, NULL);
    return true;
}

static void
s_wake_all (s_waiters_t *list)
{
    while (s_wake_one (list))
        ;
}

//  Wakes every waiter with ZX_ESHUTDOWN: the object is going.
static void
s_shut_out (s_waiters_t *list)
{
    s_waiter_t *node;
    while ((node = list->head)) {
        s_unlink (list, node);
        zx_future_set_error (node->future, ZX_ESHUTDOWN, "destroyed while waiting");
    }
}

//  Whether the caller may wait on loop, by zx_await's rules: ZX_OK, or
//  ZX_EBUSY (a loop callback, another thread), ZX_EINVAL (a coroutine of
//  another loop).
static zx_err_t
s_can_wait (zx_loop_t *loop)
{
    zx_coro_t *co = zx__coro_current ();
    if (co)
        return zx__coro_loop (co) == loop ? ZX_OK : ZX_EINVAL;
    if (!zx__loop_is_owner (loop) || zx__loop_running (loop))
        return ZX_EBUSY;
    return ZX_OK;
}

//  Waits in list until let on. Returns ZX_OK once let on; otherwise the
//  error that ended the wait, with *let_on true when it was let on all the
//  same (and so must pass that on), and the node off the list. After
//  ZX_ESHUTDOWN the object is gone: the caller must not touch it.
static zx_err_t
s_wait_in (zx_loop_t *loop, s_waiters_t *list, bool *let_on)
{
    *let_on = false;
    zx_err_t rc = s_can_wait (loop);
    if (rc != ZX_OK)
        return rc;
    s_waiter_t node = { .future = zx_future_new (loop) };
    if (!node.future)
        return ZX_ENOMEM;
    s_link (list, &node);
    rc = zx_await (node.future);
    zx_err_t outcome = zx_future_error (node.future);
    if (outcome == ZX_ESHUTDOWN)
        rc = ZX_ESHUTDOWN;              //  Unlinked by the destroy
    else {
        *let_on = outcome == ZX_OK;
        s_unlink (list, &node);
    }
    zx_future_destroy (&node.future);
    return rc;
}

//  --------------------------------------------------------------------
//  Semaphore

struct zx_semaphore {
    zx_loop_t *loop;
    size_t value;
    s_waiters_t waiters;
};

zx_semaphore_t *
zx_semaphore_new (zx_loop_t *loop, size_t value)
{
    if (!loop)
        return NULL;
    zx_semaphore_t *self = calloc (1, sizeof (zx_semaphore_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->value = value;
    return self;
}

void
zx_semaphore_destroy (zx_semaphore_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_shut_out (&(*self_p)->waiters);
    free (*self_p);
    *self_p = NULL;
}

zx_err_t
zx_semaphore_try_acquire (zx_semaphore_t *self)
{
    if (self->value == 0 || self->waiters.head)
        return ZX_EPENDING;
    self->value--;
    return ZX_OK;
}

zx_err_t
zx_semaphore_acquire (zx_semaphore_t *self)
{
    if (zx_semaphore_try_acquire (self) == ZX_OK)
        return ZX_OK;
    bool let_on;
    zx_err_t rc = s_wait_in (self->loop, &self->waiters, &let_on);
    //  A permit handed to us as we were cancelled goes to the next one
    if (rc != ZX_OK && let_on)
        zx_semaphore_release (self);
    return rc;
}

void
zx_semaphore_release (zx_semaphore_t *self)
{
    if (!s_wake_one (&self->waiters))
        self->value++;
}

size_t
zx_semaphore_value (const zx_semaphore_t *self)
{
    return self->value;
}

//  --------------------------------------------------------------------
//  Event

struct zx_event {
    zx_loop_t *loop;
    bool set;
    s_waiters_t waiters;
};

zx_event_t *
zx_event_new (zx_loop_t *loop)
{
    if (!loop)
        return NULL;
    zx_event_t *self = calloc (1, sizeof (zx_event_t));
    if (self)
        self->loop = loop;
    return self;
}

void
zx_event_destroy (zx_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_shut_out (&(*self_p)->waiters);
    free (*self_p);
    *self_p = NULL;
}

void
zx_event_set (zx_event_t *self)
{
    self->set = true;
    s_wake_all (&self->waiters);
}

void
zx_event_clear (zx_event_t *self)
{
    self->set = false;
}

bool
zx_event_is_set (const zx_event_t *self)
{
    return self->set;
}

zx_err_t
zx_event_wait (zx_event_t *self)
{
    if (self->set)
        return ZX_OK;
    bool let_on;
    return s_wait_in (self->loop, &self->waiters, &let_on);
}

//  --------------------------------------------------------------------
//  Queue

struct zx_queue {
    zx_loop_t *loop;
    size_t maxsize;                 //  0: none
    zx_queue_free_fn *free_fn;
    void **items;                   //  A ring
    size_t head, count, cap;
    size_t unfinished;              //  Put and not yet said done
    s_waiters_t getters, putters, joiners;
};

zx_queue_t *
zx_queue_new (zx_loop_t *loop, size_t maxsize, zx_queue_free_fn *free_fn)
{
    if (!loop)
        return NULL;
    zx_queue_t *self = calloc (1, sizeof (zx_queue_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->maxsize = maxsize;
    self->free_fn = free_fn;
    return self;
}

void
zx_queue_destroy (zx_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx_queue_t *self = *self_p;
    s_shut_out (&self->getters);
    s_shut_out (&self->putters);
    s_shut_out (&self->joiners);
    for (size_t i = 0; self->free_fn && i < self->count; i++)
        self->free_fn (self->items [(self->head + i) % self->cap]);
    free (self->items);
    free (self);
    *self_p = NULL;
}

static bool
s_full (const zx_queue_t *self)
{
    return self->maxsize > 0 && self->count >= self->maxsize;
}

//  Appends item, growing the ring. Returns ZX_OK or ZX_ENOMEM.
static zx_err_t
s_push (zx_queue_t *self, void *item)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        void **ring = malloc (cap * sizeof (void *));
        if (!ring)
            return ZX_ENOMEM;
        for (size_t i = 0; i < self->count; i++)
            ring [i] = self->items [(self->head + i) % self->cap];
        free (self->items);
        self->items = ring;
        self->cap = cap;
        self->head = 0;
    }
    self->items [(self->head + self->count++) % self->cap] = item;
    self->unfinished++;
    s_wake_one (&self->getters);
    return ZX_OK;
}

static void *
s_pop (zx_queue_t *self)
{
    void *item = self->items [self->head];
    self->head = (self->head + 1) % self->cap;
    self->count--;
    s_wake_one (&self->putters);
    return item;
}

zx_err_t
zx_queue_try_put (zx_queue_t *self, void *item)
{
    if (s_full (self))
        return ZX_EQUEUE_FULL;
    return s_push (self, item);
}

zx_err_t
zx_queue_put (zx_queue_t *self, void *item)
{
    while (s_full (self)) {
        bool let_on;
        zx_err_t rc = s_wait_in (self->loop, &self->putters, &let_on);
        if (rc != ZX_OK) {
            //  Room that came as we were cancelled is for the next putter
            if (let_on)
                s_wake_one (&self->putters);
            return rc;
        }
    }
    return s_push (self, item);
}

zx_err_t
zx_queue_try_get (zx_queue_t *self, void **item_p)
{
    if (self->count == 0)
        return ZX_EPENDING;
    *item_p = s_pop (self);
    return ZX_OK;
}

zx_err_t
zx_queue_get (zx_queue_t *self, void **item_p)
{
    while (self->count == 0) {
        bool let_on;
        zx_err_t rc = s_wait_in (self->loop, &self->getters, &let_on);
        if (rc != ZX_OK) {
            //  An item that came as we were cancelled is for the next getter
            if (let_on && self->count > 0)
                s_wake_one (&self->getters);
            return rc;
        }
    }
    *item_p = s_pop (self);
    return ZX_OK;
}

size_t
zx_queue_size (const zx_queue_t *self)
{
    return self->count;
}

zx_err_t
zx_queue_task_done (zx_queue_t *self)
{
    if (self->unfinished == 0)
        return ZX_EINVAL;
    if (--self->unfinished == 0)
        s_wake_all (&self->joiners);
    return ZX_OK;
}

zx_err_t
zx_queue_join (zx_queue_t *self)
{
    while (self->unfinished > 0) {
        bool let_on;
        zx_err_t rc = s_wait_in (self->loop, &self->joiners, &let_on);
        if (rc != ZX_OK)
            return rc;
    }
    return ZX_OK;
}
