/*
 * tests/lib/httpsink.c - a loopback HTTP receiver that records what it gets
 * (see httpsink.h)
 */
#include "httpsink.h"

#include "strbuf.h"
#include "xalloc.h"

#include <check.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A peer silent this long is dropped (a test's client never is). */
#define HTTPSINK_IO_MS    10000
#define HTTPSINK_HEAD_MAX (64 * 1024)

struct httpsink {
    int fd, port;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    int status;
    char *extra;
    bool stalled, stopping;
    int count;
    httpsink_req_t reqs[HTTPSINK_MAX_REQUESTS];
};

/* read_request - head and body of one request on c; false when the peer
 * went away or broke the protocol. */
static bool read_request(int c, httpsink_req_t *q)
{
    strbuf_t b = STRBUF_INIT;
    size_t head_len = 0, want = 0;
    bool ok = false;
    for (;;) {
        if (head_len == 0) {
            const char *end = b.s ? strstr(b.s, "\r\n\r\n") : NULL;
            if (end) {
                head_len = (size_t)(end - b.s) + 4;
                q->head = xstrndup(b.s, head_len);
                httpsink_req_t tmp = {.head = q->head};
                char *cl = httpsink_header(&tmp, "Content-Length");
                want = cl ? strtoul(cl, NULL, 10) : 0;
                free(cl);
            } else if (b.len > HTTPSINK_HEAD_MAX) {
                goto cleanup;
            }
        }
        if (head_len && b.len - head_len >= want)
            break;
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, HTTPSINK_IO_MS) <= 0)
            goto cleanup;
        char buf[16384];
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0)
            goto cleanup;
        strbuf_append(&b, buf, (size_t)n);
    }
    q->body_len = want > HTTPSINK_MAX_BODY ? HTTPSINK_MAX_BODY : want;
    q->body = xmalloc(q->body_len + 1);
    memcpy(q->body, b.s + head_len, q->body_len);
    q->body[q->body_len] = '\0';
    ok = true;
cleanup:
    if (!ok) {
        free(q->head);
        q->head = NULL;
    }
    strbuf_free(&b);
    return ok;
}

static void *serve(void *arg)
{
    httpsink_t *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down */
        }
        httpsink_req_t q = {0};
        if (!read_request(c, &q)) {
            close(c);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (s->count < HTTPSINK_MAX_REQUESTS) {
            s->reqs[s->count] = q;
        } else {
            free(q.head);
            free(q.body);
        }
        s->count++;
        pthread_cond_broadcast(&s->cv);
        while (s->stalled && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        char *reply = xasprintf("HTTP/1.1 %d Answer\r\nContent-Length: 2\r\nConnection: close\r\n"
                                "%s\r\n{}",
                                s->status, s->extra ? s->extra : "");
        pthread_mutex_unlock(&s->mu);
        ssize_t w = send(c, reply, strlen(reply), MSG_NOSIGNAL);
        (void)w;
        free(reply);
        close(c);
    }
    return NULL;
}

httpsink_t *httpsink_start(int status, const char *extra)
{
    httpsink_t *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->status = status;
    s->extra = extra ? xstrdup(extra) : NULL;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->fd, 64), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, serve, s), 0);
    return s;
}

int httpsink_port(const httpsink_t *s)
{
    return s->port;
}

void httpsink_answer(httpsink_t *s, int status, const char *extra)
{
    pthread_mutex_lock(&s->mu);
    s->status = status;
    free(s->extra);
    s->extra = extra ? xstrdup(extra) : NULL;
    pthread_mutex_unlock(&s->mu);
}

void httpsink_stall(httpsink_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stalled = true;
    pthread_mutex_unlock(&s->mu);
}

void httpsink_release(httpsink_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stalled = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int httpsink_count(httpsink_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool httpsink_wait(httpsink_t *s, int n, long timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->count < n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    bool ok = s->count >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

httpsink_req_t *httpsink_get(httpsink_t *s, int i)
{
    httpsink_req_t *q = NULL;
    pthread_mutex_lock(&s->mu);
    if (i >= 0 && i < s->count && i < HTTPSINK_MAX_REQUESTS) {
        q = xcalloc(1, sizeof *q);
        q->head = xstrdup(s->reqs[i].head);
        q->body_len = s->reqs[i].body_len;
        q->body = xmalloc(q->body_len + 1);
        memcpy(q->body, s->reqs[i].body, q->body_len + 1);
    }
    pthread_mutex_unlock(&s->mu);
    return q;
}

void httpsink_req_free(httpsink_req_t *q)
{
    if (!q)
        return;
    free(q->head);
    free(q->body);
    free(q);
}

char *httpsink_header(const httpsink_req_t *q, const char *name)
{
    size_t n = strlen(name);
    const char *line = strstr(q->head, "\r\n");
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
            const char *v = line + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return xstrndup(v, (size_t)(end - v));
        }
        line = end;
    }
    return NULL;
}

void httpsink_stop(httpsink_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->stalled = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->tid, NULL);
    for (int i = 0; i < s->count && i < HTTPSINK_MAX_REQUESTS; i++) {
        free(s->reqs[i].head);
        free(s->reqs[i].body);
    }
    free(s->extra);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
