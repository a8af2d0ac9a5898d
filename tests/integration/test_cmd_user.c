/*
 * tests/integration/test_cmd_user.c - user_create and device_create through
 * lighttpd (two worker processes) and a real PostgreSQL
 *
 * docs/protocol.md section 6.3 is what is checked: every status of both
 * schemas, the order of the checks, storage byte for byte, bad input for
 * every field and every way a certificate can be wrong, the organization's
 * limits under concurrency, and isolation between organizations.  Every
 * refusal is also checked to leave the database unchanged
 * (porg_expect_no_trace).
 */
#include "certif.h"
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000)

/* _id of device_id in o's organization, as text (malloc'd), for SQL checks. */
static char *device__id(const porg_t *o, const char *device_id)
{
    return ut_sql("SELECT d._id FROM device d JOIN organization o ON o._id = d.organization"
                  " WHERE o.organization_id = $1 AND d.device_id = $2",
                  o->organization_id, device_id, NULL);
}

static char *user_column(const porg_t *o, const char *user_id, const char *column)
{
    char *sql = xasprintf("SELECT %s FROM user_ u JOIN organization o ON o._id = u.organization"
                          " WHERE o.organization_id = $1 AND u.user_id = $2",
                          column);
    char *v = ut_sql(sql, o->organization_id, user_id, NULL);
    free(sql);
    return v;
}

static char *device_column(const porg_t *o, const char *device_id, const char *column)
{
    char *sql = xasprintf("SELECT %s FROM device d JOIN organization o ON o._id = d.organization"
                          " WHERE o.organization_id = $1 AND d.device_id = $2",
                          column);
    char *v = ut_sql(sql, o->organization_id, device_id, NULL);
    free(sql);
    return v;
}

static void assert_blob_column(char *hex_from_db, const pclient_blob_t *b)
{
    char *want = ut_hex(b->data, b->len);
    ck_assert_ptr_nonnull(hex_from_db);
    ck_assert_str_eq(hex_from_db, want);
    free(want);
    free(hex_from_db);
}

static void assert_ping(const pclient_device_t *d, const char *status)
{
    char *st = ut_ping(d);
    ck_assert_str_eq(st, status);
    free(st);
}

/* ---------------------------------------------------------------------------
 * user_create
 */

START_TEST(user_create_stores_as_received)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        ut_new_user(o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", ut_now());
    porg_expect(ut_srv, o->admin, pclient_req_user_create(bob), "ok");

    assert_blob_column(user_column(o, "bob", "encode(user_certificate, 'hex')"),
                       &bob->user_certificate);
    assert_blob_column(user_column(o, "bob", "encode(redacted_user_certificate, 'hex')"),
                       &bob->redacted_user_certificate);
    assert_blob_column(device_column(o, "bob@dev1", "encode(device_certificate, 'hex')"),
                       &bob->device_certificate);
    assert_blob_column(device_column(o, "bob@dev1", "encode(redacted_device_certificate, 'hex')"),
                       &bob->redacted_device_certificate);
    pclient_blob_t key = {bob->key.pub, 32};
    assert_blob_column(device_column(o, "bob@dev1", "encode(verify_key, 'hex')"), &key);

    char *v = user_column(o, "bob", "profile || ' ' || human_email || ' ' || human_label");
    ck_assert_str_eq(v, "STANDARD bob@example.com bob Label");
    free(v);
    v = device_column(o, "bob@dev1", "device_label");
    ck_assert_str_eq(v, "bob@dev1 label");
    free(v);

    /* created_on is the certificate's timestamp; the certifier the caller */
    char *ts = pclient_datetime(bob->created_on);
    v = user_column(o, "bob",
                    "to_char(u.created_on AT TIME ZONE 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    ck_assert_str_eq(v, ts);
    free(v);
    v = device_column(o, "bob@dev1",
                      "to_char(d.created_on AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    ck_assert_str_eq(v, ts);
    free(v);
    free(ts);
    char *admin_id = device__id(o, "admin@dev1");
    v = user_column(o, "bob", "user_certifier");
    ck_assert_str_eq(v, admin_id);
    free(v);
    v = device_column(o, "bob@dev1", "device_certifier");
    ck_assert_str_eq(v, admin_id);
    free(v);
    free(admin_id);
    v = user_column(o, "bob", "coalesce(revoked_on::text, 'none')");
    ck_assert_str_eq(v, "none");
    free(v);

    /* the new device authenticates at once */
    assert_ping(bob, "ok");
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(user_create_each_profile_and_non_human)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const char *profiles[] = {"ADMIN", "STANDARD", "OUTSIDER"};
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "u%d@dev1", i);
        pclient_device_t *u = ut_new_user(o, o->admin, id, profiles[i], NULL, ut_now());
        porg_expect(ut_srv, o->admin, pclient_req_user_create(u), "ok");
        char *p = user_column(o, u->user_id, "profile || coalesce(human_email, '-')");
        char want[32];
        snprintf(want, sizeof want, "%s-", profiles[i]);
        ck_assert_str_eq(p, want);
        free(p);
        assert_ping(u, "ok");
        pclient_device_free(u);
    }
    /* a user with no human handle and a device with no label: their
     * certificates are their own redacted versions */
    pclient_device_t *n = pclient_user_new(o->organization_id, "bare@d", "STANDARD", NULL, NULL,
                                           NULL, o->admin, NULL, ut_now());
    porg_expect(ut_srv, o->admin, pclient_req_user_create(n), "ok");
    char *label = device_column(o, "bare@d", "coalesce(device_label, 'null')");
    ck_assert_str_eq(label, "null");
    free(label);
    pclient_device_free(n);
    porg_free(o);
}
END_TEST

