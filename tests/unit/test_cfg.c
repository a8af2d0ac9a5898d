/*
 * tests/unit/test_cfg.c - the configuration parser (common/cfg.c)
 *
 * Every setting through each of its sources, --dev, TLS files, every
 * refusal setting by setting, cfg_require, and that no secret reaches an
 * error message or cfg_describe().  Environments are passed as arrays; the
 * process environment is never touched.  Precedence and PARSEC_CMD_ARGS are
 * in test_cfg_args.c, --blockstore in test_cfg_blockstore.c, the shared
 * helpers in test_cfg_lib.c.
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
#include <sys/stat.h>
#include <unistd.h>

/*
 * One row per setting: long name, short flag, variable, a value to give
 * (NULL: a flag), what cfgt_field() then shows, what cfgt_field() shows by default,
 * the default as --help prints it.
 */
static const struct setting {
    const char *name;
    char shortopt;
    const char *env;
    const char *value;
    const char *expect;
    const char *deflt;
    const char *help_default;
} settings[] = {
    {"host", 'H', "PARSEC_HOST", "0.0.0.0", "0.0.0.0", "127.0.0.1", "127.0.0.1"},
    {"port", 'P', "PARSEC_PORT", "8080", "8080", "6777", "6777"},
    {"db", 0, "PARSEC_DB", "postgresql://u:pw@db.example.com/parsec",
     "postgresql://u:pw@db.example.com/parsec", "(null)", "none"},
    {"db-min-connections", 0, "PARSEC_DB_MIN_CONNECTIONS", "2", "2", "5", "5"},
    {"db-max-connections", 0, "PARSEC_DB_MAX_CONNECTIONS", "20", "20", "7", "7"},
    {"maximum-database-connection-attempts", 0, "PARSEC_MAXIMUM_DATABASE_CONNECTION_ATTEMPTS", "0",
     "0", "10", "10"},
    {"pause-before-retry-database-connection", 0, "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION",
     "2.5", "2.5", "1", "1.0"},
    {"blockstore", 'b', "PARSEC_BLOCKSTORE", "POSTGRESQL", "POSTGRESQL", "(none)", "none"},
    {"administration-token", 0, "PARSEC_ADMINISTRATION_TOKEN", "t0k3n", "t0k3n", "(null)", "none"},
    {"forward-proto-enforce-https", 0, "PARSEC_FORWARD_PROTO_ENFORCE_HTTPS",
     "X-Forwarded-Proto:https", "x-forwarded-proto:https", "(null)", "none"},
    {"log-level", 'l', "PARSEC_LOG_LEVEL", "DEBUG", "10", "30", "WARNING"},
    {"log-format", 'f', "PARSEC_LOG_FORMAT", "JSON", "json", "console", "CONSOLE"},
    {"log-file", 'o', "PARSEC_LOG_FILE", "/var/log/parsec.log", "/var/log/parsec.log", "(null)",
     "stderr"},
    {"backend-addr", 0, "PARSEC_BACKEND_ADDR", "parsec://parsec.example.com:443",
     "parsec://parsec.example.com:443", "(null)", "none"},
    {"email-host", 0, "PARSEC_EMAIL_HOST", "MOCKED", "MOCKED", "(null)", "none"},
    {"email-port", 0, "PARSEC_EMAIL_PORT", "587", "587", "25", "25"},
    {"email-host-user", 0, "PARSEC_EMAIL_HOST_USER", "alice", "alice", "(null)", "none"},
    {"email-host-password", 0, "PARSEC_EMAIL_HOST_PASSWORD", "pa55", "pa55", "(null)", "none"},
    {"email-use-ssl", 0, "PARSEC_EMAIL_USE_SSL", NULL, "1", "0", "false"},
    {"email-use-tls", 0, "PARSEC_EMAIL_USE_TLS", NULL, "1", "0", "false"},
    {"email-language", 0, "PARSEC_EMAIL_LANGUAGE", "fr", "fr", "en", "en"},
    {"email-sender", 0, "PARSEC_EMAIL_SENDER", "Parsec <no-reply@example.com>",
     "Parsec <no-reply@example.com>", "(null)", "none"},
    {"email-connect-timeout", 0, "PARSEC_EMAIL_CONNECT_TIMEOUT", "2.5", "2.5", "10", "10"},
    {"email-timeout", 0, "PARSEC_EMAIL_TIMEOUT", "0.1", "0.1", "30", "30"},
    {"spontaneous-organization-bootstrap", 0, "PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP", NULL,
     "1", "0", "false"},
    {"organization-bootstrap-webhook", 0, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK",
     "https://hooks.example.com/parsec", "https://hooks.example.com/parsec", "(null)", "none"},
    {"organization-initial-active-users-limit", 0, "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT",
     "3", "3", "-1", "no limit"},
    {"organization-initial-user-profile-outsider-allowed", 0,
     "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED", "false", "0", "1", "true"},
    {"sentry-dsn", 0, "PARSEC_SENTRY_DSN", "https://k3y@o1.ingest.sentry.io/2",
     "https://k3y@o1.ingest.sentry.io/2", "(null)", "none"},
    {"sentry-environment", 0, "PARSEC_SENTRY_ENVIRONMENT", "staging", "staging", "production",
     "production"},
    {"debug", 0, "PARSEC_DEBUG", NULL, "1", "0", "false"},
    {"fcgi-socket", 0, "PARSEC_FCGI_SOCKET", "/run/parsec/fcgi.sock", "/run/parsec/fcgi.sock",
     "(null)", "none"},
    {"fcgi-listen-backlog", 0, "PARSEC_FCGI_LISTEN_BACKLOG", "1024", "1024", "4096",
     "SOMAXCONN (4096)"},
    {"max-request-size", 0, "PARSEC_MAX_REQUEST_SIZE", "2097152", "2097152", "1048576", "1048576"},
    {"notifyd-host", 0, "PARSEC_NOTIFYD_HOST", "0.0.0.0", "0.0.0.0", "127.0.0.1", "127.0.0.1"},
    {"notifyd-port", 0, "PARSEC_NOTIFYD_PORT", "7000", "7000", "6778", "6778"},
    /* no variable, as in Parsec */
    {"dry-run", 0, NULL, NULL, "1", "0", "false"},
    {"blockstore-connect-timeout", 0, "PARSEC_BLOCKSTORE_CONNECT_TIMEOUT", "0.5", "0.5", "5", "5"},
    {"blockstore-timeout", 0, "PARSEC_BLOCKSTORE_TIMEOUT", "120", "120", "30", "30"},
    {"blockstore-partial-create-ok", 0, "PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK", NULL, "1", "0",
     "false"},
    {"metrics-token", 0, "PARSEC_METRICS_TOKEN", "m3tr1cs", "m3tr1cs", "(null)", "none"},
    {"metrics-dir", 0, "PARSEC_METRICS_DIR", "/var/lib/parsec/metrics", "/var/lib/parsec/metrics",
     "/run/parsec/metrics", "/run/parsec/metrics"},
    /* tested on their own below: dev (it fills others), ssl-keyfile,
     * ssl-certfile (they need real files and each other) and email-ca-file
     * (a real file) */
};
#define NSETTINGS (sizeof settings / sizeof *settings)

