/*
 * tests/integration/test_cmd_vlob.c - vlob_create, vlob_update, vlob_read,
 * vlob_list_versions and vlob_poll_changes through lighttpd (two worker
 * processes) and a real PostgreSQL: what is stored and read back, the
 * realm's checkpoint and counters, the event of each write, every status
 * of docs/protocol.md in its order, the sequester rules, and every
 * malformed field refused without a trace.
 */
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* realm.<column> of realm id realm (a number). */
static long realm_col(const char *column, const uint8_t realm[16])
{
    char *sql = xasprintf("SELECT %s FROM realm WHERE realm_id = $1::uuid", column);
    long v = ut_sql_long(sql, rl_hex(realm), NULL);
    free(sql);
    return v;
}

START_TEST(write_read_poll)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], v1[16], v2[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "CONTRIBUTOR");
    rl_id(v1);
    rl_id(v2);
    PGconn *ev = rl_listen();

    int64_t t1 = rl_now();
    porg_expect(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v1, t1, "one"), "ok");
    json_object *e = rl_expect_event(ev, o->organization_id, "realm.vlobs_updated");
    ck_assert_str_eq(porg_str(e, "realm_id"), rl_hex(realm));
    ck_assert_str_eq(porg_str(e, "src_id"), rl_hex(v1));
    ck_assert_int_eq(rl_int(e, "checkpoint"), 1);
    ck_assert_int_eq(rl_int(e, "src_version"), 1);
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    ck_assert_int_eq(json_object_object_length(e), 8);
    json_object_put(e);

    int64_t t2 = rl_now();
    porg_expect(ut_srv, bob, rl_req_vlob_update(1, v1, t2, 2, "two"), "ok");
    e = rl_expect_event(ev, o->organization_id, "realm.vlobs_updated");
    ck_assert_int_eq(rl_int(e, "checkpoint"), 2);
    ck_assert_int_eq(rl_int(e, "src_version"), 2);
    ck_assert_str_eq(porg_str(e, "a"), "bob@d");
    json_object_put(e);
    /* an equal timestamp is accepted (Parsec's rule) */
    porg_expect(ut_srv, bob, rl_req_vlob_update(1, v1, t2, 3, "three!"), "ok");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.vlobs_updated"));
    porg_expect(ut_srv, bob, rl_req_vlob_create(realm, 1, v2, rl_now(), ""), "ok");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.vlobs_updated"));

    /* read: latest, by version, by timestamp */
    json_object *r = porg_call(ut_srv, o->admin, rl_req_vlob_read(1, v1, 0, 0));
    ck_assert_str_eq(porg_status(r), "ok");
    ck_assert_int_eq(rl_int(r, "version"), 3);
    char *blob = rl_bytes(r, "blob");
    ck_assert_str_eq(blob, "three!");
    free(blob);
    ck_assert_str_eq(porg_str(r, "author"), "bob@d");
    char *ts = pclient_datetime(t2);
    ck_assert_str_eq(porg_str(r, "timestamp"), ts);
    free(ts);
    ck_assert_int_eq(json_object_object_length(r), 6);
    json_object_put(r);
    r = porg_call(ut_srv, bob, rl_req_vlob_read(1, v1, 1, t2));
    ck_assert_int_eq(rl_int(r, "version"), 1); /* the version wins over the timestamp */
    blob = rl_bytes(r, "blob");
    ck_assert_str_eq(blob, "one");
    free(blob);
    ck_assert_str_eq(porg_str(r, "author"), "admin@dev1");
    json_object_put(r);
    r = porg_call(ut_srv, bob, rl_req_vlob_read(1, v1, 0, t2 - 1));
    ck_assert_int_eq(rl_int(r, "version"), 1);
    json_object_put(r);
    r = porg_call(ut_srv, bob, rl_req_vlob_read(1, v1, 0, t2));
    ck_assert_int_eq(rl_int(r, "version"), 3); /* the latest at or before */
    json_object_put(r);
    porg_expect(ut_srv, bob, rl_req_vlob_read(1, v1, 0, t1 - 1), "bad_version");
    porg_expect(ut_srv, bob, rl_req_vlob_read(1, v1, 4, 0), "bad_version");
    blob = rl_read_blob(bob, 1, v2);
    ck_assert_str_eq(blob, "");
    free(blob);

    /* list: every version */
    r = porg_call(ut_srv, bob, rl_req_list(v1));
    ck_assert_str_eq(porg_status(r), "ok");
    json_object *versions = json_object_object_get(r, "versions");
    ck_assert_int_eq(json_object_object_length(versions), 3);
    json_object *two = json_object_object_get(versions, "2");
    ck_assert_int_eq(json_object_array_length(two), 2);
    ts = pclient_datetime(t2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(two, 0)), ts);
    free(ts);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(two, 1)), "bob@d");
    json_object_put(r);

    /* poll: the latest version of each vlob changed after the checkpoint,
     * and the realm's checkpoint */
    int64_t expect_v1[] = {3, 3, 3, -1, -1, -1};
    for (int cp = 0; cp <= 5; cp++) {
        r = porg_call(ut_srv, bob, rl_req_poll(realm, cp));
        ck_assert_str_eq(porg_status(r), "ok");
        ck_assert_int_eq(rl_int(r, "current_checkpoint"), 4);
        json_object *changes = json_object_object_get(r, "changes");
        json_object *x = NULL;
        if (expect_v1[cp] < 0)
            ck_assert(!json_object_object_get_ex(changes, rl_hex(v1), &x));
        else
            ck_assert_int_eq(json_object_get_int64(json_object_object_get(changes, rl_hex(v1))),
                             expect_v1[cp]);
        static const int expect_n[] = {2, 2, 2, 1, 0, 0};
        ck_assert_int_eq(json_object_object_length(changes), expect_n[cp]);
        json_object_put(r);
    }

    /* counters: 4 changes; 3 + 3 + 6 + 0 bytes */
    ck_assert_int_eq(realm_col("checkpoint", realm), 4);
    ck_assert_int_eq(realm_col("vlobs_size", realm), 12);
    ck_assert_int_eq(realm_col("metadata_size", realm), 12);
    r = porg_call(ut_srv, bob, rl_req_realm("realm_stats", realm));
    ck_assert_int_eq(rl_int(r, "vlobs_size"), 12);
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, pclient_req("organization_stats"));
    ck_assert_int_eq(rl_int(r, "metadata_size"), 12);
    json_object_put(r);
    /* the caller's latest vlob write in the realm is recorded */
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM realm_user_change c JOIN realm r"
                                 " ON r._id = c.realm WHERE r.realm_id = $1::uuid"
                                 " AND c.last_vlob_update IS NOT NULL",
                                 rl_hex(realm), NULL),
                     2);

    pclient_device_free(bob);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* vlob_create's statuses, in the contract's order. */
