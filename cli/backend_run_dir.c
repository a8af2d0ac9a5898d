/*
 * cli/backend_run_dir.c - `parsec backend run`: the binaries, the user the
 * web server and workers run as, and the private run directory (see
 * backend_run.h)
 */
#include "backend_run.h"

#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Files and users                                                           */

static char *self_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return xstrdup(".");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(buf[0] ? buf : "/");
}

/* find_in_path - name looked up in $PATH, then /usr/sbin and /sbin (not in
 * a plain user's PATH on Debian, and where lighttpd lives).  malloc'd or NULL. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy = xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *found = NULL, *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        if (!*dir)
            continue;
        char *cand = xasprintf("%s/%s", dir, name);
        if (access(cand, X_OK) == 0)
            found = cand;
        else
            free(cand);
    }
    free(copy);
    return found;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void run_rundir_remove(run_t *r)
{
    if (!r->have_rundir)
        return;
    nftw(r->rundir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    r->have_rundir = false;
}

/*
 * run_pick_user - when root, the user lighttpd and the workers run as:
 * www-data (Debian's web user), else nobody.  Workers never run as root.
 */
bool run_pick_user(run_t *r, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return true;
    static const char *const users[] = {"www-data", "nobody"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
        struct passwd *pw = getpwnam(users[i]);
        if (!pw)
            continue;
        struct group *gr = getgrgid(pw->pw_gid);
        if (!gr || strlen(gr->gr_name) >= sizeof r->run_group)
            continue;
        r->run_user = users[i];
        r->run_uid = pw->pw_uid;
        r->run_gid = pw->pw_gid;
        snprintf(r->run_group, sizeof r->run_group, "%s", gr->gr_name);
        return true;
    }
    snprintf(err, errlen,
             "running as root, but neither www-data nor nobody exists to run the "
             "web server and workers as");
    return false;
}

/* user_can_write - can the run user create files in dir?  Checked for real,
 * in a child that becomes that user: every directory above must let it in. */
static bool user_can_write(const run_t *r, const char *dir)
{
    if (!r->run_user)
        return true;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(r->run_gid) < 0 || setuid(r->run_uid) < 0)
            _exit(1);
        _exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool make_subdir(run_t *r, const char *name, mode_t mode, bool for_user, char *err,
                        size_t errlen)
{
    char *p = xasprintf("%s/%s", r->rundir, name);
    bool ok = mkdir(p, mode) == 0 && chmod(p, mode) == 0;
    if (ok && for_user && r->run_user)
        ok = chown(p, r->run_uid, r->run_gid) == 0;
    if (!ok)
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return ok;
}

/*
 * run_rundir_create - the private directory of this run: the configuration
 * (root only), sock/, upload/ and tmp/ (the run user's), www/ (an empty
 * document root).  Under $TMPDIR, or /tmp when the run user cannot reach $TMPDIR.
 */
bool run_rundir_create(run_t *r, char *err, size_t errlen)
{
    const char *bases[2] = {getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 2; i++) {
        const char *base = bases[i];
        if (!base || !*base || (i == 1 && bases[0] && !strcmp(bases[0], "/tmp")))
            continue;
        int n = snprintf(r->rundir, sizeof r->rundir, "%s/parsec-run.XXXXXX", base);
        if (n < 0 || (size_t)n >= sizeof r->rundir)
            continue;
        if (!mkdtemp(r->rundir)) {
            snprintf(err, errlen, "cannot create a directory in %s: %s", base, strerror(errno));
            continue;
        }
        r->have_rundir = true;
        /* Others may traverse to sock/ and upload/, not list. */
        if (chmod(r->rundir, r->run_user ? 0711 : 0700) < 0 ||
            !make_subdir(r, "sock", 0700, true, err, errlen) ||
            !make_subdir(r, "upload", 0700, true, err, errlen) ||
            !make_subdir(r, "tmp", 0700, true, err, errlen) ||
            /* the workers' shared counters (PARSEC_METRICS_DIR) */
            !make_subdir(r, "metrics", 0700, true, err, errlen) ||
            !make_subdir(r, "www", 0755, false, err, errlen)) {
            run_rundir_remove(r);
            return false;
        }
        char *sock = xasprintf("%s/sock", r->rundir);
        bool reachable = user_can_write(r, sock);
        free(sock);
        if (reachable)
            return true;
        snprintf(err, errlen, "%s cannot reach a directory under %s", r->run_user, base);
        run_rundir_remove(r);
    }
    return false;
}

/* run_locate - the binaries; false after run_fail(). */
bool run_locate(run_t *r)
{
    char *dir = self_dir();
    const char *v;

    v = getenv("PARSEC_FCGI_BIN");
    r->fcgi_bin = v && *v ? xstrdup(v) : xasprintf("%s/parsec-fcgi", dir);
    v = getenv("PARSEC_NOTIFYD_BIN");
    r->notifyd_bin = v && *v ? xstrdup(v) : xasprintf("%s/parsec-notifyd", dir);
    v = getenv("PARSEC_LIGHTTPD_BIN");
    r->lighttpd_bin = v && *v ? xstrdup(v) : find_in_path("lighttpd");
    free(dir);

    if (!r->lighttpd_bin) {
        run_fail(r, "lighttpd not found (in PATH, /usr/sbin or /sbin): install it (Debian: apt-get "
                    "install lighttpd) or set PARSEC_LIGHTTPD_BIN");
        return false;
    }
    if (access(r->lighttpd_bin, X_OK) < 0) {
        run_fail(r, "lighttpd not usable at %s: %s", r->lighttpd_bin, strerror(errno));
        return false;
    }
    if (access(r->fcgi_bin, X_OK) < 0) {
        run_fail(r, "the FastCGI worker is not usable at %s: %s (set PARSEC_FCGI_BIN)", r->fcgi_bin,
                 strerror(errno));
        return false;
    }
    if (r->fcgi_bin[0] != '/' || r->notifyd_bin[0] != '/') {
        run_fail(r, "PARSEC_FCGI_BIN and PARSEC_NOTIFYD_BIN must be absolute paths");
        return false;
    }
    /* notifyd is optional: without it everything but /ws works. */
    r->notifyd_wanted = access(r->notifyd_bin, X_OK) == 0;
    if (!r->notifyd_wanted)
        log_warning("parsec-notifyd not found at %s: /ws (remote-change events) is not served",
                    r->notifyd_bin);
    return true;
}
