/*  zx_values.c - typed values: building lists and maps.

    DESIGN: a list is kept in its wire form, MessagePack, as it is built
    (zx_values_impl.h): each adder reserves room first, so that it cannot
    fail half-way, then has msgpack-c's packer write the item's encoding at
    the end of the body and records the item in the index, then rewrites
    the header (array or map count) in the room kept before the body.
    Sending a list is then a borrow of its buffer. Nesting a list copies
    its encoding into the parent's buffer once and keeps the nested list
    as a reader over that part of the parent's buffer; bytes handed over
    with zx_values_add_bytes_owned get their place reserved and are copied
    into it only when the list is sent.

    The other files of values: zx_values_pack.c (pack, ZX_VALUES, copies),
    zx_values_read.c (getters, keys, paths), zx_values_wire.c (the decoder)
    and zx_values_repr.c (rendering).                                     */
#include "zx_values_impl.h"
#include "zx_slab.h"
#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  Where an adder's value may go in a map: only as a value, only as a
//  key, or as either (a string)
typedef enum { S_AS_VALUE, S_AS_KEY, S_AS_EITHER } s_role_t;


/*  ---------------------------------------------------------------------
    Construction and destruction                                          */

static zx_values_t *
s_new (uint8_t kind)
{
    zx_values_t *self = (zx_values_t *) zx__slab_alloc (sizeof (zx_values_t));
    if (!self)
        return NULL;
    self->at.buf = self->inline_buf;
    self->items = &self->inline_item;
    self->extra = NULL;
    self->size = 1;
    self->capacity = ZX__INLINE_BUF;
    self->count = 0;
    self->items_capacity = 1;
    self->base = 1;
    self->hlen = 1;
    self->kind = kind;
    self->flags = ZX__BUF_INLINE;
    self->depth = 1;
    self->inline_buf [0] = kind == ZX__MAP ? 0x80 : 0x90;     //  Empty fixmap, fixarray
    return self;
}

zx_values_t *
zx_values_new (void)
{
    return s_new (ZX__LIST);
}

zx_values_t *
zx_values_new_map (void)
{
    return s_new (ZX__MAP);
}

zx_values_t *
zx__values_new_nested (zx_values_t *root, uint8_t kind, uint32_t base, uint8_t hlen,
                       uint32_t slots)
{
    zx_values_t *self = s_new (kind);
    if (!self)
        return NULL;
    if (slots > 1) {
        self->items = (zx__item_t *) malloc ((size_t) slots * sizeof (zx__item_t));
        if (!self->items) {
            zx__slab_free (self, sizeof (zx_values_t));
            return NULL;
        }
        self->items_capacity = slots;
    }
    self->at.root = root;
    self->flags = ZX__NESTED;
    self->base = base;
    self->hlen = hlen;
    self->size = 0;
    self->capacity = 0;
    return self;
}

zx__extra_t *
zx__values_extra (zx_values_t *self)
{
    if (!self->extra)
        self->extra = (zx__extra_t *) calloc (1, sizeof (zx__extra_t));
    return self->extra;
}

static void
s_destroy (zx_values_t *self)
{
    zx__extra_t *extra = self->extra;
    if (extra && extra->nested_containers)
        for (uint32_t i = 0; i < self->count; i++)
            if (self->items [i].type == ZX_TLIST || self->items [i].type == ZX_TMAP)
                s_destroy (self->items [i].as.child);
    if (self->items != &self->inline_item)
        free (self->items);
    if (extra) {
        for (uint32_t i = 0; i < extra->owned_count; i++)
            if (extra->owned [i].free_fn)
                extra->owned [i].free_fn ((void *) extra->owned [i].data, extra->owned [i].hint);
        free (extra->owned);
        free (extra->text);
    }
    if (!(self->flags & (ZX__NESTED | ZX__BUF_INLINE))) {
        if (!(self->flags & ZX__BUF_FOREIGN))
            zx__values_buf_free (self->at.buf, self->capacity);
        else
        if (extra && extra->release)
            extra->release (self->at.buf, extra->release_hint);
    }
    free (extra);
    zx__slab_free (self, sizeof (zx_values_t));
}

void
zx_values_destroy (zx_values_t **self_p)
{
    assert (self_p);
    zx_values_t *self = *self_p;
    if (self) {
        //  A nested list goes with its root
        assert (!(self->flags & ZX__NESTED));
        s_destroy (self);
        *self_p = NULL;
    }
}


/*  ---------------------------------------------------------------------
    The buffer: room for the body and its header                          */

