/*
 * tests/unit/test_cfg_lib.c - helpers shared by the configuration parser's
 * suites; see test_cfg_lib.h.
 */
#include "test_cfg_lib.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

char cfgt_err[CFGT_ERR_MAX];

static int count(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

cfg_parse_result cfgt_run(cfg_t *c, char **argv, char **envp)
{
    memset(cfgt_err, 'X', sizeof cfgt_err - 1); /* a message must overwrite this */
    cfgt_err[sizeof cfgt_err - 1] = '\0';
    return cfg_parse(c, count(argv), argv, envp, cfgt_err, sizeof cfgt_err, NULL, NULL);
}

/* cfgt_parse_ok - parse and insist on success; caller cfg_free()s. */
void cfgt_parse_ok(cfg_t *c, char **argv, char **envp)
{
    cfg_parse_result r = cfgt_run(c, argv, envp);
    ck_assert_msg(r == CFG_PARSE_OK, "refused: %s", cfgt_err);
}

/* refused - parse must fail with one line containing needle (the binaries
 * print it after their own name, ""). */
void cfgt_refused(char **argv, char **envp, const char *needle)
{
    cfg_t c;
    cfg_parse_result r = cfgt_run(&c, argv, envp);
    ck_assert_msg(r == CFG_PARSE_ERROR, "accepted; expected a refusal with \"%s\"", needle);
    ck_assert_int_eq(r, 2); /* the exit status the binaries use */
    ck_assert_msg(strncmp(cfgt_err, "parsec", 6) != 0, "program name in message: %s", cfgt_err);
    ck_assert_msg(strstr(cfgt_err, needle), "message \"%s\" lacks \"%s\"", cfgt_err, needle);
    ck_assert_ptr_null(strchr(cfgt_err, '\n'));
    ck_assert_ptr_null(c.host); /* left freed */
}

/* cfgt_refused_quietly - refused, and the message does not contain secret. */
void cfgt_refused_quietly(char **argv, char **envp, const char *needle, const char *secret)
{
    cfgt_refused(argv, envp, needle);
    ck_assert_msg(!strstr(cfgt_err, secret), "message leaks \"%s\": %s", secret, cfgt_err);
}

/* cfgt_refuse_each - see test_cfg_lib.h. */
void cfgt_refuse_each(const cfgt_refusal_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].secret)
            cfgt_refused_quietly(t[i].argv, t[i].envp, t[i].needle, t[i].secret);
        else
            cfgt_refused(t[i].argv, t[i].envp, t[i].needle);
    }
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
const char *cfgt_field(const cfg_t *c, const char *name, char *buf, size_t n)
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
    S("email-ca-file", c->email_ca_file);
    if (!strcmp(name, "email-connect-timeout")) {
        snprintf(buf, n, "%g", c->email_connect_timeout);
        return buf;
    }
    if (!strcmp(name, "email-timeout")) {
        snprintf(buf, n, "%g", c->email_timeout);
        return buf;
    }
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
    I("fcgi-listen-backlog", c->fcgi_listen_backlog);
    I("max-request-size", c->max_request_size);
    S("notifyd-host", c->notifyd_host);
    I("notifyd-port", c->notifyd_port);
    I("dry-run", c->dry_run);
    if (!strcmp(name, "blockstore-connect-timeout") || !strcmp(name, "blockstore-timeout")) {
        snprintf(buf, n, "%g",
                 name[11] == 't' ? c->blockstore_timeout : c->blockstore_connect_timeout);
        return buf;
    }
    I("blockstore-partial-create-ok", c->blockstore_partial_create_ok);
    S("metrics-token", c->metrics_token);
    S("metrics-dir", c->metrics_dir);
#undef S
#undef I
    ck_abort_msg("test knows no field %s", name);
    return NULL;
}

void cfgt_expect_field(const cfg_t *c, const char *name, const char *want, const char *how)
{
    char buf[512];
    ck_assert_msg(strcmp(cfgt_field(c, name, buf, sizeof buf), want) == 0,
                  "%s via %s: got %s, want %s", name, how, buf, want);
}

/* cfgt_parses_to - parse ARGV/ENVP, insist on success and that setting NAME
 * then reads WANT (as cfgt_field() prints it). */
void cfgt_parses_to(char **argv, char **envp, const char *name, const char *want)
{
    cfgt_parses_as(argv, envp, name, want, "parses_to");
}

void cfgt_parses_as(char **argv, char **envp, const char *name, const char *want, const char *how)
{
    cfg_t c;
    cfgt_parse_ok(&c, argv, envp);
    cfgt_expect_field(&c, name, want, how);
    cfg_free(&c);
}

Suite *cfgt_suite(const char *name, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}
