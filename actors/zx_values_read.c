/*  zx_values_read.c - typed values: reading by index, key and path.

    DESIGN: every read is a look-up in the index (zx_values_impl.h), which
    holds scalars decoded and strings 0-terminated, so no read parses the
    wire form or allocates; bytes are the one value read from the buffer
    itself, in place. Reads never change a list, so any number of threads
    may read one at a time.                                               */
#include "zx_values_impl.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

size_t
zx_values_count (const zx_values_t *self)
{
    assert (self);
    return self->kind == ZX__MAP ? self->count / 2 : self->count;
}

bool
zx_values_is_map (const zx_values_t *self)
{
    assert (self);
    return self->kind == ZX__MAP;
}

zx_type_t
zx_values_type (const zx_values_t *self, size_t index)
{
    assert (self);
    const zx__item_t *item = zx__values_item (self, index);
    return item ? (zx_type_t) item->type : (zx_type_t) 0;
}

//  Returns the payload of a bytes item: in the body, or still in the
//  caller's buffer when it was handed over and not yet copied in.
static const void *
s_bytes (const zx_values_t *self, const zx__item_t *item)
{
    if (item->flags & ZX__ITEM_PENDING) {
        const zx__extra_t *extra = self->extra;
        uint32_t index = (uint32_t) (item - self->items);
        for (uint32_t i = 0; i < extra->owned_count; i++)
            if (extra->owned [i].item == index)
                return extra->owned [i].data;
    }
    return zx__values_body (self) + item->as.offset;
}

//  Fills in value from item, one of self's.
static void
s_value (const zx_values_t *self, const zx__item_t *item, zx_value_t *value)
{
    memset (value, 0, sizeof (*value));
    value->type = (zx_type_t) item->type;
    switch (item->type) {
        case ZX_TBOOL:
            value->as.b = item->as.b;
            break;
        case ZX_TINT:
            value->as.i = item->as.i;
            break;
        case ZX_TUINT:
            value->as.u = item->as.u;
            break;
        case ZX_TDOUBLE:
            value->as.d = item->as.d;
            break;
        case ZX_TSTR:
            value->size = item->size;
            value->as.str = zx__item_text (self, item);
            break;
        case ZX_TBYTES:
            value->size = item->size;
            value->as.bytes = s_bytes (self, item);
            break;
        case ZX_TLIST:
        case ZX_TMAP:
            value->size = zx_values_count (item->as.child);
            value->as.values = item->as.child;
            break;
        default:
            break;
    }
}

zx_err_t
zx_values_get (const zx_values_t *self, size_t index, zx_value_t *out)
{
    assert (self && out);
    const zx__item_t *item = zx__values_item (self, index);
    if (!item)
        return ZX_EINVAL;
    s_value (self, item, out);
    return ZX_OK;
}

//  Returns the item of value index after checking its range and that its
//  type is one of two (the second may be 0), or NULL with *rc set.
static const zx__item_t *
s_typed (const zx_values_t *self, size_t index, zx_type_t type, zx_type_t also,
         zx_err_t *rc)
{
    assert (self);
    const zx__item_t *item = zx__values_item (self, index);
    *rc = !item ? ZX_EINVAL
        : item->type != type && (also == 0 || item->type != also) ? ZX_ETYPE : ZX_OK;
    return *rc == ZX_OK ? item : NULL;
}

zx_err_t
zx_values_get_int (const zx_values_t *self, size_t index, int64_t *out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TINT, 0, &rc);
    if (item && out)
        *out = item->as.i;
    return rc;
}

zx_err_t
zx_values_get_uint (const zx_values_t *self, size_t index, uint64_t *out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TUINT, ZX_TINT, &rc);
    if (item && item->type == ZX_TINT && item->as.i < 0)
        return ZX_ETYPE;
    if (item && out)
        *out = item->as.u;      //  An int that is not negative has the same bits
    return rc;
}

zx_err_t
zx_values_get_double (const zx_values_t *self, size_t index, double *out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TDOUBLE, ZX_TINT, &rc);
    if (!item && rc == ZX_ETYPE)
        item = s_typed (self, index, ZX_TUINT, 0, &rc);
    if (item && out)
        *out = item->type == ZX_TDOUBLE ? item->as.d
             : item->type == ZX_TINT ? (double) item->as.i : (double) item->as.u;
    return rc;
}

zx_err_t
zx_values_get_bool (const zx_values_t *self, size_t index, bool *out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TBOOL, 0, &rc);
    if (item && out)
        *out = item->as.b;
    return rc;
}

zx_err_t
zx_values_get_str (const zx_values_t *self, size_t index, const char **out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TSTR, 0, &rc);
    if (item && out)
        *out = zx__item_text (self, item);
    return rc;
}

zx_err_t
zx_values_get_bytes (const zx_values_t *self, size_t index, const void **data, size_t *size)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TBYTES, 0, &rc);
    if (item && data)
        *data = s_bytes (self, item);
    if (item && size)
        *size = item->size;
    return rc;
}

zx_err_t
zx_values_get_list (const zx_values_t *self, size_t index, const zx_values_t **out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TLIST, 0, &rc);
    if (item && out)
        *out = item->as.child;
    return rc;
}

zx_err_t
zx_values_get_map (const zx_values_t *self, size_t index, const zx_values_t **out)
{
    zx_err_t rc;
    const zx__item_t *item = s_typed (self, index, ZX_TMAP, 0, &rc);
    if (item && out)
        *out = item->as.child;
    return rc;
}


/*  ---------------------------------------------------------------------
    Maps                                                                  */

