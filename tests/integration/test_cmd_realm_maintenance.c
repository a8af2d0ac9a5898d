/*
 * tests/integration/test_cmd_realm_maintenance.c - reencryption
 * maintenance through lighttpd and a real PostgreSQL:
 * realm_start_reencryption_maintenance, the two batch commands,
 * realm_finish_reencryption_maintenance, what every other command answers
 * during and after it (docs/protocol.md; parsec-2.12-behaviour.md 5.9), the
 * messages and events, and every status in the contract's order.
 */
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *get_batch(const uint8_t realm[16], int64_t revision, int64_t size)
{
    return set_json(
        rl_req_realm_revision("vlob_maintenance_get_reencryption_batch", realm, revision), "size",
        json_object_new_int64(size));
}

/* A save request whose entries are (vlob, version, blob) triples. */
typedef struct {
    const uint8_t *vlob;
    int64_t version;
    const char *blob;
} entry_t;

static json_object *save_batch(const uint8_t realm[16], int64_t revision, const entry_t *e,
                               size_t n)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "vlob_id", json_object_new_string(rl_hex(e[i].vlob)));
        json_object_object_add(o, "version", json_object_new_int64(e[i].version));
        json_object_object_add(o, "blob", pclient_json_bytes(e[i].blob, strlen(e[i].blob)));
        json_object_array_add(list, o);
    }
    return set_json(
        rl_req_realm_revision("vlob_maintenance_save_reencryption_batch", realm, revision), "batch",
        list);
}

/* Save e[0..n) expecting ok with total and done. */
static void expect_saved(const pclient_device_t *d, const uint8_t realm[16], int64_t revision,
                         const entry_t *e, size_t n, int64_t total, int64_t done)
{
    json_object *r = porg_call(ut_srv, d, save_batch(realm, revision, e, n));
    ck_assert_msg(!strcmp(porg_status(r), "ok"), "%s", json_object_to_json_string(r));
    ck_assert_int_eq(rl_int(r, "total"), total);
    ck_assert_int_eq(rl_int(r, "done"), done);
    json_object_put(r);
}

