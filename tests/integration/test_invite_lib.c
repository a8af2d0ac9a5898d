/*
 * tests/integration/test_invite_lib.c - helpers of the invitation suites
 * (see test_invite_lib.h)
 */
#include "test_invite_lib.h"

#include "test_user_lib.h"

#include "xalloc.h"

#include <check.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const it_step_t it_greeter_steps[6] = {
    {"invite_1_greeter_wait_peer", "greeter_public_key", 32, 0, "claimer_public_key"},
    {"invite_2a_greeter_get_hashed_nonce", NULL, 0, 0, "claimer_hashed_nonce"},
    {"invite_2b_greeter_send_nonce", "greeter_nonce", 0, 1024, "claimer_nonce"},
    {"invite_3a_greeter_wait_peer_trust", NULL, 0, 0, NULL},
    {"invite_3b_greeter_signify_trust", NULL, 0, 0, NULL},
    {"invite_4_greeter_communicate", "payload", 0, 65536, "payload"},
};

const it_step_t it_claimer_steps[6] = {
    {"invite_1_claimer_wait_peer", "claimer_public_key", 32, 0, "greeter_public_key"},
    {"invite_2a_claimer_send_hashed_nonce", "claimer_hashed_nonce", 32, 0, "greeter_nonce"},
    {"invite_2b_claimer_send_nonce", "claimer_nonce", 0, 1024, NULL},
    {"invite_3a_claimer_signify_trust", NULL, 0, 0, NULL},
    {"invite_3b_claimer_wait_peer_trust", NULL, 0, 0, NULL},
    {"invite_4_claimer_communicate", "payload", 0, 65536, "payload"},
};

/* ---- invitations ---- */

json_object *it_invite_req(const char *type, const char *email, bool send_email)
{
    json_object *r = pclient_req("invite_new");
    json_object_object_add(r, "type", json_object_new_string(type));
    if (email)
        json_object_object_add(r, "claimer_email", json_object_new_string(email));
    json_object_object_add(r, "send_email", json_object_new_boolean(send_email));
    return r;
}

char *it_invite(const porg_srv_t *s, const pclient_device_t *dev, const char *type,
                const char *email)
{
    json_object *rep = porg_call(s, dev, it_invite_req(type, email, false));
    ck_assert_msg(!strcmp(porg_status(rep), "ok"), "invite_new %s: %s", type,
                  json_object_to_json_string(rep));
    const char *tok = porg_str(rep, "token");
    ck_assert_ptr_nonnull(tok);
    ck_assert_uint_eq(strlen(tok), 32);
    json_object *sent;
    ck_assert(json_object_object_get_ex(rep, "email_sent", &sent));
    ck_assert_ptr_null(sent);
    char *out = xstrdup(tok);
    json_object_put(rep);
    return out;
}

json_object *it_delete_req(const char *token, const char *reason)
{
    json_object *r = pclient_req("invite_delete");
    json_object_object_add(r, "token", json_object_new_string(token));
    json_object_object_add(r, "reason", json_object_new_string(reason));
    return r;
}

json_object *it_greeter_req(int i, const char *token, const void *data, size_t len)
{
    json_object *r = pclient_req(it_greeter_steps[i].cmd);
    json_object_object_add(r, "token", json_object_new_string(token));
    if (it_greeter_steps[i].in)
        json_object_object_add(r, it_greeter_steps[i].in, pclient_json_bytes(data, len));
    return r;
}

json_object *it_claimer_req(int i, const void *data, size_t len)
{
    json_object *r = pclient_req(it_claimer_steps[i].cmd);
    if (it_claimer_steps[i].in)
        json_object_object_add(r, it_claimer_steps[i].in, pclient_json_bytes(data, len));
    return r;
}

/* ---- the invited route ---- */

void it_claim_http(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                   pclient_resp_t *out)
{
    pclient_opts_t o = {.invitation_token = token};
    bool came = pclient_cmd_ex(porg_srv_url(s), "invited", org, NULL, &o, req, out);
    json_object_put(req);
    ck_assert_msg(came, "no answer from %s", porg_srv_url(s));
}

json_object *it_claim(const porg_srv_t *s, const char *org, const char *token, json_object *req)
{
    pclient_resp_t r;
    char *cmd = xstrdup(porg_str(req, "cmd") ? porg_str(req, "cmd") : "?");
    it_claim_http(s, org, token, req, &r);
    ck_assert_msg(r.status == 200 && r.json && pclient_status(&r), "%s: HTTP %ld %s", cmd, r.status,
                  r.body);
    json_object *reply = json_object_get(r.json);
    pclient_resp_free(&r);
    free(cmd);
    return reply;
}

