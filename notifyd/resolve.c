/*
 * notifyd/resolve.c - the database's host names, resolved off the loop
 * (resolve.h)
 */
#include "resolve.h"

#include "strbuf.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Addresses kept per host name: libpq tries each, and a name with more is
 * a load balancer's business. */
#define RESOLVE_MAX_ADDRS 8

struct nd_resolve {
    pthread_mutex_t mu;
    int refs; /* the owner and the thread */
    bool done;
    struct lws_context *ctx;
    /* set before the thread starts, read-only afterwards */
    strvec_t hosts, ports; /* one entry per host of the URL */
    /* written by the thread before done */
    strbuf_t out_host, out_addr, out_port;
    size_t entries;
    char err[256];
};

static void job_free(nd_resolve_t *r)
{
    pthread_mutex_destroy(&r->mu);
    strvec_free(&r->hosts);
    strvec_free(&r->ports);
    strbuf_free(&r->out_host);
    strbuf_free(&r->out_addr);
    strbuf_free(&r->out_port);
    free(r);
}

/* Let go of r; the last one frees it.  True when the other side is still
 * there. */
static bool job_release(nd_resolve_t *r)
{
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left == 0)
        job_free(r);
    return left > 0;
}

/* A host entry libpq would resolve with DNS: not a socket directory, not an
 * IP literal, not empty (the default socket). */
static bool needs_dns(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return h[0] && h[0] != '/' && h[0] != '@' && inet_pton(AF_INET, h, buf) != 1 &&
           inet_pton(AF_INET6, h, buf) != 1;
}

static void add_entry(nd_resolve_t *r, const char *host, const char *addr, const char *port)
{
    const char *sep = r->entries ? "," : "";
    strbuf_printf(&r->out_host, "%s%s", sep, host);
    strbuf_printf(&r->out_addr, "%s%s", sep, addr);
    strbuf_printf(&r->out_port, "%s%s", sep, port);
    r->entries++;
}

static void *job_main(void *arg)
{
    nd_resolve_t *r = arg;
    for (size_t i = 0; i < r->hosts.n; i++) {
        const char *h = r->hosts.v[i], *port = r->ports.v[i];
        if (!needs_dns(h)) {
            add_entry(r, h, "", port); /* an empty hostaddr: libpq uses host */
            continue;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(h, NULL, &hints, &res);
        if (rc != 0) {
            /* As libpq: this host fails, the next ones may do. */
            snprintf(r->err, sizeof r->err, "could not translate host name \"%s\": %s", h,
                     gai_strerror(rc));
            continue;
        }
        int kept = 0;
        for (struct addrinfo *a = res; a && kept < RESOLVE_MAX_ADDRS; a = a->ai_next) {
            char num[NI_MAXHOST];
            if (getnameinfo(a->ai_addr, a->ai_addrlen, num, sizeof num, NULL, 0, NI_NUMERICHOST) ==
                0) {
                add_entry(r, h, num, port);
                kept++;
            }
        }
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&r->mu);
    r->done = true;
    /* Under the lock: the owner cannot let go, and so cannot destroy the
     * context, while it is woken. */
    if (r->refs > 1)
        lws_cancel_service(r->ctx);
    pthread_mutex_unlock(&r->mu);
    job_release(r);
    return NULL;
}

/* Split a comma-separated list into v (each entry copied, "" kept). */
static size_t split(strvec_t *v, const char *list)
{
    const char *p = list ? list : "";
    for (;;) {
        size_t n = strcspn(p, ",");
        strvec_push(v, xstrndup(p, n));
        if (!p[n])
            break;
        p += n + 1;
    }
    return v->n;
}

/* The value of keyword in opts, else the environment variable, else NULL. */
static const char *opt(const PQconninfoOption *opts, const char *keyword, const char *env)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, keyword) && o->val && o->val[0])
            return o->val;
    const char *e = getenv(env);
    return e && e[0] ? e : NULL;
}

nd_resolve_t *nd_resolve_start(const char *url, struct lws_context *ctx, char *err, size_t errlen)
{
    err[0] = '\0';
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        /* Never the URL itself in a message: it may hold a password. */
        snprintf(err, errlen, "cannot read the database URL: %.*s",
                 perr ? (int)strcspn(perr, "\n") : 13, perr ? perr : "out of memory");
        PQfreemem(perr);
        return NULL;
    }
    const char *host = opt(opts, "host", "PGHOST");
    const char *port = opt(opts, "port", "PGPORT");
    nd_resolve_t *r = NULL;
    if (!host || opt(opts, "hostaddr", "PGHOSTADDR"))
        goto done; /* the default socket, or addresses given */

    r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->ctx = ctx;
    size_t nhosts = split(&r->hosts, host);
    bool any = false;
    for (size_t i = 0; i < nhosts; i++)
        any = any || needs_dns(r->hosts.v[i]);
    strvec_t ports = STRVEC_INIT;
    size_t nports = split(&ports, port);
    if (!any || (nports != 1 && nports != nhosts)) {
        /* Nothing to resolve; or lists libpq itself will refuse, with its
         * own message. */
        strvec_free(&ports);
        job_free(r);
        r = NULL;
        goto done;
    }
    for (size_t i = 0; i < nhosts; i++)
        strvec_push(&r->ports, xstrdup(ports.v[nports == 1 ? 0 : i]));
    strvec_free(&ports);

    r->refs = 2;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, job_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start a thread to resolve the database host: %s",
                 strerror(rc));
        job_free(r);
        r = NULL;
    }
done:
    PQconninfoFree(opts);
    return r;
}

bool nd_resolve_done(nd_resolve_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool done = r->done;
    pthread_mutex_unlock(&r->mu);
    return done;
}

bool nd_resolve_params(nd_resolve_t *r, const char **host, const char **hostaddr, const char **port,
                       char *err, size_t errlen)
{
    /* done was read under the lock: the thread writes nothing more. */
    if (!r->entries) {
        snprintf(err, errlen, "%s", r->err[0] ? r->err : "no address for the database host");
        return false;
    }
    *host = strbuf_cstr(&r->out_host);
    *hostaddr = strbuf_cstr(&r->out_addr);
    *port = strbuf_cstr(&r->out_port);
    return true;
}

void nd_resolve_drop(nd_resolve_t *r)
{
    if (r)
        job_release(r);
}
