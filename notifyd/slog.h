/*
 * notifyd/slog.h - log lines about one websocket session
 *
 * As pgbouncer's slog_error(client, ...): the macro takes the session the
 * line is about and tags the line with it through common/log.h's context,
 * "ws=<id>", then "ws=<id> org=<organization> dev=<device>" once the
 * handshake answer named them (claimed until the result is ok).  So every
 * line of one connection can be grepped together, in CONSOLE ("...
 * parsec-notifyd[12] ws=7 org=MyOrg dev=alice@laptop closing: ...") and in
 * JSON (the "context" member) alike, and no call writes the prefix by hand.
 *
 * Thread: the lws service thread (the context is per thread and cleared
 * after the line).
 */
#ifndef PARSEC_ND_SLOG_H
#define PARSEC_ND_SLOG_H

#include "cfg.h"

typedef struct nd_session nd_session_t;

/* nd_slog - one line at level about s (printf format). */
void nd_slog(cfg_log_level level, const nd_session_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define nd_slog_debug(s, ...)   nd_slog(CFG_LOG_DEBUG, (s), __VA_ARGS__)
#define nd_slog_info(s, ...)    nd_slog(CFG_LOG_INFO, (s), __VA_ARGS__)
#define nd_slog_warning(s, ...) nd_slog(CFG_LOG_WARNING, (s), __VA_ARGS__)
#define nd_slog_error(s, ...)   nd_slog(CFG_LOG_ERROR, (s), __VA_ARGS__)

#endif
