/*
 * tests/integration/test_cmd_realm.c - realm_create, realm_status,
 * realm_stats, realm_get_role_certificates and realm_update_roles through
 * lighttpd (two worker processes) and a real PostgreSQL: every status of
 * docs/protocol.md in its order, the permission and causality rules, the
 * messages of recipient_message, the events published (and only at
 * commit), and refusals that leave no trace.
 */
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- realm_create ---- */

START_TEST(create_ok)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    PGconn *ev = rl_listen();
    uint8_t realm[16];
    rl_id(realm);
    int64_t ts = rl_now();
    pclient_blob_t cert = rl_role_cert(o->admin, realm, "admin", "OWNER", ts);
    json_object *req = pclient_req("realm_create");
    json_object_object_add(req, "role_certificate", pclient_json_blob(&cert));
    porg_expect(ut_srv, o->admin, req, "ok");

    /* the event: the owner's role, published by the caller */
    json_object *e = rl_expect_event(ev, o->organization_id, "realm.roles_updated");
    ck_assert_str_eq(porg_str(e, "realm_id"), rl_hex(realm));
    ck_assert_str_eq(porg_str(e, "user"), "admin");
    ck_assert_str_eq(porg_str(e, "role"), "OWNER");
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    json_object_put(e);
    rl_expect_no_event(ev, o->organization_id);

    /* stored: revision 1, checkpoint 0, the certificate as received */
    char *hex = ut_hex(cert.data, cert.len);
    char *v = ut_sql("SELECT encode(rur.certificate, 'hex') FROM realm_user_role rur"
                     " JOIN realm r ON r._id = rur.realm JOIN organization o"
                     " ON o._id = r.organization WHERE o.organization_id = $1"
                     " AND r.encryption_revision = 1 AND r.checkpoint = 0"
                     " AND rur.role = 'OWNER'",
                     o->organization_id, NULL);
    ck_assert_str_eq(v, hex);
    free(v);
    free(hex);

    json_object *r = porg_call(ut_srv, o->admin, rl_req_realm("realm_status", realm));
    ck_assert_str_eq(porg_status(r), "ok");
    ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"in_maintenance\":false,\"maintenance_type\":null,"
                     "\"maintenance_started_on\":null,\"maintenance_started_by\":null,"
                     "\"encryption_revision\":1}");
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, rl_req_realm("realm_stats", realm));
    ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"blocks_size\":0,\"vlobs_size\":0}");
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, rl_req_realm("realm_get_role_certificates", realm));
    ck_assert_str_eq(porg_status(r), "ok");
    json_object *certs = json_object_object_get(r, "certificates");
    ck_assert_int_eq(json_object_array_length(certs), 1);
    char *b64 = pclient_b64(cert.data, cert.len);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(certs, 0)), b64);
    free(b64);
    json_object_put(r);

    /* an OUTSIDER creates its own realm too (its user manifest's) */
    pclient_device_t *out = porg_user(ut_srv, o, o->admin, "out@d", "OUTSIDER", NULL, NULL);
    uint8_t r2[16];
    rl_realm(out, r2);
    /* the same realm id in another organization is another realm */
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    porg_expect(ut_srv, o2->admin, rl_req_realm_create(o2->admin, realm, rl_now()), "ok");

    pclient_blob_free(&cert);
    pclient_device_free(out);
    porg_free(o2);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

