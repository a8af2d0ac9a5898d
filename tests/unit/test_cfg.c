/*
 * tests/unit/test_cfg.c - the configuration parser (common/cfg.c)
 *
 * Every setting through each of its sources, precedence, PARSEC_CMD_ARGS
 * splitting and expansion, --dev, blockstore forms, every refusal, and that
 * no secret reaches an error message or cfg_describe().  Environments are
 * passed as arrays; the process environment is never touched.
 */
#include "cfg.h"
#include "testreg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})
#define ENV(...)  ((char *[]){__VA_ARGS__, NULL})
#define NOARGS    ((char *[]){NULL})
#define NOENV     ((char *[]){NULL})

static char err[512];

static int count(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static cfg_parse_result run(cfg_t *c, char **argv, char **envp)
{
    memset(err, 'X', sizeof err - 1); /* a message must overwrite this */
    err[sizeof err - 1] = '\0';
    return cfg_parse(c, count(argv), argv, envp, err, sizeof err, NULL, NULL);
}

/* parse_ok - parse and insist on success; caller cfg_free()s. */
static void parse_ok(cfg_t *c, char **argv, char **envp)
{
    cfg_parse_result r = run(c, argv, envp);
    ck_assert_msg(r == CFG_PARSE_OK, "refused: %s", err);
}

/* refused - parse must fail with one line containing needle (the binaries
 * print it after their own name, ""). */
static void refused(char **argv, char **envp, const char *needle)
{
    cfg_t c;
    cfg_parse_result r = run(&c, argv, envp);
    ck_assert_msg(r == CFG_PARSE_ERROR, "accepted; expected a refusal with \"%s\"", needle);
    ck_assert_int_eq(r, 2); /* the exit status the binaries use */
    ck_assert_msg(strncmp(err, "parsec", 6) != 0, "program name in message: %s", err);
    ck_assert_msg(strstr(err, needle), "message \"%s\" lacks \"%s\"", err, needle);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_ptr_null(c.host); /* left freed */
}

/* refused_quietly - refused, and the message does not contain secret. */
static void refused_quietly(char **argv, char **envp, const char *needle, const char *secret)
{
    refused(argv, envp, needle);
    ck_assert_msg(!strstr(err, secret), "message leaks \"%s\": %s", secret, err);
}

static const char *kind_name(cfg_blockstore_kind k)
{
    switch (k) {
    case CFG_BS_MOCKED:
        return "MOCKED";
    case CFG_BS_POSTGRESQL:
        return "POSTGRESQL";
    case CFG_BS_S3:
        return "S3";
    case CFG_BS_SWIFT:
        return "SWIFT";
    default:
        return "NONE";
    }
}

/* field - a setting read straight from the struct, as text (independent of
 * cfg_describe, which is tested against it). */
static const char *field(const cfg_t *c, const char *name, char *buf, size_t n)
{
#define S(nm, expr)                                                                                \
    if (!strcmp(name, nm)) {                                                                       \
        snprintf(buf, n, "%s", (expr) ? (expr) : "(null)");                                        \
        return buf;                                                                                \
    }
#define I(nm, expr)                                                                                \
    if (!strcmp(name, nm)) {                                                                       \
        snprintf(buf, n, "%ld", (long)(expr));                                                     \
        return buf;                                                                                \
    }
    S("host", c->host);
    I("port", c->port);
    S("db", c->db);
    I("db-min-connections", c->db_min_connections);
    I("db-max-connections", c->db_max_connections);
    I("maximum-database-connection-attempts", c->maximum_database_connection_attempts);
    if (!strcmp(name, "pause-before-retry-database-connection")) {
        snprintf(buf, n, "%g", c->pause_before_retry_database_connection);
        return buf;
    }
    if (!strcmp(name, "blockstore")) {
        buf[0] = '\0';
        if (c->blockstore.n_nodes == 0)
            snprintf(buf, n, "(none)");
        for (size_t i = 0; i < c->blockstore.n_nodes; i++)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? "," : "",
                     kind_name(c->blockstore.nodes[i].kind));
        return buf;
    }
    S("administration-token", c->administration_token);
    S("ssl-keyfile", c->ssl_keyfile);
    S("ssl-certfile", c->ssl_certfile);
    if (!strcmp(name, "forward-proto-enforce-https")) {
        if (c->forward_proto_header)
            snprintf(buf, n, "%s:%s", c->forward_proto_header, c->forward_proto_value);
        else
            snprintf(buf, n, "(null)");
        return buf;
    }
    I("log-level", c->log_level);
    S("log-format", c->log_format == CFG_LOG_JSON ? "json" : "console");
    S("log-file", c->log_file);
    S("backend-addr", c->backend_addr);
    S("email-host", c->email_host);
    I("email-port", c->email_port);
    S("email-host-user", c->email_host_user);
    S("email-host-password", c->email_host_password);
    I("email-use-ssl", c->email_use_ssl);
    I("email-use-tls", c->email_use_tls);
    S("email-language", c->email_language);
    S("email-sender", c->email_sender);
    I("spontaneous-organization-bootstrap", c->spontaneous_organization_bootstrap);
    S("organization-bootstrap-webhook", c->organization_bootstrap_webhook);
    I("organization-initial-active-users-limit", c->organization_initial_active_users_limit);
    I("organization-initial-user-profile-outsider-allowed",
      c->organization_initial_user_profile_outsider_allowed);
    S("sentry-dsn", c->sentry_dsn);
    S("sentry-environment", c->sentry_environment);
    I("debug", c->debug);
    I("dev", c->dev);
    S("fcgi-socket", c->fcgi_socket);
    I("max-request-size", c->max_request_size);
    S("notifyd-host", c->notifyd_host);
    I("notifyd-port", c->notifyd_port);
    I("dry-run", c->dry_run);
#undef S
#undef I
    ck_abort_msg("test knows no field %s", name);
    return NULL;
}

/*
 * One row per setting: long name, short flag, variable, a value to give
 * (NULL: a flag), what field() then shows, what field() shows by default,
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
    {"max-request-size", 0, "PARSEC_MAX_REQUEST_SIZE", "2097152", "2097152", "1048576", "1048576"},
    {"notifyd-host", 0, "PARSEC_NOTIFYD_HOST", "0.0.0.0", "0.0.0.0", "127.0.0.1", "127.0.0.1"},
    {"notifyd-port", 0, "PARSEC_NOTIFYD_PORT", "7000", "7000", "6778", "6778"},
    /* no variable, as in Parsec */
    {"dry-run", 0, NULL, NULL, "1", "0", "false"},
    /* tested on their own below: dev (it fills others), ssl-keyfile and
     * ssl-certfile (they need real files and each other) */
};
#define NSETTINGS (sizeof settings / sizeof *settings)

static void expect_field(const cfg_t *c, const char *name, const char *want, const char *how)
{
    char buf[512];
    ck_assert_msg(strcmp(field(c, name, buf, sizeof buf), want) == 0, "%s via %s: got %s, want %s",
                  name, how, buf, want);
}

/* --------------------------------------------------------------------- */

