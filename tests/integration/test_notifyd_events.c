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

/* The src_id the realm tests publish. */
static const uint8_t src_id[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
#define SRC_ID_HEX "0123456789abcdef0123456789abcdef"

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
    event_t ev = {.type = EVENT_PINGED, .org = "ORGA", .author = "alice@a1", .ping = "rolled back"};
    ndt_publish(f.pub, &ev, false);
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
    event_t ev = {.type = EVENT_MESSAGE_RECEIVED,
                  .org = "ORGA",
                  .author = "alice@a1",
                  .user = "bob",
                  .index = 3};
    ndt_publish(f.pub, &ev, true);
    json_object *m = ndt_expect(f.wb1, "message.received", NDT_WAIT);
    ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"event\":\"message.received\",\"index\":3}");
    json_object_put(m);
    /* To alice: both her devices, and only in her organization. */
    event_t ev2 = {.type = EVENT_MESSAGE_RECEIVED,
                   .org = "ORGA",
                   .author = "bob@b1",
                   .user = "alice",
                   .index = 1};
    ndt_publish(f.pub, &ev2, true);
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
    event_t ev = {.type = EVENT_INVITE_STATUS_CHANGED,
                  .org = "ORGA",
                  .author = "alice@a1",
                  .user = "alice",
                  .invitation_status = EVENT_INVITATION_READY};
    memcpy(ev.token, tok, 16);
    /* Caused by alice@a1 herself: she gets it too (not excluded). */
    ndt_publish(f.pub, &ev, true);
    wsclient_t *to[] = {f.wa1, f.wa2};
    for (int i = 0; i < 2; i++) {
        json_object *m = ndt_expect(to[i], "invite.status_changed", NDT_WAIT);
        ck_assert_str_eq(ndt_str(m, "token"), tokhex);
        ck_assert_str_eq(ndt_str(m, "invitation_status"), "READY");
        json_object_put(m);
    }
    barrier(&f, "end1");

    event_t ev2 = {.type = EVENT_INVITE_CONDUIT_UPDATED, .org = "ORGA", .user = "bob"};
    memcpy(ev2.token, tok, 16);
    ndt_publish(f.pub, &ev2, true);
    json_object *m = ndt_expect(f.wb1, "invite.conduit_updated", NDT_WAIT);
    ck_assert_str_eq(ndt_str(m, "token"), tokhex);
    json_object_put(m);
    barrier(&f, "end2");
    fx_fini(&f);
}
END_TEST

static void publish_vlob_in(fx_t *f, const char *org, const char *author, int checkpoint)
{
    event_t ev = {.type = EVENT_REALM_VLOBS_UPDATED,
                  .org = org,
                  .author = author,
                  .checkpoint = checkpoint,
                  .src_version = 7};
    memcpy(ev.realm_id, f->realm, 16);
    memcpy(ev.src_id, src_id, 16);
    ndt_publish(f->pub, &ev, true);
}

static void publish_vlob(fx_t *f, const char *author, int checkpoint)
{
    publish_vlob_in(f, "ORGA", author, checkpoint);
}

static void publish_role(fx_t *f, const char *user, event_realm_role role)
{
    event_t ev = {.type = EVENT_REALM_ROLES_UPDATED,
                  .org = "ORGA",
                  .author = "alice@a1",
                  .user = user,
                  .role = role};
    memcpy(ev.realm_id, f->realm, 16);
    ndt_publish(f->pub, &ev, true);
}

static void publish_maintenance(fx_t *f, event_type type, int64_t revision)
{
    event_t ev = {
        .type = type, .org = "ORGA", .author = "alice@a2", .encryption_revision = revision};
    memcpy(ev.realm_id, f->realm, 16);
    ndt_publish(f->pub, &ev, true);
}

