/*
 * common/db.c - connection pool, lazily prepared statements, db_tx()
 *
 * The pool is a stack of idle connections plus a count of open ones, under
 * one mutex; a condition variable wakes threads waiting for a release.
 * Connecting (slow, up to connect_timeout) always happens outside the lock,
 * on a slot reserved by incrementing `open` first, so the count never
 * exceeds db_max_connections even while connections are being made.
 *
 * Pipelines are in db_pipe.c, typed parameters and results in db_run.c;
 * what they take from here is listed in db_internal.h.
 */
#include "db_internal.h"

#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "xalloc.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Passwords that must not leak into a message: the URL's raw and decoded
 * password (userinfo or ?password=), and whatever libpq ended up using. */
#define DB_SECRETS_MAX 6
typedef struct {
    char *s[DB_SECRETS_MAX];
} db_secrets_t;

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t released; /* CLOCK_MONOTONIC */
    char *url;
    char *redacted; /* for messages */
    db_secrets_t secrets;
    int min, max;
    int open; /* connections existing or being opened (reserved slots) */
    int nidle;
    db_conn_t *idle;
};

/* ---------------------------------------------------------------- messages */

void db_msg_line(char *dst, size_t n, const char *msg)
{
    if (!n)
        return;
    size_t j = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && j + 1 < n; p++) {
        char ch = *p;
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
            space = j > 0;
            continue;
        }
        if (space) {
            dst[j++] = ' ';
            space = false;
            if (j + 1 >= n)
                break;
        }
        dst[j++] = ch;
    }
    dst[j] = '\0';
}

static void secret_add(db_secrets_t *s, const char *v, size_t len)
{
    if (!v || !len)
        return;
    for (int i = 0; i < DB_SECRETS_MAX; i++) {
        if (!s->s[i]) {
            s->s[i] = xstrndup(v, len);
            return;
        }
        if (strlen(s->s[i]) == len && !memcmp(s->s[i], v, len))
            return;
    }
}

static void secrets_init(db_secrets_t *s, const char *url)
{
    memset(s, 0, sizeof *s);
    if (!url)
        return;
    /* Raw forms first: a malformed URL still has its password masked in
     * libpq's parse errors, which quote the URL text. */
    const char *auth = strstr(url, "://");
    if (auth) {
        /* The userinfo ends at the first '@' for libpq, at the last one for
         * cfg_redact_url(): mask both readings. */
        auth += 3;
        const char *ats[2] = {strchr(auth, '@'), strrchr(auth, '@')};
        for (int i = 0; i < 2; i++) {
            if (!ats[i])
                continue;
            const char *colon = memchr(auth, ':', (size_t)(ats[i] - auth));
            if (colon)
                secret_add(s, colon + 1, (size_t)(ats[i] - colon - 1));
        }
    }
    for (const char *q = strstr(url, "password="); q; q = strstr(q + 1, "password=")) {
        const char *v = q + strlen("password=");
        secret_add(s, v, strcspn(v, "&#"));
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (!strcmp(o->keyword, "password") && o->val)
                secret_add(s, o->val, strlen(o->val));
        PQconninfoFree(opts);
    }
    PQfreemem(perr);
}

static void secrets_free(db_secrets_t *s)
{
    for (int i = 0; i < DB_SECRETS_MAX; i++)
        free(s->s[i]);
    memset(s, 0, sizeof *s);
}

/* dst <- msg on one line with every secret (and extra, if any) as "***". */
static void scrubbed_line(char *dst, size_t n, const char *msg, const db_secrets_t *s,
                          const char *extra)
{
    char *work = xstrdup(msg ? msg : "");
    const char *list[DB_SECRETS_MAX + 1];
    int nl = 0;
    for (int i = 0; i < DB_SECRETS_MAX; i++)
        if (s && s->s[i])
            list[nl++] = s->s[i];
    if (extra && *extra)
        list[nl++] = extra;
    for (int i = 0; i < nl; i++) {
        size_t slen = strlen(list[i]);
        for (char *hit = strstr(work, list[i]); hit; hit = strstr(work, list[i])) {
            size_t before = (size_t)(hit - work);
            char *next = xasprintf("%.*s***%s", (int)before, work, hit + slen);
            free(work);
            work = next;
        }
    }
    db_msg_line(dst, n, work);
    free(work);
}

/*
 * Server notices (RAISE NOTICE, "table exists, skipping"...) go to the log,
 * never to libpq's default of stderr.  libpq also hands here an error that
 * arrives while no query runs: the FATAL a server sends before closing an
 * idle session (shutdown, pg_terminate_backend).  arg is then the db_conn_t,
 * marked broken at once, before the close itself may have arrived.
 */
