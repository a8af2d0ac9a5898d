/*
 * cli/backend_run.c - `parsec backend run`: serve through lighttpd
 *
 * A foreground supervisor (docs/running.md is the user's side).  In order:
 *   1. settings (cfg_parse, cfg_require_run) and logging;
 *   2. what costs nothing to check: the binaries exist, the ports are free;
 *   3. the database: --db MOCKED starts a private cluster (common/pgcluster.h)
 *      and migrates it; a URL is checked reachable and up to date;
 *   4. parsec-notifyd, when installed, until it says it is ready;
 *   5. lighttpd in the foreground with a generated configuration
 *      (lighttpd_conf.h); it spawns the parsec-fcgi workers; until GET /health
 *      answers 200 through it;
 *   6. one line on stdout, then watch signals, children and their output;
 *   7. stop everything in reverse order and remove the run directory.
 *
 * The phases are here; their helpers live beside this file, one concern
 * each (backend_run.h lists them).
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 a part failed (to start or later),
 * 2 bad settings.  Every failure ends with exactly one line on stderr.
 */
#include "cli.h"

#include "backend_run.h"

#include "blockstore.h"
#include "lighttpd_conf.h"
#include "log.h"
#include "sentry.h"
#include "xalloc.h"

#include <curl/curl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long each part may take to become ready. */
#define RUN_NOTIFYD_READY_MS  30000
#define RUN_LIGHTTPD_READY_MS 30000
/* Between two readiness probes (connect, GET /health). */
#define RUN_READY_POLL_MS 100
/* lighttpd's graceful stop lasts at most 5 s (lighttpd_conf.c); then this. */
#define RUN_STOP_LIGHTTPD_MS 10000
/* notifyd closes its websockets within 2 s (notifyd/README.md). */
#define RUN_STOP_NOTIFYD_MS 5000
/* Most workers lighttpd spawns (one per core, within these bounds). */
#define RUN_MIN_WORKERS 2
#define RUN_MAX_WORKERS 8

/* ------------------------------------------------------------------------ */
/* Starting the parts                                                        */

static bool start_notifyd(run_t *r)
{
    char err[1024];
    strvec_t env = STRVEC_INIT;
    bool ok = false;

    run_child_env(&env, r);
    char *argv[] = {r->notifyd_bin, NULL};
    r->notifyd.is_lighttpd = false;
    /* notifyd needs no privilege either: it runs as the run user. */
    sup_cred_t cred = {r->run_uid, r->run_gid};
    if (!sup_spawn(&r->notifyd.ch, "parsec-notifyd", r->notifyd_bin, argv, env.v,
                   r->run_user ? &cred : NULL, err, sizeof err)) {
        run_fail(r, "%s", err);
        goto cleanup;
    }
    r->notifyd.spawned = true;
    r->notifyd.holding = true; /* until its ready line (relay.c) */
    long long deadline = sup_now_ms() + RUN_NOTIFYD_READY_MS;
    while (!r->notifyd.ready) {
        if (run_stop_signal)
            goto cleanup;
        if (run_part_failed(r, &r->notifyd, "parsec-notifyd", "at start", ""))
            goto cleanup;
        if (sup_now_ms() > deadline) {
            run_fail(r, "parsec-notifyd did not become ready within %d s",
                     RUN_NOTIFYD_READY_MS / 1000);
            goto cleanup;
        }
        run_pump(r, 100);
    }
    r->notifyd_port = r->notifyd.ready_port > 0 ? r->notifyd.ready_port : r->cfg.notifyd_port;
    ok = true;
cleanup:
    strvec_free(&env);
    return ok;
}

static int worker_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < RUN_MIN_WORKERS)
        n = RUN_MIN_WORKERS;
    if (n > RUN_MAX_WORKERS)
        n = RUN_MAX_WORKERS;
    return (int)n;
}

