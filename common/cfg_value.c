/*
 * common/cfg_value.c - checks of one setting's value (see cfg_internal.h)
 *
 * Each answers yes or no about one value (cfg_file_readable also looks at
 * the file it names); no message is written here: the caller (cfg.c's
 * apply) names the setting and what it expected.
 */
#include "cfg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* cfg_parse_uint - decimal digits only (no sign, no spaces), at most max. */
bool cfg_parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    unsigned long long n = 0;
    if (!*v)
        return false;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        unsigned d = (unsigned)(*c - '0');
        if (d > max || n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* cfg_parse_seconds - digits[.digits], no exponent, no sign, within [0, max].
 * Converted by hand: strtod() would depend on the locale's decimal point. */
bool cfg_parse_seconds(const char *v, double max, double *out)
{
    double d = 0, scale = 1;
    size_t digits = 0;
    const char *c = v;
    if (strlen(v) > 32)
        return false;
    for (; *c >= '0' && *c <= '9'; c++, digits++)
        d = d * 10 + (*c - '0');
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9'; c++, digits++)
            d += (*c - '0') * (scale /= 10);
    if (*c || digits == 0 || !(d <= max))
        return false;
    *out = d;
    return true;
}

/* cfg_parse_bool - click's words, any case, surrounding spaces ignored. */
bool cfg_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off"};
    while (cfg_is_space(*v))
        v++;
    size_t len = strlen(v);
    while (len && cfg_is_space(v[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strlen(yes[i]) == len && strncasecmp(v, yes[i], len) == 0) {
            *out = true;
            return true;
        }
        if (strlen(no[i]) == len && strncasecmp(v, no[i], len) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* cfg_host_ok - a host name or address: letters, digits and . - _ : % [ ]. */
bool cfg_host_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(cfg_is_name_char(c) || c == '.' || c == '-' || c == ':' || c == '%' || c == '[' ||
              c == ']'))
            return false;
    }
    return true;
}

/* cfg_token_ok - an HTTP header name (RFC 9110 token). */
bool cfg_token_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!cfg_is_name_char(s[i]) && !strchr("!#$%&'*+-.^`|~", s[i]))
            return false;
    return true;
}

bool cfg_has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* authority_ok - host[:port] of a URL, len bytes: a non-empty host (an
 * IPv6 address in brackets) and, when given, a port from 1 to 65535. */
static bool authority_ok(const char *s, size_t len)
{
    const char *close = len && s[0] == '[' ? memchr(s, ']', len) : NULL;
    const char *from = close ? close : s;
    const char *colon = memchr(from, ':', len - (size_t)(from - s));
    if (!colon)
        return cfg_host_ok(s, len);
    char digits[8];
    size_t n = len - (size_t)(colon - s) - 1;
    unsigned long long port;
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, colon + 1, n);
    digits[n] = '\0';
    return cfg_parse_uint(digits, 65535, &port) && port > 0 && cfg_host_ok(s, (size_t)(colon - s));
}

/* cfg_http_url_ok - http(s)://[user@]host[:port][/...]; with need_user, the
 * user part (the Sentry DSN key) must be there. */
bool cfg_http_url_ok(const char *v, bool need_user)
{
    const char *rest;
    if (cfg_has_prefix_ci(v, "https://"))
        rest = v + 8;
    else if (cfg_has_prefix_ci(v, "http://"))
        rest = v + 7;
    else
        return false;
    size_t auth_len = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', auth_len);
    if (need_user && (!at || at == rest))
        return false;
    const char *host = at ? at + 1 : rest;
    return authority_ok(host, auth_len - (size_t)(host - rest));
}

/* cfg_backend_addr_ok - parsec://host[:port][/][?no_ssl=true|false].  Stricter
 * than Parsec's BackendAddr (oxidation/libparsec/crates/types/src/addr.rs),
 * which ignored a path and other parameters: here they are refused, since
 * they would be dropped silently. */
bool cfg_backend_addr_ok(const char *v)
{
    if (!cfg_has_prefix_ci(v, "parsec://"))
        return false;
    const char *h = v + 9;
    size_t auth_len = strcspn(h, "/?#");
    if (!authority_ok(h, auth_len))
        return false;
    const char *rest = h + auth_len;
    if (*rest == '/')
        rest++;
    if (!*rest)
        return true;
    if (*rest != '?')
        return false;
    rest++;
    return strcasecmp(rest, "no_ssl=true") == 0 || strcasecmp(rest, "no_ssl=false") == 0;
}

/* email_addr_ok - local@domain, roughly: one '@', both sides non-empty,
 * nothing that would break a header or an SMTP command. */
static bool email_addr_ok(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || strchr("<>()[],;:\"\\", s[i]))
            return false;
    return true;
}

/* cfg_email_sender_ok - "addr" or "Name <addr>". */
bool cfg_email_sender_ok(const char *v)
{
    const char *lt = strchr(v, '<');
    if (!lt)
        return email_addr_ok(v, strlen(v));
    size_t len = strlen(v);
    if (v[len - 1] != '>' || strchr(lt + 1, '<') || memchr(v, '>', (size_t)(lt - v)))
        return false;
    return email_addr_ok(lt + 1, (size_t)(v + len - 1 - (lt + 1)));
}

/* cfg_file_readable - a regular file we can open for reading; errno-style
 * reason in *why otherwise.  O_NONBLOCK: a FIFO must not hang the start. */
bool cfg_file_readable(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *why = strerror(errno);
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!ok)
        *why = "not a regular file";
    return ok;
}
