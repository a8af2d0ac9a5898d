/*
 * tests/integration/test_notifyd_revoke.c - from the commit of user_revoke,
 * no websocket of the revoked user goes on (docs/protocol.md section 9,
 * #16; docs/events.md)
 *
 * The real deployment of `parsec backend run`: lighttpd, the FastCGI
 * workers serving user_revoke, notifyd behind /ws on the same port; real
 * websocket clients; revocations signed by the organization's ADMIN.
 *
 *   - a revocation certificate dated ahead of the server's clock (inside
 *     the ballpark, so user_revoke answers ok) revokes at its commit: the
 *     user's open websocket is closed at once and a new handshake refused,
 *     long before the certificate's date;
 *   - handshakes racing the revocation, answered just before or just after
 *     it: each ends refused (revoked_device) or closed with 4002 (during
 *     the check or after its ok), and none receives an event published
 *     after the revocation.
 */
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC INT64_C(1000000)

typedef struct {
    char *url;
    PGconn *pg;
    ndt_run_t run;
    ndt_pub_t *pub;
    wsclient_ctx_t *ctx;
    pclient_key_t root;
    ndt_dev_t admin, carol;
} fx_t;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

static void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->url = testenv_db_create();
    f->pg = testenv_pg_connect(f->url);
    pclient_key_generate(&f->root);
    ndt_dev_make(&f->admin, f->pg, "ORG", &f->root, "admin@a1", "ADMIN", true, true);
    ndt_dev_make(&f->carol, f->pg, "ORG", &f->root, "carol@c1", "STANDARD", false, true);
    ndt_run_start(&f->run, f->url);
    f->pub = ndt_pub_new(f->url);
    f->ctx = wsclient_ctx_new(64);
}

static void fx_fini(fx_t *f)
{
    wsclient_ctx_free(f->ctx);
    ck_assert_int_eq(ndt_run_stop(&f->run), 0);
    ndt_pub_free(f->pub);
    PQfinish(f->pg);
    testenv_db_drop(f->url);
    free(f->url);
}

/* user_revoke of user by the ADMIN, its certificate dated ts; the status. */
static char *revoke(fx_t *f, const char *user, int64_t ts)
{
    pclient_revoked_user_certif_t c = {f->admin.device_id, ts, user};
    pclient_blob_t cert = pclient_revoked_user_certif(&f->admin.key, &c);
    json_object *req = pclient_req("user_revoke");
    json_object_object_add(req, "revoked_user_certificate", pclient_json_blob(&cert));
    pclient_blob_free(&cert);
    return ndt_cmd(ndt_run_url(&f->run), &f->admin, req);
}

/* A websocket through lighttpd, answered as d. */
static wsclient_t *open_and_answer(fx_t *f, const ndt_dev_t *d)
{
    wsclient_t *c = wsclient_connect(f->ctx, "127.0.0.1", f->run.port, "/ws", false, NDT_WAIT);
    ck_assert_msg(c != NULL, "no websocket through lighttpd (see %s)", f->run.log);
    ndt_send_answer(c, d, 1);
    return c;
}

START_TEST(future_dated_revocation)
{
    fx_t f;
    fx_init(&f);
    ndt_dev_t b1, b2;
    ndt_dev_make(&b1, f.pg, "ORG", &f.root, "bob@b1", "STANDARD", false, true);
    ndt_dev_make(&b2, f.pg, "ORG", &f.root, "bob@b2", NULL, false, false);
    wsclient_t *wb1 = ndt_connect(f.ctx, f.run.port, &b1);
    wsclient_t *wc1 = ndt_connect(f.ctx, f.run.port, &f.carol);

    /* Dated 40 s ahead: inside the ballpark (50 s early), so accepted. */
    char *st = revoke(&f, "bob", now_us() + 40 * SEC);
    ck_assert_str_eq(st, "ok");
    free(st);
    /* Closed at the commit, not at the date (the wait is far shorter than
     * the 40 s still to go). */
    ndt_expect_closed(wb1, 4002, "user revoked", NDT_WAIT);
    ck_assert_uint_eq(wsclient_pending(wb1), 0);
    /* Bob's other device cannot come in meanwhile. */
    wsclient_t *c = open_and_answer(&f, &b2);
    json_object *r = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_str_eq(ndt_str(r, "result"), "revoked_device");
    json_object_put(r);
    ndt_expect_closed(c, 1008, "revoked_device", NDT_WAIT);
    /* Nor make requests. */
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("bob"));
    st = ndt_cmd(ndt_run_url(&f.run), &b2, req);
    ck_assert_str_ne(st, "ok");
    free(st);
    /* The others are served. */
    req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("after"));
    st = ndt_cmd(ndt_run_url(&f.run), &f.admin, req);
    ck_assert_str_eq(st, "ok");
    free(st);
    ndt_expect_ping(wc1, "after", NDT_WAIT);
    fx_fini(&f);
}
END_TEST