static bool start_lighttpd(run_t *r)
{
    char err[1024], herr[CURL_ERROR_SIZE + 64] = "";
    strvec_t env = STRVEC_INIT;
    strvec_t names = STRVEC_INIT;
    char *conf = NULL, *sock = NULL, *upload = NULL, *www = NULL;
    bool ok = false;

    run_child_env(&env, r);
    run_env_names(&env, &names);
    sock = xasprintf("%s/sock", r->rundir);
    upload = xasprintf("%s/upload", r->rundir);
    www = xasprintf("%s/www", r->rundir);
    conf = xasprintf("%s/lighttpd.conf", r->rundir);
    lighttpd_conf_t lc = {
        .host = r->cfg.host,
        .port = r->cfg.port,
        .docroot = www,
        .socket_dir = sock,
        .upload_dir = upload,
        .fcgi_bin = r->fcgi_bin,
        .fcgi_procs = worker_count(),
        .fcgi_env_names = (const char *const *)names.v,
        .notifyd_host = r->notifyd_wanted ? r->cfg.notifyd_host : NULL,
        .notifyd_port = r->notifyd_wanted ? r->notifyd_port : 0,
        .ssl_certfile = r->cfg.ssl_certfile,
        .ssl_keyfile = r->cfg.ssl_keyfile,
        .username = r->run_user,
        .groupname = r->run_user ? r->run_group : NULL,
        .max_request_size = r->cfg.max_request_size,
    };
    if (!lighttpd_conf_write(&lc, conf, err, sizeof err)) {
        run_fail(r, "%s", err);
        goto cleanup;
    }
    char *argv[] = {r->lighttpd_bin, "-D", "-f", conf, NULL};
    r->lighttpd.is_lighttpd = true;
    /* As root: lighttpd binds and loads the key, then drops to the run user
     * itself (server.username). */
    if (!sup_spawn(&r->lighttpd.ch, "lighttpd", r->lighttpd_bin, argv, env.v, NULL, err,
                   sizeof err)) {
        run_fail(r, "%s", err);
        goto cleanup;
    }
    r->lighttpd.spawned = true;
    r->lighttpd.holding = true; /* until the workers answer */
    /* notifyd and lighttpd hold theirs now (lighttpd for its workers). */
    run_secrets_close(r);

    /* Up when the port accepts and the workers answer GET /health. */
    long long deadline = sup_now_ms() + RUN_LIGHTTPD_READY_MS, next_try = 0;
    bool listening = false;
    long status = 0;
    for (;;) {
        if (run_stop_signal)
            goto cleanup;
        if (run_part_failed(r, &r->lighttpd, "lighttpd", "at start", ""))
            goto cleanup;
        if (sup_now_ms() > deadline) {
            if (!listening)
                run_fail(r, "lighttpd does not accept connections on port %d after %d s",
                         r->cfg.port, RUN_LIGHTTPD_READY_MS / 1000);
            else if (status)
                run_fail(r, "the workers do not answer: GET /health gives HTTP %ld%s%s", status,
                         r->lighttpd.last[0] ? "; last message: " : "", r->lighttpd.last);
            else
                run_fail(r, "the workers do not answer GET /health: %s", herr);
            goto cleanup;
        }
        /* Paced by the clock: run_pump() returns early whenever a child writes. */
        if (sup_now_ms() >= next_try) {
            next_try = sup_now_ms() + RUN_READY_POLL_MS;
            if (!listening)
                listening = run_port_answers(r->cfg.host, r->cfg.port);
            if (listening) {
                status = run_health(r, herr, sizeof herr);
                if (status == 200) {
                    run_release(r, &r->lighttpd, true);
                    break;
                }
            }
        }
        long long wait = next_try - sup_now_ms();
        run_pump(r, wait < 0 ? 0 : (int)wait);
    }
    ok = true;
cleanup:
    strvec_free(&env);
    strvec_free(&names);
    free(conf);
    free(sock);
    free(upload);
    free(www);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Describing the run                                                        */

static void describe_blockstore(strbuf_t *b, const cfg_blockstore *bs)
{
    if (!bs->n_nodes) {
        strbuf_puts(b, "none");
        return;
    }
    if (bs->raid != CFG_RAID_NONE) {
        strbuf_puts(b, cfg_raid_name(bs->raid));
        strbuf_puts(b, "(");
    }
    for (size_t i = 0; i < bs->n_nodes; i++) {
        const cfg_blockstore_node *nd = &bs->nodes[i];
        if (i)
            strbuf_puts(b, ",");
        switch (nd->kind) {
        case CFG_BS_MOCKED:
            strbuf_puts(b, "MOCKED");
            break;
        case CFG_BS_POSTGRESQL:
            strbuf_puts(b, "POSTGRESQL");
            break;
        case CFG_BS_S3:
            strbuf_puts(b, "s3 bucket ");
            strbuf_puts(b, nd->s3_bucket);
            break;
        case CFG_BS_SWIFT:
            strbuf_puts(b, "swift container ");
            strbuf_puts(b, nd->swift_container);
            break;
        case CFG_BS_NONE:
            strbuf_puts(b, "none");
            break;
        }
    }
    if (bs->raid != CFG_RAID_NONE)
        strbuf_puts(b, ")");
}

/* Every effective setting at INFO, secrets masked by cfg_describe(). */
static void log_settings(const cfg_t *c)
{
    if (!log_enabled(CFG_LOG_INFO))
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    cfg_describe(c, f);
    fclose(f);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        log_info("setting %s", line);
    free(text);
}

static void announce(const run_t *r)
{
    char hp[300];
    strbuf_t bs = STRBUF_INIT;
    char *db = cfg_redact_url(r->db_url);
    describe_blockstore(&bs, &r->cfg.blockstore);
    run_host_port(hp, sizeof hp, r->cfg.host, r->cfg.port);
    printf("parsec: serving on %s://%s (db=%s%s, blockstore=%s)\n",
           r->cfg.ssl_certfile ? "https" : "http", hp, r->cluster ? "MOCKED at " : "", db, bs.s);
    fflush(stdout);
    log_info("serving on %s://%s (db=%s%s, blockstore=%s, notifyd=%s)",
             r->cfg.ssl_certfile ? "https" : "http", hp, r->cluster ? "MOCKED at " : "", db, bs.s,
             r->notifyd_wanted ? "on /ws" : "not installed");
    free(db);
    strbuf_free(&bs);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */

/* Descriptors 0-2 must be open, or a child's pipe could land on them. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
    }
}

static void run_free(run_t *r)
{
    free(r->db_url);
    free(r->fcgi_bin);
    free(r->notifyd_bin);
    free(r->lighttpd_bin);
    if (r->raw_fd_owned)
        close(r->raw_fd);
    if (r->have_cfg)
        cfg_free(&r->cfg);
}

int cli_backend_run(int argc, char **argv)
{
    run_t r;
    char err[1024];
    int status = 1;

    memset(&r, 0, sizeof r);
    r.raw_fd = STDERR_FILENO;
    r.notifyd.ch.out_fd = r.lighttpd.ch.out_fd = -1;
    ensure_std_fds();

    /* What Parsec 2.12's run required (cfg_require_run); --dev gives them. */
    static const char *const required[] = {"db",           "blockstore", "administration-token",
                                           "backend-addr", "email-host", NULL};
    static const cfg_command_t command = {.name = "parsec backend run", .required = required};
    switch (cfg_parse_command(&r.cfg, &command, argc, argv, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    case CFG_PARSE_ERROR:
        fprintf(stderr, "parsec: %s\n", err);
        return 2;
    }
    r.have_cfg = true;
    if (r.cfg.fcgi_socket) {
        fprintf(stderr, "parsec: --fcgi-socket is for a standalone parsec-fcgi worker; "
                        "parsec backend run lets lighttpd spawn its workers\n");
        status = 2;
        goto out;
    }
    if (!strcmp(run_reach_host(r.cfg.host), run_reach_host(r.cfg.notifyd_host)) &&
        r.cfg.port == r.cfg.notifyd_port) {
        fprintf(stderr, "parsec: --port and --notifyd-port must differ (both are %d)\n",
                r.cfg.port);
        status = 2;
        goto out;
    }
    if (!log_open(r.cfg.log_level, r.cfg.log_format, r.cfg.log_file, "parsec", err, sizeof err)) {
        fprintf(stderr, "parsec: %s\n", err);
        goto out;
    }
    sentry_start(&r.cfg, "parsec"); /* errors and crashes to --sentry-dsn, if set */
    if (r.cfg.log_file) {
        r.raw_fd = open(r.cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (r.raw_fd < 0) {
            run_fail(&r, "cannot open %s: %s", r.cfg.log_file, strerror(errno));
            r.raw_fd = STDERR_FILENO;
            goto out_log;
        }
        r.raw_fd_owned = true;
    }
    if (!run_signals_install(err, sizeof err) || !sup_init(err, sizeof err)) {
        run_fail(&r, "%s", err);
        goto out_log;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        run_fail(&r, "cannot initialise libcurl");
        goto out_signals;
    }
    log_settings(&r.cfg);
    for (char **w = r.cfg.warnings; w && *w; w++)
        log_warning("%s", *w);

    /* Cheap checks first: nothing is started when they fail. */
    if (!run_locate(&r))
        goto out_curl;
    if (!run_port_free(r.cfg.host, r.cfg.port, "--port", err, sizeof err) ||
        (r.notifyd_wanted && !run_port_free(r.cfg.notifyd_host, r.cfg.notifyd_port,
                                            "--notifyd-port", err, sizeof err))) {
        run_fail(&r, "%s", err);
        goto out_curl;
    }
    if (!run_pick_user(&r, err, sizeof err) || !run_rundir_create(&r, err, sizeof err)) {
        run_fail(&r, "%s", err);
        goto out_curl;
    }

    if (!run_setup_db(&r))
        goto stop;
    {
        /* Wrong credentials or a missing bucket stop the run here, in one
         * line, rather than in every worker.  Each worker opens its own. */
        blockstore_t *bs = blockstore_open(&r.cfg, err, sizeof err);
        if (!bs) {
            run_fail(&r, "blockstore: %s", err);
            goto stop;
        }
        char *what = blockstore_describe(bs);
        log_info("blockstore checked: %s", what);
        free(what);
        blockstore_close(bs);
    }
    if (run_stop_signal)
        goto stop;
    run_secrets_open(&r);
    if (r.notifyd_wanted && !start_notifyd(&r))
        goto stop;
    if (!start_lighttpd(&r))
        goto stop;
    announce(&r);

    while (!run_stop_signal) {
        run_pump(&r, 1000);
        if (run_stop_signal)
            break;
        if (run_part_failed(&r, &r.lighttpd, "lighttpd", "unexpectedly", "; stopping") ||
            run_part_failed(&r, &r.notifyd, "parsec-notifyd", "unexpectedly", "; stopping"))
            goto stop;
    }

stop:
    run_secrets_close(&r);
    if (run_stop_signal) {
        log_info("%s received: stopping", run_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        status = 0;
    }
    /* lighttpd first (SIGINT: graceful, it stops its workers), then what it
     * talked to. */
    run_stop_part(&r, &r.lighttpd, SIGINT, RUN_STOP_LIGHTTPD_MS);
    run_stop_part(&r, &r.notifyd, SIGTERM, RUN_STOP_NOTIFYD_MS);
    /* What a part said before it failed to start: the failure line quotes
     * its cause, the rest goes only where it cannot bury that line. */
    run_release(&r, &r.lighttpd, false);
    run_release(&r, &r.notifyd, false);
    if (r.cluster) {
        if (!pgcluster_stop(r.cluster))
            log_warning("the MOCKED database directory was not entirely removed");
        r.cluster = NULL;
    }
    run_rundir_remove(&r);
    sup_reap_orphans();
    if (status == 0)
        log_info("stopped");
out_curl:
    run_rundir_remove(&r);
    curl_global_cleanup();
out_signals:
    run_signals_restore();
out_log:
    run_fail_flush(&r); /* last: nothing may follow the line that says why */
    log_close();
out:
    run_free(&r);
    return status;
}