START_TEST(user_create_not_admin)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    pclient_device_t *out = porg_user(ut_srv, o, o->admin, "out@d", "OUTSIDER", NULL, NULL);
    const pclient_device_t *callers[] = {std, out};
    for (int i = 0; i < 2; i++) {
        pclient_device_t *nu = ut_new_user(o, callers[i], "carol@d", "STANDARD", NULL, ut_now());
        char *reason = xasprintf("User `%s` is not admin", callers[i]->user_id);
        porg_expect_no_trace(ut_srv, callers[i], pclient_req_user_create(nu), "not_allowed",
                             reason);
        /* checked before the fields are read */
        porg_expect_no_trace(ut_srv, callers[i], pclient_req("user_create"), "not_allowed", reason);
        free(reason);
        pclient_device_free(nu);
    }
    pclient_device_free(std);
    pclient_device_free(out);
    porg_free(o);
}
END_TEST

START_TEST(user_create_bad_fields)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *nu = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, ut_now());
    json_object *base = pclient_req_user_create(nu);
    const char *fields[] = {"user_certificate", "device_certificate", "redacted_user_certificate",
                            "redacted_device_certificate"};
    for (int i = 0; i < 4; i++)
        ut_bad_bytes_field(o->admin, base, fields[i], CERTIF_MAX_SIZE);
    /* base itself was fine all along */
    porg_expect(ut_srv, o->admin, base, "ok");
    pclient_device_free(nu);
    porg_free(o);
}
END_TEST

START_TEST(user_create_bad_certificates)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *nu =
        ut_new_user(o, o->admin, "bob@d", "STANDARD", "bob@example.com", ut_now());
    json_object *base = pclient_req_user_create(nu);
    pclient_user_certif_t uf = ut_user_fields(nu, o->admin->device_id);
    pclient_device_certif_t df = ut_device_fields(nu, o->admin->device_id);
    char *up = pclient_user_certif_payload(&uf, false);
    char *rup = pclient_user_certif_payload(&uf, true);
    char *dp = pclient_device_certif_payload(&df, false);
    char *rdp = pclient_device_certif_payload(&df, true);

    ut_bad_certificates(o->admin, base, "user_certificate", up, &nu->device_certificate);
    ut_bad_certificates(o->admin, base, "redacted_user_certificate", rup,
                        &nu->redacted_device_certificate);
    ut_bad_certificates(o->admin, base, "device_certificate", dp, &nu->user_certificate);
    ut_bad_certificates(o->admin, base, "redacted_device_certificate", rdp,
                        &nu->redacted_user_certificate);

    /* is_admin must agree with the profile */
    uf.is_admin = 1;
    porg_expect_no_trace(ut_srv, o->admin,
                         set_blob(ut_copy(base), "user_certificate",
                                  pclient_user_certif(&o->admin->key, &uf, false)),
                         "invalid_certification", "is_admin");
    uf.is_admin = -1;
    /* signed by the organization's root key, as at bootstrap: not the caller */
    pclient_user_certif_t rootf = ut_user_fields(nu, NULL);
    porg_expect_no_trace(
        ut_srv, o->admin,
        set_blob(ut_copy(base), "user_certificate", pclient_user_certif(&o->root, &rootf, false)),
        "invalid_certification", "author");
    /* a certificate of a device the caller does not hold: a STANDARD user
     * signs, the admin sends */
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    pclient_device_t *by_std = ut_new_user(o, std, "carol@d", "STANDARD", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(by_std), "invalid_certification",
                         "author");

    porg_expect(ut_srv, o->admin, base, "ok");
    free(up);
    free(rup);
    free(dp);
    free(rdp);
    pclient_device_free(by_std);
    pclient_device_free(std);
    pclient_device_free(nu);
    porg_free(o);
}
END_TEST

