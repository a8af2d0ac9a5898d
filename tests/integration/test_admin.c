/*
 * tests/integration/test_admin.c - the administration REST API end to end
 *
 * Real PostgreSQL and real web servers in front of the real worker
 * (tests/lib/porg.h: one server per web server kind, each test in
 * organizations of its own): lighttpd, Apache + mod_fcgid, nginx +
 * spawn-fcgi.  What depends on the web server (headers reaching the worker,
 * bodies, statuses, path handling) runs through all three; what only
 * depends on the database (stats, events, races) runs through lighttpd.
 * State is checked with SQL beside the HTTP replies, so "nothing was
 * written" is verified, not assumed.
 */
#include "porg.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TOKEN PORG_ADMIN_TOKEN
#define AUTH  "Authorization: Bearer " TOKEN

/* One server per web server kind (the token is PORG_ADMIN_TOKEN). */
static porg_srv_t *srvs[WEBSRV_KIND_COUNT];

/* ---- requests ---- */

typedef struct {
    long status;
    char *body;
    size_t len;
    json_object *json; /* NULL when the body is not JSON */
    http_result_t *raw;
} reply_t;

/* req - method path with the right token (auth NULL), or with auth as the
 * whole Authorization header line ("" sends none). */
static reply_t req_auth(const porg_srv_t *srv, const char *method, const char *path,
                        const char *auth, const void *body, size_t len)
{
    const char *hdrs[3] = {NULL, NULL, NULL};
    int n = 0;
    if (auth == NULL)
        hdrs[n++] = AUTH;
    else if (*auth)
        hdrs[n++] = auth;
    if (body)
        hdrs[n++] = "Content-Type: application/json";
    char *url = websrv_urlf(porg_srv_websrv(srv), path);
    reply_t r = {0};
    r.raw = testhttp_request(method, url, hdrs, body, len);
    free(url);
    ck_assert_msg(r.raw->status != 0, "%s %s: %s", method, path, r.raw->error);
    r.status = r.raw->status;
    r.body = (char *)r.raw->body;
    r.len = r.raw->body_len;
    char *ct = testhttp_header(r.raw, "Content-Type");
    if (ct && !strncmp(ct, "application/json", 16))
        r.json = json_tokener_parse(r.body);
    free(ct);
    return r;
}

static reply_t req(const porg_srv_t *srv, const char *method, const char *path, const char *body)
{
    return req_auth(srv, method, path, NULL, body, body ? strlen(body) : 0);
}

static void reply_free(reply_t *r)
{
    json_object_put(r->json);
    testhttp_free(r->raw);
}

static json_object *jget(const reply_t *r, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(r->json != NULL, "not JSON: %s", r->body);
    ck_assert_msg(json_object_object_get_ex(r->json, key, &v), "no %s in %s", key, r->body);
    return v;
}

/* expect - status and error code (NULL: a success without "error"). */
static void expect(const reply_t *r, long status, const char *error)
{
    ck_assert_msg(r->status == status, "status %ld, expected %ld: %s", r->status, status,
                  r->body ? r->body : "");
    if (error) {
        ck_assert_str_eq(json_object_get_string(jget(r, "error")), error);
    }
}

/* expect_req - send (auth as for req_auth), expect status and error code
 * (as for expect), free the reply. */
static void expect_req(const porg_srv_t *srv, const char *method, const char *path,
                       const char *auth, const char *body, long status, const char *error)
{
    reply_t r = req_auth(srv, method, path, auth, body, body ? strlen(body) : 0);
    expect(&r, status, error);
    reply_free(&r);
}

/* expect_body - exact JSON text of a success. */
static void expect_body(const porg_srv_t *srv, const char *method, const char *path,
                        const char *body, long status, const char *want)
{
    reply_t r = req(srv, method, path, body);
    ck_assert_msg(r.status == status, "%s %s: status %ld: %s", method, path, r.status, r.body);
    ck_assert_str_eq(r.body, want);
    char *cc = testhttp_header(r.raw, "Cache-Control");
    ck_assert_str_eq(cc, "no-store");
    free(cc);
    reply_free(&r);
}

/* ---- the test's organizations ---- */

/* subst - text with every "OrgA", "OrgB", "OrgC" (those not NULL) replaced
 * by the test's ids a, b, c (malloc'd): expected answers written once. */
static char *subst(const char *text, const char *a, const char *b, const char *c)
{
    const char *from[3] = {"OrgA", "OrgB", "OrgC"}, *to[3] = {a, b, c};
    char *out = xstrdup(text);
    for (int i = 0; i < 3; i++) {
        if (!to[i])
            continue;
        size_t n = 0;
        for (const char *p = out; (p = strstr(p, from[i])) != NULL; p += 4)
            n++;
        char *next = xmalloc(strlen(out) + n * strlen(to[i]) + 1), *w = next;
        for (const char *p = out, *hit; *p; p = hit + 4) {
            hit = strstr(p, from[i]);
            if (!hit) {
                strcpy(w, p);
                w += strlen(p);
                break;
            }
            memcpy(w, p, (size_t)(hit - p));
            w += hit - p;
            strcpy(w, to[i]);
            w += strlen(to[i]);
        }
        *w = '\0';
        free(out);
        out = next;
    }
    return out;
}

/* org_path - "/administration/organizations/<org><suffix>" (malloc'd). */
static char *org_path(const char *org, const char *suffix)
{
    return xasprintf("/administration/organizations/%s%s", org, suffix);
}

/* ---- database views ---- */

/* The organization's row as one comparable string ("-" when absent). */
static char *org_row(const porg_srv_t *srv, const char *org)
{
    char *s = porg_sql(srv,
                       "SELECT bootstrap_token || '|' || is_expired || '|' ||"
                       " COALESCE(active_users_limit::text, 'null') || '|' ||"
                       " user_profile_outsider_allowed || '|' || created_by_administration ||"
                       " '|' || (root_verify_key IS NOT NULL) FROM organization"
                       " WHERE organization_id = $1",
                       org, NULL);
    return s ? s : xstrdup("-");
}

/* Every organization of the server: the tests of a server run one at a
 * time, so "nothing else was created" is a count before and after. */
