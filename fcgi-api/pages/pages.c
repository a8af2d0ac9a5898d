/*
 * fcgi-api/pages/pages.c - the pages: index, health, redirect, static files
 *
 * GET /               a small HTML page naming the server and its version
 * GET /health         for load balancers: 200 when the database answers
 * GET /redirect/<p>   302 to parsec://<backend-addr>/<p>?<query> (section 12.1)
 * GET /static/<file>  base.css and favicon.ico, both built in
 *
 * Every HTML byte goes through html_escape (common/html.h); links carry r->mount so the
 * pages work wherever the web server mounts the application.
 */
#include "pages.h"

#include "backend_addr.h"
#include "crypto.h"
#include "html.h"
#include "log.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* More query parameters than this in a redirect is not a Parsec link. */
#define PAGES_MAX_QUERY_PARAMS 256

static void page_index(http_req_t *r)
{
    const char *m = html_escape(r->arena, r->mount);
    char *page = arena_printf(
        r->arena,
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head>\n<meta charset=\"utf-8\">\n<title>Parsec server</title>\n"
        "<link rel=\"stylesheet\" href=\"%s/static/base.css\">\n"
        "<link rel=\"icon\" href=\"%s/static/favicon.ico\">\n</head>\n"
        "<body>\n<main>\n<h1>Parsec server is running</h1>\n"
        "<p class=\"version\">parsec-fcgi %s</p>\n"
        "<p>This server stores end-to-end encrypted data for Parsec clients.</p>\n"
        "<p>Get the client at <a href=\"https://parsec.cloud\">parsec.cloud</a>; "
        "documentation at <a href=\"https://docs.parsec.cloud\">docs.parsec.cloud</a>.</p>\n"
        "</main>\n</body>\n</html>\n",
        m, m, html_escape(r->arena, PARSEC_VERSION));
    http_respond(r, 200, "text/html; charset=utf-8", page, strlen(page));
}

static void page_health(http_req_t *r)
{
    db_conn_t *c = http_db(r);
    bool ok = false;
    if (c) {
        /* a constant query: the pool's own health check may be older than
         * this request */
        PGresult *res = PQexec(db_pg(c), "SELECT 1");
        ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "error"));
    json_object_object_add(o, "database", json_object_new_string(ok ? "ok" : "unreachable"));
    http_set_header(r, "Cache-Control", "no-store");
    http_respond_json(r, ok ? 200 : 503, o);
}

/* ---- redirect ---- */

/* Python's quote_plus: what Parsec clients decode with unquote_plus. */
static char *quote_plus(arena_t *a, const char *s, size_t n, bool keep_slash)
{
    char *out = arena_alloc(a, n * 3 + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || strchr("_.-~", c) || (keep_slash && c == '/'))
            *o++ = (char)c;
        else if (c == ' ')
            *o++ = '+';
        else
            o += sprintf(o, "%%%02X", c);
    }
    *o = '\0';
    return out;
}

