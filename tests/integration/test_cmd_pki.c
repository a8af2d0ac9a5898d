/*
 * tests/integration/test_cmd_pki.c - PKI enrollment through lighttpd and a
 * real PostgreSQL: pki_enrollment_submit and pki_enrollment_info on the
 * anonymous route, pki_enrollment_list, _reject and _accept (ADMIN)
 *
 * docs/protocol.md and parsec-2.12-behaviour.md section 16: every status,
 * every state and transition (T/test_pki.py's cases, the forced
 * resubmission, the cycle after revocation), the order of the checks, the
 * events published, isolation between organizations, bad input, and no
 * trace left by a refusal.
 */
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ---- */

static json_object *submit_payload_json(const char *type)
{
    uint8_t key[32] = {1};
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string(type));
    json_object_object_add(p, "verify_key", pclient_json_bytes(key, 32));
    json_object_object_add(p, "public_key", pclient_json_bytes(key, 32));
    json_object_object_add(p, "requested_device_label", json_object_new_string("My smartcard"));
    return p;
}

/* The JSON text of p (consumed) as a Bytes value. */
static json_object *payload_bytes(json_object *p)
{
    const char *t = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
    json_object *b = pclient_json_bytes(t, strlen(t));
    json_object_put(p);
    return b;
}

static json_object *req_submit(const uint8_t id[16], const char *cert, const char *email,
                               bool force)
{
    json_object *r = pclient_req("pki_enrollment_submit");
    json_object_object_add(r, "enrollment_id", json_object_new_string(rl_hex(id)));
    json_object_object_add(r, "force", json_object_new_boolean(force));
    json_object_object_add(r, "submitter_der_x509_certificate",
                           pclient_json_bytes(cert, strlen(cert)));
    json_object_object_add(r, "submitter_der_x509_certificate_email",
                           email ? json_object_new_string(email) : NULL);
    json_object_object_add(r, "submit_payload_signature", pclient_json_bytes("sig", 3));
    json_object_object_add(r, "submit_payload",
                           payload_bytes(submit_payload_json("pki_enrollment_submit_payload")));
    return r;
}

static json_object *req_id(const char *cmd, const uint8_t id[16])
{
    json_object *r = pclient_req(cmd);
    json_object_object_add(r, "enrollment_id", json_object_new_string(rl_hex(id)));
    return r;
}

static json_object *answer_payload(const pclient_device_t *nu)
{
    uint8_t key[32] = {2};
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string("pki_enrollment_answer_payload"));
    json_object_object_add(p, "device_id", json_object_new_string(nu->device_id));
    json_object_object_add(p, "device_label", NULL);
    json_object_object_add(p, "human_handle", NULL);
    json_object_object_add(p, "profile", json_object_new_string(nu->profile));
    json_object_object_add(p, "root_verify_key", pclient_json_bytes(key, 32));
    return p;
}

/* pki_enrollment_accept of id creating nu (certified by nu's certifier). */
static json_object *req_accept(const uint8_t id[16], const pclient_device_t *nu)
{
    json_object *r = pclient_req_user_create(nu);
    json_object_object_add(r, "cmd", json_object_new_string("pki_enrollment_accept"));
    json_object_object_add(r, "enrollment_id", json_object_new_string(rl_hex(id)));
    json_object_object_add(r, "accepter_der_x509_certificate",
                           pclient_json_bytes("admin x509", 10));
    json_object_object_add(r, "accept_payload_signature", pclient_json_bytes("asig", 4));
    json_object_object_add(r, "accept_payload", payload_bytes(answer_payload(nu)));
    return r;
}

/* An anonymous request of o's organization: its reply (HTTP 200). */
static json_object *anon(const char *org, json_object *req)
{
    pclient_resp_t r;
    porg_send(ut_srv, "anonymous", org, NULL, req, &r);
    porg_assert_status(ut_srv, &r, 200, NULL);
    json_object *j = json_object_get(r.json);
    pclient_resp_free(&r);
    return j;
}

static void anon_expect(const char *org, json_object *req, const char *status)
{
    json_object *j = anon(org, req);
    ck_assert_msg(!strcmp(porg_status(j), status), "want %s: %s", status,
                  json_object_to_json_string(j));
    json_object_put(j);
}

/* The same, and the database unchanged. */
static void anon_no_trace(const char *org, json_object *req, const char *status)
{
    char *before = porg_fingerprint(ut_srv);
    anon_expect(org, req, status);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}

