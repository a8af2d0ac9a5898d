/*
 * tests/lib/websrv.c - real web servers in front of parsec-fcgi, for tests
 *
 * See websrv.h.  What this relies on, each seen on Debian 12:
 *   - lighttpd -D, Apache -DFOREGROUND and nginx "daemon off" stay in the
 *     foreground as our child, and stop cleanly on SIGTERM (their pid files
 *     and Apache's /dev/shm segment go with them);
 *   - lighttpd and mod_fcgid spawn workers inside the server's process
 *     group; spawn-fcgi -n execs the worker in its own place;
 *   - all three drop to an unprivileged user (www-data) when started as root,
 *     so the private directory is handed to that user.
 */
#include "websrv.h"

#include "strbuf.h"
#include "supervise.h"
#include "testenv.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The unprivileged user the servers and workers run as (when we are root). */
#define WEBSRV_USER     "www-data"
#define WEBSRV_START_MS 30000 /* a sanitizer build starts slowly */
#define WEBSRV_STOP_MS  20000 /* exit-time leak checks take a while too */
#define WEBSRV_TRIES    4     /* fresh ports after an "address in use" */

extern char **environ;

struct websrv {
    websrv_kind kind;
    char *rundir, *url, *mount, *marker, *pidfile;
    int port;
    pid_t server_pid; /* lighttpd, apache2 or nginx */
    pid_t fcgi_pid;   /* nginx: the worker spawn-fcgi -n became */
    char **shm;       /* /dev/shm files the server mapped */
    size_t nshm;
    pid_t watch_pid;  /* the watchdog (see start_watchdog) */
    int watch_fd;     /* its pipe: closing it, or dying, wakes it */
    int notifyd_port; /* @NOTIFYD_PORT@: where /ws is proxied */
};

/* ---- small helpers ---- */

