/*
 * common/sentry_crash.c - fatal signals reported to Sentry (see sentry.h)
 *
 * The handler runs on the crashing thread, in a process that may be half
 * broken: it calls only async-signal-safe functions (getpid, clock_gettime,
 * write, poll, sigaction, raise) and touches only static memory.  The
 * sender thread (sentry.c) does the rest: formatting, JSON, libcurl.
 */
#include "sentry_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_FATAL (sizeof fatal_signals / sizeof *fatal_signals)

static struct sigaction g_old[N_FATAL];
static bool g_installed;
static int g_crash_wfd = -1, g_ack_rfd = -1;
static long g_wait_ms;
static pid_t g_owner;
/* The first crashing thread reports; a second one goes straight on. */
static volatile sig_atomic_t g_reporting;

sentry_event_t sentry_crash_record;
volatile sig_atomic_t sentry_crash_pending;

/* The old disposition of sig back in place. */
static void restore(int sig)
{
    for (size_t i = 0; i < N_FATAL; i++)
        if (fatal_signals[i] == sig)
            sigaction(sig, &g_old[i], NULL);
}

/* report - hand the record to the sender and wait for its answer. */
static void report(int sig)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sentry_crash_record.level = CFG_LOG_CRITICAL;
    sentry_crash_record.ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    sentry_crash_record.signal = sig;
    sentry_crash_record.msg[0] = '\0';
    sentry_crash_record.context[0] = '\0';
    memcpy(&sentry_crash_record.scope, sentry_scope_of_thread(), sizeof sentry_crash_record.scope);
    sentry_crash_pending = 1;
    if (write(g_crash_wfd, "c", 1) != 1)
        return;
    struct pollfd p = {.fd = g_ack_rfd, .events = POLLIN};
    int64_t until = sentry_mono_ms() + g_wait_ms;
    for (;;) {
        int64_t left = until - sentry_mono_ms();
        if (left <= 0)
            return;
        int n = poll(&p, 1, (int)left);
        if (n > 0 || (n < 0 && errno != EINTR))
            return;
    }
}

static void on_fatal(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    int saved = errno;
    if (!g_reporting && getpid() == g_owner && !sentry_in_sender_thread()) {
        g_reporting = 1;
        report(sig);
    }
    restore(sig);
    /*
     * Sent by kill(2), raise(3) or abort(3): send it again, delivered under
     * the old disposition once this handler returns (the signal is blocked
     * meanwhile).  Raised by the faulting instruction itself: returning runs
     * it again, and it faults again under the old disposition.
     */
    if (si->si_code <= 0 || sig == SIGABRT)
        raise(sig);
    errno = saved;
}

bool sentry_crash_install(int crash_wfd, int ack_rfd, long wait_ms)
{
    if (g_installed)
        return true;
    g_crash_wfd = crash_wfd;
    g_ack_rfd = ack_rfd;
    g_wait_ms = wait_ms;
    g_owner = getpid();
    g_reporting = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FATAL; i++) {
        if (sigaction(fatal_signals[i], &sa, &g_old[i]) != 0) {
            int e = errno;
            while (i-- > 0)
                sigaction(fatal_signals[i], &g_old[i], NULL);
            errno = e;
            return false;
        }
    }
    g_installed = true;
    return true;
}

void sentry_crash_uninstall(void)
{
    if (!g_installed)
        return;
    for (size_t i = 0; i < N_FATAL; i++)
        sigaction(fatal_signals[i], &g_old[i], NULL);
    g_installed = false;
}
