/*
 * common/pgcluster.c - a throwaway PostgreSQL cluster in a temporary directory
 *
 * initdb and the postmaster are run directly (fork + exec, not pg_ctl), so
 * the postmaster stays our child: we know its pid, reap it ourselves, and the
 * kernel signals it if we die (PR_SET_PDEATHSIG).
 */
#include "pgcluster.h"

#include "db.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PGCLUSTER_USER     "postgres"
#define PGCLUSTER_PORT     "5432" /* the socket's name only: the directory is private */
#define PGCLUSTER_READY_MS 60000
#define PGCLUSTER_STOP_MS  10000

struct pgcluster {
    char *dir;
    char *url;
    pid_t pid;
};

/* What a child needs, all prepared before fork() (only async-signal-safe
 * calls happen in the child). */
typedef struct {
    const char *path;
    char **argv;
    int log_fd;
    const char *cwd;
    bool drop; /* switch to uid/gid */
    uid_t uid;
    gid_t gid;
    bool daemon; /* own session, signalled if we die */
    pid_t parent;
} spawn_t;

static char *child_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC", NULL};

static pid_t spawn(const spawn_t *s)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* Child. */
    if (s->daemon) {
        (void)setsid();
        if (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != s->parent)
            _exit(126); /* our parent is already gone */
    }
    if (s->drop) {
        if (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0)
            _exit(126);
        /* Changing credentials cleared the death signal: set it again. */
        if (s->daemon && (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != s->parent))
            _exit(126);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(s->log_fd, 1) < 0 || dup2(s->log_fd, 2) < 0)
        _exit(126);
    /* Do not carry the caller's descriptors (listening sockets...) into a
     * long-lived postmaster. */
    (void)close_range(3, ~0U, 0);
    if (chdir(s->cwd) != 0)
        _exit(126);
    execve(s->path, s->argv, child_env);
    _exit(127);
}

/* Wait for pid up to ms; true with *status when it ended. */
static bool wait_for(pid_t pid, int ms, int *status)
{
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno == ECHILD) {
            /* Reaped by someone else: gone if no such process remains. */
            if (kill(pid, 0) != 0) {
                *status = 0;
                return true;
            }
        } else if (r < 0 && errno != EINTR) {
            return false;
        }
        if (waited >= ms)
            return false;
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
}

/* The last non-empty line of a log file, for error messages. */
static void last_log_line(const char *path, char *out, size_t n)
{
    snprintf(out, n, "(no log)");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, n, "%s", line);
    }
    fclose(f);
}

static int version_of(const char *name)
{
    char *end;
    long v = strtol(name, &end, 10);
    return (*end == '\0' && v > 0 && v < 10000) ? (int)v : 0;
}

