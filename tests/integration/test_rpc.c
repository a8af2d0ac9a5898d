/*
 * tests/integration/test_rpc.c - the RPC routes before and around a
 * command: docs/protocol.md sections 1.2 (order of the pre-command checks),
 * 4 (authentication) and 5 (API version), through a real web server and a
 * real PostgreSQL
 *
 * One server per web server kind (tests/lib/porg.h), each test in
 * organizations of its own.  lighttpd runs the shipped configuration (two
 * worker processes), so the "refused in every worker" property is checked
 * across processes: each worker logs the requests it served
 * (PARSEC_LOG_LEVEL=INFO, with its pid), and the tests check from that log
 * that both served the device before and after its revocation.  Route and
 * header handling also runs through Apache and nginx.  State no command
 * makes yet (invitations) is written with SQL.
 */
#include "pclient.h"
#include "porg.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* One server per web server kind; every test but routes_and_headers runs
 * on lighttpd's. */
static porg_srv_t *srvs[WEBSRV_KIND_COUNT];

static json_object *ping_req(const char *s)
{
    json_object *o = pclient_req("ping");
    json_object_object_add(o, "ping", json_object_new_string(s));
    return o;
}

static void assert_error(const porg_srv_t *srv, const pclient_resp_t *r, long http,
                         const char *error)
{
    if (r->status != http)
        porg_explain(srv, r);
    ck_assert_int_eq(r->status, http);
    ck_assert_str_eq(porg_str(r->json, "error"), error);
    ck_assert_ptr_null(pclient_status(r));
}

static void assert_header(const pclient_resp_t *r, const char *name, const char *value)
{
    char *v = pclient_resp_header(r, name);
    ck_assert_msg(v != NULL, "no %s header", name);
    ck_assert_str_eq(v, value);
    free(v);
}

/* One authenticated ping with an explicit Authorization value. */
static void ping_auth(const porg_srv_t *srv, const char *org, const char *authorization,
                      pclient_resp_t *r)
{
    pclient_opts_t o = {.authorization = authorization};
    porg_send_ex(srv, "authenticated", org, NULL, &o, ping_req("p"), r);
}

static char *auth_value(const char *org, const char *device, const pclient_key_t *key, int64_t t)
{
    char *tok = pclient_auth_token(org, device, key, t);
    char *h = NULL;
    ck_assert_int_ge(asprintf(&h, "PARSEC-SIGN-ED25519 %s", tok), 0);
    free(tok);
    return h;
}

static int64_t now_s(void)
{
    return pclient_now_us() / 1000000;
}

/* ---------------------------------------------------------------------------
 * Routes and headers, through every web server
 */