//  A msgpack-c packer that writes at a cursor, into room reserved before
typedef struct {
    msgpack_packer packer;
    unsigned char *at;
} s_writer_t;

static int
s_write (void *data, const char *buf, size_t len)
{
    unsigned char **at = (unsigned char **) data;
    if (len)                    //  An empty string or bin comes as NULL
        memcpy (*at, buf, len);
    *at += len;
    return 0;
}

static void
s_writer_init (s_writer_t *writer, unsigned char *at)
{
    writer->at = at;
    msgpack_packer_init (&writer->packer, &writer->at, s_write);
}

//  Returns how many entries the header of self counts.
static size_t
s_entries (const zx_values_t *self, size_t count)
{
    return self->kind == ZX__MAP ? count / 2 : count;
}

//  Returns the length of the header msgpack-c writes for entries:
//  fixarray or fixmap up to 15, then array or map 16, then 32.
static size_t
s_header_length (size_t entries)
{
    return entries < 16 ? 1 : entries < 65536 ? 3 : 5;
}

//  Adds delta to the base of every list nested in self, all levels, and
//  makes root their root.
static void
s_rebase (zx_values_t *self, zx_values_t *root, int64_t delta)
{
    for (uint32_t i = 0; i < self->count; i++) {
        zx__item_t *item = &self->items [i];
        if (item->type == ZX_TLIST || item->type == ZX_TMAP) {
            zx_values_t *child = item->as.child;
            child->base = (uint32_t) ((int64_t) child->base + delta);
            child->at.root = root;
            child->flags = ZX__NESTED;
            s_rebase (child, root, delta);
        }
    }
}

//  Writes self's header, for its count, right before its body. The room
//  is there: s_reserve made it.
static void
s_write_header (zx_values_t *self)
{
    size_t entries = s_entries (self, self->count);
    size_t length = s_header_length (entries);
    assert (length <= self->base);
    s_writer_t writer;
    s_writer_init (&writer, self->at.buf + self->base - length);
    if (self->kind == ZX__MAP)
        msgpack_pack_map (&writer.packer, entries);
    else
        msgpack_pack_array (&writer.packer, entries);
    assert (writer.at == self->at.buf + self->base);
    self->hlen = (uint8_t) length;
}

#define S_GROW_EXACT (1024 * 1024)

//  Moves the body of root self to start at base in a buffer of at least
//  need bytes (base + body + what is about to be added), growing or
//  leaving the inline buffer or a foreign one as it must. The header is
//  rewritten after. Returns ZX_OK or ZX_ENOMEM.
static zx_err_t
s_move (zx_values_t *self, size_t base, size_t need)
{
    size_t body = self->size - self->base;
    unsigned char *buf = self->at.buf;
    bool inline_fits = need <= ZX__INLINE_BUF && (self->flags & ZX__BUF_INLINE);
    if (need <= self->capacity && !(self->flags & ZX__BUF_FOREIGN) && (inline_fits
    ||  !(self->flags & ZX__BUF_INLINE)))
        memmove (buf + base, buf + self->base, body);
    else {
        if (!inline_fits && base < ZX__HEADROOM) {
            need += ZX__HEADROOM - base;    //  A heap buffer keeps all the room
            base = ZX__HEADROOM;
        }
        size_t capacity = self->capacity;
        if ((self->flags & (ZX__BUF_INLINE | ZX__BUF_FOREIGN)) || capacity < 64)
            capacity = 64;
        while (capacity < need)
            capacity = capacity > UINT32_MAX / 2 ? UINT32_MAX : capacity * 2;
        //  Past a MiB, what is needed and an eighth more, not the double:
        //  16 MiB of bytes and a header would take 32, which glibc maps
        //  fresh from the kernel every time (past its largest mmap
        //  threshold), a page fault for every 4 KiB written
        if (need > S_GROW_EXACT && capacity > need + need / 8)
            capacity = need + need / 8;
        unsigned char *grown;
        bool ours = !(self->flags & (ZX__BUF_INLINE | ZX__BUF_FOREIGN));
        bool big = capacity >= ZX__BIGBUF_MIN;
        bool was_big = ours && self->capacity >= ZX__BIGBUF_MIN;
        if (ours && base == self->base && big == was_big)
            grown = big ? (unsigned char *) zx__bigbuf_realloc (buf, capacity)
                        : (unsigned char *) realloc (buf, capacity);
        else
        if ((grown = zx__values_buf_alloc (capacity)))
            memcpy (grown + base, buf + self->base, body);
        if (!grown)
            return ZX_ENOMEM;
        if (self->flags & ZX__BUF_FOREIGN) {
            zx__extra_t *extra = self->extra;
            if (extra && extra->release)
                extra->release (buf, extra->release_hint);
            if (extra)
                extra->release = NULL;
        }
        else
        if (ours && grown != buf && (base != self->base || big != was_big))
            zx__values_buf_free (buf, self->capacity);
        self->at.buf = grown;
        self->capacity = (uint32_t) capacity;
        self->flags &= (uint8_t) ~(ZX__BUF_INLINE | ZX__BUF_FOREIGN);
    }
    s_rebase (self, self, (int64_t) base - (int64_t) self->base);
    self->base = (uint32_t) base;
    self->size = (uint32_t) (base + body);
    s_write_header (self);
    return ZX_OK;
}

