/*
 * tests/lib/objsrv.c - real S3 and Swift servers through
 * tests/harness/objstore, and a misbehaving S3-shaped server (see
 * objsrv.h)
 */
#include "objsrv.h"

#include "crypto.h"
#include "xalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct objsrv {
    char dir[512];
    int port;
    int memcached_port;
    bool stopped;
};

static const char *script(void)
{
    static char path[1024];
    const char *src = getenv("PARSEC_TEST_SRC");
    snprintf(path, sizeof path, "%s/tests/harness/objstore", src && *src ? src : ".");
    return path;
}

/* run_script - objstore argv..., its stdout into out (malloc'd); exit status. */
static int run_script(char *const argv[], char **out)
{
    int fd[2];
    if (pipe(fd) != 0)
        ck_abort_msg("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0, cap = 256;
    char *buf = xmalloc(cap);
    ssize_t r;
    for (;;) {
        if (len + 1 >= cap)
            buf = xrealloc(buf, cap *= 2);
        r = read(fd[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static objsrv_t *start(const char *kind, const char *const *buckets)
{
    objsrv_t *s = xcalloc(1, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/objsrv.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir))
        ck_abort_msg("mkdtemp: %s", strerror(errno));
    char *argv[32];
    int a = 0;
    argv[a++] = (char *)script();
    argv[a++] = (char *)kind;
    argv[a++] = s->dir;
    for (size_t i = 0; buckets && buckets[i] && a < 30; i++)
        argv[a++] = (char *)buckets[i];
    argv[a] = NULL;
    char *out = NULL;
    int rc = run_script(argv, &out);
    const char *p = strstr(out, "PORT=");
    if (rc != 0 || !p) {
        free(out);
        ck_abort_msg("tests/harness/objstore %s failed (status %d)", kind, rc);
    }
    s->port = atoi(p + 5);
    const char *m = strstr(out, "MEMCACHED_PORT=");
    if (m)
        s->memcached_port = atoi(m + 15);
    free(out);
    return s;
}

objsrv_t *objsrv_s3rver_start(const char *const *buckets)
{
    return start("s3rver", buckets);
}

int objsrv_port(const objsrv_t *s)
{
    return s->port;
}

void objsrv_kill(objsrv_t *s)
{
    if (!s || s->stopped)
        return;
    char *argv[] = {(char *)script(), "stop", s->dir, NULL};
    char *out = NULL;
    run_script(argv, &out);
    free(out);
    s->stopped = true;
}

void objsrv_stop(objsrv_t *s)
{
    objsrv_kill(s);
    free(s);
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* The process-wide servers, stopped at exit by the process that started
 * them (Check's forked tests run atexit handlers too). */
static objsrv_t *g_shared[2];
static pid_t g_shared_owner[2];

static void shared_atexit(void)
{
    for (int i = 0; i < 2; i++)
        if (g_shared[i] && getpid() == g_shared_owner[i]) {
            objsrv_stop(g_shared[i]);
            g_shared[i] = NULL;
        }
}

static objsrv_t *shared(int i, const char *kind)
{
    static bool registered;
    if (!g_shared[i]) {
        g_shared[i] = start(kind, NULL);
        g_shared_owner[i] = getpid();
        if (!registered)
            atexit(shared_atexit);
        registered = true;
    }
    return g_shared[i];
}

objsrv_t *objsrv_s3rver(void)
{
    return shared(0, "s3rver");
}

objsrv_t *objsrv_swift(void)
{
    return shared(1, "swift");
}

/* ---- requests to set servers up ---- */

static size_t hdr_cb(char *p, size_t sz, size_t nm, void *ud)
{
    char **v = ud; /* [0] token, [1] storage url */
    size_t n = sz * nm;
    const char *names[2] = {"X-Auth-Token:", "X-Storage-Url:"};
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(names[i]);
        if (n > l && strncasecmp(p, names[i], l) == 0) {
            const char *s = p + l, *e = p + n;
            while (s < e && *s == ' ')
                s++;
            while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
                e--;
            free(v[i]);
            v[i] = xstrndup(s, (size_t)(e - s));
        }
    }
    return n;
}

static size_t discard(char *p, size_t sz, size_t nm, void *ud)
{
    (void)p;
    (void)ud;
    return sz * nm;
}

void objsrv_swift_token(const objsrv_t *s, char **token, char **storage_url)
{
    char url[128], *v[2] = {NULL, NULL};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "X-Auth-User: test:tester");
    h = curl_slist_append(h, "X-Auth-Key: testing");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/auth/v1.0", s->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, v);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    ck_assert_msg(rc == CURLE_OK && v[0] && v[1], "swift auth failed");
    *token = v[0];
    *storage_url = v[1];
}

/* put - PUT url (empty body) with headers; the status. */
static long put(const char *url, struct curl_slist *h, const char *sigv4, const char *user,
                const char *pass)
{
    long status = 0;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (sigv4) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

void objsrv_swift_container(const objsrv_t *s, const char *name)
{
    char *token, *storage, hdr[400], url[1024];
    objsrv_swift_token(s, &token, &storage);
    snprintf(hdr, sizeof hdr, "X-Auth-Token: %s", token);
    snprintf(url, sizeof url, "%s/%s", storage, name);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    long st = put(url, h, NULL, NULL, NULL);
    curl_slist_free_all(h);
    free(token);
    free(storage);
    ck_assert_msg(st == 201 || st == 202, "creating container %s: HTTP %ld", name, st);
}

void objsrv_s3_bucket(int port, const char *name, const char *key, const char *secret)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", port, name);
    struct curl_slist *h =
        curl_slist_append(NULL, "x-amz-content-sha256: "
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    long st = put(url, h, "aws:amz:us-east-1:s3", key, secret);
    curl_slist_free_all(h);
    ck_assert_msg(st == 200, "creating bucket %s: HTTP %ld", name, st);
}

void objsrv_swift_revoke_tokens(const objsrv_t *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)s->memcached_port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char reply[64] = "";
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        ck_abort_msg("memcached: %s", strerror(errno));
    write_all(fd, "flush_all\r\n", 11);
    ssize_t n = read(fd, reply, sizeof reply - 1);
    close(fd);
    ck_assert_msg(n > 0 && strncmp(reply, "OK", 2) == 0, "memcached flush_all failed");
}

/* ---- the misbehaving server ---- */

#define FAULT_CONNS 32

struct faultsrv {
    fault_mode mode;
    size_t object_size;
    int lfd, port;
    pthread_t thread;
    /* one thread per connection: clients keep theirs open */
    pthread_t conn_thread[FAULT_CONNS];
    int conn_fd[FAULT_CONNS];
    int nconns;
    atomic_bool stop;
    atomic_int requests;
};

/* read_request - one request's head and body from fd; false at EOF/error
 * or stop.  Sets *method ('G', 'H', 'P'...) and *is_object (a path with a
 * '/' after the bucket). */
static bool read_request(faultsrv_t *f, int fd, char *method, bool *is_object)
{
    char buf[8192];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (atomic_load(&f->stop))
            return false;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && len >= sizeof buf - 1)
            return false;
    }
    *method = buf[0];
    const char *path = strchr(buf, ' ');
    const char *sp = path ? strchr(path + 1, ' ') : NULL;
    *is_object = false;
    if (path && sp) {
        const char *slash = memchr(path + 2, '/', (size_t)(sp - path - 2));
        *is_object = slash && slash + 1 < sp;
    }
    size_t cl = 0;
    const char *h = strcasestr(buf, "\r\nContent-Length:");
    if (h)
        cl = strtoul(h + 17, NULL, 10);
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < cl) {
        char tmp[65536];
        size_t want = cl - have < sizeof tmp ? cl - have : sizeof tmp;
        ssize_t n = read(fd, tmp, want);
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    return true;
}

static void respond(int fd, const char *status, size_t content_length, size_t body_len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n\r\n", status,
                     content_length);
    write_all(fd, head, (size_t)n);
    char zero[4096] = {0};
    while (body_len) {
        size_t k = body_len < sizeof zero ? body_len : sizeof zero;
        write_all(fd, zero, k);
        body_len -= k;
    }
}

/* serve - one connection; false when it must be closed. */
static bool serve(faultsrv_t *f, int fd)
{
    char method;
    bool obj;
    if (!read_request(f, fd, &method, &obj))
        return false;
    if (!obj) {
        respond(fd, "200 OK", 0, 0);
        return true;
    }
    atomic_fetch_add(&f->requests, 1);
    size_t sz = f->object_size;
    switch (f->mode) {
    case FAULT_500:
        respond(fd, "500 Internal Server Error", 0, 0);
        return true;
    case FAULT_HANG:
        while (!atomic_load(&f->stop)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 100) > 0) {
                char c;
                if (read(fd, &c, 1) <= 0)
                    return false; /* the client gave up */
            }
        }
        return false;
    default:
        break;
    }
    if (method == 'P') {
        respond(fd, "200 OK", 0, 0);
        return true;
    }
    if (method == 'H') {
        respond(fd, "404 Not Found", 0, 0);
        return true;
    }
    if (f->mode == FAULT_CLOSE_MID) {
        respond(fd, "200 OK", sz, sz / 2);
        return false;
    }
    size_t n = f->mode == FAULT_SHORT ? sz - 1 : sz + 1;
    respond(fd, "200 OK", n, n);
    return true;
}

