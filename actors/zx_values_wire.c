/*  zx_values_wire.c - typed values: the wire form, MessagePack.

    DESIGN: sending is a borrow of the list's buffer, which holds its
    encoding already (zx_values.c). Receiving is the one place where bytes
    from strangers become values, so the decoder assumes they are hostile.
    msgpack-c decodes every scalar: one msgpack_unpack call per value, on
    the input as it lies, which hands back strings and bins as pointers
    into it (so bytes are read in place). The containers, though, are
    walked here, with an explicit stack of at most ZX_VALUES_MAX_DEPTH
    frames: msgpack-c's own unpacker allocates a declared count up front
    (an array header claiming 2^32 - 1 elements asks for 96 GiB) and has
    no limit to set, so no array or map header is ever handed to it.
    Before anything is allocated for a list or map, its count is checked
    against the bytes left (every value takes at least one) and against
    the limits in values.h, counting the values every open list still
    promises, so that what all of them allocate together stays within the
    limits however they nest. Reading a header takes one tag and a 0, 2
    or 4 byte big-endian count, which is all the MessagePack parsed by
    hand.                                                                 */
#include "zx_values_impl.h"
#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

const void *
zx__values_data (const zx_values_t *self, size_t *size)
{
    assert (self && !(self->flags & ZX__NESTED));
    //  The owner's call (see zx_values.h): bytes handed over go in now
    if (self->extra && self->extra->owned_count)
        zx__values_fill ((zx_values_t *) self);
    size_t start = self->base - self->hlen;
    if (size)
        *size = self->size - start;
    return self->at.buf + start;
}

void *
zx__values_release (zx_values_t *self, const void **data, size_t *size)
{
    assert (self && data && size);
    *data = zx__values_data (self, size);
    if (self->flags & (ZX__NESTED | ZX__BUF_INLINE | ZX__BUF_FOREIGN))
        return NULL;
    //  Borrowed from now on, with nothing to release it: the destroy
    //  leaves the buffer to whoever took it
    self->flags |= ZX__BUF_FOREIGN;
    if (self->extra)
        self->extra->release = NULL;
    return self->at.buf;
}

void
zx__values_free_released (void *data, void *hint)
{
    (void) data;
    if (zx__bigbuf_owns (hint))
        zx__bigbuf_free (hint);
    else
        free (hint);
}

//  Reads the header of a list or map at p (left bytes, at least one).
//  Returns its length (1, 3 or 5) and sets *kind and *count; returns 0
//  when p holds another type, SIZE_MAX when the header is cut short.
static size_t
s_container (const unsigned char *p, size_t left, uint8_t *kind, uint32_t *count)
{
    unsigned char tag = p [0];
    if (tag < 0x80 || (tag >= 0xA0 && tag < 0xDC) || tag >= 0xE0)
        return 0;                           //  Most values: no list or map
    if (tag < 0xA0) {                       //  fixmap 0x80-0x8F, fixarray 0x90-0x9F
        *kind = tag < 0x90 ? ZX__MAP : ZX__LIST;
        *count = tag & 0x0F;
        return 1;
    }
    size_t width;                           //  Bytes of the count
    switch (tag) {
        case 0xDC: *kind = ZX__LIST; width = 2; break;  //  array 16
        case 0xDD: *kind = ZX__LIST; width = 4; break;  //  array 32
        case 0xDE: *kind = ZX__MAP;  width = 2; break;  //  map 16
        case 0xDF: *kind = ZX__MAP;  width = 4; break;  //  map 32
        default:   return 0;
    }
    if (left < 1 + width)
        return SIZE_MAX;
    uint32_t value = 0;
    for (size_t i = 1; i <= width; i++)
        value = (value << 8) | p [i];
    *count = value;
    return 1 + width;
}

typedef struct {
    zx_values_t *list;
    uint32_t left;              //  Items still to read into it
} s_frame_t;

typedef struct {
    const unsigned char *buf;
    size_t size;
    size_t pos;                 //  Where the next value starts
    size_t values;              //  Read so far, all levels (the outer
                                //  list's counted as it starts)
    size_t pending;             //  Still to read in the open frames
    size_t containers;          //  Nested lists and maps so far
    size_t depth;               //  Frames in use
    s_frame_t stack [ZX_VALUES_MAX_DEPTH];
} s_decoder_t;

