/*
 * cli/lighttpd_conf.h - the lighttpd configuration `parsec backend run` runs
 *
 * One private configuration per run, generated from the settings: lighttpd
 * listens on --host/--port (TLS with mod_openssl when both SSL files are
 * given), spawns the parsec-fcgi workers itself (mod_fastcgi bin-path) and,
 * when notifyd runs, proxies websocket upgrades on /ws to it on the same port.
 * Written for lighttpd 1.4.69 (Debian 12); the shipped, hand-edited
 * deployment configuration lives in etc/.
 *
 * Workers receive their settings as environment variables: lighttpd is
 * started with them in its environment and the configuration names them in
 * bin-copy-environment.  This keeps the values out of the file (secrets such
 * as the administration token are never written to disk) and passes them
 * byte for byte, where lighttpd's string syntax has no escape for a value
 * ending in a backslash.
 */
#ifndef PARSEC_LIGHTTPD_CONF_H
#define PARSEC_LIGHTTPD_CONF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *host; /* --host: IPv4, IPv6 literal (bracketed here) or name */
    int port;         /* --port, 1..65535 */

    const char *docroot;    /* an empty directory (lighttpd requires one) */
    const char *socket_dir; /* where worker sockets go; writable by username */
    const char *upload_dir; /* request bodies spilled to disk; writable by username */

    const char *fcgi_bin; /* absolute path of parsec-fcgi */
    int fcgi_procs;       /* max-procs, >= 1 */
    /* Variables the workers get from lighttpd's environment (NULL-terminated
     * names, e.g. "PARSEC_DB"); may be NULL for none. */
    const char *const *fcgi_env_names;

    /* notifyd to proxy /ws to; notifyd_port 0: no proxy. */
    const char *notifyd_host;
    int notifyd_port;

    /* TLS: both set, or both NULL (plain HTTP). */
    const char *ssl_certfile, *ssl_keyfile;

    /* Drop privileges to this user and group after binding (lighttpd does it
     * before spawning workers); NULL: keep the current user. */
    const char *username, *groupname;

    size_t max_request_size; /* bytes; lighttpd counts KiB, rounded up */
} lighttpd_conf_t;

/*
 * lighttpd_conf_render - the configuration text for c
 *
 * Returns a malloc'd NUL-terminated string (caller frees), or NULL with one
 * line in err when a value cannot be written in lighttpd's syntax (a control
 * character, a `\"` sequence or a trailing backslash in a path) or a field is
 * out of range.
 */
char *lighttpd_conf_render(const lighttpd_conf_t *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * lighttpd_conf_write - render c into path (created 0600, must not exist)
 * Returns false with one line in err on failure; no partial file is left.
 */
bool lighttpd_conf_write(const lighttpd_conf_t *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