typedef struct {
    faultsrv_t *f;
    int fd;
} fault_conn_t;

static void *fault_conn(void *arg)
{
    fault_conn_t *c = arg;
    while (serve(c->f, c->fd))
        ;
    shutdown(c->fd, SHUT_RDWR);
    free(c);
    return NULL;
}

static void *fault_main(void *arg)
{
    faultsrv_t *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (f->nconns == FAULT_CONNS) {
            close(fd);
            continue;
        }
        fault_conn_t *c = xmalloc(sizeof *c);
        c->f = f;
        c->fd = fd;
        f->conn_fd[f->nconns] = fd;
        if (pthread_create(&f->conn_thread[f->nconns], NULL, fault_conn, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        f->nconns++;
    }
    for (int i = 0; i < f->nconns; i++) {
        pthread_join(f->conn_thread[i], NULL);
        close(f->conn_fd[i]);
    }
    return NULL;
}

faultsrv_t *faultsrv_start(fault_mode mode, size_t object_size)
{
    faultsrv_t *f = xcalloc(1, sizeof *f);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    f->mode = mode;
    f->object_size = object_size;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->lfd, 16) != 0 || getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0)
        ck_abort_msg("faultsrv: %s", strerror(errno));
    f->port = ntohs(a.sin_port);
    atomic_init(&f->stop, false);
    atomic_init(&f->requests, 0);
    if (pthread_create(&f->thread, NULL, fault_main, f) != 0)
        ck_abort_msg("faultsrv: pthread_create failed");
    return f;
}

int faultsrv_port(const faultsrv_t *f)
{
    return f->port;
}

int faultsrv_requests(faultsrv_t *f)
{
    return atomic_load(&f->requests);
}

void faultsrv_stop(faultsrv_t *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    free(f);
}
