/*
 * tests/unit/test_admin.c - the administration API's checks that need no
 * database
 *
 * Requests go through the front's whole pipeline (front_handle: target
 * parsing, routing, handler) with no database pool.  A request that passes
 * every check then reaches the database and gets 503 database_unavailable:
 * that is how these tests tell "accepted" from "refused" without a server.
 * What needs PostgreSQL is in tests/integration/test_admin.c.
 */
#include "admin/admin.h"
#include "front/front.h"
#include "testreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "s3cr3t-administration-token"

typedef struct {
    arena_t *arena;
    http_req_t *r;
    json_object *json; /* parsed response, NULL if not JSON */
} call_t;

static cfg_t test_cfg(const char *token)
{
    cfg_t c;
    memset(&c, 0, sizeof c);
    c.administration_token = (char *)token;
    c.organization_initial_active_users_limit = -1;
    c.organization_initial_user_profile_outsider_allowed = true;
    c.max_request_size = 1024 * 1024;
    return c;
}

/* call - run one request; auth NULL sends no Authorization header. */
static void call_cfg(call_t *c, const cfg_t *cfg, const char *method, const char *uri,
                     const char *auth, const void *body, size_t len)
{
    char m[64], u[4096], a[512];
    char *params[6];
    int n = 0;
    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
    params[n++] = m;
    params[n++] = u;
    if (auth) {
        snprintf(a, sizeof a, "HTTP_AUTHORIZATION=%s", auth);
        params[n++] = a;
    }
    params[n] = NULL;
    memset(c, 0, sizeof *c);
    c->arena = arena_new();
    c->r = front_handle(c->arena, &(http_env_t){cfg, NULL, NULL}, params, body, len, 0);
    if (c->r->content_type && !strcmp(c->r->content_type, "application/json"))
        c->json = json_tokener_parse((const char *)c->r->resp_body);
}

static void call(call_t *c, const char *method, const char *uri, const void *body, size_t len)
{
    cfg_t cfg = test_cfg(TOKEN);
    call_cfg(c, &cfg, method, uri, "Bearer " TOKEN, body, len);
}

static void call_str(call_t *c, const char *method, const char *uri, const char *body)
{
    call(c, method, uri, body, body ? strlen(body) : 0);
}

static void done(call_t *c)
{
    front_request_end(c->r);
    json_object_put(c->json);
    arena_free(c->arena);
}

static const char *field(const call_t *c, const char *name)
{
    json_object *v;
    if (!c->json || !json_object_object_get_ex(c->json, name, &v))
        return NULL;
    return json_object_get_string(v);
}

/* The response header name, or NULL. */
static const char *resp_header(const call_t *c, const char *name)
{
    for (const struct http_header *h = c->r->resp_headers; h; h = h->next)
        if (!strcasecmp(h->name, name))
            return h->value;
    return NULL;
}

/* Assert status, error code and (when given) that the reason starts with
 * reason_prefix. */
static void expect(const call_t *c, int status, const char *error, const char *reason_prefix)
{
    ck_assert_msg(c->r->status == status, "status %d, expected %d (body %.*s)", c->r->status,
                  status, (int)c->r->resp_len,
                  c->r->resp_body ? (const char *)c->r->resp_body : "");
    if (error) {
        ck_assert_ptr_nonnull(c->json);
        ck_assert_str_eq(field(c, "error"), error);
        ck_assert_str_eq(resp_header(c, "Cache-Control"), "no-store");
    }
    if (reason_prefix) {
        const char *reason = field(c, "reason");
        ck_assert_msg(reason && !strncmp(reason, reason_prefix, strlen(reason_prefix)),
                      "reason \"%s\", expected it to start with \"%s\"", reason ? reason : "(none)",
                      reason_prefix);
    }
}

/* Accepted by every check: the request went on to the (absent) database. */
static void expect_accepted(const call_t *c)
{
    expect(c, 503, "database_unavailable", NULL);
}

/* ---- authentication ---- */