START_TEST(create_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *rea = porg_user(ut_srv, o, o->admin, "rea@d", "STANDARD", NULL, NULL);
    pclient_device_t *non = porg_user(ut_srv, o, o->admin, "non@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], r2[16], other[16], unknown[16], v[16];
    int64_t created = rl_realm(o->admin, realm);
    rl_realm(o->admin, r2);
    rl_realm(o2->admin, other);
    rl_share(o->admin, realm, "rea", "READER");
    rl_id(unknown);
    rl_id(v);
    PGconn *ev = rl_listen();

    /* 2. ballpark, reason null */
    int64_t now = rl_now();
    json_object *r =
        porg_call(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v, now - 71 * RL_SEC, "x"));
    ck_assert_str_eq(porg_status(r), "bad_timestamp");
    ck_assert(json_object_object_get_ex(r, "reason", NULL));
    ck_assert(json_object_object_get(r, "reason") == NULL);
    json_object_put(r);
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_vlob_create(realm, 1, v, rl_now() + 51 * RL_SEC, "x"),
                         "bad_timestamp", NULL);
    /* 3. unknown realm, another organization's: not_allowed */
    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_create(unknown, 1, v, rl_now(), "x"),
                         "not_allowed", NULL);
    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_create(other, 1, v, rl_now(), "x"),
                         "not_allowed", NULL);
    /* 4. a READER, a non-member */
    porg_expect_no_trace(ut_srv, rea, rl_req_vlob_create(realm, 1, v, rl_now(), "x"), "not_allowed",
                         NULL);
    porg_expect_no_trace(ut_srv, non, rl_req_vlob_create(realm, 9, v, rl_now(), "x"), "not_allowed",
                         NULL);
    /* 5. maintenance: test_cmd_realm_maintenance.c; 6. revision */
    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_create(realm, 2, v, rl_now(), "x"),
                         "bad_encryption_revision", NULL);
    /* 7. not after the caller's role certificate (equal refused) */
    r = porg_call(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v, created, "x"));
    ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
    char *want = pclient_datetime(created);
    ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
    free(want);
    json_object_put(r);
    /* 8. a non-sequestered organization: any sequester_blob, even {} */
    json_object *seq = json_object_new_object();
    json_object_object_add(seq, rl_hex(unknown), pclient_json_bytes("s", 1));
    porg_expect_no_trace(
        ut_srv, o->admin,
        set_json(rl_req_vlob_create(realm, 1, v, rl_now(), "x"), "sequester_blob", seq),
        "not_a_sequestered_organization", NULL);
    porg_expect_no_trace(ut_srv, o->admin,
                         set_json(rl_req_vlob_create(realm, 1, v, rl_now(), "x"), "sequester_blob",
                                  json_object_new_object()),
                         "not_a_sequestered_organization", NULL);
    rl_expect_no_event(ev, o->organization_id);
    /* null is none */
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_create(realm, 1, v, rl_now(), "x"), "sequester_blob", NULL),
                "ok");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.vlobs_updated"));
    /* 9. the id is taken in the organization, in any realm; another
     * organization has its own ids */
    r = porg_call(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v, rl_now(), "y"));
    ck_assert_str_eq(porg_status(r), "already_exists");
    ck_assert(json_object_object_get_ex(r, "reason", NULL));
    json_object_put(r);
    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_create(r2, 1, v, rl_now(), "y"),
                         "already_exists", NULL);
    rl_expect_no_event(ev, o->organization_id);
    porg_expect(ut_srv, o2->admin, rl_req_vlob_create(other, 1, v, rl_now(), "z"), "ok");
    char *blob = rl_read_blob(o->admin, 1, v);
    ck_assert_str_eq(blob, "x");
    free(blob);

    pclient_device_free(non);
    pclient_device_free(rea);
    porg_free(o2);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* vlob_update's statuses, in the contract's order. */
