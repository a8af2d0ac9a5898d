/*
 * tests/lib/promtext.c - a strict reader of the Prometheus text format
 * (see promtext.h for the rules it holds)
 */
#include "promtext.h"

#include "xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 8

typedef struct {
    char *name;
    size_t nl;
    char *lk[MAX_LABELS], *lv[MAX_LABELS];
    char *key; /* name + labels in their order: duplicate detection */
    double value;
    size_t family;
} sample_t;

typedef struct {
    char *name, *type;
    bool help, closed;
} family_t;

struct promtext {
    sample_t *s;
    size_t ns, caps;
    family_t *f;
    size_t nf, capf;
};

static bool fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "line %zu: %s", line, msg);
    return false;
}

static bool name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool name_char(char c, bool colon)
{
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* name_len - the length of a metric (colon) or label name at s; 0: none. */
static size_t name_len(const char *s, const char *end, bool colon)
{
    if (s >= end || !name_start(*s, colon))
        return 0;
    size_t n = 1;
    while (s + n < end && name_char(s[n], colon))
        n++;
    return n;
}

static bool parse_value(const char *s, size_t n, double *v)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcmp(buf, "+Inf")) {
        *v = INFINITY;
        return true;
    }
    if (!strcmp(buf, "-Inf")) {
        *v = -INFINITY;
        return true;
    }
    if (!strcmp(buf, "NaN")) {
        *v = NAN;
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eE", buf[i]))
            return false;
    char *e;
    *v = strtod(buf, &e);
    return *e == '\0';
}

static family_t *family_of(promtext_t *p, const char *name)
{
    for (size_t i = 0; i < p->nf; i++)
        if (!strcmp(p->f[i].name, name))
            return &p->f[i];
    return NULL;
}

static family_t *family_add(promtext_t *p, const char *name)
{
    if (p->nf == p->capf) {
        p->capf = p->capf ? 2 * p->capf : 16;
        p->f = xrealloc(p->f, p->capf * sizeof *p->f);
    }
    family_t *f = &p->f[p->nf++];
    memset(f, 0, sizeof *f);
    f->name = xstrdup(name);
    return f;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && !strcmp(s + a - b, suffix);
}

/* comment - a "# HELP" or "# TYPE" line. */
static bool comment(promtext_t *p, const char *s, const char *end, size_t line, family_t **cur,
                    char *err, size_t errlen)
{
    bool help = end - s > 7 && !strncmp(s, "# HELP ", 7);
    bool type = end - s > 7 && !strncmp(s, "# TYPE ", 7);
    if (!help && !type)
        return fail(err, errlen, line, "a comment other than HELP or TYPE");
    s += 7;
    size_t n = name_len(s, end, true);
    if (!n || s + n >= end || s[n] != ' ')
        return fail(err, errlen, line, "bad metric name in %s", help ? "HELP" : "TYPE");
    char *name = xstrndup(s, n);
    const char *rest = s + n + 1;
    family_t *f = family_of(p, name);
    if (f && (f != *cur || f->closed)) {
        free(name);
        return fail(err, errlen, line, "family %.*s described again", (int)n, s);
    }
    if (!f) {
        if (*cur)
            (*cur)->closed = true;
        f = family_add(p, name);
        *cur = f;
    }
    free(name);
    if (help) {
        if (f->help || f->type)
            return fail(err, errlen, line, "HELP twice, or after TYPE");
        for (const char *c = rest; c < end; c++)
            if (*c == '\\' && (c + 1 >= end || (c[1] != '\\' && c[1] != 'n')))
                return fail(err, errlen, line, "bad escape in HELP");
        if (rest >= end)
            return fail(err, errlen, line, "empty HELP");
        f->help = true;
        return true;
    }
    if (f->type)
        return fail(err, errlen, line, "TYPE twice");
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    for (size_t i = 0; i < 5; i++)
        if ((size_t)(end - rest) == strlen(types[i]) && !strncmp(rest, types[i], strlen(types[i])))
            f->type = xstrdup(types[i]);
    if (!f->type)
        return fail(err, errlen, line, "unknown TYPE");
    if (!strcmp(f->type, "counter") && !ends_with(f->name, "_total"))
        return fail(err, errlen, line, "counter %s not named *_total", f->name);
    return true;
}

