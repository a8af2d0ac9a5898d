/*
 * notifyd/server.c - the lws context, its vhost, signals, the service loop
 *
 * Signals are read from a signalfd adopted into the loop like the
 * PostgreSQL socket: no handler ever runs in signal context, so nothing
 * needs to be async-signal-safe and no flag is shared with a handler.
 */
#include "server.h"

#include "log.h"
#include "session.h"
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int sig_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

static const struct lws_protocols protocols[] = {
    /* Index 0: the vhost's default, used by upgrades without a subprotocol;
     * its name is set per upgrade (upgrade.h).  rx_buffer_size bounds what
     * lws hands us at once (the answer is reassembled up to ND_ANSWER_MAX). */
    {nd_upgrade_ws_name, nd_session_callback, sizeof(nd_session_t), 1024, 0, NULL, 0},
    {ND_PG_PROTOCOL, nd_pg_callback, 0, 0, 0, NULL, 0},
    {ND_SIG_PROTOCOL, sig_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t keepalive = {
    .secs_since_valid_ping = ND_PING_SECS,
    .secs_since_valid_hangup = ND_HANGUP_SECS,
};

/* While the vhost is created, lws's error lines are kept rather than
 * logged: a start-up failure is reported as ONE line naming its cause
 * (nd_server_start), not as lws's lines followed by ours.  Main thread,
 * before the loop. */
static struct {
    bool on;
    char last[256]; /* the last error line lws wrote meanwhile */
} lws_capture;

/* lws's own log lines: its errors are mostly a peer's misbehaviour (a bad
 * upgrade request), so they are warnings for us, the rest debug. */
static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    if (lws_capture.on && (level & LLL_ERR)) {
        snprintf(lws_capture.last, sizeof lws_capture.last, "%.*s", (int)n, line);
        return;
    }
    if (level & LLL_ERR)
        log_warning("libwebsockets: %.*s", (int)n, line);
    else
        log_debug("libwebsockets: %.*s", (int)n, line);
}

/* Why addr:port cannot be bound, found by trying as lws does (SO_REUSEADDR,
 * the same family): strerror's words, or NULL when it can be. */
static const char *bind_error(const char *addr, int port, bool v6)
{
    struct addrinfo hints = {.ai_family = v6 ? AF_INET6 : AF_INET,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(addr, portstr, &hints, &res) != 0 || !res)
        return NULL;
    const char *why = NULL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0)
        why = strerror(errno);
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
             bind(fd, res->ai_addr, res->ai_addrlen) != 0)
        why = strerror(errno);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return why;
}

/* A TLS file lws will be asked to read: its error, or NULL when readable. */
static const char *unreadable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strerror(errno);
    close(fd);
    return NULL;
}

static void stop_deadline_cb(lws_sorted_usec_list_t *sul)
{
    nd_t *nd = lws_container_of(sul, nd_t, sul_stop);
    if (nd->sessions.count)
        log_warning("notifyd: %u connection%s did not close in time", nd->sessions.count,
                    nd->sessions.count == 1 ? "" : "s");
    nd->done = true;
}

void nd_server_stop(nd_t *nd)
{
    if (nd->stopping)
        return;
    nd->stopping = true;
    log_info("notifyd: shutting down, closing %u connection%s", nd->sessions.count,
             nd->sessions.count == 1 ? "" : "s");
    nd_session_shutdown_all(nd);
    if (!nd->sessions.count)
        nd->done = true;
    else
        lws_sul_schedule(nd->ctx, 0, &nd->sul_stop, stop_deadline_cb,
                         (lws_usec_t)ND_STOP_GRACE_MS * LWS_US_PER_MS);
}

static int sig_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    nd_t *nd = nd_of(wsi);
    struct signalfd_siginfo si;
    int fd = lws_get_socket_fd(wsi);
    ssize_t n;
    while ((n = read(fd, &si, sizeof si)) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            log_reopen();
            log_info("notifyd: SIGHUP: log file reopened");
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            nd_server_stop(nd);
        }
    }
    return 0;
}

/* The host as a numeric address lws can bind (it takes interface names and
 * IP literals only); *v6 tells the family. */