/* user_create of nu with its device certificates remade from df. */
static json_object *with_device_fields(const pclient_device_t *signer, const pclient_device_t *nu,
                                       const pclient_device_certif_t *df)
{
    json_object *req = pclient_req_user_create(nu);
    set_blob(req, "device_certificate", pclient_device_certif(&signer->key, df, false));
    set_blob(req, "redacted_device_certificate", pclient_device_certif(&signer->key, df, true));
    return req;
}

START_TEST(user_create_timestamps_and_ids)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const char *admin = o->admin->device_id;
    int64_t now = ut_now();

    /* user and device certificates of different timestamps */
    pclient_device_t *nu = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, now);
    pclient_device_certif_t df = ut_device_fields(nu, admin);
    df.timestamp = now + 1;
    porg_expect_no_trace(ut_srv, o->admin, with_device_fields(o->admin, nu, &df), "invalid_data",
                         "same timestamp");
    /* ... decided before the ballpark, which they both miss */
    pclient_device_t *old = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, now - 600 * SEC);
    df = ut_device_fields(old, admin);
    df.timestamp -= 1;
    porg_expect_no_trace(ut_srv, o->admin, with_device_fields(o->admin, old, &df), "invalid_data",
                         "same timestamp");
    pclient_device_free(old);

    /* out of the ballpark: 50 s early or 70 s late at most.  Offsets from
     * the time of each request (a loaded machine may take seconds between
     * two), a little beyond the bounds so that the request's own transit
     * cannot bring them back inside. */
    int64_t bad[] = {-73 * SEC, 53 * SEC, -3600 * SEC, 3600 * SEC, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ts = bad[i] == INT64_MIN ? 0 : ut_now() + bad[i];
        pclient_device_t *u = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, ts);
        porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(u), "invalid_certification",
                             "Invalid timestamp in certificate.");
        pclient_device_free(u);
    }
    /* a bad signature is reported before the timestamp */
    pclient_device_t *u = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, now - 3600 * SEC);
    u->user_certificate.data[0] ^= 1;
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(u), "invalid_certification",
                         "bad signature");
    pclient_device_free(u);

    /* the device of another user */
    df = ut_device_fields(nu, admin);
    df.device_id = "carol@d";
    porg_expect_no_trace(ut_srv, o->admin, with_device_fields(o->admin, nu, &df), "invalid_data",
                         "same user ID");
    /* ... decided after the ballpark */
    old = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, now - 600 * SEC);
    df = ut_device_fields(old, admin);
    df.device_id = "carol@d";
    porg_expect_no_trace(ut_srv, o->admin, with_device_fields(o->admin, old, &df),
                         "invalid_certification", "Invalid timestamp");
    pclient_device_free(old);

    /* inside the ballpark, at both ends */
    pclient_device_t *late =
        ut_new_user(o, o->admin, "late@d", "STANDARD", NULL, ut_now() - 60 * SEC);
    porg_expect(ut_srv, o->admin, pclient_req_user_create(late), "ok");
    pclient_device_t *early =
        ut_new_user(o, o->admin, "early@d", "STANDARD", NULL, ut_now() + 40 * SEC);
    porg_expect(ut_srv, o->admin, pclient_req_user_create(early), "ok");
    porg_expect(ut_srv, o->admin, pclient_req_user_create(nu), "ok");
    pclient_device_free(late);
    pclient_device_free(early);
    pclient_device_free(nu);
    porg_free(o);
}
END_TEST

