/*
 * common/proto.c - the JSON mapping of the client protocol (see proto.h and
 * docs/protocol.md)
 */
#include "proto.h"

#include "crypto.h"
#include "xalloc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- UTF-8 --------------------------------------------------------------- */

bool proto_valid_utf8(const void *s, size_t len)
{
    const uint8_t *p = s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte first, or 0xf8..0xff */
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            uint8_t b = p[i + k];
            if ((b & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (b & 0x3f);
        }
        /* overlong forms, surrogates, past Unicode */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

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

/* ---- strict JSON ------------------------------------------------------------- */

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = p[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* A string starting at p[*i] == '"'; leaves *i after the closing quote. */
static bool lex_string(const uint8_t *p, size_t len, size_t *i, const char **why)
{
    size_t j = *i + 1;
    for (;;) {
        if (j >= len) {
            *why = "unterminated string";
            return false;
        }
        uint8_t c = p[j];
        if (c == '"') {
            *i = j + 1;
            return true;
        }
        if (c < 0x20) {
            *why = "control character in a string";
            return false;
        }
        if (c != '\\') {
            j++;
            continue;
        }
        if (j + 1 >= len) {
            *why = "unterminated string";
            return false;
        }
        switch (p[j + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            j += 2;
            break;
        case 'u': {
            int v = len - j >= 6 ? hex4(p + j + 2) : -1;
            if (v < 0) {
                *why = "bad \\u escape";
                return false;
            }
            if (v == 0) {
                /* json-c would cut C strings there: keys and values could
                 * then differ from what a client's parser sees. */
                *why = "\\u0000 in a string";
                return false;
            }
            if (v >= 0xdc00 && v <= 0xdfff) {
                *why = "lone surrogate in a string";
                return false;
            }
            if (v >= 0xd800 && v <= 0xdbff) {
                int lo =
                    len - j >= 12 && p[j + 6] == '\\' && p[j + 7] == 'u' ? hex4(p + j + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    *why = "lone surrogate in a string";
                    return false;
                }
                j += 12;
            } else {
                j += 6;
            }
            break;
        }
        default:
            *why = "bad escape in a string";
            return false;
        }
    }
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool lex_number(const uint8_t *p, size_t len, size_t *i, const char **why)
{
    size_t j = *i;
    if (p[j] == '-')
        j++;
    if (j >= len || !is_digit(p[j]))
        goto bad;
    if (p[j] == '0') {
        j++;
    } else {
        while (j < len && is_digit(p[j]))
            j++;
    }
    if (j < len && p[j] == '.') {
        j++;
        if (j >= len || !is_digit(p[j]))
            goto bad;
        while (j < len && is_digit(p[j]))
            j++;
    }
    if (j < len && (p[j] == 'e' || p[j] == 'E')) {
        j++;
        if (j < len && (p[j] == '+' || p[j] == '-'))
            j++;
        if (j >= len || !is_digit(p[j]))
            goto bad;
        while (j < len && is_digit(p[j]))
            j++;
    }
    /* "01", "1.", "1.2.3": the number must end at a delimiter */
    if (j < len &&
        (is_digit(p[j]) || p[j] == '.' || p[j] == 'e' || p[j] == 'E' || p[j] == '+' || p[j] == '-'))
        goto bad;
    *i = j;
    return true;
bad:
    *why = "malformed number";
    return false;
}

static bool lex_word(const uint8_t *p, size_t len, size_t *i, const char *word)
{
    size_t n = strlen(word);
    if (len - *i < n || memcmp(p + *i, word, n) != 0)
        return false;
    *i += n;
    return true;
}

/*
 * The lexical half of strictness (see proto_json_parse): every token is a
 * JSON token; counts the ":" separators, i.e. the object members.
 */
static bool json_lex_check(const uint8_t *p, size_t len, size_t *members, const char **why)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint8_t c = p[i];
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '{':
        case '}':
        case '[':
        case ']':
        case ',':
            i++;
            break;
        case ':':
            n++;
            i++;
            break;
        case '"':
            if (!lex_string(p, len, &i, why))
                return false;
            break;
        case 't':
        case 'f':
        case 'n':
            if (!lex_word(p, len, &i, c == 't' ? "true" : c == 'f' ? "false" : "null")) {
                *why = "not JSON (bad literal)";
                return false;
            }
            break;
        default:
            if (c == '-' || is_digit(c)) {
                if (!lex_number(p, len, &i, why))
                    return false;
                break;
            }
            *why = "not JSON (unexpected character)";
            return false;
        }
    }
    *members = n;
    return true;
}

static size_t json_count_members(json_object *o)
{
    size_t n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            n += 1 + json_count_members(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t len = json_object_array_length(o);
        for (size_t k = 0; k < len; k++)
            n += json_count_members(json_object_array_get_idx(o, k));
    }
    return n;
}

static void json_put(void *o)
{
    json_object_put(o);
}

json_object *proto_json_parse(arena_t *a, const void *text, size_t len, const char **why)
{
    size_t members = 0;
    if (len > (size_t)INT_MAX) {
        *why = "too large";
        return NULL;
    }
    if (!proto_valid_utf8(text, len)) {
        *why = "not valid UTF-8";
        return NULL;
    }
    if (!json_lex_check(text, len, &members, why))
        return NULL;

    json_tokener *tok = json_tokener_new_ex(PROTO_JSON_MAX_DEPTH);
    if (!tok) {
        fputs("parsec: out of memory (json_tokener)\n", stderr);
        abort();
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o) {
        *why = err == json_tokener_error_depth ? "nested too deeply"
               : err == json_tokener_continue  ? "not a JSON object (truncated or a bare value)"
                                               : "not valid JSON";
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *why = "not a JSON object";
        return NULL;
    }
    for (size_t k = end; k < len; k++) {
        const char *t = text;
        if (t[k] != ' ' && t[k] != '\t' && t[k] != '\n' && t[k] != '\r') {
            json_object_put(o);
            *why = "data after the JSON object";
            return NULL;
        }
    }
    if (json_count_members(o) != members) {
        json_object_put(o);
        *why = "duplicate key in a JSON object";
        return NULL;
    }
    arena_defer(a, json_put, o);
    return o;
}

/* ---- readers ------------------------------------------------------------------- */

struct proto_ctx {
    arena_t *arena;
    const char *field; /* first error, NULL while ok */
    const char *reason;
    proto_in_t *readers; /* every reader of this request, for proto_in_end */
};

struct proto_in {
    struct proto_ctx *ctx;
    json_object *obj;
    const char *path; /* "" at the top */
    const char **seen;
    size_t nseen, capseen;
    proto_in_t *next;
};

static proto_in_t *reader_new(struct proto_ctx *ctx, json_object *obj, const char *path)
{
    proto_in_t *in = arena_zalloc(ctx->arena, sizeof *in);
    in->ctx = ctx;
    in->obj = obj;
    in->path = path ? path : "";
    in->capseen = (size_t)json_object_object_length(obj);
    in->seen = arena_alloc(ctx->arena, (in->capseen ? in->capseen : 1) * sizeof *in->seen);
    in->next = ctx->readers;
    ctx->readers = in;
    return in;
}

proto_in_t *proto_in_new(arena_t *a, json_object *obj, const char *path)
{
    struct proto_ctx *ctx = arena_zalloc(a, sizeof *ctx);
    ctx->arena = a;
    return reader_new(ctx, obj, arena_strdup(a, path ? path : ""));
}

json_object *proto_in_json(const proto_in_t *in)
{
    return in->obj;
}

static const char *field_path(const proto_in_t *in, const char *name)
{
    if (!in->path[0])
        return arena_strdup(in->ctx->arena, name);
    return arena_printf(in->ctx->arena, "%s.%s", in->path, name);
}

static void fail_path(proto_in_t *in, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void fail_path(proto_in_t *in, const char *path, const char *fmt, va_list ap)
{
    struct proto_ctx *ctx = in->ctx;
    if (ctx->field)
        return;
    char *msg = arena_vprintf(ctx->arena, fmt, ap);
    ctx->field = path;
    ctx->reason = arena_printf(ctx->arena, "field `%s`: %s", path, msg);
}

void proto_in_fail(proto_in_t *in, const char *name, const char *fmt, ...)
{
    if (in->ctx->field)
        return;
    va_list ap;
    va_start(ap, fmt);
    fail_path(in, field_path(in, name), fmt, ap);
    va_end(ap);
}

static void fail_at(proto_in_t *in, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(proto_in_t *in, const char *path, const char *fmt, ...)
{
    if (in->ctx->field)
        return;
    va_list ap;
    va_start(ap, fmt);
    fail_path(in, path, fmt, ap);
    va_end(ap);
}

bool proto_in_ok(const proto_in_t *in)
{
    return in->ctx->field == NULL;
}

const char *proto_in_field(const proto_in_t *in)
{
    return in->ctx->field;
}

const char *proto_in_reason(const proto_in_t *in)
{
    return in->ctx->reason;
}

static void mark_seen(proto_in_t *in, const char *name)
{
    for (size_t k = 0; k < in->nseen; k++)
        if (strcmp(in->seen[k], name) == 0)
            return;
    if (in->nseen == in->capseen) {
        /* Only present keys are recorded, so this needs a caller that
         * mutated the object; grow rather than trust that. */
        size_t cap = in->capseen ? in->capseen * 2 : 4;
        const char **seen = arena_alloc(in->ctx->arena, cap * sizeof *seen);
        if (in->nseen)
            memcpy(seen, in->seen, in->nseen * sizeof *seen);
        in->seen = seen;
        in->capseen = cap;
    }
    in->seen[in->nseen++] = name;
}

/* The first field of r that no getter read: "unknown field". */
static void refuse_unknown(proto_in_t *r)
{
    json_object_object_foreach(r->obj, key, val)
    {
        (void)val;
        bool known = false;
        for (size_t s = 0; s < r->nseen && !known; s++)
            known = strcmp(r->seen[s], key) == 0;
        if (!known) {
            fail_at(r, field_path(r, key), "unknown field");
            return;
        }
    }
}

bool proto_in_end(proto_in_t *in)
{
    struct proto_ctx *ctx = in->ctx;
    if (ctx->field)
        return false;
    /* Readers are listed newest first; check the outermost first, so the
     * field named is the first one a client reading its request meets. */
    size_t n = 0;
    for (proto_in_t *r = ctx->readers; r; r = r->next)
        n++;
    proto_in_t **order = arena_alloc(ctx->arena, n * sizeof *order);
    size_t k = n;
    for (proto_in_t *r = ctx->readers; r; r = r->next)
        order[--k] = r;
    for (k = 0; k < n && !ctx->field; k++)
        refuse_unknown(order[k]);
    return ctx->field == NULL;
}

/* The value of a required non-null field, marked read; NULL after failing. */
static json_object *get(proto_in_t *in, const char *name)
{
    json_object *v = NULL;
    if (in->ctx->field)
        return NULL;
    if (!json_object_object_get_ex(in->obj, name, &v)) {
        proto_in_fail(in, name, "missing");
        return NULL;
    }
    mark_seen(in, name);
    if (!v) {
        proto_in_fail(in, name, "must not be null");
        return NULL;
    }
    return v;
}

bool proto_has(proto_in_t *in, const char *name)
{
    json_object *v = NULL;
    if (in->ctx->field || !json_object_object_get_ex(in->obj, name, &v))
        return false;
    mark_seen(in, name);
    return v != NULL;
}

/* A string value (NUL-free, valid UTF-8); NULL after failing. */
static const char *get_string(proto_in_t *in, const char *name, size_t max, size_t *len)
{
    json_object *v = get(in, name);
    if (!v)
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        proto_in_fail(in, name, "expected a string");
        return NULL;
    }
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (memchr(s, 0, n) || !proto_valid_utf8(s, n)) {
        proto_in_fail(in, name, "not valid UTF-8 text");
        return NULL;
    }
    if (n > max) {
        proto_in_fail(in, name, "too long (at most %zu bytes)", max);
        return NULL;
    }
    *len = n;
    return s;
}

bool proto_str(proto_in_t *in, const char *name, size_t max, const char **out)
{
    size_t n;
    *out = get_string(in, name, max, &n);
    return *out != NULL;
}

/* The path of name (or of name.key for a map value), built only on failure. */
static const char *value_path(proto_in_t *in, const char *name, const char *key)
{
    const char *p = field_path(in, name);
    return key ? arena_printf(in->ctx->arena, "%s.%s", p, key) : p;
}

/* Decode base64 s[0..n) to at most max bytes; NULL with the reason set on the
 * field name (or the map entry name.key). */
static const uint8_t *decode_b64(proto_in_t *in, const char *name, const char *key, const char *s,
                                 size_t n, size_t max, size_t *len)
{
    /* Refuse before decoding what could only decode too large. */
    if (max < SIZE_MAX / 2 && n > (max + 2) / 3 * 4) {
        fail_at(in, value_path(in, name, key), "too large (at most %zu bytes)", max);
        return NULL;
    }
    uint8_t *buf = crypto_b64_decode(s, n, len);
    if (!buf) {
        fail_at(in, value_path(in, name, key),
                "not valid base64 (RFC 4648 alphabet, padded, canonical)");
        return NULL;
    }
    arena_defer(in->ctx->arena, free, buf);
    if (*len > max) {
        fail_at(in, value_path(in, name, key), "too large (at most %zu bytes)", max);
        return NULL;
    }
    return buf;
}

bool proto_bytes(proto_in_t *in, const char *name, size_t max, proto_bytes_t *out)
{
    size_t n;
    out->data = NULL;
    out->len = 0;
    const char *s = get_string(in, name, SIZE_MAX, &n);
    if (!s)
        return false;
    size_t len;
    const uint8_t *d = decode_b64(in, name, NULL, s, n, max, &len);
    if (!d)
        return false;
    out->data = d;
    out->len = len;
    return true;
}

bool proto_bytes_n(proto_in_t *in, const char *name, size_t n, const uint8_t **out)
{
    proto_bytes_t b;
    *out = NULL;
    /* decode up to n + 1 so "too long" reads as a size mismatch */
    if (!proto_bytes(in, name, n + 1, &b))
        return false;
    if (b.len != n) {
        proto_in_fail(in, name, "expected exactly %zu bytes, got %zu", n, b.len);
        return false;
    }
    *out = b.data;
    return true;
}

bool proto_datetime(proto_in_t *in, const char *name, int64_t *out)
{
    size_t n;
    *out = 0;
    const char *s = get_string(in, name, 64, &n);
    if (!s)
        return false;
    if (!proto_datetime_parse(s, n, out)) {
        proto_in_fail(in, name,
                      "expected an RFC 3339 UTC datetime with microseconds "
                      "(YYYY-MM-DDTHH:MM:SS.ffffffZ)");
        return false;
    }
    return true;
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

bool proto_uuid(proto_in_t *in, const char *name, proto_uuid_t *out)
{
    size_t n;
    memset(out, 0, sizeof *out);
    const char *s = get_string(in, name, 64, &n);
    if (!s)
        return false;
    if (!proto_uuid_parse(s, n, out)) {
        memset(out, 0, sizeof *out);
        proto_in_fail(in, name, "expected 32 lowercase hex characters");
        return false;
    }
    return true;
}

bool proto_int(proto_in_t *in, const char *name, int64_t min, int64_t max, int64_t *out)
{
    *out = 0;
    json_object *v = get(in, name);
    if (!v)
        return false;
    if (!json_object_is_type(v, json_type_int)) {
        proto_in_fail(in, name, "expected an integer");
        return false;
    }
    int64_t x = json_object_get_int64(v);
    /* json-c saturates out-of-range integers to these two values. */
    if (x == INT64_MIN || x == INT64_MAX || x < min || x > max) {
        proto_in_fail(in, name, "out of range [%lld, %lld]", (long long)min, (long long)max);
        return false;
    }
    *out = x;
    return true;
}

bool proto_bool(proto_in_t *in, const char *name, bool *out)
{
    *out = false;
    json_object *v = get(in, name);
    if (!v)
        return false;
    if (!json_object_is_type(v, json_type_boolean)) {
        proto_in_fail(in, name, "expected true or false");
        return false;
    }
    *out = json_object_get_boolean(v) != 0;
    return true;
}

bool proto_enum(proto_in_t *in, const char *name, const char *const names[], int *out)
{
    size_t n;
    *out = -1;
    const char *s = get_string(in, name, 64, &n);
    if (!s)
        return false;
    for (int k = 0; names[k]; k++) {
        if (strcmp(names[k], s) == 0) {
            *out = k;
            return true;
        }
    }
    /* name the accepted values: enums are short */
    char allowed[256] = "";
    size_t used = 0;
    for (int k = 0; names[k] && used < sizeof allowed; k++) {
        int w = snprintf(allowed + used, sizeof allowed - used, "%s%s", k ? ", " : "", names[k]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    proto_in_fail(in, name, "expected one of: %s", allowed);
    return false;
}

typedef bool (*validator_fn)(const char *);

static bool get_validated(proto_in_t *in, const char *name, size_t max, validator_fn valid,
                          const char *what, const char **out)
{
    size_t n;
    *out = NULL;
    const char *s = get_string(in, name, SIZE_MAX, &n);
    if (!s)
        return false;
    if (n > max || !valid(s)) {
        proto_in_fail(in, name, "not a valid %s", what);
        return false;
    }
    *out = s;
    return true;
}

#define ID_RULE "(1 to 32 of A-Z a-z 0-9 _ -)"

bool proto_organization_id(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_ID_MAX, proto_valid_organization_id,
                         "organization id " ID_RULE, out);
}

bool proto_user_id(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_ID_MAX, proto_valid_user_id, "user id " ID_RULE, out);
}

bool proto_device_name(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_ID_MAX, proto_valid_device_name, "device name " ID_RULE,
                         out);
}

bool proto_device_id(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_DEVICE_ID_MAX, proto_valid_device_id,
                         "device id (<user id>@<device name>)", out);
}

bool proto_device_label(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_DEVICE_LABEL_MAX, proto_valid_device_label,
                         "device label (1 to 255 bytes, no control character)", out);
}

bool proto_human_handle(proto_in_t *in, const char *name, const char **email, const char **label)
{
    *email = *label = NULL;
    proto_in_t *hh = proto_object(in, name);
    if (!hh)
        return false;
    const char *e, *l;
    get_validated(hh, "email", PROTO_EMAIL_MAX, proto_valid_email, "email address", &e);
    get_validated(hh, "label", PROTO_HUMAN_LABEL_MAX, proto_valid_human_label,
                  "human label (1 to 254 bytes, no control character nor ()<>@,:;.\\\"[])", &l);
    if (!proto_in_ok(in))
        return false;
    *email = e;
    *label = l;
    return true;
}

proto_in_t *proto_object(proto_in_t *in, const char *name)
{
    json_object *v = get(in, name);
    if (!v)
        return NULL;
    if (!json_object_is_type(v, json_type_object)) {
        proto_in_fail(in, name, "expected an object");
        return NULL;
    }
    return reader_new(in->ctx, v, field_path(in, name));
}

bool proto_list(proto_in_t *in, const char *name, size_t max, size_t *n)
{
    *n = 0;
    json_object *v = get(in, name);
    if (!v)
        return false;
    if (!json_object_is_type(v, json_type_array)) {
        proto_in_fail(in, name, "expected a list");
        return false;
    }
    size_t len = json_object_array_length(v);
    if (len > max) {
        proto_in_fail(in, name, "too many items (at most %zu)", max);
        return false;
    }
    *n = len;
    return true;
}

proto_in_t *proto_list_object(proto_in_t *in, const char *name, size_t i)
{
    json_object *arr = NULL;
    if (in->ctx->field)
        return NULL;
    if (!json_object_object_get_ex(in->obj, name, &arr) ||
        !json_object_is_type(arr, json_type_array) || i >= json_object_array_length(arr)) {
        proto_in_fail(in, name, "missing list item %zu", i);
        return NULL;
    }
    mark_seen(in, name);
    json_object *item = json_object_array_get_idx(arr, i);
    const char *path = arena_printf(in->ctx->arena, "%s[%zu]", field_path(in, name), i);
    if (!item || !json_object_is_type(item, json_type_object)) {
        fail_at(in, path, "expected an object");
        return NULL;
    }
    return reader_new(in->ctx, item, path);
}

bool proto_bytes_map(proto_in_t *in, const char *name, proto_key_kind kind, size_t max_entries,
                     size_t max_value, proto_bytes_entry_t **entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    json_object *v = get(in, name);
    if (!v)
        return false;
    if (!json_object_is_type(v, json_type_object)) {
        proto_in_fail(in, name, "expected an object");
        return false;
    }
    size_t count = (size_t)json_object_object_length(v);
    if (count > max_entries) {
        proto_in_fail(in, name, "too many entries (at most %zu)", max_entries);
        return false;
    }
    proto_bytes_entry_t *e = arena_zalloc(in->ctx->arena, (count ? count : 1) * sizeof *e);
    size_t k = 0;
    json_object_object_foreach(v, key, val)
    {
        proto_uuid_t u;
        bool key_ok = kind == PROTO_KEY_USER_ID
                          ? strlen(key) <= PROTO_ID_MAX && proto_valid_user_id(key)
                          : proto_uuid_parse(key, strlen(key), &u);
        if (!key_ok) {
            proto_in_fail(in, name, "a key is not a valid %s",
                          kind == PROTO_KEY_USER_ID ? "user id" : "id (32 lowercase hex)");
            return false;
        }
        if (!val || !json_object_is_type(val, json_type_string)) {
            fail_at(in, value_path(in, name, key), "expected a base64 string");
            return false;
        }
        size_t len;
        const uint8_t *d = decode_b64(in, name, key, json_object_get_string(val),
                                      (size_t)json_object_get_string_len(val), max_value, &len);
        if (!d)
            return false;
        e[k].key = key;
        e[k].value.data = d;
        e[k].value.len = len;
        k++;
    }
    *entries = e;
    *n = k;
    return true;
}

/* ---- the request envelope ------------------------------------------------------- */

proto_req_status proto_decode_request(arena_t *a, const void *body, size_t len, proto_in_t **in,
                                      const char **cmd, const char **why)
{
    *in = NULL;
    *cmd = NULL;
    json_object *o = proto_json_parse(a, body, len, why);
    if (!o)
        return PROTO_REQ_INVALID_MSG_FORMAT;
    json_object *c = NULL;
    if (!json_object_object_get_ex(o, "cmd", &c) || !c ||
        !json_object_is_type(c, json_type_string)) {
        *why = "missing or non-string cmd";
        return PROTO_REQ_UNKNOWN_COMMAND;
    }
    const char *s = json_object_get_string(c);
    size_t n = (size_t)json_object_get_string_len(c);
    if (n < 1 || n > 64) {
        *why = "unknown command";
        return PROTO_REQ_UNKNOWN_COMMAND;
    }
    for (size_t k = 0; k < n; k++) {
        if (!((s[k] >= 'a' && s[k] <= 'z') || is_digit((uint8_t)s[k]) || s[k] == '_')) {
            *why = "unknown command";
            return PROTO_REQ_UNKNOWN_COMMAND;
        }
    }
    proto_in_t *r = proto_in_new(a, o, NULL);
    mark_seen(r, "cmd");
    *in = r;
    *cmd = s;
    *why = NULL;
    return PROTO_REQ_OK;
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

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
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

/* ---- datetimes --------------------------------------------------------------------- */

#define US_PER_DAY INT64_C(86400000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, valid far beyond years 1..9999). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        v = v * 10 + (unsigned)(s[k] - '0');
    }
    *out = v;
    return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return dim[m - 1];
}

