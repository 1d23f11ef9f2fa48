/*
 * The process's libdwfl session: modules from /proc/self/maps (re-reported only when the maps
 * changed), local-only debuginfo lookup, and the per-PC cache of frame descriptions.
 *
 * The session holds two Dwfl objects over the same modules: one the unwinder walks stacks with
 * (CFI), one that describes addresses (DWARF, symbol tables).  Loading a module's DWARF is the
 * bulk of a first report (libc's separate debug information is compressed: tens of
 * milliseconds to inflate), so while the Threads section walks its stacks with the first, a
 * helper thread loads the DWARF of the modules the walks run through into the second.  libdw
 * objects are not shared between the two threads: each Dwfl is used by one thread at a time.
 *
 * Context: reporter thread or caller context, under gmr__sym_lock().
 */
#include "config.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"
#include "util/thread.h"
#include "util/macro.h"

/* One cached description: key (pc << 1 | activation) -> array of frame objects. */
struct cache_entry {
    uint64_t key;
    json_t *frames; /* owned reference; NULL: empty bucket */
};

#define CACHE_BUCKETS (2 * GMR_SYM_CACHE_MAX) /* power of two, at most half full */

/* Modules whose DWARF the helper loads in one report; more are loaded when first described. */
#define PREFETCH_MAX 64

/* The DWARF-loading helper of one report.  @lock guards the members below it. */
struct prefetch {
    pthread_t thread;
    bool running;                     /* @thread exists and is not joined yet */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t queue[PREFETCH_MAX];     /* module start addresses; reporter appends */
    int queued;
    int taken;                        /* entries the helper has taken */
    bool closing;                     /* no more entries: the helper exits when done */
};

struct gmr__sym {
    Dwfl *dwfl;                 /* owned; describes addresses (DWARF, symbols) */
    Dwfl *unwind_dwfl;          /* owned; the unwinder's, over the same modules */
    pid_t pid;                  /* process the session describes */
    char *maps;                 /* owned; /proc/self/maps as last reported */
    size_t maps_len;
    bool removed;               /* set by the report_end callback: a module went away */
    struct cache_entry *cache;  /* owned; CACHE_BUCKETS entries */
    size_t cached;              /* entries in use */
    uint64_t warmed[PREFETCH_MAX]; /* start addresses of modules whose DWARF was asked for */
    int nwarmed;
    Dwfl_Module *last_seen;     /* unwind_dwfl's module of the last gmr__sym_prefetch() */
    struct prefetch pf;
};

static struct gmr__sym *session;              /* the process's session; NULL until used */
static pthread_mutex_t sym_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool held_for_fork;                    /* gmr__sym_fork_prepare() took sym_mutex */

void gmr__sym_lock(void)
{
    pthread_mutex_lock(&sym_mutex);
}

void gmr__sym_unlock(void)
{
    pthread_mutex_unlock(&sym_mutex);
}

void gmr__sym_fork_prepare(void)
{
    /* Never waits: a report may hold the lock for a long time (a whole Threads section). */
    held_for_fork = pthread_mutex_trylock(&sym_mutex) == 0;
}

void gmr__sym_fork_parent(void)
{
    if (held_for_fork)
        pthread_mutex_unlock(&sym_mutex);
    held_for_fork = false;
}

void gmr__sym_fork_child(void)
{
    if (held_for_fork) {
        /*
         * Nobody was using the session at fork(): it is whole, and the child keeps it (its
         * modules are the parent's, so the child's first report needs no new ELF or DWARF).
         * Its descriptors are shared with the parent, which libelf reads with pread() and
         * mmap() only, at explicit offsets.
         */
        held_for_fork = false;
        if (session)
            session->pid = getpid();
        pthread_mutex_unlock(&sym_mutex);
        return;
    }
    /* A report held the lock: its holder does not exist here, and what it held may be torn. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&sym_mutex, &fresh, sizeof(fresh));
    session = NULL; /* dropped, not freed: it may be half-way through an update */
    gmr__source_cache_forget();
}

