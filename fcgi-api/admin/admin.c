/*
 * fcgi-api/admin/admin.c - the administration REST API (/administration/...)
 *
 * Parsec 2.12's API for hosting providers' scripts (Parsec's
 * parsec/backend/asgi/administration.py), plus Parsec 3's server-wide usage
 * export (GET /administration/stats).  docs/administration.md is the
 * contract: every route, field, status and error written here is written
 * there too.
 *
 * Every handler does, in this order: the Bearer check (403 before anything
 * else, so an unauthenticated caller learns nothing, not even whether an
 * organization exists), input validation that needs no database, then its
 * database work: one statement (its own transaction), or for PATCH an
 * update and its event in one transaction that commits whole or leaves no
 * trace.
 */
#include "admin.h"

#include "crypto.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "cmd/organization_db.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------------
 * Request plumbing
 */

/* Admin replies carry bootstrap tokens and usage figures: never cached. */
static void no_store(http_req_t *r)
{
    http_set_header(r, "Cache-Control", "no-store");
}

static void respond_error(http_req_t *r, int status, const char *code, const char *reason)
{
    no_store(r);
    http_respond_error(r, status, code, reason);
}

static void respond_json(http_req_t *r, json_object *obj)
{
    no_store(r);
    http_respond_json(r, 200, obj);
}

/*
 * authorized - the Bearer check every route starts with
 *
 * With no administration token configured the API is closed: nothing can
 * match.  The comparison is constant-time in the token's content.  The
 * reason for a refusal is logged (never the token) but not told to the
 * caller, as in Parsec.
 */
static bool authorized(http_req_t *r)
{
    const char *want = r->cfg ? r->cfg->administration_token : NULL;
    const char *h = http_header(r, "Authorization");
    const char *why = NULL, *tok = NULL;
    size_t n = 0;

    if (want == NULL || want[0] == '\0') {
        why = "no administration token configured";
    } else if (h == NULL) {
        why = "no Authorization header";
    } else if (!proto_bearer(h, &tok, &n)) {
        why = "Authorization is not a Bearer token";
    } else {
        char *given = arena_strndup(r->arena, tok, n);
        if (!crypto_str_equal(given, want))
            why = "wrong administration token";
        /* The copy may be the real token: do not leave it in the arena. */
        explicit_bzero(given, n);
    }
    if (why == NULL)
        return true;
    log_info("administration: %s %s refused: %s", r->method, r->path, why);
    respond_error(r, 403, "not_allowed", NULL);
    return false;
}

/* Outcome of reading a JSON request body; the caller answers it. */
typedef struct {
    int status;         /* 0: ok; else 400 or 413 */
    const char *reason; /* static or arena text */
} body_error;

/*
 * parse_body - the request body as a JSON object, or NULL with *err set
 *
 * Size first, then the protocol's strict JSON parser (common/proto.h:
 * UTF-8 checked, no duplicate keys, one object and nothing after it but
 * whitespace), so both APIs read JSON the same way.  The object joins the
 * request's arena.
 */
static json_object *parse_body(http_req_t *r, body_error *err)
{
    err->status = 400;
    err->reason = NULL;
    if (r->body_len > ADMIN_MAX_BODY) {
        err->status = 413;
        err->reason = "request body too large (at most 65536 bytes)";
        return NULL;
    }
    if (r->body_len == 0) {
        err->reason = "Invalid JSON: empty body";
        return NULL;
    }
    if (!proto_valid_utf8(r->body, r->body_len) || memchr(r->body, '\0', r->body_len)) {
        err->reason = "Invalid JSON: body is not valid UTF-8 text";
        return NULL;
    }
    const char *why = NULL;
    json_object *obj = proto_json_parse(r->arena, r->body, r->body_len, &why);
    if (!obj) {
        /* a body that is JSON but not an object ("[...]", "null") gets the
         * reason that says so */
        size_t k = 0;
        while (k < r->body_len && strchr(" \t\r\n", r->body[k]))
            k++;
        bool object = k < r->body_len && r->body[k] == '{';
        err->reason = object ? arena_printf(r->arena, "Invalid JSON: %s", why)
                             : "Invalid JSON: the body must be a JSON object";
        return NULL;
    }
    err->status = 0;
    return obj;
}

/* What a body may say; has_* tells a missing field from a given one. */
typedef struct {
    const char *organization_id;
    bool has_limit;
    long limit; /* -1: null (unlimited) */
    bool has_outsider, outsider;
    bool has_expired, expired;
} admin_fields;