START_TEST(update_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], v[16], unknown[16], ov[16], theirs[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    rl_id(unknown);
    rl_id(ov);
    int64_t tv = rl_now();
    porg_expect(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v, tv, "v1"), "ok");
    rl_realm(o2->admin, theirs);
    rl_vlob_create(o2->admin, theirs, ov, "theirs");
    PGconn *ev = rl_listen();

    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_update(1, v, rl_now() - 71 * RL_SEC, 2, "x"),
                         "bad_timestamp", NULL);
    /* unknown vlob, another organization's: not_found, reason null */
    json_object *r = porg_call(ut_srv, o->admin, rl_req_vlob_update(1, unknown, rl_now(), 2, "x"));
    ck_assert_str_eq(porg_status(r), "not_found");
    ck_assert(json_object_object_get_ex(r, "reason", NULL));
    ck_assert(json_object_object_get(r, "reason") == NULL);
    json_object_put(r);
    porg_expect_no_trace(ut_srv, o->admin, rl_req_vlob_update(1, ov, rl_now(), 2, "x"), "not_found",
                         NULL);
    /* no role; READER */
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(1, v, rl_now(), 2, "x"), "not_allowed",
                         NULL);
    int64_t granted = rl_now();
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "READER", granted, NULL), "ok");
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(9, v, rl_now(), 9, "x"), "not_allowed",
                         NULL);
    granted = rl_now();
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "CONTRIBUTOR", granted, NULL), "ok");
    /* revision, then the role's timestamp */
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(2, v, rl_now(), 2, "x"),
                         "bad_encryption_revision", NULL);
    r = porg_call(ut_srv, bob, rl_req_vlob_update(1, v, granted, 2, "x"));
    ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
    char *want = pclient_datetime(granted);
    ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
    free(want);
    json_object_put(r);
    /* sequester, then the version: the same, or a gap */
    porg_expect_no_trace(ut_srv, bob,
                         set_json(rl_req_vlob_update(1, v, rl_now(), 9, "x"), "sequester_blob",
                                  json_object_new_object()),
                         "not_a_sequestered_organization", NULL);
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(1, v, rl_now(), 1, "x"), "bad_version",
                         NULL);
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(1, v, rl_now(), 3, "x"), "bad_version",
                         NULL);
    /* an earlier timestamp than the previous version's, after the role's */
    int64_t later = rl_now() + 30 * RL_SEC;
    porg_expect(ut_srv, bob, rl_req_vlob_update(1, v, later, 2, "v2"), "ok");
    r = porg_call(ut_srv, bob, rl_req_vlob_update(1, v, later - 1, 3, "x"));
    ck_assert_str_eq(porg_status(r), "require_greater_timestamp");
    want = pclient_datetime(later);
    ck_assert_str_eq(porg_str(r, "strictly_greater_than"), want);
    free(want);
    json_object_put(r);
    /* the two grants, then the one update that passed */
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.roles_updated"));
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.roles_updated"));
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.vlobs_updated"));
    rl_expect_no_event(ev, o->organization_id);
    (void)tv;

    pclient_device_free(bob);
    porg_free(o2);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

