/*
 * common/email_send.c - delivery: SMTP through libcurl, or MOCKED files
 * (see email.h)
 *
 * libcurl speaks SMTP itself (EHLO, STARTTLS, AUTH with the mechanisms the
 * server offers, MAIL, RCPT, DATA with dot-stuffing); this file only sets it
 * up and reads the outcome.  The outcome needs one fact libcurl does not
 * give directly: which command the server refused.  MAIL and RCPT failures
 * both end as CURLE_SEND_ERROR, and only a refused recipient is
 * BAD_RECIPIENT.  So a debug callback keeps the verb of the last command
 * sent (never its arguments: AUTH lines carry credentials) and the first
 * line of the last reply, which also makes the failure log useful.
 */
#include "email_internal.h"

#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Bytes of the server's last reply kept for the log line. */
#define REPLY_LOG_MAX 200

const char *email_result_name(email_result r)
{
    switch (r) {
    case EMAIL_SUCCESS:
        return "SUCCESS";
    case EMAIL_BAD_RECIPIENT:
        return "BAD_RECIPIENT";
    case EMAIL_NOT_AVAILABLE:
        break;
    }
    return "NOT_AVAILABLE";
}

/* ---- MOCKED ---------------------------------------------------------------- */

static pthread_once_t g_mock_once = PTHREAD_ONCE_INIT;
static char g_mock_dir[PATH_MAX]; /* "" when it could not be created */

/* mock_dir_create - the process's one directory for mocked mails, under
 * $TMPDIR (or /tmp); mkdtemp makes it 0700. */
static void mock_dir_create(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char tmpl[PATH_MAX];
    int n = snprintf(tmpl, sizeof tmpl, "%s/parsec-email-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof tmpl) {
        log_error("--email-host MOCKED: TMPDIR is too long for a path");
        return;
    }
    if (!mkdtemp(tmpl)) {
        log_error("--email-host MOCKED: cannot create a directory in %s: %s", base,
                  strerror(errno));
        return;
    }
    memcpy(g_mock_dir, tmpl, (size_t)n + 1);
    log_info("--email-host MOCKED: emails are written to %s", g_mock_dir);
}

/* send_mocked - one new file <dir>/mail-XXXXXX.eml, mode 0600. */
static email_result send_mocked(const char *recipient, const char *message, size_t len)
{
    pthread_once(&g_mock_once, mock_dir_create);
    if (!g_mock_dir[0]) {
        log_warning("email to %s not written: no MOCKED email directory", recipient);
        return EMAIL_NOT_AVAILABLE;
    }
    char path[PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/mail-XXXXXX.eml", g_mock_dir) >= (int)sizeof path)
        return EMAIL_NOT_AVAILABLE; /* cannot happen: the directory's name is shorter */
    int fd = mkostemps(path, 4, O_CLOEXEC);
    if (fd < 0) {
        log_warning("email to %s not written: cannot create a file in %s: %s", recipient,
                    g_mock_dir, strerror(errno));
        return EMAIL_NOT_AVAILABLE;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, message + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warning("email to %s not written: %s: %s", recipient, path,
                        w < 0 ? strerror(errno) : "short write");
            close(fd);
            unlink(path);
            return EMAIL_NOT_AVAILABLE;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        log_warning("email to %s not written: %s: %s", recipient, path, strerror(errno));
        unlink(path);
        return EMAIL_NOT_AVAILABLE;
    }
    log_info("email to %s not sent (--email-host MOCKED), written to %s", recipient, path);
    return EMAIL_SUCCESS;
}

/* ---- SMTP ------------------------------------------------------------------ */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static bool g_curl_ok;

static void curl_init_once(void)
{
    g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

typedef struct {
    const char *data;
    size_t len, off;
} upload_t;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    upload_t *u = arg;
    size_t n = size * nitems;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

/* What the dialogue looked like when it stopped. */
typedef struct {
    char verb[16];                 /* last command sent: "RCPT", "AUTH"... */
    char reply[REPLY_LOG_MAX + 1]; /* first line of the last reply */
    bool quitting;                 /* QUIT sent: the dialogue is over */
} dialogue_t;

/*
 * on_debug - keep the last command's verb and the last reply's first line
 *
 * Only known verbs are kept.  Inside AUTH the client sends bare base64 lines
 * (user name, password) that must never be copied anywhere: they leave the
 * verb at "AUTH".  After a refusal libcurl says QUIT: from then on nothing
 * changes, so the refused command and its reply are what stays.
 */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    dialogue_t *d = arg;
    if (d->quitting)
        return 0;
    if (type == CURLINFO_HEADER_OUT && size >= 4 && strncasecmp(data, "QUIT", 4) == 0 &&
        (size == 4 || data[4] == '\r' || data[4] == '\n')) {
        d->quitting = true;
        return 0;
    }
    if (type == CURLINFO_HEADER_OUT) {
        static const char *const verbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                                            "RCPT", "DATA", "RSET",     "NOOP"};
        for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
            size_t n = strlen(verbs[i]);
            if (size >= n && strncasecmp(data, verbs[i], n) == 0 &&
                (size == n || data[n] == ' ' || data[n] == '\r' || data[n] == '\n')) {
                snprintf(d->verb, sizeof d->verb, "%s", verbs[i]);
                break;
            }
        }
    } else if (type == CURLINFO_HEADER_IN) {
        size_t n = 0;
        while (n < size && n < REPLY_LOG_MAX && data[n] != '\r' && data[n] != '\n')
            n++;
        memcpy(d->reply, data, n);
        d->reply[n] = '\0';
    }
    return 0;
}