START_TEST(full_reencryption)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carol = porg_user(ut_srv, o, o->admin, "carol@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], other[16], a[16], b[16], x[16];
    rl_realm(o->admin, realm);
    rl_realm(o->admin, other);
    rl_share(o->admin, realm, "bob", "CONTRIBUTOR");
    rl_id(a);
    rl_id(b);
    rl_id(x);
    rl_vlob_create(o->admin, realm, a, "a1");
    rl_vlob_update(bob, 1, a, 2, "a2");
    rl_vlob_create(bob, realm, b, "b1");
    rl_vlob_create(o->admin, other, x, "x1");
    PGconn *ev = rl_listen();

    /* start: the participants are admin and bob */
    int64_t ts = rl_now();
    const char *users[] = {"admin", "bob"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, ts, users, 2), "ok");
    json_object *e = rl_expect_event(ev, o->organization_id, "realm.maintenance_started");
    ck_assert_str_eq(porg_str(e, "realm_id"), rl_hex(realm));
    ck_assert_int_eq(rl_int(e, "encryption_revision"), 2);
    json_object_put(e);
    for (int i = 0; i < 2; i++) {
        e = rl_expect_event(ev, o->organization_id, "message.received");
        ck_assert_str_eq(porg_str(e, "recipient"), users[i]);
        ck_assert_int_eq(rl_int(e, "index"), 1);
        json_object_put(e);
    }
    rl_expect_no_event(ev, o->organization_id);
    json_object *r = porg_call(
        ut_srv, bob, set_json(pclient_req("message_get"), "offset", json_object_new_int(0)));
    json_object *m = json_object_array_get_idx(json_object_object_get(r, "messages"), 0);
    ck_assert_str_eq(porg_str(m, "sender"), "admin@dev1");
    char *want = pclient_datetime(ts);
    ck_assert_str_eq(porg_str(m, "timestamp"), want);
    char *body = rl_bytes(m, "body");
    ck_assert_str_eq(body, "message for bob");
    free(body);
    json_object_put(r);
    r = porg_call(ut_srv, bob, rl_req_realm("realm_status", realm));
    ck_assert(json_object_get_boolean(json_object_object_get(r, "in_maintenance")));
    ck_assert_str_eq(porg_str(r, "maintenance_type"), "REENCRYPTION");
    ck_assert_str_eq(porg_str(r, "maintenance_started_on"), want);
    ck_assert_str_eq(porg_str(r, "maintenance_started_by"), "admin@dev1");
    ck_assert_int_eq(rl_int(r, "encryption_revision"), 2);
    json_object_put(r);
    free(want);

    /* during: reads at 1 only, lists and polls go on, writes wait */
    char *blob = rl_read_blob(bob, 1, a);
    ck_assert_str_eq(blob, "a2");
    free(blob);
    porg_expect(ut_srv, bob, rl_req_vlob_read(2, a, 0, 0), "in_maintenance");
    porg_expect(ut_srv, bob, rl_req_vlob_read(3, a, 0, 0), "bad_encryption_revision");
    porg_expect(ut_srv, bob, rl_req_list(a), "ok");
    porg_expect(ut_srv, bob, rl_req_poll(realm, 0), "ok");
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(1, a, rl_now(), 3, "no"), "in_maintenance",
                         NULL);
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_update(2, a, rl_now(), 3, "no"), "in_maintenance",
                         NULL);
    uint8_t c[16];
    rl_id(c);
    porg_expect_no_trace(ut_srv, bob, rl_req_vlob_create(realm, 2, c, rl_now(), "no"),
                         "in_maintenance", NULL);
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_update_roles(o->admin, realm, "carol", "READER", rl_now(), NULL),
                         "in_maintenance", NULL);
    /* other realms are not concerned */
    rl_vlob_update(o->admin, 1, x, 2, "x2");
    json_object_put(rl_expect_event(ev, o->organization_id, "realm.vlobs_updated"));

    /* the batch: the three versions of revision 1 */
    r = porg_call(ut_srv, o->admin, get_batch(realm, 2, 1000));
    ck_assert_str_eq(porg_status(r), "ok");
    json_object *batch = json_object_object_get(r, "batch");
    ck_assert_int_eq(json_object_array_length(batch), 3);
    json_object *first = json_object_array_get_idx(batch, 0);
    ck_assert_str_eq(porg_str(first, "vlob_id"), rl_hex(a));
    ck_assert_int_eq(rl_int(first, "version"), 1);
    blob = rl_bytes(first, "blob");
    ck_assert_str_eq(blob, "a1");
    free(blob);
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, get_batch(realm, 2, 0));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "batch")), 0);
    json_object_put(r);

    /* save some: ignored entries too, and a duplicate (the first wins) */
    uint8_t unknown[16];
    rl_id(unknown);
    entry_t part[] = {
        {a, 1, "A1"},          {a, 1, "dup"},        {unknown, 1, "?"},
        {x, 1, "other realm"}, {a, 9, "no version"}, {b, 2, "no version"},
    };
    expect_saved(o->admin, realm, 2, part, 6, 3, 1);
    /* not over: finishing is refused */
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2),
                         "maintenance_error", "Reencryption operations are not over");
    /* what is left to do */
    r = porg_call(ut_srv, o->admin, get_batch(realm, 2, 1000));
    ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "batch")), 2);
    json_object_put(r);
    entry_t rest[] = {{a, 1, "again"}, {a, 2, "A2"}, {b, 1, "B1"}};
    expect_saved(o->admin, realm, 2, rest, 3, 3, 3);
    expect_saved(o->admin, realm, 2, rest, 0, 3, 3);

    porg_expect(ut_srv, o->admin,
                rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2), "ok");
    e = rl_expect_event(ev, o->organization_id, "realm.maintenance_finished");
    ck_assert_int_eq(rl_int(e, "encryption_revision"), 2);
    json_object_put(e);

    /* after: revision 2 answers the copies, revision 1 is refused */
    blob = rl_read_blob(bob, 2, a);
    ck_assert_str_eq(blob, "A2");
    free(blob);
    r = porg_call(ut_srv, bob, rl_req_vlob_read(2, a, 1, 0));
    blob = rl_bytes(r, "blob");
    ck_assert_str_eq(blob, "A1");
    free(blob);
    ck_assert_str_eq(porg_str(r, "author"), "admin@dev1");
    json_object_put(r);
    porg_expect(ut_srv, bob, rl_req_vlob_read(1, a, 0, 0), "bad_encryption_revision");
    r = porg_call(ut_srv, bob, rl_req_list(a));
    ck_assert_int_eq(json_object_object_length(json_object_object_get(r, "versions")), 2);
    json_object_put(r);
    /* writes at 2 go on from the latest version; the checkpoint follows */
    rl_vlob_update(bob, 2, a, 3, "a3");
    r = porg_call(ut_srv, bob, rl_req_poll(realm, 3));
    ck_assert_int_eq(rl_int(r, "current_checkpoint"), 4);
    json_object_put(r);
    rl_share(o->admin, realm, "carol", "READER");
    /* sizes: realm_stats counts the versions written (2 + 2 + 2 + 2),
     * organization_stats every stored one (copies included: + 2 + 2 + 2,
     * and the other realm's x1 and x2) */
    r = porg_call(ut_srv, bob, rl_req_realm("realm_stats", realm));
    ck_assert_int_eq(rl_int(r, "vlobs_size"), 8);
    json_object_put(r);
    r = porg_call(ut_srv, o->admin, pclient_req("organization_stats"));
    ck_assert_int_eq(rl_int(r, "metadata_size"), 8 + 6 + 4);
    json_object_put(r);

    pclient_device_free(carol);
    pclient_device_free(bob);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