static char *state_of(const porg_t *o, const uint8_t id[16])
{
    json_object *j = anon(o->organization_id, req_id("pki_enrollment_info", id));
    ck_assert_str_eq(porg_status(j), "ok");
    char *s = xstrdup(porg_str(j, "enrollment_status"));
    json_object_put(j);
    return s;
}

static void assert_state(const porg_t *o, const uint8_t id[16], const char *want)
{
    char *s = state_of(o, id);
    ck_assert_str_eq(s, want);
    free(s);
}

/* Submit (ok expected), returning submitted_on. */
static char *submit_ok(const porg_t *o, const uint8_t id[16], const char *cert, bool force)
{
    json_object *j = anon(o->organization_id, req_submit(id, cert, NULL, force));
    ck_assert_msg(!strcmp(porg_status(j), "ok"), "%s", json_object_to_json_string(j));
    char *on = xstrdup(porg_str(j, "submitted_on"));
    json_object_put(j);
    return on;
}

static void expect_updated(PGconn *ev, const porg_t *o, int n)
{
    for (int i = 0; i < n; i++)
        json_object_put(rl_expect_event(ev, o->organization_id, "pki_enrollment.updated"));
    rl_expect_no_event(ev, o->organization_id);
}

/* ---- tests ---- */

/* Submit, info in each state, list, and the events (test_pki_submit,
 * test_pki_list, test_pki_info*). */
START_TEST(submit_info_list)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    PGconn *ev = rl_listen();
    uint8_t a[16], b[16], c[16];
    rl_id(a);
    rl_id(b);
    rl_id(c);

    /* nothing yet */
    json_object *r = porg_call(ut_srv, o->admin, pclient_req("pki_enrollment_list"));
    ck_assert_str_eq(porg_status(r), "ok");
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "enrollments")), 0);
    json_object_put(r);
    r = anon(o->organization_id, req_id("pki_enrollment_info", a));
    ck_assert_str_eq(porg_status(r), "not_found");
    ck_assert_str_eq(porg_str(r, "reason"), "");
    json_object_put(r);

    /* submitted: the email may be absent */
    json_object *req = req_submit(a, "cert A", NULL, false);
    json_object_object_del(req, "submitter_der_x509_certificate_email");
    r = anon(o->organization_id, req);
    ck_assert_str_eq(porg_status(r), "ok");
    char *on_a = xstrdup(porg_str(r, "submitted_on"));
    json_object_put(r);
    expect_updated(ev, o, 1);
    char *on_b = submit_ok(o, b, "cert B", false);
    expect_updated(ev, o, 1);
    r = anon(o->organization_id, req_id("pki_enrollment_info", a));
    ck_assert_str_eq(porg_status(r), "ok");
    ck_assert_str_eq(porg_str(r, "enrollment_status"), "SUBMITTED");
    ck_assert_str_eq(porg_str(r, "submitted_on"), on_a);
    ck_assert_ptr_null(json_object_object_get(r, "accepted_on"));
    json_object_put(r);

    /* listed in submission order, bytes as stored */
    r = porg_call(ut_srv, o->admin, pclient_req("pki_enrollment_list"));
    json_object *l = json_object_object_get(r, "enrollments");
    ck_assert_int_eq(json_object_array_length(l), 2);
    json_object *first = json_object_array_get_idx(l, 0);
    ck_assert_str_eq(porg_str(first, "enrollment_id"), rl_hex(a));
    ck_assert_str_eq(porg_str(first, "submitted_on"), on_a);
    char *b64 = pclient_b64("cert A", 6);
    ck_assert_str_eq(porg_str(first, "submitter_der_x509_certificate"), b64);
    free(b64);
    b64 = pclient_b64("sig", 3);
    ck_assert_str_eq(porg_str(first, "submit_payload_signature"), b64);
    free(b64);
    ck_assert_ptr_nonnull(porg_str(first, "submit_payload"));
    ck_assert_str_eq(porg_str(json_object_array_get_idx(l, 1), "enrollment_id"), rl_hex(b));
    json_object_put(r);

    /* isolation: the other organization sees none of them */
    r = porg_call(ut_srv, other->admin, pclient_req("pki_enrollment_list"));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "enrollments")), 0);
    json_object_put(r);
    anon_expect(other->organization_id, req_id("pki_enrollment_info", a), "not_found");
    porg_expect_no_trace(ut_srv, other->admin, req_id("pki_enrollment_reject", a), "not_found",
                         NULL);
    /* ...and the same id may be used there */
    free(submit_ok(other, a, "cert A", false));
    rl_expect_no_event(ev, o->organization_id);

    /* rejected */
    porg_expect(ut_srv, o->admin, req_id("pki_enrollment_reject", b), "ok");
    expect_updated(ev, o, 1);
    r = anon(o->organization_id, req_id("pki_enrollment_info", b));
    ck_assert_str_eq(porg_str(r, "enrollment_status"), "REJECTED");
    ck_assert_str_eq(porg_str(r, "submitted_on"), on_b);
    ck_assert_ptr_nonnull(porg_str(r, "rejected_on"));
    json_object_put(r);
    /* no longer listed */
    r = porg_call(ut_srv, o->admin, pclient_req("pki_enrollment_list"));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "enrollments")), 1);
    json_object_put(r);

    /* cancelled by a forced resubmission: two events */
    char *on_c = submit_ok(o, c, "cert A", true);
    expect_updated(ev, o, 2);
    r = anon(o->organization_id, req_id("pki_enrollment_info", a));
    ck_assert_str_eq(porg_str(r, "enrollment_status"), "CANCELLED");
    ck_assert_str_eq(porg_str(r, "cancelled_on"), on_c);
    json_object_put(r);

    /* accepted */
    pclient_device_t *nu =
        ut_new_user(o, o->admin, "carl@card", "STANDARD", "carl@x.example", ut_now());
    porg_expect(ut_srv, o->admin, req_accept(c, nu), "ok");
    expect_updated(ev, o, 1);
    r = anon(o->organization_id, req_id("pki_enrollment_info", c));
    ck_assert_str_eq(porg_str(r, "enrollment_status"), "ACCEPTED");
    ck_assert_str_eq(porg_str(r, "submitted_on"), on_c);
    ck_assert_ptr_nonnull(porg_str(r, "accepted_on"));
    b64 = pclient_b64("admin x509", 10);
    ck_assert_str_eq(porg_str(r, "accepter_der_x509_certificate"), b64);
    free(b64);
    b64 = pclient_b64("asig", 4);
    ck_assert_str_eq(porg_str(r, "accept_payload_signature"), b64);
    free(b64);
    ck_assert_ptr_nonnull(porg_str(r, "accept_payload"));
    json_object_put(r);
    /* the user exists and can call */
    porg_expect(ut_srv, nu, pclient_req("organization_config"), "ok");
    char *who = ut_sql("SELECT a.device_id || ' ' || s.device_id FROM pki_enrollment e"
                       " JOIN device a ON a._id = e.accepter"
                       " JOIN device s ON s._id = e.submitter_accepted_device"
                       " WHERE e.enrollment_id = $1::uuid",
                       rl_hex(c), NULL);
    ck_assert_str_eq(who, "admin@dev1 carl@card");
    free(who);

    pclient_device_free(nu);
    free(on_a);
    free(on_b);
    free(on_c);
    PQfinish(ev);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* Every refusal of pki_enrollment_submit, in its order; none leaves a
 * trace (test_pki_submit, _same_id, _already_used_email,
 * _already_accepted). */
