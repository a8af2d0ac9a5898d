/*
 * cli/client/crpc.c - addresses, tokens and requests of the client
 */
#include "crpc_internal.h"

#include "crypto.h"
#include "proto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The largest reply read: a vlob of a big manifest, or a block, in base64. */
#define CRPC_MAX_REPLY (64u * 1024 * 1024)

void crpc_addr_free(crpc_addr *a)
{
    free(a->server);
    free(a->base);
    free(a->org);
    free(a->action);
    free(a->token);
    free(a->host);
    free(a->mount);
    memset(a, 0, sizeof *a);
}

/* One "k=v" of the query; false on a parameter this client does not know. */
static bool query_param(char *kv, crpc_addr *a, bool *ssl)
{
    char *eq = strchr(kv, '=');
    if (eq == NULL)
        return false;
    *eq = '\0';
    const char *v = eq + 1;
    if (!strcmp(kv, "no_ssl") && (!strcmp(v, "true") || !strcmp(v, "false"))) {
        *ssl = strcmp(v, "true") != 0;
        return true;
    }
    if (!strcmp(kv, "action") && a->action == NULL && *v) {
        a->action = xstrdup(v);
        return true;
    }
    if (!strcmp(kv, "token") && a->token == NULL && *v && strlen(v) <= 64 &&
        strspn(v, "0123456789abcdef") == strlen(v)) {
        a->token = xstrdup(v);
        return true;
    }
    return false;
}

const char *crpc_addr_parse(const char *url, crpc_addr *a)
{
    const char *why = NULL;
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL, *frag = NULL,
         *scheme = NULL;
    bool ssl = true;
    CURLU *u = curl_url();
    memset(a, 0, sizeof *a);
    if (strncasecmp(url, "parsec://", 9) != 0 ||
        curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        why = "expected a parsec:// address";
        goto cleanup;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (!host || !host[0] || user || frag) {
        why = "expected parsec://host[:port][/ORGANIZATION][?...]";
        goto cleanup;
    }
    for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL; kv;
         kv = strtok_r(NULL, "&", &save)) {
        if (!query_param(kv, a, &ssl)) {
            why = "unknown or repeated parameter in the address";
            goto cleanup;
        }
    }
    /* path: [/mount...]/ORG or [/mount...][/]: the last segment is the
     * organization when the address carries an action, or when it is a
     * valid organization id and no mount is in front (a bare server
     * address has no path) */
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        path[--plen] = '\0';
    char *last = plen ? strrchr(path, '/') : NULL;
    if (last && proto_valid_organization_id(last + 1)) {
        a->org = xstrdup(last + 1);
        *last = '\0';
    }
    if (a->action && a->org == NULL) {
        why = "the address names no organization";
        goto cleanup;
    }
    long pnum = ssl ? 443 : 80;
    if (port) {
        char *end;
        pnum = strtol(port, &end, 10);
        if (*end || pnum < 1 || pnum > 65535) {
            why = "bad port";
            goto cleanup;
        }
    }
    const char *mount = path ? path : "";
    if (strspn(mount, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/") !=
        strlen(mount)) {
        why = "bad characters in the address's path";
        goto cleanup;
    }
    char pstr[16] = "";
    if (pnum != (ssl ? 443 : 80))
        snprintf(pstr, sizeof pstr, ":%ld", pnum);
    a->server = xasprintf("parsec://%s%s%s%s", host, pstr, mount, ssl ? "" : "?no_ssl=true");
    a->base = xasprintf("%s://%s:%ld%s", ssl ? "https" : "http", host, pnum, mount);
    a->host = xstrdup(host);
    a->mount = xstrdup(mount);
    a->port = pnum;
    a->ssl = ssl;
cleanup:
    if (why)
        crpc_addr_free(a);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_free(frag);
    curl_url_cleanup(u);
    return why;
}

char *crpc_addr_url(const char *server, const char *org, const char *action, const char *token)
{
    const char *q = strchr(server, '?');
    size_t hlen = q ? (size_t)(q - server) : strlen(server);
    return xasprintf("%.*s/%s?%saction=%s&token=%s", (int)hlen, server, org,
                     q ? "no_ssl=true&" : "", action, token);
}

crpc_t *crpc_new(const char *server, const char *org, const char *cacert, const char **why)
{
    crpc_addr a;
    if ((*why = crpc_addr_parse(server, &a)) != NULL)
        return NULL;
    static bool inited;
    if (!inited) {
        /* once, before any handle (the client is one thread) */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            crpc_addr_free(&a);
            *why = "libcurl failed to start";
            return NULL;
        }
        inited = true;
    }
    crpc_t *c = xcalloc(1, sizeof *c);
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        crpc_addr_free(&a);
        free(c);
        *why = "libcurl failed to start";
        return NULL;
    }
    c->base = a.base;
    a.base = NULL;
    c->org = xstrdup(org);
    c->cacert = cacert ? xstrdup(cacert) : NULL;
    crpc_addr_free(&a);
    return c;
}