static void notice_receiver(void *arg, const PGresult *res)
{
    char line[512];
    db_msg_line(line, sizeof line, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    bool fatal = sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"));
    if (fatal && arg)
        ((db_conn_t *)arg)->broken = true;
    log_write(fatal ? CFG_LOG_INFO : CFG_LOG_DEBUG, "postgresql %s: %s", sev ? sev : "NOTICE",
              line);
}

/* ------------------------------------------------------------- connecting */

static char *default_options(void)
{
    return xasprintf("-c statement_timeout=%d", DB_STATEMENT_TIMEOUT_MS);
}

/* ------------------------------------------------------- failure classes */

/* Server-side SQLSTATEs a later attempt may not meet: the connection
 * (class 08), the server's resources (53: too many connections, out of
 * memory, disk full), a server starting, stopping or recovering (57P01,
 * 57P02, 57P03), the server's own I/O (58). */
static bool sqlstate_transient(const char *code)
{
    return !strncmp(code, "08", 2) || !strncmp(code, "53", 2) || !strncmp(code, "58", 2) ||
           !strncmp(code, "57P01", 5) || !strncmp(code, "57P02", 5) || !strncmp(code, "57P03", 5);
}

/* libpq's own connection-level failures: the network and the server's
 * socket, not a setting.  libpq writes these in English (this program never
 * calls setlocale), and the errno texts come from strerror() in this very
 * process, so they match whatever libpq printed. */
static bool local_transient(const char *msg)
{
    static const char *const texts[] = {
        "could not translate host name", /* DNS: the name may appear (containers) */
        "could not create socket",       /* descriptors exhausted */
        "could not send startup packet", /* the peer went away while starting */
        "could not send SSL negotiation packet",
        "could not send data to server",
        "could not receive data from server",
        "could not get socket error status",
        "server closed the connection unexpectedly",
        "SSL SYSCALL error: EOF detected",
        "SSL connection has been closed unexpectedly",
        "timeout expired",               /* connect_timeout */
        "server is in hot standby mode", /* target_session_attrs: a failover */
        "server is not in hot standby mode",
        "session is read-only",
        "session is not read-only",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (strstr(msg, texts[i]))
            return true;
    static const int errnos[] = {ECONNREFUSED, ENOENT,     ENETUNREACH, EHOSTUNREACH,
                                 ETIMEDOUT,    ECONNRESET, EAGAIN,      EADDRNOTAVAIL,
                                 EMFILE,       ENFILE,     ENETDOWN,    EHOSTDOWN};
    for (size_t i = 0; i < sizeof errnos / sizeof *errnos; i++) {
        /* "...failed: Connection refused": after libpq's "failed: " */
        char text[160];
        snprintf(text, sizeof text, "failed: %s", strerror(errnos[i]));
        if (strstr(msg, text))
            return true;
    }
    return false;
}

db_failure db_failure_classify(const char *msg, bool needs_password)
{
    if (needs_password)
        return DB_FAIL_FATAL;
    if (!msg || !*msg)
        return DB_FAIL_RETRY; /* nothing to go on: keep the old behaviour */
    /* With PQERRORS_VERBOSE a server's error reads "<SEVERITY>:  <SQLSTATE>: <text>";
     * the severity word is translated by the server, the code never is. */
    for (const char *p = strstr(msg, ":  "); p; p = strstr(p + 1, ":  ")) {
        const char *c = p + 3;
        size_t k = 0;
        while (k < 5 && ((c[k] >= '0' && c[k] <= '9') || (c[k] >= 'A' && c[k] <= 'Z')))
            k++;
        if (k != 5 || c[5] != ':')
            continue;
        if (sqlstate_transient(c))
            return DB_FAIL_RETRY; /* with several hosts, one may come back */
    }
    if (local_transient(msg))
        return DB_FAIL_RETRY;
    /* A server refused us for a reason of ours (authentication, unknown
     * database or role, bad option), or libpq did (a setting, TLS, a peer
     * that is not PostgreSQL): a later attempt would meet the same. */
    return DB_FAIL_FATAL;
}

db_failure db_failure_of(PGconn *pg)
{
    if (!pg)
        return DB_FAIL_RETRY;
    return db_failure_classify(PQerrorMessage(pg), PQconnectionNeedsPassword(pg) != 0);
}

const char *db_failure_name(db_failure f)
{
    switch (f) {
    case DB_FAIL_NONE:
        return "none";
    case DB_FAIL_RETRY:
        return "retry";
    case DB_FAIL_FATAL:
        return "fatal";
    case DB_FAIL_SCHEMA:
        return "schema";
    }
    return "?";
}

/* ------------------------------------------------------------- connecting */

/* The failure message of pg, scrubbed, on one line, without the LOCATION
 * line that PQERRORS_VERBOSE adds (a server source file is no help). */
static void failure_line(char *dst, size_t n, PGconn *pg, const db_secrets_t *secrets)
{
    char *work = xstrdup(PQerrorMessage(pg));
    for (char *loc = strstr(work, "LOCATION:"); loc; loc = strstr(work, "LOCATION:")) {
        if (loc != work && loc[-1] != '\n') {
            loc = strstr(loc + 1, "\nLOCATION:");
            if (!loc)
                break;
            loc++;
        }
        char *eol = strchr(loc, '\n');
        memmove(loc, eol ? eol + 1 : loc + strlen(loc), strlen(eol ? eol + 1 : "") + 1);
    }
    scrubbed_line(dst, n, work, secrets, PQpass(pg));
    free(work);
    if (!*dst)
        snprintf(dst, n, "connection failed");
}

void db_failure_message(PGconn *pg, char *dst, size_t n)
{
    failure_line(dst, n, pg, NULL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connect_timeout libpq would use (the URL may set one): seconds, 0 for
 * none; values below 2 count as 2, as libpq does. */
static int effective_timeout(PGconn *pg)
{
    int t = DB_CONNECT_TIMEOUT;
    PQconninfoOption *opts = PQconninfo(pg);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "connect_timeout") && o->val && *o->val)
            t = atoi(o->val);
    PQconninfoFree(opts);
    if (t < 0)
        t = 0;
    if (t == 1)
        t = 2;
    return t;
}

/*
 * One connection attempt.  NULL with the (scrubbed, one-line) reason in
 * reason and its class in *why.  Keywords before "dbname" are defaults the
 * URL may override; those after it are forced (libpq processes the arrays
 * in order, the expanded URL in dbname's place).
 *
 * Driven with PQconnectPoll rather than PQconnectdbParams for one reason:
 * PQERRORS_VERBOSE must be in force before the server answers, so that a
 * refusal carries its SQLSTATE (db_failure_classify).  connect_timeout
 * bounds each address tried, as in libpq; when it expires the attempt ends.
 */
static PGconn *connect_once(const char *url, const db_secrets_t *secrets, char *reason, size_t n,
                            db_failure *why)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", DB_CONNECT_TIMEOUT);
    char *options = default_options();
    const char *keys[] = {"fallback_application_name",
                          "connect_timeout",
                          "options",
                          "dbname",
                          "client_encoding",
                          NULL};
    const char *vals[] = {program_invocation_short_name, timeout, options, url, "UTF8", NULL};
    PGconn *pg = PQconnectStartParams(keys, vals, 1);
    free(options);
    if (!pg)
        abort(); /* libpq's out of memory: the xalloc policy */
    PQsetErrorVerbosity(pg, PQERRORS_VERBOSE);
    *why = DB_FAIL_NONE;
    bool timed_out = false;
    if (PQstatus(pg) != CONNECTION_BAD) {
        int limit_ms = effective_timeout(pg) * 1000;
        int sock = PQsocket(pg);
        long long deadline = mono_ms() + limit_ms;
        PostgresPollingStatusType st = PGRES_POLLING_WRITING;
        while (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
            if (PQsocket(pg) != sock) { /* the next address: its own timeout */
                sock = PQsocket(pg);
                deadline = mono_ms() + limit_ms;
            }
            long long left = deadline - mono_ms();
            if (limit_ms > 0 && left <= 0) {
                timed_out = true;
                break;
            }
            struct pollfd p = {.fd = sock,
                               .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
            int r = poll(&p, 1, limit_ms > 0 ? (int)left : -1);
            if (r < 0 && errno != EINTR) {
                timed_out = true; /* cannot wait: give up like a timeout */
                break;
            }
            if (r > 0)
                st = PQconnectPoll(pg);
        }
    }
    if (timed_out || PQstatus(pg) != CONNECTION_OK) {
        if (timed_out) {
            *why = DB_FAIL_RETRY;
            snprintf(reason, n, "timeout expired (connect_timeout)");
        } else {
            *why = db_failure_of(pg);
            failure_line(reason, n, pg, secrets);
        }
        PQfinish(pg);
        return NULL;
    }
    /* Later errors read as libpq's usual ones; db.c takes codes from
     * PGresults there. */
    PQsetErrorVerbosity(pg, PQERRORS_DEFAULT);
    PQsetNoticeReceiver(pg, notice_receiver, NULL);
    /* jit off: our statements are short, and a prepared statement's
     * generic plan can estimate a cost large enough for PostgreSQL to
     * compile it, at every run (a poll of an empty realm took 250 ms of
     * LLVM with 200,000 changes in the table: bench/README.md, vlob-bench).
     * Generic plans always: db.h says why. */
    PGresult *res = PQexec(pg, DB_SESSION_SETUP_SQL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *why = PQstatus(pg) == CONNECTION_OK ? DB_FAIL_FATAL : DB_FAIL_RETRY;
        scrubbed_line(reason, n, PQerrorMessage(pg), secrets, PQpass(pg));
        PQclear(res);
        PQfinish(pg);
        return NULL;
    }
    PQclear(res);
    return pg;
}

static void pause_seconds(double s)
{
    if (!(s > 0)) /* also NaN */
        return;
    if (s > 86400)
        s = 86400;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int attempts_of(const cfg_t *cfg)
{
    return cfg->maximum_database_connection_attempts > 1 ? cfg->maximum_database_connection_attempts
                                                         : 1;
}

/* Is url something libpq can parse?  If not, err says so (scrubbed). */
static bool url_valid(const char *url, const db_secrets_t *secrets, const char *redacted, char *err,
                      size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (opts) {
        PQconninfoFree(opts);
        return true;
    }
    char line[512];
    scrubbed_line(line, sizeof line, perr ? perr : "cannot parse", secrets, NULL);
    snprintf(err, errlen, "invalid database URL %s: %s", redacted, line);
    PQfreemem(perr);
    return false;
}

static void unreachable_message(char *err, size_t errlen, const char *redacted, int attempts,
                                const char *reason, db_failure why)
{
    if (why == DB_FAIL_FATAL)
        snprintf(err, errlen,
                 "cannot connect to database %s: %s (not retried: retrying cannot fix this)",
                 redacted, reason);
    else
        snprintf(err, errlen, "cannot connect to database %s after %d attempt%s: %s", redacted,
                 attempts, attempts == 1 ? "" : "s", reason);
}

static void set_why(db_failure *out, db_failure why)
{
    if (out)
        *out = why;
}

PGconn *db_connect(const cfg_t *cfg, const char *url, char *err, size_t errlen, db_failure *why)
{
    PGconn *pg = NULL;
    db_failure f = DB_FAIL_FATAL;
    db_secrets_t secrets;
    secrets_init(&secrets, url);
    char *redacted = cfg_redact_url(url);
    if (!url_valid(url, &secrets, redacted, err, errlen))
        goto cleanup;
    int attempts = attempts_of(cfg);
    char reason[512] = "";
    int a;
    for (a = 1; a <= attempts; a++) {
        pg = connect_once(url, &secrets, reason, sizeof reason, &f);
        if (pg) {
            f = DB_FAIL_NONE;
            goto cleanup;
        }
        if (f == DB_FAIL_FATAL)
            break;
        if (a < attempts) {
            log_warning("cannot connect to database %s (attempt %d of %d): %s; retrying in %g s",
                        redacted, a, attempts, reason, cfg->pause_before_retry_database_connection);
            pause_seconds(cfg->pause_before_retry_database_connection);
        }
    }
    unreachable_message(err, errlen, redacted, a > attempts ? attempts : a, reason, f);
cleanup:
    set_why(why, f);
    free(redacted);
    secrets_free(&secrets);
    return pg;
}

/* ------------------------------------------------------------ connections */

static db_conn_t *conn_new(db_pool_t *pool, char *reason, size_t n, db_failure *why)
{
    PGconn *pg = connect_once(pool->url, &pool->secrets, reason, n, why);
    if (!pg)
        return NULL;
    db_conn_t *c = xcalloc(1, sizeof *c);
    c->pg = pg;
    c->pool = pool;
    PQsetNoticeReceiver(pg, notice_receiver, c);
    return c;
}

static void prepared_clear(db_conn_t *c)
{
    free(c->prepared);
    c->prepared = NULL;
    c->nprepared = c->cap = 0;
}

static void conn_free(db_conn_t *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    prepared_clear(c);
    free(c);
}

/* Replace c's session by a fresh one (same db_conn_t, nothing prepared). */
bool db_conn_reconnect(db_conn_t *c)
{
    char reason[512];
    db_failure why;
    PGconn *pg = connect_once(c->pool->url, &c->pool->secrets, reason, sizeof reason, &why);
    if (!pg) {
        log_error("cannot reconnect to database %s: %s", c->pool->redacted, reason);
        return false;
    }
    PQfinish(c->pg);
    c->pg = pg;
    c->broken = false;
    prepared_clear(c);
    PQsetNoticeReceiver(pg, notice_receiver, c);
    return true;
}

/*
 * Is an idle connection still usable?  A session the server ended while it
 * sat idle (restart, pg_terminate_backend, idle timeout) sent a FATAL error,
 * then closed the socket: readable while no query is in flight.  Parsing
 * what came hands the error to notice_receiver(), which marks c broken; a
 * close already received turns into CONNECTION_BAD.  What this cannot see
 * is a server that has not sent anything yet: db_tx() replaces a session
 * that fails at BEGIN for that race.
 */
static bool conn_alive(db_conn_t *c)
{
    for (int round = 0; round < 2; round++) {
        if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
            return false;
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        int r = poll(&p, 1, 0);
        if (r == 0 || (r < 0 && errno == EINTR))
            return true;
        if (r < 0 || !PQconsumeInput(c->pg))
            return false;
        /* Parse what arrived, then look again for the close that follows. */
        (void)PQisBusy(c->pg);
        PGnotify *nt;
        while ((nt = PQnotifies(c->pg)))
            PQfreemem(nt);
    }
    return PQstatus(c->pg) == CONNECTION_OK;
}

/* --------------------------------------------------------------- the pool */

static void pool_free(db_pool_t *pool)
{
    while (pool->idle) {
        db_conn_t *c = pool->idle;
        pool->idle = c->next_idle;
        conn_free(c);
    }
    pthread_cond_destroy(&pool->released);
    pthread_mutex_destroy(&pool->mu);
    secrets_free(&pool->secrets);
    free(pool->url);
    free(pool->redacted);
    free(pool);
}

/* Open connections until want are idle; false (reason and why set) on a
 * failure. */
static bool pool_fill(db_pool_t *pool, int want, char *reason, size_t n, db_failure *why)
{
    while (pool->nidle < want) {
        db_conn_t *c = conn_new(pool, reason, n, why);
        if (!c)
            return false;
        c->next_idle = pool->idle;
        pool->idle = c;
        pool->nidle++;
        pool->open++;
    }
    return true;
}

db_pool_t *db_pool_open(const cfg_t *cfg, const char *url, char *err, size_t errlen,
                        db_failure *why)
{
    set_why(why, DB_FAIL_FATAL);
    if (!url || !*url) {
        snprintf(err, errlen, "no database URL given (--db)");
        return NULL;
    }
    if (!strcmp(url, "MOCKED")) {
        snprintf(err, errlen,
                 "--db MOCKED is a throwaway cluster that only `parsec backend run` can start; "
                 "give this process its real URL");
        return NULL;
    }
    db_pool_t *pool = xcalloc(1, sizeof *pool);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->released, &ca);
    pthread_condattr_destroy(&ca);
    pool->url = xstrdup(url);
    pool->redacted = cfg_redact_url(url);
    secrets_init(&pool->secrets, url);
    pool->min = cfg->db_min_connections > 0 ? cfg->db_min_connections : 0;
    pool->max = cfg->db_max_connections > 1 ? cfg->db_max_connections : 1;
    if (pool->max < pool->min)
        pool->max = pool->min;

    if (!url_valid(url, &pool->secrets, pool->redacted, err, errlen))
        goto fail;

    /* At least one connection, for the schema check. */
    int want = pool->min > 0 ? pool->min : 1;
    int attempts = attempts_of(cfg), a;
    char reason[512] = "";
    db_failure f = DB_FAIL_NONE;
    bool filled = false;
    for (a = 1; a <= attempts && !filled; a++) {
        filled = pool_fill(pool, want, reason, sizeof reason, &f);
        if (!filled && f == DB_FAIL_FATAL)
            break;
        if (!filled && a < attempts) {
            log_warning("cannot connect to database %s (attempt %d of %d): %s; retrying in %g s",
                        pool->redacted, a, attempts, reason,
                        cfg->pause_before_retry_database_connection);
            pause_seconds(cfg->pause_before_retry_database_connection);
        }
    }
    if (!filled) {
        set_why(why, f);
        unreachable_message(err, errlen, pool->redacted, a > attempts ? attempts : a, reason, f);
        goto fail;
    }
    if (!migrate_check(pool->idle->pg, err, errlen)) {
        /* Behind or ahead: `parsec backend migrate` (or the other binary)
         * fixes it without touching this process's settings. */
        set_why(why, PQstatus(pool->idle->pg) == CONNECTION_OK ? DB_FAIL_SCHEMA : DB_FAIL_RETRY);
        goto fail;
    }
    if (pool->min == 0) {
        db_conn_t *c = pool->idle;
        pool->idle = NULL;
        pool->nidle = pool->open = 0;
        conn_free(c);
    }
    log_info("database %s: %d connection%s open (min %d, max %d)", pool->redacted, pool->open,
             pool->open == 1 ? "" : "s", pool->min, pool->max);
    set_why(why, DB_FAIL_NONE);
    return pool;

fail:
    pool_free(pool);
    return NULL;
}

void db_pool_close(db_pool_t *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    int busy = pool->open - pool->nidle;
    pthread_mutex_unlock(&pool->mu);
    if (busy)
        log_error("db_pool_close: %d connection%s still acquired (leaked by a caller)", busy,
                  busy == 1 ? "" : "s");
    pool_free(pool);
}

void db_pool_counts(db_pool_t *pool, int *open, int *idle)
{
    pthread_mutex_lock(&pool->mu);
    if (open)
        *open = pool->open;
    if (idle)
        *idle = pool->nidle;
    pthread_mutex_unlock(&pool->mu);
}

db_conn_t *db_acquire(db_pool_t *pool)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += DB_ACQUIRE_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(DB_ACQUIRE_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&pool->mu);
    for (;;) {
        if (pool->idle) {
            db_conn_t *c = pool->idle;
            pool->idle = c->next_idle;
            pool->nidle--;
            pthread_mutex_unlock(&pool->mu);
            if (conn_alive(c)) {
                c->next_idle = NULL;
                c->sqlstate[0] = '\0';
                metrics_db_in_use(1);
                return c;
            }
            log_info("database %s: dropping a connection the server closed", pool->redacted);
            conn_free(c);
            pthread_mutex_lock(&pool->mu);
            pool->open--;
            continue;
        }
        if (pool->open < pool->max) {
            pool->open++;
            pthread_mutex_unlock(&pool->mu);
            char reason[512];
            db_failure why;
            db_conn_t *c = conn_new(pool, reason, sizeof reason, &why);
            if (c) {
                metrics_db_in_use(1);
                return c;
            }
            metrics_db_error(METRICS_DB_CONNECT);
            log_error("cannot connect to database %s: %s", pool->redacted, reason);
            pthread_mutex_lock(&pool->mu);
            pool->open--;
            /* A waiter may try the freed slot itself. */
            pthread_cond_signal(&pool->released);
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        metrics_db_waiting(1);
        int r = pthread_cond_timedwait(&pool->released, &pool->mu, &deadline);
        metrics_db_waiting(-1);
        if (r == ETIMEDOUT && !pool->idle && pool->open >= pool->max) {
            pthread_mutex_unlock(&pool->mu);
            metrics_db_error(METRICS_DB_ACQUIRE_TIMEOUT);
            log_error("database %s: no connection released within %d ms (all %d busy)",
                      pool->redacted, DB_ACQUIRE_TIMEOUT_MS, pool->max);
            return NULL;
        }
    }
}

void db_release(db_pool_t *pool, db_conn_t *c)
{
    if (!c)
        return;
    metrics_db_in_use(-1);
    bool keep = !c->broken && PQstatus(c->pg) == CONNECTION_OK;
    if (keep) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* A caller left a transaction open: never hand it to the next
             * request. */
            PGresult *res = PQexec(c->pg, "ROLLBACK");
            keep = PQresultStatus(res) == PGRES_COMMAND_OK;
            PQclear(res);
            log_warning("database: a connection was released inside a transaction%s",
                        keep ? " (rolled back)" : "; dropped");
        } else if (ts != PQTRANS_IDLE) {
            keep = false; /* a query still in flight, or unknown */
        }
    }
    if (!keep) {
        conn_free(c);
        pthread_mutex_lock(&pool->mu);
        pool->open--;
    } else {
        pthread_mutex_lock(&pool->mu);
        c->next_idle = pool->idle;
        pool->idle = c;
        pool->nidle++;
    }
    pthread_cond_signal(&pool->released);
    pthread_mutex_unlock(&pool->mu);
}

