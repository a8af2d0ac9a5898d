/*
 * tests/integration/test_cli_core.c - `parsec core ...` against a real server
 *
 * The built `parsec` binary (beside the test binary's build directory, or
 * $PARSEC_TEST_BUILD/parsec) is run as a script would run it: its stdout,
 * stderr and exit status are what is checked, against lighttpd +
 * parsec-fcgi, one server for the suite (tests/lib/porg.h), each test in
 * organizations of its own.  docs/administration.md promises these outputs
 * and exit statuses.
 */
#include "porg.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN PORG_ADMIN_TOKEN

static porg_srv_t *srv;

typedef struct {
    const porg_srv_t *srv;
    char *addr;     /* http://127.0.0.1:PORT */
    char *hostport; /* 127.0.0.1:PORT */
} env_t;

static void env_start(env_t *e)
{
    e->srv = srv;
    e->addr = xstrdup(porg_srv_url(srv));
    e->hostport = xasprintf("127.0.0.1:%d", websrv_port(porg_srv_websrv(srv)));
}

static void env_stop(env_t *e)
{
    free(e->addr);
    free(e->hostport);
}

/* ---- running the binary ---- */

typedef struct {
    int status; /* exit status, or 128+signal */
    char *out, *err;
} run_t;

static void drain(int fd, strbuf_t *b, bool *open)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) {
        *open = false;
        return;
    }
    strbuf_append(b, chunk, (size_t)n);
}

/*
 * cli - run `parsec core ARGS...` (NULL-terminated) with PARSEC_ADDR and
 * PARSEC_ADMINISTRATION_TOKEN removed from the environment, then the
 * "NAME=value" strings of env added.
 */
