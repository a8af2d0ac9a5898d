/*
 * cli/lighttpd_conf.c - generate the private lighttpd configuration of a run
 *
 * See lighttpd_conf.h.  lighttpd 1.4.69 facts this relies on, each checked on
 * Debian 12:
 *   - a quoted string knows one escape, \" ; any other backslash is literal,
 *     so a value ending in a backslash cannot be written;
 *   - server.bind takes an IPv6 literal only in brackets;
 *   - the error log, the upload directories and bin-path workers are opened
 *     or spawned after privileges are dropped, the TLS key and certificate
 *     before: the key may stay readable by root only;
 *   - spawned workers inherit lighttpd's stderr and process group;
 *   - with bin-copy-environment set, a worker gets exactly those variables
 *     (plus bin-environment), nothing else of lighttpd's environment.
 */
#include "lighttpd_conf.h"

#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Idle limit for proxied websockets: notifyd pings every 20 s, so this only
 * reaps connections that are truly dead. */
#define LIGHTTPD_WS_IDLE_S 3600
/* How long a graceful stop (SIGINT) lets requests in flight finish. */
#define LIGHTTPD_GRACEFUL_S 5

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
    char *err;
    size_t errlen;
} sbuf_t;

static void sb_append(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->buf = xrealloc(b->buf, cap);
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort(); /* out of memory: the xalloc policy */
    sb_append(b, s, (size_t)n);
    free(s);
}

/* Append value as a lighttpd quoted string; sticky failure if impossible. */
static void sb_quote(sbuf_t *b, const char *what, const char *value)
{
    size_t n = strlen(value);
    if (b->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(b->err, b->errlen, "%s contains a control character: cannot be used", what);
            b->failed = true;
            return;
        }
    }
    if (n > 0 && value[n - 1] == '\\') {
        snprintf(b->err, b->errlen, "%s ends with a backslash: lighttpd cannot be given it", what);
        b->failed = true;
        return;
    }
    sb_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (value[i] == '"')
            sb_append(b, "\\\"", 2);
        else
            sb_append(b, value + i, 1);
    }
    sb_append(b, "\"", 1);
}

/* "0.0.0.0" and "::" are listen-everywhere addresses; connect to loopback. */
static const char *connect_host(const char *host)
{
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, ""))
        return "127.0.0.1";
    if (!strcmp(host, "::") || !strcmp(host, "[::]"))
        return "::1";
    return host;
}

static bool check(const lighttpd_conf_t *c, char *err, size_t errlen)
{
    if (!c->host || !c->docroot || !c->socket_dir || !c->upload_dir || !c->fcgi_bin) {
        snprintf(err, errlen, "lighttpd configuration: a required path is missing");
        return false;
    }
    if (c->port < 1 || c->port > 65535) {
        snprintf(err, errlen, "lighttpd configuration: port %d out of range", c->port);
        return false;
    }
    if (c->notifyd_port < 0 || c->notifyd_port > 65535 || (c->notifyd_port && !c->notifyd_host)) {
        snprintf(err, errlen, "lighttpd configuration: bad notifyd address");
        return false;
    }
    if (c->fcgi_procs < 1) {
        snprintf(err, errlen, "lighttpd configuration: at least one worker is needed");
        return false;
    }
    if (!c->ssl_certfile != !c->ssl_keyfile) {
        snprintf(err, errlen, "lighttpd configuration: TLS needs both a key and a certificate");
        return false;
    }
    if (!c->username != !c->groupname) {
        snprintf(err, errlen, "lighttpd configuration: user and group go together");
        return false;
    }
    /* sockaddr_un holds 108 bytes; lighttpd appends "-N" per worker. */
    if (strlen(c->socket_dir) + sizeof "/fcgi.sock-999" > 108) {
        snprintf(err, errlen, "run directory path too long for a unix socket: %s (set TMPDIR)",
                 c->socket_dir);
        return false;
    }
    return true;
}

