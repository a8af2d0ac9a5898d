/*
 * tests/lib/wsclient.c - a real websocket client for tests and benchmarks
 *
 * One lws client context; each wsclient_t is the user data of its wsi.  A
 * connection freed while its wsi lives becomes a "zombie": it is unlinked
 * from the caller's view and released when lws reports the close.
 */
#include "wsclient.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wsc_msg {
    struct wsc_msg *next;
    size_t len;
    bool binary;
    char *data; /* LWS_PRE headroom before data for outgoing messages */
} wsc_msg_t;

struct wsclient {
    wsclient_ctx_t *ctx;
    struct lws *wsi;
    lws_dll2_t link; /* ctx->conns */
    wsclient_state state;
    bool zombie;     /* freed by the caller, waiting for lws */
    bool want_close; /* send a close frame (1000) */
    char error[256];
    int close_code;
    char close_reason[128];
    void *user;
    /* received */
    wsc_msg_t *in_head, *in_tail;
    size_t in_count;
    char *frag;
    size_t frag_len;
    bool frag_binary;
    /* to send */
    wsc_msg_t *out_head, *out_tail;
    /* connect parameters kept for lws (it keeps pointers) */
    char host[256];
    char path[256];
    char offered[256]; /* Sec-WebSocket-Protocol sent, "" for none */
    /* the server's answer: its Sec-WebSocket-Protocol, if any */
    bool server_proto_seen;
    char server_proto[128];
};

struct wsclient_ctx {
    struct lws_context *lws;
    lws_dll2_owner_t conns;
    lws_sorted_usec_list_t sul_wake;
    wsclient_msg_fn on_msg;
    void *on_msg_arg;
};

static void xoom(void)
{
    fprintf(stderr, "wsclient: out of memory\n");
    abort();
}

static void *wmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        xoom();
    return p;
}

static void msgs_free(wsc_msg_t *m)
{
    while (m) {
        wsc_msg_t *next = m->next;
        free(m->data);
        free(m);
        m = next;
    }
}

static void client_release(wsclient_t *c)
{
    lws_dll2_remove(&c->link);
    msgs_free(c->in_head);
    msgs_free(c->out_head);
    free(c->frag);
    free(c);
}

static void deliver(wsclient_t *c, char *data, size_t len, bool binary)
{
    if (c->ctx->on_msg && !c->zombie) {
        c->ctx->on_msg(c, data, len, c->ctx->on_msg_arg);
        free(data);
        return;
    }
    wsc_msg_t *m = wmalloc(sizeof *m);
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    m->data = data;
    if (c->in_tail)
        c->in_tail->next = m;
    else
        c->in_head = m;
    c->in_tail = m;
    c->in_count++;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    wsclient_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        /* The 101's headers are still there: record the subprotocol. */
        if (c && lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0) {
            c->server_proto_seen = true;
            if (lws_hdr_copy(wsi, c->server_proto, sizeof c->server_proto, WSI_TOKEN_PROTOCOL) < 0)
                snprintf(c->server_proto, sizeof c->server_proto, "(too long)");
        }
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c)
            c->state = WSCLIENT_OPEN;
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            c->state = WSCLIENT_FAILED;
            snprintf(c->error, sizeof c->error, "%.*s", in ? (int)len : 0,
                     in ? (const char *)in : "");
            if (!c->error[0] && in)
                snprintf(c->error, sizeof c->error, "%s", (const char *)in);
            if (!c->error[0])
                snprintf(c->error, sizeof c->error, "connection failed");
            c->wsi = NULL;
            if (c->zombie)
                client_release(c);
        }
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c)
            return 0;
        if (lws_is_first_fragment(wsi)) {
            free(c->frag);
            c->frag = NULL;
            c->frag_len = 0;
            c->frag_binary = lws_frame_is_binary(wsi);
        }
        char *p = realloc(c->frag, c->frag_len + len + 1);
        if (!p)
            xoom();
        c->frag = p;
        memcpy(c->frag + c->frag_len, in, len);
        c->frag_len += len;
        c->frag[c->frag_len] = '\0';
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            char *data = c->frag;
            size_t n = c->frag_len;
            c->frag = NULL;
            c->frag_len = 0;
            deliver(c, data, n, c->frag_binary);
        }
        return 0;
    }

    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c)
            return -1;
        /* As many queued messages as the socket takes (benchmark senders
         * queue thousands), a bounded number per callback. */
        for (int i = 0; i < 64 && c->out_head; i++) {
            if (i > 0 && lws_send_pipe_choked(wsi))
                break;
            wsc_msg_t *m = c->out_head;
            c->out_head = m->next;
            if (!c->out_head)
                c->out_tail = NULL;
            int n = lws_write(wsi, (unsigned char *)m->data + LWS_PRE, m->len,
                              m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(m->data);
            free(m);
            if (n < 0)
                return -1;
        }
        if (c->out_head) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (c->want_close) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *b = in;
            c->close_code = (b[0] << 8) | b[1];
            snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)(len - 2),
                     (const char *)in + 2);
        }
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            c->state = WSCLIENT_CLOSED;
            c->wsi = NULL;
            if (c->zombie)
                client_release(c);
        }
        return 0;

    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"wsclient", callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

