/*
 * cli/backend_run.c - `parsec backend run`: serve through lighttpd
 *
 * A foreground supervisor (docs/running.md is the user's side).  In order:
 *   1. settings (cfg_parse, cfg_require_run) and logging;
 *   2. what costs nothing to check: the binaries exist, the ports are free;
 *   3. the database: --db MOCKED starts a private cluster (common/pgcluster.h)
 *      and migrates it; a URL is checked reachable and up to date;
 *   4. parsec-notifyd, when installed, until it says it is ready;
 *   5. lighttpd in the foreground with a generated configuration
 *      (lighttpd_conf.h); it spawns the parsec-fcgi workers; until GET /health
 *      answers 200 through it;
 *   6. one line on stdout, then watch signals, children and their output;
 *   7. stop everything in reverse order and remove the run directory.
 *
 * Signals are turned into bytes on a pipe (the self-pipe trick) that the one
 * poll() loop reads, so nothing but write(2) runs in signal context.  The
 * children's stdout and stderr come back on pipes too: lines of our own
 * binaries (already formatted by their log.c) are copied verbatim into the
 * log destination, lighttpd's own messages are re-logged through log.h.  So
 * one process owns the log file, reopens it on SIGHUP, and workers dropped
 * to an unprivileged user need no access to it.
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 a part failed (to start or later),
 * 2 bad settings.  Every failure ends with exactly one line on stderr.
 */
#include "cli.h"

#include "cfg.h"
#include "db.h"
#include "lighttpd_conf.h"
#include "log.h"
#include "migrate.h"
#include "pgcluster.h"
#include "supervise.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <libpq-fe.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long each part may take to become ready. */
#define RUN_NOTIFYD_READY_MS  30000
#define RUN_LIGHTTPD_READY_MS 30000
/* Between two readiness probes (connect, GET /health). */
#define RUN_READY_POLL_MS 100
/* lighttpd's graceful stop lasts at most 5 s (lighttpd_conf.c); then this. */
#define RUN_STOP_LIGHTTPD_MS 10000
/* notifyd closes its websockets within 2 s (notifyd/README.md). */
#define RUN_STOP_NOTIFYD_MS 5000
/* One relayed line; a longer one is passed on in pieces. */
#define RUN_LINE_MAX 16384
/* Most workers lighttpd spawns (one per core, within these bounds). */
#define RUN_MIN_WORKERS 2
#define RUN_MAX_WORKERS 8

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */

static volatile sig_atomic_t run_stop_signal; /* SIGINT/SIGTERM received */
static volatile sig_atomic_t run_hup;         /* SIGHUP received */
static int run_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        run_hup = 1;
    else if (sig == SIGINT || sig == SIGTERM)
        run_stop_signal = sig;
    char c = (char)sig;
    if (write(run_sigpipe[1], &c, 1) < 0) {
        /* the pipe is full: the loop wakes up anyway */
    }
    errno = saved;
}

static bool signals_install(char *err, size_t errlen)
{
    if (pipe2(run_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        return false;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
    /* A child's pipe closing under a write must be an error, not death. */
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
    return true;
}

static void signals_restore(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
    for (int i = 0; i < 2; i++)
        if (run_sigpipe[i] >= 0) {
            close(run_sigpipe[i]);
            run_sigpipe[i] = -1;
        }
}

/* ------------------------------------------------------------------------ */
/* State of a run                                                            */

/* One supervised child and the relay of its output. */
typedef struct {
    sup_child_t ch;
    bool spawned;
    bool is_lighttpd; /* its own lines have lighttpd's error log format */
    bool ready;       /* notifyd: its "ready" line was seen */
    int ready_port;   /* notifyd: the port its ready line names */
    char buf[RUN_LINE_MAX];
    size_t len;
    char last[512]; /* its last line, for failure messages */
} part_t;

/* A growing NULL-terminated "NAME=value" vector. */
typedef struct {
    char **v;
    size_t n, cap;
} envv_t;

typedef struct {
    cfg_t cfg;
    bool have_cfg;
    char rundir[PATH_MAX];
    bool have_rundir;
    pgcluster_t *cluster;
    char *db_url; /* the URL workers and notifyd get; owned */
    char *fcgi_bin, *notifyd_bin, *lighttpd_bin;
    bool notifyd_wanted;
    int notifyd_port; /* the port notifyd listens on (known once ready) */
    part_t notifyd, lighttpd;
    int raw_fd; /* where children's own log lines are copied */
    bool raw_fd_owned;
    const char *run_user; /* NULL: not root, keep our user */
    uid_t run_uid;
    gid_t run_gid;
    char run_group[64];
} run_t;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fail - the one line of a failure: on stderr, and in the log file if any. */
static void fail(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(run_t *r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "parsec: %s\n", msg);
    fflush(stderr);
    if (r->have_cfg && r->cfg.log_file)
        log_error("%s", msg);
}

static void env_add(envv_t *e, const char *name, const char *value)
{
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n++] = xasprintf("%s=%s", name, value);
    e->v[e->n] = NULL;
}

static void env_addf(envv_t *e, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void env_addf(envv_t *e, const char *name, const char *fmt, ...)
{
    char *v = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&v, fmt, ap) < 0)
        abort(); /* out of memory: the xalloc policy */
    va_end(ap);
    env_add(e, name, v);
    free(v);
}

