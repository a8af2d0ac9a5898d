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
 * docs/configuration.md is the user's side of this file.
 */
#include "cfg.h"

#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Where a value came from; a larger value wins. */
typedef enum { SRC_DEFAULT, SRC_DEV, SRC_ENV, SRC_CMD_ARGS, SRC_ARGV, SRC_COUNT } cfg_src;

typedef enum {
    O_HOST,
    O_PORT,
    O_DB,
    O_DB_MIN,
    O_DB_MAX,
    O_MAX_ATTEMPTS,
    O_PAUSE,
    O_BLOCKSTORE,
    O_ADMIN_TOKEN,
    O_SSL_KEYFILE,
    O_SSL_CERTFILE,
    O_FORWARD_PROTO,
    O_LOG_LEVEL,
    O_LOG_FORMAT,
    O_LOG_FILE,
    O_BACKEND_ADDR,
    O_EMAIL_HOST,
    O_EMAIL_PORT,
    O_EMAIL_HOST_USER,
    O_EMAIL_HOST_PASSWORD,
    O_EMAIL_USE_SSL,
    O_EMAIL_USE_TLS,
    O_EMAIL_LANGUAGE,
    O_EMAIL_SENDER,
    O_SPONTANEOUS,
    O_WEBHOOK,
    O_USERS_LIMIT,
    O_OUTSIDER,
    O_SENTRY_DSN,
    O_SENTRY_ENV,
    O_DEBUG,
    O_DEV,
    O_FCGI_SOCKET,
    O_MAX_REQUEST_SIZE,
    O_NOTIFYD_HOST,
    O_NOTIFYD_PORT,
    O_DRY_RUN,
    O_COUNT
} opt_id;

typedef enum {
    K_VALUE, /* --name VALUE, last one wins */
    K_FLAG,  /* --name, no value; its variable holds a boolean */
    K_MULTI, /* --name VALUE, repeatable; its variable holds whitespace-separated values */
} opt_kind;

/* How a value may be echoed (errors, cfg_describe). */
typedef enum { R_NONE, R_SECRET, R_URL, R_DSN, R_BLOCKSTORE } opt_redact;

typedef struct {
    const char *name; /* long flag without "--" */
    char shortopt;    /* 0: none */
    const char *env;  /* NULL: no variable */
    opt_kind kind;
    const char *metavar;
    const char *deflt; /* for --help; the real default is set by set_defaults() */
    opt_redact redact;
    const char *help;
} opt_t;

static const opt_t opts[O_COUNT] = {
    [O_HOST] = {"host", 'H', "PARSEC_HOST", K_VALUE, "HOST", "127.0.0.1", R_NONE,
                "Host to listen on."},
    [O_PORT] = {"port", 'P', "PARSEC_PORT", K_VALUE, "PORT", "6777", R_NONE,
                "Port to listen on (1-65535)."},
    [O_DB] = {"db", 0, "PARSEC_DB", K_VALUE, "URL", NULL, R_URL,
              "Database: MOCKED (a throwaway database, for development and tests only) or "
              "postgresql://... (postgres://... too)."},
    [O_DB_MIN] = {"db-min-connections", 0, "PARSEC_DB_MIN_CONNECTIONS", K_VALUE, "INT", "5", R_NONE,
                  "Minimal number of connections to PostgreSQL (0-1000)."},
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
    [O_MAX_REQUEST_SIZE] = {"max-request-size", 0, "PARSEC_MAX_REQUEST_SIZE", K_VALUE, "BYTES",
                            "1048576", R_NONE,
                            "(ours) Largest HTTP request body accepted, 4096 to 67108864 bytes; "
                            "larger ones get 413."},
    [O_NOTIFYD_HOST] = {"notifyd-host", 0, "PARSEC_NOTIFYD_HOST", K_VALUE, "HOST", "127.0.0.1",
                        R_NONE, "(ours) Host the notification daemon listens on."},
    [O_NOTIFYD_PORT] = {"notifyd-port", 0, "PARSEC_NOTIFYD_PORT", K_VALUE, "PORT", "6778", R_NONE,
                        "(ours) Port the notification daemon listens on."},
    [O_DRY_RUN] = {"dry-run", 0, NULL, K_FLAG, NULL, "false", R_NONE,
                   "(ours) parsec backend migrate: list the migrations to apply, apply none."},
};

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
static const cfg_log_level log_level_values[] = {CFG_LOG_DEBUG, CFG_LOG_INFO, CFG_LOG_WARNING,
                                                 CFG_LOG_ERROR, CFG_LOG_CRITICAL};

#define DEV_ADMIN_TOKEN      "s3cr3t"
#define DEV_EMAIL_SENDER     "no-reply@parsec.com"
#define DEFAULT_EMAIL_SENDER "no-reply@parsec.com"