/* --------------------------------------------------------------------- */

START_TEST(defaults)
{
    cfg_t c;
    cfgt_parse_ok(&c, NOARGS, NOENV);
    ck_assert_str_eq(cfgt_err, ""); /* cfgt_err is cleared on success */
    for (size_t i = 0; i < NSETTINGS; i++)
        cfgt_expect_field(&c, settings[i].name, settings[i].deflt, "default");
    cfgt_expect_field(&c, "ssl-keyfile", "(null)", "default");
    cfgt_expect_field(&c, "ssl-certfile", "(null)", "default");
    cfgt_expect_field(&c, "dev", "0", "default");
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID_NONE);
    ck_assert_ptr_null(c.blockstore.nodes);
    ck_assert_int_eq(c.log_level, CFG_LOG_WARNING);
    ck_assert_int_eq(c.log_format, CFG_LOG_CONSOLE);
    ck_assert(c.pause_before_retry_database_connection == 1.0);
    cfg_free(&c);
    cfg_free(&c); /* twice is safe */
}
END_TEST

/* Each setting by --name VALUE, --name=VALUE, short forms, its variable
 * and PARSEC_CMD_ARGS. */
START_TEST(every_setting_every_source)
{
    int i = _i;
    const struct setting *s = &settings[i];
    char flag[128], eq[512], shortf[4], attached[256], envs[512], cmd[600];
    snprintf(flag, sizeof flag, "--%s", s->name);

    if (s->value) {
        cfgt_parses_as(ARGS(flag, (char *)s->value), NOENV, s->name, s->expect, "--name VALUE");

        snprintf(eq, sizeof eq, "--%s=%s", s->name, s->value);
        cfgt_parses_as(ARGS(eq), NOENV, s->name, s->expect, "--name=VALUE");

        if (s->shortopt) {
            snprintf(shortf, sizeof shortf, "-%c", s->shortopt);
            cfgt_parses_as(ARGS(shortf, (char *)s->value), NOENV, s->name, s->expect, "-X VALUE");
            snprintf(attached, sizeof attached, "-%c%s", s->shortopt, s->value);
            cfgt_parses_as(ARGS(attached), NOENV, s->name, s->expect, "-XVALUE");
        }
        snprintf(envs, sizeof envs, "%s=%s", s->env, s->value);
        cfgt_parses_as(NOARGS, ENV(envs), s->name, s->expect, s->env);

        snprintf(cmd, sizeof cmd, "PARSEC_CMD_ARGS=--%s '%s'", s->name, s->value);
        cfgt_parses_as(NOARGS, ENV(cmd), s->name, s->expect, "PARSEC_CMD_ARGS");
        return;
    }

    /* a flag */
    cfgt_parses_as(ARGS(flag), NOENV, s->name, "1", "--flag");
    snprintf(cmd, sizeof cmd, "PARSEC_CMD_ARGS=%s", flag);
    cfgt_parses_as(NOARGS, ENV(cmd), s->name, "1", "PARSEC_CMD_ARGS");
    if (!s->env)
        return;
    static const char *const truthy[] = {"1", "true", "TRUE", "t", "yes", "Y", "on", " On "};
    static const char *const falsy[] = {"0", "false", "False", "f", "no", "N", "off"};
    for (size_t k = 0; k < sizeof truthy / sizeof *truthy; k++) {
        snprintf(envs, sizeof envs, "%s=%s", s->env, truthy[k]);
        cfgt_parses_as(NOARGS, ENV(envs), s->name, "1", envs);
    }
    for (size_t k = 0; k < sizeof falsy / sizeof *falsy; k++) {
        snprintf(envs, sizeof envs, "%s=%s", s->env, falsy[k]);
        cfgt_parses_as(NOARGS, ENV(envs), s->name, "0", envs);
    }
    snprintf(envs, sizeof envs, "%s=maybe", s->env);
    char want[256];
    snprintf(want, sizeof want, "%s: expected a boolean", s->env);
    cfgt_refused(NOARGS, ENV(envs), want);
    /* a flag takes no value */
    snprintf(eq, sizeof eq, "--%s=1", s->name);
    cfgt_refused(ARGS(eq), NOENV, "takes no value");
}
END_TEST

/* --help lists every setting with its variable and default. */
START_TEST(usage_lists_everything)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_usage(f, "parsec backend run");
    fclose(f);
    ck_assert(strstr(text, "usage: parsec backend run"));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char want[256];
        snprintf(want, sizeof want, "--%s", s->name);
        ck_assert_msg(strstr(text, want), "help lacks %s", want);
        char *at = strstr(text, want);
        char *block_end = strstr(at, "]\n");
        ck_assert_ptr_nonnull(block_end);
        snprintf(want, sizeof want, "variable: %s;", s->env ? s->env : "none");
        char *v = strstr(at, want);
        ck_assert_msg(v && v < block_end, "help of --%s lacks %s", s->name, want);
        snprintf(want, sizeof want, "default: %s", s->help_default);
        char *d = strstr(at, want);
        ck_assert_msg(d && d < block_end, "help of --%s lacks %s", s->name, want);
        if (s->shortopt) {
            snprintf(want, sizeof want, "-%c ", s->shortopt);
            ck_assert_msg(strstr(at, want) < block_end, "help of --%s lacks -%c", s->name,
                          s->shortopt);
        }
    }
    for (const char *const *n =
             (const char *const[]){"--ssl-keyfile", "PARSEC_SSL_KEYFILE", "--ssl-certfile",
                                   "PARSEC_SSL_CERTFILE", "--dev", "PARSEC_CMD_ARGS", NULL};
         *n; n++)
        ck_assert_msg(strstr(text, *n), "help lacks %s", *n);
    free(text);
}
END_TEST

