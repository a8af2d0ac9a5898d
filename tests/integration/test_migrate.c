/* tests/integration/test_migrate.c - the embedded migrations, migrate_apply()
 * and `parsec backend migrate` against a real PostgreSQL */
#include "db.h"
#include "migrate.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every table the schema is meant to hold (0001, 0003, the bookkeeping). */
static const char *const tables[] = {
    "organization",
    "sequester_service",
    "user_",
    "device",
    "invitation",
    "realm",
    "realm_user_role",
    "realm_user_change",
    "vlob_encryption_revision",
    "vlob",
    "vlob_atom",
    "sequester_service_vlob_atom",
    "realm_vlob_update",
    "block",
    "block_data",
    "message",
    "pki_enrollment",
    "message_recipient",
    "block_claim",
    "schema_migrations",
};

static long count_tables(PGconn *pg)
{
    return testenv_sql_int(pg,
                           "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                           "n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'");
}

static bool table_exists(PGconn *pg, const char *name)
{
    char *sql = xasprintf("SELECT (to_regclass('public.%s') IS NOT NULL)::int", name);
    long v = testenv_sql_int(pg, sql);
    free(sql);
    return v == 1;
}

typedef struct {
    int calls;
    int versions[64];
    bool dry[64];
} reported_t;

static void record(const migrate_item_t *m, bool dry_run, void *arg)
{
    reported_t *r = arg;
    if (r->calls < 64) {
        r->versions[r->calls] = m->version;
        r->dry[r->calls] = dry_run;
    }
    r->calls++;
}

START_TEST(embedded_migrations_are_well_formed)
{
    ck_assert_uint_ge(migrate_nitems, 1);
    ck_assert_int_eq(migrate_items[0].version, 1);
    ck_assert_str_eq(migrate_items[0].name, "initial");
    for (size_t i = 0; i < migrate_nitems; i++) {
        ck_assert_int_gt(migrate_items[i].version, i ? migrate_items[i - 1].version : 0);
        ck_assert_uint_gt(strlen(migrate_items[i].name), 0);
        ck_assert_uint_gt(strlen(migrate_items[i].sql), 0);
        /* the migrate tool owns the transaction (sql/README.md) */
        ck_assert_ptr_null(strstr(migrate_items[i].sql, "BEGIN;"));
        ck_assert_ptr_null(strstr(migrate_items[i].sql, "COMMIT;"));
    }
    ck_assert_ptr_nonnull(strstr(migrate_items[0].sql, "CREATE TABLE"));
    ck_assert_int_eq(migrate_latest(), migrate_items[migrate_nitems - 1].version);
}
END_TEST

START_TEST(every_migration_applies_to_an_empty_database)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    ck_assert_int_eq(count_tables(pg), 0);

    reported_t rep = {0};
    int n = -1;
    char err[512] = "";
    ck_assert_int_eq(migrate_apply(pg, false, record, &rep, &n, err, sizeof err), MIGRATE_OK);
    ck_assert_int_eq(n, (int)migrate_nitems);
    ck_assert_int_eq(rep.calls, (int)migrate_nitems);
    for (size_t i = 0; i < migrate_nitems; i++) {
        ck_assert_int_eq(rep.versions[i], migrate_items[i].version);
        ck_assert(!rep.dry[i]);
    }

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        ck_assert_msg(table_exists(pg, tables[i]), "table %s missing", tables[i]);
    ck_assert_int_eq(count_tables(pg), (long)(sizeof tables / sizeof tables[0]));
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM schema_migrations"),
                     (long)migrate_nitems);
    ck_assert_int_eq(testenv_sql_int(pg,
                                     "SELECT count(*) FROM schema_migrations WHERE "
                                     "version = 1 AND name = 'initial' AND applied_on <= now()"),
                     1);

    /* The tables hold together: an organization, its first user and device,
     * a realm with a role, a vlob version, a block and a message. */
    PGresult *res = PQexec(
        pg,
        "INSERT INTO organization (organization_id, bootstrap_token) VALUES ('Org', '');"
        "INSERT INTO user_ (organization, user_id, profile, human_email, human_label,"
        "  user_certificate, redacted_user_certificate, created_on)"
        "  VALUES (1, 'alice', 'ADMIN', 'a@x.org', 'Alice', '\\x01', '\\x02', now());"
        "INSERT INTO device (organization, user_, device_id, verify_key, device_certificate,"
        "  redacted_device_certificate, created_on)"
        "  VALUES (1, 1, 'alice@dev1', decode(repeat('ab', 32), 'hex'), '\\x03', '\\x04', now());"
        "INSERT INTO realm (organization, realm_id, created_on)"
        "  VALUES (1, gen_random_uuid(), now());"
        "INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by, certified_on)"
        "  VALUES (1, 1, 'OWNER', '\\x05', 1, now());"
        "INSERT INTO vlob_encryption_revision (realm, encryption_revision) VALUES (1, 1);"
        "INSERT INTO vlob (organization, realm, vlob_id) VALUES (1, 1, gen_random_uuid());"
        "INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size, author,"
        "  created_on) VALUES (1, 1, 1, '\\x06', 1, 1, now());"
        "INSERT INTO realm_vlob_update (realm, index, vlob_atom) VALUES (1, 1, 1);"
        "INSERT INTO block (organization, block_id, realm, author, size, created_on)"
        "  VALUES (1, gen_random_uuid(), 1, 1, 3, now());"
        "INSERT INTO message (organization, recipient, index, sender, created_on, body)"
        "  VALUES (1, 1, 1, 1, now(), '\\x07');"
        "INSERT INTO invitation (organization, token, type, greeter, created_on)"
        "  VALUES (1, gen_random_uuid(), 'DEVICE', 1, now());");
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    /* The constraints bite: a second active user with the same email. */
    res = PQexec(pg, "INSERT INTO user_ (organization, user_id, profile, human_email, human_label,"
                     " user_certificate, redacted_user_certificate, created_on)"
                     " VALUES (1, 'bob', 'STANDARD', 'a@x.org', 'Bob', '\\x01', '\\x02', now())");
    ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505");
    PQclear(res);
    /* ... and an unknown profile. */
    res = PQexec(pg, "UPDATE user_ SET profile = 'ROOT'");
    ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514");
    PQclear(res);

    /* 0002: the tables that grow with use have 64-bit keys, references and
     * sequences, and a key past 2^31 is taken */
    static const char *const wide[][2] = {
        {"vlob", "_id"},
        {"vlob_atom", "_id"},
        {"vlob_atom", "vlob"},
        {"sequester_service_vlob_atom", "_id"},
        {"sequester_service_vlob_atom", "vlob_atom"},
        {"realm_vlob_update", "_id"},
        {"realm_vlob_update", "vlob_atom"},
        {"block", "_id"},
        {"block_data", "_id"},
        {"message", "_id"},
    };
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        char q[256];
        snprintf(q, sizeof q,
                 "SELECT count(*) FROM information_schema.columns WHERE table_name = '%s'"
                 " AND column_name = '%s' AND data_type = 'bigint'",
                 wide[i][0], wide[i][1]);
        ck_assert_msg(testenv_sql_int(pg, q) == 1, "%s.%s is not bigint", wide[i][0], wide[i][1]);
    }
    res = PQexec(pg, "SELECT setval('vlob_atom__id_seq', 3000000000);"
                     "INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size,"
                     "  author, created_on) VALUES (1, 1, 2, '\\x06', 1, 1, now());"
                     "INSERT INTO realm_vlob_update (realm, index, vlob_atom)"
                     "  VALUES (1, 2, 3000000001);");
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);

    ck_assert(migrate_check(pg, err, sizeof err));
    ck_assert_int_eq(db_schema_pending(pg), 0);
    testenv_db_done(pg, url);
}
END_TEST

