/*
 * common/sentry_internal.h - what the files of the Sentry reporter share
 *
 * Private to common/sentry*.c; everything else includes sentry.h.  One
 * module in three files, one concern each:
 *   sentry.c           start and stop, the scope, the queue, the rate
 *                      limit, the sender thread;
 *   sentry_envelope.c  the DSN, the envelope of one event, the HTTP post;
 *   sentry_crash.c     the fatal signal handlers and their record.
 */
#ifndef PARSEC_SENTRY_INTERNAL_H
#define PARSEC_SENTRY_INTERNAL_H

#include "log.h"
#include "sentry.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The identifiers of the request a thread serves (sentry_scope_*). */
typedef struct {
    char request_id[SENTRY_IDENT_MAX + 1];
    char command[SENTRY_IDENT_MAX + 1];
    char organization[SENTRY_IDENT_MAX + 1];
} sentry_scope_t;

/* One event as the capture copied it: fixed size, so that the queue and
 * the crash record need no allocation.  Strings are NUL-terminated. */
typedef struct {
    cfg_log_level level;
    int64_t ts_us; /* CLOCK_REALTIME, microseconds */
    int signal;    /* a crash: its signal number; 0 otherwise */
    char msg[SENTRY_MSG_MAX + sizeof LOG_TRUNCATED_MARK];
    char context[SENTRY_IDENT_MAX + 1]; /* the log context; "" for a crash */
    sentry_scope_t scope;
} sentry_event_t;

/* ---- sentry_envelope.c ---------------------------------------------------- */

/* A DSN taken apart; every string malloc'd, freed by sentry_dsn_free(). */
typedef struct {
    char *url;  /* the envelope endpoint, without the key */
    char *auth; /* the whole X-Sentry-Auth header line */
    char *host; /* for log lines */
    char *project;
} sentry_dsn_t;

/* sentry_dsn_parse - take dsn apart; false with a reason in err that never
 * quotes the key. */
bool sentry_dsn_parse(const char *dsn, sentry_dsn_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void sentry_dsn_free(sentry_dsn_t *d);

/* The fields every event of the process carries. */
typedef struct {
    const char *program, *environment, *release, *server_name;
    int pid;
} sentry_ident_t;

/* sentry_envelope - the envelope (header, item header, event) of ev;
 * event_id is 32 lower-case hex digits.  malloc'd, *len its length. */
char *sentry_envelope(const sentry_event_t *ev, const sentry_ident_t *id, const char *event_id,
                      size_t *len);

/* What one post gave. */
typedef enum {
    SENTRY_POST_OK,      /* 2xx */
    SENTRY_POST_LIMITED, /* 429, or 503 with Retry-After: *retry_after_s set */
    SENTRY_POST_FAILED,  /* anything else; err says what */
} sentry_post_result;

/* When an exchange in flight gives up early: once *crash is non-zero (a
 * crash wants the line; crash may be NULL), or once the monotonic clock
 * passes *at_ms (the flush deadline of sentry_stop). */
typedef struct {
    const volatile sig_atomic_t *crash;
    const _Atomic int64_t *at_ms;
} sentry_cut_t;

/* sentry_post - POST body to d, bounded by timeout_ms and by cut. */
sentry_post_result sentry_post(const sentry_dsn_t *d, const char *body, size_t len, long timeout_ms,
                               const sentry_cut_t *cut, long *retry_after_s, char *err,
                               size_t errlen);

/* ---- sentry.c ------------------------------------------------------------- */

/* sentry_mono_ms - CLOCK_MONOTONIC in milliseconds. */
int64_t sentry_mono_ms(void);
/* sentry_in_sender_thread - is this the sender thread? (async-signal-safe) */
bool sentry_in_sender_thread(void);

/* ---- sentry_crash.c --------------------------------------------------------- */

/* sentry_crash_install - handlers for the fatal signals, reporting through
 * the pipes: crash_wfd (one byte: "a crash record is ready"), ack_rfd (one
 * byte back: "sent, or given up").  False with errno set. */
bool sentry_crash_install(int crash_wfd, int ack_rfd, long wait_ms);
/* sentry_crash_uninstall - the previous dispositions back. */
void sentry_crash_uninstall(void);
/* The record a handler filled before writing its byte (read by the sender
 * once the byte arrived), and the flag that tells an exchange in flight to
 * give way. */
extern sentry_event_t sentry_crash_record;
extern volatile sig_atomic_t sentry_crash_pending;
/* sentry_scope_of_thread - this thread's scope (sentry.c), which a crash
 * handler copies. */
const sentry_scope_t *sentry_scope_of_thread(void);

#endif
