/*
 * common/arena.c - chunked bump allocator with deferred destructors
 */
#include "arena.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define ARENA_CHUNK 8192
#define ARENA_ALIGN 16

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct deferred {
    struct deferred *next;
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct chunk *head;
    struct deferred *defers;
    size_t used;
};

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = xmalloc(sizeof *c + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

arena_t *arena_new(void)
{
    arena_t *a = xcalloc(1, sizeof *a);
    a->head = chunk_new(ARENA_CHUNK);
    return a;
}

static void run_defers(arena_t *a)
{
    while (a->defers) {
        struct deferred *d = a->defers;
        a->defers = d->next;
        d->fn(d->p); /* the node itself lives in the arena */
    }
}

void arena_reset(arena_t *a)
{
    run_defers(a);
    /* Keep one standard chunk: the common request needs no more, and a large
     * block upload must not stay resident in an idle worker. */
    struct chunk *keep = NULL, *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        if (!keep && c->size == ARENA_CHUNK) {
            keep = c;
        } else {
            free(c);
        }
        c = n;
    }
    if (!keep)
        keep = chunk_new(ARENA_CHUNK);
    keep->next = NULL;
    keep->used = 0;
    a->head = keep;
    a->used = 0;
}

void arena_free(arena_t *a)
{
    if (!a)
        return;
    run_defers(a);
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        need = SIZE_MAX; /* overflow: make the allocation below fail loudly */
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        size_t size = need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK;
        /* Large allocations get a chunk of their own, placed behind the
         * current one so its free space is not wasted. */
        struct chunk *nc = chunk_new(size);
        if (size == need && c->size - c->used > 0) {
            nc->next = c->next;
            c->next = nc;
            nc->used = need;
            a->used += n;
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used += n;
    return p;
}

void *arena_zalloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void *arena_memdup(arena_t *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n);
    if (n)
        memcpy(q, p, n);
    return q;
}

char *arena_vprintf(arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void arena_defer(arena_t *a, void (*fn)(void *), void *p)
{
    struct deferred *d = arena_alloc(a, sizeof *d);
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}

size_t arena_used(const arena_t *a)
{
    return a->used;
}
