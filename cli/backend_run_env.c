/*
 * cli/backend_run_env.c - `parsec backend run`: the environment of the
 * children (see backend_run.h)
 */
#include "backend_run.h"

#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static void env_set(strvec_t *e, const char *name, const char *value)
{
    strvec_pushf(e, "%s=%s", name, value);
}

/* A PARSEC_CMD_ARGS word in double quotes, where cfg's splitter takes a
 * backslash before " \ $ literally and expands nothing else. */
static void cmd_word(strbuf_t *b, const char *w)
{
    strbuf_puts(b, "\"");
    for (; *w; w++) {
        if (*w == '"' || *w == '\\' || *w == '$')
            strbuf_puts(b, "\\");
        strbuf_append(b, w, 1);
    }
    strbuf_puts(b, "\"");
}

/* What the sanitizers, the C library and the test harness need to pass on:
 * everything else of our environment stays here. */
static const char *const run_passthrough[] = {
    "PATH",
    "TZ",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "ASAN_OPTIONS",
    "UBSAN_OPTIONS",
    "LSAN_OPTIONS",
    "PARSEC_TEST_RUN_ID",
    "PARSEC_TEST_SANITIZER_DIR",
    NULL,
};

/*
 * run_child_env - the environment of lighttpd (copied to the workers through
 * bin-copy-environment) and of notifyd: a few variables of ours, then every
 * effective setting as its PARSEC_* variable, so a child parses exactly what
 * we parsed, whatever mix of flags, variables and --dev produced it.
 *
 * Left out on purpose: --dev (it would turn the database back into MOCKED,
 * which workers refuse: they get the real URL), --log-file (children log to
 * stderr, relayed here), the TLS files (lighttpd terminates TLS; notifyd
 * behind it speaks plain websocket, and the key may be readable by root
 * only), --fcgi-socket and --fcgi-listen-backlog (lighttpd spawns the
 * workers on its own socket).
 */
void run_child_env(strvec_t *e, const run_t *r)
{
    const cfg_t *c = &r->cfg;
    for (size_t i = 0; run_passthrough[i]; i++) {
        const char *v = getenv(run_passthrough[i]);
        if (v)
            env_set(e, run_passthrough[i], v);
        else if (!strcmp(run_passthrough[i], "PATH"))
            env_set(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    /* A temporary directory the children can write (the run user's), gone
     * with the run: --email-host MOCKED writes its mails there. */
    strvec_pushf(e, "TMPDIR=%s/tmp", r->rundir);

    env_set(e, "PARSEC_HOST", c->host);
    strvec_pushf(e, "PARSEC_PORT=%d", c->port);
    env_set(e, "PARSEC_DB", r->db_url);
    strvec_pushf(e, "PARSEC_DB_MIN_CONNECTIONS=%d", c->db_min_connections);
    strvec_pushf(e, "PARSEC_DB_MAX_CONNECTIONS=%d", c->db_max_connections);
    strvec_pushf(e, "PARSEC_MAXIMUM_DATABASE_CONNECTION_ATTEMPTS=%d",
                 c->maximum_database_connection_attempts);
    strvec_pushf(e, "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION=%.6f",
                 c->pause_before_retry_database_connection);
    if (c->blockstore.n_nodes) {
        /* Through PARSEC_CMD_ARGS, not PARSEC_BLOCKSTORE: the variable is
         * split on whitespace, and a secret may hold a space. */
        strbuf_t args = STRBUF_INIT;
        for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
            char *spec = cfg_blockstore_spec(&c->blockstore, i, false);
            if (i)
                strbuf_puts(&args, " ");
            strbuf_puts(&args, "-b ");
            cmd_word(&args, spec);
            free(spec);
        }
        env_set(e, "PARSEC_CMD_ARGS", args.s);
        strbuf_free(&args);
    }
    if (c->administration_token)
        env_set(e, "PARSEC_ADMINISTRATION_TOKEN", c->administration_token);
    if (c->forward_proto_header)
        strvec_pushf(e, "PARSEC_FORWARD_PROTO_ENFORCE_HTTPS=%s:%s", c->forward_proto_header,
                     c->forward_proto_value);
    env_set(e, "PARSEC_LOG_LEVEL", cfg_log_level_name(c->log_level));
    env_set(e, "PARSEC_LOG_FORMAT", c->log_format == CFG_LOG_JSON ? "JSON" : "CONSOLE");
    if (c->backend_addr)
        env_set(e, "PARSEC_BACKEND_ADDR", c->backend_addr);
    if (c->email_host)
        env_set(e, "PARSEC_EMAIL_HOST", c->email_host);
    strvec_pushf(e, "PARSEC_EMAIL_PORT=%d", c->email_port);
    if (c->email_host_user)
        env_set(e, "PARSEC_EMAIL_HOST_USER", c->email_host_user);
    if (c->email_host_password)
        env_set(e, "PARSEC_EMAIL_HOST_PASSWORD", c->email_host_password);
    env_set(e, "PARSEC_EMAIL_USE_SSL", c->email_use_ssl ? "true" : "false");
    env_set(e, "PARSEC_EMAIL_USE_TLS", c->email_use_tls ? "true" : "false");
    if (c->email_language)
        env_set(e, "PARSEC_EMAIL_LANGUAGE", c->email_language);
    if (c->email_sender)
        env_set(e, "PARSEC_EMAIL_SENDER", c->email_sender);
    env_set(e, "PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP",
            c->spontaneous_organization_bootstrap ? "true" : "false");
    if (c->organization_bootstrap_webhook)
        env_set(e, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK", c->organization_bootstrap_webhook);
    if (c->organization_initial_active_users_limit >= 0)
        strvec_pushf(e, "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT=%ld",
                     c->organization_initial_active_users_limit);
    env_set(e, "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED",
            c->organization_initial_user_profile_outsider_allowed ? "true" : "false");
    if (c->sentry_dsn)
        env_set(e, "PARSEC_SENTRY_DSN", c->sentry_dsn);
    if (c->sentry_environment)
        env_set(e, "PARSEC_SENTRY_ENVIRONMENT", c->sentry_environment);
    env_set(e, "PARSEC_DEBUG", c->debug ? "true" : "false");
    strvec_pushf(e, "PARSEC_MAX_REQUEST_SIZE=%zu", c->max_request_size);
    env_set(e, "PARSEC_NOTIFYD_HOST", c->notifyd_host);
    strvec_pushf(e, "PARSEC_NOTIFYD_PORT=%d", c->notifyd_port);
}

void run_env_names(const strvec_t *e, strvec_t *names)
{
    for (size_t i = 0; i < e->n; i++)
        strvec_push(names, xstrndup(e->v[i], strcspn(e->v[i], "=")));
}
