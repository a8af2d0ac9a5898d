/* tests/unit/test_log.c - log lines: levels, formats, escaping, rotation, threads */
#include "log.h"
#include "strbuf.h"
#include "testreg.h"
#include "xalloc.h"

#include <json-c/json.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z"

static char tmpdir[512];

/* A private directory per test: the harness's PARSEC_TEST_TMP when set. */
static void setup(void)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_log.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", path, e->d_name);
        rm_tree(p);
        free(p);
    }
    closedir(d);
    rmdir(path);
}

static void sup_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void teardown(void)
{
    log_close();
    log_set_context(NULL);
    rm_tree(tmpdir);
}

/* path - tmpdir/name in a static buffer (one in use at a time per call site) */
static char *path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    return buf;
}

/* slurp - the whole file, NUL-terminated; caller frees. */
static char *slurp(const char *path, size_t *len)
{
    strbuf_t b = STRBUF_INIT;
    ck_assert_msg(strbuf_read_file(&b, path), "cannot read %s: %s", path, strerror(errno));
    if (len)
        *len = b.len;
    return strbuf_detach(&b);
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

static bool matches(const char *re, const char *s)
{
    regex_t r;
    ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void open_or_fail(cfg_log_level level, cfg_log_format format, const char *file)
{
    char err[256] = "";
    bool ok = log_open(level, format, file, "test-log", err, sizeof err);
    ck_assert_msg(ok, "log_open: %s", err);
}

/* open_in - log_open on the file NAME in the test's directory (its path
 * left in buf), or fail the test. */
static void open_in(char *buf, size_t len, const char *name, cfg_log_level level,
                    cfg_log_format format)
{
    open_or_fail(level, format, path_in(buf, len, name));
}

/* touch - create PATH as an empty regular file, or fail the test. */
static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    close(fd);
}

/* line_at - copy of line i (0-based, without newline) of s; caller frees. */
static char *line_at(const char *s, int i)
{
    for (; i > 0; i--) {
        s = strchr(s, '\n');
        ck_assert_ptr_nonnull(s);
        s++;
    }
    const char *e = strchr(s, '\n');
    ck_assert_ptr_nonnull(e);
    return xstrndup(s, (size_t)(e - s));
}

START_TEST(levels_filter)
{
    char p[600];
    open_in(p, sizeof p, "levels.log", CFG_LOG_WARNING, CFG_LOG_CONSOLE);
    ck_assert(!log_enabled(CFG_LOG_DEBUG));
    ck_assert(!log_enabled(CFG_LOG_INFO));
    ck_assert(log_enabled(CFG_LOG_WARNING));
    ck_assert(log_enabled(CFG_LOG_CRITICAL));
    log_debug("d");
    log_info("i");
    log_warning("w %d", 1);
    log_error("e %s", "two");
    log_critical("c");

    size_t n;
    char *s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 3);
    char *re = xasprintf("^" TS_RE " WARNING test-log\\[%d\\] w 1$", (int)getpid());
    char *l0 = line_at(s, 0), *l1 = line_at(s, 1), *l2 = line_at(s, 2);
    ck_assert_msg(matches(re, l0), "unexpected line: %s", l0);
    ck_assert(matches("^" TS_RE " ERROR test-log\\[[0-9]+\\] e two$", l1));
    ck_assert(matches("^" TS_RE " CRITICAL test-log\\[[0-9]+\\] c$", l2));
    free(re);
    free(l0);
    free(l1);
    free(l2);
    free(s);

    /* Lowering the level lets everything through. */
    open_or_fail(CFG_LOG_DEBUG, CFG_LOG_CONSOLE, p);
    ck_assert(log_enabled(CFG_LOG_DEBUG));
    log_debug("d2");
    log_info("i2");
    s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 5);
    ck_assert_ptr_nonnull(strstr(s, " DEBUG test-log["));
    ck_assert_ptr_nonnull(strstr(s, " INFO test-log["));
    free(s);
}
END_TEST

