/*
 * tests/integration/test_front.c - the FastCGI worker through real web servers
 *
 * Every test that goes through a web server runs once per server: lighttpd
 * (mod_fastcgi spawning the worker), Apache + mod_fcgid, nginx + spawn-fcgi,
 * each configured from the templates shipped in etc/ (tests/lib/websrv.h).
 * The "direct" tests speak FastCGI to a standalone worker (--fcgi-socket)
 * to send what no web server would forward: a body shorter than its
 * CONTENT_LENGTH, a malformed length, a peer that vanishes mid-request.
 */
#include "migrate.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIND           ((websrv_kind)_i)
#define UNREACHABLE_DB "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
#define BACKEND_ADDR   "parsec://example.com:6777?no_ssl=true"

extern char **environ;

/* ---- helpers ---- */

typedef struct {
    websrv_t *w;
    char *db;
} env_t;

static void start(env_t *e, websrv_kind kind, const char *mount, const char *const *extra)
{
    const char *env[8] = {NULL};
    int n = 0;
    e->db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", e->db);
    env[n++] = dbv;
    env[n++] = "PARSEC_DB_MIN_CONNECTIONS=1";
    env[n++] = "PARSEC_DB_MAX_CONNECTIONS=3";
    for (const char *const *x = extra; x && *x && n < 7; x++)
        env[n++] = *x;
    e->w = websrv_start(kind, env, mount);
    free(dbv);
    ck_assert_msg(e->w != NULL, "%s did not start", websrv_kind_name(kind));
}

static void stop(env_t *e)
{
    bool clean = websrv_stop(e->w);
    testenv_db_drop(e->db);
    free(e->db);
    ck_assert_msg(clean, "the web server or its workers did not stop cleanly");
}

static http_result_t *req(env_t *e, const char *method, const char *path,
                          const char *const *headers, const void *body, size_t len)
{
    char *url = websrv_urlf(e->w, path);
    http_result_t *r = testhttp_request(method, url, headers, body, len);
    free(url);
    ck_assert_msg(r->status != 0, "%s %s: %s", method, path, r->error);
    return r;
}

/* Status of one request, the result freed. */
static long status_of(env_t *e, const char *method, const char *path)
{
    http_result_t *r = req(e, method, path, NULL, NULL, 0);
    long s = r->status;
    testhttp_free(r);
    return s;
}

static void assert_header(const http_result_t *r, const char *name, const char *want)
{
    char *v = testhttp_header(r, name);
    ck_assert_msg(v && strcmp(v, want) == 0, "%s: got '%s', expected '%s'", name, v ? v : "(none)",
                  want);
    free(v);
}

/* The worker answered (not the web server on its behalf). */
static bool from_worker(const http_result_t *r)
{
    char *id = testhttp_header(r, "X-Request-Id");
    bool yes = id && strlen(id) == 16;
    free(id);
    return yes;
}

