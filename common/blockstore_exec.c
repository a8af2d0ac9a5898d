/*
 * common/blockstore_exec.c - running node requests: PostgreSQL ones in
 * turn, HTTP ones concurrently on one libcurl multi handle (see
 * blockstore_internal.h)
 *
 * Each HTTP request is a small state machine: the backend's start() sets
 * up the first step on the node's easy handle, and each time a step ends
 * step_done() either gives the result or sets up the next step (a Swift
 * token renewal, an S3 HEAD before its PUT), which goes back on the multi
 * handle.  The handles belong to the thread's ctx, so connections stay
 * open from one request to the next.
 */
#include "blockstore_internal.h"

#include "log.h"
#include "xalloc.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

long long bs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bs_node_failed(bs_node_t *n)
{
    atomic_store(&n->down_until, bs_now_ms() + BS_NODE_BACKOFF_MS);
}

void bs_node_ok(bs_node_t *n)
{
    if (atomic_load(&n->down_until))
        atomic_store(&n->down_until, 0);
}

bool bs_node_is_down(const bs_node_t *n)
{
    long long t = atomic_load(&((bs_node_t *)n)->down_until);
    return t && bs_now_ms() < t;
}

void bs_uuid_str(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

char *bs_object_name(const char *org, const uint8_t id[16])
{
    /* Organization ids are [A-Za-z0-9_-]; escape anything else anyway so
     * that no input can change the path. */
    char uuid[37];
    size_t n = strlen(org);
    char *out = xmalloc(n * 3 + 1 + 37);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)org[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            o += (size_t)sprintf(out + o, "%%%02X", c);
        }
    }
    bs_uuid_str(id, uuid);
    sprintf(out + o, "/%s", uuid);
    return out;
}

void bs_md5_hex(const void *data, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
        abort(); /* a broken OpenSSL, as out of memory (crypto.h's rule) */
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

/* ---- libcurl callbacks ------------------------------------------------------ */

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    bs_req_t *req = ud;
    size_t n = sz * nm;
    if (req->step == BS_STEP_CMP) {
        /* Compare with our bytes instead of keeping them. */
        if (req->got + n > req->len || memcmp(req->data + req->got, p, n) != 0)
            req->cmp_differs = true;
        req->got += n;
        return req->cmp_differs ? 0 : n;
    }
    if (req->step != BS_STEP_MAIN || req->op != BS_GET || req->status != 200) {
        req->got += n; /* an error page or an auth reply: discarded */
        return n;
    }
    if (req->got + n > req->size) {
        /* Longer than the block: not the block, stop reading now. */
        req->got += n;
        return 0;
    }
    memcpy(req->buf + req->got, p, n);
    req->got += n;
    return n;
}

/* copy_header - when the header line p[0..n) is name, its value (trimmed)
 * into out; a value too long for out is dropped (out stays ""). */
static bool copy_header(const char *p, size_t n, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    if (n < nl || strncasecmp(p, name, nl) != 0)
        return false;
    const char *v = p + nl, *e = p + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t l = (size_t)(e - v);
    if (l >= len)
        l = 0;
    memcpy(out, v, l);
    out[l] = '\0';
    return true;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    bs_req_t *req = ud;
    size_t n = sz * nm;
    if (n > 5 && strncasecmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, or a redirect): start over. */
        long st = 0;
        const char *sp = memchr(p, ' ', n);
        if (sp)
            st = strtol(sp + 1, NULL, 10);
        req->status = st;
        req->etag[0] = '\0';
        return n;
    }
    if (req->step == BS_STEP_AUTH) {
        copy_header(p, n, "X-Auth-Token:", req->auth_token, sizeof req->auth_token);
        copy_header(p, n, "X-Storage-Url:", req->storage_url, sizeof req->storage_url);
        char exp[32] = "";
        if (copy_header(p, n, "X-Auth-Token-Expires:", exp, sizeof exp))
            req->auth_expires = strtol(exp, NULL, 10);
        return n;
    }
    if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        const char *v = p + 5, *e = p + n;
        while (v < e && (*v == ' ' || *v == '\t' || *v == '"'))
            v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '"'))
            e--;
        size_t l = (size_t)(e - v);
        if (l >= sizeof req->etag)
            l = sizeof req->etag - 1;
        memcpy(req->etag, v, l);
        req->etag[l] = '\0';
    }
    return n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    bs_req_t *req = ud;
    size_t n = sz * nm, left = req->len - req->sent;
    if (n > left)
        n = left;
    if (n)
        memcpy(p, req->data + req->sent, n);
    req->sent += n;
    return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    bs_req_t *req = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > req->len)
        return CURL_SEEKFUNC_CANTSEEK;
    req->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

/* ---- steps ------------------------------------------------------------------- */

void bs_http_reset(bs_req_t *req)
{
    const blockstore_t *bs = req->node->bs;
    CURL *e = req->easy;
    curl_slist_free_all(req->headers);
    req->headers = NULL;
    free(req->url);
    req->url = NULL;
    req->sent = req->got = 0;
    req->cmp_differs = false;
    req->status = 0;
    req->etag[0] = '\0';
    req->auth_token[0] = '\0';
    req->storage_url[0] = '\0';
    req->auth_expires = -1;
    req->errbuf[0] = '\0';
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, bs->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, bs->timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(e, CURLOPT_PRIVATE, req);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
}

void bs_http_set_url(bs_req_t *req, char *url)
{
    free(req->url);
    req->url = url;
    curl_easy_setopt(req->easy, CURLOPT_URL, url);
}