PGconn *db_pg(db_conn_t *c)
{
    return c->pg;
}

/* ------------------------------------------------------------- statements */

static size_t ptr_hash(const void *p, size_t cap)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (cap - 1);
}

bool db_prepared_has(const db_conn_t *c, const db_stmt_t *s)
{
    if (!c->cap)
        return false;
    for (size_t i = ptr_hash(s, c->cap);; i = (i + 1) & (c->cap - 1)) {
        if (c->prepared[i] == s)
            return true;
        if (!c->prepared[i])
            return false;
    }
}

static void prepared_grow(db_conn_t *c)
{
    const db_stmt_t **old = c->prepared;
    size_t oldcap = c->cap;
    c->cap = oldcap ? oldcap * 2 : 64;
    c->prepared = xcalloc(c->cap, sizeof *c->prepared);
    c->nprepared = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            db_prepared_put(c, old[i]);
    free(old);
}

void db_prepared_put(db_conn_t *c, const db_stmt_t *s)
{
    if ((c->nprepared + 1) * 2 > c->cap)
        prepared_grow(c);
    size_t i = ptr_hash(s, c->cap);
    while (c->prepared[i])
        i = (i + 1) & (c->cap - 1);
    c->prepared[i] = s;
    c->nprepared++;
}

static bool state_is(const char *state, const char *want)
{
    return !strcmp(state, want);
}

