/*
 * notifyd/upgrade.c - which HTTP requests notifyd answers, and how a
 * websocket upgrade is admitted (upgrade.h says why it works this way)
 */
#include "upgrade.h"

#include "log.h"
#include "metrics.h"
#include "nd.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

char nd_upgrade_ws_name[64];

/* lws's own reading of the list (roles/ws/server-ws.c of 4.1: the same
 * buffer size, the same tokenizer flags), so that what we admit is what it
 * will bind. */
#define LWS_PROTOCOL_LIST_MAX 128
/* lws's MAX_WEBSOCKET_04_KEY_LEN (a real key is 24 characters). */
#define LWS_WS_KEY_MAX 128
#define LWS_PROTOCOL_TOKENIZE                                                                      \
    (LWS_TOKENIZE_F_COMMA_SEP_LIST | LWS_TOKENIZE_F_MINUS_NONTERM | LWS_TOKENIZE_F_DOT_NONTERM |   \
     LWS_TOKENIZE_F_RFC7230_DELIMS)

static bool path_is_ws(struct lws *wsi)
{
    char uri[64];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    return n > 0 && strcmp(uri, ND_WS_PATH) == 0;
}

/* Answer status with reason as its body's text; the callback's value. */
static int refuse(struct lws *wsi, unsigned int status, const char *reason)
{
    return lws_return_http_status(wsi, status, reason) ? -1 : 1;
}

static bool path_is_metrics(struct lws *wsi)
{
    char uri[64];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    return n > 0 && strcmp(uri, ND_METRICS_PATH) == 0;
}

/* serve_metrics - GET /metrics, authorised as parsec-fcgi's
 * /administration/metrics (common/metrics.h).  The body is a few KiB: one
 * write, which lws finishes itself if the socket takes less. */
static int serve_metrics(struct lws *wsi)
{
    char auth[CFG_VALUE_MAX + 64];
    const char *h = NULL, *why = NULL;
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (len > 0 && (size_t)len < sizeof auth &&
        lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) >= 0)
        h = auth;
    else if (len > 0)
        h = "Bearer -"; /* longer than any token: wrong, 403 */
    int st = metrics_authorize(nd_of(wsi)->cfg, h, &why);
    explicit_bzero(auth, sizeof auth);
    strbuf_t body = STRBUF_INIT;
    if (st == 0) {
        metrics_render(&body, METRICS_NOTIFYD);
    } else {
        log_info("notifyd: metrics refused: %s", why);
        strbuf_printf(&body, "{\"error\":\"%s\"}", st == 401 ? "unauthorized" : "not_allowed");
    }
    unsigned char head[LWS_PRE + 512];
    unsigned char *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    int rc = -1;
    if (lws_add_http_common_headers(wsi, st ? (unsigned)st : HTTP_STATUS_OK,
                                    st ? "application/json" : METRICS_CONTENT_TYPE, body.len, &p,
                                    end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        goto cleanup;
    if (st == 401 && lws_add_http_header_by_token(
                         wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                         (const unsigned char *)"Bearer realm=\"parsec-metrics\"", 29, &p, end))
        goto cleanup;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        goto cleanup;
    unsigned char *out = xmalloc(LWS_PRE + body.len);
    memcpy(out + LWS_PRE, body.s, body.len);
    int n = lws_write(wsi, out + LWS_PRE, body.len, LWS_WRITE_HTTP_FINAL);
    free(out);
    if (n < 0)
        goto cleanup;
    rc = lws_http_transaction_completed(wsi) ? -1 : 0;
cleanup:
    strbuf_free(&body);
    return rc;
}

int nd_upgrade_http(struct lws *wsi)
{
    if (path_is_metrics(wsi))
        return serve_metrics(wsi);
    /* Plain HTTP: otherwise only the upgrade is served. */
    if (lws_return_http_status(wsi, path_is_ws(wsi) ? 426 : HTTP_STATUS_NOT_FOUND, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/*
 * The first name of the offered list, as lws will read it, into out; 0
 * when there is one, else the HTTP status to answer (with *why).
 */
static unsigned int first_offered(struct lws *wsi, char *out, size_t outlen, const char **why)
{
    char buf[LWS_PROTOCOL_LIST_MAX];
    int n = lws_hdr_copy(wsi, buf, sizeof buf - 1, WSI_TOKEN_PROTOCOL);
    if (n < 0) {
        *why = "Sec-WebSocket-Protocol: the list is longer than 127 bytes";
        return HTTP_STATUS_BAD_REQUEST;
    }
    lws_tokenize_t ts;
    lws_tokenize_init(&ts, buf, LWS_PROTOCOL_TOKENIZE);
    ts.len = (size_t)n;
    for (;;) {
        switch (lws_tokenize(&ts)) {
        case LWS_TOKZE_TOKEN:
            if (lws_tokenize_cstr(&ts, out, outlen)) {
                *why = "Sec-WebSocket-Protocol: a name is longer than 63 bytes";
                return HTTP_STATUS_BAD_REQUEST;
            }
            return 0;
        case LWS_TOKZE_DELIMITER:
            continue;
        case LWS_TOKZE_ENDED:
            *why = "Sec-WebSocket-Protocol: no protocol name";
            return HTTP_STATUS_BAD_REQUEST;
        default:
            *why = "Sec-WebSocket-Protocol: not a list of protocol names";
            return HTTP_STATUS_BAD_REQUEST;
        }
    }
}

/* Does the Connection header name "upgrade"?  (lws accepts a little more:
 * any prefix of the word.) */
static bool connection_upgrade(struct lws *wsi)
{
    char buf[LWS_PROTOCOL_LIST_MAX];
    int n = lws_hdr_copy(wsi, buf, sizeof buf - 1, WSI_TOKEN_CONNECTION);
    if (n <= 0)
        return false;
    lws_tokenize_t ts;
    lws_tokenize_init(&ts, buf, LWS_PROTOCOL_TOKENIZE);
    ts.len = (size_t)n;
    for (;;) {
        switch (lws_tokenize(&ts)) {
        case LWS_TOKZE_TOKEN:
            if (ts.token_len == 7 && strncasecmp(ts.token, "upgrade", 7) == 0)
                return true;
            continue;
        case LWS_TOKZE_DELIMITER:
            continue;
        default:
            return false;
        }
    }
}

int nd_upgrade_confirm(struct lws *wsi, const char *upgrade, bool stopping)
{
    nd_upgrade_ws_name[0] = '\0';
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0)
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "only websocket upgrades");
    if (!path_is_ws(wsi))
        return refuse(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    if (stopping)
        return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "server shutting down");
    /* What lws would otherwise answer by dropping the connection. */
    if (!connection_upgrade(wsi))
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "Connection: upgrade missing");
    if (!lws_hdr_total_length(wsi, WSI_TOKEN_HOST))
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "Host missing");
    int keylen = lws_hdr_total_length(wsi, WSI_TOKEN_KEY);
    if (keylen <= 0 || keylen >= LWS_WS_KEY_MAX)
        return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "Sec-WebSocket-Key missing or too long");
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0) {
        const char *why = NULL;
        unsigned int status =
            first_offered(wsi, nd_upgrade_ws_name, sizeof nd_upgrade_ws_name, &why);
        if (status) {
            nd_upgrade_ws_name[0] = '\0';
            log_info("notifyd: upgrade refused: %s", why);
            return refuse(wsi, status, why);
        }
    }
    return 0;
}

void nd_upgrade_bound(void)
{
    nd_upgrade_ws_name[0] = '\0';
}