wsclient_ctx_t *wsclient_ctx_new(int max_conns)
{
    wsclient_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        xoom();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* The fd table is sized by this, not by `ulimit -n` (which may be huge). */
    info.fd_limit_per_thread = (unsigned int)max_conns + 32;
    info.user = ctx;
    lws_set_log_level(LLL_ERR, NULL);
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        fprintf(stderr, "wsclient: cannot create an lws client context\n");
        abort();
    }
    return ctx;
}

void wsclient_ctx_free(wsclient_ctx_t *ctx)
{
    if (!ctx)
        return;
    /* Every open connection becomes a zombie released by its close
     * callback during the destruction; what is left is freed after. */
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&ctx->conns))
    {
        wsclient_t *c = lws_container_of(d, wsclient_t, link);
        if (c->wsi)
            c->zombie = true;
    }
    lws_end_foreach_dll_safe(d, d1);
    lws_sul_cancel(&ctx->sul_wake);
    lws_context_destroy(ctx->lws);
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&ctx->conns))
    {
        client_release(lws_container_of(d, wsclient_t, link));
    }
    lws_end_foreach_dll_safe(d, d1);
    free(ctx);
}

static void wake_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only there to bound poll()'s wait */
}

/* Service until cond(arg) or the deadline. */
static bool service_until(wsclient_ctx_t *ctx, int timeout_ms, bool (*cond)(void *), void *arg)
{
    lws_usec_t deadline = lws_now_usecs() + (lws_usec_t)timeout_ms * LWS_US_PER_MS;
    bool ok;
    while (!(ok = cond(arg))) {
        lws_usec_t now = lws_now_usecs();
        if (now >= deadline)
            break;
        lws_sul_schedule(ctx->lws, 0, &ctx->sul_wake, wake_cb, deadline - now);
        lws_service(ctx->lws, 0);
    }
    lws_sul_cancel(&ctx->sul_wake);
    return ok;
}

void wsclient_service(wsclient_ctx_t *ctx, int timeout_ms)
{
    lws_sul_schedule(ctx->lws, 0, &ctx->sul_wake, wake_cb,
                     (lws_usec_t)(timeout_ms > 0 ? timeout_ms : 1) * LWS_US_PER_MS);
    lws_service(ctx->lws, 0);
    lws_sul_cancel(&ctx->sul_wake);
}

static wsclient_t *connect_start(wsclient_ctx_t *ctx, const char *host, int port, const char *path,
                                 bool tls, const char *offered)
{
    wsclient_t *c = calloc(1, sizeof *c);
    if (!c)
        xoom();
    c->ctx = ctx;
    c->state = WSCLIENT_CONNECTING;
    snprintf(c->host, sizeof c->host, "%s", host);
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->offered, sizeof c->offered, "%s", offered ? offered : "");
    lws_dll2_add_tail(&c->link, &ctx->conns);

    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = ctx->lws;
    i.address = c->host;
    i.port = port;
    i.path = c->path;
    i.host = c->host;
    i.origin = c->host;
    i.local_protocol_name = "wsclient";
    if (c->offered[0])
        i.protocol = c->offered;
    i.userdata = c;
    i.pwsi = &c->wsi;
    if (tls)
        i.ssl_connection =
            LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    if (!lws_client_connect_via_info(&i)) {
        c->wsi = NULL;
        if (c->state == WSCLIENT_CONNECTING) {
            c->state = WSCLIENT_FAILED;
            snprintf(c->error, sizeof c->error, "lws_client_connect_via_info failed");
        }
    }
    return c;
}

wsclient_t *wsclient_connect_start(wsclient_ctx_t *ctx, const char *host, int port,
                                   const char *path, bool tls)
{
    return connect_start(ctx, host, port, path, tls, NULL);
}

static bool not_connecting(void *arg)
{
    return ((wsclient_t *)arg)->state != WSCLIENT_CONNECTING;
}

wsclient_t *wsclient_connect_proto(wsclient_ctx_t *ctx, const char *host, int port,
                                   const char *path, bool tls, const char *subprotocols,
                                   int timeout_ms)
{
    wsclient_t *c = connect_start(ctx, host, port, path, tls, subprotocols);
    service_until(ctx, timeout_ms, not_connecting, c);
    if (c->state != WSCLIENT_OPEN) {
        fprintf(stderr, "wsclient: %s://%s:%d%s: %s\n", tls ? "wss" : "ws", host, port, path,
                c->state == WSCLIENT_CONNECTING ? "timed out" : c->error);
        wsclient_free(c);
        return NULL;
    }
    return c;
}

