/*
 * tests/integration/test_realm_concurrency.c - the realm and vlob commands
 * under real concurrent clients (threads, each its own HTTP connection)
 * through lighttpd and two worker processes:
 *
 * - racing vlob_update of one version: exactly one ok, the others
 *   bad_version, and the winner's blob is the one stored;
 * - 16 writers in one realm: its checkpoint rises by exactly one per write,
 *   changes numbered 1..N with no gap and no duplicate, one event each;
 * - a writer holding one realm's lock does not hold up a writer of another
 *   realm, nor a reader of its own, while a writer of its realm waits
 *   (shown with the lock taken by hand and pg_stat_activity);
 * - racing role updates of one user never leave two "current" roles.
 */
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(update_race_exactly_one_wins)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "CONTRIBUTOR");
    rl_id(v);
    rl_vlob_create(o->admin, realm, v, "v1");
    enum { N = 16 };
    for (int version = 2; version <= 6; version++) {
        const pclient_device_t *callers[N];
        json_object *reqs[N];
        char statuses[N][UT_STATUS_MAX];
        int64_t ts = rl_now();
        for (int i = 0; i < N; i++) {
            callers[i] = i % 2 ? bob : o->admin;
            char *blob = xasprintf("v%d by racer %d", version, i);
            reqs[i] = rl_req_vlob_update(1, v, ts, version, blob);
            free(blob);
        }
        ut_race(callers, reqs, N, statuses);
        int ok = 0, bad = 0, winner = -1;
        for (int i = 0; i < N; i++) {
            if (!strcmp(statuses[i], "ok")) {
                ok++;
                winner = i;
            } else if (!strcmp(statuses[i], "bad_version")) {
                bad++;
            }
        }
        ck_assert_msg(ok == 1 && bad == N - 1, "version %d: %d ok, %d bad_version (%s, %s...)",
                      version, ok, bad, statuses[0], statuses[1]);
        char *blob = rl_read_blob(o->admin, 1, v);
        char *want = xasprintf("v%d by racer %d", version, winner);
        ck_assert_str_eq(blob, want);
        free(want);
        free(blob);
    }
    /* one row per version, one change per write */
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM vlob_atom a JOIN vlob v ON v._id = a.vlob"
                                 " WHERE v.vlob_id = $1::uuid",
                                 rl_hex(v), NULL),
                     6);
    ck_assert_int_eq(
        ut_sql_long("SELECT checkpoint FROM realm WHERE realm_id = $1::uuid", rl_hex(realm), NULL),
        6);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* ---- 16 writers in one realm ---- */

enum { WRITERS = 16, WRITES = 8 };

typedef struct {
    const pclient_device_t *dev;
    const uint8_t *realm;
    pthread_barrier_t *start;
    int ok;
    char first_error[256];
} writer_t;

/* One writer: creates its vlob, then updates it, WRITES writes in all. */
static void *writer(void *arg)
{
    writer_t *w = arg;
    uint8_t v[16];
    rl_id(v);
    pthread_barrier_wait(w->start);
    for (int k = 1; k <= WRITES; k++) {
        json_object *req = k == 1 ? rl_req_vlob_create(w->realm, 1, v, rl_now(), "w")
                                  : rl_req_vlob_update(1, v, rl_now(), k, "w");
        pclient_resp_t r;
        pclient_cmd(porg_srv_url(ut_srv), "authenticated", w->dev->organization_id, w->dev, req,
                    &r);
        json_object_put(req);
        const char *st = r.status == 200 ? pclient_status(&r) : NULL;
        if (st && !strcmp(st, "ok"))
            w->ok++;
        else if (!w->first_error[0])
            snprintf(w->first_error, sizeof w->first_error, "%ld %s", r.status, r.body);
        pclient_resp_free(&r);
    }
    return NULL;
}