bool proto_datetime_parse(const char *s, size_t len, int64_t *us)
{
    /* 0123456789012345678901234567
     * YYYY-MM-DDTHH:MM:SS.ffffffZ */
    unsigned y, mo, d, h, mi, sec, frac;
    if (len != PROTO_DATETIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || s[26] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec) ||
        !digits(s + 20, 6, &frac))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    int64_t days = days_from_civil(y, mo, d);
    *us = days * US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 + frac;
    return true;
}

static void put_digits(char *out, unsigned v, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
}

void proto_datetime_format(int64_t us, char out[PROTO_DATETIME_LEN + 1])
{
    const int64_t lo = days_from_civil(1, 1, 1) * US_PER_DAY;
    const int64_t hi = days_from_civil(9999, 12, 31) * US_PER_DAY + US_PER_DAY - 1;
    if (us < lo)
        us = lo;
    if (us > hi)
        us = hi;
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / 1000000;
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)(secs / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)(secs % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)(rem % 1000000), 6);
    out[26] = 'Z';
    out[27] = '\0';
}

int64_t proto_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool proto_ballpark_ok(int64_t server_now_us, int64_t client_us)
{
    int64_t diff;
    if (__builtin_sub_overflow(server_now_us, client_us, &diff))
        return false;
    return diff > -PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US &&
           diff < PROTO_BALLPARK_CLIENT_LATE_OFFSET_US;
}

