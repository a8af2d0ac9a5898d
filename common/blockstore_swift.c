/*
 * common/blockstore_swift.c - OpenStack Swift nodes (see
 * blockstore_internal.h)
 *
 * v1 authentication as Parsec's swiftclient did it: GET <auth_url> with
 * X-Auth-User "<user>:<tenant>" and X-Auth-Key <password>, giving a token
 * and the storage URL.  The token is shared by every thread of the
 * process (one authentication, not one per thread), renewed shortly
 * before X-Auth-Token-Expires says it ends (30 s before, or halfway
 * through a shorter life), and at once when Swift answers
 * 401 (then the request is tried again, once).  Objects are
 * <storage_url>/<container>/<OrganizationID>/<block UUID hyphenated>.
 * Creates carry If-None-Match: *, which Swift honours: an existing object
 * is never overwritten (412), then compared by ETag (Swift's ETag is the
 * MD5 of the object).
 */
#include "blockstore_internal.h"

#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Renew a token this long before Swift says it expires. */
#define SWIFT_RENEW_MARGIN_MS 30000

typedef struct {
    char *auth_url, *auth_user, *password, *container;
    pthread_mutex_t lock; /* protects what follows */
    char token[256];      /* "" until the first authentication */
    char *storage_url;
    unsigned gen;       /* bumped by each new token */
    long long renew_at; /* monotonic ms; 0: no expiry given */
} swift_t;

/* current - this request's copy of the shared token; false when there is
 * none or it is about to expire. */
