/*
 * tests/integration/test_apache_advice.c - the workers' settings that
 * etc/apache2/parsec.conf advises, behind the Apache files as shipped
 *
 * mod_fcgid sends a worker one request at a time, so the template advises
 * PARSEC_DB_MAX_CONNECTIONS alone (1).  With the default minimum of 5
 * above it, every worker refused to start and every request answered 500
 * (issue 8, seen with the 2 the template advised then): the default
 * minimum now follows a smaller maximum.  Both values are served.
 */
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

START_TEST(max_connections_alone)
{
    static const char *const max[] = {"1", "2"};
    char *db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    char *maxv = xasprintf("PARSEC_DB_MAX_CONNECTIONS=%s", max[_i]);
    const char *env[] = {dbv, maxv, "PARSEC_ADMINISTRATION_TOKEN=advice-t0ken", NULL};
    websrv_t *w = websrv_start(WEBSRV_APACHE, env, NULL);
    ck_assert_ptr_nonnull(w);

    char *url = websrv_urlf(w, "/health");
    http_result_t *res = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_msg(res->status == 200, "health with PARSEC_DB_MAX_CONNECTIONS=%s: %ld %s\n%s",
                  max[_i], res->status, res->body, websrv_error_log(w));
    testhttp_free(res);
    free(url);
    url = websrv_urlf(w, "/administration/organizations/Nobody");
    const char *hdrs[] = {"Authorization: Bearer advice-t0ken", NULL};
    res = testhttp_request("GET", url, hdrs, NULL, 0);
    ck_assert_msg(res->status == 404, "admin request: %ld %s", res->status, res->body);
    testhttp_free(res);
    free(url);

    ck_assert(websrv_stop(w));
    testenv_db_drop(db);
    free(db);
    free(dbv);
    free(maxv);
}
END_TEST

TEST_SUITE(apache_advice)
{
    testenv_db_setup();
    Suite *s = suite_create("apache_advice");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, max_connections_alone, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
