/*
 * tests/integration/test_notifyd_lib.c - what the notifyd suites share
 */
#include "test_notifyd_lib.h"

#include "cfg.h"
#include "db.h"
#include "testenv.h"
#include "websrv.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- process ------------------------------------------------------------- */

const char *ndt_notifyd_bin(void)
{
    static char path[PATH_MAX];
    const char *b = getenv("PARSEC_TEST_BUILD");
    if (b && *b) {
        snprintf(path, sizeof path, "%s/parsec-notifyd", b);
        return path;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_msg(n > 0, "readlink /proc/self/exe");
    exe[n] = '\0';
    /* build-X/tests/integration -> build-X */
    char *d = dirname(dirname(exe));
    snprintf(path, sizeof path, "%s/parsec-notifyd", d);
    return path;
}

int ndt_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    return ntohs(a.sin_port);
}

static const char *tmpdir(void)
{
    const char *t = getenv("PARSEC_TEST_TMP");
    if (!t || !*t)
        t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* Wait up to ms for a line starting with "ready " on fd. */
static bool wait_ready(int fd, pid_t pid, int ms, char *line, size_t cap)
{
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= ms)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(ms - el));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = read(fd, line + len, cap - 1 - len);
        if (n <= 0)
            return false; /* exited */
        len += (size_t)n;
        line[len] = '\0';
        if (strchr(line, '\n'))
            return strncmp(line, "ready ", 6) == 0;
        if (len + 1 >= cap)
            return false;
    }
    (void)pid;
}

static ndt_proc_t *start_once(const char *db_url, const char *const *extra, int port)
{
    ndt_proc_t *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    static int seq;
    snprintf(p->log_path, sizeof p->log_path, "%s/notifyd-%d-%d-%d.log", tmpdir(), (int)getpid(),
             port, ++seq);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *argv[64];
    int n = 0;
    argv[n++] = ndt_notifyd_bin();
    argv[n++] = "--db";
    argv[n++] = db_url;
    argv[n++] = "--notifyd-host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--notifyd-port";
    argv[n++] = portstr;
    argv[n++] = "--log-level";
    argv[n++] = "INFO";
    argv[n++] = "--log-file";
    argv[n++] = p->log_path;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int out[2];
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        int errfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (errfd >= 0)
            dup2(errfd, 2);
        execve(argv[0], (char *const *)argv, environ);
        _exit(127);
    }
    close(out[1]);
    p->pid = pid;
    p->port = port;
    p->out_fd = out[0];
    char line[512];
    if (wait_ready(out[0], pid, 30000, line, sizeof line))
        return p;
    /* Did not become ready: collect it. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out[0]);
    free(p);
    return NULL;
}

ndt_proc_t *ndt_start(const char *db_url, const char *const *extra)
{
    /* A port free a moment ago may be taken meanwhile by someone else's
     * test: try a few. */
    for (int attempt = 0; attempt < 5; attempt++) {
        ndt_proc_t *p = start_once(db_url, extra, ndt_free_port());
        if (p)
            return p;
    }
    ck_abort_msg("parsec-notifyd (%s) did not become ready", ndt_notifyd_bin());
    return NULL;
}

int ndt_stop(ndt_proc_t *p)
{
    if (!p)
        return -1;
    kill(p->pid, SIGTERM);
    int status = 0, rc = -1;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        usleep(10000);
    }
    if (rc == -1 && waitpid(p->pid, &status, WNOHANG) == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
    }
    close(p->out_fd);
    free(p);
    return rc;
}

char *ndt_log(const ndt_proc_t *p)
{
    FILE *f = fopen(p->log_path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return strdup("");
    }
    return buf;
}

/* ---- the whole server: parsec backend run ------------------------------------ */