/*
 * Record a failed operation on c (res may be NULL) and log it.  The first
 * failure of a transaction is kept: the "current transaction is aborted"
 * errors (25P02) that follow it would hide a retryable 40001.
 */
void db_record_failure(db_conn_t *c, const PGresult *res, const char *what, const char *name)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool conn_bad = PQstatus(c->pg) != CONNECTION_OK;
    if (!state)
        state = conn_bad ? "08006" : "XX000"; /* libpq-side failure */
    if (conn_bad || !strncmp(state, "08", 2) || state_is(state, "57P01") ||
        state_is(state, "57P02") || state_is(state, "57P03"))
        c->broken = true;
    if (!(state_is(state, "25P02") && c->sqlstate[0]))
        snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state);
    metrics_db_error(METRICS_DB_STATEMENT);

    cfg_log_level level = CFG_LOG_ERROR;
    if (!strncmp(state, "23", 2) || state_is(state, "40001") || state_is(state, "40P01") ||
        state_is(state, "25P02"))
        level = CFG_LOG_DEBUG; /* expected: the caller maps or retries them */
    if (!log_enabled(level))
        return;
    char line[512];
    if (!strncmp(state, "22", 2))
        snprintf(line, sizeof line, "(data exception; message withheld: it quotes the value)");
    else
        db_msg_line(line, sizeof line,
                    res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        : PQerrorMessage(c->pg));
    log_write(level, "database: %s%s%s failed: SQLSTATE %s: %s", what, name ? " " : "",
              name ? name : "", state, line);
}

