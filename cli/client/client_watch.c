/*
 * cli/client/client_watch.c - `watch`: docs/events.md's websocket, printed
 *
 * One libwebsockets client connection (the event loop runs in this
 * thread only): the challenge signed with the device's key, then each
 * event printed as one tab-separated line, the workspace named when the
 * event is about a realm this user can read.  --count N stops after N
 * events (scripts, tests).
 */
#include "client_internal.h"

#include "crypto.h"
#include "proto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every message of the server is one small JSON object. */
#define WATCH_MAX_MESSAGE 65536

typedef struct {
    client_ctx *c;
    strbuf_t in;
    char *out; /* the answer, waiting for WRITEABLE */
    bool done, ready;
    int code;
    long events, count;
    client_ws *ws;
    size_t nws;
} watch_t;

static const char *ws_name(watch_t *w, const char *realm)
{
    for (size_t i = 0; realm && i < w->nws; i++)
        if (!strcmp(w->ws[i].id, realm))
            return w->ws[i].name;
    return realm ? realm : "-";
}

static void reload(watch_t *w)
{
    free(w->ws);
    w->ws = NULL;
    w->nws = 0;
    if (client_ws_list(w->c, &w->ws, &w->nws) != CLIENT_EXIT_OK) {
        w->ws = NULL;
        w->nws = 0;
    }
}

static void answer(watch_t *w, json_object *m)
{
    const char *ch = client_get_str(m, "challenge");
    if (ch == NULL) {
        w->code = client_fail(w->c, CLIENT_EXIT_SERVER, "malformed challenge");
        w->done = true;
        return;
    }
    char *text = xasprintf("{\"type\":\"signed_answer\",\"answer\":\"%s\"}", ch);
    uint8_t sig[64];
    ccrypto_sign(&w->c->dev.signing, text, strlen(text), sig);
    free(text);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "handshake", json_object_new_string("answer"));
    json_object_object_add(a, "type", json_object_new_string("AUTHENTICATED"));
    json_object *v = json_object_new_array();
    json_object_array_add(v, json_object_new_int(3));
    json_object_array_add(v, json_object_new_int(2));
    json_object_object_add(a, "client_api_version", v);
    json_object_object_add(a, "organization_id", json_object_new_string(w->c->dev.org));
    json_object_object_add(a, "device_id", json_object_new_string(w->c->dev.device_id));
    client_add_bytes(a, "rvk", w->c->dev.root_verify, 32);
    client_add_bytes(a, "answer", sig, sizeof sig);
    w->out = xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
}

