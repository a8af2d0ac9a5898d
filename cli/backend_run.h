/*
 * cli/backend_run.h - what the files of `parsec backend run` share
 *
 * Private to cli/backend_run*.c; the command itself is cli_backend_run()
 * (cli.h).  One command in several files, one concern each:
 *   backend_run.c        the phases in order, starting notifyd and lighttpd;
 *   backend_run_relay.c  signals, the poll() loop, the children's output
 *                        relayed into the log, stopping a child;
 *   backend_run_env.c    the children's environment (every setting as its
 *                        PARSEC_* variable);
 *   backend_run_net.c    addresses, free ports, GET /health;
 *   backend_run_dir.c    the binaries, the run user and the run directory;
 *   backend_run_db.c     the database: MOCKED cluster or URL, migrations.
 *
 * Everything runs on the main thread; only the signal handler (relay.c)
 * runs elsewhere, and it only writes to a pipe and sets run_stop_signal.
 */
#ifndef PARSEC_BACKEND_RUN_H
#define PARSEC_BACKEND_RUN_H

#include "cfg.h"
#include "pgcluster.h"
#include "strbuf.h"
#include "supervise.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Settings that may hold a secret (cfg.h: those read from files too). */
#define RUN_SECRETS_MAX 8

/* One relayed line; a longer one is passed on in pieces. */
#define RUN_LINE_MAX 16384

/* One supervised child and the relay of its output. */
typedef struct {
    sup_child_t ch;
    bool spawned;
    bool is_lighttpd; /* its own lines have lighttpd's error log format */
    bool ready;       /* notifyd: its "ready" line was seen */
    int ready_port;   /* notifyd: the port its ready line names */
    char buf[RUN_LINE_MAX];
    size_t len;
    char first[512]; /* its first line that is no chatter (the cause, for lighttpd) */
    char last[512];  /* its last such line, for failure messages */
    /* Until the part is ready, its lines are held here, not relayed: if it
     * fails to start, the one failure line quotes the cause instead. */
    bool holding;
    strvec_t held;
} run_part_t;

/* The state of a run; one, owned by cli_backend_run(). */
typedef struct {
    cfg_t cfg;
    bool have_cfg;
    char rundir[PATH_MAX];
    bool have_rundir;
    pgcluster_t *cluster;
    char *db_url; /* the URL workers and notifyd get; owned */
    char *fcgi_bin, *notifyd_bin, *lighttpd_bin;
    bool notifyd_wanted;
    int notifyd_port; /* the port notifyd listens on (known once ready) */
    run_part_t notifyd, lighttpd;
    int raw_fd; /* where children's own log lines are copied */
    bool raw_fd_owned;
    /* Secrets handed down as inherited descriptors (backend_run_env.c). */
    struct {
        const char *env; /* "PARSEC_DB": the child reads PARSEC_DB_FILE=/dev/fd/N */
        int fd;
    } secrets[RUN_SECRETS_MAX];
    int nsecrets;
    const char *run_user; /* NULL: not root, keep our user */
    uid_t run_uid;
    gid_t run_gid;
    char run_group[64];
    char fail[2048]; /* the first failure, said last (run_fail, run_fail_flush) */
} run_t;

/* ---- backend_run_relay.c ------------------------------------------------ */

/* SIGINT or SIGTERM once received (then the run stops), else 0. */
extern volatile sig_atomic_t run_stop_signal;

/* run_signals_install - SIGINT, SIGTERM, SIGHUP and SIGCHLD become bytes on
 * a pipe that run_pump() polls; SIGPIPE is ignored.  False with err set. */
bool run_signals_install(char *err, size_t errlen);
/* run_signals_restore - default dispositions back, the pipe closed. */
void run_signals_restore(void);

/* run_fail - record the failure that ends the run (the first one only: the
 * others are its consequences); run_fail_flush() says it. */
