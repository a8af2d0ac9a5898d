/*
 * notifyd/pgconn.c - notifyd's one PostgreSQL connection, inside the lws loop
 *
 * States: UP (LISTENing, queries flow), SETUP (SET/LISTEN/PREPARE in flight
 * after a reconnection), CONNECTING (PQconnectPoll driven by socket
 * readiness), RESOLVING (the host names resolved on a thread, resolve.h:
 * libpq would resolve them inside the loop), WAITING (backoff timer before
 * the next attempt), CLOSED (shutting down).
 *
 * Readiness comes from a dup() of libpq's socket adopted into lws.  While
 * connecting, libpq may move to another socket (next host or address); we
 * compare socket inodes after each PQconnectPoll step and adopt the new one.
 * Comparing descriptor numbers would not do: libpq may close fd 7 and get a
 * new socket as fd 7 again.
 */
#include "pgconn.h"

#include "event.h"
#include "log.h"
#include "resolve.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* As common/db.c sets up a session (a reconnection opens with
 * pg_start_async(), not db_connect()), with a shorter statement_timeout:
 * notifyd's one statement answers a websocket's handshake. */
#define PG_SETUP_SQL     DB_SESSION_SETUP_SQL "; SET statement_timeout = '5s'; LISTEN " EVENT_CHANNEL
#define PG_BACKOFF_MIN   (100 * LWS_US_PER_MS)
#define PG_BACKOFF_MAX   (5 * LWS_US_PER_SEC)
#define PG_CONNECT_LIMIT (10 * LWS_US_PER_SEC)
/* Notifications handled per loop turn: between turns every connection
 * writes what it was given, so a burst of thousands of events reaches a
 * client that keeps reading without overflowing its bounded queue. */
#define PG_NOTIFY_BATCH 32
/* A query still unanswered after this long means a dead link (the server
 * itself cancels a statement after statement_timeout, 5 s). */
#define PG_QUERY_LIMIT (15 * LWS_US_PER_SEC)

typedef enum { PG_UP, PG_SETUP, PG_CONNECTING, PG_RESOLVING, PG_WAITING, PG_CLOSED } pg_state;

typedef enum { Q_USER, Q_SETUP, Q_PREPARE } q_kind;

struct nd_pg_query {
    nd_pg_query_t *next;
    q_kind kind;
    const db_stmt_t *stmt; /* Q_USER, Q_PREPARE */
    char **values;         /* Q_USER: stmt->nparams copies (NULL entries: SQL NULL) */
    nd_pg_result_fn fn;    /* NULL: cancelled, or not a user query */
    void *arg;
    bool sent, failed;
    PGresult *res; /* the first rows result */
};

struct nd_pg {
    char *url;
    const db_stmt_t *const *stmts;
    size_t nstmts;
    pg_state state;
    PGconn *conn;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    const char *protocol;
    struct lws *wsi; /* adopted dup of PQsocket(conn), NULL when none */
    ino_t wsi_ino;   /* inode of the socket wsi watches */
    bool want_write; /* CONNECTING: PQconnectPoll asked for writability */
    bool down_announced;
    nd_pg_query_t *head, *tail;
    nd_pg_hooks_t hooks;
    lws_usec_t backoff;
    lws_sorted_usec_list_t sul_retry;    /* WAITING -> CONNECTING */
    lws_sorted_usec_list_t sul_deadline; /* connection attempt or query too long */
    lws_sorted_usec_list_t sul_kick;     /* our socket watcher died: look why */
    lws_sorted_usec_list_t sul_write;    /* ask for writability, outside callbacks */
    lws_sorted_usec_list_t sul_notify;   /* more notifications than a batch */
    bool backlog;                        /* libpq holds notifications not handled yet */
    nd_resolve_t *resolve;               /* RESOLVING: the job */
    nd_pg_t **vh_slot;                   /* the protocol's per-vhost pointer to us */
};

static void pg_lose(nd_pg_t *pg, const char *why);
static void pg_pump(nd_pg_t *pg);
static void pg_retry_cb(lws_sorted_usec_list_t *sul);

