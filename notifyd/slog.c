/*
 * notifyd/slog.c - log lines about one websocket session (slog.h)
 */
#include "slog.h"

#include "log.h"
#include "session.h"

#include <stdarg.h>
#include <stdio.h>

void nd_slog(cfg_log_level level, const nd_session_t *s, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    /* One byte past what log_write() keeps, so a cut line is marked as such. */
    char msg[LOG_MSG_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ctx[LOG_CONTEXT_MAX + 1];
    if (s->org_id[0])
        snprintf(ctx, sizeof ctx, "ws=%llu org=%s dev=%s", (unsigned long long)s->id, s->org_id,
                 s->device_id);
    else
        snprintf(ctx, sizeof ctx, "ws=%llu", (unsigned long long)s->id);
    log_set_context(ctx);
    log_write(level, "notifyd: %s", msg);
    log_set_context(NULL);
}