/* The bin directory of the newest PostgreSQL that has initdb and postgres. */
static char *find_bindir(void)
{
    const char *env = getenv("PARSEC_PG_BINDIR");
    if (env && *env)
        return xstrdup(env);
    DIR *d = opendir("/usr/lib/postgresql");
    if (!d)
        return NULL;
    int best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v = version_of(e->d_name);
        if (v <= best)
            continue;
        char *initdb = xasprintf("/usr/lib/postgresql/%s/bin/initdb", e->d_name);
        char *postgres = xasprintf("/usr/lib/postgresql/%s/bin/postgres", e->d_name);
        if (access(initdb, X_OK) == 0 && access(postgres, X_OK) == 0)
            best = v;
        free(initdb);
        free(postgres);
    }
    closedir(d);
    return best ? xasprintf("/usr/lib/postgresql/%d/bin", best) : NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove(path) != 0 && errno != ENOENT)
        log_warning("pgcluster: cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static bool remove_tree(const char *dir)
{
    (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    return lstat(dir, &st) != 0 && errno == ENOENT;
}

/* Open a log file in dir for a child, owned by the cluster's user. */
static int open_log(const char *path, const spawn_t *who)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0 && who->drop && fchown(fd, who->uid, who->gid) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

pgcluster_t *pgcluster_start(char *err, size_t errlen)
{
    pgcluster_t *p = xcalloc(1, sizeof *p);
    char *bindir = NULL, *initdb = NULL, *postgres = NULL, *data = NULL, *pwfile = NULL;
    char *initdb_log = NULL, *pg_log = NULL, *pwopt = NULL, *sockopt = NULL, *encdir = NULL;
    int log_fd = -1;
    bool ok = false;
    spawn_t sp = {.parent = getpid()};
    char password[33] = "";

    bindir = find_bindir();
    if (!bindir) {
        snprintf(err, errlen,
                 "cannot start a MOCKED database: no PostgreSQL server binaries in "
                 "/usr/lib/postgresql/*/bin (install the postgresql package, or set "
                 "PARSEC_PG_BINDIR)");
        goto cleanup;
    }
    initdb = xasprintf("%s/initdb", bindir);
    postgres = xasprintf("%s/postgres", bindir);

    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(PGCLUSTER_USER);
        if (!pw) {
            snprintf(err, errlen,
                     "cannot start a MOCKED database: PostgreSQL refuses to run as root and "
                     "there is no \"%s\" user to run it as",
                     PGCLUSTER_USER);
            goto cleanup;
        }
        sp.drop = true;
        sp.uid = pw->pw_uid;
        sp.gid = pw->pw_gid;
    }

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    p->dir = xasprintf("%s/parsec-pg-XXXXXX", tmp);
    /* The socket path must fit in sun_path (108 bytes). */
    if (strlen(p->dir) + strlen("/.s.PGSQL." PGCLUSTER_PORT) >= 100) {
        snprintf(err, errlen, "cannot start a MOCKED database: TMPDIR %s is too long for a socket",
                 tmp);
        free(p->dir);
        p->dir = NULL;
        goto cleanup;
    }
    if (!mkdtemp(p->dir)) {
        snprintf(err, errlen, "cannot start a MOCKED database: cannot create a directory in %s: %s",
                 tmp, strerror(errno));
        free(p->dir);
        p->dir = NULL;
        goto cleanup;
    }
    if (chmod(p->dir, 0711) != 0 || (sp.drop && chown(p->dir, sp.uid, sp.gid) != 0)) {
        snprintf(err, errlen, "cannot start a MOCKED database: cannot prepare %s: %s", p->dir,
                 strerror(errno));
        goto cleanup;
    }
    sp.cwd = p->dir;

    /* The superuser's password: it reaches initdb through a file only its
     * user can read, removed right after. */
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "cannot start a MOCKED database: no random bytes for a password");
        goto cleanup;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(password + 2 * i, 3, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof raw);
    pwfile = xasprintf("%s/pwfile", p->dir);
    int pwfd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (pwfd < 0 || (sp.drop && fchown(pwfd, sp.uid, sp.gid) != 0) ||
        write(pwfd, password, strlen(password)) != (ssize_t)strlen(password) ||
        write(pwfd, "\n", 1) != 1) {
        snprintf(err, errlen, "cannot start a MOCKED database: cannot write %s: %s", pwfile,
                 strerror(errno));
        if (pwfd >= 0)
            close(pwfd);
        goto cleanup;
    }
    close(pwfd);

    data = xasprintf("%s/data", p->dir);
    initdb_log = xasprintf("%s/initdb.log", p->dir);
    pg_log = xasprintf("%s/postgresql.log", p->dir);
    pwopt = xasprintf("--pwfile=%s", pwfile);

    log_fd = open_log(initdb_log, &sp);
    if (log_fd < 0) {
        snprintf(err, errlen, "cannot start a MOCKED database: cannot open %s: %s", initdb_log,
                 strerror(errno));
        goto cleanup;
    }
    char *initdb_argv[] = {initdb,
                           "-D",
                           data,
                           "-U",
                           "postgres",
                           "-A",
                           "scram-sha-256",
                           pwopt,
                           "-E",
                           "UTF8",
                           "--locale=C.UTF-8",
                           "--no-sync",
                           "--no-instructions",
                           NULL};
    sp.path = initdb;
    sp.argv = initdb_argv;
    sp.log_fd = log_fd;
    sp.daemon = false;
    pid_t pid = spawn(&sp);
    if (pid < 0) {
        snprintf(err, errlen, "cannot start a MOCKED database: fork: %s", strerror(errno));
        goto cleanup;
    }
    int status = 0;
    if (!wait_for(pid, PGCLUSTER_READY_MS, &status)) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &status, 0);
        snprintf(err, errlen, "cannot start a MOCKED database: initdb did not finish");
        goto cleanup;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[512];
        last_log_line(initdb_log, line, sizeof line);
        snprintf(err, errlen, "cannot start a MOCKED database: initdb failed: %s", line);
        goto cleanup;
    }
    close(log_fd);
    unlink(pwfile);

    log_fd = open_log(pg_log, &sp);
    if (log_fd < 0) {
        snprintf(err, errlen, "cannot start a MOCKED database: cannot open %s: %s", pg_log,
                 strerror(errno));
        goto cleanup;
    }
    sockopt = xasprintf("unix_socket_directories=%s", p->dir);
    char *pg_argv[] = {postgres,
                       "-D",
                       data,
                       "-c",
                       "listen_addresses=",
                       "-c",
                       sockopt,
                       "-c",
                       "port=" PGCLUSTER_PORT,
                       "-c",
                       "fsync=off",
                       "-c",
                       "synchronous_commit=off",
                       "-c",
                       "full_page_writes=off",
                       "-c",
                       "logging_collector=off",
                       NULL};
    sp.path = postgres;
    sp.argv = pg_argv;
    sp.log_fd = log_fd;
    sp.daemon = true;
    p->pid = spawn(&sp);
    if (p->pid < 0) {
        p->pid = 0;
        snprintf(err, errlen, "cannot start a MOCKED database: fork: %s", strerror(errno));
        goto cleanup;
    }

    encdir = db_url_escape(p->dir);
    p->url = xasprintf("postgresql://postgres:%s@/postgres?host=%s&port=" PGCLUSTER_PORT, password,
                       encdir);
    for (int waited = 0;; waited += 10) {
        if (PQping(p->url) == PQPING_OK)
            break;
        bool exited = waitpid(p->pid, &status, WNOHANG) == p->pid;
        if (exited || waited >= PGCLUSTER_READY_MS) {
            if (exited)
                p->pid = 0;
            char line[512];
            last_log_line(pg_log, line, sizeof line);
            snprintf(err, errlen, "cannot start a MOCKED database: postgres %s: %s",
                     exited ? "exited" : "did not become ready", line);
            goto cleanup;
        }
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
    ok = true;

cleanup:
    OPENSSL_cleanse(password, sizeof password);
    if (log_fd >= 0)
        close(log_fd);
    free(bindir);
    free(initdb);
    free(postgres);
    free(data);
    free(pwfile);
    free(initdb_log);
    free(pg_log);
    free(pwopt);
    free(sockopt);
    free(encdir);
    if (!ok) {
        (void)pgcluster_stop(p);
        return NULL;
    }
    log_info("MOCKED database: PostgreSQL cluster in %s (pid %d)", p->dir, (int)p->pid);
    return p;
}

