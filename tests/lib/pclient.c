/*
 * tests/lib/pclient.c - the test client of the protocol (see pclient.h)
 */
#include "pclient.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "pclient: %s\n", what);
    abort();
}

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *dupstr(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = xalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static char *printf_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_new(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf");
    char *p = xalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- keys ---------------------------------------------------------------- */

void pclient_key_from_seed(pclient_key_t *k, const uint8_t seed[32])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t publen = 32;
    if (!pkey || EVP_PKEY_get_raw_public_key(pkey, k->pub, &publen) != 1 || publen != 32)
        die("Ed25519 key from seed");
    memcpy(k->seed, seed, 32);
    EVP_PKEY_free(pkey);
}

void pclient_key_generate(pclient_key_t *k)
{
    uint8_t seed[32];
    if (RAND_bytes(seed, sizeof seed) != 1)
        die("RAND_bytes");
    pclient_key_from_seed(k, seed);
}

void pclient_sign(const pclient_key_t *k, const void *msg, size_t len, uint8_t sig[64])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = 64;
    if (!pkey || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg ? msg : (const void *)"", len) != 1 || siglen != 64)
        die("Ed25519 sign");
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
}

void pclient_blob_free(pclient_blob_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

pclient_blob_t pclient_signed(const pclient_key_t *k, const void *payload, size_t len)
{
    pclient_blob_t b = {xalloc(64 + len), 64 + len};
    pclient_sign(k, payload, len, b.data);
    if (len)
        memcpy(b.data + 64, payload, len);
    return b;
}

/* ---- mapping ------------------------------------------------------------------ */

char *pclient_b64(const void *data, size_t len)
{
    char *out = xalloc((len + 2) / 3 * 4 + 1);
    int n = len ? EVP_EncodeBlock((unsigned char *)out, data, (int)len) : 0;
    out[n] = '\0';
    return out;
}

char *pclient_b64url(const void *data, size_t len)
{
    char *s = pclient_b64(data, len);
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '=')
            continue;
        *w++ = *r == '+' ? '-' : *r == '/' ? '_' : *r;
    }
    *w = '\0';
    return s;
}