static const char *get_bool(json_object *obj, const char *key, bool *has, bool *out)
{
    json_object *v;
    *has = json_object_object_get_ex(obj, key, &v);
    if (!*has)
        return NULL;
    if (!json_object_is_type(v, json_type_boolean))
        return "expected true or false";
    *out = json_object_get_boolean(v);
    return NULL;
}

static const char *get_limit(json_object *obj, bool *has, long *out)
{
    json_object *v;
    *has = json_object_object_get_ex(obj, "active_users_limit", &v);
    if (!*has)
        return NULL;
    if (v == NULL) { /* JSON null */
        *out = -1;
        return NULL;
    }
    /* json-c saturates integers beyond int64 at INT64_MIN/MAX, both outside
     * the range, so a huge number cannot wrap into an accepted one. */
    if (!json_object_is_type(v, json_type_int))
        return "expected an integer from 0 to 2147483647, or null";
    int64_t n = json_object_get_int64(v);
    if (n < 0 || n > ADMIN_MAX_USERS_LIMIT)
        return "expected an integer from 0 to 2147483647, or null";
    *out = (long)n;
    return NULL;
}

/*
 * parse_fields - the known fields of obj; unknown ones are ignored (Parsec's
 * policy, docs/administration.md).  want_* say which fields the route takes.
 * NULL on success, else an arena reason naming the field.
 */
static const char *parse_fields(http_req_t *r, json_object *obj, bool want_id, bool want_expired,
                                admin_fields *f)
{
    const char *e;
    memset(f, 0, sizeof *f);
    if (want_id) {
        json_object *v;
        if (!json_object_object_get_ex(obj, "organization_id", &v) || v == NULL)
            return "organization_id: missing";
        if (!json_object_is_type(v, json_type_string))
            return "organization_id: expected a string";
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        /* strlen: an escaped NUL ("\u0000") must not cut the id short. */
        if (strlen(s) != n || !proto_valid_organization_id(s))
            return "organization_id: expected 1 to 32 ASCII letters, digits, '_' or '-'";
        f->organization_id = s;
    }
    if ((e = get_limit(obj, &f->has_limit, &f->limit)))
        return arena_printf(r->arena, "active_users_limit: %s", e);
    if ((e = get_bool(obj, "user_profile_outsider_allowed", &f->has_outsider, &f->outsider)))
        return arena_printf(r->arena, "user_profile_outsider_allowed: %s", e);
    if (want_expired && (e = get_bool(obj, "is_expired", &f->has_expired, &f->expired)))
        return arena_printf(r->arena, "is_expired: %s", e);
    return NULL;
}

/* The route's {} capture, or NULL when it cannot name an organization. */
static const char *path_organization(const http_req_t *r)
{
    const char *id = r->params[0];
    if (id == NULL || !proto_valid_organization_id(id))
        return NULL;
    return id;
}

/* http_db() or a 503 answer (the pool has logged why). */
static db_conn_t *need_db(http_req_t *r)
{
    db_conn_t *c = http_db(r);
    if (c == NULL)
        respond_error(r, 503, "database_unavailable", NULL);
    return c;
}

/* ---------------------------------------------------------------------------
 * POST /administration/organizations
 */

/*
 * Re-creating an organization nobody bootstrapped overwrites it (new token,
 * the request's config or defaults, expiry cleared): that is how an expired
 * reservation is revived.  A bootstrapped one is left alone and no row comes
 * back.  One statement, so two concurrent creations cannot both insert, and
 * a concurrent bootstrap is waited for and then seen.
 */
DB_STMT(stmt_org_create, "admin_org_create", 4,
        "INSERT INTO organization (organization_id, bootstrap_token, active_users_limit,"
        "    user_profile_outsider_allowed, created_by_administration)"
        " VALUES ($1::text, $2::text, $3::integer, $4::boolean, TRUE)"
        " ON CONFLICT (organization_id) DO UPDATE SET"
        "    bootstrap_token = EXCLUDED.bootstrap_token,"
        "    active_users_limit = EXCLUDED.active_users_limit,"
        "    user_profile_outsider_allowed = EXCLUDED.user_profile_outsider_allowed,"
        "    is_expired = FALSE, created_by_administration = TRUE"
        " WHERE organization.root_verify_key IS NULL"
        " RETURNING _id");

