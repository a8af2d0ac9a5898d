/*
 * tests/integration/test_notifyd_events.c - who receives what (docs/events.md)
 *
 * Two organizations that reuse the same ids, several users and devices:
 *
 *   ORGA: alice@a1, alice@a2 (ADMIN), bob@b1 (STANDARD)
 *   ORGB: alice@a1 (same ids, another organization), carol@c1
 *
 * Events are published with event_publish() inside db_tx() as handlers do.
 * "Nothing else arrived" is proven with a barrier: a last ping from a device
 * nobody uses must be each client's next message, since NOTIFY keeps commit
 * order and each connection's queue is FIFO.
 */
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *url;
    PGconn *pg;
    ndt_proc_t *nd;
    ndt_pub_t *pub;
    wsclient_ctx_t *ctx;
    pclient_key_t ra, rb;
    ndt_dev_t a1, a2, b1, xa1, c1;
    wsclient_t *wa1, *wa2, *wb1, *wxa1, *wc1;
    uint8_t realm[16];
    char realm_hex[33];
} fx_t;

static void hex16(const uint8_t b[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Seed everything; alice is OWNER of realm (loaded at handshake). */
static void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->url = testenv_db_create();
    f->pg = testenv_pg_connect(f->url);
    pclient_key_generate(&f->ra);
    pclient_key_generate(&f->rb);
    ndt_dev_make(&f->a1, f->pg, "ORGA", &f->ra, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&f->a2, f->pg, "ORGA", &f->ra, "alice@a2", NULL, false, false);
    ndt_dev_make(&f->b1, f->pg, "ORGA", &f->ra, "bob@b1", "STANDARD", false, true);
    ndt_dev_make(&f->xa1, f->pg, "ORGB", &f->rb, "alice@a1", "STANDARD", true, true);
    ndt_dev_make(&f->c1, f->pg, "ORGB", &f->rb, "carol@c1", "ADMIN", false, true);
    pclient_uuid_random(f->realm);
    hex16(f->realm, f->realm_hex);
    ndt_realm(f->pg, "ORGA", f->realm);
    ndt_role(f->pg, "ORGA", f->realm, "alice", "OWNER");

    f->nd = ndt_start(f->url, NULL);
    f->pub = ndt_pub_new(f->url);
    f->ctx = wsclient_ctx_new(32);
    f->wa1 = ndt_connect(f->ctx, f->nd->port, &f->a1);
    f->wa2 = ndt_connect(f->ctx, f->nd->port, &f->a2);
    f->wb1 = ndt_connect(f->ctx, f->nd->port, &f->b1);
    f->wxa1 = ndt_connect(f->ctx, f->nd->port, &f->xa1);
    f->wc1 = ndt_connect(f->ctx, f->nd->port, &f->c1);
}

static void fx_fini(fx_t *f)
{
    wsclient_ctx_free(f->ctx);
    ck_assert_int_eq(ndt_stop(f->nd), 0);
    ndt_pub_free(f->pub);
    PQfinish(f->pg);
    testenv_db_drop(f->url);
    free(f->url);
}

/* The barrier: a ping in both organizations from a device nobody uses; it
 * must be the next message of every open client. */
static void barrier(fx_t *f, const char *text)
{
    ndt_ping(f->pub, "ORGA", "nobody@x", text);
    ndt_ping(f->pub, "ORGB", "nobody@x", text);
    wsclient_t *all[] = {f->wa1, f->wa2, f->wb1, f->wxa1, f->wc1};
    for (size_t i = 0; i < 5; i++)
        if (all[i] && wsclient_get_state(all[i]) == WSCLIENT_OPEN)
            ndt_expect_ping(all[i], text, NDT_WAIT);
}

static json_object *fields(void)
{
    return json_object_new_object();
}

START_TEST(pinged_scoping)
{
    fx_t f;
    fx_init(&f);
    ndt_ping(f.pub, "ORGA", "alice@a1", "p1");
    ndt_ping(f.pub, "ORGB", "carol@c1", "p2");
    /* Every device of the organization but the sender, the sender's other
     * devices included; nobody of the other organization, even with the
     * sender's very ids. */
    ndt_expect_ping(f.wa2, "p1", NDT_WAIT);
    ndt_expect_ping(f.wb1, "p1", NDT_WAIT);
    ndt_expect_ping(f.wxa1, "p2", NDT_WAIT);
    barrier(&f, "end1");

    /* A rolled-back transaction publishes nothing. */
    json_object *fl = fields();
    json_object_object_add(fl, "ping", json_object_new_string("rolled back"));
    ndt_publish(f.pub, "ORGA", EVENT_PINGED, "alice@a1", fl, false);
    barrier(&f, "end2");

    /* No author: everyone of the organization. */
    ndt_ping(f.pub, "ORGA", NULL, "anonymous");
    ndt_expect_ping(f.wa1, "anonymous", NDT_WAIT);
    ndt_expect_ping(f.wa2, "anonymous", NDT_WAIT);
    ndt_expect_ping(f.wb1, "anonymous", NDT_WAIT);
    barrier(&f, "end3");

    /* The client JSON: exactly status, event, ping. */
    ndt_ping(f.pub, "ORGA", "bob@b1", "shape \"quoted\" é");
    json_object *m = ndt_expect(f.wa1, "pinged", NDT_WAIT);
    ck_assert_str_eq(
        json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
        "{\"status\":\"ok\",\"event\":\"pinged\",\"ping\":\"shape \\\"quoted\\\" é\"}");
    json_object_put(m);
    fx_fini(&f);
}
END_TEST

START_TEST(message_received)
{
    fx_t f;
    fx_init(&f);
    json_object *fl = fields();
    json_object_object_add(fl, "recipient", json_object_new_string("bob"));
    json_object_object_add(fl, "index", json_object_new_int(3));
    ndt_publish(f.pub, "ORGA", EVENT_MESSAGE_RECEIVED, "alice@a1", fl, true);
    json_object *m = ndt_expect(f.wb1, "message.received", NDT_WAIT);
    ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"event\":\"message.received\",\"index\":3}");
    json_object_put(m);
    /* To alice: both her devices, and only in her organization. */
    fl = fields();
    json_object_object_add(fl, "recipient", json_object_new_string("alice"));
    json_object_object_add(fl, "index", json_object_new_int(1));
    ndt_publish(f.pub, "ORGA", EVENT_MESSAGE_RECEIVED, "bob@b1", fl, true);
    json_object_put(ndt_expect(f.wa1, "message.received", NDT_WAIT));
    json_object_put(ndt_expect(f.wa2, "message.received", NDT_WAIT));
    barrier(&f, "end");
    fx_fini(&f);
}
END_TEST

