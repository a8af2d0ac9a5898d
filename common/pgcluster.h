/*
 * common/pgcluster.h - a throwaway PostgreSQL cluster (--db MOCKED, tests)
 *
 * pgcluster_start() makes a private cluster in a fresh temporary directory
 * ($TMPDIR or /tmp, "parsec-pg-XXXXXX") and starts its postmaster as a child
 * of the calling process; pgcluster_stop() shuts it down and removes the
 * directory.  `parsec backend run --db MOCKED` uses it so that MOCKED runs
 * exactly the SQL of a real deployment: one code path for all SQL.
 *
 * The cluster:
 *   - runs as the user "postgres" when the caller is root (PostgreSQL refuses
 *     root), as the caller otherwise; the binaries are those of the newest
 *     /usr/lib/postgresql/<version>/bin, or of $PARSEC_PG_BINDIR when set;
 *   - listens on a unix socket in its directory only (no TCP, so no port to
 *     collide with), reachable by any local user who knows the URL: the
 *     directory is mode 0711 and the superuser "postgres" has a random
 *     password (128 bits from RAND_bytes) that only the URL carries;
 *   - runs with fsync, synchronous_commit and full_page_writes off: its data
 *     is not meant to survive a crash of the machine.
 *
 * Its URL, postgresql://postgres:PASSWORD@/postgres?host=DIR, works with
 * libpq in any process of this machine (pass it to workers and notifyd).
 *
 * Lifetime and its limits:
 *   - pgcluster_stop() must be called (the supervisor does on exit, SIGINT
 *     and SIGTERM); it is the only way the directory is removed;
 *   - if the process dies without calling it (SIGKILL, crash), the
 *     postmaster gets SIGQUIT from the kernel (PR_SET_PDEATHSIG) and shuts
 *     down at once with all its processes, but the directory stays behind in
 *     $TMPDIR.  The kernel sends that signal when the *thread* that called
 *     pgcluster_start() exits, so call it from the main thread or from a
 *     thread that outlives the cluster;
 *   - the postmaster is a child of the caller: a caller that reaps children
 *     with waitpid(-1, ...) should skip pgcluster_pid(); a caller that sets
 *     SIGCHLD to SIG_IGN cannot start a cluster (exit statuses are needed);
 *   - the postmaster runs in its own session, so a terminal's Ctrl-C reaches
 *     the supervisor only, which then stops the cluster after its workers.
 *
 * Not thread-safe: start and stop a given cluster from one thread.
 */
#ifndef PARSEC_PGCLUSTER_H
#define PARSEC_PGCLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pgcluster pgcluster_t;

/*
 * pgcluster_start - initdb and start a private cluster, wait until it
 * accepts connections (well under a second here)
 *
 * NULL with one line in err on failure (no PostgreSQL binaries, no
 * "postgres" user when root, initdb or start failing: PostgreSQL's last log
 * line is quoted); nothing is left behind then.  Free with pgcluster_stop().
 */
pgcluster_t *pgcluster_start(char *err, size_t errlen) __attribute__((warn_unused_result));

/* The libpq URL of the cluster's "postgres" database, owned by p. */
const char *pgcluster_url(const pgcluster_t *p);
/* The temporary directory (data, socket, logs), owned by p. */
const char *pgcluster_dir(const pgcluster_t *p);
/* The postmaster's process id. */
pid_t pgcluster_pid(const pgcluster_t *p);

/*
 * pgcluster_stop - fast shutdown (SIGINT: sessions are ended, nothing is
 * waited for), escalating to SIGQUIT then SIGKILL if it takes more than a
 * few seconds; then remove the directory and free p.  False (after a line
 * in the log) when the directory could not be removed entirely.  NULL is a
 * no-op returning true.
 */
bool pgcluster_stop(pgcluster_t *p);

#endif