bool db_result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

PGresult *db_exec_fmt(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                      const int *lengths, const int *formats, int result_format)
{
    if (!db_prepared_has(c, stmt)) {
        PGresult *res = PQprepare(c->pg, stmt->name, stmt->sql, stmt->nparams, NULL);
        if (!db_result_ok(res)) {
            /* 42P05 here means two db_stmt_t share a name: a bug. */
            db_record_failure(c, res, "prepare", stmt->name);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        db_prepared_put(c, stmt);
    }
    PGresult *res =
        PQexecPrepared(c->pg, stmt->name, stmt->nparams, values, lengths, formats, result_format);
    if (!db_result_ok(res)) {
        db_record_failure(c, res, "statement", stmt->name);
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *db_exec(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats)
{
    return db_exec_fmt(c, stmt, values, lengths, formats, 0);
}

PGresult *db_query(db_conn_t *c, const char *sql, int nparams, const char *const *values)
{
    PGresult *res = PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
    if (!db_result_ok(res)) {
        db_record_failure(c, res, "query", NULL);
        PQclear(res);
        return NULL;
    }
    return res;
}

const char *db_last_sqlstate(const db_conn_t *c)
{
    return c->sqlstate;
}

/* ------------------------------------------------------------ transactions */

static bool retryable(const char *state)
{
    return state_is(state, "40001") || state_is(state, "40P01");
}

/* A short random pause before re-running a body, so that two transactions
 * that just collided do not collide again in lockstep. */
static void retry_backoff(int attempt)
{
    static _Thread_local uint32_t seed;
    if (!seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&ts;
        if (!seed)
            seed = 1;
    }
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    long us = 1000 + (long)(seed % (uint32_t)(2000 * attempt));
    struct timespec d = {.tv_sec = 0, .tv_nsec = us * 1000};
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
}

/* Send a statement whose failure only matters through c's state. */
static bool simple(db_conn_t *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        db_record_failure(c, res, sql, NULL);
    PQclear(res);
    return ok;
}

bool db_tx_retryable(const db_conn_t *c)
{
    return retryable(c->sqlstate);
}

void db_tx_backoff(int attempt)
{
    retry_backoff(attempt);
}

bool db_in_tx(const db_conn_t *c)
{
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}

bool db_begin(db_conn_t *c, bool serializable)
{
    PGTransactionStatusType before = PQtransactionStatus(c->pg);
    if (before == PQTRANS_INTRANS || before == PQTRANS_INERROR || before == PQTRANS_ACTIVE) {
        /* BEGIN would only warn, and our COMMIT would end the caller's
         * transaction: refuse the nesting outright. */
        log_error("database: BEGIN inside a transaction or a running query");
        return false;
    }
    const char *sql = serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN";
    c->sqlstate[0] = '\0';
    if (simple(c, sql))
        return true;
    /* Nothing ran yet: a session the server closed can be replaced without
     * the caller noticing. */
    if (c->broken && db_conn_reconnect(c)) {
        c->sqlstate[0] = '\0';
        return simple(c, sql);
    }
    return false;
}

db_tx_result db_commit(db_conn_t *c)
{
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts != PQTRANS_INTRANS) {
        if (ts == PQTRANS_INERROR) {
            /* after a failed statement: the cause is already recorded */
            (void)simple(c, "ROLLBACK");
        } else if (ts == PQTRANS_IDLE) {
            log_error("database: COMMIT outside a transaction");
        } else {
            c->broken = true; /* the session died under the transaction */
        }
        return DB_TX_ERROR;
    }
    PGresult *res = PQexec(c->pg, "COMMIT");
    /* a COMMIT of a transaction the server aborted answers "ROLLBACK" */
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), "COMMIT");
    if (!ok)
        db_record_failure(c, res, "COMMIT", NULL);
    PQclear(res);
    return ok ? DB_TX_COMMIT : DB_TX_ERROR;
}