/* read_file - the whole file, NUL-terminated (malloc'd), or NULL. */
static char *read_file(const char *path, size_t *len)
{
    strbuf_t b = STRBUF_INIT;
    if (!strbuf_read_file(&b, path)) {
        strbuf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return strbuf_detach(&b);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

const char *websrv_kind_name(websrv_kind kind)
{
    switch (kind) {
    case WEBSRV_LIGHTTPD:
        return "lighttpd";
    case WEBSRV_APACHE:
        return "apache";
    case WEBSRV_NGINX:
        return "nginx";
    case WEBSRV_NGINX_STANDALONE:
        return "nginx-standalone";
    default:
        return "?";
    }
}

const char *websrv_fcgi_bin(void)
{
    static char path[PATH_MAX];
    if (path[0])
        return path;
    const char *e = getenv("PARSEC_TEST_FCGI_BIN");
    if (e && *e) {
        snprintf(path, sizeof path, "%s", e);
    } else {
        char *p = testenv_build_path("parsec-fcgi");
        snprintf(path, sizeof path, "%s", p);
        free(p);
    }
    return path;
}

static const char *src_dir(void)
{
    const char *s = getenv("PARSEC_TEST_SRC");
    return s && *s ? s : PARSEC_DATA_DIR;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- environment handed to the workers ---- */

static bool env_entry_ok(const char *e)
{
    const char *eq = strchr(e, '=');
    if (!eq || eq == e)
        return false;
    for (const char *p = e; p < eq; p++)
        if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    /* the value goes into lighttpd and Apache strings: keep it plain */
    for (const char *p = eq + 1; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
            return false;
    return true;
}

static char *sanitizer_opt(const char *var, const char *dflt, const char *file)
{
    const char *dir = getenv("PARSEC_TEST_SANITIZER_DIR");
    const char *cur = getenv(var);
    if (cur && *cur && (strstr(cur, "log_path=") || !dir || !*dir))
        return xasprintf("%s=%s", var, cur);
    if (!dir || !*dir)
        return NULL;
    return xasprintf("%s=%s:log_path=%s/%s", var, cur && *cur ? cur : dflt, dir, file);
}

/* The given entries plus sanitizer options, the harness's run id and our
 * marker; NULL-terminated, malloc'd strings. */
static char **worker_env(const char *const *env, const char *marker, size_t *n)
{
    size_t cap = 8, k = 0;
    for (const char *const *e = env; e && *e; e++)
        cap++;
    char **out = xcalloc(cap + 1, sizeof *out);
    for (const char *const *e = env; e && *e; e++)
        out[k++] = xstrdup(*e);
    char *s;
    if ((s = sanitizer_opt("ASAN_OPTIONS", "detect_leaks=1", "asan")))
        out[k++] = s;
    if ((s = sanitizer_opt("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", "ubsan")))
        out[k++] = s;
    const char *run = getenv("PARSEC_TEST_RUN_ID");
    if (run && *run)
        out[k++] = xasprintf("PARSEC_TEST_RUN_ID=%s", run);
    out[k++] = xasprintf("PARSEC_TEST_WEBSRV=%s", marker);
    out[k] = NULL;
    *n = k;
    return out;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* ---- configuration from the shipped templates ---- */

typedef struct {
    const char *name, *value;
} subst_t;

/* Replace every @NAME@; an unknown placeholder is an error, so templates and
 * this file cannot drift apart silently. */
static char *render(const char *tmpl, const subst_t *subs, size_t nsubs, const char *what)
{
    strbuf_t b = STRBUF_INIT;
    const char *p = tmpl;
    while (*p) {
        const char *at = strchr(p, '@');
        if (!at) {
            strbuf_puts(&b, p);
            break;
        }
        strbuf_append(&b, p, (size_t)(at - p));
        size_t nl = strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
        if (nl == 0 || at[1 + nl] != '@') {
            strbuf_append(&b, "@", 1);
            p = at + 1;
            continue;
        }
        size_t i;
        for (i = 0; i < nsubs; i++)
            if (strlen(subs[i].name) == nl && memcmp(subs[i].name, at + 1, nl) == 0)
                break;
        if (i == nsubs) {
            fprintf(stderr, "websrv: %s: unknown placeholder @%.*s@\n", what, (int)nl, at + 1);
            strbuf_free(&b);
            return NULL;
        }
        strbuf_append(&b, subs[i].value, strlen(subs[i].value));
        p = at + nl + 2;
    }
    return strbuf_detach(&b);
}

static bool render_file(const char *tmpl_rel, const char *out_path, const subst_t *subs,
                        size_t nsubs)
{
    char *path = xasprintf("%s/etc/%s", src_dir(), tmpl_rel);
    char *tmpl = read_file(path, NULL);
    bool ok = false;
    if (!tmpl) {
        fprintf(stderr, "websrv: cannot read template %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    char *text = render(tmpl, subs, nsubs, path);
    if (!text)
        goto cleanup;
    ok = write_file(out_path, text);
    if (!ok)
        fprintf(stderr, "websrv: cannot write %s\n", out_path);
    free(text);
cleanup:
    free(tmpl);
    free(path);
    return ok;
}

/* The @ENV@ block: lighttpd's bin-environment entries or Apache's
 * FcgidInitialEnv lines. */
static char *env_block(websrv_kind kind, char **wenv)
{
    strbuf_t b = STRBUF_INIT;
    for (char **e = wenv; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (kind == WEBSRV_LIGHTTPD)
            strbuf_printf(&b, "%s\"%.*s\" => \"%s\",\n", e == wenv ? "" : "            ",
                          (int)(eq - *e), *e, eq + 1);
        else
            strbuf_printf(&b, "FcgidInitialEnv %.*s \"%s\"\n", (int)(eq - *e), *e, eq + 1);
    }
    return strbuf_detach(&b);
}

/* ---- processes ---- */

/*
 * spawn - fork/exec argv in its own process group, stdin from /dev/null,
 * stdout and stderr appended to logpath.  The kernel sends it SIGTERM if
 * the calling thread dies first.  With as_user, it runs as WEBSRV_USER
 * (spawn-fcgi, like the User= of its systemd unit).
 */
static pid_t spawn(char *const argv[], char *const envp[], const char *logpath, bool as_user)
{
    struct passwd *pw = as_user && geteuid() == 0 ? getpwnam(WEBSRV_USER) : NULL;
    uid_t uid = pw ? pw->pw_uid : 0;
    gid_t gid = pw ? pw->pw_gid : 0;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    close_range(3, ~0U, 0); /* the test's sockets and pipes are not theirs */
    if (pw && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
        _exit(126);
    /* after setuid, which clears it */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(126);
    execve(argv[0], argv, envp);
    fprintf(stderr, "websrv: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* true when pid has exited (and is reaped); *status set. */
static bool reaped(pid_t pid, int *status)
{
    return pid > 0 && waitpid(pid, status, WNOHANG) == pid;
}

static bool wait_exit(pid_t pid, long long deadline, int *status)
{
    while (sup_now_ms() < deadline) {
        if (reaped(pid, status))
            return true;
        sup_sleep_ms(20);
    }
    return false;
}

/* Processes carrying our marker in their environment (workers a server
 * spawned, wherever they went). */
static size_t marked_pids(const char *marker, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    char *needle = xasprintf("PARSEC_TEST_WEBSRV=%s", marker);
    size_t nl = strlen(needle) + 1; /* the NUL ends the entry */
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
        size_t len;
        char *env = read_file(path, &len);
        if (!env)
            continue;
        for (size_t off = 0; off + nl <= len + 1; off += strlen(env + off) + 1) {
            if (memcmp(env + off, needle, nl) == 0) {
                out[n++] = (pid_t)atoi(de->d_name);
                break;
            }
        }
        free(env);
    }
    closedir(d);
    free(needle);
    return n;
}

/* Remember the /dev/shm files process pid maps, to check they go with it. */
static void record_shm(websrv_t *w, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *maps = read_file(path, NULL);
    if (!maps)
        return;
    for (char *line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
        char *f = strstr(line, " /dev/shm/");
        if (!f)
            continue;
        f++;
        char *del = strstr(f, " (deleted)");
        if (del)
            continue;
        bool seen = false;
        for (size_t i = 0; i < w->nshm && !seen; i++)
            seen = strcmp(w->shm[i], f) == 0;
        if (!seen) {
            w->shm = xrealloc(w->shm, (w->nshm + 1) * sizeof *w->shm);
            w->shm[w->nshm++] = xstrdup(f);
        }
    }
    free(maps);
}

/* ---- the HTTP client ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    strbuf_append(ud, ptr, size * nmemb);
    return size * nmemb;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    strbuf_t *b = ud;
    size_t n = size * nmemb;
    /* a new status line starts a new block (100 Continue, redirects) */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        b->len = 0;
    return on_data(ptr, size, nmemb, ud);
}

static http_result_t *request(const char *method, const char *url, const char *const *headers,
                              const void *body, size_t len, long timeout_ms)
{
    pthread_once(&curl_once, curl_init);
    http_result_t *res = xcalloc(1, sizeof *res);
    strbuf_t hb = STRBUF_INIT, bb = STRBUF_INIT;
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    bool has_ctype = false;
    for (const char *const *h = headers; h && *h; h++) {
        hl = curl_slist_append(hl, *h);
        if (strncasecmp(*h, "Content-Type:", 13) == 0)
            has_ctype = true;
    }
    if (!has_ctype)
        hl = curl_slist_append(hl, "Content-Type:"); /* no form type by default */
    hl = curl_slist_append(hl, "Expect:");           /* no 100-continue round trip */

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as given */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "GET") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        bool has_body = body || len > 0 || strcmp(method, "POST") == 0 ||
                        strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
        if (has_body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
            if (strcmp(method, "POST") != 0)
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    } else {
        res->status = 0;
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
    }
    res->body_len = bb.len;
    res->headers = strbuf_detach(&hb);
    res->body = (unsigned char *)strbuf_detach(&bb);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return res;
}

http_result_t *testhttp_request(const char *method, const char *url, const char *const *headers,
                                const void *body, size_t len)
{
    return request(method, url, headers, body, len, 30000);
}

char *testhttp_header(const http_result_t *res, const char *name)
{
    size_t nl = strlen(name);
    char *found = NULL;
    for (const char *l = res->headers; *l;) {
        size_t ll = strcspn(l, "\r\n");
        if (ll > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *end = l + ll;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            free(found);
            found = xstrndup(v, (size_t)(end - v));
        }
        l += ll;
        while (*l == '\r' || *l == '\n')
            l++;
    }
    return found;
}

void testhttp_free(http_result_t *res)
{
    if (!res)
        return;
    free(res->headers);
    free(res->body);
    free(res);
}

char *testhttp_raw(int port, const void *data, size_t len, bool shut_write, bool read_answer,
                   int timeout_ms, size_t *out_len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (shut_write)
        shutdown(fd, SHUT_WR);
    strbuf_t b = STRBUF_INIT;
    if (read_answer) {
        long long deadline = sup_now_ms() + timeout_ms;
        for (;;) {
            long long left = deadline - sup_now_ms();
            if (left <= 0)
                break;
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, (int)left) <= 0)
                break;
            char chunk[4096];
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                break;
            on_data(chunk, 1, (size_t)n, &b);
        }
    }
    close(fd);
    if (out_len)
        *out_len = b.len;
    return strbuf_detach(&b);
}

/* ---- start and stop ---- */

/*
 * start_watchdog - a forked helper that stops the servers if the test
 * process dies without websrv_stop() (a failed ck_assert _exits the forked
 * test, timeout(1) kills it).  The kernel's parent-death signal is not
 * enough: lighttpd drops its privileges, which clears it.
 *
 * The watchdog waits for EOF on a pipe whose only writer is us (the write
 * end is close-on-exec and spawn() closes every inherited descriptor), then
 * SIGTERMs the process groups (SIGKILL after WEBSRV_STOP_MS), removes the
 * private directory and exits.  A byte on the pipe (websrv_stop) tells it to
 * exit without doing anything.
 */
static void start_watchdog(websrv_t *w)
{
    int p[2];
    w->watch_fd = -1;
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    pid_t groups[2] = {w->server_pid, w->fcgi_pid};
    const char *rundir = w->rundir;
    pid_t pid = fork();
    if (pid == 0) {
        /* its own process group, deaf to the signals that stop a test run
         * (Ctrl-C, timeout(1), a kill of the test's group): it must outlive
         * the test process to clean up after it */
        setpgid(0, 0);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        if (dup2(p[0], 0) < 0)
            _exit(1);
        close_range(3, ~0U, 0); /* only our own end of our own pipe */
        for (;;) {
            char c;
            ssize_t n = read(0, &c, 1);
            if (n > 0)
                _exit(0); /* websrv_stop() did the job */
            if (n == 0 || errno != EINTR)
                break;
        }
        long long deadline = sup_now_ms() + WEBSRV_STOP_MS;
        for (int i = 0; i < 2; i++)
            if (groups[i] > 0)
                kill(-groups[i], SIGTERM);
        for (;;) {
            bool alive = false;
            for (int i = 0; i < 2; i++)
                alive = alive || (groups[i] > 0 && kill(-groups[i], 0) == 0);
            if (!alive)
                break;
            if (sup_now_ms() > deadline)
                break;
            sup_sleep_ms(50);
        }
        for (int i = 0; i < 2; i++)
            if (groups[i] > 0)
                kill(-groups[i], SIGKILL);
        testenv_rm_rf(rundir);
        _exit(0);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return;
    }
    w->watch_pid = pid;
    w->watch_fd = p[1];
}

static void end_watchdog(websrv_t *w)
{
    if (w->watch_fd >= 0) {
        /* a byte says "all done": only EOF alone means the test died */
        if (write(w->watch_fd, "q", 1) != 1)
            fprintf(stderr, "websrv: watchdog pipe: %s\n", strerror(errno));
        close(w->watch_fd);
    }
    w->watch_fd = -1;
    if (w->watch_pid > 0)
        waitpid(w->watch_pid, NULL, 0);
    w->watch_pid = 0;
}

static bool prepare_rundir(websrv_t *w)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    w->rundir = xasprintf("%s/websrv-%s.XXXXXX", base, websrv_kind_name(w->kind));
    if (!mkdtemp(w->rundir)) {
        fprintf(stderr, "websrv: mkdtemp %s: %s\n", w->rundir, strerror(errno));
        free(w->rundir);
        w->rundir = NULL;
        return false;
    }
    char *docroot = xasprintf("%s/htdocs", w->rundir);
    bool ok = chmod(w->rundir, 0755) == 0 && mkdir(docroot, 0755) == 0;
    if (ok && geteuid() == 0) {
        /* the servers write their sockets and logs here as WEBSRV_USER */
        struct passwd *pw = getpwnam(WEBSRV_USER);
        ok = pw && chown(w->rundir, pw->pw_uid, pw->pw_gid) == 0;
    }
    free(docroot);
    if (!ok)
        fprintf(stderr, "websrv: cannot prepare %s: %s\n", w->rundir, strerror(errno));
    return ok;
}

/* The systemd unit that starts the worker beside nginx, or NULL when the
 * web server spawns its workers itself. */
static const char *unit_name(websrv_kind kind)
{
    switch (kind) {
    case WEBSRV_NGINX:
        return "parsec-fcgi-spawn.service";
    case WEBSRV_NGINX_STANDALONE:
        return "parsec-fcgi.service";
    default:
        return NULL;
    }
}

static bool write_configs(websrv_t *w, char **wenv)
{
    char port[16], notifyd_port[16];
    snprintf(port, sizeof port, "%d", w->port);
    snprintf(notifyd_port, sizeof notifyd_port, "%d", w->notifyd_port);
    char *docroot = xasprintf("%s/htdocs", w->rundir);
    char *envb = env_block(w->kind, wenv);
    const char *mount_key = *w->mount ? w->mount : "/";
    subst_t subs[] = {
        {"HOST", "127.0.0.1"},
        {"PORT", port},
        {"USER", WEBSRV_USER},
        {"GROUP", WEBSRV_USER},
        {"FCGI_BIN", websrv_fcgi_bin()},
        {"RUNDIR", w->rundir},
        {"LOGDIR", w->rundir},
        {"CONFDIR", w->rundir},
        {"DOCROOT", docroot},
        {"MOUNT", w->mount},
        {"MOUNT_KEY", mount_key},
        {"ENV", envb},
        {"NOTIFYD_PORT", notifyd_port},
    };
    static const struct {
        const char *main_tmpl, *main_out, *snippet_tmpl, *snippet_out, *pidfile;
    } files[WEBSRV_KIND_ALL] = {
        [WEBSRV_LIGHTTPD] = {"lighttpd/lighttpd.conf", "lighttpd.conf",
                             "lighttpd/parsec-fastcgi.conf", "parsec-fastcgi.conf", "lighttpd.pid"},
        [WEBSRV_APACHE] = {"apache2/apache2.conf", "apache2.conf", "apache2/parsec.conf",
                           "parsec.conf", "apache2.pid"},
        [WEBSRV_NGINX] = {"nginx/nginx.conf", "nginx.conf", "nginx/parsec.conf", "parsec.conf",
                          "nginx.pid"},
        [WEBSRV_NGINX_STANDALONE] = {"nginx/nginx.conf", "nginx.conf", "nginx/parsec.conf",
                                     "parsec.conf", "nginx.pid"},
    };
    size_t ns = sizeof subs / sizeof subs[0];
    char *a = xasprintf("%s/%s", w->rundir, files[w->kind].main_out);
    char *b = xasprintf("%s/%s", w->rundir, files[w->kind].snippet_out);
    char *u = xasprintf("%s/%s", w->rundir, unit_name(w->kind));
    bool ok = render_file(files[w->kind].main_tmpl, a, subs, ns) &&
              render_file(files[w->kind].snippet_tmpl, b, subs, ns);
    /* nginx spawns nothing: the worker comes from the systemd unit's command */
    if (ok && unit_name(w->kind)) {
        char *tmpl = xasprintf("systemd/%s", unit_name(w->kind));
        ok = render_file(tmpl, u, subs, ns);
        free(tmpl);
    }
    w->pidfile = xasprintf("%s/%s", w->rundir, files[w->kind].pidfile);
    free(a);
    free(b);
    free(u);
    free(docroot);
    free(envb);
    return ok;
}

/* The value of the unit's first "key=" line (malloc'd), or NULL. */
static char *unit_value(const char *unit_path, const char *key)
{
    char *text = read_file(unit_path, NULL), *v = NULL;
    size_t kl = strlen(key);
    for (char *line = text ? strtok(text, "\n") : NULL; line && !v; line = strtok(NULL, "\n"))
        if (strncmp(line, key, kl) == 0)
            v = xstrdup(line + kl);
    free(text);
    return v;
}

/* ExecStart= of a rendered unit, split on blanks (our units quote nothing). */
static char **unit_exec_start(const char *unit_path)
{
    char *text = read_file(unit_path, NULL);
    if (!text)
        return NULL;
    char **argv = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "ExecStart=", 10) != 0)
            continue;
        size_t n = 0;
        argv = xcalloc(strlen(line) + 1, sizeof *argv);
        for (char *tok = strtok(line + 10, " \t"); tok; tok = strtok(NULL, " \t"))
            argv[n++] = xstrdup(tok);
        break;
    }
    free(text);
    return argv;
}

static char **server_env(void)
{
    size_t n = 0;
    char **env = xcalloc(8, sizeof *env);
    env[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    static const char *const pass[] = {"TMPDIR", "PARSEC_TEST_RUN_ID", "ASAN_OPTIONS",
                                       "UBSAN_OPTIONS"};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        const char *v = getenv(pass[i]);
        if (v)
            env[n++] = xasprintf("%s=%s", pass[i], v);
    }
    env[n] = NULL;
    return env;
}

/* Non-zombie processes of process group pgid, or carrying the marker. */
static size_t leftovers(const websrv_t *w, pid_t *out, size_t max)
{
    size_t n = marked_pids(w->marker, out, max);
    DIR *d = opendir("/proc");
    if (!d)
        return n;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        char *st = read_file(path, NULL);
        if (!st)
            continue;
        /* "pid (comm) S ppid pgrp ...": comm may hold spaces, so from ')' */
        char *rp = strrchr(st, ')');
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && state != 'Z' &&
            ((w->server_pid > 0 && pgrp == w->server_pid) ||
             (w->fcgi_pid > 0 && pgrp == w->fcgi_pid))) {
            pid_t pid = (pid_t)atoi(de->d_name);
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = out[i] == pid;
            if (!dup)
                out[n++] = pid;
        }
        free(st);
    }
    closedir(d);
    return n;
}