/* ---- helpers ---------------------------------------------------------- */

static void pg_notice(void *arg, const char *message)
{
    /* Server notices ("terminating connection due to administrator
     * command") deserve a log line, not libpq's default print to stderr. */
    size_t n = strlen(message);
    while (n && message[n - 1] == '\n')
        n--;
    log_info("notifyd: PostgreSQL: %.*s", (int)n, message);
}

/* libpq's last error on one line, the password (if libpq quotes it) masked. */
static void pg_errmsg(PGconn *conn, char *buf, size_t len)
{
    const char *m = conn ? PQerrorMessage(conn) : NULL;
    db_msg_line(buf, len, (m && *m) ? m : "unknown error");
    const char *pw = conn ? PQpass(conn) : NULL;
    size_t pl = pw ? strlen(pw) : 0;
    for (char *hit = pl ? strstr(buf, pw) : NULL; hit; hit = strstr(hit, pw)) {
        memset(hit, '*', pl);
    }
}

/* One attempt, as common/db.c's connect_once() does it but asynchronous:
 * keywords before "dbname" are defaults the URL may override, those after
 * it are forced.  The session settings (time zone, statement_timeout,
 * LISTEN) are PG_SETUP_SQL, sent once connected.  host, hostaddr and port
 * (all or none) are resolve.h's lists: with them libpq does no DNS. */
static PGconn *pg_start_async(const char *url, const char *host, const char *hostaddr,
                              const char *port)
{
    const char *keys[] = {"fallback_application_name",
                          "connect_timeout",
                          "dbname",
                          "client_encoding",
                          "host",
                          "hostaddr",
                          "port",
                          NULL};
    const char *vals[] = {"parsec-notifyd", "5", url, "UTF8", host, hostaddr, port, NULL};
    if (!host)
        keys[4] = NULL; /* the URL's own */
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c) {
        log_critical("notifyd: libpq could not allocate a connection");
        abort();
    }
    /* A refusal then carries its SQLSTATE, for db_failure_of(). */
    PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
    PQsetNoticeProcessor(c, pg_notice, NULL);
    return c;
}

/* TCP keepalives, so a peer that vanished without a word (host down,
 * network cut) is noticed in about 25 s instead of hours: notifyd would
 * otherwise wait forever for notifications that cannot come.  Unix sockets
 * have nothing to set. */
static void pg_keepalive(PGconn *conn)
{
    int fd = PQsocket(conn);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return;
    int on = 1, idle = 10, intvl = 5, cnt = 3;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) != 0)
        log_warning("notifyd: cannot set TCP keepalives on the database socket: %s",
                    strerror(errno));
}

static ino_t sock_ino(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 0;
    return st.st_ino;
}

/* Stop watching the current socket.  The wsi is killed asynchronously, so
 * this is safe from inside that wsi's own callback; until then a callback on
 * it sees wsi != pg->wsi and has lws close it. */
static void pg_detach(nd_pg_t *pg)
{
    if (!pg->wsi)
        return;
    struct lws *w = pg->wsi;
    pg->wsi = NULL;
    pg->wsi_ino = 0;
    lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Watch PQsocket(conn), adopting it again if libpq switched sockets. */
static bool pg_adopt(nd_pg_t *pg)
{
    int fd = PQsocket(pg->conn);
    ino_t ino = sock_ino(fd);
    if (fd < 0 || !ino)
        return false;
    if (pg->wsi && pg->wsi_ino == ino)
        return true;
    pg_detach(pg);
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dupfd < 0) {
        log_error("notifyd: cannot duplicate the PostgreSQL socket: %s", strerror(errno));
        return false;
    }
    lws_adopt_desc_t info = {
        .vh = pg->vh,
        .type = LWS_ADOPT_RAW_FILE_DESC,
        .vh_prot_name = pg->protocol,
        .opaque = pg,
    };
    info.fd.filefd = dupfd;
    /* On failure lws has closed dupfd itself. */
    pg->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (!pg->wsi) {
        log_error("notifyd: libwebsockets refused the PostgreSQL socket");
        return false;
    }
    pg->wsi_ino = ino;
    return true;
}

