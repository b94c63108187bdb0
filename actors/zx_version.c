/*  zx_version.c - the library's version at run time.

    DESIGN: the numbers come from the header the library was built with, so
    a program can tell the libzexec.so it loaded from the zexec.h it was
    compiled against (ZEXEC_VERSION).                                    */
#include "zexec.h"

#define ZX_STR2(x) #x
#define ZX_STR(x) ZX_STR2 (x)

int
zx_version (int *major, int *minor, int *patch)
{
    if (major)
        *major = ZEXEC_VERSION_MAJOR;
    if (minor)
        *minor = ZEXEC_VERSION_MINOR;
    if (patch)
        *patch = ZEXEC_VERSION_PATCH;
    return ZEXEC_VERSION;
}

const char *
zx_version_string (void)
{
    return ZX_STR (ZEXEC_VERSION_MAJOR) "." ZX_STR (ZEXEC_VERSION_MINOR) "."
           ZX_STR (ZEXEC_VERSION_PATCH);
}
