/*  zx_context.h - internal: switching between stacks, the one
    machine-specific piece of the coroutines.

    On x86-64 a switch saves the callee-saved registers and the floating
    point control words on the current stack and loads the other stack's:
    a dozen instructions and no system call. Elsewhere it falls back to
    ucontext (which also saves the signal mask, with a system call).     */
#ifndef ZX_CONTEXT_H_INCLUDED
#define ZX_CONTEXT_H_INCLUDED
#include <stddef.h>

#if defined(__x86_64__) && !defined(ZX_CONTEXT_UCONTEXT)
typedef struct {
    void *sp;                   //  Saved stack pointer
} zx__context_t;
#else
#   include <ucontext.h>
typedef struct {
    ucontext_t uc;
} zx__context_t;
#endif

//  Prepares context to run entry (arg) on the stack [base, base + size)
//  when first switched to. entry must never return: it ends by switching
//  away for the last time.
void zx__context_make (zx__context_t *context, void *base, size_t size,
                       void (*entry) (void *arg), void *arg);

//  Saves the running context in from and continues in to.
void zx__context_switch (zx__context_t *from, zx__context_t *to);

#endif