START_TEST(defaults)
{
    cfg_t c;
    parse_ok(&c, NOARGS, NOENV);
    ck_assert_str_eq(err, ""); /* err is cleared on success */
    for (size_t i = 0; i < NSETTINGS; i++)
        expect_field(&c, settings[i].name, settings[i].deflt, "default");
    expect_field(&c, "ssl-keyfile", "(null)", "default");
    expect_field(&c, "ssl-certfile", "(null)", "default");
    expect_field(&c, "dev", "0", "default");
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
    cfg_t c;
    snprintf(flag, sizeof flag, "--%s", s->name);

    if (s->value) {
        parse_ok(&c, ARGS(flag, (char *)s->value), NOENV);
        expect_field(&c, s->name, s->expect, "--name VALUE");
        cfg_free(&c);

        snprintf(eq, sizeof eq, "--%s=%s", s->name, s->value);
        parse_ok(&c, ARGS(eq), NOENV);
        expect_field(&c, s->name, s->expect, "--name=VALUE");
        cfg_free(&c);

        if (s->shortopt) {
            snprintf(shortf, sizeof shortf, "-%c", s->shortopt);
            parse_ok(&c, ARGS(shortf, (char *)s->value), NOENV);
            expect_field(&c, s->name, s->expect, "-X VALUE");
            cfg_free(&c);
            snprintf(attached, sizeof attached, "-%c%s", s->shortopt, s->value);
            parse_ok(&c, ARGS(attached), NOENV);
            expect_field(&c, s->name, s->expect, "-XVALUE");
            cfg_free(&c);
        }
        snprintf(envs, sizeof envs, "%s=%s", s->env, s->value);
        parse_ok(&c, NOARGS, ENV(envs));
        expect_field(&c, s->name, s->expect, s->env);
        cfg_free(&c);

        snprintf(cmd, sizeof cmd, "PARSEC_CMD_ARGS=--%s '%s'", s->name, s->value);
        parse_ok(&c, NOARGS, ENV(cmd));
        expect_field(&c, s->name, s->expect, "PARSEC_CMD_ARGS");
        cfg_free(&c);
        return;
    }

    /* a flag */
    parse_ok(&c, ARGS(flag), NOENV);
    expect_field(&c, s->name, "1", "--flag");
    cfg_free(&c);
    snprintf(cmd, sizeof cmd, "PARSEC_CMD_ARGS=%s", flag);
    parse_ok(&c, NOARGS, ENV(cmd));
    expect_field(&c, s->name, "1", "PARSEC_CMD_ARGS");
    cfg_free(&c);
    if (!s->env)
        return;
    static const char *const truthy[] = {"1", "true", "TRUE", "t", "yes", "Y", "on", " On "};
    static const char *const falsy[] = {"0", "false", "False", "f", "no", "N", "off"};
    for (size_t k = 0; k < sizeof truthy / sizeof *truthy; k++) {
        snprintf(envs, sizeof envs, "%s=%s", s->env, truthy[k]);
        parse_ok(&c, NOARGS, ENV(envs));
        expect_field(&c, s->name, "1", envs);
        cfg_free(&c);
    }
    for (size_t k = 0; k < sizeof falsy / sizeof *falsy; k++) {
        snprintf(envs, sizeof envs, "%s=%s", s->env, falsy[k]);
        parse_ok(&c, NOARGS, ENV(envs));
        expect_field(&c, s->name, "0", envs);
        cfg_free(&c);
    }
    snprintf(envs, sizeof envs, "%s=maybe", s->env);
    char want[256];
    snprintf(want, sizeof want, "%s: expected a boolean", s->env);
    refused(NOARGS, ENV(envs), want);
    /* a flag takes no value */
    snprintf(eq, sizeof eq, "--%s=1", s->name);
    refused(ARGS(eq), NOENV, "takes no value");
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
    *r = run(&c, argv, envp);
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
    ck_assert(strncmp(out, "parsec ", 7) == 0);
    free(out);
    out = capture_stdout(NOARGS, ENV("PARSEC_CMD_ARGS=--help"), &r);
    ck_assert_int_eq(r, CFG_PARSE_EXIT);
    free(out);
}
END_TEST

/* --------------------------------------------------------------------- */
/* Precedence                                                             */

START_TEST(precedence)
{
    cfg_t c;
    /* flag > PARSEC_CMD_ARGS > variable > default */
    parse_ok(&c, ARGS("--port", "1000"), ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--port=3000"));
    ck_assert_int_eq(c.port, 1000);
    cfg_free(&c);
    parse_ok(&c, NOARGS, ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--port=3000"));
    ck_assert_int_eq(c.port, 3000);
    cfg_free(&c);
    parse_ok(&c, NOARGS, ENV("PARSEC_PORT=2000"));
    ck_assert_int_eq(c.port, 2000);
    cfg_free(&c);
    parse_ok(&c, ARGS("-P", "1000"), ENV("PARSEC_PORT=2000"));
    ck_assert_int_eq(c.port, 1000);
    cfg_free(&c);
    /* an empty variable is unset */
    parse_ok(&c, NOARGS, ENV("PARSEC_PORT=", "PARSEC_CMD_ARGS="));
    ck_assert_int_eq(c.port, 6777);
    cfg_free(&c);
    /* the last of repeated flags wins */
    parse_ok(&c, ARGS("--port", "1", "--port=2", "-P3"), NOENV);
    ck_assert_int_eq(c.port, 3);
    cfg_free(&c);
    /* an overridden value is not even read */
    parse_ok(&c, ARGS("--port", "1000"), ENV("PARSEC_PORT=abc", "PARSEC_CMD_ARGS=--port=x"));
    ck_assert_int_eq(c.port, 1000);
    cfg_free(&c);
    /* a flag beats a false variable */
    parse_ok(&c, ARGS("--debug"), ENV("PARSEC_DEBUG=0"));
    ck_assert(c.debug);
    cfg_free(&c);
    /* per setting: sources mix */
    parse_ok(&c, ARGS("--host", "10.0.0.1"),
             ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--log-level INFO", "PARSEC_HOST=10.0.0.2"));
    ck_assert_str_eq(c.host, "10.0.0.1");
    ck_assert_int_eq(c.port, 2000);
    ck_assert_int_eq(c.log_level, CFG_LOG_INFO);
    cfg_free(&c);
    /* the first of duplicated environment entries counts, like getenv */
    parse_ok(&c, NOARGS, ENV("PARSEC_PORT=2000", "PARSEC_PORT=2001"));
    ck_assert_int_eq(c.port, 2000);
    cfg_free(&c);
}
END_TEST

START_TEST(blockstore_precedence_takes_whole_lists)
{
    cfg_t c;
    char *env = "PARSEC_BLOCKSTORE=RAID1:0:MOCKED  RAID1:1:POSTGRESQL";
    parse_ok(&c, NOARGS, ENV(env));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID1);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);
    /* -b replaces the variable's list rather than adding to it */
    parse_ok(&c, ARGS("-b", "MOCKED"), ENV(env));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID_NONE);
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    cfg_free(&c);
    parse_ok(&c, NOARGS, ENV(env, "PARSEC_CMD_ARGS=-b RAID0:0:MOCKED -bRAID0:1:MOCKED"));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    cfg_free(&c);
    parse_ok(&c, ARGS("--blockstore=POSTGRESQL"), ENV("PARSEC_CMD_ARGS=-b MOCKED"));
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);
}
END_TEST

/* --------------------------------------------------------------------- */
/* PARSEC_CMD_ARGS                                                        */

START_TEST(cmd_args_guide_example)
{
    cfg_t c;
    parse_ok(&c, NOARGS,
             ENV("DB_URL=postgres:///parsec", "PARSEC_CMD_ARGS=--db=$DB_URL --host=0.0.0.0"));
    ck_assert_str_eq(c.db, "postgres:///parsec");
    ck_assert_str_eq(c.host, "0.0.0.0");
    cfg_free(&c);
}
END_TEST