START_TEST(invite_events)
{
    fx_t f;
    fx_init(&f);
    uint8_t tok[16];
    char tokhex[33];
    pclient_uuid_random(tok);
    hex16(tok, tokhex);
    json_object *fl = fields();
    json_object_object_add(fl, "greeter", json_object_new_string("alice"));
    json_object_object_add(fl, "token", json_object_new_string(tokhex));
    json_object_object_add(fl, "status", json_object_new_string("READY"));
    /* Caused by alice@a1 herself: she gets it too (not excluded). */
    ndt_publish(f.pub, "ORGA", EVENT_INVITE_STATUS_CHANGED, "alice@a1", fl, true);
    wsclient_t *to[] = {f.wa1, f.wa2};
    for (int i = 0; i < 2; i++) {
        json_object *m = ndt_expect(to[i], "invite.status_changed", NDT_WAIT);
        ck_assert_str_eq(ndt_str(m, "token"), tokhex);
        ck_assert_str_eq(ndt_str(m, "invitation_status"), "READY");
        json_object_put(m);
    }
    barrier(&f, "end1");

    fl = fields();
    json_object_object_add(fl, "greeter", json_object_new_string("bob"));
    json_object_object_add(fl, "token", json_object_new_string(tokhex));
    ndt_publish(f.pub, "ORGA", EVENT_INVITE_CONDUIT_UPDATED, NULL, fl, true);
    json_object *m = ndt_expect(f.wb1, "invite.conduit_updated", NDT_WAIT);
    ck_assert_str_eq(ndt_str(m, "token"), tokhex);
    json_object_put(m);
    barrier(&f, "end2");
    fx_fini(&f);
}
END_TEST

static void publish_vlob(fx_t *f, const char *author, int checkpoint)
{
    json_object *fl = fields();
    json_object_object_add(fl, "realm_id", json_object_new_string(f->realm_hex));
    json_object_object_add(fl, "checkpoint", json_object_new_int(checkpoint));
    json_object_object_add(fl, "src_id",
                           json_object_new_string("0123456789abcdef0123456789abcdef"));
    json_object_object_add(fl, "src_version", json_object_new_int(7));
    ndt_publish(f->pub, "ORGA", EVENT_REALM_VLOBS_UPDATED, author, fl, true);
}