START_TEST(migrate_is_idempotent)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    char err[512];
    int n = -1;
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_OK);
    ck_assert_int_eq(n, (int)migrate_nitems);
    long before = testenv_sql_int(pg, "SELECT extract(epoch FROM max(applied_on)) * 1000000 "
                                      "FROM schema_migrations");
    reported_t rep = {0};
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(migrate_apply(pg, false, record, &rep, &n, err, sizeof err), MIGRATE_OK);
        ck_assert_int_eq(n, 0);
    }
    ck_assert_int_eq(rep.calls, 0);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM schema_migrations"),
                     (long)migrate_nitems);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT extract(epoch FROM max(applied_on)) * 1000000 "
                                         "FROM schema_migrations"),
                     before);
    testenv_db_done(pg, url);
}
END_TEST

START_TEST(dry_run_changes_nothing)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    char err[512];
    reported_t rep = {0};
    int n = -1;
    ck_assert_int_eq(migrate_apply(pg, true, record, &rep, &n, err, sizeof err), MIGRATE_OK);
    ck_assert_int_eq(n, (int)migrate_nitems);
    ck_assert_int_eq(rep.calls, (int)migrate_nitems);
    ck_assert(rep.dry[0]);
    ck_assert_int_eq(count_tables(pg), 0); /* not even schema_migrations */
    ck_assert_int_eq(db_schema_pending(pg), (int)migrate_nitems);

    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_OK);
    rep.calls = 0;
    ck_assert_int_eq(migrate_apply(pg, true, record, &rep, &n, err, sizeof err), MIGRATE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(rep.calls, 0);
    testenv_db_done(pg, url);
}
END_TEST

