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
    /* S3: endpoint is NULL for AWS's default; otherwise a full http:// or
     * https:// URL, "https://" prepended when the spec carried no scheme (the
     * guide's rule).  s3_region may be "" (the client's default region);
     * bucket, key and secret are never empty.  Swift: every field non-empty. */
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
    char *host;             /* default 127.0.0.1 */
    int port;               /* default 6777 */
    char *db;               /* "MOCKED" or a postgresql:// / postgres:// URL; NULL if unset */
    int db_min_connections; /* default 5, or db_max_connections when only that is given */
    int db_max_connections; /* default 7 */
    cfg_blockstore blockstore;
    char *administration_token; /* NULL: administration API closed */
    char *ssl_keyfile, *ssl_certfile;
    char *forward_proto_header; /* from "Header:value", lower-cased; NULL when unset */
    char *forward_proto_value;
    cfg_log_level log_level;   /* default WARNING */
    cfg_log_format log_format; /* default CONSOLE */
    char *log_file;            /* NULL: stderr */
    char *backend_addr;        /* parsec://host[:port][?no_ssl=true] */
    char *email_host;          /* "MOCKED" writes mails to a temporary file */
    int email_port;            /* default 25 */
    char *email_host_user, *email_host_password;
    /* As Parsec 2.12 used them (the guide's prose has them swapped):
     * email_use_ssl = implicit TLS from the first byte (usually port 465),
     * email_use_tls = plain connection upgraded with STARTTLS (usually 587).
     * Never both. */
    bool email_use_ssl, email_use_tls;
    char *email_language;         /* "en" (default) or "fr" */
    char *email_sender;           /* "addr" or "Name <addr>"; with email_host MOCKED and
                                   * no sender given: "no-reply@parsec.com" (Parsec's) */
    char *email_ca_file;          /* (ours) NULL: the system's CAs verify the SMTP server */
    double email_connect_timeout; /* (ours) seconds, default 10 */
    double email_timeout;         /* (ours) seconds for a whole SMTP delivery, default 30 */
    bool spontaneous_organization_bootstrap;
    char *organization_bootstrap_webhook;
    char *sentry_dsn;
    char *sentry_environment; /* default "production" */
    bool debug, dev;

    /* --- Parsec 2.12 settings beside them --- */
    long organization_initial_active_users_limit;            /* -1: unlimited (default) */
    bool organization_initial_user_profile_outsider_allowed; /* default true */
    /* Connection attempts in a row before giving up, default 10.  As in
     * Parsec, 0 and 1 both mean "give up at the first failure". */
    int maximum_database_connection_attempts;
    double pause_before_retry_database_connection; /* seconds, default 1.0 */

    /* --- ours --- */
    char *fcgi_socket;       /* --fcgi-socket: standalone worker (nginx, spawn-fcgi) */
    int fcgi_listen_backlog; /* --fcgi-listen-backlog: listen(2) backlog of that socket */
    size_t max_request_size; /* --max-request-size: HTTP body limit, bytes */
    int worker_threads;      /* --worker-threads: request threads of a worker; 0: twice
                              * db_max_connections (cfg_worker_threads) */
    char *notifyd_host;      /* --notifyd-host */
    int notifyd_port;        /* --notifyd-port */
    bool dry_run;            /* --dry-run: only `parsec backend migrate` reads it */
    /* Bounds of every call to an S3 or Swift node, seconds: connecting
     * (default 5) and the whole call (default 30). */
    double blockstore_connect_timeout, blockstore_timeout;
    /* RAID1: a create succeeds when one node took it; RAID5: when all but
     * one did.  Default false: every node (Parsec's default). */
    bool blockstore_partial_create_ok;
    /* --metrics-token: also opens the metrics endpoints; NULL when unset. */
    char *metrics_token;
    /* --metrics-dir: where a node's workers share their counters (default
     * /run/parsec/metrics; common/metrics.h). */
    char *metrics_dir;

    /* What the administrator should know but need not stop for (a secret
     * file other users may read), one line each, NULL-terminated; NULL when
     * none.  Log them once logging is open. */
    char **warnings;
} cfg_t;