static void record_group_shm(websrv_t *w)
{
    pid_t pids[256];
    size_t n = leftovers(w, pids, 256);
    for (size_t i = 0; i < n; i++)
        record_shm(w, pids[i]);
}

/* The files websrv_error_log() reads, in its order. */
static const char *const log_names[WEBSRV_LOG_FILES] = {
    "lighttpd-error.log", "lighttpd.out", "apache2-error.log", "apache2.out",
    "nginx-error.log",    "nginx.out",    "worker.log"};

websrv_log_mark_t websrv_log_mark(const websrv_t *w)
{
    websrv_log_mark_t m = {{0}};
    for (size_t i = 0; i < WEBSRV_LOG_FILES; i++) {
        char *path = xasprintf("%s/%s", w->rundir, log_names[i]);
        struct stat st;
        if (stat(path, &st) == 0)
            m.size[i] = st.st_size;
        free(path);
    }
    return m;
}

char *websrv_error_log_since(const websrv_t *w, const websrv_log_mark_t *mark)
{
    strbuf_t b = STRBUF_INIT;
    for (size_t i = 0; i < WEBSRV_LOG_FILES; i++) {
        char *path = xasprintf("%s/%s", w->rundir, log_names[i]);
        size_t len;
        char *text = read_file(path, &len);
        /* A file shorter than its mark was rewritten: all of it is new. */
        size_t from = mark && (size_t)mark->size[i] <= len ? (size_t)mark->size[i] : 0;
        if (text && len > from) {
            strbuf_printf(&b, "---- %s ----\n", log_names[i]);
            strbuf_append(&b, text + from, len - from);
        }
        free(text);
        free(path);
    }
    return b.len ? strbuf_detach(&b) : NULL;
}