static void env_free(envv_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

/* A dynamic string, for blockstore specs and PARSEC_CMD_ARGS. */
typedef struct {
    char *s;
    size_t n, cap;
} str_t;

static void str_addn(str_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void str_add(str_t *b, const char *s)
{
    str_addn(b, s, strlen(s));
}

/* ------------------------------------------------------------------------ */
/* The environment of the children                                           */

/* One field of a blockstore spec: cfg's split_escaped() reads "\:" as ':'
 * and "\\" as '\'. */
static void bs_field(str_t *b, const char *f)
{
    for (; f && *f; f++) {
        if (*f == ':')
            str_add(b, "\\:");
        else if (*f == '\\')
            str_add(b, "\\\\");
        else
            str_addn(b, f, 1);
    }
}

static void bs_spec(str_t *b, const cfg_blockstore *bs, size_t i)
{
    const cfg_blockstore_node *nd = &bs->nodes[i];
    static const char *const raid[] = {"", "RAID0", "RAID1", "RAID5"};
    if (bs->raid != CFG_RAID_NONE) {
        char pre[32];
        snprintf(pre, sizeof pre, "%s:%zu:", raid[bs->raid], i);
        str_add(b, pre);
    }
    switch (nd->kind) {
    case CFG_BS_MOCKED:
        str_add(b, "MOCKED");
        break;
    case CFG_BS_POSTGRESQL:
        str_add(b, "POSTGRESQL");
        break;
    case CFG_BS_S3:
        str_add(b, "s3:");
        bs_field(b, nd->s3_endpoint);
        str_add(b, ":");
        bs_field(b, nd->s3_region);
        str_add(b, ":");
        bs_field(b, nd->s3_bucket);
        str_add(b, ":");
        bs_field(b, nd->s3_key);
        str_add(b, ":");
        bs_field(b, nd->s3_secret);
        break;
    case CFG_BS_SWIFT:
        str_add(b, "swift:");
        bs_field(b, nd->swift_auth_url);
        str_add(b, ":");
        bs_field(b, nd->swift_tenant);
        str_add(b, ":");
        bs_field(b, nd->swift_container);
        str_add(b, ":");
        bs_field(b, nd->swift_user);
        str_add(b, ":");
        bs_field(b, nd->swift_password);
        break;
    case CFG_BS_NONE:
        break;
    }
}

/* A PARSEC_CMD_ARGS word in double quotes, where cfg's splitter takes a
 * backslash before " \ $ literally and expands nothing else. */
static void cmd_word(str_t *b, const char *w)
{
    str_add(b, "\"");
    for (; *w; w++) {
        if (*w == '"' || *w == '\\' || *w == '$')
            str_add(b, "\\");
        str_addn(b, w, 1);
    }
    str_add(b, "\"");
}

static const char *level_name(cfg_log_level l)
{
    switch (l) {
    case CFG_LOG_DEBUG:
        return "DEBUG";
    case CFG_LOG_INFO:
        return "INFO";
    case CFG_LOG_WARNING:
        return "WARNING";
    case CFG_LOG_ERROR:
        return "ERROR";
    case CFG_LOG_CRITICAL:
        return "CRITICAL";
    }
    return "WARNING";
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
 * child_env - the environment of lighttpd (copied to the workers through
 * bin-copy-environment) and of notifyd: a few variables of ours, then every
 * effective setting as its PARSEC_* variable, so a child parses exactly what
 * we parsed, whatever mix of flags, variables and --dev produced it.
 *
 * Left out on purpose: --dev (it would turn the database back into MOCKED,
 * which workers refuse: they get the real URL), --log-file (children log to
 * stderr, relayed here), the TLS files (lighttpd terminates TLS; notifyd
 * behind it speaks plain websocket, and the key may be readable by root
 * only), --fcgi-socket (lighttpd spawns the workers).
 */
static void child_env(envv_t *e, const run_t *r)
{
    const cfg_t *c = &r->cfg;
    for (size_t i = 0; run_passthrough[i]; i++) {
        const char *v = getenv(run_passthrough[i]);
        if (v)
            env_add(e, run_passthrough[i], v);
        else if (!strcmp(run_passthrough[i], "PATH"))
            env_add(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    /* A temporary directory the children can write (the run user's), gone
     * with the run: --email-host MOCKED writes its mails there. */
    env_addf(e, "TMPDIR", "%s/tmp", r->rundir);

    env_add(e, "PARSEC_HOST", c->host);
    env_addf(e, "PARSEC_PORT", "%d", c->port);
    env_add(e, "PARSEC_DB", r->db_url);
    env_addf(e, "PARSEC_DB_MIN_CONNECTIONS", "%d", c->db_min_connections);
    env_addf(e, "PARSEC_DB_MAX_CONNECTIONS", "%d", c->db_max_connections);
    env_addf(e, "PARSEC_MAXIMUM_DATABASE_CONNECTION_ATTEMPTS", "%d",
             c->maximum_database_connection_attempts);
    env_addf(e, "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION", "%.6f",
             c->pause_before_retry_database_connection);
    if (c->blockstore.n_nodes) {
        /* Through PARSEC_CMD_ARGS, not PARSEC_BLOCKSTORE: the variable is
         * split on whitespace, and a secret may hold a space. */
        str_t args = {0};
        for (size_t i = 0; i < c->blockstore.n_nodes; i++) {
            str_t spec = {0};
            bs_spec(&spec, &c->blockstore, i);
            if (i)
                str_add(&args, " ");
            str_add(&args, "-b ");
            cmd_word(&args, spec.s);
            free(spec.s);
        }
        env_add(e, "PARSEC_CMD_ARGS", args.s);
        free(args.s);
    }
    if (c->administration_token)
        env_add(e, "PARSEC_ADMINISTRATION_TOKEN", c->administration_token);
    if (c->forward_proto_header)
        env_addf(e, "PARSEC_FORWARD_PROTO_ENFORCE_HTTPS", "%s:%s", c->forward_proto_header,
                 c->forward_proto_value);
    env_add(e, "PARSEC_LOG_LEVEL", level_name(c->log_level));
    env_add(e, "PARSEC_LOG_FORMAT", c->log_format == CFG_LOG_JSON ? "JSON" : "CONSOLE");
    if (c->backend_addr)
        env_add(e, "PARSEC_BACKEND_ADDR", c->backend_addr);
    if (c->email_host)
        env_add(e, "PARSEC_EMAIL_HOST", c->email_host);
    env_addf(e, "PARSEC_EMAIL_PORT", "%d", c->email_port);
    if (c->email_host_user)
        env_add(e, "PARSEC_EMAIL_HOST_USER", c->email_host_user);
    if (c->email_host_password)
        env_add(e, "PARSEC_EMAIL_HOST_PASSWORD", c->email_host_password);
    env_add(e, "PARSEC_EMAIL_USE_SSL", c->email_use_ssl ? "true" : "false");
    env_add(e, "PARSEC_EMAIL_USE_TLS", c->email_use_tls ? "true" : "false");
    if (c->email_language)
        env_add(e, "PARSEC_EMAIL_LANGUAGE", c->email_language);
    if (c->email_sender)
        env_add(e, "PARSEC_EMAIL_SENDER", c->email_sender);
    env_add(e, "PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP",
            c->spontaneous_organization_bootstrap ? "true" : "false");
    if (c->organization_bootstrap_webhook)
        env_add(e, "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK", c->organization_bootstrap_webhook);
    if (c->organization_initial_active_users_limit >= 0)
        env_addf(e, "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT", "%ld",
                 c->organization_initial_active_users_limit);
    env_add(e, "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED",
            c->organization_initial_user_profile_outsider_allowed ? "true" : "false");
    if (c->sentry_dsn)
        env_add(e, "PARSEC_SENTRY_DSN", c->sentry_dsn);
    if (c->sentry_environment)
        env_add(e, "PARSEC_SENTRY_ENVIRONMENT", c->sentry_environment);
    env_add(e, "PARSEC_DEBUG", c->debug ? "true" : "false");
    env_addf(e, "PARSEC_MAX_REQUEST_SIZE", "%zu", c->max_request_size);
    env_add(e, "PARSEC_NOTIFYD_HOST", c->notifyd_host);
    env_addf(e, "PARSEC_NOTIFYD_PORT", "%d", c->notifyd_port);
}

/* The names of e's variables, for bin-copy-environment; free the array only
 * after free()ing each name. */
static char **env_names(const envv_t *e)
{
    char **names = xcalloc(e->n + 1, sizeof *names);
    for (size_t i = 0; i < e->n; i++)
        names[i] = xstrndup(e->v[i], strcspn(e->v[i], "="));
    return names;
}

static void names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* ------------------------------------------------------------------------ */
/* Addresses and ports                                                       */

/* The address to reach a listener bound to host: loopback for a wildcard. */
static const char *reach_host(const char *host)
{
    if (!strcmp(host, "0.0.0.0"))
        return "127.0.0.1";
    if (!strcmp(host, "::"))
        return "::1";
    return host;
}

/* "HOST:PORT", with brackets around an IPv6 literal; into buf. */
static const char *host_port(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
    return buf;
}

static bool resolve(const char *host, int port, bool passive, struct addrinfo **out, char *err,
                    size_t errlen)
{
    struct addrinfo hints;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, out);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return false;
    }
    return true;
}

/*
 * port_free - can we listen on host:port?  Bound and released at once, with
 * SO_REUSEADDR as lighttpd and lws bind, so only a real listener (or another
 * bound socket) makes it fail.  what names the setting for the message.
 */
static bool port_free(const char *host, int port, const char *what, char *err, size_t errlen)
{
    struct addrinfo *ai = NULL;
    char hp[300];
    bool ok = false;
    if (!resolve(host, port, true, &ai, err, errlen))
        return false;
    /* A name with both families ("localhost"): lighttpd binds the IPv4 one. */
    struct addrinfo *a = ai;
    for (struct addrinfo *x = ai; x; x = x->ai_next)
        if (x->ai_family == AF_INET) {
            a = x;
            break;
        }
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s (%s): %s", host_port(hp, sizeof hp, host, port),
                 what, strerror(errno));
        goto cleanup;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s (%s): %s%s",
                 host_port(hp, sizeof hp, host, port), what, strerror(e),
                 e == EADDRINUSE ? ": the port is in use" : "");
        goto cleanup;
    }
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ok;
}

