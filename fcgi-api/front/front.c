/*
 * fcgi-api/front/front.c - from one FastCGI request to one HTTP response
 *
 * See front.h for the contract and fcgi-api/README.md for the decisions
 * (which status for which malformed input, why REQUEST_URI and not
 * PATH_INFO, how the mount prefix is found).
 */
#include "front.h"
#include "crypto.h"

#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "sentry.h"
#include "routes.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Seconds a 503 asks the client to wait (Retry-After): a database coming
 * back is retried every --pause-before-retry-database-connection seconds,
 * and clients need not all return at once. */
#define FRONT_RETRY_AFTER 5
/* Longest X-Request-Id taken from a client. */
#define FRONT_REQUEST_ID_MAX 64
/* Bodies are read in slices of this size (FCGX_GetStr takes an int). */
#define FRONT_READ_SLICE (64 * 1024)
/* Response bodies are written in calls of at most this (an int too). */

/* Per-request state of the front, around the http_req_t handlers see. */
typedef struct {
    http_req_t r;       /* handed out; the functions below get back from it */
    char **params;      /* the CGI parameters (arena), also r.cgi */
    bool head;          /* HEAD: answer as GET, send no body */
    const char *uri;    /* REQUEST_URI as received (for logs and the 301) */
    long long start_us; /* monotonic start time, for the access log */
} front_ctx_t;

static const front_ctx_t *ctx_of_const(const http_req_t *r)
{
    return (const front_ctx_t *)((const char *)r - offsetof(front_ctx_t, r));
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *param(char *const *params, const char *name)
{
    size_t n = strlen(name);
    for (; params && *params; params++)
        if (strncmp(*params, name, n) == 0 && (*params)[n] == '=')
            return *params + n + 1;
    return NULL;
}

front_cl front_content_length(const char *value, size_t max, size_t *out)
{
    if (!value || !*value)
        return FRONT_CL_ABSENT;
    size_t v = 0;
    bool too_large = false;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return FRONT_CL_BAD;
        if (!too_large) {
            size_t d = (size_t)(*p - '0');
            if (v > (SIZE_MAX - d) / 10)
                too_large = true;
            else
                v = v * 10 + d;
        }
    }
    if (too_large || v > max)
        return FRONT_CL_TOO_LARGE;
    *out = v;
    return FRONT_CL_OK;
}

int front_parse_target(arena_t *a, const char *request_uri, const char *script_name,
                       const char **path, const char **query, const char **mount)
{
    const char *u = request_uri;
    if (!u || !*u)
        return 400;
    /* absolute-form (RFC 9112 3.2.2): drop scheme and authority */
    if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) {
        u = strstr(u, "://") + 3;
        const char *slash = strpbrk(u, "/?");
        u = slash ? slash : "/";
        if (*u == '?')
            return 400;
    }
    if (*u != '/')
        return 400;

    size_t rawlen = strcspn(u, "?#");
    const char *q = u[rawlen] == '?' ? u + rawlen + 1 : "";
    /* a fragment never reaches a server from a conforming client; drop it */
    size_t qlen = strcspn(q, "#");

    /* Decode once.  An encoded '/' would make "a%2Fb" one segment here and
     * two for anything that decodes again, so no route may see one. */
    unsigned char *dec = arena_alloc(a, rawlen + 1);
    size_t n = 0;
    for (size_t i = 0; i < rawlen; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c == '%') {
            if (i + 2 >= rawlen)
                return 400;
            int hi = crypto_hex_digit((unsigned char)u[i + 1]),
                lo = crypto_hex_digit((unsigned char)u[i + 2]);
            if (hi < 0 || lo < 0)
                return 400;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == '/')
                return 404;
        }
        if (c < 0x20 || c == 0x7f)
            return 400;
        dec[n++] = c;
    }
    dec[n] = '\0';
    if (!proto_valid_utf8(dec, n))
        return 400;

    /* "." and ".." segments: refused, never resolved (a resolved ".." could
     * reach a route the web server was told to protect). */
    for (const char *s = (const char *)dec; *s;) {
        s++; /* the '/' */
        size_t seg = strcspn(s, "/");
        if ((seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
            return 404;
        s += seg;
    }

    const char *p = (const char *)dec;
    const char *m = "";
    if (script_name) {
        size_t sl = strlen(script_name);
        while (sl > 0 && script_name[sl - 1] == '/')
            sl--;
        if (sl > 0 && strncmp(p, script_name, sl) == 0 && (p[sl] == '/' || p[sl] == '\0')) {
            m = arena_strndup(a, script_name, sl);
            p = p[sl] ? p + sl : "/";
        }
    }
    *path = p;
    *query = arena_strndup(a, q, qlen);
    *mount = m;
    return 0;
}

static bool method_ok(const char *m)
{
    if (!m || !*m || strlen(m) > 32)
        return false;
    for (const char *p = m; *p; p++)
        if (!isupper((unsigned char)*p))
            return false;
    return true;
}

/* A Host value we are willing to put back into a Location header. */
static bool host_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 255)
        return false;
    for (const char *p = h; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr(".-_:[]", c)))
            return false;
    }
    return true;
}

