/*  zexec/values.h - typed values: what tasks take and return.

    Part of the public API: include <zexec.h>, which includes every part. */
#ifndef ZEXEC_VALUES_H_INCLUDED
#define ZEXEC_VALUES_H_INCLUDED

#include "zexec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  ---------------------------------------------------------------------
    Values: typed argument and result lists

    A zx_values_t is a list (or a map) of typed values: none, bool, int64,
    uint64, double, string, bytes, and lists and maps nested in it. Task
    arguments and results are lists. A list is kept in its wire form,
    MessagePack (docs/PROTOCOL.md, section 7), so it crosses threads,
    processes, machines and languages unchanged: what a Python peer packs
    with msgpack.packb ([1, "x", {"k": [2.5, None]}]) is what a C task
    reads here, and the other way round.

    Building:

        zx_values_t *histogram = zx_values_new ();
        for (int i = 0; i < 3; i++)
            zx_values_add_int (histogram, counts [i]);
        zx_values_t *record = zx_values_new_map ();
        zx_values_add_key (record, "name");
        zx_values_add_str (record, "alice");
        zx_values_add_key (record, "histogram");
        zx_values_add_values (record, &histogram);      //  taken

        zx_values_t *args = ZX_VALUES ("blocks", 7, 2.5);
        zx_values_add_values (args, &record);           //  taken

    or, in one expression (C11):

        zx_values_t *args = ZX_VALUES ("blocks", 7, 2.5,
            ZX_MAP ("name", "alice", "histogram", ZX_LIST (3, 0, 12)));

    Reading, by index, by key or by path:

        int64_t n;
        zx_values_get_int (args, 1, &n);            //  7, or ZX_ETYPE
        zx_value_t value;
        zx_values_path (args, "3.histogram.2", &value);
        //  value.type == ZX_TINT, value.as.i == 12

    Integers: MessagePack has one integer type. A value that fits in an
    int64 is ZX_TINT whichever adder made it (zx_values_add_uint (list, 5)
    reads back as ZX_TINT 5); only integers above INT64_MAX are ZX_TUINT.
    zx_values_get_uint reads any integer that is not negative.

    Strings are UTF-8 (the adders and the decoder refuse anything else)
    and may hold 0 bytes: zx_values_get_str gives them 0-terminated, and
    zx_values_get with its size gives the whole of one with a 0 inside.

    Limits, the same for lists built here and lists decoded from a peer
    (docs/PROTOCOL.md, section 7.3): ZX_VALUES_MAX_DEPTH levels of lists
    and maps, the outermost list counting as one; ZX_VALUES_MAX_COUNT
    values in all, of which at most ZX_VALUES_MAX_CONTAINERS nested lists
    and maps; strings, bytes and the whole encoding under 4 GiB.

    Threads: a list may be read from several threads at once; one that is
    being changed must not be touched by any other thread.              */

#define ZX_VALUES_MAX_DEPTH         32
#define ZX_VALUES_MAX_COUNT         4194304
#define ZX_VALUES_MAX_CONTAINERS    262144

typedef struct zx_values zx_values_t;

//  The types. The letters are fixed (new types take new letters).
typedef enum {
    ZX_TNONE   = 'n',       //  None (MessagePack nil)
    ZX_TINT    = 'i',       //  int64
    ZX_TDOUBLE = 'd',       //  double (MessagePack float 64; float 32 is read too)
    ZX_TSTR    = 's',       //  UTF-8 string
    ZX_TBYTES  = 'b',       //  bytes (MessagePack bin)
    ZX_TBOOL   = '?',       //  bool
    ZX_TUINT   = 'u',       //  uint64 above INT64_MAX (see "Integers" above)
    ZX_TLIST   = 'l',       //  a nested list
    ZX_TMAP    = 'm'        //  a nested map with string keys
} zx_type_t;