json_object *it_claim_expect(const porg_srv_t *s, const char *org, const char *token,
                             json_object *req, const char *status)
{
    char *cmd = xstrdup(porg_str(req, "cmd") ? porg_str(req, "cmd") : "?");
    json_object *reply = it_claim(s, org, token, req);
    ck_assert_msg(!strcmp(porg_status(reply), status), "%s: expected %s, got %s", cmd, status,
                  json_object_to_json_string(reply));
    free(cmd);
    return reply;
}

void it_claim_no_trace(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                       const char *status, const char *needle)
{
    char *before = porg_fingerprint(s);
    json_object *reply = it_claim_expect(s, org, token, req, status);
    if (needle) {
        const char *field = porg_str(reply, "field");
        ck_assert_msg(field && !strcmp(field, needle), "expected field %s: %s", needle,
                      json_object_to_json_string(reply));
    }
    json_object_put(reply);
    char *after = porg_fingerprint(s);
    ck_assert_msg(!strcmp(before, after), "a refused invited request changed the database");
    free(before);
    free(after);
}

void it_claim_error(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                    long http, const char *error)
{
    pclient_resp_t r;
    it_claim_http(s, org, token, req, &r);
    ck_assert_msg(r.status == http, "expected HTTP %ld, got %ld %s", http, r.status, r.body);
    ck_assert_msg(r.json && porg_str(r.json, "error") && !strcmp(porg_str(r.json, "error"), error),
                  "expected error %s: %s", error, r.body);
    pclient_resp_free(&r);
}

/* ---- replies ---- */

uint8_t *it_bytes(json_object *reply, const char *name, size_t *len)
{
    const char *b64 = porg_str(reply, name);
    ck_assert_msg(b64 != NULL, "no %s in %s", name, json_object_to_json_string(reply));
    size_t n = strlen(b64);
    uint8_t *out = xmalloc(n / 4 * 3 + 4);
    int got = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    ck_assert_int_ge(got, 0);
    size_t pad = (n >= 1 && b64[n - 1] == '=') + (n >= 2 && b64[n - 2] == '=');
    *len = (size_t)got - pad;
    return out;
}

/* ---- SQL ---- */

char *it_column(const char *token, const char *expr)
{
    char *sql = xasprintf("SELECT %s FROM invitation i WHERE i.token = $1::uuid", expr);
    char *v = ut_sql(sql, token, NULL);
    free(sql);
    return v;
}

/* ---- events ---- */

PGconn *it_listen(const porg_srv_t *s)
{
    PGconn *pg = porg_pg(s);
    PGresult *res = PQexec(pg, "LISTEN parsec_events");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    return pg;
}

json_object *it_next_event(PGconn *pg, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *n = PQnotifies(pg);
        if (n) {
            json_object *o = json_tokener_parse(n->extra);
            PQfreemem(n);
            ck_assert_ptr_nonnull(o);
            return o;
        }
        if (waited >= timeout_ms)
            return NULL;
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
        poll(&p, 1, 20);
    }
}

json_object *it_expect_event(PGconn *pg, const char *t, const char *greeter, const char *token,
                             const char *status)
{
    json_object *e = it_next_event(pg, 5000);
    ck_assert_msg(e != NULL, "no %s event", t);
    const char *got = porg_str(e, "t");
    ck_assert_msg(got && !strcmp(got, t), "expected %s, got %s", t, json_object_to_json_string(e));
    ck_assert_str_eq(porg_str(e, "greeter"), greeter);
    ck_assert_str_eq(porg_str(e, "token"), token);
    if (status)
        ck_assert_str_eq(porg_str(e, "status"), status);
    return e;
}

void it_expect_no_event(PGconn *pg, int timeout_ms)
{
    json_object *e = it_next_event(pg, timeout_ms);
    ck_assert_msg(e == NULL, "unexpected event %s", e ? json_object_to_json_string(e) : "");
}

void it_ndt_dev(const porg_t *o, const pclient_device_t *dev, ndt_dev_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->org, sizeof out->org, "%s", o->organization_id);
    snprintf(out->device_id, sizeof out->device_id, "%s", dev->device_id);
    out->key = dev->key;
    memcpy(out->rvk, o->root.pub, 32);
}