static const char *request_host(arena_t *a, char *const *params, bool https)
{
    const char *h = param(params, "HTTP_HOST");
    if (host_ok(h))
        return h;
    const char *name = param(params, "SERVER_NAME");
    const char *port = param(params, "SERVER_PORT");
    if (!host_ok(name))
        return "localhost";
    if (port && *port && strspn(port, "0123456789") == strlen(port) &&
        strcmp(port, https ? "443" : "80") != 0)
        return arena_printf(a, "%s:%s", name, port);
    return name;
}

static bool is_https(char *const *params)
{
    const char *h = param(params, "HTTPS");
    if (h && (strcasecmp(h, "on") == 0 || strcmp(h, "1") == 0))
        return true;
    const char *s = param(params, "REQUEST_SCHEME");
    return s && strcasecmp(s, "https") == 0;
}

/* Bytes outside visible ASCII are percent-encoded so that a Location built
 * from the raw request target is always a valid header value. */
static char *uri_for_header(arena_t *a, const char *uri)
{
    size_t n = strlen(uri);
    char *out = arena_alloc(a, n * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"') {
            o += sprintf(o, "%%%02X", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

/* An incoming X-Request-Id worth keeping: 1 to FRONT_REQUEST_ID_MAX
 * characters of letters, digits and - _ . : = + / @ (UUIDs, nginx's
 * $request_id, load balancers' trace ids).  Anything else gets a fresh id:
 * it becomes a log context and a response header. */
static bool request_id_ok(const char *v)
{
    if (!v || !*v || strlen(v) > FRONT_REQUEST_ID_MAX)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.:=+/@", *p))
            return false;
    return true;
}

static void new_request_id(char out[17])
{
    unsigned char b[8];
    static atomic_uint_fast64_t fallback;
    if (RAND_bytes(b, sizeof b) != 1) {
        /* Not a secret: only a log correlation id.  Stay unique anyway. */
        uint64_t v = atomic_fetch_add(&fallback, 1) ^ (uint64_t)now_us();
        memcpy(b, &v, sizeof b);
    }
    for (size_t i = 0; i < sizeof b; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* --forward-proto-enforce-https: true when a 301 to https was set. */
static bool enforce_https(http_req_t *r, const front_ctx_t *ctx)
{
    const cfg_t *c = r->cfg;
    if (!c || !c->forward_proto_header || !c->forward_proto_value || strcmp(r->scheme, "http") != 0)
        return false;
    const char *v = http_header(r, c->forward_proto_header);
    if (!v || strcmp(v, c->forward_proto_value) == 0)
        return false;
    /* the same target; an absolute-form one loses its own scheme and host */
    const char *target = ctx->uri;
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        target = strstr(target, "://") + 3;
        target += strcspn(target, "/?");
    }
    if (*target != '/')
        target = arena_printf(r->arena, "/%s", target);
    http_respond_html_status(r, 301);
    http_set_header(
        r, "Location",
        arena_printf(r->arena, "https://%s%s", r->host, uri_for_header(r->arena, target)));
    return true;
}

http_req_t *front_handle(arena_t *a, const http_env_t *env, char *const *params,
                         const unsigned char *body, size_t body_len, int early_status)
{
    front_ctx_t *ctx = arena_zalloc(a, sizeof *ctx);
    http_req_t *r = &ctx->r;
    r->arena = a;
    r->cfg = env->cfg;
    r->db.pool = env->pool;
    r->blocks = env->blocks;
    ctx->start_us = now_us();

    size_t np = 0;
    while (params && params[np])
        np++;
    char **cgi = arena_alloc(a, (np + 1) * sizeof(char *));
    for (size_t i = 0; i < np; i++)
        cgi[i] = arena_strdup(a, params[i]);
    cgi[np] = NULL;
    ctx->params = cgi;
    r->cgi = cgi;

    const char *incoming = param(ctx->params, "HTTP_X_REQUEST_ID");
    if (request_id_ok(incoming)) {
        r->request_id = arena_strdup(a, incoming);
    } else {
        char id[17];
        new_request_id(id);
        r->request_id = arena_strdup(a, id);
    }
    log_set_context(r->request_id);
    sentry_scope_request(r->request_id);

    bool https = is_https(ctx->params);
    r->scheme = https ? "https" : "http";
    r->host = request_host(a, ctx->params, https);
    r->path = "";
    r->query = "";
    r->mount = "";
    r->body = body;
    r->body_len = body_len;
    const char *uri = param(ctx->params, "REQUEST_URI");
    ctx->uri = uri ? uri : "";

    const char *method = param(ctx->params, "REQUEST_METHOD");
    if (!method_ok(method)) {
        r->method = "GET";
        http_respond_html_status(r, 400);
        return r;
    }
    r->method = method;
    ctx->head = strcmp(method, "HEAD") == 0;

    if (enforce_https(r, ctx))
        return r;

    const char *path, *query, *mount;
    int st = front_parse_target(a, uri, param(ctx->params, "SCRIPT_NAME"), &path, &query, &mount);
    if (st != 0) {
        log_info("refused request target (%d)", st);
        http_respond_html_status(r, st);
        return r;
    }
    r->path = path;
    r->query = query;
    r->mount = mount;

    http_handler_fn handler = NULL, on_refusal = NULL;
    const char *allow = NULL;
    route_match m = routes_match(r, &handler, &on_refusal, &allow);
    if (early_status) {
        http_respond_html_status(r, early_status);
        if (on_refusal)
            on_refusal(r);
        return r;
    }
    switch (m) {
    case ROUTE_FOUND:
        handler(r);
        if (r->status < 100 || r->status > 599) {
            log_error("handler for %s %s set no valid status (%d)", r->method, r->path, r->status);
            r->resp_headers = NULL;
            http_respond_html_status(r, 500);
        }
        break;
    case ROUTE_BAD_METHOD:
        http_respond_html_status(r, 405);
        http_set_header(r, "Allow", allow);
        if (on_refusal)
            on_refusal(r);
        break;
    case ROUTE_NOT_FOUND:
        http_respond_html_status(r, 404);
        break;
    }
    return r;
}

bool front_head_only(const http_req_t *r)
{
    return ctx_of_const(r)->head;
}

char *front_render_head(http_req_t *r, size_t *len)
{
    const char *ctype = r->content_type;
    if (!ctype && r->resp_len > 0)
        ctype = "application/octet-stream";
    const char *server = r->cfg && r->cfg->debug ? "parsec/" PARSEC_VERSION : "parsec";
    char *head =
        arena_printf(r->arena, "Status: %d %s\r\n%s%s%sContent-Length: %zu\r\nServer: %s\r\n",
                     r->status, http_reason(r->status), ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "", r->resp_len, server);
    if (r->request_id)
        head = arena_printf(r->arena, "%sX-Request-Id: %s\r\n", head, r->request_id);
    bool retry_after = false;
    for (const struct http_header *h = r->resp_headers; h; h = h->next) {
        head = arena_printf(r->arena, "%s%s: %s\r\n", head, h->name, h->value);
        retry_after = retry_after || strcasecmp(h->name, "Retry-After") == 0;
    }
    /* Every 503 says when to come back (RFC 9110 10.2.3), unless its
     * handler chose. */
    if (r->status == 503 && !retry_after)
        head = arena_printf(r->arena, "%sRetry-After: %d\r\n", head, FRONT_RETRY_AFTER);
    head = arena_printf(r->arena, "%s\r\n", head);
    *len = strlen(head);
    return head;
}

/* front_family - the metrics' route family of a route pattern: its first
 * segment for the RPC and administration routes, "pages" for the others,
 * "none" when no route matched. */
static const char *front_family(const char *route)
{
    static const char *const families[] = {"anonymous", "invited", "authenticated",
                                           "administration"};
    if (!route)
        return "none";
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        size_t n = strlen(families[i]);
        if (route[0] == '/' && !strncmp(route + 1, families[i], n) &&
            (route[n + 1] == '/' || !route[n + 1]))
            return families[i];
    }
    return "pages";
}

void front_request_end(http_req_t *r)
{
    const front_ctx_t *ctx = ctx_of_const(r);
    db_lease_end(&r->db);
    metrics_request(front_family(r->route), r->command ? r->command : r->route, r->status,
                    (uint64_t)(now_us() - ctx->start_us) * 1000u);
    if (log_enabled(CFG_LOG_INFO)) {
        long long us = now_us() - ctx->start_us;
        const char *addr = param(ctx->params, "REMOTE_ADDR");
        /* The path, never the query (a /redirect link carries invitation
         * tokens), nor any header; a target that did not parse is shown
         * raw up to its '?' (the log escapes what it must). */
        const char *path = r->path && *r->path
                               ? arena_printf(r->arena, "%s%s", r->mount ? r->mount : "", r->path)
                               : arena_strndup(r->arena, ctx->uri, strcspn(ctx->uri, "?#"));
        /* The context carries the request id, and the device once
         * authenticated (http_set_device). */
        log_info("access: %s %s %s -> %d, %zu bytes, %lld.%03lld ms", addr && *addr ? addr : "-",
                 r->method ? r->method : "-", *path ? path : "-", r->status,
                 front_head_only(r) ? (size_t)0 : r->resp_len, us / 1000, us % 1000);
    }
    log_set_context(NULL);
    sentry_scope_clear();
}

/* Read exactly want bytes, or until EOF when the length is absent (then at
 * most max + 1, to tell "too large").  Returns the early status: 0, 400
 * (short or unreadable body) or 413. */
static int read_body(FCGX_Request *req, arena_t *a, front_cl cl, size_t want, size_t max,
                     unsigned char **body, size_t *body_len)
{
    size_t limit = cl == FRONT_CL_OK ? want : max + 1;
    /* a declared length is allocated at once; an unknown one grows */
    size_t cap = cl == FRONT_CL_OK || limit < FRONT_READ_SLICE ? limit : FRONT_READ_SLICE;
    unsigned char *buf = arena_alloc(a, cap + 1);
    size_t got = 0;
    while (got < limit) {
        if (got == cap) {
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            unsigned char *nbuf = arena_alloc(a, ncap + 1);
            memcpy(nbuf, buf, got);
            buf = nbuf;
            cap = ncap;
        }
        size_t slice = cap - got < FRONT_READ_SLICE ? cap - got : FRONT_READ_SLICE;
        int n = FCGX_GetStr((char *)buf + got, (int)slice, req->in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0'; /* never relied upon: body_len is the length */
    *body = buf;
    *body_len = got;
    if (FCGX_GetError(req->in) != 0) {
        log_warning("request body unreadable (web server or client went away)");
        return 400;
    }
    if (cl == FRONT_CL_OK && got < want) {
        log_warning("request body truncated: %zu of %zu bytes", got, want);
        return 400;
    }
    if (cl == FRONT_CL_ABSENT && got > max)
        return 413;
    return 0;
}

void front_serve(FCGX_Request *req, arena_t *a, const http_env_t *env)
{
    const cfg_t *cfg = env->cfg;
    size_t max = cfg->max_request_size;
    size_t want = 0;
    unsigned char *body = NULL;
    size_t body_len = 0;
    int early = 0;
    front_cl cl = front_content_length(FCGX_GetParam("CONTENT_LENGTH", req->envp), max, &want);
    switch (cl) {
    case FRONT_CL_BAD:
        early = 400;
        break;
    case FRONT_CL_TOO_LARGE:
        early = 413; /* answered without reading: FCGX_Finish_r drains it */
        break;
    case FRONT_CL_OK:
    case FRONT_CL_ABSENT:
        early = read_body(req, a, cl, want, max, &body, &body_len);
        break;
    }

    http_req_t *r = front_handle(a, env, req->envp, body, body_len, early);

    size_t hlen;
    char *head = front_render_head(r, &hlen);
    FCGX_PutStr(head, (int)hlen, req->out);
    bool sent = true;
    if (!front_head_only(r) && r->resp_len >= FRONT_STDOUT_MIN) {
        /* a block: in records of 64 KiB, after the head libfcgi holds */
        sent = FCGX_FFlush(req->out) == 0 &&
               front_write_stdout(req->ipcFd, req->requestId, r->resp_body, r->resp_len);
    } else if (!front_head_only(r) && r->resp_len > 0) {
        FCGX_PutStr((const char *)r->resp_body, (int)r->resp_len, req->out);
    }
    if (!sent || FCGX_FFlush(req->out) != 0 || FCGX_GetError(req->out) != 0)
        log_info("response not delivered: the web server closed the connection");
    front_request_end(r);
}
