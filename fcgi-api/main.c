/*
 * fcgi-api/main.c - the FastCGI worker (parsec-fcgi); see fcgi-api/README.md
 *
 * Threads and what they own:
 *   main      parses settings, starts everything, then only waits for
 *             signals (sigwait): SIGHUP reopens the log, SIGTERM / SIGINT /
 *             SIGUSR1 stop the worker gracefully.
 *   db        only when the database did not answer at start (or its
 *             schema was not this binary's): opens the pool, retrying until
 *             it succeeds or the worker stops; the worker serves meanwhile
 *             (db handlers and /health answer 503).  A failure retrying
 *             cannot fix (common/db.h, DB_FAIL_FATAL) stops the worker,
 *             exit status 1.
 *   worker*N  N = --db-max-connections; each owns one FCGX_Request and one
 *             arena, takes turns accepting on the shared listening socket
 *             and serves one request at a time.
 */
#include "arena.h"
#include "cfg.h"
#include "blockstore.h"
#include "db.h"
#include "event_batch.h"
#include "front/front.h"
#include "log.h"
#include "metrics.h"
#include "sentry.h"
#include "xalloc.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A unix --fcgi-socket: the worker's user and group (the web server's). */
#define FCGI_SOCKET_MODE 0660

static cfg_t g_cfg;
static blockstore_t *g_blockstore; /* NULL: no --blockstore */
static cfg_t g_db_cfg;             /* g_cfg with one attempt per db_pool_open() call */
static _Atomic(db_pool_t *) g_pool;
static atomic_bool g_stopping;
static atomic_bool g_fatal; /* the db thread met a DB_FAIL_FATAL: exit 1 */
static int g_listen_fd = -1;
static int g_wake[2] = {-1, -1}; /* readable once stopping: wakes every poll() */
static pthread_mutex_t g_accept_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_db_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_db_cv = PTHREAD_COND_INITIALIZER;

typedef struct {
    pthread_t tid;
    FCGX_Request req;
    arena_t *arena;
    blockstore_ctx_t *blocks; /* this thread's blockstore handles, NULL: none */
} worker_t;

/* Ask the main thread to stop, from any thread (it sigwait()s). */
static void request_stop(void)
{
    kill(getpid(), SIGTERM);
}

/* ---- the database opener ---- */

/* The pool is open: requests may use it, and events that belong to no
 * transaction (pinged) are published many per commit from now on. */
static void pool_opened(db_pool_t *pool)
{
    atomic_store(&g_pool, pool);
    if (!event_batch_init(pool))
        log_warning("events are published one per request");
}

/* What the worker says while it answers 503, by failure class. */
static const char *waiting_for(db_failure why)
{
    return why == DB_FAIL_SCHEMA ? "until the schema is this server's"
                                 : "until the database is reachable";
}

static void *db_thread(void *arg)
{
    db_failure why = *(const db_failure *)arg;
    log_set_context("db");
    double pause = g_cfg.pause_before_retry_database_connection;
    if (pause < 0.1)
        pause = 0.1;
    /* main() made attempt 1 */
    for (unsigned long attempt = 2; !atomic_load(&g_stopping); attempt++) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = (long long)until.tv_nsec + (long long)(pause * 1e9);
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&g_db_mu);
        while (!atomic_load(&g_stopping) &&
               pthread_cond_timedwait(&g_db_cv, &g_db_mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&g_db_mu);
        if (atomic_load(&g_stopping))
            break;

        char err[512] = "";
        db_pool_t *pool = db_pool_open(&g_db_cfg, g_cfg.db, err, sizeof err, &why);
        if (pool) {
            pool_opened(pool);
            log_info("database ready after %lu attempts", attempt);
            break;
        }
        if (why == DB_FAIL_FATAL) {
            /* e.g. the server was starting, then refused our password */
            log_fail("%s", err);
            atomic_store(&g_fatal, true);
            request_stop();
            break;
        }
        /* about once a minute: the log must not fill up */
        if (attempt % (unsigned long)(60.0 / pause + 1) == 0)
            log_warning("database still not ready after %lu attempts: %s; answering 503 %s",
                        attempt, err, waiting_for(why));
    }
    log_set_context(NULL);
    return NULL;
}

