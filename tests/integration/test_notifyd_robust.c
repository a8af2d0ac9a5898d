/*
 * tests/integration/test_notifyd_robust.c - parsec-notifyd under stress and
 * failure: a client that stops reading, the database connection dropped,
 * a real PostgreSQL restart, two instances, SIGTERM, SIGHUP, TLS, keepalive
 * pings, and everything again through lighttpd via `parsec backend run`.
 */
#include "migrate.h"
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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

typedef struct {
    char *url;
    PGconn *pg;
    ndt_pub_t *pub;
    wsclient_ctx_t *ctx;
    pclient_key_t root;
    ndt_dev_t a1, a2, b1;
    uint8_t realm[16];
    char realm_hex[33];
} fx_t;

static void hex16(const uint8_t b[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Seed ORG (alice@a1, alice@a2, bob@b1; alice and bob in one realm) on a
 * database: the harness's when url is NULL, else url (not dropped). */
static void fx_seed(fx_t *f, const char *url)
{
    memset(f, 0, sizeof *f);
    f->url = url ? strdup(url) : testenv_db_create();
    f->pg = testenv_pg_connect(f->url);
    pclient_key_generate(&f->root);
    ndt_dev_make(&f->a1, f->pg, "ORG", &f->root, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&f->a2, f->pg, "ORG", &f->root, "alice@a2", NULL, false, false);
    ndt_dev_make(&f->b1, f->pg, "ORG", &f->root, "bob@b1", "STANDARD", false, true);
    pclient_uuid_random(f->realm);
    hex16(f->realm, f->realm_hex);
    ndt_realm(f->pg, "ORG", f->realm);
    ndt_role(f->pg, "ORG", f->realm, "alice", "OWNER");
    ndt_role(f->pg, "ORG", f->realm, "bob", "READER");
    f->pub = ndt_pub_new(f->url);
    f->ctx = wsclient_ctx_new(64);
}

static void fx_fini(fx_t *f, bool drop)
{
    wsclient_ctx_free(f->ctx);
    ndt_pub_free(f->pub);
    PQfinish(f->pg);
    if (drop)
        testenv_db_drop(f->url);
    free(f->url);
}

/* fx_start - seed (as fx_seed) and start one notifyd on the database. */
static ndt_proc_t *fx_start(fx_t *f, const char *url)
{
    fx_seed(f, url);
    return ndt_start(f->url, NULL);
}

/* fx_stop - notifyd must stop cleanly (status 0); then fx_fini. */
static void fx_stop(fx_t *f, ndt_proc_t *nd, bool drop)
{
    ck_assert_int_eq(ndt_stop(nd), 0);
    fx_fini(f, drop);
}

static void publish_vlob(fx_t *f, const char *author, int checkpoint)
{
    event_t ev = {.type = EVENT_REALM_VLOBS_UPDATED,
                  .org = "ORG",
                  .author = author,
                  .checkpoint = checkpoint,
                  .src_id = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
                  .src_version = 1};
    memcpy(ev.realm_id, f->realm, 16);
    ndt_publish(f->pub, &ev, true);
}

static void expect_missed(wsclient_t *c, int timeout_ms)
{
    json_object *m = ndt_expect(c, "events.missed", timeout_ms);
    ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"ok\",\"event\":\"events.missed\","
                     "\"reason\":\"database_reconnected\"}");
    json_object_put(m);
}

/* Wait until the notifyd log contains needle. */
static bool log_has(const ndt_proc_t *p, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        char *log = ndt_log(p);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        usleep(50000);
    }
    return false;
}

/* ---- a slow client ------------------------------------------------------- */