static void pg_write_cb(lws_sorted_usec_list_t *sul)
{
    nd_pg_t *pg = lws_container_of(sul, nd_pg_t, sul_write);
    if (pg->wsi)
        lws_callback_on_writable(pg->wsi);
}

/* Ask lws for a writeable callback on our socket.  Not directly: lws 4.1's
 * raw-file role clears POLLOUT right after the writeable callback returns,
 * so a request made from inside it would be lost; a timer due at once runs
 * after that. */
static void pg_want_write(nd_pg_t *pg)
{
    lws_sul_schedule(pg->ctx, 0, &pg->sul_write, pg_write_cb, 1);
}

static void query_free(nd_pg_query_t *q)
{
    if (q->values) {
        for (int i = 0; i < q->stmt->nparams; i++)
            free(q->values[i]);
        free(q->values);
    }
    if (q->res)
        PQclear(q->res);
    free(q);
}

static void queue_push(nd_pg_t *pg, nd_pg_query_t *q)
{
    q->next = NULL;
    if (pg->tail)
        pg->tail->next = q;
    else
        pg->head = q;
    pg->tail = q;
}

static nd_pg_query_t *queue_pop(nd_pg_t *pg)
{
    nd_pg_query_t *q = pg->head;
    if (q) {
        pg->head = q->next;
        if (!pg->head)
            pg->tail = NULL;
        q->next = NULL;
    }
    return q;
}

/* Fail every queued query (callbacks see NULL) and empty the queue.  The
 * list is detached first: callbacks may cancel handles, or try to queue
 * (refused: the state is no longer UP). */
static void queue_fail_all(nd_pg_t *pg, bool call)
{
    nd_pg_query_t *q = pg->head;
    pg->head = pg->tail = NULL;
    while (q) {
        nd_pg_query_t *next = q->next;
        if (q->fn && call) {
            nd_pg_result_fn fn = q->fn;
            q->fn = NULL;
            fn(q->arg, NULL);
        }
        query_free(q);
        q = next;
    }
}

static void pg_setup_queue(nd_pg_t *pg)
{
    nd_pg_query_t *q = xcalloc(1, sizeof *q);
    q->kind = Q_SETUP;
    queue_push(pg, q);
    for (size_t i = 0; i < pg->nstmts; i++) {
        q = xcalloc(1, sizeof *q);
        q->kind = Q_PREPARE;
        q->stmt = pg->stmts[i];
        queue_push(pg, q);
    }
}

/* ---- losing and regaining the connection ------------------------------ */

static void pg_lose(nd_pg_t *pg, const char *why)
{
    if (pg->state == PG_CLOSED || pg->state == PG_WAITING)
        return;
    if (pg->state == PG_UP)
        log_error("notifyd: database connection lost (%s); reconnecting", why);
    else
        log_warning("notifyd: database connection attempt failed (%s); next in %lld ms", why,
                    (long long)(pg->backoff / LWS_US_PER_MS));
    pg_detach(pg);
    lws_sul_cancel(&pg->sul_deadline);
    nd_resolve_drop(pg->resolve);
    pg->resolve = NULL;
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->backlog = false;
    lws_sul_cancel(&pg->sul_notify);
    pg->state = PG_WAITING;
    queue_fail_all(pg, true);
    if (!pg->down_announced) {
        pg->down_announced = true;
        if (pg->hooks.on_down)
            pg->hooks.on_down(pg->hooks.arg);
    }
    lws_sul_schedule(pg->ctx, 0, &pg->sul_retry, pg_retry_cb, pg->backoff);
    pg->backoff *= 2;
    if (pg->backoff > PG_BACKOFF_MAX)
        pg->backoff = PG_BACKOFF_MAX;
}

/* A reconnection refused for a reason retrying cannot fix (common/db.h):
 * no more attempts; the owner decides (notifyd stops). */
static void pg_fatal(nd_pg_t *pg)
{
    char msg[512];
    db_failure_message(pg->conn, msg, sizeof msg);
    pg_detach(pg);
    lws_sul_cancel(&pg->sul_deadline);
    PQfinish(pg->conn);
    pg->conn = NULL;
    pg->state = PG_CLOSED;
    queue_fail_all(pg, true);
    pg->hooks.on_fatal(pg->hooks.arg, msg);
}

