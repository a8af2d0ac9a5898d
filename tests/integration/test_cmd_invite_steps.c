/*
 * tests/integration/test_cmd_invite_steps.c - the twelve steps of the
 * greeting exchange, one request at a time, through lighttpd and a real
 * PostgreSQL
 *
 * docs/protocol.md 6.2, 6.3 and 7: every status of every step (ok,
 * not_ready, invalid_state, not_found, already_deleted, bad_message), with
 * either side speaking first; unknown, deleted, foreign, malformed and
 * repeated tokens on every invited command; payloads at and over their
 * limits; what each step publishes.  Refusals leave the database unchanged.
 * Concurrent clients through whole exchanges: test_invite_exchange.c.
 */
#include "test_invite_lib.h"
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Who sends a request: a greeter device, or a claimer holding a token. */
typedef struct {
    const porg_t *o;
    const pclient_device_t *dev; /* NULL: the claimer */
    const char *token;
} who_t;

static void expect_no_trace(const who_t *w, json_object *req, const char *status, const char *field)
{
    if (w->dev)
        porg_expect_no_trace(ut_srv, w->dev, req, status, field);
    else
        it_claim_no_trace(ut_srv, w->o->organization_id, w->token, req, status, field);
}

/* reply of step i of side (greeter when dev) saying data, expected status */
static json_object *step(const who_t *w, int i, const char *data, size_t len, const char *status)
{
    if (w->dev) {
        json_object *rep = porg_call(ut_srv, w->dev, it_greeter_req(i, w->token, data, len));
        ck_assert_msg(!strcmp(porg_status(rep), status), "greeter %s: expected %s, got %s",
                      it_greeter_steps[i].cmd, status, json_object_to_json_string(rep));
        return rep;
    }
    return it_claim_expect(ut_srv, w->o->organization_id, w->token, it_claimer_req(i, data, len),
                           status);
}

/* step i must answer ok carrying want (or, for steps without an ok field,
 * nothing but the status) */
static void step_ok(const who_t *w, int i, const char *data, size_t len, const char *want)
{
    json_object *rep = step(w, i, data, len, "ok");
    const char *out = w->dev ? it_greeter_steps[i].out : it_claimer_steps[i].out;
    if (out) {
        size_t n;
        uint8_t *got = it_bytes(rep, out, &n);
        ck_assert_uint_eq(n, strlen(want));
        ck_assert(memcmp(got, want, n) == 0);
        free(got);
        ck_assert_int_eq(json_object_object_length(rep), 2);
    } else {
        ck_assert_int_eq(json_object_object_length(rep), 1);
    }
    json_object_put(rep);
}

static void step_is(const who_t *w, int i, const char *data, const char *status)
{
    json_object_put(step(w, i, data, strlen(data), status));
}

/* 32-byte payloads for keys and the hashed nonce */
#define GK "greeter-public-key-0123456789abc"
#define CK "claimer-public-key-0123456789abc"
#define HN "claimer-hashed-nonce-0123456789a"

/* ---------------------------------------------------------------------------
 * Every step answering not_ready and ok, each side first
 */

START_TEST(exchange_greeter_first)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "claimer@example.com");
    who_t g = {o, o->admin, t}, c = {o, NULL, t};
    step_is(&g, 0, GK, "not_ready");
    step_is(&g, 0, GK, "not_ready"); /* repeated: nothing new */
    step_ok(&c, 0, CK, 32, GK);
    step_ok(&g, 0, GK, 32, CK);
    step_ok(&c, 0, CK, 32, GK); /* a lost ok, answered again */
    step_is(&g, 1, "", "not_ready");
    step_is(&c, 1, HN, "not_ready"); /* 2_1 done, now waiting in 2_2 */
    step_ok(&g, 1, "", 0, HN);
    step_is(&g, 2, "greeter nonce", "not_ready");
    step_ok(&c, 1, HN, 32, "greeter nonce");
    step_ok(&c, 2, "claimer nonce", 13, "");
    step_ok(&g, 2, "greeter nonce", 13, "claimer nonce");
    step_ok(&g, 2, "greeter nonce", 13, "claimer nonce");
    step_is(&g, 3, "", "not_ready");
    step_ok(&c, 3, "", 0, "");
    step_ok(&g, 3, "", 0, "");
    step_is(&g, 4, "", "not_ready");
    step_ok(&c, 4, "", 0, "");
    step_ok(&g, 4, "", 0, "");
    /* step 4, twice: the greeter first, the claimer completes */
    step_is(&g, 5, "greeter data", "not_ready");
    step_ok(&c, 5, "claimer data", 12, "greeter data");
    step_ok(&g, 5, "greeter data", 12, "claimer data");
    step_is(&g, 5, "confirmation", "not_ready");
    step_ok(&c, 5, "", 0, "confirmation");
    step_ok(&c, 5, "", 0, "confirmation");
    step_ok(&g, 5, "confirmation", 12, "");
    char *v = it_column(t, "conduit_state || ' ' || conduit_prev_state");
    ck_assert_str_eq(v, "4_COMMUNICATE 4_COMMUNICATE");
    free(v);
    free(t);
    porg_free(o);
}
END_TEST

