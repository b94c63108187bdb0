/*  zx_slab.h - internal: zexec's small records from memory faulted in bulk.

    A task in flight holds a few records of 64 to 256 bytes: its future,
    its request, its lists of values. A burst of 200,000 tasks takes some
    70 MB of them, all fresh memory, and on a VM a 4 KiB page costs about
    11 us to fault in by touching it (5 us even when populated first),
    where a huge page costs 0.2 us per 4 KiB of it (docs/PERFORMANCE.md,
    "Records from slabs of huge pages"). So these records come from slabs:
    chunks mapped and populated at once (huge pages from 2 MiB on), cut
    into objects of sixteen size classes (16 to 256 bytes), kept on a free
    list per thread with a shared depot behind it.

    The memory of a chunk is kept for reuse, never given back to the
    system: a process holds the most its records ever took at once (as
    glibc's heap does with its freed memory kept).
    Under AddressSanitizer and ThreadSanitizer, and when the environment
    sets ZEXEC_SLABS=off, every call is plain malloc and free, so that the
    sanitizers (and Valgrind) watch each record.                          */
#ifndef ZX_SLAB_H_INCLUDED
#define ZX_SLAB_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>

//  The largest size a slab serves; bigger ones go to malloc.
#define ZX__SLAB_MAX    256

//  Returns size bytes, aligned as malloc's, or NULL when out of memory.
//  Freed only with zx__slab_free and the same size.
void *zx__slab_alloc (size_t size);

//  zx__slab_alloc, zeroed.
void *zx__slab_calloc (size_t size);

//  Frees what zx__slab_alloc or zx__slab_calloc returned for size bytes,
//  from any thread. Accepts NULL.
void zx__slab_free (void *ptr, size_t size);

//  True when records come from slabs (not under a sanitizer, nor turned
//  off by ZEXEC_SLABS=off). Fixed for the life of the process.
bool zx__slab_enabled (void);

//  Bytes of chunks mapped so far (0 when slabs are off): for tests.
size_t zx__slab_mapped (void);

#endif
