/*
 * tests/integration/test_client.c - the end-to-end encrypted client
 *
 * The built `parsec` binary run as a person or a script runs it
 * (passphrases through --password-stdin, each user with a device directory
 * of its own through XDG_DATA_HOME), against lighttpd + parsec-fcgi +
 * PostgreSQL (tests/lib/porg.h): one server for the suite, an organization
 * per test.  What docs/client.md promises: outputs, exit statuses, and what
 * the server stores.
 */
#include "ccrypto.h"
#include "cdevice.h"
#include "crypto.h"
#include "porg.h"
#include "tcprelay.h"
#include "test_client_lib.h"
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "websrv.h"
#include "xalloc.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static porg_srv_t *srv;

/* A fresh organization of the suite's server: its bootstrap address. */
static char *new_org(char **org)
{
    return ct_new_org_at(srv, org, websrv_port(porg_srv_websrv(srv)));
}

START_TEST(bootstrap_and_users)
{
    ct_person_t alice;
    ct_person_init(&alice, "alice passphrase");
    char *org, *out, *err;
    char *url = new_org(&org);

    int st = ct_client(&alice, &out, &err,
                       "bootstrap_organization '%s' --password-stdin --email alice@example.com "
                       "--label Alice --device-label laptop",
                       url);
    CT_EXPECT(st, 0, out, err);
    ck_assert_ptr_nonnull(strstr(out, "bootstrapped"));
    free(out);
    free(err);

    /* the device file: 0600, listed without its passphrase */
    st = ct_client(&alice, &out, &err, "list_devices");
    CT_EXPECT(st, 0, out, err);
    ck_assert_int_eq(ct_count_lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "alice@example.com\tAlice\tlaptop\tparsec://127.0.0.1:"));
    char *path = xasprintf("%s/parsec/devices/%s", alice.home, org);
    int sh;
    char *mode = testsh_runf(&sh, "stat -c %%a '%s'/*.keys", path);
    ck_assert_str_eq(mode, "600\n");
    free(mode);
    free(path);
    free(out);
    free(err);

    /* a second bootstrap: refused, and no second device left behind */
    st = ct_client(&alice, &out, &err,
                   "bootstrap_organization '%s' --password-stdin --email alice@example.com "
                   "--label Alice",
                   url);
    CT_EXPECT(st, 4, out, err);
    free(out);
    free(err);
    st = ct_client(&alice, &out, &err, "list_devices");
    ck_assert_int_eq(ct_count_lines(out), 1);
    free(out);
    free(err);

    /* the users, verified back to the root key */
    st = ct_client(&alice, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 0, out, err);
    ck_assert_int_eq(ct_count_lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "\talice@example.com\tAlice\tADMIN\tactive\n"));
    free(out);
    free(err);

    /* the wrong passphrase */
    ct_person_t mallory = alice;
    mallory.pass = "guess";
    st = ct_client(&mallory, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 7, out, err);
    ck_assert_ptr_nonnull(strstr(err, "wrong passphrase"));
    free(out);
    free(err);

    /* unknown users, self-revocation */
    st = ct_client(&alice, &out, &err, "revoke_user --password-stdin nobody@example.com");
    CT_EXPECT(st, 3, out, err);
    free(out);
    free(err);
    st = ct_client(&alice, &out, &err, "revoke_user --password-stdin alice@example.com");
    CT_EXPECT(st, 5, out, err);
    free(out);
    free(err);

    /* the server (or whoever writes its database) swaps a certificate's
     * payload: the client refuses it */
    porg_sql(srv,
             "UPDATE user_ SET user_certificate = overlay(user_certificate placing "
             "convert_to('STANDARD', 'UTF8') from position(convert_to('ADMIN', 'UTF8') in "
             "user_certificate) for 5) WHERE organization = (SELECT _id FROM organization WHERE "
             "organization_id = $1)",
             org, NULL);
    st = ct_client(&alice, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 6, out, err);
    ck_assert_ptr_nonnull(strstr(err, "does not verify"));
    free(out);
    free(err);

    free(url);
    free(org);
    ct_person_free(&alice);
}
END_TEST

START_TEST(bootstrap_refusals)
{
    ct_person_t p;
    ct_person_init(&p, "pw");
    char *org, *out, *err;
    char *url = new_org(&org);
    /* a wrong token */
    char *bad = xstrdup(url);
    char *t = strstr(bad, "token=") + 6;
    *t = *t == 'a' ? 'b' : 'a';
    int st = ct_client(
        &p, &out, &err,
        "bootstrap_organization '%s' --password-stdin --email a@example.com --label A", bad);
    CT_EXPECT(st, 3, out, err);
    free(out);
    free(err);
    /* not a bootstrap address, a bad email, no argument */
    st = ct_client(&p, &out, &err,
                   "bootstrap_organization 'https://x/y' --password-stdin "
                   "--email a@example.com --label A");
    CT_EXPECT(st, 2, out, err);
    free(out);
    free(err);
    st = ct_client(&p, &out, &err,
                   "bootstrap_organization '%s' --password-stdin --email nope --label A", url);
    CT_EXPECT(st, 2, out, err);
    free(out);
    free(err);
    st = ct_client(&p, &out, &err, "bootstrap_organization --password-stdin");
    CT_EXPECT(st, 2, out, err);
    free(out);
    free(err);
    /* nothing left on disk, and no device to act as */
    st = ct_client(&p, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 7, out, err);
    free(out);
    free(err);
    free(bad);
    free(url);
    free(org);
    ct_person_free(&p);
}
END_TEST

/* ---- two people at once ---- */