//  Decodes the scalar at the decoder's position into item, one of list's
//  (a key when key is true). Returns ZX_OK, ZX_EPROTO or ZX_ENOMEM.
static zx_err_t
s_scalar (s_decoder_t *self, zx_values_t *list, bool key, zx__item_t *item)
{
    //  A scalar takes nothing from a zone (no list or map comes here), but
    //  msgpack-c 4 makes one for a string or bin when given none: this one
    //  is only there to be seen, and is never written, so threads share it
    static msgpack_zone s_unused_zone;
    msgpack_object object;
    size_t end = self->pos;
    msgpack_unpack_return rc = msgpack_unpack ((const char *) self->buf, self->size, &end,
                                               &s_unused_zone, &object);
    if ((rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES)
    ||  (key && object.type != MSGPACK_OBJECT_STR))
        return ZX_EPROTO;
    memset (item, 0, sizeof (*item));
    switch (object.type) {
        case MSGPACK_OBJECT_NIL:
            item->type = ZX_TNONE;
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            item->type = ZX_TBOOL;
            item->as.b = object.via.boolean;
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            item->type = object.via.u64 > INT64_MAX ? ZX_TUINT : ZX_TINT;
            item->as.u = object.via.u64;
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            item->type = ZX_TINT;
            item->as.i = object.via.i64;
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            item->type = ZX_TDOUBLE;
            item->as.d = object.via.f64;
            break;
        case MSGPACK_OBJECT_STR:
            if (!zx__utf8_valid (object.via.str.ptr, object.via.str.size))
                return ZX_EPROTO;
            if (zx__values_set_text (list, item, object.via.str.ptr, object.via.str.size))
                return ZX_ENOMEM;
            break;
        case MSGPACK_OBJECT_BIN:
            item->type = ZX_TBYTES;
            item->size = object.via.bin.size;
            if (item->size)         //  An empty one comes as NULL
                item->as.offset = (uint64_t) ((const unsigned char *) object.via.bin.ptr
                                              - (self->buf + list->base));
            break;
        default:
            //  Extension types (timestamps and the like) have no value here
            return ZX_EPROTO;
    }
    self->pos = end;
    return ZX_OK;
}

//  Starts reading the list or map whose header (hlen bytes, kind, count)
//  is at the decoder's position: a new list, appended to list as item
//  (where a key goes when key is true), and a frame for its items.
//  Returns ZX_OK, ZX_EPROTO or ZX_ENOMEM.
static zx_err_t
s_open (s_decoder_t *self, zx_values_t *root, zx_values_t *list, bool key, size_t hlen,
        uint8_t kind, uint32_t count, zx__item_t *item)
{
    uint64_t slots = kind == ZX__MAP ? 2 * (uint64_t) count : count;
    //  The frames hold the nested levels; the outer list is level 1
    if (hlen == SIZE_MAX || key
    ||  self->depth == ZX_VALUES_MAX_DEPTH - 1
    ||  ++self->containers > ZX_VALUES_MAX_CONTAINERS
    ||  slots > ZX_VALUES_MAX_COUNT - self->values - self->pending
    ||  slots > self->size - self->pos - hlen)
        return ZX_EPROTO;
    //  The parent holds it at once, so that destroying the parent after a
    //  failure further in destroys it too
    zx__extra_t *extra = zx__values_extra (list);
    zx_values_t *child = extra ? zx__values_new_nested (root, kind, (uint32_t) (self->pos + hlen),
                                                        (uint8_t) hlen, (uint32_t) slots)
                               : NULL;
    if (!child)
        return ZX_ENOMEM;
    extra->nested_containers++;
    memset (item, 0, sizeof (*item));
    item->type = kind == ZX__MAP ? ZX_TMAP : ZX_TLIST;
    item->as.child = child;
    list->count++;
    self->pos += hlen;
    self->stack [self->depth++] = (s_frame_t) { child, (uint32_t) slots };
    self->pending += slots;
    return ZX_OK;
}

//  A nested list or map is complete: its parent (which counted it when it
//  opened) counts what it holds.
static void
s_close (zx_values_t *parent, const zx_values_t *child)
{
    zx__extra_t *extra = parent->extra;
    extra->nested_count += child->count + (child->extra ? child->extra->nested_count : 0);
    extra->nested_containers += child->extra ? child->extra->nested_containers : 0;
    if (child->depth + 1 > parent->depth)
        parent->depth = (uint8_t) (child->depth + 1);
}

//  Reads the list or map whose header (hlen bytes, kind, count) is at the
//  decoder's position, and everything nested in it, into item, one of
//  root's, walking the levels with the decoder's stack of frames rather
//  than by recursion. Returns ZX_OK, ZX_EPROTO or ZX_ENOMEM.
static zx_err_t
s_nested (s_decoder_t *self, zx_values_t *root, size_t hlen, uint8_t kind, uint32_t count,
          zx__item_t *item)
{
    zx_err_t rc = s_open (self, root, root, false, hlen, kind, count, item);
    while (rc == ZX_OK && self->depth) {
        s_frame_t *frame = &self->stack [self->depth - 1];
        zx_values_t *list = frame->list;
        if (frame->left == 0) {
            self->depth--;
            s_close (self->depth ? self->stack [self->depth - 1].list : root, list);
            continue;
        }
        frame->left--;
        self->pending--;
        if (++self->values > ZX_VALUES_MAX_COUNT || self->pos >= self->size)
            return ZX_EPROTO;
        bool key = list->kind == ZX__MAP && list->count % 2 == 0;
        item = &list->items [list->count];
        hlen = s_container (self->buf + self->pos, self->size - self->pos, &kind, &count);
        if (hlen)
            rc = s_open (self, root, list, key, hlen, kind, count, item);
        else
        if ((rc = s_scalar (self, list, key, item)) == ZX_OK)
            list->count++;
    }
    return rc;
}