/* ---- the request loop ---- */

/*
 * Wait until fd is readable or the worker stops.  Polling before
 * FCGX_Accept_r() (on a non-blocking listening socket) is what lets a stop
 * reach a thread that would otherwise sit in accept() forever.
 */
static bool wait_readable(int fd)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = g_wake[0], .events = POLLIN}};
    while (!atomic_load(&g_stopping)) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("poll: %s", strerror(errno));
            struct timespec backoff = {0, 100 * 1000 * 1000};
            nanosleep(&backoff, NULL);
            return false;
        }
        if (p[1].revents)
            return false;
        if (p[0].revents)
            return true;
    }
    return false;
}

static void *worker_thread(void *arg)
{
    worker_t *w = arg;
    while (!atomic_load(&g_stopping)) {
        /* a web server that keeps connections (FCGI_KEEP_CONN) sends the
         * next request on the same one: wait there, without the lock */
        bool kept = w->req.ipcFd >= 0;
        if (!kept)
            pthread_mutex_lock(&g_accept_mu);
        int rc = 1; /* nothing accepted */
        if (wait_readable(kept ? w->req.ipcFd : g_listen_fd))
            rc = FCGX_Accept_r(&w->req);
        if (!kept)
            pthread_mutex_unlock(&g_accept_mu);
        if (rc > 0 || (atomic_load(&g_stopping) && rc != 0))
            continue; /* the loop condition decides */
        if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR || rc == -ECONNABORTED)
            continue; /* another process took it, or the peer left */
        if (rc < 0) {
            if (rc == -EBADF || rc == -EINVAL || rc == -ENOTSOCK) {
                log_critical("listening socket unusable (%s): stopping", strerror(-rc));
                request_stop();
                break;
            }
            log_error("FastCGI accept failed: %s", rc > -4096 ? strerror(-rc) : "libfcgi error");
            struct timespec backoff = {0, 100 * 1000 * 1000}; /* EMFILE & co: do not spin */
            nanosleep(&backoff, NULL);
            continue;
        }
        http_env_t env = {&g_cfg, atomic_load(&g_pool), w->blocks};
        front_serve(&w->req, w->arena, &env);
        FCGX_Finish_r(&w->req);
        arena_reset(w->arena);
    }
    FCGX_Free(&w->req, 1);
    return NULL;
}

/* ---- start-up ---- */