char *websrv_error_log(const websrv_t *w)
{
    return websrv_error_log_since(w, NULL);
}

static void dump_logs(const websrv_t *w)
{
    char *log = websrv_error_log(w);
    if (log)
        fprintf(stderr, "websrv: %s logs:\n%s\n", websrv_kind_name(w->kind), log);
    free(log);
}

typedef enum { START_OK, START_FAILED, START_PORT_TAKEN } start_result;

static bool log_says_port_taken(const websrv_t *w)
{
    char *log = websrv_error_log(w);
    bool taken = log && (strstr(log, "Address already in use") || strstr(log, "address in use"));
    free(log);
    return taken;
}

static start_result start_once(websrv_t *w, char **wenv)
{
    char *conf = NULL, *logp = NULL, *sock = NULL, *unit = NULL;
    char **senv = server_env(), **fargv = NULL, **fenv = NULL;
    start_result result = START_FAILED;

    for (size_t i = 0; i < WEBSRV_LOG_FILES; i++) {
        char *p = xasprintf("%s/%s", w->rundir, log_names[i]);
        unlink(p); /* a retry must not read the previous attempt's logs */
        free(p);
    }
    w->port = free_port();
    if (w->port <= 0 || !write_configs(w, wenv))
        goto cleanup;
    free(w->url);
    w->url = xasprintf("http://127.0.0.1:%d%s", w->port, w->mount);

    if (unit_name(w->kind)) {
        /* the worker first, exactly as its systemd unit starts it */
        unit = xasprintf("%s/%s", w->rundir, unit_name(w->kind));
        fargv = unit_exec_start(unit);
        if (!fargv || !fargv[0]) {
            fprintf(stderr, "websrv: no ExecStart= in %s\n", unit);
            goto cleanup;
        }
        size_t n = 0;
        while (wenv[n])
            n++;
        fenv = xcalloc(n + 2, sizeof *fenv);
        fenv[0] = xstrdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        for (size_t i = 0; i < n; i++)
            fenv[i + 1] = xstrdup(wenv[i]);
        logp = xasprintf("%s/worker.log", w->rundir);
        sock = xasprintf("%s/parsec-fcgi.sock", w->rundir);
        /* with the unit's UMask= (the socket's mode), inherited by the fork */
        char *um = unit_value(unit, "UMask=");
        mode_t old = um ? umask((mode_t)strtol(um, NULL, 8)) : 0;
        w->fcgi_pid = spawn(fargv, fenv, logp, true);
        if (um)
            umask(old);
        free(um);
        long long until = sup_now_ms() + WEBSRV_START_MS;
        struct stat st;
        while (stat(sock, &st) != 0 && sup_now_ms() < until) {
            int status;
            if (reaped(w->fcgi_pid, &status)) {
                w->fcgi_pid = 0;
                fprintf(stderr, "websrv: spawn-fcgi exited (status %d)\n", status);
                goto cleanup;
            }
            sup_sleep_ms(10);
        }
        free(logp);
        logp = NULL;
    }

    switch (w->kind) {
    case WEBSRV_LIGHTTPD: {
        conf = xasprintf("%s/lighttpd.conf", w->rundir);
        logp = xasprintf("%s/lighttpd.out", w->rundir);
        char *argv[] = {"/usr/sbin/lighttpd", "-D", "-f", conf, NULL};
        w->server_pid = spawn(argv, senv, logp, false);
        break;
    }
    case WEBSRV_APACHE: {
        conf = xasprintf("%s/apache2.conf", w->rundir);
        logp = xasprintf("%s/apache2.out", w->rundir);
        char *argv[] = {"/usr/sbin/apache2", "-f", conf, "-DFOREGROUND", NULL};
        w->server_pid = spawn(argv, senv, logp, false);
        break;
    }
    case WEBSRV_NGINX:
    case WEBSRV_NGINX_STANDALONE: {
        conf = xasprintf("%s/nginx.conf", w->rundir);
        logp = xasprintf("%s/nginx.out", w->rundir);
        char *argv[] = {"/usr/sbin/nginx", "-c", conf, "-g", "daemon off;", NULL};
        w->server_pid = spawn(argv, senv, logp, false);
        break;
    }
    default:
        goto cleanup;
    }

    /* Ready when the worker itself answers (its X-Request-Id header). */
    char *probe = websrv_urlf(w, "/");
    long long deadline = sup_now_ms() + WEBSRV_START_MS;
    while (sup_now_ms() < deadline) {
        int status;
        if (reaped(w->server_pid, &status)) {
            w->server_pid = 0;
            result = log_says_port_taken(w) ? START_PORT_TAKEN : START_FAILED;
            if (result == START_FAILED)
                fprintf(stderr, "websrv: %s exited during start-up (status %d)\n",
                        websrv_kind_name(w->kind), status);
            break;
        }
        if (w->fcgi_pid > 0 && reaped(w->fcgi_pid, &status)) {
            w->fcgi_pid = 0;
            fprintf(stderr, "websrv: the worker exited during start-up (status %d)\n", status);
            break;
        }
        http_result_t *res = request("GET", probe, NULL, NULL, 0, 2000);
        char *rid = testhttp_header(res, "X-Request-Id");
        bool up = res->status > 0 && rid;
        free(rid);
        testhttp_free(res);
        if (up) {
            result = START_OK;
            break;
        }
        sup_sleep_ms(50);
    }
    free(probe);
    if (result == START_OK)
        record_group_shm(w);
    else if (w->server_pid > 0 || w->fcgi_pid > 0)
        fprintf(stderr, "websrv: %s did not answer within %d ms\n", websrv_kind_name(w->kind),
                WEBSRV_START_MS);

cleanup:
    free(conf);
    free(logp);
    free(sock);
    free(unit);
    free_strv(senv);
    free_strv(fargv);
    free_strv(fenv);
    return result;
}