//  One value, as zx_values_get and zx_values_path read it (everything in
//  it borrowed from the list, valid while the list lives unchanged), or as
//  ZX_VALUES and zx_values_add_value take it.
typedef struct {
    zx_type_t type;
    unsigned flags;             //  0, or ZX_VALUE_TAKE (see ZX_LIST)
    size_t size;                //  str, bytes: length in bytes; list, map: count
    union {
        bool b;                 //  ZX_TBOOL
        int64_t i;              //  ZX_TINT
        uint64_t u;             //  ZX_TUINT
        double d;               //  ZX_TDOUBLE
        const char *str;        //  ZX_TSTR: size bytes, then a 0
        const void *bytes;      //  ZX_TBYTES: size bytes
        const zx_values_t *values;  //  ZX_TLIST, ZX_TMAP
    } as;
} zx_value_t;

//  zx_value_t.flags: the nested list or map in as.values is handed over
//  to the function that takes the value (ZX_LIST and ZX_MAP set it).
#define ZX_VALUE_TAKE 1u


/*  ---------------------------------------------------------------------
    Building                                                              */

//  Creates an empty list. Caller owns the result; NULL only when out of
//  memory.
ZX_EXPORT zx_values_t *zx_values_new (void);

//  Creates an empty map: built as alternating keys (strings) and values,
//  read by index, by key or by path. Caller owns it; NULL when out of
//  memory. A map is nested in a list to be sent: arguments and results
//  are lists.
ZX_EXPORT zx_values_t *zx_values_new_map (void);

//  Creates a list from a format string, one character per value:
//    'i' an int64_t: pass integers through (int64_t) when they are not
//        already 64-bit, or use ZX_VALUES, which cannot get this wrong
//    'u' a uint64_t     'd' a double      '?' a bool (passed as an int)
//    's' a 0-terminated UTF-8 string (copied)
//    'b' a pointer and a size_t length (copied)
//    'n' nothing (a none value)
//    'v' a zx_values_t * (a list or map, nested and taken, even on failure)
//  Returns NULL on an unknown character, a refused value (as the adders
//  refuse) or when out of memory. Caller owns the result.
ZX_EXPORT zx_values_t *zx_values_pack (const char *format, ...);

//  Creates a list from count values (see zx_value_t): scalars, strings and
//  bytes are copied, nested lists and maps are copied or, with
//  ZX_VALUE_TAKE, taken (even on failure). ZX_VALUES is the way to call
//  it. Returns NULL when a value is refused or out of memory. Caller owns
//  the result.
ZX_EXPORT zx_values_t *zx_values_from (const zx_value_t *values, size_t count);

//  The same, making a map from alternating keys (ZX_TSTR) and values.
ZX_EXPORT zx_values_t *zx_values_map_from (const zx_value_t *values, size_t count);

//  Destroys a list or map and everything nested in it, and releases the
//  buffers handed over to it; accepts NULL and nulls the caller's
//  pointer. A list nested in another one is destroyed with it, never on
//  its own.
ZX_EXPORT void zx_values_destroy (zx_values_t **self_p);

//  Returns a deep copy (a nested list copies into a list of its own), or
//  NULL when out of memory. Caller owns the copy.
ZX_EXPORT zx_values_t *zx_values_dup (const zx_values_t *self);

//  Append one value each. In a map, keys and values alternate: a key is
//  added with zx_values_add_key (or zx_values_add_str), then its value
//  with any adder. Strings and bytes are copied. All return ZX_OK;
//  ZX_EINVAL for a NULL string, a string that is not UTF-8, a value where
//  a map expects a key, a list nested elsewhere (read-only), or a limit
//  passed; ZX_ENOMEM. On an error the list is unchanged.
ZX_EXPORT zx_err_t zx_values_add_int (zx_values_t *self, int64_t value);
ZX_EXPORT zx_err_t zx_values_add_uint (zx_values_t *self, uint64_t value);
ZX_EXPORT zx_err_t zx_values_add_double (zx_values_t *self, double value);
ZX_EXPORT zx_err_t zx_values_add_bool (zx_values_t *self, bool value);
ZX_EXPORT zx_err_t zx_values_add_str (zx_values_t *self, const char *value);
ZX_EXPORT zx_err_t zx_values_add_strn (zx_values_t *self, const char *value, size_t size);
ZX_EXPORT zx_err_t zx_values_add_bytes (zx_values_t *self, const void *data, size_t size);
ZX_EXPORT zx_err_t zx_values_add_none (zx_values_t *self);

