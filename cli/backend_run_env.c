/*
 * cli/backend_run_env.c - `parsec backend run`: the environment of the
 * children (see backend_run.h)
 */
#include "backend_run.h"

#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void env_set(strvec_t *e, const char *name, const char *value)
{
    strvec_pushf(e, "%s=%s", name, value);
}

/* A sealed memfd holding value, inherited across exec (no close-on-exec);
 * -1 when the kernel cannot make one. */
static int secret_memfd(const char *name, const char *value)
{
    int fd = memfd_create(name, MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    size_t n = strlen(value), off = 0;
    while (off < n) {
        ssize_t w = write(fd, value + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    /* Read-only for the children; every reader opens its own offset. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void secret_add(run_t *r, const char *env, const char *value)
{
    if (!value || r->nsecrets == RUN_SECRETS_MAX)
        return;
    int fd = secret_memfd(env, value);
    if (fd < 0) {
        log_warning("cannot hand %s to the children in a descriptor (%s): it goes in their "
                    "environment",
                    env, strerror(errno));
        return;
    }
    r->secrets[r->nsecrets].env = env;
    r->secrets[r->nsecrets].fd = fd;
    r->nsecrets++;
}

void run_secrets_open(run_t *r)
{
    const cfg_t *c = &r->cfg;
    secret_add(r, "PARSEC_DB", r->db_url);
    if (c->blockstore.n_nodes) {
        /* One spec per line: a secret may hold a space. */
        strbuf_t specs = STRBUF_INIT;
        for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
            char *spec = cfg_blockstore_spec(&c->blockstore, i, false);
            strbuf_puts(&specs, spec);
            strbuf_puts(&specs, "\n");
            explicit_bzero(spec, strlen(spec));
            free(spec);
        }
        secret_add(r, "PARSEC_BLOCKSTORE", specs.s);
        explicit_bzero(specs.s, specs.len);
        strbuf_free(&specs);
    }
    secret_add(r, "PARSEC_ADMINISTRATION_TOKEN", c->administration_token);
    secret_add(r, "PARSEC_EMAIL_HOST_PASSWORD", c->email_host_password);
    secret_add(r, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK", c->organization_bootstrap_webhook);
    secret_add(r, "PARSEC_SENTRY_DSN", c->sentry_dsn);
    secret_add(r, "PARSEC_METRICS_TOKEN", c->metrics_token);
}

void run_secrets_close(run_t *r)
{
    for (int i = 0; i < r->nsecrets; i++)
        close(r->secrets[i].fd);
    r->nsecrets = 0;
}

/* secret_env - the setting as PARSEC_X_FILE=/dev/fd/N when it went into a
 * descriptor, else (no memfd) as PARSEC_X=value. */
static void secret_env(strvec_t *e, const run_t *r, const char *env, const char *value)
{
    if (!value)
        return;
    for (int i = 0; i < r->nsecrets; i++)
        if (!strcmp(r->secrets[i].env, env)) {
            strvec_pushf(e, "%s_FILE=/dev/fd/%d", env, r->secrets[i].fd);
            return;
        }
    env_set(e, env, value);
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
    secret_env(e, r, "PARSEC_DB", r->db_url);
    strvec_pushf(e, "PARSEC_DB_MIN_CONNECTIONS=%d", c->db_min_connections);
    strvec_pushf(e, "PARSEC_DB_MAX_CONNECTIONS=%d", c->db_max_connections);
    strvec_pushf(e, "PARSEC_MAXIMUM_DATABASE_CONNECTION_ATTEMPTS=%d",
                 c->maximum_database_connection_attempts);
    strvec_pushf(e, "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION=%.6f",
                 c->pause_before_retry_database_connection);
    if (c->blockstore.n_nodes) {
        bool in_fd = false;
        for (int i = 0; i < r->nsecrets; i++)
            in_fd = in_fd || !strcmp(r->secrets[i].env, "PARSEC_BLOCKSTORE");
        if (in_fd) {
            secret_env(e, r, "PARSEC_BLOCKSTORE", "");
        } else {
            /* No descriptor: through PARSEC_CMD_ARGS, not PARSEC_BLOCKSTORE,
             * whose words split on whitespace where a secret may hold one. */
            strbuf_t args = STRBUF_INIT;
            for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
                char *spec = cfg_blockstore_spec(&c->blockstore, i, false);
                strbuf_puts(&args, i ? " -b \"" : "-b \"");
                for (const char *w = spec; *w; w++) {
                    if (*w == '"' || *w == '\\' || *w == '$')
                        strbuf_puts(&args, "\\");
                    strbuf_append(&args, w, 1);
                }
                strbuf_puts(&args, "\"");
                free(spec);
            }
            env_set(e, "PARSEC_CMD_ARGS", args.s);
            strbuf_free(&args);
        }
    }
    strvec_pushf(e, "PARSEC_BLOCKSTORE_CONNECT_TIMEOUT=%.3f", c->blockstore_connect_timeout);
    strvec_pushf(e, "PARSEC_BLOCKSTORE_TIMEOUT=%.3f", c->blockstore_timeout);
    env_set(e, "PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK",
            c->blockstore_partial_create_ok ? "true" : "false");
    secret_env(e, r, "PARSEC_ADMINISTRATION_TOKEN", c->administration_token);
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
    secret_env(e, r, "PARSEC_EMAIL_HOST_PASSWORD", c->email_host_password);
    env_set(e, "PARSEC_EMAIL_USE_SSL", c->email_use_ssl ? "true" : "false");
    env_set(e, "PARSEC_EMAIL_USE_TLS", c->email_use_tls ? "true" : "false");
    if (c->email_language)
        env_set(e, "PARSEC_EMAIL_LANGUAGE", c->email_language);
    if (c->email_sender)
        env_set(e, "PARSEC_EMAIL_SENDER", c->email_sender);
    env_set(e, "PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP",
            c->spontaneous_organization_bootstrap ? "true" : "false");
    secret_env(e, r, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK", c->organization_bootstrap_webhook);
    if (c->organization_initial_active_users_limit >= 0)
        strvec_pushf(e, "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT=%ld",
                     c->organization_initial_active_users_limit);
    env_set(e, "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED",
            c->organization_initial_user_profile_outsider_allowed ? "true" : "false");
    secret_env(e, r, "PARSEC_SENTRY_DSN", c->sentry_dsn);
    if (c->sentry_environment)
        env_set(e, "PARSEC_SENTRY_ENVIRONMENT", c->sentry_environment);
    env_set(e, "PARSEC_DEBUG", c->debug ? "true" : "false");
    strvec_pushf(e, "PARSEC_MAX_REQUEST_SIZE=%zu", c->max_request_size);
    env_set(e, "PARSEC_NOTIFYD_HOST", c->notifyd_host);
    strvec_pushf(e, "PARSEC_NOTIFYD_PORT=%d", c->notifyd_port);
    secret_env(e, r, "PARSEC_METRICS_TOKEN", c->metrics_token);
    /* The run's workers share their counters in the run's directory. */
    strvec_pushf(e, "PARSEC_METRICS_DIR=%s/metrics", r->rundir);
}

void run_env_names(const strvec_t *e, strvec_t *names)
{
    for (size_t i = 0; i < e->n; i++)
        strvec_push(names, xstrndup(e->v[i], strcspn(e->v[i], "=")));
}
