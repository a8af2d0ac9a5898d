/*
 * common/log.c - CONSOLE and JSON log lines, one write(2) each (see log.h)
 *
 * The hot path (log_write) takes no lock: the level, format and descriptor
 * are atomics, the context is thread-local, and a line is built in memory
 * and written at once.  The mutex only serialises the rare changes of
 * destination (open, reopen, close) against each other.
 */
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#include <json-c/json.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY)
#define LOG_FILE_MODE  0640

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_level_v = CFG_LOG_WARNING;
static atomic_int log_format_v = CFG_LOG_CONSOLE;
static atomic_int log_fd = STDERR_FILENO;
/* Guarded by log_mu: whether log_fd is ours to close, and its path. */
static bool log_fd_owned;
static char *log_path;
/* Written by log_open() only, before threads log (see log.h). */
static char log_program[LOG_PROGRAM_MAX + 1] = "parsec";
static _Thread_local char log_ctx[LOG_CONTEXT_MAX + 1];
static _Atomic(log_hook_fn) log_hook; /* log_set_hook(): lines at ERROR and above */

/*
 * Repeated identical lines (WARNING and above): the first is written, the
 * same level and text again within the window only counts, and once the
 * window is over one line "<text> (repeated N times)" says how many were
 * held back.  The table is small on purpose: what floods a log is one or two
 * messages (the database is down), not many.
 */
#define LOG_REPEAT_SLOTS 16
typedef struct {
    bool used;
    int level;
    uint64_t hash;
    size_t len;
    char *msg;          /* the text, for the summary line (malloc'd) */
    long long start_ms; /* when the line was last written */
    unsigned long held; /* identical lines not written since */
} log_repeat_t;
static pthread_mutex_t log_repeat_mu = PTHREAD_MUTEX_INITIALIZER;
static log_repeat_t log_repeat[LOG_REPEAT_SLOTS]; /* guarded by log_repeat_mu */
static atomic_int log_repeat_window = LOG_REPEAT_WINDOW_MS;
/* Earliest end of a window with lines held back, LLONG_MAX when none: lets
 * log_write() skip the lock in the common case. */
static atomic_llong log_repeat_due = LLONG_MAX;

/*
 * utf8_seq - length (1-4) of the well-formed UTF-8 sequence at s[0..n), or 0
 * when it is not one (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, cut short).  *cp receives the code point.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return len;
}

/*
 * utf8_cut - where to cut s so that at most max bytes stay without splitting
 * a UTF-8 sequence.  s[max] must be readable (the first byte dropped).
 */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t cut = max;
    while (cut > 0 && cut + 3 > max && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* console_escape - append s[0..n) so that it cannot end the line or drive a
 * terminal (the rules are listed in log.h). */
static void console_escape(strbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char esc[8];
    size_t i = 0;

    while (i < n) {
        unsigned char c = u[i];
        uint32_t cp;
        size_t len;

        switch (c) {
        case '\n':
            strbuf_append(b, "\\n", 2);
            i++;
            continue;
        case '\r':
            strbuf_append(b, "\\r", 2);
            i++;
            continue;
        case '\t':
            strbuf_append(b, "\\t", 2);
            i++;
            continue;
        case '\\':
            strbuf_append(b, "\\\\", 2);
            i++;
            continue;
        default:
            break;
        }
        if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            strbuf_append(b, esc, 4);
            i++;
            continue;
        }
        len = utf8_seq(u + i, n - i, &cp);
        if (len == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            strbuf_append(b, esc, 4);
            i++;
        } else if (cp >= 0x80 && cp <= 0x9F) {
            /* C1 controls: some terminals obey U+009B as CSI */
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            strbuf_append(b, esc, 6);
            i += len;
        } else {
            strbuf_append(b, s + i, len);
            i += len;
        }
    }
}

/* utf8_sanitize - append s[0..n) with every ill-formed byte replaced by
 * U+FFFD, so that the JSON line is valid UTF-8. */
static void utf8_sanitize(strbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_seq(u + i, n - i, &cp);
        if (len == 0) {
            strbuf_append(b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            strbuf_append(b, s + i, len);
            i += len;
        }
    }
}