static long org_count(const porg_srv_t *srv)
{
    return porg_sql_long(srv, "SELECT count(*) FROM organization", NULL);
}

static void sql(const porg_srv_t *srv, const char *q)
{
    PGconn *pg = porg_conn(srv);
    PGresult *res = PQexec(pg, q);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "%s: %s", q, PQerrorMessage(pg));
    PQclear(res);
}

/* What organization_bootstrap leaves: a root key and a date. */
static void mark_bootstrapped(const porg_srv_t *srv, const char *org)
{
    free(porg_sql(srv,
                  "UPDATE organization SET root_verify_key = decode(repeat('ab', 32), 'hex'),"
                  " bootstrapped_on = now() WHERE organization_id = $1",
                  org, NULL));
}

static char *create_org(const porg_srv_t *srv, const char *body)
{
    reply_t r = req(srv, "POST", "/administration/organizations", body);
    expect(&r, 200, NULL);
    const char *tok = json_object_get_string(jget(&r, "bootstrap_token"));
    ck_assert_uint_eq(strlen(tok), 64);
    ck_assert_uint_eq(strspn(tok, "0123456789abcdef"), 64);
    char *out = xstrdup(tok);
    reply_free(&r);
    return out;
}

/* ---- every route, every status, through each web server ---- */

