/*
 * common/sentry.c - start and stop, the scope, the queue, the rate limit
 * and the sender thread of the Sentry reporter (see sentry.h)
 *
 * Threads: any thread captures (sentry_capture, from the log hook); the one
 * sender thread pops, builds and posts.  g.mu guards the queue, the bucket
 * and the server's wait; it is held for a copy, never across the network.
 * The sender waits in poll(2) on an eventfd (events queued, stop asked) and
 * on the crash pipe (sentry_crash.c), which a signal handler may write.
 */
#include "sentry_internal.h"

#include "crypto.h"
#include "log.h"
#include "xalloc.h"

#include <curl/curl.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* A failing Sentry is reported once, then once per this many failures. */
#define SENTRY_FAIL_LOG_EVERY 100
/* The longest wait Sentry may ask for (429, Retry-After). */
#define SENTRY_SERVER_WAIT_MAX_S 3600L

static struct {
    pthread_mutex_t mu;
    /* guarded by mu */
    bool running;  /* captures accepted */
    bool stopping; /* the sender drains until deadline_ms, then exits */
    int64_t deadline_ms;
    sentry_event_t q[SENTRY_QUEUE_MAX];
    size_t head, n, max;
    double tokens;
    int64_t refill_at_ms;
    int64_t server_wait_until_ms;
    /* set by start before the thread, read-only while it runs */
    int burst;
    long refill_ms, timeout_ms, flush_ms, crash_wait_ms;
    bool crash_handler;
    sentry_dsn_t dsn;
    sentry_ident_t ident;
    char *program, *environment, *release, *server_name;
    int wake_fd;  /* eventfd */
    int crash[2]; /* handler -> sender */
    int ack[2];   /* sender -> handler */
    pthread_t tid;
    pid_t pid; /* the process that started: a forked child reports nothing */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1, .crash = {-1, -1}, .ack = {-1, -1}};

/* Read without the lock on the capture path: false skips everything. */
static atomic_bool g_on;
/* Once stopping: when an exchange in flight must give up (monotonic ms). */
static _Atomic int64_t g_cut_at_ms = INT64_MAX;

static struct {
    atomic_uint_fast64_t captured, sent, failed, dropped_full, dropped_rate, dropped_shutdown,
        crashes;
} stats;

static _Thread_local sentry_scope_t t_scope;
/* The sender's own lines (it logs its failures) are never reported. */
static _Thread_local bool t_sender;

int64_t sentry_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* copy_cut - at most max bytes of src (n of them, NUL or not) into dst[max
 * + 1]; a cut in the middle of a UTF-8 sequence becomes U+FFFD later. */
