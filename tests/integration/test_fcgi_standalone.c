/*
 * tests/integration/test_fcgi_standalone.c - the standalone worker
 * (--fcgi-socket): its shipped unit behind nginx, and its listen backlog
 *
 * etc/systemd/parsec-fcgi.service is started as rendered (ExecStart=,
 * UMask=) behind the shipped nginx files, mounted below a prefix.
 *
 * The backlog is --fcgi-listen-backlog, SOMAXCONN by default.
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
#include <sys/stat.h>
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
    /* Stopped for certain (WUNTRACED) before the first connect, so that no
     * thread accepts anything; until listen() ran, connect() is refused:
     * let it run a little longer and try again. */
    int fds[PROBE_MAX], count = 0, err = 0, st = 0;
    for (int t = 0; t < 1500; t++) {
        struct stat sst;
        if (stat(sock, &sst) == 0) {
            ck_assert_int_eq(kill(pid, SIGSTOP), 0);
            ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
            ck_assert_msg(WIFSTOPPED(st), "worker status 0x%x", st);
            int fd = connect_nb(sock);
            if (fd >= 0) {
                fds[count++] = fd;
                break;
            }
            ck_assert_msg(errno == ECONNREFUSED, "connect: %s", strerror(errno));
            kill(pid, SIGCONT);
        }
        sleep_ms(20);
    }
    ck_assert_msg(count == 1, "the worker did not listen on %s", sock);
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

START_TEST(shipped_unit_behind_nginx)
{
    char *db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    const char *env[] = {dbv, "PARSEC_ADMINISTRATION_TOKEN=standalone-t0ken", NULL};
    websrv_t *w = websrv_start(WEBSRV_NGINX_STANDALONE, env, "/parsec");
    ck_assert_ptr_nonnull(w);

    char *url = websrv_urlf(w, "/administration/organizations/Nobody");
    const char *hdrs[] = {"Authorization: Bearer standalone-t0ken", NULL};
    http_result_t *res = testhttp_request("GET", url, hdrs, NULL, 0);
    ck_assert_msg(res->status == 404 && strstr((char *)res->body, "not_found"), "status %ld: %s",
                  res->status, res->body);
    testhttp_free(res);
    free(url);

    /* the worker makes its socket 0660 (etc/systemd/parsec-fcgi.service):
     * for its user and nginx's group only */
    char *sock = xasprintf("%s/parsec-fcgi.sock", websrv_rundir(w));
    struct stat st;
    ck_assert_int_eq(stat(sock, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == 0660, "socket mode %o", (unsigned)(st.st_mode & 0777));
    free(sock);

    ck_assert(websrv_stop(w));
    testenv_db_drop(db);
    free(db);
    free(dbv);
}
END_TEST

TEST_SUITE(fcgi_standalone)
{
    testenv_db_setup();
    Suite *s = suite_create("fcgi_standalone");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, shipped_unit_behind_nginx);
    tcase_add_test(tc, backlog_is_a_setting);
    tcase_add_test(tc, backlog_default_is_somaxconn);
    suite_add_tcase(s, tc);
    return s;
}
