/*  zx_values.h - internal: the wire form of zx_values_t.

    Encoding (all integers little-endian), a plain concatenation of items:
        'i' int64 (8 bytes)
        'd' double (8 bytes, IEEE 754 bits as a uint64)
        's' uint32 length, length bytes, then a 0 byte (no 0 inside)
        'b' uint32 length, length bytes
        'n' nothing
    An empty buffer is the empty list.                                    */
#ifndef ZX_VALUES_H_INCLUDED
#define ZX_VALUES_H_INCLUDED
#include "zexec.h"

//  Returns the encoded bytes of the list (borrowed; valid until the list
//  changes or is destroyed) and sets *size.
const void *zx__values_data (const zx_values_t *self, size_t *size);

//  Decodes data (size bytes) into a new list. Returns ZX_OK and sets *out
//  (caller owns it); ZX_EPROTO on any malformed input (bad tag, truncated
//  item, string without its 0 byte or with a 0 inside, trailing garbage);
//  ZX_ENOMEM. Never reads outside data.
zx_err_t zx__values_decode (const void *data, size_t size, zx_values_t **out);

#endif
