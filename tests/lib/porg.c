/*
 * tests/lib/porg.c - organizations for protocol tests (see porg.h)
 */
#include "porg.h"

#include "rpcenv.h"
#include "testenv.h"
#include "xalloc.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct porg_srv {
    char *db;
    websrv_t *w;
};

static json_object *parse_json(const void *body, size_t len)
{
    if (!body || len == 0)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success && o) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* ---- the server ---- */

porg_srv_t *porg_srv_start(websrv_kind kind, const char *const *extra_env)
{
    if (!testenv_db_setup()) {
        fprintf(stderr, "porg: no PostgreSQL for the tests\n");
        exit(2);
    }
    porg_srv_t *s = xcalloc(1, sizeof *s);
    s->db = testenv_db_create();
    size_t nextra = 0;
    while (extra_env && extra_env[nextra])
        nextra++;
    const char **env = xcalloc(nextra + 2, sizeof *env);
    env[0] = "PARSEC_ADMINISTRATION_TOKEN=" PORG_ADMIN_TOKEN;
    for (size_t i = 0; i < nextra; i++)
        env[1 + i] = extra_env[i];
    long status;
    bool ready = rpcenv_serve(kind, s->db, env, &s->w, &status);
    free(env);
    if (!s->w) {
        fprintf(stderr, "porg: %s did not start\n", websrv_kind_name(kind));
        exit(2);
    }
    if (!ready) {
        char *log = websrv_error_log(s->w);
        fprintf(stderr, "porg: the worker never reached the database (%ld)\n%s\n", status,
                log ? log : "");
        free(log);
        porg_srv_stop(s);
        exit(2);
    }
    return s;
}

bool porg_srv_stop(porg_srv_t *s)
{
    if (!s)
        return true;
    bool ok = websrv_stop(s->w);
    testenv_db_drop(s->db);
    free(s->db);
    free(s);
    return ok;
}

const char *porg_srv_url(const porg_srv_t *s)
{
    return websrv_url(s->w);
}

const char *porg_srv_db(const porg_srv_t *s)
{
    return s->db;
}

websrv_t *porg_srv_websrv(const porg_srv_t *s)
{
    return s->w;
}

PGconn *porg_pg(const porg_srv_t *s)
{
    return testenv_pg_connect(s->db);
}

char *porg_org_id(const char *prefix)
{
    uint8_t id[16];
    pclient_uuid_random(id);
    char *hex = pclient_uuid_hex(id);
    char *out = xasprintf("%.19s-%.12s", prefix ? prefix : "Org", hex);
    free(hex);
    return out;
}

/* ---- the administration API ---- */

json_object *porg_admin(const porg_srv_t *s, const char *method, const char *org_id,
                        const char *suffix, const char *body, long *status)
{
    char *path = xasprintf("/administration/organizations%s%s%s", org_id ? "/" : "",
                           org_id ? org_id : "", suffix ? suffix : "");
    char *url = websrv_urlf(s->w, path);
    const char *hdrs[] = {"Authorization: Bearer " PORG_ADMIN_TOKEN,
                          body ? "Content-Type: application/json" : NULL, NULL};
    http_result_t *res = testhttp_request(method, url, hdrs, body, body ? strlen(body) : 0);
    *status = res->status;
    json_object *o = parse_json(res->body, res->body_len);
    testhttp_free(res);
    free(url);
    free(path);
    return o;
}

char *porg_create_org(const porg_srv_t *s, const char *org_id, const char *extra_fields)
{
    char *body =
        xasprintf("{\"organization_id\": \"%s\"%s}", org_id, extra_fields ? extra_fields : "");
    long status;
    json_object *r = porg_admin(s, "POST", NULL, NULL, body, &status);
    json_object *tok;
    if (status != 200 || !r || !json_object_object_get_ex(r, "bootstrap_token", &tok) ||
        !json_object_is_type(tok, json_type_string))
        ck_abort_msg("porg: creating %s answered %ld %s", org_id, status,
                     r ? json_object_to_json_string(r) : "(no JSON)");
    char *token = xstrdup(json_object_get_string(tok));
    json_object_put(r);
    free(body);
    return token;
}

void porg_patch_org(const porg_srv_t *s, const char *org_id, const char *body)
{
    long status;
    json_object *r = porg_admin(s, "PATCH", org_id, NULL, body, &status);
    if (status != 200)
        ck_abort_msg("porg: PATCH %s %s answered %ld %s", org_id, body, status,
                     r ? json_object_to_json_string(r) : "(no JSON)");
    if (r)
        json_object_put(r);
}

/* ---- organizations ---- */

