/*
 * gmr render FILE [--format text|html|json]: a saved JSON report as the live text view
 * (rendered by the library, byte for byte), re-indented JSON, or one self-contained HTML page.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "cli.h"

/* ---- HTML ---- */

static void html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fprintf(f, "&#xfffd;");
            else
                fputc(*s, f);
        }
    }
}

static const char style[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fafafa}"
    "h1{font-size:1.4em;margin:0 0 .4em}"
    "header{position:sticky;top:0;background:#fafafa;padding:.5em 0;border-bottom:1px solid #ccc}"
    "dl.hdr{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0}"
    "dl.hdr dt{font-weight:600}dl.hdr dd{margin:0;font-family:monospace}"
    "#q{width:100%;max-width:40em;font-size:1em;padding:.3em}"
    "details.sec{margin:.6em 0;background:#fff;border:1px solid #ddd;border-radius:4px}"
    "details.sec>summary{font-weight:600;padding:.4em .6em;cursor:pointer;background:#eef}"
    "details.thr{margin:.3em .6em;border-left:3px solid #99c;padding-left:.5em}"
    "details.thr>summary{cursor:pointer;font-family:monospace}"
    "pre{margin:.3em .6em;font-size:.9em;white-space:pre-wrap;word-break:break-all}"
    ".ln{display:block}.hide{display:none}.count{color:#666;font-weight:400}"
    ".err{color:#a00}"
    "section.dl{margin:.6em 0;background:#fff0f0;border:2px solid #c00;border-radius:4px}"
    "section.dl h2{font-size:1.1em;margin:0;padding:.4em .6em;color:#fff;background:#c00}";

/*
 * Filters lines and thread groups by the search box; a "#q=TEXT" fragment in the address
 * fills the box on load, so a filtered view can be linked.  No data is embedded in the script.
 */
static const char script[] =
    "(function(){var q=document.getElementById('q');"
    "function f(){var t=q.value.toLowerCase();"
    "document.querySelectorAll('.ln').forEach(function(e){"
    "e.classList.toggle('hide',t!==''&&e.textContent.toLowerCase().indexOf(t)<0);});"
    "document.querySelectorAll('details.thr').forEach(function(d){"
    "var m=t===''||d.textContent.toLowerCase().indexOf(t)>=0;d.classList.toggle('hide',!m);"
    "if(t!==''&&m)d.open=true;"
    "if(m)d.querySelectorAll('.ln').forEach(function(e){e.classList.remove('hide');});});"
    "document.querySelectorAll('details.sec').forEach(function(d){"
    "if(t!==''&&d.textContent.toLowerCase().indexOf(t)>=0)d.open=true;});}"
    "q.addEventListener('input',f);"
    "var h=decodeURIComponent(location.hash.slice(1));"
    "if(h.indexOf('q=')===0){q.value=h.slice(2);f();}})();";

/* Writes @text as <pre> with one filterable span per line. */
static void html_lines(FILE *f, const char *text)
{
    fputs("<pre>", f);
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        char *line = strndup(text, n);
        fputs("<span class=\"ln\">", f);
        html_escape(f, line);
        fputs("</span>", f);
        free(line);
        text += n + (nl ? 1 : 0);
    }
    fputs("</pre>\n", f);
}

/* Threads grouped by identical stacks, largest group first. */
static void html_threads(FILE *f, const json_t *report, const json_t *section)
{
    const json_t *list = cli_thread_list(section);
    size_t n = json_array_size(list);
    char **keys = calloc(n ? n : 1, sizeof(*keys));
    size_t *group = calloc(n ? n : 1, sizeof(*group));
    size_t *size = calloc(n ? n : 1, sizeof(*size));
    bool *done = calloc(n ? n : 1, sizeof(*done));
    if (!keys || !group || !size || !done)
        goto out;
    for (size_t i = 0; i < n; i++) {
        keys[i] = cli_stack_key(json_array_get(list, i));
        group[i] = i;
        for (size_t j = 0; j < i; j++) {
            if (keys[i] && keys[j] && group[j] == j && strcmp(keys[i], keys[j]) == 0 &&
                keys[i][0]) {
                group[i] = j;
                break;
            }
        }
        size[group[i]]++;
    }
    fprintf(f, "<p class=\"count\">%zu threads</p>\n", n);
    for (;;) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (group[i] == i && !done[i] && (best == n || size[i] > size[best]))
                best = i;
        }
        if (best == n)
            break;
        done[best] = true;
        const json_t *first = json_array_get(list, best);
        fputs("<details class=\"thr\" open><summary>", f);
        if (size[best] > 1)
            fprintf(f, "%zu threads with this stack: ", size[best]);
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            if (group[i] != best)
                continue;
            const json_t *t = json_array_get(list, i);
            fprintf(f, "%s#%lld", shown++ ? ", " : "Thread ", cli_int(t, "tid", 0));
            const char *name = cli_str(t, "name", NULL);
            if (name) {
                fputs(" (", f);
                html_escape(f, name);
                fputc(')', f);
            }
        }
        fputs("</summary>\n", f);
        char *text = cli_thread_text(report, section, first);
        if (text)
            html_lines(f, text);
        else
            fputs("<pre class=\"err\"><span class=\"ln\">(this thread could not be "
                  "rendered)</span></pre>\n",
                  f);
        free(text);
        fputs("</details>\n", f);
    }
    const char *error = cli_str(section, "error", NULL);
    if (error) {
        fputs("<pre class=\"err\"><span class=\"ln\">unavailable: ", f);
        html_escape(f, error);
        fputs("</span></pre>\n", f);
    }
