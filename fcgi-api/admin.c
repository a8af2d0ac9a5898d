/*
 * fcgi-api/admin.c - the administration REST API (/administration/...)
 *
 * Parsec 2.12's API for hosting providers' scripts (Parsec's
 * parsec/backend/asgi/administration.py), plus Parsec 3's server-wide usage
 * export (GET /administration/stats).  docs/administration.md is the
 * contract: every route, field, status and error written here is written
 * there too.
 *
 * Every handler does, in this order: the Bearer check (403 before anything
 * else, so an unauthenticated caller learns nothing, not even whether an
 * organization exists), input validation that needs no database, then one
 * db_tx() that either commits the whole command or leaves no trace.
 */
#include "admin.h"

#include "crypto.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "routes.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------------
 * Input rules (admin.h)
 */

static bool parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so two instants with different offsets compare. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool admin_parse_timestamp(const char *s, char out[ADMIN_TS_MAX], int64_t *epoch_s, int32_t *nanos)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    if (s == NULL || strlen(s) < 20)
        return false;
    if (!parse_digits(s, 4, &y) || s[4] != '-' || !parse_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !parse_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !parse_digits(s + 11, 2, &h) || s[13] != ':' || !parse_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !parse_digits(s + 17, 2, &sec))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return false;
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
        return false;
    const char *p = s + 19;
    char frac[10] = "";
    int32_t ns = 0;
    if (*p == '.') {
        int n = 0;
        p++;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n < 1 || n > 9)
            return false;
        memcpy(frac, p, (size_t)n);
        frac[n] = '\0';
        for (int i = 0; i < 9; i++)
            ns = ns * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!parse_digits(p + 1, 2, &oh) || p[3] != ':' || !parse_digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            return false;
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    /* The input, already checked, with ' ' for 'T' and an explicit offset:
     * "YYYY-MM-DD HH:MM:SS" + ".f" + "+HH:MM" (at most 19 + 10 + 6 + 1). */
    size_t n = 19;
    memcpy(out, s, 19);
    out[10] = ' ';
    if (frac[0]) {
        out[n++] = '.';
        memcpy(out + n, frac, strlen(frac));
        n += strlen(frac);
    }
    if (sign == 0) {
        memcpy(out + n, "+00:00", 6);
    } else {
        memcpy(out + n, p - 6, 6);
    }
    out[n + 6] = '\0';
    if (epoch_s)
        *epoch_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                   (int64_t)sign * (oh * 3600 + om * 60);
    if (nanos)
        *nanos = ns;
    return true;
}

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
    const char *why = NULL;

    if (want == NULL || want[0] == '\0') {
        why = "no administration token configured";
    } else if (h == NULL) {
        why = "no Authorization header";
    } else if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) {
        why = "Authorization is not a Bearer token";
    } else {
        const char *tok = h + 7;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            n--;
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

static void put_json(void *obj)
{
    json_object_put(obj);
}

/* Outcome of reading a JSON request body; the caller answers it. */
typedef struct {
    int status;         /* 0: ok; else 400 or 413 */
    const char *reason; /* static or arena text */
} body_error;

/*
 * parse_body - the request body as a JSON object, or NULL with *err set
 *
 * Size, then UTF-8 (json-c lets some invalid sequences through), then JSON
 * strictly: the whole body must be one object and nothing after it but
 * whitespace.  The object joins the request's arena.
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
    /* Parsed with its terminating NUL, so that json-c knows the text ends
     * there (a top-level number or literal is otherwise "incomplete"). */
    char *text = arena_alloc(r->arena, r->body_len + 1);
    memcpy(text, r->body, r->body_len);
    text[r->body_len] = '\0';
    struct json_tokener *tok = json_tokener_new_ex(ADMIN_MAX_JSON_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)r->body_len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (obj)
        arena_defer(r->arena, put_json, obj);
    if (jerr != json_tokener_success || end != r->body_len) {
        err->reason =
            jerr == json_tokener_error_depth ? "Invalid JSON: nested too deeply" : "Invalid JSON";
        return NULL;
    }
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        err->reason = "Invalid JSON: the body must be a JSON object";
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

static const char *limit_param(http_req_t *r, long limit)
{
    return limit < 0 ? NULL : arena_printf(r->arena, "%ld", limit);
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
static const db_stmt_t stmt_org_create = {
    "admin_org_create",
    "INSERT INTO organization (organization_id, bootstrap_token, active_users_limit,"
    "    user_profile_outsider_allowed, created_by_administration)"
    " VALUES ($1, $2, $3::integer, $4::boolean, TRUE)"
    " ON CONFLICT (organization_id) DO UPDATE SET"
    "    bootstrap_token = EXCLUDED.bootstrap_token,"
    "    active_users_limit = EXCLUDED.active_users_limit,"
    "    user_profile_outsider_allowed = EXCLUDED.user_profile_outsider_allowed,"
    "    is_expired = FALSE, created_by_administration = TRUE"
    " WHERE organization.root_verify_key IS NULL"
    " RETURNING _id",
    4,
};

typedef struct {
    const char *values[4];
    bool already_exists;
} create_ctx;

static db_tx_result create_tx(db_conn_t *c, void *arg)
{
    create_ctx *x = arg;
    x->already_exists = false;
    PGresult *res = db_exec(c, &stmt_org_create, x->values, NULL, NULL);
    if (res == NULL)
        return DB_TX_ERROR;
    x->already_exists = PQntuples(res) == 0;
    PQclear(res);
    return x->already_exists ? DB_TX_ROLLBACK : DB_TX_COMMIT;
}

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
    create_ctx x = {{f.organization_id, token, limit_param(r, limit), outsider ? "true" : "false"},
                    false};
    db_tx_result res = db_tx(c, create_tx, &x);
    if (res == DB_TX_ERROR) {
        respond_error(r, 500, "internal_error", NULL);
    } else if (x.already_exists) {
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

static const db_stmt_t stmt_org_get = {
    "admin_org_get",
    "SELECT root_verify_key IS NOT NULL, is_expired, user_profile_outsider_allowed,"
    "    active_users_limit"
    " FROM organization WHERE organization_id = $1",
    1,
};

typedef struct {
    const char *id;
    bool found;
    bool bootstrapped, expired, outsider;
    long limit; /* -1: null */
} get_ctx;

static bool pg_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

static int64_t pg_int(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static db_tx_result get_tx(db_conn_t *c, void *arg)
{
    get_ctx *x = arg;
    const char *values[] = {x->id};
    PGresult *res = db_exec(c, &stmt_org_get, values, NULL, NULL);
    if (res == NULL)
        return DB_TX_ERROR;
    x->found = PQntuples(res) == 1;
    if (x->found) {
        x->bootstrapped = pg_bool(res, 0, 0);
        x->expired = pg_bool(res, 0, 1);
        x->outsider = pg_bool(res, 0, 2);
        x->limit = PQgetisnull(res, 0, 3) ? -1 : (long)pg_int(res, 0, 3);
    }
    PQclear(res);
    return DB_TX_COMMIT;
}

static void admin_get(http_req_t *r)
{
    if (!authorized(r))
        return;
    get_ctx x = {.id = path_organization(r)};
    if (x.id == NULL) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    db_conn_t *c = need_db(r);
    if (c == NULL)
        return;
    if (db_tx(c, get_tx, &x) != DB_TX_COMMIT) {
        respond_error(r, 500, "internal_error", NULL);
        return;
    }
    if (!x.found) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "is_bootstrapped", json_object_new_boolean(x.bootstrapped));
    json_object_object_add(out, "is_expired", json_object_new_boolean(x.expired));
    json_object_object_add(out, "user_profile_outsider_allowed",
                           json_object_new_boolean(x.outsider));
    json_object_object_add(out, "active_users_limit",
                           x.limit < 0 ? NULL : json_object_new_int64(x.limit));
    respond_json(r, out);
}

/* ---------------------------------------------------------------------------
 * PATCH /administration/organizations/{id}
 */

/* NULL parameters leave their column alone; $4 says whether the limit is
 * given at all, since null is a value for it (unlimited). */
static const db_stmt_t stmt_org_update = {
    "admin_org_update",
    "UPDATE organization SET"
    "    is_expired = COALESCE($2::boolean, is_expired),"
    "    user_profile_outsider_allowed = COALESCE($3::boolean, user_profile_outsider_allowed),"
    "    active_users_limit = CASE WHEN $4::boolean THEN $5::integer ELSE active_users_limit END"
    " WHERE organization_id = $1"
    " RETURNING _id",
    5,
};

static const db_stmt_t stmt_org_exists = {
    "admin_org_exists",
    "SELECT 1 FROM organization WHERE organization_id = $1",
    1,
};

typedef struct {
    const char *id;
    const admin_fields *f; /* NULL: the body was refused, only look the id up */
    const char *values[5];
    bool found;
} patch_ctx;

static db_tx_result patch_tx(db_conn_t *c, void *arg)
{
    patch_ctx *x = arg;
    PGresult *res;
    if (x->f == NULL) {
        const char *values[] = {x->id};
        if ((res = db_exec(c, &stmt_org_exists, values, NULL, NULL)) == NULL)
            return DB_TX_ERROR;
        x->found = PQntuples(res) == 1;
        PQclear(res);
        return DB_TX_ROLLBACK;
    }
    if ((res = db_exec(c, &stmt_org_update, x->values, NULL, NULL)) == NULL)
        return DB_TX_ERROR;
    x->found = PQntuples(res) == 1;
    PQclear(res);
    if (!x->found)
        return DB_TX_ROLLBACK;
    /* Published inside the transaction: notifyd closes the organization's
     * websockets only once the expiry is committed.  Sent on every PATCH
     * that sets is_expired=true, as Parsec's PostgreSQL backend does. */
    if (x->f->has_expired && x->f->expired && !event_publish_organization_expired(c, x->id, NULL))
        return DB_TX_ERROR;
    return DB_TX_COMMIT;
}

static void admin_patch(http_req_t *r)
{
    body_error berr = {0, NULL};
    admin_fields f;
    const char *reason = NULL;
    if (!authorized(r))
        return;
    patch_ctx x = {.id = path_organization(r)};
    if (x.id == NULL) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    /* Parsec looks the organization up before reading the body: an unknown
     * organization is 404 whatever the body says.  So a refused body is only
     * answered after that lookup. */
    json_object *obj = parse_body(r, &berr);
    if (obj != NULL)
        reason = parse_fields(r, obj, false, true, &f);
    if (obj != NULL && reason == NULL) {
        x.f = &f;
        x.values[0] = x.id;
        x.values[1] = f.has_expired ? (f.expired ? "true" : "false") : NULL;
        x.values[2] = f.has_outsider ? (f.outsider ? "true" : "false") : NULL;
        x.values[3] = f.has_limit ? "true" : "false";
        x.values[4] = f.has_limit ? limit_param(r, f.limit) : NULL;
    }
    db_conn_t *c = need_db(r);
    if (c == NULL)
        return;
    if (db_tx(c, patch_tx, &x) == DB_TX_ERROR) {
        respond_error(r, 500, "internal_error", NULL);
    } else if (!x.found) {
        respond_error(r, 404, "not_found", NULL);
    } else if (obj == NULL) {
        respond_error(r, berr.status, "bad_data", berr.reason);
    } else if (reason != NULL) {
        respond_error(r, 400, "bad_data", reason);
    } else {
        log_info("administration: organization %s updated%s", x.id,
                 f.has_expired ? (f.expired ? " (expired)" : " (unexpired)") : "");
        respond_json(r, json_object_new_object());
    }
}

/* ---------------------------------------------------------------------------
 * Statistics: GET /administration/organizations/{id}/stats and
 * GET /administration/stats
 */

/*
 * One statement for both routes: $1 names one organization, or is NULL for
 * all of them; $2/$3 bound a window (NULL: open).  Without a window this is
 * Parsec 2.12's organization_stats.  With $3 ("at"/"to") it is the
 * organization as it stood then (Parsec 3's `at`): only what was created by
 * then, users revoked by then as revoked, blocks deleted by then left out,
 * organizations created later left out.  With $2 ("from") it counts only
 * what was created after it.  Sizes are INTEGER columns, so SUMs are bigint.
 */
// clang-format off
static const db_stmt_t stmt_stats = {
    "admin_stats",
    "SELECT o.organization_id,"
    "  (SELECT COALESCE(SUM(b.size), 0) FROM block b"
    "    WHERE b.organization = o._id"
    "      AND ($2::timestamptz IS NULL OR b.created_on > $2::timestamptz)"
    "      AND ($3::timestamptz IS NULL OR b.created_on <= $3::timestamptz)"
    "      AND (b.deleted_on IS NULL OR b.deleted_on > COALESCE($3::timestamptz, now()))),"
    "  (SELECT COALESCE(SUM(a.size), 0) FROM vlob_atom a JOIN vlob v ON v._id = a.vlob"
    "    WHERE v.organization = o._id"
    "      AND ($2::timestamptz IS NULL OR a.created_on > $2::timestamptz)"
    "      AND ($3::timestamptz IS NULL OR a.created_on <= $3::timestamptz)),"
    "  (SELECT COUNT(*) FROM realm m"
    "    WHERE m.organization = o._id"
    "      AND ($2::timestamptz IS NULL OR m.created_on > $2::timestamptz)"
    "      AND ($3::timestamptz IS NULL OR m.created_on <= $3::timestamptz)),"
    "  p.admin_active, p.admin_revoked, p.standard_active, p.standard_revoked,"
    "  p.outsider_active, p.outsider_revoked"
    " FROM organization o"
    " CROSS JOIN LATERAL ("
    "   SELECT"
    "     COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND NOT u.revoked) AS admin_active,"
    "     COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND u.revoked) AS admin_revoked,"
    "     COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND NOT u.revoked) AS standard_active,"
    "     COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND u.revoked) AS standard_revoked,"
    "     COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND NOT u.revoked) AS outsider_active,"
    "     COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND u.revoked) AS outsider_revoked"
    "   FROM (SELECT profile,"
    "           revoked_on IS NOT NULL"
    "             AND ($3::timestamptz IS NULL OR revoked_on <= $3::timestamptz) AS revoked"
    "         FROM user_"
    "         WHERE organization = o._id"
    "           AND ($2::timestamptz IS NULL OR created_on > $2::timestamptz)"
    "           AND ($3::timestamptz IS NULL OR created_on <= $3::timestamptz)) u"
    " ) p"
    " WHERE ($1::text IS NULL OR o.organization_id = $1::text)"
    "   AND ($3::timestamptz IS NULL OR o.created_on <= $3::timestamptz)"
    " ORDER BY o.organization_id COLLATE \"C\"",
    3,
};
// clang-format on

/* Profiles in the order Parsec always lists them. */
static const char *const profiles[3] = {"ADMIN", "STANDARD", "OUTSIDER"};
static const char *const profile_columns[3] = {"admin", "standard", "outsider"};

typedef struct {
    const char *organization_id;
    int64_t data_size, metadata_size, realms;
    int64_t active[3], revoked[3]; /* indexed like profiles[] */
} org_stats;

typedef struct {
    const char *values[3];
    arena_t *arena;
    org_stats *rows; /* arena; filled by stats_tx */
    size_t n;
} stats_ctx;

static db_tx_result stats_tx(db_conn_t *c, void *arg)
{
    stats_ctx *x = arg;
    x->n = 0;
    PGresult *res = db_exec(c, &stmt_stats, x->values, NULL, NULL);
    if (res == NULL)
        return DB_TX_ERROR;
    int n = PQntuples(res);
    x->rows = arena_zalloc(x->arena, sizeof *x->rows * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        org_stats *s = &x->rows[i];
        s->organization_id = arena_strdup(x->arena, PQgetvalue(res, i, 0));
        s->data_size = pg_int(res, i, 1);
        s->metadata_size = pg_int(res, i, 2);
        s->realms = pg_int(res, i, 3);
        for (int p = 0; p < 3; p++) {
            s->active[p] = pg_int(res, i, 4 + 2 * p);
            s->revoked[p] = pg_int(res, i, 5 + 2 * p);
        }
    }
    x->n = (size_t)n;
    PQclear(res);
    return DB_TX_COMMIT;
}

static int64_t stats_active(const org_stats *s)
{
    return s->active[0] + s->active[1] + s->active[2];
}

static int64_t stats_users(const org_stats *s)
{
    return stats_active(s) + s->revoked[0] + s->revoked[1] + s->revoked[2];
}

/* The stats object of one organization (Parsec 2.12's organization_stats
 * reply), with organization_id first when with_id. */
static json_object *stats_json(const org_stats *s, bool with_id)
{
    json_object *o = json_object_new_object();
    if (with_id)
        json_object_object_add(o, "organization_id", json_object_new_string(s->organization_id));
    json_object_object_add(o, "data_size", json_object_new_int64(s->data_size));
    json_object_object_add(o, "metadata_size", json_object_new_int64(s->metadata_size));
    json_object_object_add(o, "realms", json_object_new_int64(s->realms));
    json_object_object_add(o, "users", json_object_new_int64(stats_users(s)));
    json_object_object_add(o, "active_users", json_object_new_int64(stats_active(s)));
    json_object *detail = json_object_new_array();
    for (int p = 0; p < 3; p++) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "profile", json_object_new_string(profiles[p]));
        json_object_object_add(d, "active", json_object_new_int64(s->active[p]));
        json_object_object_add(d, "revoked", json_object_new_int64(s->revoked[p]));
        json_object_array_add(detail, d);
    }
    json_object_object_add(o, "users_per_profile_detail", detail);
    return o;
}

static bool run_stats(http_req_t *r, stats_ctx *x)
{
    db_conn_t *c = need_db(r);
    if (c == NULL)
        return false;
    x->arena = r->arena;
    if (db_tx(c, stats_tx, x) != DB_TX_COMMIT) {
        respond_error(r, 500, "internal_error", NULL);
        return false;
    }
    return true;
}

static void admin_org_stats(http_req_t *r)
{
    if (!authorized(r))
        return;
    stats_ctx x = {.values = {path_organization(r), NULL, NULL}};
    if (x.values[0] == NULL) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    if (!run_stats(r, &x))
        return;
    if (x.n != 1) {
        respond_error(r, 404, "not_found", NULL);
        return;
    }
    respond_json(r, stats_json(&x.rows[0], false));
}

/* What GET /administration/stats was asked. */
typedef struct {
    bool csv;
    const char *from, *to; /* normalised timestamps, NULL when open */
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
    int64_t from_s = 0, to_s = 0;
    int32_t from_ns = 0, to_ns = 0;
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
            char ts[ADMIN_TS_MAX];
            if (q->to)
                return "at: given more than once (`to` is the same parameter)";
            if (!admin_parse_timestamp(val, ts, &to_s, &to_ns))
                return arena_printf(r->arena,
                                    "%s: expected an RFC 3339 date-time such as "
                                    "2024-01-31T23:59:59Z",
                                    key);
            q->to = arena_strdup(r->arena, ts);
        } else if (!strcmp(key, "from")) {
            char ts[ADMIN_TS_MAX];
            if (q->from)
                return "from: given more than once";
            if (!admin_parse_timestamp(val, ts, &from_s, &from_ns))
                return "from: expected an RFC 3339 date-time such as 2024-01-01T00:00:00Z";
            q->from = arena_strdup(r->arena, ts);
        }
        s += len;
        if (*s == '&')
            s++;
    }
    if (q->from && q->to && (from_s > to_s || (from_s == to_s && from_ns >= to_ns)))
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
static void respond_stats_csv(http_req_t *r, const stats_ctx *x)
{
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
    for (size_t i = 0; i < x->n; i++) {
        const org_stats *s = &x->rows[i];
        csv_field(f, s->organization_id);
        fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64, s->data_size, s->metadata_size,
                s->realms, stats_active(s));
        for (int p = 0; p < 3; p++)
            fprintf(f, ",%" PRId64 ",%" PRId64, s->active[p], s->revoked[p]);
        fprintf(f, ",%" PRId64 "\r\n", stats_users(s));
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
    stats_ctx x = {.values = {NULL, q.from, q.to}};
    if (!run_stats(r, &x))
        return;
    if (q.csv) {
        respond_stats_csv(r, &x);
        return;
    }
    json_object *list = json_object_new_array_ext((int)x.n);
    for (size_t i = 0; i < x.n; i++)
        json_object_array_add(list, stats_json(&x.rows[i], true));
    json_object *out = json_object_new_object();
    json_object_object_add(out, "stats", list);
    respond_json(r, out);
}

const http_route_t admin_routes[] = {
    {"POST", "/administration/organizations", admin_create},
    {"GET", "/administration/organizations/{}", admin_get},
    {"PATCH", "/administration/organizations/{}", admin_patch},
    {"GET", "/administration/organizations/{}/stats", admin_org_stats},
    {"GET", "/administration/stats", admin_server_stats},
    {NULL, NULL, NULL},
};