START_TEST(slow_client_disconnected)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    wsclient_t *slow = ndt_connect(f.ctx, nd->port, &f.a2);
    wsclient_t *fast = ndt_connect(f.ctx, nd->port, &f.b1);
    wsclient_pause(slow, true);

    /* Up to 1,500 pings of 7 KB (10 MB), in transactions of 25 that the
     * reading client takes as they come, until notifyd gives up on the one
     * that reads nothing (past 4 MiB unread: session.h). */
    const char *p[] = {EVENT_CHANNEL, NULL, NULL};
    bool overflowed = false;
    for (int i = 1; i <= 1500 && !overflowed; i += 25) {
        char from[16], to[16];
        snprintf(from, sizeof from, "%d", i);
        snprintf(to, sizeof to, "%d", i + 24);
        p[1] = from;
        p[2] = to;
        ndt_sql(f.pg,
                "SELECT pg_notify($1, json_build_object('o', 'ORG', 't', 'pinged', 'a', "
                "'alice@a1', 'ping', i || ':' || repeat('x', 7000))::text) "
                "FROM generate_series($2::int, $3::int) i",
                3, p);
        for (int k = i; k < i + 25; k++) {
            json_object *m = ndt_expect(fast, "pinged", NDT_WAIT);
            ck_assert_int_eq(atoi(ndt_str(m, "ping")), k);
            json_object_put(m);
        }
        overflowed = log_has(nd, "does not read its events", 0);
    }
    ck_assert_msg(overflowed, "no overflow logged");
    /* Reading again (within the close frame's 5 s of grace), it finds what
     * was in flight, then the close and why. */
    wsclient_pause(slow, false);
    ck_assert(wsclient_wait_closed(slow, NDT_WAIT));
    ck_assert_int_eq(wsclient_close_code(slow), 4004);
    ck_assert_str_eq(wsclient_close_reason(slow), "send queue overflow");
    size_t got = wsclient_pending(slow);
    ck_assert_msg(got < 1500, "the slow client got everything (%zu)", got);
    /* The fast one is still served. */
    ndt_ping(f.pub, "ORG", "alice@a1", "after");
    ndt_expect_ping(fast, "after", NDT_WAIT);
    fx_stop(&f, nd, true);
}
END_TEST

/* ---- the database connection dropped ------------------------------------- */

/* Kill notifyd's own backend (only it: application_name and database). */
static void kill_notifyd_backend(PGconn *pg)
{
    ndt_sql(pg,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'parsec-notifyd'",
            0, NULL);
}