/* Runs cfg_parse with stdout captured; returns what it printed. */
static char *capture_stdout(char **argv, char **envp, cfg_parse_result *r)
{
    cfg_t c;
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    fflush(stdout);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    *r = cfgt_run(&c, argv, envp);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    long size = ftell(tmp);
    fseek(tmp, 0, SEEK_END);
    size = ftell(tmp);
    rewind(tmp);
    char *buf = calloc(1, (size_t)size + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, tmp), (size_t)size);
    fclose(tmp);
    ck_assert_ptr_null(c.host);
    return buf;
}

START_TEST(help_and_version_exit)
{
    cfg_parse_result r;
    char *out = capture_stdout(ARGS("--port", "1", "--help"), NOENV, &r);
    ck_assert_int_eq(r, CFG_PARSE_EXIT);
    ck_assert(strstr(out, "--blockstore"));
    free(out);
    out = capture_stdout(ARGS("-h"), NOENV, &r);
    ck_assert_int_eq(r, CFG_PARSE_EXIT);
    ck_assert(strstr(out, "PARSEC_EMAIL_HOST_PASSWORD"));
    free(out);
    out = capture_stdout(ARGS("--version"), NOENV, &r);
    ck_assert_int_eq(r, CFG_PARSE_EXIT);
    /* the program names itself (parsec-fcgi, parsec-notifyd, parsec) */
    char *want = xasprintf("%s %s\n", program_invocation_short_name, PARSEC_VERSION);
    ck_assert_str_eq(out, want);
    free(want);
    free(out);
    out = capture_stdout(NOARGS, ENV("PARSEC_CMD_ARGS=--help"), &r);
    ck_assert_int_eq(r, CFG_PARSE_EXIT);
    free(out);
}
END_TEST

/* --------------------------------------------------------------------- */
/* --dev                                                                  */

START_TEST(dev_expansion)
{
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("--dev"), NOENV);
    ck_assert(c.dev);
    ck_assert(c.debug);
    ck_assert_str_eq(c.db, "MOCKED");
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    ck_assert_str_eq(c.administration_token, "s3cr3t");
    ck_assert_str_eq(c.email_sender, "no-reply@parsec.com");
    ck_assert_str_eq(c.email_host, "MOCKED");
    ck_assert_str_eq(c.backend_addr, "parsec://localhost:6777?no_ssl=true");
    cfg_free(&c);

    cfgt_parses_to(ARGS("--dev", "--port", "7000"), NOENV, "backend-addr",
                   "parsec://localhost:7000?no_ssl=true");
    cfgt_parse_ok(&c, NOARGS, ENV("PARSEC_CMD_ARGS=--dev", "PARSEC_PORT=7001"));
    ck_assert(c.dev);
    ck_assert_str_eq(c.backend_addr, "parsec://localhost:7001?no_ssl=true");
    cfg_free(&c);

    /* only fills what no source gave */
    cfgt_parse_ok(&c,
                  ARGS("--dev", "--db", "postgresql://h/d", "-b", "POSTGRESQL", "--backend-addr",
                       "parsec://x.example.com", "--email-host", "smtp.example.com"),
                  ENV("PARSEC_ADMINISTRATION_TOKEN=mine", "PARSEC_EMAIL_SENDER=me@example.com",
                      "PARSEC_DEBUG=false"));
    ck_assert_str_eq(c.db, "postgresql://h/d");
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_POSTGRESQL);
    ck_assert_str_eq(c.backend_addr, "parsec://x.example.com");
    ck_assert_str_eq(c.email_host, "smtp.example.com");
    ck_assert_str_eq(c.administration_token, "mine");
    ck_assert_str_eq(c.email_sender, "me@example.com");
    ck_assert(!c.debug);
    cfg_free(&c);

    /* without --dev nothing is filled */
    cfgt_parse_ok(&c, ARGS("--debug"), NOENV);
    ck_assert_ptr_null(c.db);
    ck_assert_ptr_null(c.backend_addr);
    ck_assert_uint_eq(c.blockstore.n_nodes, 0);
    cfg_free(&c);
}
END_TEST

/* --------------------------------------------------------------------- */
/* TLS files                                                              */

static char tmpdir[64];
static char keyfile[128], certfile[128];