//  Adds a map key (a UTF-8 string, copied). ZX_EINVAL when self is a list
//  or a key was just added; otherwise as the adders above.
ZX_EXPORT zx_err_t zx_values_add_key (zx_values_t *self, const char *key);

//  Hands size bytes at data over to the list without copying them: they
//  are copied once, straight into the wire form, when the list is sent
//  (or nested in another list), and then free_fn (data, hint) is called;
//  also when the list is destroyed first, or when this call fails. Until
//  then data must stay valid and unchanged. free_fn may be NULL when the
//  caller frees data itself after the list is destroyed. Errors as
//  zx_values_add_bytes; ZX_EINVAL also when data is NULL and size is not 0.
ZX_EXPORT zx_err_t zx_values_add_bytes_owned (zx_values_t *self, void *data, size_t size,
                                              void (*free_fn) (void *data, void *hint),
                                              void *hint);

//  Nests a list or map in self, taking it: *values_p is set to NULL, on
//  failure too (it is then destroyed, unless it is self or a list nested
//  in another one, which stay as they were). Its values are copied into
//  self's wire form once; it stays readable through self
//  (zx_values_get_list). Errors as the adders; ZX_EINVAL also when it is
//  self, is nested already, is a map waiting for a value, or would make
//  self deeper than ZX_VALUES_MAX_DEPTH.
ZX_EXPORT zx_err_t zx_values_add_values (zx_values_t *self, zx_values_t **values_p);

//  Appends a copy of value (as zx_values_get gives it); a nested list or
//  map is copied, or taken when value->flags has ZX_VALUE_TAKE (then even
//  on failure). Errors as the adders.
ZX_EXPORT zx_err_t zx_values_add_value (zx_values_t *self, const zx_value_t *value);


/*  ---------------------------------------------------------------------
    Typed building with C11 _Generic: ZX_VALUES (...)

    ZX_VALUES (1, -2, 2.5, "text", x) makes a list whose every value has
    the type its C expression has: signed integers of any width become
    int64 (so (int) -1 is -1, never 4294967295), unsigned ones uint64,
    float and double double, bool bool, char * strings. Anything else,
    such as a pointer, a struct or a NULL literal, does not compile. The
    markers give the rest:
        ZX_BYTES (ptr, len)     bytes (copied)
        ZX_NONE                 None
        ZX_BOOL (x)             bool (C11's `true` is the int 1)
        ZX_LIST (...)           a nested list of the arguments
        ZX_MAP (k, v, ...)      a nested map of alternating keys and values
    ZX_VALUES_MAP (k, v, ...) makes a map. They take 1 to 32 arguments
    (zx_values_new () makes an empty list) and return what zx_values_from
    returns: NULL when a value is refused or out of memory.              */

#if !defined (__cplusplus) && defined (__STDC_VERSION__) && __STDC_VERSION__ >= 201112L

static inline zx_value_t
zx__value_int (long long value)
{
    zx_value_t v = { ZX_TINT, 0, 0, { .i = (int64_t) value } };
    return v;
}

static inline zx_value_t
zx__value_uint (unsigned long long value)
{
    zx_value_t v = { ZX_TUINT, 0, 0, { .u = (uint64_t) value } };
    return v;
}

static inline zx_value_t
zx__value_double (double value)
{
    zx_value_t v = { ZX_TDOUBLE, 0, 0, { .d = value } };
    return v;
}