/* vlob_read, vlob_list_versions and vlob_poll_changes refusals. */
START_TEST(read_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], v[16], unknown[16], theirs[16], ov[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    rl_id(unknown);
    rl_id(ov);
    rl_vlob_create(o->admin, realm, v, "v1");
    rl_realm(o2->admin, theirs);
    rl_vlob_create(o2->admin, theirs, ov, "theirs");

    /* not_found (reason null): unknown, another organization's */
    const uint8_t *missing[] = {unknown, ov};
    for (int i = 0; i < 2; i++) {
        json_object *reqs[] = {rl_req_vlob_read(1, missing[i], 0, 0), rl_req_list(missing[i])};
        for (int k = 0; k < 2; k++) {
            json_object *r = porg_call(ut_srv, o->admin, reqs[k]);
            ck_assert_str_eq(porg_status(r), "not_found");
            ck_assert(json_object_object_get_ex(r, "reason", NULL));
            json_object_put(r);
        }
    }
    porg_expect(ut_srv, o->admin, rl_req_poll(unknown, 0), "not_found");
    porg_expect(ut_srv, o->admin, rl_req_poll(theirs, 0), "not_found");
    /* not_allowed: no role, then a removed one */
    for (int pass = 0; pass < 2; pass++) {
        porg_expect(ut_srv, bob, rl_req_vlob_read(1, v, 0, 0), "not_allowed");
        porg_expect(ut_srv, bob, rl_req_list(v), "not_allowed");
        porg_expect(ut_srv, bob, rl_req_poll(realm, 0), "not_allowed");
        if (pass == 0) {
            rl_share(o->admin, realm, "bob", "READER");
            char *b = rl_read_blob(bob, 1, v);
            ck_assert_str_eq(b, "v1");
            free(b);
            rl_share(o->admin, realm, "bob", NULL);
        }
    }
    /* the revision: not the realm's, before or after */
    porg_expect(ut_srv, o->admin, rl_req_vlob_read(2, v, 0, 0), "bad_encryption_revision");
    /* in_maintenance of a maintenance other than reencryption (no command
     * starts one: set here as the schema allows) */
    ck_assert_ptr_null(ut_sql("UPDATE realm SET maintenance_type = 'GARBAGE_COLLECTION',"
                              " maintenance_started_on = now() WHERE realm_id = $1::uuid",
                              rl_hex(realm), NULL));
    porg_expect(ut_srv, o->admin, rl_req_vlob_read(1, v, 0, 0), "in_maintenance");
    porg_expect(ut_srv, o->admin, rl_req_list(v), "in_maintenance");
    porg_expect(ut_srv, o->admin, rl_req_poll(realm, 0), "in_maintenance");
    json_object *r = porg_call(ut_srv, o->admin, rl_req_realm("realm_status", realm));
    ck_assert_str_eq(porg_str(r, "maintenance_type"), "GARBAGE_COLLECTION");
    json_object_put(r);

    pclient_device_free(bob);
    porg_free(o2);
    porg_free(o);
}
END_TEST

/* author_last_role_granted_on follows the author's latest certificate,
 * whatever it says now. */
START_TEST(read_author_last_role)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    int64_t g1 = rl_now();
    porg_expect(ut_srv, o->admin,
                rl_req_update_roles(o->admin, realm, "bob", "CONTRIBUTOR", g1, NULL), "ok");
    rl_vlob_create(bob, realm, v, "by bob");
    json_object *r = porg_call(ut_srv, o->admin, rl_req_vlob_read(1, v, 0, 0));
    char *want = pclient_datetime(g1);
    ck_assert_str_eq(porg_str(r, "author_last_role_granted_on"), want);
    free(want);
    json_object_put(r);
    int64_t g2 = rl_now();
    porg_expect(ut_srv, o->admin, rl_req_update_roles(o->admin, realm, "bob", NULL, g2, NULL),
                "ok");
    r = porg_call(ut_srv, o->admin, rl_req_vlob_read(1, v, 1, 0));
    want = pclient_datetime(g2);
    ck_assert_str_eq(porg_str(r, "author_last_role_granted_on"), want);
    free(want);
    json_object_put(r);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* Every field of every vlob command, malformed: bad_message, no trace. */
