/*
 * tests/integration/test_realm_scale.c - the realm commands at scale, shown
 * by the plans of the very statements the server runs (looked up by name in
 * the registry of common/db.h, prepared and EXPLAINed with the parameters
 * a request would give), never by timing:
 *
 * - in a realm of 100,000 vlobs (tests/lib/vlobseed.h, one statement),
 *   vlob_poll_changes from a recent checkpoint reads the few changes after
 *   it through the index (realm, index), a handful of pages, while from 0
 *   it reads them all; 20,000 changes back it answers those 20,000;
 * - realm_stats and organization_stats (without a window) read counters and
 *   never touch vlob_atom; the administration windows read the versions of
 *   the window through vlob_atom_created_on;
 * - a realm with 1,000 role certificates: a member's role is read through
 *   an index (one backward step of (realm, user_, _id), or the user's own
 *   certificates), a few pages; every command and user_get of its members
 *   still answer.
 *
 * Plans are checked both as PostgreSQL first plans a prepared statement
 * (custom) and as it plans it once warm (after ten runs: the plan cache may
 * then keep a generic plan).
 */
#include "db.h"
#include "test_realm_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "vlobseed.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SCALE = 100000 };

/* The text of registered statement name. */
static const char *stmt_sql(const char *name)
{
    for (size_t i = 0; i < db_stmt_count(); i++)
        if (!strcmp(db_stmt_at(i)->name, name))
            return db_stmt_at(i)->sql;
    ck_abort_msg("no statement %s", name);
    return NULL;
}

/* After a warm explain(): how many of its runs used the generic plan (0:
 * PostgreSQL planned the statement again at every run). */
static long last_generic_plans;

/* "EXECUTE s(params)" (malloc'd). */
static char *execute_call(const char *prefix, const char *const *params, int n)
{
    char *call = xasprintf("%sEXECUTE s(", prefix);
    for (int i = 0; i < n; i++) {
        char *q = params[i] ? xasprintf("%s'%s'", call, params[i]) : xasprintf("%sNULL", call);
        free(call);
        call = xasprintf("%s%s", q, i + 1 < n ? ", " : ")");
        free(q);
    }
    return call;
}

/* EXPLAIN (ANALYZE, BUFFERS) of statement name with params (n, text): the
 * custom plan PostgreSQL makes for a prepared statement's first runs, or
 * (warm) the plan it keeps after ten runs, as a worker's connection would
 * after a few requests.  The plan text (malloc'd). */
static char *explain(PGconn *pg, const char *name, const char *const *params, int n, bool warm)
{
    PQclear(PQexec(pg, "DEALLOCATE ALL"));
    PQclear(PQexec(pg, warm ? "SET plan_cache_mode = auto"
                            : "SET plan_cache_mode = force_custom_plan"));
    char *prep = xasprintf("PREPARE s AS %s", stmt_sql(name));
    PGresult *res = PQexec(pg, prep);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    free(prep);
    char *run = execute_call("", params, n);
    for (int i = 0; warm && i < 10; i++) {
        res = PQexec(pg, run);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
        PQclear(res);
    }
    free(run);
    if (warm)
        last_generic_plans = testenv_sql_int(
            pg, "SELECT generic_plans FROM pg_prepared_statements WHERE name = 's'");
    char *call = execute_call("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ", params, n);
    res = PQexec(pg, call);
    free(call);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    size_t len = 0;
    for (int i = 0; i < PQntuples(res); i++)
        len += strlen(PQgetvalue(res, i, 0)) + 1;
    char *plan = xmalloc(len + 1), *p = plan;
    *p = '\0';
    for (int i = 0; i < PQntuples(res); i++)
        p += sprintf(p, "%s\n", PQgetvalue(res, i, 0));
    PQclear(res);
    return plan;
}

/* The shared pages (hit + read) of the plan's top node. */
static long plan_pages(const char *plan)
{
    const char *b = strstr(plan, "Buffers: shared");
    if (!b)
        return 0;
    long hit = 0, read = 0;
    const char *h = strstr(b, "hit="), *r = strstr(b, "read=");
    const char *eol = strchr(b, '\n');
    if (h && (!eol || h < eol))
        hit = atol(h + 4);
    if (r && (!eol || r < eol))
        read = atol(r + 5);
    return hit + read;
}

static void seed(const porg_t *o, const uint8_t realm[16], long n)
{
    char err[512];
    ck_assert_msg(vlobseed_realm(porg_conn(ut_srv), o->organization_id, rl_hex(realm),
                                 o->admin->device_id, n, 64, err, sizeof err),
                  "%s", err);
    PQclear(PQexec(porg_conn(ut_srv), "VACUUM ANALYZE"));
}