static void assert_worker_alive(env_t *e)
{
    http_result_t *r = req(e, "GET", "/", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    ck_assert(from_worker(r));
    testhttp_free(r);
}

/* ---- pages, HEAD, 404, 405, health ---- */

START_TEST(pages)
{
    env_t e;
    const char *extra[] = {"PARSEC_BACKEND_ADDR=" BACKEND_ADDR, NULL};
    start(&e, KIND, NULL, extra);

    http_result_t *r = req(&e, "GET", "/", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    assert_header(r, "Content-Type", "text/html; charset=utf-8");
    char *cl = xasprintf("%zu", r->body_len);
    assert_header(r, "Content-Length", cl);
    ck_assert_ptr_nonnull(strstr((char *)r->body, "Parsec server is running"));
    ck_assert_ptr_nonnull(strstr((char *)r->body, PARSEC_VERSION));
    /* Apache always writes its own Server header for CGI-style responses */
    if (KIND != WEBSRV_APACHE)
        assert_header(r, "Server", "parsec");
    testhttp_free(r);

    r = req(&e, "HEAD", "/", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    assert_header(r, "Content-Length", cl);
    ck_assert_uint_eq(r->body_len, 0);
    testhttp_free(r);
    free(cl);

    r = req(&e, "GET", "/dummy", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 404);
    assert_header(r, "Content-Type", "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr((char *)r->body, "Not found"));
    ck_assert(from_worker(r));
    testhttp_free(r);

    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        r = req(&e, methods[i], "/health", NULL, "{}", 2);
        ck_assert_msg(r->status == 405, "%s /health: %ld", methods[i], r->status);
        assert_header(r, "Allow", "GET, HEAD");
        testhttp_free(r);
    }

    r = req(&e, "GET", "/health", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    assert_header(r, "Content-Type", "application/json");
    ck_assert_str_eq((char *)r->body, "{\"status\":\"ok\",\"database\":\"ok\"}");
    testhttp_free(r);

    r = req(&e, "GET", "/static/base.css", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    assert_header(r, "Content-Type", "text/css; charset=utf-8");
    testhttp_free(r);

    r = req(&e, "GET", "/redirect/foo/bar?a=1&b=2&no_ssl=false", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 302);
    assert_header(r, "Location", "parsec://example.com:6777/foo/bar?a=1&b=2&no_ssl=true");
    testhttp_free(r);

    /* no --forward-proto-enforce-https: the header changes nothing */
    const char *fwd[] = {"X-Forwarded-Proto: http", NULL};
    r = req(&e, "GET", "/", fwd, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    testhttp_free(r);
    stop(&e);
}
END_TEST

/* ---- mounted under a prefix ---- */

START_TEST(mounted_under_prefix)
{
    env_t e;
    start(&e, KIND, "/parsec", NULL);
    http_result_t *r = req(&e, "GET", "/", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    ck_assert_ptr_nonnull(strstr((char *)r->body, "href=\"/parsec/static/base.css\""));
    testhttp_free(r);
    ck_assert_int_eq(status_of(&e, "GET", "/static/base.css"), 200);
    ck_assert_int_eq(status_of(&e, "GET", "/health"), 200);
    ck_assert_int_eq(status_of(&e, "GET", "/dummy"), 404);
    ck_assert_int_eq(status_of(&e, "POST", "/health"), 405);
    ck_assert_int_eq(status_of(&e, "GET", "/redirect/x"), 501);

    /* outside the mount point the web server answers, not us */
    char *url = xasprintf("http://127.0.0.1:%d/health", websrv_port(e.w));
    r = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 404);
    ck_assert(!from_worker(r));
    testhttp_free(r);
    free(url);
    url = xasprintf("http://127.0.0.1:%d/parsecfoo/health", websrv_port(e.w));
    r = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 404);
    ck_assert(!from_worker(r));
    testhttp_free(r);
    free(url);
    stop(&e);
}
END_TEST

/* ---- hostile paths ---- */

START_TEST(path_tricks)
{
    env_t e;
    start(&e, KIND, NULL, NULL);
    const char *not_found[] = {"/a%2Fb",
                               "/static%2Fbase.css",
                               "/static/../static/base.css",
                               "/static/./base.css",
                               "/static/%2e%2e/x",
                               "/redirect/a/../b",
                               "/health/",
                               "//health"};
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        http_result_t *r = req(&e, "GET", not_found[i], NULL, NULL, 0);
        ck_assert_msg(r->status == 404, "%s %s: %ld", websrv_kind_name(KIND), not_found[i],
                      r->status);
        testhttp_free(r);
    }
    /* malformed, or escaping the root: refused with 400 by the worker or the
     * web server before it, or with the worker's 404 */
    const char *bad[] = {"/a%00b", "/a%zz", "/%C0%AF", "/a%0Ab", "/%2e%2e/%2e%2e/etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_result_t *r = req(&e, "GET", bad[i], NULL, NULL, 0);
        ck_assert_msg(r->status == 400 || r->status == 404, "%s %s: %ld", websrv_kind_name(KIND),
                      bad[i], r->status);
        testhttp_free(r);
    }
    assert_worker_alive(&e);
    stop(&e);
}
END_TEST

/* ---- bodies: limit, truncation, clients that go away ---- */

START_TEST(body_limits)
{
    env_t e;
    start(&e, KIND, NULL, NULL);
    size_t max = 1048576;
    unsigned char *big = xmalloc(max + 1);
    memset(big, 'x', max + 1);

    /* at the limit: read, then routed (405: /health takes no POST) */
    http_result_t *r = req(&e, "POST", "/health", NULL, big, max);
    ck_assert_int_eq(r->status, 405);
    testhttp_free(r);
    /* one byte above: 413 from the worker itself, without reading */
    r = req(&e, "POST", "/health", NULL, big, max + 1);
    ck_assert_int_eq(r->status, 413);
    ck_assert(from_worker(r));
    assert_header(r, "Content-Type", "text/html; charset=utf-8");
    testhttp_free(r);
    r = req(&e, "POST", "/administration/organizations", NULL, big, max + 1);
    ck_assert_int_eq(r->status, 413);
    testhttp_free(r);
    free(big);
    assert_worker_alive(&e);
    stop(&e);
}
END_TEST

START_TEST(body_limit_is_a_setting)
{
    env_t e;
    const char *extra[] = {"PARSEC_MAX_REQUEST_SIZE=4096", NULL};
    start(&e, KIND, NULL, extra);
    char body[5000];
    memset(body, 'x', sizeof body);
    http_result_t *r = req(&e, "POST", "/health", NULL, body, 4096);
    ck_assert_int_eq(r->status, 405);
    testhttp_free(r);
    r = req(&e, "POST", "/health", NULL, body, 4097);
    ck_assert_int_eq(r->status, 413);
    ck_assert(from_worker(r));
    testhttp_free(r);
    stop(&e);
}
END_TEST

START_TEST(truncated_and_vanishing_clients)
{
    env_t e;
    start(&e, KIND, NULL, NULL);
    int port = websrv_port(e.w);

    /* fewer bytes than Content-Length, then the client stops sending */
    const char *trunc = "POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
                        "Connection: close\r\n\r\nabc";
    size_t len;
    char *ans = testhttp_raw(port, trunc, strlen(trunc), true, true, 10000, &len);
    ck_assert_ptr_nonnull(ans);
    /* the web server gives up on it (an error or a closed connection), the
     * worker never sees a request it cannot finish */
    ck_assert(len == 0 || strncmp(ans, "HTTP/1.1 4", 10) == 0 ||
              strncmp(ans, "HTTP/1.1 5", 10) == 0);
    free(ans);
    assert_worker_alive(&e);

    /* a Content-Length shorter than the body: the rest is a bad next request */
    const char *lying = "POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\n"
                        "abcdefgh\r\n\r\n";
    /* no half-close here: nginx takes it for a client gone and drops the
     * request; each server answers the first request, then refuses the
     * rest as a malformed request and closes */
    ans = testhttp_raw(port, lying, strlen(lying), false, true, 10000, &len);
    ck_assert_ptr_nonnull(ans);
    ck_assert_msg(strncmp(ans, "HTTP/1.1 405", 12) == 0, "%s", ans);
    free(ans);
    assert_worker_alive(&e);

    /* clients that disconnect before the answer, with and without a body */
    for (int i = 0; i < 10; i++) {
        const char *get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        free(testhttp_raw(port, get, strlen(get), false, false, 0, NULL));
        char *post = xasprintf("POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Length: 100000\r\n\r\n%0*d",
                               5000, 0);
        free(testhttp_raw(port, post, strlen(post), false, false, 0, NULL));
        free(post);
    }
    assert_worker_alive(&e);
    http_result_t *r = req(&e, "GET", "/health", NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    testhttp_free(r);
    stop(&e);
}
END_TEST

/* ---- redirect without backend-addr, forward-proto enforcement ---- */

START_TEST(forward_proto_and_501)
{
    env_t e;
    const char *extra[] = {"PARSEC_FORWARD_PROTO_ENFORCE_HTTPS=X-Forwarded-Proto:https", NULL};
    start(&e, KIND, NULL, extra);
    const char *h_http[] = {"X-Forwarded-Proto: http", NULL};
    const char *h_https[] = {"X-Forwarded-Proto: https", NULL};
    const char *h_upper[] = {"x-forwarded-proto: HTTPS", NULL};

    http_result_t *r = req(&e, "GET", "/test?a=1", h_http, NULL, 0);
    ck_assert_int_eq(r->status, 301);
    char *want = xasprintf("https://127.0.0.1:%d/test?a=1", websrv_port(e.w));
    assert_header(r, "Location", want);
    free(want);
    testhttp_free(r);
    r = req(&e, "GET", "/test", h_upper, NULL, 0);
    ck_assert_int_eq(r->status, 301);
    testhttp_free(r);
    r = req(&e, "GET", "/test", h_https, NULL, 0);
    ck_assert_int_eq(r->status, 404);
    testhttp_free(r);
    r = req(&e, "GET", "/", h_https, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    testhttp_free(r);
    ck_assert_int_eq(status_of(&e, "GET", "/"), 200); /* header absent */

    r = req(&e, "GET", "/redirect/foo", h_https, NULL, 0);
    ck_assert_int_eq(r->status, 501);
    assert_header(r, "Content-Type", "text/html; charset=utf-8");
    testhttp_free(r);
    stop(&e);
}
END_TEST

/* ---- health with the database out of reach ---- */

START_TEST(health_503_without_database)
{
    const char *env[] = {"PARSEC_DB=" UNREACHABLE_DB, "PARSEC_DB_MIN_CONNECTIONS=1",
                         "PARSEC_DB_MAX_CONNECTIONS=2", NULL};
    websrv_t *w = websrv_start(KIND, env, NULL);
    ck_assert_msg(w != NULL, "%s did not start", websrv_kind_name(KIND));
    char *url = websrv_urlf(w, "/health");
    http_result_t *r = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 503);
    ck_assert_str_eq((char *)r->body, "{\"status\":\"error\",\"database\":\"unreachable\"}");
    char *retry = testhttp_header(r, "Retry-After"); /* through every web server */
    ck_assert_msg(retry && !strcmp(retry, "5"), "Retry-After: %s", retry ? retry : "(none)");
    free(retry);
    testhttp_free(r);
    free(url);
    url = websrv_urlf(w, "/");
    r = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200); /* pages still work */
    testhttp_free(r);
    free(url);
    ck_assert(websrv_stop(w));
}
END_TEST

/* ---- direct FastCGI, standalone worker ---- */

enum {
    FCGI_BEGIN = 1,
    FCGI_ABORT = 2,
    FCGI_END = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6
};

static void record(strbuf_t *b, int type, const void *content, size_t len)
{
    unsigned char h[8] = {
        1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)(len & 0xff), 0, 0};
    strbuf_append(b, h, 8);
    strbuf_append(b, content, len);
}

static void nv_len(strbuf_t *b, size_t n)
{
    if (n < 128) {
        unsigned char c = (unsigned char)n;
        strbuf_append(b, &c, 1);
    } else {
        unsigned char c[4] = {(unsigned char)((n >> 24) | 0x80), (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8), (unsigned char)n};
        strbuf_append(b, c, 4);
    }
}

/* BEGIN_REQUEST + PARAMS ("NAME=value" strings) + their end. */
static void begin(strbuf_t *b, const char *const *params)
{
    unsigned char body[8] = {0, 1 /* responder */, 0, 0, 0, 0, 0, 0};
    record(b, FCGI_BEGIN, body, 8);
    strbuf_t nv = STRBUF_INIT;
    for (const char *const *p = params; *p; p++) {
        const char *eq = strchr(*p, '=');
        nv_len(&nv, (size_t)(eq - *p));
        nv_len(&nv, strlen(eq + 1));
        strbuf_append(&nv, *p, (size_t)(eq - *p));
        strbuf_append(&nv, eq + 1, strlen(eq + 1));
    }
    record(b, FCGI_PARAMS, nv.s, nv.len);
    record(b, FCGI_PARAMS, NULL, 0);
    strbuf_free(&nv);
}

static void stdin_data(strbuf_t *b, const void *data, size_t len, bool end)
{
    const unsigned char *d = data;
    for (size_t off = 0; off < len; off += 32768)
        record(b, FCGI_STDIN, d + off, len - off < 32768 ? len - off : 32768);
    if (end)
        record(b, FCGI_STDIN, NULL, 0);
}

static int fcgi_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static bool read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 20000) <= 0)
            return false;
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Send the records, read STDOUT until END_REQUEST; malloc'd, NUL-ended, or
 * NULL when the worker closed without ending the request. */
static char *exchange(const char *sock, const strbuf_t *b)
{
    int fd = fcgi_connect(sock);
    ck_assert_int_ge(fd, 0);
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = send(fd, b->s + off, b->len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    strbuf_t out = STRBUF_INIT;
    bool ended = false;
    for (;;) {
        unsigned char h[8];
        if (!read_full(fd, h, 8))
            break;
        size_t clen = (size_t)h[4] << 8 | h[5], plen = h[6];
        unsigned char *c = xmalloc(clen + plen + 1);
        bool ok = read_full(fd, c, clen + plen);
        if (ok && h[1] == FCGI_STDOUT)
            strbuf_append(&out, c, clen);
        free(c);
        if (!ok)
            break;
        if (h[1] == FCGI_END) {
            ended = true;
            break;
        }
    }
    close(fd);
    if (!ended) {
        strbuf_free(&out);
        return NULL;
    }
    return strbuf_detach(&out);
}

static pid_t start_worker(const char *sock, const char *db, const char *const *args,
                          const char *errlog)
{
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    const char *env[8] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", dbv};
    int n = 2;
    const char *pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "PARSEC_TEST_RUN_ID"};
    char *kept[3] = {NULL};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(pass[i]);
        if (v)
            env[n++] = kept[i] = xasprintf("%s=%s", pass[i], v);
    }
    const char *argv[16] = {websrv_fcgi_bin()};
    int a = 1;
    if (sock) {
        argv[a++] = "--fcgi-socket";
        argv[a++] = sock;
    }
    for (const char *const *x = args; x && *x && a < 15; x++)
        argv[a++] = *x;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        int devnull = open("/dev/null", O_RDONLY);
        int log = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (devnull < 0 || log < 0 || dup2(devnull, 0) < 0 || dup2(log, 2) < 0)
            _exit(126);
        execve(argv[0], (char **)argv, (char **)env);
        _exit(127);
    }
    free(dbv);
    for (int i = 0; i < 3; i++)
        free(kept[i]);
    return pid;
}