/* timeout_ms - a setting in seconds for libcurl, which reads 0 as "no
 * limit": a cfg_t that did not come from cfg_parse() (all zero) gets
 * cfg.c's defaults instead, so every delivery stays bounded. */
static long timeout_ms(double seconds, double fallback)
{
    return (long)((seconds >= 0.1 ? seconds : fallback) * 1000.0);
}

email_tls email_tls_mode(bool use_ssl, bool use_tls, int port)
{
    if (!use_ssl && !use_tls)
        return EMAIL_TLS_NONE;
    if (port == 465)
        return EMAIL_TLS_IMPLICIT;
    if (port == 587)
        return EMAIL_TLS_STARTTLS;
    return use_ssl ? EMAIL_TLS_IMPLICIT : EMAIL_TLS_STARTTLS;
}

/* smtp_url - "smtp://host:port" or "smtps://..."; an IPv6 address gets its
 * brackets.  No path: libcurl then greets with the machine's host name. */
static char *smtp_url(const cfg_t *cfg, email_tls tls)
{
    const char *h = cfg->email_host;
    bool bracket = strchr(h, ':') && h[0] != '[';
    return xasprintf("%s://%s%s%s:%d", tls == EMAIL_TLS_IMPLICIT ? "smtps" : "smtp",
                     bracket ? "[" : "", h, bracket ? "]" : "", cfg->email_port);
}

static email_result send_smtp(const cfg_t *cfg, const char *recipient, const char *message,
                              size_t len)
{
    email_result result = EMAIL_NOT_AVAILABLE;
    char *from_name = NULL, *from_addr = NULL, *url = NULL, *mail_from = NULL, *rcpt = NULL;
    struct curl_slist *rcpts = NULL;
    CURL *h = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    dialogue_t d = {.verb = "", .reply = ""};
    upload_t up = {.data = message, .len = len, .off = 0};

    if (!cfg->email_sender || !email_split_sender(cfg->email_sender, &from_name, &from_addr)) {
        log_warning("email to %s not sent: --email-sender is not a usable address", recipient);
        goto cleanup;
    }
    pthread_once(&g_curl_once, curl_init_once);
    if (!g_curl_ok || !(h = curl_easy_init())) {
        log_warning("email to %s not sent: libcurl unavailable", recipient);
        goto cleanup;
    }
    email_tls tls = email_tls_mode(cfg->email_use_ssl, cfg->email_use_tls, cfg->email_port);
    url = smtp_url(cfg, tls);
    mail_from = xasprintf("<%s>", from_addr);
    rcpt = xasprintf("<%s>", recipient);
    rcpts = curl_slist_append(NULL, rcpt);
    if (!rcpts) {
        log_warning("email to %s not sent: out of memory", recipient);
        goto cleanup;
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, tls == EMAIL_TLS_IMPLICIT ? "smtps" : "smtp");
    /* no signals: this runs in worker threads (timeouts need no SIGALRM
     * with the threaded resolver) */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(cfg->email_connect_timeout, 10.0));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms(cfg->email_timeout, 30.0));
    if (tls == EMAIL_TLS_STARTTLS)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->email_ca_file) {
        /* only this CA: a private mail server's certificate */
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->email_ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (cfg->email_host_user && cfg->email_host_password) {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->email_host_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->email_host_password);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    /* VERBOSE only feeds on_debug; nothing goes to stderr */
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &d);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
        result = EMAIL_SUCCESS;
        log_info("email to %s accepted by %s:%d", recipient, cfg->email_host, cfg->email_port);
        goto cleanup;
    }
    if (strcmp(d.verb, "RCPT") == 0 && code >= 500 && code <= 599)
        result = EMAIL_BAD_RECIPIENT;
    log_warning("email to %s not sent (%s): %s; SMTP server %s:%d, last command %s, reply %ld%s%s",
                recipient, email_result_name(result), errbuf[0] ? errbuf : curl_easy_strerror(rc),
                cfg->email_host, cfg->email_port, d.verb[0] ? d.verb : "none", code,
                d.reply[0] ? ": " : "", d.reply);
cleanup:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(rcpts);
    free(rcpt);
    free(mail_from);
    free(url);
    free(from_name);
    free(from_addr);
    return result;
}

static email_result send_one(const cfg_t *cfg, const char *recipient, const char *message,
                             size_t len)
{
    /* it becomes an SMTP command argument: nothing but a plain address */
    if (!proto_valid_email(recipient)) {
        log_warning("email not sent: the recipient is not a valid address");
        return EMAIL_BAD_RECIPIENT;
    }
    if (!cfg->email_host) {
        log_warning("email to %s not sent: no --email-host", recipient);
        return EMAIL_NOT_AVAILABLE;
    }
    if (strcmp(cfg->email_host, "MOCKED") == 0)
        return send_mocked(recipient, message, len);
    return send_smtp(cfg, recipient, message, len);
}

email_result email_send(const cfg_t *cfg, const char *recipient, const char *message, size_t len)
{
    uint64_t t0 = metrics_now_ns();
    email_result r = send_one(cfg, recipient, message, len);
    metrics_email((int)r, metrics_now_ns() - t0);
    return r;
}
