/*
 * common/xalloc.h - allocation that never returns NULL
 *
 * One out-of-memory policy for the whole tree: log one line and abort.
 * A server that cannot allocate a few bytes cannot answer sensibly, and
 * callers that never see NULL have no untested error branches.  So a NULL
 * check in this code base always means something other than "out of memory".
 */
#ifndef PARSEC_XALLOC_H
#define PARSEC_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh malloc'd string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
