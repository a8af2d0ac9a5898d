/*
 * common/blockstore_s3.c - S3 nodes (see blockstore_internal.h)
 *
 * libcurl signs every request with AWS SigV4 itself (CURLOPT_AWS_SIGV4);
 * libcurl 7.88 does not add x-amz-content-sha256, which S3 servers
 * require, so each request carries it: the SHA-256 of the body, which the
 * server checks (a body damaged on the way is refused).
 *
 * Addressing, from the spec's endpoint:
 *   - none (AWS):  https://<bucket>.s3.<region>.amazonaws.com/<object>
 *     (virtual host; region us-east-1 when empty);
 *   - an endpoint whose host starts with "<bucket>.": virtual host, the
 *     endpoint is the bucket's own URL: <endpoint>/<object>;
 *   - any other endpoint: path style, <endpoint>/<bucket>/<object>
 *     (MinIO, Ceph, Swift's s3api, s3rver).
 * Objects are named "<OrganizationID>/<block UUID hyphenated>", as Parsec
 * names them, so a bucket Parsec filled stays readable.
 */
#include "blockstore_internal.h"

#include "crypto.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    char *base; /* URL objects are under, no trailing '/' */
    char *bucket_url;
    char *sigv4; /* "aws:amz:<region>:s3" */
    char *key, *secret;
} s3_t;

static void sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[32];
    crypto_sha256(data, len, md);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* sign - SigV4 credentials and the payload hash of this step. */
static void sign(const s3_t *s, bs_req_t *req, const char *payload_sha)
{
    curl_easy_setopt(req->easy, CURLOPT_AWS_SIGV4, s->sigv4);
    /* Separately: an access key may hold a colon (Swift's s3api:
     * "account:user"), which a "user:password" string would split. */
    curl_easy_setopt(req->easy, CURLOPT_USERNAME, s->key);
    curl_easy_setopt(req->easy, CURLOPT_PASSWORD, s->secret);
    bs_http_header(req, "x-amz-content-sha256: %s", payload_sha);
}

static void object_url(const s3_t *s, bs_req_t *req)
{
    char *name = bs_object_name(req->org, req->block_id);
    bs_http_set_url(req, xasprintf("%s/%s", s->base, name));
    free(name);
}

static void step_get(const s3_t *s, bs_req_t *req, bs_step step, bool head)
{
    bs_http_reset(req);
    req->step = step;
    object_url(s, req);
    if (head)
        curl_easy_setopt(req->easy, CURLOPT_NOBODY, 1L);
    sign(s, req, EMPTY_SHA256);
}

static void step_put(const s3_t *s, bs_req_t *req)
{
    char sha[65];
    bs_http_reset(req);
    req->step = BS_STEP_MAIN;
    object_url(s, req);
    bs_http_body(req);
    sha256_hex(req->data, req->len, sha);
    sign(s, req, sha);
}

static bool s3_start(bs_node_t *n, bs_req_t *req)
{
    const s3_t *s = n->priv;
    if (req->op == BS_GET)
        step_get(s, req, BS_STEP_MAIN, false);
    else if (req->op == BS_CREATE)
        step_get(s, req, BS_STEP_HEAD, true);
    else
        step_put(s, req);
    return true;
}

static bool s3_step_done(bs_node_t *n, bs_req_t *req, CURLcode code)
{
    const s3_t *s = n->priv;
    char md5[33];
    switch (req->step) {
    case BS_STEP_HEAD:
        /* AWS answers 403, not 404, for a missing object to a key without
         * s3:ListBucket: go on with the PUT, which fails by itself if the
         * key really has no right. */
        if (code == CURLE_OK && (req->status == 404 || req->status == 403)) {
            step_put(s, req);
            return true;
        }
        if (code == CURLE_OK && req->status == 200) {
            bs_md5_hex(req->data, req->len, md5);
            if (strcasecmp(req->etag, md5) == 0) {
                req->result = BSR_OK;
                return false;
            }
            /* Not a plain MD5 ETag (encryption, multipart): compare bytes. */
            step_get(s, req, BS_STEP_CMP, false);
            return true;
        }
        bs_http_fail(req, code, NULL);
        return false;
    case BS_STEP_CMP:
        if (req->status == 404 && code == CURLE_OK) {
            step_put(s, req); /* gone meanwhile */
            return true;
        }
        if (req->status == 200 && (code == CURLE_OK || code == CURLE_WRITE_ERROR)) {
            req->result = (code == CURLE_OK && !req->cmp_differs && req->got == req->len)
                              ? BSR_OK
                              : BSR_EXISTS;
            return false;
        }
        bs_http_fail(req, code, NULL);
        return false;
    default:
        if (req->op == BS_GET) {
            req->result = bs_http_get_result(req, code);
        } else if (code == CURLE_OK && req->status == 200) {
            req->result = BSR_OK;
        } else {
            bs_http_fail(req, code, NULL);
        }
        return false;
    }
}

