/*  zx_timers.c - the event loop's timers, a binary min-heap.

    DESIGN: an array kept as a heap by due time, then id. Adding and
    taking the first are O(log n); cancelling looks the id up by a scan,
    O(n), which is fine for the tens of timers a loop holds (deadlines,
    heartbeats, sleeps) and keeps a timer to four words.              */

#include "zx_timers.h"

#include <stdlib.h>

static bool
s_before (const zx__timer_t *a, const zx__timer_t *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->id < b->id);
}

static void
s_swap (zx__timer_t *heap, size_t a, size_t b)
{
    zx__timer_t tmp = heap [a];
    heap [a] = heap [b];
    heap [b] = tmp;
}

static void
s_up (zx__timer_t *heap, size_t index)
{
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!s_before (&heap [index], &heap [parent]))
            break;
        s_swap (heap, index, parent);
        index = parent;
    }
}

static void
s_down (zx__timer_t *heap, size_t count, size_t index)
{
    while (true) {
        size_t least = index, left = 2 * index + 1, right = left + 1;
        if (left < count && s_before (&heap [left], &heap [least]))
            least = left;
        if (right < count && s_before (&heap [right], &heap [least]))
            least = right;
        if (least == index)
            break;
        s_swap (heap, index, least);
        index = least;
    }
}

static void
s_remove (zx__timers_t *self, size_t index)
{
    self->heap [index] = self->heap [--self->count];
    if (index < self->count) {
        s_down (self->heap, self->count, index);
        s_up (self->heap, index);
    }
}

void
zx__timers_init (zx__timers_t *self)
{
    *self = (zx__timers_t) { .next_id = 1 };
}

void
zx__timers_free (zx__timers_t *self)
{
    free (self->heap);
    self->heap = NULL;
    self->count = self->cap = 0;
}

uint64_t
zx__timers_add (zx__timers_t *self, int64_t due_us, zx_callback_fn *fn, void *arg)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        zx__timer_t *grown = realloc (self->heap, cap * sizeof (zx__timer_t));
        if (!grown)
            return 0;
        self->heap = grown;
        self->cap = cap;
    }
    uint64_t id = self->next_id++;
    self->heap [self->count] = (zx__timer_t) { due_us, id, fn, arg };
    s_up (self->heap, self->count++);
    return id;
}

bool
zx__timers_cancel (zx__timers_t *self, uint64_t id)
{
    if (id == 0)
        return false;
    for (size_t i = 0; i < self->count; i++)
        if (self->heap [i].id == id) {
            s_remove (self, i);
            return true;
        }
    return false;
}

const zx__timer_t *
zx__timers_first (const zx__timers_t *self)
{
    return self->count > 0 ? &self->heap [0] : NULL;
}

bool
zx__timers_pop_due (zx__timers_t *self, int64_t now_us, uint64_t before_id,
                    zx__timer_t *timer)
{
    if (self->count == 0 || self->heap [0].due_us > now_us || self->heap [0].id >= before_id)
        return false;
    *timer = self->heap [0];
    s_remove (self, 0);
    return true;
}
