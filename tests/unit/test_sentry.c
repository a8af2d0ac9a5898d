/*
 * tests/unit/test_sentry.c - error reports to Sentry (common/sentry.h)
 * against a receiver on loopback (tests/lib/httpsink.h): the envelope and
 * its headers, the key in X-Sentry-Auth only, the scope, what is never
 * sent, the queue that drops when the receiver stalls, the rate limits,
 * bounded exchanges, crashes.
 */
#include "httpsink.h"
#include "log.h"
#include "sentry.h"
#include "strbuf.h"
#include "testreg.h"
#include "xalloc.h"

#include <json-c/json.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY    "0123abcdPUBLICkey"
#define SECRET "s3cr3tPART"
#define WAIT   10000 /* ms: a generous bound for what takes milliseconds */

static char log_path[512];

/* Logs go to a private file, so that a test can look for the key in it. */
static void setup(void)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    snprintf(log_path, sizeof log_path, "%s/test_sentry.%d.log", base, (int)getpid());
    char err[256];
    ck_assert_msg(
        log_open(CFG_LOG_DEBUG, CFG_LOG_CONSOLE, log_path, "test-sentry", err, sizeof err), "%s",
        err);
}

static void teardown(void)
{
    sentry_stop(0);
    sentry_scope_clear();
    log_close();
    unlink(log_path);
}

static char *dsn_for(httpsink_t *s, const char *path)
{
    return xasprintf("http://" KEY ":" SECRET "@127.0.0.1:%d%s", httpsink_port(s), path);
}

/* start - report to s with conf's limits (dsn and program filled here). */
static void start(httpsink_t *s, sentry_conf_t conf)
{
    char *dsn = dsn_for(s, "/42");
    conf.dsn = dsn;
    if (!conf.program)
        conf.program = "test-sentry";
    conf.no_crash_handler = true;
    char err[256] = "";
    bool ok = sentry_start_conf(&conf, err, sizeof err);
    free(dsn);
    ck_assert_msg(ok, "sentry_start_conf: %s", err);
    ck_assert(sentry_enabled());
}

static sentry_stats_t stats(void)
{
    sentry_stats_t st;
    sentry_stats(&st);
    return st;
}

/* wait_for - until the counter at offset reaches n (10 s at most). */
#define WAIT_STAT(field, n)                                                                        \
    ck_assert_msg(wait_stat(offsetof(sentry_stats_t, field), n), #field " never reached %d",       \
                  (int)(n))
