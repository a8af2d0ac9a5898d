/*
 * tests/unit/test_cfg_file.c - settings read from files (--NAME-file,
 * PARSEC_NAME_FILE) and commands that take only some settings
 */
#include "cfg.h"
#include "test_cfg_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void make_dir(void)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/test_cfg_file.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* put - dir/name holding content (mode), its path; caller frees. */
static char *put(const char *name, const char *content, mode_t mode)
{
    char *path = xasprintf("%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static char *flag_eq(const char *flag, const char *v)
{
    return xasprintf("%s=%s", flag, v);
}

/* Every setting that may hold a secret, as --NAME-file and NAME_FILE. */
START_TEST(every_secret_setting_from_a_file)
{
    make_dir();
    static const struct {
        const char *name, *env, *content, *want;
    } cases[] = {
        {"db", "PARSEC_DB", "postgresql://parsec:pw@/parsec?host=/run/postgresql\n",
         "postgresql://parsec:pw@/parsec?host=/run/postgresql"},
        {"administration-token", "PARSEC_ADMINISTRATION_TOKEN", "s3cr3t-t0ken\r\n", "s3cr3t-t0ken"},
        {"email-host-password", "PARSEC_EMAIL_HOST_PASSWORD", "pass word with spaces\n\n",
         "pass word with spaces"},
        {"organization-bootstrap-webhook", "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK",
         "https://hooks.example.com/T0K3N", "https://hooks.example.com/T0K3N"},
        {"sentry-dsn", "PARSEC_SENTRY_DSN", "https://k3y@sentry.example.com/1\n",
         "https://k3y@sentry.example.com/1"},
        {"metrics-token", "PARSEC_METRICS_TOKEN", "m3tr1cs-t0ken\n", "m3tr1cs-t0ken"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = put("secret", cases[i].content, 0640);
        char *flag = xasprintf("--%s-file", cases[i].name);
        char *env = xasprintf("%s_FILE=%s", cases[i].env, path);
        cfgt_parses_as(ARGS(flag, path), NOENV, cases[i].name, cases[i].want, "flag");
        char *eq = flag_eq(flag, path);
        cfgt_parses_as(ARGS(eq), NOENV, cases[i].name, cases[i].want, "flag=");
        cfgt_parses_as(NOARGS, ENV(env), cases[i].name, cases[i].want, "variable");
        char *cmd = xasprintf("PARSEC_CMD_ARGS=%s '%s'", flag, path);
        cfgt_parses_as(NOARGS, ENV(cmd), cases[i].name, cases[i].want, "PARSEC_CMD_ARGS");
        free(cmd);
        free(eq);
        free(env);
        free(flag);
        unlink(path);
        free(path);
    }
    /* the blockstore: one spec per line, a secret may hold a space */
    char *path = put("bs",
                     "RAID1:0:s3::eu-west-1:a:KEY:SE CRET\n\n"
                     "RAID1:1:swift:https\\://auth:t:c:u:P4SS\n",
                     0600);
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("--blockstore-file", path), NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID1);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_secret, "SE CRET");
    ck_assert_str_eq(c.blockstore.nodes[1].swift_password, "P4SS");
    cfg_free(&c);
    unlink(path);
    free(path);
    rmdir(dir);
}
END_TEST

START_TEST(file_precedence_and_conflicts)
{
    make_dir();
    char *path = put("tok", "from-file\n", 0600);
    char *env_file = xasprintf("PARSEC_ADMINISTRATION_TOKEN_FILE=%s", path);
    /* the usual order between sources */
    cfgt_parses_to(ARGS("--administration-token", "from-flag"), ENV(env_file),
                   "administration-token", "from-flag");
    cfgt_parses_to(ARGS("--administration-token-file", path),
                   ENV("PARSEC_ADMINISTRATION_TOKEN=from-env"), "administration-token",
                   "from-file");
    /* within one source: one or the other */
    cfgt_refused(ARGS("--administration-token", "x", "--administration-token-file", path), NOENV,
                 "--administration-token and --administration-token-file are both given: keep "
                 "one");
    cfgt_refused(NOARGS, ENV("PARSEC_ADMINISTRATION_TOKEN=x", env_file),
                 "PARSEC_ADMINISTRATION_TOKEN and PARSEC_ADMINISTRATION_TOKEN_FILE are both "
                 "given: keep one");
    /* settings without secrets take no file */
    cfgt_refused(ARGS("--port-file", path), NOENV, "unknown setting \"--port-file\"");
    cfgt_parses_to(NOARGS, ENV("PARSEC_PORT_FILE=/nonexistent"), "port", "6777");
    free(env_file);
    unlink(path);
    free(path);
    rmdir(dir);
}
END_TEST

START_TEST(file_refusals_never_show_the_content)
{
    make_dir();
    char *empty = put("empty", "\n", 0600);
    char *twoline = put("two", "first\nT0PSECRET\n", 0600);
    char *badurl = put("url", "mysql://u:T0PSECRET@h/d\n", 0600);
    char *badtok = put("tok", "has T0PSECRET space\n", 0600);
    char *missing = xasprintf("%s/none", dir);
    char *big = xmalloc(CFG_VALUE_MAX + 2);
    memset(big, 'a', CFG_VALUE_MAX + 1);
    big[CFG_VALUE_MAX + 1] = '\0';
    char *toolong = put("long", big, 0600);
    char *e_empty = xasprintf("PARSEC_DB_FILE=%s", empty);
    const cfgt_refusal_t t[] = {
        {ARGS("--db-file", missing), NOENV, "--db-file: cannot read", NULL},
        {ARGS("--db-file", missing), NOENV, "No such file or directory", NULL},
        {ARGS("--db-file", dir), NOENV, "not a regular file", NULL},
        {NOARGS, ENV(e_empty), "PARSEC_DB_FILE: ", NULL},
        {NOARGS, ENV(e_empty), "is empty", NULL},
        {ARGS("--db-file", toolong), NOENV, "longer than 4096 bytes", NULL},
        {ARGS("--administration-token-file", twoline), NOENV, "control characters", "T0PSECRET"},
        {ARGS("--db-file", badurl), NOENV, "--db-file: expected MOCKED or a postgresql:// URL",
         "T0PSECRET"},
        {ARGS("--administration-token-file", badtok), NOENV,
         "--administration-token-file: expected printable ASCII", "T0PSECRET"},
        {ARGS("--sentry-dsn-file", badurl), NOENV, "--sentry-dsn-file", "T0PSECRET"},
    };
    CFGT_REFUSE_EACH(t);
    free(e_empty);
    const char *files[] = {empty, twoline, badurl, badtok, toolong};
    for (size_t i = 0; i < 5; i++) {
        unlink(files[i]);
        free((char *)files[i]);
    }
    free(missing);
    free(big);
    rmdir(dir);
}
END_TEST

/* Others may read the file: parsed, with one warning to log. */
START_TEST(world_readable_file_warns)
{
    make_dir();
    char *open_path = put("open", "tok\n", 0644);
    char *closed_path = put("closed", "tok\n", 0640);
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("--administration-token-file", open_path), NOENV);
    ck_assert_ptr_nonnull(c.warnings);
    ck_assert_ptr_nonnull(c.warnings[0]);
    ck_assert_msg(strstr(c.warnings[0], "--administration-token-file") &&
                      strstr(c.warnings[0], "readable by every user") &&
                      strstr(c.warnings[0], open_path),
                  "%s", c.warnings[0]);
    ck_assert_ptr_null(c.warnings[1]);
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("--administration-token-file", closed_path), NOENV);
    ck_assert_ptr_null(c.warnings);
    cfg_free(&c);
    unlink(open_path);
    unlink(closed_path);
    free(open_path);
    free(closed_path);
    rmdir(dir);
}
END_TEST