/* ms taken by a plain GET of notifyd's /ws (answered 426 by its loop). */
static long get_ws_ms(int port)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ws", port);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_result_t *res = testhttp_request("GET", url, NULL, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(res->status, 426);
    testhttp_free(res);
    return (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/*
 * Reconnecting to a database named by host name never blocks the loop:
 * libpq resolves synchronously, so notifyd resolves on a thread (resolve.h)
 * and hands libpq the address.  notifyd runs with a getaddrinfo() that
 * takes 4 s for "localhost" once a flag file exists (tests/preload/
 * slowdns.c); while its reconnection waits for that, the loop keeps
 * answering, then the reconnection completes.
 */
START_TEST(reconnect_by_host_name)
{
    fx_t f;
    fx_seed(&f, NULL);
    /* The same database, named by host name. */
    const char *at = strstr(f.url, "host=127.0.0.1");
    ck_assert_msg(at != NULL, "unexpected test URL %s", f.url);
    char *url = NULL;
    ck_assert_int_ge(asprintf(&url, "%.*shost=localhost%s", (int)(at - f.url), f.url,
                              at + strlen("host=127.0.0.1")),
                     0);
    const char *tmp = getenv("PARSEC_TEST_TMP");
    char flag[512], started[600], so[512];
    snprintf(flag, sizeof flag, "%s/slowdns-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(started, sizeof started, "%s.started", flag);
    const char *build = getenv("PARSEC_TEST_BUILD");
    snprintf(so, sizeof so, "%s/tests/slowdns.so", build && *build ? build : "build-san");
    ck_assert_msg(access(so, R_OK) == 0, "%s missing (make tests)", so);
    /* Only notifyd gets the slow resolver (this process exec's nothing
     * else meanwhile); the sanitizer runtime must let it load first. */
    const char *asan = getenv("ASAN_OPTIONS");
    char *asan2 = NULL;
    ck_assert_int_ge(asprintf(&asan2, "%s%sverify_asan_link_order=0", asan ? asan : "",
                              asan && *asan ? ":" : ""),
                     0);
    setenv("ASAN_OPTIONS", asan2, 1);
    setenv("LD_PRELOAD", so, 1);
    setenv("SLOWDNS_NAME", "localhost", 1);
    setenv("SLOWDNS_FLAG", flag, 1);
    setenv("SLOWDNS_MS", "4000", 1);
    ndt_proc_t *nd = ndt_start(url, NULL);
    unsetenv("LD_PRELOAD");
    if (asan)
        setenv("ASAN_OPTIONS", asan, 1);
    free(asan2);

    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    FILE *fl = fopen(flag, "w");
    ck_assert_ptr_nonnull(fl);
    fclose(fl);
    kill_notifyd_backend(f.pg);
    /* notifyd is resolving "localhost" (4 s) to reconnect... */
    for (int i = 0; i < 100 && access(started, F_OK) != 0; i++)
        usleep(50000);
    ck_assert_msg(access(started, F_OK) == 0, "notifyd did not resolve the host name");
    /* ...and its loop answers meanwhile: HTTP, and a new websocket's
     * challenge (no database needed for either). */
    for (int i = 0; i < 3; i++) {
        long ms = get_ws_ms(nd->port);
        ck_assert_msg(ms < 1500, "the loop answered in %ld ms during the resolution", ms);
    }
    wsclient_t *c = wsclient_connect(f.ctx, "127.0.0.1", nd->port, "/ws", false, 1500);
    ck_assert_msg(c != NULL, "no websocket during the resolution");
    json_object *ch = wsclient_recv_json(c, 1500);
    ck_assert_msg(ch != NULL, "no challenge during the resolution");
    json_object_put(ch);
    ck_assert_msg(!log_has(nd, "database connection restored", 0),
                  "reconnected before the resolution ended");
    unlink(flag);
    /* Then the reconnection completes by the name's address. */
    expect_missed(a1, NDT_WAIT);
    ndt_ping(f.pub, "ORG", "bob@b1", "by name");
    ndt_expect_ping(a1, "by name", NDT_WAIT);
    unlink(started);
    free(url);
    fx_stop(&f, nd, true);
}
END_TEST

START_TEST(database_connection_lost)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    wsclient_t *b1 = ndt_connect(f.ctx, nd->port, &f.b1);
    for (int round = 0; round < 2; round++) {
        kill_notifyd_backend(f.pg);
        /* Connected clients stay and are told to resync... */
        expect_missed(a1, NDT_WAIT);
        expect_missed(b1, NDT_WAIT);
        /* ...then events flow again. */
        ndt_ping(f.pub, "ORG", "alice@a1", "again");
        ndt_expect_ping(b1, "again", NDT_WAIT);
    }
    /* New handshakes work too. */
    wsclient_t *a2 = ndt_connect(f.ctx, nd->port, &f.a2);
    ndt_ping(f.pub, "ORG", "bob@b1", "new");
    ndt_expect_ping(a2, "new", NDT_WAIT);
    ndt_expect_ping(a1, "new", NDT_WAIT);
    ck_assert_msg(log_has(nd, "database connection lost", 1000), "loss not logged");
    fx_stop(&f, nd, true);
}
END_TEST

/* What changed while notifyd was not listening is found by the re-check
 * after reconnection: a revocation, a role removal. */
START_TEST(recheck_after_reconnection)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    wsclient_t *a2 = ndt_connect(f.ctx, nd->port, &f.a2);
    wsclient_t *b1 = ndt_connect(f.ctx, nd->port, &f.b1);
    /* One transaction: notifyd's session is killed, then bob is revoked and
     * alice loses her role, committed at once; notifyd reconnects 100 ms
     * later at the earliest, so it never sees an event of these. */
    ndt_sql(f.pg, "BEGIN", 0, NULL);
    kill_notifyd_backend(f.pg);
    ndt_sql(f.pg,
            "UPDATE user_ SET revoked_on = now(), revoked_user_certificate = '\\x00' "
            "WHERE user_id = 'bob'",
            0, NULL);
    ndt_role(f.pg, "ORG", f.realm, "alice", NULL);
    ndt_sql(f.pg, "COMMIT", 0, NULL);
    expect_missed(b1, NDT_WAIT);
    ndt_expect_closed(b1, 4002, "user revoked", NDT_WAIT);
    expect_missed(a1, NDT_WAIT);
    expect_missed(a2, NDT_WAIT);
    /* alice is no member any more: a realm event published right away (it
     * may overtake the re-check, which then decides) does not reach her. */
    publish_vlob(&f, "nobody@x", 9);
    ndt_ping(f.pub, "ORG", "nobody@x", "barrier");
    ndt_expect_ping(a1, "barrier", NDT_WAIT);
    ndt_expect_ping(a2, "barrier", NDT_WAIT);
    fx_stop(&f, nd, true);
}
END_TEST