/* port_answers - does something accept a TCP connection on host:port? */
static bool port_answers(const char *host, int port)
{
    struct addrinfo *ai = NULL;
    char err[256];
    bool ok = false;
    if (!resolve(reach_host(host), port, false, &ai, err, sizeof err))
        return false;
    for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Output of the children                                                    */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to log to */
        p += w;
        n -= (size_t)w;
    }
}

/* "2026-11-29 19:26:05: (" - the start of lighttpd's error log lines. */
static bool lighttpd_line(const char *s, size_t n)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd: (";
    if (n < sizeof pat - 1)
        return false;
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
            return false;
    }
    return true;
}

/* chatter - a DEBUG or INFO line of our own binaries (log.h's formats):
 * never what a failure message should quote. */
static bool chatter(const char *s)
{
    if (s[0] == '{')
        return strstr(s, "\"level\":\"INFO\"") || strstr(s, "\"level\":\"DEBUG\"");
    const char *sp = strchr(s, ' ');
    return sp && (!strncmp(sp + 1, "INFO ", 5) || !strncmp(sp + 1, "DEBUG ", 6));
}

/* relay_line - one line (without its newline) written by a child. */
static void relay_line(run_t *r, part_t *p, char *s, size_t n)
{
    if (n == 0)
        return;
    s[n] = '\0';
    if (p == &r->notifyd && !p->ready && !strncmp(s, "ready ", 6)) {
        /* "ready ws://HOST:PORT/ws": the port matters when 0 was asked. */
        const char *colon = strrchr(s, ':');
        p->ready = true;
        p->ready_port = colon ? atoi(colon + 1) : 0;
        log_info("parsec-notifyd: %s", s);
        return;
    }
    if (p->is_lighttpd && lighttpd_line(s, n)) {
        /* Re-logged under our format and level; "server started"-like
         * notices are INFO, everything else lighttpd says is worth a look
         * (and is what a failure message quotes). */
        const char *msg = s + 21;
        bool notice = strstr(msg, "server started") || strstr(msg, "server stopped") ||
                      strstr(msg, "graceful shutdown");
        if (!notice)
            snprintf(p->last, sizeof p->last, "%s", msg);
        log_write(notice ? CFG_LOG_INFO : CFG_LOG_WARNING, "lighttpd: %s", msg);
        return;
    }
    if (!chatter(s))
        snprintf(p->last, sizeof p->last, "%s", s);
    s[n] = '\n';
    write_all(r->raw_fd, s, n + 1);
}