/* Stop what start_once() started; true when everything went by itself. */
static bool stop_processes(websrv_t *w, bool quiet)
{
    bool ok = true;
    long long deadline = sup_now_ms() + WEBSRV_STOP_MS;
    pid_t pids[2] = {w->server_pid, w->fcgi_pid};
    const char *what[2] = {websrv_kind_name(w->kind), "the worker of the systemd unit"};
    /* lighttpd: SIGINT is its graceful stop (SIGTERM drops open connections
     * and exits 1); Apache, nginx and the worker stop cleanly on SIGTERM */
    int sig = w->kind == WEBSRV_LIGHTTPD ? SIGINT : SIGTERM;
    for (int i = 0; i < 2; i++)
        if (pids[i] > 0)
            kill(pids[i], i == 0 ? sig : SIGTERM);
    for (int i = 0; i < 2; i++) {
        if (pids[i] <= 0)
            continue;
        int status = 0;
        if (!wait_exit(pids[i], deadline, &status)) {
            fprintf(stderr, "websrv: %s ignored its stop signal for %d ms: killed\n", what[i],
                    WEBSRV_STOP_MS);
            kill(-pids[i], SIGKILL);
            waitpid(pids[i], &status, 0);
            ok = false;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            if (!quiet)
                fprintf(stderr, "websrv: %s ended with status 0x%x after its stop signal\n",
                        what[i], status);
            ok = false;
        }
    }
    /* workers the server spawned: they get SIGTERM from it */
    pid_t left[64];
    size_t n;
    while ((n = leftovers(w, left, 64)) > 0 && sup_now_ms() < deadline)
        sup_sleep_ms(50);
    if (n > 0) {
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "websrv: process %d outlived %s: killed\n", (int)left[i],
                    websrv_kind_name(w->kind));
            kill(left[i], SIGKILL);
        }
        ok = false;
    }
    w->server_pid = 0;
    w->fcgi_pid = 0;
    return ok;
}

