/*
 * tests/integration/test_deployment.c - docs/deployment.md, run
 *
 * tests/harness/deploy-walkthrough runs every block of the page in a
 * sandbox (its header says how): PostgreSQL role, database and peer map,
 * settings, migrate, TLS, each web server's configuration (nginx end to
 * end, Apache and lighttpd checked by the servers), the check, the
 * upgrade, a backup and its restore.  A command of the page that stops
 * working fails this test, with the walkthrough's output.
 */
#include "strbuf.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(walkthrough)
{
    const char *src = getenv("PARSEC_TEST_SRC"), *build = getenv("PARSEC_TEST_BUILD");
    ck_assert_msg(src && build, "run through tests/harness/run-tests");
    char *log = xasprintf("%s/walkthrough.out", getenv("PARSEC_TEST_TMP"));
    char *cmd = xasprintf("'%s/tests/harness/deploy-walkthrough' '%s' >'%s' 2>&1", src, build, log);
    int rc = system(cmd);
    strbuf_t out = STRBUF_INIT;
    if (!strbuf_read_file(&out, log))
        strbuf_puts(&out, "(no output)");
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "deploy-walkthrough failed (status 0x%x):\n%s", rc, out.s);
    strbuf_free(&out);
    unlink(log);
    free(log);
    free(cmd);
}
END_TEST

TEST_SUITE(deployment)
{
    Suite *s = suite_create("deployment");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, walkthrough);
    suite_add_tcase(s, tc);
    return s;
}