/* parse_line - line i of the file as a JSON object; caller puts. */
static json_object *parse_line(const char *s, int i)
{
    char *l = line_at(s, i);
    json_object *o = json_tokener_parse(l);
    ck_assert_msg(o != NULL, "not JSON: %s", l);
    ck_assert(json_object_is_type(o, json_type_object));
    free(l);
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no field %s", key);
    ck_assert(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

START_TEST(json_fields)
{
    char p[600];
    open_in(p, sizeof p, "json.log", CFG_LOG_INFO, CFG_LOG_JSON);
    log_set_context("req=ab12cd34");
    log_info("hello %d", 42);
    log_set_context(NULL);
    const char *tricky = "quote \" slash / back \\ newline \n tab \t ctrl \x01 utf8 \xc3\xa9 end";
    log_warning("%s", tricky);
    log_debug("filtered");

    size_t n;
    char *s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 2);

    json_object *o = parse_line(s, 0);
    ck_assert(matches("^" TS_RE "$", jstr(o, "ts")));
    ck_assert_str_eq(jstr(o, "level"), "INFO");
    ck_assert_str_eq(jstr(o, "program"), "test-log");
    ck_assert_str_eq(jstr(o, "context"), "req=ab12cd34");
    ck_assert_str_eq(jstr(o, "msg"), "hello 42");
    json_object *pid;
    ck_assert(json_object_object_get_ex(o, "pid", &pid));
    ck_assert(json_object_is_type(pid, json_type_int));
    ck_assert_int_eq(json_object_get_int(pid), (int)getpid());
    ck_assert_int_eq(json_object_object_length(o), 6);
    json_object_put(o);

    /* The message round-trips exactly; no context once cleared. */
    o = parse_line(s, 1);
    ck_assert_str_eq(jstr(o, "level"), "WARNING");
    ck_assert_str_eq(jstr(o, "msg"), tricky);
    ck_assert(!json_object_object_get_ex(o, "context", NULL));
    ck_assert_int_eq(json_object_object_length(o), 5);
    json_object_put(o);
    free(s);
}
END_TEST

START_TEST(json_invalid_utf8_replaced)
{
    char p[600];
    open_in(p, sizeof p, "utf8.log", CFG_LOG_INFO, CFG_LOG_JSON);
    /* stray byte, overlong '/', surrogate, sequence cut short at the end */
    log_info("a\xff b\xc0\xaf c\xed\xa0\x80 d\xc3");
    char *s = slurp(p, NULL);
    json_object *o = parse_line(s, 0);
    const char *r = "\xef\xbf\xbd";
    char *want = xasprintf("a%s b%s%s c%s%s%s d%s", r, r, r, r, r, r, r);
    ck_assert_str_eq(jstr(o, "msg"), want);
    free(want);
    json_object_put(o);
    free(s);
}
END_TEST

START_TEST(console_one_line_per_event)
{
    char p[600];
    open_in(p, sizeof p, "console.log", CFG_LOG_DEBUG, CFG_LOG_CONSOLE);
    log_set_context("req=x\ny");
    log_error("line1\nline2\r\n\tx\\y \x1b[31mred\x7f \xc3\xa9 \xc2\x9b \xff end");
    log_info("second");

    size_t n;
    char *s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 2);
    ck_assert_uint_eq(count_char(s, n, '\r'), 0);
    ck_assert_uint_eq(count_char(s, n, '\x1b'), 0);
    char *l0 = line_at(s, 0);
    const char *want = " req=x\\ny line1\\nline2\\r\\n\\tx\\\\y \\x1b[31mred\\x7f \xc3\xa9 \\u009b "
                       "\\xff end";
    size_t wl = strlen(want), ll = strlen(l0);
    ck_assert_uint_ge(ll, wl);
    ck_assert_str_eq(l0 + ll - wl, want);
    char *l1 = line_at(s, 1);
    ck_assert(matches("^" TS_RE " INFO test-log\\[[0-9]+\\] req=x\\\\ny second$", l1));
    free(l0);
    free(l1);
    free(s);
}
END_TEST