START_TEST(auth_refusals)
{
    static const char *const uris[][2] = {
        {"POST", "/administration/organizations"},
        {"GET", "/administration/organizations/Org"},
        {"PATCH", "/administration/organizations/Org"},
        {"GET", "/administration/organizations/Org/stats"},
        {"GET", "/administration/stats"},
        {"GET", "/administration/organizations/Bad!Id"}, /* 403 before 404 */
    };
    static const char *const bad_auth[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        "Bearer " TOKEN "x",
        "Bearer s3cr3t-administration-toke",
        "Basic " TOKEN,
        "Bearer" TOKEN,
        TOKEN,
        "Bearer None",
    };
    const char *body = "{\"organization_id\":\"Org\"}";
    cfg_t cfg = test_cfg(TOKEN);
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        for (size_t k = 0; k < sizeof bad_auth / sizeof bad_auth[0]; k++) {
            call_t c;
            call_cfg(&c, &cfg, uris[i][0], uris[i][1], bad_auth[k], body, strlen(body));
            expect(&c, 403, "not_allowed", NULL);
            ck_assert_ptr_null(field(&c, "reason"));
            done(&c);
        }
    }
}
END_TEST

START_TEST(auth_closed_without_token)
{
    /* No token configured: nothing opens the API, "Bearer None" and
     * "Bearer " included (Parsec 2.12 let "Bearer None" in). */
    static const char *const tries[] = {"Bearer ", "Bearer None", "Bearer null", "Bearer x"};
    const char *body = "{\"organization_id\":\"Org\"}";
    for (int closed = 0; closed < 2; closed++) {
        cfg_t cfg = test_cfg(closed ? "" : NULL);
        for (size_t k = 0; k < sizeof tries / sizeof tries[0]; k++) {
            call_t c;
            call_cfg(&c, &cfg, "POST", "/administration/organizations", tries[k], body,
                     strlen(body));
            expect(&c, 403, "not_allowed", NULL);
            done(&c);
        }
    }
}
END_TEST

START_TEST(auth_accepted_spellings)
{
    static const char *const good[] = {"Bearer " TOKEN, "bearer " TOKEN, "BEARER  " TOKEN,
                                       "Bearer\t" TOKEN, "Bearer " TOKEN "  "};
    cfg_t cfg = test_cfg(TOKEN);
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        call_t c;
        call_cfg(&c, &cfg, "GET", "/administration/organizations/Org", good[k], NULL, 0);
        expect_accepted(&c);
        done(&c);
    }
}
END_TEST

/* ---- POST /administration/organizations ---- */

