/*
 * tests/integration/test_backend_run.c - `parsec backend run`, the supervisor
 *
 * Each test runs the built `parsec` binary as a child process (from
 * $PARSEC_TEST_BUILD, else the build directory of this test binary), on free
 * loopback ports, with a private TMPDIR, and talks to it with libcurl and
 * raw sockets: the real lighttpd, the real workers, the real MOCKED cluster.
 * After it stops, every process it had started must be gone and its TMPDIR
 * empty.  The generated lighttpd configurations are also checked by
 * lighttpd itself (`lighttpd -tt`).
 */
#include "lighttpd_conf.h"
#include "strbuf.h"
#include "supervise.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BR_START_MS 60000 /* sanitizer builds on a busy 2-core machine */
#define BR_STOP_MS  30000
#define BR_MAX_PIDS 64

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* listen_on - a socket listening on 127.0.0.1:port (the "port in use" case). */
static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    return fd;
}

/* read_file - the whole file (malloc'd), "" when it cannot be read. */
static char *read_file(const char *path)
{
    strbuf_t b = STRBUF_INIT;
    (void)strbuf_read_file(&b, path); /* a missing file reads as "" */
    return strbuf_detach(&b);
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

/* ------------------------------------------------------------------------ */
/* Processes                                                                 */

typedef struct {
    pid_t pid;
    unsigned long long start; /* /proc/PID/stat starttime: tells pid reuse apart */
    uid_t uid;
    char comm[32];
} proc_t;

/* proc_read - ppid, starttime, uid and name of pid; false when it is gone. */
static bool proc_read(pid_t pid, pid_t *ppid, proc_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp)
        return false;
    memset(out, 0, sizeof *out);
    out->pid = pid;
    snprintf(out->comm, sizeof out->comm, "%.*s", (int)(rp - lp - 1), lp + 1);
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime priority nice threads
     * itrealvalue starttime */
    char state;
    int pp;
    unsigned long long f[17];
    if (sscanf(rp + 2,
               "%c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
               "%llu %llu",
               &state, &pp, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
               &f[10], &f[11], &f[12], &f[13], &f[14], &f[15], &f[16]) != 19)
        return false;
    if (state == 'Z')
        return false; /* a zombie is gone for our purpose only once reaped... */
    *ppid = pp;
    out->start = f[16];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (stat(path, &st) == 0)
        out->uid = st.st_uid;
    return true;
}

/* descendants - every live process below root (root excluded). */
static size_t descendants(pid_t root, proc_t *out, size_t max)
{
    size_t n = 0;
    pid_t frontier[BR_MAX_PIDS];
    size_t nf = 0;
    frontier[nf++] = root;
    while (nf > 0) {
        pid_t parent = frontier[--nf];
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end || pid <= 0)
                continue;
            pid_t pp;
            proc_t p;
            if (!proc_read((pid_t)pid, &pp, &p) || pp != parent)
                continue;
            if (n < max)
                out[n++] = p;
            if (nf < BR_MAX_PIDS)
                frontier[nf++] = (pid_t)pid;
        }
        if (d)
            closedir(d);
    }
    return n;
}

/* still_alive - is this very process (same start time) still running? */
static bool still_alive(const proc_t *p)
{
    pid_t pp;
    proc_t now;
    return proc_read(p->pid, &pp, &now) && now.start == p->start;
}

/* ------------------------------------------------------------------------ */
/* One `parsec backend run`                                                  */

typedef struct {
    pid_t pid;
    char dir[PATH_MAX - 16]; /* private: out, err, tmp/ */
    char tmp[PATH_MAX];      /* the supervisor's TMPDIR */
    char out[PATH_MAX], err[PATH_MAX];
    int port, nport;
    bool exited;
    int status;
    proc_t procs[BR_MAX_PIDS]; /* what it had started, seen while serving */
    size_t nprocs;
} br_t;

/* A private temporary directory (0711: workers and PostgreSQL pass
 * through). */
static void br_tmpdir(char *dir, size_t len, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0711), 0);
}

/*
 * br_spawn - start `parsec backend run ARGS` with env changes: "NAME=value"
 * sets, "NAME" alone unsets.  --port/--notifyd-port are not added: put
 * "%P" and "%N" in args for the two free ports chosen here.
 */