START_TEST(bad_fields)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    rl_vlob_create(o->admin, realm, v, "v1");

    json_object *create = rl_req_vlob_create(realm, 1, v, rl_now(), "x");
    rl_bad_uuid_field(o->admin, create, "realm_id");
    rl_bad_uuid_field(o->admin, create, "vlob_id");
    rl_bad_int_field(o->admin, create, "encryption_revision", 1, 2147483647, false);
    rl_bad_datetime_field(o->admin, create, "timestamp");
    ut_bad_bytes_field(o->admin, create, "blob", SIZE_MAX);
    /* sequester_blob: not a map, bad keys, bad values, too many entries */
    json_object *bad_maps[] = {
        json_object_new_array(),  json_object_new_string("x"), json_object_new_object(),
        json_object_new_object(), json_object_new_object(),
    };
    json_object_object_add(bad_maps[2], "not-a-uuid", pclient_json_bytes("s", 1));
    json_object_object_add(bad_maps[3], rl_hex(v), json_object_new_int(1));
    for (int i = 0; i < 65; i++) {
        uint8_t id[16];
        rl_id(id);
        json_object_object_add(bad_maps[4], rl_hex(id), pclient_json_bytes("s", 1));
    }
    for (size_t i = 0; i < sizeof bad_maps / sizeof bad_maps[0]; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_json(ut_copy(create), "sequester_blob", bad_maps[i]),
                             "bad_message", NULL);
    json_object_put(create);

    json_object *update = rl_req_vlob_update(1, v, rl_now(), 2, "x");
    rl_bad_uuid_field(o->admin, update, "vlob_id");
    rl_bad_int_field(o->admin, update, "encryption_revision", 1, 2147483647, false);
    rl_bad_int_field(o->admin, update, "version", 1, 2147483647, false);
    rl_bad_datetime_field(o->admin, update, "timestamp");
    ut_bad_bytes_field(o->admin, update, "blob", SIZE_MAX);
    json_object_put(update);

    json_object *read = rl_req_vlob_read(1, v, 1, rl_now());
    rl_bad_uuid_field(o->admin, read, "vlob_id");
    rl_bad_int_field(o->admin, read, "encryption_revision", 1, 2147483647, false);
    rl_bad_int_field(o->admin, read, "version", 1, 2147483647, true);
    porg_expect(ut_srv, o->admin, set_json(ut_copy(read), "timestamp", json_object_new_int(3)),
                "bad_message");
    porg_expect(ut_srv, o->admin, set_json(ut_copy(read), "version", NULL), "ok");
    json_object_put(read);

    json_object *list = rl_req_list(v);
    rl_bad_uuid_field(o->admin, list, "vlob_id");
    json_object_put(list);
    json_object *poll = rl_req_poll(realm, 0);
    rl_bad_uuid_field(o->admin, poll, "realm_id");
    rl_bad_int_field(o->admin, poll, "last_checkpoint", 0, INT64_MAX - 1, false);
    json_object_put(poll);
    porg_free(o);
}
END_TEST

/* A blob as large as the request limit allows (1 MiB of body) is stored
 * and read back; a larger body is 413 with nothing stored. */
START_TEST(blob_at_the_size_limit)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], v[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    /* base64 of n bytes is 4 * ceil(n / 3); the envelope is about 250 bytes */
    size_t n = (1048576 - 400) / 4 * 3;
    char *big = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    json_object *req = rl_req_vlob_create(realm, 1, v, rl_now(), big);
    const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    ck_assert_uint_le(strlen(text), 1048576);
    porg_expect(ut_srv, o->admin, req, "ok");
    char *back = rl_read_blob(o->admin, 1, v);
    ck_assert(strcmp(back, big) == 0);
    free(back);
    ck_assert_int_eq(realm_col("vlobs_size", realm), (long)n);

    /* over the limit: 413 from the front, nothing written */
    char *before = porg_fingerprint(ut_srv);
    char *bigger = xmalloc(n + 4096 + 1);
    memset(bigger, 'b', n + 4096);
    bigger[n + 4096] = '\0';
    req = rl_req_vlob_update(1, v, rl_now(), 2, bigger);
    pclient_resp_t resp;
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", o->organization_id, o->admin, req, &resp);
    ck_assert_int_eq(resp.status, 413);
    pclient_resp_free(&resp);
    json_object_put(req);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(bigger);
    free(big);
    porg_free(o);
}
END_TEST