START_TEST(invite_greet_claim)
{
    ct_person_t alice, bob, alice2, carol;
    ct_person_init(&alice, "alice passphrase");
    ct_person_init(&bob, "bob passphrase");
    ct_person_init(&alice2, "second device");
    ct_person_init(&carol, "carol");
    char *org, *out, *err;
    char *burl = new_org(&org);
    int st = ct_client(&alice, &out, &err,
                       "bootstrap_organization '%s' --password-stdin --email alice@example.com "
                       "--label Alice",
                       burl);
    CT_EXPECT(st, 0, out, err);
    free(out);
    free(err);

    /* a new user: two processes, the codes compared */
    char *url = ct_invite(&alice, "invite_user bob@example.com", 0);
    ck_assert_ptr_nonnull(strstr(url, "action=claim_user&token="));
    int sts[2];
    ct_exchange(&alice, "bob@example.com", "STANDARD", &bob, url, "Bob", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(url);
    st = ct_client(&bob, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 0, out, err);
    ck_assert_int_eq(ct_count_lines(out), 2);
    ck_assert_ptr_nonnull(strstr(out, "\tbob@example.com\tBob\tSTANDARD\tactive\n"));
    ck_assert_ptr_nonnull(strstr(out, "\talice@example.com\tAlice\tADMIN\tactive\n"));
    free(out);
    free(err);
    free(ct_invite(&alice, "invite_user bob@example.com", 4));
    free(ct_invite(&bob, "invite_user carol@example.com", 5)); /* STANDARD */

    /* a second device of alice's */
    url = ct_invite(&alice, "invite_device", 0);
    ck_assert_ptr_nonnull(strstr(url, "action=claim_device&token="));
    ct_exchange(&alice, strstr(url, "token=") + 6, "STANDARD", &alice2, url, "ignored", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(url);
    st = ct_client(&alice2, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 0, out, err);
    ck_assert_int_eq(ct_count_lines(out), 2);
    free(out);
    free(err);

    /* the greeter says the codes differ: cancelled on both sides */
    url = ct_invite(&alice, "invite_user carol@example.com", 0);
    ct_exchange(&alice, "carol@example.com", "STANDARD", &carol, url, "Carol", false, sts);
    ck_assert_int_eq(sts[0], 6);
    ck_assert_int_eq(sts[1], 5);
    st = ct_client(&carol, &out, &err, "list_devices");
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    /* the address is dead */
    st = ct_client(&carol, &out, &err, "claim_invitation '%s' --password-stdin --label Carol", url);
    CT_EXPECT(st, 5, out, err);
    free(out);
    free(err);
    free(url);

    /* revocation: bob is refused from then on */
    st = ct_client(&alice2, &out, &err, "revoke_user --password-stdin bob@example.com");
    CT_EXPECT(st, 0, out, err);
    free(out);
    free(err);
    st = ct_client(&alice, &out, &err, "revoke_user --password-stdin bob@example.com");
    CT_EXPECT(st, 4, out, err);
    free(out);
    free(err);
    st = ct_client(&bob, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 5, out, err);
    ck_assert_ptr_nonnull(strstr(err, "revoked"));
    free(out);
    free(err);
    st = ct_client(&alice, &out, &err, "list_users --password-stdin");
    CT_EXPECT(st, 0, out, err);
    ck_assert_ptr_nonnull(strstr(out, "\tbob@example.com\tBob\tSTANDARD\trevoked\n"));
    free(out);
    free(err);

    free(burl);
    ct_two_users_free(&alice, &bob, org);
    ct_person_free(&alice2);
    ct_person_free(&carol);
}
END_TEST

/* ---- workspaces ---- */

/* ct_two_users_at on the suite's server. */
static void two_users(ct_person_t *alice, ct_person_t *bob, char **org)
{
    ct_two_users_at(srv, alice, bob, org, websrv_port(porg_srv_websrv(srv)));
}

/* Hex blobs of the realm at one revision, comma-separated (malloc'd). */
static char *blobs_at(const char *realm_id, const char *rev)
{
    char *s = porg_sql(srv,
                       "SELECT string_agg(encode(a.blob, 'hex'), ',') FROM vlob_atom a "
                       "JOIN vlob_encryption_revision r ON a.vlob_encryption_revision = r._id "
                       "JOIN realm re ON r.realm = re._id "
                       "WHERE re.realm_id = $1::uuid AND r.encryption_revision = $2::int",
                       realm_id, rev, NULL);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* How many of the comma-separated hex blobs open with key. */
static int opening(const char *blobs, const uint8_t key[32], int *total)
{
    int ok = 0;
    *total = 0;
    char *copy = xstrdup(blobs);
    for (char *save = NULL, *h = strtok_r(copy, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        size_t n, pn;
        uint8_t *b = crypto_hex_decode(h, strlen(h), &n);
        ck_assert_ptr_nonnull(b);
        uint8_t *p = ccrypto_secretbox_open(key, b, n, &pn);
        ok += p != NULL;
        (*total)++;
        free(p);
        free(b);
    }
    free(copy);
    return ok;
}

/* The workspace key bob's first message carried, read from the database
 * and opened with bob's own device, as a revoked user still can. */
static void bobs_old_key(const ct_person_t *bob, const char *org, uint8_t key[32])
{
    char *hex = porg_sql(srv,
                         "SELECT encode(m.body, 'hex') FROM message m JOIN user_ u ON "
                         "m.recipient = u._id JOIN organization o ON u.organization = o._id "
                         "WHERE o.organization_id = $1 AND u.human_email = 'bob@example.com' "
                         "ORDER BY m.index LIMIT 1",
                         org, NULL);
    ck_assert_ptr_nonnull(hex);
    setenv("XDG_DATA_HOME", bob->home, 1);
    size_t n;
    cdevice_entry *e = cdevice_list(&n);
    ck_assert_uint_eq(n, 1);
    cdevice_t d;
    ck_assert_int_eq(cdevice_load(e[0].path, bob->pass, strlen(bob->pass), &d), CDEVICE_OK);
    cdevice_list_free(e, n);
    unsetenv("XDG_DATA_HOME");
    size_t blen, plen;
    uint8_t *body = crypto_hex_decode(hex, strlen(hex), &blen);
    uint8_t *plain = ccrypto_unseal(&d.user_key, body, blen, &plen);
    ck_assert_ptr_nonnull(plain);
    /* signature || JSON, not NUL-terminated */
    char *t = xstrndup((const char *)plain + 64, plen - 64);
    json_object *j = json_tokener_parse(t);
    free(t);
    ck_assert_ptr_nonnull(j);
    json_object *k;
    ck_assert(json_object_object_get_ex(j, "key", &k));
    size_t kn;
    uint8_t *kb =
        crypto_b64_decode(json_object_get_string(k), strlen(json_object_get_string(k)), &kn);
    ck_assert_uint_eq(kn, 32);
    memcpy(key, kb, 32);
    free(kb);
    json_object_put(j);
    free(plain);
    free(body);
    free(hex);
    cdevice_free(&d);
}

START_TEST(workspaces_shared_and_reencrypted)
{
    ct_person_t alice, bob;
    char *org;
    two_users(&alice, &bob, &org);

    free(ct_run_ok(&alice, 0, "create_workspace Quarterly-7f3a"));
    free(ct_run_ok(&alice, 0, "mkdir Quarterly-7f3a:/secret-reports-9c1d"));
    free(ct_run_ok(&alice, 4, "mkdir Quarterly-7f3a:/secret-reports-9c1d"));
    free(ct_run_ok(&alice, 3, "mkdir Quarterly-7f3a:/nowhere/x"));
    free(ct_run_ok(&bob, 3, "ls Quarterly-7f3a"));
    char *out = ct_run_ok(&alice, 0, "list_workspaces");
    ck_assert_ptr_nonnull(strstr(out, "Quarterly-7f3a\tOWNER\t"));
    char *wid = xstrndup(strstr(out, "OWNER\t") + 6, 32);
    free(out);

    /* shared: bob sees it, writes in it, alice sees bob's folder */
    free(ct_run_ok(&alice, 0, "share_workspace Quarterly-7f3a bob@example.com CONTRIBUTOR"));
    free(ct_run_ok(&alice, 4, "share_workspace Quarterly-7f3a bob@example.com CONTRIBUTOR"));
    free(ct_run_ok(&bob, 5, "share_workspace Quarterly-7f3a alice@example.com READER"));
    out = ct_run_ok(&bob, 0, "list_workspaces");
    ck_assert_ptr_nonnull(strstr(out, "Quarterly-7f3a\tCONTRIBUTOR\t"));
    free(out);
    free(ct_run_ok(&bob, 0, "mkdir Quarterly-7f3a:/from-bob-4e2b"));
    out = ct_run_ok(&alice, 0, "ls Quarterly-7f3a:/");
    ck_assert_str_eq(out, strstr(out, "from-bob") == out
                              ? "from-bob-4e2b/\nsecret-reports-9c1d/\n"
                              : "secret-reports-9c1d/\nfrom-bob-4e2b/\n");
    free(out);
    free(ct_run_ok(&alice, 0, "rm Quarterly-7f3a:/from-bob-4e2b"));
    out = ct_run_ok(&bob, 0, "ls Quarterly-7f3a");
    ck_assert_str_eq(out, "secret-reports-9c1d/\n");
    free(out);

    /* the server never saw a name */
    static const char *const names[] = {"Quarterly", "secret-reports", "from-bob", NULL};
    for (size_t i = 0; names[i]; i++) {
        char *hits = porg_sql(srv,
                              "SELECT (SELECT count(*) FROM vlob_atom WHERE "
                              "position(convert_to($1, 'UTF8') in blob) > 0) + (SELECT count(*) "
                              "FROM message WHERE position(convert_to($1, 'UTF8') in body) > 0)",
                              names[i], NULL);
        ck_assert_str_eq(hits, "0");
        free(hits);
    }

    /* bob's key opens what exists at revision 1 */
    uint8_t old[32];
    bobs_old_key(&bob, org, old);
    int total;
    char *r1 = blobs_at(wid, "1");
    ck_assert_int_eq(opening(r1, old, &total), total);
    ck_assert_int_ge(total, 4);
    free(r1);

    /* revoked: refused, and what alice writes next is under a key bob
     * never got */
    out = ct_run_ok(&alice, 0, "revoke_user bob@example.com");
    ck_assert_ptr_nonnull(strstr(out, "re-encrypted (revision 2)"));
    free(out);
    free(ct_run_ok(&bob, 5, "ls Quarterly-7f3a"));
    free(ct_run_ok(&alice, 0, "mkdir Quarterly-7f3a:/after-revocation"));
    char *r2 = blobs_at(wid, "2");
    ck_assert_int_eq(opening(r2, old, &total), 0);
    ck_assert_int_ge(total, 5);
    free(r2);
    out = ct_run_ok(&alice, 0, "ls Quarterly-7f3a");
    ck_assert_ptr_nonnull(strstr(out, "after-revocation/\n"));
    free(out);

    /* a blob altered in the database: detected, not shown */
    porg_sql(srv,
             "UPDATE vlob_atom a SET blob = overlay(blob placing '\\x00'::bytea from 40 for 1) "
             "FROM vlob v, realm re WHERE a.vlob = v._id AND v.realm = re._id AND "
             "re.realm_id = $1::uuid AND v.vlob_id = $1::uuid",
             wid, NULL);
    char *err;
    int st = ct_client(&alice, &out, &err, "ls Quarterly-7f3a --password-stdin");
    CT_EXPECT(st, 6, out, err);
    ck_assert_ptr_nonnull(strstr(err, "does not decrypt"));
    free(out);
    free(err);

    free(wid);
    ct_two_users_free(&alice, &bob, org);
}
END_TEST

/* ---- files ---- */

/* A local tree of bounded size for the shared 2-core machine: 24 small
 * files (each with a marker the server must never see), an empty one, and
 * one of 2.3 MiB (five blocks, the last partial), in two levels. */
static void make_tree(const char *root)
{
    int st;
    free(testsh_runf(&st, "mkdir -p '%s/sub/deeper'", root));
    ck_assert_int_eq(st, 0);
    for (int i = 0; i < 24; i++) {
        char *path = xasprintf("%s/%snote-%02d.txt", root,
                               i % 3 == 0   ? "sub/"
                               : i % 3 == 1 ? "sub/deeper/"
                                            : "",
                               i);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        for (int k = 0; k < 50 * (i + 1); k++)
            fprintf(f, "plaintext-marker-6b1f line %d of note %d\n", k, i);
        fclose(f);
        free(path);
    }
    free(testsh_runf(&st, ": > '%s/empty.bin' && head -c 2411724 /dev/urandom > '%s/big.bin'", root,
                     root));
    ck_assert_int_eq(st, 0);
}

START_TEST(files_put_get_rsync)
{
    ct_person_t alice, bob;
    char *org;
    ct_two_users_sharing(srv, &alice, &bob, &org, websrv_port(porg_srv_websrv(srv)), "Files",
                         "CONTRIBUTOR");
    char *src = xasprintf("%s/src", alice.home), *dst = xasprintf("%s/dst", bob.home);
    make_tree(src);
    int st;
    free(testsh_runf(&st, "mkdir -p '%s'", dst));

    /* rsync: everything the first time, nothing the second */
    char *args = xasprintf("rsync '%s' Files:/data", src);
    char *out = ct_run_ok(&alice, 0, args);
    ck_assert_str_eq(out, "26 files sent, 0 unchanged, 29 blocks (3036884 bytes) uploaded\n");
    free(out);
    out = ct_run_ok(&alice, 0, args);
    ck_assert_str_eq(out, "0 files sent, 26 unchanged, 0 blocks (0 bytes) uploaded\n");
    free(out);
    out = ct_run_ok(&bob, 0, "ls Files:/data");
    ck_assert_str_eq(out, "big.bin\t2411724\nempty.bin\t0\nnote-02.txt\t6040\n"
                          "note-05.txt\t12190\nnote-08.txt\t18340\nnote-11.txt\t25090\n"
                          "note-14.txt\t31390\nnote-17.txt\t37690\nnote-20.txt\t44040\n"
                          "note-23.txt\t50490\nsub/\n");
    free(out);

    /* bob gets them byte for byte */
    static const char *const files[] = {
        "big.bin", "empty.bin", "note-02.txt", "sub/note-00.txt", "sub/deeper/note-22.txt", NULL};
    for (size_t i = 0; files[i]; i++) {
        char *g = xasprintf("get Files:/data/%s '%s/f%zu'", files[i], dst, i);
        free(ct_run_ok(&bob, 0, g));
        free(g);
        char *o = testsh_runf(&st, "cmp '%s/%s' '%s/f%zu'", src, files[i], dst, i);
        ck_assert_msg(st == 0, "%s differs: %s", files[i], o);
        free(o);
    }

    /* one block of the big file changed: one block sent */
    free(testsh_runf(&st,
                     "printf 'XXXX' | dd of='%s/big.bin' bs=1 seek=600000 conv=notrunc "
                     "2>/dev/null",
                     src));
    out = ct_run_ok(&alice, 0, args);
    ck_assert_str_eq(out, "1 files sent, 25 unchanged, 1 blocks (524288 bytes) uploaded\n");
    free(out);
    char *g = xasprintf("get Files:/data/big.bin '%s'", dst);
    free(ct_run_ok(&bob, 0, g));
    free(g);
    char *o = testsh_runf(&st, "cmp '%s/big.bin' '%s/big.bin'", src, dst);
    ck_assert_msg(st == 0, "big.bin differs: %s", o);
    free(o);

    /* put into a folder, and a missing one */
    char *p = xasprintf("put '%s/empty.bin' Files:/data/sub/", src);
    free(ct_run_ok(&bob, 0, p));
    free(p);
    p = xasprintf("put '%s/empty.bin' Files:/nowhere/x", src);
    free(ct_run_ok(&bob, 3, p));
    free(p);
    free(ct_run_ok(&bob, 3, "get Files:/data/missing.bin /tmp"));

    /* no plaintext anywhere on the server: names, contents */
    static const char *const needles[] = {"plaintext-marker-6b1f", "note-0", "big.bin", NULL};
    for (size_t i = 0; needles[i]; i++) {
        char *hits = porg_sql(srv,
                              "SELECT (SELECT count(*) FROM block_data WHERE "
                              "position(convert_to($1, 'UTF8') in data) > 0) + (SELECT count(*) "
                              "FROM vlob_atom WHERE position(convert_to($1, 'UTF8') in blob) > 0)",
                              needles[i], NULL);
        ck_assert_str_eq(hits, "0");
        free(hits);
    }

    /* a block altered in the blockstore: detected, nothing written */
    porg_sql(srv,
             "UPDATE block_data SET data = overlay(data placing '\\xff'::bytea from 100 for 1) "
             "WHERE organization_id = $1",
             org, NULL);
    char *err;
    st = ct_client(&bob, &out, &err, "get Files:/data/note-02.txt '%s/tampered' --password-stdin",
                   dst);
    CT_EXPECT(st, 6, out, err);
    ck_assert_ptr_nonnull(strstr(err, "altered"));
    free(out);
    free(err);
    o = testsh_runf(&st, "ls '%s'", dst);
    ck_assert_ptr_null(strstr(o, "tampered"));
    free(o);

    free(args);
    free(src);
    free(dst);
    ct_two_users_free(&alice, &bob, org);
}
END_TEST

/* ---- the window of block requests ---- */

#define WIN_BLOCKS 11 /* more than twice the window (4) */
#define WIN_TAIL   1000

/* A file of WIN_BLOCKS - 1 full blocks and a short one, no two alike: a
 * block dropped, repeated or out of place changes the bytes. */
static void write_window_file(const char *path)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (long k = 0; k < WIN_BLOCKS; k++) {
        long n = k < WIN_BLOCKS - 1 ? 524288 : WIN_TAIL;
        for (long j = 0; j < n; j++)
            fputc((int)((k * 131 + j * 7 + j / 4096) & 0xff), f);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* get of Win:/win.bin into dst, byte for byte src. */
static void get_same(const ct_person_t *p, const char *src, const char *dst)
{
    char *get = xasprintf("get Win:/win.bin '%s'", dst);
    free(ct_run_ok(p, 0, get));
    free(get);
    int st;
    char *o = testsh_runf(&st, "cmp '%s' '%s'", src, dst);
    ck_assert_msg(st == 0, "differs: %s", o);
    free(o);
}

/* get of Win:/win.bin into dst, which holds "kept\n" before: expected to
 * fail with status want, saying what; dst as it was, no temporary left. */
static void get_fails(const ct_person_t *p, const char *dst, int want, const char *what)
{
    int st;
    free(testsh_runf(&st, "printf 'kept\\n' > '%s'", dst));
    char *out, *err;
    st = ct_client(p, &out, &err, "get Win:/win.bin '%s' --password-stdin", dst);
    CT_EXPECT(st, want, out, err);
    ck_assert_msg(strstr(err, what), "stderr: %s", err);
    free(out);
    free(err);
    char *o = testsh_runf(&st, "cat '%s'; ls '%s.parsec-part' 2>&1 >/dev/null | wc -l", dst, dst);
    ck_assert_str_eq(o, "kept\n1\n");
    free(o);
}

/*
 * get through the window of block requests (docs/client.md, "Files"):
 * blocks come back in order, each once, including a block rewritten in
 * the middle of the file (the newest in the store: the only one the second
 * put sends).  That block then altered, lost by the store (the server's
 * `timeout`, a server error in the middle of the file) or missing: exit 6,
 * 1 and 6, and the destination left as it was each time.
 */
START_TEST(files_window_in_order)
{
    ct_person_t alice;
    ct_person_init(&alice, "alice passphrase");
    char *org;
    char *burl = new_org(&org);
    char *args =
        xasprintf("bootstrap_organization '%s' --email alice@example.com --label Alice", burl);
    free(ct_run_ok(&alice, 0, args));
    free(args);
    free(burl);
    free(ct_run_ok(&alice, 0, "create_workspace Win"));
    char *src = xasprintf("%s/win.bin", alice.home), *dst = xasprintf("%s/back.bin", alice.home);
    write_window_file(src);

    args = xasprintf("put '%s' Win:/win.bin", src);
    char *out = ct_run_ok(&alice, 0, args);
    char *want = xasprintf("win.bin: %d blocks sent (%d bytes)\n", WIN_BLOCKS,
                           (WIN_BLOCKS - 1) * 524288 + WIN_TAIL);
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    get_same(&alice, src, dst);
    int st;

    /* block 6 rewritten: sent alone, read back in its place */
    free(testsh_runf(&st,
                     "printf 'block six, again' | dd of='%s' bs=1 seek=%ld conv=notrunc "
                     "2>/dev/null",
                     src, 6 * 524288L + 100));
    out = ct_run_ok(&alice, 0, args);
    ck_assert_str_eq(out, "win.bin: 1 blocks sent (524288 bytes)\n");
    free(out);
    get_same(&alice, src, dst);

    char *six = porg_sql(srv,
                         "SELECT b.block_id::text FROM block b JOIN organization o ON "
                         "b.organization = o._id WHERE o.organization_id = $1 "
                         "ORDER BY b._id DESC LIMIT 1",
                         org, NULL);
    ck_assert_ptr_nonnull(six);
    char *saved = porg_sql(srv,
                           "SELECT encode(data, 'hex') FROM block_data WHERE organization_id = $1 "
                           "AND block_id = $2::uuid",
                           org, six, NULL);
    ck_assert_ptr_nonnull(saved);

    /* altered: exit 6 */
    free(porg_sql(srv,
                  "UPDATE block_data SET data = overlay(data placing '\\xff'::bytea from 300 "
                  "for 1) WHERE organization_id = $1 AND block_id = $2::uuid",
                  org, six, NULL));
    get_fails(&alice, dst, 6, "altered");
    /* lost by the store: the server answers timeout, exit 1 */
    free(porg_sql(srv, "DELETE FROM block_data WHERE organization_id = $1 AND block_id = $2::uuid",
                  org, six, NULL));
    get_fails(&alice, dst, 1, "timeout");
    /* back in the store: read again */
    free(porg_sql(srv,
                  "INSERT INTO block_data (organization_id, block_id, data) "
                  "VALUES ($1, $2::uuid, decode($3, 'hex'))",
                  org, six, saved, NULL));
    get_same(&alice, src, dst);
    /* unknown to the server: exit 6 */
    free(porg_sql(srv,
                  "DELETE FROM block WHERE block_id = $1::uuid AND organization = "
                  "(SELECT _id FROM organization WHERE organization_id = $2)",
                  six, org, NULL));
    get_fails(&alice, dst, 6, "is missing");

    free(saved);
    free(six);
    free(args);
    free(src);
    free(dst);
    free(org);
    ct_person_free(&alice);
}
END_TEST

/*
 * put through the window refused by the server (a READER: every
 * block_create answers not_allowed, the first answer read once the window
 * is full): exit 5, and no manifest written, so no file appears.
 */
START_TEST(files_window_put_refused)
{
    ct_person_t alice, bob;
    char *org;
    ct_two_users_sharing(srv, &alice, &bob, &org, websrv_port(porg_srv_websrv(srv)), "WinR",
                         "READER");
    char *src = xasprintf("%s/win.bin", bob.home);
    write_window_file(src);
    char *out, *err;
    int st = ct_client(&bob, &out, &err, "put '%s' WinR:/win.bin --password-stdin", src);
    CT_EXPECT(st, 5, out, err);
    ck_assert_msg(strstr(err, "no write access to WinR"), "stderr: %s", err);
    free(out);
    free(err);
    out = ct_run_ok(&alice, 0, "ls WinR");
    ck_assert_str_eq(out, "");
    free(out);
    free(src);
    ct_two_users_free(&alice, &bob, org);
}
END_TEST

/* ---- concurrent updates: both versions kept ---- */

/*
 * race - alice puts LOCAL to Shared:/NAME, her request naming vlob_update
 * held by the relay until bob's put of THEIRS to the same name is done:
 * the interleaving docs/client.md's conflict rule is about, made
 * deterministic.  Returns alice's stderr line's kept name (malloc'd).
 */
static char *race(tcprelay_t *relay, const ct_person_t *alice, const ct_person_t *bob,
                  const char *mine, const char *theirs, const char *name)
{
    char *remote = xasprintf("Shared:/%s", name);
    tcprelay_hold(relay, "vlob_update");
    ct_bg_t b;
    ct_bg_start(&b, alice, (const char *[]){"put", mine, remote, "--password-stdin", NULL});
    ct_bg_write(&b, alice->pass);
    ct_bg_write(&b, "\n");
    ck_assert_msg(tcprelay_wait_held(relay, 120), "alice's put never reached vlob_update");
    char *args = xasprintf("put '%s' '%s'", theirs, remote);
    free(ct_run_ok(bob, 0, args));
    free(args);
    tcprelay_release(relay);
    ck_assert_int_eq(ct_bg_end(&b, alice), 0);
    int st;
    char *err = testsh_runf(&st, "cat '%s/stderr-bg'", alice->home);
    char *want = xasprintf("%s changed remotely meanwhile: yours is kept as ", name);
    const char *at = strstr(err, want);
    ck_assert_msg(at, "no conflict said: %s", err);
    at += strlen(want);
    char *kept = xstrndup(at, strcspn(at, "\n"));
    free(want);
    free(err);
    free(remote);
    return kept;
}

/* name is "STEM (conflict with LABEL YYYY-MM-DD HH-MM-SS)EXT". */
static void check_conflict_name(const char *name, const char *stem, const char *label,
                                const char *ext)
{
    char *head = xasprintf("%s (conflict with %s ", stem, label);
    ck_assert_msg(!strncmp(name, head, strlen(head)), "%s", name);
    const char *d = name + strlen(head);
    ck_assert_msg(strlen(d) == 20 + strlen(ext) && d[19] == ')' && !strcmp(d + 20, ext), "%s",
                  name);
    for (int i = 0; i < 19; i++)
        ck_assert_msg(i == 4 || i == 7 || i == 13 || i == 16 ? d[i] == '-'
                      : i == 10                              ? d[i] == ' '
                                                             : d[i] >= '0' && d[i] <= '9',
                      "%s", name);
    free(head);
}

/*
 * Two devices write one file at once, alice's through a relay that holds
 * her vlob_update until bob's write is done: an update in place (her
 * vlob_update at a version bob took: bad_version) and a creation (her
 * folder update after bob added the same name).  Both times bob's version
 * keeps the name, alice's is kept under a conflict name, both readable.
 */
START_TEST(concurrent_updates_keep_both)
{
    int port = testenv_free_port();
    tcprelay_t *relay = tcprelay_start(port, websrv_port(porg_srv_websrv(srv)));
    ck_assert_ptr_nonnull(relay);
    ct_person_t alice, bob;
    char *org;
    ct_two_users_sharing(srv, &alice, &bob, &org, port, "Shared", "CONTRIBUTOR");
    char *out = ct_run_ok(&alice, 0, "list_devices");
    const char *l = out;
    for (int k = 0; k < 3; k++)
        l = strchr(l, '\t') + 1;
    char *label = xstrndup(l, strcspn(l, "\t"));
    free(out);
    char *v0 = xasprintf("%s/v0", alice.home), *mine = xasprintf("%s/mine", alice.home),
         *theirs = xasprintf("%s/theirs", bob.home);
    ct_write_file(v0, "the first version\n");
    ct_write_file(mine, "alice's version, longer\n");
    ct_write_file(theirs, "bob's version\n");
    char *args = xasprintf("put '%s' Shared:/report.txt", v0);
    free(ct_run_ok(&alice, 0, args));
    free(args);

    /* an update in place */
    char *kept = race(relay, &alice, &bob, mine, theirs, "report.txt");
    check_conflict_name(kept, "report", label, ".txt");
    out = ct_run_ok(&bob, 0, "ls Shared");
    char *want = xasprintf("%s\t24\n", kept);
    ck_assert_int_eq(ct_count_lines(out), 2);
    ck_assert_ptr_nonnull(strstr(out, want));
    ck_assert_ptr_nonnull(strstr(out, "report.txt\t14\n"));
    free(want);
    free(out);
    char *text = ct_got(&bob, "Shared:/report.txt");
    ck_assert_str_eq(text, "bob's version\n");
    free(text);
    char *remote = xasprintf("Shared:/%s", kept);
    text = ct_got(&bob, remote);
    ck_assert_str_eq(text, "alice's version, longer\n");
    free(text);
    free(remote);
    free(kept);

    /* a creation: the same name added meanwhile */
    kept = race(relay, &alice, &bob, mine, theirs, "notes");
    check_conflict_name(kept, "notes", label, "");
    text = ct_got(&bob, "Shared:/notes");
    ck_assert_str_eq(text, "bob's version\n");
    free(text);
    remote = xasprintf("Shared:/%s", kept);
    text = ct_got(&bob, remote);
    ck_assert_str_eq(text, "alice's version, longer\n");
    free(text);
    free(remote);
    free(kept);
    out = ct_run_ok(&alice, 0, "ls Shared");
    ck_assert_int_eq(ct_count_lines(out), 4);
    free(out);

    free(label);
    free(v0);
    free(mine);
    free(theirs);
    ct_two_users_free(&alice, &bob, org);
    tcprelay_stop(relay);
}
END_TEST

/* ---- the scale: 200 files, three of 20 MiB ---- */

#define SCALE_FILES    200
#define SCALE_BIG      3
#define SCALE_BIG_SIZE (20 << 20)
#define SCALE_WINDOW   32

/* File i of the scale tree: its path under the root, and its size (the
 * small ones 1 to ~100 KB, one block each). */
static char *scale_path(int i)
{
    if (i < SCALE_BIG)
        return xasprintf("archive-9d4a-%d.bin", i);
    return xasprintf("part-%d/ledger-7c2e-%03d.dat", i % 4, i);
}

static long scale_size(int i)
{
    return i < SCALE_BIG ? SCALE_BIG_SIZE : 1000 + (long)i * 7919 % 100000;
}

/* needle_line - one line of the needles file: text as is and in hex (a
 * bytea column is dumped in hex). */
static void needle_line(FILE *f, const void *b, size_t n, bool text)
{
    if (text)
        fprintf(f, "%.*s\n", (int)n, (const char *)b);
    char *h = crypto_hex_encode(b, n);
    fprintf(f, "%s\n", h);
    free(h);
}

/*
 * The end-to-end test of issue 15 at its size: random content (nothing
 * compresses or repeats), rsync'd by alice, shared, fetched file by file
 * by bob and compared; then the whole database (the POSTGRESQL blockstore
 * included) dumped and searched for every file and folder name and three
 * 32-byte windows of every file, as text and as hex.  About 70 MiB.
 */
START_TEST(files_at_scale)
{
    time_t t0 = time(NULL);
    ct_person_t alice, bob;
    char *org;
    ct_two_users_sharing(srv, &alice, &bob, &org, websrv_port(porg_srv_websrv(srv)), "Scale-5e8b",
                         "READER");
    char *src = xasprintf("%s/src", alice.home), *dst = xasprintf("%s/dst", bob.home);
    int st;
    free(testsh_runf(&st, "mkdir -p '%s/part-0' '%s/part-1' '%s/part-2' '%s/part-3' '%s'", src, src,
                     src, src, dst));
    ck_assert_int_eq(st, 0);
    long bytes = 0, blocks = 0;
    for (int i = 0; i < SCALE_FILES; i++) {
        char *rel = scale_path(i);
        free(testsh_runf(&st, "head -c %ld /dev/urandom > '%s/%s'", scale_size(i), src, rel));
        ck_assert_int_eq(st, 0);
        free(rel);
        bytes += scale_size(i);
        blocks += (scale_size(i) + 524287) / 524288;
    }

    char *args = xasprintf("rsync '%s' Scale-5e8b:/tree-31f7", src);
    char *out = ct_run_ok(&alice, 0, args);
    char *want = xasprintf("%d files sent, 0 unchanged, %ld blocks (%ld bytes) uploaded\n",
                           SCALE_FILES, blocks, bytes);
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    free(args);
    time_t t1 = time(NULL);

    /* bob fetches every file (one process each, as a person would) */
    char *list = xasprintf("%s/list", bob.home);
    FILE *f = fopen(list, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < SCALE_FILES; i++) {
        char *rel = scale_path(i);
        fprintf(f, "%s\n", rel);
        free(rel);
    }
    fclose(f);
    char *bin = testenv_build_path("parsec");
    char *o = testsh_runf(
        &st,
        "cd '%s' && mkdir -p part-0 part-1 part-2 part-3 && while read -r f; do "
        "printf '%%s\\n' '%s' | XDG_DATA_HOME='%s' '%s' core get "
        "\"Scale-5e8b:/tree-31f7/$f\" \"$f\" --password-stdin -q || exit 1; done < '%s' "
        "2>&1 && cmp_out=$(diff -r '%s' '%s' 2>&1) && echo same || "
        "echo \"$cmp_out\"",
        dst, bob.pass, bob.home, bin, list, src, dst);
    ck_assert_msg(st == 0 && !strcmp(o, "same\n"), "get or compare failed: %s", o);
    free(o);
    free(bin);
    free(list);
    time_t t2 = time(NULL);

    /* needles: every name, three windows of every file */
    char *needles = xasprintf("%s/needles", alice.home);
    f = fopen(needles, "w");
    ck_assert_ptr_nonnull(f);
    static const char *const dirs[] = {"part-0", "part-1",    "part-2",
                                       "part-3", "tree-31f7", "Scale-5e8b"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        needle_line(f, dirs[i], strlen(dirs[i]), true);
    int windows = 0;
    for (int i = 0; i < SCALE_FILES; i++) {
        char *rel = scale_path(i), *path = xasprintf("%s/%s", src, rel);
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        needle_line(f, base, strlen(base), true);
        int fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        long at[3] = {0, scale_size(i) / 2, scale_size(i) - SCALE_WINDOW};
        for (int k = 0; k < 3; k++) {
            uint8_t w[SCALE_WINDOW];
            ck_assert_int_eq(pread(fd, w, sizeof w, at[k]), (ssize_t)sizeof w);
            needle_line(f, w, sizeof w, false);
            windows++;
        }
        close(fd);
        free(path);
        free(rel);
    }
    fclose(f);

    /* the database, the blockstore's table included: data only, bytea as
     * hex; the search can find things (a clear email, a stored block's
     * bytes), and finds none of the needles */
    char *dump = xasprintf("%s/dump.sql", alice.home);
    o = testsh_runf(&st, "pg_dump -a --dbname='%s' > '%s' 2>&1 && wc -c < '%s'", porg_srv_db(srv),
                    dump, dump);
    ck_assert_msg(st == 0, "pg_dump: %s", o);
    long dumped = atol(o);
    ck_assert_int_gt(dumped, 2 * bytes);
    free(o);
    char *stored = porg_sql(srv,
                            "SELECT encode(substring(data from 1000 for 32), 'hex') FROM "
                            "block_data WHERE organization_id = $1 AND length(data) > 2000 "
                            "LIMIT 1",
                            org, NULL);
    ck_assert_ptr_nonnull(stored);
    o = testsh_runf(&st, "grep -c -F -e bob@example.com -e '%s' '%s'", stored, dump);
    ck_assert_msg(st == 0 && atoi(o) >= 2, "the search finds nothing at all: %s", o);
    free(o);
    free(stored);
    o = testsh_runf(&st, "grep -F -o -f '%s' '%s' | head -5", needles, dump);
    ck_assert_msg(!strcmp(o, ""), "plaintext on the server: %s", o);
    free(o);
    time_t t3 = time(NULL);
    fprintf(stderr,
            "files_at_scale: %d files, %ld bytes, %ld blocks; rsync %lds, %d gets %lds, "
            "search of %ld dumped bytes for %d names and %d windows %lds\n",
            SCALE_FILES, bytes, blocks, (long)(t1 - t0), SCALE_FILES, (long)(t2 - t1), dumped,
            SCALE_FILES + 6, windows, (long)(t3 - t2));

    free(dump);
    free(needles);
    free(src);
    free(dst);
    ct_two_users_free(&alice, &bob, org);
}
END_TEST

/* ---- the README's tour, on `parsec backend run` ---- */

/*
 * README.md, "A first tour": the same commands in the same order (the
 * passphrases and the answers to the codes through --password-stdin, as a
 * script gives them), on `parsec backend run` (lighttpd, the workers,
 * notifyd and PostgreSQL: what `make run` starts), then `watch` seeing
 * Alice's next change from Bob's side.
 */
START_TEST(readme_tour)
{
    char *db = testenv_db_create();
    ndt_run_t run;
    ndt_run_start(&run, db);
    ct_person_t alice, bob;
    ct_person_init(&alice, "alice passphrase");
    ct_person_init(&bob, "bob passphrase");
    char *addr = xasprintf("parsec://127.0.0.1:%d?no_ssl=true", run.port);

    char *out, *err;
    int st = ct_client(&alice, &out, &err, "create_organization Demo --addr '%s' -T t0k3n", addr);
    CT_EXPECT(st, 0, out, err);
    const char *at = strstr(out, "Bootstrap organization url: ");
    ck_assert_ptr_nonnull(at);
    char *burl = xstrndup(at + 28, strcspn(at + 28, "\n"));
    free(out);
    free(err);
    char *args =
        xasprintf("bootstrap_organization '%s' --email alice@example.com --label Alice", burl);
    free(ct_run_ok(&alice, 0, args));
    free(args);
    char *url = ct_invite(&alice, "invite_user bob@example.com", 0);
    int sts[2];
    ct_exchange(&alice, "bob@example.com", "STANDARD", &bob, url, "Bob", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(ct_run_ok(&alice, 0, "create_workspace Reports"));
    free(ct_run_ok(&alice, 0, "share_workspace Reports bob@example.com CONTRIBUTOR"));
    free(ct_run_ok(&alice, 0, "put README.md Reports:/"));
    out = ct_run_ok(&bob, 0, "ls Reports");
    ck_assert_ptr_nonnull(strstr(out, "README.md\t"));
    free(out);
    char *get = xasprintf("get Reports:/README.md '%s/'", bob.home);
    free(ct_run_ok(&bob, 0, get));
    free(get);
    int sh;
    char *o = testsh_runf(&sh, "cmp README.md '%s/README.md'", bob.home);
    ck_assert_msg(sh == 0, "%s", o);
    free(o);

    /* bob watches; alice changes something */
    ct_bg_t w;
    ct_bg_start(&w, &bob, (const char *[]){"watch", "--password-stdin", "--count", "1", NULL});
    ct_bg_write(&w, bob.pass);
    ct_bg_write(&w, "\n");
    ct_bg_line(&w, "Watching Demo as ");
    free(ct_run_ok(&alice, 0, "mkdir Reports:/2026"));
    ct_bg_line(&w, "realm.vlobs_updated\tReports\tcheckpoint ");
    ck_assert_int_eq(ct_bg_end(&w, &bob), 0);

    /* revoked: the websocket is refused too */
    free(ct_run_ok(&alice, 0, "revoke_user bob@example.com"));
    st = ct_client(&bob, &out, &err, "watch --password-stdin --count 1");
    CT_EXPECT(st, 5, out, err);
    free(out);
    free(err);

    free(url);
    free(burl);
    free(addr);
    ct_person_free(&alice);
    ct_person_free(&bob);
    ck_assert_int_eq(ndt_run_stop(&run), 0);
    testenv_db_drop(db);
    free(db);
}
END_TEST

TEST_SUITE(client)
{
    testenv_db_setup();
    Suite *s = suite_create("client");
    static const char *const env[] = {"PARSEC_BLOCKSTORE=POSTGRESQL", NULL};
    TCase *tc = porg_tcase("client", &srv, WEBSRV_LIGHTTPD, env);
    tcase_add_test(tc, bootstrap_and_users);
    tcase_add_test(tc, bootstrap_refusals);
    tcase_add_test(tc, invite_greet_claim);
    tcase_add_test(tc, workspaces_shared_and_reencrypted);
    tcase_add_test(tc, files_put_get_rsync);
    tcase_add_test(tc, concurrent_updates_keep_both);
    suite_add_tcase(s, tc);
    tc = porg_tcase("window", &srv, WEBSRV_LIGHTTPD, env);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, files_window_in_order);
    tcase_add_test(tc, files_window_put_refused);
    suite_add_tcase(s, tc);
    /* 70 MiB through the ASan client and workers on a loaded 2-core
     * machine: the order of minutes */
    tc = porg_tcase("scale", &srv, WEBSRV_LIGHTTPD, env);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, files_at_scale);
    suite_add_tcase(s, tc);
    tc = tcase_create("tour");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, readme_tour);
    suite_add_tcase(s, tc);
    return s;
}
