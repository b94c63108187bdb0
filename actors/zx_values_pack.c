/*  zx_values_pack.c - typed values: lists made from values, and copies.

    DESIGN: everything here builds on the adders of zx_values.c, one value
    at a time: zx_values_pack reads a format and varargs, zx_values_from
    an array of zx_value_t (which ZX_VALUES makes with _Generic, so each
    value's type is its C expression's), and a copy re-adds what it reads.
    Nested lists handed over (ZX_VALUE_TAKE, 'v') are taken on every path,
    failures too, so a caller never has to know how far a call got.      */
#include "zx_values_impl.h"
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>

/*  ---------------------------------------------------------------------
    Building from values, copying                                         */

//  Copies self into a new root list of its own. Returns NULL when out of
//  memory.
static zx_values_t *
s_copy (const zx_values_t *self)
{
    zx_values_t *copy = (self->kind == ZX__MAP ? zx_values_new_map () : zx_values_new ());
    zx_err_t rc = copy ? ZX_OK : ZX_ENOMEM;
    for (uint32_t i = 0; i < self->count && rc == ZX_OK; i++) {
        const zx__item_t *item = &self->items [i];
        if (self->kind == ZX__MAP && i % 2 == 0)    //  A key, whole
            rc = zx_values_add_strn (copy, zx__item_text (self, item), item->size);
        else {
            zx_value_t value;
            zx_values_get (self, self->kind == ZX__MAP ? i / 2 : i, &value);
            rc = zx_values_add_value (copy, &value);
        }
    }
    if (rc)
        zx_values_destroy (&copy);
    return copy;
}

zx_values_t *
zx_values_dup (const zx_values_t *self)
{
    assert (self);
    return s_copy (self);
}

zx_err_t
zx_values_add_value (zx_values_t *self, const zx_value_t *value)
{
    assert (self && value);
    switch (value->type) {
        case ZX_TNONE:
            return zx_values_add_none (self);
        case ZX_TBOOL:
            return zx_values_add_bool (self, value->as.b);
        case ZX_TINT:
            return zx_values_add_int (self, value->as.i);
        case ZX_TUINT:
            return zx_values_add_uint (self, value->as.u);
        case ZX_TDOUBLE:
            return zx_values_add_double (self, value->as.d);
        case ZX_TSTR:
            if (value->size == SIZE_MAX)
                return zx_values_add_str (self, value->as.str);
            return zx_values_add_strn (self, value->as.str, value->size);
        case ZX_TBYTES:
            return zx_values_add_bytes (self, value->as.bytes, value->size);
        case ZX_TLIST:
        case ZX_TMAP: {
            zx_values_t *child = (zx_values_t *) value->as.values;
            if (!(value->flags & ZX_VALUE_TAKE))
                child = child ? s_copy (child) : NULL;
            if (child && child->kind != (value->type == ZX_TMAP ? ZX__MAP : ZX__LIST)) {
                zx_values_destroy (&child);
                return ZX_EINVAL;
            }
            if (!child)
                return value->as.values ? ZX_ENOMEM : ZX_EINVAL;
            return zx_values_add_values (self, &child);
        }
    }
    return ZX_EINVAL;
}

//  Destroys the lists that values hands over, from index on.
static void
s_drop_taken (const zx_value_t *values, size_t index, size_t count)
{
    for (; index < count; index++)
        if ((values [index].type == ZX_TLIST || values [index].type == ZX_TMAP)
        &&  (values [index].flags & ZX_VALUE_TAKE) && values [index].as.values) {
            zx_values_t *taken = (zx_values_t *) values [index].as.values;
            zx_values_destroy (&taken);
        }
}

static zx_values_t *
s_from (uint8_t kind, const zx_value_t *values, size_t count)
{
    zx_values_t *self = kind == ZX__MAP ? zx_values_new_map () : zx_values_new ();
    for (size_t i = 0; i < count; i++) {
        if (self && zx_values_add_value (self, &values [i]) != ZX_OK) {
            zx_values_destroy (&self);
            s_drop_taken (values, i + 1, count);
            break;
        }
        if (!self) {
            s_drop_taken (values, i, count);
            break;
        }
    }
    if (self && kind == ZX__MAP && self->count % 2)
        zx_values_destroy (&self);      //  A key without its value
    return self;
}

zx_values_t *
zx_values_from (const zx_value_t *values, size_t count)
{
    return s_from (ZX__LIST, values, count);
}

zx_values_t *
zx_values_map_from (const zx_value_t *values, size_t count)
{
    return s_from (ZX__MAP, values, count);
}

zx_values_t *
zx_values_pack (const char *format, ...)
{
    zx_values_t *self = zx_values_new ();
    va_list args;
    va_start (args, format);
    zx_err_t rc = self ? ZX_OK : ZX_ENOMEM;
    //  After a failure the arguments are still read, to free the lists
    //  handed over with 'v'
    for (const char *f = format ? format : ""; *f; f++) {
        zx_err_t step = ZX_OK;
        switch (*f) {
            case 'i': {
                int64_t value = va_arg (args, int64_t);
                step = rc ? rc : zx_values_add_int (self, value);
                break;
            }
            case 'u': {
                uint64_t value = va_arg (args, uint64_t);
                step = rc ? rc : zx_values_add_uint (self, value);
                break;
            }
            case 'd': {
                double value = va_arg (args, double);
                step = rc ? rc : zx_values_add_double (self, value);
                break;
            }
            case '?': {
                int value = va_arg (args, int);
                step = rc ? rc : zx_values_add_bool (self, value != 0);
                break;
            }
            case 's': {
                const char *value = va_arg (args, const char *);
                step = rc ? rc : zx_values_add_str (self, value);
                break;
            }
            case 'b': {
                const void *data = va_arg (args, const void *);
                size_t size = va_arg (args, size_t);
                step = rc ? rc : zx_values_add_bytes (self, data, size);
                break;
            }
            case 'n':
                step = rc ? rc : zx_values_add_none (self);
                break;
            case 'v': {
                zx_values_t *value = va_arg (args, zx_values_t *);
                if (rc)
                    zx_values_destroy (&value);
                else
                    step = zx_values_add_values (self, &value);
                break;
            }
            default:
                //  Unknown: what the arguments after it are is unknown too
                rc = ZX_EINVAL;
                goto done;
        }
        if (rc == ZX_OK)
            rc = step;
    }
done:
    va_end (args);
    if (rc)
        zx_values_destroy (&self);
    return self;
}
