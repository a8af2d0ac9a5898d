/*
 * tests/integration/test_deb.c - the Debian package on this machine:
 * install it, check what it put where, run an operator's first steps
 * against it (tests/harness/deb-walkthrough: the installed units as they
 * are) and docs/deployment.md's blocks with its binaries and templates
 * (tests/harness/deploy-walkthrough), purge it, check nothing is left
 * (debian/README.md)
 *
 * The package is $PARSEC_TEST_BUILD/deb/parsec-server_<version>_*.deb, as
 * `make check` builds it (`make deb O=<build>`); when absent this suite
 * builds it there itself (a few minutes).
 *
 * It changes the machine: dpkg -i, a system user, /etc/parsec.  So that
 * other tests and other copies of this one are not disturbed: nothing is
 * started by the installation (checked), the services of the walkthrough
 * listen on free loopback ports and private sockets, copies of this suite
 * take turns on a lock file, a package left by an interrupted run is
 * purged first, and a watchdog process purges it if this test dies before
 * it could.  The installed /usr/bin binaries are used by nothing else: the
 * other suites run those of their build directory.
 */
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PKG      "parsec-server"
#define USER     "_parsec"
#define LOCKFILE "/run/lock/parsec-server-deb-test.lock"
/* dpkg's lock held by someone else's apt-get: retry this long. */
#define DPKG_LOCK_WAIT_S 600

static const char *const bins[] = {"/usr/bin/parsec", "/usr/bin/parsec-fcgi",
                                   "/usr/bin/parsec-notifyd"};
static const char *const mans[] = {"/usr/share/man/man1/parsec.1.gz",
                                   "/usr/share/man/man8/parsec-fcgi.8.gz",
                                   "/usr/share/man/man8/parsec-notifyd.8.gz"};

static char *find_deb(void)
{
    char *pattern = testenv_build_path("deb/" PKG "_" PARSEC_VERSION "_*.deb");
    glob_t g;
    char *deb = NULL;
    if (glob(pattern, 0, NULL, &g) == 0) {
        if (g.gl_pathc == 1)
            deb = xstrdup(g.gl_pathv[0]);
        globfree(&g);
    }
    free(pattern);
    return deb;
}

/* The package of the build under test, built now when missing. */
static char *the_deb(void)
{
    char *deb = find_deb();
    if (deb)
        return deb;
    char *out_dir = testenv_build_path(".");
    int st;
    char *out = testsh_runf(&st, "make -s deb O='%s' 2>&1 | tail -n 40", out_dir);
    free(out_dir);
    deb = find_deb();
    ck_assert_msg(deb, "make deb made no package:\n%s", out);
    free(out);
    return deb;
}

/* dpkg ARGS, waiting while another process holds dpkg's lock. */
static char *dpkg(int *status, const char *args)
{
    for (int i = 0;; i++) {
        char *out = testsh_runf(status, "DEBIAN_FRONTEND=noninteractive dpkg %s", args);
        if (*status == 0 || !strstr(out, "lock") || i >= DPKG_LOCK_WAIT_S / 2)
            return out;
        free(out);
        sleep(2);
    }
}

static bool installed(void)
{
    int st;
    char *out = testsh_run("dpkg-query -W -f='${Status}' " PKG " 2>/dev/null", &st);
    bool yes = st == 0 && strstr(out, "installed") && !strstr(out, "not-installed");
    free(out);
    return yes;
}

static void purge_or_fail(void)
{
    int st;
    char *out = dpkg(&st, "--purge " PKG);
    ck_assert_msg(st == 0, "dpkg --purge: %s", out);
    free(out);
}

/*
 * A watchdog: if this test process dies before it purged the package, the
 * watchdog does it.  It waits on a pipe; the test writes 'd' once done.
 * Once orphaned it becomes a shell in its own session, without the run's
 * marker, so the harness's sweep of leftover processes does not cut dpkg
 * short.
 */
static int watchdog_start(void)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0) {
        close(p[0]);
        return p[1];
    }
    close(p[1]);
    setsid();
    char c = 0;
    while (read(p[0], &c, 1) < 0 && errno == EINTR)
        ;
    if (c == 'd')
        _exit(0);
    char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive",
                         NULL};
    execle("/bin/sh", "sh", "-c",
           "for i in $(seq 300); do dpkg --purge " PKG " >/dev/null 2>&1 && exit 0; sleep 2; done",
           (char *)NULL, env);
    _exit(1);
}

static void watchdog_done(int fd)
{
    ssize_t w = write(fd, "d", 1);
    (void)w;
    close(fd);
}

/* Processes running an installed binary (also one deleted since). */
static char *processes_of_package(void)
{
    strbuf_t b = STRBUF_INIT;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char link[300], exe[512];
        snprintf(link, sizeof link, "/proc/%s/exe", e->d_name);
        ssize_t n = readlink(link, exe, sizeof exe - 1);
        if (n <= 0)
            continue;
        exe[n] = '\0';
        for (size_t i = 0; i < sizeof bins / sizeof *bins; i++) {
            size_t l = strlen(bins[i]);
            if (!strncmp(exe, bins[i], l) && (exe[l] == '\0' || exe[l] == ' '))
                strbuf_printf(&b, "pid %s: %s\n", e->d_name, exe);
        }
    }
    closedir(d);
    return b.s ? strbuf_detach(&b) : xstrdup("");
}