START_TEST(cmd_args_expansion_and_quotes)
{
    cfg_t c;
    /* ${VAR}, several words, tabs and newlines as separators */
    parse_ok(&c, NOARGS,
             ENV("P=7001", "H=example.org",
                 "PARSEC_CMD_ARGS=\t--port ${P}\n --sentry-environment=pre-$H-post "));
    ck_assert_int_eq(c.port, 7001);
    ck_assert_str_eq(c.sentry_environment, "pre-example.org-post");
    cfg_free(&c);
    /* unknown variables and lone dollars stay as written */
    parse_ok(&c, NOARGS, ENV("PARSEC_CMD_ARGS=--sentry-environment=$NOPE${NOPE}$-x$"));
    ck_assert_str_eq(c.sentry_environment, "$NOPE${NOPE}$-x$");
    cfg_free(&c);
    /* a value with spaces stays one word, and is not re-scanned */
    parse_ok(&c, NOARGS, ENV("E=a b 'c' $X", "X=no", "PARSEC_CMD_ARGS=--sentry-environment=$E"));
    ck_assert_str_eq(c.sentry_environment, "a b 'c' $X");
    cfg_free(&c);
    /* single quotes: literal; double quotes: spaces kept, variables expanded */
    parse_ok(
        &c, NOARGS,
        ENV("X=1", "ADDR=team@example.com",
            "PARSEC_CMD_ARGS=--sentry-environment='$X \"y\"' "
            "--email-sender=\"Parsec Team <$ADDR>\" --email-host-user=\"a\\\"b\\\\c\\$d\\e\""));
    ck_assert_str_eq(c.sentry_environment, "$X \"y\"");
    ck_assert_str_eq(c.email_sender, "Parsec Team <team@example.com>");
    ck_assert_str_eq(c.email_host_user, "a\"b\\c$d\\e");
    cfg_free(&c);
    /* backslash outside quotes: escapes space, quotes, $ ... */
    parse_ok(&c, NOARGS, ENV("X=1", "PARSEC_CMD_ARGS=--sentry-environment=a\\ b\\'\\\"\\$X"));
    ck_assert_str_eq(c.sentry_environment, "a b'\"$X");
    cfg_free(&c);
    /* ... and keeps every other backslash, so Parsec's blockstore escapes work */
    parse_ok(&c, NOARGS,
             ENV("PARSEC_CMD_ARGS=-b s3:http\\://minio\\:9000:eu:bucket:key:se\\\\cr\\et"));
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_endpoint, "http://minio:9000");
    ck_assert_str_eq(c.blockstore.nodes[0].s3_secret, "se\\cr\\et");
    cfg_free(&c);
    /* an empty quoted word is a value */
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--host ''"), "PARSEC_CMD_ARGS: --host: must not be empty");
}
END_TEST

START_TEST(cmd_args_refusals)
{
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--host 'oops"), "PARSEC_CMD_ARGS: unterminated ' quote");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--host \"oops"), "PARSEC_CMD_ARGS: unterminated \" quote");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--nope"), "PARSEC_CMD_ARGS: unknown setting \"--nope\"");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--port"), "PARSEC_CMD_ARGS: --port: missing value");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--port=abc"),
            "PARSEC_CMD_ARGS: --port: expected an integer from 1 to 65535, got \"abc\"");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=--port 1 stray"),
            "PARSEC_CMD_ARGS: unexpected argument in position 3");
    /* positionals are refused there even when the command takes some */
    char **pos;
    int npos;
    cfg_t c;
    ck_assert_int_eq(
        cfg_parse(&c, 0, NOARGS, ENV("PARSEC_CMD_ARGS=Org"), err, sizeof err, &pos, &npos),
        CFG_PARSE_ERROR);
    ck_assert_ptr_null(pos);

    /* bounds */
    size_t n = CFG_CMD_ARGS_MAX + 100;
    char *big = malloc(n + 1);
    memcpy(big, "PARSEC_CMD_ARGS=", 16);
    memset(big + 16, 'a', n - 16);
    big[n] = '\0';
    refused(NOARGS, ENV(big), "PARSEC_CMD_ARGS: longer than");
    /* a variable multiplies a short text past the bound */
    char *val = malloc(CFG_CMD_ARGS_MAX / 2 + 8);
    memcpy(val, "V=", 2);
    memset(val + 2, 'v', CFG_CMD_ARGS_MAX / 2);
    val[CFG_CMD_ARGS_MAX / 2 + 2] = '\0';
    refused(NOARGS, ENV(val, "PARSEC_CMD_ARGS=--host=$V$V$V"), "once expanded");
    /* too many words */
    char *many = malloc(16 + 3 * (CFG_CMD_ARGS_WORDS + 1) + 1);
    strcpy(many, "PARSEC_CMD_ARGS=");
    for (int i = 0; i <= CFG_CMD_ARGS_WORDS; i++)
        strcat(many, "-- ");
    refused(NOARGS, ENV(many), "more than 1024 words");
    free(big);
    free(val);
    free(many);
}
END_TEST

/* --------------------------------------------------------------------- */
/* --dev                                                                  */