static void br_spawn(br_t *b, const char *const *args, const char *const *env)
{
    char *parsec = testenv_build_path("parsec");
    char *argv[64];
    char portbuf[2][16];
    size_t n = 0;

    memset(b, 0, sizeof *b);
    b->port = testenv_free_port();
    do
        b->nport = testenv_free_port();
    while (b->nport == b->port);
    snprintf(portbuf[0], sizeof portbuf[0], "%d", b->port);
    snprintf(portbuf[1], sizeof portbuf[1], "%d", b->nport);

    br_tmpdir(b->dir, sizeof b->dir, "br");
    snprintf(b->tmp, sizeof b->tmp, "%s/tmp", b->dir);
    ck_assert_int_eq(mkdir(b->tmp, 0711), 0);
    ck_assert_int_eq(chmod(b->tmp, 0711), 0);
    snprintf(b->out, sizeof b->out, "%s/out", b->dir);
    snprintf(b->err, sizeof b->err, "%s/err", b->dir);

    argv[n++] = parsec;
    argv[n++] = "backend";
    argv[n++] = "run";
    for (size_t i = 0; args && args[i] && n < 62; i++) {
        if (!strcmp(args[i], "%P"))
            argv[n++] = portbuf[0];
        else if (!strcmp(args[i], "%N"))
            argv[n++] = portbuf[1];
        else
            argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;

    fflush(NULL);
    pid_t parent = getpid();
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        /* A failed assertion ends the test process with _exit() and Check
         * then SIGKILLs its process group: out of that group, and told by
         * the kernel when the test dies, the supervisor stops everything
         * properly (a SIGKILLed supervisor would leave lighttpd behind: it
         * dropped privileges, which clears its own parent-death signal). */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0L, 0L, 0L);
        if (getppid() != parent)
            _exit(125);
        int o = open(b->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(b->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        setenv("TMPDIR", b->tmp, 1);
        for (size_t i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char *name = xstrndup(env[i], (size_t)(eq - env[i]));
                setenv(name, eq + 1, 1);
                free(name);
            } else {
                unsetenv(env[i]);
            }
        }
        execv(argv[0], argv);
        _exit(127);
    }
    free(parsec);
}

static bool br_reap(br_t *b, int timeout_ms)
{
    long long deadline = sup_now_ms() + timeout_ms;
    while (!b->exited) {
        pid_t r = waitpid(b->pid, &b->status, WNOHANG);
        if (r == b->pid) {
            b->exited = true;
            break;
        }
        if (sup_now_ms() >= deadline)
            return false;
        sup_sleep_ms(20);
    }
    return true;
}

/* br_wait_serving - true once "parsec: serving on" is on its stdout; false
 * when it exited first (or after the deadline, having killed it). */
static bool br_wait_serving(br_t *b)
{
    long long deadline = sup_now_ms() + BR_START_MS;
    for (;;) {
        char *out = read_file(b->out);
        bool serving = strstr(out, "parsec: serving on ") != NULL;
        free(out);
        if (serving) {
            b->nprocs = descendants(b->pid, b->procs, BR_MAX_PIDS);
            return true;
        }
        if (br_reap(b, 0))
            return false;
        if (sup_now_ms() > deadline) {
            kill(b->pid, SIGKILL);
            br_reap(b, BR_STOP_MS);
            return false;
        }
        sup_sleep_ms(50);
    }
}

/* br_exit_status - wait for it to exit on its own; its exit status. */
static int br_exit_status(br_t *b)
{
    if (!br_reap(b, BR_START_MS)) {
        kill(b->pid, SIGKILL);
        br_reap(b, BR_STOP_MS);
        ck_abort_msg("parsec backend run did not exit");
    }
    ck_assert_msg(WIFEXITED(b->status), "killed by signal %d",
                  WIFSIGNALED(b->status) ? WTERMSIG(b->status) : 0);
    return WEXITSTATUS(b->status);
}

/* br_stop - send sig, expect exit status 0 */
static void br_stop(br_t *b, int sig)
{
    ck_assert_int_eq(kill(b->pid, sig), 0);
    if (!br_reap(b, BR_STOP_MS)) {
        kill(b->pid, SIGKILL);
        br_reap(b, BR_STOP_MS);
        ck_abort_msg("parsec backend run did not stop within %d s after signal %d",
                     BR_STOP_MS / 1000, sig);
    }
    char *err = read_file(b->err);
    ck_assert_msg(WIFEXITED(b->status) && WEXITSTATUS(b->status) == 0,
                  "after signal %d: wait status %d; stderr:\n%s", sig, b->status, err);
    free(err);
}

/* br_check_clean - nothing it started runs any more, its TMPDIR is empty;
 * then remove the private directory. */
static void br_check_clean(br_t *b)
{
    long long deadline = sup_now_ms() + 5000;
    for (size_t i = 0; i < b->nprocs; i++) {
        while (still_alive(&b->procs[i]) && sup_now_ms() < deadline)
            sup_sleep_ms(20);
        ck_assert_msg(!still_alive(&b->procs[i]), "%s (pid %d) is still running", b->procs[i].comm,
                      (int)b->procs[i].pid);
    }
    ck_assert_msg(dir_is_empty(b->tmp), "files left in the run's TMPDIR %s", b->tmp);
    testenv_rm_rf(b->dir);
}

/* br_stderr_has - its stderr holds needle (the one line saying why). */
static void br_stderr_has(br_t *b, const char *needle)
{
    char *err = read_file(b->err);
    ck_assert_msg(strstr(err, needle), "stderr lacks \"%s\":\n%s", needle, err);
    free(err);
}

