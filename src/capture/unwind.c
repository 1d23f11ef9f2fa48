/*
 * libdw unwinding over captured state.  dwfl_attach_state() is called once per Dwfl with
 * callbacks that describe exactly one thread: the one gmr__unwind() is walking.  Memory reads
 * are served from the captured stack bytes, then from a small cache of live pages read with
 * process_vm_readv() (which fails instead of faulting on unmapped addresses).
 * Context: reporter thread or caller context, under gmr__sym_lock().
 */
#include "config.h"

#include <elf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/unwind.h"

#define LIVE_PAGES     8
#define LIVE_PAGE_SIZE 4096u

/* A live page read during the current walk. */
struct live_page {
    uint64_t addr;                        /* page address; 0: empty */
    size_t len;                           /* readable bytes from @addr */
    unsigned char data[LIVE_PAGE_SIZE];
};

/*
 * The thread being walked.  The Dwfl holds a pointer to this object for its lifetime, so it is
 * static; it is only valid during gmr__unwind().
 */
static struct unwind_ctx {
    int tid;
    const struct gmr__regs *regs;
    const struct gmr__unwind_mem *mem;
    struct live_page pages[LIVE_PAGES];
    unsigned next_page;                   /* round-robin replacement */
} ctx;

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    (void)dwfl, (void)arg, (void)thread_argp;
    return 0; /* threads are walked one by one with dwfl_getthread_frames() */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    (void)dwfl;
    struct unwind_ctx *c = arg;
    *thread_argp = c;
    return c->regs && tid == c->tid;
}

static bool read_word(struct unwind_ctx *c, uint64_t addr, Dwarf_Word *result)
{
    const struct gmr__unwind_mem *m = c->mem;
    if (m && addr >= m->addr && addr - m->addr + sizeof(*result) <= m->len) {
        memcpy(result, m->data + (addr - m->addr), sizeof(*result));
        return true;
    }
    if (m && m->no_live)
        return false;
    uint64_t page = addr & ~(uint64_t)(LIVE_PAGE_SIZE - 1);
    uint64_t off = addr - page;
    if (off + sizeof(*result) > LIVE_PAGE_SIZE) {
        /* Straddles two pages: rare (unaligned); read it directly. */
        return gmr__as_read_memory(addr, result, sizeof(*result)) == sizeof(*result);
    }
    for (unsigned i = 0; i < LIVE_PAGES; i++) {
        struct live_page *p = &c->pages[i];
        if (p->addr == page && p->len) {
            if (off + sizeof(*result) > p->len)
                return false;
            memcpy(result, p->data + off, sizeof(*result));
            return true;
        }
    }
    struct live_page *p = &c->pages[c->next_page++ % LIVE_PAGES];
    p->len = gmr__as_read_memory(page, p->data, LIVE_PAGE_SIZE);
    p->addr = p->len ? page : 0;
    if (off + sizeof(*result) > p->len)
        return false;
    memcpy(result, p->data + off, sizeof(*result));
    return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    return read_word(arg, addr, result);
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
    const struct gmr__regs *r = ((struct unwind_ctx *)thread_arg)->regs;
    if (r->full) {
        if (!dwfl_thread_state_registers(thread, 0, GMR_REGS_N, r->r))
            return false;
    } else {
        /*
         * The quiet path knows SP, PC and the system call's argument registers (glibc's
         * vfork() keeps its return address in one of them).  The registers the CFI needs in
         * the first frames are SP-based there (a system call wrapper), and callee-saved
         * registers are recovered from the stack as frames restore them; a frame that needs a
         * register nobody saved stops the walk, which the caller treats as incomplete.
         */
        Dwarf_Word sp = r->sp, fp = r->fp;
        if (!dwfl_thread_state_registers(thread, GMR_REGS_SP_DWARF, 1, &sp))
            return false;
        if (r->have_fp && !dwfl_thread_state_registers(thread, GMR_REGS_FP_DWARF, 1, &fp))
            return false;
        static const int args_dwarf[] = GMR_REGS_SYSCALL_ARGS_DWARF;
        for (int i = 0; r->have_args && i < 6; i++) {
            Dwarf_Word v = r->args[i];
            if (!dwfl_thread_state_registers(thread, args_dwarf[i], 1, &v))
                return false;
        }
    }
    dwfl_thread_state_register_pc(thread, r->pc);
    return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

struct walk {
    struct gmr__unwind_result *res;
    long total;
    uint64_t last_pc, last_sp;
    bool last_activation;
    bool looped;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
    struct walk *w = arg;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(state, &pc, &activation)) {
        snprintf(w->res->error, sizeof(w->res->error), "%s", dwfl_errmsg(-1));
        return DWARF_CB_ABORT;
    }
    Dwarf_Word sp = 0;
    bool have_sp = dwfl_frame_reg(state, GMR_REGS_SP_DWARF, &sp) == 0;
    if (w->total > 0 && have_sp && pc == w->last_pc && sp == w->last_sp) {
        w->looped = true;
        return DWARF_CB_ABORT;
    }
    w->last_pc = pc;
    w->last_sp = have_sp ? sp : 0;
    w->last_activation = activation;
    w->res->stop_sp = w->last_sp;

    struct gmr__unwind_result *res = w->res;
    if (res->n < GMR_MAX_FRAMES) {
        res->frames[res->n].pc = pc;
        res->frames[res->n].activation = activation;
        res->n++;
    } else {
        res->more++;
    }
    w->total++;
    if (w->total >= GMR_MAX_COUNTED_FRAMES) {
        res->more_at_least = true;
        return DWARF_CB_ABORT;
    }
    return DWARF_CB_OK;
}