static bool current(swift_t *s, bs_req_t *req, char **storage_url)
{
    bool ok;
    pthread_mutex_lock(&s->lock);
    ok = s->token[0] && s->storage_url && (!s->renew_at || bs_now_ms() < s->renew_at);
    if (ok) {
        memcpy(req->token, s->token, sizeof req->token);
        req->token_gen = s->gen;
        *storage_url = xstrdup(s->storage_url);
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* forget - the token req used was refused: drop it unless another thread
 * already replaced it. */
static void forget(swift_t *s, const bs_req_t *req)
{
    pthread_mutex_lock(&s->lock);
    if (s->gen == req->token_gen)
        s->token[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

static void step_auth(swift_t *s, bs_req_t *req)
{
    bs_http_reset(req);
    req->step = BS_STEP_AUTH;
    bs_http_set_url(req, xstrdup(s->auth_url));
    bs_http_header(req, "X-Auth-User: %s", s->auth_user);
    bs_http_header(req, "X-Auth-Key: %s", s->password);
}

/* auth_done - keep the token of a finished BS_STEP_AUTH; false (why in
 * err when given, else logged) when there is none. */
static bool auth_done(bs_node_t *n, swift_t *s, bs_req_t *req, CURLcode code, char *err,
                      size_t errlen)
{
    const char *why = NULL;
    char buf[160];
    if (code != CURLE_OK)
        why = req->errbuf[0] ? req->errbuf : curl_easy_strerror(code);
    else if (req->status == 401 || req->status == 403)
        why = "authentication refused: wrong user, tenant or password";
    else if (req->status < 200 || req->status > 299) {
        snprintf(buf, sizeof buf, "authentication answered HTTP %ld", req->status);
        why = buf;
    } else if (!req->auth_token[0] || !req->storage_url[0])
        why = "authentication gave no X-Auth-Token or X-Storage-Url";
    if (why) {
        if (err)
            snprintf(err, errlen, "%s: %s", n->label, why);
        else
            bs_http_fail(req, CURLE_OK, why);
        return false;
    }
    pthread_mutex_lock(&s->lock);
    memcpy(s->token, req->auth_token, sizeof s->token);
    free(s->storage_url);
    s->storage_url = xstrdup(req->storage_url);
    s->gen++;
    if (req->auth_expires > 0) {
        long long life = req->auth_expires * 1000LL;
        long long margin = life / 2 < SWIFT_RENEW_MARGIN_MS ? life / 2 : SWIFT_RENEW_MARGIN_MS;
        s->renew_at = bs_now_ms() + life - margin;
    } else {
        s->renew_at = 0;
    }
    memcpy(req->token, s->token, sizeof req->token);
    req->token_gen = s->gen;
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* step_object - a step on the object itself, with the token req holds. */
static void step_object(swift_t *s, bs_req_t *req, const char *storage_url, bs_step step)
{
    char *name = bs_object_name(req->org, req->block_id);
    char *cont = curl_easy_escape(NULL, s->container, 0);
    char md5[33];
    bs_http_reset(req);
    req->step = step;
    bs_http_set_url(req, xasprintf("%s/%s/%s", storage_url, cont ? cont : "", name));
    curl_free(cont);
    free(name);
    bs_http_header(req, "X-Auth-Token: %s", req->token);
    if (step == BS_STEP_HEAD) {
        curl_easy_setopt(req->easy, CURLOPT_NOBODY, 1L);
    } else if (step == BS_STEP_MAIN && req->op != BS_GET) {
        bs_http_body(req);
        /* The 100-continue round trip buys nothing for 1 MiB.  (Not on S3:
         * libcurl 7.88 would sign the "Expect:" that removes the header,
         * and the signature would not match what is sent.) */
        bs_http_header(req, "Expect:");
        /* Swift checks the body against it: nothing damaged is stored. */
        bs_md5_hex(req->data, req->len, md5);
        bs_http_header(req, "ETag: %s", md5);
        if (req->op == BS_CREATE)
            bs_http_header(req, "If-None-Match: *");
    }
}

/* first_step - the request's first object step, authenticating first when
 * no valid token is at hand. */
static void first_step(swift_t *s, bs_req_t *req)
{
    char *url = NULL;
    if (!current(s, req, &url)) {
        step_auth(s, req);
        return;
    }
    step_object(s, req, url, BS_STEP_MAIN);
    free(url);
}

static bool swift_start(bs_node_t *n, bs_req_t *req)
{
    first_step(n->priv, req);
    return true;
}

static bool swift_step_done(bs_node_t *n, bs_req_t *req, CURLcode code)
{
    swift_t *s = n->priv;
    char md5[33];
    if (req->step == BS_STEP_AUTH) {
        if (!auth_done(n, s, req, code, NULL, 0))
            return false;
        char *url = NULL;
        pthread_mutex_lock(&s->lock);
        url = xstrdup(s->storage_url);
        pthread_mutex_unlock(&s->lock);
        step_object(s, req, url, BS_STEP_MAIN);
        free(url);
        return true;
    }
    if (code == CURLE_OK && req->status == 401 && req->attempts == 0) {
        /* Expired or revoked before its time: renew once. */
        req->attempts++;
        forget(s, req);
        first_step(s, req);
        return true;
    }
    char *url = NULL;
    switch (req->step) {
    case BS_STEP_HEAD:
        if (code == CURLE_OK && (req->status == 200 || req->status == 204)) {
            bs_md5_hex(req->data, req->len, md5);
            if (strcasecmp(req->etag, md5) == 0) {
                req->result = BSR_OK;
                return false;
            }
            req->result = BSR_EXISTS;
            return false;
        }
        if (code == CURLE_OK && req->status == 404) {
            first_step(s, req); /* gone meanwhile: create again */
            return true;
        }
        bs_http_fail(req, code, NULL);
        return false;
    default:
        if (req->op == BS_GET) {
            req->result = bs_http_get_result(req, code);
            return false;
        }
        if (code == CURLE_OK && (req->status == 201 || req->status == 200)) {
            req->result = BSR_OK;
            return false;
        }
        if (code == CURLE_OK && req->status == 412 && req->op == BS_CREATE) {
            if (!current(s, req, &url)) {
                first_step(s, req);
                return true;
            }
            step_object(s, req, url, BS_STEP_HEAD);
            free(url);
            return true;
        }
        bs_http_fail(req, code, NULL);
        return false;
    }
}

static void step_container(swift_t *s, bs_req_t *req)
{
    char *cont = curl_easy_escape(NULL, s->container, 0);
    bs_http_reset(req);
    req->step = BS_STEP_CHECK;
    pthread_mutex_lock(&s->lock);
    bs_http_set_url(req, xasprintf("%s/%s", s->storage_url, cont ? cont : ""));
    pthread_mutex_unlock(&s->lock);
    curl_free(cont);
    bs_http_header(req, "X-Auth-Token: %s", req->token);
    curl_easy_setopt(req->easy, CURLOPT_NOBODY, 1L);
}

static bool swift_check_start(bs_node_t *n, bs_req_t *req)
{
    step_auth(n->priv, req);
    return true;
}

static bool swift_check_done(bs_node_t *n, bs_req_t *req, CURLcode code, char *err, size_t errlen)
{
    swift_t *s = n->priv;
    if (req->step == BS_STEP_AUTH) {
        if (!auth_done(n, s, req, code, err, errlen))
            return false;
        step_container(s, req);
        return true;
    }
    if (code != CURLE_OK)
        snprintf(err, errlen, "%s: container unreachable: %s", n->label,
                 req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
    else if (req->status == 200 || req->status == 204)
        req->result = BSR_OK;
    else if (req->status == 404)
        snprintf(err, errlen, "%s: no such container (HTTP 404)", n->label);
    else
        snprintf(err, errlen, "%s: container check answered HTTP %ld", n->label, req->status);
    return false;
}

static void swift_free(bs_node_t *n)
{
    swift_t *s = n->priv;
    if (!s)
        return;
    free(s->auth_url);
    free(s->auth_user);
    free(s->password);
    free(s->container);
    free(s->storage_url);
    pthread_mutex_destroy(&s->lock);
    free(s);
    n->priv = NULL;
}

static const bs_backend_t swift_backend = {
    .name = "swift",
    .start = swift_start,
    .step_done = swift_step_done,
    .check_start = swift_check_start,
    .check_done = swift_check_done,
    .free_priv = swift_free,
};

bool bs_swift_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    swift_t *s = xcalloc(1, sizeof *s);
    s->auth_url = xstrdup(c->swift_auth_url);
    s->auth_user = xasprintf("%s:%s", c->swift_user, c->swift_tenant);
    s->password = xstrdup(c->swift_password);
    s->container = xstrdup(c->swift_container);
    pthread_mutex_init(&s->lock, NULL);
    n->priv = s;
    n->be = &swift_backend;
    char *shown = cfg_redact_url(c->swift_auth_url);
    snprintf(n->label, sizeof n->label, "node %zu (swift container %s at %s)", n->index,
             c->swift_container, shown);
    free(shown);
    return true;
}