START_TEST(behind_and_newer_are_reported)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    char err[512] = "";
    ck_assert(!migrate_check(pg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "behind"));
    ck_assert_ptr_nonnull(strstr(err, "run `parsec backend migrate"));
    migrate_status_t st;
    ck_assert(migrate_inspect(pg, &st, err, sizeof err));
    ck_assert_int_eq(st.pending, (int)migrate_nitems);
    ck_assert_int_eq(st.applied, 0);
    ck_assert_int_eq(st.db_version, 0);

    int n;
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_OK);
    PGresult *res = PQexec(pg, "INSERT INTO schema_migrations VALUES (9999, 'future', now())");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    ck_assert(migrate_inspect(pg, &st, err, sizeof err));
    ck_assert_int_eq(st.unknown, 1);
    ck_assert_int_eq(st.first_unknown, 9999);
    ck_assert_int_eq(st.db_version, 9999);
    ck_assert_int_eq(st.pending, 0);
    ck_assert(!migrate_check(pg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "newer than this server"));
    ck_assert_ptr_nonnull(strstr(err, "9999"));
    ck_assert_int_eq(db_schema_pending(pg), -1);
    reported_t rep = {0};
    ck_assert_int_eq(migrate_apply(pg, false, record, &rep, &n, err, sizeof err), MIGRATE_NEWER);
    ck_assert_int_eq(rep.calls, 0);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
    testenv_db_done(pg, url);
}
END_TEST

/* A migration that fails leaves nothing of itself, its record included. */
START_TEST(failed_migration_is_rolled_back)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    PGresult *res = PQexec(pg, "CREATE TABLE realm (x INTEGER)");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    char err[512] = "";
    int n = -1;
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_FAILED);
    ck_assert_int_eq(n, 0);
    ck_assert_msg(strstr(err, "migration 0001_initial failed"), "%s", err);
    ck_assert_msg(strstr(err, "relation \"realm\" already exists (SQLSTATE 42P07)"), "%s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert(!table_exists(pg, "organization"));
    ck_assert(!table_exists(pg, "schema_migrations"));
    ck_assert_int_eq(PQtransactionStatus(pg), PQTRANS_IDLE);
    /* The advisory lock was released: another session can take it at once. */
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM pg_locks WHERE locktype = "
                                         "'advisory' AND pid = pg_backend_pid()"),
                     0);
    testenv_db_done(pg, url);
}
END_TEST

typedef struct {
    const char *url;
    pthread_barrier_t *start;
    int applied;
    migrate_result result;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    PGconn *pg = PQconnectdb(r->url);
    char err[512];
    pthread_barrier_wait(r->start);
    r->result = PQstatus(pg) == CONNECTION_OK
                    ? migrate_apply(pg, false, NULL, NULL, &r->applied, err, sizeof err)
                    : MIGRATE_FAILED;
    PQfinish(pg);
    return NULL;
}

START_TEST(concurrent_runs_apply_each_migration_once)
{
    char *url = testenv_db_create_empty();
    enum { N = 4 };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    racer_t r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer_t){.url = url, .start = &start};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(r[i].result, MIGRATE_OK);
        total += r[i].applied;
    }
    pthread_barrier_destroy(&start);
    ck_assert_int_eq(total, (int)migrate_nitems);
    PGconn *pg = testenv_pg_connect(url);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM schema_migrations"),
                     (long)migrate_nitems);
    testenv_db_done(pg, url);
}
END_TEST

/* ------------------------------------------------- parsec backend migrate */

static char *slurp(int fd)
{
    strbuf_t b = STRBUF_INIT;
    lseek(fd, 0, SEEK_SET);
    (void)strbuf_read_fd(&b, fd); /* what could be read is the answer */
    return strbuf_detach(&b);
}

/* Run parsec with args (NULL-terminated) and no PARSEC_* setting in its
 * environment; exit status, stdout and stderr (malloc'd). */