struct ctx_arg {
    const char *set; /* NULL: leave the new thread's context alone */
    const char *msg;
};

static void *ctx_thread(void *p)
{
    struct ctx_arg *a = p;
    if (a->set)
        log_set_context(a->set);
    log_warning("%s", a->msg);
    return NULL;
}

START_TEST(context_is_per_thread)
{
    char p[600];
    open_in(p, sizeof p, "ctx.log", CFG_LOG_INFO, CFG_LOG_CONSOLE);
    log_set_context("req=main");

    pthread_t t;
    struct ctx_arg a1 = {"ws=17", "from-thread"};
    ck_assert_int_eq(pthread_create(&t, NULL, ctx_thread, &a1), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    struct ctx_arg a2 = {NULL, "fresh-thread"};
    ck_assert_int_eq(pthread_create(&t, NULL, ctx_thread, &a2), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    log_info("from-main");

    /* Over-long contexts are cut to LOG_CONTEXT_MAX bytes. */
    char longctx[LOG_CONTEXT_MAX + 50];
    memset(longctx, 'k', sizeof longctx - 1);
    longctx[sizeof longctx - 1] = '\0';
    log_set_context(longctx);
    log_info("long-ctx");

    char *s = slurp(p, NULL);
    char *l0 = line_at(s, 0), *l1 = line_at(s, 1), *l2 = line_at(s, 2), *l3 = line_at(s, 3);
    ck_assert(matches("\\] ws=17 from-thread$", l0));
    ck_assert(matches("\\] fresh-thread$", l1));
    ck_assert(matches("\\] req=main from-main$", l2));
    char *re = xasprintf("\\] k{%d} long-ctx$", LOG_CONTEXT_MAX);
    ck_assert_msg(matches(re, l3), "line: %s", l3);
    free(re);
    free(l0);
    free(l1);
    free(l2);
    free(l3);
    free(s);
}
END_TEST

START_TEST(long_messages_truncated)
{
    char p[600];
    open_in(p, sizeof p, "long.log", CFG_LOG_INFO, CFG_LOG_JSON);

    size_t big = 3 * LOG_MSG_MAX;
    char *m = xmalloc(big + 1);
    memset(m, 'a', big);
    m[big] = '\0';
    log_info("%s", m);

    /* "a" then two-byte characters: the limit falls inside one of them. */
    size_t k = 0;
    m[k++] = 'a';
    while (k + 2 <= big) {
        m[k++] = '\xc3';
        m[k++] = '\xa9';
    }
    m[k] = '\0';
    log_info("%s", m);

    char *s = slurp(p, NULL);
    json_object *o = parse_line(s, 0);
    const char *msg = jstr(o, "msg");
    size_t mark = strlen(LOG_TRUNCATED_MARK);
    ck_assert_uint_eq(strlen(msg), LOG_MSG_MAX + mark);
    ck_assert_str_eq(msg + LOG_MSG_MAX, LOG_TRUNCATED_MARK);
    ck_assert_uint_eq(strspn(msg, "a"), LOG_MSG_MAX);
    json_object_put(o);

    o = parse_line(s, 1);
    msg = jstr(o, "msg");
    /* Cut before the split character: 1 + 2 * 4095 bytes are kept. */
    ck_assert_uint_eq(strlen(msg), LOG_MSG_MAX - 1 + mark);
    ck_assert_int_eq(memcmp(msg, m, LOG_MSG_MAX - 1), 0);
    ck_assert_str_eq(msg + LOG_MSG_MAX - 1, LOG_TRUNCATED_MARK);
    json_object_put(o);
    free(s);

    /* CONSOLE: same bound, same marker, still one line. */
    open_or_fail(CFG_LOG_INFO, CFG_LOG_CONSOLE, p);
    memset(m, 'b', big);
    m[big] = '\0';
    log_info("%s", m);
    size_t n;
    s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 3);
    char *l = line_at(s, 2);
    char *re = xasprintf(" b{%d} \\[truncated\\]$", LOG_MSG_MAX);
    ck_assert(matches(re, l));
    free(re);
    free(l);
    free(s);
    free(m);
}
END_TEST

START_TEST(reopen_after_rename)
{
    char p[600], rotated[600];
    path_in(p, sizeof p, "rot.log");
    path_in(rotated, sizeof rotated, "rot.log.1");
    umask(022);
    open_or_fail(CFG_LOG_INFO, CFG_LOG_CONSOLE, p);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);

    log_info("before-rotation");
    ck_assert_int_eq(rename(p, rotated), 0);
    log_info("after-rename-before-reopen");
    log_reopen();
    log_info("after-reopen");

    char *old = slurp(rotated, NULL), *cur = slurp(p, NULL);
    ck_assert_ptr_nonnull(strstr(old, "before-rotation"));
    ck_assert_ptr_nonnull(strstr(old, "after-rename-before-reopen"));
    ck_assert_ptr_null(strstr(old, "after-reopen"));
    ck_assert_ptr_nonnull(strstr(cur, "after-reopen"));
    ck_assert_ptr_null(strstr(cur, "before"));
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    free(old);
    free(cur);

    /* The descriptor does not leak into exec'd children. */
    int fl = -1;
    for (int fd = 3; fd < 64; fd++) {
        char link[64], target[700];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t r = readlink(link, target, sizeof target - 1);
        if (r > 0) {
            target[r] = '\0';
            if (strcmp(target, p) == 0)
                fl = fcntl(fd, F_GETFD);
        }
    }
    ck_assert_int_ne(fl, -1);
    ck_assert(fl & FD_CLOEXEC);
}
END_TEST

