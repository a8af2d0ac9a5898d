/*
 * tests/lib/testenv.c - migrated template database, cloned per test
 */
#include "testenv.h"

#include "db.h"
#include "migrate.h"
#include "pgcluster.h"
#include "xalloc.h"

#include <check.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Advisory lock serialising template creation (exclusive) against cloning
 * (shared) across every test process on the server. */
#define TESTENV_LOCK_CLASS 0x54535456 /* "TSTV" */
#define TESTENV_LOCK_ID    1
#define TESTENV_PREFIX     "parsec_test_"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool ready;
static pid_t ready_pid;
static char *server_url; /* the maintenance database */
static char template_name[64];
static pgcluster_t *own_cluster;
static pid_t own_pid;
static unsigned counter;
static char setup_error[1024];

/* --------------------------------------------------------------- URLs */

/* NULL (msg set) when url does not parse. */
static char *url_with(const char *url, const char *key, const char *value, char *msg, size_t n)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        snprintf(msg, n, "cannot parse a database URL: %s", perr ? perr : "?");
        PQfreemem(perr);
        return NULL;
    }
    const char *user = NULL, *password = NULL, *dbname = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (!strcmp(o->keyword, key))
            v = value;
        if (!strcmp(o->keyword, "user"))
            user = v;
        else if (!strcmp(o->keyword, "password"))
            password = v;
        else if (!strcmp(o->keyword, "dbname"))
            dbname = v;
    }
    char *u = xstrdup("postgresql://");
    char *next;
    if (user || password) {
        char *eu = db_url_escape(user ? user : ""), *ep = password ? db_url_escape(password) : NULL;
        next = xasprintf("%s%s%s%s@", u, eu, ep ? ":" : "", ep ? ep : "");
        free(eu);
        free(ep);
        free(u);
        u = next;
    }
    char *ed = db_url_escape(dbname ? dbname : "");
    next = xasprintf("%s/%s", u, ed);
    free(ed);
    free(u);
    u = next;
    char sep = '?';
    bool key_seen = false;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (!strcmp(o->keyword, key)) {
            v = value;
            key_seen = true;
        }
        if (!v || !strcmp(o->keyword, "user") || !strcmp(o->keyword, "password") ||
            !strcmp(o->keyword, "dbname"))
            continue;
        char *ev = db_url_escape(v);
        next = xasprintf("%s%c%s=%s", u, sep, o->keyword, ev);
        free(ev);
        free(u);
        u = next;
        sep = '&';
    }
    PQconninfoFree(opts);
    if (!key_seen) {
        snprintf(msg, n, "unknown connection parameter %s", key);
        free(u);
        return NULL;
    }
    return u;
}

char *testenv_url_with(const char *url, const char *key, const char *value)
{
    char msg[512];
    char *u = url_with(url, key, value, msg, sizeof msg);
    if (!u)
        ck_abort_msg("testenv: %s", msg);
    return u;
}

/* ------------------------------------------------------------- SQL */

static bool sql_ok(PGconn *pg, const char *sql, int n, const char *const *values, char *msg,
                   size_t len)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(msg, len, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static bool lock(PGconn *pg, const char *fn, char *msg, size_t len)
{
    char cls[16], id[16];
    snprintf(cls, sizeof cls, "%d", TESTENV_LOCK_CLASS);
    snprintf(id, sizeof id, "%d", TESTENV_LOCK_ID);
    const char *v[2] = {cls, id};
    char *sql = xasprintf("SELECT %s($1::int4, $2::int4)", fn);
    bool ok = sql_ok(pg, sql, 2, v, msg, len);
    free(sql);
    return ok;
}

PGconn *testenv_pg_connect(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        PQfinish(pg);
        ck_abort_msg("testenv: cannot connect: %s", msg);
    }
    return pg;
}

long testenv_sql_int(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        PQclear(res);
        ck_abort_msg("testenv: %s: no value (%s)", sql, msg);
    }
    long v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* ---------------------------------------------------------- the server */

static void stop_own_cluster(void)
{
    /* Forked test children run atexit handlers too: only the process that
     * started the cluster stops it. */
    if (own_cluster && getpid() == own_pid) {
        (void)pgcluster_stop(own_cluster);
        own_cluster = NULL;
    }
    if (getpid() == own_pid || getpid() == ready_pid) {
        free(server_url);
        server_url = NULL;
    }
}

