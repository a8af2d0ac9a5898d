/*
 * tests/integration/test_notifyd_handshake.c - the websocket handshake of
 * parsec-notifyd (docs/events.md): every result, Parsec 2.12's order of
 * checks, malformed answers, the handshake timeout, plain HTTP.
 */
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *url;
    PGconn *pg;
    ndt_proc_t *nd;
    wsclient_ctx_t *ctx;
    pclient_key_t root;
    ndt_dev_t alice; /* ORG alice@laptop, STANDARD */
} fx_t;

static void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->url = testenv_db_create();
    f->pg = testenv_pg_connect(f->url);
    pclient_key_generate(&f->root);
    ndt_dev_make(&f->alice, f->pg, "ORG", &f->root, "alice@laptop", "STANDARD", true, true);
    f->nd = ndt_start(f->url, NULL);
    f->ctx = wsclient_ctx_new(16);
}

static void fx_fini(fx_t *f)
{
    wsclient_ctx_free(f->ctx);
    /* A clean exit (0) also means LeakSanitizer found nothing. */
    ck_assert_int_eq(ndt_stop(f->nd), 0);
    PQfinish(f->pg);
    testenv_db_drop(f->url);
    free(f->url);
}

static wsclient_t *open_ws(fx_t *f)
{
    wsclient_t *c = wsclient_connect(f->ctx, "127.0.0.1", f->nd->port, "/ws", false, NDT_WAIT);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Handshake as d, expect result and a close 1008 carrying it. */
static void expect_refused(fx_t *f, const ndt_dev_t *d, const char *result)
{
    wsclient_t *c = open_ws(f);
    json_object *r = ndt_handshake(c, d);
    ck_assert_msg(r != NULL, "no result");
    ck_assert_str_eq(ndt_str(r, "handshake"), "result");
    ck_assert_str_eq(ndt_str(r, "result"), result);
    ck_assert_msg(*ndt_str(r, "help"), "a refusal carries help");
    json_object_put(r);
    ndt_expect_closed(c, 1008, result, NDT_WAIT);
}

/* Send raw text (or binary) as the answer, expect bad_protocol. */
static void expect_bad_protocol(fx_t *f, const char *answer, size_t len, bool binary)
{
    wsclient_t *c = open_ws(f);
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_ptr_nonnull(ch);
    json_object_put(ch);
    if (binary)
        ck_assert(wsclient_send_binary(c, answer, len));
    else
        ck_assert(wsclient_send_text(c, answer, len));
    json_object *r = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_msg(r != NULL, "no result for %.60s", answer);
    ck_assert_str_eq(ndt_str(r, "result"), "bad_protocol");
    json_object_put(r);
    ndt_expect_closed(c, 1008, "bad_protocol", NDT_WAIT);
}

START_TEST(challenge_shape)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = open_ws(&f);
    size_t len = 0;
    bool binary = true;
    char *text = wsclient_recv_ex(c, NDT_WAIT, &len, &binary);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(!binary, "the challenge is a text frame");
    json_object *ch = json_tokener_parse(text);
    free(text);
    ck_assert_ptr_nonnull(ch);
    ck_assert_str_eq(ndt_str(ch, "handshake"), "challenge");
    /* 48 random bytes: 64 base64 characters, no padding. */
    ck_assert_uint_eq(strlen(ndt_str(ch, "challenge")), 64);
    json_object *v = NULL;
    ck_assert(json_object_object_get_ex(ch, "supported_api_versions", &v));
    ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "[[3,2]]");
    ck_assert(json_object_object_get_ex(ch, "ballpark_client_early_offset", &v));
    ck_assert(json_object_is_type(v, json_type_double));
    ck_assert(json_object_get_double(v) == 50.0);
    ck_assert(json_object_object_get_ex(ch, "ballpark_client_late_offset", &v));
    ck_assert(json_object_get_double(v) == 70.0);
    const char *ts = ndt_str(ch, "backend_timestamp");
    ck_assert_uint_eq(strlen(ts), 27);
    ck_assert(ts[10] == 'T' && ts[19] == '.' && ts[26] == 'Z');
    /* Close to now. */
    struct tm tm = {0};
    ck_assert_ptr_nonnull(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t server = timegm(&tm);
    ck_assert_int_lt(labs((long)(server - time(NULL))), 10);

    /* Two connections never get the same challenge. */
    wsclient_t *c2 = open_ws(&f);
    json_object *ch2 = wsclient_recv_json(c2, NDT_WAIT);
    ck_assert_str_ne(ndt_str(ch, "challenge"), ndt_str(ch2, "challenge"));
    json_object_put(ch);
    json_object_put(ch2);
    fx_fini(&f);
}
END_TEST