static void pg_lose_conn(nd_pg_t *pg)
{
    if (pg->state == PG_CONNECTING && pg->hooks.on_fatal &&
        db_failure_of(pg->conn) == DB_FAIL_FATAL) {
        pg_fatal(pg);
        return;
    }
    char msg[512];
    pg_errmsg(pg->conn, msg, sizeof msg);
    pg_lose(pg, msg);
}

static void pg_deadline_cb(lws_sorted_usec_list_t *sul)
{
    nd_pg_t *pg = lws_container_of(sul, nd_pg_t, sul_deadline);
    if (pg->state == PG_CONNECTING)
        pg_lose(pg, "connection attempt timed out");
    else if (pg->state == PG_RESOLVING)
        pg_lose(pg, "resolving the database host timed out");
    else if (pg->state == PG_UP || pg->state == PG_SETUP)
        pg_lose(pg, "no answer to a query");
}

static void pg_connect_step(nd_pg_t *pg, PostgresPollingStatusType st)
{
    log_debug("notifyd: database connection attempt: %s",
              st == PGRES_POLLING_OK        ? "connected"
              : st == PGRES_POLLING_READING ? "waiting to read"
              : st == PGRES_POLLING_WRITING ? "waiting to write"
                                            : "failed");
    switch (st) {
    case PGRES_POLLING_OK:
        lws_sul_cancel(&pg->sul_deadline);
        PQsetErrorVerbosity(pg->conn, PQERRORS_DEFAULT);
        pg_keepalive(pg->conn);
        if (PQsetnonblocking(pg->conn, 1) != 0) {
            pg_lose_conn(pg);
            return;
        }
        pg->state = PG_SETUP;
        pg->want_write = false;
        if (!pg_adopt(pg)) {
            pg_lose(pg, "cannot watch the connection's socket");
            return;
        }
        pg_setup_queue(pg);
        pg_pump(pg);
        return;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (!pg_adopt(pg)) {
            pg_lose_conn(pg);
            return;
        }
        pg->want_write = st == PGRES_POLLING_WRITING;
        if (pg->want_write)
            pg_want_write(pg);
        return;
    default:
        pg_lose_conn(pg);
        return;
    }
}

/* Start connecting (host, hostaddr, port: NULL, or resolve.h's lists). */
static void pg_connect_start(nd_pg_t *pg, const char *host, const char *hostaddr, const char *port)
{
    pg->conn = pg_start_async(pg->url, host, hostaddr, port);
    pg->state = PG_CONNECTING;
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        pg_lose_conn(pg);
        return;
    }
    lws_sul_schedule(pg->ctx, 0, &pg->sul_deadline, pg_deadline_cb, PG_CONNECT_LIMIT);
    /* As libpq says: behave as if PQconnectPoll had answered WRITING. */
    pg_connect_step(pg, PGRES_POLLING_WRITING);
}

static void pg_retry_cb(lws_sorted_usec_list_t *sul)
{
    nd_pg_t *pg = lws_container_of(sul, nd_pg_t, sul_retry);
    if (pg->state != PG_WAITING)
        return;
    /* Host names are resolved on a thread first (resolve.h); the loop goes
     * on meanwhile, and pg_resolved() takes it from there. */
    char err[256];
    pg->resolve = nd_resolve_start(pg->url, pg->ctx, err, sizeof err);
    pg->state = PG_RESOLVING;
    if (!pg->resolve && err[0]) {
        pg_lose(pg, err);
        return;
    }
    if (!pg->resolve) {
        pg_connect_start(pg, NULL, NULL, NULL); /* nothing to resolve */
        return;
    }
    lws_sul_schedule(pg->ctx, 0, &pg->sul_deadline, pg_deadline_cb, PG_CONNECT_LIMIT);
}

