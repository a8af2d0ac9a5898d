/*
 * common/proto_header.c - the request headers the protocol defines:
 * Content-Type, Api-Version and Authorization (see proto.h)
 */
#include "proto_internal.h"

#include "crypto.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool proto_bearer(const char *header, const char **tok, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
        return false;
    const char *t = header + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    *tok = t;
    *len = n;
    return true;
}

bool proto_content_type_ok(const char *header)
{
    static const char type[] = "application/json";
    if (!header)
        return false;
    const char *p = skip_ows(header);
    if (strncasecmp(p, type, sizeof type - 1) != 0)
        return false;
    p = skip_ows(p + sizeof type - 1);
    if (*p == '\0')
        return true;
    if (*p != ';')
        return false;
    p = skip_ows(p + 1);
    if (strncasecmp(p, "charset=", 8) != 0)
        return false;
    p += 8;
    bool quoted = *p == '"';
    if (quoted)
        p++;
    if (strncasecmp(p, "utf-8", 5) != 0)
        return false;
    p += 5;
    if (quoted && *p++ != '"')
        return false;
    return *skip_ows(p) == '\0';
}

/* ---- API version --------------------------------------------------------------------- */

bool proto_api_version_ok(const char *header)
{
    if (!header)
        return true;
    const char *dot = strchr(header, '.');
    if (!dot)
        return false;
    size_t nmajor = (size_t)(dot - header), nminor = strlen(dot + 1);
    unsigned major, minor;
    if (nmajor < 1 || nmajor > 5 || nminor < 1 || nminor > 5 ||
        !proto_digits(header, nmajor, &major) || !proto_digits(dot + 1, nminor, &minor))
        return false;
    return major == PROTO_API_VERSION_MAJOR;
}

/* ---- Authorization ------------------------------------------------------------------- */

/* Decode one base64url token part to a NUL-free string in the arena. */
static const char *auth_part_text(arena_t *a, const char *s, size_t n)
{
    size_t len;
    uint8_t *raw = crypto_b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    char *out = NULL;
    if (!memchr(raw, 0, len))
        out = arena_strndup(a, (const char *)raw, len);
    free(raw);
    return out;
}

bool proto_auth_parse(arena_t *a, const char *header, proto_auth_t *out, const char **why)
{
    static const char scheme[] = PROTO_AUTH_SCHEME;
    const size_t ns = sizeof scheme - 1;
    memset(out, 0, sizeof *out);
    if (!header) {
        *why = "missing Authorization header";
        return false;
    }
    size_t hn = strlen(header);
    if (hn > PROTO_AUTH_MAX) {
        *why = "Authorization header too long";
        return false;
    }
    if (hn < ns + 1 || strncasecmp(header, scheme, ns) != 0 || header[ns] != ' ') {
        *why = "Authorization scheme is not " PROTO_AUTH_SCHEME;
        return false;
    }
    const char *tok = header + ns + 1;
    /* four parts separated by exactly three dots */
    const char *dot[3];
    size_t ndots = 0;
    for (const char *p = tok; *p; p++) {
        if (*p == '.') {
            if (ndots == 3) {
                *why = "malformed token";
                return false;
            }
            dot[ndots++] = p;
        }
    }
    if (ndots != 3) {
        *why = "malformed token";
        return false;
    }
    const char *org_s = tok, *dev_s = dot[0] + 1, *ts_s = dot[1] + 1, *sig_s = dot[2] + 1;
    size_t org_n = (size_t)(dot[0] - org_s), dev_n = (size_t)(dot[1] - dev_s),
           ts_n = (size_t)(dot[2] - ts_s), sig_n = strlen(sig_s);

    const char *org = auth_part_text(a, org_s, org_n);
    if (!org || !proto_valid_organization_id(org)) {
        *why = "bad organization in token";
        return false;
    }
    const char *dev = auth_part_text(a, dev_s, dev_n);
    if (!dev || !proto_valid_device_id(dev)) {
        *why = "bad device in token";
        return false;
    }
    if (ts_n < 1 || ts_n > 12 || (ts_n > 1 && ts_s[0] == '0')) {
        *why = "bad timestamp in token";
        return false;
    }
    int64_t ts = 0;
    for (size_t k = 0; k < ts_n; k++) {
        if (!proto_is_digit((uint8_t)ts_s[k])) {
            *why = "bad timestamp in token";
            return false;
        }
        ts = ts * 10 + (ts_s[k] - '0');
    }
    size_t siglen;
    uint8_t *sig = crypto_b64url_decode(sig_s, sig_n, &siglen);
    if (!sig || siglen != 64) {
        free(sig);
        *why = "bad signature encoding in token";
        return false;
    }
    memcpy(out->signature, sig, 64);
    free(sig);

    out->organization_id = org;
    out->device_id = dev;
    out->timestamp = ts;
    out->token = arena_strdup(a, tok);
    /* the signed text always spells the scheme in upper case */
    char *signed_part = arena_printf(a, "%s.%.*s", scheme, (int)(dot[2] - tok), tok);
    out->signed_part = signed_part;
    out->signed_len = strlen(signed_part);
    *why = NULL;
    return true;
}

bool proto_auth_fresh(const proto_auth_t *auth, int64_t server_now_us)
{
    return proto_ballpark_ok(server_now_us, auth->timestamp * 1000000);
}
