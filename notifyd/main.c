/*
 * notifyd/main.c - the event daemon (parsec-notifyd)
 *
 * Settings, logging, start-up order (database first, then the listener, so
 * a client never meets a notifyd that cannot serve it), the ready line, the
 * loop, and a shutdown that frees everything.  notifyd/README.md is the
 * design; docs/events.md the wire protocol.
 */
#include "cfg.h"
#include "log.h"
#include "metrics.h"
#include "nd.h"
#include "pgconn.h"
#include "router.h"
#include "sentry.h"
#include "server.h"
#include "session.h"
#include "upgrade.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const db_stmt_t *const statements[] = {&nd_stmt_identify};

static void hook_notify(void *arg, const char *payload)
{
    nd_router_dispatch(arg, payload);
}

static void hook_down(void *arg)
{
    (void)arg; /* connected clients stay; handshakes in flight failed */
}

static void hook_up(void *arg)
{
    nd_session_db_restored(arg);
}

/* Set when a reconnection was refused for good: exit status 1. */
static bool db_refused;

/* The database refused a reconnection for a reason retrying cannot fix:
 * stop as at start-up, with one line. */
static void hook_fatal(void *arg, const char *why)
{
    db_refused = true;
    log_fail("notifyd: database refused the reconnection: %s (not retried: retrying cannot fix "
             "this)",
             why);
    nd_server_stop(arg);
}

int main(int argc, char **argv)
{
    cfg_t cfg;
    char err[1024];
    int status = 1;
    nd_t nd;
    memset(&nd, 0, sizeof nd);

    static const char *const required[] = {"db", NULL};
    static const cfg_command_t command = {.name = "parsec-notifyd", .required = required};
    switch (
        cfg_parse_command(&cfg, &command, argc - 1, argv + 1, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    default:
        fprintf(stderr, "parsec-notifyd: %s\n", err);
        return 2;
    }
    if (!strcmp(cfg.db, "MOCKED")) {
        fprintf(stderr, "parsec-notifyd: --db MOCKED is for `parsec backend run`, which starts "
                        "its private cluster and passes notifyd its URL\n");
        cfg_free(&cfg);
        return 2;
    }
    if (!cfg.ssl_certfile != !cfg.ssl_keyfile) {
        fprintf(stderr, "parsec-notifyd: --ssl-keyfile and --ssl-certfile go together\n");
        cfg_free(&cfg);
        return 2;
    }
    if (!log_open(cfg.log_level, cfg.log_format, cfg.log_file, "parsec-notifyd", err, sizeof err)) {
        fprintf(stderr, "parsec-notifyd: %s\n", err);
        cfg_free(&cfg);
        return 1;
    }
    for (char **w = cfg.warnings; w && *w; w++)
        log_warning("%s", *w);
    sentry_start(&cfg, "parsec-notifyd"); /* errors and crashes to --sentry-dsn, if set */
    /* Each instance counts alone and answers its own GET /metrics. */
    if (!metrics_open(NULL, NULL, err, sizeof err))
        log_warning("metrics: %s", err);

    /* Blocked here, read from a signalfd in the loop (server.c). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    nd.cfg = &cfg;
    nd.router = nd_router_new();
    nd.scratch = arena_new();
    /* A refusal retrying cannot fix (common/db.h) is not retried. */
    nd.pg = nd_pg_connect(&cfg, cfg.db, statements, sizeof statements / sizeof *statements, err,
                          sizeof err);
    if (!nd.pg) {
        log_fail("notifyd: %s", err);
        goto cleanup;
    }
    if (!nd_server_start(&nd, err, sizeof err)) {
        log_critical("notifyd: %s", err);
        goto cleanup;
    }
    nd_pg_hooks_t hooks = {.on_notify = hook_notify,
                           .on_down = hook_down,
                           .on_up = hook_up,
                           .on_fatal = hook_fatal,
                           .arg = &nd};
    if (!nd_pg_attach(nd.pg, nd.ctx, nd.vh, ND_PG_PROTOCOL, &hooks)) {
        log_critical("notifyd: cannot put the database connection into the event loop");
        goto cleanup;
    }

    log_info("notifyd: listening on %s:%d%s", cfg.notifyd_host, nd_server_port(&nd),
             cfg.ssl_certfile ? " (TLS)" : "");
    /* The ready line: supervisors and tests wait for it (README.md). */
    bool v6 = strchr(cfg.notifyd_host, ':') != NULL;
    printf("ready %s://%s%s%s:%d%s\n", cfg.ssl_certfile ? "wss" : "ws", v6 ? "[" : "",
           cfg.notifyd_host, v6 ? "]" : "", nd_server_port(&nd), ND_WS_PATH);
    fflush(stdout);

    nd_server_run(&nd);
    status = db_refused ? 1 : 0;
    if (!db_refused)
        log_info("notifyd: stopped");

cleanup:
    nd_pg_stop(nd.pg);
    nd_server_destroy(&nd);
    nd_pg_free(nd.pg);
    nd_router_free(nd.router);
    arena_free(nd.scratch);
    metrics_close();
    log_close();
    cfg_free(&cfg);
    return status;
}