char *lighttpd_conf_render(const lighttpd_conf_t *c, char *err, size_t errlen)
{
    sbuf_t b = {.err = err, .errlen = errlen};
    bool tls = c->ssl_certfile != NULL;
    bool ws = c->notifyd_port > 0;

    if (!check(c, err, errlen))
        return NULL;

    sb_printf(&b, "# Generated by `parsec backend run` for one run; removed when it stops.\n"
                  "# Deployment configurations are in etc/ (see docs/running.md).\n\n");

    /* mod_proxy before mod_fastcgi: the first module whose settings match a
     * request handles it, so /ws goes to notifyd and the rest to workers. */
    sb_printf(&b, "server.modules = (%s%s\"mod_fastcgi\")\n", tls ? "\"mod_openssl\", " : "",
              ws ? "\"mod_proxy\", " : "");
    sb_printf(&b, "server.document-root = ");
    sb_quote(&b, "the document root", c->docroot);
    sb_printf(&b, "\nserver.upload-dirs = (");
    sb_quote(&b, "the upload directory", c->upload_dir);
    sb_printf(&b, ")\n");

    const char *host = c->host;
    if (strchr(host, ':') && host[0] != '[') {
        char *bracketed = xasprintf("[%s]", host);
        sb_printf(&b, "server.bind = ");
        sb_quote(&b, "--host", bracketed);
        free(bracketed);
    } else {
        sb_printf(&b, "server.bind = ");
        sb_quote(&b, "--host", host);
    }
    sb_printf(&b, "\nserver.port = %d\n", c->port);
    if (c->username) {
        sb_printf(&b, "server.username = ");
        sb_quote(&b, "the run user", c->username);
        sb_printf(&b, "\nserver.groupname = ");
        sb_quote(&b, "the run group", c->groupname);
        sb_printf(&b, "\n");
    }
    /* Bodies above --max-request-size get the worker's own 413 (JSON, with
     * the documented error); lighttpd's coarser KiB limit sits just above it
     * so that it never answers first for a body the worker would take. */
    size_t kib = c->max_request_size / 1024 + 2;
    sb_printf(&b, "server.max-request-size = %zu\n", kib);
    sb_printf(&b, "server.tag = \"parsec\"\n");
    sb_printf(&b, "server.feature-flags = (\"server.graceful-shutdown-timeout\" => %d)\n",
              LIGHTTPD_GRACEFUL_S);

    if (tls) {
        sb_printf(&b, "ssl.engine = \"enable\"\nssl.pemfile = ");
        sb_quote(&b, "--ssl-certfile", c->ssl_certfile);
        sb_printf(&b, "\nssl.privkey = ");
        sb_quote(&b, "--ssl-keyfile", c->ssl_keyfile);
        sb_printf(&b, "\n");
    }

    if (ws) {
        const char *nh = connect_host(c->notifyd_host);
        if (nh[0] == '[') {
            /* proxy.server wants the bare address */
            char *bare = xstrndup(nh + 1, strlen(nh) - 2);
            sb_printf(&b, "\n$HTTP[\"url\"] =~ \"^/ws(/|$)\" {\n"
                          "    proxy.server = (\"\" => ((\"host\" => ");
            sb_quote(&b, "--notifyd-host", bare);
            free(bare);
        } else {
            sb_printf(&b, "\n$HTTP[\"url\"] =~ \"^/ws(/|$)\" {\n"
                          "    proxy.server = (\"\" => ((\"host\" => ");
            sb_quote(&b, "--notifyd-host", nh);
        }
        sb_printf(&b,
                  ", \"port\" => %d)))\n"
                  "    proxy.header = (\"upgrade\" => \"enable\")\n"
                  "    server.max-read-idle = %d\n"
                  "    server.max-write-idle = %d\n"
                  "}\n",
                  c->notifyd_port, LIGHTTPD_WS_IDLE_S, LIGHTTPD_WS_IDLE_S);
    }

    char *sock = xasprintf("%s/fcgi.sock", c->socket_dir);
    sb_printf(&b, "\nfastcgi.server = (\"/\" => ((\n    \"socket\" => ");
    sb_quote(&b, "the worker socket", sock);
    free(sock);
    sb_printf(&b, ",\n    \"bin-path\" => ");
    sb_quote(&b, "the worker binary", c->fcgi_bin);
    sb_printf(&b, ",\n    \"bin-copy-environment\" => (");
    for (size_t i = 0; c->fcgi_env_names && c->fcgi_env_names[i]; i++) {
        if (i)
            sb_printf(&b, ", ");
        sb_quote(&b, "an environment variable name", c->fcgi_env_names[i]);
    }
    sb_printf(&b,
              "),\n"
              "    \"max-procs\" => %d,\n"
              "    \"check-local\" => \"disable\",\n"
              "    \"fix-root-scriptname\" => \"enable\"\n"
              ")))\n",
              c->fcgi_procs);

    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

bool lighttpd_conf_write(const lighttpd_conf_t *c, const char *path, char *err, size_t errlen)
{
    char *text = lighttpd_conf_render(c, err, errlen);
    bool ok = false, created = false;
    int fd = -1;

    if (!text)
        return false;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto cleanup;
    }
    created = true;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(n < 0 ? errno : EIO));
            goto cleanup;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        fd = -1;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    ok = true;

cleanup:
    if (fd >= 0)
        close(fd);
    if (!ok && created)
        unlink(path);
    free(text);
    return ok;
}
