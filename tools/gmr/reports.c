/*
 * Reading saved JSON reports.  Reports may be damaged or hostile: every member is checked
 * for its type before use, and a missing member is treated as absent, never as an error.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "cli.h"

json_t *cli_load_report(const char *data, size_t len, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, 0, &jerr);
    if (!doc) {
        snprintf(err, errsize, "not valid JSON (line %d, column %d: %s)", jerr.line,
                 jerr.column, jerr.text);
        return NULL;
    }
    const char *version = json_string_value(json_object_get(doc, "format_version"));
    if (!json_is_object(doc) || !version || !json_is_array(json_object_get(doc, "sections"))) {
        snprintf(err, errsize, "not a libgmr JSON report (no format_version and sections)");
        json_decref(doc);
        return NULL;
    }
    if (strtol(version, NULL, 10) != 1) {
        snprintf(err, errsize, "report format %.20s is not supported (this gmr reads 1.x)",
                 version);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

const char *cli_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

long long cli_int(const json_t *obj, const char *key, long long dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

const json_t *cli_threads_section(const json_t *report)
{
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(report, "sections"), i, s)
    {
        const char *type = cli_str(s, "type", "");
        if (json_is_object(s) && strcmp(type, "threads") == 0)
            return s;
    }
    return NULL;
}

const json_t *cli_thread_list(const json_t *section)
{
    static json_t *empty;
    const json_t *list = json_object_get(section, "threads");
    if (json_is_array(list))
        return list;
    if (!empty)
        empty = json_array();
    return empty;
}

char *cli_stack_key(const json_t *thread)
{
    char *key = NULL;
    size_t klen = 0;
    FILE *f = open_memstream(&key, &klen);
    if (!f)
        return NULL;
    size_t i;
    const json_t *fr;
    json_array_foreach(json_object_get(thread, "frames"), i, fr)
    {
        if (!json_is_object(fr))
            continue;
        const char *fn = cli_str(fr, "function", NULL);
        const char *file = cli_str(fr, "file", NULL);
        const char *module = cli_str(fr, "module", NULL);
        const char *offset = cli_str(fr, "offset", NULL);
        if (fn)
            fprintf(f, "%s", fn);
        else if (!module)
            fprintf(f, "%s", cli_str(fr, "pc", "??"));
        if (file)
            fprintf(f, " %s:%lld", file, cli_int(fr, "line", 0));
        if (module)
            fprintf(f, " %s+%s", module, offset ? offset : "?");
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(key);
        return NULL;
    }
    return key;
}

/* Leaves at most one newline at the end of @text. */
static char *trim_end(char *text)
{
    size_t n = text ? strlen(text) : 0;
    while (n > 1 && text[n - 1] == '\n' && text[n - 2] == '\n')
        text[--n] = '\0';
    return text;
}

/*
 * @mini (a report without a header) rendered by the library as text, minus its framing: the
 * 3 banner lines, the rule of '|', "libgmr report, format X", the empty line of the missing
 * header and the next banner's 3 lines (the section's, or the deadlock banner); a final empty
 * line is dropped too.  Takes @mini's reference.  New string (free()) or NULL.
 */
static char *render_body(json_t *mini)
{
    char *doc = mini ? json_dumps(mini, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(mini);
    if (!doc)
        return NULL;
    char *text = NULL;
    int mem = memfd_create("gmr-section", MFD_CLOEXEC);
    if (mem >= 0 && gmr_render_report(doc, strlen(doc), GMR_FORMAT_TEXT, mem) == 0) {
        off_t size = lseek(mem, 0, SEEK_END);
        text = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (text && pread(mem, text, (size_t)size, 0) == size) {
            text[size] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    if (mem >= 0)
        close(mem);
    free(doc);
    if (!text)
        return NULL;
    char *p = text;
    for (int skip = 0; skip < 9 && p; skip++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p) {
        free(text);
        return NULL;
    }
    size_t blen = strlen(p);
    if (blen > 0 && p[blen - 1] == '\n' && (blen == 1 || p[blen - 2] == '\n'))
        p[blen - 1] = '\0';
    memmove(text, p, strlen(p) + 1);
    return text;
}

char *cli_section_text(const json_t *report, const json_t *section)
{
    return trim_end(render_body(json_pack("{s:O,s:[O]}", "format_version",
                                 json_object_get(report, "format_version"), "sections", section)));
}

char *cli_deadlock_text(const json_t *report)
{
    const json_t *deadlocks = json_object_get(report, "deadlocks");
    if (json_array_size(deadlocks) == 0)
        return NULL;
    return trim_end(render_body(json_pack("{s:O,s:O,s:[]}", "format_version",
                                 json_object_get(report, "format_version"), "deadlocks",
                                 deadlocks, "sections")));
}

char *cli_thread_text(const json_t *report, const json_t *section, const json_t *thread)
{
    json_t *one = json_copy((json_t *)section); /* shallow: only "threads" differs */
    if (!one || json_object_set_new(one, "threads", json_pack("[O]", thread)) < 0 ||
        json_object_set_new(one, "group_identical", json_false()) < 0) {
        json_decref(one);
        return NULL;
    }
    char *text = cli_section_text(report, one);
    json_decref(one);
    if (!text)
        return NULL;
    /* Everything after the thread's "------  Thread #TID (name)  ------" line. */
    char *p = strstr(text, "------");
    p = p ? strchr(p, '\n') : NULL;
    if (!p) {
        free(text);
        return NULL;
    }
    memmove(text, p + 1, strlen(p + 1) + 1);
    return trim_end(text);
}
