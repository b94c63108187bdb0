/*  zx_idmap.h - internal: a map from 64-bit ids to pointers.

    Open addressing with linear probing; ids 0 and UINT64_MAX are
    reserved. Used for correlation ids, which arrive from sockets: lookups
    of unknown ids are cheap and safe.                                    */
#ifndef ZX_IDMAP_H_INCLUDED
#define ZX_IDMAP_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    struct zx__idslot *slots;
    size_t cap;
    size_t live;
    size_t used;                //  Live plus deleted
} zx__idmap_t;

//  Maps id to value (not NULL), replacing any earlier value. Returns false
//  when out of memory or id is reserved.
bool zx__idmap_put (zx__idmap_t *self, uint64_t id, void *value);

//  Returns the value for id, or NULL.
void *zx__idmap_get (const zx__idmap_t *self, uint64_t id);

//  Removes id and returns its value, or NULL.
void *zx__idmap_take (zx__idmap_t *self, uint64_t id);

//  Calls fn (id, value, arg) for every entry; fn must not change the map.
void zx__idmap_each (const zx__idmap_t *self,
                     void (*fn) (uint64_t id, void *value, void *arg), void *arg);

//  Frees the table (not the values) and empties the map.
void zx__idmap_free (zx__idmap_t *self);

#endif