/*
 * True when the CFI at @pc says its caller's return address is undefined: the frame is the
 * first of its thread (glibc's clone3 and _start say so).  A walk that ends anywhere else
 * ended because a register it needed was unknown, which libdw does not report as an error.
 */
static bool is_outermost(Dwfl *dwfl, uint64_t pc, bool activation)
{
    Dwarf_Addr lookup = activation || pc == 0 ? pc : pc - 1;
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, lookup);
    if (!mod)
        return false;
    for (int k = 0; k < 2; k++) {
        Dwarf_Addr bias;
        Dwarf_CFI *cfi = k == 0 ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
        Dwarf_Frame *frame;
        if (!cfi || dwarf_cfi_addrframe(cfi, lookup - bias, &frame) != 0)
            continue;
        int ra = dwarf_frame_info(frame, NULL, NULL, NULL);
        Dwarf_Op ops_mem[3], *ops = NULL;
        size_t nops = 1;
        bool undefined = ra >= 0 && dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) == 0 &&
                         nops == 0 && ops == ops_mem;
        free(frame);
        if (ra >= 0)
            return undefined;
    }
    return false;
}

bool gmr__unwind_cfi_row(Dwfl *dwfl, uint64_t addr, uint64_t *ret_row_start)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    if (!mod)
        return false;
    for (int k = 0; k < 2; k++) {
        Dwarf_Addr bias;
        Dwarf_CFI *cfi = k == 0 ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
        Dwarf_Frame *frame;
        if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame) != 0)
            continue;
        Dwarf_Addr start = 0, end = 0;
        (void)dwarf_frame_info(frame, &start, &end, NULL);
        free(frame);
        *ret_row_start = start + bias;
        return true;
    }
    return false;
}

bool gmr__unwind_in_code(Dwfl *dwfl, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    GElf_Addr bias;
    Elf *elf = mod ? dwfl_module_getelf(mod, &bias) : NULL;
    size_t n;
    if (!elf || elf_getphdrnum(elf, &n) != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);
        if (ph && ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && addr >= ph->p_vaddr + bias &&
            addr - (ph->p_vaddr + bias) < ph->p_memsz)
            return true;
    }
    return false;
}

