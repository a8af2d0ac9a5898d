/*
 * bench/fcgi_bare.c - the baseline of bench/admin-bench: a FastCGI app that
 * does nothing but answer
 *
 * It accepts on the socket the web server hands it (stdin, as lighttpd's
 * bin-path spawning does) and answers every request with a fixed JSON body
 * the size of an administration GET reply, from as many threads as the
 * parsec-fcgi worker it is compared with (BARE_THREADS, default 1).  What is
 * left is the cost of the web server, FastCGI and libfcgi themselves: the
 * ceiling for any handler.  It reads no database and parses nothing.
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BARE_MAX_THREADS 64

static const char body[] = "{\"is_bootstrapped\":false,\"is_expired\":false,"
                           "\"user_profile_outsider_allowed\":true,\"active_users_limit\":null}";
static char reply[512]; /* head and body, built once in main() */
static int reply_len;

static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;

static void *serve(void *arg)
{
    FCGX_Request req;
    (void)arg;
    if (FCGX_InitRequest(&req, 0, 0) != 0)
        return NULL;
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
        FCGX_PutStr(reply, reply_len, req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

int main(void)
{
    const char *s = getenv("BARE_THREADS");
    long n = s ? strtol(s, NULL, 10) : 1;
    if (n < 1 || n > BARE_MAX_THREADS)
        n = 1;
    reply_len = snprintf(reply, sizeof reply,
                         "Status: 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n%s",
                         sizeof body - 1, body);
    if (FCGX_Init() != 0) {
        fputs("fcgi_bare: FCGX_Init failed\n", stderr);
        return 1;
    }
    pthread_t tids[BARE_MAX_THREADS];
    for (long i = 1; i < n; i++)
        if (pthread_create(&tids[i], NULL, serve, NULL) != 0)
            return 1;
    serve(NULL);
    for (long i = 1; i < n; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