/* drain - read what a child wrote; false once its pipe is closed. */
static bool drain(run_t *r, part_t *p)
{
    while (p->ch.out_fd >= 0) {
        ssize_t n = read(p->ch.out_fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            relay_line(r, p, p->buf, p->len);
            p->len = 0;
            sup_close_output(&p->ch);
            return false;
        }
        p->len += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < p->len; i++) {
            if (p->buf[i] == '\n') {
                relay_line(r, p, p->buf + start, i - start);
                start = i + 1;
            }
        }
        if (start == 0 && p->len == sizeof p->buf - 1) {
            relay_line(r, p, p->buf, p->len); /* a line too long: in pieces */
            start = p->len;
        }
        memmove(p->buf, p->buf + start, p->len - start);
        p->len -= start;
    }
    return false;
}

static void reopen_logs(run_t *r)
{
    log_reopen();
    if (r->raw_fd_owned) {
        int fd = open(r->cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0) {
            log_error("cannot reopen %s: %s", r->cfg.log_file, strerror(errno));
            return;
        }
        dup3(fd, r->raw_fd, O_CLOEXEC);
        close(fd);
    }
}

/*
 * pump - wait up to timeout_ms for a signal or output, then handle them:
 * relay output, reap children, reopen logs and pass SIGHUP on.
 */
static void pump(run_t *r, int timeout_ms)
{
    struct pollfd fds[3];
    part_t *parts[2] = {&r->notifyd, &r->lighttpd};
    part_t *at[3] = {NULL, NULL, NULL};
    nfds_t n = 0;

    fds[n].fd = run_sigpipe[0];
    fds[n].events = POLLIN;
    n++;
    for (int i = 0; i < 2; i++) {
        if (parts[i]->spawned && parts[i]->ch.out_fd >= 0) {
            fds[n].fd = parts[i]->ch.out_fd;
            fds[n].events = POLLIN;
            at[n] = parts[i];
            n++;
        }
    }
    int rc = poll(fds, n, timeout_ms);
    if (rc > 0) {
        if (fds[0].revents) {
            char tmp[64];
            while (read(run_sigpipe[0], tmp, sizeof tmp) > 0)
                ;
        }
        for (nfds_t i = 1; i < n; i++)
            if (fds[i].revents)
                drain(r, at[i]);
    }
    if (run_hup) {
        run_hup = 0;
        reopen_logs(r);
        /* lighttpd reopens its logs; notifyd its --log-file (it has none
         * from us, but it is harmless).  Workers log through the pipe. */
        for (int i = 0; i < 2; i++)
            if (parts[i]->spawned && parts[i]->ch.running)
                kill(parts[i]->ch.pid, SIGHUP);
    }
    for (int i = 0; i < 2; i++)
        if (parts[i]->spawned)
            sup_reap(&parts[i]->ch);
}

/* part_died - true when a part we started has exited; why in buf. */
static bool part_died(part_t *p, char *buf, size_t len)
{
    if (!p->spawned || p->ch.running)
        return false;
    sup_describe_status(p->ch.status, buf, len);
    return true;
}

/* stop_part - stop a part, relaying its last words while it goes. */
static void stop_part(run_t *r, part_t *p, int sig, int timeout_ms)
{
    if (!p->spawned)
        return;
    if (p->ch.running) {
        kill(p->ch.pid, sig);
        long long deadline = now_ms() + timeout_ms;
        while (p->ch.running && now_ms() < deadline)
            pump(r, 50);
    }
    /* Escalates if it is still there; sweeps what is left of its group. */
    sup_stop(&p->ch, SIGTERM, 2000);
    if (p->ch.out_fd >= 0) {
        long long deadline = now_ms() + 1000;
        while (drain(r, p) && now_ms() < deadline)
            poll(NULL, 0, 10);
    }
    sup_close_output(&p->ch);
}

/* ------------------------------------------------------------------------ */
/* Files and users                                                           */

static char *self_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return xstrdup(".");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(buf[0] ? buf : "/");
}