static void admin_create(http_req_t *r)
{
    body_error berr;
    admin_fields f;
    const char *reason;
    if (!authorized(r))
        return;
    json_object *obj = parse_body(r, &berr);
    if (obj == NULL) {
        respond_error(r, berr.status, "bad_data", berr.reason);
        return;
    }
    if ((reason = parse_fields(r, obj, true, false, &f))) {
        respond_error(r, 400, "bad_data", reason);
        return;
    }
    long limit = f.has_limit ? f.limit : r->cfg->organization_initial_active_users_limit;
    bool outsider =
        f.has_outsider ? f.outsider : r->cfg->organization_initial_user_profile_outsider_allowed;

    unsigned char raw[32];
    if (!crypto_random(raw, sizeof raw)) {
        log_error("administration: RAND_bytes failed");
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    char *hex = crypto_hex_encode(raw, sizeof raw);
    explicit_bzero(raw, sizeof raw);
    char *token = arena_strdup(r->arena, hex);
    explicit_bzero(hex, strlen(hex));
    free(hex);

    db_conn_t *c = need_db(r);
    if (c == NULL)
        return;
    bool failed = false;
    db_res_t *res = DB_RUN(c, r->arena, &failed, &stmt_org_create, DB_TEXT(f.organization_id),
                           DB_TEXT(token), DB_I64_IF(limit >= 0, limit), DB_BOOL(outsider));
    if (failed) {
        respond_error(r, 500, "internal_error", NULL);
    } else if (db_nrows(res) == 0) {
        log_info("administration: create %s refused: already bootstrapped", f.organization_id);
        respond_error(r, 400, "already_exists", NULL);
    } else {
        log_info("administration: organization %s created", f.organization_id);
        json_object *out = json_object_new_object();
        json_object_object_add(out, "bootstrap_token", json_object_new_string(token));
        respond_json(r, out);
    }
}

/* ---------------------------------------------------------------------------
 * GET /administration/organizations/{id}
 */

DB_STMT(stmt_org_get, "admin_org_get", 1,
        "SELECT root_verify_key IS NOT NULL, is_expired, user_profile_outsider_allowed,"
        "    active_users_limit"
        " FROM organization WHERE organization_id = $1::text");

/*
 * org_route - what every /administration/organizations/{id}... route does
 * first: the Bearer check (403), an id that can name an organization (404),
 * the database (503).  NULL once one of them has answered.
 */
static db_conn_t *org_route(http_req_t *r, const char **id)
{
    if (!authorized(r))
        return NULL;
    *id = path_organization(r);
    if (*id == NULL) {
        respond_error(r, 404, "not_found", NULL);
        return NULL;
    }
    return need_db(r);
}

static void admin_get(http_req_t *r)
{
    const char *id;
    db_conn_t *c = org_route(r, &id);
    if (c == NULL)
        return;
    /* One statement: its own snapshot, no BEGIN/COMMIT round trips. */
    bool failed = false;
    db_res_t *res = DB_RUN(c, r->arena, &failed, &stmt_org_get, DB_TEXT(id));
    if (!failed && db_nrows(res) == 1) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "is_bootstrapped",
                               json_object_new_boolean(db_get_bool(res, 0, 0)));
        json_object_object_add(out, "is_expired", json_object_new_boolean(db_get_bool(res, 0, 1)));
        json_object_object_add(out, "user_profile_outsider_allowed",
                               json_object_new_boolean(db_get_bool(res, 0, 2)));
        json_object_object_add(
            out, "active_users_limit",
            db_is_null(res, 0, 3) ? NULL : json_object_new_int64(db_get_i64(res, 0, 3)));
        if (!failed) {
            respond_json(r, out);
            return;
        }
        json_object_put(out);
    }
    if (failed)
        respond_error(r, 500, "internal_error", NULL);
    else
        respond_error(r, 404, "not_found", NULL);
}

/* ---------------------------------------------------------------------------
 * PATCH /administration/organizations/{id}
 */

/* NULL parameters leave their column alone; $4 says whether the limit is
 * given at all, since null is a value for it (unlimited). */
DB_STMT(
    stmt_org_update, "admin_org_update", 5,
    "UPDATE organization SET"
    "    is_expired = COALESCE($2::boolean, is_expired),"
    "    user_profile_outsider_allowed = COALESCE($3::boolean, user_profile_outsider_allowed),"
    "    active_users_limit = CASE WHEN $4::boolean THEN $5::integer ELSE active_users_limit END"
    " WHERE organization_id = $1::text"
    " RETURNING _id");

