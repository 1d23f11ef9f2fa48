/*
 * The report model and its views.
 *
 * The model is a jansson tree (see docs/report-format.md):
 *   { "format_version": "1.0", "header": {...}, "sections": [ {title, type, ...}, ... ] }
 * Views render it; the text view renders a model loaded from a saved JSON report exactly as
 * it renders the live one, because the live text report is rendered from the same tree.
 *
 * Context: reporter thread or caller context; never a signal handler.
 */
#ifndef GMR_RENDER_RENDER_H
#define GMR_RENDER_RENDER_H

#include <jansson.h>
#include <stdbool.h>

#include <gmr/gmr.h>

#include "util/buf.h"

#define GMR_FORMAT_VERSION "1.0"
#define GMR_FORMAT_MAJOR   1

/* Width of the banners, as in oslo.reports. */
#define GMR_BANNER_WIDTH 72

/* Deepest nesting of objects and lists a section may write. */
#define GMR_WRITER_MAX_DEPTH 32
/* Longest value a section may write, in bytes; longer ones are cut with "...". */
#define GMR_WRITER_MAX_VALUE (64 * 1024)

struct gmr_writer {
    json_t *stack[GMR_WRITER_MAX_DEPTH + 1]; /* borrowed; [0] is the section's data object */
    int depth;                               /* index of the innermost open container */
};

/* Starts a writer that fills @data (an object, borrowed). */
void gmr__writer_init(struct gmr_writer *w, json_t *data);

/*
 * gmr__json_string() - a new JSON string from @s; bytes that are not valid UTF-8 become
 * U+FFFD, so any C string can enter the model.  Return: new reference or NULL (ENOMEM).
 */
json_t *gmr__json_string(const char *s);

/* Sets @key of @obj to a new string built from @s (see gmr__json_string()); 0 or -ENOMEM. */
int gmr__json_set_str(json_t *obj, const char *key, const char *s);

/*
 * gmr__model_section() - append a new section to the report model.
 * @report: the report model
 * @title:  section title; copied
 * @type:   the view that renders it ("kv" for key/value data); copied
 * Return: the section object (borrowed from @report), or NULL (ENOMEM).
 */
json_t *gmr__model_section(json_t *report, const char *title, const char *type);

/* Records that @section failed: "error": @msg.  Return: 0 or -ENOMEM. */
int gmr__model_section_error(json_t *section, const char *msg);

/*
 * gmr__render_text() - render a report model as text, appended to @out.
 * Return: 0; -EINVAL (not a report model of a known major format version); -ENOMEM.
 */
int gmr__render_text(const json_t *report, struct gmr__buf *out);

/* gmr__render_json() - render a report model as one JSON document plus a newline. */
int gmr__render_json(const json_t *report, struct gmr__buf *out);

/*
 * Text views of the typed sections.  Each appends the body of @section (its banner is already
 * written) to @out at indentation 0.  Declared here, defined beside the module that builds
 * the section's model.
 */
void gmr__text_banner(struct gmr__buf *out, char fill, const char *title);
void gmr__text_kv(struct gmr__buf *out, const json_t *data, int indent);
/*
 * gmr__text_scalar() - a scalar; a string's newlines continue it on lines indented to
 * @indent, or with @indent GMR_TEXT_ONE_LINE are written as \x0a like other control bytes.
 */
#define GMR_TEXT_ONE_LINE (-1)
void gmr__text_scalar(struct gmr__buf *out, const json_t *value, int indent);
void gmr__text_threads(struct gmr__buf *out, const json_t *section);
void gmr__text_green_threads(struct gmr__buf *out, const json_t *section);
void gmr__text_configuration(struct gmr__buf *out, const json_t *section);
void gmr__text_processes(struct gmr__buf *out, const json_t *section);
void gmr__text_diag(struct gmr__buf *out, const json_t *section);

/*
 * The lock analysis (docs/locks.md): gmr__text_deadlocks() writes the report's "deadlocks"
 * under a banner (nothing when there are none); gmr__text_waiting_for() writes what @thread
 * waits for ("mutex queue_lock (0x...), held by Thread #12 (worker)"), without a newline.
 */
/*
 * gmr__text_frames() - the frame lines of @obj (a thread or a coroutine: its "frames",
 * "more_frames", "more_frames_exact" and "unwind_error"), as the Threads section shows them.
 */
void gmr__text_frames(struct gmr__buf *out, const json_t *obj);

void gmr__text_deadlocks(struct gmr__buf *out, const json_t *report);
void gmr__text_waiting_for(struct gmr__buf *out, const json_t *thread);

#endif /* GMR_RENDER_RENDER_H */