START_TEST(create_bad_bodies)
{
    static const struct {
        const char *body;
        const char *reason;
    } cases[] = {
        /* not JSON */
        {"{\"organization_id\":", "Invalid JSON"},
        {"{\"organization_id\":\"Org\"", "Invalid JSON"},
        {"organization_id=Org", "Invalid JSON"},
        {"{\"organization_id\":\"Org\"} {}", "Invalid JSON"},
        {"{\"organization_id\":\"Org\"}x", "Invalid JSON"},
        {"{\"organization_id\":\"Org\",}", "Invalid JSON"},
        {"[\"Org\"]", "Invalid JSON: the body must be a JSON object"},
        {"\"Org\"", "Invalid JSON: the body must be a JSON object"},
        {"null", "Invalid JSON: the body must be a JSON object"},
        {"42", "Invalid JSON"},
        {"  ", "Invalid JSON"},
        {"{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]],\"organization_id\":\"Org\"}",
         "Invalid JSON: nested too deeply"},
        /* the protocol's strict parser: which of two values was meant is unknowable */
        {"{\"organization_id\":\"Bad!\",\"organization_id\":\"Org\"}",
         "Invalid JSON: duplicate key in a JSON object"},
        /* organization_id */
        {"{}", "organization_id: missing"},
        {"{\"active_users_limit\":10}", "organization_id: missing"},
        {"{\"organization_id\":null}", "organization_id: missing"},
        {"{\"organization_id\":42}", "organization_id: expected a string"},
        {"{\"organization_id\":true}", "organization_id: expected a string"},
        {"{\"organization_id\":[\"Org\"]}", "organization_id: expected a string"},
        {"{\"organization_id\":{\"a\":1}}", "organization_id: expected a string"},
        {"{\"organization_id\":\"\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
         "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"My!Org\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"My Org\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"C%C3%A9TAC%C3%A9\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"Caf\\u00e9\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"Org\\u0000x\"}", "Invalid JSON: \\u0000 in a string"},
        {"{\"organization_id\":\"../Org\"}", "organization_id: expected 1 to 32"},
        {"{\"organization_id\":\"Org/stats\"}", "organization_id: expected 1 to 32"},
        /* active_users_limit */
        {"{\"organization_id\":\"Org\",\"active_users_limit\":-1}", "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":2147483648}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":99999999999999999999999}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":-99999999999999999999999}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":1.5}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":10.0}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":1e3}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":1e400}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":NaN}", "Invalid JSON: not JSON"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":true}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":\"10\"}",
         "active_users_limit: expected"},
        {"{\"organization_id\":\"Org\",\"active_users_limit\":[10]}",
         "active_users_limit: expected"},
        /* user_profile_outsider_allowed */
        {"{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":42}",
         "user_profile_outsider_allowed: expected true or false"},
        {"{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":\"foo\"}",
         "user_profile_outsider_allowed: expected true or false"},
        {"{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":\"true\"}",
         "user_profile_outsider_allowed: expected true or false"},
        {"{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":null}",
         "user_profile_outsider_allowed: expected true or false"},
        {"{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":1}",
         "user_profile_outsider_allowed: expected true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        call_t c;
        call_str(&c, "POST", "/administration/organizations", cases[i].body);
        ck_assert_msg(c.r->status == 400, "case %zu (%s): status %d", i, cases[i].body,
                      c.r->status);
        expect(&c, 400, "bad_data", cases[i].reason);
        done(&c);
    }
}
END_TEST

START_TEST(create_bad_bytes)
{
#define B(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
    static const struct {
        const char *body;
        size_t len;
    } cases[] = {
        B("{\"organization_id\":\"Org\xff\"}"),                  /* invalid byte */
        B("{\"organization_id\":\"\xc0\xafOrg\"}"),              /* overlong '/' */
        B("{\"organization_id\":\"\xed\xa0\x80\"}"),             /* UTF-16 surrogate */
        B("{\"organization_id\":\"\xf4\x90\x80\x80\"}"),         /* above U+10FFFF */
        B("{\"organization_id\":\"\xe2\x82\"}"),                 /* truncated sequence */
        B("{\"unknown\":\"\xff\",\"organization_id\":\"Org\"}"), /* in an ignored field */
        B("{\"organization_id\":\"Org\"}\0"),                    /* NUL after the object */
        B("{\"organization_id\":\"O\0rg\"}"),                    /* NUL inside a string */
    };
#undef B
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        call_t c;
        call(&c, "POST", "/administration/organizations", cases[i].body, cases[i].len);
        expect(&c, 400, "bad_data", "Invalid JSON: body is not valid UTF-8 text");
        done(&c);
    }
    call_t c;
    call(&c, "POST", "/administration/organizations", "", 0);
    expect(&c, 400, "bad_data", "Invalid JSON: empty body");
    done(&c);
}
END_TEST

START_TEST(create_oversized_body)
{
    /* A valid object padded with spaces past the limit: refused on size
     * alone, before parsing. */
    size_t n = ADMIN_MAX_BODY + 1;
    char *body = malloc(n);
    memset(body, ' ', n);
    memcpy(body, "{\"organization_id\":\"Org\"}", 25);
    call_t c;
    call(&c, "POST", "/administration/organizations", body, n);
    expect(&c, 413, "bad_data", "request body too large");
    done(&c);
    /* One byte less is accepted. */
    call(&c, "POST", "/administration/organizations", body, n - 1);
    expect_accepted(&c);
    done(&c);
    free(body);
}
END_TEST