/* timestamp - UTC, microseconds: 2026-11-29T19:22:03.123456Z */
static void timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) {
        snprintf(out, outlen, "0000-00-00T00:00:00.000000Z");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* json-c reports allocation failure with NULL or -1: the xalloc policy. */
static json_object *jcheck(json_object *o)
{
    if (!o)
        abort();
    return o;
}

static void jadd(json_object *obj, const char *key, json_object *val)
{
    if (json_object_object_add(obj, key, jcheck(val)) != 0)
        abort();
}

static json_object *jstring_utf8(const char *s, size_t n, const char *suffix)
{
    strbuf_t b = STRBUF_INIT; /* one line, one write */
    utf8_sanitize(&b, s, n);
    if (suffix)
        strbuf_puts(&b, suffix);
    json_object *o = jcheck(json_object_new_string_len(strbuf_cstr(&b), (int)b.len));
    strbuf_free(&b);
    return o;
}

static void json_line(strbuf_t *b, const char *ts, cfg_log_level level, const char *ctx,
                      const char *msg, size_t msglen, bool cut, unsigned long repeated)
{
    json_object *o = jcheck(json_object_new_object());
    jadd(o, "ts", json_object_new_string(ts));
    jadd(o, "level", json_object_new_string(cfg_log_level_name(level)));
    jadd(o, "program", jstring_utf8(log_program, strlen(log_program), NULL));
    jadd(o, "pid", json_object_new_int((int)getpid()));
    if (ctx[0])
        jadd(o, "context", jstring_utf8(ctx, strlen(ctx), NULL));
    jadd(o, "msg", jstring_utf8(msg, msglen, cut ? LOG_TRUNCATED_MARK : NULL));
    if (repeated)
        jadd(o, "repeated", json_object_new_int64((int64_t)repeated));

    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        abort();
    strbuf_append(b, s, len);
    strbuf_append(b, "\n", 1);
    json_object_put(o);
}

static void console_line(strbuf_t *b, const char *ts, cfg_log_level level, const char *ctx,
                         const char *msg, size_t msglen, bool cut, unsigned long repeated)
{
    char pid[24];
    strbuf_puts(b, ts);
    strbuf_append(b, " ", 1);
    strbuf_puts(b, cfg_log_level_name(level));
    strbuf_append(b, " ", 1);
    console_escape(b, log_program, strlen(log_program));
    snprintf(pid, sizeof pid, "[%d] ", (int)getpid());
    strbuf_puts(b, pid);
    if (ctx[0]) {
        console_escape(b, ctx, strlen(ctx));
        strbuf_append(b, " ", 1);
    }
    console_escape(b, msg, msglen);
    if (cut)
        strbuf_puts(b, LOG_TRUNCATED_MARK);
    if (repeated) {
        char rep[64];
        snprintf(rep, sizeof rep, " (repeated %lu time%s)", repeated, repeated == 1 ? "" : "s");
        strbuf_puts(b, rep);
    }
    strbuf_append(b, "\n", 1);
}

/* write_all - one write(2) in the normal case; the loop only finishes a
 * write cut short by a signal or a full disk, so the newline still lands. */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* copy_cut - copy src into dst[max + 1], cut on a UTF-8 boundary. */
static void copy_cut(char *dst, const char *src, size_t max)
{
    size_t n = strnlen(src, max + 1);
    if (n > max)
        n = utf8_cut(src, max);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* absolute_path - file made absolute, so that log_reopen() finds the same
 * file after a chdir(); caller frees. */
static char *absolute_path(const char *file)
{
    char cwd[4096];
    if (file[0] == '/' || !getcwd(cwd, sizeof cwd))
        return xstrdup(file);
    return xasprintf("%s/%s", cwd, file);
}

bool log_open(cfg_log_level level, cfg_log_format format, const char *file, const char *program,
              char *err, size_t errlen)
{
    int fd = -1;

    if (format != CFG_LOG_CONSOLE && format != CFG_LOG_JSON) {
        snprintf(err, errlen, "log format must be CONSOLE or JSON");
        return false;
    }
    if (file && *file) {
        fd = open(file, LOG_OPEN_FLAGS, LOG_FILE_MODE);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log file %s: %s", file, strerror(errno));
            return false;
        }
    }

    pthread_mutex_lock(&log_mu);
    int old = atomic_load(&log_fd);
    bool old_owned = log_fd_owned;
    atomic_store(&log_fd, fd >= 0 ? fd : STDERR_FILENO);
    log_fd_owned = fd >= 0;
    if (old_owned)
        close(old);
    free(log_path);
    log_path = fd >= 0 ? absolute_path(file) : NULL;
    copy_cut(log_program, program && *program ? program : "parsec", LOG_PROGRAM_MAX);
    atomic_store(&log_level_v, (int)level);
    atomic_store(&log_format_v, (int)format);
    pthread_mutex_unlock(&log_mu);
    return true;
}

void log_reopen(void)
{
    pthread_mutex_lock(&log_mu);
    if (!log_fd_owned || !log_path)
        goto cleanup;
    int fd = open(log_path, LOG_OPEN_FLAGS, LOG_FILE_MODE);
    if (fd < 0) {
        /* The old file stays in use; log_write takes no lock, so this is safe here. */
        log_error("cannot reopen log file %s: %s; still writing to the old file", log_path,
                  strerror(errno));
        goto cleanup;
    }
    /*
     * dup3 swaps the file behind the descriptor number atomically: a writer
     * racing with us writes its whole line to the old file or to the new
     * one, never to a closed or reused descriptor.
     */
    if (dup3(fd, atomic_load(&log_fd), O_CLOEXEC) < 0)
        log_error("cannot reopen log file %s: %s; still writing to the old file", log_path,
                  strerror(errno));
    close(fd);
cleanup:
    pthread_mutex_unlock(&log_mu);
}

static void repeat_flush(long long now, bool force);

void log_close(void)
{
    /* Counts still held go out before the file closes (and their memory is
     * freed, for leak checkers). */
    pthread_mutex_lock(&log_repeat_mu);
    repeat_flush(0, true);
    pthread_mutex_unlock(&log_repeat_mu);
    pthread_mutex_lock(&log_mu);
    if (log_fd_owned) {
        int old = atomic_load(&log_fd);
        atomic_store(&log_fd, STDERR_FILENO);
        log_fd_owned = false;
        close(old);
    }
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_mu);
}