/* The loop was woken (lws_cancel_service): the resolution may be over. */
static void pg_resolved(nd_pg_t *pg)
{
    if (pg->state != PG_RESOLVING || !pg->resolve || !nd_resolve_done(pg->resolve))
        return;
    const char *host, *hostaddr, *port;
    char err[256];
    if (!nd_resolve_params(pg->resolve, &host, &hostaddr, &port, err, sizeof err)) {
        pg_lose(pg, err);
        return;
    }
    lws_sul_cancel(&pg->sul_deadline);
    pg_connect_start(pg, host, hostaddr, port);
    /* libpq copied the lists. */
    nd_resolve_drop(pg->resolve);
    pg->resolve = NULL;
}

/* The watched socket was closed by lws (hang-up or error): find out why,
 * outside lws's close path. */
static void pg_kick_cb(lws_sorted_usec_list_t *sul)
{
    nd_pg_t *pg = lws_container_of(sul, nd_pg_t, sul_kick);
    if (pg->wsi)
        return; /* already watching a new socket */
    if (pg->state == PG_CONNECTING)
        pg_connect_step(pg, PQconnectPoll(pg->conn));
    else if (pg->state == PG_UP || pg->state == PG_SETUP) {
        (void)PQconsumeInput(pg->conn);
        pg_lose(pg, "the server closed the connection");
    }
}

/* ---- queries and notifications ---------------------------------------- */

static bool pg_send(nd_pg_t *pg, nd_pg_query_t *q)
{
    int ok = 0;
    switch (q->kind) {
    case Q_SETUP:
        ok = PQsendQuery(pg->conn, PG_SETUP_SQL);
        break;
    case Q_PREPARE:
        ok = PQsendPrepare(pg->conn, q->stmt->name, q->stmt->sql, q->stmt->nparams, NULL);
        break;
    case Q_USER:
        /* Binary results: bytea as its bytes, no hex to decode. */
        ok = PQsendQueryPrepared(pg->conn, q->stmt->name, q->stmt->nparams,
                                 (const char *const *)q->values, NULL, NULL, 1);
        break;
    }
    if (!ok)
        return false;
    q->sent = true;
    lws_sul_schedule(pg->ctx, 0, &pg->sul_deadline, pg_deadline_cb, PG_QUERY_LIMIT);
    int f = PQflush(pg->conn);
    if (f < 0)
        return false;
    if (f == 1)
        pg_want_write(pg);
    return true;
}

/* Send the next query when idle, collect finished results. */
static void pg_pump(nd_pg_t *pg)
{
    while (pg->state == PG_UP || pg->state == PG_SETUP) {
        nd_pg_query_t *q = pg->head;
        /* A query cancelled before it was sent is never sent. */
        if (q && !q->sent && q->kind == Q_USER && !q->fn) {
            query_free(queue_pop(pg));
            continue;
        }
        if (!q)
            return;
        if (!q->sent) {
            if (!pg_send(pg, q)) {
                pg_lose_conn(pg);
                return;
            }
        }
        if (PQisBusy(pg->conn))
            return;
        PGresult *r = PQgetResult(pg->conn);
        if (r) {
            ExecStatusType s = PQresultStatus(r);
            if (s == PGRES_TUPLES_OK && !q->res && !q->failed) {
                q->res = r;
            } else {
                if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
                    msg[strcspn(msg, "\n")] = '\0';
                    log_error("notifyd: query %s failed: %s", q->stmt ? q->stmt->name : "setup",
                              msg);
                    q->failed = true;
                }
                PQclear(r);
            }
            continue;
        }
        /* NULL: this query is complete. */
        lws_sul_cancel(&pg->sul_deadline);
        queue_pop(pg);
        if (q->kind != Q_USER) {
            bool failed = q->failed;
            query_free(q);
            if (failed) {
                pg_lose(pg, "LISTEN or PREPARE failed");
                return;
            }
            if (pg->state == PG_SETUP && !pg->head) {
                pg->state = PG_UP;
                pg->backoff = PG_BACKOFF_MIN;
                log_warning("notifyd: database connection restored, LISTEN " EVENT_CHANNEL
                            " in force again");
                if (pg->down_announced) {
                    pg->down_announced = false;
                    if (pg->hooks.on_up)
                        pg->hooks.on_up(pg->hooks.arg);
                }
            }
            continue;
        }
        nd_pg_result_fn fn = q->fn;
        q->fn = NULL;
        if (fn)
            fn(q->arg, q->failed ? NULL : q->res);
        query_free(q);
    }
}