static bool resolve_host(const char *host, char *out, size_t outlen, bool *v6, char *err,
                         size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--notifyd-host %s: %s", host, gai_strerror(rc));
        return false;
    }
    *v6 = res->ai_family == AF_INET6;
    rc =
        getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0) {
        snprintf(err, errlen, "--notifyd-host %s: %s", host, gai_strerror(rc));
        return false;
    }
    return true;
}

bool nd_server_start(nd_t *nd, char *err, size_t errlen)
{
    const cfg_t *cfg = nd->cfg;
    char addr[NI_MAXHOST];
    bool v6 = false;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    if (!resolve_host(cfg->notifyd_host, addr, sizeof addr, &v6, err, errlen))
        return false;

    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (cfg->ssl_certfile)
        ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ci.user = nd;
    /* Seconds for lws's own waits (an upgrade request that never comes). */
    ci.timeout_secs = ND_HANDSHAKE_TIMEOUT;
    nd->ctx = lws_create_context(&ci);
    if (!nd->ctx) {
        snprintf(err, errlen, "cannot create the libwebsockets context");
        return false;
    }

    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.vhost_name = "parsec-notifyd";
    vi.port = cfg->notifyd_port;
    vi.iface = addr;
    vi.protocols = protocols;
    vi.retry_and_idle_policy = &keepalive;
    vi.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* An IPv4 literal on an IPv6-enabled vhost would be mis-copied by lws
     * 4.1 and bind every interface: keep the vhost to the host's family. */
    if (!v6)
        vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->ssl_certfile) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = cfg->ssl_certfile;
        vi.ssl_private_key_filepath = cfg->ssl_keyfile;
    }
    const char *why;
    if (cfg->ssl_certfile && (why = unreadable(cfg->ssl_certfile)) != NULL) {
        snprintf(err, errlen, "cannot read --ssl-certfile %s: %s", cfg->ssl_certfile, why);
        return false;
    }
    if (cfg->ssl_keyfile && (why = unreadable(cfg->ssl_keyfile)) != NULL) {
        snprintf(err, errlen, "cannot read --ssl-keyfile %s: %s", cfg->ssl_keyfile, why);
        return false;
    }
    lws_capture.on = true;
    lws_capture.last[0] = '\0';
    nd->vh = lws_create_vhost(nd->ctx, &vi);
    lws_capture.on = false;
    if (!nd->vh) {
        /* The cause: the address (lws only says it failed), else what lws
         * said last (TLS files it could not use). */
        if ((why = bind_error(addr, cfg->notifyd_port, v6)) != NULL)
            snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", v6 ? "[" : "", addr,
                     v6 ? "]" : "", cfg->notifyd_port, why);
        else if (lws_capture.last[0])
            snprintf(err, errlen, "cannot listen on %s%s%s:%d%s: libwebsockets: %s", v6 ? "[" : "",
                     addr, v6 ? "]" : "", cfg->notifyd_port, cfg->ssl_certfile ? " with TLS" : "",
                     lws_capture.last);
        else
            snprintf(err, errlen, "cannot listen on %s%s%s:%d%s", v6 ? "[" : "", addr,
                     v6 ? "]" : "", cfg->notifyd_port, cfg->ssl_certfile ? " with TLS" : "");
        return false;
    }
    if (lws_capture.last[0])
        log_warning("libwebsockets: %s", lws_capture.last);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return false;
    }
    lws_sock_file_fd_type fd;
    fd.filefd = sfd;
    /* lws owns sfd from here, closed on failure or with the context. */
    if (!lws_adopt_descriptor_vhost(nd->vh, LWS_ADOPT_RAW_FILE_DESC, fd, ND_SIG_PROTOCOL, NULL)) {
        snprintf(err, errlen, "cannot watch signals in the event loop");
        return false;
    }
    return true;
}

int nd_server_port(const nd_t *nd)
{
    return lws_get_vhost_listen_port(nd->vh);
}

void nd_server_run(nd_t *nd)
{
    while (!nd->done)
        if (lws_service(nd->ctx, 0) < 0)
            break;
}

void nd_server_destroy(nd_t *nd)
{
    if (!nd->ctx)
        return;
    lws_sul_cancel(&nd->sul_stop);
    lws_context_destroy(nd->ctx);
    nd->ctx = NULL;
    nd->vh = NULL;
}