/* cfg_worker_threads - the request threads a parsec-fcgi worker runs:
 * --worker-threads, or by default twice --db-max-connections, at most
 * CFG_WORKER_THREADS_MAX.  More threads than connections, so that a thread
 * waiting on the network after its COMMIT (a webhook, a mail, a blockstore)
 * holds no connection that another request needs. */
#define CFG_WORKER_THREADS_MAX 256
int cfg_worker_threads(const cfg_t *c);

/* What cfg_parse() returns. */
typedef enum {
    CFG_PARSE_OK = 0,
    CFG_PARSE_EXIT = 1,  /* --help/--version printed on stdout: exit 0 */
    CFG_PARSE_ERROR = 2, /* one line written to err: print it, exit 2 */
} cfg_parse_result;

/* Bounds applied to every input; a longer input is refused, never cut. */
#define CFG_VALUE_MAX      4096  /* bytes in one setting's value */
#define CFG_CMD_ARGS_MAX   65536 /* bytes in PARSEC_CMD_ARGS, and in one word of it once expanded */
#define CFG_CMD_ARGS_WORDS 1024  /* words in PARSEC_CMD_ARGS */
#define CFG_BLOCKSTORE_MAX 64    /* blockstore specs (RAID nodes) */

/*
 * What a command takes, for cfg_parse_command().
 *   name      the usage line of --help ("parsec backend migrate"); NULL: the
 *             program's name;
 *   settings  the long names (without "--") of the settings it reads,
 *             NULL-terminated; NULL: every setting.  --help lists only these,
 *             and another setting's flag on the command line is refused
 *             (its variable, or a flag in PARSEC_CMD_ARGS, is ignored: they
 *             are often shared by several commands);
 *   ignored   long names of settings it does not read although it reads
 *             every other (settings NULL), NULL-terminated, or NULL: treated
 *             as settings leaves them out (the worker and the TLS files of
 *             the guide, which a shared parsec.env may carry for another
 *             program: the worker must not fail on a key it cannot read);
 *   required  the long names of the settings it cannot do without (checked
 *             after --dev), NULL-terminated, or NULL.  Missing or given
 *             empty, each is refused with "--db is required (or PARSEC_DB)".
 * A setting the command does not read is neither checked nor applied from
 * a variable or PARSEC_CMD_ARGS: it keeps its default.
 */
typedef struct {
    const char *name;
    const char *const *settings;
    const char *const *ignored;
    const char *const *required;
} cfg_command_t;

/*
 * cfg_parse - fill *out from argv, envp and PARSEC_CMD_ARGS
 *
 * argv[0..argc) are the arguments after the subcommand (argv[0] is the first
 * option, not the program name).  envp is the environment to read (NULL:
 * environ), so tests need not touch the process environment.  On error a
 * one-line message naming the setting and what was expected is written to
 * err (NUL-terminated, truncated to errlen; no program name: print it as
 * "<program>: <err>") and *out is left freed; the message never contains a
 * secret value.  On CFG_PARSE_EXIT *out is freed too.
 * positional/npositional receive non-option arguments when not NULL (used by
 * `parsec core create_organization <org>`); otherwise they are an error.  On
 * CFG_PARSE_OK *positional is a malloc'd array (NULL-terminated, or NULL when
 * there is none) of pointers into argv: free() the array, not the strings.
 * Required settings are not checked here: see cfg_require().
 */
cfg_parse_result cfg_parse(cfg_t *out, int argc, char **argv, char **envp, char *err, size_t errlen,
                           char ***positional, int *npositional)
    __attribute__((warn_unused_result));