/* How one racing handshake ended: refused by the check, closed (4002) by
 * the user.revoked event while the check ran, or after its ok. */
typedef enum { RACE_REFUSED, RACE_CLOSED_DURING_CHECK, RACE_CLOSED_AFTER_OK } race_end;

START_TEST(revocation_races_handshakes)
{
    fx_t f;
    fx_init(&f);
    enum { ROUNDS = 12 };
    int ends[3] = {0, 0, 0};
    for (int i = 0; i < ROUNDS; i++) {
        char user[16], dev[32];
        snprintf(user, sizeof user, "u%d", i);
        snprintf(dev, sizeof dev, "u%d@d", i);
        ndt_dev_t d;
        ndt_dev_make(&d, f.pg, "ORG", &f.root, dev, "STANDARD", false, true);

        /* Odd rounds: the answer leaves, then the revocation is sent at
         * once, so the lookup and the commit land in either order; even
         * rounds: the connection opens and answers right after the
         * revocation returned.  (Opening after it keeps a slow revocation
         * from eating the 10 s the client has to answer.) */
        char *st = NULL;
        if (!(i % 2)) {
            st = revoke(&f, user, now_us() + (i % 3) * 20 * SEC);
            ck_assert_str_eq(st, "ok");
            free(st);
        }
        wsclient_t *c = open_and_answer(&f, &d);
        if (i % 2) {
            wsclient_service(f.ctx, 1);
            st = revoke(&f, user, now_us() + (i % 3) * 20 * SEC);
            ck_assert_str_eq(st, "ok");
            free(st);
        }
        /* Published after the revocation committed: must never reach u<i>. */
        ndt_ping(f.pub, "ORG", NULL, "after revocation");

        ck_assert_msg(wsclient_wait_closed(c, NDT_WAIT), "round %d: u%d still connected", i, i);
        json_object *r = wsclient_recv_json(c, 0);
        const char *result = ndt_str(r, "result");
        if (!r) {
            ck_assert_msg(wsclient_close_code(c) == 4002, "round %d: closed %d %s, no result", i,
                          wsclient_close_code(c), wsclient_close_reason(c));
            ends[RACE_CLOSED_DURING_CHECK]++;
        } else if (!strcmp(result, "ok")) {
            ck_assert_int_eq(wsclient_close_code(c), 4002);
            ends[RACE_CLOSED_AFTER_OK]++;
        } else {
            ck_assert_str_eq(result, "revoked_device");
            ck_assert_int_eq(wsclient_close_code(c), 1008);
            ends[RACE_REFUSED]++;
        }
        json_object_put(r);
        char *extra = wsclient_recv(c, 0);
        ck_assert_msg(extra == NULL, "round %d: u%d received %s after its revocation", i, i, extra);
        wsclient_free(c);
    }
    fprintf(stderr,
            "revocation_races_handshakes: %d refused, %d closed during the check, %d closed "
            "after ok\n",
            ends[RACE_REFUSED], ends[RACE_CLOSED_DURING_CHECK], ends[RACE_CLOSED_AFTER_OK]);
    fx_fini(&f);
}
END_TEST

TEST_SUITE(notifyd_revoke)
{
    Suite *s = suite_create("notifyd_revoke");
    TCase *tc = tcase_create("revoke");
    testenv_db_setup();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, future_dated_revocation);
    tcase_add_test(tc, revocation_races_handshakes);
    suite_add_tcase(s, tc);
    return s;
}