START_TEST(every_route)
{
    const porg_srv_t *srv = srvs[_i];
    long orgs_before = org_count(srv);
    char *org1 = porg_org_id("Org1"), *org2 = porg_org_id("Org2");
    const char *const ours[] = {org1, org2, NULL};
    char *p1 = org_path(org1, ""), *p2 = org_path(org2, ""), *p2s = org_path(org2, "/stats");
    char *create1 = xasprintf("{\"organization_id\":\"%s\"}", org1);

    /* create with defaults */
    char *t1 = create_org(srv, create1);
    char *row = org_row(srv, org1);
    char *want = xasprintf("%s|false|null|true|true|false", t1);
    ck_assert_str_eq(row, want);
    free(row);
    free(want);
    expect_body(srv, "GET", p1, NULL, 200,
                "{\"is_bootstrapped\":false,\"is_expired\":false,"
                "\"user_profile_outsider_allowed\":true,\"active_users_limit\":null}");

    /* create with a configuration */
    char *create2 = xasprintf("{\"organization_id\":\"%s\",\"active_users_limit\":10,"
                              "\"user_profile_outsider_allowed\":false}",
                              org2);
    char *t2 = create_org(srv, create2);
    expect_body(srv, "GET", p2, NULL, 200,
                "{\"is_bootstrapped\":false,\"is_expired\":false,"
                "\"user_profile_outsider_allowed\":false,\"active_users_limit\":10}");

    /* PATCH: partial updates, null limit, no-ops, unknown fields */
    expect_body(srv, "PATCH", p1,
                "{\"user_profile_outsider_allowed\":false,\"active_users_limit\":10}", 200, "{}");
    expect_body(srv, "GET", p1, NULL, 200,
                "{\"is_bootstrapped\":false,\"is_expired\":false,"
                "\"user_profile_outsider_allowed\":false,\"active_users_limit\":10}");
    expect_body(srv, "PATCH", p1, "{\"active_users_limit\":null}", 200, "{}");
    expect_body(srv, "PATCH", p1, "{}", 200, "{}");
    expect_body(srv, "PATCH", p1, "{\"dummy\":\"whatever\"}", 200, "{}");
    expect_body(srv, "GET", p1, NULL, 200,
                "{\"is_bootstrapped\":false,\"is_expired\":false,"
                "\"user_profile_outsider_allowed\":false,\"active_users_limit\":null}");
    expect_body(srv, "PATCH", p1, "{\"is_expired\":true,\"active_users_limit\":0}", 200, "{}");
    expect_body(srv, "GET", p1, NULL, 200,
                "{\"is_bootstrapped\":false,\"is_expired\":true,"
                "\"user_profile_outsider_allowed\":false,\"active_users_limit\":0}");

    /* re-creating a non-bootstrapped, expired organization: new token,
     * configuration back to the request's or the defaults, expiry cleared */
    char *t3 = create_org(srv, create1);
    ck_assert_str_ne(t3, t1);
    row = org_row(srv, org1);
    want = xasprintf("%s|false|null|true|true|false", t3);
    ck_assert_str_eq(row, want);
    free(row);
    free(want);
    char *create1_limit = xasprintf("{\"organization_id\":\"%s\",\"active_users_limit\":3}", org1);
    char *t4 = create_org(srv, create1_limit);
    row = org_row(srv, org1);
    want = xasprintf("%s|false|3|true|true|false", t4);
    ck_assert_str_eq(row, want);
    free(row);
    free(want);

    /* bootstrapped: already_exists, nothing changes */
    mark_bootstrapped(srv, org1);
    char *before = org_row(srv, org1);
    char *create1_again = xasprintf("{\"organization_id\":\"%s\",\"active_users_limit\":99}", org1);
    expect_req(srv, "POST", "/administration/organizations", NULL, create1_again, 400,
               "already_exists");
    row = org_row(srv, org1);
    ck_assert_str_eq(row, before);
    free(row);
    free(before);
    expect_body(srv, "GET", p1, NULL, 200,
                "{\"is_bootstrapped\":true,\"is_expired\":false,"
                "\"user_profile_outsider_allowed\":true,\"active_users_limit\":3}");
    /* a bootstrapped organization is still patched and expired */
    expect_body(srv, "PATCH", p1, "{\"is_expired\":true}", 200, "{}");

    /* stats: the organization's, then the server's (ours in it) */
    expect_body(srv, "GET", p2s, NULL, 200,
                "{\"data_size\":0,\"metadata_size\":0,\"realms\":0,\"users\":0,\"active_users\":0,"
                "\"users_per_profile_detail\":[{\"profile\":\"ADMIN\",\"active\":0,\"revoked\":0},"
                "{\"profile\":\"STANDARD\",\"active\":0,\"revoked\":0},"
                "{\"profile\":\"OUTSIDER\",\"active\":0,\"revoked\":0}]}");
    reply_t r = req(srv, "GET", "/administration/stats", NULL);
    expect(&r, 200, NULL);
    char *mine = porg_stats_only(r.body, ours);
    json_object *all = json_tokener_parse(mine), *list, *id;
    ck_assert(json_object_object_get_ex(all, "stats", &list));
    ck_assert_int_eq(json_object_array_length(list), 2);
    json_object_object_get_ex(json_object_array_get_idx(list, 0), "organization_id", &id);
    ck_assert_str_eq(json_object_get_string(id), org1);
    json_object_put(all);
    free(mine);
    reply_free(&r);
    r = req(srv, "GET", "/administration/stats?format=csv", NULL);
    expect(&r, 200, NULL);
    char *ct = testhttp_header(r.raw, "Content-Type");
    ck_assert_str_eq(ct, "text/csv; charset=utf-8");
    free(ct);
    mine = porg_csv_only(r.body, ours);
    want = xasprintf("organization_id,data_size,metadata_size,realms,active_users,"
                     "admin_users_active,admin_users_revoked,standard_users_active,"
                     "standard_users_revoked,outsider_users_active,outsider_users_"
                     "revoked,users\r\n"
                     "%s,0,0,0,0,0,0,0,0,0,0,0\r\n"
                     "%s,0,0,0,0,0,0,0,0,0,0,0\r\n",
                     org1, org2);
    ck_assert_str_eq(mine, want);
    free(want);
    free(mine);
    reply_free(&r);
    expect_req(srv, "GET", "/administration/stats?format=xml", NULL, NULL, 400, "bad_data");

    /* 404: unknown and invalid ids, on every organization route */
    static const char *const missing[] = {"Nope", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "Bad!Id",
                                          "Caf%C3%A9"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        char *p = org_path(missing[i], "");
        char *ps = org_path(missing[i], "/stats");
        expect_req(srv, "GET", p, NULL, NULL, 404, "not_found");
        expect_req(srv, "PATCH", p, NULL, "{\"is_expired\":true}", 404, "not_found");
        expect_req(srv, "PATCH", p, NULL, "{}", 404, "not_found");
        /* the id is judged first */
        expect_req(srv, "PATCH", p, NULL, "{not json", 404, "not_found");
        expect_req(srv, "GET", ps, NULL, NULL, 404, "not_found");
        free(p);
        free(ps);
    }

    /* 405 with Allow; HEAD answers as GET without a body */
    r = req(srv, "DELETE", p2, NULL);
    ck_assert_int_eq(r.status, 405);
    char *allow = testhttp_header(r.raw, "Allow");
    ck_assert_ptr_nonnull(allow);
    ck_assert_ptr_nonnull(strstr(allow, "PATCH"));
    free(allow);
    reply_free(&r);
    r = req(srv, "GET", "/administration/organizations", NULL);
    ck_assert_int_eq(r.status, 405);
    reply_free(&r);
    r = req(srv, "HEAD", p2, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    reply_free(&r);

    /* still exactly the two new organizations, the second untouched by all
     * this */
    ck_assert_int_eq(org_count(srv), orgs_before + 2);
    row = org_row(srv, org2);
    want = xasprintf("%s|false|10|false|true|false", t2);
    ck_assert_str_eq(row, want);
    free(row);
    free(want);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    free(create1_again);
    free(create1_limit);
    free(create2);
    free(create1);
    free(p2s);
    free(p2);
    free(p1);
    free(org2);
    free(org1);
}
END_TEST

/* ---- authentication, through each web server ---- */

START_TEST(auth)
{
    const porg_srv_t *srv = srvs[_i];
    long orgs_before = org_count(srv);
    char *org = porg_org_id("Org"), *other = porg_org_id("Other");
    char *create = xasprintf("{\"organization_id\":\"%s\"}", org);
    char *create_other = xasprintf("{\"organization_id\":\"%s\"}", other);
    char *p = org_path(org, ""), *ps = org_path(org, "/stats");
    char *t = create_org(srv, create);
    char *before = org_row(srv, org);
    /* the right token but its last character */
    char *cut = xasprintf("Authorization: Bearer %.*s", (int)strlen(TOKEN) - 1, TOKEN);
    const char *const bad[] = {
        "", /* no header */
        "Authorization: Bearer wrong",
        "Authorization: Bearer " TOKEN "x",
        cut,
        "Authorization: Basic " TOKEN,
        "Authorization: " TOKEN,
        "Authorization: Bearer None",
    };
    const char *const routes[][3] = {
        {"POST", "/administration/organizations", create},
        {"POST", "/administration/organizations", create_other},
        {"GET", p, NULL},
        {"PATCH", p, "{\"is_expired\":true}"},
        {"GET", ps, NULL},
        {"GET", "/administration/organizations/Nope", NULL},
        {"GET", "/administration/stats", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
            const char *body = routes[k][2];
            reply_t r =
                req_auth(srv, routes[k][0], routes[k][1], bad[i], body, body ? strlen(body) : 0);
            expect(&r, 403, "not_allowed");
            ck_assert_ptr_null(strstr(r.body, TOKEN));
            reply_free(&r);
        }
    }
    /* the scheme is case-insensitive */
    expect_req(srv, "GET", p, "Authorization: bearer " TOKEN, NULL, 200, NULL);
    /* nothing was written by the refused requests */
    char *after = org_row(srv, org);
    ck_assert_str_eq(after, before);
    ck_assert_int_eq(org_count(srv), orgs_before + 1);
    free(after);
    free(before);
    free(t);
    free(cut);
    free(ps);
    free(p);
    free(create_other);
    free(create);
    free(other);
    free(org);
}
END_TEST

START_TEST(closed_without_token)
{
    /* Workers started without any administration token: a setting no
     * other test uses, so a server of its own. */
    const char *const env[] = {PORG_NO_ADMIN_TOKEN, NULL};
    porg_srv_t *srv = porg_srv_start((websrv_kind)_i, env);
    static const char *const tries[] = {"",
                                        "Authorization: Bearer ",
                                        "Authorization: Bearer None",
                                        "Authorization: Bearer null",
                                        "Authorization: Bearer x",
                                        AUTH /* the other servers' token */};
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        const char *body = "{\"organization_id\":\"Org\"}";
        expect_req(srv, "POST", "/administration/organizations", tries[i], body, 403,
                   "not_allowed");
        expect_req(srv, "GET", "/administration/stats", tries[i], NULL, 403, "not_allowed");
    }
    ck_assert_int_eq(org_count(srv), 0);
    ck_assert(porg_srv_stop(srv));
}
END_TEST

