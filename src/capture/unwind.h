/*
 * Unwinding one thread of this process with libdw's CFI unwinder, from captured registers and
 * stack bytes, without ptrace: our own Dwfl_Thread_Callbacks serve the registers and memory.
 * Context: reporter thread or caller context, under gmr__sym_lock().
 */
#ifndef GMR_CAPTURE_UNWIND_H
#define GMR_CAPTURE_UNWIND_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

/*
 * Stack bytes known for the thread: [addr, addr + len).  Other addresses are read live, unless
 * @no_live: then a read outside the bytes fails and ends the walk (a suspended coroutine's
 * stack is only trusted as it was copied).
 */
struct gmr__unwind_mem {
    uint64_t addr;
    const unsigned char *data; /* borrowed */
    size_t len;
    bool no_live;
};

struct gmr__unwind_frame {
    uint64_t pc;
    bool activation; /* false: a return address (symbolize at pc - 1) */
};

struct gmr__unwind_result {
    struct gmr__unwind_frame frames[GMR_MAX_FRAMES];
    int n;              /* frames stored */
    long more;          /* frames beyond @n (counted) */
    bool more_at_least; /* counting stopped at GMR_MAX_COUNTED_FRAMES: @more is a minimum */
    bool complete;      /* the walk reached the outermost frame */
    uint64_t stop_sp;   /* stack pointer of the last frame walked (0: unknown) */
    char error[128];    /* why the walk stopped early (when !complete and not at the cap) */
};

/*
 * gmr__unwind() - walk the stack of thread @tid.  A walk that ends at the trampoline
 * makecontext() makes coroutines return to (glibc's __start_context) is complete, that frame
 * symbolized at its own address.
 * @dwfl: the process's session (gmr__sym_dwfl()); the unwinder attaches to it on first use
 * Return: 0 (see @res: a walk that stopped early is not a failure) or -errno when the
 *         unwinder could not be attached (@res->error says why).
 */
int gmr__unwind(Dwfl *dwfl, int tid, const struct gmr__regs *regs,
                const struct gmr__unwind_mem *mem, struct gmr__unwind_result *res);

/*
 * gmr__unwind_cfi_row() - whether the CFI (.eh_frame, then .debug_frame) of @addr's module
 * covers @addr.  Return: true when it does; *@ret_row_start is then where the row holding
 * @addr starts.
 */
bool gmr__unwind_cfi_row(Dwfl *dwfl, uint64_t addr, uint64_t *ret_row_start);

/*
 * gmr__unwind_in_code() - whether @addr lies in an executable segment (PT_LOAD with PF_X) of a
 * module of @dwfl: code, not data such as .bss, which the module's address range also covers.
 */
bool gmr__unwind_in_code(Dwfl *dwfl, uint64_t addr);

#endif /* GMR_CAPTURE_UNWIND_H */
