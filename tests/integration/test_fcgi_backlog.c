/*
 * tests/integration/test_fcgi_backlog.c - the listen backlog of a standalone
 * worker (--fcgi-socket) is --fcgi-listen-backlog, SOMAXCONN by default
 *
 * A backlog of 128 made nginx answer 502 to 8 requests in 10 under 1,000
 * concurrent clients (issue 8): connect() on a full unix socket fails at
 * once with EAGAIN.  The test measures the queue itself: the worker is
 * stopped (SIGSTOP) so that nothing is accepted, and non-blocking connects
 * are counted until the kernel refuses one.  Linux queues backlog + 1
 * connections on a unix socket.
 */
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX 400 /* connections tried; above the old fixed 128 */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* connect_nb - a non-blocking connect to the unix socket: the descriptor,
 * or -1 with errno (EAGAIN: the queue is full). */
static int connect_nb(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static pid_t start_worker(const char *sock, const char *db, const char *backlog)
{
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    char *env[8] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", dbv};
    int n = 2;
    const char *pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "PARSEC_TEST_RUN_ID"};
    for (int i = 0; i < 3; i++)
        if (getenv(pass[i]))
            env[n++] = xasprintf("%s=%s", pass[i], getenv(pass[i]));
    const char *argv[] = {websrv_fcgi_bin(),
                          "--fcgi-socket",
                          sock,
                          "--db-max-connections",
                          "2",
                          backlog ? "--fcgi-listen-backlog" : NULL,
                          backlog,
                          NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
            _exit(126);
        execve(argv[0], (char **)argv, env);
        _exit(127);
    }
    for (int i = 1; i < n; i++)
        free(env[i]);
    return pid;
}

/* queued - how many connections the stopped worker's socket takes. */
static int queued(const char *backlog)
{
    char *db = testenv_db_create();
    char *sock = xasprintf("%s/backlog-%d.sock", getenv("PARSEC_TEST_TMP"), (int)getpid());
    pid_t pid = start_worker(sock, db, backlog);
    ck_assert_int_gt(pid, 0);
    int probe = -1;
    for (int t = 0; t < 1500 && probe < 0; t++) {
        probe = connect_nb(sock);
        if (probe < 0)
            sleep_ms(20);
    }
    ck_assert_msg(probe >= 0, "the worker did not listen on %s", sock);
    close(probe);
    sleep_ms(300); /* the worker accepts the probe and sees it go */
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);

    int fds[PROBE_MAX], count = 0, err = 0;
    while (count < PROBE_MAX) {
        int fd = connect_nb(sock);
        if (fd < 0) {
            err = errno;
            break;
        }
        fds[count++] = fd;
    }
    ck_assert_msg(count == PROBE_MAX || err == EAGAIN, "connect: %s", strerror(err));
    for (int i = 0; i < count; i++)
        close(fds[i]);
    kill(pid, SIGCONT);
    kill(pid, SIGTERM);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker status 0x%x", st);
    free(sock);
    testenv_db_drop(db);
    free(db);
    return count;
}

START_TEST(backlog_is_a_setting)
{
    ck_assert_int_eq(queued("3"), 4);
    ck_assert_int_eq(queued("40"), 41);
}
END_TEST

START_TEST(backlog_default_is_somaxconn)
{
    /* SOMAXCONN (4096, capped by net.core.somaxconn): far above 128 */
    ck_assert_int_eq(queued(NULL), PROBE_MAX);
}
END_TEST

TEST_SUITE(fcgi_backlog)
{
    Suite *s = suite_create("fcgi_backlog");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, backlog_is_a_setting);
    tcase_add_test(tc, backlog_default_is_somaxconn);
    suite_add_tcase(s, tc);
    return s;
}
