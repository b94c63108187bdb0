/*  zx_slab.c - zexec's small records from memory faulted in bulk (see
    zx_slab.h).

    DESIGN: one depot for the process: a stack of batches per size class,
    each under its own mutex, and a region still to cut from the newest
    chunk, under another. A batch is a list of free objects whose first
    also links the next batch, so the depot gives and takes a batch in one
    step and never walks objects it has not touched for a while (walking
    them one by one was a sixth of a burst's time, in cache misses). A chunk
    is one mmap with MAP_POPULATE, so its pages are faulted in by one
    system call; chunks start at 64 KiB and double to 1 MiB, so that a
    small process maps little. Each thread keeps its own free list per
    class, used with no lock: it takes a batch from the depot when its
    list is empty and gives a batch of S_BATCH back when it holds more
    than S_CACHE_MAX, so a record made on a worker thread and freed on the
    loop's (a result) travels back through the depot a batch at a time. A
    thread's list goes back to the depot when the thread ends (a key's
    destructor); what the thread frees after that goes straight there. A
    fork holds the depot's locks across it, so that the child finds them
    free.                                                               */

#define _GNU_SOURCE
#include "zx_slab.h"
#include "zx_bigbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

//  Sanitizers watch malloc's blocks: under them, records are plain blocks
#if defined (__SANITIZE_ADDRESS__) || defined (__SANITIZE_THREAD__)
#   define S_SANITIZED 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer) || __has_feature (thread_sanitizer)
#       define S_SANITIZED 1
#   endif
#endif
#ifndef S_SANITIZED
#   define S_SANITIZED 0
#endif

#define S_CLASSES       (ZX__SLAB_MAX / 16)
#define S_BATCH         32          //  Objects in a batch that a thread gives back
#define S_CACHE_MAX     64          //  Kept by a thread per class, about
#define S_CHUNK_FIRST   ((size_t) 64 * 1024)
#define S_CHUNK_HUGE    ((size_t) 2 * 1024 * 1024)  //  From here on, huge pages

//  A free object (the smallest class has room for both links)
typedef struct s_free {
    struct s_free *next;            //  In its list
    struct s_free *batch;           //  The first of a batch in the depot: the next batch
} s_free_t;

typedef struct {
    s_free_t *head [S_CLASSES];
    uint32_t count [S_CLASSES];     //  About: a batch from the depot counts S_BATCH
    bool registered;                //  Its thread's end gives them back
    bool gone;                      //  Its thread is ending
} s_cache_t;

static __thread s_cache_t s_cache;

//  A class's batches, under its own lock: the loop's thread and the
//  workers' pass records through different classes at once
typedef struct {
    pthread_mutex_t lock;
    s_free_t *batches;
} s_class_t;

static struct {
    s_class_t classes [S_CLASSES];
    pthread_mutex_t cut_lock;       //  Over cut, end, next_chunk
    uint8_t *cut, *end;             //  What is left of the newest chunk
    size_t next_chunk;
    atomic_size_t mapped;
    pthread_key_t key;
    atomic_bool key_made;           //  Cleared when the library is unloaded
} s_slab = { .cut_lock = PTHREAD_MUTEX_INITIALIZER, .next_chunk = S_CHUNK_FIRST };

static atomic_int s_state;          //  0 not known yet, 1 slabs, 2 malloc
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_prefork (void)
{
    for (size_t c = 0; c < S_CLASSES; c++)
        pthread_mutex_lock (&s_slab.classes [c].lock);
    pthread_mutex_lock (&s_slab.cut_lock);
}

static void
s_postfork (void)
{
    pthread_mutex_unlock (&s_slab.cut_lock);
    for (size_t c = 0; c < S_CLASSES; c++)
        pthread_mutex_unlock (&s_slab.classes [c].lock);
}

//  Puts the list at first (NULL-terminated) on class c's stack, as one
//  batch.
static void
s_depot_put (size_t c, s_free_t *first)
{
    s_class_t *class = &s_slab.classes [c];
    pthread_mutex_lock (&class->lock);
    first->batch = class->batches;
    class->batches = first;
    pthread_mutex_unlock (&class->lock);
}

//  Gives the whole of a thread's lists to the depot.
static void
s_give_back (s_cache_t *cache)
{
    for (size_t c = 0; c < S_CLASSES; c++) {
        if (cache->head [c])
            s_depot_put (c, cache->head [c]);
        cache->head [c] = NULL;
        cache->count [c] = 0;
    }
}

static void
s_thread_ends (void *arg)
{
    s_cache_t *cache = (s_cache_t *) arg;
    cache->gone = true;
    s_give_back (cache);
}

static void
s_init (void)
{
    const char *setting = getenv ("ZEXEC_SLABS");
    bool off = S_SANITIZED || (setting && strcmp (setting, "off") == 0);
    if (!off) {
        //  Locks that spin a little before they sleep: each is held for a
        //  few pointer moves
        pthread_mutexattr_t attr;
        pthread_mutexattr_init (&attr);
        pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
        for (size_t c = 0; c < S_CLASSES; c++)
            pthread_mutex_init (&s_slab.classes [c].lock, &attr);
        pthread_mutexattr_destroy (&attr);
        atomic_store (&s_slab.key_made,
                      pthread_key_create (&s_slab.key, s_thread_ends) == 0);
        pthread_atfork (s_prefork, s_postfork, s_postfork);
    }
    atomic_store (&s_state, off ? 2 : 1);
}

