/*  zx_context.c - stack switching for coroutines.

    DESIGN: on x86-64 (System V) a context is just a saved stack pointer.
    zx__context_switch pushes the callee-saved registers (rbp, rbx,
    r12-r15) and MXCSR and the x87 control word, stores rsp, loads the
    other rsp and pops the same. A new context's stack is laid out as if it
    had been switched away from inside zx__context_start, with entry in r13
    and arg in r12, so the first switch "returns" into zx__context_start,
    which calls entry (arg) on a 16-byte aligned stack.                    */

#include "zx_context.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && !defined(ZX_CONTEXT_UCONTEXT)

__asm__ (
    ".text\n"
    ".globl zx__context_switch\n"
    ".hidden zx__context_switch\n"
    ".type zx__context_switch, @function\n"
    "zx__context_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq (%rsi), %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size zx__context_switch, .-zx__context_switch\n"
    "\n"
    ".globl zx__context_start\n"
    ".hidden zx__context_start\n"
    ".type zx__context_start, @function\n"
    "zx__context_start:\n"
    "    movq %r12, %rdi\n"
    "    callq *%r13\n"
    "    ud2\n"
    ".size zx__context_start, .-zx__context_start\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n"
);

void zx__context_start (void);

void
zx__context_make (zx__context_t *context, void *base, size_t size,
                  void (*entry) (void *arg), void *arg)
{
    uintptr_t top = ((uintptr_t) base + size) & ~(uintptr_t) 15;
    uint64_t *slot = (uint64_t *) top;
    *--slot = (uint64_t) (uintptr_t) zx__context_start;    //  Return address
    *--slot = 0;                                            //  rbp
    *--slot = 0;                                            //  rbx
    *--slot = (uint64_t) (uintptr_t) arg;                   //  r12
    *--slot = (uint64_t) (uintptr_t) entry;                 //  r13
    *--slot = 0;                                            //  r14
    *--slot = 0;                                            //  r15
    //  MXCSR (all exceptions masked, round to nearest) and x87 control
    //  word (extended precision, all exceptions masked): the defaults
    *--slot = (uint64_t) 0x1F80 | ((uint64_t) 0x037F << 32);
    context->sp = slot;
}

#else

#include <stdlib.h>

typedef void (s_entry_fn) (void *);

static __thread s_entry_fn *s_entry;
static __thread void *s_arg;

static void
s_start (void)
{
    s_entry (s_arg);
    abort ();                   //  entry never returns
}

void
zx__context_make (zx__context_t *context, void *base, size_t size,
                  void (*entry) (void *arg), void *arg)
{
    memset (context, 0, sizeof *context);
    getcontext (&context->uc);
    context->uc.uc_stack.ss_sp = base;
    context->uc.uc_stack.ss_size = size;
    context->uc.uc_link = NULL;
    makecontext (&context->uc, s_start, 0);
    //  Only one context starts at a time on a thread
    s_entry = entry;
    s_arg = arg;
}

void
zx__context_switch (zx__context_t *from, zx__context_t *to)
{
    swapcontext (&from->uc, &to->uc);
}

#endif
