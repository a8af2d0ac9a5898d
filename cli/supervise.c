/*
 * cli/supervise.c - spawn, watch, reap and stop the supervisor's children
 *
 * See supervise.h.  Children are process group leaders; stopping one signals
 * its leader first (lighttpd stops its own workers cleanly on SIGTERM), then
 * sweeps the group for anything left.
 */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long leftovers of a group get between SIGTERM and SIGKILL, and after. */
#define SUP_GROUP_GRACE_MS 3000
#define SUP_POLL_MS        10

long long sup_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sup_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool sup_init(char *err, size_t errlen)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
        snprintf(err, errlen, "cannot become a child subreaper: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Runs in the forked child, before exec: async-signal-safe calls only. */
static void child_exec(const char *path, char *const argv[], char *const envp[],
                       const sup_cred_t *cred, int out_fd, int errpipe, pid_t parent)
{
    int e;

    setpgid(0, 0);
    if (cred && (setgroups(0, NULL) < 0 || setgid(cred->gid) < 0 || setuid(cred->uid) < 0))
        goto fail;
    /* If the supervisor is killed outright, its children must not linger.
     * After setuid(): a change of user clears it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0L, 0L, 0L);
    if (getppid() != parent)
        _exit(127);

    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT internals */
    }
    sigprocmask(SIG_SETMASK, &none, NULL);

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0)
        goto fail;
    execve(path, argv, envp);
fail:
    e = errno;
    if (write(errpipe, &e, sizeof e) < 0) {
        /* nothing more can be said */
    }
    _exit(127);
}

bool sup_spawn(sup_child_t *ch, const char *name, const char *path, char *const argv[],
               char *const envp[], const sup_cred_t *cred, char *err, size_t errlen)
{
    int out[2] = {-1, -1}, ep[2] = {-1, -1};
    bool ok = false;

    memset(ch, 0, sizeof *ch);
    ch->name = name;
    ch->out_fd = -1;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot start %s: pipe: %s", name, strerror(errno));
        goto cleanup;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start %s: fork: %s", name, strerror(errno));
        goto cleanup;
    }
    if (pid == 0)
        child_exec(path, argv, envp, cred, out[1], ep[1], parent);

    /* Also here, so the group exists before anyone signals it. */
    setpgid(pid, pid);
    ch->pid = pid;
    ch->running = true;
    close(out[1]);
    out[1] = -1;
    close(ep[1]);
    ep[1] = -1;

    int child_errno = 0;
    ssize_t n;
    while ((n = read(ep[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
        ;
    if (n > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        ch->running = false;
        ch->status = st;
        snprintf(err, errlen, "cannot execute %s (%s): %s", name, path,
                 strerror(n == (ssize_t)sizeof child_errno ? child_errno : EIO));
        goto cleanup;
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    ch->out_fd = out[0];
    out[0] = -1;
    ok = true;

cleanup:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    return ok;
}

/* Reap every exited process of group pgid that is our child (orphans
 * re-parented to the subreaper included). */
static void reap_group(pid_t pgid)
{
    int st;
    while (waitpid(-pgid, &st, WNOHANG) > 0)
        ;
}

bool sup_reap(sup_child_t *ch)
{
    if (ch->pid <= 0)
        return false;
    bool reaped = false;
    if (ch->running) {
        int st;
        pid_t r = waitpid(ch->pid, &st, WNOHANG);
        if (r == ch->pid) {
            ch->running = false;
            ch->status = st;
            reaped = true;
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it; report it as gone. */
            ch->running = false;
            ch->status = 0;
            reaped = true;
        }
    }
    reap_group(ch->pid);
    return reaped;
}

static bool group_empty(pid_t pgid)
{
    reap_group(pgid);
    return kill(-pgid, 0) < 0 && errno == ESRCH;
}

static bool wait_group_empty(pid_t pgid, int timeout_ms)
{
    long long deadline = sup_now_ms() + timeout_ms;
    while (!group_empty(pgid)) {
        if (sup_now_ms() >= deadline)
            return false;
        sup_sleep_ms(SUP_POLL_MS);
    }
    return true;
}

void sup_stop(sup_child_t *ch, int sig, int timeout_ms)
{
    if (ch->pid <= 0)
        return;
    if (ch->running) {
        kill(ch->pid, sig);
        long long deadline = sup_now_ms() + timeout_ms;
        while (!sup_reap(ch) && ch->running && sup_now_ms() < deadline)
            sup_sleep_ms(SUP_POLL_MS);
        if (ch->running) {
            kill(-ch->pid, SIGKILL);
            kill(ch->pid, SIGKILL);
            int st;
            while (waitpid(ch->pid, &st, 0) < 0 && errno == EINTR)
                ;
            ch->running = false;
            ch->status = st;
        }
    }
    /* The leader is gone; sweep whatever of its group is left. */
    if (group_empty(ch->pid))
        return;
    kill(-ch->pid, SIGTERM);
    if (wait_group_empty(ch->pid, SUP_GROUP_GRACE_MS))
        return;
    kill(-ch->pid, SIGKILL);
    (void)wait_group_empty(ch->pid, SUP_GROUP_GRACE_MS);
}

void sup_close_output(sup_child_t *ch)
{
    if (ch->out_fd >= 0) {
        close(ch->out_fd);
        ch->out_fd = -1;
    }
}

const char *sup_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "stopped (wait status %d)", status);
    return buf;
}

void sup_reap_orphans(void)
{
    int st;
    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}