START_TEST(start_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *man = porg_user(ut_srv, o, o->admin, "man@d", "STANDARD", NULL, NULL);
    pclient_device_t *gone = porg_user(ut_srv, o, o->admin, "gone@d", "STANDARD", NULL, NULL);
    pclient_device_t *former = porg_user(ut_srv, o, o->admin, "former@d", "STANDARD", NULL, NULL);
    pclient_device_t *non = porg_user(ut_srv, o, o->admin, "non@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], unknown[16], theirs[16];
    rl_realm(o->admin, realm);
    rl_realm(o2->admin, theirs);
    rl_id(unknown);
    rl_share(o->admin, realm, "man", "MANAGER");
    rl_share(o->admin, realm, "gone", "READER");
    rl_share(o->admin, realm, "former", "READER");
    rl_share(o->admin, realm, "former", NULL);
    porg_revoke(ut_srv, o->admin, "gone");
    PGconn *ev = rl_listen();
    const char *members[] = {"admin", "man"};

    json_object *base = rl_req_start(realm, 2, rl_now(), members, 2);
    rl_bad_uuid_field(o->admin, base, "realm_id");
    rl_bad_int_field(o->admin, base, "encryption_revision", 1, 2147483647, false);
    rl_bad_datetime_field(o->admin, base, "timestamp");
    json_object *bad_maps[] = {NULL, json_object_new_array(), json_object_new_object(),
                               json_object_new_object()};
    json_object_object_add(bad_maps[2], "bad id!", pclient_json_bytes("m", 1));
    json_object_object_add(bad_maps[3], "admin", json_object_new_int(1));
    const char *map_fields[] = {"per_participant_message", "per_participant_message",
                                "per_participant_message", "per_participant_message.admin"};
    for (int i = 0; i < 4; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_json(ut_copy(base), "per_participant_message", bad_maps[i]),
                             "bad_message", map_fields[i]);
    /* 10,001 entries: refused before anything is looked at */
    json_object *huge = json_object_new_object();
    for (int i = 0; i <= 10000; i++) {
        char k[16];
        snprintf(k, sizeof k, "u%d", i);
        json_object_object_add(huge, k, pclient_json_bytes("", 0));
    }
    porg_expect_no_trace(ut_srv, o->admin, set_json(ut_copy(base), "per_participant_message", huge),
                         "bad_message", "per_participant_message");
    json_object_put(base);

    json_object *r =
        porg_call(ut_srv, o->admin, rl_req_start(realm, 2, rl_now() - 71 * RL_SEC, members, 2));
    ck_assert_str_eq(porg_status(r), "bad_timestamp");
    ck_assert_str_eq(porg_str(r, "reason"), "Timestamp is out of date.");
    json_object_put(r);
    char *reason = xasprintf("Realm `%s` doesn't exist", rl_hex(unknown));
    porg_expect_no_trace(ut_srv, o->admin, rl_req_start(unknown, 2, rl_now(), members, 2),
                         "not_found", reason);
    free(reason);
    porg_expect_no_trace(ut_srv, o->admin, rl_req_start(theirs, 2, rl_now(), members, 2),
                         "not_found", NULL);
    porg_expect_no_trace(ut_srv, man, rl_req_start(realm, 2, rl_now(), members, 2), "not_allowed",
                         NULL);
    porg_expect_no_trace(ut_srv, non, rl_req_start(realm, 2, rl_now(), members, 2), "not_allowed",
                         NULL);
    const int64_t bad_revisions[] = {1, 3, 2147483647};
    for (int i = 0; i < 3; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             rl_req_start(realm, bad_revisions[i], rl_now(), members, 2),
                             "bad_encryption_revision", NULL);
    /* the participants: missing, extra, a revoked member, a former one */
    const char *missing[] = {"admin"};
    const char *extra[] = {"admin", "man", "non"};
    const char *revoked[] = {"admin", "man", "gone"};
    const char *formerly[] = {"admin", "man", "former"};
    const char *nobody[] = {"admin", "man", "nobody"};
    const char *const *sets[] = {missing, extra, revoked, formerly, nobody};
    size_t sizes[] = {1, 3, 3, 3, 3};
    for (int i = 0; i < 5; i++)
        porg_expect_no_trace(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), sets[i], sizes[i]),
                             "participants_mismatch",
                             "Realm participants and message recipients mismatch");
    rl_expect_no_event(ev, o->organization_id);

    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), members, 2), "ok");
    /* in maintenance, whatever the revision */
    for (int64_t rev = 2; rev <= 3; rev++)
        porg_expect_no_trace(ut_srv, o->admin, rl_req_start(realm, rev, rl_now(), members, 2),
                             "in_maintenance", NULL);

    pclient_device_free(non);
    pclient_device_free(former);
    pclient_device_free(gone);
    pclient_device_free(man);
    porg_free(o2);
    porg_free(o);
    PQfinish(ev);
}
END_TEST

