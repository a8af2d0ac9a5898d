/*
 * tests/integration/test_man.c - the manual pages: generated from the
 * settings table (docs/man/genman.awk over --help), every setting in them,
 * no hand-written flag that does not exist, and clean for groff, mandoc
 * and man(1)
 *
 * The pages are generated here, from the templates of the tree and the
 * binaries of the build under test, into a private directory: what
 * `make man` (and the Debian package) would install.
 */
#include "cfg.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const pages[] = {"parsec.1", "parsec-fcgi.8", "parsec-notifyd.8"};
#define N_PAGES (sizeof pages / sizeof *pages)
/* Every --help that a page or a template may take flags from. */
static const char *const helps[] = {"parsec-fcgi --help",
                                    "parsec-notifyd --help",
                                    "parsec backend run --help",
                                    "parsec backend migrate --help",
                                    "parsec core --help",
                                    "parsec backend sequester create_service --help",
                                    "parsec backend sequester generate_service_certificate --help",
                                    "parsec backend sequester list_services --help",
                                    "parsec backend sequester update_service --help",
                                    "parsec backend sequester export_realm --help",
                                    "parsec backend human_accesses --help"};
#define N_HELPS (sizeof helps / sizeof *helps)
static const char *const sections[] = {"NAME",    "SYNOPSIS",    "DESCRIPTION", "ENVIRONMENT",
                                       "SIGNALS", "EXIT STATUS", "FILES",       "SEE ALSO"};

static char outdir[512];

static char *bindir(void)
{
    char *fcgi = testenv_build_path("parsec-fcgi");
    char *slash = strrchr(fcgi, '/');
    char *dir = slash ? xstrndup(fcgi, (size_t)(slash - fcgi)) : xstrdup(".");
    free(fcgi);
    return dir;
}

static char *slurp(const char *path)
{
    strbuf_t b = STRBUF_INIT;
    ck_assert_msg(strbuf_read_file(&b, path), "cannot read %s: %s", path, strerror(errno));
    return strbuf_detach(&b);
}

/* generate - every page into outdir, as `make man` does. */
static void generate(void)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    snprintf(outdir, sizeof outdir, "%s/test_man.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(outdir));
    char *bin = bindir();
    for (size_t i = 0; i < N_PAGES; i++) {
        char *cmd = xasprintf("awk -v bindir='%s' -v version=%s -v date=2026-01-01 "
                              "-f docs/man/genman.awk docs/man/%s.in > '%s/%s'",
                              bin, PARSEC_VERSION, pages[i], outdir, pages[i]);
        int st;
        char *out = testsh_run(cmd, &st);
        ck_assert_msg(st == 0 && !*out, "%s: status %d: %s", cmd, st, out);
        free(out);
        free(cmd);
    }
    free(bin);
}

static void cleanup(void)
{
    testenv_rm_rf(outdir);
}

static char *page(const char *name)
{
    char *path = xasprintf("%s/%s", outdir, name);
    char *text = slurp(path);
    free(path);
    return text;
}

/* The long flags of a --help text: "  --name" at the start of a line (the
 * settings of cfg_usage) or anywhere (parsec core's own options). */
static void flags_of(const char *text, bool anywhere, strvec_t *out)
{
    for (const char *p = text; (p = strstr(p, "--")); p += 2) {
        bool at_line =
            p - text >= 2 && p[-1] == ' ' && p[-2] == ' ' && (p - text == 2 || p[-3] == '\n');
        if (!anywhere && !at_line)
            continue;
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        size_t n = 0;
        while (islower((unsigned char)p[2 + n]) || isdigit((unsigned char)p[2 + n]) ||
               p[2 + n] == '-')
            n++;
        if (n == 0)
            continue;
        char *flag = xstrndup(p + 2, n);
        bool seen = false;
        for (size_t i = 0; i < out->n && !seen; i++)
            seen = !strcmp(out->v[i], flag);
        if (seen)
            free(flag);
        else
            strvec_push(out, flag);
    }
}

static char *help_of(const char *cmd)
{
    char *bin = bindir();
    char *full = xasprintf("LC_ALL=C '%s'/%s", bin, cmd);
    int st;
    char *out = testsh_run(full, &st);
    ck_assert_msg(st == 0, "%s: status %d: %s", full, st, out);
    free(full);
    free(bin);
    return out;
}

