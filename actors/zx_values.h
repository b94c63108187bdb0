/*  zx_values.h - internal: the wire form of zx_values_t.

    A list is sent as one MessagePack array (docs/PROTOCOL.md, section 7):
    task arguments are one array, a task's result is one array, and a
    zero-length field is read as the empty array.                        */
#ifndef ZX_VALUES_H_INCLUDED
#define ZX_VALUES_H_INCLUDED
#include "zexec.h"

//  Returns the encoded bytes of the list (borrowed; valid until the list
//  changes or is destroyed) and sets *size; never NULL. This is a borrow
//  of the list's buffer, not an encoding pass: the first call on a list
//  holding bytes handed over with zx_values_add_bytes_owned copies them in
//  (room for them was reserved when they were added), so the list's
//  owner calls it, not a concurrent reader. A map encodes as a map,
//  which the decoder refuses: arguments and results are lists.
const void *zx__values_data (const zx_values_t *self, size_t *size);

//  Decodes data (size bytes) into a new list. Returns ZX_OK and sets *out
//  (caller owns it; it does not refer to data); ZX_EPROTO on any input
//  that is not one MessagePack array within the limits of values.h (a
//  type zexec has no value for, a map key that is not a string, a string
//  that is not UTF-8, a count or length running past the end, trailing
//  bytes, too deep or too many values); ZX_ENOMEM. Never reads outside
//  data, and allocates no more than the limits allow, whatever a header
//  claims.
zx_err_t zx__values_decode (const void *data, size_t size, zx_values_t **out);

//  The same, reading data in place: on success the list refers to data,
//  and bytes values point into it. free_fn (data, hint) is called when
//  the list is destroyed; with free_fn NULL the caller keeps data valid
//  and unchanged until then. On failure data stays the caller's.
zx_err_t zx__values_decode_owned (const void *data, size_t size,
                                  void (*free_fn) (void *data, void *hint), void *hint,
                                  zx_values_t **out);

//  Hands self's encoding over, without copying it, when self's buffer is
//  its own on the heap: returns that buffer (the caller frees it with
//  free) and sets *data and *size to the encoding inside it, as
//  zx__values_data would. After that self may only be destroyed; its
//  buffer is no longer its own. Returns NULL, and changes nothing, when
//  the buffer is inline, borrowed or decoded in place: the caller copies
//  zx__values_data then.
void *zx__values_release (zx_values_t *self, const void **data, size_t *size);

//  Frees hint, a buffer zx__values_release returned; data is ignored. A
//  zmq_free_fn, for a zmq_msg_init_data over the encoding inside it.
void zx__values_free_released (void *data, void *hint);

//  Returns true when a and b hold the same values, nested ones too
//  (doubles compared bit for bit, so NaN equals the same NaN).
bool zx__values_equal (const zx_values_t *a, const zx_values_t *b);

#endif