/* A relative --log-file still names the same file after the process chdir()s. */
START_TEST(reopen_relative_path_after_chdir)
{
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(cwd, 0);
    ck_assert_int_eq(chdir(tmpdir), 0);
    open_or_fail(CFG_LOG_INFO, CFG_LOG_CONSOLE, "rel.log");
    ck_assert_int_eq(chdir("/"), 0);
    char p[600], rotated[600];
    path_in(p, sizeof p, "rel.log");
    path_in(rotated, sizeof rotated, "rel.log.1");
    ck_assert_int_eq(rename(p, rotated), 0);
    log_reopen();
    log_info("after-chdir");
    bool stray = access("/rel.log", F_OK) == 0;
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    ck_assert(!stray);
    char *s = slurp(p, NULL);
    ck_assert_ptr_nonnull(strstr(s, "after-chdir"));
    free(s);
}
END_TEST

START_TEST(reopen_failure_keeps_old_file)
{
    char dir[600], p[700], moved[600];
    path_in(dir, sizeof dir, "logs");
    path_in(moved, sizeof moved, "logs.old");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(p, sizeof p, "%s/a.log", dir);
    open_or_fail(CFG_LOG_INFO, CFG_LOG_CONSOLE, p);
    log_info("first");
    /* Make the path unopenable: its directory becomes a regular file. */
    ck_assert_int_eq(rename(dir, moved), 0);
    touch(dir);
    log_reopen();
    log_info("second");

    char old[700];
    snprintf(old, sizeof old, "%s/a.log", moved);
    char *s = slurp(old, NULL);
    ck_assert_ptr_nonnull(strstr(s, "first"));
    ck_assert(matches(" ERROR test-log\\[[0-9]+\\] cannot reopen log file .*/logs/a.log: Not a "
                      "directory; still writing to the old file",
                      s));
    ck_assert_ptr_nonnull(strstr(s, "second"));
    free(s);
}
END_TEST