START_TEST(checkpoint_no_gap_no_duplicate)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "CONTRIBUTOR");
    PGconn *ev = rl_listen();

    const pclient_device_t *devs[] = {o->admin, bob, bob2};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WRITERS);
    writer_t w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){.dev = devs[i % 3], .realm = realm, .start = &start};
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < WRITERS; i++)
        ck_assert_msg(w[i].ok == WRITES, "writer %d: %d ok, first error %s", i, w[i].ok,
                      w[i].first_error);

    /* the checkpoint counts the writes; the changes are 1..N exactly */
    char n[16];
    snprintf(n, sizeof n, "%d", WRITERS * WRITES);
    ck_assert_int_eq(
        ut_sql_long("SELECT checkpoint FROM realm WHERE realm_id = $1::uuid", rl_hex(realm), NULL),
        WRITERS * WRITES);
    ck_assert_int_eq(ut_sql_long("SELECT (count(*) = $2::bigint AND count(DISTINCT u.index) ="
                                 " $2::bigint AND min(u.index) = 1 AND max(u.index) = $2::bigint"
                                 " AND count(DISTINCT u.vlob_atom) = $2::bigint)::int"
                                 " FROM realm_vlob_update u JOIN realm r ON r._id = u.realm"
                                 " WHERE r.realm_id = $1::uuid",
                                 rl_hex(realm), n, NULL),
                     1);
    /* one event per write, each checkpoint once */
    bool seen[WRITERS * WRITES + 1] = {false};
    for (int i = 0; i < WRITERS * WRITES; i++) {
        json_object *e = rl_expect_event(ev, o->organization_id, "realm.vlobs_updated");
        int64_t cp = rl_int(e, "checkpoint");
        ck_assert_msg(cp >= 1 && cp <= WRITERS * WRITES && !seen[cp], "checkpoint %lld",
                      (long long)cp);
        seen[cp] = true;
        json_object_put(e);
    }
    rl_expect_no_event(ev, o->organization_id);
    /* and a poll from 0 sees every vlob at its last version */
    json_object *r = porg_call(ut_srv, bob, rl_req_poll(realm, 0));
    ck_assert_int_eq(rl_int(r, "current_checkpoint"), WRITERS * WRITES);
    json_object *changes = json_object_object_get(r, "changes");
    ck_assert_int_eq(json_object_object_length(changes), WRITERS);
    json_object_object_foreach(changes, key, val)
    {
        (void)key;
        ck_assert_int_eq(json_object_get_int64(val), WRITES);
    }
    json_object_put(r);

    pclient_device_free(bob2);
    pclient_device_free(bob);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* ---- realms do not wait for each other ---- */

typedef struct {
    const pclient_device_t *dev;
    json_object *req;
    char status[UT_STATUS_MAX];
    volatile bool done;
} call_t;

static void *call_thread(void *arg)
{
    call_t *c = arg;
    pclient_resp_t r;
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", c->dev->organization_id, c->dev, c->req, &r);
    snprintf(c->status, sizeof c->status, "%s",
             r.status == 200 && pclient_status(&r) ? pclient_status(&r) : "no answer");
    pclient_resp_free(&r);
    c->done = true;
    return NULL;
}

/* How many backends of the database wait for a lock right now. */
static long waiting_for_lock(void)
{
    return ut_sql_long("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock' AND state = 'active'",
                       NULL);
}

START_TEST(realms_do_not_wait_for_each_other)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t a[16], b[16], va[16], vb[16], vc[16];
    rl_realm(o->admin, a);
    rl_realm(o->admin, b);
    rl_id(va);
    rl_id(vb);
    rl_id(vc);
    rl_vlob_create(o->admin, a, va, "a1");

    /* hold realm a's row lock as a writer of a holds it until it commits */
    PGconn *holder = porg_pg(ut_srv);
    PQclear(PQexec(holder, "BEGIN"));
    const char *p[1] = {rl_hex(a)};
    PGresult *res = PQexecParams(holder,
                                 "SELECT _id FROM realm WHERE realm_id = $1::uuid"
                                 " FOR NO KEY UPDATE",
                                 1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQntuples(res), 1);
    PQclear(res);

    /* meanwhile, a write in b and a read in a complete (the client gives up
     * after 10 s: a request held by the lock would fail here) */
    porg_expect(ut_srv, o->admin, rl_req_vlob_create(b, 1, vb, rl_now(), "b1"), "ok");
    porg_expect(ut_srv, o->admin, rl_req_vlob_read(1, va, 0, 0), "ok");
    porg_expect(ut_srv, o->admin, rl_req_poll(a, 0), "ok");
    ck_assert_int_eq(waiting_for_lock(), 0);

    /* a write in a waits for the lock: its backend shows as waiting */
    call_t c = {.dev = o->admin, .req = rl_req_vlob_create(a, 1, vc, rl_now(), "a2")};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, call_thread, &c), 0);
    long waiting = 0;
    for (int i = 0; i < 100 && waiting == 0; i++) {
        usleep(50000);
        waiting = waiting_for_lock();
    }
    ck_assert_int_eq(waiting, 1);
    ck_assert(!c.done);
    /* released: it goes on and succeeds */
    PQclear(PQexec(holder, "ROLLBACK"));
    pthread_join(th, NULL);
    json_object_put(c.req);
    ck_assert_str_eq(c.status, "ok");
    PQfinish(holder);
    porg_free(o);
}
END_TEST