/* labels - {k="v",...}; s past '{'; *s_out after '}'. */
static bool labels(sample_t *x, const char **sp, const char *end, size_t line, char *err,
                   size_t errlen)
{
    const char *s = *sp;
    if (s < end && *s == '}') {
        *sp = s + 1;
        return true;
    }
    for (;;) {
        size_t n = name_len(s, end, false);
        if (!n)
            return fail(err, errlen, line, "bad label name");
        if (x->nl == MAX_LABELS)
            return fail(err, errlen, line, "too many labels");
        char *k = xstrndup(s, n);
        for (size_t i = 0; i < x->nl; i++)
            if (!strcmp(x->lk[i], k)) {
                free(k);
                return fail(err, errlen, line, "label %.*s twice", (int)n, s);
            }
        x->lk[x->nl] = k;
        x->lv[x->nl] = NULL;
        x->nl++;
        s += n;
        if (s + 1 >= end || s[0] != '=' || s[1] != '"')
            return fail(err, errlen, line, "label without =\"");
        s += 2;
        char *v = xmalloc((size_t)(end - s) + 1);
        size_t o = 0;
        for (;;) {
            if (s >= end)
                return free(v), fail(err, errlen, line, "unterminated label value");
            if (*s == '"')
                break;
            if (*s == '\\') {
                if (s + 1 >= end || !strchr("\\\"n", s[1]))
                    return free(v), fail(err, errlen, line, "bad escape in label value");
                v[o++] = s[1] == 'n' ? '\n' : s[1];
                s += 2;
                continue;
            }
            v[o++] = *s++;
        }
        v[o] = '\0';
        x->lv[x->nl - 1] = v;
        s++;
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '}') {
            *sp = s + 1;
            return true;
        }
        return fail(err, errlen, line, "expected , or } after a label");
    }
}

static void sample_free(sample_t *x)
{
    free(x->name);
    free(x->key);
    for (size_t i = 0; i < x->nl; i++) {
        free(x->lk[i]);
        free(x->lv[i]);
    }
}

static const char *label_of(const sample_t *x, const char *k)
{
    for (size_t i = 0; i < x->nl; i++)
        if (!strcmp(x->lk[i], k))
            return x->lv[i];
    return NULL;
}

/* same_series - equal labels, le left out. */
static bool same_series(const sample_t *a, const sample_t *b)
{
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < a->nl; i++) {
        if (!strcmp(a->lk[i], "le"))
            continue;
        na++;
        const char *v = label_of(b, a->lk[i]);
        if (!v || strcmp(v, a->lv[i]))
            return false;
    }
    for (size_t i = 0; i < b->nl; i++)
        nb += strcmp(b->lk[i], "le") != 0;
    return na == nb;
}

/* check_histogram - the rules of each series of histogram family fi. */
static bool check_histogram(const promtext_t *p, size_t fi, char *err, size_t errlen)
{
    const char *fam = p->f[fi].name;
    size_t nlen = strlen(fam);
    for (size_t i = 0; i < p->ns; i++) {
        const sample_t *b = &p->s[i];
        if (b->family != fi || strcmp(b->name + nlen, "_bucket"))
            continue;
        /* the first bucket of its series: walk the series */
        bool first = true;
        for (size_t j = 0; j < i; j++)
            if (p->s[j].family == fi && !strcmp(p->s[j].name + nlen, "_bucket") &&
                same_series(&p->s[j], b))
                first = false;
        if (!first)
            continue;
        double prev_le = -INFINITY, prev_v = 0, inf_v = -1;
        for (size_t j = i; j < p->ns; j++) {
            const sample_t *x = &p->s[j];
            if (x->family != fi || strcmp(x->name + nlen, "_bucket") || !same_series(x, b))
                continue;
            const char *le = label_of(x, "le");
            double l;
            if (!le || !parse_value(le, strlen(le), &l) || isnan(l))
                return fail(err, errlen, 0, "%s: bucket without a valid le", fam);
            if (l <= prev_le)
                return fail(err, errlen, 0, "%s: le not increasing", fam);
            if (x->value < prev_v)
                return fail(err, errlen, 0, "%s: buckets not cumulative", fam);
            prev_le = l;
            prev_v = x->value;
            if (isinf(l))
                inf_v = x->value;
        }
        if (inf_v < 0)
            return fail(err, errlen, 0, "%s: no +Inf bucket", fam);
        bool count = false, sum = false;
        for (size_t j = 0; j < p->ns; j++) {
            const sample_t *x = &p->s[j];
            if (x->family != fi || !same_series(x, b) || label_of(x, "le"))
                continue;
            if (!strcmp(x->name + nlen, "_count")) {
                if (x->value != inf_v)
                    return fail(err, errlen, 0, "%s: _count %g is not the +Inf bucket %g", fam,
                                x->value, inf_v);
                count = true;
            }
            sum = sum || !strcmp(x->name + nlen, "_sum");
        }
        if (!count || !sum)
            return fail(err, errlen, 0, "%s: a series without _count or _sum", fam);
    }
    return true;
}

