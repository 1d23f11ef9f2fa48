/*
 * Text views of the diagnostics sections whose data reads best as a table or needs a note:
 * "environment" (key = value lines, as kv), "limits", "open_files" and "shared_objects"
 * (aligned columns, the last one unpadded).  Like every view, they read only the model.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "util/macro.h"

#define COL_GAP   2
#define COL_MAX   44 /* widest padded column; longer cells push the row out */
#define CELL_SIZE 4608

/* Display width of @s once written by put_cell(): control bytes take 4 columns (\xNN). */
static size_t cell_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            w += 4;
        else if ((*p & 0xC0) != 0x80) /* count UTF-8 sequences once */
            w++;
    }
    return w;
}

/* Writes @s on one line: no byte of it can break the table or drive the terminal. */
static void put_cell(struct gmr__buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            gmr__buf_printf(out, "\\x%02x", *p);
        else
            gmr__buf_putc(out, (char)*p);
    }
}

/* Text of a scalar member of @row: strings as they are, integers in decimal, else "". */
static const char *scalar(const json_t *row, const char *key, char *buf, size_t size)
{
    const json_t *v = json_object_get(row, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return "";
}

struct column {
    const char *header;
    const char *key;
    /* Optional: the cell's text when it is not simply the member @key. */
    const char *(*cell)(const json_t *row, const char *key, char *buf, size_t size);
    bool right; /* right-aligned (numbers); never the last column */
};

/* Writes @s padded to @width (+ the gap unless @last), aligned as @col says. */
static void put_padded(struct gmr__buf *out, const struct column *col, const char *s, size_t width,
                       bool last)
{
    size_t w = cell_width(s);
    size_t pad = w < width ? width - w : 0;
    if (col->right)
        gmr__buf_repeat(out, ' ', pad);
    put_cell(out, s);
    if (!last)
        gmr__buf_repeat(out, ' ', (col->right ? 0 : pad) + COL_GAP);
}

static void text_table(struct gmr__buf *out, const json_t *rows, const struct column *cols,
                       size_t ncols)
{
    size_t width[8] = {0};
    char buf[CELL_SIZE];
    assert(ncols <= GMR_ELEMENTSOF(width));
    for (size_t c = 0; c < ncols; c++)
        width[c] = strlen(cols[c].header);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c + 1 < ncols; c++) {
            const char *s =
                (cols[c].cell ? cols[c].cell : scalar)(row, cols[c].key, buf, sizeof(buf));
            width[c] = GMR_MAX(width[c], GMR_MIN(cell_width(s), (size_t)COL_MAX));
        }
    }
    for (size_t c = 0; c < ncols; c++)
        put_padded(out, &cols[c], cols[c].header, width[c], c + 1 == ncols);
    gmr__buf_putc(out, '\n');
    json_array_foreach(rows, i, row)
    {
        if (!json_is_object(row))
            continue;
        for (size_t c = 0; c < ncols; c++) {
            const char *s =
                (cols[c].cell ? cols[c].cell : scalar)(row, cols[c].key, buf, sizeof(buf));
            put_padded(out, &cols[c], s, width[c], c + 1 == ncols);
        }
        gmr__buf_putc(out, '\n');
    }
}

/* The "note" and "not_shown" members every diagnostics section may carry. */
static void text_footer(struct gmr__buf *out, const json_t *section)
{
    const json_t *more = json_object_get(section, "not_shown");
    if (json_is_integer(more))
        gmr__buf_printf(out, "(%" JSON_INTEGER_FORMAT " more not shown)\n",
                        json_integer_value(more));
    const json_t *note = json_object_get(section, "note");
    if (json_is_string(note)) {
        gmr__buf_puts(out, "note: ");
        gmr__text_scalar(out, note, 6);
        gmr__buf_putc(out, '\n');
    }
}

/* A limit's soft value, or the reason it could not be read. */
static const char *limit_soft(const json_t *row, const char *key, char *buf, size_t size)
{
    const json_t *err = json_object_get(row, "error");
    return json_is_string(err) ? json_string_value(err) : scalar(row, key, buf, size);
}

static const struct column limit_cols[] = {
    {"resource", "resource", NULL}, {"description", "description", NULL},
    {"soft", "soft", limit_soft},   {"hard", "hard", NULL},
    {"unit", "unit", NULL},
};

/* A descriptor's target, with the position of regular files. */
static const char *fd_target(const json_t *row, const char *key, char *buf, size_t size)
{
    const char *t = scalar(row, key, buf, size);
    const json_t *pos = json_object_get(row, "pos");
    if (!json_is_integer(pos))
        return t;
    char tmp[CELL_SIZE];
    snprintf(tmp, sizeof(tmp), "%s", t);
    snprintf(buf, size, "%s (position %" JSON_INTEGER_FORMAT ")", tmp, json_integer_value(pos));
    return buf;
}

static const char *fd_flags(const json_t *row, const char *key, char *buf, size_t size)
{
    const char *s = scalar(row, key, buf, size);
    return *s ? s : "?";
}

static const struct column fd_cols[] = {
    {"fd", "fd", NULL, true},
    {"type", "type", NULL},
    {"flags", "flags", fd_flags},
    {"target", "target", fd_target},
};

static const char *object_build_id(const json_t *row, const char *key, char *buf, size_t size)
{
    const char *s = scalar(row, key, buf, size);
    return *s ? s : "(none)";
}

static const struct column object_cols[] = {
    {"base", "base", NULL},
    {"build_id", "build_id", object_build_id},
    {"path", "path", NULL},
};

/*
 * gmr__text_diag() - the text view of the "environment", "limits", "open_files" and
 * "shared_objects" section types (see src/sections/diag.h).
 * Context: reporter thread or caller context.
 */
void gmr__text_diag(struct gmr__buf *out, const json_t *section)
{
    const char *type = json_string_value(json_object_get(section, "type"));
    const json_t *data = json_object_get(section, "data");
    if (!type)
        return;
    if (json_is_object(data)) {
        gmr__text_kv(out, data, 0);
    } else if (json_is_array(data)) {
        if (strcmp(type, "limits") == 0)
            text_table(out, data, limit_cols, GMR_ELEMENTSOF(limit_cols));
        else if (strcmp(type, "open_files") == 0)
            text_table(out, data, fd_cols, GMR_ELEMENTSOF(fd_cols));
        else if (strcmp(type, "shared_objects") == 0)
            text_table(out, data, object_cols, GMR_ELEMENTSOF(object_cols));
    }
    const json_t *count = json_object_get(section, "count");
    if (strcmp(type, "open_files") == 0 && json_is_integer(count))
        gmr__buf_printf(out, "open descriptors: %" JSON_INTEGER_FORMAT "\n",
                        json_integer_value(count));
    text_footer(out, section);
}
