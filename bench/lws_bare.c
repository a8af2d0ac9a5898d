/*
 * bench/lws_bare.c - the baseline of bench/notifyd-bench.sh: a bare
 * libwebsockets 4.1 broadcast server
 *
 *   lws_bare PORT FIFO
 *
 * Listens on 127.0.0.1:PORT; every line written to the named pipe FIFO is
 * sent to every connected client as one text message.  No handshake, no
 * database, no routing, no bounds: the least a websocket fan-out fed from
 * outside can do on this machine with this library, so notifyd's figures
 * are read as ratios against it.  Prints "ready\n" once listening;
 * SIGTERM/SIGINT stop it.
 *
 * Same shape as notifyd where it matters for the comparison: one service
 * thread; the feed is a descriptor adopted into the loop as a raw file
 * (notifyd adopts PostgreSQL's socket); messages shared by reference with
 * LWS_PRE headroom; a per-client FIFO written in
 * LWS_CALLBACK_SERVER_WRITEABLE while the socket takes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct bmsg {
    unsigned refs;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + payload */
} bmsg_t;

typedef struct bnode {
    struct bnode *next;
    bmsg_t *m;
} bnode_t;

typedef struct bsess {
    struct lws *wsi;
    lws_dll2_t link;
    bnode_t *head, *tail;
    unsigned char *rx;
    size_t rx_len;
} bsess_t;

static lws_dll2_owner_t sessions;
static volatile sig_atomic_t stop;
/* The feed: bytes read from the pipe not yet ending in a newline. */
static char feed_buf[65536];
static size_t feed_len;

static void unref(bmsg_t *m)
{
    if (--m->refs == 0)
        free(m);
}

static void broadcast(bsess_t *from, const unsigned char *data, size_t len)
{
    bmsg_t *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        abort();
    m->refs = 1;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&sessions))
    {
        bsess_t *s = lws_container_of(d, bsess_t, link);
        /* (no `continue` here: lws's foreach macro advances at its end) */
        if (s != from) {
            bnode_t *n = malloc(sizeof *n);
            if (!n)
                abort();
            n->next = NULL;
            n->m = m;
            m->refs++;
            if (s->tail)
                s->tail->next = n;
            else
                s->head = n;
            s->tail = n;
            lws_callback_on_writable(s->wsi);
        }
    }
    lws_end_foreach_dll(d);
    unref(m);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    bsess_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        s->wsi = wsi;
        lws_dll2_add_tail(&s->link, &sessions);
        return 0;
    case LWS_CALLBACK_RECEIVE: {
        unsigned char *p = realloc(s->rx, s->rx_len + len);
        if (!p)
            abort();
        s->rx = p;
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            broadcast(s, s->rx, s->rx_len);
            s->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        for (int i = 0; i < 32 && s->head; i++) {
            if (i > 0 && lws_send_pipe_choked(wsi))
                break;
            bnode_t *n = s->head;
            s->head = n->next;
            if (!s->head)
                s->tail = NULL;
            int w = lws_write(wsi, n->m->buf + LWS_PRE, n->m->len, LWS_WRITE_TEXT);
            unref(n->m);
            free(n);
            if (w < 0)
                return -1;
        }
        if (s->head)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLOSED:
        lws_dll2_remove(&s->link);
        while (s->head) {
            bnode_t *n = s->head;
            s->head = n->next;
            unref(n->m);
            free(n);
        }
        free(s->rx);
        return 0;
    default:
        return 0;
    }
}

static int feed_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    int fd = lws_get_socket_fd(wsi);
    ssize_t n = read(fd, feed_buf + feed_len, sizeof feed_buf - feed_len);
    if (n <= 0)
        return (n < 0 && errno == EAGAIN) ? 0 : -1;
    feed_len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < feed_len; i++) {
        if (feed_buf[i] == '\n') {
            broadcast(NULL, (unsigned char *)feed_buf + start, i - start);
            start = i + 1;
        }
    }
    memmove(feed_buf, feed_buf + start, feed_len - start);
    feed_len -= start;
    if (feed_len == sizeof feed_buf)
        feed_len = 0; /* a line longer than the buffer: dropped */
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"bare", callback, sizeof(bsess_t), 1024, 0, NULL, 0},
    {"feed", feed_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lws_bare PORT FIFO\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = atoi(argv[1]);
    info.iface = "127.0.0.1";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = protocols;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        return 1;
    /* O_RDWR: the pipe never reports end-of-file when a writer leaves. */
    lws_sock_file_fd_type fd;
    fd.filefd = open(argv[2], O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd.filefd < 0 || !lws_adopt_descriptor_vhost(lws_get_vhost_by_name(ctx, "default"),
                                                     LWS_ADOPT_RAW_FILE_DESC, fd, "feed", NULL)) {
        fprintf(stderr, "lws_bare: cannot watch %s\n", argv[2]);
        lws_context_destroy(ctx);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    /* A signal interrupts poll() (EINTR, never restarted on Linux), so
     * lws_service returns and the flag is seen. */
    while (!stop && lws_service(ctx, 0) >= 0)
        ;
    lws_context_destroy(ctx);
    return 0;
}