/* ---- a real PostgreSQL restart (a private cluster: the harness's is shared) */

typedef struct {
    char dir[256];
    char bin[256];
    int port;
    char url[512];
} own_pg_t;

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void own_pg_ctl(own_pg_t *o, const char *action)
{
    char cmd[2048];
    const char *as = geteuid() == 0 ? "runuser -u postgres -- " : "";
    if (!strcmp(action, "start"))
        snprintf(cmd, sizeof cmd,
                 "%s%s/pg_ctl -D %s/data -l %s/log -w -o \"-p %d -k %s -c listen_addresses='' "
                 "-c fsync=off\" start >/dev/null",
                 as, o->bin, o->dir, o->dir, o->port, o->dir);
    else
        snprintf(cmd, sizeof cmd, "%s%s/pg_ctl -D %s/data -w -m %s stop >/dev/null", as, o->bin,
                 o->dir, action);
    ck_assert_msg(run(cmd) == 0, "pg_ctl %s failed", action);
}

static void own_pg_start(own_pg_t *o)
{
    memset(o, 0, sizeof *o);
    glob_t g;
    ck_assert_int_eq(glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g), 0);
    snprintf(o->bin, sizeof o->bin, "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - 7),
             g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    snprintf(o->dir, sizeof o->dir, "/tmp/ndt-pg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(o->dir));
    ck_assert_int_eq(chmod(o->dir, 0755), 0);
    char cmd[2048];
    if (geteuid() == 0) {
        snprintf(cmd, sizeof cmd, "chown postgres %s", o->dir);
        ck_assert_int_eq(run(cmd), 0);
    }
    snprintf(cmd, sizeof cmd,
             "%s%s/initdb -D %s/data -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync "
             ">/dev/null",
             geteuid() == 0 ? "runuser -u postgres -- " : "", o->bin, o->dir);
    ck_assert_msg(run(cmd) == 0, "initdb failed");
    o->port = ndt_free_port();
    own_pg_ctl(o, "start");
    snprintf(o->url, sizeof o->url, "postgresql://postgres@/postgres?host=%s&port=%d", o->dir,
             o->port);
    PGconn *pg = testenv_pg_connect(o->url);
    char err[512];
    ck_assert_msg(migrate_apply(pg, false, NULL, NULL, NULL, err, sizeof err) == MIGRATE_OK,
                  "migrate: %s", err);
    PQfinish(pg);
}

static void own_pg_remove(own_pg_t *o)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s%s/pg_ctl -D %s/data -m immediate stop >/dev/null 2>&1",
             geteuid() == 0 ? "runuser -u postgres -- " : "", o->bin, o->dir);
    (void)run(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", o->dir);
    (void)run(cmd);
}

START_TEST(postgresql_restart)
{
    own_pg_t o;
    own_pg_start(&o);
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, o.url);
    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    wsclient_t *b1 = ndt_connect(f.ctx, nd->port, &f.b1);
    ndt_pub_free(f.pub);
    PQfinish(f.pg);

    own_pg_ctl(&o, "fast");
    ck_assert_msg(log_has(nd, "database connection lost", NDT_WAIT), "loss not logged");
    /* While the database is down: a new handshake is refused "retry". */
    wsclient_t *c = wsclient_connect(f.ctx, "127.0.0.1", nd->port, "/ws", false, NDT_WAIT);
    ck_assert_ptr_nonnull(c);
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    char *ans = ndt_answer_text(ch, "ORG", "alice@a2", &f.a2.key, f.a2.rvk);
    json_object_put(ch);
    ck_assert(wsclient_send_text(c, ans, strlen(ans)));
    free(ans);
    ndt_expect_closed(c, 1011, "database unavailable", NDT_WAIT);
    /* Connected clients are not dropped. */
    ck_assert_int_eq(wsclient_get_state(a1), WSCLIENT_OPEN);
    ck_assert_int_eq(wsclient_get_state(b1), WSCLIENT_OPEN);

    own_pg_ctl(&o, "start");
    expect_missed(a1, 20000);
    expect_missed(b1, 20000);
    f.pg = testenv_pg_connect(f.url);
    f.pub = ndt_pub_new(f.url);
    publish_vlob(&f, "alice@a1", 1);
    json_object_put(ndt_expect(b1, "realm.vlobs_updated", NDT_WAIT));
    ndt_ping(f.pub, "ORG", "bob@b1", "back");
    ndt_expect_ping(a1, "back", NDT_WAIT);
    fx_stop(&f, nd, false);
    own_pg_remove(&o);
}
END_TEST

