/*
 * common/strbuf.c - a growing string and a growing vector of strings (see
 * strbuf.h)
 */
#include "strbuf.h"

#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Doubling keeps appends amortised O(1); the first block fits most lines. */
#define STRBUF_MIN_CAP 64
#define STRVEC_MIN_CAP 8
/* Room made before each read(2) of strbuf_read_fd(). */
#define STRBUF_READ_CHUNK 4096

/* reserve - room for n more bytes and the NUL. */
static void reserve(strbuf_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : STRBUF_MIN_CAP;
    while (b->len + n + 1 > cap)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void strbuf_append(strbuf_t *b, const void *s, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void strbuf_puts(strbuf_t *b, const char *s)
{
    strbuf_append(b, s, strlen(s));
}

void strbuf_putc(strbuf_t *b, char c)
{
    strbuf_append(b, &c, 1);
}

void strbuf_vprintf(strbuf_t *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0)
        abort(); /* only an invalid format gets here */
    if ((size_t)n < sizeof small) {
        strbuf_append(b, small, (size_t)n);
    } else {
        reserve(b, (size_t)n);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void strbuf_printf(strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

bool strbuf_read_fd(strbuf_t *b, int fd)
{
    for (;;) {
        reserve(b, STRBUF_READ_CHUNK);
        ssize_t n = read(fd, b->s + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            b->s[b->len] = '\0';
            return false;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
    b->s[b->len] = '\0';
    return true;
}

bool strbuf_read_file(strbuf_t *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    bool ok = strbuf_read_fd(b, fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

const char *strbuf_cstr(const strbuf_t *b)
{
    return b->s ? b->s : "";
}

char *strbuf_detach(strbuf_t *b)
{
    char *s = b->s ? b->s : xstrdup("");
    memset(b, 0, sizeof *b);
    return s;
}

void strbuf_free(strbuf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void strvec_push(strvec_t *v, char *s)
{
    if (v->n + 2 > v->cap) {
        v->cap = v->cap ? 2 * v->cap : STRVEC_MIN_CAP;
        v->v = xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = s;
    v->v[v->n] = NULL;
}

void strvec_pushf(strvec_t *v, const char *fmt, ...)
{
    strbuf_t b = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    strvec_push(v, strbuf_detach(&b));
}

void strvec_free(strvec_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    strvec_free_array(v);
}

void strvec_free_array(strvec_t *v)
{
    free(v->v);
    memset(v, 0, sizeof *v);
}
