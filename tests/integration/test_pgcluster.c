/* tests/integration/test_pgcluster.c - the throwaway cluster behind --db MOCKED */
#include "pgcluster.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool dir_exists(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Processes whose working directory is under dir: every postgres process
 * works in the data directory. */
static int processes_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    size_t len = strlen(dir);
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char link[300], target[4096];
        snprintf(link, sizeof link, "/proc/%s/cwd", e->d_name);
        ssize_t r = readlink(link, target, sizeof target - 1);
        if (r <= 0)
            continue;
        target[r] = '\0';
        if (!strncmp(target, dir, len) && (target[len] == '/' || target[len] == '\0'))
            n++;
    }
    closedir(d);
    return n;
}

static bool pid_alive(pid_t pid)
{
    /* A zombie still answers kill(0): look at its state. */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z';
}

static uid_t owner_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_uid;
}

START_TEST(start_serve_stop_leaves_nothing)
{
    char err[512] = "";
    pgcluster_t *pc = pgcluster_start(err, sizeof err);
    ck_assert_msg(pc != NULL, "%s", err);
    char *dir = xstrdup(pgcluster_dir(pc));
    pid_t pid = pgcluster_pid(pc);
    ck_assert(dir_exists(dir));
    ck_assert(pid_alive(pid));
    if (geteuid() == 0)
        ck_assert_int_ne(owner_of(pid), 0); /* never as root */

    const char *url = pgcluster_url(pc);
    ck_assert_ptr_nonnull(strstr(url, "postgresql://postgres:"));
    PGconn *pg = testenv_pg_connect(url);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT 6 * 7"), 42);
    PGresult *res = PQexec(pg, "SELECT current_setting('listen_addresses'), "
                               "current_setting('fsync')");
    ck_assert_str_eq(PQgetvalue(res, 0, 0), ""); /* no TCP */
    ck_assert_str_eq(PQgetvalue(res, 0, 1), "off");
    PQclear(res);
    PQfinish(pg);

    /* The password is required: the URL is the key. */
    char *nopw = testenv_url_with(url, "password", NULL);
    PGconn *anon = PQconnectdb(nopw);
    ck_assert_int_ne(PQstatus(anon), CONNECTION_OK);
    PQfinish(anon);
    char *badpw = testenv_url_with(url, "password", "wrong");
    anon = PQconnectdb(badpw);
    ck_assert_int_ne(PQstatus(anon), CONNECTION_OK);
    PQfinish(anon);
    free(nopw);
    free(badpw);
    ck_assert_int_ge(processes_in(dir), 1);

    ck_assert(pgcluster_stop(pc));
    ck_assert(!pid_alive(pid));
    ck_assert(!dir_exists(dir));
    ck_assert_int_eq(processes_in(dir), 0);
    free(dir);
}
END_TEST

START_TEST(two_clusters_side_by_side)
{
    char err[512] = "";
    pgcluster_t *a = pgcluster_start(err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    pgcluster_t *b = pgcluster_start(err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    ck_assert_str_ne(pgcluster_url(a), pgcluster_url(b));
    PGconn *pa = testenv_pg_connect(pgcluster_url(a));
    PGconn *pb = testenv_pg_connect(pgcluster_url(b));
    PGresult *r = PQexec(pa, "CREATE TABLE only_in_a (x int)");
    PQclear(r);
    ck_assert_int_eq(testenv_sql_int(pb, "SELECT count(*) FROM pg_class WHERE relname = "
                                         "'only_in_a'"),
                     0);
    PQfinish(pa);
    PQfinish(pb);
    ck_assert(pgcluster_stop(a));
    ck_assert(pgcluster_stop(b));
    ck_assert(pgcluster_stop(NULL));
}
END_TEST

/* A process killed without stopping its cluster: the postmaster follows it
 * (PR_SET_PDEATHSIG); only the directory stays, as documented. */
START_TEST(killed_owner_takes_postgres_down)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        close(fds[0]);
        char err[512];
        pgcluster_t *pc = pgcluster_start(err, sizeof err);
        char line[4200];
        int n =
            pc ? snprintf(line, sizeof line, "%d %s\n", (int)pgcluster_pid(pc), pgcluster_dir(pc))
               : snprintf(line, sizeof line, "0 %s\n", err);
        if (write(fds[1], line, (size_t)n) != n)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char line[4200] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof line - 1 && (r = read(fds[0], line + got, sizeof line - 1 - got)) > 0) {
        got += (size_t)r;
        if (memchr(line, '\n', got))
            break;
    }
    close(fds[0]);
    line[got] = '\0';
    line[strcspn(line, "\n")] = '\0';
    int pid = atoi(line);
    const char *dir = strchr(line, ' ');
    ck_assert_msg(pid > 0 && dir, "child could not start a cluster: %s", line);
    dir++;
    ck_assert(pid_alive(pid));

    kill(owner, SIGKILL);
    int status;
    waitpid(owner, &status, 0);
    for (int i = 0; i < 1000 && (pid_alive(pid) || processes_in(dir) > 0); i++)
        usleep(10 * 1000);
    ck_assert(!pid_alive(pid));
    ck_assert_int_eq(processes_in(dir), 0);
    /* The documented leftover: remove it ourselves. */
    ck_assert(dir_exists(dir));
    char *cmd = xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

TEST_SUITE(pgcluster)
{
    Suite *s = suite_create("pgcluster");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, start_serve_stop_leaves_nothing);
    tcase_add_test(tc, two_clusters_side_by_side);
    tcase_add_test(tc, killed_owner_takes_postgres_down);
    suite_add_tcase(s, tc);
    return s;
}