/* br_stderr_one_line - its stderr is exactly one line, holding needle. */
static void br_stderr_one_line(br_t *b, const char *needle)
{
    char *err = read_file(b->err);
    size_t lines = 0;
    for (const char *c = err; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines == 1 && strstr(err, needle), "want one line with \"%s\"; stderr:\n%s",
                  needle, err);
    free(err);
}

/* br_stdout_has - stdout holds needle (present) or does not (!present). */
static void br_stdout_has(br_t *b, const char *needle, bool present)
{
    char *out = read_file(b->out);
    ck_assert_msg((strstr(out, needle) != NULL) == present, "stdout %s \"%s\":\n%s",
                  present ? "lacks" : "has", needle, out);
    free(out);
}

/* br_serve - spawn with args (no extra environment) and wait until it
 * serves, or fail the test with its stderr. */
static void br_serve(br_t *b, const char *const *args)
{
    br_spawn(b, args, NULL);
    ck_assert_msg(br_wait_serving(b), "did not start: %s", read_file(b->err));
}

/* Find a started process by name. */
static const proc_t *br_proc(const br_t *b, const char *comm)
{
    for (size_t i = 0; i < b->nprocs; i++)
        if (!strncmp(b->procs[i].comm, comm, strlen(comm)))
            return &b->procs[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

typedef struct {
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
    char error[CURL_ERROR_SIZE];
} resp_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    strbuf_append(arg, p, size * n);
    return size * n;
}

/* http - one request; cafile NULL: no verification (for https). */
static resp_t http(const char *method, const char *url, const char *const *headers,
                   const char *cafile)
{
    resp_t r;
    memset(&r, 0, sizeof r);
    strbuf_t body = STRBUF_INIT, hdrs = STRBUF_INIT;
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r.error);
    if (cafile) {
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    r.len = body.len;
    r.body = strbuf_detach(&body);
    r.hlen = hdrs.len;
    r.headers = strbuf_detach(&hdrs);
    return r;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    free(r->headers);
}

static resp_t br_get(const br_t *b, const char *path)
{
    char *url = xasprintf("http://127.0.0.1:%d%s", b->port, path);
    resp_t r = http("GET", url, NULL, NULL);
    free(url);
    return r;
}

/* ws_upgrade - send a websocket upgrade for path to 127.0.0.1:port and
 * return the status line of the answer (malloc'd, "" on no answer). */
static char *ws_upgrade(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    char buf[4096];
    size_t len = 0;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char *req = xasprintf("GET %s HTTP/1.1\r\n"
                          "Host: 127.0.0.1:%d\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "\r\n",
                          path, port);
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    long long deadline = sup_now_ms() + 10000;
    while (len < sizeof buf - 1 && !memmem(buf, len, "\r\n", 2) && sup_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return xstrdup(buf);
}

/* The arguments of a complete non-dev run against url (as the guide). */
#define BR_URL_ARGS(url)                                                                           \
    "--db", url, "--blockstore", "POSTGRESQL", "--administration-token", "t0k3n",                  \
        "--backend-addr", "parsec://localhost", "--email-host", "MOCKED", "--port", "%P",          \
        "--notifyd-port", "%N"

/* br_refused - run with ARGS (and ENV), expect it to exit with STATUS
 * before serving, saying WHY on stderr, leaving nothing behind. */
static void br_refused(const char *const *args, const char *const *env, int status, const char *why)
{
    br_t b;
    br_spawn(&b, args, env);
    ck_assert_int_eq(br_exit_status(&b), status);
    br_stderr_one_line(&b, why); /* every start-up failure: one line */
    br_check_clean(&b);
}

/* br_child_killed - start a --dev run, SIGKILL its child COMM and expect the
 * whole run to stop with status 1 and WHY on stderr.  Returns with B
 * reaped; the caller checks more of stderr, then br_check_clean(). */
static void br_child_killed(br_t *b, const char *comm, const char *why)
{
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    br_serve(b, args);
    const proc_t *p = br_proc(b, comm);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(kill(p->pid, SIGKILL), 0);
    ck_assert_int_eq(br_exit_status(b), 1);
    br_stderr_has(b, why);
}

/* ------------------------------------------------------------------------ */
/* Tests: serving                                                            */

/* --dev with nothing else: serves /, /health and the pages through
 * lighttpd, runs the workers unprivileged, stops clean on SIGTERM. */
START_TEST(dev_serves_and_stops_clean)
{
    br_t b;
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    br_serve(&b, args);

    char *want = xasprintf("parsec: serving on http://127.0.0.1:%d (db=MOCKED at ", b.port);
    br_stdout_has(&b, want, true);
    free(want);
    br_stdout_has(&b, "blockstore=MOCKED)", true);
    /* The cluster's URL carries a password: shown masked. */
    br_stdout_has(&b, "postgres:***@", true);

    resp_t r = br_get(&b, "/");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.headers, "text/html"), "headers: %s", r.headers);
    resp_free(&r);
    r = br_get(&b, "/health");
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);

    /* Settings reached the workers: --dev's backend address and token. */
    r = br_get(&b, "/redirect/Org?action=x");
    ck_assert_int_eq(r.status, 302);
    char *loc = xasprintf("parsec://localhost:%d/Org", b.port);
    ck_assert_msg(strstr(r.headers, loc), "headers: %s", r.headers);
    free(loc);
    resp_free(&r);
    const char *bad[] = {"Authorization: Bearer wrong", NULL};
    const char *good[] = {"Authorization: Bearer s3cr3t", NULL};
    char *url = xasprintf("http://127.0.0.1:%d/administration/organizations/Nope", b.port);
    r = http("GET", url, bad, NULL);
    ck_assert_int_eq(r.status, 403);
    resp_free(&r);
    r = http("GET", url, good, NULL);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    free(url);

    /* lighttpd and its workers do not run as root. */
    const proc_t *l = br_proc(&b, "lighttpd"), *w = br_proc(&b, "parsec-fcgi");
    ck_assert_msg(l != NULL, "no lighttpd among the children");
    ck_assert_int_ne(l->uid, 0);
    pid_t pp;
    proc_t tmp;
    size_t workers = 0;
    for (size_t i = 0; i < b.nprocs; i++) {
        if (strncmp(b.procs[i].comm, "parsec-fcgi", 11))
            continue;
        workers++;
        ck_assert_int_ne(b.procs[i].uid, 0);
        ck_assert(proc_read(b.procs[i].pid, &pp, &tmp));
        ck_assert_int_eq(pp, l->pid);
    }
    ck_assert_msg(w != NULL && workers >= 1, "no parsec-fcgi worker under lighttpd");
    const proc_t *nd = br_proc(&b, "parsec-notifyd");
    if (nd)
        ck_assert_int_ne(nd->uid, 0);
    ck_assert_msg(br_proc(&b, "postgres") != NULL, "no MOCKED postgres among the children");

    br_stop(&b, SIGTERM);
    br_check_clean(&b);
}
END_TEST