START_TEST(create_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    PGconn *ev = rl_listen();
    uint8_t realm[16];
    rl_id(realm);
    int64_t now = rl_now();

    /* fields */
    json_object *base = rl_req_realm_create(o->admin, realm, now);
    ut_bad_bytes_field(o->admin, base, "role_certificate", 4160);
    /* the certificate: signature, author, type, strict payload */
    pclient_realm_role_certif_t c = {
        .author = "admin@dev1", .timestamp = now, .user_id = "admin", .role = "OWNER"};
    memcpy(c.realm_id, realm, 16);
    char *payload = pclient_realm_role_certif_payload(&c);
    pclient_revoked_user_certif_t rc = {"admin@dev1", now, "bob"};
    pclient_blob_t wrong = pclient_revoked_user_certif(&o->admin->key, &rc);
    ut_bad_certificates(o->admin, base, "role_certificate", payload, &wrong);
    free(payload);
    pclient_blob_free(&wrong);
    json_object_put(base);

    /* ballpark: 71 s late, 51 s early */
    int64_t bad_offsets[] = {-71 * RL_SEC, 51 * RL_SEC};
    for (int i = 0; i < 2; i++) {
        json_object *r = porg_call(ut_srv, o->admin,
                                   rl_req_realm_create(o->admin, realm, rl_now() + bad_offsets[i]));
        ck_assert_str_eq(porg_status(r), "bad_timestamp");
        ck_assert_str_eq(porg_str(r, "reason"), "Timestamp is out of date.");
        ck_assert_int_eq(json_object_object_length(r), 6);
        json_object_put(r);
    }
    /* not self-signed; not OWNER */
    porg_expect_no_trace(ut_srv, o->admin,
                         set_blob(pclient_req("realm_create"), "role_certificate",
                                  rl_role_cert(o->admin, realm, "bob", "OWNER", rl_now())),
                         "invalid_data", "Initial realm role certificate must be self-signed.");
    const char *roles[] = {"MANAGER", "CONTRIBUTOR", "READER", NULL};
    for (int i = 0; i < 4; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_blob(pclient_req("realm_create"), "role_certificate",
                                      rl_role_cert(o->admin, realm, "admin", roles[i], rl_now())),
                             "invalid_data", "Initial realm role certificate must set OWNER role.");
    rl_expect_no_event(ev, o->organization_id);

    /* already_exists: the same id again, by anyone of the organization */
    porg_expect(ut_srv, o->admin, rl_req_realm_create(o->admin, realm, rl_now()), "ok");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.roles_updated"));
    porg_expect_no_trace(ut_srv, o->admin, rl_req_realm_create(o->admin, realm, rl_now()),
                         "already_exists", NULL);
    porg_expect_no_trace(ut_srv, bob, rl_req_realm_create(bob, realm, rl_now()), "already_exists",
                         NULL);
    rl_expect_no_event(ev, o->organization_id);

    pclient_device_free(bob);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* ---- realm_status, realm_stats, realm_get_role_certificates ---- */

START_TEST(reads_access)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carol = porg_user(ut_srv, o, o->admin, "carol@d", "OUTSIDER", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], other[16], unknown[16];
    rl_realm(o->admin, realm);
    rl_realm(o2->admin, other);
    rl_id(unknown);
    rl_share(o->admin, realm, "carol", "READER");
    const char *cmds[] = {"realm_status", "realm_stats", "realm_get_role_certificates"};
    for (int i = 0; i < 3; i++) {
        char *reason = xasprintf("Realm `%s` doesn't exist", rl_hex(unknown));
        porg_expect_reason(ut_srv, o->admin, rl_req_realm(cmds[i], unknown), "not_found", reason);
        free(reason);
        /* another organization's realm is unknown here */
        reason = xasprintf("Realm `%s` doesn't exist", rl_hex(other));
        porg_expect_reason(ut_srv, o->admin, rl_req_realm(cmds[i], other), "not_found", reason);
        free(reason);
        porg_expect(ut_srv, bob, rl_req_realm(cmds[i], realm), "not_allowed");
        /* a READER (an OUTSIDER here) reads */
        porg_expect(ut_srv, carol, rl_req_realm(cmds[i], realm), "ok");
        json_object *base = rl_req_realm(cmds[i], realm);
        rl_bad_uuid_field(o->admin, base, "realm_id");
        json_object_put(base);
    }
    /* after its removal, carol no longer reads */
    rl_share(o->admin, realm, "carol", NULL);
    for (int i = 0; i < 3; i++)
        porg_expect(ut_srv, carol, rl_req_realm(cmds[i], realm), "not_allowed");
    json_object *r =
        porg_call(ut_srv, o->admin, rl_req_realm("realm_get_role_certificates", realm));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "certificates")), 3);
    json_object_put(r);

    pclient_device_free(carol);
    pclient_device_free(bob);
    porg_free(o2);
    porg_free(o);
}
END_TEST