START_TEST(result_ok)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = open_ws(&f);
    json_object *r = ndt_handshake(c, &f.alice);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(ndt_str(r, "handshake"), "result");
    ck_assert_str_eq(ndt_str(r, "result"), "ok");
    json_object *help = NULL;
    ck_assert(json_object_object_get_ex(r, "help", &help));
    ck_assert_ptr_null(help);
    json_object_put(r);
    /* Stays open, silent. */
    ck_assert(!wsclient_wait_closed(c, 1500));
    ck_assert_uint_eq(wsclient_pending(c), 0);
    /* Its log lines carry the session as their context (notifyd/slog.h). */
    char *log = ndt_log(f.nd);
    ck_assert_msg(strstr(log, "] ws=1 org=ORG dev=alice@laptop notifyd: authenticated (0 realms)"),
                  "%s", log);
    free(log);
    fx_fini(&f);
}
END_TEST

START_TEST(bad_identity)
{
    fx_t f;
    fx_init(&f);
    /* Unknown organization. */
    ndt_dev_t d = f.alice;
    snprintf(d.org, sizeof d.org, "NOPE");
    expect_refused(&f, &d, "bad_identity");
    /* Known organization, unknown device (right keys otherwise). */
    d = f.alice;
    snprintf(d.device_id, sizeof d.device_id, "alice@phone");
    expect_refused(&f, &d, "bad_identity");
    /* Same device id in another organization does not count. */
    pclient_key_t root2;
    pclient_key_generate(&root2);
    ndt_org(f.pg, "ORG2", root2.pub);
    d = f.alice;
    snprintf(d.org, sizeof d.org, "ORG2");
    memcpy(d.rvk, root2.pub, 32);
    expect_refused(&f, &d, "bad_identity");
    /* Not bootstrapped: no root key. */
    const char *p[] = {"ORG3"};
    ndt_sql(f.pg, "INSERT INTO organization (organization_id, bootstrap_token) VALUES ($1, 'x')", 1,
            p);
    d = f.alice;
    snprintf(d.org, sizeof d.org, "ORG3");
    expect_refused(&f, &d, "bad_identity");
    fx_fini(&f);
}
END_TEST

START_TEST(rvk_mismatch)
{
    fx_t f;
    fx_init(&f);
    ndt_dev_t d = f.alice;
    d.rvk[0] ^= 1;
    expect_refused(&f, &d, "rvk_mismatch");
    fx_fini(&f);
}
END_TEST

START_TEST(organization_expired)
{
    fx_t f;
    fx_init(&f);
    ndt_sql(f.pg, "UPDATE organization SET is_expired = true", 0, NULL);
    expect_refused(&f, &f.alice, "organization_expired");
    fx_fini(&f);
}
END_TEST