START_TEST(exchange_claimer_first)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    char *t = it_invite(ut_srv, bob, "DEVICE", NULL);
    /* another device of bob's drives the greeting */
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    who_t g = {o, bob2, t}, c = {o, NULL, t};
    step_is(&c, 0, CK, "not_ready");
    step_ok(&g, 0, GK, 32, CK);
    step_ok(&c, 0, CK, 32, GK);
    step_is(&c, 1, HN, "not_ready");
    step_ok(&g, 1, "", 0, HN);
    step_is(&c, 1, HN, "not_ready");
    step_is(&g, 2, "gn", "not_ready");
    step_ok(&c, 1, HN, 32, "gn");
    step_ok(&c, 2, "cn", 2, "");
    step_ok(&g, 2, "gn", 2, "cn");
    step_is(&c, 3, "", "not_ready");
    step_ok(&g, 3, "", 0, "");
    step_ok(&c, 3, "", 0, "");
    step_is(&c, 4, "", "not_ready");
    step_ok(&g, 4, "", 0, "");
    step_ok(&c, 4, "", 0, "");
    /* step 4: the greeter completes, and waits for the claimer's answer */
    step_is(&c, 5, "device data", "not_ready");
    step_is(&g, 5, "", "not_ready");
    step_is(&g, 5, "", "not_ready");
    step_ok(&c, 5, "device data", 11, "");
    step_ok(&g, 5, "", 0, "device data");
    step_is(&c, 5, "", "not_ready");
    step_is(&g, 5, "confirmation", "not_ready");
    step_ok(&c, 5, "", 0, "confirmation");
    step_ok(&g, 5, "confirmation", 12, "");
    free(t);
    pclient_device_free(bob);
    pclient_device_free(bob2);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * invalid_state, step 1's reset
 */

static char *conduit_of(const char *t)
{
    return it_column(t, "conduit_state || coalesce(encode(conduit_greeter_payload, 'hex'), '-')"
                        " || coalesce(encode(conduit_claimer_payload, 'hex'), '-')"
                        " || coalesce(conduit_prev_state, '-')"
                        " || coalesce(encode(conduit_prev_greeter_payload, 'hex'), '-')"
                        " || coalesce(encode(conduit_prev_claimer_payload, 'hex'), '-')"
                        " || conduit_claimer_fetched");
}

START_TEST(steps_out_of_turn)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    who_t g = {o, o->admin, t}, c = {o, NULL, t};
    /* every step but 1, at state 1 */
    for (int i = 1; i < 6; i++) {
        uint8_t data[32] = {0};
        size_t len = it_greeter_steps[i].in_exact ? 32 : 3;
        porg_expect_no_trace(ut_srv, o->admin, it_greeter_req(i, t, data, len), "invalid_state",
                             NULL);
        /* the claimer's: the conduit unchanged, its presence recorded */
        len = it_claimer_steps[i].in_exact ? 32 : 3;
        char *before = conduit_of(t);
        json_object_put(it_claim_expect(ut_srv, o->organization_id, t, it_claimer_req(i, data, len),
                                        "invalid_state"));
        char *after = conduit_of(t);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
    }
    char *v = it_column(t, "claimer_ready_on IS NOT NULL");
    ck_assert_str_eq(v, "t");
    free(v);
    /* another payload where mine waits: invalid_state (step 1: a reset) */
    step_is(&g, 0, GK, "not_ready");
    step_ok(&c, 0, CK, 32, GK);
    step_is(&c, 1, HN, "not_ready");
    step_is(&c, 1, "another-hashed-nonce-0123456789a", "invalid_state");
    step_is(&g, 2, "x", "invalid_state");                            /* early */
    step_is(&g, 0, "another-greeter-key-0123456789ab", "not_ready"); /* a reset */
    v = it_column(t, "conduit_state || coalesce(conduit_prev_state, '-')");
    ck_assert_str_eq(v, "1_WAIT_PEERS-");
    free(v);
    step_is(&c, 1, HN, "invalid_state"); /* the claimer is now out of turn */
    step_ok(&c, 0, "new-claimer-public-key-456789abc", 32, "another-greeter-key-0123456789ab");
    free(t);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * not_found and already_deleted on the greeter's steps
 */