static void expect_vlob(fx_t *f, wsclient_t *c, int checkpoint)
{
    json_object *m = ndt_expect(c, "realm.vlobs_updated", NDT_WAIT);
    char want[256];
    snprintf(want, sizeof want,
             "{\"status\":\"ok\",\"event\":\"realm.vlobs_updated\",\"realm_id\":\"%s\","
             "\"checkpoint\":%d,\"src_id\":\"" SRC_ID_HEX "\","
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
    publish_role(&f, "bob", EVENT_ROLE_READER);
    json_object *m = ndt_expect(f.wb1, "realm.roles_updated", NDT_WAIT);
    ck_assert_str_eq(ndt_str(m, "realm_id"), f.realm_hex);
    ck_assert_str_eq(ndt_str(m, "role"), "READER");
    json_object_put(m);
    publish_vlob(&f, "alice@a1", 2);
    expect_vlob(&f, f.wa2, 2);
    expect_vlob(&f, f.wb1, 2);
    barrier(&f, "end2");

    /* Maintenance events follow the same rule. */
    publish_maintenance(&f, EVENT_REALM_MAINTENANCE_STARTED, 2);
    publish_maintenance(&f, EVENT_REALM_MAINTENANCE_FINISHED, 2);
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
    publish_role(&f, "bob", EVENT_ROLE_NONE);
    m = ndt_expect(f.wb1, "realm.roles_updated", NDT_WAIT);
    json_object *role = NULL;
    ck_assert(json_object_object_get_ex(m, "role", &role));
    ck_assert_ptr_null(role);
    json_object_put(m);
    publish_vlob(&f, "alice@a2", 3);
    expect_vlob(&f, f.wa1, 3);
    barrier(&f, "end4");

    /* The same realm id in the other organization is another realm. */
    publish_vlob_in(&f, "ORGB", "carol@c1", 9);
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
    event_t ev = {.type = EVENT_PKI_ENROLLMENT_UPDATED, .org = "ORGA"};
    ndt_publish(f.pub, &ev, true);
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
    event_t ev = {.type = EVENT_USER_REVOKED, .org = "ORGA", .author = "alice@a1", .user = "bob"};
    ndt_publish(f.pub, &ev, true);
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
    event_t ev = {.type = EVENT_ORGANIZATION_EXPIRED, .org = "ORGA"};
    ndt_publish(f.pub, &ev, true);
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

/* The next notification on l (malloc'd payload), or NULL after 2 s. */
static char *next_payload(PGconn *l)
{
    for (int i = 0; i < 200; i++) {
        ck_assert(PQconsumeInput(l));
        PGnotify *n = PQnotifies(l);
        if (n) {
            char *p = strdup(n->extra);
            PQfreemem(n);
            return p;
        }
        usleep(10000);
    }
    return NULL;
}

/* The next notification on l decodes to want (envelope and every field). */
static void expect_published(PGconn *l, const event_t *want)
{
    char *payload = next_payload(l);
    ck_assert_msg(payload != NULL, "no notification for %s", event_type_name(want->type));
    arena_t *a = arena_new();
    event_t got;
    const char *why = NULL;
    ck_assert_msg(event_decode(a, payload, strlen(payload), &got, &why), "%s: %s", payload, why);
    ck_assert_int_eq(got.type, want->type);
    ck_assert_str_eq(got.org, want->org);
    ck_assert_str_eq(got.author ? got.author : "(null)", want->author ? want->author : "(null)");
    ck_assert_str_eq(got.user ? got.user : "(null)", want->user ? want->user : "(null)");
    ck_assert_str_eq(got.ping ? got.ping : "(null)", want->ping ? want->ping : "(null)");
    ck_assert_mem_eq(got.realm_id, want->realm_id, 16);
    ck_assert_mem_eq(got.token, want->token, 16);
    ck_assert_mem_eq(got.src_id, want->src_id, 16);
    ck_assert_int_eq(got.index, want->index);
    ck_assert_int_eq(got.checkpoint, want->checkpoint);
    ck_assert_int_eq(got.src_version, want->src_version);
    ck_assert_int_eq(got.encryption_revision, want->encryption_revision);
    ck_assert_int_eq(got.invitation_status, want->invitation_status);
    ck_assert_int_eq(got.role, want->role);
    arena_free(a);
    free(payload);
}

/* common/event.h's publishers, through a real pg_notify: each typed
 * publisher's payload, as a LISTENing connection receives it, decodes to
 * what it was given; an invalid event is refused, never published. */
START_TEST(event_publish_contract)
{
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
    PGconn *l = testenv_pg_connect(url);
    ndt_sql(l, "LISTEN " EVENT_CHANNEL, 0, NULL);

    /* The refusals below log an ERROR line each: keep them out of the
     * test output. */
    ck_assert(log_open(CFG_LOG_CRITICAL, CFG_LOG_CONSOLE, NULL, "test", err, sizeof err));
    ck_assert(!event_publish_pinged(c, "bad org!", NULL, "p"));
    ck_assert(!event_publish_pinged(c, "ORG", "not-a-device", "p"));
    ck_assert(!event_publish_user_revoked(c, "ORG", NULL, "bad user!"));
    ck_assert(!event_publish_message_received(c, "ORG", NULL, "bob", -1));
    uint8_t id[16] = {1, 2, 3};
    ck_assert(!event_publish_realm_roles_updated(c, "ORG", NULL, id, "bob", EVENT_ROLE__COUNT));
    ck_assert(
        !event_publish_invite_status_changed(c, "ORG", NULL, "bob", id, EVENT_INVITATION__COUNT));
    /* Past NOTIFY's size: refused, never cut. */
    char *big = malloc(9000);
    memset(big, 'x', 8999);
    big[8999] = '\0';
    ck_assert(!event_publish_pinged(c, "ORG", NULL, big));
    free(big);
    log_close();
    char *stray = next_payload(l);
    ck_assert_msg(stray == NULL, "a refused event was published: %s", stray);

    /* The exact payload of one (docs/events.md, "Producers"). */
    ck_assert(event_publish_pinged(c, "ORG", "a@b", "p"));
    char *payload = next_payload(l);
    ck_assert_ptr_nonnull(payload);
    /* "n": a counter's value (see identical_events_one_transaction) */
    static const char head[] = "{\"o\":\"ORG\",\"t\":\"pinged\",\"a\":\"a@b\",\"n\":";
    static const char tail[] = ",\"ping\":\"p\"}";
    ck_assert_msg(strncmp(payload, head, strlen(head)) == 0, "payload %s", payload);
    const char *digits = payload + strlen(head);
    size_t nd = strspn(digits, "0123456789");
    ck_assert_msg(nd > 0 && strcmp(digits + nd, tail) == 0, "payload %s", payload);
    free(payload);

    /* Every typed publisher, outside a transaction: delivered at once. */
    uint8_t realm[16], token[16], src[16];
    pclient_uuid_random(realm);
    pclient_uuid_random(token);
    pclient_uuid_random(src);
    event_t want;
    ck_assert(event_publish_pinged(c, "ORG", "alice@dev1", "hello é"));
    want = (event_t){.type = EVENT_PINGED, .org = "ORG", .author = "alice@dev1", .ping = "hello é"};
    expect_published(l, &want);
    ck_assert(event_publish_message_received(c, "ORG", "alice@dev1", "bob", 42));
    want = (event_t){.type = EVENT_MESSAGE_RECEIVED,
                     .org = "ORG",
                     .author = "alice@dev1",
                     .user = "bob",
                     .index = 42};
    expect_published(l, &want);
    ck_assert(event_publish_invite_status_changed(c, "ORG", NULL, "alice", token,
                                                  EVENT_INVITATION_DELETED));
    want = (event_t){.type = EVENT_INVITE_STATUS_CHANGED,
                     .org = "ORG",
                     .user = "alice",
                     .invitation_status = EVENT_INVITATION_DELETED};
    memcpy(want.token, token, 16);
    expect_published(l, &want);
    ck_assert(event_publish_invite_conduit_updated(c, "ORG", "claimer@x", "alice", token));
    want = (event_t){
        .type = EVENT_INVITE_CONDUIT_UPDATED, .org = "ORG", .author = "claimer@x", .user = "alice"};
    memcpy(want.token, token, 16);
    expect_published(l, &want);
    for (event_realm_role r = EVENT_ROLE_NONE; r < EVENT_ROLE__COUNT; r++) {
        ck_assert(event_publish_realm_roles_updated(c, "ORG", "alice@dev1", realm, "bob", r));
        want = (event_t){.type = EVENT_REALM_ROLES_UPDATED,
                         .org = "ORG",
                         .author = "alice@dev1",
                         .user = "bob",
                         .role = r};
        memcpy(want.realm_id, realm, 16);
        expect_published(l, &want);
    }
    ck_assert(event_publish_realm_vlobs_updated(c, "ORG", "alice@dev1", realm, 7, src, 3));
    want = (event_t){.type = EVENT_REALM_VLOBS_UPDATED,
                     .org = "ORG",
                     .author = "alice@dev1",
                     .checkpoint = 7,
                     .src_version = 3};
    memcpy(want.realm_id, realm, 16);
    memcpy(want.src_id, src, 16);
    expect_published(l, &want);
    ck_assert(event_publish_realm_maintenance_started(c, "ORG", "alice@dev1", realm, 2));
    want = (event_t){.type = EVENT_REALM_MAINTENANCE_STARTED,
                     .org = "ORG",
                     .author = "alice@dev1",
                     .encryption_revision = 2};
    memcpy(want.realm_id, realm, 16);
    expect_published(l, &want);
    ck_assert(event_publish_realm_maintenance_finished(c, "ORG", "alice@dev1", realm, 3));
    want.type = EVENT_REALM_MAINTENANCE_FINISHED;
    want.encryption_revision = 3;
    expect_published(l, &want);
    ck_assert(event_publish_pki_enrollment_updated(c, "ORG", NULL));
    want = (event_t){.type = EVENT_PKI_ENROLLMENT_UPDATED, .org = "ORG"};
    expect_published(l, &want);
    ck_assert(event_publish_user_revoked(c, "ORG", "admin@dev1", "bob"));
    want =
        (event_t){.type = EVENT_USER_REVOKED, .org = "ORG", .author = "admin@dev1", .user = "bob"};
    expect_published(l, &want);
    ck_assert(event_publish_organization_expired(c, "ORG", NULL));
    want = (event_t){.type = EVENT_ORGANIZATION_EXPIRED, .org = "ORG"};
    expect_published(l, &want);

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
    (void)arg;
    for (int i = 0; i < 2; i++)
        if (!event_publish_pinged(c, "ORGA", "alice@a1", "twice"))
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
    ck_assert_int_eq(db_tx(c, publish_twice, NULL), DB_TX_COMMIT);
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