/* Name the template after the migrations, so a changed migration gets a
 * fresh template rather than a stale one. */
static void compute_template_name(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < migrate_nitems; i++) {
        char head[64];
        int hl =
            snprintf(head, sizeof head, "%d:%s:", migrate_items[i].version, migrate_items[i].name);
        EVP_DigestUpdate(ctx, head, (size_t)hl);
        EVP_DigestUpdate(ctx, migrate_items[i].sql, strlen(migrate_items[i].sql) + 1);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    int off = snprintf(template_name, sizeof template_name, "parsec_tpl_");
    for (unsigned i = 0; i < 8 && i < mdlen; i++)
        off += snprintf(template_name + off, sizeof template_name - (size_t)off, "%02x", md[i]);
}

static bool database_exists(PGconn *pg, const char *name, bool *exists, char *msg, size_t len)
{
    const char *v[1] = {name};
    PGresult *res =
        PQexecParams(pg, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (ok)
        *exists = PQntuples(res) > 0;
    else
        snprintf(msg, len, "pg_database: %s", PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static bool create_database(PGconn *pg, const char *name, const char *tpl, char *msg, size_t len)
{
    char *qn = PQescapeIdentifier(pg, name, strlen(name));
    char *qt = tpl ? PQescapeIdentifier(pg, tpl, strlen(tpl)) : NULL;
    char *sql = xasprintf("CREATE DATABASE %s%s%s", qn, qt ? " TEMPLATE " : "", qt ? qt : "");
    PQfreemem(qn);
    PQfreemem(qt);
    bool ok = false;
    /* 55006: a session on the template has not finished exiting yet
     * (PostgreSQL waits 5 s for it); try again a little later. */
    for (int attempt = 0; attempt < 4 && !ok; attempt++) {
        PGresult *res = PQexec(pg, sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!ok)
            snprintf(msg, len, "%s: %s", sql, PQresultErrorMessage(res));
        bool busy = !ok && state && !strcmp(state, "55006");
        PQclear(res);
        if (!busy)
            break;
        usleep(200 * 1000);
    }
    free(sql);
    return ok;
}

static bool prepare_template(char *msg, size_t len)
{
    bool ok = false;
    char *tpl_url = NULL;
    PGconn *tpl = NULL;
    PGconn *pg = PQconnectdb(server_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(msg, len, "cannot connect to the test server: %s", PQerrorMessage(pg));
        goto cleanup;
    }
    if (!lock(pg, "pg_advisory_lock", msg, len))
        goto cleanup;
    bool exists = false;
    if (!database_exists(pg, template_name, &exists, msg, len))
        goto cleanup;
    if (!exists && !create_database(pg, template_name, NULL, msg, len))
        goto cleanup;
    tpl_url = url_with(server_url, "dbname", template_name, msg, len);
    if (!tpl_url)
        goto cleanup;
    tpl = PQconnectdb(tpl_url);
    if (PQstatus(tpl) != CONNECTION_OK) {
        snprintf(msg, len, "cannot connect to %s: %s", template_name, PQerrorMessage(tpl));
        goto cleanup;
    }
    /* Idempotent: finishes a template a killed process left half-made. */
    char err[512];
    if (migrate_apply(tpl, false, NULL, NULL, NULL, err, sizeof err) != MIGRATE_OK) {
        snprintf(msg, len, "migrating the template: %s", err);
        goto cleanup;
    }
    ok = true;
cleanup:
    PQfinish(tpl);
    if (ok && !lock(pg, "pg_advisory_unlock", msg, len))
        ok = false;
    PQfinish(pg);
    free(tpl_url);
    return ok;
}

bool testenv_db_setup(void)
{
    pthread_mutex_lock(&mu);
    if (ready && ready_pid == getpid()) {
        pthread_mutex_unlock(&mu);
        return true;
    }
    /* A forked child inherits the parent's readiness: the server and the
     * template are the parent's, still valid. */
    if (ready) {
        pthread_mutex_unlock(&mu);
        return true;
    }
    bool ok = false;
    setup_error[0] = '\0';
    const char *env = getenv("PARSEC_TEST_PG_URL");
    if (env && *env) {
        server_url = xstrdup(env);
    } else {
        char err[1024];
        own_cluster = pgcluster_start(err, sizeof err);
        if (!own_cluster) {
            snprintf(setup_error, sizeof setup_error, "%s", err);
            goto done;
        }
        own_pid = getpid();
        server_url = xstrdup(pgcluster_url(own_cluster));
        setenv("PARSEC_TEST_PG_URL", server_url, 1);
    }
    ready_pid = getpid();
    static bool registered;
    if (!registered)
        atexit(stop_own_cluster);
    registered = true;
    compute_template_name();
    if (!prepare_template(setup_error, sizeof setup_error))
        goto done;
    ok = true;
    ready = true;
done:
    if (!ok)
        fprintf(stderr, "testenv: %s\n", setup_error);
    pthread_mutex_unlock(&mu);
    return ok;
}

const char *testenv_pg_url(void)
{
    if (!testenv_db_setup())
        ck_abort_msg("testenv: no PostgreSQL for the tests: %s", setup_error);
    return server_url;
}

static char *db_create(bool from_template)
{
    const char *base = testenv_pg_url();
    unsigned char r[3];
    if (RAND_bytes(r, sizeof r) != 1)
        ck_abort_msg("testenv: RAND_bytes failed");
    pthread_mutex_lock(&mu);
    unsigned n = ++counter;
    pthread_mutex_unlock(&mu);
    char name[64];
    snprintf(name, sizeof name, TESTENV_PREFIX "%d_%u_%02x%02x%02x", (int)getpid(), n, r[0], r[1],
             r[2]);

    char msg[1024] = "";
    bool ok = false;
    PGconn *pg = PQconnectdb(base);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(msg, sizeof msg, "cannot connect to the test server: %s", PQerrorMessage(pg));
    } else if (lock(pg, "pg_advisory_lock_shared", msg, sizeof msg)) {
        ok = create_database(pg, name, from_template ? template_name : NULL, msg, sizeof msg);
        char ignored[256];
        (void)lock(pg, "pg_advisory_unlock_shared", ignored, sizeof ignored);
    }
    PQfinish(pg);
    if (!ok)
        ck_abort_msg("testenv: %s", msg);
    return testenv_url_with(base, "dbname", name);
}

char *testenv_db_create(void)
{
    return db_create(true);
}

char *testenv_db_create_empty(void)
{
    return db_create(false);
}

void testenv_db_drop(const char *url)
{
    char msg[1024] = "";
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        snprintf(msg, sizeof msg, "%s", perr ? perr : "?");
        PQfreemem(perr);
        ck_abort_msg("testenv_db_drop: cannot parse the URL: %s", msg);
    }
    char *name = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "dbname") && o->val)
            name = xstrdup(o->val);
    PQconninfoFree(opts);
    if (!name || strncmp(name, TESTENV_PREFIX, strlen(TESTENV_PREFIX)) != 0) {
        free(name);
        ck_abort_msg("testenv_db_drop: not a test database: refusing to drop it");
    }
    char *admin = testenv_url_with(url, "dbname", "postgres");
    PGconn *pg = PQconnectdb(admin);
    free(admin);
    bool ok = false;
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(msg, sizeof msg, "cannot connect: %s", PQerrorMessage(pg));
    } else {
        char *qn = PQescapeIdentifier(pg, name, strlen(name));
        char *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", qn);
        PQfreemem(qn);
        ok = sql_ok(pg, sql, 0, NULL, msg, sizeof msg);
        free(sql);
    }
    PQfinish(pg);
    free(name);
    if (!ok)
        ck_abort_msg("testenv_db_drop: %s", msg);
}

int testenv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* nothing listens there now */
    return ntohs(a.sin_port);
}

void testenv_db_done(PGconn *pg, char *url)
{
    if (pg)
        PQfinish(pg);
    testenv_db_drop(url);
    free(url);
}

char *testenv_build_path(const char *name)
{
    const char *build = getenv("PARSEC_TEST_BUILD");
    if (build && *build)
        return xasprintf("%s/%s", build, name);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return xstrdup(name);
    exe[n] = '\0';
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    return xasprintf("%s/%s", exe, name);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void testenv_rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