static void make_tls_files(void)
{
    strcpy(tmpdir, "/tmp/test_cfg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(keyfile, sizeof keyfile, "%s/key.pem", tmpdir);
    snprintf(certfile, sizeof certfile, "%s/cert.pem", tmpdir);
    FILE *f = fopen(keyfile, "w");
    fputs("key\n", f);
    fclose(f);
    f = fopen(certfile, "w");
    fputs("cert\n", f);
    fclose(f);
}

static void remove_tls_files(void)
{
    unlink(keyfile);
    unlink(certfile);
    rmdir(tmpdir);
}

START_TEST(tls_files)
{
    cfg_t c;
    char kenv[200], cenv[200], missing[200];
    make_tls_files();
    cfgt_parse_ok(&c, ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", certfile), NOENV);
    ck_assert_str_eq(c.ssl_keyfile, keyfile);
    ck_assert_str_eq(c.ssl_certfile, certfile);
    cfg_free(&c);
    snprintf(kenv, sizeof kenv, "PARSEC_SSL_KEYFILE=%s", keyfile);
    snprintf(cenv, sizeof cenv, "PARSEC_SSL_CERTFILE=%s", certfile);
    cfgt_parse_ok(&c, NOARGS, ENV(kenv, cenv));
    ck_assert_str_eq(c.ssl_keyfile, keyfile);
    ck_assert_str_eq(c.ssl_certfile, certfile);
    cfg_free(&c);
    /* --dev with TLS: no no_ssl marker */
    cfgt_parses_to(ARGS("--dev", "-P", "9000"), ENV(kenv, cenv), "backend-addr",
                   "parsec://localhost:9000");

    /* refusals: one alone, missing file, a directory */
    cfgt_refused(ARGS("--ssl-keyfile", keyfile), NOENV,
                 "--ssl-keyfile: needs --ssl-certfile (or PARSEC_SSL_CERTFILE) as well");
    cfgt_refused(NOARGS, ENV(cenv), "PARSEC_SSL_CERTFILE: needs --ssl-keyfile");
    snprintf(missing, sizeof missing, "%s/none.pem", tmpdir);
    cfgt_refused(ARGS("--ssl-keyfile", missing, "--ssl-certfile", certfile), NOENV,
                 "--ssl-keyfile: cannot read");
    cfgt_refused(ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", tmpdir), NOENV,
                 "--ssl-certfile: cannot read");
    ck_assert(strstr(cfgt_err, "not a regular file"));
    cfgt_refused(ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", missing), NOENV,
                 "No such file or directory");
    remove_tls_files();
}
END_TEST

START_TEST(email_ca_file)
{
    cfg_t c;
    char env[200], missing[200];
    make_tls_files();
    cfgt_parses_to(ARGS("--email-ca-file", certfile), NOENV, "email-ca-file", certfile);
    snprintf(env, sizeof env, "PARSEC_EMAIL_CA_FILE=%s", certfile);
    cfgt_parses_to(NOARGS, ENV(env), "email-ca-file", certfile);
    cfgt_parse_ok(&c, NOARGS, NOENV);
    cfgt_expect_field(&c, "email-ca-file", "(null)", "default");
    cfg_free(&c);
    snprintf(missing, sizeof missing, "%s/none.pem", tmpdir);
    cfgt_refused(ARGS("--email-ca-file", missing), NOENV, "--email-ca-file: cannot read");
    ck_assert(strstr(cfgt_err, "No such file or directory"));
    cfgt_refused(ARGS("--email-ca-file", tmpdir), NOENV, "--email-ca-file: cannot read");
    ck_assert(strstr(cfgt_err, "not a regular file"));
    remove_tls_files();
}
END_TEST

/* --------------------------------------------------------------------- */
/* Refusals, setting by setting                                           */

START_TEST(refuse_flags_syntax)
{
    const cfgt_refusal_t refusals[] = {
        {ARGS("--nope"), NOENV, "unknown setting \"--nope\" (see --help)", NULL},
        {ARGS("-x"), NOENV, "unknown setting \"-x\"", NULL},
        {ARGS("--dev", "--dbb=MOCKED"), NOENV, "unknown setting \"--dbb\"", NULL},
        /* a mistyped secret flag's value is not echoed */
        {ARGS("--administration-tokn=hunter2"), NOENV, "\"--administration-tokn\"", "hunter2"},
        {ARGS("--port"), NOENV, "--port: missing value (expected PORT)", NULL},
        {ARGS("-P"), NOENV, "--port: missing value", NULL},
        {ARGS("--debug=yes"), NOENV, "--debug: takes no value", NULL},
        {ARGS("--dev=1"), NOENV, "--dev: takes no value", NULL},
        {ARGS("stray"), NOENV, "unexpected argument in position 1", NULL},
        {ARGS("--", "--port"), NOENV, "unexpected argument in position 2", NULL},
        {ARGS("--port", "1", "-"), NOENV, "unexpected argument in position 3", NULL},
    };
    CFGT_REFUSE_EACH(refusals);
}
END_TEST

START_TEST(refuse_numbers)
{
    /* the exact message the issue asks for */
    cfg_t c;
    ck_assert_int_eq(cfgt_run(&c, ARGS("--port", "abc"), NOENV), CFG_PARSE_ERROR);
    ck_assert_str_eq(cfgt_err, "--port: expected an integer from 1 to 65535, got \"abc\"");
    ck_assert_int_eq(cfgt_run(&c, NOARGS, ENV("PARSEC_PORT=abc")), CFG_PARSE_ERROR);
    ck_assert_str_eq(cfgt_err, "PARSEC_PORT: expected an integer from 1 to 65535, got \"abc\"");

    static const char *const bad_ports[] = {
        "0", "65536", "-1", "+80", " 80", "80 ", "8e3", "0x50", "99999999999999999999999", "1.0"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof *bad_ports; i++) {
        cfgt_refused(ARGS("--port", (char *)bad_ports[i]), NOENV, "--port: expected an integer");
        cfgt_refused(ARGS("--email-port", (char *)bad_ports[i]), NOENV,
                     "--email-port: expected an integer from 1 to 65535");
        cfgt_refused(ARGS("--notifyd-port", (char *)bad_ports[i]), NOENV,
                     "--notifyd-port: expected an integer from 1 to 65535");
    }
    cfgt_parses_to(ARGS("-P", "65535"), NOENV, "port", "65535");
    cfgt_parses_to(ARGS("-P", "1"), NOENV, "port", "1");

    cfgt_refused(ARGS("--db-min-connections", "10"), NOENV,
                 "--db-min-connections: 10 is above --db-max-connections (7)");
    /* A maximum given alone brings the default minimum down with it (what
     * etc/apache2/parsec.conf advises: PARSEC_DB_MAX_CONNECTIONS=2); a
     * minimum given explicitly is never changed. */
    cfgt_parse_ok(&c, NOARGS, ENV("PARSEC_DB_MAX_CONNECTIONS=2"));
    ck_assert_int_eq(c.db_min_connections, 2);
    ck_assert_int_eq(c.db_max_connections, 2);
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("--db-max-connections", "1"), NOENV);
    ck_assert_int_eq(c.db_min_connections, 1);
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("--db-max-connections", "20"), NOENV); /* above: no change */
    ck_assert_int_eq(c.db_min_connections, 5);
    cfg_free(&c);
    cfgt_refused(ARGS("--db-min-connections", "5"), ENV("PARSEC_DB_MAX_CONNECTIONS=2"),
                 "--db-min-connections: 5 is above PARSEC_DB_MAX_CONNECTIONS (2)");
    cfgt_refused(NOARGS, ENV("PARSEC_DB_MIN_CONNECTIONS=3", "PARSEC_DB_MAX_CONNECTIONS=2"),
                 "PARSEC_DB_MIN_CONNECTIONS: 3 is above PARSEC_DB_MAX_CONNECTIONS (2)");
    cfgt_parse_ok(&c, ARGS("--db-min-connections", "7"), NOENV); /* equal is fine */
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("--db-min-connections", "0"), NOENV);
    cfg_free(&c);
    const cfgt_refusal_t refusals[] = {
        {ARGS("--db-max-connections", "0"), NOENV,
         "--db-max-connections: expected an integer from 1 to 1000", NULL},
        {ARGS("--db-min-connections", "x"), NOENV,
         "--db-min-connections: expected an integer from 0 to 1000", NULL},
        {ARGS("--db-max-connections", "1001"), NOENV, "from 1 to 1000", NULL},
        {ARGS("--maximum-database-connection-attempts", "-1"), NOENV,
         "--maximum-database-connection-attempts: expected an integer from 0 to 1000000", NULL},
    };
    CFGT_REFUSE_EACH(refusals);
    static const char *const bad_pauses[] = {"-1", "1e3", "nan",   "inf", "",
                                             ".",  "1,5", "86401", "0x10"};
    for (size_t i = 0; i < sizeof bad_pauses / sizeof *bad_pauses; i++)
        cfgt_refused(ARGS("--pause-before-retry-database-connection", (char *)bad_pauses[i]), NOENV,
                     "--pause-before-retry-database-connection: ");
    cfgt_parse_ok(&c, ARGS("--pause-before-retry-database-connection", ".25"), NOENV);
    ck_assert(c.pause_before_retry_database_connection == 0.25);
    cfg_free(&c);
    cfgt_refused(
        ARGS("--organization-initial-active-users-limit", "-1"), NOENV,
        "--organization-initial-active-users-limit: expected an integer from 0 to 2147483647");
    cfgt_parses_to(ARGS("--organization-initial-active-users-limit", "0"), NOENV,
                   "organization-initial-active-users-limit", "0");
    cfgt_refused(ARGS("--organization-initial-user-profile-outsider-allowed", "maybe"), NOENV,
                 "--organization-initial-user-profile-outsider-allowed: expected a boolean");
    cfgt_parse_ok(&c, NOARGS, ENV("PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED=no"));
    ck_assert(!c.organization_initial_user_profile_outsider_allowed);
    cfg_free(&c);
    const cfgt_refusal_t refusals2[] = {
        {ARGS("--max-request-size", "4095"), NOENV,
         "--max-request-size: expected a number of bytes from 4096 to 67108864", NULL},
        {ARGS("--max-request-size", "67108865"), NOENV, "from 4096 to 67108864", NULL},
        {ARGS("--max-request-size", "1M"), NOENV, "from 4096 to 67108864", NULL},
        {ARGS("--blockstore-timeout", "0"), NOENV,
         "--blockstore-timeout: expected a number of seconds from 0.001 to 3600", NULL},
        {ARGS("--blockstore-timeout", "3601"), NOENV, "from 0.001 to 3600", NULL},
        {ARGS("--blockstore-connect-timeout", "601"), NOENV,
         "--blockstore-connect-timeout: expected a number of seconds from 0.001 to 600", NULL},
        {NOARGS, ENV("PARSEC_BLOCKSTORE_TIMEOUT=1e3"),
         "PARSEC_BLOCKSTORE_TIMEOUT: expected a number of seconds", NULL},
        {NOARGS, ENV("PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK=maybe"),
         "PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK: expected a boolean", NULL},
        {ARGS("--fcgi-listen-backlog", "0"), NOENV,
         "--fcgi-listen-backlog: expected an integer from 1 to 65535", NULL},
        {ARGS("--fcgi-listen-backlog", "65536"), NOENV, "from 1 to 65535", NULL},
        {NOARGS, ENV("PARSEC_FCGI_LISTEN_BACKLOG=-1"),
         "PARSEC_FCGI_LISTEN_BACKLOG: expected an integer from 1 to 65535", NULL},
    };
    CFGT_REFUSE_EACH(refusals2);
    cfgt_parse_ok(&c, ARGS("--max-request-size", "4096"), NOENV);
    ck_assert_uint_eq(c.max_request_size, 4096);
    cfg_free(&c);
}
END_TEST