static run_t cli(const char *const *env, const char *const *args)
{
    char *bin = testenv_build_path("parsec");
    int out[2], err[2];
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        unsetenv("PARSEC_ADDR");
        unsetenv("PARSEC_ADMINISTRATION_TOKEN");
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        const char *argv[32] = {bin, "core"};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    run_t r = {0, NULL, NULL};
    strbuf_t ob = STRBUF_INIT, eb = STRBUF_INIT;
    bool oo = true, eo = true;
    while (oo || eo) {
        struct pollfd p[2] = {{.fd = oo ? out[0] : -1, .events = POLLIN},
                              {.fd = eo ? err[0] : -1, .events = POLLIN}};
        if (poll(p, 2, 60000) <= 0)
            break;
        if (p[0].revents)
            drain(out[0], &ob, &oo);
        if (p[1].revents)
            drain(err[0], &eb, &eo);
    }
    close(out[0]);
    close(err[0]);
    r.out = strbuf_detach(&ob);
    r.err = strbuf_detach(&eb);
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    free(bin);
    return r;
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

static void expect_run(const run_t *r, int status)
{
    ck_assert_msg(r->status == status, "exit %d, expected %d\nstdout: %s\nstderr: %s", r->status,
                  status, r->out, r->err);
}

static char *db_token(env_t *e, const char *org)
{
    char *t = porg_sql(
        e->srv, "SELECT bootstrap_token FROM organization WHERE organization_id = $1", org, NULL);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* ---- create, status, update, stats, stats_server ---- */

START_TEST(commands)
{
    env_t e;
    env_start(&e);
    char *cli_org = porg_org_id("CliOrg"), *json_org = porg_org_id("JsonOrg");
    const char *const ours[] = {cli_org, json_org, NULL};

    /* create: Parsec's line with the bootstrap address */
    run_t r = cli(NULL, (const char *[]){"create_organization", cli_org, "--addr", e.addr, "-T",
                                         TOKEN, NULL});
    expect_run(&r, 0);
    char *tok = db_token(&e, cli_org);
    char *want = xasprintf("Bootstrap organization url: parsec://%s/%s?no_ssl=true&"
                           "action=bootstrap_organization&token=%s\n",
                           e.hostport, cli_org, tok);
    ck_assert_str_eq(r.out, want);
    ck_assert_str_eq(r.err, "");
    free(want);
    free(tok);
    run_free(&r);

    /* the same with Parsec's address form, options after the id, re-creating */
    char *paddr = xasprintf("parsec://%s?no_ssl=true", e.hostport);
    r = cli(NULL, (const char *[]){"create_organization", "--addr", paddr, "--administration-token",
                                   TOKEN, cli_org, NULL});
    expect_run(&r, 0);
    tok = db_token(&e, cli_org);
    want = xasprintf("Bootstrap organization url: parsec://%s/%s?no_ssl=true&"
                     "action=bootstrap_organization&token=%s\n",
                     e.hostport, cli_org, tok);
    ck_assert_str_eq(r.out, want);
    free(want);
    free(tok);
    run_free(&r);

    /* --json, with a configuration */
    r = cli(NULL,
            (const char *[]){"create_organization", json_org, "-B", e.addr, "-T", TOKEN, "--json",
                             "--active-users-limit", "7", "--outsider-allowed", "false", NULL});
    expect_run(&r, 0);
    json_object *j = json_tokener_parse(r.out), *v;
    ck_assert_ptr_nonnull(j);
    ck_assert(json_object_object_get_ex(j, "organization_id", &v));
    ck_assert_str_eq(json_object_get_string(v), json_org);
    tok = db_token(&e, json_org);
    ck_assert(json_object_object_get_ex(j, "bootstrap_token", &v));
    ck_assert_str_eq(json_object_get_string(v), tok);
    ck_assert(json_object_object_get_ex(j, "bootstrap_url", &v));
    want = xasprintf("parsec://%s/%s?no_ssl=true&action=bootstrap_organization&token=%s",
                     e.hostport, json_org, tok);
    ck_assert_str_eq(json_object_get_string(v), want);
    free(want);
    free(tok);
    json_object_put(j);
    run_free(&r);

    /* status */
    r = cli(NULL,
            (const char *[]){"status_organization", json_org, "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out, "is_bootstrapped: false\nis_expired: false\n"
                            "user_profile_outsider_allowed: false\nactive_users_limit: 7\n");
    run_free(&r);

    /* update, then status again (--json) */
    r = cli(NULL, (const char *[]){"update_organization", json_org, "-B", e.addr, "-T", TOKEN,
                                   "--expire", "--active-users-limit", "none", NULL});
    expect_run(&r, 0);
    want = xasprintf("Organization %s updated\n", json_org);
    ck_assert_str_eq(r.out, want);
    free(want);
    run_free(&r);
    r = cli(NULL, (const char *[]){"status_organization", json_org, "-B", e.addr, "-T", TOKEN,
                                   "--json", NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out,
                     "{\"is_bootstrapped\":false,\"is_expired\":true,"
                     "\"user_profile_outsider_allowed\":false,\"active_users_limit\":null}\n");
    run_free(&r);
    r = cli(NULL, (const char *[]){"update_organization", json_org, "-B", e.addr, "-T", TOKEN,
                                   "--unexpire", "--outsider-allowed", "true", "--json", NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out, "{}\n");
    run_free(&r);
    ck_assert_int_eq(porg_sql_long(srv,
                                   "SELECT count(*) FROM organization WHERE organization_id = $1"
                                   " AND NOT is_expired AND user_profile_outsider_allowed AND"
                                   " active_users_limit IS NULL",
                                   json_org, NULL),
                     1);

    /* stats, with one user so the figures are not all zero */
    free(porg_sql(srv,
                  "INSERT INTO user_ (organization, user_id, profile, user_certificate,"
                  " redacted_user_certificate, created_on) SELECT _id, 'alice', 'STANDARD',"
                  " '\\x01', '\\x01', now() FROM organization WHERE organization_id = $1",
                  cli_org, NULL));
    r = cli(NULL, (const char *[]){"stats_organization", cli_org, "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out, "data_size: 0\nmetadata_size: 0\nrealms: 0\nusers: 1\n"
                            "active_users: 1\nadmin_users_active: 0\nadmin_users_revoked: 0\n"
                            "standard_users_active: 1\nstandard_users_revoked: 0\n"
                            "outsider_users_active: 0\noutsider_users_revoked: 0\n");
    run_free(&r);

    /* stats_server: CSV as the server writes it (our lines of it); JSON; a
     * date */
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    char *mine = porg_csv_only(r.out, ours);
    want = xasprintf("organization_id,data_size,metadata_size,realms,active_users,"
                     "admin_users_active,admin_users_revoked,standard_users_active,"
                     "standard_users_revoked,outsider_users_active,"
                     "outsider_users_revoked,users\r\n"
                     "%s,0,0,0,1,0,0,1,0,0,0,1\r\n"
                     "%s,0,0,0,0,0,0,0,0,0,0,0\r\n",
                     cli_org, json_org);
    ck_assert_str_eq(mine, want);
    free(want);
    free(mine);
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN, "--json", "--at",
                                   "2000-01-01T00:00:00+01:00", NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out, "{\"stats\":[]}\n");
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN, "--json", "--from",
                                   "2000-01-01T00:00:00Z", NULL});
    expect_run(&r, 0);
    mine = porg_stats_only(r.out, ours);
    j = json_tokener_parse(mine);
    ck_assert(json_object_object_get_ex(j, "stats", &v));
    ck_assert_int_eq(json_object_array_length(v), 2);
    json_object_put(j);
    free(mine);
    run_free(&r);

    /* the environment as fallback; the command line wins over it */
    char *ea = xasprintf("PARSEC_ADDR=%s", e.addr);
    r = cli((const char *[]){ea, "PARSEC_ADMINISTRATION_TOKEN=" TOKEN, NULL},
            (const char *[]){"status_organization", cli_org, NULL});
    expect_run(&r, 0);
    run_free(&r);
    r = cli((const char *[]){ea, "PARSEC_ADMINISTRATION_TOKEN=wrong", NULL},
            (const char *[]){"status_organization", cli_org, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    run_free(&r);
    free(ea);
    free(paddr);
    free(json_org);
    free(cli_org);
    env_stop(&e);
}
END_TEST

/* ---- exit statuses ---- */

/* A server that answers every request with an HTML 502, as a proxy whose
 * backend is down would. */
typedef struct {
    int fd;
} fake_srv;

static void *fake_serve(void *arg)
{
    fake_srv *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        ssize_t n = read(c, buf, sizeof buf);
        (void)n;
        static const char ans[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
                                  "Content-Length: 13\r\nConnection: close\r\n\r\n<h1>502</h1>\n";
        ssize_t w = write(c, ans, sizeof ans - 1);
        (void)w;
        close(c);
    }
}

static int listen_any(bool do_listen, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    if (do_listen)
        ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

START_TEST(exit_statuses)
{
    env_t e;
    env_start(&e);
    char *taken = porg_org_id("Taken");
    run_t r =
        cli(NULL, (const char *[]){"create_organization", taken, "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    run_free(&r);
    /* what organization_bootstrap leaves */
    free(porg_sql(srv,
                  "UPDATE organization SET root_verify_key = decode(repeat('ab', 32), 'hex'),"
                  " bootstrapped_on = now() WHERE organization_id = $1",
                  taken, NULL));

    /* 3: not found */
    r = cli(NULL, (const char *[]){"status_organization", "Nope", "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 3);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "not_found"));
    run_free(&r);
    r = cli(NULL, (const char *[]){"update_organization", "Nope", "-B", e.addr, "-T", TOKEN,
                                   "--expire", "--json", NULL});
    expect_run(&r, 3);
    json_object *j = json_tokener_parse(r.out), *v;
    ck_assert_ptr_nonnull(j);
    ck_assert(json_object_object_get_ex(j, "error", &v));
    ck_assert_str_eq(json_object_get_string(v), "not_found");
    json_object_put(j);
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_organization", "Nope", "-B", e.addr, "-T", TOKEN, NULL});
    expect_run(&r, 3);
    run_free(&r);

    /* 4: bootstrapped, cannot be re-created; nothing changed */
    char *before = porg_fingerprint(srv);
    r = cli(NULL, (const char *[]){"create_organization", taken, "-B", e.addr, "-T", TOKEN,
                                   "--json", NULL});
    expect_run(&r, 4);
    ck_assert_ptr_nonnull(strstr(r.out, "\"error\":\"already_exists\""));
    run_free(&r);
    char *after = porg_fingerprint(srv);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);

    /* 5: wrong token; the token is never echoed */
    r = cli(NULL, (const char *[]){"status_organization", taken, "-B", e.addr, "-T",
                                   "wrong-token-value", NULL});
    expect_run(&r, 5);
    ck_assert_ptr_null(strstr(r.err, "wrong-token-value"));
    ck_assert_ptr_null(strstr(r.out, "wrong-token-value"));
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", "x", NULL});
    expect_run(&r, 5);
    run_free(&r);

    /* 2: usage, checked before any request, and the server's bad_data */
    const char *const *const usage[] = {
        (const char *[]){"status_organization", "Bad!Id", "-T", TOKEN, "-B", "http://x", NULL},
        (const char *[]){"status_organization", "-T", TOKEN, "-B", "http://x", NULL},
        (const char *[]){"status_organization", "A", "B", "-T", TOKEN, "-B", "http://x", NULL},
        (const char *[]){"status_organization", "A", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x", NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x", "-T", "", NULL},
        (const char *[]){"status_organization", "A", "-B", "ftp://x", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x/p%2Fq", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x/p q", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x/p#f", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "http://u@x/p", "-T", TOKEN, NULL},
        (const char *[]){"status_organization", "A", "-B", "parsec://x?no_ssl=maybe", "-T", TOKEN,
                         NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x", "-T", TOKEN, "--bogus",
                         NULL},
        (const char *[]){"update_organization", "A", "-B", "http://x", "-T", TOKEN, NULL},
        (const char *[]){"update_organization", "A", "-B", "http://x", "-T", TOKEN, "--expire",
                         "--unexpire", NULL},
        (const char *[]){"update_organization", "A", "-B", "http://x", "-T", TOKEN,
                         "--active-users-limit", "-1", NULL},
        (const char *[]){"update_organization", "A", "-B", "http://x", "-T", TOKEN,
                         "--active-users-limit", "2147483648", NULL},
        (const char *[]){"update_organization", "A", "-B", "http://x", "-T", TOKEN,
                         "--outsider-allowed", "maybe", NULL},
        (const char *[]){"status_organization", "A", "-B", "http://x", "-T", TOKEN, "--expire",
                         NULL},
        (const char *[]){"stats_server", "A", "-B", "http://x", "-T", TOKEN, NULL},
        (const char *[]){"no_such_command", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        r = cli(NULL, usage[i]);
        ck_assert_msg(r.status == 2, "usage case %zu: exit %d\n%s", i, r.status, r.err);
        ck_assert_str_ne(r.err, "");
        run_free(&r);
    }
    r = cli(NULL,
            (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN, "--at", "junk", NULL});
    expect_run(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "bad_data"));
    run_free(&r);

    /* 1: nobody listening; a server that is not the API */
    int port;
    int closed = listen_any(false, &port);
    char *addr = xasprintf("http://127.0.0.1:%d", port);
    r = cli(NULL,
            (const char *[]){"status_organization", "A", "-B", addr, "-T", TOKEN, "--json", NULL});
    expect_run(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "\"error\":\"network_error\""));
    run_free(&r);
    close(closed);
    free(addr);
    fake_srv fs = {listen_any(true, &port)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fake_serve, &fs), 0);
    addr = xasprintf("parsec://127.0.0.1:%d?no_ssl=true", port);
    r = cli(NULL, (const char *[]){"create_organization", "A", "-B", addr, "-T", TOKEN, NULL});
    expect_run(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "server_error"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    shutdown(fs.fd, SHUT_RDWR);
    close(fs.fd);
    pthread_join(th, NULL);
    free(addr);

    /* 0: --help */
    r = cli(NULL, (const char *[]){"create_organization", "--help", NULL});
    expect_run(&r, 0);
    ck_assert_int_eq(strncmp(r.out, "usage: parsec core create_organization", 38), 0);
    run_free(&r);
    free(taken);
    env_stop(&e);
}
END_TEST

/* ---- the token from a file, --cacert ---- */

static char *token_file(const char *content, mode_t mode)
{
    const char *t = getenv("PARSEC_TEST_TMP");
    char *path = xasprintf("%s/cli-token-%d", t && *t ? t : "/tmp", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(token_from_a_file_and_cacert_checked)
{
    env_t e;
    env_start(&e);
    char *path = token_file(TOKEN "\n", 0600);
    run_t r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr,
                                         "--administration-token-file", path, NULL});
    expect_run(&r, 0);
    run_free(&r);
    char *ev = xasprintf("PARSEC_ADMINISTRATION_TOKEN_FILE=%s", path);
    r = cli((const char *[]){ev, NULL}, (const char *[]){"stats_server", "-B", e.addr, NULL});
    expect_run(&r, 0);
    run_free(&r);
    /* the flag wins over the variable, file or not */
    r = cli(
        (const char *[]){"PARSEC_ADMINISTRATION_TOKEN=wrong", NULL},
        (const char *[]){"stats_server", "-B", e.addr, "--administration-token-file", path, NULL});
    expect_run(&r, 0);
    run_free(&r);

    /* usage errors, before any request, never showing the token */
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN,
                                   "--administration-token-file", path, NULL});
    expect_run(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "give one"));
    run_free(&r);
    r = cli((const char *[]){ev, "PARSEC_ADMINISTRATION_TOKEN=x", NULL},
            (const char *[]){"stats_server", "-B", e.addr, NULL});
    expect_run(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "both set"));
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "--administration-token-file",
                                   "/nonexistent/token", NULL});
    expect_run(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--administration-token-file: cannot read"));
    run_free(&r);
    r = cli(NULL, (const char *[]){"stats_server", "-B", e.addr, "-T", TOKEN, "--cacert",
                                   "/nonexistent/ca.pem", NULL});
    expect_run(&r, 2);
    ck_assert_msg(strstr(r.err, "--cacert: cannot read \"/nonexistent/ca.pem\": No such file") &&
                      strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
                  "%s", r.err);
    ck_assert_ptr_null(strstr(r.err, TOKEN));
    run_free(&r);
    free(ev);
    unlink(path);
    free(path);
    env_stop(&e);
}
END_TEST

/* ---- a server mounted below a prefix (the templates' @MOUNT@) ---- */

START_TEST(mounted_under_prefix)
{
    char *db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    const char *env[] = {dbv, "PARSEC_ADMINISTRATION_TOKEN=" TOKEN, NULL};
    websrv_t *w = websrv_start(WEBSRV_NGINX, env, "/parsec");
    ck_assert_ptr_nonnull(w);
    int port = websrv_port(w);
    PGconn *pg = PQconnectdb(db);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);

    /* http(s):// with the prefix, a trailing slash or not */
    char *addr = xasprintf("http://127.0.0.1:%d/parsec", port);
    run_t r = cli(
        NULL, (const char *[]){"create_organization", "MountOrg", "-B", addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    const char *v[] = {"MountOrg"};
    PGresult *res =
        PQexecParams(pg, "SELECT bootstrap_token FROM organization WHERE organization_id = $1", 1,
                     NULL, v, NULL, NULL, 0);
    ck_assert_int_eq(PQntuples(res), 1);
    char *want = xasprintf("Bootstrap organization url: parsec://127.0.0.1:%d/parsec/MountOrg?"
                           "no_ssl=true&action=bootstrap_organization&token=%s\n",
                           port, PQgetvalue(res, 0, 0));
    PQclear(res);
    ck_assert_str_eq(r.out, want);
    free(want);
    run_free(&r);
    free(addr);
    addr = xasprintf("http://127.0.0.1:%d/parsec/", port);
    r = cli(NULL,
            (const char *[]){"status_organization", "MountOrg", "-B", addr, "-T", TOKEN, NULL});
    expect_run(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "is_bootstrapped: false\n"));
    run_free(&r);
    free(addr);

    /* Parsec's form, the prefix before the query */
    addr = xasprintf("parsec://127.0.0.1:%d/parsec?no_ssl=true", port);
    r = cli(NULL, (const char *[]){"update_organization", "MountOrg", "-B", addr, "-T", TOKEN,
                                   "--expire", NULL});
    expect_run(&r, 0);
    ck_assert_str_eq(r.out, "Organization MountOrg updated\n");
    run_free(&r);
    free(addr);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM organization WHERE "
                                         "organization_id = 'MountOrg' AND is_expired"),
                     1);

    /* without the prefix, the request misses the application: not a success */
    addr = xasprintf("http://127.0.0.1:%d", port);
    r = cli(NULL,
            (const char *[]){"status_organization", "MountOrg", "-B", addr, "-T", TOKEN, NULL});
    ck_assert_msg(r.status != 0, "a request outside the mount point succeeded: %s", r.out);
    run_free(&r);
    free(addr);

    PQfinish(pg);
    ck_assert(websrv_stop(w));
    testenv_db_drop(db);
    free(db);
    free(dbv);
}
END_TEST

TEST_SUITE(cli_core)
{
    testenv_db_setup();
    Suite *s = suite_create("cli_core");
    TCase *tc = porg_tcase("core", &srv, WEBSRV_LIGHTTPD, NULL);
    tcase_add_test(tc, commands);
    tcase_add_test(tc, exit_statuses);
    tcase_add_test(tc, token_from_a_file_and_cacert_checked);
    tcase_add_test(tc, mounted_under_prefix);
    suite_add_tcase(s, tc);
    return s;
}