/* ---- scale-out ------------------------------------------------------------- */

START_TEST(two_instances)
{
    fx_t f;
    fx_seed(&f, NULL);
    ndt_proc_t *n1 = ndt_start(f.url, NULL), *n2 = ndt_start(f.url, NULL);
    wsclient_t *a1 = ndt_connect(f.ctx, n1->port, &f.a1);
    wsclient_t *b1 = ndt_connect(f.ctx, n1->port, &f.b1);
    wsclient_t *a2 = ndt_connect(f.ctx, n2->port, &f.a2);
    wsclient_t *b1bis = ndt_connect(f.ctx, n2->port, &f.b1);
    ndt_ping(f.pub, "ORG", "alice@a1", "both");
    ndt_expect_ping(b1, "both", NDT_WAIT);
    ndt_expect_ping(a2, "both", NDT_WAIT);
    ndt_expect_ping(b1bis, "both", NDT_WAIT);
    publish_vlob(&f, "alice@a2", 5);
    json_object_put(ndt_expect(a1, "realm.vlobs_updated", NDT_WAIT));
    json_object_put(ndt_expect(b1, "realm.vlobs_updated", NDT_WAIT));
    json_object_put(ndt_expect(b1bis, "realm.vlobs_updated", NDT_WAIT));
    /* A revocation closes the user's connections on every instance. */
    event_t ev = {.type = EVENT_USER_REVOKED, .org = "ORG", .user = "bob"};
    ndt_publish(f.pub, &ev, true);
    ndt_expect_closed(b1, 4002, "user revoked", NDT_WAIT);
    ndt_expect_closed(b1bis, 4002, "user revoked", NDT_WAIT);
    ndt_ping(f.pub, "ORG", "alice@a2", "end");
    ndt_expect_ping(a1, "end", NDT_WAIT);
    ck_assert_int_eq(ndt_stop(n1), 0);
    ck_assert_int_eq(ndt_stop(n2), 0);
    fx_fini(&f, true);
}
END_TEST

/* ---- signals ----------------------------------------------------------------- */

START_TEST(sigterm_closes_cleanly)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    wsclient_t *b1 = ndt_connect(f.ctx, nd->port, &f.b1);
    /* One still in its handshake. */
    wsclient_t *c = wsclient_connect(f.ctx, "127.0.0.1", nd->port, "/ws", false, NDT_WAIT);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(kill(nd->pid, SIGTERM), 0);
    ndt_expect_closed(a1, 1001, "server shutting down", NDT_WAIT);
    ndt_expect_closed(b1, 1001, "server shutting down", NDT_WAIT);
    ndt_expect_closed(c, 1001, "server shutting down", NDT_WAIT);
    /* Exit status 0: clean, and LeakSanitizer found nothing. */
    fx_stop(&f, nd, true);
}
END_TEST

START_TEST(sighup_reopens_log)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    char rotated[600];
    snprintf(rotated, sizeof rotated, "%s.1", nd->log_path);
    ck_assert_int_eq(rename(nd->log_path, rotated), 0);
    ck_assert_int_eq(kill(nd->pid, SIGHUP), 0);
    ck_assert_msg(log_has(nd, "log file reopened", NDT_WAIT), "nothing in the new log file");
    /* Still serving after the signal. */
    wsclient_t *a1 = ndt_connect(f.ctx, nd->port, &f.a1);
    (void)a1;
    ck_assert_int_eq(ndt_stop(nd), 0);
    unlink(rotated);
    fx_fini(&f, true);
}
END_TEST

/* ---- TLS ---------------------------------------------------------------------- */