START_TEST(greeter_steps_not_found_deleted)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "ADMIN", "bob@example.com", "Bob");
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    char *mine = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    char *bobs = it_invite(ut_srv, bob, "USER", "x@example.com");
    char *foreign = it_invite(ut_srv, other->admin, "DEVICE", NULL);
    char *gone = it_invite(ut_srv, o->admin, "USER", "gone@example.com");
    porg_expect(ut_srv, o->admin, it_delete_req(gone, "CANCELLED"), "ok");
    const char *unknown = "00112233445566778899aabbccddeeff";
    for (int i = 0; i < 6; i++) {
        uint8_t d[32] = {1};
        size_t len = it_greeter_steps[i].in_exact ? 32 : 5;
        const char *nf[] = {unknown, bobs, foreign};
        for (int k = 0; k < 3; k++)
            porg_expect_no_trace(ut_srv, o->admin, it_greeter_req(i, nf[k], d, len), "not_found",
                                 NULL);
        porg_expect_no_trace(ut_srv, o->admin, it_greeter_req(i, gone, d, len), "already_deleted",
                             NULL);
    }
    free(mine);
    free(bobs);
    free(foreign);
    free(gone);
    pclient_device_free(bob);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * already_deleted on the claimer's steps: deleted while the step waits for
 * the row (the invited route saw it alive)
 */

typedef struct {
    const char *url, *org, *token;
    json_object *req;
    pclient_resp_t resp;
} bg_call_t;

static void *bg_call(void *arg)
{
    bg_call_t *b = arg;
    pclient_opts_t opts = {.invitation_token = b->token};
    pclient_cmd_ex(b->url, "invited", b->org, NULL, &opts, b->req, &b->resp);
    return NULL;
}

static void exec_ok(PGconn *pg, const char *sql, const char *param)
{
    const char *p[] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

START_TEST(claimer_steps_deleted_meanwhile)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    for (int i = 0; i < 6; i++) {
        char *email = xasprintf("race%d@example.com", i);
        char *t = it_invite(ut_srv, o->admin, "USER", email);
        PGconn *locker = porg_pg(ut_srv);
        exec_ok(locker, "BEGIN", NULL);
        exec_ok(locker, "SELECT 1 FROM invitation WHERE token = $1::uuid FOR UPDATE", t);
        uint8_t d[32] = {2};
        bg_call_t b = {.url = porg_srv_url(ut_srv),
                       .org = o->organization_id,
                       .token = t,
                       .req = it_claimer_req(i, d, it_claimer_steps[i].in_exact ? 32 : 4)};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, bg_call, &b), 0);
        /* wait until the step waits for the row */
        bool waiting = false;
        for (int k = 0; k < 500 && !waiting; k++) {
            char *n = ut_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                             " AND datname = current_database()",
                             NULL);
            waiting = atoi(n) > 0;
            free(n);
            if (!waiting)
                usleep(20000);
        }
        ck_assert_msg(waiting, "%s never waited for the row", it_claimer_steps[i].cmd);
        exec_ok(locker,
                "UPDATE invitation SET deleted_on = now(), deleted_reason = 'CANCELLED'"
                " WHERE token = $1::uuid",
                t);
        exec_ok(locker, "COMMIT", NULL);
        PQfinish(locker);
        pthread_join(th, NULL);
        json_object_put(b.req);
        ck_assert_msg(b.resp.status == 200 && pclient_status(&b.resp) &&
                          !strcmp(pclient_status(&b.resp), "already_deleted"),
                      "%s: %ld %s", it_claimer_steps[i].cmd, b.resp.status, b.resp.body);
        pclient_resp_free(&b.resp);
        /* nothing of the step stayed: no presence, the conduit untouched */
        char *v = it_column(t, "(claimer_ready_on IS NULL) || conduit_state"
                               " || (conduit_claimer_payload IS NULL)");
        ck_assert_str_eq(v, "true1_WAIT_PEERStrue");
        free(v);
        free(t);
        free(email);
    }
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Bad input
 */

/* Every malformed value of the Bytes field `field` of base (step i of w's
 * side): refused, naming it, writing nothing.  exact: the one size (keys),
 * else max: the largest. */