/* unquote_plus; an invalid escape stays as it is, like Python's. */
static char *unquote_plus(arena_t *a, const char *s, size_t n, size_t *outlen)
{
    char *out = arena_alloc(a, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && crypto_hex_digit((unsigned char)s[i + 1]) >= 0 &&
                   crypto_hex_digit((unsigned char)s[i + 2]) >= 0) {
            out[k++] = (char)(crypto_hex_digit((unsigned char)s[i + 1]) * 16 +
                              crypto_hex_digit((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    *outlen = k;
    return out;
}

typedef struct {
    const char *key, *val;
    size_t klen, vlen;
} qpair;

/* Split a query into decoded pairs (a missing '=' means an empty value);
 * -1 when there are too many. */
static int parse_query(arena_t *a, const char *q, qpair *pairs, int max)
{
    int n = 0;
    while (*q) {
        size_t l = strcspn(q, "&");
        if (l > 0) {
            if (n == max)
                return -1;
            const char *eq = memchr(q, '=', l);
            size_t kl = eq ? (size_t)(eq - q) : l;
            pairs[n].key = unquote_plus(a, q, kl, &pairs[n].klen);
            pairs[n].val = eq ? unquote_plus(a, eq + 1, l - kl - 1, &pairs[n].vlen) : "";
            if (!eq)
                pairs[n].vlen = 0;
            n++;
        }
        q += l;
        if (*q == '&')
            q++;
    }
    return n;
}

static bool same_key(const qpair *x, const qpair *y)
{
    return x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

static void page_redirect(http_req_t *r)
{
    const char *addr = r->cfg ? r->cfg->backend_addr : NULL;
    if (!addr || !*addr) {
        http_respond_html_status(r, 501);
        return;
    }
    backend_addr_t ba;
    char netloc[BACKEND_ADDR_HOST_MAX + 8];
    if (!backend_addr_parse(addr, &ba) || !backend_addr_netloc(&ba, netloc, sizeof netloc)) {
        log_error("--backend-addr is not a parsec://host[:port][?no_ssl=true] address");
        http_respond_html_status(r, 500);
        return;
    }
    bool no_ssl = !ba.use_ssl;

    qpair *pairs = arena_alloc(r->arena, PAGES_MAX_QUERY_PARAMS * sizeof *pairs);
    int n = parse_query(r->arena, r->query, pairs, PAGES_MAX_QUERY_PARAMS);
    if (n < 0) {
        http_respond_html_status(r, 400);
        return;
    }
    /* Like Parsec: values grouped by key in order of first appearance, the
     * client's no_ssl dropped, the server's own no_ssl added last. */
    char *q = arena_strdup(r->arena, "");
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = same_key(&pairs[i], &pairs[j]);
        if (seen || (pairs[i].klen == 6 && memcmp(pairs[i].key, "no_ssl", 6) == 0))
            continue;
        const char *k = quote_plus(r->arena, pairs[i].key, pairs[i].klen, false);
        for (int j = i; j < n; j++) {
            if (!same_key(&pairs[i], &pairs[j]))
                continue;
            q = arena_printf(r->arena, "%s%s%s=%s", q, *q ? "&" : "", k,
                             quote_plus(r->arena, pairs[j].val, pairs[j].vlen, false));
        }
    }
    if (no_ssl)
        q = arena_printf(r->arena, "%s%sno_ssl=true", q, *q ? "&" : "");

    const char *tail = r->params[0];
    char *loc = arena_printf(r->arena, "parsec://%s/%s%s%s", netloc,
                             quote_plus(r->arena, tail, strlen(tail), true), *q ? "?" : "", q);
    http_respond_html_status(r, 302);
    http_set_header(r, "Location", loc);
}

/* ---- static files ---- */

static const char base_css[] =
    "body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
    "background:#f4f6fa;color:#1d2433}\n"
    "main{max-width:40em;margin:4em auto;padding:2em 2.5em;background:#fff;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}\n"
    "h1{margin-top:0;font-size:1.6em;color:#0f4c9c}\n"
    ".version{color:#5a6478;font-family:monospace}\n"
    "a{color:#0f4c9c}\n";

/* A 16x16 32-bit icon (ICONDIR, one entry, a BITMAPINFOHEADER, pixels
 * bottom-up in BGRA, an empty AND mask): a blue square with a white ring. */
static unsigned char *favicon(arena_t *a, size_t *len)
{
    enum { W = 16, PIX = W * W * 4, MASK = W * 4, BMP = 40 + PIX + MASK, TOTAL = 6 + 16 + BMP };
    unsigned char *b = arena_zalloc(a, TOTAL), *p = b;
#define LE16(v) (*p++ = (unsigned char)((v)&0xff), *p++ = (unsigned char)(((v) >> 8) & 0xff))
#define LE32(v) (LE16((v)&0xffff), LE16(((v) >> 16) & 0xffff))
    LE16(0), LE16(1), LE16(1);                         /* ICONDIR: icon, one image */
    *p++ = W, *p++ = W, *p++ = 0, *p++ = 0;            /* 16x16, no palette */
    LE16(1), LE16(32), LE32(BMP), LE32(6 + 16);        /* planes, bpp, size, offset */
    LE32(40), LE32(W), LE32(2 * W), LE16(1), LE16(32); /* BITMAPINFOHEADER */
    LE32(0), LE32(PIX + MASK), LE32(0), LE32(0), LE32(0), LE32(0);
#undef LE32
#undef LE16
    for (int y = 0; y < W; y++) {
        for (int x = 0; x < W; x++) {
            int dx = 2 * x - (W - 1), dy = 2 * y - (W - 1), d2 = dx * dx + dy * dy;
            bool ring = d2 >= 8 * 8 && d2 <= 11 * 11;
            *p++ = ring ? 0xff : 0x9c; /* B */
            *p++ = ring ? 0xff : 0x4c; /* G */
            *p++ = ring ? 0xff : 0x0f; /* R */
            *p++ = 0xff;               /* A */
        }
    }
    *len = TOTAL; /* the AND mask stays zero: alpha decides */
    return b;
}

static void page_static(http_req_t *r)
{
    const char *f = r->params[0];
    if (strcmp(f, "base.css") == 0) {
        http_set_header(r, "Cache-Control", "public, max-age=3600");
        http_respond(r, 200, "text/css; charset=utf-8", base_css, sizeof base_css - 1);
    } else if (strcmp(f, "favicon.ico") == 0) {
        size_t len;
        unsigned char *ico = favicon(r->arena, &len);
        http_set_header(r, "Cache-Control", "public, max-age=3600");
        http_respond(r, 200, "image/vnd.microsoft.icon", ico, len);
    } else {
        http_respond_html_status(r, 404);
    }
}

const http_route_t pages_routes[] = {
    {"GET", "/", page_index, NULL},
    {"GET", "/health", page_health, NULL},
    {"GET", "/redirect/{*}", page_redirect, NULL},
    {"GET", "/static/{}", page_static, NULL},
    {NULL, NULL, NULL, NULL},
};
