/*  zx_bigbuf.h - internal: buffers of megabytes, for values' encodings.

    A value's encoding of ZX__BIGBUF_MIN bytes or more (a big payload, an
    argument or a result) lives in a mapping of its own rather than in
    malloc's heap: aligned to 2 MiB and marked MADV_HUGEPAGE, so that the
    kernel fills it with transparent huge pages where it can, one page
    fault per 2 MiB instead of one per 4 KiB; and kept, when it is freed,
    in a small cache for the next big buffer, so that a program moving big
    payloads one after another writes into pages already faulted in.
    Where page faults are dear (a virtual machine) a fresh 16 MiB buffer
    cost more than the copies it holds (issue 16, docs/PERFORMANCE.md).
    The cache keeps at most ZX__BIGBUF_CACHE_BYTES and ZX__BIGBUF_CACHE
    mappings; past them a freed mapping goes back to the kernel.

    Thread-safe: a buffer may be freed on any thread (libzmq's I/O thread
    frees what was handed to it).                                         */
#ifndef ZX_BIGBUF_H_INCLUDED
#define ZX_BIGBUF_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>

#define ZX__BIGBUF_MIN          (2u * 1024 * 1024)
#define ZX__BIGBUF_CACHE_BYTES  ((size_t) 128 * 1024 * 1024)
#define ZX__BIGBUF_CACHE        16

//  Returns a buffer of at least size bytes (ZX__BIGBUF_MIN or more is
//  what it is for; any size works), or NULL when memory is short. Its
//  contents are undefined. Free it with zx__bigbuf_free.
void *zx__bigbuf_alloc (size_t size);

//  Grows or shrinks buf (from zx__bigbuf_alloc) to size bytes, keeping
//  its contents up to the smaller size; the buffer may move. Returns the
//  buffer, or NULL (buf unchanged and still valid) when memory is short.
void *zx__bigbuf_realloc (void *buf, size_t size);

//  Frees buf (from zx__bigbuf_alloc; NULL is allowed): into the cache or
//  back to the kernel.
void zx__bigbuf_free (void *buf);

//  Whether buf was returned by zx__bigbuf_alloc or zx__bigbuf_realloc and
//  is not freed: for a free function that may get either kind of buffer.
bool zx__bigbuf_owns (const void *buf);

//  How many buffers are live (allocated, not freed) and how many mappings
//  and bytes the cache holds (tests, telemetry).
void zx__bigbuf_counts (size_t *live, size_t *cached, size_t *cached_bytes);

//  Returns the cache to the kernel (tests; a program may call it when it
//  is done with big payloads).
void zx__bigbuf_trim (void);

//  Maps length bytes (whole pages) of private anonymous memory on a 2 MiB
//  boundary, advised to use huge pages (advice the kernel may not take),
//  with none of this file's headers or lists: for other users of huge
//  pages (zx_slab's chunks). Returns NULL when the system refuses; free
//  with munmap (ptr, length).
void *zx__bigbuf_map_huge (size_t length);

#endif