/* has_flag - roff text holds \-\-name as a whole flag. */
static bool has_flag(const char *roff, const char *name)
{
    strbuf_t b = STRBUF_INIT; /* the flag's own hyphens are escaped too */
    strbuf_puts(&b, "\\-\\-");
    for (const char *c = name; *c; c++) {
        if (*c == '-')
            strbuf_puts(&b, "\\-");
        else
            strbuf_putc(&b, *c);
    }
    bool found = false;
    for (const char *p = strstr(roff, b.s); p && !found; p = strstr(p + 1, b.s)) {
        char after = p[b.len];
        found = !(islower((unsigned char)after) || isdigit((unsigned char)after) ||
                  (after == '\\' && p[b.len + 1] == '-'));
    }
    strbuf_free(&b);
    return found;
}

/* Each page lists every setting of the --help its placeholders name. */
START_TEST(pages_list_every_setting_of_their_binary)
{
    /* at_least: a sanity floor (migrate takes only its own few settings) */
    static const struct {
        const char *page, *help;
        size_t at_least;
    } take[] = {
        {"parsec-fcgi.8", "parsec-fcgi --help", 11},
        {"parsec-notifyd.8", "parsec-notifyd --help", 11},
        {"parsec.1", "parsec backend run --help", 11},
        {"parsec.1", "parsec backend migrate --help", 5},
    };
    for (size_t i = 0; i < sizeof take / sizeof *take; i++) {
        char *roff = page(take[i].page);
        char *help = help_of(take[i].help);
        strvec_t f = STRVEC_INIT;
        flags_of(help, false, &f);
        ck_assert_msg(f.n >= take[i].at_least, "%s lists %zu settings", take[i].help, f.n);
        for (size_t k = 0; k < f.n; k++)
            ck_assert_msg(has_flag(roff, f.v[k]), "%s lacks --%s (from %s)", take[i].page, f.v[k],
                          take[i].help);
        strvec_free(&f);
        free(help);
        free(roff);
    }
}
END_TEST

/* The settings table itself (cfg_usage without a command lists all of
 * it): each setting is in at least one page, with its variable. */
START_TEST(every_setting_of_the_table_has_its_entry)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_usage(f, "all");
    fclose(f);
    strvec_t flags = STRVEC_INIT;
    flags_of(text, false, &flags);
    ck_assert_uint_gt(flags.n, 30);
    char *roff[N_PAGES];
    for (size_t i = 0; i < N_PAGES; i++)
        roff[i] = page(pages[i]);
    for (size_t k = 0; k < flags.n; k++) {
        bool found = false;
        for (size_t i = 0; i < N_PAGES && !found; i++)
            found = has_flag(roff[i], flags.v[k]);
        ck_assert_msg(found, "no manual page lists --%s", flags.v[k]);
    }
    /* and every variable an entry names (its "[variable: ...]" line; the
     * prose above the entries names patterns such as PARSEC_NAME_FILE) */
    for (const char *p = strstr(text, "PARSEC_"); p; p = strstr(p + 1, "PARSEC_")) {
        const char *bol = p;
        while (bol > text && bol[-1] != '\n')
            bol--;
        if (strncmp(bol, "      [", 7) != 0)
            continue;
        size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        char *needle = xasprintf(".B %.*s\n", (int)n, p);
        bool found = false;
        for (size_t i = 0; i < N_PAGES && !found; i++)
            found = strstr(roff[i], needle) != NULL;
        ck_assert_msg(found || !strncmp(p, "PARSEC_CMD_ARGS", 15) || !strncmp(p, "PARSEC_*", 8),
                      "no ENVIRONMENT entry for %.*s", (int)n, p);
        free(needle);
    }
    for (size_t i = 0; i < N_PAGES; i++)
        free(roff[i]);
    strvec_free(&flags);
    free(text);
}
END_TEST

/* A flag written by hand in a template must exist: a setting renamed or
 * removed from the table fails here until the prose follows. */
