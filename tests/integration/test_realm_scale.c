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
 * Plans are checked as the server runs every prepared statement: with its
 * generic plan (plan_cache_mode force_generic_plan, common/db.h), made once
 * for any values.  every_generic_plan_uses_indexes checks that plan for
 * every registered statement against the seeded tables (user_get's
 * certifier chain once hashed every device of the organization).
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

/* "EXECUTE s(params)" (malloc'd). */
static char *execute_call(const char *prefix, const char *const *params, int n)
{
    if (n == 0)
        return xasprintf("%sEXECUTE s", prefix);
    char *call = xasprintf("%sEXECUTE s(", prefix);
    for (int i = 0; i < n; i++) {
        char *q = params[i] ? xasprintf("%s'%s'", call, params[i]) : xasprintf("%sNULL", call);
        free(call);
        call = xasprintf("%s%s", q, i + 1 < n ? ", " : ")");
        free(q);
    }
    return call;
}

/* EXPLAIN of statement name (text sql) with params (n, text; NULL: SQL
 * NULL), as a worker's connection runs it: prepared, with its generic
 * plan; analyze: run it too (ANALYZE, BUFFERS).  The plan text
 * (malloc'd). */
static char *explain_sql(PGconn *pg, const char *name, const char *sql, const char *const *params,
                         int n, bool analyze)
{
    PQclear(PQexec(pg, "DEALLOCATE ALL"));
    PQclear(PQexec(pg, "SET plan_cache_mode = force_generic_plan"));
    char *prep = xasprintf("PREPARE s AS %s", sql);
    PGresult *res = PQexec(pg, prep);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", name,
                  PQresultErrorMessage(res));
    PQclear(res);
    free(prep);
    char *call = execute_call(
        analyze ? "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " : "EXPLAIN (COSTS OFF) ", params, n);
    res = PQexec(pg, call);
    free(call);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", name,
                  PQresultErrorMessage(res));
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

