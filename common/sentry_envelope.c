/*
 * common/sentry_envelope.c - the DSN, the envelope of one event and its
 * HTTP post (see sentry.h for the format)
 */
#include "sentry_internal.h"

#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <json-c/json.h>

#include <errno.h>
#include <stdatomic.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Bytes a DSN's key, secret and project may use: what Sentry issues (hex
 * keys, numeric projects) and nothing that could end a header field. */
static bool dsn_word_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '~'))
            return false;
    }
    return true;
}

bool sentry_dsn_parse(const char *dsn, sentry_dsn_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!dsn || !*dsn) {
        snprintf(err, errlen, "no DSN");
        return false;
    }
    const char *sep = strstr(dsn, "://");
    size_t scheme_len = sep ? (size_t)(sep - dsn) : 0;
    if (!sep || !((scheme_len == 4 && strncasecmp(dsn, "http", 4) == 0) ||
                  (scheme_len == 5 && strncasecmp(dsn, "https", 5) == 0))) {
        snprintf(err, errlen, "the DSN must start with http:// or https://");
        return false;
    }
    if (strpbrk(dsn, "?# ")) {
        snprintf(err, errlen, "the DSN must hold no query, fragment or space");
        return false;
    }
    const char *auth = sep + 3;
    const char *slash = strchr(auth, '/');
    const char *at = memrchr(auth, '@', slash ? (size_t)(slash - auth) : strlen(auth));
    if (!at) {
        snprintf(err, errlen, "the DSN has no key (https://<key>@<host>/<project>)");
        return false;
    }
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *key_end = colon ? colon : at;
    if (!dsn_word_ok(auth, (size_t)(key_end - auth)) ||
        (colon && !dsn_word_ok(colon + 1, (size_t)(at - colon - 1)))) {
        snprintf(err, errlen, "the DSN's key must be letters, digits, '-', '_', '.' or '~'");
        return false;
    }
    const char *host = at + 1;
    size_t host_len = slash ? (size_t)(slash - host) : strlen(host);
    if (host_len == 0) {
        snprintf(err, errlen, "the DSN has no host");
        return false;
    }
    /* The project is the last path segment; what precedes it is a prefix
     * (Sentry behind a path).  One trailing slash is tolerated. */
    const char *path = slash ? slash : "";
    size_t path_len = strlen(path);
    if (path_len > 1 && path[path_len - 1] == '/')
        path_len--;
    const char *last = path_len ? (const char *)memrchr(path, '/', path_len) : NULL;
    if (!last || !dsn_word_ok(last + 1, path_len - (size_t)(last + 1 - path))) {
        snprintf(err, errlen, "the DSN has no project (https://<key>@<host>/<project>)");
        return false;
    }
    out->host = xstrndup(host, host_len);
    out->project = xstrndup(last + 1, path_len - (size_t)(last + 1 - path));
    out->url = xasprintf("%.*s://%s%.*s/api/%s/envelope/", (int)scheme_len, dsn, out->host,
                         (int)(last - path), path, out->project);
    out->auth =
        xasprintf("X-Sentry-Auth: Sentry sentry_version=7, "
                  "sentry_client=parsec-server/%s, sentry_key=%.*s%s%.*s",
                  PARSEC_VERSION, (int)(key_end - auth), auth, colon ? ", sentry_secret=" : "",
                  colon ? (int)(at - colon - 1) : 0, colon ? colon + 1 : "");
    return true;
}

void sentry_dsn_free(sentry_dsn_t *d)
{
    if (!d)
        return;
    if (d->auth) /* it holds the key */
        explicit_bzero(d->auth, strlen(d->auth));
    free(d->url);
    free(d->auth);
    free(d->host);
    free(d->project);
    memset(d, 0, sizeof *d);
}

/* ---- the envelope ---------------------------------------------------------- */

/*
 * utf8_string - s as a JSON string of valid UTF-8: iconv(3) checks each
 * sequence, and a byte that starts none becomes U+FFFD.  A message may hold
 * any byte (a file name, a peer's text); an envelope must be valid JSON.
 */