/* ---- bad input, through each web server: each its error, no write ---- */

START_TEST(bad_input)
{
    const porg_srv_t *srv = srvs[_i];
    long orgs_before = org_count(srv);
    char *org = porg_org_id("Org");
    char *p = org_path(org, "");
    char *create = xasprintf("{\"organization_id\":\"%s\",\"active_users_limit\":5}", org);
    char *t = create_org(srv, create);
    char *before = org_row(srv, org);

#define B(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
    static const struct {
        const char *body;
        size_t len;
    } bad_create[] = {
        B("{\"organization_id\":"),
        B("{\"organization_id\":\"New\"} trailing"),
        B("[\"New\"]"),
        B("null"),
        B(""),
        B("{}"),
        B("{\"organization_id\":42}"),
        B("{\"organization_id\":\"\"}"),
        B("{\"organization_id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"),
        B("{\"organization_id\":\"../New\"}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":-1}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":2147483648}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":1e999}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":99999999999999999999999999}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":1.0}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":\"5\"}"),
        B("{\"organization_id\":\"New\",\"active_users_limit\":false}"),
        B("{\"organization_id\":\"New\",\"user_profile_outsider_allowed\":\"yes\"}"),
        B("{\"organization_id\":\"New\",\"user_profile_outsider_allowed\":null}"),
        B("{\"organization_id\":\"New\xff\"}"),
        B("{\"organization_id\":\"New\",\"x\":\"\xed\xa0\x80\"}"),
        B("{\"organization_id\":\"New\"}\0"),
    };
    static const struct {
        const char *body;
        size_t len;
    } bad_patch[] = {
        B("{\"is_expired\":"),
        B("{\"is_expired\":true}x"),
        B("[]"),
        B(""),
        B("{\"is_expired\":1}"),
        B("{\"is_expired\":\"true\"}"),
        B("{\"is_expired\":null}"),
        /* valid fields beside an invalid one: nothing applied */
        B("{\"is_expired\":true,\"active_users_limit\":-1}"),
        B("{\"active_users_limit\":7,\"user_profile_outsider_allowed\":0}"),
        B("{\"is_expired\":true,\"note\":\"\xc0\xaf\"}"),
    };
#undef B
    /* a valid id for an existing organization, with one bad field */
    char *bad_existing = xasprintf("{\"organization_id\":\"%s\",\"active_users_limit\":-5}", org);
    for (size_t i = 0; i <= sizeof bad_create / sizeof bad_create[0]; i++) {
        bool last = i == sizeof bad_create / sizeof bad_create[0];
        reply_t r = req_auth(srv, "POST", "/administration/organizations", NULL,
                             last ? bad_existing : bad_create[i].body,
                             last ? strlen(bad_existing) : bad_create[i].len);
        ck_assert_msg(r.status == 400, "create case %zu: status %ld %s", i, r.status, r.body);
        expect(&r, 400, "bad_data");
        ck_assert_ptr_nonnull(json_object_get_string(jget(&r, "reason")));
        reply_free(&r);
    }
    free(bad_existing);
    for (size_t i = 0; i < sizeof bad_patch / sizeof bad_patch[0]; i++) {
        reply_t r = req_auth(srv, "PATCH", p, NULL, bad_patch[i].body, bad_patch[i].len);
        ck_assert_msg(r.status == 400, "patch case %zu: status %ld %s", i, r.status, r.body);
        expect(&r, 400, "bad_data");
        reply_free(&r);
    }
    char *after = org_row(srv, org);
    ck_assert_str_eq(after, before);
    free(after);
    ck_assert_int_eq(org_count(srv), orgs_before + 1);

    /* oversized: the API's own limit (JSON 413), then the worker's
     * --max-request-size, 1 MiB (413 from the front; the shipped web server
     * configurations allow 2 MiB so that the worker is the one to answer) */
    size_t n = 70 * 1000, huge = 1536 * 1024;
    char *big = xmalloc(huge);
    memset(big, ' ', huge);
    memcpy(big, "{\"organization_id\":\"Big\"}", 25);
    reply_t r = req_auth(srv, "POST", "/administration/organizations", NULL, big, n);
    if (r.status != 413)
        porg_dump_log(srv);
    expect(&r, 413, "bad_data");
    reply_free(&r);
    r = req_auth(srv, "POST", "/administration/organizations", NULL, big, huge);
    if (r.status != 413)
        porg_dump_log(srv);
    ck_assert_msg(r.status == 413, "1.5 MiB body: %ld", r.status);
    reply_free(&r);
    free(big);
    ck_assert_int_eq(org_count(srv), orgs_before + 1);

    /* stats query */
    static const char *const bad_query[] = {
        "/administration/stats?format=xml",
        "/administration/stats?at=2024-02-30T00:00:00Z",
        "/administration/stats?at=2024-01-01T00:00:00Z&at=2024-01-02T00:00:00Z",
        "/administration/stats?from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z",
        "/administration/stats?at=%ZZ",
    };
    for (size_t i = 0; i < sizeof bad_query / sizeof bad_query[0]; i++) {
        expect_req(srv, "GET", bad_query[i], NULL, NULL, 400, "bad_data");
    }

    /* wrong methods */
    char *ps = org_path(org, "/stats");
    const char *const wrong[][2] = {
        {"PUT", p},
        {"DELETE", p},
        {"POST", p},
        {"GET", "/administration/organizations"},
        {"PATCH", "/administration/organizations"},
        {"POST", "/administration/stats"},
        {"DELETE", ps},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        /* a body only where the method carries one (lighttpd refuses a GET
         * with a body before any routing) */
        bool with_body = !strcmp(wrong[i][0], "POST") || !strcmp(wrong[i][0], "PATCH") ||
                         !strcmp(wrong[i][0], "PUT");
        r = req(srv, wrong[i][0], wrong[i][1], with_body ? "{\"is_expired\":true}" : NULL);
        ck_assert_msg(r.status == 405, "%s %s: %ld", wrong[i][0], wrong[i][1], r.status);
        reply_free(&r);
    }
    free(ps);

    /* path tricks, sent raw (a client library would normalise them): never
     * a 200, never another route's answer */
    static const char *const tricks[] = {
        "/administration/organizations/Nope/../OrgA",
        "/administration/organizations/OrgA/%2E%2E/OrgA",
        "/administration/organizations/OrgA%2Fstats",
        "/administration/organizations/OrgA%2fstats",
        "/administration/organizations/./OrgA",
        "/administration/organizations//OrgA",
        "/administration/organizations/OrgA/",
        "/administration/organizations/OrgA%00",
        "/administration/%2E%2E/administration/organizations/OrgA",
    };
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        char *trick = subst(tricks[i], org, NULL, NULL);
        char *rq = xasprintf("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
                             "Content-Type: application/json\r\nContent-Length: 19\r\n"
                             "Connection: close\r\n\r\n{\"is_expired\":true}",
                             trick, AUTH);
        size_t len = 0;
        /* no half-close: nginx takes it for a client gone away */
        char *ans = testhttp_raw(websrv_port(porg_srv_websrv(srv)), rq, strlen(rq), false, true,
                                 10000, &len);
        ck_assert_ptr_nonnull(ans);
        int status = 0;
        if (strncmp(ans, "HTTP/1.", 7))
            porg_dump_log(srv);
        ck_assert_msg(sscanf(ans, "HTTP/1.%*d %d", &status) == 1, "%s: %s", trick, ans);
        ck_assert_msg(status == 400 || status == 404, "%s: %d", trick, status);
        free(ans);
        free(rq);
        free(trick);
    }
    after = org_row(srv, org);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    free(t);
    free(create);
    free(p);
    free(org);
}
END_TEST

