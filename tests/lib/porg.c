/*
 * tests/lib/porg.c - the fixture of protocol suites: servers, organizations,
 * requests (see porg.h)
 */
#include "porg.h"

#include "strbuf.h"
#include "testenv.h"
#include "xalloc.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long the workers may take to reach the database: 20 s. */
#define PORG_READY_TRIES    400
#define PORG_READY_PAUSE_US (50 * 1000)

struct porg_srv {
    char *db;
    websrv_t *w;
    PGconn *pg;                  /* porg_conn's, opened by the running test */
    websrv_log_mark_t test_mark; /* the logs when the running test began */
    porg_srv_t *next;            /* the live servers of this process */
};

static porg_srv_t *g_live;

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

/* The workers' environment: porg's settings, then extra_env's, an entry
 * replacing the setting of the same name and "NAME" alone removing it.
 * NULL-terminated, every string malloc'd (free_env). */
static char **worker_env(const char *db, const char *const *extra_env)
{
    size_t nextra = 0;
    while (extra_env && extra_env[nextra])
        nextra++;
    char **env = xcalloc(nextra + 6, sizeof *env);
    size_t n = 0;
    env[n++] = xasprintf("PARSEC_DB=%s", db);
    env[n++] = xstrdup("PARSEC_DB_MIN_CONNECTIONS=1");
    env[n++] = xstrdup("PARSEC_DB_MAX_CONNECTIONS=4");
    env[n++] = xstrdup("PARSEC_LOG_LEVEL=INFO");
    env[n++] = xstrdup("PARSEC_ADMINISTRATION_TOKEN=" PORG_ADMIN_TOKEN);
    for (size_t i = 0; i < nextra; i++) {
        const char *eq = strchr(extra_env[i], '=');
        size_t name_len = eq ? (size_t)(eq - extra_env[i]) : strlen(extra_env[i]);
        for (size_t k = 0; k < n; k++) {
            if (strncmp(env[k], extra_env[i], name_len) == 0 && env[k][name_len] == '=') {
                free(env[k]);
                memmove(&env[k], &env[k + 1], (n - k - 1) * sizeof *env);
                n--;
                break;
            }
        }
        if (eq)
            env[n++] = xstrdup(extra_env[i]);
    }
    env[n] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

/* The workers open their pools in the background (503 until then); an
 * unknown organization answers 404 once the database is reached.  Returns
 * the last status seen (404: ready). */
static long wait_ready(const websrv_t *w)
{
    long status = 0;
    for (int i = 0; i < PORG_READY_TRIES && status != 404; i++) {
        json_object *req = pclient_req("ping");
        json_object_object_add(req, "ping", json_object_new_string("x"));
        pclient_resp_t r;
        pclient_cmd(websrv_url(w), "anonymous", "NoSuchOrgAtAll", NULL, req, &r);
        status = r.status;
        pclient_resp_free(&r);
        json_object_put(req);
        if (status != 404)
            usleep(PORG_READY_PAUSE_US);
    }
    return status;
}

porg_srv_t *porg_srv_start(websrv_kind kind, const char *const *extra_env)
{
    if (!testenv_db_setup())
        ck_abort_msg("porg: no PostgreSQL for the tests");
    porg_srv_t *s = xcalloc(1, sizeof *s);
    s->db = testenv_db_create();
    char **env = worker_env(s->db, extra_env);
    s->w = websrv_start(kind, (const char *const *)env, NULL);
    free_env(env);
    if (!s->w) {
        porg_srv_stop(s);
        ck_abort_msg("porg: %s did not start", websrv_kind_name(kind));
    }
    s->next = g_live;
    g_live = s;
    long status = wait_ready(s->w);
    if (status != 404) {
        char *log = websrv_error_log(s->w);
        fprintf(stderr, "porg: %s logs:\n%s\n", websrv_kind_name(kind), log ? log : "(none)");
        free(log);
        porg_srv_stop(s);
        ck_abort_msg("porg: %s: the workers never reached the database (last answer %ld)",
                     websrv_kind_name(kind), status);
    }
    return s;
}

porg_srv_t *porg_srv_start_mail(websrv_kind kind, int port, const char *lang,
                                const char *const *extra_env)
{
    size_t nextra = 0;
    while (extra_env && extra_env[nextra])
        nextra++;
    char *p = xasprintf("PARSEC_EMAIL_PORT=%d", port);
    char *l = lang ? xasprintf("PARSEC_EMAIL_LANGUAGE=%s", lang) : NULL;
    const char **env = xcalloc(nextra + 8, sizeof *env);
    size_t n = 0;
    env[n++] = "PARSEC_EMAIL_HOST=127.0.0.1";
    env[n++] = p;
    if (l)
        env[n++] = l;
    env[n++] = "PARSEC_EMAIL_SENDER=Parsec <no-reply@parsec.test>";
    env[n++] = "PARSEC_BACKEND_ADDR=parsec://parsec.test:6777?no_ssl=true";
    env[n++] = "PARSEC_EMAIL_CONNECT_TIMEOUT=5";
    env[n++] = "PARSEC_EMAIL_TIMEOUT=20";
    for (size_t i = 0; i < nextra; i++)
        env[n++] = extra_env[i];
    env[n] = NULL;
    porg_srv_t *s = porg_srv_start(kind, env);
    free(env);
    free(p);
    free(l);
    return s;
}

bool porg_srv_stop(porg_srv_t *s)
{
    if (!s)
        return true;
    for (porg_srv_t **p = &g_live; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    if (s->pg)
        PQfinish(s->pg);
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

/* ---- test cases ---- */

/* Check's fixtures take no argument: one pair of functions per slot, each
 * starting or stopping the server its slot describes. */
#define PORG_SLOTS 160
static struct {
    const char *name;
    porg_srv_t **srv;
    websrv_kind kind;
    const char *const *env;
} g_slots[PORG_SLOTS];
static int g_nslots;

static void slot_up(int i)
{
    *g_slots[i].srv = porg_srv_start(g_slots[i].kind, g_slots[i].env);
}

static void slot_down(int i)
{
    porg_srv_t *s = *g_slots[i].srv;
    *g_slots[i].srv = NULL;
    if (!porg_srv_stop(s)) {
        /* websrv_stop said what was left behind: that fails the run. */
        fprintf(stderr, "porg: the server of test case \"%s\" did not stop cleanly\n",
                g_slots[i].name);
        exit(EXIT_FAILURE);
    }
}

/* Slot 10 * d + k is slot_up_d_k / slot_down_d_k. */
/* clang-format off */
#define X(d, k)                                                                \
    static void slot_up_##d##_##k(void) { slot_up(10 * (d) + (k)); }           \
    static void slot_down_##d##_##k(void) { slot_down(10 * (d) + (k)); }
#define DECADE(d)                                                              \
    X(d, 0) X(d, 1) X(d, 2) X(d, 3) X(d, 4) X(d, 5) X(d, 6) X(d, 7) X(d, 8) X(d, 9)
#define SLOT_LIST                                                              \
    DECADE(0) DECADE(1) DECADE(2) DECADE(3) DECADE(4) DECADE(5) DECADE(6)      \
    DECADE(7) DECADE(8) DECADE(9) DECADE(10) DECADE(11) DECADE(12) DECADE(13)  \
    DECADE(14) DECADE(15)
SLOT_LIST
#undef X
#define X(d, k) {slot_up_##d##_##k, slot_down_##d##_##k},
static const struct {
    void (*up)(void);
    void (*down)(void);
} g_slot_fns[PORG_SLOTS] = {SLOT_LIST};
/* clang-format on */
#undef X
#undef SLOT_LIST
#undef DECADE

/* Checked fixtures: in the test's process, around each test. */
static void test_begins(void)
{
    for (porg_srv_t *s = g_live; s; s = s->next)
        s->test_mark = websrv_log_mark(s->w);
}

static void test_ends(void)
{
    for (porg_srv_t *s = g_live; s; s = s->next) {
        if (s->pg)
            PQfinish(s->pg);
        s->pg = NULL;
    }
}

TCase *porg_tcase(const char *name, porg_srv_t **srv, websrv_kind kind,
                  const char *const *extra_env)
{
    if (g_nslots == PORG_SLOTS) {
        fprintf(stderr, "porg: more than %d test cases in one process\n", PORG_SLOTS);
        exit(2);
    }
    int i = g_nslots++;
    g_slots[i].name = name;
    g_slots[i].srv = srv;
    g_slots[i].kind = kind;
    g_slots[i].env = extra_env;
    *srv = NULL;
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, g_slot_fns[i].up, g_slot_fns[i].down);
    tcase_add_checked_fixture(tc, test_begins, test_ends);
    tcase_set_timeout(tc, 120);
    return tc;
}

/* ---- the server's log ---- */

char *porg_log(const porg_srv_t *s)
{
    return porg_log_since(s, &s->test_mark);
}

websrv_log_mark_t porg_log_mark(const porg_srv_t *s)
{
    return websrv_log_mark(s->w);
}

char *porg_log_since(const porg_srv_t *s, const websrv_log_mark_t *mark)
{
    char *log = websrv_error_log_since(s->w, mark);
    return log ? log : xstrdup("");
}

/* ---- SQL ---- */

PGconn *porg_conn(const porg_srv_t *s)
{
    porg_srv_t *cache = (porg_srv_t *)s; /* the connection is a cache: s is logically const */
    if (!cache->pg)
        cache->pg = testenv_pg_connect(s->db);
    return cache->pg;
}

PGconn *porg_pg(const porg_srv_t *s)
{
    return testenv_pg_connect(s->db);
}

char *porg_vsql(const porg_srv_t *s, const char *sql, va_list ap)
{
    const char *values[16];
    int n = 0;
    for (const char *v; (v = va_arg(ap, const char *)) != NULL;) {
        if (n == 16)
            ck_abort_msg("porg: more than 16 SQL parameters");
        values[n++] = v;
    }
    PGresult *res = PQexecParams(porg_conn(s), sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        ck_abort_msg("porg: SQL failed: %s\n%s", PQresultErrorMessage(res), sql);
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        out = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

char *porg_sql(const porg_srv_t *s, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    char *out = porg_vsql(s, sql, ap);
    va_end(ap);
    return out;
}

long porg_sql_long(const porg_srv_t *s, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    char *v = porg_vsql(s, sql, ap);
    va_end(ap);
    if (!v)
        ck_abort_msg("porg: no value from %s", sql);
    char *end;
    long n = strtol(v, &end, 10);
    if (*end)
        ck_abort_msg("porg: not a number (%s) from %s", v, sql);
    free(v);
    return n;
}

char *porg_fingerprint(const porg_srv_t *s)
{
    /* One round trip: each table's rows as XML, in a stable order. */
    static const char sql[] =
        "SELECT md5(string_agg(query_to_xml(format('SELECT * FROM %I t ORDER BY t::text',"
        " tablename), false, false, '')::text, '' ORDER BY tablename))"
        " FROM pg_tables WHERE schemaname = 'public'";
    char *out = porg_sql(s, sql, NULL);
    if (!out)
        ck_abort_msg("porg: fingerprint: no digest");
    return out;
}

static bool one_of(const char *id, size_t len, const char *const *org_ids)
{
    for (size_t i = 0; org_ids[i]; i++)
        if (strlen(org_ids[i]) == len && strncmp(org_ids[i], id, len) == 0)
            return true;
    return false;
}

char *porg_csv_only(const char *csv, const char *const *org_ids)
{
    strbuf_t b = STRBUF_INIT;
    for (const char *line = csv; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        size_t id_len = strcspn(line, ",\r\n");
        if (line == csv || one_of(line, id_len, org_ids))
            strbuf_append(&b, line, len);
        line += len;
    }
    return strbuf_detach(&b);
}

char *porg_stats_only(const char *json_text, const char *const *org_ids)
{
    json_object *all = json_tokener_parse(json_text), *list, *id;
    if (!all || !json_object_object_get_ex(all, "stats", &list) ||
        !json_object_is_type(list, json_type_array))
        ck_abort_msg("porg: not a statistics list: %s", json_text);
    json_object *mine = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *item = json_object_array_get_idx(list, i);
        if (json_object_object_get_ex(item, "organization_id", &id) &&
            one_of(json_object_get_string(id), strlen(json_object_get_string(id)), org_ids))
            json_object_array_add(mine, json_object_get(item));
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "stats", mine);
    char *text = xstrdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
    json_object_put(all);
    return text;
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
    pclient_resp_t r;
    porg_send(s, "anonymous", o->organization_id, NULL,
              pclient_req_bootstrap(token, &o->root, o->admin), &r);
    free(token);
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

/* ---- requests ---- */

void porg_send_ex(const porg_srv_t *s, const char *family, const char *org_id,
                  const pclient_device_t *dev, const pclient_opts_t *opts, json_object *req,
                  pclient_resp_t *out)
{
    bool answered = pclient_cmd_ex(porg_srv_url(s), family, org_id, dev, opts, req, out);
    json_object_put(req);
    if (!answered)
        ck_abort_msg("porg: no HTTP answer from %s/%s/%s", porg_srv_url(s), family, org_id);
}

void porg_send(const porg_srv_t *s, const char *family, const char *org_id,
               const pclient_device_t *dev, json_object *req, pclient_resp_t *out)
{
    porg_send_ex(s, family, org_id, dev, NULL, req, out);
}

void porg_post(const porg_srv_t *s, const char *family, const char *org_id, const char *const *hdrs,
               const void *body, size_t len, pclient_resp_t *out)
{
    char *url = xasprintf("%s/%s/%s", porg_srv_url(s), family, org_id);
    bool answered = pclient_http_post(url, hdrs, body, len, out);
    if (!answered)
        ck_abort_msg("porg: no HTTP answer from %s", url);
    free(url);
}

void porg_dump_log(const porg_srv_t *s)
{
    char *log = porg_log(s);
    fprintf(stderr, "---- %s: the log of this test ----\n%s\n----\n", porg_srv_url(s), log);
    free(log);
}

void porg_explain(const porg_srv_t *s, const pclient_resp_t *r)
{
    fprintf(stderr, "unexpected answer: %ld %s\n", r->status, r->body);
    porg_dump_log(s);
}

void porg_assert_status(const porg_srv_t *s, const pclient_resp_t *r, long http, const char *status)
{
    if (r->status != http || (status && (!pclient_status(r) || strcmp(pclient_status(r), status))))
        porg_explain(s, r);
    ck_assert_int_eq(r->status, http);
    if (status)
        ck_assert_str_eq(pclient_status(r), status);
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
    porg_send(s, "authenticated", dev->organization_id, dev, req, &r);
    return checked_reply(&r, what);
}

json_object *porg_call_raw(const porg_srv_t *s, const pclient_device_t *dev, const char *body,
                           size_t len)
{
    char *auth = pclient_auth_header(dev, pclient_now_us() / 1000000);
    char *auth_h = xasprintf("Authorization: %s", auth);
    const char *hdrs[] = {"Api-Version: 3.2", "Content-Type: application/json", auth_h, NULL};
    pclient_resp_t r;
    porg_post(s, "authenticated", dev->organization_id, hdrs, body, len, &r);
    free(auth_h);
    free(auth);
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