websrv_t *websrv_start(websrv_kind kind, const char *const *env, const char *mount_prefix)
{
    return websrv_start_notifyd(kind, env, mount_prefix, 0);
}

websrv_t *websrv_start_notifyd(websrv_kind kind, const char *const *env, const char *mount_prefix,
                               int notifyd_port)
{
    if (kind < 0 || kind >= WEBSRV_KIND_ALL)
        return NULL;
    if (notifyd_port < 0 || notifyd_port > 65535) {
        fprintf(stderr, "websrv: bad notifyd port %d\n", notifyd_port);
        return NULL;
    }
    for (const char *const *e = env; e && *e; e++) {
        if (!env_entry_ok(*e)) {
            fprintf(stderr,
                    "websrv: environment entry refused (NAME=value, no quote, "
                    "backslash or control character): %s\n",
                    *e);
            return NULL;
        }
    }
    const char *m = mount_prefix ? mount_prefix : "";
    if (*m && (m[0] != '/' || m[strlen(m) - 1] == '/' || strpbrk(m, " \"'\\$@()"))) {
        fprintf(stderr, "websrv: mount prefix must look like /parsec: %s\n", m);
        return NULL;
    }

    websrv_t *w = xcalloc(1, sizeof *w);
    w->kind = kind;
    w->watch_fd = -1;
    w->mount = xstrdup(m);
    /* no notifyd: /ws leads to a port nothing listened on a moment ago */
    w->notifyd_port = notifyd_port > 0 ? notifyd_port : free_port();
    if (!prepare_rundir(w)) {
        free(w->mount);
        free(w);
        return NULL;
    }
    w->marker = xstrdup(w->rundir);
    size_t nenv;
    char **wenv = worker_env(env, w->marker, &nenv);

    start_result r = START_FAILED;
    for (int attempt = 0; attempt < WEBSRV_TRIES; attempt++) {
        r = start_once(w, wenv);
        if (r == START_OK)
            break;
        bool quiet = r == START_PORT_TAKEN;
        if (!quiet)
            dump_logs(w);
        stop_processes(w, true);
        if (!quiet)
            break;
        /* another test took the port between our probe and the bind */
        free(w->pidfile);
        w->pidfile = NULL;
    }
    free_strv(wenv);
    if (r == START_OK)
        start_watchdog(w);
    if (r != START_OK) {
        fprintf(stderr, "websrv: %s did not start\n", websrv_kind_name(kind));
        testenv_rm_rf(w->rundir);
        for (size_t i = 0; i < w->nshm; i++)
            free(w->shm[i]);
        free(w->shm);
        free(w->rundir);
        free(w->url);
        free(w->mount);
        free(w->marker);
        free(w->pidfile);
        free(w);
        return NULL;
    }
    return w;
}