START_TEST(open_failure_reports)
{
    char good[600], notdir[600], bad[700];
    path_in(good, sizeof good, "good.log");
    path_in(notdir, sizeof notdir, "plainfile");
    touch(notdir);
    snprintf(bad, sizeof bad, "%s/x.log", notdir);

    open_or_fail(CFG_LOG_INFO, CFG_LOG_CONSOLE, good);
    char err[256] = "";
    ck_assert(!log_open(CFG_LOG_DEBUG, CFG_LOG_JSON, bad, "other", err, sizeof err));
    char *want = xasprintf("cannot open log file %s: Not a directory", bad);
    ck_assert_str_eq(err, want);
    free(want);

    /* A directory is not a log file either. */
    ck_assert(!log_open(CFG_LOG_INFO, CFG_LOG_CONSOLE, tmpdir, "t", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "Is a directory"));

    /* The message is cut to errlen. */
    char small[8];
    ck_assert(!log_open(CFG_LOG_INFO, CFG_LOG_CONSOLE, bad, "t", small, sizeof small));
    ck_assert_str_eq(small, "cannot ");

    /* The previous configuration (INFO, CONSOLE, good.log) still holds. */
    ck_assert(!log_enabled(CFG_LOG_DEBUG));
    log_info("still-here");
    char *s = slurp(good, NULL);
    ck_assert(matches("^" TS_RE " INFO test-log\\[[0-9]+\\] still-here\n$", s));
    free(s);
}
END_TEST

START_TEST(errno_preserved)
{
    char p[600];
    open_in(p, sizeof p, "errno.log", CFG_LOG_INFO, CFG_LOG_CONSOLE);
    errno = ENOENT;
    log_error("failed: %m");
    ck_assert_int_eq(errno, ENOENT);
    char *s = slurp(p, NULL);
    ck_assert_ptr_nonnull(strstr(s, "failed: No such file or directory\n"));
    free(s);
}
END_TEST

START_TEST(stderr_destination)
{
    char p[600];
    path_in(p, sizeof p, "stderr.txt");
    int cap = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(cap, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(cap, STDERR_FILENO), 0);
    close(cap);

    char err[128];
    bool ok = log_open(CFG_LOG_INFO, CFG_LOG_JSON, NULL, "to-stderr", err, sizeof err);
    log_reopen(); /* no-op on stderr */
    log_info("on stderr");
    log_close(); /* must not close stderr */
    log_info("still on stderr");

    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    ck_assert(ok);
    size_t n;
    char *s = slurp(p, &n);
    ck_assert_uint_eq(count_char(s, n, '\n'), 2);
    json_object *o = parse_line(s, 1);
    ck_assert_str_eq(jstr(o, "program"), "to-stderr");
    ck_assert_str_eq(jstr(o, "msg"), "still on stderr");
    json_object_put(o);
    free(s);
}
END_TEST

/* --- floods and start-up failures ----------------------------------------- */

static size_t count_str(const char *s, const char *needle)
{
    size_t k = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        k++;
    return k;
}

START_TEST(repeated_lines_are_counted)
{
    char p[600];
    open_in(p, sizeof p, "flood.log", CFG_LOG_INFO, CFG_LOG_CONSOLE);
    log_repeat_window_ms(300);
    log_set_context("req=1");
    for (int i = 0; i < 58; i++)
        log_error("cannot connect to database postgresql://h/d: Connection refused");
    log_error("another error"); /* not the same text: written */
    log_warning("cannot connect to database postgresql://h/d: Connection refused"); /* level */
    for (int i = 0; i < 20; i++)
        log_info("an info line is never held"); /* INFO and below: all written */
    sup_sleep(400);
    log_info("after the window"); /* the count comes out before it */
    log_error("cannot connect to database postgresql://h/d: Connection refused");
    log_close();
    log_repeat_window_ms(LOG_REPEAT_WINDOW_MS);

    char *s = slurp(p, NULL);
    ck_assert_uint_eq(count_str(s, "Connection refused\n"), 3); /* ERROR x2 + WARNING */
    ck_assert_uint_eq(count_str(s, "Connection refused (repeated 57 times)\n"), 1);
    ck_assert_uint_eq(count_str(s, "an info line is never held"), 20);
    ck_assert_uint_eq(count_str(s, "another error"), 1);
    /* the count comes before the line that followed the window */
    ck_assert(strstr(s, "(repeated 57 times)") < strstr(s, "after the window"));
    /* it is nobody's request: no context */
    ck_assert(matches("ERROR test-log\\[[0-9]+\\] cannot connect to database "
                      "postgresql://h/d: Connection refused \\(repeated 57 times\\)",
                      s));
    free(s);
}
END_TEST