char *pclient_datetime(int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        die("gmtime_r");
    return printf_new("%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

char *pclient_uuid_hex(const uint8_t id[16])
{
    char *s = xalloc(33);
    for (int k = 0; k < 16; k++)
        snprintf(s + 2 * k, 3, "%02x", id[k]);
    return s;
}

void pclient_uuid_random(uint8_t id[16])
{
    if (RAND_bytes(id, 16) != 1)
        die("RAND_bytes");
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

int64_t pclient_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static json_object *json_take_string(char *s)
{
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

json_object *pclient_json_bytes(const void *data, size_t len)
{
    return json_take_string(pclient_b64(data, len));
}

json_object *pclient_json_blob(const pclient_blob_t *b)
{
    return pclient_json_bytes(b->data, b->len);
}

json_object *pclient_json_datetime(int64_t us)
{
    return json_take_string(pclient_datetime(us));
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* Serialise and release o: compact, "/" unescaped (base64 has many). */
static char *json_text(json_object *o)
{
    char *s = dupstr(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* ---- certificates ------------------------------------------------------------------ */

char *pclient_user_certif_payload(const pclient_user_certif_t *c, bool redacted)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("user_certificate"));
    json_object_object_add(o, "author", str_or_null(c->author));
    json_object_object_add(o, "timestamp", pclient_json_datetime(c->timestamp));
    json_object_object_add(o, "user_id", json_object_new_string(c->user_id));
    json_object *hh = NULL;
    if (c->human_email && !redacted) {
        hh = json_object_new_object();
        json_object_object_add(hh, "email", json_object_new_string(c->human_email));
        json_object_object_add(hh, "label",
                               json_object_new_string(c->human_label ? c->human_label : ""));
    }
    json_object_object_add(o, "human_handle", hh);
    json_object_object_add(o, "public_key", pclient_json_bytes(c->public_key, 32));
    bool is_admin = c->is_admin < 0 ? strcmp(c->profile, "ADMIN") == 0 : c->is_admin != 0;
    json_object_object_add(o, "is_admin", json_object_new_boolean(is_admin));
    json_object_object_add(o, "profile", json_object_new_string(c->profile));
    return json_text(o);
}

char *pclient_device_certif_payload(const pclient_device_certif_t *c, bool redacted)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("device_certificate"));
    json_object_object_add(o, "author", str_or_null(c->author));
    json_object_object_add(o, "timestamp", pclient_json_datetime(c->timestamp));
    json_object_object_add(o, "device_id", json_object_new_string(c->device_id));
    json_object_object_add(o, "device_label", redacted ? NULL : str_or_null(c->device_label));
    json_object_object_add(o, "verify_key", pclient_json_bytes(c->verify_key, 32));
    return json_text(o);
}

char *pclient_revoked_user_certif_payload(const pclient_revoked_user_certif_t *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("revoked_user_certificate"));
    json_object_object_add(o, "author", str_or_null(c->author));
    json_object_object_add(o, "timestamp", pclient_json_datetime(c->timestamp));
    json_object_object_add(o, "user_id", json_object_new_string(c->user_id));
    return json_text(o);
}

char *pclient_realm_role_certif_payload(const pclient_realm_role_certif_t *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("realm_role_certificate"));
    json_object_object_add(o, "author", str_or_null(c->author));
    json_object_object_add(o, "timestamp", pclient_json_datetime(c->timestamp));
    json_object_object_add(o, "realm_id", json_take_string(pclient_uuid_hex(c->realm_id)));
    json_object_object_add(o, "user_id", json_object_new_string(c->user_id));
    json_object_object_add(o, "role", str_or_null(c->role));
    return json_text(o);
}

static pclient_blob_t sign_text(const pclient_key_t *signer, char *payload)
{
    pclient_blob_t b = pclient_signed(signer, payload, strlen(payload));
    free(payload);
    return b;
}

pclient_blob_t pclient_user_certif(const pclient_key_t *signer, const pclient_user_certif_t *c,
                                   bool redacted)
{
    return sign_text(signer, pclient_user_certif_payload(c, redacted));
}

pclient_blob_t pclient_device_certif(const pclient_key_t *signer, const pclient_device_certif_t *c,
                                     bool redacted)
{
    return sign_text(signer, pclient_device_certif_payload(c, redacted));
}

pclient_blob_t pclient_revoked_user_certif(const pclient_key_t *signer,
                                           const pclient_revoked_user_certif_t *c)
{
    return sign_text(signer, pclient_revoked_user_certif_payload(c));
}

pclient_blob_t pclient_realm_role_certif(const pclient_key_t *signer,
                                         const pclient_realm_role_certif_t *c)
{
    return sign_text(signer, pclient_realm_role_certif_payload(c));
}

/* ---- devices ------------------------------------------------------------------------- */

static pclient_blob_t blob_copy(const pclient_blob_t *b)
{
    pclient_blob_t c = {xalloc(b->len), b->len};
    memcpy(c.data, b->data, b->len);
    return c;
}

/* Sign d's device certificates with certifier (or root when NULL). */
static void certify_device(pclient_device_t *d, const pclient_device_t *certifier,
                           const pclient_key_t *root, int64_t timestamp)
{
    pclient_device_certif_t dc = {
        .author = certifier ? certifier->device_id : NULL,
        .timestamp = timestamp,
        .device_id = d->device_id,
        .device_label = d->device_label,
    };
    memcpy(dc.verify_key, d->key.pub, 32);
    const pclient_key_t *signer = certifier ? &certifier->key : root;
    d->device_certificate = pclient_device_certif(signer, &dc, false);
    d->redacted_device_certificate = pclient_device_certif(signer, &dc, true);
}

pclient_device_t *pclient_user_new(const char *organization_id, const char *device_id,
                                   const char *profile, const char *email, const char *label,
                                   const char *device_label, const pclient_device_t *certifier,
                                   const pclient_key_t *root, int64_t timestamp)
{
    pclient_device_t *d = calloc(1, sizeof *d);
    if (!d)
        die("out of memory");
    const char *at = strchr(device_id, '@');
    d->organization_id = dupstr(organization_id);
    d->device_id = dupstr(device_id);
    d->user_id = at ? printf_new("%.*s", (int)(at - device_id), device_id) : dupstr(device_id);
    d->profile = dupstr(profile);
    d->human_email = dupstr(email);
    d->human_label = email ? dupstr(label) : NULL;
    d->device_label = dupstr(device_label);
    d->created_on = timestamp;
    pclient_key_generate(&d->key);
    if (RAND_bytes(d->user_public_key, 32) != 1)
        die("RAND_bytes");

    pclient_user_certif_t uc = {
        .author = certifier ? certifier->device_id : NULL,
        .timestamp = timestamp,
        .user_id = d->user_id,
        .human_email = d->human_email,
        .human_label = d->human_label,
        .profile = d->profile,
        .is_admin = -1,
    };
    memcpy(uc.public_key, d->user_public_key, 32);
    const pclient_key_t *signer = certifier ? &certifier->key : root;
    d->user_certificate = pclient_user_certif(signer, &uc, false);
    d->redacted_user_certificate = pclient_user_certif(signer, &uc, true);
    certify_device(d, certifier, root, timestamp);
    return d;
}

pclient_device_t *pclient_device_new(const pclient_device_t *user, const char *device_name,
                                     const char *device_label, const pclient_device_t *certifier,
                                     int64_t timestamp)
{
    pclient_device_t *d = calloc(1, sizeof *d);
    if (!d)
        die("out of memory");
    d->organization_id = dupstr(user->organization_id);
    d->user_id = dupstr(user->user_id);
    d->device_id = printf_new("%s@%s", user->user_id, device_name);
    d->profile = dupstr(user->profile);
    d->human_email = dupstr(user->human_email);
    d->human_label = dupstr(user->human_label);
    d->device_label = dupstr(device_label);
    d->created_on = timestamp;
    pclient_key_generate(&d->key);
    memcpy(d->user_public_key, user->user_public_key, 32);
    d->user_certificate = blob_copy(&user->user_certificate);
    d->redacted_user_certificate = blob_copy(&user->redacted_user_certificate);
    certify_device(d, certifier, NULL, timestamp);
    return d;
}

void pclient_device_free(pclient_device_t *d)
{
    if (!d)
        return;
    free(d->organization_id);
    free(d->user_id);
    free(d->device_id);
    free(d->profile);
    free(d->human_email);
    free(d->human_label);
    free(d->device_label);
    pclient_blob_free(&d->user_certificate);
    pclient_blob_free(&d->redacted_user_certificate);
    pclient_blob_free(&d->device_certificate);
    pclient_blob_free(&d->redacted_device_certificate);
    free(d);
}

/* ---- requests ------------------------------------------------------------------------------ */

json_object *pclient_req(const char *cmd)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string(cmd));
    return o;
}