/* Opens @path when it is a readable ELF file whose build ID matches @mod's (when both have one). */
static int open_matching(Dwfl_Module *mod, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    const unsigned char *want;
    GElf_Addr vaddr;
    int want_len = dwfl_module_build_id(mod, &want, &vaddr);
    if (want_len <= 0)
        return fd;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *have = NULL;
    ssize_t have_len = elf ? dwelf_elf_gnu_build_id(elf, &have) : -1;
    bool ok = have_len == want_len && memcmp(have, want, (size_t)want_len) == 0;
    elf_end(elf);
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Marks @fd close-on-exec and returns it.  libdwfl opens the files it keeps for the session's
 * life without O_CLOEXEC: a child of the application that execs would inherit every ELF and
 * debug file a report looked at.  A fork+exec racing with the open itself can still inherit
 * the descriptor; only files libdwfl opens have that window (see find_elf()).
 */
static int cloexec(int fd)
{
    if (fd >= 0)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/*
 * find_elf callback: dwfl_linux_proc_find_elf(), but regular files are opened here with
 * O_CLOEXEC.  The rest (deleted files, the vDSO) libdwfl reads from memory.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *module_name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    struct stat st;
    if (module_name[0] == '/' && stat(module_name, &st) == 0 && S_ISREG(st.st_mode)) {
        int fd = open(module_name, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && !(*file_name = strdup(module_name))) {
            close(fd);
            return -1;
        }
        return fd;
    }
    return cloexec(dwfl_linux_proc_find_elf(mod, userdata, module_name, base, file_name, elfp));
}

/*
 * find_debuginfo callback: build-id links first, then the debuglink name in the places
 * dwfl_standard_find_debuginfo() looks -- but never debuginfod, which that function may reach
 * (through a client created from DEBUGINFOD_URLS) when the local lookup fails.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    int fd = cloexec(dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
                                                  debuglink_file, debuglink_crc,
                                                  debuginfo_file_name));
    if (fd >= 0 || !file_name || file_name[0] != '/' || !debuglink_file || !*debuglink_file)
        return fd;

    const char *slash = strrchr(file_name, '/');
    int dirlen = (int)(slash - file_name);
    char path[4096];
    for (int i = 0; i < 3; i++) {
        int n;
        if (i == 0)
            n = snprintf(path, sizeof(path), "%.*s/%s", dirlen, file_name, debuglink_file);
        else if (i == 1)
            n = snprintf(path, sizeof(path), "%.*s/.debug/%s", dirlen, file_name, debuglink_file);
        else
            n = snprintf(path, sizeof(path), "/usr/lib/debug%.*s/%s", dirlen, file_name,
                         debuglink_file);
        if (n < 0 || (size_t)n >= sizeof(path) || strcmp(path, file_name) == 0)
            continue;
        fd = open_matching(mod, path);
        if (fd >= 0) {
            *debuginfo_file_name = strdup(path);
            return fd;
        }
    }
    errno = ENOENT;
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
};

static void cache_clear(struct gmr__sym *s)
{
    for (size_t i = 0; i < CACHE_BUCKETS && s->cached; i++) {
        if (s->cache[i].frames) {
            json_decref(s->cache[i].frames);
            s->cache[i].frames = NULL;
            s->cached--;
        }
    }
    s->cached = 0;
}

static void session_free(struct gmr__sym *s)
{
    if (!s)
        return;
    gmr__sym_prefetch_wait(s);
    if (s->cache)
        cache_clear(s);
    gmr__free(s->cache);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    if (s->unwind_dwfl)
        dwfl_end(s->unwind_dwfl);
    gmr__free(s->maps);
    gmr__free(s);
}

static int removed_module(Dwfl_Module *mod, void *userdata, const char *name, Dwarf_Addr base,
                          void *arg)
{
    (void)mod, (void)userdata, (void)name, (void)base;
    ((struct gmr__sym *)arg)->removed = true;
    return DWARF_CB_OK;
}

/*
 * Reads the process's maps whole, through this thread: the main thread's file reads as empty
 * once it has called pthread_exit().  Return: 0 or -errno.
 */
static int read_maps(char **ret, size_t *ret_len)
{
    int fd = open("/proc/thread-self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 64 * 1024, len = 0;
    char *buf = gmr__malloc(cap);
    int r = 0;
    while (buf) {
        if (cap - len < 4096) {
            char *nb = gmr__realloc(buf, cap * 2);
            if (!nb) {
                gmr__free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return -ENOMEM;
    if (r < 0) {
        gmr__free(buf);
        return r;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return 0;
}

/* One line of /proc/self/maps: "start-end perms offset major:minor inode   path". */
struct maps_line {
    bool exec;         /* perms has 'x' */
    uint64_t offset;
    char dev[16];      /* "major:minor" */
    uint64_t inode;
    bool file;         /* path is absolute and the mapping has a file (what libdwfl reports) */
};

static bool parse_maps_line(const char *line, const char *end, struct maps_line *ml)
{
    char buf[512];
    size_t n = GMR_MIN((size_t)(end - line), sizeof(buf) - 1);
    memcpy(buf, line, n);
    buf[n] = '\0';
    char perms[8];
    unsigned long long offset, inode;
    int path_at = 0;
    if (sscanf(buf, "%*x-%*x %7s %llx %15s %llu %n", perms, &offset, ml->dev, &inode,
               &path_at) < 4)
        return false;
    ml->exec = strchr(perms, 'x') != NULL;
    ml->offset = offset;
    ml->inode = inode;
    ml->file = path_at > 0 && buf[path_at] == '/' && (inode != 0 || strcmp(ml->dev, "00:00"));
    return true;
}

/*
 * Keeps of /proc/self/maps (in place) only the mappings of loaded objects, and returns the new
 * length.  libelf maps the files a session reads (whole, MAP_PRIVATE, read-write, at
 * addresses of its own), and libdwfl would report each such mapping as one more module:
 * describing an address in it opens and maps the file once more, which the next report sees
 * as yet another module, so every report added a few MiB of mappings and a few descriptors.
 * Lines are grouped as libdwfl groups them (consecutive mappings of the same file; lines of no
 * file, which libdwfl skips, do not end a group), a new group also starting where a mapping of
 * the same file starts over at offset 0; a group is kept when one of its mappings is
 * executable, as every object the dynamic loader maps has one.  Lines of no file are dropped:
 * libdwfl skips them, and without them the text changes only when objects come and go.
 */
size_t gmr__sym_filter_maps(char *maps, size_t len)
{
    size_t out = 0, group_start = 0;
    bool in_group = false, group_exec = false;
    struct maps_line last = {0};
    char *p = maps, *end = maps + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *next = nl ? nl + 1 : end;
        struct maps_line ml;
        if (parse_maps_line(p, nl ? nl : end, &ml) && ml.file) {
            bool same = in_group && ml.inode == last.inode && strcmp(ml.dev, last.dev) == 0 &&
                        ml.offset != 0;
            if (!same) {
                if (in_group && !group_exec)
                    out = group_start; /* the previous group goes */
                in_group = true;
                group_exec = false;
                group_start = out;
            }
            group_exec |= ml.exec;
            last = ml;
            memmove(maps + out, p, (size_t)(next - p));
            out += (size_t)(next - p);
        }
        p = next;
    }
    if (in_group && !group_exec)
        out = group_start;
    return out;
}

/* Re-reports the modules when /proc/self/maps changed.  Return: 0 or -errno. */
static int refresh(struct gmr__sym *s, const char **reterr_msg)
{
    char *maps = NULL;
    size_t len = 0;
    int r = read_maps(&maps, &len);
    if (r < 0)
        return r;
    len = gmr__sym_filter_maps(maps, len);
    maps[len] = '\0';
    if (s->maps && len == s->maps_len && memcmp(maps, s->maps, len) == 0) {
        gmr__free(maps);
        return 0;
    }
    s->removed = false;
    s->last_seen = NULL;
    int rr = 0;
    bool end_failed = false;
    Dwfl *both[2] = {s->dwfl, s->unwind_dwfl};
    for (int i = 0; i < 2 && rr == 0 && !end_failed; i++) {
        FILE *f = fmemopen(maps, len ? len : 1, "r");
        if (!f) {
            r = -errno;
            gmr__free(maps);
            return r;
        }
        dwfl_report_begin(both[i]);
        rr = dwfl_linux_proc_maps_report(both[i], f);
        fclose(f);
        end_failed = dwfl_report_end(both[i], removed_module, s) != 0;
    }
    if (end_failed || rr != 0) {
        if (reterr_msg)
            *reterr_msg = rr > 0 ? strerror(rr) : dwfl_errmsg(-1);
        gmr__free(maps);
        gmr__free(s->maps);
        s->maps = NULL; /* report again next time */
        return rr > 0 ? -rr : -EIO;
    }
    if (s->removed) {
        cache_clear(s); /* a removed module's addresses may now belong to another */
        s->nwarmed = 0;
    }
    gmr__free(s->maps);
    s->maps = maps;
    s->maps_len = len;
    return 0;
}

int gmr__sym_get(struct gmr__sym **ret, const char **reterr_msg)
{
    if (!session) {
        struct gmr__sym *s = gmr__calloc(1, sizeof(*s));
        if (!s)
            return -ENOMEM;
        s->pid = getpid();
        s->cache = gmr__calloc(CACHE_BUCKETS, sizeof(*s->cache));
        s->dwfl = dwfl_begin(&callbacks);
        s->unwind_dwfl = s->dwfl ? dwfl_begin(&callbacks) : NULL;
        if (!s->cache || !s->dwfl || !s->unwind_dwfl) {
            if (!s->unwind_dwfl && reterr_msg)
                *reterr_msg = dwfl_errmsg(-1);
            session_free(s);
            return -ENOMEM;
        }
        session = s;
        gmr__demangle_prime();
    }
    int r = refresh(session, reterr_msg);
    if (r < 0)
        return r;
    *ret = session;
    return 0;
}

int gmr__sym_current(struct gmr__sym **ret)
{
    if (!session || session->pid != getpid())
        return -ENOENT;
    *ret = session;
    return 0;
}

Dwfl *gmr__sym_dwfl(struct gmr__sym *s)
{
    return s->dwfl;
}

Dwfl *gmr__sym_unwind_dwfl(struct gmr__sym *s)
{
    return s->unwind_dwfl;
}

/* ---- loading DWARF ahead of describing ---- */

/* Loads what describing an address in the module at @addr needs.  Context: the helper. */
static void warm_module(Dwfl *dwfl, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    if (!mod)
        return;
    Dwarf_Addr bias;
    Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
    Dwarf_Aranges *aranges;
    size_t naranges;
    if (dw)
        (void)dwarf_getaranges(dw, &aranges, &naranges);
    (void)dwfl_module_getsymtab(mod);
}

/* The helper: loads the queued modules until the reporter closes the queue. */
static void *prefetch_main(void *arg)
{
    struct gmr__sym *s = arg;
    struct prefetch *pf = &s->pf;
    pthread_mutex_lock(&pf->lock);
    for (;;) {
        while (pf->taken == pf->queued && !pf->closing)
            pthread_cond_wait(&pf->cond, &pf->lock);
        if (pf->taken == pf->queued)
            break;
        uint64_t addr = pf->queue[pf->taken++];
        pthread_mutex_unlock(&pf->lock);
        warm_module(s->dwfl, addr);
        pthread_mutex_lock(&pf->lock);
    }
    pthread_mutex_unlock(&pf->lock);
    return NULL;
}

/* Queues the module at @addr, starting the helper on first use.  Return: false when not queued. */
static bool prefetch_queue(struct gmr__sym *s, uint64_t addr)
{
    struct prefetch *pf = &s->pf;
    if (!pf->running) {
        if (pthread_mutex_init(&pf->lock, NULL) != 0)
            return false;
        if (pthread_cond_init(&pf->cond, NULL) != 0) {
            pthread_mutex_destroy(&pf->lock);
            return false;
        }
        pf->queued = pf->taken = 0;
        pf->closing = false;
        pf->queue[pf->queued++] = addr;
        /* The helper takes no signal meant for the application. */
        int err = gmr__thread_create(&pf->thread, NULL, prefetch_main, s);
        if (err) {
            pthread_cond_destroy(&pf->cond);
            pthread_mutex_destroy(&pf->lock);
            return false;
        }
        pf->running = true;
        return true;
    }
    pthread_mutex_lock(&pf->lock);
    bool ok = pf->queued < PREFETCH_MAX;
    if (ok) {
        pf->queue[pf->queued++] = addr;
        pthread_cond_signal(&pf->cond);
    }
    pthread_mutex_unlock(&pf->lock);
    return ok;
}

void gmr__sym_prefetch(struct gmr__sym *s, uint64_t pc, bool activation)
{
    uint64_t lookup = activation || pc == 0 ? pc : pc - 1;
    Dwfl_Module *mod = dwfl_addrmodule(s->unwind_dwfl, lookup);
    if (!mod || mod == s->last_seen)
        return;
    s->last_seen = mod;
    Dwarf_Addr start = 0;
    if (!dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL))
        return;
    for (int i = 0; i < s->nwarmed; i++) {
        if (s->warmed[i] == start)
            return;
    }
    if (s->nwarmed == PREFETCH_MAX || !prefetch_queue(s, start))
        return; /* loaded when first described instead */
    s->warmed[s->nwarmed++] = start;
}

void gmr__sym_prefetch_wait(struct gmr__sym *s)
{
    struct prefetch *pf = &s->pf;
    if (!pf->running)
        return;
    pthread_mutex_lock(&pf->lock);
    pf->closing = true;
    pthread_cond_signal(&pf->cond);
    pthread_mutex_unlock(&pf->lock);
    pthread_join(pf->thread, NULL);
    pthread_cond_destroy(&pf->cond);
    pthread_mutex_destroy(&pf->lock);
    pf->running = false;
}

void gmr__sym_free(void)
{
    gmr__sym_lock();
    struct gmr__sym *s = session;
    session = NULL;
    if (s && s->pid == getpid())
        session_free(s);
    gmr__source_cache_clear();
    gmr__sym_unlock();
}

/* ---- describing one address ---- */

static int set_hex(json_t *obj, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return json_object_set_new(obj, key, json_string(buf));
}

/* Sets "function" from a possibly mangled name. */
static int set_function(json_t *obj, const char *name)
{
    if (!name)
        return 0;
    char *plain = gmr__demangle(name);
    int r = gmr__json_set_str(obj, "function", plain ? plain : name);
    free(plain);
    return r;
}

/* The name a function DIE (subprogram or inlined instance) is best shown by. */
static const char *die_function_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    return n;
}

static bool has_linkage_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    return dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
           dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a);
}

/* Joins a relative source path to the compilation directory; returns @file or @buf. */
static const char *full_path(Dwarf_Die *cu, const char *file, char *buf, size_t size)
{
    if (!file || file[0] == '/' || !cu)
        return file;
    Dwarf_Attribute a;
    const char *dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
    if (!dir)
        return file;
    int n = snprintf(buf, size, "%s/%s", dir, file);
    return n > 0 && (size_t)n < size ? buf : file;
}

/* Adds "file", "line" and, when the file is readable, "source". */
static int set_location(json_t *obj, const char *file, int line)
{
    if (!file)
        return 0;
    if (gmr__json_set_str(obj, "file", file) < 0)
        return -ENOMEM;
    if (line > 0) {
        if (json_object_set_new(obj, "line", json_integer(line)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int set_module(json_t *obj, Dwfl_Module *mod, uint64_t pc)
{
    Dwarf_Addr start = 0;
    const char *name = mod ? dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL)
                           : NULL;
    if (!name)
        return 0;
    if (gmr__json_set_str(obj, "module", name) < 0 || set_hex(obj, "offset", pc - start) < 0)
        return -ENOMEM;
    return 0;
}

static int set_source(json_t *obj)
{
    const char *file = json_string_value(json_object_get(obj, "file"));
    int line = (int)json_integer_value(json_object_get(obj, "line"));
    if (!file || line <= 0)
        return 0;
    char *text = gmr__source_line(file, line);
    if (!text)
        return 0;
    int r = gmr__json_set_str(obj, "source", text);
    gmr__free(text);
    return r;
}

/* Builds one frame object; @function may be NULL. */
static json_t *frame_new(uint64_t pc, const char *function, const char *file, int line,
                         Dwfl_Module *mod, bool inlined)
{
    json_t *f = json_object();
    if (!f)
        return NULL;
    if (set_hex(f, "pc", pc) < 0 || set_function(f, function) < 0 ||
        set_location(f, file, line) < 0 || set_module(f, mod, pc) < 0 ||
        json_object_set_new(f, "inlined", json_boolean(inlined)) < 0 || set_source(f) < 0) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static bool is_function_scope(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* The call site of an inlined instance: its DW_AT_call_file name and DW_AT_call_line. */
static const char *call_site(Dwarf_Die *cu, Dwarf_Die *inl, int *ret_line)
{
    Dwarf_Attribute a;
    Dwarf_Word file_idx = 0, line = 0;
    *ret_line = 0;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &line) == 0)
        *ret_line = (int)line;
    Dwarf_Files *files;
    size_t nfiles;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &file_idx) != 0 ||
        dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || file_idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, file_idx, NULL, NULL);
}

/*
 * Describes @pc: with DWARF, one frame per inlined call (innermost first) and one for the
 * function holding them; without, one frame named from the ELF symbol table.
 */
static json_t *describe(struct gmr__sym *s, uint64_t pc, bool activation)
{
    uint64_t lookup = activation || pc == 0 ? pc : pc - 1;
    json_t *frames = json_array();
    if (!frames)
        return NULL;
    Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, lookup);

    Dwarf_Die *scopes = NULL;
    int nscopes = 0;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = mod ? dwfl_module_addrdie(mod, lookup, &bias) : NULL;
    /*
     * libdwfl hands out the CU whose address ranges start last before the address, even past
     * their end: _start after main's CU got a line of that CU.  A CU that does not cover the
     * address gives no file:line.
     */
    if (cu && dwarf_haspc(cu, lookup - bias) <= 0)
        cu = NULL;
    if (cu && dwarf_getscopes(cu, lookup - bias, &scopes) > 0) {
        /*
         * dwarf_getscopes() continues an inlined scope with its abstract definition's
         * containers; the concrete chain (inlined calls, then the function that holds them)
         * comes from the innermost scope's DIE.
         */
        Dwarf_Die innermost = scopes[0];
        free(scopes);
        scopes = NULL;
        nscopes = dwarf_getscopes_die(&innermost, &scopes);
        if (nscopes < 0)
            nscopes = 0;
    }

    const char *file = NULL;
    int line = 0;
    Dwfl_Line *l = cu ? dwfl_module_getsrc(mod, lookup) : NULL;
    if (l)
        file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
    char pathbuf[4096];
    file = full_path(cu, file, pathbuf, sizeof(pathbuf));

    int nfunc = 0;
    for (int i = 0; i < nscopes; i++)
        nfunc += is_function_scope(&scopes[i]);

    if (nfunc == 0) {
        GElf_Off off;
        GElf_Sym sym;
        const char *name =
            mod ? dwfl_module_addrinfo(mod, lookup, &off, &sym, NULL, NULL, NULL) : NULL;
        json_t *f = frame_new(pc, name, file, line, mod, false);
        if (!f || json_array_append_new(frames, f) < 0)
            goto fail;
    } else {
        int seen = 0;
        for (int i = 0; i < nscopes; i++) {
            if (!is_function_scope(&scopes[i]))
                continue;
            seen++;
            bool inlined = seen < nfunc && dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine;
            const char *name = die_function_name(&scopes[i]);
            if (seen == nfunc && !has_linkage_name(&scopes[i])) {
                /*
                 * The out-of-line function: without a linkage name in DWARF (lambdas, some
                 * clones), a mangled ELF symbol says more than the bare DW_AT_name.
                 */
                GElf_Off off;
                GElf_Sym sym;
                const char *elf = dwfl_module_addrinfo(mod, lookup, &off, &sym, NULL, NULL, NULL);
                if (elf && strncmp(elf, "_Z", 2) == 0 && !strchr(elf, '.'))
                    name = elf;
            }
            json_t *f = frame_new(pc, name, file, line, mod, inlined);
            if (!f || json_array_append_new(frames, f) < 0)
                goto fail;
            /* The next (outer) function's line is this inlined instance's call site. */
            if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine) {
                file = full_path(cu, call_site(cu, &scopes[i], &line), pathbuf, sizeof(pathbuf));
            }
        }
    }
    free(scopes);
    return frames;
fail:
    free(scopes);
    json_decref(frames);
    return NULL;
}

json_t *gmr__sym_frames(struct gmr__sym *s, uint64_t pc, bool activation)
{
    uint64_t key = pc << 1 | (activation ? 1u : 0u);
    size_t mask = CACHE_BUCKETS - 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    for (; s->cache[i].frames; i = (i + 1) & mask) {
        if (s->cache[i].key == key)
            return s->cache[i].frames;
    }
    json_t *frames = describe(s, pc, activation);
    if (!frames)
        return NULL;
    if (s->cached >= GMR_SYM_CACHE_MAX) {
        cache_clear(s);
        i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    }
    s->cache[i].key = key;
    s->cache[i].frames = frames;
    s->cached++;
    return frames;
}