bool log_enabled(cfg_log_level level)
{
    return (int)level >= atomic_load(&log_level_v);
}

void log_set_context(const char *ctx)
{
    copy_cut(log_ctx, ctx ? ctx : "", LOG_CONTEXT_MAX);
}

/* emit - one line out, in the configured format, with ctx as its context. */
static void emit(cfg_log_level level, const char *ctx, const char *msg, size_t len, bool cut,
                 unsigned long repeated)
{
    char ts[64];
    timestamp(ts, sizeof ts);
    strbuf_t b = STRBUF_INIT; /* one line, one write */
    if (atomic_load(&log_format_v) == CFG_LOG_JSON)
        json_line(&b, ts, level, ctx, msg, len, cut, repeated);
    else
        console_line(&b, ts, level, ctx, msg, len, cut, repeated);
    write_all(atomic_load(&log_fd), b.s, b.len);
    strbuf_free(&b);
    log_hook_fn hook = atomic_load(&log_hook);
    if (hook && level >= CFG_LOG_ERROR && !repeated)
        hook(level, msg, len, ctx);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: cheap, and a collision only merges two counts. */
static uint64_t msg_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* slot_release - say how many lines slot held back (if any) and free it.
 * Under log_repeat_mu. */
static void slot_release(log_repeat_t *r)
{
    if (r->held)
        emit((cfg_log_level)r->level, "", r->msg, r->len, false, r->held);
    free(r->msg);
    memset(r, 0, sizeof *r);
}

/* repeat_flush - release every slot whose window is over at now (all of
 * them with force), then recompute log_repeat_due.  Under log_repeat_mu. */
static void repeat_flush(long long now, bool force)
{
    long long window = atomic_load(&log_repeat_window), due = LLONG_MAX;
    for (int i = 0; i < LOG_REPEAT_SLOTS; i++) {
        log_repeat_t *r = &log_repeat[i];
        if (!r->used)
            continue;
        if (force || now - r->start_ms >= window)
            slot_release(r);
        else if (r->held && r->start_ms + window < due)
            due = r->start_ms + window;
    }
    atomic_store(&log_repeat_due, due);
}

/*
 * repeat_hold - true when this line is an identical repeat inside its
 * window (it is then only counted); otherwise it becomes the slot's line.
 */
static bool repeat_hold(cfg_log_level level, const char *msg, size_t len)
{
    long long window = atomic_load(&log_repeat_window);
    if (window <= 0 || level < CFG_LOG_WARNING)
        return false;
    long long now = mono_ms();
    uint64_t h = msg_hash(msg, len);
    bool hold = false;
    pthread_mutex_lock(&log_repeat_mu);
    repeat_flush(now, false);
    log_repeat_t *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < LOG_REPEAT_SLOTS; i++) {
        log_repeat_t *r = &log_repeat[i];
        if (!r->used) {
            if (!free_slot)
                free_slot = r;
            continue;
        }
        if (r->level == (int)level && r->hash == h && r->len == len && !memcmp(r->msg, msg, len)) {
            r->held++;
            long long due = r->start_ms + window;
            if (due < atomic_load(&log_repeat_due))
                atomic_store(&log_repeat_due, due);
            hold = true;
            goto done;
        }
        if (!oldest || r->start_ms < oldest->start_ms)
            oldest = r;
    }
    if (!free_slot) {
        slot_release(oldest);
        free_slot = oldest;
    }
    *free_slot = (log_repeat_t){.used = true,
                                .level = (int)level,
                                .hash = h,
                                .len = len,
                                .msg = xstrndup(msg, len),
                                .start_ms = now};
done:
    pthread_mutex_unlock(&log_repeat_mu);
    return hold;
}

