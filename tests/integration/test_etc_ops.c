/*
 * tests/integration/test_etc_ops.c - what the shipped etc/ files do for an
 * administrator: access logs that keep no secret, secrets read from files
 *
 * Each web server runs from its shipped templates (tests/lib/websrv.c) with
 * the workers' secrets given as PARSEC_*_FILE, the way etc/README.md says:
 * the administration API opening with the token proves the workers read
 * it.  Requests then carry every kind of secret a client sends (the
 * Authorization and Invitation-Token headers, an invitation link's query
 * string) and the server's access log must hold the requests but none of
 * those.  The systemd units are checked by systemd-analyze and notifyd's
 * is run as systemd would (LoadCredential= copies, %d expanded).
 */
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN    "etc-T0KEN-4a8e1c"
#define INVITE   "INV1TE-5f0e2b"
#define QUERYTOK "QU3RY-9c1d7a"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *slurp(const char *path)
{
    strbuf_t b = STRBUF_INIT;
    (void)strbuf_read_file(&b, path);
    return strbuf_detach(&b);
}

/* A secret file the workers' user can read, as etc/README.md advises:
 * mode 0640, group of the web server. */
static char *secret_file(const char *dir, const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", content);
    fclose(f);
    struct group *g = getgrnam("www-data");
    ck_assert_int_eq(chmod(path, 0640), 0);
    if (g && geteuid() == 0)
        ck_assert_int_eq(chown(path, 0, g->gr_gid), 0);
    return path;
}

static char *private_dir(const char *tag)
{
    const char *t = getenv("PARSEC_TEST_TMP");
    char *d = xasprintf("%s/%s.XXXXXX", t && *t ? t : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(d));
    ck_assert_int_eq(chmod(d, 0711), 0);
    return d;
}