/*
 * True when return address @pc is the first instruction of a function that no CFI precedes:
 * makecontext() makes a coroutine's entry function return to such a trampoline (glibc's
 * __start_context), which no call precedes.  Looked up at pc - 1 it is nowhere: the frame
 * is the coroutine's first.
 */
static bool is_context_trampoline(Dwfl *dwfl, uint64_t pc, bool activation)
{
    uint64_t start, before;
    return !activation && pc > 0 && gmr__unwind_cfi_row(dwfl, pc, &start) && start == pc &&
           !gmr__unwind_cfi_row(dwfl, pc - 1, &before);
}

/*
 * The ELF that tells dwfl_attach_state() the machine: a bare header for this architecture,
 * made once and never freed.  Given NULL, libdwfl borrows the backend of the session's first
 * module instead, which is freed with that module when a refresh of the module list drops it
 * (a mapped file unmapped since), and the next walk reads freed memory.
 */
static Elf *machine_elf(void)
{
    static Elf64_Ehdr hdr;
    static Elf *elf;
    if (elf)
        return elf;
    memcpy(hdr.e_ident, ELFMAG, SELFMAG);
    hdr.e_ident[EI_CLASS] = ELFCLASS64;
    hdr.e_ident[EI_DATA] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
    hdr.e_ident[EI_VERSION] = EV_CURRENT;
    hdr.e_type = ET_CORE;
    hdr.e_machine = GMR_REGS_ELF_MACHINE;
    hdr.e_version = EV_CURRENT;
    hdr.e_ehsize = sizeof(hdr);
    (void)elf_version(EV_CURRENT);
    elf = elf_memory((char *)&hdr, sizeof(hdr));
    return elf;
}

int gmr__unwind(Dwfl *dwfl, int tid, const struct gmr__regs *regs,
                const struct gmr__unwind_mem *mem, struct gmr__unwind_result *res)
{
    res->n = 0;
    res->more = 0;
    res->more_at_least = false;
    res->complete = false;
    res->stop_sp = 0;
    res->error[0] = '\0';

    Elf *machine = dwfl_pid(dwfl) < 0 ? machine_elf() : NULL;
    if (dwfl_pid(dwfl) < 0 &&
        (!machine || !dwfl_attach_state(dwfl, machine, getpid(), &thread_callbacks, &ctx))) {
        snprintf(res->error, sizeof(res->error), "cannot attach the unwinder: %s",
                 machine ? dwfl_errmsg(-1) : elf_errmsg(-1));
        return -EIO;
    }
    ctx.tid = tid;
    ctx.regs = regs;
    ctx.mem = mem;
    for (unsigned i = 0; i < LIVE_PAGES; i++)
        ctx.pages[i].addr = 0;

    struct walk w = {.res = res};
    int r = dwfl_getthread_frames(dwfl, tid, frame_cb, &w);
    if (r == 0 && w.total > 0 && is_outermost(dwfl, w.last_pc, w.last_activation)) {
        res->complete = true;
    } else if (r == 0) {
        snprintf(res->error, sizeof(res->error),
                 "the walk ended before the thread's first frame (a register it needed is unknown)");
    } else if (w.looped) {
        snprintf(res->error, sizeof(res->error), "the stack repeats the same frame");
    } else if (r < 0 && !res->error[0]) {
        snprintf(res->error, sizeof(res->error), "%s", dwfl_errmsg(-1));
    }
    /*
     * A walk over a coroutine's stack that did not end complete may have passed such a
     * trampoline (libdw then guesses on with the frame pointer): it ends there.
     */
    for (int i = 1; !res->complete && i < res->n; i++) {
        if (is_context_trampoline(dwfl, res->frames[i].pc, res->frames[i].activation)) {
            res->frames[i].activation = true; /* symbolized at its own address */
            res->n = i + 1;
            res->more = 0;
            res->more_at_least = false;
            res->complete = true;
            res->error[0] = '\0';
        }
    }
    ctx.regs = NULL;
    ctx.mem = NULL;
    return 0;
}