START_TEST(submit_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const char *org = o->organization_id;
    PGconn *ev = rl_listen();
    uint8_t a[16], b[16], c[16], d[16];
    rl_id(a);
    rl_id(b);
    rl_id(c);
    rl_id(d);
    char *on_a = submit_ok(o, a, "cert", false);
    expect_updated(ev, o, 1);

    /* the id is used, in any state, whatever force says */
    anon_no_trace(org, req_submit(a, "other cert", NULL, false), "enrollment_id_already_used");
    anon_no_trace(org, req_submit(a, "cert", NULL, true), "enrollment_id_already_used");
    /* pending with this certificate: its submitted_on */
    json_object *r = anon(org, req_submit(b, "cert", NULL, false));
    ck_assert_str_eq(porg_status(r), "already_submitted");
    ck_assert_str_eq(porg_str(r, "submitted_on"), on_a);
    json_object_put(r);
    /* the email of a non-revoked user, even with force: the cancellation
     * is undone too */
    char *email = xasprintf("admin@%s.example.com", org);
    for (char *p = email; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    anon_no_trace(org, req_submit(b, "cert", email, true), "email_already_used");
    anon_no_trace(org, req_submit(b, "new cert", email, false), "email_already_used");
    rl_expect_no_event(ev, org);
    assert_state(o, a, "SUBMITTED");
    /* another user's email differing only by case is not the same */
    char *upper = xstrdup(email);
    upper[0] = 'A';
    anon_expect(org, req_submit(b, "upper cert", upper, false), "ok");
    free(upper);
    /* payloads that do not decode */
    const char *bad_payloads[] = {"not json", "{}", "[1]"};
    for (size_t i = 0; i < 3; i++) {
        json_object *q = req_submit(c, "cert c", NULL, false);
        json_object_object_add(q, "submit_payload",
                               pclient_json_bytes(bad_payloads[i], strlen(bad_payloads[i])));
        r = anon(org, q);
        ck_assert_str_eq(porg_status(r), "invalid_payload_data");
        ck_assert_ptr_nonnull(porg_str(r, "reason"));
        json_object_put(r);
    }
    json_object *q = req_submit(c, "cert c", NULL, false);
    json_object_object_add(q, "submit_payload",
                           payload_bytes(submit_payload_json("pki_enrollment_answer_payload")));
    anon_no_trace(org, q, "invalid_payload_data");
    /* the payload is checked before the id */
    q = req_submit(a, "cert", NULL, false);
    json_object_object_add(q, "submit_payload", pclient_json_bytes("x", 1));
    anon_no_trace(org, q, "invalid_payload_data");

    /* already enrolled while the created user is active, again after its
     * revocation */
    pclient_device_t *nu = ut_new_user(o, o->admin, "eve@card", "STANDARD", NULL, ut_now());
    porg_expect(ut_srv, o->admin, req_accept(a, nu), "ok");
    anon_no_trace(org, req_submit(c, "cert", NULL, true), "already_enrolled");
    porg_revoke(ut_srv, o->admin, "eve");
    free(submit_ok(o, c, "cert", false));

    /* bad fields */
    json_object *base = req_submit(d, "cert d", NULL, false);
    const char *fields[] = {"enrollment_id", "force", "submitter_der_x509_certificate",
                            "submit_payload_signature", "submit_payload"};
    for (size_t i = 0; i < 5; i++)
        anon_no_trace(org, without(ut_copy(base), fields[i]), "bad_message");
    json_object *bads[] = {
        set_str(ut_copy(base), "enrollment_id", "not-a-uuid"),
        set_json(ut_copy(base), "force", json_object_new_string("yes")),
        set_json(ut_copy(base), "submitter_der_x509_certificate_email", json_object_new_int(1)),
        set_str(ut_copy(base), "submit_payload", "!!"),
        set_json(ut_copy(base), "unknown", json_object_new_int(1)),
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
        anon_no_trace(org, bads[i], "bad_message");
    /* oversized certificate */
    char *big = xcalloc(1, 16386);
    memset(big, 'x', 16385);
    anon_no_trace(org, req_submit(d, big, NULL, false), "bad_message");
    free(big);
    json_object_put(base);
    /* an organization not yet bootstrapped takes submissions */
    char *fresh = porg_org_id("PkiFresh");
    free(porg_create_org(ut_srv, fresh, NULL));
    anon_expect(fresh, req_submit(d, "cert d", NULL, false), "ok");
    anon_expect(fresh, req_id("pki_enrollment_info", d), "ok");
    free(fresh);
    /* an unknown organization is 404, as on every anonymous command */
    pclient_resp_t resp;
    porg_send(ut_srv, "anonymous", "NoSuchOrg", NULL, req_submit(d, "x", NULL, false), &resp);
    ck_assert_int_eq(resp.status, 404);
    pclient_resp_free(&resp);

    pclient_device_free(nu);
    free(email);
    free(on_a);
    PQfinish(ev);
    porg_free(o);
}
END_TEST

/* Every refusal of accept and reject, in their order (test_pki_accept*,
 * test_pki_reject*). */
START_TEST(answer_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    uint8_t a[16], b[16], unknown[16];
    rl_id(a);
    rl_id(b);
    rl_id(unknown);
    free(submit_ok(o, a, "cert a", false));
    free(submit_ok(other, b, "cert b", false));
    pclient_device_t *nu = ut_new_user(o, o->admin, "nu@card", "STANDARD", NULL, ut_now());

    /* ADMIN only, before the request is even read */
    porg_expect_no_trace(ut_srv, std, pclient_req("pki_enrollment_list"), "not_allowed", NULL);
    porg_expect_no_trace(ut_srv, std, req_id("pki_enrollment_reject", a), "not_allowed",
                         "is not admin");
    porg_expect_no_trace(ut_srv, std, pclient_req("pki_enrollment_accept"), "not_allowed", NULL);
    /* schema */
    porg_expect_no_trace(ut_srv, o->admin, without(req_accept(a, nu), "accept_payload"),
                         "bad_message", "accept_payload");
    porg_expect_no_trace(ut_srv, o->admin, without(req_accept(a, nu), "user_certificate"),
                         "bad_message", "user_certificate");
    porg_expect_no_trace(ut_srv, o->admin,
                         set_json(pclient_req("pki_enrollment_list"), "x", json_object_new_int(1)),
                         "bad_message", "x");
    porg_expect_no_trace(ut_srv, o->admin, pclient_req("pki_enrollment_reject"), "bad_message",
                         "enrollment_id");
    /* payload */
    porg_expect_no_trace(
        ut_srv, o->admin,
        set_json(req_accept(a, nu), "accept_payload", pclient_json_bytes("{\"type\":1}", 10)),
        "invalid_payload_data", NULL);
    /* certificates before the lookup: a certificate by another author */
    pclient_device_t *forged = ut_new_user(o, std, "f@card", "STANDARD", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, req_accept(unknown, forged), "invalid_certification",
                         NULL);
    pclient_device_free(forged);
    /* certificates that do not agree with each other: invalid_data */
    int64_t ts = ut_now();
    pclient_device_t *m1 = ut_new_user(o, o->admin, "m1@card", "STANDARD", NULL, ts);
    pclient_device_t *m2 = ut_new_user(o, o->admin, "m2@card", "STANDARD", NULL, ts);
    json_object *mixed = req_accept(unknown, m1);
    json_object_object_add(mixed, "device_certificate", pclient_json_blob(&m2->device_certificate));
    json_object_object_add(mixed, "redacted_device_certificate",
                           pclient_json_blob(&m2->redacted_device_certificate));
    porg_expect_no_trace(ut_srv, o->admin, mixed, "invalid_data", "same user ID");
    pclient_device_free(m1);
    pclient_device_free(m2);
    /* unknown here, or another organization's */
    porg_expect_no_trace(ut_srv, o->admin, req_accept(unknown, nu), "not_found", NULL);
    porg_expect_no_trace(ut_srv, o->admin, req_accept(b, nu), "not_found", NULL);
    porg_expect_no_trace(ut_srv, o->admin, req_id("pki_enrollment_reject", unknown), "not_found",
                         NULL);
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM user_ WHERE user_id = 'nu'", NULL), 0);
    /* the user id is taken: already_exists with an empty reason, and the
     * enrollment stays SUBMITTED; once the holder is revoked... the id
     * stays taken, so another user id succeeds */
    pclient_device_t *dup = ut_new_user(o, o->admin, "std@card", "STANDARD", NULL, ut_now());
    json_object *r = porg_call(ut_srv, o->admin, req_accept(a, dup));
    ck_assert_str_eq(porg_status(r), "already_exists");
    ck_assert_str_eq(porg_str(r, "reason"), "");
    json_object_put(r);
    assert_state(o, a, "SUBMITTED");
    pclient_device_free(dup);
    /* the email of an active user, then free once it is revoked */
    pclient_device_t *h1 = porg_user(ut_srv, o, o->admin, "h1@d", "STANDARD", "h@x.example", "H");
    pclient_device_t *h2 = ut_new_user(o, o->admin, "h2@card", "STANDARD", "h@x.example", ut_now());
    porg_expect_no_trace(ut_srv, o->admin, req_accept(a, h2), "already_exists", NULL);
    porg_revoke(ut_srv, o->admin, "h1");
    pclient_device_free(h2);
    /* outsiders refused by the organization */
    porg_patch_org(ut_srv, o->organization_id, "{\"user_profile_outsider_allowed\": false}");
    pclient_device_t *out = ut_new_user(o, o->admin, "out@card", "OUTSIDER", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, req_accept(a, out), "not_allowed", "Outsider");
    pclient_device_free(out);
    /* the active users limit (admin and std active, h1 revoked) */
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": 2}");
    porg_expect_no_trace(ut_srv, o->admin, req_accept(a, nu), "active_users_limit_reached", NULL);
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": 3}");
    h2 = ut_new_user(o, o->admin, "h2@card", "STANDARD", "h@x.example", ut_now());
    porg_expect(ut_srv, o->admin, req_accept(a, h2), "ok");
    pclient_device_free(h2);
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": null}");

    /* answered: neither accept nor reject again */
    porg_expect_no_trace(ut_srv, o->admin, req_accept(a, nu), "no_longer_available", NULL);
    porg_expect_no_trace(ut_srv, o->admin, req_id("pki_enrollment_reject", a),
                         "no_longer_available", NULL);
    uint8_t c[16], d[16];
    rl_id(c);
    rl_id(d);
    free(submit_ok(o, c, "cert c", false));
    porg_expect(ut_srv, o->admin, req_id("pki_enrollment_reject", c), "ok");
    porg_expect_no_trace(ut_srv, o->admin, req_id("pki_enrollment_reject", c),
                         "no_longer_available", NULL);
    porg_expect_no_trace(ut_srv, o->admin, req_accept(c, nu), "no_longer_available", NULL);
    /* ...and a rejected certificate may submit again */
    free(submit_ok(o, d, "cert c", false));
    /* cancelled by force: no longer available */
    uint8_t e[16];
    rl_id(e);
    free(submit_ok(o, e, "cert c", true));
    porg_expect_no_trace(ut_srv, o->admin, req_accept(d, nu), "no_longer_available", NULL);
    porg_expect(ut_srv, o->admin, req_accept(e, nu), "ok");

    pclient_device_free(nu);
    pclient_device_free(h1);
    pclient_device_free(std);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* One certificate through repeated cancel, reject, accept and revoke
 * cycles (test_pki_complete_sequence). */