static void bad_bytes(const who_t *w, json_object *base, const char *field, size_t exact,
                      size_t max)
{
    size_t sizes[3] = {exact ? exact - 1 : max + 1, exact ? exact + 1 : 0, exact ? 0 : 0};
    for (int k = 0; k < 2; k++) {
        if (!sizes[k])
            continue;
        uint8_t *big = xcalloc(sizes[k], 1);
        json_object *req = ut_copy(base);
        json_object_object_add(req, field, pclient_json_bytes(big, sizes[k]));
        expect_no_trace(w, req, "bad_message", field);
        free(big);
    }
    const char *bad_strings[] = {"not base64!", "Zh==", "QUJD=", "QUJDRA", " QUJD", "-_-_"};
    for (size_t i = 0; i < sizeof bad_strings / sizeof bad_strings[0]; i++)
        expect_no_trace(w, set_str(ut_copy(base), field, bad_strings[i]), "bad_message", field);
    json_object *bad_values[] = {NULL, json_object_new_int(42), json_object_new_boolean(1),
                                 json_object_new_array(), json_object_new_object()};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        expect_no_trace(w, set_json(ut_copy(base), field, bad_values[i]), "bad_message", field);
    expect_no_trace(w, without(ut_copy(base), field), "bad_message", field);
}

START_TEST(steps_bad_input)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "bad@example.com");
    who_t g = {o, o->admin, t}, c = {o, NULL, t};
    uint8_t d[32] = {3};
    for (int i = 0; i < 6; i++) {
        /* the greeter's token */
        json_object *base = it_greeter_req(i, t, d, it_greeter_steps[i].in_exact ? 32 : 4);
        const char *bad_tokens[] = {"", "xyz", "00112233-4455-6677-8899-aabbccddeeff",
                                    "00112233445566778899AABBCCDDEEFF"};
        for (size_t k = 0; k < sizeof bad_tokens / sizeof bad_tokens[0]; k++)
            expect_no_trace(&g, set_str(ut_copy(base), "token", bad_tokens[k]), "bad_message",
                            "token");
        expect_no_trace(&g, without(ut_copy(base), "token"), "bad_message", "token");
        expect_no_trace(&g, set_json(ut_copy(base), "token", json_object_new_int(1)), "bad_message",
                        "token");
        expect_no_trace(&g, set_json(ut_copy(base), "extra", json_object_new_int(1)), "bad_message",
                        "extra");
        if (it_greeter_steps[i].in)
            bad_bytes(&g, base, it_greeter_steps[i].in, it_greeter_steps[i].in_exact,
                      it_greeter_steps[i].in_max);
        json_object_put(base);

        base = it_claimer_req(i, d, it_claimer_steps[i].in_exact ? 32 : 4);
        expect_no_trace(&c, set_json(ut_copy(base), "extra", json_object_new_int(1)), "bad_message",
                        "extra");
        /* the claimer names no token: its header does */
        expect_no_trace(&c, set_str(ut_copy(base), "token", t), "bad_message", "token");
        if (it_claimer_steps[i].in)
            bad_bytes(&c, base, it_claimer_steps[i].in, it_claimer_steps[i].in_exact,
                      it_claimer_steps[i].in_max);
        json_object_put(base);
    }
    free(t);
    porg_free(o);
}
END_TEST

/* Payloads at their limits pass, byte for byte. */
START_TEST(steps_payload_limits)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    who_t g = {o, o->admin, t}, c = {o, NULL, t};
    char *gn = xmalloc(1025), *cn = xmalloc(1025), *gp = xmalloc(65537), *cp = xmalloc(65537);
    for (int i = 0; i < 1024; i++) {
        gn[i] = (char)('a' + i % 26);
        cn[i] = (char)('A' + i % 26);
    }
    gn[1024] = cn[1024] = '\0';
    for (int i = 0; i < 65536; i++) {
        gp[i] = (char)('0' + i % 10);
        cp[i] = (char)('a' + i % 7);
    }
    gp[65536] = cp[65536] = '\0';
    step_is(&g, 0, GK, "not_ready");
    step_ok(&c, 0, CK, 32, GK);
    step_ok(&g, 0, GK, 32, CK);
    step_is(&c, 1, HN, "not_ready");
    step_ok(&g, 1, "", 0, HN);
    step_is(&g, 2, gn, "not_ready");
    step_ok(&c, 1, HN, 32, gn);
    step_is(&c, 2, cn, "not_ready"); /* the greeter's 2b has not reached 2_3 */
    step_ok(&g, 2, gn, 1024, cn);
    step_ok(&c, 2, cn, 1024, "");
    step_is(&c, 3, "", "not_ready");
    step_ok(&g, 3, "", 0, "");
    step_ok(&c, 3, "", 0, "");
    step_is(&g, 4, "", "not_ready");
    step_ok(&c, 4, "", 0, "");
    step_ok(&g, 4, "", 0, "");
    step_is(&g, 5, gp, "not_ready");
    step_ok(&c, 5, cp, 65536, gp);
    step_ok(&g, 5, gp, 65536, cp);
    free(gn);
    free(cn);
    free(gp);
    free(cp);
    free(t);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * The Invitation-Token header on every invited command
 */

