/*
 * tests/integration/test_check_deps.c - tests/harness/check-deps, the guard
 * that every program and module used comes from a package of DEB_PKGS
 *
 * It passes on this repository (the machine ran `make deps`), and it fails,
 * naming what to add, on a copy of the sources where GNUmakefile lost a
 * package and the templates gained modules no package provides: the guard
 * reads the sources, so a new module in a template is caught.
 */
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* run - sh -c cmd with stdout and stderr into one text; the exit status. */
static int run(const char *cmd, char **out)
{
    char *log = xasprintf("%s/check-deps.out", getenv("PARSEC_TEST_TMP"));
    char *full = xasprintf("(%s) >'%s' 2>&1", cmd, log);
    int rc = system(full);
    strbuf_t b = STRBUF_INIT;
    if (!strbuf_read_file(&b, log))
        strbuf_puts(&b, "(no output)");
    *out = strbuf_detach(&b);
    unlink(log);
    free(log);
    free(full);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(passes_on_this_repository)
{
    char *out;
    char *cmd = xasprintf("'%s/tests/harness/check-deps'", getenv("PARSEC_TEST_SRC"));
    int rc = run(cmd, &out);
    ck_assert_msg(rc == 0, "check-deps exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "requirements, each provided by DEB_PKGS"), "%s", out);
    free(out);
    free(cmd);
}
END_TEST

START_TEST(names_what_to_add)
{
    const char *src = getenv("PARSEC_TEST_SRC");
    char *copy = xasprintf("%s/deps-src", getenv("PARSEC_TEST_TMP"));
    char *out;
    /* The sources the guard reads, then three changes: lighttpd's TLS module
     * dropped from DEB_PKGS (issue 8's fresh machine), a lighttpd module and
     * an Apache module no package ships added to the templates (relative to
     * Apache's directory: an absolute path here would be a requirement of
     * this file). */
    char *cmd = xasprintf(
        "set -e; mkdir '%s'; cd '%s'; "
        "cp -r GNUmakefile common cli fcgi-api notifyd tests etc '%s'/; cd '%s'; "
        "sed -i 's/ lighttpd-mod-openssl / /' GNUmakefile; "
        "! grep -q lighttpd-mod-openssl GNUmakefile; "
        "echo 'server.modules += (\"mod_parsec_nowhere\")' >> etc/lighttpd/lighttpd.conf; "
        "echo 'LoadModule nowhere_module modules/mod_parsec_nowhere.so' "
        ">> etc/apache2/apache2.conf",
        copy, src, copy, copy);
    int rc = run(cmd, &out);
    ck_assert_msg(rc == 0, "preparing the copy: %s", out);
    free(out);
    free(cmd);

    cmd = xasprintf("'%s/tests/harness/check-deps' --src '%s'", src, copy);
    rc = run(cmd, &out);
    ck_assert_msg(rc == 1, "check-deps exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "lighttpd module mod_openssl (cli/lighttpd_conf.c:") &&
                      strstr(out, "add lighttpd-mod-openssl to DEB_PKGS in GNUmakefile"),
                  "the missing package is not named:\n%s", out);
    ck_assert_msg(strstr(out, "lighttpd module mod_parsec_nowhere (etc/lighttpd/lighttpd.conf:") &&
                      strstr(out, "modules/mod_parsec_nowhere.so (etc/apache2/apache2.conf:"),
                  "a module added to a template is not caught:\n%s", out);
    ck_assert_msg(!strstr(out, "requirements, each provided"), "%s", out);
    free(out);
    free(cmd);
    testenv_rm_rf(copy);
    free(copy);
}
END_TEST

TEST_SUITE(check_deps)
{
    Suite *s = suite_create("check_deps");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, passes_on_this_repository);
    tcase_add_test(tc, names_what_to_add);
    suite_add_tcase(s, tc);
    return s;
}