/* SIGINT too; and a child dying is reported, everything else stopped. */
START_TEST(sigint_stops_clean)
{
    br_t b;
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    br_serve(&b, args);
    br_stop(&b, SIGINT);
    br_check_clean(&b);
}
END_TEST

START_TEST(lighttpd_dying_stops_everything)
{
    br_t b;
    br_child_killed(&b, "lighttpd", "parsec: lighttpd was killed by signal 9");
    br_stderr_has(&b, "unexpectedly");
    br_check_clean(&b);
}
END_TEST

/* A real postgresql:// URL, migrated: serves; the same URL with the schema
 * behind: refused before anything starts. */
START_TEST(url_database_up_to_date_serves)
{
    char *url = testenv_db_create();
    br_t b;
    const char *args[] = {BR_URL_ARGS(url), NULL};
    br_serve(&b, args);
    br_stdout_has(&b, "blockstore=POSTGRESQL", true);
    br_stdout_has(&b, "MOCKED at", false);
    resp_t r = br_get(&b, "/health");
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    ck_assert_msg(br_proc(&b, "postgres") == NULL, "a cluster was started for a real URL");
    br_stop(&b, SIGTERM);
    br_check_clean(&b);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(schema_behind_refused)
{
    char *url = testenv_db_create_empty();
    br_t b;
    const char *args[] = {BR_URL_ARGS(url), NULL};
    br_spawn(&b, args, NULL);
    ck_assert_int_eq(br_exit_status(&b), 1);
    br_stderr_has(&b, "parsec backend migrate");
    br_stdout_has(&b, "serving on", false);
    br_check_clean(&b);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(database_unreachable_refused)
{
    const char *args[] = {BR_URL_ARGS("postgresql://127.0.0.1:1/x"),
                          "--maximum-database-connection-attempts", "1", NULL};
    br_refused(args, NULL, 1,
               "parsec: cannot connect to database postgresql://127.0.0.1:1/x after 1 attempt: ");
}
END_TEST

/* A stop signal while waiting for the database ends the run at once, 0. */
START_TEST(stop_while_waiting_for_database)
{
    br_t b;
    const char *args[] = {BR_URL_ARGS("postgresql://127.0.0.1:1/x"),
                          "--maximum-database-connection-attempts",
                          "100",
                          "--pause-before-retry-database-connection",
                          "1",
                          NULL};
    br_spawn(&b, args, NULL);
    sup_sleep_ms(1500);
    ck_assert_msg(!br_reap(&b, 0), "exited early: %s", read_file(b.err));
    long long t0 = sup_now_ms();
    br_stop(&b, SIGTERM);
    ck_assert_int_lt(sup_now_ms() - t0, 5000);
    br_check_clean(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Tests: failing to start                                                   */

START_TEST(port_in_use_refused)
{
    br_t b;
    int port = testenv_free_port();
    int fd = listen_on(port);
    char pbuf[16];
    snprintf(pbuf, sizeof pbuf, "%d", port);
    const char *args[] = {"--dev", "--port", pbuf, "--notifyd-port", "%N", NULL};
    br_spawn(&b, args, NULL);
    ck_assert_int_eq(br_exit_status(&b), 1);
    char *want = xasprintf("parsec: cannot listen on 127.0.0.1:%d (--port): ", port);
    br_stderr_has(&b, want);
    br_stderr_has(&b, "the port is in use");
    free(want);
    close(fd);
    br_check_clean(&b);
}
END_TEST

/* lighttpd exiting at start is reported with lighttpd's own reason, and
 * what was started before it (the MOCKED cluster) is stopped and removed.
 * Provoked with TLS files lighttpd refuses but our settings check cannot
 * see: a key that does not match the certificate. */
START_TEST(lighttpd_exiting_early_reported)
{
    br_t b;
    char dir[PATH_MAX];
    br_tmpdir(dir, sizeof dir, "brtls");
    char *cmd = xasprintf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout k1.pem "
                          "-out c1.pem -days 1 -subj /CN=localhost >/dev/null 2>&1 && "
                          "openssl req -x509 -newkey rsa:2048 -nodes -keyout k2.pem "
                          "-out c2.pem -days 1 -subj /CN=localhost >/dev/null 2>&1",
                          dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *key = xasprintf("%s/k2.pem", dir), *cert = xasprintf("%s/c1.pem", dir);
    const char *args[] = {
        "--dev",          "--port", "%P", "--notifyd-port", "%N", "--ssl-keyfile", key,
        "--ssl-certfile", cert,     NULL};
    br_spawn(&b, args, NULL);
    ck_assert_int_eq(br_exit_status(&b), 1);
    br_stderr_one_line(&b, "parsec: lighttpd exited with status 255 at start: SSL:Private key "
                           "does not match the certificate");
    br_check_clean(&b);
    free(key);
    free(cert);
    testenv_rm_rf(dir);
}
END_TEST

/* A key file that is no key: the one line names it; nothing follows (the
 * parts stopped after it was decided are quiet), nothing precedes it. */
START_TEST(bad_tls_key_is_one_line)
{
    br_t b;
    char dir[PATH_MAX];
    br_tmpdir(dir, sizeof dir, "brtls");
    char *cmd = xasprintf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem "
                          "-out c.pem -days 1 -subj /CN=localhost >/dev/null 2>&1 && "
                          "echo garbage > bad.pem",
                          dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *key = xasprintf("%s/bad.pem", dir), *cert = xasprintf("%s/c.pem", dir);
    const char *args[] = {
        "--dev",          "--port", "%P", "--notifyd-port", "%N", "--ssl-keyfile", key,
        "--ssl-certfile", cert,     NULL};
    br_spawn(&b, args, NULL);
    ck_assert_int_eq(br_exit_status(&b), 1);
    char *want = xasprintf("parsec: lighttpd exited with status 255 at start: SSL: couldn't read "
                           "private key from '%s'",
                           key);
    br_stderr_one_line(&b, want);
    free(want);
    br_check_clean(&b);
    free(key);
    free(cert);
    testenv_rm_rf(dir);
}
END_TEST

/* A database that refuses us (no such database): not retried, one line. */
START_TEST(database_refusal_is_not_retried)
{
    char *url = testenv_url_with(testenv_pg_url(), "dbname", "no_such_db");
    const char *args[] = {BR_URL_ARGS(url), "--pause-before-retry-database-connection", "2", NULL};
    br_t b;
    long long t0 = sup_now_ms();
    br_spawn(&b, args, NULL);
    ck_assert_int_eq(br_exit_status(&b), 1);
    ck_assert_msg(sup_now_ms() - t0 < 10000, "retried for %lld ms", sup_now_ms() - t0);
    br_stderr_one_line(&b, "does not exist (not retried: retrying cannot fix this)");
    br_check_clean(&b);
    free(url);
}
END_TEST

/* The children get every secret as an inherited descriptor, never in their
 * environment, and close it once read (lighttpd keeps its copy). */
START_TEST(secrets_stay_out_of_the_environment)
{
    br_t b;
    const char *args[] = {"--dev",
                          "--port",
                          "%P",
                          "--notifyd-port",
                          "%N",
                          "--administration-token",
                          "T0K3N-out-of-env",
                          "--sentry-dsn",
                          "https://k3y-out-of-env@sentry.example.com/1",
                          NULL};
    br_serve(&b, args);
    /* The workers took the token: the administration API opens with it. */
    char *url = xasprintf("http://127.0.0.1:%d/administration/stats", b.port);
    const char *auth[] = {"Authorization: Bearer T0K3N-out-of-env", NULL};
    resp_t r = http("GET", url, auth, NULL);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    free(url);

    int checked = 0;
    b.nprocs = descendants(b.pid, b.procs, BR_MAX_PIDS);
    for (size_t i = 0; i < b.nprocs; i++) {
        const char *comm = b.procs[i].comm;
        bool ours = !strcmp(comm, "parsec-fcgi") || !strcmp(comm, "parsec-notifyd") ||
                    !strcmp(comm, "lighttpd");
        if (!ours)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", (int)b.procs[i].pid);
        strbuf_t env = STRBUF_INIT;
        if (!strbuf_read_file(&env, path))
            continue; /* gone meanwhile (a worker restart) */
        for (size_t k = 0; k < env.len; k++)
            if (!env.s[k])
                env.s[k] = '\n';
        ck_assert_msg(!strstr(env.s, "T0K3N") && !strstr(env.s, "k3y-out-of-env") &&
                          !strstr(env.s, "PARSEC_DB=") && !strstr(env.s, "postgres:"),
                      "%s (pid %d) environment holds a secret:\n%s", comm, (int)b.procs[i].pid,
                      env.s);
        ck_assert_msg(strstr(env.s, "PARSEC_ADMINISTRATION_TOKEN_FILE=/dev/fd/") &&
                          strstr(env.s, "PARSEC_DB_FILE=/dev/fd/") &&
                          strstr(env.s, "PARSEC_SENTRY_DSN_FILE=/dev/fd/"),
                      "%s: %s", comm, env.s);
        strbuf_free(&env);
        /* Read and closed, but by lighttpd, which respawns workers. */
        bool holds = false;
        snprintf(path, sizeof path, "/proc/%d/fd", (int)b.procs[i].pid);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char link[PATH_MAX], target[256] = "";
            snprintf(link, sizeof link, "%s/%s", path, e->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0 && strstr(target, "memfd:PARSEC_"))
                holds = true;
        }
        if (d)
            closedir(d);
        ck_assert_msg(holds == !strcmp(comm, "lighttpd"), "%s %s the secrets' descriptors", comm,
                      holds ? "still holds" : "lacks");
        checked++;
    }
    ck_assert_int_ge(checked, 3); /* lighttpd, notifyd, a worker at least */
    br_stop(&b, SIGTERM);
    br_check_clean(&b);
}
END_TEST

/* A helper program that is missing: refused, status 1, naming the path. */
START_TEST(lighttpd_missing_refused)
{
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    const char *env[] = {"PARSEC_LIGHTTPD_BIN=/nonexistent/lighttpd", NULL};
    br_refused(args, env, 1, "parsec: lighttpd not usable at /nonexistent/lighttpd: No such file");
}
END_TEST

START_TEST(worker_missing_refused)
{
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    const char *env[] = {"PARSEC_FCGI_BIN=/nonexistent/parsec-fcgi", NULL};
    br_refused(args, env, 1,
               "parsec: the FastCGI worker is not usable at /nonexistent/parsec-fcgi");
}
END_TEST

START_TEST(bad_settings_exit_2)
{
    const char *args[] = {"--port", "%P", "--db", "MOCKED", NULL}; /* no blockstore... */
    br_refused(args, NULL, 2, "parsec: ");
    const char *args2[] = {"--dev", "--port", "%P", "--notifyd-port", "%P", NULL};
    br_refused(args2, NULL, 2, "must differ");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Tests: TLS, logs, websocket                                               */

START_TEST(tls_serves_https)
{
    char dir[PATH_MAX];
    br_tmpdir(dir, sizeof dir, "brtls");
    char *cmd = xasprintf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem "
                          "-out cert.pem -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
                          dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *key = xasprintf("%s/key.pem", dir), *cert = xasprintf("%s/cert.pem", dir);
    /* The key stays readable by root only: lighttpd loads it before it
     * drops privileges. */
    ck_assert_int_eq(chmod(key, 0600), 0);

    br_t b;
    const char *args[] = {
        "--dev",          "--port", "%P", "--notifyd-port", "%N", "--ssl-keyfile", key,
        "--ssl-certfile", cert,     NULL};
    br_serve(&b, args);
    char *want = xasprintf("parsec: serving on https://127.0.0.1:%d ", b.port);
    br_stdout_has(&b, want, true);
    free(want);

    /* Verified against the certificate as its own CA. */
    char *url = xasprintf("https://127.0.0.1:%d/", b.port);
    resp_t r = http("GET", url, NULL, cert);
    ck_assert_msg(r.status == 200, "https GET /: %ld %s", r.status, r.error);
    resp_free(&r);
    free(url);
    url = xasprintf("https://127.0.0.1:%d/redirect/Org", b.port);
    r = http("GET", url, NULL, cert);
    ck_assert_int_eq(r.status, 302);
    /* --dev without no_ssl under TLS */
    char *loc = xasprintf("Location: parsec://localhost:%d/Org", b.port);
    ck_assert_msg(strcasestr(r.headers, loc) && !strstr(r.headers, "no_ssl=true"), "headers: %s",
                  r.headers);
    free(loc);
    resp_free(&r);
    free(url);
    /* Plain HTTP on the TLS port gets no page. */
    resp_t p = br_get(&b, "/");
    ck_assert_int_ne(p.status, 200);
    resp_free(&p);

    br_stop(&b, SIGINT);
    br_check_clean(&b);
    free(key);
    free(cert);
    testenv_rm_rf(dir);
}
END_TEST

/* --log-file with JSON: the supervisor's lines, the workers' (relayed) and
 * lighttpd's (re-logged) all land there, each a JSON object; SIGHUP reopens
 * the file (logrotate). */
START_TEST(json_log_file_and_reopen)
{
    char dir[PATH_MAX];
    br_tmpdir(dir, sizeof dir, "brlog");
    char *log = xasprintf("%s/parsec.log", dir), *rotated = xasprintf("%s/parsec.log.1", dir);

    br_t b;
    const char *args[] = {"--dev", "--port",       "%P",   "--notifyd-port", "%N",   "--log-file",
                          log,     "--log-format", "JSON", "--log-level",    "INFO", NULL};
    br_serve(&b, args);
    resp_t r = br_get(&b, "/health");
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);

    ck_assert_int_eq(rename(log, rotated), 0);
    ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
    /* The reopen happens in the supervisor's loop: wait for the new file. */
    long long deadline = sup_now_ms() + 10000;
    struct stat st;
    while (stat(log, &st) < 0 && sup_now_ms() < deadline)
        sup_sleep_ms(20);
    ck_assert_msg(stat(log, &st) == 0, "SIGHUP did not reopen the log file");
    r = br_get(&b, "/");
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    sup_sleep_ms(300); /* the relayed line travels through a pipe */
    br_stop(&b, SIGTERM);

    bool seen_parsec = false, seen_fcgi = false, seen_lighttpd = false, seen_after = false;
    for (int f = 0; f < 2; f++) {
        char *text = read_file(f == 0 ? rotated : log);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_object *o = json_tokener_parse(line);
            ck_assert_msg(o && json_object_is_type(o, json_type_object), "not JSON: %s", line);
            json_object *prog, *msg;
            ck_assert(json_object_object_get_ex(o, "program", &prog));
            ck_assert(json_object_object_get_ex(o, "msg", &msg));
            const char *p = json_object_get_string(prog), *m = json_object_get_string(msg);
            if (!strcmp(p, "parsec") && strstr(m, "serving on"))
                seen_parsec = true;
            if (!strcmp(p, "parsec-fcgi"))
                seen_fcgi = true;
            if (!strcmp(p, "parsec") && !strncmp(m, "lighttpd: ", 10))
                seen_lighttpd = true;
            if (f == 1 && !strcmp(p, "parsec-fcgi") && strstr(m, "GET / "))
                seen_after = true;
            json_object_put(o);
        }
        free(text);
    }
    ck_assert_msg(seen_parsec, "no 'serving on' line from the supervisor");
    ck_assert_msg(seen_fcgi, "no line from the workers");
    ck_assert_msg(seen_lighttpd, "no line from lighttpd");
    ck_assert_msg(seen_after, "no worker line in the reopened file");
    /* Nothing but the final status went to stderr. */
    char *err = read_file(b.err);
    ck_assert_msg(err[0] == '\0', "stderr: %s", err);
    free(err);
    br_check_clean(&b);
    free(log);
    free(rotated);
    testenv_rm_rf(dir);
}
END_TEST

/* /ws reaches parsec-notifyd through lighttpd on the same port. */
START_TEST(ws_proxied_to_notifyd)
{
    char *nd = testenv_build_path("parsec-notifyd");
    ck_assert_msg(access(nd, X_OK) == 0, "%s is not built", nd);
    free(nd);
    br_t b;
    const char *args[] = {"--dev", "--port", "%P", "--notifyd-port", "%N", NULL};
    br_serve(&b, args);
    ck_assert_msg(br_proc(&b, "parsec-notifyd") != NULL, "notifyd not started");
    char *line = ws_upgrade(b.port, "/ws");
    ck_assert_msg(!strncmp(line, "HTTP/1.1 101", 12), "upgrade through lighttpd: \"%s\"", line);
    free(line);
    /* Other paths still go to the workers. */
    resp_t r = br_get(&b, "/wsx");
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    br_stop(&b, SIGTERM);
    br_check_clean(&b);
}
END_TEST

START_TEST(notifyd_dying_stops_everything)
{
    char *nd = testenv_build_path("parsec-notifyd");
    ck_assert_msg(access(nd, X_OK) == 0, "%s is not built", nd);
    free(nd);
    br_t b;
    br_child_killed(&b, "parsec-notifyd", "parsec: parsec-notifyd was killed by signal 9");
    br_check_clean(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Tests: the generated lighttpd configuration                               */

/* lighttpd -tt: parse the file and run its preflight checks. */
static int lighttpd_tt(const char *conf)
{
    char *cmd = xasprintf("PATH=$PATH:/usr/sbin lighttpd -tt -f '%s' >/dev/null 2>&1", conf);
    int rc = system(cmd);
    free(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(lighttpd_conf_accepted_by_lighttpd)
{
    char dir[PATH_MAX], err[256];
    br_tmpdir(dir, sizeof dir, "brconf");
    char *cmd = xasprintf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem "
                          "-out cert.pem -days 1 -subj /CN=localhost >/dev/null 2>&1",
                          dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *key = xasprintf("%s/key.pem", dir), *cert = xasprintf("%s/cert.pem", dir);
    char *fcgi = testenv_build_path("parsec-fcgi");
    const char *names[] = {"PATH", "PARSEC_DB", NULL};
    const char *hosts[] = {"127.0.0.1", "::1", "0.0.0.0", "localhost"};

    for (int variant = 0; variant < 8; variant++) {
        lighttpd_conf_t c = {
            .host = hosts[variant % 4],
            .port = 8080,
            .docroot = dir,
            .socket_dir = dir,
            .upload_dir = dir,
            .fcgi_bin = fcgi,
            .fcgi_procs = 2,
            .fcgi_env_names = names,
            .notifyd_host = variant & 1 ? "127.0.0.1" : NULL,
            .notifyd_port = variant & 1 ? 6778 : 0,
            .ssl_certfile = variant & 2 ? cert : NULL,
            .ssl_keyfile = variant & 2 ? key : NULL,
            .username = variant & 4 ? "www-data" : NULL,
            .groupname = variant & 4 ? "www-data" : NULL,
            .max_request_size = 1048576,
        };
        char *path = xasprintf("%s/l%d.conf", dir, variant);
        ck_assert_msg(lighttpd_conf_write(&c, path, err, sizeof err), "%s", err);
        char *text = read_file(path);
        ck_assert_msg(lighttpd_tt(path) == 0, "lighttpd -tt refused variant %d:\n%s", variant,
                      text);
        ck_assert(strstr(text, "\"check-local\" => \"disable\""));
        ck_assert(strstr(text, "\"fix-root-scriptname\" => \"enable\""));
        ck_assert(strstr(text, "\"bin-copy-environment\" => (\"PATH\", \"PARSEC_DB\")"));
        ck_assert(strstr(text, "server.max-request-size = 1026\n"));
        ck_assert(!(variant & 1) == !strstr(text, "proxy.header = (\"upgrade\" => \"enable\")"));
        ck_assert(!(variant & 2) == !strstr(text, "ssl.engine = \"enable\""));
        if (variant % 4 == 1)
            ck_assert(strstr(text, "server.bind = \"[::1]\""));
        /* Not writable twice: never overwrites a file. */
        ck_assert(!lighttpd_conf_write(&c, path, err, sizeof err));
        free(text);
        free(path);
    }

    /* Values lighttpd's syntax cannot carry are refused, not mangled. */
    lighttpd_conf_t c = {.host = "127.0.0.1",
                         .port = 8080,
                         .docroot = "/tmp/a\\",
                         .socket_dir = dir,
                         .upload_dir = dir,
                         .fcgi_bin = fcgi,
                         .fcgi_procs = 1,
                         .max_request_size = 4096};
    char *t = lighttpd_conf_render(&c, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "backslash"), "%s", err);
    c.docroot = "/tmp/a\nserver.port = 1";
    t = lighttpd_conf_render(&c, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "control character"), "%s", err);
    /* A quote is escaped. */
    c.docroot = "/tmp/a\"b";
    t = lighttpd_conf_render(&c, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    ck_assert(strstr(t, "server.document-root = \"/tmp/a\\\"b\"\n"));
    free(t);
    c.ssl_certfile = cert; /* without the key */
    ck_assert_ptr_null(lighttpd_conf_render(&c, err, sizeof err));

    free(fcgi);
    free(key);
    free(cert);
    testenv_rm_rf(dir);
}
END_TEST

TEST_SUITE(backend_run)
{
    Suite *s = suite_create("backend_run");
    TCase *tc = tcase_create("backend_run");
    (void)testenv_db_setup();
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, lighttpd_conf_accepted_by_lighttpd);
    tcase_add_test(tc, bad_settings_exit_2);
    tcase_add_test(tc, lighttpd_missing_refused);
    tcase_add_test(tc, worker_missing_refused);
    tcase_add_test(tc, port_in_use_refused);
    tcase_add_test(tc, database_unreachable_refused);
    tcase_add_test(tc, stop_while_waiting_for_database);
    tcase_add_test(tc, schema_behind_refused);
    tcase_add_test(tc, url_database_up_to_date_serves);
    tcase_add_test(tc, dev_serves_and_stops_clean);
    tcase_add_test(tc, sigint_stops_clean);
    tcase_add_test(tc, lighttpd_dying_stops_everything);
    tcase_add_test(tc, lighttpd_exiting_early_reported);
    tcase_add_test(tc, bad_tls_key_is_one_line);
    tcase_add_test(tc, database_refusal_is_not_retried);
    tcase_add_test(tc, secrets_stay_out_of_the_environment);
    tcase_add_test(tc, tls_serves_https);
    tcase_add_test(tc, json_log_file_and_reopen);
    tcase_add_test(tc, ws_proxied_to_notifyd);
    tcase_add_test(tc, notifyd_dying_stops_everything);
    suite_add_tcase(s, tc);
    return s;
}