static void pg_notify_cb(lws_sorted_usec_list_t *sul);

/* Up to PG_NOTIFY_BATCH notifications; the rest next loop turn. */
static void pg_drain_notifies(nd_pg_t *pg)
{
    PGnotify *n;
    int done = 0;
    pg->backlog = false;
    while ((pg->state == PG_UP || pg->state == PG_SETUP) && (n = PQnotifies(pg->conn))) {
        if (strcmp(n->relname, EVENT_CHANNEL) == 0 && pg->hooks.on_notify)
            pg->hooks.on_notify(pg->hooks.arg, n->extra);
        PQfreemem(n);
        if (++done == PG_NOTIFY_BATCH) {
            pg->backlog = true;
            lws_sul_schedule(pg->ctx, 0, &pg->sul_notify, pg_notify_cb, 1);
            return;
        }
    }
}

static void pg_notify_cb(lws_sorted_usec_list_t *sul)
{
    nd_pg_t *pg = lws_container_of(sul, nd_pg_t, sul_notify);
    if (pg->backlog)
        pg_drain_notifies(pg);
}

static void pg_readable(nd_pg_t *pg)
{
    /* Reading more while a backlog waits would only grow libpq's list, and
     * draining here too would feed connections two batches per loop turn:
     * the backlog drains from its timer, one batch a turn. */
    if (pg->backlog)
        return;
    if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) == CONNECTION_BAD) {
        /* Results and notifications read before the loss still count. */
        pg_drain_notifies(pg);
        pg_lose_conn(pg);
        return;
    }
    pg_pump(pg);
    pg_drain_notifies(pg);
}

int nd_pg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    nd_pg_t *pg = lws_get_opaque_user_data(wsi);

    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!pg || wsi != pg->wsi)
            return -1; /* a socket we no longer watch */
        if (pg->state == PG_CONNECTING) {
            if (!pg->want_write)
                pg_connect_step(pg, PQconnectPoll(pg->conn));
        } else if (pg->state == PG_UP || pg->state == PG_SETUP) {
            pg_readable(pg);
        }
        return 0;

    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (!pg || wsi != pg->wsi)
            return -1;
        if (pg->state == PG_CONNECTING) {
            /* Only when libpq asked: an early PQconnectPoll would take a
             * connect() still in progress for a finished one. */
            if (pg->want_write)
                pg_connect_step(pg, PQconnectPoll(pg->conn));
        } else if (pg->state == PG_UP || pg->state == PG_SETUP) {
            int f = PQflush(pg->conn);
            if (f < 0) {
                pg_lose_conn(pg);
                return 0;
            }
            if (f == 1)
                pg_want_write(pg);
            pg_pump(pg);
        }
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        /* A pseudo connection of the vhost: we are its per-vhost data. */
        nd_pg_t **slot = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
        if (slot && *slot)
            pg_resolved(*slot);
        return 0;
    }

    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (pg && wsi == pg->wsi) {
            pg->wsi = NULL;
            pg->wsi_ino = 0;
            if (pg->state != PG_CLOSED)
                lws_sul_schedule(pg->ctx, 0, &pg->sul_kick, pg_kick_cb, 1);
        }
        return 0;

    default:
        return 0;
    }
}

/* ---- public ----------------------------------------------------------- */