START_TEST(user_create_redacted_mismatch)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const pclient_key_t *k = &o->admin->key;
    pclient_device_t *nu =
        ut_new_user(o, o->admin, "bob@d", "STANDARD", "bob@example.com", ut_now());
    json_object *base = pclient_req_user_create(nu);

    /* "redacted" certificates that still carry the sensitive field */
    pclient_user_certif_t uf = ut_user_fields(nu, o->admin->device_id);
    porg_expect_no_trace(
        ut_srv, o->admin,
        set_blob(ut_copy(base), "redacted_user_certificate", pclient_user_certif(k, &uf, false)),
        "invalid_data", "must not contain a human_handle");
    pclient_device_certif_t df = ut_device_fields(nu, o->admin->device_id);
    porg_expect_no_trace(ut_srv, o->admin,
                         set_blob(ut_copy(base), "redacted_device_certificate",
                                  pclient_device_certif(k, &df, false)),
                         "invalid_data", "must not contain a device_label");

    /* redacted certificates that differ in another field */
    pclient_user_certif_t variants[5];
    for (int i = 0; i < 5; i++)
        variants[i] = uf;
    variants[0].user_id = "mallory";
    variants[1].profile = "ADMIN";
    variants[2].public_key[0] ^= 1;
    variants[3].timestamp += 1;
    variants[4].profile = "OUTSIDER";
    for (int i = 0; i < 5; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_blob(ut_copy(base), "redacted_user_certificate",
                                      pclient_user_certif(k, &variants[i], true)),
                             "invalid_data", "differs");
    pclient_device_certif_t dvariants[3] = {df, df, df};
    dvariants[0].device_id = "bob@other";
    dvariants[1].verify_key[31] ^= 1;
    dvariants[2].timestamp -= 1;
    for (int i = 0; i < 3; i++)
        porg_expect_no_trace(ut_srv, o->admin,
                             set_blob(ut_copy(base), "redacted_device_certificate",
                                      pclient_device_certif(k, &dvariants[i], true)),
                             "invalid_data", "differs");
    /* the user check comes before the device check */
    json_object *both = ut_copy(base);
    set_blob(both, "redacted_user_certificate", pclient_user_certif(k, &uf, false));
    set_blob(both, "redacted_device_certificate", pclient_device_certif(k, &df, false));
    porg_expect_no_trace(ut_srv, o->admin, both, "invalid_data", "human_handle");

    porg_expect(ut_srv, o->admin, base, "ok");
    pclient_device_free(nu);
    porg_free(o);
}
END_TEST

START_TEST(user_create_already_exists)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", "bob@example.com", "Bob");

    /* the same user id, whatever the rest */
    pclient_device_t *again =
        ut_new_user(o, o->admin, "bob@other", "ADMIN", "other@example.com", ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(again), "already_exists",
                         "User `bob` already exists");
    /* the same email as an active user */
    pclient_device_t *twin =
        ut_new_user(o, o->admin, "bobby@d", "STANDARD", "bob@example.com", ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(twin), "already_exists",
                         "bob@example.com");
    /* emails are compared exactly */
    pclient_device_t *upper =
        ut_new_user(o, o->admin, "bobup@d", "STANDARD", "Bob@example.com", ut_now());
    porg_expect(ut_srv, o->admin, pclient_req_user_create(upper), "ok");

    /* once bob is revoked his email is free, his user id is not */
    porg_revoke(ut_srv, o->admin, "bob");
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(again), "already_exists",
                         "User `bob` already exists");
    porg_expect(ut_srv, o->admin, pclient_req_user_create(twin), "ok");
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM user_ u JOIN organization o"
                                 " ON o._id = u.organization WHERE o.organization_id = $1"
                                 " AND human_email = 'bob@example.com'",
                                 o->organization_id, NULL),
                     2);
    pclient_device_free(bob);
    pclient_device_free(again);
    pclient_device_free(twin);
    pclient_device_free(upper);
    porg_free(o);
}
END_TEST

START_TEST(user_create_active_users_limit)
{
    porg_t *o = porg_bootstrap_ex(ut_srv, NULL, ", \"active_users_limit\": 2");
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carol = ut_new_user(o, o->admin, "carol@d", "STANDARD", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(carol),
                         "active_users_limit_reached", NULL);
    /* the limit is decided before the user id and the email */
    pclient_device_t *dup = ut_new_user(o, o->admin, "bob@x", "STANDARD", NULL, ut_now());
    json_object *r = porg_call(ut_srv, o->admin, pclient_req_user_create(dup));
    ck_assert_str_eq(porg_status(r), "active_users_limit_reached");
    json_object *reason;
    ck_assert(json_object_object_get_ex(r, "reason", &reason) && reason == NULL);
    json_object_put(r);

    /* a revoked user no longer counts */
    porg_revoke(ut_srv, o->admin, "bob");
    porg_expect(ut_srv, o->admin, pclient_req_user_create(carol), "ok");
    pclient_device_t *dave = ut_new_user(o, o->admin, "dave@d", "STANDARD", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(dave),
                         "active_users_limit_reached", NULL);
    /* the limit is read at each creation: raising it lets dave in */
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": 3}");
    porg_expect(ut_srv, o->admin, pclient_req_user_create(dave), "ok");
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": null}");
    pclient_device_t *erin = porg_user(ut_srv, o, o->admin, "erin@d", "STANDARD", NULL, NULL);
    /* devices are not users */
    pclient_device_t *dev2 = porg_device(ut_srv, erin, "dev2");
    porg_patch_org(ut_srv, o->organization_id, "{\"active_users_limit\": 0}");
    pclient_device_t *dev3 = porg_device(ut_srv, erin, "dev3");
    pclient_device_free(bob);
    pclient_device_free(carol);
    pclient_device_free(dup);
    pclient_device_free(dave);
    pclient_device_free(erin);
    pclient_device_free(dev2);
    pclient_device_free(dev3);
    porg_free(o);
}
END_TEST