/* ---- racing role updates ---- */

/* The role certificates of user_id in realm have strictly increasing
 * timestamps in storage order, so the latest is one row. */
static void assert_one_current_role(const uint8_t realm[16], const char *user_id)
{
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM ("
                                 "  SELECT rur.certified_on <= lag(rur.certified_on)"
                                 "   OVER (ORDER BY rur._id) AS bad"
                                 "  FROM realm_user_role rur JOIN realm r ON r._id = rur.realm"
                                 "  JOIN user_ u ON u._id = rur.user_"
                                 "  WHERE r.realm_id = $1::uuid AND u.user_id = $2) x"
                                 " WHERE bad",
                                 rl_hex(realm), user_id, NULL),
                     0);
}

START_TEST(role_update_race_one_current_role)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *own2 = porg_user(ut_srv, o, o->admin, "own2@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "own2", "OWNER");
    enum { N = 12 };
    const char *roles[] = {"READER", "CONTRIBUTOR", "MANAGER", "OWNER"};

    /* the same timestamp from two owners: one wins, the others are after it
     * or the same role */
    const pclient_device_t *callers[N];
    json_object *reqs[N];
    char statuses[N][UT_STATUS_MAX];
    int64_t ts = rl_now();
    for (int i = 0; i < N; i++) {
        callers[i] = i % 2 ? own2 : o->admin;
        reqs[i] = rl_req_update_roles(callers[i], realm, "bob", roles[i % 4], ts, NULL);
    }
    ut_race(callers, reqs, N, statuses);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ok += !strcmp(statuses[i], "ok");
        ck_assert_msg(!strcmp(statuses[i], "ok") || !strcmp(statuses[i], "already_granted") ||
                          !strcmp(statuses[i], "require_greater_timestamp"),
                      "%s", statuses[i]);
    }
    ck_assert_int_eq(ok, 1);
    assert_one_current_role(realm, "bob");

    /* increasing timestamps sent at once: whatever the order they are
     * decided in, one role is current and the history stays ordered */
    for (int i = 0; i < N; i++) {
        callers[i] = i % 2 ? own2 : o->admin;
        reqs[i] = rl_req_update_roles(callers[i], realm, "bob", i % 3 ? roles[i % 4] : NULL,
                                      rl_now(), NULL);
    }
    ut_race(callers, reqs, N, statuses);
    assert_one_current_role(realm, "bob");
    /* what the commands see as current is the latest row */
    char *latest = ut_sql("SELECT COALESCE(rur.role, 'none') FROM realm_user_role rur"
                          " JOIN realm r ON r._id = rur.realm JOIN user_ u ON u._id = rur.user_"
                          " WHERE r.realm_id = $1::uuid AND u.user_id = 'bob'"
                          " ORDER BY rur._id DESC LIMIT 1",
                          rl_hex(realm), NULL);
    uint8_t v[16];
    rl_id(v);
    json_object *r = porg_call(ut_srv, bob, rl_req_vlob_create(realm, 1, v, rl_now(), "x"));
    bool writer =
        !strcmp(latest, "OWNER") || !strcmp(latest, "MANAGER") || !strcmp(latest, "CONTRIBUTOR");
    ck_assert_str_eq(porg_status(r), writer ? "ok" : "not_allowed");
    json_object_put(r);
    free(latest);

    pclient_device_free(bob);
    pclient_device_free(own2);
    porg_free(o);
}
END_TEST

TEST_SUITE(realm_concurrency)
{
    Suite *s = suite_create("realm_concurrency");
    TCase *tc = ut_tcase("concurrency");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, update_race_exactly_one_wins);
    tcase_add_test(tc, checkpoint_no_gap_no_duplicate);
    tcase_add_test(tc, realms_do_not_wait_for_each_other);
    tcase_add_test(tc, role_update_race_one_current_role);
    suite_add_tcase(s, tc);
    return s;
}
