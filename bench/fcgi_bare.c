/*
 * bench/fcgi_bare.c - the baselines of bench/rpc-bench: a FastCGI app that
 * does nothing but answer
 *
 * It accepts on the socket the web server hands it (stdin, as lighttpd's
 * bin-path spawning does) and answers every request with a fixed JSON body
 * the size of an administration GET reply, from as many threads as the
 * parsec-fcgi worker it is compared with (BARE_THREADS, else
 * PARSEC_WORKER_THREADS, default 1).  What is
 * left is the cost of the web server, FastCGI and libfcgi themselves: the
 * ceiling for any handler.  It reads no database and parses nothing.
 *
 * SELECT 1 mode (bench/rpc-bench): with BARE_DB set to a PostgreSQL URL,
 * each thread opens its own connection, prepares "SELECT 1" once, and runs
 * it (PQexecPrepared, one round trip) before every answer: the ceiling for
 * a handler that needs one prepared query, which is what an authenticated
 * request needs at least (its identity and revocation state).
 *
 * Large mode (bench/block-bench): with PARSEC_BARE_BODY_SIZE set (a PARSEC_
 * variable, so the shipped configurations hand it over as they hand the
 * worker's), every answer is a body of that many bytes from memory,
 * written as the worker writes a large body (front_write_stdout(), 64 KiB
 * records): what a block's download costs in the web server, FastCGI and
 * the client alone, without the database.
 */
#include "front/front.h"

#include <fcgiapp.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BARE_MAX_THREADS 64

static const char body[] = "{\"is_bootstrapped\":false,\"is_expired\":false,"
                           "\"user_profile_outsider_allowed\":true,\"active_users_limit\":null}";
static char reply[512]; /* head and body, built once in main() */
static int reply_len;

static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *db_url; /* BARE_DB: SELECT 1 mode */
static char *large;        /* PARSEC_BARE_BODY_SIZE: large mode */
static long large_len;

static void answer_large(FCGX_Request *req)
{
    /* X-Request-Id: the start-up probe of tests/lib/websrv.c looks for it */
    FCGX_FPrintF(req->out,
                 "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: %ld\r\nX-Request-Id: bare\r\n\r\n",
                 large_len);
    if (FCGX_FFlush(req->out) == 0)
        (void)front_write_stdout(req->ipcFd, req->requestId, large, (size_t)large_len);
}

/* One prepared SELECT 1; false (and a 500) if it did not answer 1. */
static int select_one(PGconn *pg)
{
    PGresult *res = PQexecPrepared(pg, "one", 0, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
             strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return ok;
}

static void *serve(void *arg)
{
    FCGX_Request req;
    PGconn *pg = NULL;
    (void)arg;
    if (db_url) {
        pg = PQconnectdb(db_url);
        PGresult *res =
            PQstatus(pg) == CONNECTION_OK ? PQprepare(pg, "one", "SELECT 1", 0, NULL) : NULL;
        int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            fprintf(stderr, "fcgi_bare: %s", PQerrorMessage(pg));
            PQfinish(pg);
            return NULL;
        }
    }
    if (FCGX_InitRequest(&req, 0, 0) != 0) {
        PQfinish(pg);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&accept_mu);
        int rc = FCGX_Accept_r(&req);
        pthread_mutex_unlock(&accept_mu);
        if (rc < 0)
            break;
        /* drain any body so the web server is not left writing */
        char buf[4096];
        while (FCGX_GetStr(buf, sizeof buf, req.in) > 0)
            ;
        if (large)
            answer_large(&req);
        else if (pg && !select_one(pg))
            FCGX_PutS("Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", req.out);
        else
            FCGX_PutStr(reply, reply_len, req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    PQfinish(pg);
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

int main(void)
{
    const char *s = getenv("BARE_THREADS");
    if (!s) /* as parsec-fcgi's, when started by a shipped configuration */
        s = getenv("PARSEC_WORKER_THREADS");
    long n = s ? strtol(s, NULL, 10) : 1;
    if (n < 1 || n > BARE_MAX_THREADS)
        n = 1;
    db_url = getenv("BARE_DB");
    if (db_url && !*db_url)
        db_url = NULL;
    const char *size = getenv("PARSEC_BARE_BODY_SIZE");
    if (size) {
        large_len = strtol(size, NULL, 10);
        if (large_len < 1 || large_len > 64L * 1024 * 1024) {
            fputs("fcgi_bare: PARSEC_BARE_BODY_SIZE: 1 to 64 MiB\n", stderr);
            return 1;
        }
        large = malloc((size_t)large_len);
        if (!large)
            return 1;
        for (long i = 0; i < large_len; i++)
            large[i] = (char)(i * 131 + 7);
    }
    reply_len = snprintf(reply, sizeof reply,
                         "Status: 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n%s",
                         sizeof body - 1, body);
    if (FCGX_Init() != 0) {
        fputs("fcgi_bare: FCGX_Init failed\n", stderr);
        return 1;
    }
    /* The web server stops its FastCGI children with SIGTERM.  libfcgi's
     * handler only sets a flag, which a thread blocked in accept() never
     * sees: the process would outlive its web server.  Exit at once instead,
     * with status 0 (tests/lib/websrv.c counts a worker killed by a signal
     * as one that did not stop cleanly). */
    signal(SIGTERM, on_term);
    pthread_t tids[BARE_MAX_THREADS];
    for (long i = 1; i < n; i++)
        if (pthread_create(&tids[i], NULL, serve, NULL) != 0)
            return 1;
    serve(NULL);
    for (long i = 1; i < n; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