static int wait_status(pid_t pid, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static char *tmp_path(const char *name)
{
    const char *t = getenv("PARSEC_TEST_TMP");
    if (!t || !*t)
        t = getenv("TMPDIR");
    return xasprintf("%s/front-%d-%s", t && *t ? t : "/tmp", (int)getpid(), name);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return xstrdup("");
    char *s = xcalloc(1, 65536);
    size_t n = fread(s, 1, 65535, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

START_TEST(direct_fastcgi_hostile_requests)
{
    char *db = testenv_db_create();
    char *sock = tmp_path("w.sock"), *log = tmp_path("w.log");
    pid_t pid = start_worker(sock, db, NULL, log);
    int fd = -1;
    for (int t = 0; t < 1000 && fd < 0; t++) {
        fd = fcgi_connect(sock);
        if (fd < 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(fd >= 0, "the worker did not listen on %s", sock);
    close(fd); /* a peer that connects and says nothing */

    /* a body shorter than CONTENT_LENGTH: 400, no handler called */
    strbuf_t b = STRBUF_INIT;
    const char *p1[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/health", "CONTENT_LENGTH=100", NULL};
    begin(&b, p1);
    stdin_data(&b, "abc", 3, true);
    char *out = exchange(sock, &b);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 400 ", 12) == 0, "%s", out);
    free(out);
    strbuf_free(&b);

    /* malformed and oversized lengths */
    const char *lengths[][2] = {{"CONTENT_LENGTH=abc", "400"},
                                {"CONTENT_LENGTH=-1", "400"},
                                {"CONTENT_LENGTH= 3", "400"},
                                {"CONTENT_LENGTH=1048577", "413"},
                                {"CONTENT_LENGTH=99999999999999999999999", "413"}};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        memset(&b, 0, sizeof b);
        const char *p[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/health", lengths[i][0], NULL};
        begin(&b, p);
        stdin_data(&b, "abc", 3, true);
        out = exchange(sock, &b);
        ck_assert_ptr_nonnull(out);
        char *want = xasprintf("Status: %s ", lengths[i][1]);
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s: %s", lengths[i][0], out);
        free(want);
        free(out);
        strbuf_free(&b);
    }

    /* no CONTENT_LENGTH: the body is read to its end, within the limit */
    size_t big = 1048577;
    unsigned char *data = xcalloc(1, big);
    memset(&b, 0, sizeof b);
    const char *p2[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/health", NULL};
    begin(&b, p2);
    stdin_data(&b, data, big, true);
    out = exchange(sock, &b);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 413 ", 12) == 0, "%s", out);
    free(out);
    strbuf_free(&b);
    memset(&b, 0, sizeof b);
    begin(&b, p2);
    stdin_data(&b, data, 10, true);
    out = exchange(sock, &b);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 405 ", 12) == 0, "%s", out);
    free(out);
    strbuf_free(&b);
    free(data);

    /* a peer that vanishes mid-body, and one that aborts */
    for (int i = 0; i < 5; i++) {
        memset(&b, 0, sizeof b);
        begin(&b, p1);
        stdin_data(&b, "ab", 2, false);
        int c = fcgi_connect(sock);
        ck_assert_int_ge(c, 0);
        ck_assert(send(c, b.s, b.len, MSG_NOSIGNAL) == (ssize_t)b.len);
        close(c);
        strbuf_free(&b);
    }
    memset(&b, 0, sizeof b);
    begin(&b, p1);
    record(&b, FCGI_ABORT, NULL, 0);
    out = exchange(sock, &b);
    free(out); /* answered 400 or dropped: either way the worker goes on */
    strbuf_free(&b);

    /* still serving, HEAD included */
    memset(&b, 0, sizeof b);
    const char *p3[] = {"REQUEST_METHOD=HEAD", "REQUEST_URI=/", "CONTENT_LENGTH=0", NULL};
    begin(&b, p3);
    stdin_data(&b, NULL, 0, true);
    out = exchange(sock, &b);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 200 OK\r\n", 16) == 0, "%s", out);
    char *end = strstr(out, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_str_eq(end, "\r\n\r\n"); /* no body */
    free(out);
    strbuf_free(&b);

    /* SIGTERM: finish, free everything, exit 0, remove the socket */
    kill(pid, SIGTERM);
    int st = wait_status(pid, 20000);
    char *errs = read_text(log);
    ck_assert_msg(st == 0, "worker exit status %d; stderr:\n%s", st, errs);
    free(errs);
    struct stat sst;
    ck_assert_int_ne(stat(sock, &sst), 0);
    unlink(log);
    free(sock);
    free(log);
    testenv_db_drop(db);
    free(db);
}
END_TEST

/* One bodiless request; its CGI response (malloc'd) or NULL. */
static char *fcgi_simple(const char *sock, const char *method, const char *uri)
{
    strbuf_t b = STRBUF_INIT;
    char *m = xasprintf("REQUEST_METHOD=%s", method), *u = xasprintf("REQUEST_URI=%s", uri);
    const char *p[] = {m, u, NULL};
    begin(&b, p);
    stdin_data(&b, NULL, 0, true);
    char *out = exchange(sock, &b);
    strbuf_free(&b);
    free(m);
    free(u);
    return out;
}

static void wait_listening(const char *sock)
{
    int fd = -1;
    for (int t = 0; t < 1000 && fd < 0; t++) {
        fd = fcgi_connect(sock);
        if (fd < 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(fd >= 0, "the worker did not listen on %s", sock);
    close(fd);
}

START_TEST(direct_database_later_and_log_reopen)
{
    /* a database that exists but is not migrated yet: refused by the pool */
    char *db = testenv_db_create_empty();
    char *sock = tmp_path("l.sock"), *err = tmp_path("l.err"), *log = tmp_path("l.log");
    char *rotated = xasprintf("%s.1", log);
    const char *args[] = {"--pause-before-retry-database-connection",
                          "0.2",
                          "--log-file",
                          log,
                          "--log-level",
                          "INFO",
                          NULL};
    pid_t pid = start_worker(sock, db, args, err);
    wait_listening(sock);

    /* served meanwhile: pages yes, health 503 */
    char *out = fcgi_simple(sock, "GET", "/health");
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 503 ", 12) == 0, "%s", out);
    free(out);
    out = fcgi_simple(sock, "GET", "/");
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strncmp(out, "Status: 200 ", 12) == 0, "%s", out);
    free(out);

    /* migrated now: the background retry opens the pool */
    PGconn *pg = testenv_pg_connect(db);
    char merr[512];
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, NULL, merr, sizeof merr), MIGRATE_OK);
    PQfinish(pg);
    bool ok = false;
    for (int t = 0; t < 200 && !ok; t++) {
        out = fcgi_simple(sock, "GET", "/health");
        ok = out && strncmp(out, "Status: 200 ", 12) == 0;
        free(out);
        if (!ok) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(ok, "the worker never reached the database once it was migrated");

    /* SIGHUP reopens --log-file: logrotate moves it, the next line goes to
     * a new file */
    ck_assert_int_eq(rename(log, rotated), 0);
    kill(pid, SIGHUP);
    struct stat st;
    for (int t = 0; t < 200 && stat(log, &st) != 0; t++) {
        free(fcgi_simple(sock, "GET", "/static/base.css"));
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(stat(log, &st), 0);
    /* the file appears at the reopen, the access line with the next request */
    char *text = NULL;
    for (int t = 0; t < 100; t++) {
        free(fcgi_simple(sock, "GET", "/static/base.css"));
        free(text);
        text = read_text(log);
        if (strstr(text, "/static/base.css"))
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(strstr(text, "/static/base.css") != NULL, "new log: %s", text);
    free(text);
    text = read_text(rotated);
    ck_assert_msg(strstr(text, "GET /health") != NULL, "%s", text);
    /* it said why it answered 503: the schema, not reachability */
    ck_assert_msg(strstr(text, "database schema is behind this server") &&
                      strstr(text, "parsec backend migrate") &&
                      strstr(text, "answering 503 until the schema is this server's") &&
                      !strstr(text, "until the database is reachable"),
                  "%s", text);
    ck_assert_msg(strstr(text, "INFO parsec-fcgi") && strstr(text, "database ready after"), "%s",
                  text);
    free(text);

    kill(pid, SIGTERM);
    int status = wait_status(pid, 20000);
    text = read_text(err);
    ck_assert_msg(status == 0, "worker exit status %d; stderr:\n%s", status, text);
    free(text);
    unlink(log);
    unlink(rotated);
    unlink(err);
    free(sock);
    free(err);
    free(log);
    free(rotated);
    testenv_db_drop(db);
    free(db);
}
END_TEST

START_TEST(direct_refusals)
{
    char *log = tmp_path("r.log");
    char *sock = tmp_path("r.sock");
    /* --db MOCKED belongs to `parsec backend run`: one line, status 2 */
    const char *mocked[] = {"--db", "MOCKED", NULL};
    pid_t pid = start_worker(sock, "postgresql://x@127.0.0.1:1/x", mocked, log);
    ck_assert_int_eq(wait_status(pid, 20000), 2);
    char *err = read_text(log);
    ck_assert_ptr_nonnull(strstr(err, "MOCKED"));
    ck_assert_ptr_nonnull(strchr(err, '\n'));
    ck_assert_ptr_null(strchr(strchr(err, '\n') + 1, '\n'));
    free(err);

    /* without a socket: stdin must be the web server's listening socket */
    pid = start_worker(NULL, "postgresql://x@127.0.0.1:1/x", NULL, log);
    ck_assert_int_eq(wait_status(pid, 20000), 2);
    err = read_text(log);
    ck_assert_ptr_nonnull(strstr(err, "--fcgi-socket"));
    free(err);

    /* a path that is not a socket is never removed */
    FILE *f = fopen(sock, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    pid = start_worker(sock, "postgresql://x@127.0.0.1:1/x", NULL, log);
    ck_assert_int_eq(wait_status(pid, 20000), 1);
    struct stat st;
    ck_assert_int_eq(stat(sock, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    unlink(sock);
    unlink(log);
    free(sock);
    free(log);
}
END_TEST

TEST_SUITE(front)
{
    Suite *s = suite_create("front");
    if (!testenv_db_setup())
        fprintf(stderr, "front: no PostgreSQL; the tests will say why\n");

    TCase *web = tcase_create("web servers");
    tcase_set_timeout(web, 180);
    tcase_add_loop_test(web, pages, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, mounted_under_prefix, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, path_tricks, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, body_limits, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, body_limit_is_a_setting, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, truncated_and_vanishing_clients, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, forward_proto_and_501, 0, WEBSRV_KIND_COUNT);
    tcase_add_loop_test(web, health_503_without_database, 0, WEBSRV_KIND_COUNT);
    suite_add_tcase(s, web);

    TCase *direct = tcase_create("direct");
    tcase_set_timeout(direct, 120);
    tcase_add_test(direct, direct_fastcgi_hostile_requests);
    tcase_add_test(direct, direct_refusals);
    tcase_add_test(direct, direct_database_later_and_log_reopen);
    suite_add_tcase(s, direct);
    return s;
}