zx_err_t
zx_values_key (const zx_values_t *self, size_t index, const char **key)
{
    assert (self);
    if (self->kind != ZX__MAP)
        return ZX_ETYPE;
    if (index >= self->count / 2)
        return ZX_EINVAL;
    if (key)
        *key = zx__item_text (self, &self->items [2 * index]);
    return ZX_OK;
}

zx_err_t
zx_values_entry (const zx_values_t *self, size_t index, zx_value_t *key, zx_value_t *value)
{
    assert (self);
    const zx__item_t *item = zx__values_item (self, index);
    if (!item)
        return ZX_EINVAL;
    if (key && self->kind == ZX__MAP)
        s_value (self, item - 1, key);
    else
    if (key)
        *key = (zx_value_t) { ZX_TNONE, 0, 0, { .i = 0 } };
    if (value)
        s_value (self, item, value);
    return ZX_OK;
}

//  Finds the last entry of map self whose key is the size bytes at key.
//  Returns true and sets *index when there is one.
static bool
s_find (const zx_values_t *self, const char *key, size_t size, size_t *index)
{
    for (size_t entry = self->count / 2; entry-- > 0; ) {
        const zx__item_t *item = &self->items [2 * entry];
        if (item->size == size && memcmp (zx__item_text (self, item), key, size) == 0) {
            *index = entry;
            return true;
        }
    }
    return false;
}

zx_err_t
zx_values_find (const zx_values_t *self, const char *key, size_t *index)
{
    assert (self);
    if (self->kind != ZX__MAP)
        return ZX_ETYPE;
    size_t found;
    if (!key || !s_find (self, key, strlen (key), &found))
        return ZX_EINVAL;
    if (index)
        *index = found;
    return ZX_OK;
}


/*  ---------------------------------------------------------------------
    Paths                                                                 */

//  Reads the step of a path at path: sets *end to the '.' or 0 after it
//  and copies it, unescaped, into step (room for size bytes), setting
//  *length (which may exceed size: the step is then longer than any key
//  could match, as the caller knows). Returns false when it is malformed.
static bool
s_step (const char *path, const char **end, char *step, size_t size, size_t *length)
{
    size_t count = 0;
    const char *p = path;
    for (; *p && *p != '.'; p++) {
        if (*p == '\\' && !*++p)
            return false;       //  A trailing '\'
        if (count < size)
            step [count] = *p;
        count++;
    }
    *end = p;
    *length = count;
    return p > path;            //  An empty step is malformed
}

//  Parses a list step: decimal digits, or '-' and digits counting from the
//  end of count values. Returns true and sets *index when it names one.
static bool
s_index (const char *step, const char *end, size_t count, size_t *index)
{
    bool from_end = *step == '-';
    const char *p = step + from_end;
    if (p == end)
        return false;
    size_t value = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || value > (SIZE_MAX - 9) / 10)
            return false;
        value = value * 10 + (size_t) (*p - '0');
    }
    if (from_end ? value == 0 || value > count : value >= count)
        return false;
    *index = from_end ? count - value : value;
    return true;
}

zx_err_t
zx_values_path (const zx_values_t *self, const char *path, zx_value_t *out)
{
    assert (self && out);
    if (!path)
        return ZX_EINVAL;
    zx_value_t value = { self->kind == ZX__MAP ? ZX_TMAP : ZX_TLIST, 0,
                         zx_values_count (self), { .values = self } };
    //  A step is compared with keys through a buffer; a longer one is
    //  unescaped into one of its length
    char small [256];
    const char *p = path;
    while (*p) {
        if (value.type != ZX_TLIST && value.type != ZX_TMAP)
            return ZX_ETYPE;
        const zx_values_t *list = value.as.values;
        const char *end;
        size_t length;
        if (!s_step (p, &end, small, sizeof (small), &length))
            return ZX_EINVAL;
        size_t index;
        bool found;
        if (list->kind == ZX__LIST)
            found = end - p == (ptrdiff_t) length && s_index (p, end, list->count, &index);
        else
        if (length <= sizeof (small))
            found = s_find (list, small, length, &index);
        else {
            char *step = (char *) malloc (length);
            if (!step)
                return ZX_ENOMEM;
            s_step (p, &end, step, length, &length);
            found = s_find (list, step, length, &index);
            free (step);
        }
        if (!found)
            return ZX_EINVAL;
        s_value (list, zx__values_item (list, index), &value);
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return ZX_EINVAL;   //  A trailing '.'
    }
    *out = value;
    return ZX_OK;
}


/*  ---------------------------------------------------------------------
    Equality                                                              */

bool
zx__values_equal (const zx_values_t *a, const zx_values_t *b)
{
    assert (a && b);
    if (a->kind != b->kind || a->count != b->count)
        return false;
    for (uint32_t i = 0; i < a->count; i++) {
        zx_value_t x, y;
        s_value (a, &a->items [i], &x);
        s_value (b, &b->items [i], &y);
        if (x.type != y.type || x.size != y.size)
            return false;
        bool same = true;
        switch (x.type) {
            case ZX_TBOOL:
                same = x.as.b == y.as.b;
                break;
            case ZX_TINT:
            case ZX_TUINT:
            case ZX_TDOUBLE:
                same = memcmp (&x.as.u, &y.as.u, sizeof (x.as.u)) == 0;
                break;
            case ZX_TSTR:
            case ZX_TBYTES:
                same = x.size == 0 || memcmp (x.as.bytes, y.as.bytes, x.size) == 0;
                break;
            case ZX_TLIST:
            case ZX_TMAP:
                same = zx__values_equal (x.as.values, y.as.values);
                break;
            default:
                break;
        }
        if (!same)
            return false;
    }
    return true;
}
