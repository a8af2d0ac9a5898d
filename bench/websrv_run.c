/*
 * bench/websrv_run.c - one shipped web server configuration, rendered from
 * etc/ and started by tests/lib/websrv.c, for bench/deploy-load
 *
 *   websrv_run KIND NOTIFYD_PORT [PARSEC_X=value...]
 *
 * KIND is lighttpd, apache, nginx (spawn-fcgi's unit) or nginx-standalone
 * (parsec-fcgi.service); the application is mounted at the root and /ws is
 * proxied to 127.0.0.1:NOTIFYD_PORT.  The PARSEC_X=value arguments are the
 * workers' settings, handed over the way the configuration does it (@ENV@,
 * the unit's environment).  The worker binary is parsec-fcgi beside this
 * program's build directory (build/bench/websrv_run -> build/parsec-fcgi),
 * or $PARSEC_TEST_FCGI_BIN.
 *
 * Prints one line, "port=N rundir=DIR", once the worker answers, then waits
 * until its standard input closes or it gets SIGTERM or SIGINT, stops
 * everything (websrv_stop) and exits 0 when everything stopped cleanly, 1
 * otherwise or when the server did not start, 2 on bad usage.  If this
 * process is killed, websrv's watchdog stops the servers.
 */
#include "websrv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: websrv_run KIND NOTIFYD_PORT [PARSEC_X=value...]\n");
        return 2;
    }
    int kind = -1;
    for (int k = 0; k < WEBSRV_KIND_ALL; k++)
        if (strcmp(argv[1], websrv_kind_name((websrv_kind)k)) == 0)
            kind = k;
    char *end;
    long nport = strtol(argv[2], &end, 10);
    if (kind < 0 || *end || nport < 1 || nport > 65535) {
        fprintf(stderr, "websrv_run: unknown kind %s or bad port %s\n", argv[1], argv[2]);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    websrv_t *w =
        websrv_start_notifyd((websrv_kind)kind, (const char *const *)argv + 3, "", (int)nport);
    if (!w)
        return 1;
    printf("port=%d rundir=%s\n", websrv_port(w), websrv_rundir(w));
    fflush(stdout);

    while (!g_stop) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int n = poll(&p, 1, 500);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0)
                break;
        }
    }
    return websrv_stop(w) ? 0 : 1;
}