static void publish_role(fx_t *f, const char *user, const char *role)
{
    json_object *fl = fields();
    json_object_object_add(fl, "realm_id", json_object_new_string(f->realm_hex));
    json_object_object_add(fl, "user", json_object_new_string(user));
    json_object_object_add(fl, "role", role ? json_object_new_string(role) : NULL);
    ndt_publish(f->pub, "ORGA", EVENT_REALM_ROLES_UPDATED, "alice@a1", fl, true);
}

static void expect_vlob(fx_t *f, wsclient_t *c, int checkpoint)
{
    json_object *m = ndt_expect(c, "realm.vlobs_updated", NDT_WAIT);
    char want[256];
    snprintf(want, sizeof want,
             "{\"status\":\"ok\",\"event\":\"realm.vlobs_updated\",\"realm_id\":\"%s\","
             "\"checkpoint\":%d,\"src_id\":\"0123456789abcdef0123456789abcdef\","
             "\"src_version\":7}",
             f->realm_hex, checkpoint);
    ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), want);
    json_object_put(m);
}

START_TEST(realm_membership)
{
    fx_t f;
    fx_init(&f);
    /* alice is a member (from the database at handshake); her writing
     * device is excluded, her other device is not; bob is no member. */
    publish_vlob(&f, "alice@a1", 1);
    expect_vlob(&f, f.wa2, 1);
    barrier(&f, "end1");

    /* bob gets a role: he is told, and receives the realm's events from
     * then on. */
    publish_role(&f, "bob", "READER");
    json_object *m = ndt_expect(f.wb1, "realm.roles_updated", NDT_WAIT);
    ck_assert_str_eq(ndt_str(m, "realm_id"), f.realm_hex);
    ck_assert_str_eq(ndt_str(m, "role"), "READER");
    json_object_put(m);
    publish_vlob(&f, "alice@a1", 2);
    expect_vlob(&f, f.wa2, 2);
    expect_vlob(&f, f.wb1, 2);
    barrier(&f, "end2");

    /* Maintenance events follow the same rule. */
    json_object *fl = fields();
    json_object_object_add(fl, "realm_id", json_object_new_string(f.realm_hex));
    json_object_object_add(fl, "encryption_revision", json_object_new_int(2));
    ndt_publish(f.pub, "ORGA", EVENT_REALM_MAINTENANCE_STARTED, "alice@a2", fl, true);
    fl = fields();
    json_object_object_add(fl, "realm_id", json_object_new_string(f.realm_hex));
    json_object_object_add(fl, "encryption_revision", json_object_new_int(2));
    ndt_publish(f.pub, "ORGA", EVENT_REALM_MAINTENANCE_FINISHED, "alice@a2", fl, true);
    wsclient_t *to[] = {f.wa1, f.wb1};
    for (int i = 0; i < 2; i++) {
        m = ndt_expect(to[i], "realm.maintenance_started", NDT_WAIT);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(m, "encryption_revision")), 2);
        ck_assert_str_eq(ndt_str(m, "realm_id"), f.realm_hex);
        json_object_put(m);
        json_object_put(ndt_expect(to[i], "realm.maintenance_finished", NDT_WAIT));
    }
    barrier(&f, "end3");

    /* bob's role removed: told (role null), then nothing more. */
    publish_role(&f, "bob", NULL);
    m = ndt_expect(f.wb1, "realm.roles_updated", NDT_WAIT);
    json_object *role = NULL;
    ck_assert(json_object_object_get_ex(m, "role", &role));
    ck_assert_ptr_null(role);
    json_object_put(m);
    publish_vlob(&f, "alice@a2", 3);
    expect_vlob(&f, f.wa1, 3);
    barrier(&f, "end4");

    /* The same realm id in the other organization is another realm. */
    fl = fields();
    json_object_object_add(fl, "realm_id", json_object_new_string(f.realm_hex));
    json_object_object_add(fl, "checkpoint", json_object_new_int(9));
    json_object_object_add(fl, "src_id",
                           json_object_new_string("0123456789abcdef0123456789abcdef"));
    json_object_object_add(fl, "src_version", json_object_new_int(7));
    ndt_publish(f.pub, "ORGB", EVENT_REALM_VLOBS_UPDATED, "carol@c1", fl, true);
    barrier(&f, "end5");

    /* A connection made now loads its user's realms from the database. */
    wsclient_free(f.wb1);
    f.wb1 = NULL;
    ndt_role(f.pg, "ORGA", f.realm, "bob", "CONTRIBUTOR");
    wsclient_t *b1bis = ndt_connect(f.ctx, f.nd->port, &f.b1);
    publish_vlob(&f, "alice@a1", 4);
    expect_vlob(&f, b1bis, 4);
    expect_vlob(&f, f.wa2, 4);
    barrier(&f, "end6");
    ndt_expect_ping(b1bis, "end6", NDT_WAIT);
    fx_fini(&f);
}
END_TEST