//  A library unloaded (dlclose) must not leave its key's destructor to
//  threads that end later: their lists are dropped instead
__attribute__ ((destructor)) static void
s_unload (void)
{
    if (atomic_exchange (&s_slab.key_made, false))
        pthread_key_delete (s_slab.key);
}

bool
zx__slab_enabled (void)
{
    int state = atomic_load_explicit (&s_state, memory_order_acquire);
    if (state == 0) {
        pthread_once (&s_once, s_init);
        state = atomic_load (&s_state);
    }
    return state == 1;
}

size_t
zx__slab_mapped (void)
{
    return atomic_load (&s_slab.mapped);
}

//  Maps the next chunk, its pages faulted in at once. The first few are
//  small, with pages of 4 KiB, so that a process that makes a few records
//  maps little; from 2 MiB on, each is a huge page where the kernel has
//  them. On this VM a page of 4 KiB costs about 11 us to fault in by
//  touching it, and 5 us when populated first: the host still maps each
//  on its first touch. A huge page costs 0.2 us per 4 KiB of it.
//  cut_lock held.
static bool
s_chunk_new (void)
{
    size_t size = s_slab.next_chunk;
    void *chunk;
    if (size < S_CHUNK_HUGE) {
        chunk = mmap (NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (chunk == MAP_FAILED)
            return false;
        s_slab.next_chunk *= 2;
    }
    else {
        chunk = zx__bigbuf_map_huge (size);
        if (!chunk)
            return false;
#ifdef MADV_POPULATE_WRITE
        //  Linux 5.14 and later; before, each huge page faults in alone
        madvise (chunk, size, MADV_POPULATE_WRITE);
#endif
    }
    s_slab.cut = (uint8_t *) chunk;
    s_slab.end = s_slab.cut + size;
    atomic_fetch_add (&s_slab.mapped, size);
    return true;
}

//  A batch of class c: the depot's newest, else up to S_BATCH objects cut
//  from the newest chunk, in address order. NULL when out of memory.
static s_free_t *
s_depot_take (size_t c)
{
    s_class_t *class = &s_slab.classes [c];
    pthread_mutex_lock (&class->lock);
    s_free_t *batch = class->batches;
    if (batch)
        class->batches = batch->batch;
    pthread_mutex_unlock (&class->lock);
    if (batch)
        return batch;
    size_t size = (c + 1) * 16;
    s_free_t *first = NULL, *last = NULL;
    pthread_mutex_lock (&s_slab.cut_lock);
    for (int i = 0; i < S_BATCH; i++) {
        if ((!s_slab.cut || (size_t) (s_slab.end - s_slab.cut) < size) && !s_chunk_new ())
            break;
        s_free_t *object = (s_free_t *) s_slab.cut;
        s_slab.cut += size;
        object->next = NULL;
        if (last)
            last->next = object;
        else
            first = object;
        last = object;
    }
    pthread_mutex_unlock (&s_slab.cut_lock);
    return first;
}

//  Has this thread's lists given back when it ends.
static void
s_register (void)
{
    if (!s_cache.registered) {
        s_cache.registered = true;
        if (atomic_load (&s_slab.key_made))
            pthread_setspecific (s_slab.key, &s_cache);
    }
}

void *
zx__slab_alloc (size_t size)
{
    if (size == 0 || size > ZX__SLAB_MAX || !zx__slab_enabled ())
        return malloc (size);
    size_t c = (size - 1) / 16;
    s_free_t *object = s_cache.head [c];
    if (object && !s_cache.gone) {
        s_cache.head [c] = object->next;
        if (s_cache.count [c])
            s_cache.count [c]--;
        return object;
    }
    object = s_depot_take (c);
    if (!object || s_cache.gone) {
        //  Its thread is ending, so nothing would give a list back again:
        //  the rest of the batch goes back at once
        if (object && object->next)
            s_depot_put (c, object->next);
        return object;
    }
    s_register ();
    s_cache.head [c] = object->next;
    s_cache.count [c] = S_BATCH - 1;
    return object;
}

void *
zx__slab_calloc (size_t size)
{
    void *object = zx__slab_alloc (size);
    if (object)
        memset (object, 0, size);
    return object;
}

void
zx__slab_free (void *ptr, size_t size)
{
    if (!ptr)
        return;
    if (size == 0 || size > ZX__SLAB_MAX || !zx__slab_enabled ()) {
        free (ptr);
        return;
    }
    size_t c = (size - 1) / 16;
    s_free_t *object = (s_free_t *) ptr;
    if (s_cache.gone) {
        object->next = NULL;
        s_depot_put (c, object);
        return;
    }
    s_register ();
    object->next = s_cache.head [c];
    s_cache.head [c] = object;
    if (++s_cache.count [c] <= S_CACHE_MAX)
        return;
    //  A batch of the newest back to the depot, for the threads that make
    //  what this one frees; the list may be shorter than counted
    s_free_t *last = object;
    uint32_t taken = 1;
    while (taken < S_BATCH && last->next) {
        last = last->next;
        taken++;
    }
    s_cache.head [c] = last->next;
    s_cache.count [c] = s_cache.head [c] ? s_cache.count [c] - taken : 0;
    last->next = NULL;
    s_depot_put (c, object);
}