START_TEST(hand_written_flags_exist)
{
    strvec_t known = STRVEC_INIT;
    for (size_t i = 0; i < N_HELPS; i++) {
        char *help = help_of(helps[i]);
        flags_of(help, true, &known);
        free(help);
    }
    for (size_t i = 0; i < N_PAGES; i++) {
        char *path = xasprintf("docs/man/%s.in", pages[i]);
        char *in = slurp(path);
        /* \-\-name in roff is --name once the escapes are gone */
        strbuf_t plain = STRBUF_INIT;
        for (const char *line = in; *line;) {
            const char *end = strchr(line, '\n');
            size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
            if (line[0] != '@' && strncmp(line, ".\\\"", 3) != 0)
                for (size_t k = 0; k < n; k++) {
                    if (line[k] == '\\' && k + 1 < n && line[k + 1] == '-') {
                        strbuf_putc(&plain, '-');
                        k++;
                    } else if (line[k] == '\\' && k + 2 < n && line[k + 1] == 'f') {
                        k += 2; /* \fB, \fI, \fR: no text */
                    } else {
                        strbuf_putc(&plain, line[k]);
                    }
                }
            line += n;
        }
        strvec_t used = STRVEC_INIT;
        flags_of(plain.s, true, &used);
        ck_assert_uint_gt(used.n, 3);
        for (size_t k = 0; k < used.n; k++) {
            bool ok = false;
            for (size_t j = 0; j < known.n && !ok; j++)
                ok = !strcmp(used.v[k], known.v[j]);
            ck_assert_msg(ok, "%s names --%s, which no --help lists", path, used.v[k]);
        }
        strvec_free(&used);
        strbuf_free(&plain);
        free(in);
        free(path);
    }
    strvec_free(&known);
}
END_TEST

START_TEST(sections_and_header)
{
    for (size_t i = 0; i < N_PAGES; i++) {
        char *roff = page(pages[i]);
        for (size_t k = 0; k < sizeof sections / sizeof *sections; k++) {
            char *h = xasprintf("\n.SH %s\n", sections[k]);
            ck_assert_msg(strstr(roff, h), "%s lacks section %s", pages[i], sections[k]);
            free(h);
        }
        ck_assert_msg(strstr(roff, "\n.SH OPTIONS\n") || strstr(roff, "\n.SH SETTINGS\n"),
                      "%s lists no settings", pages[i]);
        ck_assert_msg(strstr(roff, "\"parsec-server " PARSEC_VERSION "\""), "%s", pages[i]);
        ck_assert_ptr_null(strstr(roff, "@VERSION@"));
        ck_assert_ptr_null(strstr(roff, "\n@"));
        free(roff);
    }
}
END_TEST

/* groff with every warning, mandoc's linter, and man(1) itself. */
START_TEST(lint_clean)
{
    for (size_t i = 0; i < N_PAGES; i++) {
        char *path = xasprintf("%s/%s", outdir, pages[i]);
        static const char *const checks[] = {
            "groff -man -ww -z",
            "mandoc -Tlint -W style",
            "MANWIDTH=80 man --warnings=w -l",
        };
        for (size_t k = 0; k < sizeof checks / sizeof *checks; k++) {
            char *cmd = xasprintf("%s '%s' >/dev/null", checks[k], path);
            int st;
            char *out = testsh_run(cmd, &st);
            ck_assert_msg(st == 0 && !*out, "%s: status %d:\n%s", cmd, st, out);
            free(out);
            free(cmd);
        }
        char *cmd = xasprintf("MANWIDTH=80 man -l '%s'", path);
        int st;
        char *out = testsh_run(cmd, &st);
        ck_assert_msg(st == 0 && strstr(out, "NAME") && strstr(out, "EXIT STATUS"), "%s", out);
        free(out);
        free(cmd);
        free(path);
    }
}
END_TEST

/* The generator refuses what would give a half page. */
START_TEST(generator_refuses_bad_templates)
{
    static const char *const bad[] = {
        "@SETTINGS parsec-nonexistent --help@\n",
        "@SETTINGS parsec core --help@\n", /* core's options are no settings */
        "@NOPE parsec-fcgi --help@\n",
    };
    char *bin = bindir();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *in = xasprintf("%s/bad.in", outdir);
        FILE *f = fopen(in, "w");
        ck_assert_ptr_nonnull(f);
        fputs(bad[i], f);
        fclose(f);
        char *cmd = xasprintf("awk -v bindir='%s' -v version=1 -v date=2026-01-01 "
                              "-f docs/man/genman.awk '%s' >/dev/null",
                              bin, in);
        int st;
        char *out = testsh_run(cmd, &st);
        ck_assert_msg(st != 0, "accepted %s", bad[i]);
        ck_assert_msg(strstr(out, "genman: "), "%s", out);
        free(out);
        free(cmd);
        free(in);
    }
    free(bin);
}
END_TEST

TEST_SUITE(man)
{
    Suite *s = suite_create("man");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, generate, cleanup);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pages_list_every_setting_of_their_binary);
    tcase_add_test(tc, every_setting_of_the_table_has_its_entry);
    tcase_add_test(tc, hand_written_flags_exist);
    tcase_add_test(tc, sections_and_header);
    tcase_add_test(tc, lint_clean);
    tcase_add_test(tc, generator_refuses_bad_templates);
    suite_add_tcase(s, tc);
    return s;
}
