/*
 * tests/lib/websrv.h - real web servers in front of parsec-fcgi, for tests
 *
 * Integration suites drive the worker through the web servers we ship
 * configurations for: lighttpd + mod_fastcgi (bin-path spawning), Apache 2.4
 * + mod_fcgid, and nginx + spawn-fcgi (or the standalone worker of
 * etc/systemd/parsec-fcgi.service).  websrv_start() generates a private
 * configuration FROM the shipped templates in etc/ (placeholders such as
 * @PORT@, @FCGI_BIN@, @RUNDIR@ substituted), so the files we ship are the
 * files we test.  Every server listens on 127.0.0.1 on a free port and keeps
 * its pid file, sockets, temp and log files in a private directory that
 * websrv_stop() removes.
 *
 * The worker binary is $PARSEC_TEST_FCGI_BIN when set, otherwise parsec-fcgi
 * beside the test binary's build directory (build-X/tests/integration ->
 * build-X/parsec-fcgi).
 *
 * Sanitizers: when PARSEC_TEST_SANITIZER_DIR is set, the workers get
 * ASAN_OPTIONS / UBSAN_OPTIONS with log_path=$PARSEC_TEST_SANITIZER_DIR/asan
 * (resp. /ubsan), so the harness can fail the run on any report.
 *
 * Example:
 *
 *     const char *env[] = {"PARSEC_DB=postgresql://...", NULL};
 *     websrv_t *w = websrv_start(WEBSRV_LIGHTTPD, env, "/parsec");
 *     ck_assert_ptr_nonnull(w);
 *     char *url = websrv_urlf(w, "/administration/organizations");
 *     const char *hdrs[] = {"Authorization: Bearer s3cr3t", NULL};
 *     http_result_t *res = testhttp_request("POST", url, hdrs, "{}", 2);
 *     ck_assert_int_eq(res->status, 200);
 *     testhttp_free(res);
 *     free(url);
 *     ck_assert(websrv_stop(w));
 *
 * Not thread-safe; one test process may run several servers at once.
 */
#ifndef PARSEC_WEBSRV_H
#define PARSEC_WEBSRV_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    WEBSRV_LIGHTTPD = 0, /* lighttpd -D, mod_fastcgi bin-path (worker on stdin) */
    WEBSRV_APACHE,       /* apache2 -DFOREGROUND, mod_fcgid (worker on stdin) */
    WEBSRV_NGINX,        /* nginx daemon off + spawn-fcgi (worker on a unix socket) */
    WEBSRV_KIND_COUNT,   /* the three web servers: what loop tests go through */
    /* nginx with the worker of etc/systemd/parsec-fcgi.service instead of
     * spawn-fcgi's (parsec-fcgi --fcgi-socket): the same nginx files, so
     * loop tests need not go through them twice */
    WEBSRV_NGINX_STANDALONE = WEBSRV_KIND_COUNT,
    WEBSRV_KIND_ALL
} websrv_kind;

typedef struct websrv websrv_t;

/* websrv_kind_name - "lighttpd", "apache", "nginx", "nginx-standalone"
 * (for messages). */
const char *websrv_kind_name(websrv_kind kind);

/*
 * websrv_start - start one web server and its worker(s), wait until it answers
 *
 * env: NULL-terminated "PARSEC_X=value" strings handed to the workers the way
 * the shipped configuration does it (bin-environment, FcgidInitialEnv,
 * spawn-fcgi's environment); NULL for none.  mount_prefix: where the app is
 * mounted, NULL or "" for "/", otherwise "/parsec"-style (no trailing slash).
 * Returns NULL after printing why on stderr (nothing is left running then).
 * Free with websrv_stop().
 */
websrv_t *websrv_start(websrv_kind kind, const char *const *env, const char *mount_prefix);
/*
 * websrv_start_notifyd - the same, with the websocket path (<mount>/ws) of
 * the shipped configuration proxied to a parsec-notifyd listening on
 * 127.0.0.1:notifyd_port (the templates' @NOTIFYD_PORT@).  websrv_start()
 * renders a port nothing listened on a moment ago instead, so /ws fails
 * there (502/503 from the web server).
 */