START_TEST(tls_wss)
{
    fx_t f;
    fx_seed(&f, NULL);
    char dir[] = "/tmp/ndt-tls.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char key[300], crt[300], cmd[1024];
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(crt, sizeof crt, "%s/cert.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
             "-subj /CN=127.0.0.1 >/dev/null 2>&1",
             key, crt);
    ck_assert_int_eq(run(cmd), 0);
    const char *extra[] = {"--ssl-keyfile", key, "--ssl-certfile", crt, NULL};
    ndt_proc_t *nd = ndt_start(f.url, extra);

    wsclient_t *a1 = wsclient_connect(f.ctx, "127.0.0.1", nd->port, "/ws", true, NDT_WAIT);
    ck_assert_msg(a1 != NULL, "wss connection failed");
    json_object *r = ndt_handshake(a1, &f.a1);
    ck_assert_str_eq(ndt_str(r, "result"), "ok");
    json_object_put(r);
    ndt_ping(f.pub, "ORG", "bob@b1", "secret");
    ndt_expect_ping(a1, "secret", NDT_WAIT);
    /* Plain ws on the TLS port does not open. */
    wsclient_t *plain = wsclient_connect_start(f.ctx, "127.0.0.1", nd->port, "/ws", false);
    wsclient_wait_all_open(f.ctx, NDT_WAIT);
    ck_assert_int_ne(wsclient_get_state(plain), WSCLIENT_OPEN);
    ck_assert_int_eq(ndt_stop(nd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)run(cmd);
    fx_fini(&f, true);
}
END_TEST

/* ---- keepalive: a relay that counts the server's ping frames ------------------ */

typedef struct {
    int listen_fd, target_port;
    volatile int pings; /* written by the relay thread, read after join */
    volatile int stop;
} relay_t;

/* Scan server-to-client bytes: after the HTTP response, websocket frames
 * (server frames are unmasked): count opcode 9 (ping).  Read-only: the
 * client on the other side is a real websocket client. */
typedef struct {
    int http_done; /* matched bytes of "\r\n\r\n" until 4 */
    int hdr_need;  /* header bytes still to read */
    unsigned char hdr[14];
    int hdr_len;
    unsigned long long skip; /* payload bytes to skip */
} scan_t;

static void scan_bytes(scan_t *s, const unsigned char *b, size_t n, relay_t *r)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (s->http_done < 4) {
            static const char end[] = "\r\n\r\n";
            s->http_done =
                c == (unsigned char)end[s->http_done] ? s->http_done + 1 : (c == '\r' ? 1 : 0);
            continue;
        }
        if (s->skip) {
            s->skip--;
            continue;
        }
        s->hdr[s->hdr_len++] = c;
        if (s->hdr_len == 2) {
            int l = s->hdr[1] & 0x7f;
            s->hdr_need = l == 126 ? 4 : l == 127 ? 10 : 2;
        }
        if (s->hdr_len >= 2 && s->hdr_len == s->hdr_need) {
            unsigned long long len = s->hdr[1] & 0x7f;
            if (len == 126)
                len = ((unsigned)s->hdr[2] << 8) | s->hdr[3];
            else if (len == 127) {
                len = 0;
                for (int k = 2; k < 10; k++)
                    len = (len << 8) | s->hdr[k];
            }
            if ((s->hdr[0] & 0x0f) == 0x9)
                r->pings++;
            s->skip = len;
            s->hdr_len = 0;
        }
    }
}

static void *relay_main(void *arg)
{
    relay_t *r = arg;
    int c = accept(r->listen_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)r->target_port)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c);
        close(s);
        return NULL;
    }
    scan_t sc = {0};
    unsigned char buf[16384];
    while (!r->stop) {
        struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
        if (poll(p, 2, 100) <= 0)
            continue;
        if (p[0].revents) {
            ssize_t n = read(c, buf, sizeof buf);
            if (n <= 0 || write(s, buf, (size_t)n) != n)
                break;
        }
        if (p[1].revents) {
            ssize_t n = read(s, buf, sizeof buf);
            if (n <= 0)
                break;
            scan_bytes(&sc, buf, (size_t)n, r);
            if (write(c, buf, (size_t)n) != n)
                break;
        }
    }
    close(c);
    close(s);
    return NULL;
}