START_TEST(repeat_count_written_at_close_and_in_json)
{
    char p[600];
    open_in(p, sizeof p, "flood.json", CFG_LOG_INFO, CFG_LOG_JSON);
    log_error("db down");
    log_error("db down");
    log_error("db down");
    log_close(); /* window not over: the count still comes out */
    char *s = slurp(p, NULL);
    ck_assert_uint_eq(count_char(s, strlen(s), '\n'), 2);
    json_object *o = parse_line(s, 1);
    ck_assert_str_eq(jstr(o, "msg"), "db down");
    json_object *rep = NULL;
    ck_assert(json_object_object_get_ex(o, "repeated", &rep));
    ck_assert_int_eq(json_object_get_int(rep), 2);
    json_object_put(o);
    free(s);
}
END_TEST

/* log_fail: one line on stderr whether the log is stderr or a file. */
START_TEST(fail_is_one_line_on_stderr)
{
    char p[600], f[600];
    path_in(p, sizeof p, "stderr-fail.txt");
    for (int to_file = 0; to_file < 2; to_file++) {
        int cap = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(cap, 0);
        int saved = dup(STDERR_FILENO);
        ck_assert_int_ge(dup2(cap, STDERR_FILENO), 0);
        close(cap);
        if (to_file)
            open_in(f, sizeof f, "fail.log", CFG_LOG_WARNING, CFG_LOG_CONSOLE);
        else
            open_or_fail(CFG_LOG_WARNING, CFG_LOG_CONSOLE, NULL);
        log_fail("cannot listen on %s: %s", "/run/x.sock", "Permission denied");
        log_close();
        ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
        close(saved);

        size_t n;
        char *s = slurp(p, &n);
        ck_assert_uint_eq(count_char(s, n, '\n'), 1);
        if (to_file) {
            ck_assert_str_eq(s, "test-log: cannot listen on /run/x.sock: Permission denied\n");
            char *l = slurp(f, &n);
            ck_assert_uint_eq(count_char(l, n, '\n'), 1);
            ck_assert(matches("CRITICAL test-log\\[[0-9]+\\] cannot listen on /run/x.sock", l));
            free(l);
        } else {
            ck_assert(matches("^" TS_RE " CRITICAL test-log\\[[0-9]+\\] cannot listen on "
                              "/run/x.sock: Permission denied\n$",
                              s));
        }
        free(s);
    }
}
END_TEST

/* --- concurrent writers ------------------------------------------------ */

#define N_THREADS 8
#define N_LINES   400

struct writer_arg {
    int id;
};

/* writer_pad - 5000 bytes, so some lines exceed PIPE_BUF (4096).  First
 * called before the writers start. */
static const char *writer_pad(void)
{
    static char pad[5001];
    if (!pad[0])
        memset(pad, 'p', sizeof pad - 1);
    return pad;
}

static void *writer(void *p)
{
    struct writer_arg *a = p;
    const char *pad = writer_pad();
    char ctx[32];
    snprintf(ctx, sizeof ctx, "t=%d", a->id);
    log_set_context(ctx);
    for (int i = 0; i < N_LINES; i++)
        log_info("w %d %d %s", a->id, i, i % 5 == 0 ? pad : "short");
    return NULL;
}

struct rotator_arg {
    const char *path;
    volatile int *stop;
    int rotations;
};

static void *rotator(void *p)
{
    struct rotator_arg *a = p;
    while (!*a->stop && a->rotations < 20) {
        char *to = xasprintf("%s.%d", a->path, a->rotations + 1);
        if (rename(a->path, to) == 0) {
            log_reopen();
            a->rotations++;
        }
        free(to);
        usleep(2000);
    }
    return NULL;
}