static void check_mode(const char *path, mode_t mode, const char *owner, const char *group)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    ck_assert_msg((st.st_mode & 07777) == mode, "%s: mode %o, not %o", path,
                  (unsigned)(st.st_mode & 07777), (unsigned)mode);
    struct passwd *pw = getpwuid(st.st_uid);
    struct group *gr = getgrgid(st.st_gid);
    ck_assert_msg(pw && !strcmp(pw->pw_name, owner), "%s: owner %s, not %s", path,
                  pw ? pw->pw_name : "?", owner);
    ck_assert_msg(gr && !strcmp(gr->gr_name, group), "%s: group %s, not %s", path,
                  gr ? gr->gr_name : "?", group);
}

/* The account's expiry day (shadow field 8): "" usable, "1" locked by purge. */
static char *account_expiry(void)
{
    int st;
    char *out = testsh_run("getent shadow " USER " | cut -d: -f8", &st);
    ck_assert_int_eq(st, 0);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static char *slurp(const char *path)
{
    strbuf_t b = STRBUF_INIT;
    ck_assert_msg(strbuf_read_file(&b, path), "%s: %s", path, strerror(errno));
    return strbuf_detach(&b);
}

/* has_placeholder - an @NAME@ of the templates (etc/README.md) in text. */
static bool has_placeholder(const char *text)
{
    for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
        size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
        if (n > 0 && p[1 + n] == '@')
            return true;
    }
    return false;
}

/* What the package installed, and how. */
static void check_installed(void)
{
    for (size_t i = 0; i < sizeof bins / sizeof *bins; i++) {
        check_mode(bins[i], 0755, "root", "root");
        int st;
        char *out = testsh_runf(&st, "%s --version", bins[i]);
        /* --version names the program it is run as */
        char *want = xasprintf("%s " PARSEC_VERSION "\n", strrchr(bins[i], '/') + 1);
        ck_assert_msg(st == 0 && !strcmp(out, want), "%s --version: %s", bins[i], out);
        free(want);
        free(out);
        out = testsh_runf(&st, "%s --help", bins[i]);
        ck_assert_msg(st == 0 && strstr(out, "usage: parsec"), "%s --help: %s", bins[i], out);
        free(out);
    }
    for (size_t i = 0; i < sizeof mans / sizeof *mans; i++)
        check_mode(mans[i], 0644, "root", "root");
    int st;
    char *out = testsh_run("MANWIDTH=80 man 8 parsec-notifyd", &st);
    ck_assert_msg(st == 0 && strstr(out, "parsec-notifyd - websocket event daemon"), "%s", out);
    free(out);

    /* one unit per template, rendered, none enabled */
    glob_t g;
    ck_assert_int_eq(glob("etc/systemd/*.service", 0, NULL, &g), 0);
    ck_assert_uint_ge(g.gl_pathc, 3);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *unit = xasprintf("/lib/systemd/system/%s", strrchr(g.gl_pathv[i], '/') + 1);
        check_mode(unit, 0644, "root", "root");
        char *text = slurp(unit);
        ck_assert_msg(strstr(text, "\nUser=" USER "\n"), "%s runs as someone else", unit);
        ck_assert_msg(strstr(text, "\nExecStart=/usr/bin/") || strstr(text, "-- /usr/bin/parsec"),
                      "%s does not start an installed binary", unit);
        ck_assert_msg(strstr(text, "\nDocumentation=man:parsec"), "%s: no Documentation=", unit);
        ck_assert_msg(!has_placeholder(text), "%s keeps a placeholder", unit);
        free(text);
        free(unit);
    }
    globfree(&g);
    out = testsh_run("ls /etc/systemd/system/*.wants/ 2>/dev/null | grep parsec", &st);
    ck_assert_msg(st != 0, "a unit is enabled: %s", out);
    free(out);

    check_mode("/etc/logrotate.d/" PKG, 0644, "root", "root");
    out = testsh_run("logrotate -d /etc/logrotate.d/" PKG, &st);
    ck_assert_msg(st == 0 && !strstr(out, "error"), "logrotate -d: %s", out);
    free(out);
    check_mode("/usr/share/doc/" PKG "/copyright", 0644, "root", "root");
    check_mode("/usr/share/doc/" PKG "/examples/systemd", 0755, "root", "root");
    check_mode("/usr/share/doc/" PKG "/examples/parsec.env.example", 0644, "root", "root");

    struct passwd *pw = getpwnam(USER);
    ck_assert_msg(pw, "no user " USER);
    ck_assert_uint_lt(pw->pw_uid, 1000);
    ck_assert_str_eq(pw->pw_shell, "/usr/sbin/nologin");
    ck_assert_str_eq(pw->pw_dir, "/nonexistent");
    char *exp = account_expiry();
    ck_assert_msg(!*exp, "the account is expired (%s)", exp);
    free(exp);
    check_mode("/etc/parsec", 0750, "root", USER);
    check_mode("/var/log/parsec", 02750, USER, "adm");
}