porg_t *porg_bootstrap_ex(const porg_srv_t *s, const char *org_id, const char *extra_fields)
{
    porg_t *o = xcalloc(1, sizeof *o);
    o->organization_id = org_id ? xstrdup(org_id) : porg_org_id(NULL);
    char *token = porg_create_org(s, o->organization_id, extra_fields);
    pclient_key_generate(&o->root);
    char *email = xasprintf("admin@%s.example.com", o->organization_id);
    for (char *p = email; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    o->admin = pclient_user_new(o->organization_id, "admin@dev1", "ADMIN", email, "Admin",
                                "Admin's laptop", NULL, &o->root, pclient_now_us());
    free(email);
    json_object *req = pclient_req_bootstrap(token, &o->root, o->admin);
    free(token);
    pclient_resp_t r;
    pclient_cmd(porg_srv_url(s), "anonymous", o->organization_id, NULL, req, &r);
    json_object_put(req);
    if (r.status != 200 || !pclient_status(&r) || strcmp(pclient_status(&r), "ok") != 0)
        ck_abort_msg("porg: organization_bootstrap of %s answered %ld %s", o->organization_id,
                     r.status, r.body);
    pclient_resp_free(&r);
    return o;
}

porg_t *porg_bootstrap(const porg_srv_t *s, const char *org_id)
{
    return porg_bootstrap_ex(s, org_id, NULL);
}

void porg_free(porg_t *o)
{
    if (!o)
        return;
    free(o->organization_id);
    pclient_device_free(o->admin);
    free(o);
}

pclient_device_t *porg_user(const porg_srv_t *s, const porg_t *o, const pclient_device_t *certifier,
                            const char *device_id, const char *profile, const char *email,
                            const char *label)
{
    char *dlabel = xasprintf("%s label", device_id);
    pclient_device_t *d = pclient_user_new(o->organization_id, device_id, profile, email, label,
                                           dlabel, certifier, NULL, pclient_now_us());
    free(dlabel);
    porg_expect(s, certifier, pclient_req_user_create(d), "ok");
    return d;
}

pclient_device_t *porg_device(const porg_srv_t *s, const pclient_device_t *user,
                              const char *device_name)
{
    char *dlabel = xasprintf("%s@%s label", user->user_id, device_name);
    pclient_device_t *d = pclient_device_new(user, device_name, dlabel, user, pclient_now_us());
    free(dlabel);
    porg_expect(s, user, pclient_req_device_create(d), "ok");
    return d;
}

void porg_revoke(const porg_srv_t *s, const pclient_device_t *author, const char *user_id)
{
    porg_expect(s, author, pclient_req_user_revoke(author, user_id, pclient_now_us()), "ok");
}

/* ---- commands ---- */

static json_object *checked_reply(pclient_resp_t *r, const char *what)
{
    json_object *st;
    if (r->status != 200 || !r->json || !json_object_is_type(r->json, json_type_object) ||
        !json_object_object_get_ex(r->json, "status", &st) ||
        !json_object_is_type(st, json_type_string))
        ck_abort_msg("porg: %s answered HTTP %ld: %s", what, r->status, r->body);
    json_object *reply = json_object_get(r->json);
    pclient_resp_free(r);
    return reply;
}

json_object *porg_call(const porg_srv_t *s, const pclient_device_t *dev, json_object *req)
{
    char what[160];
    const char *cmd = porg_str(req, "cmd");
    snprintf(what, sizeof what, "%s by %s", cmd ? cmd : "request", dev->device_id);
    pclient_resp_t r;
    pclient_cmd(porg_srv_url(s), "authenticated", dev->organization_id, dev, req, &r);
    json_object_put(req);
    return checked_reply(&r, what);
}

json_object *porg_call_raw(const porg_srv_t *s, const pclient_device_t *dev, const char *body,
                           size_t len)
{
    char *url = xasprintf("%s/authenticated/%s", porg_srv_url(s), dev->organization_id);
    char *auth = pclient_auth_header(dev, pclient_now_us() / 1000000);
    char *auth_h = xasprintf("Authorization: %s", auth);
    const char *hdrs[] = {"Api-Version: 3.2", "Content-Type: application/json", auth_h, NULL};
    pclient_resp_t r;
    pclient_http_post(url, hdrs, body, len, &r);
    free(auth_h);
    free(auth);
    free(url);
    return checked_reply(&r, "raw request");
}

const char *porg_status(json_object *reply)
{
    return porg_str(reply, "status");
}

const char *porg_str(json_object *reply, const char *name)
{
    json_object *v;
    if (!reply || !json_object_object_get_ex(reply, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

void porg_expect_reason(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                        const char *status, const char *needle)
{
    char *cmd = xstrdup(porg_str(req, "cmd") ? porg_str(req, "cmd") : "?");
    json_object *reply = porg_call(s, dev, req);
    const char *got = porg_status(reply);
    bool ok = strcmp(got, status) == 0;
    if (ok && needle) {
        const char *where = strcmp(status, "bad_message") == 0 ? porg_str(reply, "field")
                                                               : porg_str(reply, "reason");
        ok = where && (strcmp(status, "bad_message") == 0 ? strcmp(where, needle) == 0
                                                          : strstr(where, needle) != NULL);
    }
    if (!ok)
        ck_abort_msg("porg: %s by %s: expected %s%s%s, got %s", cmd, dev->device_id, status,
                     needle ? " with " : "", needle ? needle : "",
                     json_object_to_json_string(reply));
    json_object_put(reply);
    free(cmd);
}

void porg_expect(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                 const char *status)
{
    porg_expect_reason(s, dev, req, status, NULL);
}

char *porg_fingerprint(const porg_srv_t *s)
{
    /* One round trip: each table's rows as XML, in a stable order. */
    static const char sql[] =
        "SELECT md5(string_agg(query_to_xml(format('SELECT * FROM %I t ORDER BY t::text',"
        " tablename), false, false, '')::text, '' ORDER BY tablename))"
        " FROM pg_tables WHERE schemaname = 'public'";
    PGconn *pg = porg_pg(s);
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        ck_abort_msg("porg: fingerprint: %s", PQerrorMessage(pg));
    char *out = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(pg);
    return out;
}

void porg_expect_no_trace(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                          const char *status, const char *needle)
{
    char *before = porg_fingerprint(s);
    porg_expect_reason(s, dev, req, status, needle);
    char *after = porg_fingerprint(s);
    ck_assert_msg(strcmp(before, after) == 0, "porg: a refused %s changed the database", status);
    free(before);
    free(after);
}