/* ---- realm_update_roles ---- */

START_TEST(update_roles_ok_message_and_events)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    uint8_t realm[16];
    int64_t t0 = rl_realm(o->admin, realm);
    PGconn *ev = rl_listen();

    /* share with a message: the role, then the message, in that order */
    int64_t t1 = rl_now();
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "CONTRIBUTOR", t1, "welcome"), "ok");
    json_object *e = rl_expect_event(ev, o->organization_id, "realm.roles_updated");
    ck_assert_str_eq(porg_str(e, "user"), "bob");
    ck_assert_str_eq(porg_str(e, "role"), "CONTRIBUTOR");
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    json_object_put(e);
    e = rl_expect_event(ev, o->organization_id, "message.received");
    ck_assert_str_eq(porg_str(e, "recipient"), "bob");
    ck_assert_int_eq(rl_int(e, "index"), 1);
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    json_object_put(e);

    /* the message, from any device of bob */
    for (int i = 0; i < 2; i++) {
        json_object *r =
            porg_call(ut_srv, i ? bob2 : bob,
                      set_json(pclient_req("message_get"), "offset", json_object_new_int(0)));
        ck_assert_str_eq(porg_status(r), "ok");
        json_object *msgs = json_object_object_get(r, "messages");
        ck_assert_int_eq(json_object_array_length(msgs), 1);
        json_object *m = json_object_array_get_idx(msgs, 0);
        ck_assert_int_eq(rl_int(m, "count"), 1);
        ck_assert_str_eq(porg_str(m, "sender"), "admin@dev1");
        char *ts = pclient_datetime(t1);
        ck_assert_str_eq(porg_str(m, "timestamp"), ts);
        free(ts);
        char *body = rl_bytes(m, "body");
        ck_assert_str_eq(body, "welcome");
        free(body);
        json_object_put(r);
    }

    /* a null message is none; an empty one is delivered */
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_update_roles(o->admin, realm, "bob", "READER", rl_now(), NULL),
                         "recipient_message", NULL),
                "ok");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.roles_updated"));
    rl_expect_no_event(ev, o->organization_id);
    porg_expect(ut_srv, o->admin, rl_req_update_roles(o->admin, realm, "bob", NULL, rl_now(), ""),
                "ok");
    e = rl_expect_event(ev, o->organization_id, "realm.roles_updated");
    ck_assert(json_object_object_get(e, "role") == NULL);
    ck_assert(json_object_object_get_ex(e, "role", NULL));
    json_object_put(e);
    e = rl_expect_event(ev, o->organization_id, "message.received");
    ck_assert_int_eq(rl_int(e, "index"), 2);
    json_object_put(e);
    json_object *r = porg_call(
        ut_srv, bob, set_json(pclient_req("message_get"), "offset", json_object_new_int(1)));
    json_object *msgs = json_object_object_get(r, "messages");
    ck_assert_int_eq(json_object_array_length(msgs), 1);
    char *body = rl_bytes(json_object_array_get_idx(msgs, 0), "body");
    ck_assert_str_eq(body, "");
    free(body);
    json_object_put(r);

    /* the certificates, in order, byte for byte (the last is the removal) */
    r = porg_call(ut_srv, o->admin, rl_req_realm("realm_get_role_certificates", realm));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "certificates")), 4);
    json_object_put(r);
    /* the author's latest role update is recorded */
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM realm_user_change c"
                                 " JOIN user_ u ON u._id = c.user_"
                                 " JOIN organization o ON o._id = u.organization"
                                 " WHERE o.organization_id = $1 AND u.user_id = 'admin'"
                                 " AND c.last_role_change > to_timestamp($2::bigint / 1e6)",
                                 o->organization_id, "0", NULL),
                     1);
    (void)t0;

    pclient_device_free(bob2);
    pclient_device_free(bob);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

