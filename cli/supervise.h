/*
 * cli/supervise.h - child processes of `parsec backend run`
 *
 * The supervisor starts lighttpd (which spawns the FastCGI workers) and
 * parsec-notifyd, watches them, relays what they write on stdout/stderr into
 * its own log, and stops them.  Each child is the leader of its own process
 * group, so that:
 *   - a Ctrl-C on the terminal reaches the supervisor only, which then stops
 *     the parts in order instead of all of them dying at once;
 *   - stopping a child also reaches what it spawned (lighttpd's workers run
 *     in lighttpd's group), and nothing is left behind.
 *
 * sup_init() makes the calling process a child subreaper, so workers whose
 * parent (lighttpd) has exited are re-parented to the supervisor, which
 * reaps them; otherwise they would be reaped by an init that may not reap.
 *
 * Not thread-safe: one supervisor thread drives every child.
 */
#ifndef PARSEC_SUPERVISE_H
#define PARSEC_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    const char *name; /* for messages ("lighttpd"); not owned, must outlive the child */
    pid_t pid;        /* > 0 once spawned; also its process group id */
    bool running;     /* spawned and not yet reaped */
    int status;       /* waitpid() status once reaped */
    int out_fd;       /* read end of the child's stdout+stderr pipe; -1 when closed */
} sup_child_t;

/* sup_now_ms - a monotonic clock, in milliseconds: for deadlines. */
long long sup_now_ms(void);
/* sup_sleep_ms - sleep ms milliseconds; a signal does not cut it short. */
void sup_sleep_ms(int ms);

/* sup_init - become a child subreaper (see above); false and a line in err on failure. */
bool sup_init(char *err, size_t errlen) __attribute__((warn_unused_result));

/* Who a child runs as (root dropping privileges). */
typedef struct {
    uid_t uid;
    gid_t gid; /* the only group: supplementary groups are cleared */
} sup_cred_t;

/*
 * sup_spawn - start path with argv and envp (NULL-terminated) as a process
 * group leader, stdin on /dev/null, stdout and stderr on a pipe whose read
 * end is left in ch->out_fd (non-blocking, close-on-exec).  The child gets
 * the default disposition and an empty mask for every signal, and SIGTERM
 * if the supervisor dies (set after any change of user, which would clear
 * it).  cred: the user to run as, NULL for ours.  Returns false with one
 * line in err when the program cannot be executed or the user cannot be
 * taken (the error is reported, not a child exit).
 */
bool sup_spawn(sup_child_t *ch, const char *name, const char *path, char *const argv[],
               char *const envp[], const sup_cred_t *cred, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * sup_reap - reap ch if it has exited (non-blocking).  Returns true when the
 * child was reaped by this call; ch->running is then false and ch->status
 * set.  Also reaps any orphan of ch's process group that was re-parented to
 * the supervisor.
 */
bool sup_reap(sup_child_t *ch);

/*
 * sup_stop - stop ch and every process of its group: sig to the leader,
 * then, after timeout_ms, SIGTERM to the group; after another short delay,
 * SIGKILL to the group.  Returns when the leader is reaped and the group is
 * empty (or after SIGKILL had no effect for a while: never hangs).  Closes
 * nothing: the caller drains and closes out_fd.  No-op when never spawned.
 */
void sup_stop(sup_child_t *ch, int sig, int timeout_ms);

/* sup_close_output - close ch->out_fd if open. */
void sup_close_output(sup_child_t *ch);

/*
 * sup_describe_status - "exited with status 3", "was killed by signal 9"
 * (SIGKILL)..., written into buf.  Returns buf.
 */
const char *sup_describe_status(int status, char *buf, size_t len);

/* sup_reap_orphans - reap every exited child not otherwise waited for
 * (workers re-parented to the subreaper).  Call before exiting. */
void sup_reap_orphans(void);

#endif