/* cfg_parse_command - cfg_parse() for the command cmd (NULL: as cfg_parse). */
cfg_parse_result cfg_parse_command(cfg_t *out, const cfg_command_t *cmd, int argc, char **argv,
                                   char **envp, char *err, size_t errlen, char ***positional,
                                   int *npositional) __attribute__((warn_unused_result));

/*
 * Secrets from files.  Every setting that may carry a secret (the database
 * URL, the blockstore specs, the administration token, the email password,
 * the webhook URL, the Sentry DSN: those never echoed) also takes
 * --NAME-file FILE and PARSEC_NAME_FILE=FILE; the file holds the value (the
 * blockstore's: one spec per line).  Within one source, the value and the
 * file are exclusive; across sources the usual precedence holds.
 *
 * cfg_secret_file - the content of path: a regular file of at most max
 * bytes, its trailing newlines (LF, CRLF) removed, neither empty nor holding
 * a NUL.  "/dev/fd/N" and "/proc/self/fd/N" name a descriptor a parent
 * handed down: it is closed once read.  *others_may_read (may be NULL):
 * the file's mode lets every user read it.  False with one line in err
 * (the path, never the content).  *value is malloc'd; the caller frees it.
 */
bool cfg_secret_file(const char *path, size_t max, char **value, bool *others_may_read, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* cfg_free - free every string of *c and zero it; safe to call twice. */
void cfg_free(cfg_t *c);

/*
 * cfg_require - check that a setting was given (by any source or --dev)
 *
 * setting is the long flag name without dashes ("db", "blockstore",
 * "administration-token"...).  Settings that always have a value (defaults)
 * pass.  On false, err holds one line for stderr, printed like cfg_parse's
 * (exit status 2).
 */
bool cfg_require(const cfg_t *c, const char *setting, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* cfg_require_run - what `parsec backend run` needs, as Parsec 2.12 required:
 * db, blockstore, administration-token, backend-addr, email-host. */
bool cfg_require_run(const cfg_t *c, char *err, size_t errlen) __attribute__((warn_unused_result));

/* cfg_usage - the --help text: every setting, its flag, variable, default.
 * command is shown in the usage line ("parsec backend run"); NULL: the
 * program's name. */
void cfg_usage(FILE *f, const char *command);
/* cfg_usage_command - the --help text of cmd: only its settings. */
void cfg_usage_command(FILE *f, const cfg_command_t *cmd);

/*
 * cfg_describe - the effective settings as "name=value" lines, one per
 * setting, named by their long flag, "(unset)" when not given.  Every secret
 * is replaced by "***": the administration token, the email password, the S3
 * secret and Swift password of blockstore specs (access key and user name are
 * identifiers and stay), passwords inside the database and webhook URLs, the
 * key part of the Sentry DSN.  For start-up logs.
 */
void cfg_describe(const cfg_t *c, FILE *f);

/* cfg_log_level_name - "DEBUG", "INFO", "WARNING", "ERROR" or "CRITICAL"
 * (a level between two names gets the lower one); static. */
const char *cfg_log_level_name(cfg_log_level level);

/* cfg_raid_name - "RAID0", "RAID1", "RAID5", or "" for CFG_RAID_NONE; static. */
const char *cfg_raid_name(cfg_raid r);

/*
 * cfg_blockstore_spec - node i of bs written back as a --blockstore value
 * ("RAID1:0:s3:..." for a RAID node), fields escaped so that cfg_parse()
 * reads back the same node.  With redact, the S3 secret or Swift password is
 * "***" (for logs).  Returns a malloc'd string; the caller frees it.
 */
char *cfg_blockstore_spec(const cfg_blockstore *bs, size_t i, bool redact);

/* cfg_redact_url - copy of url with any password masked: "user:***@host" and
 * every query parameter whose name ends in "password" ("?password=***").
 * Errs on the side of masking more when the URL is malformed.  NULL gives
 * NULL; otherwise the caller free()s the result. */
char *cfg_redact_url(const char *url);

#endif
