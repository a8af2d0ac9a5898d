/*
 * tests/lib/tcprelay.c - a loopback TCP relay (see tcprelay.h)
 *
 * One poll() loop over the listener, a wake pipe and the pairs of
 * connections.  Writes block: the peers are local test processes.
 */
#include "tcprelay.h"

#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PAIRS 64

struct tcprelay {
    pthread_t tid;
    int listen_fd, target_port;
    int wake[2];
    int fd[RELAY_PAIRS][2]; /* client side, server side; -1 when unused */
    pthread_mutex_t mu;     /* guards what follows */
    pthread_cond_t cv;      /* signalled when a chunk is held */
    char *needle;           /* armed hold, NULL when none */
    int held;               /* pair whose chunk is held, -1 when none */
    char *held_buf;
    size_t held_len;
};

/* hold_check - true when the chunk buf[0..n) of pair i was kept. */
static bool hold_check(tcprelay_t *r, int i, const char *buf, size_t n)
{
    bool kept = false;
    pthread_mutex_lock(&r->mu);
    if (r->needle && memmem(buf, n, r->needle, strlen(r->needle))) {
        r->held_buf = xmalloc(n);
        memcpy(r->held_buf, buf, n);
        r->held_len = n;
        r->held = i;
        free(r->needle);
        r->needle = NULL;
        pthread_cond_broadcast(&r->cv);
        kept = true;
    }
    pthread_mutex_unlock(&r->mu);
    return kept;
}

static void pair_close(tcprelay_t *r, int i)
{
    for (int k = 0; k < 2; k++) {
        if (r->fd[i][k] >= 0)
            close(r->fd[i][k]);
        r->fd[i][k] = -1;
    }
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static bool write_all(int to, const char *buf, ssize_t n)
{
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

/* forward - one read of pair i's side k written to the other side (a
 * client's chunk possibly held instead). */
static bool forward(tcprelay_t *r, int i, int k)
{
    char buf[65536];
    ssize_t n = read(r->fd[i][k], buf, sizeof buf);
    if (n <= 0)
        return false;
    if (k == 0 && hold_check(r, i, buf, (size_t)n))
        return true;
    return write_all(r->fd[i][1 - k], buf, n);
}

/* release - the held chunk sent on; its client read again. */
static void release(tcprelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    int i = r->held;
    if (i >= 0 && r->fd[i][0] >= 0 && !write_all(r->fd[i][1], r->held_buf, (ssize_t)r->held_len))
        pair_close(r, i);
    free(r->held_buf);
    r->held_buf = NULL;
    r->held = -1;
    pthread_mutex_unlock(&r->mu);
}

static void *relay_main(void *arg)
{
    tcprelay_t *r = arg;
    for (;;) {
        struct pollfd p[2 + 2 * RELAY_PAIRS];
        int idx[2 + 2 * RELAY_PAIRS];
        nfds_t n = 0;
        p[n] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
        idx[n++] = -1;
        p[n] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        idx[n++] = -1;
        pthread_mutex_lock(&r->mu);
        int held = r->held;
        pthread_mutex_unlock(&r->mu);
        for (int i = 0; i < RELAY_PAIRS; i++)
            for (int k = i == held ? 1 : 0; k < 2 && r->fd[i][0] >= 0; k++) {
                p[n] = (struct pollfd){.fd = r->fd[i][k], .events = POLLIN};
                idx[n++] = i * 2 + k;
            }
        if (poll(p, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents) {
            char c = 'x';
            if (read(r->wake[0], &c, 1) != 1 || c != 'r')
                break;
            release(r);
            continue;
        }
        if (p[1].revents) {
            int c = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            int s = c >= 0 ? connect_target(r->target_port) : -1;
            int slot = -1;
            for (int i = 0; i < RELAY_PAIRS && slot < 0; i++)
                if (r->fd[i][0] < 0)
                    slot = i;
            if (c >= 0 && s >= 0 && slot >= 0) {
                r->fd[slot][0] = c;
                r->fd[slot][1] = s;
            } else {
                if (c >= 0)
                    close(c);
                if (s >= 0)
                    close(s);
            }
        }
        for (nfds_t j = 2; j < n; j++) {
            if (!p[j].revents)
                continue;
            int i = idx[j] / 2, k = idx[j] % 2;
            if (r->fd[i][0] < 0)
                continue; /* closed by its other half this turn */
            if (!forward(r, i, k))
                pair_close(r, i);
        }
    }
    return NULL;
}

tcprelay_t *tcprelay_start(int listen_port, int target_port)
{
    tcprelay_t *r = xcalloc(1, sizeof *r);
    memset(r->fd, -1, sizeof r->fd);
    r->held = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->target_port = target_port;
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (r->listen_fd < 0 ||
        setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(r->listen_fd, 64) != 0 || pipe2(r->wake, O_CLOEXEC) != 0) {
        fprintf(stderr, "tcprelay: cannot listen on 127.0.0.1:%d: %s\n", listen_port,
                strerror(errno));
        if (r->listen_fd >= 0)
            close(r->listen_fd);
        free(r);
        return NULL;
    }
    if (pthread_create(&r->tid, NULL, relay_main, r) != 0)
        abort();
    return r;
}

void tcprelay_stop(tcprelay_t *r)
{
    if (!r)
        return;
    if (write(r->wake[1], "x", 1) != 1)
        abort();
    pthread_join(r->tid, NULL);
    for (int i = 0; i < RELAY_PAIRS; i++)
        pair_close(r, i);
    close(r->listen_fd);
    close(r->wake[0]);
    close(r->wake[1]);
    free(r->needle);
    free(r->held_buf);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void tcprelay_hold(tcprelay_t *r, const char *needle)
{
    pthread_mutex_lock(&r->mu);
    free(r->needle);
    r->needle = xstrdup(needle);
    pthread_mutex_unlock(&r->mu);
}

bool tcprelay_wait_held(tcprelay_t *r, int timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    while (r->held < 0 && rc == 0)
        rc = pthread_cond_timedwait(&r->cv, &r->mu, &until);
    bool held = r->held >= 0;
    pthread_mutex_unlock(&r->mu);
    return held;
}

void tcprelay_release(tcprelay_t *r)
{
    if (write(r->wake[1], "r", 1) != 1)
        abort();
}