START_TEST(create_accepted_bodies)
{
    static const char *const ok[] = {
        "{\"organization_id\":\"Org\"}",
        " {\"organization_id\" : \"Org\"} \n",
        "{\"organization_id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", /* 32 */
        "{\"organization_id\":\"a\"}",
        "{\"organization_id\":\"My_Org-2\"}",
        "{\"organization_id\":\"-\"}",
        "{\"organization_id\":\"Org\",\"active_users_limit\":null}",
        "{\"organization_id\":\"Org\",\"active_users_limit\":0}",
        "{\"organization_id\":\"Org\",\"active_users_limit\":-0}",
        "{\"organization_id\":\"Org\",\"active_users_limit\":2147483647}",
        "{\"organization_id\":\"Org\",\"user_profile_outsider_allowed\":false}",
        /* unknown fields are ignored, whatever their type */
        "{\"organization_id\":\"Org\",\"dummy\":\"whatever\",\"is_expired\":\"x\"}",
        "{\"organization_id\":\"Org\",\"bootstrap_token\":\"123\",\"x\":{\"y\":[1,2]}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        call_t c;
        call_str(&c, "POST", "/administration/organizations", ok[i]);
        ck_assert_msg(c.r->status == 503, "case %zu (%s): status %d %s", i, ok[i], c.r->status,
                      c.r->resp_body ? (const char *)c.r->resp_body : "");
        expect_accepted(&c);
        done(&c);
    }
}
END_TEST

/* ---- paths, methods ---- */

START_TEST(organization_paths)
{
    static const char *const not_found[] = {
        "/administration/organizations/Bad!Id",
        "/administration/organizations/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "/administration/organizations/Caf%C3%A9",
        "/administration/organizations/My%20Org",
        "/administration/organizations/Bad!Id/stats",
    };
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        for (int m = 0; m < 2; m++) {
            call_t c;
            /* PATCH with an invalid body: the id is judged first */
            call_str(&c, m ? "PATCH" : "GET", not_found[i], m ? "{bad json" : NULL);
            if (m && strstr(not_found[i], "/stats")) {
                ck_assert_int_eq(c.r->status, 405);
            } else {
                expect(&c, 404, "not_found", NULL);
            }
            done(&c);
        }
    }
    call_t c;
    call_str(&c, "GET", "/administration/organizations/Org", NULL);
    expect_accepted(&c);
    done(&c);
    call_str(&c, "GET", "/administration/organizations/My_Org-2/stats", NULL);
    expect_accepted(&c);
    done(&c);
    /* PATCH looks the organization up before judging the body (Parsec's
     * order): a bad body on a valid id still needs the database. */
    call_str(&c, "PATCH", "/administration/organizations/Org", "{bad json");
    expect_accepted(&c);
    done(&c);
}
END_TEST

START_TEST(path_tricks)
{
    /* Refused by the front before any handler: no route can hold them. */
    static const char *const tricks[] = {
        "/administration/organizations/Org/../Other",
        "/administration/organizations/../organizations/Org",
        "/administration/organizations/%2E%2E/stats",
        "/administration/organizations/Org%2Fstats",
        "/administration/organizations/Org%2fstats",
        "/administration/organizations/./Org",
        "/administration/organizations//Org",
        "/administration/organizations/Org/",
        "/administration/organizations/Org/stats/",
        "/administration/organizations/",
        "/administration//stats",
        "/administration/stats/",
        "/administration",
        "/administration/",
    };
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        call_t c;
        call_str(&c, "GET", tricks[i], NULL);
        ck_assert_msg(c.r->status == 404 || c.r->status == 400, "%s: status %d", tricks[i],
                      c.r->status);
        done(&c);
    }
}
END_TEST