/* The four certificates that create a user and its first device, as
 * organization_bootstrap and user_create both carry them. */
static void add_user_certificates(json_object *o, const pclient_device_t *d)
{
    json_object_object_add(o, "user_certificate", pclient_json_blob(&d->user_certificate));
    json_object_object_add(o, "device_certificate", pclient_json_blob(&d->device_certificate));
    json_object_object_add(o, "redacted_user_certificate",
                           pclient_json_blob(&d->redacted_user_certificate));
    json_object_object_add(o, "redacted_device_certificate",
                           pclient_json_blob(&d->redacted_device_certificate));
}

json_object *pclient_req_bootstrap(const char *bootstrap_token, const pclient_key_t *root,
                                   const pclient_device_t *d)
{
    json_object *o = pclient_req("organization_bootstrap");
    json_object_object_add(o, "bootstrap_token", json_object_new_string(bootstrap_token));
    json_object_object_add(o, "root_verify_key", pclient_json_bytes(root->pub, 32));
    add_user_certificates(o, d);
    return o;
}

json_object *pclient_req_user_create(const pclient_device_t *new_user)
{
    json_object *o = pclient_req("user_create");
    add_user_certificates(o, new_user);
    return o;
}

json_object *pclient_req_device_create(const pclient_device_t *new_device)
{
    json_object *o = pclient_req("device_create");
    json_object_object_add(o, "device_certificate",
                           pclient_json_blob(&new_device->device_certificate));
    json_object_object_add(o, "redacted_device_certificate",
                           pclient_json_blob(&new_device->redacted_device_certificate));
    return o;
}

json_object *pclient_req_user_revoke(const pclient_device_t *author, const char *user_id,
                                     int64_t timestamp)
{
    pclient_revoked_user_certif_t c = {author->device_id, timestamp, user_id};
    pclient_blob_t b = pclient_revoked_user_certif(&author->key, &c);
    json_object *o = pclient_req("user_revoke");
    json_object_object_add(o, "revoked_user_certificate", pclient_json_blob(&b));
    pclient_blob_free(&b);
    return o;
}

/* ---- authentication -------------------------------------------------------------------------- */

char *pclient_auth_token(const char *organization_id, const char *device_id,
                         const pclient_key_t *key, int64_t unix_seconds)
{
    char *org = pclient_b64url(organization_id, strlen(organization_id));
    char *dev = pclient_b64url(device_id, strlen(device_id));
    char *head = printf_new("%s.%s.%lld", org, dev, (long long)unix_seconds);
    char *to_sign = printf_new("PARSEC-SIGN-ED25519.%s", head);
    uint8_t sig[64];
    pclient_sign(key, to_sign, strlen(to_sign), sig);
    char *sig_s = pclient_b64url(sig, 64);
    char *token = printf_new("%s.%s", head, sig_s);
    free(org);
    free(dev);
    free(head);
    free(to_sign);
    free(sig_s);
    return token;
}

char *pclient_auth_header(const pclient_device_t *d, int64_t unix_seconds)
{
    char *token = pclient_auth_token(d->organization_id, d->device_id, &d->key, unix_seconds);
    char *h = printf_new("PARSEC-SIGN-ED25519 %s", token);
    free(token);
    return h;
}

