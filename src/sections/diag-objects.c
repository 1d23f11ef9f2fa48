/*
 * The Shared Objects section: every object the dynamic loader has mapped (the program, the
 * vDSO, libraries), with its load address and GNU build-id.
 *
 * The build-id comes from the PT_NOTE segments of the program headers in memory, so no file
 * is read: an object deleted or replaced on disk since it was loaded still shows the
 * build-id of the code that runs, which is what a debuginfo server needs.
 */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fork.h"
#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"

#define MAX_OBJECTS  4096 /* objects described; the rest are counted */
#define MAX_BUILD_ID 64   /* bytes of a build-id kept (SHA-1 ones have 20) */

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* @v rounded up to a multiple of @a (a power of two). */
static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/*
 * gmr__parse_build_id_note() - see diag.h.  Each note is a 12-byte header (namesz, descsz,
 * type, each 32 bits), the name and the descriptor, both padded to the segment's alignment.
 * Context: any thread; pure.
 */
int gmr__parse_build_id_note(const void *notes, size_t size, size_t align,
                             const unsigned char **ret_id, size_t *ret_len)
{
    const unsigned char *p = notes;
    const size_t a = align == 8 ? 8 : 4;
    size_t off = 0;
    while (size - off >= 12) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, p + off, 4);
        memcpy(&descsz, p + off + 4, 4);
        memcpy(&type, p + off + 8, 4);
        off += 12;
        if (namesz > size - off)
            return -ENOENT;
        const unsigned char *name = p + off;
        off += align_up(namesz, a);
        if (off > size || descsz > size - off)
            return -ENOENT;
        const unsigned char *desc = p + off;
        if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(name, "GNU", 4) == 0 && descsz > 0) {
            *ret_id = desc;
            *ret_len = descsz;
            return 0;
        }
        off += align_up(descsz, a);
        if (off > size)
            return -ENOENT;
    }
    return -ENOENT;
}

struct object {
    char *path;     /* owned; "" for the main program */
    uintptr_t base; /* load bias: file address + base = run address */
    unsigned char build_id[MAX_BUILD_ID];
    size_t build_id_len; /* 0 when the object has none */
};

struct objects {
    struct object *v; /* owned; MAX_OBJECTS entries */
    size_t n;
    size_t not_shown;
    int error; /* -ENOMEM when a copy failed */
};

/* True when [@start, @start + @len) lies in the file-backed part of a loaded segment. */
static bool in_loaded_segment(const struct dl_phdr_info *info, ElfW(Addr) start, size_t len)
{
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && start >= ph->p_vaddr && len <= ph->p_filesz &&
            start - ph->p_vaddr <= ph->p_filesz - len)
            return true;
    }
    return false;
}

static void find_build_id(const struct dl_phdr_info *info, struct object *ob)
{
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE || !in_loaded_segment(info, ph->p_vaddr, ph->p_filesz))
            continue;
        const unsigned char *id;
        size_t len;
        const void *notes = (const void *)(info->dlpi_addr + ph->p_vaddr);
        if (gmr__parse_build_id_note(notes, ph->p_filesz, ph->p_align, &id, &len) == 0) {
            ob->build_id_len = len < MAX_BUILD_ID ? len : MAX_BUILD_ID;
            memcpy(ob->build_id, id, ob->build_id_len);
            return;
        }
    }
}

/* dl_iterate_phdr() callback; runs with the loader's lock held, so it only copies. */
static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct objects *objs = arg;
    (void)size;
    if (objs->n == MAX_OBJECTS) {
        objs->not_shown++;
        return 0;
    }
    struct object *ob = &objs->v[objs->n];
    ob->path = gmr__strdup(info->dlpi_name ? info->dlpi_name : "");
    if (!ob->path) {
        objs->error = -ENOMEM;
        return 1;
    }
    ob->base = (uintptr_t)info->dlpi_addr;
    find_build_id(info, ob);
    objs->n++;
    return 0;
}

static int object_json(const struct object *ob, json_t **ret)
{
    char path[PATH_MAX + 1];
    const char *shown = ob->path;
    if (!*shown) {
        /*
         * The main program has no name in the loader's list.  /proc/self first (valgrind
         * shows its client there, not itself); once the main thread has exited, the leader's
         * link is gone and only a living thread's remains.
         */
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            n = readlink("/proc/thread-self/exe", path, sizeof(path) - 1);
        path[n > 0 ? n : 0] = '\0';
        shown = n > 0 ? path : "(main program)";
    }
    char base[2 + 2 * sizeof(uintptr_t) + 1];
    snprintf(base, sizeof(base), "0x%" PRIxPTR, ob->base);
    char id[2 * MAX_BUILD_ID + 1];
    for (size_t i = 0; i < ob->build_id_len; i++)
        snprintf(id + 2 * i, 3, "%02x", ob->build_id[i]);
    id[2 * ob->build_id_len] = '\0';

    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    r |= gmr__json_set_str(o, "path", shown);
    r |= gmr__json_set_str(o, "base", base);
    if (ob->build_id_len)
        r |= gmr__json_set_str(o, "build_id", id);
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

/*
 * gmr__section_shared_objects() - see diag.h.  Section members: "data" (one object per
 * loaded object, in the loader's order: the program first), "not_shown" (beyond
 * MAX_OBJECTS, when any).
 *
 * dl_iterate_phdr() holds the dynamic loader's lock while it runs: a thread inside
 * dlopen()/dlclose() makes this wait for it, and it makes such a thread wait meanwhile.  That
 * is safe on the reporter thread (it holds no lock a loader operation could need) and short:
 * the callback only copies names and reads notes already in memory.
 * Context: reporter thread or caller context; not from a dl_iterate_phdr() callback.
 */
int gmr__section_shared_objects(json_t *section)
{
    struct objects objs = {0};
    json_t *data = json_array();
    int r = -ENOMEM;
    if (!data || json_object_set(section, "data", data) < 0)
        goto out;
    objs.v = gmr__calloc(MAX_OBJECTS, sizeof(*objs.v));
    if (!objs.v)
        goto out;
    /* fork() must not land in the call: the child would find the loader's lock held. */
    gmr__fork_guard_lock();
    dl_iterate_phdr(collect, &objs);
    gmr__fork_guard_unlock();
    if (objs.error < 0)
        goto out;
    for (size_t i = 0; i < objs.n; i++) {
        json_t *o;
        r = object_json(&objs.v[i], &o);
        if (r < 0)
            goto out;
        r = -ENOMEM;
        if (json_array_append_new(data, o) < 0)
            goto out;
    }
    r = 0;
    if (objs.not_shown &&
        json_object_set_new(section, "not_shown", json_integer((json_int_t)objs.not_shown)) < 0)
        r = -ENOMEM;
out:
    for (size_t i = 0; objs.v && i < objs.n; i++)
        gmr__free(objs.v[i].path);
    gmr__free(objs.v);
    json_decref(data);
    return r;
}
