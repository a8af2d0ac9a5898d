/*
 * tests/lib/testsh.h - run a shell command from a test and read what it said
 *
 *     int st;
 *     char *out = testsh_run("groff -man -ww -z page.8", &st);
 *     ck_assert_msg(st == 0 && !*out, "%s", out);
 *     free(out);
 *
 * The command runs under sh -c as `{ cmd; } 2>&1`: its standard output and
 * standard error come back together, in order, while redirections inside
 * cmd (`>/dev/null`) still apply to it alone.  For the tools a test drives
 * (groff, dpkg, awk); a test's own processes are better started directly.
 */
#ifndef PARSEC_TESTSH_H
#define PARSEC_TESTSH_H

/* testsh_run - run cmd, return its output (malloc'd, "" when none; the
 * caller frees) and set *status to its exit status (-1: killed by a
 * signal).  Aborts the test when the shell cannot be started. */
char *testsh_run(const char *cmd, int *status);

/* testsh_runf - testsh_run of a printf-formatted command. */
char *testsh_runf(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
