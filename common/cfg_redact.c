/*
 * common/cfg_redact.c - secrets masked out of URLs and DSNs before a setting
 * is shown in a message or a log (see cfg.h, cfg_redact_url)
 */
#include "cfg_internal.h"

#include "xalloc.h"

#include <string.h>
#include <strings.h>

/* cfg_redact_dsn - a Sentry DSN with its key (everything before '@') masked. */
char *cfg_redact_dsn(const char *dsn)
{
    const char *sep = strstr(dsn, "://");
    const char *at = strrchr(dsn, '@');
    if (!sep || !at || at < sep)
        return xstrdup("***");
    return xasprintf("%.*s***%s", (int)(sep + 3 - dsn), dsn, at);
}

/* redact_query - copy a query string, values of *password parameters masked. */
static void redact_query(strbuf_t *s, const char *q)
{
    while (*q) {
        size_t plen = strcspn(q, "&#");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (eq && klen >= 8 && strncasecmp(q + klen - 8, "password", 8) == 0) {
            strbuf_append(s, q, klen + 1);
            strbuf_puts(s, "***");
        } else {
            strbuf_append(s, q, plen);
        }
        q += plen;
        if (*q == '&') {
            strbuf_putc(s, '&');
            q++;
        } else if (*q == '#') {
            strbuf_puts(s, q);
            break;
        }
    }
}

/*
 * cfg_redact_url - see cfg.h.  The user part ends at the LAST '@' after
 * "://": a password with an unencoded '@' or '/' is then masked whole
 * rather than half shown, at the price of masking odd URLs too much.
 */
char *cfg_redact_url(const char *url)
{
    if (!url)
        return NULL;
    strbuf_t s = STRBUF_INIT;
    const char *sep = strstr(url, "://");
    const char *rest = url;
    if (sep) {
        const char *auth = sep + 3;
        const char *at = strrchr(auth, '@');
        strbuf_append(&s, url, (size_t)(auth - url));
        rest = auth;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                strbuf_append(&s, auth, (size_t)(colon - auth) + 1);
                strbuf_puts(&s, "***");
            } else {
                strbuf_append(&s, auth, (size_t)(at - auth));
            }
            rest = at;
        }
    }
    const char *q = strchr(rest, '?');
    if (q) {
        strbuf_append(&s, rest, (size_t)(q - rest) + 1);
        redact_query(&s, q + 1);
    } else {
        strbuf_puts(&s, rest);
    }
    return strbuf_detach(&s);
}
