/*
 * common/log.h - logging for every binary
 *
 * CONSOLE (for people) or JSON (one object per line, for log shippers), five
 * levels, to --log-file or stderr.
 *
 *   CONSOLE: 2026-11-29T19:22:03.123456Z WARNING parsec-fcgi[1234] req=ab12cd34 message
 *   JSON:    {"ts":"2026-11-29T19:22:03.123456Z","level":"WARNING","program":"parsec-fcgi",
 *             "pid":1234,"context":"req=ab12cd34","msg":"message"}
 *
 * (the JSON object is on one line; "context" is present only when set).
 *
 * One event is one line.  CONSOLE escapes what could break a line or a
 * terminal: \n \r \t and backslash as \n \r \t \\, other control bytes as
 * \xNN, C1 controls as \u00NN, bytes that are not UTF-8 as \xNN.  JSON goes
 * through json-c; bytes that are not UTF-8 become U+FFFD so every line is
 * valid JSON.  A message longer than LOG_MSG_MAX bytes is cut (on a UTF-8
 * boundary) and ends with LOG_TRUNCATED_MARK.
 *
 * Before log_open() lines go to stderr at WARNING in CONSOLE form under the
 * program name "parsec", so early errors (a bad setting) are not lost.
 *
 * Log rotation: the file is reopened by log_reopen().  It is not
 * async-signal-safe, so a binary's SIGHUP handler only sets a flag and the
 * main loop does the reopen:
 *
 *     static volatile sig_atomic_t reopen_requested;
 *     static void on_sighup(int sig) { reopen_requested = 1; }
 *     ...
 *     if (reopen_requested) { reopen_requested = 0; log_reopen(); }
 *
 * Thread-safety: log_write(), log_enabled(), log_set_context() and
 * log_reopen() may be called from any thread at any time; every line is
 * built first and leaves in one write(2) on an O_APPEND descriptor, so lines
 * of concurrent writers never interleave.  log_reopen() swaps the file under
 * the same descriptor number (dup3), so a writer never hits a closed
 * descriptor.  log_open() and log_close() are for start-up and exit, when no
 * other thread logs.
 *
 * SECRETS NEVER REACH A LOG.  This API carries no secret and offers no way to
 * mark one: callers pass identifiers (organization id, user id, request id),
 * never tokens, passwords, key material, challenges, invitation tokens or
 * request bodies; settings are echoed only via cfg_describe(), and URLs only
 * after cfg_redact_url().
 *
 * Floods: a line at WARNING or above whose level and text are those of a
 * line written less than LOG_REPEAT_WINDOW_MS ago is not written but
 * counted; when that window is over, one line "<text> (repeated N times)"
 * (JSON: the same "msg" and a "repeated" member) says how many were held
 * back, and the next identical line is written again.  So a database that is
 * down for an hour costs a few lines a minute, not one per request.
 *
 * Each thread may set a context (a request id, a connection id) that every
 * line it writes carries, so lines of one request can be grepped together.
 */
#ifndef PARSEC_LOG_H
#define PARSEC_LOG_H

#include "cfg.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest message kept, in bytes, before escaping; longer ones are cut. */
#define LOG_MSG_MAX 8192
/* Appended to a message that was cut. */
#define LOG_TRUNCATED_MARK " [truncated]"
/* Longest context and program name kept, in bytes; longer ones are cut. */
#define LOG_CONTEXT_MAX 191
#define LOG_PROGRAM_MAX 63
/* Identical WARNING+ lines within this window are counted, not written. */
#define LOG_REPEAT_WINDOW_MS 10000

/*
 * log_open - configure level, format, destination and program name
 *
 * file: NULL or "" for stderr, otherwise a path opened with
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640 (before umask); it is kept,
 * made absolute, for log_reopen().  program: the name printed on every line (copied).
 * Returns false with a one-line message in err (NUL-terminated, cut to
 * errlen) when the file cannot be opened; the previous configuration then
 * stays in force.  Call at start-up, before threads log.
 */
bool log_open(cfg_log_level level, cfg_log_format format, const char *file, const char *program,
              char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * log_reopen - reopen the --log-file path (after SIGHUP, see above); a no-op
 * when logging to stderr.  When the path cannot be opened, lines keep going
 * to the old file and one ERROR line there says why.
 */
void log_reopen(void);

/*
 * log_close - close the log file and free what log_open() kept; later lines
 * go to stderr with the same level and format.  Call at exit, when no other
 * thread logs.
 */
void log_close(void);

/* log_enabled - would a line at level be written?  (skip costly arguments) */
bool log_enabled(cfg_log_level level);

/*
 * log_set_context - tag this thread's lines with ctx, a short "key=value"
 * chosen by the caller ("req=ab12cd34", "ws=17"); copied, cut to
 * LOG_CONTEXT_MAX bytes.  NULL or "" clears it.  Per thread.
 */
void log_set_context(const char *ctx);

/* log_write - one event at level (printf format); below the level: nothing. */
void log_write(cfg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * log_fail - a failure that ends the program, before or while it starts:
 * the message at CRITICAL in the log, and, when the log is a file, also
 * "<program>: <message>" on stderr, so that whoever started the program
 * (a terminal, systemd, a web server) reads exactly one line naming the
 * cause either way.  Never held back as a repeat.
 */
void log_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_repeat_window_ms - change LOG_REPEAT_WINDOW_MS (tests); 0 writes every
 * line.  Counts held so far are written first. */
void log_repeat_window_ms(int ms);

/*
 * log_set_hook - fn (NULL: none) also sees every line written at ERROR and
 * above: the level, the message as written (after the cut, before
 * escaping; len bytes) and this thread's context (may be "").  It runs on
 * the writing thread after the line is written, so it must be quick and
 * must not block: common/sentry.c queues the line for its sender thread.
 * Lines the hook itself writes reach it again: it must guard against that.
 * It sees log_fail() lines too, and a repeated line once (not the repeats
 * held back, nor their "(repeated N times)" summary).
 */
typedef void (*log_hook_fn)(cfg_log_level level, const char *msg, size_t len, const char *ctx);
void log_set_hook(log_hook_fn fn);

#define log_debug(...)    log_write(CFG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)     log_write(CFG_LOG_INFO, __VA_ARGS__)
#define log_warning(...)  log_write(CFG_LOG_WARNING, __VA_ARGS__)
#define log_error(...)    log_write(CFG_LOG_ERROR, __VA_ARGS__)
#define log_critical(...) log_write(CFG_LOG_CRITICAL, __VA_ARGS__)

#endif
