/*
 * common/proto_valid.c - identifiers, labels, emails and UUIDs of the
 * protocol, validated (see proto.h)
 */
#include "proto_internal.h"

#include <string.h>

/* True iff s (valid UTF-8) holds a C0 or C1 control character or DEL. */
static bool has_control(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return true;
        /* U+0080..U+009F are encoded 0xc2 0x80..0x9f */
        if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

/* ---- identifiers ------------------------------------------------------------------- */

static bool valid_id(const char *s, size_t n)
{
    if (n < 1 || n > PROTO_ID_MAX)
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool proto_valid_organization_id(const char *s)
{
    return s && valid_id(s, strlen(s));
}

bool proto_valid_user_id(const char *s)
{
    return s && valid_id(s, strlen(s));
}

bool proto_valid_device_name(const char *s)
{
    return s && valid_id(s, strlen(s));
}

bool proto_valid_device_id(const char *s)
{
    if (!s)
        return false;
    const char *at = strchr(s, '@');
    if (!at)
        return false;
    return valid_id(s, (size_t)(at - s)) && valid_id(at + 1, strlen(at + 1));
}

char *proto_device_id_user(arena_t *a, const char *device_id)
{
    const char *at = strchr(device_id, '@');
    return arena_strndup(a, device_id, at ? (size_t)(at - device_id) : strlen(device_id));
}

bool proto_valid_device_label(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= PROTO_DEVICE_LABEL_MAX && proto_valid_utf8(s, n) && !has_control(s);
}

static bool is_atext(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

bool proto_valid_email(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n > PROTO_EMAIL_MAX || !at || strchr(at + 1, '@'))
        return false;
    size_t local = (size_t)(at - s);
    if (local < 1 || local > 64 || s[0] == '.' || s[local - 1] == '.')
        return false;
    for (size_t k = 0; k < local; k++) {
        if (s[k] == '.') {
            if (s[k + 1] == '.')
                return false;
        } else if (!is_atext(s[k])) {
            return false;
        }
    }
    const char *d = at + 1;
    size_t dn = strlen(d);
    if (dn < 1 || dn > 253)
        return false;
    /* at least two labels: Parsec 2.12's parser refuses "a@com" */
    if (!strchr(d, '.'))
        return false;
    size_t label = 0;
    for (size_t k = 0; k <= dn; k++) {
        char c = d[k];
        if (c == '.' || c == '\0') {
            if (label < 1 || label > 63 || d[k - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
        if (label == 0 && c == '-')
            return false;
        label++;
    }
    return true;
}

bool proto_valid_human_label(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < 1 || n > PROTO_HUMAN_LABEL_MAX || !proto_valid_utf8(s, n) || has_control(s))
        return false;
    return strpbrk(s, "()<>@,:;.\\\"[]") == NULL;
}

bool proto_uuid_parse(const char *s, size_t n, proto_uuid_t *out)
{
    if (n != 32)
        return false;
    for (size_t k = 0; k < 32; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        if (k % 2 == 0)
            out->bytes[k / 2] = (uint8_t)(d << 4);
        else
            out->bytes[k / 2] |= (uint8_t)d;
    }
    memcpy(out->hex, s, 32);
    out->hex[32] = '\0';
    return true;
}
