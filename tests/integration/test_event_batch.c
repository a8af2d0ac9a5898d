/*
 * tests/integration/test_event_batch.c - events of no transaction, many per
 * commit (common/event_batch.h), against a real PostgreSQL LISTENer
 *
 * Every posted event arrives, in the order posted, in fewer statements than
 * events; a post the batcher cannot take says so (the caller then publishes
 * it itself); shutdown flushes what is queued.
 */
#include "cfg.h"
#include "db.h"
#include "event.h"
#include "event_batch.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cfg_t test_cfg(void)
{
    cfg_t c;
    memset(&c, 0, sizeof c);
    c.db_min_connections = 1;
    c.db_max_connections = 2;
    c.maximum_database_connection_attempts = 1;
    return c;
}

/* Wait up to ms for notifications on pg, appending their payloads' "ping"
 * to got[] (the n-th event carries ping "p<n>"); returns how many came. */
static int drain(PGconn *pg, char got[][16], int max, int have, int want, int ms)
{
    for (int waited = 0; have < want && waited < ms; waited += 20) {
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
        poll(&p, 1, 20);
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) {
            const char *at = strstr(n->extra, "\"ping\":\"");
            ck_assert_ptr_nonnull(at);
            if (have < max)
                snprintf(got[have], 16, "%.*s", (int)strcspn(at + 8, "\""), at + 8);
            have++;
            PQfreemem(n);
        }
    }
    return have;
}

START_TEST(posted_events_arrive_in_order_batched)
{
    char *url = testenv_db_create();
    PGconn *listener = testenv_pg_connect(url);
    PQclear(PQexec(listener, "LISTEN " EVENT_CHANNEL));
    cfg_t cfg = test_cfg();
    char err[256];
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_msg(pool != NULL, "%s", err);

    /* not running yet: refused, nothing queued */
    event_t ev = {.type = EVENT_PINGED, .org = "BatchOrg", .author = "alice@dev1", .ping = "x"};
    ck_assert(!event_post(&ev));

    ck_assert(event_batch_init(pool));
    enum { N = 2000 };
    static char got[N][16];
    for (int i = 0; i < N; i++) {
        char ping[16];
        snprintf(ping, sizeof ping, "p%d", i);
        ev.ping = ping;
        ck_assert_msg(event_post(&ev), "post %d refused", i);
    }
    int have = drain(listener, got, N, 0, N, 20000);
    ck_assert_int_eq(have, N);
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof want, "p%d", i);
        ck_assert_str_eq(got[i], want);
    }
    size_t published = 0, flushes = 0;
    event_batch_counters(&published, &flushes);
    ck_assert_uint_eq(published, N);
    /* many per commit: a statement takes up to EVENT_BATCH_MAX_FLUSH */
    ck_assert_uint_lt(flushes, N / 2);
    ck_assert_uint_ge(flushes, N / EVENT_BATCH_MAX_FLUSH);

    /* a full queue refuses rather than drop: the batcher is stopped by
     * its database going away (the pool's only connections are held) */
    db_conn_t *held[2] = {db_acquire(pool), db_acquire(pool)};
    ck_assert(held[0] && held[1]);
    int refused = 0, taken = 0;
    for (int i = 0; i < EVENT_BATCH_MAX_QUEUED + 100; i++) {
        ev.ping = "q";
        if (event_post(&ev))
            taken++;
        else
            refused++;
    }
    ck_assert_int_eq(taken, EVENT_BATCH_MAX_QUEUED); /* those being sent still count */
    ck_assert_int_eq(refused, 100);
    db_release(pool, held[0]);
    db_release(pool, held[1]);

    /* shutdown flushes what was queued */
    ck_assert_uint_eq(event_batch_shutdown(20000), 0);
    event_batch_counters(&published, NULL);
    ck_assert_uint_eq(published, (size_t)(N + taken));
    static char rest[EVENT_BATCH_MAX_QUEUED][16];
    ck_assert_int_eq(drain(listener, rest, EVENT_BATCH_MAX_QUEUED, 0, taken, 20000), taken);
    /* stopped: refused again */
    ck_assert(!event_post(&ev));

    db_pool_close(pool);
    testenv_db_done(listener, url);
}
END_TEST

TEST_SUITE(event_batch)
{
    Suite *s = suite_create("event_batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, posted_events_arrive_in_order_batched);
    suite_add_tcase(s, tc);
    return s;
}