START_TEST(refuse_db)
{
    const cfgt_refusal_t refusals[] = {
        {ARGS("--db", "mysql://root:hunter2@h/d"), NOENV,
         "--db: expected MOCKED or a postgresql:// URL, got \"mysql://root:***@h/d\"", "hunter2"},
        {NOARGS, ENV("PARSEC_DB=sqlite:///x"), "PARSEC_DB: expected MOCKED or a postgresql://",
         NULL},
        {ARGS("--db", "postgresql"), NOENV, "expected MOCKED", NULL},
    };
    CFGT_REFUSE_EACH(refusals);
    cfgt_parses_to(ARGS("--db", "mocked"), NOENV, "db", "MOCKED");
    cfgt_parses_to(ARGS("--db", "postgres:///parsec"), NOENV, "db", "postgres:///parsec");
}
END_TEST

START_TEST(refuse_email)
{
    cfg_t c;
    cfgt_refused(ARGS("--email-use-ssl", "--email-use-tls"), NOENV,
                 "--email-use-ssl: cannot be combined with --email-use-tls");
    cfgt_refused(NOARGS, ENV("PARSEC_EMAIL_USE_SSL=1", "PARSEC_EMAIL_USE_TLS=yes"),
                 "PARSEC_EMAIL_USE_SSL: cannot be combined with PARSEC_EMAIL_USE_TLS");
    cfgt_parse_ok(&c, ARGS("--email-use-ssl"), ENV("PARSEC_EMAIL_USE_TLS=0"));
    cfg_free(&c);

    cfgt_refused(ARGS("--email-host", "smtp.example.com"), NOENV,
                 "--email-host: needs --email-sender (or PARSEC_EMAIL_SENDER)");
    cfgt_refused(NOARGS, ENV("PARSEC_EMAIL_HOST=smtp.example.com"),
                 "PARSEC_EMAIL_HOST: needs --email-sender");
    cfgt_parses_to(ARGS("--email-host", "smtp.example.com", "--email-sender", "a@example.com"),
                   NOENV, "email-host", "smtp.example.com");
    /* MOCKED gets Parsec's default sender */
    cfgt_parses_to(ARGS("--email-host", "MOCKED"), NOENV, "email-sender", "no-reply@parsec.com");
    cfgt_refused(ARGS("--email-host", "smtp example"), NOENV,
                 "--email-host: expected MOCKED or a host name");

    static const char *const bad_senders[] = {
        "not-an-address", "@example.com", "a@",    "a@b@c", "Name <a@b",
        "Name a@b>",      "<a@b> x",      "a b@c", "<>",    "Na<me <a@b>"};
    for (size_t i = 0; i < sizeof bad_senders / sizeof *bad_senders; i++)
        cfgt_refused(ARGS("--email-sender", (char *)bad_senders[i]), NOENV,
                     "--email-sender: expected an email address or \"Name <address>\"");
    cfgt_refused(ARGS("--email-sender", "a@b.c\r\nBcc: x@y.z"), NOENV,
                 "--email-sender: control characters are not allowed");
    cfgt_parse_ok(&c, ARGS("--email-sender", "<a@b.c>"), NOENV);
    cfg_free(&c);

    cfgt_refused(ARGS("--email-language", "de"), NOENV,
                 "--email-language: expected en or fr, got \"de\"");
    cfgt_refused(NOARGS, ENV("PARSEC_EMAIL_LANGUAGE=english"),
                 "PARSEC_EMAIL_LANGUAGE: expected en");
    cfgt_parses_to(ARGS("--email-language", "FR"), NOENV, "email-language", "fr");

    /* timeouts: 0 would mean no limit to libcurl */
    static const char *const bad_timeouts[] = {"0",  "0.0", "0.09", "600.1", "601",
                                               "-1", "1e3", "abc",  "1,5",   " 1"};
    for (size_t i = 0; i < sizeof bad_timeouts / sizeof *bad_timeouts; i++) {
        cfgt_refused(ARGS("--email-timeout", (char *)bad_timeouts[i]), NOENV,
                     "--email-timeout: expected a number of seconds from 0.1 to 600");
        cfgt_refused(ARGS("--email-connect-timeout", (char *)bad_timeouts[i]), NOENV,
                     "--email-connect-timeout: expected a number of seconds from 0.1 to 600");
    }
    cfgt_parses_to(ARGS("--email-timeout", "600"), NOENV, "email-timeout", "600");
    cfgt_parses_to(ARGS("--email-connect-timeout", ".5"), NOENV, "email-connect-timeout", "0.5");
}
END_TEST