START_TEST(pki_enrollment_admins)
{
    fx_t f;
    fx_init(&f);
    ndt_publish(f.pub, "ORGA", EVENT_PKI_ENROLLMENT_UPDATED, NULL, NULL, true);
    /* alice is ADMIN of ORGA; carol, ADMIN of ORGB, is not told (Parsec
     * 2.12's cross-organization bug is not reproduced). */
    json_object *m = ndt_expect(f.wa1, "pki_enrollment.updated", NDT_WAIT);
    ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"event\":\"pki_enrollment.updated\"}");
    json_object_put(m);
    json_object_put(ndt_expect(f.wa2, "pki_enrollment.updated", NDT_WAIT));
    barrier(&f, "end");
    fx_fini(&f);
}
END_TEST

START_TEST(revocation_closes)
{
    fx_t f;
    fx_init(&f);
    wsclient_t *b1bis = ndt_connect(f.ctx, f.nd->port, &f.b1);
    ndt_sql(f.pg,
            "UPDATE user_ SET revoked_on = now(), revoked_user_certificate = '\\x00' "
            "WHERE user_id = 'bob'",
            0, NULL);
    json_object *fl = fields();
    json_object_object_add(fl, "user", json_object_new_string("bob"));
    ndt_publish(f.pub, "ORGA", EVENT_USER_REVOKED, "alice@a1", fl, true);
    ndt_expect_closed(f.wb1, 4002, "user revoked", NDT_WAIT);
    ndt_expect_closed(b1bis, 4002, "user revoked", NDT_WAIT);
    /* Nothing was sent before the close; the others stay. */
    ck_assert_uint_eq(wsclient_pending(f.wb1), 0);
    f.wb1 = NULL;
    barrier(&f, "still here");
    /* And bob cannot come back. */
    wsclient_t *c = wsclient_connect(f.ctx, "127.0.0.1", f.nd->port, "/ws", false, NDT_WAIT);
    json_object *r = ndt_handshake(c, &f.b1);
    ck_assert_str_eq(ndt_str(r, "result"), "revoked_device");
    json_object_put(r);
    fx_fini(&f);
}
END_TEST

START_TEST(expiry_closes)
{
    fx_t f;
    fx_init(&f);
    ndt_sql(f.pg, "UPDATE organization SET is_expired = true WHERE organization_id = 'ORGA'", 0,
            NULL);
    ndt_publish(f.pub, "ORGA", EVENT_ORGANIZATION_EXPIRED, NULL, NULL, true);
    ndt_expect_closed(f.wa1, 4003, "organization expired", NDT_WAIT);
    ndt_expect_closed(f.wa2, 4003, "organization expired", NDT_WAIT);
    ndt_expect_closed(f.wb1, 4003, "organization expired", NDT_WAIT);
    f.wa1 = f.wa2 = f.wb1 = NULL;
    /* The other organization is untouched. */
    barrier(&f, "ORGB lives");
    fx_fini(&f);
}
END_TEST