/* find_in_path - name looked up in $PATH, then /usr/sbin and /sbin (not in
 * a plain user's PATH on Debian, and where lighttpd lives).  malloc'd or NULL. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy = xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *found = NULL, *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        if (!*dir)
            continue;
        char *cand = xasprintf("%s/%s", dir, name);
        if (access(cand, X_OK) == 0)
            found = cand;
        else
            free(cand);
    }
    free(copy);
    return found;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rundir_remove(run_t *r)
{
    if (!r->have_rundir)
        return;
    nftw(r->rundir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    r->have_rundir = false;
}

/*
 * pick_run_user - when root, the user lighttpd and the workers run as:
 * www-data (Debian's web user), else nobody.  Workers never run as root.
 */
static bool pick_run_user(run_t *r, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return true;
    static const char *const users[] = {"www-data", "nobody"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
        struct passwd *pw = getpwnam(users[i]);
        if (!pw)
            continue;
        struct group *gr = getgrgid(pw->pw_gid);
        if (!gr || strlen(gr->gr_name) >= sizeof r->run_group)
            continue;
        r->run_user = users[i];
        r->run_uid = pw->pw_uid;
        r->run_gid = pw->pw_gid;
        snprintf(r->run_group, sizeof r->run_group, "%s", gr->gr_name);
        return true;
    }
    snprintf(err, errlen,
             "running as root, but neither www-data nor nobody exists to run the "
             "web server and workers as");
    return false;
}

/* user_can_write - can the run user create files in dir?  Checked for real,
 * in a child that becomes that user: every directory above must let it in. */
static bool user_can_write(const run_t *r, const char *dir)
{
    if (!r->run_user)
        return true;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(r->run_gid) < 0 || setuid(r->run_uid) < 0)
            _exit(1);
        _exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool make_subdir(run_t *r, const char *name, mode_t mode, bool for_user, char *err,
                        size_t errlen)
{
    char *p = xasprintf("%s/%s", r->rundir, name);
    bool ok = mkdir(p, mode) == 0 && chmod(p, mode) == 0;
    if (ok && for_user && r->run_user)
        ok = chown(p, r->run_uid, r->run_gid) == 0;
    if (!ok)
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return ok;
}

/*
 * rundir_create - the private directory of this run: the configuration
 * (root only), sock/, upload/ and tmp/ (the run user's), www/ (an empty
 * document root).  Under $TMPDIR, or /tmp when the run user cannot reach $TMPDIR.
 */