//  Makes room, in root self, for more bytes after the body and for the
//  header of one more item, so that appending them cannot fail. Returns
//  ZX_OK, ZX_EINVAL past 4 GiB, or ZX_ENOMEM.
static zx_err_t
s_reserve (zx_values_t *self, size_t more)
{
    size_t hlen = s_header_length (s_entries (self, self->count + 1));
    size_t body = self->size - self->base;
    size_t base = hlen > self->base ? ZX__HEADROOM : self->base;
    if (more > UINT32_MAX - ZX__HEADROOM - body)
        return ZX_EINVAL;
    size_t need = base + body + more;
    if (need <= self->capacity && base == self->base && !(self->flags & ZX__BUF_FOREIGN))
        return ZX_OK;
    return s_move (self, base, need);
}

//  Makes room for one more item in the index.
static zx_err_t
s_reserve_item (zx_values_t *self)
{
    if (self->count < self->items_capacity)
        return ZX_OK;
    if (self->items_capacity > UINT32_MAX / 2)
        return ZX_ENOMEM;
    uint32_t capacity = self->items_capacity < 4 ? 4 : self->items_capacity * 2;
    zx__item_t *items;
    if (self->items == &self->inline_item) {
        if ((items = (zx__item_t *) malloc (capacity * sizeof (zx__item_t))))
            memcpy (items, self->items, self->count * sizeof (zx__item_t));
    }
    else
        items = (zx__item_t *) realloc (self->items, capacity * sizeof (zx__item_t));
    if (!items)
        return ZX_ENOMEM;
    self->items = items;
    self->items_capacity = capacity;
    return ZX_OK;
}

//  Values in self and everything nested in it.
static size_t
s_total (const zx_values_t *self)
{
    return self->count + (self->extra ? self->extra->nested_count : 0);
}

//  Checks that one more value of this role may go into self and makes
//  room for it and for more bytes of encoding, then points writer at the
//  end of the body. Returns ZX_OK, ZX_EINVAL or ZX_ENOMEM.
static zx_err_t
s_begin (zx_values_t *self, s_role_t role, size_t more, s_writer_t *writer)
{
    assert (self);
    bool want_key = self->kind == ZX__MAP && self->count % 2 == 0;
    if ((self->flags & ZX__NESTED)
    ||  (role == S_AS_VALUE && want_key)
    ||  (role == S_AS_KEY && !want_key)
    ||  s_total (self) >= ZX_VALUES_MAX_COUNT)
        return ZX_EINVAL;
    zx_err_t rc = s_reserve_item (self);
    if (rc == ZX_OK)
        rc = s_reserve (self, more);
    if (rc == ZX_OK)
        s_writer_init (writer, self->at.buf + self->size);
    return rc;
}

//  Records item, whose encoding writer has written, and the new header.
static void
s_commit (zx_values_t *self, const zx__item_t *item, const s_writer_t *writer)
{
    self->size = (uint32_t) (writer->at - self->at.buf);
    self->items [self->count++] = *item;
    s_write_header (self);
}


/*  ---------------------------------------------------------------------
    Adders                                                                */

static zx__item_t
s_item (zx_type_t type)
{
    zx__item_t item;
    memset (&item, 0, sizeof (item));
    item.type = (uint8_t) type;
    return item;
}