static void on_event(watch_t *w, json_object *m)
{
    const char *ev = client_get_str(m, "event");
    const char *realm = client_get_str(m, "realm_id");
    json_object *v;
    if (ev == NULL)
        return;
    if (!strcmp(ev, "message.received") || !strcmp(ev, "realm.roles_updated"))
        reload(w); /* a workspace shared, unshared or re-keyed */
    if (!strcmp(ev, "realm.vlobs_updated"))
        printf("%s\t%s\tcheckpoint %s\n", ev, ws_name(w, realm),
               json_object_object_get_ex(m, "checkpoint", &v) ? json_object_get_string(v) : "?");
    else if (!strcmp(ev, "realm.roles_updated"))
        printf("%s\t%s\t%s\n", ev, ws_name(w, realm), client_get_str(m, "role") ?: "NONE");
    else if (!strcmp(ev, "realm.maintenance_started") || !strcmp(ev, "realm.maintenance_finished"))
        printf("%s\t%s\trevision %s\n", ev, ws_name(w, realm),
               json_object_object_get_ex(m, "encryption_revision", &v) ? json_object_get_string(v)
                                                                       : "?");
    else if (!strcmp(ev, "pinged"))
        printf("%s\t%s\n", ev, client_get_str(m, "ping") ?: "");
    else
        printf("%s\t%s\n", ev, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
    fflush(stdout);
    if (w->count > 0 && ++w->events >= w->count)
        w->done = true;
}

static void on_message(watch_t *w)
{
    json_object *m = json_tokener_parse(w->in.s ? w->in.s : "");
    strbuf_free(&w->in);
    if (m == NULL || !json_object_is_type(m, json_type_object)) {
        json_object_put(m);
        return;
    }
    const char *hs = client_get_str(m, "handshake");
    if (hs && !strcmp(hs, "challenge")) {
        answer(w, m);
    } else if (hs && !strcmp(hs, "result")) {
        const char *r = client_get_str(m, "result");
        if (r && !strcmp(r, "ok")) {
            w->ready = true;
            printf("Watching %s as %s: ready\n", w->c->dev.org, w->c->dev.device_id);
            fflush(stdout);
        } else {
            w->code = client_fail(w->c,
                                  r && !strcmp(r, "rvk_mismatch") ? CLIENT_EXIT_VERIFY
                                                                  : CLIENT_EXIT_NOT_ALLOWED,
                                  "the server refused the connection: %s", r ? r : "?");
            w->done = true;
        }
    } else if (w->ready) {
        on_event(w, m);
    }
    json_object_put(m);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    watch_t *w = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (w->in.len + len > WATCH_MAX_MESSAGE) {
            w->code = client_fail(w->c, CLIENT_EXIT_SERVER, "a message too large");
            w->done = true;
            return -1;
        }
        strbuf_append(&w->in, in, len);
        if (lws_is_final_fragment(wsi))
            on_message(w);
        if (w->out)
            lws_callback_on_writable(wsi);
        return w->done ? -1 : 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (w->out) {
            size_t n = strlen(w->out);
            unsigned char *buf = xmalloc(LWS_PRE + n);
            memcpy(buf + LWS_PRE, w->out, n);
            int wr = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            free(w->out);
            w->out = NULL;
            if (wr < (int)n)
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        w->code = client_fail(w->c, CLIENT_EXIT_SERVER, "cannot open the websocket (%s)",
                              in ? (const char *)in : "no reason");
        w->done = true;
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = in;
        int code = len >= 2 ? p[0] << 8 | p[1] : 0;
        w->code = client_fail(w->c,
                              code == 4002 || code == 4003 || code == 1008 ? CLIENT_EXIT_NOT_ALLOWED
                                                                           : CLIENT_EXIT_SERVER,
                              "the server closed the connection (%d %.*s)", code,
                              len > 2 ? (int)(len - 2) : 0, len > 2 ? (const char *)p + 2 : "");
        w->done = true;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!w->done)
            w->code = client_fail(w->c, CLIENT_EXIT_SERVER, "the connection closed");
        w->done = true;
        return 0;
    default:
        return 0;
    }
}

int client_watch(client_ctx *c)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    crpc_addr a;
    const char *why = crpc_addr_parse(c->dev.addr, &a);
    if (why)
        return client_fail(c, CLIENT_EXIT_DEVICE, "%s", why);
    watch_t w = {.c = c, .in = STRBUF_INIT, .code = CLIENT_EXIT_OK, .count = c->count};
    reload(&w);
    static const struct lws_protocols protocols[] = {
        {"parsec-client", callback, 0, 4096, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = &w;
    info.options = a.ssl ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.client_ssl_ca_filepath = c->cacert;
    lws_set_log_level(0, NULL);
    struct lws_context *ctx = lws_create_context(&info);
    if (ctx == NULL) {
        crpc_addr_free(&a);
        free(w.ws);
        return client_fail(c, CLIENT_EXIT_SERVER, "libwebsockets failed to start");
    }
    /* the host without IPv6 brackets, as a socket address wants it */
    char host[256];
    snprintf(host, sizeof host, "%s", a.host[0] == '[' ? a.host + 1 : a.host);
    if (a.host[0] == '[')
        host[strcspn(host, "]")] = '\0';
    char *path = xasprintf("%s/ws", a.mount);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = host;
    ci.port = (int)a.port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.ssl_connection = a.ssl ? LCCSCF_USE_SSL : 0;
    ci.protocol = NULL;
    if (lws_client_connect_via_info(&ci) == NULL) {
        w.code = client_fail(c, CLIENT_EXIT_SERVER, "cannot connect to %s", a.base);
        w.done = true;
    }
    while (!w.done)
        if (lws_service(ctx, 500) < 0)
            break;
    lws_context_destroy(ctx);
    free(path);
    free(w.out);
    free(w.ws);
    strbuf_free(&w.in);
    crpc_addr_free(&a);
    return w.code;
}
