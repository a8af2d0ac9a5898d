/*
 * common/webhook.c - the organization bootstrap webhook (see webhook.h)
 */
#include "webhook.h"

#include "cfg.h"
#include "log.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static bool g_curl_ok;

static void curl_init_once(void)
{
    g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* The answer is read and dropped: only its status matters. */
static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

bool webhook_post(const char *url, const char *json, long timeout_ms, char *err, size_t errlen)
{
    bool ok = false;
    CURL *c = NULL;
    struct curl_slist *headers = NULL;
    if (timeout_ms <= 0)
        timeout_ms = WEBHOOK_TIMEOUT_MS;
    snprintf(err, errlen, "%s", "");

    pthread_once(&g_curl_once, curl_init_once);
    if (!g_curl_ok) {
        snprintf(err, errlen, "libcurl initialisation failed");
        goto cleanup;
    }
    c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "libcurl handle unavailable");
        goto cleanup;
    }
    headers = curl_slist_append(headers, "Content-Type: application/json; charset=utf-8");
    /* no 100-continue round trip for a body of a few hundred bytes */
    headers = curl_slist_append(headers, "Expect:");
    if (!headers) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < WEBHOOK_CONNECT_TIMEOUT_MS ? timeout_ms
                                                             : WEBHOOK_CONNECT_TIMEOUT_MS);
    /* worker threads: no SIGALRM-based DNS timeouts */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "parsec/" PARSEC_VERSION);

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        goto cleanup;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "HTTP %ld", status);
        goto cleanup;
    }
    ok = true;

cleanup:
    curl_slist_free_all(headers);
    if (c)
        curl_easy_cleanup(c);
    return ok;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

bool webhook_bootstrap(const char *url, const char *organization_id, const char *device_id,
                       const char *device_label, const char *human_email, const char *human_label)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "organization_id", str_or_null(organization_id));
    json_object_object_add(o, "device_id", str_or_null(device_id));
    json_object_object_add(o, "device_label", str_or_null(device_label));
    json_object_object_add(o, "human_email", str_or_null(human_email));
    json_object_object_add(o, "human_label", str_or_null(human_label));
    const char *json =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char err[256];
    bool ok = webhook_post(url, json, WEBHOOK_TIMEOUT_MS, err, sizeof err);
    json_object_put(o);
    if (!ok) {
        char *safe = cfg_redact_url(url);
        log_warning("bootstrap webhook for organization %s failed (%s): %s", organization_id,
                    safe ? safe : "?", err);
        free(safe);
    } else {
        log_info("bootstrap webhook for organization %s delivered", organization_id);
    }
    return ok;
}