/* ---- replies ----------------------------------------------------------------------- */

json_object *proto_reply(const char *status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(status));
    return o;
}

json_object *proto_reply_reason(const char *status, const char *reason)
{
    json_object *o = proto_reply(status);
    json_object_object_add(o, "reason", proto_json_str_or_null(reason));
    return o;
}

json_object *proto_reply_bad_message(const proto_in_t *in)
{
    json_object *o =
        proto_reply_reason("bad_message", in->ctx->reason ? in->ctx->reason : "bad message");
    json_object_object_add(o, "field", proto_json_str_or_null(in->ctx->field));
    return o;
}

json_object *proto_reply_invalid_msg_format(const char *why)
{
    return proto_reply_reason("invalid_msg_format", why ? why : "Invalid message format");
}

json_object *proto_reply_unknown_command(void)
{
    return proto_reply_reason("unknown_command", "Unknown command");
}

json_object *proto_reply_bad_timestamp(int64_t server_now_us, int64_t client_us, const char *reason)
{
    json_object *o = proto_reply_reason("bad_timestamp", reason);
    json_object_object_add(o, "ballpark_client_early_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US / 1e6));
    json_object_object_add(o, "ballpark_client_late_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_LATE_OFFSET_US / 1e6));
    json_object_object_add(o, "backend_timestamp", proto_json_datetime(server_now_us));
    json_object_object_add(o, "client_timestamp", proto_json_datetime(client_us));
    return o;
}

json_object *proto_json_bytes(const void *data, size_t len)
{
    char *s = crypto_b64_encode(data, len);
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

json_object *proto_json_datetime(int64_t us)
{
    char buf[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(us, buf);
    return json_object_new_string(buf);
}

json_object *proto_json_uuid(const uint8_t bytes[16])
{
    char *s = crypto_hex_encode(bytes, 16);
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

json_object *proto_json_str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *proto_json_human_handle(const char *email, const char *label)
{
    if (!email)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "email", json_object_new_string(email));
    json_object_object_add(o, "label", json_object_new_string(label ? label : ""));
    return o;
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
    if (nmajor < 1 || nmajor > 5 || nminor < 1 || nminor > 5 || !digits(header, nmajor, &major) ||
        !digits(dot + 1, nminor, &minor))
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
        if (!is_digit((uint8_t)ts_s[k])) {
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