START_TEST(refuse_logs)
{
    cfg_t c;
    const cfgt_refusal_t refusals[] = {
        {ARGS("--log-level", "VERBOSE"), NOENV,
         "--log-level: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got \"VERBOSE\"", NULL},
        {ARGS("-l", "5"), NOENV, "--log-level: expected DEBUG", NULL},
        {NOARGS, ENV("PARSEC_LOG_LEVEL=TRACE"), "PARSEC_LOG_LEVEL: expected DEBUG", NULL},
        {ARGS("--log-format", "XML"), NOENV, "--log-format: expected CONSOLE or JSON", NULL},
        {ARGS("-f"), NOENV, "--log-format: missing value", NULL},
    };
    CFGT_REFUSE_EACH(refusals);
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    static const cfg_log_level values[] = {CFG_LOG_DEBUG, CFG_LOG_INFO, CFG_LOG_WARNING,
                                           CFG_LOG_ERROR, CFG_LOG_CRITICAL};
    for (int i = 0; i < 5; i++) {
        cfgt_parse_ok(&c, ARGS("-l", (char *)levels[i]), NOENV);
        ck_assert_int_eq(c.log_level, values[i]);
        cfg_free(&c);
    }
    cfgt_parse_ok(&c, ARGS("-l", "error", "-f", "console"), NOENV);
    ck_assert_int_eq(c.log_level, CFG_LOG_ERROR);
    ck_assert_int_eq(c.log_format, CFG_LOG_CONSOLE);
    cfg_free(&c);
    /* "-" is stderr, as in Parsec */
    cfgt_parse_ok(&c, ARGS("-o", "-"), NOENV);
    ck_assert_ptr_null(c.log_file);
    cfg_free(&c);
}
END_TEST

START_TEST(refuse_others)
{
    cfg_t c;
    static const char *const bad_addrs[] = {
        "http://x.example.com", "parsec://",       "parsec://:6777",  "parsec://h:0",
        "parsec://h:99999",     "parsec://h:",     "parsec://h/path", "parsec://h?no_ssl=maybe",
        "parsec://h?other=1",   "parsec://h#frag", "parsec://a b"};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof *bad_addrs; i++)
        cfgt_refused(ARGS("--backend-addr", (char *)bad_addrs[i]), NOENV,
                     "--backend-addr: expected parsec://<host>[:<port>][?no_ssl=true]");
    static const char *const good_addrs[] = {"parsec://h", "PARSEC://h:1/", "parsec://[::1]:6777",
                                             "parsec://localhost:6777?no_ssl=true",
                                             "parsec://h?no_ssl=False"};
    for (size_t i = 0; i < sizeof good_addrs / sizeof *good_addrs; i++) {
        cfgt_parse_ok(&c, ARGS("--backend-addr", (char *)good_addrs[i]), NOENV);
        ck_assert_str_eq(c.backend_addr, good_addrs[i]); /* kept as given */
        cfg_free(&c);
    }

    static const char *const bad_fp[] = {"X-Forwarded-Proto", ":https", "X-Forwarded-Proto:",
                                         "X Forwarded:https", "a:b:c",  "X(y):https"};
    for (size_t i = 0; i < sizeof bad_fp / sizeof *bad_fp; i++)
        cfgt_refused(ARGS("--forward-proto-enforce-https", (char *)bad_fp[i]), NOENV,
                     "--forward-proto-enforce-https: expected <header-name>:<header-value>");

    const cfgt_refusal_t refusals[] = {
        {ARGS("--organization-bootstrap-webhook", "ftp://h/x"), NOENV,
         "--organization-bootstrap-webhook: expected an http:// or https:// URL", NULL},
        {ARGS("--organization-bootstrap-webhook", "https://"), NOENV, "expected an http://", NULL},
        {ARGS("--organization-bootstrap-webhook", "https://h:0/x"), NOENV, "expected an http://",
         NULL},
    };
    CFGT_REFUSE_EACH(refusals);
    cfgt_parse_ok(&c, ARGS("--organization-bootstrap-webhook", "http://[::1]:8080/hook?x=1"),
                  NOENV);
    cfg_free(&c);

    const cfgt_refusal_t refusals2[] = {
        {ARGS("--sentry-dsn", "https://o1.ingest.sentry.io/2"), NOENV,
         "--sentry-dsn: expected a Sentry DSN", "o1.ingest"},
        {ARGS("--sentry-dsn", "k3ysecret"), NOENV, "--sentry-dsn: expected", "k3ysecret"},

        {ARGS("--administration-token", "has sp4ce"), NOENV,
         "--administration-token: expected printable ASCII without spaces", "sp4ce"},
        {ARGS("--metrics-token", "has sp4ce"), NOENV,
         "--metrics-token: expected printable ASCII without spaces", "sp4ce"},
        {ARGS("--metrics-dir", "relative/m3trics"), NOENV,
         "--metrics-dir: expected an absolute directory path", NULL},
        {NOARGS, ENV("PARSEC_ADMINISTRATION_TOKEN=caf\xc3\xa9"),
         "PARSEC_ADMINISTRATION_TOKEN: expected printable ASCII", "caf"},
        {ARGS("--email-host-password", "p\tw"), NOENV,
         "--email-host-password: control characters are not allowed", "p\tw"},
    };
    CFGT_REFUSE_EACH(refusals2);

    static const char *const bad_sockets[] = {"nowhere", "h:0", "h:x", "h:", "a b:80"};
    for (size_t i = 0; i < sizeof bad_sockets / sizeof *bad_sockets; i++)
        cfgt_refused(ARGS("--fcgi-socket", (char *)bad_sockets[i]), NOENV,
                     "--fcgi-socket: expected a unix socket path (with a '/') or <host>:<port>");
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    cfgt_refused(ARGS("--fcgi-socket", longpath), NOENV, "unix socket path too long");
    static const char *const good_sockets[] = {":9000", "127.0.0.1:9000", "./fcgi.sock"};
    for (size_t i = 0; i < sizeof good_sockets / sizeof *good_sockets; i++) {
        cfgt_parse_ok(&c, ARGS("--fcgi-socket", (char *)good_sockets[i]), NOENV);
        cfg_free(&c);
    }

    const cfgt_refusal_t refusals3[] = {
        {ARGS("--host", ""), NOENV, "--host: must not be empty", NULL},
        {ARGS("--host", "a/b"), NOENV, "--host: expected a host name or IP address", NULL},
        {ARGS("--notifyd-host", "a b"), NOENV, "--notifyd-host: expected a host name", NULL},
        {ARGS("--sentry-environment=a\nb"), NOENV,
         "--sentry-environment: control characters are not allowed", NULL},
    };
    CFGT_REFUSE_EACH(refusals3);
    char *big = malloc(CFG_VALUE_MAX + 2);
    memset(big, 'h', CFG_VALUE_MAX + 1);
    big[CFG_VALUE_MAX + 1] = '\0';
    cfgt_refused(ARGS("--sentry-environment", big), NOENV,
                 "--sentry-environment: longer than 4096 bytes");
    free(big);
    /* echoed values are escaped and cut */
    cfgt_refused(ARGS("--port", "8\"0\\"), NOENV, "got \"8\\\"0\\\\\"");
    cfgt_refused(ARGS("--p\x01rt"), NOENV, "unknown setting \"--p\\x01rt\"");
    char *long_level = malloc(300);
    memset(long_level, 'L', 299);
    long_level[299] = '\0';
    cfgt_refused(ARGS("--log-level", long_level), NOENV, "LLLL...\"");
    free(long_level);
    cfgt_refused(NOARGS, ENV("PARSEC_DEBUG=maybe"),
                 "PARSEC_DEBUG: expected a boolean (1, true, yes, on or 0, false, no, off), got "
                 "\"maybe\"");
}
END_TEST

