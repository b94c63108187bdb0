/*  zx_values_impl.h - internal to zx_values*.c: how a list is held.

    A list is its MessagePack encoding plus an index. The root list (the
    one a caller owns) holds the encoding in one buffer: a header (array
    or map, with its count) right before the body, the items' encodings
    one after another. Room is kept before the body so that the header
    can grow as items are added without moving the body, which is why
    sending a list is a borrow of its buffer (zx__values_data).

    The index has one zx__item_t per item: scalars are kept decoded, so
    reading never parses; a string keeps a 0-terminated copy (inline when
    it is short), since its encoding has no 0 after it; bytes are an offset
    into the body, read in place; a nested list or map is its own
    zx_values_t, whose body lies inside the root's buffer. Every list knows
    where its body starts in the root's buffer (base), so bytes are found
    at root buffer + base + offset however the buffer moves or the list is
    nested later.                                                         */
#ifndef ZX_VALUES_IMPL_H_INCLUDED
#define ZX_VALUES_IMPL_H_INCLUDED
#include "zx_values.h"
#include "zx_bigbuf.h"
#include <stdlib.h>

//  zx_values_t.kind
#define ZX__LIST            0
#define ZX__MAP             1

//  zx_values_t.flags
#define ZX__NESTED          1   //  Inside another list: at.root is valid
#define ZX__BUF_INLINE      2   //  at.buf is inline_buf
#define ZX__BUF_FOREIGN     4   //  at.buf is not ours to grow (decoded in place)

//  zx__item_t.flags
#define ZX__ITEM_TEXT_INLINE 1  //  str: the 0-terminated text is in as.text
#define ZX__ITEM_PENDING     2  //  bytes: handed over, not yet copied in

//  Room kept before the body of a heap buffer: the longest header
#define ZX__HEADROOM        5
#define ZX__INLINE_BUF      24
#define ZX__INLINE_TEXT     8   //  Strings up to 7 bytes live in the item

typedef struct {
    uint8_t type;               //  zx_type_t
    uint8_t flags;              //  ZX__ITEM_*
    uint16_t unused;
    uint32_t size;              //  str, bytes: length in bytes
    union {
        int64_t i;
        uint64_t u;
        double d;
        bool b;
        uint64_t offset;        //  str: of its text in extra->text;
                                //  bytes: of its payload in the body
        char text [ZX__INLINE_TEXT];
        zx_values_t *child;     //  list, map
    } as;
} zx__item_t;

//  Bytes handed over with zx_values_add_bytes_owned: their place in the
//  body is reserved, and they are copied there when the list is sent
typedef struct {
    const void *data;
    void (*free_fn) (void *data, void *hint);
    void *hint;
    uint32_t item;              //  Index of the item
} zx__owned_t;

//  What most lists never need, allocated on first use
typedef struct {
    char *text;                 //  0-terminated copies of longer strings
    uint32_t text_size;
    uint32_t text_capacity;
    zx__owned_t *owned;         //  Pending bytes, in the order added
    uint32_t owned_count;
    uint32_t owned_capacity;
    //  A root decoded in place: what frees its buffer (NULL: borrowed)
    void (*release) (void *data, void *hint);
    void *release_hint;
    uint32_t nested_count;      //  Values in nested lists and maps, all levels
    uint32_t nested_containers; //  Lists and maps nested, all levels
} zx__extra_t;

//  88 bytes (a 96-byte malloc chunk, as before MessagePack): a list of one
//  small value is a single allocation, whether built or decoded.
struct zx_values {
    union {
        unsigned char *buf;     //  Root: the encoding
        zx_values_t *root;      //  Nested: the root whose buffer holds us
    } at;
    zx__item_t *items;          //  inline_item or the heap
    zx__extra_t *extra;         //  NULL until needed
    uint32_t size;              //  Root: bytes of buf in use
    uint32_t capacity;          //  Root: bytes of buf allocated
    uint32_t count;             //  Items (a map: key and value each)
    uint32_t items_capacity;
    uint32_t base;              //  Where our body starts in the root's buf
    uint8_t hlen;               //  Length of our header, right before base
    uint8_t kind;               //  ZX__LIST or ZX__MAP
    uint8_t flags;              //  ZX__NESTED, ZX__BUF_*
    uint8_t depth;              //  Levels of lists and maps, ours included
    zx__item_t inline_item;
    unsigned char inline_buf [ZX__INLINE_BUF];
};

//  A root's own buffer of capacity bytes: from malloc, or past a couple
//  of MiB a mapping of its own (zx_bigbuf.h). Which one is told by the
//  capacity alone, so every buffer of ours is freed by zx__values_buf_free
//  with the capacity it was allocated with.
static inline unsigned char *
zx__values_buf_alloc (size_t capacity)
{
    return (unsigned char *) (capacity >= ZX__BIGBUF_MIN ? zx__bigbuf_alloc (capacity)
                                                         : malloc (capacity));
}

static inline void
zx__values_buf_free (void *buf, size_t capacity)
{
    if (capacity >= ZX__BIGBUF_MIN)
        zx__bigbuf_free (buf);
    else
        free (buf);
}

//  Returns the buffer holding self's encoding (the root's).
static inline unsigned char *
zx__values_buf (const zx_values_t *self)
{
    return (self->flags & ZX__NESTED) ? self->at.root->at.buf : self->at.buf;
}

//  Returns the first byte of self's body.
static inline const unsigned char *
zx__values_body (const zx_values_t *self)
{
    return zx__values_buf (self) + self->base;
}

//  Returns the item of value index (a map's entry index: its value), or
//  NULL when index is out of range.
static inline const zx__item_t *
zx__values_item (const zx_values_t *self, size_t index)
{
    size_t slot = self->kind == ZX__MAP ? 2 * index + 1 : index;
    if (index >= self->count || slot >= self->count)
        return NULL;
    return &self->items [slot];
}

//  Returns the 0-terminated text of a str item.
static inline const char *
zx__item_text (const zx_values_t *self, const zx__item_t *item)
{
    if (item->flags & ZX__ITEM_TEXT_INLINE)
        return item->as.text;
    return self->extra->text + item->as.offset;
}

//  Creates an empty list or map with no buffer of its own, nested in
//  root, its body at base with a header of hlen bytes before it, and
//  room for slots items. Returns NULL when out of memory.
zx_values_t *zx__values_new_nested (zx_values_t *root, uint8_t kind, uint32_t base,
                                    uint8_t hlen, uint32_t slots);

//  Returns self's extra part, creating it; NULL when out of memory.
zx__extra_t *zx__values_extra (zx_values_t *self);

//  Appends a 0-terminated copy of text (size bytes) to self's strings and
//  fills in item (type, size, text). Returns ZX_OK or ZX_ENOMEM.
zx_err_t zx__values_set_text (zx_values_t *self, zx__item_t *item, const char *text,
                              size_t size);

//  Returns the length of the valid UTF-8 sequence at p (1 to 4 bytes), or
//  0 when there is none (stray, overlong, surrogate or past U+10FFFF).
size_t zx__utf8_length (const unsigned char *p, size_t left);

//  Returns true when size bytes at text are valid UTF-8.
bool zx__utf8_valid (const char *text, size_t size);

//  Fills in the bytes handed over to a root list, so its buffer holds its
//  whole encoding. Touches what a reader may hold: only for the owner.
void zx__values_fill (zx_values_t *self);

#endif