const char *pgcluster_url(const pgcluster_t *p)
{
    return p->url;
}

const char *pgcluster_dir(const pgcluster_t *p)
{
    return p->dir;
}

pid_t pgcluster_pid(const pgcluster_t *p)
{
    return p->pid;
}

bool pgcluster_stop(pgcluster_t *p)
{
    if (!p)
        return true;
    bool ok = true;
    if (p->pid > 0) {
        int status;
        static const int sigs[] = {SIGINT, SIGQUIT, SIGKILL};
        bool gone = false;
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0] && !gone; i++) {
            if (kill(p->pid, sigs[i]) != 0 && errno == ESRCH) {
                /* Already dead (and possibly not yet reaped). */
                (void)waitpid(p->pid, &status, WNOHANG);
                gone = true;
                break;
            }
            gone = wait_for(p->pid, PGCLUSTER_STOP_MS, &status);
            if (!gone)
                log_warning("pgcluster: postgres (pid %d) still running after signal %d",
                            (int)p->pid, sigs[i]);
        }
        if (!gone) {
            log_error("pgcluster: cannot stop postgres (pid %d)", (int)p->pid);
            ok = false;
        }
    }
    if (p->dir && !remove_tree(p->dir)) {
        log_error("pgcluster: %s could not be removed entirely", p->dir);
        ok = false;
    }
    if (p->url)
        OPENSSL_cleanse(p->url, strlen(p->url));
    free(p->url);
    free(p->dir);
    free(p);
    return ok;
}