void ndt_run_start(ndt_run_t *r, const char *url)
{
    char parsec[PATH_MAX];
    snprintf(parsec, sizeof parsec, "%s", ndt_notifyd_bin());
    snprintf(strrchr(parsec, '/') + 1, sizeof parsec - (size_t)(strrchr(parsec, '/') + 1 - parsec),
             "parsec");
    r->port = ndt_free_port();
    snprintf(r->base, sizeof r->base, "http://127.0.0.1:%d", r->port);
    int nport = ndt_free_port();
    char p1[16], p2[16];
    snprintf(p1, sizeof p1, "%d", r->port);
    snprintf(p2, sizeof p2, "%d", nport);
    const char *tmp = getenv("PARSEC_TEST_TMP");
    snprintf(r->log, sizeof r->log, "%s/backend-run-%d-%d.log", tmp && *tmp ? tmp : "/tmp",
             (int)getpid(), r->port);
    const char *argv[] = {parsec,
                          "backend",
                          "run",
                          "--db",
                          url,
                          "--blockstore",
                          "POSTGRESQL",
                          "--administration-token",
                          "t0k3n",
                          "--backend-addr",
                          "parsec://localhost",
                          "--email-host",
                          "MOCKED",
                          "--port",
                          p1,
                          "--notifyd-port",
                          p2,
                          NULL};
    fflush(NULL);
    pid_t parent = getpid();
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        /* Out of Check's process group and told when the test dies, so the
         * supervisor always stops its children itself. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0L, 0L, 0L);
        if (getppid() != parent)
            _exit(125);
        FILE *f = freopen(r->log, "w", stdout);
        (void)f;
        dup2(1, 2);
        execve(parsec, (char *const *)argv, environ);
        _exit(127);
    }
    /* Serving once /health answers through lighttpd. */
    char health[128];
    snprintf(health, sizeof health, "http://127.0.0.1:%d/health", r->port);
    for (int i = 0; i < 600; i++) {
        http_result_t *res = testhttp_request("GET", health, NULL, NULL, 0);
        long st = res->status;
        testhttp_free(res);
        if (st == 200)
            return;
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
            ck_abort_msg("parsec backend run exited at start (see %s)", r->log);
        usleep(100000);
    }
    ck_abort_msg("parsec backend run did not serve within 60 s");
}

const char *ndt_run_url(const ndt_run_t *r)
{
    return r->base;
}

int ndt_run_stop(ndt_run_t *r)
{
    kill(r->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &status, 0);
    return -1;
}

/* ---- database ------------------------------------------------------------------ */

void ndt_sql(PGconn *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        ck_abort_msg("SQL failed: %s: %s", sql, msg);
    }
    if (st == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(r), "0") && !strncmp(sql, "INSERT", 6)) {
        PQclear(r);
        ck_abort_msg("SQL inserted nothing: %s", sql);
    }
    PQclear(r);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

void ndt_org(PGconn *pg, const char *org, const uint8_t rvk[32])
{
    char h[65];
    hex(rvk, 32, h);
    const char *p[] = {org, h};
    ndt_sql(pg,
            "INSERT INTO organization (organization_id, bootstrap_token, root_verify_key, "
            "bootstrapped_on) VALUES ($1, '', decode($2, 'hex'), now())",
            2, p);
}

void ndt_user(PGconn *pg, const char *org, const char *user, const char *profile)
{
    const char *p[] = {org, user, profile};
    ndt_sql(pg,
            "INSERT INTO user_ (organization, user_id, profile, user_certificate, "
            "redacted_user_certificate, created_on) SELECT _id, $2, $3, '\\x00', '\\x00', now() "
            "FROM organization WHERE organization_id = $1",
            3, p);
}

void ndt_device(PGconn *pg, const char *org, const char *device_id, const uint8_t verify_key[32])
{
    char h[65];
    hex(verify_key, 32, h);
    const char *p[] = {org, device_id, h};
    ndt_sql(pg,
            "INSERT INTO device (organization, user_, device_id, verify_key, device_certificate, "
            "redacted_device_certificate, created_on) SELECT o._id, u._id, $2, decode($3, 'hex'), "
            "'\\x00', '\\x00', now() FROM organization o JOIN user_ u ON u.organization = o._id "
            "AND u.user_id = split_part($2, '@', 1) WHERE o.organization_id = $1",
            3, p);
}

void ndt_realm(PGconn *pg, const char *org, const uint8_t realm[16])
{
    char h[33];
    hex(realm, 16, h);
    const char *p[] = {org, h};
    ndt_sql(pg,
            "INSERT INTO realm (organization, realm_id, created_on) SELECT _id, $2::uuid, now() "
            "FROM organization WHERE organization_id = $1",
            2, p);
}

void ndt_role(PGconn *pg, const char *org, const uint8_t realm[16], const char *user,
              const char *role)
{
    char h[33];
    hex(realm, 16, h);
    const char *p[] = {org, h, user, role};
    ndt_sql(pg,
            "INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by, "
            "certified_on) SELECT r._id, u._id, $4, '\\x00', "
            "(SELECT min(_id) FROM device WHERE organization = o._id), now() "
            "FROM organization o JOIN realm r ON r.organization = o._id AND r.realm_id = $2::uuid "
            "JOIN user_ u ON u.organization = o._id AND u.user_id = $3 "
            "WHERE o.organization_id = $1",
            4, p);
}

ndt_dev_t ndt_dev_of(const pclient_device_t *d, const uint8_t rvk[32])
{
    ndt_dev_t n;
    memset(&n, 0, sizeof n);
    snprintf(n.org, sizeof n.org, "%s", d->organization_id);
    snprintf(n.device_id, sizeof n.device_id, "%s", d->device_id);
    n.key = d->key;
    memcpy(n.rvk, rvk, 32);
    return n;
}