START_TEST(poll_costs_the_changes)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "READER");
    seed(o, realm, SCALE);
    rl_id(v);
    rl_vlob_create(o->admin, realm, v, "new");
    rl_vlob_update(o->admin, 1, v, 2, "newer");

    /* through the server: the two recent changes, then everything */
    json_object *r = porg_call(ut_srv, bob, rl_req_poll(realm, SCALE));
    ck_assert_int_eq(rl_int(r, "current_checkpoint"), SCALE + 2);
    json_object *changes = json_object_object_get(r, "changes");
    ck_assert_int_eq(json_object_object_length(changes), 1);
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(changes, rl_hex(v))), 2);
    json_object_put(r);
    /* 20,000 changes back: an answer as large as the changes, not more
     * (the client gives up after 10 s) */
    json_object *req = rl_req_poll(realm, SCALE - 20000);
    pclient_resp_t resp;
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", bob->organization_id, bob, req, &resp);
    json_object_put(req);
    ck_assert_msg(resp.status == 200 && resp.json, "poll: HTTP %ld, %zu bytes: %.200s", resp.status,
                  resp.body_len, resp.body);
    ck_assert_int_eq(json_object_object_length(json_object_object_get(resp.json, "changes")),
                     20000 + 1);
    pclient_resp_free(&resp);

    /* the plan: an index range scan of the changes after the checkpoint,
     * a few pages whatever the realm's size */
    char org[32], user[32], cp[32];
    snprintf(org, sizeof org, "%ld",
             ut_sql_long("SELECT _id FROM organization WHERE organization_id = $1",
                         o->organization_id, NULL));
    snprintf(user, sizeof user, "%ld",
             ut_sql_long("SELECT u._id FROM user_ u JOIN organization o ON o._id = u.organization"
                         " WHERE o.organization_id = $1 AND u.user_id = 'bob'",
                         o->organization_id, NULL));
    snprintf(cp, sizeof cp, "%d", SCALE);
    const char *params[] = {org, rl_hex(realm), user, cp};
    long recent[2], all = 0;
    for (int warm = 0; warm < 2; warm++) {
        char *plan = explain(porg_conn(ut_srv), "vlob_db_poll", params, 4, warm);
        /* a plain or a bitmap scan of the index, as the planner likes */
        ck_assert_msg(strstr(plan, "Index Scan using realm_vlob_update_realm_index_key") ||
                          strstr(plan, "Bitmap Index Scan on realm_vlob_update_realm_index_key"),
                      "%s", plan);
        ck_assert_msg(strstr(plan, "Index Cond: ((realm = r._id) AND (index >"), "%s", plan);
        /* (the realm's and the roles' rows may be read whole: a few rows) */
        ck_assert_msg(!strstr(plan, "Seq Scan on realm_vlob_update") &&
                          !strstr(plan, "Seq Scan on vlob_atom") &&
                          !strstr(plan, "Seq Scan on vlob "),
                      "%s", plan);
        /* planned once, not at every poll, however large the realm */
        ck_assert_msg(!warm || last_generic_plans > 0, "the poll is planned at every run");
        recent[warm] = plan_pages(plan);
        ck_assert_msg(recent[warm] > 0 && recent[warm] < 100, "%ld pages:\n%s", recent[warm], plan);
        free(plan);
    }
    const char *from0[] = {org, rl_hex(realm), user, "0"};
    char *plan = explain(porg_conn(ut_srv), "vlob_db_poll", from0, 4, false);
    all = plan_pages(plan);
    free(plan);
    ck_assert_msg(all > 50 * recent[0], "from 0: %ld pages, recent: %ld", all, recent[0]);

    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(stats_do_not_scan_versions)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    seed(o, realm, SCALE);

    json_object *r = porg_call(ut_srv, o->admin, rl_req_realm("realm_stats", realm));
    ck_assert_int_eq(rl_int(r, "vlobs_size"), (int64_t)SCALE * 64);
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, pclient_req("organization_stats"));
    ck_assert_int_eq(rl_int(r, "metadata_size"), (int64_t)SCALE * 64);
    json_object_put(r);

    const char *org_params[] = {o->organization_id, NULL, NULL};
    char realm_org[32], user[32];
    snprintf(realm_org, sizeof realm_org, "%ld",
             ut_sql_long("SELECT _id FROM organization WHERE organization_id = $1",
                         o->organization_id, NULL));
    snprintf(user, sizeof user, "%ld",
             ut_sql_long("SELECT u._id FROM user_ u WHERE u.organization = $1::bigint", realm_org,
                         NULL));
    const char *realm_params[] = {realm_org, rl_hex(realm), user};
    for (int warm = 0; warm < 2; warm++) {
        char *plan = explain(porg_conn(ut_srv), "organization_db_stats", org_params, 3, warm);
        ck_assert_msg(!strstr(plan, "Seq Scan on vlob_atom"), "%s", plan);
        ck_assert_msg(plan_pages(plan) < 200, "%ld pages:\n%s", plan_pages(plan), plan);
        free(plan);
        plan = explain(porg_conn(ut_srv), "realm_db_stats", realm_params, 3, warm);
        ck_assert_msg(!strstr(plan, "vlob_atom"), "%s", plan);
        ck_assert_msg(plan_pages(plan) < 50, "%ld pages:\n%s", plan_pages(plan), plan);
        free(plan);
    }
    /* a window reads the versions it holds through their timestamps' index */
    const char *window[] = {NULL, "2000-01-01T00:00:00Z", "2000-02-01T00:00:00Z"};
    char *plan = explain(porg_conn(ut_srv), "organization_db_stats", window, 3, false);
    ck_assert_msg(strstr(plan, "vlob_atom_created_on"), "%s", plan);
    ck_assert_msg(!strstr(plan, "Seq Scan on vlob_atom"), "%s", plan);
    free(plan);
    porg_free(o);
}
END_TEST

