/*
 * common/backend_addr.h - the server's public address, --backend-addr
 *
 * --backend-addr is how clients reach this server, as Parsec writes it:
 * parsec://host[:port][/][?no_ssl=true|false] (cfg.c has already checked
 * that form).  Two places turn it into something else: invitation emails
 * link to the HTTP redirection URL under it (email_invite.c), and GET
 * /redirect/... answers with a parsec:// URL on it.  Both need the same
 * reading: the host, the port (left out when it is the default of the
 * scheme, 443 or 80 with no_ssl, as Parsec's BackendAddr drops it), and
 * whether TLS is used.  Thread-safe (no state).
 */
#ifndef PARSEC_BACKEND_ADDR_H
#define PARSEC_BACKEND_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest host kept: a DNS name is at most 253 bytes, a bracketed IPv6
 * address far less. */
#define BACKEND_ADDR_HOST_MAX 255

typedef struct {
    char host[BACKEND_ADDR_HOST_MAX + 1]; /* as written; IPv6 keeps its brackets */
    int port;                             /* 0: the scheme's default */
    bool use_ssl;                         /* false with ?no_ssl=true */
} backend_addr_t;

/*
 * backend_addr_parse - read a parsec:// address into *out
 *
 * Accepts parsec://host[:port][/][?no_ssl=true|false] (scheme and no_ssl
 * value in any case); host is a DNS name or address of letters, digits,
 * '.', '-', '_', or an IPv6 address in brackets.  A port equal to the
 * scheme's default becomes 0.  False for anything else (*out undefined).
 */
bool backend_addr_parse(const char *url, backend_addr_t *out) __attribute__((warn_unused_result));

/* backend_addr_netloc - "host" or "host:port" (the port only when not the
 * default) into buf, NUL-terminated; false when it does not fit. */
bool backend_addr_netloc(const backend_addr_t *a, char *buf, size_t size)
    __attribute__((warn_unused_result));

/* backend_addr_http_url - "https://netloc" or, with no_ssl, "http://netloc",
 * no trailing slash (Parsec's to_http_domain_url); malloc'd, caller frees. */
char *backend_addr_http_url(const backend_addr_t *a);

#endif