websrv_t *websrv_start_notifyd(websrv_kind kind, const char *const *env, const char *mount_prefix,
                               int notifyd_port);

/*
 * websrv_stop - stop the server (SIGINT for lighttpd, SIGTERM otherwise) and
 * spawn-fcgi's worker, wait for them and for every worker they spawned,
 * check nothing is left (pid file, /dev/shm segments Apache mapped), remove
 * the private directory, free w.
 * Returns true when everything stopped by itself and left nothing; false
 * (after saying what on stderr, killing and removing the rest) otherwise,
 * so a test can ck_assert(websrv_stop(w)).  NULL is a no-op (true).
 *
 * If the test process dies first (a failed ck_assert exits the forked
 * test), a watchdog process stops the servers, so nothing outlives it.
 */
bool websrv_stop(websrv_t *w);

/* websrv_fcgi_bin - the worker binary websrv_start() uses (see above);
 * static storage. */
const char *websrv_fcgi_bin(void);

/* websrv_url - "http://127.0.0.1:PORT<mount_prefix>" (no trailing slash);
 * owned by w. */
const char *websrv_url(const websrv_t *w);
/* websrv_urlf - websrv_url(w) followed by the given path (starting with
 * '/'); malloc'd, caller frees. */
char *websrv_urlf(const websrv_t *w, const char *path);
int websrv_port(const websrv_t *w);
/* websrv_rundir - the private directory (configs, logs); owned by w. */
const char *websrv_rundir(const websrv_t *w);
/* websrv_error_log - the server's error log (workers' stderr lands there
 * for lighttpd and Apache, in rundir/worker.log for spawn-fcgi), malloc'd
 * contents or NULL; caller frees.  For diagnosing failures. */
char *websrv_error_log(const websrv_t *w);

/* A point in the server's logs (the size of each log file then), to read
 * only what a test caused on a server that outlives it. */
#define WEBSRV_LOG_FILES 7
typedef struct {
    long long size[WEBSRV_LOG_FILES];
} websrv_log_mark_t;
/* websrv_log_mark - where the logs end now. */
websrv_log_mark_t websrv_log_mark(const websrv_t *w);
/* websrv_error_log_since - websrv_error_log, each file from its mark on
 * (mark NULL: whole); NULL when nothing was written since. */
char *websrv_error_log_since(const websrv_t *w, const websrv_log_mark_t *mark);

/* ---- a tiny HTTP client (libcurl) ---- */

typedef struct {
    long status;         /* HTTP status, 0 when the request failed */
    char *headers;       /* raw response header block, NUL-terminated */
    unsigned char *body; /* body bytes, plus a NUL not counted in body_len */
    size_t body_len;
    char error[256]; /* libcurl's message when status == 0 */
} http_result_t;

/*
 * testhttp_request - one request, no redirect following, 30 s timeout
 *
 * method: "GET", "HEAD", "POST"...; headers: NULL-terminated "Name: value"
 * strings or NULL; body/len: request body (NULL/0 for none; sent with
 * Content-Length).  Never NULL; free with testhttp_free().
 */
http_result_t *testhttp_request(const char *method, const char *url, const char *const *headers,
                                const void *body, size_t len);
/* testhttp_header - value of the last response header called name
 * (case-insensitive), malloc'd without surrounding space, or NULL. */
char *testhttp_header(const http_result_t *res, const char *name);
void testhttp_free(http_result_t *res);

/*
 * testhttp_raw - write raw bytes to 127.0.0.1:port, then (when shut_write)
 * half-close, read the answer until EOF or timeout_ms, and return what came
 * back (malloc'd, NUL-terminated, *len set; caller frees; NULL if connecting
 * failed).  For truncated bodies and lying Content-Length headers, which no
 * well-behaved client library sends.  With read_answer false it closes right
 * after writing (a client that goes away) and returns an empty string.
 */
char *testhttp_raw(int port, const void *data, size_t len, bool shut_write, bool read_answer,
                   int timeout_ms, size_t *out_len);

#endif
