/*
 * tests/unit/test_cfg_lib.h - helpers shared by the configuration parser's
 * suites (test_cfg.c, test_cfg_blockstore.c, test_cfg_args.c)
 *
 * Environments and argument vectors are passed as NULL-terminated arrays
 * (ARGS, ENV); the process environment is never touched.  Every helper
 * fails the running Check test on a mismatch.
 */
#ifndef PARSEC_TEST_CFG_LIB_H
#define PARSEC_TEST_CFG_LIB_H

#include "cfg.h"

#include <check.h>
#include <stddef.h>

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})
#define ENV(...)  ((char *[]){__VA_ARGS__, NULL})
#define NOARGS    ((char *[]){NULL})
#define NOENV     ((char *[]){NULL})

#define CFGT_ERR_MAX 512

/* cfgt_err - the message of the last cfgt_run() (and of what calls it). */
extern char cfgt_err[CFGT_ERR_MAX];

/* cfgt_run - cfg_parse() argv/envp into c, its message in cfgt_err (filled
 * with 'X' first, so a message must overwrite it). */
cfg_parse_result cfgt_run(cfg_t *c, char **argv, char **envp);

/* cfgt_parse_ok - parse and insist on success; the caller cfg_free()s c. */
void cfgt_parse_ok(cfg_t *c, char **argv, char **envp);

/* cfgt_refused - parse must fail (status 2) with one line containing
 * needle, without the program name (the binaries print it first). */
void cfgt_refused(char **argv, char **envp, const char *needle);

/* cfgt_refused_quietly - refused, and the message does not contain secret. */
void cfgt_refused_quietly(char **argv, char **envp, const char *needle, const char *secret);

/* One expected refusal: argv/envp and needle as for cfgt_refused(); secret,
 * when not NULL, must not appear in the message (cfgt_refused_quietly). */
typedef struct {
    char **argv, **envp;
    const char *needle, *secret;
} cfgt_refusal_t;

/* cfgt_refuse_each - every row of t[0..n) refused as it says. */
void cfgt_refuse_each(const cfgt_refusal_t *t, size_t n);
#define CFGT_REFUSE_EACH(t) cfgt_refuse_each(t, sizeof t / sizeof *t)

/* cfgt_field - setting name read straight from the struct, as text in buf
 * (independent of cfg_describe, which is tested against it); "(null)" for
 * an unset string.  Aborts the test for a name it does not know. */
const char *cfgt_field(const cfg_t *c, const char *name, char *buf, size_t n);

/* cfgt_expect_field - setting name reads want; how names the source in the
 * failure message. */
void cfgt_expect_field(const cfg_t *c, const char *name, const char *want, const char *how);

/* cfgt_parses_to - parse argv/envp, insist on success and that setting name
 * then reads want (as cfgt_field prints it). */
void cfgt_parses_to(char **argv, char **envp, const char *name, const char *want);

/* cfgt_parses_as - the same, how naming the source in the failure message. */
void cfgt_parses_as(char **argv, char **envp, const char *name, const char *want, const char *how);

/* cfgt_suite - a suite named name with one test case of that name holding
 * tests[0..n) (the START_TEST names), for the small cfg suites. */
Suite *cfgt_suite(const char *name, const TTest *const *tests, size_t n);

#endif