static bool sample(promtext_t *p, const char *s, const char *end, size_t line, family_t *cur,
                   char *err, size_t errlen)
{
    size_t n = name_len(s, end, true);
    if (!n)
        return fail(err, errlen, line, "bad metric name");
    if (p->ns == p->caps) {
        p->caps = p->caps ? 2 * p->caps : 64;
        p->s = xrealloc(p->s, p->caps * sizeof *p->s);
    }
    sample_t *x = &p->s[p->ns];
    memset(x, 0, sizeof *x);
    x->name = xstrndup(s, n);
    p->ns++;
    s += n;
    if (s < end && *s == '{') {
        s++;
        if (!labels(x, &s, end, line, err, errlen))
            return false;
    }
    if (s >= end || *s != ' ')
        return fail(err, errlen, line, "expected a space before the value");
    s++;
    const char *v = s;
    while (s < end && *s != ' ')
        s++;
    if (!parse_value(v, (size_t)(s - v), &x->value))
        return fail(err, errlen, line, "bad value");
    if (s < end) { /* a timestamp: an integer */
        s++;
        if (s >= end)
            return fail(err, errlen, line, "trailing space");
        for (const char *t = s; t < end; t++)
            if (!((*t >= '0' && *t <= '9') || (t == s && *t == '-')))
                return fail(err, errlen, line, "bad timestamp");
    }
    if (!cur || !cur->type)
        return fail(err, errlen, line, "sample %s before its TYPE", x->name);
    const char *fam = cur->name;
    size_t flen = strlen(fam);
    bool hist = !strcmp(cur->type, "histogram");
    bool named = !strcmp(x->name, fam);
    if (hist)
        named = !strncmp(x->name, fam, flen) &&
                (!strcmp(x->name + flen, "_bucket") || !strcmp(x->name + flen, "_sum") ||
                 !strcmp(x->name + flen, "_count"));
    if (!named)
        return fail(err, errlen, line, "sample %s outside its family %s", x->name, fam);
    if (hist && !strcmp(x->name + flen, "_bucket") && !label_of(x, "le"))
        return fail(err, errlen, line, "bucket without le");
    if (!hist && label_of(x, "le"))
        return fail(err, errlen, line, "le outside a histogram");
    if (!strcmp(cur->type, "counter") && (isnan(x->value) || isinf(x->value) || x->value < 0))
        return fail(err, errlen, line, "counter %s not a finite count", x->name);
    x->family = (size_t)(cur - p->f);
    /* the series' key: its name and labels, in order */
    size_t klen = strlen(x->name) + 2;
    for (size_t i = 0; i < x->nl; i++)
        klen += strlen(x->lk[i]) + strlen(x->lv[i]) + 2;
    x->key = xmalloc(klen);
    strcpy(x->key, x->name);
    for (size_t i = 0; i < x->nl; i++) {
        strcat(x->key, "\x01");
        strcat(x->key, x->lk[i]);
        strcat(x->key, "\x02");
        strcat(x->key, x->lv[i]);
    }
    for (size_t i = 0; i + 1 < p->ns; i++)
        if (!strcmp(p->s[i].key, x->key))
            return fail(err, errlen, line, "series %s given twice", x->name);
    return true;
}

promtext_t *promtext_parse(const char *text, size_t len, char *err, size_t errlen)
{
    promtext_t *p = xcalloc(1, sizeof *p);
    family_t *cur = NULL;
    size_t line = 0;
    const char *s = text, *end = text + len;
    bool ok = true;
    if (len == 0 || text[len - 1] != '\n')
        ok = fail(err, errlen, 0, "text does not end with a line feed");
    while (ok && s < end) {
        line++;
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (memchr(s, '\0', (size_t)(nl - s)) || memchr(s, '\r', (size_t)(nl - s)))
            ok = fail(err, errlen, line, "NUL or CR in a line");
        else if (nl == s)
            ok = fail(err, errlen, line, "empty line");
        else if (*s == '#')
            ok = comment(p, s, nl, line, &cur, err, errlen);
        else
            ok = sample(p, s, nl, line, cur, err, errlen);
        s = nl + 1;
    }
    for (size_t i = 0; ok && i < p->nf; i++) {
        if (!p->f[i].help || !p->f[i].type)
            ok = fail(err, errlen, 0, "family %s lacks HELP or TYPE", p->f[i].name);
        else if (!strcmp(p->f[i].type, "histogram"))
            ok = check_histogram(p, i, err, errlen);
    }
    if (!ok) {
        promtext_free(p);
        return NULL;
    }
    return p;
}

void promtext_free(promtext_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ns; i++)
        sample_free(&p->s[i]);
    for (size_t i = 0; i < p->nf; i++) {
        free(p->f[i].name);
        free(p->f[i].type);
    }
    free(p->s);
    free(p->f);
    free(p);
}

/* matches - does x carry every k="v" pair of want? */
static bool matches(const sample_t *x, const char *want)
{
    const char *s = want;
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq || eq[1] != '"')
            return false;
        const char *q = strchr(eq + 2, '"');
        if (!q)
            return false;
        char *k = xstrndup(s, (size_t)(eq - s));
        const char *v = label_of(x, k);
        free(k);
        size_t vlen = (size_t)(q - eq - 2);
        if (!v || strlen(v) != vlen || strncmp(v, eq + 2, vlen))
            return false;
        s = q + 1;
        if (*s == ',')
            s++;
    }
    return true;
}

double promtext_sum(const promtext_t *p, const char *name, const char *want, size_t *n)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (!strcmp(p->s[i].name, name) && matches(&p->s[i], want)) {
            sum += p->s[i].value;
            k++;
        }
    if (n)
        *n = k;
    return sum;
}

const char *promtext_type(const promtext_t *p, const char *family)
{
    for (size_t i = 0; i < p->nf; i++)
        if (!strcmp(p->f[i].name, family))
            return p->f[i].type;
    return NULL;
}
