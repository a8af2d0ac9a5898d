/*
 * common/log.h - logging for every binary
 *
 * CONSOLE (for people) or JSON (one object per line, for log shippers), five
 * levels, to --log-file or stderr.  The file is reopened when log_reopen() is
 * called; binaries call it from their main loop after SIGHUP so logrotate
 * works.  Thread-safe: one write(2) per line, O_APPEND.
 *
 * A secret never reaches a log: callers pass identifiers, never tokens,
 * passwords or key material; settings are echoed only via cfg_describe().
 *
 * Each thread may set a context (a request id, a connection id) that every
 * line it writes carries, so lines of one request can be grepped together.
 */
#ifndef PARSEC_LOG_H
#define PARSEC_LOG_H

#include "cfg.h"

#include <stdbool.h>

/* log_open - configure from settings; false (and a line in err) on failure. */
bool log_open(cfg_log_level level, cfg_log_format format, const char *file, const char *program,
              char *err, size_t errlen) __attribute__((warn_unused_result));
/* log_reopen - reopen --log-file (after SIGHUP); no-op on stderr. */
void log_reopen(void);
void log_close(void);
bool log_enabled(cfg_log_level level);

/* log_set_context - tag this thread's lines with ctx (copied); NULL clears. */
void log_set_context(const char *ctx);

void log_write(cfg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(CFG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(CFG_LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_write(CFG_LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_write(CFG_LOG_ERROR, __VA_ARGS__)
#define log_critical(...) log_write(CFG_LOG_CRITICAL, __VA_ARGS__)

#endif