/* ---- HTTP ---------------------------------------------------------------------------------------
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init");
}

typedef struct {
    char *data;
    size_t len;
} growbuf_t;

static size_t grow_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    growbuf_t *b = userdata;
    size_t n = size * nmemb;
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        die("out of memory");
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

void pclient_resp_free(pclient_resp_t *r)
{
    free(r->body);
    free(r->headers);
    if (r->json)
        json_object_put(r->json);
    memset(r, 0, sizeof *r);
}

char *pclient_resp_header(const pclient_resp_t *r, const char *name)
{
    if (!r->headers)
        return NULL;
    /* Several responses (100 Continue, redirects) may precede: take the
     * last block, which starts after the last "HTTP/" status line. */
    const char *block = r->headers, *p = r->headers;
    while ((p = strstr(p, "HTTP/")) != NULL) {
        if (p == r->headers || p[-1] == '\n')
            block = p;
        p += 5;
    }
    size_t nlen = strlen(name);
    for (const char *line = block; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *end = line + llen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
            return printf_new("%.*s", (int)(end - v), v);
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

const char *pclient_status(const pclient_resp_t *r)
{
    json_object *s;
    if (!r->json || !json_object_object_get_ex(r->json, "status", &s) ||
        !json_object_is_type(s, json_type_string))
        return NULL;
    return json_object_get_string(s);
}

bool pclient_http_post(const char *url, const char *const *headers, const void *body, size_t len,
                       pclient_resp_t *out)
{
    return pclient_http("POST", url, headers, body, len, out);
}

bool pclient_http(const char *method, const char *url, const char *const *headers, const void *body,
                  size_t len, pclient_resp_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init");
    growbuf_t rb = {NULL, 0}, hb = {NULL, 0};
    struct curl_slist *hl = NULL;
    /* no "Expect: 100-continue" round trip, no default Content-Type */
    hl = curl_slist_append(hl, "Expect:");
    bool has_ct = false;
    for (size_t k = 0; headers && headers[k]; k++) {
        hl = curl_slist_append(hl, headers[k]);
        if (strncasecmp(headers[k], "Content-Type:", 13) == 0)
            has_ct = true;
    }
    if (!has_ct)
        hl = curl_slist_append(hl, "Content-Type:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "GET") == 0 && len == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        /* any other method, or a GET with a body: the bytes as a POST's */
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grow_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);

    out->body = rb.data ? rb.data : dupstr("");
    out->body_len = rb.len;
    out->headers = hb.data ? hb.data : dupstr("");
    if (out->body_len) {
        json_tokener *tok = json_tokener_new();
        out->json = json_tokener_parse_ex(tok, out->body, (int)out->body_len);
        if (json_tokener_get_error(tok) != json_tokener_success && out->json) {
            json_object_put(out->json);
            out->json = NULL;
        }
        json_tokener_free(tok);
    }
    return rc == CURLE_OK;
}

bool pclient_cmd_ex(const char *base_url, const char *family, const char *organization_id,
                    const pclient_device_t *dev, const pclient_opts_t *opts, json_object *req,
                    pclient_resp_t *out)
{
    static const pclient_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    pthread_once(&curl_once, curl_init);
    char *org = curl_easy_escape(NULL, organization_id, 0);
    if (!org)
        die("curl_easy_escape");
    size_t blen = strlen(base_url);
    while (blen > 0 && base_url[blen - 1] == '/')
        blen--;
    char *url = printf_new("%.*s/%s/%s", (int)blen, base_url, family, org);
    curl_free(org);

    char *h[6] = {0};
    size_t n = 0;
    const char *api = opts->api_version ? opts->api_version : "3.2";
    if (api[0])
        h[n++] = printf_new("Api-Version: %s", api);
    h[n++] = printf_new("Content-Type: %s",
                        opts->content_type ? opts->content_type : "application/json");
    if (opts->authorization) {
        h[n++] = printf_new("Authorization: %s", opts->authorization);
    } else if (dev) {
        int64_t t = opts->auth_time ? opts->auth_time : pclient_now_us() / 1000000;
        char *auth = pclient_auth_header(dev, t);
        h[n++] = printf_new("Authorization: %s", auth);
        free(auth);
    }
    if (opts->invitation_token)
        h[n++] = printf_new("Invitation-Token: %s", opts->invitation_token);
    h[n] = NULL;

    const char *body = req ? json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
                           : "";
    bool ok = pclient_http_post(url, (const char *const *)h, body, strlen(body), out);
    for (size_t k = 0; k < n; k++)
        free(h[k]);
    free(url);
    return ok;
}

bool pclient_cmd(const char *base_url, const char *family, const char *organization_id,
                 const pclient_device_t *dev, json_object *req, pclient_resp_t *out)
{
    return pclient_cmd_ex(base_url, family, organization_id, dev, NULL, req, out);
}