static bool wait_stat(size_t offset, uint64_t n)
{
    for (int i = 0; i < WAIT / 10; i++) {
        sentry_stats_t st = stats();
        if (*(uint64_t *)((char *)&st + offset) >= n)
            return true;
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
    return false;
}

/* The three lines of an envelope, parsed (valid JSON, valid UTF-8). */
typedef struct {
    json_object *header, *item, *event;
    size_t event_len, item_length;
} envelope_t;

static json_object *parse_strict(const char *s, size_t n)
{
    json_tokener *t = json_tokener_new();
    json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(t, s, (int)n);
    ck_assert_msg(o && json_tokener_get_parse_end(t) == n, "not one strict JSON value: %.*s",
                  (int)n, s);
    json_tokener_free(t);
    return o;
}

static envelope_t envelope_of(const httpsink_req_t *q)
{
    envelope_t e = {0};
    const char *l1 = q->body;
    const char *l2 = strchr(l1, '\n');
    ck_assert_ptr_nonnull(l2);
    l2++;
    const char *l3 = strchr(l2, '\n');
    ck_assert_ptr_nonnull(l3);
    l3++;
    const char *end = strchr(l3, '\n');
    ck_assert_ptr_nonnull(end);
    ck_assert_str_eq(end, "\n"); /* one item, then the end */
    e.header = parse_strict(l1, (size_t)(l2 - 1 - l1));
    e.item = parse_strict(l2, (size_t)(l3 - 1 - l2));
    e.event = parse_strict(l3, (size_t)(end - l3));
    e.event_len = (size_t)(end - l3);
    e.item_length = (size_t)json_object_get_int64(json_object_object_get(e.item, "length"));
    return e;
}

static void envelope_free(envelope_t *e)
{
    json_object_put(e->header);
    json_object_put(e->item);
    json_object_put(e->event);
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool matches(const char *re, const char *s)
{
    regex_t r;
    ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = s && regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static char *slurp_log(void)
{
    strbuf_t b = STRBUF_INIT;
    ck_assert(strbuf_read_file(&b, log_path));
    return strbuf_detach(&b);
}

START_TEST(no_dsn_is_off)
{
    cfg_t c = {0};
    ck_assert(sentry_start(&c, "x"));
    ck_assert(!sentry_enabled());
    log_error("nothing to report to");
    ck_assert_uint_eq(stats().captured, 0);
}
END_TEST

START_TEST(envelope_and_headers)
{
    httpsink_t *s = httpsink_start(200, NULL);
    start(s, (sentry_conf_t){.environment = "staging", .program = "parsec-fcgi"});
    sentry_scope_request("ab12cd34ef567890");
    sentry_scope_organization("CoolOrg");
    sentry_scope_command("user_create");
    log_set_context("ab12cd34ef567890 dev=alice@dev1");
    log_error("user_db: the user insert returned no row");
    log_set_context(NULL);
    ck_assert(httpsink_wait(s, 1, WAIT));

    httpsink_req_t *q = httpsink_get(s, 0);
    ck_assert_msg(strncmp(q->head, "POST /api/42/envelope/ HTTP/1.1\r\n", 33) == 0, "%s", q->head);
    char *ctype = httpsink_header(q, "Content-Type");
    ck_assert_str_eq(ctype, "application/x-sentry-envelope");
    char *auth = httpsink_header(q, "X-Sentry-Auth");
    ck_assert_ptr_nonnull(auth);
    ck_assert_msg(matches("^Sentry sentry_version=7, sentry_client=parsec-server/[^,]+, "
                          "sentry_key=" KEY ", sentry_secret=" SECRET "$",
                          auth),
                  "%s", auth);
    /* the key travels in that header only */
    ck_assert_ptr_null(strstr(q->body, KEY));
    ck_assert_ptr_null(strstr(q->body, SECRET));
    const char *k1 = strstr(q->head, KEY);
    ck_assert_ptr_nonnull(k1);
    ck_assert_ptr_null(strstr(k1 + 1, KEY));

    envelope_t e = envelope_of(q);
    const char *id = str(e.header, "event_id");
    ck_assert_msg(matches("^[0-9a-f]{32}$", id), "%s", id);
    ck_assert_str_eq(str(e.event, "event_id"), id);
    ck_assert(
        matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$", str(e.header, "sent_at")));
    ck_assert_str_eq(str(e.item, "type"), "event");
    ck_assert_str_eq(str(e.item, "content_type"), "application/json");
    ck_assert_uint_eq(e.item_length, e.event_len);

    ck_assert(
        matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$", str(e.event, "timestamp")));
    ck_assert_str_eq(str(e.event, "level"), "error");
    ck_assert_str_eq(str(e.event, "logger"), "parsec-fcgi");
    ck_assert_str_eq(str(e.event, "platform"), "c");
    ck_assert_str_eq(str(json_object_object_get(e.event, "message"), "formatted"),
                     "user_db: the user insert returned no row");
    ck_assert_str_eq(str(e.event, "environment"), "staging");
    ck_assert_str_eq(str(e.event, "release"), "parsec-server@" PARSEC_VERSION);
    char host[256];
    ck_assert_int_eq(gethostname(host, sizeof host), 0);
    ck_assert_str_eq(str(e.event, "server_name"), host);
    json_object *tags = json_object_object_get(e.event, "tags");
    ck_assert_str_eq(str(tags, "request_id"), "ab12cd34ef567890");
    ck_assert_str_eq(str(tags, "organization"), "CoolOrg");
    ck_assert_str_eq(str(tags, "command"), "user_create");
    ck_assert_str_eq(str(tags, "context"), "ab12cd34ef567890 dev=alice@dev1");
    json_object *extra = json_object_object_get(e.event, "extra");
    ck_assert_int_eq(json_object_get_int(json_object_object_get(extra, "pid")), getpid());
    envelope_free(&e);

    /* CRITICAL is Sentry's fatal; a cleared scope leaves no tag */
    sentry_scope_clear();
    log_critical("listening socket unusable");
    ck_assert(httpsink_wait(s, 2, WAIT));
    httpsink_req_free(q);
    q = httpsink_get(s, 1);
    e = envelope_of(q);
    ck_assert_str_eq(str(e.event, "level"), "fatal");
    ck_assert_int_eq(json_object_object_length(json_object_object_get(e.event, "tags")), 0);
    envelope_free(&e);

    /* below ERROR: nothing */
    log_warning("only a warning");
    log_info("only news");
    sentry_stop(WAIT);
    ck_assert_int_eq(httpsink_count(s), 2);
    sentry_stats_t st = stats();
    ck_assert_uint_eq(st.sent, 2);
    ck_assert_uint_eq(st.captured, 2);

    /* the key never reached the log either */
    char *log = slurp_log();
    ck_assert_ptr_null(strstr(log, KEY));
    ck_assert_ptr_null(strstr(log, SECRET));
    free(log);
    free(ctype);
    free(auth);
    httpsink_req_free(q);
    httpsink_stop(s);
}
END_TEST

/* A DSN with a path prefix, without secret; the environment's default. */
START_TEST(dsn_path_prefix_and_defaults)
{
    httpsink_t *s = httpsink_start(200, NULL);
    char *dsn = xasprintf("http://" KEY "@127.0.0.1:%d/sentry/7", httpsink_port(s));
    cfg_t c = {.sentry_dsn = dsn};
    ck_assert(sentry_start(&c, "parsec-notifyd"));
    log_error("notifyd: database connection lost");
    ck_assert(httpsink_wait(s, 1, WAIT));
    httpsink_req_t *q = httpsink_get(s, 0);
    ck_assert_msg(strncmp(q->head, "POST /sentry/api/7/envelope/ HTTP/1.1\r\n", 39) == 0, "%s",
                  q->head);
    char *auth = httpsink_header(q, "X-Sentry-Auth");
    ck_assert_ptr_null(strstr(auth, "sentry_secret"));
    ck_assert_ptr_nonnull(strstr(auth, "sentry_key=" KEY));
    envelope_t e = envelope_of(q);
    ck_assert_str_eq(str(e.event, "environment"), "production");
    ck_assert_str_eq(str(e.event, "logger"), "parsec-notifyd");
    envelope_free(&e);
    /* the start-up line names host and project, never the key */
    char *log = slurp_log();
    ck_assert_ptr_nonnull(strstr(log, "sentry: reporting errors to 127.0.0.1:"));
    ck_assert_ptr_null(strstr(log, KEY));
    free(log);
    free(auth);
    httpsink_req_free(q);
    sentry_stop(WAIT);
    httpsink_stop(s);
    free(dsn);
}
END_TEST

START_TEST(bad_dsns_refused_without_echo)
{
    static const char *const bad[] = {
        "ftp://" KEY "@h/1",
        "http://h/1",
        "http://" KEY "@/1",
        "http://" KEY "@h",
        "http://" KEY "@h/",
        "http://" KEY "@h/1?x=y",
        "http://k\"ey@h/1",
        "http://" KEY ":a,b@h/1",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        sentry_conf_t c = {.dsn = bad[i], .program = "t", .no_crash_handler = true};
        ck_assert_msg(!sentry_start_conf(&c, err, sizeof err), "accepted %s", bad[i]);
        ck_assert(err[0]);
        ck_assert_msg(!strstr(err, KEY), "%s", err);
        ck_assert(!sentry_enabled());
    }
    /* sentry_start says why in one WARNING line, without the DSN */
    cfg_t c = {.sentry_dsn = (char *)"http://" KEY ":" SECRET "@h"};
    ck_assert(!sentry_start(&c, "t"));
    char *log = slurp_log();
    ck_assert_ptr_nonnull(strstr(log, "WARNING test-sentry"));
    ck_assert_ptr_nonnull(
        strstr(log, "sentry: errors will not be reported: the DSN has no project"));
    ck_assert_ptr_null(strstr(log, KEY));
    ck_assert_ptr_null(strstr(log, SECRET));
    free(log);
}
END_TEST

/* Any byte may be in a message; the envelope stays valid JSON and UTF-8. */
START_TEST(invalid_utf8_and_long_messages)
{
    httpsink_t *s = httpsink_start(200, NULL);
    start(s, (sentry_conf_t){0});
    log_error("bad bytes: \xff\xfe \xc3\x28 overlong \xc0\xaf surrogate \xed\xa0\x80 ok \xc3\xa9");
    char *big = xmalloc(3 * SENTRY_MSG_MAX);
    memset(big, 'x', 3 * SENTRY_MSG_MAX - 1);
    big[3 * SENTRY_MSG_MAX - 1] = '\0';
    log_error("%s", big);
    ck_assert(httpsink_wait(s, 2, WAIT));
    httpsink_req_t *q = httpsink_get(s, 0);
    envelope_t e = envelope_of(q); /* strict, UTF-8 validated */
    const char *m = str(json_object_object_get(e.event, "message"), "formatted");
    ck_assert_msg(strstr(m, "bad bytes: \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd( overlong"), "%s", m);
    ck_assert_msg(strstr(m, " ok \xc3\xa9"), "%s", m);
    envelope_free(&e);
    httpsink_req_free(q);
    q = httpsink_get(s, 1);
    e = envelope_of(q);
    m = str(json_object_object_get(e.event, "message"), "formatted");
    ck_assert_uint_eq(strlen(m), SENTRY_MSG_MAX + strlen(LOG_TRUNCATED_MARK));
    ck_assert_str_eq(m + SENTRY_MSG_MAX, LOG_TRUNCATED_MARK);
    envelope_free(&e);
    httpsink_req_free(q);
    free(big);
    sentry_stop(WAIT);
    httpsink_stop(s);
}
END_TEST

/*
 * A receiver that does not answer: the sender waits on its one exchange,
 * the queue fills, later errors are dropped and counted, and no caller ever
 * waits (if log_error blocked, this test would hang until Check kills it:
 * the receiver answers only once every call below has returned).
 */
START_TEST(stalled_receiver_drops_never_blocks)
{
    httpsink_t *s = httpsink_start(200, NULL);
    httpsink_stall(s);
    start(s, (sentry_conf_t){.queue_max = 4, .burst = 1000, .timeout_ms = 60000});
    log_error("first, in flight");
    ck_assert(httpsink_wait(s, 1, WAIT)); /* the sender is now held */
    for (int i = 0; i < 10; i++)
        log_error("error %d while Sentry is slow", i);
    sentry_stats_t st = stats();
    ck_assert_uint_eq(st.captured, 5);
    ck_assert_uint_eq(st.dropped_full, 6);
    ck_assert_uint_eq(st.sent, 0);
    httpsink_release(s);
    ck_assert(httpsink_wait(s, 5, WAIT));
    WAIT_STAT(sent, 5);
    httpsink_req_t *q = httpsink_get(s, 4);
    envelope_t e = envelope_of(q);
    ck_assert_str_eq(str(json_object_object_get(e.event, "message"), "formatted"),
                     "error 3 while Sentry is slow");
    envelope_free(&e);
    httpsink_req_free(q);
    sentry_stop(WAIT);
    ck_assert_int_eq(httpsink_count(s), 5);
    ck_assert_uint_eq(stats().dropped_full, 6);
    httpsink_stop(s);
}
END_TEST

/* Each exchange is bounded: a receiver that never answers costs a timeout,
 * counted as a failure and logged at WARNING (not ERROR: never reported). */
START_TEST(exchange_timeout_counts_a_failure)
{
    httpsink_t *s = httpsink_start(200, NULL);
    httpsink_stall(s);
    start(s, (sentry_conf_t){.timeout_ms = 200});
    log_error("into the void");
    WAIT_STAT(failed, 1);
    ck_assert_uint_eq(stats().sent, 0);
    /* an answer other than 2xx is a failure too */
    httpsink_release(s);
    httpsink_answer(s, 400, NULL);
    log_error("refused");
    WAIT_STAT(failed, 2);
    sentry_stop(WAIT); /* the sender has written its lines */
    ck_assert_uint_eq(stats().failed, 2);
    ck_assert_uint_eq(stats().captured, 2);
    char *log = slurp_log();
    ck_assert_ptr_nonnull(strstr(log, "WARNING test-sentry"));
    ck_assert_ptr_nonnull(strstr(log, "sentry: cannot report an error to 127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(log, "(1 failure so far)"));
    /* once, then every SENTRY_FAIL_LOG_EVERY-th: not the second */
    ck_assert_ptr_null(strstr(log, "(2 failures so far)"));
    free(log);
    httpsink_stop(s);
}
END_TEST

/* Stopping with a receiver that never answers returns once the flush time
 * is spent (the exchange in flight is cut), counting what was left. */
START_TEST(stop_is_bounded)
{
    httpsink_t *s = httpsink_start(200, NULL);
    httpsink_stall(s);
    start(s, (sentry_conf_t){.timeout_ms = 3600 * 1000L});
    for (int i = 0; i < 3; i++)
        log_error("pending %d", i);
    ck_assert(httpsink_wait(s, 1, WAIT));
    sentry_stop(100);
    ck_assert(!sentry_enabled());
    sentry_stats_t st = stats();
    ck_assert_uint_eq(st.captured, 3);
    ck_assert_uint_eq(st.failed + st.dropped_shutdown, 3);
    ck_assert_uint_ge(st.dropped_shutdown, 1);
    log_error("after the stop: not captured");
    ck_assert_uint_eq(stats().captured, 3);
    httpsink_stop(s);
}
END_TEST

/* Our rate limit: a burst, then one event per refill period. */
START_TEST(rate_limited)
{
    httpsink_t *s = httpsink_start(200, NULL);
    start(s, (sentry_conf_t){.burst = 3, .refill_ms = 3600 * 1000L});
    for (int i = 0; i < 10; i++)
        log_error("flood %d", i);
    sentry_stats_t st = stats();
    ck_assert_uint_eq(st.captured, 3);
    ck_assert_uint_eq(st.dropped_rate, 7);
    WAIT_STAT(sent, 3);
    sentry_stop(WAIT);
    ck_assert_int_eq(httpsink_count(s), 3);
    httpsink_stop(s);
}
END_TEST

/* The bucket refills with time. */
START_TEST(rate_limit_refills)
{
    httpsink_t *s = httpsink_start(200, NULL);
    start(s, (sentry_conf_t){.burst = 1, .refill_ms = 50});
    log_error("one");
    log_error("dropped");
    ck_assert_uint_eq(stats().dropped_rate, 1);
    struct timespec d = {0, 120 * 1000000L};
    nanosleep(&d, NULL);
    log_error("two");
    ck_assert_uint_eq(stats().captured, 2);
    WAIT_STAT(sent, 2);
    sentry_stop(WAIT);
    httpsink_stop(s);
}
END_TEST

/* Sentry's own limit: 429 with Retry-After stops sending until then. */
START_TEST(server_429_suspends)
{
    httpsink_t *s = httpsink_start(429, "Retry-After: 3600\r\n");
    start(s, (sentry_conf_t){0});
    log_error("limited");
    WAIT_STAT(dropped_rate, 1);
    for (int i = 0; i < 5; i++)
        log_error("while waiting %d", i);
    ck_assert_uint_eq(stats().dropped_rate, 6);
    ck_assert_uint_eq(stats().captured, 1);
    sentry_stop(WAIT);
    ck_assert_int_eq(httpsink_count(s), 1);
    char *log = slurp_log();
    ck_assert_ptr_nonnull(strstr(log, "asks to wait 3600 s (HTTP 429)"));
    free(log);
    httpsink_stop(s);
}
END_TEST

/* Threads capture at once; each event carries its own thread's scope. */
enum { N_THREADS = 4, N_EACH = 8 };

static void *capture_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    char id[16];
    snprintf(id, sizeof id, "thread%d", i);
    sentry_scope_request(id);
    for (int j = 0; j < N_EACH; j++)
        log_error("thread%d error %d", i, j);
    return NULL;
}

START_TEST(concurrent_threads_keep_their_scope)
{
    httpsink_t *s = httpsink_start(200, NULL);
    start(s, (sentry_conf_t){.burst = 1000});
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, capture_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    sentry_stats_t st = stats();
    ck_assert_uint_eq(st.captured + st.dropped_full, N_THREADS * N_EACH);
    WAIT_STAT(sent, st.captured);
    for (int k = 0; k < (int)st.captured; k++) {
        httpsink_req_t *q = httpsink_get(s, k);
        envelope_t e = envelope_of(q);
        const char *m = str(json_object_object_get(e.event, "message"), "formatted");
        const char *rid = str(json_object_object_get(e.event, "tags"), "request_id");
        ck_assert_ptr_nonnull(rid);
        ck_assert_msg(strncmp(m, rid, strlen(rid)) == 0 && m[strlen(rid)] == ' ', "%s vs %s", m,
                      rid);
        envelope_free(&e);
        httpsink_req_free(q);
    }
    sentry_stop(WAIT);
    httpsink_stop(s);
}
END_TEST

/*
 * A crash: the child dies of a fatal signal a handler can still run for;
 * the report reaches the receiver with the crashing thread's scope, and the
 * child still dies of its signal.
 *
 * The children are forked before the receiver's thread exists: a fork
 * while another thread holds an allocator lock would leave the child stuck
 * in its first malloc.  Each waits on a pipe for the receiver's port.
 */
static pid_t crash_child(int sig, int *port_wfd)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0) {
        close(p[0]);
        *port_wfd = p[1];
        return pid;
    }
    close(p[1]);
    int port = 0;
    if (read(p[0], &port, sizeof port) != sizeof port)
        _exit(2);
    /* the default disposition underneath (not a sanitizer's report) */
    signal(sig, SIG_DFL);
    char *dsn = xasprintf("http://" KEY "@127.0.0.1:%d/42", port);
    sentry_conf_t c = {.dsn = dsn, .program = "crashy"};
    char err[256];
    if (!sentry_start_conf(&c, err, sizeof err))
        _exit(3);
    sentry_scope_request("feedfacecafebeef");
    sentry_scope_command("vlob_update");
    sentry_scope_organization("CrashOrg");
    if (sig == SIGABRT)
        abort();
    raise(sig);
    _exit(4);
}

START_TEST(crash_reported)
{
    static const int sigs[] = {SIGABRT, SIGSEGV};
    pid_t pids[2];
    int wfd[2];
    for (int i = 0; i < 2; i++)
        pids[i] = crash_child(sigs[i], &wfd[i]);
    httpsink_t *s = httpsink_start(200, NULL);
    int port = httpsink_port(s);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(write(wfd[i], &port, sizeof port), sizeof port);
        close(wfd[i]);
        int status = 0;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i], "child status %#x",
                      status);
        ck_assert(httpsink_wait(s, i + 1, WAIT));
        httpsink_req_t *q = httpsink_get(s, i);
        envelope_t e = envelope_of(q);
        ck_assert_str_eq(str(e.event, "level"), "fatal");
        ck_assert_str_eq(str(e.event, "logger"), "crashy");
        const char *m = str(json_object_object_get(e.event, "message"), "formatted");
        char *want = xasprintf("crashy crashed: signal %d (SIG%s, ", sigs[i],
                               sigs[i] == SIGABRT ? "ABRT" : "SEGV");
        ck_assert_msg(strncmp(m, want, strlen(want)) == 0, "%s", m);
        free(want);
        json_object *tags = json_object_object_get(e.event, "tags");
        ck_assert_str_eq(str(tags, "request_id"), "feedfacecafebeef");
        ck_assert_str_eq(str(tags, "command"), "vlob_update");
        ck_assert_str_eq(str(tags, "organization"), "CrashOrg");
        json_object *extra = json_object_object_get(e.event, "extra");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(extra, "signal")), sigs[i]);
        envelope_free(&e);
        httpsink_req_free(q);
    }
    httpsink_stop(s);
}
END_TEST

TEST_SUITE(sentry)
{
    Suite *s = suite_create("sentry");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, no_dsn_is_off);
    tcase_add_test(tc, envelope_and_headers);
    tcase_add_test(tc, dsn_path_prefix_and_defaults);
    tcase_add_test(tc, bad_dsns_refused_without_echo);
    tcase_add_test(tc, invalid_utf8_and_long_messages);
    tcase_add_test(tc, stalled_receiver_drops_never_blocks);
    tcase_add_test(tc, exchange_timeout_counts_a_failure);
    tcase_add_test(tc, stop_is_bounded);
    tcase_add_test(tc, rate_limited);
    tcase_add_test(tc, rate_limit_refills);
    tcase_add_test(tc, server_429_suspends);
    tcase_add_test(tc, concurrent_threads_keep_their_scope);
    tcase_add_test(tc, crash_reported);
    suite_add_tcase(s, tc);
    return s;
}