/* ---- statistics: figures, isolation, windows (lighttpd) ---- */

/*
 * OrgA (created 2024-01-01):
 *   users  alice ADMIN 01-10; bob STANDARD 01-20 revoked 02-15;
 *          carol OUTSIDER 02-10; dave ADMIN 03-05 revoked 03-06
 *   realms R1 01-10, R2 02-20
 *   vlob   in R1: v1 100 bytes 01-11, v2 50 bytes 02-21
 *   blocks B1 1000 in R1 01-12; B3 500 01-15 deleted 02-05; B2 24 in R2 02-22
 * OrgB (created 2024-01-05): erin ADMIN 01-06, realm 01-06, vlob 7 bytes
 *   01-07, block 9 bytes 01-07.  OrgC: created now, empty.
 */
/* The test's "OrgA" and "OrgB" are rows of the temporary table stats_org
 * (label, id): the fixture touches them only. */
static const char stats_fixture[] =
    "UPDATE organization SET created_on = '2024-01-01T00:00:00Z'"
    "  WHERE organization_id = (SELECT id FROM stats_org WHERE label = 'OrgA');"
    "UPDATE organization SET created_on = '2024-01-05T00:00:00Z'"
    "  WHERE organization_id = (SELECT id FROM stats_org WHERE label = 'OrgB');"
    "INSERT INTO user_ (organization, user_id, profile, user_certificate,"
    "    redacted_user_certificate, created_on, revoked_on, revoked_user_certificate)"
    "  SELECT o._id, u.id, u.profile, '\\x01', '\\x01', u.created::timestamptz,"
    "    u.revoked::timestamptz, CASE WHEN u.revoked IS NULL THEN NULL ELSE '\\x02'::bytea END"
    "  FROM organization o JOIN stats_org s ON s.id = o.organization_id JOIN (VALUES"
    "    ('OrgA', 'alice', 'ADMIN', '2024-01-10T00:00:00Z', NULL),"
    "    ('OrgA', 'bob', 'STANDARD', '2024-01-20T00:00:00Z', '2024-02-15T00:00:00Z'),"
    "    ('OrgA', 'carol', 'OUTSIDER', '2024-02-10T00:00:00Z', NULL),"
    "    ('OrgA', 'dave', 'ADMIN', '2024-03-05T00:00:00Z', '2024-03-06T00:00:00Z'),"
    "    ('OrgB', 'erin', 'ADMIN', '2024-01-06T00:00:00Z', NULL)"
    "  ) AS u(org, id, profile, created, revoked) ON s.label = u.org;"
    "INSERT INTO device (organization, user_, device_id, verify_key, device_certificate,"
    "    redacted_device_certificate, created_on)"
    "  SELECT u.organization, u._id, u.user_id || '@dev', decode(repeat('cd', 32), 'hex'),"
    "    '\\x01', '\\x01', u.created_on FROM user_ u"
    "  JOIN organization o ON o._id = u.organization JOIN stats_org s ON s.id = o.organization_id"
    "  WHERE u.user_id IN ('alice', 'erin');"
    "INSERT INTO realm (organization, realm_id, created_on)"
    "  SELECT o._id, r.id::uuid, r.created::timestamptz"
    "  FROM organization o JOIN stats_org s ON s.id = o.organization_id JOIN (VALUES"
    "    ('OrgA', '00000000000000000000000000000a01', '2024-01-10T00:00:00Z'),"
    "    ('OrgA', '00000000000000000000000000000a02', '2024-02-20T00:00:00Z'),"
    "    ('OrgB', '00000000000000000000000000000b01', '2024-01-06T00:00:00Z')"
    "  ) AS r(org, id, created) ON s.label = r.org;"
    "INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
    "  SELECT r._id, 1 FROM realm r"
    "  JOIN organization o ON o._id = r.organization JOIN stats_org s ON s.id = o.organization_id;"
    "INSERT INTO vlob (organization, realm, vlob_id)"
    "  SELECT r.organization, r._id, r.realm_id FROM realm r"
    "  JOIN organization o ON o._id = r.organization JOIN stats_org s ON s.id = o.organization_id"
    "  WHERE r.realm_id IN ('00000000000000000000000000000a01',"
    "    '00000000000000000000000000000b01');"
    "INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size, author,"
    "    created_on)"
    "  SELECT v._id, er._id, a.version, '\\x00', a.size, d._id, a.created::timestamptz"
    "  FROM (VALUES"
    "    ('00000000000000000000000000000a01', 1, 100, '2024-01-11T00:00:00Z', 'alice@dev'),"
    "    ('00000000000000000000000000000a01', 2, 50, '2024-02-21T00:00:00Z', 'alice@dev'),"
    "    ('00000000000000000000000000000b01', 1, 7, '2024-01-07T00:00:00Z', 'erin@dev')"
    "  ) AS a(vlob, version, size, created, author)"
    "  JOIN vlob v ON v.vlob_id = a.vlob::uuid"
    "  JOIN organization o ON o._id = v.organization JOIN stats_org s ON s.id = o.organization_id"
    "  JOIN vlob_encryption_revision er ON er.realm = v.realm"
    "  JOIN device d ON d.device_id = a.author AND d.organization = v.organization;"
    /* the counter the vlob commands keep with what they store */
    "UPDATE realm r SET metadata_size = COALESCE((SELECT SUM(a.size) FROM vlob_atom a"
    "  JOIN vlob v ON v._id = a.vlob WHERE v.realm = r._id), 0);"
    "INSERT INTO block (organization, block_id, realm, author, size, created_on, deleted_on)"
    "  SELECT r.organization, b.id::uuid, r._id, d._id, b.size, b.created::timestamptz,"
    "    b.deleted::timestamptz"
    "  FROM (VALUES"
    "    ('00000000000000000000000000000a01', 'b1000000000000000000000000000001', 1000,"
    "     '2024-01-12T00:00:00Z', NULL, 'alice@dev'),"
    "    ('00000000000000000000000000000a01', 'b3000000000000000000000000000003', 500,"
    "     '2024-01-15T00:00:00Z', '2024-02-05T00:00:00Z', 'alice@dev'),"
    "    ('00000000000000000000000000000a02', 'b2000000000000000000000000000002', 24,"
    "     '2024-02-22T00:00:00Z', NULL, 'alice@dev'),"
    "    ('00000000000000000000000000000b01', 'b9000000000000000000000000000009', 9,"
    "     '2024-01-07T00:00:00Z', NULL, 'erin@dev')"
    "  ) AS b(realm, id, size, created, deleted, author)"
    "  JOIN realm r ON r.realm_id = b.realm::uuid"
    "  JOIN organization o ON o._id = r.organization JOIN stats_org s ON s.id = o.organization_id"
    "  JOIN device d ON d.device_id = b.author AND d.organization = r.organization;"
    /* the counter block_create keeps with what it stores */
    "UPDATE realm r SET blocks_size = COALESCE((SELECT SUM(b.size) FROM block b"
    "  WHERE b.realm = r._id AND b.deleted_on IS NULL), 0);";

