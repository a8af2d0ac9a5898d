/*
 * cli/backend_run_relay.c - `parsec backend run`: signals, the one poll()
 * loop, and the children's output relayed into the log (see backend_run.h)
 *
 * Signals are turned into bytes on a pipe (the self-pipe trick) that the one
 * poll() loop reads, so nothing but write(2) runs in signal context.  The
 * children's stdout and stderr come back on pipes too: lines of our own
 * binaries (already formatted by their log.c) are copied verbatim into the
 * log destination, lighttpd's own messages are re-logged through log.h.  So
 * one process owns the log file, reopens it on SIGHUP, and workers dropped
 * to an unprivileged user need no access to it.
 */
#include "backend_run.h"

#include "log.h"
#include "xalloc.h"

#include <json-c/json.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */

volatile sig_atomic_t run_stop_signal; /* SIGINT/SIGTERM received */
static volatile sig_atomic_t run_hup;  /* SIGHUP received */
static int run_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        run_hup = 1;
    else if (sig == SIGINT || sig == SIGTERM)
        run_stop_signal = sig;
    char c = (char)sig;
    if (write(run_sigpipe[1], &c, 1) < 0) {
        /* the pipe is full: the loop wakes up anyway */
    }
    errno = saved;
}

bool run_signals_install(char *err, size_t errlen)
{
    if (pipe2(run_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        return false;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
    /* A child's pipe closing under a write must be an error, not death. */
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
    return true;
}

void run_signals_restore(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
    for (int i = 0; i < 2; i++)
        if (run_sigpipe[i] >= 0) {
            close(run_sigpipe[i]);
            run_sigpipe[i] = -1;
        }
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                  */

/* run_fail - see backend_run.h. */
void run_fail(run_t *r, const char *fmt, ...)
{
    if (r->fail[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail, sizeof r->fail, fmt, ap);
    va_end(ap);
    for (char *c = r->fail; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

void run_fail_flush(run_t *r)
{
    if (!r->fail[0])
        return;
    fprintf(stderr, "parsec: %s\n", r->fail);
    fflush(stderr);
    if (r->have_cfg && r->cfg.log_file)
        log_error("%s", r->fail);
}

/* ------------------------------------------------------------------------ */
/* Output of the children                                                    */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to log to */
        p += w;
        n -= (size_t)w;
    }
}

/* "2026-11-29 19:26:05: (" - the start of lighttpd's error log lines. */
static bool lighttpd_line(const char *s, size_t n)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd: (";
    if (n < sizeof pat - 1)
        return false;
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
            return false;
    }
    return true;
}

/* chatter - a DEBUG or INFO line of our own binaries (log.h's formats):
 * never what a failure message should quote. */
static bool chatter(const char *s)
{
    if (s[0] == '{')
        return strstr(s, "\"level\":\"INFO\"") || strstr(s, "\"level\":\"DEBUG\"");
    const char *sp = strchr(s, ' ');
    return sp && (!strncmp(sp + 1, "INFO ", 5) || !strncmp(sp + 1, "DEBUG ", 6));
}

/* The message of one of our log lines, for quoting: CONSOLE's text after
 * "TS LEVEL program[pid] ", JSON's "msg"; anything else as it is. */
static void line_message(const char *s, char *out, size_t n)
{
    if (s[0] == '{') {
        json_object *o = json_tokener_parse(s), *m = NULL;
        if (o && json_object_object_get_ex(o, "msg", &m) &&
            json_object_is_type(m, json_type_string))
            snprintf(out, n, "%s", json_object_get_string(m));
        else
            snprintf(out, n, "%s", s);
        json_object_put(o);
        return;
    }
    const char *lvl = strchr(s, ' ');
    const char *prog = lvl ? strchr(lvl + 1, ' ') : NULL;
    const char *end = prog ? strstr(prog + 1, "] ") : NULL;
    bool ours = lvl && prog && end && s[0] >= '0' && s[0] <= '9' && lvl - s == 27;
    snprintf(out, n, "%s", ours ? end + 2 : s);
}

/* Where a lighttpd message starts: after its "(file.c.123) " source. */
static const char *lighttpd_text(const char *msg)
{
    if (msg[0] != '(')
        return msg;
    const char *close = strstr(msg, ") ");
    return close ? close + 2 : msg;
}

/* note - remember a line worth quoting. */
static void note(run_part_t *p, const char *what)
{
    if (!p->first[0])
        snprintf(p->first, sizeof p->first, "%s", what);
    snprintf(p->last, sizeof p->last, "%s", what);
}

/* emit - one line of a child into the log: lighttpd's own re-logged in our
 * format and level, ours copied as they are. */
static void emit(run_t *r, run_part_t *p, const char *s, size_t n)
{
    if (p->is_lighttpd && lighttpd_line(s, n)) {
        /* "server started"-like notices are INFO, everything else lighttpd
         * says is worth a look. */
        const char *msg = s + 21;
        bool notice = strstr(msg, "server started") || strstr(msg, "server stopped") ||
                      strstr(msg, "graceful shutdown");
        log_write(notice ? CFG_LOG_INFO : CFG_LOG_WARNING, "lighttpd: %s", msg);
        return;
    }
    char *line = xmalloc(n + 1); /* one write per line */
    memcpy(line, s, n);
    line[n] = '\n';
    write_all(r->raw_fd, line, n + 1);
    free(line);
}

/* Lines held per part, at most: a part that cannot start says why early. */
#define RUN_HELD_MAX 200

/* relay_line - one line (without its newline) written by a child. */
static void relay_line(run_t *r, run_part_t *p, char *s, size_t n)
{
    if (n == 0)
        return;
    s[n] = '\0';
    if (p == &r->notifyd && !p->ready && !strncmp(s, "ready ", 6)) {
        /* "ready ws://HOST:PORT/ws": the port matters when 0 was asked. */
        const char *colon = strrchr(s, ':');
        p->ready = true;
        p->ready_port = colon ? atoi(colon + 1) : 0;
        run_release(r, p, true);
        log_info("parsec-notifyd: %s", s);
        return;
    }
    char what[512];
    if (p->is_lighttpd && lighttpd_line(s, n)) {
        const char *msg = s + 21;
        if (!strstr(msg, "server started") && !strstr(msg, "server stopped") &&
            !strstr(msg, "graceful shutdown")) {
            snprintf(what, sizeof what, "%s", lighttpd_text(msg));
            note(p, what);
        }
    } else if (!chatter(s)) {
        line_message(s, what, sizeof what);
        note(p, what);
    }
    if (p->holding) {
        if (p->held.n < RUN_HELD_MAX)
            strvec_push(&p->held, xstrndup(s, n));
        return;
    }
    emit(r, p, s, n);
}

void run_release(run_t *r, run_part_t *p, bool ready)
{
    bool relay = ready || (r->have_cfg && r->cfg.log_file) || log_enabled(CFG_LOG_INFO);
    for (size_t i = 0; relay && i < p->held.n; i++)
        emit(r, p, p->held.v[i], strlen(p->held.v[i]));
    strvec_free(&p->held);
    p->holding = false;
    if (ready)
        p->first[0] = '\0'; /* a later failure's cause comes after this */
}

/* run_drain - read what a child wrote; false once its pipe is closed. */
bool run_drain(run_t *r, run_part_t *p)
{
    while (p->ch.out_fd >= 0) {
        ssize_t n = read(p->ch.out_fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            relay_line(r, p, p->buf, p->len);
            p->len = 0;
            sup_close_output(&p->ch);
            return false;
        }
        p->len += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < p->len; i++) {
            if (p->buf[i] == '\n') {
                relay_line(r, p, p->buf + start, i - start);
                start = i + 1;
            }
        }
        if (start == 0 && p->len == sizeof p->buf - 1) {
            relay_line(r, p, p->buf, p->len); /* a line too long: in pieces */
            start = p->len;
        }
        memmove(p->buf, p->buf + start, p->len - start);
        p->len -= start;
    }
    return false;
}

static void reopen_logs(run_t *r)
{
    log_reopen();
    if (r->raw_fd_owned) {
        int fd = open(r->cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0) {
            log_error("cannot reopen %s: %s", r->cfg.log_file, strerror(errno));
            return;
        }
        dup3(fd, r->raw_fd, O_CLOEXEC);
        close(fd);
    }
}

/*
 * run_pump - wait up to timeout_ms for a signal or output, then handle them:
 * relay output, reap children, reopen logs and pass SIGHUP on.
 */
void run_pump(run_t *r, int timeout_ms)
{
    struct pollfd fds[3];
    run_part_t *parts[2] = {&r->notifyd, &r->lighttpd};
    run_part_t *at[3] = {NULL, NULL, NULL};
    nfds_t n = 0;

    fds[n].fd = run_sigpipe[0];
    fds[n].events = POLLIN;
    n++;
    for (int i = 0; i < 2; i++) {
        if (parts[i]->spawned && parts[i]->ch.out_fd >= 0) {
            fds[n].fd = parts[i]->ch.out_fd;
            fds[n].events = POLLIN;
            at[n] = parts[i];
            n++;
        }
    }
    int rc = poll(fds, n, timeout_ms);
    if (rc > 0) {
        if (fds[0].revents) {
            char tmp[64];
            while (read(run_sigpipe[0], tmp, sizeof tmp) > 0)
                ;
        }
        for (nfds_t i = 1; i < n; i++)
            if (fds[i].revents)
                run_drain(r, at[i]);
    }
    if (run_hup) {
        run_hup = 0;
        reopen_logs(r);
        /* lighttpd reopens its logs; notifyd its --log-file (it has none
         * from us, but it is harmless).  Workers log through the pipe. */
        for (int i = 0; i < 2; i++)
            if (parts[i]->spawned && parts[i]->ch.running)
                kill(parts[i]->ch.pid, SIGHUP);
    }
    for (int i = 0; i < 2; i++)
        if (parts[i]->spawned)
            sup_reap(&parts[i]->ch);
}

bool run_part_failed(run_t *r, run_part_t *p, const char *name, const char *when, const char *then)
{
    char why[128];
    if (!p->spawned || p->ch.running)
        return false;
    sup_describe_status(p->ch.status, why, sizeof why);
    run_drain(r, p);
    /* lighttpd's first complaint is the cause, the rest its consequences;
     * our binaries end with the line that names theirs. */
    const char *cause = p->is_lighttpd && p->first[0] ? p->first : p->last;
    run_fail(r, "%s %s %s%s%s%s", name, why, when, cause[0] ? ": " : "", cause, then);
    return true;
}

/* run_stop_part - stop a part, relaying its last words while it goes. */
void run_stop_part(run_t *r, run_part_t *p, int sig, int timeout_ms)
{
    if (!p->spawned)
        return;
    if (p->ch.running) {
        kill(p->ch.pid, sig);
        long long deadline = sup_now_ms() + timeout_ms;
        while (p->ch.running && sup_now_ms() < deadline)
            run_pump(r, 50);
    }
    /* Escalates if it is still there; sweeps what is left of its group. */
    sup_stop(&p->ch, SIGTERM, 2000);
    if (p->ch.out_fd >= 0) {
        long long deadline = sup_now_ms() + 1000;
        while (run_drain(r, p) && sup_now_ms() < deadline)
            poll(NULL, 0, 10);
    }
    sup_close_output(&p->ch);
}