START_TEST(user_create_outsider_policy)
{
    porg_t *o = porg_bootstrap_ex(ut_srv, NULL, ", \"user_profile_outsider_allowed\": false");
    pclient_device_t *out = ut_new_user(o, o->admin, "out@d", "OUTSIDER", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(out), "not_allowed",
                         "Outsider profile is not allowed");
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    pclient_device_t *adm = porg_user(ut_srv, o, o->admin, "adm@d", "ADMIN", NULL, NULL);
    /* the policy is read at each creation */
    porg_patch_org(ut_srv, o->organization_id, "{\"user_profile_outsider_allowed\": true}");
    porg_expect(ut_srv, o->admin, pclient_req_user_create(out), "ok");
    porg_patch_org(ut_srv, o->organization_id, "{\"user_profile_outsider_allowed\": false}");
    pclient_device_t *out2 = ut_new_user(o, o->admin, "out2@d", "OUTSIDER", NULL, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_create(out2), "not_allowed",
                         "Outsider");
    /* existing outsiders keep working, and may add devices */
    assert_ping(out, "ok");
    pclient_device_t *out_dev2 = porg_device(ut_srv, out, "dev2");
    pclient_device_free(out);
    pclient_device_free(out2);
    pclient_device_free(out_dev2);
    pclient_device_free(std);
    pclient_device_free(adm);
    porg_free(o);
}
END_TEST

/* ---- concurrency ---- */

#define RACERS 8

/* Send reqs[RACERS] (consumed) by o's admin at once; count the statuses
 * equal to a and to b, any other fails the test. */
static void race(const porg_t *o, json_object **reqs, const char *a, int *na, const char *b,
                 int *nb)
{
    const pclient_device_t *callers[RACERS];
    char statuses[RACERS][UT_STATUS_MAX];
    for (int i = 0; i < RACERS; i++)
        callers[i] = o->admin;
    ut_race(callers, reqs, RACERS, statuses);
    *na = *nb = 0;
    for (int i = 0; i < RACERS; i++) {
        if (strcmp(statuses[i], a) == 0)
            (*na)++;
        else if (strcmp(statuses[i], b) == 0)
            (*nb)++;
        else
            ck_abort_msg("racer %d answered %s", i, statuses[i]);
    }
}

START_TEST(user_create_concurrent_limit)
{
    porg_t *o = porg_bootstrap_ex(ut_srv, NULL, ", \"active_users_limit\": 3");
    json_object *reqs[RACERS];
    pclient_device_t *users[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "racer%d@d", i);
        users[i] = ut_new_user(o, o->admin, id, "STANDARD", NULL, ut_now());
        reqs[i] = pclient_req_user_create(users[i]);
    }
    int ok, limited;
    race(o, reqs, "ok", &ok, "active_users_limit_reached", &limited);
    ck_assert_int_eq(ok, 2);
    ck_assert_int_eq(limited, RACERS - 2);
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM user_ u JOIN organization o"
                                 " ON o._id = u.organization WHERE o.organization_id = $1",
                                 o->organization_id, NULL),
                     3);
    for (int i = 0; i < RACERS; i++)
        pclient_device_free(users[i]);
    porg_free(o);
}
END_TEST

START_TEST(user_create_concurrent_email)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    json_object *reqs[RACERS];
    pclient_device_t *users[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "twin%d@d", i);
        users[i] = ut_new_user(o, o->admin, id, "STANDARD", "twin@example.com", ut_now());
        reqs[i] = pclient_req_user_create(users[i]);
    }
    int ok, exists;
    race(o, reqs, "ok", &ok, "already_exists", &exists);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(exists, RACERS - 1);
    /* the same user id at once */
    for (int i = 0; i < RACERS; i++) {
        pclient_device_free(users[i]);
        users[i] = ut_new_user(o, o->admin, "same@d", "STANDARD", NULL, ut_now());
        reqs[i] = pclient_req_user_create(users[i]);
    }
    race(o, reqs, "ok", &ok, "already_exists", &exists);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(exists, RACERS - 1);
    for (int i = 0; i < RACERS; i++)
        pclient_device_free(users[i]);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * device_create
 */

