/*
 * common/proto.c - reading requests: the sticky-error readers, their typed
 * getters and the request envelope (see proto.h and docs/protocol.md)
 *
 * The rest of the mapping has its own files: proto_json.c (strict JSON),
 * proto_valid.c (identifiers), proto_time.c (datetimes), proto_reply.c
 * (replies), proto_header.c (Content-Type, Api-Version, Authorization).
 */
#include "proto_internal.h"

#include "crypto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool proto_email(proto_in_t *in, const char *name, const char **out)
{
    return get_validated(in, name, PROTO_EMAIL_MAX, proto_valid_email, "email address", out);
}

bool proto_human_handle(proto_in_t *in, const char *name, const char **email, const char **label)
{
    *email = *label = NULL;
    proto_in_t *hh = proto_object(in, name);
    if (!hh)
        return false;
    const char *e, *l;
    proto_email(hh, "email", &e);
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
        if (!((s[k] >= 'a' && s[k] <= 'z') || proto_is_digit((uint8_t)s[k]) || s[k] == '_')) {
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