/* --------------------------------------------------------------------- */
/* cfg_require                                                            */

START_TEST(require)
{
    cfg_t c;
    char e[256];
    cfgt_parse_ok(&c, NOARGS, NOENV);
    ck_assert(!cfg_require(&c, "db", e, sizeof e));
    ck_assert_str_eq(e, "--db is required (or PARSEC_DB)");
    ck_assert(!cfg_require(&c, "blockstore", e, sizeof e));
    ck_assert_str_eq(e, "--blockstore is required (or PARSEC_BLOCKSTORE)");
    ck_assert(cfg_require(&c, "port", e, sizeof e)); /* has a default */
    ck_assert(!cfg_require(&c, "no-such-setting", e, sizeof e));
    ck_assert(!cfg_require_run(&c, e, sizeof e));
    ck_assert_str_eq(e, "--db is required (or PARSEC_DB)");
    cfg_free(&c);

    cfgt_parse_ok(&c, ARGS("--db", "MOCKED", "-b", "MOCKED", "--administration-token", "t"), NOENV);
    ck_assert(cfg_require(&c, "db", e, sizeof e));
    ck_assert(cfg_require(&c, "blockstore", e, sizeof e));
    ck_assert(!cfg_require_run(&c, e, sizeof e));
    ck_assert_str_eq(e, "--backend-addr is required (or PARSEC_BACKEND_ADDR)");
    cfg_free(&c);

    cfgt_parse_ok(&c, ARGS("--dev"), NOENV);
    ck_assert(cfg_require_run(&c, e, sizeof e));
    cfg_free(&c);

    /* every setting that may be unset: refused when unset, fine when given */
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *st = &settings[i];
        if (strcmp(st->deflt, "(null)") != 0 && strcmp(st->deflt, "(none)") != 0)
            continue;
        char env[512], want[256];
        cfgt_parse_ok(&c, NOARGS, NOENV);
        ck_assert_msg(!cfg_require(&c, st->name, e, sizeof e), "%s unset passes", st->name);
        snprintf(want, sizeof want, "--%s is required (or %s)", st->name, st->env);
        ck_assert_str_eq(e, want);
        cfg_free(&c);
        snprintf(env, sizeof env, "%s=%s", st->env, st->value);
        cfgt_parse_ok(&c, NOARGS, ENV(env));
        ck_assert_msg(cfg_require(&c, st->name, e, sizeof e), "%s given fails", st->name);
        cfg_free(&c);
    }
    make_tls_files();
    char k[200], ce[200];
    snprintf(k, sizeof k, "PARSEC_SSL_KEYFILE=%s", keyfile);
    snprintf(ce, sizeof ce, "PARSEC_SSL_CERTFILE=%s", certfile);
    cfgt_parse_ok(&c, NOARGS, ENV(k, ce));
    ck_assert(cfg_require(&c, "ssl-keyfile", e, sizeof e));
    ck_assert(cfg_require(&c, "ssl-certfile", e, sizeof e));
    cfg_free(&c);
    remove_tls_files();
    cfgt_parse_ok(&c, NOARGS, NOENV);
    ck_assert(!cfg_require(&c, "ssl-certfile", e, sizeof e));
    cfg_free(&c);
}
END_TEST

/* --------------------------------------------------------------------- */
/* Secrets                                                                */

