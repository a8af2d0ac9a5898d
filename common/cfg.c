/*
 * common/cfg.c - the one configuration parser of every binary
 *
 * Three stages, so that precedence is decided in one place:
 *  1. collect: argv and the words of PARSEC_CMD_ARGS are scanned for flags,
 *     the PARSEC_* variables are looked up; each source keeps the raw text
 *     it gave for each setting (pointers, nothing validated yet);
 *  2. apply: for each setting the raw text of the strongest source is
 *     validated and converted (argv > PARSEC_CMD_ARGS > variable > default),
 *     then --dev fills what no source gave;
 *  3. cross-check: rules that involve two settings.
 * Only the effective value is validated, as click did: a bad PARSEC_PORT
 * overridden by --port is not an error.
 *
 * The settings table, the three stages and the echoing of settings (--help,
 * cfg_describe) live here; the helpers of each stage have their own files
 * (cfg_internal.h lists them).  docs/configuration.md is the user's side of
 * this module.
 */
#include "cfg_internal.h"

#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const cfg_opt_t cfg_opts[O_COUNT] = {
    [O_HOST] = {"host", 'H', "PARSEC_HOST", K_VALUE, "HOST", "127.0.0.1", R_NONE,
                "Host to listen on."},
    [O_PORT] = {"port", 'P', "PARSEC_PORT", K_VALUE, "PORT", "6777", R_NONE,
                "Port to listen on (1-65535)."},
    [O_DB] = {"db", 0, "PARSEC_DB", K_VALUE, "URL", NULL, R_URL,
              "Database: MOCKED (a throwaway database, for development and tests only) or "
              "postgresql://... (postgres://... too)."},
    [O_DB_MIN] = {"db-min-connections", 0, "PARSEC_DB_MIN_CONNECTIONS", K_VALUE, "INT", "5", R_NONE,
                  "Minimal number of connections to PostgreSQL (0-1000); when only the maximum "
                  "is given, the default follows it down."},
    [O_DB_MAX] = {"db-max-connections", 0, "PARSEC_DB_MAX_CONNECTIONS", K_VALUE, "INT", "7", R_NONE,
                  "Maximal number of connections to PostgreSQL (1-1000)."},
    [O_MAX_ATTEMPTS] = {"maximum-database-connection-attempts", 0,
                        "PARSEC_MAXIMUM_DATABASE_CONNECTION_ATTEMPTS", K_VALUE, "INT", "10", R_NONE,
                        "Failed database connection attempts in a row before giving up "
                        "(0 or 1: give up at the first failure)."},
    [O_PAUSE] = {"pause-before-retry-database-connection", 0,
                 "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION", K_VALUE, "SECONDS", "1.0", R_NONE,
                 "Seconds to wait before a new database connection attempt (0-86400)."},
    [O_BLOCKSTORE] = {"blockstore", 'b', "PARSEC_BLOCKSTORE", K_MULTI, "CONFIG", NULL, R_BLOCKSTORE,
                      "Blockstore: MOCKED, POSTGRESQL, "
                      "s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret> or "
                      "swift:<auth_url>:<tenant>:<container>:<user>:<password>; endpoints "
                      "without scheme are https (write http\\://host\\:port for another). "
                      "Repeat as <RAID0|RAID1|RAID5>:<node>:<config> for a RAID."},
    [O_ADMIN_TOKEN] = {"administration-token", 0, "PARSEC_ADMINISTRATION_TOKEN", K_VALUE, "TOKEN",
                       NULL, R_SECRET,
                       "Secret token of the administration API (closed when unset)."},
    [O_SSL_KEYFILE] = {"ssl-keyfile", 0, "PARSEC_SSL_KEYFILE", K_VALUE, "FILE", NULL, R_NONE,
                       "TLS private key file; with --ssl-certfile, serves over TLS."},
    [O_SSL_CERTFILE] = {"ssl-certfile", 0, "PARSEC_SSL_CERTFILE", K_VALUE, "FILE", NULL, R_NONE,
                        "TLS certificate file; with --ssl-keyfile, serves over TLS."},
    [O_FORWARD_PROTO] = {"forward-proto-enforce-https", 0, "PARSEC_FORWARD_PROTO_ENFORCE_HTTPS",
                         K_VALUE, "HEADER:VALUE", NULL, R_NONE,
                         "Redirect to https:// a request whose HEADER is present with another "
                         "value, e.g. X-Forwarded-Proto:https (only behind a proxy you control)."},
    [O_LOG_LEVEL] = {"log-level", 'l', "PARSEC_LOG_LEVEL", K_VALUE, "LEVEL", "WARNING", R_NONE,
                     "DEBUG, INFO, WARNING, ERROR or CRITICAL."},
    [O_LOG_FORMAT] = {"log-format", 'f', "PARSEC_LOG_FORMAT", K_VALUE, "FORMAT", "CONSOLE", R_NONE,
                      "CONSOLE or JSON."},
    [O_LOG_FILE] = {"log-file", 'o', "PARSEC_LOG_FILE", K_VALUE, "FILE", "stderr", R_NONE,
                    "File the logs are appended to (- for stderr)."},
    [O_BACKEND_ADDR] = {"backend-addr", 0, "PARSEC_BACKEND_ADDR", K_VALUE, "URL", NULL, R_NONE,
                        "URL clients reach this server at, parsec://host[:port][?no_ssl=true] "
                        "(used in invitation emails and redirections)."},
    [O_EMAIL_HOST] = {"email-host", 0, "PARSEC_EMAIL_HOST", K_VALUE, "HOST", NULL, R_NONE,
                      "SMTP server; MOCKED writes emails to a temporary folder."},
    [O_EMAIL_PORT] = {"email-port", 0, "PARSEC_EMAIL_PORT", K_VALUE, "PORT", "25", R_NONE,
                      "Port of the SMTP server."},
    [O_EMAIL_HOST_USER] = {"email-host-user", 0, "PARSEC_EMAIL_HOST_USER", K_VALUE, "USER", NULL,
                           R_NONE, "SMTP user name (login only when user and password are set)."},
    [O_EMAIL_HOST_PASSWORD] = {"email-host-password", 0, "PARSEC_EMAIL_HOST_PASSWORD", K_VALUE,
                               "PASSWORD", NULL, R_SECRET, "SMTP password."},
    [O_EMAIL_USE_SSL] = {"email-use-ssl", 0, "PARSEC_EMAIL_USE_SSL", K_FLAG, NULL, "false", R_NONE,
                         "Implicit TLS from the first byte (SMTPS, usually port 465)."},
    [O_EMAIL_USE_TLS] = {"email-use-tls", 0, "PARSEC_EMAIL_USE_TLS", K_FLAG, NULL, "false", R_NONE,
                         "Upgrade the plain connection with STARTTLS (usually port 587); not "
                         "with --email-use-ssl."},
    [O_EMAIL_LANGUAGE] = {"email-language", 0, "PARSEC_EMAIL_LANGUAGE", K_VALUE, "LANG", "en",
                          R_NONE, "Language of emails: en or fr."},
    [O_EMAIL_SENDER] = {"email-sender", 0, "PARSEC_EMAIL_SENDER", K_VALUE, "EMAIL", NULL, R_NONE,
                        "Sender of emails, addr or \"Name <addr>\"; required with a real "
                        "--email-host (no-reply@parsec.com with MOCKED)."},
    [O_EMAIL_CA_FILE] = {"email-ca-file", 0, "PARSEC_EMAIL_CA_FILE", K_VALUE, "FILE", NULL, R_NONE,
                         "(ours) PEM file of the CAs that verify the SMTP server's certificate, "
                         "instead of the system's (a private mail server)."},
    [O_EMAIL_CONNECT_TIMEOUT] = {"email-connect-timeout", 0, "PARSEC_EMAIL_CONNECT_TIMEOUT",
                                 K_VALUE, "SECONDS", "10", R_NONE,
                                 "(ours) Seconds to connect to the SMTP server, TLS included "
                                 "(0.1-600)."},
    [O_EMAIL_TIMEOUT] = {"email-timeout", 0, "PARSEC_EMAIL_TIMEOUT", K_VALUE, "SECONDS", "30",
                         R_NONE,
                         "(ours) Seconds for a whole email delivery, connecting included "
                         "(0.1-600); the command that sends it waits that long at most."},
    [O_SPONTANEOUS] = {"spontaneous-organization-bootstrap", 0,
                       "PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP", K_FLAG, NULL, "false", R_NONE,
                       "Allow bootstrapping an organization nobody created, with an empty "
                       "bootstrap token."},
    [O_WEBHOOK] = {"organization-bootstrap-webhook", 0, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK",
                   K_VALUE, "URL", NULL, R_URL,
                   "http(s) URL POSTed a JSON notice after each organization bootstrap."},
    [O_USERS_LIMIT] = {"organization-initial-active-users-limit", 0,
                       "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT", K_VALUE, "INT", "no limit",
                       R_NONE,
                       "Active users limit given to newly created organizations (0 or more)."},
    [O_OUTSIDER] = {"organization-initial-user-profile-outsider-allowed", 0,
                    "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED", K_VALUE, "BOOL",
                    "true", R_NONE,
                    "Whether newly created organizations allow the OUTSIDER profile."},
    [O_SENTRY_DSN] = {"sentry-dsn", 0, "PARSEC_SENTRY_DSN", K_VALUE, "URL", NULL, R_DSN,
                      "Sentry DSN for error reports (off when unset)."},
    [O_SENTRY_ENV] = {"sentry-environment", 0, "PARSEC_SENTRY_ENVIRONMENT", K_VALUE, "NAME",
                      "production", R_NONE, "Environment name of Sentry reports."},
    [O_DEBUG] = {"debug", 0, "PARSEC_DEBUG", K_FLAG, NULL, "false", R_NONE,
                 "Debug information (version in the Server header, details in logs)."},
    [O_DEV] = {"dev", 0, NULL, K_FLAG, NULL, "false", R_NONE,
               "Development mode: fills every setting not given otherwise with --debug "
               "--db=MOCKED --blockstore=MOCKED --administration-token=s3cr3t "
               "--email-sender=no-reply@parsec.com --email-host=MOCKED "
               "--backend-addr=parsec://localhost:<port>[?no_ssl=true without TLS]."},
    [O_FCGI_SOCKET] = {"fcgi-socket", 0, "PARSEC_FCGI_SOCKET", K_VALUE, "PATH|HOST:PORT", NULL,
                       R_NONE,
                       "(ours) Standalone FastCGI worker listening on a unix socket path or "
                       "host:port (nginx, spawn-fcgi); unset: the web server's socket on stdin."},
    [O_FCGI_LISTEN_BACKLOG] = {"fcgi-listen-backlog", 0, "PARSEC_FCGI_LISTEN_BACKLOG", K_VALUE,
                               "INT", "SOMAXCONN (4096)", R_NONE,
                               "(ours) Connections the --fcgi-socket socket queues before the web "
                               "server's connect() fails, 1-65535 (the kernel caps it at "
                               "net.core.somaxconn)."},
    [O_MAX_REQUEST_SIZE] = {"max-request-size", 0, "PARSEC_MAX_REQUEST_SIZE", K_VALUE, "BYTES",
                            "1048576", R_NONE,
                            "(ours) Largest HTTP request body accepted, 4096 to 67108864 bytes; "
                            "larger ones get 413."},
    [O_WORKER_THREADS] = {"worker-threads", 0, "PARSEC_WORKER_THREADS", K_VALUE, "INT",
                          "2 x db-max-connections", R_NONE,
                          "(ours) Request threads of each parsec-fcgi worker, 1-256; more than "
                          "--db-max-connections so that requests waiting on the network (webhook, "
                          "mail, blockstore) after their commit hold no database connection."},
    [O_NOTIFYD_HOST] = {"notifyd-host", 0, "PARSEC_NOTIFYD_HOST", K_VALUE, "HOST", "127.0.0.1",
                        R_NONE, "(ours) Host the notification daemon listens on."},
    [O_NOTIFYD_PORT] = {"notifyd-port", 0, "PARSEC_NOTIFYD_PORT", K_VALUE, "PORT", "6778", R_NONE,
                        "(ours) Port the notification daemon listens on."},
    [O_DRY_RUN] = {"dry-run", 0, NULL, K_FLAG, NULL, "false", R_NONE,
                   "(ours) parsec backend migrate: list the migrations to apply, apply none."},
    [O_BS_CONNECT_TIMEOUT] = {"blockstore-connect-timeout", 0, "PARSEC_BLOCKSTORE_CONNECT_TIMEOUT",
                              K_VALUE, "SECONDS", "5", R_NONE,
                              "(ours) Longest wait for a connection to an S3 or Swift node "
                              "(0.001-600)."},
    [O_BS_TIMEOUT] = {"blockstore-timeout", 0, "PARSEC_BLOCKSTORE_TIMEOUT", K_VALUE, "SECONDS",
                      "30", R_NONE,
                      "(ours) Longest S3 or Swift call, connection included (0.001-3600); a "
                      "slower node counts as failed."},
    [O_BS_PARTIAL_CREATE_OK] = {"blockstore-partial-create-ok", 0,
                                "PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK", K_FLAG, NULL, "false",
                                R_NONE,
                                "(ours) RAID1: a block is created once one node stored it; "
                                "RAID5: once all nodes but one did."},
    [O_METRICS_TOKEN] = {"metrics-token", 0, "PARSEC_METRICS_TOKEN", K_VALUE, "TOKEN", NULL,
                         R_SECRET,
                         "(ours) Secret token of GET /administration/metrics and notifyd's GET "
                         "/metrics, besides the administration token (docs/metrics.md)."},
    [O_METRICS_DIR] = {"metrics-dir", 0, "PARSEC_METRICS_DIR", K_VALUE, "DIR",
                       "/run/parsec/metrics", R_NONE,
                       "(ours) Directory of the file where the workers of one node add up their "
                       "metrics; unusable: each worker counts alone (docs/metrics.md)."},
};

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
static const cfg_log_level log_level_values[] = {CFG_LOG_DEBUG, CFG_LOG_INFO, CFG_LOG_WARNING,
                                                 CFG_LOG_ERROR, CFG_LOG_CRITICAL};