static json_object *utf8_string(const char *s)
{
    strbuf_t b = STRBUF_INIT;
    size_t left = strlen(s);
    iconv_t cd = iconv_open("UTF-8", "UTF-8");
    if (cd == (iconv_t)-1) { /* no converter: ASCII only */
        for (; *s; s++) {
            if ((unsigned char)*s < 0x80)
                strbuf_putc(&b, *s);
            else
                strbuf_append(&b, "\xEF\xBF\xBD", 3);
        }
        goto done;
    }
    char *in = (char *)s;
    while (left > 0) {
        char out[256];
        char *o = out;
        size_t room = sizeof out;
        size_t r = iconv(cd, &in, &left, &o, &room);
        strbuf_append(&b, out, (size_t)(o - out));
        if (r != (size_t)-1 || errno == E2BIG)
            continue;
        /* EILSEQ or EINVAL (cut short): one byte replaced, then go on */
        strbuf_append(&b, "\xEF\xBF\xBD", 3);
        in++;
        left--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv_close(cd);
done:;
    json_object *j = json_object_new_string_len(strbuf_cstr(&b), (int)b.len);
    strbuf_free(&b);
    return j;
}

/* rfc3339 - UTC with microseconds: 2026-11-29T19:22:03.123456Z */
static void rfc3339(char *out, size_t outlen, int64_t us)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&sec, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000000Z");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)((us % 1000000 + 1000000) % 1000000));
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sentry's names for our levels; CRITICAL is Sentry's "fatal" as in
 * Python's logging integration. */
static const char *level_name(cfg_log_level level)
{
    return level >= CFG_LOG_CRITICAL ? "fatal" : "error";
}

static void tag(json_object *tags, const char *name, const char *value)
{
    if (value && *value)
        json_object_object_add(tags, name, utf8_string(value));
}

/* The text of a crash event; sigabbrev_np and strsignal are fine here, on
 * the sender thread, far from the handler. */
static char *crash_message(const sentry_event_t *ev, const char *program)
{
    const char *abbrev = sigabbrev_np(ev->signal);
    return xasprintf("%s crashed: signal %d (SIG%s, %s)", program, ev->signal,
                     abbrev ? abbrev : "?", strsignal(ev->signal));
}

static const char *json_text(json_object *o, size_t *len)
{
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    if (!s)
        abort();
    return s;
}

char *sentry_envelope(const sentry_event_t *ev, const sentry_ident_t *id, const char *event_id,
                      size_t *len)
{
    char ts[80], sent[80];
    rfc3339(ts, sizeof ts, ev->ts_us);
    rfc3339(sent, sizeof sent, now_us());

    json_object *e = json_object_new_object();
    json_object_object_add(e, "event_id", json_object_new_string(event_id));
    json_object_object_add(e, "timestamp", json_object_new_string(ts));
    json_object_object_add(e, "platform", json_object_new_string("c"));
    json_object_object_add(e, "level", json_object_new_string(level_name(ev->level)));
    json_object_object_add(e, "logger", utf8_string(id->program));
    json_object *m = json_object_new_object();
    if (ev->signal) {
        char *text = crash_message(ev, id->program);
        json_object_object_add(m, "formatted", utf8_string(text));
        free(text);
    } else {
        json_object_object_add(m, "formatted", utf8_string(ev->msg));
    }
    json_object_object_add(e, "message", m);
    json_object_object_add(e, "environment", utf8_string(id->environment));
    json_object_object_add(e, "release", utf8_string(id->release));
    json_object_object_add(e, "server_name", utf8_string(id->server_name));
    json_object *tags = json_object_new_object();
    tag(tags, "request_id", ev->scope.request_id);
    tag(tags, "command", ev->scope.command);
    tag(tags, "organization", ev->scope.organization);
    tag(tags, "context", ev->context);
    json_object_object_add(e, "tags", tags);
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "pid", json_object_new_int(id->pid));
    if (ev->signal)
        json_object_object_add(extra, "signal", json_object_new_int(ev->signal));
    json_object_object_add(e, "extra", extra);
    json_object *sdk = json_object_new_object();
    json_object_object_add(sdk, "name", json_object_new_string("parsec-server.c"));
    json_object_object_add(sdk, "version", json_object_new_string(PARSEC_VERSION));
    json_object_object_add(e, "sdk", sdk);

    size_t elen = 0;
    const char *etext = json_text(e, &elen);

    json_object *h = json_object_new_object();
    json_object_object_add(h, "event_id", json_object_new_string(event_id));
    json_object_object_add(h, "sent_at", json_object_new_string(sent));
    json_object *ih = json_object_new_object();
    json_object_object_add(ih, "type", json_object_new_string("event"));
    json_object_object_add(ih, "length", json_object_new_int64((int64_t)elen));
    json_object_object_add(ih, "content_type", json_object_new_string("application/json"));

    strbuf_t b = STRBUF_INIT;
    size_t n = 0;
    const char *t = json_text(h, &n);
    strbuf_append(&b, t, n);
    strbuf_putc(&b, '\n');
    t = json_text(ih, &n);
    strbuf_append(&b, t, n);
    strbuf_putc(&b, '\n');
    strbuf_append(&b, etext, elen);
    strbuf_putc(&b, '\n');
    json_object_put(e);
    json_object_put(h);
    json_object_put(ih);
    *len = b.len;
    return strbuf_detach(&b);
}