bool websrv_stop(websrv_t *w)
{
    if (!w)
        return true;
    bool ok = stop_processes(w, false);
    end_watchdog(w);
    struct stat st;
    if (w->pidfile && stat(w->pidfile, &st) == 0) {
        fprintf(stderr, "websrv: %s left its pid file %s\n", websrv_kind_name(w->kind), w->pidfile);
        ok = false;
    }
    for (size_t i = 0; i < w->nshm; i++) {
        if (stat(w->shm[i], &st) == 0) {
            fprintf(stderr, "websrv: %s left %s\n", websrv_kind_name(w->kind), w->shm[i]);
            unlink(w->shm[i]);
            ok = false;
        }
        free(w->shm[i]);
    }
    free(w->shm);
    if (!ok)
        dump_logs(w);
    testenv_rm_rf(w->rundir);
    free(w->rundir);
    free(w->url);
    free(w->mount);
    free(w->marker);
    free(w->pidfile);
    free(w);
    return ok;
}

const char *websrv_url(const websrv_t *w)
{
    return w->url;
}

char *websrv_urlf(const websrv_t *w, const char *path)
{
    return xasprintf("%s%s", w->url, path ? path : "");
}

int websrv_port(const websrv_t *w)
{
    return w->port;
}

const char *websrv_rundir(const websrv_t *w)
{
    return w->rundir;
}