void run_fail(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* run_fail_flush - the one line of the failure, once everything is
 * stopped, so that nothing follows it: on stderr, and in the log file if
 * any.  No-op without a failure. */
void run_fail_flush(run_t *r);
/* run_release - p is ready (relay what it held) or failed (relay it only
 * when the log is a file or verbose: stderr gets the failure line alone). */
void run_release(run_t *r, run_part_t *p, bool ready);

/*
 * run_pump - wait up to timeout_ms for a signal or output, then handle them:
 * relay output, reap children, reopen logs and pass SIGHUP on.
 */
void run_pump(run_t *r, int timeout_ms);
/* run_drain - read what a child wrote; false once its pipe is closed. */
bool run_drain(run_t *r, run_part_t *p);
/* run_part_failed - true when a part we started has exited, after
 * run_fail() saying "<name> <how it exited> <when>[: <its last line>]<then>". */
bool run_part_failed(run_t *r, run_part_t *p, const char *name, const char *when, const char *then);
/* run_stop_part - stop a part (sig, then SIGTERM/SIGKILL after timeout_ms),
 * relaying its last words while it goes. */
void run_stop_part(run_t *r, run_part_t *p, int sig, int timeout_ms);

/* ---- backend_run_env.c -------------------------------------------------- */

/*
 * run_secrets_open - each secret setting (database URL, blockstore specs,
 * administration token, email password, webhook URL, Sentry DSN) into a
 * sealed memfd the children inherit; run_child_env() then names it as
 * PARSEC_<SETTING>_FILE=/dev/fd/N and the value stays out of every
 * environment (/proc/PID/environ).  The children close theirs once read
 * (cfg_secret_file); lighttpd keeps its copy to respawn workers.  Call
 * after the database is set up (its real URL is a secret), before the
 * first child; run_secrets_close() once the children have theirs.
 */
void run_secrets_open(run_t *r);
void run_secrets_close(run_t *r);

/*
 * run_child_env - append to e (strings owned by e: strvec_free) the
 * environment of lighttpd (copied to the workers) and of notifyd: every
 * effective setting as its PARSEC_* variable (secrets as _FILE, above),
 * and what must pass through.
 */
void run_child_env(strvec_t *e, const run_t *r);
/* run_env_names - the names of e's "NAME=value" strings into names (owned:
 * strvec_free), for lighttpd's bin-copy-environment. */
void run_env_names(const strvec_t *e, strvec_t *names);

/* ---- backend_run_net.c -------------------------------------------------- */

/* run_reach_host - the address to reach a listener bound to host: loopback
 * for a wildcard. */
const char *run_reach_host(const char *host);
/* run_host_port - "HOST:PORT", with brackets around an IPv6 literal; into buf. */
const char *run_host_port(char *buf, size_t len, const char *host, int port);
/* run_port_free - can we listen on host:port?  what names the setting in err. */
bool run_port_free(const char *host, int port, const char *what, char *err, size_t errlen);
/* run_port_answers - does something accept a TCP connection on host:port? */
bool run_port_answers(const char *host, int port);
/* run_health - GET /health through lighttpd: its status, 0 when no answer
 * (why in err). */
long run_health(const run_t *r, char *err, size_t errlen);

/* ---- backend_run_dir.c -------------------------------------------------- */

/* run_locate - find lighttpd, parsec-fcgi and (optional) parsec-notifyd;
 * false after run_fail(). */
bool run_locate(run_t *r);
/* run_pick_user - when root, the user lighttpd and the workers run as. */
bool run_pick_user(run_t *r, char *err, size_t errlen);
/* run_rundir_create - the private directory of this run and its subdirectories. */
bool run_rundir_create(run_t *r, char *err, size_t errlen);
/* run_rundir_remove - remove it and everything in it; safe to call twice. */
void run_rundir_remove(run_t *r);

/* ---- backend_run_db.c --------------------------------------------------- */

/* run_setup_db - the database the workers will use (r->db_url, r->cluster);
 * false after run_fail() or when a stop signal came (run_stop_signal set). */
bool run_setup_db(run_t *r);

#endif