/* ------------------------------------------------------------------------ */
/* Small containers                                                          */

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static void sv_push(strvec *s, char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

/* sv_free_all - free the strings (owned) and the array. */
static void sv_free_all(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct {
    char *b;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        while (s->n + n + 1 > s->cap)
            s->cap = s->cap ? 2 * s->cap : 64;
        s->b = xrealloc(s->b, s->cap);
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = '\0';
}

static void sb_putc(sbuf *s, char c)
{
    sb_put(s, &c, 1);
}

static void sb_puts(sbuf *s, const char *p)
{
    sb_put(s, p, strlen(p));
}

/* sb_steal - the built string (malloc'd, never NULL); the buffer is reset. */
static char *sb_steal(sbuf *s)
{
    char *r = s->b ? s->b : xstrdup("");
    memset(s, 0, sizeof *s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Parse context and errors                                                  */

typedef struct {
    char *err;
    size_t errlen;
    char **envp;
    /* Raw text per source and setting (flags: "1"); pointers into argv,
     * envp or words. */
    const char *val[SRC_COUNT][O_COUNT];
    strvec multi[SRC_COUNT]; /* blockstore specs per source; strings not owned */
    strvec owned;            /* strings the parse allocated (PARSEC_CMD_ARGS words...) */
    cfg_src src[O_COUNT];    /* where each effective value came from */
    bool from_dev[O_COUNT];
} parse_ctx;

static void fail(parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fail - write the message into the caller's err buffer, one line.  No
 * program name: each binary prints "<program>: <err>" itself. */
static void fail(parse_ctx *p, const char *fmt, ...)
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

/* label - how a message names a setting: by the flag, or by the variable
 * when the value came from one. */
static const char *label(char *buf, size_t size, opt_id id, cfg_src src)
{
    switch (src) {
    case SRC_ENV:
        snprintf(buf, size, "%s", opts[id].env);
        break;
    case SRC_CMD_ARGS:
        snprintf(buf, size, "PARSEC_CMD_ARGS: --%s", opts[id].name);
        break;
    case SRC_DEV:
        snprintf(buf, size, "--dev (--%s)", opts[id].name);
        break;
    default:
        snprintf(buf, size, "--%s", opts[id].name);
        break;
    }
    return buf;
}

/* quote - v between double quotes, non-printable bytes escaped, at most 64
 * bytes of it; for echoing a value that is not a secret. */
static const char *quote(char *buf, size_t size, const char *v)
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
static bool fail_value(parse_ctx *p, opt_id id, const char *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail_value(parse_ctx *p, opt_id id, const char *v, const char *fmt, ...)
{
    char lab[128], what[512], q[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    label(lab, sizeof lab, id, p->src[id]);
    if (opts[id].redact == R_NONE) {
        fail(p, "%s: %s, got %s", lab, what, quote(q, sizeof q, v));
    } else if (opts[id].redact == R_URL) {
        char *r = cfg_redact_url(v);
        fail(p, "%s: %s, got %s", lab, what, quote(q, sizeof q, r));
        free(r);
    } else {
        fail(p, "%s: %s", lab, what);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Environment                                                               */

static const char *env_getn(char **envp, const char *name, size_t len)
{
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* env_get - the variable's value; unset and empty are the same (as click). */
static const char *env_get(char **envp, const char *name)
{
    const char *v = env_getn(envp, name, strlen(name));
    return v && *v ? v : NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * expand_var - s[*i] is '$': append $NAME or ${NAME} expanded from envp, or
 * the text itself when the variable is unknown or it is no reference (what
 * Python's os.path.expandvars did for Parsec).  Advances *i past it.
 */
static void expand_var(parse_ctx *p, const char *s, size_t *i, sbuf *w)
{
    size_t start = *i, j = *i + 1, k;
    bool braces = s[j] == '{';
    if (braces)
        j++;
    for (k = j; is_name_char(s[k]); k++)
        ;
    if (k == j || (braces && s[k] != '}')) {
        sb_putc(w, '$');
        *i = start + 1;
        return;
    }
    const char *v = env_getn(p->envp, s + j, k - j);
    size_t end = braces ? k + 1 : k;
    if (v)
        sb_puts(w, v);
    else
        sb_put(w, s + start, end - start);
    *i = end;
}

/*
 * split_cmd_args - PARSEC_CMD_ARGS into words, into p->owned and words
 *
 * Whitespace separates words.  '...' is literal.  "..." keeps whitespace,
 * expands variables, and a backslash there escapes only " \ $.  Outside
 * quotes a backslash escapes only whitespace, quotes and $: any other
 * backslash, "\\" included, is kept as is, so blockstore specs written for
 * Parsec (which split on whitespace and did nothing else) keep their
 * escaped colons.  No command substitution, no globbing: unlike wordexp(3)
 * this never runs anything.
 */
static bool split_cmd_args(parse_ctx *p, const char *s, strvec *words)
{
    sbuf w = {0};
    size_t i = 0;
    if (strlen(s) > CFG_CMD_ARGS_MAX) {
        fail(p, "PARSEC_CMD_ARGS: longer than %d bytes", CFG_CMD_ARGS_MAX);
        return false;
    }
    for (;;) {
        while (is_space(s[i]))
            i++;
        if (!s[i])
            break;
        if (words->n == CFG_CMD_ARGS_WORDS) {
            fail(p, "PARSEC_CMD_ARGS: more than %d words", CFG_CMD_ARGS_WORDS);
            goto fail;
        }
        w.n = 0;
        while (s[i] && !is_space(s[i])) {
            char c = s[i];
            if (c == '\'') {
                const char *end = strchr(s + i + 1, '\'');
                if (!end) {
                    fail(p, "PARSEC_CMD_ARGS: unterminated ' quote");
                    goto fail;
                }
                sb_put(&w, s + i + 1, (size_t)(end - (s + i + 1)));
                i = (size_t)(end - s) + 1;
            } else if (c == '"') {
                i++;
                for (;;) {
                    if (!s[i]) {
                        fail(p, "PARSEC_CMD_ARGS: unterminated \" quote");
                        goto fail;
                    }
                    if (s[i] == '"') {
                        i++;
                        break;
                    }
                    if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$')) {
                        sb_putc(&w, s[i + 1]);
                        i += 2;
                    } else if (s[i] == '$') {
                        expand_var(p, s, &i, &w);
                    } else {
                        sb_putc(&w, s[i++]);
                    }
                    if (w.n > CFG_CMD_ARGS_MAX)
                        break;
                }
            } else if (c == '\\') {
                char nx = s[i + 1];
                if (nx && (is_space(nx) || nx == '\'' || nx == '"' || nx == '$')) {
                    sb_putc(&w, nx);
                    i += 2;
                } else if (nx == '\\') {
                    sb_put(&w, "\\\\", 2);
                    i += 2;
                } else {
                    sb_putc(&w, '\\');
                    i++;
                }
            } else if (c == '$') {
                expand_var(p, s, &i, &w);
            } else {
                sb_putc(&w, c);
                i++;
            }
            if (w.n > CFG_CMD_ARGS_MAX) {
                fail(p, "PARSEC_CMD_ARGS: a word is longer than %d bytes once expanded",
                     CFG_CMD_ARGS_MAX);
                goto fail;
            }
        }
        char *word = w.b ? xstrndup(w.b, w.n) : xstrdup("");
        sv_push(&p->owned, word);
        sv_push(words, word);
    }
    free(w.b);
    return true;
fail:
    free(w.b);
    return false;
}

/* ------------------------------------------------------------------------ */
/* Collecting flags                                                          */

static int find_long(const char *name, size_t len)
{
    for (int i = 0; i < O_COUNT; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static int find_short(char c)
{
    for (int i = 0; i < O_COUNT; i++)
        if (opts[i].shortopt && opts[i].shortopt == c)
            return i;
    return -1;
}

static void print_version(void)
{
#ifdef PARSEC_VERSION
    printf("parsec %s\n", PARSEC_VERSION);
#else
    printf("parsec\n");
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
static cfg_parse_result scan(parse_ctx *p, int n, char **args, cfg_src src, strvec *positional)
{
    const char *where = src == SRC_CMD_ARGS ? "PARSEC_CMD_ARGS: " : "";
    bool options_done = false;
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (!positional) {
                fail(p,
                     "%sunexpected argument in position %d (settings are --name VALUE; "
                     "see --help)",
                     where, i + 1);
                return CFG_PARSE_ERROR;
            }
            sv_push(positional, args[i]);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        int id;
        const char *value = NULL;
        char q[300];
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (len == 4 && strncmp(name, "help", 4) == 0) {
                cfg_usage(stdout, NULL);
                return CFG_PARSE_EXIT;
            }
            if (len == 7 && strncmp(name, "version", 7) == 0) {
                print_version();
                return CFG_PARSE_EXIT;
            }
            id = find_long(name, len);
            if (id < 0) {
                char *flag = xstrndup(a, len + 2);
                fail(p, "%sunknown setting %s (see --help)", where, quote(q, sizeof q, flag));
                free(flag);
                return CFG_PARSE_ERROR;
            }
            if (eq)
                value = eq + 1;
        } else {
            if (a[1] == 'h') {
                cfg_usage(stdout, NULL);
                return CFG_PARSE_EXIT;
            }
            id = find_short(a[1]);
            if (id < 0) {
                char flag[3] = {'-', a[1], '\0'};
                fail(p, "%sunknown setting %s (see --help)", where, quote(q, sizeof q, flag));
                return CFG_PARSE_ERROR;
            }
            if (a[2])
                value = a + 2;
        }
        char lab[128];
        label(lab, sizeof lab, (opt_id)id, src);
        if (opts[id].kind == K_FLAG) {
            if (value) {
                fail(p, "%s: takes no value", lab);
                return CFG_PARSE_ERROR;
            }
            p->val[src][id] = "1";
            continue;
        }
        if (!value) {
            if (i + 1 >= n) {
                fail(p, "%s: missing value (expected %s)", lab, opts[id].metavar);
                return CFG_PARSE_ERROR;
            }
            value = args[++i];
        }
        if (opts[id].kind == K_MULTI) {
            if (p->multi[src].n == CFG_BLOCKSTORE_MAX) {
                fail(p, "%s: given more than %d times", lab, CFG_BLOCKSTORE_MAX);
                return CFG_PARSE_ERROR;
            }
            sv_push(&p->multi[src], (char *)value);
        } else {
            p->val[src][id] = value;
        }
    }
    return CFG_PARSE_OK;
}

/* collect_env - the PARSEC_* variables.  A repeatable setting's variable
 * holds whitespace-separated values, as click split them. */
static bool collect_env(parse_ctx *p)
{
    for (int id = 0; id < O_COUNT; id++) {
        if (!opts[id].env)
            continue;
        const char *v = env_get(p->envp, opts[id].env);
        if (!v)
            continue;
        if (opts[id].kind != K_MULTI) {
            p->val[SRC_ENV][id] = v;
            continue;
        }
        const char *s = v;
        for (;;) {
            while (is_space(*s))
                s++;
            if (!*s)
                break;
            const char *e = s;
            while (*e && !is_space(*e))
                e++;
            if (p->multi[SRC_ENV].n == CFG_BLOCKSTORE_MAX) {
                fail(p, "%s: more than %d values", opts[id].env, CFG_BLOCKSTORE_MAX);
                return false;
            }
            char *word = xstrndup(s, (size_t)(e - s));
            sv_push(&p->owned, word);
            sv_push(&p->multi[SRC_ENV], word);
            s = e;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Value checks                                                              */

/* parse_uint - decimal digits only (no sign, no spaces), at most max. */
static bool parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    unsigned long long n = 0;
    if (!*v)
        return false;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        unsigned d = (unsigned)(*c - '0');
        if (d > max || n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

static bool get_int(parse_ctx *p, opt_id id, const char *v, int min, int max, int *out)
{
    unsigned long long n;
    if (!parse_uint(v, (unsigned long long)max, &n) || n < (unsigned long long)min)
        return fail_value(p, id, v, "expected an integer from %d to %d", min, max);
    *out = (int)n;
    return true;
}

/* parse_seconds - digits[.digits], no exponent, no sign, within [0, max].
 * Converted by hand: strtod() would depend on the locale's decimal point. */
static bool parse_seconds(const char *v, double max, double *out)
{
    double d = 0, scale = 1;
    size_t digits = 0;
    const char *c = v;
    if (strlen(v) > 32)
        return false;
    for (; *c >= '0' && *c <= '9'; c++, digits++)
        d = d * 10 + (*c - '0');
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9'; c++, digits++)
            d += (*c - '0') * (scale /= 10);
    if (*c || digits == 0 || !(d <= max))
        return false;
    *out = d;
    return true;
}

/* parse_bool - click's words, any case, surrounding spaces ignored. */
static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off"};
    while (is_space(*v))
        v++;
    size_t len = strlen(v);
    while (len && is_space(v[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strlen(yes[i]) == len && strncasecmp(v, yes[i], len) == 0) {
            *out = true;
            return true;
        }
        if (strlen(no[i]) == len && strncasecmp(v, no[i], len) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* host_ok - a host name or address: letters, digits and . - _ : % [ ]. */
static bool host_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(is_name_char(c) || c == '.' || c == '-' || c == ':' || c == '%' || c == '[' ||
              c == ']'))
            return false;
    }
    return true;
}

/* token_ok - an HTTP header name (RFC 9110 token). */
static bool token_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]) && !strchr("!#$%&'*+-.^`|~", s[i]))
            return false;
    return true;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* authority_ok - host[:port] of a URL, len bytes: a non-empty host (an
 * IPv6 address in brackets) and, when given, a port from 1 to 65535. */
static bool authority_ok(const char *s, size_t len)
{
    const char *close = len && s[0] == '[' ? memchr(s, ']', len) : NULL;
    const char *from = close ? close : s;
    const char *colon = memchr(from, ':', len - (size_t)(from - s));
    if (!colon)
        return host_ok(s, len);
    char digits[8];
    size_t n = len - (size_t)(colon - s) - 1;
    unsigned long long port;
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, colon + 1, n);
    digits[n] = '\0';
    return parse_uint(digits, 65535, &port) && port > 0 && host_ok(s, (size_t)(colon - s));
}

/* http_url_ok - http(s)://[user@]host[:port][/...]; with need_user, the
 * user part (the Sentry DSN key) must be there. */
static bool http_url_ok(const char *v, bool need_user)
{
    const char *rest;
    if (has_prefix_ci(v, "https://"))
        rest = v + 8;
    else if (has_prefix_ci(v, "http://"))
        rest = v + 7;
    else
        return false;
    size_t auth_len = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', auth_len);
    if (need_user && (!at || at == rest))
        return false;
    const char *host = at ? at + 1 : rest;
    return authority_ok(host, auth_len - (size_t)(host - rest));
}

/* backend_addr_ok - parsec://host[:port][/][?no_ssl=true|false].  Stricter
 * than Parsec's BackendAddr (oxidation/libparsec/crates/types/src/addr.rs),
 * which ignored a path and other parameters: here they are refused, since
 * they would be dropped silently. */
static bool backend_addr_ok(const char *v)
{
    if (!has_prefix_ci(v, "parsec://"))
        return false;
    const char *h = v + 9;
    size_t auth_len = strcspn(h, "/?#");
    if (!authority_ok(h, auth_len))
        return false;
    const char *rest = h + auth_len;
    if (*rest == '/')
        rest++;
    if (!*rest)
        return true;
    if (*rest != '?')
        return false;
    rest++;
    return strcasecmp(rest, "no_ssl=true") == 0 || strcasecmp(rest, "no_ssl=false") == 0;
}

/* email_addr_ok - local@domain, roughly: one '@', both sides non-empty,
 * nothing that would break a header or an SMTP command. */
static bool email_addr_ok(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || strchr("<>()[],;:\"\\", s[i]))
            return false;
    return true;
}

/* email_sender_ok - "addr" or "Name <addr>". */
static bool email_sender_ok(const char *v)
{
    const char *lt = strchr(v, '<');
    if (!lt)
        return email_addr_ok(v, strlen(v));
    size_t len = strlen(v);
    if (v[len - 1] != '>' || strchr(lt + 1, '<') || memchr(v, '>', (size_t)(lt - v)))
        return false;
    return email_addr_ok(lt + 1, (size_t)(v + len - 1 - (lt + 1)));
}

/* file_readable - a regular file we can open for reading; errno-style
 * reason in *why otherwise.  O_NONBLOCK: a FIFO must not hang the start. */
static bool file_readable(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *why = strerror(errno);
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!ok)
        *why = "not a regular file";
    return ok;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = v ? xstrdup(v) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Blockstore specs                                                          */

/*
 * split_escaped - split on ':' where "\:" is a literal colon and "\\" a
 * literal backslash; any other backslash stays (Parsec's
 * _split_with_escaping in parsec/backend/cli/utils.py).
 */
static void split_escaped(const char *s, strvec *out)
{
    sbuf cur = {0};
    sb_put(&cur, "", 0);
    for (; *s; s++) {
        if (*s == '\\') {
            if (s[1] == ':' || s[1] == '\\') {
                sb_putc(&cur, s[1]);
                s++;
            } else {
                sb_putc(&cur, '\\');
            }
        } else if (*s == ':') {
            sv_push(out, sb_steal(&cur));
            sb_put(&cur, "", 0);
        } else {
            sb_putc(&cur, *s);
        }
    }
    sv_push(out, sb_steal(&cur));
}

/* endpoint - "https://" prepended to a URL without scheme; NULL when the
 * scheme is neither http nor https or nothing follows it. */
static char *endpoint(const char *v)
{
    const char *sep = strstr(v, "://");
    if (!sep)
        return xasprintf("https://%s", v);
    size_t slen = (size_t)(sep - v);
    bool http = (slen == 4 && strncasecmp(v, "http", 4) == 0) ||
                (slen == 5 && strncasecmp(v, "https", 5) == 0);
    if (!http || !sep[3] || sep[3] == '/')
        return NULL;
    return xstrdup(v);
}

static void node_free(cfg_blockstore_node *n)
{
    free(n->s3_endpoint);
    free(n->s3_region);
    free(n->s3_bucket);
    free(n->s3_key);
    free(n->s3_secret);
    free(n->swift_auth_url);
    free(n->swift_tenant);
    free(n->swift_container);
    free(n->swift_user);
    free(n->swift_password);
    memset(n, 0, sizeof *n);
}

/*
 * parse_node - one MOCKED / POSTGRESQL / s3:... / swift:... spec
 *
 * Messages name the problem and the field, never the spec: it may hold a
 * secret.  what is "" or " (RAID node N)".
 */
static bool parse_node(parse_ctx *p, const char *lab, const char *what, const char *spec,
                       cfg_blockstore_node *node)
{
    strvec parts = {0};
    bool ok = false;
    if (strcasecmp(spec, "MOCKED") == 0) {
        node->kind = CFG_BS_MOCKED;
        return true;
    }
    if (strcasecmp(spec, "POSTGRESQL") == 0) {
        node->kind = CFG_BS_POSTGRESQL;
        return true;
    }
    split_escaped(spec, &parts);
    bool s3 = strcasecmp(parts.v[0], "s3") == 0;
    bool swift = strcasecmp(parts.v[0], "swift") == 0;
    if (has_prefix_ci(spec, "RAID")) {
        fail(p, "%s%s: a RAID node cannot itself be a RAID", lab, what);
        goto cleanup;
    }
    if (!s3 && !swift) {
        fail(p,
             "%s%s: unknown blockstore type (expected MOCKED, POSTGRESQL, s3:..., swift:... "
             "or <RAID0|RAID1|RAID5>:<node>:<config>)",
             lab, what);
        goto cleanup;
    }
    if (parts.n != 6) {
        fail(p, "%s%s: %s", lab, what,
             s3 ? "expected s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret> "
                  "(escape ':' inside a field as \\:)"
                : "expected swift:<auth_url>:<tenant>:<container>:<user>:<password> "
                  "(escape ':' inside a field as \\:)");
        goto cleanup;
    }
    if (s3) {
        static const char *const names[] = {NULL, NULL, "region", "bucket", "key", "secret"};
        for (int i = 3; i <= 5; i++)
            if (!*parts.v[i]) {
                fail(p, "%s%s: s3 %s must not be empty", lab, what, names[i]);
                goto cleanup;
            }
        node->kind = CFG_BS_S3;
        if (*parts.v[1]) {
            node->s3_endpoint = endpoint(parts.v[1]);
            if (!node->s3_endpoint) {
                fail(p, "%s%s: s3 endpoint must be http:// or https:// followed by a host", lab,
                     what);
                goto cleanup;
            }
        }
        node->s3_region = xstrdup(parts.v[2]);
        node->s3_bucket = xstrdup(parts.v[3]);
        node->s3_key = xstrdup(parts.v[4]);
        node->s3_secret = xstrdup(parts.v[5]);
    } else {
        static const char *const names[] = {NULL,        "auth_url", "tenant",
                                            "container", "user",     "password"};
        for (int i = 1; i <= 5; i++)
            if (!*parts.v[i]) {
                fail(p, "%s%s: swift %s must not be empty", lab, what, names[i]);
                goto cleanup;
            }
        node->kind = CFG_BS_SWIFT;
        node->swift_auth_url = endpoint(parts.v[1]);
        if (!node->swift_auth_url) {
            fail(p, "%s%s: swift auth_url must be http:// or https:// followed by a host", lab,
                 what);
            goto cleanup;
        }
        node->swift_tenant = xstrdup(parts.v[2]);
        node->swift_container = xstrdup(parts.v[3]);
        node->swift_user = xstrdup(parts.v[4]);
        node->swift_password = xstrdup(parts.v[5]);
    }
    ok = true;
cleanup:
    sv_free_all(&parts);
    return ok;
}

/* raid_of - RAID level of a "RAIDn:<node>:<config>" spec, CFG_RAID_NONE for
 * a plain spec; false (message written) for a malformed RAID prefix. */
static bool raid_of(parse_ctx *p, const char *lab, const char *spec, cfg_raid *raid,
                    unsigned *index, const char **rest)
{
    *raid = CFG_RAID_NONE;
    if (!has_prefix_ci(spec, "RAID"))
        return true;
    const char *c1 = strchr(spec, ':');
    size_t plen = c1 ? (size_t)(c1 - spec) : strlen(spec);
    if (plen != 5 || (spec[4] != '0' && spec[4] != '1' && spec[4] != '5')) {
        fail(p, "%s: unknown RAID level (expected RAID0, RAID1 or RAID5)", lab);
        return false;
    }
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) {
        fail(p, "%s: expected <RAID0|RAID1|RAID5>:<node>:<config>", lab);
        return false;
    }
    char digits[8];
    size_t n = (size_t)(c2 - c1 - 1);
    unsigned long long idx;
    if (n == 0 || n >= sizeof digits) {
        fail(p, "%s: RAID node index must be an integer from 0 to %d", lab, CFG_BLOCKSTORE_MAX - 1);
        return false;
    }
    memcpy(digits, c1 + 1, n);
    digits[n] = '\0';
    if (!parse_uint(digits, CFG_BLOCKSTORE_MAX - 1, &idx)) {
        fail(p, "%s: RAID node index must be an integer from 0 to %d", lab, CFG_BLOCKSTORE_MAX - 1);
        return false;
    }
    *raid = spec[4] == '0' ? CFG_RAID0 : spec[4] == '1' ? CFG_RAID1 : CFG_RAID5;
    *index = (unsigned)idx;
    *rest = c2 + 1;
    return true;
}

static const char *raid_name(cfg_raid r)
{
    return r == CFG_RAID0 ? "RAID0" : r == CFG_RAID1 ? "RAID1" : r == CFG_RAID5 ? "RAID5" : "";
}

/*
 * parse_blockstore - every -b of the winning source into c->blockstore
 *
 * One plain spec, or RAID specs all of one level whose node indexes are
 * exactly 0..n-1 (Parsec's _parse_blockstore_params), RAID5 with 3 nodes
 * at least (it needs a parity node and two data nodes).
 */
static bool parse_blockstore(parse_ctx *p, cfg_t *c, const strvec *specs, cfg_src src)
{
    char lab[128];
    size_t n = specs->n;
    cfg_raid level = CFG_RAID_NONE;
    unsigned *index = xcalloc(n, sizeof *index);
    const char **rest = xcalloc(n, sizeof *rest);
    unsigned count[CFG_BLOCKSTORE_MAX] = {0};
    bool ok = false;
    label(lab, sizeof lab, O_BLOCKSTORE, src);

    for (size_t i = 0; i < n; i++) {
        const char *spec = specs->v[i];
        cfg_raid r;
        if (!*spec) {
            fail(p, "%s: empty blockstore spec", lab);
            goto cleanup;
        }
        if (strlen(spec) > CFG_VALUE_MAX) {
            fail(p, "%s: longer than %d bytes", lab, CFG_VALUE_MAX);
            goto cleanup;
        }
        for (const char *s = spec; *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                fail(p, "%s: control characters are not allowed", lab);
                goto cleanup;
            }
        if (!raid_of(p, lab, spec, &r, &index[i], &rest[i]))
            goto cleanup;
        if (i > 0 && r != level) {
            if (r == CFG_RAID_NONE || level == CFG_RAID_NONE)
                fail(p,
                     "%s: several blockstores need <RAID0|RAID1|RAID5>:<node>:<config> "
                     "for each of them",
                     lab);
            else
                fail(p, "%s: mixes %s and %s nodes (one RAID level only)", lab, raid_name(level),
                     raid_name(r));
            goto cleanup;
        }
        level = r;
    }
    if (level == CFG_RAID_NONE && n > 1) {
        fail(p,
             "%s: several blockstores need <RAID0|RAID1|RAID5>:<node>:<config> for each of "
             "them",
             lab);
        goto cleanup;
    }
    if (level == CFG_RAID5 && n < 3) {
        fail(p, "%s: RAID5 needs at least 3 nodes, got %zu", lab, n);
        goto cleanup;
    }
    if (level != CFG_RAID_NONE) {
        for (size_t i = 0; i < n; i++)
            if (index[i] < n)
                count[index[i]]++;
        for (size_t x = 0; x < n; x++) {
            if (count[x] == 0) {
                fail(p, "%s: RAID node %zu is missing (nodes must be numbered 0 to %zu)", lab, x,
                     n - 1);
                goto cleanup;
            }
            if (count[x] > 1) {
                fail(p, "%s: RAID node %zu is given more than once", lab, x);
                goto cleanup;
            }
        }
    }

    c->blockstore.raid = level;
    c->blockstore.n_nodes = n;
    c->blockstore.nodes = xcalloc(n, sizeof *c->blockstore.nodes);
    for (size_t i = 0; i < n; i++) {
        char what[48] = "";
        size_t slot = level == CFG_RAID_NONE ? 0 : index[i];
        if (level != CFG_RAID_NONE)
            snprintf(what, sizeof what, " (RAID node %zu)", slot);
        if (!parse_node(p, lab, what, level == CFG_RAID_NONE ? specs->v[i] : rest[i],
                        &c->blockstore.nodes[slot]))
            goto cleanup;
    }
    ok = true;
cleanup:
    free(index);
    free(rest);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Applying values                                                           */

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
    c->sentry_environment = xstrdup("production");
    c->organization_initial_active_users_limit = -1;
    c->organization_initial_user_profile_outsider_allowed = true;
    c->max_request_size = 1048576;
    c->notifyd_host = xstrdup("127.0.0.1");
    c->notifyd_port = 6778;
}

static bool *flag_field(cfg_t *c, opt_id id)
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
    default:
        return NULL;
    }
}

static bool flag_get(const cfg_t *c, opt_id id)
{
    switch (id) {
    case O_EMAIL_USE_SSL:
        return c->email_use_ssl;
    case O_EMAIL_USE_TLS:
        return c->email_use_tls;
    case O_SPONTANEOUS:
        return c->spontaneous_organization_bootstrap;
    case O_DEBUG:
        return c->debug;
    case O_DEV:
        return c->dev;
    case O_DRY_RUN:
        return c->dry_run;
    default:
        return false;
    }
}

/* apply - validate v and store it in c; v comes from p->src[id]. */
static bool apply(parse_ctx *p, cfg_t *c, opt_id id, const char *v)
{
    char lab[128];
    const char *why;
    int n;
    label(lab, sizeof lab, id, p->src[id]);

    /* Rules for every value: bounded, one line of printable text. */
    if (strlen(v) > CFG_VALUE_MAX) {
        fail(p, "%s: longer than %d bytes", lab, CFG_VALUE_MAX);
        return false;
    }
    for (const char *s = v; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            fail(p, "%s: control characters are not allowed", lab);
            return false;
        }
    if (opts[id].kind == K_FLAG) {
        bool b;
        if (!parse_bool(v, &b))
            return fail_value(p, id, v,
                              "expected a boolean (1, true, yes, on or 0, false, no, off)");
        *flag_field(c, id) = b;
        return true;
    }
    if (!*v) {
        fail(p, "%s: must not be empty", lab);
        return false;
    }

    switch (id) {
    case O_HOST:
    case O_NOTIFYD_HOST:
        if (!host_ok(v, strlen(v)))
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
        if ((!has_prefix_ci(v, "postgresql://") && !has_prefix_ci(v, "postgres://")))
            return fail_value(p, id, v, "expected MOCKED or a postgresql:// URL");
        set_str(&c->db, v);
        return true;
    case O_DB_MIN:
        return get_int(p, id, v, 0, 1000, &c->db_min_connections);
    case O_DB_MAX:
        return get_int(p, id, v, 1, 1000, &c->db_max_connections);
    case O_MAX_ATTEMPTS:
        return get_int(p, id, v, 0, 1000000, &c->maximum_database_connection_attempts);
    case O_PAUSE:
        if (!parse_seconds(v, 86400, &c->pause_before_retry_database_connection))
            return fail_value(p, id, v, "expected a number of seconds from 0 to 86400");
        return true;
    case O_ADMIN_TOKEN:
        /* It travels in an Authorization header: visible ASCII only. */
        for (const char *s = v; *s; s++)
            if (*s <= ' ' || *s >= 0x7f)
                return fail_value(p, id, v, "expected printable ASCII without spaces");
        set_str(&c->administration_token, v);
        return true;
    case O_SSL_KEYFILE:
    case O_SSL_CERTFILE:
        if (!file_readable(v, &why)) {
            char q[300];
            fail(p, "%s: cannot read %s: %s", lab, quote(q, sizeof q, v), why);
            return false;
        }
        set_str(id == O_SSL_KEYFILE ? &c->ssl_keyfile : &c->ssl_certfile, v);
        return true;
    case O_FORWARD_PROTO: {
        const char *colon = strchr(v, ':');
        if (!colon || strchr(colon + 1, ':') || !token_ok(v, (size_t)(colon - v)) || !colon[1])
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
        if (!backend_addr_ok(v))
            return fail_value(p, id, v, "expected parsec://<host>[:<port>][?no_ssl=true]");
        set_str(&c->backend_addr, v);
        return true;
    case O_EMAIL_HOST:
        if (strcmp(v, "MOCKED") != 0 && !host_ok(v, strlen(v)))
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
        if (!email_sender_ok(v))
            return fail_value(p, id, v, "expected an email address or \"Name <address>\"");
        set_str(&c->email_sender, v);
        return true;
    case O_WEBHOOK:
        if (!http_url_ok(v, false))
            return fail_value(p, id, v, "expected an http:// or https:// URL");
        set_str(&c->organization_bootstrap_webhook, v);
        return true;
    case O_USERS_LIMIT:
        if (!get_int(p, id, v, 0, INT32_MAX, &n))
            return false;
        c->organization_initial_active_users_limit = n;
        return true;
    case O_OUTSIDER:
        if (!parse_bool(v, &c->organization_initial_user_profile_outsider_allowed))
            return fail_value(p, id, v,
                              "expected a boolean (1, true, yes, on or 0, false, no, off)");
        return true;
    case O_SENTRY_DSN:
        if (!http_url_ok(v, true))
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
            if (!colon || (colon != v && !host_ok(v, (size_t)(colon - v))) ||
                !parse_uint(colon + 1, 65535, &port) || port == 0)
                return fail_value(p, id, v,
                                  "expected a unix socket path (with a '/') or <host>:<port>");
        }
        set_str(&c->fcgi_socket, v);
        return true;
    case O_MAX_REQUEST_SIZE: {
        unsigned long long bytes;
        if (!parse_uint(v, 67108864, &bytes) || bytes < 4096)
            return fail_value(p, id, v, "expected a number of bytes from 4096 to 67108864");
        c->max_request_size = (size_t)bytes;
        return true;
    }
    default:
        fail(p, "%s: cannot be set this way", lab);
        return false;
    }
}

/* dev_fill - what --dev gives to the settings no source gave. */
static bool dev_fill(parse_ctx *p, cfg_t *c)
{
    static const struct {
        opt_id id;
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

static bool cross_check(parse_ctx *p, cfg_t *c)
{
    char a[128], b[128];
    if (c->db_min_connections > c->db_max_connections) {
        fail(p, "%s: %d is above %s (%d)", label(a, sizeof a, O_DB_MIN, p->src[O_DB_MIN]),
             c->db_min_connections, label(b, sizeof b, O_DB_MAX, p->src[O_DB_MAX]),
             c->db_max_connections);
        return false;
    }
    if (!c->ssl_keyfile != !c->ssl_certfile) {
        opt_id given = c->ssl_keyfile ? O_SSL_KEYFILE : O_SSL_CERTFILE;
        opt_id missing = c->ssl_keyfile ? O_SSL_CERTFILE : O_SSL_KEYFILE;
        fail(p, "%s: needs --%s (or %s) as well", label(a, sizeof a, given, p->src[given]),
             opts[missing].name, opts[missing].env);
        return false;
    }
    if (c->email_use_ssl && c->email_use_tls) {
        fail(p, "%s: cannot be combined with %s (implicit TLS or STARTTLS: choose one)",
             label(a, sizeof a, O_EMAIL_USE_SSL, p->src[O_EMAIL_USE_SSL]),
             label(b, sizeof b, O_EMAIL_USE_TLS, p->src[O_EMAIL_USE_TLS]));
        return false;
    }
    return true;
}

/* email_check - after --dev: a real SMTP host needs a sender; MOCKED gets
 * Parsec's default one. */
static bool email_check(parse_ctx *p, cfg_t *c)
{
    char a[128];
    if (!c->email_host || c->email_sender)
        return true;
    if (strcmp(c->email_host, "MOCKED") == 0) {
        set_str(&c->email_sender, DEFAULT_EMAIL_SENDER);
        return true;
    }
    fail(p, "%s: needs --email-sender (or PARSEC_EMAIL_SENDER) unless it is MOCKED",
         label(a, sizeof a, O_EMAIL_HOST, p->src[O_EMAIL_HOST]));
    return false;
}

cfg_parse_result cfg_parse(cfg_t *out, int argc, char **argv, char **envp, char *err, size_t errlen,
                           char ***positional, int *npositional)
{
    parse_ctx p = {.err = err, .errlen = errlen, .envp = envp ? envp : environ};
    strvec pos = {0}, words = {0};
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
    const char *cmd = env_get(p.envp, "PARSEC_CMD_ARGS");
    if (cmd) {
        if (!split_cmd_args(&p, cmd, &words))
            goto cleanup;
        /* at most CFG_CMD_ARGS_WORDS words: the int cannot overflow */
        r = scan(&p, (int)words.n, words.v, SRC_CMD_ARGS, NULL);
        if (r != CFG_PARSE_OK)
            goto cleanup;
        r = CFG_PARSE_ERROR;
    }
    if (!collect_env(&p))
        goto cleanup;

    for (int id = 0; id < O_COUNT; id++) {
        for (int s = SRC_ARGV; s >= SRC_ENV; s--) {
            if (id == O_BLOCKSTORE ? p.multi[s].n == 0 : p.val[s][id] == NULL)
                continue;
            p.src[id] = (cfg_src)s;
            if (id == O_BLOCKSTORE ? !parse_blockstore(&p, out, &p.multi[s], (cfg_src)s)
                                   : !apply(&p, out, (opt_id)id, p.val[s][id]))
                goto cleanup;
            break;
        }
    }
    if (!cross_check(&p, out))
        goto cleanup;
    if (out->dev && !dev_fill(&p, out))
        goto cleanup;
    if (!email_check(&p, out))
        goto cleanup;

    if (positional && pos.n) {
        sv_push(&pos, NULL);
        *positional = pos.v;
        *npositional = (int)pos.n - 1;
        pos.v = NULL;
    }
    r = CFG_PARSE_OK;
cleanup:
    free(pos.v);
    free(words.v);
    for (int s = 0; s < SRC_COUNT; s++)
        free(p.multi[s].v);
    sv_free_all(&p.owned);
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
                        &c->organization_bootstrap_webhook,
                        &c->sentry_dsn,
                        &c->sentry_environment,
                        &c->fcgi_socket,
                        &c->notifyd_host};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free(*strings[i]);
    for (size_t i = 0; i < c->blockstore.n_nodes; i++)
        node_free(&c->blockstore.nodes[i]);
    free(c->blockstore.nodes);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------ */
/* Required settings                                                         */

static bool is_given(const cfg_t *c, opt_id id)
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
    case O_WEBHOOK:
        return c->organization_bootstrap_webhook;
    case O_SENTRY_DSN:
        return c->sentry_dsn;
    case O_FCGI_SOCKET:
        return c->fcgi_socket;
    default:
        return true; /* has a default */
    }
}

bool cfg_require(const cfg_t *c, const char *setting, char *err, size_t errlen)
{
    parse_ctx p = {.err = err, .errlen = errlen};
    int id = find_long(setting, strlen(setting));
    if (id < 0) {
        fail(&p, "unknown setting --%s required", setting);
        return false;
    }
    if (is_given(c, (opt_id)id))
        return true;
    if (opts[id].env)
        fail(&p, "--%s is required (or %s)", opts[id].name, opts[id].env);
    else
        fail(&p, "--%s is required", opts[id].name);
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
    fprintf(f, "usage: %s [SETTINGS]\n\n", command ? command : program_invocation_short_name);
    fputs("Each setting: flag (short flag), variable, default, meaning.\n"
          "Precedence: command-line flag > the same flag inside PARSEC_CMD_ARGS > PARSEC_*\n"
          "variable > --dev > default.  An empty variable counts as unset.\n\n",
          f);
    for (int id = 0; id < O_COUNT; id++) {
        const opt_t *o = &opts[id];
        fprintf(f, "  --%s", o->name);
        if (o->metavar)
            fprintf(f, " %s", o->metavar);
        if (o->shortopt)
            fprintf(f, ", -%c %s", o->shortopt, o->metavar);
        fprintf(f, "\n      %s\n      [variable: %s; default: %s%s]\n", o->help,
                o->env ? o->env : "none", o->deflt ? o->deflt : "none",
                o->kind == K_MULTI ? "; repeatable, variable whitespace-separated" : "");
    }
    fputs("\n  --help, -h      this text\n  --version       the version\n\n"
          "PARSEC_CMD_ARGS holds more flags, split like a shell would ('...' literal,\n"
          "\"...\" expanding) with $VAR and ${VAR} replaced from the environment, e.g.\n"
          "  DB_URL=postgres:///parsec PARSEC_CMD_ARGS='--db=$DB_URL --host=0.0.0.0'\n"
          "A boolean variable takes 1/true/yes/on or 0/false/no/off.\n"
          "See docs/configuration.md.\n",
          f);
}

/* escape_field - a blockstore field as a spec writes it: '\' and ':' escaped. */
static void escape_field(sbuf *s, const char *v)
{
    for (; v && *v; v++) {
        if (*v == ':' || *v == '\\')
            sb_putc(s, '\\');
        sb_putc(s, *v);
    }
}

static void describe_node(sbuf *s, const cfg_blockstore_node *n)
{
    switch (n->kind) {
    case CFG_BS_MOCKED:
        sb_puts(s, "MOCKED");
        break;
    case CFG_BS_POSTGRESQL:
        sb_puts(s, "POSTGRESQL");
        break;
    case CFG_BS_S3:
        sb_puts(s, "s3:");
        escape_field(s, n->s3_endpoint);
        sb_putc(s, ':');
        escape_field(s, n->s3_region);
        sb_putc(s, ':');
        escape_field(s, n->s3_bucket);
        sb_putc(s, ':');
        escape_field(s, n->s3_key);
        sb_puts(s, ":***");
        break;
    case CFG_BS_SWIFT:
        sb_puts(s, "swift:");
        escape_field(s, n->swift_auth_url);
        sb_putc(s, ':');
        escape_field(s, n->swift_tenant);
        sb_putc(s, ':');
        escape_field(s, n->swift_container);
        sb_putc(s, ':');
        escape_field(s, n->swift_user);
        sb_puts(s, ":***");
        break;
    default:
        sb_puts(s, "(unset)");
        break;
    }
}

/* redact_dsn - a Sentry DSN with its key (everything before '@') masked. */
static char *redact_dsn(const char *dsn)
{
    const char *sep = strstr(dsn, "://");
    const char *at = strrchr(dsn, '@');
    if (!sep || !at || at < sep)
        return xstrdup("***");
    return xasprintf("%.*s***%s", (int)(sep + 3 - dsn), dsn, at);
}

static void put_str(FILE *f, const char *name, const char *v)
{
    fprintf(f, "%s=%s\n", name, v ? v : "(unset)");
}

void cfg_describe(const cfg_t *c, FILE *f)
{
    char *tmp;
    for (int id = 0; id < O_COUNT; id++) {
        const char *name = opts[id].name;
        switch ((opt_id)id) {
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
            sbuf s = {0};
            for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
                if (i)
                    sb_putc(&s, ' ');
                if (c->blockstore.raid != CFG_RAID_NONE) {
                    char prefix[32];
                    snprintf(prefix, sizeof prefix, "%s:%zu:", raid_name(c->blockstore.raid), i);
                    sb_puts(&s, prefix);
                }
                describe_node(&s, &c->blockstore.nodes[i]);
            }
            put_str(f, name, s.b);
            free(s.b);
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
            for (size_t i = 0; i < sizeof log_level_names / sizeof *log_level_names; i++)
                if (log_level_values[i] == c->log_level)
                    put_str(f, name, log_level_names[i]);
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
            tmp = c->sentry_dsn ? redact_dsn(c->sentry_dsn) : NULL;
            put_str(f, name, tmp);
            free(tmp);
            break;
        case O_SENTRY_ENV:
            put_str(f, name, c->sentry_environment);
            break;
        case O_FCGI_SOCKET:
            put_str(f, name, c->fcgi_socket);
            break;
        case O_MAX_REQUEST_SIZE:
            fprintf(f, "%s=%zu\n", name, c->max_request_size);
            break;
        case O_NOTIFYD_HOST:
            put_str(f, name, c->notifyd_host);
            break;
        case O_NOTIFYD_PORT:
            fprintf(f, "%s=%d\n", name, c->notifyd_port);
            break;
        case O_EMAIL_USE_SSL:
        case O_EMAIL_USE_TLS:
        case O_SPONTANEOUS:
        case O_DEBUG:
        case O_DEV:
        case O_DRY_RUN:
            put_str(f, name, flag_get(c, (opt_id)id) ? "true" : "false");
            break;
        case O_COUNT:
            break;
        }
    }
}

/* redact_query - copy a query string, values of *password parameters masked. */
static void redact_query(sbuf *s, const char *q)
{
    while (*q) {
        size_t plen = strcspn(q, "&#");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (eq && klen >= 8 && strncasecmp(q + klen - 8, "password", 8) == 0) {
            sb_put(s, q, klen + 1);
            sb_puts(s, "***");
        } else {
            sb_put(s, q, plen);
        }
        q += plen;
        if (*q == '&') {
            sb_putc(s, '&');
            q++;
        } else if (*q == '#') {
            sb_puts(s, q);
            break;
        }
    }
}

/*
 * cfg_redact_url - see cfg.h.  The user part ends at the LAST '@' after
 * "://": a password with an unencoded '@' or '/' is then masked whole
 * rather than half shown, at the price of masking odd URLs too much.
 */
char *cfg_redact_url(const char *url)
{
    if (!url)
        return NULL;
    sbuf s = {0};
    const char *sep = strstr(url, "://");
    const char *rest = url;
    if (sep) {
        const char *auth = sep + 3;
        const char *at = strrchr(auth, '@');
        sb_put(&s, url, (size_t)(auth - url));
        rest = auth;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                sb_put(&s, auth, (size_t)(colon - auth) + 1);
                sb_puts(&s, "***");
            } else {
                sb_put(&s, auth, (size_t)(at - auth));
            }
            rest = at;
        }
    }
    const char *q = strchr(rest, '?');
    if (q) {
        sb_put(&s, rest, (size_t)(q - rest) + 1);
        redact_query(&s, q + 1);
    } else {
        sb_puts(&s, rest);
    }
    return sb_steal(&s);
}
