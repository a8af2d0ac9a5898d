/*
 * common/cfg.h - the one configuration parser of every binary
 *
 * Every setting of the hosting guide (shared/reference/hosting_server.rst)
 * plus those Parsec 2.12 had beside them, read from command-line flags,
 * PARSEC_* environment variables and PARSEC_CMD_ARGS.  Precedence is written
 * in docs/configuration.md.  Web servers pass settings to FastCGI workers
 * through the environment (FcgidInitialEnv, lighttpd bin-environment), so
 * every binary reads the same variables.
 *
 * Ownership: a cfg_t and every string in it belong to the cfg_t; free with
 * cfg_free().  After parsing it is read-only and may be shared by threads.
 */
#ifndef PARSEC_CFG_H
#define PARSEC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CFG_LOG_DEBUG = 10,
    CFG_LOG_INFO = 20,
    CFG_LOG_WARNING = 30,
    CFG_LOG_ERROR = 40,
    CFG_LOG_CRITICAL = 50,
} cfg_log_level;

typedef enum { CFG_LOG_CONSOLE, CFG_LOG_JSON } cfg_log_format;

typedef enum {
    CFG_BS_NONE = 0, /* not configured */
    CFG_BS_MOCKED,
    CFG_BS_POSTGRESQL,
    CFG_BS_S3,
    CFG_BS_SWIFT,
} cfg_blockstore_kind;

typedef enum { CFG_RAID_NONE = 0, CFG_RAID0, CFG_RAID1, CFG_RAID5 } cfg_raid;

/* One blockstore node; only the fields of its kind are set. */
typedef struct {
    cfg_blockstore_kind kind;
    /* S3: endpoint is NULL for AWS's default; otherwise a full URL, "https://"
     * prepended when the spec carried no scheme (the guide's rule). */
    char *s3_endpoint, *s3_region, *s3_bucket, *s3_key, *s3_secret;
    /* Swift: auth_url is a full URL (same scheme rule). */
    char *swift_auth_url, *swift_tenant, *swift_container, *swift_user, *swift_password;
} cfg_blockstore_node;

typedef struct {
    cfg_raid raid;              /* CFG_RAID_NONE: exactly one node */
    size_t n_nodes;             /* 0 when no blockstore was given */
    cfg_blockstore_node *nodes; /* ordered by RAID node index */
} cfg_blockstore;

typedef struct cfg {
    /* --- hosting guide --- */
    char *host; /* default 127.0.0.1 */
    int port;   /* default 6777 */
    char *db;   /* "MOCKED" or a postgresql:// / postgres:// URL; NULL if unset */
    int db_min_connections; /* default 5 */
    int db_max_connections; /* default 7 */
    cfg_blockstore blockstore;
    char *administration_token; /* NULL: administration API closed */
    char *ssl_keyfile, *ssl_certfile;
    char *forward_proto_header; /* from "Header:value"; NULL when unset */
    char *forward_proto_value;
    cfg_log_level log_level;   /* default WARNING */
    cfg_log_format log_format; /* default CONSOLE */
    char *log_file;            /* NULL: stderr */
    char *backend_addr;        /* parsec://host[:port][?no_ssl=true] */
    char *email_host;          /* "MOCKED" writes mails to a temporary file */
    int email_port;            /* default 25 */
    char *email_host_user, *email_host_password;
    bool email_use_ssl, email_use_tls;
    char *email_language; /* "en" (default) or "fr" */
    char *email_sender;
    bool spontaneous_organization_bootstrap;
    char *organization_bootstrap_webhook;
    char *sentry_dsn;
    char *sentry_environment; /* default "production" */
    bool debug, dev;

    /* --- Parsec 2.12 settings beside them --- */
    long organization_initial_active_users_limit; /* -1: unlimited (default) */
    bool organization_initial_user_profile_outsider_allowed; /* default true */
    int maximum_database_connection_attempts;     /* 0: retry forever */
    double pause_before_retry_database_connection; /* seconds */

    /* --- ours --- */
    char *fcgi_socket;        /* --fcgi-socket: standalone worker (nginx, spawn-fcgi) */
    size_t max_request_size;  /* --max-request-size: HTTP body limit, bytes */
    char *notifyd_host;       /* --notifyd-host */
    int notifyd_port;         /* --notifyd-port */
} cfg_t;

/* What cfg_parse() returns. */
typedef enum {
    CFG_PARSE_OK = 0,
    CFG_PARSE_EXIT = 1,  /* --help/--version printed: exit 0 */
    CFG_PARSE_ERROR = 2, /* one line written to err: print it, exit 2 */
} cfg_parse_result;

/*
 * cfg_parse - fill *out from argv, envp and PARSEC_CMD_ARGS
 *
 * argv[0..argc) are the arguments after the subcommand (argv[0] is the first
 * option, not the program name).  envp is the environment to read (NULL:
 * environ), so tests need not touch the process environment.  On error a
 * one-line message naming the setting and what was expected is written to
 * err (NUL-terminated, truncated to errlen) and *out is left freed.
 * positional/npositional receive non-option arguments when not NULL (used by
 * `parsec core create_organization <org>`); otherwise they are an error.
 */
cfg_parse_result cfg_parse(cfg_t *out, int argc, char **argv, char **envp, char *err,
                           size_t errlen, char ***positional, int *npositional)
    __attribute__((warn_unused_result));

void cfg_free(cfg_t *c);

/* cfg_usage - the --help text: every setting, its flag, variable, default. */
void cfg_usage(FILE *f, const char *command);

/*
 * cfg_describe - the effective settings as "name=value" lines, every secret
 * (administration token, email password, blockstore keys and passwords,
 * database URL password, Sentry DSN key) replaced by "***".  For start-up logs.
 */
void cfg_describe(const cfg_t *c, FILE *f);

/* cfg_redact_url - copy of url with any password ("user:pass@") masked; free(). */
char *cfg_redact_url(const char *url);

#endif
