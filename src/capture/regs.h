/*
 * Machine registers of a captured thread, in DWARF numbering, and everything else that depends
 * on the architecture.  The rest of capture/ only uses what this header defines, so porting
 * means adding one #if block here and one regs-<arch>.c file.
 *
 * gmr__regs_from_ucontext() runs in the capture signal handler: it is static inline, copies
 * plain words and calls nothing.
 */
#ifndef GMR_CAPTURE_REGS_H
#define GMR_CAPTURE_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#if defined(__x86_64__)

/* rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip: DWARF registers 0..16 (SysV psABI). */
#define GMR_REGS_N        17
#define GMR_REGS_SP_DWARF 7
#define GMR_REGS_PC_DWARF 16
#define GMR_REGS_FP_DWARF 6 /* rbp, when code keeps a frame pointer */
#define GMR_REGS_ELF_MACHINE 62 /* EM_X86_64 */
/* Callee-saved registers besides rbp, in the order of struct gmr_coro_regs: rbx, r12..r15. */
#define GMR_REGS_CALLEE_SAVED_DWARF {3, 12, 13, 14, 15}
/* The system call argument registers rdi, rsi, rdx, r10, r8, r9, in argument order. */
#define GMR_REGS_SYSCALL_ARGS_DWARF {5, 4, 1, 10, 8, 9}
/* Bytes of a ucontext_t gmr__regs_from_ucontext() reads: up to the end of the gregs. */
#define GMR_REGS_UCONTEXT_BYTES offsetof(ucontext_t, uc_mcontext.fpregs)

static inline void gmr__regs_from_ucontext(uint64_t *r, uint64_t *sp, uint64_t *pc,
                                           const ucontext_t *uc)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    r[0] = (uint64_t)g[REG_RAX];
    r[1] = (uint64_t)g[REG_RDX];
    r[2] = (uint64_t)g[REG_RCX];
    r[3] = (uint64_t)g[REG_RBX];
    r[4] = (uint64_t)g[REG_RSI];
    r[5] = (uint64_t)g[REG_RDI];
    r[6] = (uint64_t)g[REG_RBP];
    r[7] = (uint64_t)g[REG_RSP];
    r[8] = (uint64_t)g[REG_R8];
    r[9] = (uint64_t)g[REG_R9];
    r[10] = (uint64_t)g[REG_R10];
    r[11] = (uint64_t)g[REG_R11];
    r[12] = (uint64_t)g[REG_R12];
    r[13] = (uint64_t)g[REG_R13];
    r[14] = (uint64_t)g[REG_R14];
    r[15] = (uint64_t)g[REG_R15];
    r[16] = (uint64_t)g[REG_RIP];
    *sp = r[7];
    *pc = r[16];
}

#elif defined(__aarch64__)

/* x0..x30 and sp: DWARF registers 0..31 (AAPCS64); the pc is passed separately. */
#define GMR_REGS_N        32
#define GMR_REGS_SP_DWARF 31
#define GMR_REGS_PC_DWARF -1
#define GMR_REGS_FP_DWARF 29 /* x29 */
#define GMR_REGS_ELF_MACHINE 183 /* EM_AARCH64 */
/* Callee-saved registers besides x29, in the order of struct gmr_coro_regs: x19..x28. */
#define GMR_REGS_CALLEE_SAVED_DWARF {19, 20, 21, 22, 23, 24, 25, 26, 27, 28}
/* The system call argument registers x0..x5, in argument order. */
#define GMR_REGS_SYSCALL_ARGS_DWARF {0, 1, 2, 3, 4, 5}
/* Bytes of a ucontext_t gmr__regs_from_ucontext() reads: up to the end of sp and pc. */
#define GMR_REGS_UCONTEXT_BYTES offsetof(ucontext_t, uc_mcontext.pstate)

static inline void gmr__regs_from_ucontext(uint64_t *r, uint64_t *sp, uint64_t *pc,
                                           const ucontext_t *uc)
{
    for (int i = 0; i < 31; i++)
        r[i] = (uint64_t)uc->uc_mcontext.regs[i];
    r[31] = (uint64_t)uc->uc_mcontext.sp;
    *sp = r[31];
    *pc = (uint64_t)uc->uc_mcontext.pc;
}

#else
#error "libgmr: register capture is implemented for x86_64 and aarch64 only"
#endif

/*
 * A thread's registers at the point of capture.  The signal path knows them all; the quiet
 * path (/proc/self/task/TID/syscall) the stack pointer, the program counter and the system
 * call's six argument registers, which the file shows as they are while the call blocks.
 */
struct gmr__regs {
    uint64_t r[GMR_REGS_N]; /* DWARF numbering; valid when @full */
    uint64_t sp;            /* stack pointer */
    uint64_t pc;            /* program counter: the interrupted instruction */
    bool full;              /* false: only @sp and @pc (and @fp, @args when flagged) are known */
    uint64_t fp;            /* frame pointer candidate, when !@full and @have_fp */
    bool have_fp;
    uint64_t args[6];       /* GMR_REGS_SYSCALL_ARGS_DWARF's values, when !@full and @have_args */
    bool have_args;
};

/*
 * gmr__syscall_name() - name of system call @nr on this architecture, or NULL when not in the
 * short table of calls threads usually block in.  Context: any.
 */
const char *gmr__syscall_name(long nr);

/*
 * gmr__regs_follows_call() - whether @ret can be a return address: the instruction that ends
 * just before it is a call (x86_64: e8 rel32, or ff /2 in any of its ModRM forms; aarch64: BL,
 * BLR or their pointer-authenticating forms).  Reads the code with gmr__as_read_memory(), so
 * an unmapped @ret is simply not one.  Context: any but signal handlers.
 */
bool gmr__regs_follows_call(uint64_t ret);

/*
 * gmr__regs_call_before() - the same test over @n code bytes that end just before the return
 * address (@code[@n - 1] is the byte at ret - 1); for tests.  Context: any.
 */
bool gmr__regs_call_before(const unsigned char *code, size_t n);

#endif /* GMR_CAPTURE_REGS_H */