START_TEST(device_create_ok)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    const char *profiles[] = {"ADMIN", "STANDARD", "OUTSIDER"};
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "p%d@dev1", i);
        pclient_device_t *u = porg_user(ut_srv, o, o->admin, id, profiles[i], NULL, NULL);
        pclient_device_t *d2 = pclient_device_new(u, "dev2", "Second", u, ut_now());
        porg_expect(ut_srv, u, pclient_req_device_create(d2), "ok");
        assert_blob_column(device_column(o, d2->device_id, "encode(device_certificate, 'hex')"),
                           &d2->device_certificate);
        assert_blob_column(
            device_column(o, d2->device_id, "encode(redacted_device_certificate, 'hex')"),
            &d2->redacted_device_certificate);
        char *certifier = device__id(o, u->device_id);
        char *v = device_column(o, d2->device_id, "device_certifier");
        ck_assert_str_eq(v, certifier);
        free(v);
        free(certifier);
        v = device_column(o, d2->device_id, "device_label");
        ck_assert_str_eq(v, "Second");
        free(v);
        /* the new device works at once, and can itself add a device */
        assert_ping(d2, "ok");
        pclient_device_t *d3 = pclient_device_new(u, "dev3", NULL, d2, ut_now());
        porg_expect(ut_srv, d2, pclient_req_device_create(d3), "ok");
        assert_ping(d3, "ok");
        pclient_device_free(d3);
        pclient_device_free(d2);
        pclient_device_free(u);
    }
    porg_free(o);
}
END_TEST

START_TEST(device_create_bad_user_id)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    /* bob certifies a device of the admin; the admin one of bob */
    pclient_device_t *for_admin = pclient_device_new(o->admin, "x", NULL, bob, ut_now());
    porg_expect_no_trace(ut_srv, bob, pclient_req_device_create(for_admin), "bad_user_id",
                         "Device must be handled by it own user.");
    pclient_device_t *for_bob = pclient_device_new(bob, "x", NULL, o->admin, ut_now());
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_device_create(for_bob), "bad_user_id", NULL);
    /* a device of a user that does not exist */
    pclient_device_certif_t df = ut_device_fields(for_bob, bob->device_id);
    df.device_id = "ghost@x";
    json_object *req = pclient_req("device_create");
    set_blob(req, "device_certificate", pclient_device_certif(&bob->key, &df, false));
    set_blob(req, "redacted_device_certificate", pclient_device_certif(&bob->key, &df, true));
    porg_expect_no_trace(ut_srv, bob, req, "bad_user_id", NULL);
    /* decided after the ballpark */
    pclient_device_t *old = pclient_device_new(o->admin, "y", NULL, bob, ut_now() - 600 * SEC);
    porg_expect_no_trace(ut_srv, bob, pclient_req_device_create(old), "invalid_certification",
                         "Invalid timestamp in certification.");
    pclient_device_free(old);
    pclient_device_free(for_admin);
    pclient_device_free(for_bob);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(device_create_bad_fields_and_certificates)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *d2 = pclient_device_new(bob, "dev2", "Bob's phone", bob, ut_now());
    json_object *base = pclient_req_device_create(d2);
    ut_bad_bytes_field(bob, base, "device_certificate", CERTIF_MAX_SIZE);
    ut_bad_bytes_field(bob, base, "redacted_device_certificate", CERTIF_MAX_SIZE);

    pclient_device_certif_t df = ut_device_fields(d2, bob->device_id);
    char *dp = pclient_device_certif_payload(&df, false);
    char *rdp = pclient_device_certif_payload(&df, true);
    ut_bad_certificates(bob, base, "device_certificate", dp, &bob->user_certificate);
    ut_bad_certificates(bob, base, "redacted_device_certificate", rdp, &bob->user_certificate);
    free(dp);
    free(rdp);

    /* signed by another device (the admin's), naming bob as author */
    porg_expect_no_trace(ut_srv, bob,
                         set_blob(ut_copy(base), "device_certificate",
                                  pclient_device_certif(&o->admin->key, &df, false)),
                         "invalid_certification", "bad signature");
    /* certified by another of bob's devices, sent by bob@d */
    pclient_device_t *d3 = porg_device(ut_srv, bob, "dev3");
    pclient_device_t *by_d3 = pclient_device_new(bob, "dev4", NULL, d3, ut_now());
    porg_expect_no_trace(ut_srv, bob, pclient_req_device_create(by_d3), "invalid_certification",
                         "author");

    /* the ballpark */
    int64_t bad[] = {-73 * SEC, 53 * SEC}; /* from the time of each request */
    for (int i = 0; i < 2; i++) {
        pclient_device_t *d = pclient_device_new(bob, "late", NULL, bob, ut_now() + bad[i]);
        porg_expect_no_trace(ut_srv, bob, pclient_req_device_create(d), "invalid_certification",
                             "Invalid timestamp in certification.");
        pclient_device_free(d);
    }

    /* "redacted" with its label, or differing */
    porg_expect_no_trace(ut_srv, bob,
                         set_blob(ut_copy(base), "redacted_device_certificate",
                                  pclient_device_certif(&bob->key, &df, false)),
                         "invalid_data", "must not contain a device_label");
    pclient_device_certif_t v = df;
    v.verify_key[0] ^= 1;
    porg_expect_no_trace(ut_srv, bob,
                         set_blob(ut_copy(base), "redacted_device_certificate",
                                  pclient_device_certif(&bob->key, &v, true)),
                         "invalid_data", "differs");
    v = df;
    v.device_id = "bob@dev9";
    porg_expect_no_trace(ut_srv, bob,
                         set_blob(ut_copy(base), "redacted_device_certificate",
                                  pclient_device_certif(&bob->key, &v, true)),
                         "invalid_data", "differs");

    porg_expect(ut_srv, bob, base, "ok");
    pclient_device_free(by_d3);
    pclient_device_free(d3);
    pclient_device_free(d2);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(device_create_already_exists)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    /* the first device again, with a new key */
    pclient_device_t *again = pclient_device_new(bob, "d", NULL, bob, ut_now());
    porg_expect_no_trace(ut_srv, bob, pclient_req_device_create(again), "already_exists",
                         "Device `bob@d` already exists");
    pclient_device_t *d2 = porg_device(ut_srv, bob, "dev2");
    pclient_device_t *d2b = pclient_device_new(bob, "dev2", NULL, d2, ut_now());
    porg_expect_no_trace(ut_srv, d2, pclient_req_device_create(d2b), "already_exists",
                         "Device `bob@dev2` already exists");
    /* the old key still authenticates, the new one does not */
    assert_ping(d2, "ok");
    pclient_resp_t r;
    json_object *ping = pclient_req("ping");
    json_object_object_add(ping, "ping", json_object_new_string("x"));
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", o->organization_id, d2b, ping, &r);
    ck_assert_int_eq(r.status, 401);
    pclient_resp_free(&r);
    json_object_put(ping);
    pclient_device_free(again);
    pclient_device_free(d2);
    pclient_device_free(d2b);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Organizations are isolated
 */

