/*  zx_bigbuf.c - buffers of megabytes in huge-page mappings, with a cache
    (see zx_bigbuf.h).

    DESIGN: each buffer is a private anonymous mapping that starts on a
    2 MiB boundary with a 64-byte header (its length, its links), the
    buffer right after it. Live mappings are on one list and cached ones
    on another, both under one mutex: big buffers are few and each costs
    far more than a lock. A freed mapping goes to the head of the cache;
    the cache gives out the smallest that fits and is at most twice the
    need, and drops its oldest when it is over its bounds. Growing uses
    mremap, which moves page tables rather than bytes.                    */

#define _GNU_SOURCE
#include "zx_bigbuf.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define S_ALIGN     ((size_t) 2 * 1024 * 1024)      //  A huge page
#define S_HEADER    ((size_t) 64)
#define S_MAGIC     UINT64_C (0x7a7862696762756d)

typedef struct s_map {
    uint64_t magic;
    size_t length;                  //  Of the mapping, header included
    struct s_map *prev, *next;      //  On the live list or the cache
} s_map_t;

_Static_assert (sizeof (s_map_t) <= S_HEADER, "the header fits before the buffer");

typedef struct {
    s_map_t *head, *tail;
    size_t count, bytes;
} s_list_t;

static struct {
    pthread_mutex_t lock;
    s_list_t live;
    s_list_t cache;
} s_big = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
s_push (s_list_t *list, s_map_t *map)
{
    map->prev = NULL;
    map->next = list->head;
    if (list->head)
        list->head->prev = map;
    else
        list->tail = map;
    list->head = map;
    list->count++;
    list->bytes += map->length;
}

static void
s_unlink (s_list_t *list, s_map_t *map)
{
    if (map->prev)
        map->prev->next = map->next;
    else
        list->head = map->next;
    if (map->next)
        map->next->prev = map->prev;
    else
        list->tail = map->prev;
    list->count--;
    list->bytes -= map->length;
}

//  The mapping length for a buffer of size bytes: header and whole pages.
static size_t
s_length_for (size_t size)
{
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    if (size > SIZE_MAX - S_HEADER - page)
        return 0;
    return (S_HEADER + size + page - 1) & ~(page - 1);
}

//  The header of a buffer this file handed out; a pointer that is not one
//  (a caller's bug: zx__bigbuf_owns says which are) stops a debug build here
static s_map_t *
s_map_of (const void *buf)
{
    s_map_t *map = (s_map_t *) ((uint8_t *) buf - S_HEADER);
    assert (map->magic == S_MAGIC);
    return map;
}

