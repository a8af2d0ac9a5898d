/*
 * tests/lib/logcap.c - capture this process's log lines (see logcap.h)
 */
#include "logcap.h"

#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[600];

void logcap_start(void)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    snprintf(path, sizeof path, "%s/logcap.%d.log", base && *base ? base : "/tmp", (int)getpid());
    char err[256];
    ck_assert_msg(log_open(CFG_LOG_DEBUG, CFG_LOG_CONSOLE, path, "test", err, sizeof err), "%s",
                  err);
}

char *logcap_end(void)
{
    log_close();
    strbuf_t b = STRBUF_INIT;
    ck_assert_msg(strbuf_read_file(&b, path), "cannot read %s", path);
    unlink(path);
    return b.s ? strbuf_detach(&b) : xstrdup("");
}