void bs_http_body(bs_req_t *req)
{
    curl_easy_setopt(req->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(req->easy, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(req->easy, CURLOPT_READDATA, req);
    curl_easy_setopt(req->easy, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(req->easy, CURLOPT_SEEKDATA, req);
    curl_easy_setopt(req->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->len);
}

void bs_http_header(bs_req_t *req, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    req->headers = curl_slist_append(req->headers, line);
}

static const char *op_name(const bs_req_t *req)
{
    switch (req->step) {
    case BS_STEP_AUTH:
        return "authentication";
    case BS_STEP_HEAD:
        return "existence check";
    case BS_STEP_CMP:
        return "comparison read";
    case BS_STEP_CHECK:
        return "check";
    default:
        return req->op == BS_GET ? "read" : req->op == BS_CREATE ? "create" : "rewrite";
    }
}

void bs_http_fail(bs_req_t *req, CURLcode code, const char *what)
{
    char uuid[37];
    bs_uuid_str(req->block_id, uuid);
    if (what)
        log_warning("blockstore %s: %s of %s/%s failed: %s", req->node->label, op_name(req),
                    req->org, uuid, what);
    else if (code != CURLE_OK)
        log_warning("blockstore %s: %s of %s/%s failed: %s", req->node->label, op_name(req),
                    req->org, uuid, req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
    else
        log_warning("blockstore %s: %s of %s/%s failed: HTTP status %ld", req->node->label,
                    op_name(req), req->org, uuid, req->status);
    req->result = BSR_FAILED;
}

bs_result bs_http_get_result(bs_req_t *req, CURLcode code)
{
    char uuid[37];
    if (req->status == 404 && code == CURLE_OK)
        return BSR_NOT_FOUND;
    if (req->status == 200 && (code == CURLE_OK || code == CURLE_WRITE_ERROR)) {
        if (code == CURLE_OK && req->got == req->size)
            return BSR_OK;
        bs_uuid_str(req->block_id, uuid);
        log_warning("blockstore %s: %s/%s is %s%zu bytes, expected %zu: not served",
                    req->node->label, req->org, uuid, code == CURLE_OK ? "" : "at least ", req->got,
                    req->size);
        return BSR_WRONG_SIZE;
    }
    bs_http_fail(req, code, NULL);
    return BSR_FAILED;
}

/* ---- running ----------------------------------------------------------------- */

/* launch - put req's current step on the multi handle (headers attached). */
static void launch(CURLM *m, bs_req_t *req)
{
    curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
    curl_multi_add_handle(m, req->easy);
}

static void finish_http(bs_req_t *req)
{
    curl_slist_free_all(req->headers);
    req->headers = NULL;
    free(req->url);
    req->url = NULL;
    if (req->result == BSR_FAILED)
        bs_node_failed(req->node);
    else if (req->result == BSR_OK || req->result == BSR_NOT_FOUND)
        bs_node_ok(req->node);
}

/* drive - run the multi handle until every request on it has a result. */
static void drive(CURLM *m, size_t running_reqs, bool checking, char *err, size_t errlen)
{
    while (running_reqs > 0) {
        int still = 0, nmsg;
        CURLMcode mc = curl_multi_perform(m, &still);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &nmsg))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode code = msg->data.result;
            bs_req_t *req = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&req);
            curl_multi_remove_handle(m, e);
            bs_node_t *n = req->node;
            if (checking) {
                if (n->be->check_done(n, req, code, err, errlen))
                    launch(m, req);
                else
                    running_reqs--;
                continue;
            }
            if (n->be->step_done(n, req, code)) {
                launch(m, req);
                continue;
            }
            finish_http(req);
            running_reqs--;
        }
        if (running_reqs == 0)
            break;
        if (mc == CURLM_OK)
            mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            /* Only out-of-memory-like failures of libcurl itself. */
            log_error("blockstore: libcurl multi failure: %s", curl_multi_strerror(mc));
            abort();
        }
    }
}

void bs_exec(blockstore_ctx_t *ctx, db_conn_t *db, bs_req_t *reqs, size_t n)
{
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        bs_req_t *req = &reqs[i];
        req->result = BSR_PENDING;
        if (req->node->be->run_sync)
            continue;
        req->easy = ctx->easy[req->node->index];
        req->step = BS_STEP_NONE;
        req->attempts = 0;
        bs_http_reset(req);
        if (!req->node->be->start(req->node, req)) {
            if (req->result == BSR_PENDING)
                req->result = BSR_FAILED;
            finish_http(req);
            continue;
        }
        launch(ctx->multi, req);
        running++;
    }
    /* The database meanwhile: HTTP transfers progress in the kernel's
     * buffers while these statements run. */
    for (size_t i = 0; i < n; i++)
        if (reqs[i].node->be->run_sync)
            reqs[i].node->be->run_sync(reqs[i].node, db, &reqs[i]);
    drive(ctx->multi, running, false, NULL, 0);
}

bool bs_exec_check(blockstore_t *bs, bs_node_t *node, char *err, size_t errlen)
{
    static const uint8_t zero_id[16];
    bs_req_t req = {.node = node, .op = BS_GET, .org = "-", .block_id = zero_id};
    CURLM *m = curl_multi_init();
    req.easy = curl_easy_init();
    if (!m || !req.easy)
        abort();
    (void)bs;
    err[0] = '\0';
    bs_http_reset(&req);
    req.step = BS_STEP_CHECK;
    bool ok = node->be->check_start(node, &req);
    if (ok) {
        launch(m, &req);
        drive(m, 1, true, err, errlen);
        ok = req.result == BSR_OK;
    }
    curl_slist_free_all(req.headers);
    free(req.url);
    curl_easy_cleanup(req.easy);
    curl_multi_cleanup(m);
    return ok;
}