zx_err_t
zx_values_add_int (zx_values_t *self, int64_t value)
{
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 9, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TINT);
    item.as.i = value;
    msgpack_pack_int64 (&writer.packer, value);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_uint (zx_values_t *self, uint64_t value)
{
    if (value <= INT64_MAX)
        return zx_values_add_int (self, (int64_t) value);
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 9, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TUINT);
    item.as.u = value;
    msgpack_pack_uint64 (&writer.packer, value);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_double (zx_values_t *self, double value)
{
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 9, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TDOUBLE);
    item.as.d = value;
    msgpack_pack_double (&writer.packer, value);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_bool (zx_values_t *self, bool value)
{
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 1, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TBOOL);
    item.as.b = value;
    if (value)
        msgpack_pack_true (&writer.packer);
    else
        msgpack_pack_false (&writer.packer);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_none (zx_values_t *self)
{
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 1, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TNONE);
    msgpack_pack_nil (&writer.packer);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx__values_set_text (zx_values_t *self, zx__item_t *item, const char *text, size_t size)
{
    item->type = ZX_TSTR;
    item->size = (uint32_t) size;
    if (size < ZX__INLINE_TEXT) {
        item->flags |= ZX__ITEM_TEXT_INLINE;
        if (size)               //  msgpack-c gives an empty string as NULL
            memcpy (item->as.text, text, size);
        item->as.text [size] = 0;
        return ZX_OK;
    }
    zx__extra_t *extra = zx__values_extra (self);
    if (!extra || size >= UINT32_MAX - extra->text_size)
        return ZX_ENOMEM;
    size_t need = extra->text_size + size + 1;
    if (need > extra->text_capacity) {
        size_t capacity = extra->text_capacity ? extra->text_capacity : 64;
        while (capacity < need)
            capacity = capacity > UINT32_MAX / 2 ? UINT32_MAX : capacity * 2;
        //  Past a MiB, what is needed and an eighth more, not the double:
        //  16 MiB of bytes and a header would take 32, which glibc maps
        //  fresh from the kernel every time (past its largest mmap
        //  threshold), a page fault for every 4 KiB written
        if (need > S_GROW_EXACT && capacity > need + need / 8)
            capacity = need + need / 8;
        char *grown = (char *) realloc (extra->text, capacity);
        if (!grown)
            return ZX_ENOMEM;
        extra->text = grown;
        extra->text_capacity = (uint32_t) capacity;
    }
    memcpy (extra->text + extra->text_size, text, size);
    extra->text [extra->text_size + size] = 0;
    item->as.offset = extra->text_size;
    extra->text_size = (uint32_t) need;
    return ZX_OK;
}

