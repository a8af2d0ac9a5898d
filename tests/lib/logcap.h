/*
 * tests/lib/logcap.h - capture this process's log lines
 *
 *     logcap_start();                 // log_open() to a private file, DEBUG and up
 *     ... code that logs ...
 *     char *log = logcap_end();       // log_close(), the lines, the file removed
 *     ck_assert(!strstr(log, secret));
 *     free(log);
 *
 * The file is $PARSEC_TEST_TMP (or /tmp)/logcap.<pid>.log.  Aborts the test
 * when the file cannot be opened or read.  One capture at a time per process.
 */
#ifndef PARSEC_LOGCAP_H
#define PARSEC_LOGCAP_H

void logcap_start(void);
/* logcap_end - what was logged since logcap_start() (malloc'd, "" for
 * nothing); later lines go to stderr again. */
char *logcap_end(void);

#endif