#define CSV_HEADER                                                                                 \
    "organization_id,data_size,metadata_size,realms,active_users,admin_users_active,"              \
    "admin_users_revoked,standard_users_active,standard_users_revoked,outsider_users_active,"      \
    "outsider_users_revoked,users\r\n"

/* expect_csv - the export with query, our lines of it: want, where OrgA,
 * OrgB and OrgC stand for ours[0..2]. */
static void expect_csv(const porg_srv_t *srv, const char *query, const char *const *ours,
                       const char *want)
{
    char *p = xasprintf("/administration/stats?format=csv%s", query);
    reply_t r = req(srv, "GET", p, NULL);
    ck_assert_msg(r.status == 200, "%s: %ld %s", p, r.status, r.body);
    char *mine = porg_csv_only(r.body, ours);
    char *w = subst(want, ours[0], ours[1], ours[2]);
    ck_assert_msg(!strcmp(mine, w), "%s:\n%s\nexpected:\n%s", p, mine, w);
    free(w);
    free(mine);
    reply_free(&r);
    free(p);
}

START_TEST(stats)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    char *ids[3] = {porg_org_id("OrgA"), porg_org_id("OrgB"), porg_org_id("OrgC")};
    const char *const ours[] = {ids[0], ids[1], ids[2], NULL};
    for (int i = 0; i < 3; i++) {
        char *body = xasprintf("{\"organization_id\":\"%s\"}", ids[i]);
        free(create_org(srv, body));
        free(body);
    }
    free(porg_sql(srv, "CREATE TEMP TABLE stats_org (label text, id text)", NULL));
    free(porg_sql(srv, "INSERT INTO stats_org VALUES ('OrgA', $1), ('OrgB', $2)", ids[0], ids[1],
                  NULL));
    sql(srv, stats_fixture);

    char *p = org_path(ids[0], "/stats");
    expect_body(srv, "GET", p, NULL, 200,
                "{\"data_size\":1024,\"metadata_size\":150,\"realms\":2,\"users\":4,"
                "\"active_users\":2,\"users_per_profile_detail\":["
                "{\"profile\":\"ADMIN\",\"active\":1,\"revoked\":1},"
                "{\"profile\":\"STANDARD\",\"active\":0,\"revoked\":1},"
                "{\"profile\":\"OUTSIDER\",\"active\":1,\"revoked\":0}]}");
    free(p);
    p = org_path(ids[1], "/stats");
    expect_body(srv, "GET", p, NULL, 200,
                "{\"data_size\":9,\"metadata_size\":7,\"realms\":1,\"users\":1,"
                "\"active_users\":1,\"users_per_profile_detail\":["
                "{\"profile\":\"ADMIN\",\"active\":1,\"revoked\":0},"
                "{\"profile\":\"STANDARD\",\"active\":0,\"revoked\":0},"
                "{\"profile\":\"OUTSIDER\",\"active\":0,\"revoked\":0}]}");
    free(p);
    p = org_path(ids[2], "/stats");
    expect_body(srv, "GET", p, NULL, 200,
                "{\"data_size\":0,\"metadata_size\":0,\"realms\":0,\"users\":0,"
                "\"active_users\":0,\"users_per_profile_detail\":["
                "{\"profile\":\"ADMIN\",\"active\":0,\"revoked\":0},"
                "{\"profile\":\"STANDARD\",\"active\":0,\"revoked\":0},"
                "{\"profile\":\"OUTSIDER\",\"active\":0,\"revoked\":0}]}");
    free(p);

    /* the export: the same figures, one line each, in id order */
    expect_csv(srv, "", ours,
               CSV_HEADER "OrgA,1024,150,2,2,1,1,0,1,1,0,4\r\n"
                          "OrgB,9,7,1,1,1,0,0,0,0,0,1\r\n"
                          "OrgC,0,0,0,0,0,0,0,0,0,0,0\r\n");
    reply_t r = req(srv, "GET", "/administration/stats?at=2024-01-03T00:00:00Z", NULL);
    expect(&r, 200, NULL);
    char *cc = testhttp_header(r.raw, "Cache-Control");
    ck_assert_str_eq(cc, "no-store");
    free(cc);
    char *mine = porg_stats_only(r.body, ours);
    char *want =
        subst("{\"stats\":[{\"organization_id\":\"OrgA\",\"data_size\":0,\"metadata_size\":0,"
              "\"realms\":0,\"users\":0,\"active_users\":0,\"users_per_profile_detail\":["
              "{\"profile\":\"ADMIN\",\"active\":0,\"revoked\":0},"
              "{\"profile\":\"STANDARD\",\"active\":0,\"revoked\":0},"
              "{\"profile\":\"OUTSIDER\",\"active\":0,\"revoked\":0}]}]}",
              ids[0], NULL, NULL);
    ck_assert_str_eq(mine, want);
    free(want);
    free(mine);
    reply_free(&r);
    /* as it stood on Feb 1: bob not yet revoked, B3 not yet deleted, OrgC
     * not yet created */
    expect_csv(srv, "&at=2024-02-01T00:00:00Z", ours,
               CSV_HEADER "OrgA,1500,100,1,2,1,0,1,0,0,0,2\r\n"
                          "OrgB,9,7,1,1,1,0,0,0,0,0,1\r\n");
    /* the same instant written with an offset, encoded or not */
    expect_csv(srv, "&at=2024-02-01T01:00:00%2B01:00", ours,
               CSV_HEADER "OrgA,1500,100,1,2,1,0,1,0,0,0,2\r\n"
                          "OrgB,9,7,1,1,1,0,0,0,0,0,1\r\n");
    expect_csv(srv, "&to=2024-01-31T23:00:00-01:00", ours,
               CSV_HEADER "OrgA,1500,100,1,2,1,0,1,0,0,0,2\r\n"
                          "OrgB,9,7,1,1,1,0,0,0,0,0,1\r\n");
    /* growth since Feb 1 */
    expect_csv(srv, "&from=2024-02-01T00:00:00Z", ours,
               CSV_HEADER "OrgA,24,50,1,1,0,1,0,0,1,0,2\r\n"
                          "OrgB,0,0,0,0,0,0,0,0,0,0,0\r\n"
                          "OrgC,0,0,0,0,0,0,0,0,0,0,0\r\n");
    /* a window: open at from (B3, created exactly then, is out), closed at
     * at (R2, created exactly then, is in) */
    expect_csv(srv, "&from=2024-01-15T00:00:00Z&at=2024-02-20T00:00:00Z", ours,
               CSV_HEADER "OrgA,0,0,1,1,0,0,0,1,1,0,2\r\n"
                          "OrgB,0,0,0,0,0,0,0,0,0,0,0\r\n");
    /* up to the window's start */
    expect_csv(srv, "&at=2024-01-15T00:00:00Z", ours,
               CSV_HEADER "OrgA,1500,100,1,1,1,0,0,0,0,0,1\r\n"
                          "OrgB,9,7,1,1,1,0,0,0,0,0,1\r\n");
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}
END_TEST