START_TEST(malformed_payloads_dropped)
{
    fx_t f;
    fx_init(&f);
    /* Not from event_publish(): a buggy producer.  Each is dropped with a
     * log line; the daemon keeps serving. */
    const char *bad[] = {
        "garbage",
        "{}",
        "{\"o\":\"ORGA\",\"t\":\"pinged\",\"a\":null}",                 /* no ping */
        "{\"o\":\"ORGA\",\"t\":\"pinged\",\"a\":null,\"ping\":1}",      /* wrong type */
        "{\"o\":\"ORGA\",\"t\":\"nope\",\"a\":null}",                   /* unknown type */
        "{\"o\":\"ORGA\",\"t\":\"pinged\",\"a\":\"x\",\"ping\":\"p\"}", /* bad author */
        "{\"o\":\"ORGA\",\"t\":\"pinged\",\"a\":null,\"ping\":\"p\",\"more\":1}",
        "{\"o\":\"ORGA\",\"t\":\"realm.vlobs_updated\",\"a\":null,\"realm_id\":\"zz\","
        "\"checkpoint\":1,\"src_id\":\"0123456789abcdef0123456789abcdef\",\"src_version\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p[] = {EVENT_CHANNEL, bad[i]};
        ndt_sql(f.pg, "SELECT pg_notify($1, $2)", 2, p);
    }
    /* A NOTIFY on another channel is not ours either. */
    ndt_sql(f.pg, "NOTIFY other_channel, 'x'", 0, NULL);
    barrier(&f, "alive");
    char *log = ndt_log(f.nd);
    ck_assert_msg(strstr(log, "dropping a malformed event payload"), "no log line: %s", log);
    free(log);
    fx_fini(&f);
}
END_TEST

/* common/event.c's contract, producer side. */
START_TEST(event_publish_contract)
{
    for (int t = 0; t < EVENT__COUNT; t++) {
        event_type back;
        ck_assert(event_type_from_name(event_type_name((event_type)t), &back));
        ck_assert_int_eq(back, t);
    }
    event_type x;
    ck_assert(!event_type_from_name("nope", &x));
    ck_assert(!event_type_from_name(NULL, &x));
    ck_assert_str_eq(event_type_name(EVENT_REALM_VLOBS_UPDATED), "realm.vlobs_updated");

    char *url = testenv_db_create();
    cfg_t cfg;
    char err[256];
    char *env[] = {NULL};
    ck_assert_int_eq(cfg_parse(&cfg, 0, NULL, env, err, sizeof err, NULL, NULL), CFG_PARSE_OK);
    cfg.db_min_connections = cfg.db_max_connections = 1;
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_ptr_nonnull(pool);
    db_conn_t *c = db_acquire(pool);
    ck_assert_ptr_nonnull(c);
    /* The refusals below log an ERROR line each: keep them out of the
     * test output. */
    ck_assert(log_open(CFG_LOG_CRITICAL, CFG_LOG_CONSOLE, NULL, "test", err, sizeof err));
    /* The envelope's keys are not a producer's to set. */
    json_object *f = json_object_new_object();
    json_object_object_add(f, "o", json_object_new_string("OTHER"));
    ck_assert(!event_publish(c, "ORG", EVENT_PINGED, NULL, f));
    json_object_put(f);
    f = json_object_new_object();
    json_object_object_add(f, "n", json_object_new_int(1));
    ck_assert(!event_publish(c, "ORG", EVENT_PINGED, NULL, f));
    json_object_put(f);
    /* Past NOTIFY's size: refused, never cut. */
    char *big = malloc(9000);
    memset(big, 'x', 8999);
    big[8999] = '\0';
    f = json_object_new_object();
    json_object_object_add(f, "ping", json_object_new_string(big));
    ck_assert(!event_publish(c, "ORG", EVENT_PINGED, NULL, f));
    json_object_put(f);
    free(big);
    log_close();
    /* A normal one, outside a transaction, is delivered at once: seen by a
     * plain LISTENing connection with the documented payload. */
    PGconn *l = testenv_pg_connect(url);
    ndt_sql(l, "LISTEN " EVENT_CHANNEL, 0, NULL);
    f = json_object_new_object();
    json_object_object_add(f, "ping", json_object_new_string("p"));
    ck_assert(event_publish(c, "ORG", EVENT_PINGED, "a@b", f));
    json_object_put(f);
    PGnotify *n = NULL;
    for (int i = 0; i < 200 && !n; i++) {
        ck_assert(PQconsumeInput(l));
        n = PQnotifies(l);
        if (!n)
            usleep(10000);
    }
    ck_assert_ptr_nonnull(n);
    /* "n": a counter's value (see identical_events_one_transaction) */
    static const char head[] = "{\"o\":\"ORG\",\"t\":\"pinged\",\"a\":\"a@b\",\"n\":";
    static const char tail[] = ",\"ping\":\"p\"}";
    ck_assert_msg(strncmp(n->extra, head, strlen(head)) == 0, "payload %s", n->extra);
    const char *digits = n->extra + strlen(head);
    size_t nd = strspn(digits, "0123456789");
    ck_assert_msg(nd > 0 && strcmp(digits + nd, tail) == 0, "payload %s", n->extra);
    PQfreemem(n);
    PQfinish(l);
    db_release(pool, c);
    db_pool_close(pool);
    cfg_free(&cfg);
    testenv_db_drop(url);
    free(url);
}
END_TEST