/* POST req (consumed) to /authenticated/<org> with an explicit
 * Authorization; returns the HTTP status. */
static long post_as(const char *org, const pclient_device_t *dev, const char *authorization,
                    json_object *req)
{
    pclient_opts_t opts = {.authorization = authorization};
    pclient_resp_t r;
    pclient_cmd_ex(porg_srv_url(ut_srv), "authenticated", org, dev, &opts, req, &r);
    json_object_put(req);
    long st = r.status;
    pclient_resp_free(&r);
    return st;
}

START_TEST(isolation_between_organizations)
{
    porg_t *a = porg_bootstrap(ut_srv, NULL);
    porg_t *b = porg_bootstrap(ut_srv, NULL);
    /* both have admin@dev1; the same user id and email may live in both */
    pclient_device_t *bob_a =
        porg_user(ut_srv, a, a->admin, "bob@d", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *bob_b =
        porg_user(ut_srv, b, b->admin, "bob@d", "STANDARD", "bob@example.com", "Bob");

    /* A's admin cannot act in B: with its own token (naming A), with a
     * token naming B signed by its key, nor by sending B's URL B's
     * admin's device id */
    char *before = porg_fingerprint(ut_srv);
    pclient_device_t *carol = ut_new_user(b, a->admin, "carol@d", "STANDARD", NULL, ut_now());
    char *own = pclient_auth_header(a->admin, ut_now() / SEC);
    ck_assert_int_eq(post_as(b->organization_id, a->admin, own, pclient_req_user_create(carol)),
                     401);
    char *tok =
        pclient_auth_token(b->organization_id, "admin@dev1", &a->admin->key, ut_now() / SEC);
    char *forged = xasprintf("PARSEC-SIGN-ED25519 %s", tok);
    ck_assert_int_eq(post_as(b->organization_id, a->admin, forged, pclient_req_user_create(carol)),
                     401);
    ck_assert_int_eq(post_as(b->organization_id, a->admin, forged,
                             pclient_req_user_revoke(a->admin, "bob", ut_now())),
                     401);
    pclient_device_t *dev_b = pclient_device_new(bob_b, "evil", NULL, bob_a, ut_now());
    ck_assert_int_eq(post_as(b->organization_id, bob_a, NULL, pclient_req_device_create(dev_b)),
                     401);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);

    /* certificates A's admin signed are refused in B even when B's admin
     * sends them (author admin@dev1 in both, but another key) */
    porg_expect_no_trace(ut_srv, b->admin, pclient_req_user_create(carol), "invalid_certification",
                         "bad signature");

    /* limits and emails are per organization */
    porg_patch_org(ut_srv, a->organization_id, "{\"active_users_limit\": 2}");
    pclient_device_t *dave = porg_user(ut_srv, b, b->admin, "dave@d", "STANDARD", NULL, NULL);
    porg_revoke(ut_srv, b->admin, "bob");
    pclient_device_t *twin =
        ut_new_user(a, a->admin, "bobby@d", "STANDARD", "bob@example.com", ut_now());
    porg_expect_no_trace(ut_srv, a->admin, pclient_req_user_create(twin),
                         "active_users_limit_reached", NULL);
    porg_patch_org(ut_srv, a->organization_id, "{\"active_users_limit\": null}");
    porg_expect_no_trace(ut_srv, a->admin, pclient_req_user_create(twin), "already_exists",
                         "bob@example.com");
    assert_ping(bob_a, "ok");
    assert_ping(bob_b, "revoked_user");

    free(before);
    free(after);
    free(own);
    free(tok);
    free(forged);
    pclient_device_free(carol);
    pclient_device_free(dev_b);
    pclient_device_free(dave);
    pclient_device_free(twin);
    pclient_device_free(bob_a);
    pclient_device_free(bob_b);
    porg_free(a);
    porg_free(b);
}
END_TEST