START_TEST(revoked_device)
{
    fx_t f;
    fx_init(&f);
    ndt_sql(f.pg,
            "UPDATE user_ SET revoked_on = now() - interval '1 second', "
            "revoked_user_certificate = '\\x00' WHERE user_id = 'alice'",
            0, NULL);
    expect_refused(&f, &f.alice, "revoked_device");
    /* A revocation dated ahead of the server's clock counts at once: the
     * user is revoked from the commit on, whatever the certificate's date
     * (docs/protocol.md section 9, #16). */
    ndt_sql(f.pg, "UPDATE user_ SET revoked_on = now() + interval '1 hour' WHERE user_id = 'alice'",
            0, NULL);
    expect_refused(&f, &f.alice, "revoked_device");
    /* Not revoked: accepted (the check reads the revocation, nothing else). */
    ndt_sql(f.pg,
            "UPDATE user_ SET revoked_on = NULL, revoked_user_certificate = NULL "
            "WHERE user_id = 'alice'",
            0, NULL);
    wsclient_t *c = ndt_connect(f.ctx, f.nd->port, &f.alice);
    (void)c;
    fx_fini(&f);
}
END_TEST

START_TEST(bad_signature)
{
    fx_t f;
    fx_init(&f);
    /* Signed by another key. */
    ndt_dev_t d = f.alice;
    pclient_key_generate(&d.key);
    expect_refused(&f, &d, "bad_protocol");

    /* Signed by the right key but over the raw challenge, not the text. */
    wsclient_t *c = open_ws(&f);
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    const char *b64 = ndt_str(ch, "challenge");
    /* decode the challenge with the answer helper's pieces: sign the
     * base64 text itself (wrong on purpose) */
    uint8_t sig[64];
    pclient_sign(&f.alice.key, b64, strlen(b64), sig);
    char *sig64 = pclient_b64(sig, 64), *rvk64 = pclient_b64(f.alice.rvk, 32);
    char *ans = NULL;
    ck_assert_int_ge(asprintf(&ans,
                              "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\","
                              "\"client_api_version\":[3,2],\"organization_id\":\"ORG\","
                              "\"device_id\":\"alice@laptop\",\"rvk\":\"%s\",\"answer\":\"%s\"}",
                              rvk64, sig64),
                     0);
    json_object_put(ch);
    ck_assert(wsclient_send_text(c, ans, strlen(ans)));
    json_object *r = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "bad_protocol");
    json_object_put(r);
    ndt_expect_closed(c, 1008, "bad_protocol", NDT_WAIT);
    free(ans);
    free(sig64);
    free(rvk64);

    /* A signature made for another connection's challenge. */
    wsclient_t *c1 = open_ws(&f), *c2 = open_ws(&f);
    json_object *ch1 = wsclient_recv_json(c1, NDT_WAIT);
    json_object *ch2 = wsclient_recv_json(c2, NDT_WAIT);
    char *a1 = ndt_answer_text(ch1, "ORG", "alice@laptop", &f.alice.key, f.alice.rvk);
    ck_assert(wsclient_send_text(c2, a1, strlen(a1)));
    r = wsclient_recv_json(c2, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "bad_protocol");
    json_object_put(r);
    /* ...while on its own connection it is fine. */
    ck_assert(wsclient_send_text(c1, a1, strlen(a1)));
    r = wsclient_recv_json(c1, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "ok");
    json_object_put(r);
    free(a1);
    json_object_put(ch1);
    json_object_put(ch2);
    fx_fini(&f);
}
END_TEST

/* Parsec 2.12's order: identity, rvk, expiry, revocation, signature. */
START_TEST(order_of_checks)
{
    fx_t f;
    fx_init(&f);
    ndt_dev_t d = f.alice;
    ndt_sql(f.pg, "UPDATE organization SET is_expired = true", 0, NULL);
    ndt_sql(f.pg,
            "UPDATE user_ SET revoked_on = now() - interval '1 second', "
            "revoked_user_certificate = '\\x00'",
            0, NULL);
    pclient_key_generate(&d.key); /* bad signature too */
    d.rvk[0] ^= 1;
    /* Unknown device beats everything. */
    ndt_dev_t u = d;
    snprintf(u.device_id, sizeof u.device_id, "alice@nowhere");
    expect_refused(&f, &u, "bad_identity");
    /* Then the root key. */
    expect_refused(&f, &d, "rvk_mismatch");
    /* Then expiry. */
    d.rvk[0] ^= 1;
    expect_refused(&f, &d, "organization_expired");
    /* Then revocation. */
    ndt_sql(f.pg, "UPDATE organization SET is_expired = false", 0, NULL);
    expect_refused(&f, &d, "revoked_device");
    /* Then the signature. */
    ndt_sql(f.pg, "UPDATE user_ SET revoked_on = NULL, revoked_user_certificate = NULL", 0, NULL);
    expect_refused(&f, &d, "bad_protocol");
    fx_fini(&f);
}
END_TEST