static http_result_t *req(websrv_t *w, const char *method, const char *path,
                          const char *const *headers)
{
    char *url = websrv_urlf(w, path);
    http_result_t *r = testhttp_request(method, url, headers, NULL, 0);
    free(url);
    return r;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(access_log_keeps_no_secret)
{
    static const char *const logs[WEBSRV_KIND_COUNT] = {
        [WEBSRV_LIGHTTPD] = "lighttpd-access.log",
        [WEBSRV_APACHE] = "apache2-access.log",
        [WEBSRV_NGINX] = "nginx-access.log",
    };
    websrv_kind kind = (websrv_kind)_i;
    char *db = testenv_db_create();
    char *dir = private_dir("etc-secrets");
    char *dbf = secret_file(dir, "db", db), *tokf = secret_file(dir, "token", TOKEN);
    char *e1 = xasprintf("PARSEC_DB_FILE=%s", dbf);
    char *e2 = xasprintf("PARSEC_ADMINISTRATION_TOKEN_FILE=%s", tokf);
    const char *env[] = {e1,
                         e2,
                         "PARSEC_DB_MIN_CONNECTIONS=1",
                         "PARSEC_DB_MAX_CONNECTIONS=2",
                         "PARSEC_BACKEND_ADDR=parsec://parsec.example.com",
                         "PARSEC_LOG_LEVEL=INFO",
                         NULL};
    websrv_t *w = websrv_start(kind, env, NULL);
    ck_assert_msg(w != NULL, "%s did not start", websrv_kind_name(kind));

    /* the workers read the token from its file: the API opens with it */
    const char *auth[] = {"Authorization: Bearer " TOKEN, NULL};
    http_result_t *r = NULL;
    for (int i = 0; i < 100; i++) {
        testhttp_free(r);
        r = req(w, "GET", "/administration/stats", auth);
        if (r->status == 200)
            break;
        sleep_ms(100); /* the pool opens in the background */
    }
    ck_assert_msg(r->status == 200, "%s: administration API: %ld", websrv_kind_name(kind),
                  r->status);
    char *stats_id = testhttp_header(r, "X-Request-Id");
    ck_assert_ptr_nonnull(stats_id);
    testhttp_free(r);
    /* an invitation token in its header */
    const char *inv[] = {"Invitation-Token: " INVITE, "Content-Type: application/msgpack", NULL};
    r = req(w, "POST", "/invited/NoSuchOrg", inv);
    ck_assert_int_ne(r->status, 0);
    testhttp_free(r);
    /* an invitation link: its token in the query string */
    r = req(w, "GET", "/redirect/SomeOrg?action=claim_user_invitation&token=" QUERYTOK, NULL);
    ck_assert_int_eq(r->status, 302);
    testhttp_free(r);
    /* a request id chosen upstream is kept, and logged */
    const char *rid[] = {"X-Request-Id: upstream-trace-77", NULL};
    r = req(w, "GET", "/health", rid);
    ck_assert_int_eq(r->status, 200);
    char *echoed = testhttp_header(r, "X-Request-Id");
    ck_assert_str_eq(echoed, "upstream-trace-77");
    free(echoed);
    testhttp_free(r);

    char *path = xasprintf("%s/%s", websrv_rundir(w), logs[kind]);
    char *text = NULL;
    for (int i = 0; i < 100; i++) {
        free(text);
        text = slurp(path);
        if (count_lines(text) >= 4 && strstr(text, "upstream-trace-77"))
            break;
        sleep_ms(100);
    }
    ck_assert_msg(strstr(text, "GET /administration/stats ") && strstr(text, stats_id) &&
                      strstr(text, "POST /invited/NoSuchOrg ") &&
                      strstr(text, "GET /redirect/SomeOrg ") && strstr(text, "upstream-trace-77"),
                  "%s access log:\n%s", websrv_kind_name(kind), text);
    ck_assert_msg(!strstr(text, TOKEN) && !strstr(text, "Bearer") && !strstr(text, INVITE) &&
                      !strstr(text, QUERYTOK) && !strstr(text, "?action"),
                  "%s access log keeps a secret:\n%s", websrv_kind_name(kind), text);

    /* the worker's own access lines: the same requests, the same ids, no
     * secret either */
    char *wlog = websrv_error_log(w);
    ck_assert_msg(wlog && strstr(wlog, "upstream-trace-77 access: ") &&
                      strstr(wlog, "GET /redirect/SomeOrg -> 302"),
                  "%s worker log:\n%s", websrv_kind_name(kind), wlog ? wlog : "(none)");
    ck_assert_msg(!strstr(wlog, TOKEN) && !strstr(wlog, INVITE) && !strstr(wlog, QUERYTOK),
                  "%s worker log keeps a secret:\n%s", websrv_kind_name(kind), wlog);
    free(wlog);
    ck_assert(websrv_stop(w));

    free(text);
    free(path);
    free(stats_id);
    free(e1);
    free(e2);
    unlink(dbf);
    unlink(tokf);
    rmdir(dir);
    free(dbf);
    free(tokf);
    free(dir);
    testenv_db_drop(db);
    free(db);
}
END_TEST

/* ---- the systemd units ---------------------------------------------------- */

/* unit_rendered - etc/systemd/name with its placeholders filled for this
 * machine, written into dir; the path (caller frees). */
static char *unit_rendered(const char *dir, const char *name, int notifyd_port)
{
    char *src = xasprintf("%s/etc/systemd/%s", getenv("PARSEC_TEST_SRC"), name);
    char *text = slurp(src);
    ck_assert_msg(*text, "cannot read %s", src);
    char *fcgi = testenv_build_path("parsec-fcgi"), *nd = testenv_build_path("parsec-notifyd"),
         *parsec = testenv_build_path("parsec"), *port = xasprintf("%d", notifyd_port);
    const char *subs[][2] = {{"@USER@", "www-data"},   {"@GROUP@", "www-data"},
                             {"@FCGI_BIN@", fcgi},     {"@NOTIFYD_BIN@", nd},
                             {"@PARSEC_BIN@", parsec}, {"@RUNDIR@", dir},
                             {"@NOTIFYD_PORT@", port}};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        for (char *at = strstr(text, subs[i][0]); at; at = strstr(text, subs[i][0])) {
            char *next =
                xasprintf("%.*s%s%s", (int)(at - text), text, subs[i][1], at + strlen(subs[i][0]));
            free(text);
            text = next;
        }
    }
    for (const char *a = strchr(text, '@'); a; a = strchr(a + 1, '@')) {
        size_t n = strspn(a + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
        ck_assert_msg(!(n && a[1 + n] == '@'), "%s: placeholder %.*s left", name, (int)n + 2, a);
    }
    char *out = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    free(text);
    free(src);
    free(fcgi);
    free(nd);
    free(parsec);
    free(port);
    return out;
}

/* The value of the first "Key=" line of a unit, malloc'd, or NULL. */
static char *unit_key(const char *text, const char *key, size_t nth)
{
    size_t klen = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, key, klen) && l[klen] == '=' && nth-- == 0)
            return xstrndup(l + klen + 1, strcspn(l + klen + 1, "\n"));
    }
    return NULL;
}