/* The five commands exist on the authenticated route only. */
START_TEST(commands_only_authenticated)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t token[16];
    pclient_uuid_random(token);
    char *hex = pclient_uuid_hex(token);
    free(ut_sql("INSERT INTO invitation (organization, token, type, greeter, created_on)"
                " SELECT o._id, $2::uuid, 'DEVICE', u._id, now() FROM organization o"
                " JOIN user_ u ON u.organization = o._id"
                " WHERE o.organization_id = $1 AND u.user_id = 'admin'",
                o->organization_id, hex, NULL));
    pclient_device_t *nu = ut_new_user(o, o->admin, "bob@d", "STANDARD", NULL, ut_now());
    pclient_device_t *nd = pclient_device_new(o->admin, "dev2", NULL, o->admin, ut_now());
    json_object *reqs[] = {pclient_req_user_create(nu), pclient_req_device_create(nd),
                           pclient_req_user_revoke(o->admin, "bob", ut_now()),
                           set_str(pclient_req("user_get"), "user_id", "admin"),
                           pclient_req("human_find")};
    char *before = porg_fingerprint(ut_srv);
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        pclient_resp_t r;
        pclient_cmd(porg_srv_url(ut_srv), "anonymous", o->organization_id, NULL, reqs[i], &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(pclient_status(&r), "unknown_command");
        pclient_resp_free(&r);
        pclient_opts_t opts = {.invitation_token = hex};
        pclient_cmd_ex(porg_srv_url(ut_srv), "invited", o->organization_id, NULL, &opts, reqs[i],
                       &r);
        ck_assert_msg(r.status == 200 && pclient_status(&r) &&
                          !strcmp(pclient_status(&r), "unknown_command"),
                      "invited: %ld %s", r.status, r.body);
        pclient_resp_free(&r);
        json_object_put(reqs[i]);
    }
    /* nothing but the claimer's presence on the invitation changed */
    free(ut_sql("UPDATE invitation SET claimer_ready_on = NULL WHERE token = $1::uuid", hex, NULL));
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(hex);
    pclient_device_free(nu);
    pclient_device_free(nd);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_user)
{
    Suite *s = suite_create("cmd_user");
    TCase *tc = ut_tcase("user_create");
    tcase_add_test(tc, user_create_stores_as_received);
    tcase_add_test(tc, user_create_each_profile_and_non_human);
    tcase_add_test(tc, user_create_not_admin);
    tcase_add_test(tc, user_create_bad_fields);
    tcase_add_test(tc, user_create_bad_certificates);
    tcase_add_test(tc, user_create_timestamps_and_ids);
    tcase_add_test(tc, user_create_redacted_mismatch);
    tcase_add_test(tc, user_create_already_exists);
    tcase_add_test(tc, user_create_active_users_limit);
    tcase_add_test(tc, user_create_outsider_policy);
    tcase_add_test(tc, user_create_concurrent_limit);
    tcase_add_test(tc, user_create_concurrent_email);
    suite_add_tcase(s, tc);
    tc = ut_tcase("device_create");
    tcase_add_test(tc, device_create_ok);
    tcase_add_test(tc, device_create_bad_user_id);
    tcase_add_test(tc, device_create_bad_fields_and_certificates);
    tcase_add_test(tc, device_create_already_exists);
    tcase_add_test(tc, isolation_between_organizations);
    tcase_add_test(tc, commands_only_authenticated);
    suite_add_tcase(s, tc);
    return s;
}