START_TEST(batch_and_finish_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *man = porg_user(ut_srv, o, o->admin, "man@d", "STANDARD", NULL, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], empty[16], unknown[16], theirs[16], v[16];
    rl_realm(o->admin, realm);
    rl_realm(o->admin, empty);
    rl_realm(o2->admin, theirs);
    rl_id(unknown);
    rl_id(v);
    rl_share(o->admin, realm, "man", "MANAGER");
    rl_vlob_create(o->admin, realm, v, "v");
    entry_t one[] = {{v, 1, "V"}};
    const char *members[] = {"admin", "man"};

    /* the three commands share their checks: realm, role, maintenance, revision */
    for (int cmd = 0; cmd < 3; cmd++) {
        const uint8_t *realms[] = {unknown, theirs};
        for (int i = 0; i < 2; i++) {
            json_object *req =
                cmd == 0 ? get_batch(realms[i], 2, 10)
                : cmd == 1
                    ? save_batch(realms[i], 2, one, 1)
                    : rl_req_realm_revision("realm_finish_reencryption_maintenance", realms[i], 2);
            porg_expect_no_trace(ut_srv, o->admin, req, "not_found", NULL);
        }
        json_object *req =
            cmd == 0   ? get_batch(realm, 1, 10)
            : cmd == 1 ? save_batch(realm, 1, one, 1)
                       : rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 1);
        porg_expect_no_trace(ut_srv, man, ut_copy(req), "not_allowed", NULL);
        json_object *r = porg_call(ut_srv, o->admin, req);
        ck_assert_str_eq(porg_status(r), "not_in_maintenance");
        if (cmd == 2) {
            char *reason = xasprintf("Realm `%s` not under maintenance", rl_hex(realm));
            ck_assert_str_eq(porg_str(r, "reason"), reason);
            free(reason);
        } else {
            ck_assert(json_object_object_get_ex(r, "reason", NULL));
        }
        json_object_put(r);
    }
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), members, 2), "ok");
    const int64_t bad_revisions[] = {1, 3};
    for (int i = 0; i < 2; i++) {
        porg_expect_no_trace(ut_srv, o->admin, get_batch(realm, bad_revisions[i], 10),
                             "bad_encryption_revision", NULL);
        porg_expect_no_trace(ut_srv, o->admin, save_batch(realm, bad_revisions[i], one, 1),
                             "bad_encryption_revision", NULL);
        porg_expect_no_trace(
            ut_srv, o->admin,
            rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, bad_revisions[i]),
            "bad_encryption_revision", NULL);
    }
    porg_expect_no_trace(ut_srv, man, get_batch(realm, 2, 10), "not_allowed", NULL);

    /* fields of the batches */
    json_object *g = get_batch(realm, 2, 10);
    rl_bad_uuid_field(o->admin, g, "realm_id");
    rl_bad_int_field(o->admin, g, "encryption_revision", 1, 2147483647, false);
    rl_bad_int_field(o->admin, g, "size", 0, 1000, false);
    json_object_put(g);
    json_object *s = save_batch(realm, 2, one, 1);
    json_object *bad_entries[] = {
        json_object_new_string("x"), json_object_new_int(1),   NULL,
        json_object_new_object(),    json_object_new_object(), json_object_new_object(),
    };
    json_object_object_add(bad_entries[4], "vlob_id", json_object_new_string(rl_hex(v)));
    json_object_object_add(bad_entries[4], "version", json_object_new_int(0));
    json_object_object_add(bad_entries[4], "blob", pclient_json_bytes("b", 1));
    json_object_object_add(bad_entries[5], "vlob_id", json_object_new_string(rl_hex(v)));
    json_object_object_add(bad_entries[5], "version", json_object_new_int(1));
    json_object_object_add(bad_entries[5], "blob", pclient_json_bytes("b", 1));
    json_object_object_add(bad_entries[5], "extra", json_object_new_int(1));
    const char *fields[] = {"batch[0]",         "batch[0]",         "batch[0]",
                            "batch[0].vlob_id", "batch[0].version", "batch[0].extra"};
    for (int i = 0; i < 6; i++) {
        json_object *list = json_object_new_array();
        json_object_array_add(list, bad_entries[i]);
        porg_expect_no_trace(ut_srv, o->admin, set_json(ut_copy(s), "batch", list), "bad_message",
                             fields[i]);
    }
    porg_expect_no_trace(ut_srv, o->admin, set_json(ut_copy(s), "batch", json_object_new_object()),
                         "bad_message", "batch");
    /* 10,000 entries: over the 1,000 of a batch */
    json_object *many = json_object_new_array();
    for (int i = 0; i < 10000; i++) {
        json_object *en = json_object_new_object();
        json_object_object_add(en, "vlob_id", json_object_new_string(rl_hex(v)));
        json_object_object_add(en, "version", json_object_new_int(1));
        json_object_object_add(en, "blob", pclient_json_bytes("b", 1));
        json_object_array_add(many, en);
    }
    porg_expect_no_trace(ut_srv, o->admin, set_json(ut_copy(s), "batch", many), "bad_message",
                         "batch");
    json_object_put(s);

    /* finish before the copies: maintenance_error; then done */
    porg_expect_no_trace(ut_srv, o->admin,
                         rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2),
                         "maintenance_error", "Reencryption operations are not over");
    expect_saved(o->admin, realm, 2, one, 1, 1, 1);
    porg_expect(ut_srv, o->admin,
                rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2), "ok");

    /* a realm without vlob finishes at once (Parsec 2.12 refused it) */
    const char *alone[] = {"admin"};
    porg_expect(ut_srv, o->admin, rl_req_start(empty, 2, rl_now(), alone, 1), "ok");
    json_object *r = porg_call(ut_srv, o->admin, save_batch(empty, 2, one, 1));
    ck_assert_int_eq(rl_int(r, "total"), 0);
    ck_assert_int_eq(rl_int(r, "done"), 0);
    json_object_put(r);
    porg_expect(ut_srv, o->admin,
                rl_req_realm_revision("realm_finish_reencryption_maintenance", empty, 2), "ok");

    pclient_device_free(man);
    porg_free(o2);
    porg_free(o);
}
END_TEST

