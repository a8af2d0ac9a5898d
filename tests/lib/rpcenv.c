/*
 * tests/lib/rpcenv.c - database + web server + worker for RPC tests
 * (see rpcenv.h)
 */
#include "rpcenv.h"

#include "testenv.h"

#include <check.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long the workers may take to reach the database: 20 s. */
#define RPCENV_READY_TRIES    400
#define RPCENV_READY_PAUSE_US (50 * 1000)

static rpcenv_t *g_env; /* stopped at exit if a test dies first */

static void at_exit(void)
{
    if (g_env) {
        websrv_stop(g_env->w);
        PQfinish(g_env->pg);
        g_env = NULL;
    }
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    int n = vasprintf(&s, f, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return s;
}

bool rpcenv_serve(websrv_kind kind, const char *db, const char *const *extra_env, websrv_t **w,
                  long *status)
{
    const char *env[32];
    size_t n = 0;
    char *dbv = fmt("PARSEC_DB=%s", db);
    env[n++] = dbv;
    env[n++] = "PARSEC_DB_MIN_CONNECTIONS=1";
    env[n++] = "PARSEC_DB_MAX_CONNECTIONS=4";
    env[n++] = "PARSEC_LOG_LEVEL=INFO";
    for (size_t i = 0; extra_env && extra_env[i] && n < 31; i++)
        env[n++] = extra_env[i];
    env[n] = NULL;
    *w = websrv_start(kind, env, NULL);
    free(dbv);
    *status = 0;
    if (!*w)
        return false;

    /* The workers open their pools in the background (503 until then); an
     * unknown organization answers 404 once the database is reached. */
    for (int i = 0; i < RPCENV_READY_TRIES && *status != 404; i++) {
        json_object *req = pclient_req("ping");
        json_object_object_add(req, "ping", json_object_new_string("x"));
        pclient_resp_t r;
        pclient_cmd(websrv_url(*w), "anonymous", "NoSuchOrgAtAll", NULL, req, &r);
        *status = r.status;
        pclient_resp_free(&r);
        json_object_put(req);
        if (*status != 404)
            usleep(RPCENV_READY_PAUSE_US);
    }
    return *status == 404;
}

void rpcenv_start(rpcenv_t *e, websrv_kind kind, const char *const *extra_env)
{
    static bool registered;
    memset(e, 0, sizeof *e);
    if (!registered)
        registered = atexit(at_exit) == 0;
    g_env = e;
    e->db = testenv_db_create();
    e->pg = testenv_pg_connect(e->db);

    long status;
    bool ready = rpcenv_serve(kind, e->db, extra_env, &e->w, &status);
    ck_assert_msg(e->w != NULL, "%s did not start", websrv_kind_name(kind));
    e->url = websrv_url(e->w);
    if (!ready)
        rpcenv_dump_log(e);
    ck_assert_msg(ready, "%s: the worker never reached the database (%ld)", websrv_kind_name(kind),
                  status);
}

bool rpcenv_shutdown(rpcenv_t *e)
{
    g_env = NULL;
    bool clean = websrv_stop(e->w);
    e->w = NULL;
    PQfinish(e->pg);
    e->pg = NULL;
    if (e->db)
        testenv_db_drop(e->db);
    free(e->db);
    e->db = NULL;
    return clean;
}

void rpcenv_stop(rpcenv_t *e)
{
    bool clean = rpcenv_shutdown(e);
    ck_assert_msg(clean, "the web server did not stop cleanly");
}

void rpcenv_dump_log(rpcenv_t *e)
{
    char *log = websrv_error_log(e->w);
    fprintf(stderr, "---- %s error log ----\n%s\n----\n", e->url, log ? log : "(none)");
    free(log);
}

void rpcenv_explain(const pclient_resp_t *r)
{
    fprintf(stderr, "unexpected answer: %ld %s\n", r->status, r->body);
    if (g_env)
        rpcenv_dump_log(g_env);
}

void rpcenv_assert_status(const pclient_resp_t *r, long http, const char *status)
{
    if (r->status != http || (status && (!pclient_status(r) || strcmp(pclient_status(r), status))))
        rpcenv_explain(r);
    ck_assert_int_eq(r->status, http);
    if (status)
        ck_assert_str_eq(pclient_status(r), status);
}

char *rpcenv_sql(rpcenv_t *e, const char *sql, ...)
{
    const char *values[16];
    int n = 0;
    va_list ap;
    va_start(ap, sql);
    for (const char *v; (v = va_arg(ap, const char *)) != NULL && n < 16;)
        values[n++] = v;
    va_end(ap);
    PGresult *res = PQexecParams(e->pg, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "SQL failed: %s\n%s",
                  PQresultErrorMessage(res), sql);
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

char *rpcenv_create_org(rpcenv_t *e, const char *org_id)
{
    uint8_t raw[32];
    ck_assert_int_eq(RAND_bytes(raw, sizeof raw), 1);
    char *token = malloc(65);
    ck_assert_ptr_nonnull(token);
    for (int i = 0; i < 32; i++)
        sprintf(token + 2 * i, "%02x", raw[i]);
    free(rpcenv_sql(e,
                    "INSERT INTO organization (organization_id, bootstrap_token,"
                    " created_by_administration) VALUES ($1, $2, TRUE)",
                    org_id, token, NULL));
    return token;
}

pclient_device_t *rpcenv_bootstrap(rpcenv_t *e, const char *org_id, pclient_key_t *root_out)
{
    char *token = rpcenv_create_org(e, org_id);
    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *d =
        pclient_user_new(org_id, "alice@dev1", "ADMIN", "alice@example.com", "Alice",
                         "Alice's laptop", NULL, &root, pclient_now_us());
    pclient_resp_t r;
    rpcenv_cmd(e, "anonymous", org_id, NULL, pclient_req_bootstrap(token, &root, d), &r);
    if (r.status != 200 || !pclient_status(&r) || strcmp(pclient_status(&r), "ok") != 0) {
        fprintf(stderr, "bootstrap of %s: %ld %s\n", org_id, r.status, r.body);
        rpcenv_dump_log(e);
    }
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(pclient_status(&r), "ok");
    pclient_resp_free(&r);
    free(token);
    if (root_out)
        *root_out = root;
    return d;
}

/* One row with binary bytea parameters; returns the new row's _id. */
static long insert_binary(rpcenv_t *e, const char *sql, int n, const char *const *values,
                          const int *lengths, const int *formats)
{
    PGresult *res = PQexecParams(e->pg, sql, n, NULL, values, lengths, formats, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
                  "insert failed: %s", PQresultErrorMessage(res));
    long id = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

pclient_device_t *rpcenv_add_user(rpcenv_t *e, const char *org_id, const char *device_id,
                                  const char *profile, const char *email,
                                  const pclient_device_t *certifier, const pclient_key_t *root)
{
    ck_assert(certifier || root);
    char *label = NULL;
    if (email) {
        label = strdup(email);
        char *at = strchr(label, '@');
        if (at)
            *at = '\0';
    }
    int64_t now = pclient_now_us();
    pclient_device_t *d =
        pclient_user_new(org_id, device_id, profile, email, label, NULL, certifier, root, now);
    free(label);

    char *org =
        rpcenv_sql(e, "SELECT _id FROM organization WHERE organization_id = $1", org_id, NULL);
    ck_assert_ptr_nonnull(org);
    char *certif = certifier ? rpcenv_sql(e,
                                          "SELECT d._id FROM device d JOIN organization o ON"
                                          " o._id = d.organization WHERE o.organization_id = $1"
                                          " AND d.device_id = $2",
                                          org_id, certifier->device_id, NULL)
                             : NULL;
    char *created = pclient_datetime(now);
    const char *uv[9] = {org,
                         d->user_id,
                         profile,
                         d->human_email,
                         d->human_label,
                         (const char *)d->user_certificate.data,
                         (const char *)d->redacted_user_certificate.data,
                         certif,
                         created};
    int ul[9] = {0, 0, 0, 0, 0, (int)d->user_certificate.len, (int)d->redacted_user_certificate.len,
                 0, 0};
    int uf[9] = {0, 0, 0, 0, 0, 1, 1, 0, 0};
    long user = insert_binary(e,
                              "INSERT INTO user_ (organization, user_id, profile, human_email,"
                              " human_label, user_certificate, redacted_user_certificate,"
                              " user_certifier, created_on) VALUES ($1::integer, $2, $3, $4, $5,"
                              " $6::bytea, $7::bytea, $8::integer, $9::timestamptz) RETURNING _id",
                              9, uv, ul, uf);
    char *user_s = fmt("%ld", user);
    const char *dv[8] = {org,
                         user_s,
                         d->device_id,
                         (const char *)d->key.pub,
                         (const char *)d->device_certificate.data,
                         (const char *)d->redacted_device_certificate.data,
                         certif,
                         created};
    int dl[8] = {
        0, 0, 0, 32, (int)d->device_certificate.len, (int)d->redacted_device_certificate.len, 0, 0};
    int df[8] = {0, 0, 0, 1, 1, 1, 0, 0};
    insert_binary(e,
                  "INSERT INTO device (organization, user_, device_id, verify_key,"
                  " device_certificate, redacted_device_certificate, device_certifier,"
                  " created_on) VALUES ($1::integer, $2::integer, $3, $4::bytea, $5::bytea,"
                  " $6::bytea, $7::integer, $8::timestamptz) RETURNING _id",
                  8, dv, dl, df);
    free(user_s);
    free(created);
    free(certif);
    free(org);
    return d;
}

void rpcenv_revoke(rpcenv_t *e, const char *org_id, const char *user_id)
{
    free(rpcenv_sql(e,
                    "UPDATE user_ SET revoked_on = clock_timestamp(),"
                    " revoked_user_certificate = '\\x00'::bytea"
                    " WHERE user_id = $2 AND organization ="
                    " (SELECT _id FROM organization WHERE organization_id = $1)",
                    org_id, user_id, NULL));
}

void rpcenv_cmd_ex(rpcenv_t *e, const char *family, const char *org_id, const pclient_device_t *dev,
                   const pclient_opts_t *opts, json_object *req, pclient_resp_t *out)
{
    bool answered = pclient_cmd_ex(e->url, family, org_id, dev, opts, req, out);
    json_object_put(req);
    ck_assert_msg(answered, "no HTTP answer from %s", e->url);
}

void rpcenv_cmd(rpcenv_t *e, const char *family, const char *org_id, const pclient_device_t *dev,
                json_object *req, pclient_resp_t *out)
{
    rpcenv_cmd_ex(e, family, org_id, dev, NULL, req, out);
}

const char *rpcenv_str(const pclient_resp_t *r, const char *name)
{
    json_object *v;
    if (!r->json || !json_object_object_get_ex(r->json, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}