START_TEST(malformed_answers)
{
    fx_t f;
    fx_init(&f);
    const char *bad[] = {
        "not json",
        "[]",
        "{}",
        "{\"handshake\":\"answer\"}",
        /* wrong handshake / type */
        "{\"handshake\":\"challenge\",\"type\":\"AUTHENTICATED\"}",
        "{\"handshake\":\"answer\",\"type\":\"INVITED\",\"organization_id\":\"ORG\","
        "\"invitation_type\":\"USER\",\"token\":\"00112233445566778899aabbccddeeff\"}",
        "{\"handshake\":\"answer\",\"type\":\"anonymous\",\"organization_id\":\"ORG\"}",
        /* API version: other major, wrong shapes */
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[2,8],"
        "\"organization_id\":\"ORG\",\"device_id\":\"alice@laptop\","
        "\"rvk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"answer\":\"AA==\"}",
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":\"3.2\"}",
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3]}",
        /* identifiers and bytes */
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3,2],"
        "\"organization_id\":\"bad org\",\"device_id\":\"alice@laptop\","
        "\"rvk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"answer\":\"AA==\"}",
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3,2],"
        "\"organization_id\":\"ORG\",\"device_id\":\"alice\","
        "\"rvk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"answer\":\"AA==\"}",
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3,2],"
        "\"organization_id\":\"ORG\",\"device_id\":\"alice@laptop\","
        "\"rvk\":\"short\",\"answer\":\"AA==\"}",
        "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3,2],"
        "\"organization_id\":42,\"device_id\":\"alice@laptop\","
        "\"rvk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"answer\":\"AA==\"}",
        /* duplicate key */
        "{\"handshake\":\"answer\",\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_bad_protocol(&f, bad[i], strlen(bad[i]), false);

    /* A well-formed answer with an unknown extra field. */
    wsclient_t *c = open_ws(&f);
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    char *a = ndt_answer_text(ch, "ORG", "alice@laptop", &f.alice.key, f.alice.rvk);
    json_object_put(ch);
    a[strlen(a) - 1] = '\0';
    char *a2 = NULL;
    ck_assert_int_ge(asprintf(&a2, "%s,\"extra\":1}", a), 0);
    ck_assert(wsclient_send_text(c, a2, strlen(a2)));
    json_object *r = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "bad_protocol");
    json_object_put(r);
    free(a);
    free(a2);

    /* The right answer as a binary frame. */
    c = open_ws(&f);
    ch = wsclient_recv_json(c, NDT_WAIT);
    a = ndt_answer_text(ch, "ORG", "alice@laptop", &f.alice.key, f.alice.rvk);
    json_object_put(ch);
    ck_assert(wsclient_send_binary(c, a, strlen(a)));
    r = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "bad_protocol");
    json_object_put(r);
    free(a);

    /* Not UTF-8 in a text frame: lws closes with 1007. */
    c = open_ws(&f);
    ch = wsclient_recv_json(c, NDT_WAIT);
    json_object_put(ch);
    ck_assert(wsclient_send_text(c, "{\"a\":\"\xff\xfe\"}", 10));
    ndt_expect_closed(c, 1007, NULL, NDT_WAIT);

    /* Too large: 5000 bytes of a JSON string. */
    char big[5001];
    memset(big, 'x', sizeof big - 1);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    expect_bad_protocol(&f, big, strlen(big), false);
    fx_fini(&f);
}
END_TEST