static bool rundir_create(run_t *r, char *err, size_t errlen)
{
    const char *bases[2] = {getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 2; i++) {
        const char *base = bases[i];
        if (!base || !*base || (i == 1 && bases[0] && !strcmp(bases[0], "/tmp")))
            continue;
        int n = snprintf(r->rundir, sizeof r->rundir, "%s/parsec-run.XXXXXX", base);
        if (n < 0 || (size_t)n >= sizeof r->rundir)
            continue;
        if (!mkdtemp(r->rundir)) {
            snprintf(err, errlen, "cannot create a directory in %s: %s", base, strerror(errno));
            continue;
        }
        r->have_rundir = true;
        /* Others may traverse to sock/ and upload/, not list. */
        if (chmod(r->rundir, r->run_user ? 0711 : 0700) < 0 ||
            !make_subdir(r, "sock", 0700, true, err, errlen) ||
            !make_subdir(r, "upload", 0700, true, err, errlen) ||
            !make_subdir(r, "tmp", 0700, true, err, errlen) ||
            !make_subdir(r, "www", 0755, false, err, errlen)) {
            rundir_remove(r);
            return false;
        }
        char *sock = xasprintf("%s/sock", r->rundir);
        bool reachable = user_can_write(r, sock);
        free(sock);
        if (reachable)
            return true;
        snprintf(err, errlen, "%s cannot reach a directory under %s", r->run_user, base);
        rundir_remove(r);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Database                                                                  */

/* A sleep that a stop signal cuts short; false when stopping. */
static bool pause_ms(run_t *r, long long ms)
{
    long long deadline = now_ms() + ms;
    while (!run_stop_signal) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return true;
        pump(r, left > 200 ? 200 : (int)left);
    }
    return false;
}

/*
 * connect_db - db_connect() one attempt at a time, so that a stop signal
 * between attempts is honoured at once.  NULL with err set, or NULL with
 * err empty when stopping.
 */
static PGconn *connect_db(run_t *r, const char *url, char *err, size_t errlen)
{
    cfg_t once = r->cfg; /* shallow: only read by db_connect */
    int attempts = r->cfg.maximum_database_connection_attempts;
    if (attempts < 1)
        attempts = 1;
    once.maximum_database_connection_attempts = 1;
    int i;
    for (i = 1;; i++) {
        err[0] = '\0';
        PGconn *pg = db_connect(&once, url, err, errlen);
        if (pg)
            return pg;
        if (i >= attempts || run_stop_signal)
            break;
        log_warning("database unreachable (attempt %d of %d): %s; retrying in %g s", i, attempts,
                    err, r->cfg.pause_before_retry_database_connection);
        if (!pause_ms(r, (long long)(r->cfg.pause_before_retry_database_connection * 1000)))
            break;
    }
    if (run_stop_signal) {
        err[0] = '\0';
        return NULL;
    }
    /* db_connect() counted the one attempt it was asked for; say how many
     * were really made. */
    char *one = strstr(err, " after 1 attempt: ");
    if (one && i > 1) {
        char *rest = xstrdup(one + strlen(" after 1 attempt: "));
        snprintf(one, errlen - (size_t)(one - err), " after %d attempts: %s", i, rest);
        free(rest);
    }
    return NULL;
}

/* setup_db - the database the workers will use; false after fail() or when
 * a stop signal came (run_stop_signal set). */
static bool setup_db(run_t *r)
{
    char err[1024];
    PGconn *pg = NULL;
    bool ok = false;

    if (!strcmp(r->cfg.db, "MOCKED")) {
        r->cluster = pgcluster_start(err, sizeof err);
        if (!r->cluster) {
            fail(r, "cannot start the MOCKED database: %s", err);
            return false;
        }
        r->db_url = xstrdup(pgcluster_url(r->cluster));
        pg = connect_db(r, r->db_url, err, sizeof err);
        if (!pg) {
            if (!run_stop_signal)
                fail(r, "MOCKED database unreachable: %s", err);
            goto cleanup;
        }
        int applied = 0;
        if (migrate_apply(pg, false, NULL, NULL, &applied, err, sizeof err) != MIGRATE_OK) {
            fail(r, "cannot migrate the MOCKED database: %s", err);
            goto cleanup;
        }
        log_info("MOCKED database ready, %d migrations applied", applied);
    } else {
        r->db_url = xstrdup(r->cfg.db);
        pg = connect_db(r, r->db_url, err, sizeof err);
        if (!pg) {
            if (!run_stop_signal)
                fail(r, "database unreachable: %s", err);
            goto cleanup;
        }
        if (!migrate_check(pg, err, sizeof err)) {
            fail(r, "%s", err);
            goto cleanup;
        }
    }
    ok = true;
cleanup:
    if (pg)
        PQfinish(pg);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Health                                                                    */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* health - GET /health through lighttpd: its status, 0 when no answer (why
 * in err).  Certificate checks are off: we reach the server we just started,
 * by address, and only ask whether it answers. */
static long health(const run_t *r, char *err, size_t errlen)
{
    char hp[300], *url;
    long status = 0;
    host_port(hp, sizeof hp, reach_host(r->cfg.host), r->cfg.port);
    url = xasprintf("%s://%s/health", r->cfg.ssl_certfile ? "https" : "http", hp);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot initialise libcurl");
        free(url);
        return 0;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    free(url);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Starting the parts                                                        */

static bool start_notifyd(run_t *r)
{
    char err[1024], why[128];
    envv_t env = {0};
    bool ok = false;

    child_env(&env, r);
    char *argv[] = {r->notifyd_bin, NULL};
    r->notifyd.is_lighttpd = false;
    /* notifyd needs no privilege either: it runs as the run user. */
    sup_cred_t cred = {r->run_uid, r->run_gid};
    if (!sup_spawn(&r->notifyd.ch, "parsec-notifyd", r->notifyd_bin, argv, env.v,
                   r->run_user ? &cred : NULL, err, sizeof err)) {
        fail(r, "%s", err);
        goto cleanup;
    }
    r->notifyd.spawned = true;
    long long deadline = now_ms() + RUN_NOTIFYD_READY_MS;
    while (!r->notifyd.ready) {
        if (run_stop_signal)
            goto cleanup;
        if (part_died(&r->notifyd, why, sizeof why)) {
            drain(r, &r->notifyd);
            fail(r, "parsec-notifyd %s at start%s%s", why, r->notifyd.last[0] ? ": " : "",
                 r->notifyd.last);
            goto cleanup;
        }
        if (now_ms() > deadline) {
            fail(r, "parsec-notifyd did not become ready within %d s", RUN_NOTIFYD_READY_MS / 1000);
            goto cleanup;
        }
        pump(r, 100);
    }
    r->notifyd_port = r->notifyd.ready_port > 0 ? r->notifyd.ready_port : r->cfg.notifyd_port;
    ok = true;
cleanup:
    env_free(&env);
    return ok;
}

static int worker_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < RUN_MIN_WORKERS)
        n = RUN_MIN_WORKERS;
    if (n > RUN_MAX_WORKERS)
        n = RUN_MAX_WORKERS;
    return (int)n;
}

static bool start_lighttpd(run_t *r)
{
    char err[1024], why[128], herr[CURL_ERROR_SIZE + 64] = "";
    envv_t env = {0};
    char **names = NULL;
    char *conf = NULL, *sock = NULL, *upload = NULL, *www = NULL;
    bool ok = false;

    child_env(&env, r);
    names = env_names(&env);
    sock = xasprintf("%s/sock", r->rundir);
    upload = xasprintf("%s/upload", r->rundir);
    www = xasprintf("%s/www", r->rundir);
    conf = xasprintf("%s/lighttpd.conf", r->rundir);
    lighttpd_conf_t lc = {
        .host = r->cfg.host,
        .port = r->cfg.port,
        .docroot = www,
        .socket_dir = sock,
        .upload_dir = upload,
        .fcgi_bin = r->fcgi_bin,
        .fcgi_procs = worker_count(),
        .fcgi_env_names = (const char *const *)names,
        .notifyd_host = r->notifyd_wanted ? r->cfg.notifyd_host : NULL,
        .notifyd_port = r->notifyd_wanted ? r->notifyd_port : 0,
        .ssl_certfile = r->cfg.ssl_certfile,
        .ssl_keyfile = r->cfg.ssl_keyfile,
        .username = r->run_user,
        .groupname = r->run_user ? r->run_group : NULL,
        .max_request_size = r->cfg.max_request_size,
    };
    if (!lighttpd_conf_write(&lc, conf, err, sizeof err)) {
        fail(r, "%s", err);
        goto cleanup;
    }
    char *argv[] = {r->lighttpd_bin, "-D", "-f", conf, NULL};
    r->lighttpd.is_lighttpd = true;
    /* As root: lighttpd binds and loads the key, then drops to the run user
     * itself (server.username). */
    if (!sup_spawn(&r->lighttpd.ch, "lighttpd", r->lighttpd_bin, argv, env.v, NULL, err,
                   sizeof err)) {
        fail(r, "%s", err);
        goto cleanup;
    }
    r->lighttpd.spawned = true;

    /* Up when the port accepts and the workers answer GET /health. */
    long long deadline = now_ms() + RUN_LIGHTTPD_READY_MS, next_try = 0;
    bool listening = false;
    long status = 0;
    for (;;) {
        if (run_stop_signal)
            goto cleanup;
        if (part_died(&r->lighttpd, why, sizeof why)) {
            drain(r, &r->lighttpd);
            fail(r, "lighttpd %s at start%s%s", why, r->lighttpd.last[0] ? ": " : "",
                 r->lighttpd.last);
            goto cleanup;
        }
        if (now_ms() > deadline) {
            if (!listening)
                fail(r, "lighttpd does not accept connections on port %d after %d s", r->cfg.port,
                     RUN_LIGHTTPD_READY_MS / 1000);
            else if (status)
                fail(r, "the workers do not answer: GET /health gives HTTP %ld%s%s", status,
                     r->lighttpd.last[0] ? "; last message: " : "", r->lighttpd.last);
            else
                fail(r, "the workers do not answer GET /health: %s", herr);
            goto cleanup;
        }
        /* Paced by the clock: pump() returns early whenever a child writes. */
        if (now_ms() >= next_try) {
            next_try = now_ms() + RUN_READY_POLL_MS;
            if (!listening)
                listening = port_answers(r->cfg.host, r->cfg.port);
            if (listening) {
                status = health(r, herr, sizeof herr);
                if (status == 200)
                    break;
            }
        }
        long long wait = next_try - now_ms();
        pump(r, wait < 0 ? 0 : (int)wait);
    }
    ok = true;
cleanup:
    env_free(&env);
    names_free(names);
    free(conf);
    free(sock);
    free(upload);
    free(www);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Describing the run                                                        */

static void describe_blockstore(str_t *b, const cfg_blockstore *bs)
{
    static const char *const raid[] = {"", "RAID0", "RAID1", "RAID5"};
    if (!bs->n_nodes) {
        str_add(b, "none");
        return;
    }
    if (bs->raid != CFG_RAID_NONE) {
        str_add(b, raid[bs->raid]);
        str_add(b, "(");
    }
    for (size_t i = 0; i < bs->n_nodes; i++) {
        const cfg_blockstore_node *nd = &bs->nodes[i];
        if (i)
            str_add(b, ",");
        switch (nd->kind) {
        case CFG_BS_MOCKED:
            str_add(b, "MOCKED");
            break;
        case CFG_BS_POSTGRESQL:
            str_add(b, "POSTGRESQL");
            break;
        case CFG_BS_S3:
            str_add(b, "s3 bucket ");
            str_add(b, nd->s3_bucket);
            break;
        case CFG_BS_SWIFT:
            str_add(b, "swift container ");
            str_add(b, nd->swift_container);
            break;
        case CFG_BS_NONE:
            str_add(b, "none");
            break;
        }
    }
    if (bs->raid != CFG_RAID_NONE)
        str_add(b, ")");
}

/* Every effective setting at INFO, secrets masked by cfg_describe(). */
static void log_settings(const cfg_t *c)
{
    if (!log_enabled(CFG_LOG_INFO))
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    cfg_describe(c, f);
    fclose(f);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        log_info("setting %s", line);
    free(text);
}

static void announce(const run_t *r)
{
    char hp[300];
    str_t bs = {0};
    char *db = cfg_redact_url(r->db_url);
    describe_blockstore(&bs, &r->cfg.blockstore);
    host_port(hp, sizeof hp, r->cfg.host, r->cfg.port);
    printf("parsec: serving on %s://%s (db=%s%s, blockstore=%s)\n",
           r->cfg.ssl_certfile ? "https" : "http", hp, r->cluster ? "MOCKED at " : "", db, bs.s);
    fflush(stdout);
    log_info("serving on %s://%s (db=%s%s, blockstore=%s, notifyd=%s)",
             r->cfg.ssl_certfile ? "https" : "http", hp, r->cluster ? "MOCKED at " : "", db, bs.s,
             r->notifyd_wanted ? "on /ws" : "not installed");
    free(db);
    free(bs.s);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */

/* Descriptors 0-2 must be open, or a child's pipe could land on them. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
    }
}

/* locate - the binaries; false after fail(). */
static bool locate(run_t *r)
{
    char *dir = self_dir();
    const char *v;

    v = getenv("PARSEC_FCGI_BIN");
    r->fcgi_bin = v && *v ? xstrdup(v) : xasprintf("%s/parsec-fcgi", dir);
    v = getenv("PARSEC_NOTIFYD_BIN");
    r->notifyd_bin = v && *v ? xstrdup(v) : xasprintf("%s/parsec-notifyd", dir);
    v = getenv("PARSEC_LIGHTTPD_BIN");
    r->lighttpd_bin = v && *v ? xstrdup(v) : find_in_path("lighttpd");
    free(dir);

    if (!r->lighttpd_bin) {
        fail(r, "lighttpd not found (in PATH, /usr/sbin or /sbin): install it (Debian: apt-get "
                "install lighttpd) or set PARSEC_LIGHTTPD_BIN");
        return false;
    }
    if (access(r->lighttpd_bin, X_OK) < 0) {
        fail(r, "lighttpd not usable at %s: %s", r->lighttpd_bin, strerror(errno));
        return false;
    }
    if (access(r->fcgi_bin, X_OK) < 0) {
        fail(r, "the FastCGI worker is not usable at %s: %s (set PARSEC_FCGI_BIN)", r->fcgi_bin,
             strerror(errno));
        return false;
    }
    if (r->fcgi_bin[0] != '/' || r->notifyd_bin[0] != '/') {
        fail(r, "PARSEC_FCGI_BIN and PARSEC_NOTIFYD_BIN must be absolute paths");
        return false;
    }
    /* notifyd is optional: without it everything but /ws works. */
    r->notifyd_wanted = access(r->notifyd_bin, X_OK) == 0;
    if (!r->notifyd_wanted)
        log_warning("parsec-notifyd not found at %s: /ws (remote-change events) is not served",
                    r->notifyd_bin);
    return true;
}

static void run_free(run_t *r)
{
    free(r->db_url);
    free(r->fcgi_bin);
    free(r->notifyd_bin);
    free(r->lighttpd_bin);
    if (r->raw_fd_owned)
        close(r->raw_fd);
    if (r->have_cfg)
        cfg_free(&r->cfg);
}

int cli_backend_run(int argc, char **argv)
{
    run_t r;
    char err[1024], why[128];
    int status = 1;

    memset(&r, 0, sizeof r);
    r.raw_fd = STDERR_FILENO;
    r.notifyd.ch.out_fd = r.lighttpd.ch.out_fd = -1;
    ensure_std_fds();

    switch (cfg_parse(&r.cfg, argc, argv, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    case CFG_PARSE_ERROR:
        fprintf(stderr, "parsec: %s\n", err);
        return 2;
    }
    r.have_cfg = true;
    if (!cfg_require_run(&r.cfg, err, sizeof err)) {
        fprintf(stderr, "parsec: %s\n", err);
        status = 2;
        goto out;
    }
    if (r.cfg.fcgi_socket) {
        fprintf(stderr, "parsec: --fcgi-socket is for a standalone parsec-fcgi worker; "
                        "parsec backend run lets lighttpd spawn its workers\n");
        status = 2;
        goto out;
    }
    if (!strcmp(reach_host(r.cfg.host), reach_host(r.cfg.notifyd_host)) &&
        r.cfg.port == r.cfg.notifyd_port) {
        fprintf(stderr, "parsec: --port and --notifyd-port must differ (both are %d)\n",
                r.cfg.port);
        status = 2;
        goto out;
    }
    if (!log_open(r.cfg.log_level, r.cfg.log_format, r.cfg.log_file, "parsec", err, sizeof err)) {
        fprintf(stderr, "parsec: %s\n", err);
        goto out;
    }
    if (r.cfg.log_file) {
        r.raw_fd = open(r.cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (r.raw_fd < 0) {
            fail(&r, "cannot open %s: %s", r.cfg.log_file, strerror(errno));
            r.raw_fd = STDERR_FILENO;
            goto out_log;
        }
        r.raw_fd_owned = true;
    }
    if (!signals_install(err, sizeof err) || !sup_init(err, sizeof err)) {
        fail(&r, "%s", err);
        goto out_log;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fail(&r, "cannot initialise libcurl");
        goto out_signals;
    }
    log_settings(&r.cfg);

    /* Cheap checks first: nothing is started when they fail. */
    if (!locate(&r))
        goto out_curl;
    if (!port_free(r.cfg.host, r.cfg.port, "--port", err, sizeof err) ||
        (r.notifyd_wanted &&
         !port_free(r.cfg.notifyd_host, r.cfg.notifyd_port, "--notifyd-port", err, sizeof err))) {
        fail(&r, "%s", err);
        goto out_curl;
    }
    if (!pick_run_user(&r, err, sizeof err) || !rundir_create(&r, err, sizeof err)) {
        fail(&r, "%s", err);
        goto out_curl;
    }

    if (!setup_db(&r))
        goto stop;
    if (run_stop_signal)
        goto stop;
    if (r.notifyd_wanted && !start_notifyd(&r))
        goto stop;
    if (!start_lighttpd(&r))
        goto stop;
    announce(&r);

    while (!run_stop_signal) {
        pump(&r, 1000);
        if (run_stop_signal)
            break;
        if (part_died(&r.lighttpd, why, sizeof why)) {
            drain(&r, &r.lighttpd);
            fail(&r, "lighttpd %s unexpectedly%s%s; stopping", why, r.lighttpd.last[0] ? ": " : "",
                 r.lighttpd.last);
            goto stop;
        }
        if (part_died(&r.notifyd, why, sizeof why)) {
            drain(&r, &r.notifyd);
            fail(&r, "parsec-notifyd %s unexpectedly%s%s; stopping", why,
                 r.notifyd.last[0] ? ": " : "", r.notifyd.last);
            goto stop;
        }
    }

stop:
    if (run_stop_signal) {
        log_info("%s received: stopping", run_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        status = 0;
    }
    /* lighttpd first (SIGINT: graceful, it stops its workers), then what it
     * talked to. */
    stop_part(&r, &r.lighttpd, SIGINT, RUN_STOP_LIGHTTPD_MS);
    stop_part(&r, &r.notifyd, SIGTERM, RUN_STOP_NOTIFYD_MS);
    if (r.cluster) {
        if (!pgcluster_stop(r.cluster))
            log_warning("the MOCKED database directory was not entirely removed");
        r.cluster = NULL;
    }
    rundir_remove(&r);
    sup_reap_orphans();
    if (status == 0)
        log_info("stopped");
out_curl:
    rundir_remove(&r);
    curl_global_cleanup();
out_signals:
    signals_restore();
out_log:
    log_close();
out:
    run_free(&r);
    return status;
}