static int open_unix_socket(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "--fcgi-socket %s: path too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "--fcgi-socket %s: exists and is not a socket", path);
            return -1;
        }
        unlink(path); /* a stale socket from an earlier run */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Mode FCGI_SOCKET_MODE whatever the umask: the web server reaches it
     * through the group.  No thread exists yet, so the umask is ours. */
    mode_t old_umask = umask(0777 & ~FCGI_SOCKET_MODE);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    umask(old_umask);
    if (!ok || listen(fd, g_cfg.fcgi_listen_backlog) != 0) {
        snprintf(err, errlen, "--fcgi-socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* "host:port", "[v6]:port", ":port" or "*:port" (all addresses). */
static int open_tcp_socket(const char *spec, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    char *host = xstrndup(spec, (size_t)(colon - spec));
    const char *port = colon + 1;
    const char *h = host;
    if (*h == '[' && h[strlen(h) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        h++;
    }
    if (!*h || strcmp(h, "*") == 0)
        h = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int fd = -1;
    int gai = getaddrinfo(h, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--fcgi-socket %s: %s", spec, gai_strerror(gai));
        goto cleanup;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, g_cfg.fcgi_listen_backlog) == 0)
            break;
        snprintf(err, errlen, "--fcgi-socket %s: %s", spec, strerror(errno));
        close(fd);
        fd = -1;
    }
cleanup:
    if (res)
        freeaddrinfo(res);
    free(host);
    return fd;
}

static bool is_listening_socket(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1;
}

int main(int argc, char **argv)
{
    char err[512] = "";
    int status = 1;
    bool cfg_ok = false, log_ok = false, db_started = false, created_socket = false,
         curl_ok = false;
    pthread_t db_tid;
    worker_t *workers = NULL;
    int nworkers = 0;

    /* Before any thread exists: every thread inherits this mask, so the
     * signals reach only the sigwait() below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN); /* a web server that went away is a write error */
    /* A request's big buffers (a 512 KiB block, its base64, the reply) come
     * from the heap and stay mapped for the next request, instead of fresh
     * mappings faulted in page by page on every request and given back at
     * its end: page faults cost most of a block_read in a VM.  Memory stays
     * at each thread's high-water mark (bounded by --max-request-size). */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);

    static const char *const required[] = {"db", NULL};
    /* TLS is the web server's: the guide's files may sit in a shared
     * parsec.env, readable only by parsec backend run or notifyd */
    static const char *const ignored[] = {"ssl-keyfile", "ssl-certfile", NULL};
    static const cfg_command_t command = {
        .name = "parsec-fcgi", .ignored = ignored, .required = required};
    switch (cfg_parse_command(&g_cfg, &command, argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv,
                              NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    case CFG_PARSE_ERROR:
        fprintf(stderr, "parsec-fcgi: %s\n", err);
        return 2;
    }
    cfg_ok = true;
    if (strcmp(g_cfg.db, "MOCKED") == 0) {
        fprintf(stderr, "parsec-fcgi: --db MOCKED is for `parsec backend run`, which gives "
                        "its workers the real URL; give a postgresql:// URL\n");
        status = 2;
        goto cleanup;
    }
    if (!log_open(g_cfg.log_level, g_cfg.log_format, g_cfg.log_file, "parsec-fcgi", err,
                  sizeof err)) {
        fprintf(stderr, "parsec-fcgi: %s\n", err);
        goto cleanup;
    }
    log_ok = true;
    for (char **w = g_cfg.warnings; w && *w; w++)
        log_warning("%s", *w);
    sentry_start(&g_cfg, "parsec-fcgi"); /* errors and crashes to --sentry-dsn, if set */

    if (FCGX_Init() != 0) {
        log_fail("FCGX_Init failed");
        goto cleanup;
    }
    /* libcurl once, before any thread (webhook, mail, S3/Swift) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_fail("curl_global_init failed");
        goto cleanup;
    }
    curl_ok = true;
    /* The blockstore's nodes are checked now (bucket and container HEAD,
     * Swift authentication): wrong credentials are one line and exit 1, not
     * a timeout on every block later. */
    if (g_cfg.blockstore.n_nodes > 0) {
        g_blockstore = blockstore_open(&g_cfg, err, sizeof err);
        if (!g_blockstore) {
            log_fail("blockstore: %s", err);
            goto cleanup;
        }
    }
    if (g_cfg.fcgi_socket && *g_cfg.fcgi_socket) {
        bool tcp = strchr(g_cfg.fcgi_socket, '/') == NULL && strchr(g_cfg.fcgi_socket, ':');
        g_listen_fd = tcp ? open_tcp_socket(g_cfg.fcgi_socket, err, sizeof err)
                          : open_unix_socket(g_cfg.fcgi_socket, err, sizeof err);
        if (g_listen_fd < 0) {
            log_fail("%s", err);
            goto cleanup;
        }
        created_socket = !tcp;
    } else if (is_listening_socket(0)) {
        g_listen_fd = 0; /* spawned by the web server: FCGI_LISTENSOCK_FILENO */
    } else {
        fprintf(stderr,
                "parsec-fcgi: standard input is not a FastCGI listening socket: let "
                "the web server spawn this program, or give --fcgi-socket PATH|HOST:PORT\n");
        status = 2;
        goto cleanup;
    }
    /* Non-blocking, so that a thread woken for a connection that a sibling
     * process took gets EAGAIN instead of blocking in accept() (see
     * wait_readable).  Accepted connections do not inherit it. */
    int fl = fcntl(g_listen_fd, F_GETFL);
    if (fl < 0 || fcntl(g_listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_fail("set-up failed: %s", strerror(errno));
        goto cleanup;
    }

    /* One attempt before serving: a worker spawned on demand (mod_fcgid)
     * then has its pool for its very first request.  If the database does
     * not answer (or its schema is not ours yet), serve anyway (pages work,
     * /health and database handlers answer 503) and keep trying in the
     * background: a web server would only respawn a worker that exited, in
     * a loop.  A failure retrying cannot fix stops here, in one line. */
    g_db_cfg = g_cfg;
    g_db_cfg.maximum_database_connection_attempts = 1;
    static db_failure first_why;
    db_pool_t *first = db_pool_open(&g_db_cfg, g_cfg.db, err, sizeof err, &first_why);
    if (first) {
        pool_opened(first);
    } else if (first_why == DB_FAIL_FATAL) {
        log_fail("%s", err);
        goto cleanup;
    } else {
        log_error("database: %s; answering 503 %s", err, waiting_for(first_why));
        if (pthread_create(&db_tid, NULL, db_thread, &first_why) != 0) {
            log_fail("cannot start the database thread");
            goto cleanup;
        }
        db_started = true;
    }

    /* The node's workers count together; alone when the directory is
     * unusable.  Once start-up can no longer fail, so that a failure stays
     * one line. */
    if (!metrics_open(g_cfg.metrics_dir, METRICS_FILE_FCGI, err, sizeof err))
        log_warning("metrics: %s; this worker counts alone", err);

    /* More threads than connections: a request waiting on the network after
     * its commit (webhook, mail, blockstore) holds a thread, not a
     * connection; the others wait in db_acquire() when all are busy. */
    nworkers = cfg_worker_threads(&g_cfg);
    workers = xcalloc((size_t)nworkers, sizeof *workers);
    for (int i = 0; i < nworkers; i++) {
        workers[i].arena = arena_new();
        workers[i].blocks = g_blockstore ? blockstore_ctx_new(g_blockstore) : NULL;
        FCGX_InitRequest(&workers[i].req, g_listen_fd, 0);
        if (pthread_create(&workers[i].tid, NULL, worker_thread, &workers[i]) != 0) {
            log_fail("cannot start worker thread %d", i);
            arena_free(workers[i].arena);
            blockstore_ctx_free(workers[i].blocks);
            nworkers = i;
            goto stop;
        }
    }
    log_info("parsec-fcgi %s serving with %d threads on %s", PARSEC_VERSION, nworkers,
             g_cfg.fcgi_socket && *g_cfg.fcgi_socket ? g_cfg.fcgi_socket
                                                     : "the web server's socket");

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_reopen();
            log_info("SIGHUP: log file reopened");
            continue;
        }
        if (!atomic_load(&g_fatal))
            log_info("signal %d: finishing in-flight requests, then exiting", sig);
        break;
    }
    status = atomic_load(&g_fatal) ? 1 : 0;

stop:
    atomic_store(&g_stopping, true);
    if (write(g_wake[1], "x", 1) < 0)
        log_error("wake pipe: %s", strerror(errno));
    for (int i = 0; i < nworkers; i++) {
        pthread_join(workers[i].tid, NULL);
        arena_free(workers[i].arena);
        blockstore_ctx_free(workers[i].blocks);
    }

cleanup:
    atomic_store(&g_stopping, true);
    if (db_started) {
        pthread_mutex_lock(&g_db_mu);
        pthread_cond_broadcast(&g_db_cv);
        pthread_mutex_unlock(&g_db_mu);
        pthread_join(db_tid, NULL);
    }
    /* the queued events before the connections they go out on */
    (void)event_batch_shutdown(2000);
    db_pool_t *pool = atomic_exchange(&g_pool, NULL);
    if (pool)
        db_pool_close(pool);
    free(workers);
    blockstore_close(g_blockstore);
    if (curl_ok)
        curl_global_cleanup();
    if (g_listen_fd > 0)
        close(g_listen_fd);
    if (created_socket)
        unlink(g_cfg.fcgi_socket);
    for (int i = 0; i < 2; i++)
        if (g_wake[i] >= 0)
            close(g_wake[i]);
    metrics_close();
    if (log_ok)
        log_close();
    if (cfg_ok)
        cfg_free(&g_cfg);
    return status;
}
