/*
 * tests/lib/testreg.h - suites register themselves
 *
 * Each test file ends with TEST_SUITE(name) { ...build and return a Suite... }
 * A constructor adds it to the runner of the binary it is linked into
 * (tests/unit or tests/integration), so adding a test file needs no edit of
 * a shared list.  Suites run in name order.
 */
#ifndef PARSEC_TESTREG_H
#define PARSEC_TESTREG_H

#include <check.h>

typedef Suite *(*testreg_fn)(void);
void testreg_add(const char *name, testreg_fn fn);

#define TEST_SUITE(name)                                                                           \
    static Suite *name##_suite(void);                                                              \
    __attribute__((constructor)) static void name##_register(void)                                 \
    {                                                                                              \
        testreg_add(#name, name##_suite);                                                          \
    }                                                                                              \
    static Suite *name##_suite(void)

/* testreg_run - run every registered suite (or those named in argv), print
 * Check's summary, return the process exit status.  A lone "--list" prints
 * the suite names, one per line, and runs nothing. */
int testreg_run(int argc, char **argv);

#endif