static inline zx_value_t
zx__value_bool (bool value)
{
    zx_value_t v = { ZX_TBOOL, 0, 0, { .b = value } };
    return v;
}

//  A string's size is measured by zx_values_from (SIZE_MAX: "until its 0")
static inline zx_value_t
zx__value_str (const char *value)
{
    zx_value_t v = { ZX_TSTR, 0, SIZE_MAX, { .str = value } };
    return v;
}

static inline zx_value_t
zx__value_self (zx_value_t value)
{
    return value;
}

static inline zx_value_t
zx__value_taken (zx_type_t type, zx_values_t *values)
{
    zx_value_t v = { type, ZX_VALUE_TAKE, 0, { .values = values } };
    return v;
}

#define ZX__VALUE(x) _Generic ((x),                                         \
    char: zx__value_int, signed char: zx__value_int, short: zx__value_int,  \
    int: zx__value_int, long: zx__value_int, long long: zx__value_int,      \
    unsigned char: zx__value_uint, unsigned short: zx__value_uint,          \
    unsigned int: zx__value_uint, unsigned long: zx__value_uint,            \
    unsigned long long: zx__value_uint,                                     \
    float: zx__value_double, double: zx__value_double,                      \
    long double: zx__value_double, bool: zx__value_bool,                    \
    char *: zx__value_str, const char *: zx__value_str,                     \
    zx_value_t: zx__value_self) (x)

#define ZX_BYTES(data, size) \
    ((zx_value_t) { ZX_TBYTES, 0, (size_t) (size), { .bytes = (data) } })
#define ZX_NONE     ((zx_value_t) { ZX_TNONE, 0, 0, { .i = 0 } })
#define ZX_BOOL(x)  zx__value_bool ((x) ? true : false)
#define ZX_LIST(...)    zx__value_taken (ZX_TLIST, ZX_VALUES (__VA_ARGS__))
#define ZX_MAP(...)     zx__value_taken (ZX_TMAP, ZX_VALUES_MAP (__VA_ARGS__))

#define ZX_VALUES(...)      ZX__VALUES_CALL (zx_values_from, __VA_ARGS__)
#define ZX_VALUES_MAP(...)  ZX__VALUES_CALL (zx_values_map_from, __VA_ARGS__)

//  The machinery: apply ZX__VALUE to each argument, count them
#define ZX__VALUES_CALL(fn, ...)                                            \
    fn ((const zx_value_t []) { ZX__EACH (__VA_ARGS__) },                   \
        ZX__COUNT (__VA_ARGS__))
#define ZX__CAT(a, b)   ZX__CAT_ (a, b)
#define ZX__CAT_(a, b)  a##b
#define ZX__COUNT(...)  ZX__COUNT_ (__VA_ARGS__, 32, 31, 30, 29, 28, 27, 26, \
    25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,   \
    7, 6, 5, 4, 3, 2, 1, 0)
#define ZX__COUNT_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,  \
    a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27,   \
    a28, a29, a30, a31, a32, n, ...) n