/* Two equal events of one transaction: PostgreSQL would deliver identical
 * NOTIFY payloads of a transaction once; event_publish()'s "n" keeps them
 * apart, so both reach a LISTENing connection and the clients. */
static db_tx_result publish_twice(db_conn_t *c, void *arg)
{
    json_object *fl = arg;
    for (int i = 0; i < 2; i++)
        if (!event_publish(c, "ORGA", EVENT_PINGED, "alice@a1", fl))
            return DB_TX_ERROR;
    return DB_TX_COMMIT;
}

START_TEST(identical_events_one_transaction)
{
    fx_t f;
    fx_init(&f);
    PGconn *l = testenv_pg_connect(f.url);
    ndt_sql(l, "LISTEN " EVENT_CHANNEL, 0, NULL);
    cfg_t cfg;
    char err[256];
    char *env[] = {NULL};
    ck_assert_int_eq(cfg_parse(&cfg, 0, NULL, env, err, sizeof err, NULL, NULL), CFG_PARSE_OK);
    cfg.db_min_connections = cfg.db_max_connections = 1;
    db_pool_t *pool = db_pool_open(&cfg, f.url, err, sizeof err, NULL);
    ck_assert_msg(pool != NULL, "db_pool_open: %s", err);
    db_conn_t *c = db_acquire(pool);
    ck_assert_ptr_nonnull(c);
    json_object *fl = fields();
    json_object_object_add(fl, "ping", json_object_new_string("twice"));
    ck_assert_int_eq(db_tx(c, publish_twice, fl), DB_TX_COMMIT);
    json_object_put(fl);
    db_release(pool, c);
    db_pool_close(pool);
    cfg_free(&cfg);

    /* Two notifications, equal but for "n". */
    char *payload[2] = {NULL, NULL};
    for (int i = 0; i < 500 && !payload[1]; i++) {
        ck_assert(PQconsumeInput(l));
        PGnotify *n;
        while ((n = PQnotifies(l))) {
            ck_assert_msg(!payload[1], "a third notification: %s", n->extra);
            payload[payload[0] ? 1 : 0] = strdup(n->extra);
            PQfreemem(n);
        }
        if (!payload[1])
            usleep(10000);
    }
    ck_assert_msg(payload[0] && payload[1], "notifications received: %s, %s",
                  payload[0] ? payload[0] : "none", payload[1] ? payload[1] : "none");
    ck_assert_str_ne(payload[0], payload[1]);
    json_object *j[2];
    for (int i = 0; i < 2; i++) {
        j[i] = json_tokener_parse(payload[i]);
        ck_assert_ptr_nonnull(j[i]);
        json_object *nv = NULL;
        ck_assert(json_object_object_get_ex(j[i], "n", &nv));
        ck_assert(json_object_is_type(nv, json_type_int));
        json_object_object_del(j[i], "n");
    }
    ck_assert(json_object_equal(j[0], j[1]));
    json_object_put(j[0]);
    json_object_put(j[1]);
    free(payload[0]);
    free(payload[1]);
    PQfinish(l);

    /* notifyd decodes both and delivers both. */
    ndt_expect_ping(f.wa2, "twice", NDT_WAIT);
    ndt_expect_ping(f.wa2, "twice", NDT_WAIT);
    ndt_expect_ping(f.wb1, "twice", NDT_WAIT);
    ndt_expect_ping(f.wb1, "twice", NDT_WAIT);
    barrier(&f, "end");
    fx_fini(&f);
}
END_TEST

TEST_SUITE(notifyd_events)
{
    Suite *s = suite_create("notifyd_events");
    TCase *tc = tcase_create("events");
    testenv_db_setup();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pinged_scoping);
    tcase_add_test(tc, message_received);
    tcase_add_test(tc, invite_events);
    tcase_add_test(tc, realm_membership);
    tcase_add_test(tc, pki_enrollment_admins);
    tcase_add_test(tc, revocation_closes);
    tcase_add_test(tc, expiry_closes);
    tcase_add_test(tc, malformed_payloads_dropped);
    tcase_add_test(tc, event_publish_contract);
    tcase_add_test(tc, identical_events_one_transaction);
    suite_add_tcase(s, tc);
    return s;
}
