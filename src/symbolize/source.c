/*
 * Source lines for frames, as oslo.reports shows them under each frame: source files are read
 * once and kept (with their line offsets) across reports, within GMR_SRC_CACHE_FILES files and
 * GMR_SRC_CACHE_BYTES bytes; unreadable files are remembered as such.
 * Context: reporter thread or caller context, under gmr__sym_lock().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/symbolize.h"
#include "util/alloc.h"

struct source_file {
    char *path;        /* owned */
    char *text;        /* owned; NULL: unreadable */
    size_t len;
    size_t *lines;     /* owned; offset of each line's first byte */
    size_t nlines;
};

static struct source_file files[GMR_SRC_CACHE_FILES];
static size_t nfiles;
static size_t cached_bytes;

void gmr__source_cache_clear(void)
{
    for (size_t i = 0; i < nfiles; i++) {
        gmr__free(files[i].path);
        gmr__free(files[i].text);
        gmr__free(files[i].lines);
    }
    memset(files, 0, sizeof(files));
    nfiles = 0;
    cached_bytes = 0;
}

void gmr__source_cache_forget(void)
{
    memset(files, 0, sizeof(files));
    nfiles = 0;
    cached_bytes = 0;
}

/* Reads a regular file of at most GMR_SRC_FILE_MAX bytes.  Return: 0 or -errno. */
static int load(struct source_file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)GMR_SRC_FILE_MAX) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size;
    char *text = gmr__malloc(cap + 1);
    size_t len = 0;
    while (text && len < cap) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!text)
        return -ENOMEM;
    text[len] = '\0';
    size_t nl = 1;
    for (size_t i = 0; i < len; i++)
        nl += text[i] == '\n';
    size_t *lines = gmr__malloc(nl * sizeof(*lines));
    if (!lines) {
        gmr__free(text);
        return -ENOMEM;
    }
    size_t k = 0;
    lines[k++] = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' && k < nl)
            lines[k++] = i + 1;
    }
    f->text = text;
    f->len = len;
    f->lines = lines;
    f->nlines = k;
    return 0;
}

static struct source_file *lookup(const char *path)
{
    for (size_t i = 0; i < nfiles; i++) {
        if (strcmp(files[i].path, path) == 0)
            return &files[i];
    }
    if (nfiles == GMR_SRC_CACHE_FILES || cached_bytes > GMR_SRC_CACHE_BYTES)
        gmr__source_cache_clear();
    struct source_file *f = &files[nfiles];
    f->path = gmr__strdup(path);
    if (!f->path)
        return NULL;
    if (load(f) == -ENOMEM) {
        gmr__free(f->path);
        f->path = NULL;
        return NULL;
    }
    cached_bytes += f->len + f->nlines * sizeof(size_t) + strlen(path);
    nfiles++;
    return f;
}

char *gmr__source_line(const char *path, int line)
{
    struct source_file *f = lookup(path);
    if (!f || !f->text || line <= 0 || (size_t)line > f->nlines)
        return NULL;
    const char *s = f->text + f->lines[line - 1];
    const char *end = (size_t)line < f->nlines ? f->text + f->lines[line] : f->text + f->len;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (s == end)
        return NULL;
    size_t n = (size_t)(end - s);
    if (n <= GMR_SRC_LINE_MAX)
        return gmr__strndup(s, n);
    char *out = gmr__malloc(GMR_SRC_LINE_MAX + 4);
    if (!out)
        return NULL;
    memcpy(out, s, GMR_SRC_LINE_MAX);
    memcpy(out + GMR_SRC_LINE_MAX, "...", 4);
    return out;
}