START_TEST(dev_expansion)
{
    cfg_t c;
    parse_ok(&c, ARGS("--dev"), NOENV);
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

    parse_ok(&c, ARGS("--dev", "--port", "7000"), NOENV);
    ck_assert_str_eq(c.backend_addr, "parsec://localhost:7000?no_ssl=true");
    cfg_free(&c);
    parse_ok(&c, NOARGS, ENV("PARSEC_CMD_ARGS=--dev", "PARSEC_PORT=7001"));
    ck_assert(c.dev);
    ck_assert_str_eq(c.backend_addr, "parsec://localhost:7001?no_ssl=true");
    cfg_free(&c);

    /* only fills what no source gave */
    parse_ok(&c,
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
    parse_ok(&c, ARGS("--debug"), NOENV);
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
    parse_ok(&c, ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", certfile), NOENV);
    ck_assert_str_eq(c.ssl_keyfile, keyfile);
    ck_assert_str_eq(c.ssl_certfile, certfile);
    cfg_free(&c);
    snprintf(kenv, sizeof kenv, "PARSEC_SSL_KEYFILE=%s", keyfile);
    snprintf(cenv, sizeof cenv, "PARSEC_SSL_CERTFILE=%s", certfile);
    parse_ok(&c, NOARGS, ENV(kenv, cenv));
    ck_assert_str_eq(c.ssl_keyfile, keyfile);
    ck_assert_str_eq(c.ssl_certfile, certfile);
    cfg_free(&c);
    /* --dev with TLS: no no_ssl marker */
    parse_ok(&c, ARGS("--dev", "-P", "9000"), ENV(kenv, cenv));
    ck_assert_str_eq(c.backend_addr, "parsec://localhost:9000");
    cfg_free(&c);

    /* refusals: one alone, missing file, a directory */
    refused(ARGS("--ssl-keyfile", keyfile), NOENV,
            "--ssl-keyfile: needs --ssl-certfile (or PARSEC_SSL_CERTFILE) as well");
    refused(NOARGS, ENV(cenv), "PARSEC_SSL_CERTFILE: needs --ssl-keyfile");
    snprintf(missing, sizeof missing, "%s/none.pem", tmpdir);
    refused(ARGS("--ssl-keyfile", missing, "--ssl-certfile", certfile), NOENV,
            "--ssl-keyfile: cannot read");
    refused(ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", tmpdir), NOENV,
            "--ssl-certfile: cannot read");
    ck_assert(strstr(err, "not a regular file"));
    refused(ARGS("--ssl-keyfile", keyfile, "--ssl-certfile", missing), NOENV,
            "No such file or directory");
    remove_tls_files();
}
END_TEST

/* --------------------------------------------------------------------- */
/* Blockstore forms                                                       */

START_TEST(blockstore_plain_forms)
{
    cfg_t c;
    parse_ok(&c, ARGS("-b", "mocked"), NOENV);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    cfg_free(&c);
    parse_ok(&c, ARGS("-bpostgresql"), NOENV);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);

    /* S3, empty endpoint: AWS's default */
    parse_ok(&c, ARGS("-b", "s3::us-east-1:bucket:AKIAKEY:s3cret"), NOENV);
    cfg_blockstore_node *n = &c.blockstore.nodes[0];
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID_NONE);
    ck_assert_int_eq(n->kind, CFG_BS_S3);
    ck_assert_ptr_null(n->s3_endpoint);
    ck_assert_str_eq(n->s3_region, "us-east-1");
    ck_assert_str_eq(n->s3_bucket, "bucket");
    ck_assert_str_eq(n->s3_key, "AKIAKEY");
    ck_assert_str_eq(n->s3_secret, "s3cret");
    cfg_free(&c);

    /* no scheme: https */
    parse_ok(&c, ARGS("-b", "S3:s3.example.com:eu:b:k:s"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_endpoint, "https://s3.example.com");
    cfg_free(&c);

    /* the guide's escaping (the shell's s3:http\\://... reaches us with one backslash) */
    parse_ok(&c, ARGS("-b", "s3:http\\://localhost\\:9000:us-east-1:b:k:s"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_endpoint, "http://localhost:9000");
    ck_assert_str_eq(c.blockstore.nodes[0].s3_region, "us-east-1");
    cfg_free(&c);
    parse_ok(&c, ARGS("-b", "s3:https\\://h:r:b:k:s"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_endpoint, "https://h");
    cfg_free(&c);

    /* escapes inside fields: \: is ':', \\ is '\', any other backslash stays */
    parse_ok(&c, ARGS("-b", "s3::r:b:k\\:1:se\\\\c\\x\\"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_key, "k:1");
    ck_assert_str_eq(c.blockstore.nodes[0].s3_secret, "se\\c\\x\\");
    ck_assert_str_eq(c.blockstore.nodes[0].s3_region, "r");
    cfg_free(&c);
    /* an empty region is allowed (the client's default) */
    parse_ok(&c, ARGS("-b", "s3:::b:k:s"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_region, "");
    cfg_free(&c);

    /* Swift */
    parse_ok(&c, ARGS("-b", "swift:auth.example.com/v2.0:tenant:container:user:pa55"), NOENV);
    n = &c.blockstore.nodes[0];
    ck_assert_int_eq(n->kind, CFG_BS_SWIFT);
    ck_assert_str_eq(n->swift_auth_url, "https://auth.example.com/v2.0");
    ck_assert_str_eq(n->swift_tenant, "tenant");
    ck_assert_str_eq(n->swift_container, "container");
    ck_assert_str_eq(n->swift_user, "user");
    ck_assert_str_eq(n->swift_password, "pa55");
    cfg_free(&c);
    parse_ok(&c, ARGS("-b", "SWIFT:http\\://keystone\\:5000/v3:t:c:u:p"), NOENV);
    ck_assert_str_eq(c.blockstore.nodes[0].swift_auth_url, "http://keystone:5000/v3");
    cfg_free(&c);
}
END_TEST

START_TEST(blockstore_raid_forms)
{
    cfg_t c;
    parse_ok(&c, ARGS("-b", "RAID0:0:MOCKED"), NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    cfg_free(&c);

    /* the guide's example */
    parse_ok(&c, ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID0:1:POSTGRESQL"), NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);

    /* RAID1 of S3 nodes, given out of order: ordered by index */
    parse_ok(&c,
             ARGS("-b", "RAID1:1:s3:http\\://b.example\\:9000:r:bucket1:k1:s1", "--blockstore",
                  "raid1:0:s3::r:bucket0:k0:s0"),
             NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID1);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    ck_assert_ptr_null(c.blockstore.nodes[0].s3_endpoint);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_bucket, "bucket0");
    ck_assert_str_eq(c.blockstore.nodes[1].s3_endpoint, "http://b.example:9000");
    ck_assert_str_eq(c.blockstore.nodes[1].s3_bucket, "bucket1");
    cfg_free(&c);

    /* RAID5 of 3 nodes of mixed kinds, through the variable */
    parse_ok(&c, NOARGS,
             ENV("PARSEC_BLOCKSTORE=RAID5:2:swift:a:t:c:u:p RAID5:0:MOCKED RAID5:1:POSTGRESQL"));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID5);
    ck_assert_uint_eq(c.blockstore.n_nodes, 3);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    ck_assert_int_eq(c.blockstore.nodes[2].kind, CFG_BS_SWIFT);
    cfg_free(&c);
}
END_TEST

START_TEST(blockstore_refusals)
{
    refused(ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID1:1:MOCKED"), NOENV,
            "--blockstore: mixes RAID0 and RAID1 nodes");
    refused(ARGS("-b", "RAID5:0:MOCKED", "-b", "MOCKED"), NOENV, "several blockstores need");
    refused(ARGS("-b", "MOCKED", "-b", "RAID5:0:MOCKED"), NOENV, "several blockstores need");
    refused(ARGS("-b", "MOCKED", "-b", "POSTGRESQL"), NOENV, "several blockstores need");
    refused(ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID0:2:MOCKED"), NOENV,
            "--blockstore: RAID node 1 is missing");
    refused(ARGS("-b", "RAID1:1:MOCKED"), NOENV, "RAID node 0 is missing");
    refused(ARGS("-b", "RAID1:0:MOCKED", "-b", "RAID1:0:POSTGRESQL"), NOENV,
            "--blockstore: RAID node 0 is given more than once");
    refused(ARGS("-b", "RAID5:0:MOCKED", "-b", "RAID5:1:MOCKED"), NOENV,
            "--blockstore: RAID5 needs at least 3 nodes, got 2");
    refused(ARGS("-b", "RAID0:x:MOCKED"), NOENV, "RAID node index must be an integer");
    refused(ARGS("-b", "RAID0:-1:MOCKED"), NOENV, "RAID node index must be an integer");
    refused(ARGS("-b", "RAID0::MOCKED"), NOENV, "RAID node index must be an integer");
    refused(ARGS("-b", "RAID0:0"), NOENV, "expected <RAID0|RAID1|RAID5>:<node>:<config>");
    refused(ARGS("-b", "RAID9:0:MOCKED"), NOENV, "unknown RAID level");
    refused(ARGS("-b", "RAID0:0:RAID0:0:MOCKED"), NOENV,
            "--blockstore (RAID node 0): a RAID node cannot itself be a RAID");
    refused(ARGS("-b", "RAID0:0:"), NOENV, "(RAID node 0): unknown blockstore type");
    refused(ARGS("-b", "ftp:x"), NOENV, "--blockstore: unknown blockstore type");
    refused(ARGS("-b", ""), NOENV, "--blockstore: empty blockstore spec");
    refused(NOARGS, ENV("PARSEC_BLOCKSTORE=nope"), "PARSEC_BLOCKSTORE: unknown blockstore type");
    refused(NOARGS, ENV("PARSEC_CMD_ARGS=-b nope"),
            "PARSEC_CMD_ARGS: --blockstore: unknown blockstore type");
    refused(ARGS("-b"), NOENV, "--blockstore: missing value");

    /* field counts and empty fields, never echoing the spec */
    refused_quietly(ARGS("-b", "s3:h:r:b:k"), NOENV,
                    "expected s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret>", "h:r:b:k");
    refused_quietly(ARGS("-b", "s3:h:r:b:k:T0PSECRET:extra"), NOENV, "expected s3:", "T0PSECRET");
    refused_quietly(ARGS("-b", "s3:http://h:9000:r:b:k:T0PSECRET"), NOENV,
                    "expected s3:", "T0PSECRET");
    refused_quietly(ARGS("-b", "s3:h:r::k:T0PSECRET"), NOENV, "s3 bucket must not be empty",
                    "T0PSECRET");
    refused(ARGS("-b", "s3:h:r:b::s"), NOENV, "s3 key must not be empty");
    refused(ARGS("-b", "s3:h:r:b:k:"), NOENV, "s3 secret must not be empty");
    refused_quietly(ARGS("-b", "s3:ftp\\://h:r:b:k:T0PSECRET"), NOENV,
                    "s3 endpoint must be http:// or https://", "T0PSECRET");
    refused(ARGS("-b", "s3:http\\://:r:b:k:s"), NOENV, "s3 endpoint must be http");
    refused_quietly(ARGS("-b", "swift:a:t:c:u"), NOENV,
                    "expected swift:<auth_url>:<tenant>:<container>:<user>:<password>", "a:t:c:u");
    refused(ARGS("-b", "swift::t:c:u:p"), NOENV, "swift auth_url must not be empty");
    refused(ARGS("-b", "swift:a:t::u:p"), NOENV, "swift container must not be empty");
    refused_quietly(ARGS("-b", "swift:a:t:c:u:"), NOENV, "swift password must not be empty",
                    "a:t:c:u");
    refused(ARGS("-b", "swift:gopher\\://a:t:c:u:p"), NOENV,
            "swift auth_url must be http:// or https://");
    refused_quietly(ARGS("-b", "s3:h:r:b:k:T0P\x01SECRET"), NOENV, "control characters", "T0P");

    /* bounds */
    char *specs[CFG_BLOCKSTORE_MAX * 2 + 3];
    int n = 0;
    for (int i = 0; i <= CFG_BLOCKSTORE_MAX; i++) {
        specs[n++] = "-b";
        specs[n++] = "RAID0:0:MOCKED";
    }
    specs[n] = NULL;
    refused(specs, NOENV, "given more than 64 times");
    char *envlist = malloc(20 + 16 * (CFG_BLOCKSTORE_MAX + 1));
    strcpy(envlist, "PARSEC_BLOCKSTORE=");
    for (int i = 0; i <= CFG_BLOCKSTORE_MAX; i++)
        strcat(envlist, "RAID0:0:MOCKED ");
    refused(NOARGS, ENV(envlist), "PARSEC_BLOCKSTORE: more than 64 values");
    free(envlist);
    char *big = malloc(CFG_VALUE_MAX + 32);
    strcpy(big, "s3::r:b:k:");
    memset(big + 10, 's', CFG_VALUE_MAX);
    big[CFG_VALUE_MAX + 10] = '\0';
    refused(ARGS("-b", big), NOENV, "--blockstore: longer than 4096 bytes");
    free(big);
}
END_TEST

/* --------------------------------------------------------------------- */
/* Refusals, setting by setting                                           */

START_TEST(refuse_flags_syntax)
{
    refused(ARGS("--nope"), NOENV, "unknown setting \"--nope\" (see --help)");
    refused(ARGS("-x"), NOENV, "unknown setting \"-x\"");
    refused(ARGS("--dev", "--dbb=MOCKED"), NOENV, "unknown setting \"--dbb\"");
    /* a mistyped secret flag's value is not echoed */
    refused_quietly(ARGS("--administration-tokn=hunter2"), NOENV, "\"--administration-tokn\"",
                    "hunter2");
    refused(ARGS("--port"), NOENV, "--port: missing value (expected PORT)");
    refused(ARGS("-P"), NOENV, "--port: missing value");
    refused(ARGS("--debug=yes"), NOENV, "--debug: takes no value");
    refused(ARGS("--dev=1"), NOENV, "--dev: takes no value");
    refused(ARGS("stray"), NOENV, "unexpected argument in position 1");
    refused(ARGS("--", "--port"), NOENV, "unexpected argument in position 2");
    refused(ARGS("--port", "1", "-"), NOENV, "unexpected argument in position 3");
}
END_TEST

START_TEST(refuse_numbers)
{
    /* the exact message the issue asks for */
    cfg_t c;
    ck_assert_int_eq(run(&c, ARGS("--port", "abc"), NOENV), CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "--port: expected an integer from 1 to 65535, got \"abc\"");
    ck_assert_int_eq(run(&c, NOARGS, ENV("PARSEC_PORT=abc")), CFG_PARSE_ERROR);
    ck_assert_str_eq(err, "PARSEC_PORT: expected an integer from 1 to 65535, got \"abc\"");

    static const char *const bad_ports[] = {
        "0", "65536", "-1", "+80", " 80", "80 ", "8e3", "0x50", "99999999999999999999999", "1.0"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof *bad_ports; i++) {
        refused(ARGS("--port", (char *)bad_ports[i]), NOENV, "--port: expected an integer");
        refused(ARGS("--email-port", (char *)bad_ports[i]), NOENV,
                "--email-port: expected an integer from 1 to 65535");
        refused(ARGS("--notifyd-port", (char *)bad_ports[i]), NOENV,
                "--notifyd-port: expected an integer from 1 to 65535");
    }
    parse_ok(&c, ARGS("-P", "65535"), NOENV);
    ck_assert_int_eq(c.port, 65535);
    cfg_free(&c);
    parse_ok(&c, ARGS("-P", "1"), NOENV);
    ck_assert_int_eq(c.port, 1);
    cfg_free(&c);

    refused(ARGS("--db-min-connections", "10"), NOENV,
            "--db-min-connections: 10 is above --db-max-connections (7)");
    refused(NOARGS, ENV("PARSEC_DB_MAX_CONNECTIONS=2"),
            "--db-min-connections: 5 is above PARSEC_DB_MAX_CONNECTIONS (2)");
    parse_ok(&c, ARGS("--db-min-connections", "7"), NOENV); /* equal is fine */
    cfg_free(&c);
    parse_ok(&c, ARGS("--db-min-connections", "0"), NOENV);
    cfg_free(&c);
    refused(ARGS("--db-max-connections", "0"), NOENV,
            "--db-max-connections: expected an integer from 1 to 1000");
    refused(ARGS("--db-min-connections", "x"), NOENV,
            "--db-min-connections: expected an integer from 0 to 1000");
    refused(ARGS("--db-max-connections", "1001"), NOENV, "from 1 to 1000");
    refused(ARGS("--maximum-database-connection-attempts", "-1"), NOENV,
            "--maximum-database-connection-attempts: expected an integer from 0 to 1000000");
    static const char *const bad_pauses[] = {"-1", "1e3", "nan",   "inf", "",
                                             ".",  "1,5", "86401", "0x10"};
    for (size_t i = 0; i < sizeof bad_pauses / sizeof *bad_pauses; i++)
        refused(ARGS("--pause-before-retry-database-connection", (char *)bad_pauses[i]), NOENV,
                "--pause-before-retry-database-connection: ");
    parse_ok(&c, ARGS("--pause-before-retry-database-connection", ".25"), NOENV);
    ck_assert(c.pause_before_retry_database_connection == 0.25);
    cfg_free(&c);
    refused(ARGS("--organization-initial-active-users-limit", "-1"), NOENV,
            "--organization-initial-active-users-limit: expected an integer from 0 to 2147483647");
    parse_ok(&c, ARGS("--organization-initial-active-users-limit", "0"), NOENV);
    ck_assert_int_eq(c.organization_initial_active_users_limit, 0);
    cfg_free(&c);
    refused(ARGS("--organization-initial-user-profile-outsider-allowed", "maybe"), NOENV,
            "--organization-initial-user-profile-outsider-allowed: expected a boolean");
    parse_ok(&c, NOARGS, ENV("PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED=no"));
    ck_assert(!c.organization_initial_user_profile_outsider_allowed);
    cfg_free(&c);
    refused(ARGS("--max-request-size", "4095"), NOENV,
            "--max-request-size: expected a number of bytes from 4096 to 67108864");
    refused(ARGS("--max-request-size", "67108865"), NOENV, "from 4096 to 67108864");
    refused(ARGS("--max-request-size", "1M"), NOENV, "from 4096 to 67108864");
    parse_ok(&c, ARGS("--max-request-size", "4096"), NOENV);
    ck_assert_uint_eq(c.max_request_size, 4096);
    cfg_free(&c);
}
END_TEST

START_TEST(refuse_db)
{
    cfg_t c;
    refused_quietly(ARGS("--db", "mysql://root:hunter2@h/d"), NOENV,
                    "--db: expected MOCKED or a postgresql:// URL, got \"mysql://root:***@h/d\"",
                    "hunter2");
    refused(NOARGS, ENV("PARSEC_DB=sqlite:///x"), "PARSEC_DB: expected MOCKED or a postgresql://");
    refused(ARGS("--db", "postgresql"), NOENV, "expected MOCKED");
    parse_ok(&c, ARGS("--db", "mocked"), NOENV);
    ck_assert_str_eq(c.db, "MOCKED");
    cfg_free(&c);
    parse_ok(&c, ARGS("--db", "postgres:///parsec"), NOENV);
    ck_assert_str_eq(c.db, "postgres:///parsec");
    cfg_free(&c);
}
END_TEST

START_TEST(refuse_email)
{
    cfg_t c;
    refused(ARGS("--email-use-ssl", "--email-use-tls"), NOENV,
            "--email-use-ssl: cannot be combined with --email-use-tls");
    refused(NOARGS, ENV("PARSEC_EMAIL_USE_SSL=1", "PARSEC_EMAIL_USE_TLS=yes"),
            "PARSEC_EMAIL_USE_SSL: cannot be combined with PARSEC_EMAIL_USE_TLS");
    parse_ok(&c, ARGS("--email-use-ssl"), ENV("PARSEC_EMAIL_USE_TLS=0"));
    cfg_free(&c);

    refused(ARGS("--email-host", "smtp.example.com"), NOENV,
            "--email-host: needs --email-sender (or PARSEC_EMAIL_SENDER)");
    refused(NOARGS, ENV("PARSEC_EMAIL_HOST=smtp.example.com"),
            "PARSEC_EMAIL_HOST: needs --email-sender");
    parse_ok(&c, ARGS("--email-host", "smtp.example.com", "--email-sender", "a@example.com"),
             NOENV);
    ck_assert_str_eq(c.email_host, "smtp.example.com");
    cfg_free(&c);
    /* MOCKED gets Parsec's default sender */
    parse_ok(&c, ARGS("--email-host", "MOCKED"), NOENV);
    ck_assert_str_eq(c.email_sender, "no-reply@parsec.com");
    cfg_free(&c);
    refused(ARGS("--email-host", "smtp example"), NOENV,
            "--email-host: expected MOCKED or a host name");

    static const char *const bad_senders[] = {
        "not-an-address", "@example.com", "a@",    "a@b@c", "Name <a@b",
        "Name a@b>",      "<a@b> x",      "a b@c", "<>",    "Na<me <a@b>"};
    for (size_t i = 0; i < sizeof bad_senders / sizeof *bad_senders; i++)
        refused(ARGS("--email-sender", (char *)bad_senders[i]), NOENV,
                "--email-sender: expected an email address or \"Name <address>\"");
    refused(ARGS("--email-sender", "a@b.c\r\nBcc: x@y.z"), NOENV,
            "--email-sender: control characters are not allowed");
    parse_ok(&c, ARGS("--email-sender", "<a@b.c>"), NOENV);
    cfg_free(&c);

    refused(ARGS("--email-language", "de"), NOENV,
            "--email-language: expected en or fr, got \"de\"");
    refused(NOARGS, ENV("PARSEC_EMAIL_LANGUAGE=english"), "PARSEC_EMAIL_LANGUAGE: expected en");
    parse_ok(&c, ARGS("--email-language", "FR"), NOENV);
    ck_assert_str_eq(c.email_language, "fr");
    cfg_free(&c);
}
END_TEST

START_TEST(refuse_logs)
{
    cfg_t c;
    refused(ARGS("--log-level", "VERBOSE"), NOENV,
            "--log-level: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got \"VERBOSE\"");
    refused(ARGS("-l", "5"), NOENV, "--log-level: expected DEBUG");
    refused(NOARGS, ENV("PARSEC_LOG_LEVEL=TRACE"), "PARSEC_LOG_LEVEL: expected DEBUG");
    refused(ARGS("--log-format", "XML"), NOENV, "--log-format: expected CONSOLE or JSON");
    refused(ARGS("-f"), NOENV, "--log-format: missing value");
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    static const cfg_log_level values[] = {CFG_LOG_DEBUG, CFG_LOG_INFO, CFG_LOG_WARNING,
                                           CFG_LOG_ERROR, CFG_LOG_CRITICAL};
    for (int i = 0; i < 5; i++) {
        parse_ok(&c, ARGS("-l", (char *)levels[i]), NOENV);
        ck_assert_int_eq(c.log_level, values[i]);
        cfg_free(&c);
    }
    parse_ok(&c, ARGS("-l", "error", "-f", "console"), NOENV);
    ck_assert_int_eq(c.log_level, CFG_LOG_ERROR);
    ck_assert_int_eq(c.log_format, CFG_LOG_CONSOLE);
    cfg_free(&c);
    /* "-" is stderr, as in Parsec */
    parse_ok(&c, ARGS("-o", "-"), NOENV);
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
        refused(ARGS("--backend-addr", (char *)bad_addrs[i]), NOENV,
                "--backend-addr: expected parsec://<host>[:<port>][?no_ssl=true]");
    static const char *const good_addrs[] = {"parsec://h", "PARSEC://h:1/", "parsec://[::1]:6777",
                                             "parsec://localhost:6777?no_ssl=true",
                                             "parsec://h?no_ssl=False"};
    for (size_t i = 0; i < sizeof good_addrs / sizeof *good_addrs; i++) {
        parse_ok(&c, ARGS("--backend-addr", (char *)good_addrs[i]), NOENV);
        ck_assert_str_eq(c.backend_addr, good_addrs[i]); /* kept as given */
        cfg_free(&c);
    }

    static const char *const bad_fp[] = {"X-Forwarded-Proto", ":https", "X-Forwarded-Proto:",
                                         "X Forwarded:https", "a:b:c",  "X(y):https"};
    for (size_t i = 0; i < sizeof bad_fp / sizeof *bad_fp; i++)
        refused(ARGS("--forward-proto-enforce-https", (char *)bad_fp[i]), NOENV,
                "--forward-proto-enforce-https: expected <header-name>:<header-value>");

    refused(ARGS("--organization-bootstrap-webhook", "ftp://h/x"), NOENV,
            "--organization-bootstrap-webhook: expected an http:// or https:// URL");
    refused(ARGS("--organization-bootstrap-webhook", "https://"), NOENV, "expected an http://");
    refused(ARGS("--organization-bootstrap-webhook", "https://h:0/x"), NOENV,
            "expected an http://");
    parse_ok(&c, ARGS("--organization-bootstrap-webhook", "http://[::1]:8080/hook?x=1"), NOENV);
    cfg_free(&c);

    refused_quietly(ARGS("--sentry-dsn", "https://o1.ingest.sentry.io/2"), NOENV,
                    "--sentry-dsn: expected a Sentry DSN", "o1.ingest");
    refused_quietly(ARGS("--sentry-dsn", "k3ysecret"), NOENV, "--sentry-dsn: expected",
                    "k3ysecret");

    refused_quietly(ARGS("--administration-token", "has sp4ce"), NOENV,
                    "--administration-token: expected printable ASCII without spaces", "sp4ce");
    refused_quietly(NOARGS, ENV("PARSEC_ADMINISTRATION_TOKEN=caf\xc3\xa9"),
                    "PARSEC_ADMINISTRATION_TOKEN: expected printable ASCII", "caf");
    refused_quietly(ARGS("--email-host-password", "p\tw"), NOENV,
                    "--email-host-password: control characters are not allowed", "p\tw");

    static const char *const bad_sockets[] = {"nowhere", "h:0", "h:x", "h:", "a b:80"};
    for (size_t i = 0; i < sizeof bad_sockets / sizeof *bad_sockets; i++)
        refused(ARGS("--fcgi-socket", (char *)bad_sockets[i]), NOENV,
                "--fcgi-socket: expected a unix socket path (with a '/') or <host>:<port>");
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    refused(ARGS("--fcgi-socket", longpath), NOENV, "unix socket path too long");
    static const char *const good_sockets[] = {":9000", "127.0.0.1:9000", "./fcgi.sock"};
    for (size_t i = 0; i < sizeof good_sockets / sizeof *good_sockets; i++) {
        parse_ok(&c, ARGS("--fcgi-socket", (char *)good_sockets[i]), NOENV);
        cfg_free(&c);
    }

    refused(ARGS("--host", ""), NOENV, "--host: must not be empty");
    refused(ARGS("--host", "a/b"), NOENV, "--host: expected a host name or IP address");
    refused(ARGS("--notifyd-host", "a b"), NOENV, "--notifyd-host: expected a host name");
    refused(ARGS("--sentry-environment=a\nb"), NOENV,
            "--sentry-environment: control characters are not allowed");
    char *big = malloc(CFG_VALUE_MAX + 2);
    memset(big, 'h', CFG_VALUE_MAX + 1);
    big[CFG_VALUE_MAX + 1] = '\0';
    refused(ARGS("--sentry-environment", big), NOENV,
            "--sentry-environment: longer than 4096 bytes");
    free(big);
    /* echoed values are escaped and cut */
    refused(ARGS("--port", "8\"0\\"), NOENV, "got \"8\\\"0\\\\\"");
    refused(ARGS("--p\x01rt"), NOENV, "unknown setting \"--p\\x01rt\"");
    char *long_level = malloc(300);
    memset(long_level, 'L', 299);
    long_level[299] = '\0';
    refused(ARGS("--log-level", long_level), NOENV, "LLLL...\"");
    free(long_level);
    refused(NOARGS, ENV("PARSEC_DEBUG=maybe"),
            "PARSEC_DEBUG: expected a boolean (1, true, yes, on or 0, false, no, off), got "
            "\"maybe\"");
}
END_TEST

/* --------------------------------------------------------------------- */
/* Positional arguments, cfg_require                                      */

START_TEST(positional_arguments)
{
    cfg_t c;
    char **pos;
    int npos;
    char *argv[] = {"MyOrg", "--port", "1000", "other", "--", "--weird", NULL};
    ck_assert_int_eq(cfg_parse(&c, 6, argv, NOENV, err, sizeof err, &pos, &npos), CFG_PARSE_OK);
    ck_assert_int_eq(npos, 3);
    ck_assert_str_eq(pos[0], "MyOrg");
    ck_assert_str_eq(pos[1], "other");
    ck_assert_str_eq(pos[2], "--weird");
    ck_assert_ptr_null(pos[3]);
    ck_assert_ptr_eq(pos[0], argv[0]); /* pointers into argv */
    ck_assert_int_eq(c.port, 1000);
    free(pos);
    cfg_free(&c);

    ck_assert_int_eq(cfg_parse(&c, 0, NOARGS, NOENV, err, sizeof err, &pos, &npos), CFG_PARSE_OK);
    ck_assert_ptr_null(pos);
    ck_assert_int_eq(npos, 0);
    cfg_free(&c);

    ck_assert_int_eq(cfg_parse(&c, 2, ARGS("Org", "--nope"), NOENV, err, sizeof err, &pos, &npos),
                     CFG_PARSE_ERROR);
    ck_assert_ptr_null(pos);
    ck_assert_int_eq(npos, 0);

    /* a value that starts with '-' is still a value, as with getopt */
    parse_ok(&c, ARGS("--administration-token", "-tok-"), NOENV);
    ck_assert_str_eq(c.administration_token, "-tok-");
    cfg_free(&c);

    /* a tiny err buffer is truncated, still terminated */
    char small[12];
    ck_assert_int_eq(cfg_parse(&c, 1, ARGS("--nope"), NOENV, small, sizeof small, NULL, NULL),
                     CFG_PARSE_ERROR);
    ck_assert_str_eq(small, "unknown set");
    ck_assert_int_eq(cfg_parse(&c, 1, ARGS("--nope"), NOENV, NULL, 0, NULL, NULL), CFG_PARSE_ERROR);
}
END_TEST

START_TEST(require)
{
    cfg_t c;
    char e[256];
    parse_ok(&c, NOARGS, NOENV);
    ck_assert(!cfg_require(&c, "db", e, sizeof e));
    ck_assert_str_eq(e, "--db is required (or PARSEC_DB)");
    ck_assert(!cfg_require(&c, "blockstore", e, sizeof e));
    ck_assert_str_eq(e, "--blockstore is required (or PARSEC_BLOCKSTORE)");
    ck_assert(cfg_require(&c, "port", e, sizeof e)); /* has a default */
    ck_assert(!cfg_require(&c, "no-such-setting", e, sizeof e));
    ck_assert(!cfg_require_run(&c, e, sizeof e));
    ck_assert_str_eq(e, "--db is required (or PARSEC_DB)");
    cfg_free(&c);

    parse_ok(&c, ARGS("--db", "MOCKED", "-b", "MOCKED", "--administration-token", "t"), NOENV);
    ck_assert(cfg_require(&c, "db", e, sizeof e));
    ck_assert(cfg_require(&c, "blockstore", e, sizeof e));
    ck_assert(!cfg_require_run(&c, e, sizeof e));
    ck_assert_str_eq(e, "--backend-addr is required (or PARSEC_BACKEND_ADDR)");
    cfg_free(&c);

    parse_ok(&c, ARGS("--dev"), NOENV);
    ck_assert(cfg_require_run(&c, e, sizeof e));
    cfg_free(&c);

    /* every setting that may be unset: refused when unset, fine when given */
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *st = &settings[i];
        if (strcmp(st->deflt, "(null)") != 0 && strcmp(st->deflt, "(none)") != 0)
            continue;
        char env[512], want[256];
        parse_ok(&c, NOARGS, NOENV);
        ck_assert_msg(!cfg_require(&c, st->name, e, sizeof e), "%s unset passes", st->name);
        snprintf(want, sizeof want, "--%s is required (or %s)", st->name, st->env);
        ck_assert_str_eq(e, want);
        cfg_free(&c);
        snprintf(env, sizeof env, "%s=%s", st->env, st->value);
        parse_ok(&c, NOARGS, ENV(env));
        ck_assert_msg(cfg_require(&c, st->name, e, sizeof e), "%s given fails", st->name);
        cfg_free(&c);
    }
    make_tls_files();
    char k[200], ce[200];
    snprintf(k, sizeof k, "PARSEC_SSL_KEYFILE=%s", keyfile);
    snprintf(ce, sizeof ce, "PARSEC_SSL_CERTFILE=%s", certfile);
    parse_ok(&c, NOARGS, ENV(k, ce));
    ck_assert(cfg_require(&c, "ssl-keyfile", e, sizeof e));
    ck_assert(cfg_require(&c, "ssl-certfile", e, sizeof e));
    cfg_free(&c);
    remove_tls_files();
    parse_ok(&c, NOARGS, NOENV);
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
    static const char *const secrets[] = {"ADMINTOKEN", "MAILPASS",  "S3SECRET", "SWIFTPASS",
                                          "DBPASS",     "DBQUERYPW", "HOOKPASS", "SENTRYKEY"};
    parse_ok(&c,
             ARGS("--administration-token", "ADMINTOKEN", "--email-host-password", "MAILPASS", "-b",
                  "RAID1:0:s3:http\\://minio\\:9000:eu:bucket:S3KEYID:S3SECRET", "-b",
                  "RAID1:1:swift:auth:tenant:container:swiftuser:SWIFTPASS", "--db",
                  "postgresql://parsec:DBPASS@db/parsec?password=DBQUERYPW",
                  "--organization-bootstrap-webhook", "https://hook:HOOKPASS@hooks.example.com/",
                  "--sentry-dsn", "https://SENTRYKEY@o1.ingest.sentry.io/2"),
             NOENV);
    char *text = describe(&c);
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        ck_assert_msg(!strstr(text, secrets[i]), "describe leaks %s:\n%s", secrets[i], text);
    ck_assert(strstr(text, "administration-token=***\n"));
    ck_assert(strstr(text, "email-host-password=***\n"));
    ck_assert(strstr(text, "db=postgresql://parsec:***@db/parsec?password=***\n"));
    ck_assert(strstr(text, "blockstore=RAID1:0:s3:http\\://minio\\:9000:eu:bucket:S3KEYID:*** "
                           "RAID1:1:swift:https\\://auth:tenant:container:swiftuser:***\n"));
    ck_assert(strstr(text, "organization-bootstrap-webhook=https://hook:***@hooks.example.com/\n"));
    ck_assert(strstr(text, "sentry-dsn=https://***@o1.ingest.sentry.io/2\n"));
    free(text);
    cfg_free(&c);

    /* errors name no secret either (blockstore, token: see the refusals) */
    refused_quietly(ARGS("--db", "redis://u:DBPASS@h"), NOENV, "--db", "DBPASS");
}
END_TEST

START_TEST(describe_every_setting)
{
    cfg_t c;
    parse_ok(&c, NOARGS, NOENV);
    char *text = describe(&c);
    for (size_t i = 0; i < NSETTINGS; i++) {
        char want[128];
        snprintf(want, sizeof want, "\n%s=", settings[i].name);
        ck_assert_msg(strstr(text, want) || strncmp(text, want + 1, strlen(want + 1)) == 0,
                      "describe lacks %s", settings[i].name);
    }
    ck_assert(strstr(text, "host=127.0.0.1\n"));
    ck_assert(strstr(text, "\nport=6777\n"));
    ck_assert(strstr(text, "\ndb=(unset)\n"));
    ck_assert(strstr(text, "\nblockstore=(unset)\n"));
    ck_assert(strstr(text, "\nadministration-token=(unset)\n"));
    ck_assert(strstr(text, "\nlog-level=WARNING\n"));
    ck_assert(strstr(text, "\nlog-file=stderr\n"));
    ck_assert(strstr(text, "\norganization-initial-active-users-limit=no limit\n"));
    ck_assert(strstr(text, "\npause-before-retry-database-connection=1\n"));
    ck_assert(strstr(text, "\ndev=false\n"));
    ck_assert(strstr(text, "\nssl-keyfile=(unset)\n"));
    free(text);
    cfg_free(&c);

    parse_ok(&c,
             ARGS("--dev", "-l", "INFO", "-f", "JSON", "--forward-proto-enforce-https",
                  "X-Forwarded-Proto:https", "--organization-initial-active-users-limit", "4"),
             NOENV);
    text = describe(&c);
    ck_assert(strstr(text, "\ndev=true\n"));
    ck_assert(strstr(text, "\ndebug=true\n"));
    ck_assert(strstr(text, "\nadministration-token=***\n"));
    ck_assert(!strstr(text, "s3cr3t"));
    ck_assert(strstr(text, "\nblockstore=MOCKED\n"));
    ck_assert(strstr(text, "\nlog-level=INFO\n"));
    ck_assert(strstr(text, "\nlog-format=JSON\n"));
    ck_assert(strstr(text, "\nforward-proto-enforce-https=x-forwarded-proto:https\n"));
    ck_assert(strstr(text, "\norganization-initial-active-users-limit=4\n"));
    ck_assert(strstr(text, "\nbackend-addr=parsec://localhost:6777?no_ssl=true\n"));
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
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, blockstore_precedence_takes_whole_lists);
    tcase_add_test(tc, cmd_args_guide_example);
    tcase_add_test(tc, cmd_args_expansion_and_quotes);
    tcase_add_test(tc, cmd_args_refusals);
    tcase_add_test(tc, dev_expansion);
    tcase_add_test(tc, tls_files);
    tcase_add_test(tc, blockstore_plain_forms);
    tcase_add_test(tc, blockstore_raid_forms);
    tcase_add_test(tc, blockstore_refusals);
    tcase_add_test(tc, refuse_flags_syntax);
    tcase_add_test(tc, refuse_numbers);
    tcase_add_test(tc, refuse_db);
    tcase_add_test(tc, refuse_email);
    tcase_add_test(tc, refuse_logs);
    tcase_add_test(tc, refuse_others);
    tcase_add_test(tc, positional_arguments);
    tcase_add_test(tc, require);
    tcase_add_test(tc, redact_url);
    tcase_add_test(tc, describe_redacts_every_secret);
    tcase_add_test(tc, describe_every_setting);
    suite_add_tcase(s, tc);
    return s;
}