void ndt_dev_make(ndt_dev_t *d, PGconn *pg, const char *org, const pclient_key_t *root,
                  const char *device_id, const char *profile, bool new_org, bool new_user)
{
    memset(d, 0, sizeof *d);
    snprintf(d->org, sizeof d->org, "%s", org);
    snprintf(d->device_id, sizeof d->device_id, "%s", device_id);
    memcpy(d->rvk, root->pub, 32);
    pclient_key_generate(&d->key);
    if (new_org)
        ndt_org(pg, org, root->pub);
    if (new_user) {
        char user[64];
        snprintf(user, sizeof user, "%.*s", (int)strcspn(device_id, "@"), device_id);
        ndt_user(pg, org, user, profile ? profile : "STANDARD");
    }
    ndt_device(pg, org, device_id, d->key.pub);
}

/* ---- handshake ------------------------------------------------------------------- */

const char *ndt_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

char *ndt_answer_text(json_object *challenge, const char *org, const char *device_id,
                      const pclient_key_t *key, const uint8_t rvk[32])
{
    const char *ch = ndt_str(challenge, "challenge");
    ck_assert_msg(*ch, "no challenge in the server's first message");
    /* docs/events.md: the device signs this exact text. */
    char *signed_text = NULL;
    ck_assert_int_ge(asprintf(&signed_text, "{\"type\":\"signed_answer\",\"answer\":\"%s\"}", ch),
                     0);
    uint8_t sig[64];
    pclient_sign(key, signed_text, strlen(signed_text), sig);
    free(signed_text);
    char *sig64 = pclient_b64(sig, 64);
    char *rvk64 = pclient_b64(rvk, 32);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "handshake", json_object_new_string("answer"));
    json_object_object_add(a, "type", json_object_new_string("AUTHENTICATED"));
    json_object *v = json_object_new_array();
    json_object_array_add(v, json_object_new_int(3));
    json_object_array_add(v, json_object_new_int(2));
    json_object_object_add(a, "client_api_version", v);
    json_object_object_add(a, "organization_id", json_object_new_string(org));
    json_object_object_add(a, "device_id", json_object_new_string(device_id));
    json_object_object_add(a, "rvk", json_object_new_string(rvk64));
    json_object_object_add(a, "answer", json_object_new_string(sig64));
    char *text = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    free(sig64);
    free(rvk64);
    return text;
}

void ndt_send_answer(wsclient_t *c, const ndt_dev_t *d, int times)
{
    json_object *ch = wsclient_recv_json(c, NDT_WAIT);
    ck_assert_msg(ch != NULL, "no challenge received");
    ck_assert_str_eq(ndt_str(ch, "handshake"), "challenge");
    char *ans = ndt_answer_text(ch, d->org, d->device_id, &d->key, d->rvk);
    json_object_put(ch);
    /* Queued together, they leave in one write. */
    for (int i = 0; i < times; i++)
        ck_assert(wsclient_send_text(c, ans, strlen(ans)));
    free(ans);
}

json_object *ndt_handshake(wsclient_t *c, const ndt_dev_t *d)
{
    ndt_send_answer(c, d, 1);
    return wsclient_recv_json(c, NDT_WAIT);
}

long ndt_upgrade_raw(int port, const char *path, const char *extra, char **head)
{
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n%s\r\n",
                              path, port, extra),
                     0);
    long status = ndt_http_raw(port, req, head);
    free(req);
    return status;
}

long ndt_http_raw(int port, const char *request, char **head)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_msg(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect to %d: %s", port,
                  strerror(errno));
    size_t n = strlen(request);
    ck_assert_int_eq(write(s, request, n), (ssize_t)n);
    char buf[8192];
    size_t len = 0;
    for (int waited = 0; waited < 10000 && len < sizeof buf - 1;) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r <= 0) {
            waited += 100;
            continue;
        }
        ssize_t got = read(s, buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[len] = '\0';
    close(s);
    char *end = strstr(buf, "\r\n\r\n");
    if (end)
        end[2] = '\0';
    long status = 0;
    if (!strncmp(buf, "HTTP/1.", 7) && strlen(buf) > 12)
        status = strtol(buf + 9, NULL, 10);
    if (head)
        *head = strdup(buf);
    return status;
}

char *ndt_header(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            v += strspn(v, " \t");
            size_t vl = strcspn(v, "\r");
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            return strndup(v, vl);
        }
    }
    return NULL;
}