START_TEST(wrong_methods)
{
    static const struct {
        const char *method, *uri, *allow;
    } cases[] = {
        {"GET", "/administration/organizations", "POST"},
        {"DELETE", "/administration/organizations/Org", "GET, HEAD, PATCH"},
        {"PUT", "/administration/organizations/Org", "GET, HEAD, PATCH"},
        {"POST", "/administration/organizations/Org", "GET, HEAD, PATCH"},
        {"POST", "/administration/organizations/Org/stats", "GET, HEAD"},
        {"PATCH", "/administration/stats", "GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        call_t c;
        call_str(&c, cases[i].method, cases[i].uri, "{}");
        ck_assert_int_eq(c.r->status, 405);
        ck_assert_str_eq(resp_header(&c, "Allow"), cases[i].allow);
        done(&c);
    }
    /* HEAD is routed as GET */
    call_t c;
    call_str(&c, "HEAD", "/administration/organizations/Org", NULL);
    expect_accepted(&c);
    done(&c);
}
END_TEST

/* ---- GET /administration/stats query ---- */

START_TEST(server_stats_query)
{
    static const struct {
        const char *query, *reason;
    } bad[] = {
        {"format=xml", "format: expected json or csv"},
        {"format=CSV", "format: expected json or csv"},
        {"format=", "format: expected json or csv"},
        {"format=csv&format=json", "format: given more than once"},
        {"at=yesterday", "at: expected an RFC 3339"},
        {"at=2024-01-01", "at: expected an RFC 3339"},
        {"at=2024-01-01T00:00:00", "at: expected an RFC 3339"},
        {"to=2024-13-01T00:00:00Z", "to: expected an RFC 3339"},
        {"at=2023-02-29T00:00:00Z", "at: expected an RFC 3339"},
        {"at=2024-01-01T24:00:00Z", "at: expected an RFC 3339"},
        {"at=2024-01-01T00:00:60Z", "at: expected an RFC 3339"},
        {"at=2024-01-01 00:00:00Z", "at: expected an RFC 3339"},
        {"at=2024-01-01T00:00:00%00Z", "query: bad percent-encoding"},
        {"at=%zz", "query: bad percent-encoding"},
        {"at=%2", "query: bad percent-encoding"},
        {"at=2024-01-01T00:00:00Z&at=2024-01-02T00:00:00Z", "at: given more than once"},
        {"at=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z", "at: given more than once"},
        {"from=2024-01-01T00:00:00Z&from=2024-01-01T00:00:00Z", "from: given more than once"},
        {"from=2024-02-01T00:00:00Z&at=2024-01-01T00:00:00Z", "from: must be earlier"},
        {"from=2024-01-01T00:00:00Z&at=2024-01-01T00:00:00Z", "from: must be earlier"},
        /* same instant written with two offsets */
        {"from=2024-01-01T01:00:00%2B01:00&at=2024-01-01T00:00:00Z", "from: must be earlier"},
        {"from=junk", "from: expected an RFC 3339"},
    };
    char uri[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call_t c;
        snprintf(uri, sizeof uri, "/administration/stats?%s", bad[i].query);
        call_str(&c, "GET", uri, NULL);
        expect(&c, 400, "bad_data", bad[i].reason);
        done(&c);
    }
    static const char *const good[] = {
        "",
        "format=json",
        "format=csv",
        "unknown=1&other",
        "at=2024-01-01T00:00:00Z",
        "to=2024-01-01T00:00:00.123456Z",
        "at=2024-02-29T23:59:59%2B01:00",
        "at=2024-02-29T23:59:59+01:00",
        "at=2024-02-29t23:59:59z",
        "from=2024-01-01T00:00:00Z&at=2024-01-01T00:00:00.000001Z&format=csv",
        "from=2024-01-01T00:00:00Z",
        "&&format=csv&",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        call_t c;
        snprintf(uri, sizeof uri, "/administration/stats%s%s", good[i][0] ? "?" : "", good[i]);
        call_str(&c, "GET", uri, NULL);
        ck_assert_msg(c.r->status == 503, "%s: status %d %s", good[i], c.r->status,
                      c.r->resp_body ? (const char *)c.r->resp_body : "");
        done(&c);
    }
}
END_TEST

TEST_SUITE(admin)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, auth_refusals);
    tcase_add_test(tc, auth_closed_without_token);
    tcase_add_test(tc, auth_accepted_spellings);
    tcase_add_test(tc, create_bad_bodies);
    tcase_add_test(tc, create_bad_bytes);
    tcase_add_test(tc, create_oversized_body);
    tcase_add_test(tc, create_accepted_bodies);
    tcase_add_test(tc, organization_paths);
    tcase_add_test(tc, path_tricks);
    tcase_add_test(tc, wrong_methods);
    tcase_add_test(tc, server_stats_query);
    suite_add_tcase(s, tc);
    return s;
}