//  Decodes the whole of the decoder's input into root, a list over it:
//  its values one by one, and those that are lists or maps through
//  s_nested. Returns ZX_OK, ZX_EPROTO or ZX_ENOMEM; on failure root holds
//  what was read so far, for the caller to destroy.
static zx_err_t
s_decode (s_decoder_t *self, zx_values_t *root)
{
    uint8_t kind;
    uint32_t count;
    size_t hlen = s_container (self->buf, self->size, &kind, &count);
    if (hlen == 0 || hlen == SIZE_MAX || kind != ZX__LIST
    ||  count > self->size - hlen || count > ZX_VALUES_MAX_COUNT)
        return ZX_EPROTO;
    if (count > 1) {
        if (!(root->items = (zx__item_t *) malloc (count * sizeof (zx__item_t))))
            return ZX_ENOMEM;
        root->items_capacity = count;
    }
    root->base = (uint32_t) hlen;
    root->hlen = (uint8_t) hlen;
    self->pos = hlen;
    self->values = count;
    for (uint32_t index = 0, values = count; index < values; index++) {
        if (self->pos >= self->size)
            return ZX_EPROTO;
        zx__item_t *item = &root->items [index];
        zx_err_t rc;
        hlen = s_container (self->buf + self->pos, self->size - self->pos, &kind, &count);
        if (hlen)
            rc = s_nested (self, root, hlen, kind, count, item);
        else
        if ((rc = s_scalar (self, root, false, item)) == ZX_OK)
            root->count++;
        if (rc)
            return rc;
    }
    return self->pos == self->size ? ZX_OK : ZX_EPROTO;    //  Nothing may trail
}

//  Decodes data into a new list that reads it in place, which its caller
//  turns into a copy or hands the data over to. Returns as the callers.
static zx_err_t
s_decode_in_place (const void *data, size_t size, zx_values_t **out)
{
    *out = NULL;
    if (!data)
        return ZX_EINVAL;
    zx_values_t *root = zx_values_new ();
    if (!root)
        return ZX_ENOMEM;
    root->at.buf = (unsigned char *) data;
    root->flags = ZX__BUF_FOREIGN;
    root->size = root->capacity = (uint32_t) size;
    s_decoder_t decoder;        //  Its stack is filled as it is used
    decoder.buf = (const unsigned char *) data;
    decoder.size = size;
    decoder.pos = decoder.values = decoder.pending = decoder.containers = decoder.depth = 0;
    zx_err_t rc = size > UINT32_MAX ? ZX_EPROTO : s_decode (&decoder, root);
    if (rc) {
        zx_values_destroy (&root);
        return rc;
    }
    *out = root;
    return ZX_OK;
}

zx_err_t
zx__values_decode (const void *data, size_t size, zx_values_t **out)
{
    assert (out);
    *out = NULL;
    if (size == 0)              //  A zero-length field is the empty list
        return (*out = zx_values_new ()) ? ZX_OK : ZX_ENOMEM;
    zx_values_t *self;
    zx_err_t rc = s_decode_in_place (data, size, &self);
    if (rc)
        return rc;
    //  Now a copy of its own: the lists nested in it and its bytes are
    //  placed relative to the buffer's start, so only the buffer changes
    unsigned char *copy = size <= ZX__INLINE_BUF ? self->inline_buf
                        : zx__values_buf_alloc (size);
    if (!copy) {
        zx_values_destroy (&self);
        return ZX_ENOMEM;
    }
    memcpy (copy, data, size);
    self->at.buf = copy;
    self->flags = copy == self->inline_buf ? ZX__BUF_INLINE : 0;
    self->capacity = copy == self->inline_buf ? ZX__INLINE_BUF : (uint32_t) size;
    *out = self;
    return ZX_OK;
}

zx_err_t
zx__values_decode_owned (const void *data, size_t size,
                         void (*free_fn) (void *data, void *hint), void *hint,
                         zx_values_t **out)
{
    assert (out);
    *out = NULL;
    if (size == 0) {
        if (!(*out = zx_values_new ()))
            return ZX_ENOMEM;
        if (free_fn)            //  Nothing in it refers to data
            free_fn ((void *) data, hint);
        return ZX_OK;
    }
    zx_values_t *self;
    zx_err_t rc = s_decode_in_place (data, size, &self);
    if (rc == ZX_OK && free_fn) {
        zx__extra_t *extra = zx__values_extra (self);
        if (extra) {
            extra->release = free_fn;
            extra->release_hint = hint;
        }
        else {
            zx_values_destroy (&self);
            rc = ZX_ENOMEM;
        }
    }
    *out = self;
    return rc;
}
