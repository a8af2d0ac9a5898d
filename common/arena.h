/*
 * common/arena.h - per-request memory
 *
 * A FastCGI worker lives for days and serves millions of requests; nothing in
 * it may rely on process exit to free memory.  Everything a request needs is
 * taken from its arena and released at once by arena_reset() when the
 * request ends.  Objects owned by other allocators (json-c objects, PGresult)
 * join the same lifetime through arena_defer().
 *
 * Process-lifetime data (configuration, the connection pool) never lives in
 * an arena.
 *
 * Not thread-safe: one arena per thread / per request.
 */
#ifndef PARSEC_ARENA_H
#define PARSEC_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena_t;

/* arena_new - an empty arena; free with arena_free(). */
arena_t *arena_new(void);
/* arena_free - runs deferred callbacks (newest first), frees all memory. */
void arena_free(arena_t *a);
/* arena_reset - like arena_free but keeps the first chunk for reuse. */
void arena_reset(arena_t *a);

/* Memory valid until the next reset; 16-byte aligned; never NULL. */
void *arena_alloc(arena_t *a, size_t n);
void *arena_zalloc(arena_t *a, size_t n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
void *arena_memdup(arena_t *a, const void *p, size_t n);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena_t *a, const char *fmt, va_list ap);

/* arena_defer - call fn(p) at the next reset/free; for foreign allocations. */
void arena_defer(arena_t *a, void (*fn)(void *), void *p);

/* Bytes handed out since the last reset (for limits and benchmarks). */
size_t arena_used(const arena_t *a);

#endif
