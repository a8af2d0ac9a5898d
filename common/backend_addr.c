/*
 * common/backend_addr.c - the server's public address (see backend_addr.h)
 *
 * The reading follows Parsec's BaseBackendAddr
 * (oxidation/libparsec/crates/types/src/addr.rs): use_ssl unless no_ssl is
 * true, default ports 443 and 80 dropped.
 */
#include "backend_addr.h"

#include "xalloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool is_ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* host_ok - s[0..len) is a name, or an IPv6 address in brackets. */
static bool host_ok(const char *s, size_t len)
{
    if (len == 0 || len > BACKEND_ADDR_HOST_MAX)
        return false;
    if (s[0] == '[') {
        if (len < 4 || s[len - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < len; i++)
            if (!is_ipv6_char(s[i]))
                return false;
        return true;
    }
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]))
            return false;
    return true;
}

bool backend_addr_parse(const char *url, backend_addr_t *out)
{
    if (!url || strncasecmp(url, "parsec://", 9) != 0)
        return false;
    const char *h = url + 9;
    size_t alen = strcspn(h, "/?#");
    const char *rest = h + alen;

    /* host, then an optional :port after it (an IPv6 address holds colons) */
    const char *host_end = h[0] == '[' ? memchr(h, ']', alen) : memchr(h, ':', alen);
    if (h[0] == '[')
        host_end = host_end ? host_end + 1 : NULL;
    else if (!host_end)
        host_end = h + alen;
    if (!host_end)
        return false;
    size_t hl = (size_t)(host_end - h);
    if (!host_ok(h, hl))
        return false;
    long port = 0;
    if (host_end < h + alen) {
        if (*host_end != ':')
            return false;
        size_t pl = (size_t)(h + alen - host_end - 1);
        if (pl == 0 || pl > 5)
            return false;
        for (size_t i = 1; i <= pl; i++) {
            if (host_end[i] < '0' || host_end[i] > '9')
                return false;
            port = port * 10 + (host_end[i] - '0');
        }
        if (port < 1 || port > 65535)
            return false;
    }

    if (*rest == '/')
        rest++;
    bool use_ssl = true;
    if (*rest == '?') {
        if (strcasecmp(rest + 1, "no_ssl=true") == 0)
            use_ssl = false;
        else if (strcasecmp(rest + 1, "no_ssl=false") != 0)
            return false;
    } else if (*rest) {
        return false; /* a path or a fragment */
    }

    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    out->use_ssl = use_ssl;
    out->port = port == (use_ssl ? 443 : 80) ? 0 : (int)port;
    return true;
}

bool backend_addr_netloc(const backend_addr_t *a, char *buf, size_t size)
{
    int n = a->port ? snprintf(buf, size, "%s:%d", a->host, a->port)
                    : snprintf(buf, size, "%s", a->host);
    return n >= 0 && (size_t)n < size;
}

char *backend_addr_http_url(const backend_addr_t *a)
{
    char netloc[BACKEND_ADDR_HOST_MAX + 8];
    if (!backend_addr_netloc(a, netloc, sizeof netloc))
        return NULL; /* cannot happen: the host is bounded */
    return xasprintf("%s://%s", a->use_ssl ? "https" : "http", netloc);
}
