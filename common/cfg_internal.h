/*
 * common/cfg_internal.h - what the files of the configuration parser share
 *
 * Private to common/cfg*.c; everything else includes cfg.h.  The parser is
 * one module in several files, one concern each:
 *   cfg.c            the settings table, collecting flags and variables,
 *                    precedence, applying values, --dev, --help, describing;
 *   cfg_args.c       the environment: PARSEC_CMD_ARGS split into words with
 *                    $VAR expansion;
 *   cfg_value.c      checks of single values (integers, booleans, hosts,
 *                    URLs, email addresses, files);
 *   cfg_blockstore.c blockstore and RAID specs: parsing, escaping, freeing;
 *   cfg_redact.c     secrets masked in URLs and DSNs before they are shown;
 *   cfg_file.c       a value read from a file (--NAME-file, PARSEC_NAME_FILE).
 * The short enum constants (SRC_*, O_*, K_*, R_*) are only visible here.
 */
#ifndef PARSEC_CFG_INTERNAL_H
#define PARSEC_CFG_INTERNAL_H

#include "cfg.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>

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
    O_EMAIL_CA_FILE,
    O_EMAIL_CONNECT_TIMEOUT,
    O_EMAIL_TIMEOUT,
    O_SPONTANEOUS,
    O_WEBHOOK,
    O_USERS_LIMIT,
    O_OUTSIDER,
    O_SENTRY_DSN,
    O_SENTRY_ENV,
    O_DEBUG,
    O_DEV,
    O_FCGI_SOCKET,
    O_FCGI_LISTEN_BACKLOG,
    O_MAX_REQUEST_SIZE,
    O_WORKER_THREADS,
    O_NOTIFYD_HOST,
    O_NOTIFYD_PORT,
    O_DRY_RUN,
    O_BS_CONNECT_TIMEOUT,
    O_BS_TIMEOUT,
    O_BS_PARTIAL_CREATE_OK,
    O_METRICS_TOKEN,
    O_METRICS_DIR,
    O_COUNT
} cfg_opt_id;

typedef enum {
    K_VALUE, /* --name VALUE, last one wins */
    K_FLAG,  /* --name, no value; its variable holds a boolean */
    K_MULTI, /* --name VALUE, repeatable; its variable holds whitespace-separated values */
} cfg_opt_kind;

/* How a value may be echoed (errors, cfg_describe). */
typedef enum { R_NONE, R_SECRET, R_URL, R_DSN, R_BLOCKSTORE } cfg_opt_redact;

typedef struct {
    const char *name; /* long flag without "--" */
    char shortopt;    /* 0: none */
    const char *env;  /* NULL: no variable */
    cfg_opt_kind kind;
    const char *metavar;
    const char *deflt; /* for --help; the real default is set by set_defaults() */
    cfg_opt_redact redact;
    const char *help;
} cfg_opt_t;

/* The settings table (cfg.c), indexed by cfg_opt_id. */
extern const cfg_opt_t cfg_opts[O_COUNT];

/* The state of one cfg_parse() call. */
typedef struct {
    char *err;
    size_t errlen;
    char **envp;
    /* Raw text per source and setting (flags: "1"); pointers into argv,
     * envp or words. */
    const char *val[SRC_COUNT][O_COUNT];
    strvec_t multi[SRC_COUNT]; /* blockstore specs per source; strings not owned */
    strvec_t owned;            /* strings the parse allocated (PARSEC_CMD_ARGS words...) */
    cfg_src src[O_COUNT];      /* where each effective value came from */
    bool from_dev[O_COUNT];
    /* --NAME-file / PARSEC_NAME_FILE paths per source and setting. */
    const char *file[SRC_COUNT][O_COUNT];
    bool from_file[O_COUNT];  /* the effective value was read from a file */
    const cfg_command_t *cmd; /* NULL: every setting, nothing required */
    strvec_t warnings;        /* owned lines, moved into cfg_t.warnings */
} cfg_parse_ctx;

/* cfg_file_ok - does the setting take --NAME-file and PARSEC_NAME_FILE?
 * Those whose value may hold a secret: the ones never echoed. */
