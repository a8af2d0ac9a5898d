/*
 * common/sentry.h - errors and crashes reported to Sentry (--sentry-dsn)
 *
 * With --sentry-dsn set, every log line at ERROR or CRITICAL (common/log.h
 * hands them over through log_set_hook) and every crash of the process that
 * a signal handler can still report (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT) becomes one Sentry event, sent with libcurl in Sentry's envelope
 * format to
 *
 *     <scheme>://<host>[:port][/<path>]/api/<project>/envelope/
 *     X-Sentry-Auth: Sentry sentry_version=7, sentry_client=parsec-server/<version>,
 *                    sentry_key=<key>[, sentry_secret=<secret>]
 *     Content-Type: application/x-sentry-envelope
 *
 *     {"event_id":"<32 hex>","sent_at":"<RFC 3339>"}
 *     {"type":"event","length":<bytes>,"content_type":"application/json"}
 *     {"event_id":...,"timestamp":...,"platform":"c","level":"error"|"fatal",
 *      "logger":"<program>","message":{"formatted":"<the log message>"},
 *      "environment":"<--sentry-environment>","release":"parsec-server@<version>",
 *      "server_name":"<host name>","tags":{"request_id":...,"command":...,
 *      "organization":...,"context":...},"extra":{"pid":...},"sdk":{...}}
 *
 * docs/running.md ("Error reports: Sentry") is the operator's side.
 *
 * What an event carries: the log message (which by the rule of log.h never
 * holds a secret, a token or a request body), the thread's log context, and
 * the identifiers of the request the thread serves (sentry_scope_*): its
 * request id, the command and the organization id once known.  Nothing
 * else: no header, no body, no certificate, no setting.  The DSN's key is
 * sent in the X-Sentry-Auth header only (never in the URL or the body) and
 * is never written to a log; see cfg_describe() for how settings are shown.
 *
 * Off the request path: a capture copies the event into a bounded queue
 * (SENTRY_QUEUE_MAX slots) under a mutex held for a copy, and one sender
 * thread posts them.  A full queue drops the event and counts it; nothing
 * ever waits for the network but the sender thread.  A token bucket limits
 * the events sent (SENTRY_RATE_BURST at once, then one per
 * SENTRY_RATE_REFILL_MS), and an answer 429 (or 503 with Retry-After)
 * suspends sending for what the server asks (at most an hour); events
 * refused by either are dropped and counted.  Each HTTP exchange is bounded
 * by SENTRY_TIMEOUT_MS; no redirect is followed, only http and https.
 *
 * Crashes: a fatal signal handler copies the crashing thread's scope into a
 * static record and writes one byte to a pipe the sender thread polls; the
 * sender posts a "fatal" event and acknowledges on a second pipe, which the
 * handler waits for (SENTRY_CRASH_WAIT_MS at most, poll(2)).  Everything the
 * handler itself does is async-signal-safe (memcpy, write, poll, sigaction,
 * raise).  It then puts back the previous disposition (a sanitizer's own
 * handler, or the default) and lets the signal take its course: the process
 * still dies of it, with its core dump.  Not reported: SIGKILL, a stack
 * overflow (no alternate stack), a crash of the sender thread itself, a
 * crash so bad that the sender thread cannot run, and any crash before
 * sentry_start().
 *
 * Thread-safety: sentry_capture(), the log hook and sentry_scope_*() from any
 * thread at any time (scopes are per thread).  sentry_start() and
 * sentry_stop() from the main thread, while no other thread logs.
 */
#ifndef PARSEC_SENTRY_H
#define PARSEC_SENTRY_H

