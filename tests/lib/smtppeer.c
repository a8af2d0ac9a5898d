/*
 * tests/lib/smtppeer.c - a real SMTP server for tests (see smtppeer.h)
 */
#include "smtppeer.h"

#include "strbuf.h"
#include "supervise.h"
#include "testenv.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON        "/usr/bin/python3"
#define START_TIMEOUT 20000 /* ms: openssl and the imports on a busy machine */
#define STOP_TIMEOUT  5000
#define PARSE_TIMEOUT 20000

struct smtppeer {
    pid_t pid;
    int stdin_fd; /* our end of its stdin: closing it stops the peer */
    int port;
    char *dir, *ca_file;
};

static const char *script_path(void)
{
    static char path[4096];
    const char *src = getenv("PARSEC_TEST_SRC");
    snprintf(path, sizeof path, "%s/tests/harness/smtp_peer.py",
             src && *src ? src : PARSEC_DATA_DIR);
    return path;
}

/*
 * spawn - fork/exec argv with stdin from in_fd, stdout to out_fd (-1:
 * /dev/null) and stderr appended to errpath; no other descriptor of ours
 * leaks into it, and it gets SIGTERM if the calling thread dies.
 */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, const char *errpath)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int err = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int devnull = open("/dev/null", O_RDWR);
    if (err < 0 || devnull < 0 || dup2(in_fd >= 0 ? in_fd : devnull, 0) < 0 ||
        dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    close_range(3, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(126);
    execv(argv[0], argv);
    fprintf(stderr, "smtppeer: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* read_until - read fd into b until it holds a newline, EOF, or the
 * deadline passes; true when a line came. */
static bool read_line(int fd, strbuf_t *b, long long deadline)
{
    while (!b->s || !memchr(b->s, '\n', b->len)) {
        long long left = deadline - sup_now_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        char buf[256];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        strbuf_append(b, buf, (size_t)r);
    }
    return true;
}

static void dump_log(const char *dir)
{
    char *path = xasprintf("%s/peer.log", dir);
    strbuf_t b = STRBUF_INIT;
    if (strbuf_read_file(&b, path) && b.len)
        fprintf(stderr, "smtppeer: its log:\n%s\n", b.s);
    strbuf_free(&b);
    free(path);
}

/* reap - wait up to ms for pid; SIGKILL it after that.  True when it exited
 * by itself. */
static bool reap(pid_t pid, int ms)
{
    long long deadline = sup_now_ms() + ms;
    int status;
    while (sup_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        sup_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return false;
}

smtppeer_t *smtppeer_start(const smtppeer_opts_t *o)
{
    smtppeer_t *p = xcalloc(1, sizeof *p);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    strvec_t argv = STRVEC_INIT;
    strbuf_t line = STRBUF_INIT;
    p->stdin_fd = -1;

    const char *base = getenv("PARSEC_TEST_TMP");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    p->dir = xasprintf("%s/smtppeer.XXXXXX", base);
    if (!mkdtemp(p->dir)) {
        fprintf(stderr, "smtppeer: mkdtemp %s: %s\n", p->dir, strerror(errno));
        free(p->dir);
        p->dir = NULL;
        goto fail;
    }
    p->ca_file = xasprintf("%s/ca.pem", p->dir);
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        fprintf(stderr, "smtppeer: pipe: %s\n", strerror(errno));
        goto fail;
    }

    strvec_push(&argv, xstrdup(PYTHON));
    strvec_push(&argv, xstrdup("-u"));
    strvec_push(&argv, xstrdup(script_path()));
    strvec_push(&argv, xstrdup("serve"));
    strvec_pushf(&argv, "--dir=%s", p->dir);
    strvec_pushf(&argv, "--tls=%s", o->tls ? o->tls : "none");
    strvec_pushf(&argv, "--auth=%s", o->auth ? o->auth : "none");
    strvec_pushf(&argv, "--user=%s", o->user ? o->user : "");
    strvec_pushf(&argv, "--password=%s", o->password ? o->password : "");
    strvec_pushf(&argv, "--mode=%s", o->mode ? o->mode : "smtp");
    if (o->refuse_rcpt)
        strvec_pushf(&argv, "--refuse-rcpt=%s", o->refuse_rcpt);
    if (o->tempfail_rcpt)
        strvec_pushf(&argv, "--tempfail-rcpt=%s", o->tempfail_rcpt);
    if (o->cert_name)
        strvec_pushf(&argv, "--cert-name=%s", o->cert_name);
    if (o->refuse_mail)
        strvec_push(&argv, xstrdup("--refuse-mail"));
    if (o->refuse_data)
        strvec_push(&argv, xstrdup("--refuse-data"));

    char *errpath = xasprintf("%s/peer.log", p->dir);
    p->pid = spawn(argv.v, in[0], out[1], errpath);
    free(errpath);
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    if (p->pid < 0) {
        fprintf(stderr, "smtppeer: fork: %s\n", strerror(errno));
        goto fail;
    }
    p->stdin_fd = in[1];
    in[1] = -1;

    if (!read_line(out[0], &line, sup_now_ms() + START_TIMEOUT) ||
        sscanf(line.s, "READY %d", &p->port) != 1 || p->port <= 0) {
        fprintf(stderr, "smtppeer: the peer did not start (said: %s)\n", line.s ? line.s : "");
        dump_log(p->dir);
        goto fail;
    }
    close(out[0]);
    strvec_free(&argv);
    strbuf_free(&line);
    return p;

fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    strvec_free(&argv);
    strbuf_free(&line);
    smtppeer_stop(p);
    return NULL;
}

int smtppeer_port(const smtppeer_t *p)
{
    return p->port;
}

const char *smtppeer_dir(const smtppeer_t *p)
{
    return p->dir;
}

const char *smtppeer_ca_file(const smtppeer_t *p)
{
    return p->ca_file;
}

int smtppeer_count(const smtppeer_t *p)
{
    int n = 0;
    for (;; n++) {
        char *path = xasprintf("%s/msg-%d.json", p->dir, n);
        bool there = access(path, F_OK) == 0;
        free(path);
        if (!there)
            return n;
    }
}

json_object *smtppeer_message(const smtppeer_t *p, int n)
{
    char *path = xasprintf("%s/msg-%d.json", p->dir, n);
    json_object *o = json_object_from_file(path);
    free(path);
    return o;
}

char *smtppeer_raw(const smtppeer_t *p, int n, size_t *len)
{
    char *path = xasprintf("%s/msg-%d.eml", p->dir, n);
    strbuf_t b = STRBUF_INIT;
    bool ok = strbuf_read_file(&b, path);
    free(path);
    if (!ok) {
        strbuf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.s ? strbuf_detach(&b) : xstrdup("");
}

json_object *smtppeer_parse_file(const char *path)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return NULL;
    char *argv[] = {PYTHON, (char *)script_path(), "parse", (char *)path, NULL};
    char errpath[] = "/dev/stderr";
    pid_t pid = spawn(argv, -1, out[1], errpath);
    close(out[1]);
    strbuf_t b = STRBUF_INIT;
    long long deadline = sup_now_ms() + PARSE_TIMEOUT;
    for (;;) {
        long long left = deadline - sup_now_ms();
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            break;
        char buf[4096];
        ssize_t r = read(out[0], buf, sizeof buf);
        if (r <= 0)
            break;
        strbuf_append(&b, buf, (size_t)r);
    }
    close(out[0]);
    if (pid > 0)
        reap(pid, STOP_TIMEOUT);
    json_object *o = b.s ? json_tokener_parse(b.s) : NULL;
    if (!o)
        fprintf(stderr, "smtppeer: could not parse %s\n", path);
    strbuf_free(&b);
    return o;
}

bool smtppeer_stop(smtppeer_t *p)
{
    if (!p)
        return true;
    bool clean = true;
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    if (p->pid > 0) {
        clean = reap(p->pid, STOP_TIMEOUT);
        if (!clean) {
            fprintf(stderr, "smtppeer: the peer did not stop by itself\n");
            dump_log(p->dir);
        }
    }
    if (p->dir)
        testenv_rm_rf(p->dir);
    free(p->dir);
    free(p->ca_file);
    free(p);
    return clean;
}