void crpc_free(crpc_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->org);
    free(c->invitation);
    free(c->cacert);
    free(c);
}

void crpc_set_device(crpc_t *c, const cdevice_t *d)
{
    c->dev = d;
}

void crpc_set_invitation(crpc_t *c, const char *token)
{
    free(c->invitation);
    c->invitation = xstrdup(token);
}

/* The Authorization header of section 4.1, minted now (malloc'd). */
static char *auth_header(const cdevice_t *d)
{
    char *org = crypto_b64url_encode(d->org, strlen(d->org));
    char *dev = crypto_b64url_encode(d->device_id, strlen(d->device_id));
    char *text = xasprintf("PARSEC-SIGN-ED25519.%s.%s.%lld", org, dev, (long long)time(NULL));
    uint8_t sig[CCRYPTO_SIGNATURE_SIZE];
    ccrypto_sign(&d->signing, text, strlen(text), sig);
    char *s = crypto_b64url_encode(sig, sizeof sig);
    char *h = xasprintf("Authorization: PARSEC-SIGN-ED25519 %s.%s", text + 20, s);
    free(org);
    free(dev);
    free(text);
    free(s);
    return h;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    crpc_xfer *x = arg;
    size_t add = size * n;
    if (x->data.len + add > x->max) {
        x->too_big = true;
        return 0;
    }
    strbuf_append(&x->data, p, add);
    return add;
}

static const char *route_name(crpc_route r)
{
    return r == CRPC_ANONYMOUS ? "anonymous" : r == CRPC_INVITED ? "invited" : "authenticated";
}

void crpc_xfer_setup(crpc_t *c, CURL *h, crpc_xfer *x, crpc_route route, const char *ctype,
                     const char *body, size_t len)
{
    x->data.len = 0; /* its capacity kept for the next reply */
    x->too_big = false;
    x->errbuf[0] = '\0';
    x->url = xasprintf("%s/%s/%s", c->base, route_name(route), c->org);
    char *ct = xasprintf("Content-Type: %s", ctype);
    x->hdrs = curl_slist_append(NULL, ct);
    free(ct);
    x->hdrs = curl_slist_append(x->hdrs, "Api-Version: 3.2");
    /* no 100-continue round trip before a large body */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    char *cred = NULL;
    if (route == CRPC_AUTHENTICATED)
        cred = auth_header(c->dev);
    else if (route == CRPC_INVITED)
        cred = xasprintf("Invitation-Token: %s", c->invitation ? c->invitation : "");
    if (cred)
        x->hdrs = curl_slist_append(x->hdrs, cred);
    free(cred);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    /* a block's reply (700 KB) in a few reads rather than 16 KiB ones */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
}

void crpc_xfer_done(crpc_xfer *x)
{
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    free(x->url);
    x->url = NULL;
}

char *crpc_xfer_error(const crpc_xfer *x, CURLcode rc)
{
    return xasprintf("cannot reach the server (%s)", x->too_big     ? "reply too large"
                                                     : x->errbuf[0] ? x->errbuf
                                                                    : curl_easy_strerror(rc));
}

json_object *crpc_reply(long http, const char *body, size_t len, char **err)
{
    json_object *j = NULL;
    *err = NULL;
    if (len > 0 && len <= INT_MAX) {
        json_tokener *tok = json_tokener_new();
        j = json_tokener_parse_ex(tok, body, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (jerr != json_tokener_success || !json_object_is_type(j, json_type_object)) {
            json_object_put(j);
            j = NULL;
        }
    }
    json_object *st = NULL;
    if (http == 200 && j && json_object_object_get_ex(j, "status", &st) &&
        json_object_is_type(st, json_type_string))
        return j;
    json_object *e = NULL;
    if (j)
        json_object_object_get_ex(j, "error", &e);
    *err = xasprintf("the server answered HTTP %ld%s%s", http, e ? ": " : "",
                     e ? json_object_get_string(e) : "");
    json_object_put(j);
    return NULL;
}

json_object *crpc_call(crpc_t *c, crpc_route route, json_object *req, long *http, char **err)
{
    json_object *rep = NULL;
    crpc_xfer x = {.data = STRBUF_INIT, .max = CRPC_MAX_REPLY};
    *http = 0;
    *err = NULL;
    size_t blen;
    const char *body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &blen);
    crpc_xfer_setup(c, c->curl, &x, route, "application/json", body, blen);
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        *err = crpc_xfer_error(&x, rc);
        goto cleanup;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, http);
    rep = crpc_reply(*http, x.data.s, x.data.len, err);
cleanup:
    json_object_put(req);
    crpc_xfer_done(&x);
    strbuf_free(&x.data);
    return rep;
}

const char *crpc_status(json_object *rep)
{
    json_object *s;
    if (rep && json_object_object_get_ex(rep, "status", &s) &&
        json_object_is_type(s, json_type_string))
        return json_object_get_string(s);
    return "";
}