/* ---- expiry publishes organization.expired, at commit only (lighttpd) ---- */

/* wait_notify - the next notification on pg within ms, or NULL. */
static PGnotify *wait_notify(PGconn *pg, int ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *n = PQnotifies(pg);
        if (n)
            return n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= ms)
            return NULL;
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
        poll(&p, 1, (int)(ms - spent));
    }
}

static void expect_expired_event(PGconn *listener, const char *org)
{
    PGnotify *n = wait_notify(listener, 5000);
    ck_assert_msg(n != NULL, "no notification");
    ck_assert_str_eq(n->relname, "parsec_events");
    json_object *j = json_tokener_parse(n->extra), *v;
    ck_assert_ptr_nonnull(j);
    ck_assert(json_object_object_get_ex(j, "o", &v));
    ck_assert_str_eq(json_object_get_string(v), org);
    ck_assert(json_object_object_get_ex(j, "t", &v));
    ck_assert_str_eq(json_object_get_string(v), "organization.expired");
    ck_assert(json_object_object_get_ex(j, "a", &v));
    ck_assert_ptr_null(v);
    json_object_put(j);
    PQfreemem(n);
}

static void expect_no_event(PGconn *listener, int ms)
{
    PGnotify *n = wait_notify(listener, ms);
    ck_assert_msg(n == NULL, "unexpected notification %s", n ? n->extra : "");
}

typedef struct {
    const porg_srv_t *srv;
    const char *path, *body;
    long status;
} bg_req;

static void *bg_patch(void *arg)
{
    bg_req *b = arg;
    reply_t r = req(b->srv, "PATCH", b->path, b->body);
    b->status = r.status;
    reply_free(&r);
    return NULL;
}