static size_t copy_cut(char *dst, const char *src, size_t n, size_t max)
{
    if (!src)
        n = 0;
    if (n > max)
        n = max;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

static void scope_set(char *field, const char *v)
{
    copy_cut(field, v, v ? strnlen(v, SENTRY_IDENT_MAX + 1) : 0, SENTRY_IDENT_MAX);
}

void sentry_scope_request(const char *request_id)
{
    scope_set(t_scope.request_id, request_id);
}

void sentry_scope_command(const char *command)
{
    scope_set(t_scope.command, command);
}

void sentry_scope_organization(const char *organization_id)
{
    scope_set(t_scope.organization, organization_id);
}

void sentry_scope_clear(void)
{
    t_scope.request_id[0] = t_scope.command[0] = t_scope.organization[0] = '\0';
}

const sentry_scope_t *sentry_scope_of_thread(void)
{
    return &t_scope;
}

bool sentry_in_sender_thread(void)
{
    return t_sender;
}

bool sentry_enabled(void)
{
    return atomic_load(&g_on);
}

void sentry_stats(sentry_stats_t *out)
{
    out->captured = atomic_load(&stats.captured);
    out->sent = atomic_load(&stats.sent);
    out->failed = atomic_load(&stats.failed);
    out->dropped_full = atomic_load(&stats.dropped_full);
    out->dropped_rate = atomic_load(&stats.dropped_rate);
    out->dropped_shutdown = atomic_load(&stats.dropped_shutdown);
    out->crashes = atomic_load(&stats.crashes);
}

static void wake(void)
{
    uint64_t one = 1;
    ssize_t w = write(g.wake_fd, &one, sizeof one);
    (void)w; /* a counter near overflow is already a wake-up */
}

/* take_token - the bucket, refilled for the time elapsed; under g.mu. */
static bool take_token(int64_t now)
{
    if (g.refill_ms > 0 && now > g.refill_at_ms) {
        g.tokens += (double)(now - g.refill_at_ms) / (double)g.refill_ms;
        if (g.tokens > g.burst)
            g.tokens = g.burst;
    }
    g.refill_at_ms = now;
    if (g.tokens < 1.0)
        return false;
    g.tokens -= 1.0;
    return true;
}

void sentry_capture(cfg_log_level level, const char *msg, size_t len, const char *ctx)
{
    if (level < CFG_LOG_ERROR || !atomic_load(&g_on) || t_sender)
        return;
    int64_t now = sentry_mono_ms();
    pthread_mutex_lock(&g.mu);
    /* after a fork, this process has no sender thread */
    if (!g.running || getpid() != g.pid) {
        pthread_mutex_unlock(&g.mu);
        return;
    }
    if (now < g.server_wait_until_ms) {
        atomic_fetch_add(&stats.dropped_rate, 1);
        pthread_mutex_unlock(&g.mu);
        return;
    }
    if (g.n == g.max) {
        atomic_fetch_add(&stats.dropped_full, 1);
        pthread_mutex_unlock(&g.mu);
        return;
    }
    if (!take_token(now)) {
        atomic_fetch_add(&stats.dropped_rate, 1);
        pthread_mutex_unlock(&g.mu);
        return;
    }
    sentry_event_t *ev = &g.q[(g.head + g.n) % g.max];
    ev->level = level;
    ev->ts_us = real_us();
    ev->signal = 0;
    if (copy_cut(ev->msg, msg, len, SENTRY_MSG_MAX) < len)
        strcat(ev->msg, LOG_TRUNCATED_MARK);
    copy_cut(ev->context, ctx, ctx ? strnlen(ctx, SENTRY_IDENT_MAX + 1) : 0, SENTRY_IDENT_MAX);
    ev->scope = t_scope;
    g.n++;
    atomic_fetch_add(&stats.captured, 1);
    pthread_mutex_unlock(&g.mu);
    wake();
}

/* The log hook: every line at ERROR and above. */
static void on_log_line(cfg_log_level level, const char *msg, size_t len, const char *ctx)
{
    sentry_capture(level, msg, len, ctx);
}

/* ---- the sender thread ---------------------------------------------------- */

/* send_one - build and post ev within timeout_ms; counts the outcome. */
static void send_one(const sentry_event_t *ev, long timeout_ms, bool crash)
{
    unsigned char raw[16];
    char id[33], err[256];
    static const char hex[] = "0123456789abcdef";
    if (!crypto_random(raw, sizeof raw))
        memset(raw, 0, sizeof raw); /* an id is no secret; a report beats none */
    for (size_t i = 0; i < sizeof raw; i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[32] = '\0';

    size_t len = 0;
    char *body = sentry_envelope(ev, &g.ident, id, &len);
    long retry_after = 0;
    sentry_cut_t cut = {.crash = crash ? NULL : &sentry_crash_pending, .at_ms = &g_cut_at_ms};
    sentry_post_result r =
        sentry_post(&g.dsn, body, len, timeout_ms, &cut, &retry_after, err, sizeof err);
    free(body);
    switch (r) {
    case SENTRY_POST_OK:
        atomic_fetch_add(crash ? &stats.crashes : &stats.sent, 1);
        return;
    case SENTRY_POST_LIMITED:
        atomic_fetch_add(&stats.dropped_rate, 1);
        if (retry_after > SENTRY_SERVER_WAIT_MAX_S)
            retry_after = SENTRY_SERVER_WAIT_MAX_S;
        pthread_mutex_lock(&g.mu);
        g.server_wait_until_ms = sentry_mono_ms() + retry_after * 1000;
        pthread_mutex_unlock(&g.mu);
        log_warning("sentry: %s asks to wait %ld s (%s); errors meanwhile are not reported",
                    g.dsn.host, retry_after, err);
        return;
    case SENTRY_POST_FAILED:
        break;
    }
    uint64_t n = atomic_fetch_add(&stats.failed, 1);
    if (n % SENTRY_FAIL_LOG_EVERY == 0)
        log_warning("sentry: cannot report an error to %s: %s (%llu failure%s so far)", g.dsn.host,
                    err, (unsigned long long)n + 1, n ? "s" : "");
}

/* on_crash - a handler wrote its byte: report the record, answer. */
static void on_crash(void)
{
    char b;
    while (read(g.crash[0], &b, 1) < 0 && errno == EINTR)
        ;
    /* leave the handler time to see our answer */
    long budget = g.crash_wait_ms - 500;
    send_one(&sentry_crash_record, budget < 100 ? 100 : budget, true);
    ssize_t w = write(g.ack[1], "a", 1);
    (void)w;
}

/* pop - the oldest queued event into *out; false when none.  Under no lock. */
static bool pop(sentry_event_t *out, bool *stopping, int64_t *deadline)
{
    pthread_mutex_lock(&g.mu);
    bool got = g.n > 0;
    if (got) {
        *out = g.q[g.head];
        g.head = (g.head + 1) % g.max;
        g.n--;
    }
    *stopping = g.stopping;
    *deadline = g.deadline_ms;
    pthread_mutex_unlock(&g.mu);
    return got;
}

static void *sender_thread(void *arg)
{
    (void)arg;
    t_sender = true;
    sentry_event_t *ev = xmalloc(sizeof *ev);
    for (;;) {
        struct pollfd p[2] = {{.fd = g.wake_fd, .events = POLLIN},
                              {.fd = g.crash[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            on_crash();
            continue;
        }
        uint64_t count;
        ssize_t r = read(g.wake_fd, &count, sizeof count);
        (void)r;

        bool stopping = false;
        int64_t deadline = 0;
        while (pop(ev, &stopping, &deadline)) {
            long timeout = g.timeout_ms;
            if (stopping) {
                int64_t left = deadline - sentry_mono_ms();
                if (left <= 0) {
                    atomic_fetch_add(&stats.dropped_shutdown, 1);
                    continue;
                }
                if (left < timeout)
                    timeout = (long)left;
            }
            send_one(ev, timeout, false);
            if (sentry_crash_pending)
                break; /* the crash pipe first */
        }
        if (stopping && !sentry_crash_pending)
            break;
    }
    free(ev);
    return NULL;
}

/* ---- start and stop ----------------------------------------------------------- */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void release_all(void)
{
    sentry_dsn_free(&g.dsn);
    free(g.program);
    free(g.environment);
    free(g.release);
    free(g.server_name);
    g.program = g.environment = g.release = g.server_name = NULL;
    close_fd(&g.wake_fd);
    for (int i = 0; i < 2; i++) {
        close_fd(&g.crash[i]);
        close_fd(&g.ack[i]);
    }
}

static void stop_at_exit(void)
{
    if (atomic_load(&g_on) && getpid() == g.pid)
        sentry_stop(g.flush_ms);
}

static pthread_once_t g_atexit_once = PTHREAD_ONCE_INIT;
static void register_atexit(void)
{
    atexit(stop_at_exit);
}

bool sentry_start_conf(const sentry_conf_t *conf, char *err, size_t errlen)
{
    if (atomic_load(&g_on)) {
        snprintf(err, errlen, "already started");
        return false;
    }
    if (!sentry_dsn_parse(conf->dsn, &g.dsn, err, errlen))
        return false;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed");
        sentry_dsn_free(&g.dsn);
        return false;
    }
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    g.program = xstrdup(conf->program && *conf->program ? conf->program : "parsec");
    g.environment =
        xstrdup(conf->environment && *conf->environment ? conf->environment : "production");
    g.release = xstrdup("parsec-server@" PARSEC_VERSION);
    g.server_name = xstrdup(host);
    g.pid = getpid();
    g.ident = (sentry_ident_t){.program = g.program,
                               .environment = g.environment,
                               .release = g.release,
                               .server_name = g.server_name,
                               .pid = (int)g.pid};
    g.max =
        conf->queue_max && conf->queue_max < SENTRY_QUEUE_MAX ? conf->queue_max : SENTRY_QUEUE_MAX;
    g.burst = conf->burst > 0 ? conf->burst : SENTRY_RATE_BURST;
    g.refill_ms = conf->refill_ms > 0 ? conf->refill_ms : SENTRY_RATE_REFILL_MS;
    g.timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : SENTRY_TIMEOUT_MS;
    g.flush_ms = conf->flush_ms > 0 ? conf->flush_ms : SENTRY_FLUSH_MS;
    g.crash_wait_ms = SENTRY_CRASH_WAIT_MS;
    g.crash_handler = !conf->no_crash_handler;
    g.head = g.n = 0;
    g.tokens = g.burst;
    g.refill_at_ms = sentry_mono_ms();
    g.server_wait_until_ms = 0;
    g.stopping = false;
    atomic_store(&g_cut_at_ms, INT64_MAX);
    sentry_crash_pending = 0;

    g.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g.wake_fd < 0 || pipe2(g.crash, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pipe2(g.ack, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot create the sender's descriptors: %s", strerror(errno));
        goto fail;
    }
    g.running = true;
    /* The sender never takes a process signal (SIGTERM, SIGHUP...): those
     * belong to the threads that wait for them.  Blocked before it exists,
     * so there is no window; the fatal signals are synchronous and still
     * reach it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&g.tid, NULL, sender_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the sender thread");
        g.running = false;
        goto fail;
    }
    atomic_store(&g_on, true);
    log_set_hook(on_log_line);
    if (g.crash_handler && !sentry_crash_install(g.crash[1], g.ack[0], g.crash_wait_ms))
        log_warning("sentry: crashes will not be reported: %s", strerror(errno));
    pthread_once(&g_atexit_once, register_atexit);
    return true;

fail:
    release_all();
    curl_global_cleanup();
    return false;
}

bool sentry_start(const cfg_t *cfg, const char *program)
{
    char err[256];
    if (!cfg->sentry_dsn || !*cfg->sentry_dsn)
        return true;
    sentry_conf_t conf = {
        .dsn = cfg->sentry_dsn, .environment = cfg->sentry_environment, .program = program};
    if (!sentry_start_conf(&conf, err, sizeof err)) {
        log_warning("sentry: errors will not be reported: %s", err);
        return false;
    }
    log_info("sentry: reporting errors to %s, project %s, environment %s", g.dsn.host,
             g.dsn.project, g.environment);
    return true;
}

void sentry_stop(long flush_ms)
{
    if (!atomic_load(&g_on) || getpid() != g.pid)
        return;
    atomic_store(&g_on, false);
    log_set_hook(NULL);
    if (g.crash_handler)
        sentry_crash_uninstall();
    pthread_mutex_lock(&g.mu);
    g.running = false;
    g.stopping = true;
    g.deadline_ms = sentry_mono_ms() + (flush_ms > 0 ? flush_ms : 0);
    atomic_store(&g_cut_at_ms, g.deadline_ms);
    pthread_mutex_unlock(&g.mu);
    wake();
    pthread_join(g.tid, NULL);
    /* what the sender could not reach before its deadline */
    pthread_mutex_lock(&g.mu);
    atomic_fetch_add(&stats.dropped_shutdown, g.n);
    g.n = 0;
    pthread_mutex_unlock(&g.mu);
    release_all();
    curl_global_cleanup();
}
