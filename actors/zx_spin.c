/*  zx_spin.c - how long a loop spins before it sleeps (see zx_spin.h).  */

#include "zx_spin.h"

#include <stdlib.h>
#include <string.h>

void
zx__spin_init (zx__spin_t *self)
{
    const char *setting = getenv ("ZEXEC_SPIN");
    self->off = setting && strcmp (setting, "off") == 0;
    self->budget_us = self->off ? 0 : ZX__SPIN_MAX_US / 2;
    self->sit_out = 0;
    self->misses = 0;
}

int64_t
zx__spin_budget (zx__spin_t *self)
{
    if (self->off)
        return 0;
    if (self->budget_us == 0 && --self->sit_out <= 0)
        self->budget_us = ZX__SPIN_MAX_US / 2;     //  Try again
    return self->budget_us;
}

void
zx__spin_hit (zx__spin_t *self, int64_t waited_us)
{
    //  A quarter of the way to twice this wait: one slow reply does not
    //  double the next spin, nor one quick reply halve it
    self->misses = 0;
    int64_t target = 2 * waited_us + ZX__SPIN_MIN_US;
    if (target > ZX__SPIN_MAX_US)
        target = ZX__SPIN_MAX_US;
    int64_t delta = target - self->budget_us;
    self->budget_us += delta / 4 + (delta % 4 > 0) - (delta % 4 < 0);
    if (self->budget_us < ZX__SPIN_MIN_US)
        self->budget_us = ZX__SPIN_MIN_US;
}

void
zx__spin_miss (zx__spin_t *self)
{
    if (++self->misses >= ZX__SPIN_MISSES) {
        self->misses = 0;
        self->budget_us = 0;
        self->sit_out = ZX__SPIN_SIT_OUT;
    }
}