#define DEV_ADMIN_TOKEN      "s3cr3t"
#define DEV_EMAIL_SENDER     "no-reply@parsec.com"
#define DEFAULT_EMAIL_SENDER "no-reply@parsec.com"

int cfg_worker_threads(const cfg_t *c)
{
    if (c->worker_threads > 0)
        return c->worker_threads;
    int n = 2 * c->db_max_connections;
    return n > CFG_WORKER_THREADS_MAX ? CFG_WORKER_THREADS_MAX : n;
}

const char *cfg_log_level_name(cfg_log_level level)
{
    if (level >= CFG_LOG_CRITICAL)
        return "CRITICAL";
    if (level >= CFG_LOG_ERROR)
        return "ERROR";
    if (level >= CFG_LOG_WARNING)
        return "WARNING";
    if (level >= CFG_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* cfg_fail - see cfg_internal.h. */
void cfg_fail(cfg_parse_ctx *p, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    /* Whatever went in, the result stays one line. */
    for (char *c = p->err; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

/* cfg_label - see cfg_internal.h. */
const char *cfg_label(char *buf, size_t size, cfg_opt_id id, cfg_src src, bool file)
{
    switch (src) {
    case SRC_ENV:
        snprintf(buf, size, "%s%s", cfg_opts[id].env, file ? "_FILE" : "");
        break;
    case SRC_CMD_ARGS:
        snprintf(buf, size, "PARSEC_CMD_ARGS: --%s%s", cfg_opts[id].name, file ? "-file" : "");
        break;
    case SRC_DEV:
        snprintf(buf, size, "--dev (--%s)", cfg_opts[id].name);
        break;
    default:
        snprintf(buf, size, "--%s%s", cfg_opts[id].name, file ? "-file" : "");
        break;
    }
    return buf;
}

/* cfg_quote - see cfg_internal.h. */
const char *cfg_quote(char *buf, size_t size, const char *v)
{
    size_t o = 0, i = 0;
    buf[o++] = '"';
    for (; v[i] && i < 64 && o + 6 < size; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (v[i] && o + 5 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* fail_value - "<label>: <expected>, got "<value>"", the value left out
 * (or redacted) for settings that may carry a secret. */
static bool fail_value(cfg_parse_ctx *p, cfg_opt_id id, const char *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail_value(cfg_parse_ctx *p, cfg_opt_id id, const char *v, const char *fmt, ...)
{
    char lab[128], what[512], q[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cfg_label(lab, sizeof lab, id, p->src[id], p->from_file[id]);
    if (cfg_opts[id].redact == R_NONE) {
        cfg_fail(p, "%s: %s, got %s", lab, what, cfg_quote(q, sizeof q, v));
    } else if (cfg_opts[id].redact == R_URL) {
        char *r = cfg_redact_url(v);
        cfg_fail(p, "%s: %s, got %s", lab, what, cfg_quote(q, sizeof q, r));
        free(r);
    } else {
        cfg_fail(p, "%s: %s", lab, what);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Collecting flags                                                          */

static int find_long(const char *name, size_t len)
{
    for (int i = 0; i < O_COUNT; i++)
        if (strlen(cfg_opts[i].name) == len && strncmp(cfg_opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static int find_short(char c)
{
    for (int i = 0; i < O_COUNT; i++)
        if (cfg_opts[i].shortopt && cfg_opts[i].shortopt == c)
            return i;
    return -1;
}

static bool listed(const char *const *names, cfg_opt_id id)
{
    for (; names && *names; names++)
        if (!strcmp(*names, cfg_opts[id].name))
            return true;
    return false;
}

/* command_reads - does the command take setting id?  (No command: all.) */
static bool command_reads(const cfg_command_t *cmd, cfg_opt_id id)
{
    if (cmd && listed(cmd->ignored, id))
        return false;
    return !cmd || !cmd->settings || listed(cmd->settings, id);
}

static bool command_requires(const cfg_command_t *cmd, cfg_opt_id id)
{
    return cmd && listed(cmd->required, id);
}

/* print_version - "<program> <version>": parsec-fcgi names itself. */
static void print_version(void)
{
#ifdef PARSEC_VERSION
    printf("%s %s\n", program_invocation_short_name, PARSEC_VERSION);
#else
    printf("%s\n", program_invocation_short_name);
#endif
}

/*
 * scan - record the flags of args[0..n) as source src
 *
 * Getopt-like: --name VALUE, --name=VALUE, -X VALUE, -XVALUE; a flag takes
 * no value; "--" ends the options; arguments not starting with '-' (and "-")
 * are positional, wherever they are.  The value of an unknown flag is never
 * echoed (a mistyped --administration-tokn=... would otherwise leak it).
 */
static cfg_parse_result scan(cfg_parse_ctx *p, int n, char **args, cfg_src src,
                             strvec_t *positional)
{
    const char *where = src == SRC_CMD_ARGS ? "PARSEC_CMD_ARGS: " : "";
    bool options_done = false;
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (!positional) {
                cfg_fail(p,
                         "%sunexpected argument in position %d (settings are --name VALUE; "
                         "see --help)",
                         where, i + 1);
                return CFG_PARSE_ERROR;
            }
            strvec_push(positional, args[i]);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        int id;
        bool file = false; /* --NAME-file */
        const char *value = NULL;
        char q[300];
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (len == 4 && strncmp(name, "help", 4) == 0) {
                cfg_usage_command(stdout, p->cmd);
                return CFG_PARSE_EXIT;
            }
            if (len == 7 && strncmp(name, "version", 7) == 0) {
                print_version();
                return CFG_PARSE_EXIT;
            }
            id = find_long(name, len);
            if (id < 0 && len > 5 && !strncmp(name + len - 5, "-file", 5)) {
                int base = find_long(name, len - 5);
                if (base >= 0 && cfg_file_ok(base)) {
                    id = base;
                    file = true;
                }
            }
            if (id < 0) {
                char *flag = xstrndup(a, len + 2);
                cfg_fail(p, "%sunknown setting %s (see --help)", where,
                         cfg_quote(q, sizeof q, flag));
                free(flag);
                return CFG_PARSE_ERROR;
            }
            if (eq)
                value = eq + 1;
        } else {
            if (a[1] == 'h') {
                cfg_usage_command(stdout, p->cmd);
                return CFG_PARSE_EXIT;
            }
            id = find_short(a[1]);
            if (id < 0) {
                char flag[3] = {'-', a[1], '\0'};
                cfg_fail(p, "%sunknown setting %s (see --help)", where,
                         cfg_quote(q, sizeof q, flag));
                return CFG_PARSE_ERROR;
            }
            if (a[2])
                value = a + 2;
        }
        char lab[128];
        cfg_label(lab, sizeof lab, (cfg_opt_id)id, src, file);
        if (src == SRC_ARGV && !command_reads(p->cmd, (cfg_opt_id)id)) {
            cfg_fail(p, "%s: not a setting of %s (see --help)", lab,
                     p->cmd->name ? p->cmd->name : program_invocation_short_name);
            return CFG_PARSE_ERROR;
        }
        if (cfg_opts[id].kind == K_FLAG) {
            if (value) {
                cfg_fail(p, "%s: takes no value", lab);
                return CFG_PARSE_ERROR;
            }
            p->val[src][id] = "1";
            continue;
        }
        if (!value) {
            if (i + 1 >= n) {
                cfg_fail(p, "%s: missing value (expected %s)", lab, cfg_opts[id].metavar);
                return CFG_PARSE_ERROR;
            }
            value = args[++i];
        }
        if (file) {
            p->file[src][id] = value;
        } else if (cfg_opts[id].kind == K_MULTI) {
            if (p->multi[src].n == CFG_BLOCKSTORE_MAX) {
                cfg_fail(p, "%s: given more than %d times", lab, CFG_BLOCKSTORE_MAX);
                return CFG_PARSE_ERROR;
            }
            strvec_push(&p->multi[src], (char *)value);
        } else {
            p->val[src][id] = value;
        }
    }
    return CFG_PARSE_OK;
}

/* collect_env - the PARSEC_* variables.  A repeatable setting's variable
 * holds whitespace-separated values, as click split them. */
static bool collect_env(cfg_parse_ctx *p)
{
    for (int id = 0; id < O_COUNT; id++) {
        if (!cfg_opts[id].env)
            continue;
        if (cfg_file_ok(id)) {
            char name[96];
            snprintf(name, sizeof name, "%s_FILE", cfg_opts[id].env);
            p->file[SRC_ENV][id] = cfg_env_get(p->envp, name);
        }
        const char *v = cfg_env_get(p->envp, cfg_opts[id].env);
        if (!v)
            continue;
        if (cfg_opts[id].kind != K_MULTI) {
            p->val[SRC_ENV][id] = v;
            continue;
        }
        const char *s = v;
        for (;;) {
            while (cfg_is_space(*s))
                s++;
            if (!*s)
                break;
            const char *e = s;
            while (*e && !cfg_is_space(*e))
                e++;
            if (p->multi[SRC_ENV].n == CFG_BLOCKSTORE_MAX) {
                cfg_fail(p, "%s: more than %d values", cfg_opts[id].env, CFG_BLOCKSTORE_MAX);
                return false;
            }
            char *word = xstrndup(s, (size_t)(e - s));
            strvec_push(&p->owned, word);
            strvec_push(&p->multi[SRC_ENV], word);
            s = e;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Applying values                                                           */

static bool get_int(cfg_parse_ctx *p, cfg_opt_id id, const char *v, int min, int max, int *out)
{
    unsigned long long n;
    if (!cfg_parse_uint(v, (unsigned long long)max, &n) || n < (unsigned long long)min)
        return fail_value(p, id, v, "expected an integer from %d to %d", min, max);
    *out = (int)n;
    return true;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = v ? xstrdup(v) : NULL;
}

static void set_defaults(cfg_t *c)
{
    c->host = xstrdup("127.0.0.1");
    c->port = 6777;
    c->db_min_connections = 5;
    c->db_max_connections = 7;
    c->maximum_database_connection_attempts = 10;
    c->pause_before_retry_database_connection = 1.0;
    c->log_level = CFG_LOG_WARNING;
    c->log_format = CFG_LOG_CONSOLE;
    c->email_port = 25;
    c->email_language = xstrdup("en");
    c->email_connect_timeout = 10.0;
    c->email_timeout = 30.0;
    c->sentry_environment = xstrdup("production");
    c->organization_initial_active_users_limit = -1;
    c->organization_initial_user_profile_outsider_allowed = true;
    c->max_request_size = 1048576;
    c->fcgi_listen_backlog = SOMAXCONN;
    c->notifyd_host = xstrdup("127.0.0.1");
    c->metrics_dir = xstrdup("/run/parsec/metrics");
    c->notifyd_port = 6778;
    c->blockstore_connect_timeout = 5;
    c->blockstore_timeout = 30;
}

static bool *flag_field(cfg_t *c, cfg_opt_id id)
{
    switch (id) {
    case O_EMAIL_USE_SSL:
        return &c->email_use_ssl;
    case O_EMAIL_USE_TLS:
        return &c->email_use_tls;
    case O_SPONTANEOUS:
        return &c->spontaneous_organization_bootstrap;
    case O_DEBUG:
        return &c->debug;
    case O_DEV:
        return &c->dev;
    case O_DRY_RUN:
        return &c->dry_run;
    case O_BS_PARTIAL_CREATE_OK:
        return &c->blockstore_partial_create_ok;
    default:
        return NULL;
    }
}

static bool flag_get(const cfg_t *c, cfg_opt_id id)
{
    /* flag_field() only locates the field; nothing is written through it. */
    const bool *f = flag_field((cfg_t *)c, id);
    return f && *f;
}

/* apply - validate v and store it in c; v comes from p->src[id]. */
static bool apply(cfg_parse_ctx *p, cfg_t *c, cfg_opt_id id, const char *v)
{
    char lab[128];
    const char *why;
    int n = 0;
    cfg_label(lab, sizeof lab, id, p->src[id], p->from_file[id]);

    /* Rules for every value: bounded, one line of printable text. */
    if (strlen(v) > CFG_VALUE_MAX) {
        cfg_fail(p, "%s: longer than %d bytes", lab, CFG_VALUE_MAX);
        return false;
    }
    for (const char *s = v; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            cfg_fail(p, "%s: control characters are not allowed", lab);
            return false;
        }
    if (cfg_opts[id].kind == K_FLAG) {
        bool b;
        if (!cfg_parse_bool(v, &b))
            return fail_value(p, id, v,
                              "expected a boolean (1, true, yes, on or 0, false, no, off)");
        *flag_field(c, id) = b;
        return true;
    }
    if (!*v) {
        if (command_requires(p->cmd, id))
            cfg_fail(p, "--%s is required: %s is empty", cfg_opts[id].name, lab);
        else
            cfg_fail(p, "%s: must not be empty", lab);
        return false;
    }

    switch (id) {
    case O_HOST:
    case O_NOTIFYD_HOST:
        if (!cfg_host_ok(v, strlen(v)))
            return fail_value(p, id, v, "expected a host name or IP address");
        set_str(id == O_HOST ? &c->host : &c->notifyd_host, v);
        return true;
    case O_PORT:
        return get_int(p, id, v, 1, 65535, &c->port);
    case O_EMAIL_PORT:
        return get_int(p, id, v, 1, 65535, &c->email_port);
    case O_NOTIFYD_PORT:
        return get_int(p, id, v, 1, 65535, &c->notifyd_port);
    case O_DB:
        if (strcasecmp(v, "MOCKED") == 0) {
            set_str(&c->db, "MOCKED");
            return true;
        }
        if ((!cfg_has_prefix_ci(v, "postgresql://") && !cfg_has_prefix_ci(v, "postgres://")))
            return fail_value(p, id, v, "expected MOCKED or a postgresql:// URL");
        set_str(&c->db, v);
        return true;
    case O_DB_MIN:
        return get_int(p, id, v, 0, 1000, &c->db_min_connections);
    case O_DB_MAX:
        return get_int(p, id, v, 1, 1000, &c->db_max_connections);
    case O_WORKER_THREADS:
        return get_int(p, id, v, 1, CFG_WORKER_THREADS_MAX, &c->worker_threads);
    case O_MAX_ATTEMPTS:
        return get_int(p, id, v, 0, 1000000, &c->maximum_database_connection_attempts);
    case O_PAUSE:
        if (!cfg_parse_seconds(v, 86400, &c->pause_before_retry_database_connection))
            return fail_value(p, id, v, "expected a number of seconds from 0 to 86400");
        return true;
    case O_ADMIN_TOKEN:
    case O_METRICS_TOKEN:
        /* It travels in an Authorization header: visible ASCII only. */
        for (const char *s = v; *s; s++)
            if (*s <= ' ' || *s >= 0x7f)
                return fail_value(p, id, v, "expected printable ASCII without spaces");
        set_str(id == O_ADMIN_TOKEN ? &c->administration_token : &c->metrics_token, v);
        return true;
    case O_METRICS_DIR:
        if (v[0] != '/')
            return fail_value(p, id, v, "expected an absolute directory path");
        set_str(&c->metrics_dir, v);
        return true;
    case O_SSL_KEYFILE:
    case O_SSL_CERTFILE:
        if (!cfg_file_readable(v, &why)) {
            char q[300];
            cfg_fail(p, "%s: cannot read %s: %s", lab, cfg_quote(q, sizeof q, v), why);
            return false;
        }
        set_str(id == O_SSL_KEYFILE ? &c->ssl_keyfile : &c->ssl_certfile, v);
        return true;
    case O_FORWARD_PROTO: {
        const char *colon = strchr(v, ':');
        if (!colon || strchr(colon + 1, ':') || !cfg_token_ok(v, (size_t)(colon - v)) || !colon[1])
            return fail_value(p, id, v,
                              "expected <header-name>:<header-value>, e.g. "
                              "X-Forwarded-Proto:https");
        free(c->forward_proto_header);
        c->forward_proto_header = xstrndup(v, (size_t)(colon - v));
        /* Header names compare case-insensitively; values exactly (Parsec). */
        for (char *s = c->forward_proto_header; *s; s++)
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s - 'A' + 'a');
        set_str(&c->forward_proto_value, colon + 1);
        return true;
    }
    case O_LOG_LEVEL:
        for (size_t i = 0; i < sizeof log_level_names / sizeof *log_level_names; i++)
            if (strcasecmp(v, log_level_names[i]) == 0) {
                c->log_level = log_level_values[i];
                return true;
            }
        return fail_value(p, id, v, "expected DEBUG, INFO, WARNING, ERROR or CRITICAL");
    case O_LOG_FORMAT:
        if (strcasecmp(v, "CONSOLE") == 0)
            c->log_format = CFG_LOG_CONSOLE;
        else if (strcasecmp(v, "JSON") == 0)
            c->log_format = CFG_LOG_JSON;
        else
            return fail_value(p, id, v, "expected CONSOLE or JSON");
        return true;
    case O_LOG_FILE:
        set_str(&c->log_file, strcmp(v, "-") == 0 ? NULL : v);
        return true;
    case O_BACKEND_ADDR:
        if (!cfg_backend_addr_ok(v))
            return fail_value(p, id, v, "expected parsec://<host>[:<port>][?no_ssl=true]");
        set_str(&c->backend_addr, v);
        return true;
    case O_EMAIL_HOST:
        if (strcmp(v, "MOCKED") != 0 && !cfg_host_ok(v, strlen(v)))
            return fail_value(p, id, v, "expected MOCKED or a host name or IP address");
        set_str(&c->email_host, v);
        return true;
    case O_EMAIL_HOST_USER:
        set_str(&c->email_host_user, v);
        return true;
    case O_EMAIL_HOST_PASSWORD:
        set_str(&c->email_host_password, v);
        return true;
    case O_EMAIL_LANGUAGE:
        if (strcasecmp(v, "en") != 0 && strcasecmp(v, "fr") != 0)
            return fail_value(p, id, v, "expected en or fr");
        set_str(&c->email_language, (v[0] == 'e' || v[0] == 'E') ? "en" : "fr");
        return true;
    case O_EMAIL_SENDER:
        if (!cfg_email_sender_ok(v))
            return fail_value(p, id, v, "expected an email address or \"Name <address>\"");
        set_str(&c->email_sender, v);
        return true;
    case O_EMAIL_CA_FILE:
        if (!cfg_file_readable(v, &why)) {
            char q[300];
            cfg_fail(p, "%s: cannot read %s: %s", lab, cfg_quote(q, sizeof q, v), why);
            return false;
        }
        set_str(&c->email_ca_file, v);
        return true;
    case O_EMAIL_CONNECT_TIMEOUT:
    case O_EMAIL_TIMEOUT: {
        double *out = id == O_EMAIL_TIMEOUT ? &c->email_timeout : &c->email_connect_timeout;
        /* 0 would mean "no limit" to libcurl: refused */
        if (!cfg_parse_seconds(v, 600, out) || *out < 0.1)
            return fail_value(p, id, v, "expected a number of seconds from 0.1 to 600");
        return true;
    }
    case O_WEBHOOK:
        if (!cfg_http_url_ok(v, false))
            return fail_value(p, id, v, "expected an http:// or https:// URL");
        set_str(&c->organization_bootstrap_webhook, v);
        return true;
    case O_USERS_LIMIT:
        if (!get_int(p, id, v, 0, INT32_MAX, &n))
            return false;
        c->organization_initial_active_users_limit = n;
        return true;
    case O_OUTSIDER:
        if (!cfg_parse_bool(v, &c->organization_initial_user_profile_outsider_allowed))
            return fail_value(p, id, v,
                              "expected a boolean (1, true, yes, on or 0, false, no, off)");
        return true;
    case O_SENTRY_DSN:
        if (!cfg_http_url_ok(v, true))
            return fail_value(p, id, v, "expected a Sentry DSN, https://<key>@<host>/<project>");
        set_str(&c->sentry_dsn, v);
        return true;
    case O_SENTRY_ENV:
        set_str(&c->sentry_environment, v);
        return true;
    case O_FCGI_SOCKET:
        if (strchr(v, '/')) {
            if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return fail_value(p, id, v, "unix socket path too long (at most %zu bytes)",
                                  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        } else {
            const char *colon = strrchr(v, ':');
            unsigned long long port;
            if (!colon || (colon != v && !cfg_host_ok(v, (size_t)(colon - v))) ||
                !cfg_parse_uint(colon + 1, 65535, &port) || port == 0)
                return fail_value(p, id, v,
                                  "expected a unix socket path (with a '/') or <host>:<port>");
        }
        set_str(&c->fcgi_socket, v);
        return true;
    case O_FCGI_LISTEN_BACKLOG:
        return get_int(p, id, v, 1, 65535, &c->fcgi_listen_backlog);
    case O_MAX_REQUEST_SIZE: {
        unsigned long long bytes;
        if (!cfg_parse_uint(v, 67108864, &bytes) || bytes < 4096)
            return fail_value(p, id, v, "expected a number of bytes from 4096 to 67108864");
        c->max_request_size = (size_t)bytes;
        return true;
    }
    case O_BS_CONNECT_TIMEOUT:
    case O_BS_TIMEOUT: {
        double max = id == O_BS_TIMEOUT ? 3600 : 600, secs;
        if (!cfg_parse_seconds(v, max, &secs) || secs < 0.001)
            return fail_value(p, id, v, "expected a number of seconds from 0.001 to %g", max);
        *(id == O_BS_TIMEOUT ? &c->blockstore_timeout : &c->blockstore_connect_timeout) = secs;
        return true;
    }
    default:
        cfg_fail(p, "%s: cannot be set this way", lab);
        return false;
    }
}

/* dev_fill - what --dev gives to the settings no source gave. */
static bool dev_fill(cfg_parse_ctx *p, cfg_t *c)
{
    static const struct {
        cfg_opt_id id;
        const char *value;
    } fills[] = {
        {O_DEBUG, "1"},
        {O_DB, "MOCKED"},
        {O_ADMIN_TOKEN, DEV_ADMIN_TOKEN},
        {O_EMAIL_SENDER, DEV_EMAIL_SENDER},
        {O_EMAIL_HOST, "MOCKED"},
    };
    for (size_t i = 0; i < sizeof fills / sizeof *fills; i++) {
        if (p->src[fills[i].id] != SRC_DEFAULT)
            continue;
        p->src[fills[i].id] = SRC_DEV;
        if (!apply(p, c, fills[i].id, fills[i].value))
            return false;
    }
    if (p->src[O_BLOCKSTORE] == SRC_DEFAULT) {
        c->blockstore.raid = CFG_RAID_NONE;
        c->blockstore.n_nodes = 1;
        c->blockstore.nodes = xcalloc(1, sizeof *c->blockstore.nodes);
        c->blockstore.nodes[0].kind = CFG_BS_MOCKED;
        p->src[O_BLOCKSTORE] = SRC_DEV;
    }
    if (p->src[O_BACKEND_ADDR] == SRC_DEFAULT) {
        /* Parsec's help promised a no_ssl marker without TLS but its code
         * forgot it; clients need it to not attempt TLS, so we add it. */
        bool tls = c->ssl_certfile && c->ssl_keyfile;
        char *addr = xasprintf("parsec://localhost:%d%s", c->port, tls ? "" : "?no_ssl=true");
        p->src[O_BACKEND_ADDR] = SRC_DEV;
        set_str(&c->backend_addr, addr);
        free(addr);
    }
    return true;
}

static bool cross_check(cfg_parse_ctx *p, cfg_t *c)
{
    char a[128], b[128];
    /* The default minimum (5) follows a smaller maximum given alone
     * (PARSEC_DB_MAX_CONNECTIONS=2 for mod_fcgid's one-request workers); a
     * minimum given explicitly above the maximum is a mistake to report. */
    if (c->db_min_connections > c->db_max_connections && p->src[O_DB_MIN] == SRC_DEFAULT)
        c->db_min_connections = c->db_max_connections;
    if (c->db_min_connections > c->db_max_connections) {
        cfg_fail(p, "%s: %d is above %s (%d)",
                 cfg_label(a, sizeof a, O_DB_MIN, p->src[O_DB_MIN], false), c->db_min_connections,
                 cfg_label(b, sizeof b, O_DB_MAX, p->src[O_DB_MAX], false), c->db_max_connections);
        return false;
    }
    if (!c->ssl_keyfile != !c->ssl_certfile) {
        cfg_opt_id given = c->ssl_keyfile ? O_SSL_KEYFILE : O_SSL_CERTFILE;
        cfg_opt_id missing = c->ssl_keyfile ? O_SSL_CERTFILE : O_SSL_KEYFILE;
        cfg_fail(p, "%s: needs --%s (or %s) as well",
                 cfg_label(a, sizeof a, given, p->src[given], false), cfg_opts[missing].name,
                 cfg_opts[missing].env);
        return false;
    }
    if (c->email_use_ssl && c->email_use_tls) {
        cfg_fail(p, "%s: cannot be combined with %s (implicit TLS or STARTTLS: choose one)",
                 cfg_label(a, sizeof a, O_EMAIL_USE_SSL, p->src[O_EMAIL_USE_SSL], false),
                 cfg_label(b, sizeof b, O_EMAIL_USE_TLS, p->src[O_EMAIL_USE_TLS], false));
        return false;
    }
    return true;
}

/* email_check - after --dev: a real SMTP host needs a sender; MOCKED gets
 * Parsec's default one. */
static bool email_check(cfg_parse_ctx *p, cfg_t *c)
{
    char a[128];
    if (!c->email_host || c->email_sender)
        return true;
    if (strcmp(c->email_host, "MOCKED") == 0) {
        set_str(&c->email_sender, DEFAULT_EMAIL_SENDER);
        return true;
    }
    cfg_fail(p, "%s: needs --email-sender (or PARSEC_EMAIL_SENDER) unless it is MOCKED",
             cfg_label(a, sizeof a, O_EMAIL_HOST, p->src[O_EMAIL_HOST], false));
    return false;
}

/* read_file_value - the value of setting id from the file at path (source
 * p->src[id]); in p->owned.  NULL after cfg_fail(). */
static const char *read_file_value(cfg_parse_ctx *p, cfg_opt_id id, const char *path)
{
    char lab[128], why[512];
    cfg_label(lab, sizeof lab, id, p->src[id], true);
    size_t max = id == O_BLOCKSTORE ? (size_t)CFG_VALUE_MAX * CFG_BLOCKSTORE_MAX : CFG_VALUE_MAX;
    char *v;
    bool others;
    if (!cfg_secret_file(path, max, &v, &others, why, sizeof why)) {
        cfg_fail(p, "%s: %s", lab, why);
        return NULL;
    }
    strvec_push(&p->owned, v);
    if (others) {
        char q[300];
        strvec_pushf(&p->warnings,
                     "%s: %s is readable by every user of this machine; it holds a secret: "
                     "chmod o-r it",
                     lab, cfg_quote(q, sizeof q, path));
    }
    return v;
}

/* split_specs - a blockstore file: one spec per line, blank lines skipped;
 * pointers into text (modified), pushed onto specs. */
static bool split_specs(cfg_parse_ctx *p, char *text, strvec_t *specs)
{
    strvec_free_array(specs);
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *t = line;
        while (cfg_is_space(*t))
            t++;
        if (*t) {
            if (specs->n == CFG_BLOCKSTORE_MAX) {
                char lab[128];
                cfg_fail(p, "%s: more than %d specs",
                         cfg_label(lab, sizeof lab, O_BLOCKSTORE, p->src[O_BLOCKSTORE], true),
                         CFG_BLOCKSTORE_MAX);
                return false;
            }
            strvec_push(specs, line);
        }
        line = nl ? nl + 1 : NULL;
    }
    return true;
}

/* resolve - each setting from its strongest source: a value, or a file. */
static bool resolve(cfg_parse_ctx *p, cfg_t *out)
{
    for (int id = 0; id < O_COUNT; id++) {
        /* someone else's setting (a shared environment): not ours to check */
        if (!command_reads(p->cmd, (cfg_opt_id)id))
            continue;
        for (int s = SRC_ARGV; s >= SRC_ENV; s--) {
            bool has_value = id == O_BLOCKSTORE ? p->multi[s].n > 0 : p->val[s][id] != NULL;
            const char *file = p->file[s][id];
            if (!has_value && !file)
                continue;
            p->src[id] = (cfg_src)s;
            if (has_value && file) {
                char a[128], b[128];
                cfg_fail(p, "%s and %s are both given: keep one",
                         cfg_label(a, sizeof a, (cfg_opt_id)id, (cfg_src)s, false),
                         cfg_label(b, sizeof b, (cfg_opt_id)id, (cfg_src)s, true));
                return false;
            }
            const char *v = p->val[s][id];
            if (file) {
                p->from_file[id] = true;
                v = read_file_value(p, (cfg_opt_id)id, file);
                if (!v || (id == O_BLOCKSTORE && !split_specs(p, (char *)v, &p->multi[s])))
                    return false;
            }
            if (id == O_BLOCKSTORE ? !cfg_blockstore_parse(p, out, &p->multi[s], (cfg_src)s)
                                   : !apply(p, out, (cfg_opt_id)id, v))
                return false;
            break;
        }
    }
    return true;
}

cfg_parse_result cfg_parse(cfg_t *out, int argc, char **argv, char **envp, char *err, size_t errlen,
                           char ***positional, int *npositional)
{
    return cfg_parse_command(out, NULL, argc, argv, envp, err, errlen, positional, npositional);
}

cfg_parse_result cfg_parse_command(cfg_t *out, const cfg_command_t *command, int argc, char **argv,
                                   char **envp, char *err, size_t errlen, char ***positional,
                                   int *npositional)
{
    cfg_parse_ctx p = {.err = err, .errlen = errlen, .envp = envp ? envp : environ, .cmd = command};
    strvec_t pos = STRVEC_INIT, words = STRVEC_INIT;
    cfg_parse_result r;

    memset(out, 0, sizeof *out);
    set_defaults(out);
    if (err && errlen)
        err[0] = '\0';
    if (positional)
        *positional = NULL;
    if (npositional)
        *npositional = 0;

    r = scan(&p, argc, argv, SRC_ARGV, positional ? &pos : NULL);
    if (r != CFG_PARSE_OK)
        goto cleanup;
    r = CFG_PARSE_ERROR;
    const char *cmd = cfg_env_get(p.envp, "PARSEC_CMD_ARGS");
    if (cmd) {
        if (!cfg_split_cmd_args(&p, cmd, &words))
            goto cleanup;
        /* at most CFG_CMD_ARGS_WORDS words: the int cannot overflow */
        r = scan(&p, (int)words.n, words.v, SRC_CMD_ARGS, NULL);
        if (r != CFG_PARSE_OK)
            goto cleanup;
        r = CFG_PARSE_ERROR;
    }
    if (!collect_env(&p) || !resolve(&p, out))
        goto cleanup;
    if (!cross_check(&p, out))
        goto cleanup;
    if (out->dev && !dev_fill(&p, out))
        goto cleanup;
    if (!email_check(&p, out))
        goto cleanup;
    for (const char *const *req = command ? command->required : NULL; req && *req; req++)
        if (!cfg_require(out, *req, err, errlen))
            goto cleanup;

    if (positional && pos.n) {
        /* pos.v is NULL-terminated already */
        *npositional = (int)pos.n;
        *positional = pos.v;
        pos.v = NULL;
    }
    if (p.warnings.n) {
        out->warnings = p.warnings.v; /* NULL-terminated */
        p.warnings.v = NULL;
        p.warnings.n = 0;
    }
    r = CFG_PARSE_OK;
cleanup:
    strvec_free_array(&pos);
    strvec_free_array(&words);
    for (int s = 0; s < SRC_COUNT; s++)
        strvec_free_array(&p.multi[s]);
    /* Secrets read from files and PARSEC_CMD_ARGS words: wiped, then freed. */
    for (size_t i = 0; i < p.owned.n; i++)
        if (p.owned.v[i])
            explicit_bzero(p.owned.v[i], strlen(p.owned.v[i]));
    strvec_free(&p.owned);
    strvec_free(&p.warnings);
    if (r != CFG_PARSE_OK)
        cfg_free(out);
    return r;
}

void cfg_free(cfg_t *c)
{
    if (!c)
        return;
    char **strings[] = {&c->host,
                        &c->db,
                        &c->administration_token,
                        &c->ssl_keyfile,
                        &c->ssl_certfile,
                        &c->forward_proto_header,
                        &c->forward_proto_value,
                        &c->log_file,
                        &c->backend_addr,
                        &c->email_host,
                        &c->email_host_user,
                        &c->email_host_password,
                        &c->email_language,
                        &c->email_sender,
                        &c->email_ca_file,
                        &c->organization_bootstrap_webhook,
                        &c->sentry_dsn,
                        &c->sentry_environment,
                        &c->fcgi_socket,
                        &c->notifyd_host,
                        &c->metrics_token,
                        &c->metrics_dir};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free(*strings[i]);
    for (char **w = c->warnings; w && *w; w++)
        free(*w);
    free(c->warnings);
    cfg_blockstore_free(&c->blockstore);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------ */
/* Required settings                                                         */

static bool is_given(const cfg_t *c, cfg_opt_id id)
{
    switch (id) {
    case O_DB:
        return c->db;
    case O_BLOCKSTORE:
        return c->blockstore.n_nodes > 0;
    case O_ADMIN_TOKEN:
        return c->administration_token;
    case O_SSL_KEYFILE:
        return c->ssl_keyfile;
    case O_SSL_CERTFILE:
        return c->ssl_certfile;
    case O_FORWARD_PROTO:
        return c->forward_proto_header;
    case O_LOG_FILE:
        return c->log_file;
    case O_BACKEND_ADDR:
        return c->backend_addr;
    case O_EMAIL_HOST:
        return c->email_host;
    case O_EMAIL_HOST_USER:
        return c->email_host_user;
    case O_EMAIL_HOST_PASSWORD:
        return c->email_host_password;
    case O_EMAIL_SENDER:
        return c->email_sender;
    case O_EMAIL_CA_FILE:
        return c->email_ca_file;
    case O_WEBHOOK:
        return c->organization_bootstrap_webhook;
    case O_SENTRY_DSN:
        return c->sentry_dsn;
    case O_FCGI_SOCKET:
        return c->fcgi_socket;
    case O_METRICS_TOKEN:
        return c->metrics_token;
    default:
        return true; /* has a default */
    }
}

bool cfg_require(const cfg_t *c, const char *setting, char *err, size_t errlen)
{
    cfg_parse_ctx p = {.err = err, .errlen = errlen};
    int id = find_long(setting, strlen(setting));
    if (id < 0) {
        cfg_fail(&p, "unknown setting --%s required", setting);
        return false;
    }
    if (is_given(c, (cfg_opt_id)id))
        return true;
    if (cfg_opts[id].env)
        cfg_fail(&p, "--%s is required (or %s)", cfg_opts[id].name, cfg_opts[id].env);
    else
        cfg_fail(&p, "--%s is required", cfg_opts[id].name);
    return false;
}

bool cfg_require_run(const cfg_t *c, char *err, size_t errlen)
{
    static const char *const needed[] = {"db", "blockstore", "administration-token", "backend-addr",
                                         "email-host"};
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
        if (!cfg_require(c, needed[i], err, errlen))
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Echoing settings                                                          */

void cfg_usage(FILE *f, const char *command)
{
    cfg_command_t all = {.name = command};
    cfg_usage_command(f, &all);
}

void cfg_usage_command(FILE *f, const cfg_command_t *cmd)
{
    const char *name = cmd && cmd->name ? cmd->name : program_invocation_short_name;
    fprintf(f, "usage: %s [SETTINGS]\n\n", name);
    fputs("Each setting: flag (short flag), variable, default, meaning.\n"
          "Precedence: command-line flag > the same flag inside PARSEC_CMD_ARGS > PARSEC_*\n"
          "variable > --dev > default.  An empty variable counts as unset.\n"
          "A setting that may hold a secret is also read from a file: --NAME-file FILE\n"
          "or PARSEC_NAME_FILE=FILE (kept out of the environment and process list).\n\n",
          f);
    for (int id = 0; id < O_COUNT; id++) {
        const cfg_opt_t *o = &cfg_opts[id];
        if (!command_reads(cmd, (cfg_opt_id)id))
            continue;
        fprintf(f, "  --%s", o->name);
        if (o->metavar)
            fprintf(f, " %s", o->metavar);
        if (o->shortopt)
            fprintf(f, ", -%c %s", o->shortopt, o->metavar);
        fprintf(f, "%s\n      %s\n      [variable: %s",
                command_requires(cmd, (cfg_opt_id)id) ? "  (required)" : "", o->help,
                o->env ? o->env : "none");
        if (cfg_file_ok(id))
            fprintf(f, "; from a file: --%s-file FILE or %s_FILE", o->name, o->env);
        fprintf(f, "; default: %s%s]\n", o->deflt ? o->deflt : "none",
                o->kind == K_MULTI
                    ? "; repeatable, variable whitespace-separated, file one per line"
                    : "");
    }
    fputs("\n  --help, -h      this text\n  --version       the version\n\n"
          "PARSEC_CMD_ARGS holds more flags, split like a shell would ('...' literal,\n"
          "\"...\" expanding) with $VAR and ${VAR} replaced from the environment, e.g.\n"
          "  DB_URL=postgres:///parsec PARSEC_CMD_ARGS='--db=$DB_URL --host=0.0.0.0'\n"
          "A boolean variable takes 1/true/yes/on or 0/false/no/off.\n"
          "See docs/configuration.md.\n",
          f);
}

static void put_str(FILE *f, const char *name, const char *v)
{
    fprintf(f, "%s=%s\n", name, v ? v : "(unset)");
}

void cfg_describe(const cfg_t *c, FILE *f)
{
    char *tmp;
    for (int id = 0; id < O_COUNT; id++) {
        const char *name = cfg_opts[id].name;
        switch ((cfg_opt_id)id) {
        case O_HOST:
            put_str(f, name, c->host);
            break;
        case O_PORT:
            fprintf(f, "%s=%d\n", name, c->port);
            break;
        case O_DB:
            tmp = cfg_redact_url(c->db);
            put_str(f, name, tmp);
            free(tmp);
            break;
        case O_DB_MIN:
            fprintf(f, "%s=%d\n", name, c->db_min_connections);
            break;
        case O_DB_MAX:
            fprintf(f, "%s=%d\n", name, c->db_max_connections);
            break;
        case O_MAX_ATTEMPTS:
            fprintf(f, "%s=%d\n", name, c->maximum_database_connection_attempts);
            break;
        case O_PAUSE:
            fprintf(f, "%s=%g\n", name, c->pause_before_retry_database_connection);
            break;
        case O_BLOCKSTORE: {
            strbuf_t s = STRBUF_INIT;
            for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
                char *spec = cfg_blockstore_spec(&c->blockstore, i, true);
                if (i)
                    strbuf_putc(&s, ' ');
                strbuf_puts(&s, spec);
                free(spec);
            }
            put_str(f, name, s.s);
            strbuf_free(&s);
            break;
        }
        case O_ADMIN_TOKEN:
            put_str(f, name, c->administration_token ? "***" : NULL);
            break;
        case O_SSL_KEYFILE:
            put_str(f, name, c->ssl_keyfile);
            break;
        case O_SSL_CERTFILE:
            put_str(f, name, c->ssl_certfile);
            break;
        case O_FORWARD_PROTO:
            if (c->forward_proto_header)
                fprintf(f, "%s=%s:%s\n", name, c->forward_proto_header, c->forward_proto_value);
            else
                put_str(f, name, NULL);
            break;
        case O_LOG_LEVEL:
            put_str(f, name, cfg_log_level_name(c->log_level));
            break;
        case O_LOG_FORMAT:
            put_str(f, name, c->log_format == CFG_LOG_JSON ? "JSON" : "CONSOLE");
            break;
        case O_LOG_FILE:
            put_str(f, name, c->log_file ? c->log_file : "stderr");
            break;
        case O_BACKEND_ADDR:
            put_str(f, name, c->backend_addr);
            break;
        case O_EMAIL_HOST:
            put_str(f, name, c->email_host);
            break;
        case O_EMAIL_PORT:
            fprintf(f, "%s=%d\n", name, c->email_port);
            break;
        case O_EMAIL_HOST_USER:
            put_str(f, name, c->email_host_user);
            break;
        case O_EMAIL_HOST_PASSWORD:
            put_str(f, name, c->email_host_password ? "***" : NULL);
            break;
        case O_EMAIL_LANGUAGE:
            put_str(f, name, c->email_language);
            break;
        case O_EMAIL_SENDER:
            put_str(f, name, c->email_sender);
            break;
        case O_EMAIL_CA_FILE:
            put_str(f, name, c->email_ca_file);
            break;
        case O_EMAIL_CONNECT_TIMEOUT:
            fprintf(f, "%s=%g\n", name, c->email_connect_timeout);
            break;
        case O_EMAIL_TIMEOUT:
            fprintf(f, "%s=%g\n", name, c->email_timeout);
            break;
        case O_WEBHOOK:
            tmp = cfg_redact_url(c->organization_bootstrap_webhook);
            put_str(f, name, tmp);
            free(tmp);
            break;
        case O_USERS_LIMIT:
            if (c->organization_initial_active_users_limit < 0)
                put_str(f, name, "no limit");
            else
                fprintf(f, "%s=%ld\n", name, c->organization_initial_active_users_limit);
            break;
        case O_OUTSIDER:
            put_str(f, name,
                    c->organization_initial_user_profile_outsider_allowed ? "true" : "false");
            break;
        case O_SENTRY_DSN:
            tmp = c->sentry_dsn ? cfg_redact_dsn(c->sentry_dsn) : NULL;
            put_str(f, name, tmp);
            free(tmp);
            break;
        case O_SENTRY_ENV:
            put_str(f, name, c->sentry_environment);
            break;
        case O_FCGI_SOCKET:
            put_str(f, name, c->fcgi_socket);
            break;
        case O_FCGI_LISTEN_BACKLOG:
            fprintf(f, "%s=%d\n", name, c->fcgi_listen_backlog);
            break;
        case O_MAX_REQUEST_SIZE:
            fprintf(f, "%s=%zu\n", name, c->max_request_size);
            break;
        case O_WORKER_THREADS:
            fprintf(f, "%s=%d\n", name, cfg_worker_threads(c));
            break;
        case O_NOTIFYD_HOST:
            put_str(f, name, c->notifyd_host);
            break;
        case O_NOTIFYD_PORT:
            fprintf(f, "%s=%d\n", name, c->notifyd_port);
            break;
        case O_BS_CONNECT_TIMEOUT:
            fprintf(f, "%s=%g\n", name, c->blockstore_connect_timeout);
            break;
        case O_BS_TIMEOUT:
            fprintf(f, "%s=%g\n", name, c->blockstore_timeout);
            break;
        case O_METRICS_TOKEN:
            put_str(f, name, c->metrics_token ? "***" : NULL);
            break;
        case O_METRICS_DIR:
            put_str(f, name, c->metrics_dir);
            break;
        case O_EMAIL_USE_SSL:
        case O_EMAIL_USE_TLS:
        case O_SPONTANEOUS:
        case O_DEBUG:
        case O_DEV:
        case O_DRY_RUN:
        case O_BS_PARTIAL_CREATE_OK:
            put_str(f, name, flag_get(c, (cfg_opt_id)id) ? "true" : "false");
            break;
        case O_COUNT:
            break;
        }
    }
}