START_TEST(many_role_certificates)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    enum { MEMBERS = 40, CERTS = 1000 };
    pclient_device_t *m[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        char *id = xasprintf("m%d@d", i);
        m[i] = porg_user(ut_srv, o, o->admin, id, "STANDARD", NULL, NULL);
        free(id);
    }
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    const char *roles[] = {"READER", "CONTRIBUTOR"};
    for (int k = 0; k < CERTS; k++)
        rl_share(o->admin, realm, m[k % MEMBERS]->user_id, roles[(k / MEMBERS + 1) % 2]);

    json_object *r = porg_call(ut_srv, m[0], rl_req_realm("realm_get_role_certificates", realm));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "certificates")),
                     CERTS + 1);
    json_object_put(r);
    /* every member's latest role is CONTRIBUTOR (the 25th change of each) */
    rl_id(v);
    rl_vlob_create(m[MEMBERS - 1], realm, v, "x");
    for (int i = 0; i < MEMBERS; i++) {
        json_object *get = set_str(pclient_req("user_get"), "user_id", m[i]->user_id);
        porg_expect(ut_srv, m[(i + 1) % MEMBERS], get, "ok");
        porg_expect(ut_srv, m[i], rl_req_vlob_read(1, v, 0, 0), "ok");
    }
    /* the role lookup of a read: one backward step of the index */
    char org[32], user[32];
    snprintf(org, sizeof org, "%ld",
             ut_sql_long("SELECT _id FROM organization WHERE organization_id = $1",
                         o->organization_id, NULL));
    snprintf(user, sizeof user, "%ld",
             ut_sql_long("SELECT _id FROM user_ WHERE organization = $1::bigint AND user_id = 'm7'",
                         org, NULL));
    const char *params[] = {org, rl_hex(v), user, "1", NULL, NULL};
    for (int warm = 0; warm < 2; warm++) {
        char *plan = explain(porg_conn(ut_srv), "vlob_db_read", params, 6, warm);
        ck_assert_msg(strstr(plan, "Index Scan Backward using realm_user_role_lookup") ||
                          strstr(plan, "Index Scan using realm_user_role_by_user"),
                      "%s", plan);
        ck_assert_msg(!strstr(plan, "Seq Scan on realm_user_role"), "%s", plan);
        ck_assert_msg(plan_pages(plan) < 200, "%ld pages:\n%s", plan_pages(plan), plan);
        free(plan);
    }
    for (int i = 0; i < MEMBERS; i++)
        pclient_device_free(m[i]);
    porg_free(o);
}
END_TEST

TEST_SUITE(realm_scale)
{
    Suite *s = suite_create("realm_scale");
    TCase *tc = ut_tcase("scale");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, poll_costs_the_changes);
    tcase_add_test(tc, stats_do_not_scan_versions);
    tcase_add_test(tc, many_role_certificates);
    suite_add_tcase(s, tc);
    return s;
}