START_TEST(update_roles_refusals_in_order)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *out = porg_user(ut_srv, o, o->admin, "out@d", "OUTSIDER", NULL, NULL);
    pclient_device_t *gone = porg_user(ut_srv, o, o->admin, "gone@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *dave2 = porg_user(ut_srv, o2, o2->admin, "dave@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], unknown[16];
    rl_realm(o->admin, realm);
    rl_id(unknown);
    rl_share(o->admin, realm, "gone", "READER");
    porg_revoke(ut_srv, o->admin, "gone");
    PGconn *ev = rl_listen();

    /* 1. an OUTSIDER caller, before its fields are read */
    porg_expect_no_trace(ut_srv, out, pclient_req("realm_update_roles"), "not_allowed",
                         "Outsider user cannot share realm");
    porg_expect_no_trace(ut_srv, out,
                         rl_req_update_roles(out, realm, "bob", "READER", rl_now(), NULL),
                         "not_allowed", "Outsider user cannot share realm");
    /* 2. fields */
    json_object *base = rl_req_update_roles(o->admin, realm, "bob", "READER", rl_now(), "hi");
    ut_bad_bytes_field(o->admin, base, "role_certificate", 4160);
    json_object *bad_msg[] = {json_object_new_int(1), json_object_new_string("Zh=="),
                              json_object_new_array()};
    for (int i = 0; i < 3; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_json(ut_copy(base), "recipient_message", bad_msg[i]),
                             "bad_message", "recipient_message");
    /* 3. the certificate */
    pclient_realm_role_certif_t c = {
        .author = "admin@dev1", .timestamp = rl_now(), .user_id = "bob", .role = "READER"};
    memcpy(c.realm_id, realm, 16);
    char *payload = pclient_realm_role_certif_payload(&c);
    pclient_blob_t wrong = pclient_user_certif(&o->admin->key,
                                               &(pclient_user_certif_t){.author = "admin@dev1",
                                                                        .timestamp = rl_now(),
                                                                        .user_id = "x",
                                                                        .profile = "STANDARD",
                                                                        .is_admin = -1},
                                               false);
    ut_bad_certificates(o->admin, base, "role_certificate", payload, &wrong);
    free(payload);
    pclient_blob_free(&wrong);
    json_object_put(base);
    /* 4. ballpark */
    json_object *r = porg_call(
        ut_srv, o->admin,
        rl_req_update_roles(o->admin, realm, "bob", "READER", rl_now() - 100 * RL_SEC, NULL));
    ck_assert_str_eq(porg_status(r), "bad_timestamp");
    ck_assert_str_eq(porg_str(r, "reason"), "Timestamp is out of date.");
    json_object_put(r);
    /* 5. self-signed (even on an unknown realm) */
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, unknown, "admin", "READER", rl_now(), NULL),
                         "invalid_data", "Realm role certificate cannot be self-signed.");
    /* 6. unknown user, another organization's user; before the realm */
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, unknown, "nobody", "READER", rl_now(), NULL),
                         "not_found", "User `nobody` doesn't exist");
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, realm, "dave", "READER", rl_now(), NULL),
                         "not_found", "User `dave` doesn't exist");
    /* 7. revoked (a removal too), before the profile and the realm */
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, unknown, "gone", "OWNER", rl_now(), NULL),
                         "user_revoked", NULL);
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, realm, "gone", NULL, rl_now(), NULL),
                         "user_revoked", NULL);
    /* 8. an OUTSIDER is not MANAGER nor OWNER, before the realm */
    const char *high[] = {"MANAGER", "OWNER"};
    for (int i = 0; i < 2; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             rl_req_update_roles(o->admin, unknown, "out", high[i], rl_now(), NULL),
                             "incompatible_profile",
                             "User with OUTSIDER profile cannot be MANAGER or OWNER");
    /* 9. unknown realm */
    char *reason = xasprintf("Realm `%s` doesn't exist", rl_hex(unknown));
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, unknown, "bob", "READER", rl_now(), NULL),
                         "not_found", reason);
    free(reason);
    /* 10. in maintenance: see test_cmd_realm_maintenance.c (access) */
    /* 11. permission: bob has no role */
    porg_expect_no_trace(ut_srv, bob,
                         rl_req_update_roles(bob, realm, "out", "READER", rl_now(), NULL),
                         "not_allowed", NULL);
    /* an OUTSIDER may be READER or CONTRIBUTOR */
    rl_share(o->admin, realm, "out", "READER");
    rl_share(o->admin, realm, "out", "CONTRIBUTOR");
    rl_expect_no_event(ev, o2->organization_id);

    pclient_device_free(dave2);
    pclient_device_free(gone);
    pclient_device_free(out);
    pclient_device_free(bob);
    porg_free(o2);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* The permission rule of step 11, role by role. */