#include "cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of sentry_conf_t (what the binaries use). */
#define SENTRY_QUEUE_MAX      64    /* events waiting to be sent, at most */
#define SENTRY_RATE_BURST     20    /* events sent back to back */
#define SENTRY_RATE_REFILL_MS 3000L /* then one more every 3 s: 20 a minute */
#define SENTRY_TIMEOUT_MS     5000L /* one HTTP exchange, connection included */
#define SENTRY_FLUSH_MS       2000L /* what exit spends sending queued events */
#define SENTRY_CRASH_WAIT_MS  3000L /* what a crashing thread waits for its report */
/* Longest message and identifiers kept; longer ones are cut (on a UTF-8
 * boundary for the message, marked with LOG_TRUNCATED_MARK). */
#define SENTRY_MSG_MAX   2048
#define SENTRY_IDENT_MAX 127

/* What sentry_start_conf() takes; 0 fields take the defaults above. */
typedef struct {
    const char *dsn;         /* http(s)://key[:secret]@host[:port][/path]/project */
    const char *environment; /* NULL: "production" */
    const char *program;     /* the logger: "parsec-fcgi", "parsec-notifyd", "parsec" */
    size_t queue_max;        /* at most SENTRY_QUEUE_MAX */
    int burst;
    long refill_ms;
    long timeout_ms;
    long flush_ms;
    bool no_crash_handler; /* leave the fatal signals alone (tests) */
} sentry_conf_t;

/*
 * sentry_start - report to cfg->sentry_dsn (nothing when unset: returns
 * true), as program, with the defaults above.  Starts the sender thread,
 * installs the log hook and the crash handlers, and arranges (atexit) for
 * sentry_stop(SENTRY_FLUSH_MS) at exit, so a binary needs this one call
 * after log_open().  Copies what it needs from cfg.  False (after one
 * WARNING line saying why, the DSN's key never shown) when the DSN cannot
 * be used or the thread cannot start: the binary runs on without reports.
 */
bool sentry_start(const cfg_t *cfg, const char *program);

/* sentry_start_conf - the same from an explicit configuration (tests);
 * false with a reason in err.  A second start without a stop fails. */
bool sentry_start_conf(const sentry_conf_t *conf, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * sentry_stop - remove the hook and the crash handlers, send what is queued
 * for at most flush_ms (each exchange also bounded by the configured
 * timeout), stop the thread, drop the rest (counted).  Nothing when not
 * started.  From the process that started it only.
 */
void sentry_stop(long flush_ms);

/* sentry_enabled - started and not stopped. */
bool sentry_enabled(void);

/*
 * sentry_capture - queue one event (level ERROR or above; below: nothing)
 * with msg[0..len), this thread's log context ctx (may be NULL) and its
 * scope.  Never blocks on the network; drops (counted) when the queue is
 * full, the rate limit is exhausted or Sentry asked us to wait.  The log
 * hook calls it; code may call it directly for an event that is not a line.
 */
void sentry_capture(cfg_log_level level, const char *msg, size_t len, const char *ctx);

/* The identifiers of the request this thread serves, carried by the events
 * it captures; copied (cut to SENTRY_IDENT_MAX bytes), NULL or "" clears
 * one.  sentry_scope_clear() clears them all at the end of the request. */
void sentry_scope_request(const char *request_id);
void sentry_scope_command(const char *command);
void sentry_scope_organization(const char *organization_id);
void sentry_scope_clear(void);

/* Counters since the process started (across starts); for tests, logs and
 * metrics.  An event offered at ERROR or above while started is counted
 * once as captured, dropped_full or dropped_rate; a captured one ends as
 * sent, failed, dropped_rate (Sentry's 429 came first) or dropped_shutdown.
 * Crashes are counted apart. */
typedef struct {
    uint64_t captured;         /* accepted into the queue */
    uint64_t sent;             /* answered 2xx */
    uint64_t failed;           /* network error, timeout or another answer */
    uint64_t dropped_full;     /* the queue was full */
    uint64_t dropped_rate;     /* our rate limit, or Sentry's 429/Retry-After */
    uint64_t dropped_shutdown; /* still queued when sentry_stop() ran out of time */
    uint64_t crashes;          /* fatal events sent for a crash */
} sentry_stats_t;
void sentry_stats(sentry_stats_t *out);

#endif
