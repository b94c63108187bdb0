/*  fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share.

    A harness is one LLVMFuzzerTestOneInput over bytes as a hostile peer
    would send them. AddressSanitizer and UndefinedBehaviorSanitizer catch
    bad reads, leaks and undefined arithmetic; ZX_FUZZ_CHECK catches a
    broken contract (a record outside its batch, a request completed
    twice) and aborts, which libFuzzer reports as a crash with its input. */
#ifndef ZX_FUZZ_H_INCLUDED
#define ZX_FUZZ_H_INCLUDED
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ZX_FUZZ_CHECK(condition)                                            \
    do {                                                                    \
        if (!(condition)) {                                                 \
            fprintf (stderr, "%s:%d: check failed: %s\n",                   \
                     __FILE__, __LINE__, #condition);                       \
            abort ();                                                       \
        }                                                                   \
    } while (0)

//  Reads every byte of data (size bytes) and returns a checksum, so that
//  a pointer handed out by a decoder is proven readable over its whole
//  claimed length: ASan fails the run on the first byte that is not.
static inline uint32_t
zx_fuzz_touch (const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    uint32_t sum = 0;
    for (size_t i = 0; i < size; i++)
        sum = sum * 31 + bytes [i];
    return sum;
}

//  True when [inner, inner + size) lies inside [outer, outer_end).
static inline int
zx_fuzz_inside (const uint8_t *inner, size_t size,
                const uint8_t *outer, const uint8_t *outer_end)
{
    return inner >= outer && inner <= outer_end
        && size <= (size_t) (outer_end - inner);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#endif