START_TEST(update_roles_permissions)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const char *names[] = {"own2", "man", "con", "rea", "x", "y"};
    pclient_device_t *d[6];
    for (int i = 0; i < 6; i++) {
        char *id = xasprintf("%s@d", names[i]);
        d[i] = porg_user(ut_srv, o, o->admin, id, "STANDARD", NULL, NULL);
        free(id);
    }
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "own2", "OWNER");
    rl_share(o->admin, realm, "man", "MANAGER");
    rl_share(o->admin, realm, "con", "CONTRIBUTOR");
    rl_share(o->admin, realm, "rea", "READER");

    /* a MANAGER gives and changes CONTRIBUTOR and READER roles, not more */
    rl_share(d[1], realm, "x", "READER");
    rl_share(d[1], realm, "x", "CONTRIBUTOR");
    rl_share(d[1], realm, "x", NULL);
    const char *high[] = {"MANAGER", "OWNER"};
    for (int i = 0; i < 2; i++)
        porg_expect_no_trace(ut_srv, d[1],
                             rl_req_update_roles(d[1], realm, "x", high[i], rl_now(), NULL),
                             "not_allowed", NULL);
    /* ... nor touches a MANAGER's or an OWNER's role */
    porg_expect_no_trace(ut_srv, d[1],
                         rl_req_update_roles(d[1], realm, "own2", "READER", rl_now(), NULL),
                         "not_allowed", NULL);
    rl_share(o->admin, realm, "y", "MANAGER");
    porg_expect_no_trace(ut_srv, d[1], rl_req_update_roles(d[1], realm, "y", NULL, rl_now(), NULL),
                         "not_allowed", NULL);
    /* CONTRIBUTOR and READER share nothing */
    for (int k = 2; k <= 3; k++)
        porg_expect_no_trace(ut_srv, d[k],
                             rl_req_update_roles(d[k], realm, "x", "READER", rl_now(), NULL),
                             "not_allowed", NULL);
    /* an OWNER does everything, OWNER given included */
    rl_share(d[0], realm, "y", "OWNER");
    rl_share(d[0], realm, "man", "READER");
    /* already_granted: the same role; removing an absent one */
    porg_expect_no_trace(ut_srv, d[0],
                         rl_req_update_roles(d[0], realm, "y", "OWNER", rl_now(), NULL),
                         "already_granted", NULL);
    porg_expect_no_trace(ut_srv, d[0], rl_req_update_roles(d[0], realm, "x", NULL, rl_now(), NULL),
                         "already_granted", NULL);

    for (int i = 0; i < 6; i++)
        pclient_device_free(d[i]);
    porg_free(o);
}
END_TEST

