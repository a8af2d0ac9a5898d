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
#include "porg.h"
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "websrv.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static porg_srv_t *srv;

/* One person: a device directory and a passphrase. */
typedef struct {
    char home[64];
    const char *pass;
} person_t;

static void person_init(person_t *p, const char *pass)
{
    strcpy(p->home, "/tmp/parsec-client-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->home));
    p->pass = pass;
}

static void person_free(person_t *p)
{
    int st;
    free(testsh_runf(&st, "rm -rf '%s'", p->home));
}

/*
 * client - run `parsec core ARGS` as p (args: one shell-quoted string built
 * by the caller), the passphrase on stdin; stdout into *out (malloc'd),
 * stderr into *err, the exit status returned.
 */
static int client(const person_t *p, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int client(const person_t *p, char **out, char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args;
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    char *bin = testenv_build_path("parsec");
    char *errf = xasprintf("%s/stderr", p->home);
    int st;
    char *o = testsh_runf(&st, "printf '%%s\\n' '%s' | XDG_DATA_HOME='%s' '%s' core %s 2>'%s'",
                          p->pass, p->home, bin, args, errf);
    int e;
    char *eo = testsh_runf(&e, "cat '%s'", errf);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = eo;
    else
        free(eo);
    free(errf);
    free(bin);
    free(args);
    return st;
}

#define EXPECT(st, want, out, err)                                                                 \
    ck_assert_msg((st) == (want), "exit %d, expected %d\nstdout: %s\nstderr: %s", (st), (want),    \
                  (out), (err))

/* A fresh organization and its bootstrap address (malloc'd). */
static char *new_org(char **org)
{
    *org = porg_org_id("Client");
    char *tok = porg_create_org(srv, *org, "");
    char *url = xasprintf("parsec://127.0.0.1:%d/%s?no_ssl=true&action=bootstrap_organization"
                          "&token=%s",
                          websrv_port(porg_srv_websrv(srv)), *org, tok);
    free(tok);
    return url;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(bootstrap_and_users)
{
    person_t alice;
    person_init(&alice, "alice passphrase");
    char *org, *out, *err;
    char *url = new_org(&org);

    int st = client(&alice, &out, &err,
                    "bootstrap_organization '%s' --password-stdin --email alice@example.com "
                    "--label Alice --device-label laptop",
                    url);
    EXPECT(st, 0, out, err);
    ck_assert_ptr_nonnull(strstr(out, "bootstrapped"));
    free(out);
    free(err);

    /* the device file: 0600, listed without its passphrase */
    st = client(&alice, &out, &err, "list_devices");
    EXPECT(st, 0, out, err);
    ck_assert_int_eq(count_lines(out), 1);
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
    st = client(&alice, &out, &err,
                "bootstrap_organization '%s' --password-stdin --email alice@example.com "
                "--label Alice",
                url);
    EXPECT(st, 4, out, err);
    free(out);
    free(err);
    st = client(&alice, &out, &err, "list_devices");
    ck_assert_int_eq(count_lines(out), 1);
    free(out);
    free(err);

    /* the users, verified back to the root key */
    st = client(&alice, &out, &err, "list_users --password-stdin");
    EXPECT(st, 0, out, err);
    ck_assert_int_eq(count_lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "\talice@example.com\tAlice\tADMIN\tactive\n"));
    free(out);
    free(err);

    /* the wrong passphrase */
    person_t mallory = alice;
    mallory.pass = "guess";
    st = client(&mallory, &out, &err, "list_users --password-stdin");
    EXPECT(st, 7, out, err);
    ck_assert_ptr_nonnull(strstr(err, "wrong passphrase"));
    free(out);
    free(err);

    /* unknown users, self-revocation */
    st = client(&alice, &out, &err, "revoke_user --password-stdin nobody@example.com");
    EXPECT(st, 3, out, err);
    free(out);
    free(err);
    st = client(&alice, &out, &err, "revoke_user --password-stdin alice@example.com");
    EXPECT(st, 5, out, err);
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
    st = client(&alice, &out, &err, "list_users --password-stdin");
    EXPECT(st, 6, out, err);
    ck_assert_ptr_nonnull(strstr(err, "does not verify"));
    free(out);
    free(err);

    free(url);
    free(org);
    person_free(&alice);
}
END_TEST

START_TEST(bootstrap_refusals)
{
    person_t p;
    person_init(&p, "pw");
    char *org, *out, *err;
    char *url = new_org(&org);
    /* a wrong token */
    char *bad = xstrdup(url);
    char *t = strstr(bad, "token=") + 6;
    *t = *t == 'a' ? 'b' : 'a';
    int st =
        client(&p, &out, &err,
               "bootstrap_organization '%s' --password-stdin --email a@example.com --label A", bad);
    EXPECT(st, 3, out, err);
    free(out);
    free(err);
    /* not a bootstrap address, a bad email, no argument */
    st = client(&p, &out, &err,
                "bootstrap_organization 'https://x/y' --password-stdin "
                "--email a@example.com --label A");
    EXPECT(st, 2, out, err);
    free(out);
    free(err);
    st = client(&p, &out, &err,
                "bootstrap_organization '%s' --password-stdin --email nope --label A", url);
    EXPECT(st, 2, out, err);
    free(out);
    free(err);
    st = client(&p, &out, &err, "bootstrap_organization --password-stdin");
    EXPECT(st, 2, out, err);
    free(out);
    free(err);
    /* nothing left on disk, and no device to act as */
    st = client(&p, &out, &err, "list_users --password-stdin");
    EXPECT(st, 7, out, err);
    free(out);
    free(err);
    free(bad);
    free(url);
    free(org);
    person_free(&p);
}
END_TEST

TEST_SUITE(client)
{
    testenv_db_setup();
    Suite *s = suite_create("client");
    TCase *tc = porg_tcase("client", &srv, WEBSRV_LIGHTTPD, NULL);
    tcase_add_test(tc, bootstrap_and_users);
    tcase_add_test(tc, bootstrap_refusals);
    suite_add_tcase(s, tc);
    return s;
}