/* ---- the post ---------------------------------------------------------------- */

typedef struct {
    long retry_after_s; /* -1: no Retry-After header */
    const sentry_cut_t *cut;
} post_state_t;

/* Retry-After in seconds (the HTTP-date form counts as absent). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    post_state_t *st = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *p = data + sizeof name - 1;
        while (p < data + n && (*p == ' ' || *p == '\t'))
            p++;
        long v = 0;
        bool digits = false;
        while (p < data + n && *p >= '0' && *p <= '9' && v < 1000000) {
            v = v * 10 + (*p++ - '0');
            digits = true;
        }
        if (digits)
            st->retry_after_s = v;
    }
    return n;
}

/* The xalloc policy for libcurl's lists. */
static struct curl_slist *slist_add(struct curl_slist *l, const char *line)
{
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n)
        abort();
    return n;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const post_state_t *st = arg;
    if (st->cut->crash && *st->cut->crash)
        return 1;
    return sentry_mono_ms() >= atomic_load(st->cut->at_ms) ? 1 : 0;
}

sentry_post_result sentry_post(const sentry_dsn_t *d, const char *body, size_t len, long timeout_ms,
                               const sentry_cut_t *cut, long *retry_after_s, char *err,
                               size_t errlen)
{
    sentry_post_result res = SENTRY_POST_FAILED;
    post_state_t st = {.retry_after_s = -1, .cut = cut};
    struct curl_slist *headers = NULL;
    snprintf(err, errlen, "%s", "");
    *retry_after_s = 0;
    if (timeout_ms < 1)
        timeout_ms = 1;

    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "libcurl handle unavailable");
        goto cleanup;
    }
    headers = slist_add(headers, "Content-Type: application/x-sentry-envelope");
    headers = slist_add(headers, d->auth);
    headers = slist_add(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "parsec-server/" PARSEC_VERSION);

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s",
                 rc == CURLE_ABORTED_BY_CALLBACK ? "cut short (crash report or exit)"
                                                 : curl_easy_strerror(rc));
        goto cleanup;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299) {
        res = SENTRY_POST_OK;
    } else if (status == 429 || (status == 503 && st.retry_after_s >= 0)) {
        /* Sentry's default when it names no delay: a minute */
        *retry_after_s = st.retry_after_s >= 0 ? st.retry_after_s : 60;
        snprintf(err, errlen, "HTTP %ld", status);
        res = SENTRY_POST_LIMITED;
    } else {
        snprintf(err, errlen, "HTTP %ld", status);
    }

cleanup:
    curl_slist_free_all(headers);
    if (c)
        curl_easy_cleanup(c);
    return res;
}
