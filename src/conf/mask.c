/*
 * Masking of secrets before they enter a report: passwords inside URLs, and names that look
 * like they hold secrets.  Both err on the side of hiding too much.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "conf/conf-internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#define MASK "***"

/* ASCII only: the result must not depend on the application's locale. */
static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_scheme_char(char c)
{
    return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

/* Characters that cannot be part of a URL written in a configuration value. */
static bool ends_url(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == '"' || c == '\'' || c == '<' || c == '>';
}

static const char *find_byte(const char *from, const char *to, char c)
{
    return from < to ? memchr(from, c, (size_t)(to - from)) : NULL;
}

static const char *find_last_byte(const char *from, const char *to, char c)
{
    return from < to ? memrchr(from, c, (size_t)(to - from)) : NULL;
}

/*
 * Finds the end of the user-info of the entry starting at @s in the credentials area [@s,
 * @area_end) and where the next entry starts.  Multi-host URLs (oslo.messaging's
 * "rabbit://u:p@h1:5672,u:p@h2:5672/") hold several "userinfo@host" entries separated by
 * commas; a password may itself hold commas and '@'.  A comma ends an entry only once the
 * entry has reached an '@'; the last entry runs to the last '@' of the authority, so a
 * password with '@' in it is hidden whole.
 */
static const char *entry_userinfo_end(const char *s, const char *area_end, const char **ret_next)
{
    const char *c = s;
    for (;;) {
        const char *comma = find_byte(c, area_end, ',');
        if (!comma) {
            *ret_next = area_end;
            return area_end;
        }
        const char *at = find_last_byte(c, comma, '@');
        if (at) {
            *ret_next = comma + 1;
            return at;
        }
        c = comma + 1;
    }
}

/* Copies what precedes the password after @colon, then "***" instead of it up to @end. */
static int mask_range(struct gmr__buf *out, const char **copied, const char *colon, const char *end)
{
    gmr__buf_append(out, *copied, (size_t)(colon + 1 - *copied));
    gmr__buf_puts(out, MASK);
    *copied = end;
    return 1;
}

/* The URL pass of gmr__mask_url_credentials(). */
static int mask_urls(const char *value, char **ret)
{
    struct gmr__buf out = GMR_BUF_INIT;
    const char *copied = value; /* everything before this is in @out */
    const char *from = value;
    const char *p;
    int masked = 0;

    while ((p = strstr(from, "://"))) {
        const char *auth = p + 3;
        const char *end = auth;
        while (!ends_url(*end))
            end++;
        /* Another URL glued to this one ("a://...,b://..."): stop before its scheme. */
        const char *next = memmem(auth, (size_t)(end - auth), "://", 3);
        if (next) {
            while (next > auth && is_scheme_char(next[-1]))
                next--;
            end = next;
        }
        from = end;

        /*
         * The authority ends at the first '/', '?' or '#' after its first '@'; looking only
         * after the '@' keeps a password holding '/' or '#' inside the masked part.
         */
        const char *first_at = find_byte(auth, end, '@');
        if (!first_at)
            continue;
        const char *auth_end = first_at;
        while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
            auth_end++;
        const char *last_at = find_last_byte(auth, auth_end, '@');

        /*
         * An entry whose user-info has no ':' after one that has ("u:p@ss,word@db") is most
         * likely the rest of a password holding ",": it extends the previous password.
         */
        const char *pend_colon = NULL, *pend_end = NULL;
        for (const char *s = auth; s < last_at;) {
            const char *following;
            const char *ui_end = entry_userinfo_end(s, last_at, &following);
            const char *colon = find_byte(s, ui_end, ':');
            if (colon) {
                if (pend_colon)
                    masked += mask_range(&out, &copied, pend_colon, pend_end);
                pend_colon = colon;
            }
            if (pend_colon)
                pend_end = ui_end;
            s = following;
        }
        if (pend_colon)
            masked += mask_range(&out, &copied, pend_colon, pend_end);
    }
    gmr__buf_puts(&out, copied);
    char *s = gmr__buf_steal(&out, NULL);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return masked;
}

/* strstr() ignoring ASCII case; @needle is upper case. */
static bool contains_upper(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i]) {
            char c = hay[i];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            if (c != needle[i])
                break;
            i++;
        }
        if (i == n)
            return true;
    }
    return false;
}

bool gmr__mask_name_is_secret(const char *name)
{
    static const char *const words[] = {
        "PASSWORD", "PASSWD",     "PASSPHRASE", "SECRET",  "TOKEN",
        "KEY",      "CREDENTIAL", "AUTH",       "PRIVATE", "COOKIE",  "SESSION",
    };
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (contains_upper(name, words[i]))
            return true;
    }
    return false;
}

/* Bytes that separate "key=value" pairs in connection strings and query strings. */
static bool ends_pair(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || c == ',' ||
           c == '&';
}

static bool is_key_char(char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Whether @key (@n bytes) names a secret: a secret-looking name, or ODBC's "PWD". */
static bool secret_key(const char *key, size_t n)
{
    char name[64];
    if (n == 0 || n >= sizeof(name))
        return false;
    memcpy(name, key, n);
    name[n] = '\0';
    return gmr__mask_name_is_secret(name) || strcasecmp(name, "PWD") == 0;
}

/*
 * The keyword pass: the value of every "KEY=VALUE" inside @value whose KEY looks secret, as in
 * libpq ("host=db user=nova password=s3cret"), ODBC ("Uid=nova;Pwd=s3cret") and query strings
 * ("?x=1&token=abc").  A quoted value is masked up to its closing quote.
 */
static int mask_keywords(const char *value, char **ret)
{
    struct gmr__buf out = GMR_BUF_INIT;
    const char *copied = value;
    int masked = 0;
    for (const char *eq = strchr(value, '='); eq; eq = strchr(eq + 1, '=')) {
        const char *key = eq;
        while (key > copied && is_key_char(key[-1]))
            key--;
        bool starts = key == value || strchr(" \t\n\r;,&?(\"'", key[-1]);
        if (!starts || !secret_key(key, (size_t)(eq - key)))
            continue;
        const char *v = eq + 1, *end;
        if (*v == '"' || *v == '\'') {
            const char *close = strchr(v + 1, *v);
            v++;
            end = close ? close : v + strlen(v);
        } else {
            end = v;
            while (!ends_pair(*end))
                end++;
        }
        size_t len = (size_t)(end - v);
        if (len == 0 || (len == sizeof(MASK) - 1 && memcmp(v, MASK, len) == 0))
            continue;
        gmr__buf_append(&out, copied, (size_t)(v - copied));
        gmr__buf_puts(&out, MASK);
        copied = end;
        masked++;
        eq = end - 1; /* end > v > eq: the next '=' is searched from @end */
    }
    gmr__buf_puts(&out, copied);
    char *s = gmr__buf_steal(&out, NULL);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return masked;
}

int gmr__mask_url_credentials(const char *value, char **ret)
{
    char *urls = NULL;
    int n = mask_urls(value, &urls);
    if (n < 0)
        return n;
    int k = mask_keywords(urls, ret);
    gmr__free(urls);
    return k < 0 ? k : n + k;
}
