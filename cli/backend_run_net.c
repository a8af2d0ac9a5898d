/*
 * cli/backend_run_net.c - `parsec backend run`: addresses, free ports and
 * GET /health (see backend_run.h)
 */
#include "backend_run.h"

#include "xalloc.h"

#include <curl/curl.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Addresses and ports                                                       */

/* The address to reach a listener bound to host: loopback for a wildcard. */
const char *run_reach_host(const char *host)
{
    if (!strcmp(host, "0.0.0.0"))
        return "127.0.0.1";
    if (!strcmp(host, "::"))
        return "::1";
    return host;
}

/* "HOST:PORT", with brackets around an IPv6 literal; into buf. */
const char *run_host_port(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
    return buf;
}

static bool resolve(const char *host, int port, bool passive, struct addrinfo **out, char *err,
                    size_t errlen)
{
    struct addrinfo hints;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, out);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return false;
    }
    return true;
}

/*
 * run_port_free - can we listen on host:port?  Bound and released at once, with
 * SO_REUSEADDR as lighttpd and lws bind, so only a real listener (or another
 * bound socket) makes it fail.  what names the setting for the message.
 */
bool run_port_free(const char *host, int port, const char *what, char *err, size_t errlen)
{
    struct addrinfo *ai = NULL;
    char hp[300];
    bool ok = false;
    if (!resolve(host, port, true, &ai, err, errlen))
        return false;
    /* A name with both families ("localhost"): lighttpd binds the IPv4 one. */
    struct addrinfo *a = ai;
    for (struct addrinfo *x = ai; x; x = x->ai_next)
        if (x->ai_family == AF_INET) {
            a = x;
            break;
        }
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s (%s): %s",
                 run_host_port(hp, sizeof hp, host, port), what, strerror(errno));
        goto cleanup;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s (%s): %s%s",
                 run_host_port(hp, sizeof hp, host, port), what, strerror(e),
                 e == EADDRINUSE ? ": the port is in use" : "");
        goto cleanup;
    }
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ok;
}

/* run_port_answers - does something accept a TCP connection on host:port? */
bool run_port_answers(const char *host, int port)
{
    struct addrinfo *ai = NULL;
    char err[256];
    bool ok = false;
    if (!resolve(run_reach_host(host), port, false, &ai, err, sizeof err))
        return false;
    for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Health                                                                    */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* run_health - GET /health through lighttpd: its status, 0 when no answer (why
 * in err).  Certificate checks are off: we reach the server we just started,
 * by address, and only ask whether it answers. */
long run_health(const run_t *r, char *err, size_t errlen)
{
    char hp[300], *url;
    long status = 0;
    run_host_port(hp, sizeof hp, run_reach_host(r->cfg.host), r->cfg.port);
    url = xasprintf("%s://%s/health", r->cfg.ssl_certfile ? "https" : "http", hp);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot initialise libcurl");
        free(url);
        return 0;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    free(url);
    return status;
}