#define ZX__EACH(...)   ZX__CAT (ZX__EACH_, ZX__COUNT (__VA_ARGS__)) (__VA_ARGS__)
#define ZX__EACH_1(x)       ZX__VALUE (x)
#define ZX__EACH_2(x, ...)  ZX__VALUE (x), ZX__EACH_1 (__VA_ARGS__)
#define ZX__EACH_3(x, ...)  ZX__VALUE (x), ZX__EACH_2 (__VA_ARGS__)
#define ZX__EACH_4(x, ...)  ZX__VALUE (x), ZX__EACH_3 (__VA_ARGS__)
#define ZX__EACH_5(x, ...)  ZX__VALUE (x), ZX__EACH_4 (__VA_ARGS__)
#define ZX__EACH_6(x, ...)  ZX__VALUE (x), ZX__EACH_5 (__VA_ARGS__)
#define ZX__EACH_7(x, ...)  ZX__VALUE (x), ZX__EACH_6 (__VA_ARGS__)
#define ZX__EACH_8(x, ...)  ZX__VALUE (x), ZX__EACH_7 (__VA_ARGS__)
#define ZX__EACH_9(x, ...)  ZX__VALUE (x), ZX__EACH_8 (__VA_ARGS__)
#define ZX__EACH_10(x, ...) ZX__VALUE (x), ZX__EACH_9 (__VA_ARGS__)
#define ZX__EACH_11(x, ...) ZX__VALUE (x), ZX__EACH_10 (__VA_ARGS__)
#define ZX__EACH_12(x, ...) ZX__VALUE (x), ZX__EACH_11 (__VA_ARGS__)
#define ZX__EACH_13(x, ...) ZX__VALUE (x), ZX__EACH_12 (__VA_ARGS__)
#define ZX__EACH_14(x, ...) ZX__VALUE (x), ZX__EACH_13 (__VA_ARGS__)
#define ZX__EACH_15(x, ...) ZX__VALUE (x), ZX__EACH_14 (__VA_ARGS__)
#define ZX__EACH_16(x, ...) ZX__VALUE (x), ZX__EACH_15 (__VA_ARGS__)
#define ZX__EACH_17(x, ...) ZX__VALUE (x), ZX__EACH_16 (__VA_ARGS__)
#define ZX__EACH_18(x, ...) ZX__VALUE (x), ZX__EACH_17 (__VA_ARGS__)
#define ZX__EACH_19(x, ...) ZX__VALUE (x), ZX__EACH_18 (__VA_ARGS__)
#define ZX__EACH_20(x, ...) ZX__VALUE (x), ZX__EACH_19 (__VA_ARGS__)
#define ZX__EACH_21(x, ...) ZX__VALUE (x), ZX__EACH_20 (__VA_ARGS__)
#define ZX__EACH_22(x, ...) ZX__VALUE (x), ZX__EACH_21 (__VA_ARGS__)
#define ZX__EACH_23(x, ...) ZX__VALUE (x), ZX__EACH_22 (__VA_ARGS__)
#define ZX__EACH_24(x, ...) ZX__VALUE (x), ZX__EACH_23 (__VA_ARGS__)
#define ZX__EACH_25(x, ...) ZX__VALUE (x), ZX__EACH_24 (__VA_ARGS__)
#define ZX__EACH_26(x, ...) ZX__VALUE (x), ZX__EACH_25 (__VA_ARGS__)
#define ZX__EACH_27(x, ...) ZX__VALUE (x), ZX__EACH_26 (__VA_ARGS__)
#define ZX__EACH_28(x, ...) ZX__VALUE (x), ZX__EACH_27 (__VA_ARGS__)
#define ZX__EACH_29(x, ...) ZX__VALUE (x), ZX__EACH_28 (__VA_ARGS__)
#define ZX__EACH_30(x, ...) ZX__VALUE (x), ZX__EACH_29 (__VA_ARGS__)
#define ZX__EACH_31(x, ...) ZX__VALUE (x), ZX__EACH_30 (__VA_ARGS__)
#define ZX__EACH_32(x, ...) ZX__VALUE (x), ZX__EACH_31 (__VA_ARGS__)

#endif


/*  ---------------------------------------------------------------------
    Reading                                                               */

//  Returns how many values a list holds, or how many entries (key and
//  value pairs) a map holds.
ZX_EXPORT size_t zx_values_count (const zx_values_t *self);

//  Returns true when self is a map, false when it is a list.
ZX_EXPORT bool zx_values_is_map (const zx_values_t *self);

//  Returns the type of the value at index (in a map: of entry index's
//  value), or 0 when index is out of range.
ZX_EXPORT zx_type_t zx_values_type (const zx_values_t *self, size_t index);

//  Reads the value at index (in a map: entry index's value) whatever its
//  type. Returns ZX_OK and sets *out; ZX_EINVAL when index is out of
//  range (out is untouched).
ZX_EXPORT zx_err_t zx_values_get (const zx_values_t *self, size_t index, zx_value_t *out);