static inline bool cfg_file_ok(int id)
{
    return cfg_opts[id].redact != R_NONE;
}

/* ---- cfg.c: errors ----------------------------------------------------- */

/* cfg_fail - write the message into the caller's err buffer, one line.  No
 * program name: each binary prints "<program>: <err>" itself. */
void cfg_fail(cfg_parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cfg_label - how a message names a setting: by the flag, or by the variable
 * when the value came from one ("--db-file", "PARSEC_DB_FILE" when file:
 * it was read from a file); written into buf, returned. */
const char *cfg_label(char *buf, size_t size, cfg_opt_id id, cfg_src src, bool file);
/* cfg_quote - v between double quotes, non-printable bytes escaped, at most
 * 64 bytes of it, into buf; for echoing a value that is not a secret. */
const char *cfg_quote(char *buf, size_t size, const char *v);

/* ---- character classes --------------------------------------------------- */

static inline bool cfg_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool cfg_is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- cfg_args.c: the environment and PARSEC_CMD_ARGS ---------------------- */

/* cfg_env_getn - the value of the variable named name[0..len) in envp, or
 * NULL; a pointer into envp. */
const char *cfg_env_getn(char **envp, const char *name, size_t len);
/* cfg_env_get - the variable's value; unset and empty are the same (as
 * click), both NULL. */
const char *cfg_env_get(char **envp, const char *name);
/* cfg_split_cmd_args - PARSEC_CMD_ARGS into words (shell-like quoting, $VAR
 * expansion, never running anything).  The words are allocated into
 * p->owned and pushed (not owned) onto words.  False after cfg_fail(). */
bool cfg_split_cmd_args(cfg_parse_ctx *p, const char *s, strvec_t *words);

/* ---- cfg_value.c: checks of one value ------------------------------------- */

/* cfg_parse_uint - decimal digits only (no sign, no spaces), at most max. */
bool cfg_parse_uint(const char *v, unsigned long long max, unsigned long long *out);
/* cfg_parse_seconds - digits[.digits], no exponent, no sign, within [0, max]. */
bool cfg_parse_seconds(const char *v, double max, double *out);
/* cfg_parse_bool - click's words, any case, surrounding spaces ignored. */
bool cfg_parse_bool(const char *v, bool *out);
/* cfg_host_ok - a host name or address: letters, digits and . - _ : % [ ]. */
bool cfg_host_ok(const char *s, size_t len);
/* cfg_token_ok - an HTTP header name (RFC 9110 token). */
bool cfg_token_ok(const char *s, size_t len);
/* cfg_has_prefix_ci - s starts with prefix, ASCII case ignored. */
bool cfg_has_prefix_ci(const char *s, const char *prefix);
/* cfg_http_url_ok - http(s)://[user@]host[:port][/...]; with need_user, the
 * user part (the Sentry DSN key) must be there. */
bool cfg_http_url_ok(const char *v, bool need_user);
/* cfg_backend_addr_ok - parsec://host[:port][/][?no_ssl=true|false]. */
bool cfg_backend_addr_ok(const char *v);
/* cfg_email_sender_ok - "addr" or "Name <addr>". */
bool cfg_email_sender_ok(const char *v);
/* cfg_file_readable - a regular file we can open for reading; a static
 * errno-style reason in *why otherwise. */
bool cfg_file_readable(const char *path, const char **why);

/* ---- cfg_blockstore.c ------------------------------------------------------ */

/* cfg_blockstore_parse - every -b of the winning source src (specs, not
 * owned) into c->blockstore; false after cfg_fail(). */
bool cfg_blockstore_parse(cfg_parse_ctx *p, cfg_t *c, const strvec_t *specs, cfg_src src);
/* cfg_blockstore_free - free every node of bs and zero it. */
void cfg_blockstore_free(cfg_blockstore *bs);

/* ---- cfg_redact.c ---------------------------------------------------------- */

/* cfg_redact_dsn - a Sentry DSN with its key (everything before '@') masked;
 * malloc'd. */
char *cfg_redact_dsn(const char *dsn);

#endif