START_TEST(complete_sequence)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    for (int round = 0; round < 2; round++) {
        uint8_t a[16], b[16], c[16], d[16];
        rl_id(a);
        rl_id(b);
        rl_id(c);
        rl_id(d);
        free(submit_ok(o, a, "the card", false));
        free(submit_ok(o, b, "the card", true));
        assert_state(o, a, "CANCELLED");
        porg_expect(ut_srv, o->admin, req_id("pki_enrollment_reject", b), "ok");
        free(submit_ok(o, c, "the card", false));
        char *dev = xasprintf("u%d@card", round);
        pclient_device_t *nu = ut_new_user(o, o->admin, dev, "STANDARD", NULL, ut_now());
        porg_expect(ut_srv, o->admin, req_accept(c, nu), "ok");
        anon_no_trace(o->organization_id, req_submit(d, "the card", NULL, true),
                      "already_enrolled");
        char *user = xasprintf("u%d", round);
        porg_revoke(ut_srv, o->admin, user);
        assert_state(o, c, "ACCEPTED");
        free(user);
        free(dev);
        pclient_device_free(nu);
    }
    porg_free(o);
}
END_TEST

/* Concurrent submissions of one certificate: the organization's lock lets
 * exactly one through, the others are told it is pending. */
#define SUBMITTERS 4