START_TEST(silent_client_dropped)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = open_ws(&f);
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_ptr_nonnull(ch);
    json_object_put(ch);
    /* Not before the timeout (10 s)... */
    ck_assert(!wsclient_wait_closed(c, 8000));
    /* ...but soon after it. */
    ndt_expect_closed(c, 4001, "handshake timeout", 6000);
    fx_fini(&f);
}
END_TEST

/* The client sends one message, the answer: a data message after it
 * closes the connection, whether the result was sent or not. */
START_TEST(message_after_handshake)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = ndt_connect(f.ctx, f.nd->port, &f.alice);
    ck_assert(wsclient_send_text(c, "{\"cmd\":\"events_listen\"}", 24));
    ndt_expect_closed(c, 1008, "no message expected after the answer", NDT_WAIT);
    fx_fini(&f);
}
END_TEST

/* A second message while the answer is being checked: closed with the same
 * reason, and no result at all (not even ok). */
START_TEST(message_during_check)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = open_ws(&f);
    /* Both leave in one write: the second arrives while the lookup runs. */
    ndt_send_answer(c, &f.alice, 2);
    ndt_expect_closed(c, 1008, "no message expected after the answer", NDT_WAIT);
    ck_assert_uint_eq(wsclient_pending(c), 0);
    fx_fini(&f);
}
END_TEST

/* Exactly /ws is the websocket, with or without a query string; every other
 * path is 404, upgrade or not, with an HTTP answer (never a dropped
 * connection). */
START_TEST(plain_http_and_paths)
{
    fx_t f;
    fx_init(&f);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ws", f.nd->port);
    http_result_t *res = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(res->status, 426);
    testhttp_free(res);
    static const char *const others[] = {"/", "/wsx", "/ws/", "/ws/x", "/other"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f.nd->port, others[i]);
        res = testhttp_request("GET", url, NULL, NULL, 0);
        ck_assert_msg(res->status == 404, "GET %s: %ld", others[i], res->status);
        testhttp_free(res);
        long st = ndt_upgrade_raw(f.nd->port, others[i], "", NULL);
        ck_assert_msg(st == 404, "upgrade on %s: %ld", others[i], st);
    }
    ck_assert_int_eq(ndt_upgrade_raw(f.nd->port, "/ws", "", NULL), 101);
    ck_assert_int_eq(ndt_upgrade_raw(f.nd->port, "/ws?x=1", "", NULL), 101);
    /* An upgrade lws could not complete: an HTTP 400, not a dropped
     * connection. */
    static const char *const incomplete[] = {
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof incomplete / sizeof *incomplete; i++) {
        char *head = NULL;
        long st = ndt_http_raw(f.nd->port, incomplete[i], &head);
        ck_assert_msg(st == 400, "incomplete upgrade #%zu: %ld\n%s", i, st, head);
        free(head);
    }
    /* The lws client sees the refusal too. */
    wsclient_t *c = wsclient_connect_start(f.ctx, "127.0.0.1", f.nd->port, "/ws/", false);
    wsclient_wait_all_open(f.ctx, NDT_WAIT);
    ck_assert_int_eq(wsclient_get_state(c), WSCLIENT_FAILED);
    fx_fini(&f);
}
END_TEST

/* Any offered subprotocol is accepted, and none is named in the answer
 * (RFC 6455: the server may select none).  A list lws cannot read is a
 * clean 400. */
