/*
 * common/strbuf.h - a growing string and a growing vector of strings
 *
 * The two containers every module that builds text needs (configuration
 * specs, log lines, generated configuration files, environments of child
 * processes), written once.  Growth aborts on out of memory (xalloc.h).
 *
 *     strbuf_t b = STRBUF_INIT;
 *     strbuf_puts(&b, "PARSEC_PORT=");
 *     strbuf_printf(&b, "%d", port);
 *     char *s = strbuf_detach(&b);     // caller frees s; b is empty again
 *
 *     strvec_t v = STRVEC_INIT;
 *     strvec_push(&v, xstrdup("a"));   // v.v is always NULL-terminated
 *     strvec_pushf(&v, "%s=%s", name, value);
 *     execve(path, argv, v.v);
 *     strvec_free(&v);                 // frees the strings and the array
 *
 * Ownership: a strbuf_t owns its bytes (s is NULL until the first append,
 * then always NUL-terminated); free them with strbuf_free() or take them
 * with strbuf_detach().  A strvec_t owns its array; whether it owns the
 * strings is the caller's choice: strvec_free() frees them,
 * strvec_free_array() does not.  Both are zeroed afterwards, ready for reuse.
 * Not thread-safe: one owner at a time.
 */
#ifndef PARSEC_STRBUF_H
#define PARSEC_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *s;    /* NUL-terminated once anything was appended; NULL before */
    size_t len; /* bytes in s, NUL excluded (s may hold NUL bytes itself) */
    size_t cap;
} strbuf_t;

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* strbuf_append - add s[0..n); s may be NULL when n is 0. */
void strbuf_append(strbuf_t *b, const void *s, size_t n);
/* strbuf_puts - add the C string s. */
void strbuf_puts(strbuf_t *b, const char *s);
/* strbuf_putc - add one byte. */
void strbuf_putc(strbuf_t *b, char c);
/* strbuf_printf - add printf output. */
void strbuf_printf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(strbuf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* strbuf_read_fd - append what fd gives until end of file (EINTR retried);
 * false with errno set on a read error, what was read before kept. */
bool strbuf_read_fd(strbuf_t *b, int fd);
/* strbuf_read_file - append the whole file at path; false with errno set
 * when it cannot be opened or read. */
bool strbuf_read_file(strbuf_t *b, const char *path);
/* strbuf_cstr - the text so far, "" when empty (never NULL); owned by b. */
const char *strbuf_cstr(const strbuf_t *b);
/* strbuf_detach - the built string (malloc'd, never NULL: "" when empty;
 * caller frees); b is reset to empty. */
char *strbuf_detach(strbuf_t *b);
/* strbuf_free - release the bytes; b is reset to empty. */
void strbuf_free(strbuf_t *b);

typedef struct {
    char **v; /* NULL-terminated once anything was pushed; NULL before */
    size_t n; /* strings in v, the terminating NULL excluded */
    size_t cap;
} strvec_t;

#define STRVEC_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* strvec_push - append s (stored as is, not copied; may itself be NULL). */
void strvec_push(strvec_t *v, char *s);
/* strvec_pushf - append a fresh malloc'd printf string (then owned by v's
 * owner like any pushed string). */
void strvec_pushf(strvec_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* strvec_free - free() every string, then the array. */
void strvec_free(strvec_t *v);
/* strvec_free_array - free the array only (the strings belong elsewhere). */
void strvec_free_array(strvec_t *v);

#endif
