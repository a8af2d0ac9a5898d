/*
 * tests/integration/test_startup.c - how the server binaries start and stop
 * on database refusals, and what they print when they cannot start
 *
 * Every start-up failure is exactly one line on stderr naming the real
 * cause (docs/running.md); a database refusal that retrying cannot fix
 * stops parsec-fcgi and parsec-notifyd at once, at start or later, while
 * connection-level failures are retried (common/db.h).  The binaries run
 * as real processes against the harness's PostgreSQL.
 */
#include "tcprelay.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    char *out, *err; /* paths of its stdout and stderr */
} proc_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *tmp_path(const char *name)
{
    const char *t = getenv("PARSEC_TEST_TMP");
    return xasprintf("%s/startup-%d-%s", t && *t ? t : "/tmp", (int)getpid(), name);
}

/* spawn - run build/bin with args and exactly the environment env (plus
 * what the sanitizers and the harness need), stdout and stderr to files. */
static void spawn(proc_t *p, const char *bin, const char *const *args, const char *const *env)
{
    static unsigned seq;
    char *path = testenv_build_path(bin);
    const char *argv[24] = {path};
    int a = 1;
    for (const char *const *x = args; x && *x && a < 23; x++)
        argv[a++] = *x;
    const char *envp[32];
    int n = 0;
    const char *pass[] = {"PATH",         "ASAN_OPTIONS",       "UBSAN_OPTIONS",
                          "LSAN_OPTIONS", "PARSEC_TEST_RUN_ID", "TMPDIR"};
    char *kept[6] = {NULL};
    for (int i = 0; i < 6; i++) {
        const char *v = getenv(pass[i]);
        if (v)
            envp[n++] = kept[i] = xasprintf("%s=%s", pass[i], v);
    }
    for (const char *const *e = env; e && *e && n < 31; e++)
        envp[n++] = *e;
    envp[n] = NULL;
    char tag[32];
    snprintf(tag, sizeof tag, "%u", seq++);
    char *o = xasprintf("%s.out", tag), *r = xasprintf("%s.err", tag);
    p->out = tmp_path(o);
    p->err = tmp_path(r);
    free(o);
    free(r);
    pid_t parent = getpid();
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int fo = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || fo < 0 || fe < 0 || dup2(in, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execve(argv[0], (char **)argv, (char **)envp);
        _exit(127);
    }
    for (int i = 0; i < 6; i++)
        free(kept[i]);
    free(path);
}