START_TEST(subprotocol_offered)
{
    fx_t f;
    fx_init(&f);
    static const char *const offers[] = {
        "Sec-WebSocket-Protocol: parsec\r\n",
        "Sec-WebSocket-Protocol: parsec-events\r\n",
        "Sec-WebSocket-Protocol: a, b,c\r\n",
        "Sec-WebSocket-Protocol: x\r\n",
        "Sec-WebSocket-Protocol: chat.v2\r\n",
        "Sec-WebSocket-Protocol: notifyd, postgresql\r\n",
        "Sec-WebSocket-Protocol:\r\n",
        "Sec-WebSocket-Protocol: one\r\nSec-WebSocket-Protocol: two\r\n",
    };
    for (size_t i = 0; i < sizeof offers / sizeof *offers; i++) {
        char *head = NULL;
        long st = ndt_upgrade_raw(f.nd->port, "/ws", offers[i], &head);
        ck_assert_msg(st == 101, "%s-> %ld\n%s", offers[i], st, head);
        char *echo = ndt_header(head, "Sec-WebSocket-Protocol");
        ck_assert_msg(echo == NULL, "%s-> echoed %s", offers[i], echo);
        free(head);
    }
    char names[151];
    memset(names, 'a', 150);
    names[150] = '\0';
    char longest[200];
    snprintf(longest, sizeof longest, "Sec-WebSocket-Protocol: %s\r\n", names);
    char name64[128];
    snprintf(name64, sizeof name64, "Sec-WebSocket-Protocol: %s\r\n",
             "p123456789012345678901234567890123456789012345678901234567890123");
    const char *bad[] = {longest, name64, "Sec-WebSocket-Protocol: \"quoted\"\r\n",
                         "Sec-WebSocket-Protocol: ,a\r\n", "Sec-WebSocket-Protocol: 1.0\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long st = ndt_upgrade_raw(f.nd->port, "/ws", bad[i], NULL);
        ck_assert_msg(st == 400, "%.60s-> %ld", bad[i], st);
    }
    /* A real client offering one: upgraded, nothing named back, and the
     * handshake and events work as without. */
    wsclient_t *c =
        wsclient_connect_proto(f.ctx, "127.0.0.1", f.nd->port, "/ws", false, "parsec", NDT_WAIT);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(wsclient_server_subprotocol(c));
    json_object *r = ndt_handshake(c, &f.alice);
    ck_assert_str_eq(ndt_str(r, "result"), "ok");
    json_object_put(r);
    fx_fini(&f);
}
END_TEST

/* While notifyd stops (a client that does not take its close frame keeps
 * it waiting), a new upgrade is answered 503. */
START_TEST(upgrade_while_stopping)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *c = ndt_connect(f.ctx, f.nd->port, &f.alice);
    wsclient_pause(c, true);
    kill(f.nd->pid, SIGTERM);
    long st = 0;
    for (int i = 0; i < 100 && st != 503; i++) {
        st = ndt_upgrade_raw(f.nd->port, "/ws", "", NULL);
        if (st != 503)
            usleep(10000);
    }
    ck_assert_int_eq(st, 503);
    wsclient_pause(c, false);
    fx_fini(&f);
}
END_TEST

TEST_SUITE(notifyd_handshake)
{
    Suite *s = suite_create("notifyd_handshake");
    TCase *tc = tcase_create("handshake");
    testenv_db_setup();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, challenge_shape);
    tcase_add_test(tc, result_ok);
    tcase_add_test(tc, bad_identity);
    tcase_add_test(tc, rvk_mismatch);
    tcase_add_test(tc, organization_expired);
    tcase_add_test(tc, revoked_device);
    tcase_add_test(tc, bad_signature);
    tcase_add_test(tc, order_of_checks);
    tcase_add_test(tc, malformed_answers);
    tcase_add_test(tc, silent_client_dropped);
    tcase_add_test(tc, message_after_handshake);
    tcase_add_test(tc, message_during_check);
    tcase_add_test(tc, plain_http_and_paths);
    tcase_add_test(tc, subprotocol_offered);
    tcase_add_test(tc, upgrade_while_stopping);
    suite_add_tcase(s, tc);
    return s;
}