wsclient_t *wsclient_connect(wsclient_ctx_t *ctx, const char *host, int port, const char *path,
                             bool tls, int timeout_ms)
{
    return wsclient_connect_proto(ctx, host, port, path, tls, NULL, timeout_ms);
}

const char *wsclient_server_subprotocol(const wsclient_t *c)
{
    return c->server_proto_seen ? c->server_proto : NULL;
}

static bool none_connecting(void *arg)
{
    wsclient_ctx_t *ctx = arg;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&ctx->conns))
    {
        wsclient_t *c = lws_container_of(d, wsclient_t, link);
        if (!c->zombie && c->state == WSCLIENT_CONNECTING)
            return false;
    }
    lws_end_foreach_dll(d);
    return true;
}

size_t wsclient_wait_all_open(wsclient_ctx_t *ctx, int timeout_ms)
{
    service_until(ctx, timeout_ms, none_connecting, ctx);
    size_t n = 0;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&ctx->conns))
    {
        wsclient_t *c = lws_container_of(d, wsclient_t, link);
        if (!c->zombie && c->state == WSCLIENT_OPEN)
            n++;
    }
    lws_end_foreach_dll(d);
    return n;
}

wsclient_state wsclient_get_state(const wsclient_t *c)
{
    return c->state;
}

const char *wsclient_error(const wsclient_t *c)
{
    return c->error;
}

static bool send_msg(wsclient_t *c, const void *data, size_t len, bool binary)
{
    if (c->state != WSCLIENT_OPEN || !c->wsi)
        return false;
    wsc_msg_t *m = wmalloc(sizeof *m);
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    m->data = wmalloc(LWS_PRE + len);
    memcpy(m->data + LWS_PRE, data, len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    /* Leaves at the next service (any wait below): safe to call from a
     * wsclient_on_message callback, which runs inside the loop. */
    lws_callback_on_writable(c->wsi);
    return true;
}

bool wsclient_send_text(wsclient_t *c, const char *text, size_t len)
{
    return send_msg(c, text, len, false);
}

bool wsclient_send_binary(wsclient_t *c, const void *data, size_t len)
{
    return send_msg(c, data, len, true);
}

static bool has_msg_or_closed(void *arg)
{
    wsclient_t *c = arg;
    return c->in_head || c->state == WSCLIENT_CLOSED || c->state == WSCLIENT_FAILED;
}

char *wsclient_recv_ex(wsclient_t *c, int timeout_ms, size_t *len, bool *binary)
{
    service_until(c->ctx, timeout_ms, has_msg_or_closed, c);
    wsc_msg_t *m = c->in_head;
    if (!m)
        return NULL;
    c->in_head = m->next;
    if (!c->in_head)
        c->in_tail = NULL;
    c->in_count--;
    char *data = m->data;
    if (len)
        *len = m->len;
    if (binary)
        *binary = m->binary;
    free(m);
    return data;
}

char *wsclient_recv(wsclient_t *c, int timeout_ms)
{
    return wsclient_recv_ex(c, timeout_ms, NULL, NULL);
}

json_object *wsclient_recv_json(wsclient_t *c, int timeout_ms)
{
    size_t len = 0;
    char *s = wsclient_recv_ex(c, timeout_ms, &len, NULL);
    if (!s)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    free(s);
    return o;
}

size_t wsclient_pending(const wsclient_t *c)
{
    return c->in_count;
}

static bool is_closed(void *arg)
{
    wsclient_t *c = arg;
    return c->state == WSCLIENT_CLOSED || c->state == WSCLIENT_FAILED;
}

bool wsclient_wait_closed(wsclient_t *c, int timeout_ms)
{
    return service_until(c->ctx, timeout_ms, is_closed, c);
}

int wsclient_close_code(const wsclient_t *c)
{
    return c->close_code;
}

const char *wsclient_close_reason(const wsclient_t *c)
{
    return c->close_reason;
}

void wsclient_pause(wsclient_t *c, bool paused)
{
    if (c->wsi)
        lws_rx_flow_control(c->wsi, paused ? 0 : 1);
}

void wsclient_on_message(wsclient_ctx_t *ctx, wsclient_msg_fn fn, void *arg)
{
    ctx->on_msg = fn;
    ctx->on_msg_arg = arg;
}

void wsclient_set_user(wsclient_t *c, void *user)
{
    c->user = user;
}

void *wsclient_user(const wsclient_t *c)
{
    return c->user;
}

void wsclient_free(wsclient_t *c)
{
    if (!c)
        return;
    if (!c->wsi) {
        client_release(c);
        return;
    }
    /* Closed politely by the loop later; released by the close callback. */
    c->zombie = true;
    c->want_close = true;
    msgs_free(c->in_head);
    c->in_head = c->in_tail = NULL;
    c->in_count = 0;
    lws_callback_on_writable(c->wsi);
}