nd_pg_t *nd_pg_connect(const cfg_t *cfg, const char *url, const db_stmt_t *const *stmts,
                       size_t nstmts, char *err, size_t errlen)
{
    char msg[512];
    PGconn *conn = db_connect(cfg, url, err, errlen, NULL);
    if (!conn)
        return NULL;
    pg_keepalive(conn);

    int pending = db_schema_pending(conn);
    if (pending != 0) {
        if (pending < 0)
            snprintf(err, errlen,
                     "cannot read the database schema version, or it is newer than "
                     "this server");
        else
            snprintf(err, errlen,
                     "the database schema is %d migration%s behind: run `parsec backend migrate`",
                     pending, pending > 1 ? "s" : "");
        PQfinish(conn);
        return NULL;
    }

    PGresult *r = PQexec(conn, PG_SETUP_SQL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    for (size_t i = 0; ok && i < nstmts; i++) {
        r = PQprepare(conn, stmts[i]->name, stmts[i]->sql, stmts[i]->nparams, NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            log_error("notifyd: cannot prepare %s: %s", stmts[i]->name, PQresultErrorMessage(r));
        PQclear(r);
    }
    if (!ok || PQsetnonblocking(conn, 1) != 0) {
        pg_errmsg(conn, msg, sizeof msg);
        snprintf(err, errlen, "cannot LISTEN on the database: %s", msg);
        PQfinish(conn);
        return NULL;
    }

    nd_pg_t *pg = xcalloc(1, sizeof *pg);
    pg->url = xstrdup(url);
    pg->stmts = stmts;
    pg->nstmts = nstmts;
    pg->conn = conn;
    pg->state = PG_UP;
    pg->backoff = PG_BACKOFF_MIN;
    return pg;
}

bool nd_pg_attach(nd_pg_t *pg, struct lws_context *ctx, struct lws_vhost *vh, const char *protocol,
                  const nd_pg_hooks_t *hooks)
{
    pg->vh = vh;
    pg->ctx = ctx;
    pg->protocol = protocol;
    pg->hooks = *hooks;
    /* Found again from the loop's wake-up callback, which has no wsi of ours. */
    pg->vh_slot = lws_protocol_vh_priv_zalloc(vh, lws_vhost_name_to_protocol(vh, protocol),
                                              sizeof *pg->vh_slot);
    if (!pg->vh_slot)
        return false;
    *pg->vh_slot = pg;
    if (!pg_adopt(pg))
        return false;
    /* Anything that arrived between LISTEN and now. */
    pg_readable(pg);
    return true;
}

nd_pg_query_t *nd_pg_query(nd_pg_t *pg, const db_stmt_t *stmt, const char *const *values,
                           nd_pg_result_fn fn, void *arg)
{
    if (pg->state != PG_UP)
        return NULL;
    nd_pg_query_t *q = xcalloc(1, sizeof *q);
    q->kind = Q_USER;
    q->stmt = stmt;
    q->fn = fn;
    q->arg = arg;
    q->values = xcalloc((size_t)stmt->nparams + 1, sizeof *q->values);
    for (int i = 0; i < stmt->nparams; i++)
        q->values[i] = values[i] ? xstrdup(values[i]) : NULL;
    queue_push(pg, q);
    /* Sent from the writeable callback, never from here: a failure must not
     * run the caller's callback before it even holds the handle. */
    pg_want_write(pg);
    return q;
}

void nd_pg_cancel(nd_pg_query_t *q)
{
    if (q)
        q->fn = NULL;
}

bool nd_pg_is_up(const nd_pg_t *pg)
{
    return pg->state == PG_UP;
}

void nd_pg_stop(nd_pg_t *pg)
{
    if (!pg)
        return;
    pg->state = PG_CLOSED;
    nd_resolve_drop(pg->resolve);
    pg->resolve = NULL;
    if (pg->vh_slot)
        *pg->vh_slot = NULL; /* lws frees it with the vhost */
    pg->vh_slot = NULL;
    lws_sul_cancel(&pg->sul_retry);
    lws_sul_cancel(&pg->sul_deadline);
    lws_sul_cancel(&pg->sul_kick);
    lws_sul_cancel(&pg->sul_write);
    lws_sul_cancel(&pg->sul_notify);
    /* lws closes the adopted duplicate with the context.  Queries stay
     * allocated: sessions closed by the context's destruction still cancel
     * their handles; nd_pg_free() frees them afterwards. */
    pg->wsi = NULL;
}

void nd_pg_free(nd_pg_t *pg)
{
    if (!pg)
        return;
    queue_fail_all(pg, false);
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->url);
    free(pg);
}