static zx_err_t
s_add_text (zx_values_t *self, s_role_t role, const char *text, size_t size)
{
    if (!text || size >= UINT32_MAX || !zx__utf8_valid (text, size))
        return ZX_EINVAL;
    s_writer_t writer;
    zx_err_t rc = s_begin (self, role, 5 + size, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TSTR);
    if ((rc = zx__values_set_text (self, &item, text, size)))
        return rc;
    msgpack_pack_str (&writer.packer, size);
    msgpack_pack_str_body (&writer.packer, text, size);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_str (zx_values_t *self, const char *value)
{
    return s_add_text (self, S_AS_EITHER, value, value ? strlen (value) : 0);
}

zx_err_t
zx_values_add_strn (zx_values_t *self, const char *value, size_t size)
{
    return s_add_text (self, S_AS_EITHER, value, size);
}

zx_err_t
zx_values_add_key (zx_values_t *self, const char *key)
{
    return s_add_text (self, S_AS_KEY, key, key ? strlen (key) : 0);
}

zx_err_t
zx_values_add_bytes (zx_values_t *self, const void *data, size_t size)
{
    if ((!data && size) || size >= UINT32_MAX)
        return ZX_EINVAL;
    s_writer_t writer;
    zx_err_t rc = s_begin (self, S_AS_VALUE, 5 + size, &writer);
    if (rc)
        return rc;
    zx__item_t item = s_item (ZX_TBYTES);
    item.size = (uint32_t) size;
    msgpack_pack_bin (&writer.packer, size);
    item.as.offset = (uint64_t) (writer.at - self->at.buf) - self->base;
    msgpack_pack_bin_body (&writer.packer, data, size);
    s_commit (self, &item, &writer);
    return ZX_OK;
}

zx_err_t
zx_values_add_bytes_owned (zx_values_t *self, void *data, size_t size,
                           void (*free_fn) (void *data, void *hint), void *hint)
{
    zx_err_t rc = ZX_EINVAL;
    s_writer_t writer;
    zx__extra_t *extra = NULL;
    if ((!data && size) || size >= UINT32_MAX
    ||  (rc = s_begin (self, S_AS_VALUE, 5 + size, &writer)) != ZX_OK)
        goto fail;
    rc = ZX_ENOMEM;
    if (!(extra = zx__values_extra (self)))
        goto fail;
    if (extra->owned_count == extra->owned_capacity) {
        uint32_t capacity = extra->owned_capacity ? extra->owned_capacity * 2 : 4;
        zx__owned_t *owned = (zx__owned_t *) realloc (extra->owned,
                                                      capacity * sizeof (zx__owned_t));
        if (!owned)
            goto fail;
        extra->owned = owned;
        extra->owned_capacity = capacity;
    }
    zx__item_t item = s_item (ZX_TBYTES);
    item.size = (uint32_t) size;
    item.flags = ZX__ITEM_PENDING;
    msgpack_pack_bin (&writer.packer, size);
    item.as.offset = (uint64_t) (writer.at - self->at.buf) - self->base;
    writer.at += size;          //  Their place, filled in by zx__values_fill
    extra->owned [extra->owned_count++] = (zx__owned_t) { data, free_fn, hint, self->count };
    s_commit (self, &item, &writer);
    return ZX_OK;

fail:
    if (free_fn)
        free_fn (data, hint);
    return rc;
}

void
zx__values_fill (zx_values_t *self)
{
    assert (!(self->flags & ZX__NESTED));
    zx__extra_t *extra = self->extra;
    if (!extra || extra->owned_count == 0)
        return;
    for (uint32_t i = 0; i < extra->owned_count; i++) {
        zx__owned_t *owned = &extra->owned [i];
        zx__item_t *item = &self->items [owned->item];
        if (item->size)
            memcpy (self->at.buf + self->base + item->as.offset, owned->data, item->size);
        item->flags &= (uint8_t) ~ZX__ITEM_PENDING;
        if (owned->free_fn)
            owned->free_fn ((void *) owned->data, owned->hint);
    }
    extra->owned_count = 0;
}

//  Checks that child may be nested in self. Returns ZX_OK or ZX_EINVAL.
static zx_err_t
s_check_nest (const zx_values_t *self, const zx_values_t *child)
{
    size_t containers = 1 + (child->extra ? child->extra->nested_containers : 0)
                      + (self->extra ? self->extra->nested_containers : 0);
    if (child == self || (child->flags & ZX__NESTED)
    ||  (child->kind == ZX__MAP && child->count % 2)
    ||  child->depth + 1 > ZX_VALUES_MAX_DEPTH
    ||  s_total (self) + 1 + s_total (child) > ZX_VALUES_MAX_COUNT
    ||  containers > ZX_VALUES_MAX_CONTAINERS)
        return ZX_EINVAL;
    return ZX_OK;
}

zx_err_t
zx_values_add_values (zx_values_t *self, zx_values_t **values_p)
{
    assert (self && values_p);
    zx_values_t *child = *values_p;
    *values_p = NULL;
    //  Not ours to destroy: self, or a list another one holds
    if (!child || child == self || (child->flags & ZX__NESTED))
        return ZX_EINVAL;
    zx_err_t rc = s_check_nest (self, child);
    zx__extra_t *extra = NULL;
    if (rc == ZX_OK && !(extra = zx__values_extra (self)))
        rc = ZX_ENOMEM;
    size_t start = child->base - child->hlen;   //  Its encoding, header first
    size_t length = child->size - start;
    s_writer_t writer;
    if (rc == ZX_OK)
        rc = s_begin (self, S_AS_VALUE, length, &writer);
    if (rc) {
        s_destroy (child);
        return rc;
    }
    zx__values_fill (child);
    memcpy (writer.at, child->at.buf + start, length);
    writer.at += length;
    //  From now on child reads its bytes from our buffer, as do the lists
    //  nested in it
    size_t at = self->size;
    if (child->flags & ZX__BUF_FOREIGN) {
        if (child->extra && child->extra->release)
            child->extra->release (child->at.buf, child->extra->release_hint);
        if (child->extra)
            child->extra->release = NULL;
    }
    else
    if (!(child->flags & ZX__BUF_INLINE))
        zx__values_buf_free (child->at.buf, child->capacity);
    int64_t delta = (int64_t) at - (int64_t) start;
    child->base = (uint32_t) ((int64_t) child->base + delta);
    child->at.root = self;
    child->flags = ZX__NESTED;
    child->size = child->capacity = 0;
    s_rebase (child, self, delta);

    extra->nested_count += (uint32_t) s_total (child);
    extra->nested_containers += 1 + (child->extra ? child->extra->nested_containers : 0);
    if (child->depth + 1 > self->depth)
        self->depth = (uint8_t) (child->depth + 1);
    zx__item_t item = s_item (child->kind == ZX__MAP ? ZX_TMAP : ZX_TLIST);
    item.as.child = child;
    s_commit (self, &item, &writer);
    return ZX_OK;
}
