/*
 * tests/integration/test_realm_events.c - the events of the realm, vlob
 * and message commands as clients receive them: the commands through
 * lighttpd, a real parsec-notifyd on the same database, real websocket
 * clients (docs/events.md; parsec-2.12-behaviour.md 9.2):
 *
 * - realm.roles_updated reaches every device of the user whose role
 *   changed, the acting device included, and moves the realm in or out of
 *   that user's connections at once;
 * - realm.vlobs_updated reaches the realm's members but the writing device
 *   (the writer's other devices included), and no one outside the realm;
 * - realm.maintenance_started/_finished likewise;
 * - message.received reaches every device of the recipient, the sender's
 *   own devices included, after the realm.roles_updated it comes with.
 *
 * A ping (received by every device but the pinging one) closes each step:
 * what a connection received before it is all it received.
 */
#include "test_notifyd_lib.h"
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next message of c is event name; it is returned (json_object_put). */
static json_object *expect_event(wsclient_t *c, const char *name)
{
    return ndt_expect(c, name, NDT_WAIT);
}

/* carol pings "mark"; each connection of cs[0..n) must get it next. */
static void mark(const pclient_device_t *carol, wsclient_t **cs, int n)
{
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("mark"));
    porg_expect(ut_srv, carol, req, "ok");
    for (int i = 0; i < n; i++)
        ndt_expect_ping(cs[i], "mark", NDT_WAIT);
}

START_TEST(realm_events_reach_members)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *adm2 = porg_device(ut_srv, o->admin, "dev2");
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    pclient_device_t *carol = porg_user(ut_srv, o, o->admin, "carol@d", "STANDARD", NULL, NULL);
    ndt_proc_t *nd = ndt_start(porg_srv_db(ut_srv), NULL);
    wsclient_ctx_t *ctx = wsclient_ctx_new(8);
    const pclient_device_t *devs[] = {o->admin, adm2, bob, bob2};
    wsclient_t *ws[4];
    for (int i = 0; i < 4; i++) {
        ndt_dev_t n = ndt_dev_of(devs[i], o->root.pub);
        ws[i] = ndt_connect(ctx, nd->port, &n);
    }
    wsclient_t **wa = &ws[0], **wb = &ws[2];

    /* realm_create: both devices of admin, the acting one included */
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    for (int i = 0; i < 2; i++) {
        json_object *e = expect_event(wa[i], "realm.roles_updated");
        ck_assert_str_eq(ndt_str(e, "realm_id"), rl_hex(realm));
        ck_assert_str_eq(ndt_str(e, "role"), "OWNER");
        json_object_put(e);
    }
    mark(carol, ws, 4);

    /* a write before bob is a member reaches admin's other device only */
    rl_id(v);
    rl_vlob_create(o->admin, realm, v, "v1");
    json_object *e = expect_event(wa[1], "realm.vlobs_updated");
    ck_assert_int_eq(rl_int(e, "checkpoint"), 1);
    ck_assert_str_eq(ndt_str(e, "src_id"), rl_hex(v));
    ck_assert_int_eq(rl_int(e, "src_version"), 1);
    json_object_put(e);
    mark(carol, ws, 4);

    /* bob given a role with a message: both his devices get the role, then
     * the message; then the realm's writes reach them at once */
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "READER", rl_now(), "hello"), "ok");
    for (int i = 0; i < 2; i++) {
        e = expect_event(wb[i], "realm.roles_updated");
        ck_assert_str_eq(ndt_str(e, "role"), "READER");
        json_object_put(e);
        e = expect_event(wb[i], "message.received");
        ck_assert_int_eq(rl_int(e, "index"), 1);
        json_object_put(e);
    }
    mark(carol, ws, 4);
    rl_vlob_update(o->admin, 1, v, 2, "v2");
    for (int i = 1; i < 4; i++) {
        e = expect_event(ws[i], "realm.vlobs_updated");
        ck_assert_int_eq(rl_int(e, "src_version"), 2);
        json_object_put(e);
    }
    mark(carol, ws, 4);

    /* maintenance: members but the acting device; each participant's
     * message, the sender's own devices included */
    const char *users[] = {"admin", "bob"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), users, 2), "ok");
    for (int i = 1; i < 4; i++) {
        e = expect_event(ws[i], "realm.maintenance_started");
        ck_assert_int_eq(rl_int(e, "encryption_revision"), 2);
        json_object_put(e);
    }
    for (int i = 0; i < 4; i++) {
        e = expect_event(ws[i], "message.received");
        ck_assert_int_eq(rl_int(e, "index"), i < 2 ? 1 : 2);
        json_object_put(e);
    }
    mark(carol, ws, 4);
    json_object *list = json_object_new_array();
    uint8_t *ids[] = {v, v};
    for (int k = 0; k < 2; k++) {
        json_object *en = json_object_new_object();
        json_object_object_add(en, "vlob_id", json_object_new_string(rl_hex(ids[k])));
        json_object_object_add(en, "version", json_object_new_int(k + 1));
        json_object_object_add(en, "blob", pclient_json_bytes("re", 2));
        json_object_array_add(list, en);
    }
    porg_expect(
        ut_srv, o->admin,
        set_json(rl_req_realm_revision("vlob_maintenance_save_reencryption_batch", realm, 2),
                 "batch", list),
        "ok");
    porg_expect(ut_srv, o->admin,
                rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2), "ok");
    for (int i = 1; i < 4; i++)
        json_object_put(expect_event(ws[i], "realm.maintenance_finished"));
    mark(carol, ws, 4);

    /* bob removed: his devices learn it, then nothing of the realm */
    rl_share(o->admin, realm, "bob", NULL);
    for (int i = 0; i < 2; i++) {
        e = expect_event(wb[i], "realm.roles_updated");
        ck_assert(json_object_object_get(e, "role") == NULL);
        json_object_put(e);
    }
    rl_vlob_update(o->admin, 2, v, 3, "v3");
    json_object_put(expect_event(wa[1], "realm.vlobs_updated"));
    mark(carol, ws, 4);

    wsclient_ctx_free(ctx);
    ck_assert_int_eq(ndt_stop(nd), 0);
    pclient_device_free(carol);
    pclient_device_free(bob2);
    pclient_device_free(bob);
    pclient_device_free(adm2);
    porg_free(o);
}
END_TEST

TEST_SUITE(realm_events)
{
    Suite *s = suite_create("realm_events");
    TCase *tc = ut_tcase("events");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, realm_events_reach_members);
    suite_add_tcase(s, tc);
    return s;
}
