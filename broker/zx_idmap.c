/*  zx_idmap.c - 64-bit id to pointer map, open addressing.

    DESIGN: a power-of-two table probed linearly from a mixed hash of the
    id. Deleted slots keep a tombstone so probes continue past them; the
    table is rebuilt (and grown when half full of live entries) once live
    plus deleted slots reach five eighths. Ids come and go all the time
    (one per task), so tombstones pile up fast: below 5/8 load a miss
    probes about 4 slots, where three quarters made it 8 and more.       */

#include "zx_idmap.h"
#include <stdlib.h>

#define ZX_EMPTY    0
#define ZX_DELETED  UINT64_MAX

struct zx__idslot {
    uint64_t id;
    void *value;
};

static size_t
s_index (uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t) id & (cap - 1);
}

static bool
s_rebuild (zx__idmap_t *self)
{
    size_t cap = self->cap ? self->cap : 64;
    while (self->live * 2 >= cap)
        cap *= 2;
    struct zx__idslot *slots = calloc (cap, sizeof (struct zx__idslot));
    if (!slots)
        return false;
    for (size_t i = 0; i < self->cap; i++) {
        uint64_t id = self->slots [i].id;
        if (id == ZX_EMPTY || id == ZX_DELETED)
            continue;
        size_t at = s_index (id, cap);
        while (slots [at].id != ZX_EMPTY)
            at = (at + 1) & (cap - 1);
        slots [at] = self->slots [i];
    }
    free (self->slots);
    self->slots = slots;
    self->cap = cap;
    self->used = self->live;
    return true;
}

static struct zx__idslot *
s_find (const zx__idmap_t *self, uint64_t id)
{
    if (!self->cap || id == ZX_EMPTY || id == ZX_DELETED)
        return NULL;
    size_t at = s_index (id, self->cap);
    while (self->slots [at].id != ZX_EMPTY) {
        if (self->slots [at].id == id)
            return &self->slots [at];
        at = (at + 1) & (self->cap - 1);
    }
    return NULL;
}

bool
zx__idmap_put (zx__idmap_t *self, uint64_t id, void *value)
{
    if (id == ZX_EMPTY || id == ZX_DELETED || !value)
        return false;
    struct zx__idslot *slot = s_find (self, id);
    if (slot) {
        slot->value = value;
        return true;
    }
    if ((self->used + 1) * 8 >= self->cap * 5 && !s_rebuild (self))
        return false;
    size_t at = s_index (id, self->cap);
    while (self->slots [at].id != ZX_EMPTY && self->slots [at].id != ZX_DELETED)
        at = (at + 1) & (self->cap - 1);
    if (self->slots [at].id == ZX_EMPTY)
        self->used++;
    self->slots [at].id = id;
    self->slots [at].value = value;
    self->live++;
    return true;
}

void *
zx__idmap_get (const zx__idmap_t *self, uint64_t id)
{
    struct zx__idslot *slot = s_find (self, id);
    return slot ? slot->value : NULL;
}

void *
zx__idmap_take (zx__idmap_t *self, uint64_t id)
{
    struct zx__idslot *slot = s_find (self, id);
    if (!slot)
        return NULL;
    void *value = slot->value;
    slot->id = ZX_DELETED;
    slot->value = NULL;
    self->live--;
    return value;
}

void
zx__idmap_each (const zx__idmap_t *self,
                void (*fn) (uint64_t id, void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots [i].id != ZX_EMPTY && self->slots [i].id != ZX_DELETED)
            fn (self->slots [i].id, self->slots [i].value, arg);
}

void
zx__idmap_free (zx__idmap_t *self)
{
    free (self->slots);
    self->slots = NULL;
    self->cap = self->live = self->used = 0;
}