//  Typed reads of the value at index (in a map: entry index's value).
//  Return ZX_OK and set *out (when out is not NULL); ZX_EINVAL when index
//  is out of range; ZX_ETYPE when the value has another type (out is then
//  untouched). zx_values_get_double also reads integers and converts them;
//  zx_values_get_uint reads any integer that is not negative. What they
//  hand out is borrowed: valid while the list lives unchanged. Bytes of a
//  list that came from a peer are read in place, from the message that
//  brought them.
ZX_EXPORT zx_err_t zx_values_get_int (const zx_values_t *self, size_t index, int64_t *out);
ZX_EXPORT zx_err_t zx_values_get_uint (const zx_values_t *self, size_t index, uint64_t *out);
ZX_EXPORT zx_err_t zx_values_get_double (const zx_values_t *self, size_t index, double *out);
ZX_EXPORT zx_err_t zx_values_get_bool (const zx_values_t *self, size_t index, bool *out);
ZX_EXPORT zx_err_t zx_values_get_str (const zx_values_t *self, size_t index, const char **out);
ZX_EXPORT zx_err_t zx_values_get_bytes (const zx_values_t *self, size_t index,
                                        const void **data, size_t *size);
ZX_EXPORT zx_err_t zx_values_get_list (const zx_values_t *self, size_t index,
                                       const zx_values_t **out);
ZX_EXPORT zx_err_t zx_values_get_map (const zx_values_t *self, size_t index,
                                      const zx_values_t **out);

//  Reads the key of a map's entry index (0-terminated, borrowed). Returns
//  ZX_OK; ZX_EINVAL when index is out of range; ZX_ETYPE when self is a
//  list.
ZX_EXPORT zx_err_t zx_values_key (const zx_values_t *self, size_t index, const char **key);

//  Reads entry index of a map: its key (a ZX_TSTR value, with its size,
//  which counts a 0 inside) and its value; either may be NULL. On a list,
//  key is a ZX_TNONE value. Returns ZX_OK, or ZX_EINVAL when index is out
//  of range (nothing is set). Iterating over any list or map:
//      zx_value_t key, value;
//      for (size_t i = 0; zx_values_entry (values, i, &key, &value) == ZX_OK; i++)
//          ...
ZX_EXPORT zx_err_t zx_values_entry (const zx_values_t *self, size_t index, zx_value_t *key,
                                    zx_value_t *value);

//  Finds key in a map (the last entry with it, as a Python dict built from
//  the same MessagePack keeps the last). Returns ZX_OK and sets *index
//  (when index is not NULL); ZX_EINVAL when the map has no such key;
//  ZX_ETYPE when self is a list.
ZX_EXPORT zx_err_t zx_values_find (const zx_values_t *self, const char *key, size_t *index);

//  Reads a value nested anywhere in self by its path: steps separated by
//  '.', each an index into a list (decimal; -1 is the last value, -2 the
//  one before it) or a key of a map (taken as text even when it is all
//  digits; '\' makes the next character part of the key, so "a\.b" is
//  the key "a.b"). "0.histogram.3" is value 3 of the list under key
//  "histogram" of the map that is value 0 of self. The empty path is self
//  itself. Returns ZX_OK and sets *out; ZX_EINVAL when the path is
//  malformed (an empty step, a list step that is not a number, a trailing
//  '\'), an index is out of range or a key is missing; ZX_ETYPE when a
//  step would go into a value that is neither a list nor a map.
ZX_EXPORT zx_err_t zx_values_path (const zx_values_t *self, const char *path, zx_value_t *out);

//  Writes a Python-like rendering, such as
//  "[1, 2.5, 'x', b'\x00', None, True, [2], {'k': 'v'}]",
//  into buf (always 0-terminated when size > 0). Returns the length the
//  full rendering needs, like snprintf.
ZX_EXPORT size_t zx_values_repr (const zx_values_t *self, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