void db_rollback(db_conn_t *c)
{
    if (db_in_tx(c))
        (void)simple(c, "ROLLBACK");
}

static db_tx_result tx_run(db_conn_t *c, db_tx_fn fn, void *arg, bool serializable)
{
    for (int attempt = 1;; attempt++) {
        if (!db_begin(c, serializable))
            return DB_TX_ERROR;

        db_tx_result r = fn(c, arg);
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);

        if (r == DB_TX_COMMIT && ts == PQTRANS_INTRANS) {
            if (db_commit(c) == DB_TX_COMMIT)
                return DB_TX_COMMIT;
            /* A failed COMMIT ends the transaction; serialization failures
             * detected at commit are retried like any other. */
            if (retryable(c->sqlstate) && attempt < DB_TX_MAX_ATTEMPTS) {
                log_debug("database: transaction retried after SQLSTATE %s at COMMIT (run %d)",
                          c->sqlstate, attempt);
                retry_backoff(attempt);
                continue;
            }
            if (retryable(c->sqlstate))
                log_warning("database: transaction gave up after %d runs (SQLSTATE %s)", attempt,
                            c->sqlstate);
            return DB_TX_ERROR;
        }

        /* Every other outcome ends in ROLLBACK. */
        db_rollback(c);
        if ((ts == PQTRANS_INERROR || r == DB_TX_ERROR) && retryable(c->sqlstate)) {
            if (attempt < DB_TX_MAX_ATTEMPTS) {
                log_debug("database: transaction retried after SQLSTATE %s (run %d)", c->sqlstate,
                          attempt);
                retry_backoff(attempt);
                continue;
            }
            log_warning("database: transaction gave up after %d runs (SQLSTATE %s)", attempt,
                        c->sqlstate);
            return DB_TX_ERROR;
        }
        if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) {
            /* The session died under the body, or the body ended the
             * transaction itself (a bug: db_tx owns BEGIN and COMMIT). */
            if (ts == PQTRANS_IDLE)
                log_error("database: a transaction body ended the transaction itself");
            else
                c->broken = true;
            return DB_TX_ERROR;
        }
        switch (r) {
        case DB_TX_ROLLBACK:
            return DB_TX_ROLLBACK;
        case DB_TX_ERROR:
            return DB_TX_ERROR;
        case DB_TX_COMMIT: /* here: after a failed statement */
            log_error("database: a transaction body asked to commit after a failed statement "
                      "(SQLSTATE %s)",
                      c->sqlstate[0] ? c->sqlstate : "unknown");
            return DB_TX_ERROR;
        }
        log_error("database: a transaction body returned %d", (int)r);
        return DB_TX_ERROR;
    }
}

db_tx_result db_tx(db_conn_t *c, db_tx_fn fn, void *arg)
{
    return tx_run(c, fn, arg, false);
}

db_tx_result db_tx_serializable(db_conn_t *c, db_tx_fn fn, void *arg)
{
    return tx_run(c, fn, arg, true);
}

int db_schema_pending(PGconn *pg)
{
    migrate_status_t st;
    char err[256];
    if (!migrate_inspect(pg, &st, err, sizeof err)) {
        log_error("database: %s", err);
        return -1;
    }
    if (st.unknown)
        return -1;
    return st.pending;
}

char *db_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}
