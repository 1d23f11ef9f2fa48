/*
 * Fuzz target: gmr_render_report(), the reader of saved JSON reports (what `gmr render` runs
 * over files that may come from anywhere).
 *
 * Besides not crashing, it checks the reader's promises: only the documented results; a
 * report that renders as text also renders as JSON, and the text rendered from that JSON is
 * the same text (the JSON view loses nothing the text view shows).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmr/gmr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort(); /* a broken promise is a finding */
}

/* Renders into a memfd and returns the bytes (malloc'd, NUL-terminated), or NULL. */
static char *render(const char *json, size_t len, enum gmr_format format, int *ret_r,
                    size_t *ret_len)
{
    int fd = memfd_create("render", MFD_CLOEXEC);
    *ret_r = -EIO;
    if (fd < 0)
        return NULL;
    int r = gmr_render_report(json, len, format, fd);
    *ret_r = r;
    check(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -ENOMEM);
    char *out = NULL;
    off_t end = lseek(fd, 0, SEEK_END);
    if (r == 0 && end >= 0 && (out = malloc((size_t)end + 1))) {
        ssize_t got = pread(fd, out, (size_t)end, 0);
        check(got == end);
        out[end] = '\0';
        *ret_len = (size_t)end;
    }
    close(fd);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int r_text, r_json, r_again;
    size_t text_len = 0, json_len = 0, again_len = 0;
    char *text = render((const char *)data, size, GMR_FORMAT_TEXT, &r_text, &text_len);
    char *json = render((const char *)data, size, GMR_FORMAT_JSON, &r_json, &json_len);
    if (r_text == 0 && text && r_json != -ENOMEM) {
        check(r_json == 0);
        if (json) {
            char *again = render(json, json_len, GMR_FORMAT_TEXT, &r_again, &again_len);
            if (r_again != -ENOMEM && again) {
                check(r_again == 0);
                check(again_len == text_len && memcmp(again, text, text_len) == 0);
            }
            free(again);
        }
    }
    /* A bad descriptor is refused before the input is read. */
    check(gmr_render_report((const char *)data, size, GMR_FORMAT_TEXT, -1) == -EINVAL);
    free(text);
    free(json);
    return 0;
}
