/*
 * tests/lib/testreg.c - the registry and runner behind TEST_SUITE
 */
#include "testreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TESTREG_MAX 256

static struct {
    const char *name;
    testreg_fn fn;
} suites[TESTREG_MAX];
static int nsuites;

void testreg_add(const char *name, testreg_fn fn)
{
    if (nsuites == TESTREG_MAX)
        abort();
    suites[nsuites].name = name;
    suites[nsuites].fn = fn;
    nsuites++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int testreg_run(int argc, char **argv)
{
    qsort(suites, (size_t)nsuites, sizeof suites[0], by_name);
    /* --list: suite names, one per line (tests/harness/run-tests routes names). */
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < nsuites; i++)
            printf("%s\n", suites[i].name);
        return EXIT_SUCCESS;
    }
    SRunner *sr = NULL;
    for (int i = 0; i < nsuites; i++) {
        int wanted = argc <= 1;
        for (int j = 1; j < argc; j++)
            if (strcmp(argv[j], suites[i].name) == 0)
                wanted = 1;
        if (!wanted)
            continue;
        Suite *s = suites[i].fn();
        if (!sr)
            sr = srunner_create(s);
        else
            srunner_add_suite(sr, s);
    }
    if (!sr) {
        fprintf(stderr, "no suite matched\n");
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