/* A descriptor handed down by a parent (what `parsec backend run` does):
 * read, then closed, and its mode is no concern. */
START_TEST(inherited_descriptor_is_read_then_closed)
{
    int fd = memfd_create("parsec-secret", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "fd-t0ken\n", 9), 9);
    char *path = xasprintf("/dev/fd/%d", fd);
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("--administration-token-file", path), NOENV);
    ck_assert_str_eq(c.administration_token, "fd-t0ken");
    ck_assert_ptr_null(c.warnings);
    cfg_free(&c);
    errno = 0;
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    free(path);
}
END_TEST

/* A command that takes some settings: its --help, its refusals. */
START_TEST(command_takes_its_own_settings)
{
    static const char *const settings[] = {"db", "log-level", "dry-run", NULL};
    static const char *const required[] = {"db", NULL};
    static const cfg_command_t cmd = {
        .name = "parsec backend migrate", .settings = settings, .required = required};
    cfg_t c;
    char err[256];
    ck_assert_int_eq(
        cfg_parse_command(&c, &cmd, 2, ARGS("--port", "1"), NOENV, err, sizeof err, NULL, NULL),
        CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--port: not a setting of parsec backend migrate (see --help)");
    /* a variable of another setting is someone else's: ignored */
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 2, ARGS("--db", "postgresql://h/d"),
                                       ENV("PARSEC_PORT=1"), err, sizeof err, NULL, NULL),
                     CFG_PARSE_OK);
    cfg_free(&c);
    /* ... not even checked: a value it would refuse stays someone else's */
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 2, ARGS("--db", "postgresql://h/d"),
                                       ENV("PARSEC_PORT=x", "PARSEC_SSL_KEYFILE=/nonexistent"), err,
                                       sizeof err, NULL, NULL),
                     CFG_PARSE_OK);
    ck_assert_int_eq(c.port, 6777);
    ck_assert_ptr_null(c.ssl_keyfile);
    cfg_free(&c);
    /* required: missing, or given empty */
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 0, NOARGS, NOENV, err, sizeof err, NULL, NULL),
                     CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--db is required (or PARSEC_DB)");
    ck_assert_int_eq(
        cfg_parse_command(&c, &cmd, 2, ARGS("--db", ""), NOENV, err, sizeof err, NULL, NULL),
        CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--db is required: --db is empty");
    ck_assert_int_eq(
        cfg_parse_command(&c, &cmd, 0, NOARGS, ENV("PARSEC_DB="), err, sizeof err, NULL, NULL),
        CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--db is required (or PARSEC_DB)");
    /* without a command, an empty value is simply refused */
    cfgt_refused(ARGS("--db", ""), NOENV, "--db: must not be empty");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_usage_command(f, &cmd);
    fclose(f);
    ck_assert(strstr(text, "usage: parsec backend migrate"));
    ck_assert(strstr(text, "--db URL  (required)"));
    ck_assert(strstr(text, "from a file: --db-file FILE or PARSEC_DB_FILE"));
    ck_assert(strstr(text, "PARSEC_DB_FILE"));
    ck_assert(strstr(text, "--dry-run"));
    ck_assert(strstr(text, "--log-level"));
    ck_assert_msg(!strstr(text, "--port") && !strstr(text, "--blockstore") &&
                      !strstr(text, "--administration-token"),
                  "%s", text);
    free(text);
}
END_TEST

/* A command that reads all but some (the worker and the TLS files). */
START_TEST(command_ignores_some_settings)
{
    static const char *const ignored[] = {"ssl-keyfile", "ssl-certfile", NULL};
    static const cfg_command_t cmd = {.name = "parsec-fcgi", .ignored = ignored};
    cfg_t c;
    char err[256];
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 2, ARGS("--ssl-keyfile", "/etc/hostname"), NOENV,
                                       err, sizeof err, NULL, NULL),
                     CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--ssl-keyfile: not a setting of parsec-fcgi (see --help)");
    /* a key only root may read, in a parsec.env the worker shares */
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 0, NOARGS,
                                       ENV("PARSEC_SSL_KEYFILE=/nonexistent/key",
                                           "PARSEC_SSL_CERTFILE=/nonexistent/cert",
                                           "PARSEC_CMD_ARGS=--ssl-keyfile /nonexistent/k"),
                                       err, sizeof err, NULL, NULL),
                     CFG_PARSE_OK);
    ck_assert_ptr_null(c.ssl_keyfile);
    ck_assert_ptr_null(c.ssl_certfile);
    cfg_free(&c);
    /* every other setting is still read and checked */
    ck_assert_int_eq(
        cfg_parse_command(&c, &cmd, 0, NOARGS, ENV("PARSEC_PORT=x"), err, sizeof err, NULL, NULL),
        CFG_PARSE_ERROR);
    ck_assert_int_eq(cfg_parse_command(&c, &cmd, 0, NOARGS, ENV("PARSEC_PORT=8080"), err,
                                       sizeof err, NULL, NULL),
                     CFG_PARSE_OK);
    ck_assert_int_eq(c.port, 8080);
    cfg_free(&c);
}
END_TEST

TEST_SUITE(cfg_file)
{
    const TTest *const tests[] = {every_secret_setting_from_a_file,
                                  file_precedence_and_conflicts,
                                  file_refusals_never_show_the_content,
                                  world_readable_file_warns,
                                  inherited_descriptor_is_read_then_closed,
                                  command_takes_its_own_settings,
                                  command_ignores_some_settings};
    return cfgt_suite("cfg_file", tests, sizeof tests / sizeof *tests);
}
