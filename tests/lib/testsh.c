/*
 * tests/lib/testsh.c - run a shell command from a test (see testsh.h)
 */
#include "testsh.h"

#include "strbuf.h"
#include "xalloc.h"

#include <check.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *testsh_run(const char *cmd, int *status)
{
    char *full = xasprintf("{ %s; } 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_msg(p, "popen %s: %s", cmd, strerror(errno));
    strbuf_t b = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        strbuf_append(&b, buf, n);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    free(full);
    return b.s ? strbuf_detach(&b) : xstrdup("");
}

char *testsh_runf(int *status, const char *fmt, ...)
{
    strbuf_t b = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *out = testsh_run(strbuf_cstr(&b), status);
    strbuf_free(&b);
    return out;
}