/* An operator's steps (tests/harness/deb-walkthrough, or the script
 * PARSEC_DEB_WALKTHROUGH names). */
static void walkthrough(void)
{
    char *db = testenv_db_create_empty();
    const char *tmp = getenv("PARSEC_TEST_TMP");
    char *work = xasprintf("%s/deb-walk.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(work));
    chmod(work, 0711);
    const char *script = getenv("PARSEC_DEB_WALKTHROUGH");
    if (!script || !*script)
        script = "tests/harness/deb-walkthrough";
    int st;
    char *out = testsh_runf(&st, "DB='%s' WORK='%s/w' PORTS='%d %d %d' '%s'", db, work,
                            testenv_free_port(), testenv_free_port(), testenv_free_port(), script);
    ck_assert_msg(st == 0 && strstr(out, "all steps passed"), "%s (status %d):\n%s", script, st,
                  out);
    free(out);
    testenv_rm_rf(work);
    free(work);
    testenv_db_drop(db);
    free(db);
}

/* Nothing of the package is left: its files, its directories (those other
 * packages own stay), /etc/parsec, the logs, the units' state; the account
 * stays, locked. */
static void check_purged(const char *listing)
{
    ck_assert_msg(!installed(), "still installed after --purge");
    char *list = xstrdup(listing), *save = NULL;
    for (char *p = strtok_r(list, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        struct stat st;
        if (!strcmp(p, "/.") || lstat(p, &st) != 0)
            continue;
        /* /lib is a symbolic link to usr/lib (merged /usr) */
        struct stat target;
        bool dir = S_ISDIR(st.st_mode) ||
                   (S_ISLNK(st.st_mode) && stat(p, &target) == 0 && S_ISDIR(target.st_mode));
        ck_assert_msg(dir, "%s is left", p);
        char *real = realpath(p, NULL);
        ck_assert_ptr_nonnull(real);
        int rc;
        char *out = testsh_runf(&rc, "dpkg -S '%s' >/dev/null 2>&1 || dpkg -S '%s' >/dev/null 2>&1",
                                p, real);
        ck_assert_msg(rc == 0, "directory %s is left, and no package owns it", p);
        free(out);
        free(real);
    }
    free(list);
    static const char *const gone[] = {"/etc/parsec", "/var/log/parsec", "/etc/logrotate.d/" PKG};
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
        struct stat st;
        ck_assert_msg(lstat(gone[i], &st) != 0, "%s is left", gone[i]);
    }
    int rc;
    /* deb-systemd-helper's state, enablement links (regular files under
     * /etc/systemd/system are the administrator's, not the package's) */
    char *out = testsh_run("find /var/lib/systemd -name '*parsec*' 2>/dev/null; "
                           "find /etc/systemd -type l -name '*parsec*' 2>/dev/null",
                           &rc);
    ck_assert_msg(!*out, "systemd state is left:\n%s", out);
    free(out);
    char *exp = account_expiry();
    ck_assert_msg(!strcmp(exp, "1"), "the account is not locked (expiry \"%s\")", exp);
    free(exp);
}

START_TEST(install_walkthrough_purge)
{
    ck_assert_msg(geteuid() == 0, "the deb suite installs a package: it needs root");
    char *deb = the_deb();
    int lock = open(LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ck_assert_int_ge(lock, 0);
    ck_assert_int_eq(flock(lock, LOCK_EX), 0); /* another copy of this suite */
    if (installed())
        purge_or_fail(); /* left by an interrupted run */
    int dog = watchdog_start();

    int st;
    char *args = xasprintf("-i '%s'", deb);
    char *out = dpkg(&st, args);
    ck_assert_msg(st == 0, "dpkg -i: %s", out);
    free(out);
    free(args);
    char *listing = testsh_run("dpkg -L " PKG, &st);
    ck_assert_int_eq(st, 0);

    char *running = processes_of_package();
    ck_assert_msg(!*running, "the installation started something:\n%s", running);
    free(running);
    check_installed();
    walkthrough();
    /* docs/deployment.md, its Debian package variant: PREFIX=/usr and the
     * templates among the examples */
    out = testsh_run(
        "tests/harness/deploy-walkthrough /usr/bin /usr/share/doc/" PKG "/examples 2>&1", &st);
    ck_assert_msg(st == 0, "deploy-walkthrough against the package (status %d):\n%s", st, out);
    free(out);
    running = processes_of_package();
    ck_assert_msg(!*running, "the walkthrough left:\n%s", running);
    free(running);

    purge_or_fail();
    check_purged(listing);
    watchdog_done(dog);
    close(lock);
    free(listing);
    free(deb);
}
END_TEST

TEST_SUITE(deb)
{
    Suite *s = suite_create("deb");
    TCase *tc = tcase_create("core");
    /* building the package when make check did not: a few minutes */
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, install_walkthrough_purge);
    suite_add_tcase(s, tc);
    return s;
}