/* The sequester rules in a sequestered organization. */
START_TEST(sequestered_organization)
{
    pclient_blob_t authority;
    porg_t *o = rl_bootstrap_sequestered(&authority);
    uint8_t realm[16], v[16], s1[16], s2[16], stranger[16];
    rl_realm(o->admin, realm);
    rl_id(v);
    rl_id(stranger);

    /* no service yet: null is refused, {} accepted */
    json_object *r = porg_call(ut_srv, o->admin, rl_req_vlob_create(realm, 1, v, rl_now(), "x"));
    ck_assert_str_eq(porg_status(r), "sequester_inconsistency");
    char *b64 = pclient_b64(authority.data, authority.len);
    ck_assert_str_eq(porg_str(r, "sequester_authority_certificate"), b64);
    free(b64);
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "sequester_services_"
                                                                        "certificates")),
                     0);
    json_object_put(r);
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_create(realm, 1, v, rl_now(), "x"), "sequester_blob",
                         json_object_new_object()),
                "ok");

    /* two services: exactly their two keys */
    rl_sequester_service(o, "cert one", s1);
    rl_sequester_service(o, "cert two", s2);
    json_object *both = json_object_new_object();
    json_object_object_add(both, rl_hex(s1), pclient_json_bytes("for s1", 6));
    json_object_object_add(both, rl_hex(s2), pclient_json_bytes("for s2", 6));
    json_object *one = json_object_new_object();
    json_object_object_add(one, rl_hex(s1), pclient_json_bytes("for s1", 6));
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, rl_hex(s1), pclient_json_bytes("for s1", 6));
    json_object_object_add(extra, rl_hex(s2), pclient_json_bytes("for s2", 6));
    json_object_object_add(extra, rl_hex(stranger), pclient_json_bytes("?", 1));
    json_object *bad[] = {NULL, json_object_new_object(), one, extra};
    for (int i = 0; i < 4; i++) {
        r = porg_call(
            ut_srv, o->admin,
            set_json(rl_req_vlob_update(1, v, rl_now(), 2, "y"), "sequester_blob", bad[i]));
        ck_assert_str_eq(porg_status(r), "sequester_inconsistency");
        json_object *certs = json_object_object_get(r, "sequester_services_certificates");
        ck_assert_int_eq(json_object_array_length(certs), 2);
        char *c1 = pclient_b64("cert one", 8);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(certs, 0)), c1);
        free(c1);
        json_object_put(r);
    }
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_update(1, v, rl_now(), 2, "y"), "sequester_blob", both), "ok");
    /* the blobs are kept with the version, as received */
    char *kept = ut_sql("SELECT string_agg(convert_from(sa.blob, 'UTF8'), ',' ORDER BY s._id)"
                        " FROM sequester_service_vlob_atom sa"
                        " JOIN sequester_service s ON s._id = sa.service"
                        " JOIN vlob_atom a ON a._id = sa.vlob_atom JOIN vlob vl ON vl._id = a.vlob"
                        " WHERE vl.vlob_id = $1::uuid AND a.version = 2",
                        rl_hex(v), NULL);
    ck_assert_str_eq(kept, "for s1,for s2");
    free(kept);
    /* a disabled service is no longer expected */
    ck_assert_ptr_null(ut_sql("UPDATE sequester_service SET disabled_on = now()"
                              " WHERE service_id = $1::uuid",
                              rl_hex(s2), NULL));
    json_object *only1 = json_object_new_object();
    json_object_object_add(only1, rl_hex(s1), pclient_json_bytes("s1 again", 8));
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_update(1, v, rl_now(), 3, "z"), "sequester_blob", only1),
                "ok");
    /* sequester blobs count in no size */
    ck_assert_int_eq(realm_col("vlobs_size", realm), 3);

    pclient_blob_free(&authority);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_vlob)
{
    Suite *s = suite_create("cmd_vlob");
    TCase *tc = ut_tcase("vlob");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, write_read_poll);
    tcase_add_test(tc, create_refusals);
    tcase_add_test(tc, update_refusals);
    tcase_add_test(tc, read_refusals);
    tcase_add_test(tc, read_author_last_role);
    tcase_add_test(tc, bad_fields);
    tcase_add_test(tc, blob_at_the_size_limit);
    tcase_add_test(tc, sequestered_organization);
    suite_add_tcase(s, tc);
    return s;
}
