/*
 * A hand-written x86_64 context switch for victim-coro.c, the kind coroutine libraries use
 * instead of swapcontext(): no signal mask, only the callee-saved registers.
 *
 *   void victim_switch(void **save_sp, void *load_sp);
 *     pushes rbp, rbx, r12..r15 on the current stack, stores the stack pointer in *save_sp,
 *     loads load_sp and pops the same registers from there, then returns into the other
 *     context.  A suspended context's stack therefore holds, from its saved stack pointer up:
 *     r15, r14, r13, r12, rbx, rbp, return address.
 *
 *   victim_coro_start
 *     where a new coroutine's first switch returns to: calls r12(r13).  Its CFI marks the
 *     return address undefined (as glibc's __start_context does), so unwinders stop here.
 */
#if defined(__x86_64__)
    .text

    .globl  victim_switch
    .type   victim_switch, @function
victim_switch:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    movq    %rsp, (%rdi)
    /* The other stack has the same layout, so the CFI above describes it too. */
    movq    %rsi, %rsp
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size   victim_switch, .-victim_switch

    .globl  victim_coro_start
    .type   victim_coro_start, @function
victim_coro_start:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r13, %rdi
    callq   *%r12
    ud2     /* entry functions never return */
    .cfi_endproc
    .size   victim_coro_start, .-victim_coro_start

    .section .note.GNU-stack, "", @progbits
#endif