out:
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(group);
    free(size);
    free(done);
}

int cli_render_html(const json_t *report, const char *data, size_t len, int fd)
{
    (void)data;
    (void)len;
    char *page = NULL;
    size_t plen = 0;
    FILE *f = open_memstream(&page, &plen);
    if (!f)
        return -ENOMEM;
    const json_t *header = json_object_get(report, "header");
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fputs("Guru Meditation: ", f);
    html_escape(f, cli_str(header, "service_name", "report"));
    fprintf(f, " (pid %lld)</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n"
               "<h1>Guru Meditation</h1>\n<dl class=\"hdr\">\n",
            cli_int(header, "pid", 0), style);
    fputs("<dt>format</dt><dd>", f);
    html_escape(f, cli_str(report, "format_version", "?"));
    fputs("</dd>\n", f);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)header, key, v)
    {
        fputs("<dt>", f);
        html_escape(f, key);
        fputs("</dt><dd>", f);
        if (json_is_string(v)) {
            html_escape(f, json_string_value(v));
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            html_escape(f, s);
            free(s);
        }
        fputs("</dd>\n", f);
    }
    fputs("</dl>\n<input id=\"q\" type=\"search\" placeholder=\"Filter lines and threads\" "
          "aria-label=\"Filter lines and threads\" autocomplete=\"off\">\n</header>\n<main>\n",
          f);
    char *deadlocks = cli_deadlock_text(report);
    if (deadlocks) {
        fputs("<section class=\"dl\" role=\"alert\"><h2>Deadlock detected</h2>\n", f);
        html_lines(f, deadlocks);
        fputs("</section>\n", f);
        free(deadlocks);
    }
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(report, "sections"), i, s)
    {
        if (!json_is_object(s))
            continue;
        fputs("<details class=\"sec\" open><summary>", f);
        html_escape(f, cli_str(s, "title", "(untitled)"));
        fputs("</summary>\n", f);
        if (strcmp(cli_str(s, "type", ""), "threads") == 0) {
            html_threads(f, report, s);
        } else {
            char *text = cli_section_text(report, s);
            if (text)
                html_lines(f, text);
            else
                fputs("<pre class=\"err\"><span class=\"ln\">(this section could not be "
                      "rendered)</span></pre>\n",
                      f);
            free(text);
        }
        fputs("</details>\n", f);
    }
    fprintf(f, "</main>\n<script>%s</script>\n</body>\n</html>\n", script);
    if (fclose(f) != 0) {
        free(page);
        return -ENOMEM;
    }
    int r = cli_write_all(fd, page, plen);
    free(page);
    return r;
}

/* ---- the command ---- */

int cmd_render(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *arg_format = "text";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            arg_format = optarg;
            break;
        case 'h':
            printf("gmr render FILE [--format text|html|json]\n");
            return EXIT_OK;
        default:
            return cli_bad_option("render", c, argv);
        }
    }
    if (optind != argc - 1) {
        cli_note("render: expected one FILE (or - for stdin)");
        return EXIT_USAGE;
    }
    if (strcmp(arg_format, "text") && strcmp(arg_format, "html") && strcmp(arg_format, "json")) {
        cli_note("render: unknown format '%s' (text, html or json)", arg_format);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    char *data = NULL;
    size_t len = 0;
    int r = cli_read_file(path, &data, &len);
    if (r < 0) {
        cli_error(r, "render: cannot read %s", path);
        return EXIT_FAILED;
    }
    char err[300];
    json_t *report = cli_load_report(data, len, err, sizeof(err));
    if (!report) {
        cli_note("render: %s: %s", path, err);
        free(data);
        return EXIT_FAILED;
    }
    if (strcmp(arg_format, "html") == 0)
        r = cli_render_html(report, data, len, STDOUT_FILENO);
    else
        r = gmr_render_report(data, len,
                              strcmp(arg_format, "json") == 0 ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT,
                              STDOUT_FILENO);
    json_decref(report);
    free(data);
    if (r < 0) {
        cli_error(r, "render: %s", path);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}