void log_repeat_window_ms(int ms)
{
    pthread_mutex_lock(&log_repeat_mu);
    repeat_flush(0, true);
    atomic_store(&log_repeat_window, ms > 0 ? ms : 0);
    pthread_mutex_unlock(&log_repeat_mu);
}

void log_write(cfg_log_level level, const char *fmt, ...)
{
    if (atomic_load(&log_repeat_due) <= mono_ms()) {
        /* A window with lines held back is over: say so now, not only when
         * the same line comes again (it may never). */
        pthread_mutex_lock(&log_repeat_mu);
        repeat_flush(mono_ms(), false);
        pthread_mutex_unlock(&log_repeat_mu);
    }
    if (!log_enabled(level))
        return;
    int saved_errno = errno; /* callers log, then still look at errno */

    /* Room for up to 3 bytes past the limit, so a cut can see where a UTF-8
     * sequence starts. */
    char msg[LOG_MSG_MAX + 4];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    size_t len;
    bool cut = false;
    if (n < 0) {
        len = (size_t)snprintf(msg, sizeof msg, "(unformattable log message: %s)", fmt);
        if (len > LOG_MSG_MAX) {
            len = utf8_cut(msg, LOG_MSG_MAX);
            cut = true;
        }
    } else if ((size_t)n > LOG_MSG_MAX) {
        len = utf8_cut(msg, LOG_MSG_MAX);
        cut = true;
    } else {
        len = (size_t)n;
    }

    if (!repeat_hold(level, msg, len))
        emit(level, log_ctx, msg, len, cut, 0);
    errno = saved_errno;
}

void log_fail(const char *fmt, ...)
{
    char msg[LOG_MSG_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int saved_errno = errno;
    size_t len = strnlen(msg, LOG_MSG_MAX);
    emit(CFG_LOG_CRITICAL, log_ctx, msg, len, false, 0);
    pthread_mutex_lock(&log_mu);
    bool to_file = log_fd_owned;
    pthread_mutex_unlock(&log_mu);
    if (to_file) {
        /* stderr is what a supervisor (systemd, a web server) shows: it gets
         * the line too, once, plain. */
        strbuf_t b = STRBUF_INIT;
        strbuf_puts(&b, log_program);
        strbuf_puts(&b, ": ");
        console_escape(&b, msg, len);
        strbuf_append(&b, "\n", 1);
        write_all(STDERR_FILENO, b.s, b.len);
        strbuf_free(&b);
    }
    errno = saved_errno;
}

void log_set_hook(log_hook_fn fn)
{
    atomic_store(&log_hook, fn);
}