START_TEST(routes_and_headers)
{
    const porg_srv_t *srv = srvs[_i];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_resp_t r;

    /* the three routes answer a ping, with Api-Version and no caching */
    porg_send(srv, "anonymous", org, NULL, ping_req("hello"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert_str_eq(porg_str(r.json, "pong"), "hello");
    assert_header(&r, "Api-Version", "3.2");
    assert_header(&r, "Content-Type", "application/json");
    assert_header(&r, "Cache-Control", "no-store");
    pclient_resp_free(&r);
    porg_send(srv, "authenticated", org, alice, ping_req("hi"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert_str_eq(porg_str(r.json, "pong"), "hi");
    assert_header(&r, "Api-Version", "3.2");
    pclient_resp_free(&r);

    /* only POST: another method is 405 with Allow */
    char *url = NULL;
    ck_assert_int_ge(asprintf(&url, "%s/anonymous/%s", porg_srv_url(srv), org), 0);
    http_result_t *h = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(h->status, 405);
    char *allow = testhttp_header(h, "Allow");
    ck_assert_str_eq(allow, "POST");
    free(allow);
    /* every answer of an RPC path carries Api-Version, the front's too */
    char *version = testhttp_header(h, "Api-Version");
    ck_assert_ptr_nonnull(version);
    ck_assert_str_eq(version, "3.2");
    free(version);
    testhttp_free(h);
    free(url);
    ck_assert_int_ge(asprintf(&url, "%s/authenticated/%s", porg_srv_url(srv), org), 0);
    h = testhttp_request("PUT", url, NULL, "{}", 2);
    ck_assert_int_eq(h->status, 405);
    version = testhttp_header(h, "Api-Version");
    ck_assert_ptr_nonnull(version);
    free(version);
    testhttp_free(h);
    free(url);
    /* no organization segment, or two: no route */
    ck_assert_int_ge(asprintf(&url, "%s/anonymous/", porg_srv_url(srv)), 0);
    h = testhttp_request("POST", url, NULL, "{}", 2);
    ck_assert_int_eq(h->status, 404);
    testhttp_free(h);
    free(url);
    ck_assert_int_ge(asprintf(&url, "%s/anonymous/%s/x", porg_srv_url(srv), org), 0);
    h = testhttp_request("POST", url, NULL, "{}", 2);
    ck_assert_int_eq(h->status, 404);
    testhttp_free(h);
    free(url);

    /* the Authorization and Invitation-Token headers reach the worker */
    pclient_opts_t bad = {.invitation_token = "00112233445566778899aabbccddeeff"};
    porg_send_ex(srv, "invited", org, NULL, &bad, ping_req("x"), &r);
    assert_error(srv, &r, 401, "bad_invitation");
    pclient_resp_free(&r);

    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * 422, 404, 415, 413 and their order
 */

START_TEST(api_version)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_resp_t r;

    static const char *const ok[] = {"", "3.2", "3.0", "3.99"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        pclient_opts_t o = {.api_version = ok[i]};
        porg_send_ex(srv, "authenticated", org, alice, &o, ping_req("v"), &r);
        porg_assert_status(srv, &r, 200, "ok");
        assert_header(&r, "Api-Version", "3.2");
        pclient_resp_free(&r);
    }
    static const char *const refused[] = {"2.8",  "4.0",   "3",       "x",  "3.2.1",
                                          "3.-1", "03.2x", "3.2;2.8", "3,2"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        pclient_opts_t o = {.api_version = refused[i]};
        /* first check of all: even an unknown organization or no token */
        porg_send_ex(srv, "authenticated", org, alice, &o, ping_req("v"), &r);
        assert_error(srv, &r, 422, "unsupported_api_version");
        assert_header(&r, "Supported-Api-Versions", "3.2");
        pclient_resp_free(&r);
        porg_send_ex(srv, "anonymous", "NoSuchOrg", NULL, &o, ping_req("v"), &r);
        assert_error(srv, &r, 422, "unsupported_api_version");
        pclient_resp_free(&r);
    }
    porg_free(po);
}
END_TEST

START_TEST(organization_content_type_size)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_resp_t r;

    /* 404: unknown, or not an OrganizationID, on every route; before 415;
     * ids are case-sensitive */
    char *lower = xstrdup(org);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *const orgs[] = {
        "NoSuchOrg",         "bad org", "x!", "abcdefghijabcdefghijabcdefghijabc",
        "\xc3\xa9t\xc3\xa9", lower};
    static const char *const fams[] = {"anonymous", "invited", "authenticated"};
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++) {
        for (size_t f = 0; f < 3; f++) {
            pclient_opts_t o = {.content_type = "text/plain"};
            porg_send_ex(srv, fams[f], orgs[i], alice, &o, ping_req("x"), &r);
            assert_error(srv, &r, 404, "not_found");
            assert_header(&r, "Api-Version", "3.2");
            pclient_resp_free(&r);
        }
    }

    /* 415, before authentication */
    static const char *const bad_ct[] = {"text/plain",
                                         "application/jsonx",
                                         "application/json; charset=latin-1",
                                         "application/json; foo=bar",
                                         "application/msgpack",
                                         "application/x-www-form-urlencoded",
                                         "application/json; charset=utf-8; x=y"};
    for (size_t i = 0; i < sizeof bad_ct / sizeof bad_ct[0]; i++) {
        pclient_opts_t o = {.content_type = bad_ct[i], .authorization = "Bearer nothing"};
        porg_send_ex(srv, "authenticated", org, NULL, &o, ping_req("x"), &r);
        assert_error(srv, &r, 415, "bad_content_type");
        pclient_resp_free(&r);
        pclient_opts_t o2 = {.content_type = bad_ct[i]};
        porg_send_ex(srv, "anonymous", org, NULL, &o2, ping_req("x"), &r);
        assert_error(srv, &r, 415, "bad_content_type");
        pclient_resp_free(&r);
    }
    /* no Content-Type at all */
    const char *no_ct[] = {"Api-Version: 3.2", NULL};
    porg_post(srv, "anonymous", org, no_ct, "{\"cmd\":\"ping\",\"ping\":\"x\"}", 25, &r);
    assert_error(srv, &r, 415, "bad_content_type");
    pclient_resp_free(&r);
    static const char *const good_ct[] = {"application/json; charset=utf-8", "Application/JSON",
                                          "application/json;charset=\"UTF-8\"",
                                          "application/json ; charset=UTF-8"};
    for (size_t i = 0; i < sizeof good_ct / sizeof good_ct[0]; i++) {
        pclient_opts_t o = {.content_type = good_ct[i]};
        porg_send_ex(srv, "authenticated", org, alice, &o, ping_req("x"), &r);
        porg_assert_status(srv, &r, 200, "ok");
        pclient_resp_free(&r);
    }

    /* 413: above --max-request-size (default 1 MiB), from the front */
    size_t big = 1048576 + 10;
    char *body = malloc(big);
    ck_assert_ptr_nonnull(body);
    memset(body, ' ', big);
    memcpy(body, "{\"cmd\":\"ping\",\"ping\":\"x\"}", 25);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    porg_post(srv, "anonymous", org, hdrs, body, big, &r);
    ck_assert_int_eq(r.status, 413);
    assert_header(&r, "Api-Version", "3.2");
    pclient_resp_free(&r);
    /* just below: trailing whitespace is valid JSON */
    porg_post(srv, "anonymous", org, hdrs, body, 1048576, &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    free(body);

    free(lower);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * The envelope: invalid_msg_format, unknown_command, bad_message
 */

START_TEST(envelope)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_resp_t r;
    char *auth = pclient_auth_header(alice, now_s());
    char *auth_line = NULL;
    ck_assert_int_ge(asprintf(&auth_line, "Authorization: %s", auth), 0);
    const char *hdrs[] = {"Content-Type: application/json", "Api-Version: 3.2", auth_line, NULL};

    static const struct {
        const char *body;
        size_t len;
        const char *status;
    } cases[] = {
        {"not json", 0, "invalid_msg_format"},
        {"", 0, "invalid_msg_format"},
        {"[1]", 0, "invalid_msg_format"},
        {"{\"cmd\":\"ping\",\"ping\":\"\xff\"}", 0, "invalid_msg_format"},     /* bad UTF-8 */
        {"{\"cmd\":\"ping\",\"ping\":\"\xc0\xaf\"}", 0, "invalid_msg_format"}, /* overlong */
        {"{\"cmd\":\"ping\",\"ping\":\"\\ud800\"}", 0, "invalid_msg_format"},  /* lone surrogate */
        {"{\"cmd\":\"ping\",\"ping\":\"a\",\"ping\":\"b\"}", 0, "invalid_msg_format"}, /* dup */
        {"{'cmd':'ping'}", 0, "invalid_msg_format"},
        {"{\"cmd\":\"ping\",\"ping\":\"a\"} x", 0, "invalid_msg_format"},
        {"{\"cmd\":\"ping\",\"ping\":NaN}", 0, "invalid_msg_format"},
        {"{}", 0, "unknown_command"},
        {"{\"cmd\":5}", 0, "unknown_command"},
        {"{\"cmd\":null}", 0, "unknown_command"},
        {"{\"cmd\":\"nope\"}", 0, "unknown_command"},
        {"{\"cmd\":\"PING\",\"ping\":\"a\"}", 0, "unknown_command"},
        {"{\"cmd\":\"organization_bootstrap\"}", 0, "unknown_command"}, /* anonymous only */
        {"{\"cmd\":\"invite_info\"}", 0, "unknown_command"},            /* not here yet */
        {"{\"cmd\":\"ping\"}", 0, "bad_message"},
        {"{\"cmd\":\"ping\",\"ping\":5}", 0, "bad_message"},
        {"{\"cmd\":\"ping\",\"ping\":null}", 0, "bad_message"},
        {"{\"cmd\":\"ping\",\"ping\":\"a\",\"pong\":\"b\"}", 0, "bad_message"},
        {"{\"cmd\":\"organization_config\",\"x\":1}", 0, "bad_message"},
        {"{\"cmd\":\"ping\",\"ping\":\"a\"}", 0, "ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        porg_post(srv, "authenticated", org, hdrs, cases[i].body, len, &r);
        if (r.status != 200 || !pclient_status(&r) || strcmp(pclient_status(&r), cases[i].status))
            fprintf(stderr, "case %zu (%s): %ld %s\n", i, cases[i].body, r.status, r.body);
        porg_assert_status(srv, &r, 200, cases[i].status);
        if (!strcmp(cases[i].status, "invalid_msg_format") ||
            !strcmp(cases[i].status, "unknown_command") || !strcmp(cases[i].status, "bad_message"))
            ck_assert_ptr_nonnull(porg_str(r.json, "reason"));
        pclient_resp_free(&r);
    }

    /* bad_message names the field */
    const char *extra = "{\"cmd\":\"ping\",\"ping\":\"a\",\"pong\":\"b\"}";
    porg_post(srv, "authenticated", org, hdrs, extra, strlen(extra), &r);
    ck_assert_str_eq(porg_str(r.json, "field"), "pong");
    pclient_resp_free(&r);
    const char *five = "{\"cmd\":\"ping\",\"ping\":5}";
    porg_post(srv, "authenticated", org, hdrs, five, strlen(five), &r);
    ck_assert_str_eq(porg_str(r.json, "field"), "ping");
    pclient_resp_free(&r);

    /* commands of another route are unknown here, and the reverse */
    json_object *cfg = pclient_req("organization_config");
    porg_send(srv, "anonymous", org, NULL, cfg, &r);
    porg_assert_status(srv, &r, 200, "unknown_command");
    pclient_resp_free(&r);

    /* ping: at most 1024 bytes */
    char ping[1026];
    memset(ping, 'p', 1025);
    ping[1025] = '\0';
    porg_send(srv, "authenticated", org, alice, ping_req(ping), &r);
    porg_assert_status(srv, &r, 200, "bad_message");
    pclient_resp_free(&r);
    ping[1024] = '\0';
    porg_send(srv, "anonymous", org, NULL, ping_req(ping), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert_str_eq(porg_str(r.json, "pong"), ping);
    pclient_resp_free(&r);

    free(auth_line);
    free(auth);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Authentication: the token
 */

START_TEST(token)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    const pclient_key_t root = po->root;
    pclient_device_t *bob =
        porg_user(srv, po, alice, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    pclient_resp_t r;
    int64_t t = now_s();
    char *v;

    /* freshness: client 50 s early to 70 s late, strictly */
    static const struct {
        int64_t offset;
        bool ok;
    } times[] = {{0, true},   {-60, true},    {40, true},    {-75, false},
                 {55, false}, {-3600, false}, {86400, false}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        v = auth_value(org, alice->device_id, &alice->key, t + times[i].offset);
        ping_auth(srv, org, v, &r);
        if (times[i].ok) {
            porg_assert_status(srv, &r, 200, "ok");
        } else {
            assert_error(srv, &r, 401, "bad_timestamp");
            ck_assert_ptr_nonnull(porg_str(r.json, "backend_timestamp"));
            json_object *o;
            ck_assert(json_object_object_get_ex(r.json, "ballpark_client_early_offset", &o));
            ck_assert(json_object_get_double(o) == 50.0);
            ck_assert(json_object_object_get_ex(r.json, "ballpark_client_late_offset", &o));
            ck_assert(json_object_get_double(o) == 70.0);
            assert_header(&r, "WWW-Authenticate", "PARSEC-SIGN-ED25519");
        }
        pclient_resp_free(&r);
        free(v);
    }

    /* every other refusal: the same 401 */
    char *good = auth_value(org, alice->device_id, &alice->key, t);
    size_t glen = strlen(good);
    char *truncated = strndup(good, glen - 10);
    char *flipped = strdup(good);
    flipped[glen - 5] = flipped[glen - 5] == 'A' ? 'B' : 'A';
    char *lower = strdup(good);
    for (char *p = lower; *p && *p != ' '; p++)
        *p = (char)tolower((unsigned char)*p);
    char *padded = NULL;
    ck_assert_int_ge(asprintf(&padded, "%s=", good), 0);
    char *wrong_org = auth_value("OtherOrg", alice->device_id, &alice->key, t);
    char *wrong_device = auth_value(org, "bob@dev1", &alice->key, t); /* alice's key */
    char *unknown_device = auth_value(org, "carol@dev1", &alice->key, t);
    char *root_signed = auth_value(org, alice->device_id, &root, t);
    char *bad_b64 = NULL;
    char *dot = strchr(good, '.');
    ck_assert_int_ge(asprintf(&bad_b64, "%.*s!%s", (int)(dot - good + 1), good, dot + 2), 0);
    char *two_spaces = NULL;
    ck_assert_int_ge(asprintf(&two_spaces, "PARSEC-SIGN-ED25519  %s", good + 20), 0);
    char *no_sig = NULL;
    ck_assert_int_ge(asprintf(&no_sig, "%.*s", (int)(strrchr(good, '.') - good), good), 0);
    const char *refused[] = {truncated,
                             flipped,
                             padded,
                             wrong_org,
                             wrong_device,
                             unknown_device,
                             root_signed,
                             bad_b64,
                             two_spaces,
                             no_sig,
                             "Bearer abc",
                             "PARSEC-SIGN-ED25519",
                             "PARSEC-SIGN-ED25519 ",
                             "PARSEC-SIGN-ED25519 a.b.c.d",
                             ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ping_auth(srv, org, refused[i], &r);
        if (r.status != 401)
            fprintf(stderr, "refused[%zu] = \"%s\"\n", i, refused[i]);
        assert_error(srv, &r, 401, "bad_authentication");
        assert_header(&r, "WWW-Authenticate", "PARSEC-SIGN-ED25519");
        pclient_resp_free(&r);
    }
    /* no Authorization header at all */
    porg_send(srv, "authenticated", org, NULL, ping_req("x"), &r);
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    /* the scheme is case-insensitive; the same token serves many requests */
    ping_auth(srv, org, lower, &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    for (int i = 0; i < 5; i++) {
        ping_auth(srv, org, good, &r);
        porg_assert_status(srv, &r, 200, "ok");
        pclient_resp_free(&r);
    }
    /* bob's own token works */
    porg_send(srv, "authenticated", org, bob, ping_req("b"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);

    /* the token is never logged */
    char *log = porg_log(srv);
    ck_assert_ptr_null(strstr(log, strrchr(good, '.') + 1));
    ck_assert_ptr_nonnull(strstr(log, "authentication refused"));
    free(log);

    free(truncated);
    free(flipped);
    free(lower);
    free(padded);
    free(wrong_org);
    free(wrong_device);
    free(unknown_device);
    free(root_signed);
    free(bad_b64);
    free(two_spaces);
    free(no_sig);
    free(good);
    pclient_device_free(bob);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Expired organization, revoked user, deleted invitation
 */

/* An invitation of org greeted by user_id; returns its token (malloc'd). */
static char *add_invitation(const porg_srv_t *srv, const char *org, const char *user_id)
{
    return porg_sql(srv,
                    "INSERT INTO invitation (organization, token, type, greeter, claimer_email,"
                    " created_on) SELECT o._id, md5(random()::text)::uuid, 'USER', u._id,"
                    " 'claimer@example.com', now() FROM organization o JOIN user_ u"
                    " ON u.organization = o._id WHERE o.organization_id = $1 AND u.user_id = $2"
                    " RETURNING replace(token::text, '-', '')",
                    org, user_id, NULL);
}

START_TEST(expired_revoked_invited)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_device_t *bob =
        porg_user(srv, po, alice, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    porg_t *other = porg_bootstrap(srv, NULL);
    const pclient_device_t *alice_b = other->admin;
    char *inv = add_invitation(srv, org, alice->user_id);
    char *inv_other = add_invitation(srv, other->organization_id, alice_b->user_id);
    pclient_resp_t r;

    /* invited route: the token is checked, exists, this organization's */
    pclient_opts_t o = {.invitation_token = inv};
    porg_send_ex(srv, "invited", org, NULL, &o, ping_req("i"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert_str_eq(porg_str(r.json, "pong"), "i");
    pclient_resp_free(&r);
    porg_send(srv, "invited", org, NULL, ping_req("i"), &r); /* no header */
    assert_error(srv, &r, 401, "bad_invitation");
    pclient_resp_free(&r);
    char *upper = strdup(inv);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    char *dashed = NULL;
    ck_assert_int_ge(asprintf(&dashed, "%.8s-%s", inv, inv + 8), 0);
    const char *bad_tokens[] = {inv_other, upper,
                                dashed,    "00000000000000000000000000000000",
                                "xyz",     "0011223344556677889900112233445"};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++) {
        pclient_opts_t b = {.invitation_token = bad_tokens[i]};
        porg_send_ex(srv, "invited", org, NULL, &b, ping_req("i"), &r);
        assert_error(srv, &r, 401, "bad_invitation");
        pclient_resp_free(&r);
    }
    porg_send_ex(srv, "invited", org, NULL, &o, pclient_req("organization_config"), &r);
    porg_assert_status(srv, &r, 200, "unknown_command");
    pclient_resp_free(&r);

    /* revoked user: told only to the device itself */
    porg_revoke(srv, alice, "bob");
    porg_send(srv, "authenticated", org, bob, ping_req("b"), &r);
    porg_assert_status(srv, &r, 200, "revoked_user");
    pclient_resp_free(&r);
    char *forged = auth_value(org, "bob@dev1", &alice->key, now_s());
    ping_auth(srv, org, forged, &r);
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    free(forged);
    porg_send(srv, "authenticated", org, alice, ping_req("a"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);

    /* expired organization, on every route, after authentication */
    porg_patch_org(srv, org, "{\"is_expired\": true}");
    porg_send(srv, "anonymous", org, NULL, ping_req("x"), &r);
    porg_assert_status(srv, &r, 200, "expired_organization");
    assert_header(&r, "Api-Version", "3.2");
    pclient_resp_free(&r);
    porg_send(srv, "authenticated", org, alice, ping_req("x"), &r);
    porg_assert_status(srv, &r, 200, "expired_organization");
    pclient_resp_free(&r);
    porg_send(srv, "authenticated", org, bob, ping_req("x"), &r); /* expiry first */
    porg_assert_status(srv, &r, 200, "expired_organization");
    pclient_resp_free(&r);
    ping_auth(srv, org, "Bearer x", &r);
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    porg_send_ex(srv, "invited", org, NULL, &o, ping_req("i"), &r);
    porg_assert_status(srv, &r, 200, "expired_organization");
    pclient_resp_free(&r);
    /* on the invited route as on the anonymous one, expiry comes right after
     * the organization (docs/protocol.md 1.2 step 7): before the token */
    pclient_opts_t nobody = {.invitation_token = "00000000000000000000000000000000"};
    porg_send_ex(srv, "invited", org, NULL, &nobody, ping_req("i"), &r);
    porg_assert_status(srv, &r, 200, "expired_organization");
    pclient_resp_free(&r);
    porg_send(srv, "invited", org, NULL, ping_req("i"), &r); /* no header at all */
    porg_assert_status(srv, &r, 200, "expired_organization");
    pclient_resp_free(&r);
    /* the other organization is not affected */
    porg_send(srv, "authenticated", other->organization_id, alice_b, ping_req("x"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    /* and un-expiring restores access */
    porg_patch_org(srv, org, "{\"is_expired\": false}");
    porg_send(srv, "authenticated", org, alice, ping_req("x"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);

    /* deleted invitation: 410, before expiry */
    free(porg_sql(srv,
                  "UPDATE invitation SET deleted_on = now(), deleted_reason = 'CANCELLED'"
                  " WHERE token = $1::uuid",
                  inv, NULL));
    porg_send_ex(srv, "invited", org, NULL, &o, ping_req("i"), &r);
    assert_error(srv, &r, 410, "invitation_already_deleted");
    pclient_resp_free(&r);

    free(upper);
    free(dashed);
    free(inv);
    free(inv_other);
    porg_free(other);
    pclient_device_free(bob);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * A revoked device is refused on its very next request, in every worker
 */

typedef struct {
    const porg_srv_t *srv;
    const char *org, *auth;
    int n, ok, revoked, other;
} burst_t;

static void *burst_thread(void *arg)
{
    burst_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        pclient_resp_t r;
        pclient_opts_t o = {.authorization = b->auth};
        json_object *req = ping_req("burst");
        bool got = pclient_cmd_ex(porg_srv_url(b->srv), "authenticated", b->org, NULL, &o, req, &r);
        json_object_put(req);
        const char *st = got ? pclient_status(&r) : NULL;
        if (st && !strcmp(st, "ok"))
            b->ok++;
        else if (st && !strcmp(st, "revoked_user"))
            b->revoked++;
        else
            b->other++;
        pclient_resp_free(&r);
    }
    return NULL;
}

/* n requests from 8 threads at once; counts by status. */
static void burst(const porg_srv_t *srv, const char *org, const char *auth, int per_thread, int *ok,
                  int *revoked, int *other)
{
    enum { T = 8 };
    pthread_t tid[T];
    burst_t b[T];
    for (int i = 0; i < T; i++) {
        b[i] = (burst_t){srv, org, auth, per_thread, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, burst_thread, &b[i]), 0);
    }
    *ok = *revoked = *other = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(tid[i], NULL);
        *ok += b[i].ok;
        *revoked += b[i].revoked;
        *other += b[i].other;
    }
}

/* Distinct worker pids that logged a line containing what. */
static int worker_pids(const char *log, const char *what)
{
    long pids[64];
    int n = 0;
    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *p = strstr(line, "parsec-fcgi[");
        const char *w = strstr(line, what);
        if (p && w && p < line + len && w < line + len) {
            long pid = strtol(p + 12, NULL, 10);
            bool seen = false;
            for (int i = 0; i < n; i++)
                seen |= pids[i] == pid;
            if (!seen && n < 64)
                pids[n++] = pid;
        }
        line += len + (end ? 1 : 0);
    }
    return n;
}

START_TEST(revoked_in_every_worker)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_device_t *bob =
        porg_user(srv, po, alice, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *bob2 = porg_device(srv, bob, "dev2");

    /* One token per device for the whole test: every worker verifies and
     * caches it in the first burst. */
    int64_t t = now_s();
    char *auth1 = pclient_auth_header(bob, t);
    char *auth2 = pclient_auth_header(bob2, t);
    int ok, revoked, other;
    burst(srv, org, auth1, 6, &ok, &revoked, &other);
    ck_assert_int_eq(ok, 48);
    burst(srv, org, auth2, 6, &ok, &revoked, &other);
    ck_assert_int_eq(ok, 48);
    char *log = porg_log(srv);
    websrv_log_mark_t before = porg_log_mark(srv);
    ck_assert_msg(worker_pids(log, "dev=bob@dev1 rpc: ping -> ok") >= 2,
                  "the burst reached one worker only:\n%s", log);
    free(log);

    porg_revoke(srv, alice, "bob");
    /* the very next requests, from both devices, cached tokens or not */
    burst(srv, org, auth1, 6, &ok, &revoked, &other);
    ck_assert_int_eq(ok, 0);
    ck_assert_int_eq(revoked, 48);
    burst(srv, org, auth2, 6, &ok, &revoked, &other);
    ck_assert_int_eq(revoked, 48);
    log = porg_log_since(srv, &before);
    ck_assert_int_ge(worker_pids(log, "rpc: revoked user"), 2);
    free(log);
    /* alice is not affected */
    pclient_resp_t r;
    porg_send(srv, "authenticated", org, alice, ping_req("a"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);

    free(auth1);
    free(auth2);
    pclient_device_free(bob2);
    pclient_device_free(bob);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Cross-organization isolation
 */

START_TEST(cross_organization)
{
    const porg_srv_t *srv = srvs[WEBSRV_LIGHTTPD];
    char *A = porg_org_id("OrgA"), *B = porg_org_id("OrgB");
    porg_t *oa = porg_bootstrap(srv, A);
    porg_t *ob = porg_bootstrap(srv, B);
    const pclient_device_t *a = oa->admin, *b = ob->admin; /* both admin@dev1 */
    /* an ADMIN, to revoke a below */
    pclient_device_t *a_bob = porg_user(srv, oa, a, "bob@dev1", "ADMIN", "bob@example.com", "Bob");
    pclient_resp_t r;
    int64_t t = now_s();

    /* A's token on B's URL; A's key naming B; B's token on A's URL */
    char *v = auth_value(A, a->device_id, &a->key, t);
    ping_auth(srv, B, v, &r);
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    free(v);
    v = auth_value(B, a->device_id, &a->key, t);
    ping_auth(srv, B, v, &r);
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    free(v);
    v = auth_value(A, "bob@dev1", &a_bob->key, t);
    ping_auth(srv, B, v, &r); /* no bob in B */
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    free(v);

    /* what a command sees is its own organization */
    porg_send(srv, "authenticated", A, a, pclient_req("organization_stats"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    json_object *n;
    ck_assert(json_object_object_get_ex(r.json, "users", &n));
    ck_assert_int_eq(json_object_get_int(n), 2);
    pclient_resp_free(&r);
    porg_send(srv, "authenticated", B, b, pclient_req("organization_stats"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert(json_object_object_get_ex(r.json, "users", &n));
    ck_assert_int_eq(json_object_get_int(n), 1);
    pclient_resp_free(&r);
    /* Same device id and the same key in both organizations: a token still
     * only works in the organization it names. */
    free(porg_sql(srv,
                  "UPDATE device SET verify_key = (SELECT d.verify_key FROM device d JOIN"
                  " organization o ON o._id = d.organization WHERE o.organization_id = $1"
                  " AND d.device_id = $3) WHERE device_id = $3 AND"
                  " organization = (SELECT _id FROM organization WHERE organization_id = $2)",
                  A, B, a->device_id, NULL));
    v = auth_value(A, a->device_id, &a->key, t);
    ping_auth(srv, A, v, &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    ping_auth(srv, B, v, &r); /* cached for A, still refused in B */
    assert_error(srv, &r, 401, "bad_authentication");
    pclient_resp_free(&r);
    free(v);
    v = auth_value(B, a->device_id, &a->key, t);
    ping_auth(srv, B, v, &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    free(v);

    /* revoking alice in A leaves alice of B (same id, same key) alone */
    porg_revoke(srv, a_bob, a->user_id);
    porg_send(srv, "authenticated", A, a, ping_req("x"), &r);
    porg_assert_status(srv, &r, 200, "revoked_user");
    pclient_resp_free(&r);
    v = auth_value(B, a->device_id, &a->key, now_s());
    ping_auth(srv, B, v, &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    free(v);

    pclient_device_free(a_bob);
    porg_free(ob);
    porg_free(oa);
    free(B);
    free(A);
}
END_TEST

TEST_SUITE(rpc)
{
    testenv_db_setup();
    Suite *s = suite_create("rpc");
    for (int k = WEBSRV_APACHE; k < WEBSRV_KIND_COUNT; k++) {
        TCase *web = porg_tcase(websrv_kind_name((websrv_kind)k), &srvs[k], (websrv_kind)k, NULL);
        tcase_add_loop_test(web, routes_and_headers, k, k + 1);
        suite_add_tcase(s, web);
    }
    TCase *tc = porg_tcase("lighttpd", &srvs[WEBSRV_LIGHTTPD], WEBSRV_LIGHTTPD, NULL);
    tcase_add_loop_test(tc, routes_and_headers, WEBSRV_LIGHTTPD, WEBSRV_LIGHTTPD + 1);
    tcase_add_test(tc, api_version);
    tcase_add_test(tc, organization_content_type_size);
    tcase_add_test(tc, envelope);
    tcase_add_test(tc, token);
    tcase_add_test(tc, expired_revoked_invited);
    tcase_add_test(tc, revoked_in_every_worker);
    tcase_add_test(tc, cross_organization);
    suite_add_tcase(s, tc);
    return s;
}