static bool s3_check_start(bs_node_t *n, bs_req_t *req)
{
    const s3_t *s = n->priv;
    bs_http_set_url(req, xstrdup(s->bucket_url));
    curl_easy_setopt(req->easy, CURLOPT_NOBODY, 1L);
    sign(s, req, EMPTY_SHA256);
    return true;
}

static bool s3_check_done(bs_node_t *n, bs_req_t *req, CURLcode code, char *err, size_t errlen)
{
    if (code != CURLE_OK)
        snprintf(err, errlen, "%s: bucket unreachable: %s", n->label,
                 req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
    else if (req->status == 200)
        req->result = BSR_OK;
    else if (req->status == 403 || req->status == 401)
        snprintf(err, errlen,
                 "%s: access to the bucket refused (HTTP %ld): wrong key or secret, or no "
                 "right on the bucket",
                 n->label, req->status);
    else if (req->status == 404)
        snprintf(err, errlen, "%s: no such bucket (HTTP 404)", n->label);
    else
        snprintf(err, errlen, "%s: bucket check answered HTTP %ld", n->label, req->status);
    return false;
}

static void s3_free(bs_node_t *n)
{
    s3_t *s = n->priv;
    if (!s)
        return;
    free(s->base);
    free(s->bucket_url);
    free(s->sigv4);
    free(s->key);
    free(s->secret);
    free(s);
    n->priv = NULL;
}

static const bs_backend_t s3_backend = {
    .name = "s3",
    .start = s3_start,
    .step_done = s3_step_done,
    .check_start = s3_check_start,
    .check_done = s3_check_done,
    .free_priv = s3_free,
};

/* host_of - the host part of an http(s) URL, into buf. */
static const char *host_of(const char *url, char *buf, size_t len)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *at = strpbrk(h, "@/");
    if (at && *at == '@')
        h = at + 1;
    size_t n = strcspn(h, ":/?#");
    if (n >= len)
        n = len - 1;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return buf;
}

static char *escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        abort();
    char *r = xstrdup(e);
    curl_free(e);
    return r;
}

bool bs_s3_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    s3_t *s = xcalloc(1, sizeof *s);
    const char *region = c->s3_region && *c->s3_region ? c->s3_region : "us-east-1";
    char *bucket = escape(c->s3_bucket);
    char host[256];
    if (!c->s3_endpoint) {
        s->base = xasprintf("https://%s.s3.%s.amazonaws.com", bucket, region);
        s->bucket_url = xasprintf("%s/", s->base);
    } else {
        char *ep = xstrdup(c->s3_endpoint);
        size_t l = strlen(ep);
        while (l > 0 && ep[l - 1] == '/')
            ep[--l] = '\0';
        host_of(ep, host, sizeof host);
        size_t bl = strlen(c->s3_bucket);
        if (strncasecmp(host, c->s3_bucket, bl) == 0 && host[bl] == '.') {
            s->base = ep;
            s->bucket_url = xasprintf("%s/", ep);
        } else {
            s->base = xasprintf("%s/%s", ep, bucket);
            s->bucket_url = xstrdup(s->base);
            free(ep);
        }
    }
    free(bucket);
    s->sigv4 = xasprintf("aws:amz:%s:s3", region);
    s->key = xstrdup(c->s3_key);
    s->secret = xstrdup(c->s3_secret);
    n->priv = s;
    n->be = &s3_backend;
    char *shown = c->s3_endpoint ? cfg_redact_url(c->s3_endpoint) : xstrdup("AWS");
    snprintf(n->label, sizeof n->label, "node %zu (s3 bucket %s at %s)", n->index, c->s3_bucket,
             shown);
    free(shown);
    return true;
}