/* require_greater_timestamp's three rules, with the instant each names. */
START_TEST(update_roles_causality)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carol = porg_user(ut_srv, o, o->admin, "carol@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], vlob[16];
    rl_realm(o->admin, realm);
    rl_id(vlob);

    /* after the user's latest certificate: equal is refused */
    int64_t t1 = rl_now();
    porg_expect(ut_srv, o->admin, rl_req_update_roles(o->admin, realm, "bob", "MANAGER", t1, NULL),
                "ok");
    json_object *r = porg_call(ut_srv, o->admin,
                               rl_req_update_roles(o->admin, realm, "bob", "READER", t1, NULL));
    ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
    char *want = pclient_datetime(t1);
    ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
    free(want);
    json_object_put(r);
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, realm, "bob", "READER", t1 - 1, NULL),
                         "require_greater_timestamp", NULL);

    /* bob writes at tw (dated ahead), and shares at ts (dated ahead) */
    int64_t tw = rl_now() + 20 * RL_SEC;
    porg_expect(ut_srv, bob, rl_req_vlob_create(realm, 1, vlob, tw, "x"), "ok");
    int64_t ts = rl_now() + 30 * RL_SEC;
    porg_expect(ut_srv, bob, rl_req_update_roles(bob, realm, "carol", "READER", ts, NULL), "ok");

    /* demoting bob to CONTRIBUTOR must follow his role update (ts), not
     * his write; to READER or none, his write (tw) first, then ts */
    int64_t mid = tw + RL_SEC;
    r = porg_call(ut_srv, o->admin,
                  rl_req_update_roles(o->admin, realm, "bob", "CONTRIBUTOR", mid, NULL));
    ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
    want = pclient_datetime(ts);
    ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
    free(want);
    json_object_put(r);
    const char *lower[] = {"READER", NULL};
    for (int i = 0; i < 2; i++) {
        r = porg_call(ut_srv, o->admin,
                      rl_req_update_roles(o->admin, realm, "bob", lower[i], tw, NULL));
        ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
        want = pclient_datetime(tw);
        ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
        free(want);
        json_object_put(r);
        r = porg_call(ut_srv, o->admin,
                      rl_req_update_roles(o->admin, realm, "bob", lower[i], mid, NULL));
        ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
        want = pclient_datetime(ts);
        ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
        free(want);
        json_object_put(r);
    }
    /* OWNER keeps management and writing: no rule but the first */
    porg_expect(ut_srv, o->admin, rl_req_update_roles(o->admin, realm, "bob", "OWNER", mid, NULL),
                "ok");
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "READER", ts + 1, NULL), "ok");

    pclient_device_free(carol);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* ---- message_get ---- */

START_TEST(message_get_offsets_and_fields)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    const char *roles[] = {"READER", "CONTRIBUTOR", "MANAGER"};
    for (int i = 0; i < 3; i++) {
        char *m = xasprintf("m%d", i + 1);
        porg_expect(ut_srv, o->admin,
                    rl_req_update_roles(o->admin, realm, "bob", roles[i], rl_now(), m), "ok");
        free(m);
    }
    for (int offset = 0; offset <= 4; offset++) {
        json_object *r =
            porg_call(ut_srv, bob,
                      set_json(pclient_req("message_get"), "offset", json_object_new_int(offset)));
        ck_assert_str_eq(porg_status(r), "ok");
        json_object *msgs = json_object_object_get(r, "messages");
        int want = offset >= 3 ? 0 : 3 - offset;
        ck_assert_int_eq((int)json_object_array_length(msgs), want);
        for (int i = 0; i < want; i++) {
            json_object *m = json_object_array_get_idx(msgs, (size_t)i);
            ck_assert_int_eq(rl_int(m, "count"), offset + i + 1);
            char *body = rl_bytes(m, "body");
            char *exp = xasprintf("m%d", offset + i + 1);
            ck_assert_str_eq(body, exp);
            free(exp);
            free(body);
            ck_assert_int_eq(json_object_object_length(m), 4);
        }
        json_object_put(r);
    }
    /* the admin received nothing */
    json_object *r = porg_call(
        ut_srv, o->admin, set_json(pclient_req("message_get"), "offset", json_object_new_int(0)));
    ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"messages\":[]}");
    json_object_put(r);
    json_object *base = set_json(pclient_req("message_get"), "offset", json_object_new_int(0));
    rl_bad_int_field(bob, base, "offset", 0, 2147483647, false);
    json_object_put(base);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_realm)
{
    Suite *s = suite_create("cmd_realm");
    TCase *tc = ut_tcase("realm");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, create_ok);
    tcase_add_test(tc, create_refusals);
    tcase_add_test(tc, reads_access);
    tcase_add_test(tc, update_roles_ok_message_and_events);
    tcase_add_test(tc, update_roles_refusals_in_order);
    tcase_add_test(tc, update_roles_permissions);
    tcase_add_test(tc, update_roles_causality);
    tcase_add_test(tc, message_get_offsets_and_fields);
    suite_add_tcase(s, tc);
    return s;
}