START_TEST(expiry_event)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    char *org = porg_org_id("OrgE");
    char *p = org_path(org, "");
    char *create = xasprintf("{\"organization_id\":\"%s\"}", org);
    free(create_org(srv, create));
    PGconn *listener = porg_pg(srv);
    PGresult *res = PQexec(listener, "LISTEN parsec_events");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    static const char state_sql[] =
        "SELECT is_expired::int * 1000 + COALESCE(active_users_limit, 0)"
        " FROM organization WHERE organization_id = $1";

    expect_body(srv, "PATCH", p, "{\"is_expired\":true}", 200, "{}");
    expect_expired_event(listener, org);
    /* again: published again (operators use it to kick connections) */
    expect_body(srv, "PATCH", p, "{\"is_expired\":true,\"active_users_limit\":4}", 200, "{}");
    expect_expired_event(listener, org);
    /* unexpiring, other changes, refusals: nothing */
    expect_body(srv, "PATCH", p, "{\"is_expired\":false}", 200, "{}");
    expect_body(srv, "PATCH", p, "{\"active_users_limit\":5}", 200, "{}");
    expect_req(srv, "PATCH", "/administration/organizations/Nope", NULL, "{\"is_expired\":true}",
               404, "not_found");
    expect_req(srv, "PATCH", p, NULL, "{\"is_expired\":true,\"active_users_limit\":-1}", 400,
               "bad_data");
    expect_req(srv, "PATCH", p, "Authorization: Bearer x", "{\"is_expired\":true}", 403,
               "not_allowed");
    expect_no_event(listener, 500);
    ck_assert_int_eq(porg_sql_long(srv, state_sql, org, NULL), 5);

    /* A commit that fails (a deferred constraint trigger, checked at
     * COMMIT, after the NOTIFY was queued): 500, no event, no change.  The
     * trigger acts on this test's organization only (the database is
     * shared) and is dropped at the end.  The id is porg_org_id's: letters,
     * digits and '-' only, safe in an SQL literal. */
    ck_assert_uint_eq(
        strspn(org, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"),
        strlen(org));
    char *trigger = xasprintf(
        "CREATE FUNCTION test_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        "   IF NEW.organization_id <> '%s' THEN RETURN NULL; END IF;"
        "   IF NEW.active_users_limit = 13 THEN RAISE EXCEPTION 'refused at commit'; END IF;"
        "   IF NEW.active_users_limit = 17 THEN PERFORM pg_sleep(1.5); END IF;"
        "   RETURN NULL;"
        " END $$;"
        "CREATE CONSTRAINT TRIGGER test_at_commit AFTER UPDATE ON organization"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_at_commit();",
        org);
    sql(srv, trigger);
    free(trigger);
    expect_req(srv, "PATCH", p, NULL, "{\"is_expired\":true,\"active_users_limit\":13}", 500,
               "internal_error");
    expect_no_event(listener, 1000);
    ck_assert_int_eq(porg_sql_long(srv, state_sql, org, NULL), 5);

    /* A slow commit: while COMMIT is held in the trigger, the change is
     * invisible and no event has arrived; both come with the commit. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bg_req b = {srv, p, "{\"is_expired\":true,\"active_users_limit\":17}", 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, bg_patch, &b), 0);
    long sleeping = 0;
    for (int i = 0; i < 100 && !sleeping; i++) {
        sleeping = porg_sql_long(srv,
                                 "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE datname = current_database()"
                                 " AND wait_event = 'PgSleep'",
                                 NULL);
        if (!sleeping)
            usleep(20 * 1000);
    }
    ck_assert_msg(sleeping == 1, "the PATCH never reached its commit");
    expect_no_event(listener, 300);
    ck_assert_int_eq(porg_sql_long(srv, state_sql, org, NULL), 5);
    pthread_join(th, NULL);
    ck_assert_int_eq(b.status, 200);
    expect_expired_event(listener, org);
    ck_assert_int_eq(porg_sql_long(srv, state_sql, org, NULL), 1017);
    expect_no_event(listener, 200);
    curl_global_cleanup();

    sql(srv, "DROP TRIGGER test_at_commit ON organization; DROP FUNCTION test_at_commit();");
    PQfinish(listener);
    free(create);
    free(p);
    free(org);
}
END_TEST

/* ---- concurrent creations of one id (lighttpd) ---- */

#define RACERS 8

typedef struct {
    const porg_srv_t *srv;
    const char *body;
    long status;
    char token[65];
} racer_t;

static void *race_create(void *arg)
{
    racer_t *x = arg;
    reply_t r = req(x->srv, "POST", "/administration/organizations", x->body);
    x->status = r.status;
    json_object *t;
    if (r.json && json_object_object_get_ex(r.json, "bootstrap_token", &t))
        snprintf(x->token, sizeof x->token, "%s", json_object_get_string(t));
    reply_free(&r);
    return NULL;
}

START_TEST(concurrent_create)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    long orgs_before = org_count(srv);
    char *race = porg_org_id("Race");
    char *body = xasprintf("{\"organization_id\":\"%s\"}", race);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    racer_t x[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        x[i] = (racer_t){srv, body, 0, ""};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_create, &x[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    curl_global_cleanup();
    for (int i = 0; i < RACERS; i++)
        ck_assert_msg(x[i].status == 200, "racer %d: %ld", i, x[i].status);
    ck_assert_int_eq(org_count(srv), orgs_before + 1);
    /* the token in force is the one of the last writer, one of ours */
    char *row = org_row(srv, race);
    int matches = 0;
    for (int i = 0; i < RACERS; i++)
        matches += !strncmp(row, x[i].token, 64);
    ck_assert_int_eq(matches, 1);
    free(row);
    free(body);
    free(race);
}
END_TEST

TEST_SUITE(admin_api)
{
    testenv_db_setup();
    Suite *s = suite_create("admin_api");
    /* one server per web server kind; what only depends on the database
     * runs on lighttpd's */
    for (int k = 0; k < WEBSRV_KIND_COUNT; k++) {
        TCase *tc = porg_tcase(websrv_kind_name((websrv_kind)k), &srvs[k], (websrv_kind)k, NULL);
        tcase_add_loop_test(tc, every_route, k, k + 1);
        tcase_add_loop_test(tc, auth, k, k + 1);
        tcase_add_loop_test(tc, bad_input, k, k + 1);
        if (k == WEBSRV_LIGHTTPD) {
            tcase_add_test(tc, stats);
            tcase_add_test(tc, expiry_event);
            tcase_add_test(tc, concurrent_create);
        }
        suite_add_tcase(s, tc);
    }
    /* a server of its own per test (workers without a token) */
    TCase *closed = tcase_create("no administration token");
    tcase_set_timeout(closed, 120);
    tcase_add_loop_test(closed, closed_without_token, 0, WEBSRV_KIND_COUNT);
    suite_add_tcase(s, closed);
    return s;
}