typedef struct {
    const char *org;
    pthread_barrier_t *start;
    char status[64];
} submitter_t;

static void *submitter(void *arg)
{
    submitter_t *s = arg;
    uint8_t id[16];
    rl_id(id);
    json_object *req = req_submit(id, "shared card", NULL, false);
    pthread_barrier_wait(s->start);
    pclient_resp_t r;
    pclient_cmd(porg_srv_url(ut_srv), "anonymous", s->org, NULL, req, &r);
    json_object_put(req);
    const char *st = r.status == 200 ? pclient_status(&r) : NULL;
    snprintf(s->status, sizeof s->status, "%s", st ? st : "(no status)");
    pclient_resp_free(&r);
    return NULL;
}

START_TEST(concurrent_submissions)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, SUBMITTERS);
    pthread_t th[SUBMITTERS];
    submitter_t s[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        s[i] = (submitter_t){o->organization_id, &start, ""};
        ck_assert_int_eq(pthread_create(&th[i], NULL, submitter, &s[i]), 0);
    }
    int ok = 0, pending = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(th[i], NULL);
        ok += !strcmp(s[i].status, "ok");
        pending += !strcmp(s[i].status, "already_submitted");
    }
    pthread_barrier_destroy(&start);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(pending, SUBMITTERS - 1);
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM pki_enrollment e JOIN organization o"
                                 " ON o._id = e.organization WHERE o.organization_id = $1",
                                 o->organization_id, NULL),
                     1);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_pki)
{
    Suite *s = suite_create("cmd_pki");
    TCase *tc = ut_tcase("pki");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, submit_info_list);
    tcase_add_test(tc, submit_refusals);
    tcase_add_test(tc, answer_refusals);
    tcase_add_test(tc, complete_sequence);
    tcase_add_test(tc, concurrent_submissions);
    suite_add_tcase(s, tc);
    return s;
}