/* check_lines - every line of s is whole JSON from a writer; mark seen. */
static int check_lines(const char *s, unsigned char seen[N_THREADS][N_LINES])
{
    int lines = 0;
    const char *l = s;
    while (*l) {
        const char *e = strchr(l, '\n');
        ck_assert_msg(e != NULL, "unterminated last line");
        char *line = xstrndup(l, (size_t)(e - l));
        json_object *o = json_tokener_parse(line);
        ck_assert_msg(o != NULL, "interleaved or broken line: %.200s", line);
        int id = -1, i = -1;
        const char *msg = jstr(o, "msg");
        ck_assert_msg(sscanf(msg, "w %d %d ", &id, &i) == 2, "msg %.100s", msg);
        ck_assert(id >= 0 && id < N_THREADS && i >= 0 && i < N_LINES);
        char *want = xasprintf("w %d %d %s", id, i, i % 5 == 0 ? writer_pad() : "short");
        ck_assert_str_eq(msg, want);
        free(want);
        char ctx[32];
        snprintf(ctx, sizeof ctx, "t=%d", id);
        ck_assert_str_eq(jstr(o, "context"), ctx);
        ck_assert_msg(!seen[id][i], "line %d/%d twice", id, i);
        seen[id][i] = 1;
        json_object_put(o);
        free(line);
        lines++;
        l = e + 1;
    }
    return lines;
}

static void run_writers(bool rotate)
{
    char p[600];
    open_in(p, sizeof p, "mt.log", CFG_LOG_INFO, CFG_LOG_JSON);
    (void)writer_pad();

    pthread_t t[N_THREADS], rt;
    struct writer_arg args[N_THREADS];
    volatile int stop = 0;
    struct rotator_arg ra = {p, &stop, 0};
    if (rotate)
        ck_assert_int_eq(pthread_create(&rt, NULL, rotator, &ra), 0);
    for (int i = 0; i < N_THREADS; i++) {
        args[i].id = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    stop = 1;
    if (rotate)
        ck_assert_int_eq(pthread_join(rt, NULL), 0);
    log_close();

    static unsigned char seen[N_THREADS][N_LINES];
    memset(seen, 0, sizeof seen);
    int total = 0;
    char *s = slurp(p, NULL);
    total += check_lines(s, seen);
    free(s);
    for (int r = 1; r <= ra.rotations; r++) {
        char *rp = xasprintf("%s.%d", p, r);
        s = slurp(rp, NULL);
        total += check_lines(s, seen);
        free(s);
        free(rp);
    }
    ck_assert_int_eq(total, N_THREADS * N_LINES);
    if (rotate)
        ck_assert_int_gt(ra.rotations, 0);
}

START_TEST(concurrent_writers_whole_lines)
{
    run_writers(false);
}
END_TEST

START_TEST(concurrent_writers_with_rotation)
{
    run_writers(true);
}
END_TEST

TEST_SUITE(log)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, levels_filter);
    tcase_add_test(tc, json_fields);
    tcase_add_test(tc, json_invalid_utf8_replaced);
    tcase_add_test(tc, console_one_line_per_event);
    tcase_add_test(tc, context_is_per_thread);
    tcase_add_test(tc, long_messages_truncated);
    tcase_add_test(tc, reopen_after_rename);
    tcase_add_test(tc, reopen_relative_path_after_chdir);
    tcase_add_test(tc, reopen_failure_keeps_old_file);
    tcase_add_test(tc, open_failure_reports);
    tcase_add_test(tc, errno_preserved);
    tcase_add_test(tc, stderr_destination);
    tcase_add_test(tc, repeated_lines_are_counted);
    tcase_add_test(tc, repeat_count_written_at_close_and_in_json);
    tcase_add_test(tc, fail_is_one_line_on_stderr);
    tcase_add_test(tc, concurrent_writers_whole_lines);
    tcase_add_test(tc, concurrent_writers_with_rotation);
    suite_add_tcase(s, tc);
    return s;
}