DB_STMT(stmt_org_exists, "admin_org_exists", 1,
        "SELECT 1 FROM organization WHERE organization_id = $1::text");

/* The update and, when it expires the organization, the event, in one
 * transaction: notifyd closes the organization's websockets only once the
 * expiry is committed.  Sent on every PATCH that sets is_expired=true, as
 * Parsec's PostgreSQL backend does.  *found: the organization exists. */
static bool patch_tx(db_conn_t *c, arena_t *a, const char *id, const admin_fields *f, bool *found)
{
    bool failed = !db_begin(c, false);
    db_res_t *res = DB_RUN(c, a, &failed, &stmt_org_update, DB_TEXT(id),
                           f->has_expired ? DB_BOOL(f->expired) : DB_NULL,
                           f->has_outsider ? DB_BOOL(f->outsider) : DB_NULL, DB_BOOL(f->has_limit),
                           DB_I64_IF(f->has_limit && f->limit >= 0, f->limit));
    *found = db_nrows(res) == 1;
    if (!failed && *found && f->has_expired && f->expired &&
        !event_publish_organization_expired(c, id, NULL))
        failed = true;
    if (failed || !*found) {
        db_rollback(c);
        return !failed;
    }
    return db_commit(c) == DB_TX_COMMIT;
}

static void admin_patch(http_req_t *r)
{
    body_error berr = {0, NULL};
    admin_fields f;
    const char *reason = NULL;
    const char *id;
    db_conn_t *c = org_route(r, &id);
    if (c == NULL)
        return;
    /* Parsec looks the organization up before reading the body: an unknown
     * organization is 404 whatever the body says.  So a refused body is only
     * answered after that lookup. */
    json_object *obj = parse_body(r, &berr);
    if (obj != NULL)
        reason = parse_fields(r, obj, false, true, &f);
    bool found = false, ok;
    if (obj != NULL && reason == NULL) {
        ok = patch_tx(c, r->arena, id, &f, &found);
    } else {
        bool failed = false;
        found = db_nrows(DB_RUN(c, r->arena, &failed, &stmt_org_exists, DB_TEXT(id))) == 1;
        ok = !failed;
    }
    if (!ok) {
        respond_error(r, 500, "internal_error", NULL);
    } else if (!found) {
        respond_error(r, 404, "not_found", NULL);
    } else if (obj == NULL) {
        respond_error(r, berr.status, "bad_data", berr.reason);
    } else if (reason != NULL) {
        respond_error(r, 400, "bad_data", reason);
    } else {
        log_info("administration: organization %s updated%s", id,
                 f.has_expired ? (f.expired ? " (expired)" : " (unexpired)") : "");
        respond_json(r, json_object_new_object());
    }
}

/* ---------------------------------------------------------------------------
 * Statistics: GET /administration/organizations/{id}/stats and
 * GET /administration/stats, both from organization_db_stats() (the same
 * statement and figures as the protocol's organization_stats).
 */