START_TEST(units_take_secrets_from_credentials)
{
    static const char *const units[] = {"parsec-fcgi.service", "parsec-fcgi-spawn.service",
                                        "parsec-notifyd.service", "parsec.service"};
    char *dir = private_dir("etc-units");
    int port = testenv_free_port();
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        char *path = unit_rendered(dir, units[u], port);
        /* systemd's own reading: no unknown key, no bad value */
        char *err = xasprintf("%s/verify.err", dir);
        char *cmd = xasprintf("systemd-analyze verify --man=no '%s' 2>'%s'", path, err);
        int rc = system(cmd);
        char *msgs = slurp(err);
        ck_assert_msg(rc == 0 && !*msgs, "%s: systemd-analyze verify: %d\n%s", units[u], rc, msgs);
        free(msgs);
        free(cmd);
        unlink(err);
        free(err);

        /* every secret from a credential: PARSEC_DB_FILE=%d/db and
         * LoadCredential=db:..., never a secret value in Environment= */
        char *text = slurp(path);
        char *envline = unit_key(text, "Environment", 0);
        ck_assert_msg(envline && strstr(envline, "PARSEC_DB_FILE=%d/db"), "%s: %s", units[u],
                      envline ? envline : "no Environment=");
        ck_assert_msg(!strstr(envline, "PARSEC_DB=") &&
                          !strstr(envline, "PARSEC_ADMINISTRATION_TOKEN="),
                      "%s: %s", units[u], envline);
        for (char *v = strstr(envline, "%d/"); v; v = strstr(v + 1, "%d/")) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(v + 3, " \""), v + 3);
            bool loaded = false;
            char *lc;
            for (size_t k = 0; (lc = unit_key(text, "LoadCredential", k)); k++) {
                loaded = loaded || (!strncmp(lc, name, strlen(name)) && lc[strlen(name)] == ':');
                free(lc);
            }
            ck_assert_msg(loaded, "%s: %%d/%s without LoadCredential=%s:", units[u], name, name);
        }
        free(envline);
        free(text);
        unlink(path);
        free(path);
    }

    /* notifyd's unit, run as systemd would run it: the credential copied
     * into a directory of its own, %d expanded, the URL never in its
     * environment. */
    char *path = unit_rendered(dir, "parsec-notifyd.service", port);
    char *text = slurp(path);
    char *creds = xasprintf("%s/credentials", dir);
    ck_assert_int_eq(mkdir(creds, 0700), 0);
    char *db = testenv_db_create();
    char *dbcopy = secret_file(creds, "db", db);
    char *envline = unit_key(text, "Environment", 0);
    char *exec = unit_key(text, "ExecStart", 0);
    char *argv[16];
    size_t na = 0;
    for (char *t = strtok(exec, " "); t && na < 15; t = strtok(NULL, " "))
        argv[na++] = t;
    argv[na] = NULL;
    char *envp[16];
    size_t ne = 0;
    for (char *t = strtok(envline, " "); t && ne < 10; t = strtok(NULL, " ")) {
        char *d = strstr(t, "%d");
        envp[ne++] = d ? xasprintf("%.*s%s%s", (int)(d - t), t, creds, d + 2) : xstrdup(t);
    }
    const char *pass[] = {"PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PARSEC_TEST_RUN_ID"};
    for (size_t i = 0; i < 4; i++)
        if (getenv(pass[i]))
            envp[ne++] = xasprintf("%s=%s", pass[i], getenv(pass[i]));
    envp[ne] = NULL;
    char *out = xasprintf("%s/notifyd.out", dir), *errp = xasprintf("%s/notifyd.err", dir);
    pid_t parent = getpid(), pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    char *o = NULL;
    for (int i = 0; i < 300; i++) {
        free(o);
        o = slurp(out);
        if (strstr(o, "ready ") || waitpid(pid, NULL, WNOHANG) == pid)
            break;
        sleep_ms(50);
    }
    char *e = slurp(errp);
    ck_assert_msg(strstr(o, "ready ws://127.0.0.1:"), "notifyd from its unit did not start:\n%s",
                  e);
    char *envfile = xasprintf("/proc/%d/environ", (int)pid);
    strbuf_t pe = STRBUF_INIT;
    ck_assert(strbuf_read_file(&pe, envfile));
    for (size_t i = 0; i < pe.len; i++)
        if (!pe.s[i])
            pe.s[i] = '\n';
    ck_assert_msg(!strstr(pe.s, "postgresql://"), "the URL is in notifyd's environment:\n%s", pe.s);
    strbuf_free(&pe);
    kill(pid, SIGTERM);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "notifyd exit %d:\n%s", st, e);

    for (size_t i = 0; i < ne; i++)
        free(envp[i]);
    free(e);
    free(o);
    free(envfile);
    unlink(out);
    unlink(errp);
    free(out);
    free(errp);
    free(envline);
    free(exec);
    unlink(dbcopy);
    free(dbcopy);
    rmdir(creds);
    free(creds);
    unlink(path);
    free(path);
    free(text);
    rmdir(dir);
    free(dir);
    testenv_db_drop(db);
    free(db);
}
END_TEST

TEST_SUITE(etc_ops)
{
    Suite *s = suite_create("etc_ops");
    if (!testenv_db_setup())
        fprintf(stderr, "etc_ops: no PostgreSQL; the tests will say why\n");
    TCase *tc = tcase_create("etc");
    tcase_set_timeout(tc, 180);
    tcase_add_loop_test(tc, access_log_keeps_no_secret, 0, WEBSRV_KIND_COUNT);
    tcase_add_test(tc, units_take_secrets_from_credentials);
    suite_add_tcase(s, tc);
    return s;
}