START_TEST(keepalive_pings)
{
    fx_t f;
    ndt_proc_t *nd = fx_start(&f, NULL);
    relay_t r = {.target_port = nd->port};
    r.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    ck_assert_int_eq(bind(r.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(r.listen_fd, 1), 0);
    ck_assert_int_eq(getsockname(r.listen_fd, (struct sockaddr *)&a, &l), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, relay_main, &r), 0);

    wsclient_t *c = ndt_connect(f.ctx, ntohs(a.sin_port), &f.a1);
    /* An idle, authenticated connection: notifyd pings it after 20 s (the
     * client's lws answers), and it stays open. */
    ck_assert(!wsclient_wait_closed(c, 24000));
    r.stop = 1;
    pthread_join(th, NULL);
    close(r.listen_fd);
    ck_assert_msg(r.pings >= 1, "no websocket ping in 24 s");
    fx_stop(&f, nd, true);
}
END_TEST

/* ---- start-up refusals ----------------------------------------------------- */

static int run_notifyd(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1 </dev/null", ndt_notifyd_bin(), args);
    return run(cmd);
}

/* run_notifyd, and what it wrote on stderr must be exactly one line
 * containing cause. */
static int run_notifyd_one_line(const char *args, const char *cause)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null </dev/null", ndt_notifyd_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines == 1 && strstr(out, cause), "expected one line saying \"%s\", got:\n%s",
                  cause, out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(startup_refusals)
{
    char args[1024];
    int port = ndt_free_port();
    /* Bad settings: 2. */
    ck_assert_int_eq(run_notifyd(""), 2); /* no --db */
    ck_assert_int_eq(run_notifyd("--db MOCKED"), 2);
    ck_assert_int_eq(run_notifyd("--db postgresql://x/y --ssl-keyfile /k"), 2);
    ck_assert_int_eq(run_notifyd("--db postgresql://x/y --notifyd-port 0"), 2);
    /* Run-time failures: 1. */
    snprintf(args, sizeof args,
             "--db postgresql://postgres@127.0.0.1:1/x --maximum-database-connection-attempts 1 "
             "--notifyd-port %d",
             port);
    ck_assert_int_eq(run_notifyd(args), 1);
    char *empty = testenv_db_create_empty();
    snprintf(args, sizeof args, "--db '%s' --notifyd-port %d", empty, port);
    ck_assert_int_eq(run_notifyd(args), 1); /* schema behind */
    testenv_db_drop(empty);
    free(empty);
    char *url = testenv_db_create();
    snprintf(args, sizeof args,
             "--db '%s' --notifyd-port %d --ssl-keyfile /nonexistent --ssl-certfile /nonexistent",
             url, port);
    ck_assert_int_eq(run_notifyd(args), 2); /* missing TLS files: the parser says so */
    char junk[] = "/tmp/ndt-junk.XXXXXX";
    int fd = mkstemp(junk);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    snprintf(args, sizeof args, "--db '%s' --notifyd-port %d --ssl-keyfile %s --ssl-certfile %s",
             url, port, junk, junk);
    /* TLS files lws cannot use: one line, with lws's reason */
    ck_assert_int_eq(run_notifyd_one_line(args, "with TLS: libwebsockets: "), 1);
    chmod(junk, 0);
    if (geteuid() != 0) /* root reads anything */
        ck_assert_int_eq(run_notifyd_one_line(args, "Permission denied"), 1);
    unlink(junk);
    ndt_proc_t *nd = ndt_start(url, NULL);
    snprintf(args, sizeof args, "--db '%s' --notifyd-port %d", url, nd->port);
    /* port in use: one line naming the cause, not lws's lines and a guess */
    ck_assert_int_eq(run_notifyd_one_line(args, ": Address already in use"), 1);
    ck_assert_int_eq(ndt_stop(nd), 0);
    testenv_db_drop(url);
    free(url);
}
END_TEST

TEST_SUITE(notifyd_robust)
{
    Suite *s = suite_create("notifyd_robust");
    TCase *tc = tcase_create("robust");
    testenv_db_setup();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, slow_client_disconnected);
    tcase_add_test(tc, database_connection_lost);
    tcase_add_test(tc, reconnect_by_host_name);
    tcase_add_test(tc, recheck_after_reconnection);
    tcase_add_test(tc, postgresql_restart);
    tcase_add_test(tc, two_instances);
    tcase_add_test(tc, sigterm_closes_cleanly);
    tcase_add_test(tc, sighup_reopens_log);
    tcase_add_test(tc, tls_wss);
    tcase_add_test(tc, keepalive_pings);
    tcase_add_test(tc, startup_refusals);
    suite_add_tcase(s, tc);
    return s;
}
