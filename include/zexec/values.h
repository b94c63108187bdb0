/*  zexec/values.h - typed argument and result lists.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_VALUES_H_INCLUDED
#define ZEXEC_VALUES_H_INCLUDED

#include "zexec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Values: typed argument and result lists

    A zx_values_t is an ordered list of typed values (int64, double, string,
    bytes, none). It is what tasks take as arguments and return as results,
    and it is encoded as-is on the wire, so it crosses threads, processes and
    machines unchanged.                                                    */

typedef struct zx_values zx_values_t;

typedef enum {
    ZX_TNONE   = 'n',
    ZX_TINT    = 'i',
    ZX_TDOUBLE = 'd',
    ZX_TSTR    = 's',
    ZX_TBYTES  = 'b'
} zx_type_t;

//  Creates an empty list. Caller owns the result; NULL only when out of
//  memory.
ZX_EXPORT zx_values_t *zx_values_new (void);

//  Creates a list from a format string: 'i' takes an int64_t (pass
//  integers through (int64_t) when they are not already 64-bit), 'd' a
//  double, 's' a NUL-terminated string (copied), 'b' a pointer and a
//  size_t length (copied), 'n' nothing (a none value). Returns NULL on an
//  unknown format character or when out of memory. Caller owns the result.
ZX_EXPORT zx_values_t *zx_values_pack (const char *format, ...);

//  Destroys a list; accepts NULL and nulls the caller's pointer.
ZX_EXPORT void zx_values_destroy (zx_values_t **self_p);

//  Returns a deep copy, or NULL when out of memory. Caller owns the copy.
ZX_EXPORT zx_values_t *zx_values_dup (const zx_values_t *self);

//  Append one value each. The string and bytes variants copy their input.
//  Return ZX_OK, ZX_EINVAL (NULL string) or ZX_ENOMEM.
ZX_EXPORT zx_err_t zx_values_add_int (zx_values_t *self, int64_t value);
ZX_EXPORT zx_err_t zx_values_add_double (zx_values_t *self, double value);
ZX_EXPORT zx_err_t zx_values_add_str (zx_values_t *self, const char *value);
ZX_EXPORT zx_err_t zx_values_add_bytes (zx_values_t *self, const void *data, size_t size);
ZX_EXPORT zx_err_t zx_values_add_none (zx_values_t *self);

//  Returns how many values the list holds.
ZX_EXPORT size_t zx_values_count (const zx_values_t *self);

//  Returns the type of the value at index, or 0 when index is out of range.
ZX_EXPORT zx_type_t zx_values_type (const zx_values_t *self, size_t index);

//  Read one value. Return ZX_OK and set *out; ZX_EINVAL when index is out
//  of range; ZX_ETYPE when the value has another type (out is untouched).
//  zx_values_get_double also accepts an int value and converts it. String
//  and bytes pointers are borrowed: valid while the list lives unchanged.
ZX_EXPORT zx_err_t zx_values_get_int (const zx_values_t *self, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_values_get_double (const zx_values_t *self, size_t index, double *out);
ZX_EXPORT zx_err_t zx_values_get_str (const zx_values_t *self, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_values_get_bytes (const zx_values_t *self, size_t index,
                                        const void **data, size_t *size);

//  Writes a Python-like rendering, such as "[1, 2.5, 'x', b'...', None]",
//  into buf (always NUL-terminated when size > 0). Returns the length the
//  full rendering needs, like snprintf.
ZX_EXPORT size_t zx_values_repr (const zx_values_t *self, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