static json_object *invited_req(int k)
{
    uint8_t d[32] = {4};
    if (k < 6)
        return it_claimer_req(k, d, it_claimer_steps[k].in_exact ? 32 : 4);
    if (k == 6)
        return pclient_req("invite_info");
    json_object *p = pclient_req("ping");
    json_object_object_add(p, "ping", json_object_new_string("x"));
    return p;
}

START_TEST(invited_tokens)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "tok@example.com");
    char *tother = it_invite(ut_srv, other->admin, "USER", "tok@example.com");
    char *gone = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    porg_expect(ut_srv, o->admin, it_delete_req(gone, "ROTTEN"), "ok");
    char *upper = xstrdup(t);
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    char *hyphens = xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", t, t + 8, t + 12, t + 16, t + 20);
    char *shorter = xasprintf("%.31s", t);
    char *longer = xasprintf("%s0", t);
    const char *bad[] = {NULL,    "",      "xyz",  upper,
                         hyphens, shorter, longer, "00000000000000000000000000000000",
                         tother};
    char *before = porg_fingerprint(ut_srv);
    for (int k = 0; k < 8; k++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
            it_claim_error(ut_srv, o->organization_id, bad[b], invited_req(k), 401,
                           "bad_invitation");
        it_claim_error(ut_srv, o->organization_id, gone, invited_req(k), 410,
                       "invitation_already_deleted");
        /* the header twice (the web server joins them): refused */
        char *url = xasprintf("%s/invited/%s", porg_srv_url(ut_srv), o->organization_id);
        char *h = xasprintf("Invitation-Token: %s", t);
        const char *hdrs[] = {"Api-Version: 3.2", "Content-Type: application/json", h, h, NULL};
        json_object *req = invited_req(k);
        const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        pclient_resp_t r;
        ck_assert(pclient_http_post(url, hdrs, body, strlen(body), &r));
        ck_assert_msg(r.status == 401, "repeated header: %ld %s", r.status, r.body);
        pclient_resp_free(&r);
        json_object_put(req);
        free(url);
        free(h);
        /* the token of organization B on organization A's route, and back */
        it_claim_error(ut_srv, other->organization_id, t, invited_req(k), 401, "bad_invitation");
    }
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    char *strs[] = {t, tother, gone, upper, hyphens, shorter, longer};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(strs[i]);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Events of the steps
 */

START_TEST(steps_events)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    who_t g = {o, o->admin, t}, c = {o, NULL, t};
    PGconn *ev = it_listen(ut_srv);
    /* the greeter's calls announce nothing */
    step_is(&g, 0, GK, "not_ready");
    it_expect_no_event(ev, 300);
    /* the claimer's first call: READY, then its change of the conduit */
    step_ok(&c, 0, CK, 32, GK);
    json_object_put(it_expect_event(ev, "invite.status_changed", "admin", t, "READY"));
    json_object *e = it_expect_event(ev, "invite.conduit_updated", "admin", t, NULL);
    json_object *a;
    ck_assert(json_object_object_get_ex(e, "a", &a));
    ck_assert_ptr_null(a);
    json_object_put(e);
    /* a repeat changes nothing and says nothing */
    step_ok(&c, 0, CK, 32, GK);
    it_expect_no_event(ev, 300);
    step_ok(&g, 0, GK, 32, CK);
    step_is(&c, 1, HN, "not_ready");
    json_object_put(it_expect_event(ev, "invite.conduit_updated", "admin", t, NULL));
    step_is(&c, 1, HN, "not_ready");
    it_expect_no_event(ev, 300);
    PQfinish(ev);
    free(t);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_invite_steps)
{
    Suite *s = suite_create("cmd_invite_steps");
    TCase *tc = ut_tcase("exchange");
    tcase_add_test(tc, exchange_greeter_first);
    tcase_add_test(tc, exchange_claimer_first);
    tcase_add_test(tc, steps_out_of_turn);
    tcase_add_test(tc, steps_payload_limits);
    tcase_add_test(tc, steps_events);
    suite_add_tcase(s, tc);
    tc = ut_tcase("refusals");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, greeter_steps_not_found_deleted);
    tcase_add_test(tc, claimer_steps_deleted_meanwhile);
    tcase_add_test(tc, steps_bad_input);
    tcase_add_test(tc, invited_tokens);
    suite_add_tcase(s, tc);
    return s;
}