/* wait_exit - its exit status within ms, or -1 (it is then killed). */
static int wait_exit(proc_t *p, int ms)
{
    long long deadline = now_ms() + ms;
    int st;
    while (now_ms() < deadline) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(20);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return xstrdup("");
    char *s = xcalloc(1, 1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The last line of s (without its newline), in a static buffer. */
static const char *last_line(const char *s)
{
    static char buf[4096];
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        n--;
    size_t b = n;
    while (b && s[b - 1] != '\n')
        b--;
    snprintf(buf, sizeof buf, "%.*s", (int)(n - b), s + b);
    return buf;
}

static void proc_done(proc_t *p)
{
    unlink(p->out);
    unlink(p->err);
    free(p->out);
    free(p->err);
}

/* expect_one_line - p exited with status within ms and wrote exactly one
 * line on stderr, containing each of the NULL-terminated needles. */
static void expect_one_line(proc_t *p, int status, int ms, const char *const *needles)
{
    long long t0 = now_ms();
    int got = wait_exit(p, ms);
    char *err = slurp(p->err);
    ck_assert_msg(got == status, "exit %d after %lld ms, want %d; stderr:\n%s", got, now_ms() - t0,
                  status, err);
    ck_assert_msg(lines(err) == 1, "%d lines on stderr:\n%s", lines(err), err);
    for (const char *const *n = needles; *n; n++)
        ck_assert_msg(strstr(err, *n), "no \"%s\" in: %s", *n, err);
    free(err);
}

static char *env_db(const char *url)
{
    return xasprintf("PARSEC_DB=%s", url);
}

/* ---- parsec-fcgi -------------------------------------------------------- */

START_TEST(worker_refused_by_the_database_stops_in_one_line)
{
    char *url = testenv_url_with(testenv_pg_url(), "dbname", "no_such_db");
    char *db = env_db(url), *sock = tmp_path("w.sock");
    const char *env[] = {db, NULL};
    const char *args[] = {"--fcgi-socket", sock, NULL};
    proc_t p;
    spawn(&p, "parsec-fcgi", args, env);
    /* Ten attempts a second apart are allowed: none is made after this. */
    const char *want[] = {"no_such_db", "does not exist", "not retried", NULL};
    expect_one_line(&p, 1, 5000, want);
    struct stat st;
    ck_assert_msg(stat(sock, &st) != 0, "the socket was left behind");
    proc_done(&p);
    free(sock);
    free(db);
    free(url);
}
END_TEST

START_TEST(worker_refused_later_stops_too)
{
    /* Nothing listens at first: the worker serves (503) and retries; then
     * a server appears that refuses the database name. */
    int port = testenv_free_port();
    char *url = xasprintf("postgresql://postgres@127.0.0.1:%d/no_such_db", port);
    char *db = env_db(url), *sock = tmp_path("l.sock");
    const char *env[] = {db, "PARSEC_PAUSE_BEFORE_RETRY_DATABASE_CONNECTION=0.2", NULL};
    const char *args[] = {"--fcgi-socket", sock, NULL};
    proc_t p;
    spawn(&p, "parsec-fcgi", args, env);
    sleep_ms(800);
    ck_assert_int_eq(waitpid(p.pid, NULL, WNOHANG), 0); /* still serving */
    char *err = slurp(p.err);
    ck_assert_msg(strstr(err, "answering 503 until the database is reachable"), "%s", err);
    free(err);
    tcprelay_t *relay = tcprelay_start(port, atoi(getenv("PARSEC_TEST_PG_PORT")));
    ck_assert_ptr_nonnull(relay);
    int status = wait_exit(&p, 10000);
    err = slurp(p.err);
    ck_assert_msg(status == 1, "exit %d; stderr:\n%s", status, err);
    ck_assert_msg(strstr(last_line(err), "does not exist") && strstr(last_line(err), "not retried"),
                  "%s", err);
    free(err);
    tcprelay_stop(relay);
    proc_done(&p);
    free(sock);
    free(db);
    free(url);
}
END_TEST

START_TEST(worker_start_failures_are_one_line)
{
    char *db = env_db(testenv_pg_url());
    const char *env[] = {db, NULL};
    const char *args[] = {"--fcgi-socket", "/nonexistent-dir/parsec.sock", NULL};
    proc_t p;
    spawn(&p, "parsec-fcgi", args, env);
    const char *want[] = {"/nonexistent-dir/parsec.sock", "No such file or directory", NULL};
    expect_one_line(&p, 1, 10000, want);
    proc_done(&p);

    /* With a log file: the file has it, and stderr still has it once. */
    char *log = tmp_path("w.log");
    const char *args2[] = {"--fcgi-socket", "/nonexistent-dir/parsec.sock", "--log-file", log,
                           NULL};
    spawn(&p, "parsec-fcgi", args2, env);
    const char *want2[] = {"parsec-fcgi: --fcgi-socket /nonexistent-dir/parsec.sock", NULL};
    expect_one_line(&p, 1, 10000, want2);
    char *text = slurp(log);
    ck_assert_msg(lines(text) == 1 && strstr(text, "CRITICAL"), "%s", text);
    free(text);
    unlink(log);
    free(log);
    proc_done(&p);

    /* Bad settings: one line, status 2; an empty --db says it is required. */
    const char *empty[] = {"--db", "", NULL};
    spawn(&p, "parsec-fcgi", empty, NULL);
    const char *want3[] = {"--db is required", NULL};
    expect_one_line(&p, 2, 10000, want3);
    proc_done(&p);
    free(db);
}
END_TEST

/* The socket is mode 0660 whatever the umask (its unit's comment says so). */
START_TEST(worker_socket_mode_is_0660)
{
    char *db = env_db(testenv_pg_url()), *sock = tmp_path("m.sock");
    const char *env[] = {db, NULL};
    const char *args[] = {"--fcgi-socket", sock, NULL};
    mode_t old = umask(0);
    proc_t p;
    spawn(&p, "parsec-fcgi", args, env);
    umask(old);
    struct stat st;
    int i;
    for (i = 0; i < 500 && stat(sock, &st) != 0; i++)
        sleep_ms(20);
    ck_assert_msg(i < 500, "no socket");
    ck_assert_msg((st.st_mode & 07777) == 0660, "mode %o", (unsigned)(st.st_mode & 07777));
    kill(p.pid, SIGTERM);
    ck_assert_int_eq(wait_exit(&p, 20000), 0);
    proc_done(&p);
    free(sock);
    free(db);
}
END_TEST

/* ---- parsec-notifyd -------------------------------------------------------- */

START_TEST(notifyd_refused_by_the_database_stops_in_one_line)
{
    char *url = testenv_url_with(testenv_pg_url(), "user", "no_such_role");
    char *db = env_db(url), *port = xasprintf("PARSEC_NOTIFYD_PORT=%d", testenv_free_port());
    const char *env[] = {db, port, NULL};
    proc_t p;
    spawn(&p, "parsec-notifyd", NULL, env);
    const char *want[] = {"no_such_role", "does not exist", "not retried", NULL};
    expect_one_line(&p, 1, 5000, want);
    proc_done(&p);
    free(port);
    free(db);
    free(url);
}
END_TEST

/* A database dropped under notifyd: its reconnection is refused, for good. */
START_TEST(notifyd_refused_on_reconnect_stops)
{
    char *url = testenv_db_create();
    char *db = env_db(url), *port = xasprintf("PARSEC_NOTIFYD_PORT=%d", testenv_free_port());
    const char *env[] = {db, port, "PARSEC_LOG_LEVEL=INFO", NULL};
    proc_t p;
    spawn(&p, "parsec-notifyd", NULL, env);
    char *out = NULL;
    for (int i = 0; i < 500; i++) {
        free(out);
        out = slurp(p.out);
        if (strstr(out, "ready "))
            break;
        sleep_ms(20);
    }
    ck_assert_msg(strstr(out, "ready "), "not ready: %s", out);
    free(out);

    PGconn *admin = testenv_pg_connect(testenv_pg_url());
    char *q = NULL;
    {
        char *perr = NULL;
        PQconninfoOption *o = PQconninfoParse(url, &perr);
        ck_assert_ptr_nonnull(o);
        for (PQconninfoOption *k = o; k->keyword; k++)
            if (!strcmp(k->keyword, "dbname"))
                q = xasprintf("DROP DATABASE \"%s\" WITH (FORCE)", k->val);
        PQconninfoFree(o);
    }
    PGresult *res = PQexec(admin, q);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(admin));
    PQclear(res);
    PQfinish(admin);
    free(q);

    int status = wait_exit(&p, 20000);
    char *err = slurp(p.err);
    ck_assert_msg(status == 1, "exit %d; stderr:\n%s", status, err);
    ck_assert_msg(strstr(err, "CRITICAL parsec-notifyd") &&
                      strstr(err, "database refused the reconnection") &&
                      strstr(err, "does not exist") && strstr(err, "not retried"),
                  "%s", err);
    ck_assert_msg(!strstr(err, "notifyd: stopped"), "%s", err);
    free(err);
    proc_done(&p);
    free(port);
    free(db);
    free(url);
}
END_TEST

/* ---- parsec backend migrate ------------------------------------------------ */

START_TEST(migrate_refused_by_the_database_stops_in_one_line)
{
    char *url = testenv_url_with(testenv_pg_url(), "dbname", "no_such_db");
    const char *args[] = {"backend", "migrate", "--db", url, NULL};
    proc_t p;
    spawn(&p, "parsec", args, NULL);
    const char *want[] = {"parsec backend migrate: cannot connect", "does not exist", NULL};
    expect_one_line(&p, 1, 5000, want);
    proc_done(&p);
    free(url);
}
END_TEST

/* migrate lists and takes its own settings only */
START_TEST(migrate_help_lists_its_own_settings)
{
    const char *args[] = {"backend", "migrate", "--help", NULL};
    proc_t p;
    spawn(&p, "parsec", args, NULL);
    ck_assert_int_eq(wait_exit(&p, 10000), 0);
    char *out = slurp(p.out);
    ck_assert_msg(strstr(out, "usage: parsec backend migrate") && strstr(out, "--db URL") &&
                      strstr(out, "--db-file FILE") && strstr(out, "--dry-run") &&
                      strstr(out, "--log-level"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "--port") && !strstr(out, "--blockstore") &&
                      !strstr(out, "--administration-token") && !strstr(out, "--email"),
                  "%s", out);
    free(out);
    proc_done(&p);
    const char *other[] = {"backend", "migrate", "--db", "postgresql://h/d", "--port", "1", NULL};
    spawn(&p, "parsec", other, NULL);
    const char *want[] = {"--port: not a setting of parsec backend migrate", NULL};
    expect_one_line(&p, 2, 10000, want);
    proc_done(&p);
}
END_TEST

/* ---- --version names the program ------------------------------------------------ */

START_TEST(version_names_the_program)
{
    static const struct {
        const char *bin, *arg1, *arg2, *want;
    } cases[] = {
        {"parsec-fcgi", "--version", NULL, "parsec-fcgi " PARSEC_VERSION "\n"},
        {"parsec-notifyd", "--version", NULL, "parsec-notifyd " PARSEC_VERSION "\n"},
        {"parsec", "--version", NULL, "parsec " PARSEC_VERSION "\n"},
        {"parsec", "backend", "run", "parsec " PARSEC_VERSION "\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[] = {cases[i].arg1, cases[i].arg2, cases[i].arg2 ? "--version" : NULL,
                              NULL};
        proc_t p;
        spawn(&p, cases[i].bin, args, NULL);
        ck_assert_int_eq(wait_exit(&p, 10000), 0);
        char *out = slurp(p.out);
        ck_assert_str_eq(out, cases[i].want);
        free(out);
        proc_done(&p);
    }
}
END_TEST

TEST_SUITE(startup)
{
    Suite *s = suite_create("startup");
    if (!testenv_db_setup())
        fprintf(stderr, "startup: no PostgreSQL; the tests will say why\n");
    TCase *tc = tcase_create("startup");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, worker_refused_by_the_database_stops_in_one_line);
    tcase_add_test(tc, worker_refused_later_stops_too);
    tcase_add_test(tc, worker_start_failures_are_one_line);
    tcase_add_test(tc, worker_socket_mode_is_0660);
    tcase_add_test(tc, notifyd_refused_by_the_database_stops_in_one_line);
    tcase_add_test(tc, notifyd_refused_on_reconnect_stops);
    tcase_add_test(tc, migrate_refused_by_the_database_stops_in_one_line);
    tcase_add_test(tc, version_names_the_program);
    tcase_add_test(tc, migrate_help_lists_its_own_settings);
    suite_add_tcase(s, tc);
    return s;
}