void *
zx__bigbuf_map_huge (size_t length)
{
    if (length > SIZE_MAX - S_ALIGN)
        return NULL;
    size_t span = length + S_ALIGN;
    uint8_t *raw = (uint8_t *) mmap (NULL, span, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *base = (uint8_t *) (((uintptr_t) raw + S_ALIGN - 1) & ~(uintptr_t) (S_ALIGN - 1));
    if (base > raw)
        munmap (raw, (size_t) (base - raw));
    size_t tail = (size_t) ((raw + span) - (base + length));
    if (tail)
        munmap (base + length, tail);
#ifdef MADV_HUGEPAGE
    madvise (base, length, MADV_HUGEPAGE);
#endif
    return base;
}

//  A new mapping of length bytes on a huge-page boundary, its header set.
static s_map_t *
s_map_new (size_t length)
{
    s_map_t *map = (s_map_t *) zx__bigbuf_map_huge (length);
    if (!map)
        return NULL;
    map->magic = S_MAGIC;
    map->length = length;
    return map;
}

//  Takes from the cache the smallest mapping of at least length bytes and
//  at most twice that. The caller holds the lock.
static s_map_t *
s_cache_take (size_t length)
{
    s_map_t *best = NULL;
    for (s_map_t *map = s_big.cache.head; map; map = map->next)
        if (map->length >= length && map->length / 2 <= length
        &&  (!best || map->length < best->length))
            best = map;
    if (best)
        s_unlink (&s_big.cache, best);
    return best;
}

void *
zx__bigbuf_alloc (size_t size)
{
    size_t length = s_length_for (size);
    if (!length)
        return NULL;
    pthread_mutex_lock (&s_big.lock);
    s_map_t *map = s_cache_take (length);
    pthread_mutex_unlock (&s_big.lock);
    if (!map && !(map = s_map_new (length)))
        return NULL;
    pthread_mutex_lock (&s_big.lock);
    s_push (&s_big.live, map);
    pthread_mutex_unlock (&s_big.lock);
    return (uint8_t *) map + S_HEADER;
}

void *
zx__bigbuf_realloc (void *buf, size_t size)
{
    if (!buf)
        return zx__bigbuf_alloc (size);
    s_map_t *map = s_map_of (buf);
    size_t length = s_length_for (size);
    if (!length)
        return NULL;
    if (length <= map->length && map->length / 2 <= length)
        return buf;                 //  Fits, and not much too big
    pthread_mutex_lock (&s_big.lock);
    s_unlink (&s_big.live, map);
    pthread_mutex_unlock (&s_big.lock);
    size_t old_length = map->length;
    void *moved = mremap (map, old_length, length, MREMAP_MAYMOVE);
    if (moved != MAP_FAILED) {
        map = (s_map_t *) moved;
        map->length = length;
#ifdef MADV_HUGEPAGE
        madvise (map, length, MADV_HUGEPAGE);
#endif
    }
    pthread_mutex_lock (&s_big.lock);
    s_push (&s_big.live, map);
    pthread_mutex_unlock (&s_big.lock);
    return moved == MAP_FAILED ? NULL : (uint8_t *) map + S_HEADER;
}

void
zx__bigbuf_free (void *buf)
{
    if (!buf)
        return;
    s_map_t *map = s_map_of (buf);
    s_map_t *evicted = NULL;
    pthread_mutex_lock (&s_big.lock);
    s_unlink (&s_big.live, map);
    if (map->length <= ZX__BIGBUF_CACHE_BYTES) {
        //  Make room by dropping the oldest, unmapped after the lock
        while (s_big.cache.tail
        &&    (s_big.cache.count >= ZX__BIGBUF_CACHE
        ||     s_big.cache.bytes + map->length > ZX__BIGBUF_CACHE_BYTES)) {
            s_map_t *old = s_big.cache.tail;
            s_unlink (&s_big.cache, old);
            old->next = evicted;
            evicted = old;
        }
        s_push (&s_big.cache, map);
        map = NULL;
    }
    pthread_mutex_unlock (&s_big.lock);
    if (map)
        munmap (map, map->length);
    while (evicted) {
        s_map_t *next = evicted->next;
        munmap (evicted, evicted->length);
        evicted = next;
    }
}

bool
zx__bigbuf_owns (const void *buf)
{
    //  Every mapping starts on a page: a pointer that is not a page and a
    //  header past one (most of malloc's) is not ours, no lock needed
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    if (!buf || ((uintptr_t) buf - S_HEADER) % page != 0)
        return false;
    bool found = false;
    pthread_mutex_lock (&s_big.lock);
    for (s_map_t *map = s_big.live.head; map && !found; map = map->next)
        found = (const uint8_t *) map + S_HEADER == (const uint8_t *) buf;
    pthread_mutex_unlock (&s_big.lock);
    return found;
}

void
zx__bigbuf_counts (size_t *live, size_t *cached, size_t *cached_bytes)
{
    pthread_mutex_lock (&s_big.lock);
    if (live)
        *live = s_big.live.count;
    if (cached)
        *cached = s_big.cache.count;
    if (cached_bytes)
        *cached_bytes = s_big.cache.bytes;
    pthread_mutex_unlock (&s_big.lock);
}

void
zx__bigbuf_trim (void)
{
    pthread_mutex_lock (&s_big.lock);
    s_map_t *cached = s_big.cache.head;
    s_big.cache = (s_list_t) { 0 };
    pthread_mutex_unlock (&s_big.lock);
    while (cached) {
        s_map_t *next = cached->next;
        munmap (cached, cached->length);
        cached = next;
    }
}