static void admin_org_stats(http_req_t *r)
{
    const char *id;
    db_conn_t *c = org_route(r, &id);
    if (c == NULL)
        return;
    organization_stats_t *rows;
    size_t n;
    if (!organization_db_stats(c, r->arena, id, NULL, &rows, &n)) {
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    if (n != 1) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    json_object *o = json_object_new_object();
    organization_stats_add(o, &rows[0], false);
    respond_json(r, o);
}

/* What GET /administration/stats was asked. */
typedef struct {
    bool csv;
    organization_window_t window;
} stats_query;

/* Percent-decode s[0..n) into the arena; NULL on a bad escape or a NUL.
 * '+' stays '+': no value of this API contains a space, and an RFC 3339
 * offset written unencoded ("+01:00") then still means what it says. */
static char *query_decode(arena_t *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (n - i < 3)
                return NULL;
            int h1 = crypto_hex_digit((unsigned char)s[i + 1]),
                h2 = crypto_hex_digit((unsigned char)s[i + 2]);
            if (h1 < 0 || h2 < 0 || (h1 == 0 && h2 == 0))
                return NULL;
            *o++ = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/*
 * parse_stats_query - format, at/to, from; NULL on success, else the reason
 *
 * Unknown parameters are ignored, as unknown body fields are.  A parameter
 * given twice is refused: which one was meant is unknowable.
 */
static const char *parse_stats_query(http_req_t *r, stats_query *q)
{
    const char *s = r->query ? r->query : "";
    bool seen_format = false;
    organization_window_t *w = &q->window;
    memset(q, 0, sizeof *q);
    while (*s) {
        size_t len = strcspn(s, "&");
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        char *key = query_decode(r->arena, s, klen);
        char *val =
            eq ? query_decode(r->arena, eq + 1, len - klen - 1) : arena_strdup(r->arena, "");
        if (key == NULL || val == NULL)
            return "query: bad percent-encoding";
        if (!strcmp(key, "format")) {
            if (seen_format)
                return "format: given more than once";
            seen_format = true;
            if (!strcmp(val, "csv"))
                q->csv = true;
            else if (strcmp(val, "json"))
                return "format: expected json or csv";
        } else if (!strcmp(key, "at") || !strcmp(key, "to")) {
            if (w->has_to)
                return "at: given more than once (`to` is the same parameter)";
            if (!proto_rfc3339_parse(val, strlen(val), false, &w->to_us))
                return arena_printf(r->arena,
                                    "%s: expected an RFC 3339 date-time such as "
                                    "2024-01-31T23:59:59Z",
                                    key);
            w->has_to = true;
        } else if (!strcmp(key, "from")) {
            if (w->has_from)
                return "from: given more than once";
            if (!proto_rfc3339_parse(val, strlen(val), false, &w->from_us))
                return "from: expected an RFC 3339 date-time such as 2024-01-01T00:00:00Z";
            w->has_from = true;
        }
        s += len;
        if (*s == '&')
            s++;
    }
    if (w->has_from && w->has_to && w->from_us >= w->to_us)
        return "from: must be earlier than at/to";
    return NULL;
}

/* A CSV field (RFC 4180): quoted only when it must be.  Organization ids
 * never need it, but the column is written the safe way regardless. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Parsec 3's columns in Parsec 3's order, then `users`, which Parsec 3's CSV
 * lacks; appended last so scripts reading Parsec 3's columns by position
 * keep working.  CRLF line ends, as RFC 4180 and Python's csv module. */
static void respond_stats_csv(http_req_t *r, const organization_stats_t *rows, size_t n)
{
    static const char *const profile_columns[3] = {"admin", "standard", "outsider"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    fputs("organization_id,data_size,metadata_size,realms,active_users", f);
    for (int p = 0; p < 3; p++)
        fprintf(f, ",%s_users_active,%s_users_revoked", profile_columns[p], profile_columns[p]);
    fputs(",users\r\n", f);
    for (size_t i = 0; i < n; i++) {
        const organization_stats_t *s = &rows[i];
        csv_field(f, s->organization_id);
        fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64, s->data_size, s->metadata_size,
                s->realms, organization_stats_active_users(s));
        for (int p = 0; p < 3; p++)
            fprintf(f, ",%" PRId64 ",%" PRId64, s->active[p], s->revoked[p]);
        fprintf(f, ",%" PRId64 "\r\n", organization_stats_users(s));
    }
    if (fclose(f) != 0) {
        free(buf);
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    no_store(r);
    http_respond(r, 200, "text/csv; charset=utf-8", buf, len);
    free(buf);
}

static void admin_server_stats(http_req_t *r)
{
    stats_query q;
    const char *reason;
    if (!authorized(r))
        return;
    if ((reason = parse_stats_query(r, &q))) {
        respond_error(r, 400, "bad_data", reason);
        return;
    }
    db_conn_t *c = need_db(r);
    if (c == NULL)
        return;
    organization_stats_t *rows;
    size_t n;
    if (!organization_db_stats(c, r->arena, NULL, &q.window, &rows, &n)) {
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    if (q.csv) {
        respond_stats_csv(r, rows, n);
        return;
    }
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        organization_stats_add(o, &rows[i], true);
        json_object_array_add(list, o);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "stats", list);
    respond_json(r, out);
}

const http_route_t admin_routes[] = {
    {"POST", "/administration/organizations", admin_create, NULL},
    {"GET", "/administration/organizations/{}", admin_get, NULL},
    {"PATCH", "/administration/organizations/{}", admin_patch, NULL},
    {"GET", "/administration/organizations/{}/stats", admin_org_stats, NULL},
    {"GET", "/administration/stats", admin_server_stats, NULL},
    {"GET", "/administration/metrics", admin_metrics, NULL},
    {NULL, NULL, NULL, NULL},
};