START_TEST(redact_url)
{
    static const char *const cases[][2] = {
        {"postgresql://user:pw@host/db", "postgresql://user:***@host/db"},
        {"postgresql://user@host:5432/db", "postgresql://user@host:5432/db"},
        {"postgresql://host/db", "postgresql://host/db"},
        {"postgres:///parsec", "postgres:///parsec"},
        {"postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"},
        {"postgresql://u:pa/ss@host/db", "postgresql://u:***@host/db"},
        {"postgresql://u:pw@h/db?password=pw2&sslmode=require&sslpassword=pw3",
         "postgresql://u:***@h/db?password=***&sslmode=require&sslpassword=***"},
        {"postgresql://h/db?PassWord=pw#frag", "postgresql://h/db?PassWord=***#frag"},
        {"postgresql://h/db?user=a&password", "postgresql://h/db?user=a&password"},
        {"https://user:secret@hooks.example.com/x?token=t",
         "https://user:***@hooks.example.com/x?token=t"},
        {"MOCKED", "MOCKED"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *r = cfg_redact_url(cases[i][0]);
        ck_assert_msg(strcmp(r, cases[i][1]) == 0, "%s -> %s, want %s", cases[i][0], r,
                      cases[i][1]);
        free(r);
    }
    ck_assert_ptr_null(cfg_redact_url(NULL));
}
END_TEST

/* expect_all_in - every want[0..n) occurs in text. */
static void expect_all_in(const char *text, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(text, want[i]), "no \"%s\" in:\n%s", want[i], text);
}

#define EXPECT_ALL_IN(text, ...)                                                                   \
    expect_all_in(text, (const char *const[]){__VA_ARGS__},                                        \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static char *describe(const cfg_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_describe(c, f);
    fclose(f);
    return text;
}

START_TEST(describe_redacts_every_secret)
{
    cfg_t c;
    static const char *const secrets[] = {"ADMINTOKEN", "MAILPASS",  "S3SECRET",
                                          "SWIFTPASS",  "DBPASS",    "DBQUERYPW",
                                          "HOOKPASS",   "SENTRYKEY", "METRICSTOKEN"};
    cfgt_parse_ok(&c,
                  ARGS("--administration-token", "ADMINTOKEN", "--email-host-password", "MAILPASS",
                       "-b", "RAID1:0:s3:http\\://minio\\:9000:eu:bucket:S3KEYID:S3SECRET", "-b",
                       "RAID1:1:swift:auth:tenant:container:swiftuser:SWIFTPASS", "--db",
                       "postgresql://parsec:DBPASS@db/parsec?password=DBQUERYPW",
                       "--organization-bootstrap-webhook",
                       "https://hook:HOOKPASS@hooks.example.com/", "--sentry-dsn",
                       "https://SENTRYKEY@o1.ingest.sentry.io/2", "--metrics-token",
                       "METRICSTOKEN"),
                  NOENV);
    char *text = describe(&c);
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        ck_assert_msg(!strstr(text, secrets[i]), "describe leaks %s:\n%s", secrets[i], text);
    EXPECT_ALL_IN(text, "administration-token=***\n", "email-host-password=***\n",
                  "metrics-token=***\n", "db=postgresql://parsec:***@db/parsec?password=***\n");
    ck_assert(strstr(text, "blockstore=RAID1:0:s3:http\\://minio\\:9000:eu:bucket:S3KEYID:*** "
                           "RAID1:1:swift:https\\://auth:tenant:container:swiftuser:***\n"));
    ck_assert(strstr(text, "organization-bootstrap-webhook=https://hook:***@hooks.example.com/\n"));
    ck_assert(strstr(text, "sentry-dsn=https://***@o1.ingest.sentry.io/2\n"));
    free(text);
    cfg_free(&c);

    /* errors name no secret either (blockstore, token: see the refusals) */
    cfgt_refused_quietly(ARGS("--db", "redis://u:DBPASS@h"), NOENV, "--db", "DBPASS");
}
END_TEST

START_TEST(describe_every_setting)
{
    cfg_t c;
    cfgt_parse_ok(&c, NOARGS, NOENV);
    char *text = describe(&c);
    for (size_t i = 0; i < NSETTINGS; i++) {
        char want[128];
        snprintf(want, sizeof want, "\n%s=", settings[i].name);
        ck_assert_msg(strstr(text, want) || strncmp(text, want + 1, strlen(want + 1)) == 0,
                      "describe lacks %s", settings[i].name);
    }
    EXPECT_ALL_IN(
        text, "host=127.0.0.1\n", "\nport=6777\n", "\ndb=(unset)\n", "\nblockstore=(unset)\n",
        "\nadministration-token=(unset)\n", "\nlog-level=WARNING\n", "\nlog-file=stderr\n",
        "\norganization-initial-active-users-limit=no limit\n",
        "\npause-before-retry-database-connection=1\n", "\ndev=false\n", "\nssl-keyfile=(unset)\n");
    free(text);
    cfg_free(&c);

    cfgt_parse_ok(&c,
                  ARGS("--dev", "-l", "INFO", "-f", "JSON", "--forward-proto-enforce-https",
                       "X-Forwarded-Proto:https", "--organization-initial-active-users-limit", "4"),
                  NOENV);
    text = describe(&c);
    ck_assert(!strstr(text, "s3cr3t"));
    EXPECT_ALL_IN(text, "\ndev=true\n", "\ndebug=true\n", "\nadministration-token=***\n",
                  "\nblockstore=MOCKED\n", "\nlog-level=INFO\n", "\nlog-format=JSON\n",
                  "\nforward-proto-enforce-https=x-forwarded-proto:https\n",
                  "\norganization-initial-active-users-limit=4\n",
                  "\nbackend-addr=parsec://localhost:6777?no_ssl=true\n");
    free(text);
    cfg_free(&c);
}
END_TEST

TEST_SUITE(cfg)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("settings");
    tcase_add_test(tc, defaults);
    tcase_add_loop_test(tc, every_setting_every_source, 0, (int)NSETTINGS);
    tcase_add_test(tc, usage_lists_everything);
    tcase_add_test(tc, help_and_version_exit);
    tcase_add_test(tc, dev_expansion);
    tcase_add_test(tc, tls_files);
    tcase_add_test(tc, refuse_flags_syntax);
    tcase_add_test(tc, refuse_numbers);
    tcase_add_test(tc, refuse_db);
    tcase_add_test(tc, refuse_email);
    tcase_add_test(tc, email_ca_file);
    tcase_add_test(tc, refuse_logs);
    tcase_add_test(tc, refuse_others);
    tcase_add_test(tc, require);
    tcase_add_test(tc, redact_url);
    tcase_add_test(tc, describe_redacts_every_secret);
    tcase_add_test(tc, describe_every_setting);
    suite_add_tcase(s, tc);
    return s;
}