/* A reencryption copy keeps the sequester blobs of its original (Parsec's
 * memory store lost them, behaviour 15.11). */
START_TEST(sequester_blobs_kept)
{
    pclient_blob_t authority;
    porg_t *o = rl_bootstrap_sequestered(&authority);
    uint8_t realm[16], v[16], s1[16];
    rl_realm(o->admin, realm);
    rl_sequester_service(o, "cert one", s1);
    rl_id(v);
    json_object *sb = json_object_new_object();
    json_object_object_add(sb, rl_hex(s1), pclient_json_bytes("for s1", 6));
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_create(realm, 1, v, rl_now(), "v1"), "sequester_blob", sb),
                "ok");
    const char *alone[] = {"admin"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), alone, 1), "ok");
    entry_t e[] = {{v, 1, "V1"}};
    expect_saved(o->admin, realm, 2, e, 1, 1, 1);
    porg_expect(ut_srv, o->admin,
                rl_req_realm_revision("realm_finish_reencryption_maintenance", realm, 2), "ok");
    char *kept = ut_sql("SELECT string_agg(r.encryption_revision || ':' ||"
                        "  convert_from(sa.blob, 'UTF8'), ',' ORDER BY r.encryption_revision)"
                        " FROM sequester_service_vlob_atom sa"
                        " JOIN vlob_atom a ON a._id = sa.vlob_atom JOIN vlob vl ON vl._id = a.vlob"
                        " JOIN vlob_encryption_revision r ON r._id = a.vlob_encryption_revision"
                        " WHERE vl.vlob_id = $1::uuid",
                        rl_hex(v), NULL);
    ck_assert_str_eq(kept, "1:for s1,2:for s1");
    free(kept);
    /* and the next write still carries its blob */
    json_object *sb2 = json_object_new_object();
    json_object_object_add(sb2, rl_hex(s1), pclient_json_bytes("s1 v2", 5));
    porg_expect(ut_srv, o->admin,
                set_json(rl_req_vlob_update(2, v, rl_now(), 2, "v2"), "sequester_blob", sb2), "ok");
    pclient_blob_free(&authority);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_realm_maintenance)
{
    Suite *s = suite_create("cmd_realm_maintenance");
    TCase *tc = ut_tcase("maintenance");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, full_reencryption);
    tcase_add_test(tc, start_refusals);
    tcase_add_test(tc, batch_and_finish_refusals);
    tcase_add_test(tc, sequester_blobs_kept);
    suite_add_tcase(s, tc);
    return s;
}
