/*
 * tests/integration/test_client_lib.h - what the client suites share
 * (test_client.c: the commands end to end; test_client_extra.c: emailed
 * invitations, OUTSIDER users, the progress bar)
 *
 * The built `parsec` binary run as a person or a script runs it: each
 * person a device directory of its own (XDG_DATA_HOME) and a passphrase
 * given through --password-stdin, against a porg server (tests/lib/porg.h).
 *
 * Failures abort the running test with what was expected and what came.
 * Ownership: char * results are malloc'd for the caller; a ct_person_t's
 * directory is removed by ct_person_free.  Everything belongs to the
 * test's main thread.
 */
#ifndef PARSEC_TEST_CLIENT_LIB_H
#define PARSEC_TEST_CLIENT_LIB_H

#include "porg.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One person: a device directory and a passphrase. */
typedef struct {
    char home[64];
    const char *pass;
} ct_person_t;

/* ct_person_init - a fresh device directory under /tmp; pass is borrowed
 * (a literal). */
void ct_person_init(ct_person_t *p, const char *pass);
/* ct_person_free - remove the directory. */
void ct_person_free(ct_person_t *p);
/* The end of a test with two people: frees org and both directories. */
void ct_two_users_free(ct_person_t *alice, ct_person_t *bob, char *org);

/*
 * ct_client - run `parsec core ARGS` as p (args: one shell-quoted string
 * built by the caller), the passphrase on stdin; stdout into *out
 * (malloc'd), stderr into *err, the exit status returned.  out or err may
 * be NULL.
 */
int ct_client(const ct_person_t *p, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CT_EXPECT(st, want, out, err)                                                              \
    ck_assert_msg((st) == (want), "exit %d, expected %d\nstdout: %s\nstderr: %s", (st), (want),    \
                  (out), (err))

/* ct_run_ok - ct_client(p, "ARGS --password-stdin"), which must exit
 * want; returns stdout (malloc'd). */
char *ct_run_ok(const ct_person_t *p, int want, const char *args);

/* ct_new_org_at - a fresh organization of s and its bootstrap address
 * (malloc'd, *org too), the server reached on port. */
char *ct_new_org_at(porg_srv_t *s, char **org, int port);

int ct_count_lines(const char *s);

/* A client running in the background: its stdin to write to, its stdout
 * read line by line, its stderr in <home>/stderr-bg. */
typedef struct {
    pid_t pid;
    int in, out;
    char buf[8192];
    size_t len;
} ct_bg_t;

/* ct_bg_start - `parsec core ARGS...` (args NULL-terminated, at most 21)
 * as p. */
void ct_bg_start(ct_bg_t *b, const ct_person_t *p, const char *const *args);
void ct_bg_write(ct_bg_t *b, const char *s);
/* ct_bg_line - waits (at most 120 s) until stdout holds a whole line
 * starting with prefix; returns where the line starts (in b->buf). */
const char *ct_bg_line(ct_bg_t *b, const char *prefix);
/* ct_bg_end - close its stdin, wait (at most 120 s, then SIGKILL), read
 * the rest of stdout into b->buf; returns the exit status (128 + signal). */
int ct_bg_end(ct_bg_t *b, const ct_person_t *p);

/* ct_exchange - greet_invitation (who: a token or an email, as greeter,
 * giving profile) and claim_invitation url (as claimer, --label label) at
 * once, the codes both print compared; the claimer answers yes, the
 * greeter yes; st receives the greeter's and the claimer's exit
 * statuses. */
void ct_exchange(const ct_person_t *greeter, const char *who, const char *profile,
                 const ct_person_t *claimer, const char *url, const char *label, bool yes,
                 int st[2]);

/* ct_invite - `ARGS --password-stdin` as p (invite_user EMAIL, invite_device),
 * which must exit want; the invitation address it printed (malloc'd), NULL
 * when want is not 0. */
char *ct_invite(const ct_person_t *p, const char *args, int want);

/* ct_two_users_at - a bootstrapped alice (ADMIN) and a claimed bob
 * (STANDARD) in a fresh organization of s, both devices reaching the
 * server on port. */
void ct_two_users_at(porg_srv_t *s, ct_person_t *alice, ct_person_t *bob, char **org, int port);
/* ct_two_users_sharing - ct_two_users_at, then alice's workspace ws shared
 * with bob as role. */
void ct_two_users_sharing(porg_srv_t *s, ct_person_t *alice, ct_person_t *bob, char **org, int port,
                          const char *ws, const char *role);

void ct_write_file(const char *path, const char *text);
/* ct_got - what `get` returns for WORKSPACE:PATH, as bob (malloc'd). */
char *ct_got(const ct_person_t *bob, const char *remote);

#endif