static int run_parsec(const char *const *args, char **out, char **errout)
{
    char *bin = testenv_build_path("parsec");
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    char outname[] = "/tmp/parsec-migrate-out-XXXXXX", errname[] = "/tmp/parsec-migrate-err-XXXXXX";
    int ofd = mkstemp(outname), efd = mkstemp(errname);
    ck_assert(ofd >= 0 && efd >= 0);
    unlink(outname);
    unlink(errname);
    const char *argv[32] = {bin};
    int argc = 1;
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        unsetenv("PARSEC_DB");
        unsetenv("PARSEC_CMD_ARGS");
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *out = slurp(ofd);
    *errout = slurp(efd);
    close(ofd);
    close(efd);
    free(bin);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(cli_migrate_end_to_end)
{
    char *url = testenv_db_create_empty();
    char *out, *err;

    const char *dry[] = {"backend", "migrate", "--db", url, "--dry-run", NULL};
    ck_assert_int_eq(run_parsec(dry, &out, &err), 0);
    ck_assert_msg(strstr(out, "would apply 0001_initial\n"), "stdout: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "dry run: nothing applied"));
    free(out);
    free(err);
    PGconn *pg = testenv_pg_connect(url);
    ck_assert_int_eq(count_tables(pg), 0);

    const char *apply[] = {"backend", "migrate", "--db", url, NULL};
    ck_assert_int_eq(run_parsec(apply, &out, &err), 0);
    ck_assert_msg(strstr(out, "applied 0001_initial\n"), "stdout: %s stderr: %s", out, err);
    ck_assert_ptr_nonnull(strstr(out, "database schema at version"));
    free(out);
    free(err);
    ck_assert_int_eq(db_schema_pending(pg), 0);

    ck_assert_int_eq(run_parsec(apply, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "up to date"));
    ck_assert_ptr_null(strstr(out, "applied 0001"));
    free(out);
    free(err);

    PGresult *res = PQexec(pg, "INSERT INTO schema_migrations VALUES (9999, 'future', now())");
    PQclear(res);
    ck_assert_int_eq(run_parsec(apply, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
    free(out);
    free(err);
    testenv_db_done(pg, url);
}
END_TEST

START_TEST(cli_migrate_refusals)
{
    char *out, *err;
    const char *mocked[] = {"backend", "migrate", "--db", "MOCKED", NULL};
    ck_assert_int_eq(run_parsec(mocked, &out, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "nothing to migrate"));
    free(out);
    free(err);

    const char *none[] = {"backend", "migrate", NULL};
    ck_assert_int_eq(run_parsec(none, &out, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "db"));
    free(out);
    free(err);
}
END_TEST

START_TEST(cli_migrate_unreachable_database)
{
    char *url =
        xasprintf("postgresql://someone:hunter2secret@127.0.0.1:%d/parsec", testenv_free_port());
    const char *args[] = {"backend",
                          "migrate",
                          "--db",
                          url,
                          "--maximum-database-connection-attempts",
                          "2",
                          "--pause-before-retry-database-connection",
                          "0.1",
                          NULL};
    char *out, *err;
    ck_assert_int_eq(run_parsec(args, &out, &err), 1);
    ck_assert_ptr_null(strstr(err, "hunter2secret"));
    ck_assert_ptr_null(strstr(out, "hunter2secret"));
    /* The last line is the verdict: one line naming the attempts. */
    size_t len = strlen(err);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(err[len - 1], '\n');
    err[len - 1] = '\0';
    char *last = strrchr(err, '\n');
    last = last ? last + 1 : err;
    ck_assert_msg(!strncmp(last, "parsec backend migrate: cannot connect to database", 50), "%s",
                  last);
    ck_assert_ptr_nonnull(strstr(last, "after 2 attempts"));
    ck_assert_ptr_nonnull(strstr(last, "someone:***@"));
    /* The first attempt's failure was logged before the retry. */
    ck_assert_ptr_nonnull(strstr(err, "attempt 1 of 2"));
    free(out);
    free(err);
    free(url);
}
END_TEST

static void exec_ok(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "%s", PQresultErrorMessage(res));
    PQclear(res);
}

/* 0003 on a database that already holds vlobs and messages: its counters
 * start from what is stored (every version in metadata_size, the versions
 * written in vlobs_size, the copies of a reencryption in their revision's
 * count, the last message number of each recipient). */
START_TEST(realms_migration_counts_what_is_stored)
{
    char *url = testenv_db_create_empty();
    PGconn *pg = testenv_pg_connect(url);
    const migrate_item_t *m0003 = NULL;
    for (size_t i = 0; i < migrate_nitems; i++) {
        if (migrate_items[i].version < 3)
            exec_ok(pg, migrate_items[i].sql);
        else if (migrate_items[i].version == 3)
            m0003 = &migrate_items[i];
    }
    ck_assert_ptr_nonnull(m0003);
    ck_assert_str_eq(m0003->name, "realms");
    exec_ok(
        pg,
        "INSERT INTO organization (organization_id, bootstrap_token) VALUES ('Org', '');"
        "INSERT INTO user_ (organization, user_id, profile, user_certificate,"
        "  redacted_user_certificate, created_on) VALUES (1, 'a', 'ADMIN', '\\x01', '\\x02', "
        "now()),"
        "  (1, 'b', 'STANDARD', '\\x01', '\\x02', now());"
        "INSERT INTO device (organization, user_, device_id, verify_key, device_certificate,"
        "  redacted_device_certificate, created_on)"
        "  VALUES (1, 1, 'a@d', decode(repeat('ab', 32), 'hex'), '\\x03', '\\x04', now());"
        "INSERT INTO realm (organization, realm_id, encryption_revision, created_on)"
        "  VALUES (1, gen_random_uuid(), 2, now()), (1, gen_random_uuid(), 1, now());"
        "INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
        "  VALUES (1, 1), (1, 2), (2, 1);"
        "INSERT INTO vlob (organization, realm, vlob_id) VALUES (1, 1, gen_random_uuid()),"
        "  (1, 1, gen_random_uuid()), (1, 2, gen_random_uuid());"
        /* realm 1: two versions of vlob 1 and one of vlob 2 at revision 1
         * (10 + 20 + 40 bytes), the copies of the first two at revision 2
         * (11 + 21); realm 2: one version (100) */
        "INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size, author,"
        "  created_on) VALUES (1, 1, 1, '', 10, 1, now()), (1, 1, 2, '', 20, 1, now()),"
        "  (2, 1, 1, '', 40, 1, now()), (1, 2, 1, '', 11, 1, now()), (1, 2, 2, '', 21, 1, now()),"
        "  (3, 3, 1, '', 100, 1, now());"
        "INSERT INTO realm_vlob_update (realm, index, vlob_atom)"
        "  VALUES (1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 6);"
        "INSERT INTO message (organization, recipient, index, sender, created_on, body)"
        "  VALUES (1, 2, 1, 1, now(), ''), (1, 2, 2, 1, now(), ''), (1, 1, 1, 1, now(), '');");
    exec_ok(pg, m0003->sql);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT vlobs_size FROM realm WHERE _id = 1"), 70);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT metadata_size FROM realm WHERE _id = 1"), 102);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT vlobs_size FROM realm WHERE _id = 2"), 100);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT metadata_size FROM realm WHERE _id = 2"), 100);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT versions FROM realm WHERE _id = 1"), 3);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT versions FROM realm WHERE _id = 2"), 1);
    ck_assert_int_eq(
        testenv_sql_int(pg, "SELECT atoms FROM vlob_encryption_revision WHERE _id = 1"), 3);
    ck_assert_int_eq(
        testenv_sql_int(pg, "SELECT atoms FROM vlob_encryption_revision WHERE _id = 2"), 2);
    ck_assert_int_eq(
        testenv_sql_int(pg, "SELECT atoms FROM vlob_encryption_revision WHERE _id = 3"), 1);
    ck_assert_int_eq(
        testenv_sql_int(pg, "SELECT last_index FROM message_recipient WHERE recipient = 2"), 2);
    ck_assert_int_eq(
        testenv_sql_int(pg, "SELECT last_index FROM message_recipient WHERE recipient = 1"), 1);
    /* a second role certificate of one user with the same timestamp is refused */
    exec_ok(pg, "INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by,"
                " certified_on) VALUES (1, 2, 'READER', '', 1, '2024-01-01T00:00:00Z')");
    PGresult *res = PQexec(pg, "INSERT INTO realm_user_role (realm, user_, role, certificate,"
                               " certified_by, certified_on)"
                               " VALUES (1, 2, NULL, '', 1, '2024-01-01T00:00:00Z')");
    ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505");
    PQclear(res);
    testenv_db_done(pg, url);
}
END_TEST

TEST_SUITE(migrate)
{
    (void)testenv_db_setup();
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, embedded_migrations_are_well_formed);
    tcase_add_test(tc, every_migration_applies_to_an_empty_database);
    tcase_add_test(tc, realms_migration_counts_what_is_stored);
    tcase_add_test(tc, migrate_is_idempotent);
    tcase_add_test(tc, dry_run_changes_nothing);
    tcase_add_test(tc, behind_and_newer_are_reported);
    tcase_add_test(tc, failed_migration_is_rolled_back);
    tcase_add_test(tc, concurrent_runs_apply_each_migration_once);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 60);
    tcase_add_test(cli, cli_migrate_end_to_end);
    tcase_add_test(cli, cli_migrate_refusals);
    tcase_add_test(cli, cli_migrate_unreachable_database);
    suite_add_tcase(s, cli);
    return s;
}