/* EXPLAIN (ANALYZE, BUFFERS) of registered statement name. */
static char *explain(PGconn *pg, const char *name, const char *const *params, int n)
{
    return explain_sql(pg, name, stmt_sql(name), params, n, true);
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
    long recent, all = 0;
    {
        char *plan = explain(porg_conn(ut_srv), "vlob_db_poll", params, 4);
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
        recent = plan_pages(plan);
        ck_assert_msg(recent > 0 && recent < 100, "%ld pages:\n%s", recent, plan);
        free(plan);
    }
    const char *from0[] = {org, rl_hex(realm), user, "0"};
    char *plan = explain(porg_conn(ut_srv), "vlob_db_poll", from0, 4);
    all = plan_pages(plan);
    free(plan);
    ck_assert_msg(all > 50 * recent, "from 0: %ld pages, recent: %ld", all, recent);

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

    const char *org_params[] = {o->organization_id};
    char realm_org[32], user[32];
    snprintf(realm_org, sizeof realm_org, "%ld",
             ut_sql_long("SELECT _id FROM organization WHERE organization_id = $1",
                         o->organization_id, NULL));
    snprintf(user, sizeof user, "%ld",
             ut_sql_long("SELECT u._id FROM user_ u WHERE u.organization = $1::bigint", realm_org,
                         NULL));
    const char *realm_params[] = {realm_org, rl_hex(realm), user};
    char *plan = explain(porg_conn(ut_srv), "organization_db_stats_one", org_params, 1);
    ck_assert_msg(!strstr(plan, "vlob_atom"), "%s", plan);
    ck_assert_msg(plan_pages(plan) < 50, "%ld pages:\n%s", plan_pages(plan), plan);
    free(plan);
    plan = explain(porg_conn(ut_srv), "organization_db_stats_all", NULL, 0);
    ck_assert_msg(!strstr(plan, "vlob_atom"), "%s", plan);
    free(plan);
    plan = explain(porg_conn(ut_srv), "realm_db_stats", realm_params, 3);
    ck_assert_msg(!strstr(plan, "vlob_atom"), "%s", plan);
    ck_assert_msg(plan_pages(plan) < 50, "%ld pages:\n%s", plan_pages(plan), plan);
    free(plan);

    /* a window reads the versions it holds through their timestamps'
     * index, whichever bounds it has: (from, at], (from, now], and "at"
     * alone (the versions after it) */
    const char *windows[][3] = {
        {NULL, "2000-01-01T00:00:00Z", "2000-02-01T00:00:00Z"},
        {NULL, "2100-01-01T00:00:00Z", NULL},
        {NULL, NULL, "2100-01-01T00:00:00Z"},
        {o->organization_id, "2000-01-01T00:00:00Z", NULL},
    };
    for (size_t i = 0; i < sizeof windows / sizeof *windows; i++) {
        plan = explain(porg_conn(ut_srv), "organization_db_stats_window", windows[i], 3);
        ck_assert_msg(strstr(plan, "vlob_atom_created_on"), "window %zu:\n%s", i, plan);
        ck_assert_msg(!strstr(plan, "Seq Scan on vlob_atom"), "window %zu:\n%s", i, plan);
        if (i < 3) /* (the last one holds every version) */
            ck_assert_msg(plan_pages(plan) < 200, "window %zu: %ld pages:\n%s", i, plan_pages(plan),
                          plan);
        free(plan);
    }
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
    {
        char *plan = explain(porg_conn(ut_srv), "vlob_db_read", params, 6);
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

/* The tables that grow without bound with an organization's use. */
static const char *const big_tables[] = {"vlob_atom",
                                         "vlob",
                                         "realm_vlob_update",
                                         "block",
                                         "message",
                                         "user_",
                                         "device",
                                         "realm",
                                         "realm_user_role",
                                         "invitation",
                                         "vlob_encryption_revision"};

/* Statements whose generic plan may read a big table whole, and why. */
static const struct {
    const char *stmt, *table;
} whole_reads[] = {
    /* an administration window sums the blocks created in it among the
     * organization's (organization_db.c) */
    {"organization_db_stats_window", "block"},
    /* the statistics sum the counters of the organization's realms and
     * count its users per profile */
    {"organization_db_stats_one", "realm"},
    {"organization_db_stats_all", "realm"},
    {"organization_db_stats_window", "realm"},
    {"organization_db_stats_one", "user_"},
    {"organization_db_stats_all", "user_"},
    {"organization_db_stats_window", "user_"},
    /* human_find matches any part of a label or an email, and answers
     * the total of the matches */
    {"user_db_find", "user_"},
    /* user_create counts the organization's active users against
     * active_users_limit */
    {"user_db_user_checks", "user_"},
};

/* A "Seq Scan on table" in plan (not one on a longer name). */
static bool seq_scan_on(const char *plan, const char *table)
{
    char *pat = xasprintf("Seq Scan on %s", table);
    bool found = false;
    for (const char *p = plan; !found && (p = strstr(p, pat)); p += strlen(pat)) {
        char next = p[strlen(pat)];
        found = next == ' ' || next == '\n' || next == '\0';
    }
    free(pat);
    return found;
}

static bool whole_read_allowed(const char *stmt, const char *table)
{
    for (size_t i = 0; i < sizeof whole_reads / sizeof *whole_reads; i++)
        if (!strcmp(whole_reads[i].stmt, stmt) && !strcmp(whole_reads[i].table, table))
            return true;
    return false;
}

/*
 * Every registered statement, prepared as a worker prepares it, has a
 * generic plan that reaches the rows of the big tables through an index:
 * with 100,000 vlobs, blocks, messages, users, devices, realms (each with
 * its owner's role) and invitations in one organization (the planner's
 * statistics then say what a busy organization's would), no generic plan
 * reads one of them whole, but for the statements that read the
 * organization's rows by purpose (whole_reads, each with its reason).  A
 * statement written for custom plans ("$n IS NULL OR x = $n", a range open
 * on one side) fails here.
 */
START_TEST(every_generic_plan_uses_indexes)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    seed(o, realm, SCALE);
    char n[32];
    snprintf(n, sizeof n, "%d", SCALE);
    char *blocks = ut_sql(
        "WITH b AS (INSERT INTO block (organization, block_id, realm, author, size, created_on)"
        "  SELECT r.organization, gen_random_uuid(), r._id, d._id, 64, now()"
        "  FROM organization o JOIN realm r ON r.organization = o._id"
        "  JOIN device d ON d.organization = o._id"
        "  CROSS JOIN generate_series(1, $3::int)"
        "  WHERE o.organization_id = $1 AND r.realm_id = $2::uuid AND d.device_id = $4"
        "  RETURNING 1) SELECT count(*) FROM b",
        o->organization_id, rl_hex(realm), n, o->admin->device_id, NULL);
    ck_assert_str_eq(blocks, n);
    free(blocks);
    char *messages = ut_sql(
        "WITH m AS (INSERT INTO message (organization, recipient, index, sender, created_on, body)"
        "  SELECT o._id, u._id, g, d._id, now(), '\\x00'::bytea"
        "  FROM organization o JOIN user_ u ON u.organization = o._id"
        "  JOIN device d ON d.organization = o._id"
        "  CROSS JOIN generate_series(1, $2::int) g"
        "  WHERE o.organization_id = $1 AND u.user_id = 'bob' AND d.device_id = $3"
        "  RETURNING 1) SELECT count(*) FROM m",
        o->organization_id, n, o->admin->device_id, NULL);
    ck_assert_str_eq(messages, n);
    free(messages);
    char *users = ut_sql(
        "WITH u AS (INSERT INTO user_ (organization, user_id, profile, human_email, human_label,"
        "   user_certificate, redacted_user_certificate, created_on)"
        "  SELECT o._id, 'u' || g, 'STANDARD', 'u' || g || '@example.com', 'U ' || g,"
        "   '\\x00'::bytea, '\\x00'::bytea, now()"
        "  FROM organization o CROSS JOIN generate_series(1, $2::int) g"
        "  WHERE o.organization_id = $1 RETURNING _id, organization, user_id),"
        " d AS (INSERT INTO device (organization, user_, device_id, verify_key,"
        "   device_certificate, redacted_device_certificate, created_on)"
        "  SELECT organization, _id, user_id || '@d', decode(repeat('00', 32), 'hex'),"
        "   '\\x00'::bytea, '\\x00'::bytea, now() FROM u RETURNING 1)"
        " SELECT count(*) FROM d",
        o->organization_id, n, NULL);
    ck_assert_str_eq(users, n);
    free(users);
    /* a realm per seeded user, each its owner; an invitation from each */
    char *realms = ut_sql(
        "WITH r AS (INSERT INTO realm (organization, realm_id, created_on)"
        "  SELECT u.organization, gen_random_uuid(), now() FROM user_ u"
        "  JOIN organization o ON o._id = u.organization"
        "  WHERE o.organization_id = $1 AND u.user_id LIKE 'u%'"
        "  ORDER BY u._id RETURNING _id, organization),"
        " n AS (SELECT r._id, r.organization, row_number() OVER (ORDER BY r._id) AS k FROM r),"
        " e AS (INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
        "  SELECT _id, 1 FROM n RETURNING 1),"
        " x AS (INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by,"
        "   certified_on)"
        "  SELECT n._id, u._id, 'OWNER', '\\x00'::bytea, d._id, now() FROM n"
        "  JOIN user_ u ON u.organization = n.organization AND u.user_id = 'u' || n.k"
        "  JOIN device d ON d.user_ = u._id RETURNING 1),"
        " i AS (INSERT INTO invitation (organization, token, type, greeter, claimer_email,"
        "   created_on)"
        "  SELECT u.organization, gen_random_uuid(), 'USER', u._id, 'c@' || u.user_id, now()"
        "  FROM user_ u JOIN organization o ON o._id = u.organization"
        "  WHERE o.organization_id = $1 AND u.user_id LIKE 'u%' RETURNING 1)"
        " SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM x) + (SELECT count(*) FROM i)",
        o->organization_id, NULL);
    ck_assert_int_eq(atol(realms), 3L * SCALE);
    free(realms);
    PGconn *pg = porg_conn(ut_srv);
    PQclear(PQexec(pg, "VACUUM ANALYZE"));

    size_t checked = 0;
    for (size_t i = 0; i < db_stmt_count(); i++) {
        const db_stmt_t *st = db_stmt_at(i);
        const char **nulls = xcalloc((size_t)st->nparams + 1, sizeof *nulls);
        char *plan = explain_sql(pg, st->name, st->sql, nulls, st->nparams, false);
        free(nulls);
        for (size_t t = 0; t < sizeof big_tables / sizeof *big_tables; t++) {
            ck_assert_msg(!seq_scan_on(plan, big_tables[t]) ||
                              whole_read_allowed(st->name, big_tables[t]),
                          "%s reads %s whole:\n%s", st->name, big_tables[t], plan);
        }
        free(plan);
        checked++;
    }
    ck_assert_uint_gt(checked, 50);
    PQclear(PQexec(pg, "DEALLOCATE ALL"));
    pclient_device_free(bob);
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
    tcase_add_test(tc, every_generic_plan_uses_indexes);
    suite_add_tcase(s, tc);
    return s;
}