wsclient_t *ndt_connect(wsclient_ctx_t *ctx, int port, const ndt_dev_t *d)
{
    wsclient_t *c = wsclient_connect(ctx, "127.0.0.1", port, "/ws", false, NDT_WAIT);
    ck_assert_msg(c != NULL, "cannot connect to notifyd on port %d", port);
    json_object *r = ndt_handshake(c, d);
    ck_assert_msg(r != NULL, "no handshake result for %s", d->device_id);
    ck_assert_msg(!strcmp(ndt_str(r, "result"), "ok"), "handshake of %s: %s (%s)", d->device_id,
                  ndt_str(r, "result"), ndt_str(r, "help"));
    json_object_put(r);
    return c;
}

/* ---- events ---------------------------------------------------------------------- */

struct ndt_pub {
    cfg_t cfg;
    db_pool_t *pool;
};

ndt_pub_t *ndt_pub_new(const char *db_url)
{
    ndt_pub_t *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    char err[512];
    char *empty_env[] = {NULL};
    ck_assert_int_eq(cfg_parse(&p->cfg, 0, NULL, empty_env, err, sizeof err, NULL, NULL),
                     CFG_PARSE_OK);
    p->cfg.db_min_connections = 1;
    p->cfg.db_max_connections = 1;
    p->pool = db_pool_open(&p->cfg, db_url, err, sizeof err, NULL);
    ck_assert_msg(p->pool != NULL, "db_pool_open: %s", err);
    return p;
}

void ndt_pub_free(ndt_pub_t *p)
{
    if (!p)
        return;
    db_pool_close(p->pool);
    cfg_free(&p->cfg);
    free(p);
}

typedef struct {
    const event_t *ev;
    bool commit;
} pub_arg_t;

static db_tx_result pub_body(db_conn_t *c, void *arg)
{
    pub_arg_t *a = arg;
    if (!event_publish(c, a->ev))
        return DB_TX_ERROR;
    return a->commit ? DB_TX_COMMIT : DB_TX_ROLLBACK;
}

void ndt_publish(ndt_pub_t *p, const event_t *ev, bool commit)
{
    db_conn_t *c = db_acquire(p->pool);
    ck_assert_msg(c != NULL, "db_acquire failed");
    pub_arg_t a = {ev, commit};
    db_tx_result r = db_tx(c, pub_body, &a);
    db_release(p->pool, c);
    ck_assert_int_eq(r, commit ? DB_TX_COMMIT : DB_TX_ROLLBACK);
}

void ndt_ping(ndt_pub_t *p, const char *org, const char *author, const char *text)
{
    event_t ev = {.type = EVENT_PINGED, .org = org, .author = author, .ping = text};
    ndt_publish(p, &ev, true);
}

char *ndt_cmd(const char *base, const ndt_dev_t *d, json_object *req)
{
    char *token = pclient_auth_token(d->org, d->device_id, &d->key, time(NULL));
    char authz[512];
    snprintf(authz, sizeof authz, "PARSEC-SIGN-ED25519 %s", token);
    free(token);
    pclient_opts_t opts = {.authorization = authz};
    pclient_resp_t resp;
    ck_assert(pclient_cmd_ex(base, "authenticated", d->org, NULL, &opts, req, &resp));
    json_object_put(req);
    ck_assert_msg(resp.status == 200 && pclient_status(&resp), "%s: %ld %s", d->device_id,
                  resp.status, resp.body);
    char *status = strdup(pclient_status(&resp));
    pclient_resp_free(&resp);
    return status;
}

json_object *ndt_expect(wsclient_t *c, const char *event, int timeout_ms)
{
    json_object *m = wsclient_recv_json(c, timeout_ms);
    ck_assert_msg(m != NULL, "expected %s, got nothing (closed: %d %s)", event,
                  wsclient_close_code(c), wsclient_close_reason(c));
    ck_assert_msg(!strcmp(ndt_str(m, "status"), "ok") && !strcmp(ndt_str(m, "event"), event),
                  "expected %s, got %s", event, json_object_to_json_string(m));
    return m;
}

void ndt_expect_ping(wsclient_t *c, const char *text, int timeout_ms)
{
    json_object *m = ndt_expect(c, "pinged", timeout_ms);
    ck_assert_msg(!strcmp(ndt_str(m, "ping"), text), "expected ping %s, got %s", text,
                  json_object_to_json_string(m));
    json_object_put(m);
}

void ndt_expect_closed(wsclient_t *c, int code, const char *reason, int timeout_ms)
{
    ck_assert_msg(wsclient_wait_closed(c, timeout_ms), "expected a close %d, still open", code);
    ck_assert_int_eq(wsclient_close_code(c), code);
    if (reason)
        ck_assert_str_eq(wsclient_close_reason(c), reason);
}
